#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets:
# - store-reader: real frame stores, small (tiny frames, a few of them),
#   made by the library's writer (tests/check/store-make) and by memmapsink
#   (gst-launch-1.0), in several formats and layouts, append and ring,
#   closed, left open (the writer exited without closing) and killed with
#   SIGKILL;
# - cache-meta: the meta files of memmapcache entries, complete and of a
#   pipeline killed with SIGKILL, and a few variants written here.
#
#   tests/fuzz/make-corpus.sh [BUILD_DIR] [OUT_DIR]
#
# BUILD_DIR defaults to ./build (it must hold tests/check/store-make and
# plugin/), OUT_DIR to tests/fuzz/corpus. The seeds are committed; re-run
# this only to change them. Store headers hold the writer's pid and a
# creation time, so two runs never give identical bytes.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build}
corpus=${2:-tests/fuzz/corpus}
out=$corpus/store-reader
store_make=$build/tests/check/store-make
[ -x "$store_make" ] || { echo "make-corpus: $store_make is not built" >&2; exit 1; }

export GST_PLUGIN_PATH_1_0=$PWD/$build/plugin
export GST_REGISTRY_1_0=$PWD/$build/make-corpus.registry
export GST_DEBUG=*:1

mkdir -p "$out"
rm -f "$out"/*.store
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lib() {                    # lib NAME FORMAT W H N [store-make options]
  local name=$1; shift
  "$store_make" "$out/$name.store" "$@" >/dev/null
}

# library writer: append stores, small chunks so that they have several
lib lib-append-gray8-closed     GRAY8 16 16 3 --chunk-bytes 8192
lib lib-append-i420-open        I420 16 16 3 --chunk-bytes 16384 --no-close
lib lib-append-nv12-padded      NV12 18 10 2 --stride-align 64 --pad-rows 2 \
                                --chunk-bytes 8192
lib lib-append-rgba-capped      RGBA 8 8 2 --max-frames 2
lib lib-append-rgb-odd          RGB 5 3 4 --chunk-bytes 4096
lib lib-append-y444-empty       Y444 4 4 0 --chunk-bytes 8192
lib lib-append-gray16-open      GRAY16_LE 8 8 1 --chunk-bytes 8192 --no-close
# rings: wrapped, not wrapped, left open
lib lib-ring-i420-wrapped       I420 16 16 7 --ring 3
lib lib-ring-y42b-open          Y42B 8 8 2 --ring 2 --no-close

# a ring writer killed with SIGKILL while it writes
"$store_make" "$out/lib-ring-gray8-killed.store" GRAY8 16 16 0 --forever \
  --ring 3 > "$tmp/out" &
pid=$!
for _ in $(seq 100); do grep -q ready "$tmp/out" 2>/dev/null && break; sleep 0.01; done
sleep 0.02
kill -9 "$pid"
wait "$pid" 2>/dev/null || true

# memmapsink
sink() {                   # sink NAME CAPS NUM-BUFFERS [memmapsink properties]
  local name=$1 caps=$2 n=$3; shift 3
  gst-launch-1.0 -q videotestsrc num-buffers="$n" pattern=ball ! "$caps" ! \
    memmapsink location="$out/$name.store" "$@" >/dev/null
}
sink sink-append-i420  video/x-raw,format=I420,width=16,height=16,framerate=30/1 3 \
  chunk-size=8192
sink sink-append-yuy2  video/x-raw,format=YUY2,width=8,height=4,framerate=25/1 2 \
  chunk-size=8192
sink sink-ring-nv12    video/x-raw,format=NV12,width=16,height=16,framerate=30/1 5 \
  mode=ring max-frames=2
sink sink-append-bgrx-capped video/x-raw,format=BGRx,width=8,height=8 4 \
  max-frames=2
# reused in place: generation 2
sink sink-append-gray8-reused video/x-raw,format=GRAY8,width=16,height=16 2 \
  chunk-size=8192
sink sink-append-gray8-reused video/x-raw,format=GRAY8,width=16,height=16 1 \
  chunk-size=8192 reuse=true

# memmapsink in a pipeline killed with SIGKILL (a live source: a few frames)
gst-launch-1.0 -q videotestsrc is-live=true ! \
  video/x-raw,format=I420,width=16,height=16,framerate=25/1 ! \
  memmapsink location="$out/sink-append-i420-killed.store" chunk-size=16384 \
  >/dev/null &
pid=$!
sleep 0.4
kill -9 "$pid"
wait "$pid" 2>/dev/null || true

rm -f "$out"/*.tmp-*
du -cb "$out"/*.store | tail -1 | awk '{printf "make-corpus: store-reader: %d bytes in ", $1}'
ls "$out"/*.store | wc -l | awk '{print $1 " seeds"}'

# cache-meta
meta=$corpus/cache-meta
mkdir -p "$meta"
rm -f "$meta"/*.meta
gst-launch-1.0 -q videotestsrc num-buffers=5 ! video/x-raw,width=16,height=16 ! \
  memmapcache cache-dir="$tmp/cache" ! fakesink >/dev/null
cp "$(find "$tmp/cache" -name meta | head -1)" "$meta/complete.meta"
gst-launch-1.0 -q videotestsrc is-live=true ! \
  video/x-raw,width=16,height=16,framerate=25/1 ! \
  memmapcache cache-dir="$tmp/killed" ! fakesink >/dev/null &
pid=$!
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
m=$(find "$tmp/killed" -name meta | head -1)
[ -n "$m" ] && cp "$m" "$meta/killed.meta"
printf '[memmapcache]\nversion=1\nstart=40000000\ncomplete=false\n' \
  > "$meta/open-ended.meta"
printf '[memmapcache]\nversion=1\nstart=0\nend=18446744073709551615\ncomplete=true\n' \
  > "$meta/end-none.meta"
printf '# a comment\n[memmapcache]\nversion=2\nstart=1\nend=2\ncomplete=true\n[other]\nkey=value\n' \
  > "$meta/other-version.meta"
ls "$meta"/*.meta | wc -l | awk '{print "make-corpus: cache-meta: " $1 " seeds"}'
