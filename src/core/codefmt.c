/* codefmt.c — what a code may look like: the key it is looked up by, the
 * checks on codes people choose, generation patterns and their keyspace.
 *
 * Codes are matched case-insensitively with spaces and dashes forgiven, so
 * two shown codes are the same code exactly when their keys are equal.
 * Everything here keeps that true: a charset may hold only characters that
 * survive normalising unchanged, otherwise two generated codes could share
 * a key and the keyspace would be smaller than it looks. */
#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 uwide;

#define DEFAULT_LENGTH 12

static char upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

static bool alnum_upper(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* The character as it appears in a shown code, or 0 when it may not. */
static char shown_char(char c)
{
    c = upper(c);
    if (alnum_upper(c) || c == '-' || c == '_' || c == '.')
        return c;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

enum promo_err codefmt_normalize(const char *in, size_t len, char key[CODEFMT_KEY_MAX + 1])
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = upper(in[i]);
        if (c == ' ' || c == '\t' || c == '-')
            continue;
        if ((!alnum_upper(c) && c != '_' && c != '.') || n == CODEFMT_KEY_MAX)
            goto invalid;
        key[n++] = c;
    }
    if (n == 0)
        goto invalid;
    key[n] = '\0';
    return PROMO_OK;

invalid:
    /* Never leave a half-built key a careless caller could look up. */
    key[0] = '\0';
    return PROMO_INVALID_FORMAT;
}

/* Inner spaces are refused rather than kept: dashes are the separator a
 * shown code uses, and a stored code with spaces would print ambiguously. */
enum promo_err codefmt_check_shown(const char *in, size_t len, char shown[PROMO_CODE_MAX + 1])
{
    size_t start = 0, end = len;
    char key[CODEFMT_KEY_MAX + 1];

    shown[0] = '\0';
    while (start < end && is_space(in[start]))
        start++;
    while (end > start && is_space(in[end - 1]))
        end--;
    if (end - start == 0 || end - start > PROMO_CODE_MAX)
        return PROMO_INVALID_FORMAT;

    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        char c = shown_char(in[i]);
        if (c == 0)
            goto invalid;
        shown[n++] = c;
    }
    shown[n] = '\0';
    /* "---" is well formed character by character but has no key. */
    if (codefmt_normalize(shown, n, key) != PROMO_OK)
        goto invalid;
    return PROMO_OK;

invalid:
    shown[0] = '\0';
    return PROMO_INVALID_FORMAT;
}

static enum promo_err bad(const char **field, const char **why, const char *f, const char *w)
{
    if (field)
        *field = f;
    if (why)
        *why = w;
    return PROMO_BAD_REQUEST;
}

/* Appends the literal part s to g->pattern at *n, upper-cased. The caller
 * has checked that it fits. */
static bool put_literal(struct codegen *g, size_t *n, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        char c = shown_char(*s);
        if (c == 0)
            return false;
        g->pattern[(*n)++] = c;
    }
    return true;
}

static enum promo_err prepare_pattern(struct codegen *g, const char *pattern, const char **field,
                                      const char **why)
{
    size_t len = strlen(pattern), hashes = 0;

    if (len == 0)
        return bad(field, why, "pattern", "must not be empty");
    if (len > PROMO_CODE_MAX)
        return bad(field, why, "pattern", "must be at most 64 characters");
    for (size_t i = 0; i < len; i++) {
        char c = pattern[i] == '#' ? '#' : shown_char(pattern[i]);
        if (c == 0)
            return bad(field, why, "pattern",
                       "may hold only '#', letters, digits, '-', '_' and '.'");
        hashes += c == '#';
        g->pattern[i] = c;
    }
    g->pattern[len] = '\0';
    if (hashes == 0)
        return bad(field, why, "pattern", "must contain at least one '#'");
    return PROMO_OK;
}

static enum promo_err prepare_length(struct codegen *g, int64_t length, const char *prefix,
                                     const char *postfix, const char **field, const char **why)
{
    static const char literal_why[] = "may hold only letters, digits, '-', '_' and '.'";
    size_t plen = prefix ? strlen(prefix) : 0, slen = postfix ? strlen(postfix) : 0;
    size_t n = 0;

    if (length == 0)
        length = DEFAULT_LENGTH;
    if (length < 0 || length > PROMO_CODE_MAX)
        return bad(field, why, "length", "must be between 1 and 64");
    if (plen > PROMO_CODE_MAX || slen > PROMO_CODE_MAX ||
        plen + (size_t)length + slen > PROMO_CODE_MAX)
        return bad(field, why, "length",
                   "prefix, length and postfix together must be at most 64 characters");
    if (!put_literal(g, &n, prefix))
        return bad(field, why, "prefix", literal_why);
    memset(g->pattern + n, '#', (size_t)length);
    n += (size_t)length;
    if (!put_literal(g, &n, postfix))
        return bad(field, why, "postfix", literal_why);
    g->pattern[n] = '\0';
    return PROMO_OK;
}

static enum promo_err prepare_charset(struct codegen *g, const char *charset, const char **field,
                                      const char **why)
{
    bool seen[128] = {false};
    int n = 0;

    if (charset == NULL)
        charset = CODEFMT_DEFAULT_CHARSET;
    for (const char *p = charset; *p != '\0'; p++) {
        char c = upper(*p);
        if (!alnum_upper(c))
            return bad(field, why, "charset", "may hold only letters and digits");
        if (seen[(unsigned char)c])
            return bad(field, why, "charset",
                       "must not repeat a character (letters count once, whatever their case)");
        seen[(unsigned char)c] = true;
        g->charset[n++] = c; /* at most 36: letters and digits, each once */
    }
    g->charset[n] = '\0';
    if (n < 2)
        return bad(field, why, "charset", "must hold at least 2 characters");
    return PROMO_OK;
}

enum promo_err codefmt_prepare(struct codegen *g, const char *pattern, int64_t length,
                               const char *prefix, const char *postfix, const char *charset,
                               const char **field, const char **why)
{
    enum promo_err rc;

    memset(g, 0, sizeof *g);
    if (pattern != NULL) {
        if (length != 0)
            return bad(field, why, "pattern", "give either pattern or length, not both");
        /* Silently dropping them would generate codes the client did not ask for. */
        if (prefix != NULL && prefix[0] != '\0')
            return bad(field, why, "prefix", "goes with length; put it in the pattern instead");
        if (postfix != NULL && postfix[0] != '\0')
            return bad(field, why, "postfix", "goes with length; put it in the pattern instead");
        rc = prepare_pattern(g, pattern, field, why);
    } else {
        rc = prepare_length(g, length, prefix, postfix, field, why);
    }
    if (rc != PROMO_OK)
        return rc;
    return prepare_charset(g, charset, field, why);
}

static size_t count_hashes(const char *pattern)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0'; p++)
        n += *p == '#';
    return n;
}

double codefmt_log10_keyspace(const struct codegen *g)
{
    return (double)count_hashes(g->pattern) * log10((double)strlen(g->charset));
}

/* Exact integer comparison of keyspace ≥ total × 10^6 rather than the
 * logarithms: at the boundary (10 codes of 7 digits) floating point could
 * tip either way. The power stops growing once it passes the need, so it
 * never leaves 128 bits. */
enum promo_err codefmt_keyspace_check(const struct codegen *g, int64_t total_valid)
{
    if (total_valid <= 0)
        return PROMO_OK;

    uwide need = (uwide)total_valid * 1000000u;
    uwide space = 1;
    size_t base = strlen(g->charset), hashes = count_hashes(g->pattern);

    for (size_t i = 0; i < hashes && space < need; i++)
        space *= base;
    return space >= need ? PROMO_OK : PROMO_KEYSPACE_TOO_SMALL;
}

void codefmt_render(const struct codegen *g, codefmt_rand_fn rnd, char out[PROMO_CODE_MAX + 1])
{
    uint32_t base = (uint32_t)strlen(g->charset);
    size_t i = 0;

    for (; g->pattern[i] != '\0' && i < PROMO_CODE_MAX; i++) {
        if (g->pattern[i] == '#' && base > 0)
            out[i] = g->charset[rnd(base) % base];
        else
            out[i] = g->pattern[i];
    }
    out[i] = '\0';
}

/* Sorting a million pairs by strcmp chased a pointer per comparison;
 * comparing the packed first bytes settles almost all of them in place. */
static int pair_cmp(const void *a, const void *b)
{
    const struct code_pair *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    return strcmp(x->key, y->key);
}

static uint64_t key_head(const char *key)
{
    uint64_t h = 0;
    size_t i = 0;
    for (; i < 8 && key[i]; i++)
        h = h << 8 | (unsigned char)key[i];
    return i ? h << (8 * (8 - i)) : 0;
}

/* Orders pairs by key: a counting pass on the first two bytes, then qsort
 * inside each bucket. A plain qsort of a million pairs spent most of its
 * time on cache misses; buckets of a thousand pairs stay in cache. */
static int pairs_sort(struct code_pair *v, size_t n)
{
    enum { BUCKETS = 1 << 16 };
    size_t *start = calloc(BUCKETS + 1, sizeof(*start));
    struct code_pair *tmp = malloc(sizeof(*tmp) * (n ? n : 1));
    if (!start || !tmp) {
        free(start);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        start[(v[i].head >> 48) + 1]++;
    for (size_t b = 1; b <= BUCKETS; b++)
        start[b] += start[b - 1];
    for (size_t i = 0; i < n; i++)
        tmp[start[v[i].head >> 48]++] = v[i];
    /* start[b] is now the end of bucket b, which is where b + 1 begins. */
    size_t from = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
        size_t to = start[b];
        if (to - from > 1)
            qsort(tmp + from, to - from, sizeof(*tmp), pair_cmp);
        from = to;
    }
    memcpy(v, tmp, sizeof(*v) * n);
    free(tmp);
    free(start);
    return 0;
}

int code_batch_make(const struct codegen *g, codefmt_rand_fn rnd, size_t n, struct code_batch *out)
{
    memset(out, 0, sizeof(*out));
    /* Every code of a shape has the pattern's length: one block holds them. */
    size_t len = strlen(g->pattern) < PROMO_CODE_MAX ? strlen(g->pattern) : PROMO_CODE_MAX;
    out->v = malloc(sizeof(*out->v) * (n ? n : 1));
    out->text = malloc(2 * (len + 1) * (n ? n : 1));
    if (!out->v || !out->text) {
        code_batch_free(out);
        return -1;
    }
    char *t = out->text;
    for (size_t i = 0; i < n; i++) {
        char *shown = t, *key = t + len + 1;
        t += 2 * (len + 1);
        char buf[PROMO_CODE_MAX + 1], k[CODEFMT_KEY_MAX + 1];
        codefmt_render(g, rnd, buf);
        if (strlen(buf) != len || codefmt_normalize(buf, len, k) != PROMO_OK || strlen(k) > len) {
            code_batch_free(out);
            return -1;
        }
        memcpy(shown, buf, len + 1);
        memcpy(key, k, strlen(k) + 1);
        out->v[i] = (struct code_pair){.key = key, .shown = shown, .head = key_head(key)};
    }
    out->n = n;
    if (pairs_sort(out->v, n) != 0) {
        code_batch_free(out);
        return -1;
    }
    return 0;
}

void code_batch_free(struct code_batch *b)
{
    free(b->v);
    free(b->text);
    memset(b, 0, sizeof(*b));
}

struct code_batch code_batch_slice(const struct code_batch *b, size_t from, size_t n)
{
    if (from > b->n)
        from = b->n;
    if (n > b->n - from)
        n = b->n - from;
    return (struct code_batch){.n = n, .v = b->v + from, .text = NULL};
}

static int char_cmp(const void *a, const void *b)
{
    return *(const unsigned char *)a - *(const unsigned char *)b;
}

void codefmt_shape(const struct codegen *g, char pattern[PROMO_CODE_MAX + 1], char charset[128])
{
    size_t n = 0;
    for (const char *p = g->pattern; *p && n < PROMO_CODE_MAX; p++) {
        if (*p == '-' || *p == ' ' || *p == '\t')
            continue;
        pattern[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    }
    pattern[n] = 0;
    size_t m = strlen(g->charset);
    if (m > 127)
        m = 127;
    memcpy(charset, g->charset, m);
    charset[m] = 0;
    qsort(charset, m, 1, char_cmp);
}
