/* test_mask.c — what the audit log may write down about a path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mask.h"

static const char *masked(const char *path)
{
    static char out[256];
    core_mask_path(path, out, sizeof out);
    return out;
}

static void a_code_in_a_path_keeps_two_characters_each_side(void **state)
{
    (void)state;
    assert_string_equal(masked("/v1/codes/FALL-AB12-CD34"), "/v1/codes/FA" MASK_ELLIPSIS "34");
    assert_string_equal(masked("/v1/codes/FALL-AB12-CD34/disable"), "/v1/codes/FA" MASK_ELLIPSIS "34/disable");
}

static void a_short_code_is_masked_whole(void **state)
{
    (void)state;
    assert_string_equal(masked("/v1/codes/ABCDE/disable"), "/v1/codes/" MASK_ELLIPSIS "/disable");
    assert_string_equal(masked("/v1/codes/A"), "/v1/codes/" MASK_ELLIPSIS);
    assert_string_equal(masked("/v1/codes/"), "/v1/codes/" MASK_ELLIPSIS);
    assert_string_equal(masked("/v1/codes//disable"), "/v1/codes/" MASK_ELLIPSIS "/disable");
}

static void paths_without_codes_are_kept(void **state)
{
    (void)state;
    assert_string_equal(masked("/v1/campaigns/cmp_abc/codes"), "/v1/campaigns/cmp_abc/codes");
    assert_string_equal(masked("/v1/validate"), "/v1/validate");
    assert_string_equal(masked("/v1/codesX/ABCDEFGH"), "/v1/codesX/ABCDEFGH");
}

static void bytes_that_are_not_printable_ascii_become_question_marks(void **state)
{
    (void)state;
    assert_string_equal(masked("/v1/x\n\x01y\xff z"), "/v1/x??y??z");
    assert_string_equal(masked("/v1/codes/\xc3\xa9" "ABCDEF\xc3\xa9"), "/v1/codes/??" MASK_ELLIPSIS "??");
}

static void a_long_path_is_cut_but_never_inside_the_mask(void **state)
{
    (void)state;
    char out[16];
    core_mask_path("/v1/campaigns/cmp_0123456789", out, sizeof out);
    assert_string_equal(out, "/v1/campaigns/c");
    char small[18];
    core_mask_path("/v1/codes/ABCDEFGHIJ", small, sizeof small);
    assert_string_equal(small, "/v1/codes/AB" MASK_ELLIPSIS "IJ");
    core_mask_path("/v1/codes/ABCDEFGHIJ", out, sizeof out);
    assert_string_equal(out, "/v1/codes/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_code_in_a_path_keeps_two_characters_each_side),
        cmocka_unit_test(a_short_code_is_masked_whole),
        cmocka_unit_test(paths_without_codes_are_kept),
        cmocka_unit_test(bytes_that_are_not_printable_ascii_become_question_marks),
        cmocka_unit_test(a_long_path_is_cut_but_never_inside_the_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
