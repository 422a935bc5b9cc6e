/* audit.c — the audit log of API calls: recording (called by http/ once an
 * answer is queued) and GET /v1/audit (admin only), as JSON pages or a
 * streamed CSV. What is recorded: who (token id and role, client IP), what
 * (method, path with codes masked, status) and, for refusals, why. Never a
 * body, a header or a secret. */
#include <stdlib.h>
#include <string.h>

#include "api/csvout.h"
#include "api/jsonin.h"
#include "core/mask.h"
#include "util/timeutil.h"

#define AUDIT_PATH_MAX 256 /* longer paths are cut: the route is in the first bytes */

static bool mutating(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
           strcmp(method, "DELETE") == 0;
}

static bool api_path(const char *path)
{
    return strncmp(path, "/v1/", 4) == 0 || (strncmp(path, "/oauth", 6) == 0 && (!path[6] || path[6] == '/'));
}

/* POST /v1/validate changes nothing: it is a read that needs a body. Every
 * validation is in the event log already (code, customer, order, reason),
 * and a storefront's validations would otherwise outnumber every other
 * audit row many times over. Refused validations (401/403/429) are still
 * audited like any refused call. */
static bool read_only_post(const char *path) { return strcmp(path, "/v1/validate") == 0; }

void api_audit_record(struct api_ctx *ctx, const struct api_req *r, int status)
{
    bool refused = status == 401 || status == 403 || status == 429;
    if (!r || !r->method || !r->path ||
        !(refused || (mutating(r->method) && api_path(r->path) && !read_only_post(r->path))))
        return;
    char path[AUDIT_PATH_MAX];
    core_mask_path(r->path, path, sizeof path);
    const char *reason = r->refusal;
    if (!reason && refused)
        reason = promo_err_code(status == 401 ? PROMO_UNAUTHORIZED : status == 403 ? PROMO_FORBIDDEN
                                                                                   : PROMO_RATE_LIMITED);
    struct audit_entry e = {
        .at = time_now(), /* when the answer went out: keeps `at` in seq order */
        .token_id = r->auth.id,
        .role = r->auth.id ? r->auth.role : NULL,
        .ip = r->client_ip ? r->client_ip : "",
        .method = r->method,
        .path = path,
        .status = status,
        .reason = reason,
    };
    store_audit_append(ctx->st, &e);
}

/* ---- GET /v1/audit ------------------------------------------------------------- */

static bool query_time(struct api_req *r, const char *name, int64_t *out, struct api_resp *w)
{
    const char *s = r->query(r->qctx, name);
    if (!s)
        return true;
    if (time_parse_rfc3339(s, out) != 0) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be an RFC 3339 time with an offset, such as 2026-11-01T00:00:00Z",
                  name);
        return false;
    }
    return true;
}

static bool query_text(struct api_req *r, const char *name, size_t max, const char **out, struct api_resp *w)
{
    const char *s = r->query(r->qctx, name);
    if (s && (!*s || strlen(s) > max)) {
        api_error(w, PROMO_BAD_REQUEST, "%s must be 1 to %zu characters", name, max);
        return false;
    }
    *out = s;
    return true;
}

/* Reads every filter of the query string into f. */
static bool parse_filter(struct api_req *r, struct audit_filter *f, struct api_resp *w)
{
    memset(f, 0, sizeof(*f));
    if (!query_text(r, "token_id", 100, &f->token_id, w) || !query_text(r, "ip", 64, &f->ip, w) ||
        !query_text(r, "method", 10, &f->method, w) || !query_time(r, "since", &f->since, w) ||
        !query_time(r, "until", &f->until, w))
        return false;
    const char *st = r->query(r->qctx, "status");
    if (st) {
        char *end;
        long v = strtol(st, &end, 10);
        if (!*st || *end || v < 100 || v > 599) {
            api_error(w, PROMO_BAD_REQUEST, "status must be an HTTP status code from 100 to 599");
            return false;
        }
        f->status = (int)v;
    }
    return true;
}

static json_t *entry_json(const struct audit_entry *e)
{
    char at[TIME_STR_MAX];
    time_format(e->at, at);
    return json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s, s:s, s:i, s:s?, s:I}", "seq", (json_int_t)e->seq, "at", at,
                     "token_id", e->token_id, "role", e->role, "ip", e->ip, "method", e->method, "path", e->path,
                     "status", e->status, "reason", e->reason, "count", (json_int_t)e->count);
}

/* ---- CSV export, streamed a page at a time ------------------------------------------ */

struct export_stream {
    struct api_ctx *ctx;
    struct audit_filter f;
    char *token_id, *ip, *method; /* copies: the request's strings die before the stream ends */
    int64_t after;
};

static void csv_row(FILE *f, const struct audit_entry *e)
{
    char at[TIME_STR_MAX];
    time_format(e->at, at);
    fprintf(f, "%lld,%s,", (long long)e->seq, at);
    const char *cells[] = {e->token_id, e->role, e->ip, e->method, e->path};
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        api_csv_cell(f, cells[i]);
        fputc(',', f);
    }
    fprintf(f, "%d,", e->status);
    api_csv_cell(f, e->reason);
    fprintf(f, ",%lld\n", (long long)e->count);
}

static bool export_page(void *cls, FILE *f)
{
    struct export_stream *x = cls;
    struct arena a = {0};
    struct audit_entry *v;
    size_t n;
    int64_t next;
    if (store_audit_list(x->ctx->st, &a, &x->f, x->after, 1000, &v, &n, &next) != PROMO_OK)
        n = next = 0; /* see api_csv_page_fn */
    for (size_t i = 0; i < n; i++)
        csv_row(f, &v[i]);
    x->after = next;
    arena_free(&a);
    return next != 0;
}

static void export_free(void *cls)
{
    struct export_stream *x = cls;
    free(x->token_id);
    free(x->ip);
    free(x->method);
    free(x);
}

static char *dup_opt(const char *s, bool *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = false;
    return d;
}

static void export_csv(struct api_req *r, const struct audit_filter *f, int64_t after, struct api_resp *w)
{
    struct export_stream *x = calloc(1, sizeof(*x));
    bool ok = x != NULL;
    if (ok) {
        x->ctx = r->ctx;
        x->f = *f;
        x->after = after;
        x->f.token_id = x->token_id = dup_opt(f->token_id, &ok);
        x->f.ip = x->ip = dup_opt(f->ip, &ok);
        x->f.method = x->method = dup_opt(f->method, &ok);
    }
    if (!ok) {
        if (x)
            export_free(x);
        return api_store_error(w, PROMO_INTERNAL, "audit");
    }
    api_csv_stream(w, "seq,at,token_id,role,ip,method,path,status,reason,count\n", export_page, x, export_free);
}

void api_audit_list(struct api_req *r, struct api_resp *w)
{
    struct audit_filter f;
    int limit;
    if (!parse_filter(r, &f, w) || !jin_query_limit(r, &limit, w))
        return;
    const char *cursor = r->query(r->qctx, "cursor"), *format = r->query(r->qctx, "format");
    if (cursor && (!*cursor || strlen(cursor) > 18 || strspn(cursor, "0123456789") != strlen(cursor)))
        return api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
    int64_t after = cursor ? strtoll(cursor, NULL, 10) : 0;
    if (format && strcmp(format, "csv") == 0)
        return export_csv(r, &f, after, w);
    if (format && strcmp(format, "json") != 0)
        return api_error(w, PROMO_BAD_REQUEST, "format must be json or csv");
    struct audit_entry *v;
    size_t n;
    int64_t next;
    enum promo_err rc = store_audit_list(r->ctx->st, r->a, &f, after, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "audit");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, entry_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor",
                               next ? json_string(arena_printf(r->a, "%lld", (long long)next)) : json_null()));
}
