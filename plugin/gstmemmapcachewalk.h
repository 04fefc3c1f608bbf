/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* What memmapcache finds upstream of its sink pad (docs/design.md): the
 * video decoder whose packets it may drop, and the processing between that
 * decoder (or the source) and the cache, which is part of the stream's
 * identity. */
typedef struct
{
  GstElement *decoder;          /* (nullable) a GstVideoDecoder */
  GstPad *decoder_sink;         /* (nullable) its sink pad */
  gchar *chain;                 /* the elements between it and the cache
                                 * that may change pixels, with their
                                 * non-default properties; "" if none */
} GstMemmapCacheWalk;

G_GNUC_INTERNAL
void gst_memmap_cache_walk_upstream (GstPad * sinkpad,
    GstMemmapCacheWalk * walk);

G_GNUC_INTERNAL
void gst_memmap_cache_walk_clear (GstMemmapCacheWalk * walk);

G_END_DECLS
