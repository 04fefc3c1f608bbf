/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One call of the frames API (a Job, gstmemmapframesprivate.h): its input
 * (the file's identity, the cache key), and its progress and cancel
 * (docs/design.md, "Writable frames and long calls"): the numbers the
 * progress callback gets, the estimate of the total, the GCancellable
 * handler that wakes the caller's wait and the cancel's error. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* frames between two duration queries for the estimate of the total */
#define ESTIMATE_EVERY 32

/* ------------------------------------------------------------------------ */
/* the input                                                                */


void
gst_memmap_frames_job_clear (Job * job)
{
  g_free (job->input);
  g_free (job->uri);
  g_free (job->cache_dir);
  g_free (job->format);
  g_free (job->index_key);
}

gboolean
gst_memmap_frames_job_init (Job * job, GstMemmapEngine * engine,
    const gchar * uri_or_path,
    guint64 start, guint64 count, const gchar * format,
    const gchar * cache_dir, GError ** error)
{
  gchar *filename = NULL;
  struct stat st;

  memset (job, 0, sizeof (*job));
  job->engine = engine;
  job->input = g_strdup (uri_or_path);
  job->start = start;
  job->end = (count == 0 || start > G_MAXUINT64 - count) ? G_MAXUINT64 :
      start + count;
  job->format = g_strdup (format);
  job->cache_dir = cache_dir ? g_strdup (cache_dir) :
      gst_memmap_cache_dir_default_path ();

  if (format && gst_video_format_from_string (format) ==
      GST_VIDEO_FORMAT_UNKNOWN) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Unknown video format '%s' (for '%s')", format, uri_or_path);
    return FALSE;
  }

  if (gst_uri_is_valid (uri_or_path)) {
    job->uri = g_strdup (uri_or_path);
    if (g_str_has_prefix (uri_or_path, "file:"))
      filename = g_filename_from_uri (uri_or_path, NULL, NULL);
  } else {
    filename = g_strdup (uri_or_path);
  }

  if (filename) {
    if (stat (filename, &st) < 0) {
      gint err = errno;

      g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
          "Could not open video '%s': %s", uri_or_path, g_strerror (err));
      g_free (filename);
      return FALSE;
    }
    if (S_ISDIR (st.st_mode)) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IS_DIRECTORY,
          "Could not open video '%s': it is a directory", uri_or_path);
      g_free (filename);
      return FALSE;
    }
    /* a FIFO, a device or a socket: the decoder's open() of a FIFO blocks
     * until a writer comes, which may be never */
    if (!S_ISREG (st.st_mode)) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
          "Could not open video '%s': it is not a regular file (%s)",
          uri_or_path, S_ISFIFO (st.st_mode) ? "a FIFO" :
          S_ISSOCK (st.st_mode) ? "a socket" : S_ISCHR (st.st_mode) ?
          "a character device" : S_ISBLK (st.st_mode) ? "a block device" :
          "a special file");
      g_free (filename);
      return FALSE;
    }
    if (job->uri == NULL) {
      job->uri = gst_filename_to_uri (filename, error);
      if (job->uri == NULL) {
        g_free (filename);
        return FALSE;
      }
    }
    if (S_ISREG (st.st_mode))
      /* as memmapcache's identity: what a rewrite in place cannot keep
       * (the ctime) is in it */
      job->index_key = g_strdup_printf ("gst-memmap frames 2\nuri=%s\n"
          "dev=%" G_GUINT64_FORMAT "\nino=%" G_GUINT64_FORMAT "\nsize=%"
          G_GINT64_FORMAT "\nmtime=%" G_GINT64_FORMAT ".%09ld\nctime=%"
          G_GINT64_FORMAT ".%09ld\nformat=%s\n", job->uri,
          (guint64) st.st_dev, (guint64) st.st_ino, (gint64) st.st_size,
          (gint64) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec,
          (gint64) st.st_ctim.tv_sec, (long) st.st_ctim.tv_nsec,
          format ? format : "(native)");
    g_free (filename);
  }
  return TRUE;
}

/* The key memmapcache identifies the stream by (its property `key`): the
 * file's identity and the format, and a generation that moves on when an
 * entry turned out to have lost frames (see gst_memmap_map_video_frames_full
 * ()). Not a local file: memmapcache's own identity (URI and stream id),
 * unless a fresh entry is needed. */
gchar *
gst_memmap_frames_job_cache_key (Job * job)
{
  if (job->fresh_key)
    return g_strdup_printf ("%sgeneration=%u\nfresh=%08x%08x\n",
        job->index_key ? job->index_key : job->uri, job->generation,
        g_random_int (), g_random_int ());
  if (job->index_key == NULL)
    return NULL;
  return g_strdup_printf ("%sgeneration=%u\n", job->index_key, job->generation);
}

/* Records in the cache directory's index that the frames are in the entry
 * @hash (gstmemmapcachedir.c owns the index). */
void
gst_memmap_frames_job_index_store (Job * job, GstMemmapCacheDir * dir,
    const gchar * hash)
{
  if (job->index_key == NULL || job->fresh_key)
    return;
  gst_memmap_cache_dir_index_store (dir, job->index_key, hash, job->generation);
}

/* ------------------------------------------------------------------------ */
/* progress and cancel                                                      */

/* Notes @seen frames recorded (for the cancel's message too) and calls
 * the progress callback when that moves the numbers on: done never
 * decreases. */
void
gst_memmap_frames_job_report (Job * job, guint64 seen, guint64 total)
{
  guint64 done = MAX (job->done, seen);

  if (job->progress == NULL) {
    job->done = done;
    return;
  }
  total = total ? MAX (total, done) : 0;
  if (done == job->done && total == job->total && done != 0)
    return;
  job->done = done;
  job->total = total;
  job->progress (done, total, job->progress_data);
}

/* The frames to record: the end of the range, or the stream's frame count
 * estimated from the pipeline's duration and the frame rate (0 unknown). */
static guint64
job_estimate_total (Job * job, GstElement * pipeline, guint64 seen)
{
  gint64 dur = -1;

  if (job->end != G_MAXUINT64)
    return job->end;
  if (job->total != 0 && seen % ESTIMATE_EVERY != 0)
    return job->total;
  if (job->fps_n == 0 || job->fps_d == 0 ||
      !gst_element_query_duration (pipeline, GST_FORMAT_TIME, &dur) || dur <= 0)
    return job->total;
  return gst_util_uint64_scale_round ((guint64) dur, job->fps_n,
      job->fps_d * GST_SECOND);
}

void
gst_memmap_frames_job_progress (Job * job, GstElement * pipeline,
    guint64 seen, gint fps_n, gint fps_d)
{
  if (job->progress == NULL && job->cancellable == NULL)
    return;
  if (fps_n > 0 && fps_d > 0) {
    job->fps_n = fps_n;
    job->fps_d = fps_d;
  }
  gst_memmap_frames_job_report (job, seen,
      job->progress ? job_estimate_total (job, pipeline, seen) : 0);
}

gulong
gst_memmap_frames_job_connect_cancel (Job * job, GCallback callback,
    gpointer data, GDestroyNotify notify)
{
  if (job->cancellable == NULL) {
    if (notify)
      notify (data);
    return 0;
  }
  /* already cancelled: @callback runs now and this returns 0 */
  return g_cancellable_connect (job->cancellable, callback, data, notify);
}

void
gst_memmap_frames_job_unwatch (Job * job, gulong id)
{
  if (job->cancellable && id)
    g_cancellable_disconnect (job->cancellable, id);
}

gboolean
gst_memmap_frames_job_cancelled (Job * job, GError ** error)
{
  if (job->cancellable == NULL ||
      !g_cancellable_is_cancelled (job->cancellable))
    return FALSE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
      "Reading the frames of '%s' was cancelled (%" G_GUINT64_FORMAT
      " frames recorded)", job->input, job->done);
  return TRUE;
}
