/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The slots of a #GstMemmapStoreWriter: the free-slot FIFO, the reservation
 * of the disk space of a chunk before any of its bytes is written, the
 * truncation check that precedes every reservation and commit, and
 * gst_memmap_store_writer_acquire_slot(), _release_slot() and
 * _get_slot_memory().
 *
 * Invariants (under the writer's lock): a slot is free (in the FIFO, or at
 * or past next_slot in append mode), outstanding (acquired, in
 * self->outstanding) or committed, never two of these; no slot is handed
 * out before its chunk is reserved (posix_fallocate() through the fd the
 * writer holds); in ring mode a slot whose last frame a reader holds a
 * lease on is not handed out.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreprefault.h"
#include "gstmemmapstorewriterprivate.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* ------------------------------------------------------------------------ */
/* free-slot FIFO, under lock                                               */

void
gst_memmap_store_writer_free_push (GstMemmapStoreWriter * self, guint64 slot)
{
  g_array_append_val (self->free_slots, slot);
}

static guint
free_count (GstMemmapStoreWriter * self)
{
  return self->free_slots->len - self->free_head;
}

static guint64
free_pop (GstMemmapStoreWriter * self)
{
  guint64 slot = g_array_index (self->free_slots, guint64, self->free_head);

  self->free_head++;
  if (self->free_head == self->free_slots->len) {
    g_array_set_size (self->free_slots, 0);
    self->free_head = 0;
  } else if (self->free_head > 64 &&
      self->free_head > self->free_slots->len / 2) {
    g_array_remove_range (self->free_slots, 0, self->free_head);
    self->free_head = 0;
  }
  return slot;
}

void
gst_memmap_store_writer_reset_slots (GstMemmapStoreWriter * self)
{
  guint64 s;

  g_array_set_size (self->free_slots, 0);
  self->free_head = 0;
  self->next_slot = 0;
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING) {
    for (s = 0; s < self->geo.slots_per_chunk; s++)
      gst_memmap_store_writer_free_push (self, s);
  }
}

/* ------------------------------------------------------------------------ */
/* slots                                                                    */

/* Marks the store damaged, once: the writer commits nothing more and the
 * header's state says why to every reader (docs/store-format.md). Under
 * lock. */
static void
set_damaged (GstMemmapStoreWriter * self, const GError * why)
{
  if (self->damaged)
    return;
  self->damaged = TRUE;
  GST_WARNING ("%s: %s; the store is marked damaged", self->path, why->message);
  /* through our mapping of the header: a page cut off the file takes the
   * word with it, and then there is no store header left to mark */
  gst_memmap_store_store_u32 (&self->hdr->state,
      GST_MEMMAP_STORE_STATE_DAMAGED);
  gst_memmap_store_notify_commit (self->hdr);
}

/* Whether the file is still all there: no page of our mappings was lost to
 * a truncation and the file is not shorter than the chunks we reserved.
 * Called before every reservation (which would grow a truncated file back
 * over the lost bytes, hiding the cut) and every commit. On failure the
 * store is damaged. Under lock. */
gboolean
gst_memmap_store_writer_check_whole (GstMemmapStoreWriter * self,
    GError ** error)
{
  guint64 end = self->geo.data_offset +
      self->chunks_reserved * self->geo.chunk_stride;
  GError *err = NULL;

  if (self->damaged)
    goto damaged;
  if (gst_memmap_mapping_check (self->header_map, &err) &&
      gst_memmap_store_maps_check (&self->maps, end, &err))
    return TRUE;
  if (err->code == GST_MEMMAP_ERROR_TRUNCATED)
    set_damaged (self, err);
  g_propagate_error (error, err);
  return FALSE;

damaged:
  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
      "Frame store '%s' was truncated by another program while it was being "
      "written: nothing more is committed", self->path);
  return FALSE;
}

/* Makes sure the chunk of @slot is reserved on disk. Under lock. */
gboolean
gst_memmap_store_writer_ensure_chunk (GstMemmapStoreWriter * self,
    guint64 slot, GError ** error)
{
  guint64 chunk = slot / self->geo.slots_per_chunk;
  guint64 size;

  if (chunk < self->chunks_reserved)
    return TRUE;

  /* a cut below the end of what we reserved would be filled with zeros by
   * the reservation, and the frames in it lost without a trace */
  if (!gst_memmap_store_writer_check_whole (self, error))
    return FALSE;

  /* slot < 2^62 and every chunk is reserved one after the other: the file
   * size stays below 2^63 or posix_fallocate refuses it first */
  if (__builtin_mul_overflow (chunk + 1, self->geo.chunk_stride, &size) ||
      __builtin_add_overflow (size, self->geo.data_offset, &size) ||
      size > G_MAXINT64) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
        "Frame store '%s' cannot grow past %" G_GUINT64_FORMAT " chunks",
        self->path, chunk);
    return FALSE;
  }
  /* through the file we hold open: the path may name another file now */
  if (!gst_memmap_engine_reserve_fd (self->engine, self->fd, self->path, size,
          error))
    return FALSE;

  self->n_reservations++;
  self->chunks_reserved = chunk + 1;
  /* published after the reservation: a reader never maps a chunk whose
   * space is not there */
  gst_memmap_store_store_u64 (&self->hdr->chunks_reserved, chunk + 1);
  GST_DEBUG ("%s: reserved chunk %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
      " bytes)", self->path, chunk, size);
  return TRUE;
}

/* Ring: takes a free slot whose last frame no reader holds (leases,
 * docs/store-format.md); waits a bounded time for readers to let go when
 * every free slot is held. Under lock (released while waiting). */
static gboolean
ring_take_free (GstMemmapStoreWriter * self, guint64 * slot, GError ** error)
{
  gint64 deadline = 0;
  guint32 seen, holder = 0;
  guint i;

  while (TRUE) {
    seen = gst_memmap_store_leases_seen (self->hdr);
    if (gst_memmap_store_leases_pick (self->hdr,
            &g_array_index (self->free_slots, guint64, self->free_head),
            free_count (self), self->slot_frames, &i, &holder))
      break;
    if (deadline == 0)
      deadline = g_get_monotonic_time () + GST_MEMMAP_STORE_LEASE_WAIT_US;
    g_mutex_unlock (&self->lock);
    if (!gst_memmap_store_leases_wait (self->hdr, seen, deadline)) {
      g_mutex_lock (&self->lock);
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
          "Frame store '%s': every free slot of the ring holds a frame that "
          "a reader (pid %u) still uses", self->path, holder);
      return FALSE;
    }
    g_mutex_lock (&self->lock);
    if (self->closed || free_count (self) == 0) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
          "Frame store '%s': no free slot in the ring", self->path);
      return FALSE;
    }
  }

  if (i == 0) {
    *slot = free_pop (self);
  } else {
    *slot = g_array_index (self->free_slots, guint64, self->free_head + i);
    g_array_remove_index (self->free_slots, self->free_head + i);
  }
  /* overwritten from now on: no reader can hold what it held */
  self->slot_frames[*slot] = GST_MEMMAP_STORE_NO_FRAME;
  return TRUE;
}

/* Grows the file to the end of @chunk, ahead of the producer, with
 * posix_fallocate() (so that no page of it can SIGBUS when written), but
 * does not publish it: chunks_reserved moves only when ensure_chunk()
 * needs the chunk, and a reader never sees it before. A failure (a full
 * disk) is no error here: ensure_chunk() meets it again when the chunk is
 * needed, and reports it then. Under lock. */
static gboolean
grow_ahead (GstMemmapStoreWriter * self, guint64 chunk)
{
  guint64 end;
  gint r;

  if (chunk < self->chunks_reserved)
    return TRUE;
  if (__builtin_mul_overflow (chunk + 1, self->geo.chunk_stride, &end) ||
      __builtin_add_overflow (end, self->geo.data_offset, &end) ||
      end > G_MAXINT64)
    return FALSE;
  if (end <= self->grown_end)
    return TRUE;
  /* as ensure_chunk(): never grow a truncated file back over its cut */
  if (!gst_memmap_store_writer_check_whole (self, NULL))
    return FALSE;
  do {
    r = posix_fallocate (self->fd, 0, (off_t) end);
  } while (r == EINTR);
  if (r != 0) {
    GST_DEBUG ("%s: no chunk %" G_GUINT64_FORMAT " ahead: %s", self->path,
        chunk, g_strerror (r));
    return FALSE;
  }
  self->grown_end = end;
  return TRUE;
}

/* Has the prefault thread fault in @chunk (reserved or grown ahead). Under
 * lock. */
static void
prefault_chunk (GstMemmapStoreWriter * self, guint64 chunk)
{
  guint64 offset = gst_memmap_store_chunk_offset (&self->geo, chunk);
  GstMemmapMapping *m;
  GError *err = NULL;

  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.chunk_stride,
      &err);
  if (m == NULL) {
    GST_DEBUG ("%s: not prefaulting chunk %" G_GUINT64_FORMAT ": %s",
        self->path, chunk, err->message);
    g_clear_error (&err);
    return;
  }
  gst_memmap_store_prefault_push (self->prefault, m, offset,
      self->geo.chunk_stride);
}

/* Chunks smaller than this are not reserved nor faulted in ahead: their
 * faults cost little, and the chunk ahead would hold one more window (and
 * descriptor) and one more chunk of disk while the store is written. */
#define PREFAULT_MIN_CHUNK (G_GUINT64_CONSTANT (8) << 20)

/* Whether a new append store goes ahead: only when asked, with
 * GST_MEMMAP_PREFAULT_AHEAD=1 in the environment (and GST_MEMMAP_PREFAULT
 * not 0, which turns every prefault off). Measured on the shared 2-core VM
 * (docs/benchmarks.md, sink-process), the thread faulting fresh pages at
 * the same time as the producer added 10-100% to the CPU a frame cost and
 * made some runs slower, others faster; whether it pays on an idle machine
 * is what the benchmark's memmapsink-ahead contender is for. */
static gboolean
ahead_wanted (void)
{
  return g_strcmp0 (g_getenv ("GST_MEMMAP_PREFAULT_AHEAD"), "1") == 0 &&
      g_strcmp0 (g_getenv ("GST_MEMMAP_PREFAULT"), "0") != 0;
}

/* Append, under lock, for @slot just handed out for the first time: tells
 * the prefault thread where the producer is and, at the first slot of a
 * chunk, reserves the next chunk ahead and has it faulted in (the first
 * chunk too, at the first slot). Only when ahead_wanted(), and for chunks
 * of PREFAULT_MIN_CHUNK and more. */
static void
go_ahead (GstMemmapStoreWriter * self, guint64 slot)
{
  const GstMemmapStoreGeometry *geo = &self->geo;
  guint64 chunk = slot / geo->slots_per_chunk;

  if (self->prefault == NULL) {
    if (slot != 0 || geo->chunk_stride < PREFAULT_MIN_CHUNK || !ahead_wanted ())
      return;
    self->prefault = gst_memmap_store_prefault_new (self->path);
  }
  gst_memmap_store_prefault_set_position (self->prefault,
      gst_memmap_store_slot_offset (geo, slot) + geo->slot_stride);
  if (slot % geo->slots_per_chunk != 0)
    return;
  if (slot == 0)
    prefault_chunk (self, 0);
  if (geo->max_frames > 0 &&
      (chunk + 1) * geo->slots_per_chunk >= geo->max_frames)
    return;
  if (grow_ahead (self, chunk + 1))
    prefault_chunk (self, chunk + 1);
}

/* At close, under lock, once the prefault thread is stopped: gives back
 * the blocks of what was grown ahead and never published (a chunk no frame
 * went into). The file keeps its size, as the close never truncates: a
 * reader that mapped the file while it was that long keeps a mapping of
 * the file's bytes (holes read as zeros); readers use chunks_reserved, and
 * a longer file is valid (docs/store-format.md). */
void
gst_memmap_store_writer_punch_ahead (GstMemmapStoreWriter * self)
{
  guint64 end = self->geo.data_offset +
      self->chunks_reserved * self->geo.chunk_stride;

  if (self->grown_end > end &&
      gst_memmap_store_punch (self->fd, end, self->grown_end - end))
    self->bytes_freed += self->grown_end - end;
}

/* At close, under lock: stops the prefault thread (the thread takes no
 * lock of ours). */
void
gst_memmap_store_writer_stop_prefault (GstMemmapStoreWriter * self)
{
  if (self->prefault == NULL)
    return;
  self->bytes_prefaulted = gst_memmap_store_prefault_get_bytes (self->prefault);
  g_clear_pointer (&self->prefault, gst_memmap_store_prefault_free);
}

/**
 * gst_memmap_store_writer_acquire_slot:
 * @writer: a #GstMemmapStoreWriter
 * @slot: (out): the slot handed out
 * @error: return location for a #GError, or %NULL
 *
 * Hands out a free slot to fill with a frame. In append mode that is a slot
 * released earlier or the next slot never used; when its chunk is not
 * reserved yet the file grows by one chunk, reserved with posix_fallocate().
 * In ring mode it is a slot that holds no frame of the ring.
 *
 * In an append store with a max-frames limit, that limit bounds the frames
 * committed, not the slots handed out: slots are handed out as long as
 * fewer than max-frames frames are committed, however many are outstanding
 * (a producer may keep slots it never commits, such as a decoder's
 * reference frames). Commits past the limit fail.
 *
 * Fails with %GST_MEMMAP_ERROR_NO_SPACE when the file system has no room
 * for the next chunk (every committed frame stays), when an append store
 * already holds its max-frames frames (gst_memmap_store_writer_is_full()
 * then returns %TRUE: the store is complete, which is no disk error), or
 * when every spare slot of a ring is already out.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_acquire_slot (GstMemmapStoreWriter * writer,
    guint64 * slot, GError ** error)
{
  GstMemmapStoreWriter *self = writer;
  guint64 s, *key;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (slot != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->closed)
    goto closed;
  if (self->damaged && !gst_memmap_store_writer_check_whole (self, error))
    goto failed;

  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING) {
    if (free_count (self) == 0)
      goto no_free_slot;
    if (!ring_take_free (self, &s, error))
      goto failed;
  } else {
    /* max-frames bounds the frames committed, not the slots handed out:
     * a producer may hold slots it never commits (a decoder's reference
     * frames, buffers it drops), and counting those would end the store
     * before it holds max-frames frames */
    if (self->geo.max_frames > 0 && self->committed >= self->geo.max_frames)
      goto full;
    if (free_count (self) > 0) {
      s = free_pop (self);
    } else {
      if (!gst_memmap_store_writer_ensure_chunk (self, self->next_slot, error))
        goto failed;
      s = self->next_slot++;
      go_ahead (self, s);
    }
  }

  key = g_new (guint64, 1);
  *key = s;
  g_hash_table_insert (self->outstanding, key, NULL);
  self->n_acquired++;
  g_mutex_unlock (&self->lock);

  GST_LOG ("%s: acquired slot %" G_GUINT64_FORMAT, self->path, s);
  *slot = s;
  return TRUE;

  /* ERRORS */
closed:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s' is closed", self->path);
    goto failed;
  }
no_free_slot:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
        "Frame store '%s': all %u spare slots of the ring are acquired and "
        "not committed", self->path, self->spare_slots);
    goto failed;
  }
full:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
        "Frame store '%s' is full: it holds its max-frames=%"
        G_GUINT64_FORMAT " frames", self->path, self->geo.max_frames);
    goto failed;
  }
failed:
  {
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
}


/**
 * gst_memmap_store_writer_release_slot:
 * @writer: a #GstMemmapStoreWriter
 * @slot: a slot acquired and not committed
 *
 * Gives back a slot that will not be committed (a dropped pool buffer): no
 * frame appears for it and it is handed out again later. May be called from
 * any thread; does nothing for a slot that is not outstanding.
 *
 * After gst_memmap_store_writer_close(), releasing a slot whose memory was
 * handed out (and whose blocks the close therefore kept) gives its blocks
 * back to the file system: call it once no memory of the slot is left, as
 * a pool does when its buffer's memory goes. Any other slot: nothing.
 *
 * Since: 0.1
 */
void
gst_memmap_store_writer_release_slot (GstMemmapStoreWriter * writer,
    guint64 slot)
{
  GstMemmapStoreWriter *self = writer;

  g_return_if_fail (writer != NULL);

  g_mutex_lock (&self->lock);
  if (self->closed) {
    if (g_hash_table_remove (self->outstanding, &slot))
      gst_memmap_store_writer_punch_held_slot (self, slot);
    g_mutex_unlock (&self->lock);
    return;
  }
  if (!g_hash_table_remove (self->outstanding, &slot)) {
    g_mutex_unlock (&self->lock);
    GST_WARNING ("%s: releasing slot %" G_GUINT64_FORMAT " that is not "
        "acquired", self->path, slot);
    return;
  }
  gst_memmap_store_writer_free_push (self, slot);
  self->n_released++;
  g_mutex_unlock (&self->lock);

  GST_LOG ("%s: released slot %" G_GUINT64_FORMAT, self->path, slot);
}

/**
 * gst_memmap_store_writer_get_slot_memory:
 * @writer: a #GstMemmapStoreWriter
 * @allocator: (nullable): a #GstMemmapAllocator, or %NULL for the writer's
 * @slot: an acquired slot
 * @error: return location for a #GError, or %NULL
 *
 * Returns a writable memmap memory of the frame bytes of @slot: the
 * frame size of the layout, from the start of the slot, in a shared
 * read-write mapping of the store. What is written there is the frame
 * gst_memmap_store_writer_commit() publishes. The memory keeps its mapping
 * alive however long it lives, also after the writer is freed, and its
 * bytes: a close does not give back the blocks of a slot whose memory was
 * handed out, committed or not.
 *
 * Returns: (transfer full) (nullable): the memory, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemory *
gst_memmap_store_writer_get_slot_memory (GstMemmapStoreWriter * writer,
    GstAllocator * allocator, guint64 slot, GError ** error)
{
  GstMemmapStoreWriter *self = writer;
  GstMemmapMapping *m;
  GstMemory *mem = NULL;
  guint64 offset;

  g_return_val_if_fail (writer != NULL, NULL);
  g_return_val_if_fail (allocator == NULL ||
      GST_IS_MEMMAP_ALLOCATOR (allocator), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->lock);
  if (self->closed || !g_hash_table_contains (self->outstanding, &slot)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': slot %" G_GUINT64_FORMAT " is not acquired",
        self->path, slot);
    goto out;
  }
  if (allocator == NULL) {
    if (self->allocator == NULL)
      self->allocator = gst_memmap_allocator_new ();
    allocator = self->allocator;
  }

  offset = gst_memmap_store_slot_offset (&self->geo, slot);
  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.frame_size,
      error);
  if (m == NULL)
    goto out;
  mem = gst_memmap_allocator_wrap (allocator, m, offset, self->geo.frame_size);
  if (mem == NULL) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Frame store '%s': could not wrap slot %" G_GUINT64_FORMAT,
        self->path, slot);
  } else {
    guint64 *key = g_new (guint64, 1);

    /* a memory of the slot is out: its bytes are its holder's now */
    *key = slot;
    g_hash_table_replace (self->outstanding, key, GINT_TO_POINTER (TRUE));
  }

out:
  g_mutex_unlock (&self->lock);
  return mem;
}
