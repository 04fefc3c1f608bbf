/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>

G_BEGIN_DECLS

/* PRIVATE API of libgstmemmap, for the tests and benchmarks of this tree:
 * not installed, not stable. Counters of the frames API's recordings in
 * this process (gstmemmapframesrecording.c), a `memmap-recordings-stats`
 * structure:
 *
 * - `recordings-started` (guint64): pipelines the frames API started
 * - `recordings-from-seek` (guint64): of those, started from a seek
 * - `recordings-live` (guint): recordings not freed yet
 * - `recordings-seeked-again` (guint64): windows answered by seeking a
 *   live recording rather than starting a pipeline
 * - `frames-decoded` (guint64): frames their video decoders output */
GST_MEMMAP_API
GstStructure *gst_memmap_frames_get_recordings_stats (void);

G_END_DECLS
