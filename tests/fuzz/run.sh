#!/usr/bin/env bash
# Runs promo's fuzz harnesses (tests/fuzz/fuzz_<target>.c).
#   tests/fuzz/run.sh fuzz [targets...]     libFuzzer, FUZZ_SECONDS each (make fuzz)
#   tests/fuzz/run.sh regress [targets...]  every file of corpus/<target> and
#                                           regress/<target> once (make test);
#                                           ends with "N passed, N failed"
# B is the build folder (default build). New inputs found while fuzzing go
# to $B/fuzz/work/<target>, never into the committed seed corpus; a crash
# is written to $B/fuzz/artifacts/<target>/ — fix the code, then keep the
# input in tests/fuzz/regress/<target>/ so `make test` replays it forever.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
mode=${1:-regress}
shift || true
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=${f#tests/fuzz/fuzz_}; targets+=("${t%.c}"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

inputs() { # target → the files to replay
  find "tests/fuzz/corpus/$1" "tests/fuzz/regress/$1" -type f 2>/dev/null | sort
}

fuzz_one() { # target
  local t=$1 bin="$B/fuzz/fuzz_$1" work="$B/fuzz/work/$1" art="$B/fuzz/artifacts/$1/" log rc execs
  mkdir -p "$work" "$art" "tests/fuzz/corpus/$t"
  log="$B/fuzz/$t.log"
  local dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  "$bin" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}')
  if [ $rc = 0 ]; then
    printf '%-10s %12s executions in %ss, no crash (corpus %s files)\n' "$t" "${execs:-?}" \
      "${FUZZ_SECONDS:-60}" "$(find "$work" -type f | wc -l)"
    return 0
  fi
  printf '%-10s CRASH after %s executions (exit %s); log %s\n' "$t" "${execs:-?}" "$rc" "$log"
  grep -E 'ERROR:|runtime error:|property violated|SUMMARY:|Test unit written' "$log" | head -8
  return 1
}

regress_one() { # target → adds to passed/failed
  local t=$1 bin="$B/fuzz-regress/fuzz_$1" files n log
  mapfile -t files < <(inputs "$t")
  n=${#files[@]}
  if [ ! -x "$bin" ]; then
    echo "FAIL $t: $bin is not built (make fuzz-regress)"; failed=$((failed + 1)); return
  fi
  [ "$n" = 0 ] && { printf '%-10s no inputs\n' "$t"; return; }
  log=$(mktemp)
  if timeout 600 "$bin" "${files[@]}" >"$log" 2>&1; then
    printf '%-10s %3d inputs replayed, no finding\n' "$t" "$n"
    passed=$((passed + n))
  else
    # Find which inputs fail, one process each.
    local f bad=0
    for f in "${files[@]}"; do
      if timeout 60 "$bin" "$f" >"$log" 2>&1; then passed=$((passed + 1)); else
        bad=$((bad + 1)); echo "FAIL $t: $f"
        grep -E 'ERROR:|runtime error:|property violated|SUMMARY:' "$log" | head -5 | sed 's/^/    /'
      fi
    done
    failed=$((failed + bad))
    printf '%-10s %3d inputs replayed, %d failed\n' "$t" "$n" "$bad"
  fi
  rm -f "$log"
}

passed=0
failed=0
case $mode in
fuzz)
  status=0
  for t in "${targets[@]}"; do fuzz_one "$t" || status=1; done
  exit $status ;;
regress)
  for t in "${targets[@]}"; do regress_one "$t"; done
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ] ;;
*)
  echo "usage: tests/fuzz/run.sh fuzz|regress [targets...]" >&2; exit 2 ;;
esac
