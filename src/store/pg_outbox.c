/* pg_outbox.c — templates, webhook subscriptions and the transactional
 * outbox on PostgreSQL (the SQLite version: sqlite_outbox.c).
 *
 * A message is a row of `messages`, written in the transaction of what
 * caused it: an event of the log (the fan-out below, from every
 * pg_event_log, the poster's included) or a POST /v1/messages. Delivery
 * workers of every server sharing the database claim due rows with
 * FOR UPDATE SKIP LOCKED and a lease (so one message is never being sent
 * by two of them), send outside any transaction and record each attempt
 * here. Nothing in this file waits for a network. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* ---- the event log and its webhook fan-out ---------------------------------- */

/* One round trip writes the event and answers the live subscriptions that
 * want it (usually none). No per-process cache of subscriptions: another
 * server could change them, and this statement reads them in the
 * transaction's own snapshot. */
static const char SQL_EVENT_FANOUT[] =
    "WITH ev AS (INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id,"
    " reason, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10))" PG_SQL_HOOKS_WANTING("$2");
static const char SQL_EVENT_ONLY[] =
    "INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id,"
    " reason, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)";

static const char SQL_MESSAGE_INSERT[] =
    "INSERT INTO messages (id, channel, state, recipient, webhook_id, event_id, event_type, template_id,"
    " customer_id, subject, body_text, body_html, next_attempt_at, created_at, recipient_name)"
    " VALUES ($1,$2,'queued',$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$12,$13)";

/* The row alone, without an event (fan-out rows have their event already). */
static enum promo_err message_insert(struct pgc *c, const struct message *m, int64_t now_ms)
{
    enum promo_err rc = pq_do(c, NULL, SQL_MESSAGE_INSERT, "sssssssssssis", m->id, m->channel, m->recipient,
                              m->webhook_id, m->event_id, m->event_type, m->template_id, m->customer_id, m->subject,
                              m->body_text, m->body_html, now_ms, m->recipient_name);
    return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
}

/* The body a subscriber receives: {id, type, occurred_at, data}, where
 * data is the event's own data plus the columns that name what it is
 * about (the same bytes as on SQLite). Caller frees. */
static char *event_body(const struct event *ev)
{
    json_t *data = json_loads(ev->data ? ev->data : "{}", 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    const struct {
        const char *k, *v;
    } cols[] = {{"campaign_id", ev->campaign_id}, {"code", ev->code_key},         {"customer_id", ev->customer_id},
                {"order_id", ev->order_id},       {"subject_id", ev->subject_id}, {"reason", ev->reason}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (cols[i].v && !json_object_get(data, cols[i].k))
            json_object_set_new(data, cols[i].k, json_string(cols[i].v));
    char at[TIME_STR_MAX];
    time_format(ev->at, at);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", ev->id, "type", ev->type, "occurred_at", at, "data", data);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

enum promo_err pg_outbox_fanout(struct pgc *c, const struct event *ev, PGresult *hooks)
{
    int n = PQntuples(hooks);
    if (n == 0)
        return PROMO_OK;
    char *body = event_body(ev);
    if (!body)
        return PROMO_INTERNAL;
    enum promo_err rc = PROMO_OK;
    int64_t now_ms = time_now_ms();
    for (int i = 0; i < n && rc == PROMO_OK; i++) {
        char id[PROMO_ID_MAX];
        util_rand_id("msg_", id, sizeof id);
        struct message m = {.id = id, .channel = "webhook", .recipient = PQgetvalue(hooks, i, 1),
                            .webhook_id = PQgetvalue(hooks, i, 0), .event_id = ev->id, .event_type = ev->type,
                            .customer_id = ev->customer_id, .body_text = body};
        rc = message_insert(c, &m, now_ms);
    }
    free(body);
    return rc;
}

enum promo_err pg_event_log_opts(struct pgc *c, const char *type, int64_t at, const char *campaign_id,
                                 const char *code_key, const char *customer_id, const char *order_id,
                                 const char *subject_id, const char *reason, const char *data_json, bool fan)
{
    char id[PROMO_ID_MAX];
    util_rand_id("evt_", id, sizeof id);
    const char *data = data_json ? data_json : "{}";
    if (!fan)
        return pq_do(c, NULL, SQL_EVENT_ONLY, "ssisssssss", id, type, at, campaign_id, code_key, customer_id,
                     order_id, subject_id, reason, data);
    PGresult *r = pq(c, SQL_EVENT_FANOUT, "ssisssssss", id, type, at, campaign_id, code_key, customer_id, order_id,
                     subject_id, reason, data);
    if (!r)
        return c->unique ? PROMO_CONFLICT : PROMO_INTERNAL;
    /* Webhook subscribers get the event through the outbox, in this same
     * transaction: no event is committed without its deliveries queued. */
    struct event ev = {.at = at, .id = id, .type = type, .campaign_id = campaign_id, .code_key = code_key,
                       .customer_id = customer_id, .order_id = order_id, .subject_id = subject_id,
                       .reason = reason, .data = data_json};
    enum promo_err rc = pg_outbox_fanout(c, &ev, r);
    PQclear(r);
    return rc;
}

/* ---- enqueueing ---------------------------------------------------------------- */

static bool is_webhook(const char *channel) { return channel && strcmp(channel, "webhook") == 0; }

enum promo_err pg_outbox_enqueue(struct pgc *c, const struct message *m, int64_t now_ms)
{
    enum promo_err rc = message_insert(c, m, now_ms);
    if (rc != PROMO_OK)
        return rc;
    json_t *d = json_pack("{s:s, s:s?, s:s?}", "channel", m->channel, "template_id", m->template_id, "webhook_id",
                          m->webhook_id);
    char *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    /* Events about webhook deliveries are not delivered to webhooks: a
     * dead receiver would loop. */
    rc = pg_event_log_opts(c, "message_queued", now_ms / 1000, NULL, NULL, m->customer_id, NULL, m->id, NULL, data,
                           !is_webhook(m->channel));
    free(data);
    return rc;
}

struct enqueue_args {
    const struct message *m;
    int64_t now_ms;
};

static enum promo_err tx_enqueue(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct enqueue_args *ea = arg;
    return pg_outbox_enqueue(c, ea->m, ea->now_ms);
}

enum promo_err pg_message_enqueue(struct pg_store *st, const struct message *m, int64_t now_ms)
{
    struct enqueue_args ea = {m, now_ms};
    return pg_tx(st, tx_enqueue, &ea);
}

/* ---- reading a page by id --------------------------------------------------------- */

typedef void (*row_fn)(PGresult *r, int i, struct arena *a, void *row);

/* One page of a list ordered by id (ids sort in creation order; COLLATE
 * "C" keeps that order whatever the database's collation). `sql` takes
 * $1 = cursor, $2 = limit + 1 and, when f1f2, $3 and $4 as text filters.
 * *rows gets up to `limit` rows of `elem` bytes in a; *next the last
 * one's id (from `id_of`) when more follow. */
static enum promo_err page_by_id(struct pg_store *st, struct arena *a, const char *sql, const char *cursor,
                                 int limit, bool f1f2, const char *f1, const char *f2, size_t elem, row_fn fill,
                                 void **rows, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    const char *cur = cursor ? cursor : "";
    PGresult *r = f1f2 ? pq(c, sql, "siss", cur, (int64_t)limit + 1, f1, f2) : pq(c, sql, "si", cur, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    char *out = arena_alloc(a, elem * (size_t)(limit + 1));
    int got = PQntuples(r);
    for (int i = 0; i < got && i < limit; i++)
        fill(r, i, a, out + elem * (*n)++);
    /* every row type here starts with its id */
    if (got > limit)
        *next = *(const char **)(out + elem * (*n - 1));
    PQclear(r);
    *rows = out;
    return PROMO_OK;
}

/* ---- templates ------------------------------------------------------------------------ */

#define TPL_COLS "id, name, subject, body_text, body_html, created_at, updated_at"

static void row_to_template(PGresult *r, int i, struct arena *a, void *row)
{
    struct template_rec *t = row;
    t->id = pg_text(r, i, 0, a);
    t->name = pg_text(r, i, 1, a);
    t->subject = pg_text(r, i, 2, a);
    t->body_text = pg_text(r, i, 3, a);
    t->body_html = pg_text(r, i, 4, a);
    t->created_at = pg_i64(r, i, 5);
    t->updated_at = pg_i64(r, i, 6);
}

static const char SQL_TPL_GET[] = "SELECT " TPL_COLS " FROM templates WHERE id = $1 AND deleted_at IS NULL";

enum promo_err pg_template_read(struct pgc *c, struct arena *a, const char *id, struct template_rec *out)
{
    PGresult *r = pq(c, SQL_TPL_GET, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_template(r, 0, a, out);
    PQclear(r);
    return rc;
}

enum promo_err pg_template_get(struct pg_store *st, struct arena *a, const char *id, struct template_rec *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = pg_template_read(c, a, id, out);
    pgc_put(st, c);
    return rc;
}

static const char SQL_TPL_LIST[] = "SELECT " TPL_COLS " FROM templates WHERE id COLLATE \"C\" > $1"
                                   " AND deleted_at IS NULL ORDER BY id COLLATE \"C\" LIMIT $2";

enum promo_err pg_template_list(struct pg_store *st, struct arena *a, const char *cursor, int limit,
                                struct template_rec **out, size_t *n, const char **next)
{
    void *rows = NULL;
    enum promo_err rc = page_by_id(st, a, SQL_TPL_LIST, cursor, limit, false, NULL, NULL, sizeof(struct template_rec),
                                   row_to_template, &rows, n, next);
    *out = rows;
    return rc;
}

struct tpl_args {
    const struct template_rec *t;
    bool create;
    const char *actor, *id;
    int64_t now;
};

static const char SQL_TPL_INSERT[] = "INSERT INTO templates (id, name, subject, body_text, body_html, created_at,"
                                     " updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7)";
static const char SQL_TPL_UPDATE[] = "UPDATE templates SET name = $2, subject = $3, body_text = $4, body_html = $5,"
                                     " updated_at = $6 WHERE id = $1 AND deleted_at IS NULL";

static char *actor_data(const char *actor)
{
    json_t *o = json_pack("{s:s?}", "by", actor);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static enum promo_err tx_template_put(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct tpl_args *ta = arg;
    const struct template_rec *t = ta->t;
    int64_t changed = 0;
    enum promo_err rc = ta->create ? pq_do(c, &changed, SQL_TPL_INSERT, "sssssii", t->id, t->name, t->subject,
                                           t->body_text, t->body_html, t->created_at, t->updated_at)
                                   : pq_do(c, &changed, SQL_TPL_UPDATE, "sssssi", t->id, t->name, t->subject,
                                           t->body_text, t->body_html, t->updated_at);
    if (rc != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    if (changed == 0)
        return PROMO_NOT_FOUND;
    char *data = actor_data(ta->actor);
    rc = pg_event_log(c, ta->create ? "template_created" : "template_updated", t->updated_at, NULL, NULL, NULL, NULL,
                      t->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_template_put(struct pg_store *st, const struct template_rec *t, bool create, const char *actor)
{
    struct tpl_args ta = {.t = t, .create = create, .actor = actor};
    return pg_tx(st, tx_template_put, &ta);
}

/* Marks a row deleted and logs `type`; shared by templates and webhooks
 * (the SQL names the table). */
static enum promo_err mark_deleted(struct pgc *c, const char *sql, const struct tpl_args *da, const char *type)
{
    int64_t changed = 0;
    enum promo_err rc = pq_do(c, &changed, sql, "si", da->id, da->now);
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    if (changed == 0)
        return PROMO_NOT_FOUND;
    char *data = actor_data(da->actor);
    rc = pg_event_log(c, type, da->now, NULL, NULL, NULL, NULL, da->id, NULL, data);
    free(data);
    return rc;
}

static const char SQL_TPL_DELETE[] = "UPDATE templates SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";

static enum promo_err tx_template_delete(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    return mark_deleted(c, SQL_TPL_DELETE, arg, "template_deleted");
}

enum promo_err pg_template_delete(struct pg_store *st, const char *id, int64_t now, const char *actor)
{
    struct tpl_args da = {.id = id, .now = now, .actor = actor};
    return pg_tx(st, tx_template_delete, &da);
}

/* ---- webhooks ---------------------------------------------------------------------------- */

#define HOOK_COLS "id, url, event_types, secret, description, created_at"

static void row_to_webhook(PGresult *r, int i, struct arena *a, void *row)
{
    struct webhook *w = row;
    w->id = pg_text(r, i, 0, a);
    w->url = pg_text(r, i, 1, a);
    w->event_types = pg_text(r, i, 2, a);
    w->secret = pg_text(r, i, 3, a);
    w->description = pg_text(r, i, 4, a);
    w->created_at = pg_i64(r, i, 5);
}

static const char SQL_HOOK_INSERT[] =
    "INSERT INTO webhooks (id, url, event_types, secret, description, created_at) VALUES ($1,$2,$3,$4,$5,$6)";

struct hook_args {
    const struct webhook *w;
    const char *actor;
};

static enum promo_err tx_webhook_create(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct hook_args *ha = arg;
    const struct webhook *w = ha->w;
    enum promo_err rc = pq_do(c, NULL, SQL_HOOK_INSERT, "sssssi", w->id, w->url, w->event_types, w->secret,
                              w->description, w->created_at);
    if (rc != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    json_t *o = json_pack("{s:s, s:s?}", "url", w->url, "by", ha->actor);
    json_object_set_new(o, "event_types", json_loads(w->event_types, 0, NULL));
    char *data = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    rc = pg_event_log(c, "webhook_created", w->created_at, NULL, NULL, NULL, NULL, w->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_webhook_create(struct pg_store *st, const struct webhook *w, const char *actor)
{
    struct hook_args ha = {w, actor};
    return pg_tx(st, tx_webhook_create, &ha);
}

static const char SQL_HOOK_GET[] = "SELECT " HOOK_COLS " FROM webhooks WHERE id = $1 AND deleted_at IS NULL";

enum promo_err pg_webhook_get(struct pg_store *st, struct arena *a, const char *id, struct webhook *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_HOOK_GET, "s", id);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_webhook(r, 0, a, out);
    PQclear(r);
    return rc;
}

static const char SQL_HOOK_LIST[] = "SELECT " HOOK_COLS " FROM webhooks WHERE id COLLATE \"C\" > $1"
                                    " AND deleted_at IS NULL ORDER BY id COLLATE \"C\" LIMIT $2";

enum promo_err pg_webhook_list(struct pg_store *st, struct arena *a, const char *cursor, int limit,
                               struct webhook **out, size_t *n, const char **next)
{
    void *rows = NULL;
    enum promo_err rc = page_by_id(st, a, SQL_HOOK_LIST, cursor, limit, false, NULL, NULL, sizeof(struct webhook),
                                   row_to_webhook, &rows, n, next);
    *out = rows;
    return rc;
}

static const char SQL_HOOK_DELETE[] = "UPDATE webhooks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";

static enum promo_err tx_webhook_delete(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    return mark_deleted(c, SQL_HOOK_DELETE, arg, "webhook_deleted");
}

enum promo_err pg_webhook_delete(struct pg_store *st, const char *id, int64_t now, const char *actor)
{
    struct tpl_args da = {.id = id, .now = now, .actor = actor};
    return pg_tx(st, tx_webhook_delete, &da);
}

/* ---- messages -------------------------------------------------------------------------------- */

#define MSG_COLS                                                                                        \
    "id, channel, state, recipient, webhook_id, event_id, event_type, template_id, customer_id, subject," \
    " body_text, body_html, last_error, attempts, retry_base, next_attempt_at, created_at, sent_at, recipient_name"

static void row_to_message(PGresult *r, int row, struct arena *a, void *out)
{
    struct message *m = out;
    const char **txt[] = {&m->id,        &m->channel,    &m->state,       &m->recipient,   &m->webhook_id,
                          &m->event_id,  &m->event_type, &m->template_id, &m->customer_id, &m->subject,
                          &m->body_text, &m->body_html,  &m->last_error};
    int i = 0;
    for (; i < (int)(sizeof txt / sizeof txt[0]); i++)
        *txt[i] = pg_text(r, row, i, a);
    m->attempts = pg_i64(r, row, i++);
    m->retry_base = pg_i64(r, row, i++);
    m->next_attempt_at = pg_i64(r, row, i++);
    m->created_at = pg_i64(r, row, i++);
    m->sent_at = pg_opt(r, row, i++, 0);
    m->recipient_name = pg_text(r, row, i, a);
}

static const char SQL_MSG_GET[] = "SELECT " MSG_COLS " FROM messages WHERE id = $1";

static enum promo_err message_read(struct pgc *c, struct arena *a, const char *id, struct message *out)
{
    PGresult *r = pq(c, SQL_MSG_GET, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_message(r, 0, a, out);
    PQclear(r);
    return rc;
}

enum promo_err pg_message_get(struct pg_store *st, struct arena *a, const char *id, struct message *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = message_read(c, a, id, out);
    pgc_put(st, c);
    return rc;
}

static const char SQL_MSG_LIST[] =
    "SELECT " MSG_COLS " FROM messages WHERE id COLLATE \"C\" > $1 AND ($3::text IS NULL OR state = $3)"
    " AND ($4::text IS NULL OR channel = $4) ORDER BY id COLLATE \"C\" LIMIT $2";

enum promo_err pg_message_list(struct pg_store *st, struct arena *a, const char *state, const char *channel,
                               const char *cursor, int limit, struct message **out, size_t *n, const char **next)
{
    void *rows = NULL;
    enum promo_err rc = page_by_id(st, a, SQL_MSG_LIST, cursor, limit, true, state, channel, sizeof(struct message),
                                   row_to_message, &rows, n, next);
    *out = rows;
    return rc;
}

#define ATTEMPTS_MAX 1000
static const char SQL_ATTEMPTS[] = "SELECT n, started_at, duration_ms, ok, status, error FROM message_attempts"
                                   " WHERE message_id = $1 ORDER BY seq LIMIT 1000";

enum promo_err pg_message_attempts(struct pg_store *st, struct arena *a, const char *id,
                                   struct message_attempt **out, size_t *n)
{
    *n = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    struct message m;
    enum promo_err rc = message_read(c, a, id, &m);
    PGresult *r = rc == PROMO_OK ? pq(c, SQL_ATTEMPTS, "s", id) : NULL;
    pgc_put(st, c);
    if (!r)
        return rc == PROMO_OK ? PROMO_INTERNAL : rc;
    *out = arena_alloc(a, sizeof(**out) * ATTEMPTS_MAX);
    for (int i = 0; i < PQntuples(r) && *n < ATTEMPTS_MAX; i++) {
        struct message_attempt *t = &(*out)[(*n)++];
        t->n = pg_i64(r, i, 0);
        t->started_at = pg_i64(r, i, 1);
        t->duration_ms = pg_i64(r, i, 2);
        t->ok = pg_i64(r, i, 3) != 0;
        t->status = pg_opt(r, i, 4, 0);
        t->error = pg_text(r, i, 5, a);
    }
    PQclear(r);
    return PROMO_OK;
}

struct retry_args {
    struct arena *a;
    const char *id, *actor;
    int64_t now_ms;
    struct message *out;
};

static const char SQL_MSG_RETRY[] = "UPDATE messages SET state = 'queued', retry_base = attempts,"
                                    " next_attempt_at = $2, last_error = NULL WHERE id = $1 AND state = 'dead'";

static enum promo_err tx_retry(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct retry_args *ra = arg;
    int64_t changed = 0;
    if (pq_do(c, &changed, SQL_MSG_RETRY, "si", ra->id, ra->now_ms) != PROMO_OK)
        return PROMO_INTERNAL;
    enum promo_err rc = message_read(c, ra->a, ra->id, ra->out);
    if (rc != PROMO_OK)
        return rc;
    if (changed == 0)
        return PROMO_CONFLICT;
    char *data = actor_data(ra->actor);
    rc = pg_event_log_opts(c, "message_retried", ra->now_ms / 1000, NULL, NULL, ra->out->customer_id, NULL, ra->id,
                           NULL, data, !is_webhook(ra->out->channel));
    free(data);
    return rc;
}

enum promo_err pg_message_retry(struct pg_store *st, struct arena *a, const char *id, int64_t now_ms,
                                const char *actor, struct message *out)
{
    struct retry_args ra = {a, id, actor, now_ms, out};
    return pg_tx(st, tx_retry, &ra);
}

/* ---- the workers' side ------------------------------------------------------------------------ */

static const char SQL_NEXT_DUE[] = "SELECT min(next_attempt_at) FROM messages WHERE state IN ('queued', 'sending')";

enum promo_err pg_outbox_next_due(struct pg_store *st, int64_t *due)
{
    *due = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_NEXT_DUE, "");
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    if (PQntuples(r))
        *due = pg_opt(r, 0, 0, 0);
    PQclear(r);
    return PROMO_OK;
}

static const char SQL_COUNTS[] =
    "SELECT state, count(*) FROM messages WHERE state IN ('queued', 'sending', 'dead') GROUP BY state";

enum promo_err pg_outbox_counts(struct pg_store *st, int64_t *queued, int64_t *sending, int64_t *dead)
{
    *queued = *sending = *dead = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_COUNTS, "");
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *state = PQgetvalue(r, i, 0);
        *(strcmp(state, "queued") == 0 ? queued : strcmp(state, "sending") == 0 ? sending : dead) = pg_i64(r, i, 1);
    }
    PQclear(r);
    return PROMO_OK;
}

struct claim_args {
    struct arena *a;
    int64_t now_ms, lease_ms;
    struct message *out;
};

/* Workers of several servers claim at once: the inner SELECT locks the
 * most overdue row no one else is claiming (SKIP LOCKED) and, under that
 * lock, PostgreSQL re-checks it is still due (a row another worker just
 * claimed now has its lease in next_attempt_at and drops out), so one
 * message has one live claim. A claim whose worker died lapses at the end
 * of its lease and the message is claimed again. */
static const char SQL_CLAIM[] =
    "UPDATE messages SET state = 'sending', next_attempt_at = $2 WHERE seq = (SELECT seq FROM messages"
    " WHERE state IN ('queued', 'sending') AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 1"
    " FOR UPDATE SKIP LOCKED) RETURNING " MSG_COLS;

static enum promo_err tx_claim(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct claim_args *ca = arg;
    PGresult *r = pq(c, SQL_CLAIM, "ii", ca->now_ms, ca->now_ms + ca->lease_ms);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_message(r, 0, ca->a, ca->out);
    PQclear(r);
    return rc;
}

enum promo_err pg_outbox_claim(struct pg_store *st, struct arena *a, int64_t now_ms, int64_t lease_ms,
                               struct message *out)
{
    struct claim_args ca = {a, now_ms, lease_ms, out};
    return pg_tx(st, tx_claim, &ca);
}

struct record_args {
    const char *id;
    const struct message_attempt *at;
    bool dead;
    int64_t next;
};

static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO message_attempts (message_id, n, started_at, duration_ms, ok, status, error)"
    " VALUES ($1, (SELECT attempts + 1 FROM messages WHERE id = $1), $2, $3, $4, $5, $6)";
static const char SQL_MSG_AFTER[] =
    "UPDATE messages SET attempts = attempts + 1, state = $2, next_attempt_at = $3, last_error = $4,"
    " sent_at = CASE WHEN $2::text = 'sent' THEN $5 ELSE sent_at END WHERE id = $1 AND state = 'sending'"
    " RETURNING channel, customer_id, attempts";

/* Logs `message_sent` / `message_dead` for the outcome of an attempt. */
static enum promo_err record_log(struct pgc *c, const struct record_args *ra, PGresult *r)
{
    const struct message_attempt *at = ra->at;
    const char *channel = PQgetvalue(r, 0, 0);
    const char *customer = PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1);
    json_t *o = json_pack("{s:s, s:I, s:s?}", "channel", channel, "attempts", (json_int_t)pg_i64(r, 0, 2), "error",
                          at->ok ? NULL : at->error);
    char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    enum promo_err rc =
        pg_event_log_opts(c, at->ok ? "message_sent" : "message_dead", (at->started_at + at->duration_ms) / 1000,
                          NULL, NULL, customer, NULL, ra->id, NULL, data, !is_webhook(channel));
    free(data);
    return rc;
}

static enum promo_err tx_record(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct record_args *ra = arg;
    const struct message_attempt *at = ra->at;
    enum promo_err rc = pq_do(c, NULL, SQL_ATTEMPT_INSERT, "siiios", ra->id, at->started_at, at->duration_ms,
                              (int64_t)at->ok, at->status, (int64_t)0, at->error);
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    const char *state = at->ok ? "sent" : ra->dead ? "dead" : "queued";
    PGresult *r = pq(c, SQL_MSG_AFTER, "ssisi", ra->id, state, ra->next, at->ok ? NULL : at->error,
                     at->started_at + at->duration_ms);
    if (!r)
        return PROMO_INTERNAL;
    /* No row: the claim lapsed and another worker took the message over;
     * its attempt is recorded, the other worker's outcome decides. */
    if (PQntuples(r) && strcmp(state, "queued") != 0)
        rc = record_log(c, ra, r);
    PQclear(r);
    return rc;
}

enum promo_err pg_outbox_record(struct pg_store *st, const char *id, const struct message_attempt *at, bool dead,
                                int64_t next_attempt_at)
{
    struct record_args ra = {id, at, dead, next_attempt_at};
    return pg_tx(st, tx_record, &ra);
}
