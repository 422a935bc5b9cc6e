/* pg_redeem.c — validation, redemption, reservations and rollback on
 * PostgreSQL. The decision is core_decide's, as on SQLite; what makes it
 * safe with many servers on one database:
 * - the code's row is locked (SELECT … FOR UPDATE) before anything is read
 *   about it, so uses of one code, and the replay checks by code + order,
 *   run one after the other;
 * - the customer's usage row of the campaign is locked the same way
 *   (per_customer);
 * - campaign-wide limits go through a counter shard with room, taken by a
 *   conditional row lock (see pg_shards_reslice and docs/scaling.md);
 * - an Idempotency-Key is held by a transaction-scoped advisory lock while
 *   its request runs, and its answer row is unique;
 * - state changes of holds and redemptions are conditional updates (WHERE
 *   state = 'held'), so a confirm and a release cannot both win.
 * Locks are always taken in the order code → reservation/redemption →
 * customer → shard, which keeps deadlocks away (pg_tx retries any left). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/segment.h"
#include "store/pg_int.h"
#include "util/log.h"
#include "util/rand.h"

/* ---- reading what a decision needs --------------------------------------- */

#define USE_CODE_COLS "code, campaign_id, customer_id, max_uses, uses, held, disabled, issued_at, expires_at"
static const char SQL_USE_CODE[] = "SELECT " USE_CODE_COLS " FROM codes WHERE code_key = $1";
static const char SQL_USE_CODE_LOCK[] = "SELECT " USE_CODE_COLS " FROM codes WHERE code_key = $1 FOR UPDATE";
static const char SQL_CUSTOMER_USAGE[] =
    "SELECT uses + held FROM customer_usage WHERE campaign_id = $1 AND customer_id = $2";
/* Makes the row if needed and locks it, in one round trip: DO UPDATE
 * takes the row lock even when it changes nothing. */
static const char SQL_CUSTOMER_LOCK[] =
    "INSERT INTO customer_usage (campaign_id, customer_id) VALUES ($1, $2)"
    " ON CONFLICT (campaign_id, customer_id) DO UPDATE SET uses = customer_usage.uses RETURNING uses + held";

static enum promo_err customer_uses(struct pgc *c, const char *campaign_id, const char *customer_id, bool lock,
                                    int64_t *n)
{
    *n = 0;
    PGresult *r = pq(c, lock ? SQL_CUSTOMER_LOCK : SQL_CUSTOMER_USAGE, "ss", campaign_id, customer_id);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r))
        *n = pg_i64(r, 0, 0);
    PQclear(r);
    return PROMO_OK;
}

/* What the fast path read in its pipeline, for decide_with (not freed
 * there): the campaign with its counts (PG_SQL_CAMPAIGN_COUNTS_BY_CODE)
 * and the customer's locked usage row (SQL_CUSTOMER_LOCK_BY_CODE; NULL
 * without a customer). */
struct preread {
    PGresult *camp, *usage;
};

static enum promo_err decide_with(struct pgc *c, struct arena *a, const struct use_req *r, bool lock, PGresult *pre,
                                  const struct preread *pr, struct use_result *res, struct campaign *cp);

/* Reads code (or takes the row `pre` the caller read under its lock:
 * USE_CODE_COLS; not freed here), campaign and counts (locking the
 * customer's row when `lock`), asks core. Fills res and *cp; PROMO_OK
 * unless the store failed. */
static enum promo_err decide(struct pgc *c, struct arena *a, const struct use_req *r, bool lock, PGresult *pre,
                             struct use_result *res, struct campaign *cp)
{
    return decide_with(c, a, r, lock, pre, NULL, res, cp);
}

/* decide, with the campaign and the customer's usage taken from `pr`
 * when not NULL. */
static enum promo_err decide_with(struct pgc *c, struct arena *a, const struct use_req *r, bool lock, PGresult *pre,
                                  const struct preread *pr, struct use_result *res, struct campaign *cp)
{
    memset(res, 0, sizeof(*res));
    PGresult *q = pre ? pre : pq(c, lock ? SQL_USE_CODE_LOCK : SQL_USE_CODE, "s", r->key);
    if (!q)
        return PROMO_INTERNAL;
    if (PQntuples(q) == 0) {
        if (!pre)
            PQclear(q);
        res->v.reason = PROMO_CODE_NOT_FOUND;
        return PROMO_OK;
    }
    struct code k = {0};
    struct usage u = {0};
    snprintf(k.code, sizeof k.code, "%s", PQgetvalue(q, 0, 0));
    snprintf(k.campaign_id, sizeof k.campaign_id, "%s", PQgetvalue(q, 0, 1));
    k.customer_id = pg_text(q, 0, 2, a);
    k.max_uses = pg_opt(q, 0, 3, PG_UNL);
    k.uses = pg_i64(q, 0, 4);
    u.code_uses = k.uses + pg_i64(q, 0, 5);
    k.disabled = pg_i64(q, 0, 6) != 0;
    k.issued_at = pg_i64(q, 0, 7);
    k.expires_at = pg_opt(q, 0, 8, PROMO_TIME_MAX);
    if (!pre)
        PQclear(q);

    struct campaign_counts cc;
    enum promo_err rc = pr ? pg_campaign_counts_row(pr->camp, a, cp, &cc)
                           : pg_campaign_read(c, a, k.campaign_id, false, cp, &cc);
    if (rc != PROMO_OK)
        return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
    /* The shards' sums as last committed: exact enough to choose the reason
     * (the same precedence as SQLite); the limit itself is enforced by the
     * shard taken afterwards (take_shard). */
    u.campaign_redemptions = cc.redeemed + cc.held;
    u.campaign_discount = cc.discount_total + cc.held_discount;
    if (pr && pr->usage)
        u.customer_redemptions = PQntuples(pr->usage) ? pg_i64(pr->usage, 0, 0) : 0;
    else if (r->customer_id && customer_uses(c, cp->id, r->customer_id, lock, &u.customer_redemptions) != PROMO_OK)
        return PROMO_INTERNAL;
    /* Segments (by hand and computed) and orders of the customer, read in
     * the same transaction as the decision, when a rule looks at them. */
    struct customer_facts cf = {.known = false};
    bool needs_facts = cp->rules.n_segments > 0 || cp->rules.first_order_only || cp->early_segment != NULL;
    if (needs_facts && pg_customer_facts_read(c, a, r->customer_id, &cf) != PROMO_OK)
        return PROMO_INTERNAL;
    res->v = core_decide(cp, &k, &u, &cf, r->order, r->customer_id, r->now);
    snprintf(res->campaign_id, sizeof res->campaign_id, "%s", k.campaign_id);
    snprintf(res->code, sizeof res->code, "%s", k.code);
    res->discount_type = cp->discount.type;
    return PROMO_OK;
}

static int64_t use_cost(const char *discount_type, int64_t discount, int64_t points)
{
    return strcmp(discount_type, "points") == 0 ? points : discount;
}

/* ---- campaign shards --------------------------------------------------------- */

/* A shard with room for one more use of `cost`, rotated from a random
 * start so concurrent uses spread over the shards; SKIP LOCKED first (any
 * free shard will do), then waiting for one. The parameters' numbers are
 * the statement's: here and in SQL_REDEEM_GUEST. */
#define SHARD_PICK(campaign, cost, start, lock)                                                      \
    "SELECT shard FROM campaign_shards WHERE campaign_id = " campaign                                \
    " AND (quota_uses IS NULL OR redeemed + held + 1 <= quota_uses)"                                 \
    " AND (quota_discount IS NULL OR discount_total + held_discount + " cost " <= quota_discount)"   \
    " ORDER BY shard < " start ", shard LIMIT 1 FOR UPDATE" lock
static const char SQL_SHARD_PICK_SKIP[] = SHARD_PICK("$1", "$2", "$3", " SKIP LOCKED");
static const char SQL_SHARD_PICK_WAIT[] = SHARD_PICK("$1", "$2", "$3", "");
static const char SQL_SHARD_USED[] =
    "SELECT coalesce(sum(redeemed + held), 0) FROM campaign_shards WHERE campaign_id = $1";

/* Takes room for one use of `cost` in a shard of the campaign: *shard is
 * where to count it. Returns PROMO_OK, or the limit that has no room left. */
static enum promo_err take_shard(struct pg_store *st, struct pgc *c, const struct campaign *cp, int64_t cost,
                                 int *shard)
{
    int64_t start = (int64_t)util_rand_uniform((uint32_t)st->shards);
    const char *tries[2] = {SQL_SHARD_PICK_SKIP, SQL_SHARD_PICK_WAIT};
    for (int t = 0; t < 2; t++) {
        PGresult *r = pq(c, tries[t], "sii", cp->id, cost, start);
        if (!r)
            return PROMO_INTERNAL;
        int found = PQntuples(r) == 1;
        if (found)
            *shard = (int)pg_i64(r, 0, 0);
        PQclear(r);
        if (found)
            return PROMO_OK;
    }
    /* No shard has room: the exact, slow path over all of them. */
    bool fits = false;
    enum promo_err rc = pg_shards_reslice(c, cp->id, (int)start, 1, cost, &fits);
    if (rc != PROMO_OK)
        return rc;
    if (fits) {
        *shard = (int)start;
        return PROMO_OK;
    }
    if (cp->limits.max_redemptions == PG_UNL)
        return PROMO_BUDGET_EXHAUSTED;
    PGresult *r = pq(c, SQL_SHARD_USED, "s", cp->id);
    if (!r)
        return PROMO_INTERNAL;
    int64_t used = pg_i64(r, 0, 0);
    PQclear(r);
    return used + 1 > cp->limits.max_redemptions ? PROMO_CAMPAIGN_LIMIT_REACHED : PROMO_BUDGET_EXHAUSTED;
}

/* ---- counters ------------------------------------------------------------ */

static const char SQL_CODE_COUNT[] = "UPDATE codes SET uses = uses + $1, held = held + $2 WHERE code_key = $3";
static const char SQL_CUSTOMER_COUNT[] =
    "INSERT INTO customer_usage (campaign_id, customer_id, uses, held) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (campaign_id, customer_id) DO UPDATE SET uses = customer_usage.uses + $3,"
    " held = customer_usage.held + $4";
static const char SQL_SHARD_COUNT[] =
    "UPDATE campaign_shards SET redeemed = redeemed + $1, discount_total = discount_total + $2,"
    " revenue = revenue + $3, held = held + $4, held_discount = held_discount + $5,"
    " rolled_back = rolled_back + $6 WHERE campaign_id = $7 AND shard = $8";

/* Moves the counters of one use, in lock order: code, customer, shard. */
static enum promo_err count_use(struct pgc *c, const char *key, const char *campaign_id, const char *customer_id,
                                int shard, int64_t d_use, int64_t d_held, int64_t d_rolled, int64_t cost,
                                int64_t after)
{
    enum promo_err rc = pq_do(c, NULL, SQL_CODE_COUNT, "iis", d_use, d_held, key);
    if (rc == PROMO_OK && customer_id)
        rc = pq_do(c, NULL, SQL_CUSTOMER_COUNT, "ssii", campaign_id, customer_id, d_use, d_held);
    if (rc == PROMO_OK)
        rc = pq_do(c, NULL, SQL_SHARD_COUNT, "iiiiiisi", d_use, d_use * cost, d_use * after, d_held, d_held * cost,
                   d_rolled, campaign_id, (int64_t)shard);
    return rc;
}

/* count_use in one statement, for a new use or hold whose code, customer
 * and shard rows this transaction has locked already (so the order in
 * which the statement's parts run cannot matter). */
static const char SQL_COUNT_LOCKED[] =
    "WITH k AS (UPDATE codes SET uses = uses + $1, held = held + $2 WHERE code_key = $3 RETURNING 1),"
    " u AS (INSERT INTO customer_usage (campaign_id, customer_id, uses, held) SELECT $4, $5::text, $1, $2"
    "   WHERE $5::text IS NOT NULL ON CONFLICT (campaign_id, customer_id) DO UPDATE"
    "   SET uses = customer_usage.uses + excluded.uses, held = customer_usage.held + excluded.held RETURNING 1),"
    " s AS (UPDATE campaign_shards SET redeemed = redeemed + $1, discount_total = discount_total + $1 * $7,"
    "   revenue = revenue + $1 * $8, held = held + $2, held_discount = held_discount + $2 * $7"
    "   WHERE campaign_id = $4 AND shard = $6 RETURNING 1)"
    " SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM s)";

static enum promo_err count_use_locked(struct pgc *c, const char *key, const char *campaign_id,
                                       const char *customer_id, int shard, int64_t d_use, int64_t d_held,
                                       int64_t cost, int64_t after)
{
    PGresult *r = pq(c, SQL_COUNT_LOCKED, "iisssiii", d_use, d_held, key, campaign_id, customer_id, (int64_t)shard,
                     cost, after);
    if (!r)
        return PROMO_INTERNAL;
    int ok = pg_i64(r, 0, 0) == 1 && pg_i64(r, 0, 1) == 1;
    PQclear(r);
    if (!ok)
        log_error("store: a use was counted on a missing code or shard");
    return ok ? PROMO_OK : PROMO_INTERNAL;
}

/* ---- rows ------------------------------------------------------------------ */

#define REDEMPTION_COLS                                                                            \
    "id, code, campaign_id, customer_id, order_id, status, discount_type, reservation_id,"         \
    " rollback_reason, order_amount, discount, points, created_at, rolled_back_at, code_key, shard, seq"

static void row_to_redemption(PGresult *q, int i, struct arena *a, struct redemption *r)
{
    r->id = pg_text(q, i, 0, a);
    r->code = pg_text(q, i, 1, a);
    r->campaign_id = pg_text(q, i, 2, a);
    r->customer_id = pg_text(q, i, 3, a);
    r->order_id = pg_text(q, i, 4, a);
    r->status = pg_text(q, i, 5, a);
    r->discount_type = pg_text(q, i, 6, a);
    r->reservation_id = pg_text(q, i, 7, a);
    r->rollback_reason = pg_text(q, i, 8, a);
    r->order_amount = pg_i64(q, i, 9);
    r->discount = pg_i64(q, i, 10);
    r->points = pg_i64(q, i, 11);
    r->created_at = pg_i64(q, i, 12);
    r->rolled_back_at = pg_opt(q, i, 13, 0);
}

static const char SQL_RED_BY_ID[] = "SELECT " REDEMPTION_COLS " FROM redemptions WHERE id = $1";

/* One redemption; *key and *shard (may be NULL) get its code key and shard. */
static enum promo_err redemption_read(struct pgc *c, struct arena *a, const char *sql, const char *p1,
                                      const char *p2, struct redemption *out, const char **key, int *shard)
{
    PGresult *q = p2 ? pq(c, sql, "ss", p1, p2) : pq(c, sql, "s", p1);
    if (!q)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(q) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK) {
        row_to_redemption(q, 0, a, out);
        if (key)
            *key = pg_text(q, 0, 14, a);
        if (shard)
            *shard = (int)pg_i64(q, 0, 15);
    }
    PQclear(q);
    return rc;
}

#define RESERVATION_COLS                                                                           \
    "id, code, campaign_id, customer_id, order_id, state, discount_type, redemption_id,"           \
    " order_amount, discount, points, expires_at, created_at, code_key, shard"

struct hold {
    struct reservation r;
    const char *key;
    int shard;
};

static void row_to_hold(PGresult *q, int i, struct arena *a, struct hold *h)
{
    struct reservation *r = &h->r;
    r->id = pg_text(q, i, 0, a);
    r->code = pg_text(q, i, 1, a);
    r->campaign_id = pg_text(q, i, 2, a);
    r->customer_id = pg_text(q, i, 3, a);
    r->order_id = pg_text(q, i, 4, a);
    r->state = pg_text(q, i, 5, a);
    r->discount_type = pg_text(q, i, 6, a);
    r->redemption_id = pg_text(q, i, 7, a);
    r->order_amount = pg_i64(q, i, 8);
    r->discount = pg_i64(q, i, 9);
    r->points = pg_i64(q, i, 10);
    r->expires_at = pg_i64(q, i, 11);
    r->created_at = pg_i64(q, i, 12);
    h->key = pg_text(q, i, 13, a);
    h->shard = (int)pg_i64(q, i, 14);
}

static const char SQL_RSV_BY_ID[] = "SELECT " RESERVATION_COLS " FROM reservations WHERE id = $1";
static const char SQL_RSV_HELD[] =
    "SELECT " RESERVATION_COLS " FROM reservations WHERE code_key = $1 AND order_id = $2 AND state = 'held'";

static enum promo_err hold_read(struct pgc *c, struct arena *a, const char *sql, const char *p1, const char *p2,
                                struct hold *out)
{
    PGresult *q = p2 ? pq(c, sql, "ss", p1, p2) : pq(c, sql, "s", p1);
    if (!q)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(q) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_hold(q, 0, a, out);
    PQclear(q);
    return rc;
}

static char *use_event_json(const struct use_req *r, int64_t discount, int64_t points)
{
    json_t *o = json_pack("{s:I, s:s?, s:I, s:I}", "order_amount", (json_int_t)(r->order ? r->order->amount : 0),
                          "currency", r->order && r->order->currency[0] ? r->order->currency : NULL, "discount",
                          (json_int_t)discount, "points", (json_int_t)points);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The redemption and its `redeemed` event, in one statement that also
 * answers the webhooks subscribed to that event (usually none). */
static const char SQL_RED_INSERT[] =
    "WITH r AS (INSERT INTO redemptions (id, code_key, code, campaign_id, customer_id, order_id, order_amount,"
    " currency, discount_type, discount, points, status, reservation_id, created_at, shard)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'succeeded',$12,$13,$14) RETURNING 1)"
    " , e AS (INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, data)"
    " SELECT $15, 'redeemed', $13, $4, $2, $5, $6, $1, $16 FROM r)" PG_SQL_HOOKS_WANTING("'redeemed'");

/* Writes a redemption row and its event; fills out->status, and out->id
 * unless the caller chose it. */
static enum promo_err redemption_write(struct pgc *c, struct arena *a, const char *key, int shard,
                                       struct redemption *out, const char *currency, const char *event_data)
{
    if (!out->id) {
        char id[PROMO_ID_MAX];
        util_rand_id("rdm_", id, sizeof id);
        out->id = arena_strdup(a, id);
    }
    out->status = "succeeded";
    char evt[PROMO_ID_MAX];
    util_rand_id("evt_", evt, sizeof evt);
    PGresult *hooks = pq(c, SQL_RED_INSERT, "ssssssissiisii" "ss", out->id, key, out->code, out->campaign_id,
                         out->customer_id, out->order_id, out->order_amount, currency ? currency : "",
                         out->discount_type, out->discount, out->points, out->reservation_id, out->created_at,
                         (int64_t)shard, evt, event_data ? event_data : "{}");
    if (!hooks)
        return PROMO_INTERNAL;
    struct event ev = {.at = out->created_at, .id = evt, .type = "redeemed", .campaign_id = out->campaign_id,
                       .code_key = key, .customer_id = out->customer_id, .order_id = out->order_id,
                       .subject_id = out->id, .data = event_data};
    enum promo_err rc = pg_outbox_fanout(c, &ev, hooks);
    PQclear(hooks);
    if (rc != PROMO_OK)
        return rc;
    /* The customer's facts count the order at what they paid. */
    return pg_customer_order_add(c, out->customer_id, out->order_id, out->order_amount - out->discount,
                                 out->created_at, "redemption");
}

/* ---- holds ---------------------------------------------------------------- */

static const char SQL_CODE_LOCK[] = "SELECT 1 FROM codes WHERE code_key = $1 FOR UPDATE";
static const char SQL_CODE_TRYLOCK[] = "SELECT 1 FROM codes WHERE code_key = $1 FOR UPDATE SKIP LOCKED";
/* Conditional: of a confirm, a release and a lapse only one ends a hold. */
static const char SQL_RSV_END[] =
    "UPDATE reservations SET state = $2, redemption_id = $3 WHERE id = $1 AND state = 'held'";

static enum promo_err lock_code(struct pgc *c, const char *key)
{
    PGresult *r = pq(c, SQL_CODE_LOCK, "s", key);
    if (!r)
        return PROMO_INTERNAL;
    PQclear(r);
    return PROMO_OK;
}

/* Ends a live hold (its code's row locked by the caller). *ended: whether
 * this call ended it (false: it had ended already). */
static enum promo_err hold_end_state(struct pgc *c, const struct hold *h, const char *state, const char *redemption_id,
                                     bool *ended)
{
    int64_t changed = 0;
    enum promo_err rc = pq_do(c, &changed, SQL_RSV_END, "sss", h->r.id, state, redemption_id);
    *ended = changed == 1;
    return rc;
}

/* Turns a live hold into a redemption: the hold's counts move to the
 * redemption's, in the hold's shard, with the discount decided when the
 * hold was made. PROMO_CONFLICT when the hold was no longer live. */
static enum promo_err hold_confirm(struct pgc *c, struct arena *a, const struct hold *hd, int64_t now,
                                   struct redemption *out)
{
    const struct reservation *h = &hd->r;
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
    char id[PROMO_ID_MAX];
    util_rand_id("rdm_", id, sizeof id);
    out->id = arena_strdup(a, id);
    bool ended = false;
    enum promo_err rc = hold_end_state(c, hd, "confirmed", id, &ended);
    if (rc != PROMO_OK)
        return rc;
    if (!ended)
        return PROMO_CONFLICT;
    int64_t cost = use_cost(h->discount_type, h->discount, h->points);
    rc = count_use(c, hd->key, h->campaign_id, h->customer_id, hd->shard, +1, -1, 0, cost,
                   h->order_amount - h->discount);
    if (rc != PROMO_OK)
        return rc;
    char data[128];
    snprintf(data, sizeof data, "{\"reservation_id\":\"%s\",\"discount\":%lld,\"points\":%lld}", h->id,
             (long long)h->discount, (long long)h->points);
    return redemption_write(c, a, hd->key, hd->shard, out, NULL, data);
}

/* Ends a live hold (released or lapsed) and gives its use back. */
static enum promo_err hold_end(struct pgc *c, const struct hold *hd, const char *state, int64_t now, bool *ended)
{
    const struct reservation *h = &hd->r;
    enum promo_err rc = hold_end_state(c, hd, state, NULL, ended);
    if (rc != PROMO_OK || !*ended)
        return rc;
    int64_t cost = use_cost(h->discount_type, h->discount, h->points);
    rc = count_use(c, hd->key, h->campaign_id, h->customer_id, hd->shard, 0, -1, 0, cost, 0);
    if (rc != PROMO_OK)
        return rc;
    return pg_event_log(c, strcmp(state, "expired") == 0 ? "reservation_expired" : "reservation_released", now,
                        h->campaign_id, hd->key, h->customer_id, h->order_id, h->id, NULL, NULL);
}

static const char SQL_RSV_LAPSED[] =
    "SELECT " RESERVATION_COLS " FROM reservations WHERE state = 'held' AND expires_at <= $1"
    " ORDER BY expires_at LIMIT $2";

/* Holds whose code another transaction has locked are left for the next
 * sweep: waiting for them could deadlock with that transaction. */
enum promo_err pg_sweep_holds(struct pgc *c, int64_t now, int max)
{
    struct arena a = {0};
    PGresult *q = pq(c, SQL_RSV_LAPSED, "ii", now, (int64_t)max);
    if (!q)
        return PROMO_INTERNAL;
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < PQntuples(q) && rc == PROMO_OK; i++) {
        struct hold h;
        row_to_hold(q, i, &a, &h);
        PGresult *l = pq(c, SQL_CODE_TRYLOCK, "s", h.key);
        if (!l) {
            rc = PROMO_INTERNAL;
            break;
        }
        int locked = PQntuples(l) == 1;
        PQclear(l);
        bool ended = false;
        if (locked)
            rc = hold_end(c, &h, "expired", now, &ended);
    }
    PQclear(q);
    arena_free(&a);
    return rc;
}

/* Ends the lapsed holds of one code (its row locked by the caller), so a
 * use right after a hold's expiry sees the use given back. */
static const char SQL_RSV_LAPSED_CODE[] =
    "SELECT " RESERVATION_COLS " FROM reservations WHERE code_key = $1 AND state = 'held' AND expires_at <= $2";

static enum promo_err sweep_code(struct pgc *c, struct arena *a, const char *key, int64_t now)
{
    PGresult *q = pq(c, SQL_RSV_LAPSED_CODE, "si", key, now);
    if (!q)
        return PROMO_INTERNAL;
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < PQntuples(q) && rc == PROMO_OK; i++) {
        struct hold h;
        bool ended;
        row_to_hold(q, i, a, &h);
        rc = hold_end(c, &h, "expired", now, &ended);
    }
    PQclear(q);
    return rc;
}

/* Locks the code's row and reads it, telling in the same round trip
 * whether it has lapsed holds; those are ended first (and the row read
 * again). *row: the code's row (USE_CODE_COLS; no rows: no such code),
 * the caller PQclear()s it. */
static const char SQL_CODE_LOCK_USE[] =
    "SELECT " USE_CODE_COLS ", EXISTS (SELECT 1 FROM reservations r WHERE r.code_key = $1 AND r.state = 'held'"
    " AND r.expires_at <= $2) FROM codes WHERE code_key = $1 FOR UPDATE";

static enum promo_err code_row_settle(struct pgc *c, struct arena *a, const char *key, int64_t now, PGresult **row);

static enum promo_err lock_use_code(struct pgc *c, struct arena *a, const char *key, int64_t now, PGresult **row)
{
    *row = pq(c, SQL_CODE_LOCK_USE, "si", key, now);
    if (!*row)
        return PROMO_INTERNAL;
    return code_row_settle(c, a, key, now, row);
}

/* *row: the SQL_CODE_LOCK_USE row of a code locked by this transaction.
 * When the code has lapsed holds, ends them and reads the row again. */
static enum promo_err code_row_settle(struct pgc *c, struct arena *a, const char *key, int64_t now, PGresult **row)
{
    if (PQntuples(*row) == 0 || strcmp(PQgetvalue(*row, 0, 9), "t") != 0)
        return PROMO_OK;
    PQclear(*row);
    *row = NULL;
    enum promo_err rc = sweep_code(c, a, key, now);
    if (rc != PROMO_OK)
        return rc;
    *row = pq(c, SQL_USE_CODE, "s", key);
    return *row ? PROMO_OK : PROMO_INTERNAL;
}

/* ---- validate ---------------------------------------------------------- */

struct attempt {
    char *type, *campaign_id, *key, *customer_id, *order_id, *reason, *data;
    int64_t at;
};

static void attempt_free(void *p)
{
    struct attempt *t = p;
    free(t->type);
    free(t->campaign_id);
    free(t->key);
    free(t->customer_id);
    free(t->order_id);
    free(t->reason);
    free(t->data);
    free(t);
}

static const char SQL_VALIDATION_COUNT[] =
    "INSERT INTO validation_counts (campaign_id, reason, n) VALUES ($1, $2, 1)"
    " ON CONFLICT (campaign_id, reason) DO UPDATE SET n = validation_counts.n + 1";

static enum promo_err tx_attempt(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct attempt *t = arg;
    enum promo_err rc = pg_event_log(c, t->type, t->at, t->campaign_id, t->key, t->customer_id, t->order_id, NULL,
                                     t->reason, t->data);
    if (rc == PROMO_OK)
        rc = pq_do(c, NULL, SQL_VALIDATION_COUNT, "ss", t->campaign_id ? t->campaign_id : "",
                   t->reason ? t->reason : "ok");
    return rc;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

struct use_args {
    struct arena *a;
    const struct use_req *r;
    struct use_result *res;
    bool slow; /* the step-by-step path only (the fast one asked for it) */
};

static enum promo_err tx_validate(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct use_args *ua = arg;
    struct campaign cp;
    return decide(c, ua->a, ua->r, false, NULL, ua->res, &cp);
}

enum promo_err pg_validate(struct pg_store *st, struct arena *a, const struct use_req *r, struct use_result *res)
{
    /* One transaction (REPEATABLE READ would be one snapshot; READ
     * COMMITTED reads each row as last committed, which is what a
     * validation reports anyway). */
    struct use_args ua = {a, r, res};
    enum promo_err rc = pg_tx(st, tx_validate, &ua);
    if (rc != PROMO_OK)
        return rc;
    /* Logged without making the caller wait: validation changes nothing. */
    struct attempt *t = calloc(1, sizeof(*t));
    if (!t)
        return PROMO_OK;
    t->type = strdup("validation");
    t->campaign_id = res->campaign_id[0] ? strdup(res->campaign_id) : NULL;
    t->key = strdup(r->key);
    t->customer_id = dup_or_null(r->customer_id);
    t->order_id = dup_or_null(r->order ? r->order->id : NULL);
    t->reason = res->v.reason == PROMO_OK ? NULL : strdup(promo_err_code(res->v.reason));
    t->data = use_event_json(r, res->v.discount, res->v.points);
    t->at = r->now;
    pg_post(st, tx_attempt, t, attempt_free);
    return PROMO_OK;
}

static enum promo_err log_refusal(struct pgc *c, const char *type, const struct use_req *r,
                                  const struct use_result *res)
{
    char *data = use_event_json(r, 0, 0);
    enum promo_err rc = pg_event_log(c, type, r->now, res->campaign_id[0] ? res->campaign_id : NULL, r->key,
                                     r->customer_id, r->order ? r->order->id : NULL, NULL,
                                     promo_err_code(res->v.reason), data);
    free(data);
    return rc;
}

/* ---- redeem -------------------------------------------------------------- */

static const char SQL_IDEM_LOCK[] = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
static const char SQL_IDEM_GET[] = "SELECT request_hash, redemption_id, refusal FROM idempotency_keys WHERE idem_key = $1";
static const char SQL_IDEM_PUT[] =
    "INSERT INTO idempotency_keys (idem_key, request_hash, redemption_id, refusal, created_at)"
    " VALUES ($1,$2,$3,$4,$5)";

static enum promo_err idem_put(struct pgc *c, const struct use_req *r, const char *redemption_id, const char *refusal)
{
    return pq_do(c, NULL, SQL_IDEM_PUT, "ssssi", r->idem_key, r->request_hash, redemption_id, refusal, r->now);
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

/* The earlier answer to this Idempotency-Key, if any: *found set. */
static enum promo_err idem_replay(struct pgc *c, struct use_args *ua, bool *found, enum promo_err *answer)
{
    const struct use_req *r = ua->r;
    *found = false;
    /* The lock, then the lookup (a statement of its own, so its snapshot
     * is taken after the lock): one round trip. */
    struct pq_stmt s[2];
    PGresult *res[2];
    pq_stmt(&s[0], SQL_IDEM_LOCK, "s", r->idem_key);
    pq_stmt(&s[1], SQL_IDEM_GET, "s", r->idem_key);
    if (pq_pipe(c, s, 2, res, false) != 0)
        return PROMO_INTERNAL;
    PQclear(res[0]);
    PGresult *q = res[1];
    if (PQntuples(q) == 0) {
        PQclear(q);
        return PROMO_OK;
    }
    *found = true;
    const char *hash = pg_text(q, 0, 0, ua->a), *rid = pg_text(q, 0, 1, ua->a), *refusal = pg_text(q, 0, 2, ua->a);
    PQclear(q);
    if (strcmp(hash, r->request_hash) != 0) {
        *answer = PROMO_CONFLICT;
        return PROMO_OK;
    }
    if (refusal) {
        enum promo_err why = promo_err_from_code(refusal);
        ua->res->replay = true;
        ua->res->v.reason = why == PROMO_ERR__COUNT ? PROMO_INTERNAL : why;
        *answer = (enum promo_err)ua->res->v.reason;
        return PROMO_OK;
    }
    struct redemption red = {0};
    enum promo_err rc = redemption_read(c, ua->a, SQL_RED_BY_ID, rid, NULL, &red, NULL, NULL);
    if (rc != PROMO_OK)
        return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
    result_from_redemption(ua->res, &red);
    ua->res->replay = true;
    *answer = PROMO_OK;
    return PROMO_OK;
}

static enum promo_err redeem_decided(struct pg_store *st, struct pgc *c, struct use_args *ua,
                                     const struct campaign *cp);

/* A new use: decided under the locks, counted in a shard with room. */
static enum promo_err redeem_new(struct pg_store *st, struct pgc *c, struct use_args *ua, PGresult *pre)
{
    struct campaign cp;
    enum promo_err rc = decide(c, ua->a, ua->r, true, pre, ua->res, &cp);
    if (rc != PROMO_OK)
        return rc;
    return redeem_decided(st, c, ua, &cp);
}

/* The refusal (logged, and kept for the Idempotency-Key) or the use of a
 * decision made under the locks, step by step. */
static enum promo_err redeem_decided(struct pg_store *st, struct pgc *c, struct use_args *ua,
                                     const struct campaign *cpp)
{
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    struct campaign cp = *cpp;
    enum promo_err rc;
    int shard = 0;
    int64_t cost = use_cost(core_discount_type_name(cp.discount.type), res->v.discount, res->v.points);
    if (res->v.reason == PROMO_OK) {
        rc = take_shard(st, c, &cp, cost, &shard);
        if (rc == PROMO_INTERNAL)
            return rc;
        res->v.reason = rc;
    }
    if (res->v.reason != PROMO_OK) {
        rc = log_refusal(c, "redemption_refused", r, res);
        if (rc == PROMO_OK && r->idem_key)
            rc = idem_put(c, r, NULL, promo_err_code(res->v.reason));
        return rc == PROMO_OK ? (enum promo_err)res->v.reason : rc;
    }
    struct redemption red = {0};
    red.code = arena_strdup(ua->a, res->code);
    red.campaign_id = arena_strdup(ua->a, res->campaign_id);
    red.customer_id = r->customer_id;
    red.order_id = r->order->id;
    red.discount_type = core_discount_type_name(cp.discount.type);
    red.order_amount = r->order->amount;
    red.discount = res->v.discount;
    red.points = res->v.points;
    red.created_at = r->now;
    rc = count_use_locked(c, r->key, red.campaign_id, red.customer_id, shard, +1, 0, cost, res->v.amount_after);
    char *data = rc == PROMO_OK ? use_event_json(r, red.discount, red.points) : NULL;
    if (rc == PROMO_OK)
        rc = redemption_write(c, ua->a, r->key, shard, &red, r->order->currency, data);
    free(data);
    if (rc == PROMO_OK)
        res->red = red;
    return rc;
}

static enum promo_err redeem_locked(struct pg_store *st, struct pgc *c, struct use_args *ua, PGresult *pre);

static enum promo_err redeem_fast(struct pg_store *st, struct pgc *c, struct use_args *ua, bool *done,
                                  PGresult **pre);

static enum promo_err tx_redeem(struct pg_store *st, struct pgc *c, void *arg)
{
    struct use_args *ua = arg;
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    memset(res, 0, sizeof(*res));
    enum promo_err rc;
    if (r->idem_key) {
        bool found = false;
        enum promo_err answer = PROMO_OK;
        rc = idem_replay(c, ua, &found, &answer);
        if (rc != PROMO_OK || found)
            return rc != PROMO_OK ? rc : answer;
    }
    /* The code's row first: everything below about this code is then ours. */
    PGresult *pre = NULL;
    if (!ua->slow) {
        bool done = false;
        rc = redeem_fast(st, c, ua, &done, &pre);
        if (done || rc != PROMO_OK)
            return rc;
    } else if ((rc = lock_use_code(c, ua->a, r->key, r->now, &pre)) != PROMO_OK) {
        return rc;
    }
    rc = redeem_locked(st, c, ua, pre);
    PQclear(pre);
    if (rc != PROMO_OK)
        return rc;
    if (r->idem_key)
        rc = idem_put(c, r, res->red.id, NULL);
    return rc;
}

/* The replay checks and the use, under the code's lock (pre: its row). */
/* Whether this code and order already have a standing redemption or a
 * live hold (their ids), in one round trip: nearly always neither. */
static const char SQL_REPLAY_IDS[] =
    "SELECT (SELECT id FROM redemptions WHERE code_key = $1 AND order_id = $2 AND status = 'succeeded'),"
    " (SELECT id FROM reservations WHERE code_key = $1 AND order_id = $2 AND state = 'held')";

static enum promo_err redeem_locked(struct pg_store *st, struct pgc *c, struct use_args *ua, PGresult *pre)
{
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    struct redemption red = {0};
    PGresult *q = pq(c, SQL_REPLAY_IDS, "ss", r->key, r->order->id);
    if (!q)
        return PROMO_INTERNAL;
    const char *red_id = pg_text(q, 0, 0, ua->a), *hold_id = pg_text(q, 0, 1, ua->a);
    PQclear(q);
    enum promo_err rc;
    if (red_id) {
        /* The same code and order while the first redemption stands: its answer. */
        if ((rc = redemption_read(c, ua->a, SQL_RED_BY_ID, red_id, NULL, &red, NULL, NULL)) != PROMO_OK)
            return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
        result_from_redemption(res, &red);
        res->replay = true;
        return PROMO_OK;
    }
    if (!hold_id)
        return redeem_new(st, c, ua, pre);
    /* The order holding this code (reserved, then paid): the hold becomes
     * the redemption, so it never competes with itself. */
    struct hold h;
    if ((rc = hold_read(c, ua->a, SQL_RSV_BY_ID, hold_id, NULL, &h)) != PROMO_OK)
        return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
    rc = hold_confirm(c, ua->a, &h, r->now, &red);
    if (rc != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    result_from_redemption(res, &red);
    return PROMO_OK;
}

/* ---- redeem: the fast path ------------------------------------------------ */

/* Makes and locks the customer's usage row of the code's campaign (as
 * SQL_CUSTOMER_LOCK), knowing only the code. */
#define CUSTOMER_LOCK_BY_CODE                                                                                        \
    "INSERT INTO customer_usage (campaign_id, customer_id) SELECT campaign_id, $2 FROM codes WHERE code_key = $1"    \
    " ON CONFLICT (campaign_id, customer_id) DO UPDATE SET uses = customer_usage.uses RETURNING uses + held"
static const char SQL_CUSTOMER_LOCK_BY_CODE[] = CUSTOMER_LOCK_BY_CODE;
static const char SQL_REDEEM_ORDER[] =
    "SELECT * FROM promo_redeem_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
    " $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)";
/* The writes of a guest checkout's accepted use (no customer) in one
 * statement, where promo_redeem_order is a PL/pgSQL call (migration 015
 * says why): the shard with room taken and counted (SKIP LOCKED first;
 * COALESCE evaluates the waiting pick only when that found none), then,
 * only if a shard was counted, the code's use, the redemption and its
 * event, and the idempotency row. No shard: promo_no_room() raises PR001
 * and the caller retries step by step. Returns the shard.
 *   $1 key, $2 code, $3 campaign, $4 order, $5 amount, $6 currency,
 *   $7 discount type, $8 discount, $9 points, $10 cost, $11 amount after,
 *   $12 first shard tried, $13 now, $14 redemption id, $15 event id,
 *   $16 event data, $17 Idempotency-Key, $18 request hash */
static const char SQL_REDEEM_GUEST[] =
    "WITH s AS (UPDATE campaign_shards SET redeemed = redeemed + 1, discount_total = discount_total + $10,"
    " revenue = revenue + $11 WHERE campaign_id = $3"
    " AND shard = coalesce((" SHARD_PICK("$3", "$10", "$12", " SKIP LOCKED") "),"
    " (" SHARD_PICK("$3", "$10", "$12", "") ")) RETURNING shard),"
    " k AS (UPDATE codes SET uses = uses + 1 WHERE code_key = $1 AND EXISTS (SELECT 1 FROM s)),"
    " r AS (INSERT INTO redemptions (id, code_key, code, campaign_id, customer_id, order_id, order_amount, currency,"
    " discount_type, discount, points, status, reservation_id, created_at, shard)"
    " SELECT $14, $1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, 'succeeded', NULL, $13, shard FROM s RETURNING 1),"
    " e AS (INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, data)"
    " SELECT $15, 'redeemed', $13, $3, $1, NULL, $4, $14, $16 FROM r),"
    " i AS (INSERT INTO idempotency_keys (idem_key, request_hash, redemption_id, refusal, created_at)"
    " SELECT $17, $18, $14, NULL, $13 FROM r WHERE $17::text IS NOT NULL)"
    " SELECT coalesce((SELECT shard FROM s), promo_no_room())";

/* SQL_CUSTOMER_LOCK_BY_CODE and, in the same statement, the customer's
 * facts before this order as promo_redeem_order (migration 014) moves them:
 * usage (uses + held), order_count, total_spent, last_order_at, signup_at,
 * attributes, computed, spent_365d (orders after $4), has (whether $3 is
 * already one of the customer's orders), xmin (the customers row's
 * version; NULL without a row). The facts are read with the snapshot the
 * statement took before it waited for the usage lock, so they may be
 * older than the lock: promo_redeem_order takes the customer's row only at
 * that xmin and otherwise sends the request down the step-by-step path.
 * spent_365d comes from the row's window (migration 014) when the row is
 * still the version that wrote it, moved by the orders between its cutoff
 * and $4; else from every order after $4, as before. */
static const char SQL_USAGE_FACTS[] =
    "WITH u AS (" CUSTOMER_LOCK_BY_CODE " AS n)"
    " SELECT u.n, coalesce(c.order_count, 0), coalesce(c.total_spent, 0), coalesce(c.last_order_at, 0),"
    " coalesce(c.signup_at, 0), c.attributes, c.computed,"
    " CASE WHEN c.spent_xid = c.xmin::text THEN c.spent_365d + CASE WHEN $4 >= c.spent_since THEN -1 ELSE 1 END"
    " * (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = $2"
    " AND at > least($4, c.spent_since) AND at <= greatest($4, c.spent_since))"
    " ELSE (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = $2 AND at > $4) END,"
    " EXISTS (SELECT 1 FROM customer_orders WHERE customer_id = $2 AND order_id = $3), c.xmin::text"
    " FROM u LEFT JOIN customers c ON c.id = $2";

/* The fast path's pipeline. F_CAMP (PG_SQL_CAMPAIGN_COUNTS_REPLAY) is a
 * statement of its own after the code's lock, never a part of it: a
 * statement that waited for the lock still reads with the snapshot it took
 * before, and would miss the redemption the lock's holder made. */
enum { F_CODE, F_CAMP, F_USAGE, F_N };

/* What the customer's facts will be after this redemption's order (from
 * the SQL_USAGE_FACTS row: promo_redeem_order moves the row at that version
 * only) and, when the computed segments move, the moves (p_new_computed,
 * p_entered, p_left, p_move_ids as array literals), written by the
 * function so that COMMIT goes with it. check: the segments were predicted
 * (false: out of memory; C follows them after the call). */
struct facts_after {
    bool check, new_order;
    int64_t n, total, last, signup, spent;
    const char *xmin;
    const char *computed, *attributes;
    const char *after, *entered, *left, *move_ids;
};

/* Appends to the array literal *lit (in a) each name of the JSON array
 * text `names` that `other` lacks, and an event id per name to *ids.
 * Segment names are [a-z0-9_-] and ids [a-z0-9_]: nothing to quote. */
static void moves_add(struct arena *a, const char *names, const char *other, const char **lit, const char **ids)
{
    json_t *v = json_loads(names, 0, NULL), *o = json_loads(other, 0, NULL), *e, *f;
    size_t i, j;
    json_array_foreach(v, i, e)
    {
        bool kept = false;
        json_array_foreach(o, j, f) kept |= json_equal(e, f);
        if (kept || !json_is_string(e))
            continue;
        char id[PROMO_ID_MAX];
        util_rand_id("evt_", id, sizeof id);
        *lit = arena_printf(a, "%s%s%s", *lit, strlen(*lit) > 1 ? "," : "", json_string_value(e));
        *ids = arena_printf(a, "%s%s%s", *ids, strlen(*ids) > 1 ? "," : "", id);
    }
    json_decref(v);
    json_decref(o);
}

/* The moves from x->computed to `after` (log_moves' order: entries in
 * `after`'s order, then exits in the old list's order). */
static void moves_fill(struct arena *a, const char *after, struct facts_after *x)
{
    const char *entered = "{", *left = "{", *ids = "{";
    moves_add(a, after, x->computed, &entered, &ids);
    moves_add(a, x->computed, after, &left, &ids);
    x->after = after;
    x->entered = arena_printf(a, "%s}", entered);
    x->left = arena_printf(a, "%s}", left);
    x->move_ids = arena_printf(a, "%s}", ids);
}

/* Fills *x from the SQL_USAGE_FACTS row fx and the order paying `paid`;
 * returns x->check. */
static bool facts_predict(struct arena *a, const struct use_req *r, int64_t paid, PGresult *fx,
                          const struct pg_segs *segs, struct facts_after *x)
{
    x->n = pg_i64(fx, 0, 1);
    x->total = pg_i64(fx, 0, 2);
    x->last = pg_i64(fx, 0, 3);
    x->signup = pg_i64(fx, 0, 4);
    x->spent = pg_i64(fx, 0, 7);
    x->new_order = strcmp(PQgetvalue(fx, 0, 8), "t") != 0;
    x->xmin = pg_text(fx, 0, 9, a);
    if (x->new_order) {
        x->n++;
        x->total += paid;
        x->last = x->last > r->now ? x->last : r->now;
        x->spent += paid;
    }
    /* A customer made by this redemption starts with the columns' defaults. */
    x->attributes = PQgetisnull(fx, 0, 5) ? "{}" : pg_text(fx, 0, 5, a);
    x->computed = PQgetisnull(fx, 0, 6) ? "[]" : pg_text(fx, 0, 6, a);
    struct seg_facts f = {.order_count = x->n, .total_spent = x->total, .spent_365d = x->spent,
                          .signup_at = x->signup, .last_order_at = x->last};
    const char *after = pg_customer_computed(a, segs, &f, x->attributes, r->now);
    x->check = after != NULL;
    if (after && strcmp(after, x->computed) != 0)
        moves_fill(a, after, x);
    return x->check;
}

static void results_free(PGresult **q, int n)
{
    for (int i = 0; i < n; i++) {
        PQclear(q[i]);
        q[i] = NULL;
    }
}

/* The redemption an accepted use makes (its id new), strings in ua->a. */
static void redemption_of_use(struct use_args *ua, const struct campaign *cp, struct redemption *red)
{
    const struct use_req *r = ua->r;
    const struct use_result *res = ua->res;
    char rid[PROMO_ID_MAX];
    util_rand_id("rdm_", rid, sizeof rid);
    *red = (struct redemption){0};
    red->id = arena_strdup(ua->a, rid);
    red->code = arena_strdup(ua->a, res->code);
    red->campaign_id = arena_strdup(ua->a, res->campaign_id);
    red->customer_id = r->customer_id;
    red->order_id = r->order->id;
    red->status = "succeeded";
    red->discount_type = core_discount_type_name(cp->discount.type);
    red->order_amount = r->order->amount;
    red->discount = res->v.discount;
    red->points = res->v.points;
    red->created_at = r->now;
}

/* The writes of an accepted use in one statement with COMMIT: a guest's
 * SQL_REDEEM_GUEST, else a call of promo_redeem_order (migration 014), the
 * customer's facts and segments predicted (else C follows the segments
 * before COMMIT). SQLSTATE PR001 (the statement wants the step-by-step
 * path): the transaction is retried that way (ua->slow). */
static enum promo_err redeem_write_fast(struct pg_store *st, struct pgc *c, struct use_args *ua,
                                        const struct campaign *cp, PGresult *facts)
{
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    struct redemption red;
    redemption_of_use(ua, cp, &red);
    char evt[PROMO_ID_MAX], cevt[PROMO_ID_MAX];
    util_rand_id("evt_", evt, sizeof evt);
    util_rand_id("evt_", cevt, sizeof cevt);
    int64_t cost = use_cost(red.discount_type, red.discount, red.points);
    int64_t start = (int64_t)util_rand_uniform((uint32_t)st->shards);
    int64_t paid = red.order_amount - red.discount;
    /* Without a customer, or with the customer's facts and segments
     * predicted, nothing is left to do after the write: COMMIT goes in the
     * same round trip. */
    struct facts_after x = {.check = false};
    struct pg_segs *segs = red.customer_id ? pg_segs_get(st, c) : NULL;
    if (red.customer_id && !segs)
        return PROMO_INTERNAL;
    bool commit = !red.customer_id || facts_predict(ua->a, r, paid, facts, segs, &x);
    char *data = use_event_json(r, red.discount, red.points);
    struct pq_stmt s[1];
    PGresult *q[1];
    if (!red.customer_id)
        pq_stmt(&s[0], SQL_REDEEM_GUEST, "ssssi" "ss" "iiiiii" "sss" "ss", r->key, red.code, red.campaign_id,
                red.order_id, red.order_amount, r->order->currency, red.discount_type, red.discount, red.points,
                cost, res->v.amount_after, start, r->now, red.id, evt, data ? data : "{}", r->idem_key,
                r->idem_key ? r->request_hash : NULL);
    else
        pq_stmt(&s[0], SQL_REDEEM_ORDER, "sssss" "iss" "ii" "iiiii" "ssss" "ss" "ssi" "ssss" "i", r->key,
                red.code, red.campaign_id, red.customer_id, red.order_id, red.order_amount, r->order->currency,
                red.discount_type, red.discount, red.points, cost, res->v.amount_after, paid, start, r->now, red.id,
                evt, data ? data : "{}", cevt, r->idem_key, r->idem_key ? r->request_hash : NULL, x.xmin,
                x.new_order ? "t" : "f", x.spent, x.after, x.entered, x.left, x.move_ids, segment_spent_since(r->now));
    int failed = pq_pipe(c, s, 1, q, commit) != 0; /* s points into data */
    free(data);
    if (failed) {
        pg_segs_put(st, segs);
        if (strcmp(c->state, "PR001") == 0) {
            ua->slow = true;
            c->retry = 1;
        }
        return c->unique ? PROMO_CONFLICT : PROMO_INTERNAL;
    }
    enum promo_err rc = PROMO_OK;
    if (!commit && red.customer_id && !PQgetisnull(q[0], 0, 1))
        rc = pg_customer_segments_follow(c, red.customer_id, segs, q[0], 1, r->now);
    PQclear(q[0]);
    pg_segs_put(st, segs);
    if (rc == PROMO_OK)
        res->red = red;
    return rc;
}

/* A redemption in two round trips when nothing unusual is about: one
 * pipeline (BEGIN and three statements) locks the code and reads all a
 * decision needs (the campaign and its shard sums with the replays of the
 * order and whether webhooks listen; the customer's usage row, locked,
 * with their facts); core decides, the segments' rules coming from memory
 * (pg_segs_get); one pipeline calls promo_redeem_order (which also writes
 * the segment moves C predicted) and COMMITs (without a prediction, out of
 * memory only, C follows the segments first and COMMIT is a third round
 * trip). Refusals and uses a webhook listens for go on step by step in
 * the same transaction. *done: the request is answered; else *pre is the
 * code's locked row for the step-by-step path (no such code, a replay of
 * the order, or lapsed holds, ended by then). */
static enum promo_err redeem_fast(struct pg_store *st, struct pgc *c, struct use_args *ua, bool *done,
                                  PGresult **pre)
{
    const struct use_req *r = ua->r;
    struct pq_stmt s[F_N];
    PGresult *q[F_N] = {0};
    int n = F_USAGE;
    pq_stmt(&s[F_CODE], SQL_CODE_LOCK_USE, "si", r->key, r->now);
    pq_stmt(&s[F_CAMP], PG_SQL_CAMPAIGN_COUNTS_REPLAY, "ss", r->key, r->order->id);
    if (r->customer_id) {
        pq_stmt(&s[n++], SQL_USAGE_FACTS, "sssi", r->key, r->customer_id, r->order->id, segment_spent_since(r->now));
    }
    *done = false;
    if (pq_pipe(c, s, n, q, false) != 0)
        return PROMO_INTERNAL;
    bool found = PQntuples(q[F_CODE]) == 1;
    bool lapsed = found && strcmp(PQgetvalue(q[F_CODE], 0, 9), "t") == 0;
    const int rc0 = PG_CAMPAIGN_COUNTS_NCOLS;
    /* No campaign row (no such code): the step-by-step path says so. */
    bool replay = PQntuples(q[F_CAMP]) != 1 || !PQgetisnull(q[F_CAMP], 0, rc0) || !PQgetisnull(q[F_CAMP], 0, rc0 + 1);
    if (lapsed || replay || !found) {
        /* Rare: the step-by-step path, under the lock already taken. */
        *pre = q[F_CODE];
        q[F_CODE] = NULL;
        results_free(q, F_N);
        return code_row_settle(c, ua->a, r->key, r->now, pre);
    }
    *done = true;
    struct preread pr = {q[F_CAMP], r->customer_id ? q[F_USAGE] : NULL};
    struct campaign cp;
    enum promo_err rc = decide_with(c, ua->a, r, true, q[F_CODE], &pr, ua->res, &cp);
    if (rc == PROMO_OK) {
        bool hooks = strcmp(PQgetvalue(q[F_CAMP], 0, rc0 + 2), "t") == 0;
        if (ua->res->v.reason == PROMO_OK && !hooks) {
            rc = redeem_write_fast(st, c, ua, &cp, q[F_USAGE]);
        } else {
            rc = redeem_decided(st, c, ua, &cp);
            if (rc == PROMO_OK && r->idem_key)
                rc = idem_put(c, r, ua->res->red.id, NULL);
        }
    }
    results_free(q, F_N);
    return rc;
}

enum promo_err pg_redeem(struct pg_store *st, struct arena *a, const struct use_req *r, struct use_result *res)
{
    struct use_args ua = {a, r, res};
    return pg_tx(st, tx_redeem, &ua);
}

/* ---- reserve, confirm, release ----------------------------------------- */

static const char SQL_RSV_INSERT[] =
    "INSERT INTO reservations (id, code_key, code, campaign_id, customer_id, order_id, order_amount,"
    " currency, discount_type, discount, points, state, expires_at, created_at, shard)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'held',$12,$13,$14)";
static const char SQL_RSV_RENEW[] = "UPDATE reservations SET expires_at = $1 WHERE id = $2";

static void result_from_hold(struct use_result *res, const struct reservation *h)
{
    snprintf(res->campaign_id, sizeof res->campaign_id, "%s", h->campaign_id);
    snprintf(res->code, sizeof res->code, "%s", h->code);
    res->discount_type = core_discount_type_parse(h->discount_type);
    res->v.discount = h->discount;
    res->v.points = h->points;
    res->v.amount_after = h->order_amount - h->discount;
    res->rsv = *h;
    res->replay = true;
}

static enum promo_err reserve_locked(struct pg_store *st, struct pgc *c, struct use_args *ua, PGresult *pre);

static enum promo_err reserve_fast(struct pg_store *st, struct pgc *c, struct use_args *ua, bool *done,
                                   PGresult **pre);

static enum promo_err tx_reserve(struct pg_store *st, struct pgc *c, void *arg)
{
    struct use_args *ua = arg;
    struct use_result *res = ua->res;
    memset(res, 0, sizeof(*res));
    bool done = false;
    PGresult *pre = NULL;
    enum promo_err rc = reserve_fast(st, c, ua, &done, &pre);
    if (done || rc != PROMO_OK)
        return rc;
    rc = reserve_locked(st, c, ua, pre);
    PQclear(pre);
    return rc;
}

/* Times are whole seconds and r->now is cut down to its second, so
 * now + ttl could lapse a hold up to a second early: one second more makes
 * it live at least its ttl (as on SQLite). */
static int64_t hold_expiry(const struct use_req *r)
{
    return r->now + r->ttl + 1;
}

/* Inserts the hold and counts it (count_use_locked) in one round trip. */
static enum promo_err hold_insert_counted(struct pgc *c, const struct use_req *r, const struct reservation *h, int shard,
                                          int64_t cost)
{
    struct pq_stmt s[2];
    PGresult *q[2];
    pq_stmt(&s[0], SQL_RSV_INSERT, "ssssssissiiiii", h->id, r->key, h->code, h->campaign_id, h->customer_id,
            h->order_id, h->order_amount, r->order->currency, h->discount_type, h->discount, h->points,
            h->expires_at, h->created_at, (int64_t)shard);
    pq_stmt(&s[1], SQL_COUNT_LOCKED, "iisssiii", (int64_t)0, (int64_t)1, r->key, h->campaign_id, h->customer_id,
            (int64_t)shard, cost, (int64_t)0);
    if (pq_pipe(c, s, 2, q, false) != 0)
        return c->unique ? PROMO_CONFLICT : PROMO_INTERNAL;
    int ok = pg_i64(q[1], 0, 0) == 1 && pg_i64(q[1], 0, 1) == 1;
    PQclear(q[0]);
    PQclear(q[1]);
    if (!ok)
        log_error("store: a hold was counted on a missing code or shard");
    return ok ? PROMO_OK : PROMO_INTERNAL;
}

static enum promo_err reserve_decided(struct pg_store *st, struct pgc *c, struct use_args *ua,
                                      const struct campaign *cpp);

/* A hold under the code's lock (pre: its row). */
static enum promo_err reserve_locked(struct pg_store *st, struct pgc *c, struct use_args *ua, PGresult *pre)
{
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    enum promo_err rc;
    struct hold hd = {0};
    rc = hold_read(c, ua->a, SQL_RSV_HELD, r->key, r->order->id, &hd);
    if (rc == PROMO_OK) {
        /* The same order again (a retried payment): its own hold, renewed. */
        hd.r.expires_at = hold_expiry(r);
        rc = pq_do(c, NULL, SQL_RSV_RENEW, "is", hd.r.expires_at, hd.r.id);
        if (rc == PROMO_OK)
            result_from_hold(res, &hd.r);
        return rc;
    }
    if (rc != PROMO_NOT_FOUND)
        return rc;
    struct campaign cp;
    if ((rc = decide(c, ua->a, r, true, pre, res, &cp)) != PROMO_OK)
        return rc;
    return reserve_decided(st, c, ua, &cp);
}

/* The refusal (logged) or the hold of a decision made under the locks. */
static enum promo_err reserve_decided(struct pg_store *st, struct pgc *c, struct use_args *ua,
                                      const struct campaign *cpp)
{
    const struct use_req *r = ua->r;
    struct use_result *res = ua->res;
    struct campaign cp = *cpp;
    struct hold hd = {0};
    enum promo_err rc;
    int shard = 0;
    int64_t cost = use_cost(core_discount_type_name(cp.discount.type), res->v.discount, res->v.points);
    if (res->v.reason == PROMO_OK) {
        rc = take_shard(st, c, &cp, cost, &shard);
        if (rc == PROMO_INTERNAL)
            return rc;
        res->v.reason = rc;
    }
    if (res->v.reason != PROMO_OK) {
        rc = log_refusal(c, "reservation_refused", r, res);
        return rc == PROMO_OK ? (enum promo_err)res->v.reason : rc;
    }
    struct reservation *h = &hd.r;
    char id[PROMO_ID_MAX];
    util_rand_id("rsv_", id, sizeof id);
    h->id = arena_strdup(ua->a, id);
    h->code = arena_strdup(ua->a, res->code);
    h->campaign_id = arena_strdup(ua->a, res->campaign_id);
    h->customer_id = r->customer_id;
    h->order_id = r->order->id;
    h->state = "held";
    h->discount_type = core_discount_type_name(cp.discount.type);
    h->order_amount = r->order->amount;
    h->discount = res->v.discount;
    h->points = res->v.points;
    h->expires_at = hold_expiry(r);
    h->created_at = r->now;
    rc = hold_insert_counted(c, r, h, shard, cost);
    char *data = rc == PROMO_OK ? use_event_json(r, h->discount, h->points) : NULL;
    if (rc == PROMO_OK)
        rc = pg_event_log(c, "reserved", r->now, h->campaign_id, r->key, h->customer_id, h->order_id, h->id, NULL,
                          data);
    free(data);
    res->rsv = *h;
    return rc;
}

enum { R_CODE, R_HELD, R_CAMP, R_USAGE, R_N };

/* A hold's reads and locks in one pipeline, as redeem_fast's: the code's
 * row, a live hold of the order, the campaign with its shard sums and the
 * customer's usage row, locked; core decides; reserve_decided writes.
 * *done: answered; else *pre is the code's locked row for reserve_locked
 * (no such code, the order's own hold to renew, or lapsed holds, ended). */
static enum promo_err reserve_fast(struct pg_store *st, struct pgc *c, struct use_args *ua, bool *done,
                                   PGresult **pre)
{
    const struct use_req *r = ua->r;
    struct pq_stmt s[R_N];
    PGresult *q[R_N] = {0};
    int n = R_USAGE;
    pq_stmt(&s[R_CODE], SQL_CODE_LOCK_USE, "si", r->key, r->now);
    pq_stmt(&s[R_HELD], SQL_RSV_HELD, "ss", r->key, r->order->id);
    pq_stmt(&s[R_CAMP], PG_SQL_CAMPAIGN_COUNTS_BY_CODE, "s", r->key);
    if (r->customer_id)
        pq_stmt(&s[n++], SQL_CUSTOMER_LOCK_BY_CODE, "ss", r->key, r->customer_id);
    *done = false;
    if (pq_pipe(c, s, n, q, false) != 0)
        return PROMO_INTERNAL;
    bool found = PQntuples(q[R_CODE]) == 1;
    bool lapsed = found && strcmp(PQgetvalue(q[R_CODE], 0, 9), "t") == 0;
    if (!found || lapsed || PQntuples(q[R_HELD]) > 0) {
        *pre = q[R_CODE];
        q[R_CODE] = NULL;
        results_free(q, R_N);
        return code_row_settle(c, ua->a, r->key, r->now, pre);
    }
    *done = true;
    struct preread pr = {q[R_CAMP], r->customer_id ? q[R_USAGE] : NULL};
    struct campaign cp;
    enum promo_err rc = decide_with(c, ua->a, r, true, q[R_CODE], &pr, ua->res, &cp);
    results_free(q, R_N);
    return rc == PROMO_OK ? reserve_decided(st, c, ua, &cp) : rc;
}

enum promo_err pg_reserve(struct pg_store *st, struct arena *a, const struct use_req *r, struct use_result *res)
{
    struct use_args ua = {a, r, res};
    return pg_tx(st, tx_reserve, &ua);
}

struct id_args {
    struct arena *a;
    const char *id, *reason;
    int64_t now;
    struct redemption *red;
    struct reservation *rsv;
};

/* Reads the hold, locks its code, reads it again (now stable). */
static enum promo_err hold_locked(struct pgc *c, struct arena *a, const char *id, struct hold *h)
{
    enum promo_err rc = hold_read(c, a, SQL_RSV_BY_ID, id, NULL, h);
    if (rc == PROMO_OK)
        rc = lock_code(c, h->key);
    if (rc == PROMO_OK)
        rc = hold_read(c, a, SQL_RSV_BY_ID, id, NULL, h);
    return rc;
}

static enum promo_err tx_confirm(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct id_args *ia = arg;
    struct hold h;
    enum promo_err rc = hold_locked(c, ia->a, ia->id, &h);
    if (rc != PROMO_OK)
        return rc;
    if (strcmp(h.r.state, "confirmed") == 0 && h.r.redemption_id)
        return redemption_read(c, ia->a, SQL_RED_BY_ID, h.r.redemption_id, NULL, ia->red, NULL, NULL);
    if (strcmp(h.r.state, "held") != 0 || h.r.expires_at <= ia->now)
        return PROMO_CONFLICT;
    return hold_confirm(c, ia->a, &h, ia->now, ia->red);
}

enum promo_err pg_reservation_confirm(struct pg_store *st, struct arena *a, const char *id, int64_t now,
                                      struct redemption *out)
{
    struct id_args ia = {.a = a, .id = id, .now = now, .red = out};
    return pg_tx(st, tx_confirm, &ia);
}

static enum promo_err tx_release(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct id_args *ia = arg;
    struct hold h;
    enum promo_err rc = hold_locked(c, ia->a, ia->id, &h);
    if (rc != PROMO_OK)
        return rc;
    *ia->rsv = h.r;
    if (strcmp(h.r.state, "confirmed") == 0)
        return PROMO_CONFLICT;
    if (strcmp(h.r.state, "held") != 0)
        return PROMO_OK; /* released or lapsed already */
    bool ended = false;
    rc = hold_end(c, &h, "released", ia->now, &ended);
    ia->rsv->state = "released";
    return rc;
}

enum promo_err pg_reservation_release(struct pg_store *st, struct arena *a, const char *id, int64_t now,
                                      struct reservation *out)
{
    struct id_args ia = {.a = a, .id = id, .now = now, .rsv = out};
    return pg_tx(st, tx_release, &ia);
}

enum promo_err pg_reservation_get(struct pg_store *st, struct arena *a, const char *id, struct reservation *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    struct hold h;
    enum promo_err rc = hold_read(c, a, SQL_RSV_BY_ID, id, NULL, &h);
    pgc_put(st, c);
    if (rc == PROMO_OK)
        *out = h.r;
    return rc;
}

/* ---- rollback ------------------------------------------------------------ */

static const char SQL_RED_ROLLBACK[] =
    "UPDATE redemptions SET status = 'rolled_back', rolled_back_at = $1, rollback_reason = $2"
    " WHERE id = $3 AND status = 'succeeded'";

static enum promo_err tx_rollback(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct id_args *ia = arg;
    const char *key = NULL;
    int shard = 0;
    enum promo_err rc = redemption_read(c, ia->a, SQL_RED_BY_ID, ia->id, NULL, ia->red, &key, &shard);
    if (rc != PROMO_OK)
        return rc;
    if (strcmp(ia->red->status, "succeeded") != 0)
        return PROMO_CONFLICT;
    if ((rc = lock_code(c, key)) != PROMO_OK)
        return rc;
    int64_t changed = 0;
    rc = pq_do(c, &changed, SQL_RED_ROLLBACK, "iss", ia->now, ia->reason, ia->id);
    if (rc != PROMO_OK)
        return rc;
    if (changed == 0)
        return PROMO_CONFLICT; /* another server rolled it back first */
    struct redemption *r = ia->red;
    rc = count_use(c, key, r->campaign_id, r->customer_id, shard, -1, 0, +1,
                   use_cost(r->discount_type, r->discount, r->points), r->order_amount - r->discount);
    if (rc == PROMO_OK)
        rc = pg_customer_order_remove(c, r->customer_id, r->order_id, ia->now);
    if (rc != PROMO_OK)
        return rc;
    r->status = "rolled_back";
    r->rolled_back_at = ia->now;
    r->rollback_reason = ia->reason;
    json_t *ev = json_pack("{s:s?}", "reason", ia->reason);
    char *data = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    rc = pg_event_log(c, "redemption_rolled_back", ia->now, r->campaign_id, key, r->customer_id, r->order_id, r->id,
                      ia->reason, data);
    free(data);
    return rc;
}

enum promo_err pg_redemption_rollback(struct pg_store *st, struct arena *a, const char *id, const char *reason,
                                      int64_t now, struct redemption *out)
{
    struct id_args ia = {.a = a, .id = id, .reason = reason, .now = now, .red = out};
    return pg_tx(st, tx_rollback, &ia);
}

enum promo_err pg_redemption_get(struct pg_store *st, struct arena *a, const char *id, struct redemption *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = redemption_read(c, a, SQL_RED_BY_ID, id, NULL, out, NULL, NULL);
    pgc_put(st, c);
    return rc;
}

static const char SQL_RED_LIST_ALL[] =
    "SELECT " REDEMPTION_COLS " FROM redemptions WHERE seq < $3 AND $1::text IS NULL AND $2::text IS NULL"
    " ORDER BY seq DESC LIMIT $4";
static const char SQL_RED_LIST_CAMPAIGN[] =
    "SELECT " REDEMPTION_COLS " FROM redemptions WHERE campaign_id = $1"
    " AND ($2::text IS NULL OR customer_id = $2) AND seq < $3 ORDER BY seq DESC LIMIT $4";
static const char SQL_RED_LIST_CUSTOMER[] =
    "SELECT " REDEMPTION_COLS " FROM redemptions WHERE customer_id = $2 AND $1::text IS NULL"
    " AND seq < $3 ORDER BY seq DESC LIMIT $4";

enum promo_err pg_redemption_list(struct pg_store *st, struct arena *a, const char *campaign_id,
                                  const char *customer_id, const char *cursor, int limit, struct redemption **out,
                                  size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    int64_t before = cursor ? strtoll(cursor, NULL, 10) : INT64_MAX;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    const char *sql = campaign_id ? SQL_RED_LIST_CAMPAIGN : customer_id ? SQL_RED_LIST_CUSTOMER : SQL_RED_LIST_ALL;
    PGresult *q = pq(c, sql, "ssii", campaign_id, customer_id, before, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!q)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct redemption) * (size_t)(limit + 1));
    int64_t last = 0;
    for (int i = 0; i < PQntuples(q); i++) {
        if ((int)*n == limit) {
            *next = arena_printf(a, "%lld", (long long)last);
            break;
        }
        row_to_redemption(q, i, a, &(*out)[*n]);
        last = pg_i64(q, i, 16);
        (*n)++;
    }
    PQclear(q);
    return PROMO_OK;
}
