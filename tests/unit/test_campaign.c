/* test_campaign.c — a campaign's shown status, enum names, the definition
 * checks and the parsing helpers the API and store share. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static const char *outer[] = {"outer"};
static const char *blank[] = {"outer", ""};
static const char *null_entry[] = {NULL};

/* The example campaign of API.md, as the API layer would fill it. */
static struct campaign autumn(void)
{
    struct campaign c = {
        .id = "cmp_1",
        .name = "Autumn outerwear",
        .currency = "KRW",
        .discount = {.type = DISCOUNT_PERCENT, .percent_bp = 1500, .max_amount = 10000},
        .starts_at = 1793458800,
        .ends_at = 1796050799,
        .limits = {.max_redemptions = 10000, .per_customer = 1, .max_discount_total = 50000000,
                   .max_issued = 20000},
        .rules = {.min_order_amount = 30000, .categories = outer, .n_categories = 1},
        .code_validity_days = 7,
        .state = CAMPAIGN_LIVE,
    };
    return c;
}

/* The check refuses `c`, naming exactly `want_field`. */
static void assert_field(const struct campaign *c, const char *want_field)
{
    const char *field = NULL, *why = NULL;
    assert_int_equal(core_campaign_check(c, &field, &why), PROMO_BAD_REQUEST);
    assert_non_null(field);
    assert_string_equal(field, want_field);
    assert_non_null(why);
    assert_true(strlen(why) > 0);
}

static void assert_accepted(const struct campaign *c)
{
    const char *field = NULL, *why = NULL;
    enum promo_err rc = core_campaign_check(c, &field, &why);
    if (rc != PROMO_OK)
        fail_msg("refused: %s %s", field ? field : "?", why ? why : "?");
}

/* ---- status -------------------------------------------------------------- */

static void live_campaign_is_scheduled_active_then_ended(void **state)
{
    (void)state;
    struct campaign c = autumn();
    assert_int_equal(core_campaign_status(&c, c.starts_at - 1), STATUS_SCHEDULED);
    assert_int_equal(core_campaign_status(&c, c.starts_at), STATUS_ACTIVE);
    assert_int_equal(core_campaign_status(&c, c.ends_at), STATUS_ACTIVE);
    assert_int_equal(core_campaign_status(&c, c.ends_at + 1), STATUS_ENDED);
}

static void ended_by_hand_is_ended_at_any_time(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.state = CAMPAIGN_ENDED;
    assert_int_equal(core_campaign_status(&c, c.starts_at - 1), STATUS_ENDED);
    assert_int_equal(core_campaign_status(&c, c.starts_at), STATUS_ENDED);
}

static void ended_beats_paused_beats_draft_beats_window(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.state = CAMPAIGN_PAUSED;
    assert_int_equal(core_campaign_status(&c, c.starts_at - 1), STATUS_PAUSED);
    assert_int_equal(core_campaign_status(&c, c.starts_at), STATUS_PAUSED);
    assert_int_equal(core_campaign_status(&c, c.ends_at + 1), STATUS_ENDED);
    c.state = CAMPAIGN_DRAFT;
    assert_int_equal(core_campaign_status(&c, c.starts_at - 1), STATUS_DRAFT);
    assert_int_equal(core_campaign_status(&c, c.starts_at), STATUS_DRAFT);
    assert_int_equal(core_campaign_status(&c, c.ends_at + 1), STATUS_ENDED);
}

static void open_ended_campaign_never_ends_by_time(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.starts_at = PROMO_TIME_MIN;
    c.ends_at = PROMO_TIME_MAX;
    assert_int_equal(core_campaign_status(&c, INT64_MIN), STATUS_ACTIVE);
    assert_int_equal(core_campaign_status(&c, INT64_MAX), STATUS_ACTIVE);
}

/* ---- names ----------------------------------------------------------------- */

static void statuses_have_api_names(void **state)
{
    (void)state;
    assert_string_equal(core_status_name(STATUS_DRAFT), "draft");
    assert_string_equal(core_status_name(STATUS_SCHEDULED), "scheduled");
    assert_string_equal(core_status_name(STATUS_ACTIVE), "active");
    assert_string_equal(core_status_name(STATUS_PAUSED), "paused");
    assert_string_equal(core_status_name(STATUS_ENDED), "ended");
    assert_non_null(core_status_name((enum campaign_status)99));
}

static void discount_types_round_trip_through_their_names(void **state)
{
    (void)state;
    const enum discount_type all[] = {DISCOUNT_FIXED, DISCOUNT_PERCENT, DISCOUNT_POINTS};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(core_discount_type_parse(core_discount_type_name(all[i])), all[i]);
    assert_string_equal(core_discount_type_name(DISCOUNT_PERCENT), "percent");
    assert_non_null(core_discount_type_name((enum discount_type)0));
}

static void unknown_discount_type_parses_as_zero(void **state)
{
    (void)state;
    assert_int_equal(core_discount_type_parse("Percent"), 0);
    assert_int_equal(core_discount_type_parse("percentage"), 0);
    assert_int_equal(core_discount_type_parse(""), 0);
    assert_int_equal(core_discount_type_parse(NULL), 0);
}

/* ---- percent and currency parsing --------------------------------------- */

static void percent_becomes_basis_points(void **state)
{
    (void)state;
    assert_int_equal(core_percent_to_bp(15), 1500);
    assert_int_equal(core_percent_to_bp(12.5), 1250);
    assert_int_equal(core_percent_to_bp(12.34), 1234);
    assert_int_equal(core_percent_to_bp(0.01), 1);
    assert_int_equal(core_percent_to_bp(100), 10000);
    assert_int_equal(core_percent_to_bp(33.33), 3333);
    assert_int_equal(core_percent_to_bp(0.29), 29);   /* 28.999999999999996 */
    assert_int_equal(core_percent_to_bp(0.1 + 0.2), 30); /* 0.30000000000000004 */
    assert_int_equal(core_percent_to_bp(99.99), 9999);
    assert_int_equal(core_percent_to_bp(12.34000000001), 1234); /* noise, not a decimal */
}

static void percent_outside_range_or_too_precise_is_refused(void **state)
{
    (void)state;
    assert_int_equal(core_percent_to_bp(12.345), -1);
    assert_int_equal(core_percent_to_bp(12.34001), -1);
    assert_int_equal(core_percent_to_bp(50.000001), -1);
    assert_int_equal(core_percent_to_bp(0.001), -1);
    assert_int_equal(core_percent_to_bp(0.005), -1);
    assert_int_equal(core_percent_to_bp(0), -1);
    assert_int_equal(core_percent_to_bp(-0.0), -1);
    assert_int_equal(core_percent_to_bp(-5), -1);
    assert_int_equal(core_percent_to_bp(100.01), -1);
    assert_int_equal(core_percent_to_bp(101), -1);
    assert_int_equal(core_percent_to_bp(1e300), -1);
    assert_int_equal(core_percent_to_bp(NAN), -1);
    assert_int_equal(core_percent_to_bp(INFINITY), -1);
    assert_int_equal(core_percent_to_bp(-INFINITY), -1);
}

static void currency_is_three_upper_case_letters(void **state)
{
    (void)state;
    assert_true(core_currency_valid("KRW"));
    assert_true(core_currency_valid("USD"));
    assert_false(core_currency_valid("krw"));
    assert_false(core_currency_valid("KR"));
    assert_false(core_currency_valid("KRWX"));
    assert_false(core_currency_valid("K1W"));
    assert_false(core_currency_valid(""));
    assert_false(core_currency_valid(NULL));
}

/* ---- definition checks ------------------------------------------------------ */

static void example_campaign_is_accepted(void **state)
{
    (void)state;
    struct campaign c = autumn();
    assert_accepted(&c);
}

static void minimal_campaign_is_accepted(void **state)
{
    (void)state;
    struct campaign c = {
        .name = "x", .currency = "USD",
        .discount = {.type = DISCOUNT_FIXED, .amount = 500, .max_amount = PROMO_UNLIMITED},
        .starts_at = PROMO_TIME_MIN, .ends_at = PROMO_TIME_MAX,
        .limits = {PROMO_UNLIMITED, PROMO_UNLIMITED, PROMO_UNLIMITED, PROMO_UNLIMITED},
    };
    assert_accepted(&c);
}

static void name_must_be_present_and_short(void **state)
{
    (void)state;
    char name[300];
    struct campaign c = autumn();
    c.name = "";
    assert_field(&c, "name");
    c.name = NULL;
    assert_field(&c, "name");
    memset(name, 'n', 200);
    name[200] = '\0';
    c.name = name;
    assert_accepted(&c);
    name[200] = 'n';
    name[201] = '\0';
    assert_field(&c, "name");
}

static void currency_must_be_iso_shaped(void **state)
{
    (void)state;
    struct campaign c = autumn();
    memcpy(c.currency, "krw", 4);
    assert_field(&c, "currency");
    memcpy(c.currency, "", 1);
    assert_field(&c, "currency");
}

static void discount_type_must_be_known(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.discount.type = 0;
    assert_field(&c, "discount.type");
    c.discount.type = 4;
    assert_field(&c, "discount.type");
}

static void fixed_amount_is_positive_and_bounded(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.discount = (struct discount){.type = DISCOUNT_FIXED, .amount = 0};
    assert_field(&c, "discount.amount");
    c.discount.amount = -1;
    assert_field(&c, "discount.amount");
    c.discount.amount = PROMO_MONEY_MAX + 1;
    assert_field(&c, "discount.amount");
    c.discount.amount = PROMO_MONEY_MAX;
    assert_accepted(&c);
    c.discount.amount = 1;
    assert_accepted(&c);
}

static void percent_is_above_zero_and_at_most_hundred(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.discount.percent_bp = 0;
    assert_field(&c, "discount.percent");
    c.discount.percent_bp = 10001;
    assert_field(&c, "discount.percent");
    c.discount.percent_bp = 10000;
    assert_accepted(&c);
    c.discount.percent_bp = 1;
    assert_accepted(&c);
}

static void percent_cap_is_unlimited_or_positive(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.discount.max_amount = 0;
    assert_field(&c, "discount.max_amount");
    c.discount.max_amount = -2;
    assert_field(&c, "discount.max_amount");
    c.discount.max_amount = PROMO_MONEY_MAX + 1;
    assert_field(&c, "discount.max_amount");
    c.discount.max_amount = PROMO_UNLIMITED;
    assert_accepted(&c);
    c.discount.max_amount = PROMO_MONEY_MAX;
    assert_accepted(&c);
}

static void points_are_positive_and_bounded(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.discount = (struct discount){.type = DISCOUNT_POINTS, .points = 0};
    assert_field(&c, "discount.points");
    c.discount.points = PROMO_MONEY_MAX + 1;
    assert_field(&c, "discount.points");
    c.discount.points = 500;
    assert_accepted(&c);
}

static void window_must_end_after_it_starts(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.ends_at = c.starts_at;
    assert_field(&c, "ends_at");
    c.ends_at = c.starts_at - 1;
    assert_field(&c, "ends_at");
    c.ends_at = c.starts_at + 1;
    assert_accepted(&c);
}

static void half_open_window_is_accepted(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.starts_at = PROMO_TIME_MIN;
    c.ends_at = -5;
    assert_accepted(&c);
    c.starts_at = 5;
    c.ends_at = PROMO_TIME_MAX;
    assert_accepted(&c);
}

static void each_limit_is_unlimited_or_in_money_range(void **state)
{
    (void)state;
    static const char *names[] = {"limits.max_redemptions", "limits.per_customer",
                                  "limits.max_discount_total", "limits.max_issued"};
    for (size_t i = 0; i < 4; i++) {
        struct campaign c = autumn();
        int64_t *lim[] = {&c.limits.max_redemptions, &c.limits.per_customer,
                          &c.limits.max_discount_total, &c.limits.max_issued};
        *lim[i] = -2;
        assert_field(&c, names[i]);
        *lim[i] = PROMO_MONEY_MAX + 1;
        assert_field(&c, names[i]);
        *lim[i] = INT64_MIN;
        assert_field(&c, names[i]);
        *lim[i] = PROMO_UNLIMITED;
        assert_accepted(&c);
        *lim[i] = 0;
        assert_accepted(&c);
        *lim[i] = PROMO_MONEY_MAX;
        assert_accepted(&c);
    }
}

static void minimum_order_is_in_money_range(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.rules.min_order_amount = -1;
    assert_field(&c, "rules.min_order_amount");
    c.rules.min_order_amount = PROMO_MONEY_MAX + 1;
    assert_field(&c, "rules.min_order_amount");
    c.rules.min_order_amount = 0;
    assert_accepted(&c);
}

static void category_and_segment_names_are_not_empty(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.rules.categories = blank;
    c.rules.n_categories = 2;
    assert_field(&c, "rules.categories");
    c = autumn();
    c.rules.exclude_categories = null_entry;
    c.rules.n_exclude_categories = 1;
    assert_field(&c, "rules.exclude_categories");
    c = autumn();
    c.rules.segments = blank;
    c.rules.n_segments = 2;
    assert_field(&c, "rules.segments");
}

static void code_validity_is_at_most_ten_years(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.code_validity_days = -1;
    assert_field(&c, "code_validity_days");
    c.code_validity_days = 3651;
    assert_field(&c, "code_validity_days");
    c.code_validity_days = 3650;
    assert_accepted(&c);
    c.code_validity_days = 0;
    assert_accepted(&c);
}

static void first_problem_in_document_order_is_named(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.name = "";
    c.discount.percent_bp = 0;
    c.limits.per_customer = -7;
    assert_field(&c, "name");
    c.name = "ok";
    assert_field(&c, "discount.percent");
}

static void check_tolerates_null_out_parameters(void **state)
{
    (void)state;
    struct campaign c = autumn();
    c.name = "";
    assert_int_equal(core_campaign_check(&c, NULL, NULL), PROMO_BAD_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_campaign_is_scheduled_active_then_ended),
        cmocka_unit_test(ended_by_hand_is_ended_at_any_time),
        cmocka_unit_test(ended_beats_paused_beats_draft_beats_window),
        cmocka_unit_test(open_ended_campaign_never_ends_by_time),
        cmocka_unit_test(statuses_have_api_names),
        cmocka_unit_test(discount_types_round_trip_through_their_names),
        cmocka_unit_test(unknown_discount_type_parses_as_zero),
        cmocka_unit_test(percent_becomes_basis_points),
        cmocka_unit_test(percent_outside_range_or_too_precise_is_refused),
        cmocka_unit_test(currency_is_three_upper_case_letters),
        cmocka_unit_test(example_campaign_is_accepted),
        cmocka_unit_test(minimal_campaign_is_accepted),
        cmocka_unit_test(name_must_be_present_and_short),
        cmocka_unit_test(currency_must_be_iso_shaped),
        cmocka_unit_test(discount_type_must_be_known),
        cmocka_unit_test(fixed_amount_is_positive_and_bounded),
        cmocka_unit_test(percent_is_above_zero_and_at_most_hundred),
        cmocka_unit_test(percent_cap_is_unlimited_or_positive),
        cmocka_unit_test(points_are_positive_and_bounded),
        cmocka_unit_test(window_must_end_after_it_starts),
        cmocka_unit_test(half_open_window_is_accepted),
        cmocka_unit_test(each_limit_is_unlimited_or_in_money_range),
        cmocka_unit_test(minimum_order_is_in_money_range),
        cmocka_unit_test(category_and_segment_names_are_not_empty),
        cmocka_unit_test(code_validity_is_at_most_ten_years),
        cmocka_unit_test(first_problem_in_document_order_is_named),
        cmocka_unit_test(check_tolerates_null_out_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
