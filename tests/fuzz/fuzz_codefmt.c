/* fuzz_codefmt.c — what a typed or chosen code and a generation request
 * may look like (core/codefmt.c). The whole input is a typed code for
 * codefmt_normalize and codefmt_check_shown; split on '\n' it is a
 * generation request (pattern, length, prefix, postfix, charset; an empty
 * field is absent) for codefmt_prepare, then codefmt_render. Checked:
 * a key is its own key, a shown code keys like the text it came from,
 * and every rendered code is a valid code of its pattern. */
#include "fuzz.h"

#include "core/core.h"

static void check_typed(const char *in, size_t n)
{
    char key[CODEFMT_KEY_MAX + 1], again[CODEFMT_KEY_MAX + 1], shown[PROMO_CODE_MAX + 1];
    if (codefmt_normalize(in, n, key) == PROMO_OK) {
        size_t k = strlen(key);
        FUZZ_CHECK(k >= 1 && k <= CODEFMT_KEY_MAX);
        for (size_t i = 0; i < k; i++)
            FUZZ_CHECK((key[i] >= 'A' && key[i] <= 'Z') || (key[i] >= '0' && key[i] <= '9') || key[i] == '_' ||
                       key[i] == '.');
        FUZZ_CHECK(codefmt_normalize(key, k, again) == PROMO_OK && strcmp(again, key) == 0);
    } else {
        FUZZ_CHECK(key[0] == 0);
    }
    if (codefmt_check_shown(in, n, shown) == PROMO_OK) {
        size_t s = strlen(shown);
        FUZZ_CHECK(s >= 1 && s <= PROMO_CODE_MAX);
        /* The shown form is the same code as the typed text (when that
         * text is a typed code at all: shown forms also trim newlines). */
        FUZZ_CHECK(codefmt_normalize(shown, s, again) == PROMO_OK);
        if (codefmt_normalize(in, n, key) == PROMO_OK)
            FUZZ_CHECK(strcmp(again, key) == 0);
    } else {
        FUZZ_CHECK(shown[0] == 0);
    }
}

/* Splits a copy of the input on '\n' into at most 5 fields (NULL when
 * empty or missing). */
static void split(char *s, const char *f[5])
{
    for (int i = 0; i < 5; i++) {
        f[i] = s && *s && *s != '\n' ? s : NULL;
        char *nl = s ? strchr(s, '\n') : NULL;
        if (nl)
            *nl = 0;
        s = nl ? nl + 1 : NULL;
    }
}

static uint32_t seq_state;
static uint32_t seq_rand(uint32_t upper) /* deterministic, any value: render must not trust it */
{
    seq_state = seq_state * 1103515245u + 12345u;
    return upper ? (seq_state >> 8) % upper : 0;
}

static void check_rendered(const struct codegen *g)
{
    char out[PROMO_CODE_MAX + 1], shown[PROMO_CODE_MAX + 1], key[CODEFMT_KEY_MAX + 1];
    size_t plen = strlen(g->pattern);
    FUZZ_CHECK(plen >= 1 && plen <= PROMO_CODE_MAX && strlen(g->charset) >= 2);
    for (int round = 0; round < 4; round++) {
        codefmt_render(g, seq_rand, out);
        FUZZ_CHECK(strlen(out) == plen);
        for (size_t i = 0; i < plen; i++)
            FUZZ_CHECK(g->pattern[i] == '#' ? strchr(g->charset, out[i]) != NULL : out[i] == g->pattern[i]);
        FUZZ_CHECK(codefmt_check_shown(out, plen, shown) == PROMO_OK && strcmp(shown, out) == 0);
        FUZZ_CHECK(codefmt_normalize(out, plen, key) == PROMO_OK);
    }
    char sp[PROMO_CODE_MAX + 1], sc[128];
    codefmt_shape(g, sp, sc);
    FUZZ_CHECK(strlen(sc) == strlen(g->charset));
    /* The exact keyspace guard agrees with the logarithm away from the edge. */
    double l = codefmt_log10_keyspace(g);
    enum promo_err one = codefmt_keyspace_check(g, 1);
    if (l > 6.000001)
        FUZZ_CHECK(one == PROMO_OK);
    if (l < 5.999999)
        FUZZ_CHECK(one == PROMO_KEYSPACE_TOO_SMALL);
    FUZZ_CHECK(codefmt_keyspace_check(g, 0) == PROMO_OK);
    if (codefmt_keyspace_check(g, 1000) == PROMO_OK)
        FUZZ_CHECK(one == PROMO_OK); /* fewer codes never need more room */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_body(data, size);
    check_typed(text, size);
    const char *f[5];
    split(text, f);
    int64_t length = f[1] ? strtoll(f[1], NULL, 10) : 0;
    struct codegen g;
    const char *field = NULL, *why = NULL;
    seq_state = (uint32_t)size;
    if (codefmt_prepare(&g, f[0], length, f[2], f[3], f[4], &field, &why) == PROMO_OK)
        check_rendered(&g);
    else
        FUZZ_CHECK(field && why);
    free(text);
    return 0;
}
