/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lookup and the miss path of #GstMemmapEngine: the window that serves
 * a request, the cache lookup after a stat() of the file, and on a miss
 * the reservation of its bytes under the budget, the open() (or the
 * duplicate of the caller's descriptor), the check that the file opened is
 * the one looked up, and the mmap() (or read() of a small file).
 *
 * No syscall that can block runs under the engine lock: a miss reserves its
 * bytes (engine->pending) under the lock, maps without it, and enters the
 * mapping in the cache under it again, handing out the other one when a
 * concurrent miss of the same window won.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapengineprivate.h"
#include "gstmemmapfaultguard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* How often a miss is retried when the file changes between the stat() of
 * the lookup and the fstat() of the open. */
#define MAX_IDENTITY_RETRIES 4

static KeyKind
flags_to_kind (GstMemmapMapFlags flags)
{
  if (flags & GST_MEMMAP_MAP_WRITE)
    return KEY_KIND_WRITABLE;
  if (flags & GST_MEMMAP_MAP_COPY_ON_WRITE)
    return KEY_KIND_PRIVATE;
  if (flags & GST_MEMMAP_MAP_VOLATILE)
    return KEY_KIND_VOLATILE;
  if (flags & GST_MEMMAP_MAP_COPY_SMALL)
    return KEY_KIND_COPY;
  return KEY_KIND_STABLE;
}

static void
fill_key (MappingKey * key, const struct stat *st, KeyKind kind,
    guint64 win_offset, guint64 win_length)
{
  memset (key, 0, sizeof (*key));
  key->dev = (guint64) st->st_dev;
  key->ino = (guint64) st->st_ino;
  key->kind = kind;
  key->win_offset = win_offset;
  key->win_length = win_length;
  if (kind == KEY_KIND_STABLE || kind == KEY_KIND_COPY) {
    key->size = (gint64) st->st_size;
    key->mtime_sec = (gint64) st->st_mtim.tv_sec;
    key->mtime_nsec = (gint64) st->st_mtim.tv_nsec;
  }
}

/* "Could not <what> file '<path>'<how>: <strerror>" */
void
gst_memmap_set_errno_error (GError ** error, gint err_no, const gchar * what,
    const gchar * path, const gchar * how)
{
  g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err_no),
      "Could not %s file '%s'%s: %s", what, path, how, g_strerror (err_no));
}

/* Checks that @st describes a file that can be mapped. */
gboolean
gst_memmap_check_regular (const struct stat *st, const gchar * path,
    GError ** error)
{
  if (S_ISDIR (st->st_mode)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IS_DIRECTORY,
        "'%s' is a directory, not a file", path);
    return FALSE;
  }
  if (!S_ISREG (st->st_mode)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s' is not a regular file", path);
    return FALSE;
  }
  return TRUE;
}

/* The window that serves @req. Called with the engine lock held (reads the
 * settings). */
static gboolean
compute_window (GstMemmapEngine * self, const gchar * path,
    guint64 file_size, const MapRequest * req, guint64 * win_offset,
    guint64 * win_length, GError ** error)
{
  gboolean whole = req->whole;
  guint64 offset = req->offset, size = req->size;
  guint64 w, start, end;

  if (file_size == 0) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_EMPTY_FILE,
        "File '%s' is empty: there is nothing to map", path);
    return FALSE;
  }

  if (whole) {
    start = 0;
    end = file_size;
  } else {
    if (size == 0) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
          "Cannot map 0 bytes at offset %" G_GUINT64_FORMAT " of file '%s'",
          offset, path);
      return FALSE;
    }
    if (offset >= file_size || size > file_size - offset) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
          "Range of %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
          " is not inside file '%s' of %" G_GUINT64_FORMAT " bytes", size,
          offset, path, file_size);
      return FALSE;
    }

    /* windows never exceed the budget: a window-size larger than
     * max-mapped-bytes would make every window fail */
    w = MIN (self->window_size,
        gst_memmap_engine_align_down (self->max_mapped_bytes));
    w = MAX (w, gst_memmap_engine_page_size);

    start = offset - offset % w;
    end = (file_size - start > w) ? start + w : file_size;
    /* the caller's window (pages of it), clipped to the file, if it holds
     * the range and fits the budget */
    if (req->window_size > 0 && req->window_offset <= offset &&
        offset - req->window_offset < req->window_size &&
        req->window_size <= G_MAXINT64 - gst_memmap_engine_page_size) {
      guint64 wstart = gst_memmap_engine_align_down (req->window_offset);
      guint64 wend = gst_memmap_engine_align_up (req->window_offset +
          req->window_size);

      wend = MIN (wend, file_size);
      if (offset + size <= wend && wend - wstart <= self->max_mapped_bytes) {
        start = wstart;
        end = wend;
      }
    }
    /* offset + size <= file_size <= G_MAXINT64: no overflow below */
    if (offset + size > end) {
      start = gst_memmap_engine_align_down (offset);
      end = MIN (gst_memmap_engine_align_up (offset + size), file_size);
    }
  }

  if (end - start > self->max_mapped_bytes) {
    if (whole)
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_OVER_BUDGET,
          "File '%s' of %" G_GUINT64_FORMAT " bytes is larger than the "
          "engine's max-mapped-bytes (%" G_GUINT64_FORMAT "): map it in "
          "windows with gst_memmap_engine_map_range()", path, file_size,
          self->max_mapped_bytes);
    else
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_OVER_BUDGET,
          "Range of %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
          " of file '%s' needs a mapping of %" G_GUINT64_FORMAT " bytes, more "
          "than the engine's max-mapped-bytes (%" G_GUINT64_FORMAT "): map it "
          "in smaller windows", size, offset, path, end - start,
          self->max_mapped_bytes);
    return FALSE;
  }
  if (end - start > G_MAXSIZE) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Cannot map %" G_GUINT64_FORMAT " bytes of file '%s' in this "
        "address space", end - start, path);
    return FALSE;
  }

  *win_offset = start;
  *win_length = end - start;
  return TRUE;
}

/* O_NONBLOCK, then cleared: the open() of a FIFO never waits for a
 * writer (the caller's fstat() then refuses anything but a regular file),
 * and the descriptor of a regular file behaves as a blocking one, as the
 * caller asked. No lock held. */
static gint
open_nonblock (const gchar * path, gint flags, mode_t mode)
{
  gint fd = open (path, flags | O_NONBLOCK, mode);
  gint fl;

  if (fd >= 0 && !(flags & O_NONBLOCK) && (fl = fcntl (fd, F_GETFL)) >= 0)
    fcntl (fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

/* open() that, when the process has no file descriptor left (EMFILE,
 * ENFILE), gives back those of the unused cached mappings and tries once
 * more, as a failed mmap() does on ENOMEM. No lock held. */
gint
gst_memmap_engine_open_retry (GstMemmapEngine * self, const gchar * path,
    gint flags, mode_t mode)
{
  gint fd = open_nonblock (path, flags, mode);
  guint n;

  if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
    gint err_no = errno;

    n = gst_memmap_engine_evict_unused (self);
    GST_INFO_OBJECT (self, "open of %s failed: %s; evicted %u mappings%s",
        path, g_strerror (err_no), n, n > 0 ? " and retrying" : "");
    if (n > 0)
      fd = open_nonblock (path, flags, mode);
    else
      errno = err_no;
  }
  return fd;
}

/* fcntl (F_DUPFD_CLOEXEC), with the retry of gst_memmap_engine_open_retry() */
static gint
dup_retry (GstMemmapEngine * self, gint fd, const gchar * path)
{
  gint dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  guint n;

  if (dup_fd < 0 && (errno == EMFILE || errno == ENFILE)) {
    gint err_no = errno;

    n = gst_memmap_engine_evict_unused (self);
    GST_INFO_OBJECT (self, "dup of a descriptor of %s failed: %s; evicted "
        "%u mappings%s", path, g_strerror (err_no), n,
        n > 0 ? " and retrying" : "");
    if (n > 0)
      dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
    else
      errno = err_no;
  }
  return dup_fd;
}

static gboolean
read_fully (gint fd, guint8 * buf, gsize size, guint64 offset, gint * err_no)
{
  gsize done = 0;

  while (done < size) {
    ssize_t r = pread (fd, buf + done, size - done, (off_t) (offset + done));

    if (r < 0) {
      if (errno == EINTR)
        continue;
      *err_no = errno;
      return FALSE;
    }
    if (r == 0) {
      /* the file shrank since fstat() */
      *err_no = EIO;
      return FALSE;
    }
    done += (gsize) r;
  }
  return TRUE;
}

/* Maps (or reads) the window of @m from @m->fd. No lock held. */
static gboolean
mapping_load (GstMemmapEngine * self, GstMemmapMapping * m, gboolean use_read,
    gboolean sequential, GError ** error)
{
  gint err_no = 0;

  if (use_read) {
    void *buf = NULL;
    gint r = posix_memalign (&buf, gst_memmap_engine_page_size, m->size);

    if (r != 0) {
      gst_memmap_set_errno_error (error, r, "allocate memory to read",
          m->path, "");
      return FALSE;
    }
    if (!read_fully (m->fd, buf, m->size, m->offset, &err_no)) {
      free (buf);
      gst_memmap_set_errno_error (error, err_no, "read", m->path, "");
      return FALSE;
    }
    m->data = buf;
    m->mmapped = FALSE;
    return TRUE;
  } else {
    gint prot = PROT_READ | (m->writable || m->cow ? PROT_WRITE : 0);
    void *p;
    gboolean retried = FALSE;

  again:
    /* copy-on-write: written pages are the process's, the file's never
     * change (a read-only descriptor is enough); no commit charge for the
     * whole window, only the pages written take memory */
    p = mmap (NULL, m->size, prot, m->cow ? MAP_PRIVATE | MAP_NORESERVE :
        MAP_SHARED, m->fd, (off_t) m->offset);
    if (p == MAP_FAILED) {
      err_no = errno;
      if (err_no == ENOMEM && !retried) {
        guint n;

        /* out of address space or map count: drop everything unused and
         * try once more */
        n = gst_memmap_engine_evict_unused (self);
        GST_INFO_OBJECT (self, "mmap of %s failed with ENOMEM, evicted %u "
            "mappings and retrying", m->path, n);
        retried = TRUE;
        goto again;
      }
      g_set_error (error, GST_MEMMAP_ERROR,
          gst_memmap_error_from_errno (err_no),
          "Could not map %" G_GSIZE_FORMAT " bytes at offset %"
          G_GUINT64_FORMAT " of file '%s': %s", m->size, m->offset, m->path,
          g_strerror (err_no));
      return FALSE;
    }
    m->data = p;
    m->mmapped = TRUE;
    m->guard_id = gst_memmap_fault_guard_add (p, m->size, prot);
#ifdef MADV_HUGEPAGE
    /* Pages that first enter the page cache through a write fault come in
     * folios as large as readahead grows them; with this hint they are
     * 2 MiB, so that whoever maps the file later takes one fault per
     * 2 MiB instead of one per few small folios (see docs/benchmarks.md).
     * Only a hint: without THP it does nothing. */
    if (m->writable && madvise (p, m->size, MADV_HUGEPAGE) < 0)
      GST_DEBUG_OBJECT (self, "madvise (MADV_HUGEPAGE) on %s failed: %s",
          m->path, g_strerror (errno));
#endif
    if (sequential) {
      if (madvise (p, m->size, MADV_SEQUENTIAL) < 0 ||
          madvise (p, m->size, MADV_WILLNEED) < 0)
        GST_DEBUG_OBJECT (self, "madvise on %s failed: %s", m->path,
            g_strerror (errno));
    }
    return TRUE;
  }
}

/* Looks the window of @req up in the cache, after a stat() of @path (an
 * fstat() of @fd when it is not -1). TRUE and *@hit set, with a reference
 * taken, on a hit. TRUE and *@hit NULL on a miss: *@key is the window's
 * key, *@use_read says whether it is read() instead of mmapped, and its
 * bytes are reserved under the budget (engine->pending counts the miss
 * until unreserve_miss() or insert_loaded()). FALSE with @error set.
 * @counted: whether this acquire was counted in the maps statistic. No
 * lock held. */
static gboolean
lookup (GstMemmapEngine * self, const gchar * path, const MapRequest * req,
    KeyKind kind, gint fd, gboolean * counted, MappingKey * key,
    gboolean * use_read, GstMemmapMapping ** hit, GError ** error)
{
  GQueue to_destroy = G_QUEUE_INIT;
  guint64 win_offset, win_length;
  GstMemmapMapping *m;
  GError *err = NULL;
  struct stat st;

  if (fd >= 0 ? fstat (fd, &st) < 0 : stat (path, &st) < 0) {
    gst_memmap_set_errno_error (error, errno, "stat", path, "");
    return FALSE;
  }
  if (!gst_memmap_check_regular (&st, path, error))
    return FALSE;

  g_mutex_lock (&self->lock);
  if (!*counted) {
    self->maps++;
    *counted = TRUE;
  }
  if (!compute_window (self, path, (guint64) st.st_size, req, &win_offset,
          &win_length, &err)) {
    g_mutex_unlock (&self->lock);
    g_propagate_error (error, err);
    return FALSE;
  }
  fill_key (key, &st, kind, win_offset, win_length);

  /* a copy-on-write mapping is never shared: always a miss */
  m = kind == KEY_KIND_PRIVATE ? NULL : g_hash_table_lookup (self->cache, key);
  if (m && gst_memmap_fault_guard_get_faults (m->guard_id) > 0) {
    /* the file was truncated under this mapping: never hand it out
     * again, map what the file holds now */
    GST_INFO_OBJECT (self, "%s [%" G_GUINT64_FORMAT ", +%" G_GSIZE_FORMAT
        ") lost pages to a truncation: dropped", path, m->offset, m->size);
    gst_memmap_engine_drop_locked (self, m, &to_destroy);
    m = NULL;
  }
  if (m) {
    gst_memmap_engine_ref_cached_locked (self, m);
    self->hits++;
    g_mutex_unlock (&self->lock);
    GST_LOG_OBJECT (self, "hit %s [%" G_GUINT64_FORMAT ", +%"
        G_GSIZE_FORMAT ")", path, m->offset, m->size);
    *hit = m;
    return TRUE;
  }

  /* miss: reserve the bytes now so that concurrent misses see them */
  *use_read = kind == KEY_KIND_COPY &&
      (guint64) st.st_size < self->read_threshold;
  gst_memmap_engine_make_room_locked (self, win_length, 1, &to_destroy);
  if (win_length > self->max_mapped_bytes - MIN (self->mapped_bytes,
          self->max_mapped_bytes)) {
    self->over_budget++;
    GST_DEBUG_OBJECT (self, "every mapping is in use: mapping %"
        G_GUINT64_FORMAT " bytes of %s over the budget", win_length, path);
  }
  self->mapped_bytes += win_length;
  self->peak_mapped_bytes = MAX (self->peak_mapped_bytes, self->mapped_bytes);
  self->pending++;
  g_mutex_unlock (&self->lock);

  /* unmap the evicted before mapping more */
  gst_memmap_engine_destroy_queue (&to_destroy);
  *hit = NULL;
  return TRUE;
}

/* Gives back the bytes a miss of lookup() reserved, when it fails or
 * starts again. */
static void
unreserve_miss (GstMemmapEngine * self, guint64 win_length)
{
  g_mutex_lock (&self->lock);
  self->mapped_bytes -= win_length;
  self->pending--;
  g_mutex_unlock (&self->lock);
}

/* A new mapping of @path, not loaded yet, with a descriptor of its own:
 * @fd itself when @fd_owned, a duplicate of @fd, or a new open() of
 * @path. NULL with @error set. No lock held. */
static GstMemmapMapping *
mapping_new_fd (GstMemmapEngine * self, const gchar * path,
    gboolean writable, gint fd, gboolean fd_owned, GError ** error)
{
  GstMemmapMapping *m = g_new0 (GstMemmapMapping, 1);

  m->path = g_strdup (path);
  m->fd = -1;
  m->guard_id = -1;
  m->writable = writable;
  m->link.data = m;

  if (fd >= 0 && fd_owned) {
    m->fd = fd;
  } else if (fd >= 0) {
    m->fd = dup_retry (self, fd, path);
    if (m->fd < 0) {
      gst_memmap_set_errno_error (error, errno,
          "duplicate the descriptor of", path, "");
      goto failed;
    }
  } else {
    m->fd = gst_memmap_engine_open_retry (self, path,
        (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (m->fd < 0) {
      gst_memmap_set_errno_error (error, errno, "open", path, writable ?
          " for reading and writing" : " for reading");
      goto failed;
    }
  }
  return m;

failed:
  gst_memmap_mapping_destroy (m);
  return NULL;
}

typedef enum
{
  IDENTITY_SAME,
  IDENTITY_CHANGED,             /* another file, or another size: retry */
  IDENTITY_ERROR,
} Identity;

/* Whether the file open on @m->fd is still the one of @key: the file may
 * have changed between the stat() of the lookup and the open(). Sets
 * @m->file_size when it is. No lock held. */
static Identity
check_identity (GstMemmapEngine * self, GstMemmapMapping * m,
    const MapRequest * req, KeyKind kind, const MappingKey * key,
    GError ** error)
{
  guint64 win_offset, win_length;
  GError *err = NULL;
  MappingKey fkey;
  struct stat fst;

  if (fstat (m->fd, &fst) < 0) {
    gst_memmap_set_errno_error (error, errno, "stat", m->path, "");
    return IDENTITY_ERROR;
  }
  if (!gst_memmap_check_regular (&fst, m->path, error))
    return IDENTITY_ERROR;
  g_mutex_lock (&self->lock);
  if (!compute_window (self, m->path, (guint64) fst.st_size, req,
          &win_offset, &win_length, &err)) {
    g_mutex_unlock (&self->lock);
    g_propagate_error (error, err);
    return IDENTITY_ERROR;
  }
  g_mutex_unlock (&self->lock);
  fill_key (&fkey, &fst, kind, win_offset, win_length);
  if (!gst_memmap_mapping_key_equal (key, &fkey))
    return IDENTITY_CHANGED;
  m->file_size = (guint64) fst.st_size;
  return IDENTITY_SAME;
}

/* Ends the miss of the loaded @m: enters it in the cache, or hands out
 * (and destroys @m for) the mapping of the same window that a concurrent
 * miss entered meanwhile. Takes the engine lock. */
static GstMemmapMapping *
insert_loaded (GstMemmapEngine * self, GstMemmapMapping * m,
    gboolean use_read, GstClockTime t0)
{
  guint64 win_length = m->size;
  GstMemmapMapping *existing;

  g_mutex_lock (&self->lock);
  self->pending--;
  self->map_time_ns += gst_util_get_timestamp () - t0;
  self->bytes_mapped_total += win_length;
  self->misses++;
  if (use_read)
    self->reads++;

  if (m->cow) {
    /* never cached: unmapped when its last reference goes */
    m->refcount = 1;
    m->engine = self;
    m->cached = FALSE;
    self->cow_maps = g_list_prepend (self->cow_maps, m);
    self->active_maps++;
    self->in_use_maps++;
    gst_object_ref (self);
    g_mutex_unlock (&self->lock);
    GST_DEBUG_OBJECT (self, "mapped %s [%" G_GUINT64_FORMAT ", +%"
        G_GSIZE_FORMAT ") copy-on-write", m->path, m->offset, m->size);
    return m;
  }
  existing = g_hash_table_lookup (self->cache, &m->key);
  if (existing) {
    /* another thread mapped the same window meanwhile: use that one */
    gst_memmap_engine_ref_cached_locked (self, existing);
    self->mapped_bytes -= win_length;
    g_mutex_unlock (&self->lock);
    gst_memmap_mapping_destroy (m);
    return existing;
  }

  m->refcount = 1;
  m->engine = self;
  m->cached = TRUE;
  g_hash_table_insert (self->cache, &m->key, m);
  self->active_maps++;
  self->in_use_maps++;
  gst_object_ref (self);
  g_mutex_unlock (&self->lock);

  GST_DEBUG_OBJECT (self, "%s %s [%" G_GUINT64_FORMAT ", +%" G_GSIZE_FORMAT
      ") of %" G_GUINT64_FORMAT " bytes%s", use_read ? "read" : "mapped",
      m->path, m->offset, m->size, m->file_size,
      m->writable ? " read-write" : "");
  return m;
}

/* The heart of the engine: looks the window up, maps it on a miss.
 *
 * @fd: -1, or a file descriptor already open on @path (read-write when
 * @flags has WRITE). @fd_owned: its ownership passes to the engine
 * (create_file); else it is borrowed and a new mapping gets a duplicate of
 * it, so that a hit costs no dup().
 */
GstMemmapMapping *
gst_memmap_engine_acquire (GstMemmapEngine * self, const gchar * path,
    const MapRequest * req, GstMemmapMapFlags flags, gint fd,
    gboolean fd_owned, GError ** error)
{
  KeyKind kind = flags_to_kind (flags);
  gboolean writable = (flags & GST_MEMMAP_MAP_WRITE) != 0;
  gboolean sequential = (flags & GST_MEMMAP_MAP_SEQUENTIAL) != 0;
  gboolean counted = FALSE;
  guint attempt;

  for (attempt = 0; attempt < MAX_IDENTITY_RETRIES; attempt++) {
    GstMemmapMapping *m;
    MappingKey key;
    gboolean use_read;
    GstClockTime t0;

    if (!lookup (self, path, req, kind, fd, &counted, &key, &use_read, &m,
            error))
      goto fail_fd;
    if (m) {
      if (fd >= 0 && fd_owned)
        close (fd);
      return m;
    }

    t0 = gst_util_get_timestamp ();
    m = mapping_new_fd (self, path, writable, fd, fd_owned, error);
    if (m == NULL) {
      unreserve_miss (self, key.win_length);
      return NULL;
    }
    if (fd_owned)
      fd = -1;                  /* @m's now */

    switch (check_identity (self, m, req, kind, &key, error)) {
      case IDENTITY_SAME:
        break;
      case IDENTITY_CHANGED:
        GST_DEBUG_OBJECT (self, "%s changed while opening it, retrying", path);
        unreserve_miss (self, key.win_length);
        /* a descriptor of the caller's names the same file on the next
         * try */
        if (fd_owned) {
          fd = m->fd;
          m->fd = -1;
        }
        gst_memmap_mapping_destroy (m);
        continue;
      case IDENTITY_ERROR:
        goto fail_reserved;
    }

    m->key = key;
    m->cow = kind == KEY_KIND_PRIVATE;
    m->offset = key.win_offset;
    m->size = (gsize) key.win_length;
    if (!mapping_load (self, m, use_read, sequential, error))
      goto fail_reserved;

    return insert_loaded (self, m, use_read, t0);

  fail_reserved:
    unreserve_miss (self, key.win_length);
    gst_memmap_mapping_destroy (m);
    return NULL;
  }

  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
      "File '%s' kept changing while it was being mapped", path);

fail_fd:
  if (fd >= 0 && fd_owned)
    close (fd);
  return NULL;
}
