/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The typefinder of frame stores: `application/x-memmap-store`, with the
 * store format's major version as `version`.
 *
 * A store's first bytes are the format's magic (GST_MEMMAP_STORE_MAGIC,
 * docs/store-format.md) followed by the version: that is all it looks at,
 * through the check memmapsrc's URI handler uses (gstmemmapuri.c). It lets
 * gst-typefind-1.0 name a store, and makes `filesrc ! decodebin` on a
 * store fail with a missing-element message that names the type instead
 * of "Could not determine type of stream". Stores are played by memmapsrc,
 * which playbin and uridecodebin pick for a `file://` URI of a store
 * (docs/elements.md, "URIs and playbin"): no element takes this type on a
 * sink pad, since that would mean reading the frames through filesrc, a
 * copy of every frame.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapelements.h"
#include "gstmemmapuri.h"

#include <gst/memmap/gstmemmapstoreformat.h>

/* magic, then the little-endian major version (docs/store-format.md) */
#define PROBE_SIZE (GST_MEMMAP_STORE_MAGIC_SIZE + 2)

static void
memmap_store_type_find (GstTypeFind * tf, gpointer user_data)
{
  const guint8 *data = gst_type_find_peek (tf, 0, PROBE_SIZE);

  if (data == NULL || !gst_memmap_uri_has_store_magic (data, PROBE_SIZE))
    return;

  gst_type_find_suggest_simple (tf, GST_TYPE_FIND_MAXIMUM,
      GST_MEMMAP_STORE_MEDIA_TYPE, "version", G_TYPE_INT,
      (gint) GST_READ_UINT16_LE (data + GST_MEMMAP_STORE_MAGIC_SIZE), NULL);
}

static gboolean
memmap_store_type_find_register (GstPlugin * plugin)
{
  GstCaps *caps = gst_caps_new_empty_simple (GST_MEMMAP_STORE_MEDIA_TYPE);
  gboolean ret;

  ret = gst_type_find_register (plugin, "memmap-store", GST_RANK_PRIMARY,
      memmap_store_type_find, "store", caps, NULL, NULL);
  gst_caps_unref (caps);
  return ret;
}

GST_TYPE_FIND_REGISTER_DEFINE_CUSTOM (memmap_store,
    memmap_store_type_find_register);
