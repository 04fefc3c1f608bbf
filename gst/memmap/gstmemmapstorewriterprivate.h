/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of #GstMemmapStoreWriter share (gstmemmapstorewriter.c:
 * the type and its accessors; ...create.c: opening; ...slots.c: the slots
 * and the reservation of space; ...commit.c: the commit; ...close.c: the
 * close and the footprint). Not installed; include memmap.h first. */

#include <gst/gst.h>
#include "gstmemmapstoreformat.h"
#include "gstmemmapstoresync.h"

G_BEGIN_DECLS

#define NO_SLOT G_MAXUINT64

struct _GstMemmapStoreWriter
{
  gint refcount;                /* atomic */

  /* constant after creation */
  GstMemmapEngine *engine;
  gchar *path;
  GstCaps *caps;
  GstVideoInfo layout;
  GstMemmapStoreGeometry geo;
  guint spare_slots;
  gboolean reused;
  gboolean checksum;            /* GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM */
  gint fd;                      /* read-only, holds the flock */
  GstMemmapMapping *header_map;
  GstMemmapStoreHeader *hdr;    /* inside header_map */
  GstAllocator *allocator;      /* default for get_slot_memory */

  /* streaming thread */
  gboolean sync;
  guint64 *ring_slots;          /* ring: slot of the frame at each entry */
  guint64 *slot_frames;         /* ring: frame last committed in each slot,
                                 * for the readers' leases */

  GMutex lock;
  /* under lock */
  gboolean closed;
  gboolean damaged;             /* found truncated: commits nothing more */
  guint64 committed;
  GstClockTime last_pts;        /* of the last commit with a valid pts */
  guint64 chunks_reserved;
  guint64 next_slot;            /* append: the next slot never handed out */
  GArray *free_slots;           /* FIFO of free slots (guint64) */
  guint free_head;
  /* guint64 * -> acquired slots; the value is non-NULL once a memory of
   * the slot was handed out (gst_memmap_store_writer_get_slot_memory()):
   * the close keeps such a slot's blocks, see close_footprint() */
  GHashTable *outstanding;
  GstMemmapStoreMaps maps;      /* WRITE mappings of the store */
  /* append: the next chunk, reserved ahead of the producer and faulted in
   * by a thread of its own (go_ahead(), ...slots.c); the file's end grown
   * past the chunks_reserved published, 0 if none (the close punches it) */
  struct _GstMemmapStorePrefault *prefault;
  guint64 grown_end;
  guint64 bytes_prefaulted;     /* of the prefault thread, at close */
  /* stats */
  guint64 n_acquired;
  guint64 n_released;
  guint64 n_reservations;
  guint64 bytes_freed;          /* given back to the file system at close
                                 * and by releases after it */
};

/* gstmemmapstorewriterslots.c, under the writer's lock */
G_GNUC_INTERNAL
void gst_memmap_store_writer_free_push (GstMemmapStoreWriter * self,
    guint64 slot);

G_GNUC_INTERNAL
void gst_memmap_store_writer_reset_slots (GstMemmapStoreWriter * self);

G_GNUC_INTERNAL
gboolean gst_memmap_store_writer_check_whole (GstMemmapStoreWriter * self,
    GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_writer_ensure_chunk (GstMemmapStoreWriter * self,
    guint64 slot, GError ** error);

G_GNUC_INTERNAL
void gst_memmap_store_writer_stop_prefault (GstMemmapStoreWriter * self);

G_GNUC_INTERNAL
void gst_memmap_store_writer_punch_ahead (GstMemmapStoreWriter * self);

/* gstmemmapstorewriterclose.c, under the writer's lock */
G_GNUC_INTERNAL
void gst_memmap_store_writer_close_footprint (GstMemmapStoreWriter * self);

G_GNUC_INTERNAL
void gst_memmap_store_writer_punch_held_slot (GstMemmapStoreWriter * self,
    guint64 slot);

G_END_DECLS
