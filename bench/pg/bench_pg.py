#!/usr/bin/env python3
"""bench/pg/bench_pg.py — promo's redemption on PostgreSQL against pgbench
doing the same transaction (redeem.sql) on the same database, in one run.
Started by bench/pg/run.sh inside scripts/pg_test.sh (PROMO_TEST_DB set).

Loads (each BENCH_SECONDS, default 5) in rounds (BENCH_ROUNDS, default 4:
even, so that each order of the loads runs as often as the other). A round
runs every load of its group once, in the order below in odd rounds and
reversed in even ones; each rate is the median over the rounds, each ratio
the median of the rounds' ratios (rounds_of, paired):
  1 server: pgbench 8 clients (redeem.sql, then redeem_narrow.sql); promo
           8 and 32 connections over 16 campaigns ("spread"), then 8 and 32
           connections all on one campaign; pgbench 8 clients on
           redeem_guest.sql and promo 8 connections of guest checkouts
           (no customer_id), next to each other;
  then pgbench 32 clients once (reported, in no ratio);
  2 servers on the database: promo 32 connections split over both, spread,
           then one campaign.
Targets: promo (1 server, 8 connections, spread) >= 70% of pgbench
(redeem.sql) at 8 clients, and of pgbench (redeem_guest.sql) with guest
checkouts; one campaign >= 80% of spread at 32 connections
(1 and 2 servers) and one campaign at 32 connections >= 80% of 8 (no
collapse). Writes the summary to bench/pg/last-run.txt.
"""

import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "api"))

import harness  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
NCAMP, NCODES = 16, 2000
lines = []


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def out(s=""):
    print(s, flush=True)


def row(what, value, target="", verdict=""):
    line = "%-58s %14s %12s %s" % (what, value, target, verdict)
    lines.append(line)
    out(line)


def psql(url, sql):
    r = subprocess.run([harness._psql(), url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("psql: " + r.stderr)
    return r.stdout.strip()


def setup_data(srv):
    """NCAMP campaigns with limits (so the shard slices are in play), each
    with NCODES unlimited codes PGB<c>X<k>. Returns the campaign ids."""
    ids = []
    for c in range(NCAMP):
        r = srv.post("/v1/campaigns", {"name": "bench-%d" % c, "currency": "KRW",
                                       "discount": {"type": "fixed", "amount": 1000},
                                       "limits": {"max_redemptions": 1000000000,
                                                  "max_discount_total": 10 ** 13}})
        assert r.status == 201, r
        ids.append(r.json["id"])
        csv = "code,max_uses\n" + "".join("PGB%dX%d,unlimited\n" % (c, k) for k in range(1, NCODES + 1))
        r = srv.request("POST", "/v1/campaigns/%s/codes/import" % r.json["id"], raw=csv.encode(),
                        headers={"Content-Type": "text/csv"})
        assert r.status == 200 and r.json["imported"] == NCODES, r
    return ids


def pgbench(url, clients, ncamp, run, script="redeem.sql"):
    exe = os.path.join(os.path.dirname(harness._psql()), "pgbench")
    if not os.path.exists(exe):
        exe = "/usr/lib/postgresql/15/bin/pgbench"
    cmd = [exe, "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(int(SECONDS)),
           "-f", os.path.join(HERE, script), "-D", "ncamp=%d" % ncamp, "-D", "ncodes=%d" % NCODES,
           "-D", "run=%s" % run, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 10 + 60)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", r.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    if not m:
        raise RuntimeError("pgbench failed: %s %s" % (r.stdout[-800:], r.stderr[-800:]))
    return float(m.group(1)), int(failed.group(1)) if failed else 0


def wrk(srvs, conns, ncamp, run, guest=False):
    """conns connections split evenly over the servers (one wrk each, at
    the same time); guest: no customer_id in the requests. Returns (rate of
    201s, non-201 answers)."""
    procs = []
    for i, s in enumerate(srvs):
        env = dict(os.environ, BENCH_LUA_DIR=os.path.join(REPO, "bench"), BENCH_TOKEN=s.token,
                   BENCH_NCAMP=str(ncamp), BENCH_NCODES=str(NCODES), BENCH_RUN="%s-%d" % (run, i),
                   BENCH_STOP_AFTER=str(SECONDS))
        if guest:
            env["BENCH_NCUST"] = "0"
        c = max(2, conns // len(srvs))
        cmd = ["wrk", "-t2", "-c%d" % c, "-d%ds" % int(SECONDS + 2), "-s", os.path.join(HERE, "redeem_many.lua"),
               "http://%s:%d" % (s.host, s.port)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    rate, bad = 0.0, 0
    for p in procs:
        text = p.communicate(timeout=SECONDS * 10 + 60)[0]
        m = re.search(r"^BENCH_RESULT (\{.*\})$", text, re.M)
        if not m:
            raise RuntimeError("wrk printed no result: " + text[-800:])
        res = json.loads(m.group(1))
        rate += res["rps"]
        bad += res["bad"]
        for s in re.findall(r"^BENCH_SAMPLE .*$", text, re.M):
            out("    " + s)
    return rate, bad


def rounds_of(loads, run):
    """Runs each (name, fn(tag)) of loads once per round, ROUNDS rounds, in
    the given order in odd rounds and reversed in even ones (so that loads
    compared with each other sit next to each other, and neither always
    runs first); returns {name: [(rate, bad), ...]} and prints each round."""
    got = {name: [] for name, _ in loads}
    for i in range(ROUNDS):
        for name, fn in (loads if i % 2 == 0 else loads[::-1]):
            got[name].append(fn("%s%s%d" % (run, name, i)))
        out("round %d: " % (i + 1) + ", ".join("%s %.0f/s" % (name, got[name][-1][0]) for name, _ in loads))
    return got


def paired(runs, num, den):
    """The ratios num/den of each round (both loads ran next to each other
    in it) and their median: the machine's speed drifts between rounds far
    more than between two neighbouring loads."""
    each = [n[0] / d[0] for n, d in zip(runs[num], runs[den])]
    return median(each), each


def main():
    if not harness.on_pg():
        out("bench_pg: PROMO_TEST_DB is not a PostgreSQL URL (run bench/pg/run.sh)")
        return 2
    with open(os.path.join(REPO, "bench", "bench.ini")) as f:
        config = f.read()
    url = harness.pg_fresh_db()
    a = harness.Server(db=url, config=config).start()
    b = None
    try:
        t0 = time.time()
        setup_data(a)
        psql(url, "CREATE SEQUENCE IF NOT EXISTS pgb_seq")
        out("setup: %d campaigns x %d codes in %.1fs; %d s per load; machine: %d cores"
            % (NCAMP, NCODES, time.time() - t0, SECONDS, os.cpu_count()))
        run = str(int(time.time()))
        res = {}
        # Every load whose rate enters a ratio runs ROUNDS times, the loads
        # of a round one after the other, and each load's median is used:
        # the machine's speed drifts from second to second, and the tables
        # grow with every load, so one 5-second sample of each side (or the
        # side that ran first on the fresh database) would decide the ratio.
        loads1 = (("narrow8", lambda tag: pgbench(url, 8, NCAMP, tag, "redeem_narrow.sql")),
                  ("pgb8", lambda tag: pgbench(url, 8, NCAMP, tag)),
                  ("p8", lambda tag: wrk([a], 8, NCAMP, tag)),
                  ("p32", lambda tag: wrk([a], 32, NCAMP, tag)),
                  ("p32one", lambda tag: wrk([a], 32, 1, tag)),
                  ("p8one", lambda tag: wrk([a], 8, 1, tag)),
                  ("guest8", lambda tag: pgbench(url, 8, NCAMP, tag, "redeem_guest.sql")),
                  ("pg8", lambda tag: wrk([a], 8, NCAMP, tag, guest=True)))
        runs = rounds_of(loads1, run + "s")
        res["pgb32"] = pgbench(url, 32, NCAMP, run + "b")
        b = harness.Server(db=url, token=a.token, config=config).start()
        loads2 = (("pp32", lambda tag: wrk([a, b], 32, NCAMP, tag)),
                  ("pp32one", lambda tag: wrk([a, b], 32, 1, tag)))
        runs.update(rounds_of(loads2, run + "t"))
        for k, v in runs.items():
            res[k] = (median([x[0] for x in v]), sum(x[1] for x in v))
        uses = int(psql(url, "SELECT sum(uses) FROM codes"))
        reds = int(psql(url, "SELECT count(*) FROM redemptions"))
        shards = int(psql(url, "SELECT sum(redeemed) FROM campaign_shards"))

        out()
        row("load", "redemptions/s", "target", "")
        row("(each rate the median of %d rounds; pgbench at 32 clients once)" % ROUNDS, "")
        row("pgbench redeem.sql, 8 clients, 16 campaigns", "%.0f" % res["pgb8"][0])
        row("pgbench redeem_narrow.sql (no customer facts), 8 clients", "%.0f" % res["narrow8"][0])
        row("pgbench redeem_guest.sql (no customer), 8 clients", "%.0f" % res["guest8"][0])
        row("pgbench redeem.sql, 32 clients, 16 campaigns (once)", "%.0f" % res["pgb32"][0])
        for k, what in (("p8", "promo 1 server, 8 conns, 16 campaigns"), ("p32", "promo 1 server, 32 conns, 16 campaigns"),
                        ("p8one", "promo 1 server, 8 conns, 1 campaign"),
                        ("pg8", "promo 1 server, 8 conns, 16 campaigns, guest checkouts"), ("p32one", "promo 1 server, 32 conns, 1 campaign"),
                        ("pp32", "promo 2 servers, 32 conns, 16 campaigns"),
                        ("pp32one", "promo 2 servers, 32 conns, 1 campaign")):
            row(what, "%.0f" % res[k][0], "", "(%d non-201)" % res[k][1] if res[k][1] else "")
        # Ratios: the median of each round's ratio of two neighbouring loads.
        def ratio(what, num, den, target=None):
            r, each = paired(runs, num, den)
            rounds = "(rounds: %s)" % ", ".join("%.0f%%" % (100 * x) for x in each)
            if target is None:
                row(what, "%.0f%%" % (100 * r), "", rounds)
            else:
                row(what, "%.0f%%" % (100 * r), ">= %.0f%%" % (100 * target),
                    ("PASS " if r >= target else "FAIL ") + rounds)
        ratio("promo / pgbench at 8 clients", "p8", "pgb8", 0.7)
        ratio("promo / pgbench, guest checkouts (redeem_guest.sql), 8 clients", "pg8", "guest8", 0.7)
        ratio("promo / pgbench redeem_narrow.sql at 8 clients", "p8", "narrow8")
        ratio("one campaign / 16 campaigns, 1 server, 32 conns", "p32one", "p32", 0.8)
        ratio("one campaign / 16 campaigns, 2 servers, 32 conns", "pp32one", "pp32", 0.8)
        ratio("one campaign: 32 conns / 8 conns (no collapse)", "p32one", "p8one", 0.8)
        bad = sum(v[1] for v in res.values())
        row("uses = redemptions = shard totals", "%d/%d/%d" % (uses, reds, shards), "equal",
            "PASS" if uses == reds == shards and bad == 0 else "FAIL")
        with open(os.path.join(HERE, "last-run.txt"), "w") as f:
            f.write("bench/pg, %s, %d cores, %g s per load\n" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                                               os.cpu_count(), SECONDS))
            f.write("\n".join(lines) + "\n")
    finally:
        for s in (a, b):
            if s:
                s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
