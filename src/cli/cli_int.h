/* cli_int.h — what the files of the CLI share: the session (server, token,
 * output mode), the command table and its option parser, the HTTP calls and
 * the printers. Nothing here is seen outside src/cli/. */
#ifndef PROMO_CLI_INT_H
#define PROMO_CLI_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of every command (cli.h promises them to main). */
enum cli_exit {
    CLI_OK = 0,          /* done */
    CLI_REFUSED = 1,     /* the server answered 4xx/5xx, or said "not valid" */
    CLI_USAGE = 2,       /* the command line is wrong */
    CLI_UNREACHABLE = 3, /* no answer from the server */
};

#define CLI_MONEY_MAX 1000000000000000LL /* the server's PROMO_MONEY_MAX */

/* One run of the CLI: made by cli_main on its stack, borrowed by every
 * command. The strings point into argv or the environment. */
struct cli {
    const char *url;   /* base URL without a trailing slash */
    const char *token; /* bearer secret or NULL */
    const char *lang;  /* Accept-Language or NULL */
    bool json;         /* --json: print the server's JSON as is */
    bool tty;          /* stderr is a terminal: progress bars allowed */
    CURL *curl;        /* one handle, so the connection is reused */
};

/* ---- command line ---------------------------------------------------------------- */

enum cli_opt_kind {
    CLI_OPT_FLAG,      /* --draft */
    CLI_OPT_STR,       /* --name VALUE */
    CLI_OPT_INT,       /* --count N, checked against min..max */
    CLI_OPT_INT_UNLIM, /* --max-uses N|unlimited */
    CLI_OPT_LIST,      /* --item VALUE, may repeat */
};

struct cli_opt {
    const char *name; /* "--count" */
    enum cli_opt_kind kind;
    long long min, max; /* CLI_OPT_INT, CLI_OPT_INT_UNLIM */
    const char *help;   /* one line for the usage */
};

/* One parsed option occurrence. */
struct cli_got {
    const struct cli_opt *opt;
    const char *val; /* the text as typed (NULL for a flag) */
    long long num;   /* the checked number of an INT option */
    bool unlimited;  /* INT_UNLIM given as "unlimited" */
};

#define CLI_GOT_MAX 256
#define CLI_POS_MAX 4

struct cli_cmd;

/* What the parser hands a command: its positional words and its options
 * in the order typed. Borrowed from argv. */
struct cli_args {
    const struct cli_cmd *cmd;
    const char *pos[CLI_POS_MAX];
    int npos;
    struct cli_got got[CLI_GOT_MAX];
    int ngot;
};

struct cli_cmd {
    const char *group;  /* "campaign" */
    const char *name;   /* "create", or NULL for a one-word command */
    const char *params; /* positional words for the usage: "CAMPAIGN CODE" */
    int npos;           /* how many positional words it takes (exactly) */
    const char *synopsis; /* the options part of the usage line */
    const char *help;     /* what it does, one line */
    const struct cli_opt *opts; /* ends with {0} */
    int (*run)(struct cli *c, const struct cli_args *a);
};

/* The command tables, each ending with {0}. */
extern const struct cli_cmd cli_campaign_cmds[];
extern const struct cli_cmd cli_codes_cmds[];
extern const struct cli_cmd cli_order_cmds[];
extern const struct cli_cmd cli_token_cmds[];
extern const struct cli_cmd cli_notify_cmds[]; /* template, message, webhook (cli_notify.c) */
extern const struct cli_cmd cli_customer_cmds[];
extern const struct cli_cmd cli_rule_cmds[]; /* rule, reminders (cli_rules.c) */

/* The last occurrence of an option, or NULL when it was not given. */
const struct cli_got *cli_arg(const struct cli_args *a, const char *name);
/* The text of an option, or NULL. */
const char *cli_arg_str(const struct cli_args *a, const char *name);
bool cli_arg_flag(const struct cli_args *a, const char *name);

/* Prints "promo: <message>" and the command's usage on stderr; returns
 * CLI_USAGE so a command can `return cli_usage_error(a, ...)`. */
int cli_usage_error(const struct cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- memory ---------------------------------------------------------------------- */

/* A growing string. cli_buf_free releases it; p is NUL-terminated. */
struct cli_buf {
    char *p;
    size_t len, cap;
};
void cli_buf_add(struct cli_buf *b, const void *data, size_t n);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(struct cli_buf *b);

/* Allocation that cannot fail: a CLI out of memory can only stop. */
void *cli_xrealloc(void *p, size_t n);
void cli_oom(void) __attribute__((noreturn));

/* ---- HTTP ------------------------------------------------------------------------ */

/* One answer of the server. cli_answer_free releases it. */
struct cli_answer {
    long status;
    struct cli_buf body;
    json_t *json;     /* the body parsed, or NULL when it is not JSON */
    bool replayed;    /* Idempotent-Replayed: true */
    long retry_after; /* Retry-After seconds, or -1 */
};
void cli_answer_free(struct cli_answer *ans);

/* Appends `s` URL-encoded (every byte but unreserved ones) to b. */
void cli_buf_escape(struct cli_buf *b, const char *s);

/* Sends one request with a JSON body (body may be NULL: no body) and the
 * extra header lines (NULL-terminated, may be NULL). On CLI_OK *ans holds
 * the answer, whatever its status; otherwise the reason was printed and
 * the result is CLI_UNREACHABLE. The caller frees *ans either way. */
int cli_send(struct cli *c, const char *method, const char *path, const char *body,
             const char *const *headers, struct cli_answer *ans);

/* cli_send, then insists on a 2xx with a JSON body. Otherwise prints the
 * server's error as `promo: code: message` (and, with --json, the error
 * document on stdout) and returns CLI_REFUSED. */
int cli_call(struct cli *c, const char *method, const char *path, const json_t *body,
             const char *const *headers, struct cli_answer *ans);

/* cli_call with the body already as JSON text (sent byte for byte). */
int cli_call_text(struct cli *c, const char *method, const char *path, const char *body,
                  const char *const *headers, struct cli_answer *ans);

/* Prints the refusal in the answer on stderr (and its JSON with --json). */
int cli_refused(struct cli *c, const struct cli_answer *ans);

/* Streams a GET to `out` without holding it in memory (export). `out` is
 * opened by `open_out` on the first byte of a 2xx answer, so a refusal
 * never leaves a file. Returns an exit code. */
int cli_download(struct cli *c, const char *path, FILE *(*open_out)(void *ctx), void *ctx);

/* POSTs a file (or stdin) as `content_type`, streamed, with a progress bar
 * on a terminal when the file is large. Answer as with cli_call. */
int cli_upload(struct cli *c, const char *path, const char *file, const char *content_type,
               struct cli_answer *ans);

/* Draws `[#####.....] 51% 510000/1000000` over the current stderr line. */
void cli_progress(const char *done_text, const char *total_text, double fraction);
void cli_progress_end(void);

/* ---- output ---------------------------------------------------------------------- */

/* Prints a JSON value pretty, as one document, on stdout. */
void cli_print_json(const json_t *v);

/* Prints an object as `key: value` lines; nested objects become dotted
 * keys, arrays of scalars comma lists, arrays of objects an indented
 * table. */
void cli_print_object(const json_t *obj);

/* A column of a table: its heading and how a row's cell is made. The cell
 * function writes into b; a NULL cell takes the member `key` of the row. */
struct cli_col {
    const char *heading;
    const char *key;
    void (*cell)(const json_t *row, struct cli_buf *b);
    bool right; /* numbers align right */
};

/* Prints rows (objects) as a table with aligned columns; cols ends with
 * {0}. */
void cli_print_table(const json_t *rows, const struct cli_col *cols, int indent);

/* Writes a scalar JSON value as text ("" for null, "-" never). */
void cli_scalar_text(const json_t *v, struct cli_buf *b);

/* Runs a list command: GET path (with `?` already in it or not), follows
 * next_cursor when `all`, prints the table or, with --json, the one
 * document {"data": [...], "next_cursor": ...}. */
int cli_list(struct cli *c, const char *path, long long limit, bool all, const struct cli_col *cols);

#endif
