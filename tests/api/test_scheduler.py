"""The scheduler: persistent tasks, campaign start/end transitions with
events as the test clock passes them, catch-up after downtime without
running anything twice, GET /v1/tasks, and the test clock itself."""

import time

import clockutil
import harness
from abuse_util import make_token
from clockutil import advance, events, wait_events
from harness import create_campaign, expect, expect_error, get_campaign, rfc3339, show

DAY = 86400


def setup(srv):
    clockutil.enable(srv)


def tasks(srv, **filters):
    q = "&".join("%s=%s" % kv for kv in filters.items())
    return expect(srv.get("/v1/tasks?limit=1000&" + q), 200)["data"]


def campaign_tasks(srv, cid):
    return [t for t in tasks(srv) if t["payload"].get("campaign_id") == cid]


def test_campaign_starts_and_ends_with_events_as_the_clock_passes(srv):
    now = clockutil.now(srv)
    c = create_campaign(srv, starts_at=rfc3339(now + 2 * DAY), ends_at=rfc3339(now + 5 * DAY))
    assert c["status"] == "scheduled", c
    pending = {t["kind"]: t for t in campaign_tasks(srv, c["id"])}
    assert set(pending) == {"campaign_start", "campaign_end"}, pending
    assert all(t["state"] == "pending" for t in pending.values()), pending
    assert pending["campaign_start"]["due_at"] == rfc3339(now + 2 * DAY), pending
    advance(srv, DAY)
    time.sleep(0.3)
    assert events(srv, {"campaign_started"}, campaign_id=c["id"]) == []
    t0 = time.time()
    advance(srv, DAY + 1)
    assert len(wait_events(srv, {"campaign_started"}, campaign_id=c["id"])) == 1
    assert time.time() - t0 < 1.5 * harness.time_scale(), "the scheduler is woken by the clock move"
    assert get_campaign(srv, c["id"])["status"] == "active"
    advance(srv, 3 * DAY)
    assert len(wait_events(srv, {"campaign_ended"}, campaign_id=c["id"])) == 1
    assert get_campaign(srv, c["id"])["status"] == "ended"
    done = {t["kind"]: t for t in campaign_tasks(srv, c["id"])}
    assert done["campaign_start"]["state"] == "done" and done["campaign_end"]["state"] == "done", done
    assert done["campaign_start"]["attempts"] == 1 and done["campaign_start"]["done_at"], done
    assert len(events(srv, {"campaign_started"}, campaign_id=c["id"])) == 1, "never twice"


def test_moved_start_skips_the_old_time(srv):
    now = clockutil.now(srv)
    c = create_campaign(srv, starts_at=rfc3339(now + DAY))
    expect(srv.patch("/v1/campaigns/" + c["id"], {"starts_at": rfc3339(now + 3 * DAY)}), 200)
    advance(srv, DAY + 10)
    harness.poll(lambda: any(t["state"] == "skipped" for t in campaign_tasks(srv, c["id"])))
    states = sorted((t["due_at"], t["state"]) for t in campaign_tasks(srv, c["id"]))
    assert states == [(rfc3339(now + DAY), "skipped"), (rfc3339(now + 3 * DAY), "pending")], states
    assert events(srv, {"campaign_started"}, campaign_id=c["id"]) == []
    advance(srv, 2 * DAY)
    assert len(wait_events(srv, {"campaign_started"}, campaign_id=c["id"])) == 1


def test_ended_by_hand_has_no_scheduled_end_event(srv):
    now = clockutil.now(srv)
    c = create_campaign(srv, ends_at=rfc3339(now + DAY))
    expect(srv.post("/v1/campaigns/%s/end" % c["id"]), 200)
    advance(srv, DAY + 5)
    harness.poll(lambda: all(t["state"] != "pending" for t in campaign_tasks(srv, c["id"])))
    assert [t["state"] for t in campaign_tasks(srv, c["id"])] == ["skipped"]
    # the only campaign_ended is the one /end wrote
    ended = events(srv, {"campaign_ended"}, campaign_id=c["id"])
    assert len(ended) == 1 and ended[0]["subject_id"] == c["id"], ended


@harness.timeout(120)
def test_tasks_due_while_down_run_once_after_restart(srv):
    # Real time here: the test clock's offset does not survive a restart,
    # so start from a fresh process (offset 0).
    srv.restart()
    now = clockutil.now(srv)
    assert abs(now - time.time()) < 5
    c = create_campaign(srv, starts_at=rfc3339(now + 2), ends_at=rfc3339(now + 3))
    srv.stop()
    time.sleep(4.5)
    srv.start()
    assert len(wait_events(srv, {"campaign_started"}, campaign_id=c["id"])) == 1
    assert len(wait_events(srv, {"campaign_ended"}, campaign_id=c["id"])) == 1
    srv.kill9()
    srv.start()
    time.sleep(1.5)
    assert len(events(srv, {"campaign_started"}, campaign_id=c["id"])) == 1, "not again after a second restart"
    assert len(events(srv, {"campaign_ended"}, campaign_id=c["id"])) == 1
    assert [t["state"] for t in campaign_tasks(srv, c["id"])] == ["done", "done"]


def test_task_list_filters_and_pages(srv):
    now = clockutil.now(srv)
    ids = [create_campaign(srv, starts_at=rfc3339(now + 30 * DAY + i))["id"] for i in range(3)]
    mine = [t for t in tasks(srv, kind="campaign_start", state="pending") if t["payload"]["campaign_id"] in ids]
    assert len(mine) == 3, mine
    assert all(t["kind"] == "campaign_start" for t in tasks(srv, kind="campaign_start"))
    j = expect(srv.get("/v1/tasks?limit=1"), 200)
    assert len(j["data"]) == 1 and j["next_cursor"], j
    j2 = expect(srv.get("/v1/tasks?limit=1&cursor=" + j["next_cursor"]), 200)
    assert j2["data"][0]["id"] != j["data"][0]["id"], (j, j2)
    expect_error(srv.get("/v1/tasks?state=sleeping"), 400, "bad_request", "state")
    expect_error(srv.get("/v1/tasks?cursor=abc"), 400, "bad_request", "cursor")
    viewer = make_token(srv, "viewer")
    expect_error(srv.get("/v1/tasks", token=viewer), 403, "forbidden")


def test_test_clock_moves_and_refuses_bad_input(srv):
    before = clockutil.now(srv)
    j = advance(srv, 3600)
    assert clockutil.now(srv) - before >= 3600 and j["offset_seconds"] >= 3600, j
    target = before + 400 * DAY
    j = expect(srv.post("/v1/test/clock", {"now": rfc3339(target)}), 200)
    assert abs(clockutil.now(srv) - target) <= 2, j
    # every "now" of the server follows: a new campaign's created_at
    c = create_campaign(srv)
    assert c["created_at"][:10] == rfc3339(target)[:10], c
    expect_error(srv.post("/v1/test/clock", {"advance_seconds": "1h"}), 400, "bad_request", "advance_seconds")
    expect_error(srv.post("/v1/test/clock", {"now": "tomorrow"}), 400, "bad_request", "now")
    expect_error(srv.post("/v1/test/clock", {"now": rfc3339(target), "advance_seconds": 1}), 400, "bad_request")
    expect_error(srv.post("/v1/test/clock", {"speed": 2}), 400, "bad_request", "speed")
    marketer = make_token(srv, "marketer")
    expect_error(srv.post("/v1/test/clock", {"advance_seconds": 1}, token=marketer), 403, "forbidden")


def test_codes_expire_with_an_event_once(srv):
    c = create_campaign(srv, code_validity_days=1)
    cust = harness.uniq("cust-")
    k = expect(srv.post("/v1/campaigns/%s/issue" % c["id"], {"customer_id": cust}), 201)
    used = expect(srv.post("/v1/campaigns/%s/issue" % c["id"], {"customer_id": harness.uniq("cust-")}), 201)
    expect(harness.redeem(srv, used["code"], customer_id=used["customer_id"]), 201)
    assert k["expires_at"], k
    advance(srv, DAY - 60)
    time.sleep(0.5)
    assert events(srv, {"code_expired"}, campaign_id=c["id"]) == []
    advance(srv, 600)
    got = wait_events(srv, {"code_expired"}, campaign_id=c["id"])
    assert len(got) == 1 and got[0]["customer_id"] == cust, got  # the redeemed code is not reported
    advance(srv, DAY)
    time.sleep(0.5)
    assert len(events(srv, {"code_expired"}, campaign_id=c["id"])) == 1, "told once"
    assert len(tasks(srv, kind="codes_expire", state="pending")) == 1
