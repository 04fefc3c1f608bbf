/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The fault guard: a SIGBUS handler for the engine's own mappings.
 *
 * A page of a shared file mapping that lies past the end of the file (the
 * file was truncated by another program while mapped) raises SIGBUS when
 * it is touched. For a page inside a registered region the handler maps a
 * private anonymous page in its place (zeros; writes to it reach no file),
 * counts the fault on the region and lets the access go on; the owner of
 * the region learns of it through gst_memmap_fault_guard_get_faults() and
 * reports it as an error. A SIGBUS anywhere else goes to the handler that
 * was installed before ours, or ends the process as it would have.
 *
 * The table of regions has a fixed size and is read by the signal handler
 * without locks: a region that does not fit is not guarded (logged).
 * GST_MEMMAP_FAULT_GUARD=0 in the environment turns the guard off. */

/* Registers [addr, addr + size) with its protection (PROT_*). Returns the
 * region's id, or -1 when it is not guarded (table full, guard off). */
G_GNUC_INTERNAL
gint gst_memmap_fault_guard_add (gpointer addr, gsize size, gint prot);

/* Unregisters a region before it is unmapped; -1 is ignored. */
G_GNUC_INTERNAL
void gst_memmap_fault_guard_remove (gint id);

/* How many pages of the region were replaced after a fault; 0 for -1. */
G_GNUC_INTERNAL
guint gst_memmap_fault_guard_get_faults (gint id);

/* Pages replaced in this process since it started. */
G_GNUC_INTERNAL
guint64 gst_memmap_fault_guard_get_total_faults (void);

/* TRUE when the handler is installed. */
G_GNUC_INTERNAL
gboolean gst_memmap_fault_guard_is_active (void);

G_END_DECLS
