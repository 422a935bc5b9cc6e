/* form.c — decoding application/x-www-form-urlencoded bodies. */
#include "util/form.h"

#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t util_form_unescape(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < len ? hex_value(in[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(in[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        /* A NUL would cut the value short in every C string after this. */
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

/* Decodes in[0..len) into arena memory; NULL when it does not decode. */
static const char *decode_part(struct arena *a, const char *in, size_t len)
{
    char *out = arena_alloc(a, len + 1);
    return util_form_unescape(in, len, out) < 0 ? NULL : out;
}

int util_form_parse(struct arena *a, const char *body, size_t len, struct util_form_field **fields, size_t *n)
{
    *n = 0;
    *fields = arena_alloc(a, sizeof(**fields) * UTIL_FORM_FIELDS_MAX);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            if (*n == UTIL_FORM_FIELDS_MAX)
                return -1;
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *name_end = eq ? eq : stop;
            struct util_form_field *f = &(*fields)[*n];
            f->name = decode_part(a, p, (size_t)(name_end - p));
            f->value = eq ? decode_part(a, eq + 1, (size_t)(stop - eq - 1)) : "";
            if (!f->name || !f->value)
                return -1;
            (*n)++;
        }
        p = stop + 1;
    }
    return 0;
}
