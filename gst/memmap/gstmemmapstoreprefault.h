/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A store writer's prefault thread: faults the pages of the next chunk of
 * an append store into the writer's shared mapping before the producer
 * writes them, off the streaming thread (docs/design.md, "Writing a new
 * store").
 */
#pragma once

#include "memmap.h"

G_BEGIN_DECLS

typedef struct _GstMemmapStorePrefault GstMemmapStorePrefault;

G_GNUC_INTERNAL
GstMemmapStorePrefault *gst_memmap_store_prefault_new (const gchar * path);

G_GNUC_INTERNAL
void gst_memmap_store_prefault_push (GstMemmapStorePrefault * pf,
    GstMemmapMapping * mapping, guint64 offset, guint64 size);

G_GNUC_INTERNAL
void gst_memmap_store_prefault_set_position (GstMemmapStorePrefault * pf,
    guint64 offset);

G_GNUC_INTERNAL
guint64 gst_memmap_store_prefault_get_bytes (GstMemmapStorePrefault * pf);

G_GNUC_INTERNAL
void gst_memmap_store_prefault_free (GstMemmapStorePrefault * pf);

G_END_DECLS
