/* customers.c — customers (PUT/GET /v1/customers), client events (POST
 * /v1/events), segments (/v1/segments), the scheduler's tasks (GET
 * /v1/tasks) and the test clock (POST /v1/test/clock). */
#include <stdlib.h>
#include <string.h>

#include "api/jsonin.h"
#include "core/segment.h"
#include "jobs/scheduler.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define CUSTOMER_ID_MAX 128
#define ATTRIBUTES_MAX 100
#define PROPERTIES_MAX (64 * 1024)

/* ---- helpers ------------------------------------------------------------------ */

static json_t *time_json(int64_t t)
{
    if (t == 0)
        return json_null();
    char s[TIME_STR_MAX];
    time_format(t, s);
    return json_string(s);
}

static json_t *parsed_or(const char *text, json_t *fallback)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (!j)
        return fallback;
    json_decref(fallback);
    return j;
}

/* Ids a client chooses (customers, events): printable ASCII without
 * spaces, slashes or quotes, so they are safe in paths, logs and CSV. */
static bool client_id_valid(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == '"' || ch == '\\' || ch == '%')
            return false;
    }
    return true;
}

static json_t *customer_json(const struct customer *u)
{
    json_t *segs = parsed_or(u->segments_json, json_array());
    json_t *comp = parsed_or(u->computed_json, json_array());
    json_t *attrs = parsed_or(u->attributes_json, json_object());
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:o, s:o, s:o, s:o}, s:o, s:o}",
                     "id", u->id, "name", u->name ? json_string(u->name) : json_null(), "email",
                     u->email ? json_string(u->email) : json_null(), "phone",
                     u->phone ? json_string(u->phone) : json_null(), "locale",
                     u->locale ? json_string(u->locale) : json_null(), "segments", segs, "computed_segments", comp,
                     "attributes", attrs, "facts", "order_count", (json_int_t)u->order_count, "total_spent",
                     (json_int_t)u->total_spent, "spent_365d", (json_int_t)u->spent_365d, "first_order_at",
                     time_json(u->first_order_at), "last_order_at", time_json(u->last_order_at), "last_seen_at",
                     time_json(u->last_seen_at), "signup_at", time_json(u->signup_at), "created_at",
                     time_json(u->created_at), "updated_at", time_json(u->updated_at));
}

static bool cursor_arg(struct api_req *r, int64_t *after, struct api_resp *w)
{
    const char *cursor = r->query(r->qctx, "cursor");
    *after = 0;
    if (!cursor)
        return true;
    if (!*cursor || strspn(cursor, "0123456789") != strlen(cursor) || strlen(cursor) > 18) {
        api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
        return false;
    }
    *after = strtoll(cursor, NULL, 10);
    return true;
}

static json_t *next_json(struct api_req *r, int64_t next)
{
    return next ? json_string(arena_printf(r->a, "%lld", (long long)next)) : json_null();
}

/* ---- customers --------------------------------------------------------------- */

static bool parse_attributes(struct arena *a, json_t *body, const char **out, struct api_resp *w)
{
    json_t *attrs;
    if (!jin_obj(body, "attributes", "", false, &attrs, w))
        return false;
    if (!attrs)
        return true;
    if (json_object_size(attrs) > ATTRIBUTES_MAX) {
        api_error(w, PROMO_BAD_REQUEST, "attributes has too many members (at most %d)", ATTRIBUTES_MAX);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
    {
        /* Scalars only: they are what segment rules compare. */
        if (!(json_is_string(v) || json_is_integer(v) || json_is_boolean(v) || json_is_null(v))) {
            api_error(w, PROMO_BAD_REQUEST, "attributes.%.64s must be a string, an integer, a boolean or null", k);
            return false;
        }
        char probe[80];
        snprintf(probe, sizeof probe, "attributes.%.68s", k);
        if (strlen(k) > SEGMENT_ATTR_MAX || strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(k)) {
            api_error(w, PROMO_BAD_REQUEST, "%s: attribute names are 1-64 of letters, digits, _ and -", probe);
            return false;
        }
        if (json_is_string(v) && json_string_length(v) > 1000) {
            api_error(w, PROMO_BAD_REQUEST, "%s is too long (at most 1000 bytes)", probe);
            return false;
        }
    }
    char *s = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
    *out = s ? arena_strdup(a, s) : "{}";
    free(s);
    return true;
}

static bool parse_customer(struct api_req *r, json_t *body, struct customer *u, struct api_resp *w)
{
    static const char *const fields[] = {"name", "email", "phone", "locale", "segments", "attributes", NULL};
    if (!jin_only(body, "", fields, w) || !jin_str(r->a, body, "name", "", false, true, 200, &u->name, w) ||
        !jin_str(r->a, body, "email", "", false, true, 254, &u->email, w) ||
        !jin_str(r->a, body, "phone", "", false, true, 32, &u->phone, w) ||
        !jin_str(r->a, body, "locale", "", false, true, 35, &u->locale, w))
        return false;
    if (u->email && (!strchr(u->email, '@') || strchr(u->email, ' '))) {
        api_error(w, PROMO_BAD_REQUEST, "email must be an e-mail address (name@domain)");
        return false;
    }
    if (u->phone && strspn(u->phone, "+0123456789 -()") != strlen(u->phone)) {
        api_error(w, PROMO_BAD_REQUEST, "phone may hold only digits, spaces, + - ( and )");
        return false;
    }
    if (u->locale && (strlen(u->locale) < 2 || strspn(u->locale, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(u->locale))) {
        api_error(w, PROMO_BAD_REQUEST, "locale must be a language tag such as ko-KR or en");
        return false;
    }
    const char **segs = NULL;
    size_t n = 0;
    if (!jin_strv(r->a, body, "segments", "", &segs, &n, w))
        return false;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!core_segment_name_valid(segs[i])) {
            json_decref(arr);
            api_error(w, PROMO_BAD_REQUEST, "segments[%zu] must be a segment name: 1-64 of a-z, 0-9, _ and -", i);
            return false;
        }
        json_array_append_new(arr, json_string(segs[i]));
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    u->segments_json = s ? arena_strdup(r->a, s) : "[]";
    free(s);
    return parse_attributes(r->a, body, &u->attributes_json, w);
}

void api_customer_put(struct api_req *r, struct api_resp *w)
{
    if (!client_id_valid(r->params[0], CUSTOMER_ID_MAX))
        return api_error(w, PROMO_BAD_REQUEST, "the customer id must be 1-128 printable ASCII characters without "
                                               "spaces, /, %%, \\ or quotes");
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct customer in = {.id = r->params[0]}, out;
    bool created = false;
    if (parse_customer(r, body, &in, w)) {
        enum promo_err rc = store_customer_put(r->ctx->st, r->a, &in, r->now, &out, &created);
        if (rc == PROMO_OK)
            api_json(w, created ? 201 : 200, customer_json(&out));
        else
            api_store_error(w, rc, "customer");
    }
    json_decref(body);
}

void api_customer_get(struct api_req *r, struct api_resp *w)
{
    struct customer u;
    enum promo_err rc = store_customer_get(r->ctx->st, r->a, r->params[0], r->now, &u);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "customer");
    api_json(w, 200, customer_json(&u));
}

void api_customer_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    int64_t after;
    if (!jin_query_limit(r, &limit, w) || !cursor_arg(r, &after, w))
        return;
    const char *segment = r->query(r->qctx, "segment");
    if (segment && !core_segment_name_valid(segment))
        return api_error(w, PROMO_BAD_REQUEST, "segment must be a segment name: 1-64 of a-z, 0-9, _ and -");
    struct customer *v;
    size_t n;
    int64_t next;
    enum promo_err rc = store_customer_list(r->ctx->st, r->a, segment, after, limit, r->now, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "customer");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, customer_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next_json(r, next)));
}

/* ---- client events ------------------------------------------------------------ */

/* Types the server writes into the log itself: a client event may not
 * pose as one of them. */
static bool type_reserved(const char *t)
{
    static const char *const prefixes[] = {"campaign_", "code", "redemption", "redeemed", "reserv", "validation",
                                           "token_", "oauth_", "job_", "abuse_", "segment_", "customer_",
                                           "task_", "webhook_", "message_", "template_", "rule_", NULL};
    for (const char *const *p = prefixes; *p; p++)
        if (strncmp(t, *p, strlen(*p)) == 0)
            return true;
    return false;
}

static bool type_valid(const char *t)
{
    size_t n = strlen(t);
    return n >= 1 && n <= 64 && t[0] >= 'a' && t[0] <= 'z' &&
           strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

/* A purchase carries its order: properties.order_id (string) and
 * properties.amount (integer minor units, what the customer paid). */
static bool parse_purchase(struct arena *a, json_t *props, struct ingest_event *e, struct api_resp *w)
{
    if (!props) {
        api_error(w, PROMO_BAD_REQUEST, "properties is required for a purchase (order_id, amount)");
        return false;
    }
    return jin_str(a, props, "order_id", "properties", true, false, 128, &e->order_id, w) &&
           jin_int(props, "amount", "properties", true, 0, PROMO_MONEY_MAX, &e->amount, NULL, w);
}

/* cart items, when given: [{"name", "price", "category", "quantity", "sku"}] */
static bool check_items(json_t *props, struct api_resp *w)
{
    json_t *items = props ? json_object_get(props, "items") : NULL;
    if (!items)
        return true;
    if (!json_is_array(items) || json_array_size(items) > 500) {
        api_error(w, PROMO_BAD_REQUEST, "properties.items must be an array of at most 500 items");
        return false;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_t *price = json_is_object(it) ? json_object_get(it, "price") : NULL;
        json_t *qty = json_is_object(it) ? json_object_get(it, "quantity") : NULL;
        json_t *name = json_is_object(it) ? json_object_get(it, "name") : NULL;
        json_t *cat = json_is_object(it) ? json_object_get(it, "category") : NULL;
        if (!json_is_object(it)) {
            api_error(w, PROMO_BAD_REQUEST, "properties.items[%zu] must be an object", i);
            return false;
        }
        if (price && (!json_is_integer(price) || json_integer_value(price) < 0 ||
                      json_integer_value(price) > PROMO_MONEY_MAX)) {
            api_error(w, PROMO_BAD_REQUEST, "properties.items[%zu].price must be an integer from 0 to 10^15", i);
            return false;
        }
        if (qty && (!json_is_integer(qty) || json_integer_value(qty) < 1 || json_integer_value(qty) > 1000000)) {
            api_error(w, PROMO_BAD_REQUEST, "properties.items[%zu].quantity must be an integer from 1 to 1000000", i);
            return false;
        }
        if ((name && !json_is_string(name)) || (cat && !json_is_string(cat))) {
            api_error(w, PROMO_BAD_REQUEST, "properties.items[%zu].%s must be a string", i,
                      name && !json_is_string(name) ? "name" : "category");
            return false;
        }
    }
    return true;
}

static bool parse_event(struct api_req *r, json_t *body, struct ingest_event *e, json_t **props, struct api_resp *w)
{
    static const char *const fields[] = {"id", "type", "customer_id", "occurred_at", "properties", NULL};
    const char *at = NULL;
    e->amount = -1;
    if (!jin_only(body, "", fields, w) || !jin_str(r->a, body, "id", "", true, false, 128, &e->id, w) ||
        !jin_str(r->a, body, "type", "", true, false, 64, &e->type, w) ||
        !jin_str(r->a, body, "customer_id", "", true, false, CUSTOMER_ID_MAX, &e->customer_id, w) ||
        !jin_str(r->a, body, "occurred_at", "", false, false, 64, &at, w) ||
        !jin_obj(body, "properties", "", false, props, w))
        return false;
    if (!client_id_valid(e->id, 128))
        return api_error(w, PROMO_BAD_REQUEST, "id must be printable ASCII without spaces, /, %%, \\ or quotes"), false;
    if (!client_id_valid(e->customer_id, CUSTOMER_ID_MAX))
        return api_error(w, PROMO_BAD_REQUEST,
                         "customer_id must be printable ASCII without spaces, /, %%, \\ or quotes"), false;
    if (!type_valid(e->type))
        return api_error(w, PROMO_BAD_REQUEST, "type must be 1-64 of a-z, 0-9, _ and ., starting with a letter"),
               false;
    if (type_reserved(e->type))
        return api_error(w, PROMO_BAD_REQUEST, "type '%s' is one the server logs itself: choose another name",
                         e->type), false;
    e->occurred_at = r->now;
    if (at && time_parse_rfc3339(at, &e->occurred_at) != 0)
        return api_error(w, PROMO_BAD_REQUEST, "occurred_at must be an RFC 3339 time with an offset"), false;
    if (!check_items(*props, w))
        return false;
    if (strcmp(e->type, "purchase") == 0 && !parse_purchase(r->a, *props, e, w))
        return false;
    char *text = *props ? json_dumps(*props, JSON_COMPACT) : strdup("{}");
    if (!text || strlen(text) > PROPERTIES_MAX) {
        free(text);
        return api_error(w, PROMO_BAD_REQUEST, "properties is too large (at most 64 KiB)"), false;
    }
    e->properties_json = arena_strdup(r->a, text);
    free(text);
    return true;
}

void api_event_ingest(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct ingest_event e = {0};
    json_t *props = NULL;
    if (parse_event(r, body, &e, &props, w)) {
        char hash[65];
        util_hash_secret(r->body, hash);
        e.request_hash = hash;
        char occurred[TIME_STR_MAX], received[TIME_STR_MAX];
        time_format(e.occurred_at, occurred);
        time_format(r->now, received);
        json_t *ans = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", e.id, "type", e.type, "customer_id",
                                e.customer_id, "occurred_at", occurred, "received_at", received, "properties",
                                props ? json_incref(props) : json_object());
        char *text = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        e.answer_json = text ? arena_strdup(r->a, text) : "{}";
        free(text);
        bool replay = false;
        const char *answer = NULL;
        enum promo_err rc = store_event_ingest(r->ctx->st, r->a, &e, r->now, &replay, &answer);
        if (rc == PROMO_CONFLICT)
            api_error(w, PROMO_CONFLICT, "event id %s was already used for another event", e.id);
        else if (rc != PROMO_OK)
            api_store_error(w, rc, "event");
        else
            api_json(w, replay ? 200 : 201, json_loads(answer, 0, NULL));
    }
    json_decref(body);
}

/* ---- segments -------------------------------------------------------------------- */

static json_t *segment_json(const struct segment_def *d)
{
    return json_pack("{s:s, s:o, s:o, s:I, s:o, s:o}", "name", d->name, "rule", parsed_or(d->rule_json, json_object()),
                     "description", d->description ? json_string(d->description) : json_null(), "members",
                     (json_int_t)d->members, "created_at", time_json(d->created_at), "updated_at",
                     time_json(d->updated_at));
}

void api_segment_put(struct api_req *r, struct api_resp *w)
{
    if (!core_segment_name_valid(r->params[0]))
        return api_error(w, PROMO_BAD_REQUEST, "the segment name must be 1-64 of a-z, 0-9, _ and -");
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    static const char *const fields[] = {"name", "rule", "description", NULL};
    struct segment_def d = {.name = r->params[0]};
    const char *name = NULL;
    json_t *rule = NULL;
    if (!jin_only(body, "", fields, w) || !jin_str(r->a, body, "name", "", false, false, 64, &name, w) ||
        !jin_str(r->a, body, "description", "", false, true, 500, &d.description, w) ||
        !jin_obj(body, "rule", "", true, &rule, w))
        goto out;
    if (name && strcmp(name, d.name) != 0) {
        api_error(w, PROMO_BAD_REQUEST, "name must match the name in the path");
        goto out;
    }
    struct seg_rule parsed;
    char fb[96];
    const char *field, *why;
    if (core_segment_parse(rule, &parsed, fb, sizeof fb, &field, &why) != PROMO_OK) {
        api_error(w, PROMO_BAD_REQUEST, "%s %s", field, why);
        goto out;
    }
    char *text = json_dumps(rule, JSON_COMPACT);
    d.rule_json = text ? arena_strdup(r->a, text) : NULL;
    free(text);
    bool created = false;
    enum promo_err rc = d.rule_json ? store_segment_put(r->ctx->st, &d, r->now, &created) : PROMO_INTERNAL;
    if (rc == PROMO_CONFLICT) {
        api_error(w, PROMO_CONFLICT, "there are already 256 segments: delete one first");
        goto out;
    }
    struct segment_def back;
    if (rc == PROMO_OK)
        rc = store_segment_get(r->ctx->st, r->a, d.name, &back);
    if (rc == PROMO_OK)
        api_json(w, created ? 201 : 200, segment_json(&back));
    else
        api_store_error(w, rc, "segment");
out:
    json_decref(body);
}

void api_segment_get(struct api_req *r, struct api_resp *w)
{
    struct segment_def d;
    enum promo_err rc = store_segment_get(r->ctx->st, r->a, r->params[0], &d);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "segment");
    api_json(w, 200, segment_json(&d));
}

void api_segment_list(struct api_req *r, struct api_resp *w)
{
    struct segment_def *v;
    size_t n;
    enum promo_err rc = store_segment_list(r->ctx->st, r->a, &v, &n);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "segment");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, segment_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:n}", "data", data, "next_cursor"));
}

void api_segment_delete(struct api_req *r, struct api_resp *w)
{
    enum promo_err rc = store_segment_delete(r->ctx->st, r->params[0], r->now);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "segment");
    api_json(w, 200, json_pack("{s:s, s:b}", "name", r->params[0], "deleted", 1));
}

/* ---- tasks ------------------------------------------------------------------------- */

static json_t *task_json(const struct task *t)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:o, s:o, s:o}", "id", t->id, "kind", t->kind, "key",
                     t->key, "due_at", time_json(t->due_at), "payload", parsed_or(t->payload, json_object()),
                     "state", t->state, "attempts", (json_int_t)t->attempts, "last_error",
                     t->last_error ? json_string(t->last_error) : json_null(), "created_at",
                     time_json(t->created_at), "done_at", time_json(t->done_at));
}

void api_task_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    int64_t after;
    if (!jin_query_limit(r, &limit, w) || !cursor_arg(r, &after, w))
        return;
    const char *state = r->query(r->qctx, "state"), *kind = r->query(r->qctx, "kind");
    if (state && strcmp(state, "pending") != 0 && strcmp(state, "done") != 0 && strcmp(state, "skipped") != 0 &&
        strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0)
        return api_error(w, PROMO_BAD_REQUEST, "state must be pending, done, skipped, failed or cancelled");
    struct task *v;
    size_t n;
    int64_t next;
    enum promo_err rc = store_task_list(r->ctx->st, r->a, kind, state, after, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "task");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, task_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next_json(r, next)));
}

/* ---- the test clock ----------------------------------------------------------------- */

/* Moves the server's clock (only with --test-clock): {"advance_seconds": N}
 * or {"now": RFC 3339}. The scheduler is woken so due tasks run at once. */
void api_test_clock(struct api_req *r, struct api_resp *w)
{
    if (!r->ctx->test_clock)
        return api_error(w, PROMO_NOT_FOUND, "no such route: the server was not started with --test-clock");
    json_t *body = strcmp(r->method, "GET") == 0 ? NULL : jin_object(r, w);
    if (!body && strcmp(r->method, "GET") != 0)
        return;
    static const char *const fields[] = {"advance_seconds", "now", NULL};
    int64_t adv = 0;
    bool has_adv = false;
    const char *now_s = NULL;
    if (body && (!jin_only(body, "", fields, w) ||
                 !jin_int(body, "advance_seconds", "", false, -3650LL * 86400, 3650LL * 86400, &adv, &has_adv, w) ||
                 !jin_str(r->a, body, "now", "", false, false, 64, &now_s, w)))
        goto out;
    if (body && has_adv == (now_s != NULL)) {
        api_error(w, PROMO_BAD_REQUEST, "give exactly one of advance_seconds and now");
        goto out;
    }
    if (now_s) {
        int64_t t;
        if (time_parse_rfc3339(now_s, &t) != 0) {
            api_error(w, PROMO_BAD_REQUEST, "now must be an RFC 3339 time with an offset");
            goto out;
        }
        time_offset_set_ms(time_offset_ms() + t * 1000 - time_now_ms());
    } else if (has_adv) {
        time_offset_set_ms(time_offset_ms() + adv * 1000);
    }
    scheduler_kick(r->ctx->sched);
    char s[TIME_STR_MAX];
    time_format(time_now(), s);
    api_json(w, 200, json_pack("{s:s, s:I}", "now", s, "offset_seconds", (json_int_t)(time_offset_ms() / 1000)));
out:
    json_decref(body);
}
