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

#include <string.h>

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

  /* constant */
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

/**
 * gst_memmap_slot_store_acquire:
 * @store: a #GstMemmapSlotStore
 * @slot: (out) (optional): the slot acquired
 * @error: return location for a #GError
 *
 * Acquires a free slot (in append mode growing the file by a reserved chunk
 * when needed) and returns a writable memory of its bytes. Dropping the last
 * reference on the memory without gst_memmap_slot_store_commit() releases
 * the slot.
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
  g_mutex_unlock (&store->lock);

  /* the writer locks itself; this may wait for a ring reader's lease */
  if (gst_memmap_store_writer_acquire_slot (writer, &s, error)) {
    mem = gst_memmap_store_writer_get_slot_memory (writer, store->allocator,
        s, error);
    if (mem == NULL)
      gst_memmap_store_writer_release_slot (writer, s);
  }

  g_mutex_lock (&store->lock);
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
gst_memmap_slot_store_owns_memory (GstMemmapSlotStore * store,
    GstMemory * mem)
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
 *   gst_memmap_store_writer_get_stats()), as they were at close once closed
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
  static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META, NULL };

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

static gboolean
gst_memmap_slot_pool_set_config (GstBufferPool * pool, GstStructure * config)
{
  GstMemmapSlotPool *self = GST_MEMMAP_SLOT_POOL (pool);
  const GstVideoInfo *layout = &self->store->layout;
  GstVideoInfo info;
  GstCaps *caps;
  guint size, min, max, limit;
  gboolean adjusted = FALSE;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max))
    goto wrong_config;
  if (caps == NULL)
    goto no_caps;
  if (!gst_video_info_from_caps (&info, caps))
    goto wrong_caps;
  if (GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_INFO_FORMAT (layout) ||
      GST_VIDEO_INFO_WIDTH (&info) != GST_VIDEO_INFO_WIDTH (layout) ||
      GST_VIDEO_INFO_HEIGHT (&info) != GST_VIDEO_INFO_HEIGHT (layout))
    goto wrong_layout;

  self->add_video_meta = gst_buffer_pool_config_has_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_META);
  /* without a video meta the producer assumes the default layout */
  if (!self->add_video_meta && !same_plane_layout (&info, layout))
    goto needs_video_meta;

  /* every buffer is exactly one slot */
  if (size != GST_VIDEO_INFO_SIZE (layout)) {
    size = GST_VIDEO_INFO_SIZE (layout);
    adjusted = TRUE;
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

  GST_DEBUG_OBJECT (pool, "%" GST_PTR_FORMAT " size %u min %u max %u meta %d",
      caps, size, min, max, self->add_video_meta);

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
needs_video_meta:
  {
    GST_WARNING_OBJECT (pool, "the store's strides differ from the default "
        "ones of %" GST_PTR_FORMAT " and the video meta option is not set",
        caps);
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
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
        GST_VIDEO_INFO_FORMAT (layout), GST_VIDEO_INFO_WIDTH (layout),
        GST_VIDEO_INFO_HEIGHT (layout), GST_VIDEO_INFO_N_PLANES (layout),
        (gsize *) layout->offset, (gint *) layout->stride);
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
 * Whether @buffer can be committed as it is: it comes from a slot pool of
 * @store and is exactly one uncommitted slot of it.
 *
 * Returns: (transfer none) (nullable): the slot memory to commit, or %NULL
 *   when @buffer must be copied
 */
GstMemory *
gst_memmap_slot_pool_get_buffer_slot (GstMemmapSlotStore * store,
    GstBuffer * buffer)
{
  GstBufferPool *pool = buffer->pool;
  GstMemory *mem;

  if (pool == NULL || !GST_IS_MEMMAP_SLOT_POOL (pool) ||
      GST_MEMMAP_SLOT_POOL (pool)->store != store)
    return NULL;
  if (gst_buffer_n_memory (buffer) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buffer, 0);
  if (!gst_memmap_slot_store_owns_memory (store, mem))
    return NULL;

  return mem;
}
