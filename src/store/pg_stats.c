/* pg_stats.c — a campaign's numbers on PostgreSQL: the counters summed
 * over its shards, plus breakdowns by reason, channel and day, all read in
 * one REPEATABLE READ snapshot so they agree with each other. */
#include <string.h>

#include "store/pg_int.h"

static const char SQL_CODES_USED[] = "SELECT count(*) FROM codes WHERE campaign_id = $1 AND uses > 0";
static const char SQL_VALIDATIONS[] =
    "SELECT reason, n, 0, 0 FROM validation_counts WHERE campaign_id = $1 ORDER BY reason COLLATE \"C\"";
static const char SQL_BY_CHANNEL[] =
    "SELECT coalesce(k.channel, 'none'), count(*), sum(r.discount), sum(r.order_amount - r.discount)"
    " FROM redemptions r JOIN codes k ON k.code_key = r.code_key"
    " WHERE r.campaign_id = $1 AND r.status = 'succeeded' GROUP BY 1 ORDER BY 1";
static const char SQL_DAILY[] =
    "SELECT to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*), sum(discount),"
    " sum(order_amount - discount) FROM redemptions WHERE campaign_id = $1 AND status = 'succeeded'"
    " GROUP BY 1 ORDER BY 1";

static enum promo_err read_counts(struct pgc *c, struct arena *a, const char *sql, const char *id,
                                  struct stat_count **out, size_t *n)
{
    *n = 0;
    *out = NULL;
    PGresult *r = pq(c, sql, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct stat_count) * (size_t)(PQntuples(r) + 1));
    for (int i = 0; i < PQntuples(r); i++) {
        struct stat_count *sc = &(*out)[(*n)++];
        sc->key = pg_text(r, i, 0, a);
        sc->n = pg_i64(r, i, 1);
        sc->amount = pg_i64(r, i, 2);
        sc->revenue = pg_i64(r, i, 3);
    }
    PQclear(r);
    return PROMO_OK;
}

struct stats_args {
    struct arena *a;
    const char *id;
    struct campaign_stats *out;
};

static enum promo_err tx_stats(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct stats_args *sa = arg;
    struct campaign_stats *out = sa->out;
    memset(out, 0, sizeof(*out));
    if (pg_exec(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return PROMO_INTERNAL;
    struct campaign cp;
    enum promo_err rc = pg_campaign_read(c, sa->a, sa->id, false, &cp, &out->counts);
    if (rc != PROMO_OK)
        return rc;
    PGresult *r = pq(c, SQL_CODES_USED, "s", sa->id);
    if (!r)
        return PROMO_INTERNAL;
    out->codes_used = pg_i64(r, 0, 0);
    PQclear(r);
    struct stat_count *v = NULL;
    size_t nv = 0;
    if ((rc = read_counts(c, sa->a, SQL_VALIDATIONS, sa->id, &v, &nv)) != PROMO_OK)
        return rc;
    out->failed = arena_alloc(sa->a, sizeof(struct stat_count) * (nv + 1));
    for (size_t i = 0; i < nv; i++) {
        if (strcmp(v[i].key, "ok") == 0)
            out->validations_ok = v[i].n;
        else
            out->failed[out->n_failed++] = v[i];
    }
    if ((rc = read_counts(c, sa->a, SQL_BY_CHANNEL, sa->id, &out->by_channel, &out->n_by_channel)) != PROMO_OK)
        return rc;
    return read_counts(c, sa->a, SQL_DAILY, sa->id, &out->daily, &out->n_daily);
}

enum promo_err pg_campaign_stats(struct pg_store *st, struct arena *a, const char *id, struct campaign_stats *out)
{
    struct stats_args sa = {a, id, out};
    return pg_tx(st, tx_stats, &sa);
}
