/* pg_tokens.c — bearer tokens and OAuth 2.0 clients on PostgreSQL. As on
 * SQLite, only hashes of secrets arrive here and every change writes its
 * event in its transaction.
 *
 * Tokens looked up by their secret's hash are kept in memory (the token
 * cache below), because that lookup is one more round trip and statement
 * on every request. A revoke must still be seen at once, by every server:
 * - migration 012 makes every change to a token that matters NOTIFY
 *   promo_tokens, and each server's listener thread (pg_listen.c) drops
 *   the whole cache when it hears it, milliseconds after the change
 *   commits;
 * - this server's own changes drop it before they answer;
 * - nothing is cached while the listener is not listening (not connected
 *   yet, connection lost: it reconnects every second), and every drop
 *   (an epoch) also voids the lookups in flight, which could have read
 *   the row before the change;
 * - no entry is used for more than TOKCACHE_MAX_AGE_S, whatever happens. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "store/tokcache.h"
#include "util/log.h"

#define OAUTH_PRUNE_AFTER_S 86400

#define TOKEN_COLS "id, role, name, kind, client_id, created_at, expires_at, revoked_at, last_used_at"

static void row_to_token(PGresult *r, int i, struct arena *a, struct token *t)
{
    t->id = pg_text(r, i, 0, a);
    t->role = pg_text(r, i, 1, a);
    t->name = pg_text(r, i, 2, a);
    t->kind = pg_text(r, i, 3, a);
    t->client_id = pg_text(r, i, 4, a);
    t->created_at = pg_i64(r, i, 5);
    t->expires_at = pg_opt(r, i, 6, 0);
    t->revoked_at = pg_opt(r, i, 7, 0);
    t->last_used_at = pg_opt(r, i, 8, 0);
}

static char *event_data(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static enum promo_err count_one(struct pg_store *st, PGresult *(*run)(struct pgc *c, void *arg), void *arg,
                                int64_t *n)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = run(c, arg);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *n = pg_i64(r, 0, 0);
    PQclear(r);
    return PROMO_OK;
}

static PGresult *run_token_count(struct pgc *c, void *arg)
{
    (void)arg;
    return pq(c, "SELECT count(*) FROM tokens", "");
}

enum promo_err pg_token_count(struct pg_store *st, int64_t *n)
{
    return count_one(st, run_token_count, NULL, n);
}

static const char SQL_TOKEN_ADMINS[] = "SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL"
                                       " AND (expires_at IS NULL OR expires_at > $1)";

static PGresult *run_admin_count(struct pgc *c, void *arg)
{
    return pq(c, SQL_TOKEN_ADMINS, "i", *(int64_t *)arg);
}

enum promo_err pg_token_count_admins(struct pg_store *st, int64_t now, int64_t *n)
{
    return count_one(st, run_admin_count, &now, n);
}

static enum promo_err token_read(struct pgc *c, struct arena *a, const char *sql, const char *key, struct token *out)
{
    PGresult *r = pq(c, sql, "s", key);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK)
        row_to_token(r, 0, a, out);
    PQclear(r);
    return rc;
}

static const char SQL_TOKEN_BY_HASH[] = "SELECT " TOKEN_COLS " FROM tokens WHERE secret_hash = $1";
static const char SQL_TOKEN_BY_ID[] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = $1";

static enum promo_err token_read_pooled(struct pg_store *st, struct arena *a, const char *sql, const char *key,
                                        struct token *out)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = token_read(c, a, sql, key, out);
    pgc_put(st, c);
    return rc;
}

/* ---- the token cache ------------------------------------------------------- */

#define TOKCACHE_MAX_AGE_S 10

int pg_tokcache_open(struct pg_store *st)
{
    st->tokcache = tokcache_new((int64_t)TOKCACHE_MAX_AGE_S * 1000000000);
    if (!st->tokcache)
        return -1;
    tokcache_set_on(st->tokcache, false); /* until the listener listens (pg_listen.c) */
    return 0;
}

void pg_tokcache_close(struct pg_store *st)
{
    tokcache_free(st->tokcache);
    st->tokcache = NULL;
}

void pg_tokcache_drop(struct pg_store *st, int on)
{
    if (!st->tokcache)
        return;
    if (on >= 0)
        tokcache_set_on(st->tokcache, on);
    else
        tokcache_bump(st->tokcache);
}

static enum promo_err token_read_by_hash(void *st, struct arena *a, const char *hash, struct token *out)
{
    return token_read_pooled(st, a, SQL_TOKEN_BY_HASH, hash, out);
}

enum promo_err pg_token_find(struct pg_store *st, struct arena *a, const char *secret_hash, struct token *out)
{
    return tokcache_find(st->tokcache, a, secret_hash, out, token_read_by_hash, st);
}

void pg_token_cache_stats(struct pg_store *st, uint64_t *hits, uint64_t *misses, bool *on)
{
    tokcache_stats(st->tokcache, hits, misses, on);
}

enum promo_err pg_token_get(struct pg_store *st, struct arena *a, const char *id, struct token *out)
{
    return token_read_pooled(st, a, SQL_TOKEN_BY_ID, id, out);
}

/* Ids sort in creation order (util_rand_id); COLLATE "C" keeps that order
 * whatever the database's collation. */
static const char SQL_TOKEN_LIST[] = "SELECT " TOKEN_COLS " FROM tokens WHERE id COLLATE \"C\" > $1"
                                     " AND ($2::text IS NULL OR kind = $2) ORDER BY id COLLATE \"C\" LIMIT $3";

enum promo_err pg_token_list(struct pg_store *st, struct arena *a, const char *kind, const char *cursor, int limit,
                             struct token **out, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_TOKEN_LIST, "ssi", cursor ? cursor : "", kind, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct token) * (size_t)(limit + 1));
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int)*n == limit) {
            *next = (*out)[*n - 1].id;
            break;
        }
        row_to_token(r, i, a, &(*out)[(*n)++]);
    }
    PQclear(r);
    return PROMO_OK;
}

struct token_args {
    const struct token *t;
    const char *hash, *actor;
};

static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO tokens (id, secret_hash, role, name, kind, client_id, created_at, expires_at)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)";

static enum promo_err token_insert(struct pgc *c, const struct token_args *ta, const char *type)
{
    const struct token *t = ta->t;
    enum promo_err rc = pq_do(c, NULL, SQL_TOKEN_INSERT, "ssssssio", t->id, ta->hash, t->role, t->name,
                              t->kind ? t->kind : "api", t->client_id, t->created_at, t->expires_at, (int64_t)0);
    if (rc != PROMO_OK)
        return rc;
    char *data = event_data(json_pack("{s:s, s:s, s:s?, s:s?}", "role", t->role, "kind", t->kind ? t->kind : "api",
                                      "client_id", t->client_id, "by", ta->actor));
    rc = pg_event_log(c, type, t->created_at, NULL, NULL, NULL, NULL, t->id, NULL, data);
    free(data);
    return rc;
}

static enum promo_err tx_token_create(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    return token_insert(c, arg, "token_created");
}

enum promo_err pg_token_create(struct pg_store *st, const struct token *t, const char *secret_hash, const char *actor)
{
    struct token_args ta = {t, secret_hash, actor};
    return pg_tx(st, tx_token_create, &ta);
}

struct revoke_args {
    struct arena *a;
    const char *id, *actor;
    int64_t now;
    struct token *out;
};

static const char SQL_TOKEN_REVOKE[] = "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

static enum promo_err tx_token_revoke(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct revoke_args *ra = arg;
    enum promo_err rc = token_read(c, ra->a, SQL_TOKEN_BY_ID, ra->id, ra->out);
    if (rc != PROMO_OK)
        return rc;
    if (ra->out->revoked_at)
        return PROMO_CONFLICT;
    int64_t changed = 0;
    if ((rc = pq_do(c, &changed, SQL_TOKEN_REVOKE, "si", ra->id, ra->now)) != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    if (changed == 0)
        return PROMO_CONFLICT; /* revoked by another server meanwhile */
    ra->out->revoked_at = ra->now;
    char *data = event_data(json_pack("{s:s?}", "by", ra->actor));
    rc = pg_event_log(c, "token_revoked", ra->now, NULL, NULL, NULL, NULL, ra->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_token_revoke(struct pg_store *st, struct arena *a, const char *id, int64_t now, const char *actor,
                               struct token *out)
{
    struct revoke_args ra = {a, id, actor, now, out};
    enum promo_err rc = pg_tx(st, tx_token_revoke, &ra);
    pg_tokcache_drop(st, -1); /* before the answer, whatever the listener hears when */
    return rc;
}

struct touch_args {
    int64_t now;
    char id[];
};

static const char SQL_TOKEN_TOUCH[] =
    "UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

static enum promo_err tx_token_touch(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct touch_args *ta = arg;
    return pq_do(c, NULL, SQL_TOKEN_TOUCH, "si", ta->id, ta->now);
}

void pg_token_touch(struct pg_store *st, const char *id, int64_t now)
{
    size_t len = strlen(id);
    struct touch_args *ta = malloc(sizeof(*ta) + len + 1);
    if (!ta)
        return;
    ta->now = now;
    memcpy(ta->id, id, len + 1);
    tokcache_touched(st->tokcache, id, now);
    pg_post(st, tx_token_touch, ta, free);
}

/* ---- OAuth clients ----------------------------------------------------------------- */

#define CLIENT_COLS "id, name, role, access_token_ttl, created_at, deleted_at, secret_hash"

static void row_to_client(PGresult *r, int i, struct arena *a, struct oauth_client *o)
{
    o->id = pg_text(r, i, 0, a);
    o->name = pg_text(r, i, 1, a);
    o->role = pg_text(r, i, 2, a);
    o->access_token_ttl = pg_i64(r, i, 3);
    o->created_at = pg_i64(r, i, 4);
    o->deleted_at = pg_opt(r, i, 5, 0);
}

static const char SQL_CLIENT_GET[] = "SELECT " CLIENT_COLS " FROM oauth_clients WHERE id = $1";

static enum promo_err client_read(struct pgc *c, struct arena *a, const char *id, struct oauth_client *out, char *hash)
{
    PGresult *r = pq(c, SQL_CLIENT_GET, "s", id);
    if (!r)
        return PROMO_INTERNAL;
    enum promo_err rc = PQntuples(r) ? PROMO_OK : PROMO_NOT_FOUND;
    if (rc == PROMO_OK) {
        row_to_client(r, 0, a, out);
        if (hash)
            snprintf(hash, 65, "%s", PQgetvalue(r, 0, 6));
    }
    PQclear(r);
    return rc;
}

enum promo_err pg_oauth_client_get(struct pg_store *st, struct arena *a, const char *id, struct oauth_client *out,
                                   char *secret_hash)
{
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = client_read(c, a, id, out, secret_hash);
    pgc_put(st, c);
    return rc;
}

static const char SQL_CLIENT_LIST[] =
    "SELECT " CLIENT_COLS " FROM oauth_clients WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" LIMIT $2";

enum promo_err pg_oauth_client_list(struct pg_store *st, struct arena *a, const char *cursor, int limit,
                                    struct oauth_client **out, size_t *n, const char **next)
{
    *n = 0;
    *next = NULL;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_CLIENT_LIST, "si", cursor ? cursor : "", (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct oauth_client) * (size_t)(limit + 1));
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int)*n == limit) {
            *next = (*out)[*n - 1].id;
            break;
        }
        row_to_client(r, i, a, &(*out)[(*n)++]);
    }
    PQclear(r);
    return PROMO_OK;
}

struct client_args {
    const struct oauth_client *oc;
    const char *hash, *actor;
};

static const char SQL_CLIENT_INSERT[] =
    "INSERT INTO oauth_clients (id, secret_hash, name, role, access_token_ttl, created_at) VALUES ($1,$2,$3,$4,$5,$6)";

static enum promo_err tx_client_create(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct client_args *ca = arg;
    enum promo_err rc = pq_do(c, NULL, SQL_CLIENT_INSERT, "ssssii", ca->oc->id, ca->hash, ca->oc->name, ca->oc->role,
                              ca->oc->access_token_ttl, ca->oc->created_at);
    if (rc != PROMO_OK)
        return rc;
    char *data = event_data(json_pack("{s:s, s:I, s:s?}", "role", ca->oc->role, "access_token_ttl_seconds",
                                      (json_int_t)ca->oc->access_token_ttl, "by", ca->actor));
    rc = pg_event_log(c, "oauth_client_created", ca->oc->created_at, NULL, NULL, NULL, NULL, ca->oc->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_oauth_client_create(struct pg_store *st, const struct oauth_client *c, const char *secret_hash,
                                      const char *actor)
{
    struct client_args ca = {c, secret_hash, actor};
    return pg_tx(st, tx_client_create, &ca);
}

struct client_delete_args {
    struct arena *a;
    const char *id, *actor;
    int64_t now;
    struct oauth_client *out;
    int64_t *revoked;
};

/* Locks the client's row: a token issue (which checks the client is live
 * under FOR SHARE) and a delete cannot pass each other. */
static const char SQL_CLIENT_DELETE[] = "UPDATE oauth_clients SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";
static const char SQL_CLIENT_REVOKE_TOKENS[] =
    "UPDATE tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2";

static enum promo_err tx_client_delete(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct client_delete_args *da = arg;
    *da->revoked = 0;
    enum promo_err rc = client_read(c, da->a, da->id, da->out, NULL);
    if (rc != PROMO_OK)
        return rc;
    if (da->out->deleted_at)
        return PROMO_CONFLICT;
    int64_t changed = 0;
    if ((rc = pq_do(c, &changed, SQL_CLIENT_DELETE, "si", da->id, da->now)) != PROMO_OK)
        return PROMO_INTERNAL;
    if (changed == 0)
        return PROMO_CONFLICT;
    if ((rc = pq_do(c, da->revoked, SQL_CLIENT_REVOKE_TOKENS, "si", da->id, da->now)) != PROMO_OK)
        return PROMO_INTERNAL;
    da->out->deleted_at = da->now;
    char *data = event_data(json_pack("{s:I, s:s?}", "tokens_revoked", (json_int_t)*da->revoked, "by", da->actor));
    rc = pg_event_log(c, "oauth_client_deleted", da->now, NULL, NULL, NULL, NULL, da->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err pg_oauth_client_delete(struct pg_store *st, struct arena *a, const char *id, int64_t now,
                                      const char *actor, struct oauth_client *out, int64_t *revoked)
{
    struct client_delete_args da = {a, id, actor, now, out, revoked};
    *revoked = 0;
    enum promo_err rc = pg_tx(st, tx_client_delete, &da);
    pg_tokcache_drop(st, -1);
    return rc;
}

static const char SQL_CLIENT_LIVE[] = "SELECT 1 FROM oauth_clients WHERE id = $1 AND deleted_at IS NULL FOR SHARE";
static const char SQL_CLIENT_PRUNE[] = "DELETE FROM tokens WHERE client_id = $1 AND expires_at < $2";

static enum promo_err tx_oauth_token_issue(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct token_args *ta = arg;
    PGresult *r = pq(c, SQL_CLIENT_LIVE, "s", ta->t->client_id);
    if (!r)
        return PROMO_INTERNAL;
    int live = PQntuples(r) == 1;
    PQclear(r);
    if (!live)
        return PROMO_NOT_FOUND;
    enum promo_err rc =
        pq_do(c, NULL, SQL_CLIENT_PRUNE, "si", ta->t->client_id, ta->t->created_at - (int64_t)OAUTH_PRUNE_AFTER_S);
    if (rc != PROMO_OK)
        return PROMO_INTERNAL;
    return token_insert(c, ta, "oauth_token_issued");
}

enum promo_err pg_oauth_token_issue(struct pg_store *st, const struct token *t, const char *secret_hash)
{
    struct token_args ta = {t, secret_hash, t->client_id};
    return pg_tx(st, tx_oauth_token_issue, &ta);
}
