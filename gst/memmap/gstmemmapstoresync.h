/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared, writable part of a store's header: the futex words that wake
 * readers waiting for frames (gstmemmapstorenotify.c) and the lease table
 * that keeps a ring writer off the slots readers still hold
 * (gstmemmapstorelease.c). docs/store-format.md, "Wake-ups and leases".
 */
#pragma once

#include "gstmemmapstoreformat.h"
#include "gstmemmapstoresession.h"

G_BEGIN_DECLS

/* how long a ring writer waits for readers to let go of the slots it
 * could reuse before acquire_slot fails */
#define GST_MEMMAP_STORE_LEASE_WAIT_US (2 * G_USEC_PER_SEC)

/* slot_frames[] of a slot that holds no frame a reader could hold */
#define GST_MEMMAP_STORE_NO_FRAME G_MAXUINT64

struct _GstMemmapStoreSession
{
  gint ref_count;

  /* constant */
  gchar *path;
  gint fd;
  GstMemmapStoreHeader *hdr;    /* our own MAP_SHARED mapping of the page */
  gint guard_id;                /* hdr's region in the fault guard, or -1 */
  gboolean writable;            /* read-write: may wait as a registered
                                 * waiter and hold a lease */
  GstMemmapStoreMode mode;
  guint64 max_span;             /* ring: frames a lease may span while the
                                 * store is open */

  gint interrupted;             /* atomic */

  GMutex lock;
  /* under lock */
  gint lease;                   /* index in hdr->leases, -1: none */
  GArray *held;                 /* guint64 frames held, sorted, repeated */
  guint64 last_committed;       /* writer liveness: progress seen */
  gint64 last_progress;
};

/* futex on a word of a MAP_SHARED mapping (not FUTEX_PRIVATE) */
G_GNUC_INTERNAL
gint gst_memmap_store_futex_wait (guint32 * addr, guint32 val,
    gint64 timeout_us);

G_GNUC_INTERNAL
void gst_memmap_store_futex_wake (guint32 * addr);

/* TRUE unless @pid is gone (or, when @start is not 0, now names another
 * process than the one that started at @start) */
G_GNUC_INTERNAL
gboolean gst_memmap_store_pid_alive (guint32 pid, guint64 start);

G_GNUC_INTERNAL
guint64 gst_memmap_store_pid_start_time (guint32 pid);

/* writer: after every store to committed or state */
G_GNUC_INTERNAL
void gst_memmap_store_notify_commit (GstMemmapStoreHeader * hdr);

/* writer: picks among the free slots @slots[0 .. n_slots) the first one
 * whose last frame (@slot_frames[slot]) no live lease covers */
G_GNUC_INTERNAL
guint32 gst_memmap_store_leases_seen (GstMemmapStoreHeader * hdr);

G_GNUC_INTERNAL
gboolean gst_memmap_store_leases_pick (GstMemmapStoreHeader * hdr,
    const guint64 * slots, guint n_slots, const guint64 * slot_frames,
    guint * index, guint32 * holder);

G_GNUC_INTERNAL
gboolean gst_memmap_store_leases_wait (GstMemmapStoreHeader * hdr,
    guint32 seen, gint64 deadline);

/* session: gives back the lease (the session is going away) */
G_GNUC_INTERNAL
void gst_memmap_store_session_drop_lease (GstMemmapStoreSession * session);

G_GNUC_INTERNAL
void gst_memmap_store_session_claim_lease (GstMemmapStoreSession * session);

/* reader.c */
G_GNUC_INTERNAL
gint gst_memmap_store_reader_get_fd (GstMemmapStoreReader * reader);

/* ring: slots_per_chunk - max_frames as validated at open; append: 0 */
G_GNUC_INTERNAL
guint64 gst_memmap_store_reader_get_spare_slots (GstMemmapStoreReader *
    reader);

G_END_DECLS
