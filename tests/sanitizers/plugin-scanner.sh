#!/bin/sh
# GStreamer's plugin scanner, for sanitizer builds: the scanner is not built
# with the sanitizer but dlopen()s our instrumented plugin, which needs the
# sanitizer runtime loaded first. tests/asan.sh and tests/tsan.sh point
# GST_PLUGIN_SCANNER_1_0 here and MEMMAP_SANITIZER_RUNTIME at the runtime
# library. The scanner only loads every plugin of the system once to list
# its features: reports about it (leaks, races in other plugins' init) are
# not ours and would make GStreamer fall back to loading every plugin in
# the test process itself, so they are turned off here.
scanner="$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner"
LD_PRELOAD="${MEMMAP_SANITIZER_RUNTIME}${LD_PRELOAD:+:$LD_PRELOAD}" \
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}report_bugs=0:exitcode=0" \
  exec "$scanner" "$@"
