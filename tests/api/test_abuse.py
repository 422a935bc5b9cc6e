"""Abuse protection: the configuration file, rate limits (per client IP,
token, storefront token and IP, customer) answering 429 with Retry-After,
and brute-force detection (unknown codes per IP, token and customer block
the key, log `abuse_detected` once and never slow other clients)."""

import os
import re
import signal
import subprocess
import time

import harness
from abuse_util import (config, make_token, metrics, rss_kb, start_server, tmpfile,
                        validate_body, wait_audit, xff)
from harness import add_code, create_campaign, expect, expect_error, uniq

HERE = os.path.dirname(os.path.abspath(__file__))


def valid_code(srv):
    """An unlimited code of a fresh campaign: validates as valid for ever."""
    return add_code(srv, create_campaign(srv)["id"], uniq("OK"), max_uses=None)["code"]


def retry_after(r):
    v = r.headers.get("retry-after")
    assert v is not None and v.isdigit() and int(v) >= 1, "429 without a whole Retry-After >= 1: %r" % r.headers
    return int(v)


def limited(r, what=""):
    expect_error(r, 429, "rate_limited", what=what)
    return retry_after(r)


def prepared(cfg, *roles):
    """A server on `cfg` holding a token of each role and a valid code, made
    before `cfg` applies (on the suite's relaxed config, then a restart), so
    that setting up never spends what the test measures. Returns
    (server, [secrets], code)."""
    s = start_server(config())
    try:
        tokens = [make_token(s, role) for role in roles]
        code = valid_code(s)
        s.config = cfg
        s.restart()
    except BaseException:
        s.stop()
        raise
    return s, tokens, code


def stopping(*servers):
    for s in servers:
        s.stop()


# ---- the configuration file --------------------------------------------------------------

def serve(args, env=None, timeout=15):
    """Runs `promo serve` expected to refuse to start: (exit code, stderr)."""
    e = dict(os.environ, PROMO_BOOTSTRAP_TOKEN="t" + "0" * 30)
    for k in ("PROMO_CONFIG", "PROMO_DB", "PROMO_LISTEN"):
        e.pop(k, None)
    e.update(env or {})
    try:
        p = subprocess.run([harness.promo_bin(), "serve"] + args, env=e, capture_output=True,
                           timeout=timeout * harness.time_scale())
    except subprocess.TimeoutExpired:
        raise AssertionError("promo serve %s started instead of refusing" % " ".join(args))
    return p.returncode, p.stderr.decode("utf-8", "replace")


def test_a_bad_config_file_refuses_to_start_naming_file_line_and_key(srv):
    cases = [("[limits]\nper_ip_burst = 5\nper_ip_burts = 5\n", ":3: unknown key 'per_ip_burts' in [limits]"),
             ("# promo\n[bruteforce]\nfailures = many\n",
              ":3: [bruteforce] failures must be a whole number from 0 to 65535, not 'many'"),
             ("[proxy]\ntrust_forwarded_for = maybe\n", ":2: [proxy] trust_forwarded_for must be true or false"),
             ("[limitz]\nper_ip_burst = 1\n", ":2: unknown section [limitz]"),
             ("[limits]\nper_ip_burst = 5\nper_ip_burst = 6\n", ":3: [limits] per_ip_burst is set twice")]
    for i, (text, msg) in enumerate(cases):
        path = tmpfile(srv, "bad%d.ini" % i, text)
        db = os.path.join(srv.tmp, "bad%d.db" % i)
        listen = "127.0.0.1:%d" % harness.free_port()
        code, err = serve(["--config", path, "--db", db, "--listen", listen])
        assert code == 2 and path + msg in err, "config %r: exit %s, stderr %r (want %r)" % (text, code, err, msg)
        assert not os.path.exists(db), "the server opened its store despite a bad config"
        code, err = serve(["--db", db, "--listen", listen], env={"PROMO_CONFIG": path})
        assert code == 2 and path + msg in err, "PROMO_CONFIG %r: exit %s, stderr %r" % (text, code, err)
    missing = os.path.join(srv.tmp, "missing.ini")
    code, err = serve(["--config", missing, "--db", os.path.join(srv.tmp, "m.db")])
    assert code == 2 and missing in err and "cannot open" in err, (code, err)


def test_server_section_gives_db_and_listen_and_flags_win(srv):
    port, other = harness.free_port(), harness.free_port()
    db = os.path.join(srv.tmp, "fromfile.db")
    path = tmpfile(srv, "server.ini", config(server={"db": db, "listen": "127.0.0.1:%d" % port}))
    for args, want_port, want_db in ([], port, db), (["--listen", "127.0.0.1:%d" % other], other, db):
        s = harness.Server(config="")
        s.port = want_port
        e = dict(os.environ, PROMO_BOOTSTRAP_TOKEN=s.token)
        for k in ("PROMO_CONFIG", "PROMO_DB", "PROMO_LISTEN"):
            e.pop(k, None)
        p = subprocess.Popen([harness.promo_bin(), "serve", "--config", path] + args, env=e, cwd=srv.tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert harness.poll(s.healthy, timeout=15), "no server on port %d (args %r)" % (want_port, args)
            assert os.path.exists(want_db), "the store is not the file's [server] db"
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(30)


# ---- rate limits -------------------------------------------------------------------------

def test_ip_limit_answers_429_with_retry_after_then_recovers(srv):
    s = start_server(config(limits={"per_ip_per_second": 2, "per_ip_burst": 4}, proxy={"trust_forwarded_for": True}))
    try:
        a, b = "198.51.100.1", "198.51.100.2"
        got = [s.get("/v1/campaigns", headers=xff(a)) for _ in range(7)]
        assert [r.status for r in got[:4]] == [200] * 4, got
        assert all(r.status == 429 for r in got[4:]), [r.status for r in got]
        wait = limited(got[-1])
        assert wait == 1, "2 per second: the next one is at most 0.5 s away, Retry-After %d" % wait
        limited(s.get("/healthz", token=None, headers=xff(a)), "a public route is limited by IP too")
        expect(s.get("/v1/campaigns", headers=xff(b)), 200)
        time.sleep(wait)
        expect(s.get("/v1/campaigns", headers=xff(a)), 200, "after Retry-After")
        rows = wait_audit(s, lambda x: x["ip"] == a, "for the 429", status=429)
        assert {x["reason"] for x in rows if x["ip"] == a} == {"rate limit: ip"}, rows
        assert metrics(s)["promo_rate_limited_total"] >= 4
    finally:
        stopping(s)


def test_token_limit_is_per_token(srv):
    s, (other, auditor), code = prepared(config(limits={"per_token_per_second": 1, "per_token_burst": 3}),
                                         "integration", "admin")
    try:
        for _ in range(3):
            expect(s.get("/v1/campaigns"), 200)
        wait = limited(s.get("/v1/campaigns"), "the 4th call of the admin token")
        assert wait == 1
        expect(s.post("/v1/validate", validate_body(code), token=other), 200, "another token is not limited")
        expect(s.get("/healthz", token=None), 200, "a public route is not limited by token")
        rows = wait_audit(s, lambda x: x["reason"] == "rate limit: token", "for the token's 429", status=429,
                          token=auditor)
        assert rows[-1]["token_id"] and rows[-1]["role"] == "admin", rows[-1]
        time.sleep(wait)
        expect(s.get("/v1/campaigns"), 200, "after Retry-After")
    finally:
        stopping(s)


def test_storefront_tokens_get_a_stricter_limit_per_client_ip(srv):
    s, (sf, integ), code = prepared(config(limits={"per_token_per_second": 100, "per_token_burst": 100,
                                                   "storefront_per_second": 0.5, "storefront_burst": 2},
                                           proxy={"trust_forwarded_for": True}), "storefront", "integration")
    try:
        a, b = "203.0.113.1", "203.0.113.2"
        for _ in range(2):
            expect(s.post("/v1/validate", validate_body(code), token=sf, headers=xff(a)), 200)
        wait = limited(s.post("/v1/validate", validate_body(code), token=sf, headers=xff(a)), "storefront, 3rd")
        assert wait == 2, "0.5 per second: Retry-After 2, not %d" % wait
        expect(s.post("/v1/validate", validate_body(code), token=sf, headers=xff(b)), 200, "another shopper")
        for _ in range(5):
            expect(s.post("/v1/validate", validate_body(code), token=integ, headers=xff(a)), 200, "integration")
        rows = wait_audit(s, lambda x: x["reason"] == "rate limit: storefront", "for the storefront 429")
        x = [x for x in rows if x["reason"] == "rate limit: storefront"]
        assert len(x) == 1 and x[0]["role"] == "storefront" and x[0]["ip"] == a, x
    finally:
        stopping(s)


def test_customer_limit_covers_validate_redeem_and_reserve(srv):
    s, _, code = prepared(config(limits={"per_customer_per_second": 1, "per_customer_burst": 2}))
    try:
        expect(s.post("/v1/validate", validate_body(code, customer="u1")), 200)
        expect(s.post("/v1/redemptions", validate_body(code, customer="u1", order_id=uniq("o"))), 201)
        limited(s.post("/v1/reservations", validate_body(code, customer="u1", order_id=uniq("o"))), "u1, 3rd")
        limited(s.post("/v1/validate", validate_body(code, customer="u1")), "u1, 4th")
        expect(s.post("/v1/validate", validate_body(code, customer="u2")), 200, "another customer")
        expect(s.post("/v1/validate", validate_body(code)), 200, "no customer")
        wait_audit(s, lambda x: x["reason"] == "rate limit: customer", "for the customer's 429")
        time.sleep(1)
        expect(s.post("/v1/validate", validate_body(code, customer="u1")), 200, "after Retry-After")
    finally:
        stopping(s)


# ---- brute force ---------------------------------------------------------------------------

def abuse_events(s):
    r = expect(s.get("/v1/events?type=abuse_detected&limit=1000"), 200)
    return r["data"]


def test_unknown_codes_block_the_ip_and_token_once_then_the_block_ends(srv):
    s, (guesser, bystander), code = prepared(config(bruteforce={"failures": 5, "window_seconds": 60, "block_seconds": 3},
                                                    proxy={"trust_forwarded_for": True}), "integration", "integration")
    try:
        a, b = "192.0.2.10", "192.0.2.20"
        before = metrics(s)["promo_validations_total"]
        for guess in ["NOPE" + uniq("", 8) for _ in range(3)] + ["!!bad!!"]:
            r = expect(s.post("/v1/validate", validate_body(guess), token=guesser, headers=xff(a)), 200)
            assert r["valid"] is False and r["reason"] in ("code_not_found", "invalid_format"), r
        refusal = s.post("/v1/redemptions", validate_body("NOPE" + uniq("", 8), order_id="o1"), token=guesser,
                         headers=xff(a))
        expect_error(refusal, 422, "code_not_found", what="the 5th failure is still answered")
        wait = limited(s.post("/v1/validate", validate_body(code), token=guesser, headers=xff(a)), "blocked IP")
        assert 1 <= wait <= 3, wait
        limited(s.post("/v1/reservations", validate_body(code, order_id="o2"), token=bystander, headers=xff(a)),
                "the IP is blocked whatever the token")
        limited(s.post("/v1/validate", validate_body(code), token=guesser, headers=xff(b)),
                "the token is blocked from any IP")
        expect_error(s.post("/v1/redemptions/rdm_none/rollback", {}, token=guesser, headers=xff(a)), 404,
                     what="only validate/redeem/reserve are blocked")
        r = expect(s.post("/v1/validate", validate_body(code), token=bystander, headers=xff(b)), 200, "bystander")
        assert r["valid"] is True
        assert metrics(s)["promo_validations_total"] - before == 5, "blocked calls must not reach validation"
        for _ in range(10):
            s.post("/v1/validate", validate_body("NOPE" + uniq("", 8)), token=guesser, headers=xff(a))
        events = harness.poll(lambda: len(abuse_events(s)) >= 2 and abuse_events(s), timeout=5)
        subjects = sorted(e["subject_id"].split(":", 1)[0] for e in events)
        assert subjects == ["ip", "token"], "one event per blocked key, once: %r" % events
        ip_event = [e for e in events if e["subject_id"] == "ip:" + a]
        assert ip_event and ip_event[0]["reason"] == "bruteforce" and ip_event[0]["data"]["failures"] == 5, events
        rows = wait_audit(s, lambda x: (x["reason"] or "").startswith("abuse_detected"), "for the block")
        assert len([x for x in rows if (x["reason"] or "").startswith("abuse_detected")]) == 2, rows
        assert metrics(s)["promo_bruteforce_blocks_total"] == 2
        time.sleep(wait + 0.2)
        r = expect(s.post("/v1/validate", validate_body(code), token=guesser, headers=xff(a)), 200, "block over")
        assert r["valid"] is True
    finally:
        stopping(s)


def test_failures_count_per_token_and_per_customer_across_ips(srv):
    s = start_server(config(bruteforce={"failures": 4, "window_seconds": 60, "block_seconds": 60},
                            proxy={"trust_forwarded_for": True}))
    try:
        code = valid_code(s)
        spread = make_token(s, "integration")
        calls = [("/v1/validate", None), ("/v1/redemptions", "o1"), ("/v1/reservations", "o2"), ("/v1/validate", None)]
        for i, (path, oid) in enumerate(calls):
            s.post(path, validate_body("NOPE" + uniq("", 8), order_id=oid), token=spread, headers=xff("10.1.0.%d" % i))
        limited(s.post("/v1/validate", validate_body(code), token=spread, headers=xff("10.1.0.99")),
                "one token, failures from 4 IPs")
        for i in range(4):
            t = make_token(s, "integration")
            s.post("/v1/validate", validate_body("NOPE" + uniq("", 8), customer="victim"), token=t,
                   headers=xff("10.2.0.%d" % i))
        fresh = make_token(s, "integration")
        limited(s.post("/v1/validate", validate_body(code, customer="victim"), token=fresh, headers=xff("10.2.0.99")),
                "one customer, failures from 4 IPs and tokens")
        r = expect(s.post("/v1/validate", validate_body(code, customer="other"), token=fresh,
                          headers=xff("10.2.0.99")), 200)
        assert r["valid"] is True
        events = harness.poll(lambda: len(abuse_events(s)) >= 2 and abuse_events(s), timeout=5)
        assert sorted(e["subject_id"].split(":")[0] for e in events) == ["customer", "token"], events
        assert [e["customer_id"] for e in events if e["subject_id"] == "customer:victim"] == ["victim"]
    finally:
        stopping(s)


def test_a_storefront_token_is_blocked_per_client_ip_not_everywhere(srv):
    s = start_server(config(bruteforce={"failures": 3, "window_seconds": 60, "block_seconds": 60},
                            proxy={"trust_forwarded_for": True}))
    try:
        sf = make_token(s, "storefront")
        code = valid_code(s)
        for _ in range(3):
            s.post("/v1/validate", validate_body("NOPE" + uniq("", 8)), token=sf, headers=xff("10.3.0.1"))
        limited(s.post("/v1/validate", validate_body(code), token=sf, headers=xff("10.3.0.1")), "the guesser")
        expect(s.post("/v1/validate", validate_body(code), token=sf, headers=xff("10.3.0.2")), 200,
               "another shopper on the same public storefront token")
    finally:
        stopping(s)


# ---- under load --------------------------------------------------------------------------------

def wrk(srv, script, args, threads=1, connections=8, seconds=120, nice=0):
    cmd = ["nice", "-n", str(nice), "wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
           "--timeout", "10s", "-s", os.path.join(HERE, script), "http://%s:%d" % (srv.host, srv.port), "--"] + list(args)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def build_redeemer(srv):
    """Compiles redeemer.c (libcurl) into the server's scratch folder."""
    exe = os.path.join(srv.tmp, "redeemer")
    p = subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "redeemer.c"), "-lcurl", "-pthread"],
                       capture_output=True)
    assert p.returncode == 0, "cannot build redeemer.c: %s" % p.stderr.decode()
    return exe


def redeemer(exe, srv, token, code, seconds, threads=2):
    """Starts the C client redeeming from 127.0.0.2; result() waits for it."""
    return subprocess.Popen([exe, "http://%s:%d/v1/redemptions" % (srv.host, srv.port), token, code, "127.0.0.2",
                             str(threads), str(seconds)], stdout=subprocess.PIPE)


def redeemer_result(p):
    """(redemptions per second, answers other than 201)."""
    out = p.communicate(timeout=120)[0].decode()
    found = re.search(r"REDEEM_RESULT (\d+) (\d+) ([\d.]+)", out)
    assert found, "no REDEEM_RESULT: %r" % out
    return int(found.group(1)) / float(found.group(3)), int(found.group(2))


GUESS_PAUSE_MS = 4


def attack(s, exe, guesser, redeemer_token, code, total, connections):
    """Measures the redeemer alone for 8 s, then during `total` guesses.
    Returns what the test checks and prints."""
    redeemer_result(redeemer(exe, s, redeemer_token, code, 1))  # warm up: connections, page cache
    # this disk's fsync makes the rate swing by 2x from one second to the next: average over 8 s
    before, refused = redeemer_result(redeemer(exe, s, redeemer_token, code, 8))
    assert refused == 0 and before > 0, (before, refused)
    m0 = metrics(s)
    w = wrk(s, "guess.lua", [guesser, str(GUESS_PAUSE_MS)], threads=2, connections=connections, seconds=600, nice=19)
    r = redeemer(exe, s, redeemer_token, code, 600)
    t1, answered = time.monotonic(), 0
    try:
        while answered < total:
            assert w.poll() is None and r.poll() is None, "a client ended early"
            time.sleep(0.05)
            m = metrics(s)
            answered = (m["promo_validations_total"] - m0["promo_validations_total"] +
                        m["promo_rate_limited_total"] - m0["promo_rate_limited_total"])
    finally:
        r.send_signal(signal.SIGINT)
        w.send_signal(signal.SIGINT)
    t2 = time.monotonic()
    during, refused = redeemer_result(r)
    out = w.communicate(timeout=60)[0].decode()
    found = re.search(r"GUESS_RESULT (\d+) (\d+) (\d+)", out)
    assert found, "no GUESS_RESULT from wrk:\n" + out
    n429, n200, nother = (int(x) for x in found.groups())
    reached = metrics(s)["promo_validations_total"] - m0["promo_validations_total"]
    return dict(n429=n429, n200=n200, nother=nother, sent=n429 + n200 + nother, secs=t2 - t1, before=before,
                during=during, refused=refused, reached=reached, out=out)


@harness.timeout(600)
def test_100k_guesses_are_throttled_and_never_slow_other_clients(srv):
    """One IP sends 100,000 random codes to /v1/validate over 16 keep-alive
    connections on 2 threads (wrk, guess.lua) while another client, bound
    to 127.0.0.2 (redeemer.c: libcurl, 2 keep-alive connections), keeps
    redeeming a valid code: past the threshold virtually every guess gets
    429 without reaching the store, and the redeemer keeps at least ~70% of
    the rate it had just before the attack, measured in this test.

    The test machine also runs both clients. So the guesser runs at the
    lowest CPU priority (as if it were on another machine) and each of its
    connections pauses GUESS_PAUSE_MS between requests (~3,000 guesses a
    second, 100,000 in ~35 s, as fast as a Python client would go): unpaced,
    wrk and the kernel's loopback work for it saturate both cores, and the
    test would measure the test machine (README "Measured" has those
    numbers too). The redeemer's rate follows this disk's fsync, which
    swings by 2x from one second to the next even without any attack: when
    the ratio misses, the whole measure (before, then 100,000 more guesses
    from the now blocked IP) is taken again, up to three times in all, and
    each is printed: a slowdown caused by promo shows in every attempt, a
    noisy neighbour on a shared machine rarely in three in a row."""
    if harness.on_pg():
        # Not about the store: the limiter answers 429 before any store call.
        # On PostgreSQL the database's own processes share the 2 cores with
        # wrk, the server and the redeemer, so the ratio would measure this
        # machine's CPU, not promo.
        print("note test_abuse::test_100k_guesses_are_throttled_and_never_slow_other_clients: skipped on "
              "PostgreSQL (a CPU-contention measure of the store-independent limiter; run on SQLite)")
        return
    failures, connections, total = 20, 16, 100000
    s = start_server(config(limits={"per_ip_per_second": 100000, "per_ip_burst": 100000},
                            bruteforce={"failures": failures, "window_seconds": 60, "block_seconds": 900}))
    try:
        exe = build_redeemer(s)
        guesser, redeemer_token = make_token(s, "integration"), make_token(s, "integration")
        code = valid_code(s)
        for attempt in (1, 2, 3):
            a = attack(s, exe, guesser, redeemer_token, code, total, connections)
            first = failures if attempt == 1 else 0
            share = a["n429"] / max(1, a["sent"] - first)
            print("100k guesses (attempt %d): %d answered in %.1f s (%.0f/s): %d x 429, %d x 200, %d other; 429 share "
                  "after the threshold %.4f%%; redeemer on 127.0.0.2: %.0f/s before, %.0f/s during (%.0f%%)"
                  % (attempt, a["sent"], a["secs"], a["sent"] / a["secs"], a["n429"], a["n200"], a["nother"],
                     100 * share, a["before"], a["during"], 100 * a["during"] / a["before"]))
            assert a["sent"] >= total * 0.95, "wrk saw %d answers" % a["sent"]
            assert a["nother"] == 0, "answers other than 200 and 429: %d\n%s" % (a["nother"], a["out"])
            assert share >= 0.999, "only %.3f%% of the guesses after the threshold got 429" % (100 * share)
            assert a["reached"] <= first + connections, "%d guesses reached the store" % a["reached"]
            assert a["refused"] == 0, "the redeemer got %d answers other than 201" % a["refused"]
            if a["during"] >= 0.7 * a["before"]:
                break
            assert attempt < 3, "the redeemer slowed from %.0f/s to %.0f/s" % (a["before"], a["during"])
        events = abuse_events(s)
        assert sorted(e["subject_id"].split(":")[0] for e in events) == ["ip", "token"], events
    finally:
        stopping(s)


@harness.timeout(300)
def test_a_flood_of_distinct_ips_keeps_memory_bounded(srv):
    s = start_server(config(limits={"per_ip_per_second": 1000, "per_ip_burst": 2000},
                            proxy={"trust_forwarded_for": True}))
    try:
        for _ in range(200):
            s.get("/healthz", token=None)
        rss0 = rss_kb(s.proc.pid)
        w = wrk(s, "flood.lua", [], connections=8, seconds=int(6 * harness.time_scale()))
        out = w.communicate(timeout=120 * harness.time_scale())[0].decode()
        found = re.search(r"(\d+) requests in", out)
        assert found, out
        sent = int(found.group(1))
        m = metrics(s)
        keys, cap = m['promo_guard_keys{table="ip"}'], m['promo_guard_capacity{table="ip"}']
        evicted = m['promo_guard_evictions_total{table="ip"}']
        grown = rss_kb(s.proc.pid) - rss0
        print("flood: %d requests from random IPs; ip table %d of %d keys, %d evictions; RSS grew %d KiB"
              % (sent, keys, cap, evicted, grown))
        assert keys <= cap == 65536
        if sent > 2 * cap:
            assert evicted > 0 and keys > cap * 0.5, (keys, evicted)
        if harness.time_scale() == 1.0:  # ASan keeps freed memory in quarantine: its RSS tells nothing
            assert grown < 64 * 1024, "RSS grew by %d KiB under a flood of new IPs" % grown
        expect(s.get("/healthz", token=None), 200)
    finally:
        stopping(s)
