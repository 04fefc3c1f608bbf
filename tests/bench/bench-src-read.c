/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-src-read: serving the frames of a store with memmapsrc and reading
 * every byte of them, against this machine's DRAM read ceiling measured in
 * the same run with the same reading loop on the same thread count (one:
 * the streaming thread reads, as a consumer element would). Issue 14,
 * "Reads".
 *
 * Input per resolution: a store written by `videotestsrc pattern=smpte
 * horizontal-speed=8 ! I420 caps ! memmapsink` (its pages entered the page
 * cache through memmapsink's mapping, as every store's do), 300 frames of
 * 1080p (0.93 GB) and 75 of 4K by default: much more than the caches.
 *
 * Contenders, each a pass over the same number of bytes, every 64-bit word
 * XORed (bench_xor_words(): the same function for all; the XORs are
 * checked):
 *   dram-4k         an anonymous buffer of the frames' total size, touched
 *                   beforehand, read frame by frame (4 KiB pages:
 *                   MADV_NOHUGEPAGE)
 *   dram-huge       the same with MADV_HUGEPAGE (2 MiB pages where
 *                   transparent huge pages allow it)
 *   mmap            the store file mapped with a plain mmap() (no engine,
 *                   no GStreamer), its slots read in place: the page
 *                   cache's own cost, faults included
 *   memmapsrc       memmapsrc location=S ! fakesink, a pad probe on
 *                   fakesink reading every frame; the engine's mappings
 *                   dropped before the run (as in a new process)
 *   memmapsrc-warm  the same, the mappings of the run before kept
 * The ceiling is the faster of dram-4k and dram-huge in each round. Pipeline
 * runs are timed from the second frame at the sink to the last (preroll
 * left out); the passes of the others over the same frames after the
 * first. Rounds interleave the contenders, each starting with the next.
 *
 * Each pass is also measured by the CPU time of the thread that reads
 * (getrusage RUSAGE_THREAD: the streaming thread for memmapsrc): on a
 * machine shared with other work, wall time also counts the time the
 * reader waited for a CPU.
 *
 * Last line: memmapsrc's (fresh mappings) GB/s as a share of the ceiling,
 * median of the rounds' ratios, at 1080p and 4K; target 0.8; then the same
 * by CPU time.
 *
 * Environment: BENCH_RUNS (default 7), BENCH_FRAMES_1080P (default 300),
 * BENCH_FRAMES_4K (default 75).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"

#include <gst/memmap/memmap.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum
{
  CONTENDER_DRAM_4K,
  CONTENDER_DRAM_HUGE,
  CONTENDER_MMAP,
  CONTENDER_MEMMAPSRC,
  CONTENDER_MEMMAPSRC_WARM,
  N_CONTENDERS
} Contender;

static const gchar *contender_names[N_CONTENDERS] = {
  "dram-4k", "dram-huge", "mmap", "memmapsrc", "memmapsrc-warm",
};

#define TIMED_FROM 2

typedef struct
{
  const gchar *name;
  guint width, height, frames;
  guint64 frame_size;
  gchar *store;
  guint64 *offsets;             /* where each frame is in the file */
  guint64 xor_ref;
  gboolean have_ref;
  guint8 *dram[2];              /* 4k, huge */
  gsize dram_size;
} Input;

/* CPU seconds of the calling thread: on a shared machine, what the reading
 * cost the thread whatever the scheduler did to it meanwhile. */
static gdouble
thread_cpu (void)
{
  struct rusage ru;

  getrusage (RUSAGE_THREAD, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ------------------------------------------------------------------------ */
/* inputs                                                                   */

static void
make_input (Input * in, const gchar * dir)
{
  GstMemmapStoreReader *reader;
  GError *error = NULL;
  gchar *desc;
  guint i;

  in->frame_size = (guint64) in->width * in->height * 3 / 2;
  in->store = g_strdup_printf ("%s/%s.store", dir, in->name);
  desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=smpte "
      "horizontal-speed=8 ! video/x-raw,format=I420,width=%u,height=%u,"
      "framerate=30/1 ! memmapsink location=%s", in->frames, in->width,
      in->height, in->store);
  if (bench_run_pipeline (desc, NULL, NULL) < 0)
    exit (1);
  g_free (desc);

  /* where the frames are: the reader's buffers say */
  reader = gst_memmap_store_reader_open (gst_memmap_engine_get_default (),
      in->store, &error);
  if (reader == NULL) {
    g_printerr ("%s: %s\n", in->store, error->message);
    exit (1);
  }
  in->offsets = g_new (guint64, in->frames);
  for (i = 0; i < in->frames; i++) {
    GstBuffer *buf = gst_memmap_store_reader_get_buffer (reader, NULL, i,
        &error);

    if (buf == NULL) {
      g_printerr ("%s: %s\n", in->store, error->message);
      exit (1);
    }
    in->offsets[i] =
        gst_memmap_memory_get_file_offset (gst_buffer_peek_memory (buf, 0));
    gst_buffer_unref (buf);
  }
  gst_memmap_store_reader_unref (reader);
  gst_memmap_engine_clear_all (gst_memmap_engine_get_default ());

  /* the ceiling's buffers: the same bytes as the frames */
  in->dram_size = in->frame_size * in->frames;
  for (i = 0; i < 2; i++) {
    in->dram[i] = mmap (NULL, in->dram_size, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (in->dram[i] == MAP_FAILED) {
      g_printerr ("cannot allocate %" G_GSIZE_FORMAT " bytes\n", in->dram_size);
      exit (1);
    }
    madvise (in->dram[i], in->dram_size, i ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset (in->dram[i], 0x5a + i, in->dram_size);
  }
}

static void
free_input (Input * in)
{
  guint i;

  for (i = 0; i < 2; i++)
    munmap (in->dram[i], in->dram_size);
  g_unlink (in->store);
  g_free (in->store);
  g_free (in->offsets);
}

/* ------------------------------------------------------------------------ */
/* passes without GStreamer                                                 */

/* Reads @frames frames of @size bytes from @base, frame i at @offsets[i]
 * (or i * @size without), the first one untimed, as the pipelines' first
 * frame is. GB/s of the rest. */
static gdouble
read_pass (const guint8 * base, guint frames, guint64 size,
    const guint64 * offsets, guint64 * xor, gdouble * cpu_gbs)
{
  guint64 x = 0;
  gint64 t0 = 0;
  gdouble c0 = 0;
  guint i;

  for (i = 0; i < frames; i++) {
    if (i == TIMED_FROM - 1) {
      c0 = thread_cpu ();
      t0 = g_get_monotonic_time ();
    }
    x ^= bench_xor_words (base + (offsets ? offsets[i] : i * size), size);
  }
  *xor = x;
  *cpu_gbs = (frames - TIMED_FROM + 1) * size / 1e9 /
      MAX (thread_cpu () - c0, 1e-6);
  return (frames - TIMED_FROM + 1) * size / 1e3 /
      (g_get_monotonic_time () - t0);
}

/* The store's slots through a plain mmap() of the file, mapped for the
 * pass (its page faults included). */
static gdouble
mmap_pass (const Input * in, guint64 * xor, gdouble * cpu_gbs)
{
  gint fd = open (in->store, O_RDONLY | O_CLOEXEC);
  struct stat st;
  guint8 *p;
  gdouble gbs;

  if (fd < 0 || fstat (fd, &st) < 0) {
    g_printerr ("cannot open %s\n", in->store);
    exit (1);
  }
  p = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close (fd);
  if (p == MAP_FAILED) {
    g_printerr ("cannot map %s\n", in->store);
    exit (1);
  }
  gbs = read_pass (p, in->frames, in->frame_size, in->offsets, xor, cpu_gbs);
  munmap (p, st.st_size);
  return gbs;
}

/* ------------------------------------------------------------------------ */
/* memmapsrc                                                                */

typedef struct
{
  guint frames, seen;
  guint64 xor;
  gint64 t_first, t_last;
  gdouble cpu_first, cpu_last;  /* of the streaming thread */
  gboolean bad_map;
} Probe;

static GstPadProbeReturn
on_frame (GstPad * pad, GstPadProbeInfo * info, Probe * p)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;

  if (p->seen + 1 == TIMED_FROM) {
    p->cpu_first = thread_cpu ();
    p->t_first = g_get_monotonic_time ();
  }
  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    p->xor ^= bench_xor_words (map.data, map.size);
    gst_buffer_unmap (buf, &map);
  } else {
    p->bad_map = TRUE;
  }
  p->seen++;
  if (p->seen == p->frames) {
    p->t_last = g_get_monotonic_time ();
    p->cpu_last = thread_cpu ();
  }
  return GST_PAD_PROBE_OK;
}

static gdouble
memmapsrc_pass (const Input * in, gboolean warm, guint64 * xor,
    gdouble * cpu_gbs)
{
  gchar *desc = g_strdup_printf ("memmapsrc location=%s ! fakesink "
      "name=sink sync=false", in->store);
  GstElement *pipeline;
  GstMessage *msg;
  Probe p = { 0, };

  if (!warm)
    gst_memmap_engine_clear_all (gst_memmap_engine_get_default ());
  p.frames = in->frames;
  pipeline = gst_parse_launch (desc, NULL);
  if (pipeline == NULL)
    exit (1);
  bench_probe_buffers (pipeline, "sink", (GstPadProbeCallback) on_frame, &p);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg == NULL || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS ||
      p.seen != in->frames || p.bad_map || p.t_last <= p.t_first) {
    g_printerr ("'%s' failed (%u of %u frames)\n", desc, p.seen, in->frames);
    exit (1);
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);
  *xor = p.xor;
  *cpu_gbs = (in->frames - TIMED_FROM + 1) * in->frame_size / 1e9 /
      MAX (p.cpu_last - p.cpu_first, 1e-6);
  /* the frames from TIMED_FROM on: the first one's read is before t_first */
  return (in->frames - TIMED_FROM + 1) * in->frame_size / 1e3 /
      (p.t_last - p.t_first);
}

/* ------------------------------------------------------------------------ */

/* GB/s of wall time, and in *@cpu_gbs of the reading thread's CPU time */
static gdouble
run_contender (Input * in, Contender c, gdouble * cpu_gbs)
{
  guint64 xor = 0;
  gdouble gbs = 0;

  switch (c) {
    case CONTENDER_DRAM_4K:
    case CONTENDER_DRAM_HUGE:
      /* other bytes than the frames': no XOR to check */
      return read_pass (in->dram[c == CONTENDER_DRAM_HUGE], in->frames,
          in->frame_size, NULL, &xor, cpu_gbs);
    case CONTENDER_MMAP:
      gbs = mmap_pass (in, &xor, cpu_gbs);
      break;
    case CONTENDER_MEMMAPSRC:
    case CONTENDER_MEMMAPSRC_WARM:
      gbs = memmapsrc_pass (in, c == CONTENDER_MEMMAPSRC_WARM, &xor, cpu_gbs);
      break;
    default:
      g_assert_not_reached ();
  }
  if (!in->have_ref) {
    in->xor_ref = xor;
    in->have_ref = TRUE;
  } else if (xor != in->xor_ref) {
    g_printerr ("%s %s read other bytes\n", in->name, contender_names[c]);
    exit (1);
  }
  return gbs;
}

typedef struct
{
  gdouble ratio, ratio_cpu;     /* memmapsrc / ceiling, medians by round */
  gdouble ceiling, ceiling_cpu; /* GB/s */
} Result;

static gdouble
best_dram (const gdouble * v)
{
  return MAX (v[CONTENDER_DRAM_4K], v[CONTENDER_DRAM_HUGE]);
}

static void
bench_input (Input * in, guint runs, Result * res)
{
  BenchSeries gbs[N_CONTENDERS], cgbs[N_CONTENDERS], ratio, ratio_cpu, ceil,
      ceil_cpu;
  guint r, k, c;
  gdouble dummy;

  for (c = 0; c < N_CONTENDERS; c++) {
    bench_series_init (&gbs[c], contender_names[c], runs);
    bench_series_init (&cgbs[c], contender_names[c], runs);
  }
  bench_series_init (&ratio, "ratio", runs);
  bench_series_init (&ratio_cpu, "ratio-cpu", runs);
  bench_series_init (&ceil, "ceiling", runs);
  bench_series_init (&ceil_cpu, "ceiling-cpu", runs);

  /* warm-up: the page cache, the XOR of reference */
  run_contender (in, CONTENDER_MEMMAPSRC, &dummy);
  for (r = 0; r < runs; r++) {
    gdouble v[N_CONTENDERS], cv[N_CONTENDERS];

    for (k = 0; k < N_CONTENDERS; k++) {
      c = (k + r) % N_CONTENDERS;
      /* warm only right after a run that mapped the store */
      if (c == CONTENDER_MEMMAPSRC_WARM)
        run_contender (in, CONTENDER_MEMMAPSRC, &dummy);
      v[c] = run_contender (in, c, &cv[c]);
      bench_series_add (&gbs[c], v[c]);
      bench_series_add (&cgbs[c], cv[c]);
    }
    bench_series_add (&ceil, best_dram (v));
    bench_series_add (&ceil_cpu, best_dram (cv));
    bench_series_add (&ratio, v[CONTENDER_MEMMAPSRC] / best_dram (v));
    bench_series_add (&ratio_cpu, cv[CONTENDER_MEMMAPSRC] / best_dram (cv));
  }

  g_print ("\n%s I420, %u frames of %.1f MB (%.2f GB), %u runs, every byte "
      "read by one thread (GB/s of wall time; of the reading thread's CPU "
      "time)\n", in->name, in->frames, in->frame_size / 1e6,
      in->dram_size / 1e9, runs);
  g_print ("  %-16s %8s %8s %8s %9s %9s %9s\n", "contender", "median", "min",
      "max", "/ceiling", "cpu GB/s", "/ceiling");
  res->ceiling = bench_series_median (&ceil);
  res->ceiling_cpu = bench_series_median (&ceil_cpu);
  for (c = 0; c < N_CONTENDERS; c++) {
    gdouble m = bench_series_median (&gbs[c]);
    gdouble cm = bench_series_median (&cgbs[c]);

    g_print ("  %-16s %8.2f %8.2f %8.2f %8.2fx %9.2f %8.2fx\n",
        contender_names[c], m, bench_series_min (&gbs[c]),
        bench_series_max (&gbs[c]), m / res->ceiling, cm,
        cm / res->ceiling_cpu);
    bench_series_clear (&gbs[c]);
    bench_series_clear (&cgbs[c]);
  }
  res->ratio = bench_series_median (&ratio);
  res->ratio_cpu = bench_series_median (&ratio_cpu);
  g_print ("  ceiling (the faster dram pass of each round) %.2f GB/s (CPU "
      "time: %.2f); memmapsrc/ceiling by round: median %.2f (%.2f..%.2f), "
      "CPU time %.2f (%.2f..%.2f)\n", res->ceiling, res->ceiling_cpu,
      res->ratio, bench_series_min (&ratio), bench_series_max (&ratio),
      res->ratio_cpu, bench_series_min (&ratio_cpu),
      bench_series_max (&ratio_cpu));
  bench_series_clear (&ratio);
  bench_series_clear (&ratio_cpu);
  bench_series_clear (&ceil);
  bench_series_clear (&ceil_cpu);
}

int
main (int argc, char **argv)
{
  Input in[] = {
    {"1080p", 1920, 1080, 0,},
    {"4K", 3840, 2160, 0,},
  };
  Result res[G_N_ELEMENTS (in)];
  guint runs, i;
  gchar *dir;

  gst_init (&argc, &argv);
  runs = MAX (1, bench_env_uint ("BENCH_RUNS", 7));
  in[0].frames =
      MAX (TIMED_FROM + 1, bench_env_uint ("BENCH_FRAMES_1080P", 300));
  in[1].frames = MAX (TIMED_FROM + 1, bench_env_uint ("BENCH_FRAMES_4K", 75));
  dir = bench_make_tmpdir ();

  for (i = 0; i < G_N_ELEMENTS (in); i++) {
    make_input (&in[i], dir);
    bench_input (&in[i], runs, &res[i]);
    free_input (&in[i]);
    gst_memmap_engine_clear_all (gst_memmap_engine_get_default ());
  }
  bench_remove_tree (dir);
  g_free (dir);

  g_print ("\nmemmapsrc-read-vs-dram-ceiling: %.2f (1080p) %.2f (4K) of the "
      "ceiling (%.1f / %.1f GB/s, one thread) [target 0.8]; by the reading "
      "thread's CPU time %.2f (1080p) %.2f (4K)\n", res[0].ratio,
      res[1].ratio, res[0].ceiling, res[1].ceiling, res[0].ratio_cpu,
      res[1].ratio_cpu);
  return 0;
}
