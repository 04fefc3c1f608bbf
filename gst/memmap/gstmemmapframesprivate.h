/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the frames API share: gstmemmapframes.c (the object,
 * the input, the API), gstmemmapframesdirect.c (frames read from the cache
 * directory without a pipeline), gstmemmapframesrecording.c (the
 * recordings that calls join) and gstmemmapframespipeline.c (a
 * recording's pipeline, which uses the memmapcache element). Not installed;
 * include memmap.h and gstmemmapcachedir.h first. */

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* One call of gst_memmap_map_video_frames_full(). */
typedef struct
{
  GstMemmapEngine *engine;
  gchar *input;                 /* as given, for messages */
  gchar *uri;
  gchar *cache_dir;
  gchar *format;                /* NULL = native */
  guint64 start;
  guint64 end;                  /* start + count, G_MAXUINT64 = to the end */
  gchar *index_key;             /* NULL: not a local file, no direct path */
  guint generation;             /* of the memmapcache key, see cache_key () */
  gboolean fresh_key;           /* use a key nobody used before */
} Job;

/* gstmemmapframes.c */
G_GNUC_INTERNAL
gboolean gst_memmap_frames_buffer_has_layout (GstBuffer * buf,
    const GstVideoInfo * info);

G_GNUC_INTERNAL
const gchar *gst_memmap_frames_store_path_of (GstBuffer * buf);

G_GNUC_INTERNAL
GstMemmapFrames *gst_memmap_frames_new_from_buffers (GPtrArray * buffers,
    GstCaps * caps, const GstVideoInfo * info, guint64 start,
    gboolean clipped, GstStructure * stats, GstMemmapCacheEntry ** entry,
    GError ** error);

G_GNUC_INTERNAL
gchar *gst_memmap_frames_job_cache_key (Job * job);

G_GNUC_INTERNAL
void gst_memmap_frames_job_index_store (Job * job, GstMemmapCacheDir * dir,
    const gchar * hash);

/* gstmemmapframesdirect.c: the frames, or NULL when they are not all in
 * the cache (then the pipeline decodes them) */
G_GNUC_INTERNAL
GstMemmapFrames *gst_memmap_frames_try_direct (Job * job);

/* gstmemmapframesrecording.c: joins or starts the recording of the
 * stream (gstmemmapframespipeline.c) and waits for the frames */
G_GNUC_INTERNAL
GstMemmapFrames *gst_memmap_frames_run_pipeline (Job * job, gboolean * gap,
    GError ** error);

G_GNUC_INTERNAL
void gst_memmap_frames_adopt_recording (Job * job, GstMemmapFrames * frames);

G_END_DECLS
