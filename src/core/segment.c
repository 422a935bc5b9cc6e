/* segment.c — parsing and evaluating segment rules (see segment.h). */
#include "segment.h"

#include <stdio.h>
#include <string.h>

#define DAY 86400

static const struct {
    const char *name;
    enum seg_fact fact;
} facts[] = {
    {"order_count", FACT_ORDER_COUNT},
    {"total_spent", FACT_TOTAL_SPENT},
    {"spent_365d", FACT_SPENT_365D},
    {"days_since_last_order", FACT_DAYS_SINCE_LAST_ORDER},
    {"days_since_signup", FACT_DAYS_SINCE_SIGNUP},
    {"has_ordered", FACT_HAS_ORDERED},
};

static const char *const ops[] = {"=", "!=", ">", ">=", "<", "<="};

bool core_segment_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SEGMENT_NAME_MAX || name[0] == '-' || name[0] == '_')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool attr_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SEGMENT_ATTR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

static enum promo_err fail(char *buf, size_t len, const char **field, const char **why, const char *path,
                           size_t i, const char *member, const char *reason)
{
    if (member && *member)
        snprintf(buf, len, "rule.%s[%zu].%s", path, i, member);
    else if (member)
        snprintf(buf, len, "rule.%s[%zu]", path, i);
    else
        snprintf(buf, len, "rule.%s", path);
    *field = buf;
    *why = reason;
    return PROMO_BAD_REQUEST;
}

/* The fact of a condition, or -1 when the name is unknown. */
static int fact_parse(const char *name, const char **attr)
{
    *attr = NULL;
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if (strcmp(name, facts[i].name) == 0)
            return (int)facts[i].fact;
    if (strncmp(name, "attributes.", 11) == 0 && attr_name_valid(name + 11)) {
        *attr = name + 11;
        return FACT_ATTRIBUTE;
    }
    return -1;
}

static int op_parse(const char *s)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(s, ops[i]) == 0)
            return (int)i;
    return -1;
}

/* Which values and ops fit a fact: numbers compare every way, booleans
 * and strings only for (in)equality. */
static const char *value_problem(enum seg_fact f, enum seg_op op, json_t *v)
{
    bool ordering = op != SEG_EQ && op != SEG_NE;
    if (f == FACT_HAS_ORDERED)
        return !json_is_boolean(v) ? "must be true or false for has_ordered"
               : ordering          ? "has_ordered takes = or != only"
                                   : NULL;
    if (f == FACT_ATTRIBUTE) {
        if (json_is_integer(v))
            return NULL;
        if (json_is_string(v) || json_is_boolean(v))
            return ordering ? "a string or boolean value takes = or != only" : NULL;
        return "must be an integer, a string or a boolean";
    }
    return json_is_integer(v) ? NULL : "must be an integer";
}

static enum promo_err cond_parse(json_t *j, const char *path, size_t i, struct seg_cond *c, char *buf,
                                 size_t len, const char **field, const char **why)
{
    if (!json_is_object(j))
        return fail(buf, len, field, why, path, i, "", "each condition must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "fact") != 0 && strcmp(key, "op") != 0 && strcmp(key, "value") != 0)
            return fail(buf, len, field, why, path, i, "", "a condition has only fact, op and value");
    }
    json_t *jf = json_object_get(j, "fact"), *jo = json_object_get(j, "op");
    c->value = json_object_get(j, "value");
    int f = json_is_string(jf) ? fact_parse(json_string_value(jf), &c->attr) : -1;
    if (f < 0)
        return fail(buf, len, field, why, path, i, "fact",
                    "must be one of order_count, total_spent, spent_365d, days_since_last_order, "
                    "days_since_signup, has_ordered, attributes.<name>");
    int op = json_is_string(jo) ? op_parse(json_string_value(jo)) : -1;
    if (op < 0)
        return fail(buf, len, field, why, path, i, "op", "must be one of = != > >= < <=");
    c->fact = (enum seg_fact)f;
    c->op = (enum seg_op)op;
    if (!c->value)
        return fail(buf, len, field, why, path, i, "value", "is required");
    const char *p = value_problem(c->fact, c->op, c->value);
    if (p)
        return fail(buf, len, field, why, path, i, "value", p);
    if (json_is_string(c->value) && json_string_length(c->value) > 200)
        return fail(buf, len, field, why, path, i, "value", "is too long (at most 200 bytes)");
    return PROMO_OK;
}

enum promo_err core_segment_parse(json_t *rule, struct seg_rule *out, char *field_buf, size_t field_len,
                                  const char **field, const char **why)
{
    memset(out, 0, sizeof(*out));
    snprintf(field_buf, field_len, "rule");
    *field = field_buf;
    if (!json_is_object(rule) || json_object_size(rule) != 1) {
        *why = "must be an object with one member, all or any";
        return PROMO_BAD_REQUEST;
    }
    json_t *list = json_object_get(rule, "all");
    const char *path = "all";
    if (!list) {
        list = json_object_get(rule, "any");
        path = "any";
        out->any = true;
    }
    if (!list) {
        *why = "must be an object with one member, all or any";
        return PROMO_BAD_REQUEST;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > SEGMENT_COND_MAX)
        return fail(field_buf, field_len, field, why, path, 0, NULL, "must be an array of 1 to 16 conditions");
    for (size_t i = 0; i < json_array_size(list); i++) {
        enum promo_err rc = cond_parse(json_array_get(list, i), path, i, &out->c[i], field_buf, field_len, field, why);
        if (rc != PROMO_OK)
            return rc;
        out->n++;
    }
    return PROMO_OK;
}

static bool compare(int64_t have, enum seg_op op, int64_t want)
{
    switch (op) {
    case SEG_EQ: return have == want;
    case SEG_NE: return have != want;
    case SEG_GT: return have > want;
    case SEG_GE: return have >= want;
    case SEG_LT: return have < want;
    case SEG_LE: return have <= want;
    }
    return false;
}

/* Whole days from `since` to `now` (0 when since is in the future). */
static int64_t days_between(int64_t since, int64_t now) { return now > since ? (now - since) / DAY : 0; }

static bool attr_match(const struct seg_cond *c, json_t *attrs)
{
    json_t *have = attrs ? json_object_get(attrs, c->attr) : NULL;
    if (!have)
        return false;
    if (json_is_integer(c->value))
        return json_is_integer(have) && compare(json_integer_value(have), c->op, json_integer_value(c->value));
    bool eq = json_equal(have, c->value);
    return c->op == SEG_EQ ? eq : !eq;
}

static bool cond_match(const struct seg_cond *c, const struct seg_facts *f, int64_t now)
{
    int64_t want = json_is_integer(c->value) ? json_integer_value(c->value) : 0;
    switch (c->fact) {
    case FACT_ORDER_COUNT: return compare(f->order_count, c->op, want);
    case FACT_TOTAL_SPENT: return compare(f->total_spent, c->op, want);
    case FACT_SPENT_365D: return compare(f->spent_365d, c->op, want);
    case FACT_DAYS_SINCE_LAST_ORDER:
        return f->last_order_at != 0 && compare(days_between(f->last_order_at, now), c->op, want);
    case FACT_DAYS_SINCE_SIGNUP:
        return f->signup_at != 0 && compare(days_between(f->signup_at, now), c->op, want);
    case FACT_HAS_ORDERED: {
        bool has = f->order_count > 0, v = json_is_true(c->value);
        return c->op == SEG_EQ ? has == v : has != v;
    }
    case FACT_ATTRIBUTE: return attr_match(c, f->attributes);
    }
    return false;
}

bool core_segment_match(const struct seg_rule *r, const struct seg_facts *f, int64_t now)
{
    for (size_t i = 0; i < r->n; i++) {
        bool m = cond_match(&r->c[i], f, now);
        if (r->any && m)
            return true;
        if (!r->any && !m)
            return false;
    }
    return !r->any;
}
