/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of memmapcache share: the element's struct and the
 * functions one file calls in another. gstmemmapcache.c holds the element:
 * its properties, pads, events, queries and states; gstmemmapcachestream.c
 * the stream's entry (its identity, opening its stores and GOP file, the
 * map of cached frames, closing); gstmemmapcacherecord.c the recording
 * path (frames into the slot store, the budget, the failures, the GOP
 * file's intervals); gstmemmapcacheserve.c the serving path (which
 * packets the decoder's sink pad drops, the merge of cached and decoded
 * frames, clipped as the decoder clips). Not installed. */

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapcachedir.h>

#include "gstmemmapcachegops.h"
#include "gstmemmapcachewalk.h"
#include "gstmemmapslotpool.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_cache_debug);

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
  guint store_generation;       /* of the store when that reader opened */
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

/* Adds @n to a counter of the stats, under the object lock. */
#define COUNT(self, counter, n) G_STMT_START {  \
  GST_OBJECT_LOCK (self);                       \
  (self)->counter += (n);                       \
  GST_OBJECT_UNLOCK (self);                     \
} G_STMT_END

/* gstmemmapcachestream.c */
G_GNUC_INTERNAL
guint gst_memmap_cache_first_frame_from (GstMemmapCache * self,
    GstClockTime t);

G_GNUC_INTERNAL
gint gst_memmap_cache_find_frame (GstMemmapCache * self, GstClockTime pts);

G_GNUC_INTERNAL
void gst_memmap_cache_insert_frame (GstMemmapCache * self,
    const CachedFrame * frame);

G_GNUC_INTERNAL
void gst_memmap_cache_close (GstMemmapCache * self);

G_GNUC_INTERNAL
void gst_memmap_cache_clear_map (GstMemmapCache * self);

G_GNUC_INTERNAL
void gst_memmap_cache_save_gops (GstMemmapCache * self);

G_GNUC_INTERNAL
void gst_memmap_cache_remove_probe (GstMemmapCache * self);

G_GNUC_INTERNAL
void gst_memmap_cache_open (GstMemmapCache * self);

G_GNUC_INTERNAL
void gst_memmap_cache_write_meta (GstMemmapCache * self);

/* gstmemmapcacherecord.c */
G_GNUC_INTERNAL
void gst_memmap_cache_warn_once (GstMemmapCache * self,
    const GError * error, const gchar * path, gboolean serving);

G_GNUC_INTERNAL
void gst_memmap_cache_failed (GstMemmapCache * self, const GError * error,
    const gchar * path);

G_GNUC_INTERNAL
void gst_memmap_cache_update_disk_usage (GstMemmapCache * self,
    guint64 reserve);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_open_recording (GstMemmapCache * self,
    GstMemmapEngine * engine, GError ** error);

G_GNUC_INTERNAL
void gst_memmap_cache_read_failed (GstMemmapCache * self,
    GstMemmapStoreReader * reader, const GError * error);

G_GNUC_INTERNAL
void gst_memmap_cache_note_output (GstMemmapCache * self, GstClockTime pts,
    gboolean cached);

G_GNUC_INTERNAL
GstClockTime gst_memmap_cache_get_seek_stop (GstMemmapCache * self,
    gboolean * seen);

G_GNUC_INTERNAL
GstBuffer *gst_memmap_cache_record (GstMemmapCache * self,
    GstBuffer * buffer, gboolean * cached);

G_GNUC_INTERNAL
void gst_memmap_cache_mark_end (GstMemmapCache * self);

/* gstmemmapcacheserve.c */
G_GNUC_INTERNAL
GstFlowReturn gst_memmap_cache_push_served (GstMemmapCache * self,
    GstClockTime upto, gboolean all);

G_GNUC_INTERNAL
void gst_memmap_cache_reset_segment (GstMemmapCache * self);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_segment_servable (const GstSegment * seg);

G_GNUC_INTERNAL
GstPadProbeReturn gst_memmap_cache_decoder_probe (GstPad * pad,
    GstPadProbeInfo * info, gpointer user_data);

G_GNUC_INTERNAL
GstFlowReturn gst_memmap_cache_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buffer);

G_END_DECLS
