/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* memmap:///path/to/clip.store names a frame store, as file:// names a
 * file: an absolute path, percent-encoded */
#define GST_MEMMAP_URI_SCHEME "memmap"

/* what the typefinder says a frame store is */
#define GST_MEMMAP_STORE_MEDIA_TYPE "application/x-memmap-store"

G_GNUC_INTERNAL
gboolean gst_memmap_uri_has_store_magic (const guint8 * data, gsize size);

G_GNUC_INTERNAL
gboolean gst_memmap_uri_file_is_store (const gchar * path, GError ** error);

G_GNUC_INTERNAL
gchar *gst_memmap_uri_to_location (const gchar * uri, GError ** error);

G_GNUC_INTERNAL
gchar *gst_memmap_uri_from_location (const gchar * location,
    const gchar * scheme);

G_GNUC_INTERNAL
gchar *gst_memmap_uri_location_from_property (const gchar * value,
    gboolean * is_file_uri);

G_END_DECLS
