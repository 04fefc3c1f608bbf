/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapmapping
 * @title: GstMemmapMapping
 * @short_description: a refcounted mapping of a file range, served by a
 *   #GstMemmapEngine
 *
 * A #GstMemmapMapping is what gst_memmap_engine_map_file() and
 * gst_memmap_engine_map_range() hand out: the bytes of a page-aligned range
 * of a file, at an address that stays valid for as long as a reference is
 * held. Its fields are set by the engine when it creates the mapping and
 * never change afterwards, so its accessors take no lock; only the last
 * unref goes through the engine (gstmemmapengine.c), which owns the cache,
 * the LRU and the budget. The struct is shared with the engine through
 * gstmemmapengineprivate.h.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapengineprivate.h"
#include "gstmemmapfaultguard.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

G_DEFINE_BOXED_TYPE (GstMemmapMapping, gst_memmap_mapping,
    gst_memmap_mapping_ref, gst_memmap_mapping_unref);

static guint64
page_align_down (guint64 v)
{
  guint64 page_size = (guint64) sysconf (_SC_PAGESIZE);

  return v & ~(page_size - 1);
}


/**
 * gst_memmap_mapping_ref:
 * @mapping: a #GstMemmapMapping
 *
 * Takes another reference on @mapping; its bytes stay mapped until every
 * reference is dropped.
 *
 * Returns: (transfer full): @mapping
 *
 * Since: 0.1
 */
GstMemmapMapping *
gst_memmap_mapping_ref (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);
  g_return_val_if_fail (g_atomic_int_get (&mapping->refcount) > 0, NULL);

  g_atomic_int_inc (&mapping->refcount);
  return mapping;
}

/**
 * gst_memmap_mapping_unref:
 * @mapping: (transfer full): a #GstMemmapMapping
 *
 * Drops a reference on @mapping. When the last one goes the mapping stays
 * cached by its engine (until evicted), or is unmapped at once if it was
 * dropped from the cache meanwhile (gst_memmap_engine_unmap(),
 * gst_memmap_engine_clear_all()). The caller must not touch its bytes
 * afterwards.
 *
 * Since: 0.1
 */
void
gst_memmap_mapping_unref (GstMemmapMapping * mapping)
{
  gint old;

  g_return_if_fail (mapping != NULL);

  /* fast path: not the last reference */
  old = g_atomic_int_get (&mapping->refcount);
  while (old > 1) {
    if (g_atomic_int_compare_and_exchange (&mapping->refcount, old, old - 1))
      return;
    old = g_atomic_int_get (&mapping->refcount);
  }
  g_return_if_fail (old == 1);

  gst_memmap_engine_release_mapping (mapping);
}

/**
 * gst_memmap_mapping_get_data:
 * @mapping: a #GstMemmapMapping
 *
 * Gets a pointer to the first byte of the mapping.
 *
 * Returns: (transfer none): the first byte of the mapping, which is the
 *   byte at file offset gst_memmap_mapping_get_offset()
 *
 * Since: 0.1
 */
guint8 *
gst_memmap_mapping_get_data (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);

  return mapping->data;
}

/**
 * gst_memmap_mapping_data_at:
 * @mapping: a #GstMemmapMapping
 * @file_offset: an offset in the file
 * @size: number of bytes wanted from there
 *
 * Gets a pointer to the byte at file offset @file_offset, when the @size
 * bytes from there are inside the mapping.
 *
 * Returns: (transfer none) (nullable): the address of the byte at
 *   @file_offset, or %NULL if `[file_offset, file_offset + size)` is not
 *   inside the mapping
 *
 * Since: 0.1
 */
guint8 *
gst_memmap_mapping_data_at (GstMemmapMapping * mapping, guint64 file_offset,
    guint64 size)
{
  guint64 rel;

  g_return_val_if_fail (mapping != NULL, NULL);

  if (file_offset < mapping->offset)
    return NULL;
  rel = file_offset - mapping->offset;
  if (rel > mapping->size || size > mapping->size - rel)
    return NULL;

  return mapping->data + rel;
}

/**
 * gst_memmap_mapping_get_size:
 * @mapping: a #GstMemmapMapping
 *
 * Gets the size of the mapping in bytes.
 *
 * Returns: the number of bytes in the mapping
 *
 * Since: 0.1
 */
gsize
gst_memmap_mapping_get_size (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);

  return mapping->size;
}

/**
 * gst_memmap_mapping_get_offset:
 * @mapping: a #GstMemmapMapping
 *
 * Gets the file offset of the first byte of the mapping.
 *
 * Returns: the file offset of the first byte of the mapping (a multiple of
 *   the page size)
 *
 * Since: 0.1
 */
guint64
gst_memmap_mapping_get_offset (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);

  return mapping->offset;
}

/**
 * gst_memmap_mapping_get_file_size:
 * @mapping: a #GstMemmapMapping
 *
 * Gets the size the file had when it was mapped.
 *
 * Returns: the size of the file when it was mapped
 *
 * Since: 0.1
 */
guint64
gst_memmap_mapping_get_file_size (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);

  return mapping->file_size;
}

/**
 * gst_memmap_mapping_get_path:
 * @mapping: a #GstMemmapMapping
 *
 * Gets the path of the mapped file.
 *
 * Returns: (transfer none) (type filename): the path the file was mapped by
 *
 * Since: 0.1
 */
const gchar *
gst_memmap_mapping_get_path (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);

  return mapping->path;
}

/**
 * gst_memmap_mapping_get_fd:
 * @mapping: a #GstMemmapMapping
 *
 * The file descriptor the mapping was made from, open (read-only, or
 * read-write for writable mappings) for as long as the mapping exists. It
 * is for passing to another process (which maps it itself); do not close it
 * or change its file offset.
 *
 * Returns: a file descriptor owned by @mapping
 *
 * Since: 0.1
 */
gint
gst_memmap_mapping_get_fd (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, -1);

  return mapping->fd;
}

/**
 * gst_memmap_mapping_is_writable:
 * @mapping: a #GstMemmapMapping
 *
 * Tells whether the mapping's bytes may be written.
 *
 * Returns: %TRUE for a shared read-write mapping (%GST_MEMMAP_MAP_WRITE:
 *   writes reach the file) and for a copy-on-write one
 *   (%GST_MEMMAP_MAP_COPY_ON_WRITE: writes stay private, see
 *   gst_memmap_mapping_is_copy_on_write())
 *
 * Since: 0.1
 */
gboolean
gst_memmap_mapping_is_writable (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, FALSE);

  return mapping->writable || mapping->cow;
}

/**
 * gst_memmap_mapping_is_copy_on_write:
 * @mapping: a #GstMemmapMapping
 *
 * Tells whether the mapping is a private copy-on-write mapping
 * (%GST_MEMMAP_MAP_COPY_ON_WRITE): its bytes may be written, and a written
 * page becomes the process's own copy; the file never changes.
 *
 * Returns: %TRUE for a copy-on-write mapping
 *
 * Since: 0.2
 */
gboolean
gst_memmap_mapping_is_copy_on_write (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, FALSE);

  return mapping->cow;
}

/**
 * gst_memmap_mapping_is_mmapped:
 * @mapping: a #GstMemmapMapping
 *
 * Tells whether the bytes are a mapping of the file or a private read() copy
 * (see %GST_MEMMAP_MAP_COPY_SMALL).
 *
 * Returns: %TRUE if the bytes are an mmap() of the file, %FALSE if they were
 *   read() into memory (small read-only files mapped with
 *   %GST_MEMMAP_MAP_COPY_SMALL, see #GstMemmapEngine:read-threshold)
 *
 * Since: 0.1
 */
gboolean
gst_memmap_mapping_is_mmapped (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, FALSE);

  return mapping->mmapped;
}

/**
 * gst_memmap_mapping_check:
 * @mapping: a #GstMemmapMapping
 * @error: return location for a #GError, or %NULL
 *
 * Tells whether the bytes of @mapping are still those of the file. A file
 * truncated by another program while mapped would raise SIGBUS on the
 * pages past its new end; the engine's fault guard maps zero pages there
 * instead (writes to them reach no file) and counts them. Once that has
 * happened the mapping's content is no longer the file's: this returns
 * %FALSE with %GST_MEMMAP_ERROR_TRUNCATED, and the engine never serves
 * that mapping again. Costs no system call.
 *
 * Returns: %TRUE if no page of @mapping was lost to a truncation
 *
 * Since: 0.1
 */
gboolean
gst_memmap_mapping_check (GstMemmapMapping * mapping, GError ** error)
{
  guint faults;

  g_return_val_if_fail (mapping != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  faults = gst_memmap_fault_guard_get_faults (mapping->guard_id);
  if (faults == 0)
    return TRUE;

  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
      "File '%s' was truncated while it was mapped: %u pages of its bytes "
      "%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT " were gone and read as "
      "zeros", mapping->path, faults, mapping->offset,
      mapping->offset + mapping->size);
  return FALSE;
}

/**
 * gst_memmap_mapping_flush:
 * @mapping: a #GstMemmapMapping
 * @file_offset: file offset of the first byte to flush
 * @size: number of bytes to flush, or 0 for the whole mapping (then
 *   @file_offset is ignored)
 * @error: return location for a #GError, or %NULL
 *
 * Writes the pages of @mapping that hold `[file_offset, file_offset + size)`
 * to the file and waits for it (msync() with MS_SYNC). For a mapping that
 * was read() into memory there is nothing to write and this returns %TRUE.
 *
 * After a %GST_MEMMAP_ERROR_IO failure the data on disk cannot be trusted:
 * do not retry and assume it is written.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_mapping_flush (GstMemmapMapping * mapping, guint64 file_offset,
    guint64 size, GError ** error)
{
  guint64 start, end;

  g_return_val_if_fail (mapping != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!mapping->mmapped)
    return TRUE;

  if (size == 0) {
    start = 0;
    end = mapping->size;
  } else {
    if (gst_memmap_mapping_data_at (mapping, file_offset, size) == NULL) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
          "Cannot flush %" G_GUINT64_FORMAT " bytes at offset %"
          G_GUINT64_FORMAT " of file '%s': the mapping holds [%"
          G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ")", size, file_offset,
          mapping->path, mapping->offset, mapping->offset + mapping->size);
      return FALSE;
    }
    /* the mapping starts on a page: so do its page-aligned parts */
    start = page_align_down (file_offset - mapping->offset);
    end = file_offset - mapping->offset + size;
  }

  if (msync (mapping->data + start, end - start, MS_SYNC) < 0) {
    gint err_no = errno;

    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Could not write %" G_GUINT64_FORMAT " bytes at offset %"
        G_GUINT64_FORMAT " back to file '%s': %s", end - start,
        mapping->offset + start, mapping->path, g_strerror (err_no));
    return FALSE;
  }

  return TRUE;
}
