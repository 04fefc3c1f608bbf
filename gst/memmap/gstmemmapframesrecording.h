/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A recording of the frames API: one pipeline that decodes a stream into
 * its memmapcache entry, and the frames that came out of it, shared by the
 * calls of gst_memmap_map_video_frames() that join it (docs/design.md, "The
 * frames API's recordings"). gstmemmapframespipeline.c owns the pipeline
 * (building it, its probes, the seek, the stop);
 * gstmemmapframesrecording.c the table of live recordings, the joining and
 * the waiting. Not installed. */

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct _GstMemmapRecording GstMemmapRecording;

/* How far past the recorded frames a call still joins a recording and
 * waits for it to decode there (farther, the recording seeks), in frames:
 * one chunk of a sequential reader */
#define GST_MEMMAP_RECORDING_JOIN_AHEAD 32
/* The frames a recording holds behind its newest one, at most, beyond
 * those a waiting call asked for: older frames are in the cache entry
 * (the direct path reads them) and held by the frames handed out; a
 * recording of a long video must not hold all its frames mapped */
#define GST_MEMMAP_RECORDING_MAX_HELD 128
/* A range that starts before this frame is recorded from the start of the
 * stream, not from a seek: the seek would save little, and the entry stays
 * whole from the first frame */
#define GST_MEMMAP_RECORDING_SEEK_MIN 32
/* What a recording decodes past the end of the last range asked for
 * before it waits: at least this many frames, and at least twice the
 * range */
#define GST_MEMMAP_RECORDING_MIN_LOOKAHEAD 64

struct _GstMemmapRecording
{
  /* under the table's lock (gstmemmapframesrecording.c) */
  guint refcount;
  guint waiters;                /* calls waiting on it */
  gboolean registered;
  gchar *key;

  /* set at creation */
  guint serial;
  GstMemmapEngine *engine;
  gchar *input;                 /* for messages */
  gboolean from_seek;           /* starts with a seek to frame `seek_to` */
  guint64 seek_to;

  /* the pipeline: made by gst_memmap_recording_start(), stopped by
   * gst_memmap_recording_stop() */
  GstElement *pipeline;
  GstElement *convert;
  GstElement *cache;

  GMutex lock;
  GCond cond;                   /* signalled at each frame and each end */
  /* under lock */
  gboolean linked;
  guint64 goal;                 /* the probe waits once it has frames up to
                                 * here (exclusive) */
  gboolean stopping;
  gboolean flushing;
  gboolean hold_first;          /* the probe holds the stream's first frame
                                 * until the seek is sent */
  gboolean await_flush;         /* seek sent: drop frames until its flush */
  gboolean have_first;
  gboolean seeked;              /* frames are numbered by the grid */
  GstClockTime pts0;            /* of the stream's first frame */
  GstClockTime drop_before;     /* after the seek: frames before the window
                                 * are not converted nor recorded */
  guint64 lead_k;               /* grid number of the last of those */
  GstSegment segment;           /* before the seek */
  guint64 base;                 /* frame number of buffers[0];
                                 * G_MAXUINT64 while unknown */
  GPtrArray *buffers;           /* GstBuffer, frames base, base + 1, ... */
  GArray *waiting_starts;       /* guint64: the start of each waiting call */
  guint64 decoded;              /* frames out of the decoder(s) */
  guint64 copied;               /* frames that were not store memory */
  GstCaps *caps;
  GstVideoInfo info;
  gboolean eos;                 /* the video stream ended */
  gboolean layout_changed;
  gboolean unnumbered;          /* the grid does not number the frames */
  GError *error;
  gchar *warning;               /* the first warning */
  gchar *entry_hash;            /* every frame so far from this entry */
  gboolean one_entry;
  GstClockTime prev_end;        /* end of the frame before */
  gboolean gap;                 /* frames do not follow each other */
};

/* gstmemmapframesrecording.c */
G_GNUC_INTERNAL
void gst_memmap_recording_count_decoded (void);

/* gstmemmapframespipeline.c */
G_GNUC_INTERNAL
gboolean gst_memmap_recording_build (GstMemmapRecording * r, Job * job,
    GError ** error);

G_GNUC_INTERNAL
void gst_memmap_recording_start (GstMemmapRecording * r);

G_GNUC_INTERNAL
void gst_memmap_recording_stop (GstMemmapRecording * r);

G_GNUC_INTERNAL
gboolean gst_memmap_recording_can_seek (GstMemmapRecording * r);

G_GNUC_INTERNAL
void gst_memmap_recording_prepare_seek (GstMemmapRecording * r,
    guint64 frame);

G_GNUC_INTERNAL
void gst_memmap_recording_seek (GstMemmapRecording * r);

G_GNUC_INTERNAL
gboolean gst_memmap_recording_has_frames (GstMemmapRecording * r,
    guint64 end);

G_END_DECLS
