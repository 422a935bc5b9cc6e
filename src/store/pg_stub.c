/* pg_stub.c — temporary: the PostgreSQL backend's entry points before it exists. */
#include <stdio.h>

#include "store/backend.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

enum promo_err pg_open(const char *url, struct pg_store **out, char *err, size_t errlen)
{
    (void)url;
    (void)out;
    snprintf(err, errlen, "the PostgreSQL store is not built yet: use a SQLite file path");
    return PROMO_UNAVAILABLE;
}
void pg_close(struct pg_store *st) { (void)st; }
enum promo_err pg_ping(struct pg_store *st) { (void)st; return PROMO_UNAVAILABLE; }

#define STUB_X(name, params, args) \
    enum promo_err pg_##name(struct pg_store *st, STORE_STRIP params) { (void)st; return PROMO_UNAVAILABLE; }
#define STUB_V(name, params, args) \
    void pg_##name(struct pg_store *st, STORE_STRIP params) { (void)st; }
STORE_FNS(STUB_X, STUB_V)
