/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of memmapsrc share: the element's struct; the frames in
 * time, seeking and the time queries (gstmemmapsrcseek.c); the streaming
 * thread (gstmemmapsrcstream.c). gstmemmapsrc.c holds the element, its
 * properties, states and URI handler. Not installed. */

#include <gst/base/gstbasesrc.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_src_debug);

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

/* gstmemmapsrcseek.c; the frame lookups need the store_lock or the
 * streaming thread */
G_GNUC_INTERNAL
void gst_memmap_src_get_range (GstMemmapSrc * self, guint64 * first,
    guint64 * end);

G_GNUC_INTERNAL
guint64 gst_memmap_src_get_range_end (GstMemmapSrc * self);

G_GNUC_INTERNAL
gboolean gst_memmap_src_frame_times (GstMemmapSrc * self, guint64 frame,
    GstClockTime * pts, GstClockTime * duration, GError ** error);

G_GNUC_INTERNAL
GstClockTime gst_memmap_src_end_time (GstClockTime pts,
    GstClockTime duration);

G_GNUC_INTERNAL
gboolean gst_memmap_src_last_frame_at (GstMemmapSrc * self, GstClockTime t,
    guint64 lo, guint64 hi, guint64 * frame);

G_GNUC_INTERNAL
gboolean gst_memmap_src_is_seekable (GstBaseSrc * bsrc);

G_GNUC_INTERNAL
gboolean gst_memmap_src_prepare_seek_segment (GstBaseSrc * bsrc,
    GstEvent * seek, GstSegment * segment);

G_GNUC_INTERNAL
gboolean gst_memmap_src_do_seek (GstBaseSrc * bsrc, GstSegment * segment);

G_GNUC_INTERNAL
gboolean gst_memmap_src_query_duration (GstMemmapSrc * self,
    GstQuery * query);

G_GNUC_INTERNAL
gboolean gst_memmap_src_query_convert (GstMemmapSrc * self,
    GstQuery * query);

G_GNUC_INTERNAL
gboolean gst_memmap_src_query_seeking (GstMemmapSrc * self,
    GstQuery * query);

/* gstmemmapsrcstream.c */
G_GNUC_INTERNAL
gboolean gst_memmap_src_unlock (GstBaseSrc * bsrc);

G_GNUC_INTERNAL
gboolean gst_memmap_src_unlock_stop (GstBaseSrc * bsrc);

G_GNUC_INTERNAL
GstFlowReturn gst_memmap_src_create (GstBaseSrc * bsrc, guint64 offset,
    guint size, GstBuffer ** buf);

G_END_DECLS
