/* sqlite_outbox.c — templates, webhook subscriptions and the transactional
 * outbox on SQLite.
 *
 * A message is a row of `messages`, written by the writer in the same
 * transaction as what caused it: an event of the log (outbox_fanout, from
 * event_log) or a POST /v1/messages. Delivery workers (jobs/delivery.c)
 * claim due rows, send outside any transaction and record each attempt
 * here. Nothing in this file waits for a network. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

/* ---- the subscription cache (writer connection only) ------------------------- */

struct hook {
    char *id, *url;
    json_t *types; /* array of strings */
};

struct hook_cache {
    struct hook *v;
    size_t n;
};

void hook_cache_free(struct conn *c)
{
    struct hook_cache *h = c->hooks;
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].id);
        free(h->v[i].url);
        json_decref(h->v[i].types);
    }
    free(h->v);
    free(h);
    c->hooks = NULL;
}

static const char SQL_HOOKS_LIVE[] = "SELECT id, url, event_types FROM webhooks WHERE deleted_at IS NULL ORDER BY seq";

/* Loads the live subscriptions into c->hooks; NULL on failure. */
static struct hook_cache *hooks_load(struct conn *c)
{
    if (c->hooks)
        return c->hooks;
    sqlite3_stmt *s = conn_stmt(c, SQL_HOOKS_LIVE);
    struct hook_cache *h = calloc(1, sizeof(*h));
    if (!s || !h) {
        free(h);
        return NULL;
    }
    c->hooks = h;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        struct hook *nv = realloc(h->v, (h->n + 1) * sizeof(*nv));
        if (!nv)
            break;
        h->v = nv;
        struct hook *k = &h->v[h->n++];
        k->id = strdup((const char *)sqlite3_column_text(s, 0));
        k->url = strdup((const char *)sqlite3_column_text(s, 1));
        k->types = json_loads((const char *)sqlite3_column_text(s, 2), 0, NULL);
    }
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        db_fail(c, "webhooks load");
        hook_cache_free(c);
        return NULL;
    }
    return h;
}

static bool hook_wants(const struct hook *k, const char *type)
{
    size_t i;
    json_t *t;
    json_array_foreach(k->types, i, t)
    {
        const char *s = json_string_value(t);
        if (s && (strcmp(s, "*") == 0 || strcmp(s, type) == 0))
            return true;
    }
    return false;
}

/* ---- enqueueing ------------------------------------------------------------------- */

static const char SQL_MESSAGE_INSERT[] =
    "INSERT INTO messages (id, channel, state, recipient, webhook_id, event_id, event_type, template_id,"
    " customer_id, subject, body_text, body_html, next_attempt_at, created_at, recipient_name)"
    " VALUES (?,?,'queued',?,?,?,?,?,?,?,?,?,?,?,?)";

/* The row alone, without an event (fan-out rows have their event already). */
static enum promo_err message_insert(struct conn *c, const struct message *m, int64_t now_ms)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_MESSAGE_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, m->id);
    bind_text(s, 2, m->channel);
    bind_text(s, 3, m->recipient);
    bind_text(s, 4, m->webhook_id);
    bind_text(s, 5, m->event_id);
    bind_text(s, 6, m->event_type);
    bind_text(s, 7, m->template_id);
    bind_text(s, 8, m->customer_id);
    bind_text(s, 9, m->subject);
    bind_text(s, 10, m->body_text);
    bind_text(s, 11, m->body_html);
    bind_i64(s, 12, now_ms);
    bind_i64(s, 13, now_ms);
    bind_text(s, 14, m->recipient_name);
    return step_done(c, s);
}

static bool is_webhook(const char *channel) { return channel && strcmp(channel, "webhook") == 0; }

enum promo_err outbox_enqueue(struct conn *c, const struct message *m, int64_t now_ms)
{
    enum promo_err rc = message_insert(c, m, now_ms);
    if (rc != PROMO_OK)
        return rc;
    json_t *d = json_pack("{s:s, s:s?, s:s?}", "channel", m->channel, "template_id", m->template_id, "webhook_id",
                          m->webhook_id);
    char *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    rc = event_log_opts(c, "message_queued", now_ms / 1000, NULL, NULL, m->customer_id, NULL, m->id, NULL, data,
                        !is_webhook(m->channel));
    free(data);
    return rc;
}

/* The body a subscriber receives: {id, type, occurred_at, data}, where
 * data is the event's own data plus the columns that name what it is
 * about. Caller frees. */
static char *event_body(const struct event *ev)
{
    json_t *data = json_loads(ev->data ? ev->data : "{}", 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    const struct {
        const char *k, *v;
    } cols[] = {{"campaign_id", ev->campaign_id}, {"code", ev->code_key},     {"customer_id", ev->customer_id},
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

enum promo_err outbox_fanout(struct conn *c, const struct event *ev)
{
    struct hook_cache *h = hooks_load(c);
    if (!h)
        return PROMO_INTERNAL;
    char *body = NULL;
    enum promo_err rc = PROMO_OK;
    int64_t now_ms = time_now_ms();
    for (size_t i = 0; i < h->n && rc == PROMO_OK; i++) {
        if (!hook_wants(&h->v[i], ev->type))
            continue;
        if (!body && !(body = event_body(ev)))
            return PROMO_INTERNAL;
        char id[PROMO_ID_MAX];
        util_rand_id("msg_", id, sizeof id);
        struct message m = {.id = id, .channel = "webhook", .recipient = h->v[i].url, .webhook_id = h->v[i].id,
                            .event_id = ev->id, .event_type = ev->type, .customer_id = ev->customer_id,
                            .body_text = body};
        rc = message_insert(c, &m, now_ms);
    }
    free(body);
    return rc;
}

struct enqueue_args {
    const struct message *m;
    int64_t now_ms;
};

static enum promo_err op_enqueue(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct enqueue_args *ea = arg;
    return outbox_enqueue(c, ea->m, ea->now_ms);
}

enum promo_err sqlite_message_enqueue(struct sqlite_store *st, const struct message *m, int64_t now_ms)
{
    struct enqueue_args ea = {m, now_ms};
    return writer_run(st, op_enqueue, &ea);
}

/* ---- templates -------------------------------------------------------------------- */

#define TPL_COLS "id, name, subject, body_text, body_html, created_at, updated_at"

static void row_to_template(sqlite3_stmt *s, struct arena *a, struct template_rec *t)
{
    t->id = col_text(s, 0, a);
    t->name = col_text(s, 1, a);
    t->subject = col_text(s, 2, a);
    t->body_text = col_text(s, 3, a);
    t->body_html = col_text(s, 4, a);
    t->created_at = sqlite3_column_int64(s, 5);
    t->updated_at = sqlite3_column_int64(s, 6);
}

static const char SQL_TPL_GET[] = "SELECT " TPL_COLS " FROM templates WHERE id = ? AND deleted_at IS NULL";

enum promo_err template_read(struct conn *c, struct arena *a, const char *id, struct template_rec *out)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_TPL_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    enum promo_err rc = PROMO_OK;
    if (r == SQLITE_ROW)
        row_to_template(s, a, out);
    else
        rc = r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "template read");
    sqlite3_reset(s);
    return rc;
}

enum promo_err sqlite_template_get(struct sqlite_store *st, struct arena *a, const char *id, struct template_rec *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = template_read(c, a, id, out);
    reader_put(st, c);
    return rc;
}

static const char *page_row_to_template(sqlite3_stmt *s, struct arena *a, void *row)
{
    row_to_template(s, a, row);
    return ((const struct template_rec *)row)->id;
}

static const char SQL_TPL_LIST[] =
    "SELECT " TPL_COLS " FROM templates WHERE id > ?1 AND deleted_at IS NULL ORDER BY id LIMIT ?2";

enum promo_err sqlite_template_list(struct sqlite_store *st, struct arena *a, const char *cursor, int limit,
                                   struct template_rec **out, size_t *n, const char **next)
{
    void *rows;
    enum promo_err rc = page_by_id(st, a, SQL_TPL_LIST, "template list", cursor, limit,
                                   NULL, 0, sizeof(struct template_rec), page_row_to_template, &rows, n, next);
    *out = rows;
    return rc;
}

struct tpl_args {
    const struct template_rec *t;
    bool create;
    const char *actor, *id;
    int64_t now;
};

static const char SQL_TPL_INSERT[] =
    "INSERT INTO templates (id, name, subject, body_text, body_html, created_at, updated_at) VALUES (?,?,?,?,?,?,?)";
static const char SQL_TPL_UPDATE[] =
    "UPDATE templates SET name = ?2, subject = ?3, body_text = ?4, body_html = ?5, updated_at = ?7"
    " WHERE id = ?1 AND deleted_at IS NULL";

static char *actor_data(const char *actor)
{
    json_t *o = json_pack("{s:s?}", "by", actor);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static enum promo_err op_template_put(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct tpl_args *ta = arg;
    const struct template_rec *t = ta->t;
    sqlite3_stmt *s = conn_stmt(c, ta->create ? SQL_TPL_INSERT : SQL_TPL_UPDATE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, t->id);
    bind_text(s, 2, t->name);
    bind_text(s, 3, t->subject);
    bind_text(s, 4, t->body_text);
    bind_text(s, 5, t->body_html);
    bind_i64(s, 6, t->created_at);
    bind_i64(s, 7, t->updated_at);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    if (!ta->create && sqlite3_changes(c->db) == 0)
        return PROMO_NOT_FOUND;
    char *data = actor_data(ta->actor);
    rc = event_log(c, ta->create ? "template_created" : "template_updated", t->updated_at, NULL, NULL, NULL, NULL,
                   t->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_template_put(struct sqlite_store *st, const struct template_rec *t, bool create, const char *actor)
{
    struct tpl_args ta = {.t = t, .create = create, .actor = actor};
    return writer_run(st, op_template_put, &ta);
}

/* Marks a row of `table` deleted and logs `type`; shared by templates and
 * webhooks (the SQL names the table). */
static enum promo_err mark_deleted(struct conn *c, const char *sql, const struct tpl_args *da, const char *type)
{
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, da->id);
    bind_i64(s, 2, da->now);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return PROMO_NOT_FOUND;
    char *data = actor_data(da->actor);
    rc = event_log(c, type, da->now, NULL, NULL, NULL, NULL, da->id, NULL, data);
    free(data);
    return rc;
}

static const char SQL_TPL_DELETE[] = "UPDATE templates SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL";

static enum promo_err op_template_delete(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    return mark_deleted(c, SQL_TPL_DELETE, arg, "template_deleted");
}

enum promo_err sqlite_template_delete(struct sqlite_store *st, const char *id, int64_t now, const char *actor)
{
    struct tpl_args da = {.id = id, .now = now, .actor = actor};
    return writer_run(st, op_template_delete, &da);
}

/* ---- webhooks ---------------------------------------------------------------------- */

#define HOOK_COLS "id, url, event_types, secret, description, created_at"

static void row_to_webhook(sqlite3_stmt *s, struct arena *a, struct webhook *w)
{
    w->id = col_text(s, 0, a);
    w->url = col_text(s, 1, a);
    w->event_types = col_text(s, 2, a);
    w->secret = col_text(s, 3, a);
    w->description = col_text(s, 4, a);
    w->created_at = sqlite3_column_int64(s, 5);
}

static const char SQL_HOOK_INSERT[] =
    "INSERT INTO webhooks (id, url, event_types, secret, description, created_at) VALUES (?,?,?,?,?,?)";

struct hook_args {
    const struct webhook *w;
    const char *actor;
};

static enum promo_err op_webhook_create(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct hook_args *ha = arg;
    const struct webhook *w = ha->w;
    sqlite3_stmt *s = conn_stmt(c, SQL_HOOK_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, w->id);
    bind_text(s, 2, w->url);
    bind_text(s, 3, w->event_types);
    bind_text(s, 4, w->secret);
    bind_text(s, 5, w->description);
    bind_i64(s, 6, w->created_at);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    hook_cache_free(c); /* the next event sees the new subscription */
    json_t *o = json_pack("{s:s, s:s?}", "url", w->url, "by", ha->actor);
    json_object_set_new(o, "event_types", json_loads(w->event_types, 0, NULL));
    char *data = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    rc = event_log(c, "webhook_created", w->created_at, NULL, NULL, NULL, NULL, w->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_webhook_create(struct sqlite_store *st, const struct webhook *w, const char *actor)
{
    struct hook_args ha = {w, actor};
    return writer_run(st, op_webhook_create, &ha);
}

static const char SQL_HOOK_GET[] = "SELECT " HOOK_COLS " FROM webhooks WHERE id = ? AND deleted_at IS NULL";

enum promo_err sqlite_webhook_get(struct sqlite_store *st, struct arena *a, const char *id, struct webhook *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_HOOK_GET);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        bind_text(s, 1, id);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            row_to_webhook(s, a, out);
            rc = PROMO_OK;
        } else {
            rc = r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "webhook get");
        }
        sqlite3_reset(s);
    }
    reader_put(st, c);
    return rc;
}

static const char *page_row_to_webhook(sqlite3_stmt *s, struct arena *a, void *row)
{
    row_to_webhook(s, a, row);
    return ((const struct webhook *)row)->id;
}

static const char SQL_HOOK_LIST[] =
    "SELECT " HOOK_COLS " FROM webhooks WHERE id > ?1 AND deleted_at IS NULL ORDER BY id LIMIT ?2";

enum promo_err sqlite_webhook_list(struct sqlite_store *st, struct arena *a, const char *cursor, int limit,
                                  struct webhook **out, size_t *n, const char **next)
{
    void *rows;
    enum promo_err rc = page_by_id(st, a, SQL_HOOK_LIST, "webhook list", cursor, limit,
                                   NULL, 0, sizeof(struct webhook), page_row_to_webhook, &rows, n, next);
    *out = rows;
    return rc;
}

static const char SQL_HOOK_DELETE[] = "UPDATE webhooks SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL";

static enum promo_err op_webhook_delete(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    enum promo_err rc = mark_deleted(c, SQL_HOOK_DELETE, arg, "webhook_deleted");
    hook_cache_free(c);
    return rc;
}

enum promo_err sqlite_webhook_delete(struct sqlite_store *st, const char *id, int64_t now, const char *actor)
{
    struct tpl_args da = {.id = id, .now = now, .actor = actor};
    return writer_run(st, op_webhook_delete, &da);
}

/* ---- messages ---------------------------------------------------------------------- */

#define MSG_COLS                                                                                        \
    "id, channel, state, recipient, webhook_id, event_id, event_type, template_id, customer_id, subject," \
    " body_text, body_html, last_error, attempts, retry_base, next_attempt_at, created_at, sent_at, recipient_name"

static void row_to_message(sqlite3_stmt *s, struct arena *a, struct message *m)
{
    const char **txt[] = {&m->id,          &m->channel,    &m->state,       &m->recipient, &m->webhook_id,
                          &m->event_id,    &m->event_type, &m->template_id, &m->customer_id, &m->subject,
                          &m->body_text,   &m->body_html,  &m->last_error};
    int i = 0;
    for (; i < (int)(sizeof txt / sizeof txt[0]); i++)
        *txt[i] = col_text(s, i, a);
    m->attempts = sqlite3_column_int64(s, i++);
    m->retry_base = sqlite3_column_int64(s, i++);
    m->next_attempt_at = sqlite3_column_int64(s, i++);
    m->created_at = sqlite3_column_int64(s, i++);
    m->sent_at = col_opt(s, i++, 0);
    m->recipient_name = col_text(s, i, a);
}

static const char SQL_MSG_GET[] = "SELECT " MSG_COLS " FROM messages WHERE id = ?";

static enum promo_err message_read(struct conn *c, struct arena *a, const char *id, struct message *out)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_MSG_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    enum promo_err rc = PROMO_OK;
    if (r == SQLITE_ROW)
        row_to_message(s, a, out);
    else
        rc = r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "message read");
    sqlite3_reset(s);
    return rc;
}

enum promo_err sqlite_message_get(struct sqlite_store *st, struct arena *a, const char *id, struct message *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = message_read(c, a, id, out);
    reader_put(st, c);
    return rc;
}

static const char *page_row_to_message(sqlite3_stmt *s, struct arena *a, void *row)
{
    row_to_message(s, a, row);
    return ((const struct message *)row)->id;
}

static const char SQL_MSG_LIST[] = "SELECT " MSG_COLS " FROM messages WHERE id > ?1 AND (?3 IS NULL OR state = ?3)"
                                   " AND (?4 IS NULL OR channel = ?4) ORDER BY id LIMIT ?2";

enum promo_err sqlite_message_list(struct sqlite_store *st, struct arena *a, const char *state, const char *channel,
                                  const char *cursor, int limit, struct message **out, size_t *n,
                                  const char **next)
{
    const char *const filters[] = {state, channel};
    void *rows;
    enum promo_err rc = page_by_id(st, a, SQL_MSG_LIST, "message list", cursor, limit,
                                   filters, 2, sizeof(struct message), page_row_to_message, &rows, n, next);
    *out = rows;
    return rc;
}

#define ATTEMPTS_MAX 1000
static const char SQL_ATTEMPTS[] = "SELECT n, started_at, duration_ms, ok, status, error FROM message_attempts"
                                   " WHERE message_id = ? ORDER BY seq LIMIT 1000";

enum promo_err sqlite_message_attempts(struct sqlite_store *st, struct arena *a, const char *id,
                                      struct message_attempt **out, size_t *n)
{
    *n = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    struct message m;
    enum promo_err rc = message_read(c, a, id, &m);
    sqlite3_stmt *s = rc == PROMO_OK ? conn_stmt(c, SQL_ATTEMPTS) : NULL;
    if (!s) {
        reader_put(st, c);
        return rc == PROMO_OK ? PROMO_INTERNAL : rc;
    }
    bind_text(s, 1, id);
    *out = arena_alloc(a, sizeof(**out) * ATTEMPTS_MAX);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < ATTEMPTS_MAX) {
        struct message_attempt *t = &(*out)[(*n)++];
        t->n = sqlite3_column_int64(s, 0);
        t->started_at = sqlite3_column_int64(s, 1);
        t->duration_ms = sqlite3_column_int64(s, 2);
        t->ok = sqlite3_column_int64(s, 3) != 0;
        t->status = col_opt(s, 4, 0);
        t->error = col_text(s, 5, a);
    }
    rc = r == SQLITE_ROW || r == SQLITE_DONE ? PROMO_OK : db_fail(c, "attempts");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

struct retry_args {
    struct arena *a;
    const char *id, *actor;
    int64_t now_ms;
    struct message *out;
};

static const char SQL_MSG_RETRY[] = "UPDATE messages SET state = 'queued', retry_base = attempts,"
                                    " next_attempt_at = ?2, last_error = NULL WHERE id = ?1 AND state = 'dead'";

static enum promo_err op_retry(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct retry_args *ra = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_MSG_RETRY);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ra->id);
    bind_i64(s, 2, ra->now_ms);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    bool changed = sqlite3_changes(c->db) > 0;
    rc = message_read(c, ra->a, ra->id, ra->out);
    if (rc != PROMO_OK)
        return rc;
    if (!changed)
        return PROMO_CONFLICT;
    char *data = actor_data(ra->actor);
    rc = event_log_opts(c, "message_retried", ra->now_ms / 1000, NULL, NULL, ra->out->customer_id, NULL, ra->id,
                        NULL, data, !is_webhook(ra->out->channel));
    free(data);
    return rc;
}

enum promo_err sqlite_message_retry(struct sqlite_store *st, struct arena *a, const char *id, int64_t now_ms,
                                   const char *actor, struct message *out)
{
    struct retry_args ra = {a, id, actor, now_ms, out};
    return writer_run(st, op_retry, &ra);
}

/* ---- the workers' side ----------------------------------------------------------- */

static const char SQL_NEXT_DUE[] =
    "SELECT min(next_attempt_at) FROM messages WHERE state IN ('queued', 'sending')";

enum promo_err sqlite_outbox_next_due(struct sqlite_store *st, int64_t *due)
{
    *due = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_NEXT_DUE);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            *due = col_opt(s, 0, 0);
            rc = PROMO_OK;
        } else {
            rc = db_fail(c, "next due");
        }
        sqlite3_reset(s);
    }
    reader_put(st, c);
    return rc;
}

static const char SQL_COUNTS[] =
    "SELECT state, count(*) FROM messages WHERE state IN ('queued', 'sending', 'dead') GROUP BY state";

enum promo_err sqlite_outbox_counts(struct sqlite_store *st, int64_t *queued, int64_t *sending, int64_t *dead)
{
    *queued = *sending = *dead = 0;
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, SQL_COUNTS);
    if (!s) {
        reader_put(st, c);
        return PROMO_INTERNAL;
    }
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        int64_t n = sqlite3_column_int64(s, 1);
        *(strcmp(state, "queued") == 0 ? queued : strcmp(state, "sending") == 0 ? sending : dead) = n;
    }
    enum promo_err rc = r == SQLITE_DONE ? PROMO_OK : db_fail(c, "outbox counts");
    sqlite3_reset(s);
    reader_put(st, c);
    return rc;
}

struct claim_args {
    struct arena *a;
    int64_t now_ms, lease_ms;
    struct message *out;
};

/* One statement picks and marks the row, so two workers never claim the
 * same one (and the single writer runs claims one at a time anyway). */
static const char SQL_CLAIM[] =
    "UPDATE messages SET state = 'sending', next_attempt_at = ?2 WHERE seq = (SELECT seq FROM messages"
    " WHERE state IN ('queued', 'sending') AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT 1)"
    " RETURNING id";

static enum promo_err op_claim(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct claim_args *ca = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_CLAIM);
    if (!s)
        return PROMO_INTERNAL;
    bind_i64(s, 1, ca->now_ms);
    bind_i64(s, 2, ca->now_ms + ca->lease_ms);
    int r = sqlite3_step(s);
    const char *id = r == SQLITE_ROW ? col_text(s, 0, ca->a) : NULL;
    if (r == SQLITE_ROW)
        r = sqlite3_step(s); /* finish the statement so the update completes */
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return db_fail(c, "claim");
    return id ? message_read(c, ca->a, id, ca->out) : PROMO_NOT_FOUND;
}

enum promo_err sqlite_outbox_claim(struct sqlite_store *st, struct arena *a, int64_t now_ms, int64_t lease_ms,
                                  struct message *out)
{
    struct claim_args ca = {a, now_ms, lease_ms, out};
    return writer_run(st, op_claim, &ca);
}

struct record_args {
    const char *id;
    const struct message_attempt *at;
    bool dead;
    int64_t next;
};

static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO message_attempts (message_id, n, started_at, duration_ms, ok, status, error)"
    " VALUES (?1, (SELECT attempts + 1 FROM messages WHERE id = ?1), ?2, ?3, ?4, ?5, ?6)";
static const char SQL_MSG_AFTER[] =
    "UPDATE messages SET attempts = attempts + 1, state = ?2, next_attempt_at = ?3, last_error = ?4,"
    " sent_at = CASE WHEN ?2 = 'sent' THEN ?5 ELSE sent_at END WHERE id = ?1 AND state = 'sending'"
    " RETURNING channel, customer_id, attempts";

static enum promo_err op_record(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct record_args *ra = arg;
    const struct message_attempt *at = ra->at;
    sqlite3_stmt *s = conn_stmt(c, SQL_ATTEMPT_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ra->id);
    bind_i64(s, 2, at->started_at);
    bind_i64(s, 3, at->duration_ms);
    bind_i64(s, 4, at->ok);
    bind_opt(s, 5, at->status, 0);
    bind_text(s, 6, at->error);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    const char *state = at->ok ? "sent" : ra->dead ? "dead" : "queued";
    s = conn_stmt(c, SQL_MSG_AFTER);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ra->id);
    bind_text(s, 2, state);
    bind_i64(s, 3, ra->next);
    bind_text(s, 4, at->ok ? NULL : at->error);
    bind_i64(s, 5, at->started_at + at->duration_ms);
    struct arena a = {0};
    int r = sqlite3_step(s);
    const char *channel = r == SQLITE_ROW ? col_text(s, 0, &a) : NULL;
    const char *customer = r == SQLITE_ROW ? col_text(s, 1, &a) : NULL;
    int64_t attempts = r == SQLITE_ROW ? sqlite3_column_int64(s, 2) : 0;
    if (r == SQLITE_ROW)
        r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        arena_free(&a);
        return db_fail(c, "record");
    }
    /* No row: the claim lapsed and another worker took the message over;
     * its attempt is recorded, the other worker's outcome decides. */
    if (channel && strcmp(state, "queued") != 0) {
        json_t *o = json_pack("{s:s, s:I, s:s?}", "channel", channel, "attempts", (json_int_t)attempts, "error",
                              at->ok ? NULL : at->error);
        char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        rc = event_log_opts(c, at->ok ? "message_sent" : "message_dead", (at->started_at + at->duration_ms) / 1000,
                            NULL, NULL, customer, NULL, ra->id, NULL, data, !is_webhook(channel));
        free(data);
    }
    arena_free(&a);
    return rc;
}

enum promo_err sqlite_outbox_record(struct sqlite_store *st, const char *id, const struct message_attempt *at, bool dead,
                                   int64_t next_attempt_at)
{
    struct record_args ra = {id, at, dead, next_attempt_at};
    return writer_run(st, op_record, &ra);
}
