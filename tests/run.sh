#!/usr/bin/env bash
# Runs every test of promo and ends with one line CI reads:
#   N passed, N failed
# 1. unit tests (cmocka), plain and under ASan/UBSan;
# 2. the black-box API suite against build/promo, then against the
#    sanitizer build (any sanitizer report, leaks included, fails the run);
# 3. the fuzz harnesses over their seeds and past findings (tests/fuzz);
# 4. the CLI scenario.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}   # the build folder (make B=... test)
passed=0
failed=0
failures=()

note() { printf '\n== %s\n' "$*"; }

# Filters an API run's output for the terminal: every FAIL line with the
# indented message and traceback under it (at most 80 lines each, so that
# CI's log says why a test failed), and the note/skip/pg_test lines.
show_failures() {
  awk '/^FAIL/ { n = 0; show = 1; print; next }
       /^    / { if (show && n++ < 80) print; next }
       { show = 0 }
       /^(note|pg_test|skip)/ { print }'
}

# Adds the counts of a runner's closing "N passed, N failed" line.
count_summary() { # name logfile exit
  local line p f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); failures+=("$1 (no summary, exit $3)"); return
  fi
  p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" != 0 ] && failures+=("$1: $f failed")
  [ "$f" = 0 ] && [ "$3" != 0 ] && { failed=$((failed + 1)); failures+=("$1 exited $3"); }
  return 0
}

note "unit tests"
for t in "$B"/tests/test_* "$B"/tests-san/test_*; do
  [ -x "$t" ] || continue
  log=$(mktemp)
  "$t" >"$log" 2>&1; rc=$?
  p=$(grep -oE '\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END {print s+0}')
  f=$(grep -oE '\[  FAILED  \] [0-9]+' "$log" | awk '{s+=$4} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f))
  printf '%-40s %3d passed %3d failed\n' "$t" "$p" "$f"
  if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
    cat "$log"; failures+=("$t")
    [ "$f" = 0 ] && failed=$((failed + 1))
  fi
  rm -f "$log"
done

run_api() { # label binary [extra env]
  local log rc
  log=$(mktemp)
  note "API tests: $1"
  env PROMO_BIN="$2" "${@:3}" python3 tests/api/run.py 2>&1 | tee "$log" | show_failures
  rc=${PIPESTATUS[0]}
  tail -1 "$log"
  count_summary "api ($1)" "$log" "$rc"
  rm -f "$log"
}

run_api "release build" "$B/promo"

sanlogs=$(mktemp -d)
run_api "ASan+UBSan build" "$B/san/promo" \
  ASAN_OPTIONS="detect_leaks=1:log_path=$sanlogs/asan:abort_on_error=0" \
  UBSAN_OPTIONS="print_stacktrace=1:log_path=$sanlogs/ubsan" PROMO_TIME_SCALE=3
if ls "$sanlogs"/* >/dev/null 2>&1; then
  note "sanitizer reports"
  head -60 "$sanlogs"/*
  failed=$((failed + 1)); failures+=("sanitizer reports in the API run")
else
  echo "no sanitizer reports"; passed=$((passed + 1))
fi
rm -rf "$sanlogs"

# Fuzz harnesses: every seed and every once-failing input, replayed once
# through each harness under ASan/UBSan (built by `make fuzz-regress`).
if [ -x tests/fuzz/run.sh ]; then
  note "fuzz regressions"
  log=$(mktemp)
  B="$B" tests/fuzz/run.sh regress >"$log" 2>&1; rc=$?
  cat "$log"
  count_summary "fuzz regressions" "$log" "$rc"
  rm -f "$log"
fi

if [ -x tests/cli/test_cli.sh ]; then
  note "CLI tests"
  log=$(mktemp)
  PROMO_BIN="$B/promo" tests/cli/test_cli.sh >"$log" 2>&1; rc=$?
  grep -vE '^ok' "$log" | tail -20
  count_summary "cli" "$log" "$rc"
  rm -f "$log"
fi

# The API suite again on the PostgreSQL store (concurrency and crash tests
# included, and test_two_servers.py: two servers on one database, clients
# spread over both): scripts/pg_test.sh installs PostgreSQL 15 if missing,
# starts a throwaway cluster and removes it afterwards; every server gets a
# database of its own. Then the ASan/UBSan build over the modules that
# drive the PostgreSQL store hardest.
run_api_pg() { # label binary "words" [extra env]
  local log rc
  log=$(mktemp)
  note "API tests: $1"
  # shellcheck disable=SC2086 # words are separate arguments
  env PROMO_BIN="$2" "${@:4}" scripts/pg_test.sh python3 tests/api/run.py $3 2>&1 | tee "$log" | show_failures
  rc=${PIPESTATUS[0]}
  tail -1 "$log"
  count_summary "api ($1)" "$log" "$rc"
  rm -f "$log"
}
run_api_pg "release build on PostgreSQL" "$B/promo" ""
sanlogs=$(mktemp -d)
run_api_pg "ASan+UBSan build on PostgreSQL" "$B/san/promo" \
  "test_concurrency test_two_servers test_crash test_redeem test_reservations test_codes test_stats test_events test_delivery test_rules test_reminders" \
  ASAN_OPTIONS="detect_leaks=1:log_path=$sanlogs/asan:abort_on_error=0" \
  UBSAN_OPTIONS="print_stacktrace=1:log_path=$sanlogs/ubsan" PROMO_TIME_SCALE=3
if ls "$sanlogs"/* >/dev/null 2>&1; then
  note "sanitizer reports (PostgreSQL)"
  head -60 "$sanlogs"/*
  failed=$((failed + 1)); failures+=("sanitizer reports in the PostgreSQL API run")
else
  echo "no sanitizer reports"; passed=$((passed + 1))
fi
rm -rf "$sanlogs"

note "summary"
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
