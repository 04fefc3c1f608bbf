/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>

G_BEGIN_DECLS

/* GstMemmapCacheDir: the one owner of the cache directory's format
 * (docs/elements.md, memmapcache): its layout, names, the `meta` file, the
 * locks, the index of gst_memmap_map_video_frames() and the default
 * location. One subdirectory per cached stream, named by the SHA-256 of its
 * identity:
 *
 *   CACHE-DIR/HASH/lock        users hold LOCK_SH, eviction takes LOCK_EX;
 *                              its mtime is the entry's last use (LRU)
 *   CACHE-DIR/HASH/write.lock  the one recorder of the stream: LOCK_EX
 *   CACHE-DIR/HASH/meta        key file: entry (HASH), start, end, complete
 *   CACHE-DIR/HASH/sNNNNNN.store  frame stores, one per recording run
 *   CACHE-DIR/frames/KEYHASH   the frames API's index: a file's identity
 *                              (KEYHASH, also inside) -> the entry that
 *                              holds its frames
 *
 * Nothing in it is read unless it is the user's own (fstat after an
 * O_NOFOLLOW open: the type, the owner, a directory nobody else can write
 * to) and says it is what its name says.
 *
 * PRIVATE API of libgstmemmap: exported for the memmap plugin
 * (memmapcache), the gst-memmap tool and the tests of this tree only; the
 * header is not installed and nothing here is stable. Plain C, not
 * thread-safe: one user drives a GstMemmapCacheEntry. */
typedef struct _GstMemmapCacheDir GstMemmapCacheDir;
typedef struct _GstMemmapCacheEntry GstMemmapCacheEntry;

/* What the sidecar `meta` file says about a stream. */
typedef struct
{
  GstClockTime start;           /* pts of the stream's first frame */
  GstClockTime end;             /* end of its last frame, NONE if unknown */
  gboolean complete;            /* every frame of [start, end) is stored */
  /* read only: the entry the file says it belongs to (its hash), "-" for
   * a name that is not an entry's, "" when it does not say; written as
   * the entry's own hash by gst_memmap_cache_entry_write_meta() */
  gchar entry[65];
} GstMemmapCacheMeta;

/* How gst_memmap_cache_entry_open_existing() holds the entry. */
typedef enum
{
  /* a shared lock (taken without waiting) that keeps the entry from
   * eviction while it is open; the entry's last use is now */
  GST_MEMMAP_CACHE_ENTRY_LOCK = 0,
  /* no lock, nothing changed: to look at the entry (gst-memmap stats) */
  GST_MEMMAP_CACHE_ENTRY_INSPECT = 1,
} GstMemmapCacheEntryMode;

/* names and location */

GST_MEMMAP_API
gchar *gst_memmap_cache_dir_default_path (void);

GST_MEMMAP_API
gboolean gst_memmap_cache_is_hash_name (const gchar * name);

GST_MEMMAP_API
gboolean gst_memmap_cache_is_store_name (const gchar * name, guint * number);

GST_MEMMAP_API
gboolean gst_memmap_cache_meta_parse (const gchar * data, gsize len,
    GstMemmapCacheMeta * meta);

/* the budget policy (docs/elements.md, "Disk budget and eviction") */

GST_MEMMAP_API
guint64 gst_memmap_cache_estimate_stream_bytes (guint64 frame_bytes,
    gint fps_n, gint fps_d, GstClockTime duration);

GST_MEMMAP_API
guint64 gst_memmap_cache_stream_limit (guint64 max_size, guint64 estimate,
    gboolean * may_evict);

/* the directory */

GST_MEMMAP_API
GstMemmapCacheDir *gst_memmap_cache_dir_open (const gchar * path,
    GError ** error);

GST_MEMMAP_API
GstMemmapCacheDir *gst_memmap_cache_dir_open_existing (const gchar * path,
    GError ** error);

GST_MEMMAP_API
void gst_memmap_cache_dir_free (GstMemmapCacheDir * dir);

GST_MEMMAP_API
const gchar *gst_memmap_cache_dir_get_path (GstMemmapCacheDir * dir);

GST_MEMMAP_API
guint64 gst_memmap_cache_dir_enforce_budget (GstMemmapCacheDir * dir,
    guint64 max_size, guint64 reserve, const gchar * keep,
    guint * n_evicted);

GST_MEMMAP_API
guint64 gst_memmap_cache_dir_get_usage (GstMemmapCacheDir * dir);

GST_MEMMAP_API
gchar **gst_memmap_cache_dir_list_entries (GstMemmapCacheDir * dir,
    guint * n_evicting);

GST_MEMMAP_API
guint64 gst_memmap_cache_dir_get_index_usage (GstMemmapCacheDir * dir);

GST_MEMMAP_API
gchar *gst_memmap_cache_dir_index_lookup (GstMemmapCacheDir * dir,
    const gchar * index_key, guint * generation);

GST_MEMMAP_API
void gst_memmap_cache_dir_index_store (GstMemmapCacheDir * dir,
    const gchar * index_key, const gchar * hash, guint generation);

/* an entry */

GST_MEMMAP_API
GstMemmapCacheEntry *gst_memmap_cache_entry_open (GstMemmapCacheDir * dir,
    const gchar * hash, GError ** error);

GST_MEMMAP_API
GstMemmapCacheEntry *gst_memmap_cache_entry_open_existing (GstMemmapCacheDir *
    dir, const gchar * hash, GstMemmapCacheEntryMode mode, GError ** error);

GST_MEMMAP_API
void gst_memmap_cache_entry_close (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
const gchar *gst_memmap_cache_entry_get_path (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
const gchar *gst_memmap_cache_entry_get_hash (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
guint64 gst_memmap_cache_entry_get_usage (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
gint64 gst_memmap_cache_entry_get_last_use (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
gboolean gst_memmap_cache_entry_get_lock_id (GstMemmapCacheEntry * entry,
    gboolean writer, guint64 * dev, guint64 * ino);

GST_MEMMAP_API
gboolean gst_memmap_cache_entry_lock_writer (GstMemmapCacheEntry * entry,
    GError ** error);

GST_MEMMAP_API
void gst_memmap_cache_entry_unlock_writer (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
gchar **gst_memmap_cache_entry_list_stores (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
gchar *gst_memmap_cache_entry_new_store_path (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
void gst_memmap_cache_entry_remove_store (GstMemmapCacheEntry * entry,
    const gchar * path);

GST_MEMMAP_API
gboolean gst_memmap_cache_entry_clear (GstMemmapCacheEntry * entry);

GST_MEMMAP_API
gboolean gst_memmap_cache_entry_read_meta (GstMemmapCacheEntry * entry,
    GstMemmapCacheMeta * meta);

GST_MEMMAP_API
gboolean gst_memmap_cache_entry_write_meta (GstMemmapCacheEntry * entry,
    const GstMemmapCacheMeta * meta, GError ** error);

GST_MEMMAP_API
void gst_memmap_cache_entry_touch (GstMemmapCacheEntry * entry);

G_END_DECLS
