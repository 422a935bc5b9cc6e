#include "util/rand.h"

#include <sodium.h>
#include <string.h>

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

int util_rand_init(void) { return sodium_init() < 0 ? -1 : 0; }

uint32_t util_rand_uniform(uint32_t upper) { return randombytes_uniform(upper); }

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
        out[pl + i] = b32[randombytes_uniform(32)];
    out[pl + nchars] = 0;
}

void util_rand_id(const char *prefix, char *out, size_t outlen) { rand_chars(prefix, 20, out, outlen); }

void util_rand_secret(const char *prefix, char *out, size_t outlen) { rand_chars(prefix, 40, out, outlen); }

void util_hash_secret(const char *secret, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, strlen(secret), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}
