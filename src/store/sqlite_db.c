/* sqlite_db.c — opening the SQLite store, migrations, the reader pool, the
 * statement cache and the group-commit writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/migrations.h"
#include "store/sqlite_int.h"
#include "store/tokcache.h"
#include "util/log.h"
#include "util/timeutil.h"

#define WRITER_BATCH_MAX 1024
/* How long posted ops alone may wait for company (see linger_for_posted). */
#define WRITER_LINGER_NS (10 * 1000000L)
#define BUSY_TIMEOUT_MS 10000
/* Checkpoint when the WAL holds this many frames (pages): SQLite's automatic
 * checkpoint at 4000 instead of 1000 made the redemption load faster, and
 * PROMO_SQLITE_WAL_PAGES (16..1000000) sets it, for tests. */
#define WAL_PAGES_DEFAULT 4000

/* ---- statement cache ----------------------------------------------------- */

sqlite3_stmt *conn_stmt(struct conn *c, const char *sql)
{
    /* Keyed by the SQL string's address: every statement of the backend is
     * a static string, so identity is enough and lookup is a hash probe. */
    size_t h = ((uintptr_t)sql >> 3) % CONN_STMT_SLOTS;
    for (size_t i = 0; i < CONN_STMT_SLOTS; i++) {
        size_t j = (h + i) % CONN_STMT_SLOTS;
        if (c->slots[j].sql == sql) {
            sqlite3_reset(c->slots[j].stmt);
            sqlite3_clear_bindings(c->slots[j].stmt);
            return c->slots[j].stmt;
        }
        if (!c->slots[j].sql) {
            sqlite3_stmt *s = NULL;
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
                log_error("store: prepare failed: %s: %.80s", sqlite3_errmsg(c->db), sql);
                return NULL;
            }
            c->slots[j].sql = sql;
            c->slots[j].stmt = s;
            return s;
        }
    }
    log_error("store: statement cache full");
    return NULL;
}

int conn_exec(struct conn *c, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store: %s: %.80s", msg ? msg : "error", sql);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

enum promo_err db_fail(struct conn *c, const char *what)
{
    log_error("store: %s: %s", what, sqlite3_errmsg(c->db));
    return PROMO_INTERNAL;
}

enum promo_err step_done(struct conn *c, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        enum promo_err e = rc == SQLITE_CONSTRAINT ? PROMO_CONFLICT : db_fail(c, "step");
        sqlite3_reset(s);
        return e;
    }
    sqlite3_reset(s);
    return PROMO_OK;
}

int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

int bind_i64(sqlite3_stmt *s, int i, int64_t v) { return sqlite3_bind_int64(s, i, v); }

int bind_opt(sqlite3_stmt *s, int i, int64_t v, int64_t none)
{
    return v == none ? sqlite3_bind_null(s, i) : sqlite3_bind_int64(s, i, v);
}

const char *col_text(sqlite3_stmt *s, int i, struct arena *a)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(s, i);
    return arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(s, i));
}

int64_t col_opt(sqlite3_stmt *s, int i, int64_t none)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? none : sqlite3_column_int64(s, i);
}

/* ---- connections --------------------------------------------------------- */

static struct conn *conn_open(const char *path, int writer, char *err, size_t errlen)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(c->db, 0);
    /* WAL: readers never wait for the writer. synchronous=FULL on the writer:
     * a commit returns only when the WAL is fsynced, so a 201 is durable.
     * temp_store=MEMORY: the writer runs every request in a savepoint, and
     * SQLite keeps a savepoint's undo pages in a sub-journal, a temp file by
     * default; in memory it costs no write() per page (the profile of the
     * redemption load showed ~10% of the server's CPU in those writes). */
    const char *pragmas = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                   "PRAGMA foreign_keys=ON; PRAGMA cache_size=-262144;"
                                   "PRAGMA temp_store=MEMORY;"
                                 : "PRAGMA cache_size=-16384; PRAGMA query_only=1; PRAGMA temp_store=MEMORY;";
    if (conn_exec(c, pragmas) != 0) {
        snprintf(err, errlen, "cannot configure %s: %s", path, sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

static void snapshot_end(struct conn *c);

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    snapshot_end(c);
    hook_cache_free(c);
    seg_cache_free(c);
    validation_tally_clear(c);
    for (int i = 0; i < CONN_STMT_SLOTS; i++)
        if (c->slots[i].stmt)
            sqlite3_finalize(c->slots[i].stmt);
    sqlite3_close(c->db);
    free(c);
}

/* ---- the reader pool and kept snapshots ---------------------------------- */

/* Ends the read transaction a reader kept open, if it has one. */
static void snapshot_end(struct conn *c)
{
    if (c->snap_open && !sqlite3_get_autocommit(c->db))
        conn_run(c, SQL_COMMIT);
    c->snap_open = false;
}

static struct conn *pool_take(struct sqlite_store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    struct conn *c = st->free_readers;
    if (c)
        st->free_readers = c->next_free;
    pthread_mutex_unlock(&st->pool_lock);
    if (c)
        return c;
    char err[256];
    c = conn_open(st->path, 0, err, sizeof err);
    if (!c)
        log_error("store: reader: %s", err);
    return c;
}

struct conn *reader_get(struct sqlite_store *st)
{
    struct conn *c = pool_take(st);
    if (c)
        snapshot_end(c); /* callers may BEGIN, and expect to read the newest data */
    return c;
}

/* Why a validation may read from a snapshot kept open since an earlier call:
 * beginning and ending a read transaction is most of what a one-row read
 * costs under load (SQLite takes and drops a WAL read lock each time, with
 * an fcntl() whenever no other connection of the process holds it). A
 * snapshot is kept only while the data version it was opened at stands:
 * the version is bumped after every commit that may change what a
 * validation reads, before that commit's callers are answered
 * (sqlite_vcache.c), so a caller never reads from before a write it was
 * told about. Kept snapshots would stop checkpoints from catching up, so
 * when the WAL grows past its limit the writer blocks them until the WAL has
 * been checkpointed and restarted (on_wal_commit). */
struct conn *reader_get_snapshot(struct sqlite_store *st, uint64_t version)
{
    struct conn *c = pool_take(st);
    if (!c)
        return NULL;
    bool keep = !atomic_load(&st->snap_blocked);
    if (c->snap_open && (!keep || c->snap_version != version || sqlite3_get_autocommit(c->db)))
        snapshot_end(c);
    if (keep && !c->snap_open && conn_run(c, SQL_BEGIN) == 0) {
        c->snap_open = true;
        c->snap_version = version;
    }
    return c;
}

void reader_put(struct sqlite_store *st, struct conn *c)
{
    if (!c)
        return;
    if (c->snap_open && atomic_load(&st->snap_blocked))
        snapshot_end(c);
    pthread_mutex_lock(&st->pool_lock);
    c->next_free = st->free_readers;
    st->free_readers = c;
    pthread_mutex_unlock(&st->pool_lock);
}

/* Ends the kept snapshots of the readers resting in the pool (those in use
 * end theirs when they are put back). Holds the pool lock meanwhile: ending
 * a read transaction takes microseconds, and a reader taken from under us
 * would make its caller open a new connection. */
static void pool_end_snapshots(struct sqlite_store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    for (struct conn *c = st->free_readers; c; c = c->next_free)
        snapshot_end(c);
    pthread_mutex_unlock(&st->pool_lock);
}

static int wal_pages_setting(void)
{
    const char *v = getenv("PROMO_SQLITE_WAL_PAGES");
    char *end = NULL;
    long n = v && *v ? strtol(v, &end, 10) : 0;
    if (!v || !*v)
        return WAL_PAGES_DEFAULT;
    if (*end || n < 16 || n > 1000000) {
        log_error("store: PROMO_SQLITE_WAL_PAGES=%s is not a number from 16 to 1000000; using %d", v,
                  WAL_PAGES_DEFAULT);
        return WAL_PAGES_DEFAULT;
    }
    return (int)n;
}

/* The writer's WAL hook, after every commit, in place of SQLite's automatic
 * checkpoint (same threshold). A passive checkpoint copies to the database
 * only the frames that no reader's snapshot still needs, and the WAL starts
 * over only after a checkpoint copied all of it; kept snapshots (above) lag
 * behind the newest commit, so under steady load that would never happen
 * and the WAL would grow without end. So past the threshold, snapshots are
 * blocked and the resting ones ended, and the checkpoint is retried after
 * each commit; once the WAL has started over (fewer frames than the
 * threshold), snapshots are allowed again. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sqlite_store *st = arg;
    if (frames < st->wal_pages) {
        if (atomic_load(&st->snap_blocked))
            atomic_store(&st->snap_blocked, false);
        return SQLITE_OK;
    }
    atomic_store(&st->snap_blocked, true);
    pool_end_snapshots(st);
    int log = 0, copied = 0;
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    return SQLITE_OK;
}

/* ---- migrations ---------------------------------------------------------- */

static int migrate(struct conn *c, char *err, size_t errlen)
{
    if (conn_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                     " name TEXT NOT NULL, applied_at INTEGER NOT NULL)") != 0)
        goto fail;
    for (int i = 0; i < store_migration_count; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (m->backend[0] && strcmp(m->backend, "sqlite") != 0)
            continue;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM schema_migrations WHERE version = ?", -1, &q, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int(q, 1, m->version);
        int have = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (have)
            continue;
        /* Each migration and its bookkeeping row commit together, so a crash
         * mid-migration leaves the version unapplied and it reruns whole. */
        if (conn_exec(c, "BEGIN IMMEDIATE") != 0)
            goto fail;
        if (conn_exec(c, m->sql) != 0) {
            conn_exec(c, "ROLLBACK");
            snprintf(err, errlen, "migration %s failed: %s", m->name, sqlite3_errmsg(c->db));
            return -1;
        }
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, '%s', %lld)", m->version,
                 m->name, (long long)time_now());
        if (conn_exec(c, sql) != 0 || conn_exec(c, "COMMIT") != 0) {
            conn_exec(c, "ROLLBACK");
            goto fail;
        }
        log_info("store: applied migration %s", m->name);
    }
    return 0;
fail:
    snprintf(err, errlen, "migrations failed: %s", sqlite3_errmsg(c->db));
    return -1;
}

/* ---- the writer: group commit ------------------------------------------- */

static const char SQL_SAVEPOINT[] = "SAVEPOINT op";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO op";
static const char SQL_RELEASE[] = "RELEASE op";
const char SQL_BEGIN[] = "BEGIN";
const char SQL_BEGIN_IMMEDIATE[] = "BEGIN IMMEDIATE";
const char SQL_COMMIT[] = "COMMIT";
const char SQL_ROLLBACK[] = "ROLLBACK";

int conn_run(struct conn *c, const char *sql)
{
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return -1;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_error("store: %s: %s", sql, sqlite3_errmsg(c->db));
        return -1;
    }
    return 0;
}

/* Runs one op under its own savepoint: PROMO_INTERNAL undoes its writes. */
static void run_one(struct sqlite_store *st, struct conn *c, struct wop *w)
{
    if (conn_run(c, SQL_SAVEPOINT) != 0) {
        w->rc = PROMO_INTERNAL;
        return;
    }
    w->rc = w->fn(st, c, w->arg);
    if (w->rc == PROMO_INTERNAL)
        conn_run(c, SQL_ROLLBACK_TO);
    conn_run(c, SQL_RELEASE);
}

/* Runs the grouped ops from `first` on under one savepoint; if one fails,
 * undoes them all (the tally too) and runs each under its own savepoint,
 * so the failure stays its own. Returns the op after the group. */
static struct wop *run_group(struct sqlite_store *st, struct conn *c, struct wop *first)
{
    struct wop *end = first;
    while (end && end->grouped)
        end = end->next;
    size_t n_saved;
    struct vtally *saved;
    if (validation_tally_save(c, &saved, &n_saved) != 0) {
        for (struct wop *w = first; w != end; w = w->next)
            run_one(st, c, w);
        return end;
    }
    if (conn_run(c, SQL_SAVEPOINT) == 0) {
        struct wop *w = first;
        while (w != end && (w->rc = w->fn(st, c, w->arg)) != PROMO_INTERNAL)
            w = w->next;
        if (w == end) {
            conn_run(c, SQL_RELEASE);
            free(saved);
            return end;
        }
        conn_run(c, SQL_ROLLBACK_TO);
        conn_run(c, SQL_RELEASE);
    }
    validation_tally_restore(c, saved, n_saved);
    for (struct wop *w = first; w != end; w = w->next)
        run_one(st, c, w);
    return end;
}

/* Takes everything queued (up to a batch), runs it in one transaction with a
 * savepoint per op, commits once, then wakes the callers. A caller is thus
 * answered only after the commit holding its row is durable, and one
 * fsync serves every request that arrived while the previous one ran. */
static void writer_batch(struct sqlite_store *st, struct wop *batch)
{
    struct conn *c = st->writer_conn;
    int64_t t0 = time_mono_ns();
    int ok = conn_run(c, SQL_BEGIN_IMMEDIATE) == 0;
    bool changed = false; /* something a decision reads (sqlite_vcache.c) */
    if (ok) {
        sqlite3_int64 before = sqlite3_total_changes64(c->db);
        sweep_holds(c, time_now());
        changed = sqlite3_total_changes64(c->db) != before;
    }
    for (struct wop *w = batch; w;) {
        if (!ok) {
            w->rc = PROMO_INTERNAL;
            w = w->next;
        } else if (w->grouped && w->next && w->next->grouped) {
            w = run_group(st, c, w);
        } else {
            run_one(st, c, w);
            w = w->next;
        }
    }
    if (ok && validation_tally_flush(c) != PROMO_OK)
        ok = 0;
    int64_t t1 = time_mono_ns();
    if (!ok || conn_run(c, SQL_COMMIT) != 0) {
        conn_run(c, SQL_ROLLBACK);
        validation_tally_clear(c);
        seg_cache_free(c); /* it may hold a rule of the undone batch */
        for (struct wop *w = batch; w; w = w->next)
            w->rc = PROMO_INTERNAL;
    }
    /* Before anyone is answered: see sqlite_vcache.c. Logged validations
     * (the grouped ops) change nothing a decision reads; lapsed holds do. */
    for (struct wop *w = batch; w && !changed; w = w->next)
        changed = !w->grouped;
    if (changed)
        vcache_changed(st);
    int64_t t2 = time_mono_ns();
    pthread_mutex_lock(&st->wlock);
    st->batches++;
    st->busy_ns += (uint64_t)(t2 - t0);
    st->commit_ns += (uint64_t)(t2 - t1);
    struct wop *w = batch;
    while (w) {
        struct wop *next = w->next;
        st->ops++;
        if (w->free_arg) {
            w->free_arg(w->arg);
            free(w);
        } else {
            /* Wake exactly this caller: a broadcast would wake every waiter
             * of every later batch too. */
            w->done = 1;
            pthread_cond_signal(w->cv);
        }
        w = next;
    }
    pthread_mutex_unlock(&st->wlock);
}

/* Nobody waits for posted ops (validation events, audit rows, token
 * touches), and a commit costs about the same for 10 of them as for 1,000:
 * every commit rewrites the last pages of the event indexes and fsyncs. So
 * when only posted ops are queued, the writer waits up to
 * WRITER_LINGER_NS for more (an op with a waiter, a full batch or a stop
 * ends the wait at once). Called and returns with wlock held. */
static void linger_for_posted(struct sqlite_store *st)
{
    if (st->qwaiting > 0 || st->qlen >= WRITER_BATCH_MAX || st->stopping)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WRITER_LINGER_NS;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    st->lingering = 1;
    while (st->qwaiting == 0 && st->qlen < WRITER_BATCH_MAX && !st->stopping)
        if (pthread_cond_timedwait(&st->wcv, &st->wlock, &ts) != 0)
            break;
    st->lingering = 0;
}

static void *writer_main(void *arg)
{
    struct sqlite_store *st = arg;
    pthread_setname_np(pthread_self(), "promo-writer"); /* for top -H, perf, gdb */
    pthread_mutex_lock(&st->wlock);
    for (;;) {
        while (!st->qhead && !st->stopping) {
            /* Wake at least once a second to end lapsed holds. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&st->wcv, &st->wlock, &ts) != 0 && !st->qhead) {
                pthread_mutex_unlock(&st->wlock);
                struct conn *c = st->writer_conn;
                if (conn_run(c, SQL_BEGIN_IMMEDIATE) == 0) {
                    sqlite3_int64 before = sqlite3_total_changes64(c->db);
                    if (sweep_holds(c, time_now()) == PROMO_OK)
                        conn_run(c, SQL_COMMIT);
                    else
                        conn_run(c, SQL_ROLLBACK);
                    /* Lapsed holds gave uses back; a sweep that ended none
                     * leaves the validation cache alone. */
                    if (sqlite3_total_changes64(c->db) != before)
                        vcache_changed(st);
                }
                pthread_mutex_lock(&st->wlock);
            }
        }
        if (!st->qhead && st->stopping)
            break;
        linger_for_posted(st);
        struct wop *batch = st->qhead, *tail = batch;
        int n = 1, waiting = batch->cv != NULL;
        while (tail->next && n < WRITER_BATCH_MAX) {
            tail = tail->next;
            waiting += tail->cv != NULL;
            n++;
        }
        st->qwaiting -= waiting;
        st->qhead = tail->next;
        if (!st->qhead)
            st->qtail = NULL;
        st->qlen -= n;
        tail->next = NULL;
        pthread_mutex_unlock(&st->wlock);
        writer_batch(st, batch);
        pthread_mutex_lock(&st->wlock);
    }
    pthread_mutex_unlock(&st->wlock);
    return NULL;
}

static void writer_enqueue(struct sqlite_store *st, struct wop *w)
{
    w->next = NULL;
    if (st->qtail)
        st->qtail->next = w;
    else
        st->qhead = w;
    st->qtail = w;
    st->qlen++;
    st->qwaiting += w->cv != NULL;
    /* While the writer lingers, a posted op does not wake it: only a
     * waiter or a full batch does. */
    if (!st->lingering || w->cv || st->qlen >= WRITER_BATCH_MAX)
        pthread_cond_signal(&st->wcv);
}

enum promo_err writer_run(struct sqlite_store *st, wop_fn fn, void *arg)
{
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct wop w = {.fn = fn, .arg = arg, .cv = &cv};
    pthread_mutex_lock(&st->wlock);
    if (st->stopping) {
        pthread_mutex_unlock(&st->wlock);
        return PROMO_UNAVAILABLE;
    }
    writer_enqueue(st, &w);
    while (!w.done)
        pthread_cond_wait(&cv, &st->wlock);
    pthread_mutex_unlock(&st->wlock);
    pthread_cond_destroy(&cv);
    return w.rc;
}

static void post(struct sqlite_store *st, wop_fn fn, void *arg, void (*free_arg)(void *), int grouped)
{
    struct wop *w = calloc(1, sizeof(*w));
    if (!w) {
        free_arg(arg);
        return;
    }
    w->fn = fn;
    w->arg = arg;
    w->free_arg = free_arg;
    w->grouped = grouped;
    pthread_mutex_lock(&st->wlock);
    if (st->stopping) {
        pthread_mutex_unlock(&st->wlock);
        free_arg(arg);
        free(w);
        return;
    }
    writer_enqueue(st, w);
    pthread_mutex_unlock(&st->wlock);
}

void writer_post(struct sqlite_store *st, wop_fn fn, void *arg, void (*free_arg)(void *))
{
    post(st, fn, arg, free_arg, 0);
}

void writer_post_grouped(struct sqlite_store *st, wop_fn fn, void *arg, void (*free_arg)(void *))
{
    post(st, fn, arg, free_arg, 1);
}

/* ---- open / close -------------------------------------------------------- */

/* One server per database file. Exactly-once does not depend on it (the
 * writer's BEGIN IMMEDIATE would serialise two processes), but the
 * in-process caches do (tokens, sqlite_tokens.c; validation inputs,
 * sqlite_vcache.c), and two group
 * committers on one file only fight over its lock. flock, not fcntl: SQLite's
 * own POSIX locks on the same file are not disturbed by it. In-memory and
 * URI names are not locked. Returns the fd; -1 when another process holds
 * the lock, -2 on other errors (both described in err); -3 when the name is
 * not a file that can be locked. */
static int file_lock(const char *path, char *err, size_t errlen)
{
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0 || !*path)
        return -3;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            snprintf(err, errlen,
                     "%s is in use by another promo server (one server per SQLite file; several servers "
                     "share a PostgreSQL database: see docs/scaling.md)",
                     path);
            return -1;
        }
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        return -2;
    }
    return fd;
}

enum promo_err sqlite_open(const char *url, struct sqlite_store **out, char *err, size_t errlen)
{
    if (strncmp(url, "sqlite:", 7) == 0)
        url += 7;
    /* Each connection is used by one thread at a time (the writer's by the
     * writer, readers through the pool), so SQLite's per-connection mutexes
     * are not needed; and memory statistics would take a global mutex on
     * every allocation. Both can only be set before SQLite initialises;
     * a second store in the same process keeps the first one's settings. */
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_threadsafe() == 0) {
        snprintf(err, errlen, "SQLite was built without thread support");
        return PROMO_INTERNAL;
    }
    struct sqlite_store *st = calloc(1, sizeof(*st));
    if (!st || !(st->path = strdup(url))) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return PROMO_INTERNAL;
    }
    pthread_mutex_init(&st->pool_lock, NULL);
    pthread_mutex_init(&st->wlock, NULL);
    pthread_cond_init(&st->wcv, NULL);
    st->lock_fd = file_lock(st->path, err, errlen);
    if (st->lock_fd == -1 || st->lock_fd == -2) {
        sqlite_close(st);
        return PROMO_INTERNAL;
    }
    if (audit_queue_open(st) != 0 || !(st->tokens = tokcache_new(0)) || vcache_open(st) != 0) {
        snprintf(err, errlen, "out of memory");
        sqlite_close(st);
        return PROMO_INTERNAL;
    }
    st->wal_pages = wal_pages_setting();
    st->writer_conn = conn_open(st->path, 1, err, errlen);
    if (!st->writer_conn || migrate(st->writer_conn, err, errlen) != 0) {
        sqlite_close(st);
        return PROMO_INTERNAL;
    }
    sqlite3_wal_hook(st->writer_conn->db, on_wal_commit, st);
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        st->writer = 0;
        sqlite_close(st);
        return PROMO_INTERNAL;
    }
    *out = st;
    return PROMO_OK;
}

void sqlite_close(struct sqlite_store *st)
{
    if (!st)
        return;
    if (st->writer) {
        pthread_mutex_lock(&st->wlock);
        st->stopping = 1;
        pthread_cond_signal(&st->wcv);
        pthread_mutex_unlock(&st->wlock);
        pthread_join(st->writer, NULL);
    }
    audit_queue_close(st);
    tokcache_free(st->tokens);
    st->tokens = NULL;
    vcache_close(st);
    while (st->free_readers) {
        struct conn *c = st->free_readers;
        st->free_readers = c->next_free;
        conn_close(c);
    }
    if (st->writer_conn)
        conn_exec(st->writer_conn, "PRAGMA optimize");
    conn_close(st->writer_conn);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_mutex_destroy(&st->wlock);
    pthread_cond_destroy(&st->wcv);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* after the last connection: the lock goes with it */
    free(st->path);
    free(st);
}

enum promo_err sqlite_ping(struct sqlite_store *st)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, "SELECT 1");
    enum promo_err rc = s && sqlite3_step(s) == SQLITE_ROW ? PROMO_OK : PROMO_UNAVAILABLE;
    if (s)
        sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

void sqlite_writer_stats(struct sqlite_store *st, uint64_t *batches, uint64_t *ops, uint64_t *busy_ns,
                        uint64_t *commit_ns)
{
    pthread_mutex_lock(&st->wlock);
    *batches = st->batches;
    *ops = st->ops;
    *busy_ns = st->busy_ns;
    *commit_ns = st->commit_ns;
    pthread_mutex_unlock(&st->wlock);
}

enum promo_err page_by_id(struct sqlite_store *st, struct arena *a, const char *sql, const char *what,
                          const char *cursor, int limit, const char *const *filters, int nfilters, size_t elem,
                          page_row_fn fill, void **rows, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_text(s, 1, cursor ? cursor : "");
    bind_i64(s, 2, limit + 1);
    for (int i = 0; i < nfilters; i++)
        bind_text(s, 3 + i, filters[i]);
    char *out = arena_alloc(a, elem * (size_t)(limit + 1));
    const char *last = NULL;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next = last; /* one row more than asked: another page follows */
            break;
        }
        last = fill(s, a, out + elem * (*n)++);
    }
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, what);
    sqlite3_reset(s);
    reader_put(st, c);
    *rows = out;
    return rc;
}
