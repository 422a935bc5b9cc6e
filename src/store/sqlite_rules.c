/* sqlite_rules.c — automation rules and expiry reminders on SQLite
 * (docs/automation.md). Everything here that reacts runs inside a writer
 * transaction: an event schedules its rule steps (tasks of kind rule_step,
 * keyed rule:<rule>:<event>:<step>, so a replay never schedules twice) and
 * cancels pending ones in the transaction that logs it; a step or a
 * reminder issues its code, queues its message and completes its task in
 * one transaction, so it happens exactly once across restarts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rule.h"
#include "core/segment.h"
#include "notify/template.h"
#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define DAY 86400
/* The D-day reminder (offset 0) would be due at the expiry itself, too
 * late to act on: every reminder is due REMINDER_LEAD before its day
 * boundary (docs/automation.md). */
#define REMINDER_LEAD (6 * 3600)

/* ---- CRUD ------------------------------------------------------------------ */

#define RULE_COLS "id, name, enabled, body, created_at, updated_at"
static const char SQL_RULE_GET[] = "SELECT " RULE_COLS " FROM rules WHERE id = ? AND deleted = 0";
static const char SQL_RULE_LIST[] =
    "SELECT " RULE_COLS " FROM rules WHERE deleted = 0 AND seq > coalesce((SELECT seq FROM rules WHERE id = ?1), 0)"
    " ORDER BY seq LIMIT ?2";
static const char SQL_RULE_INSERT[] =
    "INSERT INTO rules (id, name, enabled, trigger_event, trigger_segment, cancel_event, body, created_at,"
    " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)";
static const char SQL_RULE_UPDATE[] =
    "UPDATE rules SET name = ?2, enabled = ?3, trigger_event = ?4, trigger_segment = ?5, cancel_event = ?6,"
    " body = ?7, updated_at = ?8 WHERE id = ?1 AND deleted = 0";
static const char SQL_RULE_DELETE[] = "UPDATE rules SET deleted = 1, updated_at = ?2 WHERE id = ?1 AND deleted = 0";

static void row_to_rule(sqlite3_stmt *s, struct arena *a, struct rule_rec *r)
{
    r->id = col_text(s, 0, a);
    r->name = col_text(s, 1, a);
    r->enabled = sqlite3_column_int64(s, 2) != 0;
    r->body_json = col_text(s, 3, a);
    r->created_at = sqlite3_column_int64(s, 4);
    r->updated_at = sqlite3_column_int64(s, 5);
}

static enum promo_err rule_read(struct conn *c, struct arena *a, const char *id, struct rule_rec *out)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_RULE_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        row_to_rule(s, a, out);
    sqlite3_reset(s);
    return r == SQLITE_ROW ? PROMO_OK : r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "rule get");
}

struct rule_put_args {
    const struct rule_rec *r;
    bool create;
    int64_t now;
};

static enum promo_err op_rule_put(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct rule_put_args *p = arg;
    json_t *body = json_loads(p->r->body_json, 0, NULL);
    const json_t *trig = json_object_get(body, "trigger"), *cancel = json_object_get(body, "cancel_on");
    sqlite3_stmt *s = conn_stmt(c, p->create ? SQL_RULE_INSERT : SQL_RULE_UPDATE);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        bind_text(s, 1, p->r->id);
        bind_text(s, 2, p->r->name);
        bind_i64(s, 3, p->r->enabled);
        bind_text(s, 4, json_string_value(json_object_get(trig, "event")));
        bind_text(s, 5, json_string_value(json_object_get(trig, "segment_entered")));
        bind_text(s, 6, json_string_value(json_object_get(cancel, "event")));
        bind_text(s, 7, p->r->body_json);
        bind_i64(s, 8, p->now);
        rc = step_done(c, s);
    }
    json_decref(body);
    if (rc == PROMO_OK && !p->create && sqlite3_changes(c->db) == 0)
        return PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        rc = event_log(c, p->create ? "rule_created" : "rule_updated", p->now, NULL, NULL, NULL, NULL, p->r->id,
                       NULL, NULL);
    return rc;
}

enum promo_err sqlite_rule_put(struct sqlite_store *st, const struct rule_rec *r, bool create, int64_t now)
{
    struct rule_put_args p = {r, create, now};
    return writer_run(st, op_rule_put, &p);
}

enum promo_err sqlite_rule_get(struct sqlite_store *st, struct arena *a, const char *id, struct rule_rec *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = rule_read(c, a, id, out);
    reader_put(st, c);
    return rc;
}

static const char *page_row_to_rule(sqlite3_stmt *s, struct arena *a, void *row)
{
    row_to_rule(s, a, row);
    return ((const struct rule_rec *)row)->id;
}

enum promo_err sqlite_rule_list(struct sqlite_store *st, struct arena *a, const char *cursor, int limit,
                               struct rule_rec **out, size_t *n, const char **next)
{
    void *rows;
    enum promo_err rc = page_by_id(st, a, SQL_RULE_LIST, "rule list", cursor, limit,
                                   NULL, 0, sizeof(struct rule_rec), page_row_to_rule, &rows, n, next);
    *out = rows;
    return rc;
}

struct rule_del_args {
    const char *id;
    int64_t now;
};

static enum promo_err op_rule_delete(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct rule_del_args *p = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_RULE_DELETE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p->id);
    bind_i64(s, 2, p->now);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK && sqlite3_changes(c->db) == 0)
        return PROMO_NOT_FOUND;
    /* Its pending steps find the rule gone when due and are skipped. */
    if (rc == PROMO_OK)
        rc = event_log(c, "rule_deleted", p->now, NULL, NULL, NULL, NULL, p->id, NULL, NULL);
    return rc;
}

enum promo_err sqlite_rule_delete(struct sqlite_store *st, const char *id, int64_t now)
{
    struct rule_del_args p = {id, now};
    return writer_run(st, op_rule_delete, &p);
}

/* ---- reminders' settings ------------------------------------------------------ */

static const char SQL_REM_GET[] =
    "SELECT campaign_id, offsets, template_id, channel, webhook_id, updated_at FROM campaign_reminders"
    " WHERE campaign_id = ?";
static const char SQL_REM_PUT[] =
    "INSERT INTO campaign_reminders (campaign_id, offsets, template_id, channel, webhook_id, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (campaign_id) DO UPDATE SET offsets = ?2, template_id = ?3,"
    " channel = ?4, webhook_id = ?5, updated_at = ?6";
static const char SQL_REM_DELETE[] = "DELETE FROM campaign_reminders WHERE campaign_id = ?";

static enum promo_err reminders_read(struct conn *c, struct arena *a, const char *campaign_id,
                                     struct reminder_rec *out)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_REM_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, campaign_id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        out->campaign_id = col_text(s, 0, a);
        out->offsets_json = col_text(s, 1, a);
        out->template_id = col_text(s, 2, a);
        out->channel = col_text(s, 3, a);
        out->webhook_id = col_text(s, 4, a);
        out->updated_at = sqlite3_column_int64(s, 5);
    }
    sqlite3_reset(s);
    return r == SQLITE_ROW ? PROMO_OK : r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "reminders get");
}

enum promo_err sqlite_reminders_get(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                                   struct reminder_rec *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = reminders_read(c, a, campaign_id, out);
    reader_put(st, c);
    return rc;
}

struct rem_args {
    const struct reminder_rec *r;
    const char *campaign_id;
    int64_t now;
};

static enum promo_err op_reminders_put(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct rem_args *p = arg;
    struct arena a = {0};
    struct campaign cp;
    enum promo_err rc = campaign_read(c, &a, p->r->campaign_id, &cp, NULL);
    arena_free(&a);
    if (rc != PROMO_OK)
        return rc;
    sqlite3_stmt *s = conn_stmt(c, SQL_REM_PUT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p->r->campaign_id);
    bind_text(s, 2, p->r->offsets_json);
    bind_text(s, 3, p->r->template_id);
    bind_text(s, 4, p->r->channel);
    bind_text(s, 5, p->r->webhook_id);
    bind_i64(s, 6, p->now);
    rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, "campaign_reminders_set", p->now, p->r->campaign_id, NULL, NULL, NULL, NULL, NULL,
                       p->r->offsets_json);
    return rc;
}

enum promo_err sqlite_reminders_put(struct sqlite_store *st, const struct reminder_rec *r, int64_t now)
{
    struct rem_args p = {.r = r, .now = now};
    return writer_run(st, op_reminders_put, &p);
}

static enum promo_err op_reminders_delete(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct rem_args *p = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_REM_DELETE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p->campaign_id);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK && sqlite3_changes(c->db) == 0)
        return PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        rc = event_log(c, "campaign_reminders_removed", p->now, p->campaign_id, NULL, NULL, NULL, NULL, NULL,
                       NULL);
    return rc;
}

enum promo_err sqlite_reminders_delete(struct sqlite_store *st, const char *campaign_id, int64_t now)
{
    struct rem_args p = {.campaign_id = campaign_id, .now = now};
    return writer_run(st, op_reminders_delete, &p);
}

/* ---- scheduling ------------------------------------------------------------------ */

static const char SQL_STEP_INSERT[] =
    "INSERT INTO tasks (id, kind, due_at, key, payload, created_at, cancel_key) VALUES (?,?,?,?,?,?,?)"
    " ON CONFLICT (key) DO NOTHING";

static enum promo_err task_add(struct conn *c, const char *kind, const char *key, int64_t due, json_t *payload,
                               const char *cancel_key, int64_t now)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_STEP_INSERT);
    char *text = json_dumps(payload, JSON_COMPACT);
    if (!s || !text) {
        free(text);
        return PROMO_INTERNAL;
    }
    char id[PROMO_ID_MAX];
    util_rand_id("tsk_", id, sizeof id);
    bind_text(s, 1, id);
    bind_text(s, 2, kind);
    bind_i64(s, 3, due);
    bind_text(s, 4, key);
    bind_text(s, 5, text);
    bind_i64(s, 6, now);
    bind_text(s, 7, cancel_key);
    enum promo_err rc = step_done(c, s);
    free(text);
    return rc;
}

enum promo_err reminders_schedule(struct conn *c, const char *campaign_id, const char *code_key,
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
    " attributes, (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = ?1 AND at > ?2)"
    " FROM customers WHERE id = ?1";

/* What rule conditions read of a customer: segments (by hand, computed)
 * as JSON arrays and the facts. JSON members are new refs (the caller
 * decrefs hand, computed and f->attributes); all NULL for an unknown
 * customer, *known false. */
static enum promo_err customer_state(struct conn *c, const char *id, int64_t now, json_t **hand, json_t **computed,
                                     struct seg_facts *f, bool *known)
{
    *hand = *computed = NULL;
    memset(f, 0, sizeof *f);
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_SEGS);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    bind_i64(s, 2, segment_spent_since(now));
    int r = sqlite3_step(s);
    *known = r == SQLITE_ROW;
    if (r == SQLITE_ROW) {
        *hand = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
        *computed = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
        f->order_count = sqlite3_column_int64(s, 2);
        f->total_spent = sqlite3_column_int64(s, 3);
        f->last_order_at = sqlite3_column_int64(s, 4);
        f->signup_at = sqlite3_column_int64(s, 5);
        f->attributes = json_loads((const char *)sqlite3_column_text(s, 6), 0, NULL);
        f->spent_365d = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "customer state");
}

/* Schedules every step of one rule triggered by `trigger_id` (an event id
 * or "segment:<name>:<time>") when its conditions hold. */
static enum promo_err rule_fire(struct conn *c, const char *rule_id, const char *body_text, const char *customer_id,
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
    char *ck = hold ? cancel_key(rule_id, json_object_get(body, "cancel_on"), customer_id, props) : NULL;
    const json_t *steps = json_object_get(body, "steps");
    for (size_t i = 0; hold && rc == PROMO_OK && i < json_array_size(steps); i++) {
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
    if (hold && rc == PROMO_OK)
        rc = event_log(c, "rule_triggered", now, NULL, NULL, customer_id, NULL, rule_id, NULL, NULL);
    free(ck);
    json_decref(body);
    return rc;
}

static const char SQL_RULES_ON_EVENT[] =
    "SELECT id, body FROM rules WHERE trigger_event = ? AND deleted = 0 AND enabled = 1 ORDER BY seq";
static const char SQL_RULES_ON_SEGMENT[] =
    "SELECT id, body FROM rules WHERE trigger_segment = ? AND deleted = 0 AND enabled = 1 ORDER BY seq";
static const char SQL_RULES_CANCELLED_BY[] =
    "SELECT id, body FROM rules WHERE cancel_event = ? AND deleted = 0 ORDER BY seq";
static const char SQL_STEPS_CANCEL[] =
    "UPDATE tasks SET state = 'cancelled', done_at = ?2 WHERE cancel_key = ?1 AND state = 'pending'";

struct rule_row {
    const char *id, *body;
};

/* The rules a query (bound with `arg`) returns, in the arena. */
static enum promo_err rules_select(struct conn *c, struct arena *a, const char *sql, const char *arg,
                                   struct rule_row **out, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, arg);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct rule_row *v = arena_alloc(a, sizeof(*v) * ncap);
            if (cap)
                memcpy(v, *out, sizeof(*v) * cap);
            *out = v;
            cap = ncap;
        }
        (*out)[*n].id = col_text(s, 0, a);
        (*out)[(*n)++].body = col_text(s, 1, a);
    }
    sqlite3_reset(s);
    return r == SQLITE_DONE ? PROMO_OK : db_fail(c, "rules select");
}

/* Cancels the pending steps of every rule whose cancel_on this event is. */
static enum promo_err rules_cancel(struct conn *c, struct arena *a, const char *type, const char *customer_id,
                                   const json_t *props, int64_t now)
{
    struct rule_row *v = NULL;
    size_t n;
    enum promo_err rc = rules_select(c, a, SQL_RULES_CANCELLED_BY, type, &v, &n);
    for (size_t i = 0; i < n && rc == PROMO_OK; i++) {
        json_t *body = json_loads(v[i].body, 0, NULL);
        char *ck = cancel_key(v[i].id, json_object_get(body, "cancel_on"), customer_id, props);
        json_decref(body);
        sqlite3_stmt *s = ck ? conn_stmt(c, SQL_STEPS_CANCEL) : NULL;
        if (!s) {
            free(ck);
            return PROMO_INTERNAL;
        }
        bind_text(s, 1, ck);
        bind_i64(s, 2, now);
        rc = step_done(c, s);
        int cancelled = sqlite3_changes(c->db);
        free(ck);
        if (rc == PROMO_OK && cancelled > 0) {
            char data[64];
            snprintf(data, sizeof data, "{\"steps\":%d}", cancelled);
            rc = event_log(c, "rule_steps_cancelled", now, NULL, NULL, customer_id, NULL, v[i].id, type, data);
        }
    }
    return rc;
}

enum promo_err rules_on_event(struct conn *c, const char *type, const char *customer_id, const char *event_id,
                              const char *props_json, int64_t at, int64_t now)
{
    struct arena a = {0};
    json_t *props = json_loads(props_json ? props_json : "{}", 0, NULL);
    enum promo_err rc = rules_cancel(c, &a, type, customer_id, props, now);
    struct rule_row *v = NULL;
    size_t n = 0;
    if (rc == PROMO_OK)
        rc = rules_select(c, &a, SQL_RULES_ON_EVENT, type, &v, &n);
    for (size_t i = 0; i < n && rc == PROMO_OK; i++)
        rc = rule_fire(c, v[i].id, v[i].body, customer_id, event_id, props, at, now);
    json_decref(props);
    arena_free(&a);
    return rc;
}

enum promo_err rules_on_segment(struct conn *c, const char *customer_id, const char *segment, int64_t now)
{
    struct arena a = {0};
    struct rule_row *v = NULL;
    size_t n = 0;
    enum promo_err rc = rules_select(c, &a, SQL_RULES_ON_SEGMENT, segment, &v, &n);
    char trig[128];
    /* One entry is one trigger: leaving and entering again fires again. */
    snprintf(trig, sizeof trig, "segment:%s:%lld", segment, (long long)now);
    for (size_t i = 0; i < n && rc == PROMO_OK; i++)
        rc = rule_fire(c, v[i].id, v[i].body, customer_id, trig, NULL, now, now);
    arena_free(&a);
    return rc;
}

/* ---- running: messages ------------------------------------------------------------ */

static const char SQL_CUST_READ[] = "SELECT id, name, email, phone, locale, attributes FROM customers WHERE id = ?";

/* The `customer` members templates see; NULL when unknown. New ref. */
static json_t *customer_json(struct conn *c, const char *id, const char *campaign_tz)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_READ);
    if (!s)
        return NULL;
    bind_text(s, 1, id);
    json_t *o = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        json_t *attrs = json_loads((const char *)sqlite3_column_text(s, 5), 0, NULL);
        const char *tz = json_string_value(json_object_get(attrs, "timezone"));
        o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "id", (const char *)sqlite3_column_text(s, 0),
                      "name", (const char *)sqlite3_column_text(s, 1), "email",
                      (const char *)sqlite3_column_text(s, 2), "phone", (const char *)sqlite3_column_text(s, 3),
                      "locale", (const char *)sqlite3_column_text(s, 4), "timezone", tz ? tz : campaign_tz,
                      "attributes", attrs ? attrs : json_object());
    }
    sqlite3_reset(s);
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

static const char SQL_HOOK_URL[] = "SELECT url FROM webhooks WHERE id = ? AND deleted_at IS NULL";

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

/* Queues the message of template_id through channel to the customer in
 * `data`. A message that cannot be made (no address, template gone, needs
 * a code there is none of) is not an error: *why says why it was not sent. */
static enum promo_err message_queue(struct conn *c, struct arena *a, const char *template_id, const char *channel,
                                    const char *webhook_id, json_t *data, const char *event_type, int64_t now,
                                    const char **msg_id, const char **why)
{
    struct template_rec t;
    *msg_id = NULL;
    enum promo_err rc = template_read(c, a, template_id, &t);
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
        sqlite3_stmt *s = conn_stmt(c, SQL_HOOK_URL);
        if (!s)
            return PROMO_INTERNAL;
        bind_text(s, 1, webhook_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            m.recipient = col_text(s, 0, a);
        sqlite3_reset(s);
        if (!m.recipient)
            return *why = "webhook_not_found", PROMO_OK;
        /* A webhook message carries the data and the rendered texts, in
         * the event shape of docs/webhooks.md. */
        json_t *d = json_deep_copy(data);
        json_object_set_new(d, "message", json_pack("{s:s?, s:s?, s:s?}", "subject", m.subject, "text",
                                                    m.body_text, "html", m.body_html));
        char at[TIME_STR_MAX];
        time_format(now, at);
        json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "type", event_type, "occurred_at", at, "data", d);
        char *txt = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        m.body_text = arena_strdup(a, txt);
        free(txt);
        m.subject = m.body_html = NULL;
        m.webhook_id = webhook_id;
        m.event_type = event_type;
    }
    rc = outbox_enqueue(c, &m, now * 1000);
    if (rc == PROMO_OK)
        *msg_id = id;
    return rc;
}

/* ---- running: rule steps -------------------------------------------------------------- */

/* What one run of a rule step found and did. */
struct step_run {
    const char *customer_id;
    struct campaign cp;
    bool have_cp;
    struct code_info ci;
    const char *code, *refused, *msg_id, *msg_why;
};

/* Issues the step's code. A refusal (a limit, the campaign ended) is an
 * outcome, recorded in sr->refused; only a store failure is an error. */
static enum promo_err step_issue(struct conn *c, struct arena *a, const json_t *issue, int64_t now,
                                 struct step_run *sr)
{
    const char *cid = json_string_value(json_object_get(issue, "campaign_id"));
    struct codegen g;
    const char *f, *why;
    codefmt_prepare(&g, NULL, 0, NULL, NULL, NULL, &f, &why);
    enum promo_err ir = code_issue_tx(c, a, cid, sr->customer_id, "rule", &g, now, &sr->ci);
    if (ir == PROMO_INTERNAL || ir == PROMO_UNAVAILABLE)
        return ir;
    if (ir != PROMO_OK) {
        sr->refused = promo_err_code(ir);
        return PROMO_OK;
    }
    sr->code = sr->ci.k.code;
    sr->have_cp = campaign_read(c, a, cid, &sr->cp, NULL) == PROMO_OK;
    return PROMO_OK;
}

/* Queues the step's message with the customer, the cart (the triggering
 * event's properties) and the code, if one was issued. */
static enum promo_err step_message(struct conn *c, struct arena *a, const json_t *msg, const json_t *props,
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
static enum promo_err step_log(struct conn *c, const struct task *t, const char *rule_id, size_t step_i,
                               int64_t now, const struct step_run *sr)
{
    json_t *d = json_pack("{s:s, s:I, s:s?, s:s?, s:s?}", "rule_id", rule_id, "step", (json_int_t)step_i,
                          "message_id", sr->msg_id, "issue_refused", sr->refused, "message_skipped", sr->msg_why);
    char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    char key[CODEFMT_KEY_MAX + 1] = "";
    if (sr->code)
        codefmt_normalize(sr->code, strlen(sr->code), key);
    enum promo_err rc = event_log(c, "rule_step_run", now, sr->code && sr->have_cp ? sr->cp.id : NULL,
                                  sr->code ? key : NULL, sr->customer_id, NULL, t->id,
                                  sr->refused ? sr->refused : sr->msg_why, data);
    free(data);
    return rc;
}

/* rule_step: issues the step's code (all the campaign's limits apply; a
 * refusal is recorded, not retried) and queues its message, in the
 * transaction that completes the task. A rule deleted or disabled since
 * skips its steps. */
enum promo_err rule_step_run(struct conn *c, struct arena *a, const struct task *t, int64_t now, bool *skipped)
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

/* ---- running: expiry reminders ---------------------------------------------------------- */

/* expiry_reminder: sends the campaign's reminder only when the code is
 * still unused (no standing redemption), not disabled and not expired;
 * otherwise the task is skipped. A redemption needs no cancel: this check
 * in the task's own transaction is the cancel. */
enum promo_err reminder_run(struct conn *c, struct arena *a, const struct task *t, int64_t now, bool *skipped)
{
    json_t *p = json_loads(t->payload, 0, NULL);
    const char *key = json_string_value(json_object_get(p, "code"));
    const char *campaign_id = json_string_value(json_object_get(p, "campaign_id"));
    const char *customer_id = json_string_value(json_object_get(p, "customer_id"));
    int64_t off = json_integer_value(json_object_get(p, "offset_days"));
    struct code_info ci;
    struct reminder_rec rr;
    struct campaign cp;
    enum promo_err rc = key ? code_info_read(c, a, key, now, &ci) : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        rc = reminders_read(c, a, campaign_id, &rr);
    if (rc == PROMO_OK)
        rc = campaign_read(c, a, campaign_id, &cp, NULL);
    *skipped = rc == PROMO_NOT_FOUND || (rc == PROMO_OK && (ci.k.uses > 0 || ci.k.disabled || ci.k.expires_at <= now ||
                                                             !ci.k.customer_id ||
                                                             strcmp(ci.k.customer_id, customer_id) != 0));
    if (rc == PROMO_NOT_FOUND || *skipped) {
        json_decref(p);
        return PROMO_OK;
    }
    const char *msg_id = NULL, *why = NULL;
    if (rc == PROMO_OK) {
        json_t *data = json_object();
        json_t *cu = customer_json(c, customer_id, cp.timezone);
        json_object_set_new(data, "customer", cu ? cu : json_pack("{s:s}", "id", customer_id));
        data_add_code(data, &ci, &cp);
        json_object_set_new(data, "event", json_pack("{s:I}", "days_left", (json_int_t)off));
        rc = message_queue(c, a, rr.template_id, rr.channel, rr.webhook_id, data, "expiry_reminder", now, &msg_id,
                           &why);
        json_decref(data);
    }
    if (rc == PROMO_OK) {
        json_t *d = json_pack("{s:I, s:s?, s:s?}", "offset_days", (json_int_t)off, "message_id", msg_id,
                              "message_skipped", why);
        char *data = json_dumps(d, JSON_COMPACT);
        json_decref(d);
        rc = event_log(c, "expiry_reminder_run", now, campaign_id, key, customer_id, NULL, t->id, why, data);
        free(data);
    }
    json_decref(p);
    return rc;
}
