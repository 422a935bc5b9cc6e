/* pg_listen.c — the listener: one thread and one connection per server
 * (application_name promo-listener) that LISTENs on promo_tokens and
 * promo_segments (migrations 012 and 013) and drops the matching cache,
 * the token cache (pg_tokens.c) or the segments' rules (pg_customers.c),
 * when another server or anyone with SQL access changes what it holds.
 * Both caches are on only while it listens: it turns them on after LISTEN
 * succeeds and off when its connection fails (it reconnects every second),
 * and it pings the connection every LISTENER_PING_S so that a silently
 * dead one is noticed. docs/scaling.md, "What each server keeps in
 * memory". */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/pg_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#define LISTENER_PING_S 2

struct pg_listener {
    pthread_t thread;
    atomic_bool stop;
};

/* Drops what the notices heard on db speak of. */
static void notices_take(struct pg_store *st, PGconn *db)
{
    PGnotify *note;
    while ((note = PQnotifies(db)) != NULL) {
        if (strcmp(note->relname, "promo_segments") == 0)
            pg_segcache_drop(st, -1);
        else
            pg_tokcache_drop(st, -1);
        PQfreemem(note);
    }
}

/* Both caches on or off (each switch drops what they hold). */
static void caches_on(struct pg_store *st, bool on)
{
    pg_tokcache_drop(st, on);
    pg_segcache_drop(st, on);
}

/* Waits for notices on db until it fails or the store stops. */
static void listen_on(struct pg_store *st, PGconn *db)
{
    int64_t last_ping = time_mono_ns();
    while (!atomic_load(&st->listener->stop)) {
        struct pollfd p = {.fd = PQsocket(db), .events = POLLIN};
        int n = poll(&p, 1, 200);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0 && !PQconsumeInput(db))
            return;
        notices_take(st, db);
        if (time_mono_ns() - last_ping >= (int64_t)LISTENER_PING_S * 1000000000) {
            PGresult *r = PQexec(db, "SELECT 1");
            bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
            PQclear(r);
            if (!ok)
                return;
            last_ping = time_mono_ns();
            notices_take(st, db); /* heard during the ping */
        }
    }
}

static void *listener_main(void *arg)
{
    struct pg_store *st = arg;
    bool warned = false;
    while (!atomic_load(&st->listener->stop)) {
        const char *keys[] = {"dbname", "application_name", NULL};
        const char *vals[] = {st->conninfo, "promo-listener", NULL};
        PGconn *db = PQconnectdbParams(keys, vals, 1);
        PGresult *r =
            PQstatus(db) == CONNECTION_OK ? PQexec(db, "LISTEN promo_tokens; LISTEN promo_segments") : NULL;
        bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok) {
            log_info("store: token listener listening; found tokens and segment rules are cached");
            warned = false;
            caches_on(st, true);
            listen_on(st, db);
        } else if (!warned) {
            log_warn("store: token listener: %s (tokens are read on every call until it is back)",
                     PQerrorMessage(db));
            warned = true;
        }
        caches_on(st, false);
        PQfinish(db);
        for (int i = 0; i < 10 && !atomic_load(&st->listener->stop); i++)
            usleep(100 * 1000);
    }
    return NULL;
}

void pg_listener_start(struct pg_store *st)
{
    if (st->no_cache) {
        log_info("store: cache=off: tokens and segment rules are read on every call");
        return;
    }
    struct pg_listener *l = calloc(1, sizeof(*l));
    if (!l) {
        log_warn("store: cannot start the token listener; tokens are read on every call");
        return;
    }
    atomic_init(&l->stop, false);
    st->listener = l;
    if (pthread_create(&l->thread, NULL, listener_main, st) != 0) {
        log_warn("store: cannot start the token listener; tokens are read on every call");
        st->listener = NULL;
        free(l);
    }
}

void pg_listener_stop(struct pg_store *st)
{
    struct pg_listener *l = st->listener;
    if (!l)
        return;
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    free(l);
    st->listener = NULL;
}
