/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the frames API share: gstmemmapframes.c (the object
 * and its getters), gstmemmapframesmap.c (the entry points: a call's
 * cache lookup, then the recording), gstmemmapframescow.c (frames turned
 * into copy-on-write views), gstmemmapframesjob.c (a call's input,
 * progress and cancel), gstmemmapframesdirect.c (frames read from the
 * cache directory without a pipeline), gstmemmapframesrecording.c (the
 * recordings that calls join) and gstmemmapframespipeline.c (a
 * recording's pipeline, which uses the memmapcache element). Not installed;
 * include memmap.h and gstmemmapcachedir.h first. */

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/* How far from its point on the frame-rate grid a frame's pts may be for
 * the frame to be numbered by the grid: the container's rounding only
 * (Matroska stores ms, so half a ms, plus a ns for the rounding of the
 * grid itself; MP4 timescales give exact times). Anything looser takes
 * the frames of a variable frame rate stream that fall near a grid point
 * for the frames of that number (docs/design.md, "The frames API's
 * recordings"). */
#define GST_MEMMAP_FRAMES_GRID_TOLERANCE (GST_MSECOND / 2 + 1)

/* One frame of a GstMemmapFrames: its buffer, mapped while the frames
 * live (for writing when they are copy-on-write). */
typedef struct
{
  GstBuffer *buffer;
  GstMapInfo map;
  const gchar *path;            /* of the memmap memory, or NULL */
  guint64 file_offset;
} Frame;

struct _GstMemmapFrames
{
  GObject parent;

  GstCaps *caps;
  GstVideoInfo info;
  GArray *frames;               /* Frame */
  guint64 start_frame;
  gboolean clipped;
  gboolean zero_copy;
  gboolean cow;                 /* copy-on-write: frames are writable */
  GPtrArray *cow_maps;          /* GstMemmapMapping: the private windows */
  GstStructure *stats;
  GstMemmapCacheEntry *entry;   /* held (shared lock) while the frames live */
};

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

  /* progress and cancel (gstmemmapframesjob.c), all optional */
  GCancellable *cancellable;
  GstMemmapFramesProgressFunc progress;
  gpointer progress_data;
  guint64 done;                 /* last done reported */
  guint64 total;                /* last total reported, 0 unknown */
  guint64 fps_n, fps_d;         /* of the frames, for the estimate */
} Job;

/* gstmemmapframesjob.c: a call's input, checked (the file's identity
 * for the cache key and the direct path's index), and freed */
G_GNUC_INTERNAL
gboolean gst_memmap_frames_job_init (Job * job, GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start, guint64 count,
    const gchar * format, const gchar * cache_dir, GError ** error);

G_GNUC_INTERNAL
void gst_memmap_frames_job_clear (Job * job);

/* gstmemmapframesjob.c: @seen frames recorded of @total (0: unknown)
 * noted, and the progress callback called when that moves it on */
G_GNUC_INTERNAL
void gst_memmap_frames_job_report (Job * job, guint64 seen, guint64 total);

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

/* Progress and cancel of a call (gstmemmapframesjob.c), for whatever waits
 * for the frames in the caller's thread:
 * - _job_progress(): @seen frames of the stream recorded so far (and the
 *   frame rate, 0/0 if unknown, for the estimate of the total): calls the
 *   progress callback, if any, when that moves it on. Caller's thread only,
 *   no lock held (the callback may cancel).
 * - _job_cancelled(): TRUE with @error set to G_IO_ERROR_CANCELLED when
 *   the call's cancellable was cancelled.
 * - _job_connect_cancel(): @callback (a GCancellable::cancelled handler,
 *   void (*) (GCancellable *, gpointer data)) runs in the cancelling
 *   thread when the call is cancelled, to wake the waiter (a
 *   bus message, a GCond broadcast); at once, and 0 returned, if it is
 *   already (so no lock of the waiter may be held); _job_unwatch() after.
 * The waiter (gstmemmapframesrecording.c, on the recording's GCond)
 * connects a handler that broadcasts the GCond, calls _job_progress()
 * with the frames recorded after each wake-up (lock released) and stops
 * waiting when _job_cancelled(). */
G_GNUC_INTERNAL
void gst_memmap_frames_job_progress (Job * job, GstElement * pipeline,
    guint64 seen, gint fps_n, gint fps_d);

G_GNUC_INTERNAL
gboolean gst_memmap_frames_job_cancelled (Job * job, GError ** error);

G_GNUC_INTERNAL
gulong gst_memmap_frames_job_connect_cancel (Job * job, GCallback callback,
    gpointer data, GDestroyNotify notify);

G_GNUC_INTERNAL
void gst_memmap_frames_job_unwatch (Job * job, gulong id);

G_GNUC_INTERNAL
void gst_memmap_frames_job_index_store (Job * job, GstMemmapCacheDir * dir,
    const gchar * hash);

/* gstmemmapframescow.c: every frame of @frames made writable, as memory
 * of private copy-on-write mappings of the stores' windows; and the bytes
 * of the pages written so far */
G_GNUC_INTERNAL
gboolean gst_memmap_frames_make_copy_on_write (GstMemmapFrames * frames,
    GstMemmapEngine * engine, GError ** error);

G_GNUC_INTERNAL
guint64 gst_memmap_frames_cow_private_bytes (GstMemmapFrames * frames);

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
