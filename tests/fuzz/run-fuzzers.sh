#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz and runs
# each one for SECONDS (default 60) from its seed corpus and regressions.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS]          SECONDS per target
#   tests/fuzz/run-fuzzers.sh --total SECONDS    SECONDS shared by all targets
#
# The corpus each run grows is kept in build-fuzz/fuzz-corpus/TARGET (the
# committed seeds in tests/fuzz/corpus/ are only read). A crash, leak,
# timeout or GLib critical/warning leaves its input in
# build-fuzz/fuzz-artifacts/TARGET/: minimise it (fuzz-TARGET -minimize_crash=1
# -runs=10000 FILE), fix the bug, then commit the input to
# tests/fuzz/regressions/TARGET/ so that fuzz_replay_TARGET (a normal meson
# test) replays it from then on. Exit status 1 if any target found one.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=${FUZZ_BUILD_DIR:-build-fuzz}

total=""
secs=60
if [ "${1:-}" = "--total" ]; then
  total=${2:?--total needs seconds}
elif [ -n "${1:-}" ]; then
  secs=$1
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dintrospection=disabled -Dbenchmarks=disabled \
    -Dwerror="$([ "${CI:-}" = true ] && echo true || echo false)" >/dev/null
fi
ninja -C "$build" >/dev/null

targets=()
for d in tests/fuzz/corpus/*/; do
  t=$(basename "$d")
  [ -x "$build/tests/fuzz/fuzz-$t" ] && targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "run-fuzzers: no targets built" >&2; exit 1; }
[ -n "$total" ] && secs=$(( total / ${#targets[@]} > 0 ? total / ${#targets[@]} : 1 ))

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
# libFuzzer checks every input that mallocs more than it frees for leaks;
# the at-exit check would only see GLib's one-time allocations (whose
# stacks the fast unwinder cannot follow into GLib to suppress them)
export LSAN_OPTIONS=suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0:leak_check_at_exit=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

found=0
for t in "${targets[@]}"; do
  work=$build/fuzz-corpus/$t
  art=$build/fuzz-artifacts/$t
  log=$build/fuzz-$t.log
  mkdir -p "$work" "$art"
  regs=()
  [ -d "tests/fuzz/regressions/$t" ] && regs=("tests/fuzz/regressions/$t")
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  status=0
  "$build/tests/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
    -artifact_prefix="$art/" "${dict[@]}" \
    "$work" "tests/fuzz/corpus/$t" "${regs[@]}" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$status" -eq 0 ]; then
    verdict="no crash"
  else
    found=1
    what=$(grep -m1 -E "FUZZ FAILURE|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error" "$log" || true)
    verdict="CRASH (exit $status): $(ls -t "$art" | head -1 | sed "s|^|$art/|"): $what -- see $log"
  fi
  echo "fuzz $t: ${execs:-0} executions in ${secs} s (${rate:-0}/s), corpus ${corp:-?} (inputs/bytes), $verdict"
done
exit $found
