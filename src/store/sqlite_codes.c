/* sqlite_codes.c — codes on SQLite: generation, chosen codes, import,
 * lookup, listing, disabling and issuing to customers. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/rand.h"

#define CODE_COLS                                                                                  \
    "k.code_key, k.code, k.campaign_id, k.customer_id, k.channel, k.max_uses, k.uses, k.disabled," \
    " k.issued_at, k.expires_at, k.seq"
/* The state of a code as API.md names it, computed where it is read so it
 * can never disagree with the campaign (?5 is now). */
#define CODE_STATE_SQL                                                                             \
    "CASE WHEN k.disabled <> 0 THEN 'disabled'"                                                    \
    " WHEN k.max_uses IS NOT NULL AND k.uses >= k.max_uses THEN 'redeemed'"                        \
    " WHEN c.state = 3 OR (c.ends_at IS NOT NULL AND ?5 > c.ends_at)"                              \
    "   OR (k.expires_at IS NOT NULL AND ?5 > k.expires_at) THEN 'expired'"                        \
    " ELSE 'active' END"

static void row_to_code(sqlite3_stmt *s, struct arena *a, struct code_info *out)
{
    memset(out, 0, sizeof(*out));
    struct code *k = &out->k;
    snprintf(k->code, sizeof k->code, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(k->campaign_id, sizeof k->campaign_id, "%s", (const char *)sqlite3_column_text(s, 2));
    k->customer_id = col_text(s, 3, a);
    out->channel = col_text(s, 4, a);
    k->max_uses = col_opt(s, 5, PROMO_UNLIMITED);
    k->uses = sqlite3_column_int64(s, 6);
    k->disabled = sqlite3_column_int64(s, 7) != 0;
    k->issued_at = sqlite3_column_int64(s, 8);
    k->expires_at = col_opt(s, 9, PROMO_TIME_MAX);
    out->seq = sqlite3_column_int64(s, 10);
    out->state = col_text(s, 11, a);
}

static int64_t validity_end(const struct campaign *cp, int64_t now)
{
    return cp->code_validity_days > 0 ? now + cp->code_validity_days * 86400 : PROMO_TIME_MAX;
}

/* ---- keyspace and max_issued -------------------------------------------- */

static const char SQL_SHAPE_GET[] = "SELECT total FROM code_shapes WHERE pattern = ? AND charset = ?";
static const char SQL_SHAPE_ADD[] =
    "INSERT INTO code_shapes (pattern, charset, total) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (pattern, charset) DO UPDATE SET total = total + ?3";

/* Checks that `count` more codes of shape g keep the keyspace guard, and
 * counts them in. */
static enum promo_err shape_reserve(struct conn *c, const struct codegen *g, int64_t count)
{
    char pattern[PROMO_CODE_MAX + 1], charset[128];
    codefmt_shape(g, pattern, charset);
    sqlite3_stmt *s = conn_stmt(c, SQL_SHAPE_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, pattern);
    bind_text(s, 2, charset);
    int64_t have = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    enum promo_err rc = codefmt_keyspace_check(g, have + count);
    if (rc != PROMO_OK)
        return rc;
    s = conn_stmt(c, SQL_SHAPE_ADD);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, pattern);
    bind_text(s, 2, charset);
    bind_i64(s, 3, count);
    return step_done(c, s);
}

static enum promo_err issued_room(const struct campaign *cp, const struct campaign_counts *k, int64_t count)
{
    if (cp->limits.max_issued != PROMO_UNLIMITED && k->issued + count > cp->limits.max_issued)
        return PROMO_CAMPAIGN_LIMIT_REACHED;
    return PROMO_OK;
}

static const char SQL_ISSUED_ADD[] = "UPDATE campaigns SET issued = issued + ? WHERE id = ?";

static enum promo_err issued_add(struct conn *c, const char *campaign_id, int64_t n)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_ISSUED_ADD);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, n);
    bind_text(s, 2, campaign_id);
    return step_done(c, s);
}

/* ---- generation ---------------------------------------------------------- */

static const char SQL_CODE_INSERT[] =
    "INSERT OR IGNORE INTO codes (code_key, code, campaign_id, customer_id, channel, max_uses,"
    " issued_at, expires_at, pooled) VALUES (?,?,?,?,?,?,?,?,?)";

/* Inserts one random code of shape g; retries on collision with any code in
 * the store. The keyspace guard keeps collisions rare (at most 1 in 10^6
 * per try), so a long run of them means something is wrong. */
static enum promo_err insert_random(struct conn *c, const char *campaign_id, const struct codegen *g,
                                    const char *customer_id, const char *channel, int64_t max_uses,
                                    int64_t now, int64_t expires_at, int pooled, char *shown)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CODE_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    for (int attempt = 0; attempt < 64; attempt++) {
        char key[CODEFMT_KEY_MAX + 1];
        codefmt_render(g, util_rand_uniform, shown);
        if (codefmt_normalize(shown, strlen(shown), key) != PROMO_OK)
            return PROMO_INTERNAL;
        sqlite3_reset(s);
        bind_text(s, 1, key);
        bind_text(s, 2, shown);
        bind_text(s, 3, campaign_id);
        bind_text(s, 4, customer_id);
        bind_text(s, 5, channel);
        bind_opt(s, 6, max_uses, PROMO_UNLIMITED);
        bind_i64(s, 7, now);
        bind_opt(s, 8, expires_at, PROMO_TIME_MAX);
        bind_i64(s, 9, pooled);
        if (sqlite3_step(s) != SQLITE_DONE) {
            sqlite3_reset(s);
            return db_fail(c, "code insert");
        }
        if (sqlite3_changes(c->db) == 1) {
            sqlite3_reset(s);
            return PROMO_OK;
        }
    }
    sqlite3_reset(s);
    log_error("store: 64 code collisions in a row for pattern %s", g->pattern);
    return PROMO_INTERNAL;
}

/* Inserts `count` pooled codes: `ready` when given, else made here. They are
 * inserted in key order, so the unique-key index is walked once from left
 * to right instead of being hit at random: far fewer page visits per code.
 * A key taken already (in the store or this batch) is replaced by a fresh
 * one. */
static enum promo_err insert_batch(struct conn *c, const char *campaign_id, const struct codegen *g,
                                   int64_t count, const struct code_batch *ready, int64_t max_uses, int64_t now,
                                   int64_t expires_at)
{
    struct code_batch own = {0};
    if (!ready) {
        if (code_batch_make(g, util_rand_uniform, (size_t)count, &own) != 0)
            return PROMO_INTERNAL;
        ready = &own;
    }
    enum promo_err rc = (int64_t)ready->n == count ? PROMO_OK : PROMO_INTERNAL;
    sqlite3_stmt *s = conn_stmt(c, SQL_CODE_INSERT);
    if (!s)
        rc = PROMO_INTERNAL;
    for (size_t i = 0; i < ready->n && rc == PROMO_OK; i++) {
        bind_text(s, 1, ready->v[i].key);
        bind_text(s, 2, ready->v[i].shown);
        bind_text(s, 3, campaign_id);
        bind_text(s, 4, NULL);
        bind_text(s, 5, NULL);
        bind_opt(s, 6, max_uses, PROMO_UNLIMITED);
        bind_i64(s, 7, now);
        bind_opt(s, 8, expires_at, PROMO_TIME_MAX);
        bind_i64(s, 9, 1);
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) {
            rc = db_fail(c, "code insert");
        } else if (sqlite3_changes(c->db) == 0) {
            char shown[PROMO_CODE_MAX + 1];
            rc = insert_random(c, campaign_id, g, NULL, NULL, max_uses, now, expires_at, 1, shown);
        }
    }
    code_batch_free(&own);
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

static const char SQL_JOB_PROGRESS[] = "UPDATE jobs SET done = done + ?, updated_at = ? WHERE id = ?";

static enum promo_err op_generate(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct gen_args *ga = arg;
    struct arena a = {0};
    struct campaign cp;
    struct campaign_counts k;
    enum promo_err rc = campaign_read(c, &a, ga->campaign_id, &cp, &k);
    if (rc == PROMO_OK)
        rc = issued_room(&cp, &k, ga->count);
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
        rc = event_log(c, "codes_generated", ga->now, cp.id, NULL, NULL, NULL, NULL, NULL, data);
        free(data);
    }
    if (rc == PROMO_OK && ga->job_id) {
        sqlite3_stmt *s = conn_stmt(c, SQL_JOB_PROGRESS);
        if (!s) {
            rc = PROMO_INTERNAL;
            goto out;
        }
        bind_i64(s, 1, ga->count);
        bind_i64(s, 2, ga->now);
        bind_text(s, 3, ga->job_id);
        rc = step_done(c, s);
    }
    if (rc == PROMO_OK && ga->made)
        *ga->made = ga->count;
out:
    arena_free(&a);
    return rc;
}

enum promo_err sqlite_codes_generate(struct sqlite_store *st, const char *campaign_id,
                                    const struct codegen *g, int64_t count, int64_t max_uses,
                                    const struct code_batch *ready, const char *job_id, int64_t now,
                                    int64_t *made)
{
    struct gen_args ga = {campaign_id, g, ready, count, max_uses, now, made, job_id == NULL, false, job_id};
    *made = 0;
    return writer_run(st, op_generate, &ga);
}

enum promo_err sqlite_codes_reserve(struct sqlite_store *st, const char *campaign_id,
                                   const struct codegen *g, int64_t count)
{
    struct gen_args ga = {campaign_id, g, NULL, count, 0, 0, NULL, true, true, NULL};
    return writer_run(st, op_generate, &ga);
}

/* ---- chosen codes and import --------------------------------------------- */

struct add_args {
    struct arena *a;
    const char *campaign_id;
    const struct code *k;
    int64_t now;
    struct code_info *out;
};

static enum promo_err insert_chosen(struct conn *c, const char *campaign_id, const struct code *k,
                                    int64_t now, int64_t default_exp)
{
    char key[CODEFMT_KEY_MAX + 1];
    if (codefmt_normalize(k->code, strlen(k->code), key) != PROMO_OK)
        return PROMO_INVALID_FORMAT;
    sqlite3_stmt *s = conn_stmt(c, SQL_CODE_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, key);
    bind_text(s, 2, k->code);
    bind_text(s, 3, campaign_id);
    bind_text(s, 4, k->customer_id);
    bind_text(s, 5, NULL);
    bind_opt(s, 6, k->max_uses, PROMO_UNLIMITED);
    bind_i64(s, 7, now);
    bind_opt(s, 8, k->expires_at != PROMO_TIME_MAX ? k->expires_at : default_exp, PROMO_TIME_MAX);
    bind_i64(s, 9, 0);
    if (sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_reset(s);
        return db_fail(c, "code insert");
    }
    sqlite3_reset(s);
    return sqlite3_changes(c->db) == 1 ? PROMO_OK : PROMO_CONFLICT;
}

static enum promo_err code_read(struct conn *c, struct arena *a, const char *key, int64_t now,
                                struct code_info *out);

static enum promo_err op_code_add(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct add_args *aa = arg;
    struct campaign cp;
    struct campaign_counts k;
    enum promo_err rc = campaign_read(c, aa->a, aa->campaign_id, &cp, &k);
    if (rc == PROMO_OK)
        rc = issued_room(&cp, &k, 1);
    if (rc == PROMO_OK)
        rc = insert_chosen(c, cp.id, aa->k, aa->now, validity_end(&cp, aa->now));
    if (rc == PROMO_OK)
        rc = issued_add(c, cp.id, 1);
    char key[CODEFMT_KEY_MAX + 1];
    if (rc == PROMO_OK && codefmt_normalize(aa->k->code, strlen(aa->k->code), key) == PROMO_OK) {
        rc = event_log(c, "code_created", aa->now, cp.id, key, aa->k->customer_id, NULL, NULL, NULL, NULL);
        if (rc == PROMO_OK)
            rc = code_read(c, aa->a, key, aa->now, aa->out);
    }
    return rc;
}

enum promo_err sqlite_code_add(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                              const struct code *k, int64_t now, struct code_info *out)
{
    struct add_args aa = {a, campaign_id, k, now, out};
    return writer_run(st, op_code_add, &aa);
}

struct import_args {
    struct arena *a;
    const char *campaign_id;
    struct import_row *rows;
    size_t n;
    int64_t now, *imported;
};

static enum promo_err op_import(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct import_args *ia = arg;
    struct campaign cp;
    struct campaign_counts k;
    enum promo_err rc = campaign_read(c, ia->a, ia->campaign_id, &cp, &k);
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
        rc = event_log(c, "codes_imported", ia->now, cp.id, NULL, NULL, NULL, NULL, NULL, data);
    }
    *ia->imported = n;
    return rc;
}

enum promo_err sqlite_codes_import(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                                  struct import_row *rows, size_t n, int64_t now, int64_t *imported)
{
    struct import_args ia = {a, campaign_id, rows, n, now, imported};
    *imported = 0;
    return writer_run(st, op_import, &ia);
}

/* ---- reading ------------------------------------------------------------- */

static const char SQL_CODE_GET[] =
    "SELECT " CODE_COLS ", " CODE_STATE_SQL " FROM codes k JOIN campaigns c ON c.id = k.campaign_id"
    " WHERE k.code_key = ?1 AND ?2 IS NULL AND ?3 IS NULL AND ?4 IS NULL";

static enum promo_err code_read(struct conn *c, struct arena *a, const char *key, int64_t now,
                                struct code_info *out)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CODE_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, key);
    bind_i64(s, 5, now);
    enum promo_err rc;
    switch (sqlite3_step(s)) {
    case SQLITE_ROW:
        row_to_code(s, a, out);
        rc = PROMO_OK;
        break;
    case SQLITE_DONE:
        rc = PROMO_NOT_FOUND;
        break;
    default:
        rc = db_fail(c, "code read");
    }
    sqlite3_reset(s);
    return rc;
}

enum promo_err sqlite_code_get(struct sqlite_store *st, struct arena *a, const char *key, int64_t now,
                              struct code_info *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = code_read(c, a, key, now, out);
    reader_put(st, c);
    return rc;
}

static const char SQL_CODES_LIST[] =
    "SELECT " CODE_COLS ", " CODE_STATE_SQL " AS st FROM codes k JOIN campaigns c ON c.id = k.campaign_id"
    " WHERE k.campaign_id = ?1 AND k.seq > ?2 AND (?3 IS NULL OR " CODE_STATE_SQL " = ?3)"
    " ORDER BY k.seq LIMIT ?4";

enum promo_err sqlite_codes_list(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                                const char *state, int64_t after_seq, int limit, int64_t now,
                                struct code_info **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_CODES_LIST);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_text(s, 1, campaign_id);
    bind_i64(s, 2, after_seq);
    bind_text(s, 3, state);
    bind_i64(s, 4, limit + 1);
    bind_i64(s, 5, now);
    *out = arena_alloc(a, sizeof(struct code_info) * (size_t)(limit + 1));
    int r;
    enum promo_err rc = PROMO_OK;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        row_to_code(s, a, &(*out)[*n]);
        (*n)++;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(c, "codes list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

/* ---- disable and issue --------------------------------------------------- */

struct key_args {
    struct arena *a;
    const char *key, *campaign_id, *customer_id, *channel;
    const struct codegen *g;
    int64_t now;
    struct code_info *out;
};

static const char SQL_CODE_DISABLE[] = "UPDATE codes SET disabled = 1, pooled = 0 WHERE code_key = ?";

static enum promo_err op_disable(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct key_args *ka = arg;
    enum promo_err rc = code_read(c, ka->a, ka->key, ka->now, ka->out);
    if (rc != PROMO_OK || ka->out->k.disabled)
        return rc;
    sqlite3_stmt *s = conn_stmt(c, SQL_CODE_DISABLE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ka->key);
    rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, "code_disabled", ka->now, ka->out->k.campaign_id, ka->key, NULL, NULL, NULL, NULL, NULL);
    if (rc == PROMO_OK)
        rc = code_read(c, ka->a, ka->key, ka->now, ka->out);
    return rc;
}

enum promo_err sqlite_code_disable(struct sqlite_store *st, struct arena *a, const char *key, int64_t now,
                                  struct code_info *out)
{
    struct key_args ka = {.a = a, .key = key, .now = now, .out = out};
    return writer_run(st, op_disable, &ka);
}

static const char SQL_CUSTOMER_CODES[] =
    "SELECT count(*) FROM codes WHERE customer_id = ? AND campaign_id = ?";
/* The next free pooled code after the campaign's cursor (migration 009). */
static const char SQL_POOL_TAKE[] =
    "SELECT seq, code_key FROM codes WHERE campaign_id = ?1"
    " AND seq > (SELECT pool_after FROM campaigns WHERE id = ?1)"
    " AND pooled = 1 AND disabled = 0 AND uses = 0 AND held = 0 ORDER BY seq LIMIT 1";
static const char SQL_POOL_ADVANCE[] = "UPDATE campaigns SET pool_after = ?2 WHERE id = ?1";
static const char SQL_CODE_ASSIGN[] =
    "UPDATE codes SET customer_id = ?, channel = ?, pooled = 0, issued_at = ?, expires_at = ?"
    " WHERE code_key = ?";

static enum promo_err issue_tx(struct conn *c, struct key_args *ka)
{
    struct campaign cp;
    struct campaign_counts counts;
    enum promo_err rc = campaign_read(c, ka->a, ka->campaign_id, &cp, &counts);
    if (rc != PROMO_OK)
        return rc;
    enum campaign_status status = core_campaign_status(&cp, ka->now);
    if (status == STATUS_ENDED || status == STATUS_PAUSED || status == STATUS_DRAFT)
        return PROMO_CAMPAIGN_INACTIVE;
    /* Segment and first-order rules apply to who may be given a code, read
     * in the same transaction as the issue. */
    if (cp.rules.n_segments > 0 || cp.rules.first_order_only) {
        struct customer_facts cf;
        if ((rc = customer_facts_read(c, ka->a, ka->customer_id, &cf)) != PROMO_OK)
            return rc;
        if (!core_customer_eligible(&cp.rules, &cf))
            return PROMO_CUSTOMER_NOT_ELIGIBLE;
    }
    if (cp.limits.per_customer != PROMO_UNLIMITED) {
        sqlite3_stmt *s = conn_stmt(c, SQL_CUSTOMER_CODES);
        if (!s)
            return PROMO_INTERNAL;
        bind_text(s, 1, ka->customer_id);
        bind_text(s, 2, cp.id);
        int64_t held = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (held >= cp.limits.per_customer)
            return PROMO_CUSTOMER_LIMIT_REACHED;
    }
    int64_t exp = validity_end(&cp, ka->now);
    char key[CODEFMT_KEY_MAX + 1] = "";
    sqlite3_stmt *s = conn_stmt(c, SQL_POOL_TAKE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, cp.id);
    int64_t taken_seq = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        taken_seq = sqlite3_column_int64(s, 0);
        snprintf(key, sizeof key, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_reset(s);
    if (key[0]) {
        /* Codes skipped on the way (used, held or disabled while still in
         * the pool) stay behind the cursor: they are not given out. */
        if (!(s = conn_stmt(c, SQL_POOL_ADVANCE)))
            return PROMO_INTERNAL;
        bind_text(s, 1, cp.id);
        bind_i64(s, 2, taken_seq);
        if ((rc = step_done(c, s)) != PROMO_OK)
            return rc;
        s = conn_stmt(c, SQL_CODE_ASSIGN);
        if (!s)
            return PROMO_INTERNAL;
        bind_text(s, 1, ka->customer_id);
        bind_text(s, 2, ka->channel);
        bind_i64(s, 3, ka->now);
        bind_opt(s, 4, exp, PROMO_TIME_MAX);
        bind_text(s, 5, key);
        rc = step_done(c, s);
    } else {
        rc = issued_room(&cp, &counts, 1);
        if (rc == PROMO_OK)
            rc = shape_reserve(c, ka->g, 1);
        char shown[PROMO_CODE_MAX + 1];
        if (rc == PROMO_OK)
            rc = insert_random(c, cp.id, ka->g, ka->customer_id, ka->channel, 1, ka->now, exp, 0, shown);
        if (rc == PROMO_OK)
            rc = issued_add(c, cp.id, 1);
        if (rc == PROMO_OK && codefmt_normalize(shown, strlen(shown), key) != PROMO_OK)
            rc = PROMO_INTERNAL;
    }
    if (rc != PROMO_OK)
        return rc;
    json_t *ev = json_pack("{s:s?}", "channel", ka->channel);
    char *data = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    rc = event_log(c, "code_issued", ka->now, cp.id, key, ka->customer_id, NULL, NULL, NULL, data);
    free(data);
    /* Expiry reminders are scheduled with the issue, so a code given out
     * is never without its reminders whatever crashes (docs/automation.md). */
    if (rc == PROMO_OK && exp != PROMO_TIME_MAX)
        rc = reminders_schedule(c, cp.id, key, ka->customer_id, exp, ka->now);
    if (rc == PROMO_OK)
        rc = code_read(c, ka->a, key, ka->now, ka->out);
    return rc;
}

static enum promo_err op_issue(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    return issue_tx(c, arg);
}

enum promo_err code_issue_tx(struct conn *c, struct arena *a, const char *campaign_id, const char *customer_id,
                             const char *channel, const struct codegen *g, int64_t now, struct code_info *out)
{
    struct key_args ka = {a, NULL, campaign_id, customer_id, channel, g, now, out};
    return issue_tx(c, &ka);
}

enum promo_err code_info_read(struct conn *c, struct arena *a, const char *key, int64_t now, struct code_info *out)
{
    return code_read(c, a, key, now, out);
}

enum promo_err sqlite_code_issue(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                                const char *customer_id, const char *channel,
                                const struct codegen *g, int64_t now, struct code_info *out)
{
    struct key_args ka = {a, NULL, campaign_id, customer_id, channel, g, now, out};
    return writer_run(st, op_issue, &ka);
}
