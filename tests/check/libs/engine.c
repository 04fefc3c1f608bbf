/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of GstMemmapEngine: cache, windows, budget, errors, threads. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/memmap/memmap.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define KIB (G_GUINT64_CONSTANT (1024))
#define MIB (1024 * KIB)

static guint64 page_size;

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

/* The known content of test file @id at @pos. */
static inline guint8
pattern_byte (guint id, guint64 pos)
{
  guint64 x = pos * G_GUINT64_CONSTANT (2654435761) + id * 97;

  return (guint8) (x ^ (x >> 13) ^ (pos >> 9));
}

/* Writes a file of @size bytes with pattern @id and returns its path. */
static gchar *
make_file (const gchar * name, guint id, guint64 size)
{
  gchar *path = test_path (name);
  guint8 *buf = g_malloc (64 * KIB);
  guint64 pos = 0;
  gint fd;

  fd = open (path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  fail_unless (fd >= 0, "open %s: %s", path, g_strerror (errno));
  while (pos < size) {
    gsize n = (gsize) MIN (64 * KIB, size - pos);
    gsize i;

    for (i = 0; i < n; i++)
      buf[i] = pattern_byte (id, pos + i);
    fail_unless_equals_int64 (write (fd, buf, n), (gint64) n);
    pos += n;
  }
  fail_unless_equals_int (close (fd), 0);
  g_free (buf);

  return path;
}

static gboolean
check_pattern (const guint8 * data, guint id, guint64 pos, gsize size)
{
  gsize i;

  for (i = 0; i < size; i++)
    if (data[i] != pattern_byte (id, pos + i))
      return FALSE;
  return TRUE;
}

static guint64
stat_get (GstMemmapEngine * engine, const gchar * field)
{
  GstStructure *s = gst_memmap_engine_get_stats (engine);
  guint64 v = G_MAXUINT64;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no field %s", field);
  gst_structure_free (s);
  return v;
}

/* An engine with a given budget and window, everything mmapped. */
static GstMemmapEngine *
engine_with (guint64 budget, guint64 window)
{
  GstMemmapEngine *engine = gst_memmap_engine_new ();

  g_object_set (engine, "max-mapped-bytes", budget, "window-size", window,
      "read-threshold", G_GUINT64_CONSTANT (0), NULL);
  return engine;
}

static void
assert_error (GError * err, GstMemmapError code, const gchar * path)
{
  fail_unless (err != NULL);
  fail_unless (err->domain == GST_MEMMAP_ERROR, "domain %s",
      g_quark_to_string (err->domain));
  fail_unless_equals_int (err->code, code);
  fail_unless (strstr (err->message, path) != NULL,
      "message '%s' does not name '%s'", err->message, path);
  GST_INFO ("expected error: %s", err->message);
}

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmap-engine");
  page_size = (guint64) sysconf (_SC_PAGESIZE);
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

/* A child's function: returns 0 when it passed, else a failure number. */
typedef struct
{
  gint (*func) (gpointer);
  gpointer data;
} ChildCall;

static void
child_call (gpointer call, gpointer result)
{
  ChildCall *c = call;

  *(guint8 *) result = (guint8) c->func (c->data);
}

/* Runs @func in a forked child (memmap_test_run_in_child()) and returns
 * what it returned (0 = passed). The child reports failures with
 * g_printerr and a non-zero result. */
static gint
run_in_child (gint (*func) (gpointer), gpointer data)
{
  ChildCall call = { func, data };
  guint8 result = 0xff;

  memmap_test_run_in_child (child_call, &call, &result, sizeof (result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

GST_START_TEST (test_new_and_default)
{
  GstMemmapEngine *engine, *def;
  guint64 v, budget;
  GstStructure *stats = NULL;

  engine = gst_memmap_engine_new ();
  fail_unless (GST_IS_MEMMAP_ENGINE (engine));
  fail_if (g_object_is_floating (engine));
  ASSERT_OBJECT_REFCOUNT (engine, "engine", 1);

  def = gst_memmap_engine_get_default ();
  fail_unless (GST_IS_MEMMAP_ENGINE (def));
  fail_unless (def == gst_memmap_engine_get_default ());
  fail_unless (def != engine);

  /* defaults */
  fail_unless_equals_uint64 (gst_memmap_engine_get_window_size (engine),
      64 * MIB);
  budget = gst_memmap_engine_get_max_mapped_bytes (engine);
  fail_unless (budget >= page_size);
  fail_unless_equals_uint64 (budget % page_size, 0);
  g_object_get (engine, "read-threshold", &v, NULL);
  fail_unless_equals_uint64 (v, 512 * KIB);

  /* window-size is rounded up to pages */
  g_object_set (engine, "window-size", G_GUINT64_CONSTANT (5000), NULL);
  fail_unless_equals_uint64 (gst_memmap_engine_get_window_size (engine),
      2 * page_size);
  g_object_set (engine, "window-size", G_MAXUINT64, NULL);
  fail_unless_equals_uint64 (gst_memmap_engine_get_window_size (engine) %
      page_size, 0);
  g_object_set (engine, "max-mapped-bytes", 3 * MIB, NULL);
  fail_unless_equals_uint64 (gst_memmap_engine_get_max_mapped_bytes (engine),
      3 * MIB);

  g_object_get (engine, "stats", &stats, NULL);
  fail_unless (stats != NULL);
  fail_unless (gst_structure_has_name (stats, "memmap-engine-stats"));
  fail_unless (gst_structure_get_uint64 (stats, "max-mapped-bytes", &v));
  fail_unless_equals_uint64 (v, 3 * MIB);
  gst_structure_free (stats);

  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_map_file)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *path = make_file ("a", 1, 100 * KIB + 7);
  GstMemmapMapping *m, *m2;
  struct stat st, fst;
  guint8 *data;

  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  data = gst_memmap_mapping_get_data (m);
  fail_unless (data != NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 100 * KIB + 7);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m), 0);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_file_size (m),
      100 * KIB + 7);
  fail_unless_equals_string (gst_memmap_mapping_get_path (m), path);
  fail_if (gst_memmap_mapping_is_writable (m));
  fail_unless (gst_memmap_mapping_is_mmapped (m));
  fail_unless (check_pattern (data, 1, 0, 100 * KIB + 7));

  /* the fd is the file's */
  fail_unless (gst_memmap_mapping_get_fd (m) >= 0);
  fail_unless_equals_int (fstat (gst_memmap_mapping_get_fd (m), &fst), 0);
  fail_unless_equals_int (stat (path, &st), 0);
  fail_unless (st.st_ino == fst.st_ino && st.st_dev == fst.st_dev);

  /* data_at */
  fail_unless (gst_memmap_mapping_data_at (m, 0, 1) == data);
  fail_unless (gst_memmap_mapping_data_at (m, 5000, 10) == data + 5000);
  fail_unless (gst_memmap_mapping_data_at (m, 100 * KIB, 7) ==
      data + 100 * KIB);
  fail_unless (gst_memmap_mapping_data_at (m, 100 * KIB, 8) == NULL);
  fail_unless (gst_memmap_mapping_data_at (m, 100 * KIB + 8, 0) == NULL);
  fail_unless (gst_memmap_mapping_data_at (m, 1, G_MAXUINT64) == NULL);
  fail_unless (gst_memmap_mapping_data_at (m, G_MAXUINT64, 2) == NULL);

  /* ref/unref */
  m2 = gst_memmap_mapping_ref (m);
  fail_unless (m2 == m);
  gst_memmap_mapping_unref (m2);
  fail_unless_equals_uint64 (stat_get (engine, "in-use-maps"), 1);
  gst_memmap_mapping_unref (m);
  fail_unless_equals_uint64 (stat_get (engine, "in-use-maps"), 0);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 1);

  /* the boxed type */
  fail_unless (G_TYPE_IS_BOXED (GST_TYPE_MEMMAP_MAPPING));

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_cache_hit)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *path = make_file ("a", 2, 300 * KIB);
  GstMemmapMapping *m, *m2;
  guint8 *data;
  guint64 time_ns, total;

  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  data = gst_memmap_mapping_get_data (m);
  fail_unless_equals_uint64 (stat_get (engine, "maps"), 1);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 1);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 0);
  time_ns = stat_get (engine, "map-time-ns");
  total = stat_get (engine, "bytes-mapped-total");
  fail_unless_equals_uint64 (total, 300 * KIB);
  fail_unless (time_ns > 0);

  /* while held */
  m2 = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m2 == m);
  gst_memmap_mapping_unref (m2);
  gst_memmap_mapping_unref (m);

  /* from the LRU */
  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  fail_unless (gst_memmap_mapping_get_data (m) == data);
  fail_unless_equals_uint64 (stat_get (engine, "maps"), 3);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 2);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 1);
  /* no mapping work was done on the hits */
  fail_unless_equals_uint64 (stat_get (engine, "map-time-ns"), time_ns);
  fail_unless_equals_uint64 (stat_get (engine, "bytes-mapped-total"), total);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 1);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 2, 0,
          300 * KIB));

  /* a range inside the same (whole-file) window is the same mapping */
  m2 = gst_memmap_engine_map_range (engine, path, 1000, 2000,
      GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m2 == m);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 3);
  gst_memmap_mapping_unref (m2);
  gst_memmap_mapping_unref (m);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_changed_file_is_miss)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *path = make_file ("a", 3, 200 * KIB);
  GstMemmapMapping *m;
  struct timespec times[2];
  gchar *tmp;

  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  gst_memmap_mapping_unref (m);

  /* rewritten with another size (same inode) */
  g_free (make_file ("a", 4, 220 * KIB));
  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 2);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 0);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 220 * KIB);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 4, 0,
          220 * KIB));
  gst_memmap_mapping_unref (m);

  /* same size, only the mtime touched */
  times[0].tv_sec = 1000000000;
  times[0].tv_nsec = 0;
  times[1] = times[0];
  fail_unless_equals_int (utimensat (AT_FDCWD, path, times, 0), 0);
  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 3);
  gst_memmap_mapping_unref (m);

  /* replaced by another file (a new inode) with the same size and mtime */
  tmp = make_file ("b", 5, 220 * KIB);
  fail_unless_equals_int (utimensat (AT_FDCWD, tmp, times, 0), 0);
  fail_unless_equals_int (rename (tmp, path), 0);
  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 4);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 5, 0,
          220 * KIB));
  gst_memmap_mapping_unref (m);

  /* unchanged: a hit */
  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 1);
  gst_memmap_mapping_unref (m);

  g_free (tmp);
  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_errors)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *missing = test_path ("missing");
  gchar *dir = test_path ("dir");
  gchar *fifo = test_path ("fifo");
  gchar *empty = make_file ("empty", 0, 0);
  gchar *path = make_file ("a", 6, 100 * KIB);
  GError *err = NULL;

  fail_unless_equals_int (mkdir (dir, 0755), 0);
  fail_unless_equals_int (mkfifo (fifo, 0644), 0);

  /* missing file */
  fail_unless (gst_memmap_engine_map_file (engine, missing,
          GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_NOT_FOUND, missing);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, missing, 0, 1,
          GST_MEMMAP_MAP_WRITE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_NOT_FOUND, missing);
  g_clear_error (&err);
  fail_if (gst_memmap_engine_reserve_file (engine, missing, 4096, &err));
  assert_error (err, GST_MEMMAP_ERROR_NOT_FOUND, missing);
  g_clear_error (&err);

  /* a directory */
  fail_unless (gst_memmap_engine_map_file (engine, dir, GST_MEMMAP_MAP_NONE,
          &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_IS_DIRECTORY, dir);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, dir, 0, 1,
          GST_MEMMAP_MAP_WRITE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_IS_DIRECTORY, dir);
  g_clear_error (&err);
  fail_if (gst_memmap_engine_reserve_file (engine, dir, 4096, &err));
  assert_error (err, GST_MEMMAP_ERROR_IS_DIRECTORY, dir);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_create_file (engine, dir, 4096, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_IS_DIRECTORY, dir);
  g_clear_error (&err);
  fail_unless (g_file_test (dir, G_FILE_TEST_IS_DIR));

  /* not a regular file */
  fail_unless (gst_memmap_engine_map_file (engine, fifo, GST_MEMMAP_MAP_NONE,
          &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, fifo);
  g_clear_error (&err);

  /* an empty file */
  fail_unless (gst_memmap_engine_map_file (engine, empty, GST_MEMMAP_MAP_NONE,
          &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_EMPTY_FILE, empty);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, empty, 0, 1,
          GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_EMPTY_FILE, empty);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_file (engine, empty,
          GST_MEMMAP_MAP_WRITE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_EMPTY_FILE, empty);
  g_clear_error (&err);

  /* absurd ranges */
  fail_unless (gst_memmap_engine_map_range (engine, path, 100 * KIB, 1,
          GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  fail_unless (strstr (err->message, "102400") != NULL, "%s", err->message);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, path, 100, 100 * KIB,
          GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, path, 1, G_MAXUINT64,
          GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, path, G_MAXUINT64, 2,
          GST_MEMMAP_MAP_WRITE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_map_range (engine, path, 10, 0,
          GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_create_file (engine, path, 0, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  fail_unless (gst_memmap_engine_create_file (engine, path, G_MAXUINT64,
          &err) == NULL);
  fail_unless (err != NULL);
  fail_unless (err->code == GST_MEMMAP_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  fail_if (gst_memmap_engine_reserve_file (engine, path, G_MAXUINT64, &err));
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);
  /* the failed calls did not touch the file */
  {
    GstMemmapMapping *m = gst_memmap_engine_map_file (engine, path,
        GST_MEMMAP_MAP_NONE, NULL);

    fail_unless (m != NULL);
    fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 6, 0,
            100 * KIB));
    gst_memmap_mapping_unref (m);
  }

  /* a symbolic link is not followed by create_file */
  {
    gchar *link = test_path ("link");

    fail_unless_equals_int (symlink (path, link), 0);
    fail_unless (gst_memmap_engine_create_file (engine, link, 4096, &err) ==
        NULL);
    fail_unless (err != NULL);
    fail_unless (strstr (err->message, link) != NULL);
    g_clear_error (&err);
    g_free (link);
  }

  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 1);
  fail_unless_equals_uint64 (stat_get (engine, "in-use-maps"), 0);

  g_free (missing);
  g_free (dir);
  g_free (fifo);
  g_free (empty);
  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

/* In an unprivileged process: a file it may not read or write. */
static gint
permission_child (gpointer data)
{
  const gchar *path = data;
  GstMemmapEngine *engine;
  GError *err = NULL;
  gint ret = 0;

  if (geteuid () == 0) {
    if (setgid (65534) < 0 || setuid (65534) < 0) {
      g_printerr ("cannot drop privileges: %s\n", g_strerror (errno));
      return 10;
    }
  }

  engine = engine_with (64 * MIB, 1 * MIB);
  if (gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, &err)
      || err == NULL || err->code != GST_MEMMAP_ERROR_PERMISSION_DENIED
      || strstr (err->message, path) == NULL) {
    g_printerr ("map_file: %s\n", err ? err->message : "no error");
    ret = 1;
  }
  g_clear_error (&err);
  if (gst_memmap_engine_map_range (engine, path, 0, 10, GST_MEMMAP_MAP_WRITE,
          &err) || err == NULL
      || err->code != GST_MEMMAP_ERROR_PERMISSION_DENIED) {
    g_printerr ("map_range: %s\n", err ? err->message : "no error");
    ret = 2;
  }
  g_clear_error (&err);
  if (gst_memmap_engine_reserve_file (engine, path, 8192, &err) ||
      err == NULL || err->code != GST_MEMMAP_ERROR_PERMISSION_DENIED) {
    g_printerr ("reserve_file: %s\n", err ? err->message : "no error");
    ret = 3;
  }
  g_clear_error (&err);
  gst_object_unref (engine);

  return ret;
}

GST_START_TEST (test_permission_denied)
{
  gchar *path = make_file ("secret", 7, 4 * KIB);

  /* as root, chmod 000 does not deny: the check runs in a child that drops
   * to uid/gid 65534 (nobody), for which the 0000 file is unreadable */
  fail_unless_equals_int (chmod (tmpdir, 0755), 0);
  fail_unless_equals_int (chmod (path, 0000), 0);
  fail_unless_equals_int (run_in_child (permission_child, path), 0);
  fail_unless_equals_int (chmod (path, 0644), 0);

  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_over_budget)
{
  GstMemmapEngine *engine = engine_with (1 * MIB, 256 * KIB);
  gchar *path = make_file ("big", 8, 2 * MIB);
  gchar *newpath = test_path ("new");
  GstMemmapMapping *m;
  GError *err = NULL;

  fail_unless (gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE,
          &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_OVER_BUDGET, path);
  fail_unless (strstr (err->message, "window") != NULL, "%s", err->message);
  g_clear_error (&err);

  /* a range whose span is larger than the budget */
  fail_unless (gst_memmap_engine_map_range (engine, path, 100,
          1 * MIB + 1, GST_MEMMAP_MAP_NONE, &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_OVER_BUDGET, path);
  g_clear_error (&err);

  /* create_file refuses before creating anything */
  fail_unless (gst_memmap_engine_create_file (engine, newpath, 2 * MIB,
          &err) == NULL);
  assert_error (err, GST_MEMMAP_ERROR_OVER_BUDGET, newpath);
  g_clear_error (&err);
  fail_if (g_file_test (newpath, G_FILE_TEST_EXISTS));

  /* a window-size larger than the budget is cut to the budget */
  g_object_set (engine, "window-size", 8 * MIB, NULL);
  m = gst_memmap_engine_map_range (engine, path, 1 * MIB + 5, 10,
      GST_MEMMAP_MAP_NONE, &err);
  fail_unless (m != NULL, "%s", err ? err->message : "");
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m), 1 * MIB);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 1 * MIB);
  gst_memmap_mapping_unref (m);

  fail_unless_equals_uint64 (stat_get (engine, "over-budget"), 0);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 1);

  g_free (path);
  g_free (newpath);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_over_budget_when_all_in_use)
{
  GstMemmapEngine *engine = engine_with (128 * KIB, 64 * KIB);
  gchar *path = make_file ("a", 9, 512 * KIB);
  GstMemmapMapping *m[3];
  guint i;

  for (i = 0; i < 3; i++) {
    m[i] = gst_memmap_engine_map_range (engine, path, i * 64 * KIB, 10,
        GST_MEMMAP_MAP_NONE, NULL);
    fail_unless (m[i] != NULL);
  }
  /* the third did not fit while the others were held: mapped anyway */
  fail_unless_equals_uint64 (stat_get (engine, "over-budget"), 1);
  fail_unless_equals_uint64 (stat_get (engine, "mapped-bytes"), 192 * KIB);
  fail_unless_equals_uint64 (stat_get (engine, "peak-mapped-bytes"), 192 * KIB);
  for (i = 0; i < 3; i++)
    fail_unless (check_pattern (gst_memmap_mapping_get_data (m[i]), 9,
            i * 64 * KIB, 64 * KIB));

  /* released: the engine gets back under the budget */
  for (i = 0; i < 3; i++)
    gst_memmap_mapping_unref (m[i]);
  fail_unless (stat_get (engine, "mapped-bytes") <= 128 * KIB);
  fail_unless_equals_uint64 (stat_get (engine, "evictions"), 1);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

/* In a child limited to 1 MiB files: posix_fallocate fails with EFBIG. */
static gint
no_space_child (gpointer data)
{
  struct rlimit rl = { 1 * MIB, 1 * MIB };
  GstMemmapEngine *engine;
  GstMemmapMapping *m;
  gchar *newpath = test_path ("new");
  gchar *small = test_path ("small");
  GError *err = NULL;
  gint ret = 0;

  signal (SIGXFSZ, SIG_IGN);
  if (setrlimit (RLIMIT_FSIZE, &rl) < 0)
    return 10;

  engine = engine_with (64 * MIB, 1 * MIB);

  m = gst_memmap_engine_create_file (engine, newpath, 4 * MIB, &err);
  if (m != NULL || err == NULL || err->code != GST_MEMMAP_ERROR_NO_SPACE ||
      strstr (err->message, newpath) == NULL ||
      strstr (err->message, "4194304") == NULL) {
    g_printerr ("create_file: %s\n", err ? err->message : "no error");
    ret = 1;
  } else if (g_file_test (newpath, G_FILE_TEST_EXISTS)) {
    g_printerr ("create_file left %s behind\n", newpath);
    ret = 2;
  }
  g_clear_error (&err);

  /* within the limit it works */
  m = gst_memmap_engine_create_file (engine, small, 512 * KIB, &err);
  if (m == NULL) {
    g_printerr ("create_file small: %s\n", err->message);
    ret = 3;
  } else {
    gst_memmap_mapping_unref (m);
  }
  g_clear_error (&err);

  if (gst_memmap_engine_reserve_file (engine, small, 2 * MIB, &err) ||
      err == NULL || err->code != GST_MEMMAP_ERROR_NO_SPACE ||
      strstr (err->message, small) == NULL) {
    g_printerr ("reserve_file: %s\n", err ? err->message : "no error");
    ret = 4;
  }
  g_clear_error (&err);
  if (!gst_memmap_engine_reserve_file (engine, small, 1 * MIB, &err)) {
    g_printerr ("reserve_file 1 MiB: %s\n", err->message);
    ret = 5;
  }
  g_clear_error (&err);

  gst_object_unref (engine);
  g_free (newpath);
  g_free (small);
  return ret;
}

GST_START_TEST (test_no_space)
{
  gchar *small = test_path ("small");
  struct stat st;

  fail_unless_equals_int (run_in_child (no_space_child, NULL), 0);
  fail_unless_equals_int (stat (small, &st), 0);
  fail_unless_equals_int64 (st.st_size, 1 * MIB);
  g_free (small);
}

GST_END_TEST;

/* In a child whose address space is nearly full: a new window only fits
 * once the cached ones are unmapped. */
static gint
enomem_child (gpointer data)
{
  const gchar *path = data;
  GstMemmapEngine *engine = engine_with (1024 * MIB, 8 * MIB);
  GstMemmapMapping *m;
  struct rlimit rl;
  gchar *statm = NULL;
  guint64 vm_pages = 0;
  GError *err = NULL;
  guint k;
  gint ret = 0;

  for (k = 0; k < 4; k++) {
    m = gst_memmap_engine_map_range (engine, path, k * 8 * MIB, 1,
        GST_MEMMAP_MAP_NONE, NULL);
    if (m == NULL)
      return 10;
    gst_memmap_mapping_unref (m);
  }

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    return 11;
  vm_pages = g_ascii_strtoull (statm, NULL, 10);
  g_free (statm);
  /* room for half a window more than what is mapped now */
  rl.rlim_cur = rl.rlim_max = vm_pages * page_size + 4 * MIB;
  if (setrlimit (RLIMIT_AS, &rl) < 0)
    return 12;

  m = gst_memmap_engine_map_range (engine, path, 4 * 8 * MIB, 1,
      GST_MEMMAP_MAP_NONE, &err);
  if (m == NULL) {
    g_printerr ("map after ENOMEM: %s\n", err->message);
    g_clear_error (&err);
    ret = 1;
  } else {
    if (!check_pattern (gst_memmap_mapping_get_data (m), 21, 4 * 8 * MIB,
            8 * MIB))
      ret = 2;
    gst_memmap_mapping_unref (m);
  }
  /* the 4 cached windows were evicted for the retry */
  if (stat_get (engine, "evictions") != 4)
    ret = 3;
  gst_object_unref (engine);
  return ret;
}

GST_START_TEST (test_enomem_evicts_and_retries)
{
  gchar *path = make_file ("a", 21, 40 * MIB);

  /* valgrind manages the address space itself: RLIMIT_AS means nothing
   * there */
  if (!memmap_test_under_valgrind ())
    fail_unless_equals_int (run_in_child (enomem_child, path), 0);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_deferred_unmap)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *path = make_file ("a", 10, 200 * KIB);
  gchar *other = make_file ("b", 11, 200 * KIB);
  GstMemmapMapping *m, *m2, *o;

  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  o = gst_memmap_engine_map_file (engine, other, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL && o != NULL);
  gst_memmap_mapping_unref (o);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 2);

  /* held: only doomed */
  fail_unless_equals_int (gst_memmap_engine_unmap (engine, path), 1);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 2);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 10, 0,
          200 * KIB));
  fail_unless_equals_int (gst_memmap_engine_unmap (engine, path), 0);

  /* no new hits on a doomed mapping */
  m2 = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m2 != NULL && m2 != m);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 0);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 3);

  gst_memmap_mapping_unref (m);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 2);
  fail_unless_equals_uint64 (stat_get (engine, "mapped-bytes"), 400 * KIB);

  /* clear_all: the unreferenced one goes now, the held one later */
  gst_memmap_engine_clear_all (engine);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 1);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m2), 10, 0,
          200 * KIB));
  gst_memmap_mapping_unref (m2);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 0);
  fail_unless_equals_uint64 (stat_get (engine, "mapped-bytes"), 0);

  /* unmap of an unreferenced mapping is immediate; a deleted file is found
   * by its path */
  o = gst_memmap_engine_map_file (engine, other, GST_MEMMAP_MAP_NONE, NULL);
  gst_memmap_mapping_unref (o);
  fail_unless_equals_int (unlink (other), 0);
  fail_unless_equals_int (gst_memmap_engine_unmap (engine, other), 1);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 0);
  fail_unless_equals_uint64 (stat_get (engine, "evictions"), 0);

  g_free (path);
  g_free (other);
  gst_object_unref (engine);
}

GST_END_TEST;

static GstMemmapMapping *
map_window (GstMemmapEngine * engine, const gchar * path, guint k)
{
  GstMemmapMapping *m = gst_memmap_engine_map_range (engine, path,
      k * 64 * KIB + 1, 100, GST_MEMMAP_MAP_NONE, NULL);

  fail_unless (m != NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m), k * 64 * KIB);
  return m;
}

GST_START_TEST (test_lru_order)
{
  GstMemmapEngine *engine = engine_with (3 * 64 * KIB, 64 * KIB);
  gchar *path = make_file ("a", 12, 1 * MIB);
  GstMemmapMapping *held;
  guint k;

  for (k = 0; k < 3; k++)
    gst_memmap_mapping_unref (map_window (engine, path, k));
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 3);

  /* use 0 again: LRU order (oldest first) is 1, 2, 0 */
  gst_memmap_mapping_unref (map_window (engine, path, 0));
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 1);

  /* 3 evicts 1 */
  gst_memmap_mapping_unref (map_window (engine, path, 3));
  fail_unless_equals_uint64 (stat_get (engine, "evictions"), 1);
  gst_memmap_mapping_unref (map_window (engine, path, 0));
  gst_memmap_mapping_unref (map_window (engine, path, 2));
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 3);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 4);
  /* now 3, 0, 2: 1 is a miss that evicts 3 */
  gst_memmap_mapping_unref (map_window (engine, path, 1));
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 5);
  fail_unless_equals_uint64 (stat_get (engine, "evictions"), 2);
  gst_memmap_mapping_unref (map_window (engine, path, 0));
  gst_memmap_mapping_unref (map_window (engine, path, 2));
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 5);
  gst_memmap_mapping_unref (map_window (engine, path, 3));
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 6);

  /* a held mapping is never evicted: hold 1 (a miss), map 4, 5 and 6 */
  held = map_window (engine, path, 1);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 5);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 7);
  gst_memmap_mapping_unref (map_window (engine, path, 4));
  gst_memmap_mapping_unref (map_window (engine, path, 5));
  gst_memmap_mapping_unref (map_window (engine, path, 6));
  fail_unless (check_pattern (gst_memmap_mapping_get_data (held), 12,
          64 * KIB, 64 * KIB));
  fail_unless_equals_uint64 (stat_get (engine, "over-budget"), 0);
  fail_unless_equals_uint64 (stat_get (engine, "peak-mapped-bytes"),
      3 * 64 * KIB);
  gst_memmap_mapping_unref (held);
  /* 1 was held throughout: still cached */
  gst_memmap_mapping_unref (map_window (engine, path, 1));
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 6);

  /* lowering the budget evicts at once */
  g_object_set (engine, "max-mapped-bytes", 64 * KIB, NULL);
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 1);
  fail_unless_equals_uint64 (stat_get (engine, "mapped-bytes"), 64 * KIB);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_max_mappings)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *paths[4];
  guint i;

  g_object_set (engine, "max-mappings", 2, NULL);
  for (i = 0; i < 4; i++) {
    gchar *name = g_strdup_printf ("f%u", i);

    paths[i] = make_file (name, 20 + i, 8 * KIB);
    g_free (name);
    gst_memmap_mapping_unref (gst_memmap_engine_map_file (engine, paths[i],
            GST_MEMMAP_MAP_NONE, NULL));
  }
  fail_unless_equals_uint64 (stat_get (engine, "active-maps"), 2);
  fail_unless_equals_uint64 (stat_get (engine, "evictions"), 2);
  for (i = 0; i < 4; i++)
    g_free (paths[i]);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_windows)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 256 * KIB);
  guint64 size = 1 * MIB + 5000;
  gchar *path = make_file ("a", 13, size);
  GstMemmapMapping *m;
  guint64 off;

  /* inside window 1 */
  m = gst_memmap_engine_map_range (engine, path, 300 * KIB, 10 * KIB,
      GST_MEMMAP_MAP_NONE, NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m), 256 * KIB);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 256 * KIB);
  fail_unless (check_pattern (gst_memmap_mapping_data_at (m, 300 * KIB,
              10 * KIB), 13, 300 * KIB, 10 * KIB));
  gst_memmap_mapping_unref (m);

  /* the last window is clipped to the file */
  m = gst_memmap_engine_map_range (engine, path, size - 1, 1,
      GST_MEMMAP_MAP_NONE, NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m), 1 * MIB);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 5000);
  fail_unless (check_pattern (gst_memmap_mapping_data_at (m, size - 1, 1), 13,
          size - 1, 1));
  gst_memmap_mapping_unref (m);

  /* crossing a boundary: the page-aligned span of the range */
  off = 256 * KIB - 100;
  m = gst_memmap_engine_map_range (engine, path, off, 200,
      GST_MEMMAP_MAP_NONE, NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m),
      256 * KIB - page_size);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 2 * page_size);
  fail_unless (check_pattern (gst_memmap_mapping_data_at (m, off, 200), 13,
          off, 200));
  gst_memmap_mapping_unref (m);

  /* crossing into the clipped last window */
  off = 1 * MIB - 10;
  m = gst_memmap_engine_map_range (engine, path, off, 5010,
      GST_MEMMAP_MAP_NONE, NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m),
      1 * MIB - page_size);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), page_size + 5000);
  fail_unless (check_pattern (gst_memmap_mapping_data_at (m, off, 5010), 13,
          off, 5010));
  gst_memmap_mapping_unref (m);

  /* the whole file as a range: larger than one window */
  m = gst_memmap_engine_map_range (engine, path, 0, size, GST_MEMMAP_MAP_NONE,
      NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (m), 0);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), size);
  gst_memmap_mapping_unref (m);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_window_walk)
{
  GstMemmapEngine *engine = engine_with (4 * MIB, 1 * MIB);
  guint64 size = 20 * MIB + 777;
  gchar *path = make_file ("big", 14, size);
  guint64 off, chunk = 300001;
  GError *err = NULL;

  for (off = 0; off < size; off += chunk) {
    guint64 n = MIN (chunk, size - off);
    GstMemmapMapping *m = gst_memmap_engine_map_range (engine, path, off, n,
        GST_MEMMAP_MAP_SEQUENTIAL, &err);
    guint8 *p;

    fail_unless (m != NULL, "%s", err ? err->message : "");
    p = gst_memmap_mapping_data_at (m, off, n);
    fail_unless (p != NULL);
    fail_unless (check_pattern (p, 14, off, n), "bad data at %"
        G_GUINT64_FORMAT, off);
    fail_unless (stat_get (engine, "mapped-bytes") <= 4 * MIB);
    gst_memmap_mapping_unref (m);
  }
  fail_unless (stat_get (engine, "peak-mapped-bytes") <= 4 * MIB);
  fail_unless (stat_get (engine, "evictions") > 0);
  fail_unless_equals_uint64 (stat_get (engine, "over-budget"), 0);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

static void
read_back (const gchar * path, guint64 offset, guint8 * buf, gsize n)
{
  gint fd = open (path, O_RDONLY | O_CLOEXEC);

  fail_unless (fd >= 0);
  fail_unless_equals_int64 (pread (fd, buf, n, (off_t) offset), (gint64) n);
  close (fd);
}

GST_START_TEST (test_write_mapping)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 256 * KIB);
  gchar *path = make_file ("a", 15, 1 * MIB);
  GstMemmapMapping *m, *ro;
  GError *err = NULL;
  guint8 buf[64];
  guint8 *p;

  m = gst_memmap_engine_map_range (engine, path, 300 * KIB, 64,
      GST_MEMMAP_MAP_WRITE, &err);
  fail_unless (m != NULL);
  fail_unless (gst_memmap_mapping_is_writable (m));
  fail_unless (gst_memmap_mapping_is_mmapped (m));
  p = gst_memmap_mapping_data_at (m, 300 * KIB, 64);
  fail_unless (check_pattern (p, 15, 300 * KIB, 64));
  memset (p, 0xab, 64);

  /* a shared mapping: read() sees it before any flush */
  read_back (path, 300 * KIB, buf, 64);
  fail_unless (buf[0] == 0xab && buf[63] == 0xab);

  fail_unless (gst_memmap_mapping_flush (m, 300 * KIB, 64, &err));
  fail_unless (gst_memmap_mapping_flush (m, 0, 0, &err));
  /* a range outside the window */
  fail_if (gst_memmap_mapping_flush (m, 0, 10, &err));
  assert_error (err, GST_MEMMAP_ERROR_INVALID_ARGUMENT, path);
  g_clear_error (&err);

  /* a read-only mapping of the same window is another mapping */
  ro = gst_memmap_engine_map_range (engine, path, 300 * KIB, 64,
      GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (ro != m);
  fail_if (gst_memmap_mapping_is_writable (ro));
  fail_unless (gst_memmap_mapping_data_at (ro, 300 * KIB, 1)[0] == 0xab);
  fail_unless (gst_memmap_mapping_flush (ro, 0, 0, NULL));
  gst_memmap_mapping_unref (ro);

  /* the writable one is cached: a hit */
  gst_memmap_mapping_unref (m);
  m = gst_memmap_engine_map_range (engine, path, 256 * KIB, 1,
      GST_MEMMAP_MAP_WRITE, NULL);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 1);
  gst_memmap_mapping_unref (m);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_create_file)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 256 * KIB);
  gchar *path = test_path ("new");
  GstMemmapMapping *m, *w;
  GError *err = NULL;
  struct stat st;
  guint8 *buf;
  guint64 i;

  m = gst_memmap_engine_create_file (engine, path, 1 * MIB, &err);
  fail_unless (m != NULL, "%s", err ? err->message : "");
  fail_unless (gst_memmap_mapping_is_writable (m));
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 1 * MIB);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_file_size (m), 1 * MIB);
  fail_unless_equals_int (stat (path, &st), 0);
  fail_unless_equals_int64 (st.st_size, 1 * MIB);
  /* reserved, not sparse */
  fail_unless (st.st_blocks * 512 >= (blkcnt_t) (1 * MIB));
  /* mode 0666 & ~umask */
  {
    mode_t mask = umask (0);

    umask (mask);
    fail_unless_equals_int (st.st_mode & 0777, 0666 & ~mask);
  }

  for (i = 0; i < 1 * MIB; i++)
    fail_unless (gst_memmap_mapping_get_data (m)[i] == 0);
  for (i = 0; i < 1 * MIB; i++)
    gst_memmap_mapping_get_data (m)[i] = pattern_byte (16, i);
  fail_unless (gst_memmap_mapping_flush (m, 0, 0, &err));
  fail_unless (gst_memmap_mapping_flush (m, 4097, 3, &err));
  gst_memmap_mapping_unref (m);

  buf = g_malloc (1 * MIB);
  read_back (path, 0, buf, 1 * MIB);
  fail_unless (check_pattern (buf, 16, 0, 1 * MIB));

  /* grow it and write past the old end through a volatile window */
  fail_unless (gst_memmap_engine_reserve_file (engine, path, 2 * MIB, &err));
  fail_unless_equals_int (stat (path, &st), 0);
  fail_unless_equals_int64 (st.st_size, 2 * MIB);
  /* reserve never shrinks */
  fail_unless (gst_memmap_engine_reserve_file (engine, path, 4096, &err));
  fail_unless_equals_int (stat (path, &st), 0);
  fail_unless_equals_int64 (st.st_size, 2 * MIB);
  w = gst_memmap_engine_map_range (engine, path, 1 * MIB + 10, 100,
      GST_MEMMAP_MAP_WRITE | GST_MEMMAP_MAP_VOLATILE, &err);
  fail_unless (w != NULL);
  memset (gst_memmap_mapping_data_at (w, 1 * MIB + 10, 100), 0x5a, 100);
  fail_unless (gst_memmap_mapping_flush (w, 1 * MIB + 10, 100, &err));
  gst_memmap_mapping_unref (w);
  read_back (path, 1 * MIB, buf, 200);
  fail_unless (buf[9] == 0 && buf[10] == 0x5a && buf[109] == 0x5a &&
      buf[110] == 0);

  /* an existing file is truncated first: its old bytes are gone */
  m = gst_memmap_engine_create_file (engine, path, 512 * KIB, &err);
  fail_unless (m != NULL);
  fail_unless_equals_int (stat (path, &st), 0);
  fail_unless_equals_int64 (st.st_size, 512 * KIB);
  for (i = 0; i < 512 * KIB; i++)
    fail_unless (gst_memmap_mapping_get_data (m)[i] == 0);
  gst_memmap_mapping_unref (m);

  g_free (buf);
  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_read_threshold)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 256 * KIB);
  gchar *small = make_file ("small", 17, 10 * KIB + 3);
  GstMemmapMapping *m, *m2;
  struct stat st;

  g_object_set (engine, "read-threshold", 64 * KIB, NULL);

  /* without COPY_SMALL a small file is mapped all the same: it follows
   * later writes to the file */
  m = gst_memmap_engine_map_file (engine, small, GST_MEMMAP_MAP_NONE, NULL);
  fail_unless (m != NULL);
  fail_unless (gst_memmap_mapping_is_mmapped (m));
  fail_unless_equals_uint64 (stat_get (engine, "reads"), 0);
  gst_memmap_mapping_unref (m);

  m = gst_memmap_engine_map_file (engine, small, GST_MEMMAP_MAP_COPY_SMALL,
      NULL);
  fail_unless (m != NULL);
  fail_if (gst_memmap_mapping_is_mmapped (m));
  fail_unless_equals_uint64 (stat_get (engine, "reads"), 1);
  fail_unless_equals_uint64 ((guintptr) gst_memmap_mapping_get_data (m) %
      page_size, 0);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 17, 0,
          10 * KIB + 3));
  fail_unless (gst_memmap_mapping_flush (m, 0, 0, NULL));
  fail_unless (gst_memmap_mapping_get_fd (m) >= 0);
  fail_unless_equals_int (fstat (gst_memmap_mapping_get_fd (m), &st), 0);
  fail_unless_equals_int64 (st.st_size, 10 * KIB + 3);
  gst_memmap_mapping_unref (m);

  /* cached like a mapping, apart from the shared mapping */
  m = gst_memmap_engine_map_range (engine, small, 5, 5,
      GST_MEMMAP_MAP_COPY_SMALL, NULL);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 1);
  fail_unless (check_pattern (gst_memmap_mapping_data_at (m, 5, 5), 17, 5, 5));

  /* writable and volatile ones are always mmapped */
  m2 = gst_memmap_engine_map_file (engine, small, GST_MEMMAP_MAP_WRITE, NULL);
  fail_unless (gst_memmap_mapping_is_mmapped (m2));
  gst_memmap_mapping_unref (m2);
  m2 = gst_memmap_engine_map_file (engine, small, GST_MEMMAP_MAP_VOLATILE,
      NULL);
  fail_unless (gst_memmap_mapping_is_mmapped (m2));
  fail_if (gst_memmap_mapping_is_writable (m2));
  gst_memmap_mapping_unref (m2);
  fail_unless_equals_uint64 (stat_get (engine, "reads"), 1);
  gst_memmap_mapping_unref (m);

  g_free (small);
  gst_object_unref (engine);
}

GST_END_TEST;

GST_START_TEST (test_volatile_growing_file)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 64 * KIB);
  gchar *path = make_file ("grow", 18, 128 * KIB);
  GstMemmapMapping *m;
  gint fd;
  guint8 buf[4096];

  m = gst_memmap_engine_map_range (engine, path, 0, 100,
      GST_MEMMAP_MAP_VOLATILE, NULL);
  gst_memmap_mapping_unref (m);
  m = gst_memmap_engine_map_range (engine, path, 0, 100, GST_MEMMAP_MAP_NONE,
      NULL);
  gst_memmap_mapping_unref (m);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 2);

  /* the file grows */
  memset (buf, 1, sizeof (buf));
  fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  fail_unless (fd >= 0);
  fail_unless_equals_int64 (write (fd, buf, sizeof (buf)), 4096);
  close (fd);

  /* a volatile window that did not change is still a hit */
  m = gst_memmap_engine_map_range (engine, path, 0, 100,
      GST_MEMMAP_MAP_VOLATILE, NULL);
  fail_unless_equals_uint64 (stat_get (engine, "hits"), 1);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_file_size (m), 128 * KIB);
  gst_memmap_mapping_unref (m);
  /* a stable one is a miss */
  m = gst_memmap_engine_map_range (engine, path, 0, 100, GST_MEMMAP_MAP_NONE,
      NULL);
  fail_unless_equals_uint64 (stat_get (engine, "misses"), 3);
  gst_memmap_mapping_unref (m);
  /* the new bytes are in a new window */
  m = gst_memmap_engine_map_range (engine, path, 128 * KIB, 4096,
      GST_MEMMAP_MAP_VOLATILE, NULL);
  fail_unless (m != NULL);
  fail_unless_equals_uint64 (gst_memmap_mapping_get_size (m), 4096);
  fail_unless (gst_memmap_mapping_get_data (m)[4095] == 1);
  gst_memmap_mapping_unref (m);

  g_free (path);
  gst_object_unref (engine);
}

GST_END_TEST;

static void
engine_gone (gpointer data, GObject * where_the_object_was)
{
  *(gboolean *) data = TRUE;
}

GST_START_TEST (test_mapping_keeps_engine)
{
  GstMemmapEngine *engine = engine_with (64 * MIB, 1 * MIB);
  gchar *path = make_file ("a", 19, 100 * KIB);
  gchar *path2 = make_file ("b", 20, 100 * KIB);
  GstMemmapMapping *m, *cached;
  gboolean gone = FALSE;

  cached = gst_memmap_engine_map_file (engine, path2, GST_MEMMAP_MAP_NONE,
      NULL);
  gst_memmap_mapping_unref (cached);
  ASSERT_OBJECT_REFCOUNT (engine, "engine", 1);

  m = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE, NULL);
  ASSERT_OBJECT_REFCOUNT (engine, "engine", 2);
  g_object_weak_ref (G_OBJECT (engine), engine_gone, &gone);
  gst_object_unref (engine);
  fail_if (gone);
  fail_unless (check_pattern (gst_memmap_mapping_get_data (m), 19, 0,
          100 * KIB));
  /* the last reference of the last mapping finalizes the engine, which
   * unmaps the cached one */
  gst_memmap_mapping_unref (m);
  fail_unless (gone);

  g_free (path);
  g_free (path2);
}

GST_END_TEST;

GST_START_TEST (test_context)
{
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstMemmapEngine *got;
  GstContext *ctx, *other;

  ctx = gst_memmap_engine_context_new (engine);
  fail_unless (ctx != NULL);
  fail_unless_equals_string (gst_context_get_context_type (ctx),
      GST_MEMMAP_ENGINE_CONTEXT_TYPE);
  fail_unless (gst_context_is_persistent (ctx));
  ASSERT_OBJECT_REFCOUNT (engine, "engine", 2);

  got = gst_memmap_engine_from_context (ctx);
  fail_unless (got == engine);
  ASSERT_OBJECT_REFCOUNT (engine, "engine", 3);
  gst_object_unref (got);

  other = gst_context_new ("something.else", TRUE);
  fail_unless (gst_memmap_engine_from_context (other) == NULL);
  gst_context_unref (other);
  /* the right type without the field */
  other = gst_context_new (GST_MEMMAP_ENGINE_CONTEXT_TYPE, TRUE);
  fail_unless (gst_memmap_engine_from_context (other) == NULL);
  gst_context_unref (other);

  gst_context_unref (ctx);
  ASSERT_OBJECT_REFCOUNT (engine, "engine", 1);
  gst_object_unref (engine);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* threads                                                                  */

#define N_THREADS 8
#define N_FILES 4
#define HAMMER_WINDOW (64 * KIB)

typedef struct
{
  GstMemmapEngine *engine;
  gchar *paths[N_FILES];
  guint64 sizes[N_FILES];
  guint iterations;
  gint running;
  gint failures;
  guint64 budget;
  guint64 max_seen;
} Hammer;

typedef struct
{
  Hammer *h;
  guint index;
} HammerThread;

static gpointer
hammer_thread (gpointer data)
{
  HammerThread *t = data;
  Hammer *h = t->h;
  GRand *rand = g_rand_new_with_seed (1234 + t->index);
  guint i;

  for (i = 0; i < h->iterations; i++) {
    guint f = g_rand_int_range (rand, 0, N_FILES);
    guint64 fsize = h->sizes[f];
    guint64 off = (guint64) g_rand_double_range (rand, 0, (gdouble) fsize);
    guint64 maxn = MIN (HAMMER_WINDOW / 2, fsize - off);
    guint64 n = 1 + (guint64) g_rand_double_range (rand, 0, (gdouble) maxn);
    GstMemmapMapFlags flags = (i & 1) ? GST_MEMMAP_MAP_SEQUENTIAL :
        GST_MEMMAP_MAP_NONE;
    GstMemmapMapping *m;
    GError *err = NULL;
    guint8 *p;
    guint k;

    n = MIN (n, maxn);
    m = gst_memmap_engine_map_range (h->engine, h->paths[f], off, n, flags,
        &err);
    if (m == NULL) {
      g_printerr ("map_range failed: %s\n", err->message);
      g_clear_error (&err);
      g_atomic_int_inc (&h->failures);
      continue;
    }
    p = gst_memmap_mapping_data_at (m, off, n);
    if (p == NULL || p[0] != pattern_byte (f, off) ||
        p[n - 1] != pattern_byte (f, off + n - 1)) {
      g_atomic_int_inc (&h->failures);
    } else {
      for (k = 0; k < 16; k++) {
        guint64 r = g_rand_int_range (rand, 0, (gint32) n);

        if (p[r] != pattern_byte (f, off + r))
          g_atomic_int_inc (&h->failures);
      }
    }
    /* now and then, drop a file's mappings while others hold them */
    if (t->index == 0 && i % 500 == 250)
      gst_memmap_engine_unmap (h->engine, h->paths[(f + 1) % N_FILES]);
    if (t->index == 1 && i % 1000 == 999)
      gst_memmap_engine_clear_all (h->engine);
    gst_memmap_mapping_unref (m);
  }

  g_rand_free (rand);
  return NULL;
}

static gpointer
checker_thread (gpointer data)
{
  Hammer *h = data;

  while (g_atomic_int_get (&h->running)) {
    guint64 mapped = stat_get (h->engine, "mapped-bytes");

    h->max_seen = MAX (h->max_seen, mapped);
    g_thread_yield ();
  }
  return NULL;
}

GST_START_TEST (test_threads_hammer)
{
  Hammer h = { 0, };
  HammerThread t[N_THREADS];
  GThread *threads[N_THREADS], *checker;
  guint i;

  /* each thread holds at most one mapping of at most one window, so the
   * budget can always be met by evicting */
  h.budget = N_THREADS * HAMMER_WINDOW;
  h.engine = engine_with (h.budget, HAMMER_WINDOW);
  h.iterations = memmap_test_under_valgrind ()? 300 : 4000;
  for (i = 0; i < N_FILES; i++) {
    gchar *name = g_strdup_printf ("h%u", i);

    h.sizes[i] = 1 * MIB + i * 12345;
    h.paths[i] = make_file (name, i, h.sizes[i]);
    g_free (name);
  }

  g_atomic_int_set (&h.running, 1);
  checker = g_thread_new ("checker", checker_thread, &h);
  for (i = 0; i < N_THREADS; i++) {
    t[i].h = &h;
    t[i].index = i;
    threads[i] = g_thread_new ("hammer", hammer_thread, &t[i]);
  }
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  g_atomic_int_set (&h.running, 0);
  g_thread_join (checker);

  fail_unless_equals_int (h.failures, 0);
  fail_unless (h.max_seen <= h.budget, "mapped-bytes reached %"
      G_GUINT64_FORMAT, h.max_seen);
  fail_unless_equals_uint64 (stat_get (h.engine, "over-budget"), 0);
  fail_unless (stat_get (h.engine, "peak-mapped-bytes") <= h.budget);
  fail_unless_equals_uint64 (stat_get (h.engine, "in-use-maps"), 0);
  fail_unless_equals_uint64 (stat_get (h.engine, "maps"),
      (guint64) N_THREADS * h.iterations);
  fail_unless_equals_uint64 (stat_get (h.engine, "hits") +
      stat_get (h.engine, "misses"), (guint64) N_THREADS * h.iterations);
  fail_unless (stat_get (h.engine, "evictions") > 0);
  GST_INFO ("hits %" G_GUINT64_FORMAT " misses %" G_GUINT64_FORMAT
      " evictions %" G_GUINT64_FORMAT, stat_get (h.engine, "hits"),
      stat_get (h.engine, "misses"), stat_get (h.engine, "evictions"));

  for (i = 0; i < N_FILES; i++)
    g_free (h.paths[i]);
  gst_object_unref (h.engine);
}

GST_END_TEST;

static Suite *
engine_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-engine", setup, teardown, &tc);

  tcase_add_test (tc, test_new_and_default);
  tcase_add_test (tc, test_map_file);
  tcase_add_test (tc, test_cache_hit);
  tcase_add_test (tc, test_changed_file_is_miss);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_permission_denied);
  tcase_add_test (tc, test_over_budget);
  tcase_add_test (tc, test_over_budget_when_all_in_use);
  tcase_add_test (tc, test_no_space);
  tcase_add_test (tc, test_enomem_evicts_and_retries);
  tcase_add_test (tc, test_deferred_unmap);
  tcase_add_test (tc, test_lru_order);
  tcase_add_test (tc, test_max_mappings);
  tcase_add_test (tc, test_windows);
  tcase_add_test (tc, test_window_walk);
  tcase_add_test (tc, test_write_mapping);
  tcase_add_test (tc, test_create_file);
  tcase_add_test (tc, test_read_threshold);
  tcase_add_test (tc, test_volatile_growing_file);
  tcase_add_test (tc, test_mapping_keeps_engine);
  tcase_add_test (tc, test_context);
  tcase_add_test (tc, test_threads_hammer);

  return s;
}

GST_CHECK_MAIN (engine);
