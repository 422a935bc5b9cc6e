/* retry.c — the backoff of failed deliveries (retry.h). */
#include "notify/retry.h"

int64_t notify_backoff_ms(int64_t round, int64_t base_ms, int64_t cap_ms, uint32_t r)
{
    int64_t d = base_ms < cap_ms ? base_ms : cap_ms;
    for (int64_t i = 1; i < round && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    int64_t half = d / 2;
    return d - half + (int64_t)(((uint64_t)r * (uint64_t)(half + 1)) >> 32);
}
