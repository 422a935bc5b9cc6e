/* test_decide.c — every refusal reason of core_decide, the order in which
 * they win over each other, and the verdict of an accepted order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/core.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NOW 1000000

static const char *vip_only[] = {"vip"};
static const char *vip_and_new[] = {"new", "vip"};
static const char *regular[] = {"regular"};
static const char *outer_only[] = {"outer"};
static const char *sale[] = {"sale"};

/* Everything a decision reads, starting from a code that applies: a live,
 * unlimited 15% KRW campaign open around NOW, an unused single-use code,
 * a signed-in customer and a 45000 KRW order without items. */
struct world {
    struct campaign c;
    struct code k;
    struct usage u;
    struct customer_facts cf;
    struct order o;
    const char *customer;
    int64_t now;
};

static struct world fine(void)
{
    struct world w = {
        .c = {.id = "cmp_1", .name = "Autumn", .currency = "KRW",
              .discount = {.type = DISCOUNT_PERCENT, .percent_bp = 1500, .max_amount = PROMO_UNLIMITED},
              .starts_at = NOW - 100, .ends_at = NOW + 100,
              .limits = {PROMO_UNLIMITED, PROMO_UNLIMITED, PROMO_UNLIMITED, PROMO_UNLIMITED},
              .state = CAMPAIGN_LIVE},
        .k = {.code = "FALL-AB12-CD34", .campaign_id = "cmp_1", .max_uses = 1,
              .expires_at = PROMO_TIME_MAX},
        .cf = {.known = true, .segments = regular, .n_segments = 1, .order_count = 3},
        .o = {.id = "o-77", .amount = 45000, .currency = "KRW"},
        .customer = "u123",
        .now = NOW,
    };
    return w;
}

static struct verdict decide(const struct world *w)
{
    return core_decide(&w->c, &w->k, &w->u, &w->cf, &w->o, w->customer, w->now);
}

static int reason(const struct world *w) { return decide(w).reason; }

/* ---- the happy path ---------------------------------------------------- */

static void applicable_code_gives_percent_discount(void **state)
{
    (void)state;
    struct world w = fine();
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 6750);
    assert_int_equal(v.points, 0);
    assert_int_equal(v.amount_after, 38250);
}

static void percent_discount_uses_eligible_items_and_cap(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.sku = "p1", .category = "outer", .price = 45000, .quantity = 2},
                                 {.sku = "p2", .category = "sale", .price = 10000, .quantity = 1}};
    w.c.rules.exclude_categories = sale;
    w.c.rules.n_exclude_categories = 1;
    w.o.amount = 100000;
    w.o.items = items;
    w.o.n_items = N(items);
    assert_int_equal(decide(&w).discount, 13500); /* 15% of 90000 */
    w.c.discount.max_amount = 10000;
    struct verdict v = decide(&w);
    assert_int_equal(v.discount, 10000);
    assert_int_equal(v.amount_after, 90000);
}

static void percent_with_two_decimals_is_floored(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.discount.percent_bp = 1250;
    w.o.amount = 999;
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 124);
    assert_int_equal(v.amount_after, 875);
}

static void fixed_discount_never_exceeds_order(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.discount = (struct discount){.type = DISCOUNT_FIXED, .amount = 5000, .max_amount = PROMO_UNLIMITED};
    w.o.amount = 3000;
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 3000);
    assert_int_equal(v.amount_after, 0);

    /* Items adding up to more than the order amount: the shopper still
     * cannot save more than the order costs. */
    struct order_item items[] = {{.price = 10000, .quantity = 1}};
    w.o.items = items;
    w.o.n_items = 1;
    v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 3000);
    assert_int_equal(v.amount_after, 0);
}

static void points_campaign_awards_points_and_subtracts_nothing(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.discount = (struct discount){.type = DISCOUNT_POINTS, .points = 500, .max_amount = PROMO_UNLIMITED};
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 0);
    assert_int_equal(v.points, 500);
    assert_int_equal(v.amount_after, 45000);
}

static void money_max_order_does_not_overflow(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.category = "outer", .price = PROMO_MONEY_MAX, .quantity = PROMO_MONEY_MAX},
                                 {.category = "outer", .price = PROMO_MONEY_MAX, .quantity = 1}};
    w.c.discount.percent_bp = 10000;
    w.o.amount = PROMO_MONEY_MAX;
    w.o.items = items;
    w.o.n_items = N(items);
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, PROMO_MONEY_MAX);
    assert_int_equal(v.amount_after, 0);

    w.c.discount.percent_bp = 9999;
    v = decide(&w);
    assert_int_equal(v.discount, 999900000000000LL);
    assert_int_equal(v.amount_after, 100000000000LL);
}

static void refusal_carries_no_discount(void **state)
{
    (void)state;
    struct world w = fine();
    w.o.currency[0] = 'U';
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_CURRENCY_MISMATCH);
    assert_int_equal(v.discount, 0);
    assert_int_equal(v.points, 0);
    assert_int_equal(v.amount_after, 0);
}

/* ---- each reason on its own -------------------------------------------- */

static void disabled_code_is_refused(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.disabled = true;
    assert_int_equal(reason(&w), PROMO_CODE_DISABLED);
}

static void draft_or_paused_campaign_is_inactive(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.state = CAMPAIGN_DRAFT;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_INACTIVE);
    w.c.state = CAMPAIGN_PAUSED;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_INACTIVE);
}

static void code_of_ended_campaign_is_expired(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.state = CAMPAIGN_ENDED;
    assert_int_equal(reason(&w), PROMO_CODE_EXPIRED);
}

static void campaign_end_is_inclusive(void **state)
{
    (void)state;
    struct world w = fine();
    w.now = w.c.ends_at;
    assert_int_equal(reason(&w), PROMO_OK);
    w.now = w.c.ends_at + 1;
    assert_int_equal(reason(&w), PROMO_CODE_EXPIRED);
}

static void campaign_start_is_inclusive(void **state)
{
    (void)state;
    struct world w = fine();
    w.now = w.c.starts_at;
    assert_int_equal(reason(&w), PROMO_OK);
    w.now = w.c.starts_at - 1;
    assert_int_equal(reason(&w), PROMO_CODE_NOT_YET_VALID);
}

static void open_window_never_closes(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.starts_at = PROMO_TIME_MIN;
    w.c.ends_at = PROMO_TIME_MAX;
    w.now = INT64_MIN;
    assert_int_equal(reason(&w), PROMO_OK);
    w.now = INT64_MAX;
    assert_int_equal(reason(&w), PROMO_OK);
}

static void code_past_its_own_expiry_is_expired(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.expires_at = NOW;
    assert_int_equal(reason(&w), PROMO_OK);
    w.k.expires_at = NOW - 1;
    assert_int_equal(reason(&w), PROMO_CODE_EXPIRED);
}

static void used_up_code_is_redeemed(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.max_uses = 3;
    w.u.code_uses = 2;
    assert_int_equal(reason(&w), PROMO_OK);
    w.u.code_uses = 3;
    assert_int_equal(reason(&w), PROMO_CODE_REDEEMED);
}

static void hold_on_single_use_code_refuses_as_redeemed(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.uses = 0;       /* nothing redeemed yet ... */
    w.u.code_uses = 1;  /* ... but a live hold counts */
    assert_int_equal(reason(&w), PROMO_CODE_REDEEMED);
}

static void unlimited_code_is_never_redeemed(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.max_uses = PROMO_UNLIMITED;
    w.u.code_uses = INT64_MAX;
    assert_int_equal(reason(&w), PROMO_OK);
}

static void anonymous_shopper_may_use_an_open_code(void **state)
{
    (void)state;
    struct world w = fine();
    w.customer = NULL;
    assert_int_equal(reason(&w), PROMO_OK);
    w.customer = "";
    assert_int_equal(reason(&w), PROMO_OK);
}

static void assigned_code_requires_a_customer(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.customer_id = "u123";
    w.customer = NULL;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
    w.customer = "";
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
}

static void per_customer_limit_requires_a_customer(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.per_customer = 1;
    w.customer = NULL;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
}

static void segment_rule_requires_a_customer(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.segments = vip_only;
    w.c.rules.n_segments = 1;
    w.customer = NULL;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
}

static void first_order_rule_requires_a_customer(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.first_order_only = true;
    w.customer = "";
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
}

static void code_assigned_to_someone_else_is_refused(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.customer_id = "u999";
    assert_int_equal(reason(&w), PROMO_CODE_ASSIGNED_TO_OTHER_CUSTOMER);
    w.k.customer_id = "u123";
    assert_int_equal(reason(&w), PROMO_OK);
    w.k.customer_id = ""; /* not assigned */
    assert_int_equal(reason(&w), PROMO_OK);
}

static void other_currency_is_refused(void **state)
{
    (void)state;
    struct world w = fine();
    struct order o = {.amount = 45000, .currency = "USD"};
    w.o = o;
    assert_int_equal(reason(&w), PROMO_CURRENCY_MISMATCH);
}

static void missing_order_currency_is_not_compared(void **state)
{
    (void)state;
    struct world w = fine();
    w.o.currency[0] = '\0';
    assert_int_equal(reason(&w), PROMO_OK);
}

static void campaign_redemption_limit_is_reached(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_redemptions = 100;
    w.u.campaign_redemptions = 99;
    assert_int_equal(reason(&w), PROMO_OK);
    w.u.campaign_redemptions = 100; /* e.g. 97 redeemed + 3 held */
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_LIMIT_REACHED);
}

static void zero_redemption_limit_refuses_everyone(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_redemptions = 0;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_LIMIT_REACHED);
}

static void per_customer_limit_is_reached(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.per_customer = 2;
    w.u.customer_redemptions = 1;
    assert_int_equal(reason(&w), PROMO_OK);
    w.u.customer_redemptions = 2; /* one redeemed, one held */
    assert_int_equal(reason(&w), PROMO_CUSTOMER_LIMIT_REACHED);
}

static void segment_rule_admits_only_listed_segments(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.segments = vip_only;
    w.c.rules.n_segments = 1;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_NOT_ELIGIBLE); /* "regular" */
    w.cf.segments = vip_and_new;
    w.cf.n_segments = N(vip_and_new);
    assert_int_equal(reason(&w), PROMO_OK);
}

static void segment_rule_refuses_unknown_customer(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.segments = vip_only;
    w.c.rules.n_segments = 1;
    w.cf.segments = vip_only;
    w.cf.known = false;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_NOT_ELIGIBLE);
    w.cf.known = true;
    assert_int_equal(core_decide(&w.c, &w.k, &w.u, NULL, &w.o, w.customer, w.now).reason,
                     PROMO_CUSTOMER_NOT_ELIGIBLE);
}

static void first_order_rule_admits_only_customers_without_orders(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.first_order_only = true;
    w.cf.order_count = 1;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_NOT_ELIGIBLE);
    w.cf.order_count = 0;
    assert_int_equal(reason(&w), PROMO_OK);
}

/* A customer the store has never seen has placed no order: a first-order
 * campaign is for exactly them. */
static void first_order_rule_admits_unknown_customer(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.first_order_only = true;
    w.cf.order_count = 5; /* ignored: not known */
    w.cf.known = false;
    assert_int_equal(reason(&w), PROMO_OK);
    assert_int_equal(core_decide(&w.c, &w.k, &w.u, NULL, &w.o, w.customer, w.now).reason, PROMO_OK);
}

static void segment_rule_admits_member_of_any_listed_segment(void **state)
{
    (void)state;
    struct world w = fine();
    static const char *two[] = {"vip", "dormant"};
    static const char *member[] = {"new", "dormant"};
    w.c.rules.segments = two;
    w.c.rules.n_segments = 2;
    w.cf.segments = member;
    w.cf.n_segments = 2;
    assert_int_equal(reason(&w), PROMO_OK);
    w.cf.n_segments = 1; /* only "new" */
    assert_int_equal(reason(&w), PROMO_CUSTOMER_NOT_ELIGIBLE);
}

static void early_access_segment_may_use_campaign_before_public_start(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.starts_at = NOW + 1000;
    w.c.early_segment = "vip";
    w.c.early_starts_at = NOW - 10;
    w.cf.segments = vip_only;
    w.cf.n_segments = 1;
    assert_int_equal(reason(&w), PROMO_OK);
    w.cf.segments = regular; /* not a member: the public start applies */
    assert_int_equal(reason(&w), PROMO_CODE_NOT_YET_VALID);
    w.cf.segments = vip_only;
    w.c.early_starts_at = NOW + 10; /* the early window has not opened yet */
    assert_int_equal(reason(&w), PROMO_CODE_NOT_YET_VALID);
    w.c.early_starts_at = NOW - 10;
    w.cf.known = false; /* unknown customers are in no segment */
    assert_int_equal(reason(&w), PROMO_CODE_NOT_YET_VALID);
    w.customer = NULL;
    assert_int_equal(core_decide(&w.c, &w.k, &w.u, NULL, &w.o, NULL, w.now).reason, PROMO_CODE_NOT_YET_VALID);
}

static void order_below_minimum_is_refused(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.min_order_amount = 30000;
    w.o.amount = 29999;
    assert_int_equal(reason(&w), PROMO_MIN_ORDER_NOT_MET);
    w.o.amount = 30000;
    assert_int_equal(reason(&w), PROMO_OK);
}

static void minimum_is_compared_with_order_amount_not_eligible_sum(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.category = "outer", .price = 1000, .quantity = 1},
                                 {.category = "shoes", .price = 39000, .quantity = 1}};
    w.c.rules.min_order_amount = 30000;
    w.c.rules.categories = outer_only;
    w.c.rules.n_categories = 1;
    w.o.amount = 40000;
    w.o.items = items;
    w.o.n_items = N(items);
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 150); /* 15% of the 1000 eligible */
}

static void order_without_admitted_items_is_refused(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.category = "shoes", .price = 1000, .quantity = 1},
                                 {.category = NULL, .price = 1000, .quantity = 1}};
    w.c.rules.categories = outer_only;
    w.c.rules.n_categories = 1;
    w.o.items = items;
    w.o.n_items = N(items);
    assert_int_equal(reason(&w), PROMO_NO_ELIGIBLE_ITEMS);

    struct order_item excluded[] = {{.category = "sale", .price = 1000, .quantity = 1}};
    w.c.rules.n_categories = 0;
    w.c.rules.exclude_categories = sale;
    w.c.rules.n_exclude_categories = 1;
    w.o.items = excluded;
    w.o.n_items = 1;
    assert_int_equal(reason(&w), PROMO_NO_ELIGIBLE_ITEMS);
}

static void discount_that_would_overrun_budget_is_refused(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_discount_total = 10000;
    w.u.campaign_discount = 3250; /* 6750 more fills it exactly */
    assert_int_equal(reason(&w), PROMO_OK);
    w.u.campaign_discount = 3251;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
}

static void held_discount_counts_against_budget(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_discount_total = 6750;
    w.u.campaign_discount = 1; /* a hold of 1 won */
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
}

static void spent_budget_refuses_even_a_free_order(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.price = 1, .quantity = 1}};
    w.c.limits.max_discount_total = 5000;
    w.u.campaign_discount = 5000;
    w.o.items = items; /* 15% of 1 is 0 */
    w.o.n_items = 1;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
    w.c.limits.max_discount_total = 0;
    w.u.campaign_discount = 0;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
    w.c.limits.max_discount_total = 1;
    struct verdict v = decide(&w);
    assert_int_equal(v.reason, PROMO_OK);
    assert_int_equal(v.discount, 0);
}

static void points_campaign_budget_counts_points(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.discount = (struct discount){.type = DISCOUNT_POINTS, .points = 500, .max_amount = PROMO_UNLIMITED};
    w.c.limits.max_discount_total = 1000;
    w.u.campaign_discount = 500;
    assert_int_equal(reason(&w), PROMO_OK);
    w.u.campaign_discount = 501;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
}

static void budget_near_money_max_does_not_overflow(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_discount_total = PROMO_MONEY_MAX;
    w.u.campaign_discount = PROMO_MONEY_MAX - 6750;
    assert_int_equal(reason(&w), PROMO_OK);
    w.u.campaign_discount = PROMO_MONEY_MAX - 6749;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
    w.c.limits.max_discount_total = INT64_MAX;
    w.u.campaign_discount = INT64_MAX - 1;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
}

/* ---- which reason wins -------------------------------------------------- */

static void disabled_beats_everything_else(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.category = "sale", .price = 1, .quantity = 1}};
    w.k.disabled = true;
    w.c.state = CAMPAIGN_ENDED;
    w.k.expires_at = 0;
    w.u = (struct usage){100, 100, 100, 100};
    w.k.customer_id = "other";
    w.customer = NULL;
    w.o.currency[0] = 'U';
    w.c.limits = (struct campaign_limits){1, 1, 1, 1};
    w.c.rules.segments = vip_only;
    w.c.rules.n_segments = 1;
    w.c.rules.min_order_amount = PROMO_MONEY_MAX;
    w.c.rules.exclude_categories = sale;
    w.c.rules.n_exclude_categories = 1;
    w.o.items = items;
    w.o.n_items = 1;
    assert_int_equal(reason(&w), PROMO_CODE_DISABLED);
}

static void ended_beats_paused(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.state = CAMPAIGN_PAUSED;
    w.now = w.c.ends_at + 1;
    assert_int_equal(reason(&w), PROMO_CODE_EXPIRED);
}

static void paused_beats_not_yet_started(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.state = CAMPAIGN_PAUSED;
    w.now = w.c.starts_at - 1;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_INACTIVE);
    w.c.state = CAMPAIGN_DRAFT;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_INACTIVE);
}

static void inactive_campaign_beats_code_expiry(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.state = CAMPAIGN_PAUSED;
    w.k.expires_at = NOW - 1;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_INACTIVE);
}

static void not_yet_started_beats_code_expiry(void **state)
{
    (void)state;
    struct world w = fine();
    w.now = w.c.starts_at - 1;
    w.k.expires_at = w.now - 1;
    assert_int_equal(reason(&w), PROMO_CODE_NOT_YET_VALID);
}

static void code_expiry_beats_used_up(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.expires_at = NOW - 1;
    w.u.code_uses = 1;
    assert_int_equal(reason(&w), PROMO_CODE_EXPIRED);
}

static void used_up_beats_customer_required(void **state)
{
    (void)state;
    struct world w = fine();
    w.u.code_uses = 1;
    w.k.customer_id = "u123";
    w.customer = NULL;
    assert_int_equal(reason(&w), PROMO_CODE_REDEEMED);
}

static void customer_required_beats_assigned_to_other(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.customer_id = "u999";
    w.customer = NULL;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
}

static void customer_required_beats_currency_mismatch(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.per_customer = 1;
    w.customer = NULL;
    w.o.currency[0] = 'U';
    assert_int_equal(reason(&w), PROMO_CUSTOMER_REQUIRED);
}

static void assigned_to_other_beats_currency_mismatch(void **state)
{
    (void)state;
    struct world w = fine();
    w.k.customer_id = "u999";
    w.o.currency[0] = 'U';
    assert_int_equal(reason(&w), PROMO_CODE_ASSIGNED_TO_OTHER_CUSTOMER);
}

static void currency_mismatch_beats_campaign_limit(void **state)
{
    (void)state;
    struct world w = fine();
    w.o.currency[0] = 'U';
    w.c.limits.max_redemptions = 10;
    w.u.campaign_redemptions = 10;
    assert_int_equal(reason(&w), PROMO_CURRENCY_MISMATCH);
}

static void campaign_limit_beats_spent_budget(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_redemptions = 10;
    w.u.campaign_redemptions = 10;
    w.c.limits.max_discount_total = 100;
    w.u.campaign_discount = 100;
    assert_int_equal(reason(&w), PROMO_CAMPAIGN_LIMIT_REACHED);
}

static void spent_budget_beats_customer_limit(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_discount_total = 100;
    w.u.campaign_discount = 100;
    w.c.limits.per_customer = 1;
    w.u.customer_redemptions = 1;
    assert_int_equal(reason(&w), PROMO_BUDGET_EXHAUSTED);
}

static void customer_limit_beats_budget_overrun(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.max_discount_total = 100; /* 6750 would overrun it */
    w.c.limits.per_customer = 1;
    w.u.customer_redemptions = 1;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_LIMIT_REACHED);
}

static void customer_limit_beats_not_eligible(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.limits.per_customer = 1;
    w.u.customer_redemptions = 1;
    w.c.rules.segments = vip_only;
    w.c.rules.n_segments = 1;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_LIMIT_REACHED);
}

static void not_eligible_beats_minimum_order(void **state)
{
    (void)state;
    struct world w = fine();
    w.c.rules.first_order_only = true;
    w.c.rules.min_order_amount = 50000;
    assert_int_equal(reason(&w), PROMO_CUSTOMER_NOT_ELIGIBLE);
}

static void minimum_order_beats_no_eligible_items(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.category = "shoes", .price = 100, .quantity = 1}};
    w.c.rules.min_order_amount = 50000;
    w.c.rules.categories = outer_only;
    w.c.rules.n_categories = 1;
    w.o.items = items;
    w.o.n_items = 1;
    assert_int_equal(reason(&w), PROMO_MIN_ORDER_NOT_MET);
}

static void no_eligible_items_beats_budget_overrun(void **state)
{
    (void)state;
    struct world w = fine();
    struct order_item items[] = {{.category = "shoes", .price = 100, .quantity = 1}};
    w.c.discount = (struct discount){.type = DISCOUNT_POINTS, .points = 500, .max_amount = PROMO_UNLIMITED};
    w.c.limits.max_discount_total = 100;
    w.c.rules.categories = outer_only;
    w.c.rules.n_categories = 1;
    w.o.items = items;
    w.o.n_items = 1;
    assert_int_equal(reason(&w), PROMO_NO_ELIGIBLE_ITEMS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applicable_code_gives_percent_discount),
        cmocka_unit_test(percent_discount_uses_eligible_items_and_cap),
        cmocka_unit_test(percent_with_two_decimals_is_floored),
        cmocka_unit_test(fixed_discount_never_exceeds_order),
        cmocka_unit_test(points_campaign_awards_points_and_subtracts_nothing),
        cmocka_unit_test(money_max_order_does_not_overflow),
        cmocka_unit_test(refusal_carries_no_discount),
        cmocka_unit_test(disabled_code_is_refused),
        cmocka_unit_test(draft_or_paused_campaign_is_inactive),
        cmocka_unit_test(code_of_ended_campaign_is_expired),
        cmocka_unit_test(campaign_end_is_inclusive),
        cmocka_unit_test(campaign_start_is_inclusive),
        cmocka_unit_test(open_window_never_closes),
        cmocka_unit_test(code_past_its_own_expiry_is_expired),
        cmocka_unit_test(used_up_code_is_redeemed),
        cmocka_unit_test(hold_on_single_use_code_refuses_as_redeemed),
        cmocka_unit_test(unlimited_code_is_never_redeemed),
        cmocka_unit_test(anonymous_shopper_may_use_an_open_code),
        cmocka_unit_test(assigned_code_requires_a_customer),
        cmocka_unit_test(per_customer_limit_requires_a_customer),
        cmocka_unit_test(segment_rule_requires_a_customer),
        cmocka_unit_test(first_order_rule_requires_a_customer),
        cmocka_unit_test(code_assigned_to_someone_else_is_refused),
        cmocka_unit_test(other_currency_is_refused),
        cmocka_unit_test(missing_order_currency_is_not_compared),
        cmocka_unit_test(campaign_redemption_limit_is_reached),
        cmocka_unit_test(zero_redemption_limit_refuses_everyone),
        cmocka_unit_test(per_customer_limit_is_reached),
        cmocka_unit_test(segment_rule_admits_only_listed_segments),
        cmocka_unit_test(segment_rule_refuses_unknown_customer),
        cmocka_unit_test(first_order_rule_admits_only_customers_without_orders),
        cmocka_unit_test(first_order_rule_admits_unknown_customer),
        cmocka_unit_test(segment_rule_admits_member_of_any_listed_segment),
        cmocka_unit_test(early_access_segment_may_use_campaign_before_public_start),
        cmocka_unit_test(order_below_minimum_is_refused),
        cmocka_unit_test(minimum_is_compared_with_order_amount_not_eligible_sum),
        cmocka_unit_test(order_without_admitted_items_is_refused),
        cmocka_unit_test(discount_that_would_overrun_budget_is_refused),
        cmocka_unit_test(held_discount_counts_against_budget),
        cmocka_unit_test(spent_budget_refuses_even_a_free_order),
        cmocka_unit_test(points_campaign_budget_counts_points),
        cmocka_unit_test(budget_near_money_max_does_not_overflow),
        cmocka_unit_test(disabled_beats_everything_else),
        cmocka_unit_test(ended_beats_paused),
        cmocka_unit_test(paused_beats_not_yet_started),
        cmocka_unit_test(inactive_campaign_beats_code_expiry),
        cmocka_unit_test(not_yet_started_beats_code_expiry),
        cmocka_unit_test(code_expiry_beats_used_up),
        cmocka_unit_test(used_up_beats_customer_required),
        cmocka_unit_test(customer_required_beats_assigned_to_other),
        cmocka_unit_test(customer_required_beats_currency_mismatch),
        cmocka_unit_test(assigned_to_other_beats_currency_mismatch),
        cmocka_unit_test(currency_mismatch_beats_campaign_limit),
        cmocka_unit_test(campaign_limit_beats_spent_budget),
        cmocka_unit_test(spent_budget_beats_customer_limit),
        cmocka_unit_test(customer_limit_beats_budget_overrun),
        cmocka_unit_test(customer_limit_beats_not_eligible),
        cmocka_unit_test(not_eligible_beats_minimum_order),
        cmocka_unit_test(minimum_order_beats_no_eligible_items),
        cmocka_unit_test(no_eligible_items_beats_budget_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
