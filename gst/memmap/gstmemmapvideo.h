/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* Video helpers that the frames API and the elements share: which raw
 * video a frame store can hold, and the two ways two GstVideoInfo can be
 * "laid out the same".
 *
 * PRIVATE API of libgstmemmap: exported for the memmap plugin and the
 * tests of this tree only; the header is not installed and nothing here is
 * stable. */

/* video/x-raw in every format a frame store can hold: GstVideoInfo lays
 * them out as planes of rows (all of gst_video_formats_raw() but the tiled
 * and the paletted formats, docs/store-format.md), any size and frame
 * rate. With @alternate, also the same with interlace-mode=alternate (a
 * field per buffer, caps feature format:Interlaced). */
GST_MEMMAP_API
GstCaps *gst_memmap_video_store_caps (gboolean alternate);

/* The same frame: same format, width, height, size, and the same offset
 * and stride of every plane. A frame of @a fits a slot laid out as @b as it
 * is, and means the same pixels there. */
GST_MEMMAP_API
gboolean gst_memmap_video_info_same_frame_layout (const GstVideoInfo * a,
    const GstVideoInfo * b);

/* The same bytes: the same size, and the same offset and stride of each of
 * @a's planes, whatever the format and dimensions say. A buffer laid out
 * as @b can be read as @a without a copy (memmapsrc: the store's layout
 * against the caps'). */
GST_MEMMAP_API
gboolean gst_memmap_video_info_same_plane_layout (const GstVideoInfo * a,
    const GstVideoInfo * b);

/* The same picture: same format, width, height and planes, whatever the
 * plane offsets and strides (a store whose slots are padded for a
 * decoder, docs/design.md "Decoding into the slots", holds the pictures
 * of caps laid out by default). */
GST_MEMMAP_API
gboolean gst_memmap_video_info_same_picture (const GstVideoInfo * a,
    const GstVideoInfo * b);

G_END_DECLS
