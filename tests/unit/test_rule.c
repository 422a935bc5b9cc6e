/* Automation rules: what is refused when saved (naming the member), which
 * ids a rule refers to, and how conditions judge an event and a customer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rule.h"

#define STEP "{\"delay_seconds\":86400,\"issue\":{\"campaign_id\":\"cmp_1\"}," \
             "\"message\":{\"template_id\":\"tpl_1\",\"channel\":\"email\"}}"

/* Checks a rule built from `members` (inserted into a valid body, or
 * replacing its steps when they start with "steps"); returns the field
 * named on refusal or "" when accepted. */
static const char *check(const char *members, char *buf, size_t len)
{
    char text[2048];
    if (strncmp(members, "\"steps\"", 7) == 0)
        snprintf(text, sizeof text, "{\"name\":\"r\",\"trigger\":{\"event\":\"cart_abandoned\"},%s}", members);
    else
        snprintf(text, sizeof text, "{\"name\":\"r\",\"trigger\":{\"event\":\"cart_abandoned\"},\"steps\":[" STEP
                 "]%s%s}", *members ? "," : "", members);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    const char *why = NULL;
    enum promo_err rc = core_rule_check(j, buf, len, &why);
    json_decref(j);
    if (rc == PROMO_OK)
        return "";
    assert_int_equal(rc, PROMO_BAD_REQUEST);
    assert_non_null(why);
    return buf;
}

static void a_valid_rule_is_accepted(void **state)
{
    (void)state;
    char buf[RULE_FIELD_MAX];
    assert_string_equal(check("", buf, sizeof buf), "");
    assert_string_equal(check("\"cancel_on\":{\"event\":\"purchase\",\"match\":\"cart_id\"},\"enabled\":false,"
                              "\"conditions\":[{\"property\":\"total\",\"op\":\">=\",\"value\":1000},"
                              "{\"segment\":\"vip\"},{\"property\":\"coupon\",\"op\":\"exists\"}]",
                              buf, sizeof buf),
                        "");
}

static void refused_rules_name_the_member(void **state)
{
    (void)state;
    char buf[RULE_FIELD_MAX];
    static const struct {
        const char *members, *field;
    } cases[] = {
        {"\"steps\":[]", "steps"},
        {"\"steps\":[" STEP ",{\"delay_seconds\":5}]", "steps[1]"},
        {"\"steps\":[{\"delay_seconds\":-1,\"issue\":{\"campaign_id\":\"c\"}}]", "steps[0].delay_seconds"},
        {"\"steps\":[{\"delay_seconds\":99999999,\"issue\":{\"campaign_id\":\"c\"}}]", "steps[0].delay_seconds"},
        {"\"steps\":[{\"issue\":{\"campaign_id\":\"\"}}]", "steps[0].issue"},
        {"\"steps\":[{\"message\":{\"template_id\":\"t\",\"channel\":\"sms\"}}]", "steps[0].message.channel"},
        {"\"steps\":[{\"message\":{\"channel\":\"email\"}}]", "steps[0].message.template_id"},
        {"\"steps\":[{\"message\":{\"template_id\":\"t\",\"channel\":\"webhook\"}}]", "steps[0].message.webhook_id"},
        {"\"steps\":[{\"message\":{\"template_id\":\"t\",\"channel\":\"email\",\"webhook_id\":\"w\"}}]",
         "steps[0].message.webhook_id"},
        {"\"steps\":[{\"later\":1,\"issue\":{\"campaign_id\":\"c\"}}]", "steps[0].later"},
        {"\"conditions\":[{\"property\":\"t\",\"op\":\"~\",\"value\":1}]", "conditions[0].op"},
        {"\"conditions\":[{\"segment\":\"vip\"},{\"property\":\"t\",\"op\":\"<\",\"value\":\"x\"}]",
         "conditions[1].value"},
        {"\"conditions\":[{\"property\":\"t\",\"op\":\"=\"}]", "conditions[0].value"},
        {"\"conditions\":[{\"segment\":\"Not A Name\"}]", "conditions[0]"},
        {"\"conditions\":{}", "conditions"},
        {"\"cancel_on\":{\"match\":\"cart_id\"}", "cancel_on.event"},
        {"\"cancel_on\":{\"event\":\"purchase\",\"when\":1}", "cancel_on.when"},
        {"\"enabled\":\"yes\"", "enabled"},
        {"\"colour\":\"red\"", "colour"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(check(cases[i].members, buf, sizeof buf), cases[i].field);
}

static void triggers_need_exactly_one_kind(void **state)
{
    (void)state;
    char buf[RULE_FIELD_MAX];
    const char *why;
    const char *bad[] = {
        "{\"name\":\"r\",\"steps\":[" STEP "]}",
        "{\"name\":\"r\",\"trigger\":{},\"steps\":[" STEP "]}",
        "{\"name\":\"r\",\"trigger\":{\"event\":\"a\",\"segment_entered\":\"vip\"},\"steps\":[" STEP "]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_int_equal(core_rule_check(j, buf, sizeof buf, &why), PROMO_BAD_REQUEST);
        assert_string_equal(buf, "trigger");
        json_decref(j);
    }
    json_t *j = json_loads("{\"name\":\"r\",\"trigger\":{\"segment_entered\":\"vip\"},\"steps\":[" STEP "]}", 0, NULL);
    assert_int_equal(core_rule_check(j, buf, sizeof buf, &why), PROMO_OK);
    json_decref(j);
}

struct refs {
    char seen[8][128];
    int n;
};

static int collect(void *ctx, const char *kind, const char *id, const char *field)
{
    struct refs *r = ctx;
    snprintf(r->seen[r->n++], sizeof r->seen[0], "%s %s %s", kind, id, field);
    return 0;
}

static void references_are_listed_with_their_field(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"steps\":[" STEP ",{\"message\":{\"template_id\":\"tpl_2\",\"channel\":\"webhook\","
                           "\"webhook_id\":\"whk_1\"}}]}",
                           0, NULL);
    struct refs r = {0};
    assert_int_equal(core_rule_refs(j, collect, &r), 0);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.seen[0], "campaign cmp_1 steps[0].issue.campaign_id");
    assert_string_equal(r.seen[1], "template tpl_1 steps[0].message.template_id");
    assert_string_equal(r.seen[2], "template tpl_2 steps[1].message.template_id");
    assert_string_equal(r.seen[3], "webhook whk_1 steps[1].message.webhook_id");
    json_decref(j);
}

static bool holds(const char *conds, const char *props, const char *segs, const char *computed)
{
    json_t *c = json_loads(conds, 0, NULL), *p = props ? json_loads(props, 0, NULL) : NULL;
    json_t *s = json_loads(segs, 0, NULL), *k = json_loads(computed, 0, NULL);
    bool h = core_rule_conditions_hold(c, p, s, k, NULL, 0);
    json_decref(c);
    json_decref(p);
    json_decref(s);
    json_decref(k);
    return h;
}

static void conditions_compare_properties_by_type(void **state)
{
    (void)state;
    const char *big = "[{\"property\":\"cart.total\",\"op\":\">=\",\"value\":100000}]";
    assert_true(holds(big, "{\"cart\":{\"total\":100000}}", "[]", "[]"));
    assert_false(holds(big, "{\"cart\":{\"total\":99999}}", "[]", "[]"));
    assert_false(holds(big, "{\"cart\":{\"total\":\"100000\"}}", "[]", "[]")); /* a string is not a number */
    assert_false(holds(big, "{}", "[]", "[]"));
    assert_false(holds(big, NULL, "[]", "[]"));
    const char *eq = "[{\"property\":\"channel\",\"op\":\"=\",\"value\":\"app\"}]";
    assert_true(holds(eq, "{\"channel\":\"app\"}", "[]", "[]"));
    assert_false(holds(eq, "{\"channel\":\"web\"}", "[]", "[]"));
    const char *ne = "[{\"property\":\"channel\",\"op\":\"!=\",\"value\":\"app\"}]";
    assert_true(holds(ne, "{\"channel\":\"web\"}", "[]", "[]"));
    const char *ex = "[{\"property\":\"coupon\",\"op\":\"exists\"}]";
    assert_true(holds(ex, "{\"coupon\":\"X\"}", "[]", "[]"));
    assert_false(holds(ex, "{\"coupon\":null}", "[]", "[]"));
    assert_true(holds("[]", NULL, "[]", "[]")); /* no conditions: always */
}

static void conditions_read_segments_by_hand_and_computed(void **state)
{
    (void)state;
    const char *vip = "[{\"segment\":\"vip\"},{\"not_segment\":\"dormant\"}]";
    assert_true(holds(vip, NULL, "[\"vip\"]", "[]"));
    assert_true(holds(vip, NULL, "[]", "[\"new\",\"vip\"]"));
    assert_false(holds(vip, NULL, "[]", "[]"));
    assert_false(holds(vip, NULL, "[\"vip\"]", "[\"dormant\"]"));
}

static bool fact_holds(const char *conds, const struct seg_facts *f)
{
    json_t *c = json_loads(conds, 0, NULL);
    bool h = core_rule_conditions_hold(c, NULL, NULL, NULL, f, 1800000000LL);
    json_decref(c);
    return h;
}

static void fact_conditions_use_the_segment_evaluator(void **state)
{
    (void)state;
    char buf[RULE_FIELD_MAX];
    assert_string_equal(check("\"conditions\":[{\"fact\":\"order_count\",\"op\":\">=\",\"value\":2}]", buf,
                              sizeof buf),
                        "");
    assert_string_equal(check("\"conditions\":[{\"segment\":\"vip\"},{\"fact\":\"order_count\",\"op\":\"~\","
                              "\"value\":2}]",
                              buf, sizeof buf),
                        "conditions[1].op");
    assert_string_equal(check("\"conditions\":[{\"fact\":\"shoe_size\",\"op\":\"=\",\"value\":2}]", buf,
                              sizeof buf),
                        "conditions[0].fact");
    const char *repeat = "[{\"fact\":\"order_count\",\"op\":\">=\",\"value\":2}]";
    struct seg_facts two = {.order_count = 2}, one = {.order_count = 1};
    assert_true(fact_holds(repeat, &two));
    assert_false(fact_holds(repeat, &one));
    assert_false(fact_holds(repeat, NULL)); /* an unknown customer has no facts */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_rule_is_accepted),
        cmocka_unit_test(refused_rules_name_the_member),
        cmocka_unit_test(triggers_need_exactly_one_kind),
        cmocka_unit_test(references_are_listed_with_their_field),
        cmocka_unit_test(conditions_compare_properties_by_type),
        cmocka_unit_test(conditions_read_segments_by_hand_and_computed),
        cmocka_unit_test(fact_conditions_use_the_segment_evaluator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
