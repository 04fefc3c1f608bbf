/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-record: what recording a stream into memmapcache costs on its first
 * pass, against decoding it alone, measured in one run (issue 14: at most
 * 1.1x).
 *
 * Clips, made by the benchmark with x264enc (GOP 60, superfast), in a
 * temporary directory: 720p and 1080p I420 of videotestsrc's SMPTE bars
 * scrolling sideways (the clips of bench-cache.c).
 *
 *   decode  filesrc ! qtdemux ! h264parse ! avdec_h264 ! fakesink
 *   record  the same with memmapcache cache-dir=<a new directory> before
 *           fakesink: a first pass, every frame recorded
 *
 * Each pass runs in a process of its own (this program with --pass), as a
 * first pass does for a user, and is timed whole there, from NULL to EOS
 * (the cache's opening, its store's creation and its first chunk
 * included). In one process, the engine of earlier passes would still map
 * their deleted stores, and their pages could not be reused.
 * Contenders alternate, BENCH_RUNS runs each (default 5), medians; every
 * recording pass must record every frame of the clip (exit status 1
 * otherwise), and its frames-copied (frames memmapcache copied into a
 * slot because they did not come in one) is printed. The last line gives
 * the ratio of recording to decoding time at both sizes.
 *
 * Environment: BENCH_RUNS, BENCH_FRAMES_720P (default 240),
 * BENCH_FRAMES_1080P (default 180).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  const gchar *name;
  guint width, height, frames;
  gchar *clip;
} Clip;

/* what a recording pass reports */
typedef struct
{
  guint64 recorded, copied, zero_copy;
} Stats;

static void
make_clip (Clip * clip, const gchar * dir)
{
  clip->clip = g_strdup_printf ("%s/%s.mp4", dir, clip->name);
  if (!bench_make_clip (clip->clip, clip->frames, clip->width, clip->height))
    exit (1);
}

static void
read_stats (GstElement * pipeline, Stats * stats)
{
  GstElement *cache = gst_bin_get_by_name (GST_BIN (pipeline), "cache");
  GstStructure *s = NULL;

  g_object_get (cache, "stats", &s, NULL);
  gst_structure_get_uint64 (s, "frames-recorded", &stats->recorded);
  gst_structure_get_uint64 (s, "frames-copied", &stats->copied);
  gst_structure_get_uint64 (s, "frames-zero-copy", &stats->zero_copy);
  gst_structure_free (s);
  gst_object_unref (cache);
}

/* One pass from NULL to EOS, in seconds; with @cache_dir through
 * memmapcache, whose stats go to @stats. Exits on an error. */
static gdouble
time_pass (const Clip * clip, const gchar * cache_dir, Stats * stats)
{
  GstElement *pipeline;
  GstMessage *msg;
  GstBus *bus;
  GError *error = NULL;
  gchar *desc;
  gint64 start, end;

  if (cache_dir)
    desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
        "avdec_h264 ! memmapcache name=cache cache-dir=%s ! fakesink "
        "sync=false", clip->clip, cache_dir);
  else
    desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
        "avdec_h264 ! fakesink sync=false", clip->clip);
  pipeline = gst_parse_launch (desc, &error);
  if (pipeline == NULL) {
    g_printerr ("cannot build '%s': %s\n", desc, error->message);
    exit (1);
  }

  bus = gst_element_get_bus (pipeline);
  start = g_get_monotonic_time ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  end = g_get_monotonic_time ();
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    bench_print_error (desc, msg);
    exit (1);
  }
  gst_message_unref (msg);
  if (cache_dir)
    read_stats (pipeline, stats);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);

  if (cache_dir && stats->recorded != clip->frames) {
    g_printerr ("FAIL: %s: the first pass recorded %" G_GUINT64_FORMAT
        " frames of %u\n", clip->name, stats->recorded, clip->frames);
    exit (1);
  }
  return (end - start) / 1e6;
}

/* A pass in a child process (this program with --pass): its time, and
 * the stats of memmapcache when @cache_dir is set. Exits on a failure. */
static gdouble
child_pass (const gchar * self, const Clip * clip, const gchar * cache_dir,
    Stats * stats)
{
  gchar frames[16];
  const gchar *argv[] = { self, "--pass", clip->clip, frames,
    cache_dir ? cache_dir : "", NULL
  };
  gchar *out = NULL;
  gint status = 0;
  gdouble secs = -1;
  Stats st = { 0, };

  g_snprintf (frames, sizeof (frames), "%u", clip->frames);
  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL,
          NULL, &out, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL) || out == NULL ||
      sscanf (out, "pass %lf %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
          G_GUINT64_FORMAT, &secs, &st.recorded, &st.copied,
          &st.zero_copy) != 4) {
    g_printerr ("FAIL: the pass of %s in a child process failed\n", clip->name);
    exit (1);
  }
  g_free (out);
  if (stats)
    *stats = st;
  return secs;
}

/* The two contenders, alternating. Returns recording / decoding time. */
static gdouble
bench_clip (const gchar * self, const Clip * clip, const gchar * dir,
    guint runs)
{
  BenchSeries decode, record;
  guint64 copied_max = 0, zero_copy_min = G_MAXUINT64;
  gdouble d, r;
  guint i;

  bench_series_init (&decode, "decode", runs);
  bench_series_init (&record, "record", runs);
  for (i = 0; i < runs; i++) {
    gchar *cache_dir = g_strdup_printf ("%s/cache-%s-%u", dir, clip->name, i);
    Stats stats = { 0, };

    /* alternate which goes first, so that neither always finds the page
     * cache as the other left it */
    if (i % 2 == 0)
      bench_series_add (&decode, child_pass (self, clip, NULL, NULL));
    bench_series_add (&record, child_pass (self, clip, cache_dir, &stats));
    if (i % 2 == 1)
      bench_series_add (&decode, child_pass (self, clip, NULL, NULL));
    copied_max = MAX (copied_max, stats.copied);
    zero_copy_min = MIN (zero_copy_min, stats.zero_copy);
    /* a fresh directory every run: every recording is a first pass */
    bench_remove_tree (cache_dir);
    g_free (cache_dir);
  }
  d = bench_series_median (&decode);
  r = bench_series_median (&record);
  g_print ("%s (%u frames): decode %.0f frames/s (%.0f..%.0f), record "
      "%.0f frames/s (%.0f..%.0f): %.2fx the time; frames-copied %"
      G_GUINT64_FORMAT " (most of a run), frames-zero-copy %" G_GUINT64_FORMAT
      " (fewest)\n", clip->name, clip->frames, clip->frames / d,
      clip->frames / bench_series_max (&decode),
      clip->frames / bench_series_min (&decode), clip->frames / r,
      clip->frames / bench_series_max (&record),
      clip->frames / bench_series_min (&record), r / d, copied_max,
      zero_copy_min);
  bench_series_clear (&decode);
  bench_series_clear (&record);
  return r / d;
}

int
main (int argc, char **argv)
{
  Clip clips[] = {
    {"720p", 1280, 720, 0,},
    {"1080p", 1920, 1080, 0,},
  };
  guint runs = bench_env_uint ("BENCH_RUNS", 5);
  gdouble ratio[2];
  gchar *dir, *self;
  guint i;

  gst_init (&argc, &argv);

  /* a child: --pass CLIP FRAMES CACHE-DIR ("" for none) */
  if (argc == 5 && strcmp (argv[1], "--pass") == 0) {
    Clip clip = { "child", 0, 0, 0, };
    Stats st = { 0, };
    gdouble secs;

    clip.clip = argv[2];
    clip.frames = (guint) g_ascii_strtoull (argv[3], NULL, 10);
    secs = time_pass (&clip, argv[4][0] ? argv[4] : NULL, &st);
    g_print ("pass %.6f %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
        G_GUINT64_FORMAT "\n", secs, st.recorded, st.copied, st.zero_copy);
    return 0;
  }
  self = g_file_read_link ("/proc/self/exe", NULL);

  clips[0].frames = bench_env_uint ("BENCH_FRAMES_720P", 240);
  clips[1].frames = bench_env_uint ("BENCH_FRAMES_1080P", 180);
  dir = bench_make_tmpdir ();
  for (i = 0; i < G_N_ELEMENTS (clips); i++)
    make_clip (&clips[i], dir);

  for (i = 0; i < G_N_ELEMENTS (clips); i++)
    ratio[i] = bench_clip (self, &clips[i], dir, runs);

  for (i = 0; i < G_N_ELEMENTS (clips); i++)
    g_free (clips[i].clip);
  bench_remove_tree (dir);
  g_free (dir);
  g_free (self);

  g_print ("memmapcache first pass (recording) against decoding alone: "
      "%.2fx (720p) %.2fx (1080p) the time [target <= 1.1x]\n", ratio[0],
      ratio[1]);
  return 0;
}
