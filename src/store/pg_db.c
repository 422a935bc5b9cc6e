/* pg_db.c — opening the PostgreSQL store: the URL and its pool parameters,
 * migrations under an advisory lock, the connection pool with prepared
 * statements, the transaction runner with retries, and the poster thread
 * for asynchronous writes and the sweep of lapsed holds. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/migrations.h"
#include "store/pg_int.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define PG_TX_ATTEMPTS 20
#define PG_POST_MAX 100000     /* queued asynchronous writes; past it they are dropped and counted */
#define PG_MIGRATE_LOCK 727069 /* pg_advisory_lock key: one migrating server at a time */

/* ---- connections ----------------------------------------------------------------- */

static struct pgc *pgc_open(const char *conninfo, char *err, size_t errlen)
{
    struct pgc *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->db = PQconnectdb(conninfo);
    if (PQstatus(c->db) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c->db));
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        PQfinish(c->db);
        free(c);
        return NULL;
    }
    /* A 201 must mean the row is on disk (and on the synchronous standby,
     * if the cluster has one): never let a session relax this. */
    PGresult *r = PQexec(c->db, "SET synchronous_commit = on; SET client_min_messages = warning");
    PQclear(r);
    return c;
}

static void pgc_close(struct pgc *c)
{
    if (!c)
        return;
    PQfinish(c->db);
    free(c);
}

struct pgc *pgc_get(struct pg_store *st)
{
    pthread_mutex_lock(&st->lock);
    for (;;) {
        struct pgc *c = st->free_conns;
        if (c) {
            st->free_conns = c->next_free;
            pthread_mutex_unlock(&st->lock);
            return c;
        }
        if (st->n_open < st->max_conns) {
            st->n_open++;
            pthread_mutex_unlock(&st->lock);
            char err[512];
            c = pgc_open(st->conninfo, err, sizeof err);
            if (!c) {
                log_error("store: %s", err);
                pthread_mutex_lock(&st->lock);
                st->n_open--;
                pthread_cond_signal(&st->cv);
                pthread_mutex_unlock(&st->lock);
            }
            return c;
        }
        pthread_cond_wait(&st->cv, &st->lock);
    }
}

void pgc_put(struct pg_store *st, struct pgc *c)
{
    if (!c)
        return;
    if (PQstatus(c->db) != CONNECTION_OK || PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        /* A broken connection (server restart, failover) or one left inside
         * a transaction is dropped; the next caller opens a fresh one. */
        pgc_close(c);
        pthread_mutex_lock(&st->lock);
        st->n_open--;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->lock);
        return;
    }
    pthread_mutex_lock(&st->lock);
    c->next_free = st->free_conns;
    st->free_conns = c;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->lock);
}

/* ---- queries ------------------------------------------------------------------------ */

int pg_exec(struct pgc *c, const char *sql)
{
    char *with_begin = NULL;
    if (c->begin_pending) {
        /* the simple protocol takes both statements in one message */
        c->begin_pending = 0;
        if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0)
            return 0; /* an empty transaction: nothing was sent, nothing to end */
        size_t n = strlen(sql) + 8;
        if (!(with_begin = malloc(n)))
            return -1;
        snprintf(with_begin, n, "BEGIN; %s", sql);
        sql = with_begin;
    }
    PGresult *r = PQexec(c->db, sql);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        c->retry = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
        if (!c->retry)
            log_error("store: %s: %.80s", PQresultErrorMessage(r), sql);
    }
    PQclear(r);
    free(with_begin);
    return ok ? 0 : -1;
}

/* Sends BEGIN and the prepared statement `name` in one pipeline (one round
 * trip instead of two) and returns the statement's result. */
static PGresult *exec_with_begin(struct pgc *c, const char *name, int n, const char *const *vals)
{
    PGresult *out = NULL, *r;
    if (PQenterPipelineMode(c->db) != 1)
        return NULL;
    int sent = PQsendQueryParams(c->db, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1 &&
               PQsendQueryPrepared(c->db, name, n, vals, NULL, NULL, 0) == 1 && PQpipelineSync(c->db) == 1;
    if (!sent) {
        log_error("store: pipeline: %s", PQerrorMessage(c->db));
        PQexitPipelineMode(c->db);
        return NULL;
    }
    /* BEGIN's result, its NULL, the statement's result, its NULL, the sync */
    for (int i = 0; i < 5; i++) {
        r = PQgetResult(c->db);
        if (i == 2)
            out = r;
        else if (r)
            PQclear(r);
        if (i == 4 || (i == 2 && !r))
            break;
    }
    PQexitPipelineMode(c->db);
    return out;
}

/* The slot of a statement, prepared on first use. -1 on failure. */
static int prepared_slot(struct pgc *c, const char *sql, int nparams)
{
    size_t h = ((uintptr_t)sql >> 3) % PGC_SLOTS;
    for (size_t i = 0; i < PGC_SLOTS; i++) {
        size_t j = (h + i) % PGC_SLOTS;
        if (c->prepared[j] == sql)
            return (int)j;
        if (!c->prepared[j]) {
            char name[16];
            snprintf(name, sizeof name, "p%zu", j);
            PGresult *r = PQprepare(c->db, name, sql, nparams, NULL);
            int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok)
                log_error("store: prepare failed: %s: %.120s", PQresultErrorMessage(r), sql);
            PQclear(r);
            if (!ok)
                return -1;
            c->prepared[j] = sql;
            return (int)j;
        }
    }
    log_error("store: prepared statement slots full");
    return -1;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* PostgreSQL refuses text that is not UTF-8, where SQLite stores any bytes.
 * Everything promo stores came through JSON (valid UTF-8); only lookups by
 * raw path bytes can carry invalid ones, and such a key matches nothing:
 * each invalid byte becomes U+FFFD, so the lookup finds nothing, as on
 * SQLite. NULL when s is valid (use it as is); else a malloc'd copy. */
static char *utf8_fix(const char *s)
{
    size_t n = 0, bad = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        size_t k = utf8_seq(p);
        bad += k == 0;
        p += k ? k : 1;
    }
    if (!bad)
        return NULL;
    char *out = malloc(strlen(s) + bad * 2 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_seq(p);
        if (k) {
            memcpy(o, p, k);
            o += k;
            p += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    *o = '\0';
    return out;
}

/* Formats the parameters described by `types` (see pq) into vals; text
 * that is not UTF-8 is fixed into fixed[] (the caller frees). Returns n. */
static int params_fmt(const char *types, va_list ap, const char **vals, char **fixed, char (*nums)[24])
{
    int n = 0;
    for (const char *t = types; *t && n < PG_MAX_PARAMS; t++, n++) {
        fixed[n] = NULL;
        if (*t == 's') {
            vals[n] = va_arg(ap, const char *);
            if (vals[n] && (fixed[n] = utf8_fix(vals[n])) != NULL)
                vals[n] = fixed[n];
        } else if (*t == 'i') {
            snprintf(nums[n], sizeof nums[n], "%" PRId64, va_arg(ap, int64_t));
            vals[n] = nums[n];
        } else { /* 'o' */
            int64_t v = va_arg(ap, int64_t), none = va_arg(ap, int64_t);
            snprintf(nums[n], sizeof nums[n], "%" PRId64, v);
            vals[n] = v == none ? NULL : nums[n];
        }
    }
    return n;
}

static PGresult *pq_v(struct pgc *c, const char *sql, const char *types, va_list ap)
{
    char *fixed[PG_MAX_PARAMS] = {0};
    char nums[PG_MAX_PARAMS][24];
    const char *vals[PG_MAX_PARAMS];
    c->retry = c->unique = 0;
    int n = params_fmt(types, ap, vals, fixed, nums);
    int slot = prepared_slot(c, sql, n);
    PGresult *r = NULL;
    if (slot >= 0) {
        char name[16];
        snprintf(name, sizeof name, "p%d", slot);
        if (c->begin_pending) {
            c->begin_pending = 0;
            r = exec_with_begin(c, name, n, vals);
        } else {
            r = PQexecPrepared(c->db, name, n, vals, NULL, NULL, 0);
        }
    }
    for (int i = 0; i < n; i++)
        free(fixed[i]);
    if (!r)
        return NULL;
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return r;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    c->retry = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
    c->unique = state && strcmp(state, "23505") == 0;
    if (!c->retry && !c->unique)
        log_error("store: %s: %.120s", PQresultErrorMessage(r), sql);
    PQclear(r);
    return NULL;
}

void pq_stmt(struct pq_stmt *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    s->sql = sql;
    s->n = params_fmt(types, ap, s->vals, s->fixed, s->nums);
    va_end(ap);
}

static void stmts_free(struct pq_stmt *s, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < s[i].n; j++) {
            free(s[i].fixed[j]);
            s[i].fixed[j] = NULL;
        }
}

/* Notes the first failure of a pipeline in c (retry, unique, state). */
static void pipe_failed(struct pgc *c, PGresult *r, const char *sql)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(c->state, sizeof c->state, "%s", state ? state : "");
    c->retry = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
    c->unique = state && strcmp(state, "23505") == 0;
    if (!c->retry && !c->unique && strcmp(c->state, "PR001") != 0)
        log_error("store: %s: %.120s", PQresultErrorMessage(r), sql);
}

/* Collects a pipeline's results: one per command sent (each followed by a
 * NULL), then the sync's. cmds[i] is NULL for BEGIN and COMMIT. */
static int pipe_collect(struct pgc *c, const char **cmds, int ncmds, PGresult **res)
{
    int ok = 1, k = 0;
    for (int i = 0; i < ncmds; i++) {
        PGresult *r = PQgetResult(c->db);
        if (!r) {
            ok = 0;
            break;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
            if (cmds[i] && res)
                res[k] = r;
            else
                PQclear(r);
        } else {
            if (ok && s != PGRES_PIPELINE_ABORTED)
                pipe_failed(c, r, cmds[i] ? cmds[i] : "BEGIN/COMMIT");
            ok = 0;
            PQclear(r);
        }
        if (cmds[i])
            k++;
        while ((r = PQgetResult(c->db)) != NULL) /* the NULL that ends this command's results */
            PQclear(r);
    }
    PGresult *sync = PQgetResult(c->db);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
        ok = 0;
    PQclear(sync);
    return ok;
}

int pq_pipe(struct pgc *c, struct pq_stmt *s, int n, PGresult **res, bool commit)
{
    const char *cmds[PG_MAX_PIPE + 2];
    char names[PG_MAX_PIPE][16];
    int ncmds = 0, ok = n <= PG_MAX_PIPE;
    c->retry = c->unique = 0;
    c->state[0] = '\0';
    for (int i = 0; i < n; i++)
        if (res)
            res[i] = NULL;
    /* Prepared before the pipeline (a first use costs its own round trip). */
    for (int i = 0; ok && i < n; i++) {
        int slot = prepared_slot(c, s[i].sql, s[i].n);
        ok = slot >= 0;
        snprintf(names[i], sizeof names[i], "p%d", slot);
    }
    if (ok && PQenterPipelineMode(c->db) != 1)
        ok = 0;
    if (!ok) {
        stmts_free(s, n);
        return -1;
    }
    int sent = 1;
    if (c->begin_pending) {
        c->begin_pending = 0;
        sent = PQsendQueryParams(c->db, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;
        cmds[ncmds++] = NULL;
    }
    for (int i = 0; sent && i < n; i++) {
        sent = PQsendQueryPrepared(c->db, names[i], s[i].n, s[i].vals, NULL, NULL, 0) == 1;
        cmds[ncmds++] = s[i].sql;
    }
    if (sent && commit) {
        sent = PQsendQueryParams(c->db, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1;
        cmds[ncmds++] = NULL;
    }
    sent = sent && PQpipelineSync(c->db) == 1;
    stmts_free(s, n);
    if (!sent) {
        log_error("store: pipeline: %s", PQerrorMessage(c->db));
        PQexitPipelineMode(c->db);
        return -1;
    }
    ok = pipe_collect(c, cmds, ncmds, res);
    PQexitPipelineMode(c->db);
    if (!ok && res)
        for (int i = 0; i < n; i++) {
            PQclear(res[i]);
            res[i] = NULL;
        }
    if (ok && commit)
        c->committed = 1;
    return ok ? 0 : -1;
}

PGresult *pq(struct pgc *c, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    PGresult *r = pq_v(c, sql, types, ap);
    va_end(ap);
    return r;
}

enum promo_err pq_do(struct pgc *c, int64_t *changed, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    PGresult *r = pq_v(c, sql, types, ap);
    va_end(ap);
    if (!r)
        return c->unique ? PROMO_CONFLICT : PROMO_INTERNAL;
    if (changed)
        *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return PROMO_OK;
}

const char *pg_text(PGresult *r, int row, int col, struct arena *a)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return arena_strndup(a, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t pg_i64(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int64_t pg_opt(PGresult *r, int row, int col, int64_t none)
{
    return PQgetisnull(r, row, col) ? none : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* ---- transactions ----------------------------------------------------------------- */

/* Runs fn once inside BEGIN … COMMIT on c. *retry: worth running again. */
static enum promo_err tx_once(struct pg_store *st, struct pgc *c, pg_tx_fn fn, void *arg, int *retry,
                              int64_t *commit_ns)
{
    *retry = 0;
    c->begin_pending = 1; /* sent with the first statement (pq, pg_exec, pq_pipe) */
    c->committed = 0;
    enum promo_err rc = fn(st, c, arg);
    if (c->committed) /* fn's last pipeline ended with COMMIT */
        return rc;
    if (c->retry || rc == PROMO_INTERNAL) {
        *retry = c->retry;
        pg_exec(c, "ROLLBACK");
        return PROMO_INTERNAL;
    }
    int64_t t = time_mono_ns();
    if (pg_exec(c, "COMMIT") != 0) {
        *retry = c->retry;
        pg_exec(c, "ROLLBACK");
        return PROMO_INTERNAL;
    }
    *commit_ns = time_mono_ns() - t;
    return rc;
}

enum promo_err pg_tx(struct pg_store *st, pg_tx_fn fn, void *arg)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    int64_t t0 = time_mono_ns(), commit_ns = 0;
    enum promo_err rc = PROMO_INTERNAL;
    int attempt;
    for (attempt = 0; attempt < PG_TX_ATTEMPTS; attempt++) {
        int retry = 0;
        rc = tx_once(st, c, fn, arg, &retry, &commit_ns);
        if (!retry)
            break;
        /* Deadlock or serialization failure: back off a little, at random,
         * so the transactions that collided do not collide again. */
        struct timespec ts = {0, (long)(util_rand_uniform(1000u << (attempt < 6 ? attempt : 6)) + 200) * 1000L};
        nanosleep(&ts, NULL);
    }
    pgc_put(st, c);
    pthread_mutex_lock(&st->lock);
    st->txs++;
    st->retries += (uint64_t)attempt;
    st->busy_ns += (uint64_t)(time_mono_ns() - t0);
    st->commit_ns += (uint64_t)commit_ns;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void pg_writer_stats(struct pg_store *st, uint64_t *batches, uint64_t *ops, uint64_t *busy_ns, uint64_t *commit_ns)
{
    pthread_mutex_lock(&st->lock);
    *batches = st->txs;
    *ops = st->txs;
    *busy_ns = st->busy_ns;
    *commit_ns = st->commit_ns;
    pthread_mutex_unlock(&st->lock);
}

/* ---- the poster ---------------------------------------------------------------------- */

struct pg_post {
    pg_tx_fn fn;
    void *arg;
    void (*free_arg)(void *);
    struct pg_post *next;
};

void pg_post(struct pg_store *st, pg_tx_fn fn, void *arg, void (*free_arg)(void *))
{
    struct pg_post *p = calloc(1, sizeof(*p));
    pthread_mutex_lock(&st->plock);
    if (!p || st->stopping || st->pqueued >= PG_POST_MAX) {
        st->pdropped++;
        pthread_mutex_unlock(&st->plock);
        free(p);
        free_arg(arg);
        return;
    }
    *p = (struct pg_post){fn, arg, free_arg, NULL};
    if (st->ptail)
        st->ptail->next = p;
    else
        st->phead = p;
    st->ptail = p;
    if (st->pqueued++ == 0)
        pthread_cond_signal(&st->pcv);
    pthread_mutex_unlock(&st->plock);
}

struct post_batch {
    struct pg_post *head;
};

/* Every queued operation in one transaction, each under a savepoint so one
 * failure does not lose the others. */
static enum promo_err run_posts(struct pg_store *st, struct pgc *c, void *arg)
{
    for (struct pg_post *p = ((struct post_batch *)arg)->head; p; p = p->next) {
        if (pg_exec(c, "SAVEPOINT post") != 0)
            return PROMO_INTERNAL;
        if (p->fn(st, c, p->arg) == PROMO_INTERNAL) {
            if (c->retry || pg_exec(c, "ROLLBACK TO SAVEPOINT post") != 0)
                return PROMO_INTERNAL;
        }
        pg_exec(c, "RELEASE SAVEPOINT post");
    }
    return PROMO_OK;
}

static enum promo_err run_sweep(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    return pg_sweep_holds(c, arg ? *(const int64_t *)arg : time_now(), 256);
}

static void posts_free(struct pg_post *p)
{
    while (p) {
        struct pg_post *next = p->next;
        p->free_arg(p->arg);
        free(p);
        p = next;
    }
}

static void *poster_main(void *arg)
{
    struct pg_store *st = arg;
    int64_t last_sweep = 0;
    pthread_mutex_lock(&st->plock);
    for (;;) {
        if (!st->phead && !st->stopping) {
            struct timespec ts; /* wake at least every 200 ms for the sweep */
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&st->pcv, &st->plock, &ts);
        }
        if (st->phead && !st->stopping) {
            /* Let more gather for 20 ms (as SQLite's audit queue does): one
             * commit for all of them, and the rows of calls made together
             * land together. */
            pthread_mutex_unlock(&st->plock);
            nanosleep(&(struct timespec){.tv_nsec = 20 * 1000000L}, NULL);
            pthread_mutex_lock(&st->plock);
        }
        struct post_batch b = {st->phead};
        st->phead = st->ptail = NULL;
        st->pqueued = 0;
        int stop = st->stopping;
        pthread_mutex_unlock(&st->plock);
        if (b.head && pg_tx(st, run_posts, &b) != PROMO_OK)
            log_error("store: a batch of asynchronous writes was lost");
        posts_free(b.head);
        int64_t now = time_mono_ns();
        if (!stop && now - last_sweep > 1000000000LL) {
            last_sweep = now;
            pg_tx(st, run_sweep, NULL);
        }
        pthread_mutex_lock(&st->plock);
        if (stop && !st->phead)
            break;
    }
    pthread_mutex_unlock(&st->plock);
    return NULL;
}

/* ---- migrations ------------------------------------------------------------------ */

static int migrate_one(struct pgc *c, const struct store_migration *m, char *err, size_t errlen)
{
    char ver[16];
    snprintf(ver, sizeof ver, "%d", m->version);
    const char *p[1] = {ver};
    PGresult *r = PQexecParams(c->db, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, p, NULL, NULL, 0);
    int have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (have)
        return 0;
    /* The migration and its bookkeeping row commit together. */
    if (pg_exec(c, "BEGIN") != 0)
        goto fail;
    r = PQexec(c->db, m->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "migration %s failed: %s", m->name, PQresultErrorMessage(r));
        PQclear(r);
        pg_exec(c, "ROLLBACK");
        return -1;
    }
    PQclear(r);
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, '%s', %lld)", m->version, m->name,
             (long long)time_now());
    if (pg_exec(c, sql) != 0 || pg_exec(c, "COMMIT") != 0)
        goto fail;
    log_info("store: applied migration %s", m->name);
    return 0;
fail:
    pg_exec(c, "ROLLBACK");
    snprintf(err, errlen, "migration %s failed: %s", m->name, PQerrorMessage(c->db));
    return -1;
}

/* Several servers may start at once on one database: a session advisory
 * lock lets one migrate while the others wait, then find nothing to do. */
static int migrate(struct pgc *c, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d)", PG_MIGRATE_LOCK);
    if (pg_exec(c, sql) != 0) {
        snprintf(err, errlen, "cannot take the migration lock: %s", PQerrorMessage(c->db));
        return -1;
    }
    int rc = pg_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                        " name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    if (rc != 0)
        snprintf(err, errlen, "cannot create schema_migrations: %s", PQerrorMessage(c->db));
    for (int i = 0; rc == 0 && i < store_migration_count; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (m->backend[0] && strcmp(m->backend, "pg") != 0)
            continue;
        rc = migrate_one(c, m, err, errlen);
    }
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d)", PG_MIGRATE_LOCK);
    pg_exec(c, sql);
    return rc;
}

/* ---- open / close ---------------------------------------------------------------------- */

/* Takes promo's own parameters (pool, shards) out of the URL's query
 * string, which libpq would refuse; returns the rest (malloc'd). */
static char *url_take_params(const char *url, int *pool, int *shards, int *cache)
{
    char *out = malloc(strlen(url) + 1);
    if (!out)
        return NULL;
    const char *q = strchr(url, '?');
    size_t base = q ? (size_t)(q - url) : strlen(url);
    memcpy(out, url, base);
    out[base] = '\0';
    if (!q)
        return out;
    char *rest = strdup(q + 1), *save = NULL;
    if (!rest) {
        free(out);
        return NULL;
    }
    int first = 1;
    for (char *kv = strtok_r(rest, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        if (strncmp(kv, "pool=", 5) == 0) {
            *pool = atoi(kv + 5);
        } else if (strncmp(kv, "shards=", 7) == 0) {
            *shards = atoi(kv + 7);
        } else if (strncmp(kv, "cache=", 6) == 0) {
            *cache = strcmp(kv + 6, "on") == 0 ? 1 : strcmp(kv + 6, "off") == 0 ? 0 : -1;
        } else {
            strcat(out, first ? "?" : "&");
            strcat(out, kv);
            first = 0;
        }
    }
    free(rest);
    return out;
}

enum promo_err pg_open(const char *url, struct pg_store **out, char *err, size_t errlen)
{
    struct pg_store *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return PROMO_INTERNAL;
    }
    st->max_conns = 16;
    st->shards = 16;
    int cache = 1;
    st->conninfo = url_take_params(url, &st->max_conns, &st->shards, &cache);
    st->no_cache = cache == 0;
    if (!st->conninfo || st->max_conns < 1 || st->max_conns > 1000 || st->shards < 1 || st->shards > 256 ||
        cache < 0) {
        snprintf(err, errlen, "bad --db URL: pool must be 1..1000, shards 1..256 and cache on or off");
        free(st->conninfo);
        free(st);
        return PROMO_INTERNAL;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_mutex_init(&st->plock, NULL);
    pthread_cond_init(&st->pcv, NULL);
    if (pg_audit_open(st) != 0) {
        snprintf(err, errlen, "out of memory");
        pg_close(st);
        return PROMO_INTERNAL;
    }
    struct pgc *c = pgc_open(st->conninfo, err, errlen);
    if (!c) {
        pg_close(st);
        return PROMO_UNAVAILABLE;
    }
    if (migrate(c, err, errlen) != 0) {
        pgc_close(c);
        pg_close(st);
        return PROMO_INTERNAL;
    }
    st->n_open = 1;
    pgc_put(st, c);
    if (pthread_create(&st->poster, NULL, poster_main, st) != 0) {
        snprintf(err, errlen, "cannot start the poster thread");
        pg_close(st);
        return PROMO_INTERNAL;
    }
    st->has_poster = 1;
    if (pg_segcache_open(st) != 0 || pg_tokcache_open(st) != 0) {
        snprintf(err, errlen, "out of memory");
        pg_close(st);
        return PROMO_INTERNAL;
    }
    pg_listener_start(st);
    *out = st;
    return PROMO_OK;
}

void pg_close(struct pg_store *st)
{
    if (!st)
        return;
    pg_listener_stop(st); /* before the caches it drops */
    pg_tokcache_close(st);
    pg_segcache_close(st);
    if (st->has_poster) {
        pthread_mutex_lock(&st->plock);
        st->stopping = 1;
        pthread_cond_signal(&st->pcv);
        pthread_mutex_unlock(&st->plock);
        pthread_join(st->poster, NULL);
    }
    pg_audit_close(st);
    while (st->free_conns) {
        struct pgc *c = st->free_conns;
        st->free_conns = c->next_free;
        pgc_close(c);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->plock);
    pthread_cond_destroy(&st->pcv);
    free(st->conninfo);
    free(st);
}

enum promo_err pg_ping(struct pg_store *st)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = pg_exec(c, "SELECT 1") == 0 ? PROMO_OK : PROMO_UNAVAILABLE;
    pgc_put(st, c);
    return rc;
}

enum promo_err pg_sweep(struct pg_store *st, int64_t now)
{
    return pg_tx(st, run_sweep, &now);
}
