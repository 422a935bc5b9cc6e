/* rand.h — unguessable identifiers and secrets from libsodium's CSPRNG.
 * util_rand_init() must run once before any other call (main does it). */
#ifndef PROMO_UTIL_RAND_H
#define PROMO_UTIL_RAND_H

#include <stddef.h>
#include <stdint.h>

int util_rand_init(void);
/* Uniform integer in [0, upper) from the CSPRNG. Small bounds (≤ 256, the
 * code charsets) draw from a per-thread buffer of randombytes_buf output
 * with rejection sampling, so making a code costs no system call per
 * character; larger bounds use randombytes_uniform. */
uint32_t util_rand_uniform(uint32_t upper);
/* "<prefix>" + 9 base32 characters of the current time in milliseconds +
 * 16 random base32 characters (80 bits), NUL-terminated into out (at least
 * strlen(prefix) + 26 bytes). Time first makes ids of one kind sort by
 * creation, so their unique index grows at its right edge instead of
 * taking random inserts (fewer pages written per commit); the random part
 * keeps them unguessable. */
void util_rand_id(const char *prefix, char *out, size_t outlen);
/* A secret token: "<prefix>" + 40 base32 characters (200 bits). */
void util_rand_secret(const char *prefix, char *out, size_t outlen);
/* Hex BLAKE2b-256 of a secret, for storing tokens at rest (65 bytes out). */
void util_hash_secret(const char *secret, char out[65]);

#endif
