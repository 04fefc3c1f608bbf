/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the frame store (GstMemmapStoreWriter, GstMemmapStoreReader,
 * docs/store-format.md): byte round trips of many layouts, ring wrap-around,
 * append growth, slot release, reuse in place, a writer process killed at
 * random moments, a real disk-full (file size limit) in a writer process,
 * hostile and truncated files, and random corruption.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "../store-pattern.h"

#define P 4096

static GstMemmapEngine *engine;

static void
setup (void)
{
  gst_memmap_init ();
  memmap_test_make_tmpdir ("memmap-store");
  engine = gst_memmap_engine_new ();
}

static void
teardown (void)
{
  gst_memmap_engine_clear_all (engine);
  gst_object_unref (engine);
  engine = NULL;
  memmap_test_remove_tmpdir ();
}

static GstCaps *
make_caps (GstVideoFormat format, guint width, guint height)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, format, width, height);
  GST_VIDEO_INFO_FPS_N (&info) = 30;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  return gst_video_info_to_caps (&info);
}

typedef struct
{
  GstVideoFormat format;
  guint width, height;
  GstMemmapStoreMode mode;
  guint64 max_frames;
  guint spare;
  guint64 chunk_bytes;
  GstMemmapStoreWriterFlags flags;
  guint stride_align, pad_rows;
} StoreParams;

static GstMemmapStoreWriter *
new_writer (const gchar * path, const StoreParams * sp, GstVideoInfo * layout,
    GError ** error)
{
  GstMemmapStoreWriter *w;
  GstCaps *caps;

  fail_unless (store_make_layout (layout, sp->format, sp->width, sp->height,
          sp->stride_align, sp->pad_rows));
  caps = make_caps (sp->format, sp->width, sp->height);
  w = gst_memmap_store_writer_new_full (engine, path, caps, layout,
      sp->mode, sp->max_frames, sp->spare, sp->chunk_bytes, sp->flags, error);
  gst_caps_unref (caps);
  return w;
}

static GstMemmapStoreWriter *
new_writer_ok (const gchar * path, const StoreParams * sp,
    GstVideoInfo * layout)
{
  GError *err = NULL;
  GstMemmapStoreWriter *w = new_writer (path, sp, layout, &err);

  fail_unless (w != NULL, "writer %s: %s", path, err ? err->message : "?");
  return w;
}

static guint64
acquire_ok (GstMemmapStoreWriter * w)
{
  GError *err = NULL;
  guint64 slot = G_MAXUINT64;

  fail_unless (gst_memmap_store_writer_acquire_slot (w, &slot, &err),
      "acquire: %s", err ? err->message : "?");
  return slot;
}

/* Fills @slot with the pattern of frame @f through gst_video_frame_map() of
 * a buffer with the layout's video meta, and returns the pixel checksum. */
static gchar *
fill_slot (GstMemmapStoreWriter * w, const GstVideoInfo * layout,
    guint64 slot, guint64 f)
{
  GError *err = NULL;
  GstMemory *mem;
  GstBuffer *buf;
  GstVideoFrame frame;
  gsize offsets[GST_VIDEO_MAX_PLANES];
  gint strides[GST_VIDEO_MAX_PLANES];
  gchar *sum;
  guint p, y, x;

  mem = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, &err);
  fail_unless (mem != NULL, "slot memory: %s", err ? err->message : "?");
  fail_unless (gst_is_memmap_memory (mem));
  fail_if (GST_MEMORY_IS_READONLY (mem));
  fail_unless_equals_uint64 (gst_memory_get_sizes (mem, NULL, NULL),
      GST_VIDEO_INFO_SIZE (layout));

  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (layout); p++) {
    offsets[p] = GST_VIDEO_INFO_PLANE_OFFSET (layout, p);
    strides[p] = GST_VIDEO_INFO_PLANE_STRIDE (layout, p);
  }
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (layout), GST_VIDEO_INFO_WIDTH (layout),
      GST_VIDEO_INFO_HEIGHT (layout), GST_VIDEO_INFO_N_PLANES (layout),
      offsets, strides);
  fail_unless (gst_video_frame_map (&frame, layout, buf, GST_MAP_WRITE));
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);

    for (y = 0; y < store_plane_rows (layout, p); y++)
      for (x = 0; x < store_plane_row_bytes (layout, p); x++)
        data[(gsize) y * stride + x] = store_pattern_byte (f, p, y, x);
  }
  gst_video_frame_unmap (&frame);

  {
    GstMapInfo map;

    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    sum = store_frame_checksum (map.data, layout, offsets, strides);
    gst_buffer_unmap (buf, &map);
  }
  gst_buffer_unref (buf);

  return sum;
}

static gchar *
write_frame (GstMemmapStoreWriter * w, const GstVideoInfo * layout,
    guint64 f, GstClockTime pts, GstClockTime dur, guint32 flags)
{
  GError *err = NULL;
  guint64 slot = acquire_ok (w);
  gchar *sum = fill_slot (w, layout, slot, f);

  fail_unless (gst_memmap_store_writer_commit (w, slot, pts, dur, flags,
          &err), "commit: %s", err ? err->message : "?");
  return sum;
}

static GstMemmapStoreReader *
open_ok (const gchar * path)
{
  return memmap_test_open_store (engine, path);
}

/* Checks the memory and meta of @buf, then that it holds frame @f with
 * checksum @sum (if not NULL). */
static void
check_buffer (GstBuffer * buf, const gchar * path, const GstVideoInfo * layout,
    guint64 f, const gchar * sum)
{
  GstMemory *mem;
  GstMemmapMapping *mapping;
  GstVideoMeta *meta;
  GstVideoFrame frame;
  GstMapInfo map;
  gsize offsets[GST_VIDEO_MAX_PLANES];
  gint strides[GST_VIDEO_MAX_PLANES];
  gchar *got;
  guint p;

  fail_unless_equals_int (gst_buffer_n_memory (buf), 1);
  mem = gst_buffer_peek_memory (buf, 0);
  fail_unless (gst_is_memmap_memory (mem));
  fail_unless (GST_MEMORY_IS_READONLY (mem));
  fail_unless_equals_string (gst_memmap_memory_get_path (mem), path);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), f);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (buf), f + 1);

  /* zero-copy: the bytes are the reader's mapping of the file */
  mapping = gst_memmap_memory_get_mapping (mem);
  fail_unless (mapping != NULL);
  fail_unless (gst_memmap_mapping_is_mmapped (mapping));
  fail_unless (!gst_memmap_mapping_is_writable (mapping));
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  fail_unless (map.data == gst_memmap_mapping_data_at (mapping,
          gst_memmap_memory_get_file_offset (mem), map.size));
  fail_unless_equals_uint64 (map.size, GST_VIDEO_INFO_SIZE (layout));
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (mem) % P, 0);
  gst_memory_unmap (mem, &map);

  meta = gst_buffer_get_video_meta (buf);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->format, GST_VIDEO_INFO_FORMAT (layout));
  fail_unless_equals_int (meta->width, GST_VIDEO_INFO_WIDTH (layout));
  fail_unless_equals_int (meta->height, GST_VIDEO_INFO_HEIGHT (layout));
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (layout); p++) {
    fail_unless_equals_uint64 (meta->offset[p],
        GST_VIDEO_INFO_PLANE_OFFSET (layout, p));
    fail_unless_equals_int (meta->stride[p],
        GST_VIDEO_INFO_PLANE_STRIDE (layout, p));
    offsets[p] = meta->offset[p];
    strides[p] = meta->stride[p];
  }

  /* through the meta, as any element would */
  fail_unless (gst_video_frame_map (&frame, layout, buf, GST_MAP_READ));
  fail_unless (store_check_frame ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame,
              0) - GST_VIDEO_INFO_PLANE_OFFSET (layout, 0), layout, f),
      "frame %" G_GUINT64_FORMAT " of %s has wrong pixels", f, path);
  gst_video_frame_unmap (&frame);

  if (sum) {
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    got = store_frame_checksum (map.data, layout, offsets, strides);
    gst_buffer_unmap (buf, &map);
    fail_unless_equals_string (got, sum);
    g_free (got);
  }
}

static void
check_frame (GstMemmapStoreReader * r, const GstVideoInfo * layout,
    guint64 f, const gchar * sum)
{
  GError *err = NULL;
  GstBuffer *buf = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);

  fail_unless (buf != NULL, "frame %" G_GUINT64_FORMAT ": %s", f,
      err ? err->message : "?");
  check_buffer (buf, gst_memmap_store_reader_get_path (r), layout, f, sum);
  gst_buffer_unref (buf);
}

/* Checks that frame @f holds the pattern of frame number @content (a store
 * reused or replaced holds other content under the same numbers). */
static void
check_frame_content (GstMemmapStoreReader * r, const GstVideoInfo * layout,
    guint64 f, guint64 content)
{
  GstBuffer *buf = gst_memmap_store_reader_get_buffer (r, NULL, f, NULL);
  GstMapInfo map;

  fail_unless (buf != NULL);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless (store_check_frame (map.data, layout, content));
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
}

static void
assert_error (GError * err, gint code, const gchar * path)
{
  fail_unless (err != NULL, "no error, expected code %d for %s", code, path);
  fail_unless (err->domain == GST_MEMMAP_ERROR, "domain %s: %s",
      g_quark_to_string (err->domain), err->message);
  fail_unless (err->code == code, "code %d (%s), expected %d", err->code,
      err->message, code);
  if (path) {
    gchar *base = g_path_get_basename (path);

    fail_unless (strstr (err->message, base) != NULL,
        "error does not name the file: %s", err->message);
    g_free (base);
  }
}

static void
frame_fails (GstMemmapStoreReader * r, guint64 f, gint code)
{
  GstMemmapStoreEntry e;
  GError *err = NULL;
  GstBuffer *buf;

  fail_if (gst_memmap_store_reader_get_entry (r, f, &e, &err));
  assert_error (err, code, gst_memmap_store_reader_get_path (r));
  g_clear_error (&err);
  buf = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);
  fail_unless (buf == NULL);
  assert_error (err, code, gst_memmap_store_reader_get_path (r));
  g_clear_error (&err);
}

static guint64
file_size (const gchar * path)
{
  struct stat st;

  fail_unless (stat (path, &st) == 0);
  return st.st_size;
}

/* bytes of disk blocks the file holds */
static guint64
file_blocks_bytes (const gchar * path)
{
  struct stat st;

  fail_unless (stat (path, &st) == 0);
  return (guint64) st.st_blocks * 512;
}

static guint64
file_ino (const gchar * path)
{
  struct stat st;

  fail_unless (stat (path, &st) == 0);
  return st.st_ino;
}

/* ------------------------------------------------------------------------ */
/* round trips                                                              */

static const struct
{
  GstVideoFormat format;
  guint width, height;
} formats[] = {
  {GST_VIDEO_FORMAT_I420, 64, 48},
  {GST_VIDEO_FORMAT_NV12, 64, 48},
  {GST_VIDEO_FORMAT_RGB, 33, 17},
  {GST_VIDEO_FORMAT_RGBA, 20, 10},
  {GST_VIDEO_FORMAT_GRAY8, 31, 7},
  {GST_VIDEO_FORMAT_I420, 317, 241},
  {GST_VIDEO_FORMAT_NV12, 33, 21},
  {GST_VIDEO_FORMAT_GRAY16_LE, 31, 7},
  {GST_VIDEO_FORMAT_Y42B, 35, 9},
  {GST_VIDEO_FORMAT_Y444, 16, 16},
  {GST_VIDEO_FORMAT_BGRx, 21, 11},
  {GST_VIDEO_FORMAT_YUY2, 17, 5},
};

#define RT_FRAMES 6

static GstClockTime
rt_pts (guint64 f)
{
  return f == 4 ? GST_CLOCK_TIME_NONE : f * 40 * GST_MSECOND;
}

static GstClockTime
rt_dur (guint64 f)
{
  return f == 4 ? GST_CLOCK_TIME_NONE : 40 * GST_MSECOND;
}

static guint32
rt_flags (guint64 f)
{
  return (f == 0 || f == 3) ? GST_MEMMAP_STORE_FRAME_DISCONT : 0;
}

static void
roundtrip (const StoreParams * sp)
{
  gchar *path = test_path ("rt.store");
  gchar *sums[RT_FRAMES];
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GstCaps *caps, *rcaps;
  GstBuffer *kept;
  GError *err = NULL;
  const GstVideoInfo *rl;
  guint64 f;
  guint p;

  w = new_writer_ok (path, sp, &layout);
  for (f = 0; f < RT_FRAMES; f++)
    sums[f] = write_frame (w, &layout, f, rt_pts (f), rt_dur (f), rt_flags (f));

  /* a live store */
  r = open_ok (path);
  fail_if (gst_memmap_store_reader_is_closed (r));
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r),
      RT_FRAMES);
  check_frame (r, &layout, RT_FRAMES - 1, sums[RT_FRAMES - 1]);

  fail_unless (gst_memmap_store_writer_close (w, &err));
  fail_unless (gst_memmap_store_reader_is_closed (r));
  gst_memmap_store_writer_unref (w);

  caps = make_caps (sp->format, sp->width, sp->height);
  rcaps = gst_memmap_store_reader_get_caps (r);
  fail_unless (gst_caps_is_equal (caps, rcaps));
  gst_caps_unref (caps);
  gst_caps_unref (rcaps);
  fail_unless_equals_int (gst_memmap_store_reader_get_mode (r), sp->mode);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_first_frame (r), 0);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_generation (r), 1);

  rl = gst_memmap_store_reader_get_layout (r);
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (rl),
      GST_VIDEO_INFO_FORMAT (&layout));
  fail_unless_equals_uint64 (GST_VIDEO_INFO_SIZE (rl),
      GST_VIDEO_INFO_SIZE (&layout));
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (&layout); p++) {
    fail_unless_equals_uint64 (GST_VIDEO_INFO_PLANE_OFFSET (rl, p),
        GST_VIDEO_INFO_PLANE_OFFSET (&layout, p));
    fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (rl, p),
        GST_VIDEO_INFO_PLANE_STRIDE (&layout, p));
  }

  for (f = 0; f < RT_FRAMES; f++) {
    GstBuffer *buf;

    fail_unless (gst_memmap_store_reader_get_entry (r, f, &e, &err));
    fail_unless_equals_uint64 (e.frame, f);
    fail_unless_equals_uint64 (e.pts, rt_pts (f));
    fail_unless_equals_uint64 (e.duration, rt_dur (f));
    fail_unless_equals_int (e.flags, rt_flags (f));

    buf = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);
    fail_unless (buf != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), rt_pts (f));
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), rt_dur (f));
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (buf,
            GST_BUFFER_FLAG_DISCONT), rt_flags (f) != 0);
    check_buffer (buf, path, &layout, f, sums[f]);
    gst_buffer_unref (buf);
  }
  frame_fails (r, RT_FRAMES, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
  frame_fails (r, G_MAXUINT64, GST_MEMMAP_ERROR_INVALID_ARGUMENT);

  /* a buffer outlives its reader */
  kept = gst_memmap_store_reader_get_buffer (r, NULL, 2, &err);
  fail_unless (kept != NULL);
  gst_memmap_store_reader_unref (r);
  check_buffer (kept, path, &layout, 2, sums[2]);
  gst_buffer_unref (kept);

  for (f = 0; f < RT_FRAMES; f++)
    g_free (sums[f]);
  unlink (path);
  g_free (path);
}

GST_START_TEST (test_roundtrip_formats)
{
  guint i, variant;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    for (variant = 0; variant < 3; variant++) {
      StoreParams sp = { formats[i].format, formats[i].width,
        formats[i].height, GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 0, 0, 0, 0
      };

      GST_INFO ("%s %ux%u variant %u",
          gst_video_format_to_string (sp.format), sp.width, sp.height, variant);
      if (variant == 1) {
        /* a padded layout: strides aligned to 64, two rows on top */
        sp.stride_align = 64;
        sp.pad_rows = 2;
      } else if (variant == 2) {
        /* a ring that holds them all */
        sp.mode = GST_MEMMAP_STORE_MODE_RING;
        sp.max_frames = RT_FRAMES;
      }
      roundtrip (&sp);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_bad_arguments)
{
  gchar *path = test_path ("bad.store");
  GstVideoInfo layout;
  GstCaps *caps;
  GError *err = NULL;
  StoreParams sp = { GST_VIDEO_FORMAT_I420, 64, 48,
    GST_MEMMAP_STORE_MODE_RING, 0, 0, 0, 0, 0, 0
  };

  /* a ring of 0 frames */
  fail_unless (new_writer (path, &sp, &layout, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);

  /* caps that do not match the layout */
  gst_video_info_set_format (&layout, GST_VIDEO_FORMAT_I420, 64, 48);
  caps = make_caps (GST_VIDEO_FORMAT_NV12, 64, 48);
  fail_unless (gst_memmap_store_writer_new (engine, path, caps, &layout,
          GST_MEMMAP_STORE_MODE_APPEND, 0, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  gst_caps_unref (caps);

  /* non-fixed caps */
  caps = gst_caps_from_string ("video/x-raw,format=I420,width=[1,64],"
      "height=48");
  fail_unless (gst_memmap_store_writer_new (engine, path, caps, &layout,
          GST_MEMMAP_STORE_MODE_APPEND, 0, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  gst_caps_unref (caps);

  /* a plane outside the frame */
  caps = make_caps (GST_VIDEO_FORMAT_I420, 64, 48);
  GST_VIDEO_INFO_PLANE_OFFSET (&layout, 2) = GST_VIDEO_INFO_SIZE (&layout);
  fail_unless (gst_memmap_store_writer_new (engine, path, caps, &layout,
          GST_MEMMAP_STORE_MODE_APPEND, 0, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, NULL);
  g_clear_error (&err);

  /* a stride shorter than a row */
  gst_video_info_set_format (&layout, GST_VIDEO_FORMAT_I420, 64, 48);
  GST_VIDEO_INFO_PLANE_STRIDE (&layout, 0) = 63;
  fail_unless (gst_memmap_store_writer_new (engine, path, caps, &layout,
          GST_MEMMAP_STORE_MODE_APPEND, 0, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, NULL);
  g_clear_error (&err);
  gst_caps_unref (caps);

  fail_if (g_file_test (path, G_FILE_TEST_EXISTS));
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_caps_normalized)
{
  gchar *path = test_path ("caps.store");
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstCaps *caps, *rcaps, *plain;

  /* fixed caps with a field readers would refuse: stored as the caps of
   * their video info */
  gst_video_info_set_format (&layout, GST_VIDEO_FORMAT_GRAY8, 16, 16);
  caps = gst_caps_from_string ("video/x-raw, format=(string)GRAY8, "
      "width=(int)16, height=(int)16, framerate=(fraction)25/1, "
      "extra=(structure)\"s, a=(int)1;\"");
  fail_unless (caps != NULL && gst_caps_is_fixed (caps));
  w = gst_memmap_store_writer_new (engine, path, caps, &layout,
      GST_MEMMAP_STORE_MODE_APPEND, 0, NULL);
  fail_unless (w != NULL);
  gst_memmap_store_writer_unref (w);

  r = open_ok (path);
  rcaps = gst_memmap_store_reader_get_caps (r);
  fail_unless (gst_video_info_from_caps (&layout, caps));
  plain = gst_video_info_to_caps (&layout);
  fail_unless (gst_caps_is_equal (rcaps, plain), "%" GST_PTR_FORMAT, rcaps);
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_N
      (gst_memmap_store_reader_get_layout (r)), 25);
  gst_caps_unref (plain);
  gst_caps_unref (rcaps);
  gst_caps_unref (caps);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* ring, growth, slots                                                      */

GST_START_TEST (test_ring_wraparound)
{
  gchar *path = test_path ("ring.store");
  StoreParams sp = { GST_VIDEO_FORMAT_I420, 32, 16,
    GST_MEMMAP_STORE_MODE_RING, 5, 3, 0, 0, 0, 0
  };
  const guint64 n = 23;
  gchar *sums[23];
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r = NULL;
  GError *err = NULL;
  guint64 f, slots[3], i, size;

  w = new_writer_ok (path, &sp, &layout);
  fail_unless_equals_int (gst_memmap_store_writer_get_spare_slots (w), 3);
  fail_unless_equals_int (gst_memmap_store_writer_get_mode (w),
      GST_MEMMAP_STORE_MODE_RING);
  fail_unless_equals_uint64 (gst_memmap_store_writer_get_max_frames (w), 5);
  fail_unless_equals_string (gst_memmap_store_writer_get_path (w), path);
  /* the whole ring is reserved at creation */
  size = file_size (path);
  fail_unless_equals_uint64 (size, P + P + 8 * P);

  for (f = 0; f < n; f++) {
    sums[f] = write_frame (w, &layout, f, f * GST_SECOND, GST_SECOND, 0);
    if (r == NULL)
      r = open_ok (path);
    fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r),
        f + 1);
    fail_unless_equals_uint64 (gst_memmap_store_reader_get_first_frame (r),
        f + 1 > 5 ? f + 1 - 5 : 0);
    /* the newest and the oldest frame of the ring */
    check_frame (r, &layout, f, sums[f]);
    if (f >= 5) {
      check_frame (r, &layout, f - 4, sums[f - 4]);
      frame_fails (r, f - 5, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
    }
  }
  fail_unless_equals_uint64 (file_size (path), size);

  /* the last 5 frames, several wraps later */
  for (f = 0; f < n; f++) {
    if (f < n - 5)
      frame_fails (r, f, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
    else
      check_frame (r, &layout, f, sums[f]);
  }
  /* every frame of the ring in its own slot */
  for (f = n - 5; f < n; f++) {
    GstMemmapStoreEntry a, b;

    fail_unless (gst_memmap_store_reader_get_entry (r, f, &a, NULL));
    fail_unless (a.slot < 8);
    for (i = f + 1; i < n; i++) {
      fail_unless (gst_memmap_store_reader_get_entry (r, i, &b, NULL));
      fail_unless (a.slot != b.slot);
    }
  }

  /* only the spare slots are free in a full ring */
  for (i = 0; i < 3; i++)
    slots[i] = acquire_ok (w);
  fail_if (gst_memmap_store_writer_acquire_slot (w, &f, &err));
  assert_error (err, GST_MEMMAP_ERROR_NO_SPACE, path);
  g_clear_error (&err);
  for (i = 0; i < 3; i++)
    gst_memmap_store_writer_release_slot (w, slots[i]);
  /* releasing changed nothing in the ring */
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), n);
  check_frame (r, &layout, n - 5, sums[n - 5]);

  gst_memmap_store_writer_unref (w);
  fail_unless (gst_memmap_store_reader_is_closed (r));
  gst_memmap_store_reader_unref (r);
  for (f = 0; f < n; f++)
    g_free (sums[f]);
  g_free (path);
}

GST_END_TEST;

typedef struct
{
  GstMemmapStoreReader *r;
  volatile gint done;
  guint64 ok, gone;
} RaceReader;

static gpointer
race_reader_thread (gpointer data)
{
  RaceReader *rr = data;
  GRand *rand = g_rand_new_with_seed (7);

  while (!g_atomic_int_get (&rr->done)) {
    guint64 c = gst_memmap_store_reader_get_committed (rr->r), f;
    GstMemmapStoreEntry e;
    GError *err = NULL;

    if (c == 0)
      continue;
    /* a frame of the ring, or one that is just leaving it */
    f = c - 1 - g_rand_int_range (rand, 0, MIN (c, 6));
    if (gst_memmap_store_reader_get_entry (rr->r, f, &e, &err)) {
      /* never a mix of two frames' entries */
      fail_unless_equals_uint64 (e.frame, f);
      fail_unless_equals_uint64 (e.pts, f * 1000);
      fail_unless_equals_uint64 (e.duration, f + 7);
      rr->ok++;
    } else {
      /* overwritten meanwhile, never "corrupt" */
      assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, NULL);
      g_clear_error (&err);
      rr->gone++;
    }
  }
  g_rand_free (rand);
  return NULL;
}

GST_START_TEST (test_ring_concurrent_reader)
{
  gchar *path = test_path ("race.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 16, 16,
    GST_MEMMAP_STORE_MODE_RING, 4, 1, 0, 0, 0, 0
  };
  guint64 n = memmap_test_under_valgrind ()? 2000 : 50000, f, slot;
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  RaceReader rr = { NULL, 0, 0, 0 };
  GThread *t;

  w = new_writer_ok (path, &sp, &layout);
  rr.r = open_ok (path);
  t = g_thread_new ("reader", race_reader_thread, &rr);
  for (f = 0; f < n; f++) {
    slot = acquire_ok (w);
    fail_unless (gst_memmap_store_writer_commit (w, slot, f * 1000, f + 7, 0,
            NULL));
  }
  g_atomic_int_set (&rr.done, 1);
  g_thread_join (t);
  g_print ("ring concurrent reader: %" G_GUINT64_FORMAT " frames "
      "committed, %" G_GUINT64_FORMAT " entries read, %" G_GUINT64_FORMAT
      " overwritten under the reader\n", n, rr.ok, rr.gone);
  fail_unless (rr.ok > 0);
  gst_memmap_store_reader_unref (rr.r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_append_growth)
{
  gchar *path = test_path ("grow.store");
  /* GRAY8 64x64: one page per slot, three slots per chunk */
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 3 * P, 0, 0, 0
  };
  const guint64 n = 20, chunk = P + 3 * P;
  gchar *sums[20];
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstStructure *stats;
  guint64 f, v;

  w = new_writer_ok (path, &sp, &layout);
  /* the first chunk is reserved at creation */
  fail_unless_equals_uint64 (file_size (path), P + chunk);
  r = open_ok (path);
  for (f = 0; f < n; f++) {
    sums[f] = write_frame (w, &layout, f, f, 1, 0);
    fail_unless_equals_uint64 (file_size (path), P + (f / 3 + 1) * chunk);
    /* the reader follows the growing store */
    fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r),
        f + 1);
    check_frame (r, &layout, f, sums[f]);
  }
  stats = gst_memmap_store_writer_get_stats (w);
  fail_unless (gst_structure_get_uint64 (stats, "chunks-reserved", &v));
  fail_unless_equals_uint64 (v, 7);
  fail_unless (gst_structure_get_uint64 (stats, "committed", &v));
  fail_unless_equals_uint64 (v, n);
  gst_structure_free (stats);
  gst_memmap_store_writer_unref (w);

  for (f = 0; f < n; f++)
    check_frame (r, &layout, f, sums[f]);
  gst_memmap_store_reader_unref (r);

  /* and a reader opened afterwards */
  r = open_ok (path);
  for (f = 0; f < n; f++)
    check_frame (r, &layout, f, sums[f]);
  gst_memmap_store_reader_unref (r);

  for (f = 0; f < n; f++)
    g_free (sums[f]);
  g_free (path);
}

GST_END_TEST;

/* An append store of large chunks grows one chunk ahead of the producer
 * (reserved, and faulted in by the writer's prefault thread) without
 * publishing it: the header's chunks_reserved moves only when a slot of
 * the chunk is handed out, a reader sees nothing of the chunk ahead, the
 * faulting changes no byte, and a clean close gives back the blocks of the
 * unused chunk (the file keeps its size, as every close does). */
GST_START_TEST (test_append_ahead)
{
  gchar *path = test_path ("ahead.store");
  /* GRAY8 2048x1024: 2 MiB slots, four per chunk of 8 MiB and a page (the
   * writer goes ahead for chunks of 8 MiB and more) */
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 2048, 1024,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 8 << 20, 0, 0, 0
  };
  const guint64 n = 6, chunk = P + 4 * (2 << 20);
  gchar *sums[6];
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstStructure *stats;
  guint64 f, v = 0;
  gint64 deadline;

  /* going ahead is asked for (off by default) */
  g_setenv ("GST_MEMMAP_PREFAULT_AHEAD", "1", TRUE);
  w = new_writer_ok (path, &sp, &layout);
  fail_unless_equals_uint64 (file_size (path), P + chunk);
  r = open_ok (path);
  for (f = 0; f < n; f++) {
    sums[f] = write_frame (w, &layout, f, f, 1, 0);
    /* frames 0-3 in chunk 0 (chunk 1 ahead), 4-5 in chunk 1 (2 ahead) */
    fail_unless_equals_uint64 (file_size (path), P + (f / 4 + 2) * chunk);
    stats = gst_memmap_store_writer_get_stats (w);
    fail_unless (gst_structure_get_uint64 (stats, "chunks-reserved", &v));
    fail_unless_equals_uint64 (v, f / 4 + 1);
    gst_structure_free (stats);
    fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r),
        f + 1);
    check_frame (r, &layout, f, sums[f]);
  }

  /* the chunk ahead (chunk 2, all of it past the producer) is faulted in
   * by the thread: wait for it (not a timing: any progress will do) */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  do {
    stats = gst_memmap_store_writer_get_stats (w);
    fail_unless (gst_structure_get_uint64 (stats, "bytes-prefaulted", &v));
    gst_structure_free (stats);
    if (v >= chunk)
      break;
    g_usleep (10000);
  } while (g_get_monotonic_time () < deadline);
  fail_unless (v >= chunk, "%" G_GUINT64_FORMAT " bytes prefaulted", v);

  for (f = 0; f < n; f++)
    check_frame (r, &layout, f, sums[f]);
  gst_memmap_store_writer_unref (w);
  /* the file keeps its size (a close never truncates), the chunk ahead
   * gives its blocks back: what stays on disk is about the six slots
   * written (chunk 1's two empty slots are given back too) */
  fail_unless_equals_uint64 (file_size (path), P + 3 * chunk);
  fail_unless (file_blocks_bytes (path) <= 6 * (2 << 20) + (1 << 20),
      "%" G_GUINT64_FORMAT " bytes on disk", file_blocks_bytes (path));
  for (f = 0; f < n; f++)
    check_frame (r, &layout, f, sums[f]);
  gst_memmap_store_reader_unref (r);

  r = open_ok (path);
  fail_unless (gst_memmap_store_reader_is_closed (r));
  for (f = 0; f < n; f++) {
    check_frame (r, &layout, f, sums[f]);
    g_free (sums[f]);
  }
  gst_memmap_store_reader_unref (r);
  g_unsetenv ("GST_MEMMAP_PREFAULT_AHEAD");
  g_free (path);
}

GST_END_TEST;

/* The reader's windows of an append store are whole chunks, as many as
 * make the engine's window-size: no frame straddles two windows or needs a
 * mapping of its own, and every window comes from one open file. */
GST_START_TEST (test_windows_whole_chunks)
{
  gchar *path = test_path ("windows.store");
  /* GRAY8 64x64: one page per slot, three slots per chunk */
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 3 * P, 0, 0, 0
  };
  const guint64 n = 30, chunk = P + 3 * P, window = 2 * chunk;
  GstMemmapMapping *maps[30];
  GstBuffer *bufs[30];
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GHashTable *windows = g_hash_table_new (NULL, NULL);
  gint fd_first, fd_last;
  guint64 f;

  /* two chunks per window; the engine's standard windows would be 8 pages
   * from offset 0, and every third frame would straddle two of them */
  g_object_set (engine, "window-size", (guint64) (8 * P), NULL);
  w = new_writer_ok (path, &sp, &layout);
  for (f = 0; f < n; f++)
    g_free (write_frame (w, &layout, f, f, 1, 0));
  gst_memmap_store_writer_unref (w);

  r = open_ok (path);
  for (f = 0; f < n; f++) {
    GError *err = NULL;
    GstMemory *mem;
    guint64 chunk_index = f / 3;

    bufs[f] = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);
    fail_unless (bufs[f] != NULL, "frame %" G_GUINT64_FORMAT ": %s", f,
        err ? err->message : "?");
    mem = gst_buffer_peek_memory (bufs[f], 0);
    fail_unless (gst_is_memmap_memory (mem));
    maps[f] = gst_memmap_memory_get_mapping (mem);
    /* whole windows of two chunks from data_offset (one page), the first
     * with the header */
    if (chunk_index < 2) {
      fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (maps[f]), 0);
      fail_unless_equals_uint64 (gst_memmap_mapping_get_size (maps[f]),
          P + window);
    } else {
      fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (maps[f]),
          P + (chunk_index / 2) * window);
      fail_unless_equals_uint64 (gst_memmap_mapping_get_size (maps[f]), window);
    }
    g_hash_table_add (windows, maps[f]);
  }
  /* 10 chunks: 5 windows, and not one more */
  fail_unless_equals_int (g_hash_table_size (windows), 5);

  /* the first and the last window share one open file (one file offset) */
  fd_first = gst_memmap_mapping_get_fd (maps[0]);
  fd_last = gst_memmap_mapping_get_fd (maps[n - 1]);
  fail_unless (fd_first >= 0 && fd_last >= 0 && fd_first != fd_last);
  fail_unless_equals_int64 (lseek (fd_first, 12345, SEEK_SET), 12345);
  fail_unless_equals_int64 (lseek (fd_last, 0, SEEK_CUR), 12345);

  for (f = 0; f < n; f++)
    gst_buffer_unref (bufs[f]);
  gst_memmap_store_reader_unref (r);
  g_hash_table_unref (windows);
  g_free (path);
}

GST_END_TEST;

/* The writer's windows share an open file of their own, not the one that
 * holds its lock: a window still mapped (here a slot's memory held after
 * the writer is gone, or a window the engine caches) never keeps the store
 * locked against the next writer. */
GST_START_TEST (test_windows_do_not_hold_lock)
{
  gchar *path = test_path ("lock-windows.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 3 * P,
    GST_MEMMAP_STORE_WRITER_FLAG_REUSE, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemory *held;
  GError *err = NULL;
  guint64 slot, f;

  w = new_writer_ok (path, &sp, &layout);
  for (f = 0; f < 7; f++)
    g_free (write_frame (w, &layout, f, f, 1, 0));
  slot = acquire_ok (w);
  held = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, &err);
  fail_unless (held != NULL, "slot memory: %s", err ? err->message : "?");
  fail_unless (gst_memmap_store_writer_close (w, &err), "close: %s",
      err ? err->message : "?");
  gst_memmap_store_writer_unref (w);

  /* the next writer, with the window still held and cached */
  w = new_writer_ok (path, &sp, &layout);
  fail_unless (gst_memmap_store_writer_was_reused (w));
  gst_memmap_store_writer_unref (w);
  gst_memory_unref (held);
  g_free (path);
}

GST_END_TEST;

/* With the default chunk size, a chunk of large frames still holds
 * GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS of them (64 MiB would hold 12). */
GST_START_TEST (test_default_chunk_slots)
{
  gchar *path = test_path ("big-frames.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 2560, 2048,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstStructure *info;
  GError *err = NULL;
  guint64 v;

  w = new_writer_ok (path, &sp, &layout);
  g_free (write_frame (w, &layout, 0, 0, 1, 0));
  r = open_ok (path);
  info = gst_memmap_store_reader_get_info (r, &err);
  fail_unless (info != NULL, "info: %s", err ? err->message : "?");
  fail_unless (gst_structure_get_uint64 (info, "slots-per-chunk", &v));
  fail_unless_equals_uint64 (v, GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS);
  fail_unless (GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES / (2560 * 2048) <
      GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS);
  gst_structure_free (info);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

static gpointer
release_thread (gpointer data)
{
  gpointer *args = data;

  gst_memmap_store_writer_release_slot (args[0], *(guint64 *) args[1]);
  return NULL;
}

GST_START_TEST (test_release_slot)
{
  gchar *path = test_path ("release.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 4 * P, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GError *err = NULL;
  gchar *sa, *sb, *sc, *sd;
  guint64 a, b, c, d, again;
  gpointer args[2];
  GThread *t;
  GstStructure *stats;
  GstMemory *mem;

  w = new_writer_ok (path, &sp, &layout);
  a = acquire_ok (w);
  b = acquire_ok (w);
  c = acquire_ok (w);
  fail_unless (a != b && b != c && a != c);
  sa = fill_slot (w, &layout, a, 0);
  g_free (fill_slot (w, &layout, b, 99));
  sc = fill_slot (w, &layout, c, 1);
  gst_memmap_store_writer_release_slot (w, b);

  /* a released slot cannot be used any more */
  fail_if (gst_memmap_store_writer_commit (w, b, 0, 0, 0, &err));
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  mem = gst_memmap_store_writer_get_slot_memory (w, NULL, b, &err);
  fail_unless (mem == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  /* releasing twice or a slot never acquired is harmless */
  gst_memmap_store_writer_release_slot (w, b);
  gst_memmap_store_writer_release_slot (w, 12345);

  fail_unless (gst_memmap_store_writer_commit (w, a, 0, 1, 0, NULL));
  fail_unless (gst_memmap_store_writer_commit (w, c, 1, 1, 0, NULL));
  /* the released slot is handed out again */
  again = acquire_ok (w);
  fail_unless_equals_uint64 (again, b);
  sb = fill_slot (w, &layout, again, 2);
  fail_unless (gst_memmap_store_writer_commit (w, again, 2, 1, 0, NULL));

  /* released from another thread */
  d = acquire_ok (w);
  args[0] = w;
  args[1] = &d;
  t = g_thread_new ("release", release_thread, args);
  g_thread_join (t);
  fail_unless_equals_uint64 (acquire_ok (w), d);
  sd = fill_slot (w, &layout, d, 3);
  fail_unless (gst_memmap_store_writer_commit (w, d, 3, 1, 0, NULL));

  stats = gst_memmap_store_writer_get_stats (w);
  fail_unless (gst_structure_get_uint64 (stats, "released", &a));
  fail_unless_equals_uint64 (a, 2);
  fail_unless (gst_structure_get_uint64 (stats, "outstanding", &a));
  fail_unless_equals_uint64 (a, 0);
  gst_structure_free (stats);

  /* a slot still out at close leaves no frame either */
  acquire_ok (w);
  gst_memmap_store_writer_unref (w);

  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 4);
  fail_unless (gst_memmap_store_reader_get_entry (r, 1, &e, NULL));
  fail_unless_equals_uint64 (e.slot, c);
  fail_unless (gst_memmap_store_reader_get_entry (r, 2, &e, NULL));
  fail_unless_equals_uint64 (e.slot, b);
  check_frame (r, &layout, 0, sa);
  check_frame (r, &layout, 1, sc);
  check_frame (r, &layout, 2, sb);
  check_frame (r, &layout, 3, sd);
  frame_fails (r, 4, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
  gst_memmap_store_reader_unref (r);

  g_free (sa);
  g_free (sb);
  g_free (sc);
  g_free (sd);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_append_max_frames)
{
  gchar *path = test_path ("max.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 16, 16,
    GST_MEMMAP_STORE_MODE_APPEND, 4, 0, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GError *err = NULL;
  guint64 slots[4], extra, s, i;

  w = new_writer_ok (path, &sp, &layout);
  fail_unless_equals_int (gst_memmap_store_writer_get_mode (w),
      GST_MEMMAP_STORE_MODE_APPEND);
  fail_unless_equals_uint64 (gst_memmap_store_writer_get_max_frames (w), 4);
  fail_unless_equals_string (gst_memmap_store_writer_get_path (w), path);
  /* the chunk is capped to max-frames: 4 slots */
  fail_unless_equals_uint64 (file_size (path), P + P + 4 * P);
  for (i = 0; i < 4; i++)
    slots[i] = acquire_ok (w);
  /* max-frames bounds the frames committed, not the slots out: a fifth
   * slot is handed out (in a second chunk), and commits stop at 4 */
  extra = acquire_ok (w);
  fail_if (gst_memmap_store_writer_is_full (w));
  for (i = 0; i < 4; i++) {
    g_free (fill_slot (w, &layout, slots[i], i));
    fail_unless (gst_memmap_store_writer_commit (w, slots[i], i, 1, 0, NULL));
  }
  fail_unless (gst_memmap_store_writer_is_full (w));
  fail_if (gst_memmap_store_writer_commit (w, extra, 4, 1, 0, &err));
  assert_error (err, GST_MEMMAP_ERROR_NO_SPACE, path);
  g_clear_error (&err);
  gst_memmap_store_writer_release_slot (w, extra);
  fail_if (gst_memmap_store_writer_acquire_slot (w, &s, &err));
  assert_error (err, GST_MEMMAP_ERROR_NO_SPACE, path);
  g_clear_error (&err);
  gst_memmap_store_writer_unref (w);

  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_max_frames (r), 4);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 4);
  for (i = 0; i < 4; i++)
    check_frame (r, &layout, i, NULL);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* Slots a producer holds and never commits (a decoder's reference frames)
 * do not count against max-frames: the store still takes max-frames
 * frames, and a reader sees exactly those. */
GST_START_TEST (test_append_max_frames_held_slots)
{
  gchar *path = test_path ("held.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 16, 16,
    GST_MEMMAP_STORE_MODE_APPEND, 3, 0, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GError *err = NULL;
  guint64 held[3], s, i;
  gchar *sums[3];

  w = new_writer_ok (path, &sp, &layout);
  for (i = 0; i < 3; i++)
    held[i] = acquire_ok (w);
  for (i = 0; i < 3; i++) {
    s = acquire_ok (w);
    sums[i] = fill_slot (w, &layout, s, i);
    fail_unless (gst_memmap_store_writer_commit (w, s, i, 1, 0, NULL));
    fail_unless_equals_uint64 (gst_memmap_store_writer_is_full (w), i == 2);
  }
  fail_if (gst_memmap_store_writer_acquire_slot (w, &s, &err));
  assert_error (err, GST_MEMMAP_ERROR_NO_SPACE, path);
  g_clear_error (&err);
  for (i = 0; i < 3; i++)
    gst_memmap_store_writer_release_slot (w, held[i]);
  fail_unless (gst_memmap_store_writer_close (w, NULL));
  gst_memmap_store_writer_free (w);

  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 3);
  for (i = 0; i < 3; i++) {
    check_frame (r, &layout, i, sums[i]);
    g_free (sums[i]);
  }
  gst_memmap_store_reader_free (r);
  g_free (path);
}

GST_END_TEST;

/* The open descriptors of this process. */
static guint
count_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  fail_unless (dir != NULL);
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

/* gst_memmap_store_session_ref() adds exactly one reference: the session
 * (its descriptor of the store, its header mapping) lives on after the
 * first owner's unref, and goes with the last one. GBoxed copies ref. */
GST_START_TEST (test_session_ref)
{
  gchar *path = test_path ("session.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 16, 16,
    GST_MEMMAP_STORE_MODE_RING, 4, 2, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreSession *session, *ref, *copy;
  GError *err = NULL;
  guint fds;

  w = new_writer_ok (path, &sp, &layout);
  g_free (write_frame (w, &layout, 0, 0, GST_MSECOND, 0));
  r = open_ok (path);
  fds = count_fds ();
  session = gst_memmap_store_session_new (r, &err);
  fail_unless (session != NULL, "%s", err ? err->message : "?");
  fail_unless (count_fds () > fds, "the session holds no descriptor");

  ref = gst_memmap_store_session_ref (session);
  fail_unless (ref == session);
  copy = g_boxed_copy (GST_TYPE_MEMMAP_STORE_SESSION, session);
  fail_unless (copy == session);
  gst_memmap_store_session_unref (session);
  g_boxed_free (GST_TYPE_MEMMAP_STORE_SESSION, copy);
  /* one reference left: still open and working */
  fail_unless (count_fds () > fds);
  fail_unless (gst_memmap_store_session_is_writable (ref));
  fail_unless_equals_int (gst_memmap_store_session_wait (ref, 0, 0),
      GST_MEMMAP_STORE_WAIT_CHANGED);
  gst_memmap_store_session_unref (ref);
  /* the last one: closed */
  fail_unless_equals_int (count_fds (), fds);

  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

/* The reader and the writer are refcounted boxed types (issue 15): a ref
 * or a g_boxed_copy() keeps them working, the last unref of a writer
 * closes its store, the last unref of a reader closes its descriptor, and
 * a buffer outlives its reader. */
GST_START_TEST (test_reader_writer_ref)
{
  gchar *path = test_path ("refs.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 16, 16,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w, *wref;
  GstMemmapStoreReader *r, *rcopy;
  GstBuffer *buf;
  gchar *sum;
  guint fds;

  fail_unless (G_TYPE_IS_BOXED (GST_TYPE_MEMMAP_STORE_WRITER));
  fail_unless (G_TYPE_IS_BOXED (GST_TYPE_MEMMAP_STORE_READER));

  w = new_writer_ok (path, &sp, &layout);
  sum = write_frame (w, &layout, 0, 0, GST_MSECOND, 0);
  wref = g_boxed_copy (GST_TYPE_MEMMAP_STORE_WRITER, w);
  fail_unless (wref == w);
  fail_unless (gst_memmap_store_writer_ref (w) == w);

  r = open_ok (path);
  rcopy = g_boxed_copy (GST_TYPE_MEMMAP_STORE_READER, r);
  fail_unless (rcopy == r);
  gst_memmap_store_reader_unref (r);
  /* one reference left: open and working */
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (rcopy), 1);
  buf = gst_memmap_store_reader_get_buffer (rcopy, NULL, 0, NULL);
  fail_unless (buf != NULL);

  /* two of three writer references dropped: the store stays open */
  gst_memmap_store_writer_unref (w);
  g_boxed_free (GST_TYPE_MEMMAP_STORE_WRITER, wref);
  fail_if (gst_memmap_store_reader_is_closed (rcopy));
  g_free (write_frame (w, &layout, 1, GST_MSECOND, GST_MSECOND, 0));
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (rcopy), 2);
  /* the last one closes it */
  gst_memmap_store_writer_unref (w);
  fail_unless (gst_memmap_store_reader_is_closed (rcopy));

  /* the last reader reference: its descriptor goes (the engine may keep
   * its windows cached), its buffer stays */
  fds = count_fds ();
  gst_memmap_store_reader_unref (rcopy);
  fail_unless (count_fds () < fds, "the reader's descriptor stayed open");
  check_buffer (buf, path, &layout, 0, sum);
  gst_buffer_unref (buf);

  g_free (sum);
  g_free (path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* reuse, replacement, locking, sync                                        */

static void
write_store (const gchar * path, const StoreParams * sp, guint64 n,
    guint64 first_content, GstVideoInfo * layout)
{
  GstMemmapStoreWriter *w = new_writer_ok (path, sp, layout);
  guint64 f;

  for (f = 0; f < n; f++)
    g_free (write_frame (w, layout, first_content + f,
            (first_content + f) * GST_MSECOND, GST_MSECOND, 0));
  fail_unless (gst_memmap_store_writer_close (w, NULL));
  gst_memmap_store_writer_unref (w);
}

GST_START_TEST (test_reuse_in_place)
{
  gchar *path = test_path ("reuse.store");
  StoreParams sp = { GST_VIDEO_FORMAT_I420, 64, 48,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 2 * 8192, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r, *old;
  GstMemmapStoreEntry e;
  guint64 ino, size, f;

  write_store (path, &sp, 10, 0, &layout);
  ino = file_ino (path);
  size = file_size (path);
  old = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (old), 10);

  /* reused in place: same file, no reservation, frames gone */
  sp.flags = GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  w = new_writer_ok (path, &sp, &layout);
  fail_unless (gst_memmap_store_writer_was_reused (w));
  fail_unless_equals_uint64 (gst_memmap_store_writer_get_committed (w), 0);
  fail_unless_equals_uint64 (file_ino (path), ino);
  fail_unless_equals_uint64 (file_size (path), size);
  /* an open reader sees the store start over */
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (old), 0);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_generation (old), 2);
  fail_if (gst_memmap_store_reader_is_closed (old));
  for (f = 0; f < 3; f++)
    g_free (write_frame (w, &layout, 100 + f, (100 + f) * GST_MSECOND,
            GST_MSECOND, 0));
  gst_memmap_store_writer_unref (w);
  fail_unless_equals_uint64 (file_size (path), size);

  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 3);
  fail_unless (gst_memmap_store_reader_is_closed (r));
  for (f = 0; f < 3; f++) {
    fail_unless (gst_memmap_store_reader_get_entry (r, f, &e, NULL));
    fail_unless_equals_uint64 (e.pts, (100 + f) * GST_MSECOND);
    check_frame_content (r, &layout, f, 100 + f);
  }
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_reader_unref (old);

  /* another layout: replaced by a new file */
  sp.width = 66;
  w = new_writer_ok (path, &sp, &layout);
  fail_if (gst_memmap_store_writer_was_reused (w));
  fail_if (file_ino (path) == ino);
  gst_memmap_store_writer_unref (w);

  /* a ring reused in place */
  sp.mode = GST_MEMMAP_STORE_MODE_RING;
  sp.max_frames = 4;
  sp.flags = 0;
  write_store (path, &sp, 11, 0, &layout);
  ino = file_ino (path);
  sp.flags = GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  write_store (path, &sp, 2, 0, &layout);
  fail_unless_equals_uint64 (file_ino (path), ino);
  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 2);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_first_frame (r), 0);
  check_frame (r, &layout, 0, NULL);
  check_frame (r, &layout, 1, NULL);
  gst_memmap_store_reader_unref (r);

  /* a file that is not a store is replaced */
  fail_unless (g_file_set_contents (path, "not a store", -1, NULL));
  w = new_writer_ok (path, &sp, &layout);
  fail_if (gst_memmap_store_writer_was_reused (w));
  gst_memmap_store_writer_unref (w);
  r = open_ok (path);
  gst_memmap_store_reader_unref (r);

  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_replace_keeps_readers)
{
  gchar *path = test_path ("replace.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 4 * P, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreReader *old, *r;
  guint64 f;

  /* small windows, so that the old reader maps again after the
   * replacement */
  g_object_set (engine, "window-size", (guint64) 2 * P, NULL);

  write_store (path, &sp, 12, 0, &layout);
  old = open_ok (path);
  check_frame_content (old, &layout, 0, 0);

  /* a new store replaces the path (no REUSE): the old reader keeps the old
   * file and its frames */
  write_store (path, &sp, 5, 500, &layout);
  for (f = 0; f < 12; f++)
    check_frame_content (old, &layout, f, f);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (old), 12);

  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 5);
  for (f = 0; f < 5; f++)
    check_frame_content (r, &layout, f, 500 + f);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_reader_unref (old);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_reuse_content)
{
  gchar *path = test_path ("reuse2.store");
  StoreParams sp = { GST_VIDEO_FORMAT_NV12, 32, 32,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreReader *r;
  guint64 f;

  write_store (path, &sp, 8, 0, &layout);
  sp.flags = GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  write_store (path, &sp, 5, 1000, &layout);
  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 5);
  for (f = 0; f < 5; f++)
    check_frame_content (r, &layout, f, 1000 + f);
  frame_fails (r, 5, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_single_writer)
{
  gchar *path = test_path ("lock.store");
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 16, 16,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 0, 0, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w, *w2;
  GError *err = NULL;

  w = new_writer_ok (path, &sp, &layout);
  g_free (write_frame (w, &layout, 0, 0, 1, 0));

  fail_unless (new_writer (path, &sp, &layout, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_PERMISSION_DENIED, path);
  g_clear_error (&err);
  sp.flags = GST_MEMMAP_STORE_WRITER_FLAG_REUSE;
  fail_unless (new_writer (path, &sp, &layout, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_PERMISSION_DENIED, path);
  g_clear_error (&err);

  gst_memmap_store_writer_unref (w);
  w2 = new_writer_ok (path, &sp, &layout);
  fail_unless (gst_memmap_store_writer_was_reused (w2));
  gst_memmap_store_writer_unref (w2);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_sync)
{
  gchar *path = test_path ("sync.store");
  StoreParams sp = { GST_VIDEO_FORMAT_I420, 32, 32,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 3 * P,
    GST_MEMMAP_STORE_WRITER_FLAG_SYNC, 0, 0
  };
  GstVideoInfo layout;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GError *err = NULL;
  gchar *sums[8];
  guint64 f;

  w = new_writer_ok (path, &sp, &layout);
  for (f = 0; f < 8; f++) {
    if (f == 4)
      gst_memmap_store_writer_set_sync (w, FALSE);
    sums[f] = write_frame (w, &layout, f, f, 1, 0);
  }
  fail_unless (gst_memmap_store_writer_sync (w, &err));
  gst_memmap_store_writer_set_sync (w, TRUE);
  fail_unless (gst_memmap_store_writer_close (w, &err));
  /* closing twice is fine */
  fail_unless (gst_memmap_store_writer_close (w, &err));
  fail_if (gst_memmap_store_writer_acquire_slot (w, &f, &err));
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  gst_memmap_store_writer_unref (w);

  r = open_ok (path);
  fail_unless (gst_memmap_store_reader_is_closed (r));
  for (f = 0; f < 8; f++) {
    check_frame (r, &layout, f, sums[f]);
    g_free (sums[f]);
  }
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* real writer processes: kill -9 and a full disk                           */

static gchar *
store_make_path (void)
{
  const gchar *root = g_getenv ("MEMMAP_BUILD_ROOT");
  gchar *path;

  fail_unless (root != NULL, "MEMMAP_BUILD_ROOT is not set");
  path = g_build_filename (root, "tests", "check", "store-make", NULL);
  fail_unless (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE),
      "%s is not built", path);
  return path;
}

static GPid
spawn_store_make (const gchar * const *args, gint * out_fd)
{
  GError *err = NULL;
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  GPid pid;
  guint i;

  g_ptr_array_add (argv, store_make_path ());
  for (i = 0; args[i]; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  fail_unless (g_spawn_async_with_pipes (NULL, (gchar **) argv->pdata, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL, out_fd, NULL,
          &err), "spawn: %s", err ? err->message : "?");
  g_ptr_array_unref (argv);
  return pid;
}

/* Reads the child's stdout up to a newline. */
static gchar *
read_line (gint fd)
{
  GString *s = g_string_new (NULL);
  gchar c;
  gssize n;

  while ((n = read (fd, &c, 1)) == 1 && c != '\n')
    g_string_append_c (s, c);
  return g_string_free (s, FALSE);
}

/* Checks every readable frame of a store written by store-make. Returns
 * the number of frames committed; adds the number of frames whose pixels
 * were checked to *@checked. */
static guint64
check_store_make_output (const gchar * path, gboolean expect_closed,
    guint64 * checked)
{
  GstMemmapStoreReader *r = open_ok (path);
  const GstVideoInfo *layout = gst_memmap_store_reader_get_layout (r);
  guint64 n, f, first_f;

  fail_unless_equals_int (gst_memmap_store_reader_is_closed (r), expect_closed);
  n = gst_memmap_store_reader_get_committed (r);
  first_f = gst_memmap_store_reader_get_first_frame (r);
  for (f = first_f; f < n; f++) {
    GstMemmapStoreEntry e;
    GstBuffer *buf;
    GstMapInfo map;
    GError *err = NULL;

    /* a ring writer rewrites the entry of the oldest frame (frame n - max
     * frames) before it moves the counter to n + 1: killed in between, it
     * leaves that one frame, which was leaving the ring, reported as
     * overwritten (its bytes are intact; only its entry is gone) */
    if (f == first_f && !expect_closed &&
        gst_memmap_store_reader_get_mode (r) == GST_MEMMAP_STORE_MODE_RING &&
        n >= gst_memmap_store_reader_get_max_frames (r) &&
        !gst_memmap_store_reader_get_entry (r, f, &e, &err)) {
      fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
              GST_MEMMAP_ERROR_INVALID_ARGUMENT), "%s", err->message);
      GST_INFO ("oldest frame %" G_GUINT64_FORMAT " was being overwritten: %s",
          f, err->message);
      g_clear_error (&err);
      continue;
    }
    fail_unless (gst_memmap_store_reader_get_entry (r, f, &e, &err),
        "frame %" G_GUINT64_FORMAT " of [%" G_GUINT64_FORMAT ", %"
        G_GUINT64_FORMAT "): %s", f, first_f, n, err ? err->message : "?");
    fail_unless_equals_uint64 (e.pts, f * GST_MSECOND);
    buf = gst_memmap_store_reader_get_buffer (r, NULL, f, NULL);
    fail_unless (buf != NULL);
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    fail_unless (store_check_frame (map.data, layout, f),
        "frame %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " is torn", f, n);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    *checked += 1;
  }
  gst_memmap_store_reader_unref (r);
  return n;
}

/* What a store-make --report FILE had committed when it died: the last
 * count it stored after a commit returned. */
static guint64
read_report (const gchar * path)
{
  gchar *contents = NULL;
  gsize len = 0;
  guint64 n;

  fail_unless (g_file_get_contents (path, &contents, &len, NULL));
  fail_unless_equals_uint64 (len, sizeof (n));
  memcpy (&n, contents, sizeof (n));
  g_free (contents);
  return n;
}

/* MEMMAP_KILL_TRIALS trials (default 40), MEMMAP_KILL_SEED the seed of the
 * delays. The writer reports its committed count after every commit, so
 * that nothing committed can go missing unseen: the reopened store must
 * hold at least what was reported, and at most one frame more (a commit
 * that was published but whose report the kill prevented). */
GST_START_TEST (test_kill9)
{
  const gchar *env = g_getenv ("MEMMAP_KILL_TRIALS");
  const gchar *seed = g_getenv ("MEMMAP_KILL_SEED");
  guint trials = memmap_test_under_valgrind ()? 4 : 40, t, with_frames = 0;
  guint equal = 0, one_ahead = 0, wrapped = 0;
  guint64 total = 0, checked = 0, reported_total = 0;
  GRand *rand = g_rand_new_with_seed (seed ? atoi (seed) : 0x5eed);

  if (env)
    trials = atoi (env);
  for (t = 0; t < trials; t++) {
    gchar *path = test_path ("kill.store");
    gchar *report = test_path ("kill.report");
    gboolean ring = (t % 4) == 3;
    const gchar *append_args[] = { path, "GRAY8", "64", "64", "0",
      "--forever", "--chunk-bytes", "65536", "--report", report, NULL
    };
    const gchar *ring_args[] = { path, "I420", "64", "48", "0",
      "--forever", "--ring", "32", "--report", report, NULL
    };
    GstMemmapStoreReader *r;
    gchar *line;
    gint out_fd, status;
    guint delay;
    GPid pid;
    guint64 n, reported, oldest;

    pid = spawn_store_make (ring ? ring_args : append_args, &out_fd);
    line = read_line (out_fd);
    fail_unless_equals_string (line, "ready");
    g_free (line);

    delay = g_rand_int_range (rand, 0, 15000);
    g_usleep (delay);
    fail_unless_equals_int (kill (pid, SIGKILL), 0);
    fail_unless_equals_int (waitpid (pid, &status, 0), pid);
    fail_unless (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
        "the writer ended by itself (status %d)", status);
    g_spawn_close_pid (pid);
    close (out_fd);
    reported = read_report (report);

    /* opens, still marked open, every committed frame intact */
    n = check_store_make_output (path, FALSE, &checked);
    GST_INFO ("trial %u: killed after %u us with %" G_GUINT64_FORMAT
        " frames, %" G_GUINT64_FORMAT " reported", t, delay, n, reported);
    /* nothing the writer had committed is lost, nothing more appeared */
    fail_unless (n >= reported, "trial %u: the writer had committed %"
        G_GUINT64_FORMAT " frames, the store holds %" G_GUINT64_FORMAT, t,
        reported, n);
    fail_unless (n <= reported + 1, "trial %u: the writer had committed %"
        G_GUINT64_FORMAT " frames, the store says %" G_GUINT64_FORMAT, t,
        reported, n);
    if (n == reported)
      equal++;
    else
      one_ahead++;
    /* a ring keeps exactly the last 32 of them */
    r = open_ok (path);
    oldest = gst_memmap_store_reader_get_first_frame (r);
    fail_unless_equals_uint64 (oldest, ring && n > 32 ? n - 32 : 0);
    gst_memmap_store_reader_unref (r);
    if (ring && n > 32)
      wrapped++;

    total += n;
    reported_total += reported;
    if (n > 0)
      with_frames++;
    unlink (path);
    unlink (report);
    g_free (report);
    g_free (path);
  }
  g_print ("kill -9: %u trials (%u with frames, %u rings wrapped), %"
      G_GUINT64_FORMAT " frames committed, %" G_GUINT64_FORMAT " checked, "
      "none torn; the writers had reported %" G_GUINT64_FORMAT " commits: "
      "none lost (%u stores held exactly what was reported, %u one more "
      "commit that the kill kept from being reported)\n", trials,
      with_frames, wrapped, total, checked, reported_total, equal, one_ahead);
  /* most trials got frames out before the kill */
  fail_unless (with_frames >= trials / 2, "only %u trials with frames",
      with_frames);
  g_rand_free (rand);
}

GST_END_TEST;

GST_START_TEST (test_disk_full)
{
  gchar *path = test_path ("full.store");
  /* GRAY8 64x64: 4 KiB slots, 8 per chunk: chunks of 36 KiB; the limit
   * holds the header and 5 chunks, and a bit of a sixth */
  const guint64 chunk = P + 8 * P, limit = P + 5 * chunk + 1000;
  gchar *limit_str = g_strdup_printf ("%" G_GUINT64_FORMAT, limit);
  const gchar *args[] = { path, "GRAY8", "64", "64", "0", "--chunk-bytes",
    "32768", "--fsize-limit", limit_str, NULL
  };
  gchar *line, *expected;
  gint out_fd, status;
  guint64 checked = 0;
  GPid pid;

  pid = spawn_store_make (args, &out_fd);
  line = read_line (out_fd);
  fail_unless_equals_string (line, "ready");
  g_free (line);
  line = read_line (out_fd);
  expected = g_strdup_printf ("committed 40 code %d",
      GST_MEMMAP_ERROR_NO_SPACE);
  fail_unless_equals_string (line, expected);
  g_free (line);
  g_free (expected);
  fail_unless_equals_int (waitpid (pid, &status, 0), pid);
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "status %d", status);
  g_spawn_close_pid (pid);
  close (out_fd);

  /* the file never went past the limit, and every frame is there */
  fail_unless (file_size (path) <= limit);
  fail_unless_equals_uint64 (check_store_make_output (path, TRUE, &checked),
      40);
  fail_unless_equals_uint64 (checked, 40);
  g_print ("disk full: NO_SPACE after %" G_GUINT64_FORMAT " frames, all %"
      G_GUINT64_FORMAT " intact in the closed store\n", checked, checked);

  g_free (limit_str);
  g_free (path);
}

GST_END_TEST;

/* The same with chunks large enough for the writer to reserve one ahead:
 * when the chunk ahead does not fit, nothing fails until a frame needs it;
 * then NO_SPACE, with every frame before it intact and the file never past
 * the limit. */
GST_START_TEST (test_disk_full_ahead)
{
  gchar *path = test_path ("full-ahead.store");
  /* GRAY8 2048x1024: 2 MiB slots, four per chunk of 8 MiB and a page; the
   * limit holds the header, 2 chunks and a bit of a third */
  const guint64 chunk = P + 4 * (2 << 20), limit = P + 2 * chunk + 1000;
  gchar *limit_str = g_strdup_printf ("%" G_GUINT64_FORMAT, limit);
  const gchar *args[] = { path, "GRAY8", "2048", "1024", "0",
    "--chunk-bytes", "8388608", "--fsize-limit", limit_str, NULL
  };
  gchar *line, *expected;
  gint out_fd, status;
  guint64 checked = 0;
  GPid pid;

  /* the writer in the child goes ahead (off by default) */
  g_setenv ("GST_MEMMAP_PREFAULT_AHEAD", "1", TRUE);
  pid = spawn_store_make (args, &out_fd);
  g_unsetenv ("GST_MEMMAP_PREFAULT_AHEAD");
  line = read_line (out_fd);
  fail_unless_equals_string (line, "ready");
  g_free (line);
  line = read_line (out_fd);
  expected = g_strdup_printf ("committed 8 code %d", GST_MEMMAP_ERROR_NO_SPACE);
  fail_unless_equals_string (line, expected);
  g_free (line);
  g_free (expected);
  fail_unless_equals_int (waitpid (pid, &status, 0), pid);
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "status %d", status);
  g_spawn_close_pid (pid);
  close (out_fd);

  fail_unless (file_size (path) <= limit);
  fail_unless_equals_uint64 (check_store_make_output (path, TRUE, &checked), 8);
  fail_unless_equals_uint64 (checked, 8);

  g_free (limit_str);
  g_free (path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* hostile files                                                            */

/* A closed GRAY8 64x64 append store of 7 frames, 3 slots per chunk: frame
 * size 4096, slot stride 4096, index block 4096, chunk stride 16384, data
 * offset 4096, 3 chunks, 53248 bytes. */
static guint8 *
make_valid_store (const gchar * path, gsize * len)
{
  StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
    GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 3 * P, 0, 0, 0
  };
  GstVideoInfo layout;
  gchar *data;

  write_store (path, &sp, 7, 0, &layout);
  fail_unless (g_file_get_contents (path, &data, len, NULL));
  fail_unless_equals_uint64 (*len, 53248);
  return (guint8 *) data;
}

#define ENTRY_OFF(i) (P + ((i) / 3) * 16384 + ((i) % 3) * 64)

static void
put_u64 (guint8 * buf, gsize off, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (buf + off, &v, 8);
}

static void
put_u32 (guint8 * buf, gsize off, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (buf + off, &v, 4);
}

static void
put_u16 (guint8 * buf, gsize off, guint16 v)
{
  v = GUINT16_TO_LE (v);
  memcpy (buf + off, &v, 2);
}

static void
put_str (guint8 * buf, gsize off, gsize field, const gchar * s)
{
  memset (buf + off, 0, field);
  memcpy (buf + off, s, MIN (strlen (s), field));
}

/* Writes @data to @path (a new file) and opens it: returns the reader, or
 * NULL with the error's code in *code. */
static GstMemmapStoreReader *
try_open (const gchar * path, const guint8 * data, gsize len, gint * code)
{
  GstMemmapStoreReader *r;
  GError *err = NULL;

  fail_unless (g_file_set_contents (path, (const gchar *) data, len, NULL));
  r = gst_memmap_store_reader_open (engine, path, &err);
  if (r == NULL) {
    assert_error (err, err->code, path);
    *code = err->code;
    GST_DEBUG ("%s", err->message);
    g_clear_error (&err);
  }
  return r;
}

typedef enum
{
  U16, U32, U64, STR, FILL
} PatchKind;

static const struct
{
  const gchar *what;
  PatchKind kind;
  gsize off;
  guint64 v;
  const gchar *s;
  gint code;                    /* -1: opens */
} patches[] = {
  {"magic", STR, 0, 0, "GSTMMAX", GST_MEMMAP_ERROR_CORRUPT},
  {"major 2", U16, 8, 2, NULL, GST_MEMMAP_ERROR_VERSION},
  {"major 0", U16, 8, 0, NULL, GST_MEMMAP_ERROR_VERSION},
  {"minor 9", U16, 10, 9, NULL, -1},
  {"header_size 100", U32, 12, 100, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"header_size 8192", U32, 12, 8192, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"mode 0", U32, 16, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"mode 3", U32, 16, 3, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"state 0", U32, 20, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"state 7", U32, 20, 7, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"state open", U32, 20, 1, NULL, -1},
  {"slot_align 512", U32, 24, 512, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"n_planes 0", U32, 28, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"n_planes 2", U32, 28, 2, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"n_planes 9", U32, 28, 9, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"width 0", U32, 32, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"width 65", U32, 32, 65, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"width 2^31", U32, 32, G_GUINT64_CONSTANT (1) << 31, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"height ~0", U32, 36, G_MAXUINT32, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"fps_n -1", U32, 40, G_MAXUINT32, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"fps_d 0", U32, 44, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"frame_size 0", U64, 56, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"frame_size 100", U64, 56, 100, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"frame_size 4097", U64, 56, 4097, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"frame_size 2^63", U64, 56, G_GUINT64_CONSTANT (1) << 63, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"slot_stride 0", U64, 64, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"slot_stride 4097", U64, 64, 4097, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"slot_stride 8192", U64, 64, 8192, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"slot_stride 2^63", U64, 64, G_GUINT64_CONSTANT (1) << 63, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"max_frames 5", U64, 72, 5, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"max_frames 2^63", U64, 72, G_GUINT64_CONSTANT (1) << 63, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"max_frames 7", U64, 72, 7, NULL, -1},
  {"entries 0", U64, 80, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"entries 4", U64, 80, 4, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"entries 2^40", U64, 80, G_GUINT64_CONSTANT (1) << 40, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"slots 0", U64, 88, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"slots ~0", U64, 88, G_MAXUINT64, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"index_block 0", U64, 96, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"chunk_stride ~0", U64, 104, G_MAXUINT64, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"chunk_stride 16383", U64, 104, 16383, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"data_offset 100", U64, 112, 100, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"data_offset 0", U64, 112, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"data_offset EOF", U64, 112, 53248, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"data_offset 8192", U64, 112, 8192, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"data_offset 2^63", U64, 112, G_GUINT64_CONSTANT (1) << 63, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"data_offset ~0-4095", U64, 112, G_MAXUINT64 - 4095, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"plane_offset 1", U64, 128, 1, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"plane_offset 2^63", U64, 128, G_GUINT64_CONSTANT (1) << 63, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"plane_stride 0", U32, 160, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"plane_stride -64", U32, 160, (guint32) - 64, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"plane_stride 63", U32, 160, 63, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"plane_stride 65", U32, 160, 65, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"plane_stride 2^31-1", U32, 160, G_MAXINT32, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"format FOO", STR, 176, 32, "FOO", GST_MEMMAP_ERROR_CORRUPT},
  {"format empty", STR, 176, 32, "", GST_MEMMAP_ERROR_CORRUPT},
  {"format I420", STR, 176, 32, "I420", GST_MEMMAP_ERROR_CORRUPT},
  {"format no NUL", FILL, 176, 32, "G", GST_MEMMAP_ERROR_CORRUPT},
  {"committed 10", U64, 256, 10, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"committed ~0", U64, 256, G_MAXUINT64, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"committed 9", U64, 256, 9, NULL, -1},
  {"committed 0", U64, 256, 0, NULL, -1},
  {"chunks 0", U64, 320, 0, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"chunks 2", U64, 320, 2, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"chunks 4", U64, 320, 4, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"chunks 2^62", U64, 320, G_GUINT64_CONSTANT (1) << 62, NULL,
      GST_MEMMAP_ERROR_CORRUPT},
  {"chunks ~0", U64, 320, G_MAXUINT64, NULL, GST_MEMMAP_ERROR_CORRUPT},
  {"caps no NUL", FILL, 512, 2048, "a", GST_MEMMAP_ERROR_CORRUPT},
  {"caps garbage", STR, 512, 2048, "((((", GST_MEMMAP_ERROR_CORRUPT},
  {"caps empty", STR, 512, 2048, "", GST_MEMMAP_ERROR_CORRUPT},
  {"caps audio", STR, 512, 2048, "audio/x-raw,format=S16LE,rate=48000,"
        "channels=1,layout=interleaved", GST_MEMMAP_ERROR_CORRUPT},
  {"caps unfixed", STR, 512, 2048, "video/x-raw,format=GRAY8,"
        "width=[1,64],height=64", GST_MEMMAP_ERROR_CORRUPT},
  {"caps two", STR, 512, 2048, "video/x-raw,format=GRAY8,width=64,"
        "height=64;video/x-raw,format=GRAY8,width=64,height=64",
      GST_MEMMAP_ERROR_CORRUPT},
  {"caps dmabuf", STR, 512, 2048, "video/x-raw(memory:DMABuf),"
        "format=GRAY8,width=64,height=64", GST_MEMMAP_ERROR_CORRUPT},
  {"caps other size", STR, 512, 2048, "video/x-raw,format=GRAY8,width=32,"
        "height=64", GST_MEMMAP_ERROR_CORRUPT},
  {"caps bare", STR, 512, 2048, "video/x-raw", GST_MEMMAP_ERROR_CORRUPT},
  {"caps no framerate", STR, 512, 2048, "video/x-raw, format=(string)GRAY8,"
        " width=(int)64, height=(int)64", -1},
  {"caps untyped", STR, 512, 2048, "video/x-raw,format=GRAY8,width=64,"
        "height=64", GST_MEMMAP_ERROR_CORRUPT},
  {"caps nested", STR, 512, 2048, "video/x-raw, format=(string)GRAY8, "
        "width=(int)64, height=(int)64, s=(structure)\"a;\"",
      GST_MEMMAP_ERROR_CORRUPT},
  {"caps width 0", STR, 512, 2048, "video/x-raw, format=(string)GRAY8, "
        "width=(int)0, height=(int)64", GST_MEMMAP_ERROR_CORRUPT},
  {"caps old style", STR, 512, 2048, "video/x-raw-yuv, format=(string)GRAY8,"
        " width=(int)64, height=(int)64", GST_MEMMAP_ERROR_CORRUPT},
};

GST_START_TEST (test_hostile_header)
{
  gchar *src = test_path ("valid.store");
  gchar *path = test_path ("hostile.store");
  guint8 *orig, *buf;
  gsize len;
  guint i;

  orig = make_valid_store (src, &len);
  buf = g_malloc (len);

  for (i = 0; i < G_N_ELEMENTS (patches); i++) {
    GstMemmapStoreReader *r;
    gint code = -1;

    memcpy (buf, orig, len);
    switch (patches[i].kind) {
      case U16:
        put_u16 (buf, patches[i].off, patches[i].v);
        break;
      case U32:
        put_u32 (buf, patches[i].off, patches[i].v);
        break;
      case U64:
        put_u64 (buf, patches[i].off, patches[i].v);
        break;
      case STR:
        put_str (buf, patches[i].off, patches[i].v ? patches[i].v : 8,
            patches[i].s);
        break;
      case FILL:
        memset (buf + patches[i].off, patches[i].s[0], patches[i].v);
        break;
    }
    GST_INFO ("patch: %s", patches[i].what);
    r = try_open (path, buf, len, &code);
    fail_unless (code == patches[i].code, "%s: code %d, expected %d",
        patches[i].what, code, patches[i].code);
    if (r) {
      guint64 f, n = gst_memmap_store_reader_get_committed (r);

      /* whatever opens reads without harm */
      for (f = 0; f < n; f++) {
        GstBuffer *b = gst_memmap_store_reader_get_buffer (r, NULL, f, NULL);

        if (f < 7)
          fail_unless (b != NULL);
        else
          fail_unless (b == NULL);
        gst_clear_buffer (&b);
      }
      gst_memmap_store_reader_unref (r);
    }
  }

  /* products that overflow: 2^32 slots of 2^40 bytes per chunk */
  {
    gint code = -1;

    memcpy (buf, orig, len);
    put_u64 (buf, 80, G_GUINT64_CONSTANT (1) << 32);
    put_u64 (buf, 88, G_GUINT64_CONSTANT (1) << 32);
    put_u64 (buf, 64, G_GUINT64_CONSTANT (1) << 40);
    put_u64 (buf, 96, G_GUINT64_CONSTANT (1) << 38);
    put_u64 (buf, 104, G_GUINT64_CONSTANT (1) << 38);
    fail_unless (try_open (path, buf, len, &code) == NULL);
    fail_unless_equals_int (code, GST_MEMMAP_ERROR_CORRUPT);
    /* a consistent geometry whose chunks overflow the file offsets */
    memcpy (buf, orig, len);
    put_u64 (buf, 80, 1 << 20);
    put_u64 (buf, 88, 1 << 20);
    put_u64 (buf, 64, G_GUINT64_CONSTANT (1) << 40);
    put_u64 (buf, 96, (1 << 20) * 64);
    put_u64 (buf, 104, (G_GUINT64_CONSTANT (1) << 60) + (1 << 20) * 64);
    fail_unless (try_open (path, buf, len, &code) == NULL);
    fail_unless_equals_int (code, GST_MEMMAP_ERROR_CORRUPT);
  }

  g_free (buf);
  g_free (orig);
  g_free (src);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_hostile_entries)
{
  gchar *src = test_path ("valid.store");
  gchar *path = test_path ("entries.store");
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  guint8 *orig;
  gsize len;
  gint code = -1;
  guint64 f;

  orig = make_valid_store (src, &len);
  put_u64 (orig, ENTRY_OFF (1), 99);    /* frame_seq */
  put_u64 (orig, ENTRY_OFF (2), 0);
  put_u64 (orig, ENTRY_OFF (3) + 8, 9); /* slot past the 9 of the file */
  put_u64 (orig, ENTRY_OFF (4) + 8, G_MAXUINT64);
  put_u64 (orig, ENTRY_OFF (5) + 16, (G_GUINT64_CONSTANT (1) << 63) + 1);
  put_u64 (orig, ENTRY_OFF (6), 7 | (G_GUINT64_CONSTANT (1) << 63));
  put_u32 (orig, ENTRY_OFF (0) + 32, G_MAXUINT32);      /* flags */
  r = try_open (path, orig, len, &code);
  fail_unless (r != NULL);

  /* the bits format 1.1 defines are kept, the others ignored */
  fail_unless (gst_memmap_store_reader_get_entry (r, 0, &e, NULL));
  fail_unless_equals_int (e.flags, GST_MEMMAP_STORE_FRAME_DISCONT |
      GST_MEMMAP_STORE_FRAME_INTERLACED | GST_MEMMAP_STORE_FRAME_TFF |
      GST_MEMMAP_STORE_FRAME_RFF | GST_MEMMAP_STORE_FRAME_ONEFIELD |
      GST_MEMMAP_STORE_FRAME_CORRUPTED | GST_MEMMAP_STORE_FRAME_GAP);
  for (f = 1; f < 7; f++)
    frame_fails (r, f, GST_MEMMAP_ERROR_CORRUPT);
  frame_fails (r, 7, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
  gst_memmap_store_reader_unref (r);

  /* duration out of range */
  g_free (orig);
  orig = make_valid_store (src, &len);
  put_u64 (orig, ENTRY_OFF (0) + 24, G_GUINT64_CONSTANT (1) << 63);
  r = try_open (path, orig, len, &code);
  frame_fails (r, 0, GST_MEMMAP_ERROR_CORRUPT);
  gst_memmap_store_reader_unref (r);
  g_free (orig);

  /* a ring: an entry already holding a newer frame is "overwritten", an
   * entry holding anything else is corrupt */
  {
    StoreParams sp = { GST_VIDEO_FORMAT_GRAY8, 64, 64,
      GST_MEMMAP_STORE_MODE_RING, 4, 2, 0, 0, 0, 0
    };
    GstVideoInfo layout;

    write_store (src, &sp, 10, 0, &layout);
    fail_unless (g_file_get_contents (src, (gchar **) & orig, &len, NULL));
    /* frames 6..9 are readable; entry 6 % 4 = 2 */
    put_u64 (orig, P + 2 * 64, 6 + 1 + 4);
    put_u64 (orig, P + 3 * 64, 7 + 1 + 3);
    r = try_open (path, orig, len, &code);
    fail_unless (r != NULL);
    frame_fails (r, 6, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
    frame_fails (r, 7, GST_MEMMAP_ERROR_CORRUPT);
    check_frame (r, &layout, 8, NULL);
    frame_fails (r, 5, GST_MEMMAP_ERROR_INVALID_ARGUMENT);
    gst_memmap_store_reader_unref (r);

    /* a ring with more than one chunk reserved */
    put_u64 (orig, 320, 2);
    fail_unless (try_open (path, orig, len, &code) == NULL);
    fail_unless_equals_int (code, GST_MEMMAP_ERROR_CORRUPT);
    g_free (orig);
  }

  g_free (src);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_not_a_store)
{
  gchar *path = test_path ("none.store");
  GError *err = NULL;

  fail_unless (gst_memmap_store_reader_open (engine, path, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_NOT_FOUND, path);
  g_clear_error (&err);

  fail_unless (gst_memmap_store_reader_open (engine, tmpdir, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_IS_DIRECTORY, tmpdir);
  g_clear_error (&err);

  /* a FIFO must not hang the reader */
  fail_unless (mkfifo (path, 0600) == 0);
  fail_unless (gst_memmap_store_reader_open (engine, path, &err) == NULL);
  fail_unless (err != NULL && err->domain == GST_MEMMAP_ERROR);
  g_clear_error (&err);
  unlink (path);

  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_truncated)
{
  gchar *src = test_path ("valid.store");
  gchar *path = test_path ("trunc.store");
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  guint8 *orig;
  gsize len, l;
  gint code;

  orig = make_valid_store (src, &len);

  /* every length short of the whole file: the header, then the chunks it
   * claims, are cut */
  for (l = 0; l < len; l += (l < 2 * P ? 64 : 509)) {
    code = -1;
    r = try_open (path, orig, l, &code);
    fail_unless (r == NULL, "a store cut at %" G_GSIZE_FORMAT " opened", l);
    fail_unless_equals_int (code, GST_MEMMAP_ERROR_CORRUPT);
  }
  code = -1;
  r = try_open (path, orig, len - 1, &code);
  fail_unless (r == NULL);
  fail_unless_equals_int (code, GST_MEMMAP_ERROR_CORRUPT);
  r = try_open (path, orig, len, &code);
  fail_unless (r != NULL);
  gst_memmap_store_reader_unref (r);

  /* cut under an open reader: a slot past the new end is an error, not a
   * mapping past the end of the file (windows of two pages: the header
   * window holds the first index block only) */
  gst_memmap_engine_clear_all (engine);
  g_object_set (engine, "window-size", (guint64) 2 * P, NULL);
  r = try_open (path, orig, len, &code);
  fail_unless (r != NULL);
  gst_video_info_set_format (&layout, GST_VIDEO_FORMAT_GRAY8, 64, 64);
  check_frame_content (r, &layout, 1, 1);
  /* chunk 1 starts at 20480: its index, its first two slots remain */
  fail_unless (truncate (path, 20480 + 3 * P) == 0);
  check_frame_content (r, &layout, 3, 3);
  check_frame_content (r, &layout, 4, 4);
  {
    GError *err = NULL;

    fail_unless (gst_memmap_store_reader_get_buffer (r, NULL, 5, &err) == NULL);
    assert_error (err, GST_MEMMAP_ERROR_TRUNCATED, path);
    g_clear_error (&err);
  }
  gst_memmap_store_reader_unref (r);

  g_free (orig);
  g_free (src);
  g_free (path);
}

GST_END_TEST;

static const gchar caps_chars[] = "()[]{}<>,;=\\\"'/-:.+ 0123456789abcxyz";

GST_START_TEST (test_random_corruption)
{
  gchar *src = test_path ("valid.store");
  gchar *path = test_path ("fuzz.store");
  guint iterations = memmap_test_under_valgrind ()? 150 : 4000;
  guint i, opened = 0, read = 0;
  const gchar *env = g_getenv ("MEMMAP_STORE_FUZZ_ITERATIONS");
  const gchar *seed = g_getenv ("MEMMAP_STORE_FUZZ_SEED");
  GRand *rand = g_rand_new_with_seed (seed ? atoi (seed) : 0xf022);
  guint8 *orig, *buf;
  gsize len;
  gint fd;

  if (env)
    iterations = atoi (env);
  orig = make_valid_store (src, &len);
  buf = g_malloc (len);
  fail_unless (g_file_set_contents (path, (gchar *) orig, len, NULL));
  fd = open (path, O_WRONLY);
  fail_unless (fd >= 0);

  for (i = 0; i < iterations; i++) {
    GstMemmapStoreReader *r;
    GError *err = NULL;
    guint n, k;

    memcpy (buf, orig, len);
    n = g_rand_int_range (rand, 1, 9);
    for (k = 0; k < n; k++) {
      guint region = g_rand_int_range (rand, 0, 10);
      gsize off;

      if (region < 4) {         /* the fixed fields */
        off = g_rand_int_range (rand, 0, 340);
      } else if (region < 6) {  /* the caps, with characters that mean
                                 * something to the caps parser */
        off = g_rand_int_range (rand, 512, 700);
        if (g_rand_boolean (rand)) {
          buf[off] = caps_chars[g_rand_int_range (rand, 0,
                  sizeof (caps_chars) - 1)];
          continue;
        }
      } else if (region < 9) {  /* index entries */
        off = ENTRY_OFF (g_rand_int_range (rand, 0, 7)) +
            g_rand_int_range (rand, 0, 64);
      } else {
        off = g_rand_int_range (rand, 0, len);
      }

      if (g_rand_boolean (rand))
        buf[off] ^= 1 << g_rand_int_range (rand, 0, 8);
      else
        buf[off] = g_rand_int_range (rand, 0, 256);
    }
    /* rewritten in place: same size, so mappings never reach past it */
    fail_unless_equals_int64 (pwrite (fd, buf, len, 0), (gint64) len);

    r = gst_memmap_store_reader_open (engine, path, &err);
    if (r == NULL) {
      fail_unless (err != NULL && err->domain == GST_MEMMAP_ERROR);
      g_clear_error (&err);
      continue;
    }
    opened++;
    {
      const GstVideoInfo *layout = gst_memmap_store_reader_get_layout (r);
      guint64 f, first_f = gst_memmap_store_reader_get_first_frame (r);
      guint64 c = gst_memmap_store_reader_get_committed (r);

      for (f = first_f; f < c && f < first_f + 64; f++) {
        GstBuffer *b = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);
        GstVideoFrame frame;

        if (b == NULL) {
          fail_unless (err != NULL && err->domain == GST_MEMMAP_ERROR);
          g_clear_error (&err);
          continue;
        }
        /* touch every pixel through the meta */
        fail_unless (gst_video_frame_map (&frame, layout, b, GST_MAP_READ));
        {
          guint p, y, sum = 0;

          for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
            const guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
            gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);

            for (y = 0; y < store_plane_rows (layout, p); y++)
              sum += d[(gsize) y * stride + store_plane_row_bytes (layout,
                      p) - 1] + d[(gsize) y * stride];
          }
          GST_LOG ("sum %u", sum);
        }
        gst_video_frame_unmap (&frame);
        gst_buffer_unref (b);
        read++;
      }
    }
    gst_memmap_store_reader_unref (r);
  }
  g_print ("random corruption: %u of %u corrupted stores opened, %u frames "
      "read\n", opened, iterations, read);
  close (fd);

  g_rand_free (rand);
  g_free (buf);
  g_free (orig);
  g_free (src);
  g_free (path);
}

GST_END_TEST;

static Suite *
store_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-store", setup, teardown, &tc);

  tcase_add_test (tc, test_roundtrip_formats);
  tcase_add_test (tc, test_bad_arguments);
  tcase_add_test (tc, test_caps_normalized);
  tcase_add_test (tc, test_ring_wraparound);
  tcase_add_test (tc, test_ring_concurrent_reader);
  tcase_add_test (tc, test_windows_whole_chunks);
  tcase_add_test (tc, test_windows_do_not_hold_lock);
  tcase_add_test (tc, test_default_chunk_slots);
  tcase_add_test (tc, test_append_growth);
  tcase_add_test (tc, test_append_ahead);
  tcase_add_test (tc, test_release_slot);
  tcase_add_test (tc, test_reader_writer_ref);
  tcase_add_test (tc, test_append_max_frames);
  tcase_add_test (tc, test_append_max_frames_held_slots);
  tcase_add_test (tc, test_session_ref);
  tcase_add_test (tc, test_reuse_in_place);
  tcase_add_test (tc, test_reuse_content);
  tcase_add_test (tc, test_replace_keeps_readers);
  tcase_add_test (tc, test_single_writer);
  tcase_add_test (tc, test_sync);
  tcase_add_test (tc, test_kill9);
  tcase_add_test (tc, test_disk_full);
  tcase_add_test (tc, test_disk_full_ahead);
  tcase_add_test (tc, test_not_a_store);
  tcase_add_test (tc, test_hostile_header);
  tcase_add_test (tc, test_hostile_entries);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_random_corruption);

  return s;
}

GST_CHECK_MAIN (store);
