/* delivery.c — the outbox's delivery workers (delivery.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "jobs/delivery.h"
#include "notify/retry.h"
#include "notify/send.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define WORKERS_MAX 64

struct delivery {
    struct store *st;
    const struct config *cfg;
    pthread_t threads[WORKERS_MAX];
    int n;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    volatile int stop; /* read by curl's progress callback too */
};

static bool stopping(struct delivery *d)
{
    pthread_mutex_lock(&d->lock);
    bool s = d->stop;
    pthread_mutex_unlock(&d->lock);
    return s;
}

/* Sleeps up to ms, waking early when the workers are told to stop. */
static void nap(struct delivery *d, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&d->lock);
    if (!d->stop)
        pthread_cond_timedwait(&d->cv, &d->lock, &ts);
    pthread_mutex_unlock(&d->lock);
}

static void send_email(struct delivery *d, const struct message *m, struct send_result *r)
{
    const struct config *c = d->cfg;
    struct smtp_conf sc = {.host = c->smtp_host, .port = (int)c->smtp_port, .from = c->smtp_from,
                           .username = c->smtp_username, .password = c->smtp_password,
                           .starttls = c->smtp_starttls, .timeout_ms = (long)c->dlv_timeout_ms,
                           .connect_timeout_ms = (long)c->dlv_connect_timeout_ms, .cancel = &d->stop};
    struct smtp_mail mail = {.to = m->recipient, .to_name = m->recipient_name, .subject = m->subject, .body_text = m->body_text,
                             .body_html = m->body_html, .message_id = m->id};
    notify_smtp_send(&sc, &mail, r);
}

/* Returns false when the message can never be delivered (its webhook is
 * gone): it is dead-lettered at once. */
static bool send_webhook(struct delivery *d, struct arena *a, const struct message *m, struct send_result *r)
{
    struct webhook w;
    enum promo_err rc = store_webhook_get(d->st, a, m->webhook_id ? m->webhook_id : "", &w);
    if (rc != PROMO_OK) {
        memset(r, 0, sizeof(*r));
        snprintf(r->error, sizeof r->error, "%s",
                 rc == PROMO_NOT_FOUND ? "the webhook subscription was deleted" : "the store is unavailable");
        return rc != PROMO_NOT_FOUND;
    }
    struct webhook_post p = {.url = w.url, .secret = w.secret, .body = m->body_text ? m->body_text : "{}",
                             .delivery_id = m->id, .event_type = m->event_type, .timestamp = time_now(),
                             .timeout_ms = (long)d->cfg->dlv_timeout_ms,
                             .connect_timeout_ms = (long)d->cfg->dlv_connect_timeout_ms, .cancel = &d->stop};
    notify_webhook_send(&p, r);
    return true;
}

/* One attempt of a claimed message, and its outcome recorded. */
static void deliver(struct delivery *d, struct arena *a, const struct message *m)
{
    struct send_result r;
    struct message_attempt at = {.started_at = time_now_ms()};
    int64_t t0 = time_mono_ms();
    bool retryable = true;
    if (strcmp(m->channel, "email") == 0)
        send_email(d, m, &r);
    else
        retryable = send_webhook(d, a, m, &r);
    if (!r.ok && stopping(d))
        return; /* abandoned, not failed: the claim lapses and it is sent again */
    at.duration_ms = time_mono_ms() - t0;
    at.ok = r.ok;
    at.status = r.status;
    at.error = r.ok ? NULL : r.error;
    int64_t round = m->attempts + 1 - m->retry_base;
    bool dead = !r.ok && (!retryable || round >= d->cfg->dlv_max_attempts);
    int64_t next = time_now_ms() + notify_backoff_ms(round, d->cfg->dlv_backoff_base_ms,
                                                       d->cfg->dlv_backoff_cap_ms, util_rand_uniform(UINT32_MAX));
    if (!r.ok)
        log_warn("delivery: %s attempt %lld to %s failed: %s%s", m->id, (long long)(m->attempts + 1), m->recipient,
                 r.error, dead ? " (dead-lettered)" : "");
    enum promo_err rc = store_outbox_record(d->st, m->id, &at, dead, r.ok ? 0 : next);
    if (rc != PROMO_OK)
        log_error("delivery: cannot record an attempt of %s: %s", m->id, promo_err_code(rc));
}

static void *worker_main(void *arg)
{
    struct delivery *d = arg;
    /* A claim outlives the longest attempt, so a live worker is never
     * overtaken; a crashed one's messages come back after it. */
    int64_t lease = d->cfg->dlv_timeout_ms + d->cfg->dlv_connect_timeout_ms + 5000;
    while (!stopping(d)) {
        int64_t now = time_now_ms(), due = 0;
        if (store_outbox_next_due(d->st, &due) != PROMO_OK || due == 0 || due > now) {
            int64_t wait = due > now && due - now < d->cfg->dlv_poll_ms ? due - now : d->cfg->dlv_poll_ms;
            nap(d, wait);
            continue;
        }
        struct arena a = {0};
        struct message m;
        enum promo_err rc = store_outbox_claim(d->st, &a, now, lease, &m);
        if (rc == PROMO_OK)
            deliver(d, &a, &m);
        arena_free(&a);
        if (rc != PROMO_OK && rc != PROMO_NOT_FOUND)
            nap(d, d->cfg->dlv_poll_ms);
    }
    return NULL;
}

struct delivery *delivery_start(struct store *st, const struct config *cfg)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->st = st;
    d->cfg = cfg;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cv, NULL);
    int want = cfg->dlv_workers > WORKERS_MAX ? WORKERS_MAX : (int)cfg->dlv_workers;
    for (; d->n < want; d->n++)
        if (pthread_create(&d->threads[d->n], NULL, worker_main, d) != 0) {
            delivery_stop(d);
            return NULL;
        }
    return d;
}

void delivery_stop(struct delivery *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->lock);
    for (int i = 0; i < d->n; i++)
        pthread_join(d->threads[i], NULL);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cv);
    free(d);
    curl_global_cleanup();
}
