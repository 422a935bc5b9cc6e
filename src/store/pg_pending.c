/* pg_pending.c — the store functions the PostgreSQL backend does not have
 * yet (the SQLite-only features that main gained while the PostgreSQL store
 * was written: rules and reminders; customers, segments, the scheduler's
 * tasks and the outbox are ported, in pg_customers.c, pg_tasks.c and
 * pg_outbox.c). Each answers PROMO_NOT_ON_STORE (HTTP 503, "not
 * yet available on the PostgreSQL store") and logs that once per function,
 * so a caller in a loop cannot flood the log; nothing is written. A family
 * ported to PostgreSQL leaves this file: its lines go, pg_supports says yes,
 * and its pg_*.c file defines the functions for real. */
#include <stdatomic.h>

#include "store/pg_int.h"
#include "util/log.h"

/* A stub takes the real parameters so that its prototype is backend.h's,
 * and uses none of them. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* The pending functions by family, as X(name, (params after st)). */
#define PG_PENDING_RULES(X, V) \
    X(rule_put, (const struct rule_rec *r, bool create, int64_t now)) \
    X(rule_get, (struct arena *a, const char *id, struct rule_rec *out)) \
    X(rule_list, (struct arena *a, const char *cursor, int limit, struct rule_rec **out, size_t *n, const char **next)) \
    X(rule_delete, (const char *id, int64_t now)) \
    X(reminders_put, (const struct reminder_rec *r, int64_t now)) \
    X(reminders_get, (struct arena *a, const char *campaign_id, struct reminder_rec *out)) \
    X(reminders_delete, (const char *campaign_id, int64_t now))

static void pending_log(atomic_flag *logged, const char *name)
{
    if (!atomic_flag_test_and_set(logged))
        log_warn("store: %s is not yet available on the PostgreSQL store (answered 503)", name);
}

#define PENDING_X(name, params)                                  \
    enum promo_err pg_##name(struct pg_store *st, STORE_STRIP params) \
    {                                                            \
        static atomic_flag logged = ATOMIC_FLAG_INIT;            \
        (void)st;                                                \
        pending_log(&logged, "store_" #name);                    \
        return PROMO_NOT_ON_STORE;                               \
    }
#define PENDING_V(name, params)                                  \
    void pg_##name(struct pg_store *st, STORE_STRIP params)      \
    {                                                            \
        static atomic_flag logged = ATOMIC_FLAG_INIT;            \
        (void)st;                                                \
        pending_log(&logged, "store_" #name);                    \
    }

PG_PENDING_RULES(PENDING_X, PENDING_V)

bool pg_supports(struct pg_store *st, enum store_feature f)
{
    (void)st;
    switch (f) {
    case STORE_F_CUSTOMERS: /* pg_customers.c */
    case STORE_F_TASKS:     /* pg_tasks.c */
    case STORE_F_OUTBOX:    /* pg_outbox.c */
        return true;
    case STORE_F_RULES:
        return false;
    }
    return false;
}
