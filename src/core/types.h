/* types.h — the domain structs shared by core/, store/ and api/.
 *
 * Ownership: every pointer inside these structs is borrowed. Whoever filled
 * the struct owns the memory (usually a per-request arena, see
 * util/arena.h); core/ never allocates or frees them.
 *
 * Times are Unix seconds (UTC). Money is an int64 in the currency's minor
 * unit. A limit of PROMO_UNLIMITED (-1) means "no limit". */
#ifndef PROMO_CORE_TYPES_H
#define PROMO_CORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMO_UNLIMITED (-1)
#define PROMO_TIME_MIN INT64_MIN /* open start */
#define PROMO_TIME_MAX INT64_MAX /* open end */
/* Largest money amount, price, quantity or point count promo accepts:
 * 10^15 minor units keeps every sum and product of an order far from int64
 * overflow (core_decide still multiplies in 128 bits). */
#define PROMO_MONEY_MAX 1000000000000000LL
#define PROMO_ID_MAX 48     /* "cmp_" + random part, with room */
#define PROMO_CODE_MAX 64   /* characters of a code as shown */

enum discount_type { DISCOUNT_FIXED = 1, DISCOUNT_PERCENT = 2, DISCOUNT_POINTS = 3 };

struct discount {
    enum discount_type type;
    int64_t amount;     /* fixed: minor units subtracted (at most the eligible sum) */
    int32_t percent_bp; /* percent in basis points: 15% = 1500, 12.5% = 1250 */
    int64_t max_amount; /* percent: cap, or PROMO_UNLIMITED */
    int64_t points;     /* points: awarded, not subtracted */
};

struct campaign_limits {
    int64_t max_redemptions;    /* all codes of the campaign together */
    int64_t per_customer;       /* redemptions per customer */
    int64_t max_discount_total; /* money (points for a points campaign) */
    int64_t max_issued;         /* codes the campaign may hold */
};

struct campaign_rules {
    int64_t min_order_amount; /* 0: none */
    const char **categories;  /* items admitted; n_categories 0: all */
    size_t n_categories;
    const char **exclude_categories;
    size_t n_exclude_categories;
    const char **segments; /* customer segments admitted; 0: all */
    size_t n_segments;
    bool first_order_only;
};

/* The state a person set; the status shown is derived from it and time. */
enum campaign_state { CAMPAIGN_DRAFT = 0, CAMPAIGN_LIVE = 1, CAMPAIGN_PAUSED = 2, CAMPAIGN_ENDED = 3 };
enum campaign_status { STATUS_DRAFT, STATUS_SCHEDULED, STATUS_ACTIVE, STATUS_PAUSED, STATUS_ENDED };

struct campaign {
    char id[PROMO_ID_MAX];
    const char *name;
    char currency[4]; /* ISO 4217, upper case */
    struct discount discount;
    int64_t starts_at; /* PROMO_TIME_MIN: open */
    int64_t ends_at;   /* inclusive; PROMO_TIME_MAX: open */
    const char *timezone; /* IANA name or NULL */
    struct campaign_limits limits;
    struct campaign_rules rules;
    int64_t code_validity_days; /* 0: codes do not expire by age */
    const char *metadata_json;  /* a JSON object as text, or NULL */
    enum campaign_state state;
    int64_t created_at, updated_at;
    /* VIP early-bird window: members of early_segment may use the campaign
     * from early_starts_at on, before the public starts_at. NULL: none. */
    const char *early_segment;
    int64_t early_starts_at;
};

struct code {
    char code[PROMO_CODE_MAX + 1]; /* as shown: "FALL-AB12-CD34" */
    char campaign_id[PROMO_ID_MAX];
    const char *customer_id; /* assigned customer or NULL */
    int64_t max_uses;        /* PROMO_UNLIMITED for unlimited */
    int64_t uses;            /* successful redemptions net of rollbacks */
    bool disabled;
    int64_t issued_at;
    int64_t expires_at; /* PROMO_TIME_MAX: no expiry of its own */
};

/* What the store counted inside the deciding transaction. Each count
 * includes live reservations (holds), which count against every limit. */
struct usage {
    int64_t code_uses;              /* this code: redemptions + holds */
    int64_t campaign_redemptions;   /* whole campaign: redemptions + holds */
    int64_t campaign_discount;      /* whole campaign: discount given + held */
    int64_t customer_redemptions;   /* this customer in this campaign */
};

struct order_item {
    const char *sku;
    const char *category; /* may be NULL */
    int64_t price;        /* per unit, minor units */
    int64_t quantity;
};

struct order {
    const char *id; /* may be NULL for validation */
    int64_t amount;
    char currency[4]; /* empty string: not given (then not compared) */
    const struct order_item *items;
    size_t n_items;
};

/* What a customer is known to be: the segments they are in (set by hand
 * and computed by the segment rules) and their orders. An unknown customer
 * (known = false) is in no segment and has no orders. */
struct customer_facts {
    bool known;
    const char **segments;
    size_t n_segments;
    int64_t order_count;
};

struct verdict {
    int reason;           /* enum promo_err: PROMO_OK when the code applies */
    int64_t discount;     /* money subtracted from the order */
    int64_t points;       /* points awarded (points campaigns) */
    int64_t amount_after; /* order amount minus discount */
};

#endif
