/* campaign.c — a campaign's shown status, the names of its enums, and the
 * checks a definition passes before the store keeps it. */
#include "core.h"

#include <math.h>
#include <string.h>

#define NAME_MAX_BYTES 200
#define VALIDITY_DAYS_MAX 3650

/* Ended wins over everything a person set, so a paused or draft campaign
 * whose window has closed is shown (and validates) as ended. */
enum campaign_status core_campaign_status(const struct campaign *c, int64_t now)
{
    if (c->state == CAMPAIGN_ENDED || now > c->ends_at)
        return STATUS_ENDED;
    if (c->state == CAMPAIGN_PAUSED)
        return STATUS_PAUSED;
    if (c->state == CAMPAIGN_DRAFT)
        return STATUS_DRAFT;
    if (now < c->starts_at)
        return STATUS_SCHEDULED;
    return STATUS_ACTIVE;
}

const char *core_status_name(enum campaign_status s)
{
    switch (s) {
    case STATUS_DRAFT:     return "draft";
    case STATUS_SCHEDULED: return "scheduled";
    case STATUS_ACTIVE:    return "active";
    case STATUS_PAUSED:    return "paused";
    case STATUS_ENDED:     return "ended";
    }
    return "unknown";
}

const char *core_discount_type_name(enum discount_type t)
{
    switch (t) {
    case DISCOUNT_FIXED:   return "fixed";
    case DISCOUNT_PERCENT: return "percent";
    case DISCOUNT_POINTS:  return "points";
    }
    return "unknown";
}

enum discount_type core_discount_type_parse(const char *s)
{
    if (s == NULL)
        return 0;
    if (strcmp(s, "fixed") == 0)
        return DISCOUNT_FIXED;
    if (strcmp(s, "percent") == 0)
        return DISCOUNT_PERCENT;
    if (strcmp(s, "points") == 0)
        return DISCOUNT_POINTS;
    return 0;
}

bool core_currency_valid(const char *s)
{
    if (s == NULL)
        return false;
    for (int i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return s[3] == '\0';
}

/* JSON numbers arrive as doubles, so 12.34 is really 12.339999...; the
 * tolerance forgives that noise while still refusing a third decimal. */
int32_t core_percent_to_bp(double p)
{
    if (!isfinite(p) || p <= 0.0 || p > 100.0 + 1e-6)
        return -1;
    double scaled = p * 100.0;
    double bp = round(scaled);
    if (fabs(scaled - bp) > 1e-6 || bp < 1.0 || bp > 10000.0)
        return -1;
    return (int32_t)bp;
}

static bool money_ok(int64_t v, int64_t min) { return v >= min && v <= PROMO_MONEY_MAX; }

static bool limit_ok(int64_t v) { return v == PROMO_UNLIMITED || money_ok(v, 0); }

static bool strings_nonempty(const char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == NULL || list[i][0] == '\0')
            return false;
    return true;
}

/* Records the first problem found; the dotted names are the JSON paths a
 * client wrote, so the API can echo them back as they are. */
static enum promo_err bad(const char **field, const char **why, const char *f, const char *w)
{
    if (field)
        *field = f;
    if (why)
        *why = w;
    return PROMO_BAD_REQUEST;
}

static enum promo_err check_discount(const struct discount *d, const char **field, const char **why)
{
    switch (d->type) {
    case DISCOUNT_FIXED:
        if (!money_ok(d->amount, 1))
            return bad(field, why, "discount.amount", "must be a positive amount of at most 10^15");
        return PROMO_OK;
    case DISCOUNT_PERCENT:
        if (d->percent_bp < 1 || d->percent_bp > 10000)
            return bad(field, why, "discount.percent",
                       "must be above 0 and at most 100, with at most two decimals");
        if (d->max_amount != PROMO_UNLIMITED && !money_ok(d->max_amount, 1))
            return bad(field, why, "discount.max_amount",
                       "must be a positive amount of at most 10^15");
        return PROMO_OK;
    case DISCOUNT_POINTS:
        if (!money_ok(d->points, 1))
            return bad(field, why, "discount.points", "must be a positive number of at most 10^15");
        return PROMO_OK;
    }
    return bad(field, why, "discount.type", "must be \"fixed\", \"percent\" or \"points\"");
}

enum promo_err core_campaign_check(const struct campaign *c, const char **field, const char **why)
{
    if (c->name == NULL || c->name[0] == '\0')
        return bad(field, why, "name", "must not be empty");
    if (strlen(c->name) > NAME_MAX_BYTES)
        return bad(field, why, "name", "must be at most 200 bytes");
    if (!core_currency_valid(c->currency))
        return bad(field, why, "currency", "must be an ISO 4217 code of three upper-case letters");

    enum promo_err rc = check_discount(&c->discount, field, why);
    if (rc != PROMO_OK)
        return rc;

    if (c->starts_at != PROMO_TIME_MIN && c->ends_at != PROMO_TIME_MAX && c->starts_at >= c->ends_at)
        return bad(field, why, "ends_at", "must be after starts_at");

    static const char limit_why[] = "must be null (unlimited) or a whole number from 0 to 10^15";
    if (!limit_ok(c->limits.max_redemptions))
        return bad(field, why, "limits.max_redemptions", limit_why);
    if (!limit_ok(c->limits.per_customer))
        return bad(field, why, "limits.per_customer", limit_why);
    if (!limit_ok(c->limits.max_discount_total))
        return bad(field, why, "limits.max_discount_total", limit_why);
    if (!limit_ok(c->limits.max_issued))
        return bad(field, why, "limits.max_issued", limit_why);

    const struct campaign_rules *r = &c->rules;
    if (!money_ok(r->min_order_amount, 0))
        return bad(field, why, "rules.min_order_amount", "must be an amount from 0 to 10^15");
    if (!strings_nonempty(r->categories, r->n_categories))
        return bad(field, why, "rules.categories", "must not hold empty names");
    if (!strings_nonempty(r->exclude_categories, r->n_exclude_categories))
        return bad(field, why, "rules.exclude_categories", "must not hold empty names");
    if (!strings_nonempty(r->segments, r->n_segments))
        return bad(field, why, "rules.segments", "must not hold empty names");

    if (c->code_validity_days < 0 || c->code_validity_days > VALIDITY_DAYS_MAX)
        return bad(field, why, "code_validity_days", "must be a number of days from 0 to 3650");
    return PROMO_OK;
}

static const struct {
    enum role role;
    const char *name;
} role_names[] = {
    {ROLE_ADMIN, "admin"},           {ROLE_MARKETER, "marketer"}, {ROLE_INTEGRATION, "integration"},
    {ROLE_STOREFRONT, "storefront"}, {ROLE_VIEWER, "viewer"},
};

enum role core_role_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof role_names / sizeof role_names[0]; i++)
        if (strcmp(role_names[i].name, name) == 0)
            return role_names[i].role;
    return 0;
}

const char *core_role_name(enum role r)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (role_names[i].role == r)
            return role_names[i].name;
    return "unknown";
}
