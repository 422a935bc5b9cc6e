"""Segments: rules over customer facts, validated when saved, re-evaluated on
every relevant change and on a schedule (the test clock moves time), with
entered/left events; campaign segment, first-order and early-access rules
decided against them."""

import urllib.parse

import abuse_util
import clockutil
import harness
from clockutil import advance, events, wait_events
from harness import add_code, create_campaign, expect, expect_error, invalid, redeem, rfc3339, show, uniq, validate

DAY = 86400


def setup(srv):
    clockutil.enable(srv)


def put_segment(srv, name, rule, **extra):
    body = {"rule": rule}
    body.update(extra)
    return srv.request("PUT", "/v1/segments/" + urllib.parse.quote(name, safe=""), body)


def customer(srv, cid):
    return expect(srv.get("/v1/customers/" + cid), 200)


def purchase(srv, cid, amount, oid=None):
    return expect(srv.post("/v1/events", {"id": uniq("ev-"), "type": "purchase", "customer_id": cid,
                                          "properties": {"order_id": oid or uniq("o-"), "amount": amount}}), 201)


def test_builtin_segments_exist_and_are_editable(srv):
    names = [s["name"] for s in expect(srv.get("/v1/segments"), 200)["data"]]
    for n in ("new", "repeat", "vip", "dormant"):
        assert n in names, names
    vip = expect(srv.get("/v1/segments/vip"), 200)
    assert vip["rule"] == {"all": [{"fact": "spent_365d", "op": ">=", "value": 1000000}]}, vip


def test_bad_rules_are_refused_naming_the_field(srv):
    cases = [
        ({"all": [{"fact": "shoe_size", "op": "=", "value": 1}]}, "rule.all[0].fact"),
        ({"all": [{"fact": "order_count", "op": "~", "value": 1}]}, "rule.all[0].op"),
        ({"all": [{"fact": "order_count", "op": ">", "value": "1"}]}, "rule.all[0].value"),
        ({"all": [{"fact": "order_count", "op": ">"}]}, "rule.all[0].value"),
        ({"any": [{"fact": "has_ordered", "op": ">", "value": True}]}, "rule.any[0].value"),
        ({"any": [{"fact": "attributes.city", "op": ">", "value": "Seoul"}]}, "rule.any[0].value"),
        ({"all": [{"fact": "order_count", "op": "=", "value": 1, "x": 2}]}, "rule.all[0]"),
        ({"all": []}, "rule.all"),
        ({"all": [{"fact": "order_count", "op": "=", "value": 1}] * 17}, "rule.all"),
        ({"all": [], "any": []}, "rule"),
        ({"some": []}, "rule"),
        ([1], "rule"),
    ]
    for rule, field in cases:
        expect_error(put_segment(srv, "broken", rule), 400, "bad_request", field, what=repr(rule))
    expect_error(srv.request("PUT", "/v1/segments/broken", {"description": "no rule"}), 400, "bad_request", "rule")
    expect_error(put_segment(srv, "Bad Name", {"all": [{"fact": "order_count", "op": "=", "value": 0}]}), 400,
                 "bad_request", "name")
    expect_error(srv.get("/v1/segments/broken"), 404, "not_found", what="nothing saved")


def test_vip_after_purchases_with_entered_event(srv):
    cid = uniq("cust-")
    purchase(srv, cid, 600000)
    assert "vip" not in customer(srv, cid)["computed_segments"]
    purchase(srv, cid, 400000)
    c = customer(srv, cid)
    assert "vip" in c["computed_segments"] and "repeat" in c["computed_segments"], c
    ev = events(srv, {"segment_entered"}, customer_id=cid, subject_id="vip")
    assert len(ev) == 1, ev


def test_dormant_after_91_days_and_back_on_a_purchase(srv):
    cid = uniq("cust-")
    purchase(srv, cid, 10000)
    advance(srv, 89 * DAY)
    assert "dormant" not in customer(srv, cid)["computed_segments"]
    advance(srv, 2 * DAY)
    # no event about this customer: the scheduled refresh finds it
    got = wait_events(srv, {"segment_entered"}, customer_id=cid, subject_id="dormant")
    assert len(got) == 1, got
    assert "dormant" in customer(srv, cid)["computed_segments"]
    purchase(srv, cid, 10000)
    assert "dormant" not in customer(srv, cid)["computed_segments"]
    assert len(events(srv, {"segment_left"}, customer_id=cid, subject_id="dormant")) == 1
    # vip by spending within 365 days only: the window slides
    tasks = expect(srv.get("/v1/tasks?kind=segments_refresh&state=pending"), 200)["data"]
    assert len(tasks) == 1, tasks


def test_spent_365d_window_slides(srv):
    cid = uniq("cust-")
    purchase(srv, cid, 1500000)
    assert "vip" in customer(srv, cid)["computed_segments"]
    advance(srv, 366 * DAY)
    got = wait_events(srv, {"segment_left"}, customer_id=cid, subject_id="vip")
    assert len(got) == 1, got
    c = customer(srv, cid)
    assert c["facts"]["spent_365d"] == 0 and c["facts"]["total_spent"] == 1500000, c


def spend_segment(srv, threshold):
    """A segment of customers who spent `threshold` or more in 365 days."""
    name = uniq("spent-").lower()
    expect(put_segment(srv, name, {"all": [{"fact": "spent_365d", "op": ">=", "value": threshold}]}), 201)
    return name


def paid_redemption(srv, code, cid, paid):
    """Redeems `code` on a new order of `cid` that pays `paid` after the
    campaign's fixed 1000 discount."""
    r = expect(redeem(srv, code, paid + 1000, customer_id=cid, oid=uniq("o-")), 201)
    assert r["order_amount_after"] == paid, r


def test_spent_365d_of_redemptions_follows_the_window_both_ways(srv):
    """On PostgreSQL a redemption reads what the customer spent in 365 days
    from their row (migration 014: written by the last redemption or
    refresh) and moves it by the orders that left or came back into the
    window since; the segments it decides must be those of the orders
    really in the window. Each redemption here comes less than an hour
    after the refresh a long clock move set off (wait_events), so no other
    refresh moves the window first."""
    big = spend_segment(srv, 150000)
    try:
        code = add_code(srv, create_campaign(srv)["id"], max_uses=None)["code"]
        # Forward: 2 x 50k (two orders: the last redemption enters no
        # segment that a rule may follow, which would take the step-by-step
        # path), then 30 min short of a year (the refresh finds them
        # dormant, the window still holding the 100k), then 40 min more:
        # the 100k has left the window.
        fwd = uniq("cust-")
        paid_redemption(srv, code, fwd, 50000)
        paid_redemption(srv, code, fwd, 50000)
        advance(srv, 365 * DAY - 1800)
        wait_events(srv, {"segment_entered"}, customer_id=fwd, subject_id="dormant")
        advance(srv, 2400)
        paid_redemption(srv, code, fwd, 60000)
        c = customer(srv, fwd)
        assert c["facts"]["spent_365d"] == 60000 and big not in c["computed_segments"], c
        assert "dormant" not in c["computed_segments"], c
        assert events(srv, {"segment_entered"}, customer_id=fwd, subject_id=big) == []
        # Back: 100k, a year and 10 min (out of the window), 30k, then the
        # clock 20 min back (a server whose clock is behind): the 100k is
        # in the window again.
        back = uniq("cust-")
        paid_redemption(srv, code, back, 100000)
        advance(srv, 365 * DAY + 600)
        wait_events(srv, {"segment_entered"}, customer_id=back, subject_id="dormant")
        paid_redemption(srv, code, back, 30000)
        assert big not in customer(srv, back)["computed_segments"]
        advance(srv, -1200)
        paid_redemption(srv, code, back, 30000)
        c = customer(srv, back)
        assert c["facts"]["spent_365d"] == 160000 and big in c["computed_segments"], c
        assert len(events(srv, {"segment_entered"}, customer_id=back, subject_id=big)) == 1
    finally:
        expect(srv.request("DELETE", "/v1/segments/" + big), 200)


def test_attribute_segment_follows_profile_and_deletion(srv):
    name = uniq("city").lower()
    r = put_segment(srv, name, {"all": [{"fact": "attributes.city", "op": "=", "value": "Busan"}]},
                    description="Busan people")
    assert r.status == 201, show(r)
    cid = uniq("cust-")
    expect(srv.request("PUT", "/v1/customers/" + cid, {"attributes": {"city": "Busan"}}), 201)
    assert name in customer(srv, cid)["computed_segments"]
    assert expect(srv.get("/v1/segments/" + name), 200)["members"] == 1
    expect(srv.request("PUT", "/v1/customers/" + cid, {"attributes": {"city": "Seoul"}}), 200)
    assert name not in customer(srv, cid)["computed_segments"]
    expect(srv.request("PUT", "/v1/customers/" + cid, {"attributes": {"city": "Busan"}}), 200)
    expect(srv.request("DELETE", "/v1/segments/" + name), 200)
    assert name not in customer(srv, cid)["computed_segments"]
    moves = [e["type"] for e in events(srv, {"segment_entered", "segment_left"}, customer_id=cid, subject_id=name)]
    assert moves == ["segment_entered", "segment_left", "segment_entered", "segment_left"], moves
    expect_error(srv.request("DELETE", "/v1/segments/" + name), 404, "not_found")


def test_segment_rule_of_a_campaign_is_decided_for_real(srv):
    camp = create_campaign(srv, rules={"segments": ["vip"]})
    code = add_code(srv, camp["id"], max_uses=None)["code"]
    plain, big, staff = uniq("cust-"), uniq("cust-"), uniq("cust-")
    purchase(srv, plain, 1000)
    purchase(srv, big, 2000000)
    expect(srv.request("PUT", "/v1/customers/" + staff, {"segments": ["vip"]}), 201)
    invalid(validate(srv, code, customer_id=plain), "customer_not_eligible")
    invalid(validate(srv, code, customer_id=uniq("stranger-")), "customer_not_eligible")
    assert validate(srv, code, customer_id=big).json["valid"] is True
    assert validate(srv, code, customer_id=staff).json["valid"] is True, "segments set by hand count too"
    expect(redeem(srv, code, customer_id=big), 201)


def test_first_order_only_is_decided_for_real(srv):
    camp = create_campaign(srv, rules={"first_order_only": True})
    code = add_code(srv, camp["id"], max_uses=None)["code"]
    newbie, regular = uniq("cust-"), uniq("cust-")
    purchase(srv, regular, 5000)
    assert validate(srv, code, customer_id=uniq("stranger-")).json["valid"] is True, "unknown: no orders"
    invalid(validate(srv, code, customer_id=regular), "customer_not_eligible")
    expect(redeem(srv, code, customer_id=newbie), 201)
    # the redeemed order is the newbie's first: now they have one
    r = redeem(srv, code, customer_id=newbie)
    assert r.status == 422 and r.err_code == "customer_not_eligible", show(r)


def test_early_access_lets_a_segment_in_before_the_public_start(srv):
    now = clockutil.now(srv)
    camp = create_campaign(srv, starts_at=rfc3339(now + 10 * DAY),
                           early_access={"segment": "vip", "starts_at": rfc3339(now - 3600)})
    assert camp["early_access"] == {"segment": "vip", "starts_at": rfc3339(now - 3600)}, camp
    assert camp["status"] == "scheduled", camp
    code = add_code(srv, camp["id"], max_uses=None)["code"]
    vip, other = uniq("cust-"), uniq("cust-")
    purchase(srv, vip, 1000000)
    purchase(srv, other, 1000)
    assert validate(srv, code, customer_id=vip).json["valid"] is True
    invalid(validate(srv, code, customer_id=other), "code_not_yet_valid")
    invalid(validate(srv, code), "code_not_yet_valid")
    expect(redeem(srv, code, customer_id=vip), 201)
    r = srv.patch("/v1/campaigns/" + camp["id"], {"early_access": None})
    assert expect(r, 200)["early_access"] is None
    invalid(validate(srv, code, customer_id=vip), "code_not_yet_valid")


def test_bad_early_access_is_refused_naming_the_field(srv):
    now = clockutil.now(srv)
    start = rfc3339(now + DAY)
    cases = [
        ({"early_access": {"segment": "vip"}, "starts_at": start}, "early_access.starts_at"),
        ({"early_access": {"starts_at": rfc3339(now)}, "starts_at": start}, "early_access.segment"),
        ({"early_access": {"segment": "VIP!", "starts_at": rfc3339(now)}, "starts_at": start}, "early_access.segment"),
        ({"early_access": {"segment": "vip", "starts_at": rfc3339(now + 2 * DAY)}, "starts_at": start},
         "early_access.starts_at"),
        ({"early_access": {"segment": "vip", "starts_at": rfc3339(now)}}, "early_access.starts_at"),
        ({"early_access": {"segment": "vip", "starts_at": rfc3339(now), "x": 1}, "starts_at": start},
         "early_access.x"),
        ({"early_access": "vip", "starts_at": start}, "early_access"),
    ]
    for extra, field in cases:
        body = {"name": "ea", "currency": "KRW", "discount": {"type": "fixed", "amount": 100}}
        body.update(extra)
        expect_error(srv.post("/v1/campaigns", body), 400, "bad_request", field, what=repr(extra))


@harness.timeout(300)
def test_hourly_refresh_reaches_every_customer_in_chunks(srv):
    # More customers than one refresh transaction takes (2000), written
    # straight into the store: each with one order long ago, none dormant yet.
    tag = uniq("bulk-").lower()
    n = 4500
    at = clockutil.now(srv) - 10 * DAY
    if harness.on_pg():
        harness.db_exec(srv, "INSERT INTO customers (id, created_at, updated_at)"
                        " SELECT ? || '-' || g, ?, ? FROM generate_series(0, ?) g", (tag, at, at, n - 1))
        harness.db_exec(srv, "INSERT INTO customer_orders (customer_id, order_id, amount, at, source)"
                        " SELECT ? || '-' || g, 'o', 1000, ?, 'purchase' FROM generate_series(0, ?) g",
                        (tag, at, n - 1))
    else:
        with abuse_util.db(srv) as c:
            c.executemany("INSERT INTO customers (id, created_at, updated_at) VALUES (?, ?, ?)",
                          [("%s-%d" % (tag, i), at, at) for i in range(n)])
            c.executemany("INSERT INTO customer_orders (customer_id, order_id, amount, at, source)"
                          " VALUES (?, 'o', 1000, ?, 'purchase')", [("%s-%d" % (tag, i), at) for i in range(n)])
    advance(srv, 85 * DAY)

    def entered():
        j = [e for e in events(srv, {"segment_entered"}, subject_id="dormant")
             if (e.get("customer_id") or "").startswith(tag)]
        return j if len(j) >= n else None
    got = harness.poll(entered, timeout=60) or []
    assert len(got) == n and len({e["customer_id"] for e in got}) == n, len(got)
    chunks = [t for t in tasks_of(srv, "segments_refresh") if "after_seq" in t["payload"]]
    assert len(chunks) >= 2, "the refresh was cut into chunks"


def tasks_of(srv, kind):
    out, cursor = [], None
    while True:
        j = expect(srv.get("/v1/tasks?limit=1000&kind=%s%s" % (kind, "&cursor=" + cursor if cursor else "")), 200)
        out += j["data"]
        cursor = j["next_cursor"]
        if not cursor:
            return out
