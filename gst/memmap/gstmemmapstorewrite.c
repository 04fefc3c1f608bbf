/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst_memmap_store_writer_write() and gst_memmap_store_writer_write_buffer():
 * one frame from bytes or from a buffer, copied into a slot and committed,
 * for callers that do not own a slot pool (tools, tests, bindings: Python
 * cannot write into a GstMemory without gst-python's overrides).
 *
 * Built on the writer's public slot API only (acquire, slot memory,
 * commit, release): the zero-copy path stays memmapsink's pool. A slot is
 * either committed or released before these return, never left acquired.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"

#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* The slot's memory in a buffer with the layout's video meta, mapped as a
 * video frame for writing. */
static gboolean
map_slot (GstMemmapStoreWriter * writer, GstMemory * mem, GstVideoFrame * frame)
{
  const GstVideoInfo *layout = gst_memmap_store_writer_get_layout (writer);
  GstBuffer *buf = gst_buffer_new ();
  gboolean ret;

  gst_buffer_append_memory (buf, gst_memory_ref (mem));
  ret = gst_video_frame_map (frame, layout, buf, GST_MAP_WRITE);
  gst_buffer_unref (buf);       /* the frame holds its own ref */
  return ret;
}

/* Acquires a slot and its memory; the slot is released on failure. */
static GstMemory *
acquire (GstMemmapStoreWriter * writer, guint64 * slot, GError ** error)
{
  GstMemory *mem;

  if (!gst_memmap_store_writer_acquire_slot (writer, slot, error))
    return NULL;
  mem = gst_memmap_store_writer_get_slot_memory (writer, NULL, *slot, error);
  if (mem == NULL)
    gst_memmap_store_writer_release_slot (writer, *slot);
  return mem;
}

/* Commits @slot, or releases it if the commit fails. Drops @mem. */
static gboolean
commit (GstMemmapStoreWriter * writer, guint64 slot, GstMemory * mem,
    GstClockTime pts, GstClockTime duration, guint32 flags, GError ** error)
{
  gboolean ret;

  ret = gst_memmap_store_writer_commit (writer, slot, pts, duration, flags,
      error);
  if (!ret)
    gst_memmap_store_writer_release_slot (writer, slot);
  gst_memory_unref (mem);
  return ret;
}

/**
 * gst_memmap_store_writer_write:
 * @writer: a #GstMemmapStoreWriter
 * @data: (array length=size) (element-type guint8): the frame's bytes, laid
 *   out as the writer's layout says (gst_memmap_store_writer_get_layout())
 * @size: the size of @data: the layout's frame size
 * @pts: presentation timestamp, or %GST_CLOCK_TIME_NONE
 * @duration: duration, or %GST_CLOCK_TIME_NONE
 * @flags: #GstMemmapStoreFrameFlags
 * @error: return location for a #GError, or %NULL
 *
 * Copies @data into a free slot and commits it as the store's next frame
 * (gst_memmap_store_writer_acquire_slot(), then
 * gst_memmap_store_writer_commit()). For writers without a slot pool, such
 * as bindings; memmapsink writes its frames in place instead.
 *
 * Fails with %GST_MEMMAP_ERROR_INVALID_ARGUMENT when @size is not the
 * layout's frame size, and as acquiring or committing fails otherwise; no
 * slot stays acquired.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
gst_memmap_store_writer_write (GstMemmapStoreWriter * writer,
    const guint8 * data, gsize size, GstClockTime pts, GstClockTime duration,
    guint32 flags, GError ** error)
{
  const GstVideoInfo *layout;
  GstMemory *mem;
  GstMapInfo map;
  guint64 slot;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (data != NULL || size == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  layout = gst_memmap_store_writer_get_layout (writer);
  if (size != GST_VIDEO_INFO_SIZE (layout))
    goto wrong_size;

  mem = acquire (writer, &slot, error);
  if (mem == NULL)
    return FALSE;
  if (!gst_memory_map (mem, &map, GST_MAP_WRITE)) {
    gst_memmap_store_writer_release_slot (writer, slot);
    gst_memory_unref (mem);
    goto map_failed;
  }
  memcpy (map.data, data, size);
  gst_memory_unmap (mem, &map);

  return commit (writer, slot, mem, pts, duration, flags, error);

  /* ERRORS */
wrong_size:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': a frame of %" G_GSIZE_FORMAT " bytes, the layout's "
        "frame size is %" G_GSIZE_FORMAT,
        gst_memmap_store_writer_get_path (writer), size,
        GST_VIDEO_INFO_SIZE (layout));
    return FALSE;
  }
map_failed:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Frame store '%s': could not map a slot for writing",
        gst_memmap_store_writer_get_path (writer));
    return FALSE;
  }
}

/**
 * gst_memmap_store_writer_write_buffer:
 * @writer: a #GstMemmapStoreWriter
 * @buffer: a video frame of the store's format and size: laid out as its
 *   #GstVideoMeta says, or in the default layout of the format when it has
 *   none
 * @error: return location for a #GError, or %NULL
 *
 * Copies @buffer into a free slot, in the writer's layout
 * (gst_video_frame_copy()), and commits it as the store's next frame with
 * the buffer's PTS, duration and flags
 * (gst_memmap_store_frame_flags_from_buffer()).
 *
 * Fails with %GST_MEMMAP_ERROR_INVALID_ARGUMENT when @buffer is not a frame
 * of the store's format and size, and as acquiring or committing fails
 * otherwise; no slot stays acquired.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.2
 */
gboolean
gst_memmap_store_writer_write_buffer (GstMemmapStoreWriter * writer,
    GstBuffer * buffer, GError ** error)
{
  const GstVideoInfo *layout;
  GstVideoInfo in_info;
  GstVideoFrame in, out;
  GstMemory *mem;
  gboolean copied;
  guint64 slot;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (GST_IS_BUFFER (buffer), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  layout = gst_memmap_store_writer_get_layout (writer);
  gst_video_info_set_interlaced_format (&in_info,
      GST_VIDEO_INFO_FORMAT (layout), GST_VIDEO_INFO_INTERLACE_MODE (layout),
      GST_VIDEO_INFO_WIDTH (layout), GST_VIDEO_INFO_HEIGHT (layout));
  if (!gst_video_frame_map (&in, &in_info, buffer, GST_MAP_READ))
    goto not_a_frame;

  mem = acquire (writer, &slot, error);
  if (mem == NULL) {
    gst_video_frame_unmap (&in);
    return FALSE;
  }
  copied = map_slot (writer, mem, &out);
  if (copied) {
    copied = gst_video_frame_copy (&out, &in);
    gst_video_frame_unmap (&out);
  }
  gst_video_frame_unmap (&in);
  if (!copied) {
    gst_memmap_store_writer_release_slot (writer, slot);
    gst_memory_unref (mem);
    goto copy_failed;
  }

  return commit (writer, slot, mem, GST_BUFFER_PTS (buffer),
      GST_BUFFER_DURATION (buffer),
      gst_memmap_store_frame_flags_from_buffer (buffer), error);

  /* ERRORS */
not_a_frame:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': the buffer of %" G_GSIZE_FORMAT " bytes is not a "
        "%s %dx%d frame", gst_memmap_store_writer_get_path (writer),
        gst_buffer_get_size (buffer),
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (layout)),
        GST_VIDEO_INFO_WIDTH (layout), GST_VIDEO_INFO_HEIGHT (layout));
    return FALSE;
  }
copy_failed:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Frame store '%s': could not copy a frame into a slot",
        gst_memmap_store_writer_get_path (writer));
    return FALSE;
  }
}
