/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Accessors of a GstMemmapMapping's bytes for language bindings (GObject
 * introspection): a GBytes that is the mapping's memory, and its address
 * as a plain integer for numpy/ctypes. Neither copies anything.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"

/**
 * gst_memmap_mapping_get_bytes:
 * @mapping: a #GstMemmapMapping
 *
 * The bytes of the mapping's window (`[get_offset(), get_offset() +
 * get_size())` of the file) as a #GBytes, without a copy: the #GBytes
 * points into the mapping and holds a reference on it, so the bytes stay
 * mapped for as long as the #GBytes lives.
 *
 * A #GBytes is read-only by contract: to write through a writable mapping
 * from a binding, use gst_memmap_mapping_get_address() (see
 * `gstmemmap_numpy.mapping_array()` in Python).
 *
 * Returns: (transfer full): the mapping's bytes
 *
 * Since: 0.1
 */
GBytes *
gst_memmap_mapping_get_bytes (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, NULL);

  return g_bytes_new_with_free_func (gst_memmap_mapping_get_data (mapping),
      gst_memmap_mapping_get_size (mapping),
      (GDestroyNotify) gst_memmap_mapping_unref,
      gst_memmap_mapping_ref (mapping));
}

/**
 * gst_memmap_mapping_get_address:
 * @mapping: a #GstMemmapMapping
 *
 * The address of the mapping's first byte (gst_memmap_mapping_get_data())
 * as an integer, for bindings that wrap memory by address, such as numpy
 * through ctypes. The memory is valid for as long as @mapping is: keep a
 * reference on the mapping alongside whatever wraps the address.
 *
 * Returns: the address of the first byte of the mapping's window
 *
 * Since: 0.1
 */
guint64
gst_memmap_mapping_get_address (GstMemmapMapping * mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);

  return (guint64) (guintptr) gst_memmap_mapping_get_data (mapping);
}
