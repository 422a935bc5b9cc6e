/* test_discount.c — the money arithmetic: eligible sums and discounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/core.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct discount percent(int32_t bp, int64_t cap)
{
    return (struct discount){.type = DISCOUNT_PERCENT, .percent_bp = bp, .max_amount = cap};
}

static struct discount fixed(int64_t amount)
{
    return (struct discount){.type = DISCOUNT_FIXED, .amount = amount, .max_amount = PROMO_UNLIMITED};
}

/* ---- discounts --------------------------------------------------------- */

static void percent_discount_is_floored(void **state)
{
    (void)state;
    struct discount d = percent(1250, PROMO_UNLIMITED);
    assert_int_equal(core_discount_amount(&d, 999), 124); /* 124.875 */
    assert_int_equal(core_discount_amount(&d, 7), 0);     /* 0.875 */
    assert_int_equal(core_discount_amount(&d, 8), 1);
}

static void percent_with_two_decimals_uses_basis_points(void **state)
{
    (void)state;
    struct discount d = percent(1234, PROMO_UNLIMITED);
    assert_int_equal(core_discount_amount(&d, 10000), 1234);
    assert_int_equal(core_discount_amount(&d, 99), 12); /* 12.2166 */
    struct discount one_bp = percent(1, PROMO_UNLIMITED);
    assert_int_equal(core_discount_amount(&one_bp, 9999), 0);
    assert_int_equal(core_discount_amount(&one_bp, 10000), 1);
}

static void percent_discount_is_floored_then_capped(void **state)
{
    (void)state;
    struct discount d = percent(1500, 10000);
    assert_int_equal(core_discount_amount(&d, 100000), 10000); /* 15000 capped */
    assert_int_equal(core_discount_amount(&d, 45000), 6750);   /* under the cap */
    assert_int_equal(core_discount_amount(&d, 66667), 10000);  /* 10000.05 floored, equals cap */
    assert_int_equal(core_discount_amount(&d, 66666), 9999);   /* 9999.9 floored */
}

static void percent_discount_without_cap_is_not_capped(void **state)
{
    (void)state;
    struct discount d = percent(1500, PROMO_UNLIMITED);
    assert_int_equal(core_discount_amount(&d, 100000000), 15000000);
}

static void hundred_percent_of_money_max_does_not_overflow(void **state)
{
    (void)state;
    struct discount all = percent(10000, PROMO_UNLIMITED);
    assert_int_equal(core_discount_amount(&all, PROMO_MONEY_MAX), PROMO_MONEY_MAX);
    struct discount most = percent(9999, PROMO_UNLIMITED);
    assert_int_equal(core_discount_amount(&most, PROMO_MONEY_MAX), 999900000000000LL);
    /* Far past the money range the product still fits in 128 bits. */
    assert_int_equal(core_discount_amount(&most, INT64_MAX), PROMO_MONEY_MAX);
}

static void fixed_discount_is_at_most_the_eligible_sum(void **state)
{
    (void)state;
    struct discount d = fixed(5000);
    assert_int_equal(core_discount_amount(&d, 10000), 5000);
    assert_int_equal(core_discount_amount(&d, 5000), 5000);
    assert_int_equal(core_discount_amount(&d, 3000), 3000);
    struct discount max = fixed(PROMO_MONEY_MAX);
    assert_int_equal(core_discount_amount(&max, PROMO_MONEY_MAX), PROMO_MONEY_MAX);
}

static void points_campaign_subtracts_nothing(void **state)
{
    (void)state;
    struct discount d = {.type = DISCOUNT_POINTS, .points = 500};
    assert_int_equal(core_discount_amount(&d, 100000), 0);
}

static void no_eligible_amount_means_no_discount(void **state)
{
    (void)state;
    struct discount p = percent(5000, PROMO_UNLIMITED), f = fixed(1000);
    assert_int_equal(core_discount_amount(&p, 0), 0);
    assert_int_equal(core_discount_amount(&f, 0), 0);
    assert_int_equal(core_discount_amount(&p, -100), 0);
    assert_int_equal(core_discount_amount(&f, -100), 0);
}

/* ---- eligible amount --------------------------------------------------- */

static void order_without_items_is_eligible_for_its_amount(void **state)
{
    (void)state;
    struct campaign_rules r = {0};
    struct order o = {.amount = 45000};
    assert_int_equal(core_eligible_amount(&r, &o), 45000);
}

static void eligible_sum_is_price_times_quantity(void **state)
{
    (void)state;
    struct campaign_rules r = {0};
    struct order_item items[] = {
        {.sku = "a", .category = "outer", .price = 1500, .quantity = 3},
        {.sku = "b", .category = "shoes", .price = 2000, .quantity = 1},
    };
    struct order o = {.amount = 99, .items = items, .n_items = N(items)};
    /* The item sum counts, not the order amount. */
    assert_int_equal(core_eligible_amount(&r, &o), 6500);
}

static void category_list_admits_only_its_categories(void **state)
{
    (void)state;
    const char *cats[] = {"outer", "bags"};
    struct campaign_rules r = {.categories = cats, .n_categories = N(cats)};
    struct order_item items[] = {
        {.category = "outer", .price = 1000, .quantity = 1},
        {.category = "shoes", .price = 2000, .quantity = 1},
        {.category = "bags", .price = 300, .quantity = 2},
        {.category = "Outer", .price = 7000, .quantity = 1}, /* case matters */
    };
    struct order o = {.amount = 10600, .items = items, .n_items = N(items)};
    assert_int_equal(core_eligible_amount(&r, &o), 1600);
}

static void excluded_category_is_never_eligible(void **state)
{
    (void)state;
    const char *cats[] = {"outer", "sale"};
    const char *excl[] = {"sale"};
    struct campaign_rules r = {.exclude_categories = excl, .n_exclude_categories = N(excl)};
    struct order_item items[] = {
        {.category = "outer", .price = 1000, .quantity = 1},
        {.category = "sale", .price = 2000, .quantity = 1},
        {.category = "shoes", .price = 400, .quantity = 1},
    };
    struct order o = {.amount = 3400, .items = items, .n_items = N(items)};
    assert_int_equal(core_eligible_amount(&r, &o), 1400);

    /* Exclusion wins over a category that is also listed. */
    r.categories = cats;
    r.n_categories = N(cats);
    assert_int_equal(core_eligible_amount(&r, &o), 1000);
}

static void item_without_category_counts_only_when_all_are_admitted(void **state)
{
    (void)state;
    const char *cats[] = {"outer"};
    const char *excl[] = {"sale"};
    struct campaign_rules r = {0};
    struct order_item items[] = {{.category = NULL, .price = 700, .quantity = 2}};
    struct order o = {.amount = 1400, .items = items, .n_items = N(items)};
    assert_int_equal(core_eligible_amount(&r, &o), 1400);

    r.exclude_categories = excl;
    r.n_exclude_categories = N(excl);
    assert_int_equal(core_eligible_amount(&r, &o), 1400);

    r.categories = cats;
    r.n_categories = N(cats);
    assert_int_equal(core_eligible_amount(&r, &o), 0);
}

static void eligible_sum_saturates_at_money_max(void **state)
{
    (void)state;
    struct campaign_rules r = {0};
    struct order_item huge[] = {{.price = PROMO_MONEY_MAX, .quantity = PROMO_MONEY_MAX}};
    struct order o = {.amount = PROMO_MONEY_MAX, .items = huge, .n_items = 1};
    assert_int_equal(core_eligible_amount(&r, &o), PROMO_MONEY_MAX);

    struct order_item two[] = {{.price = PROMO_MONEY_MAX, .quantity = 1},
                               {.price = PROMO_MONEY_MAX, .quantity = 1}};
    o.items = two;
    o.n_items = 2;
    assert_int_equal(core_eligible_amount(&r, &o), PROMO_MONEY_MAX);

    /* Beyond anything the API accepts, still no overflow. */
    struct order_item absurd[] = {{.price = INT64_MAX, .quantity = INT64_MAX},
                                  {.price = INT64_MAX, .quantity = INT64_MAX}};
    o.items = absurd;
    assert_int_equal(core_eligible_amount(&r, &o), PROMO_MONEY_MAX);
}

static void eligible_sum_just_below_money_max_is_exact(void **state)
{
    (void)state;
    struct campaign_rules r = {0};
    struct order_item items[] = {{.price = 333333333333333LL, .quantity = 3},
                                 {.price = 1, .quantity = 1}};
    struct order o = {.amount = PROMO_MONEY_MAX, .items = items, .n_items = 2};
    assert_int_equal(core_eligible_amount(&r, &o), PROMO_MONEY_MAX);
    items[1].price = 0;
    assert_int_equal(core_eligible_amount(&r, &o), PROMO_MONEY_MAX - 1);
}

static void lines_with_non_positive_price_or_quantity_add_nothing(void **state)
{
    (void)state;
    struct campaign_rules r = {0};
    struct order_item items[] = {
        {.price = 1000, .quantity = 1},
        {.price = -500, .quantity = 1},
        {.price = 500, .quantity = -3},
        {.price = 500, .quantity = 0},
    };
    struct order o = {.amount = 1000, .items = items, .n_items = N(items)};
    assert_int_equal(core_eligible_amount(&r, &o), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percent_discount_is_floored),
        cmocka_unit_test(percent_with_two_decimals_uses_basis_points),
        cmocka_unit_test(percent_discount_is_floored_then_capped),
        cmocka_unit_test(percent_discount_without_cap_is_not_capped),
        cmocka_unit_test(hundred_percent_of_money_max_does_not_overflow),
        cmocka_unit_test(fixed_discount_is_at_most_the_eligible_sum),
        cmocka_unit_test(points_campaign_subtracts_nothing),
        cmocka_unit_test(no_eligible_amount_means_no_discount),
        cmocka_unit_test(order_without_items_is_eligible_for_its_amount),
        cmocka_unit_test(eligible_sum_is_price_times_quantity),
        cmocka_unit_test(category_list_admits_only_its_categories),
        cmocka_unit_test(excluded_category_is_never_eligible),
        cmocka_unit_test(item_without_category_counts_only_when_all_are_admitted),
        cmocka_unit_test(eligible_sum_saturates_at_money_max),
        cmocka_unit_test(eligible_sum_just_below_money_max_is_exact),
        cmocka_unit_test(lines_with_non_positive_price_or_quantity_add_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
