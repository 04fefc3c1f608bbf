/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The streaming side of memmapsink (gstmemmapsink.c holds the element, its
 * properties, states and URI handler): the store opened at the first caps,
 * the slot pool offered upstream in propose_allocation, and render, which
 * commits each frame, in place when the buffer is one of the store's slots
 * and copied into a slot otherwise.
 *
 * All of it runs on the streaming thread between READY->PAUSED and
 * PAUSED->READY (self->store and self->cur are its state); the counters and
 * the store pointer that get_property() reads are written under the object
 * lock. Every error closes the store cleanly before it is posted: the
 * frames committed before stay readable.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapsinkprivate.h"
#include "gstmemmapcontext.h"
#include "gstmemmapslotpool.h"

#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapvideo.h>

#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_sink_debug

/* Reports a store error of the streaming thread, naming the file. */
static void
post_store_error (GstMemmapSink * self, const GError * error, gboolean opening)
{
  const gchar *location = self->cur.location;

  if (g_error_matches (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NO_SPACE) &&
      self->cur.mode == GST_MEMMAP_STORE_MODE_RING && !opening) {
    /* a ring's file is reserved whole when it is created: what ran out is
     * the spare slots, held by buffers upstream */
    GST_ELEMENT_ERROR (self, RESOURCE, BUSY,
        ("No free slot in the ring of the frame store \"%s\".", location),
        ("%s: %s", location, error->message));
  } else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_NO_SPACE)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("No space left on the device for the frame store \"%s\".", location),
        ("%s: %s", location, error->message));
  } else if (opening && g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_INVALID_ARGUMENT)) {
    /* the caps or the properties describe a store that cannot exist */
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not create the frame store \"%s\" with these settings.",
            location), ("%s: %s", location, error->message));
  } else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED)) {
    /* another program cut the file short: what was written into the lost
     * pages is gone, nothing more can be committed */
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("The frame store \"%s\" was truncated by another program while it "
            "was being written.", location), ("%s: %s", location,
            error->message));
  } else if (opening) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not open the frame store \"%s\" for writing.", location),
        ("%s: %s", location, error->message));
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write to the frame store \"%s\".", location),
        ("%s: %s", location, error->message));
  }
}

/* Closes the store cleanly (state closed, every committed frame kept). The
 * store object stays, closed, so that the stream can tell it ended. */
void
gst_memmap_sink_close_store (GstMemmapSink * self)
{
  GError *error = NULL;

  if (self->store == NULL || gst_memmap_slot_store_is_closed (self->store))
    return;

  if (!gst_memmap_slot_store_close (self->store, &error)) {
    GST_ELEMENT_WARNING (self, RESOURCE, CLOSE,
        ("Could not close the frame store \"%s\".", self->cur.location),
        ("%s: %s", self->cur.location, error->message));
    g_clear_error (&error);
    return;
  }

  GST_INFO_OBJECT (self, "closed %s with %" G_GUINT64_FORMAT " frames",
      self->cur.location, gst_memmap_slot_store_get_committed (self->store));
}

void
gst_memmap_sink_clear_state (GstMemmapSink * self)
{
  GstMemmapSlotStore *store;

  gst_memmap_sink_close_store (self);

  GST_OBJECT_LOCK (self);
  store = self->store;
  self->store = NULL;
  GST_OBJECT_UNLOCK (self);

  g_clear_pointer (&store, gst_memmap_slot_store_unref);
  g_clear_pointer (&self->cur.location, g_free);
  gst_video_info_init (&self->info);
}

static gboolean
gst_memmap_sink_open_store (GstMemmapSink * self, GstCaps * caps,
    const GstVideoInfo * info)
{
  GstMemmapStoreWriterFlags flags = GST_MEMMAP_STORE_WRITER_FLAG_NONE;
  GstMemmapStoreWriter *writer;
  GstMemmapSlotStore *store;
  GstMemmapEngine *engine;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  engine = self->engine ? gst_object_ref (self->engine) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (engine == NULL)
    engine = gst_memmap_context_ensure_engine (GST_ELEMENT (self),
        &self->engine);

  if (self->cur.durable)
    flags |= GST_MEMMAP_STORE_WRITER_FLAG_SYNC;
  if (self->cur.reuse)
    flags |= GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  if (self->cur.checksum)
    flags |= GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM;

  /* frames are laid out as GstVideoInfo does by default for these caps; the
   * store puts every slot on a page boundary */
  writer = gst_memmap_store_writer_new_full (engine, self->cur.location, caps,
      info, self->cur.mode, self->cur.max_frames, 0, self->cur.chunk_size,
      flags, &error);
  if (writer == NULL) {
    gst_object_unref (engine);
    goto open_failed;
  }

  GST_INFO_OBJECT (self, "%s %s: %s %ux%u, %" G_GSIZE_FORMAT
      " bytes a frame, %s mode, max-frames %" G_GUINT64_FORMAT "%s",
      gst_memmap_store_writer_was_reused (writer) ? "reusing" : "created",
      self->cur.location, GST_VIDEO_INFO_NAME (info),
      GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
      GST_VIDEO_INFO_SIZE (info),
      self->cur.mode == GST_MEMMAP_STORE_MODE_RING ? "ring" : "append",
      self->cur.max_frames, self->cur.durable ? ", durable" : "");

  store = gst_memmap_slot_store_new (writer);
  /* a decoder may render into the slots, laid out as it asks */
  gst_memmap_slot_store_allow_relayout (store, engine, caps,
      self->cur.chunk_size, flags);
  gst_object_unref (engine);
  GST_OBJECT_LOCK (self);
  self->store = store;
  GST_OBJECT_UNLOCK (self);

  return TRUE;

  /* ERRORS */
open_failed:
  {
    post_store_error (self, error, TRUE);
    g_clear_error (&error);
    return FALSE;
  }
}

gboolean
gst_memmap_sink_set_caps (GstBaseSink * bsink, GstCaps * caps)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);
  const GstVideoInfo *layout;
  GstVideoInfo info;

  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);

  if (!gst_video_info_from_caps (&info, caps))
    goto invalid_caps;

  if (self->store == NULL) {
    if (!gst_memmap_sink_open_store (self, caps, &info))
      return FALSE;
    self->info = info;
    return TRUE;
  }

  /* the same picture: the store's slots may be padded for a decoder */
  layout = gst_memmap_slot_store_get_layout (self->store);
  if (!gst_memmap_video_info_same_picture (&info, layout))
    goto layout_changed;

  GST_DEBUG_OBJECT (self, "same layout, the store continues");
  self->info = info;
  return TRUE;

  /* ERRORS */
invalid_caps:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("no video info in %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
layout_changed:
  {
    gst_memmap_sink_close_store (self);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("caps changed mid-stream"),
        ("store %s holds %ux%u %s; new caps %" GST_PTR_FORMAT "; a store "
            "holds one video layout — start a new store", self->cur.location,
            GST_VIDEO_INFO_WIDTH (layout), GST_VIDEO_INFO_HEIGHT (layout),
            GST_VIDEO_INFO_NAME (layout), caps));
    return FALSE;
  }
}

gboolean
gst_memmap_sink_propose_allocation (GstBaseSink * bsink, GstQuery * query)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);
  const GstVideoInfo *layout;
  GstAllocationParams params;
  GstBufferPool *pool = NULL;
  GstStructure *config;
  GstVideoInfo info;
  gboolean need_pool;
  GstCaps *caps;
  guint size, max;

  gst_query_parse_allocation (query, &caps, &need_pool);

  /* we read any stride */
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);

  if (caps == NULL || !gst_video_info_from_caps (&info, caps))
    return TRUE;
  if (self->store == NULL || gst_memmap_slot_store_is_closed (self->store))
    goto no_store;
  layout = gst_memmap_slot_store_get_layout (self->store);
  if (!gst_memmap_video_info_same_picture (&info, layout))
    goto other_layout;

  size = GST_VIDEO_INFO_SIZE (layout);
  max = gst_memmap_slot_store_get_max_outstanding (self->store);

  if (need_pool) {
    pool = gst_memmap_slot_pool_new (self->store);
    config = gst_buffer_pool_get_config (pool);
    gst_buffer_pool_config_set_params (config, caps, size, 0, max);
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    /* every slot starts on a page */
    gst_allocation_params_init (&params);
    params.align = getpagesize () - 1;
    gst_buffer_pool_config_set_allocator (config, NULL, &params);
    if (!gst_buffer_pool_set_config (pool, config))
      goto config_failed;
  }

  GST_DEBUG_OBJECT (self, "proposing slot pool %" GST_PTR_FORMAT ", size %u,"
      " max %u", pool, size, max);
  gst_query_add_allocation_pool (query, pool, size, 0, max);
  gst_clear_object (&pool);

  return TRUE;

  /* ERRORS */
no_store:
  {
    GST_DEBUG_OBJECT (self, "no open store: no pool to propose");
    return TRUE;
  }
other_layout:
  {
    GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT " is not the store's layout: "
        "no pool to propose", caps);
    return TRUE;
  }
config_failed:
  {
    GST_WARNING_OBJECT (self, "slot pool refused its config");
    gst_object_unref (pool);
    return TRUE;
  }
}

GstFlowReturn
gst_memmap_sink_render (GstBaseSink * bsink, GstBuffer * buffer)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);
  GstMemory *mem;
  GError *error = NULL;
  gboolean zero_copy;
  guint32 flags;
  guint64 committed;
  gsize frame_size;

  if (G_UNLIKELY (self->store == NULL))
    goto not_negotiated;
  if (G_UNLIKELY (gst_memmap_slot_store_is_closed (self->store)))
    goto closed;

  mem = gst_memmap_slot_pool_get_buffer_slot (self->store, buffer);
  zero_copy = (mem != NULL);
  if (zero_copy) {
    gst_memory_ref (mem);
  } else {
    GstVideoFrame in_frame;

    GST_LOG_OBJECT (self, "copying %" GST_PTR_FORMAT " into a slot", buffer);
    if (!gst_video_frame_map (&in_frame, &self->info, buffer, GST_MAP_READ))
      goto invalid_buffer;
    mem = gst_memmap_slot_store_copy_frame (self->store, &in_frame, &error);
    gst_video_frame_unmap (&in_frame);
    if (mem == NULL)
      goto write_failed;
  }

  /* DISCONT, the field flags, CORRUPTED and GAP (docs/store-format.md) */
  flags = gst_memmap_store_frame_flags_from_buffer (buffer);
  if (!gst_memmap_slot_store_commit (self->store, mem,
          GST_BUFFER_PTS (buffer), GST_BUFFER_DURATION (buffer), flags,
          &error)) {
    gst_memory_unref (mem);
    goto write_failed;
  }
  gst_memory_unref (mem);

  committed = gst_memmap_slot_store_get_committed (self->store);
  frame_size = GST_VIDEO_INFO_SIZE (gst_memmap_slot_store_get_layout
      (self->store));
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT
      " %s", committed - 1, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
      zero_copy ? "in place" : "copied");

  GST_OBJECT_LOCK (self);
  self->frames_written++;
  if (zero_copy)
    self->frames_zero_copy++;
  else
    self->frames_copied++;
  self->bytes_written += frame_size;
  GST_OBJECT_UNLOCK (self);

  if (gst_memmap_slot_store_is_full (self->store)) {
    GST_INFO_OBJECT (self, "stored max-frames=%" G_GUINT64_FORMAT " frames: "
        "ending the stream", self->cur.max_frames);
    gst_memmap_sink_close_store (self);
    return GST_FLOW_EOS;
  }

  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("a buffer arrived before any caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
closed:
  {
    GST_DEBUG_OBJECT (self, "store closed, dropping %" GST_PTR_FORMAT, buffer);
    return GST_FLOW_EOS;
  }
invalid_buffer:
  {
    gst_memmap_sink_close_store (self);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Received a buffer that does not hold a frame of the caps."),
        ("%s: a buffer of %" G_GSIZE_FORMAT " bytes does not hold a %ux%u %s "
            "frame", self->cur.location, gst_buffer_get_size (buffer),
            GST_VIDEO_INFO_WIDTH (&self->info),
            GST_VIDEO_INFO_HEIGHT (&self->info),
            GST_VIDEO_INFO_NAME (&self->info)));
    return GST_FLOW_ERROR;
  }
write_failed:
  {
    /* end the store cleanly: every frame committed so far stays */
    gst_memmap_sink_close_store (self);
    if (gst_memmap_slot_store_is_full (self->store)) {
      /* max-frames reached is the end of the stream, never a disk error */
      GST_INFO_OBJECT (self, "stored max-frames=%" G_GUINT64_FORMAT
          " frames: ending the stream (%s)", self->cur.max_frames,
          error->message);
      g_clear_error (&error);
      return GST_FLOW_EOS;
    }
    post_store_error (self, error, FALSE);
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
}
