/* auth.h — what tokens.c and oauth.c share. Private to api/. */
#ifndef PROMO_API_AUTH_H
#define PROMO_API_AUTH_H

#include "api/api.h"

#define API_ROLE_NAMES "admin, marketer, integration, storefront, viewer"

/* The expiry of something that lives `ttl` seconds from now: rounded up
 * to the next whole second (times are stored in seconds), so it lives at
 * least `ttl` seconds and at most one more. */
int64_t api_expiry_after(int64_t ttl);

/* A token as the API shows it (never its secret); `secret` is added when
 * not NULL (only the answer that made it). A new jansson reference. */
json_t *api_token_json(const struct token *t, const char *secret);

/* An RFC 3339 time or JSON null for 0. */
json_t *api_time_or_null(int64_t t);

/* The member "role" of a body: required, one of API_ROLE_NAMES (400
 * naming it otherwise). *role lives in r->a. */
bool api_parse_role(struct api_req *r, json_t *body, const char **role, struct api_resp *w);

/* Checks a list cursor: an id this server gave out, with this prefix. */
bool api_cursor_ok(const char *cursor, const char *prefix, struct api_resp *w);

#endif
