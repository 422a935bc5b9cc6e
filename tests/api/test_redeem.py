"""POST /v1/redemptions, idempotency, rollback, listing."""

import re

from harness import (add_code, create_campaign, expect, expect_error, get_code, invalid, list_redemptions,
                     redeem, refusal, show, stats, uniq, use_body, validate)

HANGUL = re.compile("[\uac00-\ud7a3]")
RDM_KEYS = {"id", "code", "campaign_id", "customer_id", "order_id", "discount", "order_amount_after",
            "status", "created_at"}


def campaign_with_code(srv, max_uses=1, **over):
    c = create_campaign(srv, **over)
    return c, add_code(srv, c["id"], max_uses=max_uses)["code"]


def post(srv, body, key=None, **kw):
    h = {"Idempotency-Key": key} if key else None
    return srv.request("POST", "/v1/redemptions", body, headers=h, **kw)


def test_redemption_shape(srv):
    c, code = campaign_with_code(srv, discount={"type": "percent", "percent": 15, "max_amount": 10000})
    r = post(srv, {"code": code.lower(), "customer_id": "u123",
                   "order": {"id": "o-77", "amount": 45000, "currency": "KRW",
                             "items": [{"sku": "p1", "category": "outer", "price": 45000, "quantity": 1}]}})
    j = expect(r, 201, "redeem")
    assert set(j) >= RDM_KEYS, "redemption lacks %s: %s" % (RDM_KEYS - set(j), show(r))
    assert j["id"].startswith("rdm_"), j["id"]
    assert j["code"] == code and j["campaign_id"] == c["id"], j
    assert j["customer_id"] == "u123" and j["order_id"] == "o-77", j
    assert j["discount"] == {"type": "percent", "amount": 6750}, j
    assert j["order_amount_after"] == 38250 and j["status"] == "succeeded", j
    assert j["created_at"].endswith("Z"), j


def test_redemption_uses_the_code(srv):
    _, code = campaign_with_code(srv)
    expect(redeem(srv, code), 201)
    k = get_code(srv, code)
    assert k["uses"] == 1 and k["state"] == "redeemed", k
    refusal(redeem(srv, code), "code_redeemed", what="second order on a single-use code")
    assert get_code(srv, code)["uses"] == 1


def test_max_uses_n(srv):
    _, code = campaign_with_code(srv, max_uses=3)
    for i in range(3):
        expect(redeem(srv, code), 201, "use %d of 3" % (i + 1))
    refusal(redeem(srv, code), "code_redeemed", what="4th use of max_uses 3")
    assert get_code(srv, code)["uses"] == 3


def test_unlimited_code(srv):
    _, code = campaign_with_code(srv, max_uses=None)
    for _ in range(25):
        expect(redeem(srv, code), 201)
    k = get_code(srv, code)
    assert k["uses"] == 25 and k["state"] == "active" and k["max_uses"] is None, k


def test_points_redemption(srv):
    _, code = campaign_with_code(srv, discount={"type": "points", "points": 300})
    j = expect(redeem(srv, code, 12000), 201)
    assert j["discount"] == {"type": "points", "amount": 0, "points": 300}, j
    assert j["order_amount_after"] == 12000, j


def test_refusal_is_422_with_reason(srv):
    refusal(redeem(srv, uniq("NOPE")), "code_not_found")
    refusal(redeem(srv, "BAD!CODE"), "invalid_format")
    _, code = campaign_with_code(srv, rules={"min_order_amount": 5000})
    refusal(redeem(srv, code, 4000), "min_order_not_met")
    assert get_code(srv, code)["uses"] == 0


def test_refusal_message_in_korean(srv):
    r = redeem(srv, uniq("NOPE"), headers={"Accept-Language": "ko"})
    refusal(r, "code_not_found")
    assert HANGUL.search(r.err_message), "Accept-Language ko: %s" % show(r)


def test_missing_order_id_is_400(srv):
    _, code = campaign_with_code(srv)
    r = post(srv, {"code": code, "order": {"amount": 1000}})
    expect_error(r, 400, "bad_request", field="order.id")
    r = post(srv, {"code": code, "order": {"id": "", "amount": 1000}})
    expect_error(r, 400, "bad_request", field="order.id", what="empty order.id")
    r = post(srv, {"code": code, "order": {"id": 12, "amount": 1000}})
    expect_error(r, 400, "bad_request", field="order.id", what="numeric order.id")
    assert get_code(srv, code)["uses"] == 0


def test_malformed_redemption_is_400(srv):
    r = post(srv, None, raw=b'{"code": "X", "order": ')
    expect_error(r, 400, "bad_request")
    r = post(srv, {"order": {"id": "o", "amount": 1}})
    expect_error(r, 400, "bad_request", field="code")
    r = post(srv, {"code": "ABC", "order": {"id": "o", "amount": 1.5}})
    expect_error(r, 400, "bad_request", field="order.amount")


def test_replay_same_code_and_order(srv):
    _, code = campaign_with_code(srv, max_uses=5)
    body = use_body(code, 20000, oid="o-" + uniq())
    a = expect(post(srv, body), 201)
    r = post(srv, body)
    b = expect(r, 201, "same code and order.id again")
    assert a == b, "replay must return the first answer:\nfirst %r\nagain %r" % (a, b)
    assert get_code(srv, code)["uses"] == 1, "a replay used the code again"


def test_replay_same_order_different_amount_is_first_answer(srv):
    _, code = campaign_with_code(srv, max_uses=5)
    oid = "o-" + uniq()
    a = expect(post(srv, use_body(code, 20000, oid=oid)), 201)
    r = post(srv, use_body(code, 30000, oid=oid))
    assert r.status in (201, 409), "same code + order.id, other amount: %s" % show(r)
    if r.status == 201:
        assert r.json == a, "replay must return the first answer: %s" % show(r)
    assert get_code(srv, code)["uses"] == 1


def test_idempotency_key_replay(srv):
    _, code = campaign_with_code(srv, max_uses=5)
    key = uniq("idem-", 20)
    body = use_body(code, 20000)
    a = expect(post(srv, body, key), 201)
    b = expect(post(srv, body, key), 201, "same Idempotency-Key")
    assert a == b, "first %r\nagain %r" % (a, b)
    assert get_code(srv, code)["uses"] == 1
    assert len(list_redemptions(srv, campaign_id=a["campaign_id"])) == 1


def test_idempotency_key_with_other_body_is_409(srv):
    _, code = campaign_with_code(srv, max_uses=5)
    key = uniq("idem-", 20)
    expect(post(srv, use_body(code, 20000), key), 201)
    r = post(srv, use_body(code, 20000), key)  # other order.id
    expect_error(r, 409, "conflict")
    assert get_code(srv, code)["uses"] == 1


def test_idempotency_key_replays_a_refusal(srv):
    """API.md: a repeated call with the same Idempotency-Key returns the first
    answer, whatever it was; here the first answer was a refusal."""
    c = create_campaign(srv)
    code = uniq("LATE")
    key = uniq("idem-", 20)
    body = use_body(code, 10000)
    a = post(srv, body, key)
    refusal(a, "code_not_found")
    add_code(srv, c["id"], code)
    b = post(srv, body, key)
    assert b.status == a.status and b.json == a.json, \
        "the same Idempotency-Key must return the first answer %s, got %s" % (show(a), show(b))
    assert get_code(srv, code)["uses"] == 0, "the replay of a refusal used the code"


# --- rollback -------------------------------------------------------------------------------------

def rollback(srv, rid, reason="order_cancelled"):
    return srv.request("POST", "/v1/redemptions/%s/rollback" % rid, {"reason": reason})


def test_rollback(srv):
    _, code = campaign_with_code(srv)
    a = expect(redeem(srv, code), 201)
    r = rollback(srv, a["id"])
    j = expect(r, 200, "rollback")
    assert j["status"] == "rolled_back" and j["id"] == a["id"], j
    k = get_code(srv, code)
    assert k["uses"] == 0 and k["state"] == "active", "after rollback: %r" % k


def test_second_rollback_is_409(srv):
    _, code = campaign_with_code(srv)
    a = expect(redeem(srv, code), 201)
    expect(rollback(srv, a["id"]), 200)
    expect_error(rollback(srv, a["id"]), 409, "conflict")
    assert get_code(srv, code)["uses"] == 0, "a second rollback gave back a second use"


def test_rollback_unknown_is_404(srv):
    expect_error(rollback(srv, "rdm_" + uniq("", 16)), 404, "not_found")


def test_rollback_without_body(srv):
    _, code = campaign_with_code(srv)
    a = expect(redeem(srv, code), 201)
    r = srv.request("POST", "/v1/redemptions/%s/rollback" % a["id"])
    assert expect(r, 200, "rollback without a reason")["status"] == "rolled_back"


def test_code_is_usable_after_rollback(srv):
    _, code = campaign_with_code(srv)
    oid = "o-" + uniq()
    a = expect(redeem(srv, code, oid=oid), 201)
    expect(rollback(srv, a["id"]), 200)
    j = validate(srv, code)
    assert j.status == 200 and j.json.get("valid") is True, "validates again after rollback: %s" % show(j)
    b = expect(redeem(srv, code, oid=oid), 201, "the same order redeems again after its rollback")
    assert b["id"] != a["id"], "a new redemption is made once the first one no longer stands"
    assert get_code(srv, code)["uses"] == 1
    invalid(validate(srv, code), "code_redeemed")


def test_rollback_gives_back_campaign_and_customer_limits(srv):
    c = create_campaign(srv, limits={"max_redemptions": 1, "per_customer": 1})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    x = expect(redeem(srv, a, customer_id="u1"), 201)
    refusal(redeem(srv, b, customer_id="u2"), "campaign_limit_reached")
    expect(rollback(srv, x["id"]), 200)
    expect(redeem(srv, b, customer_id="u1"), 201, "after the rollback the limits have room again")


def test_list_redemptions(srv):
    c = create_campaign(srv)
    other = create_campaign(srv)
    codes = [add_code(srv, c["id"])["code"] for _ in range(5)]
    made = [expect(redeem(srv, k, customer_id="lu1" if i < 3 else "lu2"), 201) for i, k in enumerate(codes)]
    expect(redeem(srv, add_code(srv, other["id"])["code"], customer_id="lu1"), 201)
    expect(rollback(srv, made[0]["id"]), 200)
    got = list_redemptions(srv, campaign_id=c["id"], limit=2)
    assert sorted(x["id"] for x in got) == sorted(x["id"] for x in made), got
    byid = {x["id"]: x for x in got}
    assert byid[made[0]["id"]]["status"] == "rolled_back", byid[made[0]["id"]]
    assert byid[made[1]["id"]]["status"] == "succeeded" and byid[made[1]["id"]]["code"] == codes[1]
    got = list_redemptions(srv, campaign_id=c["id"], customer_id="lu2")
    assert sorted(x["id"] for x in got) == sorted(x["id"] for x in made[3:]), got
    got = list_redemptions(srv, customer_id="lu1")
    assert len(got) == 4, "customer lu1 has 4 redemptions across two campaigns: %r" % got


def test_stats_follow_redemptions(srv):
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000})
    codes = [add_code(srv, c["id"])["code"] for _ in range(3)]
    a = expect(redeem(srv, codes[0], 10000), 201)
    expect(redeem(srv, codes[1], 5000), 201)
    expect(rollback(srv, a["id"]), 200)
    s = stats(srv, c["id"])
    assert s["redeemed"] == 1 and s["rolled_back"] == 1 and s["discount_total"] == 1000, s
    assert s["revenue"] == 4000, s


def test_unicode_customer_and_order_ids(srv):
    import urllib.parse
    c, code = campaign_with_code(srv, max_uses=3)
    cust = "고객-" + uniq("", 4) + " \"q\""
    oid = "주문/1?&=#" + uniq("", 4)
    a = expect(post(srv, use_body(code, 10000, oid=oid, customer_id=cust)), 201)
    assert a["customer_id"] == cust and a["order_id"] == oid, a
    got = list_redemptions(srv, customer_id=cust)
    assert [x["id"] for x in got] == [a["id"]], "list by a unicode customer_id (URL-encoded): %r" % got
    b = expect(post(srv, use_body(code, 10000, oid=oid, customer_id=cust)), 201, "replay")
    assert b == a
    assert urllib.parse.quote(cust)


def test_idempotent_replay_after_rollback_uses_nothing(srv):
    _, code = campaign_with_code(srv)
    key = uniq("idem-", 20)
    body = use_body(code, 10000)
    a = expect(post(srv, body, key), 201)
    expect(rollback(srv, a["id"]), 200)
    r = post(srv, body, key)
    b = expect(r, 201, "replay of a rolled-back redemption's key")
    assert b["id"] == a["id"], "the replay answers the first redemption: %s" % show(r)
    k = get_code(srv, code)
    assert k["uses"] == 0, "a replay after rollback used the code again: %r" % k
    assert len(list_redemptions(srv, campaign_id=a["campaign_id"])) == 1
