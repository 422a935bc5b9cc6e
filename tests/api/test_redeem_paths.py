"""A redemption's side effects whatever path the store takes.

On PostgreSQL a redemption normally runs in two round trips (one pipeline
of reads and locks, then promo_redeem_write with COMMIT: migration 010) and
falls back to the step-by-step path when a webhook listens, a customer's
segments move, no shard has room or the customer's facts changed under it.
These tests drive each of those cases and check what both stores must
show alike: events in order, facts, segments, limits, Idempotency-Key."""

import urllib.parse

from harness import (add_code, create_campaign, expect, get_code, redeem, refusal, stats, uniq)
from test_concurrency import ok, post_redeem, summary
from harness import race_requests, use_body

SAME = ("type", "campaign_id", "code_key", "customer_id", "order_id", "reason")


def get_customer(srv, cid):
    return expect(srv.get("/v1/customers/" + urllib.parse.quote(cid, safe="")), 200)


def events_of(srv, customer_id):
    out, cursor = [], None
    while True:
        j = expect(srv.get("/v1/events?limit=1000" + ("&cursor=" + cursor if cursor else "")), 200)
        out += [e for e in j["data"] if e.get("customer_id") == customer_id]
        cursor = j["next_cursor"]
        if not cursor:
            return out


def unlimited_code(srv, **over):
    c = create_campaign(srv, **over)
    return c, add_code(srv, c["id"], max_uses=None)["code"]


def shape(evs, cid):
    """The events with what may differ between two customers made alike."""
    return [tuple("C" if e.get(k) == cid else e.get(k) for k in SAME) for e in evs]


def test_events_are_the_same_with_and_without_a_webhook(srv):
    c, code = unlimited_code(srv)
    a, b = uniq("cust-a-"), uniq("cust-b-")
    ra = expect(redeem(srv, code, 30000, customer_id=a, oid="o-" + a), 201)
    ea = events_of(srv, a)
    assert [e["type"] for e in ea] == ["redeemed", "customer_created"], ea
    assert ea[0]["subject_id"] == ra["id"] and ea[0]["campaign_id"] == c["id"], ea
    hook = expect(srv.post("/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "event_types": ["redeemed"]}), 201)
    try:
        rb = expect(redeem(srv, code, 30000, customer_id=b, oid="o-" + b), 201)
        eb = events_of(srv, b)
        assert [x[0] for x in shape(eb, b)] == [x[0] for x in shape(ea, a)], (ea, eb)
        assert eb[0]["subject_id"] == rb["id"] and eb[0]["data"] == ea[0]["data"], (ea, eb)
        msgs = expect(srv.get("/v1/messages?limit=1000"), 200)["data"]
        assert any(m.get("event_id") == eb[0]["id"] for m in msgs), "no delivery queued for %s" % eb[0]["id"]
        assert not any(m.get("event_id") == ea[0]["id"] for m in msgs), "a delivery for an event before the hook"
    finally:
        expect(srv.request("DELETE", "/v1/webhooks/" + hook["id"]), 200)
    assert get_code(srv, code)["uses"] == 2


def test_second_order_enters_repeat_once(srv):
    _, code = unlimited_code(srv)
    cid = uniq("cust-")
    for i in range(3):
        expect(redeem(srv, code, 20000, customer_id=cid, oid="o-%d-%s" % (i, cid)), 201)
    cu = get_customer(srv, cid)
    assert cu["facts"]["order_count"] == 3 and cu["facts"]["total_spent"] == 3 * 19000, cu
    assert "repeat" in cu["computed_segments"], cu
    moves = [(e["type"], e["subject_id"]) for e in events_of(srv, cid) if e["type"].startswith("segment_")]
    assert moves == [("segment_entered", "repeat")], moves


def test_order_known_from_a_purchase_counts_once(srv):
    _, code = unlimited_code(srv)
    cid, oid = uniq("cust-"), uniq("ord-")
    expect(srv.post("/v1/events", {"id": uniq("ev-"), "type": "purchase", "customer_id": cid,
                                   "properties": {"order_id": oid, "amount": 30000}}), 201)
    expect(redeem(srv, code, 30000, customer_id=cid, oid=oid), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 1 and f["total_spent"] == 30000, f
    expect(redeem(srv, code, 10000, customer_id=cid), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 2 and f["total_spent"] == 39000, f


def test_campaign_limits_when_the_shards_run_out(srv):
    c, code = unlimited_code(srv, limits={"max_redemptions": 3})
    for i in range(3):
        expect(redeem(srv, code, 10000, customer_id=uniq("c-")), 201, "use %d of 3" % (i + 1))
    cid = uniq("c-")
    refusal(redeem(srv, code, 10000, customer_id=cid), "campaign_limit_reached")
    refused = [e for e in events_of(srv, cid) if e["type"] == "redemption_refused"]
    assert len(refused) == 1 and refused[0]["reason"] == "campaign_limit_reached", refused
    assert stats(srv, c["id"])["redeemed"] == 3
    c2, code2 = unlimited_code(srv, limits={"max_discount_total": 2500})
    expect(redeem(srv, code2, 10000), 201)
    expect(redeem(srv, code2, 10000), 201)
    refusal(redeem(srv, code2, 10000), "budget_exhausted")
    assert get_code(srv, code2)["uses"] == 2


def test_one_customer_from_20_clients(srv):
    _, code = unlimited_code(srv)
    cid = uniq("cust-")
    res = race_requests(srv, 20, lambda i: post_redeem(use_body(code, 10000, oid="r-%d-%s" % (i, cid),
                                                                customer_id=cid)))
    assert len(ok(res)) == 20, summary(res)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 20 and f["total_spent"] == 20 * 9000, f
    kinds = [e["type"] for e in events_of(srv, cid)]
    assert kinds.count("customer_created") == 1 and kinds.count("redeemed") == 20, kinds
    assert kinds.count("segment_entered") == 1, kinds
    assert get_code(srv, code)["uses"] == 20


def test_idempotency_key_with_a_customer(srv):
    _, code = unlimited_code(srv)
    cid, key = uniq("cust-"), uniq("idem-")
    body = use_body(code, 10000, oid=uniq("o-"), customer_id=cid)
    first = expect(srv.request("POST", "/v1/redemptions", body, headers={"Idempotency-Key": key}), 201)
    again = expect(srv.request("POST", "/v1/redemptions", body, headers={"Idempotency-Key": key}), 201)
    assert again["id"] == first["id"], (first, again)
    assert get_code(srv, code)["uses"] == 1
    assert get_customer(srv, cid)["facts"]["order_count"] == 1
    other = dict(body, order={"id": uniq("o-"), "amount": 10000, "currency": "KRW"})
    r = srv.request("POST", "/v1/redemptions", other, headers={"Idempotency-Key": key})
    assert r.status == 409, r
    assert get_code(srv, code)["uses"] == 1


def test_first_and_second_orders_move_segments_in_order(srv):
    _, code = unlimited_code(srv)
    cid = uniq("cust-")
    c = expect(srv.request("PUT", "/v1/customers/" + cid, {"name": "Lee"}), 201)
    assert c["computed_segments"] == ["new"], c
    expect(redeem(srv, code, 20000, customer_id=cid), 201)
    assert get_customer(srv, cid)["computed_segments"] == [], get_customer(srv, cid)
    expect(redeem(srv, code, 1_020_000, customer_id=cid), 201)
    assert get_customer(srv, cid)["computed_segments"] == ["repeat", "vip"], get_customer(srv, cid)
    moves = [(e["type"], e["subject_id"]) for e in events_of(srv, cid) if e["type"].startswith("segment_")]
    assert moves == [("segment_entered", "new"), ("segment_left", "new"), ("segment_entered", "repeat"),
                     ("segment_entered", "vip")], moves


def test_facts_moved_by_each_order_stay_the_sums_of_the_orders(srv):
    """PostgreSQL's fast path moves the stored facts by the new order
    (migration 011) instead of summing every order: after a purchase, a
    rollback and an order already known, they must still be the sums."""
    _, code = unlimited_code(srv)
    cid = uniq("cust-")
    expect(srv.post("/v1/events", {"id": uniq("ev-"), "type": "purchase", "customer_id": cid,
                                   "properties": {"order_id": uniq("p-"), "amount": 5000}}), 201)
    first = expect(redeem(srv, code, 20000, customer_id=cid, oid=uniq("a-")), 201)
    known = uniq("b-")
    expect(redeem(srv, code, 30000, customer_id=cid, oid=known), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 3 and f["total_spent"] == 5000 + 19000 + 29000, f
    expect(srv.post("/v1/redemptions/%s/rollback" % first["id"], {"reason": "order_cancelled"}), 200)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 2 and f["total_spent"] == 5000 + 29000, f
    # A second code on the order already counted: no new order.
    _, code2 = unlimited_code(srv)
    expect(redeem(srv, code2, 30000, customer_id=cid, oid=known), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 2 and f["total_spent"] == 5000 + 29000, f
    expect(redeem(srv, code, 40000, customer_id=cid, oid=uniq("c-")), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 3 and f["total_spent"] == 5000 + 29000 + 39000, f
    assert f["first_order_at"] <= f["last_order_at"], f
    # An attribute change between two orders (a new row version) still counts.
    r = srv.request("PUT", "/v1/customers/" + cid, {"attributes": {"tier": "gold"}})
    assert r.status in (200, 201), r
    expect(redeem(srv, code, 10000, customer_id=cid, oid=uniq("d-")), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 4 and f["total_spent"] == 5000 + 29000 + 39000 + 9000, f
