/* pg_tasks.c — the scheduler's persistent tasks on PostgreSQL (the SQLite
 * version: sqlite_tasks.c). A task is claimed with SELECT … FOR UPDATE
 * SKIP LOCKED, its effect applied and the task marked done in one
 * transaction, so with several servers on one database a task runs once:
 * a second server skips a row another one holds, and finds it done after
 * that commit. A task whose transaction did not commit is still pending
 * and runs later (catch-up). The effects of rules and reminders
 * (rule_step, expiry_reminder) are in pg_rules.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "util/log.h"
#include "util/rand.h"

#define HOUR 3600
#define TASK_ATTEMPTS_MAX 5

/* An effect: runs inside the transaction that completes the task. Returns
 * PROMO_OK with *skipped set when the task no longer applies, or an error
 * that leaves the task pending. */
typedef enum promo_err (*task_effect)(struct pgc *c, struct arena *a, const struct task *t, int64_t now,
                                      bool *skipped);

/* ---- scheduling ----------------------------------------------------------- */

static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks (id, kind, due_at, key, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (key) DO NOTHING";

static enum promo_err task_insert(struct pgc *c, const char *kind, const char *key, int64_t due_at,
                                  const char *payload, int64_t now)
{
    char id[PROMO_ID_MAX];
    util_rand_id("tsk_", id, sizeof id);
    enum promo_err rc = pq_do(c, NULL, SQL_TASK_INSERT, "ssissi", id, kind, due_at, key, payload ? payload : "{}",
                              now);
    return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
}

/* The key names the campaign and the time, so moving a campaign's start
 * schedules a new task and the old one finds, when due, that it no longer
 * applies. */
enum promo_err pg_tasks_schedule_campaign(struct pgc *c, const struct campaign *cp, int64_t now)
{
    char key[128], payload[128];
    enum promo_err rc = PROMO_OK;
    if (cp->starts_at != PROMO_TIME_MIN && cp->starts_at > now) {
        snprintf(key, sizeof key, "campaign_start:%s:%lld", cp->id, (long long)cp->starts_at);
        snprintf(payload, sizeof payload, "{\"campaign_id\":\"%s\",\"at\":%lld}", cp->id, (long long)cp->starts_at);
        rc = task_insert(c, "campaign_start", key, cp->starts_at, payload, now);
    }
    /* ends_at is inclusive: the campaign has ended one second after it. */
    if (rc == PROMO_OK && cp->ends_at != PROMO_TIME_MAX && cp->ends_at >= now) {
        snprintf(key, sizeof key, "campaign_end:%s:%lld", cp->id, (long long)cp->ends_at);
        snprintf(payload, sizeof payload, "{\"campaign_id\":\"%s\",\"at\":%lld}", cp->id, (long long)cp->ends_at);
        rc = task_insert(c, "campaign_end", key, cp->ends_at + 1, payload, now);
    }
    return rc;
}

/* The next periodic segment refresh: the top of the hour after `now`. */
static enum promo_err schedule_refresh(struct pgc *c, int64_t now)
{
    int64_t due = (now / HOUR + 1) * HOUR;
    char key[64];
    snprintf(key, sizeof key, "segments_refresh:%lld", (long long)due);
    return task_insert(c, "segments_refresh", key, due, NULL, now);
}

/* The next expiry sweep, at `due`, continuing after (after_at, after_seq). */
static enum promo_err schedule_expire(struct pgc *c, int64_t due, int64_t after_at, int64_t after_seq, int64_t now)
{
    char key[96], payload[96];
    snprintf(key, sizeof key, "codes_expire:%lld:%lld:%lld", (long long)due, (long long)after_at,
             (long long)after_seq);
    snprintf(payload, sizeof payload, "{\"after_at\":%lld,\"after_seq\":%lld}", (long long)after_at,
             (long long)after_seq);
    return task_insert(c, "codes_expire", key, due, payload, now);
}

/* Servers starting together must not each begin a chain: the check and the
 * insert run under one transaction-scoped advisory lock per kind. */
static const char SQL_PERIODIC_LOCK[] = "SELECT pg_advisory_xact_lock(hashtext('promo:periodic:' || $1))";
static const char SQL_PENDING_KIND[] = "SELECT 1 FROM tasks WHERE kind = $1 AND state = 'pending' LIMIT 1";

/* Starts a periodic chain when none is pending (the first start, or a
 * chain that failed for good); each run schedules its successor. */
static enum promo_err ensure_periodic(struct pgc *c, const char *kind, int64_t now)
{
    PGresult *r = pq(c, SQL_PERIODIC_LOCK, "s", kind);
    if (!r)
        return PROMO_INTERNAL;
    PQclear(r);
    if (!(r = pq(c, SQL_PENDING_KIND, "s", kind)))
        return PROMO_INTERNAL;
    bool pending = PQntuples(r) > 0;
    PQclear(r);
    if (pending)
        return PROMO_OK;
    /* Expiries before the first sweep are history: not reported. */
    return strcmp(kind, "codes_expire") == 0 ? schedule_expire(c, now, now, 0, now) : schedule_refresh(c, now);
}

/* ---- effects ---------------------------------------------------------------- */

/* campaign_start / campaign_end: logs the transition when the campaign
 * still has that time and was not ended by hand. */
static enum promo_err campaign_transition(struct pgc *c, struct arena *a, const struct task *t, int64_t now,
                                          bool *skipped, bool start)
{
    json_t *p = json_loads(t->payload, 0, NULL);
    const char *id = json_string_value(json_object_get(p, "campaign_id"));
    int64_t at = json_integer_value(json_object_get(p, "at"));
    struct campaign cp;
    enum promo_err rc = id ? pg_campaign_read(c, a, id, false, &cp, NULL) : PROMO_NOT_FOUND;
    char *cid = id ? strdup(id) : NULL;
    json_decref(p);
    if (rc == PROMO_NOT_FOUND) {
        *skipped = true;
        free(cid);
        return PROMO_OK;
    }
    if (rc == PROMO_OK) {
        *skipped = (start ? cp.starts_at : cp.ends_at) != at || cp.state == CAMPAIGN_ENDED ||
                   (start && cp.state == CAMPAIGN_DRAFT);
        if (!*skipped)
            rc = pg_event_log(c, start ? "campaign_started" : "campaign_ended", now, cid, NULL, NULL, NULL, t->id,
                              NULL, NULL);
    }
    free(cid);
    return rc;
}

static enum promo_err effect_campaign_start(struct pgc *c, struct arena *a, const struct task *t, int64_t now,
                                            bool *skipped)
{
    return campaign_transition(c, a, t, now, skipped, true);
}

static enum promo_err effect_campaign_end(struct pgc *c, struct arena *a, const struct task *t, int64_t now,
                                          bool *skipped)
{
    return campaign_transition(c, a, t, now, skipped, false);
}

#define REFRESH_CHUNK 2000 /* customers per refresh transaction */

/* Time-based segments (dormant, spent_365d) change with no event: every
 * customer is re-evaluated once an hour, REFRESH_CHUNK customers per
 * transaction; a full chunk schedules the next one at once, the last chunk
 * the next hour's run. */
static enum promo_err effect_segments_refresh(struct pgc *c, struct arena *a, const struct task *t, int64_t now,
                                              bool *skipped)
{
    (void)a;
    *skipped = false;
    json_t *p = json_loads(t->payload, 0, NULL);
    int64_t after = json_integer_value(json_object_get(p, "after_seq")), last = 0;
    json_decref(p);
    int n = 0;
    enum promo_err rc = pg_customers_refresh_page(c, after, REFRESH_CHUNK, now, &last, &n);
    if (rc != PROMO_OK)
        return rc;
    if (n < REFRESH_CHUNK)
        return schedule_refresh(c, now);
    char key[96], payload[64];
    snprintf(key, sizeof key, "segments_refresh:%lld:after:%lld", (long long)now, (long long)last);
    snprintf(payload, sizeof payload, "{\"after_seq\":%lld}", (long long)last);
    return task_insert(c, "segments_refresh", key, now, payload, now);
}

#define EXPIRE_EVERY 300  /* seconds between expiry sweeps */
#define EXPIRE_BATCH 5000 /* codes per sweep transaction */

static const char SQL_CODES_EXPIRED[] =
    "SELECT code_key, campaign_id, customer_id, expires_at, seq FROM codes"
    " WHERE expires_at IS NOT NULL AND (expires_at > $1 OR (expires_at = $1 AND seq > $2)) AND expires_at < $3"
    " AND disabled = 0 AND (max_uses IS NULL OR uses < max_uses) ORDER BY expires_at, seq LIMIT $4";

/* codes_expire: logs `code_expired` for each usable code whose expiry
 * passed since the last sweep. A full batch schedules the next at once. */
static enum promo_err effect_codes_expire(struct pgc *c, struct arena *a, const struct task *t, int64_t now,
                                          bool *skipped)
{
    (void)a;
    *skipped = false;
    json_t *p = json_loads(t->payload, 0, NULL);
    int64_t after_at = json_integer_value(json_object_get(p, "after_at"));
    int64_t after_seq = json_integer_value(json_object_get(p, "after_seq"));
    json_decref(p);
    PGresult *r = pq(c, SQL_CODES_EXPIRED, "iiii", after_at, after_seq, now, (int64_t)EXPIRE_BATCH);
    if (!r)
        return PROMO_INTERNAL;
    int n = PQntuples(r);
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < n && rc == PROMO_OK; i++) {
        rc = pg_event_log(c, "code_expired", now, PQgetvalue(r, i, 1), PQgetvalue(r, i, 0),
                          PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2), NULL, NULL, NULL, NULL);
        after_at = pg_i64(r, i, 3);
        after_seq = pg_i64(r, i, 4);
    }
    PQclear(r);
    /* Nothing found: continue from now - 1 (an expiry equal to now is not
     * past yet), keeping the seq so ties are not lost. */
    if (n == 0 && now - 1 > after_at) {
        after_at = now - 1;
        after_seq = INT64_MAX;
    }
    if (rc == PROMO_OK)
        rc = schedule_expire(c, n == EXPIRE_BATCH ? now : now + EXPIRE_EVERY, after_at, after_seq, now);
    return rc;
}

static const struct {
    const char *kind;
    task_effect fn;
} kinds[] = {
    {"codes_expire", effect_codes_expire},
    {"campaign_start", effect_campaign_start},
    {"campaign_end", effect_campaign_end},
    {"segments_refresh", effect_segments_refresh},
    {"rule_step", pg_rule_step_run},
    {"expiry_reminder", pg_reminder_run},
};

/* ---- running ------------------------------------------------------------------ */

#define TASK_COLS "id, kind, key, payload, state, last_error, due_at, attempts, created_at, done_at, seq"
/* The claim: a pending, due task no other transaction holds. */
static const char SQL_TASK_CLAIM[] =
    "SELECT " TASK_COLS " FROM tasks WHERE id = $1 AND state = 'pending' AND due_at <= $2 FOR UPDATE SKIP LOCKED";
static const char SQL_TASK_DONE[] = "UPDATE tasks SET state = $1, done_at = $2, attempts = attempts + 1 WHERE id = $3";

static void row_to_task(PGresult *r, int i, struct arena *a, struct task *t)
{
    t->id = pg_text(r, i, 0, a);
    t->kind = pg_text(r, i, 1, a);
    t->key = pg_text(r, i, 2, a);
    t->payload = pg_text(r, i, 3, a);
    t->state = pg_text(r, i, 4, a);
    t->last_error = pg_text(r, i, 5, a);
    t->due_at = pg_i64(r, i, 6);
    t->attempts = pg_i64(r, i, 7);
    t->created_at = pg_i64(r, i, 8);
    t->done_at = pg_opt(r, i, 9, 0);
    t->seq = pg_i64(r, i, 10);
}

struct run_args {
    const char *id, *error;
    int64_t now;
};

static enum promo_err tx_task_run(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct run_args *ra = arg;
    PGresult *r = pq(c, SQL_TASK_CLAIM, "si", ra->id, ra->now);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r) == 0) { /* done, not due, or being run by another server */
        PQclear(r);
        return PROMO_OK;
    }
    struct arena a = {0};
    struct task t;
    row_to_task(r, 0, &a, &t);
    PQclear(r);
    task_effect fn = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, t.kind) == 0)
            fn = kinds[i].fn;
    bool skipped = false;
    enum promo_err rc = fn ? fn(c, &a, &t, ra->now, &skipped) : PROMO_BAD_REQUEST;
    if (rc == PROMO_OK)
        rc = pq_do(c, NULL, SQL_TASK_DONE, "sis", skipped ? "skipped" : "done", ra->now, t.id);
    if (rc == PROMO_OK)
        rc = pg_event_log(c, skipped ? "task_skipped" : "task_done", ra->now, NULL, NULL, NULL, NULL, t.id, NULL,
                          NULL);
    arena_free(&a);
    /* Any failure undoes the effect too (PROMO_INTERNAL rolls the
     * transaction back): the task stays pending for store_task_fail. */
    return rc == PROMO_OK ? PROMO_OK : PROMO_INTERNAL;
}

enum promo_err pg_task_run(struct pg_store *st, const char *id, int64_t now)
{
    struct run_args ra = {.id = id, .now = now};
    return pg_tx(st, tx_task_run, &ra);
}

static const char SQL_TASK_FAIL[] =
    "UPDATE tasks SET attempts = attempts + 1, last_error = $2,"
    " state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE state END,"
    " due_at = $4 + 60 * (attempts + 1) * (attempts + 1) WHERE id = $1 AND state = 'pending'";

static enum promo_err tx_task_fail(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct run_args *ra = arg;
    enum promo_err rc = pq_do(c, NULL, SQL_TASK_FAIL, "ssii", ra->id, ra->error, (int64_t)TASK_ATTEMPTS_MAX, ra->now);
    if (rc == PROMO_OK)
        rc = pg_event_log(c, "task_failed", ra->now, NULL, NULL, NULL, NULL, ra->id, ra->error, NULL);
    return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
}

enum promo_err pg_task_fail(struct pg_store *st, const char *id, const char *error, int64_t now)
{
    struct run_args ra = {.id = id, .error = error, .now = now};
    return pg_tx(st, tx_task_fail, &ra);
}

static enum promo_err tx_task_schedule(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct task *t = arg;
    if (strcmp(t->kind, "segments_refresh") == 0 || strcmp(t->kind, "codes_expire") == 0)
        return ensure_periodic(c, t->kind, t->created_at);
    return task_insert(c, t->kind, t->key, t->due_at, t->payload, t->created_at);
}

enum promo_err pg_task_schedule(struct pg_store *st, const char *kind, const char *key, int64_t due_at,
                                const char *payload_json, int64_t now)
{
    struct task t = {.kind = kind, .key = key, .due_at = due_at, .payload = payload_json, .created_at = now};
    return pg_tx(st, tx_task_schedule, &t);
}

/* ---- reading --------------------------------------------------------------------- */

static const char SQL_TASKS_DUE[] =
    "SELECT " TASK_COLS " FROM tasks WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at, seq LIMIT $2";
static const char SQL_TASK_NEXT[] = "SELECT min(due_at) FROM tasks WHERE state = 'pending'";
static const char SQL_TASK_LIST[] =
    "SELECT " TASK_COLS " FROM tasks WHERE seq > $1 AND ($2::text IS NULL OR kind = $2)"
    " AND ($3::text IS NULL OR state = $3) ORDER BY seq LIMIT $4";

/* Runs a read on a pooled connection; NULL when it failed (*rc says why). */
static PGresult *read_rows(struct pg_store *st, enum promo_err *rc, const char *sql, const char *types, int64_t i1,
                           const char *s2, const char *s3, int64_t i4)
{
    struct pgc *c = pgc_get(st);
    if (!c) {
        *rc = PROMO_UNAVAILABLE;
        return NULL;
    }
    PGresult *r = strcmp(types, "ii") == 0 ? pq(c, sql, types, i1, i4)
                  : *types                 ? pq(c, sql, types, i1, s2, s3, i4)
                                           : pq(c, sql, "");
    pgc_put(st, c);
    *rc = r ? PROMO_OK : PROMO_INTERNAL;
    return r;
}

enum promo_err pg_tasks_due(struct pg_store *st, struct arena *a, int64_t now, int limit, struct task **out,
                            size_t *n)
{
    *n = 0;
    enum promo_err rc;
    PGresult *r = read_rows(st, &rc, SQL_TASKS_DUE, "ii", now, NULL, NULL, limit);
    if (!r)
        return rc;
    *out = arena_alloc(a, sizeof(struct task) * (size_t)limit);
    for (int i = 0; i < PQntuples(r) && (int)*n < limit; i++)
        row_to_task(r, i, a, &(*out)[(*n)++]);
    PQclear(r);
    return PROMO_OK;
}

enum promo_err pg_task_next_due(struct pg_store *st, int64_t *due_at)
{
    *due_at = 0;
    enum promo_err rc;
    PGresult *r = read_rows(st, &rc, SQL_TASK_NEXT, "", 0, NULL, NULL, 0);
    if (!r)
        return rc;
    if (PQntuples(r) > 0)
        *due_at = pg_opt(r, 0, 0, 0);
    PQclear(r);
    return PROMO_OK;
}

enum promo_err pg_task_list(struct pg_store *st, struct arena *a, const char *kind, const char *state,
                            int64_t after_seq, int limit, struct task **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    enum promo_err rc;
    PGresult *r = read_rows(st, &rc, SQL_TASK_LIST, "issi", after_seq, kind, state, (int64_t)limit + 1);
    if (!r)
        return rc;
    *out = arena_alloc(a, sizeof(struct task) * (size_t)(limit + 1));
    int rows = PQntuples(r);
    for (int i = 0; i < rows && i < limit; i++)
        row_to_task(r, i, a, &(*out)[(*n)++]);
    if (rows > limit)
        *next_seq = (*out)[*n - 1].seq;
    PQclear(r);
    return PROMO_OK;
}
