/* api.h — promo's resources: one handler per route, turning a request into
 * store calls and an answer. Handlers never touch the network: http/ reads
 * the request into a struct api_req and writes the struct api_resp back.
 *
 * Ownership: everything in api_req is borrowed from http/ for the call.
 * Handlers allocate from req->a (the request's arena) or hand http/ heap
 * objects in the response (resp->json: a jansson reference http/ releases;
 * resp->text: malloc'd, http/ frees; resp->stream_cls: freed by
 * resp->stream_free). */
#ifndef PROMO_API_H
#define PROMO_API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/core.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/config.h"

/* The server's state, created once in main and passed to every handler:
 * no other global mutable state exists. */
struct api_ctx {
    struct store *st;
    struct api_jobs *jobs; /* background jobs (api/jobs.c) */
    int64_t started_at;
    /* counters for /metrics */
    atomic_llong requests[6]; /* by status class: index status / 100 */
    atomic_llong validations, validations_ok, redemptions, redemption_refusals, reservations;
    atomic_llong codes_generated;
    /* abuse protection (api/guard.c): the configuration, borrowed from main
     * for the server's life (NULL: defaults), and the keyed limiter state */
    const struct config *cfg;
    struct api_guard *guard;
    atomic_llong rate_limited, bruteforce_blocks;
    /* customers, segments, scheduler (issue 3) */
    struct scheduler *sched; /* jobs/scheduler.h; NULL when not running */
    bool test_clock;         /* --test-clock: POST /v1/test/clock may move time */
};

struct api_req {
    struct api_ctx *ctx;
    struct arena *a;
    const char *method;
    const char *path;
    const char *params[3]; /* route parameters, URL-decoded */
    const char *body;      /* NUL-terminated; body_len bytes may hold NULs */
    size_t body_len;
    const char *content_type; /* may be NULL */
    enum promo_lang lang;
    const char *idem_key; /* Idempotency-Key or NULL */
    /* Query string lookup (NULL when absent). */
    const char *(*query)(void *qctx, const char *name);
    void *qctx;
    struct token auth; /* the caller's token (valid after http/ authenticated it) */
    int64_t now;
    const char *client_ip; /* the client's address as text (see [proxy] in docs/config.md) */
    const char *refusal;   /* why the call was refused (401/403/429), for the audit log; static */
    const char *authorization; /* the Authorization header or NULL (the token endpoint's Basic) */
};

typedef ssize_t (*api_stream_fn)(void *cls, char *buf, size_t max);

struct api_resp {
    int status;
    json_t *json;
    char *text; /* raw body instead of json, with content_type */
    size_t text_len;
    const char *content_type;
    api_stream_fn stream; /* streamed body instead (returns -1 at the end) */
    void *stream_cls;
    void (*stream_free)(void *cls);
    const char *header_name, *header_value; /* one extra header, static strings */
    bool cors; /* set by http/: a browser-callable route, answered with CORS headers */
};

typedef void (*api_handler)(struct api_req *r, struct api_resp *w);

/* ---- answers ---------------------------------------------------------- */
/* Error answer in API.md's shape; the message names the problem (printf). */
void api_error(struct api_resp *w, enum promo_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Error answer with the table's message in the caller's language. */
void api_error_reason(struct api_resp *w, enum promo_err e, enum promo_lang lang);
/* Maps a store failure (not found, conflict, internal) to an answer. */
void api_store_error(struct api_resp *w, enum promo_err e, const char *what);
void api_json(struct api_resp *w, int status, json_t *body); /* steals body */
/* Answers status with the JSON text yajl's generator g holds and a newline
 * (what api_json would send for the same value), or a 500 when gen_ok is
 * false or memory runs out. Frees g. For hot answers written directly. */
struct yajl_gen_t;
void api_gen_answer(struct api_resp *w, int status, struct yajl_gen_t *g, bool gen_ok);
/* The JSON text g holds and a newline, malloc'd (*len bytes without the
 * terminating NUL), or NULL when memory runs out. g stays the caller's. */
char *api_gen_text(struct yajl_gen_t *g, size_t *len);
/* yajl_gen_integer without its sprintf (~1,500 instructions a call). Returns
 * yajl's status (a yajl_gen_status). */
int api_gen_int(struct yajl_gen_t *g, long long v);
/* From now on request bodies parse into a per-thread region (jsonbody.c
 * says why and the rule it relies on). The server calls it once at start,
 * before any JSON is made; without it everything is plain malloc. */
void jin_use_region(void);

/* ---- authentication --------------------------------------------------- */
/* Checks a bearer secret; fills r->auth. PROMO_OK or PROMO_UNAUTHORIZED. */
enum promo_err api_authenticate(struct api_ctx *ctx, struct arena *a, const char *secret,
                                int64_t now, struct token *out);
/* Creates the first admin token when the store has none (PROMO_BOOTSTRAP_TOKEN
 * or a new secret printed once on stderr). 0 or -1. */
int api_bootstrap(struct api_ctx *ctx);

/* ---- abuse protection (api/guard.c) ----------------------------------- */
/* Rate limits (token buckets) by client IP, token, storefront token + IP
 * and customer, and brute-force blocks by IP, token and customer, in
 * fixed-size tables: O(1) per check, bounded memory. Each check returns
 * true to go on, or false with a 429 `rate_limited` and its Retry-After in
 * w and r->refusal set. None touches the store. */
struct api_guard *api_guard_new(const struct config *cfg); /* NULL: out of memory */
void api_guard_free(struct api_guard *g);
/* Every request, first: the client IP's rate limit, and on validate,
 * redeem and reserve its brute-force block. */
bool api_guard_ip(struct api_req *r, struct api_resp *w);
/* After authentication: the token's rate limit (storefront tokens also per
 * client IP) and on validate, redeem and reserve its brute-force block. */
bool api_guard_token(struct api_req *r, struct api_resp *w);
/* Validate, redeem, reserve, once the body is read: the customer's rate
 * limit and brute-force block (customer_id NULL: nothing to check). */
bool api_guard_customer(struct api_req *r, const char *customer_id, struct api_resp *w);
/* A validate, redeem or reserve refused as `reason`: code_not_found and
 * invalid_format count as failures of the IP, the token and the customer;
 * reaching the threshold blocks the key, logs `abuse_detected` once and
 * audits it. Other reasons are not guesses and count nothing. */
void api_guard_failure(struct api_req *r, const char *customer_id, enum promo_err reason);
/* Prometheus lines for /metrics (tables' occupancy, 429s, blocks). */
void api_guard_metrics(struct api_ctx *ctx, FILE *f);

/* ---- the audit log (api/audit.c) --------------------------------------- */
/* Records a call once its answer is queued: every POST/PUT/PATCH/DELETE on
 * /v1 and /oauth, and every 401, 403 and 429, with r->refusal as the
 * reason. Asynchronous (store_audit_append): never slows the answer. */
void api_audit_record(struct api_ctx *ctx, const struct api_req *r, int status);

/* ---- jobs -------------------------------------------------------------- */
int api_jobs_start(struct api_ctx *ctx);
/* Wakes the job runner: a new job was stored. */
void api_jobs_kick(struct api_ctx *ctx);
void api_jobs_stop(struct api_ctx *ctx);

/* ---- handlers (one file per resource) --------------------------------- */
void api_health(struct api_req *r, struct api_resp *w);
void api_metrics(struct api_req *r, struct api_resp *w);

void api_campaign_create(struct api_req *r, struct api_resp *w);
void api_campaign_list(struct api_req *r, struct api_resp *w);
void api_campaign_get(struct api_req *r, struct api_resp *w);
void api_campaign_patch(struct api_req *r, struct api_resp *w);
void api_campaign_pause(struct api_req *r, struct api_resp *w);
void api_campaign_resume(struct api_req *r, struct api_resp *w);
void api_campaign_end(struct api_req *r, struct api_resp *w);
void api_campaign_stats(struct api_req *r, struct api_resp *w);

void api_codes_create(struct api_req *r, struct api_resp *w);
void api_codes_import(struct api_req *r, struct api_resp *w);
void api_codes_list(struct api_req *r, struct api_resp *w);
void api_code_get(struct api_req *r, struct api_resp *w);
void api_code_disable(struct api_req *r, struct api_resp *w);
void api_code_issue(struct api_req *r, struct api_resp *w);
void api_job_get(struct api_req *r, struct api_resp *w);
void api_events_list(struct api_req *r, struct api_resp *w);
void api_audit_list(struct api_req *r, struct api_resp *w);

void api_validate(struct api_req *r, struct api_resp *w);
void api_redeem(struct api_req *r, struct api_resp *w);
void api_redemption_get(struct api_req *r, struct api_resp *w);
void api_redemption_list(struct api_req *r, struct api_resp *w);
void api_redemption_rollback(struct api_req *r, struct api_resp *w);
void api_reserve(struct api_req *r, struct api_resp *w);
void api_reservation_get(struct api_req *r, struct api_resp *w);
void api_reservation_confirm(struct api_req *r, struct api_resp *w);
void api_reservation_release(struct api_req *r, struct api_resp *w);

/* tokens.c (admin only) */
void api_token_create(struct api_req *r, struct api_resp *w);
void api_token_list(struct api_req *r, struct api_resp *w);
void api_token_get(struct api_req *r, struct api_resp *w);
void api_token_revoke(struct api_req *r, struct api_resp *w);
/* oauth.c: clients (admin only) and the client-credentials token endpoint
 * (public: the client authenticates itself; RFC 6749's error shape). */
void api_oauth_client_create(struct api_req *r, struct api_resp *w);
void api_oauth_client_list(struct api_req *r, struct api_resp *w);
void api_oauth_client_get(struct api_req *r, struct api_resp *w);
void api_oauth_client_delete(struct api_req *r, struct api_resp *w);
void api_oauth_token(struct api_req *r, struct api_resp *w);

/* templates.c, webhooks.c, messages.c: templates, subscriptions, the outbox */
void api_template_create(struct api_req *r, struct api_resp *w);
void api_template_list(struct api_req *r, struct api_resp *w);
void api_template_get(struct api_req *r, struct api_resp *w);
void api_template_put(struct api_req *r, struct api_resp *w);
void api_template_delete(struct api_req *r, struct api_resp *w);
void api_template_preview(struct api_req *r, struct api_resp *w);
void api_webhook_create(struct api_req *r, struct api_resp *w);
void api_webhook_list(struct api_req *r, struct api_resp *w);
void api_webhook_get(struct api_req *r, struct api_resp *w);
void api_webhook_delete(struct api_req *r, struct api_resp *w);
void api_message_send(struct api_req *r, struct api_resp *w);
void api_message_list(struct api_req *r, struct api_resp *w);
void api_message_get(struct api_req *r, struct api_resp *w);
void api_message_attempts(struct api_req *r, struct api_resp *w);
void api_message_retry(struct api_req *r, struct api_resp *w);
/* Prometheus lines for /metrics: outbox messages by state. */
void api_outbox_metrics(struct api_ctx *ctx, FILE *f);
/* customers.c: customers, client events, segments, tasks, test clock */
void api_customer_put(struct api_req *r, struct api_resp *w);
void api_customer_get(struct api_req *r, struct api_resp *w);
void api_customer_list(struct api_req *r, struct api_resp *w);
void api_event_ingest(struct api_req *r, struct api_resp *w);
void api_segment_put(struct api_req *r, struct api_resp *w);
void api_segment_get(struct api_req *r, struct api_resp *w);
void api_segment_list(struct api_req *r, struct api_resp *w);
void api_segment_delete(struct api_req *r, struct api_resp *w);
void api_task_list(struct api_req *r, struct api_resp *w);
void api_test_clock(struct api_req *r, struct api_resp *w);

/* rules.c: automation rules and campaigns' expiry reminders (issue 3, part C) */
void api_rule_create(struct api_req *r, struct api_resp *w);
void api_rule_list(struct api_req *r, struct api_resp *w);
void api_rule_get(struct api_req *r, struct api_resp *w);
void api_rule_put(struct api_req *r, struct api_resp *w);
void api_rule_delete(struct api_req *r, struct api_resp *w);
void api_reminders_put(struct api_req *r, struct api_resp *w);
void api_reminders_get(struct api_req *r, struct api_resp *w);
void api_reminders_delete(struct api_req *r, struct api_resp *w);

#endif
