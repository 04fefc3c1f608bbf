/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/memmap/memmap.h>

G_BEGIN_DECLS

G_GNUC_INTERNAL
gboolean gst_memmap_context_handle_set_context (GstElement * element,
    GstContext * context, GstMemmapEngine ** engine);

G_GNUC_INTERNAL
gboolean gst_memmap_context_handle_query (GstElement * element,
    GstQuery * query, GstMemmapEngine ** engine);

G_GNUC_INTERNAL
GstMemmapEngine *gst_memmap_context_ensure_engine (GstElement * element,
    GstMemmapEngine ** engine);

G_GNUC_INTERNAL
void gst_memmap_context_forget_engine (GstElement * element,
    GstMemmapEngine ** engine);

G_GNUC_INTERNAL
void gst_memmap_context_add_engine_stats (GstStructure * stats,
    GstMemmapEngine * engine);

G_END_DECLS
