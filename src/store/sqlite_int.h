/* sqlite_int.h — what the SQLite backend's files share: connections with a
 * statement cache, the reader pool, and the group-commit writer. Private to
 * src/store/sqlite_*.c. */
#ifndef PROMO_STORE_SQLITE_INT_H
#define PROMO_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/backend.h"

#define CONN_STMT_SLOTS 128

struct conn {
    sqlite3 *db;
    struct {
        const char *sql; /* identity of a static SQL string */
        sqlite3_stmt *stmt;
    } slots[CONN_STMT_SLOTS];
    struct conn *next_free;
    struct hook_cache *hooks; /* writer only: webhook subscriptions (sqlite_outbox.c); NULL: load */
    struct seg_set *segs; /* writer: parsed segment rules (sqlite_customers.c), NULL until needed */
    struct vtally *tally; /* writer: validation counts of the open batch (sqlite_redeem.c) */
    size_t n_tally, cap_tally;
    bool snap_open;        /* reader: a read transaction kept open between calls */
    uint64_t snap_version; /* the data version it was opened at */
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
    int grouped;              /* writer_post_grouped: may share a savepoint */
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
    int qwaiting;  /* queued ops whose caller waits (writer_run) */
    int lingering; /* the writer waits for more posted ops before a batch */
    int stopping;
    uint64_t batches, ops; /* for metrics */
    uint64_t busy_ns, commit_ns; /* writer time in batches, and in COMMIT (fsync) */

    struct audit_queue *audit; /* audit rows waiting for the writer (sqlite_audit.c) */

    int lock_fd; /* holds flock(LOCK_EX) on the database file: one server per file */
    struct tokcache *tokens; /* found tokens (store/tokcache.h) */
    struct vcache *vcache;      /* sqlite_vcache.c */

    int wal_pages;             /* checkpoint past this many WAL frames (on_wal_commit) */
    _Atomic bool snap_blocked; /* readers keep no snapshot until the WAL starts over */
};

/* ---- the validation cache (sqlite_vcache.c) ------------------------------ */
/* What a decision reads: the campaign (its counters in `u`), the code, the
 * counts. found false: no such code. */
struct use_inputs {
    bool found;
    struct campaign cp;
    struct code k;
    struct usage u;
};
/* Made by sqlite_open, freed by sqlite_close. 0 or -1. */
int vcache_open(struct sqlite_store *st);
void vcache_close(struct sqlite_store *st);
/* The data version now: take it before reading what will be put. */
uint64_t vcache_version(struct sqlite_store *st);
/* A commit may have changed what decisions read: call after it, before
 * anyone waiting on it is answered. */
void vcache_changed(struct sqlite_store *st);
/* The inputs kept for (key, customer) at `version`, strings copied into
 * a; false when there are none. */
bool vcache_get(struct sqlite_store *st, uint64_t version, const char *key, const char *customer,
                struct arena *a, struct use_inputs *out);
/* Keeps inputs read at `version` (copied; some are not kept, see there). */
void vcache_put(struct sqlite_store *st, uint64_t version, const char *key, const char *customer,
                const struct use_inputs *in);
/* The same for a campaign alone: its definition and its counters (the
 * campaign_* fields of u); the code and customer parts are left empty. */
bool vcache_get_campaign(struct sqlite_store *st, uint64_t version, const char *campaign_id, struct arena *a,
                         struct use_inputs *out);
void vcache_put_campaign(struct sqlite_store *st, uint64_t version, const struct use_inputs *in);

/* ---- the token cache (sqlite_tokens.c) ----------------------------------- */
/* Made by sqlite_open, freed by sqlite_close. 0 or -1. */

/* ---- connections --------------------------------------------------------- */
/* The cached prepared statement for a static SQL string, reset and cleared.
 * NULL on a prepare error (logged). Owned by the connection. */
sqlite3_stmt *conn_stmt(struct conn *c, const char *sql);
/* Runs SQL text (several statements allowed) without results, preparing
 * it each time; 0 or -1 (logged). For pragmas, migrations, rare paths. */
int conn_exec(struct conn *c, const char *sql);
/* Runs one static statement without results through the statement cache
 * (so `sql` must be a string with static storage, like the ones below);
 * 0 or -1 (logged). Hot paths begin and end transactions with it. */
int conn_run(struct conn *c, const char *sql);
extern const char SQL_BEGIN[], SQL_BEGIN_IMMEDIATE[], SQL_COMMIT[], SQL_ROLLBACK[];
struct conn *reader_get(struct sqlite_store *st);
void reader_put(struct sqlite_store *st, struct conn *c);
/* A reader that may still be in a read transaction opened by an earlier
 * call at the same data version (vcache_version, taken before this call):
 * for one-statement reads that only need data as new as that version
 * (validation). Put it back with reader_put like any other. */
struct conn *reader_get_snapshot(struct sqlite_store *st, uint64_t version);

/* ---- the writer ---------------------------------------------------------- */
/* Queues fn and waits until the batch holding it is durable. */
enum promo_err writer_run(struct sqlite_store *st, wop_fn fn, void *arg);
/* Queues fn and returns at once; free_arg(arg) runs after it is done. */
void writer_post(struct sqlite_store *st, wop_fn fn, void *arg, void (*free_arg)(void *));
/* writer_post for an op that may run under one savepoint with its queued
 * neighbours of the same kind (a savepoint per op was nearly half of the
 * writer's time per logged validation). If one of them fails, the group is
 * undone and each runs again under its own savepoint, so fn must be
 * replayable: once its writes are rolled back, running it again has the
 * same effect, and it changes no memory but the validation tally (which
 * the writer restores). */
void writer_post_grouped(struct sqlite_store *st, wop_fn fn, void *arg, void (*free_arg)(void *));

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

/* Reads one row of a list into *row and returns the row's id (its cursor). */
typedef const char *(*page_row_fn)(sqlite3_stmt *s, struct arena *a, void *row);
/* One page of a list ordered by id, on a reader connection. `sql` binds
 * ?1 = cursor ("" from the start), ?2 = limit + 1 and ?3... = filters
 * (NULL binds SQL NULL). *rows gets up to `limit` rows of `elem` bytes in
 * a, *n their count, *next the last one's id when more follow (else
 * NULL). `what` names the list in a failure's log line. */
enum promo_err page_by_id(struct sqlite_store *st, struct arena *a, const char *sql, const char *what,
                          const char *cursor, int limit, const char *const *filters, int nfilters, size_t elem,
                          page_row_fn fill, void **rows, size_t *n, const char **next);

/* ---- shared pieces of the backend --------------------------------------- */
/* Appends an event to the log (inside the caller's transaction). */
enum promo_err event_log(struct conn *c, const char *type, int64_t at, const char *campaign_id,
                         const char *code_key, const char *customer_id, const char *order_id,
                         const char *subject_id, const char *reason, const char *data_json);
/* A campaign row's columns, in the order row_to_campaign reads them
 * (CAMPAIGN_NCOLS of them: a statement may select more after these). */
#define CAMPAIGN_COLS                                                                              \
    "id, name, currency, discount_type, discount_amount, percent_bp, max_amount, points,"          \
    " starts_at, ends_at, timezone, max_redemptions, per_customer, max_discount_total, max_issued," \
    " min_order_amount, categories, exclude_categories, segments, first_order_only,"               \
    " code_validity_days, metadata, state, created_at, updated_at, issued, redeemed, rolled_back,"  \
    " discount_total, revenue, held, held_discount, seq, early_segment, early_starts_at"
#define CAMPAIGN_NCOLS 35
void row_to_campaign(sqlite3_stmt *s, struct arena *a, struct campaign *c, struct campaign_counts *k,
                     int64_t *seq);
/* Reads a campaign by id. */
enum promo_err campaign_read(struct conn *c, struct arena *a, const char *id, struct campaign *out,
                             struct campaign_counts *counts);
/* Adds the validation counts tallied in the open batch to
 * validation_counts (the writer calls it just before COMMIT); clears the
 * tally either way. PROMO_OK or the store's error. */
enum promo_err validation_tally_flush(struct conn *c);
/* Drops the tally without writing it (the batch was rolled back; conn_close). */
void validation_tally_clear(struct conn *c);
/* A copy of the tally into *saved (malloc'd, *n entries; NULL when empty):
 * 0, or -1 when memory ran out. validation_tally_restore puts such a copy
 * back (taking ownership): a group of grouped ops undone leaves the tally
 * as it was before them. */
int validation_tally_save(struct conn *c, struct vtally **saved, size_t *n);
void validation_tally_restore(struct conn *c, struct vtally *saved, size_t n);
/* Ends lapsed holds inside the writer's transaction. */
enum promo_err sweep_holds(struct conn *c, int64_t now);
/* The audit queue: made by store_open before the writer starts, freed by
 * store_close after the writer stopped. 0 or -1. */
int audit_queue_open(struct sqlite_store *st);
void audit_queue_close(struct sqlite_store *st);
/* ---- the outbox (sqlite_outbox.c) ----------------------------------------- */
/* event_log with the webhook fan-out optional: events about webhook
 * deliveries are not delivered to webhooks (a dead receiver would loop). */
enum promo_err event_log_opts(struct conn *c, const char *type, int64_t at, const char *campaign_id,
                              const char *code_key, const char *customer_id, const char *order_id,
                              const char *subject_id, const char *reason, const char *data_json, bool fanout);
/* Queues one outbox row per live webhook subscribed to ev->type (or "*"),
 * inside the caller's transaction. The subscriptions are cached on the
 * writer's connection, so an event nobody subscribes to costs a scan of a
 * short in-memory list. */
enum promo_err outbox_fanout(struct conn *c, const struct event *ev);
/* Queues a message inside the caller's writer transaction (part C's rules
 * call this): m->id, channel, recipient and the content must be set;
 * state, attempts and times are set here (due at once, at now_ms). Writes
 * `message_queued`. */
enum promo_err outbox_enqueue(struct conn *c, const struct message *m, int64_t now_ms);
/* Reads a live template inside a transaction (rules render with it). */
enum promo_err template_read(struct conn *c, struct arena *a, const char *id, struct template_rec *out);
/* Drops the writer connection's subscription cache (conn_close, and every
 * change of a webhook). */
void hook_cache_free(struct conn *c);

/* Next value of a table's seq for SQLite rowid tables is automatic; ids are
 * random (util_rand_id). */

/* ---- customers and tasks (sqlite_customers.c, sqlite_tasks.c) ----------- */
/* A redemption (amount paid after the discount) or its rollback changes
 * the customer's orders; facts and segments follow in the same
 * transaction. customer_id NULL: nothing to do. */
enum promo_err customer_order_add(struct conn *c, const char *customer_id, const char *order_id, int64_t amount,
                                  int64_t at, const char *source);
enum promo_err customer_order_remove(struct conn *c, const char *customer_id, const char *order_id, int64_t now);
/* Frees the connection's cached segment rules (conn_close). */
void seg_cache_free(struct conn *c);
/* Re-evaluates every customer's segments at `now` (after a segment
 * changed), or up to `limit` customers after `after_seq` in creation order
 * (*n of them, the last one's seq in *last_seq: the periodic task's
 * chunks, so no transaction holds the writer for the whole table). */
enum promo_err customers_refresh_all(struct conn *c, int64_t now);
enum promo_err customers_refresh_page(struct conn *c, int64_t after_seq, int limit, int64_t now, int64_t *last_seq,
                                      int *n);
/* Reads what core_decide needs of a customer: segments by hand and
 * computed, and the order count. Unknown: cf->known false. */
enum promo_err customer_facts_read(struct conn *c, struct arena *a, const char *id, struct customer_facts *cf);
/* Schedules the campaign's start and end transitions still ahead of `now`. */
enum promo_err tasks_schedule_campaign(struct conn *c, const struct campaign *cp, int64_t now);

/* ---- rules and reminders (sqlite_rules.c, sqlite_codes.c) -------------- */
/* store_code_issue inside the caller's writer transaction (a rule step
 * issues with all the campaign's limits). Refusals write nothing. */
enum promo_err code_issue_tx(struct conn *c, struct arena *a, const char *campaign_id, const char *customer_id,
                             const char *channel, const struct codegen *g, int64_t now, struct code_info *out);
/* Reads a code by its key inside a transaction. */
enum promo_err code_info_read(struct conn *c, struct arena *a, const char *key, int64_t now, struct code_info *out);
/* Schedules the campaign's expiry reminders (if it has any) of a code
 * issued to customer_id that expires at expires_at. */
enum promo_err reminders_schedule(struct conn *c, const char *campaign_id, const char *code_key,
                                  const char *customer_id, int64_t expires_at, int64_t now);
/* A client event landed (in its transaction): schedules the steps of the
 * enabled rules it triggers and cancels the pending steps it cancels. */
enum promo_err rules_on_event(struct conn *c, const char *type, const char *customer_id, const char *event_id,
                              const char *props_json, int64_t at, int64_t now);
/* A customer entered a segment: schedules the steps of the rules on it. */
enum promo_err rules_on_segment(struct conn *c, const char *customer_id, const char *segment, int64_t now);
/* The scheduler's effects of kinds rule_step and expiry_reminder. */
enum promo_err rule_step_run(struct conn *c, struct arena *a, const struct task *t, int64_t now, bool *skipped);
enum promo_err reminder_run(struct conn *c, struct arena *a, const struct task *t, int64_t now, bool *skipped);

#endif
