#!/bin/sh
# llvm-symbolizer for sanitizer reports, without the LD_PRELOAD of the
# process it symbolizes (tests/tsan.sh preloads an instrumented shim that
# an uninstrumented symbolizer cannot load).
unset LD_PRELOAD
for s in llvm-symbolizer llvm-symbolizer-14; do
  command -v "$s" >/dev/null 2>&1 && exec "$s" "$@"
done
exit 127
