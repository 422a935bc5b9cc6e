/* limiter.h — the arithmetic of rate limits and brute-force detection.
 * Pure: no clock (the caller passes monotonic milliseconds), no locks, no
 * allocation. The keyed state (which bucket belongs to which IP, token or
 * customer) lives in api/guard.c; this file only decides.
 *
 * Rate limits are token buckets in integer micro-tokens, so a refill is
 * exact and Retry-After is the true wait rounded up to whole seconds.
 * Brute-force detection is a sliding-window counter: the current fixed
 * window plus the previous one weighted by how much of it still lies in
 * the last `window` milliseconds. */
#ifndef PROMO_CORE_LIMITER_H
#define PROMO_CORE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#define LIMITER_TOKEN 1000000 /* micro-tokens in one token */
#define LIMITER_RATE_MAX 1000000000 /* milli-tokens per second: 10^6 per second */
#define LIMITER_BURST_MAX 1000000

/* A rate: `milli_per_s` thousandths of a request per second (0.5/s is
 * 500); 0 means no limit. `burst` requests may come at once (≥ 1). */
struct limiter_rate {
    int64_t milli_per_s;
    int64_t burst;
};

/* One key's bucket. All zero is a full bucket never used. `debt` is what
 * the key has taken beyond a full bucket, in micro-tokens: one token per
 * request, paid back at the rate. */
struct limiter_bucket {
    int64_t debt;
    int64_t at_ms; /* when debt was last brought up to date */
};

/* Takes one request from the bucket at now_ms. true: allowed. false: refused,
 * nothing taken, and *wait_ms (when not NULL) is the exact time until one
 * request will be allowed. A rate of 0 allows everything. */
bool limiter_take(struct limiter_bucket *b, const struct limiter_rate *r, int64_t now_ms, int64_t *wait_ms);

/* The Retry-After header for a wait: whole seconds rounded up, at least 1. */
int64_t limiter_retry_after_s(int64_t wait_ms);

/* Brute-force policy: `failures` within `window_ms` block the key for
 * `block_ms`. failures 0: detection off. */
struct limiter_policy {
    int64_t failures;
    int64_t window_ms;
    int64_t block_ms;
};

/* One key's failure count. All zero: no failure yet, not blocked. */
struct limiter_window {
    int64_t start_ms;         /* start of the current fixed window (a multiple of window_ms) */
    int64_t cur, prev;        /* failures in the current and the previous fixed window */
    int64_t blocked_until_ms; /* 0: not blocked */
};

/* Milliseconds the key stays blocked from now_ms (0: not blocked). */
int64_t limiter_blocked_ms(const struct limiter_window *w, int64_t now_ms);

/* Counts one failure at now_ms. Returns true when this failure reaches
 * `failures` in the sliding window and so starts a block (the counts start
 * over). A failure while blocked counts nothing and returns false, so a
 * block is started, and reported, once.
 *
 * The window is approximate in the usual way of sliding-window counters: it
 * assumes the previous fixed window's failures were spread evenly. A key
 * thus never gets more than 2 × (failures − 1) failures through in any
 * window_ms, and `failures` at once always block. */
bool limiter_fail(struct limiter_window *w, const struct limiter_policy *p, int64_t now_ms);

/* True when the key holds nothing worth keeping at now_ms: a full bucket
 * and no failure in the sliding window, and no block. Such entries are the
 * first evicted from a full table. */
bool limiter_idle(const struct limiter_bucket *b, const struct limiter_rate *r, const struct limiter_window *w,
                  const struct limiter_policy *p, int64_t now_ms);

#endif
