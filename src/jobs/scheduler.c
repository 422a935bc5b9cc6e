/* scheduler.c — the scheduler thread (see scheduler.h). Exactly-once is the
 * store's: each task is claimed and completed in the writer transaction of
 * its effect, so this loop may look at a task twice without harm. */
#include "jobs/scheduler.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"
#include "util/timeutil.h"

#define BATCH 100
#define SLEEP_MAX_MS 1000

struct scheduler {
    struct store *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int stop, kicked;
};

/* Runs every task due at `now`; returns how many were looked at. */
static size_t run_due(struct scheduler *s, int64_t now)
{
    struct arena a = {0};
    struct task *v = NULL;
    size_t n = 0;
    if (store_tasks_due(s->st, &a, now, BATCH, &v, &n) != PROMO_OK)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        enum promo_err rc = store_task_run(s->st, v[i].id, now);
        if (rc != PROMO_OK) {
            log_warn("scheduler: task %s (%s) failed: %s", v[i].id, v[i].kind, promo_err_code(rc));
            store_task_fail(s->st, v[i].id, promo_err_code(rc), now);
        }
    }
    arena_free(&a);
    return n;
}

/* Milliseconds to sleep: until the next due task, at most SLEEP_MAX_MS. */
static int64_t sleep_ms(struct scheduler *s)
{
    int64_t due = 0;
    if (store_task_next_due(s->st, &due) != PROMO_OK || due == 0)
        return SLEEP_MAX_MS;
    int64_t ms = due * 1000 - time_now_ms();
    return ms < 0 ? 0 : ms > SLEEP_MAX_MS ? SLEEP_MAX_MS : ms;
}

static void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    /* The periodic tasks always have a next run pending. */
    store_task_schedule(s->st, "segments_refresh", NULL, 0, NULL, time_now());
    store_task_schedule(s->st, "codes_expire", NULL, 0, NULL, time_now());
    for (;;) {
        if (run_due(s, time_now()) == BATCH)
            continue;
        int64_t ms = sleep_ms(s);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&s->lock);
        while (!s->stop && !s->kicked)
            if (pthread_cond_timedwait(&s->cv, &s->lock, &ts) != 0)
                break;
        s->kicked = 0;
        int stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            return NULL;
    }
}

struct scheduler *scheduler_start(struct store *st)
{
    struct scheduler *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->st = st;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cv);
        free(s);
        return NULL;
    }
    return s;
}

void scheduler_kick(struct scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->kicked = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

void scheduler_stop(struct scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cv);
    free(s);
}
