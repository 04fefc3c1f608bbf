/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_debug);

/* gstmemmapengine.c, for the frame store: open() that, when the process
 * is out of file descriptors, gives back those of the engine's unused
 * cached mappings and tries once more; and the reservation of
 * gst_memmap_engine_reserve_file() through a descriptor the caller holds
 * (so that nothing is looked up by name again). @path only names the file
 * in errors. Include memmap.h first. */
G_GNUC_INTERNAL
gint gst_memmap_engine_open (GstMemmapEngine * engine, const gchar * path,
    gint flags, guint mode);

G_GNUC_INTERNAL
gboolean gst_memmap_engine_reserve_fd (GstMemmapEngine * engine, gint fd,
    const gchar * path, guint64 size, GError ** error);

/* gst_memmap_engine_map_range() through @fd (it stays the caller's; a new
 * mapping keeps a duplicate of it), from the caller's window [@window_offset, + @window_size)
 * (page-aligned; clipped to the file) instead of the engine's standard one,
 * as long as it holds the range and fits the budget.
 *
 * The frame store maps its windows this way: windows that hold whole slots
 * (no frame needs a mapping of its own) and a fixed number of them (the
 * cost per frame does not grow with the frame size); and windows that
 * share one open file, and with it the kernel's readahead state, so that
 * the faults that fill a store sequentially keep growing the page cache's
 * folios (a new open() per window starts again from small ones, and every
 * later reader pays one page fault per small folio). */
G_GNUC_INTERNAL
GstMemmapMapping *gst_memmap_engine_map_window_fd (GstMemmapEngine * engine,
    gint fd, const gchar * path, guint64 window_offset, guint64 window_size,
    guint64 offset, guint64 size, GstMemmapMapFlags flags, GError ** error);

/* gstmemmapengine.c: the bytes of [@addr, + @size) (a mapping of this
 * process) that are private copies of the file's pages: the written pages
 * of a copy-on-write mapping. */
G_GNUC_INTERNAL
guint64 gst_memmap_engine_private_bytes (gconstpointer addr, gsize size);

G_END_DECLS
