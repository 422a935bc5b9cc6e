/* fuzz_use.c — the body of POST /v1/validate, /v1/redemptions and
 * /v1/reservations: jin_object then api_parse_use, as the handlers call
 * them, with and without order.id required and an Idempotency-Key. On
 * success the parsed order must be one the core can take: amounts within
 * money bounds, items counted, the lookup key well formed. */
#include "fuzz.h"

#include "api/jsonin.h"
#include "api/parse.h"
#include "util/rand.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return util_rand_init(); /* the Idempotency-Key path hashes the body */
}

static void check_parsed(const struct use_body *u, bool need_order_id)
{
    FUZZ_CHECK(u->req.key == u->key && u->req.order == &u->order);
    if (u->format == PROMO_OK) {
        char again[CODEFMT_KEY_MAX + 1];
        FUZZ_CHECK(u->key[0] != 0 && strlen(u->key) <= CODEFMT_KEY_MAX);
        FUZZ_CHECK(codefmt_normalize(u->key, strlen(u->key), again) == PROMO_OK);
        FUZZ_CHECK(strcmp(again, u->key) == 0); /* a key is its own key */
    } else {
        FUZZ_CHECK(u->format == PROMO_INVALID_FORMAT && u->key[0] == 0);
    }
    FUZZ_CHECK(u->order.amount >= 0 && u->order.amount <= PROMO_MONEY_MAX);
    FUZZ_CHECK(u->order.n_items <= 1000);
    FUZZ_CHECK(!need_order_id || (u->order.id && *u->order.id));
    FUZZ_CHECK(u->req.ttl >= 1 && u->req.ttl <= 86400);
    for (size_t i = 0; i < u->order.n_items; i++)
        FUZZ_CHECK(u->order.items[i].price >= 0 && u->order.items[i].quantity >= 1);
    /* What the core computes from it must stay in bounds too. */
    struct campaign_rules none = {0};
    int64_t eligible = core_eligible_amount(&none, &u->order);
    FUZZ_CHECK(eligible >= 0 && eligible <= PROMO_MONEY_MAX);
    struct discount pct = {.type = DISCOUNT_PERCENT, .percent_bp = 1250, .max_amount = PROMO_UNLIMITED};
    int64_t d = core_discount_amount(&pct, eligible);
    FUZZ_CHECK(d >= 0 && d <= eligible);
}

static void one(struct api_req *r, bool need_order_id)
{
    struct api_resp w = {0};
    json_t *body = jin_object(r, &w);
    if (body) {
        struct use_body u;
        if (api_parse_use(r, body, need_order_id, &u, &w))
            check_parsed(&u, need_order_id);
        else
            FUZZ_CHECK(w.status == 400 && w.json); /* every refusal is a 400 naming the field */
        json_decref(body);
    } else {
        FUZZ_CHECK(w.status == 400 && w.json);
    }
    json_decref(w.json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_body(data, size);
    struct arena a = {0};
    struct api_req r = {.a = &a, .method = "POST", .body = text, .body_len = size, .now = 1798761600};
    one(&r, false); /* validate */
    r.idem_key = "fuzz-key-1";
    one(&r, true); /* redeem, reserve */
    arena_free(&a);
    free(text);
    return 0;
}
