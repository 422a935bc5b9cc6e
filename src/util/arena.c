#include "util/arena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 8192

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

/* Each thread keeps one standard chunk from its last arena_free for its
 * next arena. Why: a request's arena is made and freed on every call, and
 * an 8 KiB malloc/free pair per request made glibc consolidate its free
 * lists each time (about 5% of the server's CPU under validation load).
 * The spare is freed when its thread ends (the key's destructor). */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_key_make(void) { pthread_key_create(&spare_key, free); }

static struct arena_chunk *spare_take(void)
{
    pthread_once(&spare_once, spare_key_make);
    struct arena_chunk *c = pthread_getspecific(spare_key);
    if (c)
        pthread_setspecific(spare_key, NULL);
    return c;
}

/* Keeps c as the thread's spare when it has none; 1 if kept. */
static int spare_keep(struct arena_chunk *c)
{
    pthread_once(&spare_once, spare_key_make);
    if (pthread_getspecific(spare_key) || pthread_setspecific(spare_key, c) != 0)
        return 0;
    return 1;
}

static struct arena_chunk *chunk_new(size_t size)
{
    struct arena_chunk *c = size == ARENA_CHUNK ? spare_take() : NULL;
    if (!c)
        c = malloc(sizeof(*c) + size);
    if (!c)
        abort();
    c->next = NULL;
    c->used = 0;
    c->size = size;
    return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        /* Large requests get a chunk of their own, linked behind the
         * current one so the current chunk's free space stays usable. */
        if (n > ARENA_CHUNK / 4 && c) {
            struct arena_chunk *big = chunk_new(n);
            big->next = c->next;
            c->next = big;
            big->used = n;
            memset(big->data, 0, n);
            return big->data;
        }
        c = chunk_new(n > ARENA_CHUNK ? n : ARENA_CHUNK);
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        if (c->size != ARENA_CHUNK || !spare_keep(c))
            free(c);
        c = next;
    }
    a->head = NULL;
}
