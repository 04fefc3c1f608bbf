/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The slots of a GstMemmapSlotStore laid out as a producer asks through
 * GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT (docs/design.md, "Decoding into the
 * slots"): the padded layout computed as GstVideoBufferPool would, and the
 * store opened again with it while no slot was taken from it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapslotpoolprivate.h"

#include <gst/memmap/gstmemmapvideo.h>

#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_slot_pool_debug

/**
 * gst_memmap_slot_store_allow_relayout:
 * @store: a #GstMemmapSlotStore
 * @engine: the engine the writer was opened with
 * @caps: the caps the writer was opened with
 * @chunk_bytes: the chunk size the writer was opened with (0: default)
 * @flags: the flags the writer was opened with
 *
 * Lets a slot pool of @store open the store again, empty, with the padded
 * layout a producer asks for through %GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT
 * (a decoder that renders into the slots), as long as no slot was acquired
 * from it. The file at the store's path is then replaced by a new store of
 * the same mode and capacity whose header records the padded plane offsets
 * and strides (docs/design.md, "Decoding into the slots"). An element that
 * reads the store's file itself opens it again when
 * gst_memmap_slot_store_get_generation() moves.
 */
void
gst_memmap_slot_store_allow_relayout (GstMemmapSlotStore * store,
    GstMemmapEngine * engine, GstCaps * caps, guint64 chunk_bytes,
    GstMemmapStoreWriterFlags flags)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (GST_IS_MEMMAP_ENGINE (engine));
  g_return_if_fail (GST_IS_CAPS (caps));

  g_mutex_lock (&store->lock);
  gst_object_replace ((GstObject **) & store->engine, GST_OBJECT (engine));
  gst_caps_replace (&store->caps, caps);
  store->chunk_bytes = chunk_bytes;
  /* a store made again is new: nothing of the old file is worth reusing */
  store->flags = flags & ~GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  store->may_relayout = TRUE;
  g_mutex_unlock (&store->lock);
}

/**
 * gst_memmap_slot_store_get_generation:
 * @store: a #GstMemmapSlotStore
 *
 * Returns: how many times the store was opened again with another layout
 *   (0 at first): the file at its path is another one since
 */
guint
gst_memmap_slot_store_get_generation (GstMemmapSlotStore * store)
{
  guint ret;

  g_mutex_lock (&store->lock);
  ret = store->generation;
  g_mutex_unlock (&store->lock);

  return ret;
}

/* Opens a new writer at the store's path with @layout, in @mode with
 * @max_frames and @spare_slots: those of the writer closed before (the
 * file is locked by one writer at a time, until that writer is freed). */
static GstMemmapStoreWriter *
reopen_writer (GstMemmapSlotStore * store, const GstVideoInfo * layout,
    GstMemmapStoreMode mode, guint64 max_frames, guint spare_slots,
    GError ** error)
{
  return gst_memmap_store_writer_new_full (store->engine, store->path,
      store->caps, layout, mode, max_frames, spare_slots, store->chunk_bytes,
      store->flags, error);
}

/* Whether the store's slots are laid out as @layout, opening the store
 * again with it if allowed and untouched. On failure to open the new
 * store, the old layout is opened again; if even that fails the store is
 * closed (acquiring and committing fail with its error). */
gboolean
gst_memmap_slot_store_ensure_layout (GstMemmapSlotStore * store,
    const GstVideoInfo * layout)
{
  GstMemmapStoreWriter *old, *writer;
  GstMemmapStoreMode mode;
  guint64 max_frames;
  guint spare_slots;
  GError *error = NULL;
  gboolean ret = FALSE;

  g_mutex_lock (&store->lock);
  if (gst_memmap_video_info_same_frame_layout (layout, &store->layout)) {
    ret = TRUE;
    goto out;
  }
  if (!store->may_relayout || store->touched || store->writer == NULL ||
      store->users > 0 || store->committed > 0)
    goto out;

  old = store->writer;
  mode = gst_memmap_store_writer_get_mode (old);
  max_frames = gst_memmap_store_writer_get_max_frames (old);
  spare_slots = gst_memmap_store_writer_get_spare_slots (old);
  if (!gst_memmap_store_writer_close (old, &error)) {
    GST_WARNING ("%s: closing to lay it out again: %s", store->path,
        error->message);
    g_clear_error (&error);
  }
  /* nothing else holds it (no slot was acquired): this lets the file go */
  gst_memmap_store_writer_unref (old);
  writer = reopen_writer (store, layout, mode, max_frames, spare_slots, &error);
  if (writer == NULL) {
    GST_WARNING ("%s: could not lay the store out again (%s): keeping the "
        "layout of the caps", store->path, error->message);
    g_clear_error (&error);
    writer = reopen_writer (store, &store->layout, mode, max_frames,
        spare_slots, &error);
  } else {
    GST_INFO ("%s: slots laid out again for the producer: %" G_GSIZE_FORMAT
        " bytes a frame, strides %d %d %d %d", store->path,
        GST_VIDEO_INFO_SIZE (layout), GST_VIDEO_INFO_PLANE_STRIDE (layout, 0),
        GST_VIDEO_INFO_PLANE_STRIDE (layout, 1),
        GST_VIDEO_INFO_PLANE_STRIDE (layout, 2),
        GST_VIDEO_INFO_PLANE_STRIDE (layout, 3));
    store->layout = *gst_memmap_store_writer_get_layout (writer);
    ret = TRUE;
  }
  store->writer = writer;
  store->generation++;
  if (writer == NULL) {
    GST_WARNING ("%s: the store is closed: %s", store->path, error->message);
    g_clear_error (&error);
  }

out:
  g_mutex_unlock (&store->lock);
  return ret;
}

gboolean
gst_memmap_slot_pool_same_plane_layout (const GstVideoInfo * a,
    const GstVideoInfo * b)
{
  guint i;

  if (GST_VIDEO_INFO_SIZE (a) != GST_VIDEO_INFO_SIZE (b))
    return FALSE;
  for (i = 0; i < GST_VIDEO_INFO_N_PLANES (a); i++) {
    if (GST_VIDEO_INFO_PLANE_OFFSET (a, i) !=
        GST_VIDEO_INFO_PLANE_OFFSET (b, i) ||
        GST_VIDEO_INFO_PLANE_STRIDE (a, i) != GST_VIDEO_INFO_PLANE_STRIDE (b,
            i))
      return FALSE;
  }

  return TRUE;
}

/* The layout a producer that asks for @align (its padding and stride
 * alignment) renders @info in, as GstVideoBufferPool lays it out: every
 * stride aligned to the largest alignment asked for, the allocation's
 * included (but for a page alignment, see below). FALSE if @info cannot be
 * aligned so. */
gboolean
gst_memmap_slot_pool_aligned_layout (GstStructure * config,
    const GstVideoInfo * info, GstVideoAlignment * align,
    GstVideoInfo * aligned)
{
  GstAllocationParams params;
  GstAllocator *allocator = NULL;
  guint n, max_align;

  gst_allocation_params_init (&params);
  gst_buffer_pool_config_get_allocator (config, &allocator, &params);
  if (!gst_buffer_pool_config_get_video_alignment (config, align))
    return FALSE;

  /* the page alignment the elements propose is that of a slot's start,
   * which every slot has: it does not make strides of a page */
  max_align = params.align < (gsize) getpagesize () - 1 ? params.align : 0;
  for (n = 0; n < GST_VIDEO_MAX_PLANES; n++)
    max_align |= align->stride_align[n];
  for (n = 0; n < GST_VIDEO_MAX_PLANES; n++)
    align->stride_align[n] = max_align;

  *aligned = *info;
  return gst_video_info_align (aligned, align);
}
