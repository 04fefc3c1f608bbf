/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copy-on-write frames (%GST_MEMMAP_FRAMES_COPY_ON_WRITE, docs/design.md
 * "Writable frames and long calls"): the frames of a call turned into
 * memory of private copy-on-write mappings of the same windows of the
 * same store files, one private window per read-only one, so that nothing
 * is copied until a page is written and the stores never change; and the
 * bytes of the pages written so far, for the frames' stats. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"

#define GST_CAT_DEFAULT gst_memmap_debug

/* The private copy-on-write window of @engine that mirrors the window of
 * @mem's read-only mapping (so that frames at one distance from each other
 * there still are), one per read-only window: @windows maps the read-only
 * mapping to it. */
static GstMemmapMapping *
cow_window (GstMemmapFrames * self, GstMemmapEngine * engine,
    GHashTable * windows, GstMemory * mem, GError ** error)
{
  GstMemmapMapping *ro = gst_memmap_memory_get_mapping (mem);
  GstMemmapMapping *cow = g_hash_table_lookup (windows, ro);

  if (cow)
    return cow;
  cow = gst_memmap_engine_map_window_fd (engine,
      gst_memmap_memory_get_fd (mem), gst_memmap_memory_get_path (mem),
      gst_memmap_mapping_get_offset (ro), gst_memmap_mapping_get_size (ro),
      gst_memmap_memory_get_file_offset (mem), gst_memory_get_sizes (mem,
          NULL, NULL), GST_MEMMAP_MAP_COPY_ON_WRITE, error);
  if (cow == NULL)
    return NULL;
  g_ptr_array_add (self->cow_maps, cow);
  g_hash_table_insert (windows, ro, cow);
  return cow;
}

/* @f's buffer again, as memory of @cow, with the same metadata */
static GstBuffer *
cow_buffer (GstAllocator * alloc, GstMemmapMapping * cow, GstMemory * mem,
    GstBuffer * old)
{
  GstBuffer *buf = gst_buffer_new ();

  gst_buffer_append_memory (buf, gst_memmap_allocator_wrap (alloc, cow,
          gst_memmap_memory_get_file_offset (mem), gst_memory_get_sizes (mem,
              NULL, NULL)));
  gst_buffer_copy_into (buf, old, GST_BUFFER_COPY_METADATA, 0, -1);
  return buf;
}

/* Makes every frame of @self writable: frames of a store become memory of
 * a copy-on-write mapping of the same window of the same file, frames that
 * are copies are mapped for writing. */
gboolean
gst_memmap_frames_make_copy_on_write (GstMemmapFrames * self,
    GstMemmapEngine * engine, GError ** error)
{
  GHashTable *windows = g_hash_table_new (NULL, NULL);
  GstAllocator *alloc = gst_memmap_allocator_new ();
  gboolean ok = TRUE;
  guint i;

  self->cow = TRUE;
  self->cow_maps = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_mapping_unref);
  for (i = 0; ok && i < self->frames->len; i++) {
    Frame *f = &g_array_index (self->frames, Frame, i);
    GstMemory *mem = gst_buffer_peek_memory (f->buffer, 0);
    GstBuffer *buf;
    GstMapInfo map;

    if (f->path) {
      GstMemmapMapping *cow = cow_window (self, engine, windows, mem, error);

      if (cow == NULL) {
        ok = FALSE;
        break;
      }
      buf = cow_buffer (alloc, cow, mem, f->buffer);
    } else {
      /* a private copy already: writable once nobody else holds it */
      buf = gst_buffer_copy_deep (f->buffer);
    }
    if (!gst_buffer_map (buf, &map, GST_MAP_READWRITE)) {
      gst_buffer_unref (buf);
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
          "Could not map frame %" G_GUINT64_FORMAT " for writing",
          self->start_frame + i);
      ok = FALSE;
      break;
    }
    gst_buffer_unmap (f->buffer, &f->map);
    gst_buffer_unref (f->buffer);
    f->buffer = buf;
    f->map = map;
  }
  gst_object_unref (alloc);
  g_hash_table_unref (windows);
  if (ok)
    gst_structure_set (self->stats, "copy-on-write", G_TYPE_BOOLEAN, TRUE,
        NULL);
  return ok;
}

/* The private bytes of the copy-on-write windows of @self: the pages
 * written so far (0 for read-only frames). */
guint64
gst_memmap_frames_cow_private_bytes (GstMemmapFrames * self)
{
  guint64 priv = 0;
  guint i;

  if (!self->cow)
    return 0;
  for (i = 0; i < self->cow_maps->len; i++) {
    GstMemmapMapping *m = g_ptr_array_index (self->cow_maps, i);

    priv += gst_memmap_engine_private_bytes (gst_memmap_mapping_get_data
        (m), gst_memmap_mapping_get_size (m));
  }
  return priv;
}
