/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one header consumers include: #include <gst/memmap/memmap.h> */
#include <gst/memmap/memmap-prelude.h>
#include <gst/memmap/gstmemmaperror.h>
#include <gst/memmap/gstmemmapengine.h>
#include <gst/memmap/gstmemmapmemory.h>
#include <gst/memmap/gstmemmapstore.h>
#include <gst/memmap/gstmemmapstoresession.h>
#include <gst/memmap/gstmemmapframes.h>
#include <gst/memmap/gstmemmap-enumtypes.h>

G_BEGIN_DECLS

GST_MEMMAP_API
void gst_memmap_init (void);

G_END_DECLS
