/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-sink: how fast can a producer hand frames to memmapsink, against the
 * same producer into filesink, shmsink and fakesink (the ceiling), measured
 * in one run, contenders interleaved round by round so that the machine's
 * noise hits all of them alike.
 *
 * Contenders, at 1080p and 4K I420:
 *   fakesink           nothing stored: the producer's own speed
 *   filesink           write() of every frame into a new file
 *   shmsink            frames into a shared-memory area (no reader attached)
 *   memmapsink-append  frames written straight into a new store file
 *   memmapsink-ring    a ring store overwritten in place
 *   memmapsink-copy    as append, but the allocation query is dropped so the
 *                      producer uses its own buffers and memmapsink copies
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

typedef enum
{
  CONTENDER_FAKESINK,
  CONTENDER_FILESINK,
  CONTENDER_SHMSINK,
  CONTENDER_MEMMAP_APPEND,
  CONTENDER_MEMMAP_RING,
  CONTENDER_MEMMAP_COPY,
  N_CONTENDERS
} Contender;

static const gchar *contender_names[N_CONTENDERS] = {
  "fakesink", "filesink", "shmsink", "memmapsink-append", "memmapsink-ring",
  "memmapsink-copy",
};

static guint
env_uint (const gchar * name, guint fallback)
{
  const gchar *v = g_getenv (name);

  return v ? (guint) g_ascii_strtoull (v, NULL, 10) : fallback;
}

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
          "max-frames=16 location=%s/ring.store", src, dir);
    case CONTENDER_MEMMAP_COPY:
      return g_strdup_printf ("%s ! memmapsink name=sink "
          "location=%s/copy.store", src, dir);
    default:
      g_assert_not_reached ();
  }
  return NULL;
}

/* Files a contender leaves behind; new-file contenders start from nothing. */
static void
clean_outputs (const gchar * dir)
{
  static const gchar *names[] = { "out.raw", "append.store", "copy.store",
    "ring.store", "shm", NULL
  };
  guint i;

  for (i = 0; names[i]; i++) {
    gchar *p = g_build_filename (dir, names[i], NULL);

    g_unlink (p);
    g_free (p);
  }
}

/* Runs every contender @runs times at one resolution; returns the medians in
 * frames per second. */
static void
bench_resolution (const gchar * label, guint width, guint height,
    guint frames, guint runs, const gchar * dir, gdouble * fps)
{
  /* black: the cheapest pattern (~6000 frames/s at 1080p here, against ~430
   * for the default smpte), so what is measured is the sink's own cost */
  const gchar *pattern = g_getenv ("BENCH_PATTERN") ?
      g_getenv ("BENCH_PATTERN") : "black";
  BenchSeries series[N_CONTENDERS];
  guint64 frame_size = (guint64) width * height * 3 / 2;
  gchar *src;
  guint r, c;

  src = g_strdup_printf ("videotestsrc num-buffers=%u pattern=%s ! "
      "video/x-raw,format=I420,width=%u,height=%u,framerate=30/1",
      frames, pattern, width, height);

  for (c = 0; c < N_CONTENDERS; c++)
    bench_series_init (&series[c], contender_names[c], runs);

  for (r = 0; r < runs; r++) {
    for (c = 0; c < N_CONTENDERS; c++) {
      gchar *desc = contender_pipeline (c, src, dir, frame_size);
      gdouble secs;

      clean_outputs (dir);
      secs = bench_run_pipeline (desc,
          c == CONTENDER_MEMMAP_COPY ? setup_copy_path : NULL, NULL);
      g_free (desc);
      if (secs <= 0) {
        g_printerr ("%s %s failed\n", label, contender_names[c]);
        exit (1);
      }
      bench_series_add (&series[c], frames / secs);
    }
  }
  clean_outputs (dir);

  g_print ("\n%s I420, %u frames of %.1f MB, %u runs (frames/s)\n", label,
      frames, frame_size / 1e6, runs);
  g_print ("  %-20s %10s %10s %10s %10s\n", "contender", "median", "min",
      "max", "GB/s");
  for (c = 0; c < N_CONTENDERS; c++) {
    fps[c] = bench_series_median (&series[c]);
    g_print ("  %-20s %10.0f %10.0f %10.0f %10.2f\n", contender_names[c],
        fps[c], bench_series_min (&series[c]), bench_series_max (&series[c]),
        fps[c] * frame_size / 1e9);
    bench_series_clear (&series[c]);
  }
  g_print ("  ratios: ring/filesink %.2fx, append/filesink %.2fx, "
      "append/shmsink %.2fx, ring/fakesink %.2fx, copy/append %.2fx\n",
      fps[CONTENDER_MEMMAP_RING] / fps[CONTENDER_FILESINK],
      fps[CONTENDER_MEMMAP_APPEND] / fps[CONTENDER_FILESINK],
      fps[CONTENDER_MEMMAP_APPEND] / fps[CONTENDER_SHMSINK],
      fps[CONTENDER_MEMMAP_RING] / fps[CONTENDER_FAKESINK],
      fps[CONTENDER_MEMMAP_COPY] / fps[CONTENDER_MEMMAP_APPEND]);
  g_free (src);
}

int
main (int argc, char **argv)
{
  gdouble fps_hd[N_CONTENDERS], fps_4k[N_CONTENDERS];
  guint runs;
  gchar *dir;

  gst_init (&argc, &argv);

  runs = MAX (1, env_uint ("BENCH_RUNS", 5));
  dir = bench_make_tmpdir ();

  bench_resolution ("1080p", 1920, 1080, env_uint ("BENCH_FRAMES_1080P", 240),
      runs, dir, fps_hd);
  bench_resolution ("4K", 3840, 2160, env_uint ("BENCH_FRAMES_4K", 60), runs,
      dir, fps_4k);

  bench_remove_tree (dir);
  g_free (dir);

  g_print ("\nmemmapsink-vs-filesink: ring %.2fx (1080p) %.2fx (4K), "
      "append %.2fx (1080p) %.2fx (4K)\n",
      fps_hd[CONTENDER_MEMMAP_RING] / fps_hd[CONTENDER_FILESINK],
      fps_4k[CONTENDER_MEMMAP_RING] / fps_4k[CONTENDER_FILESINK],
      fps_hd[CONTENDER_MEMMAP_APPEND] / fps_hd[CONTENDER_FILESINK],
      fps_4k[CONTENDER_MEMMAP_APPEND] / fps_4k[CONTENDER_FILESINK]);
  return 0;
}
