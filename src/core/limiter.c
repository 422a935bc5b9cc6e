/* limiter.c — token buckets and sliding-window failure counts, in integer
 * arithmetic so that tests can state exact waits. See limiter.h. */
#include "core/limiter.h"

/* A rate of m milli-tokens per second pays back exactly m micro-tokens per
 * millisecond: (m / 1000) tokens/s × 10^6 µtokens / 1000 ms. */
static int64_t debt_at(const struct limiter_bucket *b, const struct limiter_rate *r, int64_t now_ms)
{
    if (b->debt <= 0)
        return 0;
    int64_t elapsed = now_ms - b->at_ms;
    if (elapsed <= 0)
        return b->debt;
    if (elapsed > b->debt / r->milli_per_s) /* paid back whole: no product that could overflow */
        return 0;
    int64_t d = b->debt - elapsed * r->milli_per_s;
    return d > 0 ? d : 0;
}

bool limiter_take(struct limiter_bucket *b, const struct limiter_rate *r, int64_t now_ms, int64_t *wait_ms)
{
    if (r->milli_per_s <= 0)
        return true;
    int64_t cap = (r->burst >= 1 ? r->burst : 1) * LIMITER_TOKEN;
    int64_t debt = debt_at(b, r, now_ms);
    b->at_ms = now_ms;
    if (debt + LIMITER_TOKEN <= cap) {
        b->debt = debt + LIMITER_TOKEN;
        return true;
    }
    b->debt = debt;
    if (wait_ms) {
        int64_t need = debt + LIMITER_TOKEN - cap; /* µtokens still to pay back */
        *wait_ms = (need + r->milli_per_s - 1) / r->milli_per_s;
    }
    return false;
}

int64_t limiter_retry_after_s(int64_t wait_ms)
{
    int64_t s = (wait_ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

/* ---- brute force ------------------------------------------------------------ */

int64_t limiter_blocked_ms(const struct limiter_window *w, int64_t now_ms)
{
    return w->blocked_until_ms > now_ms ? w->blocked_until_ms - now_ms : 0;
}

/* Moves the fixed windows forward to the one holding now_ms: the current
 * becomes the previous when they are adjacent, else both are forgotten. */
static void roll(struct limiter_window *w, int64_t window_ms, int64_t now_ms)
{
    int64_t start = now_ms - now_ms % window_ms;
    if (start == w->start_ms)
        return;
    w->prev = start == w->start_ms + window_ms ? w->cur : 0;
    w->cur = 0;
    w->start_ms = start;
}

bool limiter_fail(struct limiter_window *w, const struct limiter_policy *p, int64_t now_ms)
{
    if (p->failures <= 0 || p->window_ms <= 0 || now_ms < 0)
        return false;
    if (limiter_blocked_ms(w, now_ms) > 0)
        return false;
    roll(w, p->window_ms, now_ms);
    w->cur++;
    /* cur + prev × (the share of the previous window still inside the
     * sliding window) ≥ failures, multiplied through by window_ms. */
    int64_t W = p->window_ms, into = now_ms - w->start_ms;
    if (w->cur * W + w->prev * (W - into) < p->failures * W)
        return false;
    w->blocked_until_ms = now_ms + p->block_ms;
    w->cur = w->prev = 0;
    return true;
}

bool limiter_idle(const struct limiter_bucket *b, const struct limiter_rate *r, const struct limiter_window *w,
                  const struct limiter_policy *p, int64_t now_ms)
{
    if (r->milli_per_s > 0 && debt_at(b, r, now_ms) > 0)
        return false;
    if (limiter_blocked_ms(w, now_ms) > 0)
        return false;
    if (p->window_ms <= 0 || now_ms >= w->start_ms + 2 * p->window_ms)
        return true;
    if (now_ms >= w->start_ms + p->window_ms) /* cur is about to become the weighted prev */
        return w->cur == 0;
    return w->cur == 0 && w->prev == 0;
}
