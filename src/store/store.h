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

/* ---- tokens and OAuth clients (sqlite_tokens.c) --------------------------- */
struct token {
    const char *id, *role, *name;
    const char *kind;               /* "api" (made by an admin) | "oauth" (issued to a client) */
    const char *client_id;          /* oauth: the client it was issued to; else NULL */
    int64_t created_at, expires_at; /* expires_at 0: never */
    int64_t revoked_at;             /* 0: live */
    int64_t last_used_at;           /* 0: never; kept to the minute (store_token_touch) */
};
/* The token cache's lookups answered from memory and from the database
 * since the store opened, and whether it is on (SQLite: always;
 * PostgreSQL: while its listener is listening). */
void store_token_cache_stats(struct store *st, uint64_t *hits, uint64_t *misses, bool *listening);
enum promo_err store_token_count(struct store *st, int64_t *n);
/* Live (not revoked, not expired at `now`) admin tokens. */
enum promo_err store_token_count_admins(struct store *st, int64_t now, int64_t *n);
/* Stores a token by the hash of its secret (util_hash_secret) and its
 * `token_created` event; `actor` is the id of the token that made it
 * (NULL: the server itself). t->kind NULL means "api". PROMO_CONFLICT when
 * the hash is already taken. */
enum promo_err store_token_create(struct store *st, const struct token *t, const char *secret_hash,
                                  const char *actor);
/* Finds the token whose secret hashes to `secret_hash`. */
enum promo_err store_token_find(struct store *st, struct arena *a, const char *secret_hash,
                                struct token *out);
enum promo_err store_token_get(struct store *st, struct arena *a, const char *id, struct token *out);
/* Up to `limit` tokens after the id `cursor` (NULL: from the start) in
 * creation order, of one kind (NULL: any). *next: NULL at the end. */
enum promo_err store_token_list(struct store *st, struct arena *a, const char *kind, const char *cursor,
                                int limit, struct token **out, size_t *n, const char **next);
/* Sets revoked_at and logs `token_revoked` in one transaction. *out is
 * the token after it; PROMO_CONFLICT when it was already revoked. */
enum promo_err store_token_revoke(struct store *st, struct arena *a, const char *id, int64_t now,
                                  const char *actor, struct token *out);
/* Records a use of the token at `now`: asynchronous (returns at once, the
 * writer commits it with its next batch), and the caller calls it at most
 * about once a minute per token (see api_authenticate). */
void store_token_touch(struct store *st, const char *id, int64_t now);

struct oauth_client {
    const char *id, *name, *role;
    int64_t access_token_ttl; /* seconds */
    int64_t created_at;
    int64_t deleted_at;       /* 0: live */
};
/* Stores a client by the hash of its secret, with `oauth_client_created`. */
enum promo_err store_oauth_client_create(struct store *st, const struct oauth_client *c, const char *secret_hash,
                                         const char *actor);
/* A client and, when secret_hash is not NULL, the hash of its secret (65
 * bytes) for the caller to compare. Deleted clients are found too. */
enum promo_err store_oauth_client_get(struct store *st, struct arena *a, const char *id, struct oauth_client *out,
                                      char *secret_hash);
enum promo_err store_oauth_client_list(struct store *st, struct arena *a, const char *cursor, int limit,
                                       struct oauth_client **out, size_t *n, const char **next);
/* Marks the client deleted and revokes its live tokens (*revoked of them)
 * with `oauth_client_deleted`, in one transaction. PROMO_CONFLICT when it
 * was already deleted. */
enum promo_err store_oauth_client_delete(struct store *st, struct arena *a, const char *id, int64_t now,
                                         const char *actor, struct oauth_client *out, int64_t *revoked);
/* Stores an access token (t->kind "oauth", t->client_id set) with
 * `oauth_token_issued`, only if the client is still live when the writer
 * runs it, so no token outlives a DELETE of its client (PROMO_NOT_FOUND
 * otherwise). Tokens of the client expired for more than a day go in the
 * same transaction: the table does not grow with every grant. */
enum promo_err store_oauth_token_issue(struct store *st, const struct token *t, const char *secret_hash);

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
 * max_uses PROMO_UNLIMITED for unlimited. `ready`: the codes, made ahead
 * by code_batch_make (ready->n == count; borrowed), or NULL to make them
 * here. On success *made == count. */
enum promo_err store_codes_generate(struct store *st, const char *campaign_id,
                                    const struct codegen *g, int64_t count, int64_t max_uses,
                                    const struct code_batch *ready, const char *job_id, int64_t now,
                                    int64_t *made);
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
/* Logs `abuse_detected` for a key that brute-force detection just blocked
 * (kind "ip", "token" or "customer"; subject "kind:key"; a customer key is
 * also the event's customer_id). Asynchronous, like store_audit_append:
 * returns at once, the writer commits it with its next batch. */
void store_abuse_log(struct store *st, const char *kind, const char *key, int64_t at, const char *data_json);

/* ---- the audit log (append-only) ----------------------------------------- */
/* One API call as audited. Never a body, a header, a secret or a whole
 * code: api/ masks codes in paths before appending. */
struct audit_entry {
    int64_t seq, at;          /* seq: set when read back */
    const char *token_id;     /* NULL: no token recognised */
    const char *role;         /* NULL with token_id */
    const char *ip, *method, *path;
    int status;
    const char *reason;       /* why a call was refused, or NULL */
    int64_t count;            /* read back: identical refusals this row stands for (≥ 1) */
};
/* Copies the row into a queue and returns at once: auditing never waits
 * for a commit. Queued rows are inserted by the writer ~20 ms later, all
 * in one operation, so a row lags its answer by some 20 ms and is lost
 * only if the process dies first, or if more than 100,000 rows wait (a
 * stalled disk): those are counted (store_audit_stats). A graceful stop
 * writes all. A refusal (401/403/429) identical to one still waiting
 * (same IP, token, method, path, status, reason) adds to its count. */
void store_audit_append(struct store *st, const struct audit_entry *e);
struct audit_filter {
    const char *token_id, *ip, *method; /* NULL: any */
    int status;                         /* 0: any */
    int64_t since, until;               /* since <= at < until; 0: open */
};
/* Rows in log order after `after_seq` (0: from the start) matching f; up
 * to `limit`; *next_seq is the seq to continue after, or 0 at the end. */
enum promo_err store_audit_list(struct store *st, struct arena *a, const struct audit_filter *f,
                                int64_t after_seq, int limit, struct audit_entry **out, size_t *n,
                                int64_t *next_seq);
/* Rows waiting for the writer now, and rows dropped since the store opened. */
void store_audit_stats(struct store *st, uint64_t *queued, uint64_t *dropped);

/* ---- templates, webhooks and the outbox (sqlite_outbox.c) ------------------ */
struct template_rec {
    const char *id, *name;
    const char *subject, *body_text, *body_html; /* NULL: none */
    int64_t created_at, updated_at;
};
/* Stores a new template (create) or replaces a live one's content
 * (PROMO_NOT_FOUND when there is none), with `template_created` /
 * `template_updated`. The caller checked the texts (tpl_check). */
enum promo_err store_template_put(struct store *st, const struct template_rec *t, bool create, const char *actor);
enum promo_err store_template_get(struct store *st, struct arena *a, const char *id, struct template_rec *out);
enum promo_err store_template_list(struct store *st, struct arena *a, const char *cursor, int limit,
                                   struct template_rec **out, size_t *n, const char **next);
/* Marks it deleted (`template_deleted`); queued messages keep their text. */
enum promo_err store_template_delete(struct store *st, const char *id, int64_t now, const char *actor);

struct webhook {
    const char *id, *url;
    const char *event_types; /* a JSON array as text: ["redeemed", ...] or ["*"] */
    const char *secret;      /* signs deliveries; only read by the delivery workers and at creation */
    const char *description;
    int64_t created_at;
};
enum promo_err store_webhook_create(struct store *st, const struct webhook *w, const char *actor);
/* A live subscription (deleted ones are PROMO_NOT_FOUND), secret included. */
enum promo_err store_webhook_get(struct store *st, struct arena *a, const char *id, struct webhook *out);
enum promo_err store_webhook_list(struct store *st, struct arena *a, const char *cursor, int limit,
                                  struct webhook **out, size_t *n, const char **next);
enum promo_err store_webhook_delete(struct store *st, const char *id, int64_t now, const char *actor);

/* An outbox row. Times in Unix milliseconds. */
struct message {
    const char *id, *channel, *state, *recipient, *recipient_name;
    const char *webhook_id, *event_id, *event_type, *template_id, *customer_id;
    const char *subject, *body_text, *body_html, *last_error;
    int64_t attempts, retry_base, next_attempt_at, created_at, sent_at;
};
struct message_attempt {
    int64_t n, started_at, duration_ms;
    bool ok;
    int64_t status; /* HTTP status or SMTP reply code; 0: none (no answer) */
    const char *error;
};
/* Queues a message (POST /v1/messages) with `message_queued`. */
enum promo_err store_message_enqueue(struct store *st, const struct message *m, int64_t now_ms);
enum promo_err store_message_get(struct store *st, struct arena *a, const char *id, struct message *out);
/* Oldest first after the id `cursor`, filtered by state and channel (NULL: any). */
enum promo_err store_message_list(struct store *st, struct arena *a, const char *state, const char *channel,
                                  const char *cursor, int limit, struct message **out, size_t *n,
                                  const char **next);
/* Every attempt of a message, first first (at most 1000). */
enum promo_err store_message_attempts(struct store *st, struct arena *a, const char *id,
                                      struct message_attempt **out, size_t *n);
/* Queues a dead message again with a fresh allowance of attempts
 * (`message_retried`); PROMO_CONFLICT unless it is dead. */
enum promo_err store_message_retry(struct store *st, struct arena *a, const char *id, int64_t now_ms,
                                   const char *actor, struct message *out);
/* The delivery workers: the earliest next_attempt_at of a queued or
 * claimed message (*due 0: none); a reader query, no write. */
enum promo_err store_outbox_next_due(struct store *st, int64_t *due);
/* Claims the most overdue message due at now_ms (queued, or claimed by a
 * worker whose claim lapsed): state `sending` until now_ms + lease_ms.
 * PROMO_NOT_FOUND when none is due. */
enum promo_err store_outbox_claim(struct store *st, struct arena *a, int64_t now_ms, int64_t lease_ms,
                                  struct message *out);
/* Records an attempt of a claimed message and its outcome: ok → `sent`
 * (`message_sent`); else `dead` when `dead` (`message_dead`), else queued
 * again at next_attempt_at. */
/* Messages by state now, for /metrics. */
enum promo_err store_outbox_counts(struct store *st, int64_t *queued, int64_t *sending, int64_t *dead);
enum promo_err store_outbox_record(struct store *st, const char *id, const struct message_attempt *at, bool dead,
                                   int64_t next_attempt_at);

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

/* ---- customers, segments, ingested events (sqlite_customers.c) ---------- */
/* A customer: the profile a client PUTs and the facts the server keeps
 * current (from purchase events and redemptions, in their transaction).
 * JSON members are texts: segments (set by hand) and computed (put there
 * by the segment rules) are arrays of names, attributes an object. Times
 * 0: never. spent_365d is computed when read, at `now`. */
struct customer {
    const char *id, *name, *email, *phone, *locale;
    const char *segments_json, *attributes_json, *computed_json;
    int64_t signup_at, first_order_at, last_order_at, last_seen_at;
    int64_t order_count, total_spent, spent_365d;
    int64_t created_at, updated_at, seq;
};
/* Creates or replaces the profile of in->id (facts untouched), logs
 * `customer_created` or `customer_updated` and re-evaluates the customer's
 * segments (`segment_entered` / `segment_left`), in one transaction. */
enum promo_err store_customer_put(struct store *st, struct arena *a, const struct customer *in, int64_t now,
                                  struct customer *out, bool *created);
enum promo_err store_customer_get(struct store *st, struct arena *a, const char *id, int64_t now,
                                  struct customer *out);
/* Customers in creation order after `after_seq`; segment NULL: all, else
 * those in it (by hand or computed). *next_seq 0 at the end. */
enum promo_err store_customer_list(struct store *st, struct arena *a, const char *segment, int64_t after_seq,
                                   int limit, int64_t now, struct customer **out, size_t *n, int64_t *next_seq);

struct segment_def {
    const char *name, *rule_json, *description;
    int64_t created_at, updated_at, members;
};
/* Stores a segment whose rule the caller checked (core_segment_parse) and
 * re-evaluates every customer against it, logging `segment_saved` and each
 * entry and exit, in one transaction. */
enum promo_err store_segment_put(struct store *st, const struct segment_def *d, int64_t now, bool *created);
enum promo_err store_segment_get(struct store *st, struct arena *a, const char *name, struct segment_def *out);
enum promo_err store_segment_list(struct store *st, struct arena *a, struct segment_def **out, size_t *n);
/* Removes a segment; its computed members leave it (`segment_left`). */
enum promo_err store_segment_delete(struct store *st, const char *name, int64_t now);

/* A client event (POST /v1/events). The store keeps facts current:
 * any event → last_seen; signup → signup_at (the first); purchase with
 * order_id and amount → an order. The customer is created when unknown. */
struct ingest_event {
    const char *id, *type, *customer_id;
    const char *properties_json; /* object text */
    const char *request_hash;    /* of the body, for the id's replays */
    const char *answer_json;     /* what the caller answers; kept for replays */
    const char *order_id;        /* purchase */
    int64_t amount;              /* purchase; -1: none */
    int64_t occurred_at;
};
/* Stores and logs the event in one transaction. A replay of the same id
 * with the same request_hash: PROMO_OK, *replay true and *answer the
 * first answer; with another hash: PROMO_CONFLICT. */
enum promo_err store_event_ingest(struct store *st, struct arena *a, const struct ingest_event *e, int64_t now,
                                  bool *replay, const char **answer);

/* ---- the scheduler's tasks (sqlite_tasks.c) ------------------------------ */
/* A persistent unit of scheduled work. `key` is unique: scheduling the same
 * key twice is one task. A kind's effect runs in the writer's transaction
 * that also marks the task done, so it runs at most once, and a task not
 * done survives restarts. Kinds: campaign_start, campaign_end,
 * segments_refresh, codes_expire (see sqlite_tasks.c's table; part C adds its
 * own). */
struct task {
    const char *id, *kind, *key, *payload, *state, *last_error;
    int64_t due_at, attempts, created_at, done_at, seq;
};
/* Inserts a pending task unless one with the key exists. */
enum promo_err store_task_schedule(struct store *st, const char *kind, const char *key, int64_t due_at,
                                   const char *payload_json, int64_t now);
/* Pending tasks with due_at <= now, earliest first, at most `limit`. */
enum promo_err store_tasks_due(struct store *st, struct arena *a, int64_t now, int limit, struct task **out,
                               size_t *n);
/* Claims, runs and completes one task in one transaction: PROMO_OK when it
 * ran (or was already done: nothing happens twice); an error leaves it
 * pending for store_task_fail. */
enum promo_err store_task_run(struct store *st, const char *id, int64_t now);
/* Counts a failed attempt: retried later (backoff), failed after 5. */
enum promo_err store_task_fail(struct store *st, const char *id, const char *error, int64_t now);
/* Earliest due_at of a pending task, or 0 when none. */
enum promo_err store_task_next_due(struct store *st, int64_t *due_at);
/* Tasks by seq after `after_seq`, filtered by kind/state (NULL: any). */
enum promo_err store_task_list(struct store *st, struct arena *a, const char *kind, const char *state,
                               int64_t after_seq, int limit, struct task **out, size_t *n, int64_t *next_seq);


/* ---- rules and expiry reminders (sqlite_rules.c) ------------------------- */
/* A rule (core/rule.h): the body as checked JSON text; name and enabled
 * are copies of its members. */
struct rule_rec {
    const char *id, *name, *body_json;
    bool enabled;
    int64_t created_at, updated_at;
};
/* Creates (create) or replaces a live rule (PROMO_NOT_FOUND when none),
 * with `rule_created` / `rule_updated`. The caller checked the body. */
enum promo_err store_rule_put(struct store *st, const struct rule_rec *r, bool create, int64_t now);
enum promo_err store_rule_get(struct store *st, struct arena *a, const char *id, struct rule_rec *out);
/* Oldest first after the id `cursor` (NULL: from the start). */
enum promo_err store_rule_list(struct store *st, struct arena *a, const char *cursor, int limit,
                               struct rule_rec **out, size_t *n, const char **next);
/* Deletes it (`rule_deleted`); its pending steps are skipped when due. */
enum promo_err store_rule_delete(struct store *st, const char *id, int64_t now);

/* A campaign's expiry reminders: offsets_json a JSON array of days before
 * the expiry ([3,1,0]); webhook_id only for the webhook channel. */
struct reminder_rec {
    const char *campaign_id, *offsets_json, *template_id, *channel, *webhook_id;
    int64_t updated_at;
};
/* Sets them (PROMO_NOT_FOUND for an unknown campaign); codes issued from
 * then on get their reminders scheduled. */
enum promo_err store_reminders_put(struct store *st, const struct reminder_rec *r, int64_t now);
enum promo_err store_reminders_get(struct store *st, struct arena *a, const char *campaign_id,
                                   struct reminder_rec *out);
enum promo_err store_reminders_delete(struct store *st, const char *campaign_id, int64_t now);

/* ---- what the backend has (store.c) ---------------------------------------- */
/* Feature families a backend may not have yet: the PostgreSQL store is
 * ported to main's later features family by family (pg_pending.c). The
 * store functions of a missing family answer PROMO_NOT_ON_STORE; the
 * scheduler and delivery threads are not started without theirs. */
enum store_feature {
    STORE_F_CUSTOMERS, /* customers, client events, segments, customer facts */
    STORE_F_TASKS,     /* the scheduler's tasks and the test clock's effects */
    STORE_F_OUTBOX,    /* templates, webhooks, messages, delivery */
    STORE_F_RULES,     /* rules and expiry reminders */
};
bool store_supports(struct store *st, enum store_feature f);
/* "SQLite" or "PostgreSQL", for log lines. */
const char *store_backend_name(struct store *st);

#endif
