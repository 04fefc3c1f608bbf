/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine and the frame store under resource limits: a child process
 * sets RLIMIT_AS (so that mmap() and large allocations fail) or
 * RLIMIT_NOFILE (so that open() fails), runs the library, and reports
 * through a pipe. The library must evict and retry, or fail with a
 * GST_MEMMAP_ERROR that names the file; never crash. A child killed by a
 * signal fails the test. After a writer failed, the parent (without
 * limits) reads the store: every frame the writer committed must be there
 * and intact.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "../store-pattern.h"

#define KIB (G_GUINT64_CONSTANT (1024))
#define MIB (1024 * KIB)

/* ASan and TSan reserve terabytes of shadow memory and allocate more as
 * they go: under RLIMIT_AS their own allocator fails first. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* valgrind manages the address space itself: RLIMIT_AS means nothing
 * there */
static gboolean
as_limits_work (void)
{
  if (g_getenv ("MEMMAP_UNDER_VALGRIND") != NULL || UNDER_SANITIZER) {
    g_print ("RLIMIT_AS cases skipped under valgrind or a sanitizer\n");
    return FALSE;
  }
  return TRUE;
}

static void
setup (void)
{
  gst_memmap_init ();
  memmap_test_make_tmpdir ("memmap-limits");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

static inline guint8
file_byte (guint id, guint64 pos)
{
  return (guint8) ((pos * 7 + id * 31 + (pos >> 12)) & 0xff);
}

static gchar *
make_file (const gchar * name, guint id, guint64 size)
{
  gchar *path = test_path (name);
  guint8 *buf = g_malloc (size);
  guint64 i;

  for (i = 0; i < size; i++)
    buf[i] = file_byte (id, i);
  fail_unless (g_file_set_contents (path, (gchar *) buf, size, NULL));
  g_free (buf);
  return path;
}

static gboolean
check_bytes (const guint8 * p, guint id, guint64 offset, guint64 size)
{
  guint64 i;

  for (i = 0; i < size; i += 4093) {
    if (p[i] != file_byte (id, offset + i))
      return FALSE;
  }
  return p[size - 1] == file_byte (id, offset + size - 1);
}

static GstMemmapEngine *
engine_with (guint64 budget, guint64 window, guint64 read_threshold)
{
  GstMemmapEngine *e = gst_memmap_engine_new ();

  g_object_set (e, "max-mapped-bytes", budget, "window-size", window,
      "read-threshold", read_threshold, NULL);
  return e;
}

static guint64
stat_get (GstMemmapEngine * e, const gchar * field)
{
  GstStructure *s = gst_memmap_engine_get_stats (e);
  guint64 v = 0;

  gst_structure_get_uint64 (s, field, &v);
  gst_structure_free (s);
  return v;
}

/* ------------------------------------------------------------------------ */
/* children                                                                 */

/* What a child reports. */
typedef struct
{
  gint result;                  /* 0: as expected; else a failure number */
  gint error_code;              /* the GError's code, -1 if none */
  guint64 count;                /* what the case counts (frames, maps) */
  guint64 evictions;
  gchar message[512];           /* the GError's message, or what failed */
} Report;

static void
report_error (Report * r, const GError * err)
{
  r->error_code = err ? err->code : -1;
  g_strlcpy (r->message, err ? err->message : "(no error)",
      sizeof (r->message));
}

typedef struct
{
  void (*func) (Report *, gpointer);
  gpointer data;
} ChildCall;

static void
child_call (gpointer call, gpointer result)
{
  ChildCall *c = call;

  c->func (result, c->data);
}

/* Runs @func in a forked child (memmap_test_run_in_child()); fails the
 * test if the child dies of a signal or does not report. */
static void
run_child (void (*func) (Report *, gpointer), gpointer data, Report * out)
{
  ChildCall call = { func, data };

  memset (out, 0, sizeof (*out));
  out->error_code = -1;
  memmap_test_run_in_child (child_call, &call, out, sizeof (*out));
  GST_INFO ("child: result %d, error %d (%s), count %" G_GUINT64_FORMAT
      ", evictions %" G_GUINT64_FORMAT, out->result, out->error_code,
      out->message, out->count, out->evictions);
}

/* The child's current address space, in bytes. */
static guint64
vm_size (void)
{
  gchar *statm = NULL;
  guint64 pages;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    return 0;
  pages = g_ascii_strtoull (statm, NULL, 10);
  g_free (statm);
  return pages * (guint64) sysconf (_SC_PAGESIZE);
}

/* Room for @margin more bytes of address space than the child has now
 * (soft limit only, so that the child may lift it again). */
static gboolean
limit_as (guint64 margin)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_AS, &rl) < 0)
    return FALSE;
  rl.rlim_cur = vm_size () + margin;
  return setrlimit (RLIMIT_AS, &rl) == 0;
}

static gboolean
unlimit_as (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_AS, &rl) < 0)
    return FALSE;
  rl.rlim_cur = rl.rlim_max;
  return setrlimit (RLIMIT_AS, &rl) == 0;
}

static gint
highest_open_fd (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  gint fd, max = -1, own = d ? dirfd (d) : -1;

  if (d == NULL)
    return 1024;
  while ((e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    fd = atoi (e->d_name);
    if (fd != own)
      max = MAX (max, fd);
  }
  closedir (d);
  return max;
}

/* Allows @free_fds more open files than the child has now (the limit
 * bounds the fd number, so it is set above the highest one open). */
static gboolean
limit_nofile (guint free_fds)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return FALSE;
  rl.rlim_cur = highest_open_fd () + 1 + free_fds;
  return setrlimit (RLIMIT_NOFILE, &rl) == 0;
}

/* ------------------------------------------------------------------------ */
/* RLIMIT_AS                                                                */

/* A window that can never fit: a clean error naming the file; the engine
 * works again once the limit is lifted. */
static void
as_never_fits_child (Report * r, gpointer data)
{
  const gchar *path = data;
  GstMemmapEngine *e = engine_with (1024 * MIB, 16 * MIB, 0);
  GstMemmapMapping *m;
  GError *err = NULL;

  if (!limit_as (2 * MIB)) {
    r->result = 90;
    return;
  }
  m = gst_memmap_engine_map_range (e, path, 0, 16 * MIB,
      GST_MEMMAP_MAP_NONE, &err);
  if (m != NULL) {
    r->result = 1;
    g_strlcpy (r->message, "a 16 MiB window was mapped in 2 MiB of address "
        "space", sizeof (r->message));
    gst_memmap_mapping_unref (m);
  } else {
    report_error (r, err);
    if (err->domain != GST_MEMMAP_ERROR || !strstr (err->message, path))
      r->result = 2;
    g_clear_error (&err);
  }
  /* nothing was left behind: lift the limit and map it */
  if (!unlimit_as ()) {
    r->result = 91;
    return;
  }
  m = gst_memmap_engine_map_range (e, path, 0, 16 * MIB,
      GST_MEMMAP_MAP_NONE, &err);
  if (m == NULL) {
    r->result = 3;
    report_error (r, err);
    g_clear_error (&err);
  } else {
    if (!check_bytes (gst_memmap_mapping_get_data (m), 1, 0, 16 * MIB))
      r->result = 4;
    gst_memmap_mapping_unref (m);
  }
  if (stat_get (e, "mapped-bytes") > 16 * MIB)
    r->result = 5;
  gst_object_unref (e);
}

GST_START_TEST (test_as_window_never_fits)
{
  gchar *path = make_file ("big", 1, 16 * MIB);
  Report r;

  if (as_limits_work ()) {
    run_child (as_never_fits_child, path, &r);
    fail_unless_equals_int (r.result, 0);
    fail_unless_equals_int (r.error_code, GST_MEMMAP_ERROR_IO);
    fail_unless (strstr (r.message, "Cannot allocate memory") != NULL, "%s",
        r.message);
  }
  g_free (path);
}

GST_END_TEST;

/* A small file read() into memory (COPY_SMALL): the allocation fails
 * cleanly. */
static void
as_read_child (Report * r, gpointer data)
{
  const gchar *path = data;
  /* read-threshold 1 MiB: the 400 KiB file is read, not mapped */
  GstMemmapEngine *e = engine_with (1024 * MIB, 16 * MIB, MIB);
  GstMemmapMapping *m;
  GError *err = NULL;

  if (!limit_as (64 * KIB)) {
    r->result = 90;
    return;
  }
  m = gst_memmap_engine_map_file (e, path, GST_MEMMAP_MAP_COPY_SMALL, &err);
  if (m != NULL) {
    /* malloc found the room after all: it must hold the file */
    if (gst_memmap_mapping_is_mmapped (m) ||
        !check_bytes (gst_memmap_mapping_get_data (m), 2, 0, 400 * KIB))
      r->result = 1;
    r->count = 1;
    gst_memmap_mapping_unref (m);
  } else {
    report_error (r, err);
    if (err->domain != GST_MEMMAP_ERROR || !strstr (err->message, path))
      r->result = 2;
    g_clear_error (&err);
  }
  unlimit_as ();
  m = gst_memmap_engine_map_file (e, path, GST_MEMMAP_MAP_COPY_SMALL, &err);
  if (m == NULL) {
    r->result = 3;
    report_error (r, err);
    g_clear_error (&err);
  } else {
    gst_memmap_mapping_unref (m);
  }
  gst_object_unref (e);
}

GST_START_TEST (test_as_read_path)
{
  gchar *path = make_file ("small", 2, 400 * KIB);
  Report r;

  if (as_limits_work ()) {
    run_child (as_read_child, path, &r);
    fail_unless_equals_int (r.result, 0);
    if (r.count == 0)
      fail_unless_equals_int (r.error_code, GST_MEMMAP_ERROR_IO);
  }
  g_free (path);
}

GST_END_TEST;

/* create_file whose mapping cannot be made: an error, and the file it
 * created is gone. */
static void
as_create_child (Report * r, gpointer data)
{
  const gchar *path = data;
  GstMemmapEngine *e = engine_with (1024 * MIB, 64 * MIB, 0);
  GstMemmapMapping *m;
  GError *err = NULL;

  if (!limit_as (2 * MIB)) {
    r->result = 90;
    return;
  }
  m = gst_memmap_engine_create_file (e, path, 32 * MIB, &err);
  if (m != NULL) {
    r->result = 1;
    gst_memmap_mapping_unref (m);
  } else {
    report_error (r, err);
    if (err->domain != GST_MEMMAP_ERROR || !strstr (err->message, path))
      r->result = 2;
    g_clear_error (&err);
  }
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    r->result = 3;
  gst_object_unref (e);
}

GST_START_TEST (test_as_create_file)
{
  gchar *path = test_path ("created");
  Report r;

  if (as_limits_work ()) {
    run_child (as_create_child, path, &r);
    fail_unless_equals_int (r.result, 0);
    fail_unless_equals_int (r.error_code, GST_MEMMAP_ERROR_IO);
  }
  g_free (path);
}

GST_END_TEST;

/* A store writer that runs out of address space while it writes: it stops
 * with a GError (or copes by evicting), and every frame it committed is
 * intact. */
typedef struct
{
  gchar *path;
  guint64 margin;
  guint64 max_frames_to_write;
} WriterCase;

static void
as_writer_child (Report * r, gpointer data)
{
  WriterCase *wc = data;
  /* 1 MiB windows, a budget of 8: the writer walks through many windows */
  GstMemmapEngine *e = engine_with (8 * MIB, MIB, 0);
  GstMemmapStoreWriter *w;
  GstVideoInfo info;
  GstCaps *caps;
  GError *err = NULL;
  guint64 f;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, 256, 256);
  caps = gst_video_info_to_caps (&info);
  /* 64 KiB slots, chunks of 4 */
  w = gst_memmap_store_writer_new_full (e, wc->path, caps, &info,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 256 * KIB,
      GST_MEMMAP_STORE_WRITER_FLAG_NONE, &err);
  gst_caps_unref (caps);
  if (w == NULL) {
    r->result = 90;
    report_error (r, err);
    g_clear_error (&err);
    return;
  }
  if (!limit_as (wc->margin)) {
    r->result = 91;
    return;
  }
  for (f = 0; f < wc->max_frames_to_write; f++) {
    if (!memmap_test_write_pattern_frame (w, &info, f, 0, &err)) {
      report_error (r, err);
      if (err->domain != GST_MEMMAP_ERROR)
        r->result = 1;
      g_clear_error (&err);
      break;
    }
  }
  r->count = gst_memmap_store_writer_get_committed (w);
  r->evictions = stat_get (e, "evictions");
  /* closing needs no new mapping */
  if (!gst_memmap_store_writer_close (w, &err)) {
    r->result = 2;
    report_error (r, err);
    g_clear_error (&err);
  }
  gst_memmap_store_writer_unref (w);
  gst_object_unref (e);
}

GST_START_TEST (test_as_store_writer)
{
  /* tight: less than one window of room; roomy: a few windows, so the
   * writer goes on by evicting the windows it left behind */
  guint64 margins[] = { 512 * KIB, 3 * MIB };
  guint i;

  if (!as_limits_work ())
    return;
  for (i = 0; i < G_N_ELEMENTS (margins); i++) {
    WriterCase wc = { test_path ("as.store"), margins[i], 200 };
    Report r;
    guint64 n;

    run_child (as_writer_child, &wc, &r);
    fail_unless (r.result == 0, "result %d: %s", r.result, r.message);
    n = memmap_test_check_store (wc.path);
    fail_unless_equals_uint64 (n, r.count);
    g_print ("RLIMIT_AS margin %" G_GUINT64_FORMAT " KiB: %" G_GUINT64_FORMAT
        " frames committed and intact, %" G_GUINT64_FORMAT " evictions, %s\n",
        margins[i] / KIB, n, r.evictions, r.error_code < 0 ? "no error" :
        r.message);
    /* the tight case must hit the limit; then the error is explicit */
    if (i == 0)
      fail_unless (r.error_code >= 0 && n < wc.max_frames_to_write,
          "a writer with %" G_GUINT64_FORMAT " KiB of address space wrote "
          "every frame", margins[i] / KIB);
    unlink (wc.path);
    g_free (wc.path);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* RLIMIT_NOFILE                                                            */

typedef struct
{
  gchar **paths;
  guint n_paths;
  gboolean hold;                /* keep every mapping referenced */
} FilesCase;

/* Maps many files one after the other with 6 file descriptors to spare:
 * each cached mapping holds one, so the engine must give them back. */
static void
nofile_child (Report * r, gpointer data)
{
  FilesCase *fc = data;
  GstMemmapEngine *e;
  GPtrArray *held;
  GError *err = NULL;
  guint i;

  if (!limit_nofile (6)) {
    r->result = 90;
    return;
  }
  held = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_mapping_unref);
  /* made under the limit: its default max-mappings follows it */
  e = engine_with (1024 * MIB, MIB, 0);
  for (i = 0; i < fc->n_paths; i++) {
    GstMemmapMapping *m = gst_memmap_engine_map_file (e, fc->paths[i],
        GST_MEMMAP_MAP_NONE, &err);

    if (m == NULL) {
      report_error (r, err);
      if (err->domain != GST_MEMMAP_ERROR ||
          !strstr (err->message, fc->paths[i]))
        r->result = 1;
      g_clear_error (&err);
      break;
    }
    if (!check_bytes (gst_memmap_mapping_get_data (m), 100 + i, 0,
            gst_memmap_mapping_get_size (m)))
      r->result = 2;
    if (fc->hold)
      g_ptr_array_add (held, m);
    else
      gst_memmap_mapping_unref (m);
  }
  r->count = i;
  r->evictions = stat_get (e, "evictions");
  g_ptr_array_unref (held);
  gst_object_unref (e);
}

static FilesCase *
make_files (guint n)
{
  FilesCase *fc = g_new0 (FilesCase, 1);
  guint i;

  fc->n_paths = n;
  fc->paths = g_new0 (gchar *, n + 1);
  for (i = 0; i < n; i++) {
    gchar *name = g_strdup_printf ("f%02u", i);

    fc->paths[i] = make_file (name, 100 + i, 64 * KIB);
    g_free (name);
  }
  return fc;
}

static void
free_files (FilesCase * fc)
{
  g_strfreev (fc->paths);
  g_free (fc);
}

GST_START_TEST (test_nofile_engine_gives_back_fds)
{
  FilesCase *fc = make_files (40);
  Report r;

  run_child (nofile_child, fc, &r);
  fail_unless (r.result == 0, "result %d: %s", r.result, r.message);
  fail_unless (r.error_code == -1, "mapping %" G_GUINT64_FORMAT
      " of 40 with 6 fds to spare: %s", r.count, r.message);
  fail_unless_equals_uint64 (r.count, 40);
  fail_unless (r.evictions > 0);
  free_files (fc);
}

GST_END_TEST;

GST_START_TEST (test_nofile_all_held)
{
  FilesCase *fc = make_files (20);
  Report r;

  fc->hold = TRUE;
  run_child (nofile_child, fc, &r);
  fail_unless (r.result == 0, "result %d: %s", r.result, r.message);
  /* nothing can be given back: a clear error, after about 6 files */
  fail_unless (r.count < 20);
  fail_unless_equals_int (r.error_code, GST_MEMMAP_ERROR_IO);
  fail_unless (strstr (r.message, "Too many open files") != NULL, "%s",
      r.message);
  free_files (fc);
}

GST_END_TEST;

/* A store written and read with few file descriptors: it works, or it
 * fails cleanly; what was committed is intact. */
static void
nofile_store_child (Report * r, gpointer data)
{
  WriterCase *wc = data;
  GstMemmapEngine *e;
  GstMemmapStoreWriter *w;
  GstMemmapStoreReader *rd;
  GstVideoInfo info;
  GstCaps *caps;
  GError *err = NULL;
  guint64 f, n;

  if (!limit_nofile ((guint) wc->margin)) {
    r->result = 90;
    return;
  }
  e = engine_with (64 * MIB, 256 * KIB, 0);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, 64, 64);
  caps = gst_video_info_to_caps (&info);
  w = gst_memmap_store_writer_new_full (e, wc->path, caps, &info,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 16 * KIB,
      GST_MEMMAP_STORE_WRITER_FLAG_NONE, &err);
  gst_caps_unref (caps);
  if (w == NULL) {
    report_error (r, err);
    if (err->domain != GST_MEMMAP_ERROR || !strstr (err->message, wc->path))
      r->result = 1;
    g_clear_error (&err);
    gst_object_unref (e);
    return;
  }
  for (f = 0; f < wc->max_frames_to_write; f++) {
    if (!memmap_test_write_pattern_frame (w, &info, f, 0, &err)) {
      report_error (r, err);
      if (err->domain != GST_MEMMAP_ERROR)
        r->result = 2;
      g_clear_error (&err);
      break;
    }
  }
  r->count = gst_memmap_store_writer_get_committed (w);

  /* a reader in the same process, next to the writer */
  rd = gst_memmap_store_reader_open (e, wc->path, &err);
  if (rd == NULL) {
    if (r->error_code < 0)
      report_error (r, err);
    if (err->domain != GST_MEMMAP_ERROR)
      r->result = 3;
    g_clear_error (&err);
  } else {
    n = gst_memmap_store_reader_get_committed (rd);
    for (f = 0; f < n; f++) {
      GstBuffer *buf = gst_memmap_store_reader_get_buffer (rd, NULL, f, &err);
      GstMapInfo map;

      if (buf == NULL) {
        if (r->error_code < 0)
          report_error (r, err);
        if (err->domain != GST_MEMMAP_ERROR)
          r->result = 4;
        g_clear_error (&err);
        break;
      }
      if (!gst_buffer_map (buf, &map, GST_MAP_READ) ||
          !store_check_frame (map.data, &info, f))
        r->result = 5;
      else
        gst_buffer_unmap (buf, &map);
      gst_buffer_unref (buf);
    }
    gst_memmap_store_reader_unref (rd);
  }
  if (!gst_memmap_store_writer_close (w, &err)) {
    r->result = 6;
    report_error (r, err);
    g_clear_error (&err);
  }
  gst_memmap_store_writer_unref (w);
  r->evictions = stat_get (e, "evictions");
  gst_object_unref (e);
}

GST_START_TEST (test_nofile_store)
{
  guint spare[] = { 2, 4, 9, 32 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (spare); i++) {
    WriterCase wc = { test_path ("fd.store"), spare[i], 64 };
    Report r;
    guint64 n = 0;

    run_child (nofile_store_child, &wc, &r);
    fail_unless (r.result == 0, "%u fds: result %d: %s", spare[i],
        r.result, r.message);
    if (g_file_test (wc.path, G_FILE_TEST_EXISTS))
      n = memmap_test_check_store (wc.path);
    fail_unless_equals_uint64 (n, r.count);
    g_print ("RLIMIT_NOFILE with %u fds to spare: %" G_GUINT64_FORMAT
        " frames committed and intact, %" G_GUINT64_FORMAT " evictions, %s\n",
        spare[i], n, r.evictions, r.error_code < 0 ? "no error" : r.message);
    /* with a few descriptors to spare, everything works: the writer holds
     * two open files (its lock's and its windows'), the reader one, and a
     * descriptor per window that someone holds */
    if (spare[i] >= 9)
      fail_unless (r.error_code < 0 && n == wc.max_frames_to_write,
          "%u fds to spare: %s", spare[i], r.message);
    unlink (wc.path);
    g_free (wc.path);
  }
}

GST_END_TEST;

static Suite *
limits_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-limits", setup, teardown, &tc);

  tcase_add_test (tc, test_as_window_never_fits);
  tcase_add_test (tc, test_as_read_path);
  tcase_add_test (tc, test_as_create_file);
  tcase_add_test (tc, test_as_store_writer);
  /* valgrind keeps descriptors of its own above the limit and refuses a
   * lower RLIMIT_NOFILE: these run in the normal and sanitizer lanes */
  if (g_getenv ("MEMMAP_UNDER_VALGRIND") == NULL) {
    tcase_add_test (tc, test_nofile_engine_gives_back_fds);
    tcase_add_test (tc, test_nofile_all_held);
    tcase_add_test (tc, test_nofile_store);
  }
  return s;
}

GST_CHECK_MAIN (limits);
