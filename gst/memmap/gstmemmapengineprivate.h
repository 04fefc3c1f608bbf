/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of #GstMemmapEngine share (gstmemmapengine.c: the
 * GObject, the public API and the stats; gstmemmapenginelru.c: the cache
 * under the engine lock; gstmemmapengineacquire.c: the lookup and the miss
 * path; gstmemmapenginefile.c: file creation and space reservation), and
 * what gstmemmapmapping.c needs: the layout of a #GstMemmapMapping and the
 * engine's end of its last unref. Not installed; include memmap.h first. */

#include <gst/gst.h>
#include <sys/stat.h>

G_BEGIN_DECLS

typedef enum
{
  KEY_KIND_STABLE = 0,          /* read-only, keyed on size and mtime too */
  KEY_KIND_VOLATILE = 1,        /* read-only of a growing file */
  KEY_KIND_WRITABLE = 2,        /* shared read-write */
  KEY_KIND_COPY = 3,            /* read-only, a read() copy allowed: keyed
                                 * like STABLE, never shared with it */
  KEY_KIND_PRIVATE = 4,         /* copy-on-write: never in the cache */
} KeyKind;

typedef struct
{
  guint64 dev;
  guint64 ino;
  /* size and mtime only for KEY_KIND_STABLE and _COPY, zero otherwise */
  gint64 size;
  gint64 mtime_sec;
  gint64 mtime_nsec;
  guint64 win_offset;
  guint64 win_length;
  KeyKind kind;
} MappingKey;

struct _GstMemmapMapping
{
  /* atomic; transitions to and from 0 happen under the engine lock */
  gint refcount;

  /* set at creation, constant afterwards; the engine is reffed while
   * refcount > 0 */
  GstMemmapEngine *engine;
  MappingKey key;
  gchar *path;
  gint fd;
  guint8 *data;
  gsize size;
  guint64 offset;
  guint64 file_size;
  gboolean writable;            /* shared read-write */
  gboolean cow;                 /* private read-write (copy-on-write) */
  gboolean mmapped;
  gint guard_id;                /* in the fault guard, or -1 */

  /* under the engine lock */
  GList link;                   /* in engine->lru while refcount == 0 */
  gboolean in_lru;
  gboolean cached;              /* in engine->cache; FALSE = doomed */
};

G_GNUC_INTERNAL
void gst_memmap_engine_release_mapping (GstMemmapMapping * mapping);

struct _GstMemmapEngine
{
  GstObject parent;

  GMutex lock;

  /* settings, under lock */
  guint64 max_mapped_bytes;
  guint64 window_size;
  guint64 read_threshold;
  guint max_mappings;

  /* state, under lock */
  GHashTable *cache;            /* MappingKey* -> GstMemmapMapping* */
  GQueue lru;                   /* head = most recently used, refcount 0 */
  guint pending;                /* misses between reservation and insert */

  /* stats, under lock */
  guint64 maps;
  guint64 hits;
  guint64 misses;
  guint64 evictions;
  guint64 mapped_bytes;         /* cached + in use + reserved by misses */
  guint64 peak_mapped_bytes;
  guint64 active_maps;
  guint64 in_use_maps;
  guint64 bytes_mapped_total;
  guint64 map_time_ns;
  guint64 reads;
  guint64 over_budget;
  GList *cow_maps;              /* live copy-on-write mappings, not cached */
};

/* the system's page size, set by the engine's class_init */
G_GNUC_INTERNAL extern guint64 gst_memmap_engine_page_size;

static inline guint64
gst_memmap_engine_align_down (guint64 v)
{
  return v & ~(gst_memmap_engine_page_size - 1);
}

/* Callers make sure that @v + page_size - 1 does not overflow. */
static inline guint64
gst_memmap_engine_align_up (guint64 v)
{
  return (v + gst_memmap_engine_page_size - 1) &
      ~(gst_memmap_engine_page_size - 1);
}

/* What a caller asks the engine for: the whole file (map_file), or the
 * range [offset, offset + size) served from the standard window of the
 * engine (window_size 0) or from the caller's own window
 * [window_offset, window_offset + window_size) (page-aligned) */
typedef struct
{
  gboolean whole;
  guint64 offset;
  guint64 size;
  guint64 window_offset;
  guint64 window_size;
} MapRequest;


/* gstmemmapenginelru.c; the _locked ones under the engine lock */
G_GNUC_INTERNAL
guint gst_memmap_mapping_key_hash (gconstpointer p);

G_GNUC_INTERNAL
gboolean gst_memmap_mapping_key_equal (gconstpointer pa, gconstpointer pb);

G_GNUC_INTERNAL
void gst_memmap_engine_evict_one_locked (GstMemmapEngine * self,
    GQueue * to_destroy);

G_GNUC_INTERNAL
void gst_memmap_engine_make_room_locked (GstMemmapEngine * self,
    guint64 extra, guint extra_maps, GQueue * to_destroy);

G_GNUC_INTERNAL
void gst_memmap_engine_ref_cached_locked (GstMemmapEngine * self,
    GstMemmapMapping * m);

G_GNUC_INTERNAL
void gst_memmap_engine_drop_locked (GstMemmapEngine * self,
    GstMemmapMapping * m, GQueue * to_destroy);

G_GNUC_INTERNAL
void gst_memmap_mapping_destroy (GstMemmapMapping * m);

G_GNUC_INTERNAL
void gst_memmap_engine_destroy_queue (GQueue * q);

G_GNUC_INTERNAL
guint gst_memmap_engine_evict_unused (GstMemmapEngine * self);

/* gstmemmapengineacquire.c, no lock held */
G_GNUC_INTERNAL
void gst_memmap_set_errno_error (GError ** error, gint err_no,
    const gchar * what, const gchar * path, const gchar * how);

G_GNUC_INTERNAL
gboolean gst_memmap_check_regular (const struct stat *st, const gchar * path,
    GError ** error);

G_GNUC_INTERNAL
gint gst_memmap_engine_open_retry (GstMemmapEngine * self,
    const gchar * path, gint flags, mode_t mode);

G_GNUC_INTERNAL
GstMemmapMapping *gst_memmap_engine_acquire (GstMemmapEngine * self,
    const gchar * path, const MapRequest * req, GstMemmapMapFlags flags,
    gint fd, gboolean fd_owned, GError ** error);

/* gstmemmapenginefile.c */
G_GNUC_INTERNAL
guint gst_memmap_engine_drop_file (GstMemmapEngine * self,
    const gchar * path, const struct stat *st);

G_END_DECLS
