/* redemptions.c — /v1/validate, /v1/redemptions, /v1/reservations: the
 * real-time path shops call at checkout. */
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "api/jsonin.h"
#include "api/parse.h"
#include "util/rand.h"
#include "util/timeutil.h"

#define ITEMS_MAX 1000

static const char *const USE_FIELDS[] = {"code", "customer_id", "order", "ttl_seconds", NULL};
static const char *const ORDER_FIELDS[] = {"id", "amount", "currency", "items", NULL};
static const char *const ITEM_FIELDS[] = {"sku", "category", "price", "quantity", "name", NULL};

/* "order.items[i]" without printf: it runs for every item of every
 * validation, and is only read when an item is wrong. */
static void item_path(char buf[40], size_t i)
{
    char digits[24];
    size_t nd = 0, n = 12;
    memcpy(buf, "order.items[", 12);
    do
        digits[nd++] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    while (nd)
        buf[n++] = digits[--nd];
    buf[n++] = ']';
    buf[n] = 0;
}

static bool parse_items(struct api_req *r, json_t *arr, struct order *o, struct api_resp *w)
{
    if (!json_is_array(arr)) {
        api_error(w, PROMO_BAD_REQUEST, "order.items must be an array");
        return false;
    }
    size_t n = json_array_size(arr);
    if (n > ITEMS_MAX) {
        api_error(w, PROMO_BAD_REQUEST, "order.items has more than %d items", ITEMS_MAX);
        return false;
    }
    struct order_item *items = arena_alloc(r->a, sizeof(*items) * (n + 1));
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        char path[40];
        item_path(path, i);
        if (!json_is_object(it)) {
            api_error(w, PROMO_BAD_REQUEST, "%s must be an object", path);
            return false;
        }
        const char *name = NULL;
        if (!jin_only(it, path, ITEM_FIELDS, w) ||
            !jin_str(r->a, it, "sku", path, false, true, 200, &items[i].sku, w) ||
            !jin_str(r->a, it, "category", path, false, true, 100, &items[i].category, w) ||
            !jin_str(r->a, it, "name", path, false, true, 500, &name, w) ||
            !jin_int(it, "price", path, true, 0, PROMO_MONEY_MAX, &items[i].price, NULL, w))
            return false;
        items[i].quantity = 1;
        if (!jin_int(it, "quantity", path, false, 1, 1000000, &items[i].quantity, NULL, w))
            return false;
    }
    o->items = items;
    o->n_items = n;
    return true;
}

/* Declared in parse.h. The code's format is not a 400: a shopper's typo is
 * a refusal reason (invalid_format). The order is required even to
 * validate: every answer is about an order. */
bool api_parse_use(struct api_req *r, json_t *body, bool need_order_id, struct use_body *u,
                   struct api_resp *w)
{
    memset(u, 0, sizeof(*u));
    const char *code = NULL;
    json_t *order = NULL;
    if (!jin_only(body, "", USE_FIELDS, w) ||
        !jin_str(r->a, body, "code", "", true, false, 100000, &code, w) ||
        !jin_str(r->a, body, "customer_id", "", false, true, 200, &u->req.customer_id, w) ||
        !jin_obj(body, "order", "", true, &order, w))
        return false;
    if (u->req.customer_id && !*u->req.customer_id)
        u->req.customer_id = NULL;
    u->req.ttl = 900;
    if (!jin_int(body, "ttl_seconds", "", false, 1, 86400, &u->req.ttl, NULL, w))
        return false;
    if (order) {
        const char *cur = NULL;
        bool has_amount = false;
        json_t *items = json_object_get(order, "items");
        if (!jin_only(order, "order", ORDER_FIELDS, w) ||
            !jin_str(r->a, order, "id", "order", need_order_id, false, 200, &u->order.id, w) ||
            !jin_int(order, "amount", "order", false, 0, PROMO_MONEY_MAX, &u->order.amount, &has_amount, w) ||
            !jin_str(r->a, order, "currency", "order", false, true, 3, &cur, w) ||
            (items && !json_is_null(items) && !parse_items(r, items, &u->order, w)))
            return false;
        if (need_order_id && !*u->order.id) {
            api_error(w, PROMO_BAD_REQUEST, "order.id must not be empty");
            return false;
        }
        if (cur) {
            if (!core_currency_valid(cur)) {
                api_error(w, PROMO_BAD_REQUEST, "order.currency must be an ISO 4217 code such as KRW");
                return false;
            }
            memcpy(u->order.currency, cur, 4);
        }
        if (!has_amount) {
            /* No amount: the items' total, when there are items. */
            if (!u->order.n_items) {
                api_error(w, PROMO_BAD_REQUEST, "order.amount is required (or order.items to sum)");
                return false;
            }
            int64_t sum = 0;
            for (size_t i = 0; i < u->order.n_items; i++) {
                __int128 line = (__int128)u->order.items[i].price * u->order.items[i].quantity;
                sum = line + sum > PROMO_MONEY_MAX ? PROMO_MONEY_MAX : (int64_t)(line + sum);
            }
            u->order.amount = sum;
        }
    }
    u->format = codefmt_normalize(code, strlen(code), u->key);
    u->req.key = u->key;
    u->req.order = &u->order;
    u->req.idem_key = r->idem_key;
    u->req.now = r->now;
    if (r->idem_key) {
        char hash[65];
        util_hash_secret(r->body, hash);
        u->req.request_hash = arena_strdup(r->a, hash);
    }
    return true;
}

static json_t *discount_json(enum discount_type t, int64_t amount, int64_t points)
{
    if (t == DISCOUNT_POINTS)
        return json_pack("{s:s, s:I, s:I}", "type", "points", "amount", (json_int_t)0, "points", (json_int_t)points);
    return json_pack("{s:s, s:I}", "type", core_discount_type_name(t), "amount", (json_int_t)amount);
}

static json_t *redemption_json(const struct redemption *d)
{
    char created[TIME_STR_MAX], rolled[TIME_STR_MAX];
    time_format(d->created_at, created);
    if (d->rolled_back_at)
        time_format(d->rolled_back_at, rolled);
    enum discount_type t = core_discount_type_parse(d->discount_type);
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:I, s:o, s:I, s:s, s:s, s:s?, s:s?, s:s?}", "id", d->id,
                     "code", d->code, "campaign_id", d->campaign_id, "customer_id", d->customer_id,
                     "order_id", d->order_id, "order_amount", (json_int_t)d->order_amount, "discount",
                     discount_json(t ? t : DISCOUNT_FIXED, d->discount, d->points), "order_amount_after",
                     (json_int_t)(d->order_amount - d->discount), "status", d->status, "created_at", created,
                     "reservation_id", d->reservation_id, "rolled_back_at", d->rolled_back_at ? rolled : NULL,
                     "rollback_reason", d->rollback_reason);
}

static json_t *reservation_json(const struct reservation *h)
{
    char expires[TIME_STR_MAX], created[TIME_STR_MAX];
    time_format(h->expires_at, expires);
    time_format(h->created_at, created);
    enum discount_type t = core_discount_type_parse(h->discount_type);
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:I, s:o, s:I, s:s, s:s, s:s, s:s?}", "id", h->id, "code",
                     h->code, "campaign_id", h->campaign_id, "customer_id", h->customer_id, "order_id",
                     h->order_id, "order_amount", (json_int_t)h->order_amount, "discount",
                     discount_json(t ? t : DISCOUNT_FIXED, h->discount, h->points), "order_amount_after",
                     (json_int_t)(h->order_amount - h->discount), "status", h->state, "expires_at", expires,
                     "created_at", created, "redemption_id", h->redemption_id);
}

/* ---- validate -------------------------------------------------------------- */

static bool gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
}

static bool gen_int(yajl_gen g, const char *key, int64_t v)
{
    return gen_str(g, key) && api_gen_int(g, (long long)v) == yajl_gen_status_ok;
}

/* The answer to a validation, written straight to text: it is the hottest
 * answer, and building it as jansson values that are then walked to text
 * cost more than the rest of the answer path. The bytes are those api_json
 * sends for the same object (tests/api/test_validate.py reads them). */
static void validation_answer(struct api_resp *w, const struct use_result *res, const struct use_body *u,
                              enum promo_lang lang)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        return api_error(w, PROMO_INTERNAL, "out of memory");
    bool ok = yajl_gen_map_open(g) == yajl_gen_status_ok && gen_str(g, "valid") &&
              yajl_gen_bool(g, res->v.reason == PROMO_OK) == yajl_gen_status_ok;
    if (res->v.reason != PROMO_OK) {
        ok = ok && gen_str(g, "reason") && gen_str(g, promo_err_code(res->v.reason)) && gen_str(g, "message") &&
             gen_str(g, promo_err_message(res->v.reason, lang));
    } else {
        bool points = res->discount_type == DISCOUNT_POINTS;
        ok = ok && gen_str(g, "code") && gen_str(g, res->code) && gen_str(g, "campaign_id") &&
             gen_str(g, res->campaign_id) && gen_str(g, "discount") && yajl_gen_map_open(g) == yajl_gen_status_ok &&
             gen_str(g, "type") && gen_str(g, points ? "points" : core_discount_type_name(res->discount_type)) &&
             gen_int(g, "amount", points ? 0 : res->v.discount) && (!points || gen_int(g, "points", res->v.points)) &&
             yajl_gen_map_close(g) == yajl_gen_status_ok && gen_int(g, "order_amount", u->order.amount) &&
             gen_int(g, "order_amount_after", res->v.amount_after);
    }
    ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
    api_gen_answer(w, 200, g, ok);
}

void api_validate(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct use_body u;
    if (!api_parse_use(r, body, false, &u, w)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    if (!api_guard_customer(r, u.req.customer_id, w))
        return;
    atomic_fetch_add(&r->ctx->validations, 1);
    struct use_result res;
    memset(&res, 0, sizeof res);
    if (u.format != PROMO_OK) {
        res.v.reason = PROMO_INVALID_FORMAT;
    } else {
        enum promo_err rc = store_validate(r->ctx->st, r->a, &u.req, &res);
        if (rc != PROMO_OK)
            return api_store_error(w, rc, "code");
    }
    api_guard_failure(r, u.req.customer_id, res.v.reason);
    /* A storefront token is public: it hears only coarse reasons, so it
     * cannot tell an unknown code from a disabled or limited one. The
     * fine reason was counted and logged above all the same. */
    if (core_role_parse(r->auth.role) == ROLE_STOREFRONT)
        res.v.reason = core_coarse_reason(res.v.reason);
    if (res.v.reason == PROMO_OK)
        atomic_fetch_add(&r->ctx->validations_ok, 1);
    validation_answer(w, &res, &u, r->lang);
}

/* ---- redeem, reserve --------------------------------------------------------- */

static void refuse(struct api_req *r, const struct use_body *u, struct api_resp *w, enum promo_err rc)
{
    atomic_fetch_add(&r->ctx->redemption_refusals, 1);
    api_guard_failure(r, u->req.customer_id, rc);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "this Idempotency-Key was used for a different request");
    if (promo_err_is_reason(rc))
        return api_error_reason(w, rc, r->lang);
    api_store_error(w, rc, "code");
}

void api_redeem(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct use_body u;
    bool ok = api_parse_use(r, body, true, &u, w);
    json_decref(body);
    if (!ok || !api_guard_customer(r, u.req.customer_id, w))
        return;
    if (u.format != PROMO_OK)
        return refuse(r, &u, w, PROMO_INVALID_FORMAT);
    struct use_result res;
    enum promo_err rc = store_redeem(r->ctx->st, r->a, &u.req, &res);
    if (rc != PROMO_OK)
        return refuse(r, &u, w, rc);
    if (!res.replay)
        atomic_fetch_add(&r->ctx->redemptions, 1);
    else
        w->header_name = "Idempotent-Replayed", w->header_value = "true";
    api_json(w, 201, redemption_json(&res.red));
}

void api_reserve(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct use_body u;
    bool ok = api_parse_use(r, body, true, &u, w);
    json_decref(body);
    if (!ok || !api_guard_customer(r, u.req.customer_id, w))
        return;
    if (u.format != PROMO_OK)
        return refuse(r, &u, w, PROMO_INVALID_FORMAT);
    struct use_result res;
    enum promo_err rc = store_reserve(r->ctx->st, r->a, &u.req, &res);
    if (rc != PROMO_OK)
        return refuse(r, &u, w, rc);
    atomic_fetch_add(&r->ctx->reservations, 1);
    api_json(w, 201, reservation_json(&res.rsv));
}

void api_reservation_get(struct api_req *r, struct api_resp *w)
{
    struct reservation h;
    enum promo_err rc = store_reservation_get(r->ctx->st, r->a, r->params[0], &h);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "reservation");
    api_json(w, 200, reservation_json(&h));
}

void api_reservation_confirm(struct api_req *r, struct api_resp *w)
{
    struct redemption d;
    enum promo_err rc = store_reservation_confirm(r->ctx->st, r->a, r->params[0], r->now, &d);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "the reservation is no longer held (released or lapsed)");
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "reservation");
    api_json(w, 201, redemption_json(&d));
}

void api_reservation_release(struct api_req *r, struct api_resp *w)
{
    struct reservation h;
    enum promo_err rc = store_reservation_release(r->ctx->st, r->a, r->params[0], r->now, &h);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "the reservation was confirmed: roll back its redemption instead");
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "reservation");
    api_json(w, 200, reservation_json(&h));
}

/* ---- rollback and reading -------------------------------------------------- */

static const char *const ROLLBACK_FIELDS[] = {"reason", NULL};

void api_redemption_rollback(struct api_req *r, struct api_resp *w)
{
    const char *reason = NULL;
    json_t *body = NULL;
    if (r->body_len) {
        if (!(body = jin_object(r, w)))
            return;
        bool ok = jin_only(body, "", ROLLBACK_FIELDS, w) &&
                  jin_str(r->a, body, "reason", "", false, true, 200, &reason, w);
        json_decref(body);
        if (!ok)
            return;
    }
    struct redemption d;
    enum promo_err rc = store_redemption_rollback(r->ctx->st, r->a, r->params[0], reason, r->now, &d);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "the redemption was already rolled back");
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "redemption");
    api_json(w, 200, redemption_json(&d));
}

void api_redemption_get(struct api_req *r, struct api_resp *w)
{
    struct redemption d;
    enum promo_err rc = store_redemption_get(r->ctx->st, r->a, r->params[0], &d);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "redemption");
    api_json(w, 200, redemption_json(&d));
}

void api_redemption_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    if (!jin_query_limit(r, &limit, w))
        return;
    const char *cursor = r->query(r->qctx, "cursor");
    if (cursor && (!*cursor || strspn(cursor, "0123456789") != strlen(cursor)))
        return api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
    struct redemption *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_redemption_list(r->ctx->st, r->a, r->query(r->qctx, "campaign_id"),
                                              r->query(r->qctx, "customer_id"), cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "redemption");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, redemption_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}
