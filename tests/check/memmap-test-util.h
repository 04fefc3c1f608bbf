/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the check tests of tests/check/libs, elements and generic share: the
 * test's own temporary directory (made by the fixture's setup, removed with
 * all it holds by its teardown), paths in it, and the suite of one test case
 * "general" that most of them register their tests in.
 *
 * Also: the checksum of a frame (memmap-frame-checksum.h, which fails the
 * test here when the buffer is not a frame), a function run in a forked
 * child, pipelines run to their end, error messages checked with
 * gst-check's gst_check_message_error(), element stats, and frame stores
 * written and read back with the pattern of store-pattern.h.
 *
 * Include it once, from the test's only source file: it defines `tmpdir`,
 * the directory of the running test (NULL outside setup and teardown).
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/memmap/memmap.h>
#include <glib/gstdio.h>

#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memmap-frame-checksum.h"
#include "store-pattern.h"

static gchar *tmpdir;

/* Removes @path and, for a directory, everything below it. Symbolic links
 * are removed, never followed; a directory a test made unreadable is given
 * its owner's rights back first. A @path that does not exist is no error. */
static inline void
memmap_test_remove_tree (const gchar * path)
{
  struct stat st;
  GDir *dir;
  const gchar *name;

  if (lstat (path, &st) != 0)
    return;
  if (!S_ISDIR (st.st_mode)) {
    g_unlink (path);
    return;
  }

  chmod (path, 0700);
  dir = g_dir_open (path, 0, NULL);
  if (dir) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      gchar *child = g_build_filename (path, name, NULL);

      memmap_test_remove_tree (child);
      g_free (child);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

/* Makes a fresh `tmpdir`, named @prefix-XXXXXX, in the system's temporary
 * directory; for the fixture's setup. */
static inline void
memmap_test_make_tmpdir (const gchar * prefix)
{
  gchar *tmpl = g_strconcat (prefix, "-XXXXXX", NULL);
  GError *err = NULL;

  tmpdir = g_dir_make_tmp (tmpl, &err);
  g_free (tmpl);
  fail_unless (tmpdir != NULL, "%s", err ? err->message : "?");
}

/* Removes `tmpdir` with all it holds; for the fixture's teardown. */
static inline void
memmap_test_remove_tmpdir (void)
{
  if (tmpdir)
    memmap_test_remove_tree (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

/* A new path for @name in `tmpdir` */
static inline gchar *
test_path (const gchar * name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* A suite @name of one test case "general" (returned in @tc), each of its
 * tests run between @setup and @teardown in the test's process. */
static inline Suite *
memmap_test_suite_new (const gchar * name, SFun setup, SFun teardown,
    TCase ** tc)
{
  Suite *s = suite_create (name);

  *tc = tcase_create ("general");
  suite_add_tcase (s, *tc);
  tcase_add_checked_fixture (*tc, setup, teardown);
  return s;
}

/* A test case that cannot run on this machine (@why says what is missing)
 * skips visibly: it prints "SKIPPED: @test: @why" on stderr, which meson's
 * log shows whatever the debug level. Under CI=true it fails instead: a CI
 * machine is set up to run every case, so a skip there hides a lost test.
 * The caller returns after it. (A whole test program skips with exit
 * status 77, meson's skip status.) */
static inline void
memmap_test_skip (const gchar * test, const gchar * why)
{
  fail_if (g_strcmp0 (g_getenv ("CI"), "true") == 0,
      "%s cannot run here, and CI=true: %s", test, why);
  g_printerr ("SKIPPED: %s: %s\n", test, why);
}

/* The checksum of @buffer as a frame of @info (memmap_frame_checksum());
 * fails the test if it is not one. Free with g_free(). */
static inline gchar *
memmap_test_frame_checksum (const GstVideoInfo * info, GstBuffer * buffer)
{
  gchar *sum = memmap_frame_checksum (info, buffer);

  fail_unless (sum != NULL, "the buffer is not a frame of %s %dx%d",
      GST_VIDEO_INFO_NAME (info), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info));
  return sum;
}

/* As memmap_test_frame_checksum() for a frame of @caps. */
static inline gchar *
memmap_test_frame_checksum_caps (GstCaps * caps, GstBuffer * buffer)
{
  GstVideoInfo info;

  fail_unless (caps != NULL && gst_video_info_from_caps (&info, caps));
  return memmap_test_frame_checksum (&info, buffer);
}

/* Runs @func (@data, @result) in a forked child and copies the
 * @result_size bytes the child left at @result back into the caller's
 * @result (which the child starts from as the caller set it). Fails the
 * test if the child dies of a signal, does not exit 0 or does not report.
 * The result travels through a pipe, not the exit status: under valgrind
 * the child's own leak check at exit would replace the status. The child
 * ends with _exit(): no atexit handlers, leak checks or tracer reports of
 * the child. */
static inline void
memmap_test_run_in_child (void (*func) (gpointer data, gpointer result),
    gpointer data, gpointer result, gsize result_size)
{
  gint fds[2], status = 0;
  pid_t pid;

  fail_unless_equals_int (pipe (fds), 0);
  pid = fork ();
  fail_unless (pid >= 0);
  if (pid == 0) {
    close (fds[0]);
    func (data, result);
    if (write (fds[1], result, result_size) != (gssize) result_size)
      _exit (1);
    _exit (0);
  }
  close (fds[1]);
  fail_unless_equals_int (waitpid (pid, &status, 0), pid);
  fail_if (WIFSIGNALED (status), "the child was killed by signal %d (%s)",
      WTERMSIG (status), g_strsignal (WTERMSIG (status)));
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "the child exited with status 0x%x", status);
  fail_unless_equals_int (read (fds[0], result, result_size),
      (gssize) result_size);
  close (fds[0]);
}

/* ------------------------------------------------------------------------ */
/* pipelines and their messages                                             */

/* A pipeline from a gst-launch description; fails the test if it does not
 * parse. */
static inline GstElement *
parse_pipeline (const gchar * format, ...) G_GNUC_PRINTF (1, 2);

static inline GstElement *
parse_pipeline (const gchar * format, ...)
{
  GError *error = NULL;
  GstElement *pipeline;
  va_list args;
  gchar *desc;

  va_start (args, format);
  desc = g_strdup_vprintf (format, args);
  va_end (args);
  pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &error);
  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  g_free (desc);
  return pipeline;
}

/* Plays @pipeline until its EOS or error message, which it returns (unref
 * it), and sets it back to NULL; fails the test if neither comes within two
 * minutes. */
static inline GstMessage *
run_pipeline (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "the pipeline neither ended nor failed");
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);

  return msg;
}

/* Fails the test, saying what the error was, if @msg is an error
 * message. */
static inline void
memmap_test_fail_on_error (GstMessage * msg)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *error = NULL;
    gchar *debug = NULL;

    gst_message_parse_error (msg, &error, &debug);
    fail ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
        error->message, debug);
  }
}

/* Plays @pipeline to its EOS (run_pipeline()); fails the test
 * on an error. */
static inline void
run_to_eos (GstElement * pipeline)
{
  GstMessage *msg = run_pipeline (pipeline);

  memmap_test_fail_on_error (msg);
  gst_message_unref (msg);
}

/* Checks @msg as fail_unless_message_error() does (an error of @domain and
 * @code), and that its text holds @in_text and its debug string @in_debug
 * (NULL: not checked). @msg stays the caller's. */
static inline void
memmap_test_check_error (GstMessage * msg, GQuark domain, gint code,
    const gchar * in_text, const gchar * in_debug)
{
  GError *error = NULL;
  gchar *debug = NULL;

  fail_unless (msg != NULL, "no error message");
  gst_check_message_error (msg, GST_MESSAGE_ERROR, domain, code);
  gst_message_parse_error (msg, &error, &debug);
  GST_INFO ("%s (%s)", error->message, debug);
  if (in_text)
    fail_unless (strstr (error->message, in_text) != NULL,
        "'%s' does not say '%s'", error->message, in_text);
  if (in_debug)
    fail_unless (debug != NULL && strstr (debug, in_debug) != NULL,
        "'%s' does not say '%s'", debug, in_debug);
  g_clear_error (&error);
  g_free (debug);
}

/* The read-only stats property of @element, a structure named @name. Free
 * it with gst_structure_free(). */
static inline GstStructure *
memmap_test_get_stats (GstElement * element, const gchar * name)
{
  GstStructure *stats = NULL;

  g_object_get (element, "stats", &stats, NULL);
  fail_unless (stats != NULL);
  fail_unless (gst_structure_has_name (stats, name), "%" GST_PTR_FORMAT
      " is not %s", stats, name);
  return stats;
}

/* The guint64 field @field of @stats; fails the test if there is none. */
static inline guint64
stats_get (const GstStructure * stats, const gchar * field)
{
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (stats, field, &v), "no %s in %"
      GST_PTR_FORMAT, field, stats);
  return v;
}

/* ------------------------------------------------------------------------ */
/* files and stores                                                         */

/* Whether the test runs under valgrind (the valgrind test setup sets
 * MEMMAP_UNDER_VALGRIND): what takes minutes there is cut short, and the
 * truncation tests do not run (valgrind does not pass a SIGBUS of a
 * truncated mapping on to the program's handler: it reports the access
 * and ends the process). */
static inline gboolean
memmap_test_under_valgrind (void)
{
  return g_getenv ("MEMMAP_UNDER_VALGRIND") != NULL;
}

/* Cuts @path to @size bytes in another process (truncate(1)), as another
 * program would. */
static inline void
memmap_test_truncate_elsewhere (const gchar * path, guint64 size)
{
  gchar *size_str = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  const gchar *argv[] = { "truncate", "-s", size_str, path, NULL };
  GError *err = NULL;
  gint status = -1;
  struct stat st;

  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &err),
      "truncate: %s", err ? err->message : "?");
  fail_unless (g_spawn_check_wait_status (status, NULL));
  fail_unless (stat (path, &st) == 0);
  fail_unless_equals_uint64 ((guint64) st.st_size, size);
  g_free (size_str);
}

/* A reader of the store at @path; fails the test if it does not open. */
static inline GstMemmapStoreReader *
memmap_test_open_store (GstMemmapEngine * engine, const gchar * path)
{
  GError *err = NULL;
  GstMemmapStoreReader *r = gst_memmap_store_reader_open (engine, path, &err);

  fail_unless (r != NULL, "open %s: %s", path, err ? err->message : "?");
  return r;
}

/* Commits frame @f of the pattern (store_fill_frame()) into @w with pts
 * @f ms, a duration of 1 ms and @flags; FALSE with @error set when the
 * writer refuses (the slot is released). Fails no test itself: usable in
 * a child process under resource limits. */
static inline gboolean
memmap_test_write_pattern_frame (GstMemmapStoreWriter * w,
    const GstVideoInfo * info, guint64 f, guint32 flags, GError ** error)
{
  GstMemory *mem;
  GstMapInfo map;
  guint64 slot;

  if (!gst_memmap_store_writer_acquire_slot (w, &slot, error))
    return FALSE;
  mem = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, error);
  if (mem == NULL) {
    gst_memmap_store_writer_release_slot (w, slot);
    return FALSE;
  }
  if (!gst_memory_map (mem, &map, GST_MAP_WRITE)) {
    gst_memory_unref (mem);
    gst_memmap_store_writer_release_slot (w, slot);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO, "map failed");
    return FALSE;
  }
  store_fill_frame (map.data, info, f);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);
  if (!gst_memmap_store_writer_commit (w, slot, f * GST_MSECOND, GST_MSECOND,
          flags, error)) {
    gst_memmap_store_writer_release_slot (w, slot);
    return FALSE;
  }
  return TRUE;
}

/* Reads every frame of the store at @path with an engine of its own and
 * checks that frame f holds the pattern of frame f (store_check_frame());
 * returns how many frames the store holds. */
static inline guint64
memmap_test_check_store (const gchar * path)
{
  GstMemmapEngine *e = gst_memmap_engine_new ();
  GstMemmapStoreReader *rd = memmap_test_open_store (e, path);
  const GstVideoInfo *layout = gst_memmap_store_reader_get_layout (rd);
  guint64 n = gst_memmap_store_reader_get_committed (rd);
  GError *err = NULL;
  guint64 f;

  for (f = 0; f < n; f++) {
    GstBuffer *buf = gst_memmap_store_reader_get_buffer (rd, NULL, f, &err);
    GstMapInfo map;

    fail_unless (buf != NULL, "frame %" G_GUINT64_FORMAT ": %s", f,
        err ? err->message : "?");
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    fail_unless (store_check_frame (map.data, layout, f),
        "frame %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " is damaged", f,
        n);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  gst_memmap_store_reader_unref (rd);
  gst_memmap_engine_clear_all (e);
  gst_object_unref (e);
  return n;
}
