/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-memmapcache
 * @title: memmapcache
 * @see_also: memmapsink, #GstMemmapStoreReader
 *
 * A filter placed after a video decoder: the first time a stream plays, every
 * decoded frame goes through unchanged and is recorded in a frame store under
 * #GstMemmapCache:cache-dir; from then on, whatever is cached is served from
 * the store, zero-copy, and the decoder does no work for it.
 *
 * - Frames are decoded straight into the cache when the decoder takes the
 *   slot pool memmapcache offers in the allocation query, else copied once
 *   into a slot. Downstream always receives read-only memmap memory: the
 *   committed slot.
 * - A flushing seek in TIME format whose target is cached is answered by
 *   memmapcache itself, frame-accurately, without disturbing the decoder.
 *   When playback runs past the cached range, memmapcache seeks upstream to
 *   the first missing frame and carries on recording, seamlessly.
 * - On a later run of the same, unchanged input, every cached frame is
 *   served from the cache; once a stream is cached whole, the decoder only
 *   decodes the handful of frames that were in flight when memmapcache
 *   stopped it.
 * - #GstMemmapCache:max-size bounds the bytes on disk of the directory,
 *   shared by every pipeline and process that uses it; the least recently
 *   used streams nobody is using go first.
 * - A cache that cannot be used (no space, no permission, a corrupt store)
 *   never breaks playback: one warning on the bus, and the frames pass
 *   through uncached. When only the run's store cannot be created, the
 *   warning says so: what is cached is still served, the rest decoded.
 *
 * See docs/elements.md for how a stream is identified and what happens
 * when.
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

#include "gstmemmapelements.h"
#include "gstmemmapcontext.h"
#include "gstmemmapslotpool.h"

#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapcachedir.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_memmap_cache_debug);
#define GST_CAT_DEFAULT gst_memmap_cache_debug

#define DEFAULT_MAX_SIZE (G_GUINT64_CONSTANT (10) << 30)
#define DEFAULT_KEY NULL

/* A cached run shorter than this is not worth stopping the decoder for
 * when playback reaches it (the hand-over back costs an upstream seek). */
#define MIN_SERVE_RUN 16

/* Buffer flags a frame store keeps (format 1.1,
 * gst_memmap_store_frame_flags_from_buffer()) or that do not matter
 * (TAG_MEMORY); frames with any other flag pass through uncached. */
#define CACHEABLE_FLAGS (GST_BUFFER_FLAG_DISCONT | \
    GST_BUFFER_FLAG_TAG_MEMORY | GST_VIDEO_BUFFER_FLAG_INTERLACED | \
    GST_VIDEO_BUFFER_FLAG_TFF | GST_VIDEO_BUFFER_FLAG_RFF | \
    GST_VIDEO_BUFFER_FLAG_ONEFIELD | GST_BUFFER_FLAG_CORRUPTED | \
    GST_BUFFER_FLAG_GAP)

enum
{
  PROP_0,
  PROP_CACHE_DIR,
  PROP_MAX_SIZE,
  PROP_KEY,
  PROP_STATS,
};

typedef struct
{
  gchar *cache_dir;
  guint64 max_size;
  gchar *key;
} Settings;

typedef enum
{
  MODE_PASS,                    /* upstream's frames go through the chain */
  MODE_SERVE,                   /* the src task pushes cached frames */
  MODE_HANDOVER,                /* upstream was asked for handover_pts */
} Mode;

/* One frame of the in-memory map, sorted by pts. */
typedef struct
{
  GstClockTime pts;
  GstClockTime duration;
  guint store;                  /* index in readers */
  guint64 frame;                /* frame number in that store */
} CachedFrame;

#define GST_TYPE_MEMMAP_CACHE (gst_memmap_cache_get_type ())
G_DECLARE_FINAL_TYPE (GstMemmapCache, gst_memmap_cache, GST, MEMMAP_CACHE,
    GstElement)

struct _GstMemmapCache
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* under the object lock: the properties, the engine, the counters */
  Settings settings;
  GstMemmapEngine *engine;
  guint64 hits;
  guint64 misses;
  guint64 frames_recorded;
  guint64 frames_served;
  guint64 frames_zero_copy;
  guint64 frames_copied;
  guint64 evictions;
  guint64 bytes_on_disk;
  gboolean over_budget;         /* not recorded: does not fit max-size */

  /* under lock: what both the sink side and the src side (task, seeks)
   * touch */
  GMutex lock;
  GCond cond;
  GMutex flush_lock;            /* see "serving" */
  Mode mode;
  gboolean shutdown;            /* the src pad is being deactivated */
  gboolean idle;                /* the task is paused, or about to be */
  gboolean need_flush_stop;     /* the task pushes FLUSH_STOP first */
  guint32 flush_seqnum;
  guint flush_gen;              /* served seeks so far */
  guint flush_done_gen;         /* of those, flushes stopped */
  GThread *task_thread;         /* the thread of the src task */
  gboolean upstream_pushing;    /* the sink side pushes downstream */
  GThread *pushing_thread;      /* which thread, while it does */
  gboolean readable;            /* frames may be served */
  GArray *frames;               /* CachedFrame, sorted by pts */
  GPtrArray *readers;           /* GstMemmapStoreReader */
  GstMemmapCacheMeta meta;
  GstClockTime cursor;          /* serving: where the next frame starts */
  gboolean need_segment;        /* serving: push segment first */
  gboolean discont;             /* serving: next buffer is DISCONT */
  GstClockTime handover_pts;    /* handover: the first missing frame */
  guint32 handover_seqnum;      /* handover: our seek upstream */
  gboolean handover_flushed;    /* handover: its flush came back */
  gboolean own_segment;         /* downstream has our segment, not
                                 * upstream's */
  gboolean await_segment;       /* pass: drop data until upstream's flush
                                 * or segment of the seek we forwarded */
  guint32 await_seqnum;         /* that seek's seqnum */
  gboolean upstream_eos_pending;        /* we returned GST_FLOW_EOS upstream;
                                         * its EOS event has not come yet */
  gboolean seen_seek;           /* the stream did not play from its start */
  GstClockTime seek_stop;       /* the stop of the last seek, or NONE */
  guint32 seqnum;               /* of the segment downstream has: the
                                 * seek's that caused it */
  GstSegment segment;           /* the segment downstream has */
  GstSegment up_segment;        /* upstream's last segment */

  /* sink side (streaming thread and state changes) */
  Settings cur;
  gboolean warned;
  gboolean usable;              /* the cache may still be used at all */
  gboolean first_buffer;        /* no buffer yet since stream-start */
  gboolean start_counted;       /* hit or miss counted for the start */
  gchar *stream_id;
  GstCaps *caps;
  GstVideoInfo info;
  GstMemmapCacheDir *dir;
  GstMemmapCacheEntry *entry;
  GstMemmapSlotStore *store;    /* our recording, or NULL */
  gchar *store_path;
  guint store_reader;           /* its index in readers */
  guint64 chunk_bytes;
  guint64 bytes_since_check;
  guint64 stream_limit;         /* most bytes on disk of the entry */
  gboolean may_evict;           /* may evict other streams for this one */
  GstClockTime last_end;        /* end of the last frame pushed upstream */
  gboolean downstream_ended;    /* downstream returned EOS to a push */
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

static GstFlowReturn gst_memmap_cache_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buffer);
static gboolean gst_memmap_cache_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event);
static gboolean gst_memmap_cache_sink_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static gboolean gst_memmap_cache_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event);
static gboolean gst_memmap_cache_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query);
static gboolean gst_memmap_cache_src_activate_mode (GstPad * pad,
    GstObject * parent, GstPadMode mode, gboolean active);
static void gst_memmap_cache_loop (GstMemmapCache * self);

/* The formats a frame store can hold: every raw format but the tiled and
 * the paletted ones (docs/store-format.md). */
static GstCaps *
gst_memmap_cache_template_caps (void)
{
  GValue formats = G_VALUE_INIT, format = G_VALUE_INIT;
  const GstVideoFormat *raw;
  GstCaps *caps;
  guint i, n;

  g_value_init (&formats, GST_TYPE_LIST);
  g_value_init (&format, G_TYPE_STRING);
  raw = gst_video_formats_raw (&n);
  for (i = 0; i < n; i++) {
    const GstVideoFormatInfo *finfo = gst_video_format_get_info (raw[i]);

    if (GST_VIDEO_FORMAT_INFO_IS_TILED (finfo) ||
        GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo))
      continue;
    g_value_set_static_string (&format, GST_VIDEO_FORMAT_INFO_NAME (finfo));
    gst_value_list_append_value (&formats, &format);
  }

  caps = gst_caps_new_empty_simple ("video/x-raw");
  gst_caps_set_value (caps, "format", &formats);
  gst_caps_set_simple (caps,
      "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
      "height", GST_TYPE_INT_RANGE, 1, G_MAXINT,
      "framerate", GST_TYPE_FRACTION_RANGE, 0, 1, G_MAXINT, 1, NULL);

  g_value_unset (&format);
  g_value_unset (&formats);

  return caps;
}

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
   * - `hits`, `misses`: the stream's start and every seek, found in the
   *   cache or not
   * - `frames-recorded`: frames committed to the cache
   * - `frames-zero-copy`, `frames-copied`: of those, decoded into a slot or
   *   copied into one
   * - `frames-served`: frames pushed from the cache
   * - `evictions`: streams this element evicted
   * - `bytes-on-disk`: of the cache directory, when last measured
   *
   * the boolean `over-budget`: the stream was not recorded whole because
   * it does not fit in #GstMemmapCache:max-size; and `engine`, the
   * stats of the #GstMemmapEngine.
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
  caps = gst_memmap_cache_template_caps ();
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
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_memmap_cache_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->settings.cache_dir = NULL;
  self->settings.max_size = DEFAULT_MAX_SIZE;
  self->settings.key = g_strdup (DEFAULT_KEY);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_mutex_init (&self->flush_lock);
  self->frames = g_array_new (FALSE, FALSE, sizeof (CachedFrame));
  self->readers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_store_reader_free);
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  gst_segment_init (&self->up_segment, GST_FORMAT_TIME);
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
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->flush_lock);

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
      "over-budget", G_TYPE_BOOLEAN, self->over_budget, NULL);
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

#define COUNT(self, counter, n) G_STMT_START {  \
  GST_OBJECT_LOCK (self);                       \
  (self)->counter += (n);                       \
  GST_OBJECT_UNLOCK (self);                     \
} G_STMT_END

/* ------------------------------------------------------------------------ */
/* the map of cached frames, under lock                                     */

/* The frame whose [pts, pts + duration) holds @t, or -1. */
static gint
find_frame_at (GstMemmapCache * self, GstClockTime t)
{
  gint lo = 0, hi = (gint) self->frames->len - 1, found = -1;

  while (lo <= hi) {
    gint mid = lo + (hi - lo) / 2;

    if (g_array_index (self->frames, CachedFrame, mid).pts <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found >= 0) {
    CachedFrame *f = &g_array_index (self->frames, CachedFrame, found);

    if (t >= f->pts + f->duration)
      found = -1;
  }
  return found;
}

/* A seek's positions are stream times; the cached frames carry upstream's
 * buffer timestamps. The two differ by what upstream's segment says
 * (qtdemux shifts the timestamps of a clip with B-frames by their delay),
 * a shift that stays the same across upstream's segments of one stream.
 * Under lock. */
static GstClockTime
stream_time_to_pts (GstMemmapCache * self, GstClockTime t)
{
  guint64 pts;

  if (GST_CLOCK_TIME_IS_VALID (t) &&
      self->up_segment.format == GST_FORMAT_TIME &&
      gst_segment_position_from_stream_time_full (&self->up_segment,
          GST_FORMAT_TIME, t, &pts) == 1)
    return pts;
  return t;
}

/* The other way, for the seeks memmapcache sends upstream. Under lock. */
static GstClockTime
pts_to_stream_time (GstMemmapCache * self, GstClockTime pts)
{
  guint64 t;

  if (GST_CLOCK_TIME_IS_VALID (pts) &&
      self->up_segment.format == GST_FORMAT_TIME &&
      gst_segment_to_stream_time_full (&self->up_segment, GST_FORMAT_TIME,
          pts, &t) == 1)
    return t;
  return pts;
}

/* The frame that starts at @t, within half a frame, or -1. */
static gint
find_frame_starting (GstMemmapCache * self, GstClockTime t)
{
  gint lo = 0, hi = (gint) self->frames->len - 1, found = -1;
  CachedFrame *f;

  /* the first frame whose middle is after t */
  while (lo <= hi) {
    gint mid = lo + (hi - lo) / 2;

    f = &g_array_index (self->frames, CachedFrame, mid);
    if (f->pts + f->duration / 2 > t) {
      found = mid;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  if (found < 0)
    return -1;
  f = &g_array_index (self->frames, CachedFrame, found);
  if (f->pts > t + f->duration / 2)
    return -1;
  return found;
}

/* How many frames follow each other without a gap from frame @i, counting
 * up to @limit; *@end is where the run ends. */
static guint
run_length (GstMemmapCache * self, gint i, guint limit, GstClockTime * end)
{
  CachedFrame *f = &g_array_index (self->frames, CachedFrame, i);
  guint n = 1;

  while ((guint) i + 1 < self->frames->len && n < limit) {
    CachedFrame *next = &g_array_index (self->frames, CachedFrame, i + 1);
    GstClockTime f_end = f->pts + f->duration;

    if (next->pts + next->duration / 2 <= f_end ||
        next->pts > f_end + next->duration / 2)
      break;
    f = next;
    i++;
    n++;
  }
  if (end)
    *end = f->pts + f->duration;
  return n;
}

/* Worth stopping the decoder for: a long enough run, or one that reaches
 * the end of the stream. */
static gboolean
worth_serving (GstMemmapCache * self, gint i)
{
  GstClockTime end;
  guint n = run_length (self, i, MIN_SERVE_RUN, &end);

  if (n >= MIN_SERVE_RUN)
    return TRUE;
  return GST_CLOCK_TIME_IS_VALID (self->meta.end) &&
      end + g_array_index (self->frames, CachedFrame, i).duration / 2 >=
      self->meta.end;
}

static void
insert_frame (GstMemmapCache * self, const CachedFrame * frame)
{
  gint lo = 0, hi = (gint) self->frames->len;

  /* appending is the common case */
  if (hi > 0 && g_array_index (self->frames, CachedFrame, hi - 1).pts <
      frame->pts) {
    g_array_append_val (self->frames, *frame);
    return;
  }
  while (lo < hi) {
    gint mid = lo + (hi - lo) / 2;

    if (g_array_index (self->frames, CachedFrame, mid).pts < frame->pts)
      lo = mid + 1;
    else
      hi = mid;
  }
  g_array_insert_val (self->frames, lo, *frame);
}

/* Whether a frame of @pts and @duration overlaps one already cached. */
static gboolean
is_cached (GstMemmapCache * self, GstClockTime pts, GstClockTime duration)
{
  gint i = find_frame_at (self, pts + duration / 2);

  return i >= 0;
}

/* A decoder clips the frame that holds the start of an accurate seek to
 * the segment: its pts is the segment's start, its duration shorter than a
 * frame. Its real timestamps are unknown, so it is not recorded. */
static gboolean
is_clipped (GstMemmapCache * self, GstClockTime pts, GstClockTime duration)
{
  GstClockTime nominal;

  if (pts != self->up_segment.start || pts == 0)
    return FALSE;
  if (GST_VIDEO_INFO_FPS_N (&self->info) <= 0)
    return TRUE;
  nominal = gst_util_uint64_scale_int (GST_SECOND,
      GST_VIDEO_INFO_FPS_D (&self->info), GST_VIDEO_INFO_FPS_N (&self->info));
  return duration + GST_USECOND < nominal;
}

/* ------------------------------------------------------------------------ */
/* failures                                                                 */

/* Stops recording: the slot store closes (its pool hands out plain memory
 * from then on) and upstream is asked to renegotiate its allocation. */
static void
stop_recording (GstMemmapCache * self)
{
  if (self->store == NULL)
    return;
  gst_memmap_slot_store_close (self->store, NULL);
  gst_pad_push_event (self->sinkpad, gst_event_new_reconfigure ());
}

/* What the stream goes on with, after a failure that leaves nothing of the
 * cache usable, and after one that only stops recording. */
#define WITHOUT_CACHE "playing without it"
#define WITHOUT_RECORDING "going on without recording: what is cached is " \
    "served, the rest decoded"

/* The one warning for the stream about @error at @path; @serving: only
 * recording stopped, what is cached is still served. */
static void
warn_once (GstMemmapCache * self, const GError * error, const gchar * path,
    gboolean serving)
{
  const gchar *then = serving ? WITHOUT_RECORDING : WITHOUT_CACHE;
  gboolean warn = !self->warned;

  self->warned = TRUE;
  if (!warn) {
    GST_DEBUG_OBJECT (self, "cache still unusable: %s", error->message);
    return;
  }
  if ((error->domain == GST_MEMMAP_ERROR &&
          error->code == GST_MEMMAP_ERROR_NO_SPACE) ||
      (error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOSPC)) {
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("No space left for the frame cache \"%s\"; %s.", path, then),
        ("%s: %s", path, error->message));
  } else if (error->domain == GST_MEMMAP_ERROR &&
      (error->code == GST_MEMMAP_ERROR_CORRUPT ||
          error->code == GST_MEMMAP_ERROR_VERSION)) {
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("The frame cache \"%s\" is corrupt; %s.", path, then),
        ("%s: %s", path, error->message));
  } else if (error->domain == GST_MEMMAP_ERROR &&
      error->code == GST_MEMMAP_ERROR_TRUNCATED) {
    /* its writer (this element, or another) left it damaged */
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("The frame cache \"%s\" was truncated by another program; %s.",
            path, then), ("%s: %s", path, error->message));
  } else {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
        ("Could not %s the frame cache \"%s\"; %s.",
            serving ? "record into" : "use", path, then),
        ("%s: %s", path, error->message));
  }
}

/* The cache cannot be used: one warning for the stream, then the frames
 * pass through uncached. What is being served goes on. */
static void
cache_failed (GstMemmapCache * self, const GError * error, const gchar * path)
{
  self->usable = FALSE;
  g_mutex_lock (&self->lock);
  self->readable = FALSE;
  g_mutex_unlock (&self->lock);
  stop_recording (self);
  warn_once (self, error, path, FALSE);
}

/* ------------------------------------------------------------------------ */
/* opening and closing a stream's cache                                     */

static void
update_disk_usage (GstMemmapCache * self, guint64 reserve)
{
  guint64 bytes;
  guint n = 0;

  if (self->dir == NULL)
    return;
  bytes = gst_memmap_cache_dir_enforce_budget (self->dir, self->cur.max_size,
      reserve, self->entry ? gst_memmap_cache_entry_get_hash (self->entry) :
      NULL, &n);
  GST_OBJECT_LOCK (self);
  self->bytes_on_disk = bytes;
  self->evictions += n;
  GST_OBJECT_UNLOCK (self);
  if (n > 0)
    GST_INFO_OBJECT (self, "evicted %u streams from %s, %" G_GUINT64_FORMAT
        " bytes on disk now", n, gst_memmap_cache_dir_get_path (self->dir),
        bytes);
}

/* Closes what the stream opened. The readers stay until the task stopped:
 * see clear_readers().
 *
 * The budget is enforced before the entry closes, with the entry kept (and
 * still locked): the stream just played is the most recently used, and
 * evicting it at its own close would throw away what was just recorded
 * (its last chunk is reserved whole and counts on disk, so a recording
 * that ends near max-size is often over it). */
static void
close_cache (GstMemmapCache * self)
{
  if (self->store) {
    guint64 committed;

    gst_memmap_slot_store_close (self->store, NULL);
    committed = gst_memmap_slot_store_get_committed (self->store);
    g_clear_pointer (&self->store, gst_memmap_slot_store_unref);
    if (committed == 0 && self->entry)
      gst_memmap_cache_entry_remove_store (self->entry, self->store_path);
    GST_INFO_OBJECT (self, "recorded %" G_GUINT64_FORMAT " frames in %s",
        committed, self->store_path);
  }
  g_clear_pointer (&self->store_path, g_free);
  if (self->entry) {
    update_disk_usage (self, 0);
    if (self->dir && self->bytes_on_disk > self->cur.max_size) {
      guint64 own = gst_memmap_cache_entry_get_usage (self->entry);

      if (own > self->cur.max_size)
        GST_WARNING_OBJECT (self, "%s alone takes %" G_GUINT64_FORMAT
            " bytes on disk, over max-size=%" G_GUINT64_FORMAT ": kept "
            "until another stream needs the room",
            gst_memmap_cache_entry_get_path (self->entry), own,
            self->cur.max_size);
      else
        GST_INFO_OBJECT (self, "%" G_GUINT64_FORMAT " bytes on disk, over "
            "max-size=%" G_GUINT64_FORMAT ": what is in use stays, and so "
            "does %s, just closed (%" G_GUINT64_FORMAT " bytes)",
            self->bytes_on_disk, self->cur.max_size,
            gst_memmap_cache_entry_get_path (self->entry), own);
    }
    g_clear_pointer (&self->entry, gst_memmap_cache_entry_close);
  }
}

static void
clear_map (GstMemmapCache * self)
{
  GPtrArray *readers;

  g_mutex_lock (&self->lock);
  g_array_set_size (self->frames, 0);
  readers = self->readers;
  self->readers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_store_reader_free);
  self->meta.start = self->meta.end = GST_CLOCK_TIME_NONE;
  self->meta.complete = FALSE;
  self->readable = FALSE;
  g_mutex_unlock (&self->lock);
  g_ptr_array_unref (readers);
}

/* The identity of the stream, as a string to hash. */
static gchar *
stream_identity (GstMemmapCache * self, GstCaps * caps)
{
  GString *s = g_string_new ("memmapcache 1\n");
  gchar *caps_str;

  if (self->cur.key) {
    g_string_append_printf (s, "key=%s\n", self->cur.key);
  } else {
    GstQuery *query = gst_query_new_uri ();
    gchar *uri = NULL;

    if (gst_pad_peer_query (self->sinkpad, query))
      gst_query_parse_uri (query, &uri);
    gst_query_unref (query);
    if (uri) {
      g_string_append_printf (s, "uri=%s\n", uri);
      if (g_str_has_prefix (uri, "file:")) {
        gchar *filename = g_filename_from_uri (uri, NULL, NULL);
        struct stat st;

        if (filename && stat (filename, &st) == 0)
          g_string_append_printf (s, "size=%" G_GINT64_FORMAT "\n"
              "mtime=%" G_GINT64_FORMAT ".%09ld\n", (gint64) st.st_size,
              (gint64) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);
        g_free (filename);
      }
      g_free (uri);
    }
    g_string_append_printf (s, "stream-id=%s\n",
        self->stream_id ? self->stream_id : "");
  }
  caps_str = gst_caps_to_string (caps);
  g_string_append_printf (s, "caps=%s\n", caps_str);
  g_free (caps_str);

  return g_string_free (s, FALSE);
}

static gboolean
same_video_layout (const GstVideoInfo * a, const GstVideoInfo * b)
{
  guint i;

  if (GST_VIDEO_INFO_FORMAT (a) != GST_VIDEO_INFO_FORMAT (b) ||
      GST_VIDEO_INFO_WIDTH (a) != GST_VIDEO_INFO_WIDTH (b) ||
      GST_VIDEO_INFO_HEIGHT (a) != GST_VIDEO_INFO_HEIGHT (b) ||
      GST_VIDEO_INFO_SIZE (a) != GST_VIDEO_INFO_SIZE (b))
    return FALSE;
  for (i = 0; i < GST_VIDEO_INFO_N_PLANES (a); i++) {
    if (GST_VIDEO_INFO_PLANE_OFFSET (a, i) !=
        GST_VIDEO_INFO_PLANE_OFFSET (b, i) ||
        GST_VIDEO_INFO_PLANE_STRIDE (a, i) !=
        GST_VIDEO_INFO_PLANE_STRIDE (b, i))
      return FALSE;
  }
  return TRUE;
}

static GstMemmapEngine *
get_engine (GstMemmapCache * self)
{
  GstMemmapEngine *engine;

  GST_OBJECT_LOCK (self);
  engine = self->engine ? gst_object_ref (self->engine) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (engine == NULL)
    engine = gst_memmap_context_ensure_engine (GST_ELEMENT (self),
        &self->engine);
  return engine;
}

/* Opens every store of the entry and maps its frames. */
static gboolean
load_stores (GstMemmapCache * self, GstMemmapEngine * engine,
    GError ** error, gchar ** failed_path)
{
  gchar **paths = gst_memmap_cache_entry_list_stores (self->entry);
  guint i;
  gboolean ret = TRUE;

  for (i = 0; paths[i] && ret; i++) {
    GstMemmapStoreReader *reader;
    guint64 n, f, committed;
    guint index;

    reader = gst_memmap_store_reader_open (engine, paths[i], error);
    if (reader == NULL) {
      ret = FALSE;
      *failed_path = g_strdup (paths[i]);
      break;
    }
    if (!same_video_layout (gst_memmap_store_reader_get_layout (reader),
            &self->info)) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
          "Frame store '%s' holds another video layout than its key says",
          paths[i]);
      gst_memmap_store_reader_free (reader);
      *failed_path = g_strdup (paths[i]);
      ret = FALSE;
      break;
    }
    committed = gst_memmap_store_reader_get_committed (reader);
    g_mutex_lock (&self->lock);
    index = self->readers->len;
    g_ptr_array_add (self->readers, reader);
    n = 0;
    for (f = gst_memmap_store_reader_get_first_frame (reader); f < committed;
        f++) {
      GstMemmapStoreEntry e;
      CachedFrame frame;

      if (!gst_memmap_store_reader_get_entry (reader, f, &e, error)) {
        *failed_path = g_strdup (paths[i]);
        ret = FALSE;
        break;
      }
      if (!GST_CLOCK_TIME_IS_VALID (e.pts) ||
          !GST_CLOCK_TIME_IS_VALID (e.duration) || e.duration == 0 ||
          is_cached (self, e.pts, e.duration))
        continue;
      frame.pts = e.pts;
      frame.duration = e.duration;
      frame.store = index;
      frame.frame = f;
      insert_frame (self, &frame);
      n++;
    }
    g_mutex_unlock (&self->lock);
    GST_INFO_OBJECT (self, "%s: %" G_GUINT64_FORMAT " frames of %"
        G_GUINT64_FORMAT " mapped", paths[i], n, committed);
  }
  g_strfreev (paths);

  return ret;
}

/* The stream does not fit the budget (gst_memmap_cache_stream_limit()):
 * known to be larger than max-size (@estimate), only its start is
 * recorded, evicting nothing; or it reached the most its entry may take
 * (@estimate 0). Says so once. */
static void
over_budget (GstMemmapCache * self, guint64 estimate)
{
  gboolean warn = !self->warned;

  GST_OBJECT_LOCK (self);
  self->over_budget = TRUE;
  GST_OBJECT_UNLOCK (self);
  self->warned = TRUE;
  if (!warn)
    return;
  if (estimate > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("The stream does not fit in the frame cache (about %"
            G_GUINT64_FORMAT " MB, max-size=%" G_GUINT64_FORMAT " MB): only "
            "its start is recorded, into free room, nothing evicted.",
            estimate / 1000000, self->cur.max_size / 1000000),
        ("%s: about %" G_GUINT64_FORMAT " bytes, max-size=%" G_GUINT64_FORMAT
            ", at most %" G_GUINT64_FORMAT " recorded",
            gst_memmap_cache_entry_get_path (self->entry), estimate,
            self->cur.max_size, self->stream_limit));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("The stream reached the most the frame cache holds of %s "
            "(max-size=%" G_GUINT64_FORMAT " MB); " WITHOUT_RECORDING ".",
            self->stream_limit < self->cur.max_size ?
            "a stream of unknown length, half" : "one stream",
            self->cur.max_size / 1000000),
        ("%s: %" G_GUINT64_FORMAT " bytes on disk, at most %" G_GUINT64_FORMAT,
            gst_memmap_cache_entry_get_path (self->entry),
            gst_memmap_cache_entry_get_usage (self->entry),
            self->stream_limit));
}

/* Whether the stream's entry may grow by another chunk. */
static gboolean
stream_fits (GstMemmapCache * self)
{
  return gst_memmap_cache_entry_get_usage (self->entry) + self->chunk_bytes <=
      self->stream_limit;
}

/* Whether there is room under max-size for another chunk: made by evicting
 * the least recently used streams if this stream may evict, else only
 * what is free. */
static gboolean
room_for_chunk (GstMemmapCache * self)
{
  guint64 bytes;

  if (self->may_evict) {
    update_disk_usage (self, self->chunk_bytes);
  } else {
    bytes = gst_memmap_cache_dir_get_usage (self->dir);
    GST_OBJECT_LOCK (self);
    self->bytes_on_disk = bytes;
    GST_OBJECT_UNLOCK (self);
  }
  return self->bytes_on_disk + self->chunk_bytes <= self->cur.max_size;
}

/* What the whole stream takes on disk, 0 if unknown (upstream knows no
 * duration, or the frame rate is variable). */
static guint64
estimate_stream (GstMemmapCache * self, guint64 slot_bytes)
{
  gint64 duration = -1;

  if (!gst_pad_peer_query_duration (self->sinkpad, GST_FORMAT_TIME,
          &duration) || duration <= 0)
    return 0;
  return gst_memmap_cache_estimate_stream_bytes (slot_bytes,
      GST_VIDEO_INFO_FPS_N (&self->info), GST_VIDEO_INFO_FPS_D (&self->info),
      duration);
}

/* Creates the store this run records into. Not recording (no room, or
 * failed), the run gives the writer lock back: another pipeline or process
 * may record the stream while this one still plays it. */
static gboolean
open_recording (GstMemmapCache * self, GstMemmapEngine * engine,
    GError ** error)
{
  GstMemmapStoreWriter *writer;
  GstMemmapStoreReader *reader;
  guint64 slot_bytes, estimate;

  if (!gst_memmap_cache_entry_lock_writer (self->entry, error))
    return FALSE;

  /* a chunk is a sixteenth of the budget at most, so that small budgets
   * are not exceeded by one reservation */
  slot_bytes = GST_ROUND_UP_N ((guint64) GST_VIDEO_INFO_SIZE (&self->info),
      4096);
  self->chunk_bytes = MIN (GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES,
      MAX (self->cur.max_size / 16, slot_bytes));
  /* a stream that cannot fit evicts nothing for a fragment of itself */
  estimate = estimate_stream (self, slot_bytes);
  self->stream_limit = gst_memmap_cache_stream_limit (self->cur.max_size,
      estimate, &self->may_evict);
  if (estimate > self->cur.max_size)
    over_budget (self, estimate);
  if (!stream_fits (self)) {
    over_budget (self, 0);
    gst_memmap_cache_entry_unlock_writer (self->entry);
    return TRUE;
  }
  if (!room_for_chunk (self)) {
    GST_INFO_OBJECT (self, "no room under max-size=%" G_GUINT64_FORMAT
        ": not recording", self->cur.max_size);
    gst_memmap_cache_entry_unlock_writer (self->entry);
    return TRUE;
  }

  self->store_path = gst_memmap_cache_entry_new_store_path (self->entry);
  writer = gst_memmap_store_writer_new_full (engine, self->store_path,
      self->caps, &self->info, GST_MEMMAP_STORE_MODE_APPEND, 0, 0,
      self->chunk_bytes, GST_MEMMAP_STORE_WRITER_FLAG_NONE, error);
  if (writer == NULL)
    goto failed;
  reader = gst_memmap_store_reader_open (engine, self->store_path, error);
  if (reader == NULL) {
    gst_memmap_store_writer_free (writer);
    /* empty: nothing to keep */
    gst_memmap_cache_entry_remove_store (self->entry, self->store_path);
    goto failed;
  }
  self->store = gst_memmap_slot_store_new (writer);
  self->bytes_since_check = 0;
  g_mutex_lock (&self->lock);
  self->store_reader = self->readers->len;
  g_ptr_array_add (self->readers, reader);
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "recording into %s", self->store_path);

  return TRUE;

failed:
  gst_memmap_cache_entry_unlock_writer (self->entry);
  return FALSE;
}

/* At the caps: identify the stream, open its entry, map what is cached and
 * start recording what is not. */
static void
open_cache (GstMemmapCache * self)
{
  GstMemmapEngine *engine = NULL;
  GError *error = NULL;
  gchar *identity, *hash, *failed_path = NULL;
  const gchar *path;

  close_cache (self);
  clear_map (self);
  if (!self->usable)
    return;

  identity = stream_identity (self, self->caps);
  hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, identity, -1);
  GST_DEBUG_OBJECT (self, "identity %s-> %s", identity, hash);
  g_free (identity);

  if (self->dir == NULL) {
    self->dir = gst_memmap_cache_dir_open (self->cur.cache_dir, &error);
    if (self->dir == NULL) {
      cache_failed (self, error, self->cur.cache_dir);
      goto out;
    }
  }
  self->entry = gst_memmap_cache_entry_open (self->dir, hash, &error);
  if (self->entry == NULL) {
    cache_failed (self, error, self->cur.cache_dir);
    goto out;
  }
  path = gst_memmap_cache_entry_get_path (self->entry);

  engine = get_engine (self);
  g_mutex_lock (&self->lock);
  gst_memmap_cache_entry_read_meta (self->entry, &self->meta);
  g_mutex_unlock (&self->lock);
  if (!load_stores (self, engine, &error, &failed_path)) {
    cache_failed (self, error, failed_path);
    /* the next run starts afresh, if nobody else uses it now */
    clear_map (self);
    gst_memmap_cache_entry_clear (self->entry);
    goto out;
  }
  g_mutex_lock (&self->lock);
  self->readable = TRUE;
  /* a complete marker that the stores do not back up is ignored */
  if (self->meta.complete) {
    gint i = find_frame_starting (self, self->meta.start);
    GstClockTime end = 0;

    if (i < 0 || (run_length (self, i, G_MAXUINT, &end), end +
            g_array_index (self->frames, CachedFrame, i).duration / 2 <
            self->meta.end)) {
      GST_WARNING_OBJECT (self, "%s: marked complete but not whole", path);
      self->meta.complete = FALSE;
    }
  }
  g_mutex_unlock (&self->lock);

  GST_INFO_OBJECT (self, "cache %s: %u frames cached%s", path,
      self->frames->len, self->meta.complete ? ", complete" : "");

  if (!self->meta.complete && !open_recording (self, engine, &error)) {
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN)) {
      /* another pipeline records this stream: use what it committed */
      GST_INFO_OBJECT (self, "%s", error->message);
      g_clear_error (&error);
    } else {
      /* no store to record into (a full disk, say): the one warning, but
       * what is cached is intact and still served */
      warn_once (self, error, self->store_path ? self->store_path : path,
          TRUE);
      g_clear_pointer (&self->store_path, g_free);
    }
  }

out:
  g_clear_error (&error);
  g_free (failed_path);
  g_free (hash);
  gst_clear_object (&engine);
}

/* Writes the meta file, when this pipeline records the stream. */
static void
write_meta (GstMemmapCache * self)
{
  GstMemmapCacheMeta meta;
  GError *error = NULL;

  if (self->store == NULL || self->entry == NULL)
    return;
  g_mutex_lock (&self->lock);
  meta = self->meta;
  g_mutex_unlock (&self->lock);
  if (!gst_memmap_cache_entry_write_meta (self->entry, &meta, &error)) {
    cache_failed (self, error, gst_memmap_cache_entry_get_path (self->entry));
    g_clear_error (&error);
  }
}

/* At EOS from upstream: the stream ends at the last frame; complete if one
 * run of frames covers it from its first frame. */
static void
mark_end (GstMemmapCache * self)
{
  gboolean changed = FALSE;

  if (!GST_CLOCK_TIME_IS_VALID (self->last_end) || self->downstream_ended) {
    GST_DEBUG_OBJECT (self, "EOS%s: the end of the stream is not known",
        self->downstream_ended ? " after downstream ended the stream" : "");
    return;
  }
  g_mutex_lock (&self->lock);
  /* a seek's stop ends the stream early: that is not its end */
  if (!GST_CLOCK_TIME_IS_VALID (self->seek_stop) &&
      self->segment.rate == 1.0) {
    gint i;

    if (self->meta.end != self->last_end) {
      self->meta.end = self->last_end;
      changed = TRUE;
    }
    if (!self->meta.complete && GST_CLOCK_TIME_IS_VALID (self->meta.start) &&
        (i = find_frame_starting (self, self->meta.start)) >= 0) {
      GstClockTime end;

      run_length (self, i, G_MAXUINT, &end);
      if (end + g_array_index (self->frames, CachedFrame, i).duration / 2 >=
          self->meta.end) {
        self->meta.complete = TRUE;
        changed = TRUE;
      }
    }
  }
  g_mutex_unlock (&self->lock);

  if (changed) {
    GST_INFO_OBJECT (self, "stream ends at %" GST_TIME_FORMAT "%s",
        GST_TIME_ARGS (self->meta.end),
        self->meta.complete ? ", all cached" : "");
    write_meta (self);
  }
}

/* ------------------------------------------------------------------------ */
/* pushing downstream from the sink side                                    */

/* Runs @push while the sink side may push (in MODE_PASS); the src side
 * waits for it to finish before it takes over. */
static gboolean
begin_upstream_push (GstMemmapCache * self)
{
  g_mutex_lock (&self->lock);
  if (self->mode != MODE_PASS) {
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  self->upstream_pushing = TRUE;
  self->pushing_thread = g_thread_self ();
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static void
end_upstream_push (GstMemmapCache * self)
{
  g_mutex_lock (&self->lock);
  self->upstream_pushing = FALSE;
  self->pushing_thread = NULL;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* Forwards an event from upstream, unless the src side serves. */
static gboolean
forward_event (GstMemmapCache * self, GstEvent * event)
{
  gboolean ret;

  if (!begin_upstream_push (self)) {
    GST_DEBUG_OBJECT (self, "serving from the cache: dropping %"
        GST_PTR_FORMAT, event);
    gst_event_unref (event);
    return TRUE;
  }
  ret = gst_pad_push_event (self->srcpad, event);
  end_upstream_push (self);
  /* refused because we flush downstream ourselves (a seek served from the
   * cache): the event is obsolete, and no reason for upstream to fail */
  if (!ret && GST_PAD_IS_FLUSHING (self->srcpad))
    ret = TRUE;
  return ret;
}

/* ------------------------------------------------------------------------ */
/* serving                                                                  */

/*
 * The src task and who starts and pauses it. Every decision to start or
 * pause the task is taken under lock, so that a seek that gives the task
 * new work (and starts it) can never be undone by the task pausing itself
 * for the work it had before.
 *
 * A seek served from the cache costs one thread hand-over: the seeking
 * thread pushes FLUSH_START (which unblocks the task if it waits in a
 * prerolled sink), records the new position and leaves FLUSH_STOP to the
 * task, which pushes it before the new segment and frames. Since only the
 * task pushes FLUSH_STOP while it serves, no stale frame can follow it.
 * flush_lock keeps each FLUSH_START before the FLUSH_STOP that ends it.
 */

/* Before a flushing seek goes upstream: when upstream was just stopped
 * with GST_FLOW_EOS, let its EOS event through first. A flush racing with
 * that EOS makes GstVideoDecoder fail the EOS and the demuxer post an
 * error. Bounded, since not every upstream sends that EOS on to us (a
 * multiqueue that already had EOS returned may drop it). */
static void
wait_upstream_stopped (GstMemmapCache * self)
{
  gint64 end = g_get_monotonic_time () + 200 * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&self->lock);
  while (self->upstream_eos_pending && !self->shutdown) {
    if (!g_cond_wait_until (&self->cond, &self->lock, end)) {
      GST_DEBUG_OBJECT (self, "no EOS from upstream: seeking anyway");
      break;
    }
  }
  self->upstream_eos_pending = FALSE;
  g_mutex_unlock (&self->lock);
}

/* Under lock. */
static void
start_task (GstMemmapCache * self)
{
  self->idle = FALSE;
  gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_memmap_cache_loop,
      self, NULL);
}

/* Under lock, from the task only. */
static void
pause_task (GstMemmapCache * self)
{
  self->idle = TRUE;
  gst_pad_pause_task (self->srcpad);
}

/* From the sink side: playback reached cached frames (at @pts). The src
 * task takes over in the same segment; the caller returns GST_FLOW_EOS
 * upstream, which stops the decoder. Under lock. */
static void
switch_to_serving (GstMemmapCache * self, GstClockTime pts)
{
  GST_INFO_OBJECT (self, "serving from the cache at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (pts));
  self->mode = MODE_SERVE;
  self->cursor = pts;
  self->need_segment = FALSE;
  start_task (self);
}

/* For a seek that goes upstream: downstream is flushed, the task stopped
 * and the sink side passes upstream's data again. */
static void
stop_serving (GstMemmapCache * self, guint32 seqnum)
{
  GstEvent *event;

  g_mutex_lock (&self->flush_lock);
  g_mutex_lock (&self->lock);
  self->mode = MODE_PASS;
  self->need_flush_stop = FALSE;
  self->idle = TRUE;
  g_mutex_unlock (&self->lock);

  event = gst_event_new_flush_start ();
  gst_event_set_seqnum (event, seqnum);
  gst_pad_push_event (self->srcpad, event);
  /* waits for the task to leave its loop (its push returns flushing) */
  gst_pad_pause_task (self->srcpad);
  event = gst_event_new_flush_stop (TRUE);
  gst_event_set_seqnum (event, seqnum);
  gst_pad_push_event (self->srcpad, event);
  g_mutex_lock (&self->lock);
  self->flush_done_gen = self->flush_gen;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->flush_lock);

  /* playback may have reached cached frames meanwhile */
  g_mutex_lock (&self->lock);
  if (self->mode == MODE_SERVE && !self->idle)
    start_task (self);
  g_mutex_unlock (&self->lock);
}

/* A seek whose target is cached: flush downstream and serve from the frame
 * that holds @target. The decoder is not told. */
static void
serve_seek (GstMemmapCache * self, GstClockTime target, GstSeekType stop_type,
    GstClockTime stop, guint32 seqnum)
{
  GstEvent *event = gst_event_new_flush_start ();
  guint gen;
  gint i;

  gst_event_set_seqnum (event, seqnum);

  g_mutex_lock (&self->flush_lock);
  /* the sink side stops pushing and the task drops what it prepared (it
   * waits for flush_lock before its FLUSH_STOP), then downstream is
   * flushed */
  g_mutex_lock (&self->lock);
  self->mode = MODE_SERVE;
  self->need_flush_stop = TRUE;
  g_mutex_unlock (&self->lock);
  gst_pad_push_event (self->srcpad, event);

  g_mutex_lock (&self->lock);
  /* (not when downstream seeks from inside our own push: that push
   * returns flushing once we return) */
  while (self->upstream_pushing && self->pushing_thread != g_thread_self ())
    g_cond_wait (&self->cond, &self->lock);
  i = find_frame_at (self, target);
  self->cursor = i >= 0 ? g_array_index (self->frames, CachedFrame, i).pts :
      target;
  /* GST_SEEK_TYPE_NONE keeps the stop */
  if (stop_type == GST_SEEK_TYPE_NONE)
    stop = self->segment.stop;
  else if (stop_type != GST_SEEK_TYPE_SET)
    stop = GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (stop) && stop < target)
    stop = GST_CLOCK_TIME_NONE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->segment.start = target;
  self->segment.position = target;
  self->segment.stop = stop;
  if (self->up_segment.format == GST_FORMAT_TIME &&
      target >= self->up_segment.start)
    self->segment.time = gst_segment_to_stream_time (&self->up_segment,
        GST_FORMAT_TIME, target);
  else
    self->segment.time = target;
  if (!GST_CLOCK_TIME_IS_VALID (self->segment.time))
    self->segment.time = target;
  self->mode = MODE_SERVE;
  self->seqnum = seqnum;
  self->flush_seqnum = seqnum;
  self->need_flush_stop = TRUE;
  gen = ++self->flush_gen;
  self->need_segment = TRUE;
  self->discont = TRUE;
  self->own_segment = TRUE;
  self->seen_seek = TRUE;
  GST_DEBUG_OBJECT (self, "seek to %" GST_TIME_FORMAT " served from the "
      "cache from %" GST_TIME_FORMAT, GST_TIME_ARGS (target),
      GST_TIME_ARGS (self->cursor));
  start_task (self);
  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->flush_lock);

  /* Return once the task pushed FLUSH_STOP (it goes on with the segment
   * and the first frame meanwhile): a seek that followed at once would
   * otherwise meet flushing pads downstream and fail. */
  g_mutex_lock (&self->lock);
  while (self->flush_done_gen < gen && !self->shutdown &&
      self->task_thread != g_thread_self ())
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);
}

/* The task pushes the FLUSH_STOP of the last seek it was given. */
static void
push_flush_stop (GstMemmapCache * self)
{
  GstEvent *event = NULL;

  guint gen;

  g_mutex_lock (&self->flush_lock);
  g_mutex_lock (&self->lock);
  if (self->need_flush_stop) {
    event = gst_event_new_flush_stop (TRUE);
    gst_event_set_seqnum (event, self->flush_seqnum);
    self->need_flush_stop = FALSE;
  }
  gen = self->flush_gen;
  g_mutex_unlock (&self->lock);
  if (event)
    gst_pad_push_event (self->srcpad, event);
  g_mutex_lock (&self->lock);
  self->flush_done_gen = gen;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->flush_lock);
}

/* The cached run ends at @pts: ask upstream for the rest, frame-accurately,
 * and drop what comes before @pts. From the task, under lock; returns
 * without it. */
static void
hand_over (GstMemmapCache * self, GstClockTime pts)
{
  GstEvent *seek;
  GstClockTime stop = self->segment.stop;
  guint32 seqnum = self->seqnum;
  gboolean ours;

  /* the stop is always set (-1: none), since NONE would keep whatever
   * stop upstream had from an earlier seek */
  seek = gst_event_new_seek (1.0, GST_FORMAT_TIME,
      GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET,
      pts_to_stream_time (self, pts), GST_SEEK_TYPE_SET,
      pts_to_stream_time (self, stop));
  self->mode = MODE_HANDOVER;
  self->handover_pts = pts;
  self->handover_seqnum = gst_event_get_seqnum (seek);
  self->handover_flushed = FALSE;
  /* before the seek: upstream may push, and playback switch back to
   * serving, before the seek returns */
  pause_task (self);
  g_mutex_unlock (&self->lock);

  GST_INFO_OBJECT (self, "cached frames end at %" GST_TIME_FORMAT ": asking "
      "upstream for the rest", GST_TIME_ARGS (pts));

  wait_upstream_stopped (self);
  if (gst_pad_push_event (self->sinkpad, seek)) {
    /* a flushing seek handled: whatever upstream pushes now is new */
    g_mutex_lock (&self->lock);
    if (self->mode == MODE_HANDOVER && self->handover_pts == pts)
      self->handover_flushed = TRUE;
    g_mutex_unlock (&self->lock);
    return;
  }

  g_mutex_lock (&self->lock);
  ours = self->mode == MODE_HANDOVER && self->handover_pts == pts &&
      !self->need_flush_stop;
  g_mutex_unlock (&self->lock);
  if (!ours)
    return;
  GST_ELEMENT_WARNING (self, STREAM, FAILED,
      ("Could not continue past the cached frames: upstream refused to "
          "seek."), ("seek to %" GST_TIME_FORMAT " failed",
          GST_TIME_ARGS (pts)));
  seek = gst_event_new_eos ();
  gst_event_set_seqnum (seek, seqnum);
  gst_pad_push_event (self->srcpad, seek);
}

/* From the task, under lock; returns without it. */
static void
push_eos (GstMemmapCache * self)
{
  GstEvent *eos = gst_event_new_eos ();

  gst_event_set_seqnum (eos, self->seqnum);
  pause_task (self);
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "end of the stream, from the cache");
  gst_pad_push_event (self->srcpad, eos);
}

/* Whether what the task prepared may still go downstream. Under lock. */
static gboolean
still_serving (GstMemmapCache * self)
{
  return self->mode == MODE_SERVE && !self->shutdown &&
      !self->need_flush_stop && !self->idle;
}

/* The src task: a flush stop, a segment or one cached frame per
 * iteration. */
static void
gst_memmap_cache_loop (GstMemmapCache * self)
{
  GstMemmapStoreReader *reader;
  GstEvent *segment_event;
  GstBuffer *buf;
  GError *error = NULL;
  CachedFrame f;
  GstFlowReturn ret;
  guint64 cstart, cstop;
  gint i;

  g_mutex_lock (&self->lock);
  self->task_thread = g_thread_self ();
  if (self->shutdown || self->mode != MODE_SERVE) {
    pause_task (self);
    g_mutex_unlock (&self->lock);
    return;
  }
  if (self->need_flush_stop) {
    g_mutex_unlock (&self->lock);
    push_flush_stop (self);
    return;
  }
  if (self->need_segment) {
    segment_event = gst_event_new_segment (&self->segment);
    gst_event_set_seqnum (segment_event, self->seqnum);
    self->need_segment = FALSE;
    g_mutex_unlock (&self->lock);
    gst_pad_push_event (self->srcpad, segment_event);
    return;
  }
  if (GST_CLOCK_TIME_IS_VALID (self->segment.stop) &&
      self->cursor >= self->segment.stop) {
    push_eos (self);
    return;
  }
  i = self->readable ? find_frame_starting (self, self->cursor) : -1;
  if (i < 0) {
    if (GST_CLOCK_TIME_IS_VALID (self->meta.end) && self->frames->len > 0 &&
        self->cursor + g_array_index (self->frames, CachedFrame,
            self->frames->len - 1).duration / 2 >= self->meta.end)
      push_eos (self);
    else
      hand_over (self, self->cursor);
    return;
  }
  f = g_array_index (self->frames, CachedFrame, i);
  reader = g_ptr_array_index (self->readers, f.store);
  g_mutex_unlock (&self->lock);

  buf = gst_memmap_store_reader_get_buffer (reader, NULL, f.frame, &error);
  if (buf == NULL) {
    /* a broken store: warn once, carry on from upstream */
    if (!self->warned) {
      self->warned = TRUE;
      if (g_error_matches (error, GST_MEMMAP_ERROR,
              GST_MEMMAP_ERROR_TRUNCATED))
        GST_ELEMENT_WARNING (self, RESOURCE, READ,
            ("The frame cache \"%s\" was truncated by another program; "
                "playing without it.",
                gst_memmap_store_reader_get_path (reader)),
            ("%s (frames pushed before may hold zeros where its bytes were)",
                error->message));
      else
        GST_ELEMENT_WARNING (self, RESOURCE, READ,
            ("Could not read the frame cache \"%s\"; playing without it.",
                gst_memmap_store_reader_get_path (reader)),
            ("%s", error->message));
    }
    g_clear_error (&error);
    g_mutex_lock (&self->lock);
    self->readable = FALSE;
    if (still_serving (self))
      hand_over (self, f.pts);
    else
      g_mutex_unlock (&self->lock);
    return;
  }
  GST_BUFFER_OFFSET (buf) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_OFFSET_END (buf) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_DISCONT);

  g_mutex_lock (&self->lock);
  if (!still_serving (self)) {
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    return;
  }
  if (self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }
  self->cursor = f.pts + f.duration;
  /* clipped to the segment, as a decoder clips its output */
  if (gst_segment_clip (&self->segment, GST_FORMAT_TIME, f.pts,
          f.pts + f.duration, &cstart, &cstop)) {
    GST_BUFFER_PTS (buf) = cstart;
    GST_BUFFER_DURATION (buf) = cstop - cstart;
  }
  g_mutex_unlock (&self->lock);

  GST_LOG_OBJECT (self, "serving frame %" G_GUINT64_FORMAT " of store %u, "
      "pts %" GST_TIME_FORMAT, f.frame, f.store, GST_TIME_ARGS (f.pts));
  ret = gst_pad_push (self->srcpad, buf);
  if (ret == GST_FLOW_OK) {
    COUNT (self, frames_served, 1);
    return;
  }

  GST_DEBUG_OBJECT (self, "push: %s", gst_flow_get_name (ret));
  g_mutex_lock (&self->lock);
  if (!still_serving (self)) {
    /* flushed by a new seek (or stopping): the task goes on with it */
    g_mutex_unlock (&self->lock);
    return;
  }
  if (ret == GST_FLOW_FLUSHING) {
    pause_task (self);
    g_mutex_unlock (&self->lock);
  } else if (ret == GST_FLOW_EOS) {
    push_eos (self);
  } else {
    g_mutex_unlock (&self->lock);
    if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
      GST_ELEMENT_FLOW_ERROR (self, ret);
    g_mutex_lock (&self->lock);
    if (still_serving (self))
      push_eos (self);
    else
      g_mutex_unlock (&self->lock);
  }
}

/* ------------------------------------------------------------------------ */
/* recording                                                                */

/* Copies the frame into a new slot; returns the slot's memory. */
static GstMemory *
copy_into_slot (GstMemmapCache * self, GstBuffer * buffer, GError ** error)
{
  GstVideoFrame in_frame, out_frame;
  GstBuffer *slot_buffer;
  GstMemory *mem;
  gboolean copied = FALSE;

  if (!gst_video_frame_map (&in_frame, &self->info, buffer, GST_MAP_READ)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "a buffer of %" G_GSIZE_FORMAT " bytes is not a frame of the caps",
        gst_buffer_get_size (buffer));
    return NULL;
  }
  mem = gst_memmap_slot_store_acquire (self->store, NULL, error);
  if (mem == NULL) {
    gst_video_frame_unmap (&in_frame);
    return NULL;
  }
  slot_buffer = gst_buffer_new ();
  gst_buffer_append_memory (slot_buffer, gst_memory_ref (mem));
  if (gst_video_frame_map (&out_frame,
          gst_memmap_slot_store_get_layout (self->store), slot_buffer,
          GST_MAP_WRITE)) {
    copied = gst_video_frame_copy (&out_frame, &in_frame);
    gst_video_frame_unmap (&out_frame);
  }
  gst_buffer_unref (slot_buffer);
  gst_video_frame_unmap (&in_frame);

  if (!copied) {
    gst_memory_unref (mem);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "%s: could not copy a frame into a slot", self->store_path);
    return NULL;
  }
  return mem;
}

/* Records @buffer (when this pipeline records and the frame is new) and
 * returns what goes downstream: the committed slot, read-only, or
 * @buffer itself. */
static GstBuffer *
record (GstMemmapCache * self, GstBuffer * buffer)
{
  GstMemmapStoreReader *reader;
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime duration = GST_BUFFER_DURATION (buffer);
  GError *error = NULL;
  GstMemory *mem;
  GstBuffer *out;
  CachedFrame frame;
  gboolean zero_copy, cached, clipped;

  if (self->store == NULL || gst_memmap_slot_store_is_closed (self->store))
    return buffer;
  if (!GST_CLOCK_TIME_IS_VALID (pts) || !GST_CLOCK_TIME_IS_VALID (duration) ||
      duration == 0 || (GST_BUFFER_FLAGS (buffer) & ~CACHEABLE_FLAGS)) {
    GST_LOG_OBJECT (self, "not caching %" GST_PTR_FORMAT, buffer);
    return buffer;
  }
  g_mutex_lock (&self->lock);
  cached = is_cached (self, pts, duration);
  clipped = is_clipped (self, pts, duration);
  g_mutex_unlock (&self->lock);
  if (cached || clipped)
    return buffer;

  mem = gst_memmap_slot_pool_get_buffer_slot (self->store, buffer);
  zero_copy = (mem != NULL);
  if (zero_copy)
    gst_memory_ref (mem);
  else if ((mem = copy_into_slot (self, buffer, &error)) == NULL)
    goto failed;

  /* the frame's buffer flags (field flags among them), as memmapsink */
  if (!gst_memmap_slot_store_commit (self->store, mem, pts, duration,
          gst_memmap_store_frame_flags_from_buffer (buffer), &error)) {
    gst_memory_unref (mem);
    goto failed;
  }
  gst_memory_unref (mem);

  g_mutex_lock (&self->lock);
  frame.pts = pts;
  frame.duration = duration;
  frame.store = self->store_reader;
  frame.frame = gst_memmap_slot_store_get_committed (self->store) - 1;
  insert_frame (self, &frame);
  reader = g_ptr_array_index (self->readers, self->store_reader);
  if (!GST_CLOCK_TIME_IS_VALID (self->meta.start) && !self->seen_seek &&
      self->first_buffer) {
    self->meta.start = pts;
    g_mutex_unlock (&self->lock);
    write_meta (self);
  } else {
    g_mutex_unlock (&self->lock);
  }

  GST_OBJECT_LOCK (self);
  self->frames_recorded++;
  if (zero_copy)
    self->frames_zero_copy++;
  else
    self->frames_copied++;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "recorded frame %" G_GUINT64_FORMAT " pts %"
      GST_TIME_FORMAT " %s", frame.frame, GST_TIME_ARGS (pts),
      zero_copy ? "in place" : "copied");

  /* downstream gets the committed slot, read-only */
  out = gst_memmap_store_reader_get_buffer (reader, NULL, frame.frame, &error);
  if (out == NULL)
    goto failed;
  gst_buffer_copy_into (out, buffer, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  gst_buffer_unref (buffer);

  /* the budget, at every chunk's worth of frames */
  self->bytes_since_check += GST_ROUND_UP_N ((guint64)
      GST_VIDEO_INFO_SIZE (&self->info), 4096);
  if (self->bytes_since_check >= self->chunk_bytes) {
    self->bytes_since_check = 0;
    if (!stream_fits (self)) {
      over_budget (self, 0);
      stop_recording (self);
      return out;
    }
    if (!room_for_chunk (self)) {
      GST_INFO_OBJECT (self, "%s: max-size=%" G_GUINT64_FORMAT " reached, "
          "recording stops", self->store_path, self->cur.max_size);
      stop_recording (self);
    }
  }

  return out;

failed:
  cache_failed (self, error, self->store_path);
  g_clear_error (&error);
  return buffer;
}

static GstFlowReturn
gst_memmap_cache_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime duration = GST_BUFFER_DURATION (buffer);
  GstFlowReturn ret;
  gboolean first;

  g_mutex_lock (&self->lock);
  if (self->mode == MODE_SERVE) {
    self->upstream_eos_pending = TRUE;
    g_mutex_unlock (&self->lock);
    GST_LOG_OBJECT (self, "serving from the cache: stopping upstream at %"
        GST_TIME_FORMAT, GST_TIME_ARGS (pts));
    gst_buffer_unref (buffer);
    return GST_FLOW_EOS;
  }
  if (self->mode == MODE_HANDOVER) {
    GstClockTime half = GST_CLOCK_TIME_IS_VALID (duration) ? duration / 2 : 0;

    /* data from before upstream handled our seek is stale */
    if (!self->handover_flushed ||
        (GST_CLOCK_TIME_IS_VALID (pts) && pts + half < self->handover_pts)) {
      g_mutex_unlock (&self->lock);
      GST_LOG_OBJECT (self, "dropping %" GST_TIME_FORMAT ", before the "
          "hand-over", GST_TIME_ARGS (pts));
      gst_buffer_unref (buffer);
      return GST_FLOW_OK;
    }
    GST_INFO_OBJECT (self, "upstream took over at %" GST_TIME_FORMAT,
        GST_TIME_ARGS (pts));
    self->mode = MODE_PASS;
    /* seamless: downstream sees no discontinuity */
    buffer = gst_buffer_make_writable (buffer);
    GST_BUFFER_FLAG_UNSET (buffer, GST_BUFFER_FLAG_DISCONT);
  }

  /* playback (forwards: the task only serves forwards) reached frames
   * that are cached */
  first = self->first_buffer && !self->start_counted;
  if (self->readable && self->segment.rate == 1.0 &&
      GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (duration)) {
    gint i = find_frame_starting (self, pts);

    if (i >= 0 && worth_serving (self, i)) {
      switch_to_serving (self, g_array_index (self->frames, CachedFrame,
              i).pts);
      self->upstream_eos_pending = TRUE;
      self->first_buffer = FALSE;
      self->start_counted = TRUE;
      g_mutex_unlock (&self->lock);
      gst_buffer_unref (buffer);
      if (first)
        COUNT (self, hits, 1);
      return GST_FLOW_EOS;
    }
  }
  g_mutex_unlock (&self->lock);
  if (first) {
    self->start_counted = TRUE;
    COUNT (self, misses, 1);
  }

  buffer = record (self, buffer);
  self->first_buffer = FALSE;
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (duration))
    self->last_end = pts + duration;

  if (!begin_upstream_push (self)) {
    g_mutex_lock (&self->lock);
    self->upstream_eos_pending = TRUE;
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buffer);
    return GST_FLOW_EOS;
  }
  g_mutex_lock (&self->lock);
  if (self->await_segment) {
    g_mutex_unlock (&self->lock);
    end_upstream_push (self);
    GST_LOG_OBJECT (self, "dropping %" GST_PTR_FORMAT ", from before the "
        "seek", buffer);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  g_mutex_unlock (&self->lock);
  ret = gst_pad_push (self->srcpad, buffer);
  end_upstream_push (self);
  /* downstream ended the stream (identity eos-after, a muxer that is
   * full): the EOS that upstream sends next is not the stream's end */
  if (ret == GST_FLOW_EOS)
    self->downstream_ended = TRUE;

  return ret;
}

/* At upstream's first segment: when the stream's start is cached, serve it
 * at once, before the decoder did more than it has in flight. */
static void
maybe_serve_start (GstMemmapCache * self)
{
  gint i;

  if (!self->first_buffer || self->start_counted)
    return;
  g_mutex_lock (&self->lock);
  if (self->mode == MODE_PASS && self->readable && !self->seen_seek &&
      self->segment.rate == 1.0 &&
      GST_CLOCK_TIME_IS_VALID (self->meta.start) &&
      self->segment.start <= self->meta.start &&
      (i = find_frame_starting (self, self->meta.start)) >= 0 &&
      worth_serving (self, i)) {
    switch_to_serving (self, g_array_index (self->frames, CachedFrame,
            i).pts);
    self->start_counted = TRUE;
    g_mutex_unlock (&self->lock);
    COUNT (self, hits, 1);
    return;
  }
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_memmap_cache_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);
  Mode mode;

  GST_LOG_OBJECT (self, "%" GST_PTR_FORMAT, event);

  g_mutex_lock (&self->lock);
  mode = self->mode;
  g_mutex_unlock (&self->lock);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      if (mode != MODE_PASS) {
        /* the flush of our own hand-over seek, or upstream flushing while
         * we serve: downstream is not concerned */
        gst_event_unref (event);
        return TRUE;
      }
      return gst_pad_push_event (self->srcpad, event);
    case GST_EVENT_FLUSH_STOP:
      self->seen_seek = TRUE;
      self->last_end = GST_CLOCK_TIME_NONE;
      self->downstream_ended = FALSE;
      g_mutex_lock (&self->lock);
      self->upstream_eos_pending = FALSE;
      g_cond_broadcast (&self->cond);
      if (self->mode == MODE_HANDOVER &&
          gst_event_get_seqnum (event) == self->handover_seqnum)
        self->handover_flushed = TRUE;
      /* what upstream pushes from now on answers the seek we forwarded */
      if (self->await_segment &&
          gst_event_get_seqnum (event) == self->await_seqnum)
        self->await_segment = FALSE;
      g_mutex_unlock (&self->lock);
      if (mode != MODE_PASS) {
        gst_event_unref (event);
        return TRUE;
      }
      return gst_pad_push_event (self->srcpad, event);
    case GST_EVENT_STREAM_START:{
      const gchar *stream_id = NULL;

      gst_event_parse_stream_start (event, &stream_id);
      g_free (self->stream_id);
      self->stream_id = g_strdup (stream_id);
      self->first_buffer = TRUE;
      self->start_counted = FALSE;
      g_mutex_lock (&self->lock);
      self->seen_seek = FALSE;
      g_mutex_unlock (&self->lock);
      return forward_event (self, event);
    }
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      GstVideoInfo info;

      gst_event_parse_caps (event, &caps);
      if (!gst_video_info_from_caps (&info, caps)) {
        GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
            ("no video info in %" GST_PTR_FORMAT, caps));
        gst_event_unref (event);
        return FALSE;
      }
      if (self->caps == NULL || !gst_caps_is_equal (self->caps, caps)) {
        gst_caps_replace (&self->caps, caps);
        self->info = info;
        if (mode == MODE_PASS)
          open_cache (self);
      }
      return forward_event (self, event);
    }
    case GST_EVENT_SEGMENT:{
      gboolean forward;

      g_mutex_lock (&self->lock);
      gst_event_copy_segment (event, &self->up_segment);
      if (self->mode == MODE_HANDOVER &&
          gst_event_get_seqnum (event) == self->handover_seqnum)
        self->handover_flushed = TRUE;
      forward = self->mode == MODE_PASS && !self->own_segment;
      /* a segment of before the seek we forwarded is stale (seeks give
       * their seqnum to the flushes and segments they cause) */
      if (forward && self->await_segment &&
          gst_event_get_seqnum (event) != self->await_seqnum)
        forward = FALSE;
      else if (forward)
        self->await_segment = FALSE;
      if (forward) {
        gst_event_copy_segment (event, &self->segment);
        self->seqnum = gst_event_get_seqnum (event);
      }
      g_mutex_unlock (&self->lock);
      if (!forward) {
        GST_DEBUG_OBJECT (self, "downstream keeps our segment");
        gst_event_unref (event);
        return TRUE;
      }
      if (!forward_event (self, event))
        return FALSE;
      maybe_serve_start (self);
      return TRUE;
    }
    case GST_EVENT_EOS:{
      gboolean ended = FALSE;
      guint32 seqnum;

      g_mutex_lock (&self->lock);
      self->upstream_eos_pending = FALSE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);

      /* after our hand-over seek (its flush, or its seqnum): the stream
       * ends where the cached frames ended; before it, this is upstream
       * stopping because we serve */
      g_mutex_lock (&self->lock);
      if (self->mode == MODE_HANDOVER && (self->handover_flushed ||
              gst_event_get_seqnum (event) == self->handover_seqnum)) {
        self->mode = MODE_PASS;
        self->last_end = self->handover_pts;
        ended = TRUE;
      } else if (self->mode == MODE_PASS && self->await_segment &&
          gst_event_get_seqnum (event) != self->await_seqnum) {
        /* upstream stopping because we served, from before the seek we
         * forwarded: not the end of the stream */
        g_mutex_unlock (&self->lock);
        GST_DEBUG_OBJECT (self, "dropping a stale EOS");
        gst_event_unref (event);
        return TRUE;
      }
      mode = self->mode;
      seqnum = self->seqnum;
      g_mutex_unlock (&self->lock);
      if (mode != MODE_PASS) {
        GST_DEBUG_OBJECT (self, "upstream stopped while we serve");
        gst_event_unref (event);
        return TRUE;
      }
      if (ended)
        GST_INFO_OBJECT (self, "the stream ends where the cached frames end");
      /* the EOS ends the segment downstream has, so it carries that
       * segment's seqnum: after a hand-over, upstream's EOS has the seqnum
       * of our own seek upstream, not of the seek downstream made */
      if (gst_event_get_seqnum (event) != seqnum) {
        GST_DEBUG_OBJECT (self, "EOS of seqnum %u goes downstream with %u",
            gst_event_get_seqnum (event), seqnum);
        event = gst_event_make_writable (event);
        gst_event_set_seqnum (event, seqnum);
      }
      mark_end (self);
      return forward_event (self, event);
    }
    default:
      break;
  }

  if (GST_EVENT_IS_SERIALIZED (event) && mode != MODE_PASS) {
    /* tags and the like go downstream with the next frame served */
    if (GST_EVENT_IS_STICKY (event))
      gst_pad_store_sticky_event (self->srcpad, event);
    gst_event_unref (event);
    return TRUE;
  }
  if (GST_EVENT_IS_SERIALIZED (event))
    return forward_event (self, event);
  return gst_pad_event_default (pad, parent, event);
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
      !same_video_layout (&info,
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

static gboolean
gst_memmap_cache_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);
  GstFormat format;
  GstSeekFlags flags;
  GstSeekType start_type, stop_type;
  gint64 start, stop;
  gdouble rate;
  guint32 seqnum;
  gint i = -1;
  Mode mode;

  if (GST_EVENT_TYPE (event) != GST_EVENT_SEEK)
    return gst_pad_event_default (pad, parent, event);

  gst_event_parse_seek (event, &rate, &format, &flags, &start_type, &start,
      &stop_type, &stop);
  seqnum = gst_event_get_seqnum (event);
  GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT, event);

  g_mutex_lock (&self->lock);
  if (format == GST_FORMAT_TIME) {
    /* from here on in upstream's buffer timestamps, as the frames */
    if (start >= 0)
      start = stream_time_to_pts (self, start);
    if (stop >= 0)
      stop = stream_time_to_pts (self, stop);
  }
  if (self->readable && format == GST_FORMAT_TIME && rate == 1.0 &&
      (flags & GST_SEEK_FLAG_FLUSH) && !(flags & GST_SEEK_FLAG_SEGMENT) &&
      start_type == GST_SEEK_TYPE_SET && start >= 0 &&
      (stop_type != GST_SEEK_TYPE_END))
    i = find_frame_at (self, start);
  mode = self->mode;
  self->seen_seek = TRUE;
  self->seek_stop = stop_type == GST_SEEK_TYPE_SET && stop >= 0 ?
      (GstClockTime) stop :
      GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&self->lock);

  if (i >= 0) {
    COUNT (self, hits, 1);
    serve_seek (self, start, stop_type, stop, seqnum);
    gst_event_unref (event);
    return TRUE;
  }

  if (format == GST_FORMAT_TIME)
    COUNT (self, misses, 1);
  /* our task stops first and downstream is flushed: what upstream still
   * pushes before the seek's new segment is stale */
  g_mutex_lock (&self->lock);
  if (mode != MODE_PASS) {
    self->await_segment = TRUE;
    self->await_seqnum = seqnum;
  }
  self->own_segment = FALSE;
  g_mutex_unlock (&self->lock);
  if (mode != MODE_PASS)
    stop_serving (self, seqnum);

  GST_DEBUG_OBJECT (self, "seek to %" GST_TIME_FORMAT " not cached: "
      "upstream", GST_TIME_ARGS (start));
  wait_upstream_stopped (self);
  return gst_pad_push_event (self->sinkpad, event);
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

static gboolean
gst_memmap_cache_src_activate_mode (GstPad * pad, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  self->shutdown = !active;
  if (!active) {
    self->mode = MODE_PASS;
    self->idle = TRUE;
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  if (!active)
    return gst_pad_stop_task (pad);
  return TRUE;
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
  self->over_budget = FALSE;
  GST_OBJECT_UNLOCK (self);
  self->may_evict = TRUE;

  self->warned = FALSE;
  self->usable = TRUE;
  self->first_buffer = TRUE;
  self->start_counted = FALSE;
  self->last_end = GST_CLOCK_TIME_NONE;
  self->downstream_ended = FALSE;

  g_mutex_lock (&self->lock);
  self->mode = MODE_PASS;
  self->idle = TRUE;
  self->need_flush_stop = FALSE;
  self->flush_gen = self->flush_done_gen = 0;
  self->upstream_pushing = FALSE;
  self->own_segment = FALSE;
  self->await_segment = FALSE;
  self->upstream_eos_pending = FALSE;
  self->seen_seek = FALSE;
  self->seek_stop = GST_CLOCK_TIME_NONE;
  self->need_segment = FALSE;
  self->discont = FALSE;
  self->seqnum = gst_util_seqnum_next ();
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  gst_segment_init (&self->up_segment, GST_FORMAT_TIME);
  g_mutex_unlock (&self->lock);
}

static void
end_stream (GstMemmapCache * self)
{
  close_cache (self);
  clear_map (self);
  g_clear_pointer (&self->dir, gst_memmap_cache_dir_free);
  gst_clear_caps (&self->caps);
  g_clear_pointer (&self->stream_id, g_free);
  gst_video_info_init (&self->info);
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
      /* the pads are inactive: no thread runs in the element any more */
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
