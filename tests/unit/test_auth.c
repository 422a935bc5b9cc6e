/* test_auth.c — which roles an OAuth client may ask for, what a storefront
 * token is told, and how a form body (the token endpoint's) decodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "util/arena.h"
#include "util/form.h"

static const enum role ROLES[] = {ROLE_ADMIN, ROLE_MARKETER, ROLE_INTEGRATION, ROLE_STOREFRONT, ROLE_VIEWER};
#define NROLES (sizeof ROLES / sizeof ROLES[0])

/* ---- roles -------------------------------------------------------------------------- */

static void every_role_covers_itself_and_admin_covers_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROLES; i++) {
        assert_true(core_role_covers(ROLES[i], ROLES[i]));
        assert_true(core_role_covers(ROLE_ADMIN, ROLES[i]));
    }
}

static void only_strictly_narrower_roles_are_covered(void **state)
{
    (void)state;
    assert_true(core_role_covers(ROLE_MARKETER, ROLE_VIEWER));
    assert_true(core_role_covers(ROLE_INTEGRATION, ROLE_STOREFRONT));
    /* viewer reads campaigns: neither integration nor storefront may */
    assert_false(core_role_covers(ROLE_INTEGRATION, ROLE_VIEWER));
    assert_false(core_role_covers(ROLE_STOREFRONT, ROLE_VIEWER));
    assert_false(core_role_covers(ROLE_VIEWER, ROLE_STOREFRONT));
    assert_false(core_role_covers(ROLE_MARKETER, ROLE_INTEGRATION));
    assert_false(core_role_covers(ROLE_STOREFRONT, ROLE_INTEGRATION));
    for (size_t i = 1; i < NROLES; i++)
        assert_false(core_role_covers(ROLES[i], ROLE_ADMIN));
}

static void unknown_roles_cover_nothing_and_are_never_covered(void **state)
{
    (void)state;
    assert_int_equal(core_role_parse("root"), 0);
    assert_int_equal(core_role_parse(NULL), 0);
    assert_false(core_role_covers(0, ROLE_VIEWER));
    assert_false(core_role_covers(ROLE_ADMIN, 0));
    for (size_t i = 0; i < NROLES; i++)
        assert_int_equal(core_role_parse(core_role_name(ROLES[i])), ROLES[i]);
}

/* ---- coarse reasons ----------------------------------------------------------------- */

static void storefront_reasons_fall_into_three(void **state)
{
    (void)state;
    int seen_invalid = 0;
    for (int e = 0; e < PROMO_ERR__COUNT; e++) {
        if (!promo_err_is_reason((enum promo_err)e) || e == PROMO_RATE_LIMITED)
            continue;
        enum promo_err c = core_coarse_reason((enum promo_err)e);
        assert_true(c == PROMO_SF_CODE_INVALID || c == PROMO_SF_CODE_EXPIRED || c == PROMO_SF_CODE_REDEEMED);
        seen_invalid += c == PROMO_SF_CODE_INVALID;
    }
    assert_true(seen_invalid >= 12);
    assert_int_equal(core_coarse_reason(PROMO_CODE_EXPIRED), PROMO_SF_CODE_EXPIRED);
    assert_int_equal(core_coarse_reason(PROMO_CODE_NOT_YET_VALID), PROMO_SF_CODE_EXPIRED);
    assert_int_equal(core_coarse_reason(PROMO_CAMPAIGN_INACTIVE), PROMO_SF_CODE_EXPIRED);
    assert_int_equal(core_coarse_reason(PROMO_CODE_REDEEMED), PROMO_SF_CODE_REDEEMED);
    assert_int_equal(core_coarse_reason(PROMO_CODE_NOT_FOUND), PROMO_SF_CODE_INVALID);
    assert_int_equal(core_coarse_reason(PROMO_INVALID_FORMAT), PROMO_SF_CODE_INVALID);
    assert_int_equal(core_coarse_reason(PROMO_CODE_DISABLED), PROMO_SF_CODE_INVALID);
    assert_int_equal(core_coarse_reason(PROMO_MIN_ORDER_NOT_MET), PROMO_SF_CODE_INVALID);
    assert_int_equal(core_coarse_reason(PROMO_CURRENCY_MISMATCH), PROMO_SF_CODE_INVALID);
}

static void non_refusals_pass_unchanged(void **state)
{
    (void)state;
    assert_int_equal(core_coarse_reason(PROMO_OK), PROMO_OK);
    assert_int_equal(core_coarse_reason(PROMO_RATE_LIMITED), PROMO_RATE_LIMITED);
    assert_int_equal(core_coarse_reason(PROMO_INTERNAL), PROMO_INTERNAL);
    assert_int_equal(core_coarse_reason(PROMO_BAD_REQUEST), PROMO_BAD_REQUEST);
}

static void coarse_codes_are_reasons_with_their_own_words(void **state)
{
    (void)state;
    const enum promo_err coarse[] = {PROMO_SF_CODE_INVALID, PROMO_SF_CODE_EXPIRED, PROMO_SF_CODE_REDEEMED};
    const char *codes[] = {"code_invalid", "code_expired", "code_redeemed"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(promo_err_is_reason(coarse[i]));
        assert_int_equal(promo_err_status(coarse[i]), 422);
        assert_string_equal(promo_err_code(coarse[i]), codes[i]);
        assert_true(strlen(promo_err_message(coarse[i], PROMO_LANG_EN)) > 0);
        assert_string_not_equal(promo_err_message(coarse[i], PROMO_LANG_KO),
                                promo_err_message(coarse[i], PROMO_LANG_EN));
    }
    /* "expired" covers "not yet valid" too: its words must not say expired */
    assert_string_not_equal(promo_err_message(PROMO_SF_CODE_EXPIRED, PROMO_LANG_EN),
                            promo_err_message(PROMO_CODE_EXPIRED, PROMO_LANG_EN));
    /* the shared machine codes parse back to the fine reasons */
    assert_int_equal(promo_err_from_code("code_expired"), PROMO_CODE_EXPIRED);
    assert_int_equal(promo_err_from_code("code_redeemed"), PROMO_CODE_REDEEMED);
    assert_int_equal(promo_err_from_code("code_invalid"), PROMO_SF_CODE_INVALID);
    assert_false(promo_err_is_reason(PROMO_INTERNAL));
    assert_false(promo_err_is_reason(PROMO_KEYSPACE_TOO_SMALL));
}

/* ---- form bodies -------------------------------------------------------------------- */

static const char *unescaped(const char *in)
{
    static char out[256];
    return util_form_unescape(in, strlen(in), out) < 0 ? NULL : out;
}

static void plus_is_a_space_and_percent_escapes_decode(void **state)
{
    (void)state;
    assert_string_equal(unescaped("a+b"), "a b");
    assert_string_equal(unescaped("%41%62%2b%2B"), "Ab++");
    assert_string_equal(unescaped("%3A%25"), ":%");
    assert_string_equal(unescaped("%ED%95%9C"), "\xED\x95\x9C");
    assert_string_equal(unescaped(""), "");
}

static void broken_escapes_and_nul_are_refused(void **state)
{
    (void)state;
    assert_null(unescaped("%"));
    assert_null(unescaped("%4"));
    assert_null(unescaped("%4g"));
    assert_null(unescaped("abc%"));
    assert_null(unescaped("%00"));
    char out[8];
    assert_int_equal(util_form_unescape("a\0b", 3, out), -1);
}

static void a_body_splits_into_fields_in_order(void **state)
{
    (void)state;
    struct arena a = {0};
    struct util_form_field *f;
    size_t n;
    const char *body = "grant_type=client_credentials&&scope=a+b&flag&client_id=x%3Ay&=v";
    assert_int_equal(util_form_parse(&a, body, strlen(body), &f, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(f[0].name, "grant_type");
    assert_string_equal(f[0].value, "client_credentials");
    assert_string_equal(f[1].value, "a b");
    assert_string_equal(f[2].name, "flag");
    assert_string_equal(f[2].value, "");
    assert_string_equal(f[3].value, "x:y");
    assert_string_equal(f[4].name, "");
    assert_int_equal(util_form_parse(&a, "", 0, &f, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(util_form_parse(&a, "a=%zz", 5, &f, &n), -1);
    arena_free(&a);
}

static void too_many_fields_are_refused(void **state)
{
    (void)state;
    struct arena a = {0};
    char body[UTIL_FORM_FIELDS_MAX * 4 + 8] = "";
    for (int i = 0; i <= UTIL_FORM_FIELDS_MAX; i++)
        strcat(body, "a=1&");
    struct util_form_field *f;
    size_t n;
    assert_int_equal(util_form_parse(&a, body, strlen(body), &f, &n), -1);
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_role_covers_itself_and_admin_covers_all),
        cmocka_unit_test(only_strictly_narrower_roles_are_covered),
        cmocka_unit_test(unknown_roles_cover_nothing_and_are_never_covered),
        cmocka_unit_test(storefront_reasons_fall_into_three),
        cmocka_unit_test(non_refusals_pass_unchanged),
        cmocka_unit_test(coarse_codes_are_reasons_with_their_own_words),
        cmocka_unit_test(plus_is_a_space_and_percent_escapes_decode),
        cmocka_unit_test(broken_escapes_and_nul_are_refused),
        cmocka_unit_test(a_body_splits_into_fields_in_order),
        cmocka_unit_test(too_many_fields_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
