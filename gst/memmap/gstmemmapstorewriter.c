/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapstorewriter
 * @title: GstMemmapStoreWriter
 * @short_description: writes video frames into an on-disk frame store
 *
 * A #GstMemmapStoreWriter creates (or reuses in place) a frame store file
 * (docs/store-format.md) and publishes frames into it. The bytes of a frame
 * are written straight into the store: gst_memmap_store_writer_acquire_slot()
 * hands out a free slot, gst_memmap_store_writer_get_slot_memory() returns a
 * writable memmap #GstMemory of it (a shared read-write mapping of the file),
 * and gst_memmap_store_writer_commit() publishes the slot as the next frame.
 *
 * Commit order: the frame's bytes are already in its slot; the index entry is
 * written with its frame_seq last, then the header's committed counter is
 * stored with release ordering. A reader that loads the counter with acquire
 * ordering sees the entry and the bytes of every frame below it. All writes go
 * through MAP_SHARED mappings, so the page cache keeps them when the writer
 * process dies: a writer killed at any instant leaves every committed frame
 * readable and nothing torn. Against power loss, turn on
 * gst_memmap_store_writer_set_sync() (or %GST_MEMMAP_STORE_WRITER_FLAG_SYNC).
 *
 * Space is reserved with posix_fallocate() before any byte of it is written
 * through a mapping: a full disk is a %GST_MEMMAP_ERROR_NO_SPACE error from
 * gst_memmap_store_writer_acquire_slot(), never a SIGBUS, and every frame
 * committed before stays.
 *
 * One writer per file: the writer holds an exclusive flock() on the store
 * for its lifetime, and a second writer on the same path fails with
 * %GST_MEMMAP_ERROR_PERMISSION_DENIED.
 *
 * The writer is a refcounted boxed type (gst_memmap_store_writer_ref(),
 * gst_memmap_store_writer_unref()), so bindings can use it:
 * `GstMemmap.StoreWriter.new (engine, path, caps, info, mode, n)` in
 * Python. The last reference closes the store if
 * gst_memmap_store_writer_close() was not called.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"
#include "gstmemmapstoreprefault.h"
#include "gstmemmapstoresync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

#define NO_SLOT G_MAXUINT64

struct _GstMemmapStoreWriter
{
  gint refcount;                /* atomic */

  /* constant after creation */
  GstMemmapEngine *engine;
  gchar *path;
  GstCaps *caps;
  GstVideoInfo layout;
  GstMemmapStoreGeometry geo;
  guint spare_slots;
  gboolean reused;
  gboolean checksum;            /* GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM */
  gint fd;                      /* read-only, holds the flock */
  GstMemmapMapping *header_map;
  GstMemmapStoreHeader *hdr;    /* inside header_map */
  GstAllocator *allocator;      /* default for get_slot_memory */

  /* streaming thread */
  gboolean sync;
  guint64 *ring_slots;          /* ring: slot of the frame at each entry */
  guint64 *slot_frames;         /* ring: frame last committed in each slot,
                                 * for the readers' leases */

  GMutex lock;
  /* under lock */
  gboolean closed;
  gboolean damaged;             /* found truncated: commits nothing more */
  guint64 committed;
  GstClockTime last_pts;        /* of the last commit with a valid pts */
  guint64 chunks_reserved;
  guint64 next_slot;            /* append: the next slot never handed out */
  GArray *free_slots;           /* FIFO of free slots (guint64) */
  guint free_head;
  /* guint64 * -> acquired slots; the value is non-NULL once a memory of
   * the slot was handed out (gst_memmap_store_writer_get_slot_memory()):
   * the close keeps such a slot's blocks, see close_footprint() */
  GHashTable *outstanding;
  GstMemmapStoreMaps maps;      /* WRITE mappings of the store */
  /* append: the next chunk, reserved ahead of the producer and faulted in
   * by a thread of its own (go_ahead()); the file's end grown past the
   * chunks_reserved published, 0 if none (the close punches it) */
  GstMemmapStorePrefault *prefault;
  guint64 grown_end;
  guint64 bytes_prefaulted;     /* of the prefault thread, at close */
  /* stats */
  guint64 n_acquired;
  guint64 n_released;
  guint64 n_reservations;
  guint64 bytes_freed;          /* given back to the file system at close
                                 * and by releases after it */
};

G_DEFINE_BOXED_TYPE (GstMemmapStoreWriter, gst_memmap_store_writer,
    gst_memmap_store_writer_ref, gst_memmap_store_writer_unref);

/* ------------------------------------------------------------------------ */
/* free-slot FIFO, under lock                                               */

static void
free_push (GstMemmapStoreWriter * self, guint64 slot)
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

static void
reset_slots (GstMemmapStoreWriter * self)
{
  guint64 s;

  g_array_set_size (self->free_slots, 0);
  self->free_head = 0;
  self->next_slot = 0;
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING) {
    for (s = 0; s < self->geo.slots_per_chunk; s++)
      free_push (self, s);
  }
}

/* ------------------------------------------------------------------------ */
/* creation                                                                 */

static gboolean
check_caps (GstCaps * caps, const GstVideoInfo * layout, const gchar * path,
    GstVideoInfo * caps_info, gchar ** caps_str, GError ** error)
{
  GstVideoInfo info;
  gchar *str;

  if (!gst_caps_is_fixed (caps) || gst_caps_get_size (caps) != 1 ||
      !gst_structure_has_name (gst_caps_get_structure (caps, 0),
          "video/x-raw"))
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
same_layout (const GstMemmapStoreGeometry * a,
    const GstMemmapStoreGeometry * b)
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
  /* the store grows through this descriptor (ensure_chunk) */
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
   * (close_footprint()): reserve them again before any byte of them is
   * written through a mapping */
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

static gboolean
same_file (gint fd_a, gint fd_b)
{
  struct stat a, b;

  return fstat (fd_a, &a) == 0 && fstat (fd_b, &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino;
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
  if (!same_file (fd, gst_memmap_mapping_get_fd (m))) {
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
        "Could not create frame store '%s': %s", self->path,
        g_strerror (err));
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
  self->header_map = gst_memmap_store_maps_get (&self->maps, 0,
      GST_MEMMAP_STORE_HEADER_SIZE, error);
  if (self->header_map == NULL)
    goto failed;
  gst_memmap_mapping_ref (self->header_map);
  self->hdr = (GstMemmapStoreHeader *)
      gst_memmap_mapping_data_at (self->header_map, 0,
      GST_MEMMAP_STORE_HEADER_SIZE);

  if (self->reused) {
    reset_header (self, caps_str);
    if (self->sync && !gst_memmap_mapping_flush (self->header_map, 0,
            GST_MEMMAP_STORE_HEADER_SIZE, error))
      goto failed;
    GST_INFO ("reusing frame store %s in place (%" G_GUINT64_FORMAT
        " chunks reserved)", path, self->chunks_reserved);
  }

  reset_slots (self);
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

/* ------------------------------------------------------------------------ */
/* accessors                                                                */

/**
 * gst_memmap_store_writer_get_layout:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the layout of every slot: plane offsets and strides.
 *
 * Returns: (transfer none): the frame layout of every slot
 *
 * Since: 0.1
 */
const GstVideoInfo *
gst_memmap_store_writer_get_layout (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, NULL);

  return &writer->layout;
}

/**
 * gst_memmap_store_writer_get_path:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the path of the store.
 *
 * Returns: (transfer none) (type filename): the store's path
 *
 * Since: 0.1
 */
const gchar *
gst_memmap_store_writer_get_path (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, NULL);

  return writer->path;
}

/**
 * gst_memmap_store_writer_get_mode:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the store's mode, append or ring.
 *
 * Returns: the store's mode
 *
 * Since: 0.1
 */
GstMemmapStoreMode
gst_memmap_store_writer_get_mode (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, GST_MEMMAP_STORE_MODE_APPEND);

  return writer->geo.mode;
}

/**
 * gst_memmap_store_writer_get_max_frames:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the store's frame limit.
 *
 * Returns: the ring's capacity, or the append store's frame limit (0: none)
 *
 * Since: 0.1
 */
guint64
gst_memmap_store_writer_get_max_frames (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, 0);

  return writer->geo.max_frames;
}

/**
 * gst_memmap_store_writer_get_spare_slots:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the number of slots that may be acquired and not yet committed at
 * once.
 *
 * Returns: ring: how many slots may be acquired and not yet committed at
 *   once; append: 0 (no limit: max-frames bounds the frames committed,
 *   not the slots out)
 *
 * Since: 0.1
 */
guint
gst_memmap_store_writer_get_spare_slots (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, 0);

  return writer->spare_slots;
}

/**
 * gst_memmap_store_writer_was_reused:
 * @writer: a #GstMemmapStoreWriter
 *
 * Tells whether the writer overwrites an existing store in place
 * (%GST_MEMMAP_STORE_WRITER_FLAG_REUSE).
 *
 * Returns: %TRUE if the writer overwrites an existing store in place
 *   (%GST_MEMMAP_STORE_WRITER_FLAG_REUSE and a matching store)
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_was_reused (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, FALSE);

  return writer->reused;
}

/**
 * gst_memmap_store_writer_is_full:
 * @writer: a #GstMemmapStoreWriter
 *
 * Tells whether an append store has reached its frame limit.
 *
 * Returns: %TRUE when an append store with a max-frames limit holds that
 *   many frames (a ring is never full)
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_is_full (GstMemmapStoreWriter * writer)
{
  gboolean ret;

  g_return_val_if_fail (writer != NULL, FALSE);

  g_mutex_lock (&writer->lock);
  ret = writer->geo.mode == GST_MEMMAP_STORE_MODE_APPEND &&
      writer->geo.max_frames > 0 &&
      writer->committed >= writer->geo.max_frames;
  g_mutex_unlock (&writer->lock);

  return ret;
}

/**
 * gst_memmap_store_writer_get_committed:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the number of frames committed so far.
 *
 * Returns: how many frames were committed (the next frame's number)
 *
 * Since: 0.1
 */
guint64
gst_memmap_store_writer_get_committed (GstMemmapStoreWriter * writer)
{
  guint64 ret;

  g_return_val_if_fail (writer != NULL, 0);

  g_mutex_lock (&writer->lock);
  ret = writer->committed;
  g_mutex_unlock (&writer->lock);

  return ret;
}

/**
 * gst_memmap_store_writer_has_checksums:
 * @writer: a #GstMemmapStoreWriter
 *
 * Tells whether the writer computes the checksum of every frame it
 * commits and keeps it in the frame's index entry.
 *
 * Returns: %TRUE if every frame's checksum is kept in its index entry
 *   (%GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM)
 *
 * Since: 0.2
 */
gboolean
gst_memmap_store_writer_has_checksums (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, FALSE);

  return writer->checksum;
}

/**
 * gst_memmap_store_writer_set_sync:
 * @writer: a #GstMemmapStoreWriter
 * @sync: whether every commit is made durable
 *
 * With @sync, gst_memmap_store_writer_commit() writes the frame's bytes and
 * its index entry to the disk (msync) before it moves the committed counter,
 * and the counter after; gst_memmap_store_writer_close() syncs the state.
 * Commits then survive power loss, at the cost of waiting for the disk on
 * every frame. Without it (the default) a crash of the writer process loses
 * nothing committed, but power loss may lose recent frames or the counter.
 *
 * Since: 0.1
 */
void
gst_memmap_store_writer_set_sync (GstMemmapStoreWriter * writer,
    gboolean sync)
{
  g_return_if_fail (writer != NULL);

  g_mutex_lock (&writer->lock);
  writer->sync = sync;
  g_mutex_unlock (&writer->lock);
}

/**
 * gst_memmap_store_writer_get_stats:
 * @writer: a #GstMemmapStoreWriter
 *
 * Gets the writer's statistics.
 *
 * Returns: (transfer full): a #GstStructure named `memmap-store-writer`
 *   with `committed`, `acquired`, `released`, `outstanding`,
 *   `chunks-reserved`, `reservations`, `bytes-freed` (given back to the
 *   file system at close), `bytes-prefaulted` (faulted in ahead of the
 *   producer, append; Since: 0.3) (guint64), `checksums` and `reused`
 *   (gboolean)
 *
 * Since: 0.1
 */
GstStructure *
gst_memmap_store_writer_get_stats (GstMemmapStoreWriter * writer)
{
  GstStructure *s;

  g_return_val_if_fail (writer != NULL, NULL);

  g_mutex_lock (&writer->lock);
  s = gst_structure_new ("memmap-store-writer",
      "committed", G_TYPE_UINT64, writer->committed,
      "acquired", G_TYPE_UINT64, writer->n_acquired,
      "released", G_TYPE_UINT64, writer->n_released,
      "outstanding", G_TYPE_UINT64,
      (guint64) g_hash_table_size (writer->outstanding),
      "chunks-reserved", G_TYPE_UINT64, writer->chunks_reserved,
      "reservations", G_TYPE_UINT64, writer->n_reservations,
      "bytes-freed", G_TYPE_UINT64, writer->bytes_freed,
      "bytes-prefaulted", G_TYPE_UINT64, writer->prefault ?
      gst_memmap_store_prefault_get_bytes (writer->prefault) :
      writer->bytes_prefaulted,
      "checksums", G_TYPE_BOOLEAN, writer->checksum,
      "reused", G_TYPE_BOOLEAN, writer->reused, NULL);
  g_mutex_unlock (&writer->lock);

  return s;
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
  GST_WARNING ("%s: %s; the store is marked damaged", self->path,
      why->message);
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
static gboolean
check_whole (GstMemmapStoreWriter * self, GError ** error)
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
static gboolean
ensure_chunk (GstMemmapStoreWriter * self, guint64 slot, GError ** error)
{
  guint64 chunk = slot / self->geo.slots_per_chunk;
  guint64 size;

  if (chunk < self->chunks_reserved)
    return TRUE;

  /* a cut below the end of what we reserved would be filled with zeros by
   * the reservation, and the frames in it lost without a trace */
  if (!check_whole (self, error))
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
  if (!check_whole (self, NULL))
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

/* Append, under lock, for @slot just handed out for the first time: tells
 * the prefault thread where the producer is and, at the first slot of a
 * chunk, reserves the next chunk ahead and has it faulted in (the first
 * chunk too, at the first slot). Off with GST_MEMMAP_PREFAULT=0 in the
 * environment (to measure it), and for chunks under PREFAULT_MIN_CHUNK. */
static void
go_ahead (GstMemmapStoreWriter * self, guint64 slot)
{
  const GstMemmapStoreGeometry *geo = &self->geo;
  guint64 chunk = slot / geo->slots_per_chunk;

  if (self->prefault == NULL) {
    if (slot != 0 || geo->chunk_stride < PREFAULT_MIN_CHUNK ||
        g_strcmp0 (g_getenv ("GST_MEMMAP_PREFAULT"), "0") == 0)
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
static void
punch_ahead (GstMemmapStoreWriter * self)
{
  guint64 end = self->geo.data_offset +
      self->chunks_reserved * self->geo.chunk_stride;

  if (self->grown_end > end &&
      gst_memmap_store_punch (self->fd, end, self->grown_end - end))
    self->bytes_freed += self->grown_end - end;
}

/* At close, under lock: stops the prefault thread (the thread takes no
 * lock of ours). */
static void
stop_prefault (GstMemmapStoreWriter * self)
{
  if (self->prefault == NULL)
    return;
  self->bytes_prefaulted =
      gst_memmap_store_prefault_get_bytes (self->prefault);
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
  if (self->damaged && !check_whole (self, error))
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
      if (!ensure_chunk (self, self->next_slot, error))
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

static void punch_held_slot (GstMemmapStoreWriter * self, guint64 slot);

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
      punch_held_slot (self, slot);
    g_mutex_unlock (&self->lock);
    return;
  }
  if (!g_hash_table_remove (self->outstanding, &slot)) {
    g_mutex_unlock (&self->lock);
    GST_WARNING ("%s: releasing slot %" G_GUINT64_FORMAT " that is not "
        "acquired", self->path, slot);
    return;
  }
  free_push (self, slot);
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

/* Under lock. */
static GstMemmapStoreIndexEntry *
get_entry (GstMemmapStoreWriter * self, guint64 frame,
    GstMemmapMapping ** mapping, GError ** error)
{
  guint64 offset = gst_memmap_store_entry_offset (&self->geo, frame);
  GstMemmapMapping *m;

  m = gst_memmap_store_maps_get (&self->maps, offset,
      GST_MEMMAP_STORE_ENTRY_SIZE, error);
  if (m == NULL)
    return NULL;
  *mapping = m;
  return (GstMemmapStoreIndexEntry *) gst_memmap_mapping_data_at (m, offset,
      GST_MEMMAP_STORE_ENTRY_SIZE);
}

/* Under lock: msync the bytes of @slot. */
static gboolean
flush_slot (GstMemmapStoreWriter * self, guint64 slot, GError ** error)
{
  guint64 offset = gst_memmap_store_slot_offset (&self->geo, slot);
  GstMemmapMapping *m;

  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.frame_size,
      error);
  if (m == NULL)
    return FALSE;
  return gst_memmap_mapping_flush (m, offset, self->geo.frame_size, error);
}

/* Under lock: the checksum of the frame in @slot (format 1.1). */
static gboolean
slot_checksum (GstMemmapStoreWriter * self, guint64 slot, guint64 * sum,
    GError ** error)
{
  guint64 offset = gst_memmap_store_slot_offset (&self->geo, slot);
  GstMemmapMapping *m;
  const guint8 *data;

  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.frame_size,
      error);
  if (m == NULL)
    return FALSE;
  data = gst_memmap_mapping_data_at (m, offset, self->geo.frame_size);
  *sum = gst_memmap_store_checksum (data, self->geo.frame_size);
  /* a truncation under us while we read: the sum is of zeros */
  return gst_memmap_mapping_check (m, error);
}

/**
 * gst_memmap_store_writer_commit:
 * @writer: a #GstMemmapStoreWriter
 * @slot: an acquired slot whose bytes hold a frame
 * @pts: presentation timestamp, or %GST_CLOCK_TIME_NONE
 * @duration: duration, or %GST_CLOCK_TIME_NONE
 * @flags: #GstMemmapStoreFrameFlags (gst_memmap_store_frame_flags_from_buffer()
 *   gives those of a buffer); bits this version does not define are dropped
 * @error: return location for a #GError, or %NULL
 *
 * Publishes the frame in @slot as the store's next frame: writes its index
 * entry (frame_seq last), then moves the committed counter with release
 * ordering. A writer made with %GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM
 * computes the frame's checksum first (the bytes must not change after
 * this call). In ring mode the oldest frame leaves the ring and its slot
 * becomes free. With sync on, the slot and the entry reach the disk before
 * the counter moves, and the counter after. An append store that already
 * holds its max-frames frames commits nothing more:
 * %GST_MEMMAP_ERROR_NO_SPACE, with gst_memmap_store_writer_is_full()
 * %TRUE.
 *
 * Returns: %TRUE on success, %FALSE with @error set (the slot then stays
 *   acquired: release it or try again)
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_commit (GstMemmapStoreWriter * writer, guint64 slot,
    GstClockTime pts, GstClockTime duration, guint32 flags, GError ** error)
{
  GstMemmapStoreWriter *self = writer;
  GstMemmapStoreIndexEntry *e;
  GstMemmapMapping *m = NULL;
  guint64 frame, old_slot = NO_SLOT, seq, sum = 0;
  gboolean ret = FALSE;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->closed || !g_hash_table_contains (self->outstanding, &slot)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': cannot commit slot %" G_GUINT64_FORMAT
        ", it is not acquired", self->path, slot);
    goto out;
  }

  frame = self->committed;
  if (frame >= GST_MEMMAP_STORE_MAX_FRAMES ||
      (self->geo.mode == GST_MEMMAP_STORE_MODE_APPEND &&
          self->geo.max_frames > 0 && frame >= self->geo.max_frames)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE,
        "Frame store '%s' is full: it holds its %" G_GUINT64_FORMAT
        " frames", self->path, frame);
    goto out;
  }
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING &&
      frame >= self->geo.max_frames)
    old_slot = self->ring_slots[frame % self->geo.max_frames];

  /* a store truncated under us by another program: the slot's pages (and
   * what the producer wrote into them), or those of frames committed
   * before, are gone; commit nothing, and say that the store is damaged */
  if (!check_whole (self, error))
    goto out;

  if (self->checksum && !slot_checksum (self, slot, &sum, error))
    goto out;

  if (self->sync && !flush_slot (self, slot, error))
    goto out;

  e = get_entry (self, frame, &m, error);
  if (e == NULL)
    goto out;

  /* timestamps go back only at a discontinuity (a seek while recording):
   * readers rely on it, and refuse a pts below the previous frame's in a
   * frame without the flag (docs/store-format.md) */
  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    if (GST_CLOCK_TIME_IS_VALID (self->last_pts) && pts < self->last_pts)
      flags |= GST_MEMMAP_STORE_FRAME_DISCONT;
    self->last_pts = pts;
  }

  /* a seqlock: readers that race with the rewrite of a ring entry see the
   * busy bit or a frame_seq that changed under them */
  seq = frame + 1;
  gst_memmap_store_store_u64_relaxed (&e->frame_seq,
      seq | GST_MEMMAP_STORE_SEQ_BUSY);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  gst_memmap_store_store_u64_relaxed (&e->slot, slot);
  gst_memmap_store_store_u64_relaxed (&e->pts, pts);
  gst_memmap_store_store_u64_relaxed (&e->duration, duration);
  __atomic_store_n (&e->flags,
      GUINT32_TO_LE (flags & GST_MEMMAP_STORE_FRAME_FLAGS_KNOWN),
      __ATOMIC_RELAXED);
  __atomic_store_n (&e->reserved0, 0, __ATOMIC_RELAXED);
  gst_memmap_store_store_u64_relaxed (&e->checksum, sum);
  gst_memmap_store_store_u64_relaxed (&e->reserved1[0], 0);
  gst_memmap_store_store_u64_relaxed (&e->reserved1[1], 0);
  gst_memmap_store_store_u64 (&e->frame_seq, seq);

  if (self->sync && !gst_memmap_mapping_flush (m,
          gst_memmap_store_entry_offset (&self->geo, frame),
          GST_MEMMAP_STORE_ENTRY_SIZE, error))
    goto out;

  /* the frame is visible from here on */
  gst_memmap_store_store_u64 (&self->hdr->committed, frame + 1);
  gst_memmap_store_notify_commit (self->hdr);
  self->committed = frame + 1;

  g_hash_table_remove (self->outstanding, &slot);
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING) {
    self->ring_slots[frame % self->geo.max_frames] = slot;
    self->slot_frames[slot] = frame;
    if (old_slot != NO_SLOT)
      free_push (self, old_slot);
  }

  if (self->sync && !gst_memmap_mapping_flush (self->header_map, 0,
          GST_MEMMAP_STORE_HEADER_SIZE, error))
    goto out;

  GST_LOG ("%s: committed frame %" G_GUINT64_FORMAT " in slot %"
      G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT, self->path, frame, slot,
      GST_TIME_ARGS (pts));
  ret = TRUE;

out:
  g_mutex_unlock (&self->lock);
  return ret;
}

/**
 * gst_memmap_store_writer_sync:
 * @writer: a #GstMemmapStoreWriter
 * @error: return location for a #GError, or %NULL
 *
 * Writes everything committed so far to the disk and waits for it
 * (fdatasync() of the store). This makes the frames committed before the
 * call durable, but unlike gst_memmap_store_writer_set_sync() it does not
 * order the counter after the frames: a power loss before the call may
 * leave a counter ahead of its frames. After a failure do not retry and
 * trust the data: the kernel may have dropped the dirty pages.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_sync (GstMemmapStoreWriter * writer, GError ** error)
{
  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (fdatasync (writer->fd) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Could not write frame store '%s' to the disk: %s", writer->path,
        g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

/* Ranges to free, in file order: adjacent ones are merged into one
 * fallocate() call. */
typedef struct
{
  gint fd;
  guint64 offset, size, freed;
} PunchRun;

static void
punch_flush (PunchRun * run)
{
  if (run->size > 0 && gst_memmap_store_punch (run->fd, run->offset,
          run->size))
    run->freed += run->size;
  run->size = 0;
}

static void
punch_add (PunchRun * run, guint64 offset, guint64 size)
{
  if (size == 0)
    return;
  if (run->size > 0 && run->offset + run->size == offset) {
    run->size += size;
    return;
  }
  punch_flush (run);
  run->offset = offset;
  run->size = size;
}

/* Under lock, at a clean close: TRUE if @slot holds no frame a reader can
 * be given (never used, released, or acquired and never committed). A
 * ring's slot of a frame that left the ring is kept: a reader's lease may
 * still hold it. */
static gboolean
slot_is_empty (GstMemmapStoreWriter * self, guint64 slot, GHashTable * empty)
{
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING)
    return self->slot_frames[slot] == GST_MEMMAP_STORE_NO_FRAME;
  return slot >= self->next_slot || g_hash_table_contains (empty, &slot);
}

/* Under lock, at a clean close: gives the blocks that hold nothing back to
 * the file system (docs/store-format.md, "Footprint"): the pages of index
 * blocks past the last entry written, and every empty slot. The file keeps
 * its size, so that nothing mapped by a live reader goes past its end;
 * the holes read as zeros and no committed frame or entry is touched.
 *
 * A slot still acquired whose memory was handed out is kept: that memory
 * may outlive the writer (a pool buffer a decoder keeps as a reference
 * frame, or that went downstream uncommitted), and a hole under it would
 * turn the frame it holds into zeros. */
static void
close_footprint (GstMemmapStoreWriter * self)
{
  const GstMemmapStoreGeometry *geo = &self->geo;
  PunchRun run = { self->fd, 0, 0, 0 };
  GHashTable *empty = g_hash_table_new (g_int64_hash, g_int64_equal);
  GHashTable *held = g_hash_table_new (g_int64_hash, g_int64_equal);
  GHashTableIter iter;
  gpointer key, value;
  guint64 c, k, used, n_entries, slot;
  guint i;

  /* released and outstanding slots (keys live as long as the table) */
  for (i = self->free_head; i < self->free_slots->len; i++)
    g_hash_table_add (empty, &g_array_index (self->free_slots, guint64, i));
  g_hash_table_iter_init (&iter, self->outstanding);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_add (value ? held : empty, key);

  n_entries = self->committed;
  if (geo->mode == GST_MEMMAP_STORE_MODE_RING)
    n_entries = MIN (n_entries, geo->max_frames);

  for (c = 0; c < self->chunks_reserved; c++) {
    guint64 chunk = gst_memmap_store_chunk_offset (geo, c);

    used = n_entries > c * geo->entries_per_chunk ?
        MIN (n_entries - c * geo->entries_per_chunk, geo->entries_per_chunk)
        : 0;
    used = gst_memmap_store_round_up (used * GST_MEMMAP_STORE_ENTRY_SIZE,
        GST_MEMMAP_STORE_PAGE_SIZE);
    punch_add (&run, chunk + used, geo->index_block_size - used);
    for (k = 0; k < geo->slots_per_chunk; k++) {
      slot = c * geo->slots_per_chunk + k;
      if (!g_hash_table_contains (held, &slot) &&
          slot_is_empty (self, slot, empty))
        punch_add (&run, gst_memmap_store_slot_offset (geo, slot),
            geo->slot_stride);
    }
  }
  punch_flush (&run);
  if (g_hash_table_size (held) > 0)
    GST_DEBUG ("%s: %u slots acquired and not committed keep their blocks: "
        "memories of them are out", self->path, g_hash_table_size (held));
  g_hash_table_unref (held);
  g_hash_table_unref (empty);

  self->bytes_freed = run.freed;
  GST_DEBUG ("%s: gave %" G_GUINT64_FORMAT " bytes back at close",
      self->path, run.freed);
}

/* Returns TRUE for a slot acquired whose memory was not handed out: the
 * close forgets it (its blocks were given back). */
static gboolean
not_held (gpointer key, gpointer value, gpointer user_data)
{
  return value == NULL;
}

/* Under lock, after the close: a slot the close kept (its memory was out)
 * was released, its memory is gone: its blocks go back too. */
static void
punch_held_slot (GstMemmapStoreWriter * self, guint64 slot)
{
  PunchRun run = { self->fd, 0, 0, 0 };

  punch_add (&run, gst_memmap_store_slot_offset (&self->geo, slot),
      self->geo.slot_stride);
  punch_flush (&run);
  self->bytes_freed += run.freed;
  GST_LOG ("%s: gave the %" G_GUINT64_FORMAT " bytes of slot %"
      G_GUINT64_FORMAT " back, its memory is gone", self->path, run.freed,
      slot);
}

/**
 * gst_memmap_store_writer_close:
 * @writer: a #GstMemmapStoreWriter
 * @error: return location for a #GError, or %NULL
 *
 * Marks the store closed cleanly (readers then know no frame will follow).
 * The disk blocks that hold no committed frame (empty slots, unused index
 * pages) are given back to the file system first: a closed store takes on
 * disk what it holds, while its size (and every offset) stays. With sync
 * on, everything is written to the disk first and the state after. Slots
 * still acquired are dropped: they never become frames. The bytes of one
 * whose memory was handed out stay (that memory may still be read or
 * written, see gst_memmap_store_writer_get_slot_memory()) until
 * gst_memmap_store_writer_release_slot() says it is gone; the others'
 * are given back. Acquiring and committing fail afterwards; closing twice
 * is a no-op.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_writer_close (GstMemmapStoreWriter * writer, GError ** error)
{
  GstMemmapStoreWriter *self = writer;
  gboolean ret = TRUE, sync;

  g_return_val_if_fail (writer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->closed || self->hdr == NULL) {
    self->closed = TRUE;
    g_mutex_unlock (&self->lock);
    return TRUE;
  }
  self->closed = TRUE;
  sync = self->sync;
  stop_prefault (self);
  /* a store truncated under us never closes cleanly: it stays damaged, as
   * the cut left it */
  if (!check_whole (self, error)) {
    g_hash_table_remove_all (self->outstanding);
    g_mutex_unlock (&self->lock);
    GST_INFO ("closed damaged frame store %s with %" G_GUINT64_FORMAT
        " frames", self->path, self->committed);
    return FALSE;
  }
  close_footprint (self);
  punch_ahead (self);
  /* the slots whose blocks it kept stay, for release_slot() */
  g_hash_table_foreach_remove (self->outstanding, not_held, NULL);
  g_mutex_unlock (&self->lock);

  if (sync && !gst_memmap_store_writer_sync (self, error))
    ret = FALSE;

  gst_memmap_store_store_u32 (&self->hdr->state,
      GST_MEMMAP_STORE_STATE_CLOSED);
  gst_memmap_store_notify_commit (self->hdr);

  if (sync && ret && !gst_memmap_mapping_flush (self->header_map, 0,
          GST_MEMMAP_STORE_HEADER_SIZE, error))
    ret = FALSE;

  GST_INFO ("closed frame store %s with %" G_GUINT64_FORMAT " frames",
      self->path, self->committed);
  return ret;
}

/**
 * gst_memmap_store_writer_ref:
 * @writer: a #GstMemmapStoreWriter
 *
 * Adds a reference to @writer. Thread-safe.
 *
 * Returns: (transfer full): @writer
 *
 * Since: 0.2
 */
GstMemmapStoreWriter *
gst_memmap_store_writer_ref (GstMemmapStoreWriter * writer)
{
  g_return_val_if_fail (writer != NULL, NULL);
  g_return_val_if_fail (g_atomic_int_get (&writer->refcount) > 0, NULL);

  g_atomic_int_inc (&writer->refcount);
  return writer;
}

/**
 * gst_memmap_store_writer_unref:
 * @writer: (transfer full) (nullable): a #GstMemmapStoreWriter
 *
 * Drops a reference to @writer. The last one closes the store if it is
 * still open (see gst_memmap_store_writer_close(); an error is only
 * logged) and frees the writer. Memories from
 * gst_memmap_store_writer_get_slot_memory() stay valid. Thread-safe.
 *
 * Since: 0.2
 */
void
gst_memmap_store_writer_unref (GstMemmapStoreWriter * writer)
{
  GError *err = NULL;

  if (writer == NULL)
    return;
  g_return_if_fail (g_atomic_int_get (&writer->refcount) > 0);

  if (!g_atomic_int_dec_and_test (&writer->refcount))
    return;

  if (!gst_memmap_store_writer_close (writer, &err)) {
    GST_WARNING ("closing %s: %s", writer->path, err->message);
    g_clear_error (&err);
  }

  g_clear_pointer (&writer->prefault, gst_memmap_store_prefault_free);
  g_clear_pointer (&writer->header_map, gst_memmap_mapping_unref);
  gst_memmap_store_maps_clear (&writer->maps);
  if (writer->fd >= 0)
    close (writer->fd);
  g_clear_object (&writer->allocator);
  g_array_unref (writer->free_slots);
  g_hash_table_unref (writer->outstanding);
  g_free (writer->ring_slots);
  g_free (writer->slot_frames);
  gst_caps_unref (writer->caps);
  gst_object_unref (writer->engine);
  g_free (writer->path);
  g_mutex_clear (&writer->lock);
  g_free (writer);
}

/**
 * gst_memmap_store_writer_free: (skip)
 * @writer: (transfer full) (nullable): a #GstMemmapStoreWriter
 *
 * Same as gst_memmap_store_writer_unref(): from the time the writer was a
 * plain struct, kept for the callers of 0.1.
 *
 * Since: 0.1
 *
 * Deprecated: 0.2: Use gst_memmap_store_writer_unref().
 */
void
gst_memmap_store_writer_free (GstMemmapStoreWriter * writer)
{
  gst_memmap_store_writer_unref (writer);
}
