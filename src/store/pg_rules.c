/* pg_rules.c — automation rules and expiry reminders on PostgreSQL (the
 * SQLite version: sqlite_rules.c; docs/automation.md). What reacts runs
 * inside the transaction of its cause: an event schedules its rule steps
 * (tasks of kind rule_step, keyed rule:<rule>:<event>:<step>, so a replay
 * never schedules twice — the tasks' unique key holds across servers) and
 * cancels pending ones in the transaction that logs it; a step or a
 * reminder issues its code, queues its message and completes its task in
 * one transaction (claimed FOR UPDATE SKIP LOCKED by pg_tasks.c), so it
 * happens once however many servers run a scheduler. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rule.h"
#include "core/segment.h"
#include "notify/template.h"
#include "store/pg_int.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define DAY 86400
/* Every reminder is due REMINDER_LEAD before its day boundary: the D-day
 * one at the expiry itself would be too late to act on. */
#define REMINDER_LEAD (6 * 3600)

/* ---- CRUD ------------------------------------------------------------------ */

#define RULE_COLS "id, name, enabled, body, created_at, updated_at"
static const char SQL_RULE_GET[] = "SELECT " RULE_COLS " FROM rules WHERE id = $1 AND deleted = 0";
static const char SQL_RULE_LIST[] =
    "SELECT " RULE_COLS " FROM rules WHERE deleted = 0 AND seq > coalesce((SELECT seq FROM rules WHERE id = $1), 0)"
    " ORDER BY seq LIMIT $2";
static const char SQL_RULE_INSERT[] =
    "INSERT INTO rules (id, name, enabled, trigger_event, trigger_segment, cancel_event, body, created_at,"
    " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
static const char SQL_RULE_UPDATE[] =
    "UPDATE rules SET name = $2, enabled = $3, trigger_event = $4, trigger_segment = $5, cancel_event = $6,"
    " body = $7, updated_at = $8 WHERE id = $1 AND deleted = 0";
static const char SQL_RULE_DELETE[] = "UPDATE rules SET deleted = 1, updated_at = $2 WHERE id = $1 AND deleted = 0";

static void row_to_rule(PGresult *r, int i, struct arena *a, struct rule_rec *out)
{
    out->id = pg_text(r, i, 0, a);
    out->name = pg_text(r, i, 1, a);
    out->enabled = pg_i64(r, i, 2) != 0;
    out->body_json = pg_text(r, i, 3, a);
    out->created_at = pg_i64(r, i, 4);
    out->updated_at = pg_i64(r, i, 5);
}

static enum promo_err rule_read(struct pgc *c, struct arena *a, const char *id, struct rule_rec *out)
{
    PGresult *r = pq(c, SQL_RULE_GET, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_rule(r, 0, a, out);
    PQclear(r);
    return rc;
}

struct rule_put_args {
    const struct rule_rec *r;
    bool create;
    int64_t now;
};

static enum promo_err tx_rule_put(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct rule_put_args *p = arg;
    json_t *body = json_loads(p->r->body_json, 0, NULL);
    const json_t *trig = json_object_get(body, "trigger"), *cancel = json_object_get(body, "cancel_on");
    int64_t changed = 0;
    enum promo_err rc =
        pq_do(c, &changed, p->create ? SQL_RULE_INSERT : SQL_RULE_UPDATE, "ssissssi", p->r->id, p->r->name,
              (int64_t)p->r->enabled, json_string_value(json_object_get(trig, "event")),
              json_string_value(json_object_get(trig, "segment_entered")),
              json_string_value(json_object_get(cancel, "event")), p->r->body_json, p->now);
    json_decref(body);
    if (rc != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    if (changed == 0)
        return PROMO_NOT_FOUND;
    return pg_event_log(c, p->create ? "rule_created" : "rule_updated", p->now, NULL, NULL, NULL, NULL, p->r->id,
                        NULL, NULL);
}

enum promo_err pg_rule_put(struct pg_store *st, const struct rule_rec *r, bool create, int64_t now)
{
    struct rule_put_args p = {r, create, now};
    return pg_tx(st, tx_rule_put, &p);
}

enum promo_err pg_rule_get(struct pg_store *st, struct arena *a, const char *id, struct rule_rec *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = rule_read(c, a, id, out);
    pgc_put(st, c);
    return rc;
}

enum promo_err pg_rule_list(struct pg_store *st, struct arena *a, const char *cursor, int limit,
                            struct rule_rec **out, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_RULE_LIST, "si", cursor ? cursor : "", (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct rule_rec) * (size_t)(limit + 1));
    int got = PQntuples(r);
    for (int i = 0; i < got && i < limit; i++)
        row_to_rule(r, i, a, &(*out)[(*n)++]);
    if (got > limit)
        *next = (*out)[*n - 1].id;
    PQclear(r);
    return PROMO_OK;
}

struct rule_del_args {
    const char *id;
    int64_t now;
};

static enum promo_err tx_rule_delete(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct rule_del_args *p = arg;
    int64_t changed = 0;
    if (pq_do(c, &changed, SQL_RULE_DELETE, "si", p->id, p->now) != PROMO_OK)
        return PROMO_INTERNAL;
    if (changed == 0)
        return PROMO_NOT_FOUND;
    /* Its pending steps find the rule gone when due and are skipped. */
    return pg_event_log(c, "rule_deleted", p->now, NULL, NULL, NULL, NULL, p->id, NULL, NULL);
}

enum promo_err pg_rule_delete(struct pg_store *st, const char *id, int64_t now)
{
    struct rule_del_args p = {id, now};
    return pg_tx(st, tx_rule_delete, &p);
}

/* ---- reminders' settings ---------------------------------------------------------- */

static const char SQL_REM_GET[] =
    "SELECT campaign_id, offsets, template_id, channel, webhook_id, updated_at FROM campaign_reminders"
    " WHERE campaign_id = $1";
static const char SQL_REM_PUT[] =
    "INSERT INTO campaign_reminders (campaign_id, offsets, template_id, channel, webhook_id, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_id) DO UPDATE SET offsets = $2, template_id = $3,"
    " channel = $4, webhook_id = $5, updated_at = $6";
static const char SQL_REM_DELETE[] = "DELETE FROM campaign_reminders WHERE campaign_id = $1";

static enum promo_err reminders_read(struct pgc *c, struct arena *a, const char *campaign_id,
                                     struct reminder_rec *out)
{
    PGresult *r = pq(c, SQL_REM_GET, "s", campaign_id);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK) {
        out->campaign_id = pg_text(r, 0, 0, a);
        out->offsets_json = pg_text(r, 0, 1, a);
        out->template_id = pg_text(r, 0, 2, a);
        out->channel = pg_text(r, 0, 3, a);
        out->webhook_id = pg_text(r, 0, 4, a);
        out->updated_at = pg_i64(r, 0, 5);
    }
    PQclear(r);
    return rc;
}

enum promo_err pg_reminders_get(struct pg_store *st, struct arena *a, const char *campaign_id,
                                struct reminder_rec *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = reminders_read(c, a, campaign_id, out);
    pgc_put(st, c);
    return rc;
}

struct rem_args {
    const struct reminder_rec *r;
    const char *campaign_id;
    int64_t now;
};

static enum promo_err tx_reminders_put(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct rem_args *p = arg;
    struct arena a = {0};
    struct campaign cp;
    enum promo_err rc = pg_campaign_read(c, &a, p->r->campaign_id, false, &cp, NULL);
    arena_free(&a);
    if (rc != PROMO_OK)
        return rc;
    rc = pq_do(c, NULL, SQL_REM_PUT, "sssssi", p->r->campaign_id, p->r->offsets_json, p->r->template_id,
               p->r->channel, p->r->webhook_id, p->now);
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    return pg_event_log(c, "campaign_reminders_set", p->now, p->r->campaign_id, NULL, NULL, NULL, NULL, NULL,
                        p->r->offsets_json);
}

enum promo_err pg_reminders_put(struct pg_store *st, const struct reminder_rec *r, int64_t now)
{
    struct rem_args p = {.r = r, .now = now};
    return pg_tx(st, tx_reminders_put, &p);
}

static enum promo_err tx_reminders_delete(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct rem_args *p = arg;
    int64_t changed = 0;
    if (pq_do(c, &changed, SQL_REM_DELETE, "s", p->campaign_id) != PROMO_OK)
        return PROMO_INTERNAL;
    if (changed == 0)
        return PROMO_NOT_FOUND;
    return pg_event_log(c, "campaign_reminders_removed", p->now, p->campaign_id, NULL, NULL, NULL, NULL, NULL, NULL);
}

enum promo_err pg_reminders_delete(struct pg_store *st, const char *campaign_id, int64_t now)
{
    struct rem_args p = {.campaign_id = campaign_id, .now = now};
    return pg_tx(st, tx_reminders_delete, &p);
}

/* ---- scheduling --------------------------------------------------------------------- */

/* ON CONFLICT on the key: a step or reminder already scheduled (a replayed
 * event, two servers) is scheduled once. */
static const char SQL_STEP_INSERT[] =
    "INSERT INTO tasks (id, kind, due_at, key, payload, created_at, cancel_key) VALUES ($1,$2,$3,$4,$5,$6,$7)"
    " ON CONFLICT (key) DO NOTHING";

static enum promo_err task_add(struct pgc *c, const char *kind, const char *key, int64_t due, json_t *payload,
                               const char *cancel_key, int64_t now)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    if (!text)
        return PROMO_INTERNAL;
    char id[PROMO_ID_MAX];
    util_rand_id("tsk_", id, sizeof id);
    enum promo_err rc = pq_do(c, NULL, SQL_STEP_INSERT, "ssissis", id, kind, due, key, text, now, cancel_key);
    free(text);
    return rc == PROMO_OK ? PROMO_OK : PROMO_INTERNAL;
}

enum promo_err pg_reminders_schedule(struct pgc *c, const char *campaign_id, const char *code_key,
                                     const char *customer_id, int64_t expires_at, int64_t now)
{
    if (!customer_id)
        return PROMO_OK;
    struct arena a = {0};
    struct reminder_rec rr;
    enum promo_err rc = reminders_read(c, &a, campaign_id, &rr);
    if (rc != PROMO_OK) {
        arena_free(&a);
        return rc == PROMO_NOT_FOUND ? PROMO_OK : rc;
    }
    json_t *offs = json_loads(rr.offsets_json, 0, NULL);
    for (size_t i = 0; i < json_array_size(offs) && rc == PROMO_OK; i++) {
        int64_t off = json_integer_value(json_array_get(offs, i));
        int64_t due = expires_at - off * DAY - REMINDER_LEAD;
        /* A reminder whose time passed at the issue (a short-lived code) is
         * not sent late: it would arrive out of order with the later ones. */
        if (due <= now)
            continue;
        char key[256];
        snprintf(key, sizeof key, "expiry_reminder:%s:%lld", code_key, (long long)off);
        json_t *p = json_pack("{s:s, s:s, s:s, s:I}", "code", code_key, "campaign_id", campaign_id, "customer_id",
                              customer_id, "offset_days", (json_int_t)off);
        rc = p ? task_add(c, "expiry_reminder", key, due, p, NULL, now) : PROMO_INTERNAL;
        json_decref(p);
    }
    json_decref(offs);
    arena_free(&a);
    return rc;
}

/* The key a rule's pending steps for a customer are cancelled by: the
 * value of cancel_on.match in the triggering event's properties (a
 * purchase of cart 42 cancels the reminders of cart 42 only). NULL when
 * the rule has no cancel_on. Caller frees. */
static char *cancel_key(const char *rule_id, const json_t *cancel, const char *customer_id, const json_t *props)
{
    if (!cancel)
        return NULL;
    const char *match = json_string_value(json_object_get(cancel, "match"));
    const json_t *v = match ? core_rule_path(props, match) : NULL;
    char *val = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    size_t n = strlen(rule_id) + strlen(customer_id) + (val ? strlen(val) : 0) + 16;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "rule:%s:%s:%s", rule_id, customer_id, val ? val : "");
    free(val);
    return k;
}

static const char SQL_CUST_SEGS[] =
    "SELECT segments, computed, order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0),"
    " attributes, (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = $1 AND at > $2)"
    " FROM customers WHERE id = $1";

/* What rule conditions read of a customer: segments (by hand, computed)
 * as JSON arrays and the facts. JSON members are new refs (the caller
 * decrefs hand, computed and f->attributes); all NULL for an unknown
 * customer, *known false. */
static enum promo_err customer_state(struct pgc *c, const char *id, int64_t now, json_t **hand, json_t **computed,
                                     struct seg_facts *f, bool *known)
{
    *hand = *computed = NULL;
    memset(f, 0, sizeof *f);
    PGresult *r = pq(c, SQL_CUST_SEGS, "si", id, segment_spent_since(now));
    if (!r)
        return PROMO_INTERNAL;
    *known = PQntuples(r) > 0;
    if (*known) {
        *hand = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        *computed = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        f->order_count = pg_i64(r, 0, 2);
        f->total_spent = pg_i64(r, 0, 3);
        f->last_order_at = pg_i64(r, 0, 4);
        f->signup_at = pg_i64(r, 0, 5);
        f->attributes = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
        f->spent_365d = pg_i64(r, 0, 7);
    }
    PQclear(r);
    return PROMO_OK;
}

/* Schedules the steps of one rule fired by `trigger_id` (an event id or
 * "segment:<name>:<time>"), each carrying the rule's cancel key. */
static enum promo_err rule_steps_add(struct pgc *c, const char *rule_id, json_t *body, const char *customer_id,
                                     const char *trigger_id, const json_t *props, int64_t at, int64_t now)
{
    char *ck = cancel_key(rule_id, json_object_get(body, "cancel_on"), customer_id, props);
    const json_t *steps = json_object_get(body, "steps");
    enum promo_err rc = PROMO_OK;
    for (size_t i = 0; rc == PROMO_OK && i < json_array_size(steps); i++) {
        int64_t delay = json_integer_value(json_object_get(json_array_get(steps, i), "delay_seconds"));
        size_t kn = strlen(rule_id) + strlen(trigger_id) + 32;
        char *key = malloc(kn);
        json_t *p = json_pack("{s:s, s:I, s:s, s:s, s:o}", "rule_id", rule_id, "step", (json_int_t)i, "customer_id",
                              customer_id, "trigger_id", trigger_id, "properties",
                              props ? json_deep_copy(props) : json_object());
        if (key && p) {
            snprintf(key, kn, "rule:%s:%s:%zu", rule_id, trigger_id, i);
            rc = task_add(c, "rule_step", key, at + delay, p, ck, now);
        } else {
            rc = PROMO_INTERNAL;
        }
        free(key);
        json_decref(p);
    }
    free(ck);
    return rc;
}

/* Schedules every step of one rule when its conditions hold, and logs
 * `rule_triggered`. */
static enum promo_err rule_fire(struct pgc *c, const char *rule_id, const char *body_text, const char *customer_id,
                                const char *trigger_id, const json_t *props, int64_t at, int64_t now)
{
    json_t *body = json_loads(body_text, 0, NULL);
    json_t *hand, *computed;
    struct seg_facts facts;
    bool known;
    enum promo_err rc = customer_state(c, customer_id, now, &hand, &computed, &facts, &known);
    bool hold = rc == PROMO_OK && core_rule_conditions_hold(json_object_get(body, "conditions"), props, hand,
                                                            computed, known ? &facts : NULL, now);
    json_decref(hand);
    json_decref(computed);
    json_decref(facts.attributes);
    if (hold)
        rc = rule_steps_add(c, rule_id, body, customer_id, trigger_id, props, at, now);
    if (hold && rc == PROMO_OK)
        rc = pg_event_log(c, "rule_triggered", now, NULL, NULL, customer_id, NULL, rule_id, NULL, NULL);
    json_decref(body);
    return rc;
}

static const char SQL_RULES_ON_EVENT[] =
    "SELECT id, body FROM rules WHERE trigger_event = $1 AND deleted = 0 AND enabled = 1 ORDER BY seq";
static const char SQL_RULES_ON_SEGMENT[] =
    "SELECT id, body FROM rules WHERE trigger_segment = $1 AND deleted = 0 AND enabled = 1 ORDER BY seq";
static const char SQL_RULES_CANCELLED_BY[] =
    "SELECT id, body FROM rules WHERE cancel_event = $1 AND deleted = 0 ORDER BY seq";
static const char SQL_STEPS_CANCEL[] =
    "UPDATE tasks SET state = 'cancelled', done_at = $2 WHERE cancel_key = $1 AND state = 'pending'";

/* Cancels the pending steps of every rule whose cancel_on this event is.
 * A step being run by another transaction is waited for (its row lock),
 * then is no longer pending: it ran, as it would have a moment earlier. */
static enum promo_err rules_cancel(struct pgc *c, const char *type, const char *customer_id, const json_t *props,
                                   int64_t now)
{
    PGresult *r = pq(c, SQL_RULES_CANCELLED_BY, "s", type);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < PQntuples(r) && rc == PROMO_OK; i++) {
        const char *rule_id = PQgetvalue(r, i, 0);
        json_t *body = json_loads(PQgetvalue(r, i, 1), 0, NULL);
        char *ck = cancel_key(rule_id, json_object_get(body, "cancel_on"), customer_id, props);
        json_decref(body);
        int64_t cancelled = 0;
        rc = ck ? pq_do(c, &cancelled, SQL_STEPS_CANCEL, "si", ck, now) : PROMO_INTERNAL;
        free(ck);
        if (rc == PROMO_OK && cancelled > 0) {
            char data[64];
            snprintf(data, sizeof data, "{\"steps\":%lld}", (long long)cancelled);
            rc = pg_event_log(c, "rule_steps_cancelled", now, NULL, NULL, customer_id, NULL, rule_id, type, data);
        }
    }
    PQclear(r);
    return rc == PROMO_OK ? PROMO_OK : PROMO_INTERNAL;
}

/* Fires every rule a query (bound with `arg`) returns. */
static enum promo_err rules_fire_all(struct pgc *c, const char *sql, const char *arg, const char *customer_id,
                                     const char *trigger_id, const json_t *props, int64_t at, int64_t now)
{
    PGresult *r = pq(c, sql, "s", arg);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < PQntuples(r) && rc == PROMO_OK; i++)
        rc = rule_fire(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), customer_id, trigger_id, props, at, now);
    PQclear(r);
    return rc;
}

enum promo_err pg_rules_on_event(struct pgc *c, const char *type, const char *customer_id, const char *event_id,
                                 const char *props_json, int64_t at, int64_t now)
{
    json_t *props = json_loads(props_json ? props_json : "{}", 0, NULL);
    enum promo_err rc = rules_cancel(c, type, customer_id, props, now);
    if (rc == PROMO_OK)
        rc = rules_fire_all(c, SQL_RULES_ON_EVENT, type, customer_id, event_id, props, at, now);
    json_decref(props);
    return rc;
}

enum promo_err pg_rules_on_segment(struct pgc *c, const char *customer_id, const char *segment, int64_t now)
{
    char trig[128];
    /* One entry is one trigger: leaving and entering again fires again. */
    snprintf(trig, sizeof trig, "segment:%s:%lld", segment, (long long)now);
    return rules_fire_all(c, SQL_RULES_ON_SEGMENT, segment, customer_id, trig, NULL, now, now);
}

/* ---- running: messages ------------------------------------------------------------------ */

static const char SQL_CUST_READ[] = "SELECT id, name, email, phone, locale, attributes FROM customers WHERE id = $1";

/* The `customer` members templates see; NULL when unknown. New ref. */
static json_t *customer_json(struct pgc *c, const char *id, const char *campaign_tz)
{
    PGresult *r = pq(c, SQL_CUST_READ, "s", id);
    if (!r)
        return NULL;
    json_t *o = NULL;
    if (PQntuples(r)) {
        struct arena a = {0};
        json_t *attrs = json_loads(PQgetvalue(r, 0, 5), 0, NULL);
        const char *tz = json_string_value(json_object_get(attrs, "timezone"));
        o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "id", PQgetvalue(r, 0, 0), "name",
                      pg_text(r, 0, 1, &a), "email", pg_text(r, 0, 2, &a), "phone", pg_text(r, 0, 3, &a), "locale",
                      pg_text(r, 0, 4, &a), "timezone", tz ? tz : campaign_tz, "attributes",
                      attrs ? attrs : json_object());
        arena_free(&a);
    }
    PQclear(r);
    return o;
}

/* Adds the code and its campaign to the template data. */
static void data_add_code(json_t *d, const struct code_info *ci, const struct campaign *cp)
{
    json_object_set_new(d, "code", json_string(ci->k.code));
    if (ci->k.expires_at != PROMO_TIME_MAX)
        json_object_set_new(d, "expires_at", json_integer(ci->k.expires_at));
    if (cp) {
        json_object_set_new(d, "campaign", json_pack("{s:s, s:s?}", "id", cp->id, "name", cp->name));
        json_object_set_new(d, "currency", json_string(cp->currency));
        if (cp->discount.type == DISCOUNT_FIXED)
            json_object_set_new(d, "discount", json_integer(cp->discount.amount));
    }
}

static bool text_uses_code(const char *text)
{
    if (!text)
        return false;
    json_t *vars = json_array();
    char err[TPL_ERR_MAX];
    bool uses = false;
    if (tpl_check(text, vars, err, sizeof err) == 0)
        for (size_t i = 0; i < json_array_size(vars); i++)
            uses = uses || strcmp(json_string_value(json_array_get(vars, i)), "code") == 0;
    json_decref(vars);
    return uses;
}

/* Renders one text into *out (arena); false with *why on failure. */
static bool render(struct arena *a, const char *text, const json_t *data, bool html, const char **out,
                   const char **why)
{
    *out = NULL;
    if (!text)
        return true;
    char err[TPL_ERR_MAX];
    char *s = tpl_render(text, data, html, err, sizeof err);
    if (!s) {
        *why = "template_render_failed";
        return false;
    }
    *out = arena_strdup(a, s);
    free(s);
    return true;
}

static const char SQL_HOOK_URL[] = "SELECT url FROM webhooks WHERE id = $1 AND deleted_at IS NULL";

/* Makes m a webhook message: the data and the rendered texts in the event
 * shape of docs/webhooks.md, to the subscription's URL. *why when the
 * subscription is gone. */
static enum promo_err webhook_message(struct pgc *c, struct arena *a, const char *webhook_id, const json_t *data,
                                      const char *event_type, int64_t now, struct message *m, const char **why)
{
    PGresult *r = pq(c, SQL_HOOK_URL, "s", webhook_id ? webhook_id : "");
    if (!r)
        return PROMO_INTERNAL;
    m->recipient = PQntuples(r) ? pg_text(r, 0, 0, a) : NULL;
    PQclear(r);
    if (!m->recipient)
        return *why = "webhook_not_found", PROMO_OK;
    json_t *d = json_deep_copy(data);
    json_object_set_new(d, "message", json_pack("{s:s?, s:s?, s:s?}", "subject", m->subject, "text", m->body_text,
                                                "html", m->body_html));
    char at[TIME_STR_MAX];
    time_format(now, at);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", m->id, "type", event_type, "occurred_at", at, "data", d);
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    m->body_text = arena_strdup(a, txt);
    free(txt);
    m->subject = m->body_html = NULL;
    m->webhook_id = webhook_id;
    m->event_type = event_type;
    return PROMO_OK;
}

/* Queues the message of template_id through channel to the customer in
 * `data`. A message that cannot be made (no address, template gone, needs
 * a code there is none of) is not an error: *why says why it was not sent. */
static enum promo_err message_queue(struct pgc *c, struct arena *a, const char *template_id, const char *channel,
                                    const char *webhook_id, json_t *data, const char *event_type, int64_t now,
                                    const char **msg_id, const char **why)
{
    struct template_rec t;
    *msg_id = NULL;
    enum promo_err rc = pg_template_read(c, a, template_id ? template_id : "", &t);
    if (rc == PROMO_NOT_FOUND)
        return *why = "template_not_found", PROMO_OK;
    if (rc != PROMO_OK)
        return rc;
    if (!json_object_get(data, "code") &&
        (text_uses_code(t.subject) || text_uses_code(t.body_text) || text_uses_code(t.body_html)))
        return *why = "no_code_for_template", PROMO_OK;
    const json_t *cu = json_object_get(data, "customer");
    char *id = arena_alloc(a, PROMO_ID_MAX);
    util_rand_id("msg_", id, PROMO_ID_MAX);
    struct message m = {.id = id, .channel = channel, .template_id = template_id,
                        .customer_id = json_string_value(json_object_get(cu, "id")),
                        .recipient_name = json_string_value(json_object_get(cu, "name"))};
    if (!render(a, t.subject, data, false, &m.subject, why) || !render(a, t.body_text, data, false, &m.body_text, why) ||
        !render(a, t.body_html, data, true, &m.body_html, why))
        return PROMO_OK;
    if (strcmp(channel, "email") == 0) {
        m.recipient = json_string_value(json_object_get(cu, "email"));
        if (!m.recipient || !strchr(m.recipient, '@'))
            return *why = "customer_has_no_email", PROMO_OK;
    } else {
        rc = webhook_message(c, a, webhook_id, data, event_type, now, &m, why);
        if (rc != PROMO_OK || !m.recipient)
            return rc;
    }
    rc = pg_outbox_enqueue(c, &m, now * 1000);
    if (rc == PROMO_OK)
        *msg_id = id;
    return rc;
}

/* ---- running: rule steps ------------------------------------------------------------------ */

/* What one run of a rule step found and did. */
struct step_run {
    const char *customer_id;
    struct campaign cp;
    bool have_cp;
    struct code_info ci;
    const char *code, *refused, *msg_id, *msg_why;
};

/* Issues the step's code. A refusal (a limit, the campaign ended) is an
 * outcome, recorded in sr->refused; only a store failure is an error. The
 * issue runs under a savepoint so that a refusal leaves nothing behind,
 * whatever it had written before refusing. */
static enum promo_err step_issue(struct pgc *c, struct arena *a, const json_t *issue, int64_t now,
                                 struct step_run *sr)
{
    const char *cid = json_string_value(json_object_get(issue, "campaign_id"));
    struct codegen g;
    const char *f, *why;
    codefmt_prepare(&g, NULL, 0, NULL, NULL, NULL, &f, &why);
    if (pg_exec(c, "SAVEPOINT rule_issue") != 0)
        return PROMO_INTERNAL;
    enum promo_err ir = pg_code_issue_tx(c, a, cid ? cid : "", sr->customer_id, "rule", &g, now, &sr->ci);
    if (c->retry || ir == PROMO_INTERNAL || ir == PROMO_UNAVAILABLE)
        return PROMO_INTERNAL;
    if (ir != PROMO_OK) {
        sr->refused = promo_err_code(ir);
        return pg_exec(c, "ROLLBACK TO SAVEPOINT rule_issue") == 0 ? PROMO_OK : PROMO_INTERNAL;
    }
    if (pg_exec(c, "RELEASE SAVEPOINT rule_issue") != 0)
        return PROMO_INTERNAL;
    sr->code = sr->ci.k.code;
    sr->have_cp = pg_campaign_read(c, a, cid, false, &sr->cp, NULL) == PROMO_OK;
    return PROMO_OK;
}

/* Queues the step's message with the customer, the cart (the triggering
 * event's properties) and the code, if one was issued. */
static enum promo_err step_message(struct pgc *c, struct arena *a, const json_t *msg, const json_t *props,
                                   int64_t now, struct step_run *sr)
{
    json_t *data = json_object();
    json_t *cu = customer_json(c, sr->customer_id, sr->have_cp ? sr->cp.timezone : NULL);
    json_object_set_new(data, "customer", cu ? cu : json_pack("{s:s}", "id", sr->customer_id));
    const json_t *cart = json_object_get(props, "cart");
    json_object_set(data, "cart", (json_t *)(cart ? cart : props));
    json_object_set(data, "event", (json_t *)props);
    if (sr->code)
        data_add_code(data, &sr->ci, sr->have_cp ? &sr->cp : NULL);
    enum promo_err rc = message_queue(c, a, json_string_value(json_object_get(msg, "template_id")),
                                      json_string_value(json_object_get(msg, "channel")),
                                      json_string_value(json_object_get(msg, "webhook_id")), data, "rule_message",
                                      now, &sr->msg_id, &sr->msg_why);
    json_decref(data);
    return rc;
}

/* Logs `rule_step_run`: the code issued or why not, the message or why not. */
static enum promo_err step_log(struct pgc *c, const struct task *t, const char *rule_id, size_t step_i,
                               int64_t now, const struct step_run *sr)
{
    json_t *d = json_pack("{s:s, s:I, s:s?, s:s?, s:s?}", "rule_id", rule_id, "step", (json_int_t)step_i,
                          "message_id", sr->msg_id, "issue_refused", sr->refused, "message_skipped", sr->msg_why);
    char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    char key[CODEFMT_KEY_MAX + 1] = "";
    if (sr->code)
        codefmt_normalize(sr->code, strlen(sr->code), key);
    enum promo_err rc = pg_event_log(c, "rule_step_run", now, sr->code && sr->have_cp ? sr->cp.id : NULL,
                                     sr->code ? key : NULL, sr->customer_id, NULL, t->id,
                                     sr->refused ? sr->refused : sr->msg_why, data);
    free(data);
    return rc;
}

/* rule_step: issues the step's code (all the campaign's limits apply; a
 * refusal is recorded, not retried) and queues its message, in the
 * transaction that completes the task. A rule deleted or disabled since
 * skips its steps. */
enum promo_err pg_rule_step_run(struct pgc *c, struct arena *a, const struct task *t, int64_t now, bool *skipped)
{
    json_t *p = json_loads(t->payload, 0, NULL);
    const char *rule_id = json_string_value(json_object_get(p, "rule_id"));
    size_t step_i = (size_t)json_integer_value(json_object_get(p, "step"));
    struct step_run sr = {.customer_id = json_string_value(json_object_get(p, "customer_id"))};
    struct rule_rec rr;
    enum promo_err rc = rule_id && sr.customer_id ? rule_read(c, a, rule_id, &rr) : PROMO_NOT_FOUND;
    json_t *body = rc == PROMO_OK ? json_loads(rr.body_json, 0, NULL) : NULL;
    json_t *step = json_array_get(json_object_get(body, "steps"), step_i);
    *skipped = rc == PROMO_NOT_FOUND || (rc == PROMO_OK && (!rr.enabled || !step));
    if (rc == PROMO_NOT_FOUND)
        rc = PROMO_OK;
    const json_t *issue = json_object_get(step, "issue"), *msg = json_object_get(step, "message");
    if (rc == PROMO_OK && !*skipped && issue)
        rc = step_issue(c, a, issue, now, &sr);
    if (rc == PROMO_OK && !*skipped && msg)
        rc = step_message(c, a, msg, json_object_get(p, "properties"), now, &sr);
    if (rc == PROMO_OK && !*skipped)
        rc = step_log(c, t, rule_id, step_i, now, &sr);
    json_decref(body);
    json_decref(p);
    return rc;
}

/* ---- running: expiry reminders ---------------------------------------------------------------- */

/* Queues the reminder of a code still worth reminding of and logs
 * `expiry_reminder_run`. */
static enum promo_err reminder_send(struct pgc *c, struct arena *a, const struct task *t, const struct code_info *ci,
                                    const struct reminder_rec *rr, const struct campaign *cp, const char *key,
                                    const char *customer_id, int64_t off, int64_t now)
{
    const char *msg_id = NULL, *why = NULL;
    json_t *data = json_object();
    json_t *cu = customer_json(c, customer_id, cp->timezone);
    json_object_set_new(data, "customer", cu ? cu : json_pack("{s:s}", "id", customer_id));
    data_add_code(data, ci, cp);
    json_object_set_new(data, "event", json_pack("{s:I}", "days_left", (json_int_t)off));
    enum promo_err rc = message_queue(c, a, rr->template_id, rr->channel, rr->webhook_id, data, "expiry_reminder",
                                      now, &msg_id, &why);
    json_decref(data);
    if (rc != PROMO_OK)
        return rc;
    json_t *d = json_pack("{s:I, s:s?, s:s?}", "offset_days", (json_int_t)off, "message_id", msg_id,
                          "message_skipped", why);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    rc = pg_event_log(c, "expiry_reminder_run", now, cp->id, key, customer_id, NULL, t->id, why, text);
    free(text);
    return rc;
}

/* expiry_reminder: sends the campaign's reminder only when the code is
 * still unused, not disabled, not expired and still the customer's;
 * otherwise the task is skipped. A redemption needs no cancel: this check
 * in the task's own transaction is the cancel. */
enum promo_err pg_reminder_run(struct pgc *c, struct arena *a, const struct task *t, int64_t now, bool *skipped)
{
    json_t *p = json_loads(t->payload, 0, NULL);
    const char *key = json_string_value(json_object_get(p, "code"));
    const char *campaign_id = json_string_value(json_object_get(p, "campaign_id"));
    const char *customer_id = json_string_value(json_object_get(p, "customer_id"));
    int64_t off = json_integer_value(json_object_get(p, "offset_days"));
    struct code_info ci;
    struct reminder_rec rr;
    struct campaign cp;
    enum promo_err rc = key && campaign_id && customer_id ? pg_code_info_read(c, a, key, now, &ci) : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        rc = reminders_read(c, a, campaign_id, &rr);
    if (rc == PROMO_OK)
        rc = pg_campaign_read(c, a, campaign_id, false, &cp, NULL);
    *skipped = rc == PROMO_NOT_FOUND || (rc == PROMO_OK && (ci.k.uses > 0 || ci.k.disabled || ci.k.expires_at <= now ||
                                                             !ci.k.customer_id ||
                                                             strcmp(ci.k.customer_id, customer_id) != 0));
    if (rc == PROMO_OK && !*skipped)
        rc = reminder_send(c, a, t, &ci, &rr, &cp, key, customer_id, off, now);
    json_decref(p);
    return rc == PROMO_NOT_FOUND ? PROMO_OK : rc;
}
