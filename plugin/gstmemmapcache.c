/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-memmapcache
 * @title: memmapcache
 * @see_also: memmapsink, #GstMemmapStoreReader
 *
 * A filter placed after a video decoder: the first time a stream plays, every
 * decoded frame goes through unchanged and is recorded in a frame store under
 * #GstMemmapCache:cache-dir; from then on, the decoder skips whatever is
 * cached and memmapcache gives those frames from the store, zero-copy.
 * Downstream gets exactly what it would get without memmapcache: the same
 * frames, timestamps, segments and EOS, at every seek and rate.
 *
 * - Every seek goes upstream unchanged: the demuxer and the decoder do it
 *   as they would without memmapcache, and the other streams of the
 *   demuxer (audio) are never disturbed.
 * - memmapcache finds the video decoder upstream and drops, at its sink
 *   pad, the compressed packets of the GOPs whose frames are all cached;
 *   it merges the cached frames with the decoder's, in order, clipped to
 *   the segment as the decoder clips.
 * - Frames are decoded straight into the cache when the decoder takes the
 *   slot pool memmapcache offers in the allocation query, else copied once
 *   into a slot.
 * - Rates other than 1.0 and trick modes are passed through; what cannot be
 *   cached is passed through with one warning that says why.
 * - #GstMemmapCache:max-size bounds the bytes on disk of the directory,
 *   shared by every pipeline and process that uses it; the least recently
 *   used streams nobody is using go first.
 * - A cache that cannot be used (no space, no permission, a corrupt store)
 *   never breaks playback: one warning on the bus, and the frames pass
 *   through uncached.
 *
 * See docs/elements.md for how a stream is identified and what happens
 * when, and docs/design.md for the design.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 uridecodebin uri=file://$PWD/clip.mp4 ! memmapcache ! videoconvert ! autovideosink
 * ]| Plays a clip; the second time, its frames come from the cache.
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! qtdemux ! h264parse ! avdec_h264 ! memmapcache cache-dir=frames max-size=2000000000 ! fakesink
 * ]| Decodes a clip once into a cache of at most 2 GB.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcacheprivate.h"
#include "gstmemmapelements.h"
#include "gstmemmapcontext.h"

#include <gst/memmap/gstmemmapvideo.h>

GST_DEBUG_CATEGORY (gst_memmap_cache_debug);
#define GST_CAT_DEFAULT gst_memmap_cache_debug

#define DEFAULT_MAX_SIZE (G_GUINT64_CONSTANT (10) << 30)
#define DEFAULT_KEY NULL

enum
{
  PROP_0,
  PROP_CACHE_DIR,
  PROP_MAX_SIZE,
  PROP_KEY,
  PROP_STATS,
};

G_DEFINE_TYPE (GstMemmapCache, gst_memmap_cache, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (memmapcache, "memmapcache", GST_RANK_NONE,
    GST_TYPE_MEMMAP_CACHE);

static void gst_memmap_cache_finalize (GObject * object);
static void gst_memmap_cache_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_memmap_cache_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static GstStateChangeReturn gst_memmap_cache_change_state (GstElement *
    element, GstStateChange transition);
static void gst_memmap_cache_set_context (GstElement * element,
    GstContext * context);

static gboolean gst_memmap_cache_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event);
static gboolean gst_memmap_cache_sink_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static gboolean gst_memmap_cache_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event);
static gboolean gst_memmap_cache_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query);

static void
gst_memmap_cache_class_init (GstMemmapCacheClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstCaps *caps;

  gobject_class->finalize = gst_memmap_cache_finalize;
  gobject_class->set_property = gst_memmap_cache_set_property;
  gobject_class->get_property = gst_memmap_cache_get_property;

  /**
   * GstMemmapCache:cache-dir:
   *
   * The directory that holds the cached streams, made (0700) if missing.
   * Several pipelines and processes may share it. %NULL selects
   * `g_get_user_cache_dir()/gst-memmap`.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CACHE_DIR,
      g_param_spec_string ("cache-dir", "Cache directory",
          "Directory of the cached streams (NULL = the user's cache "
          "directory/gst-memmap)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapCache:max-size:
   *
   * The most bytes on disk that the cache directory may hold. When a
   * recording needs room, whole cached streams are evicted, least recently
   * used first; a stream being read or written by any process is never
   * evicted. When nothing more can go, recording stops and frames pass
   * through uncached. A pipeline closing its stream over max-size evicts
   * the others the same way, never the stream it just closed.
   *
   * A stream never evicts the cache for a fragment of itself: of one known
   * (duration times frame size) to be larger than max-size only the start
   * is recorded, into free room, up to half of max-size; one of unknown
   * size takes half of max-size at most; either says so once with a
   * warning (docs/elements.md).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint64 ("max-size", "Max size",
          "Most bytes on disk under cache-dir (LRU eviction of whole streams)",
          0, G_MAXUINT64, DEFAULT_MAX_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapCache:key:
   *
   * Identifies the stream instead of its source URI, file size and mtime
   * and its stream id (the caps still take part). %NULL: derive the
   * identity from upstream.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_KEY,
      g_param_spec_string ("key", "Key",
          "Identity of the stream, instead of its URI, file and stream id "
          "(NULL = from upstream)", DEFAULT_KEY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapCache:stats:
   *
   * A `memmapcache-stats` structure of #guint64 counters, reset when the
   * element goes to PAUSED:
   *
   * - `hits`, `misses`: GOPs reached at the decoder, served from the
   *   cache or decoded
   * - `frames-recorded`: frames committed to the cache
   * - `frames-zero-copy`, `frames-copied`: of those, decoded into a slot or
   *   copied into one
   * - `frames-served`: frames pushed from the cache
   * - `evictions`: streams this element evicted
   * - `bytes-on-disk`: of the cache directory, when last measured
   * - `frames-decoded`: frames of the decoder that went downstream
   * - `frames-discarded`: frames of the decoder not pushed, since the
   *   same frames went downstream from the cache
   * - `packets-dropped`: compressed packets dropped before the decoder
   *
   * the boolean `over-budget`: the stream was not recorded whole because
   * it does not fit in #GstMemmapCache:max-size; `engine`, the stats of
   * the #GstMemmapEngine; `decoder` (string,
   * nullable): the decoder whose packets memmapcache may drop;
   * `not-cached-reason` (string, nullable): why some frames were not
   * cached (the first reason; a warning said it too).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Hits, misses, frames recorded and served, evictions, bytes on disk "
          "and the engine's stats", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_set_static_metadata (element_class,
      "Memory-mapped decoded frame cache", "Filter/Video",
      "Records decoded frames into an on-disk cache and serves every later "
      "pass and seek from it, zero-copy",
      "The gst-memmap developers");
  caps = gst_memmap_video_store_caps (FALSE);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_memmap_cache_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_memmap_cache_set_context);

  GST_DEBUG_CATEGORY_INIT (gst_memmap_cache_debug, "memmapcache", 0,
      "memmapcache element");
}
static void
gst_memmap_cache_init (GstMemmapCache * self)
{
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);

  self->sinkpad = gst_pad_new_from_template
      (gst_element_class_get_pad_template (klass, "sink"), "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_memmap_cache_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_memmap_cache_sink_event));
  gst_pad_set_query_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_memmap_cache_sink_query));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_template
      (gst_element_class_get_pad_template (klass, "src"), "src");
  gst_pad_set_event_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_memmap_cache_src_event));
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_memmap_cache_src_query));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->settings.cache_dir = NULL;
  self->settings.max_size = DEFAULT_MAX_SIZE;
  self->settings.key = g_strdup (DEFAULT_KEY);

  g_rec_mutex_init (&self->lock);
  self->served = g_array_new (FALSE, FALSE, sizeof (Served));
  self->owed = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  self->frames = g_array_new (FALSE, FALSE, sizeof (CachedFrame));
  self->readers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_store_reader_unref);
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  gst_video_info_init (&self->info);
}
static void
gst_memmap_cache_finalize (GObject * object)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (object);

  g_free (self->settings.cache_dir);
  g_free (self->settings.key);
  g_free (self->cur.cache_dir);
  g_free (self->cur.key);
  g_free (self->stream_id);
  gst_clear_caps (&self->caps);
  g_free (self->store_path);
  g_clear_pointer (&self->store, gst_memmap_slot_store_unref);
  g_clear_pointer (&self->entry, gst_memmap_cache_entry_close);
  g_clear_pointer (&self->dir, gst_memmap_cache_dir_free);
  g_ptr_array_unref (self->readers);
  g_array_unref (self->frames);
  gst_clear_object (&self->engine);
  g_array_unref (self->served);
  g_array_unref (self->owed);
  g_free (self->not_cached);
  g_free (self->decoder_name);
  g_rec_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gst_memmap_cache_parent_class)->finalize (object);
}
static void
gst_memmap_cache_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CACHE_DIR:
      g_free (self->settings.cache_dir);
      self->settings.cache_dir = g_value_dup_string (value);
      break;
    case PROP_MAX_SIZE:
      self->settings.max_size = g_value_get_uint64 (value);
      break;
    case PROP_KEY:
      g_free (self->settings.key);
      self->settings.key = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}
static GstStructure *
gst_memmap_cache_create_stats (GstMemmapCache * self)
{
  GstMemmapEngine *engine;
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("memmapcache-stats",
      "hits", G_TYPE_UINT64, self->hits,
      "misses", G_TYPE_UINT64, self->misses,
      "frames-recorded", G_TYPE_UINT64, self->frames_recorded,
      "frames-served", G_TYPE_UINT64, self->frames_served,
      "frames-zero-copy", G_TYPE_UINT64, self->frames_zero_copy,
      "frames-copied", G_TYPE_UINT64, self->frames_copied,
      "evictions", G_TYPE_UINT64, self->evictions,
      "bytes-on-disk", G_TYPE_UINT64, self->bytes_on_disk,
      "over-budget", G_TYPE_BOOLEAN, self->over_budget,
      "frames-decoded", G_TYPE_UINT64, self->frames_decoded,
      "frames-discarded", G_TYPE_UINT64, self->frames_discarded,
      "packets-dropped", G_TYPE_UINT64, self->packets_dropped,
      "decoder", G_TYPE_STRING, self->decoder_name,
      "not-cached-reason", G_TYPE_STRING, self->not_cached, NULL);
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
gst_memmap_cache_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (object);

  switch (prop_id) {
    case PROP_CACHE_DIR:
      GST_OBJECT_LOCK (self);
      if (self->settings.cache_dir)
        g_value_set_string (value, self->settings.cache_dir);
      else
        g_value_take_string (value, gst_memmap_cache_dir_default_path ());
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MAX_SIZE:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->settings.max_size);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_KEY:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->settings.key);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_memmap_cache_create_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* Forwards a serialized event from upstream, after the cached frames that
 * come before it (all of them: the decoder gave everything before it). */
static gboolean
forward_after_served (GstMemmapCache * self, GstEvent * event)
{
  gboolean ret;

  if (self->served->len > 0)
    gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, TRUE);
  ret = gst_pad_push_event (self->srcpad, event);
  return ret;
}
static gboolean
sink_segment (GstMemmapCache * self, GstEvent * event)
{
  GstSegment seg;

  gst_event_copy_segment (event, &seg);
  if (self->segment_ours &&
      gst_event_get_seqnum (event) == self->segment_seqnum &&
      gst_segment_is_equal (&seg, &self->segment)) {
    /* we gave it downstream before the decoder did */
    self->segment_ours = FALSE;
    gst_event_unref (event);
    return TRUE;
  }
  if (self->have_segment && self->served->len > 0) {
    /* the end of the segment before */
    gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, TRUE);
    g_array_set_size (self->served, 0);
  }
  self->segment = seg;
  self->segment_seqnum = gst_event_get_seqnum (event);
  self->have_segment = TRUE;
  self->segment_ours = FALSE;
  self->run_valid = FALSE;
  return gst_pad_push_event (self->srcpad, event);
}
static gboolean
gst_memmap_cache_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);
  gboolean ret;

  GST_LOG_OBJECT (self, "%" GST_PTR_FORMAT, event);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START ||
      !GST_EVENT_IS_SERIALIZED (event))
    return gst_pad_event_default (pad, parent, event);

  g_rec_mutex_lock (&self->lock);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      GST_OBJECT_LOCK (self);
      self->seen_seek = TRUE;
      GST_OBJECT_UNLOCK (self);
      gst_memmap_cache_reset_segment (self);
      self->start_pending = FALSE;
      self->chain_gen = self->probe_gen;
      self->last_end = GST_CLOCK_TIME_NONE;
      self->downstream_ended = FALSE;
      /* under the lock: no cached frame may go before it */
      ret = gst_pad_push_event (self->srcpad, event);
      break;
    case GST_EVENT_STREAM_START:{
      const gchar *stream_id = NULL;

      gst_event_parse_stream_start (event, &stream_id);
      g_free (self->stream_id);
      self->stream_id = g_strdup (stream_id);
      self->first_buffer = TRUE;
      self->start_pending = TRUE;
      GST_OBJECT_LOCK (self);
      self->seen_seek = FALSE;
      self->seek_stop = GST_CLOCK_TIME_NONE;
      GST_OBJECT_UNLOCK (self);
      ret = forward_after_served (self, event);
      break;
    }
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      GstVideoInfo info;

      gst_event_parse_caps (event, &caps);
      if (!gst_video_info_from_caps (&info, caps)) {
        GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
            ("no video info in %" GST_PTR_FORMAT, caps));
        gst_event_unref (event);
        ret = FALSE;
        break;
      }
      if (self->caps == NULL || !gst_caps_is_equal (self->caps, caps)) {
        if (self->served->len > 0)
          gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, TRUE);
        g_array_set_size (self->served, 0);
        self->last_served = GST_CLOCK_TIME_NONE;
        self->run_valid = FALSE;
        gst_caps_replace (&self->caps, caps);
        self->info = info;
        gst_memmap_cache_open (self);
      }
      ret = gst_pad_push_event (self->srcpad, event);
      break;
    }
    case GST_EVENT_SEGMENT:
      ret = sink_segment (self, event);
      break;
    case GST_EVENT_EOS:
      if (self->served->len > 0)
        gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, TRUE);
      gst_memmap_cache_mark_end (self);
      ret = gst_pad_push_event (self->srcpad, event);
      break;
    case GST_EVENT_SEGMENT_DONE:
      ret = forward_after_served (self, event);
      break;
    default:
      ret = gst_pad_push_event (self->srcpad, event);
      break;
  }
  g_rec_mutex_unlock (&self->lock);

  return ret;
}

/* Upstream renders into the cache's slots: our pool, with the video meta
 * (the only meta: the cache keeps no other, so upstream must not rely on
 * downstream supporting any), and downstream's minimum buffer count. */
static gboolean
propose_allocation (GstMemmapCache * self, GstQuery * query)
{
  GstAllocationParams params;
  GstBufferPool *pool = NULL;
  GstStructure *config;
  GstQuery *down;
  GstVideoInfo info;
  gboolean need_pool;
  GstCaps *caps;
  guint size, min = 0;

  gst_query_parse_allocation (query, &caps, &need_pool);
  if (caps == NULL || !gst_video_info_from_caps (&info, caps))
    return FALSE;
  if (self->store == NULL || gst_memmap_slot_store_is_closed (self->store) ||
      !gst_memmap_video_info_same_picture (&info,
          gst_memmap_slot_store_get_layout (self->store)))
    return FALSE;

  down = gst_query_new_allocation (caps, FALSE);
  if (gst_pad_peer_query (self->srcpad, down) &&
      gst_query_get_n_allocation_pools (down) > 0)
    gst_query_parse_nth_allocation_pool (down, 0, NULL, NULL, &min, NULL);
  gst_query_unref (down);

  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  size = GST_VIDEO_INFO_SIZE (&info);
  if (need_pool) {
    pool = gst_memmap_slot_pool_new (self->store);
    config = gst_buffer_pool_get_config (pool);
    gst_buffer_pool_config_set_params (config, caps, size, min, 0);
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    gst_allocation_params_init (&params);
    params.align = getpagesize () - 1;
    gst_buffer_pool_config_set_allocator (config, NULL, &params);
    if (!gst_buffer_pool_set_config (pool, config)) {
      GST_WARNING_OBJECT (self, "slot pool refused its config");
      gst_clear_object (&pool);
    }
  }
  GST_DEBUG_OBJECT (self, "proposing slot pool %" GST_PTR_FORMAT, pool);
  gst_query_add_allocation_pool (query, pool, size, min, 0);
  gst_clear_object (&pool);

  return TRUE;
}
static gboolean
gst_memmap_cache_sink_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);

  if (gst_memmap_context_handle_query (GST_ELEMENT (self), query,
          &self->engine))
    return TRUE;
  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION &&
      propose_allocation (self, query))
    return TRUE;

  return gst_pad_query_default (pad, parent, query);
}


/* Every seek goes upstream as it is: the demuxer and the decoder do what
 * they would without us. */
static gboolean
gst_memmap_cache_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);

  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    GstSeekType start_type, stop_type;
    GstSeekFlags flags;
    GstFormat format;
    gint64 start, stop;
    gdouble rate;

    gst_event_parse_seek (event, &rate, &format, &flags, &start_type, &start,
        &stop_type, &stop);
    GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT, event);
    /* not under the stream lock: a push may hold it, blocked downstream
     * until this seek flushes */
    GST_OBJECT_LOCK (self);
    self->seen_seek = TRUE;
    if (stop_type == GST_SEEK_TYPE_SET && stop >= 0)
      self->seek_stop = stop;
    else if (stop_type == GST_SEEK_TYPE_SET || stop_type == GST_SEEK_TYPE_END)
      self->seek_stop = GST_CLOCK_TIME_NONE;
    GST_OBJECT_UNLOCK (self);
  }
  return gst_pad_event_default (pad, parent, event);
}
static gboolean
gst_memmap_cache_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);

  if (gst_memmap_context_handle_query (GST_ELEMENT (self), query,
          &self->engine))
    return TRUE;

  return gst_pad_query_default (pad, parent, query);
}

/* ------------------------------------------------------------------------ */
/* states                                                                   */
static void
begin_stream (GstMemmapCache * self)
{
  GST_OBJECT_LOCK (self);
  g_free (self->cur.cache_dir);
  g_free (self->cur.key);
  self->cur.cache_dir = self->settings.cache_dir ?
      g_strdup (self->settings.cache_dir) :
      gst_memmap_cache_dir_default_path ();
  self->cur.max_size = self->settings.max_size;
  self->cur.key = g_strdup (self->settings.key);
  self->hits = self->misses = self->frames_recorded = self->frames_served = 0;
  self->frames_zero_copy = self->frames_copied = self->evictions = 0;
  self->frames_decoded = self->frames_discarded = self->packets_dropped = 0;
  g_clear_pointer (&self->not_cached, g_free);
  self->over_budget = FALSE;
  self->seen_seek = FALSE;
  self->seek_stop = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);

  g_rec_mutex_lock (&self->lock);
  self->may_evict = TRUE;
  self->warned = FALSE;
  self->warned_not_cached = FALSE;
  self->usable = TRUE;
  self->first_buffer = TRUE;
  self->last_end = GST_CLOCK_TIME_NONE;
  self->downstream_ended = FALSE;
  self->probe_gen = self->chain_gen = 0;
  self->dec_eos = FALSE;
  gst_memmap_cache_reset_segment (self);
  self->start_pending = TRUE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  g_rec_mutex_unlock (&self->lock);
}
static void
end_stream (GstMemmapCache * self)
{
  g_rec_mutex_lock (&self->lock);
  gst_memmap_cache_remove_probe (self);
  gst_memmap_cache_close (self);
  gst_memmap_cache_clear_map (self);
  gst_memmap_cache_reset_segment (self);
  g_clear_pointer (&self->dir, gst_memmap_cache_dir_free);
  gst_clear_caps (&self->caps);
  g_clear_pointer (&self->stream_id, g_free);
  gst_video_info_init (&self->info);
  g_rec_mutex_unlock (&self->lock);
}
static GstStateChangeReturn
gst_memmap_cache_change_state (GstElement * element, GstStateChange transition)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:{
      GstMemmapEngine *engine = gst_memmap_context_ensure_engine (element,
          &self->engine);

      gst_object_unref (engine);
      break;
    }
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      begin_stream (self);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_memmap_cache_parent_class)->change_state
      (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* our pads are inactive: only the probe may still run, and it stops
       * at the removal */
      end_stream (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:{
      GstMemmapEngine *engine;

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
gst_memmap_cache_set_context (GstElement * element, GstContext * context)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (element);

  gst_memmap_context_handle_set_context (element, context, &self->engine);

  GST_ELEMENT_CLASS (gst_memmap_cache_parent_class)->set_context (element,
      context);
}
