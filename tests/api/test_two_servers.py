"""Every race of test_concurrency.py again, with two promo servers on one
PostgreSQL database and the racing clients spread over both (PostgreSQL
only: there correctness must come from the database, not from a process;
the SQLite store is one process by design, so on SQLite this module has no
tests). Also: two servers starting at once on a fresh database migrate it
once; the outbox's messages are delivered exactly once with both
servers' delivery workers claiming from one table."""

import json
import threading
import time

import harness
import test_concurrency
import test_delivery


def setup(srv):
    twin = harness.Server(db=srv.db, token=srv.token, config=srv.config)
    twin.start()
    srv.peers = [twin]


def _twice(fn):
    def test(srv):
        assert getattr(srv, "peers", None), "the second server is not running"
        for p in srv.peers:
            if not p.alive():
                p.start()
        fn(srv)
    test.timeout = getattr(fn, "timeout", 120)
    test.__name__ = fn.__name__ + "_on_two_servers"
    return test


def test_two_servers_starting_at_once_migrate_once(srv):
    db = harness.pg_fresh_db()
    pair = [harness.Server(db=db) for _ in range(2)]
    errors = []

    def start(s):
        try:
            s.start()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        rows = harness.db_query(pair[0], "SELECT version FROM schema_migrations ORDER BY version")
        versions = [int(r[0]) for r in rows]
        assert versions == sorted(set(versions)) and versions, versions
        applied = sum(s.stderr_all().count("applied migration") for s in pair)
        assert applied == len(versions), "migrations applied %d times for %d versions" % (applied, len(versions))
    finally:
        for s in pair:
            s.stop()


def _shards(srv, cid):
    return [tuple(int(v) if v != "" else None for v in r) for r in harness.db_query(
        srv, "SELECT shard, redeemed + held, quota_uses FROM campaign_shards WHERE campaign_id = '%s'"
             " ORDER BY shard" % cid)]


@harness.timeout(180)
def test_campaign_limit_is_sliced_over_the_shards_and_held_exactly(srv):
    """The design of docs/scaling.md, seen in the table: the slices of a
    limit add up to it, each shard stays within its slice, and 300 racers
    over both servers get exactly max_redemptions."""
    c = harness.create_campaign(srv, limits={"max_redemptions": 100})
    shards = _shards(srv, c["id"])
    assert len(shards) > 1 and sum(q for _, _, q in shards) == 100, shards
    codes = [harness.uniq("SL") for _ in range(300)]
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"], raw="\n".join(codes).encode(),
                    headers={"Content-Type": "text/csv"})
    assert harness.expect(r, 200)["imported"] == 300
    res = harness.race_requests(srv, 300, lambda i: ("POST", "/v1/redemptions",
                                                     harness.use_body(codes[i], 10000, oid="sl-%d" % i), None))
    assert sum(1 for x in res if x.status == 201) == 100, harness.count_status(res)
    shards = _shards(srv, c["id"])
    assert sum(u for _, u, _ in shards) == 100, shards
    assert sum(q for _, _, q in shards) <= 100, shards
    assert all(u <= q for _, u, q in shards), shards
    assert harness.stats(srv, c["id"])["redeemed"] == 100


def test_a_guest_finding_no_shard_with_room_is_redeemed_step_by_step(srv):
    """A guest checkout's writes are one statement (SQL_REDEEM_GUEST); when
    no shard has a slice left although the campaign has room (slices used
    up on the other server, say), the statement raises PR001 through
    promo_no_room() and the use is retried step by step, which re-slices
    the limit: the redemption is stored once, counted once, and its
    Idempotency-Key replays it."""
    c = harness.create_campaign(srv, limits={"max_redemptions": 10})
    code = harness.add_code(srv, c["id"], harness.uniq("NR"), max_uses=5)["code"]
    harness.db_exec(srv, "UPDATE campaign_shards SET quota_uses = 0 WHERE campaign_id = ?", (c["id"],))
    assert sum(q for _, _, q in _shards(srv, c["id"])) == 0
    body = harness.use_body(code, 10000, oid="nr-1")
    r = harness.expect(srv.post("/v1/redemptions", body, headers={"Idempotency-Key": "nr-key-1"}), 201)
    shards = _shards(srv, c["id"])
    assert sum(u for _, u, _ in shards) == 1, shards
    assert 1 <= sum(q for _, _, q in shards) <= 10, shards  # re-sliced by the step-by-step path
    assert all(u <= q for _, u, q in shards), shards
    again = srv.post("/v1/redemptions", body, headers={"Idempotency-Key": "nr-key-1"})
    assert harness.expect(again, 201)["id"] == r["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    rows = harness.db_query(srv, "SELECT count(*) FROM redemptions WHERE campaign_id = '%s'" % c["id"])
    assert int(rows[0][0]) == 1
    assert int(harness.db_query(srv, "SELECT uses FROM codes WHERE code = '%s'" % code)[0][0]) == 1
    assert harness.stats(srv, c["id"])["redeemed"] == 1


@harness.timeout(60)
def test_each_task_runs_once_with_two_schedulers(srv):
    """Both servers' schedulers see the same due tasks; the claim (FOR
    UPDATE SKIP LOCKED, done in the effect's transaction) lets one run each."""
    for p in srv.peers:
        if not p.alive():
            p.start()
    now = int(time.time())
    ids = set()
    for i in range(20):
        c = harness.create_campaign(srv, starts_at=harness.rfc3339(now + 3), ends_at=harness.rfc3339(now + 4))
        ids.add(c["id"])

    def transitions():
        got = {}
        for kind in ("campaign_started", "campaign_ended"):
            j = harness.expect(srv.get("/v1/events?type=%s&limit=1000" % kind), 200)["data"]
            got[kind] = [e["campaign_id"] for e in j if e["campaign_id"] in ids]
        return got if all(len(set(v)) == len(ids) for v in got.values()) else None
    assert harness.poll(transitions, timeout=30), "not every campaign started and ended"
    time.sleep(2.5)  # both schedulers polled the due tasks again (each at least once a second)
    got = transitions()
    for kind, v in got.items():
        assert sorted(v) == sorted(ids), "%s logged more than once for some campaign: %d events" % (kind, len(v))


def test_one_customers_redemptions_on_two_servers_all_count(srv):
    """Concurrent redemptions by one customer, spread over both servers:
    each order lands in the customer's facts (none lost to a race between
    the transactions recomputing them)."""
    for p in srv.peers:
        if not p.alive():
            p.start()
    # One campaign per code: nothing of the campaign's (its customer usage
    # row) makes the redemptions wait for each other.
    codes = [harness.add_code(srv, harness.create_campaign(srv)["id"])["code"] for _ in range(24)]
    cust = harness.uniq("cust-")
    servers = [srv] + srv.peers
    answers = []

    def one(i):
        r = harness.redeem(servers[i % 2], codes[i], amount=10000, oid="o-%d" % i, customer_id=cust)
        answers.append(r.status)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(codes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [201] * len(codes), answers
    facts = harness.expect(srv.get("/v1/customers/" + cust), 200)["facts"]
    assert facts["order_count"] == len(codes), facts
    assert facts["total_spent"] == len(codes) * (10000 - 1000), facts


def _delivery_pair(poll_a, poll_b):
    """Two servers on a fresh database, each with 4 delivery workers polling
    every poll_a / poll_b ms, and the webhook receiver of test_delivery."""
    if not test_delivery.RECEIVER:
        test_delivery.start_receiver()
    db = harness.pg_fresh_db()
    cfg = harness.RELAXED_CONFIG + "[delivery]\nworkers = 4\npoll_ms = %d\nmax_attempts = 3\n"
    a = harness.Server(db=db, config=cfg % poll_a)
    a.start()
    b = harness.Server(db=db, token=a.token, config=cfg % poll_b)
    b.start()
    return a, b


def _redeem_with_webhook(servers, n):
    """A webhook on `redeemed` and n redemptions spread over the servers;
    returns the webhook's URL and the ids of the n `redeemed` events."""
    a = servers[0]
    u = test_delivery.url("ok")
    harness.expect(a.post("/v1/webhooks", {"url": u, "event_types": ["redeemed"]}), 201)
    cid = harness.create_campaign(a)["id"]
    codes = [harness.add_code(a, cid)["code"] for _ in range(n)]
    for i, code in enumerate(codes):
        harness.expect(servers[i % len(servers)].post("/v1/redemptions", harness.use_body(code, oid="dl-%d" % i)), 201)
    evs = harness.expect(a.get("/v1/events?type=redeemed&limit=1000"), 200)["data"]
    return u, {e["id"] for e in evs}


def _delivered_ids(u):
    return [json.loads(r["body"])["id"] for r in test_delivery.received(u) if r["status"] == 200]


@harness.timeout(60)
def test_each_message_is_delivered_once_with_two_servers_delivery_workers(srv):
    """Eight workers on two servers poll every 20 ms and race for the same
    due rows: the claim (FOR UPDATE SKIP LOCKED, then a lease) gives each
    message to one of them, so every event reaches the receiver once."""
    a, b = _delivery_pair(20, 20)
    try:
        u, ids = _redeem_with_webhook([a, b], 40)
        assert len(ids) == 40, len(ids)
        assert harness.poll(lambda: set(_delivered_ids(u)) == ids, timeout=20), \
            "not every event was delivered: %d of 40" % len(set(_delivered_ids(u)))
        time.sleep(1.0)  # both servers' workers polled again many times
        got = _delivered_ids(u)
        assert sorted(got) == sorted(ids), "%d deliveries for %d events" % (len(got), len(ids))
        msgs = test_delivery.messages_of(a, event_type="redeemed")
        assert len(msgs) == 40 and all(m["state"] == "sent" and m["attempts"] == 1 for m in msgs), msgs[:3]
    finally:
        a.stop()
        b.stop()


@harness.timeout(60)
def test_a_message_queued_on_one_server_is_delivered_by_the_other(srv):
    """Server A's workers sleep a minute between polls (nothing was due
    when they started); messages A queues are sent by B's workers, once."""
    a, b = _delivery_pair(60000, 20)
    try:
        u, ids = _redeem_with_webhook([a], 10)
        assert harness.poll(lambda: set(_delivered_ids(u)) == ids, timeout=20), \
            "B did not deliver A's messages: %d of 10" % len(set(_delivered_ids(u)))
        time.sleep(0.5)
        assert sorted(_delivered_ids(u)) == sorted(ids)
    finally:
        a.stop()
        b.stop()


def _metric(srv, name):
    for line in srv.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


def _cached_reader_token(srv, twin):
    """A fresh viewer token that the twin has used (so has cached) a few
    times, with the cache on: its secret."""
    assert harness.poll(lambda: _metric(twin, "promo_token_cache_on") == 1, timeout=10), "twin's cache is off"
    t = srv.post("/v1/tokens", {"role": "viewer", "name": "cached"}).json
    hits = _metric(twin, "promo_token_cache_hits_total")
    for _ in range(3):
        assert twin.get("/v1/campaigns", token=t["secret"]).status == 200
    assert _metric(twin, "promo_token_cache_hits_total") >= hits + 2, "the twin did not cache the token"
    return t


def _refused_within(twin, secret, seconds):
    """Seconds until the twin refuses the secret (polling), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if twin.get("/v1/campaigns", token=secret).status == 401:
            return time.monotonic() - t0
        time.sleep(0.005)
    return None


@_twice
def test_a_token_revoked_on_one_server_is_refused_by_the_other_at_once(srv):
    twin = srv.peers[0]
    t = _cached_reader_token(srv, twin)
    expect = srv.request("DELETE", "/v1/tokens/" + t["id"])
    assert expect.status == 200, expect
    took = _refused_within(twin, t["secret"], 2.0)
    assert took is not None and took < 1.0, "the twin still took the revoked token (%r s)" % took


@_twice
def test_a_token_revoked_in_sql_is_refused_by_every_server(srv):
    """An operator's UPDATE, not promo's API: the trigger of migration 012
    announces it."""
    twin = srv.peers[0]
    t = _cached_reader_token(srv, twin)
    harness.db_exec(srv, "UPDATE tokens SET revoked_at = 1 WHERE id = ?", (t["id"],))
    for s in (srv, twin):
        took = _refused_within(s, t["secret"], 2.0)
        assert took is not None and took < 1.0, "a server still took the revoked token (%r s)" % took


@_twice
def test_a_revoke_while_the_listener_is_away_is_not_missed(srv):
    """The twin's listener connection is killed, and the token revoked
    before it can listen again: the notice is lost, so the cache must be
    off until the listener is back, and empty then."""
    twin = srv.peers[0]
    t = _cached_reader_token(srv, twin)
    connects = twin.stderr_all().count("token listener listening")
    harness.db_exec(srv, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE application_name = 'promo-listener'")
    harness.db_exec(srv, "UPDATE tokens SET revoked_at = 1 WHERE id = ?", (t["id"],))
    # Well before the listener reconnects (it waits a second first).
    took = _refused_within(twin, t["secret"], 2.0)
    assert took is not None and took < 0.6, "the twin still took the revoked token (%r s)" % took
    # The listener comes back and the cache with it.
    assert harness.poll(lambda: _metric(twin, "promo_token_cache_on") == 1, timeout=10), "the listener stayed away"
    assert twin.stderr_all().count("token listener listening") > connects, "the listener did not reconnect"


def _redeem_for(srv, code, cid):
    from harness import redeem
    r = redeem(srv, code, 20000, customer_id=cid, oid="o-" + secrets_hex())
    assert r.status == 201, r
    return srv.get("/v1/customers/" + cid).json["computed_segments"]


def secrets_hex():
    import secrets
    return secrets.token_hex(6)


def _segment_cached_on(srv, twin):
    """A code, and a new segment 'big' (order_count >= 1000) that the twin
    has evaluated (so cached) in a redemption."""
    from harness import add_code, create_campaign
    assert harness.poll(lambda: _metric(twin, "promo_token_cache_on") == 1, timeout=10), "twin's caches are off"
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=None)["code"]
    name = "big" + secrets_hex()
    rule = {"all": [{"fact": "order_count", "op": ">=", "value": 1000}]}
    assert srv.request("PUT", "/v1/segments/" + name, {"rule": rule}).status in (200, 201)
    cid = "seg-" + secrets_hex()
    assert name not in _redeem_for(twin, code, cid)
    return code, name, cid


@_twice
def test_a_segment_changed_on_one_server_is_followed_by_the_other_at_once(srv):
    twin = srv.peers[0]
    code, name, cid = _segment_cached_on(srv, twin)
    rule = {"all": [{"fact": "order_count", "op": ">=", "value": 1}]}
    assert srv.request("PUT", "/v1/segments/" + name, {"rule": rule}).status == 200
    # The twin's next redemption for the customer evaluates the new rule.
    assert name in _redeem_for(twin, code, cid)


@_twice
def test_a_segment_changed_in_sql_is_followed_by_every_server(srv):
    twin = srv.peers[0]
    code, name, cid = _segment_cached_on(srv, twin)
    harness.db_exec(srv, "UPDATE segments SET rule = ? WHERE name = ?",
                    ('{"all":[{"fact":"order_count","op":">=","value":1}]}', name))
    time.sleep(0.2)  # the notice's way to the listener
    assert name in _redeem_for(twin, code, cid)


def test_cache_off_reads_every_token_and_rule(srv):
    """?cache=off (for a pooler in transaction mode, where LISTEN cannot
    work): no listener, nothing cached, and a revoke in SQL is seen by the
    very next call; a value other than on/off stops the start."""
    sep = "&" if "?" in srv.db else "?"
    bare = harness.Server(db=srv.db + sep + "cache=off", token=srv.token, config=srv.config).start()
    try:
        t = srv.post("/v1/tokens", {"role": "viewer", "name": "uncached"}).json
        for _ in range(3):
            assert bare.get("/v1/campaigns", token=t["secret"]).status == 200
        assert _metric(bare, "promo_token_cache_on") == 0
        assert _metric(bare, "promo_token_cache_hits_total") == 0
        harness.db_exec(srv, "UPDATE tokens SET revoked_at = 1 WHERE id = ?", (t["id"],))
        assert bare.get("/v1/campaigns", token=t["secret"]).status == 401
        assert "cache=off" in bare.stderr_all()
    finally:
        bare.stop()
    bad = harness.Server(db=srv.db + sep + "cache=maybe", token=srv.token, config=srv.config)
    try:
        bad.start()
        started = True
    except RuntimeError as e:
        started = False
        assert "cache on or off" in str(e), e
    finally:
        bad.stop()
    assert not started, "a server started with cache=maybe"


if harness.on_pg():
    for _name, _fn in list(vars(test_concurrency).items()):
        if _name.startswith("test_") and callable(_fn):
            globals()[_name + "_on_two_servers"] = _twice(_fn)
else:
    # SQLite: one server per file by design, so none of these tests apply
    for _name in [n for n in vars() if n.startswith("test_")]:
        del globals()[_name]
