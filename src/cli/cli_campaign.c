/* cli_campaign.c — `promo campaign ...`: create, list, get, update (PATCH of
 * the given fields only), pause / resume / end and stats. The flags map onto
 * the campaign body of API.md one to one, so the body is built here and
 * the server stays the judge of what is allowed. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

#define LIMIT(name, help) {name, CLI_OPT_INT_UNLIM, 0, CLI_MONEY_MAX, help}

/* The flags of create and update (update takes --no-first-order-only
 * too, and no --draft). */
#define CAMPAIGN_OPTS                                                                                     \
    {"--name", CLI_OPT_STR, 0, 0, "campaign name"},                                                       \
        {"--currency", CLI_OPT_STR, 0, 0, "ISO 4217 currency (KRW, USD...)"},                             \
        {"--percent", CLI_OPT_STR, 0, 0, "percent discount, 0 < P <= 100, at most two decimals"},        \
        LIMIT("--max-amount", "cap of a percent discount, in minor units (or unlimited)"),                \
        {"--fixed", CLI_OPT_INT, 1, CLI_MONEY_MAX, "fixed discount, in minor units"},                     \
        {"--points", CLI_OPT_INT, 1, CLI_MONEY_MAX, "points awarded (not subtracted from the order)"},    \
        {"--starts-at", CLI_OPT_STR, 0, 0, "start, RFC 3339 or a date (YYYY-MM-DD)"},                     \
        {"--ends-at", CLI_OPT_STR, 0, 0, "end, RFC 3339 or a date (that whole day, inclusive)"},          \
        {"--timezone", CLI_OPT_STR, 0, 0, "IANA time zone of the dates (Asia/Seoul)"},                    \
        LIMIT("--max-redemptions", "redemptions of the whole campaign (or unlimited)"),                   \
        LIMIT("--per-customer", "redemptions per customer (or unlimited)"),                               \
        LIMIT("--budget", "total discount the campaign may give, minor units (or unlimited)"),            \
        LIMIT("--max-issued", "codes the campaign may hold (or unlimited)"),                              \
        {"--min-order", CLI_OPT_INT, 0, CLI_MONEY_MAX, "minimum order amount, minor units"},             \
        {"--categories", CLI_OPT_STR, 0, 0, "only items of these categories count: a,b"},                 \
        {"--exclude-categories", CLI_OPT_STR, 0, 0, "items of these categories never count: c,d"},        \
        {"--segments", CLI_OPT_STR, 0, 0, "only customers of these segments: vip,new"},                   \
        {"--first-order-only", CLI_OPT_FLAG, 0, 0, "only a customer's first order"},                      \
        {"--validity-days", CLI_OPT_INT, 1, 3650, "days an issued code stays valid"},                     \
        {"--metadata", CLI_OPT_STR, 0, 0, "free key=value pairs: k=v,k2=v2"},                             \
        {"--from", CLI_OPT_STR, 0, 0, "JSON body from a file ('-': stdin); other flags override it"}

static const struct cli_opt CREATE_OPTS[] = {
    CAMPAIGN_OPTS,
    {"--draft", CLI_OPT_FLAG, 0, 0, "create it as a draft (activate with `campaign resume`)"},
    {0},
};

static const struct cli_opt UPDATE_OPTS[] = {
    CAMPAIGN_OPTS,
    {"--no-first-order-only", CLI_OPT_FLAG, 0, 0, "drop the first-order-only rule"},
    {0},
};

static const struct cli_opt LIST_OPTS[] = {
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

/* ---- building the body ----------------------------------------------------------- */

/* Reads a whole file ('-': stdin) into b. */
static bool read_all(const char *file, struct cli_buf *b)
{
    bool is_stdin = strcmp(file, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(file, "rb");
    if (!f)
        return false;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cli_buf_add(b, chunk, n);
    bool ok = !ferror(f);
    if (!is_stdin)
        fclose(f);
    if (!b->p)
        cli_buf_add(b, "", 0);
    return ok;
}

/* Checks "12", "12.5", "12.34" with 0 < p <= 100 and makes the JSON
 * number: an integer when whole. */
static json_t *parse_percent(const char *s)
{
    size_t i = 0, digits = 0, decimals = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, decimals++;
        if (decimals == 0)
            return NULL;
    }
    if (s[i] || digits == 0 || digits > 3 || decimals > 2)
        return NULL;
    double v = strtod(s, NULL);
    if (!(v > 0 && v <= 100))
        return NULL;
    long whole = strtol(s, NULL, 10);
    if (decimals == 0 || (double)whole == v)
        return json_integer(whole);
    return json_real(v);
}

/* "a,b, c" → ["a","b","c"]; "" → [] (clears the rule in an update). */
static json_t *split_list(const char *s)
{
    json_t *arr = json_array();
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n)
            json_array_append_new(arr, json_stringn(p, n));
        if (!end)
            break;
        p = end + 1;
    }
    return arr;
}

/* Returns the object member `key`, made when missing (limits, rules). */
static json_t *member_obj(json_t *body, const char *key)
{
    json_t *o = json_object_get(body, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(body, key, o);
    }
    return o;
}

static json_t *limit_json(const struct cli_got *g)
{
    return g->unlimited ? json_null() : json_integer(g->num);
}

/* Applies the flags onto `body` (empty, or what --from gave). `current`
 * is the stored campaign for an update that only moves the cap of the
 * percent discount; NULL otherwise. Returns CLI_OK or CLI_USAGE. */
static int apply_flags(const struct cli_args *a, json_t *body, bool create, const json_t *current)
{
    const char *s;
    const struct cli_got *g;
    if ((s = cli_arg_str(a, "--name")))
        json_object_set_new(body, "name", json_string(s));
    if ((s = cli_arg_str(a, "--currency"))) {
        char cur[4];
        if (strlen(s) != 3)
            return cli_usage_error(a, "--currency must be an ISO 4217 code of three letters, not '%s'", s);
        for (int i = 0; i < 3; i++) {
            char ch = s[i];
            if (ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 'a' + 'A');
            if (ch < 'A' || ch > 'Z')
                return cli_usage_error(a, "--currency must be an ISO 4217 code of three letters, not '%s'", s);
            cur[i] = ch;
        }
        cur[3] = '\0';
        json_object_set_new(body, "currency", json_string(cur));
    }

    /* The discount: exactly one kind; a new discount replaces the old whole. */
    const char *percent = cli_arg_str(a, "--percent");
    const struct cli_got *cap = cli_arg(a, "--max-amount"), *fixed = cli_arg(a, "--fixed"),
                         *points = cli_arg(a, "--points");
    int kinds = (percent != NULL) + (fixed != NULL) + (points != NULL);
    if (kinds > 1)
        return cli_usage_error(a, "give one discount: --percent, --fixed or --points");
    if (cap && (fixed || points))
        return cli_usage_error(a, "--max-amount caps a --percent discount only");
    if (percent) {
        json_t *p = parse_percent(percent);
        if (!p)
            return cli_usage_error(a, "--percent must be a number above 0 and at most 100 with at most two "
                                      "decimals, not '%s'", percent);
        json_t *d = json_pack("{s:s, s:o}", "type", "percent", "percent", p);
        if (cap)
            json_object_set_new(d, "max_amount", limit_json(cap));
        json_object_set_new(body, "discount", d);
    } else if (fixed) {
        json_object_set_new(body, "discount", json_pack("{s:s, s:I}", "type", "fixed", "amount",
                                                        (json_int_t)fixed->num));
    } else if (points) {
        json_object_set_new(body, "discount", json_pack("{s:s, s:I}", "type", "points", "points",
                                                        (json_int_t)points->num));
    } else if (cap) {
        /* Only the cap moves: keep the percent of the body or the campaign. */
        json_t *d = json_object_get(body, "discount");
        if (!json_is_object(d) && current)
            d = json_object_get(current, "discount");
        if (!json_is_object(d) || !json_is_string(json_object_get(d, "type")) ||
            strcmp(json_string_value(json_object_get(d, "type")), "percent") != 0)
            return cli_usage_error(a, create ? "--max-amount needs --percent"
                                             : "--max-amount caps a percent discount; this campaign has none");
        d = json_deep_copy(d);
        json_object_set_new(d, "max_amount", limit_json(cap));
        json_object_set_new(body, "discount", d);
    }

    if ((s = cli_arg_str(a, "--starts-at")))
        json_object_set_new(body, "starts_at", json_string(s));
    if ((s = cli_arg_str(a, "--ends-at")))
        json_object_set_new(body, "ends_at", json_string(s));
    if ((s = cli_arg_str(a, "--timezone")))
        json_object_set_new(body, "timezone", json_string(s));

    static const char *const limits[][2] = {{"--max-redemptions", "max_redemptions"},
                                            {"--per-customer", "per_customer"},
                                            {"--budget", "max_discount_total"},
                                            {"--max-issued", "max_issued"}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if ((g = cli_arg(a, limits[i][0])))
            json_object_set_new(member_obj(body, "limits"), limits[i][1], limit_json(g));

    if ((g = cli_arg(a, "--min-order")))
        json_object_set_new(member_obj(body, "rules"), "min_order_amount", json_integer(g->num));
    static const char *const lists[][2] = {{"--categories", "categories"},
                                           {"--exclude-categories", "exclude_categories"},
                                           {"--segments", "segments"}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if ((s = cli_arg_str(a, lists[i][0])))
            json_object_set_new(member_obj(body, "rules"), lists[i][1], split_list(s));
    bool first = cli_arg_flag(a, "--first-order-only"), not_first = cli_arg_flag(a, "--no-first-order-only");
    if (first && not_first)
        return cli_usage_error(a, "--first-order-only and --no-first-order-only contradict each other");
    if (first || not_first)
        json_object_set_new(member_obj(body, "rules"), "first_order_only", json_boolean(first));

    if ((g = cli_arg(a, "--validity-days")))
        json_object_set_new(body, "code_validity_days", json_integer(g->num));
    if ((s = cli_arg_str(a, "--metadata"))) {
        json_t *meta = member_obj(body, "metadata");
        json_t *pairs = split_list(s);
        size_t i;
        json_t *pair;
        json_array_foreach(pairs, i, pair)
        {
            const char *kv = json_string_value(pair), *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                json_decref(pairs);
                return cli_usage_error(a, "--metadata takes key=value pairs separated by commas, not '%s'", kv);
            }
            json_object_setn_new(meta, kv, (size_t)(eq - kv), json_string(eq + 1));
        }
        json_decref(pairs);
    }
    if (cli_arg_flag(a, "--draft"))
        json_object_set_new(body, "status", json_string("draft"));
    return CLI_OK;
}

/* True when some flag other than --from shapes the body. */
static bool has_flags(const struct cli_args *a)
{
    for (int i = 0; i < a->ngot; i++)
        if (strcmp(a->got[i].opt->name, "--from") != 0)
            return true;
    return false;
}

/* Loads --from: the raw text (sent as is when no flag changes it) and its
 * parse. Returns CLI_OK or CLI_USAGE. */
static int load_from(const struct cli_args *a, const char *file, struct cli_buf *raw, json_t **body)
{
    if (!read_all(file, raw))
        return cli_usage_error(a, "--from: cannot read %s", strcmp(file, "-") == 0 ? "standard input" : file);
    json_error_t err;
    *body = json_loadb(raw->p, raw->len, 0, &err);
    if (!*body)
        return cli_usage_error(a, "--from %s: line %d, column %d: %s", file, err.line, err.column, err.text);
    if (!json_is_object(*body)) {
        json_decref(*body);
        *body = NULL;
        return cli_usage_error(a, "--from %s: the campaign must be a JSON object", file);
    }
    return CLI_OK;
}

/* Sends the campaign body (the raw text when given) and prints the answer. */
static int send_campaign(struct cli *c, const char *method, const char *path, const json_t *body,
                         const char *raw)
{
    struct cli_answer ans;
    int rc = raw ? cli_call_text(c, method, path, raw, NULL, &ans) : cli_call(c, method, path, body, NULL, &ans);
    if (rc == CLI_OK && c->json)
        cli_print_json(ans.json);
    else if (rc == CLI_OK)
        cli_print_object(ans.json);
    cli_answer_free(&ans);
    return rc;
}

static int campaign_create(struct cli *c, const struct cli_args *a)
{
    struct cli_buf raw = {0};
    json_t *body = NULL;
    const char *from = cli_arg_str(a, "--from");
    int rc = from ? load_from(a, from, &raw, &body) : CLI_OK;
    if (rc != CLI_OK)
        goto out;
    if (!from) {
        body = json_object();
        if (!cli_arg(a, "--name"))
            rc = cli_usage_error(a, "--name is required");
        else if (!cli_arg(a, "--currency"))
            rc = cli_usage_error(a, "--currency is required");
        else if (!cli_arg(a, "--percent") && !cli_arg(a, "--fixed") && !cli_arg(a, "--points"))
            rc = cli_usage_error(a, "a discount is required: --percent, --fixed or --points");
        if (rc != CLI_OK)
            goto out;
    }
    if (cli_arg_flag(a, "--no-first-order-only")) {
        rc = cli_usage_error(a, "--no-first-order-only is for `campaign update`");
        goto out;
    }
    if ((rc = apply_flags(a, body, true, NULL)) != CLI_OK)
        goto out;
    rc = send_campaign(c, "POST", "/v1/campaigns", body, from && !has_flags(a) ? raw.p : NULL);
out:
    json_decref(body);
    cli_buf_free(&raw);
    return rc;
}

static void campaign_path(struct cli_buf *p, const char *id, const char *tail)
{
    cli_buf_add(p, "/v1/campaigns/", 14);
    cli_buf_escape(p, id);
    if (tail)
        cli_buf_printf(p, "/%s", tail);
}

static int campaign_update(struct cli *c, const struct cli_args *a)
{
    struct cli_buf raw = {0}, path = {0};
    json_t *body = NULL, *current = NULL;
    const char *from = cli_arg_str(a, "--from");
    int rc = from ? load_from(a, from, &raw, &body) : CLI_OK;
    if (rc != CLI_OK)
        goto out;
    if (!body)
        body = json_object();
    if (!from && a->ngot == 0) {
        rc = cli_usage_error(a, "nothing to update: give at least one option");
        goto out;
    }
    campaign_path(&path, a->pos[0], NULL);
    /* Moving only the cap needs the percent the campaign has now. */
    if (cli_arg(a, "--max-amount") && !cli_arg(a, "--percent") && !json_object_get(body, "discount")) {
        struct cli_answer ans;
        rc = cli_call(c, "GET", path.p, NULL, NULL, &ans);
        if (rc == CLI_OK)
            current = json_incref(ans.json);
        cli_answer_free(&ans);
        if (rc != CLI_OK)
            goto out;
    }
    if ((rc = apply_flags(a, body, false, current)) != CLI_OK)
        goto out;
    rc = send_campaign(c, "PATCH", path.p, body, from && !has_flags(a) ? raw.p : NULL);
out:
    json_decref(body);
    json_decref(current);
    cli_buf_free(&raw);
    cli_buf_free(&path);
    return rc;
}

/* ---- reading --------------------------------------------------------------------- */

static void discount_cell(const json_t *row, struct cli_buf *b)
{
    const json_t *d = json_object_get(row, "discount");
    const char *type = json_string_value(json_object_get(d, "type"));
    if (!type) {
        cli_buf_add(b, "-", 1);
        return;
    }
    if (strcmp(type, "percent") == 0) {
        cli_scalar_text(json_object_get(d, "percent"), b);
        cli_buf_add(b, "%", 1);
        const json_t *cap = json_object_get(d, "max_amount");
        if (json_is_integer(cap))
            cli_buf_printf(b, " (max %lld)", (long long)json_integer_value(cap));
    } else if (strcmp(type, "fixed") == 0) {
        cli_scalar_text(json_object_get(d, "amount"), b);
        cli_buf_add(b, " off", 4);
    } else if (strcmp(type, "points") == 0) {
        cli_scalar_text(json_object_get(d, "points"), b);
        cli_buf_add(b, " points", 7);
    } else {
        cli_scalar_text(d, b);
    }
}

static const struct cli_col CAMPAIGN_COLS[] = {
    {"ID", "id", NULL, false},
    {"NAME", "name", NULL, false},
    {"STATUS", "status", NULL, false},
    {"CURRENCY", "currency", NULL, false},
    {"DISCOUNT", NULL, discount_cell, false},
    {"STARTS_AT", "starts_at", NULL, false},
    {"ENDS_AT", "ends_at", NULL, false},
    {0},
};

static int campaign_list(struct cli *c, const struct cli_args *a)
{
    const struct cli_got *limit = cli_arg(a, "--limit");
    return cli_list(c, "/v1/campaigns", limit ? limit->num : 0, cli_arg_flag(a, "--all"), CAMPAIGN_COLS);
}

/* GET or POST of /v1/campaigns/{id}[/tail], the answer printed whole. */
static int campaign_simple(struct cli *c, const struct cli_args *a, const char *method, const char *tail)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    campaign_path(&path, a->pos[0], tail);
    int rc = cli_call(c, method, path.p, NULL, NULL, &ans);
    if (rc == CLI_OK && c->json) {
        cli_print_json(ans.json);
    } else if (rc == CLI_OK && strcmp(method, "POST") == 0) {
        /* A state change: one line is enough. */
        const char *id = json_string_value(json_object_get(ans.json, "id"));
        const char *status = json_string_value(json_object_get(ans.json, "status"));
        printf("campaign %s is now %s\n", id ? id : a->pos[0], status ? status : tail);
    } else if (rc == CLI_OK) {
        cli_print_object(ans.json);
    }
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

static int campaign_get(struct cli *c, const struct cli_args *a) { return campaign_simple(c, a, "GET", NULL); }
static int campaign_pause(struct cli *c, const struct cli_args *a) { return campaign_simple(c, a, "POST", "pause"); }
static int campaign_resume(struct cli *c, const struct cli_args *a) { return campaign_simple(c, a, "POST", "resume"); }
static int campaign_end(struct cli *c, const struct cli_args *a) { return campaign_simple(c, a, "POST", "end"); }
static int campaign_stats(struct cli *c, const struct cli_args *a) { return campaign_simple(c, a, "GET", "stats"); }

#define CREATE_SYNOPSIS                                                                                   \
    "--name N --currency C (--percent P [--max-amount A] | --fixed A | --points N) [--starts-at T] "      \
    "[--ends-at T] [--timezone Z] [--max-redemptions N] [--per-customer N] [--budget N] [--max-issued N] " \
    "[--min-order N] [--categories a,b] [--exclude-categories c] [--segments vip,new] "                   \
    "[--first-order-only] [--validity-days N] [--draft] [--metadata k=v,...] | --from FILE.json"

const struct cli_cmd cli_campaign_cmds[] = {
    {"campaign", "create", "", 0, CREATE_SYNOPSIS, "creates a campaign (POST /v1/campaigns)", CREATE_OPTS,
     campaign_create},
    {"campaign", "list", "", 0, "[--limit N] [--all]", "lists campaigns", LIST_OPTS, campaign_list},
    {"campaign", "get", "ID", 1, "", "shows one campaign", NULL, campaign_get},
    {"campaign", "update", "ID", 1, "[options of create] [--no-first-order-only] | --from FILE.json",
     "changes only the given fields (PATCH); a discount flag replaces the whole discount", UPDATE_OPTS, campaign_update},
    {"campaign", "pause", "ID", 1, "", "pauses a campaign: its codes stop validating", NULL, campaign_pause},
    {"campaign", "resume", "ID", 1, "", "resumes a paused campaign or activates a draft", NULL,
     campaign_resume},
    {"campaign", "end", "ID", 1, "", "ends a campaign for good", NULL, campaign_end},
    {"campaign", "stats", "ID", 1, "", "issued, redeemed, discount total, validations by reason...", NULL,
     campaign_stats},
    {0},
};
