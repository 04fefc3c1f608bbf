/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a store keeps of one frame besides its bytes
 * (docs/store-format.md): the frame checksum of format 1.1, the mapping
 * between buffer flags and the index entry's frame flags, and the hole
 * punching that gives the blocks of an empty slot back to the file system.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* XXH3 inlined: no run-time dependency, and the compiler sees the loop */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* The frame checksum of format 1.1: XXH3 64-bit, seed 0, of the frame's
 * frame_size bytes (docs/store-format.md). */
guint64
gst_memmap_store_checksum (const guint8 * data, gsize size)
{
  return (guint64) XXH3_64bits (data, size);
}

/* Large folios of the page cache: the writer's mappings ask for 2 MiB
 * ones (MADV_HUGEPAGE), and a dirty folio is written back whole. */
#define FOLIO_SPAN (G_GUINT64_CONSTANT (2) << 20)

/* Writes back and waits for the dirty pages of [lo, hi) */
static void
write_back (gint fd, guint64 lo, guint64 hi)
{
  if (hi > lo && sync_file_range (fd, (off_t) lo, (off_t) (hi - lo),
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
          SYNC_FILE_RANGE_WAIT_AFTER) < 0)
    GST_INFO ("sync_file_range: %s", g_strerror (errno));
}

/* Gives the blocks of [offset, offset + size) back to the file system
 * (the range then reads as zeros; the file keeps its size). A dirty folio
 * of the page cache that straddles an end of the range would be written
 * back whole after the hole is made, and take the blocks of its part of
 * the hole again: the folios around both ends are written back first.
 * FALSE when the file system cannot (logged; the blocks stay). */
gboolean
gst_memmap_store_punch (gint fd, guint64 offset, guint64 size)
{
  guint64 end = offset + size;

  if (size == 0)
    return TRUE;
  write_back (fd, offset / FOLIO_SPAN * FOLIO_SPAN, offset);
  write_back (fd, end, gst_memmap_store_round_up (end, FOLIO_SPAN));
  if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
          (off_t) offset, (off_t) size) < 0) {
    GST_INFO ("cannot free %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
        ": %s", size, offset, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* The one mapping between buffer flags and the store's frame flags. */
static const struct
{
  guint32 store;
  guint buffer;                 /* GstBufferFlags or GstVideoBufferFlags */
} frame_flag_map[] = {
  {GST_MEMMAP_STORE_FRAME_DISCONT, GST_BUFFER_FLAG_DISCONT},
  {GST_MEMMAP_STORE_FRAME_INTERLACED, GST_VIDEO_BUFFER_FLAG_INTERLACED},
  {GST_MEMMAP_STORE_FRAME_TFF, GST_VIDEO_BUFFER_FLAG_TFF},
  {GST_MEMMAP_STORE_FRAME_RFF, GST_VIDEO_BUFFER_FLAG_RFF},
  {GST_MEMMAP_STORE_FRAME_ONEFIELD, GST_VIDEO_BUFFER_FLAG_ONEFIELD},
  {GST_MEMMAP_STORE_FRAME_CORRUPTED, GST_BUFFER_FLAG_CORRUPTED},
  {GST_MEMMAP_STORE_FRAME_GAP, GST_BUFFER_FLAG_GAP},
};

/**
 * gst_memmap_store_frame_flags_from_buffer:
 * @buffer: a video frame about to be stored
 *
 * The #GstMemmapStoreFrameFlags that record @buffer's flags in a store's
 * index: %GST_BUFFER_FLAG_DISCONT, the field flags
 * (%GST_VIDEO_BUFFER_FLAG_INTERLACED, %GST_VIDEO_BUFFER_FLAG_TFF,
 * %GST_VIDEO_BUFFER_FLAG_RFF, %GST_VIDEO_BUFFER_FLAG_ONEFIELD),
 * %GST_BUFFER_FLAG_CORRUPTED and %GST_BUFFER_FLAG_GAP. Pass them to
 * gst_memmap_store_writer_commit().
 *
 * Returns: the flags to store
 *
 * Since: 0.2
 */
guint32
gst_memmap_store_frame_flags_from_buffer (GstBuffer * buffer)
{
  guint32 flags = 0;
  guint i;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), 0);

  for (i = 0; i < G_N_ELEMENTS (frame_flag_map); i++) {
    if (GST_BUFFER_FLAG_IS_SET (buffer, frame_flag_map[i].buffer))
      flags |= frame_flag_map[i].store;
  }
  return flags;
}

/**
 * gst_memmap_store_frame_flags_to_buffer:
 * @flags: #GstMemmapStoreFrameFlags of a frame (#GstMemmapStoreEntry)
 * @buffer: a writable buffer of that frame
 *
 * Sets on @buffer the buffer flags that @flags record, and clears the
 * other flags a store records (see
 * gst_memmap_store_frame_flags_from_buffer()). Other buffer flags are left
 * alone.
 *
 * Since: 0.2
 */
void
gst_memmap_store_frame_flags_to_buffer (guint32 flags, GstBuffer * buffer)
{
  guint i;

  g_return_if_fail (GST_IS_BUFFER (buffer));
  g_return_if_fail (gst_buffer_is_writable (buffer));

  for (i = 0; i < G_N_ELEMENTS (frame_flag_map); i++) {
    if (flags & frame_flag_map[i].store)
      GST_BUFFER_FLAG_SET (buffer, frame_flag_map[i].buffer);
    else
      GST_BUFFER_FLAG_UNSET (buffer, frame_flag_map[i].buffer);
  }
}
