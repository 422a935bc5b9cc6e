"""Generation jobs: progress, exact totals, and resuming after a crash."""

import time

import harness
from harness import create_campaign, expect, show, stats


def wait_job(srv, jid, limit=120):
    deadline = time.time() + limit * harness.time_scale()
    while time.time() < deadline:
        j = expect(srv.get("/v1/jobs/" + jid), 200)
        if j["status"] != "running":
            return j
        time.sleep(0.1)
    raise AssertionError("job %s still running" % jid)


@harness.timeout(300)
def test_job_killed_midway_resumes_and_makes_exactly_the_total(srv):
    c = create_campaign(srv)
    total = 300000
    r = expect(srv.post("/v1/campaigns/%s/codes" % c["id"], {"count": total, "pattern": "JOB-########"}), 202)
    jid = r["id"]
    # wait until the job has made some but not all codes, then crash
    deadline = time.time() + 60 * harness.time_scale()
    while time.time() < deadline:
        j = expect(srv.get("/v1/jobs/" + jid), 200)
        if j["done"] > 0:
            break
        time.sleep(0.02)
    srv.kill9()
    srv.restart()
    j = wait_job(srv, jid)
    assert j["status"] == "done" and j["done"] == total, j
    assert stats(srv, c["id"])["issued"] == total


def test_job_progress_is_monotonic_and_reaches_total(srv):
    c = create_campaign(srv)
    r = expect(srv.post("/v1/campaigns/%s/codes" % c["id"], {"count": 50001}), 202)
    j = r
    assert j["status"] == "running" and j["total"] == 50001 and j["done"] == 0, j
    last = 0
    while j["status"] == "running":
        j = expect(srv.get("/v1/jobs/" + j["id"]), 200)
        assert j["done"] >= last, (last, j)
        last = j["done"]
        time.sleep(0.05)
    assert j["status"] == "done" and j["done"] == 50001, j


def test_job_refused_up_front_by_keyspace_and_max_issued(srv):
    c = create_campaign(srv, limits={"max_issued": 20000})
    r = srv.post("/v1/campaigns/%s/codes" % c["id"], {"count": 20001})
    assert r.status == 422 and r.err_code == "campaign_limit_reached", show(r)
    r = srv.post("/v1/campaigns/%s/codes" % c["id"], {"count": 20000, "pattern": "K-######", "charset": "0123456789"})
    assert r.status == 422 and r.err_code == "keyspace_too_small", show(r)
    assert stats(srv, c["id"])["issued"] == 0
