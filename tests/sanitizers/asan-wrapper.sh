#!/bin/sh
# meson test --wrapper of tests/asan.sh. Every process of a test gets the
# ASan runtime preloaded, so that the uninstrumented programs a test runs
# (gst-launch-1.0, python3 with GObject introspection) can load this
# project's instrumented plugin and library. Leaks are checked in every
# process of a test whose program is one of ours (instrumented); a test
# driven by an uninstrumented interpreter (python3) runs without the leak
# check, whose reports would be the interpreter's own.
if ! LD_PRELOAD= ldd "$1" 2>/dev/null | grep -q 'libasan\.so'; then
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  export ASAN_OPTIONS
fi
LD_PRELOAD="${MEMMAP_SANITIZER_RUNTIME}${LD_PRELOAD:+:$LD_PRELOAD}"
export LD_PRELOAD
exec "$@"
