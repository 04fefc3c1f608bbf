/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the text file every user of a cache directory
 * (memmapcache, the frames API, gst-memmap stats) reads back from it: an
 * entry's `meta` (a GKeyFile), parsed by the one owner of the format,
 * gst/memmap/gstmemmapcachedir.c (the library's private API). The input is
 * the file's content; it is parsed with gst_memmap_cache_meta_parse() and
 * read with gst_memmap_cache_entry_read_meta() from a real entry of a real
 * cache directory (made once per process), which must agree (a meta that
 * names another entry is refused by the reader), then written
 * back with gst_memmap_cache_entry_write_meta() and read again: what was
 * read must be consistent (a complete stream has a start and an end) and
 * must survive the round trip unchanged. The same input is then the frames
 * API's index file of a key (the module's second parser): the lookup gives
 * an entry's name only from a file that names that key.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gst/memmap/gstmemmapcachedir.h>
#include "fuzz-common.h"

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static gchar *cache_path;
static GstMemmapCacheDir *cache_dir;
static GstMemmapCacheEntry *entry;
static gchar *meta_path;
static gchar *index_path;       /* the index file of INDEX_KEY */

#define INDEX_KEY "fuzz-cache-meta index key"

static void
remove_cache (void)
{
  const gchar *names[] = { "meta", "lock", "write.lock", NULL };
  gchar *entry_path;
  guint i;

  if (entry)
    gst_memmap_cache_entry_close (entry);
  entry = NULL;
  if (cache_dir)
    gst_memmap_cache_dir_free (cache_dir);
  cache_dir = NULL;
  if (cache_path == NULL)
    return;
  entry_path = g_build_filename (cache_path, HASH, NULL);
  for (i = 0; names[i]; i++) {
    gchar *p = g_build_filename (entry_path, names[i], NULL);

    unlink (p);
    g_free (p);
  }
  rmdir (entry_path);
  if (index_path) {
    gchar *index_dir = g_path_get_dirname (index_path);

    unlink (index_path);
    rmdir (index_dir);
    g_free (index_dir);
  }
  rmdir (cache_path);
  g_free (entry_path);
  g_clear_pointer (&cache_path, g_free);
  g_clear_pointer (&meta_path, g_free);
  g_clear_pointer (&index_path, g_free);
}

static void
ensure_entry (void)
{
  GError *err = NULL;
  gchar *name;

  if (entry)
    return;
  cache_path = g_dir_make_tmp ("fuzz-cache-XXXXXX", &err);
  if (cache_path == NULL)
    FUZZ_FAIL ("no temporary directory: %s", err->message);
  cache_dir = gst_memmap_cache_dir_open (cache_path, &err);
  if (cache_dir == NULL)
    FUZZ_FAIL ("cache directory: %s", err->message);
  entry = gst_memmap_cache_entry_open (cache_dir, HASH, &err);
  if (entry == NULL || !gst_memmap_cache_entry_lock_writer (entry, &err))
    FUZZ_FAIL ("cache entry: %s", err ? err->message : "?");
  meta_path = g_build_filename (gst_memmap_cache_entry_get_path (entry),
      "meta", NULL);
  /* the frames API's index: its file, made by the module itself */
  gst_memmap_cache_dir_index_store (cache_dir, INDEX_KEY, HASH, 0);
  name = g_compute_checksum_for_string (G_CHECKSUM_SHA256, INDEX_KEY, -1);
  index_path = g_build_filename (cache_path, "frames", name, NULL);
  g_free (name);
  if (!g_file_test (index_path, G_FILE_TEST_IS_REGULAR))
    FUZZ_FAIL ("no index file %s", index_path);
  atexit (remove_cache);
}

static void
check_meta (const GstMemmapCacheMeta * m, const gchar * what)
{
  if (m->complete && (!GST_CLOCK_TIME_IS_VALID (m->start) ||
          !GST_CLOCK_TIME_IS_VALID (m->end)))
    FUZZ_FAIL ("%s: complete without a start and an end", what);
  if (GST_CLOCK_TIME_IS_VALID (m->start) && m->start > G_MAXINT64)
    FUZZ_FAIL ("%s: start %" G_GUINT64_FORMAT " out of range", what, m->start);
  if (GST_CLOCK_TIME_IS_VALID (m->end) && m->end > G_MAXINT64)
    FUZZ_FAIL ("%s: end %" G_GUINT64_FORMAT " out of range", what, m->end);
}

/* The same input as the index file of INDEX_KEY: what the lookup gives is
 * an entry's name or nothing, and only from a file that says it is that
 * key's; then the module's own file reads back. */
static void
fuzz_index (const uint8_t * data, size_t size)
{
  gchar *hash, *name;
  guint generation;
  gint fd;

  fd = open (index_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    FUZZ_FAIL ("%s: %s", index_path, g_strerror (errno));
  if (size > 0 && write (fd, data, size) != (ssize_t) size)
    FUZZ_FAIL ("%s: short write", index_path);
  close (fd);

  hash = gst_memmap_cache_dir_index_lookup (cache_dir, INDEX_KEY, &generation);
  if (hash) {
    name = g_path_get_basename (index_path);
    if (!gst_memmap_cache_is_hash_name (hash))
      FUZZ_FAIL ("index lookup gave '%s', not an entry's name", hash);
    if (g_strstr_len ((const gchar *) data, size, name) == NULL)
      FUZZ_FAIL ("an index file that does not name its key was believed");
    g_free (name);
    g_free (hash);
  }

  gst_memmap_cache_dir_index_store (cache_dir, INDEX_KEY, HASH, 7);
  hash = gst_memmap_cache_dir_index_lookup (cache_dir, INDEX_KEY, &generation);
  if (g_strcmp0 (hash, HASH) != 0 || generation != 7)
    FUZZ_FAIL ("index round trip: '%s' generation %u", GST_STR_NULL (hash),
        generation);
  g_free (hash);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GstMemmapCacheMeta parsed, meta, again;
  GError *err = NULL;
  gint fd;

  fuzz_init ();
  ensure_entry ();

  fd = open (meta_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    FUZZ_FAIL ("%s: %s", meta_path, g_strerror (errno));
  if (size > 0 && write (fd, data, size) != (ssize_t) size)
    FUZZ_FAIL ("%s: short write", meta_path);
  close (fd);

  gst_memmap_cache_meta_parse ((const gchar *) data, size, &parsed);
  check_meta (&parsed, "parsed");
  gst_memmap_cache_entry_read_meta (entry, &meta);
  check_meta (&meta, "read");
  /* a meta that names another entry is refused: all unknown */
  if (parsed.entry[0] != '\0' && strcmp (parsed.entry, HASH) != 0) {
    if (GST_CLOCK_TIME_IS_VALID (meta.start) || meta.complete)
      FUZZ_FAIL ("the meta of entry '%s' was read as %s's", parsed.entry, HASH);
    gst_memmap_cache_meta_parse ("", 0, &parsed);
  }
  if (size < 65536 && (parsed.start != meta.start || parsed.end != meta.end
          || parsed.complete != meta.complete))
    FUZZ_FAIL ("the parser and the entry's reader disagree");

  if (!gst_memmap_cache_entry_write_meta (entry, &meta, &err))
    FUZZ_FAIL ("write_meta: %s", err ? err->message : "?");
  gst_memmap_cache_entry_read_meta (entry, &again);
  check_meta (&again, "read back");
  if (again.start != meta.start || again.end != meta.end ||
      again.complete != meta.complete)
    FUZZ_FAIL ("round trip: start %" G_GUINT64_FORMAT " end %"
        G_GUINT64_FORMAT " complete %d became %" G_GUINT64_FORMAT " %"
        G_GUINT64_FORMAT " %d", meta.start, meta.end, meta.complete,
        again.start, again.end, again.complete);

  fuzz_index (data, size);
  return 0;
}
