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
/* Ends the generation: every entry, and every read in flight, is stale. */
void tokcache_bump(struct tokcache *tc);
/* Turns the cache on or off (ending the generation either way). */
void tokcache_set_on(struct tokcache *tc, bool on);
/* last_used_at moved (store_token_touch): cached copies follow, so the
 * next calls do not post the same touch again. */
void tokcache_touched(struct tokcache *tc, const char *id, int64_t now);
void tokcache_stats(struct tokcache *tc, uint64_t *hits, uint64_t *misses, bool *on);
/* Reads a token by secret hash from the store (strings in a). */
typedef enum promo_err (*tokcache_read_fn)(void *store, struct arena *a, const char *hash, struct token *out);
/* The whole lookup: from memory, else read(store, ...) and kept, the
 * generation taken before the read so that a change committed meanwhile
 * voids what was read. */
enum promo_err tokcache_find(struct tokcache *tc, struct arena *a, const char *hash, struct token *out,
                             tokcache_read_fn read, void *store);

#endif
