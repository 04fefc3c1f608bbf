/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap-demo: maps a file through the engine, again and again, and
 * prints what the engine did. With no argument it makes its own 64 MiB file
 * (written through a reserved read-write mapping, then flushed).
 *
 *   gst-memmap-demo [FILE]
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEMO_FILE_SIZE (64 * 1024 * 1024)
#define DEMO_PASSES 200

static guint64
sum_bytes (const guint8 * data, gsize size)
{
  guint64 sum = 0;
  gsize i;

  /* One byte per page is enough to fault every page in. */
  for (i = 0; i < size; i += 4096)
    sum += data[i];
  return sum;
}

static gchar *
make_demo_file (GstMemmapEngine * engine, GError ** error)
{
  gchar *dir, *path;
  GstMemmapMapping *mapping;
  guint8 *data;
  gsize i;

  dir = g_dir_make_tmp ("gst-memmap-demo-XXXXXX", error);
  if (dir == NULL)
    return NULL;
  path = g_build_filename (dir, "demo.bin", NULL);
  g_free (dir);

  mapping = gst_memmap_engine_create_file (engine, path, DEMO_FILE_SIZE,
      error);
  if (mapping == NULL) {
    g_free (path);
    return NULL;
  }
  data = gst_memmap_mapping_get_data (mapping);
  for (i = 0; i < DEMO_FILE_SIZE; i++)
    data[i] = (guint8) (i * 31 + (i >> 12));
  if (!gst_memmap_mapping_flush (mapping, 0, 0, error)) {
    gst_memmap_mapping_unref (mapping);
    g_free (path);
    return NULL;
  }
  gst_memmap_mapping_unref (mapping);
  return path;
}

/* The "traditional" way: open, mmap, touch, munmap, close on every access. */
static gboolean
plain_pass (const gchar * path, guint64 * sum)
{
  struct stat st;
  void *data;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) < 0 || st.st_size == 0) {
    close (fd);
    return FALSE;
  }
  data = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    close (fd);
    return FALSE;
  }
  *sum = sum_bytes (data, st.st_size);
  munmap (data, st.st_size);
  close (fd);
  return TRUE;
}

static void
print_stats (const GstStructure * stats)
{
  static const gchar *fields[] = { "maps", "hits", "misses", "evictions",
    "mapped-bytes", "peak-mapped-bytes", "active-maps", "bytes-mapped-total",
    "map-time-ns", NULL
  };
  guint i;

  for (i = 0; fields[i]; i++) {
    guint64 v = 0;

    gst_structure_get_uint64 (stats, fields[i], &v);
    g_print ("  %-20s %" G_GUINT64_FORMAT "\n", fields[i], v);
  }
}

int
main (int argc, char **argv)
{
  GstMemmapEngine *engine;
  GstStructure *stats;
  GError *error = NULL;
  gchar *path;
  gboolean own_file = FALSE;
  gint64 t0, t_cached, t_plain;
  guint64 sum_cached = 0, sum_plain = 0, sum;
  guint i;
  int ret = 1;

  gst_init (&argc, &argv);
  gst_memmap_init ();

  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    g_printerr ("usage: %s [FILE]\n", argv[0]);
    return 2;
  }

  engine = gst_memmap_engine_get_default ();

  if (argc == 2) {
    path = g_strdup (argv[1]);
  } else {
    path = make_demo_file (engine, &error);
    if (path == NULL)
      goto failed;
    own_file = TRUE;
  }

  g_print ("gst-memmap demo: %d passes over %s\n\n", DEMO_PASSES, path);

  t0 = g_get_monotonic_time ();
  for (i = 0; i < DEMO_PASSES; i++) {
    GstMemmapMapping *mapping;

    mapping = gst_memmap_engine_map_file (engine, path, GST_MEMMAP_MAP_NONE,
        &error);
    if (mapping == NULL)
      goto failed;
    sum = sum_bytes (gst_memmap_mapping_get_data (mapping),
        gst_memmap_mapping_get_size (mapping));
    sum_cached += sum;
    gst_memmap_mapping_unref (mapping);
  }
  t_cached = g_get_monotonic_time () - t0;

  t0 = g_get_monotonic_time ();
  for (i = 0; i < DEMO_PASSES; i++) {
    if (!plain_pass (path, &sum)) {
      g_printerr ("plain mmap of %s failed: %s\n", path, g_strerror (errno));
      goto done;
    }
    sum_plain += sum;
  }
  t_plain = g_get_monotonic_time () - t0;

  if (sum_cached != sum_plain) {
    g_printerr ("checksums differ: %" G_GUINT64_FORMAT " != %"
        G_GUINT64_FORMAT "\n", sum_cached, sum_plain);
    goto done;
  }

  g_print ("%-34s %10s %12s\n", "", "total ms", "per pass us");
  g_print ("%-34s %10.1f %12.1f\n", "engine (cached mapping)",
      t_cached / 1000.0, (gdouble) t_cached / DEMO_PASSES);
  g_print ("%-34s %10.1f %12.1f\n", "open+mmap+munmap+close each pass",
      t_plain / 1000.0, (gdouble) t_plain / DEMO_PASSES);
  g_print ("cached engine is %.1fx faster\n\n",
      t_cached > 0 ? (gdouble) t_plain / t_cached : 0.0);

  stats = gst_memmap_engine_get_stats (engine);
  g_print ("engine stats:\n");
  print_stats (stats);
  gst_structure_free (stats);
  ret = 0;
  goto done;

failed:
  g_printerr ("gst-memmap-demo: %s\n", error->message);
  g_clear_error (&error);

done:
  if (own_file) {
    gchar *dir = g_path_get_dirname (path);

    gst_memmap_engine_unmap (engine, path);
    g_unlink (path);
    g_rmdir (dir);
    g_free (dir);
  }
  g_free (path);
  return ret;
}
