/* smtp.c — one e-mail over SMTP through libcurl (send.h). libcurl speaks
 * SMTP (EHLO, STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA) and builds the MIME
 * body; this file only writes the headers. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notify/curl_int.h"
#include "notify/send.h"

#define HDR_MAX 2048

/* An RFC 2047 "encoded-word" run (=?UTF-8?B?...?=) of any UTF-8 text,
 * split so no word passes 75 characters and no character is cut. Always
 * encoding also keeps CR and LF out of the headers (no header injection). */
static void encode_words(const char *s, char *out, size_t outlen)
{
    size_t len = strlen(s), pos = 0, o = 0;
    out[0] = 0;
    while (pos < len && o + 80 < outlen) {
        size_t n = len - pos > 45 ? 45 : len - pos;
        while (n > 0 && pos + n < len && ((unsigned char)s[pos + n] & 0xC0) == 0x80)
            n--; /* do not end inside a UTF-8 sequence */
        if (n == 0)
            n = len - pos > 45 ? 45 : len - pos;
        char b64[64 + 4];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + pos, n, sodium_base64_VARIANT_ORIGINAL);
        o += (size_t)snprintf(out + o, outlen - o, "%s=?UTF-8?B?%s?=", o ? "\r\n " : "", b64);
        pos += n;
    }
}

/* An address must not carry header or SMTP syntax of its own. */
static bool address_ok(const char *a)
{
    return a && *a && strlen(a) < 320 && !strpbrk(a, "\r\n<>,;\" ") && strchr(a, '@');
}

static struct curl_slist *mail_headers(const struct smtp_conf *c, const struct smtp_mail *m)
{
    char line[HDR_MAX], enc[HDR_MAX - 64];
    struct curl_slist *h = NULL;
    snprintf(line, sizeof line, "From: <%s>", c->from);
    h = curl_slist_append(h, line);
    if (m->to_name && *m->to_name) {
        encode_words(m->to_name, enc, sizeof enc);
        snprintf(line, sizeof line, "To: %s <%s>", enc, m->to);
    } else {
        snprintf(line, sizeof line, "To: <%s>", m->to);
    }
    h = curl_slist_append(h, line);
    encode_words(m->subject ? m->subject : "", enc, sizeof enc);
    snprintf(line, sizeof line, "Subject: %s", enc);
    h = curl_slist_append(h, line);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "Message-ID: <%.100s@promo>", m->message_id);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Promo-Message: %.100s", m->message_id);
    return curl_slist_append(h, line);
}

static void add_text_part(curl_mime *mime, const char *data, const char *type)
{
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_data(p, data, CURL_ZERO_TERMINATED);
    curl_mime_type(p, type);
    curl_mime_encoder(p, "quoted-printable");
}

/* The body: one part, or text and HTML as multipart/alternative. */
static curl_mime *mail_body(CURL *h, const struct smtp_mail *m)
{
    curl_mime *mime = curl_mime_init(h);
    if (m->body_text && m->body_html) {
        curl_mime *alt = curl_mime_init(h);
        add_text_part(alt, m->body_text, "text/plain; charset=utf-8");
        add_text_part(alt, m->body_html, "text/html; charset=utf-8");
        curl_mimepart *p = curl_mime_addpart(mime);
        curl_mime_subparts(p, alt);
        curl_mime_type(p, "multipart/alternative");
    } else if (m->body_html) {
        add_text_part(mime, m->body_html, "text/html; charset=utf-8");
    } else {
        add_text_part(mime, m->body_text ? m->body_text : "", "text/plain; charset=utf-8");
    }
    return mime;
}

void notify_smtp_send(const struct smtp_conf *c, const struct smtp_mail *m, struct send_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!c->host || !*c->host) {
        snprintf(r->error, sizeof r->error, "no SMTP server is configured ([smtp] host)");
        return;
    }
    if (!address_ok(m->to) || !address_ok(c->from)) {
        snprintf(r->error, sizeof r->error, "not a usable e-mail address");
        return;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return;
    }
    char url[1200], from[400], to[400];
    snprintf(url, sizeof url, "smtp://%s:%d", c->host, c->port);
    snprintf(from, sizeof from, "<%s>", c->from);
    snprintf(to, sizeof to, "<%s>", m->to);
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    struct curl_slist *hdr = mail_headers(c, m);
    curl_mime *mime = mail_body(h, m);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_USE_SSL, c->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
    if (c->username && *c->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    notify_set_cancel(h, c->cancel);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    r->ok = rc == CURLE_OK;
    if (!r->ok)
        snprintf(r->error, sizeof r->error, "%s (SMTP %ld)", curl_easy_strerror(rc), r->status);
    curl_mime_free(mime);
    curl_slist_free_all(hdr);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
}
