/* core.h — promo's domain decisions. Pure C: no I/O, no allocation, no
 * clock (the caller passes `now`), no randomness source of its own (the
 * caller passes one). Every function here is unit-tested in
 * tests/unit without a database. */
#ifndef PROMO_CORE_H
#define PROMO_CORE_H

#include "err.h"
#include "types.h"

/* ---- campaigns --------------------------------------------------------- */

/* The status API answers show: ended beats paused beats draft beats the
 * window (ended by hand or after ends_at, scheduled before starts_at). */
enum campaign_status core_campaign_status(const struct campaign *c, int64_t now);
const char *core_status_name(enum campaign_status s);   /* "active" */
const char *core_discount_type_name(enum discount_type t); /* "percent" */
/* Parses "fixed" | "percent" | "points"; returns 0 when unknown. */
enum discount_type core_discount_type_parse(const char *s);

/* Checks a campaign's definition before it is stored. Returns PROMO_OK or
 * PROMO_BAD_REQUEST with `field` pointed at a static dotted name of the
 * offending field ("discount.percent") and `why` at a static sentence. */
enum promo_err core_campaign_check(const struct campaign *c, const char **field, const char **why);

/* ---- roles -------------------------------------------------------------- */

/* What a token may do. A route names the roles it admits as a bit set. */
enum role {
    ROLE_ADMIN = 1 << 0,       /* everything */
    ROLE_MARKETER = 1 << 1,    /* campaigns, codes, customers, rules, templates, reports */
    ROLE_INTEGRATION = 1 << 2, /* validate, reserve, redeem, rollback, events, customer upsert */
    ROLE_STOREFRONT = 1 << 3,  /* validate only, coarse reasons, strict rate limit */
    ROLE_VIEWER = 1 << 4,      /* read only */
};
#define ROLE_ANY (ROLE_ADMIN | ROLE_MARKETER | ROLE_INTEGRATION | ROLE_STOREFRONT | ROLE_VIEWER)
/* "admin" → ROLE_ADMIN; 0 when unknown. */
enum role core_role_parse(const char *name);
/* ROLE_ADMIN → "admin"; "unknown" for anything else. Static storage. */
const char *core_role_name(enum role r);
/* True when a token of role `held` may hand out a token of role `wanted`
 * (an OAuth client asking for a narrower scope): `wanted` is `held`
 * itself or a role whose every route `held` may call too. So admin covers
 * every role, marketer covers viewer, integration covers storefront, and
 * nothing else (viewer reads campaigns, which integration and storefront
 * may not). src/core/auth.c; tests/api/test_roles.py checks the relation
 * against the route table. */
bool core_role_covers(enum role held, enum role wanted);
/* The reason a storefront token is told instead of `fine`, so that a
 * public token cannot learn which codes exist from the reasons:
 * PROMO_SF_CODE_EXPIRED for expired, not yet valid and inactive (the
 * campaign is paused, a draft or ended), PROMO_SF_CODE_REDEEMED for
 * redeemed, PROMO_SF_CODE_INVALID for every other refusal. PROMO_OK and
 * what is not a refusal reason pass unchanged. */
enum promo_err core_coarse_reason(enum promo_err fine);

/* ---- discount math ----------------------------------------------------- */

/* Sum of price × quantity of the items the category rules admit, or the
 * order amount when it has no items. Saturates at PROMO_MONEY_MAX. */
int64_t core_eligible_amount(const struct campaign_rules *r, const struct order *o);
/* Discount on an eligible amount: percent → floor(eligible × p / 100) then
 * the cap; fixed → min(amount, eligible); points → 0 (points are awarded). */
int64_t core_discount_amount(const struct discount *d, int64_t eligible);

/* ---- the decision ------------------------------------------------------ */

/* Decides whether `order` may use code `k` of campaign `c` now, given what
 * the store counted. `customer_id` may be NULL. Checks in a fixed order so
 * the reason is stable: format and existence are the caller's (it found
 * `k`); then disabled, campaign state and window, code expiry, uses,
 * customer identity and assignment, currency, campaign limits, budget,
 * per-customer limit, eligibility, minimum order, eligible items.
 * On PROMO_OK the verdict carries the discount; otherwise only reason. */
struct verdict core_decide(const struct campaign *c, const struct code *k, const struct usage *u,
                           const struct customer_facts *cf, const struct order *o,
                           const char *customer_id, int64_t now);

/* The customer part of the decision alone (issuing a code to someone):
 * true when the segment and first-order rules admit `cf` (NULL or
 * unknown: in no segment, no order). */
bool core_customer_eligible(const struct campaign_rules *r, const struct customer_facts *cf);

/* ---- codes: normalising, patterns, keyspace ---------------------------- */

/* Upper-case letters and digits without the look-alikes 0 O 1 I L. */
#define CODEFMT_DEFAULT_CHARSET "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#define CODEFMT_KEY_MAX PROMO_CODE_MAX

/* The lookup key of what a user typed: ASCII letters upper-cased, spaces,
 * tabs and dashes removed ("fall-ab12 cd34" → "FALLAB12CD34"). Other
 * characters allowed in codes: digits, '_' and '.'. Writes at most
 * CODEFMT_KEY_MAX + 1 bytes to `key`. Returns PROMO_OK or
 * PROMO_INVALID_FORMAT (empty key, longer than CODEFMT_KEY_MAX, or any
 * other character, including non-ASCII and NUL before `len`). */
enum promo_err codefmt_normalize(const char *in, size_t len, char key[CODEFMT_KEY_MAX + 1]);

/* Checks a code as a person chose it (vanity, imported): same alphabet as
 * codefmt_normalize, plus it must be at most PROMO_CODE_MAX characters as
 * shown. Copies the shown form, upper-cased and trimmed, into `shown`. */
enum promo_err codefmt_check_shown(const char *in, size_t len, char shown[PROMO_CODE_MAX + 1]);

/* A generation request in one shape: a pattern where '#' takes a random
 * character of charset and other characters are kept. The length/prefix/
 * postfix form is turned into a pattern by codefmt_pattern_from_length. */
struct codegen {
    char pattern[PROMO_CODE_MAX + 1];
    char charset[128]; /* distinct printable characters allowed in codes */
};

/* Fills g from the request's parts (any may be NULL for defaults: pattern
 * NULL and length 0 mean a 12-character pattern). Returns PROMO_OK or
 * PROMO_BAD_REQUEST with *field and *why static strings naming the problem:
 * no '#' in the pattern, too long, charset with duplicates, characters
 * not allowed in codes, fewer than 2 characters... */
enum promo_err codefmt_prepare(struct codegen *g, const char *pattern, int64_t length,
                               const char *prefix, const char *postfix, const char *charset,
                               const char **field, const char **why);

/* The shape a guesser sees: the pattern as a lookup key (upper case,
 * spaces and dashes dropped, '#' kept) and the charset sorted. Patterns
 * that differ only in dashes or charset order share one keyspace, so the
 * keyspace guard counts them together. Both outputs are NUL-terminated. */
void codefmt_shape(const struct codegen *g, char pattern[PROMO_CODE_MAX + 1], char charset[128]);

/* log10 of the number of distinct strings the pattern can make. */
double codefmt_log10_keyspace(const struct codegen *g);
/* PROMO_OK if `total_valid` codes of this shape keep at least 10^6 possible
 * strings per valid code, else PROMO_KEYSPACE_TOO_SMALL. */
enum promo_err codefmt_keyspace_check(const struct codegen *g, int64_t total_valid);

/* A source of uniform random integers in [0, upper): the caller passes
 * libsodium's randombytes_uniform (or a fixed sequence in tests). */
typedef uint32_t (*codefmt_rand_fn)(uint32_t upper);
/* Writes one code of the pattern into `out` (PROMO_CODE_MAX + 1 bytes). */
void codefmt_render(const struct codegen *g, codefmt_rand_fn rnd, char out[PROMO_CODE_MAX + 1]);

/* Codes made ahead of storing them, ordered by key. Storing keys in key
 * order walks the unique-key index from left to right; a large generation
 * made as one sorted batch and stored in consecutive slices touches each
 * index page about once instead of once per slice. */
struct code_pair {
    const char *key;   /* normalised (codefmt_normalize) */
    const char *shown; /* as rendered */
    uint64_t head;     /* the key's first 8 bytes, big-endian: orders most pairs without strcmp */
};
struct code_batch {
    size_t n;
    struct code_pair *v; /* n pairs, ordered by key */
    char *text;          /* the strings; NULL in a slice (code_batch_slice) */
};
/* Renders n codes of shape g with rnd into out, ordered by key. 0, or -1
 * when memory ran out or a rendered code does not normalise (out is then
 * empty). The caller frees with code_batch_free. */
int code_batch_make(const struct codegen *g, codefmt_rand_fn rnd, size_t n, struct code_batch *out);
void code_batch_free(struct code_batch *b);
/* Pairs [from, from + n) of b, borrowing its memory (nothing to free). */
struct code_batch code_batch_slice(const struct code_batch *b, size_t from, size_t n);

/* ---- parsing helpers shared by api/ and store/ ------------------------- */

/* Percent given as a JSON number (15, 12.5, 12.34) → basis points. Returns
 * -1 unless 0 < p ≤ 100 with at most two decimals. */
int32_t core_percent_to_bp(double p);
/* True for three upper-case ASCII letters (ISO 4217 shape). */
bool core_currency_valid(const char *s);

#endif
