/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>

G_BEGIN_DECLS

/**
 * GST_MEMMAP_ERROR:
 *
 * The error domain of every #GError that libgstmemmap reports.
 */
#define GST_MEMMAP_ERROR (gst_memmap_error_quark ())

/**
 * GstMemmapError:
 * @GST_MEMMAP_ERROR_NOT_FOUND: the file does not exist
 * @GST_MEMMAP_ERROR_PERMISSION_DENIED: the file may not be opened as asked
 * @GST_MEMMAP_ERROR_IS_DIRECTORY: the path names a directory
 * @GST_MEMMAP_ERROR_EMPTY_FILE: the file holds no bytes to map
 * @GST_MEMMAP_ERROR_NO_SPACE: the file system has no room for the reservation
 * @GST_MEMMAP_ERROR_INVALID_ARGUMENT: an argument is out of range (offset
 *   past the end of the file, absurd size, ...)
 * @GST_MEMMAP_ERROR_IO: any other system error
 * @GST_MEMMAP_ERROR_OVER_BUDGET: the request can never fit under the engine's
 *   max-mapped-bytes (map it in windows instead)
 * @GST_MEMMAP_ERROR_CORRUPT: a frame store's header or index is invalid,
 *   truncated or hostile
 * @GST_MEMMAP_ERROR_VERSION: a frame store of a format version this library
 *   cannot read
 * @GST_MEMMAP_ERROR_TRUNCATED: the file was truncated by someone else while
 *   it was mapped (see gst_memmap_mapping_check())
 *
 * Error codes of the #GST_MEMMAP_ERROR domain. Every message names the file.
 */
typedef enum
{
  GST_MEMMAP_ERROR_NOT_FOUND,
  GST_MEMMAP_ERROR_PERMISSION_DENIED,
  GST_MEMMAP_ERROR_IS_DIRECTORY,
  GST_MEMMAP_ERROR_EMPTY_FILE,
  GST_MEMMAP_ERROR_NO_SPACE,
  GST_MEMMAP_ERROR_INVALID_ARGUMENT,
  GST_MEMMAP_ERROR_IO,
  GST_MEMMAP_ERROR_OVER_BUDGET,
  GST_MEMMAP_ERROR_CORRUPT,
  GST_MEMMAP_ERROR_VERSION,
  GST_MEMMAP_ERROR_TRUNCATED,
} GstMemmapError;

GST_MEMMAP_API
GQuark gst_memmap_error_quark (void);

GST_MEMMAP_API
GstMemmapError gst_memmap_error_from_errno (gint err_no);

G_END_DECLS
