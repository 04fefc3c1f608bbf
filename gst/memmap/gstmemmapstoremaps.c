/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mappings of a frame store (#GstMemmapStoreMaps), shared by the
 * writer and the reader: the shape of its windows (whole chunks of an
 * append store, groups of slots of a ring, none straddled by a slot), the
 * engine mappings of them through the store's own descriptor, and the
 * check that no page of them was lost to a truncation.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* The windows of a store: whole chunks of an append store, enough of them
 * to make the engine's window size; groups of slots of a ring, at least
 * GST_MEMMAP_STORE_MIN_WINDOW_SLOTS; the first window also holds what
 * comes before (header, a ring's index). A slot never straddles two
 * windows, and a window holds the same number of frames whatever their
 * size. A small budget keeps the engine's standard windows: the maps and
 * the buffers downstream hold several windows at a time, and they must
 * fit. */
static void
maps_set_windows (GstMemmapStoreMaps * maps, const GstMemmapStoreGeometry * geo)
{
  guint64 window_size = gst_memmap_engine_get_window_size (maps->engine);
  guint64 budget = gst_memmap_engine_get_max_mapped_bytes (maps->engine);
  guint64 unit, n;

  if (geo->mode == GST_MEMMAP_STORE_MODE_APPEND) {
    maps->window_origin = geo->data_offset;
    unit = geo->chunk_stride;
    n = 1;
  } else {
    /* the ring's index block is before the slots, in the first window */
    maps->window_origin = geo->data_offset + geo->index_block_size;
    unit = geo->slot_stride;
    n = GST_MEMMAP_STORE_MIN_WINDOW_SLOTS;
  }
  n = MAX (n, window_size / unit);
  if (__builtin_mul_overflow (n, unit, &maps->window_size) ||
      maps->window_size > budget / (2 * GST_MEMMAP_STORE_MAPS_SIZE))
    maps->window_size = 0;
}

/* For a writer: an open file of its own on the file of @fd (@st), for the
 * windows to share, since @fd holds the writer's flock() and every
 * duplicate of it would hold the lock as long as the engine caches the
 * window. Through /proc, so that it is the same file whatever @path names
 * now; else a duplicate of @fd after all (the lock then outlives the
 * writer until its windows are evicted). -1 (and the windows go through
 * @fd) if neither works. */
static gint
reopen_fd (GstMemmapEngine * engine, gint fd, const struct stat *st,
    const gchar * path)
{
  gchar *proc_path = g_strdup_printf ("/proc/self/fd/%d", fd);
  gint flags = (fcntl (fd, F_GETFL) & O_ACCMODE) | O_CLOEXEC | O_NONBLOCK;
  gint own = gst_memmap_engine_open (engine, proc_path, flags, 0);
  struct stat own_st;

  g_free (proc_path);
  if (own >= 0 && (fstat (own, &own_st) < 0 || own_st.st_dev != st->st_dev
          || own_st.st_ino != st->st_ino)) {
    close (own);
    own = -1;
  }
  if (own < 0) {
    GST_INFO ("cannot open %s again through /proc: %s", path,
        g_strerror (errno));
    own = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  }
  return own;
}

gboolean
gst_memmap_store_maps_init (GstMemmapStoreMaps * maps,
    GstMemmapEngine * engine, const gchar * path, gint fd,
    const GstMemmapStoreGeometry * geo, GstMemmapMapFlags flags,
    GError ** error)
{
  struct stat st;

  memset (maps, 0, sizeof (*maps));
  if (fstat (fd, &st) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not stat frame store '%s': %s", path, g_strerror (err));
    return FALSE;
  }
  maps->engine = gst_object_ref (engine);
  maps->path = path;
  maps->fd = fd;
  /* a writer's @fd holds its lock, a reader's nothing */
  maps->map_fd = (flags & GST_MEMMAP_MAP_WRITE) ?
      reopen_fd (engine, fd, &st, path) : -1;
  maps->flags = flags;
  maps_set_windows (maps, geo);

  return TRUE;
}

void
gst_memmap_store_maps_clear (GstMemmapStoreMaps * maps)
{
  guint i;

  for (i = 0; i < GST_MEMMAP_STORE_MAPS_SIZE; i++)
    g_clear_pointer (&maps->maps[i], gst_memmap_mapping_unref);
  /* map_fd is set only with the engine (a zeroed struct is cleared too) */
  if (maps->engine && maps->map_fd >= 0)
    close (maps->map_fd);
  maps->map_fd = -1;
  if (maps->engine)
    gst_object_unref (maps->engine);
  maps->engine = NULL;
}

/* fstat() of the descriptor the store was validated through */
static gboolean
maps_fstat (GstMemmapStoreMaps * maps, struct stat *st, GError ** error)
{
  if (fstat (maps->fd, st) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not stat frame store '%s': %s", maps->path, g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

/* The store is still whole up to @end: no mapping we hold lost pages to a
 * truncation by another program (no system call), and the file we hold
 * open still has @end bytes (one fstat()). FALSE with
 * GST_MEMMAP_ERROR_TRUNCATED otherwise. */
gboolean
gst_memmap_store_maps_check (GstMemmapStoreMaps * maps, guint64 end,
    GError ** error)
{
  struct stat st;
  guint i;

  for (i = 0; i < GST_MEMMAP_STORE_MAPS_SIZE && maps->maps[i]; i++) {
    if (!gst_memmap_mapping_check (maps->maps[i], error))
      return FALSE;
  }
  if (!maps_fstat (maps, &st, error))
    return FALSE;
  if ((guint64) st.st_size < end) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
        "Frame store '%s' was truncated while in use: it holds %"
        G_GUINT64_FORMAT " bytes, bytes up to %" G_GUINT64_FORMAT
        " are needed", maps->path, (guint64) st.st_size, end);
    return FALSE;
  }
  return TRUE;
}

/* Returns (transfer none) a mapping that holds [offset, offset + size),
 * valid until the next call or gst_memmap_store_maps_clear(); take a
 * reference to keep it longer. */
GstMemmapMapping *
gst_memmap_store_maps_get (GstMemmapStoreMaps * maps, guint64 offset,
    guint64 size, GError ** error)
{
  GstMemmapMapping *m;
  struct stat st;
  guint64 window_offset = 0, window_size = 0;
  guint i;

  if (maps->window_size > 0) {
    guint64 k = offset < maps->window_origin ? 0 :
        (offset - maps->window_origin) / maps->window_size;

    window_offset = maps->window_origin + k * maps->window_size;
    window_size = maps->window_size;
    /* the first window starts at 0: the header (and a ring's index) are
     * mapped with the first slots, one mapping and one descriptor less */
    if (k == 0) {
      window_offset = 0;
      window_size += maps->window_origin;
    }
  }

  for (i = 0; i < GST_MEMMAP_STORE_MAPS_SIZE && maps->maps[i]; i++) {
    m = maps->maps[i];
    /* only the store's own window for the range, when it has windows: one
     * that merely overlaps (the header's) would leave slots of a chunk in
     * two mappings */
    if (gst_memmap_mapping_data_at (m, offset, size) && (window_size == 0 ||
            gst_memmap_mapping_get_offset (m) == window_offset)) {
      /* pages of it lost to a truncation: its bytes are not the file's */
      if (!gst_memmap_mapping_check (m, error))
        return NULL;
      /* move to the front */
      memmove (&maps->maps[1], &maps->maps[0], i * sizeof (maps->maps[0]));
      maps->maps[0] = m;
      return m;
    }
  }

  /* a miss: never map past the end of the file we hold open (a store that
   * was truncated under us) */
  if (!maps_fstat (maps, &st, error))
    return NULL;
  if (offset > (guint64) st.st_size || size > (guint64) st.st_size - offset) {
    /* it was validated against its size when it was opened */
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
        "Frame store '%s' was truncated: it holds %" G_GUINT64_FORMAT
        " bytes, bytes up to %" G_GUINT64_FORMAT " are needed", maps->path,
        (guint64) st.st_size, offset + size);
    return NULL;
  }

  /* through the descriptor the store was validated on: its path may name
   * another file by now */
  m = gst_memmap_engine_map_window_fd (maps->engine,
      maps->map_fd >= 0 ? maps->map_fd : maps->fd, maps->path,
      window_offset, window_size, offset, size, maps->flags, error);
  if (m == NULL)
    return NULL;

  if (maps->maps[GST_MEMMAP_STORE_MAPS_SIZE - 1])
    gst_memmap_mapping_unref (maps->maps[GST_MEMMAP_STORE_MAPS_SIZE - 1]);
  memmove (&maps->maps[1], &maps->maps[0],
      (GST_MEMMAP_STORE_MAPS_SIZE - 1) * sizeof (maps->maps[0]));
  maps->maps[0] = m;

  return m;
}

/* The store's header, through a reference to its mapping in *@mapping
 * (the caller unrefs it) for the writer and the reader to hold as long as
 * they are open; NULL with @error set. */
GstMemmapStoreHeader *
gst_memmap_store_maps_ref_header (GstMemmapStoreMaps * maps,
    GstMemmapMapping ** mapping, GError ** error)
{
  GstMemmapMapping *m;

  m = gst_memmap_store_maps_get (maps, 0, GST_MEMMAP_STORE_HEADER_SIZE, error);
  if (m == NULL)
    return NULL;
  *mapping = gst_memmap_mapping_ref (m);
  return (GstMemmapStoreHeader *) gst_memmap_mapping_data_at (m, 0,
      GST_MEMMAP_STORE_HEADER_SIZE);
}

/* TRUE if the descriptors @fd_a and @fd_b are open on the same file. */
gboolean
gst_memmap_store_same_file (gint fd_a, gint fd_b)
{
  struct stat a, b;

  return fstat (fd_a, &a) == 0 && fstat (fd_b, &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
