/* test_codefmt.c — lookup keys, chosen codes, generation patterns, the
 * keyspace rule and rendering with a fixed random sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static enum promo_err norm(const char *s, char key[CODEFMT_KEY_MAX + 1])
{
    return codefmt_normalize(s, strlen(s), key);
}

static enum promo_err shown(const char *s, char out[PROMO_CODE_MAX + 1])
{
    return codefmt_check_shown(s, strlen(s), out);
}

/* A request that must be refused: the field named and the sentence set. */
static void assert_refused(const char *pattern, int64_t length, const char *prefix,
                           const char *postfix, const char *charset, const char *want_field)
{
    struct codegen g;
    const char *field = NULL, *why = NULL;
    assert_int_equal(codefmt_prepare(&g, pattern, length, prefix, postfix, charset, &field, &why),
                     PROMO_BAD_REQUEST);
    assert_non_null(field);
    assert_string_equal(field, want_field);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
}

static struct codegen prepared(const char *pattern, int64_t length, const char *prefix,
                               const char *postfix, const char *charset)
{
    struct codegen g;
    const char *field = NULL, *why = NULL;
    enum promo_err rc = codefmt_prepare(&g, pattern, length, prefix, postfix, charset, &field, &why);
    if (rc != PROMO_OK)
        fail_msg("prepare refused: %s %s", field ? field : "?", why ? why : "?");
    return g;
}

/* ---- normalising ------------------------------------------------------- */

static void typed_code_is_upper_cased_without_spaces_and_dashes(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    assert_int_equal(norm("fall-ab12 cd34", key), PROMO_OK);
    assert_string_equal(key, "FALLAB12CD34");
    assert_int_equal(norm("  FALL-AB12-CD34\t", key), PROMO_OK);
    assert_string_equal(key, "FALLAB12CD34");
    assert_int_equal(norm("f-a-l-l", key), PROMO_OK);
    assert_string_equal(key, "FALL");
}

static void underscore_and_dot_are_kept(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    assert_int_equal(norm("welcome_10.v2", key), PROMO_OK);
    assert_string_equal(key, "WELCOME_10.V2");
}

static void only_the_given_length_is_read(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    assert_int_equal(codefmt_normalize("abcdef", 3, key), PROMO_OK);
    assert_string_equal(key, "ABC");
}

static void empty_key_is_invalid(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    assert_int_equal(norm("", key), PROMO_INVALID_FORMAT);
    assert_int_equal(norm(" - \t--", key), PROMO_INVALID_FORMAT);
    assert_int_equal(codefmt_normalize(NULL, 0, key), PROMO_INVALID_FORMAT);
}

static void key_of_sixty_four_characters_is_the_longest(void **state)
{
    (void)state;
    char in[200], key[CODEFMT_KEY_MAX + 1];
    memset(in, 'A', 64);
    in[64] = '\0';
    assert_int_equal(norm(in, key), PROMO_OK);
    assert_int_equal(strlen(key), 64);
    in[64] = 'B';
    in[65] = '\0';
    assert_int_equal(norm(in, key), PROMO_INVALID_FORMAT);
    /* Dashes do not count towards the key's length. */
    memset(in, '-', 100);
    memset(in + 100, 'C', 64);
    in[164] = '\0';
    assert_int_equal(norm(in, key), PROMO_OK);
    assert_int_equal(strlen(key), 64);
}

static void ten_thousand_characters_are_invalid(void **state)
{
    (void)state;
    static char in[10001];
    char key[CODEFMT_KEY_MAX + 1];
    memset(in, 'a', 10000);
    in[10000] = '\0';
    assert_int_equal(codefmt_normalize(in, 10000, key), PROMO_INVALID_FORMAT);
}

static void nul_byte_inside_the_input_is_invalid(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    assert_int_equal(codefmt_normalize("AB\0CD", 5, key), PROMO_INVALID_FORMAT);
    assert_int_equal(codefmt_normalize("ABCD\0", 5, key), PROMO_INVALID_FORMAT);
    assert_string_equal(key, ""); /* no half-built key is left behind */
}

static void non_ascii_bytes_are_invalid(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    assert_int_equal(norm("CAF\xC3\x89", key), PROMO_INVALID_FORMAT);     /* É */
    assert_int_equal(norm("\xEC\xBF\xA0\xED\x8F\xB0", key), PROMO_INVALID_FORMAT); /* 쿠폰 */
    assert_int_equal(norm("AB\xE2\x80\x90" "CD", key), PROMO_INVALID_FORMAT); /* U+2010 hyphen */
    assert_int_equal(norm("\xFF", key), PROMO_INVALID_FORMAT);
}

static void other_punctuation_is_invalid(void **state)
{
    (void)state;
    char key[CODEFMT_KEY_MAX + 1];
    const char *bad[] = {"AB!CD", "AB/CD", "AB#CD", "AB'CD", "AB\nCD", "AB\rCD", "AB%CD", "AB+CD"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(norm(bad[i], key), PROMO_INVALID_FORMAT);
}

/* ---- codes people choose ----------------------------------------------- */

static void chosen_code_is_trimmed_and_upper_cased(void **state)
{
    (void)state;
    char out[PROMO_CODE_MAX + 1];
    assert_int_equal(shown("  welcome-10\r\n", out), PROMO_OK);
    assert_string_equal(out, "WELCOME-10");
    assert_int_equal(shown("vip_2026.a", out), PROMO_OK);
    assert_string_equal(out, "VIP_2026.A");
}

static void chosen_code_may_not_hold_inner_spaces(void **state)
{
    (void)state;
    char out[PROMO_CODE_MAX + 1];
    assert_int_equal(shown("WELCOME 10", out), PROMO_INVALID_FORMAT);
    assert_int_equal(shown("WELCOME\t10", out), PROMO_INVALID_FORMAT);
}

static void chosen_code_needs_a_key(void **state)
{
    (void)state;
    char out[PROMO_CODE_MAX + 1];
    assert_int_equal(shown("---", out), PROMO_INVALID_FORMAT);
    assert_int_equal(shown("   ", out), PROMO_INVALID_FORMAT);
    assert_int_equal(shown("", out), PROMO_INVALID_FORMAT);
}

static void chosen_code_is_at_most_sixty_four_characters_shown(void **state)
{
    (void)state;
    char in[100], out[PROMO_CODE_MAX + 1];
    memset(in, 'A', 64);
    in[64] = '\0';
    assert_int_equal(shown(in, out), PROMO_OK);
    assert_string_equal(out, in);
    /* Dashes count as shown even though the key drops them. */
    memset(in, '-', 1);
    in[64] = 'A';
    in[65] = '\0';
    assert_int_equal(shown(in, out), PROMO_INVALID_FORMAT);
}

static void chosen_code_refuses_foreign_characters(void **state)
{
    (void)state;
    char out[PROMO_CODE_MAX + 1];
    assert_int_equal(shown("CAF\xC3\x89", out), PROMO_INVALID_FORMAT);
    assert_int_equal(shown("CODE#1", out), PROMO_INVALID_FORMAT);
    assert_int_equal(codefmt_check_shown("AB\0C", 4, out), PROMO_INVALID_FORMAT);
    assert_string_equal(out, "");
}

/* ---- generation requests ----------------------------------------------- */

static void no_shape_gives_twelve_characters_of_the_default_charset(void **state)
{
    (void)state;
    struct codegen g = prepared(NULL, 0, NULL, NULL, NULL);
    assert_string_equal(g.pattern, "############");
    assert_string_equal(g.charset, CODEFMT_DEFAULT_CHARSET);
}

static void pattern_is_kept_upper_cased(void **state)
{
    (void)state;
    struct codegen g = prepared("fall-####-####", 0, NULL, NULL, NULL);
    assert_string_equal(g.pattern, "FALL-####-####");
    g = prepared("x_#.#", 0, "", "", NULL);
    assert_string_equal(g.pattern, "X_#.#");
}

static void length_form_becomes_prefix_hashes_postfix(void **state)
{
    (void)state;
    struct codegen g = prepared(NULL, 10, "fall-", "", NULL);
    assert_string_equal(g.pattern, "FALL-##########");
    g = prepared(NULL, 3, "A", "-z", NULL);
    assert_string_equal(g.pattern, "A###-Z");
    g = prepared(NULL, 0, "VIP-", NULL, NULL);
    assert_string_equal(g.pattern, "VIP-############");
    g = prepared(NULL, 64, NULL, NULL, NULL);
    assert_int_equal(strlen(g.pattern), 64);
}

static void pattern_and_length_together_are_refused(void **state)
{
    (void)state;
    struct codegen g;
    const char *field = NULL, *why = NULL;
    assert_int_equal(codefmt_prepare(&g, "####", 4, NULL, NULL, NULL, &field, &why),
                     PROMO_BAD_REQUEST);
    assert_string_equal(field, "pattern");
    assert_string_equal(why, "give either pattern or length, not both");
}

static void pattern_with_prefix_or_postfix_is_refused(void **state)
{
    (void)state;
    assert_refused("####", 0, "FALL-", NULL, NULL, "prefix");
    assert_refused("####", 0, NULL, "-X", NULL, "postfix");
}

static void bad_patterns_are_refused(void **state)
{
    (void)state;
    char long_pattern[100];
    memset(long_pattern, '#', 65);
    long_pattern[65] = '\0';
    assert_refused("", 0, NULL, NULL, NULL, "pattern");
    assert_refused("FALL-SALE", 0, NULL, NULL, NULL, "pattern");
    assert_refused(long_pattern, 0, NULL, NULL, NULL, "pattern");
    assert_refused("FALL ####", 0, NULL, NULL, NULL, "pattern");
    assert_refused("FALL/####", 0, NULL, NULL, NULL, "pattern");
    assert_refused("\xC3\x89####", 0, NULL, NULL, NULL, "pattern");
    long_pattern[64] = '\0';
    struct codegen g = prepared(long_pattern, 0, NULL, NULL, NULL);
    assert_int_equal(strlen(g.pattern), 64);
}

static void bad_lengths_are_refused(void **state)
{
    (void)state;
    assert_refused(NULL, -1, NULL, NULL, NULL, "length");
    assert_refused(NULL, 65, NULL, NULL, NULL, "length");
    assert_refused(NULL, INT64_MAX, NULL, NULL, NULL, "length");
    assert_refused(NULL, 60, "FALL-", NULL, NULL, "length"); /* 65 in all */
    assert_refused(NULL, 60, NULL, "-2026", NULL, "length");
    struct codegen g = prepared(NULL, 59, "FALL-", NULL, NULL);
    assert_int_equal(strlen(g.pattern), 64);
}

static void prefix_and_postfix_must_be_code_characters(void **state)
{
    (void)state;
    assert_refused(NULL, 8, "FALL!", NULL, NULL, "prefix");
    assert_refused(NULL, 8, "FALL#", NULL, NULL, "prefix");
    assert_refused(NULL, 8, NULL, " X", NULL, "postfix");
}

static void charset_letters_are_upper_cased(void **state)
{
    (void)state;
    struct codegen g = prepared("####", 0, NULL, NULL, "abc123");
    assert_string_equal(g.charset, "ABC123");
}

static void bad_charsets_are_refused(void **state)
{
    (void)state;
    assert_refused(NULL, 8, NULL, NULL, "", "charset");
    assert_refused(NULL, 8, NULL, NULL, "A", "charset");
    assert_refused(NULL, 8, NULL, NULL, "ABA", "charset");
    assert_refused(NULL, 8, NULL, NULL, "aA", "charset"); /* same once normalised */
    assert_refused(NULL, 8, NULL, NULL, "AB-", "charset");
    assert_refused(NULL, 8, NULL, NULL, "AB ", "charset");
    assert_refused(NULL, 8, NULL, NULL, "AB_", "charset");
    assert_refused(NULL, 8, NULL, NULL, "AB#", "charset");
    assert_refused(NULL, 8, NULL, NULL, "AB\xC3\x89", "charset");
    char all[200];
    memset(all, 'Q', 150);
    all[150] = '\0';
    assert_refused(NULL, 8, NULL, NULL, all, "charset");
}

static void charset_of_every_letter_and_digit_is_allowed(void **state)
{
    (void)state;
    const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct codegen g = prepared(NULL, 8, NULL, NULL, all);
    assert_string_equal(g.charset, all);
    g = prepared(NULL, 8, NULL, NULL, "01");
    assert_string_equal(g.charset, "01");
}

/* ---- keyspace ---------------------------------------------------------- */

static void keyspace_is_hashes_times_log_of_charset(void **state)
{
    (void)state;
    struct codegen g = prepared("FALL-####", 0, NULL, NULL, "0123456789");
    assert_float_equal(codefmt_log10_keyspace(&g), 4.0, 1e-9);
    g = prepared(NULL, 12, NULL, NULL, NULL);
    assert_float_equal(codefmt_log10_keyspace(&g), 12 * 1.4913616938, 1e-6); /* log10 31 */
}

static void four_digits_cannot_hold_a_single_code(void **state)
{
    (void)state;
    struct codegen g = prepared("####", 0, NULL, NULL, "0123456789");
    assert_int_equal(codefmt_keyspace_check(&g, 1), PROMO_KEYSPACE_TOO_SMALL);
    assert_int_equal(codefmt_keyspace_check(&g, 0), PROMO_OK);
    assert_int_equal(codefmt_keyspace_check(&g, -5), PROMO_OK);
}

static void seven_digits_hold_exactly_ten_codes(void **state)
{
    (void)state;
    struct codegen g = prepared("#######", 0, NULL, NULL, "0123456789");
    assert_int_equal(codefmt_keyspace_check(&g, 10), PROMO_OK);
    assert_int_equal(codefmt_keyspace_check(&g, 11), PROMO_KEYSPACE_TOO_SMALL);
    g = prepared("######", 0, NULL, NULL, "0123456789");
    assert_int_equal(codefmt_keyspace_check(&g, 1), PROMO_OK); /* exactly 10^6 */
}

static void default_charset_boundaries_are_exact(void **state)
{
    (void)state;
    /* 31^4 = 923521 strings: not even one code. */
    struct codegen g = prepared("####", 0, NULL, NULL, NULL);
    assert_int_equal(codefmt_keyspace_check(&g, 1), PROMO_KEYSPACE_TOO_SMALL);
    /* 31^5 = 28629151: 28 codes keep 10^6 strings each, 29 do not. */
    g = prepared("X-#####", 0, NULL, NULL, NULL);
    assert_int_equal(codefmt_keyspace_check(&g, 28), PROMO_OK);
    assert_int_equal(codefmt_keyspace_check(&g, 29), PROMO_KEYSPACE_TOO_SMALL);
}

static void large_counts_are_judged_exactly(void **state)
{
    (void)state;
    /* 10^20 strings hold exactly 10^14 codes; one more is too many, even
     * though the logarithms differ only in the fifteenth digit. */
    struct codegen g = prepared(NULL, 20, NULL, NULL, "0123456789");
    assert_int_equal(codefmt_keyspace_check(&g, 100000000000000LL), PROMO_OK);
    assert_int_equal(codefmt_keyspace_check(&g, 100000000000001LL), PROMO_KEYSPACE_TOO_SMALL);
    /* The largest pattern takes any count without overflowing. */
    g = prepared(NULL, 64, NULL, NULL, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    assert_int_equal(codefmt_keyspace_check(&g, INT64_MAX), PROMO_OK);
    /* 2^64 = 18446744073709551616 strings: 18446744073709 codes fit. */
    g = prepared(NULL, 64, NULL, NULL, "01");
    assert_int_equal(codefmt_keyspace_check(&g, 18446744073709LL), PROMO_OK);
    assert_int_equal(codefmt_keyspace_check(&g, 18446744073710LL), PROMO_KEYSPACE_TOO_SMALL);
    assert_int_equal(codefmt_keyspace_check(&g, INT64_MAX), PROMO_KEYSPACE_TOO_SMALL);
}

/* ---- rendering ----------------------------------------------------------- */

static const uint32_t *script;
static size_t script_pos;
static uint32_t last_upper;

static uint32_t scripted(uint32_t upper)
{
    last_upper = upper;
    return script[script_pos++];
}

static void render_replaces_each_hash_in_order(void **state)
{
    (void)state;
    static const uint32_t seq[] = {2, 0, 1, 2};
    struct codegen g = prepared("ab-##-##", 0, NULL, NULL, "xyz");
    char out[PROMO_CODE_MAX + 1];
    script = seq;
    script_pos = 0;
    codefmt_render(&g, scripted, out);
    assert_string_equal(out, "AB-ZX-YZ");
    assert_int_equal(script_pos, 4); /* one draw per '#', none for literals */
    assert_int_equal(last_upper, 3); /* draws over the whole charset */
}

static void rendered_code_normalises_to_its_own_key(void **state)
{
    (void)state;
    static const uint32_t seq[] = {0, 30, 15, 7, 1, 29, 3, 22, 9, 11, 4, 28};
    struct codegen g = prepared("FALL-####-####-####", 0, NULL, NULL, NULL);
    char out[PROMO_CODE_MAX + 1], key[CODEFMT_KEY_MAX + 1], back[PROMO_CODE_MAX + 1];
    script = seq;
    script_pos = 0;
    codefmt_render(&g, scripted, out);
    assert_string_equal(out, "FALL-A9SH-B8DZ-KNE7");
    assert_int_equal(last_upper, 31);
    assert_int_equal(codefmt_normalize(out, strlen(out), key), PROMO_OK);
    assert_string_equal(key, "FALLA9SHB8DZKNE7");
    assert_int_equal(shown(out, back), PROMO_OK);
    assert_string_equal(back, out);
}

/* A counter as the random source: every draw differs from the last, so a
 * batch holds many distinct codes in a known, unsorted order. */
static uint32_t counter_state;
static uint32_t counting(uint32_t upper)
{
    counter_state = counter_state * 1103515245u + 12345u;
    return (counter_state >> 8) % upper;
}

static void batch_is_ordered_by_key_and_keys_match_codes(void **state)
{
    (void)state;
    struct codegen g = prepared("ab-####", 0, NULL, NULL, "XYZ123");
    struct code_batch b;
    counter_state = 7;
    assert_int_equal(code_batch_make(&g, counting, 5000, &b), 0);
    assert_int_equal(b.n, 5000);
    size_t unsorted_input = 0;
    for (size_t i = 0; i < b.n; i++) {
        char key[CODEFMT_KEY_MAX + 1];
        assert_int_equal(strlen(b.v[i].shown), 7);
        assert_int_equal(codefmt_normalize(b.v[i].shown, 7, key), PROMO_OK);
        assert_string_equal(key, b.v[i].key);
        assert_memory_equal(b.v[i].key, "AB", 2);
        if (i > 0)
            assert_true(strcmp(b.v[i - 1].key, b.v[i].key) <= 0);
    }
    /* The source did not produce them in order: the batch sorted them. */
    counter_state = 7;
    char prev[PROMO_CODE_MAX + 1] = "", cur[PROMO_CODE_MAX + 1];
    for (int i = 0; i < 100; i++) {
        codefmt_render(&g, counting, cur);
        unsorted_input += strcmp(prev, cur) > 0;
        strcpy(prev, cur);
    }
    assert_true(unsorted_input > 10);
    code_batch_free(&b);
    assert_null(b.v);
}

static void batch_orders_keys_that_share_a_long_prefix(void **state)
{
    (void)state;
    /* Keys equal in their first eight bytes are ordered by the rest. */
    struct codegen g = prepared("SAMEPREFIX##", 0, NULL, NULL, "AB");
    struct code_batch b;
    counter_state = 3;
    assert_int_equal(code_batch_make(&g, counting, 64, &b), 0);
    for (size_t i = 1; i < b.n; i++)
        assert_true(strcmp(b.v[i - 1].key, b.v[i].key) <= 0);
    assert_string_equal(b.v[0].key, "SAMEPREFIXAA");
    assert_string_equal(b.v[b.n - 1].key, "SAMEPREFIXBB");
    code_batch_free(&b);
}

static void batch_slice_borrows_and_stays_in_bounds(void **state)
{
    (void)state;
    struct codegen g = prepared("####", 0, NULL, NULL, "ABCDEFGH");
    struct code_batch b;
    counter_state = 11;
    assert_int_equal(code_batch_make(&g, counting, 10, &b), 0);
    struct code_batch s = code_batch_slice(&b, 4, 3);
    assert_int_equal(s.n, 3);
    assert_ptr_equal(s.v, b.v + 4);
    assert_null(s.text);
    s = code_batch_slice(&b, 8, 50);
    assert_int_equal(s.n, 2);
    s = code_batch_slice(&b, 12, 1);
    assert_int_equal(s.n, 0);
    code_batch_free(&b);
}

static void batch_of_nothing_is_empty(void **state)
{
    (void)state;
    struct codegen g = prepared("####", 0, NULL, NULL, "ABCDEFGH");
    struct code_batch b;
    assert_int_equal(code_batch_make(&g, counting, 0, &b), 0);
    assert_int_equal(b.n, 0);
    code_batch_free(&b);
}

static void shape_ignores_dashes_case_and_charset_order(void **state)
{
    (void)state;
    struct codegen a = {.pattern = "fall-####-####", .charset = "ZYX321"};
    struct codegen b = {.pattern = "FALL########", .charset = "123XYZ"};
    char pa[PROMO_CODE_MAX + 1], ca[128], pb[PROMO_CODE_MAX + 1], cb[128];
    codefmt_shape(&a, pa, ca);
    codefmt_shape(&b, pb, cb);
    assert_string_equal(pa, "FALL########");
    assert_string_equal(ca, "123XYZ");
    assert_string_equal(pa, pb);
    assert_string_equal(ca, cb);
    struct codegen c = {.pattern = "FALL#######", .charset = "123XYZ"};
    codefmt_shape(&c, pb, cb);
    assert_string_not_equal(pa, pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typed_code_is_upper_cased_without_spaces_and_dashes),
        cmocka_unit_test(underscore_and_dot_are_kept),
        cmocka_unit_test(only_the_given_length_is_read),
        cmocka_unit_test(empty_key_is_invalid),
        cmocka_unit_test(key_of_sixty_four_characters_is_the_longest),
        cmocka_unit_test(ten_thousand_characters_are_invalid),
        cmocka_unit_test(nul_byte_inside_the_input_is_invalid),
        cmocka_unit_test(non_ascii_bytes_are_invalid),
        cmocka_unit_test(other_punctuation_is_invalid),
        cmocka_unit_test(chosen_code_is_trimmed_and_upper_cased),
        cmocka_unit_test(chosen_code_may_not_hold_inner_spaces),
        cmocka_unit_test(chosen_code_needs_a_key),
        cmocka_unit_test(chosen_code_is_at_most_sixty_four_characters_shown),
        cmocka_unit_test(chosen_code_refuses_foreign_characters),
        cmocka_unit_test(no_shape_gives_twelve_characters_of_the_default_charset),
        cmocka_unit_test(pattern_is_kept_upper_cased),
        cmocka_unit_test(length_form_becomes_prefix_hashes_postfix),
        cmocka_unit_test(pattern_and_length_together_are_refused),
        cmocka_unit_test(pattern_with_prefix_or_postfix_is_refused),
        cmocka_unit_test(bad_patterns_are_refused),
        cmocka_unit_test(bad_lengths_are_refused),
        cmocka_unit_test(prefix_and_postfix_must_be_code_characters),
        cmocka_unit_test(charset_letters_are_upper_cased),
        cmocka_unit_test(bad_charsets_are_refused),
        cmocka_unit_test(charset_of_every_letter_and_digit_is_allowed),
        cmocka_unit_test(keyspace_is_hashes_times_log_of_charset),
        cmocka_unit_test(four_digits_cannot_hold_a_single_code),
        cmocka_unit_test(seven_digits_hold_exactly_ten_codes),
        cmocka_unit_test(default_charset_boundaries_are_exact),
        cmocka_unit_test(large_counts_are_judged_exactly),
        cmocka_unit_test(render_replaces_each_hash_in_order),
        cmocka_unit_test(rendered_code_normalises_to_its_own_key),
        cmocka_unit_test(shape_ignores_dashes_case_and_charset_order),
        cmocka_unit_test(batch_is_ordered_by_key_and_keys_match_codes),
        cmocka_unit_test(batch_orders_keys_that_share_a_long_prefix),
        cmocka_unit_test(batch_slice_borrows_and_stays_in_bounds),
        cmocka_unit_test(batch_of_nothing_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
