/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap-demo's measurement: the frame processing (the same C code
 * both ways), the sampler of the process's memory, one pass of either way
 * in a child process, the parent's side of running a child and reading
 * its RESULT line, and the demo's own clip.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-demo.h"

#include <gst/memmap/memmap.h>
#include <gst/video/video.h>

#include <glib/gstdio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* the frame processing: the same C code in both ways                       */

/* Sobel gradient magnitude (|gx| + |gy|, saturated) of a GRAY8 frame into
 * @dst; returns the sum of the output, to compare the two ways. */
static guint64
sobel (const guint8 * src, gint stride, gint width, gint height, guint8 * dst)
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
trad_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Traditional * t)
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

gint
demo_child_main (const gchar * mode, const gchar * clip, guint64 frames,
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

gboolean
demo_make_clip (const gchar * path, guint64 frames, gint width, gint height,
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

gboolean
demo_run_child (const gchar * self, const gchar * mode, const gchar * clip,
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
