#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 cluster:
#   scripts/pg_test.sh COMMAND [ARGS...]
# Installs postgresql-15 (scripts/deps.sh test) when missing, makes a
# cluster in a temporary folder as the postgres user (initdb), starts it on
# a free loopback port (small: shared_buffers 64MB, max_connections 100,
# fsync on), runs COMMAND with PROMO_TEST_DB=postgres://postgres@127.0.0.1:PORT/postgres
# and removes the cluster afterwards, whatever happens (trap).
# tests/api/harness.py gives every server it starts a database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "pg_test: no PostgreSQL server binaries found" >&2; exit 1; }
RUNAS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "pg_test: no postgres user" >&2; exit 1; }
  RUNAS=(runuser -u postgres --)
fi
dir=$(mktemp -d /tmp/promo-pg-XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
"${RUNAS[@]}" "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=64MB -c max_connections=${PG_MAX_CONNECTIONS:-100} -c fsync=on -c synchronous_commit=on" \
  >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
export PROMO_TEST_DB="postgres://postgres@127.0.0.1:$port/postgres"
export PROMO_TEST_PGLOG="$dir/server.log"
echo "pg_test: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)" >&2
set +e
"$@"
rc=$?
exit $rc
