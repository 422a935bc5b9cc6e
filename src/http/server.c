/* server.c — libmicrohttpd glue. Each connection gets its own thread
 * (MHD_USE_THREAD_PER_CONNECTION): a redemption blocks its thread until the
 * group commit holding it is durable, and other connections are not held
 * up. Each request gets an arena and a capped body buffer, both freed when
 * MHD reports the request complete. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <yajl/yajl_gen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/client_ip.h"
#include "http/http.h"
#include "http/router.h"
#include "http/tls.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CONNECTION_LIMIT 4096
#define URL_MAX 8192
#define HEADERS_MAX (32 * 1024)
#define CONNECTION_TIMEOUT_S 30

struct http_server {
    struct MHD_Daemon *d;
    struct api_ctx *ctx;
    struct http_tls_pem tls; /* kept (key wiped at stop) while the daemon may read it */
};

/* One request's state, from its first byte to its completion. */
struct req_state {
    struct arena a;
    struct buf body;
    struct route_match m;
    int route_status; /* 200, 404 or 405 */
    int answered; /* an error was sent before the body was read: ignore the rest */
};

/* ---- answers ----------------------------------------------------------------- */

struct stream_adapter {
    api_stream_fn fn;
    void *cls;
    void (*free_cls)(void *);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_adapter *s = cls;
    ssize_t n = s->fn(s->cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
    struct stream_adapter *s = cls;
    if (s->free_cls)
        s->free_cls(s->cls);
    free(s);
}

static void count_status(struct api_ctx *ctx, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&ctx->requests[cls], 1);
}

/* Storefront tokens call /v1/validate from shoppers' browsers, on the
 * shop's origin, not promo's: without these headers a browser would not
 * send the call (or not let the page read the answer). Any origin may: the
 * credential is a bearer token the page holds, never a cookie the browser
 * adds by itself, so CORS opens nothing a script could not do with curl.
 * Only this route: the other roles' tokens have no business in a browser.
 * A preflight (204) also says what the real call may carry. */
static bool cors_route(const char *path)
{
    return strcmp(path, "/v1/validate") == 0;
}

static void add_cors_headers(struct MHD_Response *resp, bool preflight)
{
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (preflight) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "POST");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type, Accept-Language");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    } else {
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Retry-After");
    }
}

/* Writes a jansson value with yajl's generator, which writes straight into
 * one growing buffer: about half of what json_dumpb spent on an answer.
 * Same text as jansson's compact form: members in insertion order, "/" and
 * non-ASCII left as they are, reals as %.10g with ".0" when they would
 * read as integers. yajl_gen_status_ok, or an error (yajl nests at most
 * 128 levels: a deeper answer is written by jansson instead). */
static yajl_gen_status gen_value(yajl_gen g, json_t *v)
{
    yajl_gen_status st;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        if ((st = yajl_gen_map_open(g)) != yajl_gen_status_ok)
            return st;
        json_object_foreach(v, k, x)
        {
            if ((st = yajl_gen_string(g, (const unsigned char *)k, strlen(k))) != yajl_gen_status_ok ||
                (st = gen_value(g, x)) != yajl_gen_status_ok)
                return st;
        }
        return yajl_gen_map_close(g);
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        if ((st = yajl_gen_array_open(g)) != yajl_gen_status_ok)
            return st;
        json_array_foreach(v, i, x) if ((st = gen_value(g, x)) != yajl_gen_status_ok) return st;
        return yajl_gen_array_close(g);
    }
    case JSON_STRING:
        return yajl_gen_string(g, (const unsigned char *)json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return (yajl_gen_status)api_gen_int(g, (long long)json_integer_value(v));
    case JSON_REAL: {
        char b[40];
        int n = snprintf(b, sizeof b - 2, "%.10g", json_real_value(v));
        if (n > 0 && !strpbrk(b, ".eEn")) {
            memcpy(b + n, ".0", 3);
            n += 2;
        }
        return yajl_gen_number(g, b, (size_t)n);
    }
    case JSON_TRUE:
        return yajl_gen_bool(g, 1);
    case JSON_FALSE:
        return yajl_gen_bool(g, 0);
    default:
        return yajl_gen_null(g);
    }
}

/* The JSON text of an answer and a newline, malloc'd (*len bytes), or
 * NULL. yajl writes it; jansson when yajl cannot (too deep, out of memory). */
static char *answer_text(json_t *j, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g && gen_value(g, j) == yajl_gen_status_ok && (text = api_gen_text(g, &n)) != NULL) {
        yajl_gen_free(g);
        *len = n;
        return text;
    }
    if (g)
        yajl_gen_free(g);
    char *t = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!t)
        return NULL;
    n = strlen(t);
    if (!(text = realloc(t, n + 2))) {
        free(t);
        return NULL;
    }
    text[n] = '\n';
    text[n + 1] = 0;
    *len = n + 1;
    return text;
}

/* Sends w and releases what it holds. */
static enum MHD_Result send_answer(struct MHD_Connection *c, struct api_ctx *ctx, struct api_resp *w)
{
    struct MHD_Response *resp = NULL;
    const char *ctype = w->content_type ? w->content_type : "application/json; charset=utf-8";
    if (w->stream) {
        struct stream_adapter *s = malloc(sizeof(*s));
        if (s) {
            *s = (struct stream_adapter){w->stream, w->stream_cls, w->stream_free};
            resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, s, stream_free);
            if (!resp)
                stream_free(s);
        } else if (w->stream_free) {
            w->stream_free(w->stream_cls);
        }
    } else if (w->text) {
        resp = MHD_create_response_from_buffer(w->text_len, w->text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(w->text);
    } else {
        if (!w->json) {
            w->status = 500;
            w->json = json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message", "no answer was produced");
        }
        size_t len = 0;
        char *body = answer_text(w->json, &len);
        if (body) {
            resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
            if (!resp)
                free(body);
        }
    }
    if (w->json)
        json_decref(w->json);
    w->json = NULL;
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (w->header_name)
        MHD_add_response_header(resp, w->header_name, w->header_value);
    if (w->cors)
        add_cors_headers(resp, w->status == 204);
    /* A handler that sends its own challenge (the token endpoint's Basic) replaces this one. */
    if (w->status == 401 && !(w->header_name && strcasecmp(w->header_name, MHD_HTTP_HEADER_WWW_AUTHENTICATE) == 0))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"promo\"");
    count_status(ctx, w->status);
    enum MHD_Result r = MHD_queue_response(c, (unsigned)w->status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *c, struct api_ctx *ctx, enum promo_err e,
                                  const char *msg, const char *hname, const char *hval)
{
    struct api_resp w = {0};
    api_error(&w, e, "%s", msg);
    w.header_name = hname;
    w.header_value = hval;
    return send_answer(c, ctx, &w);
}

/* ---- requests ---------------------------------------------------------------- */

static const char *query_get(void *qctx, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)qctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum promo_lang pick_lang(struct MHD_Connection *c)
{
    const char *al = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
    /* The first language listed decides: "ko-KR,ko;q=0.9,en" → Korean. */
    if (al) {
        while (*al == ' ')
            al++;
        if (strncasecmp(al, "ko", 2) == 0)
            return PROMO_LANG_KO;
    }
    return PROMO_LANG_EN;
}

static const char *bearer(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

/* Decides the answer into w: the client IP's limits first (a flood costs
 * one table lookup), the route, authentication, the token's limits, the
 * role, then the handler. A refusal leaves its reason in r->refusal. */
static void route(struct MHD_Connection *c, struct req_state *rs, struct api_req *r, struct api_resp *w)
{
    /* CORS headers only for a browser's cross-origin call (it sends
     * Origin): server-to-server callers do not need them, and each header
     * is three allocations in libmicrohttpd on the busiest route. */
    w->cors = cors_route(r->path) && MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin") != NULL;
    if (!api_guard_ip(r, w))
        return;
    if (w->cors && strcmp(r->method, "OPTIONS") == 0) {
        w->status = 204; /* the CORS preflight: no token, no body */
        w->text = strdup("");
        w->content_type = "text/plain";
        return;
    }
    if (rs->route_status == 404)
        return api_error(w, PROMO_NOT_FOUND, "no such route");
    if (rs->route_status == 405) {
        char allow[128];
        api_error(w, PROMO_METHOD_NOT_ALLOWED, "this method is not allowed on this route");
        w->header_name = MHD_HTTP_HEADER_ALLOW;
        w->header_value = arena_strdup(r->a, router_allowed(r->path, allow, sizeof allow));
        return;
    }
    if (r->idem_key && (!*r->idem_key || strlen(r->idem_key) > 255))
        return api_error(w, PROMO_BAD_REQUEST, "Idempotency-Key must be 1 to 255 characters");
    if (rs->m.route->roles) {
        enum promo_err rc = api_authenticate(r->ctx, r->a, bearer(c), r->now, &r->auth);
        if (rc == PROMO_UNAUTHORIZED) {
            r->refusal = !bearer(c) ? "no bearer token" : r->auth.id ? "token revoked or expired" : "unknown token";
            return api_error(w, rc, "a valid bearer token is required (Authorization: Bearer <token>)");
        }
        if (rc != PROMO_OK)
            return api_error(w, PROMO_UNAVAILABLE, "the store is not available; try again shortly");
        if (!api_guard_token(r, w))
            return;
        if (!(rs->m.route->roles & (unsigned)core_role_parse(r->auth.role))) {
            r->refusal = "role not allowed on this route";
            return api_error(w, PROMO_FORBIDDEN, "a token with the role %s may not %s %s",
                             r->auth.role ? r->auth.role : "?", r->method, rs->m.route->pattern);
        }
    }
    rs->m.route->handler(r, w);
}

static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *c, struct req_state *rs,
                                const char *method, const char *url)
{
    struct api_ctx *ctx = s->ctx;
    char ip[CLIENT_IP_MAX];
    http_client_ip(c, ctx->cfg && ctx->cfg->trust_forwarded_for, ip);
    struct api_req r = {
        .ctx = ctx,
        .a = &rs->a,
        .method = method,
        .path = url,
        .body = rs->body.data ? rs->body.data : "",
        .body_len = rs->body.len,
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .lang = pick_lang(c),
        .idem_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key"),
        .query = query_get,
        .qctx = c,
        .now = time_now(),
        .client_ip = ip,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
    };
    for (int i = 0; i < rs->m.n_params; i++)
        r.params[i] = arena_strndup(&rs->a, rs->m.param[i], rs->m.param_len[i]);
    struct api_resp w = {0};
    route(c, rs, &r, &w);
    /* MHD sends no body for HEAD; the status and headers still tell. */
    enum MHD_Result res = send_answer(c, ctx, &w);
    api_audit_record(ctx, &r, w.status); /* after the answer is queued: never delays it */
    return res;
}

/* Percent-decoding that refuses to decode %00: a NUL would cut the path
 * short and "cmp_x%00junk" would find cmp_x. Such a path is left encoded,
 * so it matches nothing and gets a 404. */
static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    for (const char *p = s; (p = strchr(p, '%')); p++)
        if (p[1] == '0' && p[2] == '0')
            return strlen(s);
    return MHD_http_unescape(s);
}

/* Counts Content-Length and Transfer-Encoding headers: two lengths that
 * disagree, or a length next to chunked encoding, are how requests are
 * smuggled past proxies, so such a request is refused outright. */
struct framing {
    int lengths, te;
    const char *first_len;
    int differ;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->lengths++ && (!f->first_len || !value || strcmp(f->first_len, value) != 0))
            f->differ = 1;
        if (!f->first_len)
            f->first_len = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te++;
    }
    return MHD_YES;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct req_state *rs = *con_cls;
    if (!rs) {
        rs = calloc(1, sizeof(*rs));
        if (!rs)
            return MHD_NO;
        *con_cls = rs;
        rs->route_status = router_find(method, url, &rs->m);
        size_t hsize = 0;
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &hsize);
        if (strlen(url) > URL_MAX) {
            rs->answered = 1;
            return send_error(c, s->ctx, PROMO_URI_TOO_LONG, "the URL is longer than 8192 bytes",
                              MHD_HTTP_HEADER_CONNECTION, "close");
        }
        struct framing fr = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &fr);
        if (fr.differ || (fr.lengths && fr.te) || fr.te > 1) {
            rs->answered = 1;
            return send_error(c, s->ctx, PROMO_BAD_REQUEST,
                              "conflicting Content-Length / Transfer-Encoding headers",
                              MHD_HTTP_HEADER_CONNECTION, "close");
        }
        if (hsize > HEADERS_MAX) {
            rs->answered = 1;
            return send_error(c, s->ctx, PROMO_HEADERS_TOO_LARGE, "the request headers exceed 32 KiB",
                              MHD_HTTP_HEADER_CONNECTION, "close");
        }
        size_t max = rs->route_status == 200 ? rs->m.route->body_max : 4096;
        buf_init(&rs->body, max);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > max) {
            rs->answered = 1;
            return send_error(c, s->ctx, PROMO_PAYLOAD_TOO_LARGE, "the request body is larger than this route accepts",
                              MHD_HTTP_HEADER_CONNECTION, "close");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rs->answered && buf_append(&rs->body, upload_data, *upload_size) != 0) {
            rs->answered = 1;
            *upload_size = 0;
            return send_error(c, s->ctx, PROMO_PAYLOAD_TOO_LARGE, "the request body is larger than this route accepts",
                              MHD_HTTP_HEADER_CONNECTION, "close");
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rs->answered)
        return MHD_YES;
    return dispatch(s, c, rs, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req_state *rs = *con_cls;
    if (!rs)
        return;
    arena_free(&rs->a);
    buf_free(&rs->body);
    free(rs);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    log_warn("http: %s", line);
}

/* ---- listener ------------------------------------------------------------------ */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen + strlen(listen) - 1) {
        snprintf(err, errlen, "--listen must be HOST:PORT, such as 127.0.0.1:8080");
        return -1;
    }
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host) {
        snprintf(err, errlen, "--listen host is too long");
        return -1;
    }
    memcpy(host, listen, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) {
        snprintf(err, errlen, "--listen port must be 1 to 65535");
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1) {
            snprintf(err, errlen, "--listen: %s is not an IPv6 address", host + 1);
            return -1;
        }
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "0.0.0.0") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
        snprintf(err, errlen, "--listen: %s is not an IPv4 address (use [::1] for IPv6)", host);
        return -1;
    }
    return 0;
}

/* The TLS options when tls is given (the PEM text is loaded into s->tls),
 * else just the end marker: MHD_OPTION_ARRAY takes either. */
static int tls_options(struct http_server *s, const struct http_tls *tls, struct MHD_OptionItem opt[4],
                       unsigned *flags, char *err, size_t errlen)
{
    opt[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (!tls)
        return 0;
    if (http_tls_load(tls->cert_file, tls->key_file, &s->tls, err, errlen) != 0)
        return -1;
    opt[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls.cert};
    opt[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls.key};
    opt[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES};
    opt[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    *flags |= MHD_USE_TLS;
    return 0;
}

struct http_server *http_start(struct api_ctx *ctx, const char *listen, const struct http_tls *tls,
                               char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (parse_listen(listen, &ss, err, errlen) != 0)
        return NULL;
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->ctx = ctx;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls_opt[4];
    if (tls_options(s, tls, tls_opt, &flags, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_ARRAY, tls_opt,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                            /* Room for 64 KiB of URL or headers, so that even those get a
                             * JSON 414/431 from us instead of libmicrohttpd's HTML page,
                             * and no more: libmicrohttpd zeroes the whole pool after
                             * every request, so its size is paid on every call (at
                             * 256 KiB that memset was 13% of the server's CPU under
                             * load). tests/api/test_hostile.py checks both sizes. */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(96 * 1024),
                            MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                            MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not an address of this machine%s)", listen,
                 tls ? ", or TLS could not start: see the log above" : "");
        http_tls_free(&s->tls);
        free(s);
        return NULL;
    }
    return s;
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    http_tls_free(&s->tls);
    free(s);
}
