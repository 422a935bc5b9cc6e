/* pg_pending.c — which feature families the PostgreSQL store has. Every
 * family of store.h is ported now (customers, segments and events in
 * pg_customers.c; the scheduler's tasks in pg_tasks.c; templates,
 * webhooks, messages and the outbox in pg_outbox.c; rules and reminders in
 * pg_rules.c), so pg_supports says yes to all of them.
 *
 * A family that main gains on SQLite before it is ported gets its stubs
 * here again, as before: each answering PROMO_NOT_ON_STORE (HTTP 503, "not
 * yet available on the PostgreSQL store") and logging that once, with
 * pg_supports saying no for it until its pg_*.c file is written. */
#include "store/pg_int.h"

bool pg_supports(struct pg_store *st, enum store_feature f)
{
    (void)st;
    switch (f) {
    case STORE_F_CUSTOMERS: /* pg_customers.c */
    case STORE_F_TASKS:     /* pg_tasks.c */
    case STORE_F_OUTBOX:    /* pg_outbox.c */
    case STORE_F_RULES:     /* pg_rules.c */
        return true;
    }
    return false;
}
