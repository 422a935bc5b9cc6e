/* pg_customers.c — customers, their facts and segments, and ingested
 * client events on PostgreSQL (the SQLite version: sqlite_customers.c).
 * Facts are aggregates of customer_orders, recomputed in the transaction
 * of each change under the customer row's lock (SQL_CUST_LOCK), so two
 * servers changing one customer queue on that row; segment membership follows, with `segment_entered` /
 * `segment_left` in the same transaction.
 *
 * Unlike SQLite's writer, no parsed rules are cached: another server may
 * change a segment at any time, so each evaluation reads the rules of its
 * own snapshot. Rules are not on PostgreSQL yet, so entering a segment or
 * ingesting an event schedules no rule steps here. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/segment.h"
#include "store/pg_int.h"
#include "util/timeutil.h"
#include "util/log.h"

#define SEGMENTS_MAX 256

/* ---- segments loaded for evaluation ------------------------------------- */

struct seg_set {
    struct arena a; /* the names */
    size_t n;
    const char *name[SEGMENTS_MAX];
    json_t *json[SEGMENTS_MAX]; /* owned: the parsed rule texts */
    struct seg_rule rule[SEGMENTS_MAX];
    bool uses_attributes; /* some rule reads attributes.<name> */
};

static void seg_set_free(struct seg_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->json[i]);
    arena_free(&s->a);
    free(s);
}

const char PG_SQL_SEG_RULES[] = "SELECT name, rule FROM segments ORDER BY name COLLATE \"C\"";
#define SQL_SEG_RULES PG_SQL_SEG_RULES

/* The segments of a PG_SQL_SEG_RULES result r (sorted by name bytewise, as
 * SQLite sorts); a stored rule that no longer parses is skipped with a log
 * line. NULL when out of memory. The caller frees with seg_set_free. */
static struct seg_set *seg_set_from(PGresult *r)
{
    struct seg_set *out = calloc(1, sizeof(*out));
    if (!out)
        return NULL;
    for (int i = 0; i < PQntuples(r) && out->n < SEGMENTS_MAX; i++) {
        json_t *j = json_loads(PQgetvalue(r, i, 1), 0, NULL);
        char fb[96];
        const char *field, *why;
        if (!j || core_segment_parse(j, &out->rule[out->n], fb, sizeof fb, &field, &why) != PROMO_OK) {
            log_warn("store: segment %s has an unreadable rule", PQgetvalue(r, i, 0));
            json_decref(j);
            continue;
        }
        for (size_t k = 0; k < out->rule[out->n].n; k++)
            out->uses_attributes |= out->rule[out->n].c[k].fact == FACT_ATTRIBUTE;
        out->name[out->n] = arena_strdup(&out->a, PQgetvalue(r, i, 0));
        out->json[out->n] = j;
        out->n++;
    }
    return out;
}

/* Reads every segment's rule (seg_set_from). NULL when the query fails. */
static struct seg_set *seg_set_load(struct pgc *c)
{
    PGresult *r = pq(c, SQL_SEG_RULES, "");
    if (!r)
        return NULL;
    struct seg_set *out = seg_set_from(r);
    PQclear(r);
    return out;
}

/* ---- the segments' rules, cached ------------------------------------------- */

/* A redemption with a customer evaluates every segment's rule, so the
 * parsed rules are kept in memory instead of being read and parsed on
 * every call. They follow the table the way the token cache does
 * (pg_tokens.c): migration 013 makes every change to segments NOTIFY
 * promo_segments, the store's listener drops the set when it hears it (or
 * when it is not listening: then nothing is kept), this server drops it
 * after its own changes commit, and a set read while a drop happened is
 * not kept. A set in use stays alive until its last user puts it back. */
struct pg_segs {
    int refs; /* under the cache's lock */
    struct seg_set *set;
};

struct pg_segcache {
    pthread_mutex_t lock;
    uint64_t gen;
    bool on;
    struct pg_segs *cur; /* NULL: read at the next use */
    int64_t cur_ns;      /* when cur was read (time_mono_ns) */
};

/* No set is used longer than this, whatever the listener heard. */
#define SEGCACHE_MAX_AGE_S 10

static void segs_unref(struct pg_segcache *sc, struct pg_segs *g)
{
    bool last;
    pthread_mutex_lock(&sc->lock);
    last = --g->refs == 0;
    pthread_mutex_unlock(&sc->lock);
    if (last) {
        seg_set_free(g->set);
        free(g);
    }
}

/* Drops the current set (under sc->lock; the caller unrefs *old after). */
static void segcache_clear(struct pg_segcache *sc, struct pg_segs **old)
{
    *old = sc->cur;
    sc->cur = NULL;
    sc->gen++;
}

void pg_segcache_drop(struct pg_store *st, int on)
{
    struct pg_segcache *sc = st->segcache;
    if (!sc)
        return;
    struct pg_segs *old;
    pthread_mutex_lock(&sc->lock);
    segcache_clear(sc, &old);
    if (on >= 0)
        sc->on = on;
    pthread_mutex_unlock(&sc->lock);
    if (old)
        segs_unref(sc, old);
}

int pg_segcache_open(struct pg_store *st)
{
    struct pg_segcache *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return -1;
    pthread_mutex_init(&sc->lock, NULL);
    st->segcache = sc;
    return 0;
}

void pg_segcache_close(struct pg_store *st)
{
    struct pg_segcache *sc = st->segcache;
    if (!sc)
        return;
    if (sc->cur)
        segs_unref(sc, sc->cur);
    pthread_mutex_destroy(&sc->lock);
    free(sc);
    st->segcache = NULL;
}

struct pg_segs *pg_segs_get(struct pg_store *st, struct pgc *c)
{
    struct pg_segcache *sc = st->segcache;
    struct pg_segs *old = NULL;
    pthread_mutex_lock(&sc->lock);
    if (sc->cur && time_mono_ns() - sc->cur_ns >= (int64_t)SEGCACHE_MAX_AGE_S * 1000000000)
        segcache_clear(sc, &old);
    struct pg_segs *g = sc->cur;
    if (g)
        g->refs++;
    uint64_t gen = sc->gen;
    pthread_mutex_unlock(&sc->lock);
    if (old)
        segs_unref(sc, old);
    if (g)
        return g;
    /* Read with this transaction's connection; the generation before the
     * read decides whether what it read may be kept. */
    struct seg_set *set = seg_set_load(c);
    if (!set || !(g = calloc(1, sizeof(*g)))) {
        seg_set_free(set);
        return NULL;
    }
    g->set = set;
    g->refs = 1;
    pthread_mutex_lock(&sc->lock);
    if (sc->on && sc->gen == gen && !sc->cur) {
        sc->cur = g;
        sc->cur_ns = time_mono_ns();
        g->refs++;
    }
    pthread_mutex_unlock(&sc->lock);
    return g;
}

void pg_segs_put(struct pg_store *st, struct pg_segs *g)
{
    if (g)
        segs_unref(st->segcache, g);
}

/* ---- facts ----------------------------------------------------------------- */

/* One statement recomputes the facts from the customer's orders (locking
 * the row), writes the 365-day window a redemption reads (migration 014:
 * the sum after $2, good while the row is this version) and hands back what
 * the rules look at. */
static const char SQL_FACTS_REFRESH[] =
    "UPDATE customers SET (order_count, total_spent, first_order_at, last_order_at, spent_365d) ="
    " (SELECT count(*), coalesce(sum(amount), 0), min(at), max(at), coalesce(sum(amount) FILTER (WHERE at > $2), 0)"
    " FROM customer_orders WHERE customer_id = $1), spent_since = $2, spent_xid = pg_current_xact_id()::xid::text"
    " WHERE id = $1 RETURNING order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0),"
    " attributes, computed, spent_365d";
static const char SQL_COMPUTED_SET[] = "UPDATE customers SET computed = $1 WHERE id = $2";
/* Taken before the recomputation, in a statement of its own: at READ
 * COMMITTED the next statement's snapshot then holds every order of a
 * transaction that held the lock before us. (Locking inside the UPDATE is
 * not enough: its sums would come from the snapshot taken before the wait,
 * and a concurrent order would be lost from the facts.) */
static const char SQL_CUST_LOCK[] = "SELECT 1 FROM customers WHERE id = $1 FOR UPDATE";

static bool json_has_name(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
    return false;
}

/* Logs entries into and exits from segments between two name lists. */
static enum promo_err log_moves(struct pgc *c, const char *id, const char *before_text, const char *after_text,
                                int64_t now)
{
    json_t *before = json_loads(before_text, 0, NULL), *after = json_loads(after_text, 0, NULL);
    enum promo_err rc = PROMO_OK;
    size_t i;
    json_t *v;
    json_array_foreach(after, i, v)
    {
        if (rc == PROMO_OK && !json_has_name(before, json_string_value(v))) {
            rc = pg_event_log(c, "segment_entered", now, NULL, NULL, id, NULL, json_string_value(v), NULL, NULL);
            if (rc == PROMO_OK)
                rc = pg_rules_on_segment(c, id, json_string_value(v), now);
        }
    }
    json_array_foreach(before, i, v)
    {
        if (rc == PROMO_OK && json_is_string(v) && !json_has_name(after, json_string_value(v)))
            rc = pg_event_log(c, "segment_left", now, NULL, NULL, id, NULL, json_string_value(v), NULL, NULL);
    }
    json_decref(before);
    json_decref(after);
    return rc;
}

/* The computed segments of facts `f` as a compact JSON array text (names
 * are [a-z0-9_-]: no escaping needed), in `a`. */
static const char *computed_text(struct arena *a, const struct seg_set *segs, const struct seg_facts *f, int64_t now)
{
    size_t cap = 3, len;
    for (size_t i = 0; i < segs->n; i++)
        cap += strlen(segs->name[i]) + 3;
    char *after = arena_alloc(a, cap);
    len = (size_t)snprintf(after, cap, "[");
    for (size_t i = 0; i < segs->n; i++)
        if (core_segment_match(&segs->rule[i], f, now))
            len += (size_t)snprintf(after + len, cap - len, "%s\"%s\"", len > 1 ? "," : "", segs->name[i]);
    snprintf(after + len, cap - len, "]");
    return after;
}

static enum promo_err segments_follow(struct pgc *c, const char *id, const struct seg_set *segs, PGresult *r,
                                      int col0, int64_t now);

/* Recomputes the customer's facts from their orders and their computed
 * segments from `segs` at `now`, logging each entry and exit. */
static enum promo_err customer_refresh(struct pgc *c, const char *id, const struct seg_set *segs, int64_t now)
{
    PGresult *r = pq(c, SQL_CUST_LOCK, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    PQclear(r);
    r = pq(c, SQL_FACTS_REFRESH, "si", id, segment_spent_since(now));
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return PROMO_NOT_FOUND;
    }
    enum promo_err rc = segments_follow(c, id, segs, r, 0, now);
    PQclear(r);
    return rc;
}

/* The computed segments after the facts of row 0 of r, from column col0:
 * order_count, total_spent, last_order_at, signup_at, attributes,
 * computed (before), spent_365d; each entry and exit logged. */
static enum promo_err segments_follow(struct pgc *c, const char *id, const struct seg_set *segs, PGresult *r,
                                      int col0, int64_t now)
{
    struct seg_facts f = {.order_count = pg_i64(r, 0, col0), .total_spent = pg_i64(r, 0, col0 + 1),
                          .last_order_at = pg_i64(r, 0, col0 + 2), .signup_at = pg_i64(r, 0, col0 + 3),
                          .spent_365d = pg_i64(r, 0, col0 + 6)};
    if (segs->uses_attributes)
        f.attributes = json_loads(PQgetvalue(r, 0, col0 + 4), 0, NULL);
    struct arena a = {0};
    const char *before = pg_text(r, 0, col0 + 5, &a);
    const char *after = computed_text(&a, segs, &f, now);
    json_decref(f.attributes);
    enum promo_err rc = PROMO_OK;
    if (!before || strcmp(before, after) != 0) {
        rc = log_moves(c, id, before ? before : "[]", after, now);
        if (rc == PROMO_OK)
            rc = pq_do(c, NULL, SQL_COMPUTED_SET, "ss", after, id);
    }
    arena_free(&a);
    return rc;
}

enum promo_err pg_customer_segments_follow(struct pgc *c, const char *id, const struct pg_segs *segs,
                                          PGresult *facts, int col0, int64_t now)
{
    return segments_follow(c, id, segs->set, facts, col0, now);
}

const char *pg_customer_computed(struct arena *a, const struct pg_segs *segs, struct seg_facts *f,
                                 const char *attributes, int64_t now)
{
    f->attributes = segs->set->uses_attributes && attributes ? json_loads(attributes, 0, NULL) : NULL;
    const char *after = computed_text(a, segs->set, f, now);
    json_decref(f->attributes);
    f->attributes = NULL;
    return after;
}

static enum promo_err refresh_one(struct pgc *c, const char *id, int64_t now)
{
    struct seg_set *segs = seg_set_load(c);
    if (!segs)
        return PROMO_INTERNAL;
    enum promo_err rc = customer_refresh(c, id, segs, now);
    seg_set_free(segs);
    return rc;
}

static const char SQL_CUST_IDS[] = "SELECT id FROM customers ORDER BY seq";
static const char SQL_CUST_PAGE[] = "SELECT id, seq FROM customers WHERE seq > $1 ORDER BY seq LIMIT $2";

enum promo_err pg_customers_refresh_page(struct pgc *c, int64_t after_seq, int limit, int64_t now, int64_t *last_seq,
                                         int *n)
{
    *n = 0;
    *last_seq = after_seq;
    struct seg_set *segs = seg_set_load(c);
    PGresult *r = segs ? pq(c, SQL_CUST_PAGE, "ii", after_seq, (int64_t)limit) : NULL;
    enum promo_err rc = r ? PROMO_OK : PROMO_INTERNAL;
    for (int i = 0; rc == PROMO_OK && i < PQntuples(r); i++) {
        rc = customer_refresh(c, PQgetvalue(r, i, 0), segs, now);
        if (rc == PROMO_NOT_FOUND)
            rc = PROMO_OK;
        *last_seq = pg_i64(r, i, 1);
        (*n)++;
    }
    if (r)
        PQclear(r);
    seg_set_free(segs);
    return rc;
}

/* Every customer again, after a segment changed. */
static enum promo_err customers_refresh_all(struct pgc *c, int64_t now)
{
    struct seg_set *segs = seg_set_load(c);
    PGresult *r = segs ? pq(c, SQL_CUST_IDS, "") : NULL;
    enum promo_err rc = r ? PROMO_OK : PROMO_INTERNAL;
    for (int i = 0; rc == PROMO_OK && i < PQntuples(r); i++) {
        rc = customer_refresh(c, PQgetvalue(r, i, 0), segs, now);
        if (rc == PROMO_NOT_FOUND)
            rc = PROMO_OK; /* cannot happen: customers are never deleted */
    }
    if (r)
        PQclear(r);
    seg_set_free(segs);
    return rc;
}

/* ---- orders from redemptions ----------------------------------------------- */

static const char SQL_CUST_ENSURE[] =
    "INSERT INTO customers (id, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (id) DO NOTHING";
static const char SQL_ORDER_ADD[] =
    "INSERT INTO customer_orders (customer_id, order_id, amount, at, source) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (customer_id, order_id) DO NOTHING";
static const char SQL_ORDER_DEL[] =
    "DELETE FROM customer_orders WHERE customer_id = $1 AND order_id = $2 AND source = 'redemption'";

/* Creates the customer row when the id is new, logging `customer_created`. */
static enum promo_err customer_ensure(struct pgc *c, const char *id, int64_t now)
{
    int64_t made = 0;
    enum promo_err rc = pq_do(c, &made, SQL_CUST_ENSURE, "si", id, now);
    if (rc == PROMO_OK && made > 0)
        rc = pg_event_log(c, "customer_created", now, NULL, NULL, id, NULL, id, NULL, NULL);
    return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
}

enum promo_err pg_customer_order_add(struct pgc *c, const char *customer_id, const char *order_id, int64_t amount,
                                     int64_t at, const char *source)
{
    if (!customer_id || !order_id)
        return PROMO_OK;
    enum promo_err rc = customer_ensure(c, customer_id, at);
    if (rc == PROMO_OK)
        rc = pq_do(c, NULL, SQL_ORDER_ADD, "ssiis", customer_id, order_id, amount, at, source);
    if (rc != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    return refresh_one(c, customer_id, at);
}

enum promo_err pg_customer_order_remove(struct pgc *c, const char *customer_id, const char *order_id, int64_t now)
{
    if (!customer_id || !order_id)
        return PROMO_OK;
    enum promo_err rc = pq_do(c, NULL, SQL_ORDER_DEL, "ss", customer_id, order_id);
    if (rc != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    rc = refresh_one(c, customer_id, now);
    return rc == PROMO_NOT_FOUND ? PROMO_OK : rc;
}

/* ---- facts for a decision -------------------------------------------------- */

static const char SQL_CUST_FACTS[] = "SELECT segments, computed, order_count FROM customers WHERE id = $1";

static void add_names(struct arena *a, const char *text, const char **v, size_t *n, size_t cap)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) && *n < cap) v[(*n)++] = arena_strdup(a, json_string_value(e));
    json_decref(arr);
}

enum promo_err pg_customer_facts_read(struct pgc *c, struct arena *a, const char *id, struct customer_facts *cf)
{
    memset(cf, 0, sizeof(*cf));
    if (!id)
        return PROMO_OK;
    PGresult *r = pq(c, SQL_CUST_FACTS, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r) > 0) {
        size_t cap = 2 * SEGMENTS_MAX;
        const char **v = arena_alloc(a, sizeof(char *) * cap);
        cf->known = true;
        add_names(a, pg_text(r, 0, 0, a), v, &cf->n_segments, cap);
        add_names(a, pg_text(r, 0, 1, a), v, &cf->n_segments, cap);
        cf->segments = v;
        cf->order_count = pg_i64(r, 0, 2);
    }
    PQclear(r);
    return PROMO_OK;
}

/* ---- customers: put, get, list -------------------------------------------- */

#define CUSTOMER_COLS                                                                                  \
    "id, name, email, phone, locale, segments, attributes, computed, signup_at, first_order_at,"      \
    " last_order_at, last_seen_at, order_count, total_spent, created_at, updated_at, seq,"            \
    " (SELECT coalesce(sum(amount), 0) FROM customer_orders o WHERE o.customer_id = customers.id AND o.at > $1)"

static const char SQL_CUST_GET[] = "SELECT " CUSTOMER_COLS " FROM customers WHERE id = $2";

static void row_to_customer(PGresult *r, int i, struct arena *a, struct customer *u)
{
    memset(u, 0, sizeof(*u));
    u->id = pg_text(r, i, 0, a);
    u->name = pg_text(r, i, 1, a);
    u->email = pg_text(r, i, 2, a);
    u->phone = pg_text(r, i, 3, a);
    u->locale = pg_text(r, i, 4, a);
    u->segments_json = pg_text(r, i, 5, a);
    u->attributes_json = pg_text(r, i, 6, a);
    u->computed_json = pg_text(r, i, 7, a);
    u->signup_at = pg_opt(r, i, 8, 0);
    u->first_order_at = pg_opt(r, i, 9, 0);
    u->last_order_at = pg_opt(r, i, 10, 0);
    u->last_seen_at = pg_opt(r, i, 11, 0);
    u->order_count = pg_i64(r, i, 12);
    u->total_spent = pg_i64(r, i, 13);
    u->created_at = pg_i64(r, i, 14);
    u->updated_at = pg_i64(r, i, 15);
    u->seq = pg_i64(r, i, 16);
    u->spent_365d = pg_i64(r, i, 17);
}

static enum promo_err customer_read(struct pgc *c, struct arena *a, const char *id, int64_t now,
                                    struct customer *out)
{
    PGresult *r = pq(c, SQL_CUST_GET, "is", segment_spent_since(now), id);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) > 0 ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_customer(r, 0, a, out);
    PQclear(r);
    return rc;
}

enum promo_err pg_customer_get(struct pg_store *st, struct arena *a, const char *id, int64_t now,
                               struct customer *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = customer_read(c, a, id, now, out);
    pgc_put(st, c);
    return rc;
}

/* A segment's members: set by hand or computed (names are quoted in the
 * JSON texts, so a quoted search cannot match a longer name). */
static const char SQL_CUST_LIST[] =
    "SELECT " CUSTOMER_COLS " FROM customers WHERE seq > $2 AND ($3::text IS NULL OR"
    " strpos(segments, '\"' || $3 || '\"') > 0 OR strpos(computed, '\"' || $3 || '\"') > 0) ORDER BY seq LIMIT $4";

enum promo_err pg_customer_list(struct pg_store *st, struct arena *a, const char *segment, int64_t after_seq,
                                int limit, int64_t now, struct customer **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_CUST_LIST, "iisi", segment_spent_since(now), after_seq, segment, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct customer) * (size_t)(limit + 1));
    int rows = PQntuples(r);
    for (int i = 0; i < rows && i < limit; i++)
        row_to_customer(r, i, a, &(*out)[(*n)++]);
    if (rows > limit)
        *next_seq = (*out)[*n - 1].seq;
    PQclear(r);
    return PROMO_OK;
}

struct put_args {
    struct arena *a;
    const struct customer *in;
    int64_t now;
    struct customer *out;
    bool *created;
};

/* xmax = 0 on the returned row: it was inserted, not updated. */
static const char SQL_CUST_UPSERT[] =
    "INSERT INTO customers (id, name, email, phone, locale, segments, attributes, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO UPDATE SET name = $2, email = $3,"
    " phone = $4, locale = $5, segments = $6, attributes = $7, updated_at = $8 RETURNING xmax = 0";

static enum promo_err tx_customer_put(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct put_args *p = arg;
    PGresult *r = pq(c, SQL_CUST_UPSERT, "sssssssi", p->in->id, p->in->name, p->in->email, p->in->phone,
                     p->in->locale, p->in->segments_json ? p->in->segments_json : "[]",
                     p->in->attributes_json ? p->in->attributes_json : "{}", p->now);
    if (!r)
        return PROMO_INTERNAL;
    *p->created = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    enum promo_err rc = pg_event_log(c, *p->created ? "customer_created" : "customer_updated", p->now, NULL, NULL,
                                     p->in->id, NULL, p->in->id, NULL, NULL);
    /* Attributes may be what a rule looks at. */
    if (rc == PROMO_OK)
        rc = refresh_one(c, p->in->id, p->now);
    if (rc == PROMO_OK)
        rc = customer_read(c, p->a, p->in->id, p->now, p->out);
    return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
}

enum promo_err pg_customer_put(struct pg_store *st, struct arena *a, const struct customer *in, int64_t now,
                               struct customer *out, bool *created)
{
    struct put_args p = {a, in, now, out, created};
    return pg_tx(st, tx_customer_put, &p);
}

/* ---- segments ---------------------------------------------------------------- */

#define SEG_COLS                                                                                        \
    "name, rule, description, created_at, updated_at, (SELECT count(*) FROM customers WHERE"            \
    " strpos(computed, '\"' || segments.name || '\"') > 0 OR strpos(customers.segments, '\"' || segments.name || '\"') > 0)"
static const char SQL_SEG_GET[] = "SELECT " SEG_COLS " FROM segments WHERE name = $1";
static const char SQL_SEG_LIST[] = "SELECT " SEG_COLS " FROM segments ORDER BY name COLLATE \"C\"";

static void row_to_segment(PGresult *r, int i, struct arena *a, struct segment_def *d)
{
    d->name = pg_text(r, i, 0, a);
    d->rule_json = pg_text(r, i, 1, a);
    d->description = pg_text(r, i, 2, a);
    d->created_at = pg_i64(r, i, 3);
    d->updated_at = pg_i64(r, i, 4);
    d->members = pg_i64(r, i, 5);
}

enum promo_err pg_segment_get(struct pg_store *st, struct arena *a, const char *name, struct segment_def *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_SEG_GET, "s", name);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) > 0 ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_segment(r, 0, a, out);
    PQclear(r);
    return rc;
}

enum promo_err pg_segment_list(struct pg_store *st, struct arena *a, struct segment_def **out, size_t *n)
{
    *n = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_SEG_LIST, "");
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct segment_def) * SEGMENTS_MAX);
    for (int i = 0; i < PQntuples(r) && *n < SEGMENTS_MAX; i++)
        row_to_segment(r, i, a, &(*out)[(*n)++]);
    PQclear(r);
    return PROMO_OK;
}

struct seg_args {
    const struct segment_def *d;
    const char *name;
    int64_t now;
    bool *created;
};

/* Segment changes take one transaction-scoped advisory lock, so two
 * servers saving segments at once count the 256 limit and re-evaluate the
 * customers one after the other. */
static const char SQL_SEG_LOCK[] = "SELECT pg_advisory_xact_lock(hashtext('promo:segments'))";
static const char SQL_SEG_COUNT[] =
    "SELECT count(*), count(*) FILTER (WHERE name = $1) FROM segments";
static const char SQL_SEG_UPSERT[] =
    "INSERT INTO segments (name, rule, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)"
    " ON CONFLICT (name) DO UPDATE SET rule = $2, description = $3, updated_at = $4";
static const char SQL_SEG_DELETE[] = "DELETE FROM segments WHERE name = $1";

static enum promo_err seg_lock(struct pgc *c)
{
    PGresult *r = pq(c, SQL_SEG_LOCK, "");
    if (!r)
        return PROMO_INTERNAL;
    PQclear(r);
    return PROMO_OK;
}

static enum promo_err tx_segment_put(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct seg_args *p = arg;
    enum promo_err rc = seg_lock(c);
    PGresult *r = rc == PROMO_OK ? pq(c, SQL_SEG_COUNT, "s", p->d->name) : NULL;
    if (!r)
        return PROMO_INTERNAL;
    int64_t have = pg_i64(r, 0, 0);
    *p->created = pg_i64(r, 0, 1) == 0;
    PQclear(r);
    if (*p->created && have >= SEGMENTS_MAX)
        return PROMO_CONFLICT;
    rc = pq_do(c, NULL, SQL_SEG_UPSERT, "sssi", p->d->name, p->d->rule_json, p->d->description, p->now);
    if (rc == PROMO_OK)
        rc = pg_event_log(c, "segment_saved", p->now, NULL, NULL, NULL, NULL, p->d->name, NULL, p->d->rule_json);
    if (rc == PROMO_OK)
        rc = customers_refresh_all(c, p->now);
    return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
}

enum promo_err pg_segment_put(struct pg_store *st, const struct segment_def *d, int64_t now, bool *created)
{
    struct seg_args p = {.d = d, .now = now, .created = created};
    enum promo_err rc = pg_tx(st, tx_segment_put, &p);
    pg_segcache_drop(st, -1); /* before the answer, whatever the listener hears when */
    return rc;
}

static enum promo_err tx_segment_delete(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct seg_args *p = arg;
    int64_t gone = 0;
    enum promo_err rc = seg_lock(c);
    if (rc == PROMO_OK)
        rc = pq_do(c, &gone, SQL_SEG_DELETE, "s", p->name);
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    if (gone == 0)
        return PROMO_NOT_FOUND;
    rc = pg_event_log(c, "segment_deleted", p->now, NULL, NULL, NULL, NULL, p->name, NULL, NULL);
    if (rc == PROMO_OK)
        rc = customers_refresh_all(c, p->now);
    return rc;
}

enum promo_err pg_segment_delete(struct pg_store *st, const char *name, int64_t now)
{
    struct seg_args p = {.name = name, .now = now};
    enum promo_err rc = pg_tx(st, tx_segment_delete, &p);
    pg_segcache_drop(st, -1);
    return rc;
}

/* ---- ingested events ------------------------------------------------------------ */

struct ingest_args {
    struct arena *a;
    const struct ingest_event *e;
    int64_t now;
    bool *replay;
    const char **answer;
};

/* The id's row is claimed by the INSERT: a concurrent ingest of the same id
 * waits for it and then finds the committed row (DO NOTHING, then read). */
static const char SQL_INGEST_PUT[] =
    "INSERT INTO ingested_events (id, request_hash, answer, created_at) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (id) DO NOTHING";
static const char SQL_INGEST_GET[] = "SELECT request_hash, answer FROM ingested_events WHERE id = $1";
static const char SQL_SEEN[] =
    "UPDATE customers SET last_seen_at = greatest(coalesce(last_seen_at, 0), $2),"
    " signup_at = CASE WHEN $3 <> 0 AND signup_at IS NULL THEN $2 ELSE signup_at END WHERE id = $1";

static enum promo_err ingest_replay(struct pgc *c, struct ingest_args *p)
{
    PGresult *r = pq(c, SQL_INGEST_GET, "s", p->e->id);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return PROMO_INTERNAL;
    }
    bool same = strcmp(PQgetvalue(r, 0, 0), p->e->request_hash) == 0;
    *p->answer = pg_text(r, 0, 1, p->a);
    PQclear(r);
    *p->replay = true;
    return same ? PROMO_OK : PROMO_CONFLICT;
}

static enum promo_err tx_event_ingest(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct ingest_args *p = arg;
    const struct ingest_event *e = p->e;
    *p->replay = false;
    *p->answer = e->answer_json;
    int64_t made = 0;
    enum promo_err rc = pq_do(c, &made, SQL_INGEST_PUT, "sssi", e->id, e->request_hash, e->answer_json, p->now);
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    if (made == 0)
        return ingest_replay(c, p);
    rc = pg_event_log(c, e->type, e->occurred_at, NULL, NULL, e->customer_id, e->order_id, e->id, NULL,
                      e->properties_json);
    if (rc == PROMO_OK)
        rc = customer_ensure(c, e->customer_id, p->now);
    if (rc == PROMO_OK)
        rc = pq_do(c, NULL, SQL_SEEN, "sii", e->customer_id, e->occurred_at,
                   (int64_t)(strcmp(e->type, "signup") == 0));
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    if (strcmp(e->type, "purchase") == 0 && e->order_id && e->amount >= 0)
        rc = pg_customer_order_add(c, e->customer_id, e->order_id, e->amount, e->occurred_at, "purchase");
    else
        rc = refresh_one(c, e->customer_id, p->now);
    /* After the facts and segments moved, so rule conditions see them. */
    if (rc == PROMO_OK)
        rc = pg_rules_on_event(c, e->type, e->customer_id, e->id, e->properties_json, e->occurred_at, p->now);
    return rc;
}

enum promo_err pg_event_ingest(struct pg_store *st, struct arena *a, const struct ingest_event *e, int64_t now,
                               bool *replay, const char **answer)
{
    *replay = false;
    *answer = e->answer_json;
    struct ingest_args p = {a, e, now, replay, answer};
    return pg_tx(st, tx_event_ingest, &p);
}
