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

#include "gstmemmapelements.h"
#include "gstmemmapcachegops.h"
#include "gstmemmapcachewalk.h"
#include "gstmemmapcontext.h"
#include "gstmemmapslotpool.h"

#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapcachedir.h>
#include <gst/memmap/gstmemmapvideo.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY (gst_memmap_cache_debug);
#define GST_CAT_DEFAULT gst_memmap_cache_debug

#define DEFAULT_MAX_SIZE (G_GUINT64_CONSTANT (10) << 30)
#define DEFAULT_KEY NULL

/* Buffer flags a frame store keeps (gst_memmap_store_frame_flags_from_buffer
 * (): field flags, CORRUPTED, GAP; DISCONT is set as the decoder would) or
 * that say nothing of the frame (TAG_MEMORY); frames with any other flag
 * pass through uncached. */
#define CACHEABLE_FLAGS (GST_BUFFER_FLAG_DISCONT | \
    GST_BUFFER_FLAG_TAG_MEMORY | GST_VIDEO_BUFFER_FLAG_INTERLACED | \
    GST_VIDEO_BUFFER_FLAG_TFF | GST_VIDEO_BUFFER_FLAG_RFF | \
    GST_VIDEO_BUFFER_FLAG_ONEFIELD | GST_BUFFER_FLAG_CORRUPTED | \
    GST_BUFFER_FLAG_GAP)

/* GstVideoDecoder's stand-in for the duration of a frame that has none,
 * when it clips (gst_video_decoder_clip_and_push_buf) */
#define DECODER_CLIP_DURATION (40 * GST_MSECOND)

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

/* One frame of the in-memory map, sorted by pts. */
typedef struct
{
  GstClockTime pts;
  GstClockTime duration;
  guint store;                  /* index in readers */
  guint64 frame;                /* frame number in that store */
  guint seen;                   /* seen_gen when its packet reached the
                                 * decoder's sink pad */
} CachedFrame;

/* A GOP range [key, next_key) served from the cache in this segment (its
 * keyframe packet reached the decoder's sink pad and the range is covered).
 * next_key NONE: to the end of the stream. */
typedef struct
{
  GstClockTime key;
  GstClockTime next_key;
  gboolean dropped;             /* a packet of it was dropped */
} Served;

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
  guint64 frames_decoded;
  guint64 frames_discarded;
  guint64 packets_dropped;
  guint64 evictions;
  guint64 bytes_on_disk;
  gboolean over_budget;         /* not recorded: does not fit max-size */
  gchar *not_cached;            /* why frames were not cached, or NULL */
  gchar *decoder_name;

  /* The stream lock. Held by whoever decides what goes downstream and
   * pushes it: the chain (the decoder's frames), the probe on the
   * decoder's sink pad (packets, and the cached frames their turn came
   * for), the serialized events. Recursive: a push may come back (a seek
   * from a streaming thread flushes through this element). */
  GRecMutex lock;

  Settings cur;
  gboolean warned;
  gboolean warned_not_cached;
  gboolean usable;              /* the cache may still be used at all */
  gboolean readable;            /* new GOPs may be served */
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
  GArray *frames;               /* CachedFrame, sorted by pts */
  GPtrArray *readers;           /* GstMemmapStoreReader */
  GstMemmapCacheMeta meta;
  GstMemmapCacheGops *gops;
  gchar *gops_path;

  /* the decoder and our probe on its sink pad */
  GstMemmapCacheWalk walk;
  gulong probe_id;

  /* the decoder's side of the segment: reset at every flush */
  guint probe_gen;              /* FLUSH_STOPs seen at the decoder */
  guint chain_gen;              /* FLUSH_STOPs that reached us */
  GstEvent *dec_segment;        /* the decoder's segment since the flush */
  gboolean probe_seen;          /* a packet since the flush */
  gboolean probe_pass;          /* nothing dropped or served any more */
  gboolean start_pending;       /* the stream's start may be served */
  gboolean dec_eos;             /* the decoder had EOS since the flush */
  guint seen_gen;               /* bumped at every flush: a frame whose seen
                                 * is this had its packet in this segment */
  gboolean seen_all;            /* the stream's start is served: its first
                                 * packets went by before the probe */
  GArray *served;               /* Served, sorted by key */
  GstClockTime cur_key;         /* the last keyframe packet */
  GstClockTime settled_key;     /* every packet of a frame before it came */
  GstClockTime orphan_key;      /* a keyframe dropped while the range before
                                 * it is decoded */
  gboolean unknown_pending;     /* a packet without pts went in */
  gboolean start_is_frame;      /* a packet starts at the segment's start */
  gboolean stop_is_frame;       /* a packet ends at the segment's stop */
  gboolean kept_before_start;   /* a packet before the segment's start went
                                 * into the decoder: its frame may come out
                                 * clipped to the start */
  GArray *owed;                 /* GstClockTime: kept packets whose frames
                                 * the decoder has not given yet */

  /* downstream's side */
  GstSegment segment;           /* the segment downstream has */
  gboolean have_segment;        /* since the flush */
  gboolean segment_ours;        /* we pushed the decoder's segment first */
  guint32 segment_seqnum;
  gboolean pending_discont;     /* the next buffer is the first after a
                                 * flush */
  gboolean dec_first;           /* no frame of the decoder since then */
  gboolean dts_is_pts;          /* the decoder's frames have DTS = PTS */
  GstClockTime last_out;        /* pts of the last frame downstream */
  GstClockTime last_served;     /* pts of the last cached frame pushed */
  gboolean run_valid;           /* frames one after the other, cached */
  GstClockTime run_first;
  GstClockTime run_last;
  gboolean seen_seek;           /* the stream did not play from its start */
  GstClockTime seek_stop;       /* the stop of the last seek, or NONE */
  gboolean first_buffer;        /* no buffer yet since stream-start */
  GstClockTime last_end;        /* end of the last frame downstream */
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

static void save_gops (GstMemmapCache * self);

#define COUNT(self, counter, n) G_STMT_START {  \
  GST_OBJECT_LOCK (self);                       \
  (self)->counter += (n);                       \
  GST_OBJECT_UNLOCK (self);                     \
} G_STMT_END

/* ------------------------------------------------------------------------ */
/* the map of cached frames, under the stream lock                          */

/* The index of the first frame whose pts is >= @t (the length if none). */
static guint
first_frame_from (GstMemmapCache * self, GstClockTime t)
{
  guint lo = 0, hi = self->frames->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;

    if (g_array_index (self->frames, CachedFrame, mid).pts < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The frame of pts @pts, or -1. */
static gint
find_frame (GstMemmapCache * self, GstClockTime pts)
{
  guint i = first_frame_from (self, pts);

  if (i < self->frames->len &&
      g_array_index (self->frames, CachedFrame, i).pts == pts)
    return (gint) i;
  return -1;
}

static void
insert_frame (GstMemmapCache * self, const CachedFrame * frame)
{
  guint i = first_frame_from (self, frame->pts);

  g_array_insert_val (self->frames, i, *frame);
}

/* How many frames have a pts in [@first, @last]. */
static guint64
count_frames (GstMemmapCache * self, GstClockTime first, GstClockTime last)
{
  return first_frame_from (self, last + 1) - first_frame_from (self, first);
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
  self->readable = FALSE;
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

/* Closes what the stream opened; the map and its readers stay until
 * clear_map().
 *
 * The budget is enforced before the entry closes, with the entry kept (and
 * still locked): the stream just played is the most recently used, and
 * evicting it at its own close would throw away what was just recorded
 * (its last chunk is reserved whole and counts on disk, so a recording
 * that ends near max-size is often over it). */
static void
close_cache (GstMemmapCache * self)
{
  save_gops (self);
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

  g_array_set_size (self->frames, 0);
  readers = self->readers;
  self->readers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_store_reader_unref);
  self->meta.start = self->meta.end = GST_CLOCK_TIME_NONE;
  self->meta.complete = FALSE;
  self->readable = FALSE;
  g_clear_pointer (&self->gops, gst_memmap_cache_gops_free);
  g_clear_pointer (&self->gops_path, g_free);
  g_ptr_array_unref (readers);
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

/* Copies the frame into a new slot; returns the slot's memory. */
static GstMemory *
copy_into_slot (GstMemmapCache * self, GstBuffer * buffer, GError ** error)
{
  GstVideoFrame in_frame;
  GstMemory *mem;

  if (!gst_video_frame_map (&in_frame, &self->info, buffer, GST_MAP_READ)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "a buffer of %" G_GSIZE_FORMAT " bytes is not a frame of the caps",
        gst_buffer_get_size (buffer));
    return NULL;
  }
  mem = gst_memmap_slot_store_copy_frame (self->store, &in_frame, error);
  gst_video_frame_unmap (&in_frame);
  return mem;
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
    gst_memmap_store_writer_unref (writer);
    /* empty: nothing to keep */
    gst_memmap_cache_entry_remove_store (self->entry, self->store_path);
    goto failed;
  }
  self->store = gst_memmap_slot_store_new (writer);
  self->bytes_since_check = 0;
  self->store_reader = self->readers->len;
  g_ptr_array_add (self->readers, reader);
  GST_INFO_OBJECT (self, "recording into %s", self->store_path);

  return TRUE;

failed:
  gst_memmap_cache_entry_unlock_writer (self->entry);
  return FALSE;
}

/* Frames that memmapcache passes through without caching them: why, once
 * per stream on the bus, and in the stats. */
static void
warn_not_cached (GstMemmapCache * self, const gchar * why)
{
  gboolean first;

  GST_OBJECT_LOCK (self);
  first = self->not_cached == NULL;
  if (first)
    self->not_cached = g_strdup (why);
  GST_OBJECT_UNLOCK (self);
  if (self->warned_not_cached) {
    GST_LOG_OBJECT (self, "not cached: %s", why);
    return;
  }
  self->warned_not_cached = TRUE;
  GST_ELEMENT_WARNING (self, STREAM, NOT_IMPLEMENTED,
      ("Some frames are not cached: %s; they are passed through as they "
          "are.", why), ("%s", why));
}

/* A cached frame could not be read from @reader: one warning (the decoded
 * frame goes on instead), and no GOP is served any more. */
static void
read_failed (GstMemmapCache * self, GstMemmapStoreReader * reader,
    const GError * error)
{
  self->readable = FALSE;
  if (self->warned)
    return;
  self->warned = TRUE;
  if (g_error_matches (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED))
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("The frame cache \"%s\" was truncated by another program; "
            "playing without it.", gst_memmap_store_reader_get_path (reader)),
        ("%s (frames pushed before may hold zeros where its bytes were)",
            error->message));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Could not read the frame cache \"%s\"; playing without it.",
            gst_memmap_store_reader_get_path (reader)), ("%s",
            error->message));
}

/* The identity of the stream, as a string to hash: what the frames come
 * from (the key, or the URI with the file's identity and the stream id),
 * the processing between the decoder and us, and the caps. */
static gchar *
stream_identity (GstMemmapCache * self, GstCaps * caps)
{
  GString *s = g_string_new ("memmapcache 2\n");
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

        /* what a rewrite in place cannot keep: the inode may stay, the
         * ctime moves on with every write */
        if (filename && stat (filename, &st) == 0)
          g_string_append_printf (s, "dev=%" G_GUINT64_FORMAT "\nino=%"
              G_GUINT64_FORMAT "\nsize=%" G_GINT64_FORMAT "\nmtime=%"
              G_GINT64_FORMAT ".%09ld\nctime=%" G_GINT64_FORMAT ".%09ld\n",
              (guint64) st.st_dev, (guint64) st.st_ino, (gint64) st.st_size,
              (gint64) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec,
              (gint64) st.st_ctim.tv_sec, (long) st.st_ctim.tv_nsec);
        g_free (filename);
      }
      g_free (uri);
    }
    g_string_append_printf (s, "stream-id=%s\n",
        self->stream_id ? self->stream_id : "");
    g_string_append_printf (s, "chain=%s\n",
        self->walk.chain ? self->walk.chain : "");
  }
  caps_str = gst_caps_to_string (caps);
  g_string_append_printf (s, "caps=%s\n", caps_str);
  g_free (caps_str);

  return g_string_free (s, FALSE);
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
    guint64 n = 0, f, committed;
    guint index;

    reader = gst_memmap_store_reader_open (engine, paths[i], error);
    if (reader == NULL) {
      *failed_path = g_strdup (paths[i]);
      ret = FALSE;
      break;
    }
    if (!gst_memmap_video_info_same_frame_layout (gst_memmap_store_reader_get_layout (reader),
            &self->info)) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
          "Frame store '%s' holds another video layout than its key says",
          paths[i]);
      gst_memmap_store_reader_unref (reader);
      *failed_path = g_strdup (paths[i]);
      ret = FALSE;
      break;
    }
    committed = gst_memmap_store_reader_get_committed (reader);
    index = self->readers->len;
    g_ptr_array_add (self->readers, reader);
    for (f = gst_memmap_store_reader_get_first_frame (reader); f < committed;
        f++) {
      GstMemmapStoreEntry e;
      CachedFrame frame;

      if (!gst_memmap_store_reader_get_entry (reader, f, &e, error)) {
        *failed_path = g_strdup (paths[i]);
        ret = FALSE;
        break;
      }
      if (!GST_CLOCK_TIME_IS_VALID (e.pts) || find_frame (self, e.pts) >= 0)
        continue;
      frame.pts = e.pts;
      frame.duration = e.duration;
      frame.store = index;
      frame.frame = f;
      frame.seen = 0;
      insert_frame (self, &frame);
      n++;
    }
    GST_INFO_OBJECT (self, "%s: %" G_GUINT64_FORMAT " frames of %"
        G_GUINT64_FORMAT " mapped", paths[i], n, committed);
  }
  g_strfreev (paths);

  return ret;
}

/* Reads the entry's GOP file; an interval whose frames are not all in the
 * stores any more (a store lost, a run killed before it wrote) goes. */
static void
load_gops (GstMemmapCache * self)
{
  guint i = 0;

  self->gops = gst_memmap_cache_gops_new ();
  self->gops_path = g_build_filename (gst_memmap_cache_entry_get_path
      (self->entry), "gops", NULL);
  gst_memmap_cache_gops_read (self->gops, self->gops_path);
  while (i < self->gops->covers->len) {
    GstMemmapCacheCover *c =
        &g_array_index (self->gops->covers, GstMemmapCacheCover, i);
    guint64 n = count_frames (self, c->first, c->last);

    /* more frames than written: the recorder went on since */
    if (n < c->frames) {
      GST_WARNING_OBJECT (self, "%s: [%" GST_TIME_FORMAT ", %"
          GST_TIME_FORMAT "] holds %" G_GUINT64_FORMAT " frames, not %"
          G_GUINT64_FORMAT ": not used", self->gops_path,
          GST_TIME_ARGS (c->first), GST_TIME_ARGS (c->last), n, c->frames);
      g_array_remove_index (self->gops->covers, i);
      self->gops->dirty = TRUE;
    } else {
      i++;
    }
  }
}

/* Writes the GOP file when this pipeline records the stream. */
static void
save_gops (GstMemmapCache * self)
{
  GError *error = NULL;
  guint i;

  if (self->gops == NULL || !self->gops->dirty || self->entry == NULL ||
      self->store == NULL)
    return;
  for (i = 0; i < self->gops->covers->len; i++) {
    GstMemmapCacheCover *c =
        &g_array_index (self->gops->covers, GstMemmapCacheCover, i);

    c->frames = count_frames (self, c->first, c->last);
  }
  if (!gst_memmap_cache_gops_write (self->gops, self->gops_path, &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    g_clear_error (&error);
  }
}

/* ------------------------------------------------------------------------ */
/* the decoder upstream                                                     */

static GstPadProbeReturn decoder_probe (GstPad * pad, GstPadProbeInfo * info,
    gpointer user_data);

static void
remove_probe (GstMemmapCache * self)
{
  if (self->probe_id && self->walk.decoder_sink)
    gst_pad_remove_probe (self->walk.decoder_sink, self->probe_id);
  self->probe_id = 0;
  gst_memmap_cache_walk_clear (&self->walk);
}

/* Finds the decoder and the processing between it and us; watches the
 * decoder's sink pad. */
static void
find_decoder (GstMemmapCache * self)
{
  remove_probe (self);
  gst_memmap_cache_walk_upstream (self->sinkpad, &self->walk);
  GST_OBJECT_LOCK (self);
  g_free (self->decoder_name);
  self->decoder_name = self->walk.decoder ?
      gst_object_get_name (GST_OBJECT (self->walk.decoder)) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (self->walk.decoder_sink == NULL) {
    GST_INFO_OBJECT (self, "no video decoder upstream: frames are recorded "
        "and passed through, nothing is skipped");
    return;
  }
  self->probe_id = gst_pad_add_probe (self->walk.decoder_sink,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
      GST_PAD_PROBE_TYPE_EVENT_FLUSH,
      decoder_probe, gst_object_ref (self), gst_object_unref);
  /* the packets before were not seen: nothing is dropped before the next
   * flush or keyframe, unless the stream plays from its start (see
   * decide_packet) */
  GST_INFO_OBJECT (self, "watching %" GST_PTR_FORMAT, self->walk.decoder_sink);
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
  find_decoder (self);
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
  gst_memmap_cache_entry_read_meta (self->entry, &self->meta);
  if (!load_stores (self, engine, &error, &failed_path)) {
    cache_failed (self, error, failed_path);
    /* the next run starts afresh, if nobody else uses it now */
    clear_map (self);
    gst_memmap_cache_entry_clear (self->entry);
    goto out;
  }
  load_gops (self);
  self->readable = TRUE;
  if (self->meta.complete) {
    GstMemmapCacheCover *c = GST_CLOCK_TIME_IS_VALID (self->meta.start) ?
        gst_memmap_cache_gops_find_cover (self->gops, self->meta.start) :
        NULL;

    /* a complete marker that the GOP file does not back up is ignored */
    if (c == NULL || !c->eos) {
      GST_INFO_OBJECT (self, "%s: marked complete but not whole", path);
      self->meta.complete = FALSE;
    }
  }

  GST_INFO_OBJECT (self, "cache %s: %u frames cached, %u keyframes, %u "
      "intervals%s", path, self->frames->len, self->gops->keys->len,
      self->gops->covers->len, self->meta.complete ? ", complete" : "");

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
  GError *error = NULL;

  if (self->store == NULL || self->entry == NULL)
    return;
  if (!gst_memmap_cache_entry_write_meta (self->entry, &self->meta, &error)) {
    cache_failed (self, error, gst_memmap_cache_entry_get_path (self->entry));
    g_clear_error (&error);
  }
}

/* ------------------------------------------------------------------------ */
/* the merge: cached frames of served GOPs and the decoder's frames, in pts */
/* order, under the stream lock                                             */

/* The index in served of the last range whose key is <= @pts, or -1. */
static gint
served_at_or_before (GstMemmapCache * self, GstClockTime pts)
{
  gint lo = 0, hi = (gint) self->served->len - 1, found = -1;

  while (lo <= hi) {
    gint mid = lo + (hi - lo) / 2;

    if (g_array_index (self->served, Served, mid).key <= pts) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/* The served range that holds @pts, or NULL. */
static Served *
find_served (GstMemmapCache * self, GstClockTime pts)
{
  gint i;
  Served *s;

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return NULL;
  i = served_at_or_before (self, pts);
  if (i < 0)
    return NULL;
  s = &g_array_index (self->served, Served, i);
  if (GST_CLOCK_TIME_IS_VALID (s->next_key) && pts >= s->next_key)
    return NULL;
  return s;
}

static void
add_served (GstMemmapCache * self, GstClockTime key, GstClockTime next_key)
{
  Served s = { key, next_key, FALSE };

  g_array_insert_val (self->served, served_at_or_before (self, key) + 1, s);
}

/* The first cached frame after @after (NONE: from the start) in a served
 * range, or -1. */
static gint
next_served_frame (GstMemmapCache * self, GstClockTime after)
{
  guint i = GST_CLOCK_TIME_IS_VALID (after) ?
      first_frame_from (self, after + 1) : 0;

  while (i < self->frames->len) {
    GstClockTime pts = g_array_index (self->frames, CachedFrame, i).pts;
    gint s;

    if (find_served (self, pts))
      return (gint) i;
    /* on to the next served range */
    s = served_at_or_before (self, pts) + 1;
    if ((guint) s >= self->served->len)
      return -1;
    i = first_frame_from (self, g_array_index (self->served, Served, s).key);
  }
  return -1;
}

/* The decoder's segment: the one the probe saw since the flush, or (at the
 * stream's start, before the probe existed) the one downstream has. */
static const GstSegment *
decoder_segment (GstMemmapCache * self, GstSegment * tmp)
{
  if (self->dec_segment == NULL)
    return &self->segment;
  gst_event_copy_segment (self->dec_segment, tmp);
  return tmp;
}

/* A packet of @pts and @duration went into the decoder: its frame is owed,
 * unless the decoder will clip it away. */
static void
owe (GstMemmapCache * self, GstClockTime pts, GstClockTime duration)
{
  GstSegment tmp;
  const GstSegment *seg = decoder_segment (self, &tmp);
  guint i;

  if (seg->format == GST_FORMAT_TIME) {
    if (GST_CLOCK_TIME_IS_VALID (seg->stop) && pts >= seg->stop)
      return;
    if (GST_CLOCK_TIME_IS_VALID (duration) && pts + duration <= seg->start)
      return;
  }
  i = self->owed->len;
  while (i > 0 && g_array_index (self->owed, GstClockTime, i - 1) > pts)
    i--;
  g_array_insert_val (self->owed, i, pts);
}

/* The decoder gave a frame of @pts: it gives frames in pts order, so every
 * owed frame up to it is out (or will never be: clipped, dropped). */
static void
settle_owed (GstMemmapCache * self, GstClockTime pts)
{
  guint n = 0;

  while (n < self->owed->len &&
      g_array_index (self->owed, GstClockTime, n) <= pts)
    n++;
  if (n)
    g_array_remove_range (self->owed, 0, n);
}

/* Whether the cached frame @f (in @s) may go downstream before the decoder
 * gives anything more: every packet of a frame before it reached the
 * decoder, and the decoder gave every frame before it that it owes. */
static gboolean
may_push_now (GstMemmapCache * self, const CachedFrame * f, const Served * s)
{
  if (self->unknown_pending || self->probe_gen != self->chain_gen ||
      self->probe_pass)
    return FALSE;
  if (!GST_CLOCK_TIME_IS_VALID (self->settled_key) ||
      s->key > self->settled_key)
    return FALSE;
  return self->owed->len == 0 ||
      g_array_index (self->owed, GstClockTime, 0) >= f->pts;
}

/* GstVideoDecoder's clipping (gst_video_decoder_clip_and_push_buf) at rate
 * 1.0: FALSE when the frame is outside the segment. */
static gboolean
clip_like_decoder (const GstSegment * seg, GstClockTime * pts,
    GstClockTime * duration)
{
  guint64 start = *pts, stop, cstart, cstop;

  /* without a duration, the decoder clips as if the frame lasted 40 ms */
  if (GST_CLOCK_TIME_IS_VALID (*duration))
    stop = start + *duration;
  else
    stop = start + DECODER_CLIP_DURATION;
  if (!gst_segment_clip (seg, GST_FORMAT_TIME, start, stop, &cstart, &cstop))
    return FALSE;
  *pts = cstart;
  if (GST_CLOCK_TIME_IS_VALID (*duration))
    *duration = cstop - cstart;
  return TRUE;
}

/* Every frame downstream goes through here: runs of frames that went
 * downstream one after the other, each cached (@pts its real pts), become
 * the GOP file's intervals. */
static void
note_output (GstMemmapCache * self, GstClockTime pts, gboolean cached)
{
  if (!cached || !GST_CLOCK_TIME_IS_VALID (pts) ||
      (self->run_valid && pts <= self->run_last)) {
    self->run_valid = FALSE;
    return;
  }
  if (!self->run_valid) {
    self->run_valid = TRUE;
    self->run_first = pts;
  }
  self->run_last = pts;
  if (self->gops && self->store) {
    GstClockTime key, next_key;

    gst_memmap_cache_gops_cover (self->gops, self->run_first, pts, FALSE);
    /* a GOP range newly covered: other pipelines may serve it now */
    if (pts > self->run_first &&
        gst_memmap_cache_gops_find_range (self->gops, pts, &key, &next_key)
        && key == pts)
      save_gops (self);
  }
}

/* Before the first buffer after a flush: the segment the decoder has not
 * given yet (it gives it with its first frame) goes downstream from us. */
static gboolean
ensure_segment (GstMemmapCache * self)
{
  GstEvent *event;

  if (self->have_segment)
    return TRUE;
  if (self->dec_segment == NULL)
    return FALSE;
  event = gst_event_ref (self->dec_segment);
  gst_event_copy_segment (event, &self->segment);
  self->segment_seqnum = gst_event_get_seqnum (event);
  self->have_segment = TRUE;
  self->segment_ours = TRUE;
  GST_DEBUG_OBJECT (self, "decoder's segment first: %" GST_PTR_FORMAT, event);
  gst_pad_push_event (self->srcpad, event);
  return TRUE;
}

/* Pushes @buffer downstream with the DISCONT flag the decoder would give
 * it: on the first buffer after a flush; on the decoder's own frames as
 * the decoder says, except on its first after a flush when a cached frame
 * went first (@decoded: @buffer is the decoder's). */
static GstFlowReturn
push_out (GstMemmapCache * self, GstBuffer * buffer, gboolean decoded)
{
  GstFlowReturn ret;

  if (!decoded || self->dec_first || self->pending_discont) {
    buffer = gst_buffer_make_writable (buffer);
    if (self->pending_discont)
      GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
    else
      GST_BUFFER_FLAG_UNSET (buffer, GST_BUFFER_FLAG_DISCONT);
  }
  if (decoded)
    self->dec_first = FALSE;
  self->pending_discont = FALSE;
  if (self->first_buffer)
    self->first_buffer = FALSE;
  if (GST_BUFFER_DURATION_IS_VALID (buffer))
    self->last_end = GST_BUFFER_PTS (buffer) + GST_BUFFER_DURATION (buffer);
  else
    self->last_end = GST_BUFFER_PTS (buffer);
  ret = gst_pad_push (self->srcpad, buffer);
  /* downstream ended the stream (identity eos-after, a muxer that is
   * full): the EOS that upstream sends next is not the stream's end */
  if (ret == GST_FLOW_EOS)
    self->downstream_ended = TRUE;
  return ret;
}

/* Pushes the cached frame @f, clipped as the decoder clips. */
static GstFlowReturn
push_cached (GstMemmapCache * self, const CachedFrame * f)
{
  GstClockTime pts = f->pts, duration = f->duration;
  GError *error = NULL;
  GstBuffer *buffer;

  self->last_served = f->pts;
  if (!ensure_segment (self)) {
    GST_WARNING_OBJECT (self, "no segment for a cached frame");
    return GST_FLOW_OK;
  }
  if (!clip_like_decoder (&self->segment, &pts, &duration)) {
    GST_LOG_OBJECT (self, "cached frame %" GST_TIME_FORMAT " is outside "
        "the segment", GST_TIME_ARGS (f->pts));
    return GST_FLOW_OK;
  }
  buffer = gst_memmap_store_reader_get_buffer (g_ptr_array_index
      (self->readers, f->store), NULL, f->frame, &error);
  if (buffer == NULL)
    goto read_error;
  GST_BUFFER_PTS (buffer) = pts;
  /* as the decoder does: GstVideoDecoder gives no DTS, or the pts (newer
   * versions) */
  GST_BUFFER_DTS (buffer) = self->dts_is_pts ? f->pts : GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = duration;
  GST_BUFFER_OFFSET (buffer) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_OFFSET_END (buffer) = GST_BUFFER_OFFSET_NONE;
  GST_LOG_OBJECT (self, "cached frame %" GST_TIME_FORMAT " duration %"
      GST_TIME_FORMAT, GST_TIME_ARGS (pts), GST_TIME_ARGS (duration));
  COUNT (self, frames_served, 1);
  self->last_out = f->pts;
  note_output (self, f->pts, TRUE);
  return push_out (self, buffer, FALSE);

  /* ERRORS */
read_error:
  {
    /* its packets were dropped: the frame cannot be decoded any more */
    read_failed (self, g_ptr_array_index (self->readers, f->store), error);
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not read a frame of the frame cache \"%s\", whose "
            "decoding was skipped.", gst_memmap_store_reader_get_path
            (g_ptr_array_index (self->readers, f->store))),
        ("frame %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT "): %s",
            f->frame, GST_TIME_ARGS (f->pts), error->message));
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
}

/* Pushes the cached frames of the served ranges, in pts order, that come
 * before @upto (NONE: no bound); with @all, without waiting for the
 * decoder (it gave a frame at @upto, or it drained). */
static GstFlowReturn
push_served (GstMemmapCache * self, GstClockTime upto, gboolean all)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK && self->served->len > 0) {
    gint i = next_served_frame (self, self->last_served);
    CachedFrame f;
    Served *s;

    if (i < 0)
      break;
    f = g_array_index (self->frames, CachedFrame, i);
    if (GST_CLOCK_TIME_IS_VALID (upto) && f.pts >= upto)
      break;
    if (!self->seen_all && f.seen != self->seen_gen) {
      /* its packet did not reach the decoder (yet): the decoder would not
       * give it (a demuxer stops at the first packet past the segment's
       * stop, in decoding order, before the B-frames that precede it) */
      if (!all)
        break;
      GST_LOG_OBJECT (self, "cached frame %" GST_TIME_FORMAT " not served: "
          "its packet never came", GST_TIME_ARGS (f.pts));
      self->last_served = f.pts;
      continue;
    }
    s = find_served (self, f.pts);
    if (!all && !may_push_now (self, &f, s))
      break;
    if (GST_CLOCK_TIME_IS_VALID (self->last_out) && f.pts <= self->last_out) {
      GST_WARNING_OBJECT (self, "cached frame %" GST_TIME_FORMAT " comes "
          "after %" GST_TIME_FORMAT ": skipped", GST_TIME_ARGS (f.pts),
          GST_TIME_ARGS (self->last_out));
      self->last_served = f.pts;
      continue;
    }
    ret = push_cached (self, &f);
  }
  return ret;
}

/* At a flush that reached us: a new segment starts. */
static void
reset_segment (GstMemmapCache * self)
{
  gst_clear_event (&self->dec_segment);
  self->probe_seen = FALSE;
  self->probe_pass = FALSE;
  g_array_set_size (self->served, 0);
  g_array_set_size (self->owed, 0);
  self->cur_key = self->settled_key = self->orphan_key = GST_CLOCK_TIME_NONE;
  self->unknown_pending = FALSE;
  self->seen_gen++;
  self->seen_all = FALSE;
  self->start_is_frame = self->stop_is_frame = FALSE;
  self->kept_before_start = FALSE;
  self->have_segment = FALSE;
  self->segment_ours = FALSE;
  self->pending_discont = TRUE;
  self->dec_first = TRUE;
  self->last_out = self->last_served = GST_CLOCK_TIME_NONE;
  self->run_valid = FALSE;
}

/* ------------------------------------------------------------------------ */
/* the decoder's sink pad: which packets need decoding                      */

static gboolean range_covered (GstMemmapCache * self, GstClockTime key,
    GstClockTime next_key);

/* Whether the segment lets memmapcache drop and serve: forwards at rate
 * 1.0 in time, no trick mode. */
static gboolean
segment_servable (const GstSegment * seg)
{
  return seg->format == GST_FORMAT_TIME && seg->rate == 1.0 &&
      seg->applied_rate == 1.0 &&
      !(seg->flags & GST_SEGMENT_FLAG_TRICKMODE);
}

/* The stream plays from its start and the probe came after its first
 * packets: the ranges from the first key to @pts's are taken as seen
 * (the demuxer started at the first keyframe), if they are all covered:
 * then every packet that went by unseen is of a served range, and its
 * frame is discarded. */
static void
serve_start (GstMemmapCache * self, GstClockTime pts)
{
  GArray *keys = self->gops->keys;
  guint i;

  for (i = 0; i < keys->len; i++) {
    GstClockTime k = g_array_index (keys, GstClockTime, i);
    GstClockTime next = i + 1 < keys->len ?
        g_array_index (keys, GstClockTime, i + 1) : GST_CLOCK_TIME_NONE;

    if (k > pts)
      break;
    if (!range_covered (self, k, next))
      return;
  }
  for (i = 0; i < keys->len; i++) {
    GstClockTime k = g_array_index (keys, GstClockTime, i);
    GstClockTime next = i + 1 < keys->len ?
        g_array_index (keys, GstClockTime, i + 1) : GST_CLOCK_TIME_NONE;

    if (k > pts)
      break;
    add_served (self, k, next);
    self->cur_key = k;
    COUNT (self, hits, 1);
  }
  self->seen_all = TRUE;
  GST_INFO_OBJECT (self, "serving the stream's start from the cache");
}

/* Whether a packet starts at the segment's start or ends at its stop: the
 * decoder's frame there is then whole, not clipped (see maybe_clipped ()). */
static void
note_segment_edges (GstMemmapCache * self, GstClockTime pts,
    GstClockTime duration)
{
  GstSegment tmp;
  const GstSegment *seg = decoder_segment (self, &tmp);

  if (pts == seg->start)
    self->start_is_frame = TRUE;
  if (GST_CLOCK_TIME_IS_VALID (duration) && pts + duration == seg->stop)
    self->stop_is_frame = TRUE;
}

/* Whether every frame of the GOP range [@key, @next_key) is cached: one
 * interval holds it, up to the frame at @next_key or one that ends there. */
static gboolean
range_covered (GstMemmapCache * self, GstClockTime key, GstClockTime next_key)
{
  GstMemmapCacheCover *c;
  gint i;

  if (gst_memmap_cache_gops_is_covered (self->gops, key, next_key))
    return TRUE;
  if (!GST_CLOCK_TIME_IS_VALID (next_key) ||
      (c = gst_memmap_cache_gops_find_cover (self->gops, key)) == NULL ||
      (i = find_frame (self, c->last)) < 0)
    return FALSE;
  return GST_CLOCK_TIME_IS_VALID (g_array_index (self->frames, CachedFrame,
          i).duration) && c->last + g_array_index (self->frames, CachedFrame,
          i).duration >= next_key;
}

/* A keyframe packet: its range is served when it is covered. Kept while
 * the decoder owes frames, and when the range before it is decoded and
 * some frame of that range that comes after it (open-GOP leading frames)
 * may be in the segment. */
static gboolean
decide_keyframe (GstMemmapCache * self, GstClockTime pts,
    GstClockTime duration)
{
  GstClockTime key, next_key;
  GstSegment tmp;
  Served *s;

  self->cur_key = pts;
  self->orphan_key = GST_CLOCK_TIME_NONE;
  s = find_served (self, pts);
  if (s == NULL && self->readable &&
      gst_memmap_cache_gops_find_range (self->gops, pts, &key, &next_key) &&
      key == pts && range_covered (self, key, next_key)) {
    add_served (self, key, next_key);
    s = find_served (self, pts);
    COUNT (self, hits, 1);
    GST_DEBUG_OBJECT (self, "GOP at %" GST_TIME_FORMAT " from the cache",
        GST_TIME_ARGS (pts));
  } else if (s == NULL) {
    COUNT (self, misses, 1);
    return FALSE;
  }
  if (s->dropped)
    return TRUE;
  if (self->owed->len > 0 || self->unknown_pending)
    return FALSE;
  /* the range before decoded: its frames that come after this keyframe
   * all end before the segment (the keyframe is at or before its start,
   * as after a seek), so the decoder gives none of them */
  if (pts == 0 || find_served (self, pts - 1) == NULL) {
    if (!GST_CLOCK_TIME_IS_VALID (duration) ||
        pts > decoder_segment (self, &tmp)->start)
      return FALSE;
    self->orphan_key = pts;
  }
  s->dropped = TRUE;
  return TRUE;
}

/* Whether the packet @buffer is dropped: its frame is cached in a served
 * range, and nothing the decoder still has to give needs it. */
static gboolean
decide_packet (GstMemmapCache * self, GstBuffer * buffer)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  gboolean keyframe = !GST_BUFFER_FLAG_IS_SET (buffer,
      GST_BUFFER_FLAG_DELTA_UNIT);
  Served *s;
  gint i;

  /* data after a flush before any segment (qtdemux after a seek past the
   * end that failed), or after EOS without a flush: what segment the
   * decoder will give is unknown, so it decodes everything until the next
   * flush */
  if (((!self->probe_seen && self->dec_segment == NULL &&
              self->chain_gen > 0) || self->dec_eos) && !self->probe_pass) {
    GST_DEBUG_OBJECT (self, "data before a segment: nothing served");
    self->probe_pass = TRUE;
  }
  self->probe_seen = TRUE;
  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    self->unknown_pending = TRUE;
    return FALSE;
  }
  if ((i = find_frame (self, pts)) >= 0)
    g_array_index (self->frames, CachedFrame, i).seen = self->seen_gen;
  if (keyframe && self->gops)
    gst_memmap_cache_gops_add_key (self->gops, pts);
  note_segment_edges (self, pts, GST_BUFFER_DURATION (buffer));
  if (self->probe_pass || self->gops == NULL ||
      self->probe_gen != self->chain_gen) {
    owe (self, pts, GST_BUFFER_DURATION (buffer));
    return FALSE;
  }
  /* the stream's start, once we know what is cached and have the segment
   * (a queue after the decoder may hold them back a little) */
  if (self->start_pending && self->chain_gen == 0 && self->readable &&
      self->have_segment) {
    self->start_pending = FALSE;
    if (!self->seen_seek)
      serve_start (self, pts);
  }
  /* every packet of a frame before the last keyframe went by */
  if (GST_CLOCK_TIME_IS_VALID (self->cur_key) && pts > self->cur_key &&
      (!GST_CLOCK_TIME_IS_VALID (self->settled_key) ||
          self->cur_key > self->settled_key))
    self->settled_key = self->cur_key;

  if (keyframe)
    return decide_keyframe (self, pts, GST_BUFFER_DURATION (buffer));

  s = find_served (self, pts);
  if (s == NULL && GST_CLOCK_TIME_IS_VALID (self->orphan_key) &&
      pts < self->orphan_key) {
    GstSegment tmp;
    GstClockTime d = GST_BUFFER_DURATION (buffer);

    /* a leading frame of a dropped keyframe, before the segment */
    if (GST_CLOCK_TIME_IS_VALID (d) &&
        pts + d <= decoder_segment (self, &tmp)->start)
      return TRUE;
    GST_WARNING_OBJECT (self, "packet %" GST_TIME_FORMAT " refers to the "
        "dropped keyframe %" GST_TIME_FORMAT, GST_TIME_ARGS (pts),
        GST_TIME_ARGS (self->orphan_key));
  }
  if (s == NULL) {
    owe (self, pts, GST_BUFFER_DURATION (buffer));
    return FALSE;
  }
  if (s->dropped)
    return TRUE;
  if (self->owed->len > 0 || self->unknown_pending)
    return FALSE;
  s->dropped = TRUE;
  return TRUE;
}

/* Events at the decoder's sink pad: flushes and segments. */
static void
decoder_event (GstMemmapCache * self, GstEvent * event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      self->probe_gen++;
      self->dec_eos = FALSE;
      break;
    case GST_EVENT_EOS:
      self->dec_eos = TRUE;
      break;
    case GST_EVENT_SEGMENT:{
      GstSegment seg;

      gst_event_copy_segment (event, &seg);
      GST_DEBUG_OBJECT (self, "decoder's %" GST_PTR_FORMAT, event);
      if (self->probe_seen || self->dec_segment) {
        /* a segment without a flush (a segment seek looping, a
         * non-flushing seek): decoded from now on */
        GST_DEBUG_OBJECT (self, "segment without a flush: no more serving "
            "before the next flush");
        self->probe_pass = TRUE;
      }
      if (!segment_servable (&seg))
        self->probe_pass = TRUE;
      gst_event_replace (&self->dec_segment, event);
      break;
    }
    default:
      break;
  }
}

static GstPadProbeReturn
decoder_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (user_data);
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean drop = FALSE;
  GstBuffer *buffer;

  /* not under the stream lock: a push may hold it, blocked downstream
   * until this flush reaches it */
  if ((info->type & GST_PAD_PROBE_TYPE_EVENT_FLUSH) &&
      GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) ==
      GST_EVENT_FLUSH_START)
    return GST_PAD_PROBE_OK;
  g_rec_mutex_lock (&self->lock);
  if (self->probe_id == 0) {
    g_rec_mutex_unlock (&self->lock);
    return GST_PAD_PROBE_OK;
  }
  if (info->type & (GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
          GST_PAD_PROBE_TYPE_EVENT_FLUSH)) {
    decoder_event (self, GST_PAD_PROBE_INFO_EVENT (info));
    g_rec_mutex_unlock (&self->lock);
    return GST_PAD_PROBE_OK;
  }
  buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  drop = decide_packet (self, buffer);
  if (!drop && GST_BUFFER_PTS_IS_VALID (buffer)) {
    GstSegment tmp;

    if (GST_BUFFER_PTS (buffer) < decoder_segment (self, &tmp)->start)
      self->kept_before_start = TRUE;
  }
  if (self->served->len > 0 && self->probe_gen == self->chain_gen)
    ret = push_served (self, GST_CLOCK_TIME_NONE, FALSE);
  g_rec_mutex_unlock (&self->lock);

  GST_LOG_OBJECT (self, "%s packet %" GST_TIME_FORMAT "%s",
      drop ? "dropping" : "keeping", GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
      GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT) ? "" :
      " (keyframe)");
  if (drop)
    COUNT (self, packets_dropped, 1);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    GST_PAD_PROBE_INFO_DATA (info) = NULL;
    GST_PAD_PROBE_INFO_FLOW_RETURN (info) = ret;
    return GST_PAD_PROBE_HANDLED;
  }
  return drop ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* ------------------------------------------------------------------------ */
/* recording                                                                */

/* The stop of the last seek (NONE if none or open-ended); *@seen: a seek
 * was made since the stream started. */
static GstClockTime
get_seek_stop (GstMemmapCache * self, gboolean * seen)
{
  GstClockTime stop;

  GST_OBJECT_LOCK (self);
  stop = self->seek_stop;
  if (seen)
    *seen = self->seen_seek;
  GST_OBJECT_UNLOCK (self);
  return stop;
}

/* Whether the decoder may have clipped this frame to the segment (its real
 * timestamps are then unknown): the first frame after a seek that starts
 * inside it, the last one before a seek's stop. */
static gboolean
maybe_clipped (GstMemmapCache * self, GstClockTime pts, GstClockTime duration)
{
  gboolean seen;
  GstClockTime stop = get_seek_stop (self, &seen);

  /* a packet that starts or ends there says it is a whole frame, unless
   * the frame of a packet before the start came out clipped to it first
   * (then two frames have that pts, the whole one second) */
  if (seen && pts == self->segment.start && (!self->start_is_frame ||
          self->kept_before_start))
    return TRUE;
  return !self->stop_is_frame && GST_CLOCK_TIME_IS_VALID (stop) &&
      GST_CLOCK_TIME_IS_VALID (self->segment.stop) &&
      GST_CLOCK_TIME_IS_VALID (duration) &&
      pts + duration == self->segment.stop;
}

/* Why a frame of these flags cannot be cached, or NULL. */
static const gchar *
uncacheable_flags (GstBuffer * buffer)
{
  GstBufferFlags flags = GST_BUFFER_FLAGS (buffer) & ~CACHEABLE_FLAGS;

  if (flags == 0)
    return NULL;
  return "frames with buffer flags the frame store does not keep";
}

/* After a frame was recorded: the budget, at every chunk's worth of
 * frames. */
static void
check_budget (GstMemmapCache * self)
{
  self->bytes_since_check += GST_ROUND_UP_N ((guint64)
      GST_VIDEO_INFO_SIZE (&self->info), 4096);
  if (self->bytes_since_check < self->chunk_bytes)
    return;
  self->bytes_since_check = 0;
  /* what a killed run cached stays usable up to here */
  save_gops (self);
  if (!stream_fits (self)) {
    over_budget (self, 0);
    stop_recording (self);
    return;
  }
  if (!room_for_chunk (self)) {
    GST_INFO_OBJECT (self, "%s: max-size=%" G_GUINT64_FORMAT " reached, "
        "recording stops", self->store_path, self->cur.max_size);
    stop_recording (self);
  }
}

/* Records @buffer when it is new and can be cached, and returns what goes
 * downstream: the committed slot, read-only, or @buffer itself. *@cached:
 * the frame is in the cache (now or from before). */
static GstBuffer *
record (GstMemmapCache * self, GstBuffer * buffer, gboolean * cached)
{
  GstMemmapStoreReader *reader;
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime duration = GST_BUFFER_DURATION (buffer);
  GError *error = NULL;
  GstMemory *mem;
  GstBuffer *out;
  CachedFrame frame;
  const gchar *why;
  gboolean zero_copy;
  gint i;

  *cached = FALSE;
  if (!self->usable || self->caps == NULL)
    return buffer;
  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    warn_not_cached (self, "frames without a timestamp");
    return buffer;
  }
  if (!segment_servable (&self->segment)) {
    warn_not_cached (self, "playback at a rate other than 1.0 or in a trick "
        "mode (passed through, not recorded)");
    return buffer;
  }
  if (maybe_clipped (self, pts, duration)) {
    GST_LOG_OBJECT (self, "not caching %" GST_TIME_FORMAT ", maybe clipped",
        GST_TIME_ARGS (pts));
    return buffer;
  }
  if ((i = find_frame (self, pts)) >= 0) {
    const CachedFrame *f = &g_array_index (self->frames, CachedFrame, i);

    /* the same kind of memory as every other frame downstream gets */
    *cached = TRUE;
    out = gst_memmap_store_reader_get_buffer (g_ptr_array_index
        (self->readers, f->store), NULL, f->frame, &error);
    if (out == NULL) {
      read_failed (self, g_ptr_array_index (self->readers, f->store), error);
      g_clear_error (&error);
      *cached = FALSE;
      return buffer;
    }
    gst_buffer_copy_into (out, buffer, GST_BUFFER_COPY_FLAGS |
        GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
    gst_buffer_unref (buffer);
    return out;
  }
  if ((why = uncacheable_flags (buffer))) {
    warn_not_cached (self, why);
    return buffer;
  }
  if (self->store == NULL || gst_memmap_slot_store_is_closed (self->store))
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

  frame.pts = pts;
  frame.duration = duration;
  frame.store = self->store_reader;
  frame.seen = 0;
  frame.frame = gst_memmap_slot_store_get_committed (self->store) - 1;
  insert_frame (self, &frame);
  *cached = TRUE;
  reader = g_ptr_array_index (self->readers, self->store_reader);

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

  check_budget (self);
  return out;

failed:
  cache_failed (self, error, self->store_path);
  g_clear_error (&error);
  return buffer;
}

/* The decoder's frames. Those of served ranges are discarded (the cache
 * gives them); the others go downstream in their turn, after the cached
 * frames before them. */
static GstFlowReturn
gst_memmap_cache_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean cached;

  g_rec_mutex_lock (&self->lock);
  self->dts_is_pts = GST_CLOCK_TIME_IS_VALID (pts) &&
      GST_BUFFER_DTS (buffer) == pts;
  if (GST_CLOCK_TIME_IS_VALID (pts))
    settle_owed (self, pts);
  if (find_served (self, pts)) {
    GST_LOG_OBJECT (self, "decoded %" GST_TIME_FORMAT " is served from the "
        "cache", GST_TIME_ARGS (pts));
    gst_buffer_unref (buffer);
    self->dec_first = FALSE;
    COUNT (self, frames_discarded, 1);
    ret = push_served (self, GST_CLOCK_TIME_NONE, FALSE);
    goto done;
  }
  if (GST_CLOCK_TIME_IS_VALID (pts) && self->served->len > 0)
    ret = push_served (self, pts, TRUE);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    goto done;
  }

  buffer = record (self, buffer, &cached);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    self->last_out = pts;
  note_output (self, pts, cached);
  if (cached && self->first_buffer && !GST_CLOCK_TIME_IS_VALID
      (self->meta.start)) {
    gboolean seen;

    get_seek_stop (self, &seen);
    if (!seen) {
      self->meta.start = pts;
      write_meta (self);
    }
  }
  if (self->first_buffer && self->chain_gen == 0 && self->gops &&
      GST_CLOCK_TIME_IS_VALID (pts)) {
    gboolean seen;

    /* the stream's first frame is its first keyframe's, whose packet went
     * by before we watched the decoder */
    get_seek_stop (self, &seen);
    if (!seen)
      gst_memmap_cache_gops_add_key (self->gops, pts);
  }
  COUNT (self, frames_decoded, 1);
  ret = push_out (self, buffer, TRUE);
  if (ret == GST_FLOW_OK && self->served->len > 0)
    ret = push_served (self, GST_CLOCK_TIME_NONE, FALSE);

done:
  g_rec_mutex_unlock (&self->lock);
  return ret;
}

/* At EOS from upstream: the stream ends at the last frame; complete if one
 * interval covers it from its first frame. */
static void
mark_end (GstMemmapCache * self)
{
  GstMemmapCacheCover *c;

  if (!GST_CLOCK_TIME_IS_VALID (self->last_end) || self->downstream_ended ||
      GST_CLOCK_TIME_IS_VALID (get_seek_stop (self, NULL)) ||
      !segment_servable (&self->segment)) {
    GST_DEBUG_OBJECT (self, "EOS: the end of the stream is not known");
    return;
  }
  if (self->run_valid && self->gops && self->store)
    gst_memmap_cache_gops_cover (self->gops, self->run_first,
        self->run_last, TRUE);
  if (self->gops == NULL)
    return;
  self->meta.end = self->last_end;
  c = GST_CLOCK_TIME_IS_VALID (self->meta.start) ?
      gst_memmap_cache_gops_find_cover (self->gops, self->meta.start) : NULL;
  if (c && c->eos)
    self->meta.complete = TRUE;
  GST_INFO_OBJECT (self, "stream ends at %" GST_TIME_FORMAT "%s",
      GST_TIME_ARGS (self->meta.end), self->meta.complete ? ", all cached" :
      "");
  write_meta (self);
  save_gops (self);
}

/* Forwards a serialized event from upstream, after the cached frames that
 * come before it (all of them: the decoder gave everything before it). */
static gboolean
forward_after_served (GstMemmapCache * self, GstEvent * event)
{
  gboolean ret;

  if (self->served->len > 0)
    push_served (self, GST_CLOCK_TIME_NONE, TRUE);
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
    push_served (self, GST_CLOCK_TIME_NONE, TRUE);
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
      reset_segment (self);
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
          push_served (self, GST_CLOCK_TIME_NONE, TRUE);
        g_array_set_size (self->served, 0);
        self->last_served = GST_CLOCK_TIME_NONE;
        self->run_valid = FALSE;
        gst_caps_replace (&self->caps, caps);
        self->info = info;
        open_cache (self);
      }
      ret = gst_pad_push_event (self->srcpad, event);
      break;
    }
    case GST_EVENT_SEGMENT:
      ret = sink_segment (self, event);
      break;
    case GST_EVENT_EOS:
      if (self->served->len > 0)
        push_served (self, GST_CLOCK_TIME_NONE, TRUE);
      mark_end (self);
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
      !gst_memmap_video_info_same_frame_layout (&info,
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
  reset_segment (self);
  self->start_pending = TRUE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  g_rec_mutex_unlock (&self->lock);
}

static void
end_stream (GstMemmapCache * self)
{
  g_rec_mutex_lock (&self->lock);
  remove_probe (self);
  close_cache (self);
  clear_map (self);
  reset_segment (self);
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
