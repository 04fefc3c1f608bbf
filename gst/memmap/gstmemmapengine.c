/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapengine
 * @title: GstMemmapEngine
 * @short_description: a byte-budgeted LRU of refcounted file mappings
 *
 * #GstMemmapEngine owns every mmap() that libgstmemmap makes. A caller asks
 * for a file (gst_memmap_engine_map_file()) or for a byte range of a file
 * (gst_memmap_engine_map_range()) and gets a refcounted #GstMemmapMapping
 * whose bytes stay valid, at the same address, for as long as it holds it.
 *
 * When the last reference goes, the mapping stays cached on an LRU list: the
 * next request for the same window of the same unchanged file is a hit that
 * costs one stat() and no mmap(). The sum of the mapped bytes (cached and in
 * use) is kept at or under #GstMemmapEngine:max-mapped-bytes by unmapping
 * unused mappings, least recently used first.
 *
 * Files larger than the budget are read through windows: a range inside the
 * standard window `[k * W, min ((k + 1) * W, file size))` (W is
 * #GstMemmapEngine:window-size) is served by that window; a range that
 * crosses a window boundary gets its own page-aligned mapping.
 *
 * When every mapping is in use and a new one does not fit under the budget,
 * the engine maps it anyway (as git does with its pack windows) rather than
 * fail a caller, and counts the event in the `over-budget` statistic. A
 * single mapping that is larger than the whole budget is refused with
 * %GST_MEMMAP_ERROR_OVER_BUDGET.
 *
 * Read-only mappings are mmap()s of the file, shared with every process
 * that maps it: what another process writes into the file later is what the
 * mapping reads, whatever the file's size. A caller that does not need that
 * may ask with %GST_MEMMAP_MAP_COPY_SMALL for small files (under
 * #GstMemmapEngine:read-threshold) to be served by read() into an aligned
 * heap buffer instead, behind the same API (gst_memmap_mapping_is_mmapped()
 * tells them apart): a private snapshot, cheaper for small files.
 *
 * A %GST_MEMMAP_MAP_COPY_ON_WRITE mapping is a private writable mapping of
 * the file: written pages become anonymous memory of the process and the
 * file never changes. It is never cached (a second caller must not see the
 * first one's writes): it counts in the budget while held and is unmapped
 * with its last reference; the `cow-*` statistics count these mappings and
 * their written pages.
 *
 * All functions are thread-safe.
 *
 * Since: 0.1
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <stdio.h>

#define GST_CAT_DEFAULT gst_memmap_debug

#define MIB (G_GUINT64_CONSTANT (1024) * 1024)

#define DEFAULT_WINDOW_SIZE (64 * MIB)

/* The default read-threshold comes from part 2 of tests/bench/bench-engine.c,
 * run on the project's 2-core Debian 12 VM (ext4, files in the page cache,
 * written with 1 MiB writes, every byte of the file summed once after it is
 * reached). Medians of 7 rounds, microseconds per file, engine miss path
 * (read() into a new page-aligned buffer against mmap):
 *
 *   size     read()  mmap          size     read()  mmap
 *   4 KiB       5.5  12.9          512 KiB    61.0  61.0
 *   64 KiB     11.6  16.7          1 MiB     122.4 112.8
 *   256 KiB    31.7  36.0          2 MiB    1113.8 200.6
 *
 * read() wins below 512 KiB (a page fault per page and the mmap/munmap
 * syscalls cost more than copying a few pages), the two are level at
 * 512 KiB (mmap/read 1.00 to 1.08 in four runs) and mmap wins from 1 MiB
 * (0.83 to 0.98 in five); from 2 MiB up read() into a new buffer is 5-9x
 * slower, because glibc serves such buffers with fresh anonymous pages whose
 * first touch costs ~1 GB/s here. (A raw read() into a reused buffer, which
 * the engine never does, crossed over anywhere from 512 KiB to 16 MiB
 * depending on the run and the load.) So: files under 512 KiB are read. See
 * docs/engine.md. */
#define DEFAULT_READ_THRESHOLD (512 * 1024)

/* Fallbacks when the system cannot tell its memory size or fd limit. */
#define FALLBACK_MAX_MAPPED_BYTES (1024 * MIB)
#define FALLBACK_MAX_MAPPINGS 256

/* How often a miss is retried when the file changes between the stat() of
 * the lookup and the fstat() of the open. */
#define MAX_IDENTITY_RETRIES 4

enum
{
  PROP_0,
  PROP_MAX_MAPPED_BYTES,
  PROP_WINDOW_SIZE,
  PROP_READ_THRESHOLD,
  PROP_MAX_MAPPINGS,
  PROP_STATS,
};


/**
 * GstMemmapEngine:
 *
 * A cache of file mappings under a byte budget. Get the process-wide one
 * with gst_memmap_engine_get_default() or a private one with
 * gst_memmap_engine_new(); all its functions are thread-safe.
 *
 * Since: 0.1
 */
struct _GstMemmapEngine
{
  GstObject parent;

  GMutex lock;

  /* settings, under lock */
  guint64 max_mapped_bytes;
  guint64 window_size;
  guint64 read_threshold;
  guint max_mappings;

  /* state, under lock */
  GHashTable *cache;            /* MappingKey* -> GstMemmapMapping* */
  GQueue lru;                   /* head = most recently used, refcount 0 */
  guint pending;                /* misses between reservation and insert */

  /* stats, under lock */
  guint64 maps;
  guint64 hits;
  guint64 misses;
  guint64 evictions;
  guint64 mapped_bytes;         /* cached + in use + reserved by misses */
  guint64 peak_mapped_bytes;
  guint64 active_maps;
  guint64 in_use_maps;
  guint64 bytes_mapped_total;
  guint64 map_time_ns;
  guint64 reads;
  guint64 over_budget;
  GList *cow_maps;              /* live copy-on-write mappings, not cached */
};

static guint64 page_size;

#define gst_memmap_engine_parent_class parent_class
G_DEFINE_TYPE (GstMemmapEngine, gst_memmap_engine, GST_TYPE_OBJECT);

static void gst_memmap_engine_finalize (GObject * object);
static void gst_memmap_engine_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_memmap_engine_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);

static void mapping_destroy (GstMemmapMapping * m);
static void destroy_queue (GQueue * q);

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static inline guint64
align_down (guint64 v)
{
  return v & ~(page_size - 1);
}

/* Callers make sure that @v + page_size - 1 does not overflow. */
static inline guint64
align_up (guint64 v)
{
  return (v + page_size - 1) & ~(page_size - 1);
}

static guint64
default_max_mapped_bytes (void)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  guint64 bytes;

  if (pages <= 0)
    return FALLBACK_MAX_MAPPED_BYTES;

  if ((guint64) pages > G_MAXUINT64 / page_size)
    bytes = G_MAXUINT64;
  else
    bytes = (guint64) pages * page_size;

  bytes /= 4;
#if GLIB_SIZEOF_VOID_P < 8
  /* a 32-bit address space cannot hold a quarter of a large RAM */
  bytes = MIN (bytes, 512 * MIB);
#endif
  return MAX (align_down (bytes), page_size);
}

static guint
default_max_mappings (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
    return FALLBACK_MAX_MAPPINGS;

  /* every mapping holds one fd: leave three quarters to the application */
  return (guint) CLAMP (rl.rlim_cur / 4, 16, 16384);
}

static guint
mapping_key_hash (gconstpointer p)
{
  const MappingKey *k = p;
  guint64 h = k->dev * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

  h ^= k->ino + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  h ^= k->win_offset + (h << 6) + (h >> 2);
  h ^= k->win_length + (h << 6) + (h >> 2);
  h ^= (guint64) k->size + (guint64) k->mtime_nsec + (h << 6) + (h >> 2);
  h ^= (guint64) k->kind;

  return (guint) (h ^ (h >> 32));
}

static gboolean
mapping_key_equal (gconstpointer pa, gconstpointer pb)
{
  const MappingKey *a = pa, *b = pb;

  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
      a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
      a->win_offset == b->win_offset && a->win_length == b->win_length &&
      a->kind == b->kind;
}

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
static void
set_errno_error (GError ** error, gint err_no, const gchar * what,
    const gchar * path, const gchar * how)
{
  g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err_no),
      "Could not %s file '%s'%s: %s", what, path, how, g_strerror (err_no));
}

/* Checks that @st describes a file that can be mapped. */
static gboolean
check_regular (const struct stat *st, const gchar * path, GError ** error)
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

/* What a caller asks the engine for: the whole file (map_file), or the
 * range [offset, offset + size) served from the standard window of the
 * engine (window_size 0) or from the caller's own window
 * [window_offset, window_offset + window_size) (page-aligned) */
typedef struct
{
  gboolean whole;
  guint64 offset;
  guint64 size;
  guint64 window_offset;
  guint64 window_size;
} MapRequest;

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
    w = MIN (self->window_size, align_down (self->max_mapped_bytes));
    w = MAX (w, page_size);

    start = offset - offset % w;
    end = (file_size - start > w) ? start + w : file_size;
    /* the caller's window (pages of it), clipped to the file, if it holds
     * the range and fits the budget */
    if (req->window_size > 0 && req->window_offset <= offset &&
        offset - req->window_offset < req->window_size &&
        req->window_size <= G_MAXINT64 - page_size) {
      guint64 wstart = align_down (req->window_offset);
      guint64 wend = align_up (req->window_offset + req->window_size);

      wend = MIN (wend, file_size);
      if (offset + size <= wend && wend - wstart <= self->max_mapped_bytes) {
        start = wstart;
        end = wend;
      }
    }
    /* offset + size <= file_size <= G_MAXINT64: no overflow below */
    if (offset + size > end) {
      start = align_down (offset);
      end = MIN (align_up (offset + size), file_size);
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

/* ------------------------------------------------------------------------ */
/* cache, under the engine lock                                             */

/* Removes the least recently used unreferenced mapping from the cache and
 * queues it on @to_destroy. */
static void
evict_one_locked (GstMemmapEngine * self, GQueue * to_destroy)
{
  GList *link = g_queue_peek_tail_link (&self->lru);
  GstMemmapMapping *m = link->data;

  g_queue_unlink (&self->lru, link);
  m->in_lru = FALSE;
  g_hash_table_remove (self->cache, &m->key);
  m->cached = FALSE;
  self->mapped_bytes -= m->size;
  self->active_maps--;
  self->evictions++;
  GST_LOG_OBJECT (self, "evicting %s [%" G_GUINT64_FORMAT ", +%"
      G_GSIZE_FORMAT ")", m->path, m->offset, m->size);
  g_queue_push_tail_link (to_destroy, link);
}

/* Evicts until @extra more bytes (and one more mapping if @extra_maps) fit
 * under the budget, or until nothing unreferenced is left. */
static void
make_room_locked (GstMemmapEngine * self, guint64 extra, guint extra_maps,
    GQueue * to_destroy)
{
  while (self->lru.length > 0 &&
      (self->mapped_bytes > self->max_mapped_bytes ||
          extra > self->max_mapped_bytes - self->mapped_bytes ||
          self->active_maps + self->pending + extra_maps >
          self->max_mappings))
    evict_one_locked (self, to_destroy);
}

/* Takes a reference to @m for a caller, under the engine lock. A 0 -> 1
 * transition takes @m off the LRU and refs the engine for it. */
static void
ref_cached_locked (GstMemmapEngine * self, GstMemmapMapping * m)
{
  if (g_atomic_int_get (&m->refcount) == 0) {
    /* only ever leaves 0 under the lock */
    if (m->in_lru) {
      g_queue_unlink (&self->lru, &m->link);
      m->in_lru = FALSE;
    }
    g_atomic_int_set (&m->refcount, 1);
    self->in_use_maps++;
    gst_object_ref (self);
  } else {
    g_atomic_int_inc (&m->refcount);
  }
}

/* Removes @m from the cache: dropped now if unreferenced (queued on
 * @to_destroy), else doomed (unmapped when its last reference goes). */
static void
drop_locked (GstMemmapEngine * self, GstMemmapMapping * m, GQueue * to_destroy)
{
  g_hash_table_remove (self->cache, &m->key);
  m->cached = FALSE;
  if (m->in_lru) {
    g_queue_unlink (&self->lru, &m->link);
    m->in_lru = FALSE;
    self->mapped_bytes -= m->size;
    self->active_maps--;
    g_queue_push_tail_link (to_destroy, &m->link);
  } else {
    GST_DEBUG_OBJECT (self, "%s [%" G_GUINT64_FORMAT ", +%" G_GSIZE_FORMAT
        ") is in use: unmapped when released", m->path, m->offset, m->size);
  }
}

/* ------------------------------------------------------------------------ */
/* mappings                                                                 */

static void
mapping_destroy (GstMemmapMapping * m)
{
  if (m->data) {
    if (m->mmapped) {
      /* out of the guard first: the range is free for others after this */
      gst_memmap_fault_guard_remove (m->guard_id);
      if (munmap (m->data, m->size) < 0)
        GST_WARNING ("munmap of %s failed: %s", m->path, g_strerror (errno));
    } else {
      free (m->data);
    }
  }
  if (m->fd >= 0)
    close (m->fd);
  g_free (m->path);
  g_free (m);
}

static void
destroy_queue (GQueue * q)
{
  GList *link;

  while ((link = g_queue_pop_head_link (q)))
    mapping_destroy (link->data);
}

/* Unmaps every cached mapping nobody holds (their fds are closed too).
 * Returns how many. No lock held. */
static guint
evict_unused (GstMemmapEngine * self)
{
  GQueue to_destroy = G_QUEUE_INIT;
  guint n;

  g_mutex_lock (&self->lock);
  while (self->lru.length > 0)
    evict_one_locked (self, &to_destroy);
  g_mutex_unlock (&self->lock);
  n = to_destroy.length;
  destroy_queue (&to_destroy);
  return n;
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
static gint
open_retry (GstMemmapEngine * self, const gchar * path, gint flags,
    mode_t mode)
{
  gint fd = open_nonblock (path, flags, mode);
  guint n;

  if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
    gint err_no = errno;

    n = evict_unused (self);
    GST_INFO_OBJECT (self, "open of %s failed: %s; evicted %u mappings%s",
        path, g_strerror (err_no), n, n > 0 ? " and retrying" : "");
    if (n > 0)
      fd = open_nonblock (path, flags, mode);
    else
      errno = err_no;
  }
  return fd;
}

/* fcntl (F_DUPFD_CLOEXEC), with the retry of open_retry() */
static gint
dup_retry (GstMemmapEngine * self, gint fd, const gchar * path)
{
  gint dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  guint n;

  if (dup_fd < 0 && (errno == EMFILE || errno == ENFILE)) {
    gint err_no = errno;

    n = evict_unused (self);
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
    gint r = posix_memalign (&buf, page_size, m->size);

    if (r != 0) {
      set_errno_error (error, r, "allocate memory to read", m->path, "");
      return FALSE;
    }
    if (!read_fully (m->fd, buf, m->size, m->offset, &err_no)) {
      free (buf);
      set_errno_error (error, err_no, "read", m->path, "");
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
     * change (a read-only descriptor is enough) */
    p = mmap (NULL, m->size, prot, m->cow ? MAP_PRIVATE : MAP_SHARED, m->fd,
        (off_t) m->offset);
    if (p == MAP_FAILED) {
      err_no = errno;
      if (err_no == ENOMEM && !retried) {
        guint n;

        /* out of address space or map count: drop everything unused and
         * try once more */
        n = evict_unused (self);
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

/* The heart of the engine: looks the window up, maps it on a miss.
 *
 * @fd: -1, or a file descriptor already open on @path (read-write when
 * @flags has WRITE). @fd_owned: its ownership passes to the engine
 * (create_file); else it is borrowed and a new mapping gets a duplicate of
 * it, so that a hit costs no dup().
 */
static GstMemmapMapping *
engine_acquire (GstMemmapEngine * self, const gchar * path,
    const MapRequest * req, GstMemmapMapFlags flags, gint fd,
    gboolean fd_owned, GError ** error)
{
  KeyKind kind = flags_to_kind (flags);
  gboolean writable = (flags & GST_MEMMAP_MAP_WRITE) != 0;
  gboolean counted = FALSE;
  guint attempt;

  for (attempt = 0; attempt < MAX_IDENTITY_RETRIES; attempt++) {
    struct stat st, fst;
    MappingKey key, fkey;
    guint64 win_offset, win_length, f_win_offset, f_win_length;
    GstMemmapMapping *m, *existing;
    GQueue to_destroy = G_QUEUE_INIT;
    gboolean use_read;
    GstClockTime t0;
    GError *err = NULL;

    if (fd >= 0) {
      if (fstat (fd, &st) < 0) {
        set_errno_error (error, errno, "stat", path, "");
        goto fail_fd;
      }
    } else if (stat (path, &st) < 0) {
      set_errno_error (error, errno, "stat", path, "");
      return NULL;
    }
    if (!check_regular (&st, path, error))
      goto fail_fd;

    g_mutex_lock (&self->lock);
    if (!counted) {
      self->maps++;
      counted = TRUE;
    }
    if (!compute_window (self, path, (guint64) st.st_size, req, &win_offset,
            &win_length, &err)) {
      g_mutex_unlock (&self->lock);
      g_propagate_error (error, err);
      goto fail_fd;
    }
    fill_key (&key, &st, kind, win_offset, win_length);

    /* a copy-on-write mapping is never shared: always a miss */
    m = kind == KEY_KIND_PRIVATE ? NULL :
        g_hash_table_lookup (self->cache, &key);
    if (m && gst_memmap_fault_guard_get_faults (m->guard_id) > 0) {
      /* the file was truncated under this mapping: never hand it out
       * again, map what the file holds now */
      GST_INFO_OBJECT (self, "%s [%" G_GUINT64_FORMAT ", +%" G_GSIZE_FORMAT
          ") lost pages to a truncation: dropped", path, m->offset, m->size);
      drop_locked (self, m, &to_destroy);
      m = NULL;
    }
    if (m) {
      ref_cached_locked (self, m);
      self->hits++;
      g_mutex_unlock (&self->lock);
      GST_LOG_OBJECT (self, "hit %s [%" G_GUINT64_FORMAT ", +%"
          G_GSIZE_FORMAT ")", path, m->offset, m->size);
      if (fd >= 0 && fd_owned)
        close (fd);
      return m;
    }

    /* miss: reserve the bytes now so that concurrent misses see them */
    use_read = kind == KEY_KIND_COPY &&
        (guint64) st.st_size < self->read_threshold;
    make_room_locked (self, win_length, 1, &to_destroy);
    if (win_length > self->max_mapped_bytes - MIN (self->mapped_bytes,
            self->max_mapped_bytes)) {
      self->over_budget++;
      GST_DEBUG_OBJECT (self, "every mapping is in use: mapping %"
          G_GUINT64_FORMAT " bytes of %s over the budget", win_length, path);
    }
    self->mapped_bytes += win_length;
    self->peak_mapped_bytes = MAX (self->peak_mapped_bytes,
        self->mapped_bytes);
    self->pending++;
    g_mutex_unlock (&self->lock);

    /* unmap the evicted before mapping more */
    destroy_queue (&to_destroy);

    t0 = gst_util_get_timestamp ();

    m = g_new0 (GstMemmapMapping, 1);
    m->path = g_strdup (path);
    m->fd = -1;
    m->guard_id = -1;
    m->writable = writable;
    m->cow = kind == KEY_KIND_PRIVATE;
    m->link.data = m;

    if (fd >= 0 && fd_owned) {
      m->fd = fd;
      fd = -1;
    } else if (fd >= 0) {
      m->fd = dup_retry (self, fd, path);
      if (m->fd < 0) {
        set_errno_error (error, errno, "duplicate the descriptor of", path,
            "");
        goto fail_reserved;
      }
    } else {
      m->fd = open_retry (self, path, (writable ? O_RDWR : O_RDONLY) |
          O_CLOEXEC, 0);
      if (m->fd < 0) {
        set_errno_error (error, errno, "open", path, writable ?
            " for reading and writing" : " for reading");
        goto fail_reserved;
      }
    }
    if (fstat (m->fd, &fst) < 0) {
      set_errno_error (error, errno, "stat", path, "");
      goto fail_reserved;
    }

    /* the file may have changed between stat() and open() */
    if (!check_regular (&fst, path, error))
      goto fail_reserved;
    g_mutex_lock (&self->lock);
    if (!compute_window (self, path, (guint64) fst.st_size, req,
            &f_win_offset, &f_win_length, &err)) {
      g_mutex_unlock (&self->lock);
      g_propagate_error (error, err);
      goto fail_reserved;
    }
    g_mutex_unlock (&self->lock);
    fill_key (&fkey, &fst, kind, f_win_offset, f_win_length);
    if (!mapping_key_equal (&key, &fkey)) {
      GST_DEBUG_OBJECT (self, "%s changed while opening it, retrying", path);
      g_mutex_lock (&self->lock);
      self->mapped_bytes -= win_length;
      self->pending--;
      g_mutex_unlock (&self->lock);
      /* a descriptor of the caller's names the same file on the next try */
      if (fd_owned) {
        fd = m->fd;
        m->fd = -1;
      }
      mapping_destroy (m);
      continue;
    }

    m->key = key;
    m->offset = win_offset;
    m->size = (gsize) win_length;
    m->file_size = (guint64) fst.st_size;

    if (!mapping_load (self, m, use_read,
            (flags & GST_MEMMAP_MAP_SEQUENTIAL) != 0, error))
      goto fail_reserved;

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
          G_GSIZE_FORMAT ") copy-on-write", path, m->offset, m->size);
      return m;
    }
    existing = g_hash_table_lookup (self->cache, &m->key);
    if (existing) {
      /* another thread mapped the same window meanwhile: use that one */
      ref_cached_locked (self, existing);
      self->mapped_bytes -= win_length;
      g_mutex_unlock (&self->lock);
      mapping_destroy (m);
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
        path, m->offset, m->size, m->file_size, writable ? " read-write" : "");
    return m;

  fail_reserved:
    g_mutex_lock (&self->lock);
    self->mapped_bytes -= win_length;
    self->pending--;
    g_mutex_unlock (&self->lock);
    mapping_destroy (m);
    return NULL;
  }

  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
      "File '%s' kept changing while it was being mapped", path);

fail_fd:
  if (fd >= 0 && fd_owned)
    close (fd);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
gst_memmap_engine_class_init (GstMemmapEngineClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  long ps = sysconf (_SC_PAGESIZE);

  /* gst_memmap_init() refs this class inside its own once-guard, so calling
   * it from here would deadlock: initialise the shared category directly
   * instead (GStreamer returns the same category for the same name). */
  GST_DEBUG_CATEGORY_INIT (gst_memmap_debug, "memmap", 0,
      "gst-memmap library");

  page_size = ps > 0 ? (guint64) ps : 4096;

  gobject_class->finalize = gst_memmap_engine_finalize;
  gobject_class->set_property = gst_memmap_engine_set_property;
  gobject_class->get_property = gst_memmap_engine_get_property;

  /**
   * GstMemmapEngine:max-mapped-bytes:
   *
   * The budget: the most bytes the engine keeps mapped (or read) at once,
   * cached and in use together. Unreferenced mappings are unmapped, least
   * recently used first, to stay under it. When everything is in use the
   * engine goes over it rather than fail (counted in `over-budget`); a
   * single mapping larger than the budget fails with
   * %GST_MEMMAP_ERROR_OVER_BUDGET. Lowering it evicts at once.
   *
   * Defaults to a quarter of the physical RAM.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_MAPPED_BYTES,
      g_param_spec_uint64 ("max-mapped-bytes", "Max mapped bytes",
          "Most bytes kept mapped at once, cached and in use (default: a "
          "quarter of the physical RAM)", 1, G_MAXUINT64,
          FALLBACK_MAX_MAPPED_BYTES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMemmapEngine:window-size:
   *
   * The size of the standard windows of gst_memmap_engine_map_range(): a
   * range is served by the window `[k * window-size, (k + 1) * window-size)`
   * that contains it (clipped to the file size), or by its own page-aligned
   * mapping when it crosses a window boundary. Rounded up to a multiple of
   * the page size. Windows never exceed #GstMemmapEngine:max-mapped-bytes
   * (rounded down to a page); a smaller window is used when the budget is
   * smaller than this.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOW_SIZE,
      g_param_spec_uint64 ("window-size", "Window size",
          "Size of the windows that serve ranges of files (a multiple of the "
          "page size, rounded up)", 1, G_MAXUINT64, DEFAULT_WINDOW_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMemmapEngine:read-threshold:
   *
   * Read-only, non-volatile files smaller than this many bytes, mapped with
   * %GST_MEMMAP_MAP_COPY_SMALL, are served by read() into a page-aligned
   * heap buffer instead of mmap(), behind the same API
   * (gst_memmap_mapping_is_mmapped() returns %FALSE for them). Without that
   * flag, and for writable and volatile mappings, files are always mmapped.
   * 0 disables read().
   *
   * The default, 512 KiB, is the crossover measured by
   * tests/bench/bench-engine.c on the project's test machine (see
   * docs/engine.md): below it read() is faster than a fresh mapping, above
   * it mmap() wins, by far from 2 MiB up. A read() copy is private memory
   * (not shared with other processes mapping the file); it is counted in
   * the budget like a mapping.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_READ_THRESHOLD,
      g_param_spec_uint64 ("read-threshold", "Read threshold",
          "Read-only files smaller than this, mapped with the COPY_SMALL flag, "
          "are read() instead of mmapped (0 = always mmap)", 0, G_MAXUINT64, DEFAULT_READ_THRESHOLD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMemmapEngine:max-mappings:
   *
   * The most mappings kept at once, cached and in use. Each mapping holds a
   * file descriptor (see gst_memmap_mapping_get_fd()) and a kernel memory
   * map, so this bounds the engine's use of both: unreferenced mappings are
   * evicted to stay under it; mappings in use are never refused.
   *
   * Defaults to a quarter of the process's soft RLIMIT_NOFILE, between 16
   * and 16384.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_MAPPINGS,
      g_param_spec_uint ("max-mappings", "Max mappings",
          "Most mappings (and file descriptors) kept at once (default: a "
          "quarter of RLIMIT_NOFILE)", 1, G_MAXUINT, FALLBACK_MAX_MAPPINGS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  /**
   * GstMemmapEngine:stats:
   *
   * The engine's statistics, as returned by gst_memmap_engine_get_stats().
   *
   * Since: 0.1
   */
  /* gst_structure_get_type(), not GST_TYPE_STRUCTURE: that one is 0 until
   * gst_init(), and g-ir-scanner's dump registers our types without it */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Statistics of the engine (see gst_memmap_engine_get_stats())",
          gst_structure_get_type (),
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
gst_memmap_engine_init (GstMemmapEngine * self)
{
  guint64 w = DEFAULT_WINDOW_SIZE;

  g_mutex_init (&self->lock);
  self->max_mapped_bytes = default_max_mapped_bytes ();
  self->window_size = MAX (align_up (w), page_size);
  self->read_threshold = DEFAULT_READ_THRESHOLD;
  self->max_mappings = default_max_mappings ();
  self->cache = g_hash_table_new (mapping_key_hash, mapping_key_equal);
  g_queue_init (&self->lru);
}

static void
gst_memmap_engine_finalize (GObject * object)
{
  GstMemmapEngine *self = GST_MEMMAP_ENGINE (object);
  GQueue to_destroy = G_QUEUE_INIT;

  /* every mapping in use holds a reference on the engine: what is left is
   * unreferenced and on the LRU */
  g_warn_if_fail (self->in_use_maps == 0);
  while (self->lru.length > 0)
    evict_one_locked (self, &to_destroy);
  destroy_queue (&to_destroy);
  g_hash_table_unref (self->cache);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_memmap_engine_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMemmapEngine *self = GST_MEMMAP_ENGINE (object);
  GQueue to_destroy = G_QUEUE_INIT;

  g_mutex_lock (&self->lock);
  switch (prop_id) {
    case PROP_MAX_MAPPED_BYTES:
      self->max_mapped_bytes = g_value_get_uint64 (value);
      make_room_locked (self, 0, 0, &to_destroy);
      break;
    case PROP_WINDOW_SIZE:{
      guint64 w = g_value_get_uint64 (value);

      if (w > G_MAXUINT64 - page_size)
        w = align_down (w);
      else
        w = align_up (w);
      self->window_size = MAX (w, page_size);
      break;
    }
    case PROP_READ_THRESHOLD:
      self->read_threshold = g_value_get_uint64 (value);
      break;
    case PROP_MAX_MAPPINGS:
      self->max_mappings = g_value_get_uint (value);
      make_room_locked (self, 0, 0, &to_destroy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);

  destroy_queue (&to_destroy);
}

static void
gst_memmap_engine_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMemmapEngine *self = GST_MEMMAP_ENGINE (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_memmap_engine_get_stats (self));
    return;
  }

  g_mutex_lock (&self->lock);
  switch (prop_id) {
    case PROP_MAX_MAPPED_BYTES:
      g_value_set_uint64 (value, self->max_mapped_bytes);
      break;
    case PROP_WINDOW_SIZE:
      g_value_set_uint64 (value, self->window_size);
      break;
    case PROP_READ_THRESHOLD:
      g_value_set_uint64 (value, self->read_threshold);
      break;
    case PROP_MAX_MAPPINGS:
      g_value_set_uint (value, self->max_mappings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------------ */
/* public API: engine                                                       */

/**
 * gst_memmap_engine_get_default:
 *
 * The process-wide engine, created on first use with the default settings.
 * Elements share it unless the application gives them another one (see
 * gst_memmap_engine_context_new()).
 *
 * Returns: (transfer none): the default #GstMemmapEngine
 *
 * Since: 0.1
 */
GstMemmapEngine *
gst_memmap_engine_get_default (void)
{
  static gsize default_engine = 0;

  if (g_once_init_enter (&default_engine)) {
    GstMemmapEngine *engine = g_object_new (GST_TYPE_MEMMAP_ENGINE,
        "name", "memmap-default-engine", NULL);

    gst_object_ref_sink (engine);
    /* lives until the process exits, by design */
    GST_OBJECT_FLAG_SET (engine, GST_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&default_engine, (gsize) engine);
  }

  return (GstMemmapEngine *) default_engine;
}

/**
 * gst_memmap_engine_new:
 *
 * Creates a private engine, with its own cache and budget.
 *
 * Returns: (transfer full): a new #GstMemmapEngine (not floating)
 *
 * Since: 0.1
 */
GstMemmapEngine *
gst_memmap_engine_new (void)
{
  GstMemmapEngine *engine = g_object_new (GST_TYPE_MEMMAP_ENGINE, NULL);

  return gst_object_ref_sink (engine);
}

/**
 * gst_memmap_engine_map_file:
 * @engine: a #GstMemmapEngine
 * @path: (type filename): the file to map
 * @flags: how to map it
 * @error: return location for a #GError, or %NULL
 *
 * Maps the whole of @path. With %GST_MEMMAP_MAP_NONE the mapping is
 * read-only and cached by the file's identity (device, inode, size and
 * modification time): mapping the same unchanged file again is a hit that
 * costs a stat() and no mmap(); a changed file is a miss. The mapping is
 * shared with the file for every size: later writes by others are seen.
 * With %GST_MEMMAP_MAP_COPY_SMALL, a file under
 * #GstMemmapEngine:read-threshold is read() into private memory instead.
 *
 * A file larger than #GstMemmapEngine:max-mapped-bytes fails with
 * %GST_MEMMAP_ERROR_OVER_BUDGET: map it in windows with
 * gst_memmap_engine_map_range(). An empty file fails with
 * %GST_MEMMAP_ERROR_EMPTY_FILE.
 *
 * Returns: (transfer full) (nullable): the mapping, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapMapping *
gst_memmap_engine_map_file (GstMemmapEngine * engine, const gchar * path,
    GstMemmapMapFlags flags, GError ** error)
{
  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  MapRequest req = { TRUE, 0, 0, 0, 0 };

  return engine_acquire (engine, path, &req, flags, -1, FALSE, error);
}

/**
 * gst_memmap_engine_map_range:
 * @engine: a #GstMemmapEngine
 * @path: (type filename): the file to map
 * @offset: file offset of the first byte wanted
 * @size: number of bytes wanted (not 0)
 * @flags: how to map it
 * @error: return location for a #GError, or %NULL
 *
 * Returns a mapping that covers the bytes `[offset, offset + size)` of
 * @path. It is the standard window `[k * W, min ((k + 1) * W, file size))`
 * (W is #GstMemmapEngine:window-size) that holds the range, or, when the
 * range crosses a window boundary, the page-aligned span of the range
 * clipped to the file size. Use gst_memmap_mapping_data_at() to reach
 * @offset inside it.
 *
 * The range must lie inside the current file size, else
 * %GST_MEMMAP_ERROR_INVALID_ARGUMENT. A span larger than
 * #GstMemmapEngine:max-mapped-bytes fails with
 * %GST_MEMMAP_ERROR_OVER_BUDGET.
 *
 * %GST_MEMMAP_MAP_WRITE and %GST_MEMMAP_MAP_VOLATILE windows are cached by
 * device, inode, window and writability only, so that a growing file keeps
 * hitting its windows.
 *
 * Returns: (transfer full) (nullable): the mapping, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapMapping *
gst_memmap_engine_map_range (GstMemmapEngine * engine, const gchar * path,
    guint64 offset, guint64 size, GstMemmapMapFlags flags, GError ** error)
{
  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  MapRequest req = { FALSE, offset, size, 0, 0 };

  return engine_acquire (engine, path, &req, flags, -1, FALSE, error);
}

GstMemmapMapping *
gst_memmap_engine_map_window_fd (GstMemmapEngine * engine, gint fd,
    const gchar * path, guint64 window_offset, guint64 window_size,
    guint64 offset, guint64 size, GstMemmapMapFlags flags, GError ** error)
{
  MapRequest req = { FALSE, offset, size, window_offset, window_size };

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* borrowed: a new mapping gets a duplicate, which shares the open file
   * and with it the kernel's readahead state (see gstmemmapprivate.h) */
  return engine_acquire (engine, path, &req, flags, fd, FALSE, error);
}

static gboolean
check_reserve_size (const gchar * path, guint64 size, GError ** error)
{
  if (size == 0 || size > (guint64) G_MAXINT64) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Cannot reserve %" G_GUINT64_FORMAT " bytes for file '%s'", size,
        path);
    return FALSE;
  }
  return TRUE;
}

static gboolean
fallocate_fd (gint fd, const gchar * path, guint64 size, GError ** error)
{
  gint r;

  do {
    r = posix_fallocate (fd, 0, (off_t) size);
  } while (r == EINTR);

  if (r != 0) {
    GstMemmapError code = gst_memmap_error_from_errno (r);

    if (code == GST_MEMMAP_ERROR_NO_SPACE)
      g_set_error (error, GST_MEMMAP_ERROR, code,
          "No space to reserve %" G_GUINT64_FORMAT " bytes for file '%s': %s",
          size, path, g_strerror (r));
    else
      g_set_error (error, GST_MEMMAP_ERROR, code,
          "Could not reserve %" G_GUINT64_FORMAT " bytes for file '%s': %s",
          size, path, g_strerror (r));
    return FALSE;
  }
  return TRUE;
}

gint
gst_memmap_engine_open (GstMemmapEngine * engine, const gchar * path,
    gint flags, guint mode)
{
  return open_retry (engine, path, flags, (mode_t) mode);
}

gboolean
gst_memmap_engine_reserve_fd (GstMemmapEngine * engine, gint fd,
    const gchar * path, guint64 size, GError ** error)
{
  struct stat st;

  if (!check_reserve_size (path, size, error))
    return FALSE;
  if (fstat (fd, &st) < 0) {
    set_errno_error (error, errno, "stat", path, "");
    return FALSE;
  }
  if (!check_regular (&st, path, error))
    return FALSE;
  if (!fallocate_fd (fd, path, size, error))
    return FALSE;
  GST_DEBUG_OBJECT (engine, "reserved %" G_GUINT64_FORMAT " bytes of %s",
      size, path);
  return TRUE;
}

/* Drops (or dooms) every cached mapping of @path, matched by name or, when
 * @st is not NULL, by device and inode. */
static guint
drop_file (GstMemmapEngine * self, const gchar * path, const struct stat *st)
{
  GQueue to_destroy = G_QUEUE_INIT;
  GHashTableIter iter;
  gpointer value;
  GPtrArray *victims = g_ptr_array_new ();
  guint i, n;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->cache);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    GstMemmapMapping *m = value;

    if (g_str_equal (m->path, path) || (st != NULL &&
            m->key.dev == (guint64) st->st_dev &&
            m->key.ino == (guint64) st->st_ino))
      g_ptr_array_add (victims, m);
  }
  for (i = 0; i < victims->len; i++)
    drop_locked (self, g_ptr_array_index (victims, i), &to_destroy);
  g_mutex_unlock (&self->lock);

  n = victims->len;
  g_ptr_array_free (victims, TRUE);
  destroy_queue (&to_destroy);

  return n;
}

/**
 * gst_memmap_engine_create_file:
 * @engine: a #GstMemmapEngine
 * @path: (type filename): the file to create
 * @size: its size in bytes (not 0)
 * @error: return location for a #GError, or %NULL
 *
 * Creates @path (mode 0666 filtered by the umask; a symbolic link is not
 * followed) with @size bytes reserved on disk with posix_fallocate(), and
 * returns a %GST_MEMMAP_MAP_WRITE mapping of the whole file.
 *
 * If @path already exists it is truncated to 0 bytes first (its old
 * contents are lost, and the engine's cached mappings of it are dropped);
 * it is then reserved like a new file.
 *
 * A full disk is reported here, as %GST_MEMMAP_ERROR_NO_SPACE (also for a
 * file size limit, EFBIG), never as a SIGBUS when a page is written later.
 * On failure a file that this call created is removed. A @size larger than
 * #GstMemmapEngine:max-mapped-bytes fails with
 * %GST_MEMMAP_ERROR_OVER_BUDGET before anything is created.
 *
 * Returns: (transfer full) (nullable): a writable mapping of the new file,
 *   or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapMapping *
gst_memmap_engine_create_file (GstMemmapEngine * engine, const gchar * path,
    guint64 size, GError ** error)
{
  MapRequest whole = { TRUE, 0, 0, 0, 0 };
  struct stat st;
  gboolean created = TRUE;
  guint64 budget;
  gint fd;
  GstMemmapMapping *m;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_reserve_size (path, size, error))
    return NULL;

  g_mutex_lock (&engine->lock);
  budget = engine->max_mapped_bytes;
  g_mutex_unlock (&engine->lock);
  if (size > budget) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_OVER_BUDGET,
        "Cannot create file '%s' of %" G_GUINT64_FORMAT " bytes mapped whole: "
        "it is larger than the engine's max-mapped-bytes (%" G_GUINT64_FORMAT
        ")", path, size, budget);
    return NULL;
  }

  fd = open_retry (engine, path,
      O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0 && errno == EEXIST) {
    created = FALSE;
    fd = open_retry (engine, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
  }
  if (fd < 0) {
    set_errno_error (error, errno, "create", path, "");
    return NULL;
  }
  if (fstat (fd, &st) < 0) {
    set_errno_error (error, errno, "stat", path, "");
    goto fail;
  }
  if (!check_regular (&st, path, error))
    goto fail;

  if (!created) {
    drop_file (engine, path, &st);
    if (ftruncate (fd, 0) < 0) {
      set_errno_error (error, errno, "truncate", path, "");
      goto fail;
    }
  }

  if (!fallocate_fd (fd, path, size, error))
    goto fail;

  GST_INFO_OBJECT (engine, "%s %s with %" G_GUINT64_FORMAT " bytes reserved",
      created ? "created" : "truncated and reserved", path, size);

  m = engine_acquire (engine, path, &whole, GST_MEMMAP_MAP_WRITE, fd, TRUE,
      error);
  if (m == NULL && created)
    unlink (path);
  return m;

fail:
  close (fd);
  if (created)
    unlink (path);
  return NULL;
}

/**
 * gst_memmap_engine_reserve_file:
 * @engine: a #GstMemmapEngine
 * @path: (type filename): an existing file
 * @size: the size to reserve, in bytes (not 0)
 * @error: return location for a #GError, or %NULL
 *
 * Reserves disk space for the first @size bytes of @path with
 * posix_fallocate(), growing the file to @size bytes if it is smaller (it
 * never shrinks it; holes in that range are allocated too). Call it before
 * mapping a range past the end of a file for writing: a full disk is then
 * %GST_MEMMAP_ERROR_NO_SPACE here, never a SIGBUS later.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_engine_reserve_file (GstMemmapEngine * engine, const gchar * path,
    guint64 size, GError ** error)
{
  struct stat st;
  gint fd;
  gboolean ret = FALSE;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_reserve_size (path, size, error))
    return FALSE;

  fd = open_retry (engine, path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    set_errno_error (error, errno, "open", path, " for writing");
    return FALSE;
  }
  if (fstat (fd, &st) < 0) {
    set_errno_error (error, errno, "stat", path, "");
    goto done;
  }
  if (!check_regular (&st, path, error))
    goto done;

  ret = fallocate_fd (fd, path, size, error);
  if (ret)
    GST_DEBUG_OBJECT (engine, "reserved %" G_GUINT64_FORMAT " bytes of %s",
        size, path);

done:
  close (fd);
  return ret;
}

/**
 * gst_memmap_engine_unmap:
 * @engine: a #GstMemmapEngine
 * @path: (type filename): a file
 *
 * Drops the engine's cached mappings of @path (matched by path, and by
 * device and inode when @path still exists), so that the next request maps
 * it afresh. A mapping that someone still holds is only removed from the
 * cache: it stays valid for its holders and is unmapped when the last
 * reference goes.
 *
 * Returns: the number of mappings dropped or marked for dropping
 *
 * Since: 0.1
 */
guint
gst_memmap_engine_unmap (GstMemmapEngine * engine, const gchar * path)
{
  struct stat st;
  guint n;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), 0);
  g_return_val_if_fail (path != NULL, 0);

  if (stat (path, &st) == 0)
    n = drop_file (engine, path, &st);
  else
    n = drop_file (engine, path, NULL);

  GST_DEBUG_OBJECT (engine, "dropped %u mappings of %s", n, path);
  return n;
}

/**
 * gst_memmap_engine_clear_all:
 * @engine: a #GstMemmapEngine
 *
 * Drops every cached mapping. Mappings still held are removed from the
 * cache and unmapped when their last reference goes.
 *
 * Since: 0.1
 */
void
gst_memmap_engine_clear_all (GstMemmapEngine * engine)
{
  GQueue to_destroy = G_QUEUE_INIT;
  GHashTableIter iter;
  gpointer value;
  GPtrArray *all;
  guint i;

  g_return_if_fail (GST_IS_MEMMAP_ENGINE (engine));

  g_mutex_lock (&engine->lock);
  all = g_ptr_array_sized_new (g_hash_table_size (engine->cache));
  g_hash_table_iter_init (&iter, engine->cache);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (all, value);
  for (i = 0; i < all->len; i++)
    drop_locked (engine, g_ptr_array_index (all, i), &to_destroy);
  g_mutex_unlock (&engine->lock);

  GST_DEBUG_OBJECT (engine, "cleared %u mappings", all->len);
  g_ptr_array_free (all, TRUE);
  destroy_queue (&to_destroy);
}

/* The written (private, anonymous) bytes of [@addr, + @size), a mapping of
 * this process: /proc/self/pagemap says of each page whether it is present
 * (bit 63) or swapped (bit 62), and whether it is a file page (bit 61); a
 * page of a private file mapping that is present and not a file page is a
 * private copy. */
guint64
gst_memmap_engine_private_bytes (gconstpointer addr, gsize size)
{
  guint64 first = (guintptr) addr / page_size, n = size / page_size, i;
  guint64 buf[512], bytes = 0;
  gint fd = open ("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return 0;
  for (i = 0; i < n;) {
    guint64 want = MIN (n - i, G_N_ELEMENTS (buf)), k;
    ssize_t r = pread (fd, buf, want * 8, (off_t) ((first + i) * 8));

    if (r <= 0)
      break;
    for (k = 0; k < (guint64) r / 8; k++) {
      if ((buf[k] & (G_GUINT64_CONSTANT (3) << 62)) &&
          !(buf[k] & (G_GUINT64_CONSTANT (1) << 61)))
        bytes += page_size;
    }
    i += (guint64) r / 8;
  }
  close (fd);
  return bytes;
}

static void
cow_stats_locked (GstMemmapEngine * self, GstStructure * s)
{
  guint64 maps = 0, bytes = 0, priv = 0;
  GList *l;

  for (l = self->cow_maps; l; l = l->next) {
    GstMemmapMapping *m = l->data;

    maps++;
    bytes += m->size;
    priv += gst_memmap_engine_private_bytes (m->data, m->size);
  }
  gst_structure_set (s, "cow-maps", G_TYPE_UINT64, maps,
      "cow-mapped-bytes", G_TYPE_UINT64, bytes,
      "cow-private-bytes", G_TYPE_UINT64, priv, NULL);
}

/**
 * gst_memmap_engine_get_stats:
 * @engine: a #GstMemmapEngine
 *
 * A snapshot of the engine's counters, in a structure named
 * `memmap-engine-stats` whose fields are all #guint64:
 *
 * - `maps`: map requests (map_file, map_range, create_file)
 * - `hits`: requests served by a cached mapping
 * - `misses`: requests that mapped (or read) a new window
 * - `evictions`: unreferenced mappings unmapped to honour the budget
 * - `mapped-bytes`: bytes mapped now (cached and in use)
 * - `peak-mapped-bytes`: the highest `mapped-bytes` seen
 * - `active-maps`: mappings mapped now (cached and in use)
 * - `in-use-maps`: mappings that someone holds now
 * - `bytes-mapped-total`: bytes ever mmapped or read
 * - `map-time-ns`: time spent opening, mapping and reading on misses
 * - `reads`: misses served by read() instead of mmap()
 * - `over-budget`: misses mapped over the budget because everything cached
 *   was in use
 * - `max-mapped-bytes`: the budget
 * - `cow-maps`, `cow-mapped-bytes`: the %GST_MEMMAP_MAP_COPY_ON_WRITE
 *   mappings held now and their bytes (in `mapped-bytes` too)
 * - `cow-private-bytes`: the pages of those mappings that were written, and
 *   so are anonymous memory of the process rather than the file's page
 *   cache (read from /proc/self/pagemap; 0 where it cannot be read)
 *
 * Returns: (transfer full): a new #GstStructure
 *
 * Since: 0.1
 */
GstStructure *
gst_memmap_engine_get_stats (GstMemmapEngine * engine)
{
  GstStructure *s;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);

  g_mutex_lock (&engine->lock);
  s = gst_structure_new ("memmap-engine-stats",
      "maps", G_TYPE_UINT64, engine->maps,
      "hits", G_TYPE_UINT64, engine->hits,
      "misses", G_TYPE_UINT64, engine->misses,
      "evictions", G_TYPE_UINT64, engine->evictions,
      "mapped-bytes", G_TYPE_UINT64, engine->mapped_bytes,
      "peak-mapped-bytes", G_TYPE_UINT64, engine->peak_mapped_bytes,
      "active-maps", G_TYPE_UINT64, engine->active_maps,
      "in-use-maps", G_TYPE_UINT64, engine->in_use_maps,
      "bytes-mapped-total", G_TYPE_UINT64, engine->bytes_mapped_total,
      "map-time-ns", G_TYPE_UINT64, engine->map_time_ns,
      "reads", G_TYPE_UINT64, engine->reads,
      "over-budget", G_TYPE_UINT64, engine->over_budget,
      "truncation-faults", G_TYPE_UINT64,
      gst_memmap_fault_guard_get_total_faults (),
      "max-mapped-bytes", G_TYPE_UINT64, engine->max_mapped_bytes, NULL);
  cow_stats_locked (engine, s);
  g_mutex_unlock (&engine->lock);

  return s;
}

/**
 * gst_memmap_engine_get_max_mapped_bytes:
 * @engine: a #GstMemmapEngine
 *
 * Gets the engine's byte budget: the most bytes it keeps mapped (or read) at
 * once, cached and in use.
 *
 * Returns: the #GstMemmapEngine:max-mapped-bytes budget
 *
 * Since: 0.1
 */
guint64
gst_memmap_engine_get_max_mapped_bytes (GstMemmapEngine * engine)
{
  guint64 v;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), 0);

  g_mutex_lock (&engine->lock);
  v = engine->max_mapped_bytes;
  g_mutex_unlock (&engine->lock);
  return v;
}

/**
 * gst_memmap_engine_get_window_size:
 * @engine: a #GstMemmapEngine
 *
 * Gets the size of the standard windows that gst_memmap_engine_map_range()
 * maps, as the engine uses it.
 *
 * Returns: the #GstMemmapEngine:window-size (a multiple of the page size)
 *
 * Since: 0.1
 */
guint64
gst_memmap_engine_get_window_size (GstMemmapEngine * engine)
{
  guint64 v;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), 0);

  g_mutex_lock (&engine->lock);
  v = engine->window_size;
  g_mutex_unlock (&engine->lock);
  return v;
}

/* ------------------------------------------------------------------------ */
/* internal API for gstmemmapmapping.c                                      */

/* The end of gst_memmap_mapping_unref() when @mapping's reference count
 * was 1: the last reference goes (unless the engine handed out another one
 * meanwhile) and the mapping returns to the LRU, or is unmapped if it was
 * dropped from the cache. Takes the engine lock; drops the reference the
 * mapping held on its engine. */
void
gst_memmap_engine_release_mapping (GstMemmapMapping * mapping)
{
  GstMemmapEngine *engine;
  GQueue to_destroy = G_QUEUE_INIT;

  engine = mapping->engine;
  g_mutex_lock (&engine->lock);
  if (!g_atomic_int_dec_and_test (&mapping->refcount)) {
    /* the engine handed out another reference meanwhile */
    g_mutex_unlock (&engine->lock);
    return;
  }

  engine->in_use_maps--;
  if (mapping->cached) {
    g_queue_push_head_link (&engine->lru, &mapping->link);
    mapping->in_lru = TRUE;
    /* after an over-budget map the cache may hold too much */
    make_room_locked (engine, 0, 0, &to_destroy);
  } else {
    engine->mapped_bytes -= mapping->size;
    engine->active_maps--;
    if (mapping->cow)
      engine->cow_maps = g_list_remove (engine->cow_maps, mapping);
    g_queue_push_tail_link (&to_destroy, &mapping->link);
  }
  g_mutex_unlock (&engine->lock);

  destroy_queue (&to_destroy);
  /* the engine may go here: never under its lock */
  gst_object_unref (engine);
}
