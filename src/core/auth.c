/* auth.c — what roles may hand out, and what a storefront token is told:
 * the two access-control decisions that need no route table. */
#include "core/core.h"

bool core_role_covers(enum role held, enum role wanted)
{
    if (!held || !wanted)
        return false;
    if (held == wanted || held == ROLE_ADMIN)
        return true;
    /* Every route open to the narrower role is open to the wider one
     * (src/http/router.c): R_READ and R_ORDERS hold marketer wherever they
     * hold viewer, and validation is the one route of storefront. */
    return (held == ROLE_MARKETER && wanted == ROLE_VIEWER) ||
           (held == ROLE_INTEGRATION && wanted == ROLE_STOREFRONT);
}

enum promo_err core_coarse_reason(enum promo_err fine)
{
    if (fine == PROMO_OK || !promo_err_is_reason(fine) || fine == PROMO_RATE_LIMITED)
        return fine;
    switch (fine) {
    case PROMO_CODE_EXPIRED:
    case PROMO_CODE_NOT_YET_VALID:
    case PROMO_CAMPAIGN_INACTIVE:
    case PROMO_SF_CODE_EXPIRED:
        return PROMO_SF_CODE_EXPIRED;
    case PROMO_CODE_REDEEMED:
    case PROMO_SF_CODE_REDEEMED:
        return PROMO_SF_CODE_REDEEMED;
    default:
        return PROMO_SF_CODE_INVALID;
    }
}
