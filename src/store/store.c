/* store.c — the store.h calls, each handed to the backend store_open chose
 * from the --db string: postgres:// or postgresql:// → PostgreSQL
 * (pg_*.c), anything else → a SQLite file (sqlite_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

/* Exactly one of the two is set. */
struct store {
    struct sqlite_store *sq;
    struct pg_store *pg;
};

static bool is_pg_url(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

enum promo_err store_open(const char *url, struct store **out, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return PROMO_INTERNAL;
    }
    enum promo_err rc = is_pg_url(url) ? pg_open(url, &st->pg, err, errlen) : sqlite_open(url, &st->sq, err, errlen);
    if (rc != PROMO_OK) {
        free(st);
        return rc;
    }
    *out = st;
    return PROMO_OK;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->pg)
        pg_close(st->pg);
    else
        sqlite_close(st->sq);
    free(st);
}

enum promo_err store_ping(struct store *st)
{
    return st->pg ? pg_ping(st->pg) : sqlite_ping(st->sq);
}

bool store_supports(struct store *st, enum store_feature f)
{
    return st->pg ? pg_supports(st->pg, f) : true;
}

const char *store_backend_name(struct store *st)
{
    return st->pg ? "PostgreSQL" : "SQLite";
}

#define DISPATCH_X(name, params, args)                                                          \
    enum promo_err store_##name(struct store *st, STORE_STRIP params)                           \
    {                                                                                           \
        return st->pg ? pg_##name(st->pg, STORE_STRIP args) : sqlite_##name(st->sq, STORE_STRIP args); \
    }
#define DISPATCH_V(name, params, args)                                                          \
    void store_##name(struct store *st, STORE_STRIP params)                                     \
    {                                                                                           \
        if (st->pg)                                                                             \
            pg_##name(st->pg, STORE_STRIP args);                                                \
        else                                                                                    \
            sqlite_##name(st->sq, STORE_STRIP args);                                            \
    }
STORE_FNS(DISPATCH_X, DISPATCH_V)
