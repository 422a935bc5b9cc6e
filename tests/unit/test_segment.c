/* Segment rules: what is refused when saved (naming the member), and how a
 * customer's facts are judged against a rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/segment.h"

#define NOW 1800000000LL
#define DAY 86400

/* Parses `text` into *r; returns the field named when refused, else NULL.
 * The JSON is kept in *keep (the rule borrows from it). */
static const char *parse(const char *text, struct seg_rule *r, json_t **keep, char *buf, size_t len)
{
    *keep = json_loads(text, 0, NULL);
    assert_non_null(*keep);
    const char *field = NULL, *why = NULL;
    if (core_segment_parse(*keep, r, buf, len, &field, &why) == PROMO_OK)
        return NULL;
    assert_non_null(why);
    return field;
}

static bool matches(const char *text, const struct seg_facts *f, int64_t now)
{
    struct seg_rule r;
    json_t *j;
    char buf[96];
    assert_null(parse(text, &r, &j, buf, sizeof buf));
    bool m = core_segment_match(&r, f, now);
    json_decref(j);
    return m;
}

static void refused_rules_name_the_member(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *field;
    } cases[] = {
        {"{\"all\":[{\"fact\":\"shoe_size\",\"op\":\"=\",\"value\":1}]}", "rule.all[0].fact"},
        {"{\"all\":[{\"fact\":\"order_count\",\"op\":\"=\",\"value\":1},{\"fact\":\"order_count\",\"op\":\"=>\",\"value\":1}]}",
         "rule.all[1].op"},
        {"{\"any\":[{\"fact\":\"total_spent\",\"op\":\">\",\"value\":1.5}]}", "rule.any[0].value"},
        {"{\"any\":[{\"fact\":\"has_ordered\",\"op\":\"=\",\"value\":1}]}", "rule.any[0].value"},
        {"{\"any\":[{\"fact\":\"has_ordered\",\"op\":\"<\",\"value\":true}]}", "rule.any[0].value"},
        {"{\"any\":[{\"fact\":\"attributes.city\",\"op\":\">=\",\"value\":\"Seoul\"}]}", "rule.any[0].value"},
        {"{\"any\":[{\"fact\":\"attributes.\",\"op\":\"=\",\"value\":1}]}", "rule.any[0].fact"},
        {"{\"any\":[{\"fact\":\"attributes.a b\",\"op\":\"=\",\"value\":1}]}", "rule.any[0].fact"},
        {"{\"any\":[{\"fact\":\"order_count\",\"op\":\"=\"}]}", "rule.any[0].value"},
        {"{\"any\":[{\"fact\":\"order_count\",\"op\":\"=\",\"value\":1,\"note\":\"x\"}]}", "rule.any[0]"},
        {"{\"any\":[7]}", "rule.any[0]"},
        {"{\"all\":[]}", "rule.all"},
        {"{\"all\":{}}", "rule.all"},
        {"{\"all\":[],\"any\":[]}", "rule"},
        {"{\"none\":[]}", "rule"},
        {"[]", "rule"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct seg_rule r;
        json_t *j;
        char buf[96];
        const char *field = parse(cases[i].rule, &r, &j, buf, sizeof buf);
        assert_non_null(field);
        assert_string_equal(field, cases[i].field);
        json_decref(j);
    }
}

static void seventeen_conditions_are_too_many(void **state)
{
    (void)state;
    char text[2048] = "{\"all\":[";
    for (int i = 0; i < 17; i++)
        strcat(text, i ? ",{\"fact\":\"order_count\",\"op\":\">=\",\"value\":0}" : "{\"fact\":\"order_count\",\"op\":\">=\",\"value\":0}");
    strcat(text, "]}");
    struct seg_rule r;
    json_t *j;
    char buf[96];
    assert_string_equal(parse(text, &r, &j, buf, sizeof buf), "rule.all");
    json_decref(j);
}

static void vip_rule_compares_spending_in_the_last_year(void **state)
{
    (void)state;
    const char *vip = "{\"all\":[{\"fact\":\"spent_365d\",\"op\":\">=\",\"value\":1000000}]}";
    struct seg_facts f = {.order_count = 3, .total_spent = 5000000, .spent_365d = 999999};
    assert_false(matches(vip, &f, NOW));
    f.spent_365d = 1000000;
    assert_true(matches(vip, &f, NOW));
}

static void dormant_counts_whole_days_and_needs_an_order(void **state)
{
    (void)state;
    const char *dormant = "{\"all\":[{\"fact\":\"days_since_last_order\",\"op\":\">=\",\"value\":90}]}";
    struct seg_facts f = {.order_count = 1, .last_order_at = NOW - 90 * DAY + 1};
    assert_false(matches(dormant, &f, NOW));
    f.last_order_at = NOW - 90 * DAY;
    assert_true(matches(dormant, &f, NOW));
    struct seg_facts never = {0}; /* no order: the fact is missing, so no match */
    assert_false(matches(dormant, &never, NOW));
    assert_false(matches("{\"all\":[{\"fact\":\"days_since_last_order\",\"op\":\"<\",\"value\":90}]}", &never, NOW));
}

static void has_ordered_tells_new_from_returning(void **state)
{
    (void)state;
    const char *newbie = "{\"all\":[{\"fact\":\"has_ordered\",\"op\":\"=\",\"value\":false}]}";
    struct seg_facts f = {0};
    assert_true(matches(newbie, &f, NOW));
    f.order_count = 1;
    assert_false(matches(newbie, &f, NOW));
    assert_true(matches("{\"all\":[{\"fact\":\"has_ordered\",\"op\":\"!=\",\"value\":false}]}", &f, NOW));
}

static void attributes_compare_by_type(void **state)
{
    (void)state;
    json_t *attrs = json_pack("{s:s, s:i, s:b}", "city", "Busan", "age", 31, "staff", 1);
    struct seg_facts f = {.attributes = attrs};
    assert_true(matches("{\"all\":[{\"fact\":\"attributes.city\",\"op\":\"=\",\"value\":\"Busan\"}]}", &f, NOW));
    assert_false(matches("{\"all\":[{\"fact\":\"attributes.city\",\"op\":\"!=\",\"value\":\"Busan\"}]}", &f, NOW));
    assert_true(matches("{\"all\":[{\"fact\":\"attributes.age\",\"op\":\">\",\"value\":30}]}", &f, NOW));
    assert_false(matches("{\"all\":[{\"fact\":\"attributes.age\",\"op\":\">\",\"value\":31}]}", &f, NOW));
    /* a string is never greater than a number */
    assert_false(matches("{\"all\":[{\"fact\":\"attributes.city\",\"op\":\">\",\"value\":1}]}", &f, NOW));
    assert_true(matches("{\"all\":[{\"fact\":\"attributes.staff\",\"op\":\"=\",\"value\":true}]}", &f, NOW));
    /* a missing attribute matches nothing, not even != */
    assert_false(matches("{\"all\":[{\"fact\":\"attributes.zip\",\"op\":\"!=\",\"value\":\"1\"}]}", &f, NOW));
    json_decref(attrs);
}

static void all_needs_every_condition_any_needs_one(void **state)
{
    (void)state;
    struct seg_facts f = {.order_count = 2, .total_spent = 100};
    const char *all = "{\"all\":[{\"fact\":\"order_count\",\"op\":\">=\",\"value\":2},"
                      "{\"fact\":\"total_spent\",\"op\":\">=\",\"value\":1000}]}";
    const char *any = "{\"any\":[{\"fact\":\"order_count\",\"op\":\">=\",\"value\":2},"
                      "{\"fact\":\"total_spent\",\"op\":\">=\",\"value\":1000}]}";
    assert_false(matches(all, &f, NOW));
    assert_true(matches(any, &f, NOW));
    f.order_count = 1;
    assert_false(matches(any, &f, NOW));
}

static void segment_names_are_small_lowercase_words(void **state)
{
    (void)state;
    assert_true(core_segment_name_valid("vip"));
    assert_true(core_segment_name_valid("big-spenders_2026"));
    assert_false(core_segment_name_valid(""));
    assert_false(core_segment_name_valid("VIP"));
    assert_false(core_segment_name_valid("-x"));
    assert_false(core_segment_name_valid("a b"));
    assert_false(core_segment_name_valid(NULL));
    char longname[66];
    memset(longname, 'a', 65);
    longname[65] = 0;
    assert_false(core_segment_name_valid(longname));
    longname[64] = 0;
    assert_true(core_segment_name_valid(longname));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refused_rules_name_the_member),
        cmocka_unit_test(seventeen_conditions_are_too_many),
        cmocka_unit_test(vip_rule_compares_spending_in_the_last_year),
        cmocka_unit_test(dormant_counts_whole_days_and_needs_an_order),
        cmocka_unit_test(has_ordered_tells_new_from_returning),
        cmocka_unit_test(attributes_compare_by_type),
        cmocka_unit_test(all_needs_every_condition_any_needs_one),
        cmocka_unit_test(segment_names_are_small_lowercase_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
