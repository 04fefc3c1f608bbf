/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap stats [CACHE_DIR]: the entries of a memmapcache cache
 * directory. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <gst/memmap/gstmemmapcachedir.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

/* The files some process holds a flock() on, from /proc/locks: keys
 * "major:minor:inode". */
static GHashTable *
locked_files (void)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  gchar *contents = NULL, **lines, **l;

  if (!g_file_get_contents ("/proc/locks", &contents, NULL, NULL))
    return set;
  lines = g_strsplit (contents, "\n", -1);
  g_free (contents);
  for (l = lines; *l; l++) {
    gchar kind[16], adv[16], rw[16];
    guint maj, min;
    guint64 ino;
    gint pid;

    if (sscanf (*l, "%*d: %15s %15s %15s %d %x:%x:%" G_GUINT64_FORMAT,
            kind, adv, rw, &pid, &maj, &min, &ino) == 7 &&
        strcmp (kind, "FLOCK") == 0)
      g_hash_table_add (set, g_strdup_printf ("%u:%u:%" G_GUINT64_FORMAT,
              maj, min, ino));
  }
  g_strfreev (lines);
  return set;
}

/* Whether some process holds a flock() on the lock (or the writer lock) of
 * @entry. */
static gboolean
is_locked (GHashTable * locks, GstMemmapCacheEntry * entry, gboolean writer)
{
  guint64 dev, ino;
  gchar *key;
  gboolean ret;

  if (!gst_memmap_cache_entry_get_lock_id (entry, writer, &dev, &ino))
    return FALSE;
  key = g_strdup_printf ("%u:%u:%" G_GUINT64_FORMAT, major (dev),
      minor (dev), ino);
  ret = g_hash_table_contains (locks, key);
  g_free (key);
  return ret;
}

typedef struct
{
  gchar *hash;
  guint64 frames;
  guint64 bytes;
  guint n_stores;
  gint64 last_use;              /* seconds since the epoch, 0 = unknown */
  gchar *video;                 /* "GRAY8 1920x1080", or NULL */
  gchar *state;
} CacheEntry;

static void
cache_entry_free (CacheEntry * e)
{
  g_free (e->hash);
  g_free (e->video);
  g_free (e->state);
  g_free (e);
}

static gint
compare_last_use (gconstpointer a, gconstpointer b)
{
  const CacheEntry *x = *(CacheEntry * const *) a;
  const CacheEntry *y = *(CacheEntry * const *) b;

  /* most recently used first */
  return (x->last_use < y->last_use) - (x->last_use > y->last_use);
}

/* What the entry's meta file says (docs/elements.md). */
static gchar *
describe_meta (GstMemmapCacheEntry * entry)
{
  GstMemmapCacheMeta meta;
  gchar *d, *ret;

  if (!gst_memmap_cache_entry_read_meta (entry, &meta))
    return NULL;
  if (!meta.complete || meta.end < meta.start)
    return g_strdup ("partial");
  d = format_time (meta.end - meta.start);
  ret = g_strdup_printf ("complete, %s", d);
  g_free (d);
  return ret;
}

/* Opens the store @path with the library's reader, which validates it
 * before anything in it is believed, and counts it into @e. */
static void
scan_store (CacheEntry * e, const gchar * path, GString * state)
{
  GError *err = NULL;
  GstMemmapStoreReader *r;
  gchar *name;

  r = gst_memmap_store_reader_open (gst_memmap_engine_get_default (), path,
      &err);
  e->n_stores++;
  if (r) {
    const GstVideoInfo *info = gst_memmap_store_reader_get_layout (r);

    e->frames += gst_memmap_store_reader_get_committed (r) -
        gst_memmap_store_reader_get_first_frame (r);
    if (e->video == NULL)
      e->video = g_strdup_printf ("%s %dx%d",
          gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)),
          GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info));
    gst_memmap_store_reader_unref (r);
    return;
  }
  name = g_path_get_basename (path);
  g_string_append_printf (state, "%s%s: %s", state->len ? "; " : "", name,
      err->domain == GST_MEMMAP_ERROR &&
      (err->code == GST_MEMMAP_ERROR_CORRUPT ||
          err->code == GST_MEMMAP_ERROR_VERSION) ? "corrupt" : "unreadable");
  g_free (name);
  g_clear_error (&err);
}

/* Looks at the entry @hash without locking or changing it. */
static CacheEntry *
scan_cache_entry (GstMemmapCacheDir * dir, const gchar * hash,
    GHashTable * locks)
{
  CacheEntry *e = g_new0 (CacheEntry, 1);
  GString *state = g_string_new (NULL);
  GstMemmapCacheEntry *entry;
  GError *err = NULL;
  gchar *meta, **stores;
  guint i;

  e->hash = g_strdup (hash);
  entry = gst_memmap_cache_entry_open_existing (dir, hash,
      GST_MEMMAP_CACHE_ENTRY_INSPECT, &err);
  if (entry == NULL) {
    /* nothing of another user's is read (a shared cache directory) */
    e->state = g_strdup (g_error_matches (err, G_FILE_ERROR,
            G_FILE_ERROR_PERM) ? "another user's, not read" : "gone");
    g_clear_error (&err);
    g_string_free (state, TRUE);
    return e;
  }
  e->last_use = gst_memmap_cache_entry_get_last_use (entry) /
      G_GINT64_CONSTANT (1000000000);
  e->bytes = gst_memmap_cache_entry_get_usage (entry);
  stores = gst_memmap_cache_entry_list_stores (entry);
  for (i = 0; stores[i]; i++)
    scan_store (e, stores[i], state);
  g_strfreev (stores);

  meta = describe_meta (entry);
  g_string_prepend (state, meta ? meta : "no meta");
  g_free (meta);
  if (is_locked (locks, entry, TRUE))
    g_string_append (state, ", being recorded");
  else if (is_locked (locks, entry, FALSE))
    g_string_append (state, ", in use");
  e->state = g_string_free (state, FALSE);
  gst_memmap_cache_entry_close (entry);
  return e;
}

/* "2026-12-06 10:45 (3 min ago)" for a last use at @last_use (seconds
 * since the epoch) seen at @now; "unknown" for 0. */
static gchar *
describe_last_use (gint64 last_use, gint64 now)
{
  GDateTime *dt;
  gint64 ago = now - last_use;
  gchar *day, *when;

  if (last_use <= 0)
    return g_strdup ("unknown");
  dt = g_date_time_new_from_unix_local (last_use);
  day = g_date_time_format (dt, "%Y-%m-%d %H:%M");
  g_date_time_unref (dt);
  if (ago < 120)
    when = g_strdup_printf ("%s (%" G_GINT64_FORMAT " s ago)", day,
        MAX (ago, 0));
  else if (ago < 7200)
    when = g_strdup_printf ("%s (%" G_GINT64_FORMAT " min ago)", day, ago / 60);
  else
    when = g_strdup (day);
  g_free (day);
  return when;
}

gint
cmd_stats (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GPtrArray *entries;
  GHashTable *locks;
  GstMemmapCacheDir *dir;
  GError *err = NULL;
  gchar *cache_dir, *s1, **hashes;
  guint64 total_bytes = 0, total_frames = 0, other_bytes = 0;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  struct stat st;
  guint i, evicting = 0;
  gint ret = EXIT_FAIL;

  ctx = g_option_context_new ("[CACHE_DIR] - what a memmapcache cache "
      "directory holds");
  g_option_context_set_summary (ctx,
      "Lists the streams cached in CACHE_DIR (default: memmapcache's default,\n"
      "$XDG_CACHE_HOME/gst-memmap): per stream its frames, bytes on disk,\n"
      "last use, video format and state (complete or partial, in use, being\n"
      "recorded), most recently used first, and the totals. Every store is\n"
      "opened with the library's validating reader; nothing is changed.");
  if (!parse_options (ctx, &argc, &argv))
    return EXIT_USAGE;
  if (argc > 2) {
    fail ("expected at most one CACHE_DIR (try --help)");
    return EXIT_USAGE;
  }
  cache_dir = argc == 2 ? g_strdup (argv[1]) :
      gst_memmap_cache_dir_default_path ();

  if (stat (cache_dir, &st) < 0) {
    if (errno == ENOENT && argc < 2) {
      /* the default directory is made by the first memmapcache */
      g_print ("cache:    %s (not made yet)\nstreams:  0, 0 frames, 0 bytes "
          "on disk\n", cache_dir);
      ret = EXIT_OK;
      goto out;
    }
    fail ("cannot open the cache directory '%s': %s", cache_dir,
        g_strerror (errno));
    goto out;
  }
  if (!S_ISDIR (st.st_mode)) {
    fail ("'%s' is not a directory", cache_dir);
    goto out;
  }
  dir = gst_memmap_cache_dir_open_existing (cache_dir, &err);
  if (dir == NULL) {
    fail ("%s", err->message);
    g_clear_error (&err);
    goto out;
  }
  locks = locked_files ();
  entries = g_ptr_array_new_with_free_func ((GDestroyNotify)
      cache_entry_free);
  hashes = gst_memmap_cache_dir_list_entries (dir, &evicting);
  for (i = 0; hashes[i]; i++) {
    CacheEntry *e = scan_cache_entry (dir, hashes[i], locks);

    total_bytes += e->bytes;
    total_frames += e->frames;
    g_ptr_array_add (entries, e);
  }
  g_strfreev (hashes);
  /* gst_memmap_map_video_frames()'s index */
  other_bytes = gst_memmap_cache_dir_get_index_usage (dir);
  gst_memmap_cache_dir_free (dir);
  g_hash_table_unref (locks);
  g_ptr_array_sort (entries, compare_last_use);

  s1 = format_size (total_bytes);
  g_print ("cache:    %s\n", cache_dir);
  g_print ("streams:  %u, %" G_GUINT64_FORMAT " frames, %s on disk\n",
      entries->len, total_frames, s1);
  g_free (s1);
  if (evicting > 0)
    g_print ("evicting: %u stream%s being deleted\n", evicting,
        evicting == 1 ? "" : "s");
  if (entries->len > 0)
    g_print ("\n%-16s %8s %12s  %-30s %-18s %s\n", "stream", "frames",
        "on disk", "last use", "video", "state");
  for (i = 0; i < entries->len; i++) {
    CacheEntry *e = g_ptr_array_index (entries, i);
    gchar hash[17];
    gchar *when;

    g_strlcpy (hash, e->hash, sizeof (hash));
    s1 = format_size (e->bytes);
    when = describe_last_use (e->last_use, now);
    g_print ("%-16s %8" G_GUINT64_FORMAT " %12s  %-30s %-18s %s\n", hash,
        e->frames, s1, when, e->video ? e->video : "-", e->state);
    g_free (when);
    g_free (s1);
  }
  if (other_bytes > 0) {
    s1 = format_size (other_bytes);
    g_print ("\n(and %s of gst_memmap_map_video_frames() index files)\n", s1);
    g_free (s1);
  }
  g_ptr_array_unref (entries);
  ret = EXIT_OK;

out:
  g_free (cache_dir);
  return ret;
}
