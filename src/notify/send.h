/* send.h — the two senders of the outbox, over libcurl. Each call makes one
 * attempt, bounded by the timeouts it is given, and reports what happened;
 * retrying is the caller's business (jobs/delivery.c). Safe to call from
 * several threads at once (one curl handle per call). */
#ifndef PROMO_NOTIFY_SEND_H
#define PROMO_NOTIFY_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEND_ERR_MAX 256

struct send_result {
    bool ok;
    long status;               /* HTTP status or the SMTP server's last reply code; 0: no answer */
    char error[SEND_ERR_MAX];  /* why it failed ("" when ok) */
};

struct smtp_conf {
    const char *host; /* NULL or "": no server configured */
    int port;
    const char *from;
    const char *username, *password; /* NULL or "": no AUTH */
    bool starttls;                   /* require STARTTLS */
    long timeout_ms, connect_timeout_ms;
    const volatile int *cancel; /* when it becomes non-zero the attempt is abandoned; may be NULL */
};

struct smtp_mail {
    const char *to, *to_name;              /* to_name may be NULL */
    const char *subject;                   /* UTF-8; encoded for the header here */
    const char *body_text, *body_html;     /* either may be NULL, not both */
    const char *message_id;                /* promo's id, also put in a header */
};

/* Sends one e-mail (multipart/alternative when both bodies are given). */
void notify_smtp_send(const struct smtp_conf *c, const struct smtp_mail *m, struct send_result *r);

struct webhook_post {
    const char *url, *secret;
    const char *body; /* JSON */
    const char *delivery_id, *event_type;
    int64_t timestamp; /* Unix seconds: X-Promo-Timestamp, signed with the body */
    long timeout_ms, connect_timeout_ms;
    const volatile int *cancel; /* as in smtp_conf */
};

/* POSTs a signed webhook body; ok on a 2xx answer. */
void notify_webhook_send(const struct webhook_post *p, struct send_result *r);

#endif
