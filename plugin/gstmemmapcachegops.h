/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* GstMemmapCacheGops: what memmapcache knows of a stream's structure,
 * beyond its frames (docs/design.md#memmapcache):
 *
 * - keys: the pts of the keyframe packets seen at the decoder's sink pad,
 *   sorted. Two keys in a row make a GOP range [K, K'); the last key's range
 *   runs to the end of the stream.
 * - covers: intervals [first, last] of frame pts such that every frame the
 *   decoder gives with a pts in the interval is in the cache: frames that
 *   went downstream one after the other, in one segment without a flush,
 *   each of them cached. An interval marked `eos` ends with the stream's
 *   last frame. `frames` is how many cached frames it holds, checked when
 *   the file is read back against the stores.
 *
 * A GOP range is *covered* when one interval holds it whole: from K to K'
 * (the frame at K' included), or from K to the end of the stream.
 *
 * Kept as the text file `gops` in the stream's entry directory. Plain C,
 * not thread-safe. */
typedef struct
{
  GstClockTime first;
  GstClockTime last;
  guint64 frames;
  gboolean eos;
} GstMemmapCacheCover;

typedef struct
{
  GArray *keys;                 /* GstClockTime, sorted, unique */
  GArray *covers;               /* GstMemmapCacheCover, sorted, disjoint */
  gboolean dirty;               /* changed since read or written */
} GstMemmapCacheGops;

G_GNUC_INTERNAL
GstMemmapCacheGops *gst_memmap_cache_gops_new (void);

G_GNUC_INTERNAL
void gst_memmap_cache_gops_free (GstMemmapCacheGops * gops);

G_GNUC_INTERNAL
void gst_memmap_cache_gops_add_key (GstMemmapCacheGops * gops,
    GstClockTime pts);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_gops_find_range (GstMemmapCacheGops * gops,
    GstClockTime pts, GstClockTime * key, GstClockTime * next_key);

G_GNUC_INTERNAL
void gst_memmap_cache_gops_cover (GstMemmapCacheGops * gops,
    GstClockTime first, GstClockTime last, gboolean eos);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_gops_is_covered (GstMemmapCacheGops * gops,
    GstClockTime key, GstClockTime next_key);

G_GNUC_INTERNAL
GstMemmapCacheCover *gst_memmap_cache_gops_find_cover (GstMemmapCacheGops *
    gops, GstClockTime pts);

G_GNUC_INTERNAL
void gst_memmap_cache_gops_read (GstMemmapCacheGops * gops,
    const gchar * path);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_gops_write (GstMemmapCacheGops * gops,
    const gchar * path, GError ** error);

G_END_DECLS
