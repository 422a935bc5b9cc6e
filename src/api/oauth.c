/* oauth.c — OAuth 2.0 client credentials (RFC 6749 §4.4).
 *
 * Admins register clients (/v1/oauth/clients): each has a role, the most
 * its access tokens may do, and a secret shown once and stored hashed.
 * A client trades its id and secret at POST /oauth/token for a short-lived
 * access token: a row of `tokens` (kind oauth) used as a bearer on /v1
 * like any other, refused once it expires or its client is deleted.
 *
 * The token endpoint speaks RFC 6749, not promo's JSON conventions: a form
 * body (application/x-www-form-urlencoded, decoded by util/form.c), client
 * authentication by HTTP Basic (§2.3.1) or by client_id/client_secret in
 * the body, and errors as {"error", "error_description"} (§5.2). */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "api/auth.h"
#include "api/jsonin.h"
#include "util/form.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define CLIENT_NAME_MAX 200
#define TTL_DEFAULT 3600
#define TTL_MAX 86400
#define CLIENT_SECRET_MAX 256
#define BASIC_MAX 1024 /* base64 of an id and a secret, with room */

/* ---- clients (admin) ---------------------------------------------------------------- */

static json_t *client_json(const struct oauth_client *c)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "client_id", c->id, "name", c->name, "role", c->role,
                     "access_token_ttl_seconds", (json_int_t)c->access_token_ttl, "created_at",
                     api_time_or_null(c->created_at), "deleted_at", api_time_or_null(c->deleted_at));
}

static const char *const CLIENT_FIELDS[] = {"name", "role", "access_token_ttl_seconds", NULL};

void api_oauth_client_create(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct oauth_client c = {.access_token_ttl = TTL_DEFAULT, .created_at = r->now};
    bool ok = jin_only(body, "", CLIENT_FIELDS, w) &&
              jin_str(r->a, body, "name", "", true, false, CLIENT_NAME_MAX, &c.name, w) &&
              api_parse_role(r, body, &c.role, w) &&
              jin_int(body, "access_token_ttl_seconds", "", false, 1, TTL_MAX, &c.access_token_ttl, NULL, w);
    json_decref(body);
    if (!ok)
        return;
    if (!*c.name)
        return api_error(w, PROMO_BAD_REQUEST, "name must not be empty");
    char id[PROMO_ID_MAX], secret[80], hash[65];
    util_rand_id("ocl_", id, sizeof id);
    util_rand_secret("promo_cs_", secret, sizeof secret);
    util_hash_secret(secret, hash);
    c.id = id;
    enum promo_err rc = store_oauth_client_create(r->ctx->st, &c, hash, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc, "OAuth client");
    json_t *o = client_json(&c);
    json_object_set_new(o, "client_secret", json_string(secret));
    api_json(w, 201, o);
}

void api_oauth_client_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    const char *cursor = r->query(r->qctx, "cursor");
    if (!jin_query_limit(r, &limit, w) || !api_cursor_ok(cursor, "ocl_", w))
        return;
    struct oauth_client *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_oauth_client_list(r->ctx->st, r->a, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "OAuth client");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, client_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

void api_oauth_client_get(struct api_req *r, struct api_resp *w)
{
    struct oauth_client c;
    enum promo_err rc = store_oauth_client_get(r->ctx->st, r->a, r->params[0], &c, NULL);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "OAuth client");
    api_json(w, 200, client_json(&c));
}

/* Deleting a client also revokes its live access tokens, in the same
 * transaction: the next call with any of them is a 401. */
void api_oauth_client_delete(struct api_req *r, struct api_resp *w)
{
    struct oauth_client c;
    int64_t revoked = 0;
    enum promo_err rc = store_oauth_client_delete(r->ctx->st, r->a, r->params[0], r->now, r->auth.id, &c, &revoked);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "the OAuth client was already deleted");
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "OAuth client");
    json_t *o = client_json(&c);
    json_object_set_new(o, "tokens_revoked", json_integer(revoked));
    api_json(w, 200, o);
}

/* ---- POST /oauth/token ------------------------------------------------------------- */

/* What the token request said. Empty parameters count as absent (§3.2). */
struct token_req {
    const char *grant_type, *scope, *client_id, *client_secret;
    bool basic; /* the client authenticated (or tried to) with HTTP Basic */
};

/* An error of §5.2. The description is static text: it never quotes the
 * request, so it always stays within the characters §5.2 allows. A 401
 * carries the Basic challenge (RFC 7235 wants one on every 401), which
 * http/ then sends instead of its Bearer one. */
static void oauth_error(struct api_req *r, struct api_resp *w, int status, const char *error, const char *why)
{
    api_json(w, status, json_pack("{s:s, s:s}", "error", error, "error_description", why));
    if (status == 401) {
        w->header_name = "WWW-Authenticate";
        w->header_value = "Basic realm=\"promo\"";
        r->refusal = "invalid client credentials";
    }
}

static bool form_content_type(const char *ct)
{
    static const char FORM[] = "application/x-www-form-urlencoded";
    if (!ct || strncasecmp(ct, FORM, sizeof FORM - 1) != 0)
        return false;
    ct += sizeof FORM - 1;
    return !*ct || *ct == ';' || *ct == ' ';
}

/* Reads the form into q. Unknown parameters are ignored and empty ones
 * count as absent (§3.2), but a known one given twice is refused, even
 * empty (§3.2: parameters MUST NOT be included more than once). */
static bool read_form(struct api_req *r, struct token_req *q, const char **why)
{
    if (!form_content_type(r->content_type)) {
        *why = "the body must be application/x-www-form-urlencoded";
        return false;
    }
    struct util_form_field *f;
    size_t n;
    if (strlen(r->body) != r->body_len || util_form_parse(r->a, r->body, r->body_len, &f, &n) != 0) {
        *why = "the body is not valid form encoding";
        return false;
    }
    static const char *const NAMES[] = {"grant_type", "scope", "client_id", "client_secret"};
    const char **slots[] = {&q->grant_type, &q->scope, &q->client_id, &q->client_secret};
    bool seen[4] = {false};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) {
            if (strcmp(f[i].name, NAMES[k]) != 0)
                continue;
            if (seen[k]) {
                *why = "a parameter is included more than once";
                return false;
            }
            seen[k] = true;
            *slots[k] = *f[i].value ? f[i].value : NULL;
        }
    return true;
}

/* Decodes "Basic base64(urlencode(id):urlencode(secret))" (§2.3.1) into
 * q->client_id and q->client_secret. */
static bool read_basic(struct api_req *r, const char *h, struct token_req *q)
{
    h += 6;
    while (*h == ' ')
        h++;
    size_t len = strlen(h);
    while (len && h[len - 1] == ' ')
        len--;
    if (!len || len > BASIC_MAX)
        return false;
    unsigned char *bin = arena_alloc(r->a, len + 1);
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, len, h, len, NULL, &bin_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != h + len)
        return false;
    const char *colon = memchr(bin, ':', bin_len);
    if (!colon)
        return false;
    size_t id_len = (size_t)(colon - (const char *)bin), secret_len = bin_len - id_len - 1;
    char *id = arena_alloc(r->a, id_len + 1), *secret = arena_alloc(r->a, secret_len + 1);
    if (util_form_unescape((const char *)bin, id_len, id) < 0 || util_form_unescape(colon + 1, secret_len, secret) < 0)
        return false;
    q->client_id = *id ? id : NULL;
    q->client_secret = *secret ? secret : NULL;
    return true;
}

/* Checks the client's credentials. On true *c is the live client. */
static bool authenticate_client(struct api_req *r, const struct token_req *q, struct oauth_client *c)
{
    if (!q->client_id || !q->client_secret || strlen(q->client_id) >= PROMO_ID_MAX ||
        strlen(q->client_secret) > CLIENT_SECRET_MAX)
        return false;
    char given[65], stored[65];
    util_hash_secret(q->client_secret, given);
    if (store_oauth_client_get(r->ctx->st, r->a, q->client_id, c, stored) != PROMO_OK)
        return false;
    /* Hashes, compared in constant time all the same. */
    return sodium_memcmp(given, stored, 64) == 0 && !c->deleted_at;
}

/* The role the token gets: the scope asked for, if the client's role
 * covers it (core_role_covers), else the client's own. One role name
 * only: promo's scopes are its roles. */
static const char *grant_scope(const struct oauth_client *c, const char *scope)
{
    enum role held = core_role_parse(c->role);
    if (!scope)
        return held ? c->role : NULL;
    enum role wanted = core_role_parse(scope);
    return core_role_covers(held, wanted) ? core_role_name(wanted) : NULL;
}

/* Makes the access token and answers §5.1. */
static void issue(struct api_req *r, struct api_resp *w, const struct oauth_client *c, const char *role)
{
    char id[PROMO_ID_MAX], secret[80], hash[65];
    util_rand_id("tok_", id, sizeof id);
    util_rand_secret("promo_at_", secret, sizeof secret);
    util_hash_secret(secret, hash);
    struct token t = {.id = id, .role = role, .name = c->name, .kind = "oauth", .client_id = c->id,
                      .created_at = r->now, .expires_at = api_expiry_after(c->access_token_ttl)};
    enum promo_err rc = store_oauth_token_issue(r->ctx->st, &t, hash);
    sodium_memzero(hash, sizeof hash);
    if (rc == PROMO_NOT_FOUND)
        return oauth_error(r, w, 401, "invalid_client", "the client was deleted");
    if (rc != PROMO_OK) {
        sodium_memzero(secret, sizeof secret);
        return oauth_error(r, w, rc == PROMO_UNAVAILABLE ? 503 : 500,
                           rc == PROMO_UNAVAILABLE ? "temporarily_unavailable" : "server_error",
                           "the token could not be stored; try again shortly");
    }
    api_json(w, 200, json_pack("{s:s, s:s, s:I, s:s}", "access_token", secret, "token_type", "Bearer", "expires_in",
                               (json_int_t)c->access_token_ttl, "scope", role));
    sodium_memzero(secret, sizeof secret);
    w->header_name = "Pragma"; /* §5.1; Cache-Control: no-store is on every answer */
    w->header_value = "no-cache";
}

void api_oauth_token(struct api_req *r, struct api_resp *w)
{
    struct token_req q = {0};
    const char *why = NULL;
    if (!read_form(r, &q, &why))
        return oauth_error(r, w, 400, "invalid_request", why);
    const char *h = r->authorization;
    if (h) {
        if (strncasecmp(h, "Basic ", 6) != 0)
            return oauth_error(r, w, 401, "invalid_client", "authenticate the client with HTTP Basic");
        if (q.client_id || q.client_secret)
            return oauth_error(r, w, 400, "invalid_request",
                               "use one client authentication: HTTP Basic or client_id and client_secret, not both");
        if (!read_basic(r, h, &q))
            return oauth_error(r, w, 401, "invalid_client", "the Basic credentials are malformed");
    }
    if (!q.grant_type)
        return oauth_error(r, w, 400, "invalid_request", "grant_type is required");
    struct oauth_client c;
    if (!q.client_id)
        return oauth_error(r, w, 401, "invalid_client",
                           "client authentication is required: HTTP Basic or client_id and client_secret");
    if (!authenticate_client(r, &q, &c))
        return oauth_error(r, w, 401, "invalid_client", "unknown client or wrong secret");
    if (strcmp(q.grant_type, "client_credentials") != 0)
        return oauth_error(r, w, 400, "unsupported_grant_type", "only client_credentials is supported");
    const char *role = grant_scope(&c, q.scope);
    if (!role)
        return oauth_error(r, w, 400, "invalid_scope",
                           "scope must be one role name: the client's own, or one its role covers");
    issue(r, w, &c, role);
}
