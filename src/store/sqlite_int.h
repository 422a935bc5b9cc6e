/* sqlite_int.h — what the SQLite backend's files share: connections with a
 * statement cache, the reader pool, and the group-commit writer. Private to
 * src/store/sqlite_*.c. */
#ifndef PROMO_STORE_SQLITE_INT_H
#define PROMO_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/backend.h"

#define CONN_STMT_SLOTS 128

struct conn {
    sqlite3 *db;
    struct {
        const char *sql; /* identity of a static SQL string */
        sqlite3_stmt *stmt;
    } slots[CONN_STMT_SLOTS];
    struct conn *next_free;
};

/* A unit of work for the writer: fn runs inside the batch transaction,
 * under its own savepoint. fn returning PROMO_INTERNAL undoes its savepoint;
 * any other result keeps its writes (refusals are logged too). */
typedef enum promo_err (*wop_fn)(struct sqlite_store *st, struct conn *c, void *arg);

struct wop {
    wop_fn fn;
    void *arg;
    enum promo_err rc;
    int done;
    pthread_cond_t *cv; /* the waiting caller's; NULL for posted ops */
    void (*free_arg)(void *); /* asynchronous ops: freed after the commit */
    struct wop *next;
};

struct sqlite_store {
    char *path;
    pthread_mutex_t pool_lock;
    struct conn *free_readers;
    int n_readers;

    struct conn *writer_conn;
    pthread_t writer;
    pthread_mutex_t wlock;
    pthread_cond_t wcv;    /* work arrived */
    struct wop *qhead, *qtail;
    int qlen;
    int stopping;
    uint64_t batches, ops; /* for metrics */
    uint64_t busy_ns, commit_ns; /* writer time in batches, and in COMMIT (fsync) */

    struct audit_queue *audit; /* audit rows waiting for the writer (sqlite_audit.c) */
};

/* ---- connections --------------------------------------------------------- */
/* The cached prepared statement for a static SQL string, reset and cleared.
 * NULL on a prepare error (logged). Owned by the connection. */
sqlite3_stmt *conn_stmt(struct conn *c, const char *sql);
/* Runs a statement without results; 0 or -1 (logged). */
int conn_exec(struct conn *c, const char *sql);
struct conn *reader_get(struct sqlite_store *st);
void reader_put(struct sqlite_store *st, struct conn *c);

/* ---- the writer ---------------------------------------------------------- */
/* Queues fn and waits until the batch holding it is durable. */
enum promo_err writer_run(struct sqlite_store *st, wop_fn fn, void *arg);
/* Queues fn and returns at once; free_arg(arg) runs after it is done. */
void writer_post(struct sqlite_store *st, wop_fn fn, void *arg, void (*free_arg)(void *));

/* ---- binding and reading ----------------------------------------------- */
int bind_text(sqlite3_stmt *s, int i, const char *v);             /* NULL → NULL */
int bind_i64(sqlite3_stmt *s, int i, int64_t v);
int bind_opt(sqlite3_stmt *s, int i, int64_t v, int64_t none);   /* none → NULL */
const char *col_text(sqlite3_stmt *s, int i, struct arena *a);   /* NULL → NULL */
int64_t col_opt(sqlite3_stmt *s, int i, int64_t none);           /* NULL → none */
/* Steps a statement expected to finish (no rows); PROMO_OK or INTERNAL. */
enum promo_err step_done(struct conn *c, sqlite3_stmt *s);
/* Logs an SQLite failure of `what` and returns PROMO_INTERNAL. */
enum promo_err db_fail(struct conn *c, const char *what);

/* ---- shared pieces of the backend --------------------------------------- */
/* Appends an event to the log (inside the caller's transaction). */
enum promo_err event_log(struct conn *c, const char *type, int64_t at, const char *campaign_id,
                         const char *code_key, const char *customer_id, const char *order_id,
                         const char *subject_id, const char *reason, const char *data_json);
/* Reads a campaign by id. */
enum promo_err campaign_read(struct conn *c, struct arena *a, const char *id, struct campaign *out,
                             struct campaign_counts *counts);
/* Ends lapsed holds inside the writer's transaction. */
enum promo_err sweep_holds(struct conn *c, int64_t now);
/* The audit queue: made by store_open before the writer starts, freed by
 * store_close after the writer stopped. 0 or -1. */
int audit_queue_open(struct sqlite_store *st);
void audit_queue_close(struct sqlite_store *st);
/* Next value of a table's seq for SQLite rowid tables is automatic; ids are
 * random (util_rand_id). */

#endif
