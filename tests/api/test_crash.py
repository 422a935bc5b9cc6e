"""kill -9 under load, restart on the same database: every acknowledged
redemption is there, no code passes max_uses, counts agree."""

import http.client
import threading
import time

import harness
from harness import (Client, add_code, create_campaign, expect, get_code, list_codes, list_redemptions, show,
                     stats, uniq, use_body)

THREADS = 8
SINGLE_PER_ROUND = 1600
ROUNDS = 3


def load(srv, multi, singles, rnd, stop):
    """8 threads: pairs share a slice of the single-use codes (so each code
    is contended), every 3rd request goes to the multi-use code. Returns
    (acks, unexpected, lock) where acks is filled with (id, code, order_id)."""
    acks, unexpected = [], []
    lock = threading.Lock()
    pairs = THREADS // 2
    slices = [singles[p::pairs] for p in range(pairs)]

    def worker(t):
        cl = Client(srv, timeout=30 * harness.time_scale())
        mine = slices[t // 2]
        idx, n = 0, 0
        try:
            while not stop.is_set():
                n += 1
                if n % 3 == 0 or idx >= len(mine):
                    code = multi
                else:
                    code = mine[idx]
                oid = "crash-%d-%d-%d" % (rnd, t, n)
                try:
                    r = cl.post("/v1/redemptions", use_body(code, 10000, oid=oid))
                except (OSError, http.client.HTTPException):
                    return  # the server is gone: the outcome of this request is unknown
                if r.status == 201:
                    with lock:
                        acks.append((r.json["id"], r.json["code"], oid))
                    if code != multi:
                        idx += 1
                elif r.status == 422 and r.err_code == "code_redeemed" and code != multi:
                    idx += 1
                else:
                    with lock:
                        unexpected.append((code, show(r)))
                    if code != multi:
                        idx += 1
        finally:
            cl.close()

    ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(THREADS)]
    for t in ts:
        t.start()
    return ts, acks, unexpected, lock


def check_store(srv, cid, multi, acked, multi_max):
    reds = list_redemptions(srv, campaign_id=cid, limit=100)
    byid = {x["id"]: x for x in reds}
    assert len(byid) == len(reds), "a redemption is listed twice"
    missing = [a for a in acked if a[0] not in byid]
    assert not missing, "%d acknowledged (201) redemptions are gone after kill -9, e.g. %r" % (
        len(missing), missing[:5])
    for rid, code, oid in acked:
        x = byid[rid]
        assert x["status"] == "succeeded" and x["code"] == code and x["order_id"] == oid, \
            "redemption %s changed after restart: %r (acked code %s order %s)" % (rid, x, code, oid)
    standing = {}
    for x in reds:
        if x["status"] == "succeeded":
            standing[x["code"]] = standing.get(x["code"], 0) + 1
    codes = {k["code"]: k for k in list_codes(srv, cid, limit=1000)}
    for code, k in codes.items():
        lim = k["max_uses"]
        n = standing.get(code, 0)
        assert lim is None or k["uses"] <= lim, "code %s has uses %d > max_uses %d" % (code, k["uses"], lim)
        assert n <= (lim if lim is not None else n), "code %s has %d standing redemptions, max_uses %s" % (
            code, n, lim)
        assert k["uses"] == n, "code %s: uses %d but %d standing redemptions listed" % (code, k["uses"], n)
    assert codes[multi]["uses"] <= multi_max
    s = stats(srv, cid)
    assert s["redeemed"] == sum(standing.values()), "stats redeemed %r vs %d standing redemptions" % (
        s["redeemed"], sum(standing.values()))
    return len(reds)


@harness.timeout(300)
def test_kill9_under_redemption_load(srv):
    c = create_campaign(srv)
    multi = add_code(srv, c["id"], uniq("MULTI"), max_uses=100000)["code"]
    acked_all = []
    for rnd in range(ROUNDS):
        singles = [uniq("K%d" % rnd) for _ in range(SINGLE_PER_ROUND)]
        r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"], raw="\n".join(singles).encode(),
                        headers={"Content-Type": "text/csv"})
        assert expect(r, 200, "import round %d" % rnd)["imported"] == SINGLE_PER_ROUND, show(r)
        stop = threading.Event()
        ts, acks, unexpected, lock = load(srv, multi, singles, rnd, stop)
        # let the load run, then kill at some moment in the middle of it
        t0 = time.time()
        while time.time() - t0 < 1.0 * harness.time_scale() + 0.37 * rnd:
            time.sleep(0.05)
        with lock:
            before = len(acks)
        srv.kill9()
        stop.set()
        for t in ts:
            t.join(60)
        assert not any(t.is_alive() for t in ts), "load threads stuck after kill -9"
        assert not unexpected, "unexpected answers under load: %r" % unexpected[:5]
        assert before > 0, "no redemption succeeded in round %d before the kill" % rnd
        acked_all.extend(acks)
        srv.start()
        check_store(srv, c["id"], multi, acked_all, 100000)
    # the server keeps working on the recovered store
    code = add_code(srv, c["id"])["code"]
    expect(srv.request("POST", "/v1/redemptions", use_body(code, 10000)), 201, "after recovery")


def test_acknowledged_redemption_survives_immediate_kill(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"])["code"]
    r = expect(srv.request("POST", "/v1/redemptions", use_body(code, 10000)), 201)
    srv.kill9()
    srv.start()
    reds = list_redemptions(srv, campaign_id=c["id"])
    assert [x["id"] for x in reds] == [r["id"]], reds
    assert get_code(srv, code)["uses"] == 1


def test_idempotency_survives_restart(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=10)["code"]
    key = uniq("idem-", 20)
    body = use_body(code, 10000)
    a = expect(srv.request("POST", "/v1/redemptions", body, headers={"Idempotency-Key": key}), 201)
    srv.kill9()
    srv.start()
    b = expect(srv.request("POST", "/v1/redemptions", body, headers={"Idempotency-Key": key}), 201,
               "replay after restart")
    assert a == b, "replay after restart: %r vs %r" % (a, b)
    assert get_code(srv, code)["uses"] == 1


def test_graceful_restart_keeps_everything(srv):
    c = create_campaign(srv, limits={"per_customer": 2})
    k = add_code(srv, c["id"], max_uses=3)
    expect(srv.request("POST", "/v1/redemptions", use_body(k["code"], 10000, customer_id="u1")), 201)
    h = expect(srv.request("POST", "/v1/reservations", use_body(k["code"], 10000, customer_id="u2")), 201)
    before = harness.get_campaign(srv, c["id"])
    code_before = get_code(srv, k["code"])
    rc = srv.stop()
    assert rc in (0, None), "exit code after SIGTERM: %r; stderr:\n%s" % (rc, srv.stderr_tail())
    srv.start()
    assert harness.get_campaign(srv, c["id"]) == before
    assert get_code(srv, k["code"]) == code_before
    expect(srv.request("POST", "/v1/reservations/%s/confirm" % h["id"]), 201, "confirm a hold made before restart")
    assert get_code(srv, k["code"])["uses"] == 2


def test_hold_survives_kill(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"])["code"]
    h = expect(srv.request("POST", "/v1/reservations", use_body(code, 10000)), 201)
    srv.kill9()
    srv.start()
    harness.refusal(srv.request("POST", "/v1/redemptions", use_body(code, 10000)), "code_redeemed",
                    what="a hold made before the crash still counts")
    expect(srv.request("POST", "/v1/reservations/%s/confirm" % h["id"]), 201)
