/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap-demo: the same frame processing (GRAY8 conversion and a Sobel
 * edge filter written in C over the frame bytes), several passes over a
 * video, done two ways:
 *
 * - traditionally: every pass decodes the video again
 *   (uridecodebin ! videoconvert ! GRAY8 ! fakesink, the filter in the
 *   sink's hand-off);
 * - through gst-memmap: every pass asks gst_memmap_map_video_frames() for
 *   the frames; the first pass decodes them once into memmapcache's cache,
 *   the others read the cache in place, decoding and copying nothing.
 *
 * Each pass runs in its own process, which samples its RssAnon and RssFile
 * (/proc/self/status) every 2 ms; the demo prints a table (time per pass,
 * frames/s, frames decoded and copied, peak anonymous and file-backed
 * memory, cache hits), the ratios, and draws a PNG chart of time and peak
 * memory per pass with cairo.
 *
 * With no VIDEO it makes its own clip once (1080p H.264, videotestsrc !
 * x264enc ! mp4mux) under $XDG_CACHE_HOME/gst-memmap-demo and reuses it.
 *
 *   gst-memmap-demo [VIDEO] [--frames N] [--size WxH] [--passes P]
 *       [--chart FILE.png] [--no-chart] [--keep-cache]
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/memmap/memmap.h>
#include <gst/video/video.h>

#include <glib/gstdio.h>

#ifdef HAVE_CAIRO
#include <cairo.h>
#endif

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FRAMES 300
#define DEFAULT_WIDTH 1920
#define DEFAULT_HEIGHT 1080
#define DEFAULT_PASSES 3
#define DEFAULT_CHART "gst-memmap-demo.png"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* ------------------------------------------------------------------------ */
/* the frame processing: the same C code in both ways                       */

/* Sobel gradient magnitude (|gx| + |gy|, saturated) of a GRAY8 frame into
 * @dst; returns the sum of the output, to compare the two ways. */
static guint64
sobel (const guint8 * src, gint stride, gint width, gint height,
    guint8 * dst)
{
  guint64 sum = 0;
  gint x, y;

  for (y = 1; y < height - 1; y++) {
    const guint8 *a = src + (gsize) (y - 1) * stride;
    const guint8 *b = src + (gsize) y * stride;
    const guint8 *c = src + (gsize) (y + 1) * stride;
    guint8 *out = dst + (gsize) y * width;

    for (x = 1; x < width - 1; x++) {
      gint gx = (a[x + 1] + 2 * b[x + 1] + c[x + 1]) -
          (a[x - 1] + 2 * b[x - 1] + c[x - 1]);
      gint gy = (c[x - 1] + 2 * c[x] + c[x + 1]) -
          (a[x - 1] + 2 * a[x] + a[x + 1]);
      gint m = ABS (gx) + ABS (gy);

      out[x] = m > 255 ? 255 : m;
      sum += out[x];
    }
  }
  return sum;
}

/* ------------------------------------------------------------------------ */
/* memory, sampled while a pass runs                                        */

typedef struct
{
  GThread *thread;
  gint stop;
  guint64 peak_anon;            /* bytes */
  guint64 peak_file;
  guint64 peak_total;
} Sampler;

static gboolean
read_status (guint64 * anon, guint64 * file, guint64 * hwm)
{
  gchar buf[4096];
  FILE *f = fopen ("/proc/self/status", "r");
  gboolean ok = FALSE;

  if (f == NULL)
    return FALSE;
  *anon = *file = 0;
  if (hwm)
    *hwm = 0;
  while (fgets (buf, sizeof (buf), f)) {
    unsigned long long kb;

    if (sscanf (buf, "RssAnon: %llu kB", &kb) == 1) {
      *anon = kb * 1024;
      ok = TRUE;
    } else if (sscanf (buf, "RssFile: %llu kB", &kb) == 1) {
      *file = kb * 1024;
    } else if (hwm && sscanf (buf, "VmHWM: %llu kB", &kb) == 1) {
      *hwm = kb * 1024;
    }
  }
  fclose (f);
  return ok;
}

static void
sampler_sample (Sampler * s)
{
  guint64 anon, file;

  if (!read_status (&anon, &file, NULL))
    return;
  s->peak_anon = MAX (s->peak_anon, anon);
  s->peak_file = MAX (s->peak_file, file);
  s->peak_total = MAX (s->peak_total, anon + file);
}

static gpointer
sampler_thread (gpointer data)
{
  Sampler *s = data;

  while (!g_atomic_int_get (&s->stop)) {
    sampler_sample (s);
    g_usleep (2000);
  }
  return NULL;
}

static void
sampler_start (Sampler * s)
{
  memset (s, 0, sizeof (*s));
  sampler_sample (s);
  s->thread = g_thread_new ("rss-sampler", sampler_thread, s);
}

static void
sampler_stop (Sampler * s)
{
  sampler_sample (s);
  g_atomic_int_set (&s->stop, 1);
  g_thread_join (s->thread);
}

/* ------------------------------------------------------------------------ */
/* one pass, in a child process                                             */

typedef struct
{
  guint64 frames;
  guint64 decoded;
  guint64 copied;
  guint64 hits;
  guint64 sum;
  gdouble seconds;
} PassResult;

typedef struct
{
  GMutex lock;
  guint64 want;
  guint64 frames;
  guint64 decoded;
  guint64 sum;
  guint8 *out;
  gsize out_size;
  GstElement *pipeline;
  gboolean done;
} Traditional;

static void
trad_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad,
    Traditional * t)
{
  GstCaps *caps;
  GstVideoInfo info;
  GstVideoFrame frame;

  if (t->done)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL || !gst_video_info_from_caps (&info, caps)) {
    gst_clear_caps (&caps);
    return;
  }
  gst_caps_unref (caps);
  if (!gst_video_frame_map (&frame, &info, buf, GST_MAP_READ))
    return;
  if (t->out_size < (gsize) info.width * info.height) {
    g_free (t->out);
    t->out_size = (gsize) info.width * info.height;
    t->out = g_malloc0 (t->out_size);
  }
  t->sum += sobel (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0),
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), info.width, info.height,
      t->out);
  gst_video_frame_unmap (&frame);
  if (++t->frames == t->want) {
    t->done = TRUE;
    gst_element_post_message (t->pipeline,
        gst_message_new_application (GST_OBJECT (t->pipeline),
            gst_structure_new_empty ("demo-done")));
  }
}

static GstPadProbeReturn
trad_decoded (GstPad * pad, GstPadProbeInfo * info, Traditional * t)
{
  g_mutex_lock (&t->lock);
  t->decoded++;
  g_mutex_unlock (&t->lock);
  return GST_PAD_PROBE_OK;
}

static void
trad_element_added (GstBin * bin, GstBin * sub, GstElement * element,
    Traditional * t)
{
  GstElementFactory *f = gst_element_get_factory (element);
  const gchar *klass = f ? gst_element_factory_get_metadata (f,
      GST_ELEMENT_METADATA_KLASS) : NULL;
  GstPad *src;

  if (klass == NULL || !strstr (klass, "Decoder") || !strstr (klass, "Video"))
    return;
  src = gst_element_get_static_pad (element, "src");
  if (src) {
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) trad_decoded, t, NULL);
    gst_object_unref (src);
  }
}

static gboolean
run_traditional (const gchar * clip, guint64 want, PassResult * r,
    GError ** error)
{
  Traditional t = { 0, };
  GstElement *sink;
  GstBus *bus;
  GstMessage *msg;
  gchar *uri, *desc;
  gint64 t0;
  gboolean ok = TRUE;

  g_mutex_init (&t.lock);
  t.want = want;
  uri = gst_uri_is_valid (clip) ? g_strdup (clip) :
      gst_filename_to_uri (clip, NULL);
  desc = g_strdup_printf ("uridecodebin uri=\"%s\" ! videoconvert ! "
      "video/x-raw,format=GRAY8 ! fakesink name=sink sync=false "
      "signal-handoffs=true", uri);
  g_free (uri);

  t0 = g_get_monotonic_time ();
  t.pipeline = gst_parse_launch (desc, error);
  g_free (desc);
  if (t.pipeline == NULL)
    return FALSE;
  g_signal_connect (t.pipeline, "deep-element-added",
      G_CALLBACK (trad_element_added), &t);
  sink = gst_bin_get_by_name (GST_BIN (t.pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (trad_handoff), &t);
  gst_object_unref (sink);

  bus = gst_element_get_bus (t.pipeline);
  gst_element_set_state (t.pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_APPLICATION);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, error, NULL);
    ok = FALSE;
  }
  gst_message_unref (msg);
  gst_element_set_state (t.pipeline, GST_STATE_NULL);
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  gst_object_unref (bus);
  gst_object_unref (t.pipeline);

  r->frames = t.frames;
  r->decoded = t.decoded;
  /* each frame converted into a new GRAY8 buffer by videoconvert */
  r->copied = t.frames;
  r->hits = 0;
  r->sum = t.sum;
  g_free (t.out);
  g_mutex_clear (&t.lock);
  return ok;
}

static gboolean
run_memmap (const gchar * clip, guint64 want, const gchar * cache_dir,
    PassResult * r, GError ** error)
{
  GstMemmapFrames *frames;
  GstStructure *stats;
  guint8 *out = NULL;
  guint64 v;
  gint64 t0;
  guint i, n;
  gint w, h, stride;

  t0 = g_get_monotonic_time ();
  frames = gst_memmap_map_video_frames_full (gst_memmap_engine_get_default (),
      clip, 0, want, "GRAY8", cache_dir, error);
  if (frames == NULL)
    return FALSE;
  n = gst_memmap_frames_get_n_frames (frames);
  w = gst_memmap_frames_get_width (frames);
  h = gst_memmap_frames_get_height (frames);
  stride = gst_memmap_frames_get_plane_stride (frames, 0);
  out = g_malloc0 ((gsize) w * h);
  r->sum = 0;
  for (i = 0; i < n; i++) {
    const guint8 *y = gst_memmap_frames_get_data (frames, i) +
        gst_memmap_frames_get_plane_offset (frames, 0);

    r->sum += sobel (y, stride, w, h, out);
  }
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;

  stats = gst_memmap_frames_get_stats (frames);
  r->frames = n;
  r->decoded = gst_structure_get_uint64 (stats, "decoded-frames", &v) ? v : 0;
  /* frames written into new memory: converted into the cache when they
   * were recorded, or copied out of it */
  r->copied = 0;
  if (gst_structure_get_uint64 (stats, "frames-recorded", &v))
    r->copied += v;
  if (gst_structure_get_uint64 (stats, "frames-copied", &v))
    r->copied += v;
  r->hits = gst_structure_get_uint64 (stats, "cache-hits", &v) ? v : 0;
  gst_structure_free (stats);
  g_free (out);
  g_object_unref (frames);
  return TRUE;
}

static gint
child_main (const gchar * mode, const gchar * clip, guint64 frames,
    const gchar * cache_dir)
{
  PassResult r = { 0, };
  GError *error = NULL;
  Sampler s;
  guint64 anon, file, hwm = 0;
  gboolean ok;

  sampler_start (&s);
  if (strcmp (mode, "traditional") == 0)
    ok = run_traditional (clip, frames, &r, &error);
  else
    ok = run_memmap (clip, frames, cache_dir, &r, &error);
  sampler_stop (&s);
  read_status (&anon, &file, &hwm);

  if (!ok) {
    g_printerr ("gst-memmap-demo: %s\n", error ? error->message : "failed");
    g_clear_error (&error);
    return EXIT_FAIL;
  }
  g_print ("RESULT seconds=%.6f frames=%" G_GUINT64_FORMAT " decoded=%"
      G_GUINT64_FORMAT " copied=%" G_GUINT64_FORMAT " hits=%" G_GUINT64_FORMAT
      " sum=%" G_GUINT64_FORMAT " anon=%" G_GUINT64_FORMAT " file=%"
      G_GUINT64_FORMAT " hwm=%" G_GUINT64_FORMAT "\n", r.seconds, r.frames,
      r.decoded, r.copied, r.hits, r.sum, s.peak_anon, s.peak_file, hwm);
  return EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* the parent: clip, passes, table, chart                                   */

typedef struct
{
  PassResult r;
  guint64 peak_anon;
  guint64 peak_file;
} Pass;

static gboolean
make_clip (const gchar * path, guint64 frames, gint width, gint height,
    GError ** error)
{
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  gchar *tmp, *desc;
  gboolean ok = TRUE;

  tmp = g_strdup_printf ("%s.tmp-%u", path, (guint) getpid ());
  /* moving bars with edges for the filter; x264's fast preset keeps the
   * one-time encoding short */
  desc = g_strdup_printf ("videotestsrc num-buffers=%" G_GUINT64_FORMAT
      " pattern=smpte horizontal-speed=4 ! video/x-raw,format=I420,"
      "width=%d,height=%d,framerate=30/1 ! x264enc speed-preset=veryfast "
      "key-int-max=60 bframes=2 ! mp4mux ! filesink location=\"%s\"",
      frames, width, height, tmp);
  pipeline = gst_parse_launch (desc, error);
  g_free (desc);
  if (pipeline == NULL) {
    g_free (tmp);
    return FALSE;
  }
  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, error, NULL);
    ok = FALSE;
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  if (ok && g_rename (tmp, path) < 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "Could not rename '%s' to '%s': %s", tmp, path, g_strerror (errno));
    ok = FALSE;
  }
  if (!ok)
    g_unlink (tmp);
  g_free (tmp);
  return ok;
}

static guint64
parse_field (const gchar * line, const gchar * name)
{
  gchar *key = g_strdup_printf (" %s=", name);
  const gchar *p = strstr (line, key);
  guint64 v = 0;

  if (p)
    v = g_ascii_strtoull (p + strlen (key), NULL, 10);
  g_free (key);
  return v;
}

static gboolean
run_child (const gchar * self, const gchar * mode, const gchar * clip,
    guint64 frames, const gchar * cache_dir, Pass * pass)
{
  gchar *frames_str = g_strdup_printf ("%" G_GUINT64_FORMAT, frames);
  const gchar *argv[] = { self, "--child", mode, "--clip", clip, "--frames",
    frames_str, "--cache-dir", cache_dir, NULL
  };
  gchar *out = NULL, *err = NULL, *line;
  GError *error = NULL;
  gint status;
  gboolean ok;

  ok = g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL,
      NULL, &out, &err, &status, &error);
  g_free (frames_str);
  if (!ok) {
    g_printerr ("gst-memmap-demo: %s\n", error->message);
    g_clear_error (&error);
    return FALSE;
  }
  line = out ? strstr (out, "RESULT ") : NULL;
  if (!g_spawn_check_wait_status (status, NULL) || line == NULL) {
    g_printerr ("%s", err ? err : "");
    g_printerr ("gst-memmap-demo: the %s pass failed\n", mode);
    g_free (out);
    g_free (err);
    return FALSE;
  }
  pass->r.seconds = g_ascii_strtod (strstr (line, "seconds=") + 8, NULL);
  pass->r.frames = parse_field (line, "frames");
  pass->r.decoded = parse_field (line, "decoded");
  pass->r.copied = parse_field (line, "copied");
  pass->r.hits = parse_field (line, "hits");
  pass->r.sum = parse_field (line, "sum");
  pass->peak_anon = parse_field (line, "anon");
  pass->peak_file = parse_field (line, "file");
  g_free (out);
  g_free (err);
  return TRUE;
}

static gdouble
mb (guint64 bytes)
{
  return bytes / 1e6;
}

static void
print_row (const gchar * method, guint p, const Pass * x)
{
  g_print ("%-12s %4u %9.3f %9.1f %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT
      " %10.1f %10.1f %5" G_GUINT64_FORMAT "\n", method, p, x->r.seconds,
      x->r.seconds > 0 ? x->r.frames / x->r.seconds : 0.0, x->r.decoded,
      x->r.copied, mb (x->peak_anon), mb (x->peak_file), x->r.hits);
}

#ifdef HAVE_CAIRO
static void
set_rgb (cairo_t * cr, guint32 rgb)
{
  cairo_set_source_rgb (cr, ((rgb >> 16) & 0xff) / 255.0,
      ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0);
}

static void
text_at (cairo_t * cr, gdouble x, gdouble y, gdouble size, gdouble align,
    const gchar * text)
{
  cairo_text_extents_t ext;

  cairo_set_font_size (cr, size);
  cairo_text_extents (cr, text, &ext);
  cairo_move_to (cr, x - align * ext.x_advance, y);
  cairo_show_text (cr, text);
}

/* A "nice" axis maximum: 1, 2 or 5 times a power of ten, above @v. */
static gdouble
nice_max (gdouble v, gdouble * step)
{
  gdouble p = 1e-6, m;

  if (v <= 0)
    v = 1;
  while (p * 10 <= v)
    p *= 10;
  while (p > v)
    p /= 10;
  for (m = p;; m += p) {
    if (m >= v * 1.05)
      break;
  }
  *step = p * ((m / p) > 5 ? 2 : 1);
  if (m / *step > 6)
    *step *= 2;
  return m;
}

typedef struct
{
  gdouble x, y, w, h;           /* plot area */
  gdouble max, step;
} Panel;

static void
panel_axes (cairo_t * cr, Panel * pl, const gchar * title, gint decimals)
{
  gdouble v;
  gchar label[64];

  set_rgb (cr, 0x222222);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_BOLD);
  text_at (cr, pl->x + pl->w / 2, pl->y - 16, 15, 0.5, title);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_line_width (cr, 1);
  for (v = 0; v <= pl->max + pl->step / 1000; v += pl->step) {
    gdouble y = pl->y + pl->h - v / pl->max * pl->h;

    set_rgb (cr, 0xdddddd);
    cairo_move_to (cr, pl->x, y + 0.5);
    cairo_line_to (cr, pl->x + pl->w, y + 0.5);
    cairo_stroke (cr);
    set_rgb (cr, 0x444444);
    g_snprintf (label, sizeof (label), "%.*f", decimals, v);
    text_at (cr, pl->x - 6, y + 4, 11, 1.0, label);
  }
  set_rgb (cr, 0x444444);
  cairo_move_to (cr, pl->x + 0.5, pl->y);
  cairo_line_to (cr, pl->x + 0.5, pl->y + pl->h + 0.5);
  cairo_line_to (cr, pl->x + pl->w, pl->y + pl->h + 0.5);
  cairo_stroke (cr);
}

static void
bar (cairo_t * cr, Panel * pl, gdouble x, gdouble w, gdouble from,
    gdouble to, guint32 rgb)
{
  gdouble y0 = pl->y + pl->h - from / pl->max * pl->h;
  gdouble y1 = pl->y + pl->h - to / pl->max * pl->h;

  set_rgb (cr, rgb);
  cairo_rectangle (cr, x, y1, w, y0 - y1);
  cairo_fill (cr);
}

#define C_TRAD 0x4c72b0
#define C_TRAD_FILE 0xa9bddf
#define C_MM 0xdd8452
#define C_MM_FILE 0xf2c4a6

static gboolean
draw_chart (const gchar * path, const gchar * title, guint passes,
    const Pass * trad, const Pass * mm, GError ** error)
{
  const gint W = 1000, H = 540;
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_status_t st;
  Panel tp = { 70, 90, 380, 360, 0, 0 }, mp = { 580, 90, 380, 360, 0, 0 };
  gdouble tmax = 0, mmax = 0, gw, bw;
  gchar label[64];
  guint p;

  for (p = 0; p < passes; p++) {
    tmax = MAX (tmax, MAX (trad[p].r.seconds, mm[p].r.seconds));
    mmax = MAX (mmax, MAX (mb (trad[p].peak_anon + trad[p].peak_file),
            mb (mm[p].peak_anon + mm[p].peak_file)));
  }
  tp.max = nice_max (tmax, &tp.step);
  mp.max = nice_max (mmax, &mp.step);

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
  cr = cairo_create (surface);
  set_rgb (cr, 0xffffff);
  cairo_paint (cr);

  set_rgb (cr, 0x111111);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_BOLD);
  text_at (cr, W / 2.0, 30, 18, 0.5, "gst-memmap demo: the same filter, "
      "decoding every pass vs decoded once");
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_NORMAL);
  set_rgb (cr, 0x555555);
  text_at (cr, W / 2.0, 52, 12, 0.5, title);

  panel_axes (cr, &tp, "Time per pass (s)", tp.step < 0.1 ? 2 :
      tp.step < 1 ? 1 : 0);
  panel_axes (cr, &mp, "Peak memory per pass (MB)", mp.step < 1 ? 1 : 0);

  gw = tp.w / passes;
  bw = gw * 0.32;
  for (p = 0; p < passes; p++) {
    gdouble gx = tp.x + p * gw + gw * 0.18;

    bar (cr, &tp, gx, bw, 0, trad[p].r.seconds, C_TRAD);
    bar (cr, &tp, gx + bw, bw, 0, mm[p].r.seconds, C_MM);
    set_rgb (cr, 0x333333);
    g_snprintf (label, sizeof (label), "%.2f", trad[p].r.seconds);
    text_at (cr, gx + bw / 2, tp.y + tp.h - trad[p].r.seconds / tp.max *
        tp.h - 4, 10, 0.5, label);
    g_snprintf (label, sizeof (label), "%.2f", mm[p].r.seconds);
    text_at (cr, gx + 1.5 * bw, tp.y + tp.h - mm[p].r.seconds / tp.max *
        tp.h - 4, 10, 0.5, label);
    g_snprintf (label, sizeof (label), "pass %u", p + 1);
    text_at (cr, gx + bw, tp.y + tp.h + 18, 12, 0.5, label);

    gx = mp.x + p * gw + gw * 0.18;
    bar (cr, &mp, gx, bw, 0, mb (trad[p].peak_anon), C_TRAD);
    bar (cr, &mp, gx, bw, mb (trad[p].peak_anon),
        mb (trad[p].peak_anon + trad[p].peak_file), C_TRAD_FILE);
    bar (cr, &mp, gx + bw, bw, 0, mb (mm[p].peak_anon), C_MM);
    bar (cr, &mp, gx + bw, bw, mb (mm[p].peak_anon),
        mb (mm[p].peak_anon + mm[p].peak_file), C_MM_FILE);
    set_rgb (cr, 0x333333);
    g_snprintf (label, sizeof (label), "pass %u", p + 1);
    text_at (cr, gx + bw, mp.y + mp.h + 18, 12, 0.5, label);
  }

  /* legend */
  {
    const struct
    {
      guint32 rgb;
      const gchar *text;
    } items[] = {
      {C_TRAD, "decode every pass (anonymous memory)"},
      {C_TRAD_FILE, "decode every pass, file-backed"},
      {C_MM, "gst-memmap (anonymous memory)"},
      {C_MM_FILE, "gst-memmap, file-backed (the shared cache)"},
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS (items); i++) {
      gdouble x = 70 + (i % 2) * 460, y = 490 + (i / 2) * 22;

      set_rgb (cr, items[i].rgb);
      cairo_rectangle (cr, x, y - 11, 14, 14);
      cairo_fill (cr);
      set_rgb (cr, 0x333333);
      text_at (cr, x + 20, y, 12, 0.0, items[i].text);
    }
  }

  cairo_destroy (cr);
  st = cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "Could not write the chart '%s': %s", path,
        cairo_status_to_string (st));
    return FALSE;
  }
  return TRUE;
}
#endif

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir == NULL) {
    g_unlink (path);
    return;
  }
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *child = g_build_filename (path, name, NULL);

    remove_tree (child);
    g_free (child);
  }
  g_dir_close (dir);
  g_rmdir (path);
}

static gdouble
mean_seconds (const Pass * passes, guint from, guint to)
{
  gdouble s = 0;
  guint p;

  for (p = from; p < to; p++)
    s += passes[p].r.seconds;
  return to > from ? s / (to - from) : 0;
}

/* The video to process: @arg, or without it the demo's own clip, made
 * once in the user's cache directory; NULL (said on stderr) if it cannot
 * be opened or made. */
static gchar *
find_clip (const gchar * arg, gint64 frames, gint width, gint height)
{
  GError *error = NULL;
  gchar *clip;

  if (arg != NULL) {
    clip = g_strdup (arg);
    if (!gst_uri_is_valid (clip) && !g_file_test (clip,
            G_FILE_TEST_IS_REGULAR)) {
      g_printerr ("gst-memmap-demo: cannot open '%s': %s\n", clip,
          g_strerror (errno ? errno : ENOENT));
      g_free (clip);
      return NULL;
    }
  } else {
    gchar *dir = g_build_filename (g_get_user_cache_dir (), "gst-memmap-demo",
        NULL);
    gchar *name = g_strdup_printf ("clip-%dx%d-%" G_GINT64_FORMAT ".mp4",
        width, height, frames);

    g_mkdir_with_parents (dir, 0700);
    clip = g_build_filename (dir, name, NULL);
    g_free (name);
    g_free (dir);
    if (!g_file_test (clip, G_FILE_TEST_IS_REGULAR)) {
      g_print ("Making the demo clip once (%" G_GINT64_FORMAT " frames of "
          "%dx%d H.264): %s\n", frames, width, height, clip);
      if (!make_clip (clip, frames, width, height, &error)) {
        g_printerr ("gst-memmap-demo: could not make the clip: %s\n",
            error->message);
        g_clear_error (&error);
        g_free (clip);
        return NULL;
      }
    }
  }

  return clip;
}

/* A new cache directory for the gst-memmap passes in *@cache_dir (set
 * even when it could not be made); FALSE, said on stderr, then. */
static gboolean
make_cache_dir (gchar ** cache_dir)
{
  gchar *base = g_build_filename (g_get_user_cache_dir (),
      "gst-memmap-demo", NULL);

  g_mkdir_with_parents (base, 0700);
  *cache_dir = g_build_filename (base, "cache-XXXXXX", NULL);
  g_free (base);
  if (g_mkdtemp (*cache_dir) == NULL) {
    g_printerr ("gst-memmap-demo: could not make '%s': %s\n", *cache_dir,
        g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* The table of the passes and the ratios; whether both ways gave the same
 * results. */
static gboolean
print_results (const Pass * trad, const Pass * mm, guint passes)
{
  gdouble t_trad, t_mm1, t_mm;
  guint64 anon_trad = 0, anon_mm = 0;
  gboolean same = TRUE;
  guint p;

  g_print ("\n%-12s %4s %9s %9s %8s %7s %10s %10s %5s\n", "method", "pass",
      "time (s)", "frames/s", "decoded", "copied", "anon (MB)", "file (MB)",
      "hits");
  for (p = 0; p < passes; p++)
    print_row ("traditional", p + 1, &trad[p]);
  for (p = 0; p < passes; p++)
    print_row ("gst-memmap", p + 1, &mm[p]);
  g_print ("(anon, file: peak RssAnon and RssFile of the pass's process; "
      "file-backed pages are the\n shared, reclaimable page cache of the "
      "frame store. decoded: frames out of the decoder;\n copied: frames "
      "written into new memory, by videoconvert or into the cache)\n\n");

  for (p = 0; p < passes; p++) {
    same = same && trad[p].r.sum == mm[p].r.sum &&
        trad[p].r.frames == mm[p].r.frames;
    anon_trad = MAX (anon_trad, trad[p].peak_anon);
    if (p > 0)
      anon_mm = MAX (anon_mm, mm[p].peak_anon);
  }
  t_trad = mean_seconds (trad, 0, passes);
  t_mm1 = mm[0].r.seconds;
  t_mm = mean_seconds (mm, 1, passes);
  g_print ("Results: %s (the filter's output sums of every pass %s)\n",
      same ? "identical" : "DIFFERENT", same ? "agree" : "disagree");
  g_print ("Ratio, time of a pass, traditional / gst-memmap after the first "
      "pass: %.1fx (%.3f s / %.3f s)\n", t_mm > 0 ? t_trad / t_mm : 0.0,
      t_trad, t_mm);
  g_print ("Ratio, first gst-memmap pass (decode + record) / traditional "
      "pass: %.2fx\n", t_trad > 0 ? t_mm1 / t_trad : 0.0);
  g_print ("Ratio, peak anonymous memory, traditional / gst-memmap after the "
      "first pass: %.1fx (%.1f MB / %.1f MB)\n", anon_mm > 0 ?
      (gdouble) anon_trad / anon_mm : 0.0, mb (anon_trad), mb (anon_mm));
  return same;
}

/* Draws the chart of the passes into @path (or says why it is not drawn);
 * FALSE when it could not be written. */
static gboolean
write_chart (const gchar * path, const gchar * clip, guint passes,
    const Pass * trad, const Pass * mm)
{
#ifdef HAVE_CAIRO
  GError *error = NULL;
  gchar *title = g_strdup_printf ("%s, %" G_GUINT64_FORMAT " frames a pass, "
      "GRAY8 + Sobel", clip, trad[0].r.frames);
  gchar *abs = g_canonicalize_filename (path, NULL);

  if (!draw_chart (path, title, passes, trad, mm, &error)) {
    g_printerr ("gst-memmap-demo: %s\n", error->message);
    g_clear_error (&error);
    g_free (title);
    g_free (abs);
    return FALSE;
  }
  g_print ("Chart: %s\n", abs);
  g_free (title);
  g_free (abs);
#else
  g_print ("Chart: not drawn (%s): gst-memmap-demo was built without "
      "cairo (libcairo2-dev)\n", path);
#endif
  return TRUE;
}

/* The usage errors of the command line, said on stderr; --size into
 * @width and @height. */
static gboolean
check_options (gint argc, gint64 frames, gint64 passes_opt,
    const gchar * size, gint * width, gint * height)
{
  if (argc > 2) {
    g_printerr ("gst-memmap-demo: expected at most one VIDEO (try --help)\n");
    return FALSE;
  }
  if (frames < 1 || passes_opt < 2 || passes_opt > 20) {
    g_printerr ("gst-memmap-demo: --frames must be at least 1 and --passes "
        "2 to 20\n");
    return FALSE;
  }
  if (size && (sscanf (size, "%dx%d", width, height) != 2 || *width < 16 ||
          *height < 16 || *width > 7680 || *height > 4320 || *width % 2 ||
          *height % 2)) {
    g_printerr ("gst-memmap-demo: --size: '%s' is not an even WxH between "
        "16x16 and 7680x4320\n", size);
    return FALSE;
  }
  return TRUE;
}

/* @passes passes of each way, each in a child process of its own: the
 * traditional ones first, then the gst-memmap ones (the first of which
 * fills the cache). */
static gboolean
run_passes (const gchar * self, const gchar * clip, gint64 frames,
    const gchar * cache_dir, guint passes, Pass * trad, Pass * mm)
{
  guint p;

  for (p = 0; p < passes; p++) {
    g_print ("  traditional pass %u...\n", p + 1);
    if (!run_child (self, "traditional", clip, frames, cache_dir, &trad[p]))
      return FALSE;
  }
  for (p = 0; p < passes; p++) {
    g_print ("  gst-memmap pass %u...\n", p + 1);
    if (!run_child (self, "memmap", clip, frames, cache_dir, &mm[p]))
      return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx;
  GError *error = NULL;
  gchar *size = NULL, *chart = NULL, *child = NULL, *clip_opt = NULL;
  gchar *cache_opt = NULL, *clip = NULL, *cache_dir = NULL, *self;
  gint64 frames = DEFAULT_FRAMES, passes_opt = DEFAULT_PASSES;
  gboolean no_chart = FALSE, keep_cache = FALSE;
  gint width = DEFAULT_WIDTH, height = DEFAULT_HEIGHT;
  Pass *trad = NULL, *mm = NULL;
  guint passes;
  gboolean same;
  gint ret = EXIT_FAIL;
  GOptionEntry entries[] = {
    {"frames", 'n', 0, G_OPTION_ARG_INT64, &frames,
        "Frames to process per pass (default 300)", "N"},
    {"size", 's', 0, G_OPTION_ARG_STRING, &size,
        "Size of the clip the demo makes (default 1920x1080)", "WxH"},
    {"passes", 'p', 0, G_OPTION_ARG_INT64, &passes_opt,
        "Passes of each way (default 3)", "P"},
    {"chart", 'c', 0, G_OPTION_ARG_FILENAME, &chart,
        "The PNG chart to write (default gst-memmap-demo.png)", "FILE.png"},
    {"no-chart", 0, 0, G_OPTION_ARG_NONE, &no_chart,
        "Draw no chart", NULL},
    {"keep-cache", 0, 0, G_OPTION_ARG_NONE, &keep_cache,
        "Keep the frame cache the gst-memmap passes made", NULL},
    {"child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &child, NULL,
        NULL},
    {"clip", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &clip_opt,
        NULL, NULL},
    {"cache-dir", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &cache_opt,
        NULL, NULL},
    {NULL}
  };

  setlocale (LC_ALL, "");
  ctx = g_option_context_new ("[VIDEO] - decode every pass, or decode once");
  g_option_context_set_summary (ctx,
      "Runs the same frame processing (GRAY8, a Sobel edge filter in C)\n"
      "several passes over a video: decoding it every pass, and through\n"
      "gst-memmap (gst_memmap_map_video_frames: decoded once into the\n"
      "memmapcache cache, then read in place). Prints a table of time,\n"
      "frames/s, frames decoded and copied, peak anonymous and file-backed\n"
      "memory and cache hits per pass, with the ratios, and draws a chart.\n"
      "Without VIDEO it makes a 1080p H.264 clip once and reuses it.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("gst-memmap-demo: %s (try --help)\n", error->message);
    g_clear_error (&error);
    g_option_context_free (ctx);
    return EXIT_USAGE;
  }
  g_option_context_free (ctx);

  gst_init (NULL, NULL);
  gst_memmap_init ();

  if (child) {
    if (clip_opt == NULL || cache_opt == NULL)
      return EXIT_USAGE;
    return child_main (child, clip_opt, frames, cache_opt);
  }

  if (!check_options (argc, frames, passes_opt, size, &width, &height))
    return EXIT_USAGE;
  passes = passes_opt;

  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL)
    self = g_strdup (argv[0]);

  clip = find_clip (argc == 2 ? argv[1] : NULL, frames, width, height);
  if (clip == NULL)
    goto out;

  if (!make_cache_dir (&cache_dir))
    goto out;

  g_print ("Video: %s\nProcessing: up to %" G_GINT64_FORMAT " frames a pass, "
      "GRAY8 + Sobel edge filter, %u passes each way, one process per pass\n",
      clip, frames, passes);

  trad = g_new0 (Pass, passes);
  mm = g_new0 (Pass, passes);
  if (!run_passes (self, clip, frames, cache_dir, passes, trad, mm))
    goto out;

  same = print_results (trad, mm, passes);

  if (!no_chart && !write_chart (chart ? chart : DEFAULT_CHART, clip, passes,
          trad, mm))
    goto out;
  ret = same ? EXIT_OK : EXIT_FAIL;

out:
  if (cache_dir) {
    if (keep_cache)
      g_print ("The frame cache: %s\n", cache_dir);
    else
      remove_tree (cache_dir);
  }
  g_free (trad);
  g_free (mm);
  g_free (cache_dir);
  g_free (clip);
  g_free (self);
  g_free (size);
  g_free (chart);
  g_free (child);
  g_free (clip_opt);
  g_free (cache_opt);
  return ret;
}
