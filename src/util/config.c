/* config.c — reading promo's INI configuration with libinih. libinih does
 * the lexing (sections, key = value, comments); this file knows the keys,
 * checks every value and reports the line of each mistake. libinih hands
 * the handler no line number, so lines are fed to it one at a time by
 * line_reader below, which counts them. */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"

enum kind { K_STR, K_RATE, K_INT, K_BOOL };

/* One key of the file: where it lands in struct config and its bounds. */
struct key {
    const char *section, *name;
    enum kind kind;
    size_t off;
    int64_t min, max;
};

#define AT(field) offsetof(struct config, field)
static const struct key KEYS[] = {
    {"server", "db", K_STR, AT(db), 1, CONFIG_STR_MAX - 1},
    {"server", "listen", K_STR, AT(listen), 1, CONFIG_STR_MAX - 1},
    {"limits", "per_ip_per_second", K_RATE, AT(per_ip.milli_per_s), 0, 1000000000},
    {"limits", "per_ip_burst", K_INT, AT(per_ip.burst), 1, 1000000},
    {"limits", "per_token_per_second", K_RATE, AT(per_token.milli_per_s), 0, 1000000000},
    {"limits", "per_token_burst", K_INT, AT(per_token.burst), 1, 1000000},
    {"limits", "storefront_per_second", K_RATE, AT(storefront.milli_per_s), 0, 1000000000},
    {"limits", "storefront_burst", K_INT, AT(storefront.burst), 1, 1000000},
    {"limits", "per_customer_per_second", K_RATE, AT(per_customer.milli_per_s), 0, 1000000000},
    {"limits", "per_customer_burst", K_INT, AT(per_customer.burst), 1, 1000000},
    /* at most LIMITER_FAILURES_MAX (core/limiter.h): a slice counts in 16 bits */
    {"bruteforce", "failures", K_INT, AT(bf_failures), 0, 65535},
    {"bruteforce", "window_seconds", K_INT, AT(bf_window_s), 1, 86400},
    {"bruteforce", "block_seconds", K_INT, AT(bf_block_s), 1, 7 * 86400},
    {"proxy", "trust_forwarded_for", K_BOOL, AT(trust_forwarded_for), 0, 1},
    {"smtp", "host", K_STR, AT(smtp_host), 1, CONFIG_STR_MAX - 1},
    {"smtp", "port", K_INT, AT(smtp_port), 1, 65535},
    {"smtp", "from", K_STR, AT(smtp_from), 3, CONFIG_STR_MAX - 1},
    {"smtp", "username", K_STR, AT(smtp_username), 1, CONFIG_STR_MAX - 1},
    {"smtp", "password", K_STR, AT(smtp_password), 1, CONFIG_STR_MAX - 1},
    {"smtp", "starttls", K_BOOL, AT(smtp_starttls), 0, 1},
    {"delivery", "max_attempts", K_INT, AT(dlv_max_attempts), 1, 100},
    {"delivery", "backoff_base_ms", K_INT, AT(dlv_backoff_base_ms), 1, 3600000},
    {"delivery", "backoff_cap_ms", K_INT, AT(dlv_backoff_cap_ms), 1, 7 * 86400000LL},
    {"delivery", "timeout_ms", K_INT, AT(dlv_timeout_ms), 100, 600000},
    {"delivery", "connect_timeout_ms", K_INT, AT(dlv_connect_timeout_ms), 100, 600000},
    {"delivery", "workers", K_INT, AT(dlv_workers), 1, 64},
    {"delivery", "poll_ms", K_INT, AT(dlv_poll_ms), 10, 60000},
    {"server", "test_clock", K_BOOL, AT(test_clock), 0, 1},
};
#undef AT
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c)); /* padding too: configurations compare with memcmp */
    *c = (struct config){
        .per_ip = {1000 * 1000, 2000},
        .per_token = {1000 * 1000, 2000},
        .storefront = {10 * 1000, 30},
        .per_customer = {10 * 1000, 30},
        .bf_failures = 50,
        .bf_window_s = 60,
        .bf_block_s = 300,
        .trust_forwarded_for = false,
        .smtp_port = 25,
        .smtp_from = "promo@localhost",
        .smtp_starttls = true,
        .dlv_max_attempts = 8,
        .dlv_backoff_base_ms = 1000,
        .dlv_backoff_cap_ms = 3600000,
        .dlv_timeout_ms = 10000,
        .dlv_connect_timeout_ms = 5000,
        .dlv_workers = 4,
        .dlv_poll_ms = 200,
    };
}

/* ---- values ------------------------------------------------------------------ */

/* A whole number of digits only (no sign, no spaces) in [min, max]. */
static int parse_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 12)
        return -1;
    int64_t n = strtoll(v, NULL, 10);
    if (n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* A decimal with at most 3 places ("10", "0.5", "2.125") in thousandths. */
static int parse_milli(const char *v, int64_t max, int64_t *out)
{
    size_t whole = strspn(v, "0123456789");
    if (whole == 0 || whole > 7)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < whole; i++)
        n = n * 10 + (v[i] - '0');
    n *= 1000;
    const char *f = v + whole;
    if (*f == '.') {
        size_t places = strspn(f + 1, "0123456789");
        if (places == 0 || places > 3)
            return -1;
        int64_t scale = 100;
        for (size_t i = 0; i < places; i++, scale /= 10)
            n += (f[1 + i] - '0') * scale;
        f += 1 + places;
    }
    if (*f || n > max)
        return -1;
    *out = n;
    return 0;
}

/* What a value must look like, for the message. */
static const char *expected(const struct key *k, char *buf, size_t len)
{
    switch (k->kind) {
    case K_STR: return "must not be empty";
    case K_BOOL: return "must be true or false";
    case K_RATE: return "must be a number of requests per second from 0 (no limit) to 1000000, "
                        "with at most 3 decimals";
    case K_INT: snprintf(buf, len, "must be a whole number from %lld to %lld", (long long)k->min, (long long)k->max);
    }
    return buf;
}

static int set_value(struct config *c, const struct key *k, const char *v)
{
    char *field = (char *)c + k->off;
    switch (k->kind) {
    case K_STR:
        if (!*v || strlen(v) > (size_t)k->max)
            return -1;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case K_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return -1;
        *(bool *)field = strcmp(v, "true") == 0;
        return 0;
    case K_RATE: return parse_milli(v, k->max, (int64_t *)field);
    case K_INT: return parse_int(v, k->min, k->max, (int64_t *)field);
    }
    return -1;
}

/* ---- parsing ----------------------------------------------------------------- */

struct parse {
    struct config *c;
    const char *name;
    const char *p, *end; /* what line_reader has not read yet */
    int line;            /* lines read so far: the line the handler is called for */
    int long_line;       /* first line longer than libinih's buffer, or 0 */
    int seen[N_KEYS];    /* line each key was set on, 0: not yet */
    int err_line;        /* first line with an error the handler found, or 0 */
    char *err;
    size_t errlen;
};

/* Gives libinih one line of the text per call (fgets-like), counting lines.
 * A line longer than the buffer is cut and remembered as an error, instead
 * of being handed over in pieces that would miscount the lines. */
static char *line_reader(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    if (ps->p >= ps->end || num < 2)
        return NULL;
    const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
    size_t len = nl ? (size_t)(nl - ps->p) + 1 : (size_t)(ps->end - ps->p);
    size_t keep = len;
    ps->line++;
    if (keep > (size_t)num - 1) {
        keep = (size_t)num - 1;
        if (!ps->long_line)
            ps->long_line = ps->line;
    }
    memcpy(str, ps->p, keep);
    str[keep] = 0;
    ps->p += len;
    return str;
}

static int fail(struct parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *ps, const char *fmt, ...)
{
    if (ps->err_line)
        return 0; /* the first mistake is the one reported */
    ps->err_line = ps->line;
    int n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->name, ps->line);
    if (n < 0 || (size_t)n >= ps->errlen)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return 0;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].section, section) == 0)
            return true;
    return false;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *ps = user;
    if (!*section)
        return fail(ps, "'%.64s' is outside a section ([server], [limits], [bruteforce], [proxy], [smtp] or [delivery])", name);
    if (!section_known(section))
        return fail(ps, "unknown section [%.64s] (known: server, limits, bruteforce, proxy, smtp, delivery)", section);
    size_t i = 0;
    while (i < N_KEYS && !(strcmp(KEYS[i].section, section) == 0 && strcmp(KEYS[i].name, name) == 0))
        i++;
    if (i == N_KEYS)
        return fail(ps, "unknown key '%.64s' in [%s]", name, section);
    if (ps->seen[i])
        return fail(ps, "[%s] %s is set twice (first on line %d)", section, name, ps->seen[i]);
    ps->seen[i] = ps->line;
    if (set_value(ps->c, &KEYS[i], value) != 0) {
        char buf[96];
        return fail(ps, "[%s] %s %s, not '%.64s'", section, name, expected(&KEYS[i], buf, sizeof buf), value);
    }
    return 1;
}

int config_parse(const char *text, size_t len, const char *name, struct config *c, char *err, size_t errlen)
{
    config_defaults(c);
    struct parse ps = {.c = c, .name = name, .p = text, .end = text + len, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = 0;
    if (memchr(text, 0, len)) {
        snprintf(err, errlen, "%s: holds a NUL byte: not a text file", name);
        return -1;
    }
    int r = ini_parse_stream(line_reader, &ps, on_key, &ps);
    if (r == -2 || r == -1) {
        snprintf(err, errlen, "%s: cannot be parsed (out of memory)", name);
        return -1;
    }
    /* Report the earliest of: a line too long, a line libinih could not
     * read (r), a key or value the handler refused. */
    int first = ps.err_line;
    if (ps.long_line && (!first || ps.long_line < first)) {
        snprintf(err, errlen, "%s:%d: line is too long (at most 198 characters)", name, ps.long_line);
        return -1;
    }
    if (r > 0 && (!first || r < first)) {
        snprintf(err, errlen, "%s:%d: not a 'key = value' line, a [section] or a comment", name, r);
        return -1;
    }
    return first ? -1 : 0;
}

int config_load(const char *path, struct config *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t len = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    int bad_read = ferror(f);
    fclose(f);
    int rc = -1;
    if (!text)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (bad_read)
        snprintf(err, errlen, "%s: cannot read", path);
    else if (len > CONFIG_FILE_MAX)
        snprintf(err, errlen, "%s: larger than %d bytes: not a configuration file", path, CONFIG_FILE_MAX);
    else
        rc = config_parse(text, len, path, c, err, errlen);
    free(text);
    return rc;
}
