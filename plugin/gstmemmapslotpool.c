/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstMemmapSlotStore and GstMemmapSlotPool: the writing side of a frame store
 * as seen by an element (memmapsink now, memmapcache later).
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

#include "gstmemmapslotpool.h"
#include "gstmemmapprefault.h"

#include <gst/memmap/gstmemmapvideo.h>

#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_memmap_slot_pool_debug);
#define GST_CAT_DEFAULT gst_memmap_slot_pool_debug

struct _GstMemmapSlotStore
{
  gint ref_count;

  /* guards the writer pointer and the fields below. Acquiring a slot may
   * wait for ring readers to let go of one (leases), so it runs outside
   * this lock, counted in @users: commits, which free ring slots, must not
   * queue behind it. Close waits for @users to drain before freeing. */
  GMutex lock;
  GCond idle;
  guint users;
  GstMemmapStoreWriter *writer; /* NULL once closed */
  /* the writer once closed, freed with the last reference (every slot
   * memory holds one): the slots outstanding at the close keep their
   * blocks (their memories may still be read) until released, see
   * gst_memmap_slot_store_release(). It keeps the store's flock, so that
   * no new writer reuses the file under those memories. */
  GstMemmapStoreWriter *closed_writer;
  guint64 committed;            /* frames committed, kept after close */
  gboolean full;                /* append: max-frames reached */
  GstStructure *final_stats;    /* the writer's stats when it closed */

  /* Relayout (gst_memmap_slot_store_allow_relayout()): what the writer was
   * opened with, to open it again with a padded layout while it is
   * untouched: no slot was ever acquired from it. @generation counts the
   * writers opened (readers of the file open it again when it moves). */
  gboolean may_relayout;
  gboolean touched;
  gint slot_copies;             /* slot_mem_copy()s, atomic */

  /* append: slots acquired and faulted in ahead by a thread, from the
   * first acquire to the close (gstmemmapprefault.c) */
  GstMemmapPrefault *prefault;
  gboolean prefault_off;        /* none: a ring, unsupported, or turned off */
  guint64 prefaulted;           /* bytes, counted when it stopped */
  guint generation;
  GstMemmapEngine *engine;
  GstCaps *caps;
  guint64 chunk_bytes;
  GstMemmapStoreWriterFlags flags;

  /* constant, but for @layout, set by a relayout before any slot */
  gchar *path;
  GstVideoInfo layout;
  guint max_outstanding;
  GstAllocator *allocator;
};

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

static void
ensure_debug_category (void)
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

  ensure_debug_category ();

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

/**
 * gst_memmap_slot_store_allow_relayout:
 * @store: a #GstMemmapSlotStore
 * @engine: the engine the writer was opened with
 * @caps: the caps the writer was opened with
 * @chunk_bytes: the chunk size the writer was opened with (0: default)
 * @flags: the flags the writer was opened with
 *
 * Lets a slot pool of @store open the store again, empty, with the padded
 * layout a producer asks for through %GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT
 * (a decoder that renders into the slots), as long as no slot was acquired
 * from it. The file at the store's path is then replaced by a new store of
 * the same mode and capacity whose header records the padded plane offsets
 * and strides (docs/design.md, "Decoding into the slots"). An element that
 * reads the store's file itself opens it again when
 * gst_memmap_slot_store_get_generation() moves.
 */
void
gst_memmap_slot_store_allow_relayout (GstMemmapSlotStore * store,
    GstMemmapEngine * engine, GstCaps * caps, guint64 chunk_bytes,
    GstMemmapStoreWriterFlags flags)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (GST_IS_MEMMAP_ENGINE (engine));
  g_return_if_fail (GST_IS_CAPS (caps));

  g_mutex_lock (&store->lock);
  gst_object_replace ((GstObject **) & store->engine, GST_OBJECT (engine));
  gst_caps_replace (&store->caps, caps);
  store->chunk_bytes = chunk_bytes;
  /* a store made again is new: nothing of the old file is worth reusing */
  store->flags = flags & ~GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  store->may_relayout = TRUE;
  g_mutex_unlock (&store->lock);
}

/**
 * gst_memmap_slot_store_get_generation:
 * @store: a #GstMemmapSlotStore
 *
 * Returns: how many times the store was opened again with another layout
 *   (0 at first): the file at its path is another one since
 */
guint
gst_memmap_slot_store_get_generation (GstMemmapSlotStore * store)
{
  guint ret;

  g_mutex_lock (&store->lock);
  ret = store->generation;
  g_mutex_unlock (&store->lock);

  return ret;
}

/* Opens a new writer at the store's path with @layout, in @mode with
 * @max_frames and @spare_slots: those of the writer closed before (the
 * file is locked by one writer at a time, until that writer is freed). */
static GstMemmapStoreWriter *
reopen_writer (GstMemmapSlotStore * store, const GstVideoInfo * layout,
    GstMemmapStoreMode mode, guint64 max_frames, guint spare_slots,
    GError ** error)
{
  return gst_memmap_store_writer_new_full (store->engine, store->path,
      store->caps, layout, mode, max_frames, spare_slots, store->chunk_bytes,
      store->flags, error);
}

/* Whether the store's slots are laid out as @layout, opening the store
 * again with it if allowed and untouched. On failure to open the new
 * store, the old layout is opened again; if even that fails the store is
 * closed (acquiring and committing fail with its error). */
static gboolean
slot_store_ensure_layout (GstMemmapSlotStore * store,
    const GstVideoInfo * layout)
{
  GstMemmapStoreWriter *old, *writer;
  GstMemmapStoreMode mode;
  guint64 max_frames;
  guint spare_slots;
  GError *error = NULL;
  gboolean ret = FALSE;

  g_mutex_lock (&store->lock);
  if (gst_memmap_video_info_same_frame_layout (layout, &store->layout)) {
    ret = TRUE;
    goto out;
  }
  if (!store->may_relayout || store->touched || store->writer == NULL ||
      store->users > 0 || store->committed > 0)
    goto out;

  old = store->writer;
  mode = gst_memmap_store_writer_get_mode (old);
  max_frames = gst_memmap_store_writer_get_max_frames (old);
  spare_slots = gst_memmap_store_writer_get_spare_slots (old);
  if (!gst_memmap_store_writer_close (old, &error)) {
    GST_WARNING ("%s: closing to lay it out again: %s", store->path,
        error->message);
    g_clear_error (&error);
  }
  /* nothing else holds it (no slot was acquired): this lets the file go */
  gst_memmap_store_writer_unref (old);
  writer = reopen_writer (store, layout, mode, max_frames, spare_slots, &error);
  if (writer == NULL) {
    GST_WARNING ("%s: could not lay the store out again (%s): keeping the "
        "layout of the caps", store->path, error->message);
    g_clear_error (&error);
    writer = reopen_writer (store, &store->layout, mode, max_frames,
        spare_slots, &error);
  } else {
    GST_INFO ("%s: slots laid out again for the producer: %" G_GSIZE_FORMAT
        " bytes a frame, strides %d %d %d %d", store->path,
        GST_VIDEO_INFO_SIZE (layout), GST_VIDEO_INFO_PLANE_STRIDE (layout, 0),
        GST_VIDEO_INFO_PLANE_STRIDE (layout, 1),
        GST_VIDEO_INFO_PLANE_STRIDE (layout, 2),
        GST_VIDEO_INFO_PLANE_STRIDE (layout, 3));
    store->layout = *gst_memmap_store_writer_get_layout (writer);
    ret = TRUE;
  }
  store->writer = writer;
  store->generation++;
  if (writer == NULL) {
    GST_WARNING ("%s: the store is closed: %s", store->path, error->message);
    g_clear_error (&error);
  }

out:
  g_mutex_unlock (&store->lock);
  return ret;
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

/* ------------------------------------------------------------------------ */
/* GstMemmapSlotPool                                                        */

struct _GstMemmapSlotPool
{
  GstBufferPool parent;

  GstMemmapSlotStore *store;
  gboolean add_video_meta;
  /* GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT was set: the alignment the
   * slots honour, put in every video meta */
  gboolean need_alignment;
  GstVideoAlignment video_align;
};

G_DEFINE_TYPE (GstMemmapSlotPool, gst_memmap_slot_pool, GST_TYPE_BUFFER_POOL);

static void gst_memmap_slot_pool_finalize (GObject * object);
static const gchar **gst_memmap_slot_pool_get_options (GstBufferPool * pool);
static gboolean gst_memmap_slot_pool_set_config (GstBufferPool * pool,
    GstStructure * config);
static gboolean gst_memmap_slot_pool_start (GstBufferPool * pool);
static GstFlowReturn gst_memmap_slot_pool_alloc_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params);
static void gst_memmap_slot_pool_release_buffer (GstBufferPool * pool,
    GstBuffer * buffer);

static void
gst_memmap_slot_pool_class_init (GstMemmapSlotPoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  ensure_debug_category ();

  gobject_class->finalize = gst_memmap_slot_pool_finalize;

  pool_class->get_options = gst_memmap_slot_pool_get_options;
  pool_class->set_config = gst_memmap_slot_pool_set_config;
  pool_class->start = gst_memmap_slot_pool_start;
  pool_class->alloc_buffer = gst_memmap_slot_pool_alloc_buffer;
  pool_class->release_buffer = gst_memmap_slot_pool_release_buffer;
}

static void
gst_memmap_slot_pool_init (GstMemmapSlotPool * self)
{
}

static void
gst_memmap_slot_pool_finalize (GObject * object)
{
  GstMemmapSlotPool *self = GST_MEMMAP_SLOT_POOL (object);

  g_clear_pointer (&self->store, gst_memmap_slot_store_unref);

  G_OBJECT_CLASS (gst_memmap_slot_pool_parent_class)->finalize (object);
}

/**
 * gst_memmap_slot_pool_new:
 * @store: the store whose slots the buffers are
 *
 * Returns: (transfer full): a new pool (not floating), to be configured with
 *   caps of @store's layout
 */
GstBufferPool *
gst_memmap_slot_pool_new (GstMemmapSlotStore * store)
{
  GstMemmapSlotPool *self;

  g_return_val_if_fail (store != NULL, NULL);

  self = g_object_new (GST_TYPE_MEMMAP_SLOT_POOL, NULL);
  gst_object_ref_sink (self);
  self->store = gst_memmap_slot_store_ref (store);

  return GST_BUFFER_POOL_CAST (self);
}

static const gchar **
gst_memmap_slot_pool_get_options (GstBufferPool * pool)
{
  static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META,
    GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT, NULL
  };

  return options;
}

static gboolean
same_plane_layout (const GstVideoInfo * a, const GstVideoInfo * b)
{
  guint i;

  if (GST_VIDEO_INFO_SIZE (a) != GST_VIDEO_INFO_SIZE (b))
    return FALSE;
  for (i = 0; i < GST_VIDEO_INFO_N_PLANES (a); i++) {
    if (GST_VIDEO_INFO_PLANE_OFFSET (a, i) !=
        GST_VIDEO_INFO_PLANE_OFFSET (b, i) ||
        GST_VIDEO_INFO_PLANE_STRIDE (a, i) != GST_VIDEO_INFO_PLANE_STRIDE (b,
            i))
      return FALSE;
  }

  return TRUE;
}

/* The layout a producer that asks for @align (its padding and stride
 * alignment) renders @info in, as GstVideoBufferPool lays it out: every
 * stride aligned to the largest alignment asked for, the allocation's
 * included (but for a page alignment, see below). FALSE if @info cannot be
 * aligned so. */
static gboolean
aligned_layout (GstStructure * config, const GstVideoInfo * info,
    GstVideoAlignment * align, GstVideoInfo * aligned)
{
  GstAllocationParams params;
  GstAllocator *allocator = NULL;
  guint n, max_align;

  gst_allocation_params_init (&params);
  gst_buffer_pool_config_get_allocator (config, &allocator, &params);
  if (!gst_buffer_pool_config_get_video_alignment (config, align))
    return FALSE;

  /* the page alignment the elements propose is that of a slot's start,
   * which every slot has: it does not make strides of a page */
  max_align = params.align < (gsize) getpagesize () - 1 ? params.align : 0;
  for (n = 0; n < GST_VIDEO_MAX_PLANES; n++)
    max_align |= align->stride_align[n];
  for (n = 0; n < GST_VIDEO_MAX_PLANES; n++)
    align->stride_align[n] = max_align;

  *aligned = *info;
  return gst_video_info_align (aligned, align);
}

static gboolean
gst_memmap_slot_pool_set_config (GstBufferPool * pool, GstStructure * config)
{
  GstMemmapSlotPool *self = GST_MEMMAP_SLOT_POOL (pool);
  const GstVideoInfo *layout;
  GstVideoInfo info, aligned;
  GstCaps *caps;
  guint size, min, max, limit;
  gboolean adjusted = FALSE;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max))
    goto wrong_config;
  if (caps == NULL)
    goto no_caps;
  if (!gst_video_info_from_caps (&info, caps))
    goto wrong_caps;
  if (!gst_memmap_video_info_same_picture (&info,
          gst_memmap_slot_store_get_layout (self->store)))
    goto wrong_layout;

  self->add_video_meta = gst_buffer_pool_config_has_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_META);
  /* alignment only with a video meta to say where the padding went, as
   * GstVideoBufferPool does */
  self->need_alignment = self->add_video_meta &&
      gst_buffer_pool_config_has_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
  if (self->need_alignment) {
    if (!aligned_layout (config, &info, &self->video_align, &aligned))
      goto cannot_align;
    /* the slots must be laid out exactly so: a decoder checks the strides
     * (avdec_*), and writes into the padding */
    if (!slot_store_ensure_layout (self->store, &aligned))
      goto other_alignment;
    gst_buffer_pool_config_set_video_alignment (config, &self->video_align);
  }
  layout = gst_memmap_slot_store_get_layout (self->store);

  /* without a video meta the producer assumes the default layout: ask for
   * the meta (GstVideoDecoder's default allocation takes the config back
   * and sets it again) */
  if (!self->add_video_meta && !same_plane_layout (&info, layout)) {
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    self->add_video_meta = TRUE;
    adjusted = TRUE;
  }

  /* every buffer is exactly one slot; a slot larger than asked for is
   * padding (a padded store's slots hold more than the default frame) */
  if (size != GST_VIDEO_INFO_SIZE (layout)) {
    if (size > GST_VIDEO_INFO_SIZE (layout))
      adjusted = TRUE;
    size = GST_VIDEO_INFO_SIZE (layout);
  }
  /* a ring has only so many spare slots */
  limit = self->store->max_outstanding;
  if (limit > 0) {
    if (min > limit)
      goto too_many_buffers;
    if (max == 0 || max > limit) {
      max = limit;
      adjusted = TRUE;
    }
  }
  gst_buffer_pool_config_set_params (config, caps, size, min, max);

  GST_DEBUG_OBJECT (pool, "%" GST_PTR_FORMAT " size %u min %u max %u meta %d"
      " alignment %d", caps, size, min, max, self->add_video_meta,
      self->need_alignment);

  /* FALSE with the config adjusted: the caller reads it back and
   * validates it, as gst_buffer_pool_set_config() documents */
  return GST_BUFFER_POOL_CLASS (gst_memmap_slot_pool_parent_class)->set_config
      (pool, config) && !adjusted;

  /* ERRORS */
wrong_config:
  {
    GST_WARNING_OBJECT (pool, "invalid config %" GST_PTR_FORMAT, config);
    return FALSE;
  }
no_caps:
  {
    GST_WARNING_OBJECT (pool, "no caps in config");
    return FALSE;
  }
wrong_caps:
  {
    GST_WARNING_OBJECT (pool, "no video info in %" GST_PTR_FORMAT, caps);
    return FALSE;
  }
wrong_layout:
  {
    GST_WARNING_OBJECT (pool, "%" GST_PTR_FORMAT " is not the layout of %s",
        caps, self->store->path);
    return FALSE;
  }
cannot_align:
  {
    GST_WARNING_OBJECT (pool, "%" GST_PTR_FORMAT " cannot be aligned as "
        "asked", caps);
    return FALSE;
  }
other_alignment:
  {
    /* the producer renders into its own buffers: they are copied */
    GST_INFO_OBJECT (pool, "the slots of %s are not laid out for the "
        "alignment asked for, and frames were stored or slots taken "
        "already: refusing it", self->store->path);
    return FALSE;
  }
too_many_buffers:
  {
    GST_WARNING_OBJECT (pool, "%u buffers asked for, the ring has %u spare "
        "slots", min, limit);
    return FALSE;
  }
}

/* Nothing is preallocated: a slot is acquired when a buffer is handed out,
 * never earlier, so that an idle pool holds no slot. */
static gboolean
gst_memmap_slot_pool_start (GstBufferPool * pool)
{
  return TRUE;
}

static GstFlowReturn
gst_memmap_slot_pool_alloc_buffer (GstBufferPool * pool, GstBuffer ** buffer,
    GstBufferPoolAcquireParams * params)
{
  GstMemmapSlotPool *self = GST_MEMMAP_SLOT_POOL (pool);
  const GstVideoInfo *layout = &self->store->layout;
  GError *error = NULL;
  GstMemory *mem;
  GstBuffer *buf;
  guint64 slot = 0;

  mem = gst_memmap_slot_store_acquire (self->store, &slot, &error);
  if (mem == NULL) {
    /* Hand out plain memory rather than fail the producer with a bare
     * GST_FLOW_ERROR: the element then tries to copy the frame into a slot
     * and reports the store's error itself, naming the file. */
    GST_WARNING_OBJECT (pool, "no slot: %s", error->message);
    g_clear_error (&error);
    mem = gst_allocator_alloc (NULL, GST_VIDEO_INFO_SIZE (layout), NULL);
    if (mem == NULL)
      return GST_FLOW_ERROR;
  } else {
    GST_LOG_OBJECT (pool, "slot %" G_GUINT64_FORMAT, slot);
  }

  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  if (self->add_video_meta) {
    GstVideoMeta *meta;

    meta = gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
        GST_VIDEO_INFO_FORMAT (layout), GST_VIDEO_INFO_WIDTH (layout),
        GST_VIDEO_INFO_HEIGHT (layout), GST_VIDEO_INFO_N_PLANES (layout),
        (gsize *) layout->offset, (gint *) layout->stride);
    if (self->need_alignment)
      gst_video_meta_set_alignment (meta, self->video_align);
  }

  *buffer = buf;
  return GST_FLOW_OK;
}

/* A buffer is never recycled: its slot was either committed (it belongs to
 * the store now) or is released when its memory goes. */
static void
gst_memmap_slot_pool_release_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY);
  GST_BUFFER_POOL_CLASS (gst_memmap_slot_pool_parent_class)->release_buffer
      (pool, buffer);
}

/**
 * gst_memmap_slot_pool_get_buffer_slot:
 * @store: a #GstMemmapSlotStore
 * @buffer: a buffer to be stored
 *
 * Whether @buffer can be committed as it is: its one memory is a whole
 * uncommitted slot of @store, handed out by a slot pool of @store (the
 * buffer itself may be a copy of the pool's, sharing that memory).
 *
 * Returns: (transfer none) (nullable): the slot memory to commit, or %NULL
 *   when @buffer must be copied
 */
GstMemory *
gst_memmap_slot_pool_get_buffer_slot (GstMemmapSlotStore * store,
    GstBuffer * buffer)
{
  GstMemory *mem;

  /* Not buffer->pool: a producer that still holds its buffer (a decoder's
   * reference frame) pushes a writable copy of it, which shares the slot's
   * memory but belongs to no pool. The memory says which slot it is. */
  if (gst_buffer_n_memory (buffer) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buffer, 0);
  if (!gst_memmap_slot_store_owns_memory (store, mem)) {
    GST_LOG ("%" GST_PTR_FORMAT " (memory %p, %s) is no slot of %s", buffer,
        mem, gst_is_memmap_memory (mem) ? "memmap" : "other", store->path);
    return NULL;
  }

  return mem;
}
