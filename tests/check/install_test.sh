#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The installed gst-memmap, used as a user would: `meson install` of this
# build into a temporary DESTDIR, then, in fresh shells (`env -i`: none of
# the build tree's variables) started in a directory outside the tree:
# gst-inspect-1.0 memmap, gst-launch-1.0 ... memmapsink / memmapsrc,
# playbin and the discoverer on a store's file:// URI, the gst-memmap tool,
# python3's `from gi.repository import GstMemmap`, gstmemmap_numpy and the
# gstmemmap package.
#
# 1. The staged tree as a prefix of its own: the plugin and the tools must
#    find the library through their RUNPATH alone (no LD_LIBRARY_PATH);
#    python3 gets the line of environment docs/guide.md gives for another
#    prefix.
# 2. When a mount namespace can be had (unshare -m, as root or in a user
#    namespace), the staged /usr/local is mounted on /usr/local (or the
#    staged /usr laid over /usr, for -Dprefix=/usr) and the dynamic
#    linker's cache rebuilt as `meson install`'s ldconfig would: then only
#    the line docs/guide.md gives for /usr/local is set (nothing for /usr),
#    and everything must work (skipped, with the reason, otherwise).
#
# Usage: install_test.sh BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR BINDIR PYDIR
set -eu

BUILD=$1 SOURCE=$2 PREFIX=$3 LIBDIR=$4 BINDIR=$5 PYDIR=$6
if [ -n "${MEMMAP_INSTALL_SKIP:-}" ]; then
  echo "skip  the install test: $MEMMAP_INSTALL_SKIP"
  exit 77
fi
HAVE_GI=${MEMMAP_HAVE_GI:-1}
case $LIBDIR in /*) ;; *) LIBDIR=$PREFIX/$LIBDIR ;; esac
case $BINDIR in /*) ;; *) BINDIR=$PREFIX/$BINDIR ;; esac

T=$(mktemp -d "${TMPDIR:-/tmp}/gst-memmap-install-XXXXXX")
trap 'rm -rf "$T"' EXIT
STAGE=$T/stage
failures=0

ok () { echo "ok    $*"; }
fail () { echo "FAIL  $*"; failures=$((failures + 1)); }

meson install -C "$BUILD" --destdir "$STAGE" --no-rebuild --quiet \
  > "$T/install.log" 2>&1 || { cat "$T/install.log"; echo "FAIL  meson install"; exit 1; }
ok "meson install --destdir"

# --- the layout ---------------------------------------------------------
installed=("$LIBDIR/gstreamer-1.0/libgstmemmap.so"
  "$LIBDIR/libgstmemmap-1.0.so.0" "$LIBDIR/pkgconfig/gstreamer-memmap-1.0.pc"
  "$BINDIR/gst-memmap" "$PYDIR/gstmemmap_numpy.py")
if [ "$HAVE_GI" = 1 ]; then
  installed+=("$LIBDIR/girepository-1.0/GstMemmap-1.0.typelib"
    "$PREFIX/share/gir-1.0/GstMemmap-1.0.gir")
else
  echo "skip  the typelib and python3's GstMemmap: built with introspection off"
fi
for f in "${installed[@]}"; do
  if [ -e "$STAGE$f" ]; then ok "installed $f"; else fail "missing $f"; fi
done
if [ -d "$SOURCE/gst/python/gstmemmap" ]; then
  HAVE_PACKAGE=1
  if [ -e "$STAGE$PYDIR/gstmemmap/__init__.py" ]; then
    ok "installed the gstmemmap package in $PYDIR"
  else
    fail "missing $PYDIR/gstmemmap/__init__.py"
  fi
else
  HAVE_PACKAGE=0
  echo "skip  the gstmemmap package: gst/python/gstmemmap is not in this tree"
fi
# where Debian's python3 looks, for the prefixes it knows
case $PREFIX in
  /usr|/usr/local)
    if /usr/bin/python3 -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' "$PYDIR"; then
      ok "$PYDIR is on /usr/bin/python3's sys.path"
    else
      fail "$PYDIR is not on /usr/bin/python3's sys.path"
    fi ;;
esac

# --- a video file and what every run does with it -------------------------
mkdir -p "$T/work" "$T/home"
gst-launch-1.0 -q videotestsrc num-buffers=20 ! \
  video/x-raw,format=I420,width=160,height=120,framerate=20/1 ! \
  x264enc ! mp4mux ! filesink location="$T/work/clip.mp4" 2> /dev/null || {
  echo "skip  x264enc is missing: no clip to ingest"; }

cat > "$T/use.sh" <<'EOF'
set -eu
cd "$WORK"
gst-inspect-1.0 memmap > inspect.txt
grep -q 'memmapsrc' inspect.txt && grep -q 'memmap-store' inspect.txt
gst-launch-1.0 -q videotestsrc num-buffers=30 ! \
  video/x-raw,format=NV12,width=160,height=120,framerate=30/1 ! \
  memmapsink location=rec.store
gst-launch-1.0 -q memmapsrc location=rec.store ! fakesink
gst-memmap info rec.store | grep -q 'frames:      30 '
gst-memmap verify rec.store > /dev/null
gst-launch-1.0 -q playbin uri="file://$WORK/rec.store" video-sink=fakesink
gst-launch-1.0 -q playbin uri="memmap://$WORK/rec.store" video-sink=fakesink
if command -v gst-discoverer-1.0 > /dev/null; then
  gst-discoverer-1.0 "file://$WORK/rec.store" > disc.txt
  grep -q 'Duration: 0:00:01.000000000' disc.txt
  grep -q 'Seekable: yes' disc.txt
fi
if [ -e clip.mp4 ]; then
  gst-memmap ingest clip.mp4 -o clip.store --count 0 --format GRAY8
  gst-memmap info clip.store | grep -q 'frames:      20 '
fi
EOF

cat > "$T/use.py" <<'EOF'
import os, sys
import gi
if os.environ['HAVE_GI'] == '1':
    gi.require_version('Gst', '1.0')
    gi.require_version('GstMemmap', '1.0')
    from gi.repository import Gst, GstMemmap
    Gst.init(None)
    GstMemmap.init()
    engine = GstMemmap.Engine.get_default()
    m = engine.map_file('rec.store', GstMemmap.MapFlags.NONE)
    assert m.get_size() > 0
import gstmemmap_numpy as gmn
st = gmn.Store('rec.store')
assert st.committed() == 30, st.committed()
y, uv = st.frame(29)
assert y.shape == (120, 160), y.shape
if os.environ['HAVE_PACKAGE'] == '1':
    import gstmemmap
    assert os.path.dirname(gstmemmap.__file__).startswith(os.environ['PYDIR'])
print('python: gstmemmap_numpy from', os.path.dirname(gmn.__file__))
assert os.path.dirname(gmn.__file__) == os.environ['PYDIR'], gmn.__file__
EOF

# env -i: a fresh login-like shell, nothing of the build tree or of the
# test environment (GST_PLUGIN_PATH_1_0, GST_REGISTRY, LD_LIBRARY_PATH...)
fresh () {
  env -i HOME="$T/home" LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin \
    WORK="$T/work" HAVE_PACKAGE=$HAVE_PACKAGE HAVE_GI=$HAVE_GI "$@"
}

# --- 1. the staged tree as a prefix of its own ----------------------------
P=$STAGE
# under /usr the plugin and the tools have no RUNPATH (the system's library
# directory is searched): the staged copy needs LD_LIBRARY_PATH then
libpath=()
how="plugin and tools through their RUNPATH, no LD_LIBRARY_PATH"
if [ "$PREFIX" = /usr ]; then
  libpath=(LD_LIBRARY_PATH="$P$LIBDIR")
  how="prefix /usr: no RUNPATH, the staged library through LD_LIBRARY_PATH"
fi
if fresh GST_PLUGIN_PATH="$P$LIBDIR/gstreamer-1.0" PATH="$P$BINDIR:/usr/bin:/bin" \
    "${libpath[@]}" bash "$T/use.sh" > "$T/use1.log" 2>&1; then
  ok "staged prefix: gst-inspect, gst-launch, playbin, discoverer, gst-memmap" \
    "($how)"
else
  cat "$T/use1.log"; fail "staged prefix: the plugin and the tools"
fi
if fresh GI_TYPELIB_PATH="$P$LIBDIR/girepository-1.0" LD_LIBRARY_PATH="$P$LIBDIR" \
    PYTHONPATH="$P$PYDIR" PYDIR="$P$PYDIR" \
    sh -c 'cd "$WORK" && exec /usr/bin/python3 "$1"' sh "$T/use.py" \
    > "$T/py1.log" 2>&1; then
  ok "staged prefix: python3 (gstmemmap_numpy, gstmemmap$([ "$HAVE_GI" = 1 ] && echo ", GstMemmap"))"
else
  cat "$T/py1.log"; fail "staged prefix: python3"
fi

# --- 2. installed in place, with only the docs' line -----------------------
# /usr/local: the staged tree mounted on /usr/local, with the line
# docs/guide.md gives; /usr: the staged tree laid over /usr (overlayfs),
# with nothing set. Both with the linker cache rebuilt as meson install's
# ldconfig does, in a mount namespace of their own.
line=$(grep -m1 '^export GST_PLUGIN_PATH=/usr/local/' "$SOURCE/docs/guide.md" || true)
case $PREFIX in
  /usr/local) mount_cmd="mount --bind '$STAGE/usr/local' /usr/local" ;;
  /usr) mount_cmd="mount -t overlay overlay -o 'lowerdir=$STAGE/usr:/usr' /usr"
    line=": nothing to set under /usr" ;;
  *) mount_cmd= ;;
esac
if [ -z "$mount_cmd" ]; then
  echo "skip  the installed-in-place check: this build's prefix is $PREFIX"
elif [ -z "$line" ]; then
  fail "docs/guide.md gives no 'export GST_PLUGIN_PATH=/usr/local/...' line"
elif ! unshare -m true 2> /dev/null && ! unshare -rm true 2> /dev/null; then
  echo "skip  the installed-in-place check: no mount namespace (unshare -m) here"
else
  ns=(unshare -m)
  unshare -m true 2> /dev/null || ns=(unshare -rm)
  echo "      the docs' line: $line"
  cat > "$T/ns.sh" <<EOF
set -eu
$mount_cmd
# ldconfig writes its aux cache under /var/cache/ldconfig: a private one
mount -t tmpfs tmpfs /var/cache/ldconfig 2> /dev/null || true
ldconfig -i -C "$T/ld.so.cache"
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
env -i HOME="$T/home2" LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin \\
  WORK="$T/work" HAVE_PACKAGE=$HAVE_PACKAGE HAVE_GI=$HAVE_GI PYDIR="$PYDIR" \\
  bash -c '
  $line
  bash "$T/use.sh" && cd "\$WORK" && /usr/bin/python3 "$T/use.py"'
EOF
  mkdir -p "$T/home2"
  if "${ns[@]}" bash "$T/ns.sh" > "$T/use2.log" 2>&1; then
    ok "installed in $PREFIX, with only the docs' line: everything"
  else
    cat "$T/use2.log"; fail "installed in $PREFIX with the docs' line"
  fi
fi

if [ $failures -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
