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
#include "gstmemmapstoreprefault.h"
#include "gstmemmapstorewriterprivate.h"

#define GST_CAT_DEFAULT gst_memmap_debug

G_DEFINE_BOXED_TYPE (GstMemmapStoreWriter, gst_memmap_store_writer,
    gst_memmap_store_writer_ref, gst_memmap_store_writer_unref);
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
      writer->geo.max_frames > 0 && writer->committed >= writer->geo.max_frames;
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
gst_memmap_store_writer_set_sync (GstMemmapStoreWriter * writer, gboolean sync)
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
