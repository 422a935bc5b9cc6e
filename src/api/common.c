/* common.c — answers, errors, body reading and authentication shared by
 * every resource handler. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "api/jsonin.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

void api_json(struct api_resp *w, int status, json_t *body)
{
    if (w->json)
        json_decref(w->json);
    w->status = status;
    w->json = body;
}

char *api_gen_text(struct yajl_gen_t *g, size_t *len)
{
    const unsigned char *buf = NULL;
    size_t n = 0;
    char *text = NULL;
    if (yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok && (text = malloc(n + 2)) != NULL) {
        memcpy(text, buf, n);
        text[n] = '\n';
        text[n + 1] = 0;
        *len = n + 1;
    }
    return text;
}

int api_gen_int(struct yajl_gen_t *g, long long v)
{
    char buf[24], *p = buf + sizeof buf;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    return yajl_gen_number(g, p, (size_t)(buf + sizeof buf - p));
}

void api_gen_answer(struct api_resp *w, int status, struct yajl_gen_t *g, bool gen_ok)
{
    size_t n = 0;
    char *text = g && gen_ok ? api_gen_text(g, &n) : NULL;
    if (g)
        yajl_gen_free(g);
    if (!text)
        return api_error(w, PROMO_INTERNAL, "the answer could not be written");
    if (w->json)
        json_decref(w->json);
    w->json = NULL;
    w->status = status;
    w->text = text;
    w->text_len = n;
    w->content_type = NULL;
}

/* A message may quote the client's bytes (jansson's "near '...'" after a
 * bad escape) or be cut mid-character by api_error's buffer; such a string
 * is not UTF-8, json_pack refuses it and the client would get a 500 instead
 * of its 400. Found by tests/fuzz/fuzz_use. Bytes above ASCII become '?'
 * in that case only, so valid (Korean) messages pass unchanged. */
static json_t *message_json(const char *message)
{
    json_t *m = json_string(message);
    if (m)
        return m;
    char safe[512];
    size_t n = 0;
    for (; message[n] && n + 1 < sizeof safe; n++)
        safe[n] = (unsigned char)message[n] < 0x80 ? message[n] : '?';
    safe[n] = 0;
    return json_string(safe);
}

static void error_body(struct api_resp *w, enum promo_err e, const char *message)
{
    api_json(w, promo_err_status(e),
             json_pack("{s:{s:s, s:o}}", "error", "code", promo_err_code(e), "message", message_json(message)));
}

void api_error(struct api_resp *w, enum promo_err e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_body(w, e, msg);
}

void api_error_reason(struct api_resp *w, enum promo_err e, enum promo_lang lang)
{
    error_body(w, e, promo_err_message(e, lang));
}

void api_store_error(struct api_resp *w, enum promo_err e, const char *what)
{
    switch (e) {
    case PROMO_NOT_FOUND:
        api_error(w, e, "no such %s", what);
        break;
    case PROMO_CONFLICT:
        api_error(w, e, "the %s conflicts with the current state", what);
        break;
    case PROMO_UNAVAILABLE:
        api_error(w, e, "the store is not available; try again shortly");
        break;
    case PROMO_NOT_ON_STORE:
        api_error(w, e, "%s: this feature is not yet available on the PostgreSQL store", what);
        break;
    case PROMO_INTERNAL:
        api_error(w, e, "an internal error occurred");
        break;
    default:
        api_error_reason(w, e, PROMO_LANG_EN);
    }
}

/* ---- body reading --------------------------------------------------------- */

json_t *jin_object(struct api_req *r, struct api_resp *w)
{
    if (r->body_len == 0) {
        api_error(w, PROMO_BAD_REQUEST, "the request body is empty: a JSON object is required");
        return NULL;
    }
    char err[160];
    size_t pos = 0;
    json_t *o = jin_parse(r->body, r->body_len, err, sizeof err, &pos);
    if (!o) {
        api_error(w, PROMO_BAD_REQUEST, "the body is not valid JSON: %s (at byte %zu)", err, pos);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        api_error(w, PROMO_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

const char *jin_path(struct arena *a, const char *path, const char *key)
{
    return path && *path ? arena_printf(a, "%s.%s", path, key) : key;
}

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

bool jin_only(json_t *obj, const char *path, const char *const *allowed, struct api_resp *w)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *k = allowed; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok) {
            api_error(w, PROMO_BAD_REQUEST, "unknown field '%s%s%.64s'", path ? path : "",
                      path && *path ? "." : "", key);
            return false;
        }
    }
    return true;
}

/* "path.key" (or "key") into buf, cut to fit: an error message's field
 * name. Made only when there is an error to tell: the happy path of a
 * validation reads a dozen fields, and formatting each name cost more
 * than reading it. */
static const char *field_name(char *buf, size_t cap, const char *path, const char *key)
{
    size_t n = 0;
    for (const char *parts[3] = {path && *path ? path : "", path && *path ? "." : "", key}, **q = parts;
         q < parts + 3; q++)
        for (const char *c = *q; *c && n + 1 < cap; c++)
            buf[n++] = *c;
    buf[n] = 0;
    return buf;
}

#define FIELD field_name(fb, sizeof fb, path, key)

bool jin_str(struct arena *a, json_t *o, const char *key, const char *path, bool required,
             bool nullable, size_t maxlen, const char **out, struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    char fb[160];
    if (!v || (json_is_null(v) && !nullable)) {
        if (required) {
            api_error(w, PROMO_BAD_REQUEST, "%s is required", FIELD);
            return false;
        }
        if (v) {
            api_error(w, PROMO_BAD_REQUEST, "%s must be a string, not null", FIELD);
            return false;
        }
        return true;
    }
    if (json_is_null(v)) {
        *out = NULL;
        return true;
    }
    if (!json_is_string(v)) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be a string, not %s", FIELD, type_name(v));
        return false;
    }
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len > maxlen) {
        api_error(w, PROMO_BAD_REQUEST, "%s is too long (%zu bytes; at most %zu)", FIELD, len, maxlen);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20) {
            api_error(w, PROMO_BAD_REQUEST, "%s contains a control character", FIELD);
            return false;
        }
    *out = arena_strndup(a, s, len);
    return true;
}

bool jin_int(json_t *o, const char *key, const char *path, bool required, int64_t min, int64_t max,
             int64_t *out, bool *present, struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    char fb[160];
    if (present)
        *present = v != NULL;
    if (!v) {
        if (required) {
            api_error(w, PROMO_BAD_REQUEST, "%s is required", FIELD);
            return false;
        }
        return true;
    }
    if (!json_is_integer(v)) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be an integer, not %s", FIELD, type_name(v));
        return false;
    }
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be between %lld and %lld", FIELD, (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool jin_limit(json_t *o, const char *key, const char *path, int64_t *out, struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    if (v && json_is_null(v)) {
        *out = PROMO_UNLIMITED;
        return true;
    }
    return jin_int(o, key, path, false, 0, PROMO_MONEY_MAX, out, NULL, w);
}

bool jin_bool(json_t *o, const char *key, const char *path, bool *out, struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        api_error(w, PROMO_BAD_REQUEST, "%s%s%s must be true or false, not %s", path ? path : "",
                  path && *path ? "." : "", key, type_name(v));
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool jin_strv(struct arena *a, json_t *o, const char *key, const char *path, const char ***out,
              size_t *n, struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    char fb[160];
    if (!v)
        return true;
    if (json_is_null(v)) {
        *out = NULL;
        *n = 0;
        return true;
    }
    if (!json_is_array(v)) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be an array of strings, not %s", FIELD, type_name(v));
        return false;
    }
    size_t len = json_array_size(v);
    if (len > 200) {
        api_error(w, PROMO_BAD_REQUEST, "%s has too many entries (at most 200)", FIELD);
        return false;
    }
    const char **arr = arena_alloc(a, sizeof(char *) * (len + 1));
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 100) {
            api_error(w, PROMO_BAD_REQUEST, "%s[%zu] must be a non-empty string of at most 100 bytes", FIELD, i);
            return false;
        }
        arr[i] = arena_strndup(a, json_string_value(e), json_string_length(e));
    }
    *out = arr;
    *n = len;
    return true;
}

bool jin_obj(json_t *o, const char *key, const char *path, bool required, json_t **out,
             struct api_resp *w)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) {
            api_error(w, PROMO_BAD_REQUEST, "%s%s%s is required", path ? path : "", path && *path ? "." : "", key);
            return false;
        }
        return true;
    }
    if (!json_is_object(v)) {
        api_error(w, PROMO_BAD_REQUEST, "%s%s%s must be an object, not %s", path ? path : "",
                  path && *path ? "." : "", key, type_name(v));
        return false;
    }
    *out = v;
    return true;
}

bool jin_query_limit(struct api_req *r, int *limit, struct api_resp *w)
{
    *limit = 50;
    const char *s = r->query(r->qctx, "limit");
    if (!s)
        return true;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 1000) {
        api_error(w, PROMO_BAD_REQUEST, "limit must be an integer from 1 to 1000");
        return false;
    }
    *limit = (int)v;
    return true;
}

/* ---- authentication ------------------------------------------------------- */

#define TOKEN_TOUCH_EVERY_S 60

enum promo_err api_authenticate(struct api_ctx *ctx, struct arena *a, const char *secret,
                                int64_t now, struct token *out)
{
    if (!secret || !*secret || strlen(secret) > 256)
        return PROMO_UNAUTHORIZED;
    char hash[65];
    util_hash_secret(secret, hash);
    enum promo_err rc = store_token_find(ctx->st, a, hash, out);
    if (rc == PROMO_NOT_FOUND)
        return PROMO_UNAUTHORIZED;
    if (rc != PROMO_OK)
        return rc;
    if (out->revoked_at || (out->expires_at && out->expires_at <= now))
        return PROMO_UNAUTHORIZED;
    /* last_used_at to the minute: one asynchronous write per token per
     * minute at most, never one per call, and never waited for. */
    if (now - out->last_used_at >= TOKEN_TOUCH_EVERY_S)
        store_token_touch(ctx->st, out->id, now);
    return PROMO_OK;
}

/* Stores an admin token for `secret`. PROMO_CONFLICT when that secret
 * was a token already (its hash is taken). */
static enum promo_err bootstrap_store(struct api_ctx *ctx, const char *secret, const char *name, char id[PROMO_ID_MAX])
{
    char hash[65];
    util_rand_id("tok_", id, PROMO_ID_MAX);
    util_hash_secret(secret, hash);
    struct token t = {.id = id, .role = "admin", .name = name, .kind = "api", .created_at = time_now()};
    return store_token_create(ctx->st, &t, hash, NULL);
}

/* The way back after the last admin token was revoked or expired: a
 * PROMO_BOOTSTRAP_TOKEN given at start becomes an admin token again. Only
 * an explicit value does it; without one nothing is printed or made. */
static int bootstrap_recover(struct api_ctx *ctx, const char *given)
{
    int64_t admins = 0;
    if (store_token_count_admins(ctx->st, time_now(), &admins) != PROMO_OK)
        return -1;
    if (admins > 0)
        return 0;
    char id[PROMO_ID_MAX];
    enum promo_err rc = bootstrap_store(ctx, given, "bootstrap (recovery)", id);
    if (rc == PROMO_CONFLICT) {
        log_error("bootstrap: no live admin token, and PROMO_BOOTSTRAP_TOKEN was a token before (revoked or "
                  "expired): set a new value to make an admin token");
        return 0;
    }
    if (rc != PROMO_OK)
        return -1;
    log_warn("bootstrap: the store had no live admin token: PROMO_BOOTSTRAP_TOKEN is now the admin token %s", id);
    return 0;
}

int api_bootstrap(struct api_ctx *ctx)
{
    int64_t n = 0;
    const char *given = getenv("PROMO_BOOTSTRAP_TOKEN");
    if (given && *given && (strlen(given) < 16 || strlen(given) > 256)) {
        log_error("PROMO_BOOTSTRAP_TOKEN must be 16 to 256 characters");
        return -1;
    }
    if (store_token_count(ctx->st, &n) != PROMO_OK)
        return -1;
    if (n > 0)
        return given && *given ? bootstrap_recover(ctx, given) : 0;
    char secret[80] = "", id[PROMO_ID_MAX];
    if (!(given && *given))
        util_rand_secret("promo_", secret, sizeof secret);
    if (bootstrap_store(ctx, given && *given ? given : secret, "bootstrap", id) != PROMO_OK)
        return -1;
    if (!(given && *given))
        fprintf(stderr,
                "\npromo: created the first admin token (shown once, store it now):\n\n    %s\n\n"
                "  export PROMO_TOKEN=%s\n\n",
                secret, secret);
    else
        log_info("bootstrap: PROMO_BOOTSTRAP_TOKEN is now the admin token %s", id);
    return 0;
}
