#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that the C sources follow GStreamer's indent style: runs
# build-aux/gst-indent (GNU indent with gst-indent's options) on a copy of
# every tracked .c file and prints what it would change. Changes nothing.
#
#   tests/check-format.sh [FILE.c...]   default: every tracked .c file
#
# Exit status: 0 every file is formatted, 1 some file is not (the diff is
# printed), 2 GNU indent is missing. Files in EXCLUDE are left out (with a
# note); it is empty.
set -euo pipefail
cd "$(dirname "$0")/.."

EXCLUDE=()

if ! command -v indent >/dev/null && ! command -v gindent >/dev/null &&
    ! command -v gnuindent >/dev/null; then
  echo "check-format: GNU indent not found (apt install indent)" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.c')
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad=0
checked=0
for f in "${files[@]}"; do
  skip=
  for x in "${EXCLUDE[@]}"; do
    [ "$f" = "$x" ] && skip=1
  done
  if [ -n "$skip" ]; then
    echo "check-format: not checked: $f (excluded)" >&2
    continue
  fi
  copy="$tmp/$(echo "$f" | tr / _)"
  cp "$f" "$copy"
  build-aux/gst-indent "$copy" 2>/dev/null || true
  checked=$((checked + 1))
  if ! diff -u --label "a/$f" --label "b/$f" "$f" "$copy"; then
    bad=$((bad + 1))
  fi
done

echo "check-format: $checked files checked, $bad not formatted" >&2
[ "$bad" -eq 0 ]
