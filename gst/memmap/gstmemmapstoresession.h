/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>
#include <gst/memmap/gstmemmapstore.h>

G_BEGIN_DECLS

/**
 * GstMemmapStoreWaitResult:
 * @GST_MEMMAP_STORE_WAIT_CHANGED: the store may have changed (a frame was
 *   committed, the store was closed or reused, or another reader woke the
 *   waiters): look again
 * @GST_MEMMAP_STORE_WAIT_TIMEOUT: nothing happened before the timeout
 * @GST_MEMMAP_STORE_WAIT_INTERRUPTED: gst_memmap_store_session_interrupt()
 *   was called
 *
 * What gst_memmap_store_session_wait() returns.
 *
 * Since: 0.1
 */
typedef enum
{
  GST_MEMMAP_STORE_WAIT_CHANGED,
  GST_MEMMAP_STORE_WAIT_TIMEOUT,
  GST_MEMMAP_STORE_WAIT_INTERRUPTED,
} GstMemmapStoreWaitResult;

/* A reader process's link to the shared part of a store's header: the
 * wake-ups of gst_memmap_store_session_wait() and the ring leases of
 * gst_memmap_store_session_get_buffer(). Refcounted; thread-safe. */
typedef struct _GstMemmapStoreSession GstMemmapStoreSession;

#define GST_TYPE_MEMMAP_STORE_SESSION (gst_memmap_store_session_get_type ())
GST_MEMMAP_API
GType gst_memmap_store_session_get_type (void);

GST_MEMMAP_API
GstMemmapStoreSession *gst_memmap_store_session_new (
    GstMemmapStoreReader * reader, GError ** error);

GST_MEMMAP_API
GstMemmapStoreSession *gst_memmap_store_session_ref (
    GstMemmapStoreSession * session);

GST_MEMMAP_API
void gst_memmap_store_session_unref (GstMemmapStoreSession * session);

GST_MEMMAP_API
gboolean gst_memmap_store_session_is_writable (
    GstMemmapStoreSession * session);

GST_MEMMAP_API
gboolean gst_memmap_store_session_has_lease (GstMemmapStoreSession * session);

GST_MEMMAP_API
GstMemmapStoreWaitResult gst_memmap_store_session_wait (
    GstMemmapStoreSession * session, guint64 committed, gint64 timeout_us);

GST_MEMMAP_API
void gst_memmap_store_session_interrupt (GstMemmapStoreSession * session);

GST_MEMMAP_API
void gst_memmap_store_session_resume (GstMemmapStoreSession * session);

GST_MEMMAP_API
gboolean gst_memmap_store_session_writer_alive (
    GstMemmapStoreSession * session);

GST_MEMMAP_API
GstBuffer *gst_memmap_store_session_get_buffer (
    GstMemmapStoreSession * session, GstMemmapStoreReader * reader,
    GstAllocator * allocator, guint64 frame, gboolean * copied,
    GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMemmapStoreSession,
    gst_memmap_store_session_unref)

G_END_DECLS
