#include "util/rand.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

/* Base32 in ASCII order, so time-prefixed ids sort by time as strings. */
static const char b32[] = "234567abcdefghijklmnopqrstuvwxyz";

int util_rand_init(void) { return sodium_init() < 0 ? -1 : 0; }

/* 4 KiB of CSPRNG output per refill: one getrandom() call serves a few
 * hundred code characters. The buffer is per thread, never shared. */
static _Thread_local unsigned char pool[4096];
static _Thread_local size_t pool_pos = sizeof pool;

static unsigned char pool_byte(void)
{
    if (pool_pos == sizeof pool) {
        randombytes_buf(pool, sizeof pool);
        pool_pos = 0;
    }
    unsigned char b = pool[pool_pos];
    pool[pool_pos++] = 0; /* a used byte does not linger in memory */
    return b;
}

uint32_t util_rand_uniform(uint32_t upper)
{
    if (upper < 2)
        return 0;
    if (upper > 256)
        return randombytes_uniform(upper);
    /* Rejection sampling: bytes at or above the largest multiple of `upper`
     * are redrawn, so every value is exactly equally likely. */
    unsigned limit = 256 - (256 % upper);
    unsigned b;
    do
        b = pool_byte();
    while (b >= limit);
    return b % upper;
}

static void rand_chars(const char *prefix, size_t nchars, char *out, size_t outlen)
{
    size_t pl = strlen(prefix);
    if (outlen < pl + nchars + 1) {
        if (outlen)
            out[0] = 0;
        return;
    }
    memcpy(out, prefix, pl);
    for (size_t i = 0; i < nchars; i++)
        out[pl + i] = b32[util_rand_uniform(32)];
    out[pl + nchars] = 0;
}

void util_rand_id(const char *prefix, char *out, size_t outlen)
{
    size_t pl = strlen(prefix);
    if (outlen < pl + 26) {
        if (outlen)
            out[0] = 0;
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    memcpy(out, prefix, pl);
    for (int i = 8; i >= 0; i--, ms >>= 5)
        out[pl + (size_t)i] = b32[ms & 31];
    rand_chars("", 16, out + pl + 9, outlen - pl - 9);
}

void util_rand_secret(const char *prefix, char *out, size_t outlen) { rand_chars(prefix, 40, out, outlen); }

void util_hash_secret(const char *secret, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, strlen(secret), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}
