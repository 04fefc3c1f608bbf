/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-memmapsrc
 * @title: memmapsrc
 * @see_also: memmapsink, #GstMemmapStoreReader, #GstMemmapStoreSession
 *
 * Plays the frames of a frame store (docs/store-format.md), as written by
 * memmapsink, without copying them: every buffer is read-only memmap memory
 * that points into the store's mapping, with the frame's timestamps, the
 * buffer flags the store recorded (the field flags of interlaced video
 * among them), its frame number as offset and a #GstVideoMeta of the
 * store's layout. In a store written with checksums (memmapsink
 * checksum=true) a frame whose bytes changed on disk is an error, never a
 * buffer. An element that wants to write into a frame gets a private copy
 * through GStreamer's copy-on-write; the file never changes.
 *
 * Seeking is frame-accurate by construction, in %GST_FORMAT_TIME and in
 * %GST_FORMAT_DEFAULT (frames), forwards and backwards, at any rate: the
 * index gives every frame's position. #GstMemmapSrc:start-frame and
 * #GstMemmapSrc:num-frames select a range of frames, #GstMemmapSrc:loop
 * plays it again and again.
 *
 * With #GstMemmapSrc:follow, memmapsrc keeps serving the frames that
 * another process is still appending, like `tail -f`: it sleeps until the
 * writer commits the next frame (a futex in the store's header, no
 * polling) and ends the stream after the last frame once the writer closed
 * the store. Following a store that is still open makes memmapsrc a live
 * source.
 *
 * Frames of a ring store are leased: the writer does not reuse the slot of
 * a frame whose memory is still referenced downstream, so no buffer ever
 * shows a torn frame (docs/store-format.md, "Wake-ups and leases").
 *
 * memmapsrc is the URI handler of `memmap:///path/to/clip.store`, and of
 * `file://` URIs of files that are frame stores: it ranks above filesrc for
 * `file`, and refuses (in set_uri()) any file that does not start with the
 * store magic, so gst_element_make_from_uri() gives every other file to
 * filesrc. playbin, uridecodebin and the discoverer therefore play a store
 * given by its `file://` URI through memmapsrc, zero-copy and seekable
 * (`gst-play-1.0 frames.store` plays a store).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 memmapsrc location=frames.store ! videoconvert ! autovideosink
 * ]| Plays a store at its recorded frame rate.
 * |[
 * gst-launch-1.0 memmapsrc location=frames.store start-frame=100 num-frames=100 ! videoconvert ! autovideosink
 * ]| Plays frames 100 to 199.
 * |[
 * gst-launch-1.0 memmapsrc location=camera.store follow=true ! videoconvert ! autovideosink
 * ]| Shows a recording that another process (a memmapsink pipeline) is
 * still writing, and ends when the recording ends.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapelements.h"
#include "gstmemmapcontext.h"
#include "gstmemmapuri.h"

#include <gst/base/gstbasesrc.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapvideo.h>

GST_DEBUG_CATEGORY_STATIC (gst_memmap_src_debug);
#define GST_CAT_DEFAULT gst_memmap_src_debug

#define DEFAULT_LOCATION NULL
#define DEFAULT_START_FRAME 0
#define DEFAULT_NUM_FRAMES -1
#define DEFAULT_LOOP FALSE
#define DEFAULT_FOLLOW FALSE

/* a follower is woken by the writer's commit; this is a safety net */
#define FOLLOW_WAIT_US (100 * 1000)

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_START_FRAME,
  PROP_NUM_FRAMES,
  PROP_LOOP,
  PROP_FOLLOW,
  PROP_STATS,
};

typedef struct
{
  gchar *location;
  guint64 start_frame;
  gint64 num_frames;
  gboolean loop;
  gboolean follow;
  gboolean file_uri;            /* location came as a file:// URI */
} Settings;

#define GST_TYPE_MEMMAP_SRC (gst_memmap_src_get_type ())
G_DECLARE_FINAL_TYPE (GstMemmapSrc, gst_memmap_src, GST, MEMMAP_SRC,
    GstBaseSrc)

struct _GstMemmapSrc
{
  GstBaseSrc parent;

  /* under the object lock: the properties, the engine, whether a store is
   * open, the counters and the position in frames */
  Settings settings;
  GstMemmapEngine *engine;
  gboolean running;
  guint64 frames_pushed;
  guint64 frames_zero_copy;
  guint64 frames_copied;
  guint64 frames_skipped;
  guint64 loops;
  guint64 position_frame;

  /* store_lock keeps the reader alive for the queries of other threads;
   * the streaming thread reads it without the lock (stop() runs after the
   * streaming thread stopped) */
  GMutex store_lock;
  Settings cur;
  GstMemmapStoreReader *reader;
  GstMemmapStoreSession *session;
  GError *open_error;           /* from READY->PAUSED, posted by start() */
  GstCaps *caps;
  GstVideoInfo info;            /* the store's layout */
  GstVideoInfo caps_info;       /* the caps' default layout */
  GstClockTime frame_duration;  /* from the frame rate, or NONE */
  guint64 generation;
  gboolean live;

  /* streaming thread */
  gboolean copy_layout;         /* downstream reads no video meta */
  guint64 next_frame;
  gboolean have_next;
  gboolean fix_start;           /* segment start before the first frame */
  gboolean discont;
  gboolean pushed_in_pass;
  GstClockTime last_pts;
  GstClockTime last_end;

  gint flushing;                /* atomic */
};

static void gst_memmap_src_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

G_DEFINE_TYPE_WITH_CODE (GstMemmapSrc, gst_memmap_src, GST_TYPE_BASE_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_memmap_src_uri_handler_init));
/* above filesrc (PRIMARY), so that a file:// URI of a store comes here
 * first; set_uri() refuses every other file (see the SECTION) */
GST_ELEMENT_REGISTER_DEFINE (memmapsrc, "memmapsrc", GST_RANK_PRIMARY + 1,
    GST_TYPE_MEMMAP_SRC);

static void gst_memmap_src_finalize (GObject * object);
static void gst_memmap_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_memmap_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);

static GstStateChangeReturn gst_memmap_src_change_state (GstElement *
    element, GstStateChange transition);
static void gst_memmap_src_set_context (GstElement * element,
    GstContext * context);

static gboolean gst_memmap_src_start (GstBaseSrc * bsrc);
static gboolean gst_memmap_src_stop (GstBaseSrc * bsrc);
static GstCaps *gst_memmap_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter);
static gboolean gst_memmap_src_decide_allocation (GstBaseSrc * bsrc,
    GstQuery * query);
static gboolean gst_memmap_src_is_seekable (GstBaseSrc * bsrc);
static gboolean gst_memmap_src_prepare_seek_segment (GstBaseSrc * bsrc,
    GstEvent * seek, GstSegment * segment);
static gboolean gst_memmap_src_do_seek (GstBaseSrc * bsrc,
    GstSegment * segment);
static gboolean gst_memmap_src_query (GstBaseSrc * bsrc, GstQuery * query);
static gboolean gst_memmap_src_unlock (GstBaseSrc * bsrc);
static gboolean gst_memmap_src_unlock_stop (GstBaseSrc * bsrc);
static GstFlowReturn gst_memmap_src_create (GstBaseSrc * bsrc,
    guint64 offset, guint size, GstBuffer ** buf);

static void
gst_memmap_src_class_init (GstMemmapSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstCaps *caps;

  gobject_class->finalize = gst_memmap_src_finalize;
  gobject_class->set_property = gst_memmap_src_set_property;
  gobject_class->get_property = gst_memmap_src_get_property;

  /**
   * GstMemmapSrc:location:
   *
   * The frame store file to read: a path, or a `file://` or `memmap://`
   * URI of one.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "File Location",
          "Location of the frame store file to read", DEFAULT_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSrc:start-frame:
   *
   * The first frame of the range to play (a frame number of the store,
   * counted from 0). Frames before it are outside the stream: seeks land
   * inside the range.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_START_FRAME,
      g_param_spec_uint64 ("start-frame", "Start frame",
          "First frame of the store to play", 0, G_MAXUINT64,
          DEFAULT_START_FRAME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSrc:num-frames:
   *
   * How many frames the range holds from #GstMemmapSrc:start-frame, or -1
   * for every frame to the end of the store. A range that goes past the
   * end is cut at the end.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_NUM_FRAMES,
      g_param_spec_int64 ("num-frames", "Number of frames",
          "Frames to play from start-frame (-1 = to the end)", -1,
          G_MAXINT64, DEFAULT_NUM_FRAMES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSrc:loop:
   *
   * At the end of the range, play it again from the start (or, playing
   * backwards, from the end). Every pass starts a new segment whose base is
   * the running time reached, so running time keeps increasing while the
   * buffers keep the store's timestamps. A seek's stop position still ends
   * the stream.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LOOP,
      g_param_spec_boolean ("loop", "Loop",
          "Play the range again and again", DEFAULT_LOOP,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSrc:follow:
   *
   * Keep serving frames that a writer is still committing: at the end of
   * what is committed, wait for the next frame; end the stream only once
   * the writer closed the store (or died). memmapsrc is a live source while
   * it follows a store that is open.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_FOLLOW,
      g_param_spec_boolean ("follow", "Follow",
          "Wait for the frames a writer still appends, like tail -f",
          DEFAULT_FOLLOW,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapSrc:stats:
   *
   * A `memmapsrc-stats` structure of #guint64 counters, reset when the
   * element goes to PAUSED:
   *
   * - `frames-pushed`: frames handed downstream
   * - `frames-zero-copy`: of those, frames that are memory of the store
   * - `frames-copied`: of those, frames copied (ring frames that could not
   *   be leased, or a layout that downstream cannot read without a video
   *   meta)
   * - `frames-skipped`: ring frames overwritten before they could be read
   * - `loops`: passes started again with #GstMemmapSrc:loop
   *
   * and `engine`, the stats of the #GstMemmapEngine the element uses (see
   * gst_memmap_engine_get_stats()).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Frames pushed, zero-copy, copied and skipped, and the engine's "
          "stats", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /* "Source/File", not "Source/Video": with its rank, autovideosrc would
   * take a "Source/Video" element for a camera */
  gst_element_class_set_static_metadata (element_class,
      "Memory-mapped frame store source", "Source/File",
      "Plays the frames of a frame store file without copying them, "
      "frame-accurate, recorded or still being written",
      "The gst-memmap developers");
  caps = gst_memmap_video_store_caps (TRUE);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_memmap_src_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_memmap_src_set_context);

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_memmap_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_memmap_src_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_memmap_src_get_caps);
  basesrc_class->decide_allocation =
      GST_DEBUG_FUNCPTR (gst_memmap_src_decide_allocation);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR (gst_memmap_src_is_seekable);
  basesrc_class->prepare_seek_segment =
      GST_DEBUG_FUNCPTR (gst_memmap_src_prepare_seek_segment);
  basesrc_class->do_seek = GST_DEBUG_FUNCPTR (gst_memmap_src_do_seek);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_memmap_src_query);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_memmap_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_memmap_src_unlock_stop);
  basesrc_class->create = GST_DEBUG_FUNCPTR (gst_memmap_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_memmap_src_debug, "memmapsrc", 0,
      "memmapsrc element");
}

static void
gst_memmap_src_init (GstMemmapSrc * self)
{
  self->settings.location = g_strdup (DEFAULT_LOCATION);
  self->settings.start_frame = DEFAULT_START_FRAME;
  self->settings.num_frames = DEFAULT_NUM_FRAMES;
  self->settings.loop = DEFAULT_LOOP;
  self->settings.follow = DEFAULT_FOLLOW;
  g_mutex_init (&self->store_lock);
  self->frame_duration = GST_CLOCK_TIME_NONE;

  /* frames are positioned in time: seeks, segments and positions are in
   * TIME; frame numbers (DEFAULT) are converted through the index */
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static void
clear_store (GstMemmapSrc * self)
{
  GstMemmapStoreReader *reader;
  GstMemmapStoreSession *session;
  GstCaps *caps;

  g_mutex_lock (&self->store_lock);
  reader = self->reader;
  session = self->session;
  caps = self->caps;
  self->reader = NULL;
  self->session = NULL;
  self->caps = NULL;
  g_mutex_unlock (&self->store_lock);

  /* buffers downstream keep their mappings, and their leases through the
   * session's references */
  g_clear_pointer (&reader, gst_memmap_store_reader_unref);
  g_clear_pointer (&session, gst_memmap_store_session_unref);
  gst_clear_caps (&caps);
  g_clear_error (&self->open_error);
}

static void
gst_memmap_src_finalize (GObject * object)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (object);

  clear_store (self);
  g_free (self->settings.location);
  g_free (self->cur.location);
  gst_clear_object (&self->engine);
  g_mutex_clear (&self->store_lock);

  G_OBJECT_CLASS (gst_memmap_src_parent_class)->finalize (object);
}

static void
gst_memmap_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (object);

  GST_OBJECT_LOCK (self);
  if (self->running) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("Changing the `%s' property on memmapsrc while a store is "
        "open is not supported.", pspec->name);
    return;
  }

  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->settings.location);
      self->settings.location =
          gst_memmap_uri_location_from_property (g_value_get_string (value),
          &self->settings.file_uri);
      break;
    case PROP_START_FRAME:
      self->settings.start_frame = g_value_get_uint64 (value);
      break;
    case PROP_NUM_FRAMES:
      self->settings.num_frames = g_value_get_int64 (value);
      break;
    case PROP_LOOP:
      self->settings.loop = g_value_get_boolean (value);
      break;
    case PROP_FOLLOW:
      self->settings.follow = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
gst_memmap_src_create_stats (GstMemmapSrc * self)
{
  GstMemmapEngine *engine;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("memmapsrc-stats",
      "frames-pushed", G_TYPE_UINT64, self->frames_pushed,
      "frames-zero-copy", G_TYPE_UINT64, self->frames_zero_copy,
      "frames-copied", G_TYPE_UINT64, self->frames_copied,
      "frames-skipped", G_TYPE_UINT64, self->frames_skipped,
      "loops", G_TYPE_UINT64, self->loops, NULL);
  engine = self->engine ? gst_object_ref (self->engine) : NULL;
  GST_OBJECT_UNLOCK (self);

  if (engine) {
    GstStructure *engine_stats = gst_memmap_engine_get_stats (engine);

    gst_structure_set (s, "engine", GST_TYPE_STRUCTURE, engine_stats, NULL);
    gst_structure_free (engine_stats);
    gst_object_unref (engine);
  }

  return s;
}

static void
gst_memmap_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (object);

  switch (prop_id) {
    case PROP_LOCATION:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->settings.location);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_START_FRAME:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->settings.start_frame);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_NUM_FRAMES:
      GST_OBJECT_LOCK (self);
      g_value_set_int64 (value, self->settings.num_frames);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_LOOP:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->settings.loop);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FOLLOW:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->settings.follow);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_memmap_src_create_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ------------------------------------------------------------------------ */
/* opening the store                                                        */

/* Opens the store of the current settings: the reader, the session and
 * what the stream needs to know. */
static gboolean
open_store (GstMemmapSrc * self, GError ** error)
{
  GstMemmapStoreReader *reader;
  GstMemmapStoreSession *session;
  GstMemmapEngine *engine;
  GstVideoInfo caps_info;
  GstCaps *caps;

  engine = gst_memmap_context_ensure_engine (GST_ELEMENT (self),
      &self->engine);
  reader = gst_memmap_store_reader_open (engine, self->cur.location, error);
  gst_object_unref (engine);
  if (reader == NULL)
    return FALSE;

  session = gst_memmap_store_session_new (reader, error);
  if (session == NULL) {
    gst_memmap_store_reader_unref (reader);
    return FALSE;
  }

  caps = gst_memmap_store_reader_get_caps (reader);
  /* the reader checked that the caps describe the frames */
  gst_video_info_from_caps (&caps_info, caps);

  g_mutex_lock (&self->store_lock);
  self->reader = reader;
  self->session = session;
  self->caps = caps;
  self->info = *gst_memmap_store_reader_get_layout (reader);
  self->caps_info = caps_info;
  if (GST_VIDEO_INFO_FPS_N (&caps_info) > 0)
    self->frame_duration = gst_util_uint64_scale_int (GST_SECOND,
        GST_VIDEO_INFO_FPS_D (&caps_info), GST_VIDEO_INFO_FPS_N (&caps_info));
  else
    self->frame_duration = GST_CLOCK_TIME_NONE;
  self->generation = gst_memmap_store_reader_get_generation (reader);
  self->live = self->cur.follow && !gst_memmap_store_reader_is_closed (reader);
  g_mutex_unlock (&self->store_lock);

  GST_INFO_OBJECT (self, "opened %s: %" GST_PTR_FORMAT ", %s, %"
      G_GUINT64_FORMAT " frames committed, %s, %s", self->cur.location, caps,
      gst_memmap_store_reader_get_mode (reader) == GST_MEMMAP_STORE_MODE_RING
      ? "ring" : "append", gst_memmap_store_reader_get_committed (reader),
      gst_memmap_store_reader_is_closed (reader) ? "closed" : "open",
      gst_memmap_store_session_has_lease (session) ? "leased" :
      "not leased");

  return TRUE;
}

/* Reports a failure to open the store, naming the file. */
static void
post_open_error (GstMemmapSrc * self, const GError * error)
{
  const gchar *location = self->cur.location;

  if (g_error_matches (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NOT_FOUND)) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No such frame store \"%s\".", location),
        ("%s: %s", location, error->message));
  } else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_VERSION)) {
    GST_ELEMENT_ERROR (self, STREAM, WRONG_TYPE,
        ("\"%s\" is a frame store of a format version this version of "
            "memmapsrc cannot read.", location),
        ("%s: %s", location, error->message));
  } else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_CORRUPT)) {
    GST_ELEMENT_ERROR (self, STREAM, WRONG_TYPE,
        ("\"%s\" is not a valid frame store.", location),
        ("%s: %s", location, error->message));
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not open the frame store \"%s\" for reading.", location),
        ("%s: %s", location, error->message));
  }
}

/* READY->PAUSED: take the settings and open the store, before the base
 * class starts: whether the source is live depends on the store's state.
 * A failure is posted by start(). */
static void
gst_memmap_src_begin_stream (GstMemmapSrc * self)
{
  GST_OBJECT_LOCK (self);
  g_free (self->cur.location);
  self->cur = self->settings;
  self->cur.location = g_strdup (self->settings.location);
  self->running = TRUE;
  self->frames_pushed = self->frames_zero_copy = self->frames_copied = 0;
  self->frames_skipped = self->loops = 0;
  self->position_frame = self->cur.start_frame;
  GST_OBJECT_UNLOCK (self);

  g_clear_error (&self->open_error);
  if (self->cur.location == NULL || self->cur.location[0] == '\0')
    return;
  if (!open_store (self, &self->open_error))
    return;

  GST_DEBUG_OBJECT (self, "%s source", self->live ? "live" : "non-live");
  gst_base_src_set_live (GST_BASE_SRC (self), self->live);
}

static void
gst_memmap_src_end_stream (GstMemmapSrc * self)
{
  clear_store (self);

  GST_OBJECT_LOCK (self);
  self->running = FALSE;
  GST_OBJECT_UNLOCK (self);
}

static GstStateChangeReturn
gst_memmap_src_change_state (GstElement * element, GstStateChange transition)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    gst_memmap_src_begin_stream (self);

  ret = GST_ELEMENT_CLASS (gst_memmap_src_parent_class)->change_state
      (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (ret == GST_STATE_CHANGE_FAILURE)
        gst_memmap_src_end_stream (self);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_memmap_src_end_stream (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:{
      GstMemmapEngine *engine;

      /* the next start asks for the engine again (a context set on the
       * element stays with GstElement) */
      GST_OBJECT_LOCK (self);
      engine = self->engine;
      self->engine = NULL;
      GST_OBJECT_UNLOCK (self);
      gst_clear_object (&engine);
      break;
    }
    default:
      break;
  }

  return ret;
}

static void
gst_memmap_src_set_context (GstElement * element, GstContext * context)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (element);

  gst_memmap_context_handle_set_context (element, context, &self->engine);

  GST_ELEMENT_CLASS (gst_memmap_src_parent_class)->set_context (element,
      context);
}

static gboolean
gst_memmap_src_start (GstBaseSrc * bsrc)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GError *error = NULL;

  if (self->cur.location == NULL || self->cur.location[0] == '\0')
    goto no_location;
  if (self->open_error) {
    error = self->open_error;
    self->open_error = NULL;
    goto open_failed;
  }
  /* GstBaseSrc starts only in push mode, from READY->PAUSED, which opened
   * the store */
  if (self->reader == NULL && !open_store (self, &error))
    goto open_failed;

  self->next_frame = self->cur.start_frame;
  self->have_next = TRUE;
  self->fix_start = FALSE;
  self->discont = FALSE;
  self->pushed_in_pass = FALSE;
  self->copy_layout = FALSE;
  self->last_pts = self->last_end = GST_CLOCK_TIME_NONE;
  g_atomic_int_set (&self->flushing, 0);

  return TRUE;

  /* ERRORS */
no_location:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No file name specified for reading."), (NULL));
    return FALSE;
  }
open_failed:
  {
    post_open_error (self, error);
    g_clear_error (&error);
    return FALSE;
  }
}

static gboolean
gst_memmap_src_stop (GstBaseSrc * bsrc)
{
  /* normally done at PAUSED->READY already */
  gst_memmap_src_end_stream (GST_MEMMAP_SRC (bsrc));

  return TRUE;
}

static GstCaps *
gst_memmap_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstCaps *caps = NULL, *ret;

  g_mutex_lock (&self->store_lock);
  if (self->caps)
    caps = gst_caps_ref (self->caps);
  g_mutex_unlock (&self->store_lock);

  if (caps == NULL)
    caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (bsrc));

  if (filter) {
    ret = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
  } else {
    ret = caps;
  }

  return ret;
}

static gboolean
gst_memmap_src_decide_allocation (GstBaseSrc * bsrc, GstQuery * query)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  gboolean video_meta;

  video_meta = gst_query_find_allocation_meta (query,
      GST_VIDEO_META_API_TYPE, NULL);
  /* a store may pad its rows: without the video meta downstream would
   * read them as pixels */
  self->copy_layout = !video_meta &&
      !gst_memmap_video_info_same_plane_layout (&self->info, &self->caps_info);
  GST_DEBUG_OBJECT (self, "downstream %s video meta: %s",
      video_meta ? "reads" : "does not read",
      self->copy_layout ? "frames are copied into the caps' layout" :
      "frames go as they are");

  /* the buffers are the store's memory: no pool to fill */
  while (gst_query_get_n_allocation_pools (query) > 0)
    gst_query_remove_nth_allocation_pool (query, 0);

  return GST_BASE_SRC_CLASS (gst_memmap_src_parent_class)->decide_allocation
      (bsrc, query);
}

/* ------------------------------------------------------------------------ */
/* frames and times                                                         */

/* The frames the stream may show now: [first, end). */
static void
get_range (GstMemmapSrc * self, guint64 * first, guint64 * end)
{
  guint64 committed = gst_memmap_store_reader_get_committed (self->reader);
  guint64 range_end = G_MAXUINT64;

  if (self->cur.num_frames >= 0 &&
      self->cur.start_frame <= G_MAXUINT64 - (guint64) self->cur.num_frames)
    range_end = self->cur.start_frame + self->cur.num_frames;

  *first = MAX (self->cur.start_frame,
      gst_memmap_store_reader_get_first_frame (self->reader));
  *end = MIN (range_end, committed);
}

static guint64
get_range_end (GstMemmapSrc * self)
{
  if (self->cur.num_frames >= 0 &&
      self->cur.start_frame <= G_MAXUINT64 - (guint64) self->cur.num_frames)
    return self->cur.start_frame + self->cur.num_frames;
  return G_MAXUINT64;
}

/* The timestamp and duration of @frame in the store; a frame stored
 * without them gets those of the frame rate. */
static gboolean
frame_times (GstMemmapSrc * self, guint64 frame, GstClockTime * pts,
    GstClockTime * duration, GError ** error)
{
  GstMemmapStoreEntry entry;

  if (!gst_memmap_store_reader_get_entry (self->reader, frame, &entry, error))
    return FALSE;

  *pts = entry.pts;
  if (!GST_CLOCK_TIME_IS_VALID (*pts) &&
      GST_CLOCK_TIME_IS_VALID (self->frame_duration))
    *pts = frame * self->frame_duration;
  *duration = entry.duration;
  if (!GST_CLOCK_TIME_IS_VALID (*duration))
    *duration = self->frame_duration;
  return TRUE;
}

static GstClockTime
end_time (GstClockTime pts, GstClockTime duration)
{
  if (!GST_CLOCK_TIME_IS_VALID (pts) || !GST_CLOCK_TIME_IS_VALID (duration))
    return pts;
  return pts + duration;
}

/* The last frame of [lo, hi) whose pts is <= @t (binary search of the
 * index: timestamps grow with the frame number). FALSE when there is none
 * or the index cannot be read. */
static gboolean
last_frame_at (GstMemmapSrc * self, GstClockTime t, guint64 lo, guint64 hi,
    guint64 * frame)
{
  GstClockTime pts, duration;

  if (lo >= hi || !frame_times (self, lo, &pts, &duration, NULL) ||
      !GST_CLOCK_TIME_IS_VALID (pts) || pts > t)
    return FALSE;

  /* pts (lo) <= t; look in (lo, hi) */
  while (hi - lo > 1) {
    guint64 mid = lo + (hi - lo) / 2;

    if (!frame_times (self, mid, &pts, &duration, NULL) ||
        !GST_CLOCK_TIME_IS_VALID (pts))
      return FALSE;
    if (pts <= t)
      lo = mid;
    else
      hi = mid;
  }
  *frame = lo;
  return TRUE;
}

/* The frame of [first, end) whose [pts, pts + duration) holds @t, or else
 * the first frame after @t; @end when none is. */
static gboolean
frame_at_time (GstMemmapSrc * self, GstClockTime t, guint64 first,
    guint64 end, guint64 * frame)
{
  GstClockTime pts, duration;
  guint64 f;

  if (first >= end) {
    *frame = end;
    return TRUE;
  }
  if (!last_frame_at (self, t, first, end, &f)) {
    /* before the first frame, or unreadable */
    if (!frame_times (self, first, &pts, &duration, NULL) ||
        !GST_CLOCK_TIME_IS_VALID (pts))
      return FALSE;
    *frame = first;
    return TRUE;
  }
  if (!frame_times (self, f, &pts, &duration, NULL))
    return FALSE;
  if (GST_CLOCK_TIME_IS_VALID (duration) && t >= pts + duration)
    f++;
  *frame = f;
  return TRUE;
}

/* The time of frame @frame of [first, end]: its pts, or for @end the end
 * of the last frame. */
static gboolean
time_of_frame (GstMemmapSrc * self, guint64 frame, guint64 first,
    guint64 end, GstClockTime * t)
{
  GstClockTime pts, duration;

  if (frame < first || frame > end || first >= end)
    return FALSE;
  if (frame < end)
    return frame_times (self, frame, t, &duration, NULL) &&
        GST_CLOCK_TIME_IS_VALID (*t);
  if (!frame_times (self, end - 1, &pts, &duration, NULL) ||
      !GST_CLOCK_TIME_IS_VALID (pts))
    return FALSE;
  *t = end_time (pts, duration);
  return TRUE;
}

/* The ring may drop frames while we look: search again a few times. */
#define INDEX_RETRIES 4

static gboolean
convert_frames (GstMemmapSrc * self, GstFormat src_format, gint64 src_value,
    GstFormat dest_format, gint64 * dest_value)
{
  guint64 first, end, frame;
  GstClockTime t;
  guint i;

  if (src_format == dest_format || src_value == -1) {
    *dest_value = src_value;
    return TRUE;
  }

  for (i = 0; i < INDEX_RETRIES; i++) {
    get_range (self, &first, &end);
    if (src_format == GST_FORMAT_DEFAULT && dest_format == GST_FORMAT_TIME) {
      if (time_of_frame (self, src_value, first, end, &t)) {
        *dest_value = t;
        return TRUE;
      }
      if ((guint64) src_value < first || (guint64) src_value > end)
        return FALSE;
    } else if (src_format == GST_FORMAT_TIME &&
        dest_format == GST_FORMAT_DEFAULT) {
      if (frame_at_time (self, src_value, first, end, &frame)) {
        *dest_value = frame;
        return TRUE;
      }
    } else {
      return FALSE;
    }
  }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* seeking                                                                  */

static gboolean
gst_memmap_src_is_seekable (GstBaseSrc * bsrc)
{
  return TRUE;
}

/* Seeks in frames (GST_FORMAT_DEFAULT): the frame numbers become the times
 * of those frames, so the segment stays in TIME. A position outside the
 * range goes to its nearest end. */
static gboolean
gst_memmap_src_prepare_seek_segment (GstBaseSrc * bsrc, GstEvent * seek,
    GstSegment * segment)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstSeekType start_type, stop_type;
  GstSeekFlags flags;
  GstFormat format;
  gint64 start, stop;
  guint64 first, end;
  GstClockTime start_time = GST_CLOCK_TIME_NONE, stop_time =
      GST_CLOCK_TIME_NONE;
  gdouble rate;
  gboolean ret = FALSE;

  gst_event_parse_seek (seek, &rate, &format, &flags, &start_type, &start,
      &stop_type, &stop);
  if (format != GST_FORMAT_DEFAULT)
    goto wrong_format;
  if ((start_type != GST_SEEK_TYPE_SET && start_type != GST_SEEK_TYPE_NONE)
      || (stop_type != GST_SEEK_TYPE_SET && stop_type != GST_SEEK_TYPE_NONE))
    goto relative;

  g_mutex_lock (&self->store_lock);
  if (self->reader == NULL) {
    g_mutex_unlock (&self->store_lock);
    return FALSE;
  }
  get_range (self, &first, &end);
  if (first < end) {
    if (start_type == GST_SEEK_TYPE_SET) {
      start = CLAMP ((guint64) MAX (start, 0), first, end);
      ret = time_of_frame (self, start, first, end, &start_time);
    } else {
      ret = TRUE;
    }
    if (ret && stop_type == GST_SEEK_TYPE_SET && stop != -1) {
      stop = CLAMP ((guint64) MAX (stop, 0), first, end);
      ret = time_of_frame (self, stop, first, end, &stop_time);
    }
  }
  g_mutex_unlock (&self->store_lock);
  if (!ret)
    goto no_frames;

  /* from the current segment, so that a non-flushing seek keeps the
   * running time going */
  GST_OBJECT_LOCK (self);
  gst_segment_copy_into (&bsrc->segment, segment);
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "frames %" G_GINT64_FORMAT " - %" G_GINT64_FORMAT
      " are %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT, start, stop,
      GST_TIME_ARGS (start_time), GST_TIME_ARGS (stop_time));
  return gst_segment_do_seek (segment, rate, GST_FORMAT_TIME, flags,
      start_type, start_time, stop_type, stop_time, NULL);

  /* ERRORS */
wrong_format:
  {
    GST_DEBUG_OBJECT (self, "cannot seek in %s", gst_format_get_name (format));
    return FALSE;
  }
relative:
  {
    GST_DEBUG_OBJECT (self, "relative seeks in frames are not supported");
    return FALSE;
  }
no_frames:
  {
    GST_DEBUG_OBJECT (self, "no frame to seek to");
    return FALSE;
  }
}

/* Where the stream continues after a seek: the frame that holds
 * segment.start (forwards), or the last frame before segment.stop
 * (backwards). */
static gboolean
gst_memmap_src_do_seek (GstBaseSrc * bsrc, GstSegment * segment)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstClockTime pts, duration, first_pts, stop;
  guint64 first, end, frame = 0;
  gboolean ok = FALSE;
  guint i;

  if (segment->format != GST_FORMAT_TIME)
    return FALSE;

  g_mutex_lock (&self->store_lock);
  if (self->reader == NULL) {
    g_mutex_unlock (&self->store_lock);
    return FALSE;
  }

  self->fix_start = FALSE;
  self->discont = TRUE;
  self->pushed_in_pass = FALSE;
  for (i = 0; i < INDEX_RETRIES && !ok; i++) {
    get_range (self, &first, &end);

    if (first >= end) {
      /* nothing yet (a followed store), or an empty range */
      frame = first;
      self->have_next = segment->rate > 0;
      self->fix_start = TRUE;
      ok = TRUE;
    } else if (segment->rate > 0) {
      if (!frame_times (self, first, &first_pts, &duration, NULL))
        continue;
      if (!GST_CLOCK_TIME_IS_VALID (first_pts)) {
        /* no timestamps: play from the range's start */
        frame = first;
      } else if (segment->start <= first_pts) {
        frame = first;
        /* the first frame runs at running time 0, not later */
        if (segment->start < first_pts &&
            (!GST_CLOCK_TIME_IS_VALID (segment->stop) ||
                segment->stop > first_pts))
          segment->start = segment->time = segment->position = first_pts;
      } else if (!frame_at_time (self, segment->start, first, end, &frame)) {
        continue;
      }
      self->have_next = TRUE;
      ok = TRUE;
    } else {
      /* backwards from the stop, which a reverse segment needs */
      if (!frame_times (self, end - 1, &pts, &duration, NULL))
        continue;
      stop = end_time (pts, duration);
      if (GST_CLOCK_TIME_IS_VALID (stop) &&
          (!GST_CLOCK_TIME_IS_VALID (segment->stop) || segment->stop > stop)) {
        segment->stop = stop;
        if (segment->start > stop)
          segment->start = stop;
        segment->position = stop;
      }
      if (!GST_CLOCK_TIME_IS_VALID (segment->stop) || segment->stop == 0) {
        self->have_next = FALSE;
      } else if (last_frame_at (self, segment->stop - 1, first, end,
              &frame)) {
        self->have_next = TRUE;
      } else {
        /* no frame before the stop */
        self->have_next = FALSE;
      }
      ok = TRUE;
    }
  }
  if (ok)
    self->next_frame = frame;
  g_mutex_unlock (&self->store_lock);

  if (!ok)
    goto bad_index;

  GST_OBJECT_LOCK (self);
  self->position_frame = frame;
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "seek to %" GST_SEGMENT_FORMAT ": %s frame %"
      G_GUINT64_FORMAT, segment, self->have_next ? "from" : "nothing at",
      frame);
  return TRUE;

  /* ERRORS */
bad_index:
  {
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("The index of the frame store \"%s\" cannot be read.",
            self->cur.location),
        ("%s: no valid index entries around frames %" G_GUINT64_FORMAT
            " - %" G_GUINT64_FORMAT " to seek to %" GST_SEGMENT_FORMAT,
            self->cur.location, first, end, segment));
    return FALSE;
  }
}

/* ------------------------------------------------------------------------ */
/* queries                                                                  */

static gboolean
gst_memmap_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  guint64 first, end;
  GstFormat format;
  gboolean ret = FALSE;

  if (gst_memmap_context_handle_query (GST_ELEMENT (self), query,
          &self->engine))
    return TRUE;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_DURATION:{
      GstClockTime t;
      gint64 duration = -1;

      gst_query_parse_duration (query, &format, NULL);
      if (format != GST_FORMAT_TIME && format != GST_FORMAT_DEFAULT)
        break;
      g_mutex_lock (&self->store_lock);
      if (self->reader) {
        /* the end of the range, in store positions: a followed store's
         * duration grows */
        get_range (self, &first, &end);
        if (first >= end)
          duration = -1;
        else if (format == GST_FORMAT_DEFAULT)
          duration = end;
        else if (time_of_frame (self, end, first, end, &t))
          duration = t;
        ret = TRUE;
      }
      g_mutex_unlock (&self->store_lock);
      if (ret)
        gst_query_set_duration (query, format, duration);
      break;
    }
    case GST_QUERY_POSITION:
      gst_query_parse_position (query, &format, NULL);
      if (format != GST_FORMAT_DEFAULT)
        return GST_BASE_SRC_CLASS (gst_memmap_src_parent_class)->query (bsrc,
            query);
      GST_OBJECT_LOCK (self);
      ret = self->running;
      if (ret)
        gst_query_set_position (query, GST_FORMAT_DEFAULT,
            self->position_frame);
      GST_OBJECT_UNLOCK (self);
      break;
    case GST_QUERY_CONVERT:{
      GstFormat src_format, dest_format;
      gint64 src_value, dest_value;

      gst_query_parse_convert (query, &src_format, &src_value, &dest_format,
          NULL);
      g_mutex_lock (&self->store_lock);
      if (self->reader)
        ret = convert_frames (self, src_format, src_value, dest_format,
            &dest_value);
      else if (src_format == dest_format)
        ret = TRUE, dest_value = src_value;
      g_mutex_unlock (&self->store_lock);
      if (ret)
        gst_query_set_convert (query, src_format, src_value, dest_format,
            dest_value);
      break;
    }
    case GST_QUERY_SEEKING:{
      GstClockTime t0 = GST_CLOCK_TIME_NONE, t1 = GST_CLOCK_TIME_NONE;
      gint64 seg_start = -1, seg_end = -1;

      gst_query_parse_seeking (query, &format, NULL, NULL, NULL);
      if (format != GST_FORMAT_TIME && format != GST_FORMAT_DEFAULT)
        break;
      g_mutex_lock (&self->store_lock);
      if (self->reader) {
        get_range (self, &first, &end);
        if (format == GST_FORMAT_DEFAULT && first < end) {
          seg_start = first;
          seg_end = end;
        } else if (time_of_frame (self, first, first, end, &t0) &&
            time_of_frame (self, end, first, end, &t1)) {
          seg_start = t0;
          seg_end = t1;
        }
      }
      g_mutex_unlock (&self->store_lock);
      gst_query_set_seeking (query, format, TRUE, seg_start, seg_end);
      ret = TRUE;
      break;
    }
    case GST_QUERY_FORMATS:
      gst_query_set_formats (query, 2, GST_FORMAT_TIME, GST_FORMAT_DEFAULT);
      ret = TRUE;
      break;
    case GST_QUERY_SCHEDULING:
      /* push mode only, seekable. GstBaseSrc would start the element to
       * answer, also in READY before the settings were taken */
      gst_query_set_scheduling (query, GST_SCHEDULING_FLAG_SEEKABLE, 1, -1,
          0);
      gst_query_add_scheduling_mode (query, GST_PAD_MODE_PUSH);
      ret = TRUE;
      break;
    case GST_QUERY_LATENCY:{
      GstClockTime min;
      gboolean live;

      g_mutex_lock (&self->store_lock);
      live = self->live;
      min = GST_CLOCK_TIME_IS_VALID (self->frame_duration) ?
          self->frame_duration : 0;
      g_mutex_unlock (&self->store_lock);
      if (!live)
        return GST_BASE_SRC_CLASS (gst_memmap_src_parent_class)->query (bsrc,
            query);
      /* a frame is there at most one frame after its timestamp (the
       * writer commits it when it is complete); we never drop any, so
       * downstream may buffer as much as it likes */
      gst_query_set_latency (query, TRUE, min, GST_CLOCK_TIME_NONE);
      ret = TRUE;
      break;
    }
    default:
      ret = GST_BASE_SRC_CLASS (gst_memmap_src_parent_class)->query (bsrc,
          query);
      break;
  }

  return ret;
}

/* ------------------------------------------------------------------------ */
/* streaming                                                                */

static gboolean
gst_memmap_src_unlock (GstBaseSrc * bsrc)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstMemmapStoreSession *session = NULL;

  GST_LOG_OBJECT (self, "unlock");
  g_atomic_int_set (&self->flushing, 1);
  g_mutex_lock (&self->store_lock);
  if (self->session)
    session = gst_memmap_store_session_ref (self->session);
  g_mutex_unlock (&self->store_lock);
  if (session) {
    gst_memmap_store_session_interrupt (session);
    gst_memmap_store_session_unref (session);
  }

  return TRUE;
}

static gboolean
gst_memmap_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstMemmapStoreSession *session = NULL;

  GST_LOG_OBJECT (self, "unlock stop");
  g_atomic_int_set (&self->flushing, 0);
  g_mutex_lock (&self->store_lock);
  if (self->session)
    session = gst_memmap_store_session_ref (self->session);
  g_mutex_unlock (&self->store_lock);
  if (session) {
    gst_memmap_store_session_resume (session);
    gst_memmap_store_session_unref (session);
  }

  return TRUE;
}

/* A copy of @in in the caps' default layout, for a downstream that reads
 * no video meta. */
static GstBuffer *
copy_to_caps_layout (GstMemmapSrc * self, GstBuffer * in)
{
  GstVideoFrame src, dst;
  GstBuffer *out;
  gboolean ok;

  out = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&self->caps_info),
      NULL);
  if (!gst_video_frame_map (&src, &self->info, in, GST_MAP_READ))
    goto failed;
  if (!gst_video_frame_map (&dst, &self->caps_info, out, GST_MAP_WRITE)) {
    gst_video_frame_unmap (&src);
    goto failed;
  }
  ok = gst_video_frame_copy (&dst, &src);
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  if (!ok)
    goto failed;
  gst_buffer_copy_into (out, in, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  gst_buffer_unref (in);
  return out;

failed:
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  return NULL;
}

/* Reports a frame or an index entry that cannot be read, naming the
 * file. */
static void
post_read_error (GstMemmapSrc * self, guint64 frame, const GError * error)
{
  if (g_error_matches (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT))
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("The frame store \"%s\" is corrupt.", self->cur.location),
        ("%s: %s", self->cur.location, error->message));
  else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED) &&
      gst_memmap_store_reader_is_damaged (self->reader))
    /* its writer found it cut short and marked it */
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The frame store \"%s\" was truncated by another program while it "
            "was being written.", self->cur.location),
        ("%s: %s", self->cur.location, error->message));
  else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED))
    /* frames already downstream may have read zeros where the lost pages
     * were: say so, and stop */
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The frame store \"%s\" was truncated by another program while it "
            "was being read.", self->cur.location),
        ("%s: %s (frames pushed before this one may hold zeros where the "
            "file's bytes were)", self->cur.location, error->message));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not read frame %" G_GUINT64_FORMAT " of the frame store "
            "\"%s\".", frame, self->cur.location),
        ("%s: %s", self->cur.location, error->message));
}

/* TRUE if @error says that ring frame @frame left the ring before it could
 * be read. The writer rewrites the oldest frame's index entry just before
 * it moves the committed counter, so for that moment the frame being
 * overwritten is still the first one by the counter: the entry (a newer
 * frame's sequence) says it is gone, and only the ring's oldest frame can
 * fail that way (a frame not yet committed is above the counter). */
static gboolean
frame_left_ring (GstMemmapSrc * self, guint64 frame, const GError * error)
{
  return g_error_matches (error, GST_MEMMAP_ERROR,
      GST_MEMMAP_ERROR_INVALID_ARGUMENT) &&
      gst_memmap_store_reader_get_mode (self->reader) ==
      GST_MEMMAP_STORE_MODE_RING &&
      frame <= gst_memmap_store_reader_get_first_frame (self->reader);
}

typedef enum
{
  FRAME_OK,
  FRAME_GONE,                   /* overwritten in the ring meanwhile */
  FRAME_ERROR,
} FrameResult;

/* Frame @frame as the buffer to push. */
static FrameResult
get_frame (GstMemmapSrc * self, guint64 frame, GstClockTime pts,
    GstClockTime duration, GstBuffer ** out)
{
  GstBuffer *buf;
  GError *error = NULL;
  gboolean copied = FALSE;

  buf = gst_memmap_store_session_get_buffer (self->session, self->reader,
      NULL, frame, &copied, &error);
  if (buf == NULL)
    goto no_buffer;

  if (self->copy_layout) {
    buf = copy_to_caps_layout (self, buf);
    if (buf == NULL)
      goto copy_failed;
    copied = TRUE;
  }

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  if (self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }

  GST_OBJECT_LOCK (self);
  self->frames_pushed++;
  if (copied)
    self->frames_copied++;
  else
    self->frames_zero_copy++;
  GST_OBJECT_UNLOCK (self);

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT
      "%s", frame, GST_TIME_ARGS (pts), copied ? " (copied)" : "");
  *out = buf;
  return FRAME_OK;

  /* ERRORS */
no_buffer:
  {
    if (frame_left_ring (self, frame, error)) {
      GST_DEBUG_OBJECT (self, "%s", error->message);
      g_clear_error (&error);
      return FRAME_GONE;
    }
    post_read_error (self, frame, error);
    g_clear_error (&error);
    return FRAME_ERROR;
  }
copy_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not copy frame %" G_GUINT64_FORMAT " of the frame store "
            "\"%s\".", frame, self->cur.location),
        ("%s: the frame does not map as %s", self->cur.location,
            GST_VIDEO_INFO_NAME (&self->info)));
    return FRAME_ERROR;
  }
}

static void
count_skipped (GstMemmapSrc * self, guint64 n)
{
  GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " ring frames were "
      "overwritten before they could be read", n);
  GST_OBJECT_LOCK (self);
  self->frames_skipped += n;
  GST_OBJECT_UNLOCK (self);
  self->discont = TRUE;
}

/* loop=true: starts the range again, in a new segment whose base is the
 * running time reached. FALSE: the stream ends. */
static gboolean
start_next_pass (GstMemmapSrc * self, GstSegment * segment)
{
  GstBaseSrc *bsrc = GST_BASE_SRC (self);
  GstClockTime reached;
  guint64 first, end, frame;

  if (!self->cur.loop || !self->pushed_in_pass)
    return FALSE;

  reached = segment->rate > 0 ? self->last_end : self->last_pts;
  if (!GST_CLOCK_TIME_IS_VALID (reached))
    return FALSE;

  get_range (self, &first, &end);
  if (first >= end)
    return FALSE;

  if (segment->rate > 0) {
    GstClockTime pts, duration;

    if (!frame_times (self, first, &pts, &duration, NULL))
      return FALSE;
    frame = first;
    segment->base = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
        reached);
    if (GST_CLOCK_TIME_IS_VALID (pts))
      segment->start = segment->time = segment->position = pts;
    self->have_next = TRUE;
  } else {
    segment->base = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
        reached);
    segment->position = segment->stop;
    if (!GST_CLOCK_TIME_IS_VALID (segment->stop) ||
        !last_frame_at (self, segment->stop - 1, first, end, &frame))
      return FALSE;
    self->have_next = TRUE;
  }
  if (!GST_CLOCK_TIME_IS_VALID (segment->base))
    return FALSE;

  gst_base_src_new_segment (bsrc, segment);
  self->next_frame = frame;
  self->pushed_in_pass = FALSE;
  self->discont = TRUE;
  GST_OBJECT_LOCK (self);
  self->loops++;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "loop: again from frame %" G_GUINT64_FORMAT
      ", %" GST_SEGMENT_FORMAT, frame, segment);
  return TRUE;
}

/* Posts the error of a store cut short by another program (or marked
 * damaged by its writer), saying which, as the reader found it. */
static GstFlowReturn
post_truncated (GstMemmapSrc * self)
{
  GError *error = NULL;

  if (!gst_memmap_store_reader_check (self->reader, &error)) {
    post_read_error (self, self->next_frame, error);
    g_clear_error (&error);
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The frame store \"%s\" was truncated by another program.",
            self->cur.location), ("%s", self->cur.location));
  }
  return GST_FLOW_ERROR;
}

/* Following a store at its end: waits for the next commit (or the close).
 * GST_FLOW_OK to look again. */
static GstFlowReturn
follow_wait (GstMemmapSrc * self, guint64 committed)
{
  switch (gst_memmap_store_session_wait (self->session, committed,
          FOLLOW_WAIT_US)) {
    case GST_MEMMAP_STORE_WAIT_INTERRUPTED:
      return GST_FLOW_FLUSHING;
    case GST_MEMMAP_STORE_WAIT_TIMEOUT:
      /* nothing came: a file cut short wakes nobody */
      if (!gst_memmap_store_reader_check (self->reader, NULL))
        return post_truncated (self);
      return GST_FLOW_OK;
    default:
      return GST_FLOW_OK;
  }
}

static GstFlowReturn
gst_memmap_src_create (GstBaseSrc * bsrc, guint64 offset, guint size,
    GstBuffer ** buf)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstClockTime pts = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;
  GstSegment segment;
  guint64 n, first, committed;
  GstBuffer *out = NULL;
  GError *error = NULL;
  gboolean forward;

  GST_OBJECT_LOCK (self);
  gst_segment_copy_into (&bsrc->segment, &segment);
  GST_OBJECT_UNLOCK (self);
  forward = segment.rate > 0;

  while (TRUE) {
    if (g_atomic_int_get (&self->flushing))
      return GST_FLOW_FLUSHING;
    if (gst_memmap_store_reader_get_generation (self->reader) !=
        self->generation)
      goto reused;
    if (gst_memmap_store_reader_is_damaged (self->reader))
      return post_truncated (self);

    n = self->next_frame;
    if (forward) {
      if (n >= get_range_end (self))
        goto range_done;
      committed = gst_memmap_store_reader_get_committed (self->reader);
      if (n >= committed) {
        if (self->cur.follow &&
            gst_memmap_store_session_writer_alive (self->session)) {
          GstFlowReturn waited = follow_wait (self, committed);

          if (waited != GST_FLOW_OK)
            return waited;
          continue;
        }
        /* closed (or its writer died): the last commits came before */
        if (n < gst_memmap_store_reader_get_committed (self->reader))
          continue;
        goto range_done;
      }
      first = gst_memmap_store_reader_get_first_frame (self->reader);
      if (n < first) {
        count_skipped (self, first - n);
        self->next_frame = first;
        continue;
      }
    } else {
      first = MAX (self->cur.start_frame,
          gst_memmap_store_reader_get_first_frame (self->reader));
      if (!self->have_next || n < first)
        goto range_done;
    }

    if (!frame_times (self, n, &pts, &duration, &error)) {
      if (n >= gst_memmap_store_reader_get_first_frame (self->reader) &&
          !frame_left_ring (self, n, error))
        goto read_failed;
      /* overwritten meanwhile: the ring moved on */
      g_clear_error (&error);
      if (!forward)
        goto range_done;
      continue;
    }

    if (forward) {
      if (GST_CLOCK_TIME_IS_VALID (segment.stop) &&
          GST_CLOCK_TIME_IS_VALID (pts) && pts >= segment.stop)
        return GST_FLOW_EOS;
      /* a frame that ends before the segment starts (a followed store
       * that reached a seek position beyond its end) */
      if (GST_CLOCK_TIME_IS_VALID (pts) &&
          GST_CLOCK_TIME_IS_VALID (duration) &&
          GST_CLOCK_TIME_IS_VALID (segment.start) && !self->fix_start &&
          pts + duration <= segment.start) {
        self->next_frame = n + 1;
        continue;
      }
    } else if (GST_CLOCK_TIME_IS_VALID (pts) &&
        GST_CLOCK_TIME_IS_VALID (duration) &&
        pts + duration <= segment.start) {
      goto range_done;
    }

    switch (get_frame (self, n, pts, duration, &out)) {
      case FRAME_OK:
        break;
      case FRAME_GONE:
        if (!forward)
          goto range_done;
        continue;
      case FRAME_ERROR:
        return GST_FLOW_ERROR;
    }
    break;
  }

  if (forward) {
    self->next_frame = n + 1;
  } else {
    self->have_next = n > 0;
    self->next_frame = n > 0 ? n - 1 : 0;
  }
  self->pushed_in_pass = TRUE;
  self->last_pts = pts;
  self->last_end = end_time (pts, duration);
  GST_OBJECT_LOCK (self);
  self->position_frame = forward ? n + 1 : n;
  GST_OBJECT_UNLOCK (self);

  /* the seek came before the first frame existed: the segment starts at
   * that frame, so that it plays at running time 0 */
  if (self->fix_start) {
    self->fix_start = FALSE;
    if (forward && GST_CLOCK_TIME_IS_VALID (pts) && segment.start < pts &&
        (!GST_CLOCK_TIME_IS_VALID (segment.stop) || segment.stop > pts)) {
      segment.start = segment.time = segment.position = pts;
      gst_base_src_new_segment (bsrc, &segment);
    }
  }

  *buf = out;
  return GST_FLOW_OK;

range_done:
  /* a store cut short is not at its end */
  if (!gst_memmap_store_reader_check (self->reader, NULL))
    return post_truncated (self);
  if (start_next_pass (self, &segment))
    return gst_memmap_src_create (bsrc, offset, size, buf);
  GST_DEBUG_OBJECT (self, "end of the range at frame %" G_GUINT64_FORMAT, n);
  return GST_FLOW_EOS;

read_failed:
  post_read_error (self, n, error);
  g_clear_error (&error);
  return GST_FLOW_ERROR;

reused:
  /* a header cut off the file reads zeros, a generation of 0 among them:
   * that is a truncation, not a new recording */
  if (!gst_memmap_store_reader_check (self->reader, NULL))
    return post_truncated (self);
  GST_ELEMENT_ERROR (self, RESOURCE, READ,
      ("The frame store \"%s\" was overwritten by a new recording.",
          self->cur.location),
      ("%s: generation %" G_GUINT64_FORMAT " became %" G_GUINT64_FORMAT,
          self->cur.location, self->generation,
          gst_memmap_store_reader_get_generation (self->reader)));
  return GST_FLOW_ERROR;
}

/* ------------------------------------------------------------------------ */
/* GstURIHandler                                                            */

static GstURIType
gst_memmap_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
gst_memmap_src_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { GST_MEMMAP_URI_SCHEME, "file", NULL };

  return protocols;
}

static gchar *
gst_memmap_src_uri_get_uri (GstURIHandler * handler)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (handler);
  gchar *uri;

  GST_OBJECT_LOCK (self);
  uri = gst_memmap_uri_from_location (self->settings.location,
      self->settings.file_uri ? "file" : GST_MEMMAP_URI_SCHEME);
  GST_OBJECT_UNLOCK (self);

  return uri;
}

/* memmap:// takes any path (a store that does not exist yet fails at
 * READY->PAUSED as a location does); file:// only a file that is a store
 * now, so that the next handler of file://, filesrc, gets the others. */
static gboolean
gst_memmap_src_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (handler);
  gboolean file_uri = gst_uri_has_protocol (uri, "file");
  GError *err = NULL;
  gchar *location;

  location = gst_memmap_uri_to_location (uri, error);
  if (location == NULL)
    return FALSE;
  if (file_uri && !gst_memmap_uri_file_is_store (location, &err))
    goto not_a_store;

  GST_OBJECT_LOCK (self);
  if (self->running)
    goto running;
  g_free (self->settings.location);
  self->settings.location = location;
  self->settings.file_uri = file_uri;
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "URI %s: %s", uri, location);
  g_object_notify (G_OBJECT (self), "location");
  return TRUE;

  /* ERRORS */
not_a_store:
  {
    GST_DEBUG_OBJECT (self, "not for us: %s", err->message);
    g_propagate_error (error, err);
    g_free (location);
    return FALSE;
  }
running:
  {
    GST_OBJECT_UNLOCK (self);
    g_free (location);
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "Changing the URI of memmapsrc while a store is open is not "
        "supported");
    return FALSE;
  }
}

static void
gst_memmap_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = (GstURIHandlerInterface *) g_iface;

  iface->get_type = gst_memmap_src_uri_get_type;
  iface->get_protocols = gst_memmap_src_uri_get_protocols;
  iface->get_uri = gst_memmap_src_uri_get_uri;
  iface->set_uri = gst_memmap_src_uri_set_uri;
}
