/* sqlite_campaigns.c — campaigns, the event log and jobs on SQLite. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* ---- the event log ------------------------------------------------------- */

static const char SQL_EVENT[] =
    "INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id,"
    " reason, data) VALUES (?,?,?,?,?,?,?,?,?,?)";

enum promo_err event_log(struct conn *c, const char *type, int64_t at, const char *campaign_id,
                         const char *code_key, const char *customer_id, const char *order_id,
                         const char *subject_id, const char *reason, const char *data_json)
{
    return event_log_opts(c, type, at, campaign_id, code_key, customer_id, order_id, subject_id, reason,
                          data_json, true);
}

enum promo_err event_log_opts(struct conn *c, const char *type, int64_t at, const char *campaign_id,
                              const char *code_key, const char *customer_id, const char *order_id,
                              const char *subject_id, const char *reason, const char *data_json, bool fanout)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_EVENT);
    if (!s)
        return PROMO_INTERNAL;
    char id[PROMO_ID_MAX];
    util_rand_id("evt_", id, sizeof id);
    bind_text(s, 1, id);
    bind_text(s, 2, type);
    bind_i64(s, 3, at);
    bind_text(s, 4, campaign_id);
    bind_text(s, 5, code_key);
    bind_text(s, 6, customer_id);
    bind_text(s, 7, order_id);
    bind_text(s, 8, subject_id);
    bind_text(s, 9, reason);
    bind_text(s, 10, data_json ? data_json : "{}");
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK || !fanout)
        return rc;
    /* Webhook subscribers get the event through the outbox, in this same
     * transaction: no event is committed without its deliveries queued. */
    struct event ev = {.at = at, .id = id, .type = type, .campaign_id = campaign_id, .code_key = code_key,
                       .customer_id = customer_id, .order_id = order_id, .subject_id = subject_id,
                       .reason = reason, .data = data_json};
    return outbox_fanout(c, &ev);
}

#define EVENT_COLS "seq, at, id, type, campaign_id, code_key, customer_id, order_id, subject_id, reason, data"
static const char SQL_EVENTS_ALL[] =
    "SELECT " EVENT_COLS " FROM events WHERE seq > ?3 AND ?1 IS NULL AND (?2 IS NULL OR type = ?2)"
    " ORDER BY seq LIMIT ?4";
static const char SQL_EVENTS_CAMPAIGN[] =
    "SELECT " EVENT_COLS " FROM events WHERE campaign_id = ?1 AND seq > ?3 AND (?2 IS NULL OR type = ?2)"
    " ORDER BY seq LIMIT ?4";
static const char SQL_EVENTS_TYPE[] =
    "SELECT " EVENT_COLS " FROM events WHERE type = ?2 AND ?1 IS NULL AND seq > ?3 ORDER BY seq LIMIT ?4";

enum promo_err sqlite_events_list(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                                 const char *type, int64_t after_seq, int limit, struct event **out,
                                 size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    /* One statement per filter so each uses its index. */
    const char *sql = campaign_id ? SQL_EVENTS_CAMPAIGN : type ? SQL_EVENTS_TYPE : SQL_EVENTS_ALL;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_text(s, 1, campaign_id);
    bind_text(s, 2, type);
    bind_i64(s, 3, after_seq);
    bind_i64(s, 4, limit + 1);
    *out = arena_alloc(a, sizeof(struct event) * (size_t)(limit + 1));
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        struct event *e = &(*out)[(*n)++];
        e->seq = sqlite3_column_int64(s, 0);
        e->at = sqlite3_column_int64(s, 1);
        e->id = col_text(s, 2, a);
        e->type = col_text(s, 3, a);
        e->campaign_id = col_text(s, 4, a);
        e->code_key = col_text(s, 5, a);
        e->customer_id = col_text(s, 6, a);
        e->order_id = col_text(s, 7, a);
        e->subject_id = col_text(s, 8, a);
        e->reason = col_text(s, 9, a);
        e->data = col_text(s, 10, a);
    }
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "events list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

/* ---- campaign rows ------------------------------------------------------- */

static const char **json_to_strv(struct arena *a, const char *text, size_t *n)
{
    *n = 0;
    /* Most campaigns have no such rule: every validation reads three of
     * these, so the empty array skips the parser. */
    if (!text || strcmp(text, "[]") == 0)
        return NULL;
    json_t *arr = json_loads(text, 0, NULL);
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(arr);
        return NULL;
    }
    const char **v = arena_alloc(a, sizeof(char *) * json_array_size(arr));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_string(e))
            v[(*n)++] = arena_strdup(a, json_string_value(e));
    }
    json_decref(arr);
    return v;
}

static char *strv_to_json(const char **v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

void row_to_campaign(sqlite3_stmt *s, struct arena *a, struct campaign *c, struct campaign_counts *k,
                     int64_t *seq)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(s, 0));
    c->name = col_text(s, 1, a);
    snprintf(c->currency, sizeof c->currency, "%s", (const char *)sqlite3_column_text(s, 2));
    c->discount.type = core_discount_type_parse((const char *)sqlite3_column_text(s, 3));
    c->discount.amount = col_opt(s, 4, 0);
    c->discount.percent_bp = (int32_t)col_opt(s, 5, 0);
    c->discount.max_amount = col_opt(s, 6, PROMO_UNLIMITED);
    c->discount.points = col_opt(s, 7, 0);
    c->starts_at = col_opt(s, 8, PROMO_TIME_MIN);
    c->ends_at = col_opt(s, 9, PROMO_TIME_MAX);
    c->timezone = col_text(s, 10, a);
    c->limits.max_redemptions = col_opt(s, 11, PROMO_UNLIMITED);
    c->limits.per_customer = col_opt(s, 12, PROMO_UNLIMITED);
    c->limits.max_discount_total = col_opt(s, 13, PROMO_UNLIMITED);
    c->limits.max_issued = col_opt(s, 14, PROMO_UNLIMITED);
    c->rules.min_order_amount = sqlite3_column_int64(s, 15);
    c->rules.categories = json_to_strv(a, (const char *)sqlite3_column_text(s, 16), &c->rules.n_categories);
    c->rules.exclude_categories =
        json_to_strv(a, (const char *)sqlite3_column_text(s, 17), &c->rules.n_exclude_categories);
    c->rules.segments = json_to_strv(a, (const char *)sqlite3_column_text(s, 18), &c->rules.n_segments);
    c->rules.first_order_only = sqlite3_column_int64(s, 19) != 0;
    c->code_validity_days = col_opt(s, 20, 0);
    c->metadata_json = col_text(s, 21, a);
    c->state = (enum campaign_state)sqlite3_column_int(s, 22);
    c->created_at = sqlite3_column_int64(s, 23);
    c->updated_at = sqlite3_column_int64(s, 24);
    if (k) {
        k->issued = sqlite3_column_int64(s, 25);
        k->redeemed = sqlite3_column_int64(s, 26);
        k->rolled_back = sqlite3_column_int64(s, 27);
        k->discount_total = sqlite3_column_int64(s, 28);
        k->revenue = sqlite3_column_int64(s, 29);
        k->held = sqlite3_column_int64(s, 30);
        k->held_discount = sqlite3_column_int64(s, 31);
    }
    if (seq)
        *seq = sqlite3_column_int64(s, 32);
    c->early_segment = col_text(s, 33, a);
    c->early_starts_at = col_opt(s, 34, 0);
}

/* The early-access window lives in columns of migration 005, written by
 * their own statement after the definition's INSERT or UPDATE. */
static const char SQL_CAMPAIGN_EARLY[] = "UPDATE campaigns SET early_segment = ?, early_starts_at = ? WHERE id = ?";

static enum promo_err campaign_write_early(struct conn *c, const struct campaign *cp)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CAMPAIGN_EARLY);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, cp->early_segment);
    if (cp->early_segment)
        bind_i64(s, 2, cp->early_starts_at);
    else
        sqlite3_bind_null(s, 2);
    bind_text(s, 3, cp->id);
    return step_done(c, s);
}

/* Binds the definition columns 1..24 shared by INSERT and UPDATE. */
static void bind_campaign(sqlite3_stmt *s, const struct campaign *c)
{
    char *cats = strv_to_json(c->rules.categories, c->rules.n_categories);
    char *excl = strv_to_json(c->rules.exclude_categories, c->rules.n_exclude_categories);
    char *segs = strv_to_json(c->rules.segments, c->rules.n_segments);
    bind_text(s, 1, c->id);
    bind_text(s, 2, c->name);
    bind_text(s, 3, c->currency);
    bind_text(s, 4, core_discount_type_name(c->discount.type));
    bind_opt(s, 5, c->discount.type == DISCOUNT_FIXED ? c->discount.amount : 0, 0);
    bind_opt(s, 6, c->discount.type == DISCOUNT_PERCENT ? c->discount.percent_bp : 0, 0);
    bind_opt(s, 7, c->discount.type == DISCOUNT_PERCENT ? c->discount.max_amount : PROMO_UNLIMITED,
             PROMO_UNLIMITED);
    bind_opt(s, 8, c->discount.type == DISCOUNT_POINTS ? c->discount.points : 0, 0);
    bind_opt(s, 9, c->starts_at, PROMO_TIME_MIN);
    bind_opt(s, 10, c->ends_at, PROMO_TIME_MAX);
    bind_text(s, 11, c->timezone);
    bind_opt(s, 12, c->limits.max_redemptions, PROMO_UNLIMITED);
    bind_opt(s, 13, c->limits.per_customer, PROMO_UNLIMITED);
    bind_opt(s, 14, c->limits.max_discount_total, PROMO_UNLIMITED);
    bind_opt(s, 15, c->limits.max_issued, PROMO_UNLIMITED);
    bind_i64(s, 16, c->rules.min_order_amount);
    bind_text(s, 17, cats ? cats : "[]");
    bind_text(s, 18, excl ? excl : "[]");
    bind_text(s, 19, segs ? segs : "[]");
    bind_i64(s, 20, c->rules.first_order_only);
    bind_opt(s, 21, c->code_validity_days, 0);
    bind_text(s, 22, c->metadata_json ? c->metadata_json : "{}");
    bind_i64(s, 23, c->state);
    bind_i64(s, 24, c->updated_at);
    free(cats);
    free(excl);
    free(segs);
}

static const char SQL_CAMPAIGN_GET[] = "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE id = ?";

enum promo_err campaign_read(struct conn *c, struct arena *a, const char *id, struct campaign *out,
                             struct campaign_counts *counts)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CAMPAIGN_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    enum promo_err rc;
    switch (sqlite3_step(s)) {
    case SQLITE_ROW:
        row_to_campaign(s, a, out, counts, NULL);
        rc = PROMO_OK;
        break;
    case SQLITE_DONE:
        rc = PROMO_NOT_FOUND;
        break;
    default:
        rc = db_fail(c, "campaign read");
    }
    sqlite3_reset(s);
    return rc;
}

static char *campaign_event_json(const struct campaign *c)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "name", c->name ? c->name : "", "status_set",
                          c->state == CAMPAIGN_DRAFT    ? "draft"
                          : c->state == CAMPAIGN_PAUSED ? "paused"
                          : c->state == CAMPAIGN_ENDED  ? "ended"
                                                        : "live",
                          "updated_at", (json_int_t)c->updated_at);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static const char SQL_CAMPAIGN_INSERT[] =
    "INSERT INTO campaigns (id, name, currency, discount_type, discount_amount, percent_bp,"
    " max_amount, points, starts_at, ends_at, timezone, max_redemptions, per_customer,"
    " max_discount_total, max_issued, min_order_amount, categories, exclude_categories, segments,"
    " first_order_only, code_validity_days, metadata, state, updated_at, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static enum promo_err op_campaign_create(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    const struct campaign *cp = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_CAMPAIGN_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_campaign(s, cp);
    bind_i64(s, 25, cp->created_at);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = campaign_write_early(c, cp);
    if (rc == PROMO_OK)
        rc = tasks_schedule_campaign(c, cp, cp->created_at);
    if (rc != PROMO_OK)
        return rc;
    char *data = campaign_event_json(cp);
    rc = event_log(c, "campaign_created", cp->created_at, cp->id, NULL, NULL, NULL, cp->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_campaign_create(struct sqlite_store *st, const struct campaign *c)
{
    return writer_run(st, op_campaign_create, (void *)c);
}

enum promo_err sqlite_campaign_get(struct sqlite_store *st, struct arena *a, const char *id,
                                  struct campaign *out, struct campaign_counts *counts)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = campaign_read(c, a, id, out, counts);
    reader_put(st, c);
    return rc;
}

static const char SQL_CAMPAIGN_LIST[] =
    "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE seq > ? ORDER BY seq LIMIT ?";

enum promo_err sqlite_campaign_list(struct sqlite_store *st, struct arena *a, const char *cursor, int limit,
                                   struct campaign **out, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    int64_t after = cursor ? strtoll(cursor, NULL, 10) : 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_CAMPAIGN_LIST);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_i64(s, 1, after);
    bind_i64(s, 2, limit + 1);
    *out = arena_alloc(a, sizeof(struct campaign) * (size_t)(limit + 1));
    enum promo_err rc = PROMO_OK;
    int64_t seq = 0, last = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next = arena_printf(a, "%lld", (long long)last);
            break;
        }
        row_to_campaign(s, a, &(*out)[*n], NULL, &seq);
        last = seq;
        (*n)++;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(c, "campaign list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

struct modify_args {
    struct arena *a;
    const char *id;
    store_campaign_fn fn;
    void *ctx;
    const char *event_type;
    int64_t now;
    struct campaign *out;
    const char **msg;
};

static const char SQL_CAMPAIGN_UPDATE[] =
    "UPDATE campaigns SET id = ?1, name = ?2, currency = ?3, discount_type = ?4,"
    " discount_amount = ?5, percent_bp = ?6, max_amount = ?7, points = ?8, starts_at = ?9,"
    " ends_at = ?10, timezone = ?11, max_redemptions = ?12, per_customer = ?13,"
    " max_discount_total = ?14, max_issued = ?15, min_order_amount = ?16, categories = ?17,"
    " exclude_categories = ?18, segments = ?19, first_order_only = ?20, code_validity_days = ?21,"
    " metadata = ?22, state = ?23, updated_at = ?24 WHERE id = ?1";

static enum promo_err op_campaign_modify(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct modify_args *m = arg;
    enum promo_err rc = campaign_read(c, m->a, m->id, m->out, NULL);
    if (rc != PROMO_OK)
        return rc;
    rc = m->fn(m->out, m->ctx, m->a, m->msg);
    if (rc != PROMO_OK)
        return rc;
    m->out->updated_at = m->now;
    sqlite3_stmt *s = conn_stmt(c, SQL_CAMPAIGN_UPDATE);
    if (!s)
        return PROMO_INTERNAL;
    bind_campaign(s, m->out);
    rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = campaign_write_early(c, m->out);
    if (rc == PROMO_OK)
        rc = tasks_schedule_campaign(c, m->out, m->now);
    if (rc != PROMO_OK)
        return rc;
    char *data = campaign_event_json(m->out);
    rc = event_log(c, m->event_type, m->now, m->id, NULL, NULL, NULL, m->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_campaign_modify(struct sqlite_store *st, struct arena *a, const char *id,
                                     store_campaign_fn fn, void *ctx, const char *event_type,
                                     int64_t now, struct campaign *out, const char **msg)
{
    struct modify_args m = {a, id, fn, ctx, event_type, now, out, msg};
    *msg = NULL;
    return writer_run(st, op_campaign_modify, &m);
}

/* Tokens and OAuth clients: sqlite_tokens.c. */

/* ---- jobs ---------------------------------------------------------------- */

static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs (id, type, campaign_id, status, done, total, params, created_at, updated_at)"
    " VALUES (?,?,?,?,?,?,?,?,?)";

static enum promo_err op_job_create(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    const struct job *j = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_JOB_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, j->id);
    bind_text(s, 2, j->type);
    bind_text(s, 3, j->campaign_id);
    bind_text(s, 4, j->status);
    bind_i64(s, 5, j->done);
    bind_i64(s, 6, j->total);
    bind_text(s, 7, j->params ? j->params : "{}");
    bind_i64(s, 8, j->created_at);
    bind_i64(s, 9, j->created_at);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, "job_created", j->created_at, j->campaign_id, NULL, NULL, NULL, j->id, NULL, NULL);
    return rc;
}

enum promo_err sqlite_job_create(struct sqlite_store *st, const struct job *j)
{
    return writer_run(st, op_job_create, (void *)j);
}

static const char SQL_JOB_COLS[] =
    "SELECT id, type, campaign_id, status, done, total, params, error, created_at, updated_at FROM jobs";
static const char SQL_JOB_GET[] =
    "SELECT id, type, campaign_id, status, done, total, params, error, created_at, updated_at FROM jobs WHERE id = ?";
static const char SQL_JOB_RUNNING[] =
    "SELECT id, type, campaign_id, status, done, total, params, error, created_at, updated_at FROM jobs"
    " WHERE status = 'running' ORDER BY created_at";

static void row_to_job(sqlite3_stmt *s, struct arena *a, struct job *j)
{
    j->id = col_text(s, 0, a);
    j->type = col_text(s, 1, a);
    j->campaign_id = col_text(s, 2, a);
    j->status = col_text(s, 3, a);
    j->done = sqlite3_column_int64(s, 4);
    j->total = sqlite3_column_int64(s, 5);
    j->params = col_text(s, 6, a);
    j->error = col_text(s, 7, a);
    j->created_at = sqlite3_column_int64(s, 8);
    j->updated_at = sqlite3_column_int64(s, 9);
}

enum promo_err sqlite_job_get(struct sqlite_store *st, struct arena *a, const char *id, struct job *out)
{
    (void)SQL_JOB_COLS;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_JOB_GET);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        bind_text(s, 1, id);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            row_to_job(s, a, out);
            rc = PROMO_OK;
        } else {
            rc = r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "job get");
        }
        sqlite3_reset(s);
    }
    reader_put(st, c);
    return rc;
}

enum promo_err sqlite_job_list_running(struct sqlite_store *st, struct arena *a, struct job **out, size_t *n)
{
    *n = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_JOB_RUNNING);
    enum promo_err rc = s ? PROMO_OK : PROMO_INTERNAL;
    size_t cap = 0;
    while (s && sqlite3_step(s) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct job *nj = arena_alloc(a, sizeof(struct job) * ncap);
            if (*n)
                memcpy(nj, *out, sizeof(struct job) * *n);
            *out = nj;
            cap = ncap;
        }
        row_to_job(s, a, &(*out)[(*n)++]);
    }
    if (s)
        sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

struct job_update_args {
    const char *id, *status, *error;
    int64_t done, now;
};

static const char SQL_JOB_UPDATE[] =
    "UPDATE jobs SET done = ?, status = ?, error = ?, updated_at = ? WHERE id = ?";

static enum promo_err op_job_update(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct job_update_args *j = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_JOB_UPDATE);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, j->done);
    bind_text(s, 2, j->status);
    bind_text(s, 3, j->error);
    bind_i64(s, 4, j->now);
    bind_text(s, 5, j->id);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK && strcmp(j->status, "running") != 0)
        rc = event_log(c, strcmp(j->status, "done") == 0 ? "job_done" : "job_failed", j->now, NULL,
                       NULL, NULL, NULL, j->id, j->error, NULL);
    return rc;
}

enum promo_err sqlite_job_update(struct sqlite_store *st, const char *id, int64_t done, const char *status,
                                const char *error, int64_t now)
{
    struct job_update_args j = {id, status, error, done, now};
    return writer_run(st, op_job_update, &j);
}
