"""Reservations: hold a use while the shopper pays; confirm, release, lapse."""

import calendar
import time

import harness
from harness import (add_code, create_campaign, expect, expect_error, get_code, invalid, redeem, refusal,
                     reserve, show, stats, uniq, validate)

RSV_KEYS = {"id", "code", "campaign_id", "customer_id", "order_id", "discount", "status", "expires_at"}


def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def campaign_with_code(srv, max_uses=1, **over):
    c = create_campaign(srv, **over)
    return c, add_code(srv, c["id"], max_uses=max_uses)["code"]


def confirm(srv, rid):
    return srv.request("POST", "/v1/reservations/%s/confirm" % rid)


def release(srv, rid):
    return srv.request("POST", "/v1/reservations/%s/release" % rid)


def test_reservation_shape(srv):
    c, code = campaign_with_code(srv, discount={"type": "percent", "percent": 15, "max_amount": 10000})
    t0 = time.time()
    r = reserve(srv, code.lower(), 45000, customer_id="u1", oid="o-rsv-1")
    j = expect(r, 201, "reserve")
    assert set(j) >= RSV_KEYS, "reservation lacks %s: %s" % (RSV_KEYS - set(j), show(r))
    assert j["id"].startswith("rsv_") and j["status"] == "held", j
    assert j["code"] == code and j["campaign_id"] == c["id"], j
    assert j["customer_id"] == "u1" and j["order_id"] == "o-rsv-1", j
    assert j["discount"] == {"type": "percent", "amount": 6750}, j
    left = ts(j["expires_at"]) - t0
    assert 880 <= left <= 920, "default ttl is 900 s: expires_at %s is %.0fs away" % (j["expires_at"], left)


def test_ttl_seconds(srv):
    _, code = campaign_with_code(srv)
    t0 = time.time()
    j = expect(reserve(srv, code, ttl_seconds=60), 201)
    left = ts(j["expires_at"]) - t0
    assert 55 <= left <= 65, "ttl_seconds 60: expires_at %s is %.0fs away" % (j["expires_at"], left)


def test_ttl_bounds_are_400(srv):
    _, code = campaign_with_code(srv)
    for ttl in (0, -1, 86401, "60", 1.5):
        r = reserve(srv, code, ttl_seconds=ttl)
        expect_error(r, 400, "bad_request", field="ttl_seconds", what="ttl_seconds %r" % (ttl,))
    expect(reserve(srv, code, ttl_seconds=86400), 201, "ttl_seconds 86400 is allowed")


def test_reservation_needs_order_id(srv):
    _, code = campaign_with_code(srv)
    r = srv.request("POST", "/v1/reservations", {"code": code, "order": {"amount": 1000}})
    expect_error(r, 400, "bad_request", field="order.id")


def test_hold_counts_against_the_code(srv):
    _, code = campaign_with_code(srv)
    expect(reserve(srv, code), 201)
    refusal(redeem(srv, code), "code_redeemed", what="redeem by another order while held")
    refusal(reserve(srv, code), "code_redeemed", what="reserve by another order while held")
    invalid(validate(srv, code), "code_redeemed", what="validate while held")


def test_hold_counts_against_campaign_limits(srv):
    c = create_campaign(srv, limits={"max_redemptions": 1})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(reserve(srv, a), 201)
    refusal(redeem(srv, b), "campaign_limit_reached")
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000}, limits={"max_discount_total": 1000})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(reserve(srv, a), 201)
    refusal(redeem(srv, b), "budget_exhausted")
    c = create_campaign(srv, limits={"per_customer": 1})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(reserve(srv, a, customer_id="u1"), 201)
    refusal(redeem(srv, b, customer_id="u1"), "customer_limit_reached")


def test_reservation_refusal_is_422(srv):
    refusal(reserve(srv, uniq("NOPE")), "code_not_found")
    c, code = campaign_with_code(srv)
    expect(srv.request("POST", "/v1/campaigns/%s/pause" % c["id"]), 200)
    refusal(reserve(srv, code), "campaign_inactive")


def test_confirm_makes_the_redemption(srv):
    c, code = campaign_with_code(srv)
    h = expect(reserve(srv, code, 20000, customer_id="u1", oid="o-c1"), 201)
    r = confirm(srv, h["id"])
    d = expect(r, 201, "confirm")
    assert d["id"].startswith("rdm_") and d["status"] == "succeeded", d
    assert d["code"] == code and d["order_id"] == "o-c1" and d["customer_id"] == "u1", d
    assert d["discount"] == h["discount"] and d["order_amount_after"] == 19000, d
    r2 = confirm(srv, h["id"])
    assert r2.status in (200, 201), "second confirm: %s" % show(r2)
    assert r2.json["id"] == d["id"], "a second confirm returns the same redemption: %s" % show(r2)
    k = get_code(srv, code)
    assert k["uses"] == 1 and k["state"] == "redeemed", k
    s = stats(srv, c["id"])
    assert s["redeemed"] == 1, s
    refusal(redeem(srv, code), "code_redeemed")


def test_release_gives_the_use_back(srv):
    _, code = campaign_with_code(srv)
    h = expect(reserve(srv, code), 201)
    r = release(srv, h["id"])
    j = expect(r, 200, "release")
    assert j.get("id") == h["id"] and j.get("status") == "released", show(r)
    assert get_code(srv, code)["uses"] == 0
    expect(redeem(srv, code), 201, "the code is usable after release")


def test_confirm_after_release_is_409(srv):
    _, code = campaign_with_code(srv)
    h = expect(reserve(srv, code), 201)
    expect(release(srv, h["id"]), 200)
    expect_error(confirm(srv, h["id"]), 409, "conflict")
    assert get_code(srv, code)["uses"] == 0


def test_release_after_confirm_is_409(srv):
    _, code = campaign_with_code(srv)
    h = expect(reserve(srv, code), 201)
    expect(confirm(srv, h["id"]), 201)
    expect_error(release(srv, h["id"]), 409, "conflict")
    assert get_code(srv, code)["uses"] == 1


def test_unknown_reservation_is_404(srv):
    rid = "rsv_" + uniq("", 16)
    expect_error(confirm(srv, rid), 404, "not_found")
    expect_error(release(srv, rid), 404, "not_found")


def test_same_order_gets_its_own_hold_back(srv):
    _, code = campaign_with_code(srv)
    oid = "o-" + uniq()
    a = expect(reserve(srv, code, oid=oid), 201)
    r = reserve(srv, code, oid=oid)
    b = expect(r, 201, "the same code + order reserving again while held")
    assert b["id"] == a["id"], "expected the same hold back: %r vs %r" % (a, b)
    d = expect(confirm(srv, b["id"]), 201)
    assert d["order_id"] == oid
    assert get_code(srv, code)["uses"] == 1


def test_lapsed_hold_gives_its_use_back(srv):
    _, code = campaign_with_code(srv)
    h = expect(reserve(srv, code, ttl_seconds=1), 201)
    refusal(redeem(srv, code), "code_redeemed", what="while held")
    time.sleep(2.5)

    def free():
        r = validate(srv, code)
        return r.status == 200 and r.json.get("valid") is True

    assert harness.poll(free, timeout=3.0), "a lapsed hold still blocks the code: %s" % show(validate(srv, code))
    expect_error(confirm(srv, h["id"]), 409, "conflict", what="confirm after lapse")
    expect(redeem(srv, code), 201, "redeem after the hold lapsed")


def test_reservation_stats_do_not_count_holds_as_redeemed(srv):
    c, code = campaign_with_code(srv)
    expect(reserve(srv, code), 201)
    s = stats(srv, c["id"])
    assert s["redeemed"] == 0 and s["discount_total"] == 0, "a hold is not a redemption: %r" % s


def test_lapsed_hold_gives_back_campaign_limits(srv):
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000},
                        limits={"max_redemptions": 1, "max_discount_total": 1000, "per_customer": 1})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(reserve(srv, a, ttl_seconds=1, customer_id="u1"), 201)
    refusal(redeem(srv, b, customer_id="u1"), "campaign_limit_reached", what="while held")
    time.sleep(2.5)

    def free():
        r = validate(srv, b, customer_id="u1")
        return r.status == 200 and r.json.get("valid") is True

    assert harness.poll(free, timeout=3.0), "after the hold lapsed: %s" % show(validate(srv, b, customer_id="u1"))
    expect(redeem(srv, b, customer_id="u1"), 201, "the campaign limit, budget and customer limit came back")


def test_release_then_reserve_again_makes_a_new_hold(srv):
    _, code = campaign_with_code(srv)
    oid = "o-" + uniq()
    a = expect(reserve(srv, code, oid=oid), 201)
    expect(release(srv, a["id"]), 200)
    b = expect(reserve(srv, code, oid=oid), 201, "reserve again after release")
    assert b["id"] != a["id"] and b["status"] == "held", (a, b)


def test_rollback_of_a_confirmed_reservation(srv):
    _, code = campaign_with_code(srv)
    h = expect(reserve(srv, code), 201)
    d = expect(confirm(srv, h["id"]), 201)
    r = srv.request("POST", "/v1/redemptions/%s/rollback" % d["id"], {"reason": "refund"})
    assert expect(r, 200)["status"] == "rolled_back"
    assert get_code(srv, code)["uses"] == 0
    expect(redeem(srv, code), 201)
