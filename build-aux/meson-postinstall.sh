#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run by `meson install` (meson.add_install_script): refreshes the dynamic
# linker's cache, so that programs without a RUNPATH (python3 loading
# libgstmemmap-1.0 through the GstMemmap typelib, your own programs) find
# the library, and prints the line of environment this prefix needs.
#
# Usage: meson-postinstall.sh PREFIX LIBDIR BINDIR PYTHONDIR
# (LIBDIR and BINDIR relative to PREFIX or absolute; PYTHONDIR absolute)
set -u
prefix=$1
case $2 in /*) libdir=$2 ;; *) libdir=$prefix/$2 ;; esac
case $3 in /*) bindir=$3 ;; *) bindir=$prefix/$3 ;; esac
pydir=$4

# a staged install (DESTDIR, packaging) leaves the cache to the package
# manager
if [ -n "${DESTDIR:-}" ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v ldconfig > /dev/null 2>&1; then
  ldconfig || echo "gst-memmap: ldconfig failed (ignored)" >&2
fi

[ "$prefix" = /usr ] && exit 0

vars="GST_PLUGIN_PATH=$libdir/gstreamer-1.0"
vars="$vars GI_TYPELIB_PATH=$libdir/girepository-1.0"
if ! /sbin/ldconfig -p 2>/dev/null | grep -q "=> $libdir/libgstmemmap-1.0.so"; then
  vars="$vars LD_LIBRARY_PATH=$libdir"
fi
if [ -n "$pydir" ] && ! /usr/bin/python3 -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' "$pydir" 2>/dev/null; then
  vars="$vars PYTHONPATH=$pydir"
fi
case ":/usr/local/bin:/usr/bin:/bin:" in
  *":$bindir:"*) ;;
  *) vars="$vars PATH=$bindir:\$PATH" ;;
esac

cat <<MSG

gst-memmap is installed under $prefix, where GStreamer and GObject
introspection do not look by themselves. Add this line to ~/.profile (or
run it in each shell) to use the plugin, the GstMemmap typelib, the Python
package and the tools:

export $vars

MSG
