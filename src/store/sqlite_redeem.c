/* sqlite_redeem.c — validation, redemption, reservations and rollback on
 * SQLite. The decision is core_decide's; this file reads what it needs
 * inside the writer's transaction (the only writer, so the rows cannot
 * change between the read and the write), writes the result and its event,
 * and the writer commits the batch durably before anyone is answered. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/strpack.h"
#include "util/rand.h"

/* ---- reading what a decision needs --------------------------------------- */

/* A code's columns in the order row_to_code reads them. */
#define CODE_COLS "k.code, k.customer_id, k.max_uses, k.uses, k.held, k.disabled, k.issued_at, k.expires_at"

/* Code, campaign and the customer's count in one statement: one read of
 * one snapshot without an explicit transaction around several statements
 * (for a validation whose reader keeps no snapshot, BEGIN and COMMIT cost
 * more than the reads; in the writer, one statement instead of three). The
 * campaign's columns come first, where row_to_campaign expects them. */
static const char SQL_USE_READ[] =
    "SELECT cc.*, " CODE_COLS ", coalesce(u.uses + u.held, 0)"
    " FROM codes k JOIN (SELECT " CAMPAIGN_COLS " FROM campaigns) cc ON cc.id = k.campaign_id"
    " LEFT JOIN customer_usage u ON ?2 IS NOT NULL AND u.campaign_id = k.campaign_id AND u.customer_id = ?2"
    " WHERE k.code_key = ?1";

/* The code's columns, as SQL_USE_READ and SQL_CODE_READ list them from k0
 * on (CODE_COLS, then the customer's count), into in->k and in->u. */
static void row_to_code(sqlite3_stmt *s, int k0, struct arena *a, const struct use_req *r, struct use_inputs *in)
{
    struct code *k = &in->k;
    snprintf(k->code, sizeof k->code, "%s", (const char *)sqlite3_column_text(s, k0));
    k->customer_id = col_text(s, k0 + 1, a);
    k->max_uses = col_opt(s, k0 + 2, PROMO_UNLIMITED);
    k->uses = sqlite3_column_int64(s, k0 + 3);
    in->u.code_uses = k->uses + sqlite3_column_int64(s, k0 + 4);
    k->disabled = sqlite3_column_int64(s, k0 + 5) != 0;
    k->issued_at = sqlite3_column_int64(s, k0 + 6);
    k->expires_at = col_opt(s, k0 + 7, PROMO_TIME_MAX);
    in->u.customer_redemptions = r->customer_id ? sqlite3_column_int64(s, k0 + 8) : 0;
    in->found = true;
}

/* Runs sql (?1 the code's key, ?2 the customer) and leaves *row on its one
 * row, to be reset by the caller; *row NULL when there is no such code. */
static enum promo_err code_row(struct conn *c, const char *sql, const struct use_req *r, sqlite3_stmt **row)
{
    *row = NULL;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, r->key);
    bind_text(s, 2, r->customer_id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *row = s;
        return PROMO_OK;
    }
    sqlite3_reset(s);
    return step == SQLITE_DONE ? PROMO_OK : db_fail(c, "code read");
}

/* Reads code, campaign and counts into *in (in->found false: no such
 * code). PROMO_OK unless the store failed. */
static enum promo_err read_inputs(struct conn *c, struct arena *a, const struct use_req *r, struct use_inputs *in)
{
    memset(in, 0, sizeof(*in));
    sqlite3_stmt *s;
    enum promo_err rc = code_row(c, SQL_USE_READ, r, &s);
    if (rc != PROMO_OK || !s)
        return rc;
    struct campaign_counts cc;
    row_to_campaign(s, a, &in->cp, &cc, NULL);
    row_to_code(s, CAMPAIGN_NCOLS, a, r, in);
    snprintf(in->k.campaign_id, sizeof in->k.campaign_id, "%s", in->cp.id);
    sqlite3_reset(s);
    in->u.campaign_redemptions = cc.redeemed + cc.held;
    in->u.campaign_discount = cc.discount_total + cc.held_discount;
    return PROMO_OK;
}

/* The code and the customer's count without the campaign, for a
 * validation that takes the campaign from the validation cache. */
static const char SQL_CODE_READ[] =
    "SELECT k.campaign_id, " CODE_COLS ", coalesce(u.uses + u.held, 0)"
    " FROM codes k LEFT JOIN customer_usage u ON ?2 IS NOT NULL AND u.campaign_id = k.campaign_id"
    " AND u.customer_id = ?2 WHERE k.code_key = ?1";

static enum promo_err read_code(struct conn *c, struct arena *a, const struct use_req *r, struct use_inputs *in)
{
    memset(in, 0, sizeof(*in));
    sqlite3_stmt *s;
    enum promo_err rc = code_row(c, SQL_CODE_READ, r, &s);
    if (rc != PROMO_OK || !s)
        return rc;
    snprintf(in->k.campaign_id, sizeof in->k.campaign_id, "%s", (const char *)sqlite3_column_text(s, 0));
    row_to_code(s, 1, a, r, in);
    sqlite3_reset(s);
    return PROMO_OK;
}

/* What read_inputs reads, in two statements of one kept snapshot (c is in a
 * read transaction): the code and the customer's count, then the campaign,
 * which the validation cache usually still holds at this version (many
 * codes, one campaign). Reading the campaign's 35 columns was a third of a
 * validation's read. */
static enum promo_err read_inputs_split(struct sqlite_store *st, struct conn *c, struct arena *a,
                                        const struct use_req *r, uint64_t version, struct use_inputs *in)
{
    enum promo_err rc = read_code(c, a, r, in);
    if (rc != PROMO_OK || !in->found)
        return rc;
    struct use_inputs kept;
    if (vcache_get_campaign(st, version, in->k.campaign_id, a, &kept)) {
        in->cp = kept.cp;
        in->u.campaign_redemptions = kept.u.campaign_redemptions;
        in->u.campaign_discount = kept.u.campaign_discount;
        return PROMO_OK;
    }
    struct campaign_counts cc;
    if ((rc = campaign_read(c, a, in->k.campaign_id, &in->cp, &cc)) != PROMO_OK)
        return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc; /* a code's campaign is never missing */
    in->u.campaign_redemptions = cc.redeemed + cc.held;
    in->u.campaign_discount = cc.discount_total + cc.held_discount;
    vcache_put_campaign(st, version, in);
    return PROMO_OK;
}

/* Asks core about inputs read by read_inputs (or kept by the validation
 * cache), reading the customer's facts first when a rule looks at them.
 * Fills res (reason in res->v.reason) and *cp. */
static enum promo_err decide_on(struct conn *c, struct arena *a, const struct use_req *r, struct use_inputs *in,
                                struct use_result *res, struct campaign *cp)
{
    memset(res, 0, sizeof(*res));
    if (!in->found) {
        res->v.reason = PROMO_CODE_NOT_FOUND;
        return PROMO_OK;
    }
    *cp = in->cp;
    struct customer_facts cf = {.known = false};
    bool needs_facts = cp->rules.n_segments > 0 || cp->rules.first_order_only || cp->early_segment != NULL;
    enum promo_err rc;
    if (needs_facts && (rc = customer_facts_read(c, a, r->customer_id, &cf)) != PROMO_OK)
        return rc;
    res->v = core_decide(cp, &in->k, &in->u, &cf, r->order, r->customer_id, r->now);
    snprintf(res->campaign_id, sizeof res->campaign_id, "%s", in->k.campaign_id);
    snprintf(res->code, sizeof res->code, "%s", in->k.code);
    res->discount_type = cp->discount.type;
    return PROMO_OK;
}

/* Reads and decides in one go (the writer's path). */
static enum promo_err decide(struct conn *c, struct arena *a, const struct use_req *r,
                             struct use_result *res, struct campaign *cp)
{
    struct use_inputs in;
    enum promo_err rc = read_inputs(c, a, r, &in);
    return rc == PROMO_OK ? decide_on(c, a, r, &in, res, cp) : rc;
}

/* What a use costs the campaign's budget: money, or points for a points
 * campaign. */
static int64_t use_cost(const char *discount_type, int64_t discount, int64_t points)
{
    return strcmp(discount_type, "points") == 0 ? points : discount;
}

/* ---- counters ------------------------------------------------------------ */

static const char SQL_CODE_COUNT[] = "UPDATE codes SET uses = uses + ?, held = held + ? WHERE code_key = ?";
static const char SQL_CAMPAIGN_COUNT[] =
    "UPDATE campaigns SET redeemed = redeemed + ?1, discount_total = discount_total + ?2,"
    " revenue = revenue + ?3, held = held + ?4, held_discount = held_discount + ?5,"
    " rolled_back = rolled_back + ?6 WHERE id = ?7";
static const char SQL_CUSTOMER_COUNT[] =
    "INSERT INTO customer_usage (campaign_id, customer_id, uses, held) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (campaign_id, customer_id) DO UPDATE SET uses = uses + ?3, held = held + ?4";

/* Moves the counters of one use: d_use/d_held are +1, -1 or 0 for the
 * redemption and hold counts; money moves with them. */
static enum promo_err count_use(struct conn *c, const char *key, const char *campaign_id,
                                const char *customer_id, int d_use, int d_held, int d_rolled,
                                int64_t cost, int64_t after)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CODE_COUNT);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, d_use);
    bind_i64(s, 2, d_held);
    bind_text(s, 3, key);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    s = conn_stmt(c, SQL_CAMPAIGN_COUNT);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, d_use);
    bind_i64(s, 2, d_use * cost);
    bind_i64(s, 3, d_use * after);
    bind_i64(s, 4, d_held);
    bind_i64(s, 5, d_held * cost);
    bind_i64(s, 6, d_rolled);
    bind_text(s, 7, campaign_id);
    rc = step_done(c, s);
    if (rc != PROMO_OK || !customer_id)
        return rc;
    s = conn_stmt(c, SQL_CUSTOMER_COUNT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, campaign_id);
    bind_text(s, 2, customer_id);
    bind_i64(s, 3, d_use);
    bind_i64(s, 4, d_held);
    return step_done(c, s);
}

/* ---- rows ------------------------------------------------------------------ */

#define REDEMPTION_COLS                                                                            \
    "id, code, campaign_id, customer_id, order_id, status, discount_type, reservation_id,"         \
    " rollback_reason, order_amount, discount, points, created_at, rolled_back_at, code_key"

static void row_to_redemption(sqlite3_stmt *s, struct arena *a, struct redemption *r)
{
    r->id = col_text(s, 0, a);
    r->code = col_text(s, 1, a);
    r->campaign_id = col_text(s, 2, a);
    r->customer_id = col_text(s, 3, a);
    r->order_id = col_text(s, 4, a);
    r->status = col_text(s, 5, a);
    r->discount_type = col_text(s, 6, a);
    r->reservation_id = col_text(s, 7, a);
    r->rollback_reason = col_text(s, 8, a);
    r->order_amount = sqlite3_column_int64(s, 9);
    r->discount = sqlite3_column_int64(s, 10);
    r->points = sqlite3_column_int64(s, 11);
    r->created_at = sqlite3_column_int64(s, 12);
    r->rolled_back_at = col_opt(s, 13, 0);
}

static const char SQL_RED_BY_ID[] = "SELECT " REDEMPTION_COLS " FROM redemptions WHERE id = ?";
static const char SQL_RED_STANDING[] =
    "SELECT " REDEMPTION_COLS " FROM redemptions WHERE code_key = ? AND order_id = ? AND status = 'succeeded'";

/* One redemption by a statement with up to two text parameters. */
static enum promo_err redemption_read(struct conn *c, struct arena *a, const char *sql,
                                      const char *p1, const char *p2, struct redemption *out)
{
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p1);
    if (p2)
        bind_text(s, 2, p2);
    enum promo_err rc;
    switch (sqlite3_step(s)) {
    case SQLITE_ROW:
        row_to_redemption(s, a, out);
        rc = PROMO_OK;
        break;
    case SQLITE_DONE:
        rc = PROMO_NOT_FOUND;
        break;
    default:
        rc = db_fail(c, "redemption read");
    }
    sqlite3_reset(s);
    return rc;
}

#define RESERVATION_COLS                                                                           \
    "id, code, campaign_id, customer_id, order_id, state, discount_type, redemption_id,"           \
    " order_amount, discount, points, expires_at, created_at, code_key"

static void row_to_reservation(sqlite3_stmt *s, struct arena *a, struct reservation *r, const char **key)
{
    r->id = col_text(s, 0, a);
    r->code = col_text(s, 1, a);
    r->campaign_id = col_text(s, 2, a);
    r->customer_id = col_text(s, 3, a);
    r->order_id = col_text(s, 4, a);
    r->state = col_text(s, 5, a);
    r->discount_type = col_text(s, 6, a);
    r->redemption_id = col_text(s, 7, a);
    r->order_amount = sqlite3_column_int64(s, 8);
    r->discount = sqlite3_column_int64(s, 9);
    r->points = sqlite3_column_int64(s, 10);
    r->expires_at = sqlite3_column_int64(s, 11);
    r->created_at = sqlite3_column_int64(s, 12);
    if (key)
        *key = col_text(s, 13, a);
}

static const char SQL_RSV_BY_ID[] = "SELECT " RESERVATION_COLS " FROM reservations WHERE id = ?";
static const char SQL_RSV_HELD[] =
    "SELECT " RESERVATION_COLS " FROM reservations WHERE code_key = ? AND order_id = ? AND state = 'held'";

static enum promo_err reservation_read(struct conn *c, struct arena *a, const char *sql,
                                       const char *p1, const char *p2, struct reservation *out,
                                       const char **key)
{
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p1);
    if (p2)
        bind_text(s, 2, p2);
    enum promo_err rc;
    switch (sqlite3_step(s)) {
    case SQLITE_ROW:
        row_to_reservation(s, a, out, key);
        rc = PROMO_OK;
        break;
    case SQLITE_DONE:
        rc = PROMO_NOT_FOUND;
        break;
    default:
        rc = db_fail(c, "reservation read");
    }
    sqlite3_reset(s);
    return rc;
}

/* The event data of a use, into buf. Written by hand (every field is a
 * number or a validated ISO 4217 code, nothing to escape) because it is
 * made for every validation. */
#define USE_EVENT_MAX 192
static void use_event_text(char buf[USE_EVENT_MAX], const struct use_req *r, int64_t discount, int64_t points)
{
    long long amount = r->order ? (long long)r->order->amount : 0;
    if (r->order && r->order->currency[0])
        snprintf(buf, USE_EVENT_MAX, "{\"order_amount\":%lld,\"currency\":\"%.3s\",\"discount\":%lld,\"points\":%lld}",
                 amount, r->order->currency, (long long)discount, (long long)points);
    else
        snprintf(buf, USE_EVENT_MAX, "{\"order_amount\":%lld,\"discount\":%lld,\"points\":%lld}", amount,
                 (long long)discount, (long long)points);
}

/* The same, malloc'd. */
static char *use_event_json(const struct use_req *r, int64_t discount, int64_t points)
{
    char buf[USE_EVENT_MAX];
    use_event_text(buf, r, discount, points);
    return strdup(buf);
}

static const char SQL_RED_INSERT[] =
    "INSERT INTO redemptions (id, code_key, code, campaign_id, customer_id, order_id, order_amount,"
    " currency, discount_type, discount, points, status, reservation_id, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,'succeeded',?,?)";

/* Writes a redemption row and its event; fills *out (arena strings). */
static enum promo_err redemption_write(struct conn *c, struct arena *a, const char *key,
                                       struct redemption *out, const char *currency,
                                       const char *event_data)
{
    char id[PROMO_ID_MAX];
    util_rand_id("rdm_", id, sizeof id);
    out->id = arena_strdup(a, id);
    out->status = "succeeded";
    sqlite3_stmt *s = conn_stmt(c, SQL_RED_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, out->id);
    bind_text(s, 2, key);
    bind_text(s, 3, out->code);
    bind_text(s, 4, out->campaign_id);
    bind_text(s, 5, out->customer_id);
    bind_text(s, 6, out->order_id);
    bind_i64(s, 7, out->order_amount);
    bind_text(s, 8, currency ? currency : "");
    bind_text(s, 9, out->discount_type);
    bind_i64(s, 10, out->discount);
    bind_i64(s, 11, out->points);
    bind_text(s, 12, out->reservation_id);
    bind_i64(s, 13, out->created_at);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    rc = event_log(c, "redeemed", out->created_at, out->campaign_id, key, out->customer_id,
                   out->order_id, out->id, NULL, event_data);
    /* The customer's facts count the order at what they paid. */
    if (rc == PROMO_OK)
        rc = customer_order_add(c, out->customer_id, out->order_id, out->order_amount - out->discount,
                                out->created_at, "redemption");
    return rc;
}

/* ---- holds ---------------------------------------------------------------- */

static const char SQL_RSV_STATE[] =
    "UPDATE reservations SET state = ?, redemption_id = ? WHERE id = ?";

/* Turns a live hold into a redemption: the hold's counts move to the
 * redemption's, with the discount decided when the hold was made. */
static enum promo_err hold_confirm(struct conn *c, struct arena *a, const struct reservation *h,
                                   const char *key, int64_t now, struct redemption *out)
{
    memset(out, 0, sizeof(*out));
    out->code = h->code;
    out->campaign_id = h->campaign_id;
    out->customer_id = h->customer_id;
    out->order_id = h->order_id;
    out->discount_type = h->discount_type;
    out->reservation_id = h->id;
    out->order_amount = h->order_amount;
    out->discount = h->discount;
    out->points = h->points;
    out->created_at = now;
    int64_t cost = use_cost(h->discount_type, h->discount, h->points);
    enum promo_err rc = count_use(c, key, h->campaign_id, h->customer_id, +1, -1, 0, cost,
                                  h->order_amount - h->discount);
    if (rc != PROMO_OK)
        return rc;
    char data[128];
    snprintf(data, sizeof data, "{\"reservation_id\":\"%s\",\"discount\":%lld,\"points\":%lld}", h->id,
             (long long)h->discount, (long long)h->points);
    rc = redemption_write(c, a, key, out, NULL, data);
    if (rc != PROMO_OK)
        return rc;
    sqlite3_stmt *s = conn_stmt(c, SQL_RSV_STATE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, "confirmed");
    bind_text(s, 2, out->id);
    bind_text(s, 3, h->id);
    return step_done(c, s);
}

/* Ends a live hold (released by the client or lapsed) and gives its use back. */
static enum promo_err hold_end(struct conn *c, const struct reservation *h, const char *key,
                               const char *state, int64_t now)
{
    int64_t cost = use_cost(h->discount_type, h->discount, h->points);
    enum promo_err rc = count_use(c, key, h->campaign_id, h->customer_id, 0, -1, 0, cost, 0);
    if (rc != PROMO_OK)
        return rc;
    sqlite3_stmt *s = conn_stmt(c, SQL_RSV_STATE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, state);
    bind_text(s, 2, NULL);
    bind_text(s, 3, h->id);
    rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    return event_log(c, strcmp(state, "expired") == 0 ? "reservation_expired" : "reservation_released",
                     now, h->campaign_id, key, h->customer_id, h->order_id, h->id, NULL, NULL);
}

static const char SQL_RSV_LAPSED[] =
    "SELECT " RESERVATION_COLS " FROM reservations WHERE state = 'held' AND expires_at <= ?"
    " ORDER BY expires_at LIMIT 256";

enum promo_err sweep_holds(struct conn *c, int64_t now)
{
    for (;;) {
        struct arena a = {0};
        struct reservation h[256];
        const char *keys[256];
        size_t n = 0;
        sqlite3_stmt *s = conn_stmt(c, SQL_RSV_LAPSED);
        if (!s)
            return PROMO_INTERNAL;
        bind_i64(s, 1, now);
        while (n < 256 && sqlite3_step(s) == SQLITE_ROW) {
            row_to_reservation(s, &a, &h[n], &keys[n]);
            n++;
        }
        sqlite3_reset(s);
        enum promo_err rc = PROMO_OK;
        for (size_t i = 0; i < n && rc == PROMO_OK; i++)
            rc = hold_end(c, &h[i], keys[i], "expired", now);
        arena_free(&a);
        if (rc != PROMO_OK)
            return rc;
        if (n < 256)
            return PROMO_OK;
    }
}

/* ---- validate ---------------------------------------------------------- */

/* A validation to log: one block, the strings after the struct (made on a
 * request thread, freed on the writer's: one allocation, not eight). */
struct attempt {
    const char *type, *campaign_id, *key, *customer_id, *order_id, *reason, *data;
    int64_t at;
    char text[];
};

static struct attempt *attempt_new(const char *const src[7], int64_t at)
{
    struct attempt *t = malloc(sizeof(*t) + strpack_size(src, 7));
    if (!t)
        return NULL;
    const char **const dst[7] = {&t->type,     &t->campaign_id, &t->key, &t->customer_id,
                                 &t->order_id, &t->reason,      &t->data};
    strpack(t->text, src, dst, 7);
    t->at = at;
    return t;
}

static void attempt_free(void *p) { free(p); }

static const char SQL_VALIDATION_COUNT[] =
    "INSERT INTO validation_counts (campaign_id, reason, n) VALUES (?, ?, ?)"
    " ON CONFLICT (campaign_id, reason) DO UPDATE SET n = n + excluded.n";

/* Validation counts are tallied in memory for the length of a batch and
 * written once per (campaign, reason) before its COMMIT: a batch of
 * validations of one campaign then costs one upsert, not one each. */
struct vtally {
    char campaign_id[PROMO_ID_MAX];
    char reason[48];
    int64_t n;
};

static int tally_add(struct conn *c, const char *campaign_id, const char *reason)
{
    for (size_t i = 0; i < c->n_tally; i++)
        if (strcmp(c->tally[i].campaign_id, campaign_id) == 0 && strcmp(c->tally[i].reason, reason) == 0) {
            c->tally[i].n++;
            return 0;
        }
    if (c->n_tally == c->cap_tally) {
        size_t cap = c->cap_tally ? 2 * c->cap_tally : 16;
        struct vtally *t = realloc(c->tally, cap * sizeof(*t));
        if (!t)
            return -1;
        c->tally = t;
        c->cap_tally = cap;
    }
    struct vtally *t = &c->tally[c->n_tally++];
    snprintf(t->campaign_id, sizeof t->campaign_id, "%s", campaign_id);
    snprintf(t->reason, sizeof t->reason, "%s", reason);
    t->n = 1;
    return 0;
}

void validation_tally_clear(struct conn *c)
{
    free(c->tally);
    c->tally = NULL;
    c->n_tally = c->cap_tally = 0;
}

int validation_tally_save(struct conn *c, struct vtally **saved, size_t *n)
{
    *n = c->n_tally;
    *saved = NULL;
    if (!c->n_tally)
        return 0;
    if (!(*saved = malloc(sizeof(**saved) * c->n_tally)))
        return -1;
    memcpy(*saved, c->tally, sizeof(**saved) * c->n_tally);
    return 0;
}

void validation_tally_restore(struct conn *c, struct vtally *saved, size_t n)
{
    /* Entries only ever grow or get added, so the saved ones are a prefix. */
    if (n)
        memcpy(c->tally, saved, sizeof(*saved) * n);
    c->n_tally = n;
    free(saved);
}

enum promo_err validation_tally_flush(struct conn *c)
{
    enum promo_err rc = PROMO_OK;
    for (size_t i = 0; i < c->n_tally && rc == PROMO_OK; i++) {
        sqlite3_stmt *s = conn_stmt(c, SQL_VALIDATION_COUNT);
        if (!s) {
            rc = PROMO_INTERNAL;
            break;
        }
        bind_text(s, 1, c->tally[i].campaign_id);
        bind_text(s, 2, c->tally[i].reason);
        bind_i64(s, 3, c->tally[i].n);
        rc = step_done(c, s);
    }
    /* Kept allocated for the next batch; only emptied. */
    c->n_tally = 0;
    return rc;
}

static enum promo_err op_attempt(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct attempt *t = arg;
    enum promo_err rc = event_log(c, t->type, t->at, t->campaign_id, t->key, t->customer_id,
                                  t->order_id, NULL, t->reason, t->data);
    if (rc != PROMO_OK)
        return rc;
    return tally_add(c, t->campaign_id ? t->campaign_id : "", t->reason ? t->reason : "ok") == 0 ? PROMO_OK
                                                                                                : PROMO_INTERNAL;
}


enum promo_err sqlite_validate(struct sqlite_store *st, struct arena *a, const struct use_req *r,
                              struct use_result *res)
{
    struct campaign cp;
    /* No transaction: read_inputs' one statement reads code, campaign and
     * counts from one snapshot, or they come from the validation cache
     * (sqlite_vcache.c: the version is taken before the read). Customer
     * facts, when a rule needs them, are a second read, maybe a moment
     * newer: a validation is advice, and the redemption decides again
     * inside the writer's transaction. */
    uint64_t version = vcache_version(st);
    struct use_inputs in;
    enum promo_err rc;
    if (vcache_get(st, version, r->key, r->customer_id, a, &in)) {
        rc = decide_on(NULL, a, r, &in, res, &cp); /* kept inputs need no facts */
    } else {
        struct conn *c = reader_get_snapshot(st, version);
        if (!c)
            return PROMO_UNAVAILABLE;
        rc = c->snap_open ? read_inputs_split(st, c, a, r, version, &in) : read_inputs(c, a, r, &in);
        if (rc == PROMO_OK) {
            vcache_put(st, version, r->key, r->customer_id, &in);
            rc = decide_on(c, a, r, &in, res, &cp);
        }
        reader_put(st, c);
    }
    if (rc != PROMO_OK)
        return rc;
    /* The attempt is logged without making the caller wait for a commit:
     * validation changes nothing, so there is nothing to make durable first. */
    char data[USE_EVENT_MAX];
    use_event_text(data, r, res->v.discount, res->v.points);
    const char *fields[7] = {"validation",
                             res->campaign_id[0] ? res->campaign_id : NULL,
                             r->key,
                             r->customer_id,
                             r->order ? r->order->id : NULL,
                             res->v.reason == PROMO_OK ? NULL : promo_err_code(res->v.reason),
                             data};
    struct attempt *t = attempt_new(fields, r->now);
    if (t)
        writer_post_grouped(st, op_attempt, t, attempt_free);
    return PROMO_OK;
}

/* Logs a refused use (redemption or reservation) inside the transaction. */
static enum promo_err log_refusal(struct conn *c, const char *type, const struct use_req *r,
                                  const struct use_result *res)
{
    char *data = use_event_json(r, 0, 0);
    enum promo_err rc = event_log(c, type, r->now, res->campaign_id[0] ? res->campaign_id : NULL,
                                  r->key, r->customer_id, r->order ? r->order->id : NULL, NULL,
                                  promo_err_code(res->v.reason), data);
    free(data);
    return rc;
}

/* ---- redeem -------------------------------------------------------------- */

struct use_args {
    struct arena *a;
    const struct use_req *r;
    struct use_result *res;
};

static const char SQL_IDEM_GET[] =
    "SELECT request_hash, redemption_id, refusal FROM idempotency_keys WHERE idem_key = ?";
static const char SQL_IDEM_PUT[] =
    "INSERT INTO idempotency_keys (idem_key, request_hash, redemption_id, refusal, created_at) VALUES (?,?,?,?,?)";

/* Remembers the answer given to an Idempotency-Key. */
static enum promo_err idem_put(struct conn *c, const struct use_req *r, const char *redemption_id,
                               const char *refusal)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_IDEM_PUT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, r->idem_key);
    bind_text(s, 2, r->request_hash);
    bind_text(s, 3, redemption_id);
    bind_text(s, 4, refusal);
    bind_i64(s, 5, r->now);
    return step_done(c, s);
}

static void result_from_redemption(struct use_result *res, const struct redemption *red)
{
    snprintf(res->campaign_id, sizeof res->campaign_id, "%s", red->campaign_id);
    snprintf(res->code, sizeof res->code, "%s", red->code);
    res->discount_type = core_discount_type_parse(red->discount_type);
    res->v.reason = PROMO_OK;
    res->v.discount = red->discount;
    res->v.points = red->points;
    res->v.amount_after = red->order_amount - red->discount;
    res->red = *red;
}

static enum promo_err op_redeem(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct use_args *ua = arg;
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    struct redemption red = {0};
    enum promo_err rc;
    memset(res, 0, sizeof(*res));

    if (r->idem_key) {
        sqlite3_stmt *s = conn_stmt(c, SQL_IDEM_GET);
        if (!s)
            return PROMO_INTERNAL;
        bind_text(s, 1, r->idem_key);
        if (sqlite3_step(s) == SQLITE_ROW) {
            const char *hash = col_text(s, 0, ua->a), *rid = col_text(s, 1, ua->a);
            const char *refusal = col_text(s, 2, ua->a);
            sqlite3_reset(s);
            if (strcmp(hash, r->request_hash) != 0)
                return PROMO_CONFLICT;
            if (refusal) {
                enum promo_err why = promo_err_from_code(refusal);
                res->replay = true;
                res->v.reason = why == PROMO_ERR__COUNT ? PROMO_INTERNAL : why;
                return (enum promo_err)res->v.reason;
            }
            rc = redemption_read(c, ua->a, SQL_RED_BY_ID, rid, NULL, &red);
            if (rc != PROMO_OK)
                return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
            result_from_redemption(res, &red);
            res->replay = true;
            return PROMO_OK;
        }
        sqlite3_reset(s);
    }
    /* The same code and order while the first redemption stands: its answer. */
    rc = redemption_read(c, ua->a, SQL_RED_STANDING, r->key, r->order->id, &red);
    if (rc == PROMO_OK) {
        result_from_redemption(res, &red);
        res->replay = true;
    } else if (rc != PROMO_NOT_FOUND) {
        return rc;
    } else {
        /* The order holding this code (reserved, then paid): the hold becomes
         * the redemption, so it never competes with itself. */
        struct reservation h;
        rc = reservation_read(c, ua->a, SQL_RSV_HELD, r->key, r->order->id, &h, NULL);
        if (rc == PROMO_OK) {
            rc = hold_confirm(c, ua->a, &h, r->key, r->now, &red);
            if (rc != PROMO_OK)
                return rc;
            result_from_redemption(res, &red);
        } else if (rc != PROMO_NOT_FOUND) {
            return rc;
        } else {
            struct campaign cp;
            rc = decide(c, ua->a, r, res, &cp);
            if (rc != PROMO_OK)
                return rc;
            if (res->v.reason != PROMO_OK) {
                rc = log_refusal(c, "redemption_refused", r, res);
                if (rc == PROMO_OK && r->idem_key)
                    rc = idem_put(c, r, NULL, promo_err_code(res->v.reason));
                return rc == PROMO_OK ? (enum promo_err)res->v.reason : rc;
            }
            red.code = arena_strdup(ua->a, res->code);
            red.campaign_id = arena_strdup(ua->a, res->campaign_id);
            red.customer_id = r->customer_id;
            red.order_id = r->order->id;
            red.discount_type = core_discount_type_name(cp.discount.type);
            red.order_amount = r->order->amount;
            red.discount = res->v.discount;
            red.points = res->v.points;
            red.created_at = r->now;
            rc = count_use(c, r->key, red.campaign_id, red.customer_id, +1, 0, 0,
                           use_cost(red.discount_type, red.discount, red.points), res->v.amount_after);
            char *data = rc == PROMO_OK ? use_event_json(r, red.discount, red.points) : NULL;
            if (rc == PROMO_OK)
                rc = redemption_write(c, ua->a, r->key, &red, r->order->currency, data);
            free(data);
            if (rc != PROMO_OK)
                return rc;
            res->red = red;
        }
    }
    if (r->idem_key)
        rc = idem_put(c, r, res->red.id, NULL);
    return rc;
}

enum promo_err sqlite_redeem(struct sqlite_store *st, struct arena *a, const struct use_req *r,
                            struct use_result *res)
{
    struct use_args ua = {a, r, res};
    return writer_run(st, op_redeem, &ua);
}

/* ---- reserve, confirm, release ----------------------------------------- */

static const char SQL_RSV_INSERT[] =
    "INSERT INTO reservations (id, code_key, code, campaign_id, customer_id, order_id, order_amount,"
    " currency, discount_type, discount, points, state, expires_at, created_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,'held',?,?)";
/* Times are whole seconds and r->now is cut down to its second, so
 * now + ttl could lapse a hold up to a second early (a 1 s hold made at
 * x.99 s would end 10 ms later): one second more makes it live at least
 * its ttl, and at most a second longer. */
static int64_t hold_expiry(const struct use_req *r)
{
    return r->now + r->ttl + 1;
}

static const char SQL_RSV_RENEW[] = "UPDATE reservations SET expires_at = ? WHERE id = ?";

static enum promo_err op_reserve(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct use_args *ua = arg;
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    struct reservation h = {0};
    memset(res, 0, sizeof(*res));
    enum promo_err rc = reservation_read(c, ua->a, SQL_RSV_HELD, r->key, r->order->id, &h, NULL);
    if (rc == PROMO_OK) {
        /* The same order again (a retried payment): its own hold, renewed. */
        h.expires_at = hold_expiry(r);
        sqlite3_stmt *s = conn_stmt(c, SQL_RSV_RENEW);
        if (!s)
            return PROMO_INTERNAL;
        bind_i64(s, 1, h.expires_at);
        bind_text(s, 2, h.id);
        rc = step_done(c, s);
        if (rc != PROMO_OK)
            return rc;
        snprintf(res->campaign_id, sizeof res->campaign_id, "%s", h.campaign_id);
        snprintf(res->code, sizeof res->code, "%s", h.code);
        res->discount_type = core_discount_type_parse(h.discount_type);
        res->v.discount = h.discount;
        res->v.points = h.points;
        res->v.amount_after = h.order_amount - h.discount;
        res->rsv = h;
        res->replay = true;
        return PROMO_OK;
    }
    if (rc != PROMO_NOT_FOUND)
        return rc;
    struct campaign cp;
    rc = decide(c, ua->a, r, res, &cp);
    if (rc != PROMO_OK)
        return rc;
    if (res->v.reason != PROMO_OK) {
        rc = log_refusal(c, "reservation_refused", r, res);
        return rc == PROMO_OK ? (enum promo_err)res->v.reason : rc;
    }
    char id[PROMO_ID_MAX];
    util_rand_id("rsv_", id, sizeof id);
    h.id = arena_strdup(ua->a, id);
    h.code = arena_strdup(ua->a, res->code);
    h.campaign_id = arena_strdup(ua->a, res->campaign_id);
    h.customer_id = r->customer_id;
    h.order_id = r->order->id;
    h.state = "held";
    h.discount_type = core_discount_type_name(cp.discount.type);
    h.order_amount = r->order->amount;
    h.discount = res->v.discount;
    h.points = res->v.points;
    h.expires_at = hold_expiry(r);
    h.created_at = r->now;
    sqlite3_stmt *s = conn_stmt(c, SQL_RSV_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, h.id);
    bind_text(s, 2, r->key);
    bind_text(s, 3, h.code);
    bind_text(s, 4, h.campaign_id);
    bind_text(s, 5, h.customer_id);
    bind_text(s, 6, h.order_id);
    bind_i64(s, 7, h.order_amount);
    bind_text(s, 8, r->order->currency);
    bind_text(s, 9, h.discount_type);
    bind_i64(s, 10, h.discount);
    bind_i64(s, 11, h.points);
    bind_i64(s, 12, h.expires_at);
    bind_i64(s, 13, h.created_at);
    rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = count_use(c, r->key, h.campaign_id, h.customer_id, 0, +1, 0,
                       use_cost(h.discount_type, h.discount, h.points), 0);
    char *data = rc == PROMO_OK ? use_event_json(r, h.discount, h.points) : NULL;
    if (rc == PROMO_OK)
        rc = event_log(c, "reserved", r->now, h.campaign_id, r->key, h.customer_id, h.order_id, h.id,
                       NULL, data);
    free(data);
    res->rsv = h;
    return rc;
}

enum promo_err sqlite_reserve(struct sqlite_store *st, struct arena *a, const struct use_req *r,
                             struct use_result *res)
{
    struct use_args ua = {a, r, res};
    return writer_run(st, op_reserve, &ua);
}

struct id_args {
    struct arena *a;
    const char *id, *reason;
    int64_t now;
    struct redemption *red;
    struct reservation *rsv;
};

static enum promo_err op_confirm(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct id_args *ia = arg;
    struct reservation h;
    const char *key = NULL;
    enum promo_err rc = reservation_read(c, ia->a, SQL_RSV_BY_ID, ia->id, NULL, &h, &key);
    if (rc != PROMO_OK)
        return rc;
    if (strcmp(h.state, "confirmed") == 0 && h.redemption_id)
        return redemption_read(c, ia->a, SQL_RED_BY_ID, h.redemption_id, NULL, ia->red);
    if (strcmp(h.state, "held") != 0 || h.expires_at <= ia->now)
        return PROMO_CONFLICT;
    return hold_confirm(c, ia->a, &h, key, ia->now, ia->red);
}

enum promo_err sqlite_reservation_confirm(struct sqlite_store *st, struct arena *a, const char *id,
                                         int64_t now, struct redemption *out)
{
    struct id_args ia = {.a = a, .id = id, .now = now, .red = out};
    return writer_run(st, op_confirm, &ia);
}

static enum promo_err op_release(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct id_args *ia = arg;
    const char *key = NULL;
    enum promo_err rc = reservation_read(c, ia->a, SQL_RSV_BY_ID, ia->id, NULL, ia->rsv, &key);
    if (rc != PROMO_OK)
        return rc;
    if (strcmp(ia->rsv->state, "confirmed") == 0)
        return PROMO_CONFLICT;
    if (strcmp(ia->rsv->state, "held") != 0)
        return PROMO_OK; /* released or lapsed already: nothing more to give back */
    rc = hold_end(c, ia->rsv, key, "released", ia->now);
    ia->rsv->state = "released";
    return rc;
}

enum promo_err sqlite_reservation_release(struct sqlite_store *st, struct arena *a, const char *id,
                                         int64_t now, struct reservation *out)
{
    struct id_args ia = {.a = a, .id = id, .now = now, .rsv = out};
    return writer_run(st, op_release, &ia);
}

enum promo_err sqlite_reservation_get(struct sqlite_store *st, struct arena *a, const char *id,
                                     struct reservation *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = reservation_read(c, a, SQL_RSV_BY_ID, id, NULL, out, NULL);
    reader_put(st, c);
    return rc;
}

/* ---- rollback ------------------------------------------------------------ */

static const char SQL_RED_ROLLBACK[] =
    "UPDATE redemptions SET status = 'rolled_back', rolled_back_at = ?, rollback_reason = ? WHERE id = ?";
static const char SQL_RED_KEY[] = "SELECT code_key FROM redemptions WHERE id = ?";

static enum promo_err op_rollback(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct id_args *ia = arg;
    enum promo_err rc = redemption_read(c, ia->a, SQL_RED_BY_ID, ia->id, NULL, ia->red);
    if (rc != PROMO_OK)
        return rc;
    if (strcmp(ia->red->status, "succeeded") != 0)
        return PROMO_CONFLICT;
    sqlite3_stmt *s = conn_stmt(c, SQL_RED_KEY);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ia->id);
    const char *key = sqlite3_step(s) == SQLITE_ROW ? col_text(s, 0, ia->a) : NULL;
    sqlite3_reset(s);
    if (!key)
        return PROMO_INTERNAL;
    struct redemption *r = ia->red;
    rc = count_use(c, key, r->campaign_id, r->customer_id, -1, 0, +1,
                   use_cost(r->discount_type, r->discount, r->points), r->order_amount - r->discount);
    if (rc != PROMO_OK)
        return rc;
    s = conn_stmt(c, SQL_RED_ROLLBACK);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, ia->now);
    bind_text(s, 2, ia->reason);
    bind_text(s, 3, ia->id);
    rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    r->status = "rolled_back";
    r->rolled_back_at = ia->now;
    r->rollback_reason = ia->reason;
    json_t *ev = json_pack("{s:s?}", "reason", ia->reason);
    char *data = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    rc = event_log(c, "redemption_rolled_back", ia->now, r->campaign_id, key, r->customer_id,
                   r->order_id, r->id, ia->reason, data);
    free(data);
    if (rc == PROMO_OK)
        rc = customer_order_remove(c, r->customer_id, r->order_id, ia->now);
    return rc;
}

enum promo_err sqlite_redemption_rollback(struct sqlite_store *st, struct arena *a, const char *id,
                                         const char *reason, int64_t now, struct redemption *out)
{
    struct id_args ia = {.a = a, .id = id, .reason = reason, .now = now, .red = out};
    return writer_run(st, op_rollback, &ia);
}

enum promo_err sqlite_redemption_get(struct sqlite_store *st, struct arena *a, const char *id,
                                    struct redemption *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = redemption_read(c, a, SQL_RED_BY_ID, id, NULL, out);
    reader_put(st, c);
    return rc;
}

/* Three shapes so each filter uses its own index. */
static const char SQL_RED_LIST_ALL[] =
    "SELECT " REDEMPTION_COLS ", seq FROM redemptions WHERE seq < ?3 AND ?1 IS NULL AND ?2 IS NULL"
    " ORDER BY seq DESC LIMIT ?4";
static const char SQL_RED_LIST_CAMPAIGN[] =
    "SELECT " REDEMPTION_COLS ", seq FROM redemptions WHERE campaign_id = ?1"
    " AND (?2 IS NULL OR customer_id = ?2) AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
static const char SQL_RED_LIST_CUSTOMER[] =
    "SELECT " REDEMPTION_COLS ", seq FROM redemptions WHERE customer_id = ?2 AND ?1 IS NULL"
    " AND seq < ?3 ORDER BY seq DESC LIMIT ?4";

enum promo_err sqlite_redemption_list(struct sqlite_store *st, struct arena *a, const char *campaign_id,
                                     const char *customer_id, const char *cursor, int limit,
                                     struct redemption **out, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    int64_t before = cursor ? strtoll(cursor, NULL, 10) : INT64_MAX;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    const char *sql = campaign_id ? SQL_RED_LIST_CAMPAIGN : customer_id ? SQL_RED_LIST_CUSTOMER : SQL_RED_LIST_ALL;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_text(s, 1, campaign_id);
    bind_text(s, 2, customer_id);
    bind_i64(s, 3, before);
    bind_i64(s, 4, limit + 1);
    *out = arena_alloc(a, sizeof(struct redemption) * (size_t)(limit + 1));
    int r;
    int64_t last = 0;
    enum promo_err rc = PROMO_OK;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next = arena_printf(a, "%lld", (long long)last);
            break;
        }
        row_to_redemption(s, a, &(*out)[*n]);
        last = sqlite3_column_int64(s, 15);
        (*n)++;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_fail(c, "redemption list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

/* ---- maintenance ---------------------------------------------------------- */

struct sweep_args {
    int64_t now;
};

static enum promo_err op_sweep(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    return sweep_holds(c, ((struct sweep_args *)arg)->now);
}

enum promo_err sqlite_sweep(struct sqlite_store *st, int64_t now)
{
    struct sweep_args sa = {now};
    return writer_run(st, op_sweep, &sa);
}
