/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapstoresession
 * @title: GstMemmapStoreSession
 * @short_description: waits for a store's new frames and holds ring frames
 *   safely, across processes
 *
 * A #GstMemmapStoreSession links a #GstMemmapStoreReader to the shared part
 * of its store's header (docs/store-format.md, "Wake-ups and leases"):
 *
 * - gst_memmap_store_session_wait() sleeps until the writer commits a frame
 *   or closes the store. The writer increments the header's `notify` word
 *   after every commit and wakes the processes waiting on it (a futex on
 *   the shared page), only when the `waiters` count says that somebody
 *   waits: no polling, and no system call per frame when nobody waits.
 * - gst_memmap_store_session_get_buffer() returns a ring frame whose slot
 *   the writer will not reuse for as long as the buffer's memory lives: the
 *   session records the frames it holds in a lease of the header's lease
 *   table, which the writer checks before it reuses a slot.
 *
 * The session maps the store's header page itself, read-write when the
 * file can be opened for writing. On a read-only file it still waits, with
 * a short timeout instead of a registered wake-up, and copies ring frames
 * instead of leasing them.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoresync.h"
#include "gstmemmapfaultguard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* a registered waiter is woken by the writer; the timeout is a safety net
 * (a writer that died between its commit and its wake-up) */
#define READ_ONLY_WAIT_US (10 * 1000)
/* an open store whose writer process is gone and that made no progress for
 * this long has ended */
#define WRITER_GONE_US (2 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------------ */
/* futexes and processes                                                    */

gint
gst_memmap_store_futex_wait (guint32 * addr, guint32 val, gint64 timeout_us)
{
  struct timespec ts;

  if (timeout_us < 0)
    timeout_us = 0;
  ts.tv_sec = timeout_us / G_USEC_PER_SEC;
  ts.tv_nsec = (timeout_us % G_USEC_PER_SEC) * 1000;

  /* shared (no FUTEX_PRIVATE_FLAG): the word is in a MAP_SHARED mapping of
   * a file, and the kernel keys it on the file's page */
  if (syscall (SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0) < 0)
    return errno;
  return 0;
}

void
gst_memmap_store_futex_wake (guint32 * addr)
{
  syscall (SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot; 0 if unknown. */
guint64
gst_memmap_store_pid_start_time (guint32 pid)
{
  gchar path[64], buf[1024], *p, *end;
  guint64 ret = 0;
  ssize_t n;
  gint fd, field;

  g_snprintf (path, sizeof (path), "/proc/%u/stat", pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read (fd, buf, sizeof (buf) - 1);
  close (fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';

  /* the command name may hold spaces and parentheses: skip to the last ')',
   * after which field 3 begins */
  p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  p++;
  for (field = 3; field <= 22; field++) {
    while (*p == ' ')
      p++;
    if (*p == '\0')
      return 0;
    if (field == 22) {
      ret = g_ascii_strtoull (p, &end, 10);
      if (end == p)
        ret = 0;
      break;
    }
    while (*p != ' ' && *p != '\0')
      p++;
  }
  return ret;
}

gboolean
gst_memmap_store_pid_alive (guint32 pid, guint64 start)
{
  guint64 now;

  /* kill() with a pid <= 0 addresses process groups: never */
  if (pid == 0 || pid > G_MAXINT32)
    return FALSE;
  if (pid == (guint32) getpid ())
    return TRUE;
  if (kill ((pid_t) pid, 0) < 0 && errno == ESRCH)
    return FALSE;
  if (start != 0) {
    now = gst_memmap_store_pid_start_time (pid);
    /* another process got the pid of the dead one */
    if (now != 0 && now != start)
      return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* writer side                                                              */

/* Called by the writer after it stored committed (or state, or reset the
 * store): one atomic increment, and a system call only when a reader
 * waits. The full barrier also orders the counter before whatever the
 * writer writes next into a slot that the commit freed. */
void
gst_memmap_store_notify_commit (GstMemmapStoreHeader * hdr)
{
  __atomic_fetch_add (&hdr->notify, 1, __ATOMIC_SEQ_CST);
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (__atomic_load_n (&hdr->waiters, __ATOMIC_SEQ_CST) != 0)
    gst_memmap_store_futex_wake (&hdr->notify);
}

/* ------------------------------------------------------------------------ */
/* the session                                                              */

G_DEFINE_BOXED_TYPE (GstMemmapStoreSession, gst_memmap_store_session,
    gst_memmap_store_session_ref, gst_memmap_store_session_unref);

/* Opens the file the reader validated, read-write if we may. */
static gint
open_store_file (GstMemmapStoreReader * reader, gboolean * writable)
{
  const gchar *path = gst_memmap_store_reader_get_path (reader);
  gint rfd = gst_memmap_store_reader_get_fd (reader);
  gchar proc[64];
  gint fd;

  /* through /proc the very inode the reader holds, also when the path
   * was replaced meanwhile */
  g_snprintf (proc, sizeof (proc), "/proc/self/fd/%d", rfd);
  fd = open (proc, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT)
    fd = open (path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0 && gst_memmap_store_same_file (fd, rfd)) {
    *writable = TRUE;
    return fd;
  }
  if (fd >= 0)
    close (fd);
  else
    GST_INFO ("%s is not writable (%s): no wake-ups, no ring leases", path,
        g_strerror (errno));

  *writable = FALSE;
  return fcntl (rfd, F_DUPFD_CLOEXEC, 0);
}

/**
 * gst_memmap_store_session_new:
 * @reader: an open reader
 * @error: return location for a #GError, or %NULL
 *
 * Maps the header page of @reader's store (the file the reader validated)
 * and, for a ring store that can be opened for writing, claims a lease in
 * its lease table. The session does not keep @reader: pass it again to
 * gst_memmap_store_session_get_buffer().
 *
 * Returns: (transfer full) (nullable): a session, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapStoreSession *
gst_memmap_store_session_new (GstMemmapStoreReader * reader, GError ** error)
{
  GstMemmapStoreSession *self;
  gboolean writable = FALSE;
  guint64 spare;
  gpointer data;
  gint fd, err;

  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fd = open_store_file (reader, &writable);
  if (fd < 0)
    goto open_failed;
  data = mmap (NULL, GST_MEMMAP_STORE_HEADER_SIZE,
      PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    goto map_failed;

  self = g_new0 (GstMemmapStoreSession, 1);
  self->ref_count = 1;
  /* another program may truncate the file under this page as under any
   * other mapping: the fault guard turns a touch past the new end into a
   * zero page (counted) instead of a SIGBUS that would end the process */
  self->guard_id = gst_memmap_fault_guard_add (data,
      GST_MEMMAP_STORE_HEADER_SIZE, PROT_READ | (writable ? PROT_WRITE : 0));
  self->path = g_strdup (gst_memmap_store_reader_get_path (reader));
  self->fd = fd;
  self->hdr = data;
  self->writable = writable;
  self->mode = gst_memmap_store_reader_get_mode (reader);
  self->lease = -1;
  self->held = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->last_committed = gst_memmap_store_load_u64 (&self->hdr->committed);
  self->last_progress = g_get_monotonic_time ();
  g_mutex_init (&self->lock);

  if (self->mode == GST_MEMMAP_STORE_MODE_RING) {
    /* from the reader's validated copy of the header (slots_per_chunk >
     * max_frames), never from the shared page, which anyone who can write
     * the file may have changed since */
    spare = gst_memmap_store_reader_get_spare_slots (reader);
    /* half of the spare slots: the writer keeps the others */
    self->max_span = MAX (spare / 2, 1);
    if (writable)
      gst_memmap_store_session_claim_lease (self);
  }

  GST_DEBUG ("session on %s: %s, lease %d", self->path,
      writable ? "read-write" : "read-only", self->lease);
  return self;

  /* ERRORS */
open_failed:
  {
    err = errno;
    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not open frame store '%s': %s",
        gst_memmap_store_reader_get_path (reader), g_strerror (err));
    return NULL;
  }
map_failed:
  {
    err = errno;
    close (fd);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Could not map the header of frame store '%s': %s",
        gst_memmap_store_reader_get_path (reader), g_strerror (err));
    return NULL;
  }
}

/**
 * gst_memmap_store_session_ref:
 * @session: a #GstMemmapStoreSession
 *
 * Adds a reference to @session.
 *
 * Returns: (transfer full): @session
 *
 * Since: 0.1
 */
GstMemmapStoreSession *
gst_memmap_store_session_ref (GstMemmapStoreSession * session)
{
  g_return_val_if_fail (session != NULL, NULL);

  g_atomic_int_inc (&session->ref_count);
  return session;
}

/**
 * gst_memmap_store_session_unref:
 * @session: (transfer full): a #GstMemmapStoreSession
 *
 * Drops a reference. Every buffer that holds a leased ring frame holds a
 * reference too, so the lease goes when the session's owner and the last of
 * those buffers are gone.
 *
 * Since: 0.1
 */
void
gst_memmap_store_session_unref (GstMemmapStoreSession * session)
{
  g_return_if_fail (session != NULL);

  if (!g_atomic_int_dec_and_test (&session->ref_count))
    return;

  gst_memmap_store_session_drop_lease (session);
  /* out of the guard before the range is given back */
  gst_memmap_fault_guard_remove (session->guard_id);
  munmap (session->hdr, GST_MEMMAP_STORE_HEADER_SIZE);
  close (session->fd);
  g_array_unref (session->held);
  g_mutex_clear (&session->lock);
  g_free (session->path);
  g_free (session);
}

/**
 * gst_memmap_store_session_is_writable:
 * @session: a #GstMemmapStoreSession
 *
 * Tells whether the session could map the store's header read-write.
 *
 * Returns: %TRUE if the session could map the header read-write: it waits
 *   as a registered waiter (woken by the writer) and may hold ring leases
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_session_is_writable (GstMemmapStoreSession * session)
{
  g_return_val_if_fail (session != NULL, FALSE);

  return session->writable;
}

/**
 * gst_memmap_store_session_has_lease:
 * @session: a #GstMemmapStoreSession
 *
 * Tells whether the session holds a lease on a ring store, which keeps the
 * writer from overwriting the frames it reads.
 *
 * Returns: %TRUE if the session holds an entry of a ring store's lease
 *   table, so that gst_memmap_store_session_get_buffer() returns ring frames
 *   without a copy
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_session_has_lease (GstMemmapStoreSession * session)
{
  gboolean ret;

  g_return_val_if_fail (session != NULL, FALSE);

  g_mutex_lock (&session->lock);
  ret = session->lease >= 0;
  g_mutex_unlock (&session->lock);

  return ret;
}

/**
 * gst_memmap_store_session_wait:
 * @session: a #GstMemmapStoreSession
 * @committed: the committed count the caller last saw
 * @timeout_us: the longest wait, in microseconds
 *
 * Waits until the store's committed count differs from @committed, the
 * store is closed, the timeout passes or gst_memmap_store_session_interrupt()
 * is called. Returns at once if one of these already holds. The caller
 * reads the store again in any case: a wake-up says that something may
 * have changed, not what.
 *
 * Returns: why the wait ended
 *
 * Since: 0.1
 */
GstMemmapStoreWaitResult
gst_memmap_store_session_wait (GstMemmapStoreSession * session,
    guint64 committed, gint64 timeout_us)
{
  GstMemmapStoreHeader *hdr;
  GstMemmapStoreWaitResult ret;
  guint32 seen;
  gint err;

  g_return_val_if_fail (session != NULL, GST_MEMMAP_STORE_WAIT_CHANGED);

  hdr = session->hdr;
  if (g_atomic_int_get (&session->interrupted))
    return GST_MEMMAP_STORE_WAIT_INTERRUPTED;
  /* the page was cut off the file: it reads zeros now and no writer can
   * wake us through it; the caller's next look at the store says why */
  if (gst_memmap_fault_guard_get_faults (session->guard_id) > 0)
    return GST_MEMMAP_STORE_WAIT_CHANGED;

  /* register first, then look: a commit after the look finds us
   * registered and wakes us, or changes notify so that the wait returns */
  if (session->writable)
    __atomic_fetch_add (&hdr->waiters, 1, __ATOMIC_SEQ_CST);
  else
    timeout_us = MIN (timeout_us, READ_ONLY_WAIT_US);
  seen = __atomic_load_n (&hdr->notify, __ATOMIC_SEQ_CST);

  if (g_atomic_int_get (&session->interrupted)) {
    ret = GST_MEMMAP_STORE_WAIT_INTERRUPTED;
  } else if (gst_memmap_store_load_u64 (&hdr->committed) != committed ||
      gst_memmap_store_load_u32 (&hdr->state) != GST_MEMMAP_STORE_STATE_OPEN) {
    ret = GST_MEMMAP_STORE_WAIT_CHANGED;
  } else {
    err = gst_memmap_store_futex_wait (&hdr->notify, seen, timeout_us);
    if (g_atomic_int_get (&session->interrupted))
      ret = GST_MEMMAP_STORE_WAIT_INTERRUPTED;
    else if (err == ETIMEDOUT)
      ret = GST_MEMMAP_STORE_WAIT_TIMEOUT;
    else
      ret = GST_MEMMAP_STORE_WAIT_CHANGED;
  }

  if (session->writable)
    __atomic_fetch_sub (&hdr->waiters, 1, __ATOMIC_SEQ_CST);

  return ret;
}

/**
 * gst_memmap_store_session_interrupt:
 * @session: a #GstMemmapStoreSession
 *
 * Ends a gst_memmap_store_session_wait() in progress at once, and makes
 * the next ones return %GST_MEMMAP_STORE_WAIT_INTERRUPTED until
 * gst_memmap_store_session_resume(). Any thread (a #GstBaseSrc's unlock()).
 *
 * Since: 0.1
 */
void
gst_memmap_store_session_interrupt (GstMemmapStoreSession * session)
{
  g_return_if_fail (session != NULL);

  g_atomic_int_set (&session->interrupted, 1);
  /* changing notify makes a wait that is about to sleep return at once;
   * other readers see a spurious wake-up and look again */
  if (session->writable)
    __atomic_fetch_add (&session->hdr->notify, 1, __ATOMIC_SEQ_CST);
  gst_memmap_store_futex_wake (&session->hdr->notify);
}

/**
 * gst_memmap_store_session_resume:
 * @session: a #GstMemmapStoreSession
 *
 * Undoes gst_memmap_store_session_interrupt().
 *
 * Since: 0.1
 */
void
gst_memmap_store_session_resume (GstMemmapStoreSession * session)
{
  g_return_if_fail (session != NULL);

  g_atomic_int_set (&session->interrupted, 0);
}

/**
 * gst_memmap_store_session_writer_alive:
 * @session: a #GstMemmapStoreSession
 *
 * Whether more frames may come: %FALSE once the store is closed, or when it
 * is still open but the process that wrote it (the header's writer pid) is
 * gone and no frame was committed for two seconds (a writer that crashed
 * leaves its store open). Processes that share a store must share a pid
 * namespace for this to tell.
 *
 * Returns: %FALSE when the store will not grow any more
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_session_writer_alive (GstMemmapStoreSession * session)
{
  guint64 committed;
  gint64 now = g_get_monotonic_time ();
  gboolean ret = TRUE;
  guint32 pid;

  g_return_val_if_fail (session != NULL, FALSE);

  /* closed, or damaged (its writer stopped: docs/store-format.md) */
  if (gst_memmap_store_load_u32 (&session->hdr->state) !=
      GST_MEMMAP_STORE_STATE_OPEN)
    return FALSE;

  committed = gst_memmap_store_load_u64 (&session->hdr->committed);
  pid = GUINT32_FROM_LE (__atomic_load_n (&session->hdr->writer_pid,
          __ATOMIC_RELAXED));

  g_mutex_lock (&session->lock);
  if (committed != session->last_committed) {
    session->last_committed = committed;
    session->last_progress = now;
  } else if (now - session->last_progress > WRITER_GONE_US &&
      !gst_memmap_store_pid_alive (pid, 0)) {
    ret = FALSE;
  }
  g_mutex_unlock (&session->lock);

  if (!ret)
    GST_INFO ("%s: its writer (pid %u) is gone and left it open",
        session->path, pid);
  return ret;
}
