/* tokens.c — /v1/tokens (admin only): bearer tokens made, listed and
 * revoked through the API. A token's secret comes from libsodium's CSPRNG,
 * is shown once in the 201 and is stored only as its BLAKE2b hash, so a
 * lost secret cannot be shown again: revoke it and make another. */
#include <string.h>

#include "api/auth.h"
#include "api/jsonin.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define NAME_MAX_LEN 200
#define TOKEN_TTL_MAX (10LL * 366 * 86400) /* ten years: "never" is expires_at null */

int64_t api_expiry_after(int64_t ttl)
{
    return (time_now_ms() + ttl * 1000 + 999) / 1000;
}

json_t *api_time_or_null(int64_t t)
{
    if (!t)
        return json_null();
    char s[TIME_STR_MAX];
    time_format(t, s);
    return json_string(s);
}

json_t *api_token_json(const struct token *t, const char *secret)
{
    json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s?, s:o, s:o, s:o, s:o}", "id", t->id, "name", t->name, "role",
                          t->role, "kind", t->kind ? t->kind : "api", "client_id", t->client_id, "created_at",
                          api_time_or_null(t->created_at), "expires_at", api_time_or_null(t->expires_at),
                          "revoked_at", api_time_or_null(t->revoked_at), "last_used_at",
                          api_time_or_null(t->last_used_at));
    if (o && secret)
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

bool api_cursor_ok(const char *cursor, const char *prefix, struct api_resp *w)
{
    if (!cursor)
        return true;
    if (strncmp(cursor, prefix, strlen(prefix)) != 0 || strlen(cursor) > PROMO_ID_MAX) {
        api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
        return false;
    }
    return true;
}

/* ---- POST /v1/tokens ------------------------------------------------------------- */

static const char *const TOKEN_FIELDS[] = {"name", "role", "expires_at", "ttl_seconds", NULL};

bool api_parse_role(struct api_req *r, json_t *body, const char **role, struct api_resp *w)
{
    if (!jin_str(r->a, body, "role", "", true, false, 32, role, w))
        return false;
    if (!core_role_parse(*role)) {
        api_error(w, PROMO_BAD_REQUEST, "role must be one of " API_ROLE_NAMES);
        return false;
    }
    return true;
}

/* expires_at (RFC 3339, in the future, or null: never) or ttl_seconds,
 * not both. Leaves *expires 0 for never. */
static bool parse_expiry(struct api_req *r, json_t *body, int64_t *expires, struct api_resp *w)
{
    const char *at = NULL;
    int64_t ttl = 0;
    bool has_ttl = false;
    if (!jin_str(r->a, body, "expires_at", "", false, true, 64, &at, w) ||
        !jin_int(body, "ttl_seconds", "", false, 1, TOKEN_TTL_MAX, &ttl, &has_ttl, w))
        return false;
    if (at && has_ttl) {
        api_error(w, PROMO_BAD_REQUEST, "give expires_at or ttl_seconds, not both");
        return false;
    }
    *expires = 0;
    if (has_ttl) {
        *expires = api_expiry_after(ttl);
    } else if (at) {
        if (time_parse_rfc3339(at, expires) != 0) {
            api_error(w, PROMO_BAD_REQUEST, "expires_at must be an RFC 3339 time with an offset, such as "
                                            "2026-12-31T23:59:59Z");
            return false;
        }
        if (*expires <= r->now) {
            api_error(w, PROMO_BAD_REQUEST, "expires_at must be in the future");
            return false;
        }
    }
    return true;
}

void api_token_create(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct token t = {.kind = "api", .created_at = r->now};
    bool ok = jin_only(body, "", TOKEN_FIELDS, w) &&
              jin_str(r->a, body, "name", "", false, true, NAME_MAX_LEN, &t.name, w) &&
              api_parse_role(r, body, &t.role, w) && parse_expiry(r, body, &t.expires_at, w);
    json_decref(body);
    if (!ok)
        return;
    /* The name is a label for people: optional (null when left out), but
     * never an empty string, which would print as nothing in lists. */
    if (t.name && !*t.name)
        return api_error(w, PROMO_BAD_REQUEST, "name must not be empty");
    char id[PROMO_ID_MAX], secret[80], hash[65];
    util_rand_id("tok_", id, sizeof id);
    util_rand_secret("promo_", secret, sizeof secret);
    util_hash_secret(secret, hash);
    t.id = id;
    enum promo_err rc = store_token_create(r->ctx->st, &t, hash, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc, "token");
    api_json(w, 201, api_token_json(&t, secret));
}

/* ---- GET, DELETE -------------------------------------------------------------------- */

void api_token_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    const char *cursor = r->query(r->qctx, "cursor"), *kind = r->query(r->qctx, "kind");
    if (!jin_query_limit(r, &limit, w) || !api_cursor_ok(cursor, "tok_", w))
        return;
    if (kind && strcmp(kind, "api") != 0 && strcmp(kind, "oauth") != 0)
        return api_error(w, PROMO_BAD_REQUEST, "kind must be api or oauth");
    struct token *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_token_list(r->ctx->st, r->a, kind, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "token");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, api_token_json(&v[i], NULL));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

void api_token_get(struct api_req *r, struct api_resp *w)
{
    struct token t;
    enum promo_err rc = store_token_get(r->ctx->st, r->a, r->params[0], &t);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "token");
    api_json(w, 200, api_token_json(&t, NULL));
}

/* Revoking the caller's own token is allowed, even the last admin one:
 * see docs/api-notes.md "Tokens and OAuth" for the way back. */
void api_token_revoke(struct api_req *r, struct api_resp *w)
{
    struct token t;
    enum promo_err rc = store_token_revoke(r->ctx->st, r->a, r->params[0], r->now, r->auth.id, &t);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "the token was already revoked");
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "token");
    api_json(w, 200, api_token_json(&t, NULL));
}
