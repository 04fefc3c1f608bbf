/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A file truncated by another process while it is mapped (docs/reliability.md,
 * "Truncation under a live mapping"). Without the engine's fault guard each
 * of these tests dies of SIGBUS: a page past the new end of a mapped file
 * has nothing behind it. With it the page reads as zeros, the mapping says
 * it was truncated (gst_memmap_mapping_check()), the engine never serves it
 * again, and the store's reader and writer fail with
 * GST_MEMMAP_ERROR_TRUNCATED instead of handing out or committing lost
 * bytes. A SIGBUS that is not ours still ends the process.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "../store-pattern.h"

#define P 4096
#define FILE_PAGES 256          /* 1 MiB: over the engine's read-threshold */

static GstMemmapEngine *engine;

static void
setup (void)
{
  gst_memmap_init ();
  memmap_test_make_tmpdir ("memmap-trunc");
  engine = gst_memmap_engine_new ();
  /* mmap every file, however small */
  g_object_set (engine, "read-threshold", (guint64) 0, NULL);
}

static void
teardown (void)
{
  gst_object_unref (engine);
  memmap_test_remove_tmpdir ();
}

/* byte i of the test files */
static guint8
file_byte (gsize i)
{
  return (guint8) (i * 7 + 1);
}

static void
write_file (const gchar * path, gsize size)
{
  guint8 *data = g_malloc (size);
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = file_byte (i);
  fail_unless (g_file_set_contents (path, (gchar *) data, size, NULL));
  g_free (data);
}

static guint64
truncation_faults (void)
{
  GstStructure *s = gst_memmap_engine_get_stats (engine);
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, "truncation-faults", &v));
  gst_structure_free (s);
  return v;
}

static void
assert_truncated (GError * err, const gchar * path)
{
  fail_unless (err != NULL);
  fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED), "%s", err->message);
  fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
}

/* ------------------------------------------------------------------------ */
/* the engine                                                               */

GST_START_TEST (test_read_past_new_end)
{
  gchar *path = test_path ("read.bin");
  GstMemmapMapping *m, *again;
  GError *err = NULL;
  volatile guint8 *data;
  guint64 faults0;
  gsize i;

  write_file (path, FILE_PAGES * P);
  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_VOLATILE, &err);
  fail_unless (m != NULL, "%s", err ? err->message : "?");
  fail_unless (gst_memmap_mapping_is_mmapped (m));
  data = gst_memmap_mapping_get_data (m);
  fail_unless_equals_int (data[10 * P], file_byte (10 * P));
  fail_unless (gst_memmap_mapping_check (m, NULL));
  faults0 = truncation_faults ();

  memmap_test_truncate_elsewhere (path, 2 * P);

  /* what is left is the file's; every page past the end reads zeros */
  fail_unless_equals_int (data[P + 5], file_byte (P + 5));
  for (i = 2 * P; i < FILE_PAGES * P; i += 997)
    fail_unless_equals_int (data[i], 0);
  fail_unless_equals_int (data[FILE_PAGES * P - 1], 0);

  fail_if (gst_memmap_mapping_check (m, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  fail_unless (truncation_faults () >= faults0 + 1);

  /* the damaged mapping is never handed out again: a new map of the file
   * maps what it holds now */
  again = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_VOLATILE,
      &err);
  fail_unless (again != NULL, "%s", err ? err->message : "?");
  fail_if (again == m);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (again), 2 * P);
  fail_unless (gst_memmap_mapping_check (again, NULL));
  gst_memmap_mapping_unref (again);

  gst_memmap_mapping_unref (m);
  g_free (path);
}

GST_END_TEST;

/* Writes into pages that the file no longer has reach no file, and the
 * mapping says so. */
GST_START_TEST (test_write_past_new_end)
{
  gchar *path = test_path ("write.bin");
  GstMemmapMapping *m;
  GError *err = NULL;
  guint8 *data;
  struct stat st;

  m = gst_memmap_engine_create_file (engine, path, FILE_PAGES * P, &err);
  fail_unless (m != NULL, "%s", err ? err->message : "?");
  data = gst_memmap_mapping_get_data (m);
  memset (data, 0xab, P);

  memmap_test_truncate_elsewhere (path, P);

  memset (data, 0xcd, 8 * P);
  fail_unless_equals_int (data[0], 0xcd);
  fail_unless_equals_int (data[5 * P], 0xcd);
  fail_if (gst_memmap_mapping_check (m, &err));
  assert_truncated (err, path);
  g_clear_error (&err);

  /* the page the file still has got the write; the file did not grow */
  fail_unless (gst_memmap_mapping_flush (m, 0, 0, NULL));
  fail_unless (stat (path, &st) == 0);
  fail_unless_equals_uint64 ((guint64) st.st_size, P);
  gst_memmap_mapping_unref (m);
  g_free (path);
}

GST_END_TEST;

/* The guard only takes the faults of the engine's own mappings: a SIGBUS
 * on a mapping of someone else still ends the process. */
GST_START_TEST (test_foreign_fault_still_fatal)
{
  gchar *ours = test_path ("ours.bin"), *theirs = test_path ("theirs.bin");
  GstMemmapMapping *m;
  gint status;
  pid_t pid;

  write_file (ours, 4 * P);
  write_file (theirs, 4 * P);
  /* the guard is installed by the engine's first mapping */
  m = gst_memmap_engine_map_file (engine, ours, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);

  pid = fork ();
  fail_unless (pid >= 0);
  if (pid == 0) {
    gint fd = open (theirs, O_RDONLY);
    volatile guint8 *p;

    if (fd < 0)
      _exit (2);
    p = mmap (NULL, 4 * P, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || ftruncate (open (theirs, O_WRONLY), P) < 0)
      _exit (3);
    (void) p[3 * P];
    _exit (0);                  /* survived: the guard took a foreign fault */
  }
  fail_unless (waitpid (pid, &status, 0) == pid);
  /* killed by SIGBUS; or, where a handler was there before ours (a
   * sanitizer's), that handler had the fault and ended the child */
  fail_if (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "the guard took a fault that was not the engine's");
  fail_if (WIFEXITED (status) && (WEXITSTATUS (status) == 2 ||
          WEXITSTATUS (status) == 3),
      "the child could not set up its mapping (exit %d)", WEXITSTATUS (status));
  fail_unless (WIFEXITED (status) || WTERMSIG (status) == SIGBUS,
      "the child died of signal %d", WTERMSIG (status));

  gst_memmap_mapping_unref (m);
  g_free (ours);
  g_free (theirs);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* the frame store                                                          */

#define N_FRAMES 12

static GstMemmapStoreWriter *
new_writer (const gchar * path, GstVideoInfo * layout)
{
  GstVideoInfo info;
  GstCaps *caps;
  GstMemmapStoreWriter *w;
  GError *err = NULL;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 320, 240);
  info.fps_n = 30;
  info.fps_d = 1;
  caps = gst_video_info_to_caps (&info);
  w = gst_memmap_store_writer_new (engine, path, caps, &info,
      GST_MEMMAP_STORE_MODE_APPEND, 0, &err);
  fail_unless (w != NULL, "%s", err ? err->message : "?");
  *layout = *gst_memmap_store_writer_get_layout (w);
  gst_caps_unref (caps);
  return w;
}

/* acquires a slot, fills it with frame @f's pattern; returns the slot */
static guint64
fill_slot (GstMemmapStoreWriter * w, const GstVideoInfo * layout, guint64 f)
{
  GstMemory *mem;
  GstMapInfo map;
  guint64 slot;

  fail_unless (gst_memmap_store_writer_acquire_slot (w, &slot, NULL));
  mem = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, NULL);
  fail_unless (mem != NULL);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  store_fill_frame (map.data, layout, f);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);
  return slot;
}

static void
write_frames (GstMemmapStoreWriter * w, const GstVideoInfo * layout, guint64 n)
{
  guint64 f;

  for (f = 0; f < n; f++)
    fail_unless (gst_memmap_store_writer_commit (w, fill_slot (w, layout, f),
            f * GST_MSECOND, GST_MSECOND, 0, NULL));
}

static guint64
sum_bytes (GstBuffer * buf)
{
  GstMapInfo map;
  guint64 sum = 0;
  gsize i;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i++)
    sum += map.data[i];
  gst_buffer_unmap (buf, &map);
  return sum;
}

GST_START_TEST (test_reader_after_truncation)
{
  gchar *path = test_path ("read.store");
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  GstBuffer *held, *buf;
  GstMemory *mem;
  GError *err = NULL;
  GstMapInfo map;
  guint64 mem_offset;
  guint8 *expected;
  gsize i;

  w = new_writer (path, &layout);
  write_frames (w, &layout, N_FRAMES);
  fail_unless (gst_memmap_store_writer_close (w, NULL));
  gst_memmap_store_writer_unref (w);

  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r != NULL, "%s", err ? err->message : "?");
  buf = gst_memmap_store_reader_get_buffer (r, NULL, 0, &err);
  fail_unless (buf != NULL, "%s", err ? err->message : "?");
  gst_buffer_unref (buf);
  /* a buffer someone downstream still holds, not yet read */
  held = gst_memmap_store_reader_get_buffer (r, NULL, N_FRAMES - 1, &err);
  fail_unless (held != NULL, "%s", err ? err->message : "?");
  mem = gst_buffer_peek_memory (held, 0);
  fail_unless (gst_is_memmap_memory (mem));
  mem_offset = gst_memmap_memory_get_file_offset (mem);

  /* cut in the middle of frame N_FRAMES - 1 */
  memmap_test_truncate_elsewhere (path, mem_offset + 2 * P);

  /* reading it does not kill the process: what the file still has is the
   * frame's, what is gone reads as zeros */
  fail_unless (gst_buffer_map (held, &map, GST_MAP_READ));
  expected = g_malloc0 (map.size);
  store_fill_frame (expected, &layout, N_FRAMES - 1);
  fail_unless (memcmp (map.data, expected, 2 * P) == 0);
  fail_unless (memcmp (expected + 2 * P, map.data + 2 * P, 64) != 0);
  g_free (expected);
  for (i = 2 * P; i < map.size; i++)
    if (map.data[i] != 0)
      break;
  fail_unless_equals_uint64 (i, map.size);
  gst_buffer_unmap (held, &map);
  gst_buffer_unref (held);

  /* from now on the reader hands out nothing: not the lost frame, and not
   * a frame the file still holds either (the mapping lost pages) */
  fail_if (gst_memmap_store_reader_get_buffer (r, NULL, N_FRAMES - 1, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  fail_if (gst_memmap_store_reader_get_buffer (r, NULL, 0, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

/* Truncated before anything touched the lost pages: the reader's size check
 * refuses the frame before it is handed out. */
GST_START_TEST (test_reader_refuses_lost_frame)
{
  gchar *path = test_path ("refuse.store");
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  GstBuffer *buf;
  GError *err = NULL;
  guint64 first_sum, faults0;

  w = new_writer (path, &layout);
  write_frames (w, &layout, N_FRAMES);
  gst_memmap_store_writer_unref (w);

  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r != NULL, "%s", err ? err->message : "?");
  buf = gst_memmap_store_reader_get_buffer (r, NULL, 0, NULL);
  fail_unless (buf != NULL);
  first_sum = sum_bytes (buf);
  gst_buffer_unref (buf);

  faults0 = truncation_faults ();
  buf = gst_memmap_store_reader_get_buffer (r, NULL, 1, NULL);
  fail_unless (buf != NULL);
  memmap_test_truncate_elsewhere (path, gst_memmap_memory_get_file_offset
      (gst_buffer_peek_memory (buf, 0)));
  gst_buffer_unref (buf);

  fail_if (gst_memmap_store_reader_get_buffer (r, NULL, N_FRAMES - 1, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  /* frame 0 is still whole and nothing faulted */
  buf = gst_memmap_store_reader_get_buffer (r, NULL, 0, &err);
  fail_unless (buf != NULL, "%s", err ? err->message : "?");
  fail_unless_equals_uint64 (sum_bytes (buf), first_sum);
  gst_buffer_unref (buf);
  fail_unless_equals_uint64 (truncation_faults (), faults0);

  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_writer_after_truncation)
{
  gchar *path = test_path ("write.store");
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstVideoInfo layout;
  GError *err = NULL;
  guint64 slot;

  w = new_writer (path, &layout);
  write_frames (w, &layout, 3);

  /* the file loses every frame slot (320x240 I420 slots start past 16
   * KiB), the header and the index stay */
  memmap_test_truncate_elsewhere (path, P * 4);

  /* the producer writes its frame into pages that are gone */
  slot = fill_slot (w, &layout, 3);
  fail_if (gst_memmap_store_writer_commit (w, slot, 3 * GST_MSECOND,
          GST_MSECOND, 0, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  fail_unless_equals_uint64 (gst_memmap_store_writer_get_committed (w), 3);
  gst_memmap_store_writer_unref (w);

  /* the header claims a chunk the file no longer has: a reader refuses the
   * store instead of handing out frames whose bytes are gone, and says
   * that its writer marked it damaged */
  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r == NULL);
  assert_truncated (err, path);
  fail_unless (strstr (err->message, "damaged") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_free (path);
}

GST_END_TEST;

/* A writer of GRAY8 64x64 frames (one page each) in chunks of 4 slots. */
static GstMemmapStoreWriter *
new_small_writer (const gchar * path, GstMemmapStoreMode mode,
    GstVideoInfo * layout)
{
  GstVideoInfo info;
  GstCaps *caps;
  GstMemmapStoreWriter *w;
  GError *err = NULL;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, 64, 64);
  info.fps_n = 30;
  info.fps_d = 1;
  caps = gst_video_info_to_caps (&info);
  w = gst_memmap_store_writer_new_full (engine, path, caps, &info, mode,
      mode == GST_MEMMAP_STORE_MODE_RING ? 8 : 0, 2, 4 * P,
      GST_MEMMAP_STORE_WRITER_FLAG_NONE, &err);
  fail_unless (w != NULL, "%s", err ? err->message : "?");
  *layout = *gst_memmap_store_writer_get_layout (w);
  gst_caps_unref (caps);
  return w;
}

/* The store at @path says that it is damaged: the reader opens it, says
 * so, and refuses its frames as TRUNCATED. */
static void
assert_damaged (const gchar * path)
{
  GstMemmapStoreReader *r;
  GError *err = NULL;

  r = gst_memmap_store_reader_open (engine, path, &err);
  if (r == NULL) {
    /* shorter than its chunks: not opened, for the same reason */
    assert_truncated (err, path);
    fail_unless (strstr (err->message, "damaged") != NULL, "%s", err->message);
    g_clear_error (&err);
    return;
  }
  fail_unless (gst_memmap_store_reader_is_damaged (r));
  fail_if (gst_memmap_store_reader_is_closed (r));
  fail_if (gst_memmap_store_reader_get_buffer (r, NULL, 0, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  fail_if (gst_memmap_store_reader_check (r, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  gst_memmap_store_reader_unref (r);
}

/* The tail of a full chunk is cut while nothing is mapped there any more;
 * the next reservation would grow the file back over the cut (zeros, no
 * fault, the size right again): the writer must see the cut before it
 * reserves, commit nothing more, refuse to close cleanly and mark the store
 * damaged. Without the check before the reservation, the store closed
 * "cleanly" with frames of zeros (issue 12, item 2). */
GST_START_TEST (test_writer_cut_then_grown_back)
{
  gchar *path = test_path ("regrow.store");
  GstMemmapStoreWriter *w;
  GstVideoInfo layout;
  GError *err = NULL;
  guint64 slot;
  struct stat st;

  w = new_small_writer (path, GST_MEMMAP_STORE_MODE_APPEND, &layout);
  write_frames (w, &layout, 4);
  /* chunk 0: header page, index page, 4 slots: keep 2 of the slots */
  memmap_test_truncate_elsewhere (path, 4 * P);

  fail_if (gst_memmap_store_writer_acquire_slot (w, &slot, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  /* the file was not grown back */
  fail_unless (stat (path, &st) == 0);
  fail_unless_equals_uint64 (st.st_size, 4 * P);
  fail_unless_equals_uint64 (gst_memmap_store_writer_get_committed (w), 4);
  fail_if (gst_memmap_store_writer_close (w, &err));
  assert_truncated (err, path);
  g_clear_error (&err);
  gst_memmap_store_writer_unref (w);

  /* grown back by someone else: still damaged, never "closed" */
  memmap_test_truncate_elsewhere (path, 6 * P);
  assert_damaged (path);
  g_free (path);
}

GST_END_TEST;

/* The same with the cut inside the chunk being filled, in append and ring
 * stores, the file grown back to its length by another program before the
 * commit: the size check alone would pass; the fault counter of the slot's
 * mapping or the size seen before says it. */
GST_START_TEST (test_writer_cut_before_commit)
{
  GstMemmapStoreMode modes[] = { GST_MEMMAP_STORE_MODE_APPEND,
    GST_MEMMAP_STORE_MODE_RING
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (modes); i++) {
    gchar *path = test_path (i ? "cut-ring.store" : "cut-append.store");
    GstMemmapStoreWriter *w;
    GstVideoInfo layout;
    GError *err = NULL;
    guint64 slot;

    w = new_small_writer (path, modes[i], &layout);
    write_frames (w, &layout, 2);
    memmap_test_truncate_elsewhere (path, 3 * P);
    /* the producer fills its slot past the cut (zero pages of the guard) */
    slot = fill_slot (w, &layout, 2);
    fail_if (gst_memmap_store_writer_commit (w, slot, 2 * GST_MSECOND,
            GST_MSECOND, 0, &err));
    assert_truncated (err, path);
    g_clear_error (&err);
    fail_unless_equals_uint64 (gst_memmap_store_writer_get_committed (w), 2);
    gst_memmap_store_writer_unref (w);
    assert_damaged (path);
    g_free (path);
  }
}

GST_END_TEST;

/* Timestamps that go back: the writer flags the frame DISCONT itself (a
 * seek while recording), and a reader refuses a pts below the previous
 * frame's on a frame without the flag (a corrupt index; issue 12, item 6:
 * memmapsrc played 1 of 5 frames and said nothing). */
GST_START_TEST (test_pts_go_back_only_at_discont)
{
  gchar *path = test_path ("pts.store");
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreEntry e;
  GstVideoInfo layout;
  GError *err = NULL;
  guint64 pts[] = { 0, 10, 20, 5, 15 }, f, off;
  gint fd;

  w = new_small_writer (path, GST_MEMMAP_STORE_MODE_APPEND, &layout);
  for (f = 0; f < G_N_ELEMENTS (pts); f++)
    fail_unless (gst_memmap_store_writer_commit (w, fill_slot (w, &layout, f),
            pts[f] * GST_MSECOND, GST_MSECOND, 0, NULL));
  gst_memmap_store_writer_unref (w);

  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r != NULL, "%s", err ? err->message : "?");
  for (f = 0; f < G_N_ELEMENTS (pts); f++) {
    fail_unless (gst_memmap_store_reader_get_entry (r, f, &e, &err), "%s",
        err ? err->message : "?");
    fail_unless_equals_uint64 (e.pts, pts[f] * GST_MSECOND);
    fail_unless_equals_int (e.flags, f == 3 ? GST_MEMMAP_STORE_FRAME_DISCONT :
        GST_MEMMAP_STORE_FRAME_NONE);
  }
  gst_memmap_store_reader_unref (r);

  /* frame 0's pts (entry at data_offset + 16) made later than frame 2's by
   * one byte: frame 1 is refused as corrupt */
  fd = open (path, O_RDWR);
  fail_unless (fd >= 0);
  off = P + 16 + 4;
  fail_unless (pwrite (fd, "\x7f", 1, off) == 1);
  close (fd);
  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r != NULL, "%s", err ? err->message : "?");
  fail_unless (gst_memmap_store_reader_get_entry (r, 0, &e, NULL));
  fail_if (gst_memmap_store_reader_get_entry (r, 1, &e, &err));
  fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_CORRUPT), "%s", err->message);
  fail_unless (strstr (err->message, "pts") != NULL, "%s", err->message);
  g_clear_error (&err);
  fail_if (gst_memmap_store_reader_get_buffer (r, NULL, 1, &err));
  g_clear_error (&err);
  gst_memmap_store_reader_unref (r);
  g_free (path);
}

GST_END_TEST;

static Suite *
truncation_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("truncation", setup, teardown, &tc);

  /* see memmap_test_under_valgrind(): the normal and sanitizer lanes only */
  if (memmap_test_under_valgrind ())
    return s;
  tcase_add_test (tc, test_read_past_new_end);
  tcase_add_test (tc, test_write_past_new_end);
  tcase_add_test (tc, test_foreign_fault_still_fatal);
  tcase_add_test (tc, test_reader_after_truncation);
  tcase_add_test (tc, test_reader_refuses_lost_frame);
  tcase_add_test (tc, test_writer_after_truncation);
  tcase_add_test (tc, test_writer_cut_then_grown_back);
  tcase_add_test (tc, test_writer_cut_before_commit);
  tcase_add_test (tc, test_pts_go_back_only_at_discont);
  return s;
}

GST_CHECK_MAIN (truncation);
