/* cli_notify.c — `promo template ...`, `promo message ...` and
 * `promo webhook ...`: templates, the outbox and webhook subscriptions
 * (docs/templates.md, docs/webhooks.md). Bodies of templates come from
 * files, since they span lines; the server checks every variable. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

static const struct cli_opt LIST_OPTS[] = {
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

/* Reads a whole file ('-': stdin) into b; false when it cannot be read. */
static bool slurp(const char *file, struct cli_buf *b)
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

/* Sets body[key] to the text of a file option; CLI_OK or a usage error. */
static int file_member(const struct cli_args *a, const char *opt, json_t *body, const char *key)
{
    const char *file = cli_arg_str(a, opt);
    if (!file)
        return CLI_OK;
    struct cli_buf b = {0};
    if (!slurp(file, &b)) {
        cli_buf_free(&b);
        return cli_usage_error(a, "%s: cannot read %s", opt, file);
    }
    json_t *s = json_stringn(b.p, b.len);
    cli_buf_free(&b);
    if (!s)
        return cli_usage_error(a, "%s: %s is not UTF-8 text", opt, file);
    json_object_set_new(body, key, s);
    return CLI_OK;
}

/* A JSON object from a file option, or NULL with *rc set when it is bad. */
static json_t *json_file(const struct cli_args *a, const char *opt, int *rc)
{
    const char *file = cli_arg_str(a, opt);
    *rc = CLI_OK;
    if (!file)
        return NULL;
    json_error_t e;
    json_t *v = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &e) : json_load_file(file, 0, &e);
    if (!json_is_object(v)) {
        json_decref(v);
        *rc = cli_usage_error(a, "%s: %s is not a JSON object (%s)", opt, file, e.text);
    }
    return v;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

/* Sends body to path and prints the answer (whole with --json). */
static int send_print(struct cli *c, const char *method, const char *path, json_t *body)
{
    struct cli_answer ans;
    int rc = cli_call(c, method, path, body, NULL, &ans);
    if (rc == CLI_OK && c->json)
        cli_print_json(ans.json);
    else if (rc == CLI_OK)
        cli_print_object(ans.json);
    cli_answer_free(&ans);
    return rc;
}

/* METHOD /v1/<coll>/<id>[/<tail>] without a body, printed. */
static int simple(struct cli *c, const char *method, const char *coll, const char *id, const char *tail)
{
    struct cli_buf p = {0};
    cli_buf_printf(&p, "/v1/%s/", coll);
    cli_buf_escape(&p, id);
    if (tail)
        cli_buf_printf(&p, "/%s", tail);
    int rc = send_print(c, method, p.p, NULL);
    cli_buf_free(&p);
    return rc;
}

static int list(struct cli *c, const struct cli_args *a, const char *path, const struct cli_col *cols)
{
    const struct cli_got *limit = cli_arg(a, "--limit");
    return cli_list(c, path, limit ? limit->num : 0, cli_arg_flag(a, "--all"), cols);
}

/* ---- templates -------------------------------------------------------------------- */

static const struct cli_opt TPL_PUT_OPTS[] = {
    {"--id", CLI_OPT_STR, 0, 0, "replace this template (PUT); without it a new one is made"},
    {"--name", CLI_OPT_STR, 0, 0, "template name"},
    {"--subject", CLI_OPT_STR, 0, 0, "e-mail subject (a template: {{customer.name}}...)"},
    {"--text-file", CLI_OPT_STR, 0, 0, "the text body from a file ('-': stdin)"},
    {"--html-file", CLI_OPT_STR, 0, 0, "the HTML body from a file"},
    {0},
};

static int template_put(struct cli *c, const struct cli_args *a)
{
    json_t *body = json_object();
    set_str(body, "name", cli_arg_str(a, "--name"));
    set_str(body, "subject", cli_arg_str(a, "--subject"));
    int rc = file_member(a, "--text-file", body, "body_text");
    if (rc == CLI_OK)
        rc = file_member(a, "--html-file", body, "body_html");
    if (rc == CLI_OK) {
        const char *id = cli_arg_str(a, "--id");
        struct cli_buf p = {0};
        cli_buf_printf(&p, "/v1/templates");
        if (id) {
            cli_buf_add(&p, "/", 1);
            cli_buf_escape(&p, id);
        }
        rc = send_print(c, id ? "PUT" : "POST", p.p, body);
        cli_buf_free(&p);
    }
    json_decref(body);
    return rc;
}

static const struct cli_col TPL_COLS[] = {
    {"ID", "id", NULL, false},
    {"NAME", "name", NULL, false},
    {"SUBJECT", "subject", NULL, false},
    {"UPDATED_AT", "updated_at", NULL, false},
    {0},
};

static int template_list(struct cli *c, const struct cli_args *a) { return list(c, a, "/v1/templates", TPL_COLS); }
static int template_get(struct cli *c, const struct cli_args *a) { return simple(c, "GET", "templates", a->pos[0], NULL); }
static int template_delete(struct cli *c, const struct cli_args *a)
{
    return simple(c, "DELETE", "templates", a->pos[0], NULL);
}

static const struct cli_opt TPL_PREVIEW_OPTS[] = {
    {"--data", CLI_OPT_STR, 0, 0, "the values, a JSON object in a file (default: a sample customer)"},
    {0},
};

static int template_preview(struct cli *c, const struct cli_args *a)
{
    int rc;
    json_t *data = json_file(a, "--data", &rc);
    if (rc != CLI_OK)
        return rc;
    json_t *body = json_object();
    if (data)
        json_object_set_new(body, "data", data);
    struct cli_buf p = {0};
    cli_buf_printf(&p, "/v1/templates/");
    cli_buf_escape(&p, a->pos[0]);
    cli_buf_printf(&p, "/preview");
    rc = send_print(c, "POST", p.p, body);
    cli_buf_free(&p);
    json_decref(body);
    return rc;
}

/* ---- messages --------------------------------------------------------------------- */

static const struct cli_opt MSG_SEND_OPTS[] = {
    {"--channel", CLI_OPT_STR, 0, 0, "email or webhook (default email)"},
    {"--template", CLI_OPT_STR, 0, 0, "template id"},
    {"--subject", CLI_OPT_STR, 0, 0, "inline subject (instead of --template)"},
    {"--text-file", CLI_OPT_STR, 0, 0, "inline text body from a file"},
    {"--html-file", CLI_OPT_STR, 0, 0, "inline HTML body from a file"},
    {"--to", CLI_OPT_STR, 0, 0, "the recipient's e-mail address"},
    {"--name", CLI_OPT_STR, 0, 0, "the recipient's name"},
    {"--locale", CLI_OPT_STR, 0, 0, "ko, en... (formats of money and dates)"},
    {"--timezone", CLI_OPT_STR, 0, 0, "IANA zone of the dates (Asia/Seoul)"},
    {"--customer", CLI_OPT_STR, 0, 0, "the customer's id"},
    {"--webhook", CLI_OPT_STR, 0, 0, "webhook id (channel webhook)"},
    {"--event-type", CLI_OPT_STR, 0, 0, "the type the webhook receives (default message)"},
    {"--data", CLI_OPT_STR, 0, 0, "the template's values, a JSON object in a file"},
    {0},
};

static int message_send(struct cli *c, const struct cli_args *a)
{
    int rc;
    json_t *data = json_file(a, "--data", &rc);
    if (rc != CLI_OK)
        return rc;
    json_t *body = json_object(), *cust = json_object();
    set_str(body, "channel", cli_arg_str(a, "--channel") ? cli_arg_str(a, "--channel") : "email");
    set_str(body, "template_id", cli_arg_str(a, "--template"));
    set_str(body, "subject", cli_arg_str(a, "--subject"));
    set_str(body, "webhook_id", cli_arg_str(a, "--webhook"));
    set_str(body, "event_type", cli_arg_str(a, "--event-type"));
    set_str(cust, "email", cli_arg_str(a, "--to"));
    set_str(cust, "name", cli_arg_str(a, "--name"));
    set_str(cust, "locale", cli_arg_str(a, "--locale"));
    set_str(cust, "timezone", cli_arg_str(a, "--timezone"));
    set_str(cust, "id", cli_arg_str(a, "--customer"));
    if (json_object_size(cust))
        json_object_set(body, "customer", cust);
    if (data)
        json_object_set_new(body, "data", data);
    rc = file_member(a, "--text-file", body, "body_text");
    if (rc == CLI_OK)
        rc = file_member(a, "--html-file", body, "body_html");
    if (rc == CLI_OK)
        rc = send_print(c, "POST", "/v1/messages", body);
    json_decref(cust);
    json_decref(body);
    return rc;
}

static const struct cli_opt MSG_LIST_OPTS[] = {
    {"--state", CLI_OPT_STR, 0, 0, "queued, sending, sent or dead"},
    {"--channel", CLI_OPT_STR, 0, 0, "email or webhook"},
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

static const struct cli_col MSG_COLS[] = {
    {"ID", "id", NULL, false},
    {"CHANNEL", "channel", NULL, false},
    {"STATE", "state", NULL, false},
    {"ATTEMPTS", "attempts", NULL, true},
    {"RECIPIENT", "recipient", NULL, false},
    {"EVENT", "event_type", NULL, false},
    {"LAST_ERROR", "last_error", NULL, false},
    {0},
};

static int message_list(struct cli *c, const struct cli_args *a)
{
    struct cli_buf p = {0};
    cli_buf_printf(&p, "/v1/messages?");
    const char *state = cli_arg_str(a, "--state"), *channel = cli_arg_str(a, "--channel");
    if (state) {
        cli_buf_printf(&p, "state=");
        cli_buf_escape(&p, state);
        cli_buf_add(&p, "&", 1);
    }
    if (channel) {
        cli_buf_printf(&p, "channel=");
        cli_buf_escape(&p, channel);
    }
    int rc = list(c, a, p.p, MSG_COLS);
    cli_buf_free(&p);
    return rc;
}

static const struct cli_col ATTEMPT_COLS[] = {
    {"N", "n", NULL, true},
    {"STARTED_AT", "started_at", NULL, false},
    {"MS", "duration_ms", NULL, true},
    {"OK", "ok", NULL, false},
    {"STATUS", "status", NULL, true},
    {"ERROR", "error", NULL, false},
    {0},
};

static int message_attempts(struct cli *c, const struct cli_args *a)
{
    struct cli_buf p = {0};
    cli_buf_printf(&p, "/v1/messages/");
    cli_buf_escape(&p, a->pos[0]);
    cli_buf_printf(&p, "/attempts");
    struct cli_answer ans;
    int rc = cli_call(c, "GET", p.p, NULL, NULL, &ans);
    if (rc == CLI_OK && c->json)
        cli_print_json(ans.json);
    else if (rc == CLI_OK)
        cli_print_table(json_object_get(ans.json, "data"), ATTEMPT_COLS, 0);
    cli_answer_free(&ans);
    cli_buf_free(&p);
    return rc;
}

static int message_get(struct cli *c, const struct cli_args *a) { return simple(c, "GET", "messages", a->pos[0], NULL); }
static int message_retry(struct cli *c, const struct cli_args *a)
{
    return simple(c, "POST", "messages", a->pos[0], "retry");
}

/* ---- webhooks ---------------------------------------------------------------------- */

static const struct cli_opt HOOK_CREATE_OPTS[] = {
    {"--url", CLI_OPT_STR, 0, 0, "http(s) URL that receives the signed POSTs"},
    {"--events", CLI_OPT_STR, 0, 0, "event types, comma separated, or '*' for all"},
    {"--description", CLI_OPT_STR, 0, 0, "what it is for"},
    {0},
};

static int webhook_create(struct cli *c, const struct cli_args *a)
{
    json_t *body = json_object();
    set_str(body, "url", cli_arg_str(a, "--url"));
    set_str(body, "description", cli_arg_str(a, "--description"));
    const char *ev = cli_arg_str(a, "--events");
    if (ev) {
        json_t *arr = json_array();
        const char *p = ev;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            if (n)
                json_array_append_new(arr, json_stringn(p, n));
            p += n + (comma ? 1 : 0);
        }
        json_object_set_new(body, "event_types", arr);
    }
    int rc = send_print(c, "POST", "/v1/webhooks", body);
    json_decref(body);
    if (rc == CLI_OK && !c->json)
        fprintf(stderr, "promo: the secret is shown only now: keep it where the receiver verifies signatures\n");
    return rc;
}

static const struct cli_col HOOK_COLS[] = {
    {"ID", "id", NULL, false},
    {"URL", "url", NULL, false},
    {"EVENT_TYPES", "event_types", NULL, false},
    {"CREATED_AT", "created_at", NULL, false},
    {0},
};

static int webhook_list(struct cli *c, const struct cli_args *a) { return list(c, a, "/v1/webhooks", HOOK_COLS); }
static int webhook_delete(struct cli *c, const struct cli_args *a)
{
    return simple(c, "DELETE", "webhooks", a->pos[0], NULL);
}

const struct cli_cmd cli_notify_cmds[] = {
    {"template", "list", "", 0, "[--limit N] [--all]", "lists templates", LIST_OPTS, template_list},
    {"template", "get", "ID", 1, "", "shows one template and the variables it uses", NULL, template_get},
    {"template", "put", "", 0, "[--id ID] --name N [--subject S] [--text-file F] [--html-file F]",
     "makes a template, or replaces one with --id; unknown variables are refused", TPL_PUT_OPTS, template_put},
    {"template", "preview", "ID", 1, "[--data FILE.json]", "renders a template with values (or a sample)",
     TPL_PREVIEW_OPTS, template_preview},
    {"template", "delete", "ID", 1, "", "deletes a template", NULL, template_delete},
    {"message", "send", "", 0,
     "[--channel email|webhook] (--template ID | --subject S --text-file F [--html-file F]) --to EMAIL "
     "[--name N] [--locale L] [--timezone Z] [--customer ID] [--webhook ID] [--event-type T] [--data FILE.json]",
     "queues a message in the outbox (sent by the delivery workers)", MSG_SEND_OPTS, message_send},
    {"message", "list", "", 0, "[--state S] [--channel C] [--limit N] [--all]",
     "lists the outbox with states and attempts", MSG_LIST_OPTS, message_list},
    {"message", "get", "ID", 1, "", "shows one message", NULL, message_get},
    {"message", "attempts", "ID", 1, "", "every attempt of a message: when, how long, the answer", NULL,
     message_attempts},
    {"message", "retry", "ID", 1, "", "queues a dead message again", NULL, message_retry},
    {"webhook", "create", "", 0, "--url URL --events a,b|'*' [--description D]",
     "subscribes a URL to event types; prints the signing secret once", HOOK_CREATE_OPTS, webhook_create},
    {"webhook", "list", "", 0, "[--limit N] [--all]", "lists webhook subscriptions", LIST_OPTS, webhook_list},
    {"webhook", "delete", "ID", 1, "", "ends a subscription", NULL, webhook_delete},
    {0},
};
