/* discount.c — the money arithmetic of a discount. Every product is taken
 * in 128 bits and every sum saturates at PROMO_MONEY_MAX, so no order,
 * however absurd, can overflow or wrap into a negative discount. */
#include "core.h"

#include <string.h>

__extension__ typedef __int128 wide;

static bool listed(const char *s, const char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] != NULL && strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* An item without a category cannot match a category list, so it only
 * counts when the campaign admits everything. */
static bool admitted(const struct campaign_rules *r, const char *category)
{
    if (category == NULL)
        return r->n_categories == 0;
    if (r->n_categories > 0 && !listed(category, r->categories, r->n_categories))
        return false;
    return !listed(category, r->exclude_categories, r->n_exclude_categories);
}

static int64_t clamp_money(wide v)
{
    if (v < 0)
        return 0;
    if (v > PROMO_MONEY_MAX)
        return PROMO_MONEY_MAX;
    return (int64_t)v;
}

/* A line with a non-positive price or quantity adds nothing: the API
 * refuses such items, and here they must not lower the eligible sum. */
int64_t core_eligible_amount(const struct campaign_rules *r, const struct order *o)
{
    if (o->n_items == 0 || o->items == NULL)
        return clamp_money(o->amount);

    wide sum = 0;
    for (size_t i = 0; i < o->n_items; i++) {
        const struct order_item *it = &o->items[i];
        if (it->price <= 0 || it->quantity <= 0 || !admitted(r, it->category))
            continue;
        sum += (wide)it->price * it->quantity;
        if (sum >= PROMO_MONEY_MAX)
            return PROMO_MONEY_MAX;
    }
    return (int64_t)sum;
}

int64_t core_discount_amount(const struct discount *d, int64_t eligible)
{
    if (eligible <= 0)
        return 0;
    switch (d->type) {
    case DISCOUNT_PERCENT: {
        if (d->percent_bp <= 0)
            return 0;
        int64_t off = clamp_money((wide)eligible * d->percent_bp / 10000);
        if (d->max_amount != PROMO_UNLIMITED && off > d->max_amount)
            off = d->max_amount < 0 ? 0 : d->max_amount;
        return off;
    }
    case DISCOUNT_FIXED:
        if (d->amount <= 0)
            return 0;
        return d->amount < eligible ? d->amount : eligible;
    case DISCOUNT_POINTS:
        return 0;
    }
    return 0;
}
