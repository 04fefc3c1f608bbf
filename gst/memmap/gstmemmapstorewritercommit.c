/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The commit of a #GstMemmapStoreWriter: gst_memmap_store_writer_commit()
 * writes the index entry of a filled slot (its frame_seq last) and then
 * publishes the header's committed counter with release ordering;
 * gst_memmap_store_writer_sync() flushes what was committed to the disk.
 * With the checksum flag, the slot's checksum is computed here, before the
 * entry is written.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstorewriterprivate.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* Under lock. */
static GstMemmapStoreIndexEntry *
get_entry (GstMemmapStoreWriter * self, guint64 frame,
    GstMemmapMapping ** mapping, GError ** error)
{
  guint64 offset = gst_memmap_store_entry_offset (&self->geo, frame);
  GstMemmapMapping *m;

  m = gst_memmap_store_maps_get (&self->maps, offset,
      GST_MEMMAP_STORE_ENTRY_SIZE, error);
  if (m == NULL)
    return NULL;
  *mapping = m;
  return (GstMemmapStoreIndexEntry *) gst_memmap_mapping_data_at (m, offset,
      GST_MEMMAP_STORE_ENTRY_SIZE);
}

/* Under lock: msync the bytes of @slot. */
static gboolean
flush_slot (GstMemmapStoreWriter * self, guint64 slot, GError ** error)
{
  guint64 offset = gst_memmap_store_slot_offset (&self->geo, slot);
  GstMemmapMapping *m;

  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.frame_size,
      error);
  if (m == NULL)
    return FALSE;
  return gst_memmap_mapping_flush (m, offset, self->geo.frame_size, error);
}

/* Under lock: the checksum of the frame in @slot (format 1.1). */
static gboolean
slot_checksum (GstMemmapStoreWriter * self, guint64 slot, guint64 * sum,
    GError ** error)
{
  guint64 offset = gst_memmap_store_slot_offset (&self->geo, slot);
  GstMemmapMapping *m;
  const guint8 *data;

  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.frame_size,
      error);
  if (m == NULL)
    return FALSE;
  data = gst_memmap_mapping_data_at (m, offset, self->geo.frame_size);
  *sum = gst_memmap_store_checksum (data, self->geo.frame_size);
  /* a truncation under us while we read: the sum is of zeros */
  return gst_memmap_mapping_check (m, error);
}

/**
 * gst_memmap_store_writer_commit:
 * @writer: a #GstMemmapStoreWriter
 * @slot: an acquired slot whose bytes hold a frame
 * @pts: presentation timestamp, or %GST_CLOCK_TIME_NONE
 * @duration: duration, or %GST_CLOCK_TIME_NONE
 * @flags: #GstMemmapStoreFrameFlags (gst_memmap_store_frame_flags_from_buffer()
 *   gives those of a buffer); bits this version does not define are dropped
 * @error: return location for a #GError, or %NULL
 *
 * Publishes the frame in @slot as the store's next frame: writes its index
 * entry (frame_seq last), then moves the committed counter with release
 * ordering. A writer made with %GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM
 * computes the frame's checksum first (the bytes must not change after
 * this call). In ring mode the oldest frame leaves the ring and its slot
 * becomes free. With sync on, the slot and the entry reach the disk before
 * the counter moves, and the counter after. An append store that already
 * holds its max-frames frames commits nothing more:
 * %GST_MEMMAP_ERROR_NO_SPACE, with gst_memmap_store_writer_is_full()
 * %TRUE.
 *
 * Returns: %TRUE on success, %FALSE with @error set (the slot then stays
 *   acquired: release it or try again)
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_commit (GstMemmapStoreWriter * writer, guint64 slot,
    GstClockTime pts, GstClockTime duration, guint32 flags, GError ** error)
{
  GstMemmapStoreWriter *self = writer;
  GstMemmapStoreIndexEntry *e;
  GstMemmapMapping *m = NULL;
  guint64 frame, old_slot = NO_SLOT, seq, sum = 0;
  gboolean ret = FALSE;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->closed || !g_hash_table_contains (self->outstanding, &slot)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': cannot commit slot %" G_GUINT64_FORMAT
        ", it is not acquired", self->path, slot);
    goto out;
  }

  frame = self->committed;
  if (frame >= GST_MEMMAP_STORE_MAX_FRAMES ||
      (self->geo.mode == GST_MEMMAP_STORE_MODE_APPEND &&
          self->geo.max_frames > 0 && frame >= self->geo.max_frames)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
        "Frame store '%s' is full: it holds its %" G_GUINT64_FORMAT
        " frames", self->path, frame);
    goto out;
  }
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING &&
      frame >= self->geo.max_frames)
    old_slot = self->ring_slots[frame % self->geo.max_frames];

  /* a store truncated under us by another program: the slot's pages (and
   * what the producer wrote into them), or those of frames committed
   * before, are gone; commit nothing, and say that the store is damaged */
  if (!gst_memmap_store_writer_check_whole (self, error))
    goto out;

  if (self->checksum && !slot_checksum (self, slot, &sum, error))
    goto out;

  if (self->sync && !flush_slot (self, slot, error))
    goto out;

  e = get_entry (self, frame, &m, error);
  if (e == NULL)
    goto out;

  /* timestamps go back only at a discontinuity (a seek while recording):
   * readers rely on it, and refuse a pts below the previous frame's in a
   * frame without the flag (docs/store-format.md) */
  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    if (GST_CLOCK_TIME_IS_VALID (self->last_pts) && pts < self->last_pts)
      flags |= GST_MEMMAP_STORE_FRAME_DISCONT;
    self->last_pts = pts;
  }

  /* a seqlock: readers that race with the rewrite of a ring entry see the
   * busy bit or a frame_seq that changed under them */
  seq = frame + 1;
  gst_memmap_store_store_u64_relaxed (&e->frame_seq,
      seq | GST_MEMMAP_STORE_SEQ_BUSY);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  gst_memmap_store_store_u64_relaxed (&e->slot, slot);
  gst_memmap_store_store_u64_relaxed (&e->pts, pts);
  gst_memmap_store_store_u64_relaxed (&e->duration, duration);
  __atomic_store_n (&e->flags,
      GUINT32_TO_LE (flags & GST_MEMMAP_STORE_FRAME_FLAGS_KNOWN),
      __ATOMIC_RELAXED);
  __atomic_store_n (&e->reserved0, 0, __ATOMIC_RELAXED);
  gst_memmap_store_store_u64_relaxed (&e->checksum, sum);
  gst_memmap_store_store_u64_relaxed (&e->reserved1[0], 0);
  gst_memmap_store_store_u64_relaxed (&e->reserved1[1], 0);
  gst_memmap_store_store_u64 (&e->frame_seq, seq);

  if (self->sync && !gst_memmap_mapping_flush (m,
          gst_memmap_store_entry_offset (&self->geo, frame),
          GST_MEMMAP_STORE_ENTRY_SIZE, error))
    goto out;

  /* the frame is visible from here on */
  gst_memmap_store_store_u64 (&self->hdr->committed, frame + 1);
  gst_memmap_store_notify_commit (self->hdr);
  self->committed = frame + 1;

  g_hash_table_remove (self->outstanding, &slot);
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING) {
    self->ring_slots[frame % self->geo.max_frames] = slot;
    self->slot_frames[slot] = frame;
    if (old_slot != NO_SLOT)
      gst_memmap_store_writer_free_push (self, old_slot);
  }

  if (self->sync && !gst_memmap_mapping_flush (self->header_map, 0,
          GST_MEMMAP_STORE_HEADER_SIZE, error))
    goto out;

  GST_LOG ("%s: committed frame %" G_GUINT64_FORMAT " in slot %"
      G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT, self->path, frame, slot,
      GST_TIME_ARGS (pts));
  ret = TRUE;

out:
  g_mutex_unlock (&self->lock);
  return ret;
}

/**
 * gst_memmap_store_writer_sync:
 * @writer: a #GstMemmapStoreWriter
 * @error: return location for a #GError, or %NULL
 *
 * Writes everything committed so far to the disk and waits for it
 * (fdatasync() of the store). This makes the frames committed before the
 * call durable, but unlike gst_memmap_store_writer_set_sync() it does not
 * order the counter after the frames: a power loss before the call may
 * leave a counter ahead of its frames. After a failure do not retry and
 * trust the data: the kernel may have dropped the dirty pages.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_sync (GstMemmapStoreWriter * writer, GError ** error)
{
  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (fdatasync (writer->fd) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Could not write frame store '%s' to the disk: %s", writer->path,
        g_strerror (err));
    return FALSE;
  }
  return TRUE;
}
