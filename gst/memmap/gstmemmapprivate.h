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

G_END_DECLS
