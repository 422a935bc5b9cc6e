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


def test_setup_writes_survive_immediate_kill(srv):
    c = create_campaign(srv, name="durable " + uniq())
    p = expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"limits": {"max_redemptions": 7}}), 200)
    k = add_code(srv, c["id"], max_uses=4)
    expect(srv.request("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 30}), 201)
    imp = [uniq("DUR") for _ in range(20)]
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"], raw="\n".join(imp).encode(),
                    headers={"Content-Type": "text/csv"})
    expect(r, 200)
    d = add_code(srv, c["id"])
    expect(srv.request("POST", "/v1/codes/%s/disable" % d["code"]), 200)
    srv.kill9()
    srv.start()
    assert harness.get_campaign(srv, c["id"]) == p
    assert get_code(srv, k["code"]) == k
    assert get_code(srv, d["code"])["state"] == "disabled"
    assert len(list_codes(srv, c["id"])) == 1 + 30 + 20 + 1
    assert stats(srv, c["id"])["issued"] == 52


@harness.timeout(300)
def test_kill9_under_mixed_load(srv):
    """Redemptions, rollbacks, holds, confirms and releases on one campaign;
    after kill -9 every acknowledged change is there and counts agree."""
    c = create_campaign(srv, limits={"per_customer": 1000})
    codes = [uniq("MIX") for _ in range(600)]
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"], raw="\n".join(codes).encode(),
                    headers={"Content-Type": "text/csv"})
    assert expect(r, 200)["imported"] == 600
    stop = threading.Event()
    lock = threading.Lock()
    acked = {"redeemed": {}, "rolled_back": set(), "confirmed": {}, "released": set()}
    unexpected = []

    def worker(t):
        cl = Client(srv, timeout=30 * harness.time_scale())
        mine = codes[t::6]
        try:
            for i, code in enumerate(mine):
                if stop.is_set():
                    return
                oid = "mix-%d-%d" % (t, i)
                body = use_body(code, 10000, oid=oid, customer_id="m%d" % t)
                try:
                    if i % 3 == 0:
                        r = cl.post("/v1/redemptions", body)
                        if r.status != 201:
                            unexpected.append(show(r))
                            continue
                        rid = r.json["id"]
                        with lock:
                            acked["redeemed"][rid] = code
                        if i % 2 == 0:
                            r = cl.post("/v1/redemptions/%s/rollback" % rid, {"reason": "x"})
                            if r.status == 200:
                                with lock:
                                    acked["rolled_back"].add(rid)
                            else:
                                unexpected.append(show(r))
                    else:
                        r = cl.post("/v1/reservations", body)
                        if r.status != 201:
                            unexpected.append(show(r))
                            continue
                        hid = r.json["id"]
                        if i % 3 == 1:
                            r = cl.post("/v1/reservations/%s/confirm" % hid)
                            if r.status == 201:
                                with lock:
                                    acked["confirmed"][r.json["id"]] = code
                            else:
                                unexpected.append(show(r))
                        else:
                            r = cl.post("/v1/reservations/%s/release" % hid)
                            if r.status == 200:
                                with lock:
                                    acked["released"].add(code)
                            else:
                                unexpected.append(show(r))
                except (OSError, http.client.HTTPException):
                    return
        finally:
            cl.close()

    ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(6)]
    for t in ts:
        t.start()
    time.sleep(0.8 * harness.time_scale())
    srv.kill9()
    stop.set()
    for t in ts:
        t.join(60)
    assert not unexpected, "unexpected answers under load: %r" % unexpected[:5]
    assert acked["redeemed"] or acked["confirmed"], "nothing happened before the kill"
    srv.start()
    reds = {x["id"]: x for x in list_redemptions(srv, campaign_id=c["id"])}
    for rid, code in list(acked["redeemed"].items()) + list(acked["confirmed"].items()):
        assert rid in reds, "acknowledged redemption %s (%s) is gone" % (rid, code)
        want = "rolled_back" if rid in acked["rolled_back"] else None
        if want:
            assert reds[rid]["status"] == "rolled_back", "acknowledged rollback lost: %r" % reds[rid]
    for code in acked["released"]:
        assert get_code(srv, code)["uses"] == 0, "released hold became a use: %s" % code
    standing = {}
    for x in reds.values():
        if x["status"] == "succeeded":
            standing[x["code"]] = standing.get(x["code"], 0) + 1
    for k in list_codes(srv, c["id"]):
        n = standing.get(k["code"], 0)
        assert n <= 1 and k["uses"] == n, "code %s: uses %d, standing redemptions %d" % (k["code"], k["uses"], n)
    s = stats(srv, c["id"])
    assert s["redeemed"] == sum(standing.values()), (s, sum(standing.values()))
    assert s["rolled_back"] == sum(1 for x in reds.values() if x["status"] == "rolled_back"), s


@harness.timeout(300)
def test_kill9_during_generation_job(srv):
    c = create_campaign(srv)
    r = srv.request("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 60000, "pattern": "JOB-############"})
    j = expect(r, 202, "a 60000-code job")
    time.sleep(0.3 * harness.time_scale())
    srv.kill9()
    srv.start()
    r = srv.request("GET", "/v1/jobs/" + j["id"])
    assert r.status in (200, 404), "job after restart: %s" % show(r)
    if r.status == 200 and r.json.get("status") == "running":
        harness.wait_job(srv, j["id"])
    codes = list_codes(srv, c["id"], limit=1000)
    assert len({k["code"] for k in codes}) == len(codes), "duplicate codes after the crash"
    s = stats(srv, c["id"])
    assert s["issued"] == len(codes), "stats issued %d vs %d codes listed" % (s["issued"], len(codes))
    # the store is still usable for codes of the same shape
    expect(srv.request("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 10, "pattern": "JOB-############"}), 201)


@harness.timeout(300)
def test_kill9_during_import_is_all_or_nothing(srv):
    """An import is one transaction: after kill -9 in the middle of it, the
    campaign holds all of the file's codes or none."""
    results = []
    for attempt in range(3):
        c = create_campaign(srv)
        n = 80000
        text = "\n".join("IMPK%d%s%06d" % (attempt, uniq("", 6), i) for i in range(n)) + "\n"
        box = {}

        def send():
            try:
                box["r"] = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"], raw=text.encode(),
                                       headers={"Content-Type": "text/csv"})
            except (OSError, http.client.HTTPException) as e:
                box["e"] = e

        t = threading.Thread(target=send, daemon=True)
        t.start()
        time.sleep((0.15 + 0.2 * attempt) * harness.time_scale())
        srv.kill9()
        t.join(60)
        srv.start()
        got = len(list_codes(srv, c["id"], limit=1000))
        issued = stats(srv, c["id"])["issued"]
        answered = "r" in box and box["r"].status == 200
        assert got in (0, n), "attempt %d: %d of %d codes after kill -9 during import" % (attempt, got, n)
        assert issued == got, "stats issued %d vs %d codes" % (issued, got)
        if answered:
            assert got == n, "the import answered 200 but its codes are gone after kill -9"
        results.append((got, answered))


def test_a_second_server_on_the_same_sqlite_file_is_refused(srv):
    """One server per SQLite file: a second `promo serve` on a file in use
    exits at once naming the problem (the token cache and the single
    writer rely on it), and starts once the first has stopped."""
    if harness.on_pg():
        return  # several servers share a PostgreSQL database by design: test_two_servers
    code = add_code(srv, create_campaign(srv)["id"])["code"]
    second = harness.Server(db=srv.db, token=srv.token)
    second.bootstrap = False
    try:
        second.start(timeout=10)
        raise AssertionError("a second server started on %s while the first runs" % srv.db)
    except RuntimeError as e:
        assert "in use by another promo server" in str(e), str(e)
    assert get_code(srv, code)["uses"] == 0, "the first server must be untouched"
    srv.stop()
    second.start()
    try:
        assert get_code(second, code)["code"] == code
    finally:
        second.stop()
        srv.start()


def test_migration_010_keeps_usage_and_orders(srv):
    """Migration 010 rebuilds customer_usage and customer_orders keyed by
    their primary key. A database from before it (rowid tables, version 10
    not applied) keeps every row: the per-customer limit still counts the
    earlier use, and the customer's orders are all there."""
    if harness.on_pg():
        return  # 010_keyed_usage is SQLite's
    import sqlite3
    s = harness.Server()
    s.start()
    try:
        c = create_campaign(s, limits={"per_customer": 1})
        a = add_code(s, c["id"], max_uses=None)["code"]
        for i in range(3):
            expect(s.request("POST", "/v1/redemptions", use_body(a, 10000, oid="mig-o%d" % i,
                                                                 customer_id="mig-%d" % i)), 201)
        s.stop()
        db = sqlite3.connect(s.db)
        usage = sorted(db.execute("SELECT * FROM customer_usage").fetchall())
        orders = sorted(db.execute("SELECT * FROM customer_orders").fetchall())
        assert len(usage) == 3 and len(orders) == 3, (usage, orders)
        db.executescript("""
            BEGIN;
            DROP TABLE customer_usage;
            CREATE TABLE customer_usage (campaign_id TEXT NOT NULL, customer_id TEXT NOT NULL,
                uses BIGINT NOT NULL DEFAULT 0, held BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (campaign_id, customer_id));
            DROP TABLE customer_orders;
            CREATE TABLE customer_orders (customer_id TEXT NOT NULL, order_id TEXT NOT NULL,
                amount BIGINT NOT NULL, at BIGINT NOT NULL, source TEXT NOT NULL,
                PRIMARY KEY (customer_id, order_id));
            DELETE FROM schema_migrations WHERE version = 10;
            COMMIT;""")
        db.executemany("INSERT INTO customer_usage VALUES (?,?,?,?)", usage)
        db.executemany("INSERT INTO customer_orders VALUES (?,?,?,?,?)", orders)
        db.commit()
        db.close()
        s.start()  # applies 010 again, to rowid tables holding the rows
        invalid = expect(s.request("POST", "/v1/validate", use_body(a, 10000, customer_id="mig-1")), 200)
        assert invalid.get("reason") == "customer_limit_reached", invalid
        s.stop()
        db = sqlite3.connect(s.db)
        try:
            for t in ("customer_usage", "customer_orders"):
                sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (t,)).fetchone()[0]
                assert "WITHOUT ROWID" in sql, sql
            assert sorted(db.execute("SELECT * FROM customer_usage").fetchall()) == usage
            assert sorted(db.execute("SELECT * FROM customer_orders").fetchall()) == orders
            assert db.execute("SELECT count(*) FROM schema_migrations WHERE version = 10").fetchone()[0] == 1
        finally:
            db.close()
    finally:
        if s.alive():
            s.stop()
