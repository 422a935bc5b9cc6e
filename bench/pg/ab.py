#!/usr/bin/env python3
"""bench/pg/ab.py — two promo builds (or one build with two URL settings)
against each other on one PostgreSQL database, in one run:

    scripts/pg_test.sh python3 bench/pg/ab.py A_BIN B_BIN [B_URL_SUFFIX]
    e.g. ... ab.py /tmp/promo-before build/promo
         ... ab.py build/promo build/promo '?cache=off'

Both servers run on the same database (made and filled by A as bench_pg.py
does: 16 campaigns x 2,000 codes), the same 8-connection redemption load
(redeem_many.lua) goes to A and B in turn, AB then BA, for BENCH_ROUNDS
rounds (default 4) of BENCH_SECONDS (default 5), so the machine's drift
and the tables' growth fall on both alike. For each load it prints the
rate and the machine's CPU per redemption (busy time from /proc/stat,
every process: PostgreSQL, promo and wrk), then the medians and B/A.
CPU per redemption is the steadier figure on a shared machine; a change
that lowers the time pg_stat_statements shows can still cost more (time
outside execution is not in it). With BENCH_PGBENCH=1 each round also
runs pgbench (redeem.sql, 8 clients) for the ratio the issue targets.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_pg  # noqa: E402
from bench_pg import harness, median  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
TCK = os.sysconf("SC_CLK_TCK")


def busy_ticks():
    """Ticks the machine spent busy (user..steal, not idle or iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]


def load(srv, run):
    """One 8-connection load: (rate, machine CPU µs per redemption)."""
    b0 = busy_ticks()
    rate, bad = bench_pg.wrk([srv], 8, bench_pg.NCAMP, run)
    if bad:
        raise RuntimeError("%d answers were not 201" % bad)
    return rate, (busy_ticks() - b0) / TCK / (rate * bench_pg.SECONDS) * 1e6


def main():
    if len(sys.argv) not in (3, 4) or not harness.on_pg():
        print(__doc__)
        return 2
    bin_a, bin_b = (os.path.abspath(p) for p in sys.argv[1:3])
    suffix = sys.argv[3] if len(sys.argv) == 4 else ""
    with open(os.path.join(harness.REPO, "bench", "bench.ini")) as f:
        config = f.read()
    url = harness.pg_fresh_db()
    a = harness.Server(bin=bin_a, db=url, config=config).start()
    b = None
    try:
        bench_pg.setup_data(a)
        bench_pg.psql(url, "CREATE SEQUENCE IF NOT EXISTS pgb_seq")
        b = harness.Server(bin=bin_b, db=url + suffix, token=a.token, config=config).start()
        run = str(int(time.time()))
        load(a, run + "wa")  # warm both: the first load makes the customers
        load(b, run + "wb")
        res = {"A": [], "B": [], "pgbench": []}
        for i in range(ROUNDS):
            order = (("A", a), ("B", b)) if i % 2 == 0 else (("B", b), ("A", a))
            for name, srv in order:
                res[name].append(load(srv, "%s%s%d" % (run, name, i)))
            if os.environ.get("BENCH_PGBENCH"):
                res["pgbench"].append(bench_pg.pgbench(url, 8, bench_pg.NCAMP, run + "p%d" % i)[0])
            print("round %d: A %.0f/s (%.0f us)  B %.0f/s (%.0f us)%s" % (
                i + 1, res["A"][-1][0], res["A"][-1][1], res["B"][-1][0], res["B"][-1][1],
                "  pgbench %.0f/s" % res["pgbench"][-1] if res["pgbench"] else ""), flush=True)
        ra, rb = median([r for r, _ in res["A"]]), median([r for r, _ in res["B"]])
        ca, cb = median([c for _, c in res["A"]]), median([c for _, c in res["B"]])
        print("medians: A %.0f/s %.0f us, B %.0f/s %.0f us; B/A rate %.3f, CPU per redemption %.3f"
              % (ra, ca, rb, cb, rb / ra, cb / ca))
        if res["pgbench"]:
            p = median(res["pgbench"])
            print("pgbench %.0f/s: A %.0f %%, B %.0f %%" % (p, 100 * ra / p, 100 * rb / p))
    finally:
        for s in (a, b):
            if s:
                s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
