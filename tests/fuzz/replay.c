/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replays the seeds and the regressions of one fuzz target through the
 * target's own code, as a normal gst-check test (no libFuzzer, the leaks
 * tracer on): every file of tests/fuzz/corpus/TARGET/ and
 * tests/fuzz/regressions/TARGET/ must go through without a crash, a
 * critical, a warning or a leak. Built once per target with
 * -DFUZZ_TARGET_NAME="TARGET" and the target's source (meson.build).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#undef GST_CHECK_TEST_ENVIRONMENT_BEACON
#define GST_CHECK_TEST_ENVIRONMENT_BEACON "MEMMAP_BUILD_ROOT"

#include <gst/check/gstcheck.h>

#include "fuzz-common.h"

gboolean fuzz_replay_mode = TRUE;

static gchar *
target_dir (const gchar * kind)
{
  const gchar *root = g_getenv ("MEMMAP_SOURCE_ROOT");

  fail_unless (root != NULL, "MEMMAP_SOURCE_ROOT is not set");
  return g_build_filename (root, "tests", "fuzz", kind, FUZZ_TARGET_NAME, NULL);
}

/* Replays every regular file of @dir (sorted); returns how many. */
static guint
replay_dir (const gchar * dir, gboolean must_exist)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  guint i, n = 0;

  if (d == NULL) {
    fail_if (must_exist, "no directory %s", dir);
    g_ptr_array_unref (names);
    return 0;
  }
  while ((name = g_dir_read_name (d)) != NULL) {
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  }
  g_dir_close (d);
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);

  for (i = 0; i < names->len; i++) {
    gchar *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
    gchar *data = NULL;
    gsize len = 0;
    GError *err = NULL;

    if (g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      fail_unless (g_file_get_contents (path, &data, &len, &err),
          "%s: %s", path, err ? err->message : "?");
      /* says which input it was if the target aborts */
      g_print ("replay %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
      LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
      g_free (data);
      n++;
    }
    g_free (path);
  }
  g_ptr_array_unref (names);
  return n;
}

GST_START_TEST (test_replay_corpus)
{
  gchar *dir = target_dir ("corpus");
  guint n = replay_dir (dir, TRUE);

  fail_unless (n > 0, "no seeds in %s", dir);
  g_print ("%u seeds of %s replayed\n", n, FUZZ_TARGET_NAME);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_replay_regressions)
{
  gchar *dir = target_dir ("regressions");
  guint n = replay_dir (dir, FALSE);

  g_print ("%u regressions of %s replayed\n", n, FUZZ_TARGET_NAME);
  g_free (dir);
}

GST_END_TEST;

/* the empty input and a few truncations of each seed: the cheapest
 * corruptions, and the ones a crashed copy or download leaves */
GST_START_TEST (test_replay_truncated)
{
  gchar *dir = target_dir ("corpus");
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;

  fail_unless (d != NULL);
  LLVMFuzzerTestOneInput ((const uint8_t *) "", 0);
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *path = g_build_filename (dir, name, NULL);
    gchar *data = NULL;
    gsize len = 0, cut;

    if (name[0] != '.' && g_file_get_contents (path, &data, &len, NULL)) {
      for (cut = 1; cut < len; cut = cut * 2 + 4093) {
        LLVMFuzzerTestOneInput ((const uint8_t *) data, len - cut);
        n++;
      }
      g_free (data);
    }
    g_free (path);
  }
  g_dir_close (d);
  g_print ("%u truncated inputs of %s replayed\n", n, FUZZ_TARGET_NAME);
  g_free (dir);
}

GST_END_TEST;

static Suite *
replay_suite (void)
{
  Suite *s = suite_create ("fuzz-replay-" FUZZ_TARGET_NAME);
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_replay_corpus);
  tcase_add_test (tc, test_replay_regressions);
  tcase_add_test (tc, test_replay_truncated);
  return s;
}

GST_CHECK_MAIN (replay);
