/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-sink-process: memmapsink appending to a NEW store against filesink
 * writing a NEW file, each run in a process of its own (issue 14, "Writes").
 *
 * bench-sink measures the sinks in one process, one after the other, so a
 * run inherits the page cache, the allocator and the mappings of the runs
 * before it. Here every run is a fork+exec of this same binary in child mode
 * (`bench-sink-process --child DESCRIPTION`), as a gst-launch-1.0 would be:
 *
 *   videotestsrc num-buffers=N pattern=black ! video/x-raw,format=I420,
 *       width=W,height=H,framerate=30/1 ! SINK
 *
 * with the same source for every contender (pattern=black: ~6000 frames/s
 * at 1080p here, so the source's own cost is small next to writing):
 *
 *   fakesink    `fakesink sync=false`: the source's ceiling, nothing written
 *   filesink    `filesink sync=false location=out.raw`
 *   memmapsink  `memmapsink location=out.store` (append, the default)
 *   memmapsink-noprefault  the same with GST_MEMMAP_PREFAULT=0 in the
 *               child's environment: no page faulted in by another thread
 *   memmapsink-ahead  the same with GST_MEMMAP_PREFAULT_AHEAD=1: the writer
 *               reserves the next chunk ahead and a thread of its own
 *               faults it in (off by default, see docs/benchmarks.md)
 *
 * The output file is removed (and the file system synced, untimed) before
 * every run; contenders alternate, each round starting with the next one.
 * The child times the pipeline from NULL to PLAYING up to EOS and back to
 * NULL: the file is created, every frame written and the file closed in
 * the timed part (memmapsink's close gives back the unused blocks of its
 * last chunk; filesink's close is a close()). Neither syncs to the disk:
 * both leave the frames in the page cache, which the kernel writes back
 * later (filesink does not fsync unless told to, memmapsink's `durable` is
 * off by default). The child also checks the result: memmapsink's stats
 * count every frame written, filesink's file holds every byte.
 * The parent also reports each child's whole life (exec, gst_init, plugin
 * loading included) from fork to exit.
 *
 * Last line: memmapsink/filesink frames-per-second ratios (median of the
 * runs) at 1080p and 4K; target 1.2x.
 *
 * Environment: BENCH_RUNS (default 7), BENCH_FRAMES_1080P (default 300),
 * BENCH_FRAMES_4K (default 300), BENCH_DIR (default: a new directory in
 * the temporary directory).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"

#include <glib/gstdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum
{
  CONTENDER_FAKESINK,
  CONTENDER_FILESINK,
  CONTENDER_MEMMAPSINK,
  CONTENDER_MEMMAPSINK_NO_PREFAULT,
  CONTENDER_MEMMAPSINK_AHEAD,
  N_CONTENDERS
} Contender;

static const gchar *contender_names[N_CONTENDERS] = {
  "fakesink", "filesink", "memmapsink", "memmapsink-noprefault",
  "memmapsink-ahead",
};

/* ------------------------------------------------------------------------ */
/* child                                                                    */

static gdouble
rusage_secs (const struct rusage *ru)
{
  return ru->ru_utime.tv_sec + ru->ru_stime.tv_sec +
      (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* At EOS on the sink's pad, in the streaming thread: the CPU time that
 * thread used (it lives from PAUSED to the end of the run). */
static GstPadProbeReturn
on_eos (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  gdouble *stream_cpu = user_data;
  struct rusage ru;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS &&
      getrusage (RUSAGE_THREAD, &ru) == 0)
    *stream_cpu = rusage_secs (&ru);
  return GST_PAD_PROBE_OK;
}

/* Runs @desc (its last element the sink) from NULL to EOS and back to
 * NULL; prints on stdout "SECONDS FRAMES_WRITTEN STREAM_CPU PROCESS_CPU"
 * (FRAMES_WRITTEN: memmapsink's stats, or -1 when there is no element
 * named sink; the CPU seconds of the streaming thread and of the whole
 * process). Returns the exit status. */
static int
child_main (const gchar * desc)
{
  GstElement *pipeline, *sink, *last;
  GstMessage *msg;
  GstIterator *it;
  GValue item = G_VALUE_INIT;
  GstPad *pad;
  gdouble stream_cpu = -1;
  struct rusage ru;
  GError *error = NULL;
  gint64 t0, t1;
  gint64 written = -1;
  gboolean ok;

  pipeline = gst_parse_launch (desc, &error);
  if (pipeline == NULL) {
    g_printerr ("cannot build '%s': %s\n", desc, error->message);
    return 1;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  /* the sink: the element with no source pad (gst_parse_launch() gives a
   * bin whose sinks iterate first) */
  it = gst_bin_iterate_sinks (GST_BIN (pipeline));
  if (gst_iterator_next (it, &item) != GST_ITERATOR_OK) {
    g_printerr ("'%s': no sink\n", desc);
    return 1;
  }
  last = g_value_get_object (&item);
  pad = gst_element_get_static_pad (last, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_eos,
      &stream_cpu, NULL);
  gst_object_unref (pad);
  g_value_unset (&item);
  gst_iterator_free (it);

  t0 = g_get_monotonic_time ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ok = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (!ok) {
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &error, &dbg);
    g_printerr ("'%s' failed: %s (%s)\n", desc, error->message, dbg ? dbg : "");
    g_clear_error (&error);
    g_free (dbg);
  }
  gst_message_unref (msg);
  if (ok && sink) {
    GstStructure *stats = NULL;
    guint64 w = 0;

    g_object_get (sink, "stats", &stats, NULL);
    gst_structure_get_uint64 (stats, "frames-written", &w);
    gst_structure_free (stats);
    written = (gint64) w;
  }
  /* the file is closed in here */
  gst_element_set_state (pipeline, GST_STATE_NULL);
  t1 = g_get_monotonic_time ();

  g_clear_object (&sink);
  gst_object_unref (pipeline);
  if (!ok)
    return 1;
  getrusage (RUSAGE_SELF, &ru);
  g_print ("%.6f %" G_GINT64_FORMAT " %.6f %.6f\n", (t1 - t0) / 1e6, written,
      stream_cpu, rusage_secs (&ru));
  return 0;
}

/* ------------------------------------------------------------------------ */
/* parent                                                                   */

static gchar *
contender_pipeline (Contender c, const gchar * src, const gchar * out)
{
  switch (c) {
    case CONTENDER_FAKESINK:
      return g_strdup_printf ("%s ! fakesink sync=false", src);
    case CONTENDER_FILESINK:
      return g_strdup_printf ("%s ! filesink sync=false location=%s", src, out);
    case CONTENDER_MEMMAPSINK:
    case CONTENDER_MEMMAPSINK_NO_PREFAULT:
    case CONTENDER_MEMMAPSINK_AHEAD:
      return g_strdup_printf ("%s ! memmapsink name=sink location=%s", src,
          out);
    default:
      g_assert_not_reached ();
  }
  return NULL;
}

/* Removes @path and syncs its file system, so that no run inherits the
 * writeback of the one before. */
static void
remove_output (const gchar * path)
{
  gchar *dir = g_path_get_dirname (path);
  gint fd;

  g_unlink (path);
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    syncfs (fd);
    close (fd);
  }
  g_free (dir);
}

/* One run of @c in a child process: the child's own timing in seconds
 * (negative on failure), *@life the child's life from fork to exit. */
static gdouble
run_child (const gchar * self_exe, Contender c, const gchar * src,
    const gchar * out, guint frames, guint64 frame_size, gdouble * life,
    gdouble * stream_cpu, gdouble * process_cpu)
{
  gchar *desc = contender_pipeline (c, src, out);
  gchar *argv[] = { (gchar *) self_exe, (gchar *) "--child", desc, NULL };
  gchar *std_out = NULL;
  gchar **envp = g_get_environ ();
  GError *error = NULL;
  gint status = 0;
  gdouble secs = -1;
  gint64 written = 0, t0;
  GStatBuf st;

  envp = g_environ_unsetenv (envp, "GST_MEMMAP_PREFAULT");
  envp = g_environ_unsetenv (envp, "GST_MEMMAP_PREFAULT_AHEAD");
  if (c == CONTENDER_MEMMAPSINK_NO_PREFAULT)
    envp = g_environ_setenv (envp, "GST_MEMMAP_PREFAULT", "0", TRUE);
  else if (c == CONTENDER_MEMMAPSINK_AHEAD)
    envp = g_environ_setenv (envp, "GST_MEMMAP_PREFAULT_AHEAD", "1", TRUE);
  remove_output (out);
  t0 = g_get_monotonic_time ();
  if (!g_spawn_sync (NULL, argv, envp, G_SPAWN_CHILD_INHERITS_STDIN, NULL,
          NULL, &std_out, NULL, &status, &error)) {
    g_printerr ("cannot run '%s': %s\n", desc, error->message);
    g_clear_error (&error);
    goto done;
  }
  *life = (g_get_monotonic_time () - t0) / 1e6;
  if (!g_spawn_check_wait_status (status, &error)) {
    g_printerr ("'%s': %s\n", desc, error->message);
    g_clear_error (&error);
    goto done;
  }
  if (sscanf (std_out, "%lf %" G_GINT64_FORMAT " %lf %lf", &secs, &written,
          stream_cpu, process_cpu) != 4) {
    g_printerr ("'%s': unexpected output '%s'\n", desc, std_out);
    secs = -1;
    goto done;
  }
  /* what was written, checked after the child is gone */
  if (c >= CONTENDER_MEMMAPSINK && written != frames) {
    g_printerr ("'%s': %" G_GINT64_FORMAT " of %u frames written\n", desc,
        written, frames);
    secs = -1;
  } else if (c == CONTENDER_FILESINK && (g_stat (out, &st) != 0 ||
          (guint64) st.st_size != frames * frame_size)) {
    g_printerr ("'%s': the file does not hold %u frames\n", desc, frames);
    secs = -1;
  }

done:
  g_strfreev (envp);
  g_free (std_out);
  g_free (desc);
  return secs;
}

typedef struct
{
  gdouble fps[N_CONTENDERS];
} Result;

static void
bench_resolution (const gchar * self_exe, const gchar * label, guint width,
    guint height, guint frames, guint runs, const gchar * dir, Result * res)
{
  BenchSeries fps[N_CONTENDERS], life[N_CONTENDERS], scpu[N_CONTENDERS],
      pcpu[N_CONTENDERS];
  guint64 frame_size = (guint64) width * height * 3 / 2;
  gchar *outs[N_CONTENDERS];
  gchar *src;
  guint r, k, c;

  src = g_strdup_printf ("videotestsrc num-buffers=%u pattern=black ! "
      "video/x-raw,format=I420,width=%u,height=%u,framerate=30/1", frames,
      width, height);
  outs[CONTENDER_FAKESINK] = g_build_filename (dir, "none", NULL);
  outs[CONTENDER_FILESINK] = g_build_filename (dir, "out.raw", NULL);
  outs[CONTENDER_MEMMAPSINK] = g_build_filename (dir, "out.store", NULL);
  outs[CONTENDER_MEMMAPSINK_NO_PREFAULT] = g_build_filename (dir,
      "out.store", NULL);
  outs[CONTENDER_MEMMAPSINK_AHEAD] = g_build_filename (dir, "out.store", NULL);
  for (c = 0; c < N_CONTENDERS; c++) {
    bench_series_init (&fps[c], contender_names[c], runs);
    bench_series_init (&life[c], contender_names[c], runs);
    bench_series_init (&scpu[c], contender_names[c], runs);
    bench_series_init (&pcpu[c], contender_names[c], runs);
  }

  for (r = 0; r < runs; r++) {
    for (k = 0; k < N_CONTENDERS; k++) {
      gdouble secs, l = 0, sc = 0, pc = 0;

      c = (k + r) % N_CONTENDERS;
      secs = run_child (self_exe, c, src, outs[c], frames, frame_size, &l,
          &sc, &pc);
      if (secs <= 0) {
        g_printerr ("%s %s failed\n", label, contender_names[c]);
        exit (1);
      }
      bench_series_add (&fps[c], frames / secs);
      bench_series_add (&life[c], l);
      bench_series_add (&scpu[c], sc * 1e3 / frames);
      bench_series_add (&pcpu[c], pc * 1e3 / frames);
      remove_output (outs[c]);
    }
  }

  g_print ("\n%s I420, %u frames of %.1f MB, %u runs, one process per run "
      "(frames/s, NULL to PLAYING to EOS to NULL)\n", label, frames,
      frame_size / 1e6, runs);
  g_print ("  %-22s %9s %9s %9s %7s %12s %13s %13s\n", "contender",
      "median", "min", "max", "GB/s", "process (s)", "stream ms/f",
      "process ms/f");
  for (c = 0; c < N_CONTENDERS; c++) {
    res->fps[c] = bench_series_median (&fps[c]);
    g_print ("  %-22s %9.0f %9.0f %9.0f %7.2f %12.3f %13.3f %13.3f\n",
        contender_names[c], res->fps[c], bench_series_min (&fps[c]),
        bench_series_max (&fps[c]), res->fps[c] * frame_size / 1e9,
        bench_series_median (&life[c]), bench_series_median (&scpu[c]),
        bench_series_median (&pcpu[c]));
    bench_series_clear (&fps[c]);
    bench_series_clear (&life[c]);
    bench_series_clear (&scpu[c]);
    bench_series_clear (&pcpu[c]);
    g_free (outs[c]);
  }
  g_print ("  ratios: memmapsink/filesink %.2fx, "
      "memmapsink-noprefault/filesink %.2fx, memmapsink-ahead/filesink "
      "%.2fx\n",
      res->fps[CONTENDER_MEMMAPSINK] / res->fps[CONTENDER_FILESINK],
      res->fps[CONTENDER_MEMMAPSINK_NO_PREFAULT] /
      res->fps[CONTENDER_FILESINK],
      res->fps[CONTENDER_MEMMAPSINK_AHEAD] / res->fps[CONTENDER_FILESINK]);
  g_free (src);
}

int
main (int argc, char **argv)
{
  Result hd, uhd;
  gchar *dir, *self_exe;
  guint runs;
  gboolean own_dir;

  gst_init (&argc, &argv);
  if (argc == 3 && strcmp (argv[1], "--child") == 0)
    return child_main (argv[2]);

  runs = MAX (1, bench_env_uint ("BENCH_RUNS", 7));
  own_dir = g_getenv ("BENCH_DIR") == NULL;
  dir = own_dir ? bench_make_tmpdir () : g_strdup (g_getenv ("BENCH_DIR"));
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe == NULL)
    self_exe = g_strdup (argv[0]);

  bench_resolution (self_exe, "1080p", 1920, 1080,
      MAX (1, bench_env_uint ("BENCH_FRAMES_1080P", 300)), runs, dir, &hd);
  bench_resolution (self_exe, "4K", 3840, 2160,
      MAX (1, bench_env_uint ("BENCH_FRAMES_4K", 300)), runs, dir, &uhd);

  if (own_dir)
    bench_remove_tree (dir);
  g_free (dir);
  g_free (self_exe);

  g_print ("\nmemmapsink-vs-filesink, new file, one process per run: "
      "%.2fx (1080p) %.2fx (4K) [target 1.2x]; with the chunk ahead "
      "(GST_MEMMAP_PREFAULT_AHEAD=1) %.2fx (1080p) %.2fx (4K)\n",
      hd.fps[CONTENDER_MEMMAPSINK] / hd.fps[CONTENDER_FILESINK],
      uhd.fps[CONTENDER_MEMMAPSINK] / uhd.fps[CONTENDER_FILESINK],
      hd.fps[CONTENDER_MEMMAPSINK_AHEAD] / hd.fps[CONTENDER_FILESINK],
      uhd.fps[CONTENDER_MEMMAPSINK_AHEAD] / uhd.fps[CONTENDER_FILESINK]);
  return 0;
}
