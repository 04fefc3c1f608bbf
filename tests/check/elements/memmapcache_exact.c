/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmapcache gives exactly what decoding gives: each case of issue 11's
 * "What was seen" as a pipeline run with and without memmapcache, compared
 * buffer by buffer (pts, duration, flags, checksum of the visible planes,
 * and the audio buffers of the same demuxer).
 *
 * The clips are made once per test program with Debian's plugins (x264enc
 * with B-frames, mp4mux, matroskamux, avenc_aac).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define N_FRAMES 90
#define N_VFR 120
/* what a decoder still decodes on a cached pass (memmapcache.c) */
#define HANDFUL 8

static gchar *clip;             /* B-frames, MP4, stream time shifted */
static gchar *av_clip;          /* video and AAC audio, MP4 */
static gchar *vfr_clip;         /* variable frame rate under 30/1 caps */

typedef struct
{
  GstClockTime pts;
  GstClockTime duration;
  guint flags;
  gchar *sum;
} Rec;

typedef struct
{
  GMutex lock;
  GPtrArray *video;             /* Rec */
  GPtrArray *audio;             /* Rec */
  guint decoded;
  GCond cond;
  gint64 segment_done;          /* position of the last SEGMENT_DONE event
                                 * at the sink, or -1 */
  gint budget;                  /* frames the sink may still take; -1: any */
  gboolean flushing;
  GstElement *pipeline;
  GstElement *cache;
} Run;

static void
rec_free (Rec * r)
{
  g_free (r->sum);
  g_free (r);
}

static gchar *
video_sum (GstPad * pad, GstBuffer * buffer)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gchar *sum;

  fail_unless (caps != NULL);
  sum = memmap_test_frame_checksum_caps (caps, buffer);
  gst_caps_unref (caps);
  return sum;
}

static Rec *
rec_new (GstBuffer * buffer, gchar * sum)
{
  Rec *r = g_new0 (Rec, 1);

  r->pts = GST_BUFFER_PTS (buffer);
  r->duration = GST_BUFFER_DURATION (buffer);
  r->flags = GST_BUFFER_FLAGS (buffer) & ~GST_BUFFER_FLAG_TAG_MEMORY;
  r->sum = sum;
  return r;
}

static void
on_video (GstElement * sink, GstBuffer * buffer, GstPad * pad, Run * run)
{
  Rec *r = rec_new (buffer, video_sum (pad, buffer));

  g_mutex_lock (&run->lock);
  g_ptr_array_add (run->video, r);
  g_mutex_unlock (&run->lock);
}

static void
on_audio (GstElement * sink, GstBuffer * buffer, GstPad * pad, Run * run)
{
  GstMapInfo map;
  Rec *r;

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  r = rec_new (buffer, g_compute_checksum_for_data (G_CHECKSUM_SHA1,
          map.data, map.size));
  gst_buffer_unmap (buffer, &map);
  g_mutex_lock (&run->lock);
  g_ptr_array_add (run->audio, r);
  g_mutex_unlock (&run->lock);
}

static GstPadProbeReturn
on_sink_event (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START ||
      GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    g_mutex_lock (&run->lock);
    run->flushing = GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START;
    g_cond_broadcast (&run->cond);
    g_mutex_unlock (&run->lock);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT_DONE) {
    GstFormat format;
    gint64 pos;

    gst_event_parse_segment_done (event, &format, &pos);
    g_mutex_lock (&run->lock);
    run->segment_done = pos;
    g_cond_broadcast (&run->cond);
    g_mutex_unlock (&run->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* A frame reaches the sink when the budget allows (as cache_oracle.py's
 * "play N frames"): the streaming thread waits there, until a flush. */
static GstPadProbeReturn
hold_buffer (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  GstPadProbeReturn ret = GST_PAD_PROBE_OK;

  g_mutex_lock (&run->lock);
  while (run->budget == 0 && !run->flushing)
    g_cond_wait (&run->cond, &run->lock);
  if (run->flushing)
    ret = GST_PAD_PROBE_DROP;
  else if (run->budget > 0)
    run->budget--;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
  return ret;
}

static GstPadProbeReturn
count_decoded (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  g_mutex_lock (&run->lock);
  run->decoded++;
  g_mutex_unlock (&run->lock);
  return GST_PAD_PROBE_OK;
}

/* The decoder of a uridecodebin, when it makes one: counted. */
static void
on_element_added (GstBin * bin, GstBin * sub, GstElement * element,
    Run * run)
{
  if (GST_IS_VIDEO_DECODER (element)) {
    GstPad *pad = gst_element_get_static_pad (element, "src");

    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) count_decoded, run, NULL);
    gst_object_unref (pad);
  }
}

/* @desc has a fakesink "sink" (video), maybe "asink" (audio), maybe a
 * "cache"; decoders are counted wherever they are. */
static Run *
run_new (const gchar * desc)
{
  Run *run = g_new0 (Run, 1);
  GstElement *sink;
  GError *error = NULL;
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  g_mutex_init (&run->lock);
  run->video = g_ptr_array_new_with_free_func ((GDestroyNotify) rec_free);
  run->audio = g_ptr_array_new_with_free_func ((GDestroyNotify) rec_free);
  run->pipeline = gst_parse_launch (desc, &error);
  fail_unless (run->pipeline != NULL, "%s: %s", desc,
      error ? error->message : "");
  g_signal_connect (run->pipeline, "deep-element-added",
      G_CALLBACK (on_element_added), run);
  it = gst_bin_iterate_recurse (GST_BIN (run->pipeline));
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    on_element_added (NULL, NULL, g_value_get_object (&item), run);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  g_cond_init (&run->cond);
  run->segment_done = -1;
  run->budget = -1;
  sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_video), run);
  {
    GstPad *pad = gst_element_get_static_pad (sink, "sink");

    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
        GST_PAD_PROBE_TYPE_EVENT_FLUSH, (GstPadProbeCallback) on_sink_event,
        run, NULL);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) hold_buffer, run, NULL);
    gst_object_unref (pad);
  }
  gst_object_unref (sink);
  if ((sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "asink"))) {
    g_signal_connect (sink, "handoff", G_CALLBACK (on_audio), run);
    gst_object_unref (sink);
  }
  run->cache = gst_bin_get_by_name (GST_BIN (run->pipeline), "cache");
  return run;
}

/* PLAYING until @n more frames reached the sink, which then holds the
 * next one (cache_oracle.py's "play N frames"). */
static void
run_play_n (Run * run, gint n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&run->lock);
  run->budget = n;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_mutex_lock (&run->lock);
  while (run->budget > 0)
    fail_unless (g_cond_wait_until (&run->cond, &run->lock, deadline),
        "%d frames of %d within 60 s", n - run->budget, n);
  g_mutex_unlock (&run->lock);
}

/* A flushing seek in the state the pipeline is in, then @n frames (-1: to
 * the end of the segment, SEGMENT_DONE); the SEGMENT_DONE position or -1. */
static gint64
run_seek_play_n (Run * run, GstSeekFlags flags, gint64 start, gint64 stop,
    gint n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND, pos;

  g_mutex_lock (&run->lock);
  run->budget = 0;
  run->segment_done = -1;
  g_mutex_unlock (&run->lock);
  fail_unless (gst_element_seek (run->pipeline, 1.0, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | flags, GST_SEEK_TYPE_SET, start,
          stop < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET, stop));
  if (n >= 0) {
    run_play_n (run, n);
    return -1;
  }
  g_mutex_lock (&run->lock);
  run->budget = -1;
  g_cond_broadcast (&run->cond);
  while (run->segment_done < 0)
    fail_unless (g_cond_wait_until (&run->cond, &run->lock, deadline),
        "no SEGMENT_DONE within 60 s");
  pos = run->segment_done;
  g_mutex_unlock (&run->lock);
  return pos;
}

static void
run_free (Run * run)
{
  g_mutex_lock (&run->lock);
  run->budget = -1;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_clear_object (&run->cache);
  gst_object_unref (run->pipeline);
  g_ptr_array_unref (run->video);
  g_ptr_array_unref (run->audio);
  g_mutex_clear (&run->lock);
  g_cond_clear (&run->cond);
  g_free (run);
}

/* Until EOS; an error fails the test. */
static void
run_wait_eos (Run * run)
{
  GstBus *bus = gst_element_get_bus (run->pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

  fail_unless (msg != NULL, "no EOS within 60 s");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    fail ("error: %s", err->message);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
}

static void
run_state (Run * run, GstState state)
{
  fail_unless (gst_element_set_state (run->pipeline, state) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (run->pipeline, NULL, NULL,
          30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
}

/* A flushing seek in PAUSED, then PLAYING until EOS. */
static void
run_seek_to_eos (Run * run, GstFormat format, GstSeekFlags flags,
    gint64 start, gint64 stop)
{
  run_state (run, GST_STATE_PAUSED);
  fail_unless (gst_element_seek (run->pipeline, 1.0, format,
          GST_SEEK_FLAG_FLUSH | flags, GST_SEEK_TYPE_SET, start,
          stop < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET, stop));
  fail_unless_equals_int (gst_element_get_state (run->pipeline, NULL, NULL,
          30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  run_state (run, GST_STATE_PLAYING);
  run_wait_eos (run);
}

static void
run_play (Run * run)
{
  run_state (run, GST_STATE_PLAYING);
  run_wait_eos (run);
}

static guint64
stat_u64 (Run * run, const gchar * name)
{
  GstStructure *s;
  guint64 v = 0;

  g_object_get (run->cache, "stats", &s, NULL);
  fail_unless (gst_structure_get_uint64 (s, name, &v), "no %s", name);
  gst_structure_free (s);
  return v;
}

/* The same buffers, in the same order. */
static void
assert_same (GPtrArray * got, GPtrArray * want, const gchar * what)
{
  guint i;

  for (i = 0; i < MIN (got->len, want->len); i++) {
    Rec *g = g_ptr_array_index (got, i), *w = g_ptr_array_index (want, i);

    fail_unless (g->pts == w->pts && g->duration == w->duration &&
        g->flags == w->flags && strcmp (g->sum, w->sum) == 0,
        "%s %u: got pts %" GST_TIME_FORMAT " duration %" GST_TIME_FORMAT
        " flags 0x%x, want pts %" GST_TIME_FORMAT " duration %"
        GST_TIME_FORMAT " flags 0x%x%s", what, i, GST_TIME_ARGS (g->pts),
        GST_TIME_ARGS (g->duration), g->flags, GST_TIME_ARGS (w->pts),
        GST_TIME_ARGS (w->duration), w->flags,
        strcmp (g->sum, w->sum) ? ", other pixels" : "");
  }
  fail_unless_equals_int (got->len, want->len);
}

static gchar *
desc_for (const gchar * file, const gchar * middle, const gchar * cache_dir)
{
  gchar *uri = gst_filename_to_uri (file, NULL);
  gchar *cache = cache_dir ? g_strdup_printf ("memmapcache name=cache "
      "cache-dir=\"%s\" ! ", cache_dir) : g_strdup ("");
  gchar *desc = g_strdup_printf ("uridecodebin uri=\"%s\" name=u "
      "u. ! %s%sfakesink name=sink sync=false signal-handoffs=true",
      uri, middle ? middle : "", cache);

  g_free (cache);
  g_free (uri);
  return desc;
}


/* A flushing seek in PAUSED (@flags with FLUSH), then PLAYING until EOS, or
 * with GST_SEEK_FLAG_SEGMENT until the SEGMENT_DONE event reaches the sink
 * (the message comes from the demuxer, before the last frames are through):
 * its position returned. */
static gint64
run_seek_flags (Run * run, GstSeekFlags flags, gint64 start, gint64 stop)
{
  gint64 deadline, pos;

  if (!(flags & GST_SEEK_FLAG_SEGMENT)) {
    run_seek_to_eos (run, GST_FORMAT_TIME, flags, start, stop);
    return -1;
  }
  run_state (run, GST_STATE_PAUSED);
  fail_unless (gst_element_seek (run->pipeline, 1.0, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | flags, GST_SEEK_TYPE_SET, start,
          stop < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET, stop));
  fail_unless_equals_int (gst_element_get_state (run->pipeline, NULL, NULL,
          30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  g_mutex_lock (&run->lock);
  run->segment_done = -1;
  g_mutex_unlock (&run->lock);
  run_state (run, GST_STATE_PLAYING);
  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&run->lock);
  while (run->segment_done < 0)
    fail_unless (g_cond_wait_until (&run->cond, &run->lock, deadline),
        "no SEGMENT_DONE within 60 s");
  pos = run->segment_done;
  g_mutex_unlock (&run->lock);
  return pos;
}

/* The pts of every frame of @file, decoded without memmapcache. */
static GArray *
frame_times (const gchar * file)
{
  gchar *desc = desc_for (file, NULL, NULL);
  Run *b = run_new (desc);
  GArray *times = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  guint i;

  run_play (b);
  for (i = 0; i < b->video->len; i++)
    g_array_append_val (times, ((Rec *) g_ptr_array_index (b->video,
                i))->pts);
  run_free (b);
  g_free (desc);
  return times;
}

/* ------------------------------------------------------------------------ */
/* the clips                                                                */

static void
launch (const gchar * desc)
{
  GstElement *p = gst_parse_launch (desc, NULL);
  GstMessage *msg;

  fail_unless (p != NULL, "%s", desc);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (p), 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "%s", desc);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
}

#define X264 "x264enc speed-preset=superfast bframes=2 b-adapt=false " \
    "key-int-max=30 threads=1"

/* frame durations of 20 to 60 ms, under caps that say 30/1 */
static GstPadProbeReturn
make_vfr (GstPad * pad, GstPadProbeInfo * info, GstClockTime * next)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  guint64 n = GST_BUFFER_OFFSET (buffer);
  GstClockTime d = (20 + (n * 7) % 41) * GST_MSECOND;

  buffer = gst_buffer_make_writable (buffer);
  GST_BUFFER_PTS (buffer) = *next;
  GST_BUFFER_DURATION (buffer) = d;
  *next += d;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

/* the durations of cache_oracle.py's VFR clips (oracle_clips.py: 20 to 60
 * ms, Python's random.Random (11)), in ms */
static const guint8 oracle_vfr_ms[] = {
  40, 50, 40, 40, 50, 50, 25, 25, 50, 40, 60, 50, 25, 20, 40, 33, 25, 20,
  50, 60, 60, 20, 50, 40, 40, 60, 60, 50, 60, 25, 50, 20, 50, 20, 20, 20,
  25, 25, 50, 20, 40, 33, 40, 50, 25, 50, 25, 60, 33, 40, 20, 60, 20, 40,
  60, 33, 40, 50, 20, 60, 33, 33, 25, 50, 33, 20, 20, 50, 20, 40, 20, 33,
  40, 20, 20, 60, 20, 25, 25, 20, 40, 40, 60, 40, 40, 20, 50, 60, 25, 60
};

static GstPadProbeReturn
make_oracle_vfr (GstPad * pad, GstPadProbeInfo * info, GstClockTime * next)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  guint64 n = GST_BUFFER_OFFSET (buffer);
  GstClockTime d = oracle_vfr_ms[n % G_N_ELEMENTS (oracle_vfr_ms)] *
      GST_MSECOND;

  buffer = gst_buffer_make_writable (buffer);
  GST_BUFFER_PTS (buffer) = *next;
  GST_BUFFER_DURATION (buffer) = d;
  *next += d;
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

/* A Matroska clip of @n frames encoded by @x264 (and what follows it),
 * timestamped by @probe. */
static void
make_timed_clip (const gchar * path, guint n, const gchar * x264,
    GstPadProbeCallback probe)
{
  gchar *desc = g_strdup_printf ("videotestsrc name=src num-buffers=%u "
      "pattern=ball ! video/x-raw,format=I420,width=320,height=240,"
      "framerate=30/1 ! %s ! matroskamux ! filesink "
      "location=\"%s\"", n, x264, path);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstPad *pad = gst_element_get_static_pad (src, "src");
  GstClockTime next = 0;
  GstMessage *msg;

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, probe, &next, NULL);
  gst_object_unref (pad);
  gst_object_unref (src);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (p), 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  g_free (desc);
}

static void
make_vfr_clip (const gchar * path)
{
  make_timed_clip (path, N_VFR, X264 " ! h264parse",
      (GstPadProbeCallback) make_vfr);
}

/* cache_oracle.py's vfr-nominal clip: bframes=3, its frame durations, no
 * h264parse (with it, matroskademux gives the B-frames before the stop) */
static gchar *
make_oracle_vfr_clip (void)
{
  gchar *path = test_path ("vfr3.mkv");

  make_timed_clip (path, G_N_ELEMENTS (oracle_vfr_ms), "x264enc "
      "speed-preset=superfast bframes=3 b-adapt=false key-int-max=30 "
      "threads=1", (GstPadProbeCallback) make_oracle_vfr);
  return path;
}

/* cache_oracle.py's mkv-bframes clip */
static gchar *
make_oracle_mkv_clip (void)
{
  gchar *path = test_path ("b3.mkv");
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball "
      "! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
      "x264enc speed-preset=superfast bframes=3 b-adapt=false key-int-max=30 "
      "threads=1 ! matroskamux ! filesink location=\"%s\"", N_FRAMES, path);

  launch (desc);
  g_free (desc);
  return path;
}

static void
setup (void)
{
  gchar *desc;

  /* in each test's process: the clips live in its tmpdir */
  memmap_test_make_tmpdir ("memmapcache-exact");
  clip = test_path ("clip.mp4");
  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! " X264
      " ! mp4mux ! filesink location=\"%s\"", N_FRAMES, clip);
  launch (desc);
  g_free (desc);

  av_clip = test_path ("av.mp4");
  desc = g_strdup_printf ("mp4mux name=mux ! filesink location=\"%s\" "
      "videotestsrc num-buffers=%d pattern=ball ! video/x-raw,format=I420,"
      "width=320,height=240,framerate=30/1 ! " X264 " ! mux. "
      "audiotestsrc wave=ticks num-buffers=%d samplesperbuffer=1024 ! "
      "audio/x-raw,rate=44100,channels=2 ! audioconvert ! avenc_aac ! mux.",
      av_clip, N_FRAMES, N_FRAMES * 44100 / 30 / 1024);
  launch (desc);
  g_free (desc);

  vfr_clip = test_path ("vfr.mkv");
  make_vfr_clip (vfr_clip);
}

static void
teardown (void)
{
  g_clear_pointer (&clip, g_free);
  g_clear_pointer (&av_clip, g_free);
  g_clear_pointer (&vfr_clip, g_free);
  memmap_test_remove_tmpdir ();
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

/* Issue 11: on a complete cache of a B-frame MP4, a flushing accurate seek
 * right after serving gave a stale frame, and seeks in frame numbers gave
 * the frames of earlier seeks. Each seek now as without memmapcache; and
 * the decoder decodes less. */
GST_START_TEST (test_exact_seeks_on_complete_cache)
{
  gchar *cache_dir = test_path ("cache");
  gchar *with = desc_for (clip, NULL, cache_dir);
  gchar *without = desc_for (clip, NULL, NULL);
  static const gint64 frames[] = { 80, 20, 85, 40, 60 };
  Run *a, *b;
  guint i;

  a = run_new (with);
  run_play (a);
  run_free (a);

  a = run_new (with);
  b = run_new (without);
  run_seek_to_eos (a, GST_FORMAT_TIME, GST_SEEK_FLAG_ACCURATE,
      2233 * GST_MSECOND, -1);
  run_seek_to_eos (b, GST_FORMAT_TIME, GST_SEEK_FLAG_ACCURATE,
      2233 * GST_MSECOND, -1);
  for (i = 0; i < G_N_ELEMENTS (frames); i++) {
    run_seek_to_eos (a, GST_FORMAT_DEFAULT, GST_SEEK_FLAG_ACCURATE,
        frames[i], -1);
    run_seek_to_eos (b, GST_FORMAT_DEFAULT, GST_SEEK_FLAG_ACCURATE,
        frames[i], -1);
  }
  assert_same (a->video, b->video, "frame");
  GST_INFO ("decoded %u frames with memmapcache, %u without", a->decoded,
      b->decoded);
  fail_unless (a->decoded < b->decoded / 2, "decoded %u frames with "
      "memmapcache, %u without", a->decoded, b->decoded);
  fail_unless (stat_u64 (a, "frames-served") > 0);
  run_free (a);
  run_free (b);
  g_free (with);
  g_free (without);
  g_free (cache_dir);
}

GST_END_TEST;

/* Issue 11: audio + video, the cache filled up to 1.5 s: the next pass
 * lost the audio from 0.23 s to 1.5 s to memmapcache's hand-over seek. The
 * audio is now the demuxer's own, buffer for buffer. */
GST_START_TEST (test_audio_untouched_on_partial_cache)
{
  gchar *cache_dir = test_path ("cache");
  gchar *uri = gst_filename_to_uri (av_clip, NULL);
  gchar *with = g_strdup_printf ("uridecodebin uri=\"%s\" name=u "
      "u. ! video/x-raw ! memmapcache name=cache cache-dir=\"%s\" ! "
      "fakesink name=sink sync=false signal-handoffs=true u. ! audio/x-raw ! "
      "queue ! fakesink name=asink sync=false signal-handoffs=true", uri,
      cache_dir);
  gchar *without = g_strdup_printf ("uridecodebin uri=\"%s\" name=u "
      "u. ! video/x-raw ! fakesink name=sink sync=false signal-handoffs=true "
      "u. ! audio/x-raw ! queue ! fakesink name=asink sync=false "
      "signal-handoffs=true", uri);
  Run *a, *b;

  /* the first 1.5 s cached */
  a = run_new (with);
  run_seek_to_eos (a, GST_FORMAT_TIME, GST_SEEK_FLAG_ACCURATE, 0,
      1500 * GST_MSECOND);
  run_free (a);

  a = run_new (with);
  b = run_new (without);
  run_play (a);
  run_play (b);
  fail_unless (b->audio->len > 100, "%u audio buffers", b->audio->len);
  assert_same (a->audio, b->audio, "audio buffer");
  assert_same (a->video, b->video, "frame");
  fail_unless (stat_u64 (a, "frames-served") >= 30 - HANDFUL);
  run_free (a);
  run_free (b);
  g_free (with);
  g_free (without);
  g_free (uri);
  g_free (cache_dir);
}

GST_END_TEST;

/* Issue 11: variable frame rate under 30/1 caps: 96 of 120 frames were
 * recorded, later passes lost the last frame and shifted timestamps after
 * seeks. Every frame now, with its own pts and duration, cached whole. */
GST_START_TEST (test_variable_frame_rate)
{
  gchar *cache_dir = test_path ("cache");
  gchar *with = desc_for (vfr_clip, NULL, cache_dir);
  gchar *without = desc_for (vfr_clip, NULL, NULL);
  Run *a, *b;

  a = run_new (with);
  run_play (a);
  fail_unless_equals_uint64 (stat_u64 (a, "frames-recorded"), N_VFR);
  run_free (a);

  b = run_new (without);
  run_play (b);
  fail_unless_equals_int (b->video->len, N_VFR);
  a = run_new (with);
  run_play (a);
  assert_same (a->video, b->video, "frame");
  fail_unless (stat_u64 (a, "frames-served") >= N_VFR - HANDFUL);
  run_free (a);
  run_free (b);

  /* and after a seek mid-GOP */
  a = run_new (with);
  b = run_new (without);
  run_seek_to_eos (a, GST_FORMAT_TIME, GST_SEEK_FLAG_ACCURATE,
      1717 * GST_MSECOND, -1);
  run_seek_to_eos (b, GST_FORMAT_TIME, GST_SEEK_FLAG_ACCURATE,
      1717 * GST_MSECOND, -1);
  assert_same (a->video, b->video, "frame");
  fail_unless (stat_u64 (a, "frames-served") > 0);
  run_free (a);
  run_free (b);

  g_free (with);
  g_free (without);
  g_free (cache_dir);
}

GST_END_TEST;

/* Issue 11: a file rewritten in place with the same size and mtime was
 * served from the stale cache. Its ctime moved on: another stream. */
GST_START_TEST (test_rewrite_in_place)
{
  gchar *cache_dir = test_path ("cache");
  gchar *file = test_path ("input.mp4");
  gchar *contents, *desc;
  gsize len;
  struct stat st;
  struct timespec times[2];
  gint fd;
  Run *a;

  fail_unless (g_file_get_contents (clip, &contents, &len, NULL));
  fail_unless (g_file_set_contents (file, contents, len, NULL));
  desc = desc_for (file, NULL, cache_dir);
  a = run_new (desc);
  run_play (a);
  fail_unless_equals_uint64 (stat_u64 (a, "frames-recorded"), N_FRAMES);
  run_free (a);

  /* the same bytes written again, size and mtime as they were */
  fail_unless (stat (file, &st) == 0);
  g_usleep (20 * 1000);
  fd = g_open (file, O_WRONLY, 0);
  fail_unless (fd >= 0);
  fail_unless_equals_int (write (fd, contents, len), (gssize) len);
  close (fd);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  fail_unless (utimensat (AT_FDCWD, file, times, 0) == 0);

  a = run_new (desc);
  run_play (a);
  fail_unless_equals_uint64 (stat_u64 (a, "frames-served"), 0);
  fail_unless_equals_uint64 (stat_u64 (a, "frames-recorded"), N_FRAMES);
  run_free (a);

  g_free (desc);
  g_free (contents);
  g_free (file);
  g_free (cache_dir);
}

GST_END_TEST;

/* Issue 12.3: `uridecodebin ! videoflip ! memmapcache` recorded into the
 * entry of the plain pipeline and then served it the flipped frames (and
 * the other way round). The processing between the decoder and the cache
 * is in the stream's identity now. */
GST_START_TEST (test_videoflip_is_another_stream)
{
  gchar *cache_dir = test_path ("cache");
  gchar *plain = desc_for (clip, NULL, cache_dir);
  gchar *flip = desc_for (clip, "videoflip method=rotate-180 ! ", cache_dir);
  gchar *flip_ref = desc_for (clip, "videoflip method=rotate-180 ! ", NULL);
  Run *a, *b;

  a = run_new (plain);
  run_play (a);
  run_free (a);

  a = run_new (flip);
  b = run_new (flip_ref);
  run_play (a);
  run_play (b);
  assert_same (a->video, b->video, "frame");
  fail_unless_equals_uint64 (stat_u64 (a, "frames-served"), 0);
  fail_unless_equals_uint64 (stat_u64 (a, "frames-recorded"), N_FRAMES);
  run_free (a);
  run_free (b);

  g_free (plain);
  g_free (flip);
  g_free (flip_ref);
  g_free (cache_dir);
}

GST_END_TEST;

/* Issue 11 (the oracle's long run, vfr-nominal seed 1003): a seek with a
 * stop just past a B-frame on a complete cache of a Matroska clip. The
 * demuxer stops at the first packet past the stop in decoding order, the
 * P-frame before that B-frame: the decoder never gives the B-frames before
 * the stop whose packets come after it. memmapcache served them from the
 * cache; now it serves only frames whose packets reached the decoder. */
GST_START_TEST (test_stop_cuts_before_b_frames)
{
  gchar *file = make_oracle_vfr_clip ();
  gchar *cache_dir = test_path ("cache");
  gchar *with = desc_for (file, NULL, cache_dir);
  gchar *without = desc_for (file, NULL, NULL);
  GArray *t = frame_times (file);
  Run *a, *b;
  guint i;

  a = run_new (with);
  run_play (a);
  run_free (a);

  a = run_new (with);
  b = run_new (without);
  /* from the second GOP's keyframe, stops after each of its first frames */
  for (i = 31; i < 40; i++) {
    GstClockTime start = g_array_index (t, GstClockTime, 30);
    GstClockTime stop = g_array_index (t, GstClockTime, i) + 1;

    run_seek_flags (a, GST_SEEK_FLAG_ACCURATE, start, stop);
    run_seek_flags (b, GST_SEEK_FLAG_ACCURATE, start, stop);
  }
  assert_same (a->video, b->video, "frame");
  fail_unless (stat_u64 (a, "frames-served") > 0);
  run_free (a);
  run_free (b);
  g_array_unref (t);
  g_free (with);
  g_free (without);
  g_free (cache_dir);
  g_free (file);
}

GST_END_TEST;

/* Issue 11 (the oracle's long run, mkv-bframes seed 1005): a segment seek
 * past the last frame's pts, on a complete cache. The decoder gives no
 * frame (the demuxer sends no packet of it) and SEGMENT_DONE; memmapcache
 * served the last frame from the cache. */
GST_START_TEST (test_segment_seek_past_last_frame)
{
  gchar *file = make_oracle_mkv_clip ();
  gchar *cache_dir = test_path ("cache");
  gchar *with = desc_for (file, NULL, cache_dir);
  gchar *without = desc_for (file, NULL, NULL);
  GArray *t = frame_times (file);
  GstClockTime last = g_array_index (t, GstClockTime, t->len - 1);
  gint64 pos_a, pos_b;
  Run *a, *b;

  a = run_new (with);
  run_play (a);
  run_free (a);

  /* cache_oracle.py --clips mkv-bframes --states complete --first-seed
   * 1005, shortened: while the sink holds a frame after a seek, a segment
   * seek past the last frame's pts */
  a = run_new (with);
  b = run_new (without);
  run_play_n (a, 15);
  run_play_n (b, 15);
  run_seek_play_n (a, GST_SEEK_FLAG_KEY_UNIT, 2267 * GST_MSECOND, -1, 26);
  run_seek_play_n (b, GST_SEEK_FLAG_KEY_UNIT, 2267 * GST_MSECOND, -1, 26);
  pos_a = run_seek_play_n (a, GST_SEEK_FLAG_SEGMENT, last + GST_MSECOND / 3,
      last + 2 * GST_SECOND / 3, -1);
  pos_b = run_seek_play_n (b, GST_SEEK_FLAG_SEGMENT, last + GST_MSECOND / 3,
      last + 2 * GST_SECOND / 3, -1);
  assert_same (a->video, b->video, "frame");
  fail_unless_equals_int64 (pos_a, pos_b);
  run_free (a);
  run_free (b);
  g_array_unref (t);
  g_free (with);
  g_free (without);
  g_free (cache_dir);
  g_free (file);
}

GST_END_TEST;

/* Issue 11 (the oracle's long run, vfr-nominal seed 1008): a seek without
 * ACCURATE to a frame closer to the one before it than the nominal
 * duration, on an empty cache. The decoder gives two frames at the seek's
 * start: the one before, clipped to it, then the whole one. memmapcache
 * recorded the first as the frame of that pts, and gave its pixels for the
 * second. */
GST_START_TEST (test_two_frames_at_segment_start)
{
  gchar *cache_dir = test_path ("cache");
  gchar *with = desc_for (vfr_clip, NULL, cache_dir);
  gchar *without = desc_for (vfr_clip, NULL, NULL);
  GArray *t = frame_times (vfr_clip);
  guint i, n = 0;
  Run *a, *b;

  a = run_new (with);
  b = run_new (without);
  for (i = 32; i < t->len && n < 6; i++) {
    GstClockTime pts = g_array_index (t, GstClockTime, i);

    /* closer to the frame before than 1/30 s: that one ends after it */
    if (pts - g_array_index (t, GstClockTime, i - 1) >= GST_SECOND / 30)
      continue;
    run_seek_flags (a, 0, pts, -1);
    run_seek_flags (b, 0, pts, -1);
    n++;
  }
  fail_unless (n > 0);
  assert_same (a->video, b->video, "frame");
  run_free (a);
  run_free (b);
  g_array_unref (t);
  g_free (with);
  g_free (without);
  g_free (cache_dir);
}

GST_END_TEST;

static Suite *
memmapcache_exact_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmapcache_exact", setup, teardown,
      &tc);

  tcase_add_test (tc, test_exact_seeks_on_complete_cache);
  tcase_add_test (tc, test_audio_untouched_on_partial_cache);
  tcase_add_test (tc, test_variable_frame_rate);
  tcase_add_test (tc, test_rewrite_in_place);
  tcase_add_test (tc, test_videoflip_is_another_stream);
  tcase_add_test (tc, test_stop_cuts_before_b_frames);
  tcase_add_test (tc, test_segment_seek_past_last_frame);
  tcase_add_test (tc, test_two_frames_at_segment_start);
  return s;
}

GST_CHECK_MAIN (memmapcache_exact);
