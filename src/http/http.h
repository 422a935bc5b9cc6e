/* http.h — the HTTP listener (libmicrohttpd): routing, bodies read into a
 * capped buffer (413 past the cap), bearer authentication, and writing the
 * api/ layer's answers. */
#ifndef PROMO_HTTP_H
#define PROMO_HTTP_H

#include "api/api.h"

struct http_server;

/* Starts listening on "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080",
 * ":8080"). Returns NULL with a sentence in err on failure. The caller
 * stops it with http_stop(), which waits for requests in flight. */
struct http_server *http_start(struct api_ctx *ctx, const char *listen, char *err, size_t errlen);
void http_stop(struct http_server *s);

#endif
