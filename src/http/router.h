/* router.h — private to http/: the route table and its matcher. */
#ifndef PROMO_HTTP_ROUTER_H
#define PROMO_HTTP_ROUTER_H

#include <stddef.h>

#include "api/api.h"

#define ROUTE_PARAMS_MAX 3

struct route {
    const char *method;
    const char *pattern;
    api_handler handler;
    unsigned roles;  /* enum role bits admitted; 0: public, no token needed */
    size_t body_max; /* larger bodies get 413 */
};

struct route_match {
    const struct route *route;
    const char *param[ROUTE_PARAMS_MAX]; /* spans into the path */
    size_t param_len[ROUTE_PARAMS_MAX];
    int n_params;
};

/* 200 with *m filled, 405 when the path exists for other methods, or 404. */
int router_find(const char *method, const char *path, struct route_match *m);
/* The methods the path accepts, "GET, PATCH", for the Allow header. */
const char *router_allowed(const char *path, char *buf, size_t len);

#endif
