#!/usr/bin/env python3
"""bench/pg/bench_pg.py — promo's redemption on PostgreSQL against pgbench
doing the same transaction (redeem.sql) on the same database, in one run.
Started by bench/pg/run.sh inside scripts/pg_test.sh (PROMO_TEST_DB set).

Loads (each BENCH_SECONDS, default 5):
  pgbench 8 clients and promo 1 server 8 connections, alternating,
           BENCH_ROUNDS (default 3) times each; the medians are compared;
  pgbench  32 clients, random codes of 16 campaigns;
  promo    1 server: 8 and 32 connections, the same 16 campaigns ("spread"),
           then all traffic on one campaign at 8 and 32 connections;
  promo    2 servers on the database, 32 connections split over both,
           spread and one campaign.
Targets: promo (1 server, 8 connections, spread) >= 70% of pgbench at 8
clients; one campaign at 32 connections >= 80% of the spread rate at 32
(no collapse on one campaign). Writes the summary to bench/pg/last-run.txt.
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
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
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


def wrk(srvs, conns, ncamp, run):
    """conns connections split evenly over the servers (one wrk each, at
    the same time). Returns (rate of 201s, non-201 answers)."""
    procs = []
    for i, s in enumerate(srvs):
        env = dict(os.environ, BENCH_LUA_DIR=os.path.join(REPO, "bench"), BENCH_TOKEN=s.token,
                   BENCH_NCAMP=str(ncamp), BENCH_NCODES=str(NCODES), BENCH_RUN="%s-%d" % (run, i),
                   BENCH_STOP_AFTER=str(SECONDS))
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
        # The headline pair alternates, ROUNDS times each, and each side's
        # median is compared: the machine's speed drifts, and the tables
        # grow with every load, so whichever ran first on the fresh
        # database would otherwise have the edge.
        pgb8, narrow8, p8 = [], [], []
        for i in range(ROUNDS):
            pgb8.append(pgbench(url, 8, NCAMP, run + "a%d" % i))
            narrow8.append(pgbench(url, 8, NCAMP, run + "n%d" % i, "redeem_narrow.sql"))
            p8.append(wrk([a], 8, NCAMP, run + "c%d" % i))
            out("round %d: pgbench 8 clients %.0f/s (narrow %.0f/s), promo 8 conns %.0f/s"
                % (i + 1, pgb8[-1][0], narrow8[-1][0], p8[-1][0]))
        res["pgb8"] = (median([v[0] for v in pgb8]), sum(v[1] for v in pgb8))
        res["narrow8"] = (median([v[0] for v in narrow8]), sum(v[1] for v in narrow8))
        res["p8"] = (median([v[0] for v in p8]), sum(v[1] for v in p8))
        res["pgb32"] = pgbench(url, 32, NCAMP, run + "b")
        res["p32"] = wrk([a], 32, NCAMP, run + "d")
        res["p8one"] = wrk([a], 8, 1, run + "e")
        res["p32one"] = wrk([a], 32, 1, run + "f")
        b = harness.Server(db=url, token=a.token, config=config).start()
        res["pp32"] = wrk([a, b], 32, NCAMP, run + "g")
        res["pp32one"] = wrk([a, b], 32, 1, run + "h")
        uses = int(psql(url, "SELECT sum(uses) FROM codes"))
        reds = int(psql(url, "SELECT count(*) FROM redemptions"))
        shards = int(psql(url, "SELECT sum(redeemed) FROM campaign_shards"))

        out()
        row("load", "redemptions/s", "target", "")
        row("pgbench redeem.sql, 8 clients, 16 campaigns (median of %d)" % ROUNDS, "%.0f" % res["pgb8"][0])
        row("pgbench redeem_narrow.sql (no customer facts), 8 clients (median of %d)" % ROUNDS,
            "%.0f" % res["narrow8"][0])
        row("pgbench redeem.sql, 32 clients, 16 campaigns", "%.0f" % res["pgb32"][0])
        for k, what in (("p8", "promo 1 server, 8 conns, 16 campaigns (median of %d)" % ROUNDS), ("p32", "promo 1 server, 32 conns, 16 campaigns"),
                        ("p8one", "promo 1 server, 8 conns, 1 campaign"), ("p32one", "promo 1 server, 32 conns, 1 campaign"),
                        ("pp32", "promo 2 servers, 32 conns, 16 campaigns"),
                        ("pp32one", "promo 2 servers, 32 conns, 1 campaign")):
            row(what, "%.0f" % res[k][0], "", "(%d non-201)" % res[k][1] if res[k][1] else "")
        r1 = res["p8"][0] / res["pgb8"][0]
        row("promo / pgbench at 8 clients", "%.0f%%" % (100 * r1), ">= 70%", "PASS" if r1 >= 0.7 else "FAIL")
        row("promo / pgbench redeem_narrow.sql at 8 clients", "%.0f%%" % (100 * res["p8"][0] / res["narrow8"][0]),
            "", "(for comparison)")
        r2 = res["p32one"][0] / res["p32"][0]
        row("one campaign / 16 campaigns, 1 server, 32 conns", "%.0f%%" % (100 * r2), ">= 80%",
            "PASS" if r2 >= 0.8 else "FAIL")
        r3 = res["pp32one"][0] / res["pp32"][0]
        row("one campaign / 16 campaigns, 2 servers, 32 conns", "%.0f%%" % (100 * r3), ">= 80%",
            "PASS" if r3 >= 0.8 else "FAIL")
        r4 = res["p32one"][0] / res["p8one"][0]
        row("one campaign: 32 conns / 8 conns (no collapse)", "%.0f%%" % (100 * r4), ">= 80%",
            "PASS" if r4 >= 0.8 else "FAIL")
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
