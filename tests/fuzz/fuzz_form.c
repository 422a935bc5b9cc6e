/* fuzz_form.c — the form decoder of the OAuth token endpoint
 * (util/form.c), the one parser that reads bodies nobody authenticated.
 * The whole input is a body for util_form_parse and a part for
 * util_form_unescape. Checked: a decoded part is never longer than its
 * text and holds no NUL; every field of an accepted body stays within the
 * body's length; an accepted body, written back with every byte
 * percent-encoded, decodes to the same fields. */
#include "fuzz.h"

#include "util/arena.h"
#include "util/form.h"

static void check_unescape(const char *in, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        abort();
    ssize_t len = util_form_unescape(in, n, out);
    if (len >= 0) {
        FUZZ_CHECK((size_t)len <= n);
        FUZZ_CHECK(strlen(out) == (size_t)len);
    }
    free(out);
}

/* Appends s with every byte as %XX. */
static size_t encode(char *dst, const char *s)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        dst[o++] = '%';
        dst[o++] = HEX[(unsigned char)*s >> 4];
        dst[o++] = HEX[(unsigned char)*s & 15];
    }
    return o;
}

static void check_round_trip(const struct util_form_field *f, size_t n, size_t body_len)
{
    char *again = malloc(body_len * 3 + n * 2 + 1);
    if (!again)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(strlen(f[i].name) <= body_len && strlen(f[i].value) <= body_len);
        if (i)
            again[o++] = '&';
        o += encode(again + o, f[i].name);
        again[o++] = '=';
        o += encode(again + o, f[i].value);
    }
    again[o] = 0;
    struct arena a = {0};
    struct util_form_field *g;
    size_t m;
    FUZZ_CHECK(util_form_parse(&a, again, o, &g, &m) == 0);
    FUZZ_CHECK(m == n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(strcmp(f[i].name, g[i].name) == 0 && strcmp(f[i].value, g[i].value) == 0);
    arena_free(&a);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    check_unescape(body, size);
    struct arena a = {0};
    struct util_form_field *f;
    size_t n;
    if (util_form_parse(&a, body, size, &f, &n) == 0) {
        FUZZ_CHECK(n <= UTIL_FORM_FIELDS_MAX);
        check_round_trip(f, n, size);
    }
    arena_free(&a);
    free(body);
    return 0;
}
