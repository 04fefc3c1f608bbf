/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Ring leases (docs/store-format.md, "Wake-ups and leases").
 *
 * A reader of a ring store records in a lease of the header's lease table
 * the range [oldest, newest] of the frames whose bytes it hands out without
 * a copy and that are still referenced (the memory's qdata tells when the
 * last reference goes). Before it reuses the slot of a frame that left the
 * ring, the writer checks that no live lease covers that frame; it takes
 * another free slot, or waits (bounded) for a reader to let go.
 *
 * The two sides form a Dekker pair: the reader stores its lease, then
 * (after a full barrier) reads `committed` to check that the frame is still
 * in the ring; the writer stores `committed`, then (after a full barrier)
 * reads the leases. Either the reader sees that the frame left the ring
 * (and lets it go), or the writer sees the lease (and keeps the slot).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoresync.h"

#include <string.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* a writer waits in steps of this, so that it notices readers that died */
#define LEASE_WAIT_STEP_US (100 * 1000)

/* ------------------------------------------------------------------------ */
/* writer side                                                              */

typedef struct
{
  GstMemmapStoreLeaseEntry *entry;
  guint32 pid;
  guint64 start;
  guint64 oldest;               /* frames, inclusive */
  guint64 newest;
  gint alive;                   /* -1: not checked yet */
} LeaseSnapshot;

/* Reads one lease through its seqlock. FALSE: free or empty. */
static gboolean
read_lease (GstMemmapStoreLeaseEntry * e, LeaseSnapshot * snap)
{
  guint64 oldest, newest, start;
  guint32 s1, s2, pid;
  guint i;

  pid = GUINT32_FROM_LE (__atomic_load_n (&e->pid, __ATOMIC_ACQUIRE));
  if (pid == 0)
    return FALSE;

  for (i = 0; i < 1000; i++) {
    s1 = __atomic_load_n (&e->seq, __ATOMIC_ACQUIRE);
    if ((s1 & 1) == 0) {
      oldest = gst_memmap_store_load_u64_relaxed (&e->oldest);
      newest = gst_memmap_store_load_u64_relaxed (&e->newest);
      start = gst_memmap_store_load_u64_relaxed (&e->pid_start);
      __atomic_thread_fence (__ATOMIC_ACQUIRE);
      s2 = __atomic_load_n (&e->seq, __ATOMIC_RELAXED);
      if (s1 == s2) {
        if (oldest == 0)
          return FALSE;
        snap->entry = e;
        snap->pid = pid;
        snap->start = start;
        snap->oldest = oldest - 1;
        /* a hostile or half-written range holds everything after oldest */
        snap->newest = newest >= oldest ? newest - 1 : G_MAXUINT64;
        snap->alive = -1;
        return TRUE;
      }
    }
    if (i >= 16)
      g_thread_yield ();
  }

  /* a reader that died in the middle of an update: it holds everything
   * until its death is noticed */
  snap->entry = e;
  snap->pid = pid;
  snap->start = 0;
  snap->oldest = 0;
  snap->newest = G_MAXUINT64;
  snap->alive = -1;
  return TRUE;
}

static gboolean
snapshot_alive (LeaseSnapshot * snap)
{
  guint32 expected;

  if (snap->alive < 0) {
    snap->alive = gst_memmap_store_pid_alive (snap->pid, snap->start);
    if (!snap->alive) {
      /* free the dead reader's entry for others */
      expected = GUINT32_TO_LE (snap->pid);
      if (__atomic_compare_exchange_n (&snap->entry->pid, &expected, 0,
              FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        GST_INFO ("dropped the lease of reader %u, which is gone", snap->pid);
    }
  }
  return snap->alive;
}

guint32
gst_memmap_store_leases_seen (GstMemmapStoreHeader * hdr)
{
  return __atomic_load_n (&hdr->lease_notify, __ATOMIC_SEQ_CST);
}

gboolean
gst_memmap_store_leases_pick (GstMemmapStoreHeader * hdr,
    const guint64 * slots, guint n_slots, const guint64 * slot_frames,
    guint * index, guint32 * holder)
{
  LeaseSnapshot leases[GST_MEMMAP_STORE_N_LEASES];
  guint n = 0, i, j;

  if (n_slots == 0)
    return FALSE;

  /* the writer's half of the Dekker pair: the committed store that moved
   * these frames out of the ring is before the barrier, the reads of the
   * leases after it */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  for (i = 0; i < GST_MEMMAP_STORE_N_LEASES; i++) {
    if (read_lease (&hdr->leases[i], &leases[n]))
      n++;
  }

  for (i = 0; i < n_slots; i++) {
    guint64 f = slot_frames[slots[i]];
    gboolean held = FALSE;

    for (j = 0; j < n && f != GST_MEMMAP_STORE_NO_FRAME && !held; j++) {
      if (f < leases[j].oldest || f > leases[j].newest)
        continue;
      if (!snapshot_alive (&leases[j]))
        continue;
      held = TRUE;
      *holder = leases[j].pid;
    }
    if (!held) {
      *index = i;
      return TRUE;
    }
  }

  return FALSE;
}

gboolean
gst_memmap_store_leases_wait (GstMemmapStoreHeader * hdr, guint32 seen,
    gint64 deadline)
{
  gint64 now = g_get_monotonic_time ();

  if (now >= deadline)
    return FALSE;

  __atomic_fetch_add (&hdr->lease_waiters, 1, __ATOMIC_SEQ_CST);
  gst_memmap_store_futex_wait (&hdr->lease_notify, seen,
      MIN (deadline - now, LEASE_WAIT_STEP_US));
  __atomic_fetch_sub (&hdr->lease_waiters, 1, __ATOMIC_SEQ_CST);

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* reader side                                                              */

/* Writes the range of the frames held into our lease. Under lock. */
static void
publish_range (GstMemmapStoreSession * self)
{
  GstMemmapStoreLeaseEntry *e = &self->hdr->leases[self->lease];
  guint64 oldest = 0, newest = 0;
  guint32 seq;

  if (self->held->len > 0) {
    oldest = g_array_index (self->held, guint64, 0) + 1;
    newest = g_array_index (self->held, guint64, self->held->len - 1) + 1;
  }

  /* the writing side of the seqlock (odd while the range changes) */
  seq = __atomic_load_n (&e->seq, __ATOMIC_RELAXED) | 1;
  __atomic_store_n (&e->seq, seq, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  gst_memmap_store_store_u64_relaxed (&e->oldest, oldest);
  gst_memmap_store_store_u64_relaxed (&e->newest, newest);
  __atomic_store_n (&e->seq, seq + 1, __ATOMIC_RELEASE);
}

static void
notify_writer (GstMemmapStoreSession * self)
{
  GstMemmapStoreHeader *hdr = self->hdr;

  __atomic_fetch_add (&hdr->lease_notify, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n (&hdr->lease_waiters, __ATOMIC_SEQ_CST) != 0)
    gst_memmap_store_futex_wake (&hdr->lease_notify);
}

void
gst_memmap_store_session_claim_lease (GstMemmapStoreSession * self)
{
  GstMemmapStoreHeader *hdr = self->hdr;
  guint32 me = (guint32) getpid (), expected, pid;
  guint64 start = gst_memmap_store_pid_start_time (me);
  guint round, i;

  for (round = 0; round < 2; round++) {
    for (i = 0; i < GST_MEMMAP_STORE_N_LEASES; i++) {
      GstMemmapStoreLeaseEntry *e = &hdr->leases[i];

      expected = 0;
      if (!__atomic_compare_exchange_n (&e->pid, &expected,
              GUINT32_TO_LE (me), FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        continue;
      g_mutex_lock (&self->lock);
      self->lease = i;
      gst_memmap_store_store_u64 (&e->pid_start, start);
      publish_range (self);
      g_mutex_unlock (&self->lock);
      GST_DEBUG ("%s: lease %u for pid %u", self->path, i, me);
      return;
    }

    /* full: take back the entries of readers that died */
    for (i = 0; round == 0 && i < GST_MEMMAP_STORE_N_LEASES; i++) {
      GstMemmapStoreLeaseEntry *e = &hdr->leases[i];

      pid = GUINT32_FROM_LE (__atomic_load_n (&e->pid, __ATOMIC_ACQUIRE));
      if (pid != 0 && !gst_memmap_store_pid_alive (pid,
              gst_memmap_store_load_u64 (&e->pid_start))) {
        expected = GUINT32_TO_LE (pid);
        __atomic_compare_exchange_n (&e->pid, &expected, 0, FALSE,
            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
      }
    }
  }

  GST_INFO ("%s: all %d leases are taken: ring frames will be copied",
      self->path, GST_MEMMAP_STORE_N_LEASES);
}

void
gst_memmap_store_session_drop_lease (GstMemmapStoreSession * self)
{
  GstMemmapStoreLeaseEntry *e;

  g_mutex_lock (&self->lock);
  if (self->lease < 0) {
    g_mutex_unlock (&self->lock);
    return;
  }
  e = &self->hdr->leases[self->lease];
  g_array_set_size (self->held, 0);
  publish_range (self);
  gst_memmap_store_store_u64 (&e->pid_start, 0);
  __atomic_store_n (&e->pid, 0, __ATOMIC_RELEASE);
  self->lease = -1;
  g_mutex_unlock (&self->lock);

  notify_writer (self);
}

/* position of the first element >= @frame */
static guint
held_lower_bound (GArray * held, guint64 frame)
{
  guint lo = 0, hi = held->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;

    if (g_array_index (held, guint64, mid) < frame)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Adds @frame to the lease, if there is one and (with @limit) the range
 * stays within max_span frames. */
static gboolean
hold_frame (GstMemmapStoreSession * self, guint64 frame, gboolean limit)
{
  guint64 oldest, newest;
  gboolean changed;

  g_mutex_lock (&self->lock);
  if (self->lease < 0)
    goto refused;
  if (self->held->len > 0) {
    oldest = g_array_index (self->held, guint64, 0);
    newest = g_array_index (self->held, guint64, self->held->len - 1);
    if (limit && MAX (newest, frame) - MIN (oldest, frame) >= self->max_span)
      goto refused;
    changed = frame < oldest || frame > newest;
  } else {
    changed = TRUE;
  }
  g_array_insert_val (self->held, held_lower_bound (self->held, frame), frame);
  if (changed)
    publish_range (self);
  g_mutex_unlock (&self->lock);

  /* the reader's half of the Dekker pair: the lease is stored before the
   * barrier, `committed` is read (to check that the frame is still in the
   * ring) after it */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  return TRUE;

refused:
  g_mutex_unlock (&self->lock);
  return FALSE;
}

static void
release_frame (GstMemmapStoreSession * self, guint64 frame)
{
  gboolean changed = FALSE;
  guint pos;

  g_mutex_lock (&self->lock);
  pos = held_lower_bound (self->held, frame);
  if (self->lease >= 0 && pos < self->held->len &&
      g_array_index (self->held, guint64, pos) == frame) {
    changed = pos == 0 || pos == self->held->len - 1;
    g_array_remove_index (self->held, pos);
    if (changed)
      publish_range (self);
  }
  g_mutex_unlock (&self->lock);

  if (changed)
    notify_writer (self);
}

typedef struct
{
  GstMemmapStoreSession *session;
  guint64 frame;
} LeaseHold;

static GQuark
lease_hold_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark)) {
    GQuark q = g_quark_from_static_string ("GstMemmapStoreLeaseHold");

    g_once_init_leave (&quark, q);
  }
  return (GQuark) quark;
}

/* the last reference on the frame's memory went */
static void
lease_hold_free (LeaseHold * hold)
{
  GST_LOG ("%s: frame %" G_GUINT64_FORMAT " let go", hold->session->path,
      hold->frame);
  release_frame (hold->session, hold->frame);
  gst_memmap_store_session_unref (hold->session);
  g_free (hold);
}

/* A private copy of @frame, checked after the copy to be still in the
 * ring: a frame that left it meanwhile may have been overwritten while we
 * copied. */
static GstBuffer *
copy_frame (GstMemmapStoreSession * self, GstMemmapStoreReader * reader,
    GstAllocator * allocator, guint64 frame, GError ** error)
{
  GstMemmapStoreEntry entry;
  GstVideoMeta *meta;
  GstBuffer *src, *dst;
  GstMapInfo in, out;
  gsize size;

  src = gst_memmap_store_reader_get_buffer (reader, allocator, frame, error);
  if (src == NULL)
    return NULL;

  size = gst_buffer_get_size (src);
  dst = gst_buffer_new_allocate (NULL, size, NULL);
  if (dst == NULL || !gst_buffer_map (src, &in, GST_MAP_READ))
    goto failed;
  if (!gst_buffer_map (dst, &out, GST_MAP_WRITE)) {
    gst_buffer_unmap (src, &in);
    goto failed;
  }
  memcpy (out.data, in.data, size);
  gst_buffer_unmap (dst, &out);
  gst_buffer_unmap (src, &in);

  /* the copy's reads before the re-read of the counter and the entry */
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (!gst_memmap_store_reader_get_entry (reader, frame, &entry, error)) {
    gst_buffer_unref (dst);
    gst_buffer_unref (src);
    return NULL;
  }

  /* flags and timestamps; the video meta (tagged as describing the memory)
   * is not copied along without the memory: add it again */
  gst_buffer_copy_into (dst, src, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  meta = gst_buffer_get_video_meta (src);
  if (meta)
    gst_buffer_add_video_meta_full (dst, meta->flags, meta->format,
        meta->width, meta->height, meta->n_planes, meta->offset, meta->stride);
  gst_buffer_unref (src);
  return dst;

failed:
  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
      "Frame store '%s': could not copy frame %" G_GUINT64_FORMAT,
      self->path, frame);
  gst_clear_buffer (&dst);
  gst_buffer_unref (src);
  return NULL;
}

/**
 * gst_memmap_store_session_get_buffer:
 * @session: a #GstMemmapStoreSession of @reader's store
 * @reader: the reader the session was made for
 * @allocator: (nullable): a #GstMemmapAllocator, or %NULL for the reader's
 * @frame: a frame number
 * @copied: (out) (optional): whether the frame was copied
 * @error: return location for a #GError, or %NULL
 *
 * Like gst_memmap_store_reader_get_buffer(), but a ring frame is safe to
 * keep however long the buffer lives:
 *
 * - with a lease, the frame is added to it before its index entry is read,
 *   and the writer does not reuse its slot until the buffer's memory is
 *   freed. While the store is open, a lease spans at most half of the
 *   ring's spare slots (the writer needs the others): a frame that would
 *   widen it further is copied instead.
 * - without a lease (a full lease table, a read-only file), a frame of an
 *   open ring store is copied into system memory, and the copy is checked
 *   afterwards to be intact.
 *
 * Append stores never reuse a slot: their frames are never copied. Errors
 * are those of gst_memmap_store_reader_get_buffer(); a frame that left the
 * ring is %GST_MEMMAP_ERROR_INVALID_ARGUMENT.
 *
 * Returns: (transfer full) (nullable): the buffer, or %NULL with @error set
 *
 * Since: 0.1
 */
GstBuffer *
gst_memmap_store_session_get_buffer (GstMemmapStoreSession * session,
    GstMemmapStoreReader * reader, GstAllocator * allocator, guint64 frame,
    gboolean * copied, GError ** error)
{
  GstMemmapStoreSession *self = session;
  GstBuffer *buf;
  LeaseHold *hold;
  gboolean open;

  g_return_val_if_fail (session != NULL, NULL);
  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (copied)
    *copied = FALSE;

  if (self->mode != GST_MEMMAP_STORE_MODE_RING)
    return gst_memmap_store_reader_get_buffer (reader, allocator, frame, error);

  open = gst_memmap_store_load_u32 (&self->hdr->state) !=
      GST_MEMMAP_STORE_STATE_CLOSED;

  if (hold_frame (self, frame, open)) {
    buf = gst_memmap_store_reader_get_buffer (reader, allocator, frame, error);
    if (buf == NULL) {
      release_frame (self, frame);
      return NULL;
    }
    hold = g_new (LeaseHold, 1);
    hold->session = gst_memmap_store_session_ref (self);
    hold->frame = frame;
    gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (gst_buffer_peek_memory
            (buf, 0)), lease_hold_quark (), hold,
        (GDestroyNotify) lease_hold_free);
    GST_LOG ("%s: frame %" G_GUINT64_FORMAT " leased", self->path, frame);
    return buf;
  }

  /* nobody writes a closed ring any more */
  if (!open)
    return gst_memmap_store_reader_get_buffer (reader, allocator, frame, error);

  buf = copy_frame (self, reader, allocator, frame, error);
  if (buf && copied)
    *copied = TRUE;
  return buf;
}
