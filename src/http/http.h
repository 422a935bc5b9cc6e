/* http.h — the HTTP listener (libmicrohttpd): routing, bodies read into a
 * capped buffer (413 past the cap), bearer authentication, and writing the
 * api/ layer's answers. */
#ifndef PROMO_HTTP_H
#define PROMO_HTTP_H

#include "api/api.h"

struct http_server;

/* HTTPS instead of HTTP: PEM files of the certificate (chain) and its
 * private key, read once at start. */
struct http_tls {
    const char *cert_file;
    const char *key_file;
};

/* Starts listening on "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080",
 * ":8080"), over TLS 1.2/1.3 when tls is not NULL. Returns NULL with a
 * sentence in err on failure (a TLS file that is missing, unreadable, not
 * PEM or not a matching pair is named). The caller stops it with
 * http_stop(), which waits for requests in flight. */
struct http_server *http_start(struct api_ctx *ctx, const char *listen, const struct http_tls *tls,
                               char *err, size_t errlen);
void http_stop(struct http_server *s);

#endif
