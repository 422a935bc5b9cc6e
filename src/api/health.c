/* health.c — GET /healthz and GET /metrics (Prometheus text format). */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "util/timeutil.h"

void api_health(struct api_req *r, struct api_resp *w)
{
    enum promo_err rc = store_ping(r->ctx->st);
    if (rc != PROMO_OK)
        return api_error(w, PROMO_UNAVAILABLE, "the store does not answer");
    api_json(w, 200, json_pack("{s:s, s:I}", "status", "ok", "uptime_seconds",
                               (json_int_t)(r->now - r->ctx->started_at)));
}

void api_metrics(struct api_req *r, struct api_resp *w)
{
    struct api_ctx *c = r->ctx;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return api_error(w, PROMO_INTERNAL, "out of memory");
    fprintf(f, "# HELP promo_http_requests_total HTTP requests answered, by status class.\n"
               "# TYPE promo_http_requests_total counter\n");
    for (int i = 1; i < 6; i++)
        fprintf(f, "promo_http_requests_total{class=\"%dxx\"} %lld\n", i, (long long)atomic_load(&c->requests[i]));
#define COUNTER(name, help, field)                                                                 \
    fprintf(f, "# HELP promo_" name " " help "\n# TYPE promo_" name " counter\npromo_" name " %lld\n", \
            (long long)atomic_load(&c->field))
    COUNTER("validations_total", "Validation requests.", validations);
    COUNTER("validations_ok_total", "Validations that found the code usable.", validations_ok);
    COUNTER("redemptions_total", "Redemptions made (not counting replays).", redemptions);
    COUNTER("redemption_refusals_total", "Redemptions and reservations refused.", redemption_refusals);
    COUNTER("reservations_total", "Reservations answered.", reservations);
    COUNTER("codes_generated_total", "Codes generated.", codes_generated);
#undef COUNTER
    uint64_t batches, ops, busy, commit;
    store_writer_stats(c->st, &batches, &ops, &busy, &commit);
    fprintf(f, "# HELP promo_store_commits_total Write transactions committed by the group-commit writer.\n"
               "# TYPE promo_store_commits_total counter\npromo_store_commits_total %llu\n"
               "# HELP promo_store_writes_total Write operations run inside those commits.\n"
               "# TYPE promo_store_writes_total counter\npromo_store_writes_total %llu\n",
            (unsigned long long)batches, (unsigned long long)ops);
    fprintf(f, "# HELP promo_store_writer_busy_seconds_total Time the writer spent in batches.\n"
               "# TYPE promo_store_writer_busy_seconds_total counter\npromo_store_writer_busy_seconds_total %.6f\n"
               "# HELP promo_store_commit_seconds_total Of that, time in COMMIT (fsync).\n"
               "# TYPE promo_store_commit_seconds_total counter\npromo_store_commit_seconds_total %.6f\n",
            busy / 1e9, commit / 1e9);
    uint64_t hits, misses;
    bool on;
    store_token_cache_stats(c->st, &hits, &misses, &on);
    fprintf(f, "# HELP promo_token_cache_hits_total Token lookups answered from memory.\n"
               "# TYPE promo_token_cache_hits_total counter\npromo_token_cache_hits_total %llu\n"
               "# HELP promo_token_cache_misses_total Token lookups that read the store.\n"
               "# TYPE promo_token_cache_misses_total counter\npromo_token_cache_misses_total %llu\n"
               "# HELP promo_token_cache_on 1 while found tokens are cached (PostgreSQL: the listener is listening).\n"
               "# TYPE promo_token_cache_on gauge\npromo_token_cache_on %d\n",
            (unsigned long long)hits, (unsigned long long)misses, on ? 1 : 0);
    fprintf(f, "# HELP promo_uptime_seconds Seconds since the server started.\n# TYPE promo_uptime_seconds gauge\n"
               "promo_uptime_seconds %lld\n", (long long)(time_now() - c->started_at));
    api_guard_metrics(c, f);
    api_outbox_metrics(c, f);
    fclose(f);
    w->status = 200;
    w->text = buf;
    w->text_len = len;
    w->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
