/* retry.h — when to try a failed delivery again. Pure, unit-tested. */
#ifndef PROMO_NOTIFY_RETRY_H
#define PROMO_NOTIFY_RETRY_H

#include <stdint.h>

/* The wait after `round` failures in a row (round ≥ 1): base * 2^(round-1),
 * at most cap, then a uniform draw from the upper half of that wait
 * ("equal jitter": retries of many messages spread out, yet never come
 * sooner than half the nominal wait). `r` is a uniform random number in
 * [0, 2^32). */
int64_t notify_backoff_ms(int64_t round, int64_t base_ms, int64_t cap_ms, uint32_t r);

#endif
