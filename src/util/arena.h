/* arena.h — a per-request bump allocator (h2o's memory pool, in promo
 * terms). Everything a request parses or reads from the store lives in its
 * arena and is dropped in one arena_free() when the request completes.
 * Allocation failure aborts: a server out of memory cannot answer anyway. */
#ifndef PROMO_UTIL_ARENA_H
#define PROMO_UTIL_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena {
    struct arena_chunk *head;
};

/* Zeroed memory of n bytes, aligned for any type; owned by the arena. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies of a string (NUL-terminated) and of n bytes plus a NUL. NULL in,
 * NULL out. Owned by the arena. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* printf into arena memory. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees every allocation; the arena may be reused afterwards. */
void arena_free(struct arena *a);

#endif
