/* pg_campaigns.c — campaigns, their counter shards, the event log and jobs
 * on PostgreSQL. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "util/log.h"
#include "util/rand.h"

/* ---- the event log ------------------------------------------------------- */

/* Every event fans out to the webhooks subscribed to it (pg_outbox.c). */
enum promo_err pg_event_log(struct pgc *c, const char *type, int64_t at, const char *campaign_id,
                            const char *code_key, const char *customer_id, const char *order_id,
                            const char *subject_id, const char *reason, const char *data_json)
{
    return pg_event_log_opts(c, type, at, campaign_id, code_key, customer_id, order_id, subject_id, reason,
                             data_json, true);
}

#define EVENT_COLS "seq, at, id, type, campaign_id, code_key, customer_id, order_id, subject_id, reason, data"
static const char SQL_EVENTS_ALL[] =
    "SELECT " EVENT_COLS " FROM events WHERE seq > $3 AND $1::text IS NULL AND ($2::text IS NULL OR type = $2)"
    " ORDER BY seq LIMIT $4";
static const char SQL_EVENTS_CAMPAIGN[] =
    "SELECT " EVENT_COLS " FROM events WHERE campaign_id = $1 AND seq > $3 AND ($2::text IS NULL OR type = $2)"
    " ORDER BY seq LIMIT $4";
static const char SQL_EVENTS_TYPE[] =
    "SELECT " EVENT_COLS " FROM events WHERE type = $2 AND $1::text IS NULL AND seq > $3 ORDER BY seq LIMIT $4";

enum promo_err pg_events_list(struct pg_store *st, struct arena *a, const char *campaign_id, const char *type,
                              int64_t after_seq, int limit, struct event **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    const char *sql = campaign_id ? SQL_EVENTS_CAMPAIGN : type ? SQL_EVENTS_TYPE : SQL_EVENTS_ALL;
    PGresult *r = pq(c, sql, "ssii", campaign_id, type, after_seq, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct event) * (size_t)(limit + 1));
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        struct event *e = &(*out)[(*n)++];
        e->seq = pg_i64(r, i, 0);
        e->at = pg_i64(r, i, 1);
        e->id = pg_text(r, i, 2, a);
        e->type = pg_text(r, i, 3, a);
        e->campaign_id = pg_text(r, i, 4, a);
        e->code_key = pg_text(r, i, 5, a);
        e->customer_id = pg_text(r, i, 6, a);
        e->order_id = pg_text(r, i, 7, a);
        e->subject_id = pg_text(r, i, 8, a);
        e->reason = pg_text(r, i, 9, a);
        e->data = pg_text(r, i, 10, a);
    }
    PQclear(r);
    return PROMO_OK;
}

/* ---- campaign rows ------------------------------------------------------- */

#define CAMPAIGN_COLS                                                                              \
    "id, name, currency, discount_type, discount_amount, percent_bp, max_amount, points,"          \
    " starts_at, ends_at, timezone, max_redemptions, per_customer, max_discount_total, max_issued," \
    " min_order_amount, categories, exclude_categories, segments, first_order_only,"               \
    " code_validity_days, metadata, state, created_at, updated_at, issued, seq, early_segment, early_starts_at"

static const char **json_to_strv(struct arena *a, const char *text, size_t *n)
{
    *n = 0;
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
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

static void row_to_campaign(PGresult *r, int i, struct arena *a, struct campaign *c, int64_t *issued, int64_t *seq)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof c->id, "%s", PQgetvalue(r, i, 0));
    c->name = pg_text(r, i, 1, a);
    snprintf(c->currency, sizeof c->currency, "%s", PQgetvalue(r, i, 2));
    c->discount.type = core_discount_type_parse(PQgetvalue(r, i, 3));
    c->discount.amount = pg_opt(r, i, 4, 0);
    c->discount.percent_bp = (int32_t)pg_opt(r, i, 5, 0);
    c->discount.max_amount = pg_opt(r, i, 6, PG_UNL);
    c->discount.points = pg_opt(r, i, 7, 0);
    c->starts_at = pg_opt(r, i, 8, PROMO_TIME_MIN);
    c->ends_at = pg_opt(r, i, 9, PROMO_TIME_MAX);
    c->timezone = pg_text(r, i, 10, a);
    c->limits.max_redemptions = pg_opt(r, i, 11, PG_UNL);
    c->limits.per_customer = pg_opt(r, i, 12, PG_UNL);
    c->limits.max_discount_total = pg_opt(r, i, 13, PG_UNL);
    c->limits.max_issued = pg_opt(r, i, 14, PG_UNL);
    c->rules.min_order_amount = pg_i64(r, i, 15);
    c->rules.categories = json_to_strv(a, PQgetvalue(r, i, 16), &c->rules.n_categories);
    c->rules.exclude_categories = json_to_strv(a, PQgetvalue(r, i, 17), &c->rules.n_exclude_categories);
    c->rules.segments = json_to_strv(a, PQgetvalue(r, i, 18), &c->rules.n_segments);
    c->rules.first_order_only = pg_i64(r, i, 19) != 0;
    c->code_validity_days = pg_opt(r, i, 20, 0);
    c->metadata_json = pg_text(r, i, 21, a);
    c->state = (enum campaign_state)pg_i64(r, i, 22);
    c->created_at = pg_i64(r, i, 23);
    c->updated_at = pg_i64(r, i, 24);
    if (issued)
        *issued = pg_i64(r, i, 25);
    if (seq)
        *seq = pg_i64(r, i, 26);
    c->early_segment = pg_text(r, i, 27, a);
    c->early_starts_at = pg_opt(r, i, 28, 0);
}

/* Runs an INSERT or UPDATE whose parameters $1..$24 are the campaign's
 * definition and $25 (INSERT only, when created_at >= 0) its creation time. */
static enum promo_err campaign_write(struct pgc *c, const char *sql, const struct campaign *cp, bool insert)
{
    char *cats = strv_to_json(cp->rules.categories, cp->rules.n_categories);
    char *excl = strv_to_json(cp->rules.exclude_categories, cp->rules.n_exclude_categories);
    char *segs = strv_to_json(cp->rules.segments, cp->rules.n_segments);
    const struct discount *d = &cp->discount;
    const char *types = insert ? "ssss" "oooo" "oos" "oooo" "isssios" "iii" : "ssss" "oooo" "oos" "oooo" "isssios" "ii";
    enum promo_err rc = pq_do(
        c, NULL, sql, types, cp->id, cp->name, cp->currency, core_discount_type_name(d->type),
        d->type == DISCOUNT_FIXED ? d->amount : 0, (int64_t)0, d->type == DISCOUNT_PERCENT ? (int64_t)d->percent_bp : 0,
        (int64_t)0, d->type == DISCOUNT_PERCENT ? d->max_amount : PG_UNL, PG_UNL,
        d->type == DISCOUNT_POINTS ? d->points : 0, (int64_t)0, cp->starts_at, PROMO_TIME_MIN, cp->ends_at,
        PROMO_TIME_MAX, cp->timezone, cp->limits.max_redemptions, PG_UNL, cp->limits.per_customer,
        PG_UNL, cp->limits.max_discount_total, PG_UNL, cp->limits.max_issued, PG_UNL,
        cp->rules.min_order_amount, cats ? cats : "[]", excl ? excl : "[]", segs ? segs : "[]",
        (int64_t)cp->rules.first_order_only, cp->code_validity_days, (int64_t)0,
        cp->metadata_json ? cp->metadata_json : "{}", (int64_t)cp->state, cp->updated_at, cp->created_at);
    free(cats);
    free(excl);
    free(segs);
    return rc;
}

static const char SQL_CAMPAIGN_GET[] = "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE id = $1";
static const char SQL_CAMPAIGN_LOCK[] = "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE id = $1 FOR UPDATE";
/* A campaign's counters summed over its shards, in the order sums_at
 * reads them. */
#define SHARD_SUMS                                                                                          \
    "coalesce(sum(redeemed), 0), coalesce(sum(rolled_back), 0), coalesce(sum(discount_total), 0),"         \
    " coalesce(sum(revenue), 0), coalesce(sum(held), 0), coalesce(sum(held_discount), 0)"

/* SHARD_SUMS from column c0 of row 0 into k. */
static void sums_at(PGresult *r, int c0, struct campaign_counts *k)
{
    k->redeemed = pg_i64(r, 0, c0);
    k->rolled_back = pg_i64(r, 0, c0 + 1);
    k->discount_total = pg_i64(r, 0, c0 + 2);
    k->revenue = pg_i64(r, 0, c0 + 3);
    k->held = pg_i64(r, 0, c0 + 4);
    k->held_discount = pg_i64(r, 0, c0 + 5);
}

static const char SQL_SHARD_SUMS[] = "SELECT " SHARD_SUMS " FROM campaign_shards WHERE campaign_id = $1";

static enum promo_err shard_sums(struct pgc *c, const char *id, struct campaign_counts *k)
{
    PGresult *r = pq(c, SQL_SHARD_SUMS, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    sums_at(r, 0, k);
    PQclear(r);
    return PROMO_OK;
}

/* The campaign and its shards' sums in one round trip. */
static const char SQL_CAMPAIGN_COUNTS[] =
    "SELECT " CAMPAIGN_COLS ", s.* FROM campaigns, LATERAL (SELECT " SHARD_SUMS
    " FROM campaign_shards WHERE campaign_id = $1) s WHERE id = $1";

/* SQL_CAMPAIGN_COUNTS of the campaign of the code whose key is $1, with
 * the replay checks after its columns or without. */
#define COUNTS_OF_CODE(extra)                                                                                       \
    "SELECT " CAMPAIGN_COLS ", s.*" extra " FROM campaigns, LATERAL (SELECT " SHARD_SUMS                            \
    " FROM campaign_shards sh WHERE sh.campaign_id = campaigns.id) s"                                               \
    " WHERE id = (SELECT campaign_id FROM codes WHERE code_key = $1)"
const char PG_SQL_CAMPAIGN_COUNTS_BY_CODE[] = COUNTS_OF_CODE("");
const char PG_SQL_CAMPAIGN_COUNTS_REPLAY[] = COUNTS_OF_CODE(", " PG_REPLAY_HOOKS_COLS);

enum promo_err pg_campaign_counts_row(PGresult *r, struct arena *a, struct campaign *out,
                                      struct campaign_counts *counts)
{
    if (PQntuples(r) == 0)
        return PROMO_NOT_FOUND;
    memset(counts, 0, sizeof(*counts));
    row_to_campaign(r, 0, a, out, &counts->issued, NULL);
    sums_at(r, 29, counts); /* after the 29 columns of CAMPAIGN_COLS; 6 of them (PG_CAMPAIGN_COUNTS_NCOLS) */
    return PROMO_OK;
}

enum promo_err pg_campaign_read(struct pgc *c, struct arena *a, const char *id, bool lock, struct campaign *out,
                                struct campaign_counts *counts)
{
    if (counts && !lock) {
        PGresult *r = pq(c, SQL_CAMPAIGN_COUNTS, "s", id);
        if (!r)
            return PROMO_INTERNAL;
        enum promo_err rc = pg_campaign_counts_row(r, a, out, counts);
        PQclear(r);
        return rc;
    }
    PGresult *r = pq(c, lock ? SQL_CAMPAIGN_LOCK : SQL_CAMPAIGN_GET, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return PROMO_NOT_FOUND;
    }
    int64_t issued = 0;
    row_to_campaign(r, 0, a, out, &issued, NULL);
    PQclear(r);
    if (!counts)
        return PROMO_OK;
    memset(counts, 0, sizeof(*counts));
    counts->issued = issued;
    return shard_sums(c, id, counts);
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

/* ---- counter shards ------------------------------------------------------ */

static const char SQL_SHARDS_MAKE[] =
    "INSERT INTO campaign_shards (campaign_id, shard) SELECT $1, g FROM generate_series(0, $2 - 1) g";
static const char SQL_SHARDS_LOCK[] =
    "SELECT shard, redeemed + held, discount_total + held_discount FROM campaign_shards"
    " WHERE campaign_id = $1 ORDER BY shard FOR UPDATE";
static const char SQL_LIMITS[] = "SELECT max_redemptions, max_discount_total FROM campaigns WHERE id = $1";
static const char SQL_SHARD_QUOTA[] =
    "UPDATE campaign_shards SET quota_uses = $3, quota_discount = $4 WHERE campaign_id = $1 AND shard = $2";

/* Share i of n of `room` (never negative): the remainder goes to the first. */
static int64_t share(int64_t room, int i, int n)
{
    if (room <= 0)
        return 0;
    return room / n + (i < room % n ? 1 : 0);
}

/* Locks every shard of the campaign (in shard order, so two reslices never
 * deadlock), then gives each shard a quota = what it holds + an even share
 * of what is left of each limit. When extra_shard >= 0 a use of
 * extra_uses / extra_cost is about to go into that shard: *fits says
 * whether what is left covers it, and that shard's quota gets room for it
 * first. A limit already overrun (lowered below usage) gets quotas of 0, so
 * every new use comes back here and sees the exact total. The quotas add
 * up to at most the limit: with the conditional update of a use (pg_redeem.c)
 * the sum of the shards can never pass it. */
enum promo_err pg_shards_reslice(struct pgc *c, const char *campaign_id, int extra_shard, int64_t extra_uses,
                                 int64_t extra_cost, bool *fits)
{
    PGresult *sh = pq(c, SQL_SHARDS_LOCK, "s", campaign_id);
    if (!sh)
        return PROMO_INTERNAL;
    PGresult *lim = pq(c, SQL_LIMITS, "s", campaign_id);
    if (!lim || PQntuples(lim) != 1) {
        PQclear(sh);
        PQclear(lim);
        return PROMO_INTERNAL;
    }
    int64_t max_uses = pg_opt(lim, 0, 0, PG_UNL), max_cost = pg_opt(lim, 0, 1, PG_UNL);
    PQclear(lim);
    int n = PQntuples(sh);
    int64_t used = 0, cost = 0;
    for (int i = 0; i < n; i++) {
        used += pg_i64(sh, i, 1);
        cost += pg_i64(sh, i, 2);
    }
    int64_t room_uses = max_uses == PG_UNL ? 0 : max_uses - used;
    int64_t room_cost = max_cost == PG_UNL ? 0 : max_cost - cost;
    bool ok = (max_uses == PG_UNL || room_uses >= extra_uses) &&
              (max_cost == PG_UNL || room_cost >= extra_cost);
    if (fits)
        *fits = ok;
    if (!ok && extra_shard >= 0) {
        PQclear(sh);
        return PROMO_OK; /* refused: leave the slices as they are */
    }
    if (extra_shard >= 0) {
        room_uses -= extra_uses;
        room_cost -= extra_cost;
    }
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < n && rc == PROMO_OK; i++) {
        int s = (int)pg_i64(sh, i, 0);
        int64_t qu = pg_i64(sh, i, 1) + share(room_uses, i, n), qc = pg_i64(sh, i, 2) + share(room_cost, i, n);
        if (s == extra_shard) {
            qu += extra_uses;
            qc += extra_cost;
        }
        if (max_uses != PG_UNL && room_uses < 0)
            qu = 0;
        if (max_cost != PG_UNL && room_cost < 0)
            qc = 0;
        rc = pq_do(c, NULL, SQL_SHARD_QUOTA, "sioo", campaign_id, (int64_t)s, max_uses == PG_UNL ? PG_UNL : qu,
                   PG_UNL, max_cost == PG_UNL ? PG_UNL : qc, PG_UNL);
    }
    PQclear(sh);
    return rc;
}

/* ---- campaigns -------------------------------------------------------------- */

static const char SQL_CAMPAIGN_INSERT[] =
    "INSERT INTO campaigns (id, name, currency, discount_type, discount_amount, percent_bp,"
    " max_amount, points, starts_at, ends_at, timezone, max_redemptions, per_customer,"
    " max_discount_total, max_issued, min_order_amount, categories, exclude_categories, segments,"
    " first_order_only, code_validity_days, metadata, state, updated_at, created_at)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25)";

struct create_args {
    const struct campaign *cp;
    int shards;
};

/* The early-access window lives in columns of migration 005, written by
 * their own statement after the definition's INSERT or UPDATE (as on SQLite). */
static const char SQL_CAMPAIGN_EARLY[] = "UPDATE campaigns SET early_segment = $1, early_starts_at = $2 WHERE id = $3";

static enum promo_err campaign_write_early(struct pgc *c, const struct campaign *cp)
{
    return pq_do(c, NULL, SQL_CAMPAIGN_EARLY, "sos", cp->early_segment,
                 cp->early_segment ? cp->early_starts_at : 0, (int64_t)0, cp->id);
}

static enum promo_err tx_campaign_create(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct create_args *ca = arg;
    const struct campaign *cp = ca->cp;
    enum promo_err rc = campaign_write(c, SQL_CAMPAIGN_INSERT, cp, true);
    if (rc == PROMO_OK && cp->early_segment)
        rc = campaign_write_early(c, cp);
    if (rc == PROMO_OK)
        rc = pg_tasks_schedule_campaign(c, cp, cp->created_at);
    if (rc == PROMO_OK)
        rc = pq_do(c, NULL, SQL_SHARDS_MAKE, "si", cp->id, (int64_t)ca->shards);
    if (rc == PROMO_OK)
        rc = pg_shards_reslice(c, cp->id, -1, 0, 0, NULL);
    if (rc != PROMO_OK)
        return rc;
    char *data = campaign_event_json(cp);
    rc = pg_event_log(c, "campaign_created", cp->created_at, cp->id, NULL, NULL, NULL, cp->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_campaign_create(struct pg_store *st, const struct campaign *c)
{
    struct create_args ca = {c, st->shards};
    return pg_tx(st, tx_campaign_create, &ca);
}

enum promo_err pg_campaign_get(struct pg_store *st, struct arena *a, const char *id, struct campaign *out,
                               struct campaign_counts *counts)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = pg_campaign_read(c, a, id, false, out, counts);
    pgc_put(st, c);
    return rc;
}

static const char SQL_CAMPAIGN_LIST[] = "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE seq > $1 ORDER BY seq LIMIT $2";

enum promo_err pg_campaign_list(struct pg_store *st, struct arena *a, const char *cursor, int limit,
                                struct campaign **out, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    int64_t after = cursor ? strtoll(cursor, NULL, 10) : 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_CAMPAIGN_LIST, "ii", after, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct campaign) * (size_t)(limit + 1));
    int64_t seq = 0, last = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int)*n == limit) {
            *next = arena_printf(a, "%lld", (long long)last);
            break;
        }
        row_to_campaign(r, i, a, &(*out)[*n], NULL, &seq);
        last = seq;
        (*n)++;
    }
    PQclear(r);
    return PROMO_OK;
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
    "UPDATE campaigns SET name = $2, currency = $3, discount_type = $4,"
    " discount_amount = $5, percent_bp = $6, max_amount = $7, points = $8, starts_at = $9,"
    " ends_at = $10, timezone = $11, max_redemptions = $12, per_customer = $13,"
    " max_discount_total = $14, max_issued = $15, min_order_amount = $16, categories = $17,"
    " exclude_categories = $18, segments = $19, first_order_only = $20, code_validity_days = $21,"
    " metadata = $22, state = $23, updated_at = $24 WHERE id = $1";

/* The read-modify-write under the campaign's row lock, so concurrent edits
 * (from any server) cannot lose each other; the shards are resliced when
 * a limit changed. */
static enum promo_err tx_campaign_modify(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct modify_args *m = arg;
    *m->msg = NULL;
    enum promo_err rc = pg_campaign_read(c, m->a, m->id, true, m->out, NULL);
    if (rc != PROMO_OK)
        return rc;
    struct campaign_limits before = m->out->limits;
    rc = m->fn(m->out, m->ctx, m->a, m->msg);
    if (rc != PROMO_OK)
        return rc;
    m->out->updated_at = m->now;
    rc = campaign_write(c, SQL_CAMPAIGN_UPDATE, m->out, false);
    if (rc == PROMO_OK)
        rc = campaign_write_early(c, m->out);
    if (rc == PROMO_OK)
        rc = pg_tasks_schedule_campaign(c, m->out, m->now);
    if (rc == PROMO_OK && (before.max_redemptions != m->out->limits.max_redemptions ||
                           before.max_discount_total != m->out->limits.max_discount_total))
        rc = pg_shards_reslice(c, m->id, -1, 0, 0, NULL);
    if (rc != PROMO_OK)
        return rc;
    char *data = campaign_event_json(m->out);
    rc = pg_event_log(c, m->event_type, m->now, m->id, NULL, NULL, NULL, m->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_campaign_modify(struct pg_store *st, struct arena *a, const char *id, store_campaign_fn fn,
                                  void *ctx, const char *event_type, int64_t now, struct campaign *out,
                                  const char **msg)
{
    struct modify_args m = {a, id, fn, ctx, event_type, now, out, msg};
    *msg = NULL;
    return pg_tx(st, tx_campaign_modify, &m);
}

/* ---- jobs ---------------------------------------------------------------- */

static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs (id, type, campaign_id, status, done, total, params, created_at, updated_at)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8)";

static enum promo_err tx_job_create(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    const struct job *j = arg;
    enum promo_err rc = pq_do(c, NULL, SQL_JOB_INSERT, "ssssiisi", j->id, j->type, j->campaign_id, j->status, j->done,
                              j->total, j->params ? j->params : "{}", j->created_at);
    if (rc == PROMO_OK)
        rc = pg_event_log(c, "job_created", j->created_at, j->campaign_id, NULL, NULL, NULL, j->id, NULL, NULL);
    return rc;
}

enum promo_err pg_job_create(struct pg_store *st, const struct job *j)
{
    return pg_tx(st, tx_job_create, (void *)j);
}

#define JOB_COLS "id, type, campaign_id, status, done, total, params, error, created_at, updated_at"
static const char SQL_JOB_GET[] = "SELECT " JOB_COLS " FROM jobs WHERE id = $1";
static const char SQL_JOB_RUNNING[] = "SELECT " JOB_COLS " FROM jobs WHERE status = 'running' ORDER BY created_at";

static void row_to_job(PGresult *r, int i, struct arena *a, struct job *j)
{
    j->id = pg_text(r, i, 0, a);
    j->type = pg_text(r, i, 1, a);
    j->campaign_id = pg_text(r, i, 2, a);
    j->status = pg_text(r, i, 3, a);
    j->done = pg_i64(r, i, 4);
    j->total = pg_i64(r, i, 5);
    j->params = pg_text(r, i, 6, a);
    j->error = pg_text(r, i, 7, a);
    j->created_at = pg_i64(r, i, 8);
    j->updated_at = pg_i64(r, i, 9);
}

enum promo_err pg_job_get(struct pg_store *st, struct arena *a, const char *id, struct job *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_JOB_GET, "s", id);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_job(r, 0, a, out);
    PQclear(r);
    return rc;
}

enum promo_err pg_job_list_running(struct pg_store *st, struct arena *a, struct job **out, size_t *n)
{
    *n = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_JOB_RUNNING, "");
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct job) * (size_t)(PQntuples(r) + 1));
    for (int i = 0; i < PQntuples(r); i++)
        row_to_job(r, i, a, &(*out)[(*n)++]);
    PQclear(r);
    return PROMO_OK;
}

struct job_update_args {
    const char *id, *status, *error;
    int64_t done, now;
};

static const char SQL_JOB_UPDATE[] = "UPDATE jobs SET done = $1, status = $2, error = $3, updated_at = $4 WHERE id = $5";

static enum promo_err tx_job_update(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct job_update_args *j = arg;
    enum promo_err rc = pq_do(c, NULL, SQL_JOB_UPDATE, "issis", j->done, j->status, j->error, j->now, j->id);
    if (rc == PROMO_OK && strcmp(j->status, "running") != 0)
        rc = pg_event_log(c, strcmp(j->status, "done") == 0 ? "job_done" : "job_failed", j->now, NULL, NULL, NULL,
                          NULL, j->id, j->error, NULL);
    return rc;
}

enum promo_err pg_job_update(struct pg_store *st, const char *id, int64_t done, const char *status, const char *error,
                             int64_t now)
{
    struct job_update_args j = {id, status, error, done, now};
    return pg_tx(st, tx_job_update, &j);
}
