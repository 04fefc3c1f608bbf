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
#include "gstmemmapsrcprivate.h"
#include "gstmemmapuri.h"

#include <gst/base/gstbasesrc.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapvideo.h>

GST_DEBUG_CATEGORY (gst_memmap_src_debug);
#define GST_CAT_DEFAULT gst_memmap_src_debug

#define DEFAULT_LOCATION NULL
#define DEFAULT_START_FRAME 0
#define DEFAULT_NUM_FRAMES -1
#define DEFAULT_LOOP FALSE
#define DEFAULT_FOLLOW FALSE

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
static gboolean gst_memmap_src_query (GstBaseSrc * bsrc, GstQuery * query);

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

  gst_memmap_context_add_engine_stats (s, engine);

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

  engine = gst_memmap_context_ensure_engine (GST_ELEMENT (self), &self->engine);
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
      gst_memmap_store_session_has_lease (session) ? "leased" : "not leased");

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
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_memmap_context_forget_engine (element, &self->engine);
      break;
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
/* queries                                                                  */

static gboolean
gst_memmap_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstFormat format;
  gboolean ret = FALSE;

  if (gst_memmap_context_handle_query (GST_ELEMENT (self), query,
          &self->engine))
    return TRUE;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_DURATION:
      ret = gst_memmap_src_query_duration (self, query);
      break;
    case GST_QUERY_CONVERT:
      ret = gst_memmap_src_query_convert (self, query);
      break;
    case GST_QUERY_SEEKING:
      ret = gst_memmap_src_query_seeking (self, query);
      break;
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
    case GST_QUERY_FORMATS:
      gst_query_set_formats (query, 2, GST_FORMAT_TIME, GST_FORMAT_DEFAULT);
      ret = TRUE;
      break;
    case GST_QUERY_SCHEDULING:
      /* push mode only, seekable. GstBaseSrc would start the element to
       * answer, also in READY before the settings were taken */
      gst_query_set_scheduling (query, GST_SCHEDULING_FLAG_SEEKABLE, 1, -1, 0);
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
