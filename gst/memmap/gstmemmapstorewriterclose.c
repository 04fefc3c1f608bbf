/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The close of a #GstMemmapStoreWriter: gst_memmap_store_writer_close()
 * marks the store complete, and the footprint: the blocks of slots that
 * hold no committed frame and no memory handed out are given back to the
 * file system (hole punching, adjacent ranges merged into one call), so a
 * store closed early does not keep the space of its last reserved chunk.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstorewriterprivate.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug

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
  if (run->size > 0 && gst_memmap_store_punch (run->fd, run->offset, run->size))
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
void
gst_memmap_store_writer_close_footprint (GstMemmapStoreWriter * self)
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
void
gst_memmap_store_writer_punch_held_slot (GstMemmapStoreWriter * self,
    guint64 slot)
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
  gst_memmap_store_writer_stop_prefault (self);
  /* a store truncated under us never closes cleanly: it stays damaged, as
   * the cut left it */
  if (!gst_memmap_store_writer_check_whole (self, error)) {
    g_hash_table_remove_all (self->outstanding);
    g_mutex_unlock (&self->lock);
    GST_INFO ("closed damaged frame store %s with %" G_GUINT64_FORMAT
        " frames", self->path, self->committed);
    return FALSE;
  }
  gst_memmap_store_writer_close_footprint (self);
  gst_memmap_store_writer_punch_ahead (self);
  /* the slots whose blocks it kept stay, for release_slot() */
  g_hash_table_foreach_remove (self->outstanding, not_held, NULL);
  g_mutex_unlock (&self->lock);

  if (sync && !gst_memmap_store_writer_sync (self, error))
    ret = FALSE;

  gst_memmap_store_store_u32 (&self->hdr->state, GST_MEMMAP_STORE_STATE_CLOSED);
  gst_memmap_store_notify_commit (self->hdr);

  if (sync && ret && !gst_memmap_mapping_flush (self->header_map, 0,
          GST_MEMMAP_STORE_HEADER_SIZE, error))
    ret = FALSE;

  GST_INFO ("closed frame store %s with %" G_GUINT64_FORMAT " frames",
      self->path, self->committed);
  return ret;
}
