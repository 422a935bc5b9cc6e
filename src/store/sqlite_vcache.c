/* sqlite_vcache.c — what a validation decides on, kept between calls.
 *
 * A validation reads a code, its campaign and the customer's count (one
 * statement, but a read transaction of its own: under load that read was
 * a sixth of the server's CPU on the validation path), and nothing it
 * reads changes unless the writer commits a change. So the inputs are
 * kept here, stamped with the store's data version, and used again while
 * the version stands.
 *
 * The version is bumped after every commit that may have changed them:
 * every batch but one made only of logged validations (those change no
 * input), and every other commit the writer makes. It is bumped right after
 * the COMMIT and before any caller of that batch is answered, and a reader
 * takes the version *before* it reads: so an entry can be older than its
 * stamp but never newer, and no one who got an answer from a write can
 * then validate against data from before it. Only this process writes the
 * file (sqlite_open takes an exclusive lock on it).
 *
 * Campaigns are kept on their own too, under "\001" and their id: a
 * validation for a code or customer not seen at this version then reads
 * only the code and the customer's count (sqlite_validate).
 *
 * Not kept: a code that was not found (guesses would push out real
 * entries), and campaigns whose rules look at the customer's facts or
 * segments (those are read anew each time). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/strpack.h"

#define VCACHE_SLOTS 1024
#define VCACHE_CUSTOMER_MAX 201

struct vslot {
    uint64_t version; /* 0: empty */
    char key[CODEFMT_KEY_MAX + 1];
    char customer[VCACHE_CUSTOMER_MAX];
    bool has_customer;
    struct use_inputs in; /* strings point into text */
    char *text;
};

struct vcache {
    _Atomic uint64_t version;
    pthread_mutex_t lock;
    struct vslot slot[VCACHE_SLOTS];
};

int vcache_open(struct sqlite_store *st)
{
    struct vcache *v = calloc(1, sizeof(*v));
    if (!v)
        return -1;
    atomic_init(&v->version, 1);
    pthread_mutex_init(&v->lock, NULL);
    st->vcache = v;
    return 0;
}

void vcache_close(struct sqlite_store *st)
{
    struct vcache *v = st->vcache;
    if (!v)
        return;
    for (size_t i = 0; i < VCACHE_SLOTS; i++)
        free(v->slot[i].text);
    pthread_mutex_destroy(&v->lock);
    free(v);
    st->vcache = NULL;
}

uint64_t vcache_version(struct sqlite_store *st) { return atomic_load(&st->vcache->version); }

void vcache_changed(struct sqlite_store *st)
{
    if (st->vcache)
        atomic_fetch_add(&st->vcache->version, 1);
}

static size_t slot_of(const char *key, const char *customer)
{
    /* FNV-1a over key and customer: spreads codes that share a prefix. */
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = customer ? customer : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h % VCACHE_SLOTS);
}

static bool slot_matches(const struct vslot *s, uint64_t version, const char *key, const char *customer)
{
    return s->version == version && strcmp(s->key, key) == 0 && s->has_customer == (customer != NULL) &&
           (!customer || strcmp(s->customer, customer) == 0);
}

/* ---- copying the strings of an entry ------------------------------------ */

/* The strings a decision reads: the campaign's category lists and time
 * zone, the code's customer. Name and metadata are not kept (a decision
 * does not read them); segments and early access never are (such
 * campaigns are not kept). */

/* n strings into the pointer array at *arr (reserved, aligned), their text
 * at *p. */
static const char **put_strv(const char ***arr, char **p, const char *const *v, size_t n)
{
    if (!n)
        return NULL;
    const char **out = *arr;
    *arr += n;
    for (size_t i = 0; i < n; i++)
        *p = strpack(*p, &v[i], (const char **const[]){&out[i]}, 1);
    return out;
}

/* in's strings into one malloc'd block (*text); out points into it. The
 * pointer arrays come first, where malloc's alignment holds, then text. */
static int pack(const struct use_inputs *in, struct use_inputs *out, char **text)
{
    const struct campaign_rules *r = &in->cp.rules;
    const char *single[2] = {in->cp.timezone, in->k.customer_id};
    size_t ptrs = (r->n_categories + r->n_exclude_categories) * sizeof(char *);
    size_t len = ptrs + strpack_size(r->categories, r->n_categories) +
                 strpack_size(r->exclude_categories, r->n_exclude_categories) + strpack_size(single, 2) + 1;
    char *block = malloc(len);
    if (!block)
        return -1;
    const char **arr = (const char **)(void *)block;
    char *p = block + ptrs;
    *out = *in;
    out->cp.name = NULL;
    out->cp.metadata_json = NULL;
    out->cp.rules.categories = put_strv(&arr, &p, r->categories, r->n_categories);
    out->cp.rules.exclude_categories = put_strv(&arr, &p, r->exclude_categories, r->n_exclude_categories);
    strpack(p, single, (const char **const[]){&out->cp.timezone, &out->k.customer_id}, 2);
    *text = block;
    return 0;
}

/* A cached entry's strings into the request's arena. */
static void unpack(const struct use_inputs *in, struct arena *a, struct use_inputs *out)
{
    *out = *in;
    const struct campaign_rules *r = &in->cp.rules;
    if (r->n_categories) {
        out->cp.rules.categories = arena_alloc(a, r->n_categories * sizeof(char *));
        for (size_t i = 0; i < r->n_categories; i++)
            out->cp.rules.categories[i] = arena_strdup(a, r->categories[i]);
    }
    if (r->n_exclude_categories) {
        out->cp.rules.exclude_categories = arena_alloc(a, r->n_exclude_categories * sizeof(char *));
        for (size_t i = 0; i < r->n_exclude_categories; i++)
            out->cp.rules.exclude_categories[i] = arena_strdup(a, r->exclude_categories[i]);
    }
    out->cp.timezone = arena_strdup(a, in->cp.timezone);
    out->k.customer_id = arena_strdup(a, in->k.customer_id);
}

/* ---- get and put ------------------------------------------------------------ */

bool vcache_get(struct sqlite_store *st, uint64_t version, const char *key, const char *customer,
                struct arena *a, struct use_inputs *out)
{
    struct vcache *v = st->vcache;
    if (!v || (customer && strlen(customer) >= VCACHE_CUSTOMER_MAX))
        return false;
    bool hit = false;
    pthread_mutex_lock(&v->lock);
    struct vslot *s = &v->slot[slot_of(key, customer)];
    if (slot_matches(s, version, key, customer)) {
        unpack(&s->in, a, out);
        hit = true;
    }
    pthread_mutex_unlock(&v->lock);
    return hit;
}

void vcache_put(struct sqlite_store *st, uint64_t version, const char *key, const char *customer,
                const struct use_inputs *in)
{
    struct vcache *v = st->vcache;
    if (!v || !in->found || (customer && strlen(customer) >= VCACHE_CUSTOMER_MAX) ||
        strlen(key) > CODEFMT_KEY_MAX)
        return;
    const struct campaign *cp = &in->cp;
    if (cp->rules.n_segments || cp->rules.first_order_only || cp->early_segment)
        return; /* decided on the customer's facts: read anew each time */
    struct use_inputs packed;
    char *text;
    if (pack(in, &packed, &text) != 0)
        return;
    pthread_mutex_lock(&v->lock);
    struct vslot *s = &v->slot[slot_of(key, customer)];
    free(s->text);
    s->version = version;
    strcpy(s->key, key);
    s->has_customer = customer != NULL;
    strcpy(s->customer, customer ? customer : "");
    s->in = packed;
    s->text = text;
    pthread_mutex_unlock(&v->lock);
}

/* Campaign entries share the slots, under a key no code has (a code's key
 * is letters and digits). */
static void campaign_key(char out[CODEFMT_KEY_MAX + 1], const char *campaign_id)
{
    snprintf(out, CODEFMT_KEY_MAX + 1, "\001%s", campaign_id);
}

bool vcache_get_campaign(struct sqlite_store *st, uint64_t version, const char *campaign_id, struct arena *a,
                         struct use_inputs *out)
{
    char key[CODEFMT_KEY_MAX + 1];
    campaign_key(key, campaign_id);
    return vcache_get(st, version, key, NULL, a, out);
}

void vcache_put_campaign(struct sqlite_store *st, uint64_t version, const struct use_inputs *in)
{
    char key[CODEFMT_KEY_MAX + 1];
    campaign_key(key, in->cp.id);
    struct use_inputs only = {.found = true, .cp = in->cp, .u = in->u};
    only.u.code_uses = 0;
    only.u.customer_redemptions = 0;
    vcache_put(st, version, key, NULL, &only);
}
