/* fuzz_campaign.c — the body of POST /v1/campaigns and PATCH
 * /v1/campaigns/{id}: jin_object then api_parse_campaign, as create
 * (defaults first) and as a patch of that result. A campaign accepted must
 * pass the core's own check and turn back into JSON that reads the same. */
#include "fuzz.h"

#include "api/jsonin.h"
#include "api/parse.h"

static void check_campaign(const struct campaign *c)
{
    const char *field = NULL, *why = NULL;
    FUZZ_CHECK(core_campaign_check(c, &field, &why) == PROMO_OK);
    FUZZ_CHECK(c->name && c->discount.type != 0 && core_currency_valid(c->currency));
    json_t *j = api_campaign_json(c, 1798761600);
    FUZZ_CHECK(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(s != NULL);
    json_t *back = json_loads(s, 0, NULL);
    FUZZ_CHECK(back && json_equal(back, j));
    json_decref(back);
    free(s);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_body(data, size);
    struct arena a = {0};
    struct api_req r = {.a = &a, .method = "POST", .body = text, .body_len = size};
    struct api_resp w = {0};
    json_t *body = jin_object(&r, &w);
    if (!body)
        goto out;
    struct campaign c;
    api_campaign_init(&c, 1798761600);
    if (!api_parse_campaign(&a, body, &c, true, &w)) {
        FUZZ_CHECK(w.status == 400 && w.json);
        /* As a patch of a valid campaign the same body must not crash either. */
        api_campaign_init(&c, 1798761600);
        c.name = "base";
        memcpy(c.currency, "KRW", 4);
        c.discount = (struct discount){.type = DISCOUNT_FIXED, .amount = 1000, .max_amount = PROMO_UNLIMITED};
        json_decref(w.json);
        w = (struct api_resp){0};
        if (api_parse_campaign(&a, body, &c, false, &w))
            check_campaign(&c);
        json_decref(body);
        goto out;
    }
    check_campaign(&c);
    json_decref(w.json);
    w = (struct api_resp){0};
    /* PATCH with the same body: members replace, limits and rules merge. */
    if (api_parse_campaign(&a, body, &c, false, &w))
        check_campaign(&c);
    json_decref(body);
out:
    json_decref(w.json);
    arena_free(&a);
    free(text);
    return 0;
}
