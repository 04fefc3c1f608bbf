/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

/* Exported symbols go through GST_MEMMAP_API; everything else in the library
 * is hidden (the library is built with -fvisibility=hidden). */
#ifndef GST_MEMMAP_API
#ifdef BUILDING_GST_MEMMAP
#define GST_MEMMAP_API GST_API_EXPORT
#else
#define GST_MEMMAP_API GST_API_IMPORT
#endif
#endif
