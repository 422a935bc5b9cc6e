/* cli_http.c — every byte the CLI exchanges with the server goes through
 * here: one libcurl handle per run (the connection is kept between calls),
 * JSON answers parsed by jansson, refusals turned into one line on stderr,
 * and the two streamed transfers (export to a file, import from a file). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli_int.h"

#define ANSWER_MAX ((size_t)512 << 20) /* an answer held in memory, at most */
#define ERROR_BODY_MAX ((size_t)64 << 10)
#define UPLOAD_BAR_MIN ((curl_off_t)1 << 20) /* files this large show a progress bar */
#define BAR_WIDTH 10

/* JSON bodies keep their decimals short: 12.5, never 12.4999999999. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

void cli_answer_free(struct cli_answer *ans)
{
    cli_buf_free(&ans->body);
    json_decref(ans->json);
    ans->json = NULL;
}

void cli_buf_escape(struct cli_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            cli_buf_add(b, p, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            cli_buf_add(b, e, 3);
        }
    }
}

/* ---- progress bar ---------------------------------------------------------------- */

void cli_progress(const char *done_text, const char *total_text, double fraction)
{
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    char bar[BAR_WIDTH + 1];
    int full = (int)(fraction * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < full ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %d%% %s/%s\033[K", bar, (int)(fraction * 100), done_text, total_text);
    fflush(stderr);
}

void cli_progress_end(void)
{
    fputc('\n', stderr);
}

/* ---- receiving ------------------------------------------------------------------- */

static size_t collect(char *data, size_t size, size_t n, void *userp)
{
    struct cli_answer *ans = userp;
    size_t len = size * n;
    if (ans->body.len + len > ANSWER_MAX)
        return 0; /* CURLE_WRITE_ERROR */
    cli_buf_add(&ans->body, data, len);
    return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    *value = line + n + 1;
    while (**value == ' ' || **value == '\t')
        (*value)++;
    return true;
}

/* Notes the headers a command reports: a replayed redemption, Retry-After. */
static size_t on_header(char *line, size_t size, size_t n, void *userp)
{
    struct cli_answer *ans = userp;
    size_t len = size * n;
    const char *v;
    if (header_is(line, len, "Idempotent-Replayed", &v))
        ans->replayed = strncasecmp(v, "true", 4) == 0;
    else if (header_is(line, len, "Retry-After", &v))
        ans->retry_after = strtol(v, NULL, 10);
    return len;
}

/* The options every request shares. The returned list is freed by the
 * caller after the transfer. */
static struct curl_slist *prepare(struct cli *c, const char *path, const char *content_type,
                                  const char *accept, const char *const *extra, bool upload, char *errbuf,
                                  struct cli_buf *url)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    cli_buf_printf(url, "%s%s", c->url, path);
    curl_easy_setopt(h, CURLOPT_URL, url->p);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "promo-cli/1");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    errbuf[0] = '\0';

    struct curl_slist *hl = NULL, *t;
    struct cli_buf line = {0};
    if (c->token) {
        cli_buf_printf(&line, "Authorization: Bearer %s", c->token);
        if (!(hl = curl_slist_append(hl, line.p)))
            cli_oom();
        line.len = 0;
    }
    if (c->lang) {
        cli_buf_printf(&line, "Accept-Language: %s", c->lang);
        if (!(t = curl_slist_append(hl, line.p)))
            cli_oom();
        hl = t;
        line.len = 0;
    }
    cli_buf_printf(&line, "Accept: %s", accept);
    if (!(t = curl_slist_append(hl, line.p)))
        cli_oom();
    hl = t;
    line.len = 0;
    /* A body-less POST must not claim to be a form. */
    cli_buf_printf(&line, "Content-Type:%s%s", content_type ? " " : "", content_type ? content_type : "");
    if (!(t = curl_slist_append(hl, line.p)))
        cli_oom();
    hl = t;
    /* Small bodies go at once; only a file upload waits for 100-continue. */
    if (!upload) {
        if (!(t = curl_slist_append(hl, "Expect:")))
            cli_oom();
        hl = t;
    }
    for (; extra && *extra; extra++) {
        if (!(t = curl_slist_append(hl, *extra)))
            cli_oom();
        hl = t;
    }
    cli_buf_free(&line);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    return hl;
}

/* Explains a transfer that got no complete answer; returns the exit code. */
static int transport_error(struct cli *c, CURLcode rc, const char *errbuf)
{
    fprintf(stderr, "promo: cannot reach the server at %s: %s\n", c->url,
            errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
    return CLI_UNREACHABLE;
}

static void parse_answer(struct cli *c, struct cli_answer *ans)
{
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &ans->status);
    if (ans->body.len) {
        json_error_t jerr;
        ans->json = json_loadb(ans->body.p, ans->body.len, JSON_DECODE_ANY, &jerr);
    }
}

int cli_send(struct cli *c, const char *method, const char *path, const char *body,
             const char *const *headers, struct cli_answer *ans)
{
    *ans = (struct cli_answer){.retry_after = -1};
    char errbuf[CURL_ERROR_SIZE];
    struct cli_buf url = {0};
    struct curl_slist *hl = prepare(c, path, body ? "application/json" : NULL, "application/json", headers,
                                    false, errbuf, &url);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ans);
    /* A server that stops sending for five minutes is gone. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 300L);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_POST, 1L);
        else
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    cli_buf_free(&url);
    if (rc == CURLE_WRITE_ERROR) {
        fprintf(stderr, "promo: the server's answer is larger than %zu MiB\n", ANSWER_MAX >> 20);
        return CLI_REFUSED;
    }
    if (rc != CURLE_OK)
        return transport_error(c, rc, errbuf);
    parse_answer(c, ans);
    return CLI_OK;
}

/* ---- refusals -------------------------------------------------------------------- */

/* First line of a non-JSON body, for an error message. */
static void body_snippet(const struct cli_buf *b, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; b->p && i < b->len && n + 1 < cap && b->p[i] != '\n' && b->p[i] != '\r'; i++)
        out[n++] = (unsigned char)b->p[i] < 0x20 ? '?' : b->p[i];
    out[n] = '\0';
}

int cli_refused(struct cli *c, const struct cli_answer *ans)
{
    if (c->json && ans->json)
        cli_print_json(ans->json);
    json_t *err = json_object_get(ans->json, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (code || msg) {
        fprintf(stderr, "promo: %s: %s", code ? code : "error", msg ? msg : "(no message)");
    } else {
        char snip[200];
        body_snippet(&ans->body, snip, sizeof snip);
        fprintf(stderr, "promo: the server answered HTTP %ld%s%s", ans->status, *snip ? ": " : "", snip);
    }
    if (ans->retry_after >= 0)
        fprintf(stderr, " (retry after %ld s)", ans->retry_after);
    fputc('\n', stderr);
    if (ans->status == 401 && !c->token)
        fputs("promo: no token given: pass --token TOKEN or set PROMO_TOKEN\n", stderr);
    return CLI_REFUSED;
}

/* A 2xx with a JSON body is a success; anything else a refusal. */
static int check(struct cli *c, struct cli_answer *ans)
{
    if (ans->status < 200 || ans->status > 299)
        return cli_refused(c, ans);
    if (!ans->json && ans->body.len == 0)
        ans->json = json_object();
    if (!ans->json) {
        fprintf(stderr, "promo: the server answered HTTP %ld with a body that is not JSON\n", ans->status);
        return CLI_REFUSED;
    }
    return CLI_OK;
}

int cli_call_text(struct cli *c, const char *method, const char *path, const char *body,
                  const char *const *headers, struct cli_answer *ans)
{
    int rc = cli_send(c, method, path, body, headers, ans);
    return rc != CLI_OK ? rc : check(c, ans);
}

int cli_call(struct cli *c, const char *method, const char *path, const json_t *body,
             const char *const *headers, struct cli_answer *ans)
{
    char *text = NULL;
    if (body && !(text = json_dumps(body, DUMP_FLAGS)))
        cli_oom();
    int rc = cli_call_text(c, method, path, text, headers, ans);
    free(text);
    return rc;
}

/* ---- export: streamed to a file -------------------------------------------------- */

struct download {
    struct cli *c;
    FILE *(*open_out)(void *ctx);
    void *ctx;
    FILE *out;
    bool failed_open, failed_write;
    int write_errno;
    struct cli_answer err; /* body of a refusal */
};

static size_t download_write(char *data, size_t size, size_t n, void *userp)
{
    struct download *d = userp;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(d->c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        if (d->err.body.len + len <= ERROR_BODY_MAX)
            cli_buf_add(&d->err.body, data, len);
        return len;
    }
    if (!d->out && !(d->out = d->open_out(d->ctx))) {
        d->failed_open = true;
        return 0;
    }
    if (fwrite(data, 1, len, d->out) != len) {
        d->failed_write = true;
        d->write_errno = errno;
        return 0;
    }
    return len;
}

int cli_download(struct cli *c, const char *path, FILE *(*open_out)(void *ctx), void *ctx)
{
    char errbuf[CURL_ERROR_SIZE];
    struct cli_buf url = {0};
    struct download d = {.c = c, .open_out = open_out, .ctx = ctx, .err = {.retry_after = -1}};
    struct curl_slist *hl = prepare(c, path, NULL, "text/csv, application/json", NULL, false, errbuf, &url);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, download_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &d.err);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 300L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    cli_buf_free(&url);
    int out;
    if (d.failed_open) {
        out = CLI_REFUSED; /* open_out said why */
    } else if (d.failed_write) {
        fprintf(stderr, "promo: cannot write the export: %s\n", strerror(d.write_errno));
        out = CLI_REFUSED;
    } else if (rc != CURLE_OK) {
        out = transport_error(c, rc, errbuf);
    } else {
        parse_answer(c, &d.err);
        if (d.err.status < 200 || d.err.status > 299)
            out = cli_refused(c, &d.err);
        else if (!d.out && !(d.out = open_out(ctx)))
            out = CLI_REFUSED; /* an empty export still makes its file */
        else
            out = CLI_OK;
    }
    cli_answer_free(&d.err);
    return out;
}

/* ---- import: streamed from a file ------------------------------------------------ */

struct upload {
    FILE *in;
    bool read_error;
    bool bar;       /* draw the progress bar */
    bool drawn;     /* something is on the stderr line */
    double last_ms; /* when the bar was last drawn */
};

static size_t upload_read(char *buf, size_t size, size_t n, void *userp)
{
    struct upload *u = userp;
    size_t got = fread(buf, 1, size * n, u->in);
    if (got == 0 && ferror(u->in)) {
        u->read_error = true;
        return CURL_READFUNC_ABORT;
    }
    return got;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void human_bytes(curl_off_t n, char *out, size_t cap)
{
    if (n >= ((curl_off_t)1 << 20))
        snprintf(out, cap, "%.1f MiB", (double)n / (1 << 20));
    else
        snprintf(out, cap, "%.0f KiB", (double)n / 1024);
}

static int upload_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    struct upload *u = userp;
    if (!u->bar || ultotal <= 0)
        return 0;
    double t = now_ms();
    if (ulnow < ultotal && t - u->last_ms < 100)
        return 0;
    if (ulnow == ultotal && u->drawn && u->last_ms < 0)
        return 0; /* 100% already drawn */
    char done[32], total[32];
    human_bytes(ulnow, done, sizeof done);
    human_bytes(ultotal, total, sizeof total);
    cli_progress(done, total, (double)ulnow / (double)ultotal);
    u->drawn = true;
    u->last_ms = ulnow == ultotal ? -1 : t;
    return 0;
}

int cli_upload(struct cli *c, const char *path, const char *file, const char *content_type,
               struct cli_answer *ans)
{
    *ans = (struct cli_answer){.retry_after = -1};
    bool is_stdin = strcmp(file, "-") == 0;
    struct upload u = {.in = is_stdin ? stdin : fopen(file, "rb")};
    if (!u.in) {
        fprintf(stderr, "promo: cannot open %s: %s\n", file, strerror(errno));
        return CLI_USAGE;
    }
    struct stat st;
    curl_off_t size = -1;
    if (fstat(fileno(u.in), &st) == 0 && S_ISREG(st.st_mode))
        size = (curl_off_t)st.st_size;
    u.bar = c->tty && size >= UPLOAD_BAR_MIN;

    char errbuf[CURL_ERROR_SIZE];
    struct cli_buf url = {0};
    /* Unknown length (a pipe): send it chunked. */
    const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};
    struct curl_slist *hl = prepare(c, path, content_type, "application/json", size < 0 ? chunked : NULL,
                                    true, errbuf, &url);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    if (size >= 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ans);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, upload_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &u);
    CURLcode rc = curl_easy_perform(h);
    if (u.drawn)
        cli_progress_end();
    curl_slist_free_all(hl);
    cli_buf_free(&url);
    if (!is_stdin)
        fclose(u.in);
    if (u.read_error) {
        fprintf(stderr, "promo: cannot read %s\n", file);
        return CLI_USAGE;
    }
    if (rc == CURLE_WRITE_ERROR) {
        fprintf(stderr, "promo: the server's answer is larger than %zu MiB\n", ANSWER_MAX >> 20);
        return CLI_REFUSED;
    }
    if (rc != CURLE_OK)
        return transport_error(c, rc, errbuf);
    parse_answer(c, ans);
    return check(c, ans);
}
