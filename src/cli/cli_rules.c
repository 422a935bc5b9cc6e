/* cli_rules.c — `promo rule ...` and `promo reminders ...`: automation
 * rules and campaigns' expiry reminders (docs/automation.md). A rule is a
 * JSON document (trigger, conditions, steps, cancel_on), so `rule put`
 * reads it from a file; the server checks it and names the bad field. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

static const struct cli_opt RULE_LIST_OPTS[] = {
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

static const struct cli_opt RULE_PUT_OPTS[] = {
    {"--id", CLI_OPT_STR, 0, 0, "replace this rule (PUT); without it a new one is made"},
    {"--file", CLI_OPT_STR, 0, 0, "the rule, a JSON object in a file ('-': stdin)"},
    {0},
};

static const struct cli_opt REM_SET_OPTS[] = {
    {"--offsets", CLI_OPT_STR, 0, 0, "days before the expiry, comma separated (default 3,1,0)"},
    {"--template", CLI_OPT_STR, 0, 0, "template id of the reminder"},
    {"--channel", CLI_OPT_STR, 0, 0, "email or webhook (default email)"},
    {"--webhook", CLI_OPT_STR, 0, 0, "webhook id (channel webhook)"},
    {0},
};

/* Sends body (may be NULL) and prints the answer (whole with --json). */
static int send_print(struct cli *c, const char *method, const char *path, const json_t *body)
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

/* METHOD /v1/<head><id><tail>, printed. */
static int on_path(struct cli *c, const char *method, const char *head, const char *id, const char *tail,
                   const json_t *body)
{
    struct cli_buf p = {0};
    cli_buf_printf(&p, "%s", head);
    if (id)
        cli_buf_escape(&p, id);
    cli_buf_printf(&p, "%s", tail);
    int rc = send_print(c, method, p.p, body);
    cli_buf_free(&p);
    return rc;
}

static void steps_cell(const json_t *row, struct cli_buf *b)
{
    cli_buf_printf(b, "%zu", json_array_size(json_object_get(row, "steps")));
}

static void trigger_cell(const json_t *row, struct cli_buf *b)
{
    const json_t *t = json_object_get(row, "trigger");
    const char *ev = json_string_value(json_object_get(t, "event"));
    const char *seg = json_string_value(json_object_get(t, "segment_entered"));
    if (ev)
        cli_buf_printf(b, "event %s", ev);
    else if (seg)
        cli_buf_printf(b, "segment %s", seg);
}

static const struct cli_col RULE_COLS[] = {
    {"ID", "id", NULL, false},
    {"NAME", "name", NULL, false},
    {"ENABLED", "enabled", NULL, false},
    {"TRIGGER", NULL, trigger_cell, false},
    {"STEPS", NULL, steps_cell, true},
    {0},
};

static int rule_list(struct cli *c, const struct cli_args *a)
{
    const struct cli_got *limit = cli_arg(a, "--limit");
    return cli_list(c, "/v1/rules", limit ? limit->num : 0, cli_arg_flag(a, "--all"), RULE_COLS);
}

static int rule_get(struct cli *c, const struct cli_args *a)
{
    return on_path(c, "GET", "/v1/rules/", a->pos[0], "", NULL);
}

static int rule_delete(struct cli *c, const struct cli_args *a)
{
    return on_path(c, "DELETE", "/v1/rules/", a->pos[0], "", NULL);
}

static int rule_put(struct cli *c, const struct cli_args *a)
{
    const char *file = cli_arg_str(a, "--file");
    if (!file)
        return cli_usage_error(a, "--file is required");
    json_error_t e;
    json_t *body = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &e) : json_load_file(file, 0, &e);
    if (!json_is_object(body)) {
        json_decref(body);
        return cli_usage_error(a, "--file: %s is not a JSON object (%s)", file, e.text);
    }
    const char *id = cli_arg_str(a, "--id");
    int rc = id ? on_path(c, "PUT", "/v1/rules/", id, "", body) : on_path(c, "POST", "/v1/rules", NULL, "", body);
    json_decref(body);
    return rc;
}

static int reminders_get(struct cli *c, const struct cli_args *a)
{
    return on_path(c, "GET", "/v1/campaigns/", a->pos[0], "/reminders", NULL);
}

static int reminders_delete(struct cli *c, const struct cli_args *a)
{
    return on_path(c, "DELETE", "/v1/campaigns/", a->pos[0], "/reminders", NULL);
}

/* "3,1,0" → [3,1,0]; NULL when a part is not a whole number. */
static json_t *parse_offsets(const char *s)
{
    json_t *v = json_array();
    while (*s) {
        char *end;
        long long d = strtoll(s, &end, 10);
        if (end == s || (*end && *end != ',')) {
            json_decref(v);
            return NULL;
        }
        json_array_append_new(v, json_integer(d));
        s = *end ? end + 1 : end;
    }
    return v;
}

static int reminders_set(struct cli *c, const struct cli_args *a)
{
    const char *offs = cli_arg_str(a, "--offsets"), *tpl = cli_arg_str(a, "--template");
    const char *ch = cli_arg_str(a, "--channel"), *hook = cli_arg_str(a, "--webhook");
    if (!tpl)
        return cli_usage_error(a, "--template is required");
    json_t *days = parse_offsets(offs ? offs : "3,1,0");
    if (!days)
        return cli_usage_error(a, "--offsets: whole days separated by commas, e.g. 3,1,0");
    json_t *body = json_pack("{s:o, s:s, s:s}", "expiry_offsets_days", days, "template_id", tpl, "channel",
                             ch ? ch : "email");
    if (hook)
        json_object_set_new(body, "webhook_id", json_string(hook));
    int rc = on_path(c, "PUT", "/v1/campaigns/", a->pos[0], "/reminders", body);
    json_decref(body);
    return rc;
}

const struct cli_cmd cli_rule_cmds[] = {
    {"rule", "list", "", 0, "[--limit N] [--all]", "lists automation rules", RULE_LIST_OPTS, rule_list},
    {"rule", "get", "ID", 1, "", "shows one rule", NULL, rule_get},
    {"rule", "put", "", 0, "[--id ID] --file RULE.json",
     "makes a rule from a JSON file, or replaces one with --id (docs/automation.md)", RULE_PUT_OPTS, rule_put},
    {"rule", "delete", "ID", 1, "", "deletes a rule; its pending steps are skipped", NULL, rule_delete},
    {"reminders", "get", "CAMPAIGN", 1, "", "shows a campaign's expiry reminders", NULL, reminders_get},
    {"reminders", "set", "CAMPAIGN", 1, "--template ID [--offsets 3,1,0] [--channel email|webhook] [--webhook ID]",
     "sets the expiry reminders of the codes the campaign issues", REM_SET_OPTS, reminders_set},
    {"reminders", "delete", "CAMPAIGN", 1, "", "stops scheduling expiry reminders for the campaign", NULL,
     reminders_delete},
    {0},
};
