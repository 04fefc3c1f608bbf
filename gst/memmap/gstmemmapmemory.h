/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>
#include <gst/memmap/gstmemmapengine.h>

G_BEGIN_DECLS

/**
 * GST_MEMMAP_MEMORY_TYPE:
 *
 * The mem_type of memory from a #GstMemmapAllocator.
 */
#define GST_MEMMAP_MEMORY_TYPE "memmap"

#define GST_TYPE_MEMMAP_ALLOCATOR (gst_memmap_allocator_get_type ())
GST_MEMMAP_API
G_DECLARE_FINAL_TYPE (GstMemmapAllocator, gst_memmap_allocator, GST,
    MEMMAP_ALLOCATOR, GstAllocator)

GST_MEMMAP_API
GstAllocator *gst_memmap_allocator_new (void);

GST_MEMMAP_API
GstMemory *gst_memmap_allocator_wrap (GstAllocator * allocator,
    GstMemmapMapping * mapping, guint64 file_offset, gsize size);

GST_MEMMAP_API
gboolean gst_is_memmap_memory (GstMemory * mem);

GST_MEMMAP_API
GstMemmapMapping *gst_memmap_memory_get_mapping (GstMemory * mem);

GST_MEMMAP_API
gint gst_memmap_memory_get_fd (GstMemory * mem);

GST_MEMMAP_API
guint64 gst_memmap_memory_get_file_offset (GstMemory * mem);

GST_MEMMAP_API
const gchar *gst_memmap_memory_get_path (GstMemory * mem);

G_END_DECLS
