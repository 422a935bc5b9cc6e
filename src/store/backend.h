/* backend.h — how store.c hands each store_* call to the backend that
 * store_open chose. STORE_FNS lists every store.h function except
 * store_open/close/ping as X(name, (params after st), (argument names))
 * for the ones returning enum promo_err, V(...) for the void ones. Each
 * backend defines <prefix>_<name>(struct <prefix>_store *st, params...):
 * sqlite_* in src/store/sqlite_*.c, pg_* in src/store/pg_*.c. A new store
 * function is one line here plus its two definitions. Private to src/store. */
#ifndef PROMO_STORE_BACKEND_H
#define PROMO_STORE_BACKEND_H

#include "store/store.h"

#define STORE_STRIP(...) __VA_ARGS__

#define STORE_FNS(X, V) \
    X(token_count, (int64_t *n), (n)) \
    X(token_count_admins, (int64_t now, int64_t *n), (now, n)) \
    X(token_create, (const struct token *t, const char *secret_hash, const char *actor), (t, secret_hash, actor)) \
    X(token_find, (struct arena *a, const char *secret_hash, struct token *out), (a, secret_hash, out)) \
    X(token_get, (struct arena *a, const char *id, struct token *out), (a, id, out)) \
    X(token_list, (struct arena *a, const char *kind, const char *cursor, int limit, struct token **out, size_t *n, const char **next), (a, kind, cursor, limit, out, n, next)) \
    X(token_revoke, (struct arena *a, const char *id, int64_t now, const char *actor, struct token *out), (a, id, now, actor, out)) \
    V(token_touch, (const char *id, int64_t now), (id, now)) \
    V(token_cache_stats, (uint64_t *hits, uint64_t *misses, bool *listening), (hits, misses, listening)) \
    X(oauth_client_create, (const struct oauth_client *c, const char *secret_hash, const char *actor), (c, secret_hash, actor)) \
    X(oauth_client_get, (struct arena *a, const char *id, struct oauth_client *out, char *secret_hash), (a, id, out, secret_hash)) \
    X(oauth_client_list, (struct arena *a, const char *cursor, int limit, struct oauth_client **out, size_t *n, const char **next), (a, cursor, limit, out, n, next)) \
    X(oauth_client_delete, (struct arena *a, const char *id, int64_t now, const char *actor, struct oauth_client *out, int64_t *revoked), (a, id, now, actor, out, revoked)) \
    X(oauth_token_issue, (const struct token *t, const char *secret_hash), (t, secret_hash)) \
    X(campaign_create, (const struct campaign *c), (c)) \
    X(campaign_get, (struct arena *a, const char *id, struct campaign *out, struct campaign_counts *counts), (a, id, out, counts)) \
    X(campaign_list, (struct arena *a, const char *cursor, int limit, struct campaign **out, size_t *n, const char **next), (a, cursor, limit, out, n, next)) \
    X(campaign_modify, (struct arena *a, const char *id, store_campaign_fn fn, void *ctx, const char *event_type, int64_t now, struct campaign *out, const char **msg), (a, id, fn, ctx, event_type, now, out, msg)) \
    X(codes_generate, (const char *campaign_id, const struct codegen *g, int64_t count, int64_t max_uses, const struct code_batch *ready, const char *job_id, int64_t now, int64_t *made), (campaign_id, g, count, max_uses, ready, job_id, now, made)) \
    X(codes_reserve, (const char *campaign_id, const struct codegen *g, int64_t count), (campaign_id, g, count)) \
    X(code_add, (struct arena *a, const char *campaign_id, const struct code *k, int64_t now, struct code_info *out), (a, campaign_id, k, now, out)) \
    X(codes_import, (struct arena *a, const char *campaign_id, struct import_row *rows, size_t n, int64_t now, int64_t *imported), (a, campaign_id, rows, n, now, imported)) \
    X(code_get, (struct arena *a, const char *key, int64_t now, struct code_info *out), (a, key, now, out)) \
    X(code_disable, (struct arena *a, const char *key, int64_t now, struct code_info *out), (a, key, now, out)) \
    X(codes_list, (struct arena *a, const char *campaign_id, const char *state, int64_t after_seq, int limit, int64_t now, struct code_info **out, size_t *n, int64_t *next_seq), (a, campaign_id, state, after_seq, limit, now, out, n, next_seq)) \
    X(code_issue, (struct arena *a, const char *campaign_id, const char *customer_id, const char *channel, const struct codegen *g, int64_t now, struct code_info *out), (a, campaign_id, customer_id, channel, g, now, out)) \
    X(validate, (struct arena *a, const struct use_req *r, struct use_result *res), (a, r, res)) \
    X(redeem, (struct arena *a, const struct use_req *r, struct use_result *res), (a, r, res)) \
    X(reserve, (struct arena *a, const struct use_req *r, struct use_result *res), (a, r, res)) \
    X(reservation_confirm, (struct arena *a, const char *id, int64_t now, struct redemption *out), (a, id, now, out)) \
    X(reservation_release, (struct arena *a, const char *id, int64_t now, struct reservation *out), (a, id, now, out)) \
    X(reservation_get, (struct arena *a, const char *id, struct reservation *out), (a, id, out)) \
    X(redemption_rollback, (struct arena *a, const char *id, const char *reason, int64_t now, struct redemption *out), (a, id, reason, now, out)) \
    X(redemption_get, (struct arena *a, const char *id, struct redemption *out), (a, id, out)) \
    X(redemption_list, (struct arena *a, const char *campaign_id, const char *customer_id, const char *cursor, int limit, struct redemption **out, size_t *n, const char **next), (a, campaign_id, customer_id, cursor, limit, out, n, next)) \
    X(campaign_stats, (struct arena *a, const char *id, struct campaign_stats *out), (a, id, out)) \
    X(job_create, (const struct job *j), (j)) \
    X(job_get, (struct arena *a, const char *id, struct job *out), (a, id, out)) \
    X(job_update, (const char *id, int64_t done, const char *status, const char *error, int64_t now), (id, done, status, error, now)) \
    X(job_list_running, (struct arena *a, struct job **out, size_t *n), (a, out, n)) \
    X(events_list, (struct arena *a, const char *campaign_id, const char *type, int64_t after_seq, int limit, struct event **out, size_t *n, int64_t *next_seq), (a, campaign_id, type, after_seq, limit, out, n, next_seq)) \
    V(abuse_log, (const char *kind, const char *key, int64_t at, const char *data_json), (kind, key, at, data_json)) \
    V(audit_append, (const struct audit_entry *e), (e)) \
    X(audit_list, (struct arena *a, const struct audit_filter *f, int64_t after_seq, int limit, struct audit_entry **out, size_t *n, int64_t *next_seq), (a, f, after_seq, limit, out, n, next_seq)) \
    V(audit_stats, (uint64_t *queued, uint64_t *dropped), (queued, dropped)) \
    X(sweep, (int64_t now), (now)) \
    V(writer_stats, (uint64_t *batches, uint64_t *ops, uint64_t *busy_ns, uint64_t *commit_ns), (batches, ops, busy_ns, commit_ns)) \
    X(template_put, (const struct template_rec *t, bool create, const char *actor), (t, create, actor)) \
    X(template_get, (struct arena *a, const char *id, struct template_rec *out), (a, id, out)) \
    X(template_list, (struct arena *a, const char *cursor, int limit, struct template_rec **out, size_t *n, const char **next), (a, cursor, limit, out, n, next)) \
    X(template_delete, (const char *id, int64_t now, const char *actor), (id, now, actor)) \
    X(webhook_create, (const struct webhook *w, const char *actor), (w, actor)) \
    X(webhook_get, (struct arena *a, const char *id, struct webhook *out), (a, id, out)) \
    X(webhook_list, (struct arena *a, const char *cursor, int limit, struct webhook **out, size_t *n, const char **next), (a, cursor, limit, out, n, next)) \
    X(webhook_delete, (const char *id, int64_t now, const char *actor), (id, now, actor)) \
    X(message_enqueue, (const struct message *m, int64_t now_ms), (m, now_ms)) \
    X(message_get, (struct arena *a, const char *id, struct message *out), (a, id, out)) \
    X(message_list, (struct arena *a, const char *state, const char *channel, const char *cursor, int limit, struct message **out, size_t *n, const char **next), (a, state, channel, cursor, limit, out, n, next)) \
    X(message_attempts, (struct arena *a, const char *id, struct message_attempt **out, size_t *n), (a, id, out, n)) \
    X(message_retry, (struct arena *a, const char *id, int64_t now_ms, const char *actor, struct message *out), (a, id, now_ms, actor, out)) \
    X(outbox_next_due, (int64_t *due), (due)) \
    X(outbox_claim, (struct arena *a, int64_t now_ms, int64_t lease_ms, struct message *out), (a, now_ms, lease_ms, out)) \
    X(outbox_counts, (int64_t *queued, int64_t *sending, int64_t *dead), (queued, sending, dead)) \
    X(outbox_record, (const char *id, const struct message_attempt *at, bool dead, int64_t next_attempt_at), (id, at, dead, next_attempt_at)) \
    X(customer_put, (struct arena *a, const struct customer *in, int64_t now, struct customer *out, bool *created), (a, in, now, out, created)) \
    X(customer_get, (struct arena *a, const char *id, int64_t now, struct customer *out), (a, id, now, out)) \
    X(customer_list, (struct arena *a, const char *segment, int64_t after_seq, int limit, int64_t now, struct customer **out, size_t *n, int64_t *next_seq), (a, segment, after_seq, limit, now, out, n, next_seq)) \
    X(segment_put, (const struct segment_def *d, int64_t now, bool *created), (d, now, created)) \
    X(segment_get, (struct arena *a, const char *name, struct segment_def *out), (a, name, out)) \
    X(segment_list, (struct arena *a, struct segment_def **out, size_t *n), (a, out, n)) \
    X(segment_delete, (const char *name, int64_t now), (name, now)) \
    X(event_ingest, (struct arena *a, const struct ingest_event *e, int64_t now, bool *replay, const char **answer), (a, e, now, replay, answer)) \
    X(task_schedule, (const char *kind, const char *key, int64_t due_at, const char *payload_json, int64_t now), (kind, key, due_at, payload_json, now)) \
    X(tasks_due, (struct arena *a, int64_t now, int limit, struct task **out, size_t *n), (a, now, limit, out, n)) \
    X(task_run, (const char *id, int64_t now), (id, now)) \
    X(task_fail, (const char *id, const char *error, int64_t now), (id, error, now)) \
    X(task_next_due, (int64_t *due_at), (due_at)) \
    X(task_list, (struct arena *a, const char *kind, const char *state, int64_t after_seq, int limit, struct task **out, size_t *n, int64_t *next_seq), (a, kind, state, after_seq, limit, out, n, next_seq)) \
    X(rule_put, (const struct rule_rec *r, bool create, int64_t now), (r, create, now)) \
    X(rule_get, (struct arena *a, const char *id, struct rule_rec *out), (a, id, out)) \
    X(rule_list, (struct arena *a, const char *cursor, int limit, struct rule_rec **out, size_t *n, const char **next), (a, cursor, limit, out, n, next)) \
    X(rule_delete, (const char *id, int64_t now), (id, now)) \
    X(reminders_put, (const struct reminder_rec *r, int64_t now), (r, now)) \
    X(reminders_get, (struct arena *a, const char *campaign_id, struct reminder_rec *out), (a, campaign_id, out)) \
    X(reminders_delete, (const char *campaign_id, int64_t now), (campaign_id, now))

struct sqlite_store;
struct pg_store;

#define STORE_PROTO_X(prefix, name, params, args) \
    enum promo_err prefix##_##name(struct prefix##_store *st, STORE_STRIP params);
#define STORE_PROTO_V(prefix, name, params, args) \
    void prefix##_##name(struct prefix##_store *st, STORE_STRIP params);

#define STORE_SQLITE_X(name, params, args) STORE_PROTO_X(sqlite, name, params, args)
#define STORE_SQLITE_V(name, params, args) STORE_PROTO_V(sqlite, name, params, args)
STORE_FNS(STORE_SQLITE_X, STORE_SQLITE_V)
#define STORE_PG_X(name, params, args) STORE_PROTO_X(pg, name, params, args)
#define STORE_PG_V(name, params, args) STORE_PROTO_V(pg, name, params, args)
STORE_FNS(STORE_PG_X, STORE_PG_V)

/* Opening, closing and the health check of each backend. */
enum promo_err sqlite_open(const char *url, struct sqlite_store **out, char *err, size_t errlen);
void sqlite_close(struct sqlite_store *st);
enum promo_err sqlite_ping(struct sqlite_store *st);
enum promo_err pg_open(const char *url, struct pg_store **out, char *err, size_t errlen);
void pg_close(struct pg_store *st);
enum promo_err pg_ping(struct pg_store *st);
/* Whether the PostgreSQL store has a feature family yet (pg_pending.c). */
bool pg_supports(struct pg_store *st, enum store_feature f);

#endif
