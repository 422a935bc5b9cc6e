/* limiter.h — the arithmetic of rate limits and brute-force detection.
 * Pure: no clock (the caller passes monotonic milliseconds), no locks, no
 * allocation. The keyed state (which bucket belongs to which IP, token or
 * customer) lives in api/guard.c; this file only decides.
 *
 * Rate limits are token buckets in integer micro-tokens, so a refill is
 * exact and Retry-After is the true wait rounded up to whole seconds.
 * Brute-force detection counts failures in LIMITER_SLICES slices of a
 * seventh of the window each, so that every failure of the last `window`
 * milliseconds is always counted (see limiter_fail). */
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

/* The most `failures` a policy may ask for: a slice counts in 16 bits. */
#define LIMITER_FAILURES_MAX 65535

/* Brute-force policy: `failures` within `window_ms` block the key for
 * `block_ms`. failures 0: detection off; at most LIMITER_FAILURES_MAX. */
struct limiter_policy {
    int64_t failures;
    int64_t window_ms;
    int64_t block_ms;
};

/* The window is cut into slices of ceil(window_ms / 7) milliseconds; a key
 * keeps the counts of the last 8 slices (the one now_ms falls in and the 7
 * before), which always reach back at least window_ms. */
#define LIMITER_SLICES 8

/* One key's failure counts. All zero: no failure yet, not blocked. 32
 * bytes, so that guard.c's slot stays one cache line. */
struct limiter_window {
    int64_t blocked_until_ms; /* 0: not blocked */
    int64_t last_slice;       /* the slice (now_ms / slice length) of the last failure counted */
    /* failures of slice j at count[j % LIMITER_SLICES], for the 8 slices up to last_slice */
    uint16_t count[LIMITER_SLICES];
};

/* Milliseconds the key stays blocked from now_ms (0: not blocked). */
int64_t limiter_blocked_ms(const struct limiter_window *w, int64_t now_ms);

/* Counts one failure at now_ms. Returns true when this failure brings the
 * count to `failures` and so starts a block (the counts start over). A
 * failure while blocked counts nothing and returns false, so a block is
 * started, and reported, once.
 *
 * The count covers whole slices, so it errs one way only: every failure of
 * the last window_ms counts, and failures up to one slice older (a seventh
 * of the window) may count too. Hence `failures` within window_ms always
 * block, wherever they fall against slice boundaries, and no key gets
 * `failures` through in any window_ms; a key is never blocked for failures
 * spread wider than 8 slices (8/7 of the window, rounded up). (A two-window
 * sliding counter, which weights the previous window by the share still
 * inside, under-counts a burst that straddles a boundary and let
 * 2 × (failures − 1) through.) */
bool limiter_fail(struct limiter_window *w, const struct limiter_policy *p, int64_t now_ms);

/* True when the key holds nothing worth keeping at now_ms: a full bucket
 * and no failure still counted, and no block. Such entries are the
 * first evicted from a full table. */
bool limiter_idle(const struct limiter_bucket *b, const struct limiter_rate *r, const struct limiter_window *w,
                  const struct limiter_policy *p, int64_t now_ms);

#endif
