/* messages.c — /v1/messages: the outbox seen from the API. POST renders a
 * template (or inline texts) for one recipient and queues it: the 202
 * means it is stored, durable, and will be attempted until it is sent or
 * dead-lettered. Delivery never happens in the request. GET lists the
 * outbox with each message's state and attempts; /retry gives a dead
 * message a fresh allowance of attempts. */
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/jsonin.h"
#include "api/outbox.h"
#include "util/rand.h"
#include "util/timeutil.h"

static const char *const MSG_FIELDS[] = {"channel", "template_id", "subject", "body_text", "body_html",
                                         "customer", "data", "webhook_id", "event_type", NULL};

static json_t *message_json(const struct message *m)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:I, s:o, s:s?, s:o, s:o}", "id",
                          m->id, "channel", m->channel, "state", m->state, "recipient", m->recipient, "webhook_id",
                          m->webhook_id, "event_id", m->event_id, "event_type", m->event_type, "template_id",
                          m->template_id, "customer_id", m->customer_id, "attempts", (json_int_t)m->attempts,
                          "next_attempt_at",
                          strcmp(m->state, "queued") == 0 ? api_time_ms(m->next_attempt_at) : json_null(),
                          "last_error", m->last_error, "created_at", api_time_ms(m->created_at), "sent_at",
                          api_time_ms(m->sent_at));
    if (!o)
        return NULL;
    json_object_set_new(o, "recipient_name", m->recipient_name ? json_string(m->recipient_name) : json_null());
    json_object_set_new(o, "subject", m->subject ? json_string(m->subject) : json_null());
    json_object_set_new(o, "body_text", m->body_text ? json_string(m->body_text) : json_null());
    json_object_set_new(o, "body_html", m->body_html ? json_string(m->body_html) : json_null());
    return o;
}

/* An address libcurl can put in RCPT TO and a To: header as it is. */
static bool email_ok(const char *e)
{
    const char *at = e ? strchr(e, '@') : NULL;
    if (!at || at == e || !at[1] || strchr(at + 1, '@') || strlen(e) > 254)
        return false;
    for (const char *p = e; *p; p++)
        if ((unsigned char)*p <= 0x20 || strchr("<>,;\"()[]\\", *p))
            return false;
    return true;
}

struct msg_in {
    const char *channel, *template_id, *webhook_id, *event_type;
    struct template_rec tpl; /* the template's texts (or the inline ones) */
    json_t *customer, *data; /* borrowed from the body */
};

static bool parse_message(struct api_req *r, json_t *body, struct msg_in *in, struct api_resp *w)
{
    if (!jin_only(body, "", MSG_FIELDS, w) ||
        !jin_str(r->a, body, "channel", "", true, false, 16, &in->channel, w) ||
        !jin_str(r->a, body, "template_id", "", false, true, PROMO_ID_MAX, &in->template_id, w) ||
        !jin_str(r->a, body, "webhook_id", "", false, true, PROMO_ID_MAX, &in->webhook_id, w) ||
        !jin_str(r->a, body, "event_type", "", false, true, 100, &in->event_type, w) ||
        !jin_obj(body, "customer", "", false, &in->customer, w) || !jin_obj(body, "data", "", false, &in->data, w))
        return false;
    bool email = strcmp(in->channel, "email") == 0;
    if (!email && strcmp(in->channel, "webhook") != 0) {
        api_error(w, PROMO_BAD_REQUEST, "channel must be email or webhook");
        return false;
    }
    bool inline_text = json_object_get(body, "subject") || json_object_get(body, "body_text") ||
                       json_object_get(body, "body_html");
    if (in->template_id && inline_text) {
        api_error(w, PROMO_BAD_REQUEST, "give template_id or subject/body_text/body_html, not both");
        return false;
    }
    if (in->template_id) {
        enum promo_err rc = store_template_get(r->ctx->st, r->a, in->template_id, &in->tpl);
        if (rc != PROMO_OK) {
            if (rc == PROMO_NOT_FOUND)
                api_error(w, PROMO_BAD_REQUEST, "template_id names no template");
            else
                api_store_error(w, rc, "template");
            return false;
        }
        return true;
    }
    return api_tpl_fields(r, body, &in->tpl, email, w);
}

/* The values templates see: `data` with `customer` set. A new reference. */
static json_t *render_data(const struct msg_in *in)
{
    json_t *d = in->data ? json_deep_copy(in->data) : json_object();
    if (in->customer)
        json_object_set(d, "customer", in->customer);
    return d;
}

/* The JSON a webhook message POSTs: the event shape of docs/webhooks.md. */
static const char *webhook_body(struct api_req *r, const struct message *m, json_t *vars,
                                const struct template_rec *out)
{
    char at[TIME_STR_MAX];
    time_format(r->now, at);
    json_t *d = json_deep_copy(vars);
    if (out->subject || out->body_text || out->body_html)
        json_object_set_new(d, "message", json_pack("{s:s?, s:s?, s:s?}", "subject", out->subject, "text",
                                                    out->body_text, "html", out->body_html));
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", m->id, "type", m->event_type, "occurred_at", at, "data", d);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    const char *copy = arena_strdup(r->a, s);
    free(s);
    return copy;
}

/* Fills recipient (and the webhook's body) of m; false with w set. */
static bool address(struct api_req *r, struct msg_in *in, struct message *m, json_t *vars,
                    const struct template_rec *out, struct api_resp *w)
{
    if (strcmp(in->channel, "email") == 0) {
        m->recipient = json_string_value(json_object_get(in->customer, "email"));
        if (!m->recipient) {
            api_error(w, PROMO_BAD_REQUEST, "customer.email is required to send an e-mail");
            return false;
        }
        if (!email_ok(m->recipient)) {
            api_error(w, PROMO_BAD_REQUEST, "customer.email is not an e-mail address");
            return false;
        }
        return true;
    }
    if (!in->webhook_id) {
        api_error(w, PROMO_BAD_REQUEST, "webhook_id is required for the webhook channel");
        return false;
    }
    struct webhook h;
    enum promo_err rc = store_webhook_get(r->ctx->st, r->a, in->webhook_id, &h);
    if (rc != PROMO_OK) {
        if (rc == PROMO_NOT_FOUND)
            api_error(w, PROMO_BAD_REQUEST, "webhook_id names no webhook");
        else
            api_store_error(w, rc, "webhook");
        return false;
    }
    m->recipient = h.url;
    m->recipient_name = NULL;
    m->webhook_id = h.id;
    m->event_type = in->event_type ? in->event_type : "message";
    m->body_text = webhook_body(r, m, vars, out);
    m->subject = m->body_html = NULL;
    return true;
}

void api_message_send(struct api_req *r, struct api_resp *w)
{
    json_t *body = jin_object(r, w);
    if (!body)
        return;
    struct msg_in in = {0};
    struct template_rec out;
    json_t *vars = NULL;
    char id[PROMO_ID_MAX];
    util_rand_id("msg_", id, sizeof id);
    struct message m = {.id = id, .state = "queued"};
    bool ok = parse_message(r, body, &in, w);
    if (ok) {
        vars = render_data(&in);
        ok = api_tpl_render(r, &in.tpl, vars, &out, w);
    }
    if (ok) {
        m.channel = in.channel;
        m.template_id = in.template_id;
        m.customer_id = arena_strdup(r->a, json_string_value(json_object_get(in.customer, "id")));
        m.recipient_name = arena_strdup(r->a, json_string_value(json_object_get(in.customer, "name")));
        m.subject = out.subject;
        m.body_text = out.body_text;
        m.body_html = out.body_html;
        ok = address(r, &in, &m, vars, &out, w);
        m.recipient = arena_strdup(r->a, m.recipient);
    }
    json_decref(vars);
    json_decref(body);
    if (!ok)
        return;
    int64_t now_ms = time_now_ms();
    enum promo_err rc = store_message_enqueue(r->ctx->st, &m, now_ms);
    if (rc != PROMO_OK)
        return api_store_error(w, rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc, "message");
    m.created_at = m.next_attempt_at = now_ms;
    api_json(w, 202, message_json(&m));
}

void api_message_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    const char *cursor = r->query(r->qctx, "cursor"), *state = r->query(r->qctx, "state"),
               *channel = r->query(r->qctx, "channel");
    if (!jin_query_limit(r, &limit, w) || !api_cursor_ok(cursor, "msg_", w))
        return;
    if (state && strcmp(state, "queued") && strcmp(state, "sending") && strcmp(state, "sent") && strcmp(state, "dead"))
        return api_error(w, PROMO_BAD_REQUEST, "state must be queued, sending, sent or dead");
    if (channel && strcmp(channel, "email") && strcmp(channel, "webhook"))
        return api_error(w, PROMO_BAD_REQUEST, "channel must be email or webhook");
    struct message *v;
    size_t n;
    const char *next;
    enum promo_err rc = store_message_list(r->ctx->st, r->a, state, channel, cursor, limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "message");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, message_json(&v[i]));
    api_json(w, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next ? json_string(next) : json_null()));
}

void api_message_get(struct api_req *r, struct api_resp *w)
{
    struct message m;
    enum promo_err rc = store_message_get(r->ctx->st, r->a, r->params[0], &m);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "message");
    api_json(w, 200, message_json(&m));
}

void api_message_attempts(struct api_req *r, struct api_resp *w)
{
    struct message_attempt *v;
    size_t n;
    enum promo_err rc = store_message_attempts(r->ctx->st, r->a, r->params[0], &v, &n);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "message");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, json_pack("{s:I, s:o, s:I, s:b, s:o, s:s?}", "n", (json_int_t)v[i].n,
                                              "started_at", api_time_ms(v[i].started_at), "duration_ms",
                                              (json_int_t)v[i].duration_ms, "ok", v[i].ok, "status",
                                              v[i].status ? json_integer(v[i].status) : json_null(), "error",
                                              v[i].error));
    api_json(w, 200, json_pack("{s:s, s:o}", "message_id", r->params[0], "data", data));
}

void api_message_retry(struct api_req *r, struct api_resp *w)
{
    struct message m;
    enum promo_err rc = store_message_retry(r->ctx->st, r->a, r->params[0], time_now_ms(), r->auth.id, &m);
    if (rc == PROMO_CONFLICT)
        return api_error(w, rc, "only a dead message can be retried; this one is %s", m.state);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "message");
    api_json(w, 200, message_json(&m));
}

void api_outbox_metrics(struct api_ctx *ctx, FILE *f)
{
    int64_t queued, sending, dead;
    if (store_outbox_counts(ctx->st, &queued, &sending, &dead) != PROMO_OK)
        return;
    fprintf(f, "# HELP promo_outbox_messages Messages of the outbox not sent yet, by state.\n"
               "# TYPE promo_outbox_messages gauge\n"
               "promo_outbox_messages{state=\"queued\"} %lld\npromo_outbox_messages{state=\"sending\"} %lld\n"
               "promo_outbox_messages{state=\"dead\"} %lld\n",
            (long long)queued, (long long)sending, (long long)dead);
}
