/* jsonbody.c — request bodies into jansson values, parsed by yajl.
 *
 * Why two JSON libraries: the rest of promo reads and writes jansson
 * values, but jansson's parser reads a character at a time through a
 * stream and spent ~50,000 instructions on a 245-byte validation body
 * (callgrind), a sixth of the whole request. yajl's parser is a tight
 * scanner; its events build the same jansson values here, so nothing
 * downstream changes. The rules jansson enforced for us (jin_object asked
 * for them) are kept: no NUL inside strings, valid UTF-8 (jansson's own
 * check, when each string is made), no duplicate keys, integers that fit in 64 bits, finite reals,
 * bounded nesting, nothing after the value. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "api/jsonin.h"

/* ---- where the parsed values live ------------------------------------------ */

/* Building the values is most of a parse: jansson makes a malloc for each
 * value, key and hash table, and under load those mallocs and frees were
 * still ~13% of the server's CPU on the validation path. While jin_parse
 * runs, jansson's allocations are carved from a per-thread region instead,
 * and freeing anything inside the region is a no-op; every other
 * allocation (json_dumps' strings included) is plain malloc/free, so the
 * rest of the code frees jansson's memory with free() as before.
 *
 * The rule that makes it safe: what jin_parse returned is released on the
 * thread that parsed it before that thread parses again. A request is
 * handled on one thread (libmicrohttpd's thread per connection) from parse
 * to answer, no json_t crosses into the store or the writer thread
 * (store.h takes none), and jin_object is the only caller. The region is
 * rewound at each parse; a body too large for it continues on malloc. */
#define REGION_SIZE (128 * 1024)

struct region {
    unsigned char *base;
    size_t used;
    bool parsing;
};

static bool region_on;                   /* jin_use_region was called */
static _Thread_local struct region *mine; /* this thread's, once it parsed */
static pthread_key_t region_key;          /* frees `mine` when its thread ends */
static pthread_once_t region_once = PTHREAD_ONCE_INIT;

static void region_drop(void *p)
{
    struct region *g = p;
    free(g->base);
    free(g);
}

static void region_key_make(void) { pthread_key_create(&region_key, region_drop); }

static struct region *region_get(void)
{
    if (mine || !region_on)
        return mine;
    pthread_once(&region_once, region_key_make);
    struct region *g = calloc(1, sizeof(*g));
    if (g && (!(g->base = malloc(REGION_SIZE)) || pthread_setspecific(region_key, g) != 0)) {
        free(g->base);
        free(g);
        g = NULL;
    }
    return mine = g;
}

static void *region_alloc(size_t n)
{
    struct region *g = mine;
    if (g && g->parsing) {
        size_t need = (n + 15) & ~(size_t)15;
        if (need <= REGION_SIZE - g->used) {
            void *p = g->base + g->used;
            g->used += need;
            return p;
        }
    }
    return malloc(n);
}

static void region_free(void *p)
{
    struct region *g = mine;
    if (g && (unsigned char *)p >= g->base && (unsigned char *)p < g->base + REGION_SIZE)
        return;
    free(p);
}

/* yajl's own buffers (its lexer and state stack, a few KiB per handle)
 * come from the region too: as a malloc and free per request they made
 * glibc consolidate its free lists every time. A header keeps each block's
 * size for realloc. */
struct yblock {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
};

static void *y_malloc(void *ctx, size_t sz)
{
    (void)ctx;
    struct yblock *b = region_alloc(sizeof(*b) + sz);
    if (!b)
        return NULL;
    b->size = sz;
    return b + 1;
}

static void y_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        region_free((struct yblock *)p - 1);
}

static void *y_realloc(void *ctx, void *p, size_t sz)
{
    if (!p)
        return y_malloc(ctx, sz);
    void *q = y_malloc(ctx, sz);
    if (q) {
        size_t old = ((struct yblock *)p - 1)->size;
        memcpy(q, p, old < sz ? old : sz);
        y_free(ctx, p);
    }
    return q;
}

static yajl_alloc_funcs Y_ALLOC = {y_malloc, y_realloc, y_free, NULL};

void jin_use_region(void)
{
    json_set_alloc_funcs(region_alloc, region_free);
    region_on = true;
}

/* ---- building values from yajl's events ------------------------------------- */

/* jansson's own limit, so the answers did not change with the parser. */
#define BODY_DEPTH_MAX 2048

struct builder {
    json_t *root;
    json_t **stack; /* open containers, innermost last: `small`, or malloc'd when deeper */
    int depth, cap;
    json_t *small[32];
    char *key;    /* the pending object key (region_alloc), if the top is an object */
    size_t key_len;
    const char *err; /* our refusal (static text), when a callback stopped the parse */
};

/* Puts v where the parse is: the root, the open array, or the open object
 * under the pending key. Steals v. 0 stops the parse (err set). */
static int put(struct builder *b, json_t *v)
{
    if (!v) {
        b->err = "out of memory";
        return 0;
    }
    if (b->depth == 0) {
        if (b->root) { /* yajl allows one value only; a second means a bug here */
            json_decref(v);
            b->err = "more than one value";
            return 0;
        }
        b->root = v;
        return 1;
    }
    json_t *top = b->stack[b->depth - 1];
    if (json_is_array(top))
        return json_array_append_new(top, v) == 0 ? 1 : (b->err = "out of memory", 0);
    /* The checked setter: it refuses a key that is not valid UTF-8. */
    int ok = b->key && json_object_setn_new(top, b->key, b->key_len, v) == 0;
    region_free(b->key);
    b->key = NULL;
    if (!ok)
        b->err = "invalid UTF-8 in an object key";
    return ok;
}

static int open_container(struct builder *b, json_t *v)
{
    if (b->depth == BODY_DEPTH_MAX) {
        json_decref(v);
        b->err = "maximum parsing depth reached";
        return 0;
    }
    if (b->depth == b->cap) {
        int cap = 2 * b->cap;
        json_t **st = malloc(sizeof(*st) * (size_t)cap);
        if (!st) {
            json_decref(v);
            b->err = "out of memory";
            return 0;
        }
        memcpy(st, b->stack, sizeof(*st) * (size_t)b->depth);
        if (b->stack != b->small)
            free(b->stack);
        b->stack = st;
        b->cap = cap;
    }
    json_t *keep = json_incref(v);
    if (!put(b, v)) {
        json_decref(keep);
        return 0;
    }
    b->stack[b->depth++] = keep;
    return 1;
}

static int close_container(void *ctx)
{
    struct builder *b = ctx;
    json_decref(b->stack[--b->depth]);
    return 1;
}

static int on_null(void *ctx) { return put(ctx, json_null()); }
static int on_bool(void *ctx, int v) { return put(ctx, json_boolean(v)); }
static int on_int(void *ctx, long long v) { return put(ctx, json_integer((json_int_t)v)); }
static int on_double(void *ctx, double v) { return put(ctx, json_real(v)); }

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct builder *b = ctx;
    if (memchr(s, 0, len)) {
        b->err = "\\u0000 is not allowed";
        return 0;
    }
    /* jansson's check, not yajl's: yajl lets overlong forms through. */
    json_t *v = json_stringn((const char *)s, len);
    if (!v) {
        b->err = "invalid UTF-8 in a string";
        return 0;
    }
    return put(b, v);
}

static int on_start_map(void *ctx) { return open_container(ctx, json_object()); }
static int on_start_array(void *ctx) { return open_container(ctx, json_array()); }

static int on_key(void *ctx, const unsigned char *k, size_t len)
{
    struct builder *b = ctx;
    if (memchr(k, 0, len)) {
        b->err = "\\u0000 is not allowed in an object key";
        return 0;
    }
    region_free(b->key);
    if (!(b->key = region_alloc(len + 1))) {
        b->err = "out of memory";
        return 0;
    }
    memcpy(b->key, k, len);
    b->key[len] = 0;
    b->key_len = len;
    if (json_object_getn(b->stack[b->depth - 1], b->key, len)) {
        b->err = "duplicate object key";
        return 0;
    }
    return 1;
}

static const yajl_callbacks CALLBACKS = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_integer = on_int,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = close_container,
    .yajl_start_array = on_start_array,
    .yajl_end_array = close_container,
};

/* yajl's message without its "parse error: " lead or trailing newline. */
static void yajl_message(yajl_handle h, const char *buf, size_t len, char *out, size_t cap)
{
    unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)buf, len);
    const char *t = m ? (const char *)m : "parse error";
    if (strncmp(t, "parse error: ", 13) == 0)
        t += 13;
    snprintf(out, cap, "%s", t);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = 0;
    if (m)
        yajl_free_error(h, m);
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 1;
}

/* yajl turns a \u escape of half a surrogate pair into '?' without a
 * word; jansson refused it, and so do we. Walks the strings' escapes
 * only; what else is wrong is yajl's to find. Returns the offset of the
 * bad escape, or -1. */
static long lone_surrogate(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    bool in_string = false;
    for (; p < end; p++) {
        if (*p == '"') {
            in_string = !in_string;
        } else if (in_string && *p == '\\' && p + 1 < end) {
            unsigned u, lo;
            if (p[1] != 'u' || !hex4(p + 2, end, &u)) {
                p++; /* the escaped character */
                continue;
            }
            if (u >= 0xDC00 && u <= 0xDFFF)
                return p - buf;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (!(p + 7 < end && p[6] == '\\' && p[7] == 'u' && hex4(p + 8, end, &lo) && lo >= 0xDC00 &&
                      lo <= 0xDFFF))
                    return p - buf;
                p += 6; /* the low half is checked: skip to it */
            }
            p += 5;
        }
    }
    return -1;
}

json_t *jin_parse(const char *buf, size_t len, char *err, size_t errlen, size_t *pos)
{
    long bad = memchr(buf, '\\', len) ? lone_surrogate(buf, len) : -1;
    if (bad >= 0) {
        snprintf(err, errlen, "invalid Unicode escape: half of a surrogate pair");
        *pos = (size_t)bad;
        return NULL;
    }
    struct builder bb = {0}, *b = &bb;
    b->stack = b->small;
    b->cap = (int)(sizeof b->small / sizeof b->small[0]);
    struct region *g = region_get();
    if (g) {
        g->used = 0; /* this thread's previous body is released by now */
        g->parsing = true;
    }
    yajl_handle h = yajl_alloc(&CALLBACKS, &Y_ALLOC, b);
    if (!h) {
        if (g)
            g->parsing = false;
        snprintf(err, errlen, "out of memory");
        *pos = 0;
        return NULL;
    }
    yajl_config(h, yajl_dont_validate_strings, 1); /* jansson checks them, more strictly */
    yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    json_t *out = NULL;
    *pos = yajl_get_bytes_consumed(h);
    if (st == yajl_status_ok && b->root) {
        out = b->root;
        b->root = NULL;
    } else if (b->err) {
        snprintf(err, errlen, "%s", b->err);
    } else {
        yajl_message(h, buf, len, err, errlen);
    }
    while (b->depth)
        close_container(b);
    if (b->stack != b->small)
        free(b->stack);
    json_decref(b->root);
    region_free(b->key);
    yajl_free(h);
    if (g)
        g->parsing = false;
    return out;
}
