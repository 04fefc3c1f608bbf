#!/usr/bin/env bash
# The sanitizer lane: builds gst-memmap with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc) into build-asan and runs the whole test
# suite there, with LeakSanitizer on and GStreamer's leaks tracer on (the
# default environment of every test, checked below).
#
#   tests/asan.sh [meson test arguments...]      e.g. tests/asan.sh libs_store
#
# Any ASan/UBSan report or leak fails its test (UBSan halts on the first
# error). tests/sanitizers/lsan.supp lists the few one-time allocations of
# GLib that LeakSanitizer must ignore: none of this project's. Exit status:
# that of meson test, or 1 if the leaks tracer was not on.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${ASAN_BUILD_DIR:-build-asan}

if [ ! -f "$build/build.ninja" ]; then
  CC=gcc meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbenchmarks=disabled -Dintrospection=disabled \
    -Dwerror="$([ "${CI:-}" = true ] && echo true || echo false)" >/dev/null
fi
ninja -C "$build" >/dev/null

# The plugin scanner is not instrumented but dlopen()s our plugin, which
# needs the ASan runtime loaded first: a wrapper preloads it there, and
# tests/sanitizers/asan-wrapper.sh does the same for every test process
# (gst-launch-1.0 and python3 are not instrumented either).
export GST_PLUGIN_SCANNER_1_0=$src/tests/sanitizers/plugin-scanner.sh
MEMMAP_SANITIZER_RUNTIME=$(gcc -print-file-name=libasan.so)
export MEMMAP_SANITIZER_RUNTIME
# fast_unwind_on_malloc=0: GLib has no frame pointers; without it leak
# stacks stop at g_malloc and the suppressions cannot match.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export LSAN_OPTIONS=suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# the differential harness with one seed, not the suite's four: under ASan
# each seed costs minutes, and the oracle lane runs many uninstrumented
export MEMMAP_ORACLE_SEEDS=${MEMMAP_ORACLE_SEEDS:-1}
# every test gets a fresh registry scan through the wrapper
rm -f "$build"/tests/*/*.registry

status=0
meson test -C "$build" --print-errorlogs --timeout-multiplier 3 \
  --logbase asan --wrapper "$src/tests/sanitizers/asan-wrapper.sh" "$@" \
  || status=$?

# The leaks tracer must have been on in every element test: its environment
# said so, and the tracer registered its records in the process.
# (meson names the log after --logbase and the wrapper)
cp "$build/meson-logs/asan-asan-wrapper.sh.json" "$build/meson-logs/asan.json"
/usr/bin/python3 - "$build/meson-logs/asan.json" <<'PY' || status=1
import json, sys
bad = []
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if not r["name"].startswith(("elements_", "generic_")):
        continue
    n += 1
    on = "leaks" in (r.get("env") or {}).get("GST_TRACERS", "")
    seen = "object-alive.class" in (r.get("stderr") or "") + (r.get("stdout") or "")
    if not (on and seen):
        bad.append(r["name"])
if bad:
    print("asan lane: the leaks tracer was not on in: " + ", ".join(bad))
    sys.exit(1)
print(f"asan lane: leaks tracer on in all {n} element/generic tests")
PY
exit $status
