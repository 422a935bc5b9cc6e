/* tokcache.h — tokens found by their secret's hash, kept in memory by both
 * stores (sqlite_tokens.c, pg_tokens.c): every API call looks its token
 * up, and most calls come with the same few tokens.
 *
 * Direct-mapped, TOKCACHE_SLOTS entries. An entry is good while the
 * cache's generation is the one read *before* its row was read: the store
 * ends the generation (tokcache_bump) whenever a token may have changed,
 * after the change commits and before anyone is answered, so a row read
 * before a change is never used after it. Only found tokens are cached: a
 * wrong secret always reaches the database (and the brute-force limiter).
 * A cache that is off (tokcache_set_on) answers and keeps nothing; entries
 * older than the max age given to tokcache_new are not used.
 * Thread-safe. Private to src/store. */
#ifndef PROMO_STORE_TOKCACHE_H
#define PROMO_STORE_TOKCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define TOKCACHE_SLOTS 256

struct tokcache;

/* max_age_ns: 0 for none. NULL when out of memory. The cache starts on. */
struct tokcache *tokcache_new(int64_t max_age_ns);
void tokcache_free(struct tokcache *tc);
/* The generation now: read it before reading a token from the database. */
uint64_t tokcache_gen(struct tokcache *tc);
/* Ends the generation: every entry, and every read in flight, is stale. */
void tokcache_bump(struct tokcache *tc);
/* Turns the cache on or off (ending the generation either way). */
void tokcache_set_on(struct tokcache *tc, bool on);
/* Copies the token cached for `hash` at generation gen into out (strings
 * in a); false (a miss, counted) when there is none. */
bool tokcache_get(struct tokcache *tc, uint64_t gen, const char *hash, struct arena *a, struct token *out);
/* Keeps t for `hash` if gen is still the generation and the cache is on
 * (out of memory: not kept). */
void tokcache_put(struct tokcache *tc, uint64_t gen, const char *hash, const struct token *t);
/* last_used_at moved (store_token_touch): cached copies follow, so the
 * next calls do not post the same touch again. */
void tokcache_touched(struct tokcache *tc, const char *id, int64_t now);
void tokcache_stats(struct tokcache *tc, uint64_t *hits, uint64_t *misses, bool *on);

#endif
