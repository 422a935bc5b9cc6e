/* campaigns.c — /v1/campaigns: create, list, read, patch, pause, resume,
 * end and stats. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/jsonin.h"
#include "core/segment.h"
#include "api/parse.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* ---- campaign → JSON ------------------------------------------------------ */

static json_t *time_or_null(int64_t t, int64_t open)
{
    if (t == open)
        return json_null();
    char s[TIME_STR_MAX];
    time_format(t, s);
    return json_string(s);
}

static json_t *limit_or_null(int64_t v)
{
    return v == PROMO_UNLIMITED ? json_null() : json_integer(v);
}

static json_t *strv_json(const char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *discount_json(const struct discount *d)
{
    switch (d->type) {
    case DISCOUNT_FIXED:
        return json_pack("{s:s, s:I}", "type", "fixed", "amount", (json_int_t)d->amount);
    case DISCOUNT_PERCENT:
        /* Basis points back to the percent the user wrote: 1250 → 12.5. */
        return json_pack("{s:s, s:o, s:o}", "type", "percent", "percent",
                         d->percent_bp % 100 == 0 ? json_integer(d->percent_bp / 100)
                                                  : json_real(d->percent_bp / 100.0),
                         "max_amount", limit_or_null(d->max_amount));
    default:
        return json_pack("{s:s, s:I}", "type", "points", "points", (json_int_t)d->points);
    }
}

static json_t *campaign_json_base(const struct campaign *c, int64_t now);

static json_t *early_json(const struct campaign *c)
{
    if (!c->early_segment)
        return json_null();
    char t[TIME_STR_MAX];
    time_format(c->early_starts_at, t);
    return json_pack("{s:s, s:s}", "segment", c->early_segment, "starts_at", t);
}

json_t *api_campaign_json(const struct campaign *c, int64_t now)
{
    json_t *j = campaign_json_base(c, now);
    if (j)
        json_object_set_new(j, "early_access", early_json(c));
    return j;
}

/* early_access: {"segment", "starts_at"} or null. Members of the segment
 * may use the campaign from that time, before the public starts_at (which
 * core_campaign_check-like logic below requires to be later). */
static bool parse_early(struct arena *a, json_t *body, struct campaign *c, struct api_resp *w)
{
    json_t *ea = json_object_get(body, "early_access");
    if (!ea)
        return true;
    if (json_is_null(ea)) {
        c->early_segment = NULL;
        c->early_starts_at = 0;
        return true;
    }
    static const char *const early_fields[] = {"segment", "starts_at", NULL};
    if (!jin_obj(body, "early_access", "", false, &ea, w) || !jin_only(ea, "early_access", early_fields, w))
        return false;
    const char *seg = NULL;
    if (!jin_str(a, ea, "segment", "early_access", true, false, 64, &seg, w))
        return false;
    if (!core_segment_name_valid(seg)) {
        api_error(w, PROMO_BAD_REQUEST, "early_access.segment must be a segment name ([a-z0-9_-], at most 64)");
        return false;
    }
    json_t *t = json_object_get(ea, "starts_at");
    const char *s = json_string_value(t);
    int64_t at = 0;
    if (!s || time_parse_rfc3339(s, &at) != 0) {
        api_error(w, PROMO_BAD_REQUEST, "early_access.starts_at is required: an RFC 3339 time with an offset");
        return false;
    }
    c->early_segment = seg;
    c->early_starts_at = at;
    return true;
}

static json_t *campaign_json_base(const struct campaign *c, int64_t now)
{
    json_t *meta = c->metadata_json ? json_loads(c->metadata_json, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    char created[TIME_STR_MAX], updated[TIME_STR_MAX];
    time_format(c->created_at, created);
    time_format(c->updated_at, updated);
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o},"
        " s:{s:I, s:o, s:o, s:o, s:b}, s:o, s:o, s:s, s:s, s:s}",
        "id", c->id, "name", c->name, "currency", c->currency, "discount", discount_json(&c->discount),
        "starts_at", time_or_null(c->starts_at, PROMO_TIME_MIN), "ends_at",
        time_or_null(c->ends_at, PROMO_TIME_MAX), "timezone",
        c->timezone ? json_string(c->timezone) : json_null(), "limits", "max_redemptions",
        limit_or_null(c->limits.max_redemptions), "per_customer", limit_or_null(c->limits.per_customer),
        "max_discount_total", limit_or_null(c->limits.max_discount_total), "max_issued",
        limit_or_null(c->limits.max_issued), "rules", "min_order_amount",
        (json_int_t)c->rules.min_order_amount, "categories",
        strv_json(c->rules.categories, c->rules.n_categories), "exclude_categories",
        strv_json(c->rules.exclude_categories, c->rules.n_exclude_categories), "segments",
        strv_json(c->rules.segments, c->rules.n_segments), "first_order_only", c->rules.first_order_only,
        "code_validity_days", c->code_validity_days ? json_integer(c->code_validity_days) : json_null(),
        "metadata", meta, "status", core_status_name(core_campaign_status(c, now)), "created_at", created,
        "updated_at", updated);
}

/* ---- JSON → campaign --------------------------------------------------------- */

static const char *const CAMPAIGN_FIELDS[] = {"name", "currency", "discount", "starts_at", "ends_at",
                                              "timezone", "limits", "rules", "code_validity_days",
                                              "metadata", "status", "early_access", NULL};
static const char *const DISCOUNT_FIELDS[] = {"type", "amount", "percent", "max_amount", "points", NULL};
static const char *const LIMIT_FIELDS[] = {"max_redemptions", "per_customer", "max_discount_total",
                                           "max_issued", NULL};
static const char *const RULE_FIELDS[] = {"min_order_amount", "categories", "exclude_categories",
                                          "segments", "first_order_only", NULL};

static bool parse_discount(json_t *d, struct discount *out, struct api_resp *w)
{
    if (!jin_only(d, "discount", DISCOUNT_FIELDS, w))
        return false;
    json_t *t = json_object_get(d, "type");
    if (!json_is_string(t)) {
        api_error(w, PROMO_BAD_REQUEST, "discount.type is required: fixed, percent or points");
        return false;
    }
    struct discount x = {.type = core_discount_type_parse(json_string_value(t)), .max_amount = PROMO_UNLIMITED};
    switch (x.type) {
    case DISCOUNT_FIXED:
        if (!jin_int(d, "amount", "discount", true, 1, PROMO_MONEY_MAX, &x.amount, NULL, w))
            return false;
        break;
    case DISCOUNT_PERCENT: {
        json_t *p = json_object_get(d, "percent");
        if (!json_is_number(p)) {
            api_error(w, PROMO_BAD_REQUEST, "discount.percent is required: a number above 0 and at most 100");
            return false;
        }
        x.percent_bp = core_percent_to_bp(json_number_value(p));
        if (x.percent_bp < 0) {
            api_error(w, PROMO_BAD_REQUEST,
                      "discount.percent must be above 0 and at most 100, with at most two decimals");
            return false;
        }
        if (!jin_limit(d, "max_amount", "discount", &x.max_amount, w))
            return false;
        if (x.max_amount == 0) {
            api_error(w, PROMO_BAD_REQUEST, "discount.max_amount must be at least 1 (or null for no cap)");
            return false;
        }
        break;
    }
    case DISCOUNT_POINTS:
        if (!jin_int(d, "points", "discount", true, 1, PROMO_MONEY_MAX, &x.points, NULL, w))
            return false;
        break;
    default:
        api_error(w, PROMO_BAD_REQUEST, "discount.type must be fixed, percent or points");
        return false;
    }
    *out = x;
    return true;
}

/* A time member: null → open; RFC 3339 with offset; or a date alone, which
 * means the first (starts_at) or last (ends_at) second of that day in the
 * campaign's time zone (UTC without one). */
static bool parse_time(json_t *o, const char *key, const char *tz, bool is_end,
                       int64_t *out, struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (json_is_null(v)) {
        *out = is_end ? PROMO_TIME_MAX : PROMO_TIME_MIN;
        return true;
    }
    const char *s = json_string_value(v);
    int y, m, d;
    int64_t first, last;
    if (s && time_parse_rfc3339(s, out) == 0)
        return true;
    if (s && time_parse_date(s, &y, &m, &d) == 0 && time_day_bounds(tz, y, m, d, &first, &last) == 0) {
        *out = is_end ? last : first;
        return true;
    }
    api_error(w, PROMO_BAD_REQUEST,
              "%s must be an RFC 3339 time with an offset (2026-12-01T23:59:59+09:00) or a date "
              "(2026-12-01), or null",
              key);
    return false;
}

/* Declared in parse.h: create and PATCH share it, and so does the fuzzer. */
bool api_parse_campaign(struct arena *a, json_t *body, struct campaign *c, bool create,
                        struct api_resp *w)
{
    if (!jin_only(body, "", CAMPAIGN_FIELDS, w))
        return false;
    if (!jin_str(a, body, "name", "", create, false, 200, &c->name, w))
        return false;
    const char *cur = NULL;
    if (!jin_str(a, body, "currency", "", create, false, 3, &cur, w))
        return false;
    if (cur) {
        if (!core_currency_valid(cur)) {
            api_error(w, PROMO_BAD_REQUEST, "currency must be an ISO 4217 code in upper case, such as KRW or USD");
            return false;
        }
        memcpy(c->currency, cur, 4);
    }
    json_t *d;
    if (json_is_null(json_object_get(body, "discount"))) {
        api_error(w, PROMO_BAD_REQUEST, "discount cannot be null: give a discount object");
        return false;
    }
    if (!jin_obj(body, "discount", "", create, &d, w) || (d && !parse_discount(d, &c->discount, w)))
        return false;
    json_t *tz = json_object_get(body, "timezone");
    if (tz) {
        if (json_is_null(tz)) {
            c->timezone = NULL;
        } else if (!json_is_string(tz) || !time_zone_valid(json_string_value(tz))) {
            api_error(w, PROMO_BAD_REQUEST, "timezone must be an IANA time zone name such as Asia/Seoul");
            return false;
        } else {
            c->timezone = arena_strdup(a, json_string_value(tz));
        }
    }
    if (!parse_time(body, "starts_at", c->timezone, false, &c->starts_at, w) ||
        !parse_time(body, "ends_at", c->timezone, true, &c->ends_at, w))
        return false;
    json_t *lim, *rules;
    if (json_is_null(json_object_get(body, "limits")) || json_is_null(json_object_get(body, "rules"))) {
        api_error(w, PROMO_BAD_REQUEST, "%s cannot be null: give an object (null inside it clears one entry)",
                  json_is_null(json_object_get(body, "limits")) ? "limits" : "rules");
        return false;
    }
    if (!jin_obj(body, "limits", "", false, &lim, w))
        return false;
    if (lim && (!jin_only(lim, "limits", LIMIT_FIELDS, w) ||
                !jin_limit(lim, "max_redemptions", "limits", &c->limits.max_redemptions, w) ||
                !jin_limit(lim, "per_customer", "limits", &c->limits.per_customer, w) ||
                !jin_limit(lim, "max_discount_total", "limits", &c->limits.max_discount_total, w) ||
                !jin_limit(lim, "max_issued", "limits", &c->limits.max_issued, w)))
        return false;
    if (!jin_obj(body, "rules", "", false, &rules, w))
        return false;
    if (rules) {
        json_t *mo = json_object_get(rules, "min_order_amount");
        if (mo && json_is_null(mo))
            c->rules.min_order_amount = 0;
        else if (!jin_int(rules, "min_order_amount", "rules", false, 0, PROMO_MONEY_MAX,
                          &c->rules.min_order_amount, NULL, w))
            return false;
        if (!jin_only(rules, "rules", RULE_FIELDS, w) ||
            !jin_strv(a, rules, "categories", "rules", &c->rules.categories, &c->rules.n_categories, w) ||
            !jin_strv(a, rules, "exclude_categories", "rules", &c->rules.exclude_categories,
                      &c->rules.n_exclude_categories, w) ||
            !jin_strv(a, rules, "segments", "rules", &c->rules.segments, &c->rules.n_segments, w) ||
            !jin_bool(rules, "first_order_only", "rules", &c->rules.first_order_only, w))
            return false;
    }
    json_t *cv = json_object_get(body, "code_validity_days");
    if (cv && json_is_null(cv))
        c->code_validity_days = 0;
    else if (!jin_int(body, "code_validity_days", "", false, 1, 3650, &c->code_validity_days, NULL, w))
        return false;
    json_t *meta;
    if (!jin_obj(body, "metadata", "", false, &meta, w))
        return false;
    if (meta) {
        char *s = json_dumps(meta, JSON_COMPACT);
        if (!s || strlen(s) > 16384) {
            free(s);
            api_error(w, PROMO_BAD_REQUEST, "metadata is too large (at most 16 KiB)");
            return false;
        }
        c->metadata_json = arena_strdup(a, s);
        free(s);
    }
    const char *status = NULL;
    if (!jin_str(a, body, "status", "", false, false, 16, &status, w))
        return false;
    if (status) {
        if (!create) {
            api_error(w, PROMO_BAD_REQUEST, "status cannot be patched: use /pause, /resume or /end");
            return false;
        }
        if (strcmp(status, "draft") == 0)
            c->state = CAMPAIGN_DRAFT;
        else if (strcmp(status, "active") == 0)
            c->state = CAMPAIGN_LIVE;
        else {
            api_error(w, PROMO_BAD_REQUEST, "status may only be \"draft\" or \"active\" when creating");
            return false;
        }
    }
    if (!parse_early(a, body, c, w))
        return false;
    if (c->early_segment && (c->starts_at == PROMO_TIME_MIN || c->early_starts_at >= c->starts_at)) {
        api_error(w, PROMO_BAD_REQUEST, "early_access.starts_at must be before the campaign's starts_at");
        return false;
    }
    const char *field = NULL, *why = NULL;
    if (core_campaign_check(c, &field, &why) != PROMO_OK) {
        api_error(w, PROMO_BAD_REQUEST, "%s: %s", field ? field : "campaign", why ? why : "invalid");
        return false;
    }
    return true;
}

void api_campaign_init(struct campaign *c, int64_t now)
{
    *c = (struct campaign){
        .starts_at = PROMO_TIME_MIN,
        .ends_at = PROMO_TIME_MAX,
        .limits = {PROMO_UNLIMITED, PROMO_UNLIMITED, PROMO_UNLIMITED, PROMO_UNLIMITED},
        .state = CAMPAIGN_LIVE,
        .created_at = now,
        .updated_at = now,
    };
}

/* ---- handlers ---------------------------------------------------------- */

void api_campaign_create(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct campaign c;
    api_campaign_init(&c, r->now);
    if (api_parse_campaign(r->a, body, &c, true, w)) {
        util_rand_id("cmp_", c.id, sizeof c.id);
        enum promo_err rc = store_campaign_create(r->ctx->st, &c);
        if (rc == PROMO_OK)
            api_json(w, 201, api_campaign_json(&c, r->now));
        else
            api_store_error(w, rc, "campaign");
    }
    json_decref(body);
}

void api_campaign_get(struct api_req *r, struct api_resp *w)
{
    struct campaign c;
    enum promo_err rc = store_campaign_get(r->ctx->st, r->a, r->params[0], &c, NULL);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    api_json(w, 200, api_campaign_json(&c, r->now));
}

void api_campaign_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    if (!jin_query_limit(r, &limit, w))
        return;
    const char *cursor = r->query(r->qctx, "cursor");
    if (cursor && strspn(cursor, "0123456789") != strlen(cursor))
        return api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
    struct campaign *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_campaign_list(r->ctx->st, r->a, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, api_campaign_json(&v[i], r->now));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

struct patch_ctx {
    struct api_req *r;
    json_t *body;
    struct api_resp *w;
};

static enum promo_err patch_fn(struct campaign *c, void *ctx, struct arena *a, const char **msg)
{
    (void)a;
    (void)msg;
    struct patch_ctx *p = ctx;
    /* api_parse_campaign writes its own 400 into w; the store only needs to
     * know the change was refused. */
    return api_parse_campaign(p->r->a, p->body, c, false, p->w) ? PROMO_OK : PROMO_BAD_REQUEST;
}

void api_campaign_patch(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct patch_ctx p = {r, body, w};
    struct campaign c;
    const char *msg;
    enum promo_err rc = store_campaign_modify(r->ctx->st, r->a, r->params[0], patch_fn, &p,
                                              "campaign_updated", r->now, &c, &msg);
    if (rc == PROMO_OK)
        api_json(w, 200, api_campaign_json(&c, r->now));
    else if (rc != PROMO_BAD_REQUEST)
        api_store_error(w, rc, "campaign");
    json_decref(body);
}

/* Hand-set states: which moves are allowed. */
static enum promo_err state_fn(struct campaign *c, void *ctx, struct arena *a, const char **msg)
{
    enum campaign_state to = *(enum campaign_state *)ctx;
    if (c->state == CAMPAIGN_ENDED) {
        *msg = arena_strdup(a, "the campaign has ended; an ended campaign cannot change state");
        return PROMO_CONFLICT;
    }
    if (to == CAMPAIGN_PAUSED && c->state == CAMPAIGN_DRAFT) {
        *msg = arena_strdup(a, "a draft campaign cannot be paused; resume it to activate it");
        return PROMO_CONFLICT;
    }
    c->state = to;
    return PROMO_OK;
}

static void set_state(struct api_req *r, struct api_resp *w, enum campaign_state to, const char *event)
{
    struct campaign c;
    const char *msg = NULL;
    enum promo_err rc = store_campaign_modify(r->ctx->st, r->a, r->params[0], state_fn, &to, event,
                                              r->now, &c, &msg);
    if (rc == PROMO_OK)
        api_json(w, 200, api_campaign_json(&c, r->now));
    else if (msg)
        api_error(w, rc, "%s", msg);
    else
        api_store_error(w, rc, "campaign");
}

void api_campaign_pause(struct api_req *r, struct api_resp *w) { set_state(r, w, CAMPAIGN_PAUSED, "campaign_paused"); }
void api_campaign_resume(struct api_req *r, struct api_resp *w) { set_state(r, w, CAMPAIGN_LIVE, "campaign_resumed"); }
void api_campaign_end(struct api_req *r, struct api_resp *w) { set_state(r, w, CAMPAIGN_ENDED, "campaign_ended"); }

static json_t *counts_json(const struct stat_count *v, size_t n, bool money)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, v[i].key,
                            money ? json_pack("{s:I, s:I, s:I}", "redeemed", (json_int_t)v[i].n,
                                              "discount_total", (json_int_t)v[i].amount, "revenue",
                                              (json_int_t)v[i].revenue)
                                  : json_integer(v[i].n));
    return o;
}

void api_campaign_stats(struct api_req *r, struct api_resp *w)
{
    struct campaign_stats s;
    enum promo_err rc = store_campaign_stats(r->ctx->st, r->a, r->params[0], &s);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    const struct campaign_counts *k = &s.counts;
    double usage = k->issued ? (double)s.codes_used / (double)k->issued : 0.0;
    json_t *daily = json_array();
    for (size_t i = 0; i < s.n_daily; i++)
        json_array_append_new(daily, json_pack("{s:s, s:I, s:I, s:I}", "date", s.daily[i].key, "redeemed",
                                               (json_int_t)s.daily[i].n, "discount_total",
                                               (json_int_t)s.daily[i].amount, "revenue",
                                               (json_int_t)s.daily[i].revenue));
    api_json(w, 200,
             json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:{s:I, s:o}, s:o, s:o}",
                       "campaign_id", r->params[0], "issued", (json_int_t)k->issued, "redeemed",
                       (json_int_t)k->redeemed, "rolled_back", (json_int_t)k->rolled_back, "codes_used",
                       (json_int_t)s.codes_used, "usage_rate", round(usage * 10000) / 10000,
                       "discount_total", (json_int_t)k->discount_total, "revenue", (json_int_t)k->revenue,
                       "held", (json_int_t)k->held, "held_discount", (json_int_t)k->held_discount,
                       "validations", "ok", (json_int_t)s.validations_ok, "failed",
                       counts_json(s.failed, s.n_failed, false), "by_channel",
                       counts_json(s.by_channel, s.n_by_channel, true), "daily", daily));
}
