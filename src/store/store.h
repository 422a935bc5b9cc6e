/* store.h — the only door to stored data. Every SQL statement of promo lives
 * behind this interface (src/store/sqlite.c today; a PostgreSQL backend
 * fits behind the same calls).
 *
 * Conventions
 * - Every call returns an enum promo_err: PROMO_OK, a refusal reason
 *   (422 family) for business decisions, PROMO_NOT_FOUND, PROMO_CONFLICT,
 *   or PROMO_INTERNAL (logged here, never leaked to clients).
 * - Strings handed back live in the caller's arena (`struct arena *a`) and
 *   die with it. Inputs are borrowed for the call's duration only.
 * - Writes go through one writer that groups concurrent calls into one
 *   durable commit (group commit). A call that changes data returns only
 *   after the commit that holds its change is on disk.
 * - Every change writes its event into the append-only log in the same
 *   transaction. */
#ifndef PROMO_STORE_H
#define PROMO_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "util/arena.h"

struct store;

/* Opens (creating if needed) the store at `url`: a file path for SQLite.
 * Applies pending migrations. On failure writes a sentence into err. The
 * caller closes with store_close(). */
enum promo_err store_open(const char *url, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);

/* ---- tokens -------------------------------------------------------------- */
struct token {
    const char *id, *role, *name;
    int64_t created_at, expires_at; /* expires_at 0: never */
    int64_t revoked_at;             /* 0: live */
};
enum promo_err store_token_count(struct store *st, int64_t *n);
/* Stores a token by the hash of its secret (util_hash_secret). */
enum promo_err store_token_create(struct store *st, const struct token *t, const char *secret_hash);
/* Finds the token whose secret hashes to `secret_hash`. */
enum promo_err store_token_find(struct store *st, struct arena *a, const char *secret_hash,
                                struct token *out);

/* ---- campaigns ----------------------------------------------------------- */
struct campaign_counts {
    int64_t issued, redeemed, rolled_back, discount_total, revenue, held, held_discount;
};

/* Stores a new campaign (c->id set by the caller) and its event. */
enum promo_err store_campaign_create(struct store *st, const struct campaign *c);
enum promo_err store_campaign_get(struct store *st, struct arena *a, const char *id,
                                  struct campaign *out, struct campaign_counts *counts);
/* Up to `limit` campaigns after `cursor` (NULL: from the start), oldest
 * first. *next is the cursor of the next page or NULL at the end. */
enum promo_err store_campaign_list(struct store *st, struct arena *a, const char *cursor, int limit,
                                   struct campaign **out, size_t *n, const char **next);

/* Changes a campaign inside the writer's transaction, so concurrent edits
 * cannot lose each other: reads the current row, calls `fn` to change it in
 * place (fn returns PROMO_OK or an error with a message in `msg`, arena
 * memory), stores it and an event `event_type`. On success *out holds the
 * stored campaign. */
typedef enum promo_err (*store_campaign_fn)(struct campaign *c, void *ctx, struct arena *a,
                                            const char **msg);
enum promo_err store_campaign_modify(struct store *st, struct arena *a, const char *id,
                                     store_campaign_fn fn, void *ctx, const char *event_type,
                                     int64_t now, struct campaign *out, const char **msg);

/* ---- codes --------------------------------------------------------------- */
struct code_info {
    struct code k;
    const char *state; /* active | redeemed | disabled | expired */
    const char *channel;
    int64_t seq;       /* creation order within the store */
};

/* Generates `count` unique codes of shape `g` for a campaign in one
 * transaction, after the keyspace guard (all codes of the same shape in
 * the store) and max_issued. A chunk of a job (job_id set) was reserved by
 * store_codes_reserve and adds `count` to the job's progress in the same
 * transaction, so a job resumed after a crash makes exactly what is left.
 * max_uses PROMO_UNLIMITED for unlimited. On success *made == count. */
enum promo_err store_codes_generate(struct store *st, const char *campaign_id,
                                    const struct codegen *g, int64_t count, int64_t max_uses,
                                    const char *job_id, int64_t now, int64_t *made);
/* For a job: checks the campaign, max_issued and the keyspace for `count`
 * codes and reserves them in the shape count, without making codes. */
enum promo_err store_codes_reserve(struct store *st, const char *campaign_id,
                                   const struct codegen *g, int64_t count);
/* Adds one chosen code; PROMO_CONFLICT when its key exists anywhere. */
enum promo_err store_code_add(struct store *st, struct arena *a, const char *campaign_id,
                              const struct code *k, int64_t now, struct code_info *out);

struct import_row {
    int line;                  /* in the file, 1-based */
    struct code k;             /* code, customer_id, max_uses, expires_at */
    const char *reject_reason; /* set by the caller when malformed; the store sets "duplicate" */
};
/* Stores every row without a reject_reason in one transaction; rows whose
 * key exists (in the store or earlier in `rows`) get reject_reason
 * "duplicate". *imported counts the stored rows. */
enum promo_err store_codes_import(struct store *st, struct arena *a, const char *campaign_id,
                                  struct import_row *rows, size_t n, int64_t now, int64_t *imported);
enum promo_err store_code_get(struct store *st, struct arena *a, const char *key, int64_t now,
                              struct code_info *out);
enum promo_err store_code_disable(struct store *st, struct arena *a, const char *key, int64_t now,
                                  struct code_info *out);
/* A page of a campaign's codes in creation order, after `after_seq` (0:
 * from the start), filtered by state (NULL: all). *next_seq is the seq to
 * continue after, or 0 at the end. */
enum promo_err store_codes_list(struct store *st, struct arena *a, const char *campaign_id,
                                const char *state, int64_t after_seq, int limit, int64_t now,
                                struct code_info **out, size_t *n, int64_t *next_seq);
/* Gives a code of the campaign to a customer: an unassigned generated code
 * from the pool when there is one, else a new code of shape `g`. Limits
 * apply (max_issued, per_customer: a customer holds at most per_customer
 * codes of a campaign). Refusals are returned as reasons. */
enum promo_err store_code_issue(struct store *st, struct arena *a, const char *campaign_id,
                                const char *customer_id, const char *channel,
                                const struct codegen *g, int64_t now, struct code_info *out);

/* ---- validation, redemption, reservations --------------------------------- */
struct redemption {
    const char *id, *code, *campaign_id, *customer_id, *order_id, *status;
    const char *discount_type, *reservation_id, *rollback_reason;
    int64_t order_amount, discount, points, created_at, rolled_back_at;
};

struct reservation {
    const char *id, *code, *campaign_id, *customer_id, *order_id, *state, *discount_type;
    const char *redemption_id;
    int64_t order_amount, discount, points, expires_at, created_at;
};

struct use_req {
    const char *key;         /* normalised code (codefmt_normalize) */
    const char *customer_id; /* NULL when not given */
    const struct order *order;
    const char *idem_key;     /* Idempotency-Key or NULL */
    const char *request_hash; /* hash of the request body, for idem_key reuse checks */
    int64_t ttl;              /* reservations: seconds */
    int64_t now;
};

/* The decision and what it was about. `reason` is the promo_err. */
struct use_result {
    struct verdict v;
    char campaign_id[PROMO_ID_MAX];
    char code[PROMO_CODE_MAX + 1];
    enum discount_type discount_type;
    bool replay; /* an earlier identical request's answer */
    struct redemption red;
    struct reservation rsv;
};

/* Read-only decision (records the attempt in the log and the validation
 * counts, asynchronously: the answer does not wait for a commit). Returns
 * PROMO_OK with res->v.reason set (OK or a refusal), or an error. */
enum promo_err store_validate(struct store *st, struct arena *a, const struct use_req *r,
                              struct use_result *res);
/* Atomic check-and-use. PROMO_OK: res->red is the durable redemption
 * (res->replay when it is an earlier one); a refusal reason: nothing used;
 * PROMO_CONFLICT: the Idempotency-Key was used for another request. */
enum promo_err store_redeem(struct store *st, struct arena *a, const struct use_req *r,
                            struct use_result *res);
/* Holds a use. PROMO_OK: res->rsv is the hold (the order's existing hold
 * when it has one, its expiry renewed). */
enum promo_err store_reserve(struct store *st, struct arena *a, const struct use_req *r,
                             struct use_result *res);
/* Turns a live hold into a redemption (a confirmed hold: its redemption
 * again). PROMO_CONFLICT when released or lapsed; PROMO_NOT_FOUND. */
enum promo_err store_reservation_confirm(struct store *st, struct arena *a, const char *id,
                                         int64_t now, struct redemption *out);
enum promo_err store_reservation_release(struct store *st, struct arena *a, const char *id,
                                         int64_t now, struct reservation *out);
enum promo_err store_reservation_get(struct store *st, struct arena *a, const char *id,
                                     struct reservation *out);
/* Gives the use back. PROMO_CONFLICT when already rolled back. */
enum promo_err store_redemption_rollback(struct store *st, struct arena *a, const char *id,
                                         const char *reason, int64_t now, struct redemption *out);
enum promo_err store_redemption_get(struct store *st, struct arena *a, const char *id,
                                    struct redemption *out);
/* Newest first; filters may be NULL; cursor as for campaigns. */
enum promo_err store_redemption_list(struct store *st, struct arena *a, const char *campaign_id,
                                     const char *customer_id, const char *cursor, int limit,
                                     struct redemption **out, size_t *n, const char **next);

/* ---- stats --------------------------------------------------------------- */
struct stat_count {
    const char *key;
    int64_t n, amount, revenue;
};
struct campaign_stats {
    struct campaign_counts counts;
    int64_t codes_used;              /* distinct codes with at least one use */
    int64_t validations_ok;
    struct stat_count *failed;       /* by reason */
    size_t n_failed;
    struct stat_count *by_channel;   /* redemptions by the code's channel */
    size_t n_by_channel;
    struct stat_count *daily;        /* key "YYYY-MM-DD" (UTC) */
    size_t n_daily;
};
enum promo_err store_campaign_stats(struct store *st, struct arena *a, const char *id,
                                    struct campaign_stats *out);

/* ---- jobs ---------------------------------------------------------------- */
struct job {
    const char *id, *type, *campaign_id, *status, *params, *error;
    int64_t done, total, created_at, updated_at;
};
enum promo_err store_job_create(struct store *st, const struct job *j);
enum promo_err store_job_get(struct store *st, struct arena *a, const char *id, struct job *out);
/* Sets progress and status (error may be NULL). */
enum promo_err store_job_update(struct store *st, const char *id, int64_t done, const char *status,
                                const char *error, int64_t now);
/* Jobs still `running` (after a restart: to resume). */
enum promo_err store_job_list_running(struct store *st, struct arena *a, struct job **out, size_t *n);

/* ---- the event log ------------------------------------------------------- */
struct event {
    int64_t seq, at;
    const char *id, *type, *campaign_id, *code_key, *customer_id, *order_id, *subject_id, *reason;
    const char *data; /* a JSON object as text */
};
/* Events in log order after `after_seq` (0: from the start), filtered by
 * campaign and/or type (NULL: any). *next_seq is the seq to continue
 * after, or 0 at the end. */
enum promo_err store_events_list(struct store *st, struct arena *a, const char *campaign_id,
                                 const char *type, int64_t after_seq, int limit, struct event **out,
                                 size_t *n, int64_t *next_seq);

/* ---- maintenance --------------------------------------------------------- */
/* Ends lapsed holds (gives their uses back, logs `reservation_expired`). */
enum promo_err store_sweep(struct store *st, int64_t now);
/* Counters of the group-commit writer since the store opened: batches
 * committed, operations run (ops / batches = the average group size), wall
 * time spent in batches and, of that, in COMMIT (the fsync). */
void store_writer_stats(struct store *st, uint64_t *batches, uint64_t *ops, uint64_t *busy_ns,
                        uint64_t *commit_ns);
/* Health: the store answers a trivial query. */
enum promo_err store_ping(struct store *st);

#endif
