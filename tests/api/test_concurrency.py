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


@harness.timeout(180)
def test_20_clients_rolling_back_one_redemption(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=2)["code"]
    a = expect(srv.request("POST", "/v1/redemptions", use_body(code, 10000)), 201)
    expect(srv.request("POST", "/v1/redemptions", use_body(code, 10000)), 201)
    res = race_requests(srv, 20, lambda i: ("POST", "/v1/redemptions/%s/rollback" % a["id"],
                                            {"reason": "race"}, None))
    assert sum(r.status == 200 for r in res) == 1, "exactly one rollback wins: %s" % summary(res)
    assert all(r.status in (200, 409) for r in res), summary(res)
    k = get_code(srv, code)
    assert k["uses"] == 1, "one use given back, not more: %r" % k
    s = stats(srv, c["id"])
    assert s["redeemed"] == 1 and s["rolled_back"] == 1, s


@harness.timeout(180)
def test_20_clients_confirming_one_reservation(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=5)["code"]
    h = expect(srv.request("POST", "/v1/reservations", use_body(code, 10000)), 201)
    res = race_requests(srv, 20, lambda i: ("POST", "/v1/reservations/%s/confirm" % h["id"], None, None))
    assert all(r.status in (200, 201) for r in res), "every confirm returns the redemption: %s" % summary(res)
    assert len({r.json["id"] for r in res}) == 1, "one redemption: %r" % {r.json["id"] for r in res}
    assert get_code(srv, code)["uses"] == 1
    assert stats(srv, c["id"])["redeemed"] == 1
    assert len(list_redemptions(srv, campaign_id=c["id"])) == 1


@harness.timeout(180)
def test_confirm_and_release_race(srv):
    c = create_campaign(srv)
    codes = [add_code(srv, c["id"])["code"] for _ in range(10)]
    holds = [expect(srv.request("POST", "/v1/reservations", use_body(k, 10000)), 201)["id"] for k in codes]

    def make(i):
        rid = holds[i // 2]
        return ("POST", "/v1/reservations/%s/%s" % (rid, "confirm" if i % 2 == 0 else "release"), None, None)

    res = race_requests(srv, 20, make)
    confirmed = 0
    for j in range(10):
        conf, rel = res[2 * j], res[2 * j + 1]
        won = (conf.status == 201) + (rel.status == 200)
        assert won == 1, "confirm %s vs release %s of one hold: exactly one must win" % (show(conf), show(rel))
        assert conf.status in (201, 409) and rel.status in (200, 409), (show(conf), show(rel))
        k = get_code(srv, codes[j])
        assert k["uses"] == (1 if conf.status == 201 else 0), "uses %r after confirm %d / release %d" % (
            k, conf.status, rel.status)
        confirmed += conf.status == 201
    assert stats(srv, c["id"])["redeemed"] == confirmed


@harness.timeout(180)
def test_keyspace_guard_under_concurrent_generation(srv):
    cs = [create_campaign(srv)["id"] for _ in range(4)]
    body = {"count": 2, "pattern": "#######", "charset": "3456789012"}
    res = race_requests(srv, 12, lambda i: ("POST", "/v1/campaigns/%s/codes" % cs[i % 4], body, None))
    made = sum(r.status == 201 for r in res)
    assert made == 5, "10 codes of a 10^7 shape fit, so 5 requests of 2 succeed: %s" % summary(res)
    for r in res:
        assert r.status == 201 or (r.status == 422 and r.err_code == "keyspace_too_small"), show(r)
    total = sum(len(harness.list_codes(srv, cid)) for cid in cs)
    assert total == 10, "codes of the shape in the store: %d" % total


@harness.timeout(180)
def test_max_issued_under_concurrent_generation(srv):
    c = create_campaign(srv, limits={"max_issued": 50})
    res = race_requests(srv, 20, lambda i: ("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 7}, None))
    made = sum(r.status == 201 for r in res)
    assert made == 7, "7 requests of 7 codes fit in max_issued 50: %s" % summary(res)
    assert len(harness.list_codes(srv, c["id"])) == 49
    assert stats(srv, c["id"])["issued"] == 49


@harness.timeout(180)
def test_same_chosen_code_from_20_clients(srv):
    cs = [create_campaign(srv)["id"] for _ in range(2)]
    code = uniq("SAME")
    res = race_requests(srv, 20, lambda i: ("POST", "/v1/campaigns/%s/codes" % cs[i % 2],
                                            {"code": code if i % 3 else code.lower(), "max_uses": 1}, None))
    assert sum(r.status == 201 for r in res) == 1, "exactly one creates the code: %s" % summary(res)
    for r in res:
        assert r.status == 201 or (r.status == 409 and r.err_code == "conflict"), show(r)


@harness.timeout(180)
def test_issue_race_one_pooled_code_per_customer(srv):
    c = create_campaign(srv, limits={"per_customer": 1})
    expect(srv.request("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 5}), 201)
    res = race_requests(srv, 20, lambda i: ("POST", "/v1/campaigns/%s/issue" % c["id"],
                                            {"customer_id": "cust%d" % (i % 10)}, None))
    oks = [r for r in res if r.status == 201]
    assert len(oks) == 10, "10 customers, per_customer 1: %s" % summary(res)
    for r in res:
        assert r.status == 201 or (r.status == 422 and r.err_code == "customer_limit_reached"), show(r)
    codes = [r.json["code"] for r in oks]
    assert len(set(codes)) == 10, "a code was issued to two customers: %r" % codes
    owners = {k["code"]: k["customer_id"] for k in harness.list_codes(srv, c["id"])}
    assert sorted(owners[k] for k in codes) == sorted("cust%d" % i for i in range(10)), owners


@harness.timeout(180)
def test_percent_budget_race_never_overspends(srv):
    c = create_campaign(srv, discount={"type": "percent", "percent": 10}, limits={"max_discount_total": 10000})
    codes = [add_code(srv, c["id"])["code"] for _ in range(60)]
    amounts = [(i * 7919) % 30000 + 1000 for i in range(60)]
    res = race_requests(srv, 60, lambda i: post_redeem(use_body(codes[i], amounts[i], oid="race10-%d" % i)))
    assert_only(res, {"budget_exhausted"}, "percent budget")
    spent = sum(r.json["discount"]["amount"] for r in ok(res))
    for i, r in enumerate(res):
        if r.status == 201:
            assert r.json["discount"]["amount"] == amounts[i] // 10, show(r)
    assert spent <= 10000, "the budget 10000 was overspent: %d (%s)" % (spent, summary(res))
    s = stats(srv, c["id"])
    assert s["discount_total"] == spent and s["redeemed"] == len(ok(res)), (s, spent)


@harness.timeout(180)
def test_concurrent_patches_do_not_lose_updates(srv):
    c = create_campaign(srv)
    patches = [{"limits": {"max_redemptions": 11}}, {"limits": {"per_customer": 12}},
               {"limits": {"max_discount_total": 13}}, {"limits": {"max_issued": 14}},
               {"name": "patched"}, {"code_validity_days": 15}, {"rules": {"min_order_amount": 16}},
               {"rules": {"categories": ["x"]}}]
    res = race_requests(srv, len(patches), lambda i: ("PATCH", "/v1/campaigns/" + c["id"], patches[i], None))
    assert all(r.status == 200 for r in res), summary(res)
    g = harness.get_campaign(srv, c["id"])
    want_limits = {"max_redemptions": 11, "per_customer": 12, "max_discount_total": 13, "max_issued": 14}
    assert g["limits"] == want_limits, "lost limit updates: %r" % g["limits"]
    assert g["name"] == "patched" and g["code_validity_days"] == 15, g
    assert g["rules"]["min_order_amount"] == 16 and g["rules"]["categories"] == ["x"], g["rules"]


@harness.timeout(240)
def test_random_mixed_load_keeps_every_limit(srv):
    """16 clients redeem, reserve, confirm, release and roll back at random
    for a few seconds; afterwards no limit is passed and every count agrees."""
    import random
    import threading
    import time
    MAXR, PERC, BUDGET, USES = 150, 3, 120000, 2
    c = create_campaign(srv, discount={"type": "percent", "percent": 10, "max_amount": 2000},
                        limits={"max_redemptions": MAXR, "per_customer": PERC, "max_discount_total": BUDGET})
    codes = [uniq("RND") for _ in range(120)]
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"],
                    raw=("code,customer_id,max_uses,expires_at\n" + "".join("%s,,%d,\n" % (k, USES) for k in codes)).encode(),
                    headers={"Content-Type": "text/csv"})
    assert expect(r, 200)["imported"] == 120
    allowed = {"code_redeemed", "campaign_limit_reached", "budget_exhausted", "customer_limit_reached"}
    bad, lock = [], threading.Lock()
    stop = time.time() + 3.0 * harness.time_scale()

    def worker(t):
        try:
            work(t)
        except BaseException as e:  # a connection error or a bad answer shape
            with lock:
                bad.append("client %d: %r" % (t, e))

    def work(t):
        rng = random.Random(t)
        cl = harness.Client(srv)
        mine_r, mine_h = [], []
        n = 0
        while time.time() < stop:
            n += 1
            op = rng.random()
            body = use_body(rng.choice(codes), rng.randrange(1000, 40000), oid="mx-%d-%d" % (t, n),
                            customer_id="cu%d" % rng.randrange(40))
            if op < 0.45:
                r = cl.post("/v1/redemptions", body)
                if r.status == 201:
                    mine_r.append(r.json["id"])
            elif op < 0.7:
                r = cl.post("/v1/reservations", body)
                if r.status == 201:
                    mine_h.append(r.json["id"])
            elif op < 0.8 and mine_h:
                r = cl.post("/v1/reservations/%s/confirm" % mine_h.pop(rng.randrange(len(mine_h))))
                if r.status == 201:
                    mine_r.append(r.json["id"])
            elif op < 0.9 and mine_h:
                r = cl.post("/v1/reservations/%s/release" % mine_h.pop(rng.randrange(len(mine_h))))
            elif mine_r:
                r = cl.post("/v1/redemptions/%s/rollback" % mine_r.pop(rng.randrange(len(mine_r))), {})
            else:
                continue
            if r.status >= 500 or (r.status >= 400 and not (r.status == 422 and r.err_code in allowed)):
                with lock:
                    bad.append(show(r))
        cl.close()

    ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120 * harness.time_scale())
    assert not bad, "unexpected answers: %r" % bad[:5]
    reds = [x for x in list_redemptions(srv, campaign_id=c["id"]) if x["status"] == "succeeded"]
    assert len(reds) <= MAXR, "max_redemptions %d passed: %d" % (MAXR, len(reds))
    spent = sum(x["discount"]["amount"] for x in reds)
    assert spent <= BUDGET, "budget %d passed: %d" % (BUDGET, spent)
    per_c, per_k = {}, {}
    for x in reds:
        per_c[x["customer_id"]] = per_c.get(x["customer_id"], 0) + 1
        per_k[x["code"]] = per_k.get(x["code"], 0) + 1
    assert max(per_c.values() or [0]) <= PERC, "per_customer %d passed: %r" % (PERC, per_c)
    assert max(per_k.values() or [0]) <= USES, "max_uses %d passed: %r" % (USES, per_k)
    for k in harness.list_codes(srv, c["id"]):
        assert k["uses"] == per_k.get(k["code"], 0), "code %s: uses %d vs %d standing" % (
            k["code"], k["uses"], per_k.get(k["code"], 0))
    s = stats(srv, c["id"])
    assert s["redeemed"] == len(reds) and s["discount_total"] == spent, (s, len(reds), spent)
    assert len(reds) > 0
