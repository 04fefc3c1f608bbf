/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmap
 * @title: libgstmemmap
 * @short_description: zero-copy memory-mapped video frames
 *
 * libgstmemmap holds the mapping engine (#GstMemmapEngine), the allocator
 * whose memory are regions of the engine's mappings (#GstMemmapAllocator) and
 * the on-disk frame store. Call gst_memmap_init() once after gst_init().
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"

GST_DEBUG_CATEGORY (gst_memmap_debug);

/**
 * gst_memmap_init:
 *
 * Initialises the library's debug category and registers its types. Safe to
 * call more than once and from several threads. Calls gst_init() first when
 * GStreamer is not initialised yet (bindings that import the library before
 * Gst would otherwise register the engine's properties before GStreamer's
 * types exist, and GLib prints assertion warnings).
 */
void
gst_memmap_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    if (!gst_is_initialized ())
      gst_init (NULL, NULL);
    GST_DEBUG_CATEGORY_INIT (gst_memmap_debug, "memmap", 0,
        "gst-memmap library");
    g_type_class_unref (g_type_class_ref (GST_TYPE_MEMMAP_ENGINE));
    g_type_class_unref (g_type_class_ref (GST_TYPE_MEMMAP_ALLOCATOR));
    g_once_init_leave (&done, 1);
  }
}
