/* codes.c — /v1/campaigns/{id}/codes (generate, chosen, import, list,
 * export), /v1/codes/{code} (read, disable), /v1/campaigns/{id}/issue and
 * /v1/jobs/{id}. */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/csvout.h"
#include "api/jsonin.h"
#include "api/parse.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* Above this many codes, generation runs as a background job (202). */
#define CODES_SYNC_MAX 10000
#define CODES_COUNT_MAX 10000000

json_t *api_code_json(const struct code_info *ci);
json_t *api_code_json(const struct code_info *ci)
{
    char issued[TIME_STR_MAX], expires[TIME_STR_MAX];
    time_format(ci->k.issued_at, issued);
    if (ci->k.expires_at != PROMO_TIME_MAX)
        time_format(ci->k.expires_at, expires);
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:s, s:o, s:o}", "code", ci->k.code, "campaign_id",
                     ci->k.campaign_id, "state", ci->state ? ci->state : "active", "customer_id",
                     ci->k.customer_id ? json_string(ci->k.customer_id) : json_null(), "max_uses",
                     ci->k.max_uses == PROMO_UNLIMITED ? json_null() : json_integer(ci->k.max_uses),
                     "uses", (json_int_t)ci->k.uses, "issued_at", issued, "expires_at",
                     ci->k.expires_at == PROMO_TIME_MAX ? json_null() : json_string(expires), "channel",
                     ci->channel ? json_string(ci->channel) : json_null());
}

/* max_uses: absent → 1 (API.md: single-use unless said otherwise); null →
 * unlimited; else 1..MONEY_MAX. */
static bool parse_max_uses(json_t *body, int64_t *out, struct api_resp *w)
{
    json_t *v = json_object_get(body, "max_uses");
    *out = 1;
    if (v && json_is_null(v)) {
        *out = PROMO_UNLIMITED;
        return true;
    }
    return jin_int(body, "max_uses", "", false, 1, PROMO_MONEY_MAX, out, NULL, w);
}

static const char *const GEN_FIELDS[] = {"count", "pattern", "length", "prefix", "postfix", "charset",
                                         "max_uses", NULL};
static const char *const CHOSEN_FIELDS[] = {"code", "max_uses", "customer_id", "expires_at", NULL};

static bool parse_codegen(struct api_req *r, json_t *body, struct codegen *g, struct api_resp *w)
{
    const char *pattern = NULL, *prefix = NULL, *postfix = NULL, *charset = NULL;
    int64_t length = 0;
    if (!jin_str(r->a, body, "pattern", "", false, false, 256, &pattern, w) ||
        !jin_int(body, "length", "", false, 1, PROMO_CODE_MAX, &length, NULL, w) ||
        !jin_str(r->a, body, "prefix", "", false, false, 256, &prefix, w) ||
        !jin_str(r->a, body, "postfix", "", false, false, 256, &postfix, w) ||
        !jin_str(r->a, body, "charset", "", false, false, 256, &charset, w))
        return false;
    const char *field = NULL, *why = NULL;
    if (codefmt_prepare(g, pattern, length, prefix, postfix, charset, &field, &why) != PROMO_OK) {
        api_error(w, PROMO_BAD_REQUEST, "%s: %s", field ? field : "pattern", why ? why : "invalid");
        return false;
    }
    return true;
}

static void job_json(struct api_resp *w, int status, const struct job *j)
{
    api_json(w, status,
             json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I, s:s?}", "id", j->id, "type", j->type,
                       "campaign_id", j->campaign_id, "status", j->status, "done", (json_int_t)j->done,
                       "total", (json_int_t)j->total, "error", j->error));
}

static void generate(struct api_req *r, json_t *body, struct api_resp *w)
{
    int64_t count = 0, max_uses = 1;
    struct codegen g;
    if (!jin_only(body, "", GEN_FIELDS, w) ||
        !jin_int(body, "count", "", true, 1, CODES_COUNT_MAX, &count, NULL, w) ||
        !parse_max_uses(body, &max_uses, w) || !parse_codegen(r, body, &g, w))
        return;
    enum promo_err rc;
    if (count <= CODES_SYNC_MAX) {
        int64_t made = 0;
        rc = store_codes_generate(r->ctx->st, r->params[0], &g, count, max_uses, NULL, NULL, r->now, &made);
        if (rc == PROMO_OK) {
            atomic_fetch_add(&r->ctx->codes_generated, made);
            return api_json(w, 201, json_pack("{s:I}", "generated", (json_int_t)made));
        }
    } else {
        /* Reserve the whole count first so the keyspace guard and max_issued
         * answer now, not halfway through the job. */
        rc = store_codes_reserve(r->ctx->st, r->params[0], &g, count);
        if (rc == PROMO_OK) {
            char id[PROMO_ID_MAX];
            util_rand_id("job_", id, sizeof id);
            json_t *params = json_pack("{s:s, s:s, s:I}", "pattern", g.pattern, "charset", g.charset,
                                       "max_uses", (json_int_t)max_uses);
            char *ps = json_dumps(params, JSON_COMPACT);
            json_decref(params);
            struct job j = {.id = id, .type = "generate_codes", .campaign_id = r->params[0],
                            .status = "running", .total = count, .params = ps, .created_at = r->now};
            rc = store_job_create(r->ctx->st, &j);
            free(ps);
            if (rc == PROMO_OK) {
                api_jobs_kick(r->ctx);
                return job_json(w, 202, &j);
            }
        }
    }
    if (rc == PROMO_KEYSPACE_TOO_SMALL)
        return api_error(w, rc,
                         "%lld more codes of pattern %s would leave fewer than 1,000,000 possible "
                         "strings per valid code: make the pattern longer or the charset larger",
                         (long long)count, g.pattern);
    if (rc == PROMO_CAMPAIGN_LIMIT_REACHED)
        return api_error(w, rc, "the campaign's limits.max_issued does not leave room for %lld more codes",
                         (long long)count);
    api_store_error(w, rc, "campaign");
}

static void add_chosen(struct api_req *r, json_t *body, struct api_resp *w)
{
    const char *code = NULL, *customer = NULL, *exp = NULL;
    struct code k = {.expires_at = PROMO_TIME_MAX};
    if (!jin_only(body, "", CHOSEN_FIELDS, w) ||
        !jin_str(r->a, body, "code", "", true, false, 1024, &code, w) ||
        !jin_str(r->a, body, "customer_id", "", false, true, 200, &customer, w) ||
        !jin_str(r->a, body, "expires_at", "", false, true, 64, &exp, w) ||
        !parse_max_uses(body, &k.max_uses, w))
        return;
    if (codefmt_check_shown(code, strlen(code), k.code) != PROMO_OK)
        return api_error(w, PROMO_BAD_REQUEST,
                         "code must be 1 to %d letters, digits, '-', '_' or '.'", PROMO_CODE_MAX);
    if (exp && time_parse_rfc3339(exp, &k.expires_at) != 0)
        return api_error(w, PROMO_BAD_REQUEST, "expires_at must be an RFC 3339 time with an offset");
    k.customer_id = customer;
    struct code_info out;
    enum promo_err rc = store_code_add(r->ctx->st, r->a, r->params[0], &k, r->now, &out);
    if (rc == PROMO_OK)
        return api_json(w, 201, api_code_json(&out));
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "the code %s already exists (codes are unique across all campaigns, "
                                "ignoring case, spaces and dashes)", k.code);
    if (rc == PROMO_CAMPAIGN_LIMIT_REACHED)
        return api_error(w, rc, "the campaign's limits.max_issued is reached");
    api_store_error(w, rc, "campaign");
}

void api_codes_create(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    if (json_object_get(body, "code") && json_object_get(body, "count"))
        api_error(w, PROMO_BAD_REQUEST, "give either code (one chosen code) or count (generated codes), not both");
    else if (json_object_get(body, "code"))
        add_chosen(r, body, w);
    else if (json_object_get(body, "count"))
        generate(r, body, w);
    else
        api_error(w, PROMO_BAD_REQUEST, "count (to generate codes) or code (one chosen code) is required");
    json_decref(body);
}

/* ---- import ------------------------------------------------------------------ */

enum { COL_CODE, COL_CUSTOMER, COL_MAX_USES, COL_EXPIRES, COL_N };

struct csv_state {
    struct arena *a;
    struct import_row *rows;
    size_t n, cap;
    int line;           /* current record's line number */
    int next_line;      /* line where the next record starts */
    int cols[8];        /* column index → COL_* (-1 unknown) */
    int ncols;
    const char *fields[COL_N];
    int nfield;
    bool bad_field;     /* more fields than known */
};

static const char *csv_names[COL_N] = {"code", "customer_id", "max_uses", "expires_at"};

static void csv_field(void *s, size_t len, void *data)
{
    struct csv_state *cs = data;
    int col = cs->nfield++;
    int which = col < cs->ncols ? cs->cols[col] : -1;
    if (which < 0) {
        cs->bad_field = true;
        return;
    }
    cs->fields[which] = s ? arena_strndup(cs->a, s, len) : NULL;
}

static struct import_row *row_new(struct csv_state *cs)
{
    if (cs->n == cs->cap) {
        size_t ncap = cs->cap ? cs->cap * 2 : 256;
        struct import_row *nr = realloc(cs->rows, sizeof(*nr) * ncap);
        if (!nr)
            abort();
        cs->rows = nr;
        cs->cap = ncap;
    }
    struct import_row *row = &cs->rows[cs->n++];
    memset(row, 0, sizeof(*row));
    row->line = cs->line;
    row->k.expires_at = PROMO_TIME_MAX;
    row->k.max_uses = 1;
    return row;
}

static void row_check(struct csv_state *cs, struct import_row *row)
{
    const char **f = cs->fields;
    if (cs->bad_field) {
        row->reject_reason = "malformed: more fields than the columns code,customer_id,max_uses,expires_at";
        return;
    }
    if (!f[COL_CODE] || !*f[COL_CODE]) {
        row->reject_reason = "malformed: the code is empty";
        return;
    }
    if (codefmt_check_shown(f[COL_CODE], strlen(f[COL_CODE]), row->k.code) != PROMO_OK) {
        row->reject_reason = "malformed: a code is 1 to 64 letters, digits, '-', '_' or '.'";
        return;
    }
    if (f[COL_CUSTOMER] && *f[COL_CUSTOMER]) {
        if (strlen(f[COL_CUSTOMER]) > 200) {
            row->reject_reason = "malformed: customer_id is longer than 200 bytes";
            return;
        }
        row->k.customer_id = f[COL_CUSTOMER];
    }
    if (f[COL_MAX_USES] && *f[COL_MAX_USES]) {
        char *end;
        long long v = strtoll(f[COL_MAX_USES], &end, 10);
        if (strcasecmp(f[COL_MAX_USES], "unlimited") == 0)
            row->k.max_uses = PROMO_UNLIMITED;
        else if (*end || v < 1 || v > PROMO_MONEY_MAX) {
            row->reject_reason = "malformed: max_uses must be a whole number of at least 1, or unlimited";
            return;
        } else
            row->k.max_uses = v;
    }
    if (f[COL_EXPIRES] && *f[COL_EXPIRES] && time_parse_rfc3339(f[COL_EXPIRES], &row->k.expires_at) != 0) {
        row->reject_reason = "malformed: expires_at must be an RFC 3339 time with an offset";
        return;
    }
}

static void csv_row(int term, void *data)
{
    (void)term;
    struct csv_state *cs = data;
    /* A blank line is one empty field: skipped, but it still counts. */
    if (!(cs->nfield <= 1 && (!cs->fields[COL_CODE] || !*cs->fields[COL_CODE])))
        row_check(cs, row_new(cs));
    memset(cs->fields, 0, sizeof cs->fields);
    cs->nfield = 0;
    cs->bad_field = false;
    cs->line = cs->next_line;
}

/* The length of the line at s (at most n bytes) with its ending: "\n",
 * "\r\n", or a lone "\r", which libcsv also takes as the end of a record
 * (old Mac files). Counting lone CRs too keeps every row's line number
 * right; before, each record after a lone CR was reported one line late
 * (found by tests/fuzz/fuzz_csv). */
static size_t csv_line_len(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            return i + 1;
        if (s[i] == '\r')
            return i + 1 < n && s[i + 1] == '\n' ? i + 2 : i + 1;
    }
    return n;
}

/* libcsv reports fields and rows but not line numbers; rows never span
 * lines here except inside quotes, so the line of each row is found by
 * counting lines as the parser consumes the input line by line. */
static int parse_csv(struct csv_state *cs, const char *body, size_t len, const char **header_err)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0)
        return -1;
    *header_err = NULL;
    /* Read the header line by hand to learn the column order. */
    size_t hfull = csv_line_len(body, len), hlen = hfull;
    while (hlen && (body[hlen - 1] == '\n' || body[hlen - 1] == '\r'))
        hlen--;
    if (hlen >= 4 && strncasecmp(body, "code", 4) == 0 && (hlen == 4 || body[4] == ',' || body[4] == '\r')) {
        cs->ncols = 0;
        const char *s = body;
        while (s < body + hlen && cs->ncols < 8) {
            const char *e = memchr(s, ',', (size_t)(body + hlen - s));
            size_t flen = e ? (size_t)(e - s) : (size_t)(body + hlen - s);
            while (flen && (s[flen - 1] == '\r' || s[flen - 1] == ' '))
                flen--;
            int col = -1;
            for (int i = 0; i < COL_N; i++)
                if (strlen(csv_names[i]) == flen && strncasecmp(s, csv_names[i], flen) == 0)
                    col = i;
            if (col < 0) {
                *header_err = "the header names an unknown column (known: code,customer_id,max_uses,expires_at)";
                csv_free(&p);
                return -1;
            }
            cs->cols[cs->ncols++] = col;
            if (!e)
                break;
            s = e + 1;
        }
        body += hfull;
        len -= hfull;
        cs->line = cs->next_line = 2;
    } else {
        for (int i = 0; i < COL_N; i++)
            cs->cols[i] = i;
        cs->ncols = COL_N;
        cs->line = cs->next_line = 1;
    }
    size_t off = 0;
    while (off < len) {
        size_t chunk = csv_line_len(body + off, len - off);
        cs->next_line++;
        if (csv_parse(&p, body + off, chunk, csv_field, csv_row, cs) != chunk) {
            struct import_row *row = row_new(cs);
            row->reject_reason = "malformed: bad quoting";
            /* Start over after the broken line. */
            csv_free(&p);
            csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL);
            memset(cs->fields, 0, sizeof cs->fields);
            cs->nfield = 0;
            cs->line = cs->next_line;
        }
        off += chunk;
    }
    csv_fini(&p, csv_field, csv_row, cs);
    csv_free(&p);
    return 0;
}

int api_parse_csv(struct arena *a, const char *body, size_t len, struct import_row **rows, size_t *n,
                  const char **header_err)
{
    struct csv_state cs = {.a = a};
    if (parse_csv(&cs, body, len, header_err) != 0) {
        free(cs.rows);
        return -1;
    }
    *rows = cs.rows;
    *n = cs.n;
    return 0;
}

void api_codes_import(struct api_req *r, struct api_resp *w)
{
    if (r->content_type && strncasecmp(r->content_type, "text/csv", 8) != 0 &&
        strncasecmp(r->content_type, "text/plain", 10) != 0)
        return api_error(w, PROMO_UNSUPPORTED_MEDIA, "send the codes as text/csv");
    if (r->body_len == 0)
        return api_error(w, PROMO_BAD_REQUEST, "the CSV is empty: send one code a line");
    if (memchr(r->body, 0, r->body_len))
        return api_error(w, PROMO_BAD_REQUEST, "the CSV contains a NUL byte");
    struct import_row *rows = NULL;
    size_t n = 0;
    const char *herr;
    if (api_parse_csv(r->a, r->body, r->body_len, &rows, &n, &herr) != 0)
        return api_error(w, PROMO_BAD_REQUEST, "%s", herr ? herr : "the CSV cannot be read");
    int64_t imported = 0;
    enum promo_err rc = store_codes_import(r->ctx->st, r->a, r->params[0], rows, n, r->now, &imported);
    if (rc != PROMO_OK) {
        free(rows);
        return api_store_error(w, rc, "campaign");
    }
    json_t *rej = json_array();
    for (size_t i = 0; i < n; i++)
        if (rows[i].reject_reason)
            json_array_append_new(rej, json_pack("{s:i, s:s, s:s}", "line", rows[i].line, "code",
                                                 rows[i].k.code, "reason", rows[i].reject_reason));
    free(rows);
    api_json(w, 200, json_pack("{s:I, s:o}", "imported", (json_int_t)imported, "rejected", rej));
}

/* ---- list and export ------------------------------------------------------------ */

static bool parse_state(struct api_req *r, const char **state, struct api_resp *w)
{
    *state = r->query(r->qctx, "state");
    if (*state && strcmp(*state, "active") && strcmp(*state, "redeemed") && strcmp(*state, "disabled") &&
        strcmp(*state, "expired")) {
        api_error(w, PROMO_BAD_REQUEST, "state must be active, redeemed, disabled or expired");
        return false;
    }
    return true;
}

struct export_stream {
    struct api_ctx *ctx;
    char campaign_id[PROMO_ID_MAX];
    char *state;
    int64_t after;
    int64_t now;
};

static void export_row(FILE *f, const struct code_info *c)
{
    char issued[TIME_STR_MAX], expires[TIME_STR_MAX] = "";
    time_format(c->k.issued_at, issued);
    if (c->k.expires_at != PROMO_TIME_MAX)
        time_format(c->k.expires_at, expires);
    api_csv_cell(f, c->k.code);
    fputc(',', f);
    api_csv_cell(f, c->k.customer_id);
    if (c->k.max_uses == PROMO_UNLIMITED)
        fprintf(f, ",unlimited,");
    else
        fprintf(f, ",%lld,", (long long)c->k.max_uses);
    fprintf(f, "%lld,%s,%s,%s\n", (long long)c->k.uses, c->state, issued, expires);
}

static bool export_page(void *cls, FILE *f)
{
    struct export_stream *x = cls;
    struct arena a = {0};
    struct code_info *v;
    size_t n;
    int64_t next;
    if (store_codes_list(x->ctx->st, &a, x->campaign_id, x->state, x->after, 1000, x->now, &v, &n, &next) !=
        PROMO_OK)
        n = next = 0; /* see api_csv_page_fn */
    for (size_t i = 0; i < n; i++)
        export_row(f, &v[i]);
    x->after = next;
    arena_free(&a);
    return next != 0;
}

static void export_free(void *cls)
{
    struct export_stream *x = cls;
    free(x->state);
    free(x);
}

void api_codes_list(struct api_req *r, struct api_resp *w)
{
    const char *state, *format = r->query(r->qctx, "format");
    int limit;
    if (!parse_state(r, &state, w) || !jin_query_limit(r, &limit, w))
        return;
    struct campaign c;
    enum promo_err rc = store_campaign_get(r->ctx->st, r->a, r->params[0], &c, NULL);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    if (format && strcmp(format, "csv") == 0) {
        struct export_stream *x = calloc(1, sizeof(*x));
        if (!x)
            return api_store_error(w, PROMO_INTERNAL, "export");
        x->ctx = r->ctx;
        snprintf(x->campaign_id, sizeof x->campaign_id, "%s", c.id);
        x->state = state ? strdup(state) : NULL;
        x->now = r->now;
        return api_csv_stream(w, "code,customer_id,max_uses,uses,state,issued_at,expires_at\n", export_page, x,
                              export_free);
    }
    if (format && strcmp(format, "json") != 0)
        return api_error(w, PROMO_BAD_REQUEST, "format must be json or csv");
    const char *cursor = r->query(r->qctx, "cursor");
    if (cursor && (!*cursor || strlen(cursor) > 18 || strspn(cursor, "0123456789") != strlen(cursor)))
        return api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
    struct code_info *v;
    size_t n;
    int64_t next;
    rc = store_codes_list(r->ctx->st, r->a, c.id, state, cursor ? strtoll(cursor, NULL, 10) : 0, limit, r->now,
                          &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "campaign");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, api_code_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor",
                               next ? json_string(arena_printf(r->a, "%lld", (long long)next)) : json_null()));
}

/* ---- one code -------------------------------------------------------------------- */

static bool code_key(struct api_req *r, char key[CODEFMT_KEY_MAX + 1], struct api_resp *w)
{
    if (codefmt_normalize(r->params[0], strlen(r->params[0]), key) != PROMO_OK) {
        api_error(w, PROMO_NOT_FOUND, "no such code (a code is 1 to %d letters, digits, '-', '_' or '.')",
                  PROMO_CODE_MAX);
        return false;
    }
    return true;
}

void api_code_get(struct api_req *r, struct api_resp *w)
{
    char key[CODEFMT_KEY_MAX + 1];
    struct code_info ci;
    if (!code_key(r, key, w))
        return;
    enum promo_err rc = store_code_get(r->ctx->st, r->a, key, r->now, &ci);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "code");
    api_json(w, 200, api_code_json(&ci));
}

void api_code_disable(struct api_req *r, struct api_resp *w)
{
    char key[CODEFMT_KEY_MAX + 1];
    struct code_info ci;
    if (!code_key(r, key, w))
        return;
    enum promo_err rc = store_code_disable(r->ctx->st, r->a, key, r->now, &ci);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "code");
    api_json(w, 200, api_code_json(&ci));
}

static const char *const ISSUE_FIELDS[] = {"customer_id", "channel", NULL};

void api_code_issue(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    const char *customer = NULL, *channel = NULL;
    if (jin_only(body, "", ISSUE_FIELDS, w) &&
        jin_str(r->a, body, "customer_id", "", true, false, 200, &customer, w) &&
        jin_str(r->a, body, "channel", "", false, true, 64, &channel, w)) {
        if (!*customer) {
            api_error(w, PROMO_BAD_REQUEST, "customer_id must not be empty");
        } else {
            struct codegen g;
            const char *f, *why;
            codefmt_prepare(&g, NULL, 0, NULL, NULL, NULL, &f, &why);
            struct code_info ci;
            enum promo_err rc = store_code_issue(r->ctx->st, r->a, r->params[0], customer, channel, &g, r->now, &ci);
            if (rc == PROMO_OK)
                api_json(w, 201, api_code_json(&ci));
            else if (promo_err_status(rc) == 422)
                api_error_reason(w, rc, r->lang);
            else
                api_store_error(w, rc, "campaign");
        }
    }
    json_decref(body);
}

void api_job_get(struct api_req *r, struct api_resp *w)
{
    struct job j;
    enum promo_err rc = store_job_get(r->ctx->st, r->a, r->params[0], &j);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "job");
    job_json(w, 200, &j);
}
