/* cli_customers.c — `promo customer get|put|list`, `promo event send` and
 * `promo segment list|get|put|delete`: HTTP calls to /v1/customers,
 * /v1/events and /v1/segments. Values of --attr and --prop are typed the
 * way a shell user means them: digits → integer, true/false → boolean,
 * null → null, anything else a string. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli_int.h"

static const struct cli_opt PUT_OPTS[] = {
    {"--name", CLI_OPT_STR, 0, 0, "the customer's name"},
    {"--email", CLI_OPT_STR, 0, 0, "e-mail address"},
    {"--phone", CLI_OPT_STR, 0, 0, "phone number"},
    {"--locale", CLI_OPT_STR, 0, 0, "language tag (ko-KR, en)"},
    {"--segment", CLI_OPT_LIST, 0, 0, "a segment set by hand (repeat)"},
    {"--attr", CLI_OPT_LIST, 0, 0, "an attribute key=value (repeat)"},
    {0},
};

static const struct cli_opt CUST_LIST_OPTS[] = {
    {"--segment", CLI_OPT_STR, 0, 0, "only customers in this segment"},
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

static const struct cli_opt SEND_OPTS[] = {
    {"--type", CLI_OPT_STR, 0, 0, "signup, purchase, cart_updated... or your own"},
    {"--customer", CLI_OPT_STR, 0, 0, "the customer id"},
    {"--id", CLI_OPT_STR, 0, 0, "the event id (default: a new random one; reuse it to retry safely)"},
    {"--at", CLI_OPT_STR, 0, 0, "when it happened, RFC 3339 (default: now)"},
    {"--prop", CLI_OPT_LIST, 0, 0, "a property key=value (repeat); a purchase needs order_id and amount"},
    {0},
};

static const struct cli_opt SEG_PUT_OPTS[] = {
    {"--rule", CLI_OPT_STR, 0, 0, "the rule as JSON: {\"all\":[{\"fact\":\"order_count\",\"op\":\">=\",\"value\":2}]}"},
    {"--description", CLI_OPT_STR, 0, 0, "what the segment is for"},
    {0},
};

static void print_answer(struct cli *c, const json_t *v)
{
    if (c->json)
        cli_print_json(v);
    else
        cli_print_object(v);
}

/* "k=v" → obj[k] = typed v. CLI_OK or a usage error naming the option. */
static int put_pair(const struct cli_args *a, const char *opt, const char *kv, json_t *obj)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return cli_usage_error(a, "%s must be key=value, not '%s'", opt, kv);
    const char *v = eq + 1;
    json_t *val;
    char *end = NULL;
    long long n = *v ? strtoll(v, &end, 10) : 0;
    if (*v && end && !*end && strspn(v, "-0123456789") == strlen(v))
        val = json_integer(n);
    else if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        val = json_boolean(strcmp(v, "true") == 0);
    else if (strcmp(v, "null") == 0)
        val = json_null();
    else
        val = json_string(v);
    if (!val)
        return cli_usage_error(a, "%s '%s': the value is not valid UTF-8", opt, kv);
    json_object_setn_new(obj, kv, (size_t)(eq - kv), val);
    return CLI_OK;
}

/* Every occurrence of a repeatable key=value option into one object. */
static int pairs(const struct cli_args *a, const char *opt, json_t *obj)
{
    for (int i = 0; i < a->ngot; i++)
        if (strcmp(a->got[i].opt->name, opt) == 0) {
            int rc = put_pair(a, opt, a->got[i].val, obj);
            if (rc != CLI_OK)
                return rc;
        }
    return CLI_OK;
}

static void path_of(struct cli_buf *b, const char *base, const char *id)
{
    cli_buf_printf(b, "%s", base);
    cli_buf_escape(b, id);
}

static int simple(struct cli *c, const char *method, const char *base, const char *id, const json_t *body)
{
    struct cli_buf path = {0};
    path_of(&path, base, id);
    struct cli_answer ans;
    int rc = cli_call(c, method, path.p, body, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

/* ---- customers ------------------------------------------------------------------- */

static int customer_get(struct cli *c, const struct cli_args *a)
{
    return simple(c, "GET", "/v1/customers/", a->pos[0], NULL);
}

static int customer_put(struct cli *c, const struct cli_args *a)
{
    json_t *body = json_object(), *segs = json_array(), *attrs = json_object();
    static const char *const strs[] = {"--name", "--email", "--phone", "--locale"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *v = cli_arg_str(a, strs[i]);
        if (v)
            json_object_set_new(body, strs[i] + 2, json_string(v));
    }
    for (int i = 0; i < a->ngot; i++)
        if (strcmp(a->got[i].opt->name, "--segment") == 0)
            json_array_append_new(segs, json_string(a->got[i].val));
    json_object_set_new(body, "segments", segs);
    int rc = pairs(a, "--attr", attrs);
    json_object_set_new(body, "attributes", attrs);
    if (rc == CLI_OK)
        rc = simple(c, "PUT", "/v1/customers/", a->pos[0], body);
    json_decref(body);
    return rc;
}

/* Segments set by hand and computed, as one comma list. */
static void segments_cell(const json_t *row, struct cli_buf *b)
{
    static const char *const keys[] = {"segments", "computed_segments"};
    size_t n = 0, i;
    json_t *v;
    for (size_t k = 0; k < 2; k++)
        json_array_foreach(json_object_get(row, keys[k]), i, v) cli_buf_printf(b, "%s%s", n++ ? "," : "",
                                                                              json_string_value(v));
}

static const struct cli_col CUSTOMER_COLS[] = {
    {"ID", "id", NULL, false},
    {"NAME", "name", NULL, false},
    {"EMAIL", "email", NULL, false},
    {"SEGMENTS", NULL, segments_cell, false},
    {0},
};

static int customer_list(struct cli *c, const struct cli_args *a)
{
    struct cli_buf path = {0};
    cli_buf_printf(&path, "/v1/customers");
    const char *seg = cli_arg_str(a, "--segment");
    if (seg) {
        cli_buf_printf(&path, "?segment=");
        cli_buf_escape(&path, seg);
    }
    const struct cli_got *limit = cli_arg(a, "--limit");
    int rc = cli_list(c, path.p, limit ? limit->num : 0, cli_arg_flag(a, "--all"), CUSTOMER_COLS);
    cli_buf_free(&path);
    return rc;
}

/* ---- events ------------------------------------------------------------------------ */

static int event_send(struct cli *c, const struct cli_args *a)
{
    const char *type = cli_arg_str(a, "--type"), *cust = cli_arg_str(a, "--customer");
    if (!type || !cust)
        return cli_usage_error(a, "--type and --customer are required");
    char idbuf[40];
    const char *id = cli_arg_str(a, "--id");
    if (!id) {
        /* A fresh id: the event is new. Pass --id to make a retry safe. */
        unsigned char r[12];
        if (sodium_init() < 0)
            return cli_usage_error(a, "cannot initialise libsodium for a random --id: pass --id");
        randombytes_buf(r, sizeof r);
        snprintf(idbuf, sizeof idbuf, "cli-");
        sodium_bin2hex(idbuf + 4, sizeof idbuf - 4, r, sizeof r);
        id = idbuf;
    }
    json_t *props = json_object();
    int rc = pairs(a, "--prop", props);
    if (rc != CLI_OK) {
        json_decref(props);
        return rc;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "type", type, "customer_id", cust, "properties", props);
    if (!body)
        return cli_usage_error(a, "--type, --customer and --id must be valid UTF-8");
    const char *at = cli_arg_str(a, "--at");
    if (at)
        json_object_set_new(body, "occurred_at", json_string(at));
    struct cli_answer ans;
    rc = cli_call(c, "POST", "/v1/events", body, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    json_decref(body);
    return rc;
}

/* ---- segments ---------------------------------------------------------------------- */

static const struct cli_col SEGMENT_COLS[] = {
    {"NAME", "name", NULL, false},
    {"MEMBERS", "members", NULL, true},
    {"DESCRIPTION", "description", NULL, false},
    {0},
};

static int segment_list(struct cli *c, const struct cli_args *a)
{
    (void)a;
    return cli_list(c, "/v1/segments", 0, false, SEGMENT_COLS);
}

static int segment_get(struct cli *c, const struct cli_args *a)
{
    return simple(c, "GET", "/v1/segments/", a->pos[0], NULL);
}

static int segment_delete(struct cli *c, const struct cli_args *a)
{
    return simple(c, "DELETE", "/v1/segments/", a->pos[0], NULL);
}

static int segment_put(struct cli *c, const struct cli_args *a)
{
    const char *rule_text = cli_arg_str(a, "--rule"), *desc = cli_arg_str(a, "--description");
    if (!rule_text)
        return cli_usage_error(a, "--rule is required");
    json_error_t err;
    json_t *rule = json_loads(rule_text, JSON_REJECT_DUPLICATES, &err);
    if (!rule)
        return cli_usage_error(a, "--rule is not JSON: %s (at character %d)", err.text, err.position);
    json_t *body = json_pack("{s:o}", "rule", rule);
    if (desc)
        json_object_set_new(body, "description", json_string(desc));
    int rc = simple(c, "PUT", "/v1/segments/", a->pos[0], body);
    json_decref(body);
    return rc;
}

const struct cli_cmd cli_customer_cmds[] = {
    {"customer", "get", "ID", 1, "", "shows a customer with facts and segments", NULL, customer_get},
    {"customer", "put", "ID", 1,
     "[--name N] [--email E] [--phone P] [--locale L] [--segment S]... [--attr key=value]...",
     "creates or replaces a customer's profile (what is left out is cleared)", PUT_OPTS, customer_put},
    {"customer", "list", "", 0, "[--segment S] [--limit N] [--all]", "lists customers", CUST_LIST_OPTS,
     customer_list},
    {"event", "send", "", 0, "--type T --customer ID [--id E] [--at TIME] [--prop key=value]...",
     "sends a customer event (POST /v1/events)", SEND_OPTS, event_send},
    {"segment", "list", "", 0, "", "lists segments with their member counts", NULL, segment_list},
    {"segment", "get", "NAME", 1, "", "shows a segment and its rule", NULL, segment_get},
    {"segment", "put", "NAME", 1, "--rule JSON [--description D]", "creates or replaces a segment", SEG_PUT_OPTS,
     segment_put},
    {"segment", "delete", "NAME", 1, "", "deletes a segment (its members leave it)", NULL, segment_delete},
    {0},
};
