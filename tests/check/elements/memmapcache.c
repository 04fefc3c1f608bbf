/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmapcache: a decoder's output recorded once and served from the cache
 * afterwards, checked frame by frame against the decoder's own output, with
 * a probe on the decoder that counts what it really decoded.
 *
 * The clip is made once per test program with Debian's plugins (x264enc,
 * mp4mux): 90 frames of 320x240 at 30 fps, a keyframe every 30 frames,
 * two B-frames between references (so that timestamps and stream times
 * differ, as in most real clips).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define CHILD_ENV "MEMMAPCACHE_TEST_CHILD"
/* in the child: print "frame N" at every frame and take this many µs */
#define CHILD_PACE_ENV "MEMMAPCACHE_TEST_CHILD_PACE"
/* in the child: at frame N print "barrier" and wait for a line on stdin */
#define CHILD_BARRIER_ENV "MEMMAPCACHE_TEST_CHILD_BARRIER"
#define N_FRAMES 90
#define FRAME_DURATION (GST_SECOND / 30)
/* What a decoder still decodes once memmapcache stopped it (docs): the
 * frame that showed the start is cached plus those in flight in
 * avdec_h264's frame threads. */
#define HANDFUL 8
/* The shortest cached run that memmapcache serves (docs/elements.md). */
#define MIN_SERVE_RUN 16

static gchar *clip_dir;
static gchar *clip;
static GPtrArray *reference;    /* Frame: the decoder's own output */
static gulong child_pace;       /* see CHILD_PACE_ENV, 0: not set */
static gulong child_barrier;    /* see CHILD_BARRIER_ENV, 0: not set */

typedef struct
{
  GstClockTime pts;
  gchar *sum;
} Frame;

static guint64 assert_stores_valid (const gchar * cache_dir);
static gchar *only_entry (const gchar * cache_dir);

static void
frame_free (Frame * f)
{
  g_free (f->sum);
  g_free (f);
}

/* ------------------------------------------------------------------------ */
/* a pipeline and what it saw                                               */

typedef struct
{
  GMutex lock;
  GPtrArray *frames;            /* Frame, at the sink */
  GArray *decoded;              /* GstClockTime: pts out of the decoder */
  gboolean all_memmap;          /* every sink buffer: read-only memmap */
  gboolean codec_tag;           /* the decoder's codec tag reached the sink */
  guint32 seek_seqnum;          /* of the last run_seek(), 0 before */
  guint warnings;
  gchar *warning;               /* the first warning's text and debug */
  /* a barrier: the sink side waits at this frame until released */
  guint barrier_at;
  gboolean at_barrier;
  gboolean released;
  GCond cond;

  GstElement *pipeline;
  GstElement *cache;
} Run;

static void
run_reset (Run * run)
{
  g_mutex_lock (&run->lock);
  g_ptr_array_set_size (run->frames, 0);
  g_array_set_size (run->decoded, 0);
  g_mutex_unlock (&run->lock);
}

static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad, Run * run)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstMemory *mem = gst_buffer_peek_memory (buffer, 0);
  GstVideoInfo info;
  Frame *f = g_new0 (Frame, 1);
  gboolean at_child_barrier;

  fail_unless (caps != NULL);
  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  f->pts = GST_BUFFER_PTS (buffer);
  f->sum = memmap_test_frame_checksum (&info, buffer);

  g_mutex_lock (&run->lock);
  if (gst_buffer_n_memory (buffer) != 1 || !gst_is_memmap_memory (mem) ||
      !GST_MEMORY_IS_READONLY (mem))
    run->all_memmap = FALSE;
  g_ptr_array_add (run->frames, f);
  if (run->barrier_at && run->frames->len == run->barrier_at) {
    run->at_barrier = TRUE;
    g_cond_broadcast (&run->cond);
    while (!run->released)
      g_cond_wait (&run->cond, &run->lock);
  }
  /* (not for the reference the child makes first) */
  if (child_pace && run->cache) {
    g_print ("frame %u\n", run->frames->len);
    fflush (stdout);
  }
  at_child_barrier = child_barrier && run->cache &&
      run->frames->len == child_barrier;
  g_mutex_unlock (&run->lock);
  if (child_pace && run->cache)
    g_usleep (child_pace);
  if (at_child_barrier) {
    gchar c;

    g_print ("barrier\n");
    fflush (stdout);
    /* a line from the parent, or its end of the pipe */
    while (read (STDIN_FILENO, &c, 1) == 1 && c != '\n')
      continue;
  }
}

static GstPadProbeReturn
count_decoded (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));

  g_mutex_lock (&run->lock);
  g_array_append_val (run->decoded, pts);
  g_mutex_unlock (&run->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
watch_tags (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  GstTagList *tags;
  gchar *codec = NULL;

  if (GST_EVENT_TYPE (event) != GST_EVENT_TAG)
    return GST_PAD_PROBE_OK;
  gst_event_parse_tag (event, &tags);
  if (gst_tag_list_get_string (tags, GST_TAG_VIDEO_CODEC, &codec)) {
    g_mutex_lock (&run->lock);
    run->codec_tag = TRUE;
    g_mutex_unlock (&run->lock);
    g_free (codec);
  }
  return GST_PAD_PROBE_OK;
}

/* A pipeline of @desc with a "dec" (whose output is counted), maybe a
 * "cache" and a fakesink "sink" (whose input is checked). */
static Run *
run_new_desc (const gchar * desc)
{
  Run *run = g_new0 (Run, 1);
  GstElement *dec, *sink;
  GError *error = NULL;
  GstPad *pad;

  g_mutex_init (&run->lock);
  g_cond_init (&run->cond);
  run->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) frame_free);
  run->decoded = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  run->all_memmap = TRUE;

  run->pipeline = gst_parse_launch (desc, &error);
  fail_unless (run->pipeline != NULL, "%s: %s", desc,
      error ? error->message : "");

  dec = gst_bin_get_by_name (GST_BIN (run->pipeline), "dec");
  if (dec) {
    pad = gst_element_get_static_pad (dec, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) count_decoded, run, NULL);
    gst_object_unref (pad);
    gst_object_unref (dec);
  }
  sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), run);
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      (GstPadProbeCallback) watch_tags, run, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  run->cache = gst_bin_get_by_name (GST_BIN (run->pipeline), "cache");

  return run;
}

/* Decoder, then memmapcache when @cache_dir is set, then a fakesink. */
static Run *
run_new (const gchar * file, const gchar * cache_dir, const gchar * props)
{
  gchar *desc;
  Run *run;

  if (cache_dir)
    desc = g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! h264parse ! "
        "avdec_h264 name=dec ! memmapcache name=cache cache-dir=\"%s\" %s ! "
        "fakesink name=sink sync=false signal-handoffs=true", file,
        cache_dir, props ? props : "");
  else
    desc = g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! h264parse ! "
        "avdec_h264 name=dec ! fakesink name=sink sync=false "
        "signal-handoffs=true", file);
  run = run_new_desc (desc);
  g_free (desc);
  return run;
}

static void
run_free (Run * run)
{
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_clear_object (&run->cache);
  gst_object_unref (run->pipeline);
  g_ptr_array_unref (run->frames);
  g_array_unref (run->decoded);
  g_free (run->warning);
  g_mutex_clear (&run->lock);
  g_cond_clear (&run->cond);
  g_free (run);
}

/* Waits for EOS; errors fail the test, warnings are counted. */
static void
run_wait_eos (Run * run)
{
  GstBus *bus = gst_element_get_bus (run->pipeline);

  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
    GError *error = NULL;
    gchar *debug = NULL;

    fail_unless (msg != NULL, "no EOS within 60 s");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      /* an EOS of a segment before the last seek is not the one awaited */
      gboolean stale = run->seek_seqnum != 0 &&
          gst_message_get_seqnum (msg) != run->seek_seqnum;

      if (stale)
        GST_INFO ("skipping EOS seqnum %u, awaiting %u",
            gst_message_get_seqnum (msg), run->seek_seqnum);
      gst_message_unref (msg);
      if (stale)
        continue;
      break;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, &debug);
      fail ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          error->message, debug);
    }
    gst_message_parse_warning (msg, &error, &debug);
    GST_INFO ("warning from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
        error->message, debug);
    run->warnings++;
    if (run->warning == NULL)
      run->warning = g_strdup_printf ("%s\n%s", error->message, debug);
    g_clear_error (&error);
    g_free (debug);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

/* Takes every message already on the bus (EOS of earlier segments, say):
 * errors fail the test, warnings are counted. */
static void
run_drain_bus (Run * run)
{
  GstBus *bus = gst_element_get_bus (run->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_EOS |
              GST_MESSAGE_ERROR | GST_MESSAGE_WARNING)) != NULL) {
    GError *error = NULL;
    gchar *debug = NULL;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, &debug);
      fail ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          error->message, debug);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      gst_message_parse_warning (msg, &error, &debug);
      GST_INFO ("warning from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          error->message, debug);
      run->warnings++;
      g_clear_error (&error);
      g_free (debug);
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

static void
run_play (Run * run)
{
  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  run_wait_eos (run);
}

static void
run_pause (Run * run)
{
  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (run->pipeline, NULL, NULL,
          30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
}

/* A flushing accurate seek; waits for the new segment to run to EOS. */
static void
run_seek (Run * run, GstClockTime start, GstClockTime stop)
{
  GstEvent *seek = gst_event_new_seek (1.0, GST_FORMAT_TIME,
      GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET, start,
      GST_SEEK_TYPE_SET, stop);

  run_reset (run);
  run->seek_seqnum = gst_event_get_seqnum (seek);
  fail_unless (gst_element_send_event (run->pipeline, seek));
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

/* The stream time of the reference's first frame is 0, its timestamp is
 * not: qtdemux shifts the timestamps of a clip with B-frames (the test
 * clip has two) by their delay. Seeks and the times below are stream
 * times; this is what to add to get timestamps. */
static GstClockTime
pts_shift (void)
{
  return ((Frame *) g_ptr_array_index (reference, 0))->pts;
}

/* How many decoded frames lie in the stream times [from, to). */
static guint
decoded_in (Run * run, GstClockTime from, GstClockTime to)
{
  guint i, n = 0;

  from += pts_shift ();
  to += pts_shift ();

  g_mutex_lock (&run->lock);
  for (i = 0; i < run->decoded->len; i++) {
    GstClockTime pts = g_array_index (run->decoded, GstClockTime, i);

    if (pts >= from && pts < to)
      n++;
  }
  g_mutex_unlock (&run->lock);
  return n;
}

/* The frames seen are reference frames [from, from + n), in order, once
 * each, bit-identical; the first one clipped to stream time @start, as a
 * decoder clips it after an accurate seek. */
static void
assert_frames_clipped (Run * run, guint from, guint n, GstClockTime start)
{
  guint i;

  start += pts_shift ();

  g_mutex_lock (&run->lock);
  fail_unless_equals_int (run->frames->len, n);
  for (i = 0; i < n; i++) {
    Frame *got = g_ptr_array_index (run->frames, i);
    Frame *want = g_ptr_array_index (reference, from + i);

    fail_unless_equals_uint64 (got->pts, MAX (want->pts, start));
    fail_unless_equals_string (got->sum, want->sum);
  }
  g_mutex_unlock (&run->lock);
}

static void
assert_frames (Run * run, guint from, guint n)
{
  assert_frames_clipped (run, from, n, 0);
}

/* @run played the whole clip, every frame served from the cache, without a
 * warning */
static void
assert_served_whole (Run * run)
{
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-served") +
      stat_u64 (run, "frames-decoded"), N_FRAMES);
  fail_unless (stat_u64 (run, "frames-served") >= N_FRAMES - HANDFUL);
}

/* The index of the reference frame that holds stream time @t. */
static guint
frame_index (GstClockTime t)
{
  guint i;

  t += pts_shift ();

  for (i = 0; i + 1 < reference->len; i++) {
    Frame *next = g_ptr_array_index (reference, i + 1);

    if (next->pts > t)
      break;
  }
  return i;
}

/* ------------------------------------------------------------------------ */
/* fixtures                                                                 */

/* In a child process (see main()): GStreamer's threads are not to be
 * started in the process that forks the tests. */
static int
make_clip (const gchar * path)
{
  GstElement *pipeline;
  GstMessage *msg;
  gchar *desc;
  int ret;

  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
      "x264enc "
      "key-int-max=30 speed-preset=ultrafast bframes=2 ! mp4mux ! filesink "
      "location=\"%s\"", N_FRAMES, path);
  pipeline = gst_parse_launch (desc, NULL);
  g_free (desc);
  if (pipeline == NULL)
    return 2;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ret = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS ? 0 : 3;
  if (msg)
    gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return ret;
}

/* The decoder's own output, without memmapcache. */
static void
make_reference (void)
{
  Run *run = run_new (clip, NULL, NULL);

  run_play (run);
  fail_unless_equals_int (run->frames->len, N_FRAMES);
  reference = g_ptr_array_ref (run->frames);
  run_free (run);
}

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmapcache");
  if (reference == NULL)
    make_reference ();
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

static gchar *
copy_clip (const gchar * name)
{
  gchar *path = test_path (name), *data;
  gsize len;

  fail_unless (g_file_get_contents (clip, &data, &len, NULL));
  fail_unless (g_file_set_contents (path, data, len, NULL));
  g_free (data);
  return path;
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

GST_START_TEST (test_first_and_cached_pass)
{
  gchar *cache_dir = test_path ("cache");
  Run *run;

  /* first pass: recorded, unchanged, memmap memory downstream */
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->all_memmap);
  fail_unless_equals_int (run->warnings, 0);
  fail_unless_equals_int (run->decoded->len, N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  /* docs/design.md "Decoding into the slots": avdec_h264 decodes into
   * the slot pool's padded slots, nothing is copied by memmapcache */
  fail_unless_equals_uint64 (stat_u64 (run, "frames-copied"), 0);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-zero-copy"), N_FRAMES);
  /* GOPs whose keyframe reached the decoder, all decoded */
  fail_unless (stat_u64 (run, "misses") >= 1);
  fail_unless_equals_uint64 (stat_u64 (run, "hits"), 0);
  run_free (run);

  /* second pass: from the cache, the decoder stopped at once */
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->all_memmap);
  fail_unless_equals_int (run->warnings, 0);
  fail_unless (run->decoded->len <= HANDFUL, "decoded %u frames",
      run->decoded->len);
  /* every GOP served: only the first frame, decoded before memmapcache
   * knew the stream, comes from the decoder */
  fail_unless_equals_uint64 (stat_u64 (run, "hits"), 3);
  fail_unless_equals_uint64 (stat_u64 (run, "misses"), 0);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-served") +
      stat_u64 (run, "frames-decoded"), N_FRAMES);
  fail_unless (stat_u64 (run, "frames-served") >= N_FRAMES - HANDFUL);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), 0);
  /* the decoder's tags still reach downstream */
  fail_unless (run->codec_tag);
  GST_INFO ("second pass: the decoder decoded %u frames", run->decoded->len);
  run_free (run);

  g_free (cache_dir);
}

GST_END_TEST;

/* An engine with small windows: every frame of a cached pass needs a
 * window of its own, mapped long after the store was opened. */
GST_START_TEST (test_small_windows)
{
  gchar *cache_dir = test_path ("cache");
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstContext *context;
  guint pass;

  g_object_set (engine, "window-size", (guint64) 256 * 1024, NULL);
  context = gst_memmap_engine_context_new (engine);
  for (pass = 0; pass < 2; pass++) {
    Run *run = run_new (clip, cache_dir, NULL);

    gst_element_set_context (run->pipeline, context);
    run_play (run);
    assert_frames (run, 0, N_FRAMES);
    fail_unless_equals_int (run->warnings, 0);
    if (pass) {
      fail_unless_equals_uint64 (stat_u64 (run, "frames-served") +
          stat_u64 (run, "frames-decoded"), N_FRAMES);
    } else {
      fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
    }
    run_free (run);
  }
  gst_context_unref (context);
  gst_object_unref (engine);
  g_free (cache_dir);
}

GST_END_TEST;

/* Cache [0, 1.2 s) and [2 s, 3 s), then seek to 0.5 s: served from the
 * cache up to 1.2 s, upstream from there to 2 s, the cache again after. */
GST_START_TEST (test_seek_into_cache_and_past_it)
{
  gchar *cache_dir = test_path ("cache");
  GstClockTime t1 = 1200 * GST_MSECOND, t2 = 2 * GST_SECOND;
  guint i1 = frame_index (t1), i2 = frame_index (t2), i05;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  run_pause (run);
  run_seek (run, 0, t1);
  run_play (run);
  assert_frames (run, 0, i1);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), i1);

  /* not cached: upstream */
  run_seek (run, t2, GST_CLOCK_TIME_NONE);
  run_wait_eos (run);
  assert_frames (run, i2, N_FRAMES - i2);
  fail_unless (decoded_in (run, t2, 3 * GST_SECOND) >= N_FRAMES - i2);

  /* back into the cache: the GOP [0, 1 s) is cached whole, nothing of it
   * decoded; the GOP [1 s, 2 s) is decoded, then the cache again at 2 s */
  i05 = frame_index (GST_SECOND / 2);
  run_seek (run, GST_SECOND / 2, GST_CLOCK_TIME_NONE);
  run_wait_eos (run);
  assert_frames (run, i05, N_FRAMES - i05);
  fail_unless (run->all_memmap);
  fail_unless_equals_int (decoded_in (run, GST_SECOND / 2, GST_SECOND), 0);
  fail_unless (decoded_in (run, t1, t2) >= i2 - i1);
  fail_unless (decoded_in (run, t2, 3 * GST_SECOND) <= HANDFUL,
      "decoded %u frames of the cached [2 s, 3 s)",
      decoded_in (run, t2, 3 * GST_SECOND));
  fail_unless_equals_int (run->warnings, 0);
  GST_INFO ("stats: hits %" G_GUINT64_FORMAT " misses %" G_GUINT64_FORMAT
      " served %" G_GUINT64_FORMAT " recorded %" G_GUINT64_FORMAT,
      stat_u64 (run, "hits"), stat_u64 (run, "misses"),
      stat_u64 (run, "frames-served"), stat_u64 (run, "frames-recorded"));
  /* every frame recorded once: [0, 1.2), [2, 3), then [1.2, 2) */
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);

  /* all cached now: a seek anywhere costs the decoder nothing */
  run_seek (run, 1500 * GST_MSECOND, GST_CLOCK_TIME_NONE);
  run_wait_eos (run);
  i05 = frame_index (1500 * GST_MSECOND);
  assert_frames (run, i05, N_FRAMES - i05);
  fail_unless_equals_int (run->decoded->len, 0);
  run_free (run);

  /* and the next run plays it all from the cache */
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->decoded->len <= HANDFUL);
  run_free (run);

  g_free (cache_dir);
}

GST_END_TEST;

/* Seeks in quick succession while playing, some into the cache, some
 * past it, some during a hand-over: no deadlock, no error, and after a
 * last seek every frame is right, once and in order. */
GST_START_TEST (test_seek_storm)
{
  gchar *cache_dir = test_path ("cache");
  GRand *rand = g_rand_new_with_seed (7);
  guint i, n = g_getenv ("MEMMAP_UNDER_VALGRIND") ? 10 : 60;
  GstClockTime target;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  run_pause (run);
  run_seek (run, 0, GST_SECOND);
  run_play (run);
  for (i = 0; i < n; i++) {
    target = g_rand_int_range (rand, 0, 2900) * GST_MSECOND;
    fail_unless (gst_element_seek (run->pipeline, 1.0, GST_FORMAT_TIME,
            GST_SEEK_FLAG_FLUSH | (i % 3 ? GST_SEEK_FLAG_ACCURATE : 0),
            GST_SEEK_TYPE_SET, target, GST_SEEK_TYPE_SET, GST_CLOCK_TIME_NONE));
    g_usleep (g_rand_int_range (rand, 0, 4000));
  }

  run_pause (run);
  run_drain_bus (run);
  fail_unless_equals_int (run->warnings, 0);
  target = 1234 * GST_MSECOND;
  run_seek (run, target, GST_CLOCK_TIME_NONE);
  run_play (run);
  i = frame_index (target);
  assert_frames_clipped (run, i, N_FRAMES - i, target);
  fail_unless_equals_int (run->warnings, 0);
  GST_INFO ("after the storm: hits %" G_GUINT64_FORMAT " misses %"
      G_GUINT64_FORMAT " recorded %" G_GUINT64_FORMAT, stat_u64 (run, "hits"),
      stat_u64 (run, "misses"), stat_u64 (run, "frames-recorded"));
  run_free (run);

  /* nothing recorded wrong: a cached pass is the decoder's output */
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  run_free (run);
  assert_stores_valid (cache_dir);

  g_rand_free (rand);
  g_free (cache_dir);
}

GST_END_TEST;

/* The same seeks with videotestsrc as the upstream (no decoder: also a
 * pipeline ThreadSanitizer can watch without libav's noise). Every seek
 * carries a stop of 3 s, since videotestsrc never ends by itself. */
static GPtrArray *
videotestsrc_reference (void)
{
  Run *run = run_new_desc ("videotestsrc pattern=ball ! video/x-raw,"
      "format=I420,width=160,height=120,framerate=30/1 ! identity name=dec ! "
      "fakesink name=sink sync=false signal-handoffs=true");
  GPtrArray *frames;

  run_pause (run);
  run_seek (run, 0, 3 * GST_SECOND);
  run_play (run);
  fail_unless_equals_int (run->frames->len, N_FRAMES);
  frames = g_ptr_array_ref (run->frames);
  run_free (run);
  return frames;
}

GST_START_TEST (test_videotestsrc_seeks)
{
  gchar *cache_dir = test_path ("cache");
  gchar *desc = g_strdup_printf ("videotestsrc pattern=ball ! video/x-raw,"
      "format=I420,width=160,height=120,framerate=30/1 ! identity name=dec ! "
      "memmapcache name=cache key=vts cache-dir=\"%s\" ! fakesink name=sink "
      "sync=false signal-handoffs=true", cache_dir);
  GPtrArray *decoded_ref = reference;
  GstClockTime t1 = 1200 * GST_MSECOND, t2 = 2 * GST_SECOND, end =
      3 * GST_SECOND, target;
  GRand *rand = g_rand_new_with_seed (11);
  guint i, n = g_getenv ("MEMMAP_UNDER_VALGRIND") ? 10 : 40;
  Run *run;

  /* frame_index() and assert_frames() compare with this source's frames */
  reference = videotestsrc_reference ();

  run = run_new_desc (desc);
  run_pause (run);
  run_seek (run, 0, t1);
  run_play (run);
  assert_frames (run, 0, frame_index (t1));
  run_seek (run, t2, end);
  run_wait_eos (run);
  assert_frames (run, frame_index (t2), N_FRAMES - frame_index (t2));

  /* no decoder upstream: nothing skipped, every frame from the source,
   * the same as without memmapcache */
  run_seek (run, GST_SECOND / 2, end);
  run_wait_eos (run);
  assert_frames (run, 15, N_FRAMES - 15);
  fail_unless_equals_int (decoded_in (run, GST_SECOND / 2, end), N_FRAMES - 15);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-served"), 0);

  /* a storm, then a checked segment */
  for (i = 0; i < n; i++) {
    target = g_rand_int_range (rand, 0, 2900) * GST_MSECOND;
    fail_unless (gst_element_seek (run->pipeline, 1.0, GST_FORMAT_TIME,
            GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET,
            target, GST_SEEK_TYPE_SET, end));
    g_usleep (g_rand_int_range (rand, 0, 4000));
  }
  run_pause (run);
  run_drain_bus (run);
  target = 1234 * GST_MSECOND;
  run_seek (run, target, end);
  run_play (run);
  i = frame_index (target);
  /* as videotestsrc gives it: it does not clip as a decoder does */
  assert_frames (run, i, N_FRAMES - i);
  fail_unless_equals_int (run->warnings, 0);
  run_free (run);

  g_ptr_array_unref (reference);
  reference = decoded_ref;
  g_rand_free (rand);
  g_free (desc);
  g_free (cache_dir);
}

GST_END_TEST;

static GstPadProbeReturn
note_upstream_eos (GstPad * pad, GstPadProbeInfo * info, gint * seen)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
    g_atomic_int_set (seen, 1);
  return GST_PAD_PROBE_OK;
}

/* Downstream ends the stream after 10 frames (identity eos-after): the
 * decoder gets GST_FLOW_EOS, and qtdemux then sends an EOS that is not the
 * end of the clip. The cache must not call the stream complete there: the
 * next run plays all of it. */
GST_START_TEST (test_downstream_ends_early)
{
  gchar *cache_dir = test_path ("cache");
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! "
      "h264parse ! avdec_h264 name=dec ! memmapcache name=cache "
      "cache-dir=\"%s\" ! identity eos-after=10 ! fakesink name=sink "
      "sync=false signal-handoffs=true", clip, cache_dir);
  gint seen = 0, i;
  GstPad *pad;
  Run *run;

  run = run_new_desc (desc);
  pad = gst_element_get_static_pad (run->cache, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      (GstPadProbeCallback) note_upstream_eos, &seen, NULL);
  gst_object_unref (pad);
  run_play (run);
  /* the EOS that upstream sends after the flow return */
  for (i = 0; i < 500 && !g_atomic_int_get (&seen); i++)
    g_usleep (10 * 1000);
  fail_unless (g_atomic_int_get (&seen), "no EOS came from upstream");
  run_free (run);

  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 0);
  run_free (run);

  g_free (desc);
  g_free (cache_dir);
}

GST_END_TEST;

/* A seek into the cache while it is still being recorded, and a seek to a
 * frame in the middle of a group of pictures, past the cache. */
GST_START_TEST (test_seek_accurate_mid_gop)
{
  gchar *cache_dir = test_path ("cache");
  GstClockTime target = 1700 * GST_MSECOND + 5 * GST_MSECOND;
  guint i;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  run_pause (run);
  run_seek (run, 0, GST_SECOND);
  run_play (run);
  assert_frames (run, 0, frame_index (GST_SECOND));

  /* past the cache, mid-GOP: upstream, frame-accurately */
  run_seek (run, target, GST_CLOCK_TIME_NONE);
  run_wait_eos (run);
  i = frame_index (target);
  assert_frames_clipped (run, i, N_FRAMES - i, target);

  /* inside a cached frame (not at its start): that frame first */
  target = 400 * GST_MSECOND + 7 * GST_MSECOND;
  run_seek (run, target, GST_CLOCK_TIME_NONE);
  run_wait_eos (run);
  i = frame_index (target);
  assert_frames_clipped (run, i, N_FRAMES - i, target);
  fail_unless_equals_int (decoded_in (run, target, GST_SECOND), 0);
  run_free (run);

  g_free (cache_dir);
}

GST_END_TEST;

/* uridecodebin (a multiqueue between demuxer and decoder): the cached
 * start is served, the hand-over to the decoder and the end work alike. */
/* A seek that goes upstream, then playback reaches cached frames and the
 * rest is served: the EOS that memmapcache pushes itself ends upstream's
 * segment, with the seqnum of that seek (run_wait_eos() waits for it). */
GST_START_TEST (test_forwarded_seek_reaches_cache)
{
  gchar *cache_dir = test_path ("cache");
  GstClockTime t1 = GST_SECOND, t2 = 2 * GST_SECOND;
  guint i1 = frame_index (t1), i2 = frame_index (t2);
  Run *run;

  /* cache [2 s, 3 s) */
  run = run_new (clip, cache_dir, NULL);
  run_pause (run);
  run_seek (run, t2, GST_CLOCK_TIME_NONE);
  run_play (run);
  assert_frames (run, i2, N_FRAMES - i2);

  /* [1 s, 2 s) is not cached: upstream, then the cache from 2 s */
  run_seek (run, t1, GST_CLOCK_TIME_NONE);
  run_wait_eos (run);
  assert_frames (run, i1, N_FRAMES - i1);
  fail_unless (decoded_in (run, t1, t2) >= i2 - i1);
  fail_unless (decoded_in (run, t2, 3 * GST_SECOND) <= HANDFUL,
      "decoded %u frames of the cached [2 s, 3 s)",
      decoded_in (run, t2, 3 * GST_SECOND));
  fail_unless_equals_int (run->warnings, 0);
  run_free (run);

  g_free (cache_dir);
}

GST_END_TEST;

GST_START_TEST (test_uridecodebin)
{
  gchar *cache_dir = test_path ("cache");
  gchar *uri = gst_filename_to_uri (clip, NULL);
  gchar *desc = g_strdup_printf ("uridecodebin uri=\"%s\" ! "
      "memmapcache name=cache cache-dir=\"%s\" ! fakesink name=sink "
      "sync=false signal-handoffs=true", uri, cache_dir);
  Run *run;

  /* [0, 1 s) only */
  run = run_new_desc (desc);
  run_pause (run);
  run_seek (run, 0, GST_SECOND);
  run_play (run);
  assert_frames (run, 0, frame_index (GST_SECOND));
  run_free (run);

  run = run_new_desc (desc);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  /* the GOP [0, 1 s) from the cache */
  fail_unless_equals_uint64 (stat_u64 (run, "hits"), 1);
  fail_unless (stat_u64 (run, "frames-served") >= frame_index (GST_SECOND) -
      HANDFUL);
  fail_unless_equals_int (run->warnings, 0);
  run_free (run);

  /* all of it now */
  run = run_new_desc (desc);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-served") +
      stat_u64 (run, "frames-decoded"), N_FRAMES);
  fail_unless (run->decoded->len <= HANDFUL);
  run_free (run);

  g_free (desc);
  g_free (uri);
  g_free (cache_dir);
}

GST_END_TEST;

/* Reverse playback is neither served from the cache nor recorded: it goes
 * through unchanged, frames right and in reverse order, and memmapcache
 * says once that it does not cache it. */
GST_START_TEST (test_reverse_playback)
{
  gchar *cache_dir = test_path ("cache");
  guint i;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  run_pause (run);
  run_reset (run);
  fail_unless (gst_element_seek (run->pipeline, -1.0, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET, 0,
          GST_SEEK_TYPE_SET, 3 * GST_SECOND));
  run_play (run);
  g_mutex_lock (&run->lock);
  fail_unless_equals_int (run->frames->len, N_FRAMES);
  for (i = 0; i < N_FRAMES; i++) {
    Frame *got = g_ptr_array_index (run->frames, i);
    Frame *want = g_ptr_array_index (reference, N_FRAMES - 1 - i);

    fail_unless_equals_uint64 (got->pts, want->pts);
    fail_unless_equals_string (got->sum, want->sum);
  }
  g_mutex_unlock (&run->lock);
  fail_unless_equals_int (run->warnings, 1);
  fail_unless (strstr (run->warning, "rate") != NULL, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-served"), 0);
  /* the first frame, prerolled before the seek, at rate 1.0 */
  fail_unless (stat_u64 (run, "frames-recorded") <= 1);
  run_free (run);

  /* so the next run decodes it all */
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->decoded->len, N_FRAMES);
  run_free (run);
  g_free (cache_dir);
}

GST_END_TEST;

GST_START_TEST (test_changed_input_invalidates)
{
  gchar *cache_dir = test_path ("cache");
  gchar *file = copy_clip ("input.mp4");
  struct timespec times[2] = { {0, UTIME_OMIT}, {0, 0} };
  struct stat st;
  Run *run;

  run = run_new (file, cache_dir, NULL);
  run_play (run);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  run_free (run);

  run = run_new (file, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->decoded->len <= HANDFUL);
  run_free (run);

  /* a new mtime: another stream, decoded and recorded anew */
  fail_unless (stat (file, &st) == 0);
  times[1].tv_sec = st.st_mtim.tv_sec + 10;
  fail_unless (utimensat (AT_FDCWD, file, times, 0) == 0);
  run = run_new (file, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->decoded->len, N_FRAMES);
  fail_unless (stat_u64 (run, "misses") >= 1);
  fail_unless_equals_uint64 (stat_u64 (run, "hits"), 0);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  run_free (run);

  /* the key property overrides the source's identity */
  run = run_new (file, cache_dir, "key=my-clip");
  run_play (run);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  run_free (run);
  {
    gchar *other = copy_clip ("other-name.mp4");

    run = run_new (other, cache_dir, "key=my-clip");
    run_play (run);
    assert_frames (run, 0, N_FRAMES);
    fail_unless (run->decoded->len <= HANDFUL);
    run_free (run);
    g_free (other);
  }

  g_free (file);
  g_free (cache_dir);
}

GST_END_TEST;

/* The decoder's output is copied into a slot when it does not use the
 * pool; downstream still gets memmap memory. */
static GstPadProbeReturn
drop_allocation_query (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  if (GST_QUERY_TYPE (GST_PAD_PROBE_INFO_QUERY (info)) == GST_QUERY_ALLOCATION)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_copy_path)
{
  gchar *cache_dir = test_path ("cache");
  GstElement *dec;
  GstPad *pad;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  dec = gst_bin_get_by_name (GST_BIN (run->pipeline), "dec");
  pad = gst_element_get_static_pad (dec, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
      drop_allocation_query, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (dec);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->all_memmap);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-copied"), N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-zero-copy"), 0);
  run_free (run);
  g_free (cache_dir);
}

GST_END_TEST;

/* A producer that takes the slot pool renders straight into the cache:
 * no copy. videotestsrc's stream id is random, so the key property names
 * the stream. Both passes are compared with the producer's own output
 * (the same pipeline without memmapcache). */
#define ZERO_COPY_SRC "videotestsrc num-buffers=30 pattern=ball ! " \
    "video/x-raw,format=I420,width=320,height=240,framerate=30/1"
GST_START_TEST (test_zero_copy_producer)
{
  gchar *cache_dir = test_path ("cache");
  gchar *desc = g_strdup_printf (ZERO_COPY_SRC " ! memmapcache name=cache "
      "key=vts cache-dir=\"%s\" ! fakesink name=sink sync=false "
      "signal-handoffs=true", cache_dir);
  Run *ref = run_new_desc (ZERO_COPY_SRC " ! fakesink name=sink sync=false "
      "signal-handoffs=true");
  guint pass, i;

  run_play (ref);
  fail_unless_equals_int (ref->frames->len, 30);

  for (pass = 0; pass < 2; pass++) {
    Run *run = g_new0 (Run, 1);
    GstElement *sink;

    g_mutex_init (&run->lock);
    g_cond_init (&run->cond);
    run->frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
        frame_free);
    run->decoded = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
    run->all_memmap = TRUE;
    run->pipeline = gst_parse_launch (desc, NULL);
    fail_unless (run->pipeline != NULL);
    sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "sink");
    g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), run);
    gst_object_unref (sink);
    run->cache = gst_bin_get_by_name (GST_BIN (run->pipeline), "cache");
    run_play (run);
    fail_unless_equals_int (run->frames->len, 30);
    fail_unless (run->all_memmap);
    fail_unless_equals_int (run->warnings, 0);
    for (i = 0; i < 30; i++) {
      Frame *want = g_ptr_array_index (ref->frames, i);
      Frame *got = g_ptr_array_index (run->frames, i);

      fail_unless_equals_uint64 (got->pts, want->pts);
      fail_unless_equals_string (got->sum, want->sum);
    }
    if (pass == 0) {
      /* every frame rendered into a slot: zero-copy, all of them */
      fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), 30);
      fail_unless_equals_uint64 (stat_u64 (run, "frames-zero-copy"), 30);
      fail_unless_equals_uint64 (stat_u64 (run, "frames-copied"), 0);
    } else {
      /* no decoder upstream: nothing to skip, the source's frames go
       * downstream as the cached slots */
      fail_unless_equals_uint64 (stat_u64 (run, "frames-served"), 0);
      fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), 0);
    }
    run_free (run);
  }
  run_free (ref);
  g_free (desc);
  g_free (cache_dir);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* budget and eviction                                                      */

typedef struct
{
  Run *run;
  GThread *thread;
} Player;

static gpointer
play_thread (gpointer data)
{
  run_play (data);
  return NULL;
}

static void
release (Run * run)
{
  g_mutex_lock (&run->lock);
  run->released = TRUE;
  g_cond_broadcast (&run->cond);
  g_mutex_unlock (&run->lock);
}

static void
wait_barrier (Run * run)
{
  g_mutex_lock (&run->lock);
  while (!run->at_barrier)
    g_cond_wait (&run->cond, &run->lock);
  g_mutex_unlock (&run->lock);
}

/* The bytes on disk of a directory tree. */
static guint64
disk_usage (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;
  guint64 total = 0;
  struct stat st;

  if (dir == NULL)
    return lstat (path, &st) == 0 ? (guint64) st.st_blocks * 512 : 0;
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *child = g_build_filename (path, name, NULL);

    total += disk_usage (child);
    g_free (child);
  }
  g_dir_close (dir);
  return total;
}

static guint
count_entries (const gchar * cache_dir)
{
  GDir *dir = g_dir_open (cache_dir, 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

/* Every store in the cache directory opens and every frame's entry is
 * valid. Returns how many frames they hold. */
static guint64
assert_stores_valid (const gchar * cache_dir)
{
  GDir *dir = g_dir_open (cache_dir, 0, NULL);
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  const gchar *name;
  guint64 total = 0;

  fail_unless (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *entry = g_build_filename (cache_dir, name, NULL);
    GDir *d = g_dir_open (entry, 0, NULL);
    const gchar *file;

    fail_unless (d != NULL, "%s", entry);
    while ((file = g_dir_read_name (d)) != NULL) {
      gchar *path;
      GstMemmapStoreReader *reader;
      GError *error = NULL;
      guint64 f, n;

      if (!g_str_has_suffix (file, ".store"))
        continue;
      path = g_build_filename (entry, file, NULL);
      reader = gst_memmap_store_reader_open (engine, path, &error);
      fail_unless (reader != NULL, "%s: %s", path, error->message);
      n = gst_memmap_store_reader_get_committed (reader);
      for (f = 0; f < n; f++) {
        GstMemmapStoreEntry e;

        fail_unless (gst_memmap_store_reader_get_entry (reader, f, &e,
                &error), "%s", error ? error->message : "");
      }
      total += n;
      gst_memmap_store_reader_unref (reader);
      g_free (path);
    }
    g_dir_close (d);
    g_free (entry);
  }
  g_dir_close (dir);
  gst_object_unref (engine);
  return total;
}

/* Two pipelines play the same stream at once: the second does not record
 * (one recorder per stream), serves what the first had committed when it
 * opened the stream, and passes the rest through uncached. */
GST_START_TEST (test_same_stream_twice_at_once)
{
  gchar *cache_dir = test_path ("cache");
  Player pa;
  Run *run;

  pa.run = run_new (clip, cache_dir, NULL);
  pa.run->barrier_at = N_FRAMES / 2;
  pa.thread = g_thread_new ("a", play_thread, pa.run);
  wait_barrier (pa.run);

  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 0);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), 0);
  /* what a had committed, whole GOPs of it (its sink holds one more
   * frame at the barrier): the first GOP */
  fail_unless_equals_uint64 (stat_u64 (run, "hits"), 1);
  fail_unless (stat_u64 (run, "frames-served") >= 30 - HANDFUL);
  fail_unless (stat_u64 (run, "frames-served") < N_FRAMES);
  GST_INFO ("b served %" G_GUINT64_FORMAT " frames, the decoder decoded %u",
      stat_u64 (run, "frames-served"), run->decoded->len);
  run_free (run);

  release (pa.run);
  g_thread_join (pa.thread);
  assert_frames (pa.run, 0, N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (pa.run, "frames-recorded"), N_FRAMES);
  run_free (pa.run);
  assert_stores_valid (cache_dir);

  /* a recorded it all */
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->decoded->len <= HANDFUL);
  run_free (run);

  g_free (cache_dir);
}

GST_END_TEST;

GST_START_TEST (test_eviction_two_pipelines)
{
  gchar *cache_dir = test_path ("cache");
  gchar *a = copy_clip ("a.mp4"), *b = copy_clip ("b.mp4");
  gchar *c = copy_clip ("c.mp4"), *d = copy_clip ("d.mp4");
  /* 320x240 I420 takes slots of 118,784 bytes (about 8.8 a MiB): a whole
   * clip of 90 frames is about 10.7 MB, which fits (a stream known not to
   * fit is not recorded at all), but not with the halves of two others */
  guint64 max_size = 16 << 20;
  gchar *props = g_strdup_printf ("max-size=%" G_GUINT64_FORMAT, max_size);
  Player pa, pb;
  Run *run;

  /* a and b record at once; both stop half-way until c has run */
  pa.run = run_new (a, cache_dir, props);
  pb.run = run_new (b, cache_dir, props);
  pa.run->barrier_at = pb.run->barrier_at = N_FRAMES / 2;
  pa.thread = g_thread_new ("a", play_thread, pa.run);
  pb.thread = g_thread_new ("b", play_thread, pb.run);
  wait_barrier (pa.run);
  wait_barrier (pb.run);
  fail_unless_equals_int (count_entries (cache_dir), 2);

  /* c wants room: a and b are busy, so they stay and c records only what
   * fits */
  run = run_new (c, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  fail_unless (stat_u64 (run, "frames-recorded") < N_FRAMES);
  GST_INFO ("c recorded %" G_GUINT64_FORMAT " frames",
      stat_u64 (run, "frames-recorded"));
  fail_unless_equals_int (run->warnings, 0);
  run_free (run);

  release (pa.run);
  release (pb.run);
  g_thread_join (pa.thread);
  g_thread_join (pb.thread);
  assert_frames (pa.run, 0, N_FRAMES);
  assert_frames (pb.run, 0, N_FRAMES);
  fail_unless_equals_int (pa.run->warnings + pb.run->warnings, 0);
  GST_INFO ("a recorded %" G_GUINT64_FORMAT ", evicted %" G_GUINT64_FORMAT
      "; b recorded %" G_GUINT64_FORMAT ", evicted %" G_GUINT64_FORMAT,
      stat_u64 (pa.run, "frames-recorded"), stat_u64 (pa.run, "evictions"),
      stat_u64 (pb.run, "frames-recorded"), stat_u64 (pb.run, "evictions"));
  run_free (pa.run);
  run_free (pb.run);
  assert_stores_valid (cache_dir);

  /* nobody uses anything now: d evicts the least recently used */
  run = run_new (d, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (stat_u64 (run, "evictions") >= 1);
  run_free (run);
  assert_stores_valid (cache_dir);
  GST_INFO ("%" G_GUINT64_FORMAT " bytes on disk, max-size %"
      G_GUINT64_FORMAT, disk_usage (cache_dir), max_size);
  /* over by at most a chunk each of the pipelines that ran at once */
  fail_unless (disk_usage (cache_dir) <= max_size + 3 * (max_size / 16) +
      (64 << 10));

  /* what survived still plays from the cache, right */
  run = run_new (d, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  run_free (run);

  g_free (props);
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (d);
  g_free (cache_dir);
}

GST_END_TEST;

/* The entry of @cache_dir that is neither @a nor @b (either may be NULL). */
static gchar *
other_entry (const gchar * cache_dir, const gchar * a, const gchar * b)
{
  GDir *dir = g_dir_open (cache_dir, 0, NULL);
  const gchar *name;
  gchar *entry = NULL;

  fail_unless (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *path = g_build_filename (cache_dir, name, NULL);

    if (g_strcmp0 (path, a) == 0 || g_strcmp0 (path, b) == 0) {
      g_free (path);
      continue;
    }
    fail_unless (entry == NULL, "more than one other entry");
    entry = path;
  }
  g_dir_close (dir);
  fail_unless (entry != NULL);
  return entry;
}

/* A pipeline closing its stream over max-size evicts the others, least
 * recently used first, never the stream it just closed (its last chunk
 * reserved whole counts on disk): d (idle, the oldest) goes, a is in use
 * and stays, and so does c, just recorded, although the directory is
 * still over c's max-size. A run that reads c whole, alone over its
 * smaller max-size, keeps it too. */
GST_START_TEST (test_close_keeps_own_stream)
{
  gchar *cache_dir = test_path ("cache");
  gchar *a = copy_clip ("a.mp4"), *c = copy_clip ("c.mp4");
  gchar *d = copy_clip ("d.mp4");
  /* c's budget: room for d and all of c, not for a and c together (a clip
   * is ~10.7 MB decoded) */
  guint64 max_size = 20 << 20;
  gchar *props = g_strdup_printf ("max-size=%" G_GUINT64_FORMAT, max_size);
  gchar *entry_a, *entry_c, *entry_d, *desc;
  Run *run, *run_a;

  /* d: part of a clip (downstream stops it), idle from then on */
  desc = g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! h264parse ! "
      "avdec_h264 name=dec ! memmapcache name=cache cache-dir=\"%s\" "
      "max-size=67108864 ! identity eos-after=25 ! fakesink name=sink "
      "sync=false signal-handoffs=true", d, cache_dir);
  run = run_new_desc (desc);
  g_free (desc);
  run_play (run);
  fail_unless (stat_u64 (run, "frames-recorded") > 0);
  run_free (run);
  entry_d = only_entry (cache_dir);

  /* c recorded whole; the pipeline stays in PLAYING, c open */
  run = run_new (c, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  entry_c = other_entry (cache_dir, entry_d, NULL);

  /* a recorded whole under a larger budget, and in use */
  run_a = run_new (a, cache_dir, "max-size=67108864");
  run_play (run_a);
  assert_frames (run_a, 0, N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run_a, "frames-recorded"), N_FRAMES);
  fail_unless_equals_uint64 (stat_u64 (run_a, "evictions"), 0);
  entry_a = other_entry (cache_dir, entry_d, entry_c);
  GST_INFO ("d %" G_GUINT64_FORMAT ", c %" G_GUINT64_FORMAT ", a %"
      G_GUINT64_FORMAT " bytes on disk", disk_usage (entry_d),
      disk_usage (entry_c), disk_usage (entry_a));
  fail_unless (disk_usage (entry_c) + disk_usage (entry_a) > max_size);

  /* c closes over max-size: d goes, a is busy, c stays */
  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  fail_if (g_file_test (entry_d, G_FILE_TEST_EXISTS), "d was not evicted");
  fail_unless (g_file_test (entry_c, G_FILE_TEST_IS_DIR),
      "c was evicted by its own close");
  fail_unless (g_file_test (entry_a, G_FILE_TEST_IS_DIR));
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 1);
  fail_unless (stat_u64 (run, "bytes-on-disk") > max_size);
  run_free (run);
  run_free (run_a);
  assert_stores_valid (cache_dir);

  /* c whole from the cache; closing, it evicts a (idle now), not c */
  run = run_new (c, cache_dir, props);
  run_play (run);
  assert_served_whole (run);
  fail_unless (run->decoded->len <= HANDFUL, "decoded %u frames",
      run->decoded->len);
  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 1);
  fail_if (g_file_test (entry_a, G_FILE_TEST_EXISTS), "a was not evicted");
  fail_unless (g_file_test (entry_c, G_FILE_TEST_IS_DIR));
  run_free (run);

  /* c read under a max-size it alone is over: still kept */
  run = run_new (c, cache_dir, "max-size=4194304");
  run_play (run);
  assert_served_whole (run);
  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  run_free (run);
  fail_unless (g_file_test (entry_c, G_FILE_TEST_IS_DIR),
      "c was evicted by its own close");
  fail_unless_equals_uint64 (assert_stores_valid (cache_dir), N_FRAMES);

  g_free (entry_a);
  g_free (entry_c);
  g_free (entry_d);
  g_free (props);
  g_free (a);
  g_free (c);
  g_free (d);
  g_free (cache_dir);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* the budget policy                                                        */

static gboolean
stat_bool (Run * run, const gchar * name)
{
  GstStructure *s;
  gboolean v = FALSE;

  g_object_get (run->cache, "stats", &s, NULL);
  fail_unless (gst_structure_get_boolean (s, name, &v), "no %s", name);
  gst_structure_free (s);
  return v;
}

/* @n frames of videotestsrc named @key, 320x240 I420 (slots of 118,784
 * bytes); with @live, ended by an identity downstream (no duration: a
 * stream of unknown size), else by num-buffers (its duration known); or
 * with @file
 * the clip (known duration) scaled to 640x480 (460,800 bytes a frame:
 * 41 MB). */
static Run *
budget_run (const gchar * key, guint n, gboolean live, const gchar * file,
    const gchar * cache_dir, guint64 max_size)
{
  gchar *desc;
  Run *run;

  if (file)
    desc = g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! h264parse ! "
        "avdec_h264 name=dec ! videoscale ! video/x-raw,width=640,height=480 "
        "! memmapcache name=cache cache-dir=\"%s\" max-size=%" G_GUINT64_FORMAT
        " ! fakesink name=sink sync=false signal-handoffs=true", file,
        cache_dir, max_size);
  else
    desc = g_strdup_printf ("videotestsrc %s=%u pattern=ball ! "
        "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
        "memmapcache name=cache cache-dir=\"%s\" max-size=%"
        G_GUINT64_FORMAT " key=%s ! %s fakesink name=sink sync=false "
        "signal-handoffs=true", live ? "timestamp-offset" : "num-buffers",
        live ? 0 : n, cache_dir, max_size, key,
        live ? "identity name=end !" : "");
  run = run_new_desc (desc);
  g_free (desc);
  if (live) {
    GstElement *end = gst_bin_get_by_name (GST_BIN (run->pipeline), "end");

    /* (the buffer that reaches eos-after is not pushed) */
    g_object_set (end, "eos-after", n + 1, NULL);
    gst_object_unref (end);
  }
  run_play (run);
  fail_unless_equals_int (run->frames->len, file ? N_FRAMES : n);
  return run;
}

/* A small stream, recorded whole (or served whole) with nothing evicted. */
static void
play_small (const gchar * key, const gchar * cache_dir, guint64 max_size,
    gboolean cached)
{
  Run *run = budget_run (key, 10, FALSE, NULL, cache_dir, max_size);

  fail_unless (run->warnings == 0, "%s: %s", key, run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  fail_if (stat_bool (run, "over-budget"));
  /* cached: nothing recorded again (no decoder upstream, so nothing is
   * served either: the frames go through as they are) */
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"),
      cached ? 0 : 10);
  run_free (run);
}

/* One big stream (@live: of unknown size, else known to be over
 * max-size) between small ones, twice: the small ones stay cached, the big
 * one takes half of max-size at most and nothing is evicted. */
static void
big_between_small (const gchar * cache_dir, const gchar * big,
    gboolean live, guint64 max_size)
{
  guint64 fragment;
  guint round;
  Run *run;

  /* two small streams (1.2 MB each) */
  play_small ("small-1", cache_dir, max_size, FALSE);
  play_small ("small-2", cache_dir, max_size, FALSE);

  for (round = 0; round < 2; round++) {
    if (live) {
      /* 200 frames, 23.8 MB: it may evict, but up to half of max-size */
      run = budget_run ("big-live", 200, TRUE, NULL, cache_dir, max_size);
    } else {
      /* 3 s of 640x480: 41 MB: only its start, in free room */
      run = budget_run (NULL, 0, FALSE, big, cache_dir, max_size);
    }
    fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
    fail_unless (stat_bool (run, "over-budget"));
    fail_unless_equals_int (run->warnings, 1);
    fail_unless (strstr (run->warning, live ? "unknown length" :
            "does not fit") != NULL, "%s", run->warning);
    /* a closed store gives back its unused reservation (format 1.1), so
     * a later round may record a little more of the big stream into the
     * room that freed: the whole fragment still stays under its share */
    fragment = stat_u64 (run, "frames-recorded");
    if (round > 0)
      fragment += stat_u64 (run, "frames-served");
    GST_INFO ("round %u: the big stream's fragment: %" G_GUINT64_FORMAT
        " frames", round, fragment);
    /* (a later round of the stream without a decoder, videotestsrc,
     * serves nothing and may find its share recorded already) */
    fail_unless ((round > 0 && live) || fragment > 0);
    fail_unless (fragment * (live ? 118784 : 462848) <= max_size / 2,
        "%" G_GUINT64_FORMAT " frames", fragment);
    run_free (run);

    /* the small ones are still there, and the next small one finds room
     * without evicting anything */
    play_small ("small-1", cache_dir, max_size, TRUE);
    play_small ("small-2", cache_dir, max_size, TRUE);
    play_small ("small-3", cache_dir, max_size, round > 0);
  }
  fail_unless (disk_usage (cache_dir) <= max_size, "%" G_GUINT64_FORMAT
      " bytes on disk", disk_usage (cache_dir));
  assert_stores_valid (cache_dir);
}

/* Issue 11: a stream larger than max-size evicted every other stream and
 * then cached only part of itself; the next small clip evicted it again
 * (thrash). Now a stream known not to fit evicts nothing (only its start
 * goes into free room), one of unknown size stops at half of max-size; the
 * small streams stay cached through both, again and again. */
GST_START_TEST (test_budget_no_thrash)
{
  gchar *cache_known = test_path ("cache-known");
  gchar *cache_live = test_path ("cache-live");
  gchar *cache_full = test_path ("cache-full");
  gchar *big = copy_clip ("big.mp4");
  gchar *filler = copy_clip ("filler.mp4");
  Run *run;

  /* (32 MiB: half of it holds more than the 16 frames memmapcache needs to
   * serve the fragment) */
  big_between_small (cache_known, big, FALSE, 32 << 20);
  big_between_small (cache_live, NULL, TRUE, 16 << 20);

  /* less free room than half of max-size: a stream known not to fit still
   * evicts nothing, a clip that fits (10.7 MB) stays whole */
  run = run_new (filler, cache_full, "max-size=16777216");
  run_play (run);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  run_free (run);
  run = budget_run (NULL, 0, FALSE, big, cache_full, 16 << 20);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  fail_unless (stat_bool (run, "over-budget"));
  run_free (run);
  run = run_new (filler, cache_full, "max-size=16777216");
  run_play (run);
  assert_served_whole (run);
  run_free (run);

  g_free (filler);
  g_free (cache_full);
  g_free (big);
  g_free (cache_known);
  g_free (cache_live);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* failures                                                                 */

GST_START_TEST (test_unusable_cache_dir)
{
  gchar *file = test_path ("not-a-dir");
  gchar *cache_dir = g_build_filename (file, "cache", NULL);
  Run *run;

  fail_unless (g_file_set_contents (file, "x", 1, NULL));
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 1);
  fail_unless (strstr (run->warning, cache_dir) != NULL, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), 0);
  run_free (run);

  g_free (cache_dir);
  g_free (file);
}

GST_END_TEST;

/* The only subdirectory of @cache_dir (a stream's entry). */
static gchar *
only_entry (const gchar * cache_dir)
{
  GDir *dir = g_dir_open (cache_dir, 0, NULL);
  const gchar *name;
  gchar *entry = NULL;

  fail_unless (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    fail_unless (entry == NULL, "more than one entry");
    entry = g_build_filename (cache_dir, name, NULL);
  }
  g_dir_close (dir);
  fail_unless (entry != NULL);
  return entry;
}

/* Symbolic links planted in the cache directory are never followed: an
 * entry that is a link is refused (one warning, no cache), a store that is
 * a link is ignored. */
GST_START_TEST (test_symlinks_not_followed)
{
  gchar *cache_dir = test_path ("cache");
  gchar *target = test_path ("elsewhere");
  gchar *victim = test_path ("victim");
  gchar *entry, *real, *link, *contents;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  run_free (run);
  entry = only_entry (cache_dir);
  real = g_strconcat (entry, ".real", NULL);

  /* the entry replaced by a link to another directory */
  fail_unless (g_rename (entry, real) == 0);
  fail_unless (g_mkdir (target, 0700) == 0);
  fail_unless (symlink (target, entry) == 0);
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 1);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), 0);
  run_free (run);
  fail_unless_equals_int (count_entries (target), 0);
  fail_unless (g_unlink (entry) == 0);
  fail_unless (g_rename (real, entry) == 0);

  /* a store name that is a link to a file of ours */
  fail_unless (g_file_set_contents (victim, "precious", -1, NULL));
  link = g_build_filename (entry, "s000007.store", NULL);
  fail_unless (symlink (victim, link) == 0);
  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 0);
  fail_unless (run->decoded->len <= HANDFUL);
  run_free (run);
  fail_unless (g_file_get_contents (victim, &contents, NULL, NULL));
  fail_unless_equals_string (contents, "precious");
  g_free (contents);

  g_free (link);
  g_free (real);
  g_free (entry);
  g_free (victim);
  g_free (target);
  g_free (cache_dir);
}

GST_END_TEST;

/* A store that is not one: one warning, playback goes on, and the next
 * run records afresh. */
GST_START_TEST (test_corrupt_store)
{
  gchar *cache_dir = test_path ("cache");
  GDir *dir;
  const gchar *name;
  gchar *store = NULL;
  Run *run;

  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  run_free (run);

  dir = g_dir_open (cache_dir, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    store = g_build_filename (cache_dir, name, "s000000.store", NULL);
  g_dir_close (dir);
  fail_unless (store && g_file_test (store, G_FILE_TEST_EXISTS));
  {
    FILE *f = fopen (store, "r+");

    fail_unless (f != NULL);
    fwrite ("garbage!", 1, 8, f);
    fclose (f);
  }

  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 1);
  fail_unless (strstr (run->warning, store) != NULL, "%s", run->warning);
  fail_unless_equals_int (run->decoded->len, N_FRAMES);
  run_free (run);

  run = run_new (clip, cache_dir, NULL);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless_equals_int (run->warnings, 0);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  run_free (run);

  g_free (store);
  g_free (cache_dir);
}

GST_END_TEST;

/* The child (run as a check test, see main()): plays CLIP through
 * memmapcache into CACHE-DIR with PROPS (CHILD_ENV = "CLIP\nCACHE-DIR\n
 * PROPS") and prints "frames N\nwarnings N\nsums OK|BAD\nrecorded N\n
 * served N\ndecoded-in-served N\nevictions N\n" and the first warning
 * (decoded-in-served: the frames the decoder decoded among the first
 * "served" of the clip, those a run from the start serves). With
 * CHILD_PACE_ENV, to be killed: "frame N" at every frame, and a wait at the
 * end; with CHILD_BARRIER_ENV, "barrier" and a wait for the parent. */
GST_START_TEST (test_child)
{
  gchar **argv = g_strsplit (g_getenv (CHILD_ENV), "\n", 3);
  guint i, bad = 0;
  guint64 served;
  GstClockTime end = 0;
  Run *run;

  fail_unless_equals_int (g_strv_length (argv), 3);
  run = run_new (clip, argv[1], argv[2]);
  run_play (run);
  /* a child paced to be killed waits for it, even once done (not for
   * ever, should the parent have failed first) */
  if (child_pace)
    g_usleep (30 * G_USEC_PER_SEC);
  for (i = 0; i < run->frames->len && i < reference->len; i++) {
    Frame *got = g_ptr_array_index (run->frames, i);
    Frame *want = g_ptr_array_index (reference, i);

    if (got->pts != want->pts || strcmp (got->sum, want->sum) != 0)
      bad++;
  }
  served = stat_u64 (run, "frames-served");
  if (served > 0 && served <= reference->len)
    end = ((Frame *) g_ptr_array_index (reference, served - 1))->pts +
        FRAME_DURATION;
  g_print ("frames %u\nwarnings %u\nsums %s\nrecorded %" G_GUINT64_FORMAT
      "\nserved %" G_GUINT64_FORMAT "\ndecoded-in-served %u\nevictions %"
      G_GUINT64_FORMAT "\n%s\n", run->frames->len, run->warnings,
      bad ? "BAD" : "OK", stat_u64 (run, "frames-recorded"), served,
      decoded_in (run, 0, end), stat_u64 (run, "evictions"),
      run->warning ? run->warning : "");
  run_free (run);
  g_strfreev (argv);
}

GST_END_TEST;

static void
limit_file_size (gpointer user_data)
{
  struct rlimit limit = { 3 << 20, 3 << 20 };

  signal (SIGXFSZ, SIG_IGN);
  setrlimit (RLIMIT_FSIZE, &limit);
}

/* The environment of a child that runs test_child on @file. */
static gchar **
child_environ_file (const gchar * file, const gchar * cache_dir,
    const gchar * props)
{
  gchar *args = g_strdup_printf ("%s\n%s\n%s", file, cache_dir, props);
  gchar **envp;

  envp = g_environ_setenv (g_get_environ (), CHILD_ENV, args, TRUE);
  g_free (args);
  /* the child makes files: the leaks tracer is for this process */
  envp = g_environ_unsetenv (envp, "GST_TRACERS");
  envp = g_environ_setenv (envp, "CK_FORK", "no", TRUE);
  /* the child runs its one test whatever this run selected */
  envp = g_environ_unsetenv (envp, "GST_CHECKS");
  envp = g_environ_unsetenv (envp, "GST_CHECKS_IGNORE");
  envp = g_environ_unsetenv (envp, CHILD_BARRIER_ENV);
  return g_environ_unsetenv (envp, CHILD_PACE_ENV);
}

/* The environment of a child that runs test_child on the clip. */
static gchar **
child_environ (const gchar * cache_dir, const gchar * props)
{
  return child_environ_file (clip, cache_dir, props);
}

/* Spawns this program as a child that plays through the cache. With
 * @mount_options, on a tmpfs of its own at @cache_dir; with @lift_options
 * too, the child plays three times on that tmpfs: as it is mounted, again
 * (the output says "--- again" first), and once more after a remount with
 * @lift_options ("--- lifted"). */
static gchar *
spawn_child_full (const gchar * cache_dir, const gchar * props,
    GSpawnChildSetupFunc child_setup, const gchar * mount_options,
    const gchar * lift_options)
{
  gchar *self, **envp, *out = NULL, *err = NULL;
  GError *error = NULL;
  gint status;

  /* this very test program (valgrind answers readlink with it too) */
  self = g_file_read_link ("/proc/self/exe", NULL);
  fail_unless (self != NULL);
  envp = child_environ (cache_dir, props);
  if (mount_options) {
    /* a file system of our own on the cache directory, in a user and mount
     * namespace: works without privileges where user namespaces are
     * allowed */
    const gchar *argv[] = { "unshare", "-rm", "sh", "-c",
      lift_options ? "mount -t tmpfs -o \"$0\" none \"$1\" && \"$2\" && "
          "echo '--- again' && \"$2\" && echo '--- lifted' && "
          "mount -o \"remount,$3\" none \"$1\" && exec \"$2\"" :
          "mount -t tmpfs -o \"$0\" none \"$1\" && exec \"$2\"",
      mount_options, cache_dir, self, lift_options, NULL
    };

    fail_unless (g_spawn_sync (NULL, (gchar **) argv, envp,
            G_SPAWN_SEARCH_PATH, child_setup, NULL, &out, &err, &status,
            &error), "%s", error ? error->message : "");
  } else {
    gchar *argv[] = { self, NULL };

    fail_unless (g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT,
            child_setup, NULL, &out, &err, &status, &error), "%s",
        error ? error->message : "");
  }
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "the child failed (status %d): %s %s", status, out, err);
  g_strfreev (envp);
  g_free (err);
  g_free (self);
  return out;
}

static gchar *
spawn_child (const gchar * cache_dir, const gchar * props,
    GSpawnChildSetupFunc child_setup)
{
  return spawn_child_full (cache_dir, props, child_setup, NULL, NULL);
}

/* Whether this machine lets us mount a tmpfs in a user namespace; if not,
 * *@why says what failed. */
static gboolean
can_mount_in_namespace (gchar ** why)
{
  const gchar *argv[] = { "unshare", "-rm", "sh", "-c",
    "mount -t tmpfs none /mnt", NULL
  };
  gchar *err = NULL;
  GError *error = NULL;
  gint status = -1;

  if (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status,
          &error) && WIFEXITED (status) && WEXITSTATUS (status) == 0) {
    g_free (err);
    return TRUE;
  }
  *why = g_strdup_printf ("no tmpfs in a user namespace here (unshare -rm "
      "... mount -t tmpfs: %s)", error ? error->message :
      g_strstrip (err ? err : g_strdup ("failed")));
  g_clear_error (&error);
  g_free (err);
  return FALSE;
}

/* Prints the figures a child said (see test_child), on one line. */
static void
print_child (const gchar * what, const gchar * out)
{
  const gchar *keys[] = { "frames ", "warnings ", "sums ", "recorded ",
    "served ", "decoded-in-served ", "evictions "
  };
  gchar **lines = g_strsplit (out, "\n", -1);
  GString *s = g_string_new (what);
  guint i, k;

  GST_INFO ("child: %s", out);
  g_string_append_c (s, ':');
  for (i = 0; lines[i]; i++) {
    for (k = 0; k < G_N_ELEMENTS (keys); k++) {
      if (g_str_has_prefix (lines[i], keys[k]))
        g_string_append_printf (s, " %s", lines[i]);
    }
  }
  g_print ("%s\n", s->str);
  g_string_free (s, TRUE);
  g_strfreev (lines);
}

/* The first figure "@key N" in a child's output (see test_child). */
static guint64
child_figure (const gchar * out, const gchar * key)
{
  gchar *k = g_strdup_printf ("\n%s ", key);
  const gchar *at = g_str_has_prefix (out, k + 1) ? out : strstr (out, k);
  guint64 v;

  fail_unless (at != NULL, "no %s: %s", key, out);
  at += at == out ? strlen (k + 1) : strlen (k);
  v = g_ascii_strtoull (at, NULL, 10);
  g_free (k);
  return v;
}

/* The part of a child's output after @mark (see spawn_child_full()). */
static const gchar *
child_after (const gchar * out, const gchar * mark)
{
  const gchar *at = strstr (out, mark);

  fail_unless (at != NULL, "no %s: %s", mark, out);
  return at + strlen (mark) + 1;
}

/* A child ran again on the cache-dir where @committed frames were
 * recorded before the disk filled: every frame right, the @committed ones
 * served (the decoder decoded at most a handful of them), no warning about
 * the cache being corrupt or truncated; the disk still full, it may warn
 * once that there is no space. */
static void
assert_child_served (const gchar * out, guint64 committed)
{
  guint64 warnings = child_figure (out, "warnings");

  fail_unless_equals_uint64 (child_figure (out, "frames"), N_FRAMES);
  fail_unless (g_str_has_prefix (strstr (out, "\nsums "), "\nsums OK\n"),
      "%s", out);
  /* whole GOPs of what was committed are served */
  fail_unless (child_figure (out, "served") <= committed, "%s", out);
  fail_unless (child_figure (out, "decoded-in-served") <= HANDFUL, "%s", out);
  fail_unless (warnings <= 1, "%s", out);
  fail_if (strstr (out, "corrupt") != NULL, "%s", out);
  fail_if (strstr (out, "truncated") != NULL, "%s", out);
  if (warnings == 1)
    fail_unless (strstr (out, "No space") != NULL, "%s", out);
}

/* The next run, in this process (no limit), on a cache-dir where
 * @committed frames were recorded before the disk filled: every frame
 * right, no warning, the @committed frames served (the decoder decodes at
 * most a handful of them), the others decoded and recorded; then the whole
 * clip comes from the cache. */
static void
assert_next_run (const gchar * cache_dir, const gchar * props,
    guint64 committed)
{
  GstClockTime end = committed > 0 ? ((Frame *) g_ptr_array_index (reference,
          committed - 1))->pts + FRAME_DURATION : 0;
  Run *run;

  run = run_new (clip, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  /* the whole GOPs of what was committed are served */
  fail_unless (stat_u64 (run, "frames-served") <= committed);
  if (committed >= 30)
    fail_unless (stat_u64 (run, "frames-served") >= 30 - HANDFUL, "served "
        "%" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT " frames recorded "
        "before the disk filled (decoded %u)", stat_u64 (run,
            "frames-served"), committed, decoded_in (run, 0, end));
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"),
      N_FRAMES - committed);
  GST_INFO ("next run: %" G_GUINT64_FORMAT " served, %u decoded among them, "
      "%" G_GUINT64_FORMAT " recorded", stat_u64 (run, "frames-served"),
      decoded_in (run, 0, end), stat_u64 (run, "frames-recorded"));
  run_free (run);
  fail_unless_equals_uint64 (assert_stores_valid (cache_dir), N_FRAMES);

  run = run_new (clip, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  fail_unless (run->decoded->len <= HANDFUL, "decoded %u frames",
      run->decoded->len);
  run_free (run);
}

/* A child's one warning is the one for a store that could not be created:
 * what is cached is still served, so it says that only recording stops,
 * not that the cache is not used at all. */
static void
assert_warned_not_recording (const gchar * out)
{
  fail_unless (strstr (out, "No space left for the frame cache") != NULL,
      "%s", out);
  fail_unless (strstr (out, "going on without recording: what is cached is "
          "served, the rest decoded") != NULL, "%s", out);
  fail_if (strstr (out, "playing without it") != NULL, "%s", out);
}

/* The disk fills up mid-stream (a file size limit: fallocate fails with
 * EFBIG, as it would with ENOSPC): one warning, every frame still right.
 * What was recorded before is intact and served by the next runs, under
 * the limit still and without it. */
GST_START_TEST (test_disk_full)
{
  gchar *cache_dir = test_path ("cache");
  gchar *out, *expect;
  guint64 committed, again;

  /* chunks of 1 MiB: the first few fit under 3 MiB, a later one not */
  out = spawn_child (cache_dir, "max-size=16777216", limit_file_size);
  print_child ("disk full mid-stream", out);
  expect = g_strdup_printf ("frames %d\nwarnings 1\nsums OK\n", N_FRAMES);
  fail_unless (strstr (out, expect) != NULL, "%s", out);
  fail_unless (strstr (out, "No space") != NULL, "%s", out);
  fail_unless (strstr (out, cache_dir) != NULL, "%s", out);
  /* some frames were recorded before the disk filled, all intact */
  fail_if (strstr (out, "recorded 0\n") != NULL, "%s", out);
  committed = assert_stores_valid (cache_dir);
  fail_unless_equals_uint64 (committed, child_figure (out, "recorded"));
  g_free (expect);
  g_free (out);

  /* the next run, the disk still full: serves them; may record more into a
   * store of its own until that one is full too */
  out = spawn_child (cache_dir, "max-size=16777216", limit_file_size);
  print_child ("disk full mid-stream, next run under the limit", out);
  assert_child_served (out, committed);
  again = child_figure (out, "recorded");
  fail_unless_equals_uint64 (assert_stores_valid (cache_dir),
      committed + again);
  g_free (out);

  /* the disk still full, with chunks of 64 MiB (the default max-size):
   * not even the first chunk of a new store fits, but what is cached is
   * served */
  out = spawn_child (cache_dir, "", limit_file_size);
  print_child ("disk full mid-stream, a run that cannot record", out);
  assert_child_served (out, committed + again);
  fail_unless_equals_uint64 (child_figure (out, "warnings"), 1);
  assert_warned_not_recording (out);
  fail_unless_equals_uint64 (child_figure (out, "recorded"), 0);
  fail_unless_equals_uint64 (assert_stores_valid (cache_dir),
      committed + again);
  g_free (out);

  /* and without the limit: serves all that, records the rest */
  assert_next_run (cache_dir, "max-size=16777216", committed + again);
  g_print ("disk full mid-stream: %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT
      " frames recorded under the limit, intact and served by the next "
      "runs\n", committed, again);

  /* full from the start: the first chunk cannot be reserved */
  memmap_test_remove_tree (cache_dir);
  out = spawn_child (cache_dir, "", limit_file_size);
  print_child ("disk full from the start", out);
  expect = g_strdup_printf ("frames %d\nwarnings 1\nsums OK\nrecorded 0\n",
      N_FRAMES);
  fail_unless (strstr (out, expect) != NULL, "%s", out);
  assert_warned_not_recording (out);
  fail_unless_equals_uint64 (assert_stores_valid (cache_dir), 0);
  assert_next_run (cache_dir, "", 0);
  g_free (expect);
  g_free (out);
  g_free (cache_dir);
}

GST_END_TEST;


/* A read-only file system at cache-dir (a tmpfs mounted ro in a user and
 * mount namespace: root is denied too), and a tiny one that fills up: one
 * warning each, every frame right. */
GST_START_TEST (test_read_only_and_tiny_file_systems)
{
  gchar *cache_dir = test_path ("mnt");
  gchar *out, *expect, *why = NULL;
  const gchar *after;
  guint64 committed, again;

  if (!can_mount_in_namespace (&why)) {
    memmap_test_skip ("test_read_only_and_tiny_file_systems", why);
    g_free (why);
    g_free (cache_dir);
    return;
  }
  fail_unless (g_mkdir (cache_dir, 0700) == 0);

  out = spawn_child_full (cache_dir, "", NULL, "ro,size=1m", NULL);
  print_child ("read-only file system", out);
  expect = g_strdup_printf ("frames %d\nwarnings 1\nsums OK\nrecorded 0\n",
      N_FRAMES);
  fail_unless (strstr (out, expect) != NULL, "%s", out);
  fail_unless (strstr (out, "Read-only file system") != NULL, "%s", out);
  g_free (expect);
  g_free (out);

  /* 3 MiB: chunks of 1 MiB (max-size / 16) fit twice, then ENOSPC; then
   * (the tmpfs lives as long as the child's mount namespace) the next run
   * on the full file system, and one after a remount to 64 MiB */
  out = spawn_child_full (cache_dir, "max-size=16777216", NULL, "size=3m",
      "size=64m");
  print_child ("full 3 MiB file system", out);
  expect = g_strdup_printf ("frames %d\nwarnings 1\nsums OK\n", N_FRAMES);
  fail_unless (strstr (out, expect) == strstr (out, "frames "), "%s", out);
  fail_unless (strstr (out, "No space") != NULL, "%s", out);
  committed = child_figure (out, "recorded");
  fail_unless (committed > 0, "%s", out);

  again = child_figure (child_after (out, "--- again"), "recorded");
  assert_child_served (child_after (out, "--- again"), committed);
  after = child_after (out, "--- lifted");
  assert_child_served (after, committed + again);
  fail_unless_equals_uint64 (child_figure (after, "warnings"), 0);
  fail_unless_equals_uint64 (child_figure (after, "recorded"),
      N_FRAMES - committed - again);
  g_print ("full 3 MiB file system: %" G_GUINT64_FORMAT " + %"
      G_GUINT64_FORMAT " frames recorded, served by the next runs\n",
      committed, again);
  g_free (expect);
  g_free (out);

  g_free (cache_dir);
}

GST_END_TEST;

/* Starts a child that plays the clip into @cache_dir (test_child) at one
 * frame per @pace_us, printing "frame N" at each; *@out_fd reads that. */
static GPid
spawn_recorder (const gchar * cache_dir, guint pace_us, gint * out_fd)
{
  gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  gchar *argv[] = { self, NULL };
  gchar *pace = g_strdup_printf ("%u", pace_us);
  gchar **envp = child_environ (cache_dir, "");
  GError *error = NULL;
  GPid pid;

  envp = g_environ_setenv (envp, CHILD_PACE_ENV, pace, TRUE);
  fail_unless (g_spawn_async_with_pipes (NULL, argv, envp,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL, out_fd, NULL,
          &error), "%s", error ? error->message : "");
  g_strfreev (envp);
  g_free (pace);
  g_free (self);
  return pid;
}

/* Reads from @fd until the line @want; FALSE at the end of the output or
 * after 30 s. */
static gboolean
wait_line (gint fd, const gchar * want)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  GString *line = g_string_new (NULL);
  gboolean found = FALSE;

  while (!found) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
    gchar c;

    if (left <= 0 || poll (&pfd, 1, left) <= 0 || read (fd, &c, 1) != 1)
      break;
    if (c != '\n') {
      g_string_append_c (line, c);
      continue;
    }
    found = strcmp (line->str, want) == 0;
    g_string_truncate (line, 0);
  }
  g_string_free (line, TRUE);
  return found;
}

/* Reads from @fd until the line "frame @n" (see wait_line()). */
static gboolean
wait_frame_line (gint fd, guint n)
{
  gchar *want = g_strdup_printf ("frame %u", n);
  gboolean found = wait_line (fd, want);

  g_free (want);
  return found;
}

/* A pipeline recording into the cache is killed (SIGKILL, at a random
 * frame and a random moment in it) and run again on the same cache-dir:
 * playback completes, bit-identical, without a warning; what was
 * committed before the kill is served (the decoder does not decode it),
 * the rest recorded; a third run comes from the cache whole. */
GST_START_TEST (test_kill9_mid_recording)
{
  const guint pace = 3000;
  guint trials = g_getenv ("MEMMAP_UNDER_VALGRIND") ? 2 : 8, t;
  GRand *rand = g_rand_new_with_seed (0x9c1a);
  guint64 total = 0;

  for (t = 0; t < trials; t++) {
    gchar *name = g_strdup_printf ("cache-%u", t);
    gchar *cache_dir = test_path (name);
    guint at = g_rand_int_range (rand, 1, N_FRAMES - 10);
    /* in the pause after frame @at, or in the work on the next one */
    guint delay = g_rand_int_range (rand, 0, 2 * pace);
    GstClockTime end;
    guint64 committed;
    gint out_fd, status;
    gboolean found;
    GPid pid;
    Run *run;

    pid = spawn_recorder (cache_dir, pace, &out_fd);
    found = wait_frame_line (out_fd, at);
    if (found)
      g_usleep (delay);
    fail_unless_equals_int (kill (pid, SIGKILL), 0);
    fail_unless_equals_int (waitpid (pid, &status, 0), pid);
    g_spawn_close_pid (pid);
    close (out_fd);
    fail_unless (found, "the child never showed frame %u", at);
    fail_unless (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
        "the child ended by itself (status %d)", status);

    /* the stores the child left open: every committed frame valid, the
     * frames from the first on (the child played from the start) */
    committed = assert_stores_valid (cache_dir);
    fail_unless (committed <= N_FRAMES);
    GST_INFO ("trial %u: killed %u us after frame %u, %" G_GUINT64_FORMAT
        " frames committed", t, delay, at, committed);
    total += committed;
    end = committed > 0 ? ((Frame *) g_ptr_array_index (reference,
            committed - 1))->pts + FRAME_DURATION : 0;

    run = run_new (clip, cache_dir, NULL);
    run_play (run);
    assert_frames (run, 0, N_FRAMES);
    fail_unless (run->warnings == 0, "%s", run->warning);
    /* what the killed run committed is intact; whole GOPs of it are
     * served once its GOP file says so (written at every chunk) */
    fail_unless (stat_u64 (run, "frames-served") <= committed);
    GST_INFO ("%" G_GUINT64_FORMAT " served, %u of them decoded",
        stat_u64 (run, "frames-served"), decoded_in (run, 0, end));
    fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"),
        N_FRAMES - committed);
    run_free (run);

    run = run_new (clip, cache_dir, NULL);
    run_play (run);
    assert_frames (run, 0, N_FRAMES);
    fail_unless (run->warnings == 0, "%s", run->warning);
    fail_unless (run->decoded->len <= HANDFUL, "decoded %u frames",
        run->decoded->len);
    run_free (run);

    memmap_test_remove_tree (cache_dir);
    g_free (cache_dir);
    g_free (name);
  }
  GST_INFO ("%" G_GUINT64_FORMAT " frames committed in %u trials", total,
      trials);
  g_rand_free (rand);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* budget and eviction across processes                                     */

/* Another process that plays a clip through the cache (test_child) and
 * waits at a frame until peer_finish(). */
typedef struct
{
  GPid pid;
  gint in_fd;
  gint out_fd;
} Peer;

/* With @child_setup run in the child before it starts. */
static void
peer_start_full (Peer * peer, const gchar * file, const gchar * cache_dir,
    const gchar * props, guint barrier, GSpawnChildSetupFunc child_setup)
{
  gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  gchar *argv[] = { self, NULL };
  gchar *at = g_strdup_printf ("%u", barrier);
  gchar **envp = child_environ_file (file, cache_dir, props);
  GError *error = NULL;

  envp = g_environ_setenv (envp, CHILD_BARRIER_ENV, at, TRUE);
  fail_unless (g_spawn_async_with_pipes (NULL, argv, envp,
          G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL, &peer->pid,
          &peer->in_fd,
          &peer->out_fd, NULL, &error), "%s", error ? error->message : "");
  g_strfreev (envp);
  g_free (at);
  g_free (self);
}

static void
peer_start (Peer * peer, const gchar * file, const gchar * cache_dir,
    const gchar * props, guint barrier)
{
  peer_start_full (peer, file, cache_dir, props, barrier, NULL);
}

static void
peer_wait_barrier (Peer * peer)
{
  fail_unless (wait_line (peer->out_fd, "barrier"),
      "the other process never reached its barrier");
}

/* Lets the peer go on, and returns what it printed after the barrier
 * once it exited successfully. */
static gchar *
peer_finish (Peer * peer)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  GString *out = g_string_new (NULL);
  gint status;

  fail_unless_equals_int (write (peer->in_fd, "\n", 1), 1);
  close (peer->in_fd);
  for (;;) {
    struct pollfd pfd = { peer->out_fd, POLLIN, 0 };
    gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
    gchar buf[512];
    gssize n;

    fail_unless (left > 0 && poll (&pfd, 1, left) > 0,
        "the other process did not finish within 60 s: %s", out->str);
    n = read (peer->out_fd, buf, sizeof (buf));
    if (n <= 0)
      break;
    g_string_append_len (out, buf, n);
  }
  close (peer->out_fd);
  fail_unless_equals_int (waitpid (peer->pid, &status, 0), peer->pid);
  g_spawn_close_pid (peer->pid);
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "the other process failed (status %d): %s", status, out->str);
  return g_string_free (out, FALSE);
}

/* Every frame the peer played was right, with no warning. */
static void
assert_peer_played (const gchar * out)
{
  fail_unless_equals_uint64 (child_figure (out, "frames"), N_FRAMES);
  fail_unless (g_str_has_prefix (strstr (out, "\nsums "), "\nsums OK\n"),
      "%s", out);
  fail_unless_equals_uint64 (child_figure (out, "warnings"), 0);
}

/* test_eviction_two_pipelines with the second pipeline in another process:
 * the locks and the budget hold across processes. A stream that the other
 * process records, then one it reads, is never evicted; every store stays
 * valid, the disk within max-size and a chunk per pipeline recording at
 * once; every frame of both processes bit-identical to the decoder's. */
GST_START_TEST (test_eviction_two_processes)
{
  gchar *cache_dir = test_path ("cache");
  gchar *a = copy_clip ("a.mp4"), *b = copy_clip ("b.mp4");
  gchar *c = copy_clip ("c.mp4"), *d = copy_clip ("d.mp4");
  gchar *e = copy_clip ("e.mp4");
  /* a clip (10.7 MB) fits, not with the halves of two others */
  guint64 max_size = 16 << 20;
  /* over by at most a chunk each of the pipelines that ran at once */
  guint64 bound = max_size + 3 * (max_size / 16) + (64 << 10);
  gchar *props = g_strdup_printf ("max-size=%" G_GUINT64_FORMAT, max_size);
  guint64 recorded_b_peer, recorded_b, recorded_c, recorded_d, evicted_e;
  guint64 disk_max = 0;
  gint64 deadline;
  gchar *entry_b, *out;
  Player pa;
  Peer pb;
  Run *run;

  /* b records in the other process, a in this one, at once; both stop
   * half-way until c has run */
  peer_start (&pb, b, cache_dir, props, N_FRAMES / 2);
  deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  while (count_entries (cache_dir) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  entry_b = only_entry (cache_dir);
  pa.run = run_new (a, cache_dir, props);
  pa.run->barrier_at = N_FRAMES / 2;
  pa.thread = g_thread_new ("a", play_thread, pa.run);
  wait_barrier (pa.run);
  peer_wait_barrier (&pb);
  fail_unless_equals_int (count_entries (cache_dir), 2);
  /* what the other process is recording reads right from here */
  assert_stores_valid (cache_dir);

  /* c wants room: a (here) and b (there) are busy, so they stay and c
   * records only what fits */
  run = run_new (c, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  recorded_c = stat_u64 (run, "frames-recorded");
  fail_unless (recorded_c < N_FRAMES);
  run_free (run);
  fail_unless (g_file_test (entry_b, G_FILE_TEST_IS_DIR));
  disk_max = MAX (disk_max, disk_usage (cache_dir));

  release (pa.run);
  out = peer_finish (&pb);
  g_thread_join (pa.thread);
  print_child ("eviction across processes, b recording", out);
  assert_peer_played (out);
  recorded_b_peer = child_figure (out, "recorded");
  fail_unless (recorded_b_peer > 0, "%s", out);
  g_free (out);
  assert_frames (pa.run, 0, N_FRAMES);
  fail_unless (pa.run->warnings == 0, "%s", pa.run->warning);
  GST_INFO ("a recorded %" G_GUINT64_FORMAT ", evicted %" G_GUINT64_FORMAT
      "; b recorded %" G_GUINT64_FORMAT "; c recorded %" G_GUINT64_FORMAT,
      stat_u64 (pa.run, "frames-recorded"), stat_u64 (pa.run, "evictions"),
      recorded_b_peer, recorded_c);
  run_free (pa.run);
  assert_stores_valid (cache_dir);
  disk_max = MAX (disk_max, disk_usage (cache_dir));

  /* (closing over max-size, each pipeline evicted what nobody used, maybe
   * the other's stream, never its own) */

  /* b recorded alone (whole: it fits); then the other process reads it
   * from the cache and stops at frame 8 of it; d wants room: b, the only
   * stream, is not evicted */
  memmap_test_remove_tree (cache_dir);
  run = run_new (b, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  recorded_b = stat_u64 (run, "frames-recorded");
  fail_unless (recorded_b >= MIN_SERVE_RUN && recorded_b <= N_FRAMES);
  run_free (run);
  g_free (entry_b);
  entry_b = only_entry (cache_dir);
  peer_start (&pb, b, cache_dir, props, 8);
  peer_wait_barrier (&pb);
  run = run_new (d, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "evictions"), 0);
  recorded_d = stat_u64 (run, "frames-recorded");
  fail_unless (recorded_d < N_FRAMES);
  run_free (run);
  fail_unless (g_file_test (entry_b, G_FILE_TEST_IS_DIR),
      "b was evicted while another process read it");
  assert_stores_valid (cache_dir);
  disk_max = MAX (disk_max, disk_usage (cache_dir));

  out = peer_finish (&pb);
  print_child ("eviction across processes, b read", out);
  assert_peer_played (out);
  /* it was served all b had recorded, the decoder stopped */
  fail_unless (child_figure (out, "served") <= recorded_b, "%s", out);
  fail_unless (child_figure (out, "decoded-in-served") <= HANDFUL, "%s", out);
  g_free (out);
  assert_stores_valid (cache_dir);
  disk_max = MAX (disk_max, disk_usage (cache_dir));

  /* nobody uses b now: e, wanting room, evicts it */
  run = run_new (e, cache_dir, props);
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  evicted_e = stat_u64 (run, "evictions");
  fail_unless (evicted_e >= 1);
  run_free (run);
  fail_if (g_file_test (entry_b, G_FILE_TEST_EXISTS));
  assert_stores_valid (cache_dir);
  disk_max = MAX (disk_max, disk_usage (cache_dir));

  g_print ("eviction across processes: b recorded %" G_GUINT64_FORMAT
      " frames in the other process, c %" G_GUINT64_FORMAT " (nothing "
      "evicted); b recorded %" G_GUINT64_FORMAT ", read by the other process "
      "while d recorded %" G_GUINT64_FORMAT " (nothing evicted), then evicted "
      "by e; at most %" G_GUINT64_FORMAT " bytes on disk (max-size %"
      G_GUINT64_FORMAT ")\n", recorded_b_peer, recorded_c, recorded_b,
      recorded_d, disk_max, max_size);
  fail_unless (disk_max <= bound, "%" G_GUINT64_FORMAT " bytes on disk",
      disk_max);

  g_free (entry_b);
  g_free (props);
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (d);
  g_free (e);
  g_free (cache_dir);
}

GST_END_TEST;

/* A pipeline that could not create its store (another process, under a
 * file size limit: the first 64 MiB chunk cannot be reserved) goes on
 * playing the stream, but gives the writer lock back at once: a pipeline
 * here records the stream meanwhile, whole, and the next run is served
 * from the cache. */
GST_START_TEST (test_failed_recording_unlocks)
{
  gchar *cache_dir = test_path ("cache");
  gchar *out;
  Peer pa;
  Run *run;

  peer_start_full (&pa, clip, cache_dir, "", N_FRAMES / 2, limit_file_size);
  peer_wait_barrier (&pa);

  run = run_new (clip, cache_dir, "max-size=16777216");
  run_play (run);
  assert_frames (run, 0, N_FRAMES);
  fail_unless (run->warnings == 0, "%s", run->warning);
  fail_unless_equals_uint64 (stat_u64 (run, "frames-recorded"), N_FRAMES);
  run_free (run);
  fail_unless_equals_uint64 (assert_stores_valid (cache_dir), N_FRAMES);

  out = peer_finish (&pa);
  print_child ("store not created, the other process recording", out);
  fail_unless_equals_uint64 (child_figure (out, "frames"), N_FRAMES);
  fail_unless (g_str_has_prefix (strstr (out, "\nsums "), "\nsums OK\n"),
      "%s", out);
  fail_unless_equals_uint64 (child_figure (out, "warnings"), 1);
  fail_unless_equals_uint64 (child_figure (out, "recorded"), 0);
  assert_warned_not_recording (out);
  g_free (out);

  run = run_new (clip, cache_dir, "max-size=16777216");
  run_play (run);
  assert_served_whole (run);
  fail_unless (run->decoded->len <= HANDFUL, "decoded %u frames",
      run->decoded->len);
  run_free (run);

  g_free (cache_dir);
}

GST_END_TEST;

static Suite *
memmapcache_suite (void)
{
  Suite *s = suite_create ("memmapcache");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_first_and_cached_pass);
  tcase_add_test (tc, test_small_windows);
  tcase_add_test (tc, test_seek_into_cache_and_past_it);
  tcase_add_test (tc, test_seek_accurate_mid_gop);
  tcase_add_test (tc, test_forwarded_seek_reaches_cache);
  tcase_add_test (tc, test_seek_storm);
  tcase_add_test (tc, test_videotestsrc_seeks);
  tcase_add_test (tc, test_reverse_playback);
  tcase_add_test (tc, test_uridecodebin);
  tcase_add_test (tc, test_downstream_ends_early);
  tcase_add_test (tc, test_changed_input_invalidates);
  tcase_add_test (tc, test_copy_path);
  tcase_add_test (tc, test_zero_copy_producer);
  tcase_add_test (tc, test_same_stream_twice_at_once);
  tcase_add_test (tc, test_eviction_two_pipelines);
  tcase_add_test (tc, test_close_keeps_own_stream);
  tcase_add_test (tc, test_budget_no_thrash);
  tcase_add_test (tc, test_unusable_cache_dir);
  tcase_add_test (tc, test_corrupt_store);
  tcase_add_test (tc, test_symlinks_not_followed);
  tcase_add_test (tc, test_disk_full);
  tcase_add_test (tc, test_read_only_and_tiny_file_systems);
  tcase_add_test (tc, test_kill9_mid_recording);
  tcase_add_test (tc, test_eviction_two_processes);
  tcase_add_test (tc, test_failed_recording_unlocks);

  return s;
}

int
main (int argc, char **argv)
{
  const gchar *child = g_getenv (CHILD_ENV);
  Suite *s;
  int ret;

  if (child && strchr (child, '\n') == NULL) {
    gst_init (NULL, NULL);
    return make_clip (child);
  }

  gst_check_init (&argc, &argv);

  if (g_getenv (CHILD_PACE_ENV))
    child_pace = strtoul (g_getenv (CHILD_PACE_ENV), NULL, 10);
  if (g_getenv (CHILD_BARRIER_ENV))
    child_barrier = strtoul (g_getenv (CHILD_BARRIER_ENV), NULL, 10);
  if (child) {
    gchar **args = g_strsplit (child, "\n", 2);
    TCase *tc = tcase_create ("child");

    clip = g_strdup (args[0]);
    g_strfreev (args);
    s = suite_create ("memmapcache-child");
    suite_add_tcase (s, tc);
    tcase_add_checked_fixture (tc, setup, teardown);
    tcase_add_test (tc, test_child);
    ret = gst_check_run_suite (s, "memmapcache-child", __FILE__);
    goto out;
  }

  /* the clip, once for every test, made by a child */
  clip_dir = g_dir_make_tmp ("memmapcache-clip-XXXXXX", NULL);
  g_assert (clip_dir != NULL);
  clip = g_build_filename (clip_dir, "clip.mp4", NULL);
  {
    gchar *argv0[] = { NULL, NULL };
    gchar **envp;
    gint status = -1;

    argv0[0] = g_file_read_link ("/proc/self/exe", NULL);
    envp = g_environ_setenv (g_get_environ (), CHILD_ENV, clip, TRUE);
    envp = g_environ_unsetenv (envp, "GST_TRACERS");
    if (!g_spawn_sync (NULL, argv0, envp, G_SPAWN_DEFAULT, NULL, NULL, NULL,
            NULL, &status, NULL) || !WIFEXITED (status) ||
        WEXITSTATUS (status) != 0)
      g_error ("could not make the test clip %s", clip);
    g_strfreev (envp);
    g_free (argv0[0]);
  }

  s = memmapcache_suite ();
  ret = gst_check_run_suite (s, "memmapcache", __FILE__);

out:
  if (reference)
    g_ptr_array_unref (reference);
  if (clip_dir)
    memmap_test_remove_tree (clip_dir);
  g_free (clip);
  g_free (clip_dir);
  return ret;
}
