/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-memmapsink
 * @title: memmapsink
 * @see_also: filesink, #GstMemmapStoreReader
 *
 * Writes raw video frames into a frame store: a file of page-aligned frame
 * slots and an index of timestamps (docs/store-format.md) that
 * gst_memmap_store_reader_open(), numpy or any other process can read, also
 * while it is being written.
 *
 * memmapsink offers upstream a buffer pool whose buffers are the store's
 * slots, so a producer that takes it (videotestsrc, videoconvert, most
 * software decoders) renders each frame straight into the file's pages and
 * memmapsink only publishes the frame's index entry: no copy. Any other
 * buffer is copied once into the next slot. The #GstMemmapSink:stats
 * property counts both.
 *
 * In append mode (the default) the file grows in reserved chunks until the
 * stream ends, the disk is full or #GstMemmapSink:max-frames frames are
 * stored. In ring mode the store keeps the last #GstMemmapSink:max-frames
 * frames. At EOS, on an error and when the element stops, the store is
 * closed cleanly; every frame committed before stays readable.
 *
 * A store holds one video layout: new caps with the same format, width and
 * height continue the store, any other caps end it with an error.
 *
 * memmapsink is the sink URI handler of `memmap:///path/to/clip.store`
 * (`gst_element_make_from_uri (GST_URI_SINK, ...)`); #GstMemmapSink:location
 * also takes a `file://` URI.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=300 ! video/x-raw,format=I420,width=1280,height=720 ! memmapsink location=frames.store
 * ]| Stores 300 frames of 720p I420, written in place by videotestsrc.
 * |[
 * gst-launch-1.0 -e videotestsrc is-live=true ! video/x-raw,format=NV12,width=640,height=480,framerate=30/1 ! memmapsink location=last.store mode=ring max-frames=300
 * ]| Keeps the last ten seconds of a live source; stop it with Ctrl-C
 * (gst-launch-1.0 -e) and the store is closed with its last 300 frames.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapelements.h"
#include "gstmemmapcontext.h"
#include "gstmemmapsinkprivate.h"
#include "gstmemmapslotpool.h"
#include "gstmemmapuri.h"

#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapvideo.h>

#include <unistd.h>

GST_DEBUG_CATEGORY (gst_memmap_sink_debug);
#define GST_CAT_DEFAULT gst_memmap_sink_debug

#define DEFAULT_LOCATION NULL
#define DEFAULT_MODE GST_MEMMAP_STORE_MODE_APPEND
#define DEFAULT_MAX_FRAMES 0
#define DEFAULT_DURABLE FALSE
#define DEFAULT_REUSE FALSE
#define DEFAULT_CHUNK_SIZE 0
#define DEFAULT_CHECKSUM FALSE

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_MODE,
  PROP_MAX_FRAMES,
  PROP_DURABLE,
  PROP_REUSE,
  PROP_CHUNK_SIZE,
  PROP_CHECKSUM,
  PROP_STATS,
};

static void gst_memmap_sink_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

G_DEFINE_TYPE_WITH_CODE (GstMemmapSink, gst_memmap_sink, GST_TYPE_BASE_SINK,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_memmap_sink_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE (memmapsink, "memmapsink", GST_RANK_NONE,
    GST_TYPE_MEMMAP_SINK);

static void gst_memmap_sink_finalize (GObject * object);
static void gst_memmap_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_memmap_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);

static GstStateChangeReturn gst_memmap_sink_change_state (GstElement *
    element, GstStateChange transition);
static void gst_memmap_sink_set_context (GstElement * element,
    GstContext * context);

static gboolean gst_memmap_sink_start (GstBaseSink * bsink);
static gboolean gst_memmap_sink_stop (GstBaseSink * bsink);
static gboolean gst_memmap_sink_query (GstBaseSink * bsink, GstQuery * query);
static gboolean gst_memmap_sink_event (GstBaseSink * bsink, GstEvent * event);

static void
gst_memmap_sink_class_init (GstMemmapSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  GstCaps *caps;

  gobject_class->finalize = gst_memmap_sink_finalize;
  gobject_class->set_property = gst_memmap_sink_set_property;
  gobject_class->get_property = gst_memmap_sink_get_property;

  /**
   * GstMemmapSink:location:
   *
   * The frame store file to write: a path, or a `file://` or `memmap://`
   * URI of one. An existing file is replaced atomically (a reader of the
   * old file keeps it), unless #GstMemmapSink:reuse lets the store
   * overwrite it in place.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "File Location",
          "Location of the frame store file to write", DEFAULT_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:mode:
   *
   * append: every frame is kept and the file grows in reserved chunks.
   * ring: the store keeps the last #GstMemmapSink:max-frames frames, in a
   * file whose size is fixed when it is created.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "How the store keeps its frames", GST_TYPE_MEMMAP_STORE_MODE,
          DEFAULT_MODE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:max-frames:
   *
   * In ring mode the number of frames kept (required, > 0). In append mode
   * a cap: after that many frames memmapsink closes the store and returns
   * %GST_FLOW_EOS upstream, which ends the stream; 0 means no cap.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_FRAMES,
      g_param_spec_uint64 ("max-frames", "Max frames",
          "Ring capacity (mode=ring, required), or the most frames to store "
          "in append mode (0 = unlimited)", 0, G_MAXUINT64,
          DEFAULT_MAX_FRAMES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:durable:
   *
   * Sync every frame and its index entry to the disk (msync) before the
   * next one, so that committed frames survive a power loss or a kernel
   * crash. Without it a crash of the process already loses no committed
   * frame (the bytes are in the page cache); the operating system writes
   * them back in its own time. Costs one synchronous write per frame.
   *
   * It is not called `sync` because #GstBaseSink:sync already means
   * synchronising on the clock.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_DURABLE,
      g_param_spec_boolean ("durable", "Durable",
          "Sync every committed frame to the disk (survives power loss)",
          DEFAULT_DURABLE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:reuse:
   *
   * When #GstMemmapSink:location already holds a valid store with the same
   * video layout, mode and max-frames, overwrite it in place: its old frames
   * are dropped, its reserved space and page cache are reused, which is much
   * faster than filling a new file. Otherwise (and by default) a new store
   * replaces the file atomically: a reader of the old file keeps its copy.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_REUSE,
      g_param_spec_boolean ("reuse", "Reuse",
          "Overwrite an existing store of the same layout, mode and capacity "
          "in place instead of replacing the file", DEFAULT_REUSE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:chunk-size:
   *
   * In append mode the file grows by chunks of about this many bytes (whole
   * slots, at least one), each reserved on the disk when it is added, so
   * that a full disk is reported when a chunk is added and never hit while
   * a frame is written. 0 selects the library's default: 64 MiB, and at
   * least 16 frames.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CHUNK_SIZE,
      g_param_spec_uint64 ("chunk-size", "Chunk size",
          "Bytes reserved at a time as an append store grows "
          "(0 = the default, 64 MiB and at least 16 frames)", 0, G_MAXUINT64,
          DEFAULT_CHUNK_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:checksum:
   *
   * Keep a checksum (XXH3-64) of every frame in the store's index, computed
   * when the frame is committed (format 1.1). Readers (memmapsrc,
   * memmapcache, gst_memmap_store_reader_get_buffer()) then check every
   * frame they hand out and report a frame changed on disk as an error
   * instead of playing it, and `gst-memmap verify` finds any changed byte.
   * It costs one read of every frame at commit and at read: about 200 us
   * per 1080p frame here, +70% when overwriting a store in place, about 3%
   * of appending to a new file (tests/bench/bench-sink.c prints it), so it
   * is off by default.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_CHECKSUM,
      g_param_spec_boolean ("checksum", "Checksum",
          "Keep a checksum of every frame, checked by readers and "
          "gst-memmap verify", DEFAULT_CHECKSUM,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSink:stats:
   *
   * A `memmapsink-stats` structure of #guint64 counters, reset when the
   * element goes to PAUSED:
   *
   * - `frames-written`: frames committed to the store
   * - `frames-zero-copy`: of those, frames that arrived in a slot of the
   *   store (from the pool memmapsink proposed) and were not copied
   * - `frames-copied`: of those, frames copied into a slot
   * - `bytes-written`: frame bytes committed (frame size × frames)
   *
   * and two #GstStructure fields: `engine`, the stats of the
   * #GstMemmapEngine the element uses (see gst_memmap_engine_get_stats()),
   * and, once a store was opened, `store`, the writer's (see
   * gst_memmap_store_writer_get_stats()).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Frames written, zero-copy and copied, bytes written, and the "
          "engine's stats", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_set_static_metadata (element_class,
      "Memory-mapped frame store sink", "Sink/Video",
      "Writes raw video frames into a frame store file, without a copy when "
      "upstream renders into the store's slots", "The gst-memmap developers");
  caps = gst_memmap_video_store_caps (TRUE);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_memmap_sink_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_memmap_sink_set_context);

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_memmap_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_memmap_sink_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_memmap_sink_set_caps);
  basesink_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_memmap_sink_propose_allocation);
  basesink_class->query = GST_DEBUG_FUNCPTR (gst_memmap_sink_query);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_memmap_sink_event);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_memmap_sink_render);

  GST_DEBUG_CATEGORY_INIT (gst_memmap_sink_debug, "memmapsink", 0,
      "memmapsink element");
}

static void
gst_memmap_sink_init (GstMemmapSink * self)
{
  self->settings.location = g_strdup (DEFAULT_LOCATION);
  self->settings.mode = DEFAULT_MODE;
  self->settings.max_frames = DEFAULT_MAX_FRAMES;
  self->settings.durable = DEFAULT_DURABLE;
  self->settings.reuse = DEFAULT_REUSE;
  self->settings.chunk_size = DEFAULT_CHUNK_SIZE;
  self->settings.checksum = DEFAULT_CHECKSUM;

  /* a recorder, not a renderer: as fast as the producer, like filesink */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_memmap_sink_finalize (GObject * object)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (object);

  g_free (self->settings.location);
  g_free (self->cur.location);
  g_clear_pointer (&self->store, gst_memmap_slot_store_unref);
  gst_clear_object (&self->engine);

  G_OBJECT_CLASS (gst_memmap_sink_parent_class)->finalize (object);
}

static void
gst_memmap_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (object);

  GST_OBJECT_LOCK (self);
  if (self->running) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("Changing the `%s' property on memmapsink while a store is "
        "open is not supported.", pspec->name);
    return;
  }

  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->settings.location);
      self->settings.location =
          gst_memmap_uri_location_from_property (g_value_get_string (value),
          NULL);
      break;
    case PROP_MODE:
      self->settings.mode = g_value_get_enum (value);
      break;
    case PROP_MAX_FRAMES:
      self->settings.max_frames = g_value_get_uint64 (value);
      break;
    case PROP_DURABLE:
      self->settings.durable = g_value_get_boolean (value);
      break;
    case PROP_REUSE:
      self->settings.reuse = g_value_get_boolean (value);
      break;
    case PROP_CHUNK_SIZE:
      self->settings.chunk_size = g_value_get_uint64 (value);
      break;
    case PROP_CHECKSUM:
      self->settings.checksum = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
gst_memmap_sink_create_stats (GstMemmapSink * self)
{
  GstMemmapSlotStore *store = NULL;
  GstMemmapEngine *engine;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("memmapsink-stats",
      "frames-written", G_TYPE_UINT64, self->frames_written,
      "frames-zero-copy", G_TYPE_UINT64, self->frames_zero_copy,
      "frames-copied", G_TYPE_UINT64, self->frames_copied,
      "bytes-written", G_TYPE_UINT64, self->bytes_written, NULL);
  engine = self->engine ? gst_object_ref (self->engine) : NULL;
  if (self->store)
    store = gst_memmap_slot_store_ref (self->store);
  GST_OBJECT_UNLOCK (self);

  gst_memmap_context_add_engine_stats (s, engine);
  if (store) {
    GstStructure *store_stats = gst_memmap_slot_store_get_stats (store);

    if (store_stats) {
      gst_structure_set (s, "store", GST_TYPE_STRUCTURE, store_stats, NULL);
      gst_structure_free (store_stats);
    }
    gst_memmap_slot_store_unref (store);
  }

  return s;
}

static void
gst_memmap_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (object);

  switch (prop_id) {
    case PROP_LOCATION:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->settings.location);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MODE:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->settings.mode);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MAX_FRAMES:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->settings.max_frames);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DURABLE:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->settings.durable);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_REUSE:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->settings.reuse);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_CHUNK_SIZE:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->settings.chunk_size);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_CHECKSUM:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->settings.checksum);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_memmap_sink_create_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* READY->PAUSED: the stream takes its settings; nothing is opened before
 * the caps give the layout. */
static gboolean
gst_memmap_sink_begin_stream (GstMemmapSink * self)
{
  GST_OBJECT_LOCK (self);
  g_free (self->cur.location);
  self->cur = self->settings;
  self->cur.location = g_strdup (self->settings.location);
  self->running = TRUE;
  self->frames_written = self->frames_zero_copy = self->frames_copied = 0;
  self->bytes_written = 0;
  GST_OBJECT_UNLOCK (self);

  if (self->cur.location == NULL || self->cur.location[0] == '\0')
    goto no_location;
  if (self->cur.mode == GST_MEMMAP_STORE_MODE_RING && self->cur.max_frames == 0)
    goto ring_without_capacity;

  GST_DEBUG_OBJECT (self, "stream to %s, mode %d, max-frames %"
      G_GUINT64_FORMAT ", durable %d", self->cur.location, self->cur.mode,
      self->cur.max_frames, self->cur.durable);

  return TRUE;

  /* ERRORS */
no_location:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No file name specified for writing."), (NULL));
    return FALSE;
  }
ring_without_capacity:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("A ring store needs max-frames greater than 0."),
        ("%s: mode=ring with max-frames=0", self->cur.location));
    return FALSE;
  }
}

static void
gst_memmap_sink_end_stream (GstMemmapSink * self)
{
  gst_memmap_sink_clear_state (self);

  GST_OBJECT_LOCK (self);
  self->running = FALSE;
  GST_OBJECT_UNLOCK (self);
}

static GstStateChangeReturn
gst_memmap_sink_change_state (GstElement * element, GstStateChange transition)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_memmap_sink_begin_stream (self)) {
        gst_memmap_sink_end_stream (self);
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_memmap_sink_parent_class)->change_state
      (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (ret == GST_STATE_CHANGE_FAILURE)
        gst_memmap_sink_end_stream (self);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* the streaming thread has stopped: close what it opened */
      gst_memmap_sink_end_stream (self);
      break;
    default:
      break;
  }

  return ret;
}

static void
gst_memmap_sink_set_context (GstElement * element, GstContext * context)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (element);

  gst_memmap_context_handle_set_context (element, context, &self->engine);

  GST_ELEMENT_CLASS (gst_memmap_sink_parent_class)->set_context (element,
      context);
}

/* NULL->READY: find the pipeline's engine. */
static gboolean
gst_memmap_sink_start (GstBaseSink * bsink)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);
  GstMemmapEngine *engine;

  engine = gst_memmap_context_ensure_engine (GST_ELEMENT (self), &self->engine);
  GST_DEBUG_OBJECT (self, "engine %" GST_PTR_FORMAT, engine);
  gst_object_unref (engine);

  return TRUE;
}

/* READY->NULL: forget the engine; the next start() asks again (a context
 * set on the element stays with GstElement). */
static gboolean
gst_memmap_sink_stop (GstBaseSink * bsink)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);

  /* normally done at PAUSED->READY already */
  gst_memmap_sink_end_stream (self);
  gst_memmap_context_forget_engine (GST_ELEMENT (self), &self->engine);

  return TRUE;
}

static gboolean
gst_memmap_sink_query (GstBaseSink * bsink, GstQuery * query)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);

  if (gst_memmap_context_handle_query (GST_ELEMENT (self), query,
          &self->engine))
    return TRUE;

  return GST_BASE_SINK_CLASS (gst_memmap_sink_parent_class)->query (bsink,
      query);
}

static gboolean
gst_memmap_sink_event (GstBaseSink * bsink, GstEvent * event)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (bsink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    GST_DEBUG_OBJECT (self, "EOS");
    /* closed before the EOS message reaches the application */
    gst_memmap_sink_close_store (self);
  }

  return GST_BASE_SINK_CLASS (gst_memmap_sink_parent_class)->event (bsink,
      event);
}

/* ------------------------------------------------------------------------ */
/* GstURIHandler                                                            */

static GstURIType
gst_memmap_sink_uri_get_type (GType type)
{
  return GST_URI_SINK;
}

/* not "file": filesink is the sink of file:// URIs */
static const gchar *const *
gst_memmap_sink_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { GST_MEMMAP_URI_SCHEME, NULL };

  return protocols;
}

static gchar *
gst_memmap_sink_uri_get_uri (GstURIHandler * handler)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (handler);
  gchar *uri;

  GST_OBJECT_LOCK (self);
  uri = gst_memmap_uri_from_location (self->settings.location,
      GST_MEMMAP_URI_SCHEME);
  GST_OBJECT_UNLOCK (self);

  return uri;
}

static gboolean
gst_memmap_sink_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GstMemmapSink *self = GST_MEMMAP_SINK (handler);
  gchar *location;

  location = gst_memmap_uri_to_location (uri, error);
  if (location == NULL)
    return FALSE;

  GST_OBJECT_LOCK (self);
  if (self->running)
    goto running;
  g_free (self->settings.location);
  self->settings.location = location;
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "URI %s: %s", uri, location);
  g_object_notify (G_OBJECT (self), "location");
  return TRUE;

  /* ERRORS */
running:
  {
    GST_OBJECT_UNLOCK (self);
    g_free (location);
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "Changing the URI of memmapsink while a store is open is not "
        "supported");
    return FALSE;
  }
}

static void
gst_memmap_sink_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = (GstURIHandlerInterface *) g_iface;

  iface->get_type = gst_memmap_sink_uri_get_type;
  iface->get_protocols = gst_memmap_sink_uri_get_protocols;
  iface->get_uri = gst_memmap_sink_uri_get_uri;
  iface->set_uri = gst_memmap_sink_uri_set_uri;
}
