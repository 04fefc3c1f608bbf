/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The prefault thread of an append store's writer (docs/design.md,
 * "Writing a new store").
 *
 * A producer that writes a frame into a new slot of a store takes a write
 * fault on every page (or large folio) of it: the kernel allocates a
 * page-cache folio, fills it with zeros (the blocks are reserved but
 * unwritten) and lets ext4 and friends mark it dirty. On this kind of
 * machine that costs as much as copying the frame, and filesink pays a
 * copy instead. Here the writer hands the range of the next chunk, already
 * reserved on disk, to a thread of its own that faults the pages in
 * writable (MADV_POPULATE_WRITE, Linux 5.14; elsewhere one read per page,
 * which leaves only the cheap write-enable fault to the producer) through
 * the same mapping the slots' memories use. The producer then finds its
 * pages present and writable.
 *
 * The thread and the producer never fault the same pages at once: the
 * writer publishes the end of the last slot it handed out
 * (gst_memmap_store_prefault_set_position()), and the thread skips what is
 * less than a piece ahead of it; a producer faster than the thread simply
 * faults its own pages, as without the thread.
 *
 * Faulting pages in changes no byte of the file: a populate never writes,
 * and the pages are of slots not handed out yet. A failure (the file
 * truncated under us: EFAULT; no memory) ends the job quietly: the
 * producer then meets the same condition as without the thread.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapstoreprefault.h"
#include "gstmemmapprivate.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define GST_CAT_DEFAULT gst_memmap_debug

/* faulted in per madvise() call: a stop waits for at most one */
#define PIECE (G_GUINT64_CONSTANT (2) << 20)

typedef struct
{
  GstMemmapMapping *mapping;
  guint64 offset, size;
} Job;

struct _GstMemmapStorePrefault
{
  gchar *path;
  GThread *thread;              /* started at the first push */

  GMutex lock;
  GCond cond;
  /* under lock */
  GQueue jobs;                  /* of Job */
  gint stop;                    /* also read without the lock (atomic) */

  guint64 position;             /* atomic: the producer's end */
  guint64 bytes;                /* atomic: bytes faulted in */
  gboolean touch_only;          /* the thread's: MADV_POPULATE_WRITE
                                 * unknown to the kernel */
};

static void
job_free (Job * job)
{
  gst_memmap_mapping_unref (job->mapping);
  g_free (job);
}

/* One read per page: the page is in the page cache and mapped; the
 * producer's write then only enables writing on it. */
static void
touch_pages (const guint8 * p, gsize len)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE), i;

  for (i = 0; i < len; i += page)
    (void) *(volatile const guint8 *) (p + i);
}

/* Faults in [p, p + len) (page-aligned). FALSE to give up the job. */
static gboolean
populate (GstMemmapStorePrefault * self, guint8 * p, gsize len)
{
  if (!self->touch_only) {
    while (madvise (p, len, MADV_POPULATE_WRITE) < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EINVAL) {
        GST_INFO ("%s: MADV_POPULATE_WRITE not supported, prefaulting "
            "by reading", self->path);
        self->touch_only = TRUE;
        break;
      }
      GST_DEBUG ("%s: prefault stopped: %s", self->path, g_strerror (errno));
      return FALSE;
    }
  }
  if (self->touch_only)
    touch_pages (p, len);
  __atomic_add_fetch (&self->bytes, len, __ATOMIC_RELAXED);
  return TRUE;
}

static void
run_job (GstMemmapStorePrefault * self, Job * job)
{
  guint64 page = (guint64) sysconf (_SC_PAGESIZE);
  guint64 off, end = job->offset + job->size;

  for (off = job->offset; off < end; off += PIECE) {
    guint64 len = MIN (PIECE, end - off), pos;
    guint8 *data;
    guintptr a;

    if (g_atomic_int_get (&self->stop))
      return;
    /* what the producer is about to write it faults itself */
    pos = __atomic_load_n (&self->position, __ATOMIC_RELAXED);
    if (off < pos + PIECE)
      continue;
    data = gst_memmap_mapping_data_at (job->mapping, off, len);
    if (data == NULL)
      return;
    a = (guintptr) data & ~(guintptr) (page - 1);
    if (!populate (self, (guint8 *) a, len + ((guintptr) data - a)))
      return;
  }
}

static gpointer
prefault_thread (gpointer user_data)
{
  GstMemmapStorePrefault *self = user_data;
  Job *job;

  while (TRUE) {
    g_mutex_lock (&self->lock);
    while (!self->stop && g_queue_is_empty (&self->jobs))
      g_cond_wait (&self->cond, &self->lock);
    job = self->stop ? NULL : g_queue_pop_head (&self->jobs);
    g_mutex_unlock (&self->lock);
    if (job == NULL)
      break;
    run_job (self, job);
    job_free (job);
  }
  return NULL;
}

GstMemmapStorePrefault *
gst_memmap_store_prefault_new (const gchar * path)
{
  GstMemmapStorePrefault *self = g_new0 (GstMemmapStorePrefault, 1);

  self->path = g_strdup (path);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->jobs);
  return self;
}

/* Queues the file range [offset, offset + size) of @mapping (a writable
 * mapping of the store that holds all of it; a reference is taken) to be
 * faulted in. Starts the thread the first time; if it cannot be started,
 * nothing is faulted in ahead. */
void
gst_memmap_store_prefault_push (GstMemmapStorePrefault * pf,
    GstMemmapMapping * mapping, guint64 offset, guint64 size)
{
  Job *job;

  g_mutex_lock (&pf->lock);
  if (pf->thread == NULL && !pf->stop) {
    GError *err = NULL;

    pf->thread = g_thread_try_new ("memmapprefault", prefault_thread, pf, &err);
    if (pf->thread == NULL) {
      GST_WARNING ("%s: no prefault thread: %s", pf->path, err->message);
      g_clear_error (&err);
      pf->stop = TRUE;
    }
  }
  if (pf->stop) {
    g_mutex_unlock (&pf->lock);
    return;
  }
  job = g_new (Job, 1);
  job->mapping = gst_memmap_mapping_ref (mapping);
  job->offset = offset;
  job->size = size;
  g_queue_push_tail (&pf->jobs, job);
  g_cond_signal (&pf->cond);
  g_mutex_unlock (&pf->lock);
}

/* The file offset up to which the producer has slots: the thread leaves
 * what comes right after it to the producer. */
void
gst_memmap_store_prefault_set_position (GstMemmapStorePrefault * pf,
    guint64 offset)
{
  __atomic_store_n (&pf->position, offset, __ATOMIC_RELAXED);
}

guint64
gst_memmap_store_prefault_get_bytes (GstMemmapStorePrefault * pf)
{
  return __atomic_load_n (&pf->bytes, __ATOMIC_RELAXED);
}

/* Stops the thread (after the piece it is faulting in, if any), drops
 * the jobs left and frees @pf. */
void
gst_memmap_store_prefault_free (GstMemmapStorePrefault * pf)
{
  if (pf == NULL)
    return;
  g_mutex_lock (&pf->lock);
  g_atomic_int_set (&pf->stop, TRUE);
  g_cond_broadcast (&pf->cond);
  g_mutex_unlock (&pf->lock);
  if (pf->thread)
    g_thread_join (pf->thread);
  g_queue_clear_full (&pf->jobs, (GDestroyNotify) job_free);
  g_mutex_clear (&pf->lock);
  g_cond_clear (&pf->cond);
  g_free (pf->path);
  g_free (pf);
}
