"""The event log: every change and attempt leaves one row, in order, written
with the change; the log refuses updates and deletes."""

import time
import urllib.parse

import harness
from harness import add_code, create_campaign, expect, show, uniq, use_body


def events(srv, **q):
    out, cursor = [], None
    while True:
        qq = dict(q, limit="200")
        if cursor:
            qq["cursor"] = cursor
        r = srv.request("GET", "/v1/events?" + urllib.parse.urlencode(qq))
        assert r.status == 200, show(r)
        out.extend(r.json["data"])
        cursor = r.json["next_cursor"]
        if not cursor:
            return out


def types(evs):
    return [e["type"] for e in evs]


def test_every_step_of_a_code_life_is_logged_in_order(srv):
    c = create_campaign(srv, limits={"max_redemptions": 10})
    code = add_code(srv, c["id"])["code"]
    expect(srv.post("/v1/validate", use_body(code)), 200)
    r = expect(srv.post("/v1/redemptions", use_body(code, oid="o-ev-1")), 201)
    rid = r["id"]
    expect(srv.post("/v1/redemptions", use_body(code, oid="o-ev-2")), 422)
    expect(srv.post("/v1/redemptions/%s/rollback" % rid, {"reason": "order_cancelled"}), 200)
    rsv = expect(srv.post("/v1/reservations", use_body(code, oid="o-ev-3")), 201)
    expect(srv.post("/v1/reservations/%s/release" % rsv["id"]), 200)
    expect(srv.post("/v1/campaigns/%s/pause" % c["id"]), 200)
    expect(srv.post("/v1/codes/%s/disable" % code), 200)
    # validation attempts are logged asynchronously: wait for the row
    deadline = time.time() + 5
    while True:
        evs = events(srv, campaign_id=c["id"])
        if "validation" in types(evs) or time.time() > deadline:
            break
        time.sleep(0.05)
    t = types(evs)
    want = ["campaign_created", "code_created", "redeemed", "redemption_refused", "redemption_rolled_back",
            "reserved", "reservation_released", "campaign_paused", "code_disabled"]
    positions = [t.index(w) for w in want]
    assert positions == sorted(positions), "events out of order: %s" % t
    assert "validation" in t, t
    refused = evs[t.index("redemption_refused")]
    assert refused["reason"] == "code_redeemed" and refused["order_id"] == "o-ev-2", refused
    red = evs[t.index("redeemed")]
    assert red["subject_id"] == rid and red["data"]["discount"] == 1000, red
    rb = evs[t.index("redemption_rolled_back")]
    assert rb["reason"] == "order_cancelled", rb


def test_events_filter_by_type_and_page_without_gaps(srv):
    c = create_campaign(srv)
    for _ in range(7):
        add_code(srv, c["id"])
    got = events(srv, type="code_created")
    assert len([e for e in got if e["campaign_id"] == c["id"]]) == 7
    # pages of 2 see every event once, in seq order
    seen, cursor = [], None
    while True:
        q = {"campaign_id": c["id"], "limit": "2"}
        if cursor:
            q["cursor"] = cursor
        r = expect(srv.get("/v1/events?" + urllib.parse.urlencode(q)), 200)
        seen.extend(e["id"] for e in r["data"])
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 8, seen  # campaign_created + 7 codes


def test_bad_event_cursor_is_400(srv):
    r = srv.get("/v1/events?cursor=abc")
    assert r.status == 400 and r.err_code == "bad_request", show(r)


def test_the_log_refuses_update_and_delete(srv):
    create_campaign(srv)
    for sql in ("UPDATE events SET type = 'x'", "DELETE FROM events"):
        try:
            harness.db_exec(srv, sql)
            raise AssertionError("%s was allowed" % sql)
        except harness.DbError as e:
            assert "append-only" in str(e), e
    assert len(events(srv)) >= 1
