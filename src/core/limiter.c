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

static int64_t slice_ms(const struct limiter_policy *p)
{
    return (p->window_ms + LIMITER_SLICES - 2) / (LIMITER_SLICES - 1);
}

/* The failures still counted at slice `now`: those of the slices from
 * now − 7 up to w->last_slice. */
static int64_t counted(const struct limiter_window *w, int64_t now)
{
    int64_t sum = 0;
    for (int64_t j = w->last_slice; j > w->last_slice - LIMITER_SLICES && j > now - LIMITER_SLICES; j--)
        sum += w->count[j % LIMITER_SLICES];
    return sum;
}

/* Moves the ring forward to slice `now`, emptying the slices passed over. */
static void advance(struct limiter_window *w, int64_t now)
{
    if (now <= w->last_slice)
        return;
    for (int64_t j = w->last_slice + 1; j <= now && j <= w->last_slice + LIMITER_SLICES; j++)
        w->count[j % LIMITER_SLICES] = 0;
    w->last_slice = now;
}

bool limiter_fail(struct limiter_window *w, const struct limiter_policy *p, int64_t now_ms)
{
    if (p->failures <= 0 || p->window_ms <= 0 || now_ms < 0)
        return false;
    if (limiter_blocked_ms(w, now_ms) > 0)
        return false;
    int64_t now = now_ms / slice_ms(p);
    advance(w, now);
    /* a clock never goes back (monotonic), but a slice behind last_slice
     * would still be one of the 8 kept: count it in the newest */
    w->count[w->last_slice % LIMITER_SLICES]++;
    if (counted(w, w->last_slice) < p->failures)
        return false;
    *w = (struct limiter_window){.blocked_until_ms = now_ms + p->block_ms};
    return true;
}

bool limiter_idle(const struct limiter_bucket *b, const struct limiter_rate *r, const struct limiter_window *w,
                  const struct limiter_policy *p, int64_t now_ms)
{
    if (r->milli_per_s > 0 && debt_at(b, r, now_ms) > 0)
        return false;
    if (limiter_blocked_ms(w, now_ms) > 0)
        return false;
    if (p->window_ms <= 0 || now_ms < 0)
        return true;
    return counted(w, now_ms / slice_ms(p)) == 0;
}
