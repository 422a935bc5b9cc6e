/* pg_int.h — what the PostgreSQL backend's files share: the connection
 * pool with per-connection prepared statements, query helpers, the
 * transaction runner with retries, and the background poster. Private to
 * src/store/pg_*.c.
 *
 * Unlike SQLite's single writer, every promo process (and every request
 * thread of it) writes through its own pooled connection in its own
 * transaction; correctness comes from the database: row locks (SELECT …
 * FOR UPDATE on the code, the customer's usage row, a campaign shard),
 * conditional updates, unique constraints and transaction-scoped advisory
 * locks (one Idempotency-Key at a time). Serialization failures and
 * deadlocks are retried whole. */
#ifndef PROMO_STORE_PG_INT_H
#define PROMO_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>

#include "store/backend.h"

#define PGC_SLOTS 160 /* prepared statements per connection */
/* PROMO_UNLIMITED as an int64_t: pq() reads every integer as int64_t. */
#define PG_UNL ((int64_t)PROMO_UNLIMITED)

struct pgc {
    PGconn *db;
    const char *prepared[PGC_SLOTS]; /* SQL string identity → statement "p<slot>" */
    int retry;                       /* the last failure was a serialization failure or deadlock */
    int unique;                      /* the last failure was a unique violation */
    int begin_pending;               /* BEGIN goes out with the transaction's first statement */
    int committed;                   /* a pipeline (pq_pipe) committed the transaction */
    char state[6];                   /* SQLSTATE of the last pipeline's failure ("" if none) */
    struct pgc *next_free;
};

typedef enum promo_err (*pg_tx_fn)(struct pg_store *st, struct pgc *c, void *arg);

struct pg_post; /* an operation queued for the poster (pg_db.c) */

struct pg_store {
    char *conninfo;     /* the URL without promo's own parameters */
    int max_conns;      /* pool size: ?pool=N, default 16 */
    int shards;         /* counter shards of a new campaign: ?shards=N, default 16 */
    bool no_cache;      /* ?cache=off: no token or segment cache, no listener */
    pthread_mutex_t lock;
    pthread_cond_t cv;  /* a connection came back to the pool */
    struct pgc *free_conns;
    int n_open;

    /* The poster: asynchronous writes (validation attempts, audit rows,
     * token touches, abuse events) and the once-a-second sweep of lapsed
     * holds, on its own connection. */
    pthread_t poster;
    int has_poster, stopping;
    pthread_mutex_t plock;
    pthread_cond_t pcv;
    struct pg_post *phead, *ptail;
    uint64_t pqueued, pdropped;

    struct pg_audit *audit; /* audit rows waiting for the poster (pg_audit.c) */
    struct tokcache *tokcache;    /* found tokens by secret hash (pg_tokens.c, store/tokcache.h) */
    struct pg_segcache *segcache; /* the segments' parsed rules (pg_customers.c) */
    struct pg_listener *listener; /* what keeps both caches right (pg_listen.c); NULL: none */

    /* for metrics (store_writer_stats): transactions, retries, time */
    uint64_t txs, retries, busy_ns, commit_ns;
};

/* ---- connections and queries ---------------------------------------------- */
struct pgc *pgc_get(struct pg_store *st);   /* NULL when the database is unreachable (logged) */
void pgc_put(struct pg_store *st, struct pgc *c);
/* Runs a statement (prepared once per connection, keyed by the identity of
 * the static SQL string) with parameters described by `types`, one letter
 * each: 's' const char * (NULL → NULL), 'i' int64_t, 'o' two int64_t
 * (value, none): NULL when value == none. Returns the result (caller
 * PQclear()s) or NULL on failure (logged; c->retry/c->unique set). */
PGresult *pq(struct pgc *c, const char *sql, const char *types, ...);
/* pq() for statements without rows: PROMO_OK, PROMO_CONFLICT on a unique
 * violation, else PROMO_INTERNAL. *changed (may be NULL) gets the row count. */
enum promo_err pq_do(struct pgc *c, int64_t *changed, const char *sql, const char *types, ...);
/* One statement of a pipeline (pq_pipe): a static SQL string, as pq's,
 * and its parameters, set by pq_stmt() (types as pq's). */
#define PG_MAX_PARAMS 40
#define PG_MAX_PIPE 8
struct pq_stmt {
    const char *sql;
    int n;
    const char *vals[PG_MAX_PARAMS];
    char *fixed[PG_MAX_PARAMS]; /* UTF-8-fixed copies, freed by pq_pipe */
    char nums[PG_MAX_PARAMS][24];
};
void pq_stmt(struct pq_stmt *s, const char *sql, const char *types, ...);
/* Sends n (<= PG_MAX_PIPE) statements in one pipeline, one round trip:
 * after the transaction's pending BEGIN, and followed by COMMIT when
 * `commit` (then c->committed is set and pg_tx commits nothing more).
 * res[i] (may be NULL): statement i's result, the caller PQclear()s; all
 * NULL unless everything ran. Returns 0, or -1 with c->retry, c->unique
 * and c->state (SQLSTATE) set from the first failure (logged, except
 * retries, unique violations and PR001, promo's "take the step-by-step
 * path"). */
int pq_pipe(struct pgc *c, struct pq_stmt *s, int n, PGresult **res, bool commit);
/* Runs SQL text without parameters (BEGIN, COMMIT, migrations): 0 or -1. */
int pg_exec(struct pgc *c, const char *sql);
const char *pg_text(PGresult *r, int row, int col, struct arena *a); /* NULL → NULL */
int64_t pg_i64(PGresult *r, int row, int col);                      /* NULL → 0 */
int64_t pg_opt(PGresult *r, int row, int col, int64_t none);        /* NULL → none */

/* ---- transactions ------------------------------------------------------------ */
/* Runs fn in one transaction on a pooled connection: committed unless fn
 * returns PROMO_INTERNAL (refusals keep their logged events), retried
 * whole on a serialization failure or deadlock. fn may run more than once,
 * so it must (re)initialise its outputs. */
enum promo_err pg_tx(struct pg_store *st, pg_tx_fn fn, void *arg);
/* Queues fn for the poster and returns at once; free_arg(arg) after. */
void pg_post(struct pg_store *st, pg_tx_fn fn, void *arg, void (*free_arg)(void *));

/* ---- shared pieces ------------------------------------------------------------- */
enum promo_err pg_event_log(struct pgc *c, const char *type, int64_t at, const char *campaign_id,
                            const char *code_key, const char *customer_id, const char *order_id,
                            const char *subject_id, const char *reason, const char *data_json);
/* pg_event_log with the webhook fan-out optional (pg_outbox.c): the event
 * row and, when `fanout`, one outbox row per live webhook subscribed to
 * its type (or "*"), in the caller's transaction. Events about webhook
 * deliveries are not fanned out (a dead receiver would loop). */
enum promo_err pg_event_log_opts(struct pgc *c, const char *type, int64_t at, const char *campaign_id,
                                 const char *code_key, const char *customer_id, const char *order_id,
                                 const char *subject_id, const char *reason, const char *data_json, bool fanout);
/* ---- the outbox (pg_outbox.c) ---------------------------------------------------- */
/* The end of a statement that writes an event of type `type_sql` (a
 * parameter or a literal) in a WITH clause: it answers the live webhook
 * subscriptions that want it (id, url), for pg_outbox_fanout. One round
 * trip for the event and the question "who wants it?". */
#define PG_SQL_HOOKS_WANTING(type_sql)                                                         \
    " SELECT id, url FROM webhooks WHERE deleted_at IS NULL AND (event_types::jsonb ? " type_sql \
    "::text OR event_types::jsonb ? '*') ORDER BY seq"
/* Queues one delivery of ev per subscription row of `hooks` (id, url), in
 * the caller's transaction. hooks stays the caller's. */
enum promo_err pg_outbox_fanout(struct pgc *c, const struct event *ev, PGresult *hooks);
/* Queues a message inside the caller's transaction: m->id, channel,
 * recipient and the content set by the caller; due at once (now_ms).
 * Writes `message_queued`. */
enum promo_err pg_outbox_enqueue(struct pgc *c, const struct message *m, int64_t now_ms);
/* Reads a live template inside a transaction (rules render with it). */
enum promo_err pg_template_read(struct pgc *c, struct arena *a, const char *id, struct template_rec *out);
/* A campaign; counts (may be NULL) summed over its shards. lock: FOR UPDATE. */
enum promo_err pg_campaign_read(struct pgc *c, struct arena *a, const char *id, bool lock,
                                struct campaign *out, struct campaign_counts *counts);
/* The campaign and its shards' sums (as pg_campaign_read with counts) of
 * the code whose key is $1, for a pipeline; pg_campaign_counts_row reads
 * its row (PROMO_NOT_FOUND: no rows). */
extern const char PG_SQL_CAMPAIGN_COUNTS_BY_CODE[];
/* Whether the code $1 and order $2 already have a standing redemption or a
 * live hold (their ids, else NULL), and whether a live webhook wants what a
 * redemption writes: three columns for pg_redeem.c's fast path. */
#define PG_REPLAY_HOOKS_COLS                                                                                        \
    "(SELECT id FROM redemptions WHERE code_key = $1 AND order_id = $2 AND status = 'succeeded'),"                  \
    " (SELECT id FROM reservations WHERE code_key = $1 AND order_id = $2 AND state = 'held'),"                       \
    " EXISTS (SELECT 1 FROM webhooks WHERE deleted_at IS NULL"                                                      \
    " AND event_types::jsonb ?| array['redeemed', 'customer_created', '*'])"
/* PG_SQL_CAMPAIGN_COUNTS_BY_CODE followed by PG_REPLAY_HOOKS_COLS (from
 * column PG_CAMPAIGN_COUNTS_NCOLS on), in one statement. */
extern const char PG_SQL_CAMPAIGN_COUNTS_REPLAY[];
#define PG_CAMPAIGN_COUNTS_NCOLS 35
enum promo_err pg_campaign_counts_row(PGresult *r, struct arena *a, struct campaign *out,
                                      struct campaign_counts *counts);
/* Slices the campaign's limits over its shards (locking them all), so that
 * the slices add up to what is left of each limit. */
enum promo_err pg_shards_reslice(struct pgc *c, const char *campaign_id, int extra_shard, int64_t extra_uses,
                                 int64_t extra_cost, bool *fits);
/* The token cache (pg_tokens.c): open (off until the listener listens;
 * -1: out of memory), drop every entry (on 1/0: turn it on/off as well,
 * -1: as is), close. */
int pg_tokcache_open(struct pg_store *st);
void pg_tokcache_drop(struct pg_store *st, int on);
void pg_tokcache_close(struct pg_store *st);
/* The listener (pg_listen.c): started once both caches are open (not with
 * ?cache=off; a listener that cannot start leaves them off), stopped
 * before they close. */
void pg_listener_start(struct pg_store *st);
void pg_listener_stop(struct pg_store *st);
/* The audit queue: made before the poster starts, closed after it stopped. */
int pg_audit_open(struct pg_store *st);
void pg_audit_close(struct pg_store *st);
/* Ends lapsed holds (up to `max`), skipping codes another transaction holds. */
enum promo_err pg_sweep_holds(struct pgc *c, int64_t now, int max);
/* ---- customers (pg_customers.c) ------------------------------------------------ */
/* A redemption (amount paid after the discount) or its rollback changes
 * the customer's orders; facts and segments follow in the same
 * transaction. customer_id NULL: nothing to do. */
enum promo_err pg_customer_order_add(struct pgc *c, const char *customer_id, const char *order_id, int64_t amount,
                                     int64_t at, const char *source);
enum promo_err pg_customer_order_remove(struct pgc *c, const char *customer_id, const char *order_id, int64_t now);
/* The segments' parsed rules, cached (pg_customers.c): pg_segs_get
 * answers the current set (read with c, inside the caller's transaction,
 * when none is kept; NULL when that read fails), which the caller gives
 * back with pg_segs_put. pg_segcache_drop forgets the set (after a change
 * to segments; on 1/0: the listener is / is not listening, -1: as is). */
struct pg_segs;
struct pg_segs *pg_segs_get(struct pg_store *st, struct pgc *c);
void pg_segs_put(struct pg_store *st, struct pg_segs *g);
int pg_segcache_open(struct pg_store *st);
void pg_segcache_drop(struct pg_store *st, int on);
void pg_segcache_close(struct pg_store *st);
/* What follows a recomputation of the customer's facts made elsewhere
 * (the redemption's promo_redeem_order, migration 014): `facts` row 0 from
 * column col0 holds order_count, total_spent, last_order_at, signup_at,
 * attributes, computed (before), spent_365d; the computed segments are set
 * from `segs`, each entry and exit logged (and rules on segments run) as
 * after a refresh. */
extern const char PG_SQL_SEG_RULES[];
enum promo_err pg_customer_segments_follow(struct pgc *c, const char *id, const struct pg_segs *segs,
                                          PGresult *facts, int col0, int64_t now);
/* The computed segments (compact JSON array text, in a; NULL when out of
 * memory) that facts f (its attributes member unused) and `attributes`
 * (JSON text, may be NULL) give under `segs` at now. */
struct seg_facts; /* core/segment.h */
const char *pg_customer_computed(struct arena *a, const struct pg_segs *segs, struct seg_facts *f,
                                 const char *attributes, int64_t now);
/* What core_decide needs of a customer: segments by hand and computed, and
 * the order count. Unknown: cf->known false. */
enum promo_err pg_customer_facts_read(struct pgc *c, struct arena *a, const char *id, struct customer_facts *cf);
/* Re-evaluates up to `limit` customers after `after_seq` in creation order
 * (*n of them, the last one's seq in *last_seq): the periodic refresh. */
enum promo_err pg_customers_refresh_page(struct pgc *c, int64_t after_seq, int limit, int64_t now, int64_t *last_seq,
                                         int *n);

/* ---- the scheduler's tasks (pg_tasks.c) ------------------------------------------ */
/* Schedules the campaign's start and end transitions still ahead of `now`. */
enum promo_err pg_tasks_schedule_campaign(struct pgc *c, const struct campaign *cp, int64_t now);

/* ---- rules and reminders (pg_rules.c, pg_codes.c) ------------------------------- */
/* store_code_issue inside the caller's transaction (a rule step issues
 * with all the campaign's limits). */
enum promo_err pg_code_issue_tx(struct pgc *c, struct arena *a, const char *campaign_id, const char *customer_id,
                                const char *channel, const struct codegen *g, int64_t now, struct code_info *out);
/* Reads a code by its key inside a transaction. */
enum promo_err pg_code_info_read(struct pgc *c, struct arena *a, const char *key, int64_t now, struct code_info *out);
/* Schedules the campaign's expiry reminders (if it has any) of a code
 * issued to customer_id that expires at expires_at. */
enum promo_err pg_reminders_schedule(struct pgc *c, const char *campaign_id, const char *code_key,
                                     const char *customer_id, int64_t expires_at, int64_t now);
/* A client event landed (in its transaction): schedules the steps of the
 * enabled rules it triggers and cancels the pending steps it cancels. */
enum promo_err pg_rules_on_event(struct pgc *c, const char *type, const char *customer_id, const char *event_id,
                                 const char *props_json, int64_t at, int64_t now);
/* A customer entered a segment: schedules the steps of the rules on it. */
enum promo_err pg_rules_on_segment(struct pgc *c, const char *customer_id, const char *segment, int64_t now);
/* The scheduler's effects of kinds rule_step and expiry_reminder. */
enum promo_err pg_rule_step_run(struct pgc *c, struct arena *a, const struct task *t, int64_t now, bool *skipped);
enum promo_err pg_reminder_run(struct pgc *c, struct arena *a, const struct task *t, int64_t now, bool *skipped);

#endif
