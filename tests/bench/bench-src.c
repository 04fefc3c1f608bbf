/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-src: how fast memmapsrc hands out the frames of a store, against
 * filesrc ! rawvideoparse on a raw file of the same frames and against
 * shmsrc fed by shmsink, measured in one run, contenders interleaved round
 * by round.
 *
 * Inputs, made once per resolution by the benchmark (1080p and 4K I420,
 * videotestsrc's SMPTE bars scrolling sideways): a raw file R written by
 * filesink, a store S written by `filesrc R ! rawvideoparse ! memmapsink`
 * (so the store's pages entered the page cache through memmapsink's shared
 * mapping, as every store's do) and, at 1080p, an MP4 of the same frames
 * (x264enc key-int-max=60).
 *
 * Sequential reading, each contender in two modes: "untouched" (nothing
 * reads the frames' bytes) and "read" (a pad probe on fakesink XORs every
 * 64-bit word of every frame; the XOR of the whole stream is checked to be
 * the same for every contender):
 *   memmapsrc        memmapsrc location=S ! fakesink, the engine's
 *                    mappings dropped before the run (as in a new process:
 *                    every page of the store is faulted in again)
 *   memmapsrc-warm   the same, the mappings of the previous run kept (a
 *                    process that plays the store again: no page faults)
 *   memmapsrc-write  memmapsrc on a copy of S written with 8 MiB write()s,
 *                    mappings dropped: the same bytes, but pages that
 *                    entered the page cache through write()
 *   filesrc          filesrc location=R ! rawvideoparse ! fakesink
 *   shmsrc           filesrc R ! rawvideoparse ! shmsink in a second
 *                    pipeline of this process, shmsrc ! fakesink timed
 * Each run is timed from the second frame at the sink to the last one
 * (after the probe's work), so start-up, preroll (the first frame) and EOS
 * are left out alike for all; page faults (getrusage, the whole process,
 * minor and major) are counted over the same frames.
 *
 * Per frame: memmapsrc ! fakesink at 4K against 1080p, one pass with fresh
 * mappings (from the table above) and looping over the store for
 * BENCH_LOOP_FRAMES frames (mappings warm); then both again with the
 * engine's window-size raised to 1 GiB, so that the whole store is one
 * window (default 64 MiB: 21 frames of 1080p, 5 of 4K).
 *
 * Random access: BENCH_SEEKS flushing accurate seeks to random frames (the
 * middle of the frame) in PAUSED, each timed from the seek until the first
 * buffer reaches fakesink's sink pad (its timestamp is checked to be the
 * frame's): memmapsrc against filesrc ! qtdemux ! h264parse ! avdec_h264
 * on the MP4 at 1080p; memmapsrc alone at 4K.
 *
 * Environment: BENCH_RUNS (default 7), BENCH_FRAMES_1080P (default 300),
 * BENCH_FRAMES_4K (default 75), BENCH_SEEKS (default 100),
 * BENCH_LOOP_FRAMES (default 3000).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "benchutil.h"

#include <gst/memmap/memmap.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef enum
{
  CONTENDER_MEMMAPSRC,
  CONTENDER_MEMMAPSRC_WARM,
  CONTENDER_MEMMAPSRC_WRITE,
  CONTENDER_FILESRC,
  CONTENDER_SHMSRC,
  N_CONTENDERS
} Contender;

static const gchar *contender_names[N_CONTENDERS] = {
  "memmapsrc", "memmapsrc-warm", "memmapsrc-write", "filesrc", "shmsrc",
};

typedef enum
{
  TOUCH_NONE,
  TOUCH_READ,
  N_TOUCH
} Touch;

static const gchar *touch_names[N_TOUCH] = { "untouched", "read" };

typedef struct
{
  const gchar *name;
  guint width, height, frames;
  guint64 frame_size;
  gchar *raw;                   /* written by filesink */
  gchar *store;                 /* written by memmapsink */
  gchar *store_write;           /* a copy of store written with write() */
  gchar *mp4;                   /* NULL: no decoder seeks */
  gchar *caps;
  guint64 xor_ref;
  gboolean have_xor_ref;
} Resolution;

/* ------------------------------------------------------------------------ */
/* inputs                                                                   */

static void
run_or_die (const gchar * desc)
{
  if (bench_run_pipeline (desc, NULL, NULL) < 0)
    exit (1);
}

/* Copies @from to @to with large write()s, the way most files are written. */
static void
copy_with_write (const gchar * from, const gchar * to)
{
  const gsize chunk = 8 << 20;
  guint8 *buf = g_malloc (chunk);
  gint in = open (from, O_RDONLY | O_CLOEXEC);
  gint out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  gssize r;

  if (in < 0 || out < 0)
    goto failed;
  while ((r = read (in, buf, chunk)) > 0) {
    gssize done = 0;

    while (done < r) {
      gssize w = write (out, buf + done, r - done);

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        goto failed;
      done += w;
    }
  }
  if (r < 0)
    goto failed;
  close (in);
  close (out);
  g_free (buf);
  return;

failed:
  g_printerr ("cannot copy %s to %s: %s\n", from, to, g_strerror (errno));
  exit (1);
}

static void
make_inputs (Resolution * res, const gchar * dir, gboolean with_mp4)
{
  gchar *desc, *parse;

  res->frame_size = (guint64) res->width * res->height * 3 / 2;
  res->caps = g_strdup_printf ("video/x-raw,format=I420,width=%u,height=%u,"
      "framerate=30/1", res->width, res->height);
  res->raw = g_strdup_printf ("%s/%s.raw", dir, res->name);
  res->store = g_strdup_printf ("%s/%s.store", dir, res->name);
  res->store_write = g_strdup_printf ("%s/%s-write.store", dir, res->name);

  desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=smpte "
      "horizontal-speed=8 ! %s ! filesink location=%s", res->frames,
      res->caps, res->raw);
  run_or_die (desc);
  g_free (desc);

  parse = g_strdup_printf ("filesrc location=%s ! rawvideoparse width=%u "
      "height=%u format=i420 framerate=30/1", res->raw, res->width,
      res->height);
  desc = g_strdup_printf ("%s ! memmapsink location=%s", parse, res->store);
  run_or_die (desc);
  g_free (desc);

  copy_with_write (res->store, res->store_write);

  if (with_mp4) {
    res->mp4 = g_strdup_printf ("%s/%s.mp4", dir, res->name);
    desc = g_strdup_printf ("%s ! x264enc key-int-max=60 "
        "speed-preset=superfast ! mp4mux ! filesink location=%s", parse,
        res->mp4);
    run_or_die (desc);
    g_free (desc);
  }
  g_free (parse);
}

static void
free_inputs (Resolution * res)
{
  const gchar *files[] = { res->raw, res->store, res->store_write, res->mp4 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (files); i++)
    if (files[i])
      g_unlink (files[i]);
  g_free (res->raw);
  g_free (res->store);
  g_free (res->store_write);
  g_free (res->mp4);
  g_free (res->caps);
}

/* ------------------------------------------------------------------------ */
/* sequential reading                                                       */

/* What the probe on fakesink's sink pad sees. Only the streaming thread
 * touches it while the pipeline runs. */
/* Runs are timed from this frame at the sink: the first one prerolls the
 * sink, which then waits for the pipeline to reach PLAYING, a fixed cost
 * that would weigh more on short runs (75 frames of 4K) than on long ones. */
#define TIMED_FROM 2

typedef struct
{
  Touch touch;
  guint frames;                 /* expected */
  guint seen;
  guint64 xor;
  gint64 t_first, t_last;       /* monotonic µs, after frame TIMED_FROM/the
                                 * last frame */
  struct rusage ru_first, ru_last;
  gboolean bad_map;
} Probe;

static GstPadProbeReturn
on_frame (GstPad * pad, GstPadProbeInfo * info, Probe * p)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (p->touch == TOUCH_READ) {
    GstMapInfo map;

    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      p->xor ^= bench_xor_words (map.data, map.size);
      gst_buffer_unmap (buf, &map);
    } else {
      p->bad_map = TRUE;
    }
  }

  p->seen++;
  if (p->seen == TIMED_FROM) {
    getrusage (RUSAGE_SELF, &p->ru_first);
    p->t_first = g_get_monotonic_time ();
  } else if (p->seen == p->frames) {
    p->t_last = g_get_monotonic_time ();
    getrusage (RUSAGE_SELF, &p->ru_last);
  }
  return GST_PAD_PROBE_OK;
}

static gchar *
consumer_pipeline (const Resolution * res, Contender c,
    const gchar * socket_path)
{
  switch (c) {
    case CONTENDER_MEMMAPSRC:
    case CONTENDER_MEMMAPSRC_WARM:
      return g_strdup_printf ("memmapsrc location=%s ! fakesink name=sink "
          "sync=false", res->store);
    case CONTENDER_MEMMAPSRC_WRITE:
      return g_strdup_printf ("memmapsrc location=%s ! fakesink name=sink "
          "sync=false", res->store_write);
    case CONTENDER_FILESRC:
      return g_strdup_printf ("filesrc location=%s ! rawvideoparse width=%u "
          "height=%u format=i420 framerate=30/1 ! fakesink name=sink "
          "sync=false", res->raw, res->width, res->height);
    case CONTENDER_SHMSRC:
      return g_strdup_printf ("shmsrc socket-path=%s is-live=false "
          "num-buffers=%u ! %s ! fakesink name=sink sync=false", socket_path,
          res->frames, res->caps);
    default:
      g_assert_not_reached ();
  }
  return NULL;
}

/* Returns FALSE after printing why, if @pipeline posted an error. */
static gboolean
check_no_error (GstElement * pipeline, const gchar * what)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gboolean ok = TRUE;

  if (msg) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("%s: %s\n", what, err->message);
    g_clear_error (&err);
    gst_message_unref (msg);
    ok = FALSE;
  }
  gst_object_unref (bus);
  return ok;
}

static GstElement *
launch (const gchar * desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);

  if (p == NULL) {
    g_printerr ("cannot build '%s': %s\n", desc, err->message);
    exit (1);
  }
  return p;
}

/* One run of one contender; fills *@fps, *@faults (minor page faults per
 * frame), *@major (major faults over the run) and *@xor. */
static void
run_contender (const Resolution * res, Contender c, Touch touch,
    const gchar * dir, gdouble * fps, gdouble * faults, glong * major,
    guint64 * xor)
{
  gchar *socket_path = g_strdup_printf ("%s/shm-socket", dir);
  GstElement *producer = NULL, *consumer;
  GstMessage *msg;
  Probe p = { 0, };
  gchar *desc;

  p.touch = touch;
  p.frames = res->frames;

  /* a new process would map the store afresh: drop what the engine keeps
   * (memmapsrc-warm keeps the mappings of the memmapsrc run before it) */
  if (c == CONTENDER_MEMMAPSRC || c == CONTENDER_MEMMAPSRC_WRITE)
    gst_memmap_engine_clear_all (gst_memmap_engine_get_default ());

  if (c == CONTENDER_SHMSRC) {
    g_unlink (socket_path);
    /* room for 8 frames; shmsink blocks when the readers hold them all */
    desc = g_strdup_printf ("filesrc location=%s ! rawvideoparse width=%u "
        "height=%u format=i420 framerate=30/1 ! shmsink socket-path=%s "
        "wait-for-connection=true sync=false shm-size=%" G_GUINT64_FORMAT,
        res->raw, res->width, res->height, socket_path,
        res->frame_size * 8 + (1 << 20));
    producer = launch (desc);
    g_free (desc);
    /* shmsink makes its socket in start(), before this returns ASYNC */
    gst_element_set_state (producer, GST_STATE_PLAYING);
  }

  desc = consumer_pipeline (res, c, socket_path);
  consumer = launch (desc);
  bench_probe_buffers (consumer, "sink", (GstPadProbeCallback) on_frame, &p);

  gst_element_set_state (consumer, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (consumer),
      120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg == NULL || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    if (msg) {
      GError *err = NULL;

      gst_message_parse_error (msg, &err, NULL);
      g_printerr ("'%s' failed: %s\n", desc, err->message);
    } else {
      g_printerr ("'%s' timed out\n", desc);
    }
    if (producer)
      check_no_error (producer, "the shmsink pipeline");
    exit (1);
  }
  gst_message_unref (msg);
  gst_element_set_state (consumer, GST_STATE_NULL);
  gst_object_unref (consumer);
  if (producer) {
    gboolean ok = check_no_error (producer, "the shmsink pipeline");

    gst_element_set_state (producer, GST_STATE_NULL);
    gst_object_unref (producer);
    if (!ok)
      exit (1);
  }

  if (p.seen != res->frames || p.bad_map || p.t_last <= p.t_first) {
    g_printerr ("'%s': %u of %u frames%s\n", desc, p.seen, res->frames,
        p.bad_map ? ", a buffer could not be mapped" : "");
    exit (1);
  }
  g_free (desc);
  g_free (socket_path);

  *fps = (res->frames - TIMED_FROM) / ((p.t_last - p.t_first) / 1e6);
  *faults = (gdouble) (p.ru_last.ru_minflt - p.ru_first.ru_minflt) /
      (res->frames - TIMED_FROM);
  *major = p.ru_last.ru_majflt - p.ru_first.ru_majflt;
  *xor = p.xor;
}

typedef struct
{
  gdouble fps[N_TOUCH][N_CONTENDERS];
  gdouble faults[N_TOUCH][N_CONTENDERS];
  gdouble pass_us[N_TOUCH][N_CONTENDERS];       /* µs per frame */
  gdouble loop_us;              /* memmapsrc ! fakesink, looping */
  gdouble big_pass_us, big_loop_us;     /* the same with BIG_WINDOW */
} SeqResult;

static void
bench_sequential (Resolution * res, guint runs, const gchar * dir,
    SeqResult * out)
{
  BenchSeries fps[N_TOUCH][N_CONTENDERS], faults[N_TOUCH][N_CONTENDERS];
  glong major[N_TOUCH][N_CONTENDERS] = { {0,}, };
  guint r, t, c;

  for (t = 0; t < N_TOUCH; t++)
    for (c = 0; c < N_CONTENDERS; c++) {
      bench_series_init (&fps[t][c], contender_names[c], runs);
      bench_series_init (&faults[t][c], contender_names[c], runs);
    }

  for (r = 0; r < runs; r++) {
    for (t = 0; t < N_TOUCH; t++) {
      for (c = 0; c < N_CONTENDERS; c++) {
        gdouble f, flt;
        glong maj;
        guint64 xor;

        run_contender (res, c, t, dir, &f, &flt, &maj, &xor);
        bench_series_add (&fps[t][c], f);
        bench_series_add (&faults[t][c], flt);
        major[t][c] += maj;
        if (t == TOUCH_READ) {
          if (!res->have_xor_ref) {
            res->xor_ref = xor;
            res->have_xor_ref = TRUE;
          } else if (xor != res->xor_ref) {
            g_printerr ("%s %s read other bytes (XOR %016" G_GINT64_MODIFIER
                "x, expected %016" G_GINT64_MODIFIER "x)\n", res->name,
                contender_names[c], xor, res->xor_ref);
            exit (1);
          }
        }
      }
    }
  }

  for (t = 0; t < N_TOUCH; t++) {
    g_print ("\n%s I420, %u frames of %.1f MB, %u runs, %s (frames/s)\n",
        res->name, res->frames, res->frame_size / 1e6, runs, touch_names[t]);
    g_print ("  %-16s %9s %9s %9s %7s %9s %13s %6s\n", "contender", "median",
        "min", "max", "GB/s", "us/frame", "faults/frame", "major");
    for (c = 0; c < N_CONTENDERS; c++) {
      out->fps[t][c] = bench_series_median (&fps[t][c]);
      out->faults[t][c] = bench_series_median (&faults[t][c]);
      out->pass_us[t][c] = 1e6 / out->fps[t][c];
      g_print ("  %-16s %9.0f %9.0f %9.0f %7.2f %9.1f %13.1f %6ld\n",
          contender_names[c], out->fps[t][c], bench_series_min (&fps[t][c]),
          bench_series_max (&fps[t][c]),
          out->fps[t][c] * res->frame_size / 1e9, out->pass_us[t][c],
          out->faults[t][c], major[t][c]);
      bench_series_clear (&fps[t][c]);
      bench_series_clear (&faults[t][c]);
    }
    g_print ("  ratios: memmapsrc/filesrc %.2fx, memmapsrc/shmsrc %.2fx, "
        "memmapsrc-warm/filesrc %.2fx, memmapsrc-write/filesrc %.2fx\n",
        out->fps[t][CONTENDER_MEMMAPSRC] / out->fps[t][CONTENDER_FILESRC],
        out->fps[t][CONTENDER_MEMMAPSRC] / out->fps[t][CONTENDER_SHMSRC],
        out->fps[t][CONTENDER_MEMMAPSRC_WARM] /
        out->fps[t][CONTENDER_FILESRC],
        out->fps[t][CONTENDER_MEMMAPSRC_WRITE] /
        out->fps[t][CONTENDER_FILESRC]);
  }
}

/* memmapsrc loop=true ! fakesink for @frames frames: µs per frame, median
 * of @runs; mappings warm after the first pass over the store. */
static gdouble
bench_loop (const Resolution * res, guint frames, guint runs, gdouble * min,
    gdouble * max)
{
  BenchSeries series;
  gdouble median;
  guint r;

  bench_series_init (&series, "loop", runs);
  for (r = 0; r < runs; r++) {
    gchar *desc = g_strdup_printf ("memmapsrc location=%s loop=true "
        "num-buffers=%u ! fakesink name=sink sync=false", res->store, frames);
    GstElement *pipeline = launch (desc);
    GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    GstMessage *msg;
    Probe p = { 0, };

    p.touch = TOUCH_NONE;
    p.frames = frames;
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) on_frame, &p, NULL);
    gst_object_unref (pad);
    gst_object_unref (sink);
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
        120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (msg == NULL || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS ||
        p.seen != frames) {
      g_printerr ("'%s' failed\n", desc);
      exit (1);
    }
    gst_message_unref (msg);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
    g_free (desc);
    bench_series_add (&series, (p.t_last - p.t_first) /
        (gdouble) (frames - TIMED_FROM));
  }
  median = bench_series_median (&series);
  *min = bench_series_min (&series);
  *max = bench_series_max (&series);
  bench_series_clear (&series);
  return median;
}

/* memmapsrc ! fakesink with the engine's window-size raised to BIG_WINDOW
 * (the whole store in one window): what is left of the per-frame cost
 * once no window is mapped or looked up on the way. One pass with fresh
 * mappings and looping, µs per frame, medians of @runs. */
#define BIG_WINDOW (G_GUINT64_CONSTANT (1) << 30)

static void
bench_big_window (const Resolution * res, const gchar * dir, guint frames,
    guint runs, SeqResult * out)
{
  GstMemmapEngine *engine = gst_memmap_engine_get_default ();
  BenchSeries pass;
  guint64 old_window;
  gdouble mn, mx;
  guint r;

  g_object_get (engine, "window-size", &old_window, NULL);
  g_object_set (engine, "window-size", BIG_WINDOW, NULL);
  bench_series_init (&pass, "pass", runs);
  for (r = 0; r < runs; r++) {
    gdouble fps, faults;
    glong major;
    guint64 xor;

    run_contender (res, CONTENDER_MEMMAPSRC, TOUCH_NONE, dir, &fps, &faults,
        &major, &xor);
    bench_series_add (&pass, 1e6 / fps);
  }
  out->big_pass_us = bench_series_median (&pass);
  bench_series_clear (&pass);
  out->big_loop_us = bench_loop (res, frames, runs, &mn, &mx);
  g_object_set (engine, "window-size", old_window, NULL);
  gst_memmap_engine_clear_all (engine);
}

/* ------------------------------------------------------------------------ */
/* random access                                                            */

typedef struct
{
  GMutex lock;
  gint64 arrived;               /* monotonic µs of the first buffer, or 0 */
  GstClockTime pts;
} Arrival;

static GstPadProbeReturn
on_arrival (GstPad * pad, GstPadProbeInfo * info, Arrival * a)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&a->lock);
  if (a->arrived == 0) {
    a->arrived = now;
    a->pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
  }
  g_mutex_unlock (&a->lock);
  return GST_PAD_PROBE_OK;
}

/* Median seconds from a flushing accurate seek to a random frame until its
 * buffer reaches the sink; the same frames for every caller (@seed). */
static gdouble
bench_seeks (const gchar * desc, guint frames, guint n_seeks, guint32 seed,
    gdouble * min, gdouble * max)
{
  GstElement *pipeline = launch (desc);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  GRand *rand = g_rand_new_with_seed (seed);
  BenchSeries series;
  Arrival a;
  GstClockTime base;
  gdouble median;
  guint i;

  g_mutex_init (&a.lock);
  a.arrived = 0;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
      (GstPadProbeCallback) on_arrival, &a, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);

  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  if (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND) !=
      GST_STATE_CHANGE_SUCCESS) {
    g_printerr ("'%s' did not preroll\n", desc);
    exit (1);
  }

  /* the first frame's timestamp: qtdemux shifts the decoder's by the
   * B-frame delay (and the seek with them), memmapsrc's is 0 */
  base = a.pts;
  if (!GST_CLOCK_TIME_IS_VALID (base)) {
    g_printerr ("'%s': the first frame has no timestamp\n", desc);
    exit (1);
  }

  bench_series_init (&series, "seek", n_seeks);
  for (i = 0; i < n_seeks; i++) {
    guint frame = g_rand_int_range (rand, 0, frames);
    GstClockTime start_pts = gst_util_uint64_scale (frame, GST_SECOND, 30);
    GstClockTime target;
    gint64 start;

    /* the middle of the frame; qtdemux takes seek positions without the
     * shift of its timestamps */
    target = start_pts + GST_SECOND / 60;
    g_mutex_lock (&a.lock);
    a.arrived = 0;
    g_mutex_unlock (&a.lock);
    start = g_get_monotonic_time ();
    if (!gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME,
            GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET,
            target, GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE)) {
      g_printerr ("'%s': seek to frame %u failed\n", desc, frame);
      exit (1);
    }
    /* prerolled again: the frame arrived */
    if (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND) !=
        GST_STATE_CHANGE_SUCCESS) {
      g_printerr ("'%s': no preroll after the seek to frame %u\n", desc, frame);
      exit (1);
    }
    g_mutex_lock (&a.lock);
    /* the frame that holds the target (maybe clipped to it), not the
     * keyframe before it; rawvideoparse's timestamps are rounded down by
     * a few ns */
    if (a.arrived == 0 || !GST_CLOCK_TIME_IS_VALID (a.pts) ||
        a.pts + GST_MSECOND < base + start_pts ||
        a.pts >= base + gst_util_uint64_scale (frame + 1, GST_SECOND, 30)) {
      g_printerr ("'%s': the seek to frame %u (%" GST_TIME_FORMAT ") gave "
          "a buffer at %" GST_TIME_FORMAT "\n", desc, frame,
          GST_TIME_ARGS (start_pts), GST_TIME_ARGS (a.pts));
      exit (1);
    }
    bench_series_add (&series, (a.arrived - start) / 1e6);
    g_mutex_unlock (&a.lock);
  }

  median = bench_series_median (&series);
  *min = bench_series_min (&series);
  *max = bench_series_max (&series);
  bench_series_clear (&series);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_mutex_clear (&a.lock);
  g_rand_free (rand);
  return median;
}

/* ------------------------------------------------------------------------ */

int
main (int argc, char **argv)
{
  Resolution res[] = {
    {"1080p", 1920, 1080, 0,},
    {"4K", 3840, 2160, 0,},
  };
  SeqResult seq[G_N_ELEMENTS (res)];
  gdouble loop_min[G_N_ELEMENTS (res)], loop_max[G_N_ELEMENTS (res)];
  gdouble seek_src = 0, seek_dec = 0, seek_4k = 0, mn, mx;
  guint runs, n_seeks, loop_frames, i;
  gchar *dir, *desc;

  gst_init (&argc, &argv);

  runs = MAX (1, bench_env_uint ("BENCH_RUNS", 7));
  n_seeks = MAX (1, bench_env_uint ("BENCH_SEEKS", 100));
  loop_frames = MAX (2, bench_env_uint ("BENCH_LOOP_FRAMES", 3000));
  res[0].frames = MAX (2, bench_env_uint ("BENCH_FRAMES_1080P", 300));
  res[1].frames = MAX (2, bench_env_uint ("BENCH_FRAMES_4K", 75));
  dir = bench_make_tmpdir ();

  for (i = 0; i < G_N_ELEMENTS (res); i++) {
    make_inputs (&res[i], dir, i == 0);
    bench_sequential (&res[i], runs, dir, &seq[i]);
    seq[i].loop_us = bench_loop (&res[i], loop_frames, runs, &loop_min[i],
        &loop_max[i]);
    bench_big_window (&res[i], dir, loop_frames, runs, &seq[i]);

    if (i == 0) {
      g_print ("\n%s: %u random flushing accurate seeks, from the seek to "
          "the frame at the sink (us)\n", res[i].name, n_seeks);
      g_print ("  %-16s %11s %11s %11s\n", "contender", "median", "min", "max");
      desc = g_strdup_printf ("memmapsrc location=%s ! fakesink name=sink "
          "sync=false", res[i].store);
      seek_src = bench_seeks (desc, res[i].frames, n_seeks, 42, &mn, &mx);
      g_free (desc);
      g_print ("  %-16s %11.1f %11.1f %11.1f\n", "memmapsrc", seek_src * 1e6,
          mn * 1e6, mx * 1e6);
      desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
          "avdec_h264 ! fakesink name=sink sync=false", res[i].mp4);
      seek_dec = bench_seeks (desc, res[i].frames, n_seeks, 42, &mn, &mx);
      g_free (desc);
      g_print ("  %-16s %11.1f %11.1f %11.1f\n", "avdec_h264", seek_dec * 1e6,
          mn * 1e6, mx * 1e6);
      g_print ("  ratio: avdec_h264/memmapsrc %.0fx\n", seek_dec / seek_src);
    } else {
      desc = g_strdup_printf ("memmapsrc location=%s ! fakesink name=sink "
          "sync=false", res[i].store);
      seek_4k = bench_seeks (desc, res[i].frames, n_seeks, 42, &mn, &mx);
      g_free (desc);
      g_print ("\n%s: %u random flushing accurate seeks, from the seek to "
          "the frame at the sink (us)\n", res[i].name, n_seeks);
      g_print ("  %-16s %11s %11s %11s\n", "contender", "median", "min", "max");
      g_print ("  %-16s %11.1f %11.1f %11.1f\n", "memmapsrc", seek_4k * 1e6,
          mn * 1e6, mx * 1e6);
    }
    free_inputs (&res[i]);
    gst_memmap_engine_clear_all (gst_memmap_engine_get_default ());
  }
  bench_remove_tree (dir);
  g_free (dir);

  g_print ("\nmemmapsrc ! fakesink, us per frame (4K / 1080p)\n");
  g_print ("  %-28s %9s %9s %9s\n", "case", "1080p", "4K", "4K/1080p");
  g_print ("  %-28s %9.2f %9.2f %8.2fx\n", "one pass, fresh mappings",
      seq[0].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC],
      seq[1].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC],
      seq[1].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC] /
      seq[0].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC]);
  g_print ("  %-28s %9.2f %9.2f %8.2fx\n", "one pass, warm mappings",
      seq[0].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC_WARM],
      seq[1].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC_WARM],
      seq[1].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC_WARM] /
      seq[0].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC_WARM]);
  g_print ("  %-28s %9.2f %9.2f %8.2fx   (%u frames; min..max %.2f..%.2f, "
      "%.2f..%.2f)\n", "loop=true", seq[0].loop_us, seq[1].loop_us,
      seq[1].loop_us / seq[0].loop_us, loop_frames, loop_min[0], loop_max[0],
      loop_min[1], loop_max[1]);
  g_print ("  %-28s %9.2f %9.2f %8.2fx\n", "one pass, 1 GiB window",
      seq[0].big_pass_us, seq[1].big_pass_us,
      seq[1].big_pass_us / seq[0].big_pass_us);
  g_print ("  %-28s %9.2f %9.2f %8.2fx\n", "loop=true, 1 GiB window",
      seq[0].big_loop_us, seq[1].big_loop_us,
      seq[1].big_loop_us / seq[0].big_loop_us);

  g_print ("\nmemmapsrc-vs-filesrc: untouched %.1fx (1080p) %.1fx (4K) "
      "[target 20x]; every byte read %.2fx (1080p) %.2fx (4K) "
      "[target 1.5x]; 4K/1080p per frame %.2fx (one pass) %.2fx (loop) "
      "[target <= 1.2x]; random frame %.0fx faster than avdec_h264 "
      "[target 1000x]\n",
      seq[0].fps[TOUCH_NONE][CONTENDER_MEMMAPSRC] /
      seq[0].fps[TOUCH_NONE][CONTENDER_FILESRC],
      seq[1].fps[TOUCH_NONE][CONTENDER_MEMMAPSRC] /
      seq[1].fps[TOUCH_NONE][CONTENDER_FILESRC],
      seq[0].fps[TOUCH_READ][CONTENDER_MEMMAPSRC] /
      seq[0].fps[TOUCH_READ][CONTENDER_FILESRC],
      seq[1].fps[TOUCH_READ][CONTENDER_MEMMAPSRC] /
      seq[1].fps[TOUCH_READ][CONTENDER_FILESRC],
      seq[1].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC] /
      seq[0].pass_us[TOUCH_NONE][CONTENDER_MEMMAPSRC],
      seq[1].loop_us / seq[0].loop_us, seek_dec / seek_src);
  return 0;
}
