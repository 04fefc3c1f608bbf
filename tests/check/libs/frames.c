/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst_memmap_map_video_frames(): frames of real clips (x264 with B-frames
 * and a short GOP), checked frame by frame against what a plain decoder
 * outputs (SHA-1 of the visible bytes), zero-copy (memmap memory of the
 * cache's frame stores), and decoded once: a second call for cached frames
 * of an unchanged file decodes nothing.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "frames-test-util.h"

#define N_FRAMES 60
#define WIDTH 320
#define HEIGHT 240

static gchar *clip;             /* 60 frames, B-frames, GOP 12 */
static gchar *av_clip;          /* mkv with an audio track */
static GPtrArray *ref_gray;     /* checksums of the decoder's GRAY8 frames */
static GPtrArray *ref_native;   /* ... of its own (I420) frames */
static GArray *ref_pts;
static GArray *ref_dur;         /* the decoder's duration of each frame */

static void
run_launch (const gchar * desc)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);

  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  run_to_eos (pipeline);
  gst_object_unref (pipeline);
}

typedef struct
{
  GPtrArray *sums;
  GArray *pts;
  GArray *dur;
} Reference;

static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad,
    Reference * ref)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstVideoInfo info;
  GstClockTime pts = GST_BUFFER_PTS (buffer);

  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  g_ptr_array_add (ref->sums, memmap_test_frame_checksum (&info, buffer));
  if (ref->pts)
    g_array_append_val (ref->pts, pts);
  if (ref->dur) {
    GstClockTime dur = GST_BUFFER_DURATION (buffer);

    g_array_append_val (ref->dur, dur);
  }
}

/* What a plain decoder outputs for @file, converted to @format. */
static void
decode_reference (const gchar * file, const gchar * format, GPtrArray * sums,
    GArray * pts, GArray * dur)
{
  Reference ref = { sums, pts, dur };
  gchar *caps_tail = g_strdup_printf ("%s%s", format ? ",format=" : "",
      format ? format : "");

  frames_test_decode_with_handoffs (file, caps_tail, G_CALLBACK (on_handoff),
      &ref);
  g_free (caps_tail);
}

static void
setup_clips (void)
{
  gchar *desc;

  memmap_test_make_tmpdir ("memmap-frames");
  clip = test_path ("clip.mp4");
  frames_test_make_clip (clip, N_FRAMES, "ball", 12);
  av_clip = test_path ("av.mkv");
  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=smpte ! "
      "video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 ! x264enc ! "
      "mux. audiotestsrc num-buffers=40 ! audioconvert ! vorbisenc ! mux. "
      "matroskamux name=mux ! filesink location=\"%s\"", N_FRAMES, WIDTH,
      HEIGHT, av_clip);
  frames_test_spawn_launch (desc);
  g_free (desc);
}

static void
teardown_clips (void)
{
  memmap_test_remove_tmpdir ();
  g_free (clip);
  g_free (av_clip);
}

/* in each test's process */
static void
setup_reference (void)
{
  guint i;

  ref_gray = g_ptr_array_new_with_free_func (g_free);
  ref_native = g_ptr_array_new_with_free_func (g_free);
  ref_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  ref_dur = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  decode_reference (clip, "GRAY8", ref_gray, ref_pts, ref_dur);
  decode_reference (clip, NULL, ref_native, NULL, NULL);
  fail_unless_equals_int (ref_gray->len, N_FRAMES);
  fail_unless_equals_int (ref_native->len, N_FRAMES);
  /* durations to compare with: every frame has one */
  for (i = 0; i < ref_dur->len; i++) {
    GstClockTime dur = g_array_index (ref_dur, GstClockTime, i);

    fail_unless (GST_CLOCK_TIME_IS_VALID (dur) && dur > 0,
        "the decoder gave frame %u no duration", i);
  }
}

static void
teardown_reference (void)
{
  g_ptr_array_unref (ref_gray);
  g_ptr_array_unref (ref_native);
  g_array_unref (ref_pts);
  g_array_unref (ref_dur);
}

static GstMemmapFrames *
map_frames (const gchar * file, guint64 start, guint64 count,
    const gchar * format, const gchar * cache_dir)
{
  GError *error = NULL;
  GstMemmapFrames *frames;

  frames = gst_memmap_map_video_frames_full (gst_memmap_engine_get_default (),
      file, start, count, format, cache_dir, &error);
  fail_unless (frames != NULL, "map_video_frames (%s, %" G_GUINT64_FORMAT
      ", %" G_GUINT64_FORMAT "): %s", file, start, count,
      error ? error->message : "");
  return frames;
}

/* The caps and the layout the frames report: fixed caps that say what
 * the video info says, and each plane's offset where the video info and
 * the plane addresses put it. */
static void
check_layout (GstMemmapFrames * frames)
{
  const GstVideoInfo *info = gst_memmap_frames_get_video_info (frames);
  GstCaps *caps = gst_memmap_frames_get_caps (frames);
  GstVideoInfo from_caps;
  guint p;

  fail_unless (GST_IS_CAPS (caps));
  fail_unless (gst_caps_is_fixed (caps), "%" GST_PTR_FORMAT, caps);
  fail_unless (gst_video_info_from_caps (&from_caps, caps));
  fail_unless_equals_string (gst_video_format_to_string
      (GST_VIDEO_INFO_FORMAT (&from_caps)),
      gst_memmap_frames_get_format (frames));
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&from_caps),
      gst_memmap_frames_get_width (frames));
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&from_caps),
      gst_memmap_frames_get_height (frames));
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_N (&from_caps), 30);
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_D (&from_caps), 1);
  /* (transfer none): the same caps every time */
  fail_unless (gst_memmap_frames_get_caps (frames) == caps);

  for (p = 0; p < gst_memmap_frames_get_n_planes (frames); p++) {
    gsize offset = gst_memmap_frames_get_plane_offset (frames, p);

    fail_unless_equals_uint64 (offset, GST_VIDEO_INFO_PLANE_OFFSET (info, p));
    /* planes lie in the frame, in order */
    fail_unless (offset < gst_memmap_frames_get_frame_size (frames));
    if (p > 0)
      fail_unless (offset > gst_memmap_frames_get_plane_offset (frames, p - 1));
    if (gst_memmap_frames_get_n_frames (frames) > 0)
      fail_unless_equals_uint64 (gst_memmap_frames_get_plane_address (frames,
              0, p), gst_memmap_frames_get_address (frames, 0) + offset);
  }
  fail_unless_equals_uint64 (gst_memmap_frames_get_plane_offset (frames, 0), 0);
}

/* Every frame: the reference's frame start + i, at the reference's pts
 * and with its duration, and (when @zero_copy) read-only memmap memory of
 * a store in @cache_dir whose bytes at the reported offset are the
 * frame's. */
static void
check_frames (GstMemmapFrames * frames, GPtrArray * ref, guint64 start,
    guint n, const gchar * cache_dir, gboolean zero_copy)
{
  const GstVideoInfo *info = gst_memmap_frames_get_video_info (frames);
  guint i;

  check_layout (frames);

  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), n);
  fail_unless_equals_uint64 (gst_memmap_frames_get_start_frame (frames), start);
  fail_unless_equals_int (gst_memmap_frames_is_zero_copy (frames), zero_copy);
  for (i = 0; i < n; i++) {
    GstBuffer *buf = gst_memmap_frames_get_buffer (frames, i);
    gchar *sum = memmap_test_frame_checksum (info, buf);
    GstMapInfo map;

    fail_unless_equals_string (sum, g_ptr_array_index (ref, start + i));
    g_free (sum);
    fail_unless_equals_uint64 (gst_memmap_frames_get_pts (frames, i),
        g_array_index (ref_pts, GstClockTime, start + i));
    fail_unless_equals_uint64 (gst_memmap_frames_get_duration (frames, i),
        g_array_index (ref_dur, GstClockTime, start + i));
    fail_unless_equals_uint64 (gst_memmap_frames_get_duration (frames, i),
        GST_BUFFER_DURATION (buf));
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    fail_unless (map.data == gst_memmap_frames_get_data (frames, i));
    fail_unless_equals_uint64 (gst_memmap_frames_get_address (frames, i),
        (guint64) (guintptr) map.data);
    fail_unless_equals_uint64 (gst_memmap_frames_get_plane_address (frames,
            i, 0), (guint64) (guintptr) map.data +
        GST_VIDEO_INFO_PLANE_OFFSET (info, 0));
    gst_buffer_unmap (buf, &map);

    if (zero_copy) {
      GstMemory *mem = gst_buffer_peek_memory (buf, 0);
      const gchar *path = gst_memmap_frames_get_path (frames, i);
      guint64 off = gst_memmap_frames_get_file_offset (frames, i);
      gsize size = gst_memmap_frames_get_frame_size (frames);
      guint8 *bytes = g_malloc (size);
      gint fd;

      fail_unless_equals_int (gst_buffer_n_memory (buf), 1);
      fail_unless (gst_is_memmap_memory (mem));
      fail_unless (GST_MEMORY_IS_READONLY (mem));
      fail_unless (path != NULL && g_str_has_prefix (path, cache_dir),
          "%s is not in %s", path, cache_dir);
      fail_unless (g_str_has_suffix (path, ".store"));
      /* another process finds the same bytes at the same place */
      fd = open (path, O_RDONLY);
      fail_unless (fd >= 0);
      fail_unless_equals_int (pread (fd, bytes, size, off), size);
      close (fd);
      fail_unless (memcmp (bytes, gst_memmap_frames_get_data (frames, i),
              size) == 0, "frame %u differs at its file offset", i);
      g_free (bytes);
    }
  }
}

GST_START_TEST (test_frame_accurate)
{
  gchar *cache = frames_test_new_cache_dir ("cache-accurate");
  GstMemmapFrames *frames;
  const GstVideoInfo *info;

  frames = map_frames (clip, 7, 20, "GRAY8", cache);
  info = gst_memmap_frames_get_video_info (frames);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_FORMAT_GRAY8);
  fail_unless_equals_int (gst_memmap_frames_get_width (frames), WIDTH);
  fail_unless_equals_int (gst_memmap_frames_get_height (frames), HEIGHT);
  fail_unless_equals_string (gst_memmap_frames_get_format (frames), "GRAY8");
  fail_unless_equals_int (gst_memmap_frames_get_n_planes (frames), 1);
  fail_unless_equals_int (gst_memmap_frames_get_plane_stride (frames, 0),
      WIDTH);
  fail_if (gst_memmap_frames_is_clipped (frames));
  check_frames (frames, ref_gray, 7, 20, cache, TRUE);
  /* the first call decodes, through memmapcache */
  fail_if (frames_test_stat_bool (frames, "direct"));
  fail_unless (frames_test_stat_u64 (frames, "decoded-frames") >= 27);
  /* memmapcache counts the GOPs the decoder decoded */
  fail_unless (frames_test_stat_u64 (frames, "cache-misses") >= 1);
  fail_unless (frames_test_stat_u64 (frames, "frames-recorded") >= 27);
  g_object_unref (frames);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_second_call_decodes_nothing)
{
  gchar *cache = frames_test_new_cache_dir ("cache-second");
  GstMemmapFrames *frames1, *frames2, *inner;

  frames1 = map_frames (clip, 10, 30, "GRAY8", cache);
  check_frames (frames1, ref_gray, 10, 30, cache, TRUE);
  fail_unless (frames_test_stat_u64 (frames1, "decoded-frames") > 0);

  /* the same range again: read from the cache, nothing decoded */
  frames2 = map_frames (clip, 10, 30, "GRAY8", cache);
  check_frames (frames2, ref_gray, 10, 30, cache, TRUE);
  fail_unless (frames_test_stat_bool (frames2, "direct"));
  fail_unless_equals_uint64 (frames_test_stat_u64 (frames2, "decoded-frames"),
      0);
  fail_unless_equals_uint64 (frames_test_stat_u64 (frames2, "cache-hits"), 1);
  /* the same bytes of the same file: the store is shared, not copied */
  fail_unless_equals_string (gst_memmap_frames_get_path (frames1, 0),
      gst_memmap_frames_get_path (frames2, 0));
  fail_unless_equals_uint64 (gst_memmap_frames_get_file_offset (frames1, 5),
      gst_memmap_frames_get_file_offset (frames2, 5));

  /* a range inside what is cached: nothing decoded either */
  inner = map_frames (clip, 0, 12, "GRAY8", cache);
  check_frames (inner, ref_gray, 0, 12, cache, TRUE);
  fail_unless_equals_uint64 (frames_test_stat_u64 (inner, "decoded-frames"), 0);

  g_object_unref (frames1);
  g_object_unref (frames2);
  g_object_unref (inner);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_beyond_cached)
{
  gchar *cache = frames_test_new_cache_dir ("cache-beyond");
  GstMemmapFrames *frames;

  frames = map_frames (clip, 0, 20, "GRAY8", cache);
  check_frames (frames, ref_gray, 0, 20, cache, TRUE);
  g_object_unref (frames);

  /* past what is cached: memmapcache serves the start, the decoder the
   * rest; the numbering stays the stream's */
  frames = map_frames (clip, 35, 15, "GRAY8", cache);
  check_frames (frames, ref_gray, 35, 15, cache, TRUE);
  fail_if (frames_test_stat_bool (frames, "direct"));
  fail_unless (frames_test_stat_u64 (frames, "decoded-frames") > 0);
  g_object_unref (frames);

  frames = map_frames (clip, 35, 15, "GRAY8", cache);
  check_frames (frames, ref_gray, 35, 15, cache, TRUE);
  fail_unless_equals_uint64 (frames_test_stat_u64 (frames, "decoded-frames"),
      0);
  g_object_unref (frames);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_clipped)
{
  gchar *cache = frames_test_new_cache_dir ("cache-clipped");
  GstMemmapFrames *frames;
  guint pass;

  for (pass = 0; pass < 2; pass++) {
    /* past the end: clipped, the count says so */
    frames = map_frames (clip, 50, 30, "GRAY8", cache);
    check_frames (frames, ref_gray, 50, 10, cache, TRUE);
    fail_unless (gst_memmap_frames_is_clipped (frames));
    if (pass == 1)
      fail_unless_equals_uint64 (frames_test_stat_u64 (frames,
              "decoded-frames"), 0);
    g_object_unref (frames);

    /* all of it */
    frames = map_frames (clip, 0, 0, "GRAY8", cache);
    check_frames (frames, ref_gray, 0, N_FRAMES, cache, TRUE);
    fail_if (gst_memmap_frames_is_clipped (frames));
    if (pass == 1)
      fail_unless_equals_uint64 (frames_test_stat_u64 (frames,
              "decoded-frames"), 0);
    g_object_unref (frames);

    /* entirely past the end: no frame */
    frames = map_frames (clip, N_FRAMES, 5, "GRAY8", cache);
    fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), 0);
    fail_unless (gst_memmap_frames_is_clipped (frames));
    fail_unless_equals_uint64 (gst_memmap_frames_get_start_frame (frames),
        N_FRAMES);
    g_object_unref (frames);
  }
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_native_format_and_uri)
{
  gchar *cache = frames_test_new_cache_dir ("cache-native");
  gchar *uri = gst_filename_to_uri (clip, NULL);
  GstMemmapFrames *frames;

  frames = map_frames (uri, 3, 9, NULL, cache);
  fail_unless_equals_string (gst_memmap_frames_get_format (frames), "I420");
  fail_unless_equals_int (gst_memmap_frames_get_n_planes (frames), 3);
  check_frames (frames, ref_native, 3, 9, cache, TRUE);
  g_object_unref (frames);

  /* the path and the URI name the same file */
  frames = map_frames (clip, 3, 9, NULL, cache);
  check_frames (frames, ref_native, 3, 9, cache, TRUE);
  g_object_unref (frames);
  frames = map_frames (uri, 3, 9, NULL, cache);
  fail_unless_equals_uint64 (frames_test_stat_u64 (frames, "decoded-frames"),
      0);
  g_object_unref (frames);
  g_free (uri);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_audio_track)
{
  gchar *cache = frames_test_new_cache_dir ("cache-av");
  GstMemmapFrames *frames;
  GPtrArray *ref = g_ptr_array_new_with_free_func (g_free);
  guint i;

  decode_reference (av_clip, "RGBA", ref, NULL, NULL);
  frames = map_frames (av_clip, 0, 0, "RGBA", cache);
  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), N_FRAMES);
  for (i = 0; i < N_FRAMES; i++) {
    gchar *sum =
        memmap_test_frame_checksum (gst_memmap_frames_get_video_info (frames),
        gst_memmap_frames_get_buffer (frames, i));

    fail_unless_equals_string (sum, g_ptr_array_index (ref, i));
    g_free (sum);
  }
  g_object_unref (frames);
  g_ptr_array_unref (ref);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_changed_file)
{
  gchar *cache = frames_test_new_cache_dir ("cache-changed");
  gchar *file = test_path ("changing.mp4");
  GPtrArray *ref = g_ptr_array_new_with_free_func (g_free);
  GstMemmapFrames *frames;
  gchar *sum_before, *sum_after;

  frames_test_make_clip (file, N_FRAMES, "ball", 12);
  frames = map_frames (file, 20, 5, "GRAY8", cache);
  sum_before =
      memmap_test_frame_checksum (gst_memmap_frames_get_video_info (frames),
      gst_memmap_frames_get_buffer (frames, 0));
  g_object_unref (frames);

  /* the file is replaced by another clip: never served stale */
  g_usleep (20000);
  frames_test_make_clip (file, N_FRAMES, "snow", 12);
  decode_reference (file, "GRAY8", ref, NULL, NULL);
  frames = map_frames (file, 20, 5, "GRAY8", cache);
  sum_after =
      memmap_test_frame_checksum (gst_memmap_frames_get_video_info (frames),
      gst_memmap_frames_get_buffer (frames, 0));
  fail_unless (frames_test_stat_u64 (frames, "decoded-frames") > 0);
  fail_unless_equals_string (sum_after, g_ptr_array_index (ref, 20));
  fail_if (g_str_equal (sum_before, sum_after));
  g_object_unref (frames);

  g_free (sum_before);
  g_free (sum_after);
  g_ptr_array_unref (ref);
  g_free (file);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_unusable_cache)
{
  /* a cache directory that is a file: the frames still come, copied */
  gchar *cache = test_path ("not-a-dir");
  GstMemmapFrames *frames;
  GstStructure *stats;

  fail_unless (g_file_set_contents (cache, "x", 1, NULL));
  frames = map_frames (clip, 4, 6, "GRAY8", cache);
  check_frames (frames, ref_gray, 4, 6, cache, FALSE);
  fail_unless (gst_memmap_frames_get_path (frames, 0) == NULL);
  stats = gst_memmap_frames_get_stats (frames);
  fail_unless (gst_structure_has_field (stats, "cache-warning"),
      "%" GST_PTR_FORMAT, stats);
  gst_structure_free (stats);
  fail_unless_equals_uint64 (frames_test_stat_u64 (frames, "frames-copied"), 6);
  g_object_unref (frames);
  g_unlink (cache);
  g_free (cache);
}

GST_END_TEST;

/* The names of the regular files of @dir, sorted. */
static GPtrArray *
list_names (const gchar * dir, gboolean dirs)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  fail_unless (d != NULL, "no directory %s", dir);
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *path = g_build_filename (dir, name, NULL);

    if (g_file_test (path, dirs ? G_FILE_TEST_IS_DIR :
            G_FILE_TEST_IS_REGULAR) && strlen (name) == 64)
      g_ptr_array_add (names, g_strdup (name));
    g_free (path);
  }
  g_dir_close (d);
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  return names;
}

/* Swaps the files or directories @a and @b of @dir. */
static void
swap_names (const gchar * dir, const gchar * a, const gchar * b)
{
  gchar *pa = g_build_filename (dir, a, NULL);
  gchar *pb = g_build_filename (dir, b, NULL);
  gchar *tmp = g_build_filename (dir, "swap.tmp", NULL);

  fail_unless (g_rename (pa, tmp) == 0 && g_rename (pb, pa) == 0 &&
      g_rename (tmp, pb) == 0);
  g_free (pa);
  g_free (pb);
  g_free (tmp);
}

/* frames 0..9 of the clip: right, and read directly or not */
static void
check_clip (const gchar * cache, gboolean direct, const gchar * what)
{
  GstMemmapFrames *frames = map_frames (clip, 0, 10, "GRAY8", cache);
  guint i;

  fail_unless (frames_test_stat_bool (frames, "direct") == direct,
      "%s: direct is %d", what, !direct);
  if (direct) {
    check_frames (frames, ref_gray, 0, 10, cache, TRUE);
    fail_unless_equals_uint64 (frames_test_stat_u64 (frames, "decoded-frames"),
        0);
  } else {
    /* the frames only: through a pipeline over a partial entry, memmapcache
     * hands out its first frame as writable memory (not this test's
     * concern) */
    fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), 10);
    for (i = 0; i < 10; i++) {
      gchar *sum =
          memmap_test_frame_checksum (gst_memmap_frames_get_video_info (frames),
          gst_memmap_frames_get_buffer (frames, i));

      fail_unless (g_strcmp0 (sum, g_ptr_array_index (ref_gray, i)) == 0,
          "%s: frame %u differs from the reference decode", what, i);
      g_free (sum);
    }
  }
  g_object_unref (frames);
}

static void
chown_all (const gchar * dir, GPtrArray * names, uid_t uid)
{
  guint i;

  for (i = 0; i < names->len; i++) {
    gchar *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);

    fail_unless (chown (path, uid, (gid_t) - 1) == 0, "chown %s", path);
    g_free (path);
  }
}

/* Issue 12.4: files under the frames/ index swapped (by another user of a
 * shared cache directory, or anybody) made map_video_frames return the
 * other video's frames with 0 frames decoded. Each index file now says
 * whose it is, each entry's meta which entry it is, and every file and
 * directory read must be the user's own. */
GST_START_TEST (test_swapped_cache_files)
{
  gchar *cache = frames_test_new_cache_dir ("cache-swapped");
  gchar *other = test_path ("other.mp4");
  gchar *index_dir = g_build_filename (cache, "frames", NULL);
  GPtrArray *ref_other = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *index, *entries;
  GstMemmapFrames *frames;
  gchar *sum;

  frames_test_make_clip (other, N_FRAMES, "snow", 12);
  decode_reference (other, "GRAY8", ref_other, NULL, NULL);
  check_clip (cache, FALSE, "first call");
  check_clip (cache, TRUE, "second call");
  frames = map_frames (other, 0, 10, "GRAY8", cache);
  sum = memmap_test_frame_checksum (gst_memmap_frames_get_video_info (frames),
      gst_memmap_frames_get_buffer (frames, 3));
  fail_unless_equals_string (sum, g_ptr_array_index (ref_other, 3));
  g_free (sum);
  g_object_unref (frames);

  /* the two index files swapped: refused, the clip decoded again */
  index = list_names (index_dir, FALSE);
  fail_unless_equals_int (index->len, 2);
  swap_names (index_dir, g_ptr_array_index (index, 0),
      g_ptr_array_index (index, 1));
  check_clip (cache, FALSE, "index files swapped");
  check_clip (cache, TRUE, "index rewritten");

  /* the two entries swapped (a cache directory others can rename in):
   * their meta says which is which */
  entries = list_names (cache, TRUE);
  fail_unless_equals_int (entries->len, 2);
  swap_names (cache, g_ptr_array_index (entries, 0),
      g_ptr_array_index (entries, 1));
  check_clip (cache, FALSE, "entries swapped");
  check_clip (cache, TRUE, "entry recorded again");
  g_ptr_array_unref (entries);

  if (geteuid () == 0) {
    /* another user's files: never read */
    chown_all (index_dir, index, 4242);
    check_clip (cache, FALSE, "index files of another user");
    chown_all (index_dir, index, geteuid ());
    check_clip (cache, TRUE, "index files ours again");
    fail_unless (chown (index_dir, 4242, (gid_t) - 1) == 0);
    check_clip (cache, FALSE, "index directory of another user");
    fail_unless (chown (index_dir, geteuid (), (gid_t) - 1) == 0);
    fail_unless (chmod (index_dir, 0777) == 0);
    check_clip (cache, FALSE, "index directory others can write");
    fail_unless (chmod (index_dir, 0700) == 0);
    check_clip (cache, TRUE, "index directory private again");
  } else {
    g_print ("test_swapped_cache_files: the other-uid part is skipped: "
        "chown needs root\n");
  }

  g_ptr_array_unref (index);
  g_ptr_array_unref (ref_other);
  g_free (index_dir);
  g_free (other);
  g_free (cache);
}

GST_END_TEST;

static void
expect_error (const gchar * input, const gchar * format, GQuark domain,
    gint code, const gchar * in_message)
{
  GError *error = NULL;
  GstMemmapFrames *frames;
  gchar *cache = test_path ("cache-errors");

  frames = gst_memmap_map_video_frames_full (gst_memmap_engine_get_default (),
      input, 0, 5, format, cache, &error);
  fail_unless (frames == NULL);
  fail_unless (error != NULL);
  fail_unless (g_error_matches (error, domain, code), "%s: %s (%d)", input,
      error->message, error->code);
  fail_unless (strstr (error->message, in_message) != NULL,
      "'%s' not in '%s'", in_message, error->message);
  g_error_free (error);
  g_free (cache);
}

GST_START_TEST (test_errors)
{
  gchar *missing = test_path ("missing.mp4");
  gchar *text = test_path ("notes.txt");
  gchar *audio = test_path ("audio.ogg");
  gchar *desc;

  expect_error (missing, NULL, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_NOT_FOUND,
      missing);
  fail_unless (g_file_set_contents (text, "not a video\n", -1, NULL));
  expect_error (text, NULL, GST_STREAM_ERROR, GST_STREAM_ERROR_TYPE_NOT_FOUND,
      text);
  expect_error (tmpdir, NULL, GST_MEMMAP_ERROR,
      GST_MEMMAP_ERROR_IS_DIRECTORY, tmpdir);
  expect_error (clip, "NOPE", GST_MEMMAP_ERROR,
      GST_MEMMAP_ERROR_INVALID_ARGUMENT, "NOPE");
  desc = g_strdup_printf ("audiotestsrc num-buffers=20 ! audioconvert ! "
      "vorbisenc ! oggmux ! filesink location=\"%s\"", audio);
  run_launch (desc);
  g_free (desc);
  expect_error (audio, NULL, GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE,
      "no video stream");

  g_free (missing);
  g_free (text);
  g_free (audio);
}

GST_END_TEST;

static Suite *
frames_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-frames", setup_reference,
      teardown_reference, &tc);

  gst_memmap_init ();
  tcase_add_unchecked_fixture (tc, setup_clips, teardown_clips);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_frame_accurate);
  tcase_add_test (tc, test_second_call_decodes_nothing);
  tcase_add_test (tc, test_beyond_cached);
  tcase_add_test (tc, test_clipped);
  tcase_add_test (tc, test_native_format_and_uri);
  tcase_add_test (tc, test_audio_track);
  tcase_add_test (tc, test_changed_file);
  tcase_add_test (tc, test_unusable_cache);
  tcase_add_test (tc, test_swapped_cache_files);
  tcase_add_test (tc, test_errors);

  return s;
}

GST_CHECK_MAIN (frames);
