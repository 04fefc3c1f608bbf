/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of the slot pool share (gstmemmapslotpoolstore.c: the slot
 * store; gstmemmapslotpoollayout.c: the slots laid out for the producer;
 * gstmemmapslotpool.c: the GstBufferPool): the store's struct, the debug
 * category and the layout helpers.
 */
#pragma once

#include "gstmemmapslotpool.h"
#include "gstmemmapprefault.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_slot_pool_debug);

struct _GstMemmapSlotStore
{
  gint ref_count;

  /* guards the writer pointer and the fields below. Acquiring a slot may
   * wait for ring readers to let go of one (leases), so it runs outside
   * this lock, counted in @users: commits, which free ring slots, must not
   * queue behind it. Close waits for @users to drain before freeing. */
  GMutex lock;
  GCond idle;
  guint users;
  GstMemmapStoreWriter *writer; /* NULL once closed */
  /* the writer once closed, freed with the last reference (every slot
   * memory holds one): the slots outstanding at the close keep their
   * blocks (their memories may still be read) until released, see
   * gst_memmap_slot_store_release(). It keeps the store's flock, so that
   * no new writer reuses the file under those memories. */
  GstMemmapStoreWriter *closed_writer;
  guint64 committed;            /* frames committed, kept after close */
  gboolean full;                /* append: max-frames reached */
  GstStructure *final_stats;    /* the writer's stats when it closed */

  /* Relayout (gst_memmap_slot_store_allow_relayout()): what the writer was
   * opened with, to open it again with a padded layout while it is
   * untouched: no slot was ever acquired from it. @generation counts the
   * writers opened (readers of the file open it again when it moves). */
  gboolean may_relayout;
  gboolean touched;
  gint slot_copies;             /* slot_mem_copy()s, atomic */

  /* append: slots acquired and faulted in ahead by a thread, from the
   * first acquire to the close (gstmemmapprefault.c) */
  GstMemmapPrefault *prefault;
  gboolean prefault_off;        /* none: a ring, unsupported, or turned off */
  guint64 prefaulted;           /* bytes, counted when it stopped */
  guint generation;
  GstMemmapEngine *engine;
  GstCaps *caps;
  guint64 chunk_bytes;
  GstMemmapStoreWriterFlags flags;

  /* constant, but for @layout, set by a relayout before any slot */
  gchar *path;
  GstVideoInfo layout;
  guint max_outstanding;
  GstAllocator *allocator;
};

G_GNUC_INTERNAL
void gst_memmap_slot_pool_debug_init (void);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_store_ensure_layout (GstMemmapSlotStore * store,
    const GstVideoInfo * layout);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_pool_same_plane_layout (const GstVideoInfo * a,
    const GstVideoInfo * b);

G_GNUC_INTERNAL
gboolean gst_memmap_slot_pool_aligned_layout (GstStructure * config,
    const GstVideoInfo * info, GstVideoAlignment * align,
    GstVideoInfo * aligned);

G_END_DECLS
