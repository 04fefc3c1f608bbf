/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapmemory
 * @title: GstMemmapAllocator
 * @short_description: GstMemory that is a region of a file mapping
 * @see_also: #GstMemmapEngine, #GstMemmapMapping, #GstMemory
 *
 * A #GstMemory of mem_type #GST_MEMMAP_MEMORY_TYPE is a region
 * `[file_offset, file_offset + size)` of a #GstMemmapMapping. It holds a
 * reference on that mapping, so the bytes stay mapped, at the same address,
 * for as long as the memory (and any buffer holding it) lives, even after the
 * engine was asked to unmap the file.
 *
 * Mapping such memory is pointer arithmetic into the mapping: no system call,
 * no copy. Memory of a read-only mapping carries %GST_MEMORY_FLAG_READONLY;
 * whoever wants to write to it gets a private copy in system memory through
 * GStreamer's copy-on-write (gst_memory_make_mapped(), gst_buffer_map() with
 * %GST_MAP_WRITE on a writable buffer), and the file is never modified.
 * Memory of a writable mapping (%GST_MEMMAP_MAP_WRITE) is writable and writes
 * reach the file. Memory of a copy-on-write mapping
 * (%GST_MEMMAP_MAP_COPY_ON_WRITE) is writable too, but a write copies the
 * page it falls in for this process only: the file never changes.
 *
 * All the memory that one allocator makes of one mapping shares a common
 * parent memory that covers the whole mapping window. That is what lets
 * GStreamer recognise two adjacent regions as a span (gst_memory_is_span())
 * and merge them without a copy, for instance when a buffer made of several
 * regions is mapped as a whole. As for every #GstMemory, memory made by
 * gst_memory_share() is read-only, and so is such a merged span.
 *
 * gst_memmap_memory_get_fd(), gst_memmap_memory_get_file_offset() and
 * gst_memmap_memory_get_path() tell where the bytes of a memory live, so that
 * another element or process can reach the same bytes.
 *
 * The allocator cannot honour gst_allocator_alloc() and has
 * %GST_ALLOCATOR_FLAG_CUSTOM_ALLOC set: memory is made with
 * gst_memmap_allocator_wrap() only.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"

#include <string.h>

/* The library's category: "memmap" names one category however often it is
 * created, so this is the same category as gst_memmap_debug, without
 * depending on gst_memmap_init() having run first. */
GST_DEBUG_CATEGORY_STATIC (memmap_allocator_debug);
#define GST_CAT_DEFAULT memmap_allocator_debug
GST_DEBUG_CATEGORY_STATIC (CAT_PERFORMANCE);

/* One memory of the allocator.
 *
 * A *root* memory (parent NULL) covers a whole mapping window; the allocator
 * keeps one per mapping in its table, and every other memory of that mapping
 * (wrapped or shared) is a child of that root, with offsets relative to the
 * window's first byte. The table holds one reference on each root; the root
 * leaves the table when its last child is freed. */
typedef struct
{
  GstMemory mem;

  /* owned reference */
  GstMemmapMapping *mapping;
  /* the window's first byte, and its offset in the file */
  guint8 *data;
  guint64 window_offset;
  gboolean writable;

  /* roots only, under the allocator's lock: how many children are alive */
  guint n_children;
} GstMemmapMemory;

/**
 * GstMemmapAllocator:
 *
 * The allocator of memmap memory. Its memory is made with
 * gst_memmap_allocator_wrap().
 *
 * Since: 0.1
 */
struct _GstMemmapAllocator
{
  GstAllocator parent;

  GMutex lock;
  /* GstMemmapMapping * -> GstMemmapMemory * (root, one reference) */
  GHashTable *roots;
};

G_DEFINE_TYPE (GstMemmapAllocator, gst_memmap_allocator, GST_TYPE_ALLOCATOR);

static void gst_memmap_allocator_finalize (GObject * object);
static GstMemory *gst_memmap_allocator_alloc (GstAllocator * allocator,
    gsize size, GstAllocationParams * params);
static void gst_memmap_allocator_free (GstAllocator * allocator,
    GstMemory * gmem);
static gpointer gst_memmap_mem_map (GstMemory * gmem, gsize maxsize,
    GstMapFlags flags);
static void gst_memmap_mem_unmap (GstMemory * gmem);
static GstMemory *gst_memmap_mem_copy (GstMemory * gmem, gssize offset,
    gssize size);
static GstMemory *gst_memmap_mem_share (GstMemory * gmem, gssize offset,
    gssize size);
static gboolean gst_memmap_mem_is_span (GstMemory * gmem1, GstMemory * gmem2,
    gsize * offset);

static void
gst_memmap_allocator_class_init (GstMemmapAllocatorClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  gobject_class->finalize = gst_memmap_allocator_finalize;

  allocator_class->alloc = gst_memmap_allocator_alloc;
  allocator_class->free = gst_memmap_allocator_free;

  GST_DEBUG_CATEGORY_INIT (memmap_allocator_debug, "memmap", 0,
      "gst-memmap library");
  GST_DEBUG_CATEGORY_GET (CAT_PERFORMANCE, "GST_PERFORMANCE");
}

static void
gst_memmap_allocator_init (GstMemmapAllocator * self)
{
  GstAllocator *allocator = GST_ALLOCATOR_CAST (self);

  g_mutex_init (&self->lock);
  self->roots = g_hash_table_new (g_direct_hash, g_direct_equal);

  allocator->mem_type = GST_MEMMAP_MEMORY_TYPE;
  allocator->mem_map = gst_memmap_mem_map;
  allocator->mem_unmap = gst_memmap_mem_unmap;
  allocator->mem_copy = gst_memmap_mem_copy;
  allocator->mem_share = gst_memmap_mem_share;
  allocator->mem_is_span = gst_memmap_mem_is_span;

  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

static void
gst_memmap_allocator_finalize (GObject * object)
{
  GstMemmapAllocator *self = GST_MEMMAP_ALLOCATOR (object);

  /* every root holds a reference on us, so none can be left */
  g_warn_if_fail (g_hash_table_size (self->roots) == 0);
  g_hash_table_unref (self->roots);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gst_memmap_allocator_parent_class)->finalize (object);
}

static GstMemory *
gst_memmap_allocator_alloc (GstAllocator * allocator, gsize size,
    GstAllocationParams * params)
{
  GST_WARNING_OBJECT (allocator, "cannot allocate %" G_GSIZE_FORMAT " bytes: "
      "memmap memory is made with gst_memmap_allocator_wrap()", size);

  return NULL;
}

static GstMemmapMemory *
gst_memmap_memory_new (GstMemmapAllocator * self, GstMemmapMemory * root,
    GstMemmapMapping * mapping, GstMemoryFlags flags, gsize offset, gsize size)
{
  GstMemmapMemory *mem;
  gsize maxsize = gst_memmap_mapping_get_size (mapping);

  mem = g_new0 (GstMemmapMemory, 1);
  gst_memory_init (GST_MEMORY_CAST (mem), flags, GST_ALLOCATOR_CAST (self),
      GST_MEMORY_CAST (root), maxsize, 0, offset, size);

  mem->mapping = gst_memmap_mapping_ref (mapping);
  mem->data = gst_memmap_mapping_get_data (mapping);
  mem->window_offset = gst_memmap_mapping_get_offset (mapping);
  mem->writable = gst_memmap_mapping_is_writable (mapping);

  return mem;
}

/* Called with the lock held: the root of @mapping, made if there is none yet,
 * with one more child counted. */
static GstMemmapMemory *
gst_memmap_allocator_acquire_root (GstMemmapAllocator * self,
    GstMemmapMapping * mapping)
{
  GstMemmapMemory *root;

  root = g_hash_table_lookup (self->roots, mapping);
  if (root == NULL) {
    GstMemoryFlags flags = 0;

    if (!gst_memmap_mapping_is_writable (mapping))
      flags |= GST_MEMORY_FLAG_READONLY;

    root = gst_memmap_memory_new (self, NULL, mapping, flags, 0,
        gst_memmap_mapping_get_size (mapping));
    g_hash_table_insert (self->roots, mapping, root);

    GST_DEBUG_OBJECT (self, "root %p for %s window [%" G_GUINT64_FORMAT
        ", +%" G_GSIZE_FORMAT ")", root, gst_memmap_mapping_get_path (mapping),
        root->window_offset, root->mem.maxsize);
  }
  root->n_children++;

  return root;
}

static void
gst_memmap_allocator_free (GstAllocator * allocator, GstMemory * gmem)
{
  GstMemmapAllocator *self = GST_MEMMAP_ALLOCATOR (allocator);
  GstMemmapMemory *mem = (GstMemmapMemory *) gmem;
  GstMemmapMemory *root = (GstMemmapMemory *) gmem->parent;
  gboolean last = FALSE;

  /* GstMemory has already dropped this child's reference on its parent; the
   * table's reference keeps the root alive until its last child is gone. */
  if (root != NULL) {
    g_mutex_lock (&self->lock);
    g_assert (root->n_children > 0);
    if (--root->n_children == 0) {
      g_hash_table_remove (self->roots, root->mapping);
      last = TRUE;
    }
    g_mutex_unlock (&self->lock);
  }

  GST_LOG_OBJECT (self, "free %s%p of %s", root ? "" : "root ", mem,
      gst_memmap_mapping_get_path (mem->mapping));

  gst_memmap_mapping_unref (mem->mapping);
  g_free (mem);

  if (last)
    gst_memory_unref (GST_MEMORY_CAST (root));
}

static gpointer
gst_memmap_mem_map (GstMemory * gmem, gsize maxsize, GstMapFlags flags)
{
  GstMemmapMemory *mem = (GstMemmapMemory *) gmem;

  /* GstMemory refuses a write map of READONLY memory before we get here; this
   * catches memory whose flag was cleared by hand. */
  if ((flags & GST_MAP_WRITE) && !mem->writable) {
    GST_WARNING_OBJECT (gmem->allocator, "%p: cannot map a read-only mapping "
        "of %s for writing", gmem, gst_memmap_mapping_get_path (mem->mapping));
    return NULL;
  }

  return mem->data;
}

static void
gst_memmap_mem_unmap (GstMemory * gmem)
{
  /* nothing to do: the mapping stays until the memory is freed */
}

static GstMemory *
gst_memmap_mem_copy (GstMemory * gmem, gssize offset, gssize size)
{
  GstMemmapMemory *mem = (GstMemmapMemory *) gmem;
  GstMemory *copy;
  GstMapInfo info;
  gssize start;

  if (size == -1)
    size = (gssize) gmem->size > offset ? (gssize) gmem->size - offset : 0;

  start = (gssize) gmem->offset + offset;
  if (start < 0 || size < 0 || (gsize) start + (gsize) size > gmem->maxsize)
    goto out_of_range;

  copy = gst_allocator_alloc (NULL, size, NULL);
  if (copy == NULL || !gst_memory_map (copy, &info, GST_MAP_WRITE))
    goto no_copy;

  memcpy (info.data, mem->data + start, size);
  gst_memory_unmap (copy, &info);

  GST_CAT_DEBUG (CAT_PERFORMANCE, "copied %" G_GSSIZE_FORMAT " bytes of "
      "memmap memory %p to %p", size, gmem, copy);

  return copy;

  /* ERRORS */
out_of_range:
  {
    GST_WARNING_OBJECT (gmem->allocator, "%p: cannot copy %" G_GSSIZE_FORMAT
        " bytes at %" G_GSSIZE_FORMAT ": outside the memory", gmem, size,
        offset);
    return NULL;
  }
no_copy:
  {
    GST_ERROR_OBJECT (gmem->allocator, "%p: cannot allocate a copy of %"
        G_GSSIZE_FORMAT " bytes", gmem, size);
    if (copy)
      gst_memory_unref (copy);
    return NULL;
  }
}

static GstMemory *
gst_memmap_mem_share (GstMemory * gmem, gssize offset, gssize size)
{
  GstMemmapAllocator *self = GST_MEMMAP_ALLOCATOR (gmem->allocator);
  GstMemmapMemory *mem = (GstMemmapMemory *) gmem;
  GstMemmapMemory *root, *sub;
  gssize start;

  if (size == -1)
    size = (gssize) gmem->size > offset ? (gssize) gmem->size - offset : 0;

  start = (gssize) gmem->offset + offset;
  if (start < 0 || size < 0 || (gsize) start + (gsize) size > gmem->maxsize)
    goto out_of_range;

  /* The parent is the root of the mapping, whether @gmem is a child or the
   * root itself: offsets are all relative to the window's first byte. */
  g_mutex_lock (&self->lock);
  root = gst_memmap_allocator_acquire_root (self, mem->mapping);
  g_mutex_unlock (&self->lock);

  /* as with every GstMemory, a shared memory is never writable */
  sub = gst_memmap_memory_new (self, root, mem->mapping,
      GST_MINI_OBJECT_FLAGS (root) | GST_MINI_OBJECT_FLAG_LOCK_READONLY,
      start, size);

  GST_LOG_OBJECT (self, "%p: shared %p at file offset %" G_GUINT64_FORMAT
      ", %" G_GSSIZE_FORMAT " bytes", gmem, sub,
      sub->window_offset + sub->mem.offset, size);

  return GST_MEMORY_CAST (sub);

  /* ERRORS */
out_of_range:
  {
    GST_WARNING_OBJECT (self, "%p: cannot share %" G_GSSIZE_FORMAT " bytes at %"
        G_GSSIZE_FORMAT ": outside the memory", gmem, size, offset);
    return NULL;
  }
}

static gboolean
gst_memmap_mem_is_span (GstMemory * gmem1, GstMemory * gmem2, gsize * offset)
{
  GstMemmapMemory *mem1 = (GstMemmapMemory *) gmem1;
  GstMemmapMemory *mem2 = (GstMemmapMemory *) gmem2;

  /* offsets of one mapping are all relative to its window */
  if (mem1->mapping != mem2->mapping)
    return FALSE;

  if (gmem1->offset + gmem1->size != gmem2->offset)
    return FALSE;

  if (offset) {
    GstMemory *parent = gmem1->parent;

    *offset = gmem1->offset - (parent ? parent->offset : 0);
  }

  return TRUE;
}

/**
 * gst_memmap_allocator_new:
 *
 * Makes a new allocator for memmap memory. Memory is made with
 * gst_memmap_allocator_wrap(); gst_allocator_alloc() returns %NULL.
 *
 * Returns: (transfer full): a new #GstMemmapAllocator. Drop it with
 *     gst_object_unref(); memory made with it keeps it alive.
 *
 * Since: 0.1
 */
GstAllocator *
gst_memmap_allocator_new (void)
{
  GstAllocator *allocator;

  allocator = g_object_new (GST_TYPE_MEMMAP_ALLOCATOR, NULL);
  gst_object_ref_sink (allocator);

  return allocator;
}

/**
 * gst_memmap_allocator_wrap:
 * @allocator: a #GstMemmapAllocator
 * @mapping: the #GstMemmapMapping that holds the bytes
 * @file_offset: offset in the file of the memory's first byte
 * @size: size of the memory in bytes
 *
 * Makes a #GstMemory of the bytes `[@file_offset, @file_offset + @size)` of
 * the file of @mapping, which must lie inside the mapping's window
 * (gst_memmap_mapping_get_offset(), gst_memmap_mapping_get_size()). No byte
 * is copied; mapping the memory returns the address of those bytes in
 * @mapping. The memory holds a reference on @mapping until it is freed.
 *
 * The memory has %GST_MEMORY_FLAG_READONLY set when @mapping is not writable
 * (gst_memmap_mapping_is_writable()): writing then goes to a private copy.
 *
 * Returns: (transfer full) (nullable): a new #GstMemory, or %NULL when the
 *     region is not inside the mapping's window.
 *
 * Since: 0.1
 */
GstMemory *
gst_memmap_allocator_wrap (GstAllocator * allocator,
    GstMemmapMapping * mapping, guint64 file_offset, gsize size)
{
  GstMemmapAllocator *self;
  GstMemmapMemory *root, *mem;
  GstMemoryFlags flags = 0;
  guint64 window_offset, window_size;

  g_return_val_if_fail (GST_IS_MEMMAP_ALLOCATOR (allocator), NULL);
  g_return_val_if_fail (mapping != NULL, NULL);

  self = GST_MEMMAP_ALLOCATOR (allocator);
  window_offset = gst_memmap_mapping_get_offset (mapping);
  window_size = gst_memmap_mapping_get_size (mapping);

  if (file_offset < window_offset
      || file_offset - window_offset > window_size
      || size > window_size - (file_offset - window_offset))
    goto out_of_window;

  if (!gst_memmap_mapping_is_writable (mapping))
    flags |= GST_MEMORY_FLAG_READONLY;

  g_mutex_lock (&self->lock);
  root = gst_memmap_allocator_acquire_root (self, mapping);
  g_mutex_unlock (&self->lock);

  mem = gst_memmap_memory_new (self, root, mapping, flags,
      file_offset - window_offset, size);

  GST_LOG_OBJECT (self, "wrapped %p: %s [%" G_GUINT64_FORMAT ", +%"
      G_GSIZE_FORMAT ")%s", mem, gst_memmap_mapping_get_path (mapping),
      file_offset, size,
      (flags & GST_MEMORY_FLAG_READONLY) ? " read-only" : "");

  return GST_MEMORY_CAST (mem);

  /* ERRORS */
out_of_window:
  {
    GST_WARNING_OBJECT (self, "%s: region [%" G_GUINT64_FORMAT ", +%"
        G_GSIZE_FORMAT ") is outside the mapped window [%" G_GUINT64_FORMAT
        ", +%" G_GUINT64_FORMAT ")", gst_memmap_mapping_get_path (mapping),
        file_offset, size, window_offset, window_size);
    return NULL;
  }
}

/**
 * gst_is_memmap_memory:
 * @mem: (nullable): a #GstMemory
 *
 * Checks whether @mem was made by a #GstMemmapAllocator.
 *
 * Returns: %TRUE when @mem is memmap memory, so that
 *     gst_memmap_memory_get_mapping() and the other accessors apply.
 *
 * Since: 0.1
 */
gboolean
gst_is_memmap_memory (GstMemory * mem)
{
  return mem != NULL && mem->allocator != NULL
      && GST_IS_MEMMAP_ALLOCATOR (mem->allocator);
}

/**
 * gst_memmap_memory_get_mapping:
 * @mem: a memmap #GstMemory
 *
 * Gets the mapping that holds the bytes of @mem.
 *
 * Returns: (transfer none): the #GstMemmapMapping of @mem, valid for as long
 *     as @mem lives; take a reference with gst_memmap_mapping_ref() to keep
 *     it longer.
 *
 * Since: 0.1
 */
GstMemmapMapping *
gst_memmap_memory_get_mapping (GstMemory * mem)
{
  g_return_val_if_fail (gst_is_memmap_memory (mem), NULL);

  return ((GstMemmapMemory *) mem)->mapping;
}

/**
 * gst_memmap_memory_get_fd:
 * @mem: a memmap #GstMemory
 *
 * Gets the file descriptor of the file that holds the bytes of @mem. It
 * belongs to the mapping: do not close it, and dup() it to keep it longer
 * than @mem lives.
 *
 * Returns: the file descriptor, or -1 when the mapping has none open.
 *
 * Since: 0.1
 */
gint
gst_memmap_memory_get_fd (GstMemory * mem)
{
  g_return_val_if_fail (gst_is_memmap_memory (mem), -1);

  return gst_memmap_mapping_get_fd (((GstMemmapMemory *) mem)->mapping);
}

/**
 * gst_memmap_memory_get_file_offset:
 * @mem: a memmap #GstMemory
 *
 * Gets the offset in the file of the first byte of @mem, following any
 * gst_memory_resize() or gst_memory_share() that moved it.
 *
 * Returns: the file offset of the byte that gst_memory_map() points at.
 *
 * Since: 0.1
 */
guint64
gst_memmap_memory_get_file_offset (GstMemory * mem)
{
  g_return_val_if_fail (gst_is_memmap_memory (mem), 0);

  return ((GstMemmapMemory *) mem)->window_offset + mem->offset;
}

/**
 * gst_memmap_memory_get_path:
 * @mem: a memmap #GstMemory
 *
 * Gets the path of the file that holds the bytes of @mem.
 *
 * Returns: (transfer none) (type filename): the path, valid for as long as
 *     @mem lives.
 *
 * Since: 0.1
 */
const gchar *
gst_memmap_memory_get_path (GstMemory * mem)
{
  g_return_val_if_fail (gst_is_memmap_memory (mem), NULL);

  return gst_memmap_mapping_get_path (((GstMemmapMemory *) mem)->mapping);
}
