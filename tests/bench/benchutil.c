/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared helpers for the benchmarks: run a pipeline to EOS and time it,
 * collect series of runs and take medians. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

void
bench_series_init (BenchSeries * series, const gchar * name, guint runs)
{
  series->name = name;
  series->values = g_new0 (gdouble, runs);
  series->n = 0;
}

void
bench_series_add (BenchSeries * series, gdouble value)
{
  series->values[series->n++] = value;
}

void
bench_series_clear (BenchSeries * series)
{
  g_clear_pointer (&series->values, g_free);
  series->n = 0;
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

gdouble
bench_series_median (const BenchSeries * series)
{
  gdouble *sorted, median;

  if (series->n == 0)
    return 0.0;
  sorted = g_memdup2 (series->values, series->n * sizeof (gdouble));
  qsort (sorted, series->n, sizeof (gdouble), compare_doubles);
  if (series->n % 2)
    median = sorted[series->n / 2];
  else
    median = (sorted[series->n / 2 - 1] + sorted[series->n / 2]) / 2.0;
  g_free (sorted);
  return median;
}

gdouble
bench_series_min (const BenchSeries * series)
{
  gdouble m = G_MAXDOUBLE;
  guint i;

  for (i = 0; i < series->n; i++)
    m = MIN (m, series->values[i]);
  return series->n ? m : 0.0;
}

gdouble
bench_series_max (const BenchSeries * series)
{
  gdouble m = 0.0;
  guint i;

  for (i = 0; i < series->n; i++)
    m = MAX (m, series->values[i]);
  return m;
}

/* Prerolls @description (PAUSED reached, untimed), then runs it from
 * PLAYING to EOS and returns the wall time of that part in seconds, or a
 * negative value after printing the error. */
gdouble
bench_run_pipeline (const gchar * description, BenchPipelineSetup setup,
    gpointer user_data)
{
  return bench_run_pipeline_full (description, setup, NULL, user_data);
}

/* The same; @done (if any) is called after EOS, before the pipeline goes
 * back to NULL, so that it can read the elements' stats. */
gdouble
bench_run_pipeline_full (const gchar * description, BenchPipelineSetup setup,
    BenchPipelineSetup done, gpointer user_data)
{
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  GError *error = NULL;
  gint64 start = 0, end = 0;
  gdouble result = -1.0;

  pipeline = gst_parse_launch (description, &error);
  if (pipeline == NULL) {
    g_printerr ("cannot build '%s': %s\n", description, error->message);
    g_clear_error (&error);
    return -1.0;
  }
  if (setup)
    setup (pipeline, user_data);

  /* Preroll outside the timed part: caps negotiation, allocation and the
   * first frame (which the sinks hold in PAUSED) are not what we measure.
   * set_state() only starts the change to PAUSED; get_state() waits until
   * it is done (a live source does not preroll: NO_PREROLL at once). The
   * timer starts once PAUSED is reached. */
  bus = gst_element_get_bus (pipeline);
  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) ==
      GST_STATE_CHANGE_FAILURE ||
      gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE) ==
      GST_STATE_CHANGE_FAILURE) {
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg == NULL) {
      g_printerr ("'%s' failed to preroll\n", description);
      goto done;
    }
  } else {
    start = g_get_monotonic_time ();
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    end = g_get_monotonic_time ();
  }

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    bench_print_error (description, msg);
  } else {
    result = (end - start) / 1e6;
    if (done)
      done (pipeline, user_data);
  }
  gst_message_unref (msg);
done:
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return result;
}

/* The unsigned integer in the environment variable @name, or @fallback
 * when it is not set. */
guint
bench_env_uint (const gchar * name, guint fallback)
{
  const gchar *v = g_getenv (name);

  return v ? (guint) g_ascii_strtoull (v, NULL, 10) : fallback;
}

/* Calls @callback with @user_data for each buffer that reaches the sink
 * pad of the element @name of @pipeline (a buffer probe). */
void
bench_probe_buffers (GstElement * pipeline, const gchar * name,
    GstPadProbeCallback callback, gpointer user_data)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, callback, user_data, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
}

/* Prints "'@description' failed: ..." with the text and debug string of
 * the error message @msg on stderr. */
void
bench_print_error (const gchar * description, GstMessage * msg)
{
  GError *error = NULL;
  gchar *dbg = NULL;

  gst_message_parse_error (msg, &error, &dbg);
  g_printerr ("'%s' failed: %s (%s)\n", description, error->message,
      dbg ? dbg : "");
  g_clear_error (&error);
  g_free (dbg);
}

/* Writes an mp4 clip of @frames I420 @width x @height frames at 30/1 of
 * videotestsrc's moving smpte pattern (x264, superfast, a keyframe every
 * 60 frames) to @path; FALSE (said on stderr) when the pipeline fails. */
gboolean
bench_make_clip (const gchar * path, guint frames, guint width, guint height)
{
  gchar *desc;
  gdouble secs;

  desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=smpte "
      "horizontal-speed=8 ! video/x-raw,format=I420,width=%u,height=%u,"
      "framerate=30/1 ! x264enc key-int-max=60 speed-preset=superfast ! "
      "mp4mux ! filesink location=%s", frames, width, height, path);
  secs = bench_run_pipeline (desc, NULL, NULL);
  g_free (desc);
  return secs >= 0;
}

/* The consumer that reads every byte: XOR of every 64-bit word. The same
 * loop for every contender of a benchmark. */
guint64
bench_xor_words (const guint8 * data, gsize size)
{
  const guint64 *w = (const guint64 *) data;
  gsize n = size / 8, i;
  guint64 a = 0, b = 0, c = 0, d = 0;

  for (i = 0; i + 4 <= n; i += 4) {
    a ^= w[i];
    b ^= w[i + 1];
    c ^= w[i + 2];
    d ^= w[i + 3];
  }
  for (; i < n; i++)
    a ^= w[i];
  for (i = n * 8; i < size; i++)
    a ^= data[i];
  return a ^ b ^ c ^ d;
}

gchar *
bench_make_tmpdir (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("gst-memmap-bench-XXXXXX", &error);

  if (dir == NULL) {
    g_printerr ("cannot make a temporary directory: %s\n", error->message);
    g_clear_error (&error);
    exit (1);
  }
  return dir;
}

void
bench_remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir))) {
    gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      bench_remove_tree (child);
    else
      g_unlink (child);
    g_free (child);
  }
  g_dir_close (dir);
  g_rmdir (path);
}
