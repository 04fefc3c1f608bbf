/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-cache: what memmapcache saves on a second pass and on random seeks,
 * against decoding again, measured in one run.
 *
 * Clips, made by the benchmark with x264enc (GOP 60, superfast): 720p and
 * 1080p I420 of videotestsrc's SMPTE bars scrolling sideways, a moving,
 * detailed picture of about 2 Mbit/s at 720p that avdec_h264 decodes at
 * about 500-600 frames/s here, near what RESEARCH.md measured for real
 * 720p content (670); the bouncing ball on black decodes three times as
 * fast and would flatter the cache less.
 *
 *   pass    frames/s of filesrc ! qtdemux ! h264parse ! avdec_h264 !
 *           fakesink (decode) against the same with memmapcache before
 *           fakesink, after a first pass recorded the clip (cached);
 *           contenders interleaved, medians of BENCH_RUNS runs. The
 *           headline times the whole pass, from NULL to EOS (start-up, the
 *           decoder's first frame and the cache's opening included); the
 *           rate from the first frame at the sink to EOS is printed too.
 *           Every pass must deliver the clip's every frame (a pass that
 *           lost frames would look fast): exit status 1 otherwise
 *   seek    100 flushing ACCURATE seeks to random frames (the middle of a
 *           frame) in PAUSED, each timed from the seek until the first
 *           buffer reaches the sink pad of fakesink; medians. That buffer's
 *           timestamp is checked to be the frame's (not a keyframe's
 *           before it), and its pixels (SHA-1 of the visible planes) to
 *           be those the decoder gave for the same seek; a wrong frame is
 *           counted, reported on the last line and fails the benchmark
 *           (exit status 1). Every cached seek must be a cache hit
 *   memory  peak resident memory (VmHWM) of a child process that runs
 *           one 1080p pass, cached against decode, medians of 3 each
 *
 * Environment: BENCH_RUNS (default 5), BENCH_FRAMES_720P (default 300),
 * BENCH_FRAMES_1080P (default 240), BENCH_SEEKS (default 100).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"
#include "../check/memmap-frame-checksum.h"

#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMORY_RUNS 3

typedef struct
{
  const gchar *name;
  guint width, height, frames;
  gchar *clip;
  gchar *cache_dir;
} Clip;

static gchar *
pass_pipeline (const Clip * clip, gboolean cached)
{
  if (cached)
    return g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
        "avdec_h264 ! memmapcache name=cache cache-dir=%s ! fakesink "
        "name=sink sync=false", clip->clip, clip->cache_dir);
  return g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
      "avdec_h264 ! fakesink name=sink sync=false", clip->clip);
}

static void
make_clip (Clip * clip, const gchar * dir)
{
  clip->clip = g_strdup_printf ("%s/%s.mp4", dir, clip->name);
  clip->cache_dir = g_strdup_printf ("%s/cache-%s", dir, clip->name);
  if (!bench_make_clip (clip->clip, clip->frames, clip->width, clip->height))
    exit (1);
}

/* ------------------------------------------------------------------------ */
/* passes                                                                   */

/* First buffer and EOS at the sink. */
typedef struct
{
  GMutex lock;
  gint64 first;                 /* monotonic µs, 0 until then */
  guint buffers;                /* buffers that reached the sink */
} FirstBuffer;

static GstPadProbeReturn
on_first_buffer (GstPad * pad, GstPadProbeInfo * info, FirstBuffer * fb)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&fb->lock);
  if (fb->first == 0)
    fb->first = now;
  fb->buffers++;
  g_mutex_unlock (&fb->lock);
  return GST_PAD_PROBE_OK;
}

/* Runs @desc from NULL to EOS. Returns the whole pass in seconds (start-up,
 * negotiation and the first frame included: what a user waits for), and
 * in *@steady the time from the first buffer at the sink to EOS. Exits if
 * the sink did not get @frames buffers. */
static gdouble
time_pass (const gchar * desc, guint frames, gdouble * steady)
{
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstMessage *msg;
  FirstBuffer fb;
  gint64 start, end;

  if (pipeline == NULL)
    exit (1);
  g_mutex_init (&fb.lock);
  fb.first = 0;
  fb.buffers = 0;
  bench_probe_buffers (pipeline, "sink", (GstPadProbeCallback) on_first_buffer,
      &fb);

  start = g_get_monotonic_time ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  end = g_get_monotonic_time ();
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_printerr ("'%s' failed\n", desc);
    exit (1);
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_mutex_clear (&fb.lock);
  if (fb.buffers != frames) {
    g_printerr ("WRONG FRAMES: '%s' delivered %u frames of %u\n", desc,
        fb.buffers, frames);
    exit (1);
  }

  *steady = (end - fb.first) / 1e6;
  return (end - start) / 1e6;
}

static void
bench_passes (const Clip * clip, guint runs, gdouble * fps_decode,
    gdouble * fps_cached)
{
  BenchSeries decode, cached, decode_steady, cached_steady;
  gchar *d = pass_pipeline (clip, FALSE), *c = pass_pipeline (clip, TRUE);
  gdouble first, steady;
  guint i;

  /* the first pass records the clip */
  first = time_pass (c, clip->frames, &steady);
  g_print ("%s: first pass (decode and record) %.0f frames/s\n", clip->name,
      clip->frames / first);

  bench_series_init (&decode, "decode", runs);
  bench_series_init (&cached, "cached", runs);
  bench_series_init (&decode_steady, "decode", runs);
  bench_series_init (&cached_steady, "cached", runs);
  for (i = 0; i < runs; i++) {
    bench_series_add (&decode, clip->frames / time_pass (d, clip->frames,
            &steady));
    bench_series_add (&decode_steady, (clip->frames - 1) / steady);
    bench_series_add (&cached, clip->frames / time_pass (c, clip->frames,
            &steady));
    bench_series_add (&cached_steady, (clip->frames - 1) / steady);
  }
  *fps_decode = bench_series_median (&decode);
  *fps_cached = bench_series_median (&cached);
  g_print ("%s: second pass, whole: decode %.0f frames/s (%.0f..%.0f), "
      "cached %.0f frames/s (%.0f..%.0f): %.1fx\n", clip->name, *fps_decode,
      bench_series_min (&decode), bench_series_max (&decode), *fps_cached,
      bench_series_min (&cached), bench_series_max (&cached),
      *fps_cached / *fps_decode);
  g_print ("%s: second pass, from the first frame at the sink: decode %.0f "
      "frames/s, cached %.0f frames/s: %.1fx\n", clip->name,
      bench_series_median (&decode_steady),
      bench_series_median (&cached_steady),
      bench_series_median (&cached_steady) /
      bench_series_median (&decode_steady));
  bench_series_clear (&decode);
  bench_series_clear (&cached);
  bench_series_clear (&decode_steady);
  bench_series_clear (&cached_steady);
  g_free (d);
  g_free (c);
}

/* ------------------------------------------------------------------------ */
/* seeks                                                                    */

typedef struct
{
  GMutex lock;
  gint64 arrived;               /* monotonic µs of the first buffer, or 0 */
  GstClockTime pts;             /* its timestamp */
  gchar *sum;                   /* its visible pixels' SHA-1 */
} Arrival;

/* The first buffer after a seek: its time of arrival is taken first, its
 * checksum after (outside the timed part). */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, Arrival * a)
{
  gint64 now = g_get_monotonic_time ();
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  gboolean first;

  g_mutex_lock (&a->lock);
  first = a->arrived == 0;
  if (first) {
    a->arrived = now;
    a->pts = GST_BUFFER_PTS (buffer);
  }
  g_mutex_unlock (&a->lock);
  if (first) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    gchar *sum = memmap_frame_checksum_caps (caps, buffer);

    gst_clear_caps (&caps);
    g_mutex_lock (&a->lock);
    g_free (a->sum);
    a->sum = sum;
    g_mutex_unlock (&a->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* The median time, in seconds, from a flushing accurate seek to a random
 * frame until its first buffer reaches the sink. @sums holds the checksum
 * of the frame each seek gave: filled by the first call (the decoder's),
 * compared with by the next (the cache's, same seed: same seeks). *@n_wrong
 * counts the seeks that gave another frame (timestamp or pixels). */
static gdouble
bench_seeks (const Clip * clip, gboolean cached, guint n_seeks, guint32 seed,
    GPtrArray * sums, guint * n_wrong)
{
  gchar *desc = pass_pipeline (clip, cached);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  Arrival a;
  BenchSeries series;
  GRand *rand = g_rand_new_with_seed (seed);
  GstClockTime base;
  gdouble median;
  gint off_min = G_MAXINT, off_max = G_MININT;
  guint i, wrong = 0, wrong_pixels = 0;
  gboolean fill = sums->len == 0;

  g_free (desc);
  if (pipeline == NULL)
    exit (1);
  g_mutex_init (&a.lock);
  a.arrived = 0;
  a.sum = NULL;
  bench_probe_buffers (pipeline, "sink", (GstPadProbeCallback) on_buffer, &a);

  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  if (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND) !=
      GST_STATE_CHANGE_SUCCESS)
    exit (1);
  /* the first frame's timestamp: qtdemux shifts the decoder's by the
   * B-frame delay (seek positions are not shifted) */
  base = a.pts;
  if (!GST_CLOCK_TIME_IS_VALID (base)) {
    g_printerr ("%s: the first frame has no timestamp\n", clip->name);
    exit (1);
  }

  bench_series_init (&series, cached ? "cached" : "decode", n_seeks);
  for (i = 0; i < n_seeks; i++) {
    guint frame = g_rand_int_range (rand, 0, clip->frames);
    GstClockTime start_pts = gst_util_uint64_scale (frame, GST_SECOND, 30);
    GstClockTime target = start_pts + GST_SECOND / 60;
    gint64 start;

    g_mutex_lock (&a.lock);
    a.arrived = 0;
    g_clear_pointer (&a.sum, g_free);
    g_mutex_unlock (&a.lock);
    start = g_get_monotonic_time ();
    if (!gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME,
            GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET,
            target, GST_SEEK_TYPE_SET, GST_CLOCK_TIME_NONE)) {
      g_printerr ("seek to %" GST_TIME_FORMAT " failed\n",
          GST_TIME_ARGS (target));
      exit (1);
    }
    /* prerolled: the first buffer arrived */
    if (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND) !=
        GST_STATE_CHANGE_SUCCESS)
      exit (1);
    g_mutex_lock (&a.lock);
    if (a.arrived == 0 || !GST_CLOCK_TIME_IS_VALID (a.pts) || !a.sum) {
      g_printerr ("%s: no buffer after the seek to frame %u\n", clip->name,
          frame);
      exit (1);
    }
    /* the frame that holds the target (maybe clipped to it), within a
     * millisecond of rounding; a wrong frame is counted and reported (the
     * time is still taken: it says what a seek costs, not that it is
     * right) */
    if (a.pts + GST_MSECOND < base + start_pts ||
        a.pts >= base + gst_util_uint64_scale (frame + 1, GST_SECOND, 30)) {
      /* the frame that holds the buffer's start (it may be clipped) */
      gint64 rel = (gint64) a.pts + GST_MSECOND - (gint64) base;
      gint off = (gint) ((rel >= 0 ? (gint64) gst_util_uint64_scale (rel, 30,
                  GST_SECOND) : -1) - (gint64) frame);

      if (wrong == 0)
        g_printerr ("%s %s: the seek to frame %u (stream time %"
            GST_TIME_FORMAT ", first frame at %" GST_TIME_FORMAT ") gave "
            "a buffer at %" GST_TIME_FORMAT "\n", clip->name,
            cached ? "cached" : "decode", frame, GST_TIME_ARGS (target),
            GST_TIME_ARGS (base), GST_TIME_ARGS (a.pts));
      wrong++;
      off_min = MIN (off_min, off);
      off_max = MAX (off_max, off);
    } else if (fill) {
      g_ptr_array_add (sums, g_strdup (a.sum));
    } else if (i >= sums->len || g_strcmp0 (g_ptr_array_index (sums, i),
            a.sum) != 0) {
      /* the right timestamp on other pixels than the decoder's */
      if (wrong_pixels == 0)
        g_printerr ("%s %s: the seek to frame %u gave a buffer with the "
            "right timestamp but other pixels than the decoder's\n",
            clip->name, cached ? "cached" : "decode", frame);
      wrong++;
      wrong_pixels++;
    }
    if (fill && sums->len != i + 1)
      g_ptr_array_add (sums, NULL);     /* a wrong frame: nothing to compare */
    bench_series_add (&series, (a.arrived - start) / 1e6);
    g_mutex_unlock (&a.lock);
  }
  median = bench_series_median (&series);
  g_print ("%s: %u random accurate seeks, %s: median %.1f us "
      "(%.1f..%.1f)\n", clip->name, n_seeks, cached ? "cached" : "decode",
      median * 1e6, bench_series_min (&series) * 1e6,
      bench_series_max (&series) * 1e6);
  if (wrong > wrong_pixels)
    g_print ("%s: WRONG FRAME: %u of %u %s seeks delivered another frame "
        "than the one asked for (%+d..%+d frames)\n", clip->name,
        wrong - wrong_pixels, n_seeks, cached ? "cached" : "decode",
        off_min, off_max);
  if (wrong_pixels)
    g_print ("%s: WRONG FRAME: %u of %u %s seeks delivered the right "
        "timestamp with other pixels than the decoder's\n", clip->name,
        wrong_pixels, n_seeks, cached ? "cached" : "decode");
  *n_wrong = wrong;
  if (cached) {
    GstElement *cache = gst_bin_get_by_name (GST_BIN (pipeline), "cache");
    GstStructure *stats;
    guint64 hits = 0;

    g_object_get (cache, "stats", &stats, NULL);
    gst_structure_get_uint64 (stats, "hits", &hits);
    if (hits < n_seeks) {
      g_printerr ("only %" G_GUINT64_FORMAT " of %u seeks were served from "
          "the cache\n", hits, n_seeks);
      exit (1);
    }
    gst_structure_free (stats);
    gst_object_unref (cache);
  }

  bench_series_clear (&series);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_mutex_clear (&a.lock);
  g_free (a.sum);
  g_rand_free (rand);
  return median;
}

/* ------------------------------------------------------------------------ */
/* peak memory                                                              */

/* The peak resident memory of this process in KiB (VmHWM). It belongs to
 * the process's own memory map, which execve() makes new; ru_maxrss does
 * not start again at execve() and so counted the benchmark's own resident
 * memory at fork() as the child's floor. */
static glong
own_peak_rss (void)
{
  gchar *status = NULL, *line;
  glong kib = -1;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "VmHWM:");
  if (line)
    kib = strtol (line + strlen ("VmHWM:"), NULL, 10);
  g_free (status);
  return kib;
}

/* Runs one pass in a child process (this program with --pass, which prints
 * its own peak resident memory) and returns that in KiB. */
static glong
child_peak_rss (const gchar * self, const Clip * clip, gboolean cached)
{
  gchar *desc = pass_pipeline (clip, cached);
  const gchar *child_argv[] = { self, "--pass", desc, NULL };
  gchar *out = NULL;
  gint status = 0;
  glong kib = -1;

  if (g_spawn_sync (NULL, (gchar **) child_argv, NULL, G_SPAWN_DEFAULT, NULL,
          NULL, &out, NULL, &status, NULL) &&
      g_spawn_check_wait_status (status, NULL) && out &&
      g_str_has_prefix (out, "peak-rss "))
    kib = strtol (out + strlen ("peak-rss "), NULL, 10);
  g_free (out);
  g_free (desc);
  if (kib <= 0) {
    g_printerr ("the child pass failed\n");
    exit (1);
  }
  return kib;
}

int
main (int argc, char **argv)
{
  Clip clips[] = {
    {"720p", 1280, 720, 0,},
    {"1080p", 1920, 1080, 0,},
  };
  guint runs = bench_env_uint ("BENCH_RUNS", 5);
  guint n_seeks = bench_env_uint ("BENCH_SEEKS", 100);
  gdouble fps_decode[2], fps_cached[2], seek_decode, seek_cached;
  guint wrong_decode, wrong_cached;
  GPtrArray *seek_sums = g_ptr_array_new_with_free_func (g_free);
  glong rss_decode, rss_cached;
  gchar *dir, *self;
  guint i;

  gst_init (&argc, &argv);

  if (argc == 3 && strcmp (argv[1], "--pass") == 0) {
    if (bench_run_pipeline (argv[2], NULL, NULL) < 0)
      return 1;
    g_print ("peak-rss %ld\n", own_peak_rss ());
    return 0;
  }

  clips[0].frames = bench_env_uint ("BENCH_FRAMES_720P", 300);
  clips[1].frames = bench_env_uint ("BENCH_FRAMES_1080P", 240);
  self = g_file_read_link ("/proc/self/exe", NULL);
  dir = bench_make_tmpdir ();
  for (i = 0; i < G_N_ELEMENTS (clips); i++)
    make_clip (&clips[i], dir);

  for (i = 0; i < G_N_ELEMENTS (clips); i++)
    bench_passes (&clips[i], runs, &fps_decode[i], &fps_cached[i]);

  /* the 720p clip is cached whole by now */
  seek_decode = bench_seeks (&clips[0], FALSE, n_seeks, 42, seek_sums,
      &wrong_decode);
  seek_cached = bench_seeks (&clips[0], TRUE, n_seeks, 42, seek_sums,
      &wrong_cached);
  g_ptr_array_unref (seek_sums);
  g_print ("720p: random accurate seek: %.0fx faster from the cache\n",
      seek_decode / seek_cached);

  {
    BenchSeries decode, cached;

    bench_series_init (&decode, "decode", MEMORY_RUNS);
    bench_series_init (&cached, "cached", MEMORY_RUNS);
    for (i = 0; i < MEMORY_RUNS; i++) {
      bench_series_add (&decode, child_peak_rss (self, &clips[1], FALSE));
      bench_series_add (&cached, child_peak_rss (self, &clips[1], TRUE));
    }
    rss_decode = bench_series_median (&decode);
    rss_cached = bench_series_median (&cached);
    g_print ("1080p: peak resident memory of a pass (median of %d "
        "processes): decode %ld KiB (%.0f..%.0f), cached %ld KiB "
        "(%.0f..%.0f): %.2fx\n", MEMORY_RUNS, rss_decode,
        bench_series_min (&decode), bench_series_max (&decode), rss_cached,
        bench_series_min (&cached), bench_series_max (&cached),
        (gdouble) rss_cached / rss_decode);
    bench_series_clear (&decode);
    bench_series_clear (&cached);
  }

  for (i = 0; i < G_N_ELEMENTS (clips); i++) {
    g_free (clips[i].clip);
    g_free (clips[i].cache_dir);
  }
  bench_remove_tree (dir);
  g_free (dir);
  g_free (self);

  g_print ("memmapcache: cached pass %.1fx (720p) %.1fx (1080p) decoding "
      "[target 20x]; random accurate seek %.0fx [target 1000x], wrong "
      "frames: %u of %u cached, %u of %u decoded [target 0]; peak memory "
      "%.2fx of decoding [target <= 1]\n",
      fps_cached[0] / fps_decode[0], fps_cached[1] / fps_decode[1],
      seek_decode / seek_cached, wrong_cached, n_seeks, wrong_decode,
      n_seeks, (gdouble) rss_cached / rss_decode);

  /* a speed target missed is a figure to read; a wrong frame is a bug */
  if (wrong_cached || wrong_decode) {
    g_printerr ("FAIL: %u cached and %u decoded seeks gave a wrong frame\n",
        wrong_cached, wrong_decode);
    return 1;
  }
  return 0;
}
