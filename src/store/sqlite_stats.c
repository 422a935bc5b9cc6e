/* sqlite_stats.c — a campaign's numbers on SQLite: the counters kept on the
 * campaign row, plus breakdowns by reason, channel and day. */
#include <string.h>

#include "store/sqlite_int.h"

static const char SQL_CODES_USED[] = "SELECT count(*) FROM codes WHERE campaign_id = ? AND uses > 0";
static const char SQL_VALIDATIONS[] =
    "SELECT reason, n, 0, 0 FROM validation_counts WHERE campaign_id = ? ORDER BY reason";
static const char SQL_BY_CHANNEL[] =
    "SELECT coalesce(k.channel, 'none'), count(*), sum(r.discount), sum(r.order_amount - r.discount)"
    " FROM redemptions r JOIN codes k ON k.code_key = r.code_key"
    " WHERE r.campaign_id = ? AND r.status = 'succeeded' GROUP BY 1 ORDER BY 1";
static const char SQL_DAILY[] =
    "SELECT date(created_at, 'unixepoch'), count(*), sum(discount), sum(order_amount - discount)"
    " FROM redemptions WHERE campaign_id = ? AND status = 'succeeded' GROUP BY 1 ORDER BY 1";

/* Rows of (key, n, amount, revenue) into an arena array. */
static enum promo_err read_counts(struct conn *c, struct arena *a, const char *sql, const char *id,
                                  struct stat_count **out, size_t *n)
{
    *n = 0;
    *out = NULL;
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct stat_count *nv = arena_alloc(a, sizeof(*nv) * ncap);
            if (*n)
                memcpy(nv, *out, sizeof(*nv) * *n);
            *out = nv;
            cap = ncap;
        }
        struct stat_count *sc = &(*out)[(*n)++];
        sc->key = col_text(s, 0, a);
        sc->n = sqlite3_column_int64(s, 1);
        sc->amount = sqlite3_column_int64(s, 2);
        sc->revenue = sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    return r == SQLITE_DONE ? PROMO_OK : db_fail(c, "stats");
}

enum promo_err sqlite_campaign_stats(struct sqlite_store *st, struct arena *a, const char *id,
                                    struct campaign_stats *out)
{
    memset(out, 0, sizeof(*out));
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    struct campaign cp;
    enum promo_err rc = conn_run(c, SQL_BEGIN) == 0 ? PROMO_OK : PROMO_INTERNAL;
    if (rc == PROMO_OK)
        rc = campaign_read(c, a, id, &cp, &out->counts);
    if (rc == PROMO_OK) {
        sqlite3_stmt *s = conn_stmt(c, SQL_CODES_USED);
        if (!s) {
            rc = PROMO_INTERNAL;
        } else {
            bind_text(s, 1, id);
            if (sqlite3_step(s) == SQLITE_ROW)
                out->codes_used = sqlite3_column_int64(s, 0);
            sqlite3_reset(s);
        }
    }
    struct stat_count *v = NULL;
    size_t nv = 0;
    if (rc == PROMO_OK)
        rc = read_counts(c, a, SQL_VALIDATIONS, id, &v, &nv);
    if (rc == PROMO_OK) {
        out->failed = arena_alloc(a, sizeof(struct stat_count) * (nv + 1));
        for (size_t i = 0; i < nv; i++) {
            if (strcmp(v[i].key, "ok") == 0)
                out->validations_ok = v[i].n;
            else
                out->failed[out->n_failed++] = v[i];
        }
    }
    if (rc == PROMO_OK)
        rc = read_counts(c, a, SQL_BY_CHANNEL, id, &out->by_channel, &out->n_by_channel);
    if (rc == PROMO_OK)
        rc = read_counts(c, a, SQL_DAILY, id, &out->daily, &out->n_daily);
    conn_run(c, SQL_COMMIT);
    reader_put(st, c);
    return rc;
}
