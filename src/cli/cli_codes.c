/* cli_codes.c — `promo codes ...` and `promo jobs get`: generation (waiting
 * on the job with a progress bar when the server runs it in the
 * background), chosen codes, CSV import and export (both streamed), lists,
 * lookups, disabling and issuing a code to a customer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_int.h"

#define COUNT_MAX 10000000LL /* the server's largest generation */
#define CODE_CHARS_MAX 64
#define POLL_MS 200

static const struct cli_opt GENERATE_OPTS[] = {
    {"--count", CLI_OPT_INT, 1, COUNT_MAX, "how many codes"},
    {"--pattern", CLI_OPT_STR, 0, 0, "shape, '#' a random character: FALL-####-####"},
    {"--length", CLI_OPT_INT, 1, CODE_CHARS_MAX, "random characters (instead of --pattern)"},
    {"--prefix", CLI_OPT_STR, 0, 0, "text before the random part (with --length)"},
    {"--postfix", CLI_OPT_STR, 0, 0, "text after the random part (with --length)"},
    {"--charset", CLI_OPT_STR, 0, 0, "characters to draw from (default: A-Z 2-9 without 0 O 1 I L)"},
    {"--max-uses", CLI_OPT_INT_UNLIM, 1, CLI_MONEY_MAX, "uses of each code (default 1) or unlimited"},
    {0},
};

static const struct cli_opt ADD_OPTS[] = {
    {"--max-uses", CLI_OPT_INT_UNLIM, 1, CLI_MONEY_MAX, "uses of the code (default 1) or unlimited"},
    {"--customer", CLI_OPT_STR, 0, 0, "assign the code to this customer"},
    {"--expires-at", CLI_OPT_STR, 0, 0, "when the code stops being valid (RFC 3339)"},
    {0},
};

static const struct cli_opt EXPORT_OPTS[] = {
    {"--state", CLI_OPT_STR, 0, 0, "only codes in this state: active, redeemed, disabled, expired"},
    {"--output", CLI_OPT_STR, 0, 0, "write to FILE instead of standard output (also -o FILE)"},
    {0},
};

static const struct cli_opt LIST_OPTS[] = {
    {"--state", CLI_OPT_STR, 0, 0, "only codes in this state: active, redeemed, disabled, expired"},
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

static const struct cli_opt ISSUE_OPTS[] = {
    {"--customer", CLI_OPT_STR, 0, 0, "the customer who gets the code (required)"},
    {"--channel", CLI_OPT_STR, 0, 0, "how it reaches them (email, sms, kakao...), for the stats"},
    {0},
};

static void campaign_codes_path(struct cli_buf *p, const char *campaign, const char *tail)
{
    cli_buf_add(p, "/v1/campaigns/", 14);
    cli_buf_escape(p, campaign);
    cli_buf_printf(p, "/%s", tail);
}

static void code_path(struct cli_buf *p, const char *code, const char *tail)
{
    cli_buf_add(p, "/v1/codes/", 10);
    cli_buf_escape(p, code);
    if (tail)
        cli_buf_printf(p, "/%s", tail);
}

static json_t *max_uses_json(const struct cli_got *g)
{
    return g->unlimited ? json_null() : json_integer(g->num);
}

/* Prints a single-object answer: JSON or key: value lines. */
static void print_answer(struct cli *c, const json_t *v)
{
    if (c->json)
        cli_print_json(v);
    else
        cli_print_object(v);
}

/* POSTs body (taken: freed here) to /v1/campaigns/{campaign}/{tail} and
 * prints the answer. */
static int post_to_campaign(struct cli *c, const char *campaign, const char *tail, json_t *body)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    campaign_codes_path(&path, campaign, tail);
    int rc = cli_call(c, "POST", path.p, body, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    json_decref(body);
    cli_buf_free(&path);
    cli_answer_free(&ans);
    return rc;
}

static bool state_ok(const char *s)
{
    return !s || strcmp(s, "active") == 0 || strcmp(s, "redeemed") == 0 || strcmp(s, "disabled") == 0 ||
           strcmp(s, "expired") == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- generate -------------------------------------------------------------------- */

/* Follows a generation job until it is done or failed, polling every
 * 200 ms; draws the progress bar on a terminal. Takes a reference to job. */
static int wait_job(struct cli *c, json_t *job)
{
    const char *id = json_string_value(json_object_get(job, "id"));
    if (!id) {
        fputs("promo: the server answered 202 without a job id\n", stderr);
        json_decref(job);
        return CLI_REFUSED;
    }
    char *job_id = strdup(id);
    struct cli_buf path = {0};
    cli_buf_add(&path, "/v1/jobs/", 9);
    cli_buf_escape(&path, job_id);
    bool bar = c->tty && !c->json, drawn = false;
    int rc = CLI_OK;
    if (bar) /* Ctrl-C stops the waiting, not the job */
        fprintf(stderr, "job %s (`promo jobs get %s` follows it)\n", job_id, job_id);
    for (;;) {
        const char *status = json_string_value(json_object_get(job, "status"));
        long long done = json_integer_value(json_object_get(job, "done"));
        long long total = json_integer_value(json_object_get(job, "total"));
        if (bar && total > 0) {
            char d[32], t[32];
            snprintf(d, sizeof d, "%lld", done);
            snprintf(t, sizeof t, "%lld", total);
            cli_progress(d, t, (double)done / (double)total);
            drawn = true;
        }
        if (status && strcmp(status, "done") == 0) {
            if (drawn)
                cli_progress_end();
            if (c->json)
                cli_print_json(job);
            else
                printf("generated %lld code%s\n", done, done == 1 ? "" : "s");
            break;
        }
        if (!status || strcmp(status, "running") != 0) {
            if (drawn)
                cli_progress_end();
            if (c->json)
                cli_print_json(job);
            const json_t *err = json_object_get(job, "error");
            const char *why = json_is_string(err) ? json_string_value(err)
                                                  : json_string_value(json_object_get(err, "message"));
            fprintf(stderr, "promo: job %s %s after %lld of %lld codes%s%s\n", job_id,
                    status ? status : "has no status", done, total, why ? ": " : "", why ? why : "");
            rc = CLI_REFUSED;
            break;
        }
        sleep_ms(POLL_MS);
        struct cli_answer ans;
        rc = cli_call(c, "GET", path.p, NULL, NULL, &ans);
        if (rc != CLI_OK) {
            if (drawn)
                cli_progress_end();
            cli_answer_free(&ans);
            break;
        }
        json_decref(job);
        job = json_incref(ans.json);
        cli_answer_free(&ans);
    }
    json_decref(job);
    cli_buf_free(&path);
    free(job_id);
    return rc;
}

static int codes_generate(struct cli *c, const struct cli_args *a)
{
    const struct cli_got *count = cli_arg(a, "--count"), *length = cli_arg(a, "--length"),
                         *uses = cli_arg(a, "--max-uses");
    const char *pattern = cli_arg_str(a, "--pattern"), *prefix = cli_arg_str(a, "--prefix"),
               *postfix = cli_arg_str(a, "--postfix"), *charset = cli_arg_str(a, "--charset");
    if (!count)
        return cli_usage_error(a, "--count is required");
    if (pattern && (length || prefix || postfix))
        return cli_usage_error(a, "give --pattern, or --length with --prefix/--postfix, not both");
    if (pattern && !*pattern)
        return cli_usage_error(a, "--pattern is empty");
    if (charset && !*charset)
        return cli_usage_error(a, "--charset is empty");

    json_t *body = json_pack("{s:I}", "count", (json_int_t)count->num);
    if (pattern)
        json_object_set_new(body, "pattern", json_string(pattern));
    if (length)
        json_object_set_new(body, "length", json_integer(length->num));
    if (prefix)
        json_object_set_new(body, "prefix", json_string(prefix));
    if (postfix)
        json_object_set_new(body, "postfix", json_string(postfix));
    if (charset)
        json_object_set_new(body, "charset", json_string(charset));
    if (uses)
        json_object_set_new(body, "max_uses", max_uses_json(uses));

    struct cli_buf path = {0};
    struct cli_answer ans;
    campaign_codes_path(&path, a->pos[0], "codes");
    int rc = cli_call(c, "POST", path.p, body, NULL, &ans);
    json_decref(body);
    cli_buf_free(&path);
    if (rc == CLI_OK && ans.status == 202) {
        rc = wait_job(c, json_incref(ans.json));
    } else if (rc == CLI_OK && c->json) {
        cli_print_json(ans.json);
    } else if (rc == CLI_OK) {
        long long n = json_integer_value(json_object_get(ans.json, "generated"));
        printf("generated %lld code%s\n", n, n == 1 ? "" : "s");
    }
    cli_answer_free(&ans);
    return rc;
}

/* ---- one chosen code ------------------------------------------------------------- */

static int codes_add(struct cli *c, const struct cli_args *a)
{
    const struct cli_got *uses = cli_arg(a, "--max-uses");
    const char *customer = cli_arg_str(a, "--customer"), *expires = cli_arg_str(a, "--expires-at");
    json_t *body = json_pack("{s:s}", "code", a->pos[1]);
    if (uses)
        json_object_set_new(body, "max_uses", max_uses_json(uses));
    if (customer)
        json_object_set_new(body, "customer_id", json_string(customer));
    if (expires)
        json_object_set_new(body, "expires_at", json_string(expires));
    return post_to_campaign(c, a->pos[0], "codes", body);
}

/* ---- import ---------------------------------------------------------------------- */

static int codes_import(struct cli *c, const struct cli_args *a)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    campaign_codes_path(&path, a->pos[0], "codes/import");
    int rc = cli_upload(c, path.p, a->pos[1], "text/csv; charset=utf-8", &ans);
    cli_buf_free(&path);
    if (rc == CLI_OK && c->json) {
        cli_print_json(ans.json);
    } else if (rc == CLI_OK) {
        const json_t *rejected = json_object_get(ans.json, "rejected");
        long long n = json_integer_value(json_object_get(ans.json, "imported"));
        printf("imported %lld code%s\n", n, n == 1 ? "" : "s");
        size_t nrej = json_array_size(rejected);
        if (nrej)
            printf("rejected %zu line%s:\n", nrej, nrej == 1 ? "" : "s");
        size_t i;
        const json_t *r;
        json_array_foreach(rejected, i, r)
        {
            struct cli_buf code = {0}, why = {0};
            const json_t *k = json_object_get(r, "code");
            if (json_is_string(k) && *json_string_value(k))
                cli_scalar_text(k, &code);
            cli_scalar_text(json_object_get(r, "reason") ? json_object_get(r, "reason") : json_null(), &why);
            printf("  line %lld%s%s: %s\n", (long long)json_integer_value(json_object_get(r, "line")),
                   code.p ? " " : "", code.p ? code.p : "", why.p);
            cli_buf_free(&code);
            cli_buf_free(&why);
        }
    }
    cli_answer_free(&ans);
    return rc;
}

/* ---- export ---------------------------------------------------------------------- */

struct export_out {
    const char *file; /* NULL: stdout */
    FILE *f;
};

static FILE *export_open(void *ctx)
{
    struct export_out *x = ctx;
    if (!x->file)
        return x->f = stdout;
    if (!(x->f = fopen(x->file, "wb")))
        fprintf(stderr, "promo: cannot write %s: %s\n", x->file, strerror(errno));
    return x->f;
}

static int codes_export(struct cli *c, const struct cli_args *a)
{
    const char *state = cli_arg_str(a, "--state");
    if (!state_ok(state))
        return cli_usage_error(a, "--state must be active, redeemed, disabled or expired, not '%s'", state);
    struct export_out x = {.file = cli_arg_str(a, "--output")};
    if (x.file && strcmp(x.file, "-") == 0)
        x.file = NULL;
    struct cli_buf path = {0};
    campaign_codes_path(&path, a->pos[0], "codes?format=csv");
    if (state) {
        cli_buf_add(&path, "&state=", 7);
        cli_buf_escape(&path, state);
    }
    int rc = cli_download(c, path.p, export_open, &x);
    cli_buf_free(&path);
    if (x.f && x.f != stdout) {
        if (fclose(x.f) != 0 && rc == CLI_OK) {
            fprintf(stderr, "promo: cannot write %s: %s\n", x.file, strerror(errno));
            rc = CLI_REFUSED;
        }
        if (rc != CLI_OK)
            remove(x.file); /* never leave half an export behind */
    }
    return rc;
}

/* ---- list, get, disable, issue --------------------------------------------------- */

static void uses_cell(const json_t *row, struct cli_buf *b)
{
    cli_scalar_text(json_object_get(row, "uses") ? json_object_get(row, "uses") : json_null(), b);
    cli_buf_add(b, "/", 1);
    const json_t *max = json_object_get(row, "max_uses");
    if (json_is_integer(max))
        cli_scalar_text(max, b);
    else
        cli_buf_add(b, "unlimited", 9);
}

static const struct cli_col CODE_COLS[] = {
    {"CODE", "code", NULL, false},
    {"STATE", "state", NULL, false},
    {"USES", NULL, uses_cell, true},
    {"CUSTOMER", "customer_id", NULL, false},
    {"ISSUED_AT", "issued_at", NULL, false},
    {"EXPIRES_AT", "expires_at", NULL, false},
    {0},
};

static int codes_list(struct cli *c, const struct cli_args *a)
{
    const char *state = cli_arg_str(a, "--state");
    const struct cli_got *limit = cli_arg(a, "--limit");
    if (!state_ok(state))
        return cli_usage_error(a, "--state must be active, redeemed, disabled or expired, not '%s'", state);
    struct cli_buf path = {0};
    campaign_codes_path(&path, a->pos[0], "codes");
    if (state) {
        cli_buf_add(&path, "?state=", 7);
        cli_buf_escape(&path, state);
    }
    int rc = cli_list(c, path.p, limit ? limit->num : 0, cli_arg_flag(a, "--all"), CODE_COLS);
    cli_buf_free(&path);
    return rc;
}

static int code_simple(struct cli *c, const struct cli_args *a, const char *method, const char *tail)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    code_path(&path, a->pos[0], tail);
    int rc = cli_call(c, method, path.p, NULL, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

static int codes_get(struct cli *c, const struct cli_args *a) { return code_simple(c, a, "GET", NULL); }
static int codes_disable(struct cli *c, const struct cli_args *a) { return code_simple(c, a, "POST", "disable"); }

static int codes_issue(struct cli *c, const struct cli_args *a)
{
    const char *customer = cli_arg_str(a, "--customer"), *channel = cli_arg_str(a, "--channel");
    if (!customer)
        return cli_usage_error(a, "--customer is required");
    json_t *body = json_pack("{s:s}", "customer_id", customer);
    if (channel)
        json_object_set_new(body, "channel", json_string(channel));
    return post_to_campaign(c, a->pos[0], "issue", body);
}

static int jobs_get(struct cli *c, const struct cli_args *a)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    cli_buf_add(&path, "/v1/jobs/", 9);
    cli_buf_escape(&path, a->pos[0]);
    int rc = cli_call(c, "GET", path.p, NULL, NULL, &ans);
    if (rc == CLI_OK)
        print_answer(c, ans.json);
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

const struct cli_cmd cli_codes_cmds[] = {
    {"codes", "generate", "CAMPAIGN", 1,
     "--count N [--pattern P | --length L [--prefix X] [--postfix Y]] [--charset C] [--max-uses N|unlimited]",
     "generates random codes; waits for a background job with a progress bar", GENERATE_OPTS,
     codes_generate},
    {"codes", "add", "CAMPAIGN CODE", 2, "[--max-uses N|unlimited] [--customer ID] [--expires-at T]",
     "adds one chosen code (WELCOME10)", ADD_OPTS, codes_add},
    {"codes", "import", "CAMPAIGN FILE.csv", 2, "",
     "imports codes from CSV ('-': stdin; header code,customer_id,max_uses,expires_at optional)", NULL,
     codes_import},
    {"codes", "export", "CAMPAIGN", 1, "[--state S] [-o FILE]", "writes the codes as CSV, streamed",
     EXPORT_OPTS, codes_export},
    {"codes", "list", "CAMPAIGN", 1, "[--state S] [--limit N] [--all]", "lists the codes of a campaign",
     LIST_OPTS, codes_list},
    {"codes", "get", "CODE", 1, "", "shows one code: state, uses, customer, expiry", NULL, codes_get},
    {"codes", "disable", "CODE", 1, "", "disables a code for good", NULL, codes_disable},
    {"codes", "issue", "CAMPAIGN", 1, "--customer ID [--channel C]", "gives a customer a code of the campaign",
     ISSUE_OPTS, codes_issue},
    {"jobs", "get", "ID", 1, "", "shows a background job (code generation)", NULL, jobs_get},
    {0},
};
