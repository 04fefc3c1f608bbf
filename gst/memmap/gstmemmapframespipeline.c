/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pipeline of a recording of gst_memmap_map_video_frames():
 * uridecodebin ! videoconvert ! [capsfilter] ! memmapcache ! fakesink,
 * the frames taken by a probe on the fakesink (see
 * gstmemmapframesrecording.h; the calls that share it are in
 * gstmemmapframesrecording.c).
 *
 * This is the one place where the library uses the plugin: it builds
 * `memmapcache` (and GStreamer's own elements) by factory name at run time,
 * so the frames API works only where the memmap plugin is installed (or
 * GST_PLUGIN_PATH names it); without it the call fails with
 * GST_CORE_ERROR_MISSING_PLUGIN. There is no link-time dependency in
 * either direction: the plugin links the library, the library finds the
 * plugin through the registry. See docs/design.md, "Layers".
 *
 * Threads: the probes run in the pipeline's streaming threads and only
 * take the recording's lock; they block (on its GCond) while the first
 * frame is held for the seek and once the recording reached its goal. A
 * flush, the stop and a raised goal wake them. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"
#include "gstmemmapframesrecording.h"
#include "gstmemmapvideo.h"

#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* The hash of the memmapcache entry a store path is in, or NULL. */
static gchar *
entry_hash_of (const gchar * store_path)
{
  gchar *dir = g_path_get_dirname (store_path);
  gchar *hash = g_path_get_basename (dir);

  g_free (dir);
  if (!gst_memmap_cache_is_hash_name (hash))
    g_clear_pointer (&hash, g_free);
  return hash;
}

/* Before the first frame is kept: the layout of the frames is that of a
 * first frame of a store, whose slots may be padded for the decoder that
 * rendered into them (docs/design.md, "Decoding into the slots"), so that
 * every frame of that store is kept as it is. */
static void
adopt_store_layout (GstMemmapRecording * r, GstBuffer * buf)
{
  GstVideoMeta *meta = gst_buffer_get_video_meta (buf);
  guint p;

  if (r->buffers->len > 0 || meta == NULL ||
      !gst_memmap_frames_store_path_of (buf) ||
      meta->format != GST_VIDEO_INFO_FORMAT (&r->info) ||
      meta->width != (guint) GST_VIDEO_INFO_WIDTH (&r->info) ||
      meta->height != (guint) GST_VIDEO_INFO_HEIGHT (&r->info) ||
      meta->n_planes != GST_VIDEO_INFO_N_PLANES (&r->info))
    return;
  for (p = 0; p < meta->n_planes; p++) {
    GST_VIDEO_INFO_PLANE_OFFSET (&r->info, p) = meta->offset[p];
    GST_VIDEO_INFO_PLANE_STRIDE (&r->info, p) = meta->stride[p];
  }
  GST_VIDEO_INFO_SIZE (&r->info) = gst_buffer_get_size (buf);
}

/* A buffer laid out as r->info: @buf itself when it is, else a copy. */
static GstBuffer *
keep_buffer (GstMemmapRecording * r, GstBuffer * buf)
{
  GstVideoFrame src, dst;
  GstBuffer *copy;

  adopt_store_layout (r, buf);
  if (gst_memmap_frames_store_path_of (buf)
      && gst_memmap_frames_buffer_has_layout (buf, &r->info))
    return gst_buffer_ref (buf);

  r->copied++;
  copy = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&r->info), NULL);
  if (!gst_video_frame_map (&src, &r->info, buf, GST_MAP_READ)) {
    gst_buffer_unref (copy);
    return NULL;
  }
  gst_video_frame_map (&dst, &r->info, copy, GST_MAP_WRITE);
  gst_video_frame_copy (&dst, &src);
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  gst_buffer_copy_into (copy, buf, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  return copy;
}

/* Notes whether @buf starts where the frame before ended (within half a
 * frame, as memmapcache counts runs) and which cache entry it is in. */
static void
note_follows (GstMemmapRecording * r, GstBuffer * buf)
{
  const gchar *path;

  if (GST_BUFFER_PTS_IS_VALID (buf) && GST_BUFFER_DURATION_IS_VALID (buf)) {
    GstClockTime pts = GST_BUFFER_PTS (buf), half = GST_BUFFER_DURATION (buf)
        / 2;

    if (GST_CLOCK_TIME_IS_VALID (r->prev_end) && (pts > r->prev_end + half ||
            pts + half < r->prev_end)) {
      GST_INFO ("%s: frame at %" GST_TIME_FORMAT " does not follow the "
          "frame before, which ended at %" GST_TIME_FORMAT, r->input,
          GST_TIME_ARGS (pts), GST_TIME_ARGS (r->prev_end));
      r->gap = TRUE;
    }
    r->prev_end = pts + GST_BUFFER_DURATION (buf);
  } else {
    r->prev_end = GST_CLOCK_TIME_NONE;
  }

  path = gst_memmap_frames_store_path_of (buf);
  if (path == NULL) {
    r->one_entry = FALSE;
  } else if (r->one_entry) {
    gchar *hash = entry_hash_of (path);

    if (hash == NULL || (r->entry_hash && strcmp (hash, r->entry_hash))) {
      r->one_entry = FALSE;
      g_free (hash);
    } else if (r->entry_hash == NULL) {
      r->entry_hash = hash;
    } else {
      g_free (hash);
    }
  }
}

/* The layout: taken from the first frame, and while no frame is kept from
 * any later caps; FALSE for a change under kept frames. */
static gboolean
note_caps (GstMemmapRecording * r, GstPad * pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean ok = TRUE;

  if (caps != NULL && (r->caps == NULL || (caps != r->caps &&
              !gst_caps_is_equal (caps, r->caps)))) {
    GstVideoInfo vinfo;

    if (!gst_video_info_from_caps (&vinfo, caps) ||
        (r->buffers->len > 0
            && !gst_memmap_video_info_same_picture (&vinfo, &r->info))) {
      ok = FALSE;
    } else if (r->buffers->len == 0) {
      r->info = vinfo;
      gst_caps_replace (&r->caps, caps);
    }
  }
  gst_clear_caps (&caps);
  return ok;
}

/* The frame number of @pts on the grid pts0 + k / framerate; FALSE when
 * it is not on it (within the container's rounding,
 * GST_MEMMAP_FRAMES_GRID_TOLERANCE). */
static gboolean
grid_k (GstMemmapRecording * r, GstClockTime pts, guint64 * k_out)
{
  gint n = GST_VIDEO_INFO_FPS_N (&r->info), d = GST_VIDEO_INFO_FPS_D (&r->info);
  GstClockTime expected;
  guint64 k;

  if (!GST_CLOCK_TIME_IS_VALID (pts) || pts < r->pts0 || n <= 0 || d <= 0)
    return FALSE;
  k = gst_util_uint64_scale_round (pts - r->pts0, n, GST_SECOND * d);
  expected = r->pts0 + gst_util_uint64_scale_round (k, GST_SECOND * d, n);
  if ((pts > expected ? pts - expected : expected - pts) >
      GST_MEMMAP_FRAMES_GRID_TOLERANCE) {
    GST_INFO ("%s: frame at %" GST_TIME_FORMAT " is not on the frame grid "
        "(frame %" G_GUINT64_FORMAT " would be at %" GST_TIME_FORMAT ")",
        r->input, GST_TIME_ARGS (pts), k, GST_TIME_ARGS (expected));
    return FALSE;
  }
  *k_out = k;
  return TRUE;
}

/* After a seek: whether the frame at @pts, numbered @k on the grid,
 * follows the frame before it (kept, or decoded before the window). */
static gboolean
grid_follows (GstMemmapRecording * r, guint64 k)
{
  guint64 prev = r->base != G_MAXUINT64 ? r->base + r->buffers->len - 1 :
      r->lead_k;

  if (prev != G_MAXUINT64 && k != prev + 1) {
    GST_INFO ("%s: frame %" G_GUINT64_FORMAT " after frame %" G_GUINT64_FORMAT
        ": frames are missing or repeated", r->input, k, prev);
    return FALSE;
  }
  return TRUE;
}

/* After a seek: numbers @buf by the grid (the first one sets r->base);
 * FALSE when it is off the grid or does not follow the frame before. */
static gboolean
grid_number (GstMemmapRecording * r, GstBuffer * buf)
{
  guint64 k;

  if (!grid_k (r, GST_BUFFER_PTS (buf), &k) || !grid_follows (r, k))
    return FALSE;
  if (r->base == G_MAXUINT64) {
    r->base = k;
    GST_DEBUG ("%s: first frame after the seek is frame %" G_GUINT64_FORMAT,
        r->input, k);
  }
  return TRUE;
}

/* Drops the oldest frames held past GST_MEMMAP_RECORDING_MAX_HELD, but
 * none that a waiting call asked for. */
static void
trim_held (GstMemmapRecording * r)
{
  guint64 drop_to, i;

  if (r->buffers->len <= GST_MEMMAP_RECORDING_MAX_HELD)
    return;
  drop_to = r->base + r->buffers->len - GST_MEMMAP_RECORDING_MAX_HELD;
  for (i = 0; i < r->waiting_starts->len; i++)
    drop_to = MIN (drop_to, g_array_index (r->waiting_starts, guint64, i));
  if (drop_to <= r->base)
    return;
  g_ptr_array_remove_range (r->buffers, 0, drop_to - r->base);
  GST_LOG ("%s: frames before %" G_GUINT64_FORMAT " no longer held",
      r->input, drop_to);
  r->base = drop_to;
}

/* Whether a frame may be kept now; waits while the first frame is held. */
static gboolean
sink_probe_may_keep (GstMemmapRecording * r, GstBuffer * buf)
{
  if (r->stopping || r->flushing || r->await_flush || r->unnumbered ||
      r->layout_changed)
    return FALSE;
  if (!r->have_first) {
    r->have_first = TRUE;
    r->pts0 = GST_BUFFER_PTS (buf);
    if (r->hold_first) {
      g_cond_broadcast (&r->cond);
      while (r->hold_first && !r->stopping && !r->flushing)
        g_cond_wait (&r->cond, &r->lock);
      if (r->stopping || r->flushing || r->await_flush)
        return FALSE;
    }
  }
  if (r->seeked && !grid_number (r, buf)) {
    r->unnumbered = TRUE;
    return FALSE;
  }
  if (r->base == G_MAXUINT64)
    r->base = 0;
  return TRUE;
}

static GstPadProbeReturn
sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info), *kept;

  g_mutex_lock (&r->lock);
  if (!note_caps (r, pad)) {
    r->layout_changed = TRUE;
    goto out;
  }
  if (!sink_probe_may_keep (r, buf) || r->caps == NULL)
    goto out;

  note_follows (r, buf);
  kept = keep_buffer (r, buf);
  if (kept)
    g_ptr_array_add (r->buffers, kept);
  trim_held (r);

  /* far enough ahead of what was asked: wait for a caller, a flush or
   * the stop */
  g_cond_broadcast (&r->cond);
  while (!r->stopping && !r->flushing && r->base + r->buffers->len >= r->goal)
    g_cond_wait (&r->cond, &r->lock);

out:
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

/* Flushes wake the streaming thread and, after the seek, start the
 * numbering by the grid; the end of the video stream ends the wait of the
 * callers. */
static GstPadProbeReturn
sink_event_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  g_mutex_lock (&r->lock);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      r->flushing = TRUE;
      break;
    case GST_EVENT_FLUSH_STOP:
      r->flushing = FALSE;
      r->eos = FALSE;
      if (r->await_flush) {
        r->await_flush = FALSE;
        r->seeked = TRUE;
        r->base = G_MAXUINT64;
        r->lead_k = G_MAXUINT64;
        g_ptr_array_set_size (r->buffers, 0);
        r->prev_end = GST_CLOCK_TIME_NONE;
      }
      break;
    case GST_EVENT_SEGMENT:
      if (!r->have_first)
        gst_event_copy_segment (event, &r->segment);
      break;
    case GST_EVENT_EOS:
      if (!r->await_flush)
        r->eos = TRUE;
      break;
    default:
      break;
  }
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

/* Errors and warnings of the pipeline, in the thread that posts them; no
 * message stays on the bus (nobody pops it). */
static GstBusSyncReply
bus_sync (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  GError *err = NULL;
  gchar *debug = NULL;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &err, &debug);
    GST_INFO ("%s: error from %s: %s (%s)", r->input,
        GST_MESSAGE_SRC_NAME (msg), err->message, GST_STR_NULL (debug));
    g_mutex_lock (&r->lock);
    if (r->error == NULL)
      r->error = g_steal_pointer (&err);
    g_cond_broadcast (&r->cond);
    g_mutex_unlock (&r->lock);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    gst_message_parse_warning (msg, &err, NULL);
    GST_WARNING ("%s: %s: %s", r->input, GST_MESSAGE_SRC_NAME (msg),
        err->message);
    g_mutex_lock (&r->lock);
    if (r->warning == NULL)
      r->warning = g_strdup (err->message);
    g_mutex_unlock (&r->lock);
  }
  g_clear_error (&err);
  g_free (debug);
  /* a sync handler that drops a message unrefs it */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

/* After the seek, the frames the decoder gives between the keyframe and the
 * window (decoded to reach it) go no further: neither converted nor
 * recorded; the rest of their GOP is recorded when a call asks for it. */
static GstPadProbeReturn
convert_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS (buf), half;
  gboolean drop = FALSE;

  half = GST_BUFFER_DURATION_IS_VALID (buf) ? GST_BUFFER_DURATION (buf) / 2 : 0;
  g_mutex_lock (&r->lock);
  if (r->seeked && !r->await_flush && GST_CLOCK_TIME_IS_VALID (pts) &&
      GST_CLOCK_TIME_IS_VALID (r->drop_before)) {
    if (pts + half < r->drop_before) {
      guint64 k;

      drop = TRUE;
      /* the grid must hold from the keyframe on, not only in the window:
       * a window of one frame would check nothing */
      if (r->unnumbered) {
        /* nothing more to check */
      } else if (!grid_k (r, pts, &k) || !grid_follows (r, k)) {
        r->unnumbered = TRUE;
        g_cond_broadcast (&r->cond);
      } else {
        r->lead_k = k;
      }
    } else {
      r->drop_before = GST_CLOCK_TIME_NONE;
    }
  }
  g_mutex_unlock (&r->lock);
  return drop ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
decoder_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstMemmapRecording *r = user_data;

  g_mutex_lock (&r->lock);
  r->decoded++;
  g_mutex_unlock (&r->lock);
  gst_memmap_recording_count_decoded ();
  return GST_PAD_PROBE_OK;
}

/* After a seek, the demuxer may set the segment's stop to the duration
 * it read from the container (Matroska stores it in ms: 3.000 s for frames
 * up to 3.000333333 s), and the decoder would clip the last frame's
 * duration to it, unlike a plain decode from the start, whose segment has
 * no stop. The seek asks for no stop: the decoder gets none. */
static GstPadProbeReturn
decoder_segment_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info), *unstopped;
  const GstSegment *segment;
  GstSegment copy;
  gboolean from_seek;

  if (GST_EVENT_TYPE (event) != GST_EVENT_SEGMENT)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&r->lock);
  from_seek = r->from_seek;
  g_mutex_unlock (&r->lock);
  gst_event_parse_segment (event, &segment);
  if (!from_seek || segment->format != GST_FORMAT_TIME || segment->rate < 0
      || !GST_CLOCK_TIME_IS_VALID (segment->stop))
    return GST_PAD_PROBE_OK;

  gst_segment_copy_into (segment, &copy);
  GST_DEBUG ("%s: segment stop %" GST_TIME_FORMAT " after the seek dropped",
      r->input, GST_TIME_ARGS (copy.stop));
  copy.stop = GST_CLOCK_TIME_NONE;
  unstopped = gst_event_new_segment (&copy);
  gst_event_set_seqnum (unstopped, gst_event_get_seqnum (event));
  gst_event_unref (event);
  GST_PAD_PROBE_INFO_DATA (info) = unstopped;
  return GST_PAD_PROBE_OK;
}

/* Counts what the video decoders uridecodebin plugs really decode. */
static void
deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    gpointer user_data)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  const gchar *klass;
  GstPad *src, *sink;

  if (factory == NULL)
    return;
  klass = gst_element_factory_get_metadata (factory,
      GST_ELEMENT_METADATA_KLASS);
  if (klass == NULL || !strstr (klass, "Decoder") || !strstr (klass, "Video"))
    return;
  src = gst_element_get_static_pad (element, "src");
  if (src) {
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, decoder_probe,
        user_data, NULL);
    gst_object_unref (src);
  }
  sink = gst_element_get_static_pad (element, "sink");
  if (sink) {
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        decoder_segment_probe, user_data, NULL);
    gst_object_unref (sink);
  }
}

static void
pad_added (GstElement * dec, GstPad * pad, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstStructure *s;
  gboolean video;
  GstElement *fake;
  GstPad *sinkpad;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  s = gst_caps_get_size (caps) > 0 ? gst_caps_get_structure (caps, 0) : NULL;
  video = s && gst_structure_has_name (s, "video/x-raw");
  gst_caps_unref (caps);

  g_mutex_lock (&r->lock);
  if (video && !r->linked) {
    r->linked = TRUE;
    g_mutex_unlock (&r->lock);
    sinkpad = gst_element_get_static_pad (r->convert, "sink");
    gst_pad_link (pad, sinkpad);
    gst_object_unref (sinkpad);
    return;
  }
  g_mutex_unlock (&r->lock);

  /* audio, subtitles, a second video stream: consumed and dropped */
  fake = gst_element_factory_make ("fakesink", NULL);
  g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (r->pipeline), fake);
  gst_element_sync_state_with_parent (fake);
  sinkpad = gst_element_get_static_pad (fake, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

static void
no_more_pads (GstElement * dec, gpointer user_data)
{
  GstMemmapRecording *r = user_data;
  gboolean linked;

  g_mutex_lock (&r->lock);
  linked = r->linked;
  g_mutex_unlock (&r->lock);
  if (!linked) {
    GError *err = g_error_new (GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE,
        "'%s' has no video stream", r->input);

    gst_element_post_message (r->pipeline,
        gst_message_new_error (GST_OBJECT (dec), err, NULL));
    g_error_free (err);
  }
}

static GstElement *
make (const gchar * factory, const gchar * package, GError ** error)
{
  GstElement *e = gst_element_factory_make (factory, NULL);

  if (e == NULL)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "The GStreamer element '%s' is missing (%s)", factory, package);
  return e;
}

/* The sink's probes, the decoders' counters and uridecodebin's signals. */
static void
connect_pipeline (GstMemmapRecording * r, GstElement * dec, GstElement * sink)
{
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  GstBus *bus = gst_element_get_bus (r->pipeline);

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, sink_probe, r, NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
      GST_PAD_PROBE_TYPE_EVENT_FLUSH, sink_event_probe, r, NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (r->convert, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, convert_probe, r, NULL);
  gst_object_unref (pad);
  gst_bus_set_sync_handler (bus, bus_sync, r, NULL);
  gst_object_unref (bus);
  g_signal_connect (r->pipeline, "deep-element-added",
      G_CALLBACK (deep_element_added), r);
  g_signal_connect (dec, "pad-added", G_CALLBACK (pad_added), r);
  g_signal_connect (dec, "no-more-pads", G_CALLBACK (no_more_pads), r);
}

/* dec ! convert ! [filter] ! cache ! fakesink in a new r->pipeline, the
 * probes and signals connected; FALSE with @error set when an element is
 * missing. */
gboolean
gst_memmap_recording_build (GstMemmapRecording * r, Job * job, GError ** error)
{
  GstElement *dec = NULL, *filter = NULL, *cache = NULL, *sink = NULL;
  GstElement *convert = NULL;
  GstContext *ctx;
  gchar *key;

  if (!(dec = make ("uridecodebin", "gstreamer1.0-plugins-base", error)) ||
      !(convert = make ("videoconvert", "gstreamer1.0-plugins-base", error))
      || !(cache = make ("memmapcache", "the memmap plugin of gst-memmap: "
              "install it or set GST_PLUGIN_PATH", error)) ||
      !(sink = make ("fakesink", "GStreamer core", error)) ||
      (job->format && !(filter = make ("capsfilter", "GStreamer core",
                  error)))) {
    gst_clear_object (&dec);
    gst_clear_object (&convert);
    gst_clear_object (&cache);
    gst_clear_object (&sink);
    return FALSE;
  }

  r->pipeline = gst_pipeline_new ("memmap-frames");
  r->convert = convert;
  /* videoconvert keeps its one thread: with n-threads > 1 GStreamer 1.22
   * takes another conversion path whose output differs (a 1080p I420 to
   * GRAY8 frame: another Sobel sum in gst-memmap-demo), and the frames
   * must be what the same pipeline without recording gives */
  r->cache = cache;
  ctx = gst_memmap_engine_context_new (job->engine);
  gst_element_set_context (r->pipeline, ctx);
  gst_context_unref (ctx);

  g_object_set (dec, "uri", job->uri, NULL);
  key = gst_memmap_frames_job_cache_key (job);
  g_object_set (cache, "cache-dir", job->cache_dir, "key", key, NULL);
  g_free (key);
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add_many (GST_BIN (r->pipeline), dec, convert, cache, sink, NULL);
  if (filter) {
    GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
        G_TYPE_STRING, job->format, NULL);

    g_object_set (filter, "caps", caps, NULL);
    gst_caps_unref (caps);
    gst_bin_add (GST_BIN (r->pipeline), filter);
    gst_element_link_many (convert, filter, cache, sink, NULL);
  } else {
    gst_element_link_many (convert, cache, sink, NULL);
  }
  connect_pipeline (r, dec, sink);
  return TRUE;
}

/* Whether the recording's callers can stop waiting for frames up to @end
 * (exclusive): they are there, or they never will be. With r->lock. */
gboolean
gst_memmap_recording_has_frames (GstMemmapRecording * r, guint64 end)
{
  if (r->error || r->eos || r->layout_changed || r->unnumbered || r->stopping)
    return TRUE;
  /* held first frame: the starter decides on the seek */
  if (r->hold_first)
    return FALSE;
  return r->base != G_MAXUINT64 && !r->await_flush &&
      r->base + r->buffers->len >= end;
}

/* Sends the flushing keyframe seek to frame r->seek_to on the frame grid;
 * the frames after its flush are numbered by the grid. The first frame's
 * pts and the frame rate are known. */
static void
seek_to_frame (GstMemmapRecording * r)
{
  GstClockTime target, pos;
  gint n, d;
  gboolean ok;

  g_mutex_lock (&r->lock);
  n = GST_VIDEO_INFO_FPS_N (&r->info);
  d = GST_VIDEO_INFO_FPS_D (&r->info);
  target = r->pts0 + gst_util_uint64_scale_round (r->seek_to,
      GST_SECOND * d, n);
  pos = gst_segment_to_stream_time (&r->segment, GST_FORMAT_TIME, target);
  if (!GST_CLOCK_TIME_IS_VALID (pos))
    pos = target;
  r->await_flush = TRUE;
  r->drop_before = target;
  g_mutex_unlock (&r->lock);

  GST_INFO ("%s: seeking to frame %" G_GUINT64_FORMAT " at %"
      GST_TIME_FORMAT, r->input, r->seek_to, GST_TIME_ARGS (pos));
  ok = gst_element_seek (r->pipeline, 1.0, GST_FORMAT_TIME,
      GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT |
      GST_SEEK_FLAG_SNAP_BEFORE, GST_SEEK_TYPE_SET, pos,
      GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);

  g_mutex_lock (&r->lock);
  r->hold_first = FALSE;
  if (!ok) {
    GST_INFO ("%s: the seek failed", r->input);
    r->await_flush = FALSE;
    r->unnumbered = TRUE;
  }
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

/* Whether the live recording @r can seek to another window rather than
 * make way for a new pipeline: it numbers by the grid. With r->lock. */
gboolean
gst_memmap_recording_can_seek (GstMemmapRecording * r)
{
  return r->pipeline && r->have_first && !r->hold_first && !r->stopping &&
      !r->error && !r->layout_changed && !r->unnumbered && !r->await_flush &&
      GST_CLOCK_TIME_IS_VALID (r->pts0) && GST_VIDEO_INFO_FPS_N (&r->info) > 0
      && GST_VIDEO_INFO_FPS_D (&r->info) > 0;
}

/* The same pipeline, to be seeked to frame @frame for a new window: no
 * new pipeline to start, no first frame to wait for. Nobody waits on @r.
 * With r->lock (and the table's lock, so that no call joins @r for what
 * it had before); gst_memmap_recording_seek() after, without them. */
void
gst_memmap_recording_prepare_seek (GstMemmapRecording * r, guint64 frame)
{
  r->from_seek = TRUE;
  r->seek_to = frame;
  /* the old goal was the old window's */
  r->goal = 0;
  r->await_flush = TRUE;
}

void
gst_memmap_recording_seek (GstMemmapRecording * r)
{
  seek_to_frame (r);
}

/* Holds the first frame, then seeks to the stream time of frame
 * r->seek_to on the frame grid; from the start when the stream has no
 * frame rate. */
static void
start_from_seek (GstMemmapRecording * r)
{
  gint n, d;

  g_mutex_lock (&r->lock);
  while (!r->have_first && !r->error && !r->eos && !r->stopping &&
      !r->layout_changed)
    g_cond_wait (&r->cond, &r->lock);
  n = GST_VIDEO_INFO_FPS_N (&r->info);
  d = GST_VIDEO_INFO_FPS_D (&r->info);
  if (!r->have_first || !GST_CLOCK_TIME_IS_VALID (r->pts0) || n <= 0 || d <= 0) {
    /* no seek: frames are counted from the first one */
    GST_DEBUG ("%s: no frame rate: recording from the start", r->input);
    r->hold_first = FALSE;
    g_cond_broadcast (&r->cond);
    g_mutex_unlock (&r->lock);
    return;
  }
  g_mutex_unlock (&r->lock);
  seek_to_frame (r);
}

/* Plays the pipeline; with r->from_seek, seeks to frame r->seek_to first.
 * Returns once the recording plays: the callers wait for frames. */
void
gst_memmap_recording_start (GstMemmapRecording * r)
{
  g_mutex_lock (&r->lock);
  r->hold_first = r->from_seek;
  g_mutex_unlock (&r->lock);

  if (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_mutex_lock (&r->lock);
    if (r->error == NULL)
      r->error = g_error_new (GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
          "Could not play '%s'", r->input);
    r->hold_first = FALSE;
    g_cond_broadcast (&r->cond);
    g_mutex_unlock (&r->lock);
    return;
  }
  if (r->from_seek)
    start_from_seek (r);
}

/* Stops the pipeline: wakes the streaming threads, then NULL. Not from a
 * streaming thread of the pipeline. Idempotent. */
void
gst_memmap_recording_stop (GstMemmapRecording * r)
{
  g_mutex_lock (&r->lock);
  r->stopping = TRUE;
  r->hold_first = FALSE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  if (r->pipeline)
    gst_element_set_state (r->pipeline, GST_STATE_NULL);
}
