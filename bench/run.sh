#!/usr/bin/env bash
# bench/run.sh — promo's benchmarks (`make bench` runs it after building).
# Compiles the SQLite baseline into a scratch directory, then bench/bench.py
# starts the server(s) on free loopback ports, runs the loads (wrk) and
# prints the report; the summary also goes to bench/last-run.txt.
#   PROMO_BIN=path/to/promo   server to measure (default build/promo)
#   BENCH_10M=1               also generate 10,000,000 codes (long; off by default)
#   BENCH_SECONDS=N           length of each load (default 5)
# See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export PROMO_BIN="${PROMO_BIN:-build/promo}"
for t in wrk python3 cc; do
  command -v "$t" >/dev/null || { echo "bench: $t is not installed (scripts/deps.sh test)" >&2; exit 2; }
done
[ -x "$PROMO_BIN" ] || { echo "bench: no server binary at $PROMO_BIN (run make, or set PROMO_BIN)" >&2; exit 2; }

scratch=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/promo-bench-bin.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cc -std=c11 -O2 -Wall -Wextra -o "$scratch/baseline_redeem" bench/baseline_redeem.c -lsqlite3
export BASELINE_BIN="$scratch/baseline_redeem"

python3 bench/bench.py
