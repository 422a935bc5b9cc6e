#!/usr/bin/env bash
# bench/pg/run.sh — promo's redemption on PostgreSQL vs pgbench running the
# same transaction (bench/pg/redeem.sql), on a throwaway cluster made by
# scripts/pg_test.sh. Needs build/promo (or PROMO_BIN), wrk and pgbench
# (postgresql-15). Summary in bench/pg/last-run.txt; see bench/pg/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PROMO_BIN="${PROMO_BIN:-build/promo}"
[ -x "$PROMO_BIN" ] || { echo "bench/pg: no server binary at $PROMO_BIN (run make)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/pg: wrk is not installed (scripts/deps.sh test)" >&2; exit 2; }
PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-100} scripts/pg_test.sh python3 bench/pg/bench_pg.py
