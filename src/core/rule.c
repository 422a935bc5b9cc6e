/* rule.c — automation rules: validation and conditions (see rule.h). */
#include "core/rule.h"

#include <stdio.h>
#include <string.h>

#include "core/segment.h"

static const char *const RULE_FIELDS[] = {"name", "enabled", "trigger", "conditions", "steps", "cancel_on", NULL};
static const char *const STEP_FIELDS[] = {"delay_seconds", "issue", "message", NULL};
static const char *const MSG_FIELDS[] = {"template_id", "channel", "webhook_id", NULL};

/* Sets the field path and the reason; always returns PROMO_BAD_REQUEST. */
static enum promo_err bad(char *buf, size_t len, const char **why, const char *text, const char *fmt,
                          const char *a, int i)
{
    snprintf(buf, len, fmt, a ? a : "", i);
    *why = text;
    return PROMO_BAD_REQUEST;
}

/* The first member of o not in `allowed`, or NULL. */
static const char *unknown_member(const json_t *o, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], k) == 0;
        if (!ok)
            return k;
    }
    return NULL;
}

/* An identifier-like string: 1..max bytes of printable ASCII, no spaces. */
static bool name_ok(const json_t *v, size_t max)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static enum promo_err check_trigger(const json_t *t, char *buf, size_t len, const char **why)
{
    if (!json_is_object(t))
        return bad(buf, len, why, "is required: an object with event or segment_entered", "trigger", NULL, 0);
    const json_t *ev = json_object_get(t, "event"), *seg = json_object_get(t, "segment_entered");
    if (json_object_size(t) != 1 || (!ev && !seg))
        return bad(buf, len, why, "must have exactly one of event or segment_entered", "trigger", NULL, 0);
    if (ev && !name_ok(ev, 64))
        return bad(buf, len, why, "must be an event type (1..64 characters, no spaces)", "trigger.event", NULL, 0);
    if (seg && (!json_is_string(seg) || !core_segment_name_valid(json_string_value(seg))))
        return bad(buf, len, why, "must be a segment name", "trigger.segment_entered", NULL, 0);
    return PROMO_OK;
}

static bool op_known(const char *op)
{
    static const char *const ops[] = {"=", "!=", ">", ">=", "<", "<=", "exists", NULL};
    for (size_t i = 0; ops[i]; i++)
        if (strcmp(ops[i], op) == 0)
            return true;
    return false;
}

/* A customer fact condition is a segment condition ({"fact", "op",
 * "value"}): the segment parser checks it, as the one-condition rule
 * {"all": [c]}, and its member path is renamed to the rule's. */
static enum promo_err parse_fact(const json_t *c, struct seg_rule *r, char *fb, size_t fblen, const char **field,
                                 const char **why, json_t **wrap)
{
    *wrap = json_pack("{s:[O]}", "all", (json_t *)c);
    if (!*wrap) {
        *field = NULL;
        *why = "is not a condition";
        return PROMO_BAD_REQUEST;
    }
    return core_segment_parse(*wrap, r, fb, fblen, field, why);
}

static enum promo_err check_fact(const json_t *c, int i, char *buf, size_t len, const char **why)
{
    struct seg_rule r;
    char fb[96];
    const char *field = NULL;
    json_t *wrap;
    enum promo_err rc = parse_fact(c, &r, fb, sizeof fb, &field, why, &wrap);
    json_decref(wrap);
    if (rc == PROMO_OK)
        return PROMO_OK;
    const char *rest = field ? strchr(field, ']') : NULL;
    snprintf(buf, len, "conditions[%d]%s", i, rest ? rest + 1 : "");
    return PROMO_BAD_REQUEST;
}

static enum promo_err check_condition(const json_t *c, int i, char *buf, size_t len, const char **why)
{
    if (!json_is_object(c))
        return bad(buf, len, why, "must be an object", "conditions[%s%d]", NULL, i);
    if (json_object_get(c, "fact"))
        return check_fact(c, i, buf, len, why);
    const json_t *seg = json_object_get(c, "segment"), *nseg = json_object_get(c, "not_segment");
    if (seg || nseg) {
        const json_t *v = seg ? seg : nseg;
        if (json_object_size(c) != 1 || !json_is_string(v) || !core_segment_name_valid(json_string_value(v)))
            return bad(buf, len, why, "must be a segment name, alone in its condition", "conditions[%s%d]",
                       NULL, i);
        return PROMO_OK;
    }
    const json_t *p = json_object_get(c, "property"), *op = json_object_get(c, "op"),
                 *val = json_object_get(c, "value");
    if (!name_ok(p, 128))
        return bad(buf, len, why, "must be a property path (or give segment / not_segment)",
                   "conditions[%s%d].property", NULL, i);
    if (!json_is_string(op) || !op_known(json_string_value(op)))
        return bad(buf, len, why, "must be one of = != > >= < <= exists", "conditions[%s%d].op", NULL, i);
    bool exists = strcmp(json_string_value(op), "exists") == 0;
    size_t want = exists ? 2 : 3;
    if (!exists && (!val || json_is_null(val) || json_is_object(val) || json_is_array(val)))
        return bad(buf, len, why, "must be a number, a string or a boolean", "conditions[%s%d].value", NULL, i);
    bool ordered = !exists && strchr("<>", json_string_value(op)[0]);
    if (ordered && !json_is_number(val))
        return bad(buf, len, why, "must be a number for an ordering op", "conditions[%s%d].value", NULL, i);
    if (json_object_size(c) != want)
        return bad(buf, len, why, "has members other than property, op and value", "conditions[%s%d]", NULL, i);
    return PROMO_OK;
}

static enum promo_err check_message(const json_t *m, int i, char *buf, size_t len, const char **why)
{
    const char *k = unknown_member(m, MSG_FIELDS);
    if (k) {
        snprintf(buf, len, "steps[%d].message.%s", i, k);
        *why = "is not a member of a message";
        return PROMO_BAD_REQUEST;
    }
    const json_t *ch = json_object_get(m, "channel");
    if (!name_ok(json_object_get(m, "template_id"), 64))
        return bad(buf, len, why, "is required", "steps[%s%d].message.template_id", NULL, i);
    if (!json_is_string(ch) || (strcmp(json_string_value(ch), "email") && strcmp(json_string_value(ch), "webhook")))
        return bad(buf, len, why, "must be email or webhook", "steps[%s%d].message.channel", NULL, i);
    bool hook = strcmp(json_string_value(ch), "webhook") == 0;
    const json_t *wh = json_object_get(m, "webhook_id");
    if (hook && !name_ok(wh, 64))
        return bad(buf, len, why, "is required for the webhook channel", "steps[%s%d].message.webhook_id", NULL, i);
    if (!hook && wh)
        return bad(buf, len, why, "is only for the webhook channel", "steps[%s%d].message.webhook_id", NULL, i);
    return PROMO_OK;
}

static enum promo_err check_step(const json_t *s, int i, char *buf, size_t len, const char **why)
{
    if (!json_is_object(s))
        return bad(buf, len, why, "must be an object", "steps[%s%d]", NULL, i);
    const char *k = unknown_member(s, STEP_FIELDS);
    if (k) {
        snprintf(buf, len, "steps[%d].%s", i, k);
        *why = "is not a member of a step";
        return PROMO_BAD_REQUEST;
    }
    const json_t *d = json_object_get(s, "delay_seconds"), *is = json_object_get(s, "issue"),
                 *m = json_object_get(s, "message");
    if (d && (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > RULE_DELAY_MAX))
        return bad(buf, len, why, "must be an integer from 0 to 31622400 (366 days)", "steps[%s%d].delay_seconds",
                   NULL, i);
    if (!is && !m)
        return bad(buf, len, why, "needs issue, message or both", "steps[%s%d]", NULL, i);
    if (is && (!json_is_object(is) || json_object_size(is) != 1 ||
               !name_ok(json_object_get(is, "campaign_id"), 64)))
        return bad(buf, len, why, "must be {\"campaign_id\": ...}", "steps[%s%d].issue", NULL, i);
    if (m && !json_is_object(m))
        return bad(buf, len, why, "must be an object", "steps[%s%d].message", NULL, i);
    return m ? check_message(m, i, buf, len, why) : PROMO_OK;
}

static enum promo_err check_cancel(const json_t *c, char *buf, size_t len, const char **why)
{
    if (!json_is_object(c))
        return bad(buf, len, why, "must be an object {event, match}", "cancel_on", NULL, 0);
    const char *k = unknown_member(c, (const char *const[]){"event", "match", NULL});
    if (k)
        return bad(buf, len, why, "is not a member of cancel_on", "cancel_on.%s", k, 0);
    if (!name_ok(json_object_get(c, "event"), 64))
        return bad(buf, len, why, "is required: an event type", "cancel_on.event", NULL, 0);
    const json_t *m = json_object_get(c, "match");
    if (m && !name_ok(m, 128))
        return bad(buf, len, why, "must be a property path", "cancel_on.match", NULL, 0);
    return PROMO_OK;
}

enum promo_err core_rule_check(const json_t *body, char *buf, size_t len, const char **why)
{
    if (!json_is_object(body))
        return bad(buf, len, why, "must be a JSON object", "body", NULL, 0);
    const char *k = unknown_member(body, RULE_FIELDS);
    if (k)
        return bad(buf, len, why, "is not a member of a rule", "%s", k, 0);
    const json_t *name = json_object_get(body, "name"), *en = json_object_get(body, "enabled");
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > RULE_NAME_MAX)
        return bad(buf, len, why, "is required: 1 to 200 characters", "name", NULL, 0);
    if (en && !json_is_boolean(en))
        return bad(buf, len, why, "must be true or false", "enabled", NULL, 0);
    enum promo_err rc = check_trigger(json_object_get(body, "trigger"), buf, len, why);
    if (rc != PROMO_OK)
        return rc;
    const json_t *conds = json_object_get(body, "conditions"), *steps = json_object_get(body, "steps");
    if (conds && (!json_is_array(conds) || json_array_size(conds) > RULE_COND_MAX))
        return bad(buf, len, why, "must be an array of at most 16 conditions", "conditions", NULL, 0);
    for (size_t i = 0; conds && i < json_array_size(conds) && rc == PROMO_OK; i++)
        rc = check_condition(json_array_get(conds, i), (int)i, buf, len, why);
    if (rc != PROMO_OK)
        return rc;
    if (!json_is_array(steps) || json_array_size(steps) == 0 || json_array_size(steps) > RULE_STEPS_MAX)
        return bad(buf, len, why, "is required: an array of 1 to 10 steps", "steps", NULL, 0);
    for (size_t i = 0; i < json_array_size(steps) && rc == PROMO_OK; i++)
        rc = check_step(json_array_get(steps, i), (int)i, buf, len, why);
    const json_t *cancel = json_object_get(body, "cancel_on");
    if (rc == PROMO_OK && cancel)
        rc = check_cancel(cancel, buf, len, why);
    return rc;
}

int core_rule_refs(const json_t *body, rule_ref_fn fn, void *ctx)
{
    const json_t *steps = json_object_get(body, "steps");
    char field[RULE_FIELD_MAX];
    int r = 0;
    for (size_t i = 0; i < json_array_size(steps) && r == 0; i++) {
        const json_t *s = json_array_get(steps, i), *is = json_object_get(s, "issue"),
                     *m = json_object_get(s, "message");
        if (is) {
            snprintf(field, sizeof field, "steps[%zu].issue.campaign_id", i);
            r = fn(ctx, "campaign", json_string_value(json_object_get(is, "campaign_id")), field);
        }
        if (m && r == 0) {
            snprintf(field, sizeof field, "steps[%zu].message.template_id", i);
            r = fn(ctx, "template", json_string_value(json_object_get(m, "template_id")), field);
        }
        if (m && r == 0 && json_object_get(m, "webhook_id")) {
            snprintf(field, sizeof field, "steps[%zu].message.webhook_id", i);
            r = fn(ctx, "webhook", json_string_value(json_object_get(m, "webhook_id")), field);
        }
    }
    return r;
}

const json_t *core_rule_path(const json_t *obj, const char *path)
{
    char part[128];
    const json_t *v = obj;
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part || !json_is_object(v))
            return NULL;
        memcpy(part, path, n);
        part[n] = 0;
        v = json_object_get(v, part);
        path += n + (dot ? 1 : 0);
    }
    return v;
}

static bool has_name(const json_t *arr, const char *name)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)) && strcmp(json_string_value(json_array_get(arr, i)), name) == 0)
            return true;
    return false;
}

/* Compares a property to a condition's value; a property of another type
 * than the value makes the condition false (as segments do). */
static bool compare(const json_t *got, const char *op, const json_t *want)
{
    if (strcmp(op, "exists") == 0)
        return got && !json_is_null(got);
    if (!got)
        return false;
    int cmp;
    if (json_is_number(want) && json_is_number(got)) {
        double a = json_number_value(got), b = json_number_value(want);
        cmp = a < b ? -1 : a > b;
    } else if (json_is_string(want) && json_is_string(got)) {
        cmp = strcmp(json_string_value(got), json_string_value(want));
    } else if (json_is_boolean(want) && json_is_boolean(got)) {
        cmp = json_is_true(got) != json_is_true(want);
    } else {
        return false;
    }
    if (strcmp(op, "=") == 0)
        return cmp == 0;
    if (strcmp(op, "!=") == 0)
        return cmp != 0;
    if (!json_is_number(want))
        return false;
    if (strcmp(op, ">") == 0)
        return cmp > 0;
    if (strcmp(op, ">=") == 0)
        return cmp >= 0;
    if (strcmp(op, "<") == 0)
        return cmp < 0;
    return cmp <= 0;
}

/* A fact condition against the customer's facts (none: false). */
static bool fact_holds(const json_t *c, const struct seg_facts *facts, int64_t now)
{
    struct seg_rule r;
    char fb[96];
    const char *field, *why;
    json_t *wrap;
    if (!facts)
        return false;
    bool ok = parse_fact(c, &r, fb, sizeof fb, &field, &why, &wrap) == PROMO_OK && core_segment_match(&r, facts, now);
    json_decref(wrap);
    return ok;
}

bool core_rule_conditions_hold(const json_t *conditions, const json_t *props, const json_t *segments,
                               const json_t *computed, const struct seg_facts *facts, int64_t now)
{
    for (size_t i = 0; i < json_array_size(conditions); i++) {
        const json_t *c = json_array_get(conditions, i), *seg = json_object_get(c, "segment"),
                     *nseg = json_object_get(c, "not_segment");
        bool ok;
        if (json_object_get(c, "fact")) {
            ok = fact_holds(c, facts, now);
        } else if (seg || nseg) {
            const char *name = json_string_value(seg ? seg : nseg);
            bool in = has_name(segments, name) || has_name(computed, name);
            ok = seg ? in : !in;
        } else {
            const json_t *got = core_rule_path(props, json_string_value(json_object_get(c, "property")));
            ok = compare(got, json_string_value(json_object_get(c, "op")), json_object_get(c, "value"));
        }
        if (!ok)
            return false;
    }
    return true;
}
