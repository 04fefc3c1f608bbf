/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the two files of memmapsink share: the element's struct, and the
 * streaming side (gstmemmapsinkstream.c) that gstmemmapsink.c's vmethods
 * call. Not installed. */

#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include "gstmemmapslotpool.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_sink_debug);

typedef struct
{
  gchar *location;
  GstMemmapStoreMode mode;
  guint64 max_frames;
  gboolean durable;
  gboolean reuse;
  guint64 chunk_size;
  gboolean checksum;
} Settings;

#define GST_TYPE_MEMMAP_SINK (gst_memmap_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstMemmapSink, gst_memmap_sink, GST, MEMMAP_SINK,
    GstBaseSink)

struct _GstMemmapSink
{
  GstBaseSink parent;

  /* under the object lock: the properties, the engine (set_context() comes
   * from any thread), whether a stream runs, and the counters */
  Settings settings;
  GstMemmapEngine *engine;
  gboolean running;
  guint64 frames_written;
  guint64 frames_zero_copy;
  guint64 frames_copied;
  guint64 bytes_written;

  /* state: what READY->PAUSED took from the settings, and the store opened
   * at the first caps; only the streaming thread touches it between
   * READY->PAUSED and PAUSED->READY */
  Settings cur;
  GstMemmapSlotStore *store;
  GstVideoInfo info;            /* of the current caps */
};

G_GNUC_INTERNAL
void gst_memmap_sink_close_store (GstMemmapSink * self);

G_GNUC_INTERNAL
void gst_memmap_sink_clear_state (GstMemmapSink * self);

G_GNUC_INTERNAL
gboolean gst_memmap_sink_set_caps (GstBaseSink * bsink, GstCaps * caps);

G_GNUC_INTERNAL
gboolean gst_memmap_sink_propose_allocation (GstBaseSink * bsink,
    GstQuery * query);

G_GNUC_INTERNAL
GstFlowReturn gst_memmap_sink_render (GstBaseSink * bsink,
    GstBuffer * buffer);

G_END_DECLS
