/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

G_BEGIN_DECLS

/* GstMemmapSlotStore: a frame store writer shared, under a lock, by the
 * element that opened it and the slot pools it offered upstream. Pool buffers
 * come back from any thread, possibly after the element closed the store, so
 * the writer lives in this refcounted holder: once closed, acquiring fails
 * and releasing is a no-op. */
typedef struct _GstMemmapSlotStore GstMemmapSlotStore;

G_GNUC_INTERNAL
GstMemmapSlotStore *gst_memmap_slot_store_new (GstMemmapStoreWriter * writer);

G_GNUC_INTERNAL
GstMemmapSlotStore *gst_memmap_slot_store_ref (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
void gst_memmap_slot_store_unref (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
const GstVideoInfo *gst_memmap_slot_store_get_layout (
    GstMemmapSlotStore * store);

G_GNUC_INTERNAL
guint gst_memmap_slot_store_get_max_outstanding (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
void gst_memmap_slot_store_allow_relayout (GstMemmapSlotStore * store,
    GstMemmapEngine * engine, GstCaps * caps, guint64 chunk_bytes,
    GstMemmapStoreWriterFlags flags);

G_GNUC_INTERNAL
guint gst_memmap_slot_store_get_generation (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
GstMemory *gst_memmap_slot_store_acquire (GstMemmapSlotStore * store,
    guint64 * slot, GError ** error);

G_GNUC_INTERNAL
void gst_memmap_slot_store_release (GstMemmapSlotStore * store, guint64 slot);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_store_owns_memory (GstMemmapSlotStore * store,
    GstMemory * mem);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_store_commit (GstMemmapSlotStore * store,
    GstMemory * mem, GstClockTime pts, GstClockTime duration, guint32 flags,
    GError ** error);

G_GNUC_INTERNAL
guint64 gst_memmap_slot_store_get_committed (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_store_close (GstMemmapSlotStore * store,
    GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_store_is_closed (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_store_is_full (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
GstStructure *gst_memmap_slot_store_get_stats (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
GstMemory *gst_memmap_slot_store_copy_frame (GstMemmapSlotStore * store,
    const GstVideoFrame * in_frame, GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMemmapSlotStore, gst_memmap_slot_store_unref)

/* GstMemmapSlotPool: a GstBufferPool whose every buffer handed out is one
 * freshly acquired store slot (a single memmap memory, writable, with a
 * GstVideoMeta giving the store's offsets and strides when the
 * GST_BUFFER_POOL_OPTION_VIDEO_META option is set). With
 * GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT the slots are laid out as the
 * alignment asks (the store opened again with that layout while untouched,
 * see gst_memmap_slot_store_allow_relayout()), or the config is refused. A buffer that returns to
 * the pool without having been committed gives its slot back to the store;
 * buffers are never recycled, since a committed slot belongs to the store. */
#define GST_TYPE_MEMMAP_SLOT_POOL (gst_memmap_slot_pool_get_type ())
G_GNUC_INTERNAL
G_DECLARE_FINAL_TYPE (GstMemmapSlotPool, gst_memmap_slot_pool, GST,
    MEMMAP_SLOT_POOL, GstBufferPool)

G_GNUC_INTERNAL
GstBufferPool *gst_memmap_slot_pool_new (GstMemmapSlotStore * store);

G_GNUC_INTERNAL
GstMemory *gst_memmap_slot_pool_get_buffer_slot (GstMemmapSlotStore * store,
    GstBuffer * buffer);

G_END_DECLS
