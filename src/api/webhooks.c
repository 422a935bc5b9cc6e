/* webhooks.c — /v1/webhooks (admin): subscriptions of a URL to event
 * types of the log ("*": all). Every matching event is queued for the
 * subscriber in the transaction that writes it, and POSTed signed
 * (docs/webhooks.md). The signing secret is shown once, in the 201; the
 * server keeps it to sign (docs/security.md). */
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/jsonin.h"
#include "util/rand.h"

#define URL_MAX 2000

static const char *const HOOK_FIELDS[] = {"url", "event_types", "description", NULL};

static json_t *webhook_json(const struct webhook *h, const char *secret)
{
    json_t *types = json_loads(h->event_types ? h->event_types : "[]", 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:o, s:s?, s:o}", "id", h->id, "url", h->url, "event_types",
                          types ? types : json_array(), "description", h->description, "created_at",
                          api_time_or_null(h->created_at));
    if (o && secret)
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

/* http:// or https:// and a host: libcurl is told to speak nothing else. */
static bool url_ok(const char *u)
{
    const char *rest = strncmp(u, "https://", 8) == 0 ? u + 8 : strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
    return rest && *rest && *rest != '/' && !strpbrk(u, " \t\r\n");
}

static bool parse_types(struct api_req *r, json_t *body, const char **types_json, struct api_resp *w)
{
    const char **v = NULL;
    size_t n = 0;
    if (!json_object_get(body, "event_types")) {
        api_error(w, PROMO_BAD_REQUEST, "event_types is required (an array of event types, or [\"*\"])");
        return false;
    }
    if (!jin_strv(r->a, body, "event_types", "", &v, &n, w))
        return false;
    if (n == 0) {
        api_error(w, PROMO_BAD_REQUEST, "event_types must name at least one event type, or \"*\"");
        return false;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    *types_json = arena_strdup(r->a, s);
    free(s);
    return true;
}

void api_webhook_create(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct webhook h = {.created_at = r->now};
    bool ok = jin_only(body, "", HOOK_FIELDS, w) && jin_str(r->a, body, "url", "", true, false, URL_MAX, &h.url, w) &&
              jin_str(r->a, body, "description", "", false, true, 500, &h.description, w) &&
              parse_types(r, body, &h.event_types, w);
    json_decref(body);
    if (!ok)
        return;
    if (!url_ok(h.url))
        return api_error(w, PROMO_BAD_REQUEST, "url must be an http:// or https:// URL");
    char id[PROMO_ID_MAX], secret[80];
    util_rand_id("whk_", id, sizeof id);
    util_rand_secret("whsec_", secret, sizeof secret);
    h.id = id;
    h.secret = secret;
    enum promo_err rc = store_webhook_create(r->ctx->st, &h, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc, "webhook");
    api_json(w, 201, webhook_json(&h, secret));
}

void api_webhook_get(struct api_req *r, struct api_resp *w)
{
    struct webhook h;
    enum promo_err rc = store_webhook_get(r->ctx->st, r->a, r->params[0], &h);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "webhook");
    api_json(w, 200, webhook_json(&h, NULL));
}

void api_webhook_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    const char *cursor = r->query(r->qctx, "cursor");
    if (!jin_query_limit(r, &limit, w) || !api_cursor_ok(cursor, "whk_", w))
        return;
    struct webhook *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_webhook_list(r->ctx->st, r->a, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "webhook");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, webhook_json(&v[i], NULL));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

void api_webhook_delete(struct api_req *r, struct api_resp *w)
{
    enum promo_err rc = store_webhook_delete(r->ctx->st, r->params[0], r->now, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "webhook");
    api_json(w, 200, json_pack("{s:s, s:b}", "id", r->params[0], "deleted", 1));
}
