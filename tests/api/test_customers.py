"""Customers and client events: profiles, facts kept current from purchase
events and redemptions, idempotent events, refusals naming the field, roles."""

import urllib.parse

import harness
from abuse_util import make_token
from harness import add_code, create_campaign, expect, expect_error, redeem, show, uniq


def put_customer(srv, cid, body, **kw):
    return srv.request("PUT", "/v1/customers/" + urllib.parse.quote(cid, safe=""), body, **kw)


def get_customer(srv, cid):
    return expect(srv.get("/v1/customers/" + urllib.parse.quote(cid, safe="")), 200)


def send(srv, etype, customer_id, eid=None, **body):
    b = {"id": eid or uniq("ev-"), "type": etype, "customer_id": customer_id}
    b.update(body)
    return srv.post("/v1/events", b)


def log_of(srv, customer_id, types):
    out, cursor = [], None
    while True:
        path = "/v1/events?limit=1000" + ("&cursor=" + cursor if cursor else "")
        j = expect(srv.get(path), 200)
        out += [e for e in j["data"] if e.get("customer_id") == customer_id and e["type"] in types]
        cursor = j["next_cursor"]
        if not cursor:
            return out


def test_put_creates_then_replaces_profile(srv):
    cid = uniq("cust-")
    body = {"name": "Kim Minji", "email": "minji@example.kr", "phone": "+82 10-1234-5678", "locale": "ko-KR",
            "segments": ["staff"], "attributes": {"tier": "gold", "age": 31, "newsletter": True}}
    c = expect(put_customer(srv, cid, body), 201)
    assert c["id"] == cid and c["name"] == "Kim Minji" and c["email"] == "minji@example.kr", c
    assert c["segments"] == ["staff"] and c["attributes"] == body["attributes"], c
    assert c["facts"]["order_count"] == 0 and c["facts"]["total_spent"] == 0, c
    assert c["computed_segments"] == ["new"], c
    # PUT replaces the profile: what is left out is cleared
    c2 = expect(put_customer(srv, cid, {"name": "Kim M."}), 200)
    assert c2["name"] == "Kim M." and c2["email"] is None and c2["segments"] == [] and c2["attributes"] == {}, c2
    assert get_customer(srv, cid) == c2


def test_unknown_customer_is_404(srv):
    expect_error(srv.get("/v1/customers/" + uniq("nobody-")), 404, "not_found")


def test_bad_profiles_are_refused_naming_the_field(srv):
    cid = uniq("cust-")
    cases = [
        ({"name": 5}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"locale": "k"}, "locale"),
        ({"segments": "vip"}, "segments"),
        ({"segments": ["Not A Name"]}, "segments[0]"),
        ({"attributes": []}, "attributes"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes.nested"),
        ({"attributes": {"bad name": 1}}, "attributes.bad name"),
        ({"nickname": "x"}, "nickname"),
    ]
    for body, field in cases:
        expect_error(put_customer(srv, cid, body), 400, "bad_request", field, what=repr(body))
    expect_error(srv.get("/v1/customers/" + cid), 404, what="nothing was stored")
    expect_error(put_customer(srv, "a" * 129, {}), 400, "bad_request", "customer id")


def test_purchase_events_keep_facts_current(srv):
    cid = uniq("cust-")
    expect(send(srv, "signup", cid, occurred_at="2026-01-05T10:00:00+09:00"), 201)
    c = get_customer(srv, cid)
    assert c["facts"]["signup_at"] == "2026-01-05T01:00:00Z", c
    expect(send(srv, "purchase", cid, properties={"order_id": "o-1", "amount": 30000,
                                                  "items": [{"name": "Coat", "price": 30000, "category": "outer"}]}),
           201)
    expect(send(srv, "purchase", cid, properties={"order_id": "o-2", "amount": 12000}), 201)
    # the same order told twice counts once
    expect(send(srv, "purchase", cid, properties={"order_id": "o-2", "amount": 12000}), 201)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 2 and f["total_spent"] == 42000 and f["spent_365d"] == 42000, f
    assert f["first_order_at"] and f["last_order_at"] and f["last_seen_at"], f
    c = get_customer(srv, cid)
    assert "new" not in c["computed_segments"] and "repeat" in c["computed_segments"], c


def test_event_is_idempotent_by_id(srv):
    cid = uniq("cust-")
    eid = uniq("ev-")
    body = {"id": eid, "type": "cart_updated", "customer_id": cid,
            "properties": {"items": [{"name": "Scarf", "price": 9000, "quantity": 2, "category": "acc"}]}}
    first = srv.post("/v1/events", body)
    assert first.status == 201, show(first)
    again = srv.post("/v1/events", body)
    assert again.status == 200 and again.json == first.json, show(again)
    other = dict(body, properties={"items": []})
    expect_error(srv.post("/v1/events", other), 409, "conflict", eid)
    # logged once, with its properties
    logged = [e for e in log_of(srv, cid, {"cart_updated"})]
    assert len(logged) == 1 and logged[0]["subject_id"] == eid, logged
    assert logged[0]["data"]["items"][0]["name"] == "Scarf", logged


def test_custom_event_types_are_stored(srv):
    cid = uniq("cust-")
    expect(send(srv, "wishlist_added", cid, properties={"sku": "p-9"}), 201)
    expect(send(srv, "review_written", cid, properties={"stars": 5}), 201)
    assert [e["type"] for e in log_of(srv, cid, {"wishlist_added", "review_written"})] == \
        ["wishlist_added", "review_written"]
    # an unknown customer becomes known
    assert get_customer(srv, cid)["facts"]["last_seen_at"]


def test_bad_events_are_refused_naming_the_field(srv):
    cid = uniq("cust-")
    ok = {"id": uniq("ev-"), "type": "signup", "customer_id": cid}
    cases = [
        ({k: v for k, v in ok.items() if k != "id"}, "id"),
        ({k: v for k, v in ok.items() if k != "type"}, "type"),
        ({k: v for k, v in ok.items() if k != "customer_id"}, "customer_id"),
        (dict(ok, type="Bad Type"), "type"),
        (dict(ok, type="redeemed"), "type"),
        (dict(ok, occurred_at="yesterday"), "occurred_at"),
        (dict(ok, properties=[1]), "properties"),
        (dict(ok, type="purchase"), "properties"),
        (dict(ok, type="purchase", properties={"amount": 10}), "properties.order_id"),
        (dict(ok, type="purchase", properties={"order_id": "o", "amount": -1}), "properties.amount"),
        (dict(ok, type="purchase", properties={"order_id": "o", "amount": "10"}), "properties.amount"),
        (dict(ok, properties={"items": [{"price": 1.5}]}), "properties.items[0].price"),
        (dict(ok, properties={"items": [{"name": 3}]}), "properties.items[0].name"),
        (dict(ok, extra=1), "extra"),
        (dict(ok, id="has space"), "id"),
    ]
    for body, field in cases:
        expect_error(srv.post("/v1/events", body), 400, "bad_request", field, what=repr(body))
    expect_error(srv.get("/v1/customers/" + cid), 404, what="nothing stored by refused events")


def test_redemptions_and_rollbacks_count_as_orders(srv):
    cid = uniq("cust-")
    camp = create_campaign(srv, discount={"type": "fixed", "amount": 1000})
    code = add_code(srv, camp["id"], max_uses=None)["code"]
    r1 = expect(redeem(srv, code, 50000, customer_id=cid), 201)
    expect(redeem(srv, code, 20000, customer_id=cid), 201)
    f = get_customer(srv, cid)["facts"]
    # what the customer paid: order amount minus the discount
    assert f["order_count"] == 2 and f["total_spent"] == 49000 + 19000, f
    expect(srv.post("/v1/redemptions/%s/rollback" % r1["id"], {"reason": "order_cancelled"}), 200)
    f = get_customer(srv, cid)["facts"]
    assert f["order_count"] == 1 and f["total_spent"] == 19000, f


def test_customer_list_pages_and_filters_by_segment(srv):
    tag = uniq("t").lower()
    ids = [uniq("cust-") for _ in range(5)]
    for i, cid in enumerate(ids):
        expect(put_customer(srv, cid, {"segments": [tag] if i % 2 == 0 else []}), 201)
    j = expect(srv.get("/v1/customers?segment=" + tag + "&limit=2"), 200)
    got = [c["id"] for c in j["data"]]
    while j["next_cursor"]:
        j = expect(srv.get("/v1/customers?segment=%s&limit=2&cursor=%s" % (tag, j["next_cursor"])), 200)
        got += [c["id"] for c in j["data"]]
    assert got == [ids[0], ids[2], ids[4]], got
    expect_error(srv.get("/v1/customers?segment=Bad%20Name"), 400, "bad_request", "segment")


def test_roles_on_customers_and_events(srv):
    integ = make_token(srv, "integration")
    viewer = make_token(srv, "viewer")
    sf = make_token(srv, "storefront")
    cid = uniq("cust-")
    expect(put_customer(srv, cid, {"name": "A"}, token=integ), 201)
    expect(send_as(srv, integ, "signup", cid), 201)
    expect(srv.get("/v1/customers/" + cid, token=viewer), 200)
    expect_error(put_customer(srv, cid, {"name": "B"}, token=viewer), 403, "forbidden")
    expect_error(send_as(srv, viewer, "signup", cid), 403, "forbidden")
    expect_error(srv.get("/v1/customers/" + cid, token=integ), 403, "forbidden")
    expect_error(send_as(srv, sf, "signup", cid), 403, "forbidden")


def send_as(srv, token, etype, cid):
    return srv.post("/v1/events", {"id": uniq("ev-"), "type": etype, "customer_id": cid}, token=token)


def test_test_clock_is_404_without_the_flag(srv):
    # this module's server runs without --test-clock
    expect_error(srv.post("/v1/test/clock", {"advance_seconds": 3600}), 404, "not_found")
    expect_error(srv.get("/v1/test/clock"), 404, "not_found")
