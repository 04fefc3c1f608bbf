/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of GstMemmapAllocator: memory that is a region of an engine mapping.
 *
 * Every test runs with a private engine and files in a fresh temporary
 * directory. When the leaks tracer is active (GST_TRACERS=leaks, as the test
 * environment sets it), the teardown fails the test for any object created
 * during the test that is still alive. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/memmap/memmap.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../memmap-test-util.h"

/* the fixture's engine has read-threshold 0, so these files are mmapped */
#define FILE_SIZE (256 * 1024)

static GstMemmapEngine *engine;
static GstAllocator *allocator;
static GstTracer *leaks_tracer;

/* gst_check_init() routes the criticals and warnings of GStreamer's and
 * GLib's log domains to gst-check, so that ASSERT_CRITICAL() catches them
 * and unexpected ones fail the test; do the same for the library's. */
static void
memmap_log_func (const gchar * log_domain, GLogLevelFlags log_level,
    const gchar * message, gpointer user_data)
{
  if (!_gst_check_expecting_log)
    fail ("Unexpected critical/warning: %s", message);

  if (log_level & G_LOG_LEVEL_CRITICAL)
    _gst_check_raised_critical = TRUE;
  if (log_level & G_LOG_LEVEL_WARNING)
    _gst_check_raised_warning = TRUE;
}

/* The test environment makes criticals fatal (G_DEBUG=fatal-criticals); an
 * expected one must not abort. */
#define ASSERT_MEMMAP_CRITICAL(code)                                \
  G_STMT_START {                                                    \
    GLogLevelFlags old_fatal;                                       \
                                                                    \
    old_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);          \
    ASSERT_CRITICAL (code);                                         \
    g_log_set_always_fatal (old_fatal);                             \
  } G_STMT_END

static GstTracer *
find_leaks_tracer (void)
{
  GList *tracers, *l;
  GstTracer *found = NULL;

  tracers = gst_tracing_get_active_tracers ();
  for (l = tracers; l != NULL; l = l->next) {
    if (found == NULL
        && g_str_equal (G_OBJECT_TYPE_NAME (l->data), "GstLeaksTracer"))
      found = gst_object_ref (l->data);
  }
  g_list_free_full (tracers, gst_object_unref);

  return found;
}

static void
setup (void)
{
  leaks_tracer = find_leaks_tracer ();
  if (leaks_tracer)
    g_signal_emit_by_name (leaks_tracer, "activity-start-tracking");

  memmap_test_make_tmpdir ("memmap-allocator");

  engine = gst_memmap_engine_new ();
  /* Small files would be read() rather than mapped by default; these tests
   * are about mappings (the read() path has its own test). */
  g_object_set (engine, "read-threshold", (guint64) 0, NULL);
  allocator = gst_memmap_allocator_new ();
}

/* Fails when an object created since setup() is still alive: the tracer
 * lists the objects created and destroyed since the tracking started. */
static void
check_no_new_objects (void)
{
  GstStructure *checkpoint = NULL;
  const GValue *created, *removed;
  GHashTable *alive = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      NULL);
  GString *msg = g_string_new (NULL);
  guint i, n = 0;

  g_signal_emit_by_name (leaks_tracer, "activity-get-checkpoint", &checkpoint);
  g_signal_emit_by_name (leaks_tracer, "activity-stop-tracking");
  gst_clear_object (&leaks_tracer);
  fail_unless (checkpoint != NULL);

  /* address -> objects created there minus objects destroyed there */
  created = gst_structure_get_value (checkpoint, "objects-created-list");
  for (i = 0; i < gst_value_list_get_size (created); i++) {
    const GstStructure *s =
        gst_value_get_structure (gst_value_list_get_value (created, i));
    const gchar *addr = gst_structure_get_string (s, "address");

    g_hash_table_insert (alive, (gpointer) addr,
        GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (alive,
                    addr)) + 1));
  }
  removed = gst_structure_get_value (checkpoint, "objects-removed-list");
  for (i = 0; i < gst_value_list_get_size (removed); i++) {
    const GstStructure *s =
        gst_value_get_structure (gst_value_list_get_value (removed, i));
    const gchar *addr = gst_structure_get_string (s, "address");

    if (g_hash_table_contains (alive, addr))
      g_hash_table_insert (alive, (gpointer) addr,
          GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (alive,
                      addr)) - 1));
  }

  for (i = 0; i < gst_value_list_get_size (created); i++) {
    const GstStructure *s =
        gst_value_get_structure (gst_value_list_get_value (created, i));
    const gchar *addr = gst_structure_get_string (s, "address");

    if (GPOINTER_TO_INT (g_hash_table_lookup (alive, addr)) > 0) {
      g_hash_table_insert (alive, (gpointer) addr, GINT_TO_POINTER (0));
      if (n++ < 8)
        g_string_append_printf (msg, " %s %s",
            gst_structure_get_string (s, "type-name"), addr);
    }
  }
  fail_unless (n == 0, "%u objects of the test still alive:%s", n, msg->str);
  g_string_free (msg, TRUE);
  g_hash_table_unref (alive);
  gst_structure_free (checkpoint);
}

static void
teardown (void)
{
  gst_clear_object (&allocator);
  gst_clear_object (&engine);
  memmap_test_remove_tmpdir ();

  if (leaks_tracer)
    check_no_new_objects ();
}

static guint8
pattern_byte (guint64 file_offset)
{
  return (guint8) ((file_offset * 7) ^ (file_offset >> 8));
}

/* a file of @size pattern bytes in the test's directory */
static gchar *
make_file (const gchar * name, gsize size)
{
  gchar *path = test_path (name);
  guint8 *data = g_malloc (size);
  GError *err = NULL;
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = pattern_byte (i);

  fail_unless (g_file_set_contents (path, (const gchar *) data, size, &err),
      "%s", err ? err->message : "?");
  g_free (data);

  return path;
}

static GstMemmapMapping *
map_file (const gchar * path, GstMemmapMapFlags flags)
{
  GError *err = NULL;
  GstMemmapMapping *mapping;

  mapping = gst_memmap_engine_map_file (engine, path, flags, &err);
  fail_unless (mapping != NULL, "%s", err ? err->message : "?");

  return mapping;
}

static guint64
engine_stat (const gchar * name)
{
  GstStructure *s = gst_memmap_engine_get_stats (engine);
  guint64 v = G_MAXUINT64;

  fail_unless (gst_structure_get_uint64 (s, name, &v), "no stat %s", name);
  gst_structure_free (s);

  return v;
}

static gboolean
ptr_in_mapping (GstMemmapMapping * mapping, const guint8 * p, gsize size)
{
  const guint8 *start = gst_memmap_mapping_get_data (mapping);
  const guint8 *end = start + gst_memmap_mapping_get_size (mapping);

  return p >= start && p <= end && size <= (gsize) (end - p);
}

/* the bytes of @path at @offset, read with read() */
static guint8 *
read_file_at (const gchar * path, guint64 offset, gsize size)
{
  guint8 *buf = g_malloc (size);
  gint fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  fail_unless (fd >= 0, "open %s: %s", path, g_strerror (errno));
  fail_unless_equals_int64 (pread (fd, buf, size, offset), size);
  close (fd);

  return buf;
}

static void
assert_pattern (const guint8 * data, guint64 file_offset, gsize size)
{
  gsize i;

  for (i = 0; i < size; i++) {
    if (data[i] != pattern_byte (file_offset + i))
      fail ("byte at file offset %" G_GUINT64_FORMAT ": %u, expected %u",
          file_offset + i, data[i], pattern_byte (file_offset + i));
  }
}

GST_START_TEST (test_memory_type)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemory *mem, *sysmem;

  fail_unless (GST_IS_MEMMAP_ALLOCATOR (allocator));
  fail_unless (!g_object_is_floating (allocator));
  fail_unless (GST_OBJECT_FLAG_IS_SET (allocator,
          GST_ALLOCATOR_FLAG_CUSTOM_ALLOC));
  fail_unless_equals_string (allocator->mem_type, GST_MEMMAP_MEMORY_TYPE);
  fail_unless_equals_string (GST_MEMMAP_MEMORY_TYPE, "memmap");

  /* the allocator cannot make memory out of nothing */
  fail_unless (gst_allocator_alloc (allocator, 100, NULL) == NULL);

  mem = gst_memmap_allocator_wrap (allocator, mapping, 4096, 1000);
  fail_unless (mem != NULL);
  fail_unless (gst_memory_is_type (mem, "memmap"));
  fail_unless (gst_is_memmap_memory (mem));
  fail_unless (mem->allocator == allocator);
  fail_unless_equals_int (mem->size, 1000);
  fail_unless (gst_memmap_memory_get_mapping (mem) == mapping);

  sysmem = gst_allocator_alloc (NULL, 10, NULL);
  fail_unless (!gst_is_memmap_memory (sysmem));
  fail_unless (!gst_is_memmap_memory (NULL));
  gst_memory_unref (sysmem);

  gst_memory_unref (mem);
  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_map_is_pointer_arithmetic)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemory *mem;
  GstMapInfo info, info2;
  guint64 maps, misses, total;
  guint i;

  fail_unless (gst_memmap_mapping_is_mmapped (mapping));
  fail_unless_equals_uint64 (gst_memmap_mapping_get_offset (mapping), 0);

  mem = gst_memmap_allocator_wrap (allocator, mapping, 10000, 5000);
  fail_unless (mem != NULL);

  maps = engine_stat ("maps");
  misses = engine_stat ("misses");
  total = engine_stat ("bytes-mapped-total");

  fail_unless (gst_memory_map (mem, &info, GST_MAP_READ));
  fail_unless_equals_int (info.size, 5000);
  fail_unless (info.data == gst_memmap_mapping_get_data (mapping) + 10000);
  fail_unless (info.data == gst_memmap_mapping_data_at (mapping, 10000, 5000));
  fail_unless (ptr_in_mapping (mapping, info.data, info.size));
  assert_pattern (info.data, 10000, info.size);

  /* mapping again, even while mapped, gives the same address */
  for (i = 0; i < 100; i++) {
    fail_unless (gst_memory_map (mem, &info2, GST_MAP_READ));
    fail_unless (info2.data == info.data);
    gst_memory_unmap (mem, &info2);
  }
  gst_memory_unmap (mem, &info);

  fail_unless (gst_memory_map (mem, &info2, GST_MAP_READ));
  fail_unless (info2.data == info.data);
  gst_memory_unmap (mem, &info2);

  /* and the engine was not asked for anything */
  fail_unless_equals_uint64 (engine_stat ("maps"), maps);
  fail_unless_equals_uint64 (engine_stat ("misses"), misses);
  fail_unless_equals_uint64 (engine_stat ("bytes-mapped-total"), total);

  gst_memory_unref (mem);
  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_wrap_window)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping, *window;
  GstMemory *mem;
  GstMapInfo info;
  GError *err = NULL;
  guint64 woff, wsize;

  mapping = map_file (path, GST_MEMMAP_MAP_NONE);

  /* the whole file, an empty region at either end */
  mem = gst_memmap_allocator_wrap (allocator, mapping, 0, FILE_SIZE);
  fail_unless (mem != NULL);
  gst_memory_unref (mem);
  mem = gst_memmap_allocator_wrap (allocator, mapping, 0, 0);
  fail_unless (mem != NULL);
  gst_memory_unref (mem);
  mem = gst_memmap_allocator_wrap (allocator, mapping, FILE_SIZE, 0);
  fail_unless (mem != NULL);
  gst_memory_unref (mem);

  /* outside the window */
  fail_unless (gst_memmap_allocator_wrap (allocator, mapping, 0,
          FILE_SIZE + 1) == NULL);
  fail_unless (gst_memmap_allocator_wrap (allocator, mapping, FILE_SIZE - 10,
          11) == NULL);
  fail_unless (gst_memmap_allocator_wrap (allocator, mapping, FILE_SIZE + 1,
          0) == NULL);
  fail_unless (gst_memmap_allocator_wrap (allocator, mapping, G_MAXUINT64,
          2) == NULL);
  fail_unless (gst_memmap_allocator_wrap (allocator, mapping, 1,
          G_MAXSIZE) == NULL);

  /* programming errors */
  ASSERT_MEMMAP_CRITICAL (gst_memmap_allocator_wrap (allocator, NULL, 0, 1));
  {
    GstAllocator *sysalloc = gst_allocator_find (NULL);

    ASSERT_MEMMAP_CRITICAL (gst_memmap_allocator_wrap (sysalloc, mapping, 0,
            1));
    gst_object_unref (sysalloc);
  }
  gst_memmap_mapping_unref (mapping);

  /* a window that does not start at the beginning of the file */
  g_object_set (engine, "window-size", (guint64) 64 * 1024, NULL);
  window = gst_memmap_engine_map_range (engine, path, 70000, 1000,
      GST_MEMMAP_MAP_NONE, &err);
  fail_unless (window != NULL, "%s", err ? err->message : "?");
  woff = gst_memmap_mapping_get_offset (window);
  wsize = gst_memmap_mapping_get_size (window);
  fail_unless (woff > 0 && woff <= 70000);
  fail_unless (woff + wsize >= 71000);

  mem = gst_memmap_allocator_wrap (allocator, window, 70000, 1000);
  fail_unless (mem != NULL);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (mem), 70000);
  fail_unless (gst_memory_map (mem, &info, GST_MAP_READ));
  fail_unless (info.data == gst_memmap_mapping_get_data (window) + (70000 -
          woff));
  assert_pattern (info.data, 70000, info.size);
  gst_memory_unmap (mem, &info);
  gst_memory_unref (mem);

  fail_unless (gst_memmap_allocator_wrap (allocator, window, woff - 1,
          10) == NULL);
  fail_unless (gst_memmap_allocator_wrap (allocator, window, woff + wsize - 5,
          10) == NULL);
  mem = gst_memmap_allocator_wrap (allocator, window, woff, wsize);
  fail_unless (mem != NULL);
  gst_memory_unref (mem);

  gst_memmap_mapping_unref (window);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_share)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemory *mem, *sub, *subsub, *tail;
  GstMapInfo info, sinfo;

  mem = gst_memmap_allocator_wrap (allocator, mapping, 8192, 4096);
  fail_unless (gst_memory_map (mem, &info, GST_MAP_READ));

  sub = gst_memory_share (mem, 100, 1000);
  fail_unless (sub != NULL);
  fail_unless (gst_is_memmap_memory (sub));
  fail_unless (sub->parent != NULL);
  fail_unless (sub->parent == mem->parent);
  fail_unless_equals_int (sub->size, 1000);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (sub),
      8192 + 100);
  fail_unless (gst_memmap_memory_get_mapping (sub) == mapping);
  fail_unless (GST_MEMORY_IS_READONLY (sub));

  fail_unless (gst_memory_map (sub, &sinfo, GST_MAP_READ));
  fail_unless (sinfo.data == info.data + 100);
  fail_unless (ptr_in_mapping (mapping, sinfo.data, sinfo.size));
  assert_pattern (sinfo.data, 8192 + 100, sinfo.size);
  gst_memory_unmap (sub, &sinfo);

  /* a share of a share has the same root parent */
  subsub = gst_memory_share (sub, 10, -1);
  fail_unless (subsub != NULL);
  fail_unless (subsub->parent == mem->parent);
  fail_unless_equals_int (subsub->size, 990);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (subsub),
      8192 + 110);
  fail_unless (gst_memory_map (subsub, &sinfo, GST_MAP_READ));
  fail_unless (sinfo.data == info.data + 110);
  gst_memory_unmap (subsub, &sinfo);

  /* -1 shares to the end */
  tail = gst_memory_share (mem, 4000, -1);
  fail_unless_equals_int (tail->size, 96);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (tail),
      8192 + 4000);
  gst_memory_unref (tail);

  /* resizing moves the file offset */
  gst_memory_resize (subsub, 5, 10);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (subsub),
      8192 + 115);
  fail_unless (gst_memory_map (subsub, &sinfo, GST_MAP_READ));
  fail_unless (sinfo.data == info.data + 115);
  assert_pattern (sinfo.data, 8192 + 115, 10);
  gst_memory_unmap (subsub, &sinfo);

  gst_memory_unmap (mem, &info);

  /* shares keep the mapping after the memory they came from is gone */
  gst_memory_unref (mem);
  gst_memmap_mapping_unref (mapping);
  gst_memory_unref (sub);
  fail_unless (gst_memory_map (subsub, &sinfo, GST_MAP_READ));
  assert_pattern (sinfo.data, 8192 + 115, 10);
  gst_memory_unmap (subsub, &sinfo);
  gst_memory_unref (subsub);
  fail_unless_equals_uint64 (engine_stat ("in-use-maps"), 0);

  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_is_span)
{
  gchar *path = make_file ("a", FILE_SIZE);
  gchar *path2 = make_file ("b", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemmapMapping *mapping2 = map_file (path2, GST_MEMMAP_MAP_NONE);
  GstMemory *a, *b, *c, *other, *sub1, *sub2;
  GstAllocator *allocator2;
  gsize offset = 0;

  a = gst_memmap_allocator_wrap (allocator, mapping, 4096, 1000);
  b = gst_memmap_allocator_wrap (allocator, mapping, 5096, 2000);
  c = gst_memmap_allocator_wrap (allocator, mapping, 7097, 100);
  other = gst_memmap_allocator_wrap (allocator, mapping2, 5096, 2000);

  /* adjacent regions of one mapping */
  fail_unless (gst_memory_is_span (a, b, &offset));
  fail_unless_equals_uint64 (offset, 4096);
  /* not adjacent, or in the wrong order */
  fail_if (gst_memory_is_span (b, c, &offset));
  fail_if (gst_memory_is_span (b, a, &offset));
  fail_if (gst_memory_is_span (a, a, &offset));
  /* different mappings */
  fail_if (gst_memory_is_span (a, other, &offset));

  /* shares of one memory */
  sub1 = gst_memory_share (b, 0, 500);
  sub2 = gst_memory_share (b, 500, 500);
  fail_unless (gst_memory_is_span (sub1, sub2, &offset));
  fail_unless_equals_uint64 (offset, 5096);
  fail_unless (gst_memory_is_span (a, sub1, &offset));
  fail_unless_equals_uint64 (offset, 4096);
  fail_if (gst_memory_is_span (sub2, sub1, &offset));
  gst_memory_unref (sub1);
  gst_memory_unref (sub2);

  /* the same mapping through another allocator does not span */
  allocator2 = gst_memmap_allocator_new ();
  sub1 = gst_memmap_allocator_wrap (allocator2, mapping, 5096, 10);
  fail_if (gst_memory_is_span (a, sub1, &offset));
  gst_memory_unref (sub1);
  gst_object_unref (allocator2);

  gst_memory_unref (a);
  gst_memory_unref (b);
  gst_memory_unref (c);
  gst_memory_unref (other);
  gst_memmap_mapping_unref (mapping);
  gst_memmap_mapping_unref (mapping2);
  g_free (path);
  g_free (path2);
}

GST_END_TEST;

GST_START_TEST (test_buffer_span_is_zero_copy)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstBuffer *buf, *buf2;
  GstMemory *merged;
  GstMapInfo info;

  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_memmap_allocator_wrap (allocator,
          mapping, 1000, 3000));
  buf2 = gst_buffer_new ();
  gst_buffer_append_memory (buf2, gst_memmap_allocator_wrap (allocator,
          mapping, 4000, 5000));
  gst_buffer_append_memory (buf2, gst_memmap_allocator_wrap (allocator,
          mapping, 9000, 100));
  buf = gst_buffer_append (buf, buf2);
  fail_unless_equals_int (gst_buffer_n_memory (buf), 3);

  fail_unless (gst_buffer_map (buf, &info, GST_MAP_READ));
  fail_unless_equals_int (info.size, 8100);
  fail_unless (info.data == gst_memmap_mapping_get_data (mapping) + 1000);
  fail_unless (ptr_in_mapping (mapping, info.data, info.size));
  fail_unless (gst_is_memmap_memory (info.memory));
  assert_pattern (info.data, 1000, info.size);
  gst_buffer_unmap (buf, &info);

  /* merging the buffer's memory is a share of the mapping as well */
  merged = gst_buffer_get_all_memory (buf);
  fail_unless (gst_is_memmap_memory (merged));
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (merged), 1000);
  fail_unless_equals_int (merged->size, 8100);
  gst_memory_unref (merged);

  /* a gap means a copy */
  buf2 = gst_buffer_new ();
  gst_buffer_append_memory (buf2, gst_memmap_allocator_wrap (allocator,
          mapping, 20000, 100));
  buf = gst_buffer_append (buf, buf2);
  fail_unless (gst_buffer_map (buf, &info, GST_MAP_READ));
  fail_unless_equals_int (info.size, 8200);
  fail_if (ptr_in_mapping (mapping, info.data, 1));
  assert_pattern (info.data, 1000, 8100);
  assert_pattern (info.data + 8100, 20000, 100);
  gst_buffer_unmap (buf, &info);

  gst_buffer_unref (buf);
  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_readonly_copy_on_write)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemory *mem, *mapped;
  GstBuffer *buf;
  GstMapInfo info, rinfo;
  guint8 *orig, *back;
  gchar *contents;
  gsize len;

  fail_if (gst_memmap_mapping_is_writable (mapping));
  orig = read_file_at (path, 0, FILE_SIZE);

  mem = gst_memmap_allocator_wrap (allocator, mapping, 12288, 4096);
  fail_unless (GST_MEMORY_IS_READONLY (mem));
  fail_unless (GST_MEMORY_FLAG_IS_SET (mem, GST_MEMORY_FLAG_READONLY));

  /* no write map of the file */
  fail_if (gst_memory_map (mem, &info, GST_MAP_WRITE));
  fail_if (gst_memory_map (mem, &info, GST_MAP_READWRITE));

  /* gst_memory_make_mapped() copies */
  fail_unless (gst_memory_map (mem, &rinfo, GST_MAP_READ));
  gst_memory_ref (mem);
  mapped = gst_memory_make_mapped (mem, &info, GST_MAP_WRITE);
  fail_unless (mapped != NULL);
  fail_unless (mapped != mem);
  fail_if (gst_is_memmap_memory (mapped));
  fail_unless (info.data != rinfo.data);
  fail_if (ptr_in_mapping (mapping, info.data, 1));
  fail_unless_equals_int (info.size, 4096);
  fail_unless (memcmp (info.data, rinfo.data, 4096) == 0);
  memset (info.data, 0xab, info.size);
  fail_unless (rinfo.data[0] == pattern_byte (12288));
  gst_memory_unmap (mapped, &info);
  gst_memory_unref (mapped);
  gst_memory_unmap (mem, &rinfo);

  /* gst_memory_copy() is a real copy as well, of the asked range */
  mapped = gst_memory_copy (mem, 10, 100);
  fail_unless (mapped != NULL);
  fail_if (gst_is_memmap_memory (mapped));
  fail_unless (gst_memory_map (mapped, &info, GST_MAP_READWRITE));
  fail_unless_equals_int (info.size, 100);
  fail_if (ptr_in_mapping (mapping, info.data, 1));
  assert_pattern (info.data, 12288 + 10, 100);
  gst_memory_unmap (mapped, &info);
  gst_memory_unref (mapped);

  /* gst_buffer_map (WRITE) on a writable buffer replaces the memory by a
   * copy */
  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  fail_unless (gst_buffer_map (buf, &info, GST_MAP_READWRITE));
  fail_if (ptr_in_mapping (mapping, info.data, 1));
  assert_pattern (info.data, 12288, info.size);
  memset (info.data, 0xcd, info.size);
  gst_buffer_unmap (buf, &info);
  fail_if (gst_is_memmap_memory (gst_buffer_peek_memory (buf, 0)));
  gst_buffer_unref (buf);

  /* the mapping and the file are unchanged */
  assert_pattern (gst_memmap_mapping_get_data (mapping), 0, FILE_SIZE);
  back = read_file_at (path, 0, FILE_SIZE);
  fail_unless (memcmp (back, orig, FILE_SIZE) == 0);
  fail_unless (g_file_get_contents (path, &contents, &len, NULL));
  fail_unless_equals_int (len, FILE_SIZE);
  assert_pattern ((const guint8 *) contents, 0, len);
  g_free (contents);
  g_free (back);
  g_free (orig);

  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_writable_mapping)
{
  gchar *path = test_path ("w");
  GstMemmapMapping *mapping;
  GstMemory *mem, *sub;
  GstBuffer *buf;
  GstMapInfo info, info2;
  GError *err = NULL;
  guint8 *back;

  mapping = gst_memmap_engine_create_file (engine, path, FILE_SIZE, &err);
  fail_unless (mapping != NULL, "%s", err ? err->message : "?");
  fail_unless (gst_memmap_mapping_is_writable (mapping));

  mem = gst_memmap_allocator_wrap (allocator, mapping, 4096, 8192);
  fail_if (GST_MEMORY_IS_READONLY (mem));

  fail_unless (gst_memory_map (mem, &info, GST_MAP_WRITE));
  fail_unless (info.data == gst_memmap_mapping_get_data (mapping) + 4096);
  memset (info.data, 0x5a, info.size);
  gst_memory_unmap (mem, &info);

  /* shares are read-only, as for any GstMemory */
  sub = gst_memory_share (mem, 0, 10);
  fail_unless (GST_MEMORY_IS_READONLY (sub));
  fail_if (gst_memory_map (sub, &info, GST_MAP_WRITE));
  gst_memory_unref (sub);

  /* writing through a buffer reaches the file too */
  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_memmap_allocator_wrap (allocator,
          mapping, 20000, 100));
  fail_unless (gst_buffer_map (buf, &info2, GST_MAP_WRITE));
  fail_unless (info2.data == gst_memmap_mapping_get_data (mapping) + 20000);
  memset (info2.data, 0xa5, info2.size);
  gst_buffer_unmap (buf, &info2);
  fail_unless (gst_is_memmap_memory (gst_buffer_peek_memory (buf, 0)));
  gst_buffer_unref (buf);

  fail_unless (gst_memmap_mapping_flush (mapping, 0, FILE_SIZE, &err),
      "%s", err ? err->message : "?");

  back = read_file_at (path, 0, FILE_SIZE);
  fail_unless (back[4095] == 0);
  fail_unless (back[4096] == 0x5a);
  fail_unless (back[4096 + 8191] == 0x5a);
  fail_unless (back[4096 + 8192] == 0);
  fail_unless (back[19999] == 0);
  fail_unless (back[20000] == 0xa5);
  fail_unless (back[20099] == 0xa5);
  fail_unless (back[20100] == 0);
  g_free (back);

  gst_memory_unref (mem);
  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_memory_keeps_mapping)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemory *mem, *sub;
  GstMapInfo info;

  mem = gst_memmap_allocator_wrap (allocator, mapping, 65536, 65536);
  sub = gst_memory_share (mem, 1, 10);
  gst_memmap_mapping_unref (mapping);
  fail_unless_equals_uint64 (engine_stat ("in-use-maps"), 1);

  /* the engine lets go of everything, but the memory still holds it */
  gst_memmap_engine_clear_all (engine);
  fail_unless_equals_uint64 (engine_stat ("active-maps"), 1);
  fail_unless (gst_memory_map (mem, &info, GST_MAP_READ));
  assert_pattern (info.data, 65536, info.size);
  gst_memory_unmap (mem, &info);

  gst_memory_unref (mem);
  fail_unless_equals_uint64 (engine_stat ("active-maps"), 1);
  fail_unless (gst_memory_map (sub, &info, GST_MAP_READ));
  assert_pattern (info.data, 65537, info.size);
  gst_memory_unmap (sub, &info);

  /* the last memory takes the mapping with it */
  gst_memory_unref (sub);
  fail_unless_equals_uint64 (engine_stat ("in-use-maps"), 0);
  fail_unless_equals_uint64 (engine_stat ("active-maps"), 0);
  fail_unless_equals_uint64 (engine_stat ("mapped-bytes"), 0);

  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_memory_keeps_allocator)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstAllocator *alloc2 = gst_memmap_allocator_new ();
  GstMemory *mem, *sub;
  GstMapInfo info;

  mem = gst_memmap_allocator_wrap (alloc2, mapping, 100, 100);
  gst_object_unref (alloc2);
  gst_memmap_mapping_unref (mapping);

  sub = gst_memory_share (mem, 50, 50);
  fail_unless (gst_memory_map (sub, &info, GST_MAP_READ));
  assert_pattern (info.data, 150, 50);
  gst_memory_unmap (sub, &info);
  gst_memory_unref (mem);
  gst_memory_unref (sub);

  fail_unless_equals_uint64 (engine_stat ("in-use-maps"), 0);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_accessors)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GstMemory *mem, *sub;
  GstMapInfo info;
  guint8 *back;
  gint fd;

  mem = gst_memmap_allocator_wrap (allocator, mapping, 33333, 4444);
  sub = gst_memory_share (mem, 44, 400);

  fail_unless_equals_string (gst_memmap_memory_get_path (mem), path);
  fail_unless_equals_string (gst_memmap_memory_get_path (sub), path);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (mem), 33333);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (sub), 33377);

  fd = gst_memmap_memory_get_fd (mem);
  fail_unless (fd >= 0);
  fail_unless_equals_int (gst_memmap_memory_get_fd (sub), fd);
  fail_unless_equals_int (fd, gst_memmap_mapping_get_fd (mapping));

  /* the fd reaches the same bytes (pread leaves its offset alone) */
  fail_unless (gst_memory_map (sub, &info, GST_MAP_READ));
  back = g_malloc (info.size);
  fail_unless_equals_int64 (pread (fd, back, info.size,
          gst_memmap_memory_get_file_offset (sub)), info.size);
  fail_unless (memcmp (back, info.data, info.size) == 0);
  g_free (back);

  /* and so does another open of the path */
  back = read_file_at (gst_memmap_memory_get_path (sub),
      gst_memmap_memory_get_file_offset (sub), info.size);
  fail_unless (memcmp (back, info.data, info.size) == 0);
  g_free (back);
  gst_memory_unmap (sub, &info);

  /* not memmap memory */
  {
    GstMemory *sysmem = gst_allocator_alloc (NULL, 10, NULL);

    ASSERT_MEMMAP_CRITICAL (gst_memmap_memory_get_fd (sysmem));
    ASSERT_MEMMAP_CRITICAL (gst_memmap_memory_get_mapping (sysmem));
    ASSERT_MEMMAP_CRITICAL (gst_memmap_memory_get_path (sysmem));
    ASSERT_MEMMAP_CRITICAL (gst_memmap_memory_get_file_offset (sysmem));
    gst_memory_unref (sysmem);
  }

  gst_memory_unref (sub);
  gst_memory_unref (mem);
  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_small_file_read_mapping)
{
  /* small read-only files are read() into memory by the engine: the memory
   * works the same way */
  gchar *path = make_file ("small", 1000);
  GstMemmapMapping *mapping;
  GstMemory *mem, *copy;
  GstMapInfo info;

  g_object_set (engine, "read-threshold", (guint64) 4096, NULL);
  mapping = map_file (path, GST_MEMMAP_MAP_COPY_SMALL);
  fail_if (gst_memmap_mapping_is_mmapped (mapping));

  mem = gst_memmap_allocator_wrap (allocator, mapping, 10, 900);
  fail_unless (mem != NULL);
  fail_unless (GST_MEMORY_IS_READONLY (mem));
  fail_unless (gst_memory_map (mem, &info, GST_MAP_READ));
  fail_unless (info.data == gst_memmap_mapping_get_data (mapping) + 10);
  assert_pattern (info.data, 10, 900);
  gst_memory_unmap (mem, &info);
  fail_unless_equals_uint64 (gst_memmap_memory_get_file_offset (mem), 10);
  fail_unless_equals_string (gst_memmap_memory_get_path (mem), path);

  gst_memory_ref (mem);
  copy = gst_memory_make_mapped (mem, &info, GST_MAP_WRITE);
  fail_unless (copy != NULL && copy != mem);
  assert_pattern (info.data, 10, 900);
  gst_memory_unmap (copy, &info);
  gst_memory_unref (copy);

  gst_memory_unref (mem);
  gst_memmap_mapping_unref (mapping);
  g_free (path);
}

GST_END_TEST;

#define N_THREADS 4
#define N_ROUNDS 2000

typedef struct
{
  GstMemmapMapping *mapping;
  guint seed;
} ThreadData;

static gpointer
wrap_thread (gpointer user_data)
{
  ThreadData *data = user_data;
  GRand *rand = g_rand_new_with_seed (data->seed);
  guint i;

  for (i = 0; i < N_ROUNDS; i++) {
    guint64 off = g_rand_int_range (rand, 0, FILE_SIZE - 2000);
    gboolean early = g_rand_boolean (rand);
    GstMemory *mem, *sub;
    GstMapInfo info;

    mem = gst_memmap_allocator_wrap (allocator, data->mapping, off, 2000);
    sub = gst_memory_share (mem, 1000, 1000);
    if (early)
      gst_memory_unref (mem);
    if (!gst_memory_map (sub, &info, GST_MAP_READ))
      g_error ("cannot map");
    if (info.data[0] != pattern_byte (off + 1000))
      g_error ("bad byte");
    gst_memory_unmap (sub, &info);
    gst_memory_unref (sub);
    if (!early)
      gst_memory_unref (mem);
  }
  g_rand_free (rand);

  return NULL;
}

GST_START_TEST (test_threads)
{
  gchar *path = make_file ("a", FILE_SIZE);
  GstMemmapMapping *mapping = map_file (path, GST_MEMMAP_MAP_NONE);
  GThread *threads[N_THREADS];
  ThreadData data[N_THREADS];
  guint i;

  for (i = 0; i < N_THREADS; i++) {
    data[i].mapping = mapping;
    data[i].seed = i + 1;
    threads[i] = g_thread_new ("wrap", wrap_thread, &data[i]);
  }
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  gst_memmap_mapping_unref (mapping);
  /* every memory, and the common parent, let go of the mapping */
  fail_unless_equals_uint64 (engine_stat ("in-use-maps"), 0);
  g_free (path);
}

GST_END_TEST;

static Suite *
allocator_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmap-allocator", setup, teardown, &tc);

  gst_memmap_init ();
  g_log_set_handler ("GStreamer-Memmap",
      G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, memmap_log_func, NULL);

  tcase_add_test (tc, test_memory_type);
  tcase_add_test (tc, test_map_is_pointer_arithmetic);
  tcase_add_test (tc, test_wrap_window);
  tcase_add_test (tc, test_share);
  tcase_add_test (tc, test_is_span);
  tcase_add_test (tc, test_buffer_span_is_zero_copy);
  tcase_add_test (tc, test_readonly_copy_on_write);
  tcase_add_test (tc, test_writable_mapping);
  tcase_add_test (tc, test_memory_keeps_mapping);
  tcase_add_test (tc, test_memory_keeps_allocator);
  tcase_add_test (tc, test_accessors);
  tcase_add_test (tc, test_small_file_read_mapping);
  tcase_add_test (tc, test_threads);

  return s;
}

GST_CHECK_MAIN (allocator);
