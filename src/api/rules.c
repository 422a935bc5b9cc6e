/* rules.c — /v1/rules (automation rules) and /v1/campaigns/{id}/reminders
 * (a campaign's expiry reminders); docs/automation.md. Both are checked
 * completely when saved — shape by core/rule.c, the templates, campaigns
 * and webhooks they name by the store — and a refusal is a 400 naming the
 * field, so a rule that is stored can always run. */
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/jsonin.h"
#include "api/outbox.h"
#include "core/rule.h"
#include "util/rand.h"

#define OFFSETS_MAX 10
#define OFFSET_DAYS_MAX 365

/* ---- rules ------------------------------------------------------------------- */

static json_t *rule_json(const struct rule_rec *r)
{
    json_t *o = json_loads(r->body_json, 0, NULL);
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "created_at", api_time_or_null(r->created_at));
    json_object_set_new(o, "updated_at", api_time_or_null(r->updated_at));
    return o;
}

struct ref_ctx {
    struct api_req *r;
    struct api_resp *w;
};

/* A reference that names nothing is the client's mistake (400 naming the
 * field); a store failure is ours. */
static int ref_check(void *ctx, const char *kind, const char *id, const char *field)
{
    struct ref_ctx *rc = ctx;
    enum promo_err e;
    if (strcmp(kind, "campaign") == 0) {
        struct campaign cp;
        e = store_campaign_get(rc->r->ctx->st, rc->r->a, id, &cp, NULL);
    } else if (strcmp(kind, "template") == 0) {
        struct template_rec t;
        e = store_template_get(rc->r->ctx->st, rc->r->a, id, &t);
    } else {
        struct webhook h;
        e = store_webhook_get(rc->r->ctx->st, rc->r->a, id, &h);
    }
    if (e == PROMO_OK)
        return 0;
    if (e == PROMO_NOT_FOUND)
        api_error(rc->w, PROMO_BAD_REQUEST, "%s: names no %s", field, kind);
    else
        api_store_error(rc->w, e, kind);
    return -1;
}

/* Reads and checks a whole rule body into r (id set by the caller). */
static bool parse_rule(struct api_req *r, struct rule_rec *out, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return false;
    char field[RULE_FIELD_MAX];
    const char *why = NULL;
    bool ok = core_rule_check(body, field, sizeof field, &why) == PROMO_OK;
    if (!ok)
        api_error(w, PROMO_BAD_REQUEST, "%s %s", field, why);
    struct ref_ctx rc = {r, w};
    ok = ok && core_rule_refs(body, ref_check, &rc) == 0;
    if (ok) {
        if (!json_object_get(body, "enabled"))
            json_object_set_new(body, "enabled", json_true());
        out->enabled = json_is_true(json_object_get(body, "enabled"));
        out->name = arena_strdup(r->a, json_string_value(json_object_get(body, "name")));
        char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        out->body_json = arena_strdup(r->a, text);
        free(text);
    }
    json_decref(body);
    return ok;
}

void api_rule_create(struct api_req *r, struct api_resp *w)
{
    struct rule_rec rr = {.created_at = r->now, .updated_at = r->now};
    if (!parse_rule(r, &rr, w))
        return;
    char id[PROMO_ID_MAX];
    util_rand_id("rul_", id, sizeof id);
    rr.id = id;
    enum promo_err rc = store_rule_put(r->ctx->st, &rr, true, r->now);
    if (rc != PROMO_OK)
        return api_store_error(w, rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc, "rule");
    api_json(w, 201, rule_json(&rr));
}

void api_rule_put(struct api_req *r, struct api_resp *w)
{
    struct rule_rec old;
    enum promo_err rc = store_rule_get(r->ctx->st, r->a, r->params[0], &old);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "rule");
    struct rule_rec rr = {.id = old.id, .created_at = old.created_at, .updated_at = r->now};
    if (!parse_rule(r, &rr, w))
        return;
    rc = store_rule_put(r->ctx->st, &rr, false, r->now);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "rule");
    api_json(w, 200, rule_json(&rr));
}

void api_rule_get(struct api_req *r, struct api_resp *w)
{
    struct rule_rec rr;
    enum promo_err rc = store_rule_get(r->ctx->st, r->a, r->params[0], &rr);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "rule");
    api_json(w, 200, rule_json(&rr));
}

void api_rule_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    const char *cursor = r->query(r->qctx, "cursor");
    if (!jin_query_limit(r, &limit, w) || !api_cursor_ok(cursor, "rul_", w))
        return;
    struct rule_rec *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_rule_list(r->ctx->st, r->a, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "rule");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, rule_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

void api_rule_delete(struct api_req *r, struct api_resp *w)
{
    enum promo_err rc = store_rule_delete(r->ctx->st, r->params[0], r->now);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "rule");
    api_json(w, 200, json_pack("{s:s, s:b}", "id", r->params[0], "deleted", 1));
}

/* ---- a campaign's expiry reminders ---------------------------------------------- */

static const char *const REM_FIELDS[] = {"expiry_offsets_days", "template_id", "channel", "webhook_id", NULL};

static json_t *reminders_json(const struct reminder_rec *rr)
{
    return json_pack("{s:s, s:o, s:s, s:s, s:s?, s:o}", "campaign_id", rr->campaign_id, "expiry_offsets_days",
                     json_loads(rr->offsets_json, 0, NULL), "template_id", rr->template_id, "channel", rr->channel,
                     "webhook_id", rr->webhook_id, "updated_at", api_time_or_null(rr->updated_at));
}

/* 1..10 distinct whole days from 0 to 365, kept largest first. */
static bool parse_offsets(struct api_req *r, json_t *body, struct reminder_rec *rr, struct api_resp *w)
{
    json_t *v = json_object_get(body, "expiry_offsets_days");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > OFFSETS_MAX) {
        api_error(w, PROMO_BAD_REQUEST, "expiry_offsets_days must be an array of 1 to %d days", OFFSETS_MAX);
        return false;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *d = json_array_get(v, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > OFFSET_DAYS_MAX) {
            api_error(w, PROMO_BAD_REQUEST, "expiry_offsets_days[%zu] must be a whole number of days from 0 to %d",
                      i, OFFSET_DAYS_MAX);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (json_integer_value(json_array_get(v, j)) == json_integer_value(d)) {
                api_error(w, PROMO_BAD_REQUEST, "expiry_offsets_days[%zu] repeats %lld", i,
                          (long long)json_integer_value(d));
                return false;
            }
    }
    char *text = json_dumps(v, JSON_COMPACT);
    rr->offsets_json = arena_strdup(r->a, text);
    free(text);
    return true;
}

static bool parse_reminders(struct api_req *r, json_t *body, struct reminder_rec *rr, struct api_resp *w)
{
    if (!jin_only(body, "", REM_FIELDS, w) || !parse_offsets(r, body, rr, w) ||
        !jin_str(r->a, body, "template_id", "", true, false, PROMO_ID_MAX, &rr->template_id, w) ||
        !jin_str(r->a, body, "channel", "", true, false, 16, &rr->channel, w) ||
        !jin_str(r->a, body, "webhook_id", "", false, true, PROMO_ID_MAX, &rr->webhook_id, w))
        return false;
    bool hook = strcmp(rr->channel, "webhook") == 0;
    if (!hook && strcmp(rr->channel, "email") != 0)
        return api_error(w, PROMO_BAD_REQUEST, "channel must be email or webhook"), false;
    if (hook != (rr->webhook_id != NULL))
        return api_error(w, PROMO_BAD_REQUEST, "webhook_id is required for the webhook channel and only there"),
               false;
    struct ref_ctx rc = {r, w};
    return ref_check(&rc, "template", rr->template_id, "template_id") == 0 &&
           (!hook || ref_check(&rc, "webhook", rr->webhook_id, "webhook_id") == 0);
}

void api_reminders_put(struct api_req *r, struct api_resp *w)
{
    struct campaign cp;
    enum promo_err rc = store_campaign_get(r->ctx->st, r->a, r->params[0], &cp, NULL);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct reminder_rec rr = {.campaign_id = r->params[0], .updated_at = r->now};
    bool ok = parse_reminders(r, body, &rr, w);
    json_decref(body);
    if (!ok)
        return;
    rc = store_reminders_put(r->ctx->st, &rr, r->now);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    api_json(w, 200, reminders_json(&rr));
}

void api_reminders_get(struct api_req *r, struct api_resp *w)
{
    struct reminder_rec rr;
    enum promo_err rc = store_reminders_get(r->ctx->st, r->a, r->params[0], &rr);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign reminder setting");
    api_json(w, 200, reminders_json(&rr));
}

void api_reminders_delete(struct api_req *r, struct api_resp *w)
{
    enum promo_err rc = store_reminders_delete(r->ctx->st, r->params[0], r->now);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign reminder setting");
    api_json(w, 200, json_pack("{s:s, s:b}", "campaign_id", r->params[0], "deleted", 1));
}
