/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/memmap/memmap.h>

G_BEGIN_DECLS

/* GstMemmapPrefault: a thread that faults in the pages of the next slots
 * of an append store ahead of the producer (gstmemmapprefault.c). */
typedef struct _GstMemmapPrefault GstMemmapPrefault;

G_GNUC_INTERNAL
GstMemmapPrefault *gst_memmap_prefault_new (gsize ahead);

G_GNUC_INTERNAL
void gst_memmap_prefault_after (GstMemmapPrefault * self, GstMemory * slot);

G_GNUC_INTERNAL
guint64 gst_memmap_prefault_free (GstMemmapPrefault * self);

G_END_DECLS
