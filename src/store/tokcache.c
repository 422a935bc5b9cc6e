/* tokcache.c — tokens by secret hash in memory (see tokcache.h). */
#include "store/tokcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/strpack.h"
#include "util/timeutil.h"

struct tok_slot {
    uint64_t gen; /* 0: empty */
    int64_t kept_ns;
    char hash[65];
    struct token t; /* strings in `text` */
    char *text;
};

struct tokcache {
    pthread_mutex_t lock;
    uint64_t gen; /* under lock; starts at 1 */
    bool on;
    int64_t max_age_ns;
    uint64_t hits, misses;
    struct tok_slot slot[TOKCACHE_SLOTS];
};

struct tokcache *tokcache_new(int64_t max_age_ns)
{
    struct tokcache *tc = calloc(1, sizeof(*tc));
    if (!tc)
        return NULL;
    pthread_mutex_init(&tc->lock, NULL);
    tc->gen = 1;
    tc->on = true;
    tc->max_age_ns = max_age_ns;
    return tc;
}

void tokcache_free(struct tokcache *tc)
{
    if (!tc)
        return;
    for (size_t i = 0; i < TOKCACHE_SLOTS; i++)
        free(tc->slot[i].text);
    pthread_mutex_destroy(&tc->lock);
    free(tc);
}

/* The generation now: read before reading a token from the store. */
static uint64_t tokcache_gen(struct tokcache *tc)
{
    pthread_mutex_lock(&tc->lock);
    uint64_t gen = tc->gen;
    pthread_mutex_unlock(&tc->lock);
    return gen;
}

void tokcache_bump(struct tokcache *tc)
{
    pthread_mutex_lock(&tc->lock);
    tc->gen++;
    pthread_mutex_unlock(&tc->lock);
}

void tokcache_set_on(struct tokcache *tc, bool on)
{
    pthread_mutex_lock(&tc->lock);
    tc->gen++;
    tc->on = on;
    pthread_mutex_unlock(&tc->lock);
}

static struct tok_slot *slot_of(struct tokcache *tc, const char *hash)
{
    /* The hash is hex of a cryptographic hash: its first digits spread well. */
    size_t h = 0;
    for (int i = 0; i < 8 && hash[i]; i++)
        h = h * 16 + (size_t)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 0x20) - 'a' + 10);
    return &tc->slot[h % TOKCACHE_SLOTS];
}

/* Copies the token cached for `hash` at generation gen into out (strings
 * in a); false (a miss, counted) when there is none. */
static bool tokcache_get(struct tokcache *tc, uint64_t gen, const char *hash, struct arena *a, struct token *out)
{
    bool hit = false;
    pthread_mutex_lock(&tc->lock);
    struct tok_slot *sl = slot_of(tc, hash);
    if (tc->on && sl->gen == gen && gen == tc->gen && strcmp(sl->hash, hash) == 0 &&
        (!tc->max_age_ns || time_mono_ns() - sl->kept_ns < tc->max_age_ns)) {
        *out = sl->t;
        out->id = arena_strdup(a, sl->t.id);
        out->role = arena_strdup(a, sl->t.role);
        out->name = sl->t.name ? arena_strdup(a, sl->t.name) : NULL;
        out->kind = arena_strdup(a, sl->t.kind);
        out->client_id = sl->t.client_id ? arena_strdup(a, sl->t.client_id) : NULL;
        hit = true;
    }
    if (hit)
        tc->hits++;
    else
        tc->misses++;
    pthread_mutex_unlock(&tc->lock);
    return hit;
}

/* Packs the token's strings into one block (NULLs stay NULL). */
static char *token_pack(const struct token *t, struct token *dst)
{
    const char *src[5] = {t->id, t->role, t->name, t->kind, t->client_id};
    const char **const out[5] = {&dst->id, &dst->role, &dst->name, &dst->kind, &dst->client_id};
    size_t len = strpack_size(src, 5);
    char *text = malloc(len ? len : 1);
    if (text)
        strpack(text, src, out, 5);
    return text;
}

/* Keeps t for `hash` if gen is still the generation and the cache is on
 * (out of memory: not kept). */
static void tokcache_put(struct tokcache *tc, uint64_t gen, const char *hash, const struct token *t)
{
    struct token packed = *t;
    char *text = token_pack(t, &packed);
    if (!text)
        return; /* not cached: the next call reads the row again */
    pthread_mutex_lock(&tc->lock);
    if (tc->on && gen == tc->gen) {
        struct tok_slot *sl = slot_of(tc, hash);
        free(sl->text);
        sl->gen = gen;
        sl->kept_ns = time_mono_ns();
        snprintf(sl->hash, sizeof sl->hash, "%s", hash);
        sl->t = packed;
        sl->text = text;
        text = NULL;
    }
    pthread_mutex_unlock(&tc->lock);
    free(text);
}

void tokcache_touched(struct tokcache *tc, const char *id, int64_t now)
{
    pthread_mutex_lock(&tc->lock);
    for (size_t i = 0; i < TOKCACHE_SLOTS; i++) {
        struct tok_slot *sl = &tc->slot[i];
        if (sl->gen && strcmp(sl->t.id, id) == 0 && sl->t.last_used_at < now)
            sl->t.last_used_at = now;
    }
    pthread_mutex_unlock(&tc->lock);
}

void tokcache_stats(struct tokcache *tc, uint64_t *hits, uint64_t *misses, bool *on)
{
    pthread_mutex_lock(&tc->lock);
    *hits = tc->hits;
    *misses = tc->misses;
    *on = tc->on;
    pthread_mutex_unlock(&tc->lock);
}

enum promo_err tokcache_find(struct tokcache *tc, struct arena *a, const char *hash, struct token *out,
                             tokcache_read_fn read, void *store)
{
    uint64_t gen = tokcache_gen(tc);
    if (tokcache_get(tc, gen, hash, a, out))
        return PROMO_OK;
    enum promo_err rc = read(store, a, hash, out);
    if (rc == PROMO_OK)
        tokcache_put(tc, gen, hash, out);
    return rc;
}
