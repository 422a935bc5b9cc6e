/* guard.c — rate limits and brute-force detection: which bucket and which
 * failure window belong to which client IP, token or customer. The math
 * is core/limiter.c; this file keeps the keyed state.
 *
 * Every key kind has its own fixed-size table, split into 64 shards, each
 * with its own mutex, so concurrent requests rarely wait on one another and
 * a check costs one hash, one lock and at most 8 probes. A key lives in one
 * of the 8 slots after its hash; when all 8 are taken, the least useful one
 * is evicted: an empty slot, else one with nothing to remember (a full
 * bucket, no recent failure), else the longest unused, and a blocked key
 * only if all 8 are blocked. So memory is fixed at start (TABLE_SLOTS
 * below: 167,936 entries, ~10 MiB), a flood of distinct keys only recycles
 * slots, and keys of one kind never evict another's: random customer_ids
 * in bodies cannot push a guessing IP out of the IP table.
 *
 * Keys are hashed with SipHash (libsodium's crypto_shorthash) under a key
 * drawn at start, so nobody can choose keys that collide. */
#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/limiter.h"
#include "util/log.h"
#include "util/timeutil.h"

#define SHARDS 64
#define PROBE 8

struct slot {
    uint64_t h; /* hash of the key; 0: empty */
    int64_t used_ms;
    struct limiter_bucket bucket;
    struct limiter_window fails;
};

_Static_assert(sizeof(struct slot) == 64, "a slot is one cache line");

struct shard {
    pthread_mutex_t mu;
    struct slot *slots;
} __attribute__((aligned(64))); /* one cache line each: shards do not share */

struct keytab {
    const char *kind; /* "ip", "token", "storefront", "customer" */
    struct limiter_rate rate;
    size_t per_shard; /* a power of two */
    atomic_llong used, evicted;
    struct shard shards[SHARDS];
};

/* Slots per table: the most keys of each kind remembered at once. */
enum { IP_SLOTS = 65536, TOKEN_SLOTS = 4096, STOREFRONT_SLOTS = 32768, CUSTOMER_SLOTS = 65536 };

struct api_guard {
    struct keytab ip, token, storefront, customer;
    struct limiter_policy bf;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

/* ---- tables -------------------------------------------------------------------- */

static struct limiter_rate rate_of(const struct config_rate *c)
{
    return (struct limiter_rate){.milli_per_s = c->milli_per_s, .burst = c->burst};
}

static int tab_init(struct keytab *t, const char *kind, const struct config_rate *rate, size_t slots)
{
    t->kind = kind;
    t->rate = rate_of(rate);
    t->per_shard = slots / SHARDS;
    for (int i = 0; i < SHARDS; i++) {
        /* calloc'd: pages are only touched as keys arrive */
        t->shards[i].slots = calloc(t->per_shard, sizeof(struct slot));
        if (!t->shards[i].slots)
            return -1;
        pthread_mutex_init(&t->shards[i].mu, NULL);
    }
    return 0;
}

static void tab_free(struct keytab *t)
{
    for (int i = 0; i < SHARDS; i++) {
        if (!t->shards[i].slots)
            continue;
        pthread_mutex_destroy(&t->shards[i].mu);
        free(t->shards[i].slots);
    }
}

struct api_guard *api_guard_new(const struct config *cfg)
{
    struct config defaults;
    if (!cfg) {
        config_defaults(&defaults);
        cfg = &defaults;
    }
    struct api_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    crypto_shorthash_keygen(g->hash_key);
    g->bf = (struct limiter_policy){.failures = cfg->bf_failures,
                                    .window_ms = cfg->bf_window_s * 1000,
                                    .block_ms = cfg->bf_block_s * 1000};
    if (tab_init(&g->ip, "ip", &cfg->per_ip, IP_SLOTS) != 0 ||
        tab_init(&g->token, "token", &cfg->per_token, TOKEN_SLOTS) != 0 ||
        tab_init(&g->storefront, "storefront", &cfg->storefront, STOREFRONT_SLOTS) != 0 ||
        tab_init(&g->customer, "customer", &cfg->per_customer, CUSTOMER_SLOTS) != 0) {
        api_guard_free(g);
        return NULL;
    }
    return g;
}

void api_guard_free(struct api_guard *g)
{
    if (!g)
        return;
    tab_free(&g->ip);
    tab_free(&g->token);
    tab_free(&g->storefront);
    tab_free(&g->customer);
    free(g);
}

static uint64_t key_hash(const struct api_guard *g, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), g->hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h ? h : 1;
}

/* How much a slot is worth keeping: 0 empty, 1 nothing to remember,
 * 2 live, 3 blocked. The lowest rank (then the oldest) is evicted. */
static int slot_rank(const struct keytab *t, const struct slot *s, const struct limiter_policy *bf, int64_t now)
{
    if (!s->h)
        return 0;
    if (limiter_blocked_ms(&s->fails, now))
        return 3;
    return limiter_idle(&s->bucket, &t->rate, &s->fails, bf, now) ? 1 : 2;
}

/* The key's slot, made if new (evicting as the file comment says). The
 * caller holds the shard's lock. */
static struct slot *slot_get(struct keytab *t, struct shard *sh, uint64_t h, const struct limiter_policy *bf,
                             int64_t now)
{
    size_t mask = t->per_shard - 1, first = (size_t)(h >> 6) & mask; /* the low 6 bits chose the shard */
    struct slot *victim = NULL;
    int victim_rank = 4;
    for (size_t k = 0; k < PROBE; k++) {
        struct slot *s = &sh->slots[(first + k) & mask];
        if (s->h == h) {
            s->used_ms = now;
            return s;
        }
        int rank = slot_rank(t, s, bf, now);
        if (rank < victim_rank || (rank == victim_rank && s->used_ms < victim->used_ms)) {
            victim = s;
            victim_rank = rank;
        }
    }
    if (victim_rank == 0)
        atomic_fetch_add(&t->used, 1);
    else
        atomic_fetch_add(&t->evicted, 1);
    *victim = (struct slot){.h = h, .used_ms = now};
    return victim;
}

/* ---- checks ---------------------------------------------------------------------- */

/* The two things that refuse a call before any work is done. */
enum guard_verdict { PASS, LIMITED, BLOCKED };

/* Checks one key: its block (when `use`: validate, redeem, reserve), then
 * its bucket. *wait_ms is how long the refusal lasts. */
static enum guard_verdict check(struct api_guard *g, struct keytab *t, const char *key, bool use, int64_t *wait_ms)
{
    bool blocks = use && g->bf.failures > 0;
    if (t->rate.milli_per_s <= 0 && !blocks)
        return PASS;
    uint64_t h = key_hash(g, key);
    int64_t now = time_mono_ms();
    struct shard *sh = &t->shards[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    struct slot *s = slot_get(t, sh, h, &g->bf, now);
    enum guard_verdict v = PASS;
    if (blocks && (*wait_ms = limiter_blocked_ms(&s->fails, now)) > 0)
        v = BLOCKED;
    else if (!limiter_take(&s->bucket, &t->rate, now, wait_ms))
        v = LIMITED;
    pthread_mutex_unlock(&sh->mu);
    return v;
}

static bool is_use(const struct api_req *r)
{
    return strcmp(r->method, "POST") == 0 &&
           (strcmp(r->path, "/v1/validate") == 0 || strcmp(r->path, "/v1/redemptions") == 0 ||
            strcmp(r->path, "/v1/reservations") == 0);
}

static bool is_storefront(const struct api_req *r)
{
    return r->auth.role && strcmp(r->auth.role, "storefront") == 0;
}

/* Writes the 429 and its Retry-After; `why` goes to the audit log. */
static bool refuse(struct api_req *r, struct api_resp *w, int64_t wait_ms, const char *why)
{
    api_error_reason(w, PROMO_RATE_LIMITED, r->lang);
    w->header_name = "Retry-After";
    w->header_value = arena_printf(r->a, "%lld", (long long)limiter_retry_after_s(wait_ms));
    r->refusal = why;
    atomic_fetch_add(&r->ctx->rate_limited, 1);
    return false;
}

/* The rate-limit key of an IP: IPv6 clients by their /64, since one host
 * commonly holds a whole /64 and could otherwise rotate through it. */
static const char *ip_key(const char *ip, char out[INET6_ADDRSTRLEN])
{
    struct in6_addr a6;
    if (!strchr(ip, ':') || inet_pton(AF_INET6, ip, &a6) != 1)
        return ip;
    memset(a6.s6_addr + 8, 0, 8);
    return inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN) ? out : ip;
}

/* The key a storefront token is counted under: the token with the client
 * IP, because a storefront token is public (it ships in the shop's pages)
 * and one abuser must not use up, or get blocked, every shopper's share. */
static const char *storefront_key(struct api_req *r, const char *ip)
{
    return arena_printf(r->a, "%s|%s", r->auth.id, ip);
}

bool api_guard_ip(struct api_req *r, struct api_resp *w)
{
    struct api_guard *g = r->ctx->guard;
    if (!g || !r->client_ip)
        return true;
    char buf[INET6_ADDRSTRLEN];
    int64_t wait = 0;
    switch (check(g, &g->ip, ip_key(r->client_ip, buf), is_use(r), &wait)) {
    case BLOCKED: return refuse(r, w, wait, "blocked: too many unknown codes from this IP");
    case LIMITED: return refuse(r, w, wait, "rate limit: ip");
    default: return true;
    }
}

bool api_guard_token(struct api_req *r, struct api_resp *w)
{
    struct api_guard *g = r->ctx->guard;
    if (!g || !r->auth.id)
        return true;
    int64_t wait = 0;
    bool use = is_use(r), sf = is_storefront(r);
    /* A storefront token's failures count per IP (storefront_key), so its
     * token-wide entry carries only the rate limit. */
    enum guard_verdict v = check(g, &g->token, r->auth.id, use && !sf, &wait);
    if (v == PASS && sf) {
        char buf[INET6_ADDRSTRLEN];
        v = check(g, &g->storefront, storefront_key(r, ip_key(r->client_ip ? r->client_ip : "", buf)), use, &wait);
        if (v == LIMITED)
            return refuse(r, w, wait, "rate limit: storefront");
    }
    switch (v) {
    case BLOCKED: return refuse(r, w, wait, "blocked: too many unknown codes with this token");
    case LIMITED: return refuse(r, w, wait, "rate limit: token");
    default: return true;
    }
}

bool api_guard_customer(struct api_req *r, const char *customer_id, struct api_resp *w)
{
    struct api_guard *g = r->ctx->guard;
    if (!g || !customer_id)
        return true;
    int64_t wait = 0;
    switch (check(g, &g->customer, customer_id, true, &wait)) {
    case BLOCKED: return refuse(r, w, wait, "blocked: too many unknown codes for this customer");
    case LIMITED: return refuse(r, w, wait, "rate limit: customer");
    default: return true;
    }
}

/* ---- failures -------------------------------------------------------------------- */

/* Counts a failure for one key; true when it starts the key's block. */
static bool fail(struct api_guard *g, struct keytab *t, const char *key)
{
    uint64_t h = key_hash(g, key);
    int64_t now = time_mono_ms();
    struct shard *sh = &t->shards[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    bool started = limiter_fail(&slot_get(t, sh, h, &g->bf, now)->fails, &g->bf, now);
    pthread_mutex_unlock(&sh->mu);
    return started;
}

/* A block just started: once per block, an `abuse_detected` event, an
 * audit row and a log line. `key` is an IP, a token id or a customer id:
 * none is a secret. */
static void report_block(struct api_req *r, const char *kind, const char *key)
{
    struct api_guard *g = r->ctx->guard;
    atomic_fetch_add(&r->ctx->bruteforce_blocks, 1);
    log_warn("abuse: %s %s blocked for %lld s after %lld unknown codes within %lld s", kind, key,
             (long long)(g->bf.block_ms / 1000), (long long)g->bf.failures, (long long)(g->bf.window_ms / 1000));
    json_t *data = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?}", "kind", kind, "key", key, "failures",
                             (json_int_t)g->bf.failures, "window_seconds", (json_int_t)(g->bf.window_ms / 1000),
                             "block_seconds", (json_int_t)(g->bf.block_ms / 1000), "ip", r->client_ip);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    store_abuse_log(r->ctx->st, kind, key, r->now, text);
    free(text);
    json_decref(data);
    struct api_req blocked = *r;
    blocked.refusal = arena_printf(r->a, "abuse_detected: %s blocked for %lld s", kind,
                                   (long long)(g->bf.block_ms / 1000));
    api_audit_record(r->ctx, &blocked, 429);
}

void api_guard_failure(struct api_req *r, const char *customer_id, enum promo_err reason)
{
    struct api_guard *g = r->ctx->guard;
    if (!g || g->bf.failures <= 0 || (reason != PROMO_CODE_NOT_FOUND && reason != PROMO_INVALID_FORMAT))
        return;
    char buf[INET6_ADDRSTRLEN];
    const char *ip = r->client_ip ? ip_key(r->client_ip, buf) : NULL;
    if (ip && fail(g, &g->ip, ip))
        report_block(r, "ip", ip);
    if (r->auth.id && is_storefront(r)) {
        if (ip && fail(g, &g->storefront, storefront_key(r, ip)))
            report_block(r, "storefront", storefront_key(r, ip));
    } else if (r->auth.id && fail(g, &g->token, r->auth.id)) {
        report_block(r, "token", r->auth.id);
    }
    if (customer_id && fail(g, &g->customer, customer_id))
        report_block(r, "customer", customer_id);
}

/* ---- metrics --------------------------------------------------------------------- */

void api_guard_metrics(struct api_ctx *ctx, FILE *f)
{
    fprintf(f, "# HELP promo_rate_limited_total Requests refused with 429 (rate limits and brute-force blocks).\n"
               "# TYPE promo_rate_limited_total counter\npromo_rate_limited_total %lld\n"
               "# HELP promo_bruteforce_blocks_total Keys blocked by brute-force detection.\n"
               "# TYPE promo_bruteforce_blocks_total counter\npromo_bruteforce_blocks_total %lld\n",
            (long long)atomic_load(&ctx->rate_limited), (long long)atomic_load(&ctx->bruteforce_blocks));
    uint64_t queued = 0, dropped = 0;
    store_audit_stats(ctx->st, &queued, &dropped);
    fprintf(f, "# HELP promo_audit_queued Audit rows waiting for the writer.\n# TYPE promo_audit_queued gauge\n"
               "promo_audit_queued %llu\n"
               "# HELP promo_audit_dropped_total Audit rows dropped because too many were waiting.\n"
               "# TYPE promo_audit_dropped_total counter\npromo_audit_dropped_total %llu\n",
            (unsigned long long)queued, (unsigned long long)dropped);
    struct api_guard *g = ctx->guard;
    if (!g)
        return;
    const struct keytab *tabs[] = {&g->ip, &g->token, &g->storefront, &g->customer};
    fprintf(f, "# HELP promo_guard_keys Keys held by the limiter tables (each table has a fixed size).\n"
               "# TYPE promo_guard_keys gauge\n");
    for (size_t i = 0; i < 4; i++)
        fprintf(f, "promo_guard_keys{table=\"%s\"} %lld\n", tabs[i]->kind, (long long)atomic_load(&tabs[i]->used));
    fprintf(f, "# HELP promo_guard_capacity Slots of each limiter table.\n# TYPE promo_guard_capacity gauge\n");
    for (size_t i = 0; i < 4; i++)
        fprintf(f, "promo_guard_capacity{table=\"%s\"} %zu\n", tabs[i]->kind, tabs[i]->per_shard * SHARDS);
    fprintf(f, "# HELP promo_guard_evictions_total Keys evicted to make room for new ones.\n"
               "# TYPE promo_guard_evictions_total counter\n");
    for (size_t i = 0; i < 4; i++)
        fprintf(f, "promo_guard_evictions_total{table=\"%s\"} %lld\n", tabs[i]->kind,
                (long long)atomic_load(&tabs[i]->evicted));
}
