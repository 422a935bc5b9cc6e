/* pg_audit.c — the audit log and abuse events on PostgreSQL. As on SQLite,
 * appending never waits for a commit: rows queue here and the poster
 * inserts them in one transaction some 20 ms later; a refusal identical to
 * one still queued adds to its count instead of making a row. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "util/buf.h"
#include "util/log.h"

#define AUDIT_QUEUE_MAX 100000
#define AUDIT_MERGE_SLOTS 1024

struct audit_row {
    struct audit_row *next;
    int64_t at, count;
    int status;
    uint64_t hash;
    char *token_id, *role, *ip, *method, *path, *reason; /* inside the same allocation */
};

struct pg_audit {
    pthread_mutex_t lock;
    struct audit_row *head, *tail;
    uint64_t n, dropped;
    int posted;
    struct audit_row *merge[AUDIT_MERGE_SLOTS];
};

static char *put(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = memcpy(*at, s, n);
    *at += n;
    return p;
}

static size_t len0(const char *s) { return s ? strlen(s) + 1 : 0; }

static struct audit_row *row_copy(const struct audit_entry *e)
{
    size_t n = sizeof(struct audit_row) + len0(e->token_id) + len0(e->role) + len0(e->ip ? e->ip : "") +
               len0(e->method ? e->method : "") + len0(e->path ? e->path : "") + len0(e->reason);
    struct audit_row *r = malloc(n);
    if (!r)
        return NULL;
    char *p = (char *)(r + 1);
    *r = (struct audit_row){.at = e->at, .status = e->status, .count = 1};
    r->token_id = put(&p, e->token_id);
    r->role = put(&p, e->role);
    r->ip = put(&p, e->ip ? e->ip : "");
    r->method = put(&p, e->method ? e->method : "");
    r->path = put(&p, e->path ? e->path : "");
    r->reason = put(&p, e->reason);
    return r;
}

static bool same_str(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool same_call(const struct audit_row *a, const struct audit_row *b)
{
    return a->status == b->status && same_str(a->token_id, b->token_id) && same_str(a->role, b->role) &&
           same_str(a->ip, b->ip) && same_str(a->method, b->method) && same_str(a->path, b->path) &&
           same_str(a->reason, b->reason);
}

static uint64_t merge_hash(const struct audit_row *r)
{
    if (r->status != 401 && r->status != 403 && r->status != 429)
        return 0;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof(uint64_t));
    const char *parts[] = {r->token_id, r->ip, r->method, r->path, r->reason};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        crypto_generichash_update(&h, (const unsigned char *)(parts[i] ? parts[i] : ""),
                                  parts[i] ? strlen(parts[i]) + 1 : 0);
    uint64_t out;
    crypto_generichash_final(&h, (unsigned char *)&out, sizeof out);
    return out ? out : 1;
}

static void free_rows(struct audit_row *r)
{
    while (r) {
        struct audit_row *next = r->next;
        free(r);
        r = next;
    }
}

/* The rows as one array per column, AUDIT_ROWS_MAX rows per statement:
 * one statement (and one executor start-up) for a batch instead of one per
 * row, the rows keeping their order. */
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log (at, token_id, role, ip, method, path, status, reason, count)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    " $7::int[], $8::text[], $9::bigint[])";
#define AUDIT_ROWS_MAX 256
#define AUDIT_NCOLS 9

/* Appends s to an array literal: "…" with \ and " escaped, or NULL. */
static int arr_text(struct buf *b, const char *s)
{
    if (!s)
        return buf_puts(b, "NULL");
    int rc = buf_puts(b, "\"");
    for (const char *p = s; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = buf_puts(b, "\\");
        if (rc == 0)
            rc = buf_append(b, p, 1);
    }
    return rc == 0 ? buf_puts(b, "\"") : rc;
}

/* Appends row r's values to the column literals col[]. */
static int arr_row(struct buf *col, const struct audit_row *r, bool first)
{
    const char *texts[] = {r->token_id, r->role, r->ip, r->method, r->path, r->reason};
    const int at[] = {1, 2, 3, 4, 5, 7};
    int rc = 0;
    for (int i = 0; rc == 0 && i < AUDIT_NCOLS; i++)
        rc = first ? 0 : buf_puts(&col[i], ",");
    rc = rc ? rc : buf_printf(&col[0], "%lld", (long long)r->at);
    for (int i = 0; rc == 0 && i < 6; i++)
        rc = arr_text(&col[at[i]], texts[i]);
    rc = rc ? rc : buf_printf(&col[6], "%d", r->status);
    return rc ? rc : buf_printf(&col[8], "%lld", (long long)r->count);
}

static enum promo_err insert_rows(struct pgc *c, struct audit_row *rows)
{
    struct audit_row *r = rows;
    enum promo_err rc = PROMO_OK;
    while (r && rc == PROMO_OK) {
        struct buf col[AUDIT_NCOLS];
        for (int i = 0; i < AUDIT_NCOLS; i++) {
            buf_init(&col[i], (size_t)1 << 30);
            buf_puts(&col[i], "{");
        }
        int n = 0, bad = 0;
        for (; r && n < AUDIT_ROWS_MAX; r = r->next, n++)
            bad |= arr_row(col, r, n == 0);
        for (int i = 0; i < AUDIT_NCOLS; i++)
            bad |= buf_puts(&col[i], "}");
        struct pq_stmt s[1];
        if (!bad)
            pq_stmt(&s[0], SQL_AUDIT_INSERT, "sssssssss", col[0].data, col[1].data, col[2].data, col[3].data,
                    col[4].data, col[5].data, col[6].data, col[7].data, col[8].data);
        if (bad || pq_pipe(c, s, 1, NULL, false) != 0)
            rc = PROMO_INTERNAL;
        for (int i = 0; i < AUDIT_NCOLS; i++)
            buf_free(&col[i]);
    }
    return rc;
}

/* Takes every queued row; the next append posts a new flush. */
static struct audit_row *take(struct pg_audit *q)
{
    pthread_mutex_lock(&q->lock);
    struct audit_row *rows = q->head;
    q->head = q->tail = NULL;
    q->n = 0;
    q->posted = 0;
    memset(q->merge, 0, sizeof q->merge);
    pthread_mutex_unlock(&q->lock);
    return rows;
}

/* One posted flush; `ran` tells flush_free whether the poster ran it. */
struct flush {
    struct pg_store *st;
    int ran;
};

static enum promo_err flush_op(struct pg_store *st, struct pgc *c, void *arg)
{
    ((struct flush *)arg)->ran = 1;
    struct audit_row *rows = take(st->audit);
    enum promo_err rc = insert_rows(c, rows);
    if (rc != PROMO_OK)
        log_error("audit: a batch of rows could not be written");
    free_rows(rows);
    return rc;
}

/* A flush the poster never ran (it was stopping, or its queue was full)
 * must clear `posted`, or no later row would ever be flushed. */
static void flush_free(void *arg)
{
    struct flush *f = arg;
    if (!f->ran) {
        pthread_mutex_lock(&f->st->audit->lock);
        f->st->audit->posted = 0;
        pthread_mutex_unlock(&f->st->audit->lock);
    }
    free(f);
}

int pg_audit_open(struct pg_store *st)
{
    st->audit = calloc(1, sizeof(*st->audit));
    if (!st->audit)
        return -1;
    pthread_mutex_init(&st->audit->lock, NULL);
    return 0;
}

/* After the poster stopped: rows still queued are written here. */
void pg_audit_close(struct pg_store *st)
{
    struct pg_audit *q = st->audit;
    if (!q)
        return;
    if (q->head) {
        struct pgc *c = pgc_get(st);
        if (c) {
            int ok = pg_exec(c, "BEGIN") == 0 && insert_rows(c, q->head) == PROMO_OK && pg_exec(c, "COMMIT") == 0;
            if (!ok) {
                pg_exec(c, "ROLLBACK");
                log_warn("audit: %llu rows could not be written at shutdown", (unsigned long long)q->n);
            }
            pgc_put(st, c);
        }
    }
    free_rows(q->head);
    pthread_mutex_destroy(&q->lock);
    free(q);
    st->audit = NULL;
}

static bool merge(struct pg_audit *q, struct audit_row *r)
{
    if (!r->hash)
        return false;
    struct audit_row **slot = &q->merge[r->hash % AUDIT_MERGE_SLOTS];
    if (*slot && (*slot)->hash == r->hash && same_call(*slot, r)) {
        (*slot)->count++;
        return true;
    }
    *slot = r;
    return false;
}

void pg_audit_append(struct pg_store *st, const struct audit_entry *e)
{
    struct pg_audit *q = st->audit;
    struct audit_row *r = row_copy(e);
    if (r)
        r->hash = merge_hash(r);
    pthread_mutex_lock(&q->lock);
    if (r && merge(q, r)) {
        pthread_mutex_unlock(&q->lock);
        free(r);
        return;
    }
    if (!r || q->n >= AUDIT_QUEUE_MAX) {
        if (r && q->merge[r->hash % AUDIT_MERGE_SLOTS] == r)
            q->merge[r->hash % AUDIT_MERGE_SLOTS] = NULL;
        q->dropped++;
        pthread_mutex_unlock(&q->lock);
        free(r);
        return;
    }
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
    int post = !q->posted;
    q->posted = 1;
    pthread_mutex_unlock(&q->lock);
    if (!post)
        return;
    struct flush *f = calloc(1, sizeof(*f));
    if (!f) {
        pthread_mutex_lock(&q->lock);
        q->posted = 0;
        pthread_mutex_unlock(&q->lock);
        return;
    }
    f->st = st;
    pg_post(st, flush_op, f, flush_free);
}

void pg_audit_stats(struct pg_store *st, uint64_t *queued, uint64_t *dropped)
{
    pthread_mutex_lock(&st->audit->lock);
    *queued = st->audit->n;
    *dropped = st->audit->dropped;
    pthread_mutex_unlock(&st->audit->lock);
}

/* Servers append concurrently, so `at` need not grow with seq here: the
 * time range is a plain filter on `at` (audit_by_at). */
#define AUDIT_COLS "seq, at, token_id, role, ip, method, path, status, reason, count"
#define AUDIT_FILTER                                                                                    \
    " seq > $7 AND at >= $5 AND at < $6 AND ($1::text IS NULL OR token_id = $1)"                      \
    " AND ($2::text IS NULL OR ip = $2) AND ($3::text IS NULL OR method = $3) AND ($4 = 0 OR status = $4)" \
    " ORDER BY seq LIMIT $8"
static const char SQL_AUDIT_LIST[] = "SELECT " AUDIT_COLS " FROM audit_log WHERE" AUDIT_FILTER;

enum promo_err pg_audit_list(struct pg_store *st, struct arena *a, const struct audit_filter *f, int64_t after_seq,
                             int limit, struct audit_entry **out, size_t *n, int64_t *next_seq)
{
    *n = 0;
    *next_seq = 0;
    struct pgc *c = pgc_get(st);
    if (!c)
        return PROMO_UNAVAILABLE;
    PGresult *r = pq(c, SQL_AUDIT_LIST, "sssiiiii", f->token_id, f->ip, f->method, (int64_t)f->status, f->since,
                     f->until ? f->until : INT64_MAX, after_seq, (int64_t)limit + 1);
    pgc_put(st, c);
    if (!r)
        return PROMO_INTERNAL;
    *out = arena_alloc(a, sizeof(struct audit_entry) * (size_t)(limit + 1));
    for (int i = 0; i < PQntuples(r); i++) {
        if ((int)*n == limit) {
            *next_seq = (*out)[*n - 1].seq;
            break;
        }
        struct audit_entry *e = &(*out)[(*n)++];
        e->seq = pg_i64(r, i, 0);
        e->at = pg_i64(r, i, 1);
        e->token_id = pg_text(r, i, 2, a);
        e->role = pg_text(r, i, 3, a);
        e->ip = pg_text(r, i, 4, a);
        e->method = pg_text(r, i, 5, a);
        e->path = pg_text(r, i, 6, a);
        e->status = (int)pg_i64(r, i, 7);
        e->reason = pg_text(r, i, 8, a);
        e->count = pg_i64(r, i, 9);
    }
    PQclear(r);
    return PROMO_OK;
}

/* ---- abuse events ---------------------------------------------------------------- */

struct abuse_arg {
    int64_t at;
    char *kind, *key, *data;
};

static enum promo_err abuse_op(struct pg_store *st, struct pgc *c, void *arg)
{
    (void)st;
    struct abuse_arg *x = arg;
    char subject[512];
    snprintf(subject, sizeof subject, "%s:%s", x->kind, x->key);
    return pg_event_log(c, "abuse_detected", x->at, NULL, NULL, strcmp(x->kind, "customer") == 0 ? x->key : NULL,
                        NULL, subject, "bruteforce", x->data);
}

static void abuse_free(void *arg)
{
    struct abuse_arg *x = arg;
    free(x->kind);
    free(x->key);
    free(x->data);
    free(x);
}

void pg_abuse_log(struct pg_store *st, const char *kind, const char *key, int64_t at, const char *data_json)
{
    struct abuse_arg *x = calloc(1, sizeof(*x));
    if (!x)
        return;
    x->at = at;
    x->kind = strdup(kind);
    x->key = strdup(key);
    x->data = strdup(data_json ? data_json : "{}");
    if (!x->kind || !x->key || !x->data) {
        abuse_free(x);
        return;
    }
    pg_post(st, abuse_op, x, abuse_free);
}
