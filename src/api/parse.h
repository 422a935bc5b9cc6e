/* parse.h — the request-body parsers of api/, callable without a server or
 * a database. The handlers call them; so do the libFuzzer harnesses in
 * tests/fuzz, which is why they are not `static`. Private to api/ (and the
 * harnesses): nothing else includes this header.
 *
 * Each parser writes a 400 answer into w (api_error's shape, naming the
 * field) when it refuses, and allocates only from the arena it is given,
 * except where said otherwise. */
#ifndef PROMO_API_PARSE_H
#define PROMO_API_PARSE_H

#include <stdbool.h>

#include "api/api.h"

/* ---- campaigns (campaigns.c) ----------------------------------------------- */

/* The defaults a new campaign starts from before its body is applied:
 * open-ended window, no limits, live, created and updated at `now`. */
void api_campaign_init(struct campaign *c, int64_t now);

/* Applies the members present in `body` to *c (defaults already in *c).
 * Used by create and by PATCH (create false), where limits and rules merge
 * key by key and a discount replaces the old one whole. Strings put in *c
 * live in `a`. */
bool api_parse_campaign(struct arena *a, json_t *body, struct campaign *c, bool create,
                        struct api_resp *w);

/* A campaign as API.md shows it (a new jansson reference, the caller's). */
json_t *api_campaign_json(const struct campaign *c, int64_t now);

/* ---- validate, redeem, reserve (redemptions.c) ------------------------------ */

/* A parsed use request. `req` points into the struct itself (key, order), so
 * the struct must not be copied after parsing. */
struct use_body {
    struct use_req req;
    struct order order;
    char key[CODEFMT_KEY_MAX + 1];
    enum promo_err format; /* PROMO_INVALID_FORMAT when the code cannot be a code */
};

/* Reads the body shared by validate, redeem and reserve. Uses r->a,
 * r->body (hashed with r->idem_key for idempotency), r->idem_key and
 * r->now. A code that cannot be a code is not a 400 but u->format. */
bool api_parse_use(struct api_req *r, json_t *body, bool need_order_id, struct use_body *u,
                   struct api_resp *w);

/* ---- CSV import (codes.c) ----------------------------------------------------- */

/* Parses an import body of `len` bytes (NUL-terminated at body[len], no NUL
 * inside: the handler refuses those first) into one row per non-blank
 * record, each checked (row->reject_reason set when refused). On 0, *rows
 * (malloc'd: the caller frees it, also when *n is 0) holds *n rows whose
 * strings live in `a`. On -1 nothing is allocated and *header_err says
 * what is wrong with the header (or is NULL when libcsv could not start). */
int api_parse_csv(struct arena *a, const char *body, size_t len, struct import_row **rows, size_t *n,
                  const char **header_err);

#endif
