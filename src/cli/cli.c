/* cli.c — `promo <command>`: the global flags, the command table, the option
 * parser and the usage text. The commands themselves live in
 * cli_campaign.c, cli_codes.c and cli_orders.c; HTTP in cli_http.c. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

static const struct cli_opt GLOBAL_OPTS[] = {
    {"--url", CLI_OPT_STR, 0, 0, "server address (env PROMO_URL, default " DEFAULT_URL ")"},
    {"--token", CLI_OPT_STR, 0, 0, "API token (env PROMO_TOKEN)"},
    {"--json", CLI_OPT_FLAG, 0, 0, "print the server's JSON answer as is"},
    {"--lang", CLI_OPT_STR, 0, 0, "language of the server's messages (Accept-Language: en, ko)"},
    {"--help", CLI_OPT_FLAG, 0, 0, "print the usage"},
    {0},
};

/* The groups in the order the usage shows them. */
static const struct {
    const char *title;
    const struct cli_cmd *cmds;
} GROUPS[] = {
    {"Campaigns", cli_campaign_cmds},
    {"Codes", cli_codes_cmds},
    {"Orders", cli_order_cmds},
    {"Tokens and OAuth clients (admin)", cli_token_cmds},
    {"Messages", cli_notify_cmds},
    {"Customers and segments", cli_customer_cmds},
    {"Rules and reminders", cli_rule_cmds},
};
#define NGROUPS (sizeof GROUPS / sizeof GROUPS[0])

/* ---- memory ---------------------------------------------------------------------- */

void cli_oom(void)
{
    fputs("promo: out of memory\n", stderr);
    exit(CLI_REFUSED);
}

void *cli_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        cli_oom();
    return q;
}

static void buf_reserve(struct cli_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            cli_oom();
        cap *= 2;
    }
    b->p = cli_xrealloc(b->p, cap);
    b->cap = cap;
}

void cli_buf_add(struct cli_buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cli_buf_free(struct cli_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- usage ----------------------------------------------------------------------- */

#define USAGE_WIDTH 100

/* Writes `text` word-wrapped at USAGE_WIDTH columns; the first line starts
 * after `col` columns already written, later lines at `indent`. */
static void print_wrapped(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        /* A unit runs to the next word that opens an option or a group, so
         * "--points N)" never splits. */
        const char *end = p;
        for (;;) {
            const char *sp = strchr(end, ' ');
            if (!sp) {
                end += strlen(end);
                break;
            }
            end = sp;
            if (strchr("[(|-", sp[1]) || sp[1] == '\0')
                break;
            end = sp + 1;
        }
        int n = (int)(end - p);
        if (col > indent && col + 1 + n > USAGE_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (p != text) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, (size_t)n, f);
        col += n;
        p = end;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

/* "promo campaign create --name N ..." wrapped, after `lead`. */
static void cmd_words(const struct cli_cmd *cmd, FILE *f, const char *lead)
{
    struct cli_buf b = {0};
    cli_buf_printf(&b, "promo %s", cmd->group);
    if (cmd->name)
        cli_buf_printf(&b, " %s", cmd->name);
    if (cmd->params && *cmd->params)
        cli_buf_printf(&b, " %s", cmd->params);
    if (cmd->synopsis && *cmd->synopsis)
        cli_buf_printf(&b, " %s", cmd->synopsis);
    fputs(lead, f);
    print_wrapped(f, b.p, (int)strlen(lead), (int)strlen(lead) + 4);
    cli_buf_free(&b);
}

static void cmd_name(const struct cli_cmd *cmd, FILE *f)
{
    fprintf(f, "promo %s%s%s", cmd->group, cmd->name ? " " : "", cmd->name ? cmd->name : "");
}

static void global_usage(FILE *f)
{
    fputs("Global flags (before or after the command):\n", f);
    for (const struct cli_opt *o = GLOBAL_OPTS; o->name; o++)
        fprintf(f, "  %-10s %s\n", o->name, o->help);
    fputs("Exit status: 0 ok, 1 the server refused (or the code is not valid), 2 usage error,\n"
          "3 the server cannot be reached.\n",
          f);
}

/* The usage of one command with every option explained. */
static void cmd_usage(const struct cli_cmd *cmd, FILE *f)
{
    cmd_words(cmd, f, "usage: ");
    fputs("  ", f);
    print_wrapped(f, cmd->help, 2, 2);
    int w = 0;
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        if ((int)strlen(o->name) > w)
            w = (int)strlen(o->name);
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        fprintf(f, "    %-*s  %s\n", w, o->name, o->help ? o->help : "");
}

/* Every command, one line each, grouped; `only` limits it to one group
 * word (NULL: all). */
static void all_usage(FILE *f, const char *only)
{
    fputs("usage: promo [--url URL] [--token TOKEN] [--json] [--lang LANG] COMMAND ...\n"
          "       promo serve [--db PATH] [--listen HOST:PORT]   (the server)\n",
          f);
    for (size_t g = 0; g < NGROUPS; g++) {
        bool title = false;
        for (const struct cli_cmd *cmd = GROUPS[g].cmds; cmd->group; cmd++) {
            if (only && strcmp(only, cmd->group) != 0)
                continue;
            if (!title)
                fprintf(f, "\n%s:\n", GROUPS[g].title);
            title = true;
            cmd_words(cmd, f, "  ");
            fputs("      ", f);
            print_wrapped(f, cmd->help, 6, 6);
        }
    }
    fputc('\n', f);
    global_usage(f);
    fputs("`promo COMMAND --help` explains every option of a command.\n", f);
}

int cli_usage_error(const struct cli_args *a, const char *fmt, ...)
{
    va_list ap;
    fputs("promo: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (a && a->cmd) {
        cmd_words(a->cmd, stderr, "usage: ");
        fputs("  (`", stderr);
        cmd_name(a->cmd, stderr);
        fputs(" --help` explains every option)\n", stderr);
    }
    return CLI_USAGE;
}

/* ---- arguments ------------------------------------------------------------------- */

const struct cli_got *cli_arg(const struct cli_args *a, const char *name)
{
    for (int i = a->ngot - 1; i >= 0; i--)
        if (strcmp(a->got[i].opt->name, name) == 0)
            return &a->got[i];
    return NULL;
}

const char *cli_arg_str(const struct cli_args *a, const char *name)
{
    const struct cli_got *g = cli_arg(a, name);
    return g ? g->val : NULL;
}

bool cli_arg_flag(const struct cli_args *a, const char *name)
{
    return cli_arg(a, name) != NULL;
}

/* Reads a whole decimal integer: no sign but '-', no spaces, no suffix. */
static bool parse_ll(const char *s, long long *out)
{
    if (!s || !*s || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Checks a numeric option's text against its range; fills g. */
static int check_number(const struct cli_args *a, struct cli_got *g)
{
    const struct cli_opt *o = g->opt;
    if (o->kind == CLI_OPT_INT_UNLIM && strcmp(g->val, "unlimited") == 0) {
        g->unlimited = true;
        return CLI_OK;
    }
    long long v;
    if (!parse_ll(g->val, &v) || v < o->min || v > o->max)
        return cli_usage_error(a, "%s must be an integer from %lld to %lld%s, not '%s'", o->name, o->min,
                               o->max, o->kind == CLI_OPT_INT_UNLIM ? " or 'unlimited'" : "", g->val);
    g->num = v;
    return CLI_OK;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *name, size_t len)
{
    for (const struct cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* Applies a global flag to the session. */
static void set_global(struct cli *c, const struct cli_opt *o, const char *val, bool *help)
{
    if (strcmp(o->name, "--url") == 0)
        c->url = val;
    else if (strcmp(o->name, "--token") == 0)
        c->token = val;
    else if (strcmp(o->name, "--json") == 0)
        c->json = true;
    else if (strcmp(o->name, "--lang") == 0)
        c->lang = val;
    else if (strcmp(o->name, "--help") == 0)
        *help = true;
}

/* Parses argv[i..] for `a->cmd`: its options, the global flags and the
 * positional words. Returns CLI_OK or CLI_USAGE (already printed). */
static int parse_args(struct cli *c, int argc, char **argv, int i, struct cli_args *a, bool *help)
{
    bool only_pos = false;
    for (; i < argc; i++) {
        const char *w = argv[i];
        if (only_pos || w[0] != '-' || w[1] == '\0') {
            if (a->npos >= a->cmd->npos || a->npos >= CLI_POS_MAX)
                return cli_usage_error(a, "unexpected argument '%s'", w);
            a->pos[a->npos++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(w, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strcmp(w, "-o") == 0 && find_opt(a->cmd->opts, "--output", 8))
            w = "--output"; /* the one short option: export's -o FILE */
        const char *eq = strchr(w, '=');
        size_t nlen = eq ? (size_t)(eq - w) : strlen(w);
        bool global = false;
        const struct cli_opt *o = find_opt(a->cmd->opts, w, nlen);
        if (!o) {
            o = find_opt(GLOBAL_OPTS, w, nlen);
            global = o != NULL;
        }
        if (!o)
            return cli_usage_error(a, "unknown option '%.*s' for `promo %s%s%s`", (int)nlen, w,
                                   a->cmd->group, a->cmd->name ? " " : "", a->cmd->name ? a->cmd->name : "");
        const char *val = NULL;
        if (o->kind == CLI_OPT_FLAG) {
            if (eq)
                return cli_usage_error(a, "%s takes no value", o->name);
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return cli_usage_error(a, "%s needs a value", o->name);
        }
        if (global) {
            set_global(c, o, val, help);
            continue;
        }
        if (o->kind != CLI_OPT_LIST && o->kind != CLI_OPT_FLAG && cli_arg(a, o->name))
            return cli_usage_error(a, "%s is given twice", o->name);
        if (a->ngot >= CLI_GOT_MAX)
            return cli_usage_error(a, "too many options (at most %d)", CLI_GOT_MAX);
        struct cli_got *g = &a->got[a->ngot++];
        *g = (struct cli_got){.opt = o, .val = val};
        if ((o->kind == CLI_OPT_INT || o->kind == CLI_OPT_INT_UNLIM) && check_number(a, g) != CLI_OK)
            return CLI_USAGE;
    }
    if (*help)
        return CLI_OK;
    if (a->npos < a->cmd->npos)
        return cli_usage_error(a, "missing %s", a->cmd->params);
    return CLI_OK;
}

/* Singular and plural spellings name the same group. */
static bool group_is(const char *word, const char *group)
{
    size_t n = strlen(group);
    if (strcmp(word, group) == 0)
        return true;
    /* "campaigns" for "campaign", "code" for "codes", "job" for "jobs"... */
    if (strncmp(word, group, n) == 0 && strcmp(word + n, "s") == 0)
        return true;
    return n > 1 && group[n - 1] == 's' && strlen(word) == n - 1 && strncmp(word, group, n - 1) == 0;
}

static const struct cli_cmd *find_cmd(const char *group, const char *name, bool *group_known)
{
    *group_known = false;
    for (size_t g = 0; g < NGROUPS; g++)
        for (const struct cli_cmd *cmd = GROUPS[g].cmds; cmd->group; cmd++) {
            if (!group_is(group, cmd->group))
                continue;
            *group_known = true;
            if (!cmd->name || (name && strcmp(name, cmd->name) == 0))
                return cmd;
        }
    return NULL;
}

/* The canonical word of a group ("code" → "codes") for the usage. */
static const char *group_word(const char *word)
{
    for (size_t g = 0; g < NGROUPS; g++)
        for (const struct cli_cmd *cmd = GROUPS[g].cmds; cmd->group; cmd++)
            if (group_is(word, cmd->group))
                return cmd->group;
    return word;
}

/* Header values must not smuggle a line break. */
static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool valid_url(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7]) || (strncmp(u, "https://", 8) == 0 && u[8]);
}

int cli_main(int argc, char **argv)
{
    struct cli c = {.url = getenv("PROMO_URL"), .token = getenv("PROMO_TOKEN"), .tty = isatty(2) == 1};
    if (!c.url || !*c.url)
        c.url = DEFAULT_URL;
    if (c.token && !*c.token)
        c.token = NULL;
    bool help = false;
    int i = 1;

    /* Global flags before the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *w = argv[i];
        if (strcmp(w, "-h") == 0) {
            help = true;
            continue;
        }
        const char *eq = strchr(w, '=');
        size_t nlen = eq ? (size_t)(eq - w) : strlen(w);
        const struct cli_opt *o = find_opt(GLOBAL_OPTS, w, nlen);
        if (!o) {
            fprintf(stderr, "promo: unknown option '%s'\n", w);
            all_usage(stderr, NULL);
            return CLI_USAGE;
        }
        const char *val = NULL;
        if (o->kind != CLI_OPT_FLAG) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "promo: %s needs a value\n", o->name);
                return CLI_USAGE;
            }
        }
        set_global(&c, o, val, &help);
    }
    if (i >= argc) {
        all_usage(help ? stdout : stderr, NULL);
        return help ? CLI_OK : CLI_USAGE;
    }
    const char *group = argv[i++];
    if (strcmp(group, "help") == 0) {
        all_usage(stdout, i < argc ? group_word(argv[i]) : NULL);
        return CLI_OK;
    }
    const char *name = i < argc ? argv[i] : NULL;
    bool known;
    const struct cli_cmd *cmd = find_cmd(group, name, &known);
    if (!cmd) {
        if (!known) {
            fprintf(stderr, "promo: unknown command '%s'\n", group);
            all_usage(stderr, NULL);
            return CLI_USAGE;
        }
        bool want_help = help || (name && (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
                                          strcmp(name, "help") == 0));
        if (!want_help) {
            if (name)
                fprintf(stderr, "promo: unknown command '%s %s'\n", group, name);
            else
                fprintf(stderr, "promo: `promo %s` needs a command\n", group);
        }
        all_usage(want_help ? stdout : stderr, group_word(group));
        return want_help ? CLI_OK : CLI_USAGE;
    }
    if (cmd->name)
        i++;

    struct cli_args *a = calloc(1, sizeof(*a));
    if (!a)
        cli_oom();
    a->cmd = cmd;
    int rc = parse_args(&c, argc, argv, i, a, &help);
    if (rc == CLI_OK && help) {
        cmd_usage(cmd, stdout);
        putchar('\n');
        global_usage(stdout);
        free(a);
        return CLI_OK;
    }
    if (rc == CLI_OK && c.token && !printable(c.token))
        rc = cli_usage_error(a, "the token holds control characters");
    if (rc == CLI_OK && c.lang && !printable(c.lang))
        rc = cli_usage_error(a, "--lang holds control characters");
    if (rc == CLI_OK && !valid_url(c.url))
        rc = cli_usage_error(a, "the server URL must start with http:// or https://, not '%s'", c.url);
    if (rc != CLI_OK) {
        free(a);
        return rc;
    }
    /* No trailing slash: paths are appended as "/v1/...". */
    char *url = strdup(c.url);
    if (!url)
        cli_oom();
    for (size_t n = strlen(url); n > 0 && url[n - 1] == '/'; n--)
        url[n - 1] = '\0';
    c.url = url;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c.curl = curl_easy_init())) {
        fputs("promo: cannot initialise libcurl\n", stderr);
        free(url);
        free(a);
        return CLI_UNREACHABLE;
    }
    rc = cmd->run(&c, a);
    fflush(stdout);
    if (ferror(stdout) && rc == CLI_OK) {
        fputs("promo: cannot write the output\n", stderr);
        rc = CLI_REFUSED;
    }
    curl_easy_cleanup(c.curl);
    curl_global_cleanup();
    free(url);
    free(a);
    return rc;
}
