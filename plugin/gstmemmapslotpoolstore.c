/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstMemmapSlotStore: the writing side of a frame store as seen by an
 * element (memmapsink, memmapcache), shared with the slot pools it offers
 * (gstmemmapslotpool.c). Its relayout for a producer's alignment is in
 * gstmemmapslotpoollayout.c.
 *
 * A slot handed out is a GstMemory of the store's mapping that carries, as
 * qdata, which slot it is and whether it was committed. When the last
 * reference on such a memory goes without a commit, the slot goes back to the
 * store: no frame appears for it. Tying the release to the memory rather
 * than to the buffer keeps a slot reserved for as long as anybody (a copy of
 * the buffer that shares its memory, say) can still write into its bytes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapslotpoolprivate.h"

#include <gst/memmap/gstmemmapvideo.h>

#include <string.h>

GST_DEBUG_CATEGORY (gst_memmap_slot_pool_debug);
#define GST_CAT_DEFAULT gst_memmap_slot_pool_debug

/* qdata of every slot memory */
typedef struct
{
  GstMemmapSlotStore *store;
  guint64 slot;
  guint64 file_offset;          /* where the slot starts in the file */
  gboolean committed;
} SlotInfo;

static GQuark slot_info_quark;

/* the memmap allocator's own copy, for what is not a whole slot */
static GstMemoryCopyFunction memmap_mem_copy;

static GstMemory *slot_mem_copy (GstMemory * mem, gssize offset, gssize size);
static void stop_prefault (GstMemmapSlotStore * store);

void
gst_memmap_slot_pool_debug_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_memmap_slot_pool_debug, "memmapslotpool", 0,
        "memmap frame store slot pool");
    slot_info_quark = g_quark_from_static_string ("GstMemmapSlotInfo");
    g_once_init_leave (&done, 1);
  }
}

/**
 * gst_memmap_slot_store_new:
 * @writer: (transfer full): an open writer
 *
 * Returns: (transfer full): a holder of @writer, with one reference
 */
GstMemmapSlotStore *
gst_memmap_slot_store_new (GstMemmapStoreWriter * writer)
{
  GstMemmapSlotStore *store;

  g_return_val_if_fail (writer != NULL, NULL);

  gst_memmap_slot_pool_debug_init ();

  store = g_new0 (GstMemmapSlotStore, 1);
  store->ref_count = 1;
  g_mutex_init (&store->lock);
  g_cond_init (&store->idle);
  store->writer = writer;
  store->committed = gst_memmap_store_writer_get_committed (writer);
  store->path = g_strdup (gst_memmap_store_writer_get_path (writer));
  store->layout = *gst_memmap_store_writer_get_layout (writer);
  store->max_outstanding = (gst_memmap_store_writer_get_mode (writer) ==
      GST_MEMMAP_STORE_MODE_RING) ?
      gst_memmap_store_writer_get_spare_slots (writer) : 0;
  store->allocator = gst_memmap_allocator_new ();
  /* a copy of a slot is a slot (see slot_mem_copy()) */
  memmap_mem_copy = store->allocator->mem_copy;
  store->allocator->mem_copy = slot_mem_copy;

  return store;
}

GstMemmapSlotStore *
gst_memmap_slot_store_ref (GstMemmapSlotStore * store)
{
  g_return_val_if_fail (store != NULL, NULL);

  g_atomic_int_inc (&store->ref_count);
  return store;
}

void
gst_memmap_slot_store_unref (GstMemmapSlotStore * store)
{
  g_return_if_fail (store != NULL);

  if (!g_atomic_int_dec_and_test (&store->ref_count))
    return;

  stop_prefault (store);
  if (store->writer) {
    GError *error = NULL;

    /* nobody closed it: close it cleanly rather than leave it open */
    if (!gst_memmap_store_writer_close (store->writer, &error)) {
      GST_WARNING ("closing %s: %s", store->path, error->message);
      g_clear_error (&error);
    }
    gst_memmap_store_writer_unref (store->writer);
  }
  if (store->closed_writer)
    gst_memmap_store_writer_unref (store->closed_writer);
  if (store->final_stats)
    gst_structure_free (store->final_stats);
  gst_clear_object (&store->engine);
  gst_clear_caps (&store->caps);
  gst_object_unref (store->allocator);
  g_free (store->path);
  g_cond_clear (&store->idle);
  g_mutex_clear (&store->lock);
  g_free (store);
}

const GstVideoInfo *
gst_memmap_slot_store_get_layout (GstMemmapSlotStore * store)
{
  return &store->layout;
}

/**
 * gst_memmap_slot_store_get_max_outstanding:
 * @store: a #GstMemmapSlotStore
 *
 * Returns: how many slots may be acquired and not yet committed or released
 *   at once (the ring's spare slots), or 0 for no limit
 */
guint
gst_memmap_slot_store_get_max_outstanding (GstMemmapSlotStore * store)
{
  return store->max_outstanding;
}

static void
slot_info_free (SlotInfo * info)
{
  if (!info->committed) {
    GST_LOG ("slot %" G_GUINT64_FORMAT " of %s came back unused",
        info->slot, info->store->path);
    gst_memmap_slot_store_release (info->store, info->slot);
  }
  gst_memmap_slot_store_unref (info->store);
  g_free (info);
}

/* How far ahead of the producer the pages are faulted in: 8 slots, at
 * most 32 MiB, within the mapping of the slot handed out. */
static gsize
prefault_ahead (const GstVideoInfo * layout)
{
  gsize slot = GST_ROUND_UP_N (GST_VIDEO_INFO_SIZE (layout), 4096);

  return MIN (8 * slot, (gsize) 32 << 20);
}

/* Stops the prefault thread, with the store's lock not held. */
static void
stop_prefault (GstMemmapSlotStore * store)
{
  GstMemmapPrefault *prefault;
  guint64 bytes;

  g_mutex_lock (&store->lock);
  prefault = store->prefault;
  store->prefault = NULL;
  g_mutex_unlock (&store->lock);
  if (prefault == NULL)
    return;

  bytes = gst_memmap_prefault_free (prefault);
  GST_DEBUG ("%s: %" G_GUINT64_FORMAT " bytes faulted in ahead", store->path,
      bytes);
  g_mutex_lock (&store->lock);
  store->prefaulted += bytes;
  g_mutex_unlock (&store->lock);
}

/**
 * gst_memmap_slot_store_acquire:
 * @store: a #GstMemmapSlotStore
 * @slot: (out) (optional): the slot acquired
 * @error: return location for a #GError
 *
 * Acquires a free slot (in append mode growing the file by a reserved chunk
 * when needed) and returns a writable memory of its bytes. Dropping the last
 * reference on the memory without gst_memmap_slot_store_commit() releases
 * the slot. In append mode a thread faults in the pages of the next slots
 * ahead of the producer (gstmemmapprefault.c; GST_MEMMAP_PREFAULT=0 in the
 * environment turns it off).
 *
 * Returns: (transfer full) (nullable): the slot's memory, or %NULL with
 *   @error set
 */
GstMemory *
gst_memmap_slot_store_acquire (GstMemmapSlotStore * store, guint64 * slot,
    GError ** error)
{
  GstMemmapStoreWriter *writer;
  GstMemory *mem = NULL;
  SlotInfo *info;
  guint64 s;

  g_mutex_lock (&store->lock);
  writer = store->writer;
  if (writer == NULL) {
    g_mutex_unlock (&store->lock);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: the frame store is closed", store->path);
    return NULL;
  }
  store->users++;
  /* the layout is final from the first slot on */
  store->touched = TRUE;
  if (store->prefault == NULL && !store->prefault_off &&
      store->max_outstanding == 0) {
    store->prefault_off =
        g_strcmp0 (g_getenv ("GST_MEMMAP_PREFAULT"), "0") == 0;
    if (!store->prefault_off)
      store->prefault = gst_memmap_prefault_new (prefault_ahead
          (&store->layout));
    store->prefault_off = store->prefault == NULL;
  }
  g_mutex_unlock (&store->lock);

  /* the writer locks itself; this may wait for a ring reader's lease */
  if (gst_memmap_store_writer_acquire_slot (writer, &s, error)) {
    mem = gst_memmap_store_writer_get_slot_memory (writer, store->allocator,
        s, error);
    if (mem == NULL)
      gst_memmap_store_writer_release_slot (writer, s);
  }

  g_mutex_lock (&store->lock);
  /* under the lock: the close stops the thread */
  if (mem && store->prefault)
    gst_memmap_prefault_after (store->prefault, mem);
  if (--store->users == 0)
    g_cond_broadcast (&store->idle);
  g_mutex_unlock (&store->lock);

  if (mem == NULL)
    return NULL;

  info = g_new0 (SlotInfo, 1);
  info->store = gst_memmap_slot_store_ref (store);
  info->slot = s;
  info->file_offset = gst_memmap_memory_get_file_offset (mem);
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), slot_info_quark,
      info, (GDestroyNotify) slot_info_free);
  if (slot)
    *slot = s;

  return mem;
}

/* A copy of a whole uncommitted slot of an append store goes into a new
 * slot. GstVideoDecoder makes the buffer of a frame writable before it
 * pushes it; when the decoder still holds the frame (libav keeps reference
 * frames mapped for writing) that copies the memory, and the copy, not the
 * slot the decoder wrote, reaches the recorder. In a slot, the copy is
 * committed as it is: one copy as without the recorder, where it goes to
 * system memory, instead of two. A ring's slots may be waited for: those
 * copies, and anything else, go to system memory. */
static GstMemory *
slot_mem_copy (GstMemory * mem, gssize offset, gssize size)
{
  SlotInfo *info = gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem),
      slot_info_quark);
  GstMemory *copy;
  GstMapInfo src, dst;

  if (info == NULL || info->committed || offset != 0 ||
      (size != -1 && (gsize) size != mem->size) ||
      info->store->max_outstanding > 0)
    return memmap_mem_copy (mem, offset, size);

  copy = gst_memmap_slot_store_acquire (info->store, NULL, NULL);
  if (copy == NULL)
    return memmap_mem_copy (mem, offset, size);
  if (gst_memory_get_sizes (copy, NULL, NULL) != mem->size ||
      !gst_memory_map (copy, &dst, GST_MAP_WRITE)) {
    gst_memory_unref (copy);
    return memmap_mem_copy (mem, offset, size);
  }
  if (!gst_memory_map (mem, &src, GST_MAP_READ)) {
    gst_memory_unmap (copy, &dst);
    gst_memory_unref (copy);
    return memmap_mem_copy (mem, offset, size);
  }
  memcpy (dst.data, src.data, src.size);
  gst_memory_unmap (mem, &src);
  gst_memory_unmap (copy, &dst);

  GST_LOG ("copied slot %" G_GUINT64_FORMAT " of %s into a new slot",
      info->slot, info->store->path);
  g_atomic_int_inc (&info->store->slot_copies);

  return copy;
}

/**
 * gst_memmap_slot_store_copy_frame:
 * @store: a #GstMemmapSlotStore
 * @in_frame: a mapped frame laid out as the caps say
 * @error: return location for a #GError, or %NULL
 *
 * Acquires a new slot and copies @in_frame into it, laid out as the store
 * (gst_memmap_slot_store_get_layout()), for the elements whose frames do
 * not come in the store's slots (memmapsink, memmapcache). Dropping the
 * memory without gst_memmap_slot_store_commit() releases the slot.
 *
 * Returns: (transfer full) (nullable): the slot's memory, or %NULL with
 *   @error set
 */
GstMemory *
gst_memmap_slot_store_copy_frame (GstMemmapSlotStore * store,
    const GstVideoFrame * in_frame, GError ** error)
{
  GstVideoFrame out_frame;
  GstBuffer *slot_buffer;
  GstMemory *mem;
  gboolean copied = FALSE;

  mem = gst_memmap_slot_store_acquire (store, NULL, error);
  if (mem == NULL)
    return NULL;

  slot_buffer = gst_buffer_new ();
  gst_buffer_append_memory (slot_buffer, gst_memory_ref (mem));
  if (gst_video_frame_map (&out_frame, gst_memmap_slot_store_get_layout
          (store), slot_buffer, GST_MAP_WRITE)) {
    copied = gst_video_frame_copy (&out_frame, in_frame);
    gst_video_frame_unmap (&out_frame);
  }
  gst_buffer_unref (slot_buffer);

  if (!copied) {
    /* unreferenced without a commit: the slot goes back */
    gst_memory_unref (mem);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "%s: could not copy a frame into a slot", store->path);
    return NULL;
  }
  return mem;
}

/**
 * gst_memmap_slot_store_release:
 * @store: a #GstMemmapSlotStore
 * @slot: a slot acquired and not committed
 *
 * Gives @slot back. Any thread. Once the store is closed the slot is no
 * frame any more, and its blocks, which the close kept for its memory, go
 * back to the file system: call it once no memory of the slot is left.
 */
void
gst_memmap_slot_store_release (GstMemmapSlotStore * store, guint64 slot)
{
  g_mutex_lock (&store->lock);
  if (store->writer)
    gst_memmap_store_writer_release_slot (store->writer, slot);
  else if (store->closed_writer)
    gst_memmap_store_writer_release_slot (store->closed_writer, slot);
  g_mutex_unlock (&store->lock);
}

static SlotInfo *
get_slot_info (GstMemmapSlotStore * store, GstMemory * mem)
{
  SlotInfo *info;

  info = gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem),
      slot_info_quark);
  if (info == NULL || info->store != store)
    return NULL;

  return info;
}

/**
 * gst_memmap_slot_store_owns_memory:
 * @store: a #GstMemmapSlotStore
 * @mem: any memory
 *
 * Returns: %TRUE when @mem is a whole slot of @store, acquired from it and
 *   not committed yet
 */
gboolean
gst_memmap_slot_store_owns_memory (GstMemmapSlotStore * store, GstMemory * mem)
{
  SlotInfo *info;

  if (!gst_is_memmap_memory (mem))
    return FALSE;
  if ((info = get_slot_info (store, mem)) == NULL || info->committed)
    return FALSE;
  /* the same file (not only the same qdata) */
  if (g_strcmp0 (gst_memmap_memory_get_path (mem), store->path) != 0)
    return FALSE;
  /* still the whole slot: nobody resized the memory */
  if (gst_memmap_memory_get_file_offset (mem) != info->file_offset ||
      gst_memory_get_sizes (mem, NULL, NULL) !=
      GST_VIDEO_INFO_SIZE (&store->layout))
    return FALSE;

  return TRUE;
}

/**
 * gst_memmap_slot_store_commit:
 * @store: a #GstMemmapSlotStore
 * @mem: a memory from gst_memmap_slot_store_acquire() holding a frame
 * @pts: presentation timestamp, or %GST_CLOCK_TIME_NONE
 * @duration: duration, or %GST_CLOCK_TIME_NONE
 * @flags: #GstMemmapStoreFrameFlags
 * @error: return location for a #GError
 *
 * Publishes the frame in @mem's slot as the store's next frame (durably when
 * the writer was opened with %GST_MEMMAP_STORE_WRITER_FLAG_SYNC).
 *
 * Returns: %TRUE on success
 */
gboolean
gst_memmap_slot_store_commit (GstMemmapSlotStore * store, GstMemory * mem,
    GstClockTime pts, GstClockTime duration, guint32 flags, GError ** error)
{
  SlotInfo *info = get_slot_info (store, mem);
  gboolean ret = FALSE;

  g_return_val_if_fail (info != NULL, FALSE);
  g_return_val_if_fail (!info->committed, FALSE);

  g_mutex_lock (&store->lock);
  if (store->writer == NULL) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: the frame store is closed", store->path);
    goto out;
  }
  if (!gst_memmap_store_writer_commit (store->writer, info->slot, pts,
          duration, flags, error))
    goto out;
  info->committed = TRUE;
  store->committed = gst_memmap_store_writer_get_committed (store->writer);
  store->full = gst_memmap_store_writer_is_full (store->writer);
  ret = TRUE;
out:
  g_mutex_unlock (&store->lock);

  return ret;
}

/**
 * gst_memmap_slot_store_get_committed:
 * @store: a #GstMemmapSlotStore
 *
 * Returns: how many frames were ever committed (also after close)
 */
guint64
gst_memmap_slot_store_get_committed (GstMemmapSlotStore * store)
{
  guint64 ret;

  g_mutex_lock (&store->lock);
  ret = store->committed;
  g_mutex_unlock (&store->lock);

  return ret;
}

/**
 * gst_memmap_slot_store_close:
 * @store: a #GstMemmapSlotStore
 * @error: return location for a #GError
 *
 * Marks the store closed (every committed frame stays) and closes the
 * writer. Slots still outstanding in pool buffers are never committed;
 * their bytes stay as long as their memories (the writer is freed with the
 * last of them). Closing twice is a no-op.
 *
 * Returns: %TRUE on success
 */
gboolean
gst_memmap_slot_store_close (GstMemmapSlotStore * store, GError ** error)
{
  GstMemmapStoreWriter *writer;
  gboolean ret = TRUE;

  g_mutex_lock (&store->lock);
  writer = store->writer;
  store->writer = NULL;
  /* a slot released from here on goes to the writer (closing or closed) */
  if (writer)
    store->closed_writer = writer;
  while (store->users > 0)
    g_cond_wait (&store->idle, &store->lock);
  g_mutex_unlock (&store->lock);

  /* its ready slots go back before the close, which punches them */
  stop_prefault (store);

  if (writer) {
    GstStructure *stats;

    ret = gst_memmap_store_writer_close (writer, error);
    stats = gst_memmap_store_writer_get_stats (writer);

    g_mutex_lock (&store->lock);
    if (store->final_stats)
      gst_structure_free (store->final_stats);
    store->final_stats = stats;
    g_mutex_unlock (&store->lock);
  }

  return ret;
}

/**
 * gst_memmap_slot_store_is_full:
 * @store: a #GstMemmapSlotStore
 *
 * Returns: %TRUE when an append store holds its max-frames frames
 */
gboolean
gst_memmap_slot_store_is_full (GstMemmapSlotStore * store)
{
  gboolean ret;

  g_mutex_lock (&store->lock);
  ret = store->full;
  g_mutex_unlock (&store->lock);

  return ret;
}

/**
 * gst_memmap_slot_store_get_stats:
 * @store: a #GstMemmapSlotStore
 *
 * Returns: (transfer full): the writer's stats (see
 *   gst_memmap_store_writer_get_stats()), as they were at close once closed,
 *   and the slot store's own: `slot-copies`, copies of a slot into a new
 *   slot (slot_mem_copy()); `prefaulted`, bytes faulted in ahead of the
 *   producer, counted when the thread stopped (at the close)
 */
GstStructure *
gst_memmap_slot_store_get_stats (GstMemmapSlotStore * store)
{
  GstStructure *ret;

  g_mutex_lock (&store->lock);
  if (store->writer)
    ret = gst_memmap_store_writer_get_stats (store->writer);
  else if (store->final_stats)
    ret = gst_structure_copy (store->final_stats);
  else
    ret = NULL;
  if (ret)
    gst_structure_set (ret, "slot-copies", G_TYPE_UINT64,
        (guint64) g_atomic_int_get (&store->slot_copies), "prefaulted",
        G_TYPE_UINT64, store->prefaulted, NULL);
  g_mutex_unlock (&store->lock);

  return ret;
}

gboolean
gst_memmap_slot_store_is_closed (GstMemmapSlotStore * store)
{
  gboolean ret;

  g_mutex_lock (&store->lock);
  ret = (store->writer == NULL);
  g_mutex_unlock (&store->lock);

  return ret;
}
