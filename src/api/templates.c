/* templates.c — /v1/templates: message templates with {{variables}},
 * checked when saved (an unknown variable or bad syntax is a 400 naming
 * the field and the variable) and rendered by preview and by messages.
 * The vocabulary is in docs/templates.md. */
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/jsonin.h"
#include "api/outbox.h"
#include "notify/template.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define NAME_MAX_LEN 200
#define SUBJECT_MAX 998 /* RFC 5322's line limit */

static const char *const TPL_FIELDS[] = {"name", "subject", "body_text", "body_html", NULL};

json_t *api_time_ms(int64_t ms)
{
    if (!ms)
        return json_null();
    char s[TIME_STR_MAX], out[TIME_STR_MAX + 8];
    time_format(ms / 1000, s);
    s[strlen(s) - 1] = 0; /* drop the Z */
    snprintf(out, sizeof out, "%s.%03dZ", s, (int)(ms % 1000));
    return json_string(out);
}

/* A body text: a string of at most TPL_TEXT_MAX bytes where the only
 * control characters are newline, carriage return and tab. */
static bool body_str(struct api_req *r, json_t *body, const char *key, const char **out, struct api_resp *w)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be a string", key);
        return false;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > TPL_TEXT_MAX) {
        api_error(w, PROMO_BAD_REQUEST, "%s is too long (%zu bytes; at most %u)", key, len, TPL_TEXT_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && !strchr("\n\r\t", s[i])) {
            api_error(w, PROMO_BAD_REQUEST, "%s contains a control character", key);
            return false;
        }
    *out = arena_strndup(r->a, s, len);
    return true;
}

static bool check_one(const char *field, const char *text, struct api_resp *w)
{
    char err[TPL_ERR_MAX];
    if (!text || tpl_check(text, NULL, err, sizeof err) == 0)
        return true;
    api_error(w, PROMO_BAD_REQUEST, "%s: %s", field, err);
    return false;
}

bool api_tpl_fields(struct api_req *r, json_t *body, struct template_rec *t, bool need_body, struct api_resp *w)
{
    if (!jin_str(r->a, body, "subject", "", false, true, SUBJECT_MAX, &t->subject, w) ||
        !body_str(r, body, "body_text", &t->body_text, w) || !body_str(r, body, "body_html", &t->body_html, w))
        return false;
    if (need_body && !t->body_text && !t->body_html) {
        api_error(w, PROMO_BAD_REQUEST, "body_text or body_html is required");
        return false;
    }
    return check_one("subject", t->subject, w) && check_one("body_text", t->body_text, w) &&
           check_one("body_html", t->body_html, w);
}

json_t *api_tpl_variables(const struct template_rec *t)
{
    json_t *vars = json_array();
    char err[TPL_ERR_MAX];
    const char *texts[] = {t->subject, t->body_text, t->body_html};
    for (size_t i = 0; i < 3; i++)
        if (texts[i])
            tpl_check(texts[i], vars, err, sizeof err);
    return vars;
}

/* One field rendered into the arena; false with w set. */
static bool render_one(struct api_req *r, const char *field, const char *text, const json_t *data, bool html,
                       const char **out, struct api_resp *w)
{
    *out = NULL;
    if (!text)
        return true;
    char err[TPL_ERR_MAX];
    char *s = tpl_render(text, data, html, err, sizeof err);
    if (!s) {
        api_error(w, PROMO_BAD_REQUEST, "%s: %s", field, err);
        return false;
    }
    *out = arena_strdup(r->a, s);
    free(s);
    return true;
}

bool api_tpl_render(struct api_req *r, const struct template_rec *t, const json_t *data, struct template_rec *out,
                    struct api_resp *w)
{
    *out = *t;
    return render_one(r, "subject", t->subject, data, false, &out->subject, w) &&
           render_one(r, "body_text", t->body_text, data, false, &out->body_text, w) &&
           render_one(r, "body_html", t->body_html, data, true, &out->body_html, w);
}

static json_t *template_json(const struct template_rec *t)
{
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:o, s:o, s:o}", "id", t->id, "name", t->name, "subject",
                     t->subject, "body_text", t->body_text, "body_html", t->body_html, "variables",
                     api_tpl_variables(t), "created_at", api_time_or_null(t->created_at), "updated_at",
                     api_time_or_null(t->updated_at));
}

/* Reads a whole template body (POST and PUT replace every field). */
static bool parse_template(struct api_req *r, struct template_rec *t, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return false;
    bool ok = jin_only(body, "", TPL_FIELDS, w) &&
              jin_str(r->a, body, "name", "", true, false, NAME_MAX_LEN, &t->name, w) &&
              api_tpl_fields(r, body, t, true, w);
    json_decref(body);
    if (ok && !*t->name) {
        api_error(w, PROMO_BAD_REQUEST, "name must not be empty");
        return false;
    }
    return ok;
}

void api_template_create(struct api_req *r, struct api_resp *w)
{
    struct template_rec t = {.created_at = r->now, .updated_at = r->now};
    if (!parse_template(r, &t, w))
        return;
    char id[PROMO_ID_MAX];
    util_rand_id("tpl_", id, sizeof id);
    t.id = id;
    enum promo_err rc = store_template_put(r->ctx->st, &t, true, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc, "template");
    api_json(w, 201, template_json(&t));
}

void api_template_put(struct api_req *r, struct api_resp *w)
{
    struct template_rec old;
    enum promo_err rc = store_template_get(r->ctx->st, r->a, r->params[0], &old);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "template");
    struct template_rec t = {.id = old.id, .created_at = old.created_at, .updated_at = r->now};
    if (!parse_template(r, &t, w))
        return;
    rc = store_template_put(r->ctx->st, &t, false, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "template");
    api_json(w, 200, template_json(&t));
}

void api_template_get(struct api_req *r, struct api_resp *w)
{
    struct template_rec t;
    enum promo_err rc = store_template_get(r->ctx->st, r->a, r->params[0], &t);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "template");
    api_json(w, 200, template_json(&t));
}

void api_template_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    const char *cursor = r->query(r->qctx, "cursor");
    if (!jin_query_limit(r, &limit, w) || !api_cursor_ok(cursor, "tpl_", w))
        return;
    struct template_rec *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_template_list(r->ctx->st, r->a, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "template");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, template_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

void api_template_delete(struct api_req *r, struct api_resp *w)
{
    enum promo_err rc = store_template_delete(r->ctx->st, r->params[0], r->now, r->auth.id);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "template");
    api_json(w, 200, json_pack("{s:s, s:b}", "id", r->params[0], "deleted", 1));
}

/* What a preview without "data" fills in: every common variable, so a
 * marketer sees the whole message. */
static json_t *sample_data(int64_t now)
{
    char exp[TIME_STR_MAX];
    time_format(now + 3 * 86400, exp);
    return json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:i, s:s, s:s, s:{s:s, s:s},"
                     " s:{s:[{s:s, s:i, s:i}], s:i}, s:{s:s, s:i}}",
                     "customer", "id", "cus_sample", "name", "Kim Minji", "email", "minji@example.com", "locale",
                     "ko", "timezone", "Asia/Seoul", "code", "SAMPLE-1234", "discount", 5000, "currency", "KRW",
                     "expires_at", exp, "campaign", "id", "cmp_sample", "name", "Sample campaign", "cart", "items",
                     "name", "Wool coat", "price", 129000, "quantity", 1, "total", 129000, "order", "id",
                     "order-sample", "amount", 129000);
}

static const char *const PREVIEW_FIELDS[] = {"data", NULL};

void api_template_preview(struct api_req *r, struct api_resp *w)
{
    struct template_rec t, out;
    enum promo_err rc = store_template_get(r->ctx->st, r->a, r->params[0], &t);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "template");
    json_t *body = r->body_len ? jin_object(r, w) : json_object();
    if (!body)
        return;
    json_t *data = NULL;
    bool ok = jin_only(body, "", PREVIEW_FIELDS, w) && jin_obj(body, "data", "", false, &data, w);
    json_t *use = ok ? (data ? json_incref(data) : sample_data(r->now)) : NULL;
    json_decref(body);
    ok = ok && api_tpl_render(r, &t, use, &out, w);
    json_decref(use);
    if (!ok)
        return;
    api_json(w, 200,
             json_pack("{s:s, s:s?, s:s?, s:s?}", "template_id", t.id, "subject", out.subject, "body_text",
                       out.body_text, "body_html", out.body_html));
}
