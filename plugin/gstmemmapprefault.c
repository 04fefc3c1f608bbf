/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstMemmapPrefault: the pages of the next slots of an append store,
 * faulted in ahead by a thread of its own, so that the producer writing
 * into a fresh slot (a decoder's threads, the streaming thread copying)
 * does not pay for new page-cache pages (docs/design.md, "Decoding into
 * the slots").
 *
 * Each slot handed out tells the thread where the producer is: the thread
 * then populates, with MADV_POPULATE_WRITE (Linux 5.14), the @ahead bytes
 * of the same mapping after that slot, never past the mapping's end: pages
 * of the chunks already reserved, which hold nothing yet (slots not handed
 * out, the rest of the index block). No slot is acquired and no chunk is
 * reserved here: what the store holds on disk and when it grows stay the
 * writer's. Populating a page past the end of the file fails (EFAULT),
 * it never raises SIGBUS; a kernel without MADV_POPULATE_WRITE (EINVAL)
 * turns the thread off, since touching pages by hand could.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapprefault.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

GST_DEBUG_CATEGORY_STATIC (gst_memmap_prefault_debug);
#define GST_CAT_DEFAULT gst_memmap_prefault_debug

/* populated at a time, so that a newer target or a stop is seen soon */
#define STEP (1 << 20)
/* mappings whose populated end is remembered */
#define N_DONE 4

struct _GstMemmapPrefault
{
  GMutex lock;
  GCond cond;
  GThread *thread;
  gboolean stopping;
  gsize ahead;

  /* the target: populate [want, want_end) of @mapping */
  GstMemmapMapping *mapping;
  guint8 *want, *want_end;
  /* how far each of the last mappings was populated: slots released by
   * the producer come back from earlier chunks, whose mappings must not
   * be populated again from their start */
  struct
  {
    GstMemmapMapping *mapping;
    guint8 *end;
  } done[N_DONE];
  guint64 bytes;                /* populated in all */
};

/* Where @mapping was populated up to, remembering it if new (the oldest
 * one is forgotten). */
static guint8 **
done_end (GstMemmapPrefault * self, GstMemmapMapping * mapping)
{
  guint i;

  for (i = 0; i < N_DONE; i++)
    if (self->done[i].mapping == mapping)
      return &self->done[i].end;
  if (self->done[N_DONE - 1].mapping)
    gst_memmap_mapping_unref (self->done[N_DONE - 1].mapping);
  memmove (&self->done[1], &self->done[0], (N_DONE - 1) *
      sizeof (self->done[0]));
  self->done[0].mapping = gst_memmap_mapping_ref (mapping);
  self->done[0].end = NULL;
  return &self->done[0].end;
}

static gint populate_works = -1;        /* unknown, 0 no, 1 yes */

static gboolean
populate (guint8 * start, gsize size)
{
  if (madvise (start, size, MADV_POPULATE_WRITE) == 0)
    return TRUE;
  if (errno == EINVAL) {
    GST_INFO ("no MADV_POPULATE_WRITE here (Linux < 5.14): no prefault");
    g_atomic_int_set (&populate_works, 0);
  } else {
    /* EFAULT past the end of the file, ENOMEM, EINTR: stop this target */
    GST_DEBUG ("MADV_POPULATE_WRITE: %s", g_strerror (errno));
  }
  return FALSE;
}

static gpointer
prefault_thread (gpointer data)
{
  GstMemmapPrefault *self = data;

  g_mutex_lock (&self->lock);
  while (!self->stopping) {
    GstMemmapMapping *mapping;
    guint8 *start, *end;
    gboolean ok;

    if (self->mapping == NULL) {
      g_cond_wait (&self->cond, &self->lock);
      continue;
    }
    start = MAX (self->want, *done_end (self, self->mapping));
    if (start >= self->want_end) {
      g_cond_wait (&self->cond, &self->lock);
      continue;
    }
    end = MIN (start + STEP, self->want_end);
    mapping = gst_memmap_mapping_ref (self->mapping);
    g_mutex_unlock (&self->lock);

    ok = populate (start, end - start);

    g_mutex_lock (&self->lock);
    if (!g_atomic_int_get (&populate_works)) {
      gst_memmap_mapping_unref (mapping);
      break;
    }
    {
      guint8 **done = done_end (self, mapping);

      /* on failure, nothing more of this target (if still the target) */
      if (!ok && mapping == self->mapping)
        end = MAX (end, self->want_end);
      *done = MAX (*done, end);
      if (ok)
        self->bytes += end - start;
    }
    gst_memmap_mapping_unref (mapping);
  }
  g_mutex_unlock (&self->lock);

  return NULL;
}

/**
 * gst_memmap_prefault_new:
 * @ahead: how many bytes after the slot handed out last to fault in
 *
 * Returns: (transfer full) (nullable): a prefault thread, or %NULL where
 *   the kernel cannot populate pages (then do without)
 */
GstMemmapPrefault *
gst_memmap_prefault_new (gsize ahead)
{
  static gsize done = 0;
  GstMemmapPrefault *self;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_memmap_prefault_debug, "memmapprefault", 0,
        "memmap slots faulted in ahead");
    g_once_init_leave (&done, 1);
  }
  if (!g_atomic_int_get (&populate_works))
    return NULL;

  self = g_new0 (GstMemmapPrefault, 1);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->ahead = ahead;
  self->thread = g_thread_new ("memmap-prefault", prefault_thread, self);

  return self;
}

/**
 * gst_memmap_prefault_after:
 * @self: a #GstMemmapPrefault
 * @slot: the memory of the slot just handed out (memmap memory)
 *
 * Makes the thread fault in the bytes of @slot's mapping after it.
 */
void
gst_memmap_prefault_after (GstMemmapPrefault * self, GstMemory * slot)
{
  GstMemmapMapping *mapping = gst_memmap_memory_get_mapping (slot);
  guint8 *base, *map_end, *start, *end;
  gsize page = getpagesize ();
  GstMapInfo info;

  if (mapping == NULL || !gst_memory_map (slot, &info, GST_MAP_READ))
    return;
  base = gst_memmap_mapping_get_data (mapping);
  map_end = base + gst_memmap_mapping_get_size (mapping);
  start = GSIZE_TO_POINTER (GST_ROUND_UP_N (GPOINTER_TO_SIZE (info.data) +
          info.size, page));
  gst_memory_unmap (slot, &info);
  end = start + MIN (self->ahead, (gsize) MAX (map_end - start, 0));
  end = GSIZE_TO_POINTER (GPOINTER_TO_SIZE (end) & ~(page - 1));
  if (start >= end)
    return;

  g_mutex_lock (&self->lock);
  if (mapping != self->mapping) {
    if (self->mapping)
      gst_memmap_mapping_unref (self->mapping);
    self->mapping = gst_memmap_mapping_ref (mapping);
  }
  self->want = start;
  self->want_end = end;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

/**
 * gst_memmap_prefault_free:
 * @self: a #GstMemmapPrefault
 *
 * Stops the thread.
 *
 * Returns: the bytes it populated
 */
guint64
gst_memmap_prefault_free (GstMemmapPrefault * self)
{
  guint64 bytes;
  guint i;

  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  g_thread_join (self->thread);

  bytes = self->bytes;
  if (self->mapping)
    gst_memmap_mapping_unref (self->mapping);
  for (i = 0; i < N_DONE; i++)
    if (self->done[i].mapping)
      gst_memmap_mapping_unref (self->done[i].mapping);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_free (self);

  return bytes;
}
