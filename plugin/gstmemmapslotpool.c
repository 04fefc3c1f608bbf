/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstMemmapSlotPool: a GstBufferPool whose buffers are slots of a
 * GstMemmapSlotStore (gstmemmapslotpoolstore.c), laid out for the
 * producer's alignment by gstmemmapslotpoollayout.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapslotpoolprivate.h"

#include <gst/memmap/gstmemmapvideo.h>

#define GST_CAT_DEFAULT gst_memmap_slot_pool_debug

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

  gst_memmap_slot_pool_debug_init ();

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
    if (!gst_memmap_slot_pool_aligned_layout (config, &info,
            &self->video_align, &aligned))
      goto cannot_align;
    /* the slots must be laid out exactly so: a decoder checks the strides
     * (avdec_*), and writes into the padding */
    if (!gst_memmap_slot_store_ensure_layout (self->store, &aligned))
      goto other_alignment;
    gst_buffer_pool_config_set_video_alignment (config, &self->video_align);
  }
  layout = gst_memmap_slot_store_get_layout (self->store);

  /* without a video meta the producer assumes the default layout: ask for
   * the meta (GstVideoDecoder's default allocation takes the config back
   * and sets it again) */
  if (!self->add_video_meta && !gst_memmap_slot_pool_same_plane_layout (&info,
          layout)) {
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
