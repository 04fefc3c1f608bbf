/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pipeline runner of gst_memmap_map_video_frames():
 * uridecodebin ! videoconvert ! [capsfilter] ! memmapcache ! fakesink,
 * the frames taken by a probe on the fakesink.
 *
 * This is the one place where the library uses the plugin: it builds
 * `memmapcache` (and GStreamer's own elements) by factory name at run time,
 * so the frames API works only where the memmap plugin is installed (or
 * GST_PLUGIN_PATH names it); without it the call fails with
 * GST_CORE_ERROR_MISSING_PLUGIN. There is no link-time dependency in
 * either direction: the plugin links the library, the library finds the
 * plugin through the registry. See docs/design.md, "Layers". */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"
#include "gstmemmapvideo.h"

#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug

#define DONE_MESSAGE "memmap-frames-done"


typedef struct
{
  Job *job;
  GstElement *pipeline;
  GstElement *convert;
  gboolean linked;

  GMutex lock;
  guint64 seen;                 /* frames out of memmapcache */
  guint64 decoded;              /* frames out of the decoder(s) */
  guint64 copied;               /* frames that were not store memory */
  GPtrArray *buffers;
  GstCaps *caps;
  GstVideoInfo info;
  gboolean done;
  gboolean layout_changed;
  gchar *entry_hash;            /* every frame so far from this entry */
  gboolean one_entry;
  GstClockTime prev_end;        /* end of the frame before */
  gboolean gap;                 /* frames do not follow each other */
} Collect;

static void
post_done (Collect * c)
{
  gst_element_post_message (c->pipeline,
      gst_message_new_application (GST_OBJECT (c->pipeline),
          gst_structure_new_empty (DONE_MESSAGE)));
}

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
adopt_store_layout (Collect * c, GstBuffer * buf)
{
  GstVideoMeta *meta = gst_buffer_get_video_meta (buf);
  guint p;

  if (c->buffers->len > 0 || meta == NULL ||
      !gst_memmap_frames_store_path_of (buf) ||
      meta->format != GST_VIDEO_INFO_FORMAT (&c->info) ||
      meta->width != (guint) GST_VIDEO_INFO_WIDTH (&c->info) ||
      meta->height != (guint) GST_VIDEO_INFO_HEIGHT (&c->info) ||
      meta->n_planes != GST_VIDEO_INFO_N_PLANES (&c->info))
    return;
  for (p = 0; p < meta->n_planes; p++) {
    GST_VIDEO_INFO_PLANE_OFFSET (&c->info, p) = meta->offset[p];
    GST_VIDEO_INFO_PLANE_STRIDE (&c->info, p) = meta->stride[p];
  }
  GST_VIDEO_INFO_SIZE (&c->info) = gst_buffer_get_size (buf);
}

/* A buffer laid out as c->info: @buf itself when it is, else a copy. */
static GstBuffer *
keep_buffer (Collect * c, GstBuffer * buf)
{
  GstVideoFrame src, dst;
  GstBuffer *copy;

  adopt_store_layout (c, buf);
  if (gst_memmap_frames_store_path_of (buf)
      && gst_memmap_frames_buffer_has_layout (buf, &c->info))
    return gst_buffer_ref (buf);

  c->copied++;
  copy = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&c->info), NULL);
  if (!gst_video_frame_map (&src, &c->info, buf, GST_MAP_READ)) {
    gst_buffer_unref (copy);
    return NULL;
  }
  gst_video_frame_map (&dst, &c->info, copy, GST_MAP_WRITE);
  gst_video_frame_copy (&dst, &src);
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  gst_buffer_copy_into (copy, buf, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  return copy;
}

static GstPadProbeReturn
sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Collect *c = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCaps *caps;
  const gchar *path;
  guint64 k;

  g_mutex_lock (&c->lock);
  if (c->done)
    goto out;
  k = c->seen++;

  /* a frame that does not start where the one before ended (within half a
   * frame, as memmapcache counts runs): frames were lost on the way, or
   * the stream has a hole */
  if (GST_BUFFER_PTS_IS_VALID (buf) && GST_BUFFER_DURATION_IS_VALID (buf)) {
    GstClockTime pts = GST_BUFFER_PTS (buf), half = GST_BUFFER_DURATION (buf)
        / 2;

    if (GST_CLOCK_TIME_IS_VALID (c->prev_end) && (pts > c->prev_end + half ||
            pts + half < c->prev_end)) {
      GST_INFO ("%s: frame %" G_GUINT64_FORMAT " at %" GST_TIME_FORMAT
          " does not follow the frame before, which ended at %"
          GST_TIME_FORMAT, c->job->input, k, GST_TIME_ARGS (pts),
          GST_TIME_ARGS (c->prev_end));
      c->gap = TRUE;
    }
    c->prev_end = pts + GST_BUFFER_DURATION (buf);
  } else {
    c->prev_end = GST_CLOCK_TIME_NONE;
  }

  path = gst_memmap_frames_store_path_of (buf);
  if (path == NULL) {
    c->one_entry = FALSE;
  } else if (c->one_entry) {
    gchar *hash = entry_hash_of (path);

    if (hash == NULL || (c->entry_hash && strcmp (hash, c->entry_hash))) {
      c->one_entry = FALSE;
      g_free (hash);
    } else if (c->entry_hash == NULL) {
      c->entry_hash = hash;
    } else {
      g_free (hash);
    }
  }

  /* the layout: taken from the first frame, and while no frame is kept
   * from any later caps; a change under kept frames is an error */
  caps = gst_pad_get_current_caps (pad);
  if (caps != NULL && (c->caps == NULL || (caps != c->caps &&
              !gst_caps_is_equal (caps, c->caps)))) {
    GstVideoInfo vinfo;

    if (!gst_video_info_from_caps (&vinfo, caps) ||
        (c->buffers->len > 0
            && !gst_memmap_video_info_same_picture (&vinfo, &c->info))) {
      gst_caps_unref (caps);
      c->layout_changed = TRUE;
      c->done = TRUE;
      post_done (c);
      goto out;
    }
    if (c->buffers->len == 0) {
      c->info = vinfo;
      gst_caps_replace (&c->caps, caps);
    }
  }
  gst_clear_caps (&caps);

  if (k >= c->job->start && c->caps != NULL) {
    GstBuffer *kept = keep_buffer (c, buf);

    if (kept)
      g_ptr_array_add (c->buffers, kept);
  }
  /* progress: a bus message for the caller's thread */
  gst_memmap_frames_job_frame_seen (c->job, c->pipeline, k + 1,
      c->caps ? &c->info : NULL);
  if (k + 1 >= c->job->end) {
    c->done = TRUE;
    post_done (c);
  }

out:
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
decoder_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Collect *c = user_data;

  g_mutex_lock (&c->lock);
  c->decoded++;
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

/* Counts what the video decoders uridecodebin plugs really decode. */
static void
deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    gpointer user_data)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  const gchar *klass;
  GstPad *src;

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
}

static void
pad_added (GstElement * dec, GstPad * pad, gpointer user_data)
{
  Collect *c = user_data;
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

  g_mutex_lock (&c->lock);
  if (video && !c->linked) {
    c->linked = TRUE;
    g_mutex_unlock (&c->lock);
    sinkpad = gst_element_get_static_pad (c->convert, "sink");
    gst_pad_link (pad, sinkpad);
    gst_object_unref (sinkpad);
    return;
  }
  g_mutex_unlock (&c->lock);

  /* audio, subtitles, a second video stream: consumed and dropped */
  fake = gst_element_factory_make ("fakesink", NULL);
  g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (c->pipeline), fake);
  gst_element_sync_state_with_parent (fake);
  sinkpad = gst_element_get_static_pad (fake, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

static void
no_more_pads (GstElement * dec, gpointer user_data)
{
  Collect *c = user_data;
  gboolean linked;

  g_mutex_lock (&c->lock);
  linked = c->linked;
  g_mutex_unlock (&c->lock);
  if (!linked) {
    GError *err = g_error_new (GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE,
        "'%s' has no video stream", c->job->input);

    gst_element_post_message (c->pipeline,
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

/* dec ! convert ! [filter] ! cache ! fakesink in a new c->pipeline, the
 * probes and signals connected; FALSE with @error set when an element is
 * missing. */
static gboolean
pipeline_build (Collect * c, GstElement ** cache_out, GError ** error)
{
  GstElement *dec = NULL, *filter = NULL, *cache = NULL, *sink = NULL;
  GstElement *convert = NULL;
  GstContext *ctx;
  GstPad *pad;
  gchar *key;

  if (!(dec = make ("uridecodebin", "gstreamer1.0-plugins-base", error)) ||
      !(convert = make ("videoconvert", "gstreamer1.0-plugins-base", error))
      || !(cache = make ("memmapcache", "the memmap plugin of gst-memmap: "
                  "install it or set GST_PLUGIN_PATH", error)) ||
      !(sink = make ("fakesink", "GStreamer core", error)) ||
      (c->job->format && !(filter = make ("capsfilter", "GStreamer core",
                  error)))) {
    gst_clear_object (&dec);
    gst_clear_object (&convert);
    gst_clear_object (&cache);
    gst_clear_object (&sink);
    return FALSE;
  }

  c->pipeline = gst_pipeline_new ("memmap-frames");
  c->convert = convert;
  /* a conversion asked for (BGR, say) runs on every core (issue 14) */
  g_object_set (convert, "n-threads", g_get_num_processors (), NULL);
  ctx = gst_memmap_engine_context_new (c->job->engine);
  gst_element_set_context (c->pipeline, ctx);
  gst_context_unref (ctx);

  g_object_set (dec, "uri", c->job->uri, NULL);
  key = gst_memmap_frames_job_cache_key (c->job);
  g_object_set (cache, "cache-dir", c->job->cache_dir, "key", key, NULL);
  g_free (key);
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add_many (GST_BIN (c->pipeline), dec, convert, cache, sink, NULL);
  if (filter) {
    GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
        G_TYPE_STRING, c->job->format, NULL);

    g_object_set (filter, "caps", caps, NULL);
    gst_caps_unref (caps);
    gst_bin_add (GST_BIN (c->pipeline), filter);
    gst_element_link_many (convert, filter, cache, sink, NULL);
  } else {
    gst_element_link_many (convert, cache, sink, NULL);
  }
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, sink_probe, c, NULL);
  gst_object_unref (pad);
  g_signal_connect (c->pipeline, "deep-element-added",
      G_CALLBACK (deep_element_added), c);
  g_signal_connect (dec, "pad-added", G_CALLBACK (pad_added), c);
  g_signal_connect (dec, "no-more-pads", G_CALLBACK (no_more_pads), c);

  *cache_out = cache;
  return TRUE;
}

/* Plays c->pipeline until an error (@err set), the end of the stream
 * (returns TRUE) or the last frame asked for; the first warning in
 * @warning. */
static gboolean
pipeline_wait (Collect * c, GError ** err, gchar ** warning)
{
  GstBus *bus;
  gboolean eos = FALSE;
  gulong watch;

  bus = gst_element_get_bus (c->pipeline);
  watch = gst_memmap_frames_job_watch (c->job, c->pipeline);
  gst_element_set_state (c->pipeline, GST_STATE_PLAYING);
  while (TRUE) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING |
        GST_MESSAGE_APPLICATION);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gchar *debug = NULL;

      gst_message_parse_error (msg, err, &debug);
      GST_INFO ("%s: error from %s: %s (%s)", c->job->input,
          GST_MESSAGE_SRC_NAME (msg), (*err)->message, GST_STR_NULL (debug));
      g_free (debug);
      gst_message_unref (msg);
      break;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      eos = TRUE;
      gst_message_unref (msg);
      break;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *w = NULL;

      gst_message_parse_warning (msg, &w, NULL);
      GST_WARNING ("%s: %s: %s", c->job->input, GST_MESSAGE_SRC_NAME (msg),
          w->message);
      if (*warning == NULL)
        *warning = g_strdup (w->message);
      g_clear_error (&w);
    } else if (gst_message_has_name (msg, DONE_MESSAGE)) {
      gst_message_unref (msg);
      break;
    } else if (gst_memmap_frames_job_handle_message (c->job, c->pipeline,
            msg, err)) {
      /* cancelled: the caller sets the pipeline to NULL */
      gst_message_unref (msg);
      break;
    }
    gst_message_unref (msg);
  }
  gst_memmap_frames_job_unwatch (c->job, watch);
  gst_object_unref (bus);

  return eos;
}

/* The cache entry c->entry_hash, that all the frames came out of, kept
 * from eviction (shared lock) while the frames live, or NULL; indexes it
 * for the direct path. */
static GstMemmapCacheEntry *
pipeline_hold_entry (Collect * c)
{
  GstMemmapCacheEntry *entry = NULL;
  GstMemmapCacheDir *dir;

  dir = gst_memmap_cache_dir_open_existing (c->job->cache_dir, NULL);
  if (dir) {
    entry = gst_memmap_cache_entry_open_existing (dir, c->entry_hash,
        GST_MEMMAP_CACHE_ENTRY_LOCK, NULL);
    /* frames [0, seen) are all in the cache now: the next call can read
     * them without decoding */
    if (entry)
      gst_memmap_frames_job_index_store (c->job, dir, c->entry_hash);
    gst_memmap_cache_dir_free (dir);
  }
  return entry;
}

/* The result's stats: counts of the collection and memmapcache's own. */
static GstStructure *
pipeline_stats (Collect * c, const GstStructure * cache_stats,
    const gchar * warning)
{
  GstStructure *stats;
  guint64 v;

  stats = gst_structure_new ("memmap-frames-stats",
      "direct", G_TYPE_BOOLEAN, FALSE,
      "decoded-frames", G_TYPE_UINT64, c->decoded,
      "frames-from-cache", G_TYPE_UINT64,
      (guint64) c->buffers->len - MIN (c->copied, c->buffers->len),
      "frames-copied", G_TYPE_UINT64, c->copied,
      "fresh-entry", G_TYPE_BOOLEAN, c->job->fresh_key,
      "cache-generation", G_TYPE_UINT, c->job->generation, NULL);
  if (cache_stats) {
    if (gst_structure_get_uint64 (cache_stats, "hits", &v))
      gst_structure_set (stats, "cache-hits", G_TYPE_UINT64, v, NULL);
    if (gst_structure_get_uint64 (cache_stats, "misses", &v))
      gst_structure_set (stats, "cache-misses", G_TYPE_UINT64, v, NULL);
    if (gst_structure_get_uint64 (cache_stats, "frames-served", &v))
      gst_structure_set (stats, "frames-served", G_TYPE_UINT64, v, NULL);
    if (gst_structure_get_uint64 (cache_stats, "frames-recorded", &v))
      gst_structure_set (stats, "frames-recorded", G_TYPE_UINT64, v, NULL);
  }
  if (c->entry_hash && c->one_entry) {
    gchar *path = g_build_filename (c->job->cache_dir, c->entry_hash, NULL);

    gst_structure_set (stats, "cache-entry", G_TYPE_STRING, path, NULL);
    g_free (path);
  }
  if (warning)
    gst_structure_set (stats, "cache-warning", G_TYPE_STRING, warning, NULL);
  return stats;
}

GstMemmapFrames *
gst_memmap_frames_run_pipeline (Job * job, gboolean * gap, GError ** error)
{
  Collect c = { 0, };
  GstElement *cache = NULL;
  GstMemmapFrames *frames = NULL;
  GstStructure *cache_stats = NULL, *stats;
  GError *err = NULL;
  gchar *warning = NULL;
  guint64 v;
  gboolean eos = FALSE, clipped;
  GstMemmapCacheEntry *entry = NULL;

  g_mutex_init (&c.lock);
  c.job = job;
  c.one_entry = TRUE;
  c.prev_end = GST_CLOCK_TIME_NONE;
  c.buffers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);

  if (!pipeline_build (&c, &cache, error))
    goto out;
  eos = pipeline_wait (&c, &err, &warning);

  g_object_get (cache, "stats", &cache_stats, NULL);
  gst_element_set_state (c.pipeline, GST_STATE_NULL);

  if (err) {
    /* name the input, which decoder errors do not */
    if (!strstr (err->message, job->input)) {
      gchar *msg = g_strdup_printf ("Could not decode '%s': %s", job->input,
          err->message);

      g_free (err->message);
      err->message = msg;
    }
    g_propagate_error (error, err);
    goto out;
  }
  if (c.layout_changed) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "'%s': the video changes its size or format at frame %"
        G_GUINT64_FORMAT ", which one GstMemmapFrames cannot hold",
        job->input, c.seen - 1);
    goto out;
  }
  if (c.caps == NULL) {
    /* nothing kept: the range starts past the end */
    gst_video_info_init (&c.info);
  }

  /* lost frames: frames that do not follow each other after some came
   * from the cache (a decoder's own output with a hole is the stream's) */
  *gap = c.gap && cache_stats != NULL &&
      gst_structure_get_uint64 (cache_stats, "frames-served", &v) && v > 0;
  if (*gap && !job->fresh_key) {
    /* the caller tries again with a fresh entry */
    GST_WARNING ("%s: frames were lost on the way out of the cache entry "
        "%s: decoding into a new entry", job->input,
        GST_STR_NULL (c.entry_hash));
    goto out;
  }

  /* keep the entry from eviction while the frames live */
  if (c.one_entry && c.entry_hash && c.seen > 0 && !*gap)
    entry = pipeline_hold_entry (&c);

  clipped = eos && job->end != G_MAXUINT64 && c.seen < job->end;
  stats = pipeline_stats (&c, cache_stats, warning);
  frames = gst_memmap_frames_new_from_buffers (c.buffers, c.caps, &c.info,
      MIN (job->start, c.seen), clipped, stats, &entry, error);

out:
  if (entry)
    gst_memmap_cache_entry_close (entry);
  if (cache_stats)
    gst_structure_free (cache_stats);
  if (c.pipeline)
    gst_object_unref (c.pipeline);
  g_ptr_array_unref (c.buffers);
  gst_clear_caps (&c.caps);
  g_free (c.entry_hash);
  g_free (warning);
  g_mutex_clear (&c.lock);
  return frames;
}
