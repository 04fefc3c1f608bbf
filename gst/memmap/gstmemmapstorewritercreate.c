/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The opening of a #GstMemmapStoreWriter: gst_memmap_store_writer_new() and
 * _new_full(), the caps check, the writer's lock on the file, the reuse of
 * a matching store in place, and the creation of a new store in a
 * temporary file renamed over the path.
 *
 * A writer that comes out of here holds the flock() on the store it writes,
 * its header mapped read-write, and the first chunk (append) or the whole
 * ring reserved; a failure leaves the file at the path as it was, or
 * replaced by a complete empty store, never a partial one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstorewriterprivate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* ------------------------------------------------------------------------ */
/* creation                                                                 */

static gboolean
check_caps (GstCaps * caps, const GstVideoInfo * layout, const gchar * path,
    GstVideoInfo * caps_info, gchar ** caps_str, GError ** error)
{
  GstVideoInfo info;
  gchar *str;

  if (!gst_caps_is_fixed (caps) || gst_caps_get_size (caps) != 1 ||
      !gst_structure_has_name (gst_caps_get_structure (caps, 0), "video/x-raw"))
    goto bad_caps;
  /* system memory, or format:Interlaced for interlace-mode=alternate */
  if (!gst_memmap_store_caps_features_ok (caps))
    goto bad_caps;
  if (!gst_video_info_from_caps (&info, caps))
    goto bad_caps;
  if (GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_INFO_FORMAT (layout) ||
      GST_VIDEO_INFO_WIDTH (&info) != GST_VIDEO_INFO_WIDTH (layout) ||
      GST_VIDEO_INFO_HEIGHT (&info) != GST_VIDEO_INFO_HEIGHT (layout))
    goto mismatch;

  /* readers accept only plain fixed caps (docs/store-format.md): caps with
   * other fields (lists, nested structures) are stored as what the video
   * info makes of them */
  str = gst_caps_to_string (caps);
  if (strlen (str) >= GST_MEMMAP_STORE_CAPS_SIZE ||
      !gst_memmap_store_caps_string_ok (str)) {
    GstCaps *plain = gst_video_info_to_caps (&info);

    GST_INFO ("'%s': storing %" GST_PTR_FORMAT " for %s", path, plain, str);
    g_free (str);
    str = gst_caps_to_string (plain);
    gst_caps_unref (plain);
  }
  if (strlen (str) >= GST_MEMMAP_STORE_CAPS_SIZE ||
      !gst_memmap_store_caps_string_ok (str)) {
    g_free (str);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s': the caps cannot be stored (longer than %d bytes, or not "
        "plain fixed caps)", path, GST_MEMMAP_STORE_CAPS_SIZE - 1);
    return FALSE;
  }
  *caps_str = str;
  *caps_info = info;
  return TRUE;

  /* ERRORS */
bad_caps:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s': a frame store needs fixed video/x-raw caps in system memory",
        path);
    return FALSE;
  }
mismatch:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s': the caps and the layout describe different frames", path);
    return FALSE;
  }
}

/* Opens @path for the writer's lock; -1 (no error) if it does not exist or
 * is not a regular file we could reuse. Fails if another writer holds it. */
static gboolean
open_existing (GstMemmapEngine * engine, const gchar * path, gint * fd_out,
    GError ** error)
{
  gint fd;

  *fd_out = -1;
  /* O_NONBLOCK: never hang on a FIFO. Read-write when we may: a store
   * reused in place grows through this descriptor; read-only is enough
   * for the lock of a store that will be replaced. O_NOFOLLOW: a symbolic
   * link at @path is replaced, never reused. */
  fd = gst_memmap_engine_open (engine, path,
      O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS ||
          errno == ETXTBSY))
    fd = gst_memmap_engine_open (engine, path,
        O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0)
    return TRUE;

  if (flock (fd, LOCK_EX | LOCK_NB) < 0) {
    gint err = errno;

    if (err == EWOULDBLOCK) {
      close (fd);
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_PERMISSION_DENIED,
          "Frame store '%s' is being written by another writer", path);
      return FALSE;
    }
    /* a file system without flock: carry on unlocked */
    GST_WARNING ("cannot lock %s: %s", path, g_strerror (err));
  }
  *fd_out = fd;
  return TRUE;
}

static gboolean
same_layout (const GstMemmapStoreGeometry * a, const GstMemmapStoreGeometry * b)
{
  guint p;

  if (a->mode != b->mode || a->n_planes != b->n_planes ||
      a->width != b->width || a->height != b->height ||
      a->frame_size != b->frame_size || a->slot_stride != b->slot_stride ||
      a->max_frames != b->max_frames ||
      a->entries_per_chunk != b->entries_per_chunk ||
      a->slots_per_chunk != b->slots_per_chunk ||
      a->index_block_size != b->index_block_size ||
      a->chunk_stride != b->chunk_stride || a->data_offset != b->data_offset ||
      strcmp (a->format, b->format) != 0)
    return FALSE;
  for (p = 0; p < a->n_planes; p++) {
    if (a->plane_offset[p] != b->plane_offset[p] ||
        a->plane_stride[p] != b->plane_stride[p])
      return FALSE;
  }
  return TRUE;
}

/* Reuse @fd's store in place if it matches self->geo. FALSE (no error):
 * not reusable. */
static gboolean
try_reuse (GstMemmapStoreWriter * self, gint fd)
{
  GstMemmapStoreHeader hdr;
  GstMemmapStoreGeometry geo;
  GError *err = NULL;
  struct stat st;
  gssize n;

  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) ||
      (guint64) st.st_size < sizeof (hdr))
    return FALSE;
  /* the store grows through this descriptor
   * (gst_memmap_store_writer_ensure_chunk()) */
  if ((fcntl (fd, F_GETFL) & O_ACCMODE) != O_RDWR) {
    GST_INFO ("not reusing %s: not writable", self->path);
    return FALSE;
  }
  do {
    n = pread (fd, &hdr, sizeof (hdr), 0);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof (hdr))
    return FALSE;
  if (!gst_memmap_store_header_parse (&hdr, st.st_size, self->path, &geo,
          NULL, NULL, &err)) {
    GST_INFO ("not reusing %s: %s", self->path, err->message);
    g_clear_error (&err);
    return FALSE;
  }
  if (!same_layout (&geo, &self->geo)) {
    GST_INFO ("not reusing %s: different layout or capacity", self->path);
    return FALSE;
  }
  self->chunks_reserved = GUINT64_FROM_LE (hdr.chunks_reserved);
  /* a store closed cleanly gave the blocks of its empty slots back
   * (gst_memmap_store_writer_close_footprint()): reserve them again before
   * any byte of them is written through a mapping */
  if (!gst_memmap_engine_reserve_fd (self->engine, fd, self->path,
          self->geo.data_offset +
          self->chunks_reserved * self->geo.chunk_stride, &err)) {
    GST_INFO ("not reusing %s: %s", self->path, err->message);
    g_clear_error (&err);
    return FALSE;
  }
  return TRUE;
}

/* Rewrites the header of a reused store in place: the frames go, the
 * reserved chunks stay. */
static void
reset_header (GstMemmapStoreWriter * self, const gchar * caps_str)
{
  GstMemmapStoreHeader *hdr = self->hdr;

  gst_memmap_store_store_u64 (&hdr->committed, 0);
  gst_memmap_store_store_u64 (&hdr->generation,
      gst_memmap_store_load_u64 (&hdr->generation) + 1);
  gst_memmap_store_notify_commit (hdr);
  gst_memmap_store_store_u32 (&hdr->state, GST_MEMMAP_STORE_STATE_OPEN);
  hdr->writer_pid = GUINT32_TO_LE ((guint32) getpid ());
  hdr->creation_time = GUINT64_TO_LE ((guint64) g_get_real_time ());
  hdr->fps_n = GINT32_TO_LE (self->geo.fps_n);
  hdr->fps_d = GINT32_TO_LE (self->geo.fps_d);
  hdr->flags = GUINT32_TO_LE (self->checksum ?
      GST_MEMMAP_STORE_HEADER_FLAG_CHECKSUMS : 0);
  /* a 1.0 store reused in place becomes a 1.1 one */
  hdr->version_minor = GUINT16_TO_LE (GST_MEMMAP_STORE_VERSION_MINOR);
  if (strcmp (hdr->caps, caps_str) != 0) {
    memset (hdr->caps, 0, sizeof (hdr->caps));
    g_strlcpy (hdr->caps, caps_str, sizeof (hdr->caps));
  }
}

static gboolean
fsync_dir (const gchar * path)
{
  gchar *dir = g_path_get_dirname (path);
  gint fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ret = TRUE;

  g_free (dir);
  if (fd >= 0) {
    ret = fsync (fd) == 0;
    close (fd);
  }
  return ret;
}

/* Creates the temporary file of a new store next to @path: a name no
 * other process can guess (the pid and 64 random bits), made with O_EXCL
 * and O_NOFOLLOW, so that nothing planted in the directory (a symbolic or
 * hard link to another file) is ever opened, truncated or written; a name
 * that exists is never reused, another one is drawn. Returns the open file
 * (read-write, locked) and its name in @tmp_out, or -1 with @error set. */
static gint
create_temp (GstMemmapStoreWriter * self, gchar ** tmp_out, GError ** error)
{
  gchar *tmp = NULL;
  guint attempt;
  gint fd = -1, err = EEXIST;

  for (attempt = 0; attempt < 16 && err == EEXIST; attempt++) {
    guint32 r1 = g_random_int (), r2 = g_random_int ();

    g_free (tmp);
    tmp = g_strdup_printf ("%s.tmp-%u-%08x%08x", self->path,
        (guint) getpid (), r1, r2);
    fd = gst_memmap_engine_open (self->engine, tmp,
        O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0666);
    err = fd < 0 ? errno : 0;
    if (err == EEXIST)
      GST_WARNING ("%s exists already: drawing another name", tmp);
  }
  if (fd < 0) {
    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not create file '%s': %s", tmp, g_strerror (err));
    g_free (tmp);
    return -1;
  }
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    GST_WARNING ("cannot lock %s: %s", tmp, g_strerror (errno));
  *tmp_out = tmp;
  return fd;
}

/* TRUE if @path (not followed) still names the file open on @fd */
static gboolean
same_file_as_name (gint fd, const gchar * path)
{
  struct stat a, b;

  return fstat (fd, &a) == 0 && lstat (path, &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Creates a new store in a temporary file next to @path and renames it over
 * @path once its header is complete: readers never see a half-made header,
 * and readers of a file that was at @path keep reading that file. A
 * symbolic link at @path is replaced, not followed (rename() works on the
 * link itself). */
static gboolean
create_new (GstMemmapStoreWriter * self, const gchar * caps_str,
    GError ** error)
{
  GstMemmapMapping *m = NULL;
  GstMemmapStoreHeader *hdr;
  gchar *tmp = NULL;
  guint64 size;
  gint fd;

  fd = create_temp (self, &tmp, error);
  if (fd < 0)
    return FALSE;

  /* the engine opens the name again (it finds the empty file we made):
   * make sure it mapped our file and not one swapped in meanwhile */
  m = gst_memmap_engine_create_file (self->engine, tmp,
      GST_MEMMAP_STORE_HEADER_SIZE, error);
  if (m == NULL)
    goto failed;
  if (!gst_memmap_store_same_file (fd, gst_memmap_mapping_get_fd (m))) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Could not create frame store '%s': '%s' was replaced while it was "
        "being created", self->path, tmp);
    goto failed;
  }

  /* the first chunk (append) or the whole ring, reserved before any byte
   * of it is written through a mapping, through our own descriptor */
  size = self->geo.data_offset + self->geo.chunk_stride;
  if (!gst_memmap_engine_reserve_fd (self->engine, fd, tmp, size, error))
    goto failed;
  self->chunks_reserved = 1;

  hdr = (GstMemmapStoreHeader *) gst_memmap_mapping_data_at (m, 0,
      GST_MEMMAP_STORE_HEADER_SIZE);
  gst_memmap_store_header_init (hdr, &self->geo, caps_str,
      self->checksum ? GST_MEMMAP_STORE_HEADER_FLAG_CHECKSUMS : 0);
  gst_memmap_store_store_u64 (&hdr->chunks_reserved, 1);
  gst_memmap_store_store_u64 (&hdr->generation, 1);
  gst_memmap_store_store_u64 (&hdr->committed, 0);

  if (self->sync && (!gst_memmap_mapping_flush (m, 0, 0, error) ||
          fdatasync (fd) < 0))
    goto failed_sync;

  if (rename (tmp, self->path) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not create frame store '%s': %s", self->path, g_strerror (err));
    goto failed;
  }
  if (self->sync && !fsync_dir (self->path))
    GST_WARNING ("could not sync the directory of %s", self->path);

  gst_memmap_mapping_unref (m);
  gst_memmap_engine_unmap (self->engine, tmp);
  g_free (tmp);
  self->fd = fd;

  GST_INFO ("created frame store %s: %s %ux%u, %s, %" G_GUINT64_FORMAT
      " bytes per slot, %" G_GUINT64_FORMAT " slots per chunk", self->path,
      self->geo.format, self->geo.width, self->geo.height,
      self->geo.mode == GST_MEMMAP_STORE_MODE_RING ? "ring" : "append",
      self->geo.slot_stride, self->geo.slots_per_chunk);
  return TRUE;

  /* ERRORS */
failed_sync:
  {
    if (error && *error == NULL)
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
          "Could not sync '%s': %s", tmp, g_strerror (errno));
    goto failed;
  }
failed:
  {
    if (m) {
      gst_memmap_mapping_unref (m);
      gst_memmap_engine_unmap (self->engine, tmp);
    }
    /* the name is ours (O_EXCL): nobody else's file goes */
    if (same_file_as_name (fd, tmp))
      unlink (tmp);
    close (fd);
    g_free (tmp);
    return FALSE;
  }
}

/**
 * gst_memmap_store_writer_new:
 * @engine: the #GstMemmapEngine that maps the store
 * @path: (type filename): the store file
 * @caps: fixed video/x-raw caps of the frames
 * @layout: the frame layout: format, size and the plane offsets and strides
 *   of a frame inside its slot (may differ from the defaults of @caps)
 * @mode: append or ring
 * @max_frames: ring: how many frames the ring keeps; append: the most frames
 *   the store may hold, 0 for no limit
 * @error: return location for a #GError, or %NULL
 *
 * Same as gst_memmap_store_writer_new_full() with the default spare slots,
 * the default chunk size and no flags: creates a new store at @path,
 * replacing any file there.
 *
 * Returns: (transfer full) (nullable): a writer, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapStoreWriter *
gst_memmap_store_writer_new (GstMemmapEngine * engine, const gchar * path,
    GstCaps * caps, const GstVideoInfo * layout, GstMemmapStoreMode mode,
    guint64 max_frames, GError ** error)
{
  return gst_memmap_store_writer_new_full (engine, path, caps, layout, mode,
      max_frames, 0, 0, GST_MEMMAP_STORE_WRITER_FLAG_NONE, error);
}

/**
 * gst_memmap_store_writer_new_full:
 * @engine: the #GstMemmapEngine that maps the store
 * @path: (type filename): the store file
 * @caps: fixed video/x-raw caps of the frames (stored verbatim, at most
 *   2047 bytes as a string)
 * @layout: the frame layout: format, size and the plane offsets and strides
 *   of a frame inside its slot (may differ from the defaults of @caps, for
 *   padding or stride alignment; every plane must lie inside the size)
 * @mode: append or ring
 * @max_frames: ring: how many frames the ring keeps (not 0); append: the
 *   most frames the store may hold, 0 for no limit
 * @spare_slots: ring: how many slots may be acquired and not yet committed
 *   at once, 0 for %GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS; ignored in append
 *   mode
 * @chunk_bytes: append: the target chunk size, 0 for
 *   %GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES (a chunk holds
 *   max (1, @chunk_bytes / slot stride) slots); ignored in ring mode
 * @flags: #GstMemmapStoreWriterFlags
 * @error: return location for a #GError, or %NULL
 *
 * Opens a frame store for writing. Without
 * %GST_MEMMAP_STORE_WRITER_FLAG_REUSE, a new store is made in a temporary
 * file next to @path and renamed over @path (a symbolic link at @path is
 * replaced, not followed); readers of a store that was at @path keep their
 * file. With it, a valid store at @path with the same layout, mode,
 * @max_frames and geometry is reset and overwritten in place (fast: its
 * pages are already allocated and often cached), and anything else is
 * replaced as without the flag.
 *
 * Fails with %GST_MEMMAP_ERROR_PERMISSION_DENIED if another writer holds
 * the store at @path, %GST_MEMMAP_ERROR_NO_SPACE if the first chunk (append)
 * or the whole ring cannot be reserved, %GST_MEMMAP_ERROR_INVALID_ARGUMENT
 * for unusable caps, layout or sizes.
 *
 * Returns: (transfer full) (nullable): a writer, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapStoreWriter *
gst_memmap_store_writer_new_full (GstMemmapEngine * engine,
    const gchar * path, GstCaps * caps, const GstVideoInfo * layout,
    GstMemmapStoreMode mode, guint64 max_frames, guint spare_slots,
    guint64 chunk_bytes, GstMemmapStoreWriterFlags flags, GError ** error)
{
  GstMemmapStoreWriter *self;
  GstVideoInfo caps_info;
  gchar *caps_str = NULL;
  gint fd = -1;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (GST_IS_CAPS (caps), NULL);
  g_return_val_if_fail (layout != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (GstMemmapStoreWriter, 1);
  self->refcount = 1;
  self->last_pts = GST_CLOCK_TIME_NONE;
  self->engine = gst_object_ref (engine);
  self->path = g_strdup (path);
  self->caps = gst_caps_ref (caps);
  self->layout = *layout;
  self->fd = -1;
  self->sync = (flags & GST_MEMMAP_STORE_WRITER_FLAG_SYNC) != 0;
  self->checksum = (flags & GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM) != 0;
  g_mutex_init (&self->lock);
  self->free_slots = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->outstanding = g_hash_table_new_full (g_int64_hash, g_int64_equal,
      g_free, NULL);

  if (mode == GST_MEMMAP_STORE_MODE_RING && spare_slots == 0)
    spare_slots = GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS;
  self->spare_slots = mode == GST_MEMMAP_STORE_MODE_RING ? spare_slots : 0;

  if (!gst_memmap_store_geometry_compute (layout, mode, max_frames,
          spare_slots, chunk_bytes, path, &self->geo, error))
    goto failed;
  if (!check_caps (caps, layout, path, &caps_info, &caps_str, error))
    goto failed;
  /* the caps are what readers see: the frame rate comes from them */
  self->geo.fps_n = MAX (GST_VIDEO_INFO_FPS_N (&caps_info), 0);
  self->geo.fps_d = MAX (GST_VIDEO_INFO_FPS_D (&caps_info), 1);
  GST_VIDEO_INFO_FPS_N (&self->layout) = GST_VIDEO_INFO_FPS_N (&caps_info);
  GST_VIDEO_INFO_FPS_D (&self->layout) = GST_VIDEO_INFO_FPS_D (&caps_info);

  if (mode == GST_MEMMAP_STORE_MODE_RING) {
    self->ring_slots = g_try_new (guint64, max_frames);
    self->slot_frames = g_try_new (guint64, self->geo.slots_per_chunk);
    if (self->slot_frames)
      memset (self->slot_frames, 0xff,
          self->geo.slots_per_chunk * sizeof (guint64));
    if (self->ring_slots == NULL || self->slot_frames == NULL) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
          "'%s': a ring of %" G_GUINT64_FORMAT " frames is too large", path,
          max_frames);
      goto failed;
    }
  }

  if (!open_existing (engine, path, &fd, error))
    goto failed;
  if (fd >= 0 && (flags & GST_MEMMAP_STORE_WRITER_FLAG_REUSE) &&
      try_reuse (self, fd)) {
    self->fd = fd;
    self->reused = TRUE;
  } else {
    /* holding the lock on the old file until the new one replaced it */
    gboolean created = create_new (self, caps_str, error);

    if (fd >= 0)
      close (fd);
    if (!created)
      goto failed;
  }

  if (!gst_memmap_store_maps_init (&self->maps, engine, self->path, self->fd,
          &self->geo, GST_MEMMAP_MAP_WRITE, error))
    goto failed;
  self->hdr = gst_memmap_store_maps_ref_header (&self->maps,
      &self->header_map, error);
  if (self->hdr == NULL)
    goto failed;

  if (self->reused) {
    reset_header (self, caps_str);
    if (self->sync && !gst_memmap_mapping_flush (self->header_map, 0,
            GST_MEMMAP_STORE_HEADER_SIZE, error))
      goto failed;
    GST_INFO ("reusing frame store %s in place (%" G_GUINT64_FORMAT
        " chunks reserved)", path, self->chunks_reserved);
  }

  gst_memmap_store_writer_reset_slots (self);
  g_free (caps_str);

  return self;

  /* ERRORS */
failed:
  {
    g_free (caps_str);
    self->closed = TRUE;
    gst_memmap_store_writer_unref (self);
    return NULL;
  }
}
