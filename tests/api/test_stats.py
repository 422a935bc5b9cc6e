"""GET /v1/campaigns/{id}/stats."""

import harness
from harness import (add_code, create_campaign, expect, expect_error, redeem, show, stats, uniq, validate)

STATS_KEYS = {"issued", "redeemed", "rolled_back", "usage_rate", "discount_total", "revenue", "validations"}


def rollback(srv, rid):
    return srv.request("POST", "/v1/redemptions/%s/rollback" % rid, {"reason": "order_cancelled"})


def test_stats_of_a_new_campaign(srv):
    c = create_campaign(srv)
    s = stats(srv, c["id"])
    missing = STATS_KEYS - set(s)
    assert not missing, "stats lack %s: %r" % (sorted(missing), s)
    assert s["issued"] == 0 and s["redeemed"] == 0 and s["rolled_back"] == 0, s
    assert s["discount_total"] == 0 and s["revenue"] == 0, s
    assert s["usage_rate"] in (0, 0.0, None), s
    v = s["validations"]
    assert v.get("ok") == 0 and v.get("failed") == {}, "validations of a new campaign: %r" % v


def test_stats_count_issue_redeem_rollback(srv):
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000})
    codes = [add_code(srv, c["id"])["code"] for _ in range(4)]
    a = expect(redeem(srv, codes[0], 10000), 201)
    expect(redeem(srv, codes[1], 20000), 201)
    expect(redeem(srv, codes[2], 5000), 201)
    s = stats(srv, c["id"])
    assert s["issued"] == 4 and s["redeemed"] == 3 and s["rolled_back"] == 0, s
    assert s["discount_total"] == 3000, s
    assert s["revenue"] == 9000 + 19000 + 4000, "revenue = order amounts after discount: %r" % s
    rate = s["usage_rate"]
    assert isinstance(rate, (int, float)) and (abs(rate - 0.75) < 1e-9 or abs(rate - 75) < 1e-6), \
        "usage_rate of 3 redeemed / 4 issued: %r" % rate
    expect(rollback(srv, a["id"]), 200)
    s = stats(srv, c["id"])
    assert s["redeemed"] == 2 and s["rolled_back"] == 1, "redeemed is net of rollbacks: %r" % s
    assert s["discount_total"] == 2000 and s["revenue"] == 19000 + 4000, s


def test_stats_percent_discount_total(srv):
    c = create_campaign(srv, discount={"type": "percent", "percent": 15, "max_amount": 10000})
    for amount in (45000, 100000):
        expect(redeem(srv, add_code(srv, c["id"])["code"], amount), 201)
    s = stats(srv, c["id"])
    assert s["discount_total"] == 6750 + 10000, s
    assert s["revenue"] == 38250 + 90000, s


def test_stats_issued_counts_every_kind_of_code(srv):
    c = create_campaign(srv)
    expect(srv.request("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 25}), 201)
    add_code(srv, c["id"])
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"],
                    raw=("\n".join(uniq("ST") for _ in range(3)) + "\n").encode(),
                    headers={"Content-Type": "text/csv"})
    expect(r, 200)
    expect(srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "s1"}), 201)
    s = stats(srv, c["id"])
    assert s["issued"] in (29, 30), "25 generated + 1 chosen + 3 imported (+ issue from the pool): %r" % s


def test_stats_count_validations(srv):
    c = create_campaign(srv, rules={"min_order_amount": 5000})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(validate(srv, a, 10000), 200)
    expect(validate(srv, a, 10000), 200)
    expect(validate(srv, a, 1000), 200)  # min_order_not_met
    expect(redeem(srv, b, 10000), 201)   # a redemption is not a validation
    expect(validate(srv, b, 10000), 200)  # code_redeemed
    want = {"ok": 2, "failed": {"min_order_not_met": 1, "code_redeemed": 1}}

    def counted():
        return stats(srv, c["id"])["validations"] == want

    assert harness.poll(counted, timeout=3.0), "validations: want %r, got %r" % (want, stats(srv, c["id"])["validations"])


def test_stats_validations_not_mixed_between_campaigns(srv):
    c1 = create_campaign(srv)
    c2 = create_campaign(srv)
    a = add_code(srv, c1["id"])["code"]
    expect(validate(srv, a), 200)
    expect(validate(srv, uniq("NOPE")), 200)

    def counted():
        return stats(srv, c1["id"])["validations"].get("ok") == 1

    assert harness.poll(counted, timeout=3.0), stats(srv, c1["id"])
    v2 = stats(srv, c2["id"])["validations"]
    assert v2 == {"ok": 0, "failed": {}}, "another campaign's validations: %r" % v2


def test_stats_unknown_campaign_is_404(srv):
    r = srv.request("GET", "/v1/campaigns/cmp_%s/stats" % uniq("", 16))
    expect_error(r, 404, "not_found")


def test_stats_needs_token(srv):
    c = create_campaign(srv)
    r = srv.request("GET", "/v1/campaigns/%s/stats" % c["id"], token=None)
    expect_error(r, 401, "unauthorized")
    assert show(r)


@harness.timeout(180)
def test_stats_count_concurrent_validations(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"])["code"]
    res = harness.race_requests(srv, 100, lambda i: ("POST", "/v1/validate",
                                                     harness.use_body(code, 10000 if i % 4 else 1), None))
    assert all(r.status == 200 for r in res)
    want = {"ok": 100, "failed": {}}

    def counted():
        return stats(srv, c["id"])["validations"] == want

    assert harness.poll(counted, timeout=5.0), "100 validations: %r" % stats(srv, c["id"])["validations"]


def test_metrics_prometheus_text(srv):
    import re
    r = srv.request("GET", "/metrics", token=None)
    assert r.status in (200, 401, 403), show(r)
    if r.status != 200:
        harness.assert_error_shape(r)  # restricted by configuration
        return
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers.get("content-type")
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+\-]+(Inf|NaN)?( [0-9]+)?$|^-?(Inf|NaN)$')
    lines = [l for l in r.text.splitlines() if l.strip()]
    assert lines, "empty /metrics"
    for l in lines:
        if l.startswith("#"):
            assert l.startswith("# HELP ") or l.startswith("# TYPE "), "bad comment line %r" % l
        else:
            assert sample.match(l) or re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|[+-]Inf)$', l), \
                "not a Prometheus sample line: %r" % l
