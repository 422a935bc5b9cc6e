#!/usr/bin/env bash
# Installs the Debian 12 packages promo needs to build, run and test.
# Idempotent: only missing packages are installed; `apt-get update` runs once
# per machine (marker in /var/lib/apt/lists). Usage: scripts/deps.sh [build|test]
set -euo pipefail
BUILD_PKGS="build-essential pkg-config libmicrohttpd-dev libgnutls28-dev libjansson-dev libyajl-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev libcsv-dev libinih-dev tzdata"
TEST_PKGS="wrk curl python3 sqlite3 openssl clang libclang-rt-14-dev"
# The PostgreSQL store: libpq to build; a PostgreSQL 15 server for its tests.
BUILD_PKGS="$BUILD_PKGS libpq-dev"
TEST_PKGS="$TEST_PKGS postgresql-15"
TEST_PKGS="$TEST_PKGS python3-aiosmtpd"  # a real SMTP server for the delivery tests
want="$BUILD_PKGS"
[ "${1:-build}" = test ] && want="$BUILD_PKGS $TEST_PKGS"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "promo: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
