/* sqlite_tasks.c — the scheduler's persistent tasks on SQLite. A task is
 * claimed, its effect applied and the task marked done in one writer
 * transaction, so an effect happens at most once whatever crashes; a task
 * whose transaction did not commit is still pending and runs after the
 * restart (catch-up). Each kind's effect is one row of `kinds` below: a
 * new kind (part C: reminders, rules) is a function and a line there. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/rand.h"

#define HOUR 3600
#define TASK_ATTEMPTS_MAX 5

/* An effect: runs inside the transaction that completes the task. Returns
 * PROMO_OK with *skipped set when the task no longer applies (the campaign
 * moved its start), or an error that leaves the task pending. */
typedef enum promo_err (*task_effect)(struct conn *c, struct arena *a, const struct task *t, int64_t now,
                                      bool *skipped);

/* ---- scheduling ----------------------------------------------------------- */

static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks (id, kind, due_at, key, payload, created_at) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (key) DO NOTHING";

static enum promo_err task_insert(struct conn *c, const char *kind, const char *key, int64_t due_at,
                                  const char *payload, int64_t now)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_TASK_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    char id[PROMO_ID_MAX];
    util_rand_id("tsk_", id, sizeof id);
    bind_text(s, 1, id);
    bind_text(s, 2, kind);
    bind_i64(s, 3, due_at);
    bind_text(s, 4, key);
    bind_text(s, 5, payload ? payload : "{}");
    bind_i64(s, 6, now);
    return step_done(c, s);
}

/* The key names the campaign and the time, so moving a campaign's start
 * schedules a new task and the old one finds, when due, that it no longer
 * applies. */
enum promo_err tasks_schedule_campaign(struct conn *c, const struct campaign *cp, int64_t now)
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
static enum promo_err schedule_refresh(struct conn *c, int64_t now)
{
    int64_t due = (now / HOUR + 1) * HOUR;
    char key[64];
    snprintf(key, sizeof key, "segments_refresh:%lld", (long long)due);
    return task_insert(c, "segments_refresh", key, due, NULL, now);
}

/* The next expiry sweep, at `due`, continuing after (after_at, after_seq):
 * the last code it reported, so no expiry is told twice or missed. */
static enum promo_err schedule_expire(struct conn *c, int64_t due, int64_t after_at, int64_t after_seq, int64_t now)
{
    char key[96], payload[96];
    snprintf(key, sizeof key, "codes_expire:%lld:%lld:%lld", (long long)due, (long long)after_at,
             (long long)after_seq);
    snprintf(payload, sizeof payload, "{\"after_at\":%lld,\"after_seq\":%lld}", (long long)after_at,
             (long long)after_seq);
    return task_insert(c, "codes_expire", key, due, payload, now);
}

static const char SQL_PENDING_KIND[] = "SELECT 1 FROM tasks WHERE kind = ? AND state = 'pending' LIMIT 1";

/* Starts a periodic chain when none is pending (the first start, or a
 * chain that failed for good); each run schedules its successor. */
static enum promo_err ensure_periodic(struct conn *c, const char *kind, int64_t now)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_PENDING_KIND);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, kind);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_ROW)
        return PROMO_OK;
    if (r != SQLITE_DONE)
        return db_fail(c, "pending task");
    /* Expiries before the first sweep are history: not reported. */
    return strcmp(kind, "codes_expire") == 0 ? schedule_expire(c, now, now, 0, now) : schedule_refresh(c, now);
}

/* ---- effects ---------------------------------------------------------------- */

/* campaign_start / campaign_end: logs the transition when the campaign
 * still has that time and was not ended by hand (its status already
 * follows the clock; the event is what tells the outside world). */
static enum promo_err campaign_transition(struct conn *c, struct arena *a, const struct task *t, int64_t now,
                                          bool *skipped, bool start)
{
    json_t *p = json_loads(t->payload, 0, NULL);
    const char *id = json_string_value(json_object_get(p, "campaign_id"));
    int64_t at = json_integer_value(json_object_get(p, "at"));
    struct campaign cp;
    enum promo_err rc = id ? campaign_read(c, a, id, &cp, NULL) : PROMO_NOT_FOUND;
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
            rc = event_log(c, start ? "campaign_started" : "campaign_ended", now, cid, NULL, NULL, NULL, t->id,
                           NULL, NULL);
    }
    free(cid);
    return rc;
}

static enum promo_err effect_campaign_start(struct conn *c, struct arena *a, const struct task *t, int64_t now,
                                            bool *skipped)
{
    return campaign_transition(c, a, t, now, skipped, true);
}

static enum promo_err effect_campaign_end(struct conn *c, struct arena *a, const struct task *t, int64_t now,
                                          bool *skipped)
{
    return campaign_transition(c, a, t, now, skipped, false);
}

#define REFRESH_CHUNK 2000 /* customers per refresh transaction */

/* Time-based segments (dormant, spent_365d) change with no event: every
 * customer is re-evaluated once an hour, REFRESH_CHUNK customers per
 * transaction so the writer is never held for the whole table; a full
 * chunk schedules the next one at once, the last chunk the next hour's
 * run. After downtime it runs once, not once per missed hour. */
static enum promo_err effect_segments_refresh(struct conn *c, struct arena *a, const struct task *t, int64_t now,
                                              bool *skipped)
{
    (void)a;
    *skipped = false;
    json_t *p = json_loads(t->payload, 0, NULL);
    int64_t after = json_integer_value(json_object_get(p, "after_seq")), last = 0;
    json_decref(p);
    int n = 0;
    enum promo_err rc = customers_refresh_page(c, after, REFRESH_CHUNK, now, &last, &n);
    if (rc != PROMO_OK)
        return rc;
    if (n < REFRESH_CHUNK)
        return schedule_refresh(c, now);
    char key[96], payload[64];
    snprintf(key, sizeof key, "segments_refresh:%lld:after:%lld", (long long)now, (long long)last);
    snprintf(payload, sizeof payload, "{\"after_seq\":%lld}", (long long)last);
    return task_insert(c, "segments_refresh", key, now, payload, now);
}

#define EXPIRE_EVERY 300   /* seconds between expiry sweeps */
#define EXPIRE_BATCH 5000  /* codes per sweep transaction */

static const char SQL_CODES_EXPIRED[] =
    "SELECT code_key, campaign_id, customer_id, expires_at, seq FROM codes"
    " WHERE expires_at IS NOT NULL AND (expires_at > ?1 OR (expires_at = ?1 AND seq > ?2)) AND expires_at < ?3"
    " AND disabled = 0 AND (max_uses IS NULL OR uses < max_uses) ORDER BY expires_at, seq LIMIT ?4";

/* codes_expire: logs `code_expired` for each usable code whose expiry
 * passed since the last sweep (what expiry reminders and CRM tools watch).
 * A full batch schedules the next sweep at once. */
static enum promo_err effect_codes_expire(struct conn *c, struct arena *a, const struct task *t, int64_t now,
                                          bool *skipped)
{
    *skipped = false;
    json_t *p = json_loads(t->payload, 0, NULL);
    int64_t after_at = json_integer_value(json_object_get(p, "after_at"));
    int64_t after_seq = json_integer_value(json_object_get(p, "after_seq"));
    json_decref(p);
    sqlite3_stmt *s = conn_stmt(c, SQL_CODES_EXPIRED);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, after_at);
    bind_i64(s, 2, after_seq);
    bind_i64(s, 3, now);
    bind_i64(s, 4, EXPIRE_BATCH);
    struct expired {
        const char *key, *campaign_id, *customer_id;
    } *v = arena_alloc(a, sizeof(*v) * EXPIRE_BATCH);
    int n = 0, r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        v[n].key = col_text(s, 0, a);
        v[n].campaign_id = col_text(s, 1, a);
        v[n].customer_id = col_text(s, 2, a);
        after_at = sqlite3_column_int64(s, 3);
        after_seq = sqlite3_column_int64(s, 4);
        n++;
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return db_fail(c, "expired codes");
    enum promo_err rc = PROMO_OK;
    for (int i = 0; i < n && rc == PROMO_OK; i++)
        rc = event_log(c, "code_expired", now, v[i].campaign_id, v[i].key, v[i].customer_id, NULL, NULL, NULL, NULL);
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
    {"rule_step", rule_step_run},
    {"expiry_reminder", reminder_run},
};

/* ---- running ------------------------------------------------------------------ */

#define TASK_COLS "id, kind, key, payload, state, last_error, due_at, attempts, created_at, done_at, seq"
static const char SQL_TASK_GET[] = "SELECT " TASK_COLS " FROM tasks WHERE id = ?";
static const char SQL_TASK_DONE[] = "UPDATE tasks SET state = ?, done_at = ?, attempts = attempts + 1 WHERE id = ?";

static void row_to_task(sqlite3_stmt *s, struct arena *a, struct task *t)
{
    t->id = col_text(s, 0, a);
    t->kind = col_text(s, 1, a);
    t->key = col_text(s, 2, a);
    t->payload = col_text(s, 3, a);
    t->state = col_text(s, 4, a);
    t->last_error = col_text(s, 5, a);
    t->due_at = sqlite3_column_int64(s, 6);
    t->attempts = sqlite3_column_int64(s, 7);
    t->created_at = sqlite3_column_int64(s, 8);
    t->done_at = col_opt(s, 9, 0);
    t->seq = sqlite3_column_int64(s, 10);
}

static enum promo_err task_read(struct conn *c, struct arena *a, const char *id, struct task *t)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_TASK_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        row_to_task(s, a, t);
    sqlite3_reset(s);
    return r == SQLITE_ROW ? PROMO_OK : r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "task get");
}

struct run_args {
    const char *id, *error;
    int64_t now;
};

static enum promo_err op_task_run(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct run_args *ra = arg;
    struct arena a = {0};
    struct task t;
    enum promo_err rc = task_read(c, &a, ra->id, &t);
    /* Claimed here, under the writer: a task already done is not run again. */
    if (rc != PROMO_OK || strcmp(t.state, "pending") != 0 || t.due_at > ra->now) {
        arena_free(&a);
        return rc == PROMO_NOT_FOUND ? PROMO_OK : rc;
    }
    task_effect fn = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, t.kind) == 0)
            fn = kinds[i].fn;
    bool skipped = false;
    rc = fn ? fn(c, &a, &t, ra->now, &skipped) : PROMO_BAD_REQUEST;
    if (rc == PROMO_OK) {
        sqlite3_stmt *s = conn_stmt(c, SQL_TASK_DONE);
        if (!s) {
            rc = PROMO_INTERNAL;
        } else {
            bind_text(s, 1, skipped ? "skipped" : "done");
            bind_i64(s, 2, ra->now);
            bind_text(s, 3, t.id);
            rc = step_done(c, s);
        }
    }
    if (rc == PROMO_OK)
        rc = event_log(c, skipped ? "task_skipped" : "task_done", ra->now, NULL, NULL, NULL, NULL, t.id, NULL,
                       NULL);
    arena_free(&a);
    /* Any failure undoes the effect too (PROMO_INTERNAL rolls the savepoint
     * back): the task stays pending for store_task_fail. */
    return rc == PROMO_OK ? PROMO_OK : PROMO_INTERNAL;
}

enum promo_err sqlite_task_run(struct sqlite_store *st, const char *id, int64_t now)
{
    struct run_args ra = {.id = id, .now = now};
    return writer_run(st, op_task_run, &ra);
}

static const char SQL_TASK_FAIL[] =
    "UPDATE tasks SET attempts = attempts + 1, last_error = ?2,"
    " state = CASE WHEN attempts + 1 >= ?3 THEN 'failed' ELSE state END,"
    " due_at = ?4 + 60 * (attempts + 1) * (attempts + 1) WHERE id = ?1 AND state = 'pending'";

static enum promo_err op_task_fail(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct run_args *ra = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_TASK_FAIL);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ra->id);
    bind_text(s, 2, ra->error);
    bind_i64(s, 3, TASK_ATTEMPTS_MAX);
    bind_i64(s, 4, ra->now);
    enum promo_err rc = step_done(c, s);
    if (rc == PROMO_OK)
        rc = event_log(c, "task_failed", ra->now, NULL, NULL, NULL, NULL, ra->id, ra->error, NULL);
    return rc;
}

enum promo_err sqlite_task_fail(struct sqlite_store *st, const char *id, const char *error, int64_t now)
{
    struct run_args ra = {.id = id, .error = error, .now = now};
    return writer_run(st, op_task_fail, &ra);
}

static enum promo_err op_task_schedule(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct task *t = arg;
    if (strcmp(t->kind, "segments_refresh") == 0 || strcmp(t->kind, "codes_expire") == 0)
        return ensure_periodic(c, t->kind, t->created_at);
    return task_insert(c, t->kind, t->key, t->due_at, t->payload, t->created_at);
}

enum promo_err sqlite_task_schedule(struct sqlite_store *st, const char *kind, const char *key, int64_t due_at,
                                   const char *payload_json, int64_t now)
{
    struct task t = {.kind = kind, .key = key, .due_at = due_at, .payload = payload_json, .created_at = now};
    return writer_run(st, op_task_schedule, &t);
}

/* ---- reading --------------------------------------------------------------------- */

static const char SQL_TASKS_DUE[] =
    "SELECT " TASK_COLS " FROM tasks WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, seq LIMIT ?";
static const char SQL_TASK_NEXT[] = "SELECT min(due_at) FROM tasks WHERE state = 'pending'";
static const char SQL_TASK_LIST[] =
    "SELECT " TASK_COLS " FROM tasks WHERE seq > ?1 AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR state = ?3)"
    " ORDER BY seq LIMIT ?4";

enum promo_err sqlite_tasks_due(struct sqlite_store *st, struct arena *a, int64_t now, int limit, struct task **out,
                               size_t *n)
{
    *n = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_TASKS_DUE);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_i64(s, 1, now);
    bind_i64(s, 2, limit);
    *out = arena_alloc(a, sizeof(struct task) * (size_t)limit);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && (int)*n < limit)
        row_to_task(s, a, &(*out)[(*n)++]);
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "tasks due");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

enum promo_err sqlite_task_next_due(struct sqlite_store *st, int64_t *due_at)
{
    *due_at = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_TASK_NEXT);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            *due_at = col_opt(s, 0, 0);
            rc = PROMO_OK;
        }
        sqlite3_reset(s);
    }
    reader_put(st, c);
    return rc;
}

enum promo_err sqlite_task_list(struct sqlite_store *st, struct arena *a, const char *kind, const char *state,
                               int64_t after_seq, int limit, struct task **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_TASK_LIST);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    bind_i64(s, 1, after_seq);
    bind_text(s, 2, kind);
    bind_text(s, 3, state);
    bind_i64(s, 4, limit + 1);
    *out = arena_alloc(a, sizeof(struct task) * (size_t)(limit + 1));
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        row_to_task(s, a, &(*out)[(*n)++]);
    }
    enum promo_err rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "task list");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}
