/* sqlite_customers.c — customers, their facts and segments, and ingested
 * client events on SQLite. Facts are aggregates of customer_orders, kept in
 * the customers row and recomputed in the transaction of each change;
 * segment membership follows, with `segment_entered` / `segment_left`
 * events written in the same transaction. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/segment.h"
#include "store/sqlite_int.h"
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
    bool uses_spent_365d; /* some rule reads spent_365d */
};

static void seg_set_free(struct seg_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->json[i]);
    s->n = 0;
    arena_free(&s->a);
}

void seg_cache_free(struct conn *c)
{
    if (c->segs) {
        seg_set_free(c->segs);
        free(c->segs);
        c->segs = NULL;
    }
}

static const char SQL_SEG_RULES[] = "SELECT name, rule FROM segments ORDER BY name";

/* Reads every segment's rule; a stored rule that no longer parses (it was
 * checked when saved) is skipped with a log line rather than failing the
 * redemption that triggered the evaluation. */
static enum promo_err seg_set_load(struct conn *c, struct seg_set *out)
{
    struct arena *a = &out->a;
    out->n = 0;
    sqlite3_stmt *s = conn_stmt(c, SQL_SEG_RULES);
    if (!s)
        return PROMO_INTERNAL;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && out->n < SEGMENTS_MAX) {
        json_t *j = json_loads((const char *)sqlite3_column_text(s, 1), 0, NULL);
        char fb[96];
        const char *field, *why;
        if (!j || core_segment_parse(j, &out->rule[out->n], fb, sizeof fb, &field, &why) != PROMO_OK) {
            log_warn("store: segment %s has an unreadable rule", (const char *)sqlite3_column_text(s, 0));
            json_decref(j);
            continue;
        }
        for (size_t k = 0; k < out->rule[out->n].n; k++) {
            out->uses_attributes |= out->rule[out->n].c[k].fact == FACT_ATTRIBUTE;
            out->uses_spent_365d |= out->rule[out->n].c[k].fact == FACT_SPENT_365D;
        }
        out->name[out->n] = col_text(s, 0, a);
        out->json[out->n] = j;
        out->n++;
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        seg_set_free(out);
        return db_fail(c, "segments load");
    }
    return PROMO_OK;
}

/* ---- facts ----------------------------------------------------------------- */

/* One statement recomputes the facts from the customer's orders and hands
 * back what the rules look at (RETURNING: the changes are made by the
 * first step). */
static const char SQL_FACTS_REFRESH[] =
    "UPDATE customers SET (order_count, total_spent, first_order_at, last_order_at) ="
    " (SELECT count(*), coalesce(sum(amount), 0), min(at), max(at) FROM customer_orders WHERE customer_id = ?1)"
    " WHERE id = ?1 RETURNING order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0),"
    " attributes, computed,"
    " (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = ?1 AND at > ?2)";
/* What the segment rules look at, without recomputing: after an order was
 * added incrementally (SQL_FACTS_ADD). The 365-day sum is only computed
 * when a rule reads it (?3). Same columns as SQL_FACTS_REFRESH returns. */
static const char SQL_FACTS_READ[] =
    "SELECT order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0), attributes, computed,"
    " CASE WHEN ?3 THEN (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = ?1 AND at > ?2)"
    " ELSE 0 END FROM customers WHERE id = ?1";
/* One new order moves the facts by itself: no pass over the customer's
 * orders, which grow with every purchase. */
static const char SQL_FACTS_ADD[] =
    "UPDATE customers SET order_count = order_count + 1, total_spent = total_spent + ?2,"
    " first_order_at = min(coalesce(first_order_at, ?3), ?3), last_order_at = max(coalesce(last_order_at, ?3), ?3)"
    " WHERE id = ?1";
static const char SQL_COMPUTED_SET[] = "UPDATE customers SET computed = ? WHERE id = ?";

static bool json_has_name(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
    return false;
}

/* Logs entries into and exits from segments between two name lists. */
static enum promo_err log_moves(struct conn *c, const char *id, const char *before_text, const char *after_text,
                                int64_t now)
{
    json_t *before = json_loads(before_text, 0, NULL), *after = json_loads(after_text, 0, NULL);
    enum promo_err rc = PROMO_OK;
    size_t i;
    json_t *v;
    json_array_foreach(after, i, v)
    {
        if (rc == PROMO_OK && !json_has_name(before, json_string_value(v))) {
            rc = event_log(c, "segment_entered", now, NULL, NULL, id, NULL, json_string_value(v), NULL, NULL);
            if (rc == PROMO_OK)
                rc = rules_on_segment(c, id, json_string_value(v), now);
        }
    }
    json_array_foreach(before, i, v)
    {
        if (rc == PROMO_OK && json_is_string(v) && !json_has_name(after, json_string_value(v)))
            rc = event_log(c, "segment_left", now, NULL, NULL, id, NULL, json_string_value(v), NULL, NULL);
    }
    json_decref(before);
    json_decref(after);
    return rc;
}

/* Recomputes the customer's facts from their orders (when `recompute`;
 * else reads them as they are) and their computed segments from `segs` at
 * `now`, logging each entry and exit. The common case (membership
 * unchanged) parses nothing but the attributes, and those only when a rule
 * reads them: this runs inside every redemption. */
static enum promo_err customer_evaluate(struct conn *c, const char *id, const struct seg_set *segs, int64_t now,
                                        bool recompute)
{
    sqlite3_stmt *s = conn_stmt(c, recompute ? SQL_FACTS_REFRESH : SQL_FACTS_READ);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    bind_i64(s, 2, segment_spent_since(now));
    if (!recompute)
        bind_i64(s, 3, segs->uses_spent_365d);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        sqlite3_reset(s);
        return r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "customer facts");
    }
    struct seg_facts f = {.order_count = sqlite3_column_int64(s, 0), .total_spent = sqlite3_column_int64(s, 1),
                          .last_order_at = sqlite3_column_int64(s, 2), .signup_at = sqlite3_column_int64(s, 3),
                          .spent_365d = sqlite3_column_int64(s, 6)};
    if (segs->uses_attributes)
        f.attributes = json_loads((const char *)sqlite3_column_text(s, 4), 0, NULL);
    struct arena a = {0};
    const char *before = col_text(s, 5, &a);
    sqlite3_reset(s);
    /* Names are [a-z0-9_-]: the array is written without escaping, in the
     * same compact form json_dumps gives, so equal texts mean no change. */
    size_t cap = 3, len;
    for (size_t i = 0; i < segs->n; i++)
        cap += strlen(segs->name[i]) + 3;
    char *after = arena_alloc(&a, cap);
    len = (size_t)snprintf(after, cap, "[");
    for (size_t i = 0; i < segs->n; i++) /* segs is sorted by name: so is `after` */
        if (core_segment_match(&segs->rule[i], &f, now))
            len += (size_t)snprintf(after + len, cap - len, "%s\"%s\"", len > 1 ? "," : "", segs->name[i]);
    snprintf(after + len, cap - len, "]");
    json_decref(f.attributes);
    enum promo_err rc = PROMO_OK;
    if (!before || strcmp(before, after) != 0) {
        rc = log_moves(c, id, before ? before : "[]", after, now);
        if (rc == PROMO_OK && (s = conn_stmt(c, SQL_COMPUTED_SET)) != NULL) {
            bind_text(s, 1, after);
            bind_text(s, 2, id);
            rc = step_done(c, s);
        } else if (rc == PROMO_OK) {
            rc = PROMO_INTERNAL;
        }
    }
    arena_free(&a);
    return rc;
}

static enum promo_err customer_refresh(struct conn *c, const char *id, const struct seg_set *segs, int64_t now)
{
    return customer_evaluate(c, id, segs, now, true);
}

/* The writer's parsed rules, loaded on first use and dropped whenever a
 * segment is saved or deleted: a redemption re-evaluates its customer
 * without reading and parsing every rule again. */
static enum promo_err segs_cached(struct conn *c, const struct seg_set **out)
{
    if (!c->segs) {
        struct seg_set *s = calloc(1, sizeof(*s));
        if (!s)
            return PROMO_INTERNAL;
        enum promo_err rc = seg_set_load(c, s);
        if (rc != PROMO_OK) {
            free(s);
            return rc;
        }
        c->segs = s;
    }
    *out = c->segs;
    return PROMO_OK;
}

static enum promo_err refresh_one(struct conn *c, const char *id, int64_t now)
{
    const struct seg_set *segs;
    enum promo_err rc = segs_cached(c, &segs);
    return rc == PROMO_OK ? customer_refresh(c, id, segs, now) : rc;
}

static const char SQL_CUST_PAGE[] = "SELECT id, seq FROM customers WHERE seq > ? ORDER BY seq LIMIT ?";

enum promo_err customers_refresh_page(struct conn *c, int64_t after_seq, int limit, int64_t now, int64_t *last_seq,
                                      int *n)
{
    struct arena a = {0};
    const struct seg_set *segs;
    *n = 0;
    *last_seq = after_seq;
    enum promo_err rc = segs_cached(c, &segs);
    /* The ids first: refreshing updates rows the listing statement reads. */
    const char **ids = NULL;
    sqlite3_stmt *s = rc == PROMO_OK ? conn_stmt(c, SQL_CUST_PAGE) : NULL;
    if (s) {
        ids = arena_alloc(&a, sizeof(char *) * (size_t)limit);
        bind_i64(s, 1, after_seq);
        bind_i64(s, 2, limit);
        while (sqlite3_step(s) == SQLITE_ROW) {
            ids[(*n)++] = col_text(s, 0, &a);
            *last_seq = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
    } else if (rc == PROMO_OK) {
        rc = PROMO_INTERNAL;
    }
    for (int i = 0; rc == PROMO_OK && i < *n; i++)
        rc = customer_refresh(c, ids[i], segs, now);
    arena_free(&a);
    return rc;
}

enum promo_err customers_refresh_all(struct conn *c, int64_t now)
{
    int64_t after = 0;
    int n = 0;
    enum promo_err rc;
    do
        rc = customers_refresh_page(c, after, 1000, now, &after, &n);
    while (rc == PROMO_OK && n == 1000);
    return rc;
}

/* ---- orders from redemptions ----------------------------------------------- */

static const char SQL_CUST_ENSURE[] =
    "INSERT INTO customers (id, created_at, updated_at) VALUES (?1, ?2, ?2) ON CONFLICT (id) DO NOTHING";
static const char SQL_ORDER_ADD[] =
    "INSERT INTO customer_orders (customer_id, order_id, amount, at, source) VALUES (?,?,?,?,?)"
    " ON CONFLICT (customer_id, order_id) DO NOTHING";
static const char SQL_ORDER_DEL[] =
    "DELETE FROM customer_orders WHERE customer_id = ? AND order_id = ? AND source = 'redemption'";

/* Creates the customer row when the id is new, logging `customer_created`. */
static enum promo_err customer_ensure(struct conn *c, const char *id, int64_t now)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_ENSURE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    bind_i64(s, 2, now);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK && sqlite3_changes(c->db) > 0)
        rc = event_log(c, "customer_created", now, NULL, NULL, id, NULL, id, NULL, NULL);
    return rc;
}

enum promo_err customer_order_add(struct conn *c, const char *customer_id, const char *order_id, int64_t amount,
                                  int64_t at, const char *source)
{
    if (!customer_id || !order_id)
        return PROMO_OK;
    enum promo_err rc = customer_ensure(c, customer_id, at);
    sqlite3_stmt *s = rc == PROMO_OK ? conn_stmt(c, SQL_ORDER_ADD) : NULL;
    if (!s)
        return rc == PROMO_OK ? PROMO_INTERNAL : rc;
    bind_text(s, 1, customer_id);
    bind_text(s, 2, order_id);
    bind_i64(s, 3, amount);
    bind_i64(s, 4, at);
    bind_text(s, 5, source);
    if ((rc = step_done(c, s)) != PROMO_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return PROMO_OK; /* an order already counted: the facts stand */
    if (!(s = conn_stmt(c, SQL_FACTS_ADD)))
        return PROMO_INTERNAL;
    bind_text(s, 1, customer_id);
    bind_i64(s, 2, amount);
    bind_i64(s, 3, at);
    if ((rc = step_done(c, s)) != PROMO_OK)
        return rc;
    const struct seg_set *segs;
    if ((rc = segs_cached(c, &segs)) != PROMO_OK)
        return rc;
    /* No segment to be in: nothing to evaluate (deleting the last segment
     * re-evaluated everyone already). */
    return segs->n ? customer_evaluate(c, customer_id, segs, at, false) : PROMO_OK;
}

enum promo_err customer_order_remove(struct conn *c, const char *customer_id, const char *order_id, int64_t now)
{
    if (!customer_id || !order_id)
        return PROMO_OK;
    sqlite3_stmt *s = conn_stmt(c, SQL_ORDER_DEL);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, customer_id);
    bind_text(s, 2, order_id);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    rc = refresh_one(c, customer_id, now);
    return rc == PROMO_NOT_FOUND ? PROMO_OK : rc;
}

/* ---- facts for a decision -------------------------------------------------- */

static const char SQL_CUST_FACTS[] = "SELECT segments, computed, order_count FROM customers WHERE id = ?";

static void add_names(struct arena *a, const char *text, const char **v, size_t *n, size_t cap)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) && *n < cap) v[(*n)++] = arena_strdup(a, json_string_value(e));
    json_decref(arr);
}

enum promo_err customer_facts_read(struct conn *c, struct arena *a, const char *id, struct customer_facts *cf)
{
    memset(cf, 0, sizeof(*cf));
    if (!id)
        return PROMO_OK;
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_FACTS);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        size_t cap = 2 * SEGMENTS_MAX;
        const char **v = arena_alloc(a, sizeof(char *) * cap);
        cf->known = true;
        add_names(a, (const char *)sqlite3_column_text(s, 0), v, &cf->n_segments, cap);
        add_names(a, (const char *)sqlite3_column_text(s, 1), v, &cf->n_segments, cap);
        cf->segments = v;
        cf->order_count = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "customer facts");
}

/* ---- customers: put, get, list -------------------------------------------- */

#define CUSTOMER_COLS                                                                                  \
    "id, name, email, phone, locale, segments, attributes, computed, signup_at, first_order_at,"      \
    " last_order_at, last_seen_at, order_count, total_spent, created_at, updated_at, seq"

static const char SQL_CUST_GET[] = "SELECT " CUSTOMER_COLS " FROM customers WHERE id = ?";
static const char SQL_SPENT_365[] =
    "SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = ? AND at > ?";

static void row_to_customer(sqlite3_stmt *s, struct arena *a, struct customer *u)
{
    memset(u, 0, sizeof(*u));
    u->id = col_text(s, 0, a);
    u->name = col_text(s, 1, a);
    u->email = col_text(s, 2, a);
    u->phone = col_text(s, 3, a);
    u->locale = col_text(s, 4, a);
    u->segments_json = col_text(s, 5, a);
    u->attributes_json = col_text(s, 6, a);
    u->computed_json = col_text(s, 7, a);
    u->signup_at = col_opt(s, 8, 0);
    u->first_order_at = col_opt(s, 9, 0);
    u->last_order_at = col_opt(s, 10, 0);
    u->last_seen_at = col_opt(s, 11, 0);
    u->order_count = sqlite3_column_int64(s, 12);
    u->total_spent = sqlite3_column_int64(s, 13);
    u->created_at = sqlite3_column_int64(s, 14);
    u->updated_at = sqlite3_column_int64(s, 15);
    u->seq = sqlite3_column_int64(s, 16);
}

static enum promo_err spent_365d(struct conn *c, struct customer *u, int64_t now)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_SPENT_365);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, u->id);
    bind_i64(s, 2, segment_spent_since(now));
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        u->spent_365d = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return r == SQLITE_ROW ? PROMO_OK : db_fail(c, "spent_365d");
}

static enum promo_err customer_read(struct conn *c, struct arena *a, const char *id, int64_t now,
                                    struct customer *out)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        row_to_customer(s, a, out);
    sqlite3_reset(s);
    if (r != SQLITE_ROW)
        return r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "customer get");
    return spent_365d(c, out, now);
}

enum promo_err sqlite_customer_get(struct sqlite_store *st, struct arena *a, const char *id, int64_t now,
                                  struct customer *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = customer_read(c, a, id, now, out);
    reader_put(st, c);
    return rc;
}

static const char SQL_CUST_LIST[] =
    "SELECT " CUSTOMER_COLS " FROM customers WHERE seq > ?1 AND (?2 IS NULL OR"
    " instr(segments, '\"' || ?2 || '\"') > 0 OR instr(computed, '\"' || ?2 || '\"') > 0) ORDER BY seq LIMIT ?3";

enum promo_err sqlite_customer_list(struct sqlite_store *st, struct arena *a, const char *segment, int64_t after_seq,
                                   int limit, int64_t now, struct customer **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_LIST);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_i64(s, 1, after_seq);
    bind_text(s, 2, segment);
    bind_i64(s, 3, limit + 1);
    *out = arena_alloc(a, sizeof(struct customer) * (size_t)(limit + 1));
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        row_to_customer(s, a, &(*out)[(*n)++]);
    }
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "customer list");
    sqlite3_reset(s);
    for (size_t i = 0; rc == PROMO_OK && i < *n; i++)
        rc = spent_365d(c, &(*out)[i], now);
    reader_put(st, c);
    return rc;
}

struct put_args {
    struct arena *a;
    const struct customer *in;
    int64_t now;
    struct customer *out;
    bool *created;
};

static const char SQL_CUST_UPSERT[] =
    "INSERT INTO customers (id, name, email, phone, locale, segments, attributes, created_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (id) DO UPDATE SET name = ?2, email = ?3,"
    " phone = ?4, locale = ?5, segments = ?6, attributes = ?7, updated_at = ?8";
static const char SQL_CUST_EXISTS[] = "SELECT 1 FROM customers WHERE id = ?";

static enum promo_err op_customer_put(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct put_args *p = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_CUST_EXISTS);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p->in->id);
    *p->created = sqlite3_step(s) != SQLITE_ROW;
    sqlite3_reset(s);
    if (!(s = conn_stmt(c, SQL_CUST_UPSERT)))
        return PROMO_INTERNAL;
    bind_text(s, 1, p->in->id);
    bind_text(s, 2, p->in->name);
    bind_text(s, 3, p->in->email);
    bind_text(s, 4, p->in->phone);
    bind_text(s, 5, p->in->locale);
    bind_text(s, 6, p->in->segments_json ? p->in->segments_json : "[]");
    bind_text(s, 7, p->in->attributes_json ? p->in->attributes_json : "{}");
    bind_i64(s, 8, p->now);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, *p->created ? "customer_created" : "customer_updated", p->now, NULL, NULL, p->in->id,
                       NULL, p->in->id, NULL, NULL);
    /* Attributes may be what a rule looks at. */
    if (rc == PROMO_OK)
        rc = refresh_one(c, p->in->id, p->now);
    if (rc == PROMO_OK)
        rc = customer_read(c, p->a, p->in->id, p->now, p->out);
    return rc == PROMO_NOT_FOUND ? PROMO_INTERNAL : rc;
}

enum promo_err sqlite_customer_put(struct sqlite_store *st, struct arena *a, const struct customer *in, int64_t now,
                                  struct customer *out, bool *created)
{
    struct put_args p = {a, in, now, out, created};
    return writer_run(st, op_customer_put, &p);
}

/* ---- segments ---------------------------------------------------------------- */

static const char SQL_SEG_GET[] =
    "SELECT name, rule, description, created_at, updated_at, (SELECT count(*) FROM customers WHERE"
    " instr(computed, '\"' || segments.name || '\"') > 0 OR instr(customers.segments, '\"' || segments.name || '\"') > 0)"
    " FROM segments WHERE name = ?";
static const char SQL_SEG_LIST[] =
    "SELECT name, rule, description, created_at, updated_at, (SELECT count(*) FROM customers WHERE"
    " instr(computed, '\"' || segments.name || '\"') > 0 OR instr(customers.segments, '\"' || segments.name || '\"') > 0)"
    " FROM segments ORDER BY name";

static void row_to_segment(sqlite3_stmt *s, struct arena *a, struct segment_def *d)
{
    d->name = col_text(s, 0, a);
    d->rule_json = col_text(s, 1, a);
    d->description = col_text(s, 2, a);
    d->created_at = sqlite3_column_int64(s, 3);
    d->updated_at = sqlite3_column_int64(s, 4);
    d->members = sqlite3_column_int64(s, 5);
}

enum promo_err sqlite_segment_get(struct sqlite_store *st, struct arena *a, const char *name, struct segment_def *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_SEG_GET);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        bind_text(s, 1, name);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            row_to_segment(s, a, out);
        rc = r == SQLITE_ROW ? PROMO_OK : r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "segment get");
        sqlite3_reset(s);
    }
    reader_put(st, c);
    return rc;
}

enum promo_err sqlite_segment_list(struct sqlite_store *st, struct arena *a, struct segment_def **out, size_t *n)
{
    *n = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_SEG_LIST);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    *out = arena_alloc(a, sizeof(struct segment_def) * SEGMENTS_MAX);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < SEGMENTS_MAX)
        row_to_segment(s, a, &(*out)[(*n)++]);
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "segment list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

struct seg_args {
    const struct segment_def *d;
    const char *name;
    int64_t now;
    bool *created;
};

static const char SQL_SEG_EXISTS[] = "SELECT 1 FROM segments WHERE name = ?";
static const char SQL_SEG_COUNT[] = "SELECT count(*) FROM segments";
static const char SQL_SEG_UPSERT[] =
    "INSERT INTO segments (name, rule, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)"
    " ON CONFLICT (name) DO UPDATE SET rule = ?2, description = ?3, updated_at = ?4";
static const char SQL_SEG_DELETE[] = "DELETE FROM segments WHERE name = ?";

static enum promo_err op_segment_put(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct seg_args *p = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_SEG_EXISTS);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p->d->name);
    *p->created = sqlite3_step(s) != SQLITE_ROW;
    sqlite3_reset(s);
    if (*p->created) {
        if (!(s = conn_stmt(c, SQL_SEG_COUNT)))
            return PROMO_INTERNAL;
        int64_t have = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (have >= SEGMENTS_MAX)
            return PROMO_CONFLICT;
    }
    if (!(s = conn_stmt(c, SQL_SEG_UPSERT)))
        return PROMO_INTERNAL;
    bind_text(s, 1, p->d->name);
    bind_text(s, 2, p->d->rule_json);
    bind_text(s, 3, p->d->description);
    bind_i64(s, 4, p->now);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, "segment_saved", p->now, NULL, NULL, NULL, NULL, p->d->name, NULL, p->d->rule_json);
    seg_cache_free(c);
    if (rc == PROMO_OK)
        rc = customers_refresh_all(c, p->now);
    if (rc != PROMO_OK)
        seg_cache_free(c); /* the savepoint is undone: so is what the cache read */
    return rc;
}

enum promo_err sqlite_segment_put(struct sqlite_store *st, const struct segment_def *d, int64_t now, bool *created)
{
    struct seg_args p = {.d = d, .now = now, .created = created};
    return writer_run(st, op_segment_put, &p);
}

static enum promo_err op_segment_delete(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct seg_args *p = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_SEG_DELETE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, p->name);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return PROMO_NOT_FOUND;
    rc = event_log(c, "segment_deleted", p->now, NULL, NULL, NULL, NULL, p->name, NULL, NULL);
    seg_cache_free(c);
    if (rc == PROMO_OK)
        rc = customers_refresh_all(c, p->now);
    if (rc != PROMO_OK)
        seg_cache_free(c); /* the savepoint is undone: so is what the cache read */
    return rc;
}

enum promo_err sqlite_segment_delete(struct sqlite_store *st, const char *name, int64_t now)
{
    struct seg_args p = {.name = name, .now = now};
    return writer_run(st, op_segment_delete, &p);
}

/* ---- ingested events ------------------------------------------------------------ */

struct ingest_args {
    struct arena *a;
    const struct ingest_event *e;
    int64_t now;
    bool *replay;
    const char **answer;
};

static const char SQL_INGEST_GET[] = "SELECT request_hash, answer FROM ingested_events WHERE id = ?";
static const char SQL_INGEST_PUT[] =
    "INSERT INTO ingested_events (id, request_hash, answer, created_at) VALUES (?,?,?,?)";
static const char SQL_SEEN[] =
    "UPDATE customers SET last_seen_at = max(coalesce(last_seen_at, 0), ?2),"
    " signup_at = CASE WHEN ?3 AND signup_at IS NULL THEN ?2 ELSE signup_at END WHERE id = ?1";

static enum promo_err op_event_ingest(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct ingest_args *p = arg;
    const struct ingest_event *e = p->e;
    sqlite3_stmt *s = conn_stmt(c, SQL_INGEST_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, e->id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        bool same = strcmp((const char *)sqlite3_column_text(s, 0), e->request_hash) == 0;
        *p->answer = col_text(s, 1, p->a);
        sqlite3_reset(s);
        *p->replay = true;
        return same ? PROMO_OK : PROMO_CONFLICT;
    }
    sqlite3_reset(s);
    if (!(s = conn_stmt(c, SQL_INGEST_PUT)))
        return PROMO_INTERNAL;
    bind_text(s, 1, e->id);
    bind_text(s, 2, e->request_hash);
    bind_text(s, 3, e->answer_json);
    bind_i64(s, 4, p->now);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, e->type, e->occurred_at, NULL, NULL, e->customer_id, e->order_id, e->id, NULL,
                       e->properties_json);
    if (rc == PROMO_OK)
        rc = customer_ensure(c, e->customer_id, p->now);
    if (rc == PROMO_OK && (s = conn_stmt(c, SQL_SEEN)) != NULL) {
        bind_text(s, 1, e->customer_id);
        bind_i64(s, 2, e->occurred_at);
        bind_i64(s, 3, strcmp(e->type, "signup") == 0);
        rc = step_done(c, s);
    } else if (rc == PROMO_OK) {
        rc = PROMO_INTERNAL;
    }
    if (rc != PROMO_OK)
        return rc;
    if (strcmp(e->type, "purchase") == 0 && e->order_id && e->amount >= 0)
        rc = customer_order_add(c, e->customer_id, e->order_id, e->amount, e->occurred_at, "purchase");
    else
        rc = refresh_one(c, e->customer_id, p->now);
    /* After the facts and segments moved, so rule conditions see them. */
    if (rc == PROMO_OK)
        rc = rules_on_event(c, e->type, e->customer_id, e->id, e->properties_json, e->occurred_at, p->now);
    return rc;
}

enum promo_err sqlite_event_ingest(struct sqlite_store *st, struct arena *a, const struct ingest_event *e, int64_t now,
                                  bool *replay, const char **answer)
{
    *replay = false;
    *answer = e->answer_json;
    struct ingest_args p = {a, e, now, replay, answer};
    return writer_run(st, op_event_ingest, &p);
}
