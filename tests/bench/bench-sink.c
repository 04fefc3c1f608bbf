/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-sink: how fast can a producer hand frames to memmapsink, against the
 * same producer into filesink, shmsink and fakesink (the ceiling), measured
 * in one run, contenders interleaved round by round so that the machine's
 * noise hits all of them alike; each round starts with the next contender,
 * so that none always follows the same one.
 *
 * Contenders, at 1080p and 4K I420:
 *   fakesink           nothing stored: the producer's own speed
 *   filesink           write() of every frame into a new file
 *   shmsink            frames into a shared-memory area (no reader attached)
 *   memmapsink-append  frames written straight into a new store file
 *   memmapsink-ring    a ring store of 16 frames overwritten in place
 *                      (reuse=true over the ring store of the run before:
 *                      the file's inode is checked to stay the same)
 *   memmapsink-reuse   an append store overwritten in place (reuse=true
 *                      over the append store of the same frames of the run
 *                      before, inode checked)
 *   memmapsink-copy    as reuse (its own store, overwritten in place), but
 *                      the allocation query is dropped so the producer uses
 *                      its own buffers and memmapsink copies each frame
 *   memmapsink-checksum  as reuse (its own store), with checksum=true: the
 *                      XXH3-64 of every frame computed at commit
 * The stores of ring, reuse and copy are made by an untimed run before the
 * first round. After every memmapsink run its stats are checked: every frame
 * written, zero-copy for all but memmapsink-copy, copied for that one.
 * Minor page faults (getrusage, the whole process) are counted per frame.
 *
 * The copy path's own cost: per round, the time per frame of
 * memmapsink-copy minus that of memmapsink-reuse (paired, same round),
 * against one memcpy() of a frame between two buffers already touched,
 * timed in the same round. Both overwrite a store in place, so what is left
 * is the copy; into a new file the cost of new pages (0.3-3 GB/s here, from
 * run to run) drowns it.
 *
 * The checksum's cost, the same way: per round, the time per frame of
 * memmapsink-checksum minus that of memmapsink-reuse, printed as a share of
 * memmapsink-reuse's time per frame (what a frame costs without it).
 *
 * Environment: BENCH_RUNS (default 5), BENCH_FRAMES_1080P (default 240),
 * BENCH_FRAMES_4K (default 60), BENCH_PATTERN (videotestsrc pattern,
 * default black).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef enum
{
  CONTENDER_FAKESINK,
  CONTENDER_FILESINK,
  CONTENDER_SHMSINK,
  CONTENDER_MEMMAP_APPEND,
  CONTENDER_MEMMAP_RING,
  CONTENDER_MEMMAP_REUSE,
  CONTENDER_MEMMAP_COPY,
  CONTENDER_MEMMAP_CHECKSUM,
  N_CONTENDERS
} Contender;

static const gchar *contender_names[N_CONTENDERS] = {
  "fakesink", "filesink", "shmsink", "memmapsink-append", "memmapsink-ring",
  "memmapsink-reuse", "memmapsink-copy", "memmapsink-checksum",
};

#define RING_FRAMES 16

static GstPadProbeReturn
drop_allocation_query (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);

  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

/* memmapsink-copy: hide memmapsink's pool from the producer. */
static void
setup_copy_path (GstElement * pipeline, gpointer user_data)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
      drop_allocation_query, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
}

static gchar *
contender_pipeline (Contender c, const gchar * src, const gchar * dir,
    guint64 frame_size)
{
  switch (c) {
    case CONTENDER_FAKESINK:
      return g_strdup_printf ("%s ! fakesink sync=false", src);
    case CONTENDER_FILESINK:
      return g_strdup_printf ("%s ! filesink sync=false location=%s/out.raw",
          src, dir);
    case CONTENDER_SHMSINK:
      return g_strdup_printf ("%s ! shmsink sync=false "
          "wait-for-connection=false socket-path=%s/shm shm-size=%"
          G_GUINT64_FORMAT, src, dir, frame_size * 8);
    case CONTENDER_MEMMAP_APPEND:
      return g_strdup_printf ("%s ! memmapsink name=sink "
          "location=%s/append.store", src, dir);
    case CONTENDER_MEMMAP_RING:
      return g_strdup_printf ("%s ! memmapsink name=sink mode=ring "
          "max-frames=%u reuse=true location=%s/ring.store", src,
          RING_FRAMES, dir);
    case CONTENDER_MEMMAP_REUSE:
      return g_strdup_printf ("%s ! memmapsink name=sink reuse=true "
          "location=%s/reuse.store", src, dir);
    case CONTENDER_MEMMAP_COPY:
      return g_strdup_printf ("%s ! memmapsink name=sink reuse=true "
          "location=%s/copy.store", src, dir);
    case CONTENDER_MEMMAP_CHECKSUM:
      return g_strdup_printf ("%s ! memmapsink name=sink reuse=true "
          "checksum=true location=%s/sums.store", src, dir);
    default:
      g_assert_not_reached ();
  }
  return NULL;
}

/* Files a contender leaves behind; new-file contenders start from nothing,
 * the stores that ring and reuse overwrite stay unless @all. */
static void
clean_outputs (const gchar * dir, gboolean all)
{
  static const gchar *fresh[] = { "out.raw", "append.store", "shm", NULL };
  static const gchar *kept[] = { "ring.store", "reuse.store", "copy.store",
    "sums.store", NULL
  };
  guint i, k;

  for (k = 0; k < (all ? 2 : 1); k++) {
    const gchar **names = k ? kept : fresh;

    for (i = 0; names[i]; i++) {
      gchar *p = g_build_filename (dir, names[i], NULL);

      g_unlink (p);
      g_free (p);
    }
  }
}

static gboolean
is_memmapsink (Contender c)
{
  return c >= CONTENDER_MEMMAP_APPEND;
}

static gboolean
is_reused (Contender c)
{
  return c == CONTENDER_MEMMAP_RING || c == CONTENDER_MEMMAP_REUSE ||
      c == CONTENDER_MEMMAP_COPY || c == CONTENDER_MEMMAP_CHECKSUM;
}

static const gchar *
store_name (Contender c)
{
  switch (c) {
    case CONTENDER_MEMMAP_RING:
      return "ring.store";
    case CONTENDER_MEMMAP_REUSE:
      return "reuse.store";
    case CONTENDER_MEMMAP_CHECKSUM:
      return "sums.store";
    default:
      return "copy.store";
  }
}

static guint64
file_inode (const gchar * dir, const gchar * name)
{
  gchar *p = g_build_filename (dir, name, NULL);
  GStatBuf st;
  guint64 ino = 0;

  if (g_stat (p, &st) == 0)
    ino = st.st_ino;
  g_free (p);
  return ino;
}

/* What a run of a memmapsink contender must have done. */
typedef struct
{
  Contender contender;
  guint frames;
  gboolean ok;
} SinkCheck;

static void
check_sink_stats (GstElement * pipeline, gpointer user_data)
{
  SinkCheck *check = user_data;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstStructure *stats = NULL;
  guint64 written = 0, zero_copy = 0, copied = 0;
  guint64 want_copied;

  g_object_get (sink, "stats", &stats, NULL);
  gst_object_unref (sink);
  gst_structure_get_uint64 (stats, "frames-written", &written);
  gst_structure_get_uint64 (stats, "frames-zero-copy", &zero_copy);
  gst_structure_get_uint64 (stats, "frames-copied", &copied);
  gst_structure_free (stats);

  want_copied = check->contender == CONTENDER_MEMMAP_COPY ? check->frames : 0;
  check->ok = written == check->frames && copied == want_copied &&
      zero_copy == check->frames - want_copied;
  if (!check->ok)
    g_printerr ("%s: %" G_GUINT64_FORMAT " frames written, %"
        G_GUINT64_FORMAT " zero-copy, %" G_GUINT64_FORMAT " copied, "
        "expected %u, %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "\n",
        contender_names[check->contender], written, zero_copy, copied,
        check->frames, check->frames - want_copied, want_copied);
}

static void
setup_contender (GstElement * pipeline, gpointer user_data)
{
  SinkCheck *check = user_data;

  if (check->contender == CONTENDER_MEMMAP_COPY)
    setup_copy_path (pipeline, NULL);
}

/* One run of @c: seconds (negative on failure) and minor page faults of
 * the whole process over the run. */
static gdouble
run_contender (Contender c, const gchar * src, const gchar * dir,
    guint64 frame_size, guint frames, glong * faults)
{
  gchar *desc = contender_pipeline (c, src, dir, frame_size);
  SinkCheck check = { c, frames, TRUE };
  guint64 ino = is_reused (c) ? file_inode (dir, store_name (c)) : 0;
  struct rusage before, after;
  gdouble secs;

  clean_outputs (dir, FALSE);
  getrusage (RUSAGE_SELF, &before);
  secs = bench_run_pipeline_full (desc, setup_contender,
      is_memmapsink (c) ? check_sink_stats : NULL, &check);
  getrusage (RUSAGE_SELF, &after);
  g_free (desc);
  *faults = after.ru_minflt - before.ru_minflt;
  if (secs > 0 && !check.ok)
    secs = -1;
  if (secs > 0 && is_reused (c) && ino != 0 &&
      file_inode (dir, store_name (c)) != ino) {
    g_printerr ("%s: the store was replaced, not reused\n", contender_names[c]);
    secs = -1;
  }
  return secs;
}

/* Seconds of one memcpy() of @size bytes between two buffers already
 * touched: median of a few. */
static gdouble
time_memcpy (guint8 * dst, const guint8 * src, gsize size)
{
  BenchSeries series;
  gdouble median;
  guint i;

  bench_series_init (&series, "memcpy", 9);
  for (i = 0; i < 9; i++) {
    gint64 t0 = g_get_monotonic_time ();

    memcpy (dst, src, size);
    bench_series_add (&series, (g_get_monotonic_time () - t0) / 1e6);
  }
  /* keep the copy */
  if (dst[size / 2] != src[size / 2])
    g_printerr ("memcpy?\n");
  median = bench_series_median (&series);
  bench_series_clear (&series);
  return median;
}

typedef struct
{
  gdouble fps[N_CONTENDERS];
  gdouble copy_extra_us, copy_extra_min, copy_extra_max;
  gdouble memcpy_us;
  gdouble sum_share, sum_share_min, sum_share_max;
} SinkResult;

/* Runs every contender @runs times at one resolution; returns the medians in
 * frames per second and the copy path's cost. */
static void
bench_resolution (const gchar * label, guint width, guint height,
    guint frames, guint runs, const gchar * dir, SinkResult * out)
{
  /* black: the cheapest pattern (~6000 frames/s at 1080p here, against ~430
   * for the default smpte), so what is measured is the sink's own cost */
  const gchar *pattern = g_getenv ("BENCH_PATTERN") ?
      g_getenv ("BENCH_PATTERN") : "black";
  BenchSeries series[N_CONTENDERS], faults[N_CONTENDERS], extra, copy, sum;
  guint64 frame_size = (guint64) width * height * 3 / 2;
  guint8 *a, *b;
  gdouble *fps = out->fps;
  gchar *src;
  guint r, c;

  src = g_strdup_printf ("videotestsrc num-buffers=%u pattern=%s ! "
      "video/x-raw,format=I420,width=%u,height=%u,framerate=30/1",
      frames, pattern, width, height);

  for (c = 0; c < N_CONTENDERS; c++) {
    bench_series_init (&series[c], contender_names[c], runs);
    bench_series_init (&faults[c], contender_names[c], runs);
  }
  bench_series_init (&extra, "copy-extra", runs);
  bench_series_init (&copy, "memcpy", runs);
  bench_series_init (&sum, "checksum-share", runs);
  a = g_malloc (frame_size);
  b = g_malloc (frame_size);
  memset (a, 1, frame_size);
  memset (b, 2, frame_size);

  /* the stores that ring, reuse and copy overwrite: made once, untimed */
  clean_outputs (dir, TRUE);
  for (c = CONTENDER_MEMMAP_RING; c <= CONTENDER_MEMMAP_CHECKSUM; c++) {
    glong f;

    if (run_contender (c, src, dir, frame_size, frames, &f) <= 0) {
      g_printerr ("%s %s failed\n", label, contender_names[c]);
      exit (1);
    }
  }

  for (r = 0; r < runs; r++) {
    gdouble secs[N_CONTENDERS];

    guint k;

    /* each round starts with the next contender: none always runs after
     * the same one (whose dirty pages, freed pages or writeback it would
     * inherit) */
    for (k = 0; k < N_CONTENDERS; k++) {
      glong f;

      c = (k + r) % N_CONTENDERS;
      secs[c] = run_contender (c, src, dir, frame_size, frames, &f);
      if (secs[c] <= 0) {
        g_printerr ("%s %s failed\n", label, contender_names[c]);
        exit (1);
      }
      bench_series_add (&series[c], frames / secs[c]);
      bench_series_add (&faults[c], (gdouble) f / frames);
    }
    bench_series_add (&extra, (secs[CONTENDER_MEMMAP_COPY] -
            secs[CONTENDER_MEMMAP_REUSE]) / frames);
    bench_series_add (&copy, time_memcpy (b, a, frame_size));
    bench_series_add (&sum, (secs[CONTENDER_MEMMAP_CHECKSUM] -
            secs[CONTENDER_MEMMAP_REUSE]) / secs[CONTENDER_MEMMAP_REUSE]);
  }
  clean_outputs (dir, TRUE);
  g_free (a);
  g_free (b);

  g_print ("\n%s I420, %u frames of %.1f MB, %u runs (frames/s)\n", label,
      frames, frame_size / 1e6, runs);
  g_print ("  %-20s %10s %10s %10s %10s %13s\n", "contender", "median", "min",
      "max", "GB/s", "faults/frame");
  for (c = 0; c < N_CONTENDERS; c++) {
    fps[c] = bench_series_median (&series[c]);
    g_print ("  %-20s %10.0f %10.0f %10.0f %10.2f %13.1f\n",
        contender_names[c], fps[c], bench_series_min (&series[c]),
        bench_series_max (&series[c]), fps[c] * frame_size / 1e9,
        bench_series_median (&faults[c]));
    bench_series_clear (&series[c]);
    bench_series_clear (&faults[c]);
  }
  out->copy_extra_us = bench_series_median (&extra) * 1e6;
  out->copy_extra_min = bench_series_min (&extra) * 1e6;
  out->copy_extra_max = bench_series_max (&extra) * 1e6;
  out->memcpy_us = bench_series_median (&copy) * 1e6;
  g_print ("  copy path: %.0f us per frame more than reuse (paired by "
      "round, %.0f..%.0f); one memcpy of a frame: %.0f us (%.1f GB/s): "
      "%.1f memcpy\n", out->copy_extra_us, out->copy_extra_min,
      out->copy_extra_max, out->memcpy_us, frame_size / out->memcpy_us / 1e3,
      out->copy_extra_us / out->memcpy_us);
  bench_series_clear (&extra);
  bench_series_clear (&copy);
  out->sum_share = bench_series_median (&sum) * 100;
  out->sum_share_min = bench_series_min (&sum) * 100;
  out->sum_share_max = bench_series_max (&sum) * 100;
  g_print ("  checksum: %+.1f%% of a frame's cost in memmapsink-reuse "
      "(paired by round, %+.1f..%+.1f%%)\n", out->sum_share,
      out->sum_share_min, out->sum_share_max);
  bench_series_clear (&sum);
  g_print ("  ratios: ring/filesink %.2fx, reuse/filesink %.2fx, "
      "append/filesink %.2fx, append/shmsink %.2fx, ring/fakesink %.2fx, "
      "copy/reuse %.2fx\n",
      fps[CONTENDER_MEMMAP_RING] / fps[CONTENDER_FILESINK],
      fps[CONTENDER_MEMMAP_REUSE] / fps[CONTENDER_FILESINK],
      fps[CONTENDER_MEMMAP_APPEND] / fps[CONTENDER_FILESINK],
      fps[CONTENDER_MEMMAP_APPEND] / fps[CONTENDER_SHMSINK],
      fps[CONTENDER_MEMMAP_RING] / fps[CONTENDER_FAKESINK],
      fps[CONTENDER_MEMMAP_COPY] / fps[CONTENDER_MEMMAP_REUSE]);
  g_free (src);
}

int
main (int argc, char **argv)
{
  SinkResult hd, uhd;
  guint runs;
  gchar *dir;

  gst_init (&argc, &argv);

  runs = MAX (1, bench_env_uint ("BENCH_RUNS", 5));
  dir = bench_make_tmpdir ();

  bench_resolution ("1080p", 1920, 1080, bench_env_uint ("BENCH_FRAMES_1080P",
          240), runs, dir, &hd);
  bench_resolution ("4K", 3840, 2160, bench_env_uint ("BENCH_FRAMES_4K", 60),
      runs, dir, &uhd);

  bench_remove_tree (dir);
  g_free (dir);

  g_print ("\nmemmapsink-vs-filesink: ring %.2fx (1080p) %.2fx (4K), "
      "reuse %.2fx (1080p) %.2fx (4K) [target 3x]; append %.2fx (1080p) "
      "%.2fx (4K) [target 1.2x]; copy path %.1f (1080p) %.1f (4K) memcpy "
      "a frame [target 1]; checksum %+.1f%% (1080p) %+.1f%% (4K) of a "
      "frame's cost\n",
      hd.fps[CONTENDER_MEMMAP_RING] / hd.fps[CONTENDER_FILESINK],
      uhd.fps[CONTENDER_MEMMAP_RING] / uhd.fps[CONTENDER_FILESINK],
      hd.fps[CONTENDER_MEMMAP_REUSE] / hd.fps[CONTENDER_FILESINK],
      uhd.fps[CONTENDER_MEMMAP_REUSE] / uhd.fps[CONTENDER_FILESINK],
      hd.fps[CONTENDER_MEMMAP_APPEND] / hd.fps[CONTENDER_FILESINK],
      uhd.fps[CONTENDER_MEMMAP_APPEND] / uhd.fps[CONTENDER_FILESINK],
      hd.copy_extra_us / hd.memcpy_us, uhd.copy_extra_us / uhd.memcpy_us,
      hd.sum_share, uhd.sum_share);
  return 0;
}
