/* test_template.c — message templates: what is refused at save time, how
 * values are filled, escaped and formatted; the webhook signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify/retry.h"
#include "notify/sign.h"
#include "notify/template.h"

static char err[TPL_ERR_MAX];

static char *render(const char *text, const char *data_json, bool html)
{
    json_t *d = json_loads(data_json, 0, NULL);
    assert_non_null(d);
    char *s = tpl_render(text, d, html, err, sizeof err);
    json_decref(d);
    return s;
}

static void known_variables_pass_the_check_and_are_listed_once(void **state)
{
    (void)state;
    json_t *vars = json_array();
    assert_int_equal(tpl_check("Hi {{customer.name}}, {{ code }} {{code}} {{cart.items.0.name}} "
                               "{{event.data.sku}} {{customer.attributes.tier}}",
                               vars, err, sizeof err),
                     0);
    assert_int_equal(json_array_size(vars), 5);
    assert_string_equal(json_string_value(json_array_get(vars, 0)), "customer.name");
    json_decref(vars);
}

static void an_unknown_variable_is_named(void **state)
{
    (void)state;
    assert_int_equal(tpl_check("Hi {{customer.nmae}}", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "{{customer.nmae}}"));
    assert_int_equal(tpl_check("{{cart.items.x.name}}", NULL, err, sizeof err), -1);
    assert_int_equal(tpl_check("{{cart.items.0.colour}}", NULL, err, sizeof err), -1);
    assert_int_equal(tpl_check("{{event.}}", NULL, err, sizeof err), -1);
}

static void bad_syntax_is_refused_with_its_position(void **state)
{
    (void)state;
    assert_int_equal(tpl_check("Hello {{customer.name", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "unclosed {{ at character 7"));
    assert_int_equal(tpl_check("a {{ x y }}", NULL, err, sizeof err), -1);
    assert_int_equal(tpl_check("a {{}}", NULL, err, sizeof err), -1);
    assert_int_equal(tpl_check("plain text } and }} are fine", NULL, err, sizeof err), 0);
}

static void values_are_filled_and_missing_ones_are_empty(void **state)
{
    (void)state;
    char *s = render("Hi {{customer.name}}, use {{code}} on {{cart.items.1.name}} x{{cart.items.1.quantity}}{{order.id}}.",
                     "{\"customer\":{\"name\":\"Mina\"},\"code\":\"FALL-1234\","
                     "\"cart\":{\"items\":[{\"name\":\"hat\"},{\"name\":\"coat\",\"quantity\":2}]}}",
                     false);
    assert_non_null(s);
    assert_string_equal(s, "Hi Mina, use FALL-1234 on coat x2.");
    free(s);
}

static void html_bodies_escape_values_but_not_markup(void **state)
{
    (void)state;
    char *s = render("<p>{{customer.name}}</p>", "{\"customer\":{\"name\":\"<b>A&B</b> \\\"q\\\" 'x'\"}}", true);
    assert_string_equal(s, "<p>&lt;b&gt;A&amp;B&lt;/b&gt; &quot;q&quot; &#39;x&#39;</p>");
    free(s);
    s = render("{{customer.name}}", "{\"customer\":{\"name\":\"<b>\"}}", false);
    assert_string_equal(s, "<b>");
    free(s);
}

static void money_follows_the_locale_and_currency(void **state)
{
    (void)state;
    char out[64];
    tpl_format_money(1234567, "KRW", TPL_KO, out, sizeof out);
    assert_string_equal(out, "1,234,567원");
    tpl_format_money(5000, "KRW", TPL_EN, out, sizeof out);
    assert_string_equal(out, "₩5,000");
    tpl_format_money(123456, "USD", TPL_EN, out, sizeof out);
    assert_string_equal(out, "$1,234.56");
    tpl_format_money(5, "CHF", TPL_EN, out, sizeof out);
    assert_string_equal(out, "0.05 CHF");
    tpl_format_money(-999, NULL, TPL_EN, out, sizeof out);
    assert_string_equal(out, "-999");
    char *s = render("{{discount}} off", "{\"discount\":5000,\"currency\":\"KRW\",\"customer\":{\"locale\":\"ko-KR\"}}",
                     false);
    assert_string_equal(s, "5,000원 off");
    free(s);
    s = render("{{discount}} off", "{\"discount\":\"15%\"}", false);
    assert_string_equal(s, "15% off");
    free(s);
}

static void dates_are_in_the_customers_zone_and_language(void **state)
{
    (void)state;
    /* 2026-12-02T20:00:00Z is already December 3 in Seoul (UTC+9) */
    char *s = render("{{expires_at}}",
                     "{\"expires_at\":\"2026-12-02T20:00:00Z\",\"customer\":{\"locale\":\"ko\",\"timezone\":\"Asia/Seoul\"}}",
                     false);
    assert_string_equal(s, "2026년 12월 3일");
    free(s);
    s = render("{{expires_at}}", "{\"expires_at\":\"2026-12-02T20:00:00Z\",\"customer\":{\"locale\":\"en\"}}", false);
    assert_string_equal(s, "December 2, 2026");
    free(s);
    assert_int_equal(tpl_lang_of("ko_KR"), TPL_KO);
    assert_int_equal(tpl_lang_of("kok"), TPL_EN);
    assert_int_equal(tpl_lang_of(NULL), TPL_EN);
}

static void the_signature_is_hmac_sha256_over_timestamp_dot_body(void **state)
{
    (void)state;
    char sig[SIGN_HEADER_MAX];
    /* Reference value: python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_test",
     * b"1700000000.{\"a\":1}", hashlib.sha256).hexdigest())' */
    notify_sign("whsec_test", 1700000000, "{\"a\":1}", 7, sig);
    assert_string_equal(sig, "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
    char other[SIGN_HEADER_MAX];
    notify_sign("whsec_test", 1700000001, "{\"a\":1}", 7, other);
    assert_string_not_equal(sig, other);
}

static void retries_back_off_exponentially_with_jitter_up_to_the_cap(void **state)
{
    (void)state;
    /* r = 0: the lower end (half the nominal wait); r = max: the whole wait */
    assert_int_equal(notify_backoff_ms(1, 1000, 60000, 0), 500);
    assert_int_equal(notify_backoff_ms(1, 1000, 60000, UINT32_MAX), 1000);
    assert_int_equal(notify_backoff_ms(2, 1000, 60000, UINT32_MAX), 2000);
    assert_int_equal(notify_backoff_ms(4, 1000, 60000, UINT32_MAX), 8000);
    assert_int_equal(notify_backoff_ms(4, 1000, 60000, 0), 4000);
    assert_int_equal(notify_backoff_ms(30, 1000, 60000, UINT32_MAX), 60000);
    assert_int_equal(notify_backoff_ms(1000000, 1000, 7 * 86400000LL, 0), 7 * 86400000LL / 2);
    assert_int_equal(notify_backoff_ms(1, 5000, 3000, UINT32_MAX), 3000); /* base above the cap */
    int64_t mid = notify_backoff_ms(3, 1000, 60000, 1u << 31);
    assert_true(mid > 2000 && mid < 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_variables_pass_the_check_and_are_listed_once),
        cmocka_unit_test(an_unknown_variable_is_named),
        cmocka_unit_test(bad_syntax_is_refused_with_its_position),
        cmocka_unit_test(values_are_filled_and_missing_ones_are_empty),
        cmocka_unit_test(html_bodies_escape_values_but_not_markup),
        cmocka_unit_test(money_follows_the_locale_and_currency),
        cmocka_unit_test(dates_are_in_the_customers_zone_and_language),
        cmocka_unit_test(the_signature_is_hmac_sha256_over_timestamp_dot_body),
        cmocka_unit_test(retries_back_off_exponentially_with_jitter_up_to_the_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
