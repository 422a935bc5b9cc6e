/* cli_orders.c — what a shop does with a code: validate, redeem, roll back,
 * reserve and confirm or release; the redemption list; and `promo health`.
 * The order is described by flags (--amount, --item sku:category:price:qty
 * ...) and becomes API.md's {"code", "customer_id", "order": {...}}. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

#define QTY_MAX 1000000LL

#define ORDER_OPTS                                                                                        \
    {"--customer", CLI_OPT_STR, 0, 0, "customer id"},                                                     \
        {"--amount", CLI_OPT_INT, 0, CLI_MONEY_MAX, "order amount, minor units (default: sum of items)"}, \
        {"--currency", CLI_OPT_STR, 0, 0, "order currency (KRW, USD...)"},                                \
        {"--order-id", CLI_OPT_STR, 0, 0, "the shop's order id"},                                         \
        {"--item", CLI_OPT_LIST, 0, 0, "an order line sku:category:price:qty (repeat; category may be empty)"}

static const struct cli_opt VALIDATE_OPTS[] = {ORDER_OPTS, {0}};

static const struct cli_opt REDEEM_OPTS[] = {
    ORDER_OPTS,
    {"--idempotency-key", CLI_OPT_STR, 0, 0, "a retry with the same key uses nothing more"},
    {0},
};

static const struct cli_opt RESERVE_OPTS[] = {
    ORDER_OPTS,
    {"--ttl", CLI_OPT_INT, 1, 86400, "seconds the hold lasts (server default 900)"},
    {0},
};

static const struct cli_opt ROLLBACK_OPTS[] = {
    {"--reason", CLI_OPT_STR, 0, 0, "why (order_cancelled...)"},
    {0},
};

static const struct cli_opt REDEMPTIONS_OPTS[] = {
    {"--campaign", CLI_OPT_STR, 0, 0, "only this campaign's redemptions"},
    {"--customer", CLI_OPT_STR, 0, 0, "only this customer's redemptions"},
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

/* Reads a whole non-negative decimal number within max. */
static bool parse_count(const char *s, size_t n, long long max, long long *out)
{
    long long v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* "sku:category:price:qty" (qty may be left out: 1) → an item object. */
static int parse_item(const struct cli_args *a, const char *s, json_t **out, long long *line_total)
{
    const char *part[4];
    size_t len[4], n = 0;
    const char *p = s;
    for (;;) {
        const char *colon = strchr(p, ':');
        if (n == 4)
            goto bad;
        part[n] = p;
        len[n] = colon ? (size_t)(colon - p) : strlen(p);
        n++;
        if (!colon)
            break;
        p = colon + 1;
    }
    if (n < 3)
        goto bad;
    long long price, qty = 1;
    if (!parse_count(part[2], len[2], CLI_MONEY_MAX, &price))
        return cli_usage_error(a, "--item '%s': the price must be an integer from 0 to %lld", s, CLI_MONEY_MAX);
    if (n == 4 && (!parse_count(part[3], len[3], QTY_MAX, &qty) || qty < 1))
        return cli_usage_error(a, "--item '%s': the quantity must be an integer from 1 to %lld", s, QTY_MAX);
    if (price && qty > CLI_MONEY_MAX / price)
        return cli_usage_error(a, "--item '%s': price x quantity is too large", s);
    json_t *item = json_object();
    if (len[0])
        json_object_set_new(item, "sku", json_stringn(part[0], len[0]));
    if (len[1])
        json_object_set_new(item, "category", json_stringn(part[1], len[1]));
    json_object_set_new(item, "price", json_integer(price));
    json_object_set_new(item, "quantity", json_integer(qty));
    *out = item;
    *line_total = price * qty;
    return CLI_OK;
bad:
    return cli_usage_error(a, "--item must be sku:category:price:qty, not '%s'", s);
}

/* The body of validate, redeem and reserve. Returns CLI_OK with *out, or
 * CLI_USAGE (printed). */
static int order_body(const struct cli_args *a, bool need_order_id, json_t **out)
{
    const char *customer = cli_arg_str(a, "--customer"), *currency = cli_arg_str(a, "--currency"),
               *order_id = cli_arg_str(a, "--order-id");
    const struct cli_got *amount = cli_arg(a, "--amount");
    if (need_order_id && !order_id)
        return cli_usage_error(a, "--order-id is required");
    if (currency && strlen(currency) != 3)
        return cli_usage_error(a, "--currency must be an ISO 4217 code of three letters, not '%s'", currency);

    json_t *items = json_array(), *order = json_object();
    long long sum = 0;
    for (int i = 0; i < a->ngot; i++) {
        if (strcmp(a->got[i].opt->name, "--item") != 0)
            continue;
        json_t *item = NULL;
        long long line = 0;
        if (parse_item(a, a->got[i].val, &item, &line) != CLI_OK) {
            json_decref(items);
            json_decref(order);
            return CLI_USAGE;
        }
        json_array_append_new(items, item);
        sum = sum > CLI_MONEY_MAX - line ? CLI_MONEY_MAX + 1 : sum + line;
    }
    if (!amount && json_array_size(items) == 0) {
        json_decref(items);
        json_decref(order);
        return cli_usage_error(a, "give the order: --amount N or at least one --item");
    }
    if (!amount && sum > CLI_MONEY_MAX) {
        json_decref(items);
        json_decref(order);
        return cli_usage_error(a, "the items add up to more than %lld; give --amount", CLI_MONEY_MAX);
    }
    if (order_id)
        json_object_set_new(order, "id", json_string(order_id));
    json_object_set_new(order, "amount", json_integer(amount ? amount->num : sum));
    if (currency) {
        char cur[4];
        for (int i = 0; i < 3; i++)
            cur[i] = currency[i] >= 'a' && currency[i] <= 'z' ? (char)(currency[i] - 'a' + 'A') : currency[i];
        cur[3] = '\0';
        json_object_set_new(order, "currency", json_string(cur));
    }
    if (json_array_size(items))
        json_object_set_new(order, "items", items);
    else
        json_decref(items);

    json_t *body = json_pack("{s:s}", "code", a->pos[0]);
    if (customer)
        json_object_set_new(body, "customer_id", json_string(customer));
    json_object_set_new(body, "order", order);
    const struct cli_got *ttl = cli_arg(a, "--ttl");
    if (ttl)
        json_object_set_new(body, "ttl_seconds", json_integer(ttl->num));
    *out = body;
    return CLI_OK;
}

static void print_answer(struct cli *c, const json_t *v)
{
    if (c->json)
        cli_print_json(v);
    else
        cli_print_object(v);
}

/* ---- validate, redeem, reserve --------------------------------------------------- */

static int validate(struct cli *c, const struct cli_args *a)
{
    json_t *body;
    int rc = order_body(a, false, &body);
    if (rc != CLI_OK)
        return rc;
    struct cli_answer ans;
    rc = cli_call(c, "POST", "/v1/validate", body, NULL, &ans);
    json_decref(body);
    if (rc == CLI_OK && json_is_true(json_object_get(ans.json, "valid"))) {
        print_answer(c, ans.json);
    } else if (rc == CLI_OK) {
        /* Not valid: exit 1, so a script can branch on it. */
        if (c->json)
            cli_print_json(ans.json);
        const char *reason = json_string_value(json_object_get(ans.json, "reason"));
        const char *msg = json_string_value(json_object_get(ans.json, "message"));
        fprintf(stderr, "promo: %s: %s\n", reason ? reason : "invalid", msg ? msg : "(no message)");
        rc = CLI_REFUSED;
    }
    cli_answer_free(&ans);
    return rc;
}

static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static int redeem(struct cli *c, const struct cli_args *a)
{
    const char *key = cli_arg_str(a, "--idempotency-key");
    if (key && (!*key || !header_safe(key) || strlen(key) > 255))
        return cli_usage_error(a, "--idempotency-key must be 1 to 255 printable characters");
    json_t *body;
    int rc = order_body(a, true, &body);
    if (rc != CLI_OK)
        return rc;
    struct cli_buf header = {0};
    if (key)
        cli_buf_printf(&header, "Idempotency-Key: %s", key);
    const char *const headers[] = {header.p, NULL};
    struct cli_answer ans;
    rc = cli_call(c, "POST", "/v1/redemptions", body, key ? headers : NULL, &ans);
    json_decref(body);
    cli_buf_free(&header);
    if (rc == CLI_OK) {
        if (ans.replayed)
            fputs("promo: note: a repeated request; the first redemption is shown and nothing more was used\n",
                  stderr);
        print_answer(c, ans.json);
    }
    cli_answer_free(&ans);
    return rc;
}

static int reserve(struct cli *c, const struct cli_args *a)
{
    json_t *body;
    int rc = order_body(a, true, &body);
    if (rc != CLI_OK)
        return rc;
    struct cli_answer ans;
    rc = cli_call(c, "POST", "/v1/reservations", body, NULL, &ans);
    json_decref(body);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    return rc;
}

/* POST or GET of /v1/{what}/{id}[/tail] with an optional body; the answer
 * printed whole. */
static int by_id(struct cli *c, const struct cli_args *a, const char *method, const char *what,
                 const char *tail, const json_t *body)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    cli_buf_printf(&path, "/v1/%s/", what);
    cli_buf_escape(&path, a->pos[0]);
    if (tail)
        cli_buf_printf(&path, "/%s", tail);
    int rc = cli_call(c, method, path.p, body, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

static int rollback(struct cli *c, const struct cli_args *a)
{
    const char *reason = cli_arg_str(a, "--reason");
    json_t *body = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    int rc = by_id(c, a, "POST", "redemptions", "rollback", body);
    json_decref(body);
    return rc;
}

static int redemption_get(struct cli *c, const struct cli_args *a)
{
    return by_id(c, a, "GET", "redemptions", NULL, NULL);
}

static int reservation_get(struct cli *c, const struct cli_args *a)
{
    return by_id(c, a, "GET", "reservations", NULL, NULL);
}

static int reservation_confirm(struct cli *c, const struct cli_args *a)
{
    return by_id(c, a, "POST", "reservations", "confirm", NULL);
}

static int reservation_release(struct cli *c, const struct cli_args *a)
{
    return by_id(c, a, "POST", "reservations", "release", NULL);
}

/* ---- lists and health ------------------------------------------------------------ */

static void discount_cell(const json_t *row, struct cli_buf *b)
{
    const json_t *d = json_object_get(row, "discount");
    const char *type = json_string_value(json_object_get(d, "type"));
    const json_t *v = json_object_get(d, type && strcmp(type, "points") == 0 ? "points" : "amount");
    cli_scalar_text(v ? v : json_null(), b);
    if (type && strcmp(type, "points") == 0)
        cli_buf_add(b, " points", 7);
}

static const struct cli_col REDEMPTION_COLS[] = {
    {"ID", "id", NULL, false},
    {"CODE", "code", NULL, false},
    {"CUSTOMER", "customer_id", NULL, false},
    {"ORDER", "order_id", NULL, false},
    {"AMOUNT", "order_amount", NULL, true},
    {"DISCOUNT", NULL, discount_cell, true},
    {"STATUS", "status", NULL, false},
    {"CREATED_AT", "created_at", NULL, false},
    {0},
};

static int redemptions_list(struct cli *c, const struct cli_args *a)
{
    const char *campaign = cli_arg_str(a, "--campaign"), *customer = cli_arg_str(a, "--customer");
    const struct cli_got *limit = cli_arg(a, "--limit");
    struct cli_buf path = {0};
    cli_buf_add(&path, "/v1/redemptions", 15);
    if (campaign) {
        cli_buf_add(&path, "?campaign_id=", 13);
        cli_buf_escape(&path, campaign);
    }
    if (customer) {
        cli_buf_printf(&path, "%scustomer_id=", campaign ? "&" : "?");
        cli_buf_escape(&path, customer);
    }
    int rc = cli_list(c, path.p, limit ? limit->num : 0, cli_arg_flag(a, "--all"), REDEMPTION_COLS);
    cli_buf_free(&path);
    return rc;
}

static int health(struct cli *c, const struct cli_args *a)
{
    (void)a;
    struct cli_answer ans;
    int rc = cli_call(c, "GET", "/healthz", NULL, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    return rc;
}

#define ORDER_SYNOPSIS "[--customer ID] [--amount N] [--currency C] [--order-id O] [--item sku:category:price:qty]..."

const struct cli_cmd cli_order_cmds[] = {
    {"validate", NULL, "CODE", 1, ORDER_SYNOPSIS,
     "checks a code against an order without using it; exit 1 with the reason when not valid", VALIDATE_OPTS,
     validate},
    {"redeem", NULL, "CODE", 1,
     "--order-id O [--customer ID] [--amount N] [--currency C] [--item sku:category:price:qty]... "
     "[--idempotency-key K]",
     "uses a code for an order", REDEEM_OPTS, redeem},
    {"rollback", NULL, "RDM_ID", 1, "[--reason R]", "gives a redemption's use back", ROLLBACK_OPTS, rollback},
    {"redemptions", "list", "", 0, "[--campaign ID] [--customer ID] [--limit N] [--all]", "lists redemptions",
     REDEMPTIONS_OPTS, redemptions_list},
    {"redemptions", "get", "RDM_ID", 1, "", "shows one redemption", NULL, redemption_get},
    {"reserve", NULL, "CODE", 1,
     "--order-id O [--customer ID] [--amount N] [--currency C] [--item sku:category:price:qty]... "
     "[--ttl SECONDS]",
     "holds a use of a code while the shopper pays", RESERVE_OPTS, reserve},
    {"reservation", "confirm", "ID", 1, "", "turns a hold into a redemption", NULL, reservation_confirm},
    {"reservation", "release", "ID", 1, "", "gives a hold back", NULL, reservation_release},
    {"reservation", "get", "ID", 1, "", "shows a hold", NULL, reservation_get},
    {"health", NULL, "", 0, "", "asks the server whether it is up (GET /healthz)", NULL, health},
    {0},
};
