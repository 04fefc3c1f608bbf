/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst_memmap_map_video_frames() on a clip nothing cached yet (issue 14):
 * consecutive chunks join one recording (one pipeline, every frame decoded
 * once), and a first random window starts from a keyframe seek (no more
 * than two GOPs decoded), each frame checked against what a plain decoder
 * outputs for the same frame number (SHA-1 of the visible bytes, pts).
 * Counts, not times: the speed is tests/bench/bench_frames.py's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmaprecordingstats.h>

#include "../memmap-test-util.h"
#include "frames-test-util.h"

#define N_FRAMES 240
#define GOP 30
#define CHUNK 32

static gchar *clip;             /* 240 frames, B-frames, GOP 30 */
static gchar *off_rate_clip;    /* 25 frames a second, caps saying 30 */
static const gchar *current;    /* the clip map_checked () reads */
static gchar *mkv_clip;         /* 90 frames, B-frames, Matroska */
static GPtrArray *ref_sums;     /* GRAY8 checksums of a plain decode */
static GArray *ref_pts;
static GArray *ref_durations;

static void
setup_clip (void)
{
  gchar *desc;

  memmap_test_make_tmpdir ("memmap-frames-cold");
  clip = test_path ("gop30.mp4");
  frames_test_make_clip (clip, N_FRAMES, "ball", GOP);
  /* timestamps 40 ms apart, caps (and the stream's VUI) saying 30/1: the
   * frame-rate grid does not number these frames */
  off_rate_clip = test_path ("off-rate.mkv");
  desc = g_strdup_printf ("videotestsrc num-buffers=120 pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=25/1 ! "
      "capssetter caps=\"video/x-raw,framerate=(fraction)30/1\" ! "
      "x264enc bframes=2 key-int-max=30 ! matroskamux ! "
      "filesink location=\"%s\"", off_rate_clip);
  frames_test_spawn_launch (desc);
  g_free (desc);
  /* Matroska stores its duration in ms: 3.000 s for 90 frames that end at
   * 3.000333333 s */
  mkv_clip = test_path ("bframes.mkv");
  desc = g_strdup_printf ("videotestsrc num-buffers=90 pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
      "x264enc bframes=3 b-adapt=false key-int-max=30 ! matroskamux ! "
      "filesink location=\"%s\"", mkv_clip);
  frames_test_spawn_launch (desc);
  g_free (desc);
}

static void
teardown_clip (void)
{
  memmap_test_remove_tmpdir ();
  g_free (clip);
  g_free (off_rate_clip);
  g_free (mkv_clip);
}

static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad,
    gpointer user_data)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime duration = GST_BUFFER_DURATION (buffer);

  g_ptr_array_add (ref_sums, memmap_test_frame_checksum_caps (caps, buffer));
  g_array_append_val (ref_pts, pts);
  g_array_append_val (ref_durations, duration);
  gst_caps_unref (caps);
}

/* The oracle of @file in ref_sums and ref_pts: a plain decode from the
 * start, in GRAY8. */
static void
decode_reference (const gchar * file)
{
  g_ptr_array_set_size (ref_sums, 0);
  g_array_set_size (ref_pts, 0);
  g_array_set_size (ref_durations, 0);
  frames_test_decode_with_handoffs (file, ",format=GRAY8",
      G_CALLBACK (on_handoff), NULL);
}

/* in each test's process */
static void
setup_reference (void)
{
  ref_sums = g_ptr_array_new_with_free_func (g_free);
  ref_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  ref_durations = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  decode_reference (clip);
  current = clip;
  fail_unless_equals_int (ref_sums->len, N_FRAMES);
}

static void
teardown_reference (void)
{
  g_ptr_array_unref (ref_sums);
  g_array_unref (ref_pts);
  g_array_unref (ref_durations);
}

static guint64
recordings_stat (const gchar * field)
{
  GstStructure *s = gst_memmap_frames_get_recordings_stats ();
  guint64 v = G_MAXUINT64;

  fail_unless (gst_structure_get_uint64 (s, field, &v));
  gst_structure_free (s);
  return v;
}

static guint
recordings_live (void)
{
  GstStructure *s = gst_memmap_frames_get_recordings_stats ();
  guint v = G_MAXUINT;

  fail_unless (gst_structure_get_uint (s, "recordings-live", &v));
  gst_structure_free (s);
  return v;
}

/* @frames are @n frames from @start, each the oracle's frame of the same
 * number (bytes, pts and duration). */
static void
check_frames (GstMemmapFrames * frames, guint64 start, guint n)
{
  const GstVideoInfo *info = gst_memmap_frames_get_video_info (frames);
  guint i;

  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), n);
  fail_unless_equals_uint64 (gst_memmap_frames_get_start_frame (frames), start);
  fail_unless (gst_memmap_frames_is_zero_copy (frames));
  for (i = 0; i < n; i++) {
    gchar *sum = memmap_test_frame_checksum (info,
        gst_memmap_frames_get_buffer (frames, i));

    fail_unless_equals_string (sum, g_ptr_array_index (ref_sums, start + i));
    fail_unless_equals_uint64 (gst_memmap_frames_get_pts (frames, i),
        g_array_index (ref_pts, GstClockTime, start + i));
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (gst_memmap_frames_get_buffer
            (frames, i)), g_array_index (ref_durations, GstClockTime,
            start + i));
    g_free (sum);
  }
}

/* Frames [start, start + count) of the clip in GRAY8, checked; @n frames
 * expected. */
static GstMemmapFrames *
map_checked (const gchar * cache, guint64 start, guint64 count, guint n)
{
  GError *error = NULL;
  GstMemmapFrames *frames;

  frames = gst_memmap_map_video_frames_full (gst_memmap_engine_get_default (),
      current, start, count, "GRAY8", cache, &error);
  fail_unless (frames != NULL, "frames %" G_GUINT64_FORMAT " +%"
      G_GUINT64_FORMAT ": %s", start, count, error ? error->message : "");
  check_frames (frames, start, n);
  return frames;
}

/* Chunks of 32 frames, each asked for when the caller is done with the
 * one before (as a reader of a new clip does): one pipeline for all of
 * them, every frame decoded exactly once. */
GST_START_TEST (test_chunks_join_one_recording)
{
  gchar *cache = frames_test_new_cache_dir ("cache-chunks");
  guint64 started = recordings_stat ("recordings-started");
  guint64 decoded = recordings_stat ("frames-decoded");
  GstMemmapFrames *prev = NULL, *frames;
  guint64 start;

  for (start = 0; start < N_FRAMES; start += CHUNK) {
    frames = map_checked (cache, start, CHUNK, MIN (CHUNK, N_FRAMES - start));
    fail_unless_equals_int (gst_memmap_frames_is_clipped (frames),
        start + CHUNK > N_FRAMES);
    if (start > 0)
      fail_unless (frames_test_stat_bool (frames, "direct") ||
          frames_test_stat_bool (frames, "recording-joined"),
          "chunk at %" G_GUINT64_FORMAT " neither joined the recording nor "
          "read the cache", start);
    g_clear_object (&prev);
    prev = frames;
  }
  fail_unless_equals_uint64 (recordings_stat ("recordings-started") -
      started, 1);
  fail_unless_equals_uint64 (recordings_stat ("frames-decoded") - decoded,
      N_FRAMES);
  fail_unless_equals_int (recordings_live (), 1);
  g_object_unref (prev);
  /* the last frames gone, the recording's pipeline is gone */
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

/* A first window far into a new clip: decoded from the keyframe before it
 * (one pipeline from a seek), no more than two GOPs; the same window again
 * reads the cache; windows before it and the whole clip stay exact. */
GST_START_TEST (test_cold_random_access)
{
  gchar *cache = frames_test_new_cache_dir ("cache-random");
  guint64 decoded = recordings_stat ("frames-decoded");
  guint64 seeks = recordings_stat ("recordings-from-seek");
  GstMemmapFrames *frames;

  frames = map_checked (cache, 170, 8, 8);
  fail_unless (frames_test_stat_bool (frames, "recording-from-seek"));
  fail_unless_equals_uint64 (recordings_stat ("recordings-from-seek") -
      seeks, 1);
  fail_unless (recordings_stat ("frames-decoded") - decoded <= 2 * GOP,
      "%" G_GUINT64_FORMAT " frames decoded for a window of 8 with GOPs "
      "of %d", recordings_stat ("frames-decoded") - decoded, GOP);
  g_object_unref (frames);

  /* warm: read from the cache entry (a hole before it), nothing decoded */
  decoded = recordings_stat ("frames-decoded");
  frames = map_checked (cache, 170, 8, 8);
  fail_unless (frames_test_stat_bool (frames, "direct"));
  fail_unless_equals_uint64 (recordings_stat ("frames-decoded"), decoded);
  g_object_unref (frames);

  /* another cold window, in an earlier GOP, then near the end (clipped) */
  frames = map_checked (cache, 95, 8, 8);
  fail_unless (recordings_stat ("frames-decoded") - decoded <= 2 * GOP);
  g_object_unref (frames);
  frames = map_checked (cache, 236, 8, 4);
  fail_unless (gst_memmap_frames_is_clipped (frames));
  g_object_unref (frames);

  /* the whole clip over the holed entry: still the oracle's frames */
  frames = map_checked (cache, 0, 0, N_FRAMES);
  g_object_unref (frames);
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

/* A window read while the recording of an earlier one still lives (its
 * frames held): the live recording is stopped for the new one, whose
 * frames are exact; the old frames stay valid. */
GST_START_TEST (test_window_replaces_recording)
{
  gchar *cache = frames_test_new_cache_dir ("cache-replace");
  GstMemmapFrames *early, *later;

  early = map_checked (cache, 200, 8, 8);
  later = map_checked (cache, 40, 8, 8);
  fail_unless (frames_test_stat_bool (later, "recording-from-seek"));
  g_object_unref (later);
  later = map_checked (cache, 0, 16, 16);
  g_object_unref (later);
  /* the first window's frames are still the oracle's */
  check_frames (early, 200, 8);
  g_object_unref (early);
  early = map_checked (cache, 200, 8, 8);
  g_object_unref (early);
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

/* Windows read one after the other while the frames of the one before are
 * held (a random reader): the live pipeline seeks to the next window, no
 * new pipeline starts, each window costs no more than two GOPs. */
GST_START_TEST (test_next_window_seeks_same_pipeline)
{
  static const guint64 starts[] = { 200, 60, 130, 35 };
  gchar *cache = frames_test_new_cache_dir ("cache-reseek");
  GstMemmapFrames *prev = NULL, *frames;
  guint64 started, reseeks, decoded;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (starts); i++) {
    started = recordings_stat ("recordings-started");
    reseeks = recordings_stat ("recordings-seeked-again");
    decoded = recordings_stat ("frames-decoded");
    frames = map_checked (cache, starts[i], 8, 8);
    fail_unless (recordings_stat ("frames-decoded") - decoded <= 2 * GOP,
        "window at %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " frames "
        "decoded", starts[i], recordings_stat ("frames-decoded") - decoded);
    if (i > 0) {
      fail_unless_equals_uint64 (recordings_stat ("recordings-started"),
          started);
      fail_unless_equals_uint64 (recordings_stat ("recordings-seeked-again"),
          reseeks + 1);
    }
    g_clear_object (&prev);
    prev = frames;
  }
  g_object_unref (prev);
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

/* A clip whose timestamps are not on its frame rate's grid: a window's
 * recording from a seek cannot number its frames, and the call decodes
 * from the start instead; the frames are still the oracle's, for a window
 * of one frame too (whose own pts may fall on the grid). */
GST_START_TEST (test_off_grid_falls_back)
{
  gchar *cache = frames_test_new_cache_dir ("cache-off-grid");
  GstMemmapFrames *frames;

  decode_reference (off_rate_clip);
  current = off_rate_clip;
  fail_unless_equals_int (ref_sums->len, 120);
  frames = map_checked (cache, 60, 8, 8);
  fail_unless (!frames_test_stat_bool (frames, "recording-from-seek"));
  g_object_unref (frames);
  g_free (cache);

  cache = frames_test_new_cache_dir ("cache-off-grid-1");
  frames = map_checked (cache, 60, 1, 1);
  g_object_unref (frames);
  frames = map_checked (cache, 90, 1, 1);
  g_object_unref (frames);
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

/* The last frame of a Matroska clip after a seek: its duration is the
 * decoder's (the clip's duration, stored in ms, ends before it). */
GST_START_TEST (test_seek_keeps_last_duration)
{
  gchar *cache = frames_test_new_cache_dir ("cache-mkv-last");
  GstMemmapFrames *frames;

  decode_reference (mkv_clip);
  current = mkv_clip;
  fail_unless_equals_int (ref_sums->len, 90);
  frames = map_checked (cache, 85, 100, 5);
  fail_unless (frames_test_stat_bool (frames, "recording-from-seek"));
  fail_unless (gst_memmap_frames_is_clipped (frames));
  g_object_unref (frames);
  /* again, out of the cache */
  frames = map_checked (cache, 85, 100, 5);
  g_object_unref (frames);
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

/* Frame durations of 20 to 60 ms (the oracle's vfr-nominal), the same
 * every run. */
static GstPadProbeReturn
vfr_retime (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  static const guint ms[] = { 20, 25, 33, 40, 50, 60 };
  GstClockTime *pts = user_data;
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  guint32 *state = (guint32 *) (pts + 1);
  GstClockTime dur;

  *state = *state * 1103515245u + 12345u;
  dur = ms[(*state >> 16) % G_N_ELEMENTS (ms)] * GST_MSECOND;
  GST_BUFFER_PTS (buf) = *pts;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = dur;
  *pts += dur;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

/* A variable frame rate clip under caps saying 30/1, in Matroska: 90
 * frames, keyframes every 30 (in this process: its pipeline runs here). */
static void
make_vfr_clip (const gchar * path)
{
  GstClockTime state[2] = { 0, 11 };
  GstElement *pipeline, *retime;
  GstPad *pad;
  gchar *desc;

  desc = g_strdup_printf ("videotestsrc num-buffers=90 pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
      "identity name=retime ! x264enc speed-preset=superfast bframes=3 "
      "b-adapt=false key-int-max=30 threads=1 ! matroskamux ! "
      "filesink location=\"%s\"", path);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "%s", desc);
  g_free (desc);
  retime = gst_bin_get_by_name (GST_BIN (pipeline), "retime");
  pad = gst_element_get_static_pad (retime, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, vfr_retime, state, NULL);
  gst_object_unref (pad);
  gst_object_unref (retime);
  run_to_eos (pipeline);
  gst_object_unref (pipeline);
}

/* A variable frame rate under a nominal one: frames near a grid point are
 * not the frames of that number. Windows from frame 32 on, each in a cache
 * directory of its own and asked for twice (the second out of the cache,
 * which holds the frames a seek recording could not number too): every
 * frame is the oracle's. */
GST_START_TEST (test_vfr_not_numbered_by_grid)
{
  gchar *path = test_path ("vfr-nominal.mkv");
  GstMemmapFrames *frames;
  guint64 start;

  make_vfr_clip (path);
  decode_reference (path);
  current = path;
  fail_unless_equals_int (ref_sums->len, 90);
  for (start = 32; start < 90; start += 5) {
    gchar *name = g_strdup_printf ("cache-vfr-%" G_GUINT64_FORMAT, start);
    gchar *cache = frames_test_new_cache_dir (name);

    frames = map_checked (cache, start, 1, 1);
    g_object_unref (frames);
    frames = map_checked (cache, start, 1, 1);
    g_object_unref (frames);
    frames = map_checked (cache, start, 4, MIN (4, 90 - start));
    g_object_unref (frames);
    g_free (cache);
    g_free (name);
  }
  fail_unless_equals_int (recordings_live (), 0);
  g_free (path);
}

GST_END_TEST;

typedef struct
{
  const gchar *cache;
  guint64 offset;               /* the first chunk */
} Reader;

static gpointer
read_chunks (gpointer data)
{
  Reader *reader = data;
  GstMemmapFrames *prev = NULL, *frames;
  guint64 start;

  for (start = reader->offset; start < N_FRAMES; start += CHUNK) {
    frames = map_checked (reader->cache, start, CHUNK,
        MIN (CHUNK, N_FRAMES - start));
    g_clear_object (&prev);
    prev = frames;
  }
  g_clear_object (&prev);
  return NULL;
}

/* Two threads read the same new clip in chunks at once, one half a chunk
 * behind: both get the oracle's frames, and no more than one pipeline each
 * is started. */
GST_START_TEST (test_concurrent_readers)
{
  gchar *cache = frames_test_new_cache_dir ("cache-concurrent");
  guint64 started = recordings_stat ("recordings-started");
  Reader a = { cache, 0 }, b = { cache, CHUNK / 2 };
  GThread *ta, *tb;

  ta = g_thread_new ("reader-a", read_chunks, &a);
  tb = g_thread_new ("reader-b", read_chunks, &b);
  g_thread_join (ta);
  g_thread_join (tb);
  fail_unless (recordings_stat ("recordings-started") - started <= 2);
  fail_unless_equals_int (recordings_live (), 0);
  g_free (cache);
}

GST_END_TEST;

static Suite *
frames_cold_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-frames-cold", setup_reference,
      teardown_reference, &tc);

  gst_memmap_init ();
  tcase_add_unchecked_fixture (tc, setup_clip, teardown_clip);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_chunks_join_one_recording);
  tcase_add_test (tc, test_cold_random_access);
  tcase_add_test (tc, test_window_replaces_recording);
  tcase_add_test (tc, test_concurrent_readers);
  tcase_add_test (tc, test_next_window_seeks_same_pipeline);
  tcase_add_test (tc, test_off_grid_falls_back);
  tcase_add_test (tc, test_seek_keeps_last_duration);
  tcase_add_test (tc, test_vfr_not_numbered_by_grid);
  return s;
}

GST_CHECK_MAIN (frames_cold);
