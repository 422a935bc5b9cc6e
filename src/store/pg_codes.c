/* pg_codes.c — codes on PostgreSQL: generation, chosen codes, import,
 * lookup, listing, disabling and issuing to customers. Every change that
 * counts against max_issued runs under the campaign's row lock, so the
 * limit is exact across servers; the unique code_key makes codes unique. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/rand.h"

#define CODE_COLS                                                                                  \
    "k.code_key, k.code, k.campaign_id, k.customer_id, k.channel, k.max_uses, k.uses, k.disabled," \
    " k.issued_at, k.expires_at, k.seq"
/* The state of a code as API.md names it ($2 is now). */
#define CODE_STATE_SQL                                                                             \
    "CASE WHEN k.disabled <> 0 THEN 'disabled'"                                                    \
    " WHEN k.max_uses IS NOT NULL AND k.uses >= k.max_uses THEN 'redeemed'"                        \
    " WHEN c.state = 3 OR (c.ends_at IS NOT NULL AND $2::bigint > c.ends_at)"                      \
    "   OR (k.expires_at IS NOT NULL AND $2::bigint > k.expires_at) THEN 'expired'"                \
    " ELSE 'active' END"

static void row_to_code(PGresult *r, int i, struct arena *a, struct code_info *out)
{
    memset(out, 0, sizeof(*out));
    struct code *k = &out->k;
    snprintf(k->code, sizeof k->code, "%s", PQgetvalue(r, i, 1));
    snprintf(k->campaign_id, sizeof k->campaign_id, "%s", PQgetvalue(r, i, 2));
    k->customer_id = pg_text(r, i, 3, a);
    out->channel = pg_text(r, i, 4, a);
    k->max_uses = pg_opt(r, i, 5, PG_UNL);
    k->uses = pg_i64(r, i, 6);
    k->disabled = pg_i64(r, i, 7) != 0;
    k->issued_at = pg_i64(r, i, 8);
    k->expires_at = pg_opt(r, i, 9, PROMO_TIME_MAX);
    out->seq = pg_i64(r, i, 10);
    out->state = pg_text(r, i, 11, a);
}

static int64_t validity_end(const struct campaign *cp, int64_t now)
{
    return cp->code_validity_days > 0 ? now + cp->code_validity_days * 86400 : PROMO_TIME_MAX;
}

/* ---- keyspace and max_issued -------------------------------------------- */

/* Creates the shape's row if needed and locks it: concurrent generations of
 * one shape check the guard one after the other. */
static const char SQL_SHAPE_LOCK[] =
    "INSERT INTO code_shapes (pattern, charset, total) VALUES ($1, $2, 0)"
    " ON CONFLICT (pattern, charset) DO UPDATE SET total = code_shapes.total RETURNING total";
static const char SQL_SHAPE_ADD[] = "UPDATE code_shapes SET total = total + $3 WHERE pattern = $1 AND charset = $2";

static enum promo_err shape_reserve(struct pgc *c, const struct codegen *g, int64_t count)
{
    char pattern[PROMO_CODE_MAX + 1], charset[128];
    codefmt_shape(g, pattern, charset);
    PGresult *r = pq(c, SQL_SHAPE_LOCK, "ss", pattern, charset);
    if (!r)
        return PROMO_INTERNAL;
    int64_t have = pg_i64(r, 0, 0);
    PQclear(r);
    enum promo_err rc = codefmt_keyspace_check(g, have + count);
    if (rc != PROMO_OK)
        return rc;
    return pq_do(c, NULL, SQL_SHAPE_ADD, "ssi", pattern, charset, count);
}

static enum promo_err issued_room(const struct campaign *cp, const struct campaign_counts *k, int64_t count)
{
    if (cp->limits.max_issued != PG_UNL && k->issued + count > cp->limits.max_issued)
        return PROMO_CAMPAIGN_LIMIT_REACHED;
    return PROMO_OK;
}

static const char SQL_ISSUED_ADD[] = "UPDATE campaigns SET issued = issued + $1 WHERE id = $2";

static enum promo_err issued_add(struct pgc *c, const char *campaign_id, int64_t n)
{
    return pq_do(c, NULL, SQL_ISSUED_ADD, "is", n, campaign_id);
}

/* ---- generation ---------------------------------------------------------- */

static const char SQL_CODE_INSERT[] =
    "INSERT INTO codes (code_key, code, campaign_id, customer_id, channel, max_uses, issued_at, expires_at, pooled)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (code_key) DO NOTHING";

/* Inserts one random code of shape g; retries on collision with any code
 * in the store (rare: the keyspace guard). */
static enum promo_err insert_random(struct pgc *c, const char *campaign_id, const struct codegen *g,
                                    const char *customer_id, const char *channel, int64_t max_uses, int64_t now,
                                    int64_t expires_at, int pooled, char *shown)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        char key[CODEFMT_KEY_MAX + 1];
        codefmt_render(g, util_rand_uniform, shown);
        if (codefmt_normalize(shown, strlen(shown), key) != PROMO_OK)
            return PROMO_INTERNAL;
        int64_t changed = 0;
        enum promo_err rc = pq_do(c, &changed, SQL_CODE_INSERT, "sssssoioi", key, shown, campaign_id, customer_id,
                                  channel, max_uses, PG_UNL, now, expires_at, PROMO_TIME_MAX, (int64_t)pooled);
        if (rc != PROMO_OK)
            return rc;
        if (changed == 1)
            return PROMO_OK;
    }
    log_error("store: 64 code collisions in a row for pattern %s", g->pattern);
    return PROMO_INTERNAL;
}

/* Appends s as an element of a PostgreSQL array literal. */
static void array_add(struct buf *b, const char *s, bool first)
{
    buf_append(b, first ? "\"" : ",\"", first ? 1 : 2);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
    buf_append(b, "\"", 1);
}

static const char SQL_CODE_BULK[] =
    "INSERT INTO codes (code_key, code, campaign_id, max_uses, issued_at, expires_at, pooled)"
    " SELECT k, s, $3, $4, $5, $6, 1 FROM unnest($1::text[], $2::text[]) AS t(k, s)"
    " ON CONFLICT (code_key) DO NOTHING";

/* Inserts `count` random pooled codes in one statement (two arrays); keys
 * already taken are made up for by fresh ones, one at a time. */
static enum promo_err insert_batch(struct pgc *c, const char *campaign_id, const struct codegen *g, int64_t count,
                                   const struct code_batch *ready, int64_t max_uses, int64_t now,
                                   int64_t expires_at)
{
    struct code_batch own = {0};
    if (!ready) {
        if (code_batch_make(g, util_rand_uniform, (size_t)count, &own) != 0)
            return PROMO_INTERNAL;
        ready = &own;
    }
    if ((int64_t)ready->n != count) {
        code_batch_free(&own);
        return PROMO_INTERNAL;
    }
    struct buf keys, shown;
    buf_init(&keys, (size_t)1 << 30);
    buf_init(&shown, (size_t)1 << 30);
    buf_append(&keys, "{", 1);
    buf_append(&shown, "{", 1);
    for (size_t i = 0; i < ready->n; i++) {
        array_add(&keys, ready->v[i].key, i == 0);
        array_add(&shown, ready->v[i].shown, i == 0);
    }
    code_batch_free(&own);
    buf_append(&keys, "}", 2); /* with the NUL */
    buf_append(&shown, "}", 2);
    int64_t made = 0;
    enum promo_err rc = pq_do(c, &made, SQL_CODE_BULK, "sssoio", keys.data, shown.data, campaign_id, max_uses, PG_UNL,
                              now, expires_at, PROMO_TIME_MAX);
    buf_free(&keys);
    buf_free(&shown);
    for (int64_t i = made; i < count && rc == PROMO_OK; i++) {
        char s[PROMO_CODE_MAX + 1];
        rc = insert_random(c, campaign_id, g, NULL, NULL, max_uses, now, expires_at, 1, s);
    }
    return rc;
}

struct gen_args {
    const char *campaign_id;
    const struct codegen *g;
    const struct code_batch *ready;
    int64_t count, max_uses, now, *made;
    bool reserve_shape, reserve_only;
    const char *job_id;
};

static const char SQL_JOB_PROGRESS[] = "UPDATE jobs SET done = done + $1, updated_at = $2 WHERE id = $3";

static enum promo_err tx_generate(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct gen_args *ga = arg;
    struct arena a = {0};
    struct campaign cp;
    struct campaign_counts k = {0};
    enum promo_err rc = pg_campaign_read(c, &a, ga->campaign_id, true, &cp, NULL);
    if (rc == PROMO_OK) {
        PGresult *r = pq(c, "SELECT issued FROM campaigns WHERE id = $1", "s", ga->campaign_id);
        k.issued = r ? pg_i64(r, 0, 0) : 0;
        PQclear(r);
        rc = issued_room(&cp, &k, ga->count);
    }
    if (rc == PROMO_OK && ga->reserve_shape)
        rc = shape_reserve(c, ga->g, ga->count);
    if (rc != PROMO_OK || ga->reserve_only)
        goto out;
    rc = insert_batch(c, cp.id, ga->g, ga->count, ga->ready, ga->max_uses, ga->now, validity_end(&cp, ga->now));
    if (rc == PROMO_OK)
        rc = issued_add(c, cp.id, ga->count);
    if (rc == PROMO_OK) {
        json_t *ev = json_pack("{s:I, s:s}", "count", (json_int_t)ga->count, "pattern", ga->g->pattern);
        char *data = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        rc = pg_event_log(c, "codes_generated", ga->now, cp.id, NULL, NULL, NULL, NULL, NULL, data);
        free(data);
    }
    if (rc == PROMO_OK && ga->job_id)
        rc = pq_do(c, NULL, SQL_JOB_PROGRESS, "iis", ga->count, ga->now, ga->job_id);
    if (rc == PROMO_OK && ga->made)
        *ga->made = ga->count;
out:
    arena_free(&a);
    return rc;
}

enum promo_err pg_codes_generate(struct pg_store *st, const char *campaign_id, const struct codegen *g, int64_t count,
                                 int64_t max_uses, const struct code_batch *ready, const char *job_id, int64_t now,
                                 int64_t *made)
{
    struct gen_args ga = {campaign_id, g, ready, count, max_uses, now, made, job_id == NULL, false, job_id};
    *made = 0;
    return pg_tx(st, tx_generate, &ga);
}

enum promo_err pg_codes_reserve(struct pg_store *st, const char *campaign_id, const struct codegen *g, int64_t count)
{
    struct gen_args ga = {campaign_id, g, NULL, count, 0, 0, NULL, true, true, NULL};
    return pg_tx(st, tx_generate, &ga);
}

/* ---- chosen codes and import --------------------------------------------- */

static enum promo_err insert_chosen(struct pgc *c, const char *campaign_id, const struct code *k, int64_t now,
                                    int64_t default_exp)
{
    char key[CODEFMT_KEY_MAX + 1];
    if (codefmt_normalize(k->code, strlen(k->code), key) != PROMO_OK)
        return PROMO_INVALID_FORMAT;
    int64_t changed = 0;
    enum promo_err rc = pq_do(c, &changed, SQL_CODE_INSERT, "sssssoioi", key, k->code, campaign_id, k->customer_id,
                              (const char *)NULL, k->max_uses, PG_UNL, now,
                              k->expires_at != PROMO_TIME_MAX ? k->expires_at : default_exp, PROMO_TIME_MAX,
                              (int64_t)0);
    if (rc != PROMO_OK)
        return rc;
    return changed == 1 ? PROMO_OK : PROMO_CONFLICT;
}

static enum promo_err code_read(struct pgc *c, struct arena *a, const char *key, int64_t now, struct code_info *out);

/* The campaign under its row lock, with its issued count. */
static enum promo_err campaign_for_codes(struct pgc *c, struct arena *a, const char *id, struct campaign *cp,
                                         struct campaign_counts *k)
{
    memset(k, 0, sizeof(*k));
    enum promo_err rc = pg_campaign_read(c, a, id, true, cp, NULL);
    if (rc != PROMO_OK)
        return rc;
    PGresult *r = pq(c, "SELECT issued FROM campaigns WHERE id = $1", "s", id);
    if (!r)
        return PROMO_INTERNAL;
    k->issued = pg_i64(r, 0, 0);
    PQclear(r);
    return PROMO_OK;
}

struct add_args {
    struct arena *a;
    const char *campaign_id;
    const struct code *k;
    int64_t now;
    struct code_info *out;
};

static enum promo_err tx_code_add(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct add_args *aa = arg;
    struct campaign cp;
    struct campaign_counts k;
    enum promo_err rc = campaign_for_codes(c, aa->a, aa->campaign_id, &cp, &k);
    if (rc == PROMO_OK)
        rc = issued_room(&cp, &k, 1);
    if (rc == PROMO_OK)
        rc = insert_chosen(c, cp.id, aa->k, aa->now, validity_end(&cp, aa->now));
    if (rc == PROMO_OK)
        rc = issued_add(c, cp.id, 1);
    char key[CODEFMT_KEY_MAX + 1];
    if (rc == PROMO_OK && codefmt_normalize(aa->k->code, strlen(aa->k->code), key) == PROMO_OK) {
        rc = pg_event_log(c, "code_created", aa->now, cp.id, key, aa->k->customer_id, NULL, NULL, NULL, NULL);
        if (rc == PROMO_OK)
            rc = code_read(c, aa->a, key, aa->now, aa->out);
    }
    return rc;
}

enum promo_err pg_code_add(struct pg_store *st, struct arena *a, const char *campaign_id, const struct code *k,
                           int64_t now, struct code_info *out)
{
    struct add_args aa = {a, campaign_id, k, now, out};
    return pg_tx(st, tx_code_add, &aa);
}

struct import_args {
    struct arena *a;
    const char *campaign_id;
    struct import_row *rows;
    size_t n;
    int64_t now, *imported;
    const char **given; /* the callers' reject reasons, restored before a retry */
};

static enum promo_err tx_import(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct import_args *ia = arg;
    for (size_t i = 0; i < ia->n; i++)
        ia->rows[i].reject_reason = ia->given[i];
    *ia->imported = 0;
    struct campaign cp;
    struct campaign_counts k;
    enum promo_err rc = campaign_for_codes(c, ia->a, ia->campaign_id, &cp, &k);
    if (rc != PROMO_OK)
        return rc;
    int64_t exp = validity_end(&cp, ia->now), n = 0;
    for (size_t i = 0; i < ia->n; i++) {
        struct import_row *r = &ia->rows[i];
        if (r->reject_reason)
            continue;
        if (issued_room(&cp, &k, n + 1) != PROMO_OK) {
            r->reject_reason = "the campaign's max_issued is reached";
            continue;
        }
        rc = insert_chosen(c, cp.id, &r->k, ia->now, exp);
        if (rc == PROMO_CONFLICT) {
            r->reject_reason = "duplicate: the code already exists";
            continue;
        }
        if (rc != PROMO_OK)
            return rc == PROMO_INVALID_FORMAT ? PROMO_INTERNAL : rc;
        n++;
    }
    rc = issued_add(c, cp.id, n);
    if (rc == PROMO_OK) {
        char data[64];
        snprintf(data, sizeof data, "{\"count\":%lld}", (long long)n);
        rc = pg_event_log(c, "codes_imported", ia->now, cp.id, NULL, NULL, NULL, NULL, NULL, data);
    }
    *ia->imported = n;
    return rc;
}

enum promo_err pg_codes_import(struct pg_store *st, struct arena *a, const char *campaign_id, struct import_row *rows,
                               size_t n, int64_t now, int64_t *imported)
{
    const char **given = arena_alloc(a, sizeof(char *) * (n + 1));
    for (size_t i = 0; i < n; i++)
        given[i] = rows[i].reject_reason;
    struct import_args ia = {a, campaign_id, rows, n, now, imported, given};
    *imported = 0;
    return pg_tx(st, tx_import, &ia);
}

/* ---- reading ------------------------------------------------------------- */

static const char SQL_CODE_GET[] =
    "SELECT " CODE_COLS ", " CODE_STATE_SQL " FROM codes k JOIN campaigns c ON c.id = k.campaign_id"
    " WHERE k.code_key = $1";

static enum promo_err code_read(struct pgc *c, struct arena *a, const char *key, int64_t now, struct code_info *out)
{
    PGresult *r = pq(c, SQL_CODE_GET, "si", key, now);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_code(r, 0, a, out);
    PQclear(r);
    return rc;
}

enum promo_err pg_code_get(struct pg_store *st, struct arena *a, const char *key, int64_t now, struct code_info *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = code_read(c, a, key, now, out);
    pgc_put(st, c);
    return rc;
}

static const char SQL_CODES_LIST[] =
    "SELECT " CODE_COLS ", " CODE_STATE_SQL " AS st FROM codes k JOIN campaigns c ON c.id = k.campaign_id"
    " WHERE k.campaign_id = $1 AND k.seq > $3 AND ($4::text IS NULL OR " CODE_STATE_SQL " = $4)"
    " ORDER BY k.seq LIMIT $5";

enum promo_err pg_codes_list(struct pg_store *st, struct arena *a, const char *campaign_id, const char *state,
                             int64_t after_seq, int limit, int64_t now, struct code_info **out, size_t *n,
                             int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_CODES_LIST, "siisi", campaign_id, now, after_seq, state, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct code_info) * (size_t)(limit + 1));
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        row_to_code(r, i, a, &(*out)[(*n)++]);
    }
    PQclear(r);
    return PROMO_OK;
}

/* ---- disable and issue --------------------------------------------------- */

struct key_args {
    struct arena *a;
    const char *key, *campaign_id, *customer_id, *channel;
    const struct codegen *g;
    int64_t now;
    struct code_info *out;
};

static const char SQL_CODE_DISABLE[] = "UPDATE codes SET disabled = 1, pooled = 0 WHERE code_key = $1 AND disabled = 0";

static enum promo_err tx_disable(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct key_args *ka = arg;
    enum promo_err rc = code_read(c, ka->a, ka->key, ka->now, ka->out);
    if (rc != PROMO_OK || ka->out->k.disabled)
        return rc;
    int64_t changed = 0;
    rc = pq_do(c, &changed, SQL_CODE_DISABLE, "s", ka->key);
    if (rc == PROMO_OK && changed == 1)
        rc = pg_event_log(c, "code_disabled", ka->now, ka->out->k.campaign_id, ka->key, NULL, NULL, NULL, NULL, NULL);
    if (rc == PROMO_OK)
        rc = code_read(c, ka->a, ka->key, ka->now, ka->out);
    return rc;
}

enum promo_err pg_code_disable(struct pg_store *st, struct arena *a, const char *key, int64_t now,
                               struct code_info *out)
{
    struct key_args ka = {.a = a, .key = key, .now = now, .out = out};
    return pg_tx(st, tx_disable, &ka);
}

static const char SQL_CUSTOMER_CODES[] = "SELECT count(*) FROM codes WHERE customer_id = $1 AND campaign_id = $2";
static const char SQL_POOL_TAKE[] =
    "SELECT code_key FROM codes WHERE campaign_id = $1 AND pooled = 1 AND disabled = 0 AND uses = 0"
    " AND held = 0 LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char SQL_CODE_ASSIGN[] =
    "UPDATE codes SET customer_id = $1, channel = $2, pooled = 0, issued_at = $3, expires_at = $4"
    " WHERE code_key = $5";

/* From the pool, else a new code; under the campaign's row lock, so
 * per_customer and max_issued hold across servers. */
static enum promo_err issue_take(struct pgc *c, struct key_args *ka, const struct campaign *cp,
                                 const struct campaign_counts *counts, char *key)
{
    int64_t exp = validity_end(cp, ka->now);
    PGresult *r = pq(c, SQL_POOL_TAKE, "s", cp->id);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r))
        snprintf(key, CODEFMT_KEY_MAX + 1, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (key[0])
        return pq_do(c, NULL, SQL_CODE_ASSIGN, "ssios", ka->customer_id, ka->channel, ka->now, exp, PROMO_TIME_MAX,
                     key);
    enum promo_err rc = issued_room(cp, counts, 1);
    if (rc == PROMO_OK)
        rc = shape_reserve(c, ka->g, 1);
    char shown[PROMO_CODE_MAX + 1];
    if (rc == PROMO_OK)
        rc = insert_random(c, cp->id, ka->g, ka->customer_id, ka->channel, 1, ka->now, exp, 0, shown);
    if (rc == PROMO_OK)
        rc = issued_add(c, cp->id, 1);
    if (rc == PROMO_OK && codefmt_normalize(shown, strlen(shown), key) != PROMO_OK)
        rc = PROMO_INTERNAL;
    return rc;
}

static enum promo_err tx_issue(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct key_args *ka = arg;
    struct campaign cp;
    struct campaign_counts counts;
    enum promo_err rc = campaign_for_codes(c, ka->a, ka->campaign_id, &cp, &counts);
    if (rc != PROMO_OK)
        return rc;
    enum campaign_status status = core_campaign_status(&cp, ka->now);
    if (status == STATUS_ENDED || status == STATUS_PAUSED || status == STATUS_DRAFT)
        return PROMO_CAMPAIGN_INACTIVE;
    /* Segment and first-order rules apply to who may be given a code, read
     * in the same transaction as the issue. */
    if (cp.rules.n_segments > 0 || cp.rules.first_order_only) {
        struct customer_facts cf;
        if ((rc = pg_customer_facts_read(c, ka->a, ka->customer_id, &cf)) != PROMO_OK)
            return rc;
        if (!core_customer_eligible(&cp.rules, &cf))
            return PROMO_CUSTOMER_NOT_ELIGIBLE;
    }
    if (cp.limits.per_customer != PG_UNL) {
        PGresult *r = pq(c, SQL_CUSTOMER_CODES, "ss", ka->customer_id, cp.id);
        if (!r)
            return PROMO_INTERNAL;
        int64_t held = pg_i64(r, 0, 0);
        PQclear(r);
        if (held >= cp.limits.per_customer)
            return PROMO_CUSTOMER_LIMIT_REACHED;
    }
    char key[CODEFMT_KEY_MAX + 1] = "";
    rc = issue_take(c, ka, &cp, &counts, key);
    if (rc != PROMO_OK)
        return rc;
    json_t *ev = json_pack("{s:s?}", "channel", ka->channel);
    char *data = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    rc = pg_event_log(c, "code_issued", ka->now, cp.id, key, ka->customer_id, NULL, NULL, NULL, data);
    free(data);
    /* Expiry reminders are scheduled with the issue, so a code given out
     * is never without its reminders whatever crashes (docs/automation.md). */
    int64_t exp = validity_end(&cp, ka->now);
    if (rc == PROMO_OK && exp != PROMO_TIME_MAX)
        rc = pg_reminders_schedule(c, cp.id, key, ka->customer_id, exp, ka->now);
    if (rc == PROMO_OK)
        rc = code_read(c, ka->a, key, ka->now, ka->out);
    return rc;
}

enum promo_err pg_code_issue_tx(struct pgc *c, struct arena *a, const char *campaign_id, const char *customer_id,
                                const char *channel, const struct codegen *g, int64_t now, struct code_info *out)
{
    struct key_args ka = {a, NULL, campaign_id, customer_id, channel, g, now, out};
    return tx_issue(NULL, c, &ka);
}

enum promo_err pg_code_info_read(struct pgc *c, struct arena *a, const char *key, int64_t now, struct code_info *out)
{
    return code_read(c, a, key, now, out);
}

enum promo_err pg_code_issue(struct pg_store *st, struct arena *a, const char *campaign_id, const char *customer_id,
                             const char *channel, const struct codegen *g, int64_t now, struct code_info *out)
{
    struct key_args ka = {a, NULL, campaign_id, customer_id, channel, g, now, out};
    return pg_tx(st, tx_issue, &ka);
}
