/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a store path can and cannot be made to do (docs/reliability.md,
 * "Security"): the writer never opens, truncates or grows a file other
 * than its own — not through a link planted at its temporary name, not
 * through a symbolic link at the store's path, not after the path was
 * pointed elsewhere while it writes — while a symbolic link the user gives
 * to a reader is followed as asked. Stores are created with the user's
 * umask. A FIFO at the path never blocks anyone.
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
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "../store-pattern.h"

#define KIB (G_GUINT64_CONSTANT (1024))

static GstMemmapEngine *engine;

static void
setup (void)
{
  gst_memmap_init ();
  memmap_test_make_tmpdir ("memmap-security");
  engine = gst_memmap_engine_new ();
}

static void
teardown (void)
{
  gst_memmap_engine_clear_all (engine);
  gst_clear_object (&engine);
  memmap_test_remove_tmpdir ();
}

/* A file the writer must never touch, and its content. */
#define VICTIM_TEXT "precious data that no frame store may overwrite\n"

static gchar *
make_victim (void)
{
  gchar *path = test_path ("victim");

  fail_unless (g_file_set_contents (path, VICTIM_TEXT, -1, NULL));
  return path;
}

static void
assert_victim_intact (const gchar * path)
{
  gchar *data = NULL;
  gsize len = 0;
  struct stat st;

  fail_unless (lstat (path, &st) == 0 && S_ISREG (st.st_mode));
  fail_unless (g_file_get_contents (path, &data, &len, NULL));
  fail_unless_equals_int ((gint) len, (gint) strlen (VICTIM_TEXT));
  fail_unless_equals_string (data, VICTIM_TEXT);
  g_free (data);
}

static GstMemmapStoreWriter *
new_writer (const gchar * path, GstVideoInfo * info, guint64 chunk_bytes,
    GstMemmapStoreWriterFlags flags, GError ** error)
{
  GstMemmapStoreWriter *w;
  GstCaps *caps;

  gst_video_info_set_format (info, GST_VIDEO_FORMAT_GRAY8, 64, 64);
  caps = gst_video_info_to_caps (info);
  w = gst_memmap_store_writer_new_full (engine, path, caps, info,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, chunk_bytes, flags, error);
  gst_caps_unref (caps);
  return w;
}

static gboolean
write_frame (GstMemmapStoreWriter * w, const GstVideoInfo * info, guint64 f,
    GError ** error)
{
  return memmap_test_write_pattern_frame (w, info, f, 0, error);
}

/* Debug messages of the library, to see what the writer did. */
static GString *memmap_log;

static void
log_func (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  if (g_str_has_prefix (gst_debug_category_get_name (category), "memmap")) {
    g_string_append (memmap_log, gst_debug_message_get (message));
    g_string_append_c (memmap_log, '\n');
  }
}

/* ------------------------------------------------------------------------ */

/* Something planted at the very name the writer draws for its temporary
 * file (the name is random: the test makes GLib's generator predictable to
 * know it) is left alone, and another name is drawn. */
static void
planted_temp_case (gboolean symlink_not_hardlink)
{
  gchar *path = test_path ("planted.store");
  gchar *victim = make_victim ();
  gchar *planted;
  GstMemmapStoreWriter *w;
  GstVideoInfo info;
  GError *err = NULL;
  guint32 r1, r2;

  g_random_set_seed (4242);
  r1 = g_random_int ();
  r2 = g_random_int ();
  planted = g_strdup_printf ("%s.tmp-%u-%08x%08x", path, (guint) getpid (),
      r1, r2);
  if (symlink_not_hardlink) {
    fail_unless_equals_int (symlink (victim, planted), 0);
  } else {
    fail_unless_equals_int (link (victim, planted), 0);
  }

  memmap_log = g_string_new (NULL);
  gst_debug_set_threshold_for_name ("memmap", GST_LEVEL_WARNING);
  gst_debug_add_log_function (log_func, NULL, NULL);
  g_random_set_seed (4242);
  w = new_writer (path, &info, 0, GST_MEMMAP_STORE_WRITER_FLAG_NONE, &err);
  gst_debug_remove_log_function (log_func);
  gst_debug_unset_threshold_for_name ("memmap");

  fail_unless (w != NULL, "%s", err ? err->message : "?");
  /* the writer did meet the planted name (else this test tests nothing) */
  fail_unless (strstr (memmap_log->str, "drawing another name") != NULL,
      "the writer did not draw the predicted name: %s", memmap_log->str);
  fail_unless (write_frame (w, &info, 0, NULL));
  gst_memmap_store_writer_unref (w);

  assert_victim_intact (victim);
  /* the planted link is still there, untouched */
  fail_unless (g_file_test (planted, G_FILE_TEST_EXISTS |
          G_FILE_TEST_IS_SYMLINK));
  fail_unless_equals_uint64 (memmap_test_check_store (path), 1);

  g_string_free (memmap_log, TRUE);
  unlink (planted);
  g_free (planted);
  g_free (victim);
  g_free (path);
}

GST_START_TEST (test_planted_hardlink_at_temp_name)
{
  planted_temp_case (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_planted_symlink_at_temp_name)
{
  planted_temp_case (TRUE);
}

GST_END_TEST;

/* A symbolic link at the store's path is replaced by the new store, never
 * followed: with or without reuse, even when it points to a store the
 * writer could reuse. */
GST_START_TEST (test_symlink_at_path_replaced)
{
  gchar *path = test_path ("link.store");
  gchar *victim = make_victim ();
  gchar *other = test_path ("other.store");
  GstMemmapStoreWriterFlags flags[] = { GST_MEMMAP_STORE_WRITER_FLAG_NONE,
    GST_MEMMAP_STORE_WRITER_FLAG_REUSE
  };
  GstMemmapStoreWriter *w;
  GstVideoInfo info;
  struct stat st;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (flags); i++) {
    /* to a plain file */
    fail_unless_equals_int (symlink (victim, path), 0);
    w = new_writer (path, &info, 0, flags[i], NULL);
    fail_unless (w != NULL);
    fail_unless (write_frame (w, &info, 0, NULL));
    gst_memmap_store_writer_unref (w);
    assert_victim_intact (victim);
    fail_unless (lstat (path, &st) == 0 && S_ISREG (st.st_mode));
    unlink (path);

    /* to a store of the same layout, which REUSE would overwrite */
    w = new_writer (other, &info, 0, GST_MEMMAP_STORE_WRITER_FLAG_NONE, NULL);
    fail_unless (w != NULL);
    fail_unless (write_frame (w, &info, 0, NULL));
    fail_unless (write_frame (w, &info, 1, NULL));
    gst_memmap_store_writer_unref (w);
    fail_unless_equals_int (symlink (other, path), 0);
    w = new_writer (path, &info, 0, flags[i], NULL);
    fail_unless (w != NULL);
    fail_if (gst_memmap_store_writer_was_reused (w));
    gst_memmap_store_writer_unref (w);
    /* the other store keeps its two frames */
    fail_unless_equals_uint64 (memmap_test_check_store (other), 2);
    fail_unless (lstat (path, &st) == 0 && S_ISREG (st.st_mode));
    unlink (path);
    unlink (other);
  }
  g_free (other);
  g_free (victim);
  g_free (path);
}

GST_END_TEST;

/* The store's path is pointed at another file while the writer grows the
 * store: the writer goes on with its own file or fails with an error; the
 * other file is never grown or written. */
GST_START_TEST (test_path_swapped_while_writing)
{
  gchar *path = test_path ("swap.store");
  gchar *moved = test_path ("moved.store");
  gchar *victim = make_victim ();
  GstMemmapStoreWriter *w;
  GstVideoInfo info;
  GError *err = NULL;
  guint64 f, written = 0;

  /* 4 KiB slots, one per chunk: every frame reserves a new chunk */
  w = new_writer (path, &info, 4 * KIB, GST_MEMMAP_STORE_WRITER_FLAG_NONE,
      NULL);
  fail_unless (w != NULL);
  fail_unless (write_frame (w, &info, 0, NULL));
  written = 1;

  fail_unless_equals_int (rename (path, moved), 0);
  fail_unless_equals_int (symlink (victim, path), 0);
  for (f = 1; f < 8; f++) {
    if (!write_frame (w, &info, f, &err)) {
      fail_unless (err != NULL && err->domain == GST_MEMMAP_ERROR);
      GST_INFO ("after the swap: %s", err->message);
      g_clear_error (&err);
      break;
    }
    written++;
  }
  gst_memmap_store_writer_unref (w);

  assert_victim_intact (victim);
  fail_unless_equals_uint64 (memmap_test_check_store (moved), written);
  g_print ("path swapped for a symbolic link while writing: %" G_GUINT64_FORMAT
      " of 8 frames went on into the writer's own file\n", written);

  g_free (victim);
  g_free (moved);
  g_free (path);
}

GST_END_TEST;

/* A reader follows a symbolic link the user gave it, to a store or through
 * a linked directory; so does a writer given a path through a linked
 * directory. */
GST_START_TEST (test_symlinks_the_user_gives)
{
  gchar *real_dir = test_path ("real");
  gchar *link_dir = test_path ("linked");
  gchar *store = g_build_filename (real_dir, "s.store", NULL);
  gchar *via_dir = g_build_filename (link_dir, "s.store", NULL);
  gchar *link_file = test_path ("s-link.store");
  GstMemmapStoreWriter *w;
  GstVideoInfo info;

  fail_unless_equals_int (mkdir (real_dir, 0700), 0);
  fail_unless_equals_int (symlink (real_dir, link_dir), 0);
  w = new_writer (via_dir, &info, 0, GST_MEMMAP_STORE_WRITER_FLAG_NONE, NULL);
  fail_unless (w != NULL);
  fail_unless (write_frame (w, &info, 0, NULL));
  fail_unless (write_frame (w, &info, 1, NULL));
  gst_memmap_store_writer_unref (w);
  fail_unless (g_file_test (store, G_FILE_TEST_IS_REGULAR));

  fail_unless_equals_int (symlink (store, link_file), 0);
  fail_unless_equals_uint64 (memmap_test_check_store (link_file), 2);
  fail_unless_equals_uint64 (memmap_test_check_store (via_dir), 2);

  g_free (link_file);
  g_free (via_dir);
  g_free (store);
  g_free (link_dir);
  g_free (real_dir);
}

GST_END_TEST;

/* Stores are created 0666 filtered by the process's umask, like any file
 * a GStreamer sink writes (filesink): umask 077 makes them private. */
GST_START_TEST (test_mode_follows_umask)
{
  mode_t masks[] = { 077, 022, 027 };
  mode_t old = umask (022);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (masks); i++) {
    gchar *path = test_path ("mode.store");
    GstMemmapStoreWriter *w;
    GstVideoInfo info;
    struct stat st;

    umask (masks[i]);
    w = new_writer (path, &info, 0, GST_MEMMAP_STORE_WRITER_FLAG_NONE, NULL);
    fail_unless (w != NULL);
    fail_unless_equals_int (stat (path, &st), 0);
    fail_unless_equals_int (st.st_mode & 0777, 0666 & ~masks[i]);
    gst_memmap_store_writer_unref (w);
    unlink (path);
    g_free (path);
  }
  umask (old);
}

GST_END_TEST;

/* A FIFO at the path: the reader refuses it at once, the writer replaces
 * it; nobody waits for a peer that never comes. */
GST_START_TEST (test_fifo_at_path)
{
  gchar *path = test_path ("fifo.store");
  GstMemmapStoreReader *r;
  GstMemmapStoreWriter *w;
  GstVideoInfo info;
  GError *err = NULL;
  struct stat st;

  fail_unless_equals_int (mkfifo (path, 0600), 0);
  alarm (20);                   /* a hang fails the test */
  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r == NULL);
  fail_unless (err != NULL && err->domain == GST_MEMMAP_ERROR);
  g_clear_error (&err);
  w = new_writer (path, &info, 0, GST_MEMMAP_STORE_WRITER_FLAG_REUSE, &err);
  fail_unless (w != NULL, "%s", err ? err->message : "?");
  gst_memmap_store_writer_unref (w);
  alarm (0);
  fail_unless (lstat (path, &st) == 0 && S_ISREG (st.st_mode));
  g_free (path);
}

GST_END_TEST;

/* A reader's session (memmapsrc's ring leases) sizes its lease from the
 * header it validated, not from the shared page, which whoever may write
 * the file can change after the reader checked it: here slots_per_chunk is
 * set below max_frames, which would make 'spare slots' wrap around. */
GST_START_TEST (test_session_uses_validated_header)
{
  gchar *path = test_path ("ring.store");
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *r;
  GstMemmapStoreSession *session;
  GstVideoInfo info;
  GstCaps *caps;
  GstBuffer *a, *b;
  gboolean copied_a = TRUE, copied_b = FALSE;
  guint64 f, hostile = GUINT64_TO_LE (1);
  GError *err = NULL;
  gint fd;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, 64, 64);
  caps = gst_video_info_to_caps (&info);
  /* a ring of 4 frames and 2 spare slots: a lease may span 1 frame */
  w = gst_memmap_store_writer_new_full (engine, path, caps, &info,
      GST_MEMMAP_STORE_MODE_RING, 4, 2, 0, GST_MEMMAP_STORE_WRITER_FLAG_NONE,
      &err);
  gst_caps_unref (caps);
  fail_unless (w != NULL, "%s", err ? err->message : "?");
  for (f = 0; f < 6; f++)
    fail_unless (write_frame (w, &info, f, NULL));

  r = gst_memmap_store_reader_open (engine, path, &err);
  fail_unless (r != NULL, "%s", err ? err->message : "?");
  /* slots_per_chunk (offset 88) := 1, after the reader validated it */
  fd = open (path, O_WRONLY | O_CLOEXEC);
  fail_unless (fd >= 0);
  fail_unless_equals_int (pwrite (fd, &hostile, 8, 88), 8);
  close (fd);

  session = gst_memmap_store_session_new (r, &err);
  fail_unless (session != NULL, "%s", err ? err->message : "?");
  fail_unless (gst_memmap_store_session_has_lease (session));
  a = gst_memmap_store_session_get_buffer (session, r, NULL, 4, &copied_a,
      NULL);
  b = gst_memmap_store_session_get_buffer (session, r, NULL, 5, &copied_b,
      NULL);
  fail_unless (a != NULL && b != NULL);
  /* the first is leased; a lease over frames 4..5 would be wider than the
   * 2 spare slots allow: the second is copied */
  fail_if (copied_a);
  fail_unless (copied_b, "the session trusted slots_per_chunk from the "
      "shared header");
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_memmap_store_session_unref (session);
  gst_memmap_store_reader_unref (r);
  gst_memmap_store_writer_unref (w);
  g_free (path);
}

GST_END_TEST;

static Suite *
security_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-security", setup, teardown, &tc);

  tcase_add_test (tc, test_planted_hardlink_at_temp_name);
  tcase_add_test (tc, test_planted_symlink_at_temp_name);
  tcase_add_test (tc, test_symlink_at_path_replaced);
  tcase_add_test (tc, test_path_swapped_while_writing);
  tcase_add_test (tc, test_symlinks_the_user_gives);
  tcase_add_test (tc, test_mode_follows_umask);
  tcase_add_test (tc, test_fifo_at_path);
  tcase_add_test (tc, test_session_uses_validated_header);
  return s;
}

GST_CHECK_MAIN (security);
