/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"

#include <errno.h>

/**
 * gst_memmap_error_quark:
 *
 * The quark of the #GST_MEMMAP_ERROR error domain.
 *
 * Returns: the error domain of libgstmemmap's errors
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (gst - memmap - error - quark, gst_memmap_error);

/**
 * gst_memmap_error_from_errno:
 * @err_no: an errno value
 *
 * Maps an errno value to the #GstMemmapError code that libgstmemmap reports
 * for it.
 *
 * Returns: the #GstMemmapError that best describes @err_no.
 */
GstMemmapError
gst_memmap_error_from_errno (gint err_no)
{
  switch (err_no) {
    case ENOENT:
    case ENOTDIR:
      return GST_MEMMAP_ERROR_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EROFS:
    case ETXTBSY:
      return GST_MEMMAP_ERROR_PERMISSION_DENIED;
    case EISDIR:
      return GST_MEMMAP_ERROR_IS_DIRECTORY;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return GST_MEMMAP_ERROR_NO_SPACE;
    case EINVAL:
    case EOVERFLOW:
    case ENAMETOOLONG:
      return GST_MEMMAP_ERROR_INVALID_ARGUMENT;
    default:
      return GST_MEMMAP_ERROR_IO;
  }
}
