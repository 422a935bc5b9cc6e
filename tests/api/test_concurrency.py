"""Races: the check and the use are one atomic step. Every racer has its own
connection, opened before a Barrier releases them all at once."""

import harness
from harness import (add_code, count_status, create_campaign, expect, get_code, list_redemptions,
                     race_requests, refusal, show, stats, uniq, use_body)


def summary(res):
    return ", ".join("%s%s: %d" % (s, (" " + c) if c else "", n) for (s, c), n in sorted(count_status(res).items(),
                                                                                      key=str))


def ok(res):
    return [r for r in res if r.status == 201]


def assert_only(res, allowed, what):
    """Every answer is a 201 or a 422 with a reason in `allowed`."""
    for r in res:
        if r.status == 201:
            continue
        assert r.status == 422 and r.err_code in allowed, \
            "%s: unexpected answer %s (all: %s)" % (what, show(r), summary(res))


def post_redeem(body, key=None):
    return ("POST", "/v1/redemptions", body, {"Idempotency-Key": key} if key else None)


@harness.timeout(180)
def test_200_clients_one_single_use_code(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"])["code"]
    res = race_requests(srv, 200, lambda i: post_redeem(use_body(code, 10000, oid="race1-%d" % i)))
    assert_only(res, {"code_redeemed"}, "200 racers")
    assert len(ok(res)) == 1, "exactly one 201 expected: %s" % summary(res)
    k = get_code(srv, code)
    assert k["uses"] == 1, "code uses after the race: %r" % k
    assert stats(srv, c["id"])["redeemed"] == 1
    assert len([x for x in list_redemptions(srv, campaign_id=c["id"]) if x["status"] == "succeeded"]) == 1


@harness.timeout(180)
def test_max_uses_50_with_300_racers(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=50)["code"]
    res = race_requests(srv, 300, lambda i: post_redeem(use_body(code, 10000, oid="race2-%d" % i)))
    assert_only(res, {"code_redeemed"}, "max_uses 50")
    assert len(ok(res)) == 50, "exactly 50 201s expected: %s" % summary(res)
    assert get_code(srv, code)["uses"] == 50
    assert stats(srv, c["id"])["redeemed"] == 50
    assert len({r.json["id"] for r in ok(res)}) == 50, "redemption ids must be distinct"


@harness.timeout(180)
def test_campaign_max_redemptions_100_over_300_codes(srv):
    c = create_campaign(srv, limits={"max_redemptions": 100})
    codes = [uniq("MR") for _ in range(300)]
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"], raw="\n".join(codes).encode(),
                    headers={"Content-Type": "text/csv"})
    assert expect(r, 200)["imported"] == 300, show(r)
    res = race_requests(srv, 300, lambda i: post_redeem(use_body(codes[i], 10000, oid="race3-%d" % i)))
    assert_only(res, {"campaign_limit_reached"}, "max_redemptions 100")
    assert len(ok(res)) == 100, "exactly 100 201s expected: %s" % summary(res)
    s = stats(srv, c["id"])
    assert s["redeemed"] == 100, s
    used = harness.list_codes(srv, c["id"], state="redeemed")
    assert len(used) == 100, "codes in state redeemed: %d" % len(used)


@harness.timeout(180)
def test_per_customer_1_on_40_codes(srv):
    c = create_campaign(srv, limits={"per_customer": 1})
    codes = [add_code(srv, c["id"])["code"] for _ in range(40)]
    res = race_requests(srv, 40, lambda i: post_redeem(use_body(codes[i], 10000, oid="race4-%d" % i,
                                                                customer_id="racer")))
    assert_only(res, {"customer_limit_reached"}, "per_customer 1")
    assert len(ok(res)) == 1, "exactly one 201 expected: %s" % summary(res)
    assert stats(srv, c["id"])["redeemed"] == 1
    assert len(list_redemptions(srv, campaign_id=c["id"], customer_id="racer")) == 1


@harness.timeout(180)
def test_budget_10_discounts_with_50_racers(srv):
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000}, limits={"max_discount_total": 10000})
    codes = [add_code(srv, c["id"])["code"] for _ in range(50)]
    res = race_requests(srv, 50, lambda i: post_redeem(use_body(codes[i], 10000, oid="race5-%d" % i)))
    assert_only(res, {"budget_exhausted"}, "budget")
    assert len(ok(res)) == 10, "exactly 10 201s expected: %s" % summary(res)
    s = stats(srv, c["id"])
    assert s["redeemed"] == 10 and s["discount_total"] == 10000, s


@harness.timeout(180)
def test_same_idempotency_key_from_20_clients(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=100)["code"]
    body = use_body(code, 10000, oid="race6")
    key = uniq("idem-", 24)
    res = race_requests(srv, 20, lambda i: post_redeem(body, key))
    assert all(r.status == 201 for r in res), "all 20 should get 201: %s (e.g. %s)" % (
        summary(res), next((show(r) for r in res if r.status != 201), ""))
    ids = {r.json["id"] for r in res}
    assert len(ids) == 1, "one single redemption id expected, got %r" % ids
    assert get_code(srv, code)["uses"] == 1
    assert len(list_redemptions(srv, campaign_id=c["id"])) == 1


@harness.timeout(180)
def test_same_order_from_20_clients_without_key(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=100)["code"]
    body = use_body(code, 10000, oid="race7")
    res = race_requests(srv, 20, lambda i: post_redeem(body))
    assert all(r.status == 201 for r in res), "all 20 should get the first answer: %s" % summary(res)
    assert len({r.json["id"] for r in res}) == 1, {r.json["id"] for r in res}
    assert get_code(srv, code)["uses"] == 1


@harness.timeout(180)
def test_30_racers_reserving_max_uses_10(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=10)["code"]
    res = race_requests(srv, 30, lambda i: ("POST", "/v1/reservations",
                                            use_body(code, 10000, oid="race8-%d" % i), None))
    assert_only(res, {"code_redeemed"}, "reservations")
    holds = ok(res)
    assert len(holds) == 10, "exactly 10 holds expected: %s" % summary(res)
    assert len({r.json["id"] for r in holds}) == 10
    refusal(srv.request("POST", "/v1/redemptions", use_body(code, 10000)), "code_redeemed",
            what="a redemption while 10 holds are live")
    # confirm half, release the other half: 5 uses remain, 5 come back
    for r in holds[:5]:
        expect(srv.request("POST", "/v1/reservations/%s/confirm" % r.json["id"]), 201)
    for r in holds[5:]:
        expect(srv.request("POST", "/v1/reservations/%s/release" % r.json["id"]), 200)
    assert get_code(srv, code)["uses"] == 5
    res = race_requests(srv, 20, lambda i: post_redeem(use_body(code, 10000, oid="race8b-%d" % i)))
    assert_only(res, {"code_redeemed"}, "after confirm/release")
    assert len(ok(res)) == 5, "exactly 5 more uses: %s" % summary(res)
    assert get_code(srv, code)["uses"] == 10
    assert stats(srv, c["id"])["redeemed"] == 10


@harness.timeout(180)
def test_redeem_and_rollback_race(srv):
    """Rollbacks racing redemptions on one single-use code never let it pass max_uses."""
    c = create_campaign(srv)
    code = add_code(srv, c["id"])["code"]
    first = expect(srv.request("POST", "/v1/redemptions", use_body(code, 10000, oid="race9-0")), 201)

    def make(i):
        if i == 0:
            return ("POST", "/v1/redemptions/%s/rollback" % first["id"], {"reason": "race"}, None)
        return post_redeem(use_body(code, 10000, oid="race9-%d" % i))

    res = race_requests(srv, 30, make)
    assert res[0].status == 200, "the rollback: %s" % show(res[0])
    assert_only(res[1:], {"code_redeemed"}, "redeem during rollback")
    assert len(ok(res[1:])) <= 1, "at most one racer can take the given-back use: %s" % summary(res[1:])
    k = get_code(srv, code)
    assert k["uses"] == len(ok(res[1:])), "uses %r vs %d successful racers" % (k, len(ok(res[1:])))
    standing = [x for x in list_redemptions(srv, campaign_id=c["id"]) if x["status"] == "succeeded"]
    assert len(standing) == k["uses"], standing
