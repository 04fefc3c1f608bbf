/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * plugin-memmap:
 *
 * Zero-copy memory-mapped frame stores: record decoded frames into a file
 * (memmapsink), serve them back without copying (memmapsrc) and cache a
 * decoder's output for every later pass (memmapcache), keep only the whole
 * frames of raw video received over RTP (memmaprtpframefilter); memmapsrc plays
 * `memmap://` and `file://` URIs of stores (playbin, uridecodebin), and
 * the `memmap-store` typefinder recognises stores.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/memmap/memmap.h>
#include "gstmemmapelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  gst_memmap_init ();

  ret |= GST_ELEMENT_REGISTER (memmapsink, plugin);
  ret |= GST_ELEMENT_REGISTER (memmapsrc, plugin);
  ret |= GST_ELEMENT_REGISTER (memmapcache, plugin);
  ret |= GST_ELEMENT_REGISTER (memmaprtpframefilter, plugin);
  ret |= GST_TYPE_FIND_REGISTER (memmap_store, plugin);

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, memmap,
    "Zero-copy memory-mapped video frame stores", plugin_init, VERSION,
    GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
