/* jobs.c — the background job runner: large code generations, in chunks of
 * one transaction each, resumed after a restart from the stored progress. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define JOB_CHUNK 50000
/* Codes are made a plan at a time, sorted by key, and stored in chunks in
 * that order: each chunk then fills the next stretch of the unique-key
 * index instead of landing all over it, and 1,000,000 codes walk the index
 * about once rather than twenty times (bench/: 13 s became ~8 s). A plan
 * holds at most this many codes and bytes. */
#define JOB_PLAN_MAX 1000000
#define JOB_PLAN_BYTES ((size_t)64 << 20)

struct api_jobs {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int stop, kicked;
};

/* Stores a plan chunk by chunk, each chunk one transaction that also
 * moves the job's progress. PROMO_UNAVAILABLE when the server is stopping:
 * the job resumes at the next start with a fresh plan for what is left. */
static enum promo_err store_plan(struct api_ctx *ctx, const struct job *j, const struct codegen *g,
                                 const struct code_batch *plan, json_int_t max_uses, int64_t *done)
{
    for (size_t off = 0; off < plan->n;) {
        pthread_mutex_lock(&ctx->jobs->lock);
        int stop = ctx->jobs->stop;
        pthread_mutex_unlock(&ctx->jobs->lock);
        if (stop)
            return PROMO_UNAVAILABLE;
        struct code_batch chunk = code_batch_slice(plan, off, JOB_CHUNK);
        int64_t made = 0;
        enum promo_err rc = store_codes_generate(ctx->st, j->campaign_id, g, (int64_t)chunk.n,
                                                 max_uses ? max_uses : PROMO_UNLIMITED, &chunk, j->id, time_now(),
                                                 &made);
        if (rc != PROMO_OK)
            return rc;
        atomic_fetch_add(&ctx->codes_generated, made);
        *done += made;
        off += chunk.n;
    }
    return PROMO_OK;
}

static enum promo_err run_generate(struct api_ctx *ctx, const struct job *j)
{
    json_t *p = json_loads(j->params ? j->params : "{}", 0, NULL);
    struct codegen g;
    const char *pattern = json_string_value(json_object_get(p, "pattern"));
    const char *charset = json_string_value(json_object_get(p, "charset"));
    json_int_t max_uses = json_integer_value(json_object_get(p, "max_uses"));
    const char *f, *why;
    enum promo_err rc = pattern && charset ? codefmt_prepare(&g, pattern, 0, NULL, NULL, charset, &f, &why)
                                           : PROMO_BAD_REQUEST;
    json_decref(p);
    if (rc != PROMO_OK)
        return rc;
    int64_t done = j->done;
    size_t per_code = sizeof(struct code_pair) + 2 * (strlen(g.pattern) + 1);
    int64_t plan_max = (int64_t)(JOB_PLAN_BYTES / per_code);
    if (plan_max > JOB_PLAN_MAX)
        plan_max = JOB_PLAN_MAX;
    if (plan_max < JOB_CHUNK)
        plan_max = JOB_CHUNK;
    while (done < j->total) {
        int64_t want = j->total - done < plan_max ? j->total - done : plan_max;
        struct code_batch plan;
        if (code_batch_make(&g, util_rand_uniform, (size_t)want, &plan) != 0)
            return PROMO_INTERNAL;
        rc = store_plan(ctx, j, &g, &plan, max_uses, &done);
        code_batch_free(&plan);
        if (rc != PROMO_OK)
            return rc;
    }
    return PROMO_OK;
}

static void run_job(struct api_ctx *ctx, const struct job *j)
{
    enum promo_err rc = strcmp(j->type, "generate_codes") == 0 ? run_generate(ctx, j) : PROMO_BAD_REQUEST;
    if (rc == PROMO_UNAVAILABLE)
        return;
    struct arena a = {0};
    struct job now;
    int64_t done = store_job_get(ctx->st, &a, j->id, &now) == PROMO_OK ? now.done : j->done;
    arena_free(&a);
    if (rc == PROMO_OK)
        store_job_update(ctx->st, j->id, done, "done", NULL, time_now());
    else {
        log_warn("job %s failed: %s", j->id, promo_err_code(rc));
        store_job_update(ctx->st, j->id, done, "failed", promo_err_message(rc, PROMO_LANG_EN), time_now());
    }
}

static void *jobs_main(void *arg)
{
    struct api_ctx *ctx = arg;
    struct api_jobs *js = ctx->jobs;
    for (;;) {
        struct arena a = {0};
        struct job *v = NULL;
        size_t n = 0;
        if (store_job_list_running(ctx->st, &a, &v, &n) == PROMO_OK)
            for (size_t i = 0; i < n; i++)
                run_job(ctx, &v[i]);
        arena_free(&a);
        pthread_mutex_lock(&js->lock);
        while (!js->stop && !js->kicked)
            pthread_cond_wait(&js->cv, &js->lock);
        js->kicked = 0;
        int stop = js->stop;
        pthread_mutex_unlock(&js->lock);
        if (stop)
            return NULL;
    }
}

int api_jobs_start(struct api_ctx *ctx)
{
    struct api_jobs *js = calloc(1, sizeof(*js));
    if (!js)
        return -1;
    pthread_mutex_init(&js->lock, NULL);
    pthread_cond_init(&js->cv, NULL);
    ctx->jobs = js;
    if (pthread_create(&js->thread, NULL, jobs_main, ctx) != 0) {
        free(js);
        ctx->jobs = NULL;
        return -1;
    }
    return 0;
}

void api_jobs_kick(struct api_ctx *ctx)
{
    struct api_jobs *js = ctx->jobs;
    pthread_mutex_lock(&js->lock);
    js->kicked = 1;
    pthread_cond_signal(&js->cv);
    pthread_mutex_unlock(&js->lock);
}

void api_jobs_stop(struct api_ctx *ctx)
{
    struct api_jobs *js = ctx->jobs;
    if (!js)
        return;
    pthread_mutex_lock(&js->lock);
    js->stop = 1;
    pthread_cond_signal(&js->cv);
    pthread_mutex_unlock(&js->lock);
    pthread_join(js->thread, NULL);
    pthread_mutex_destroy(&js->lock);
    pthread_cond_destroy(&js->cv);
    free(js);
    ctx->jobs = NULL;
}
