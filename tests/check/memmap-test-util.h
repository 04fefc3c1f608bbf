/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the check tests of tests/check/libs, elements and generic share: the
 * test's own temporary directory (made by the fixture's setup, removed with
 * all it holds by its teardown), paths in it, and the suite of one test case
 * "general" that most of them register their tests in.
 *
 * Also: the checksum of a frame (memmap-frame-checksum.h, which fails the
 * test here when the buffer is not a frame) and a function run in a forked
 * child.
 *
 * Include it once, from the test's only source file: it defines `tmpdir`,
 * the directory of the running test (NULL outside setup and teardown).
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>

#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memmap-frame-checksum.h"

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
