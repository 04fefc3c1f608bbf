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
/* (the struct is in gstmemmapengineprivate.h) */

/* the system's page size, set by the class_init */
guint64 gst_memmap_engine_page_size;

#define gst_memmap_engine_parent_class parent_class
G_DEFINE_TYPE (GstMemmapEngine, gst_memmap_engine, GST_TYPE_OBJECT);

static void gst_memmap_engine_finalize (GObject * object);
static void gst_memmap_engine_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_memmap_engine_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);

/* ------------------------------------------------------------------------ */
/* defaults                                                                 */

static guint64
default_max_mapped_bytes (void)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  guint64 bytes;

  if (pages <= 0)
    return FALLBACK_MAX_MAPPED_BYTES;

  if ((guint64) pages > G_MAXUINT64 / gst_memmap_engine_page_size)
    bytes = G_MAXUINT64;
  else
    bytes = gst_memmap_engine_page_size * (guint64) pages;

  bytes /= 4;
#if GLIB_SIZEOF_VOID_P < 8
  /* a 32-bit address space cannot hold a quarter of a large RAM */
  bytes = MIN (bytes, 512 * MIB);
#endif
  return MAX (gst_memmap_engine_align_down (bytes),
      gst_memmap_engine_page_size);
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
  GST_DEBUG_CATEGORY_INIT (gst_memmap_debug, "memmap", 0, "gst-memmap library");

  gst_memmap_engine_page_size = ps > 0 ? (guint64) ps : 4096;

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
          "are read() instead of mmapped (0 = always mmap)", 0, G_MAXUINT64,
          DEFAULT_READ_THRESHOLD, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

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
  self->window_size = MAX (gst_memmap_engine_align_up (w),
      gst_memmap_engine_page_size);
  self->read_threshold = DEFAULT_READ_THRESHOLD;
  self->max_mappings = default_max_mappings ();
  self->cache = g_hash_table_new (gst_memmap_mapping_key_hash,
      gst_memmap_mapping_key_equal);
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
    gst_memmap_engine_evict_one_locked (self, &to_destroy);
  gst_memmap_engine_destroy_queue (&to_destroy);
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
      gst_memmap_engine_make_room_locked (self, 0, 0, &to_destroy);
      break;
    case PROP_WINDOW_SIZE:{
      guint64 w = g_value_get_uint64 (value);

      if (w > G_MAXUINT64 - gst_memmap_engine_page_size)
        w = gst_memmap_engine_align_down (w);
      else
        w = gst_memmap_engine_align_up (w);
      self->window_size = MAX (w, gst_memmap_engine_page_size);
      break;
    }
    case PROP_READ_THRESHOLD:
      self->read_threshold = g_value_get_uint64 (value);
      break;
    case PROP_MAX_MAPPINGS:
      self->max_mappings = g_value_get_uint (value);
      gst_memmap_engine_make_room_locked (self, 0, 0, &to_destroy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);

  gst_memmap_engine_destroy_queue (&to_destroy);
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

  return gst_memmap_engine_acquire (engine, path, &req, flags, -1, FALSE,
      error);
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

  return gst_memmap_engine_acquire (engine, path, &req, flags, -1, FALSE,
      error);
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
  return gst_memmap_engine_acquire (engine, path, &req, flags, fd, FALSE,
      error);
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
    n = gst_memmap_engine_drop_file (engine, path, &st);
  else
    n = gst_memmap_engine_drop_file (engine, path, NULL);

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
    gst_memmap_engine_drop_locked (engine, g_ptr_array_index (all, i),
        &to_destroy);
  g_mutex_unlock (&engine->lock);

  GST_DEBUG_OBJECT (engine, "cleared %u mappings", all->len);
  g_ptr_array_free (all, TRUE);
  gst_memmap_engine_destroy_queue (&to_destroy);
}

/* The written (private, anonymous) bytes of [@addr, + @size), a mapping of
 * this process: /proc/self/pagemap says of each page whether it is present
 * (bit 63) or swapped (bit 62), and whether it is a file page (bit 61); a
 * page of a private file mapping that is present and not a file page is a
 * private copy. */
guint64
gst_memmap_engine_private_bytes (gconstpointer addr, gsize size)
{
  guint64 ps = gst_memmap_engine_page_size;
  guint64 first = (guintptr) addr / ps, n = size / ps, i;
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
        bytes += ps;
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
    gst_memmap_engine_make_room_locked (engine, 0, 0, &to_destroy);
  } else {
    engine->mapped_bytes -= mapping->size;
    engine->active_maps--;
    if (mapping->cow)
      engine->cow_maps = g_list_remove (engine->cow_maps, mapping);
    g_queue_push_tail_link (&to_destroy, &mapping->link);
  }
  g_mutex_unlock (&engine->lock);

  gst_memmap_engine_destroy_queue (&to_destroy);
  /* the engine may go here: never under its lock */
  gst_object_unref (engine);
}
