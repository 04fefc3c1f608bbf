/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmapsink: frames into a store, with no copy when the producer uses the
 * slot pool, once copied otherwise; read back with the library's reader.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define CHILD_ENV "MEMMAPSINK_TEST_DISK_FULL_CHILD"

/* The msync() calls of the libraries this program links (libgstmemmap's
 * among them): this definition interposes the C library's, counts and
 * forwards. It shows that durable=true syncs every frame. */
static gint msync_calls;

int
msync (void *addr, size_t length, int flags)
{
  g_atomic_int_inc (&msync_calls);
  return (int) syscall (SYS_msync, addr, length, flags);
}

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmapsink");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

/* ------------------------------------------------------------------------ */
/* frames and checksums                                                     */

/* A system-memory frame filled with a pattern of @n. With @padded, the
 * strides are wider than the default ones (a video meta says so) and the
 * padding holds junk, to prove that the copy follows the strides. */
static GstBuffer *
make_frame (const GstVideoInfo * info, guint n, gboolean padded)
{
  GstVideoInfo layout = *info;
  GstVideoFrame frame;
  GstBuffer *buffer;
  guint p;

  if (padded) {
    GstVideoAlignment align;

    gst_video_alignment_reset (&align);
    align.padding_right = 13;
    align.padding_bottom = 3;
    fail_unless (gst_video_info_align (&layout, &align));
  }

  buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&layout), NULL);
  gst_buffer_memset (buffer, 0, 0xa5, GST_VIDEO_INFO_SIZE (&layout));
  if (padded) {
    gst_buffer_add_video_meta_full (buffer, GST_VIDEO_FRAME_FLAG_NONE,
        GST_VIDEO_INFO_FORMAT (&layout), GST_VIDEO_INFO_WIDTH (&layout),
        GST_VIDEO_INFO_HEIGHT (&layout), GST_VIDEO_INFO_N_PLANES (&layout),
        layout.offset, layout.stride);
  }

  fail_unless (gst_video_frame_map (&frame, info, buffer, GST_MAP_WRITE));
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    guint rows, row;
    gsize row_bytes, x;

    gst_video_format_info_component (frame.info.finfo, p, comp);
    rows = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comp[0]);
    row_bytes = (gsize) GST_VIDEO_FRAME_COMP_WIDTH (&frame, comp[0]) *
        GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, comp[0]);
    for (row = 0; row < rows; row++)
      for (x = 0; x < row_bytes; x++)
        data[(gsize) row * stride + x] = (guint8) (n * 37 + p * 101 +
            row * 7 + x * 3);
  }
  gst_video_frame_unmap (&frame);

  return buffer;
}

static void
info_from_string (GstVideoInfo * info, const gchar * caps_str)
{
  GstCaps *caps = gst_caps_from_string (caps_str);

  fail_unless (caps != NULL);
  fail_unless (gst_video_info_from_caps (info, caps));
  gst_caps_unref (caps);
}

/* ------------------------------------------------------------------------ */
/* reading a store back                                                     */

typedef struct
{
  guint64 committed;
  guint64 first;
  gboolean closed;
  GPtrArray *sums;              /* of frames first .. committed - 1 */
  GArray *pts;
} StoreContents;

static void
store_contents_clear (StoreContents * c)
{
  g_clear_pointer (&c->sums, g_ptr_array_unref);
  g_clear_pointer (&c->pts, g_array_unref);
}

static void
read_store (const gchar * path, StoreContents * c)
{
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstMemmapStoreReader *reader;
  GError *error = NULL;
  guint64 f;

  reader = gst_memmap_store_reader_open (engine, path, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "?");

  c->committed = gst_memmap_store_reader_get_committed (reader);
  c->first = gst_memmap_store_reader_get_first_frame (reader);
  c->closed = gst_memmap_store_reader_is_closed (reader);
  c->sums = g_ptr_array_new_with_free_func (g_free);
  c->pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));

  for (f = c->first; f < c->committed; f++) {
    GstMemmapStoreEntry entry;
    GstBuffer *buffer;

    fail_unless (gst_memmap_store_reader_get_entry (reader, f, &entry,
            &error), "%s", error ? error->message : "?");
    fail_unless_equals_uint64 (entry.frame, f);
    g_array_append_val (c->pts, entry.pts);

    buffer = gst_memmap_store_reader_get_buffer (reader, NULL, f, &error);
    fail_unless (buffer != NULL, "%s", error ? error->message : "?");
    g_ptr_array_add (c->sums, memmap_test_frame_checksum
        (gst_memmap_store_reader_get_layout (reader), buffer));
    gst_buffer_unref (buffer);
  }

  gst_memmap_store_reader_unref (reader);
  gst_object_unref (engine);
}

/* ------------------------------------------------------------------------ */
/* pipelines                                                                */

/* Checksums and timestamps of what @source (a launch line fragment ending in
 * caps) produces, collected by an appsink. */
static void
reference_frames (const gchar * source, GPtrArray ** sums, GArray ** pts)
{
  GstElement *pipeline, *appsink;
  GstSample *sample;

  pipeline = parse_pipeline ("%s ! appsink name=ref sync=false", source);
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "ref");
  *sums = g_ptr_array_new_with_free_func (g_free);
  if (pts)
    *pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (TRUE) {
    GstVideoInfo info;
    GstBuffer *buffer;

    sample = NULL;
    g_signal_emit_by_name (appsink, "pull-sample", &sample);
    if (sample == NULL)
      break;
    buffer = gst_sample_get_buffer (sample);

    fail_unless (gst_video_info_from_caps (&info,
            gst_sample_get_caps (sample)));
    g_ptr_array_add (*sums, memmap_test_frame_checksum (&info, buffer));
    if (pts)
      g_array_append_val (*pts, GST_BUFFER_PTS (buffer));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);

  gst_object_unref (appsink);
  gst_object_unref (pipeline);
}

static GstStructure *
get_stats (GstElement * sink)
{
  return memmap_test_get_stats (sink, "memmapsink-stats");
}

/* what the zero-copy probe saw on memmapsink's sink pad */
typedef struct
{
  const gchar *location;
  guint buffers;
  guint in_slot;
  gchar *failure;
} SlotProbe;

static void
slot_probe_fail (SlotProbe * probe, const gchar * what)
{
  if (probe->failure == NULL)
    probe->failure = g_strdup_printf ("buffer %u: %s", probe->buffers, what);
}

static GstPadProbeReturn
check_slot_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SlotProbe *probe = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMemmapMapping *mapping;
  GstMemory *mem;
  GstMapInfo map;
  guint8 *start;
  gsize size;

  probe->buffers++;
  if (gst_buffer_n_memory (buffer) != 1) {
    slot_probe_fail (probe, "not one memory");
    return GST_PAD_PROBE_OK;
  }
  mem = gst_buffer_peek_memory (buffer, 0);
  if (!gst_is_memmap_memory (mem)) {
    slot_probe_fail (probe, "not memmap memory");
    return GST_PAD_PROBE_OK;
  }
  if (!gst_memory_is_type (mem, GST_MEMMAP_MEMORY_TYPE) ||
      g_strcmp0 (mem->allocator->mem_type, "memmap") != 0) {
    slot_probe_fail (probe, "mem_type is not memmap");
    return GST_PAD_PROBE_OK;
  }
  if (g_strcmp0 (gst_memmap_memory_get_path (mem), probe->location) != 0) {
    slot_probe_fail (probe, "memory of another file");
    return GST_PAD_PROBE_OK;
  }
  if (gst_memmap_memory_get_file_offset (mem) % 4096 != 0) {
    slot_probe_fail (probe, "slot not on a page boundary");
    return GST_PAD_PROBE_OK;
  }

  mapping = gst_memmap_memory_get_mapping (mem);
  if (mapping == NULL || !gst_memmap_mapping_is_writable (mapping)) {
    slot_probe_fail (probe, "not a writable mapping of the store");
    return GST_PAD_PROBE_OK;
  }
  start = gst_memmap_mapping_get_data (mapping);
  size = gst_memmap_mapping_get_size (mapping);
  if (!gst_memory_map (mem, &map, GST_MAP_READ)) {
    slot_probe_fail (probe, "cannot map");
    return GST_PAD_PROBE_OK;
  }
  if (map.data >= start && map.data + map.size <= start + size)
    probe->in_slot++;
  else
    slot_probe_fail (probe, "data outside the store's mapping");
  gst_memory_unmap (mem, &map);

  return GST_PAD_PROBE_OK;
}

static void
add_slot_probe (GstElement * pipeline, SlotProbe * probe)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, check_slot_buffer,
      probe, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
}

static void
assert_sums_equal (GPtrArray * expected, guint start, GPtrArray * got)
{
  guint i;

  fail_unless (start + got->len <= expected->len);
  for (i = 0; i < got->len; i++) {
    const gchar *want = g_ptr_array_index (expected, start + i);
    const gchar *have = g_ptr_array_index (got, i);

    fail_unless (g_strcmp0 (want, have) == 0, "frame %u differs", start + i);
  }
}

/* The store at @location is closed and holds frames @start .. @committed - 1
 * (as its reader says), equal to @expected[@start ..]. */
static void
assert_store (const gchar * location, guint64 committed, guint64 start,
    GPtrArray * expected)
{
  StoreContents c = { 0, };

  read_store (location, &c);
  fail_unless (c.closed, "%s is not closed", location);
  fail_unless_equals_uint64 (c.committed, committed);
  fail_unless_equals_uint64 (c.first, start);
  fail_unless_equals_uint64 (c.sums->len, committed - start);
  assert_sums_equal (expected, start, c.sums);
  store_contents_clear (&c);
}

/* Records @source into a store through a pipeline, checks that every buffer
 * reached memmapsink as one of the store's slots and that the store holds
 * what @source produces. */
static void
check_zero_copy_at (const gchar * location, const gchar * source,
    guint n_frames, const gchar * extra)
{
  SlotProbe probe = { location, 0, 0, NULL };
  GPtrArray *expected;
  GArray *expected_pts;
  StoreContents c = { 0, };
  GstElement *pipeline, *sink;
  GstStructure *stats;
  guint i;

  pipeline = parse_pipeline ("%s ! memmapsink name=sink location=%s %s",
      source, location, extra ? extra : "");
  add_slot_probe (pipeline, &probe);
  run_to_eos (pipeline);

  fail_unless (probe.failure == NULL, "%s", probe.failure);
  fail_unless_equals_int (probe.buffers, n_frames);
  fail_unless_equals_int (probe.in_slot, n_frames);

  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  stats = get_stats (sink);
  fail_unless_equals_uint64 (stats_get (stats, "frames-written"), n_frames);
  fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), n_frames);
  fail_unless_equals_uint64 (stats_get (stats, "frames-copied"), 0);
  gst_structure_free (stats);
  gst_object_unref (sink);
  gst_object_unref (pipeline);

  reference_frames (source, &expected, &expected_pts);
  fail_unless_equals_int (expected->len, n_frames);

  read_store (location, &c);
  fail_unless (c.closed);
  fail_unless_equals_uint64 (c.first, 0);
  fail_unless_equals_uint64 (c.committed, n_frames);
  assert_sums_equal (expected, 0, c.sums);
  for (i = 0; i < c.pts->len; i++)
    fail_unless_equals_uint64 (g_array_index (c.pts, GstClockTime, i),
        g_array_index (expected_pts, GstClockTime, i));

  store_contents_clear (&c);
  g_ptr_array_unref (expected);
  g_array_unref (expected_pts);
}

static void
check_zero_copy (const gchar * source, guint n_frames, const gchar * extra)
{
  gchar *location = test_path ("zero-copy.store");

  check_zero_copy_at (location, source, n_frames, extra);
  g_free (location);
}

/* ------------------------------------------------------------------------ */
/* harness                                                                  */

static GstHarness *
harness_new (const gchar * location, GstBus ** bus, const gchar * first_prop,
    ...)
{
  GstElement *sink = gst_element_factory_make ("memmapsink", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (sink != NULL);
  g_object_set (sink, "location", location, NULL);
  if (first_prop) {
    va_start (args, first_prop);
    g_object_set_valist (G_OBJECT (sink), first_prop, args);
    va_end (args);
  }
  if (bus) {
    *bus = gst_bus_new ();
    gst_element_set_bus (sink, *bus);
  }

  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);

  return h;
}

/* Pushes frames @start .. @start + @n - 1 of make_frame(); returns their
 * checksums appended to @sums. */
static void
push_frames (GstHarness * h, const GstVideoInfo * info, guint start, guint n,
    gboolean padded, GPtrArray * sums)
{
  guint i;

  for (i = start; i < start + n; i++) {
    GstBuffer *buffer = make_frame (info, i, padded);

    GST_BUFFER_PTS (buffer) = i * GST_SECOND / 30;
    GST_BUFFER_DURATION (buffer) = GST_SECOND / 30;
    if (sums)
      g_ptr_array_add (sums, memmap_test_frame_checksum (info, buffer));
    fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
  }
}

static GstBufferPool *
query_pool (GstHarness * h, const gchar * caps_str, guint * min, guint * max)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstQuery *query = gst_query_new_allocation (caps, TRUE);
  GstBufferPool *pool = NULL;
  guint size;

  fail_unless (gst_pad_peer_query (h->srcpad, query));
  fail_unless (gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE,
          NULL));
  fail_unless (gst_query_get_n_allocation_pools (query) > 0);
  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, min, max);
  fail_unless (pool != NULL);

  gst_query_unref (query);
  gst_caps_unref (caps);

  return pool;
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */

#define BALL_SRC(n, caps) \
  "videotestsrc num-buffers=" G_STRINGIFY (n) " pattern=ball ! " caps

GST_START_TEST (test_zero_copy_videotestsrc)
{
  check_zero_copy (BALL_SRC (30,
          "video/x-raw,format=I420,width=320,height=240,framerate=30/1"), 30,
      NULL);
}

GST_END_TEST;

GST_START_TEST (test_zero_copy_videoconvert)
{
  check_zero_copy (BALL_SRC (20,
          "video/x-raw,format=RGBA,width=160,height=120,framerate=30/1 ! "
          "videoconvert ! video/x-raw,format=NV12"), 20, NULL);
}

GST_END_TEST;

GST_START_TEST (test_copy_path)
{
  const gchar *caps = "video/x-raw,format=I420,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("copy.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  StoreContents c = { 0, };
  GstStructure *stats;
  GstVideoInfo info;
  GstHarness *h;
  guint i;

  info_from_string (&info, caps);
  h = harness_new (location, NULL, NULL);
  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, &info, 0, 12, FALSE, sums);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  stats = get_stats (h->element);
  fail_unless_equals_uint64 (stats_get (stats, "frames-written"), 12);
  fail_unless_equals_uint64 (stats_get (stats, "frames-copied"), 12);
  fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), 0);
  fail_unless_equals_uint64 (stats_get (stats, "bytes-written"),
      12 * GST_VIDEO_INFO_SIZE (&info));
  fail_unless (gst_structure_has_field_typed (stats, "engine",
          GST_TYPE_STRUCTURE));
  gst_structure_free (stats);
  gst_harness_teardown (h);

  read_store (location, &c);
  fail_unless (c.closed);
  fail_unless_equals_uint64 (c.committed, 12);
  assert_sums_equal (sums, 0, c.sums);
  for (i = 0; i < 12; i++)
    fail_unless_equals_uint64 (g_array_index (c.pts, GstClockTime, i),
        i * GST_SECOND / 30);

  store_contents_clear (&c);
  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

static const gchar *round_trip_formats[] = {
  "I420", "NV12", "RGB", "RGBA", "GRAY8"
};

static const guint round_trip_sizes[][2] = { {320, 240}, {317, 241} };

GST_START_TEST (test_formats_round_trip)
{
  guint f, s;

  for (f = 0; f < G_N_ELEMENTS (round_trip_formats); f++) {
    for (s = 0; s < G_N_ELEMENTS (round_trip_sizes); s++) {
      gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%u,"
          "height=%u,framerate=30/1", round_trip_formats[f],
          round_trip_sizes[s][0], round_trip_sizes[s][1]);
      gchar *source = g_strdup_printf ("videotestsrc num-buffers=4 "
          "pattern=ball ! %s", caps);
      gchar *location = test_path ("copy.store");
      GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
      StoreContents c = { 0, };
      GstVideoInfo info;
      GstHarness *h;

      GST_INFO ("%s", caps);

      /* written in place by videotestsrc */
      check_zero_copy (source, 4, NULL);

      /* copied from buffers with wider strides */
      info_from_string (&info, caps);
      h = harness_new (location, NULL, NULL);
      gst_harness_set_src_caps_str (h, caps);
      push_frames (h, &info, 0, 3, TRUE, sums);
      push_frames (h, &info, 3, 2, FALSE, sums);
      fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
      gst_harness_teardown (h);

      read_store (location, &c);
      fail_unless_equals_uint64 (c.committed, 5);
      assert_sums_equal (sums, 0, c.sums);

      store_contents_clear (&c);
      g_ptr_array_unref (sums);
      g_free (location);
      g_free (source);
      g_free (caps);
    }
  }
}

GST_END_TEST;

/* The template offers only formats a store can hold: one frame of each goes
 * in and comes back. */
GST_START_TEST (test_template_formats_storable)
{
  GstElementFactory *factory = gst_element_factory_find ("memmapsink");
  const GList *templates;
  GstStaticPadTemplate *templ;
  const GValue *formats;
  GstCaps *caps;
  guint i, n_checked = 0;

  fail_unless (factory != NULL);
  templates = gst_element_factory_get_static_pad_templates (factory);
  templ = templates->data;
  caps = gst_static_pad_template_get_caps (templ);
  formats = gst_structure_get_value (gst_caps_get_structure (caps, 0),
      "format");
  fail_unless (GST_VALUE_HOLDS_LIST (formats));

  for (i = 0; i < gst_value_list_get_size (formats); i++) {
    const gchar *format =
        g_value_get_string (gst_value_list_get_value (formats, i));
    const GstVideoFormatInfo *finfo =
        gst_video_format_get_info (gst_video_format_from_string (format));
    gchar *caps_str = g_strdup_printf ("video/x-raw,format=%s,width=66,"
        "height=34,framerate=30/1", format);
    gchar *location = test_path ("format.store");
    GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    gboolean simple = TRUE;
    GstVideoInfo info;
    GstHarness *h;
    guint p;

    fail_if (GST_VIDEO_FORMAT_INFO_IS_TILED (finfo), "%s", format);
    fail_if (GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo), "%s", format);

    /* the checksum needs whole bytes per pixel */
    for (p = 0; p < GST_VIDEO_FORMAT_INFO_N_PLANES (finfo); p++) {
      gst_video_format_info_component (finfo, p, comp);
      if (GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comp[0]) == 0)
        simple = FALSE;
    }

    info_from_string (&info, caps_str);
    h = harness_new (location, NULL, NULL);
    gst_harness_set_src_caps_str (h, caps_str);
    if (simple) {
      push_frames (h, &info, 0, 1, FALSE, sums);
    } else {
      GstBuffer *buffer = gst_buffer_new_allocate (NULL,
          GST_VIDEO_INFO_SIZE (&info), NULL);

      gst_buffer_memset (buffer, 0, 0x5a, GST_VIDEO_INFO_SIZE (&info));
      fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
    }
    gst_harness_teardown (h);

    if (simple) {
      assert_store (location, 1, 0, sums);
      n_checked++;
    } else {
      GstMemmapEngine *engine = gst_memmap_engine_new ();
      GstMemmapStoreReader *reader;

      reader = gst_memmap_store_reader_open (engine, location, NULL);
      fail_unless (reader != NULL, "%s", format);
      fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed
          (reader), 1);
      gst_memmap_store_reader_unref (reader);
      gst_object_unref (engine);
    }

    g_ptr_array_unref (sums);
    g_free (location);
    g_free (caps_str);
  }
  GST_INFO ("%u formats compared byte for byte", n_checked);
  fail_unless (n_checked > 50);

  gst_caps_unref (caps);
  gst_object_unref (factory);
}

GST_END_TEST;

GST_START_TEST (test_ring_wrap_around)
{
  const gchar *caps = "video/x-raw,format=NV12,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("ring.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *expected;
  StoreContents c = { 0, };
  GstVideoInfo info;
  GstHarness *h;
  guint i;

  /* copied */
  info_from_string (&info, caps);
  h = harness_new (location, NULL, "mode", GST_MEMMAP_STORE_MODE_RING,
      "max-frames", (guint64) 5, NULL);
  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, &info, 0, 23, FALSE, sums);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  read_store (location, &c);
  fail_unless (c.closed);
  fail_unless_equals_uint64 (c.committed, 23);
  fail_unless_equals_uint64 (c.first, 18);
  fail_unless_equals_int (c.sums->len, 5);
  assert_sums_equal (sums, 18, c.sums);
  for (i = 0; i < 5; i++)
    fail_unless_equals_uint64 (g_array_index (c.pts, GstClockTime, i),
        (18 + i) * GST_SECOND / 30);
  store_contents_clear (&c);

  /* written in place */
  {
    SlotProbe probe = { location, 0, 0, NULL };
    GstElement *pipeline;

    pipeline = parse_pipeline (BALL_SRC (23, "%s") " ! memmapsink name=sink "
        "location=%s mode=ring max-frames=5", caps, location);
    add_slot_probe (pipeline, &probe);
    run_to_eos (pipeline);
    gst_object_unref (pipeline);
    fail_unless (probe.failure == NULL, "%s", probe.failure);
    fail_unless_equals_int (probe.in_slot, 23);
  }
  {
    gchar *source = g_strdup_printf (BALL_SRC (23, "%s"), caps);

    reference_frames (source, &expected, NULL);
    g_free (source);
  }
  assert_store (location, 23, 18, expected);

  g_ptr_array_unref (expected);
  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_append_grows_by_chunks)
{
  const gchar *caps = "video/x-raw,format=I420,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("chunks.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GstVideoInfo info;
  GstHarness *h;
  GStatBuf st;
  goffset size_after_one_chunk;

  /* 64x48 I420 is 4608 bytes, one page-aligned slot of 8192: three slots a
   * chunk, so 20 frames take seven chunks */
  info_from_string (&info, caps);
  h = harness_new (location, NULL, "chunk-size", (guint64) 3 * 8192, NULL);
  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, &info, 0, 1, FALSE, sums);
  fail_unless (g_stat (location, &st) == 0);
  size_after_one_chunk = st.st_size;
  push_frames (h, &info, 1, 19, FALSE, sums);
  fail_unless (g_stat (location, &st) == 0);
  fail_unless (st.st_size >= size_after_one_chunk + 6 * 3 * 8192,
      "the file did not grow by chunks: %" G_GOFFSET_FORMAT " then %"
      G_GOFFSET_FORMAT, size_after_one_chunk, (goffset) st.st_size);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  assert_store (location, 20, 0, sums);

  /* and in place */
  check_zero_copy (BALL_SRC (20, "video/x-raw,format=I420,width=64,"
          "height=48,framerate=30/1"), 20, "chunk-size=24576");

  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_append_max_frames_ends_stream)
{
  gchar *location = test_path ("capped.store");
  GstElement *pipeline, *sink;
  StoreContents c = { 0, };
  GstStructure *stats;

  pipeline = parse_pipeline (BALL_SRC (50, "video/x-raw,format=I420,"
          "width=64,height=48") " ! memmapsink name=sink location=%s "
      "max-frames=7", location);
  run_to_eos (pipeline);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  stats = get_stats (sink);
  fail_unless_equals_uint64 (stats_get (stats, "frames-written"), 7);
  gst_structure_free (stats);
  gst_object_unref (sink);
  gst_object_unref (pipeline);

  read_store (location, &c);
  fail_unless (c.closed);
  fail_unless_equals_uint64 (c.committed, 7);
  store_contents_clear (&c);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_stop_mid_stream)
{
  const gchar *caps = "video/x-raw,format=GRAY8,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("stopped.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  StoreContents c = { 0, };
  GstElement *pipeline;
  GstVideoInfo info;
  GstHarness *h;

  /* no EOS: the harness takes the element down to NULL */
  info_from_string (&info, caps);
  h = harness_new (location, NULL, NULL);
  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, &info, 0, 5, FALSE, sums);
  gst_harness_teardown (h);

  assert_store (location, 5, 0, sums);

  /* a live pipeline stopped while it runs */
  pipeline = parse_pipeline ("videotestsrc is-live=true pattern=ball ! %s ! "
      "memmapsink name=sink location=%s", caps, location);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL,
          10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  g_usleep (300 * 1000);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  read_store (location, &c);
  fail_unless (c.closed);
  fail_unless (c.committed > 0);
  fail_unless_equals_int (c.sums->len, c.committed);
  store_contents_clear (&c);

  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

static GstMessage *
pop_error (GstBus * bus)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ERROR);

  fail_unless (msg != NULL, "no error on the bus");
  return msg;
}

static void
push_caps (GstHarness * h, const gchar * caps_str)
{
  GstCaps *caps = gst_caps_from_string (caps_str);

  /* a refused caps event may still count as handled (it is sticky): the
   * test looks at the bus instead */
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
}

GST_START_TEST (test_caps_change)
{
  const gchar *caps = "video/x-raw,format=I420,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("caps.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GstMessage *msg;
  GstVideoInfo info;
  GError *error = NULL;
  gchar *debug = NULL;
  GstHarness *h;
  GstBus *bus;

  info_from_string (&info, caps);
  h = harness_new (location, &bus, NULL);
  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, &info, 0, 3, FALSE, sums);

  /* the same layout at another frame rate: the store continues */
  push_caps (h, "video/x-raw,format=I420,width=64,height=48," "framerate=25/1");
  push_frames (h, &info, 3, 2, FALSE, sums);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);

  /* a new resolution: the store ends, with an error */
  push_caps (h, "video/x-raw,format=I420,width=32,height=24," "framerate=30/1");
  msg = pop_error (bus);
  fail_unless_message_error (msg, STREAM, FORMAT);
  gst_message_parse_error (msg, &error, &debug);
  fail_unless_equals_string (error->message, "caps changed mid-stream");
  fail_unless (strstr (debug, location) != NULL, "%s", debug);
  fail_unless (strstr (debug, "64x48 I420") != NULL, "%s", debug);
  fail_unless (strstr (debug, "start a new store") != NULL, "%s", debug);
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);

  /* closed with the first five frames, even before the element stops */
  assert_store (location, 5, 0, sums);

  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_pool_buffers)
{
  const gchar *caps = "video/x-raw,format=I420,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("pool.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GstBuffer *bufs[3], *copy;
  GstStructure *config, *stats;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstVideoFrame frame;
  GstHarness *h;
  guint min, max, i, p;

  info_from_string (&info, caps);
  h = harness_new (location, NULL, NULL);
  gst_harness_set_src_caps_str (h, caps);
  /* the store opens with the caps; then there is a pool to propose */
  pool = query_pool (h, caps, &min, &max);
  fail_unless_equals_int (max, 0);

  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_has_option (config,
          GST_BUFFER_POOL_OPTION_VIDEO_META));
  gst_structure_free (config);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));

  for (i = 0; i < 3; i++) {
    GstVideoMeta *meta;
    GstMemory *mem;

    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool,
            &bufs[i], NULL), GST_FLOW_OK);
    fail_unless_equals_int (gst_buffer_n_memory (bufs[i]), 1);
    mem = gst_buffer_peek_memory (bufs[i], 0);
    fail_unless (gst_is_memmap_memory (mem));
    fail_unless_equals_string (gst_memmap_memory_get_path (mem), location);
    fail_unless (gst_memory_is_writable (mem));
    meta = gst_buffer_get_video_meta (bufs[i]);
    fail_unless (meta != NULL);
    for (p = 0; p < meta->n_planes; p++) {
      fail_unless_equals_uint64 (meta->offset[p],
          GST_VIDEO_INFO_PLANE_OFFSET (&info, p));
      fail_unless_equals_int (meta->stride[p],
          GST_VIDEO_INFO_PLANE_STRIDE (&info, p));
    }
  }

  /* buffer 1 is rendered in place; 0 and 2 go back unused */
  copy = make_frame (&info, 42, FALSE);
  fail_unless (gst_video_frame_map (&frame, &info, bufs[1], GST_MAP_WRITE));
  {
    GstVideoFrame src;

    fail_unless (gst_video_frame_map (&src, &info, copy, GST_MAP_READ));
    fail_unless (gst_video_frame_copy (&frame, &src));
    gst_video_frame_unmap (&src);
  }
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (copy);
  g_ptr_array_add (sums, memmap_test_frame_checksum (&info, bufs[1]));
  GST_BUFFER_PTS (bufs[1]) = 0;
  fail_unless_equals_int (gst_harness_push (h, bufs[1]), GST_FLOW_OK);
  gst_buffer_unref (bufs[0]);
  gst_buffer_unref (bufs[2]);

  /* then a copied one */
  push_frames (h, &info, 1, 1, FALSE, sums);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  stats = get_stats (h->element);
  fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), 1);
  fail_unless_equals_uint64 (stats_get (stats, "frames-copied"), 1);
  {
    GstStructure *store_stats = NULL;

    /* the writer saw both unused slots come back */
    fail_unless (gst_structure_get (stats, "store", GST_TYPE_STRUCTURE,
            &store_stats, NULL));
    fail_unless_equals_uint64 (stats_get (store_stats, "committed"), 2);
    fail_unless_equals_uint64 (stats_get (store_stats, "released"), 2);
    gst_structure_free (store_stats);
  }
  gst_structure_free (stats);

  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_harness_teardown (h);

  /* the unused slots left no frame */
  assert_store (location, 2, 0, sums);

  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

/* A producer that keeps pool buffers it never sends (a decoder's reference
 * frames, as avdec_h264 does on interlaced H.264, or frames a probe drops):
 * their slots do not count against max-frames. The store ends with EOS
 * after max-frames frames are stored, never with a disk-full error. */
GST_START_TEST (test_append_max_frames_held_slots)
{
  const gchar *caps = "video/x-raw,format=GRAY8,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("heldcap.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GstBuffer *held[3], *last;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstMessage *msg;
  GstHarness *h;
  GstBus *bus;
  guint min, max, i;

  info_from_string (&info, caps);
  h = harness_new (location, &bus, "max-frames", (guint64) 5, NULL);
  gst_harness_set_src_caps_str (h, caps);
  pool = query_pool (h, caps, &min, &max);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (i = 0; i < G_N_ELEMENTS (held); i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            NULL), GST_FLOW_OK);
    fail_unless (gst_is_memmap_memory (gst_buffer_peek_memory (held[i], 0)));
  }

  /* 3 slots held upstream: still 5 frames stored, the 5th ends the stream */
  push_frames (h, &info, 0, 4, FALSE, sums);
  last = make_frame (&info, 4, FALSE);
  g_ptr_array_add (sums, memmap_test_frame_checksum (&info, last));
  fail_unless_equals_int (gst_harness_push (h, last), GST_FLOW_EOS);
  fail_unless_equals_int (gst_harness_push (h, make_frame (&info, 5, FALSE)),
      GST_FLOW_EOS);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  fail_unless (msg == NULL, "max-frames reached posted %" GST_PTR_FORMAT, msg);

  for (i = 0; i < G_N_ELEMENTS (held); i++)
    gst_buffer_unref (held[i]);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);

  assert_store (location, 5, 0, sums);
  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_ring_pool_limit)
{
  const gchar *caps = "video/x-raw,format=GRAY8,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("ringpool.store");
  GstBufferPool *pool;
  GstHarness *h;
  guint min, max;

  h = harness_new (location, NULL, "mode", GST_MEMMAP_STORE_MODE_RING,
      "max-frames", (guint64) 4, NULL);
  gst_harness_set_src_caps_str (h, caps);
  pool = query_pool (h, caps, &min, &max);
  /* as many buffers as the ring has spare slots */
  fail_unless_equals_int (max, GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS);

  /* and the pool hands out no more than that */
  {
    GstBufferPoolAcquireParams params = { 0, };
    GstBuffer *bufs[GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS + 1];
    guint i;

    params.flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT;
    fail_unless (gst_buffer_pool_set_active (pool, TRUE));
    for (i = 0; i < max; i++) {
      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &bufs[i],
              &params), GST_FLOW_OK);
      fail_unless (gst_is_memmap_memory (gst_buffer_peek_memory (bufs[i], 0)));
    }
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &bufs[max],
            &params), GST_FLOW_EOS);
    /* one back, one more out */
    gst_buffer_unref (bufs[0]);
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &bufs[0],
            &params), GST_FLOW_OK);
    fail_unless (gst_is_memmap_memory (gst_buffer_peek_memory (bufs[0], 0)));
    for (i = 0; i < max; i++)
      gst_buffer_unref (bufs[i]);
    fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  }
  gst_object_unref (pool);
  gst_harness_teardown (h);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_durable)
{
  const gchar *source = BALL_SRC (10, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=30/1");

  /* by default nothing is synced while recording */
  g_atomic_int_set (&msync_calls, 0);
  check_zero_copy (source, 10, NULL);
  fail_unless_equals_int (g_atomic_int_get (&msync_calls), 0);

  /* durable: at least the frame and its entry, for every frame */
  g_atomic_int_set (&msync_calls, 0);
  check_zero_copy (source, 10, "durable=true");
  fail_unless (g_atomic_int_get (&msync_calls) >= 2 * 10, "%d msync calls",
      g_atomic_int_get (&msync_calls));
}

GST_END_TEST;

GST_START_TEST (test_reuse)
{
  const gchar *source = BALL_SRC (6, "video/x-raw,format=GRAY8,width=64,"
      "height=48,framerate=30/1");
  gchar *location = test_path ("reuse.store");
  GstElement *pipeline;
  GStatBuf st;
  ino_t inode;

  pipeline = parse_pipeline ("%s ! memmapsink location=%s", source, location);
  run_to_eos (pipeline);
  gst_object_unref (pipeline);
  fail_unless (g_stat (location, &st) == 0);
  inode = st.st_ino;

  /* reuse=true: the same file is overwritten in place */
  check_zero_copy_at (location, source, 6, "reuse=true");
  fail_unless (g_stat (location, &st) == 0);
  fail_unless (st.st_ino == inode);

  /* by default a new file replaces it */
  check_zero_copy_at (location, source, 6, NULL);
  fail_unless (g_stat (location, &st) == 0);
  fail_unless (st.st_ino != inode);

  g_free (location);
}

GST_END_TEST;

static GstMemmapEngine *
context_engine (GstElement * element)
{
  GstContext *context = gst_element_get_context (element,
      GST_MEMMAP_ENGINE_CONTEXT_TYPE);
  GstMemmapEngine *engine;

  fail_unless (context != NULL);
  engine = gst_memmap_engine_from_context (context);
  gst_context_unref (context);
  return engine;
}

GST_START_TEST (test_context_application_engine)
{
  gchar *location = test_path ("context.store");
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstContext *context = gst_memmap_engine_context_new (engine);
  GstElement *pipeline, *sink;
  GstStructure *before, *after, *stats, *engine_stats;
  GstMemmapEngine *used;

  pipeline = parse_pipeline (BALL_SRC (5, "video/x-raw,format=I420,"
          "width=64,height=48") " ! memmapsink name=sink location=%s",
      location);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_context (sink, context);
  gst_context_unref (context);

  before = gst_memmap_engine_get_stats (engine);
  run_to_eos (pipeline);
  after = gst_memmap_engine_get_stats (engine);
  fail_unless (stats_get (after, "maps") > stats_get (before, "maps"),
      "the application's engine was not used: %" GST_PTR_FORMAT, after);

  /* the sink reports that engine's stats */
  gst_element_set_state (pipeline, GST_STATE_READY);
  stats = get_stats (sink);
  fail_unless (gst_structure_get (stats, "engine", GST_TYPE_STRUCTURE,
          &engine_stats, NULL));
  fail_unless_equals_uint64 (stats_get (engine_stats, "maps"),
      stats_get (after, "maps"));
  gst_structure_free (engine_stats);
  gst_structure_free (stats);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  used = context_engine (sink);
  fail_unless (used == engine);
  gst_object_unref (used);

  gst_structure_free (before);
  gst_structure_free (after);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  gst_object_unref (engine);
  g_free (location);
}

GST_END_TEST;

static GstBusSyncReply
answer_need_context (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  GstMemmapEngine *engine = user_data;
  const gchar *type;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_NEED_CONTEXT &&
      gst_message_parse_context_type (msg, &type) &&
      g_strcmp0 (type, GST_MEMMAP_ENGINE_CONTEXT_TYPE) == 0) {
    GstContext *context = gst_memmap_engine_context_new (engine);

    gst_element_set_context (GST_ELEMENT (GST_MESSAGE_SRC (msg)), context);
    gst_context_unref (context);
  }

  return GST_BUS_PASS;
}

GST_START_TEST (test_context_shared_in_pipeline)
{
  gchar *location_a = test_path ("a.store");
  gchar *location_b = test_path ("b.store");
  GstMemmapEngine *engine_a, *engine_b, *app_engine;
  GstElement *pipeline, *a, *b;
  GstBus *bus;

  /* nobody gives one: both sinks end up with the one the first announced */
  pipeline = parse_pipeline (BALL_SRC (3, "video/x-raw,format=GRAY8,"
          "width=64,height=48") " ! memmapsink name=a location=%s "
      BALL_SRC (3, "video/x-raw,format=GRAY8,width=64,height=48")
      " ! memmapsink name=b location=%s", location_a, location_b);
  run_to_eos (pipeline);
  a = gst_bin_get_by_name (GST_BIN (pipeline), "a");
  b = gst_bin_get_by_name (GST_BIN (pipeline), "b");
  engine_a = context_engine (a);
  engine_b = context_engine (b);
  fail_unless (engine_a == engine_b);
  fail_unless (engine_a == gst_memmap_engine_get_default ());
  gst_object_unref (engine_a);
  gst_object_unref (engine_b);
  gst_object_unref (a);
  gst_object_unref (b);
  gst_object_unref (pipeline);

  /* the application answers need-context */
  app_engine = gst_memmap_engine_new ();
  pipeline = parse_pipeline (BALL_SRC (3, "video/x-raw,format=GRAY8,"
          "width=64,height=48") " ! memmapsink name=a location=%s", location_a);
  bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, answer_need_context, app_engine, NULL);
  run_to_eos (pipeline);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  a = gst_bin_get_by_name (GST_BIN (pipeline), "a");
  engine_a = context_engine (a);
  fail_unless (engine_a == app_engine);
  gst_object_unref (engine_a);
  gst_object_unref (a);
  gst_object_unref (pipeline);
  gst_object_unref (app_engine);

  g_free (location_a);
  g_free (location_b);
}

GST_END_TEST;

static void
check_open_error (const gchar * location, gint code)
{
  GstElement *pipeline;
  GstMessage *msg;

  pipeline = parse_pipeline (BALL_SRC (3, "video/x-raw,format=GRAY8,"
          "width=64,height=48") " ! memmapsink location=%s", location);
  msg = run_pipeline (pipeline);
  memmap_test_check_error (msg, GST_RESOURCE_ERROR, code, location, location);
  gst_message_unref (msg);
  gst_object_unref (pipeline);
}

GST_START_TEST (test_error_missing_directory)
{
  gchar *location = test_path ("no-such-dir/x.store");

  check_open_error (location, GST_RESOURCE_ERROR_OPEN_WRITE);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_error_is_directory)
{
  check_open_error (tmpdir, GST_RESOURCE_ERROR_OPEN_WRITE);
}

GST_END_TEST;

GST_START_TEST (test_error_settings)
{
  GstElement *sink = gst_element_factory_make ("memmapsink", NULL);
  gchar *location = test_path ("ring.store");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (sink, bus);

  /* a ring needs a capacity */
  g_object_set (sink, "location", location, "mode",
      GST_MEMMAP_STORE_MODE_RING, NULL);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = pop_error (bus);
  fail_unless_message_error (msg, RESOURCE, SETTINGS);
  gst_message_unref (msg);
  gst_element_set_state (sink, GST_STATE_NULL);

  /* and everything needs a location */
  g_object_set (sink, "location", NULL, "mode",
      GST_MEMMAP_STORE_MODE_APPEND, NULL);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = pop_error (bus);
  fail_unless_message_error (msg, RESOURCE, NOT_FOUND);
  gst_message_unref (msg);
  gst_element_set_state (sink, GST_STATE_NULL);

  gst_element_set_bus (sink, NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  g_free (location);
}

GST_END_TEST;

static void
check_bus_error (GstBus * bus, GQuark domain, gint code, const gchar * what)
{
  GstMessage *msg = pop_error (bus);

  memmap_test_check_error (msg, domain, code, NULL, what);
  gst_message_unref (msg);
}

GST_START_TEST (test_error_short_buffer)
{
  const gchar *caps = "video/x-raw,format=I420,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("short.store");
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GstVideoInfo info;
  GstHarness *h;
  GstBus *bus;

  info_from_string (&info, caps);
  h = harness_new (location, &bus, NULL);
  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, &info, 0, 2, FALSE, sums);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_allocate (NULL,
              100, NULL)), GST_FLOW_ERROR);
  check_bus_error (bus, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
      "a buffer of 100 bytes does not hold a 64x48 I420 frame");
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);

  assert_store (location, 2, 0, sums);
  g_ptr_array_unref (sums);
  g_free (location);
}

GST_END_TEST;

/* Every spare slot of a ring held by pool buffers upstream, and a buffer to
 * copy: no slot to copy it into. */
GST_START_TEST (test_error_ring_spares_exhausted)
{
  const gchar *caps = "video/x-raw,format=GRAY8,width=64,height=48,"
      "framerate=30/1";
  gchar *location = test_path ("spares.store");
  GstBuffer *held[GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS];
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  GstBus *bus;
  guint min, max, i;

  info_from_string (&info, caps);
  h = harness_new (location, &bus, "mode", GST_MEMMAP_STORE_MODE_RING,
      "max-frames", (guint64) 4, NULL);
  gst_harness_set_src_caps_str (h, caps);
  /* a full ring: only the spare slots are free */
  push_frames (h, &info, 0, 4, FALSE, NULL);
  pool = query_pool (h, caps, &min, &max);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (i = 0; i < G_N_ELEMENTS (held); i++)
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            NULL), GST_FLOW_OK);

  fail_unless_equals_int (gst_harness_push (h, make_frame (&info, 0, FALSE)),
      GST_FLOW_ERROR);
  check_bus_error (bus, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY, location);

  for (i = 0; i < G_N_ELEMENTS (held); i++)
    gst_buffer_unref (held[i]);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* disk full                                                                */

#define DISK_FULL_SOURCE BALL_SRC (200, "video/x-raw,format=I420,width=64," \
    "height=48,framerate=30/1")
/* 64x48 I420: 8192-byte slots, 4 a chunk; the file may grow to 10 chunks */
#define DISK_FULL_CHUNK (4 * 8192)
#define DISK_FULL_LIMIT (4096 + 10 * (4096 + DISK_FULL_CHUNK))

/* In a child process whose files may not grow past DISK_FULL_LIMIT (the
 * kernel then fails the reservation with EFBIG, as a full disk does with
 * ENOSPC): records into the store and prints the error it got. */
static int
disk_full_child (const gchar * location)
{
  GstElement *pipeline;
  GstMessage *msg;
  int ret = 1;

  gst_init (NULL, NULL);
  {
    gchar *desc = g_strdup_printf ("%s ! memmapsink chunk-size=%d "
        "location=%s", DISK_FULL_SOURCE, DISK_FULL_CHUNK, location);

    pipeline = gst_parse_launch (desc, NULL);
    g_free (desc);
  }
  if (pipeline == NULL)
    return 2;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *error = NULL;
    gchar *debug = NULL;

    gst_message_parse_error (msg, &error, &debug);
    g_print ("%s\n%d\n%s\n%s\n", g_quark_to_string (error->domain),
        error->code, error->message, debug);
    g_clear_error (&error);
    g_free (debug);
    ret = 0;
  }
  if (msg)
    gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  return ret;
}

static void
limit_file_size (gpointer user_data)
{
  struct rlimit limit = { DISK_FULL_LIMIT, DISK_FULL_LIMIT };

  signal (SIGXFSZ, SIG_IGN);
  setrlimit (RLIMIT_FSIZE, &limit);
}

GST_START_TEST (test_error_disk_full)
{
  gchar *location = test_path ("full.store");
  gchar *argv[] = { NULL, NULL };
  gchar **envp, *out = NULL, **lines;
  GError *error = NULL;
  GPtrArray *expected;
  StoreContents c = { 0, };
  gint status;

  /* this very test program (valgrind answers readlink with it too) */
  argv[0] = g_file_read_link ("/proc/self/exe", NULL);
  fail_unless (argv[0] != NULL);
  envp = g_environ_setenv (g_get_environ (), CHILD_ENV, location, TRUE);
  fail_unless (g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT,
          limit_file_size, NULL, &out, NULL, &status, &error), "%s",
      error ? error->message : "");
  g_strfreev (envp);
  g_free (argv[0]);
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "the child failed (status %d): %s", status, out);

  /* domain, code, message, debug */
  lines = g_strsplit (out, "\n", 4);
  fail_unless (g_strv_length (lines) >= 4, "child said: %s", out);
  fail_unless_equals_string (lines[0], g_quark_to_string (GST_RESOURCE_ERROR));
  fail_unless_equals_int (atoi (lines[1]), GST_RESOURCE_ERROR_NO_SPACE_LEFT);
  fail_unless (strstr (lines[2], location) != NULL, "%s", lines[2]);
  fail_unless (strstr (lines[3], location) != NULL, "%s", lines[3]);
  GST_INFO ("child: %s (%s)", lines[2], lines[3]);
  g_strfreev (lines);
  g_free (out);

  /* every frame committed before the disk filled is there, and right */
  read_store (location, &c);
  fail_unless (c.closed);
  fail_unless (c.committed >= 4 && c.committed < 200, "%" G_GUINT64_FORMAT
      " frames", c.committed);
  reference_frames (DISK_FULL_SOURCE, &expected, NULL);
  assert_sums_equal (expected, 0, c.sums);
  g_print ("disk full: NO_SPACE_LEFT after %" G_GUINT64_FORMAT " frames, "
      "all of them in the closed store and right\n", c.committed);
  g_ptr_array_unref (expected);
  store_contents_clear (&c);
  g_free (location);
}

GST_END_TEST;

static Suite *
memmapsink_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmapsink", setup, teardown, &tc);

  tcase_add_test (tc, test_zero_copy_videotestsrc);
  tcase_add_test (tc, test_zero_copy_videoconvert);
  tcase_add_test (tc, test_copy_path);
  tcase_add_test (tc, test_formats_round_trip);
  tcase_add_test (tc, test_template_formats_storable);
  tcase_add_test (tc, test_ring_wrap_around);
  tcase_add_test (tc, test_append_grows_by_chunks);
  tcase_add_test (tc, test_append_max_frames_ends_stream);
  tcase_add_test (tc, test_stop_mid_stream);
  tcase_add_test (tc, test_caps_change);
  tcase_add_test (tc, test_pool_buffers);
  tcase_add_test (tc, test_append_max_frames_held_slots);
  tcase_add_test (tc, test_ring_pool_limit);
  tcase_add_test (tc, test_durable);
  tcase_add_test (tc, test_reuse);
  tcase_add_test (tc, test_context_application_engine);
  tcase_add_test (tc, test_context_shared_in_pipeline);
  tcase_add_test (tc, test_error_missing_directory);
  tcase_add_test (tc, test_error_is_directory);
  tcase_add_test (tc, test_error_settings);
  tcase_add_test (tc, test_error_short_buffer);
  tcase_add_test (tc, test_error_ring_spares_exhausted);
  tcase_add_test (tc, test_error_disk_full);

  return s;
}

int
main (int argc, char **argv)
{
  const gchar *child_location = g_getenv (CHILD_ENV);
  Suite *s;

  if (child_location)
    return disk_full_child (child_location);

  gst_check_init (&argc, &argv);
  s = memmapsink_suite ();
  return gst_check_run_suite (s, "memmapsink", __FILE__);
}
