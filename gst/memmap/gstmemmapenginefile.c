/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The files of #GstMemmapEngine: gst_memmap_engine_create_file() and
 * gst_memmap_engine_reserve_file() (space reserved with posix_fallocate()
 * before a byte of it is written through a mapping, so that a full disk is
 * an error and never a SIGBUS), their internal forms through a descriptor
 * the caller holds, and the dropping of the cached mappings of a file that
 * is replaced.
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

static gboolean
check_reserve_size (const gchar * path, guint64 size, GError ** error)
{
  if (size == 0 || size > (guint64) G_MAXINT64) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Cannot reserve %" G_GUINT64_FORMAT " bytes for file '%s'", size, path);
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
  return gst_memmap_engine_open_retry (engine, path, flags, (mode_t) mode);
}

gboolean
gst_memmap_engine_reserve_fd (GstMemmapEngine * engine, gint fd,
    const gchar * path, guint64 size, GError ** error)
{
  struct stat st;

  if (!check_reserve_size (path, size, error))
    return FALSE;
  if (fstat (fd, &st) < 0) {
    gst_memmap_set_errno_error (error, errno, "stat", path, "");
    return FALSE;
  }
  if (!gst_memmap_check_regular (&st, path, error))
    return FALSE;
  if (!fallocate_fd (fd, path, size, error))
    return FALSE;
  GST_DEBUG_OBJECT (engine, "reserved %" G_GUINT64_FORMAT " bytes of %s",
      size, path);
  return TRUE;
}

/* Drops (or dooms) every cached mapping of @path, matched by name or, when
 * @st is not NULL, by device and inode. */
guint
gst_memmap_engine_drop_file (GstMemmapEngine * self, const gchar * path,
    const struct stat *st)
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
    gst_memmap_engine_drop_locked (self, g_ptr_array_index (victims, i),
        &to_destroy);
  g_mutex_unlock (&self->lock);

  n = victims->len;
  g_ptr_array_free (victims, TRUE);
  gst_memmap_engine_destroy_queue (&to_destroy);

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

  fd = gst_memmap_engine_open_retry (engine, path,
      O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0 && errno == EEXIST) {
    created = FALSE;
    fd = gst_memmap_engine_open_retry (engine, path,
        O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
  }
  if (fd < 0) {
    gst_memmap_set_errno_error (error, errno, "create", path, "");
    return NULL;
  }
  if (fstat (fd, &st) < 0) {
    gst_memmap_set_errno_error (error, errno, "stat", path, "");
    goto fail;
  }
  if (!gst_memmap_check_regular (&st, path, error))
    goto fail;

  if (!created) {
    gst_memmap_engine_drop_file (engine, path, &st);
    if (ftruncate (fd, 0) < 0) {
      gst_memmap_set_errno_error (error, errno, "truncate", path, "");
      goto fail;
    }
  }

  if (!fallocate_fd (fd, path, size, error))
    goto fail;

  GST_INFO_OBJECT (engine, "%s %s with %" G_GUINT64_FORMAT " bytes reserved",
      created ? "created" : "truncated and reserved", path, size);

  m = gst_memmap_engine_acquire (engine, path, &whole, GST_MEMMAP_MAP_WRITE,
      fd, TRUE, error);
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

  fd = gst_memmap_engine_open_retry (engine, path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    gst_memmap_set_errno_error (error, errno, "open", path, " for writing");
    return FALSE;
  }
  if (fstat (fd, &st) < 0) {
    gst_memmap_set_errno_error (error, errno, "stat", path, "");
    goto done;
  }
  if (!gst_memmap_check_regular (&st, path, error))
    goto done;

  ret = fallocate_fd (fd, path, size, error);
  if (ret)
    GST_DEBUG_OBJECT (engine, "reserved %" G_GUINT64_FORMAT " bytes of %s",
        size, path);

done:
  close (fd);
  return ret;
}
