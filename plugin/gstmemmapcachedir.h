/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* GstMemmapCacheDir: the directory of memmapcache (docs/elements.md). One
 * subdirectory per cached stream, named by the SHA-256 of its identity:
 *
 *   CACHE-DIR/HASH/lock        users hold LOCK_SH, eviction takes LOCK_EX;
 *                              its mtime is the entry's last use (LRU)
 *   CACHE-DIR/HASH/write.lock  the one recorder of the stream: LOCK_EX
 *   CACHE-DIR/HASH/meta        key file: start, end, complete
 *   CACHE-DIR/HASH/sNNNNNN.store  frame stores, one per recording run
 *
 * Plain C, not thread-safe: one element drives a GstMemmapCacheEntry. */
typedef struct _GstMemmapCacheDir GstMemmapCacheDir;
typedef struct _GstMemmapCacheEntry GstMemmapCacheEntry;

/* What the sidecar `meta` file says about a stream. */
typedef struct
{
  GstClockTime start;           /* pts of the stream's first frame */
  GstClockTime end;             /* end of its last frame, NONE if unknown */
  gboolean complete;            /* every frame of [start, end) is stored */
} GstMemmapCacheMeta;

G_GNUC_INTERNAL
GstMemmapCacheDir *gst_memmap_cache_dir_open (const gchar * path,
    GError ** error);

G_GNUC_INTERNAL
void gst_memmap_cache_dir_free (GstMemmapCacheDir * dir);

G_GNUC_INTERNAL
const gchar *gst_memmap_cache_dir_get_path (GstMemmapCacheDir * dir);

G_GNUC_INTERNAL
guint64 gst_memmap_cache_dir_enforce_budget (GstMemmapCacheDir * dir,
    guint64 max_size, guint64 reserve, const gchar * keep,
    guint * n_evicted);

G_GNUC_INTERNAL
guint64 gst_memmap_cache_dir_get_usage (GstMemmapCacheDir * dir);

G_GNUC_INTERNAL
GstMemmapCacheEntry *gst_memmap_cache_entry_open (GstMemmapCacheDir * dir,
    const gchar * hash, GError ** error);

G_GNUC_INTERNAL
void gst_memmap_cache_entry_close (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
const gchar *gst_memmap_cache_entry_get_path (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
const gchar *gst_memmap_cache_entry_get_hash (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
guint64 gst_memmap_cache_entry_get_usage (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_entry_lock_writer (GstMemmapCacheEntry * entry,
    GError ** error);

G_GNUC_INTERNAL
void gst_memmap_cache_entry_unlock_writer (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
gchar **gst_memmap_cache_entry_list_stores (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
gchar *gst_memmap_cache_entry_new_store_path (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
void gst_memmap_cache_entry_remove_store (GstMemmapCacheEntry * entry,
    const gchar * path);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_entry_clear (GstMemmapCacheEntry * entry);

G_GNUC_INTERNAL
void gst_memmap_cache_entry_read_meta (GstMemmapCacheEntry * entry,
    GstMemmapCacheMeta * meta);

G_GNUC_INTERNAL
gboolean gst_memmap_cache_entry_write_meta (GstMemmapCacheEntry * entry,
    const GstMemmapCacheMeta * meta, GError ** error);

G_GNUC_INTERNAL
void gst_memmap_cache_entry_touch (GstMemmapCacheEntry * entry);

G_END_DECLS
