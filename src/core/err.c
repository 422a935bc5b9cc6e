#include "err.h"

#include <string.h>

static const struct {
    int status;
    const char *code;
    const char *text[2];
} err_table[] = {
#define PROMO_X_ROW(name, status, code, en, ko) {status, code, {en, ko}},
    PROMO_ERRORS(PROMO_X_ROW)
#undef PROMO_X_ROW
};

static int err_valid(enum promo_err e) { return (int)e >= 0 && e < PROMO_ERR__COUNT; }

int promo_err_status(enum promo_err e) { return err_valid(e) ? err_table[e].status : 500; }

const char *promo_err_code(enum promo_err e) { return err_valid(e) ? err_table[e].code : "internal"; }

const char *promo_err_message(enum promo_err e, enum promo_lang lang)
{
    if (!err_valid(e))
        e = PROMO_INTERNAL;
    return err_table[e].text[lang == PROMO_LANG_KO ? 1 : 0];
}

enum promo_err promo_err_from_code(const char *code)
{
    for (int i = 0; i < PROMO_ERR__COUNT; i++)
        if (strcmp(err_table[i].code, code) == 0)
            return (enum promo_err)i;
    return PROMO_ERR__COUNT;
}

int promo_err_is_reason(enum promo_err e)
{
    return (e >= PROMO_INVALID_FORMAT && e <= PROMO_SF_CODE_REDEEMED) || e == PROMO_RATE_LIMITED;
}
