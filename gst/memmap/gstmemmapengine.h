/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>

G_BEGIN_DECLS

/**
 * GstMemmapMapFlags:
 * @GST_MEMMAP_MAP_NONE: a read-only shared mapping of the file (cached by
 *   device, inode, size and mtime): it sees what others write into the file
 *   later, whatever its size
 * @GST_MEMMAP_MAP_WRITE: a shared read-write mapping: writes reach the file
 * @GST_MEMMAP_MAP_SEQUENTIAL: the mapping will be read front to back
 *   (madvise sequential and will-need)
 * @GST_MEMMAP_MAP_VOLATILE: the file grows while mapped (a store that is
 *   still being written): identified by device and inode only, and never
 *   served by read()
 * @GST_MEMMAP_MAP_COPY_SMALL: a read-only file smaller than
 *   #GstMemmapEngine:read-threshold may be served by a private read() copy
 *   instead of a mapping: cheaper for small files, but a snapshot that does
 *   not see later writes (Since: 0.2)
 * @GST_MEMMAP_MAP_COPY_ON_WRITE: a private writable mapping of the file
 *   (MAP_PRIVATE): reads see the file's pages, a write gives the process a
 *   private copy of the page written and never reaches the file. Never
 *   cached nor shared with another caller; its written pages are counted
 *   in the `cow-private-bytes` statistic (Since: 0.2)
 *
 * How a file is mapped.
 */
typedef enum
{
  GST_MEMMAP_MAP_NONE = 0,
  GST_MEMMAP_MAP_WRITE = (1 << 0),
  GST_MEMMAP_MAP_SEQUENTIAL = (1 << 1),
  GST_MEMMAP_MAP_VOLATILE = (1 << 2),
  GST_MEMMAP_MAP_COPY_SMALL = (1 << 3),
  GST_MEMMAP_MAP_COPY_ON_WRITE = (1 << 4),
} GstMemmapMapFlags;

/**
 * GstMemmapMapping:
 *
 * A refcounted handle on a region of a file that the engine has mapped (or,
 * for small read-only files mapped with %GST_MEMMAP_MAP_COPY_SMALL, read
 * into memory). The region stays valid, at
 * the same address, until the last reference is dropped; after that the
 * engine keeps it cached until its LRU evicts it.
 */
typedef struct _GstMemmapMapping GstMemmapMapping;

#define GST_TYPE_MEMMAP_MAPPING (gst_memmap_mapping_get_type ())
GST_MEMMAP_API
GType gst_memmap_mapping_get_type (void);

#define GST_TYPE_MEMMAP_ENGINE (gst_memmap_engine_get_type ())
GST_MEMMAP_API
G_DECLARE_FINAL_TYPE (GstMemmapEngine, gst_memmap_engine, GST, MEMMAP_ENGINE,
    GstObject)

GST_MEMMAP_API
GstMemmapEngine *gst_memmap_engine_get_default (void);

GST_MEMMAP_API
GstMemmapEngine *gst_memmap_engine_new (void);

GST_MEMMAP_API
GstMemmapMapping *gst_memmap_engine_map_file (GstMemmapEngine * engine,
    const gchar * path, GstMemmapMapFlags flags, GError ** error);

GST_MEMMAP_API
GstMemmapMapping *gst_memmap_engine_map_range (GstMemmapEngine * engine,
    const gchar * path, guint64 offset, guint64 size, GstMemmapMapFlags flags,
    GError ** error);

GST_MEMMAP_API
GstMemmapMapping *gst_memmap_engine_create_file (GstMemmapEngine * engine,
    const gchar * path, guint64 size, GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_engine_reserve_file (GstMemmapEngine * engine,
    const gchar * path, guint64 size, GError ** error);

GST_MEMMAP_API
guint gst_memmap_engine_unmap (GstMemmapEngine * engine, const gchar * path);

GST_MEMMAP_API
void gst_memmap_engine_clear_all (GstMemmapEngine * engine);

GST_MEMMAP_API
GstStructure *gst_memmap_engine_get_stats (GstMemmapEngine * engine);

GST_MEMMAP_API
guint64 gst_memmap_engine_get_max_mapped_bytes (GstMemmapEngine * engine);

GST_MEMMAP_API
guint64 gst_memmap_engine_get_window_size (GstMemmapEngine * engine);

/**
 * GST_MEMMAP_ENGINE_CONTEXT_TYPE:
 *
 * The type of the #GstContext that gives elements a #GstMemmapEngine
 * (see gst_memmap_engine_context_new()).
 *
 * Since: 0.1
 */
#define GST_MEMMAP_ENGINE_CONTEXT_TYPE "gst.memmap.engine"

GST_MEMMAP_API
GstContext *gst_memmap_engine_context_new (GstMemmapEngine * engine);

GST_MEMMAP_API
GstMemmapEngine *gst_memmap_engine_from_context (GstContext * context);

GST_MEMMAP_API
GstMemmapMapping *gst_memmap_mapping_ref (GstMemmapMapping * mapping);

GST_MEMMAP_API
void gst_memmap_mapping_unref (GstMemmapMapping * mapping);

GST_MEMMAP_API
guint8 *gst_memmap_mapping_get_data (GstMemmapMapping * mapping);

GST_MEMMAP_API
guint8 *gst_memmap_mapping_data_at (GstMemmapMapping * mapping,
    guint64 file_offset, guint64 size);

GST_MEMMAP_API
gsize gst_memmap_mapping_get_size (GstMemmapMapping * mapping);

GST_MEMMAP_API
guint64 gst_memmap_mapping_get_offset (GstMemmapMapping * mapping);

GST_MEMMAP_API
guint64 gst_memmap_mapping_get_file_size (GstMemmapMapping * mapping);

GST_MEMMAP_API
const gchar *gst_memmap_mapping_get_path (GstMemmapMapping * mapping);

GST_MEMMAP_API
gint gst_memmap_mapping_get_fd (GstMemmapMapping * mapping);

GST_MEMMAP_API
gboolean gst_memmap_mapping_is_writable (GstMemmapMapping * mapping);

GST_MEMMAP_API
gboolean gst_memmap_mapping_is_copy_on_write (GstMemmapMapping * mapping);

GST_MEMMAP_API
gboolean gst_memmap_mapping_is_mmapped (GstMemmapMapping * mapping);

GST_MEMMAP_API
gboolean gst_memmap_mapping_check (GstMemmapMapping * mapping,
    GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_mapping_flush (GstMemmapMapping * mapping,
    guint64 file_offset, guint64 size, GError ** error);

GST_MEMMAP_API
GBytes *gst_memmap_mapping_get_bytes (GstMemmapMapping * mapping);

GST_MEMMAP_API
guint64 gst_memmap_mapping_get_address (GstMemmapMapping * mapping);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMemmapMapping, gst_memmap_mapping_unref)

G_END_DECLS
