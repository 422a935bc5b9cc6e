/* sqlite_tokens.c — bearer tokens and OAuth 2.0 clients on SQLite.
 *
 * Secrets never reach this file: callers hand in the BLAKE2b hash of a
 * token's or a client's secret (util_hash_secret), and a token is found by
 * that hash. Every change (create, revoke, client create/delete, an access
 * token issued) writes its event in the same transaction.
 *
 * Every API call looks its token up, so found tokens are cached (see "the
 * token cache" below); a revocation still takes effect on the very next
 * call, because every change to the tokens table ends the cache's
 * generation before the change is answered. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "store/tokcache.h"
#include "util/log.h"

/* Expired access tokens are pruned this long after they expired, so their
 * id can still be looked up for a while (GET /v1/tokens/{id}, the audit log). */
#define OAUTH_PRUNE_AFTER_S 86400

#define TOKEN_COLS "id, role, name, kind, client_id, created_at, expires_at, revoked_at, last_used_at"

static void row_to_token(sqlite3_stmt *s, struct arena *a, struct token *t)
{
    t->id = col_text(s, 0, a);
    t->role = col_text(s, 1, a);
    t->name = col_text(s, 2, a);
    t->kind = col_text(s, 3, a);
    t->client_id = col_text(s, 4, a);
    t->created_at = sqlite3_column_int64(s, 5);
    t->expires_at = col_opt(s, 6, 0);
    t->revoked_at = col_opt(s, 7, 0);
    t->last_used_at = col_opt(s, 8, 0);
}

/* A JSON object of event data as text (malloc'd; NULL on failure, which
 * event_log takes as "{}"). Steals o. */
static char *event_data(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* Runs a one-integer query with up to two parameters on a reader. */
static enum promo_err count_query(struct sqlite_store *st, const char *sql, const char *text, int64_t num, int64_t *n)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    sqlite3_stmt *s = conn_stmt(c, sql);
    enum promo_err rc = PROMO_INTERNAL;
    if (s) {
        if (sqlite3_bind_parameter_count(s) >= 1)
            bind_text(s, 1, text);
        if (sqlite3_bind_parameter_count(s) >= 2)
            bind_i64(s, 2, num);
        if (sqlite3_step(s) == SQLITE_ROW) {
            *n = sqlite3_column_int64(s, 0);
            rc = PROMO_OK;
        } else {
            rc = db_fail(c, "count");
        }
        sqlite3_reset(s);
    }
    reader_put(st, c);
    return rc;
}

enum promo_err sqlite_token_count(struct sqlite_store *st, int64_t *n)
{
    return count_query(st, "SELECT count(*) FROM tokens", NULL, 0, n);
}

static const char SQL_TOKEN_ADMINS[] =
    "SELECT count(*) FROM tokens WHERE role = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)";

enum promo_err sqlite_token_count_admins(struct sqlite_store *st, int64_t now, int64_t *n)
{
    return count_query(st, SQL_TOKEN_ADMINS, "admin", now, n);
}

/* ---- reading ----------------------------------------------------------------------- */

/* The one token a statement with one text parameter finds. */
static enum promo_err token_read(struct conn *c, struct arena *a, const char *sql, const char *key,
                                 struct token *out)
{
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, key);
    int r = sqlite3_step(s);
    enum promo_err rc = PROMO_OK;
    if (r == SQLITE_ROW)
        row_to_token(s, a, out);
    else
        rc = r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "token read");
    sqlite3_reset(s);
    return rc;
}

static const char SQL_TOKEN_BY_HASH[] = "SELECT " TOKEN_COLS " FROM tokens WHERE secret_hash = ?";
static const char SQL_TOKEN_BY_ID[] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?";

/* ---- the token cache ------------------------------------------------------------ */

/* Found tokens are cached (store/tokcache.h): every change to the tokens
 * table (all of them are in this file) ends the cache's generation after
 * its commit and before its caller is answered. That is enough here
 * because this process is the file's only writer: sqlite_open takes an
 * exclusive lock on the file. */
static void token_cache_bump(struct sqlite_store *st) { tokcache_bump(st->tokens); }

static enum promo_err token_read_pooled(struct sqlite_store *st, struct arena *a, const char *sql, const char *key,
                                        struct token *out)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = token_read(c, a, sql, key, out);
    reader_put(st, c);
    return rc;
}

static enum promo_err token_read_by_hash(void *st, struct arena *a, const char *hash, struct token *out)
{
    return token_read_pooled(st, a, SQL_TOKEN_BY_HASH, hash, out);
}

enum promo_err sqlite_token_find(struct sqlite_store *st, struct arena *a, const char *secret_hash, struct token *out)
{
    return tokcache_find(st->tokens, a, secret_hash, out, token_read_by_hash, st);
}

enum promo_err sqlite_token_get(struct sqlite_store *st, struct arena *a, const char *id, struct token *out)
{
    return token_read_pooled(st, a, SQL_TOKEN_BY_ID, id, out);
}

/* Ids begin with the creation time (util_rand_id), so id order is creation
 * order and the primary key serves the page. */
static const char *page_row_to_token(sqlite3_stmt *s, struct arena *a, void *row)
{
    row_to_token(s, a, row);
    return ((const struct token *)row)->id;
}

static const char SQL_TOKEN_LIST[] =
    "SELECT " TOKEN_COLS " FROM tokens WHERE id > ?1 AND (?3 IS NULL OR kind = ?3) ORDER BY id LIMIT ?2";

enum promo_err sqlite_token_list(struct sqlite_store *st, struct arena *a, const char *kind, const char *cursor,
                                int limit, struct token **out, size_t *n, const char **next)
{
    const char *const filters[] = {kind};
    void *rows;
    enum promo_err rc = page_by_id(st, a, SQL_TOKEN_LIST, "token list", cursor, limit,
                                   filters, 1, sizeof(struct token), page_row_to_token, &rows, n, next);
    *out = rows;
    return rc;
}

/* ---- creating ---------------------------------------------------------------------- */

struct token_args {
    const struct token *t;
    const char *hash, *actor;
};

static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO tokens (id, secret_hash, role, name, kind, client_id, created_at, expires_at)"
    " VALUES (?,?,?,?,?,?,?,?)";

/* Inserts the row and its event (`type`), inside the writer's transaction. */
static enum promo_err token_insert(struct conn *c, const struct token_args *ta, const char *type)
{
    const struct token *t = ta->t;
    sqlite3_stmt *s = conn_stmt(c, SQL_TOKEN_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, t->id);
    bind_text(s, 2, ta->hash);
    bind_text(s, 3, t->role);
    bind_text(s, 4, t->name);
    bind_text(s, 5, t->kind ? t->kind : "api");
    bind_text(s, 6, t->client_id);
    bind_i64(s, 7, t->created_at);
    bind_opt(s, 8, t->expires_at, 0);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    char *data = event_data(json_pack("{s:s, s:s, s:s?, s:s?}", "role", t->role, "kind", t->kind ? t->kind : "api",
                                      "client_id", t->client_id, "by", ta->actor));
    rc = event_log(c, type, t->created_at, NULL, NULL, NULL, NULL, t->id, NULL, data);
    free(data);
    return rc;
}

static enum promo_err op_token_create(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    return token_insert(c, arg, "token_created");
}

enum promo_err sqlite_token_create(struct sqlite_store *st, const struct token *t, const char *secret_hash,
                                  const char *actor)
{
    struct token_args ta = {t, secret_hash, actor};
    enum promo_err rc = writer_run(st, op_token_create, &ta);
    token_cache_bump(st);
    return rc;
}

/* ---- revoking and touching -------------------------------------------------------- */

struct revoke_args {
    struct arena *a;
    const char *id, *actor;
    int64_t now;
    struct token *out;
};

static const char SQL_TOKEN_REVOKE[] = "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";

static enum promo_err op_token_revoke(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct revoke_args *ra = arg;
    enum promo_err rc = token_read(c, ra->a, SQL_TOKEN_BY_ID, ra->id, ra->out);
    if (rc != PROMO_OK)
        return rc;
    if (ra->out->revoked_at)
        return PROMO_CONFLICT;
    sqlite3_stmt *s = conn_stmt(c, SQL_TOKEN_REVOKE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ra->id);
    bind_i64(s, 2, ra->now);
    if ((rc = step_done(c, s)) != PROMO_OK)
        return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
    ra->out->revoked_at = ra->now;
    char *data = event_data(json_pack("{s:s?}", "by", ra->actor));
    rc = event_log(c, "token_revoked", ra->now, NULL, NULL, NULL, NULL, ra->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_token_revoke(struct sqlite_store *st, struct arena *a, const char *id, int64_t now,
                                  const char *actor, struct token *out)
{
    struct revoke_args ra = {a, id, actor, now, out};
    enum promo_err rc = writer_run(st, op_token_revoke, &ra);
    token_cache_bump(st);
    return rc;
}

struct touch_args {
    int64_t now;
    char id[]; /* NUL-terminated */
};

/* The condition keeps the column from moving backwards when two posts of
 * the same token land in one batch out of order. */
static const char SQL_TOKEN_TOUCH[] =
    "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)";

static enum promo_err op_token_touch(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct touch_args *ta = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_TOKEN_TOUCH);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ta->id);
    bind_i64(s, 2, ta->now);
    return step_done(c, s);
}

void sqlite_token_touch(struct sqlite_store *st, const char *id, int64_t now)
{
    size_t len = strlen(id);
    struct touch_args *ta = malloc(sizeof(*ta) + len + 1);
    if (!ta)
        return; /* a lost touch only leaves last_used_at a minute behind */
    ta->now = now;
    memcpy(ta->id, id, len + 1);
    tokcache_touched(st->tokens, id, now);
    writer_post(st, op_token_touch, ta, free);
}

/* ---- OAuth clients ----------------------------------------------------------------- */

#define CLIENT_COLS "id, name, role, access_token_ttl, created_at, deleted_at, secret_hash"

static void row_to_client(sqlite3_stmt *s, struct arena *a, struct oauth_client *o)
{
    o->id = col_text(s, 0, a);
    o->name = col_text(s, 1, a);
    o->role = col_text(s, 2, a);
    o->access_token_ttl = sqlite3_column_int64(s, 3);
    o->created_at = sqlite3_column_int64(s, 4);
    o->deleted_at = col_opt(s, 5, 0);
}

static const char SQL_CLIENT_GET[] = "SELECT " CLIENT_COLS " FROM oauth_clients WHERE id = ?";

/* Reads a client (and its secret's hash into `hash` when not NULL). */
static enum promo_err client_read(struct conn *c, struct arena *a, const char *id, struct oauth_client *out,
                                  char *hash)
{
    sqlite3_stmt *s = conn_stmt(c, SQL_CLIENT_GET);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    enum promo_err rc = PROMO_OK;
    if (r == SQLITE_ROW) {
        row_to_client(s, a, out);
        if (hash) {
            const unsigned char *h = sqlite3_column_text(s, 6);
            snprintf(hash, 65, "%s", h ? (const char *)h : "");
        }
    } else {
        rc = r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "oauth client read");
    }
    sqlite3_reset(s);
    return rc;
}

enum promo_err sqlite_oauth_client_get(struct sqlite_store *st, struct arena *a, const char *id, struct oauth_client *out,
                                      char *secret_hash)
{
    struct conn *c = reader_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    enum promo_err rc = client_read(c, a, id, out, secret_hash);
    reader_put(st, c);
    return rc;
}

static const char *page_row_to_client(sqlite3_stmt *s, struct arena *a, void *row)
{
    row_to_client(s, a, row);
    return ((const struct oauth_client *)row)->id;
}

static const char SQL_CLIENT_LIST[] = "SELECT " CLIENT_COLS " FROM oauth_clients WHERE id > ?1 ORDER BY id LIMIT ?2";

enum promo_err sqlite_oauth_client_list(struct sqlite_store *st, struct arena *a, const char *cursor, int limit,
                                       struct oauth_client **out, size_t *n, const char **next)
{
    void *rows;
    enum promo_err rc = page_by_id(st, a, SQL_CLIENT_LIST, "OAuth client list", cursor, limit,
                                   NULL, 0, sizeof(struct oauth_client), page_row_to_client, &rows, n, next);
    *out = rows;
    return rc;
}

struct client_args {
    const struct oauth_client *oc;
    const char *hash, *actor;
};

static const char SQL_CLIENT_INSERT[] =
    "INSERT INTO oauth_clients (id, secret_hash, name, role, access_token_ttl, created_at) VALUES (?,?,?,?,?,?)";

static enum promo_err op_client_create(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct client_args *ca = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_CLIENT_INSERT);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ca->oc->id);
    bind_text(s, 2, ca->hash);
    bind_text(s, 3, ca->oc->name);
    bind_text(s, 4, ca->oc->role);
    bind_i64(s, 5, ca->oc->access_token_ttl);
    bind_i64(s, 6, ca->oc->created_at);
    enum promo_err rc = step_done(c, s);
    if (rc != PROMO_OK)
        return rc;
    char *data = event_data(json_pack("{s:s, s:I, s:s?}", "role", ca->oc->role, "access_token_ttl_seconds",
                                      (json_int_t)ca->oc->access_token_ttl, "by", ca->actor));
    rc = event_log(c, "oauth_client_created", ca->oc->created_at, NULL, NULL, NULL, NULL, ca->oc->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_oauth_client_create(struct sqlite_store *st, const struct oauth_client *c, const char *secret_hash,
                                         const char *actor)
{
    struct client_args ca = {c, secret_hash, actor};
    return writer_run(st, op_client_create, &ca);
}

struct client_delete_args {
    struct arena *a;
    const char *id, *actor;
    int64_t now;
    struct oauth_client *out;
    int64_t *revoked;
};

static const char SQL_CLIENT_DELETE[] = "UPDATE oauth_clients SET deleted_at = ?2 WHERE id = ?1";
/* Expired tokens stay as they are: they are refused anyway. */
static const char SQL_CLIENT_REVOKE_TOKENS[] =
    "UPDATE tokens SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL AND expires_at > ?2";

/* Binds (id, now) and runs one of the two statements above. */
static enum promo_err client_update(struct conn *c, const char *sql, const char *id, int64_t now)
{
    sqlite3_stmt *s = conn_stmt(c, sql);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, id);
    bind_i64(s, 2, now);
    enum promo_err rc = step_done(c, s);
    return rc == PROMO_CONFLICT ? PROMO_INTERNAL : rc;
}

static enum promo_err op_client_delete(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct client_delete_args *da = arg;
    enum promo_err rc = client_read(c, da->a, da->id, da->out, NULL);
    if (rc != PROMO_OK)
        return rc;
    if (da->out->deleted_at)
        return PROMO_CONFLICT;
    if ((rc = client_update(c, SQL_CLIENT_DELETE, da->id, da->now)) != PROMO_OK ||
        (rc = client_update(c, SQL_CLIENT_REVOKE_TOKENS, da->id, da->now)) != PROMO_OK)
        return rc;
    *da->revoked = sqlite3_changes(c->db);
    da->out->deleted_at = da->now;
    char *data = event_data(json_pack("{s:I, s:s?}", "tokens_revoked", (json_int_t)*da->revoked, "by", da->actor));
    rc = event_log(c, "oauth_client_deleted", da->now, NULL, NULL, NULL, NULL, da->id, NULL, data);
    free(data);
    return rc;
}

enum promo_err sqlite_oauth_client_delete(struct sqlite_store *st, struct arena *a, const char *id, int64_t now,
                                         const char *actor, struct oauth_client *out, int64_t *revoked)
{
    struct client_delete_args da = {a, id, actor, now, out, revoked};
    *revoked = 0;
    enum promo_err rc = writer_run(st, op_client_delete, &da);
    token_cache_bump(st);
    return rc;
}

static const char SQL_CLIENT_LIVE[] = "SELECT 1 FROM oauth_clients WHERE id = ? AND deleted_at IS NULL";
static const char SQL_CLIENT_PRUNE[] = "DELETE FROM tokens WHERE client_id = ?1 AND expires_at < ?2";

static enum promo_err op_oauth_token_issue(struct sqlite_store *st, struct conn *c, void *arg)
{
    (void)st;
    struct token_args *ta = arg;
    sqlite3_stmt *s = conn_stmt(c, SQL_CLIENT_LIVE);
    if (!s)
        return PROMO_INTERNAL;
    bind_text(s, 1, ta->t->client_id);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_ROW)
        return r == SQLITE_DONE ? PROMO_NOT_FOUND : db_fail(c, "oauth client live");
    enum promo_err rc = client_update(c, SQL_CLIENT_PRUNE, ta->t->client_id, ta->t->created_at - OAUTH_PRUNE_AFTER_S);
    return rc == PROMO_OK ? token_insert(c, ta, "oauth_token_issued") : rc;
}

enum promo_err sqlite_oauth_token_issue(struct sqlite_store *st, const struct token *t, const char *secret_hash)
{
    struct token_args ta = {t, secret_hash, t->client_id};
    enum promo_err rc = writer_run(st, op_oauth_token_issue, &ta);
    token_cache_bump(st); /* it prunes the client's long-expired tokens */
    return rc;
}

void sqlite_token_cache_stats(struct sqlite_store *st, uint64_t *hits, uint64_t *misses, bool *on)
{
    tokcache_stats(st->tokens, hits, misses, on);
}
