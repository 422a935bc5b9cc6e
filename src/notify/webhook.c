/* webhook.c — one signed POST of a webhook delivery (send.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "notify/curl_int.h"
#include "notify/send.h"
#include "notify/sign.h"

/* The receiver's answer body is not kept: only its status counts. */
static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static int cancelled(void *cancel, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return cancel && *(const volatile int *)cancel ? 1 : 0;
}

/* Lets a stopping server abandon an attempt instead of waiting out its timeout. */
void notify_set_cancel(CURL *h, const volatile int *cancel)
{
    if (!cancel)
        return;
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cancelled);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)(uintptr_t)cancel);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
}

void notify_webhook_send(const struct webhook_post *p, struct send_result *r)
{
    memset(r, 0, sizeof(*r));
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return;
    }
    char sig[SIGN_HEADER_MAX], line[256];
    notify_sign(p->secret, p->timestamp, p->body, strlen(p->body), sig);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    snprintf(line, sizeof line, "X-Promo-Timestamp: %lld", (long long)p->timestamp);
    hd = curl_slist_append(hd, line);
    snprintf(line, sizeof line, "X-Promo-Signature: %s", sig);
    hd = curl_slist_append(hd, line);
    snprintf(line, sizeof line, "X-Promo-Delivery: %.200s", p->delivery_id);
    hd = curl_slist_append(hd, line);
    if (p->event_type) {
        snprintf(line, sizeof line, "X-Promo-Event: %.200s", p->event_type);
        hd = curl_slist_append(hd, line);
    }
    hd = curl_slist_append(hd, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, p->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(p->body));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "promo-webhooks/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: we are one thread of many */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is not an acceptance */
    notify_set_cancel(h, p->cancel);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(r->error, sizeof r->error, "no answer within %ld ms", p->timeout_ms);
    } else if (rc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        r->ok = r->status >= 200 && r->status < 300;
        if (!r->ok)
            snprintf(r->error, sizeof r->error, "HTTP %ld", r->status);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}
