/* sqlite_audit.c — the audit log and abuse events on SQLite.
 *
 * Audit rows must never slow an answer, so store_audit_append only copies
 * the row into a queue. A small flusher thread waits until rows are
 * queued, lets AUDIT_GATHER_MS pass, then posts one flush to the
 * group-commit writer (writer_post), which inserts everything queued in
 * its next batch. So a row reaches the table some 20 ms after its answer,
 * and under load one writer operation inserts hundreds of rows.
 *
 * Refusals (401, 403, 429) identical in everything but their time (same IP,
 * token, method, path, status and reason) that arrive while a row for them
 * still waits become one row with a `count`. Without that, a client
 * flooding refused requests would write a row per request: the audit log
 * would grow by megabytes a second and the writer would spend its time on
 * it. Every refusal is still counted, and rows of other calls are never
 * merged. */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/log.h"

#define AUDIT_QUEUE_MAX 100000 /* rows waiting; past it (a stalled disk) rows are dropped and counted */
#define AUDIT_FLUSH_MAX 2000   /* rows per writer operation, so one batch stays short */
#define AUDIT_GATHER_MS 20     /* how long rows gather before a flush is posted */
#define AUDIT_MERGE_SLOTS 1024 /* refusals waiting that a new identical one can join */

struct audit_row {
    struct audit_row *next;
    int64_t at, count;
    int status;
    uint64_t hash; /* of everything but `at`, for merging refusals; 0 for other rows */
    char *token_id, *role, *ip, *method, *path, *reason; /* inside the same allocation */
};

struct audit_queue {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* rows arrived, or closing */
    pthread_t flusher;
    int has_flusher, closing;
    struct audit_row *head, *tail;
    uint64_t n, dropped;
    int posted;      /* a flush is queued at the writer */
    int64_t last_at; /* keeps `at` non-decreasing in seq order (see store_audit_list) */
    struct audit_row *merge[AUDIT_MERGE_SLOTS]; /* waiting refusals by hash; cleared at each take */
};

static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log (at, token_id, role, ip, method, path, status, reason, count)"
    " VALUES (?,?,?,?,?,?,?,?,?)";

static enum promo_err insert_rows(struct conn *c, struct audit_row *rows)
{
    for (struct audit_row *r = rows; r; r = r->next) {
        sqlite3_stmt *s = conn_stmt(c, SQL_AUDIT_INSERT);
        if (!s)
            return PROMO_INTERNAL;
        bind_i64(s, 1, r->at);
        bind_text(s, 2, r->token_id);
        bind_text(s, 3, r->role);
        bind_text(s, 4, r->ip);
        bind_text(s, 5, r->method);
        bind_text(s, 6, r->path);
        bind_i64(s, 7, r->status);
        bind_text(s, 8, r->reason);
        bind_i64(s, 9, r->count);
        enum promo_err rc = step_done(c, s);
        if (rc != PROMO_OK)
            return rc;
    }
    return PROMO_OK;
}

static void free_rows(struct audit_row *r)
{
    while (r) {
        struct audit_row *next = r->next;
        free(r);
        r = next;
    }
}

/* ---- rows ------------------------------------------------------------------------- */

/* Copies s after the row (NULL stays NULL). */
static char *put(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = memcpy(*at, s, n);
    *at += n;
    return p;
}

static size_t len0(const char *s) { return s ? strlen(s) + 1 : 0; }

static struct audit_row *row_copy(const struct audit_entry *e)
{
    size_t n = sizeof(struct audit_row) + len0(e->token_id) + len0(e->role) + len0(e->ip) + len0(e->method) +
               len0(e->path) + len0(e->reason);
    struct audit_row *r = malloc(n);
    if (!r)
        return NULL;
    char *p = (char *)(r + 1);
    *r = (struct audit_row){.at = e->at, .status = e->status, .count = 1};
    r->token_id = put(&p, e->token_id);
    r->role = put(&p, e->role);
    r->ip = put(&p, e->ip ? e->ip : "");
    r->method = put(&p, e->method ? e->method : "");
    r->path = put(&p, e->path ? e->path : "");
    r->reason = put(&p, e->reason);
    return r;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_call(const struct audit_row *a, const struct audit_row *b)
{
    return a->status == b->status && same_str(a->token_id, b->token_id) && same_str(a->role, b->role) &&
           same_str(a->ip, b->ip) && same_str(a->method, b->method) && same_str(a->path, b->path) &&
           same_str(a->reason, b->reason);
}

/* The merge hash of a refusal (0 for rows never merged). */
static uint64_t merge_hash(const struct audit_row *r)
{
    if (r->status != 401 && r->status != 403 && r->status != 429)
        return 0;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof(uint64_t));
    const char *parts[] = {r->token_id, r->ip, r->method, r->path, r->reason};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        crypto_generichash_update(&h, (const unsigned char *)(parts[i] ? parts[i] : ""),
                                  parts[i] ? strlen(parts[i]) + 1 : 0);
    uint64_t out;
    crypto_generichash_final(&h, (unsigned char *)&out, sizeof out);
    return out ? out : 1;
}

/* ---- the flush (runs on the writer thread) -------------------------------------- */

/* One posted flush. `ran` tells its free function whether the writer ran
 * it: a flush never run (the writer is stopping) must clear `posted`, or
 * no later row would be flushed. */
struct flush {
    struct sqlite_store *st;
    int ran;
};

static void post_flush(struct sqlite_store *st);

/* Takes up to AUDIT_FLUSH_MAX queued rows; *more tells whether rows remain
 * (then `posted` stays set and the caller posts the next flush). */
static struct audit_row *take(struct audit_queue *q, int *more)
{
    pthread_mutex_lock(&q->lock);
    struct audit_row *first = q->head, *last = NULL, *r = first;
    for (int i = 0; r && i < AUDIT_FLUSH_MAX; i++, r = r->next) {
        last = r;
        q->n--;
    }
    if (last) {
        q->head = last->next;
        last->next = NULL;
        if (!q->head)
            q->tail = NULL;
    }
    memset(q->merge, 0, sizeof q->merge); /* the taken rows are no longer waiting */
    *more = q->head != NULL;
    if (!*more)
        q->posted = 0;
    pthread_mutex_unlock(&q->lock);
    return first;
}

static enum promo_err flush_op(struct sqlite_store *st, struct conn *c, void *arg)
{
    ((struct flush *)arg)->ran = 1;
    int more = 0;
    struct audit_row *rows = take(st->audit, &more);
    enum promo_err rc = insert_rows(c, rows);
    if (rc != PROMO_OK)
        log_error("audit: a batch of rows could not be written");
    free_rows(rows);
    if (more)
        post_flush(st);
    return rc;
}

static void unpost(struct audit_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->posted = 0;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->lock);
}

static void flush_free(void *arg)
{
    struct flush *f = arg;
    if (!f->ran)
        unpost(f->st->audit);
    free(f);
}

static void post_flush(struct sqlite_store *st)
{
    struct flush *f = calloc(1, sizeof(*f));
    if (!f) {
        unpost(st->audit);
        return;
    }
    f->st = st;
    writer_post(st, flush_op, f, flush_free);
}

/* Waits for rows, lets more gather (and identical refusals merge), posts
 * one flush, and waits again until that flush has taken them. */
static void *flusher_main(void *arg)
{
    struct sqlite_store *st = arg;
    struct audit_queue *q = st->audit;
    pthread_mutex_lock(&q->lock);
    while (!q->closing) {
        if (!q->n || q->posted) {
            pthread_cond_wait(&q->cv, &q->lock);
            continue;
        }
        pthread_mutex_unlock(&q->lock);
        nanosleep(&(struct timespec){.tv_nsec = AUDIT_GATHER_MS * 1000000L}, NULL);
        pthread_mutex_lock(&q->lock);
        if (q->n && !q->posted && !q->closing) {
            q->posted = 1;
            pthread_mutex_unlock(&q->lock);
            post_flush(st);
            pthread_mutex_lock(&q->lock);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* ---- the queue ----------------------------------------------------------------- */

int audit_queue_open(struct sqlite_store *st)
{
    struct audit_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cv, NULL);
    st->audit = q;
    if (pthread_create(&q->flusher, NULL, flusher_main, st) != 0) {
        audit_queue_close(st);
        return -1;
    }
    q->has_flusher = 1;
    return 0;
}

/* After the writer stopped: the flusher is stopped, and rows still queued
 * (answered while the server stopped) are written here on the writer's
 * connection, which nothing else uses now: a graceful stop loses none. */
void audit_queue_close(struct sqlite_store *st)
{
    struct audit_queue *q = st->audit;
    if (!q)
        return;
    if (q->has_flusher) {
        pthread_mutex_lock(&q->lock);
        q->closing = 1;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->flusher, NULL);
    }
    if (q->head && st->writer_conn) {
        int ok = conn_run(st->writer_conn, SQL_BEGIN_IMMEDIATE) == 0;
        ok = ok && insert_rows(st->writer_conn, q->head) == PROMO_OK;
        if (!ok || conn_run(st->writer_conn, SQL_COMMIT) != 0) {
            conn_run(st->writer_conn, SQL_ROLLBACK);
            log_warn("audit: %llu rows could not be written at shutdown", (unsigned long long)q->n);
        }
    }
    free_rows(q->head);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->lock);
    free(q);
    st->audit = NULL;
}

/* Joins r to an identical refusal still waiting; true when it did. */
static bool merge(struct audit_queue *q, struct audit_row *r)
{
    if (!r->hash)
        return false;
    struct audit_row **slot = &q->merge[r->hash % AUDIT_MERGE_SLOTS];
    if (*slot && (*slot)->hash == r->hash && same_call(*slot, r)) {
        (*slot)->count++;
        return true;
    }
    *slot = r; /* the newest refusal of this slot is the one to join */
    return false;
}

void sqlite_audit_append(struct sqlite_store *st, const struct audit_entry *e)
{
    struct audit_queue *q = st->audit;
    struct audit_row *r = row_copy(e);
    if (r)
        r->hash = merge_hash(r);
    pthread_mutex_lock(&q->lock);
    if (r && merge(q, r)) {
        pthread_mutex_unlock(&q->lock);
        free(r);
        return;
    }
    if (!r || q->n >= AUDIT_QUEUE_MAX) {
        if (r && q->merge[r->hash % AUDIT_MERGE_SLOTS] == r)
            q->merge[r->hash % AUDIT_MERGE_SLOTS] = NULL;
        q->dropped++;
        pthread_mutex_unlock(&q->lock);
        free(r);
        return;
    }
    if (r->at < q->last_at)
        r->at = q->last_at; /* a clock step back must not break the time ↔ seq order */
    q->last_at = r->at;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    if (q->n++ == 0)
        pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->lock);
}

void sqlite_audit_stats(struct sqlite_store *st, uint64_t *queued, uint64_t *dropped)
{
    pthread_mutex_lock(&st->audit->lock);
    *queued = st->audit->n;
    *dropped = st->audit->dropped;
    pthread_mutex_unlock(&st->audit->lock);
}

/* ---- reading ------------------------------------------------------------------ */

/* `at` never decreases along seq (store_audit_append), so since/until are
 * a seq range found once through audit_by_at; the other filters are
 * checked on the rows of that range (by token or IP through their index). */
#define AUDIT_COLS "seq, at, token_id, role, ip, method, path, status, reason, count"
#define AUDIT_RANGE                                                                                              \
    " seq > ?7"                                                                                                  \
    " AND seq >= coalesce((SELECT seq FROM audit_log WHERE at >= ?5 ORDER BY at, seq LIMIT 1), 9223372036854775807)" \
    " AND seq < coalesce((SELECT seq FROM audit_log WHERE at >= ?6 ORDER BY at, seq LIMIT 1), 9223372036854775807)" \
    " AND (?1 IS NULL OR token_id = ?1) AND (?2 IS NULL OR ip = ?2) AND (?3 IS NULL OR method = ?3)"          \
    " AND (?4 = 0 OR status = ?4) ORDER BY seq LIMIT ?8"
static const char SQL_AUDIT_ALL[] = "SELECT " AUDIT_COLS " FROM audit_log WHERE" AUDIT_RANGE;
static const char SQL_AUDIT_TOKEN[] = "SELECT " AUDIT_COLS " FROM audit_log WHERE token_id = ?1 AND" AUDIT_RANGE;
static const char SQL_AUDIT_IP[] = "SELECT " AUDIT_COLS " FROM audit_log WHERE ip = ?2 AND" AUDIT_RANGE;

static void row_read(sqlite3_stmt *s, struct arena *a, struct audit_entry *e)
{
    e->seq = sqlite3_column_int64(s, 0);
    e->at = sqlite3_column_int64(s, 1);
    e->token_id = col_text(s, 2, a);
    e->role = col_text(s, 3, a);
    e->ip = col_text(s, 4, a);
    e->method = col_text(s, 5, a);
    e->path = col_text(s, 6, a);
    e->status = sqlite3_column_int(s, 7);
    e->reason = col_text(s, 8, a);
    e->count = sqlite3_column_int64(s, 9);
}

enum promo_err sqlite_audit_list(struct sqlite_store *st, struct arena *a, const struct audit_filter *f,
                                int64_t after_seq, int limit, struct audit_entry **out, size_t *n,
                                int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    const char *sql = f->token_id ? SQL_AUDIT_TOKEN : f->ip ? SQL_AUDIT_IP : SQL_AUDIT_ALL;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_text(s, 1, f->token_id);
    bind_text(s, 2, f->ip);
    bind_text(s, 3, f->method);
    bind_i64(s, 4, f->status);
    bind_i64(s, 5, f->since);
    bind_i64(s, 6, f->until ? f->until : INT64_MAX);
    bind_i64(s, 7, after_seq);
    bind_i64(s, 8, limit + 1);
    *out = arena_alloc(a, sizeof(struct audit_entry) * (size_t)(limit + 1));
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        row_read(s, a, &(*out)[(*n)++]);
    }
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "audit list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

/* ---- abuse events ---------------------------------------------------------------- */

struct abuse_arg {
    int64_t at;
    char *kind, *key, *data;
};

static enum promo_err abuse_op(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct abuse_arg *x = arg;
    size_t n = strlen(x->kind) + strlen(x->key) + 2;
    char subject[512];
    if (n > sizeof subject)
        n = sizeof subject;
    snprintf(subject, n, "%s:%s", x->kind, x->key);
    return event_log(c, "abuse_detected", x->at, NULL, NULL, strcmp(x->kind, "customer") == 0 ? x->key : NULL, NULL,
                     subject, "bruteforce", x->data);
}

static void abuse_free(void *arg)
{
    struct abuse_arg *x = arg;
    free(x->kind);
    free(x->key);
    free(x->data);
    free(x);
}

void sqlite_abuse_log(struct sqlite_store *st, const char *kind, const char *key, int64_t at, const char *data_json)
{
    struct abuse_arg *x = calloc(1, sizeof(*x));
    if (!x)
        return;
    x->at = at;
    x->kind = strdup(kind);
    x->key = strdup(key);
    x->data = strdup(data_json ? data_json : "{}");
    if (!x->kind || !x->key || !x->data) {
        abuse_free(x);
        return;
    }
    writer_post(st, abuse_op, x, abuse_free);
}
