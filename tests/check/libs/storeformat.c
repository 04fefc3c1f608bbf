/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the frame store format 1.1 (docs/store-format.md): stores
 * of format 1.0 still open, per-frame buffer flags, per-frame checksums
 * (every zeroed or flipped byte of a frame is found), and the footprint of
 * a store closed cleanly (what it holds, with a live reader across the
 * close).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "../store-pattern.h"

#define P 4096

static GstMemmapEngine *engine;

static void
setup (void)
{
  gst_memmap_init ();
  memmap_test_make_tmpdir ("memmap-storeformat");
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

static GstMemmapStoreWriter *
new_writer (const gchar * name, GstVideoFormat format, guint width,
    guint height, GstMemmapStoreMode mode, guint64 max_frames,
    GstMemmapStoreWriterFlags flags, GstVideoInfo * layout, gchar ** path)
{
  GstMemmapStoreWriter *w;
  GError *err = NULL;
  GstCaps *caps;

  fail_unless (store_make_layout (layout, format, width, height, 0, 0));
  GST_VIDEO_INFO_FPS_N (layout) = 30;
  GST_VIDEO_INFO_FPS_D (layout) = 1;
  caps = gst_video_info_to_caps (layout);
  *path = g_build_filename (tmpdir, name, NULL);
  w = gst_memmap_store_writer_new_full (engine, *path, caps, layout, mode,
      max_frames, 0, 0, flags, &err);
  gst_caps_unref (caps);
  fail_unless (w != NULL, "writer %s: %s", *path, err ? err->message : "?");
  return w;
}

/* Writes the pattern of frame @f into a new slot and commits it. */
static void
write_frame (GstMemmapStoreWriter * w, const GstVideoInfo * layout, guint64 f,
    guint32 flags)
{
  GError *err = NULL;

  fail_unless (memmap_test_write_pattern_frame (w, layout, f, flags, &err),
      "frame %" G_GUINT64_FORMAT ": %s", f, err ? err->message : "?");
}

static GstMemmapStoreReader *
open_ok (const gchar * path)
{
  return memmap_test_open_store (engine, path);
}

static void
check_frame (GstMemmapStoreReader * r, guint64 f, guint64 content)
{
  GError *err = NULL;
  GstBuffer *buf = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);
  GstMapInfo map;

  fail_unless (buf != NULL, "frame %" G_GUINT64_FORMAT ": %s", f,
      err ? err->message : "?");
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless (store_check_frame (map.data,
          gst_memmap_store_reader_get_layout (r), content),
      "frame %" G_GUINT64_FORMAT " has wrong bytes", f);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
}

static guint16
header_version_minor (const gchar * path)
{
  guint16 v = 0;
  gint fd = open (path, O_RDONLY);

  fail_unless (fd >= 0);
  fail_unless_equals_int (pread (fd, &v, 2, 10), 2);
  close (fd);
  return GUINT16_FROM_LE (v);
}

/* ------------------------------------------------------------------------ */
/* older stores                                                             */

/* tests/check/data/: stores written by format 1.0 (main's store-make) */
static gchar *
fixture_copy (const gchar * name)
{
  const gchar *root = g_getenv ("MEMMAP_SOURCE_ROOT");
  gchar *src, *dst, *contents = NULL;
  gsize len = 0;

  fail_unless (root != NULL, "MEMMAP_SOURCE_ROOT is not set");
  src = g_build_filename (root, "tests", "check", "data", name, NULL);
  fail_unless (g_file_get_contents (src, &contents, &len, NULL),
      "fixture %s missing", src);
  dst = g_build_filename (tmpdir, name, NULL);
  fail_unless (g_file_set_contents (dst, contents, len, NULL));
  g_free (contents);
  g_free (src);
  return dst;
}

GST_START_TEST (test_old_version_fixture)
{
  gchar *path = fixture_copy ("v1.0-append.store");
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GError *err = NULL;
  guint64 f;

  fail_unless_equals_int (header_version_minor (path), 0);
  r = open_ok (path);
  fail_unless (gst_memmap_store_reader_is_closed (r));
  fail_if (gst_memmap_store_reader_has_checksums (r));
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 3);
  for (f = 0; f < 3; f++) {
    fail_unless (gst_memmap_store_reader_get_entry (r, f, &e, &err));
    fail_unless_equals_uint64 (e.pts, f * GST_MSECOND);
    fail_unless_equals_int (e.flags, f == 0 ?
        GST_MEMMAP_STORE_FRAME_DISCONT : 0);
    fail_unless_equals_uint64 (e.checksum, 0);
    check_frame (r, f, f);
    fail_unless (gst_memmap_store_reader_verify_frame (r, f, &err));
  }
  gst_memmap_store_reader_unref (r);
  g_free (path);

  /* a ring of 3 that wrapped: frames 2..4 */
  path = fixture_copy ("v1.0-ring.store");
  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 5);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_first_frame (r), 2);
  for (f = 2; f < 5; f++)
    check_frame (r, f, f);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* a 1.0 store reused in place becomes a 1.1 store, with its new settings */
GST_START_TEST (test_old_version_reused)
{
  gchar *path = fixture_copy ("v1.0-append.store"), *path2;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;

  /* the fixture's geometry: I420 32x24, max-frames 3 */
  w = new_writer ("v1.0-append.store", GST_VIDEO_FORMAT_I420, 32, 24,
      GST_MEMMAP_STORE_MODE_APPEND, 3, GST_MEMMAP_STORE_WRITER_FLAG_REUSE |
      GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM, &layout, &path2);
  fail_unless_equals_string (path, path2);
  fail_unless (gst_memmap_store_writer_was_reused (w));
  write_frame (w, &layout, 7, 0);
  gst_memmap_store_writer_unref (w);

  fail_unless_equals_int (header_version_minor (path), 1);
  r = open_ok (path);
  fail_unless (gst_memmap_store_reader_has_checksums (r));
  check_frame (r, 0, 7);
  gst_memmap_store_reader_unref (r);
  g_free (path);
  g_free (path2);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* flags                                                                    */

GST_START_TEST (test_buffer_flags_roundtrip)
{
  static const guint buffer_flags[] = {
    0,
    GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_TFF,
    GST_VIDEO_BUFFER_FLAG_INTERLACED,
    GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_RFF |
        GST_VIDEO_BUFFER_FLAG_TFF,
    GST_VIDEO_BUFFER_FLAG_TOP_FIELD,
    GST_VIDEO_BUFFER_FLAG_BOTTOM_FIELD,
    GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_CORRUPTED,
    GST_BUFFER_FLAG_GAP,
  };
  /* never stored: meaningless for a raw frame read back from a store */
  const guint not_kept = GST_BUFFER_FLAG_DELTA_UNIT |
      GST_BUFFER_FLAG_DROPPABLE | GST_BUFFER_FLAG_HEADER;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  gchar *path;
  guint i;

  w = new_writer ("flags.store", GST_VIDEO_FORMAT_GRAY8, 16, 8,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, &layout, &path);
  for (i = 0; i < G_N_ELEMENTS (buffer_flags); i++) {
    GstBuffer *in = gst_buffer_new ();

    GST_BUFFER_FLAG_SET (in, buffer_flags[i] | not_kept);
    write_frame (w, &layout, i, gst_memmap_store_frame_flags_from_buffer (in));
    gst_buffer_unref (in);
  }
  gst_memmap_store_writer_close (w, NULL);

  r = open_ok (path);
  for (i = 0; i < G_N_ELEMENTS (buffer_flags); i++) {
    GstBuffer *out = gst_memmap_store_reader_get_buffer (r, NULL, i, NULL);
    guint mask = buffer_flags[i] | not_kept | GST_VIDEO_BUFFER_FLAG_INTERLACED
        | GST_VIDEO_BUFFER_FLAG_TFF | GST_VIDEO_BUFFER_FLAG_RFF |
        GST_VIDEO_BUFFER_FLAG_ONEFIELD | GST_BUFFER_FLAG_DISCONT |
        GST_BUFFER_FLAG_CORRUPTED | GST_BUFFER_FLAG_GAP;

    fail_unless (out != NULL);
    fail_unless_equals_int (GST_BUFFER_FLAGS (out) & mask, buffer_flags[i]);
    gst_buffer_unref (out);
  }
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

/* bits a later minor version may define are dropped, not misread */
GST_START_TEST (test_unknown_flags_ignored)
{
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GstVideoInfo layout;
  gchar *path;

  w = new_writer ("unknown.store", GST_VIDEO_FORMAT_GRAY8, 16, 8,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, &layout, &path);
  write_frame (w, &layout, 0, 0xffffffffu);
  r = open_ok (path);
  fail_unless (gst_memmap_store_reader_get_entry (r, 0, &e, NULL));
  fail_unless_equals_int (e.flags, GST_MEMMAP_STORE_FRAME_DISCONT |
      GST_MEMMAP_STORE_FRAME_INTERLACED | GST_MEMMAP_STORE_FRAME_TFF |
      GST_MEMMAP_STORE_FRAME_RFF | GST_MEMMAP_STORE_FRAME_ONEFIELD |
      GST_MEMMAP_STORE_FRAME_CORRUPTED | GST_MEMMAP_STORE_FRAME_GAP);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* checksums                                                                */

static void
poke (const gchar * path, guint64 offset, guint8 value)
{
  gint fd = open (path, O_WRONLY);

  fail_unless (fd >= 0);
  fail_unless_equals_int (pwrite (fd, &value, 1, offset), 1);
  close (fd);
}

static guint8
peek (const gchar * path, guint64 offset)
{
  guint8 v = 0;
  gint fd = open (path, O_RDONLY);

  fail_unless (fd >= 0);
  fail_unless_equals_int (pread (fd, &v, 1, offset), 1);
  close (fd);
  return v;
}

/* Every frame of @r except @bad verifies; @bad fails with CORRUPT, in
 * verify_frame() and in get_buffer() */
static void
assert_only_bad (GstMemmapStoreReader * r, guint64 n, guint64 bad)
{
  guint64 f;

  for (f = 0; f < n; f++) {
    GError *err = NULL;
    GstBuffer *buf;

    if (f != bad) {
      fail_unless (gst_memmap_store_reader_verify_frame (r, f, &err),
          "frame %" G_GUINT64_FORMAT ": %s", f, err ? err->message : "?");
      continue;
    }
    fail_if (gst_memmap_store_reader_verify_frame (r, f, &err));
    fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
            GST_MEMMAP_ERROR_CORRUPT), "%s", err ? err->message : "no error");
    g_clear_error (&err);
    buf = gst_memmap_store_reader_get_buffer (r, NULL, f, &err);
    fail_unless (buf == NULL, "a changed frame was handed out");
    fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
            GST_MEMMAP_ERROR_CORRUPT));
    g_clear_error (&err);
  }
}

GST_START_TEST (test_checksums_find_every_byte)
{
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GstVideoInfo layout;
  GstStructure *stats;
  gboolean has = FALSE;
  gchar *path;
  guint64 f, slot1 = 0, byte;
  const guint64 n = 3;

  /* 8x6 I420: 72 bytes, every one of them checked */
  w = new_writer ("sums.store", GST_VIDEO_FORMAT_I420, 8, 6,
      GST_MEMMAP_STORE_MODE_APPEND, 0, GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM,
      &layout, &path);
  fail_unless (gst_memmap_store_writer_has_checksums (w));
  for (f = 0; f < n; f++)
    write_frame (w, &layout, f, 0);
  stats = gst_memmap_store_writer_get_stats (w);
  fail_unless (gst_structure_get_boolean (stats, "checksums", &has) && has);
  gst_structure_free (stats);
  gst_memmap_store_writer_unref (w);

  r = open_ok (path);
  fail_unless (gst_memmap_store_reader_has_checksums (r));
  assert_only_bad (r, n, G_MAXUINT64);
  fail_unless (gst_memmap_store_reader_get_entry (r, 1, &e, NULL));
  fail_unless (e.checksum != 0);
  {
    GstBuffer *buf = gst_memmap_store_reader_get_buffer (r, NULL, 1, NULL);

    /* where frame 1's bytes are in the file */
    fail_unless (buf != NULL);
    slot1 = gst_memmap_memory_get_file_offset (gst_buffer_peek_memory (buf, 0));
    gst_buffer_unref (buf);
  }
  gst_memmap_store_reader_unref (r);

  /* every byte of frame 1, flipped (one bit) and zeroed, one at a time */
  for (byte = 0; byte < GST_VIDEO_INFO_SIZE (&layout); byte++) {
    guint8 orig = peek (path, slot1 + byte);
    guint8 bad[2] = { orig ^ 0x10, 0 };
    guint k;

    for (k = 0; k < 2; k++) {
      if (bad[k] == orig)
        continue;
      poke (path, slot1 + byte, bad[k]);
      gst_memmap_engine_clear_all (engine);
      r = open_ok (path);
      assert_only_bad (r, n, 1);
      gst_memmap_store_reader_unref (r);
    }
    poke (path, slot1 + byte, orig);
  }

  /* a reader may turn the check off: the changed frame is then served */
  poke (path, slot1, peek (path, slot1) ^ 0xff);
  r = open_ok (path);
  gst_memmap_store_reader_set_verify (r, FALSE);
  {
    GstBuffer *buf = gst_memmap_store_reader_get_buffer (r, NULL, 1, NULL);

    fail_unless (buf != NULL);
    gst_buffer_unref (buf);
  }
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* without checksums (the default) a store has none and nothing is checked */
GST_START_TEST (test_no_checksums)
{
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GstVideoInfo layout;
  gchar *path;

  w = new_writer ("plain.store", GST_VIDEO_FORMAT_GRAY8, 16, 8,
      GST_MEMMAP_STORE_MODE_RING, 4, 0, &layout, &path);
  fail_if (gst_memmap_store_writer_has_checksums (w));
  write_frame (w, &layout, 0, 0);
  r = open_ok (path);
  fail_if (gst_memmap_store_reader_has_checksums (r));
  fail_unless (gst_memmap_store_reader_get_entry (r, 0, &e, NULL));
  fail_unless_equals_uint64 (e.checksum, 0);
  fail_unless_equals_int (header_version_minor (path), 1);
  check_frame (r, 0, 0);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* footprint                                                                */

static guint64
round_up_page (guint64 v)
{
  return (v + P - 1) / P * P;
}

static guint64
disk_bytes (const gchar * path)
{
  struct stat st;

  fail_unless (stat (path, &st) == 0);
  return (guint64) st.st_blocks * 512;
}

static guint64
apparent_bytes (const gchar * path)
{
  struct stat st;

  fail_unless (stat (path, &st) == 0);
  return st.st_size;
}

/* a closed store of 3 frames of 320x240 takes header + one page of index +
 * its 3 slots + at most one page; the reservation stays while it is
 * written; a reader that followed it across the close keeps working */
GST_START_TEST (test_footprint_append)
{
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  GstBuffer *held;
  guint64 slot, f, data, limit, spare;
  gchar *path;

  w = new_writer ("small.store", GST_VIDEO_FORMAT_I420, 320, 240,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, &layout, &path);
  for (f = 0; f < 3; f++)
    write_frame (w, &layout, f, 0);
  /* a slot taken and given back, and one still out at close (a pool's) */
  fail_unless (gst_memmap_store_writer_acquire_slot (w, &spare, NULL));
  gst_memmap_store_writer_release_slot (w, spare);
  fail_unless (gst_memmap_store_writer_acquire_slot (w, &slot, NULL));

  data = 3 * round_up_page (GST_VIDEO_INFO_SIZE (&layout));
  limit = P + P + data + P;
  /* while written: the whole first chunk is reserved */
  fail_unless (disk_bytes (path) >= 60 * 1024 * 1024,
      "open store takes %" G_GUINT64_FORMAT " bytes", disk_bytes (path));

  /* a live follower holds a frame across the close */
  r = open_ok (path);
  held = gst_memmap_store_reader_get_buffer (r, NULL, 2, NULL);
  fail_unless (held != NULL);
  fail_if (gst_memmap_store_reader_is_closed (r));

  fail_unless (gst_memmap_store_writer_close (w, NULL));
  fail_unless (disk_bytes (path) <= limit, "closed store of %" G_GUINT64_FORMAT
      " bytes of frames takes %" G_GUINT64_FORMAT " bytes on disk (limit %"
      G_GUINT64_FORMAT ")", data, disk_bytes (path), limit);
  fail_unless (disk_bytes (path) >= data);
  /* offsets stay: the size is the reservation's */
  fail_unless (apparent_bytes (path) >= 60 * 1024 * 1024);

  fail_unless (gst_memmap_store_reader_is_closed (r));
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 3);
  for (f = 0; f < 3; f++)
    check_frame (r, f, f);
  {
    GstMapInfo map;

    fail_unless (gst_buffer_map (held, &map, GST_MAP_READ));
    fail_unless (store_check_frame (map.data, &layout, 2));
    gst_buffer_unmap (held, &map);
    fail_unless (gst_memmap_mapping_check (gst_memmap_memory_get_mapping
            (gst_buffer_peek_memory (held, 0)), NULL));
  }
  gst_buffer_unref (held);
  gst_memmap_store_reader_unref (r);

  /* and a new reader */
  r = open_ok (path);
  for (f = 0; f < 3; f++)
    check_frame (r, f, f);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);

  /* reused in place: the whole reservation comes back before any write */
  {
    gchar *path2;

    w = new_writer ("small.store", GST_VIDEO_FORMAT_I420, 320, 240,
        GST_MEMMAP_STORE_MODE_APPEND, 0, GST_MEMMAP_STORE_WRITER_FLAG_REUSE,
        &layout, &path2);
    fail_unless (gst_memmap_store_writer_was_reused (w));
    fail_unless (disk_bytes (path) >= 60 * 1024 * 1024);
    write_frame (w, &layout, 5, 0);
    gst_memmap_store_writer_unref (w);
    fail_unless (disk_bytes (path) <= P + P +
        round_up_page (GST_VIDEO_INFO_SIZE (&layout)) + P);
    r = open_ok (path);
    check_frame (r, 0, 5);
    gst_memmap_store_reader_unref (r);
    g_free (path2);
  }
  g_free (path);
}

GST_END_TEST;

/* a ring closed before it filled gives its unused slots back; one that
 * wrapped keeps every slot a reader may still hold */
GST_START_TEST (test_footprint_ring)
{
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  guint64 f, slot_bytes;
  gchar *path;

  w = new_writer ("ring.store", GST_VIDEO_FORMAT_I420, 320, 240,
      GST_MEMMAP_STORE_MODE_RING, 100, 0, &layout, &path);
  slot_bytes = round_up_page (GST_VIDEO_INFO_SIZE (&layout));
  fail_unless (disk_bytes (path) >= 108 * slot_bytes);
  for (f = 0; f < 3; f++)
    write_frame (w, &layout, f, 0);
  gst_memmap_store_writer_unref (w);
  fail_unless (disk_bytes (path) <= P + P + 3 * slot_bytes + P,
      "closed ring of 3 frames takes %" G_GUINT64_FORMAT " bytes",
      disk_bytes (path));
  r = open_ok (path);
  for (f = 0; f < 3; f++)
    check_frame (r, f, f);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* A slot still acquired at the close whose memory was handed out keeps its
 * bytes: the memory outlives the close (a decoder's reference frame in a
 * slot pool's buffer, an uncommitted frame downstream keeps). Before the
 * fix, the close punched it and the memory read zeros (libs_frames'
 * test_swapped_cache_files through memmapcache). Released after the close
 * (its memory gone), its blocks go back; the writer freed, the memory
 * still reads its bytes. */
static void
check_held_slot_survives_close (GstMemmapStoreMode mode, guint64 max_frames)
{
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  GstMemory *held;
  GstMapInfo map;
  guint64 slot, unheld, f, slot_bytes;
  gchar *path;

  w = new_writer (mode == GST_MEMMAP_STORE_MODE_RING ? "held-ring.store" :
      "held.store", GST_VIDEO_FORMAT_I420, 320, 240, mode, max_frames, 0,
      &layout, &path);
  slot_bytes = round_up_page (GST_VIDEO_INFO_SIZE (&layout));
  for (f = 0; f < 2; f++)
    write_frame (w, &layout, f, 0);
  fail_unless (gst_memmap_store_writer_acquire_slot (w, &slot, NULL));
  held = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, NULL);
  fail_unless (held != NULL);
  fail_unless (gst_memory_map (held, &map, GST_MAP_WRITE));
  store_fill_frame (map.data, &layout, 7);
  gst_memory_unmap (held, &map);
  /* one acquired without a memory: nobody can read it, it is given back */
  fail_unless (gst_memmap_store_writer_acquire_slot (w, &unheld, NULL));

  fail_unless (gst_memmap_store_writer_close (w, NULL));
  /* nothing for a slot the close gave back */
  gst_memmap_store_writer_release_slot (w, unheld);

  fail_unless (gst_memory_map (held, &map, GST_MAP_READ));
  fail_unless (store_check_frame (map.data, &layout, 7), "the bytes of a "
      "slot whose memory is held were given back at the close");
  gst_memory_unmap (held, &map);
  /* the footprint: the 2 frames, the held slot, nothing for the other */
  fail_unless (disk_bytes (path) <= P + P + 3 * slot_bytes + P,
      "closed store of 2 frames and a held slot takes %" G_GUINT64_FORMAT
      " bytes", disk_bytes (path));

  /* still 2 frames, and writing the held memory after the close harms
   * none of them */
  fail_unless (gst_memory_map (held, &map, GST_MAP_WRITE));
  store_fill_frame (map.data, &layout, 9);
  gst_memory_unmap (held, &map);
  r = open_ok (path);
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (r), 2);
  for (f = 0; f < 2; f++)
    check_frame (r, f, f);

  /* its memory gone, the slot released: its blocks go back too */
  gst_memory_unref (held);
  gst_memmap_store_writer_release_slot (w, slot);
  fail_unless (disk_bytes (path) <= P + P + 2 * slot_bytes + P,
      "closed store of 2 frames takes %" G_GUINT64_FORMAT " bytes after "
      "its last slot was released", disk_bytes (path));
  for (f = 0; f < 2; f++)
    check_frame (r, f, f);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

/* the writer freed before the memory: the memory keeps reading its bytes */
GST_START_TEST (test_held_slot_outlives_writer)
{
  GstMemmapStoreWriter *w;
  GstVideoInfo layout;
  GstMemory *held;
  GstMapInfo map;
  guint64 slot;
  gchar *path;

  w = new_writer ("outlived.store", GST_VIDEO_FORMAT_I420, 320, 240,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, &layout, &path);
  write_frame (w, &layout, 0, 0);
  fail_unless (gst_memmap_store_writer_acquire_slot (w, &slot, NULL));
  held = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, NULL);
  fail_unless (held != NULL);
  fail_unless (gst_memory_map (held, &map, GST_MAP_WRITE));
  store_fill_frame (map.data, &layout, 4);
  gst_memory_unmap (held, &map);
  gst_memmap_store_writer_unref (w);

  fail_unless (gst_memory_map (held, &map, GST_MAP_READ));
  fail_unless (store_check_frame (map.data, &layout, 4));
  gst_memory_unmap (held, &map);
  gst_memory_unref (held);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_held_slot_survives_close)
{
  check_held_slot_survives_close (GST_MEMMAP_STORE_MODE_APPEND, 0);
  check_held_slot_survives_close (GST_MEMMAP_STORE_MODE_RING, 100);
}

GST_END_TEST;

static Suite *
storeformat_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-storeformat", setup, teardown,
      &tc);

  tcase_add_test (tc, test_old_version_fixture);
  tcase_add_test (tc, test_old_version_reused);
  tcase_add_test (tc, test_buffer_flags_roundtrip);
  tcase_add_test (tc, test_unknown_flags_ignored);
  tcase_add_test (tc, test_checksums_find_every_byte);
  tcase_add_test (tc, test_no_checksums);
  tcase_add_test (tc, test_footprint_append);
  tcase_add_test (tc, test_footprint_ring);
  tcase_add_test (tc, test_held_slot_survives_close);
  tcase_add_test (tc, test_held_slot_outlives_writer);

  return s;
}

GST_CHECK_MAIN (storeformat);
