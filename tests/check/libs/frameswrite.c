/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst_memmap_engine_map_video_frames_full(): writable copy-on-write frames
 * (written in place, the frame store's bytes never change), the progress
 * callback (never decreasing, ending at the total) and the GCancellable (a
 * call cancelled from its progress callback fails with
 * G_IO_ERROR_CANCELLED, and the next call gives every frame, exact).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "frames-test-util.h"

#define N_FRAMES 60

static gchar *clip;             /* 60 frames, B-frames, GOP 12 */

static void
setup_clip (void)
{
  memmap_test_make_tmpdir ("memmap-frameswrite");
  clip = test_path ("clip.mp4");
  frames_test_make_clip (clip, N_FRAMES, "ball", 12);
}

static void
teardown_clip (void)
{
  memmap_test_remove_tmpdir ();
  g_free (clip);
}

typedef struct
{
  GArray *done;                 /* guint64 */
  GArray *total;                /* guint64 */
  GCancellable *cancel;         /* cancelled when done reaches cancel_at */
  guint64 cancel_at;
} Progress;

static void
on_progress (guint64 done, guint64 total, gpointer user_data)
{
  Progress *p = user_data;

  g_array_append_val (p->done, done);
  g_array_append_val (p->total, total);
  if (p->cancel && done >= p->cancel_at)
    g_cancellable_cancel (p->cancel);
}

static void
progress_init (Progress * p)
{
  memset (p, 0, sizeof (*p));
  p->done = g_array_new (FALSE, FALSE, sizeof (guint64));
  p->total = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
progress_clear (Progress * p)
{
  g_array_unref (p->done);
  g_array_unref (p->total);
  g_clear_object (&p->cancel);
}

#define DONE(p, i) g_array_index ((p)->done, guint64, (i))
#define TOTAL(p, i) g_array_index ((p)->total, guint64, (i))

static GstMemmapFrames *
map_full (const gchar * cache, guint64 start, guint64 count,
    GstMemmapFramesFlags flags, GCancellable * cancel, Progress * p,
    GError ** error)
{
  return gst_memmap_engine_map_video_frames_full
      (gst_memmap_engine_get_default (), clip, start, count, "GRAY8", cache,
      flags, cancel, p ? on_progress : NULL, p, error);
}

/* SHA-256 of every file of the cache directory's entries (store files and
 * metadata), by name */
static GHashTable *
cache_sums (const gchar * dir, GHashTable * sums)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (sums == NULL)
    sums = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fail_unless (d != NULL, "%s", dir);
  while ((name = g_dir_read_name (d))) {
    gchar *path = g_build_filename (dir, name, NULL);
    gchar *data;
    gsize len;

    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      cache_sums (path, sums);
    } else if (g_str_has_suffix (name, ".store")) {
      fail_unless (g_file_get_contents (path, &data, &len, NULL));
      g_hash_table_insert (sums, g_strdup (path),
          g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guint8 *) data,
              len));
      g_free (data);
    }
    g_free (path);
  }
  g_dir_close (d);
  return sums;
}

static void
assert_same_sums (GHashTable * a, GHashTable * b)
{
  GHashTableIter it;
  gpointer k, v;

  fail_unless (g_hash_table_size (a) > 0, "no store in the cache");
  fail_unless_equals_int (g_hash_table_size (a), g_hash_table_size (b));
  g_hash_table_iter_init (&it, a);
  while (g_hash_table_iter_next (&it, &k, &v))
    fail_unless_equals_string (v, g_hash_table_lookup (b, k));
}

/* The line of /proc/self/maps whose range holds @addr, or NULL */
static gchar *
maps_line_of (gconstpointer addr)
{
  gchar *maps = NULL, **lines, *found = NULL;
  guint i;

  fail_unless (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (i = 0; lines[i] && !found; i++) {
    guint64 lo, hi;

    if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x",
            &lo, &hi) == 2 && lo <= (guintptr) addr && (guintptr) addr < hi)
      found = g_strdup (lines[i]);
  }
  g_strfreev (lines);
  g_free (maps);
  return found;
}

GST_START_TEST (test_copy_on_write)
{
  gchar *cache = frames_test_new_cache_dir ("cow");
  GstMemmapFrames *frames, *again;
  GHashTable *before, *after;
  GstStructure *stats;
  GstMemory *mem;
  GError *error = NULL;
  gsize size;
  guint8 *w, *orig;
  gchar *line;

  /* read-only by default */
  frames = gst_memmap_map_video_frames_full (gst_memmap_engine_get_default (),
      clip, 0, 0, "GRAY8", cache, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  fail_if (gst_memmap_frames_is_copy_on_write (frames));
  fail_unless (gst_memmap_frames_get_writable_data (frames, 3) == NULL);
  mem = gst_buffer_peek_memory (gst_memmap_frames_get_buffer (frames, 3), 0);
  fail_unless (GST_MEMORY_IS_READONLY (mem));
  size = gst_memmap_frames_get_frame_size (frames);
  orig = g_memdup2 (gst_memmap_frames_get_data (frames, 3), size);
  g_object_unref (frames);
  before = cache_sums (cache, NULL);

  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_COPY_ON_WRITE, NULL,
      NULL, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), N_FRAMES);
  fail_unless (gst_memmap_frames_is_copy_on_write (frames));
  fail_unless (gst_memmap_frames_is_zero_copy (frames));
  w = gst_memmap_frames_get_writable_data (frames, 3);
  fail_unless (w != NULL && w == gst_memmap_frames_get_data (frames, 3));
  fail_unless (memcmp (w, orig, size) == 0, "a new view of frame 3 differs");

  /* the memory: writable memmap memory of a private mapping of the store */
  mem = gst_buffer_peek_memory (gst_memmap_frames_get_buffer (frames, 3), 0);
  fail_unless (gst_is_memmap_memory (mem));
  fail_if (GST_MEMORY_IS_READONLY (mem));
  fail_unless (gst_memmap_mapping_is_copy_on_write
      (gst_memmap_memory_get_mapping (mem)));
  line = maps_line_of (w);
  fail_unless (line != NULL, "frame 3 at %p is in no mapping", w);
  fail_unless (strstr (line, " rw-p ") != NULL, "not a private writable "
      "mapping: %s", line);
  fail_unless (g_str_has_suffix (line, gst_memmap_frames_get_path (frames,
              3)), "not a mapping of the store %s: %s",
      gst_memmap_frames_get_path (frames, 3), line);
  g_free (line);

  /* nothing copied yet; then a write copies the pages written */
  stats = gst_memmap_frames_get_stats (frames);
  fail_unless_equals_uint64 (stats_get (stats, "private-bytes"), 0);
  gst_structure_free (stats);
  memset (w, 0xAA, size);
  w[size - 1] = 0x55;
  gst_memmap_frames_get_writable_data (frames, 4)[0] ^= 0xFF;
  stats = gst_memmap_frames_get_stats (frames);
  fail_unless (stats_get (stats, "private-bytes") >= size - 4096,
      "%" GST_PTR_FORMAT, stats);
  gst_structure_free (stats);
  stats = gst_memmap_engine_get_stats (gst_memmap_engine_get_default ());
  fail_unless (stats_get (stats, "cow-maps") >= 1);
  fail_unless (stats_get (stats, "cow-private-bytes") >= size - 4096);
  gst_structure_free (stats);
  /* seen through these frames */
  fail_unless_equals_int (gst_memmap_frames_get_data (frames, 3)[0], 0xAA);
  fail_unless_equals_int (gst_memmap_frames_get_data (frames, 3)[size - 1],
      0x55);

  /* a new call (read-only, or copy-on-write) maps the store's bytes */
  again = map_full (cache, 3, 2, GST_MEMMAP_FRAMES_NONE, NULL, NULL, &error);
  fail_unless (again != NULL, "%s", error ? error->message : "");
  fail_unless (memcmp (gst_memmap_frames_get_data (again, 0), orig, size) ==
      0, "the store's frame 3 changed");
  g_object_unref (again);
  again = map_full (cache, 3, 1, GST_MEMMAP_FRAMES_COPY_ON_WRITE, NULL, NULL,
      &error);
  fail_unless (again != NULL, "%s", error ? error->message : "");
  fail_unless (memcmp (gst_memmap_frames_get_data (again, 0), orig, size) ==
      0, "a second copy-on-write view sees the first one's write");
  g_object_unref (again);
  g_object_unref (frames);

  /* not a byte of the cache's stores changed */
  after = cache_sums (cache, NULL);
  assert_same_sums (before, after);
  stats = gst_memmap_engine_get_stats (gst_memmap_engine_get_default ());
  fail_unless_equals_uint64 (stats_get (stats, "cow-maps"), 0);
  gst_structure_free (stats);

  g_hash_table_unref (before);
  g_hash_table_unref (after);
  g_free (orig);
  g_free (cache);
}

GST_END_TEST;

/* Another program truncates the store under copy-on-write frames: the
 * kernel drops every page past the new end, written (private) ones too;
 * touching one raises SIGBUS, which the engine's fault guard turns into a
 * zero page, and gst_memmap_frames_check() says so. Pages before the cut
 * keep what was written. */
GST_START_TEST (test_copy_on_write_truncated)
{
  gchar *cache = frames_test_new_cache_dir ("cowcut");
  GstMemmapFrames *frames;
  GError *error = NULL;
  const gchar *path;
  guint8 *head, *tail;
  gsize size;

  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_COPY_ON_WRITE, NULL,
      NULL, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  size = gst_memmap_frames_get_frame_size (frames);
  path = gst_memmap_frames_get_path (frames, N_FRAMES - 1);
  fail_unless_equals_string (path, gst_memmap_frames_get_path (frames, 0));
  head = gst_memmap_frames_get_writable_data (frames, 0);
  tail = gst_memmap_frames_get_writable_data (frames, N_FRAMES - 1);
  memset (head, 0x11, size);
  memset (tail, 0x22, size);
  fail_unless (gst_memmap_frames_check (frames, NULL));

  fail_unless (truncate (path, gst_memmap_frames_get_file_offset (frames,
              N_FRAMES - 1)) == 0);
  /* past the cut: the written page is gone, the guard maps zeros */
  fail_unless_equals_int (tail[0], 0);
  fail_unless_equals_int (tail[size - 1], 0);
  /* before it: the written bytes */
  fail_unless_equals_int (head[0], 0x11);
  fail_unless_equals_int (head[size - 1], 0x11);
  fail_if (gst_memmap_frames_check (frames, &error));
  fail_unless (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED), "%s", error ? error->message : "");
  g_clear_error (&error);
  g_object_unref (frames);
  g_free (cache);
}

GST_END_TEST;

static void
check_progress (Progress * p, guint64 end)
{
  guint i;

  fail_unless (p->done->len >= 1);
  for (i = 0; i < p->done->len; i++) {
    if (i > 0)
      fail_unless (DONE (p, i) >= DONE (p, i - 1), "call %u: %"
          G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT, i, DONE (p, i),
          DONE (p, i - 1));
    fail_unless (TOTAL (p, i) == 0 || DONE (p, i) <= TOTAL (p, i));
  }
  i = p->done->len - 1;
  fail_unless_equals_uint64 (DONE (p, i), end);
  fail_unless_equals_uint64 (TOTAL (p, i), end);
}

GST_START_TEST (test_progress)
{
  gchar *cache = frames_test_new_cache_dir ("progress");
  GstMemmapFrames *frames;
  GError *error = NULL;
  Progress p;
  guint i;

  /* a range: the total is its end from the first call on */
  progress_init (&p);
  frames = map_full (cache, 10, 30, GST_MEMMAP_FRAMES_NONE, NULL, &p, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  /* reported while decoding, not only at the end (how often depends on
   * how the waiter keeps up with the decoder) */
  fail_unless (p.done->len >= 2 && DONE (&p, 0) < 40, "%u progress calls "
      "for 40 frames, the first at %" G_GUINT64_FORMAT, p.done->len,
      p.done->len ? DONE (&p, 0) : 0);
  for (i = 0; i < p.done->len; i++)
    fail_unless_equals_uint64 (TOTAL (&p, i), 40);
  check_progress (&p, 40);
  g_object_unref (frames);
  progress_clear (&p);

  /* to the end: an estimate, then the frames there are */
  progress_init (&p);
  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_NONE, NULL, &p, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), N_FRAMES);
  fail_unless (p.done->len >= 2 && DONE (&p, 0) < N_FRAMES);
  check_progress (&p, N_FRAMES);
  g_object_unref (frames);
  progress_clear (&p);

  /* from the cache, nothing decoded: one call, at the end */
  progress_init (&p);
  frames = map_full (cache, 5, 20, GST_MEMMAP_FRAMES_NONE, NULL, &p, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (p.done->len, 1);
  check_progress (&p, 25);
  g_object_unref (frames);
  progress_clear (&p);
  g_free (cache);
}

GST_END_TEST;

GST_START_TEST (test_cancel)
{
  gchar *cache = frames_test_new_cache_dir ("cancel"), *ref_cache =
      frames_test_new_cache_dir ("ref");
  GstMemmapFrames *frames, *ref;
  GstStructure *stats;
  GError *error = NULL;
  Progress p;
  gsize size;
  guint i;

  /* already cancelled: fails at once, nothing reported */
  progress_init (&p);
  p.cancel = g_cancellable_new ();
  g_cancellable_cancel (p.cancel);
  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_NONE, p.cancel, &p, &error);
  fail_unless (frames == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&error);
  fail_unless_equals_int (p.done->len, 0);
  progress_clear (&p);

  /* cancelled from the progress callback after 10 frames */
  progress_init (&p);
  p.cancel = g_cancellable_new ();
  p.cancel_at = 10;
  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_COPY_ON_WRITE, p.cancel,
      &p, &error);
  fail_unless (frames == NULL, "the call was not cancelled");
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error ? error->message : "no error");
  fail_unless (strstr (error->message, clip) != NULL, "%s", error->message);
  g_clear_error (&error);
  /* it stopped there: no progress reported after the report that
   * cancelled (the first at 10 or more: a waiter on a GCond may see
   * several frames at one wake-up) */
  fail_unless (p.done->len > 0 && DONE (&p, p.done->len - 1) >= 10);
  fail_unless (p.done->len == 1 || DONE (&p, p.done->len - 2) < 10,
      "progress went on after the cancel at %" G_GUINT64_FORMAT,
      DONE (&p, p.done->len - 2));
  progress_clear (&p);

  /* the next call gives every frame, as one never cancelled does, and
   * records only those the cancelled call had not committed */
  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_NONE, NULL, NULL, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  stats = gst_memmap_frames_get_stats (frames);
  fail_unless (stats_get (stats, "frames-recorded") <= N_FRAMES - 10,
      "the frames committed before the cancel were recorded again: %"
      GST_PTR_FORMAT, stats);
  gst_structure_free (stats);
  ref = map_full (ref_cache, 0, 0, GST_MEMMAP_FRAMES_NONE, NULL, NULL, &error);
  fail_unless (ref != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), N_FRAMES);
  fail_unless_equals_int (gst_memmap_frames_get_n_frames (ref), N_FRAMES);
  size = gst_memmap_frames_get_frame_size (ref);
  fail_unless_equals_uint64 (gst_memmap_frames_get_frame_size (frames), size);
  for (i = 0; i < N_FRAMES; i++) {
    fail_unless (memcmp (gst_memmap_frames_get_data (frames, i),
            gst_memmap_frames_get_data (ref, i), size) == 0,
        "frame %u differs after a cancelled call", i);
    fail_unless_equals_uint64 (gst_memmap_frames_get_pts (frames, i),
        gst_memmap_frames_get_pts (ref, i));
  }
  fail_unless (gst_memmap_frames_check (frames, NULL));
  g_object_unref (frames);
  g_object_unref (ref);
  g_free (cache);
  g_free (ref_cache);
}

GST_END_TEST;

/* A canceller thread: waits until the progress callback (in the calling
 * thread) has seen @at frames, then cancels from its own thread while the
 * pipeline's streaming thread is still recording. */
typedef struct
{
  GMutex lock;
  GCond cond;
  GCancellable *cancel;
  guint64 at;
  gboolean reached, cancelled;
} Canceller;

static void
on_progress_wake (guint64 done, guint64 total, gpointer user_data)
{
  Canceller *c = user_data;

  g_mutex_lock (&c->lock);
  if (done >= c->at && !c->reached) {
    c->reached = TRUE;
    g_cond_broadcast (&c->cond);
    /* the call goes on only once the other thread has cancelled */
    while (!c->cancelled)
      g_cond_wait (&c->cond, &c->lock);
  }
  g_mutex_unlock (&c->lock);
}

static gpointer
canceller_thread (gpointer data)
{
  Canceller *c = data;

  g_mutex_lock (&c->lock);
  while (!c->reached)
    g_cond_wait (&c->cond, &c->lock);
  g_mutex_unlock (&c->lock);
  g_cancellable_cancel (c->cancel);
  g_mutex_lock (&c->lock);
  c->cancelled = TRUE;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
  return NULL;
}

/* Cancelled from another thread (the GCancellable's handler posts on the
 * pipeline's bus from there): the call fails with G_IO_ERROR_CANCELLED,
 * and the next one gives every frame. Under tests/tsan.sh this is the
 * cross-thread cancel's race check. */
GST_START_TEST (test_cancel_other_thread)
{
  gchar *cache = frames_test_new_cache_dir ("cancel-thread");
  GstMemmapFrames *frames;
  GError *error = NULL;
  Canceller c;
  GThread *t;

  memset (&c, 0, sizeof (c));
  g_mutex_init (&c.lock);
  g_cond_init (&c.cond);
  c.cancel = g_cancellable_new ();
  c.at = 5;
  t = g_thread_new ("canceller", canceller_thread, &c);
  frames = gst_memmap_engine_map_video_frames_full
      (gst_memmap_engine_get_default (), clip, 0, 0, "GRAY8", cache,
      GST_MEMMAP_FRAMES_COPY_ON_WRITE, c.cancel, on_progress_wake, &c, &error);
  g_thread_join (t);
  fail_unless (c.reached, "no progress reported");
  fail_unless (frames == NULL, "the call was not cancelled");
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error ? error->message : "no error");
  g_clear_error (&error);

  frames = map_full (cache, 0, 0, GST_MEMMAP_FRAMES_NONE, NULL, NULL, &error);
  fail_unless (frames != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (gst_memmap_frames_get_n_frames (frames), N_FRAMES);
  fail_unless (gst_memmap_frames_check (frames, NULL));
  g_object_unref (frames);
  g_object_unref (c.cancel);
  g_mutex_clear (&c.lock);
  g_cond_clear (&c.cond);
  g_free (cache);
}

GST_END_TEST;

static Suite *
frameswrite_suite (void)
{
  Suite *s = suite_create ("memmap-frames-write");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_unchecked_fixture (tc, setup_clip, teardown_clip);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_copy_on_write);
  tcase_add_test (tc, test_copy_on_write_truncated);
  tcase_add_test (tc, test_progress);
  tcase_add_test (tc, test_cancel);
  tcase_add_test (tc, test_cancel_other_thread);
  return s;
}

GST_CHECK_MAIN (frameswrite);
