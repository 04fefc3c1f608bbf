/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The entry points of the frames API (gst_memmap_map_video_frames() and
 * its variants, documented with #GstMemmapFrames in gstmemmapframes.c):
 * a call's input checked (gstmemmapframesjob.c), its frames read from the
 * cache directory when they are all there (gstmemmapframesdirect.c), else
 * from a recording (gstmemmapframesrecording.c), made copy-on-write when
 * asked (gstmemmapframescow.c), and the last progress report. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"

#define GST_CAT_DEFAULT gst_memmap_debug

/**
 * gst_memmap_map_video_frames_full:
 * @engine: the #GstMemmapEngine that maps the frame stores
 * @uri_or_path: (type filename): a video file's path or a URI
 * @start_frame: the first frame (0 = the stream's first frame)
 * @frame_count: how many frames; 0 = all frames to the end of the stream
 * @format: (nullable): a video format name (`"GRAY8"`, `"RGBA"`, `"I420"`,
 *   ...) to convert to, or %NULL for the decoder's own format
 * @cache_dir: (nullable) (type filename): the memmapcache cache directory,
 *   or %NULL for memmapcache's default (`g_get_user_cache_dir()/gst-memmap`)
 * @error: return location for a #GError, or %NULL
 *
 * As gst_memmap_map_video_frames(), with the cache directory given.
 *
 * Returns: (transfer full) (nullable): the frames, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapFrames *
gst_memmap_map_video_frames_full (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, const gchar * cache_dir, GError ** error)
{
  return gst_memmap_engine_map_video_frames_full (engine, uri_or_path,
      start_frame, frame_count, format, cache_dir, GST_MEMMAP_FRAMES_NONE,
      NULL, NULL, NULL, error);
}

/* The frames of @job: from the cache directly, else through the pipeline
 * (again into a new entry when frames were lost on the way out of a
 * partial one). */
static GstMemmapFrames *
job_run (Job * job, GError ** error)
{
  GstMemmapFrames *frames;
  gboolean gap = FALSE;

  frames = gst_memmap_frames_try_direct (job);
  if (frames)
    return frames;
  if (gst_memmap_frames_job_cancelled (job, error))
    return NULL;
  frames = gst_memmap_frames_run_pipeline (job, &gap, error);
  /* Frames that do not follow each other after some came from the cache
   * entry (gstmemmapframesrecording.c, `gap`): the entry does not give
   * what the decoder gives. memmapcache itself never seeks (it sends
   * every seek upstream unchanged and only drops the packets of what it
   * serves, docs/design.md "memmapcache"), so this guards against an
   * entry that is wrong for the stream (one an older memmapcache recorded
   * through its own hand-over seek, a store changed under it). The
   * numbering of the frames would be wrong: decode again from the start
   * into the next generation of the entry, then into one nobody used. */
  if (frames == NULL && gap && (error == NULL || *error == NULL)) {
    job->generation++;
    frames = gst_memmap_frames_run_pipeline (job, &gap, error);
    if (frames == NULL && gap && (error == NULL || *error == NULL)) {
      /* that generation's entry was partial too: one nobody used */
      job->fresh_key = TRUE;
      frames = gst_memmap_frames_run_pipeline (job, &gap, error);
    }
  }
  return frames;
}

/**
 * gst_memmap_engine_map_video_frames_full:
 * @engine: the #GstMemmapEngine that maps the frame stores
 * @uri_or_path: (type filename): a video file's path or a URI
 * @start_frame: the first frame (0 = the stream's first frame)
 * @frame_count: how many frames; 0 = all frames to the end of the stream
 * @format: (nullable): a video format name (`"GRAY8"`, `"RGBA"`, `"I420"`,
 *   ...) to convert to, or %NULL for the decoder's own format
 * @cache_dir: (nullable) (type filename): the memmapcache cache directory,
 *   or %NULL for memmapcache's default (`g_get_user_cache_dir()/gst-memmap`)
 * @flags: %GST_MEMMAP_FRAMES_COPY_ON_WRITE for writable copy-on-write
 *   frames, %GST_MEMMAP_FRAMES_NONE for read-only ones
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @progress: (nullable) (scope call) (closure progress_data): called in
 *   this thread with the frames recorded so far and the total, or %NULL
 * @progress_data: data for @progress
 * @error: return location for a #GError, or %NULL
 *
 * gst_memmap_map_video_frames() with every option, as a method of the
 * engine.
 *
 * With %GST_MEMMAP_FRAMES_COPY_ON_WRITE the frames are writable:
 * gst_memmap_frames_get_writable_data() and the buffers' memory (not
 * %GST_MEMORY_FLAG_READONLY) are private copy-on-write mappings of the
 * frame stores' windows (%GST_MEMMAP_MAP_COPY_ON_WRITE). Nothing is copied
 * until a page is written; the written page is the process's own, seen
 * through these frames only, and the store file never changes. The
 * written pages are counted as `private-bytes` in
 * gst_memmap_frames_get_stats().
 *
 * @progress is called, in the calling thread, as frames are recorded: with
 * the frames of the stream recorded so far (never decreasing) and the
 * total to record (`start_frame + frame_count`, or with @frame_count 0 an
 * estimate from the stream's duration, 0 while unknown), and a last time
 * with both equal when the call succeeds. It may cancel @cancellable.
 *
 * When @cancellable is cancelled (from any thread, or from @progress) the
 * call stops its pipeline and fails with %G_IO_ERROR_CANCELLED. The frames
 * recorded so far stay in the cache: a later call does not decode them
 * again.
 *
 * Returns: (transfer full) (nullable): the frames, or %NULL with @error set
 *
 * Since: 0.2
 */
GstMemmapFrames *
gst_memmap_engine_map_video_frames_full (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, const gchar * cache_dir, GstMemmapFramesFlags flags,
    GCancellable * cancellable, GstMemmapFramesProgressFunc progress,
    gpointer progress_data, GError ** error)
{
  GstMemmapFrames *frames = NULL;
  Job job;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (uri_or_path != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL ||
      G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  /* bindings may call this first thing: GStreamer must be initialised
   * (in C, gst_init() is the caller's) */
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  gst_memmap_init ();
  if (gst_memmap_frames_job_init (&job, engine, uri_or_path, start_frame,
          frame_count, format, cache_dir, error)) {
    job.cancellable = cancellable;
    job.progress = progress;
    job.progress_data = progress_data;
    frames = job_run (&job, error);
    if (frames && (flags & GST_MEMMAP_FRAMES_COPY_ON_WRITE) &&
        !gst_memmap_frames_make_copy_on_write (frames, engine, error))
      g_clear_object (&frames);
    if (frames) {
      guint64 n = gst_memmap_frames_get_start_frame (frames) +
          gst_memmap_frames_get_n_frames (frames);

      gst_memmap_frames_job_report (&job, n, n);
    }
  }
  gst_memmap_frames_job_clear (&job);
  return frames;
}

/**
 * gst_memmap_map_video_frames:
 * @engine: the #GstMemmapEngine that maps the frame stores
 * @uri_or_path: (type filename): a video file's path or a URI
 * @start_frame: the first frame (0 = the stream's first frame)
 * @frame_count: how many frames; 0 = all frames to the end of the stream
 * @format: (nullable): a video format name (`"GRAY8"`, `"RGBA"`, `"I420"`,
 *   ...) to convert to, or %NULL for the decoder's own format
 * @error: return location for a #GError, or %NULL
 *
 * Returns frames `[start_frame, start_frame + frame_count)` of the first
 * video stream of @uri_or_path, decoded once through the `memmapcache`
 * cache (see #GstMemmapFrames). Frame k is the k-th frame the decoder
 * outputs, whatever the GOP structure. A range past the end is clipped
 * (gst_memmap_frames_get_n_frames(), gst_memmap_frames_is_clipped()).
 *
 * Each frame is a #GstBuffer whose memory is a slot of a frame store
 * (gst_memmap_frames_is_zero_copy(); a frame the cache could not hold, see
 * `cache-warning` in gst_memmap_frames_get_stats(), is a private copy),
 * laid out as gst_memmap_frames_get_video_info() says.
 *
 * Errors: %GST_MEMMAP_ERROR_NOT_FOUND (and the other errno codes) for a
 * file that cannot be opened, %GST_MEMMAP_ERROR_INVALID_ARGUMENT for an
 * unknown @format, #GST_CORE_ERROR_MISSING_PLUGIN when an element (such as
 * memmapcache) is not installed, and the #GST_STREAM_ERROR or
 * #GST_RESOURCE_ERROR of the pipeline for input that cannot be decoded
 * (its message names the input).
 *
 * Returns: (transfer full) (nullable): the frames, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapFrames *
gst_memmap_map_video_frames (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, GError ** error)
{
  return gst_memmap_map_video_frames_full (engine, uri_or_path, start_frame,
      frame_count, format, NULL, error);
}

/**
 * gst_memmap_engine_map_video_frames:
 * @engine: a #GstMemmapEngine
 * @uri_or_path: (type filename): a video file's path or a URI
 * @start_frame: the first frame (0 = the stream's first frame)
 * @frame_count: how many frames; 0 = all frames to the end of the stream
 * @format: (nullable): a video format name to convert to, or %NULL for the
 *   decoder's own format
 * @error: return location for a #GError, or %NULL
 *
 * gst_memmap_map_video_frames() as a method of the engine (for bindings:
 * `engine.map_video_frames (path, 0, 100, "GRAY8")` in Python).
 *
 * Returns: (transfer full) (nullable): the frames, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapFrames *
gst_memmap_engine_map_video_frames (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, GError ** error)
{
  return gst_memmap_map_video_frames_full (engine, uri_or_path, start_frame,
      frame_count, format, NULL, error);
}
