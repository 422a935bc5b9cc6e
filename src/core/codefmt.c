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
