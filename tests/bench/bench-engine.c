/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark of GstMemmapEngine.
 *
 * Part 1: the engine's cache against a plain mmap per access.
 *   "An access" is what a reader does to reach bytes of a file it has read
 *   before: get a pointer to the file's contents and read one 8-byte word in
 *   each of 8 spots spread over the file (so 8 different pages).
 *   - engine: gst_memmap_engine_map_file() (a cache hit: one stat(), a hash
 *     lookup, the pages already faulted in) + the 8 reads +
 *     gst_memmap_mapping_unref();
 *   - plain: open() + fstat() + mmap() + the 8 reads (8 minor page faults)
 *     + munmap() + close().
 *   Accesses cycle over 8 files of 4 MiB that are in the page cache. Each
 *   round times a batch of accesses per contender; the ratio is the median
 *   time per plain access over the median time per engine access.
 *
 * Part 2: the read-threshold. For each file size from 4 KiB to 64 MiB,
 *   reading the whole file with read() into a reused, page-aligned buffer
 *   (open + read + close) against open + mmap + close (a fresh mapping
 *   each time) + munmap; both then sum the whole content as 64-bit words, so
 *   the consumer's work is the same and the mapping pays for its page
 *   faults. The crossover is the smallest size from which mmap is faster at
 *   every larger size; the engine's default read-threshold (see
 *   gstmemmapengine.c) was set from it.
 *
 * The last line printed is part 1's ratio.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/memmap/memmap.h>
#include "benchutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB (G_GUINT64_CONSTANT (1024))
#define MIB (1024 * KIB)

#define ROUNDS 7
#define N_FILES 8
#define FILE_SIZE (4 * MIB)
#define N_TOUCH 8
#define ACCESSES 4000

static volatile guint64 sink;

static void
write_file (const gchar * path, guint64 size, guint seed)
{
  gsize chunk = 1 * MIB;
  guint8 *buf = g_malloc (chunk);
  guint64 pos = 0;
  gint fd;
  gsize i;

  for (i = 0; i < chunk; i++)
    buf[i] = (guint8) (i * 31 + seed);
  fd = open (path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    g_printerr ("cannot create %s: %s\n", path, g_strerror (errno));
    exit (1);
  }
  /* large writes, as a recorder would do */
  while (pos < size) {
    gsize n = (gsize) MIN (chunk, size - pos);

    if (write (fd, buf, n) != (ssize_t) n) {
      g_printerr ("cannot write %s: %s\n", path, g_strerror (errno));
      exit (1);
    }
    pos += n;
  }
  close (fd);
  g_free (buf);
}

static inline guint64
touch (const guint8 * data, gsize size)
{
  guint64 sum = 0, v;
  guint i;

  for (i = 0; i < N_TOUCH; i++) {
    memcpy (&v, data + (size - 8) / N_TOUCH * i, 8);
    sum += v;
  }
  return sum;
}

static inline guint64
sum_all (const guint8 * data, gsize size)
{
  const guint64 *w = (const guint64 *) data;
  gsize i, n = size / 8;
  guint64 sum = 0;

  for (i = 0; i < n; i++)
    sum += w[i];
  return sum;
}

static gdouble
now (void)
{
  return (gdouble) g_get_monotonic_time () / G_USEC_PER_SEC;
}

/* ------------------------------------------------------------------------ */

static gdouble
engine_batch (GstMemmapEngine * engine, gchar ** paths, guint n)
{
  gdouble t0 = now ();
  guint64 sum = 0;
  guint i;

  for (i = 0; i < n; i++) {
    GstMemmapMapping *m = gst_memmap_engine_map_file (engine,
        paths[i % N_FILES], GST_MEMMAP_MAP_NONE, NULL);

    sum += touch (gst_memmap_mapping_get_data (m),
        gst_memmap_mapping_get_size (m));
    gst_memmap_mapping_unref (m);
  }
  sink += sum;
  return (now () - t0) / n;
}

static gdouble
plain_batch (gchar ** paths, guint n)
{
  gdouble t0 = now ();
  guint64 sum = 0;
  guint i;

  for (i = 0; i < n; i++) {
    struct stat st;
    gint fd = open (paths[i % N_FILES], O_RDONLY | O_CLOEXEC);
    void *p;

    if (fd < 0 || fstat (fd, &st) < 0)
      exit (1);
    p = mmap (NULL, (gsize) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
      exit (1);
    sum += touch (p, (gsize) st.st_size);
    munmap (p, (gsize) st.st_size);
    close (fd);
  }
  sink += sum;
  return (now () - t0) / n;
}

static gdouble
bench_cached (const gchar * dir)
{
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  gchar *paths[N_FILES];
  BenchSeries eng, plain;
  gdouble ratio;
  guint i, r;
  GstStructure *stats;
  guint64 hits = 0, misses = 0;

  g_object_set (engine, "read-threshold", G_GUINT64_CONSTANT (0), NULL);
  for (i = 0; i < N_FILES; i++) {
    gchar *name = g_strdup_printf ("cached-%u", i);

    paths[i] = g_build_filename (dir, name, NULL);
    write_file (paths[i], FILE_SIZE, i);
    g_free (name);
  }

  /* warm up both: page cache, engine cache */
  engine_batch (engine, paths, 64);
  plain_batch (paths, 64);

  bench_series_init (&eng, "engine (cached)", ROUNDS);
  bench_series_init (&plain, "open+mmap+munmap", ROUNDS);
  for (r = 0; r < ROUNDS; r++) {
    bench_series_add (&eng, engine_batch (engine, paths, ACCESSES));
    bench_series_add (&plain, plain_batch (paths, ACCESSES / 4));
  }

  stats = gst_memmap_engine_get_stats (engine);
  gst_structure_get_uint64 (stats, "hits", &hits);
  gst_structure_get_uint64 (stats, "misses", &misses);
  gst_structure_free (stats);

  g_print ("\nPart 1: cached access to %u files of %" G_GUINT64_FORMAT
      " MiB, %u words read per access, %u rounds (us per access)\n",
      N_FILES, FILE_SIZE / MIB, N_TOUCH, ROUNDS);
  g_print ("  %-22s %9s %9s %9s\n", "contender", "median", "min", "max");
  g_print ("  %-22s %9.3f %9.3f %9.3f\n", eng.name,
      bench_series_median (&eng) * 1e6, bench_series_min (&eng) * 1e6,
      bench_series_max (&eng) * 1e6);
  g_print ("  %-22s %9.3f %9.3f %9.3f\n", plain.name,
      bench_series_median (&plain) * 1e6, bench_series_min (&plain) * 1e6,
      bench_series_max (&plain) * 1e6);
  g_print ("  engine hits %" G_GUINT64_FORMAT ", misses %" G_GUINT64_FORMAT
      "\n", hits, misses);

  ratio = bench_series_median (&plain) / bench_series_median (&eng);

  bench_series_clear (&eng);
  bench_series_clear (&plain);
  for (i = 0; i < N_FILES; i++) {
    unlink (paths[i]);
    g_free (paths[i]);
  }
  gst_object_unref (engine);

  return ratio;
}

/* ------------------------------------------------------------------------ */

static gdouble
read_once (const gchar * path, guint8 * buf, gsize size)
{
  gdouble t0 = now ();
  gint fd = open (path, O_RDONLY | O_CLOEXEC);
  gsize done = 0;

  if (fd < 0)
    exit (1);
  while (done < size) {
    ssize_t r = read (fd, buf + done, size - done);

    if (r <= 0)
      exit (1);
    done += (gsize) r;
  }
  close (fd);
  sink += sum_all (buf, size);
  return now () - t0;
}

static gdouble
mmap_once (const gchar * path, gsize size)
{
  gdouble t0 = now ();
  gint fd = open (path, O_RDONLY | O_CLOEXEC);
  void *p;

  if (fd < 0)
    exit (1);
  p = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  close (fd);
  if (p == MAP_FAILED)
    exit (1);
  sink += sum_all (p, size);
  munmap (p, size);
  return now () - t0;
}

/* The engine's own miss path: map_file + sum + unref, then clear_all so
 * that the next access is a miss again. */
static gdouble
engine_once (GstMemmapEngine * engine, const gchar * path)
{
  gdouble t0 = now ();
  /* COPY_SMALL: the reader engine's read-threshold applies */
  GstMemmapMapping *m = gst_memmap_engine_map_file (engine, path,
      GST_MEMMAP_MAP_COPY_SMALL, NULL);

  if (m == NULL)
    exit (1);
  sink += sum_all (gst_memmap_mapping_get_data (m),
      gst_memmap_mapping_get_size (m));
  gst_memmap_mapping_unref (m);
  gst_memmap_engine_clear_all (engine);
  return now () - t0;
}

/* The smallest index from which b[] < a[] at every larger index, -1 if
 * b[] does not win at the largest. */
static gint
crossover_index (const gdouble * a, const gdouble * b, guint n)
{
  gint k, c = -1;

  for (k = (gint) n - 1; k >= 0 && b[k] < a[k]; k--)
    c = k;
  return c;
}

static void
print_crossover (const gchar * what, const guint64 * sizes, gint c)
{
  if (c < 0)
    g_print ("crossover %s: none, read() won at the largest size\n", what);
  else if (c == 0)
    g_print ("crossover %s: mmap won at every size (read-threshold 0)\n", what);
  else
    g_print ("crossover %s: mmap wins from %" G_GUINT64_FORMAT " KiB up, "
        "read() won at %" G_GUINT64_FORMAT " KiB\n", what, sizes[c] / KIB,
        sizes[c - 1] / KIB);
}

static void
bench_threshold (const gchar * dir)
{
  static const guint64 sizes[] = {
    4 * KIB, 16 * KIB, 64 * KIB, 128 * KIB, 256 * KIB, 512 * KIB, 1 * MIB,
    2 * MIB, 4 * MIB, 16 * MIB, 64 * MIB,
  };
  const guint n_sizes = G_N_ELEMENTS (sizes);
  gdouble read_med[G_N_ELEMENTS (sizes)], mmap_med[G_N_ELEMENTS (sizes)];
  gdouble eread_med[G_N_ELEMENTS (sizes)], emmap_med[G_N_ELEMENTS (sizes)];
  GstMemmapEngine *reader = gst_memmap_engine_new ();
  GstMemmapEngine *mapper = gst_memmap_engine_new ();
  guint8 *buf = NULL;
  guint s, r;

  g_object_set (reader, "read-threshold", G_MAXUINT64, NULL);
  g_object_set (mapper, "read-threshold", G_GUINT64_CONSTANT (0), NULL);

  if (posix_memalign ((void **) &buf, 4096, 64 * MIB) != 0)
    exit (1);
  memset (buf, 0, 64 * MIB);

  g_print ("\nPart 2: a whole file, used once (summed), %u rounds (us per "
      "file, median)\n", ROUNDS);
  g_print ("  raw: open + read() into a reused buffer + close, against open "
      "+ mmap + close + munmap\n");
  g_print ("  engine: a miss with read-threshold above the size (read() "
      "into a new buffer) against 0 (mmap)\n");
  g_print ("  %10s %10s %10s %9s %12s %12s %9s\n", "size", "read()", "mmap",
      "mmap/read", "engine-read", "engine-mmap", "mmap/read");

  for (s = 0; s < n_sizes; s++) {
    gsize size = (gsize) sizes[s];
    gchar *path = g_build_filename (dir, "threshold", NULL);
    /* about 16 MiB of data per timed batch, at least 4 reps */
    guint reps = (guint) MAX (4, (16 * MIB) / size);
    BenchSeries rs, ms, ers, ems;

    write_file (path, size, s);
    bench_series_init (&rs, "read", ROUNDS);
    bench_series_init (&ms, "mmap", ROUNDS);
    bench_series_init (&ers, "engine-read", ROUNDS);
    bench_series_init (&ems, "engine-mmap", ROUNDS);
    /* warm up */
    read_once (path, buf, size);
    mmap_once (path, size);
    engine_once (reader, path);
    engine_once (mapper, path);
    for (r = 0; r < ROUNDS; r++) {
      gdouble t;
      guint i;

      for (t = 0, i = 0; i < reps; i++)
        t += read_once (path, buf, size);
      bench_series_add (&rs, t / reps);
      for (t = 0, i = 0; i < reps; i++)
        t += mmap_once (path, size);
      bench_series_add (&ms, t / reps);
      for (t = 0, i = 0; i < reps; i++)
        t += engine_once (reader, path);
      bench_series_add (&ers, t / reps);
      for (t = 0, i = 0; i < reps; i++)
        t += engine_once (mapper, path);
      bench_series_add (&ems, t / reps);
    }
    read_med[s] = bench_series_median (&rs);
    mmap_med[s] = bench_series_median (&ms);
    eread_med[s] = bench_series_median (&ers);
    emmap_med[s] = bench_series_median (&ems);
    g_print ("  %6" G_GUINT64_FORMAT " KiB %10.2f %10.2f %9.2f %12.2f %12.2f "
        "%9.2f\n", sizes[s] / KIB, read_med[s] * 1e6, mmap_med[s] * 1e6,
        mmap_med[s] / read_med[s], eread_med[s] * 1e6, emmap_med[s] * 1e6,
        emmap_med[s] / eread_med[s]);
    bench_series_clear (&rs);
    bench_series_clear (&ms);
    bench_series_clear (&ers);
    bench_series_clear (&ems);
    unlink (path);
    g_free (path);
  }

  print_crossover ("raw", sizes, crossover_index (read_med, mmap_med, n_sizes));
  print_crossover ("engine", sizes, crossover_index (eread_med, emmap_med,
          n_sizes));

  free (buf);
  gst_object_unref (reader);
  gst_object_unref (mapper);
}

int
main (int argc, char **argv)
{
  gchar *dir;
  gdouble ratio;

  gst_init (&argc, &argv);
  gst_memmap_init ();

  dir = bench_make_tmpdir ();
  bench_threshold (dir);
  ratio = bench_cached (dir);
  bench_remove_tree (dir);
  g_free (dir);

  g_print ("engine-cached-vs-plain-mmap: %.1fx (median of %u)\n", ratio,
      ROUNDS);
  return 0;
}
