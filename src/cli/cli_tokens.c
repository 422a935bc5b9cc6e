/* cli_tokens.c — `promo token ...` and `promo oauth-client ...`: bearer
 * tokens and OAuth 2.0 clients through /v1/tokens and /v1/oauth/clients
 * (admin tokens only). A secret comes back once, in the answer that made
 * it: create prints it on stdout, alone on its line, so a script can take
 * it, and says on stderr that it cannot be shown again. */
#include <string.h>

#include "cli/cli_int.h"

#define TOKEN_TTL_MAX (10LL * 366 * 86400) /* the server's limit: ten years */
#define CLIENT_TTL_MAX 86400LL

static const struct cli_opt TOKEN_CREATE_OPTS[] = {
    {"--role", CLI_OPT_STR, 0, 0, "admin, marketer, integration, storefront or viewer"},
    {"--name", CLI_OPT_STR, 0, 0, "a label for people (where it is deployed)"},
    {"--ttl", CLI_OPT_INT, 1, TOKEN_TTL_MAX, "seconds until it expires (default: never)"},
    {"--expires-at", CLI_OPT_STR, 0, 0, "when it expires, RFC 3339 (2027-01-31T00:00:00Z)"},
    {0},
};

static const struct cli_opt TOKEN_LIST_OPTS[] = {
    {"--kind", CLI_OPT_STR, 0, 0, "only api (made by an admin) or oauth (issued to a client) tokens"},
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

static const struct cli_opt CLIENT_CREATE_OPTS[] = {
    {"--name", CLI_OPT_STR, 0, 0, "who the client is (the CRM, the shop backend...)"},
    {"--role", CLI_OPT_STR, 0, 0, "the most its access tokens may do (a role name)"},
    {"--ttl", CLI_OPT_INT, 1, CLIENT_TTL_MAX, "lifetime of its access tokens in seconds (server default 3600)"},
    {0},
};

static const struct cli_opt CLIENT_LIST_OPTS[] = {
    {"--limit", CLI_OPT_INT, 1, 1000, "rows per page (server default 50)"},
    {"--all", CLI_OPT_FLAG, 0, 0, "follow next_cursor to the last page"},
    {0},
};

/* ---- shared -------------------------------------------------------------------- */

/* "/v1/<what>/<escaped id>" into p. */
static void item_path(struct cli_buf *p, const char *what, const char *id)
{
    cli_buf_printf(p, "/v1/%s/", what);
    cli_buf_escape(p, id);
}

/* Prints a new secret once, clearly: the object without it, then the
 * secret alone on stdout and the warning on stderr. With --json the
 * server's answer as is (it holds the secret under `key`). */
static void print_created(struct cli *c, json_t *obj, const char *key, const char *what)
{
    if (c->json) {
        cli_print_json(obj);
        return;
    }
    json_t *secret = json_incref(json_object_get(obj, key));
    json_object_del(obj, key);
    cli_print_object(obj);
    printf("\n%s: %s\n", key, json_is_string(secret) ? json_string_value(secret) : "(none in the answer)");
    fprintf(stderr, "promo: store this %s now: it is shown only this once (the server keeps only its hash)\n",
            what);
    json_decref(secret);
}

/* GET of one item, printed whole. */
static int show(struct cli *c, const char *what, const char *id)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    item_path(&path, what, id);
    int rc = cli_call(c, "GET", path.p, NULL, NULL, &ans);
    if (rc == CLI_OK) {
        if (c->json)
            cli_print_json(ans.json);
        else
            cli_print_object(ans.json);
    }
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

/* ---- tokens ---------------------------------------------------------------------- */

static int token_create(struct cli *c, const struct cli_args *a)
{
    const char *role = cli_arg_str(a, "--role"), *name = cli_arg_str(a, "--name");
    const char *at = cli_arg_str(a, "--expires-at");
    const struct cli_got *ttl = cli_arg(a, "--ttl");
    if (!role)
        return cli_usage_error(a, "--role is required");
    if (ttl && at)
        return cli_usage_error(a, "give --ttl or --expires-at, not both");
    json_t *body = json_pack("{s:s}", "role", role);
    if (name)
        json_object_set_new(body, "name", json_string(name));
    if (ttl)
        json_object_set_new(body, "ttl_seconds", json_integer(ttl->num));
    if (at)
        json_object_set_new(body, "expires_at", json_string(at));
    struct cli_answer ans;
    int rc = cli_call(c, "POST", "/v1/tokens", body, NULL, &ans);
    json_decref(body);
    if (rc == CLI_OK)
        print_created(c, ans.json, "secret", "token secret");
    cli_answer_free(&ans);
    return rc;
}

static const struct cli_col TOKEN_COLS[] = {
    {"ID", "id", NULL, false},
    {"ROLE", "role", NULL, false},
    {"NAME", "name", NULL, false},
    {"KIND", "kind", NULL, false},
    {"CLIENT", "client_id", NULL, false},
    {"CREATED_AT", "created_at", NULL, false},
    {"EXPIRES_AT", "expires_at", NULL, false},
    {"REVOKED_AT", "revoked_at", NULL, false},
    {"LAST_USED_AT", "last_used_at", NULL, false},
    {0},
};

static int token_list(struct cli *c, const struct cli_args *a)
{
    const char *kind = cli_arg_str(a, "--kind");
    const struct cli_got *limit = cli_arg(a, "--limit");
    struct cli_buf path = {0};
    cli_buf_add(&path, "/v1/tokens", 10);
    if (kind) {
        cli_buf_add(&path, "?kind=", 6);
        cli_buf_escape(&path, kind);
    }
    int rc = cli_list(c, path.p, limit ? limit->num : 0, cli_arg_flag(a, "--all"), TOKEN_COLS);
    cli_buf_free(&path);
    return rc;
}

static int token_show(struct cli *c, const struct cli_args *a)
{
    return show(c, "tokens", a->pos[0]);
}

static int token_revoke(struct cli *c, const struct cli_args *a)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    item_path(&path, "tokens", a->pos[0]);
    int rc = cli_call(c, "DELETE", path.p, NULL, NULL, &ans);
    if (rc == CLI_OK && c->json) {
        cli_print_json(ans.json);
    } else if (rc == CLI_OK) {
        const char *at = json_string_value(json_object_get(ans.json, "revoked_at"));
        printf("token %s revoked at %s: it is refused from the next call on\n", a->pos[0], at ? at : "?");
    }
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

/* ---- OAuth clients ----------------------------------------------------------------- */

static int client_create(struct cli *c, const struct cli_args *a)
{
    const char *name = cli_arg_str(a, "--name"), *role = cli_arg_str(a, "--role");
    const struct cli_got *ttl = cli_arg(a, "--ttl");
    if (!name)
        return cli_usage_error(a, "--name is required");
    if (!role)
        return cli_usage_error(a, "--role is required");
    json_t *body = json_pack("{s:s, s:s}", "name", name, "role", role);
    if (ttl)
        json_object_set_new(body, "access_token_ttl_seconds", json_integer(ttl->num));
    struct cli_answer ans;
    int rc = cli_call(c, "POST", "/v1/oauth/clients", body, NULL, &ans);
    json_decref(body);
    if (rc == CLI_OK)
        print_created(c, ans.json, "client_secret", "client secret");
    cli_answer_free(&ans);
    return rc;
}

static const struct cli_col CLIENT_COLS[] = {
    {"CLIENT_ID", "client_id", NULL, false},
    {"NAME", "name", NULL, false},
    {"ROLE", "role", NULL, false},
    {"TOKEN_TTL", "access_token_ttl_seconds", NULL, true},
    {"CREATED_AT", "created_at", NULL, false},
    {"DELETED_AT", "deleted_at", NULL, false},
    {0},
};

static int client_list(struct cli *c, const struct cli_args *a)
{
    const struct cli_got *limit = cli_arg(a, "--limit");
    return cli_list(c, "/v1/oauth/clients", limit ? limit->num : 0, cli_arg_flag(a, "--all"), CLIENT_COLS);
}

static int client_show(struct cli *c, const struct cli_args *a)
{
    return show(c, "oauth/clients", a->pos[0]);
}

static int client_delete(struct cli *c, const struct cli_args *a)
{
    struct cli_buf path = {0};
    struct cli_answer ans;
    item_path(&path, "oauth/clients", a->pos[0]);
    int rc = cli_call(c, "DELETE", path.p, NULL, NULL, &ans);
    if (rc == CLI_OK && c->json) {
        cli_print_json(ans.json);
    } else if (rc == CLI_OK) {
        json_int_t n = json_integer_value(json_object_get(ans.json, "tokens_revoked"));
        printf("OAuth client %s deleted; %lld live access token%s revoked\n", a->pos[0], (long long)n,
               n == 1 ? "" : "s");
    }
    cli_answer_free(&ans);
    cli_buf_free(&path);
    return rc;
}

const struct cli_cmd cli_token_cmds[] = {
    {"token", "create", "", 0, "--role R [--name N] [--ttl SECONDS | --expires-at T]",
     "makes a bearer token; prints its secret once", TOKEN_CREATE_OPTS, token_create},
    {"token", "list", "", 0, "[--kind api|oauth] [--limit N] [--all]", "lists tokens (never their secrets)",
     TOKEN_LIST_OPTS, token_list},
    {"token", "show", "ID", 1, "", "shows one token", NULL, token_show},
    {"token", "revoke", "ID", 1, "", "revokes a token: refused from the next call on", NULL, token_revoke},
    {"oauth-client", "create", "", 0, "--name N --role R [--ttl SECONDS]",
     "registers an OAuth 2.0 client (client credentials); prints its secret once", CLIENT_CREATE_OPTS,
     client_create},
    {"oauth-client", "list", "", 0, "[--limit N] [--all]", "lists OAuth clients", CLIENT_LIST_OPTS, client_list},
    {"oauth-client", "show", "CLIENT_ID", 1, "", "shows one OAuth client", NULL, client_show},
    {"oauth-client", "delete", "CLIENT_ID", 1, "", "deletes a client and revokes its access tokens at once", NULL,
     client_delete},
    {0},
};
