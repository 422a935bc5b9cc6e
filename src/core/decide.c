/* decide.c — whether an order may use a code, and for how much. The checks
 * run in one fixed order so that the reason a shopper reads is stable:
 * the same state always gives the same reason, whatever else is wrong. */
#include "core.h"

#include <string.h>

__extension__ typedef __int128 wide;

static bool empty(const char *s) { return s == NULL || s[0] == '\0'; }

static bool limited(int64_t limit) { return limit != PROMO_UNLIMITED; }

/* Any rule that can only be judged for a known person needs a customer id:
 * answering "not eligible" to an anonymous shopper would be misleading. */
static bool needs_customer(const struct campaign *c, const struct code *k)
{
    return !empty(k->customer_id) || limited(c->limits.per_customer) || c->rules.n_segments > 0 ||
           c->rules.first_order_only;
}

static bool has_segment(const struct customer_facts *cf, const char *name)
{
    if (cf == NULL || !cf->known || name == NULL)
        return false;
    for (size_t i = 0; i < cf->n_segments; i++)
        if (cf->segments[i] != NULL && strcmp(cf->segments[i], name) == 0)
            return true;
    return false;
}

static bool in_segment(const struct campaign_rules *r, const struct customer_facts *cf)
{
    for (size_t j = 0; j < r->n_segments; j++)
        if (has_segment(cf, r->segments[j]))
            return true;
    return false;
}

/* An unknown customer is in no segment and has placed no order, so a
 * first-order campaign admits them and a segment campaign does not. */
static bool eligible_customer(const struct campaign_rules *r, const struct customer_facts *cf)
{
    if (r->n_segments > 0 && !in_segment(r, cf))
        return false;
    if (r->first_order_only && cf != NULL && cf->known && cf->order_count != 0)
        return false;
    return true;
}

bool core_customer_eligible(const struct campaign_rules *r, const struct customer_facts *cf)
{
    return eligible_customer(r, cf);
}

/* Before the public start, members of the early-access segment may
 * already use the campaign from its early start. */
static bool early_access(const struct campaign *c, const struct customer_facts *cf, int64_t now)
{
    return c->early_segment != NULL && now >= c->early_starts_at && has_segment(cf, c->early_segment);
}

/* Window and state share one source with the status the API shows, so a
 * campaign shown "ended" never validates as merely "inactive". */
static int state_reason(const struct campaign *c, const struct customer_facts *cf, int64_t now)
{
    switch (core_campaign_status(c, now)) {
    case STATUS_ENDED:     return PROMO_CODE_EXPIRED;
    case STATUS_DRAFT:
    case STATUS_PAUSED:    return PROMO_CAMPAIGN_INACTIVE;
    case STATUS_SCHEDULED: return early_access(c, cf, now) ? PROMO_OK : PROMO_CODE_NOT_YET_VALID;
    case STATUS_ACTIVE:    return PROMO_OK;
    }
    return PROMO_CAMPAIGN_INACTIVE;
}

/* Usage counts include live holds, so a hold takes its share of every
 * limit as soon as it is made. */
static int limits_reason(const struct campaign *c, const struct code *k, const struct usage *u,
                         const struct order *o, const char *customer_id)
{
    const struct campaign_limits *l = &c->limits;

    if (limited(k->max_uses) && u->code_uses >= k->max_uses)
        return PROMO_CODE_REDEEMED;
    if (empty(customer_id) && needs_customer(c, k))
        return PROMO_CUSTOMER_REQUIRED;
    if (!empty(k->customer_id) && !empty(customer_id) && strcmp(k->customer_id, customer_id) != 0)
        return PROMO_CODE_ASSIGNED_TO_OTHER_CUSTOMER;
    if (o->currency[0] != '\0' && strncmp(o->currency, c->currency, sizeof o->currency) != 0)
        return PROMO_CURRENCY_MISMATCH;
    if (limited(l->max_redemptions) && u->campaign_redemptions >= l->max_redemptions)
        return PROMO_CAMPAIGN_LIMIT_REACHED;
    /* A spent budget refuses whatever the order; a budget that this order
     * alone would overrun is only known once the discount is computed. */
    if (limited(l->max_discount_total) && u->campaign_discount >= l->max_discount_total)
        return PROMO_BUDGET_EXHAUSTED;
    if (limited(l->per_customer) && u->customer_redemptions >= l->per_customer)
        return PROMO_CUSTOMER_LIMIT_REACHED;
    return PROMO_OK;
}

struct verdict core_decide(const struct campaign *c, const struct code *k, const struct usage *u,
                           const struct customer_facts *cf, const struct order *o,
                           const char *customer_id, int64_t now)
{
    struct verdict v = {.reason = PROMO_OK};

    if (k->disabled) {
        v.reason = PROMO_CODE_DISABLED;
        return v;
    }
    if ((v.reason = state_reason(c, cf, now)) != PROMO_OK)
        return v;
    if (now > k->expires_at) {
        v.reason = PROMO_CODE_EXPIRED;
        return v;
    }
    if ((v.reason = limits_reason(c, k, u, o, customer_id)) != PROMO_OK)
        return v;
    if (!eligible_customer(&c->rules, cf)) {
        v.reason = PROMO_CUSTOMER_NOT_ELIGIBLE;
        return v;
    }
    if (c->rules.min_order_amount > 0 && o->amount < c->rules.min_order_amount) {
        v.reason = PROMO_MIN_ORDER_NOT_MET;
        return v;
    }

    int64_t eligible = core_eligible_amount(&c->rules, o);
    if (o->n_items > 0 && eligible == 0) {
        v.reason = PROMO_NO_ELIGIBLE_ITEMS;
        return v;
    }

    /* Items may add up to more than the order amount; the shopper can never
     * save more than the order costs, and the budget pays only what is saved. */
    int64_t amount = o->amount > 0 ? o->amount : 0;
    int64_t discount = core_discount_amount(&c->discount, eligible);
    if (discount > amount)
        discount = amount;
    int64_t points = c->discount.type == DISCOUNT_POINTS ? c->discount.points : 0;
    int64_t cost = c->discount.type == DISCOUNT_POINTS ? points : discount;

    int64_t budget = c->limits.max_discount_total;
    if (limited(budget) && (wide)u->campaign_discount + cost > budget) {
        v.reason = PROMO_BUDGET_EXHAUSTED;
        return v;
    }

    v.discount = discount;
    v.points = points;
    v.amount_after = amount - discount;
    return v;
}
