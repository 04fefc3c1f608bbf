/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmapsrc: a store's frames as zero-copy buffers, frame-accurate seeks in
 * time and in frames, backwards, ranges and loops, a store followed while
 * another process writes it, ring leases under a fast writer, several reader
 * processes checking every frame of a ring a writer process fills (for
 * MEMMAP_STRESS_SECONDS), a store much larger than the engine's budget, and
 * bad stores.
 *
 * Stores are written with the library's writer (frames hold the pattern of
 * store-pattern.h, so every buffer proves which frame it is), with
 * store-make (a writer process) or with gst-launch-1.0 and memmapsink.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/base/gstbasesrc.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memmap-test-util.h"
#include "../store-pattern.h"

/* frames written by write_store() are 40 ms apart (25/1 caps) */
#define FRAME_DUR (40 * GST_MSECOND)

static gboolean under_valgrind;

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmapsrc");
  under_valgrind = g_getenv ("MEMMAP_UNDER_VALGRIND") != NULL;
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

/* ------------------------------------------------------------------------ */
/* stores                                                                   */

typedef struct
{
  GstMemmapEngine *engine;
  GstMemmapStoreWriter *writer;
  GstVideoInfo layout;
  guint64 n;
} Writer;

/* A store of @format frames with the pattern of store-pattern.h; strides
 * aligned to @stride_align bytes (0: the caps' default layout). */
static void
writer_open (Writer * w, const gchar * path, GstVideoFormat format,
    guint width, guint height, GstMemmapStoreMode mode, guint64 max_frames,
    guint spare, guint stride_align)
{
  GstVideoInfo info;
  GstCaps *caps;
  GError *error = NULL;

  fail_unless (store_make_layout (&w->layout, format, width, height,
          stride_align, stride_align ? 2 : 0));
  gst_video_info_set_format (&info, format, width, height);
  GST_VIDEO_INFO_FPS_N (&info) = 25;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  caps = gst_video_info_to_caps (&info);
  w->engine = gst_memmap_engine_new ();
  w->writer = gst_memmap_store_writer_new_full (w->engine, path, caps,
      &w->layout, mode, max_frames, spare, 4 * 1024 * 1024,
      GST_MEMMAP_STORE_WRITER_FLAG_NONE, &error);
  fail_unless (w->writer != NULL, "%s", error ? error->message : "");
  gst_caps_unref (caps);
  w->n = 0;
}

static void
writer_add (Writer * w, guint n)
{
  GError *error = NULL;
  guint i;

  for (i = 0; i < n; i++, w->n++) {
    GstMemory *mem;
    GstMapInfo map;
    guint64 slot;

    fail_unless (gst_memmap_store_writer_acquire_slot (w->writer, &slot,
            &error), "%s", error ? error->message : "");
    mem = gst_memmap_store_writer_get_slot_memory (w->writer, NULL, slot,
        &error);
    fail_unless (mem != NULL, "%s", error ? error->message : "");
    fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
    store_fill_frame (map.data, &w->layout, w->n);
    gst_memory_unmap (mem, &map);
    gst_memory_unref (mem);
    fail_unless (gst_memmap_store_writer_commit (w->writer, slot,
            w->n * FRAME_DUR, FRAME_DUR, 0, &error), "%s",
        error ? error->message : "");
  }
}

static void
writer_close (Writer * w)
{
  GError *error = NULL;

  fail_unless (gst_memmap_store_writer_close (w->writer, &error), "%s",
      error ? error->message : "");
  gst_memmap_store_writer_unref (w->writer);
  gst_object_unref (w->engine);
}

static void
write_store (const gchar * path, GstVideoFormat format, guint width,
    guint height, guint n, guint stride_align, GstVideoInfo * layout)
{
  Writer w;

  writer_open (&w, path, format, width, height, GST_MEMMAP_STORE_MODE_APPEND,
      0, 0, stride_align);
  writer_add (&w, n);
  if (layout)
    *layout = w.layout;
  writer_close (&w);
}

/* The path of a helper program of the build tree. */
static gchar *
build_program (const gchar * name)
{
  const gchar *root = g_getenv ("MEMMAP_BUILD_ROOT");

  fail_unless (root != NULL, "MEMMAP_BUILD_ROOT is not set");
  return g_build_filename (root, "tests", "check", name, NULL);
}

/* The environment of a child process: the test's, without the leaks
 * tracer (which has nothing to say about gst-launch-1.0). */
static gchar **
child_environ (void)
{
  gchar **envp = g_get_environ ();

  envp = g_environ_unsetenv (envp, "GST_TRACERS");
  return envp;
}

/* Runs @argv with @envp (consumed) and @flags besides not reaping it. */
static GPid
spawn_env (gchar ** argv, gchar ** envp, GSpawnFlags flags)
{
  GError *error = NULL;
  GPid pid;

  fail_unless (g_spawn_async (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD |
          flags, NULL, NULL, &pid, &error), "%s: %s", argv[0],
      error ? error->message : "");
  g_strfreev (envp);
  return pid;
}

static GPid
spawn (gchar ** argv)
{
  return spawn_env (argv, child_environ (), G_SPAWN_STDOUT_TO_DEV_NULL);
}

static gint
wait_child (GPid pid)
{
  gint status;

  fail_unless (waitpid (pid, &status, 0) == pid);
  g_spawn_close_pid (pid);
  fail_unless (WIFEXITED (status), "child died with status %d", status);
  return WEXITSTATUS (status);
}

/* The frames committed in the store at @path (0 if it cannot be opened). */
static guint64
committed_frames (GstMemmapEngine * engine, const gchar * path)
{
  GstMemmapStoreReader *reader;
  guint64 committed = 0;

  reader = gst_memmap_store_reader_open (engine, path, NULL);
  if (reader) {
    committed = gst_memmap_store_reader_get_committed (reader);
    gst_memmap_store_reader_unref (reader);
  }
  return committed;
}

/* Waits until @path holds a store with at least @n frames committed. */
static void
wait_for_frames (const gchar * path, guint64 n)
{
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (committed_frames (engine, path) < n) {
    fail_unless (g_get_monotonic_time () < deadline, "%s never had %"
        G_GUINT64_FORMAT " frames", path, n);
    g_usleep (2000);
  }
  gst_object_unref (engine);
}

/* ------------------------------------------------------------------------ */
/* pipelines and buffers                                                    */

static GstElement *
make_pipeline (const gchar * location, const gchar * props,
    const gchar * sink_props, GstElement ** src, GstElement ** sink)
{
  GError *error = NULL;
  GstElement *pipeline;
  gchar *desc;

  desc = g_strdup_printf ("memmapsrc name=src location=%s %s ! "
      "appsink name=sink sync=false %s", location, props ? props : "",
      sink_props ? sink_props : "");
  pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS,
      &error);
  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  g_free (desc);

  if (src)
    *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  if (sink)
    *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  return pipeline;
}

static void
set_state_sync (GstElement * pipeline, GstState state)
{
  GstStateChangeReturn ret = gst_element_set_state (pipeline, state);

  fail_unless (ret != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL,
          GST_CLOCK_TIME_NONE) != GST_STATE_CHANGE_FAILURE);
}

static GstSample *
pull_sample (GstElement * sink)
{
  GstSample *sample = NULL;

  g_signal_emit_by_name (sink, "pull-sample", &sample);
  return sample;
}

static GstSample *
try_pull_sample (GstElement * sink, GstClockTime timeout)
{
  GstSample *sample = NULL;

  g_signal_emit_by_name (sink, "try-pull-sample", timeout, &sample);
  return sample;
}

static GstSample *
pull_preroll (GstElement * sink)
{
  GstSample *sample = NULL;

  g_signal_emit_by_name (sink, "pull-preroll", &sample);
  fail_unless (sample != NULL);
  return sample;
}

static GstStructure *
get_stats (GstElement * src)
{
  return memmap_test_get_stats (src, "memmapsrc-stats");
}

/* @buffer is one read-only memory of @location's mapping */
static void
assert_zero_copy (GstBuffer * buffer, const gchar * location)
{
  GstMemmapMapping *mapping;
  GstMemory *mem;
  GstMapInfo map;
  guint8 *start;
  gsize size;

  fail_unless_equals_int (gst_buffer_n_memory (buffer), 1);
  mem = gst_buffer_peek_memory (buffer, 0);
  fail_unless (gst_is_memmap_memory (mem));
  fail_unless (gst_memory_is_type (mem, GST_MEMMAP_MEMORY_TYPE));
  fail_unless (GST_MEMORY_IS_READONLY (mem), "the memory is writable");
  fail_unless_equals_string (gst_memmap_memory_get_path (mem), location);
  fail_unless (gst_memmap_memory_get_file_offset (mem) % 4096 == 0);

  mapping = gst_memmap_memory_get_mapping (mem);
  fail_unless (mapping != NULL);
  fail_if (gst_memmap_mapping_is_writable (mapping));
  start = gst_memmap_mapping_get_data (mapping);
  size = gst_memmap_mapping_get_size (mapping);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  fail_unless (map.data >= start && map.data + map.size <= start + size,
      "the data is not inside the store's mapping");
  gst_memory_unmap (mem, &map);
}

/* @buffer is frame @f of @layout, as write_store() wrote it */
static void
assert_frame (GstBuffer * buffer, const GstVideoInfo * layout, guint64 f,
    GstClockTime frame_dur)
{
  GstVideoMeta *meta;
  GstMapInfo map;
  guint p;

  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buffer), f);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (buffer), f + 1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f * frame_dur);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffer), frame_dur);

  meta = gst_buffer_get_video_meta (buffer);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_planes, GST_VIDEO_INFO_N_PLANES (layout));
  for (p = 0; p < meta->n_planes; p++) {
    fail_unless_equals_uint64 (meta->offset[p],
        GST_VIDEO_INFO_PLANE_OFFSET (layout, p));
    fail_unless_equals_int (meta->stride[p],
        GST_VIDEO_INFO_PLANE_STRIDE (layout, p));
  }

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  fail_unless (store_check_frame (map.data, layout, f),
      "frame %" G_GUINT64_FORMAT " does not hold its pixels", f);
  gst_buffer_unmap (buffer, &map);
}

/* Pulls to EOS; returns the offsets seen (and checks every frame). */
static GArray *
pull_all (GstElement * sink, const GstVideoInfo * layout,
    const gchar * location)
{
  GArray *offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  GstSample *sample;

  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    guint64 f = GST_BUFFER_OFFSET (buffer);

    if (location)
      assert_zero_copy (buffer, location);
    assert_frame (buffer, layout, f, FRAME_DUR);
    g_array_append_val (offsets, f);
    gst_sample_unref (sample);
  }
  return offsets;
}

static void
assert_offsets (GArray * offsets, guint64 start, guint64 n, gint step)
{
  guint i;

  fail_unless_equals_int (offsets->len, n);
  for (i = 0; i < n; i++)
    fail_unless_equals_uint64 (g_array_index (offsets, guint64, i),
        start + (gint64) i * step);
}

static GstMessage *
wait_bus (GstElement * pipeline, GstMessageType types)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, types);
  gst_object_unref (bus);
  fail_unless (msg != NULL, "no message on the bus");
  return msg;
}

static void
assert_no_error (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg) {
    memmap_test_fail_on_error (msg);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

/* ------------------------------------------------------------------------ */
/* zero copy and content                                                    */

GST_START_TEST (test_zero_copy)
{
  gchar *location = test_path ("zc.store");
  GstElement *pipeline, *src, *sink;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader;
  GstVideoInfo layout;
  GstStructure *stats;
  GstSample *sample;
  GstBuffer *buffer, *back;
  GstMapInfo map, orig;
  GArray *offsets;
  GError *error = NULL;

  write_store (location, GST_VIDEO_FORMAT_I420, 64, 48, 30, 0, &layout);

  pipeline = make_pipeline (location, NULL, NULL, &src, &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);

  /* downstream writes into frame 0: a copy, never the file */
  sample = pull_sample (sink);
  fail_unless (sample != NULL);
  buffer = gst_buffer_ref (gst_sample_get_buffer (sample));
  gst_sample_unref (sample);
  assert_zero_copy (buffer, location);
  fail_unless (gst_buffer_map (buffer, &orig, GST_MAP_READ));
  gst_buffer_unmap (buffer, &orig);
  buffer = gst_buffer_make_writable (buffer);
  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_WRITE));
  fail_unless (map.data != orig.data, "wrote into the store's memory");
  memset (map.data, 0x5a, map.size);
  gst_buffer_unmap (buffer, &map);
  fail_if (gst_is_memmap_memory (gst_buffer_peek_memory (buffer, 0)));
  gst_buffer_unref (buffer);

  offsets = pull_all (sink, &layout, location);
  assert_offsets (offsets, 1, 29, 1);
  g_array_unref (offsets);
  assert_no_error (pipeline);

  stats = get_stats (src);
  fail_unless_equals_uint64 (stats_get (stats, "frames-pushed"), 30);
  fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), 30);
  fail_unless_equals_uint64 (stats_get (stats, "frames-copied"), 0);
  fail_unless (gst_structure_has_field_typed (stats, "engine",
          GST_TYPE_STRUCTURE));
  gst_structure_free (stats);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);

  /* the file still holds frame 0 */
  engine = gst_memmap_engine_new ();
  reader = gst_memmap_store_reader_open (engine, location, &error);
  fail_unless (reader != NULL);
  back = gst_memmap_store_reader_get_buffer (reader, NULL, 0, &error);
  fail_unless (back != NULL);
  assert_frame (back, &layout, 0, FRAME_DUR);
  gst_buffer_unref (back);
  gst_memmap_store_reader_unref (reader);
  gst_object_unref (engine);
  g_free (location);
}

GST_END_TEST;

/* SHA-1 of the pixels of frame @f as written (in @layout) and as read from
 * @buffer (through its video meta, or else in @read_layout) */
static void
assert_checksum_in (GstBuffer * buffer, const GstVideoInfo * layout,
    const GstVideoInfo * read_layout, guint64 f)
{
  GstVideoMeta *meta = gst_buffer_get_video_meta (buffer);
  guint8 *written = g_malloc0 (GST_VIDEO_INFO_SIZE (layout));
  gchar *want, *have;
  GstMapInfo map;

  store_fill_frame (written, layout, f);
  want = store_frame_checksum (written, layout, layout->offset, layout->stride);
  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  if (meta)
    have = store_frame_checksum (map.data, layout, meta->offset, meta->stride);
  else
    have = store_frame_checksum (map.data, read_layout, read_layout->offset,
        read_layout->stride);
  gst_buffer_unmap (buffer, &map);
  fail_unless_equals_string (have, want);
  g_free (want);
  g_free (have);
  g_free (written);
}

static void
assert_checksum (GstBuffer * buffer, const GstVideoInfo * layout, guint64 f)
{
  fail_unless (gst_buffer_get_video_meta (buffer) != NULL);
  assert_checksum_in (buffer, layout, layout, f);
}

static GstPadProbeReturn add_video_meta (GstPad * pad,
    GstPadProbeInfo * info, gpointer user_data);
static void add_query_probe (GstElement * src, GstPadProbeCallback callback);

GST_START_TEST (test_formats)
{
  static const struct
  {
    GstVideoFormat format;
    guint width, height, stride_align;
  } cases[] = {
    {GST_VIDEO_FORMAT_I420, 64, 48, 0},
    {GST_VIDEO_FORMAT_NV12, 64, 48, 0},
    {GST_VIDEO_FORMAT_RGBA, 32, 24, 0},
    {GST_VIDEO_FORMAT_GRAY8, 64, 48, 0},
    {GST_VIDEO_FORMAT_I420, 67, 45, 0},
    {GST_VIDEO_FORMAT_RGB, 33, 17, 0},
    {GST_VIDEO_FORMAT_NV12, 66, 34, 64},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *name = g_strdup_printf ("fmt%u.store", i);
    gchar *location = test_path (name);
    GstElement *pipeline, *src, *sink;
    GstVideoInfo layout;
    GstStructure *stats;
    GstSample *sample;
    guint64 f = 0;

    write_store (location, cases[i].format, cases[i].width, cases[i].height,
        12, cases[i].stride_align, &layout);
    pipeline = make_pipeline (location, NULL, NULL, &src, &sink);
    add_query_probe (src, add_video_meta);
    set_state_sync (pipeline, GST_STATE_PLAYING);
    while ((sample = pull_sample (sink)) != NULL) {
      GstBuffer *buffer = gst_sample_get_buffer (sample);

      assert_frame (buffer, &layout, f, FRAME_DUR);
      assert_checksum (buffer, &layout, f);
      gst_sample_unref (sample);
      f++;
    }
    fail_unless_equals_uint64 (f, 12);
    assert_no_error (pipeline);
    stats = get_stats (src);
    fail_unless_equals_uint64 (stats_get (stats, "frames-pushed"), 12);
    fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), 12);
    gst_structure_free (stats);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (src);
    gst_object_unref (sink);
    gst_object_unref (pipeline);
    g_free (location);
    g_free (name);
  }
}

GST_END_TEST;

/* a downstream that reads the video meta (appsink does not say so) */
static GstPadProbeReturn
add_video_meta (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);

  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION &&
      !gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL))
    gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  return GST_PAD_PROBE_OK;
}

/* on the allocation query memmapsrc sends, before and after downstream
 * answers it */
static void
add_query_probe (GstElement * src, GstPadProbeCallback callback)
{
  GstPad *pad = gst_element_get_static_pad (src, "src");

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM |
      GST_PAD_PROBE_TYPE_PUSH | GST_PAD_PROBE_TYPE_PULL, callback, NULL, NULL);
  gst_object_unref (pad);
}

static GstPadProbeReturn
drop_video_meta (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);
  guint idx;

  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION &&
      gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE, &idx))
    gst_query_remove_nth_allocation_meta (query, idx);
  return GST_PAD_PROBE_OK;
}

/* a downstream that reads no video meta gets padded rows copied away */
GST_START_TEST (test_padded_layout_without_video_meta)
{
  gchar *location = test_path ("padded.store");
  GstElement *pipeline, *src, *sink;
  GstVideoInfo layout, plain;
  GstStructure *stats;
  GstSample *sample;
  guint64 f = 0;

  write_store (location, GST_VIDEO_FORMAT_I420, 66, 34, 8, 64, &layout);
  gst_video_info_set_format (&plain, GST_VIDEO_FORMAT_I420, 66, 34);
  fail_if (GST_VIDEO_INFO_SIZE (&layout) == GST_VIDEO_INFO_SIZE (&plain));

  pipeline = make_pipeline (location, NULL, NULL, &src, &sink);
  add_query_probe (src, drop_video_meta);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;

    fail_unless_equals_uint64 (gst_buffer_get_size (buffer),
        GST_VIDEO_INFO_SIZE (&plain));
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    /* the same pixels, in the caps' own layout */
    {
      gchar *want, *have;
      guint8 *written = g_malloc0 (GST_VIDEO_INFO_SIZE (&layout));

      store_fill_frame (written, &layout, f);
      want = store_frame_checksum (written, &layout, layout.offset,
          layout.stride);
      have = store_frame_checksum (map.data, &plain, plain.offset,
          plain.stride);
      fail_unless_equals_string (have, want);
      g_free (want);
      g_free (have);
      g_free (written);
    }
    gst_buffer_unmap (buffer, &map);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buffer), f);
    gst_sample_unref (sample);
    f++;
  }
  fail_unless_equals_uint64 (f, 8);
  stats = get_stats (src);
  fail_unless_equals_uint64 (stats_get (stats, "frames-copied"), 8);
  fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), 0);
  gst_structure_free (stats);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

/* Through GstHarness: a downstream that announces the video meta gets a
 * padded store's frames as they are, one that does not gets copies in the
 * caps' layout; EOS after the last frame. */
static void
harness_read (const gchar * location, const GstVideoInfo * layout,
    gboolean video_meta, guint n)
{
  GstVideoInfo plain;
  GstStructure *stats;
  GstHarness *h;
  GstEvent *event;
  guint64 f;

  gst_video_info_set_format (&plain, GST_VIDEO_INFO_FORMAT (layout),
      GST_VIDEO_INFO_WIDTH (layout), GST_VIDEO_INFO_HEIGHT (layout));
  h = gst_harness_new ("memmapsrc");
  if (video_meta)
    gst_harness_add_propose_allocation_meta (h, GST_VIDEO_META_API_TYPE, NULL);
  g_object_set (h->element, "location", location, NULL);
  gst_harness_play (h);

  for (f = 0; f < n; f++) {
    GstBuffer *buffer = gst_harness_pull (h);

    fail_unless (buffer != NULL);
    if (video_meta) {
      assert_zero_copy (buffer, location);
      assert_frame (buffer, layout, f, FRAME_DUR);
    } else {
      fail_if (gst_is_memmap_memory (gst_buffer_peek_memory (buffer, 0)));
      fail_unless (gst_buffer_get_video_meta (buffer) == NULL);
      fail_unless_equals_uint64 (gst_buffer_get_size (buffer),
          GST_VIDEO_INFO_SIZE (&plain));
      fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buffer), f);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f * FRAME_DUR);
    }
    assert_checksum_in (buffer, layout, video_meta ? layout : &plain, f);
    gst_buffer_unref (buffer);
  }
  while ((event = gst_harness_pull_event (h)) != NULL) {
    GstEventType type = GST_EVENT_TYPE (event);

    gst_event_unref (event);
    if (type == GST_EVENT_EOS)
      break;
  }
  fail_unless (event != NULL, "no EOS");

  stats = get_stats (h->element);
  fail_unless_equals_uint64 (stats_get (stats, "frames-pushed"), n);
  fail_unless_equals_uint64 (stats_get (stats, video_meta ?
          "frames-zero-copy" : "frames-copied"), n);
  gst_structure_free (stats);
  gst_harness_teardown (h);
}

GST_START_TEST (test_harness_video_meta)
{
  gchar *location = test_path ("harness.store");
  GstVideoInfo layout;

  write_store (location, GST_VIDEO_FORMAT_NV12, 66, 34, 6, 64, &layout);
  harness_read (location, &layout, TRUE, 6);
  harness_read (location, &layout, FALSE, 6);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* seeking                                                                  */

#define SEEK_STORE_FRAMES 200

static void
seek_and_check (GstElement * pipeline, GstElement * sink,
    const GstVideoInfo * layout, const gchar * location, GstFormat format,
    gint64 position, guint64 expected)
{
  GstSample *sample;
  GstBuffer *buffer;

  fail_unless (gst_element_seek_simple (pipeline, format,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, position));
  fail_unless (gst_element_get_state (pipeline, NULL, NULL,
          GST_CLOCK_TIME_NONE) == GST_STATE_CHANGE_SUCCESS);
  sample = pull_preroll (sink);
  buffer = gst_sample_get_buffer (sample);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buffer), expected);
  assert_zero_copy (buffer, location);
  assert_frame (buffer, layout, expected, FRAME_DUR);
  assert_checksum (buffer, layout, expected);
  gst_sample_unref (sample);
}

GST_START_TEST (test_seek_random)
{
  gchar *location = test_path ("seek.store");
  GstElement *pipeline, *sink;
  GstVideoInfo layout;
  GRand *rand = g_rand_new_with_seed (4242);
  guint i;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, SEEK_STORE_FRAMES, 0,
      &layout);
  pipeline = make_pipeline (location, NULL, NULL, NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PAUSED);

  for (i = 0; i < 50; i++) {
    guint64 f = g_rand_int_range (rand, 0, SEEK_STORE_FRAMES);
    /* anywhere inside the frame: that frame */
    GstClockTime t = f * FRAME_DUR + g_rand_int_range (rand, 0, FRAME_DUR);

    GST_INFO ("TIME seek to %" GST_TIME_FORMAT ", frame %" G_GUINT64_FORMAT,
        GST_TIME_ARGS (t), f);
    seek_and_check (pipeline, sink, &layout, location, GST_FORMAT_TIME, t, f);
  }
  for (i = 0; i < 50; i++) {
    guint64 f = g_rand_int_range (rand, 0, SEEK_STORE_FRAMES);

    GST_INFO ("DEFAULT seek to frame %" G_GUINT64_FORMAT, f);
    seek_and_check (pipeline, sink, &layout, location, GST_FORMAT_DEFAULT, f,
        f);
  }
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_rand_free (rand);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_seek_reverse)
{
  gchar *location = test_path ("reverse.store");
  GstElement *pipeline, *sink;
  GstVideoInfo layout;
  GstSample *sample;
  GArray *offsets;
  GstClockTime last = GST_CLOCK_TIME_NONE;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 100, 0, &layout);
  pipeline = make_pipeline (location, NULL, NULL, NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PAUSED);

  /* the whole store backwards */
  fail_unless (gst_element_seek (pipeline, -1.0, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET, 0,
          GST_SEEK_TYPE_NONE, -1));
  set_state_sync (pipeline, GST_STATE_PLAYING);
  offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    const GstSegment *segment = gst_sample_get_segment (sample);
    guint64 f = GST_BUFFER_OFFSET (buffer);

    fail_unless (segment->rate < 0);
    assert_frame (buffer, &layout, f, FRAME_DUR);
    if (GST_CLOCK_TIME_IS_VALID (last))
      fail_unless (GST_BUFFER_PTS (buffer) < last);
    last = GST_BUFFER_PTS (buffer);
    g_array_append_val (offsets, f);
    gst_sample_unref (sample);
  }
  assert_offsets (offsets, 99, 100, -1);
  g_array_unref (offsets);

  /* frames 20 .. 59 backwards, in frames */
  set_state_sync (pipeline, GST_STATE_PAUSED);
  fail_unless (gst_element_seek (pipeline, -1.0, GST_FORMAT_DEFAULT,
          GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 20, GST_SEEK_TYPE_SET, 60));
  set_state_sync (pipeline, GST_STATE_PLAYING);
  offsets = pull_all (sink, &layout, location);
  assert_offsets (offsets, 59, 40, -1);
  g_array_unref (offsets);
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_seek_rate)
{
  gchar *location = test_path ("rate.store");
  GstElement *pipeline, *sink;
  GstVideoInfo layout;
  GstSample *sample;
  guint64 f = 10;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 60, 0, &layout);
  pipeline = make_pipeline (location, NULL, NULL, NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PAUSED);

  /* twice as fast: every frame, with its own timestamp; the segment's rate
   * makes the running time go twice as fast */
  fail_unless (gst_element_seek (pipeline, 2.0, GST_FORMAT_DEFAULT,
          GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 10, GST_SEEK_TYPE_NONE, -1));
  set_state_sync (pipeline, GST_STATE_PLAYING);
  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    const GstSegment *segment = gst_sample_get_segment (sample);

    fail_unless (segment->rate == 2.0);
    assert_frame (buffer, &layout, f, FRAME_DUR);
    fail_unless_equals_uint64 (gst_segment_to_running_time (segment,
            GST_FORMAT_TIME, GST_BUFFER_PTS (buffer)),
        (f - 10) * FRAME_DUR / 2);
    gst_sample_unref (sample);
    f++;
  }
  fail_unless_equals_uint64 (f, 60);
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_seek_segment)
{
  gchar *location = test_path ("segment.store");
  GstElement *pipeline, *sink;
  GstVideoInfo layout;
  GstMessage *msg;
  GstFormat format;
  gint64 position;
  guint64 f;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 50, 0, &layout);
  pipeline = make_pipeline (location, NULL, NULL, NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PAUSED);

  fail_unless (gst_element_seek (pipeline, 1.0, GST_FORMAT_DEFAULT,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_SEGMENT, GST_SEEK_TYPE_SET, 10,
          GST_SEEK_TYPE_SET, 20));
  set_state_sync (pipeline, GST_STATE_PLAYING);
  for (f = 10; f < 20; f++) {
    GstSample *sample = try_pull_sample (sink, 10 * GST_SECOND);

    fail_unless (sample != NULL);
    assert_frame (gst_sample_get_buffer (sample), &layout, f, FRAME_DUR);
    gst_sample_unref (sample);
  }
  /* SEGMENT_DONE, not EOS, and nothing after frame 19 */
  msg = wait_bus (pipeline, GST_MESSAGE_SEGMENT_DONE | GST_MESSAGE_EOS |
      GST_MESSAGE_ERROR);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_SEGMENT_DONE);
  gst_message_parse_segment_done (msg, &format, &position);
  fail_unless_equals_int (format, GST_FORMAT_TIME);
  fail_unless_equals_uint64 (position, 20 * FRAME_DUR);
  gst_message_unref (msg);
  fail_unless (try_pull_sample (sink, 100 * GST_MSECOND) == NULL);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_queries)
{
  gchar *location = test_path ("queries.store");
  GstElement *pipeline, *src, *sink;
  GstQuery *query;
  gint64 v, start, end;
  gboolean seekable;
  GstFormat format;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 100, 0, NULL);
  pipeline = make_pipeline (location, NULL, NULL, &src, &sink);
  set_state_sync (pipeline, GST_STATE_PAUSED);

  fail_unless (gst_element_query_duration (src, GST_FORMAT_TIME, &v));
  fail_unless_equals_uint64 (v, 100 * FRAME_DUR);
  fail_unless (gst_element_query_duration (src, GST_FORMAT_DEFAULT, &v));
  fail_unless_equals_uint64 (v, 100);
  /* through the pipeline too */
  fail_unless (gst_element_query_duration (pipeline, GST_FORMAT_TIME, &v));
  fail_unless_equals_uint64 (v, 100 * FRAME_DUR);

  fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_DEFAULT,
          GST_SEEK_FLAG_FLUSH, 50));
  fail_unless (gst_element_get_state (pipeline, NULL, NULL,
          GST_CLOCK_TIME_NONE) == GST_STATE_CHANGE_SUCCESS);
  /* frame 50 is out (it waits in the sink): the source is past it */
  fail_unless (gst_element_query_position (src, GST_FORMAT_DEFAULT, &v));
  fail_unless_equals_uint64 (v, 51);
  fail_unless (gst_element_query_position (src, GST_FORMAT_TIME, &v));
  fail_unless_equals_uint64 (v, 51 * FRAME_DUR);

  fail_unless (gst_element_query_convert (src, GST_FORMAT_DEFAULT, 37,
          GST_FORMAT_TIME, &v));
  fail_unless_equals_uint64 (v, 37 * FRAME_DUR);
  fail_unless (gst_element_query_convert (src, GST_FORMAT_TIME,
          37 * FRAME_DUR + 39 * GST_MSECOND, GST_FORMAT_DEFAULT, &v));
  fail_unless_equals_uint64 (v, 37);
  fail_unless (gst_element_query_convert (src, GST_FORMAT_DEFAULT, 100,
          GST_FORMAT_TIME, &v));
  fail_unless_equals_uint64 (v, 100 * FRAME_DUR);
  fail_if (gst_element_query_convert (src, GST_FORMAT_DEFAULT, 101,
          GST_FORMAT_TIME, &v));

  query = gst_query_new_seeking (GST_FORMAT_DEFAULT);
  fail_unless (gst_element_query (src, query));
  gst_query_parse_seeking (query, &format, &seekable, &start, &end);
  fail_unless (seekable);
  fail_unless_equals_uint64 (start, 0);
  fail_unless_equals_uint64 (end, 100);
  gst_query_unref (query);
  query = gst_query_new_seeking (GST_FORMAT_TIME);
  fail_unless (gst_element_query (src, query));
  gst_query_parse_seeking (query, &format, &seekable, &start, &end);
  fail_unless (seekable);
  fail_unless_equals_uint64 (end, 100 * FRAME_DUR);
  gst_query_unref (query);

  /* not live: a closed store */
  fail_if (gst_base_src_is_live (GST_BASE_SRC (src)));

  /* push mode only; a downstream element that asks while memmapsrc is
   * still in READY (before its properties were taken) starts nothing */
  {
    GstElement *fresh = gst_element_factory_make ("memmapsrc", NULL);
    GstBus *bus = gst_bus_new ();

    gst_element_set_bus (fresh, bus);
    g_object_set (fresh, "location", location, NULL);
    fail_unless_equals_int (gst_element_set_state (fresh, GST_STATE_READY),
        GST_STATE_CHANGE_SUCCESS);
    query = gst_query_new_scheduling ();
    fail_unless (gst_element_query (fresh, query));
    fail_unless (gst_query_has_scheduling_mode (query, GST_PAD_MODE_PUSH));
    fail_if (gst_query_has_scheduling_mode (query, GST_PAD_MODE_PULL));
    gst_query_unref (query);
    {
      GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

      fail_unless (msg == NULL, "%" GST_PTR_FORMAT, msg);
    }
    gst_element_set_state (fresh, GST_STATE_NULL);
    gst_element_set_bus (fresh, NULL);
    gst_object_unref (bus);
    gst_object_unref (fresh);
  }

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

typedef struct
{
  GstElement *pipeline;
  gboolean done;
} SeekLater;

static gpointer
seek_non_flushing (gpointer data)
{
  SeekLater *s = data;

  /* returns once the streaming thread let go of its current push */
  s->done = gst_element_seek (s->pipeline, 1.0, GST_FORMAT_DEFAULT,
      GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET, 60, GST_SEEK_TYPE_NONE, -1);
  return NULL;
}

/* a non-flushing seek: the frames jump, the running time goes on */
GST_START_TEST (test_seek_non_flushing)
{
  gchar *location = test_path ("nonflush.store");
  GstElement *pipeline, *sink;
  GstClockTime last_running = 0;
  GstVideoInfo layout;
  SeekLater seek = { NULL, FALSE };
  GThread *thread = NULL;
  GstSample *sample;
  guint64 expected = 0;
  gboolean jumped = FALSE;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 100, 0, &layout);
  pipeline = make_pipeline (location, NULL, "max-buffers=1", NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  seek.pipeline = pipeline;
  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    guint64 f = GST_BUFFER_OFFSET (buffer);
    GstClockTime running;

    if (f != expected) {
      /* once, to the seek's frame */
      fail_if (jumped);
      fail_unless (thread != NULL);
      fail_unless_equals_uint64 (f, 60);
      jumped = TRUE;
    }
    assert_frame (buffer, &layout, f, FRAME_DUR);
    running = gst_segment_to_running_time (gst_sample_get_segment (sample),
        GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
    fail_unless (running >= last_running);
    last_running = running;
    expected = f + 1;
    gst_sample_unref (sample);
    if (f == 5)
      thread = g_thread_new ("seek", seek_non_flushing, &seek);
    /* give the seek time to get in before the stream ends */
    if (thread && !jumped)
      g_usleep (5000);
  }
  fail_unless (thread != NULL);
  g_thread_join (thread);
  fail_unless (seek.done);
  fail_unless (jumped);
  fail_unless_equals_uint64 (expected, 100);
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* ranges and loops                                                         */

GST_START_TEST (test_range)
{
  gchar *location = test_path ("range.store");
  GstElement *pipeline, *src, *sink;
  GstVideoInfo layout;
  GArray *offsets;
  gint64 v;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 40, 0, &layout);

  /* frames 10 .. 29, then EOS; positions are the store's */
  pipeline = make_pipeline (location, "start-frame=10 num-frames=20", NULL,
      &src, &sink);
  set_state_sync (pipeline, GST_STATE_PAUSED);
  fail_unless (gst_element_query_duration (src, GST_FORMAT_DEFAULT, &v));
  fail_unless_equals_uint64 (v, 30);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  offsets = pull_all (sink, &layout, location);
  assert_offsets (offsets, 10, 20, 1);
  g_array_unref (offsets);
  assert_no_error (pipeline);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);

  /* a range past the end is cut at the end */
  pipeline = make_pipeline (location, "start-frame=30 num-frames=50", NULL,
      NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  offsets = pull_all (sink, &layout, location);
  assert_offsets (offsets, 30, 10, 1);
  g_array_unref (offsets);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);

  /* and one that starts after it is empty */
  pipeline = make_pipeline (location, "start-frame=45", NULL, NULL, &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  fail_unless (pull_sample (sink) == NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_loop)
{
  gchar *location = test_path ("loop.store");
  GstElement *pipeline, *src, *sink;
  GstClockTime last_running = GST_CLOCK_TIME_NONE;
  GstVideoInfo layout;
  GstStructure *stats;
  guint i;

  write_store (location, GST_VIDEO_FORMAT_GRAY8, 64, 48, 20, 0, &layout);
  pipeline = make_pipeline (location, "start-frame=5 num-frames=5 loop=true",
      "max-buffers=2", &src, &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);

  for (i = 0; i < 17; i++) {
    GstSample *sample = pull_sample (sink);
    GstBuffer *buffer;
    const GstSegment *segment;
    GstClockTime running;

    fail_unless (sample != NULL);
    buffer = gst_sample_get_buffer (sample);
    segment = gst_sample_get_segment (sample);
    /* the store's frames and timestamps, pass after pass ... */
    assert_frame (buffer, &layout, 5 + i % 5, FRAME_DUR);
    /* ... at a running time that keeps growing */
    running = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
        GST_BUFFER_PTS (buffer));
    fail_unless_equals_uint64 (running, i * FRAME_DUR);
    if (GST_CLOCK_TIME_IS_VALID (last_running))
      fail_unless (running > last_running);
    last_running = running;
    gst_sample_unref (sample);
  }
  stats = get_stats (src);
  fail_unless (stats_get (stats, "loops") >= 3);
  gst_structure_free (stats);
  assert_no_error (pipeline);

  /* backwards: 9, 8 .. 5, 9, 8 .. */
  gst_element_set_state (pipeline, GST_STATE_NULL);
  set_state_sync (pipeline, GST_STATE_PAUSED);
  fail_unless (gst_element_seek (pipeline, -1.0, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE, -1));
  set_state_sync (pipeline, GST_STATE_PLAYING);
  last_running = GST_CLOCK_TIME_NONE;
  for (i = 0; i < 12; i++) {
    GstSample *sample = pull_sample (sink);
    GstBuffer *buffer;
    GstClockTime running;

    fail_unless (sample != NULL);
    buffer = gst_sample_get_buffer (sample);
    assert_frame (buffer, &layout, 9 - i % 5, FRAME_DUR);
    running = gst_segment_to_running_time (gst_sample_get_segment (sample),
        GST_FORMAT_TIME, GST_BUFFER_PTS (buffer) + FRAME_DUR);
    if (GST_CLOCK_TIME_IS_VALID (last_running))
      fail_unless (running > last_running);
    last_running = running;
    gst_sample_unref (sample);
  }
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* following a store another process writes                                 */

#define LIVE_FRAMES 50
#define LIVE_CAPS "video/x-raw,format=GRAY8,width=64,height=48,framerate=50/1"

static GPid
spawn_live_writer (const gchar * location, guint n_frames)
{
  gchar *num = g_strdup_printf ("num-buffers=%u", n_frames);
  gchar *loc = g_strdup_printf ("location=%s", location);
  /* chunks of 16 frames: the reader follows the file as it grows */
  gchar *argv[] = { (gchar *) "gst-launch-1.0", (gchar *) "-q",
    (gchar *) "videotestsrc", (gchar *) "is-live=true", num,
    (gchar *) "pattern=ball", (gchar *) "!", (gchar *) LIVE_CAPS,
    (gchar *) "!", (gchar *) "memmapsink", (gchar *) "chunk-size=65536", loc,
    NULL
  };
  gchar *path = g_find_program_in_path ("gst-launch-1.0");
  GPid pid;

  fail_unless (path != NULL, "no gst-launch-1.0");
  argv[0] = path;
  pid = spawn (argv);
  g_free (path);
  g_free (num);
  g_free (loc);
  return pid;
}

typedef struct
{
  GArray *offsets;
  GPtrArray *sums;
} Received;

static void
received_init (Received * r)
{
  r->offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->sums = g_ptr_array_new_with_free_func (g_free);
}

static void
received_clear (Received * r)
{
  g_array_unref (r->offsets);
  g_ptr_array_unref (r->sums);
}

static gchar *
buffer_checksum (GstBuffer * buffer)
{
  GstMapInfo map;
  gchar *sum;

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA1, map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  return sum;
}

static void
receive (Received * r, GstSample * sample, const gchar * location)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  guint64 f = GST_BUFFER_OFFSET (buffer);

  assert_zero_copy (buffer, location);
  g_array_append_val (r->offsets, f);
  g_ptr_array_add (r->sums, buffer_checksum (buffer));
}

/* What we received is what the (now closed) store holds. */
static void
assert_received_is_store (Received * r, const gchar * location)
{
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstMemmapStoreReader *reader;
  GError *error = NULL;
  guint i;

  reader = gst_memmap_store_reader_open (engine, location, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "");
  fail_unless (gst_memmap_store_reader_is_closed (reader));
  for (i = 0; i < r->offsets->len; i++) {
    guint64 f = g_array_index (r->offsets, guint64, i);
    GstBuffer *buffer = gst_memmap_store_reader_get_buffer (reader, NULL, f,
        &error);
    gchar *sum;

    fail_unless (buffer != NULL, "%s", error ? error->message : "");
    sum = buffer_checksum (buffer);
    fail_unless_equals_string (sum, g_ptr_array_index (r->sums, i));
    g_free (sum);
    gst_buffer_unref (buffer);
  }
  gst_memmap_store_reader_unref (reader);
  gst_object_unref (engine);
}

static gdouble
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
      (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

GST_START_TEST (test_follow_live_writer)
{
  gchar *location = test_path ("live.store");
  GstElement *pipeline, *src, *sink;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader;
  GstClockTime min, max;
  gboolean live;
  GstQuery *query;
  GstSample *sample;
  Received r;
  GPid writer;
  gdouble cpu0, cpu;
  gint64 t0;
  guint i;

  writer = spawn_live_writer (location, LIVE_FRAMES);
  wait_for_frames (location, 1);

  pipeline = make_pipeline (location, "follow=true", NULL, &src, &sink);
  cpu0 = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL,
          GST_CLOCK_TIME_NONE) != GST_STATE_CHANGE_FAILURE);

  /* an open store, followed: a live source, one frame of latency */
  fail_unless (gst_base_src_is_live (GST_BASE_SRC (src)));
  query = gst_query_new_latency ();
  fail_unless (gst_element_query (src, query));
  gst_query_parse_latency (query, &live, &min, &max);
  fail_unless (live);
  fail_unless_equals_uint64 (min, GST_SECOND / 50);
  fail_if (GST_CLOCK_TIME_IS_VALID (max));
  gst_query_unref (query);

  received_init (&r);
  while ((sample = pull_sample (sink)) != NULL) {
    receive (&r, sample, location);
    gst_sample_unref (sample);
  }
  cpu = cpu_seconds () - cpu0;
  GST_INFO ("followed %u frames in %.2f s with %.3f s of CPU", r.offsets->len,
      (g_get_monotonic_time () - t0) / 1e6, cpu);

  /* EOS came after the writer closed the store, with every frame once */
  engine = gst_memmap_engine_new ();
  reader = gst_memmap_store_reader_open (engine, location, NULL);
  fail_unless (reader != NULL);
  fail_unless (gst_memmap_store_reader_is_closed (reader));
  fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed (reader),
      LIVE_FRAMES);
  gst_memmap_store_reader_unref (reader);
  gst_object_unref (engine);
  for (i = 0; i < r.offsets->len; i++)
    fail_unless_equals_uint64 (g_array_index (r.offsets, guint64, i), i);
  fail_unless_equals_int (r.offsets->len, LIVE_FRAMES);
  fail_unless_equals_int (wait_child (writer), 0);
  assert_received_is_store (&r, location);
  assert_no_error (pipeline);

  /* waiting is sleeping: a busy loop would burn a second of CPU */
  if (!under_valgrind)
    fail_unless (cpu < 0.5, "%.3f s of CPU to follow a one-second recording",
        cpu);

  received_clear (&r);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

/* A reader that joins a recording late gets every frame from its start
 * point, and can seek back into what is there. */
GST_START_TEST (test_follow_late_join_seek_back)
{
  gchar *location = test_path ("late.store");
  GstElement *pipeline, *sink;
  GstSample *sample;
  Received r;
  GPid writer;
  guint64 expected = 0, f;

  writer = spawn_live_writer (location, 2 * LIVE_FRAMES);
  wait_for_frames (location, 30);

  pipeline = make_pipeline (location, "follow=true", "max-buffers=2", NULL,
      &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  received_init (&r);
  while ((sample = pull_sample (sink)) != NULL) {
    f = GST_BUFFER_OFFSET (gst_sample_get_buffer (sample));
    fail_unless_equals_uint64 (f, expected);
    receive (&r, sample, location);
    gst_sample_unref (sample);
    expected = f + 1;
    if (f == 12 && r.offsets->len == 13) {
      /* back to frame 3 */
      fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_DEFAULT,
              GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, 3));
      expected = 3;
    }
  }
  /* 0 .. 12, then 3 .. the end */
  fail_unless_equals_int (r.offsets->len, 13 + 2 * LIVE_FRAMES - 3);
  fail_unless_equals_uint64 (expected, 2 * LIVE_FRAMES);
  fail_unless_equals_int (wait_child (writer), 0);
  assert_received_is_store (&r, location);
  assert_no_error (pipeline);

  received_clear (&r);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

/* A writer that died left its store open: the stream ends after its last
 * frame once the writer is known to be gone. */
GST_START_TEST (test_follow_dead_writer)
{
  gchar *location = test_path ("dead.store");
  gchar *store_make = build_program ("store-make");
  gchar *argv[] = { store_make, location, (gchar *) "GRAY8", (gchar *) "64",
    (gchar *) "48", (gchar *) "20", (gchar *) "--no-close", NULL
  };
  GstElement *pipeline, *src, *sink;
  GstVideoInfo layout;
  GstSample *sample;
  guint64 f = 0;
  gint64 t0;

  fail_unless (store_make_layout (&layout, GST_VIDEO_FORMAT_GRAY8, 64, 48,
          0, 0));
  fail_unless_equals_int (wait_child (spawn (argv)), 0);

  pipeline = make_pipeline (location, "follow=true", NULL, &src, &sink);
  t0 = g_get_monotonic_time ();
  set_state_sync (pipeline, GST_STATE_PLAYING);
  /* still open: live */
  fail_unless (gst_base_src_is_live (GST_BASE_SRC (src)));
  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;

    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buffer), f);
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    fail_unless (store_check_frame (map.data, &layout, f));
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
    f++;
  }
  fail_unless_equals_uint64 (f, 20);
  GST_INFO ("EOS %.2f s after the start", (g_get_monotonic_time () - t0) / 1e6);
  fail_unless (g_get_monotonic_time () - t0 < 10 * G_USEC_PER_SEC);
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (store_make);
  g_free (location);
}

GST_END_TEST;

/* The writer wakes a waiting reader at once: no polling period. The reader
 * waits as memmapsrc follow=true does, in waits of FOLLOW_POLL_US that it
 * starts again when they time out: a reader the commit did not wake would
 * see it only when its wait times out, WAKE_SAMPLES commits coming 7 to
 * 61 ms into a wait (never near a multiple of the poll) would be seen 39 to
 * 93 ms late, and their median at least 60 ms late. A futex wake-up
 * comes within a fraction of a millisecond; the median stays far below
 * WAKE_MEDIAN_MAX_US even on a loaded machine. */
#define WAKE_SAMPLES 10
#define FOLLOW_POLL_US (100 * 1000)
#define WAKE_MEDIAN_MAX_US (20 * 1000)

typedef struct
{
  Writer *w;
  GAsyncQueue *waiting;         /* the reader is about to wait again */
  gint64 committed_at[WAKE_SAMPLES];
} CommitLater;

static gpointer
commit_later (gpointer data)
{
  CommitLater *c = data;
  GError *error = NULL;
  guint i;

  for (i = 0; i < WAKE_SAMPLES; i++) {
    GstMemory *mem;
    GstMapInfo map;
    guint64 slot;

    g_async_queue_pop (c->waiting);
    fail_unless (gst_memmap_store_writer_acquire_slot (c->w->writer, &slot,
            &error), "%s", error ? error->message : "");
    mem = gst_memmap_store_writer_get_slot_memory (c->w->writer, NULL, slot,
        &error);
    fail_unless (mem != NULL, "%s", error ? error->message : "");
    fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
    store_fill_frame (map.data, &c->w->layout, c->w->n);
    gst_memory_unmap (mem, &map);
    gst_memory_unref (mem);
    /* the reader is in its wait by now */
    g_usleep ((7 + 6 * i) * 1000);
    c->committed_at[i] = g_get_monotonic_time ();
    fail_unless (gst_memmap_store_writer_commit (c->w->writer, slot,
            c->w->n * FRAME_DUR, FRAME_DUR, 0, &error), "%s",
        error ? error->message : "");
    c->w->n++;
  }
  return NULL;
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

GST_START_TEST (test_wait_wakes_at_commit)
{
  gchar *location = test_path ("wake.store");
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstMemmapStoreReader *reader;
  GstMemmapStoreSession *session;
  GError *error = NULL;
  CommitLater c;
  GThread *thread;
  Writer w;
  gint64 latency[WAKE_SAMPLES], sorted[WAKE_SAMPLES], median;
  guint i, by_timeout = 0;
  GString *samples;

  writer_open (&w, location, GST_VIDEO_FORMAT_GRAY8, 64, 48,
      GST_MEMMAP_STORE_MODE_APPEND, 0, 0, 0);
  reader = gst_memmap_store_reader_open (engine, location, &error);
  fail_unless (reader != NULL);
  session = gst_memmap_store_session_new (reader, &error);
  fail_unless (session != NULL, "%s", error ? error->message : "");
  fail_unless (gst_memmap_store_session_is_writable (session));

  c.w = &w;
  c.waiting = g_async_queue_new ();
  thread = g_thread_new ("commit", commit_later, &c);
  for (i = 0; i < WAKE_SAMPLES; i++) {
    GstMemmapStoreWaitResult ret = GST_MEMMAP_STORE_WAIT_CHANGED;
    gint64 woken;

    g_async_queue_push (c.waiting, GUINT_TO_POINTER (1));
    /* memmapsrc's loop: wait, look, wait again */
    while (gst_memmap_store_reader_get_committed (reader) == i) {
      ret = gst_memmap_store_session_wait (session, i, FOLLOW_POLL_US);
      fail_if (ret == GST_MEMMAP_STORE_WAIT_INTERRUPTED);
    }
    woken = g_get_monotonic_time ();
    fail_unless_equals_uint64 (gst_memmap_store_reader_get_committed
        (reader), i + 1);
    /* the wait that saw the commit ended by its timeout, not a wake-up */
    if (ret == GST_MEMMAP_STORE_WAIT_TIMEOUT)
      by_timeout++;
    latency[i] = woken - c.committed_at[i];
  }
  g_thread_join (thread);
  g_async_queue_unref (c.waiting);

  memcpy (sorted, latency, sizeof (latency));
  qsort (sorted, WAKE_SAMPLES, sizeof (gint64), compare_gint64);
  median = (sorted[WAKE_SAMPLES / 2 - 1] + sorted[WAKE_SAMPLES / 2]) / 2;
  samples = g_string_new (NULL);
  for (i = 0; i < WAKE_SAMPLES; i++)
    g_string_append_printf (samples, "%s%.2f", i ? " " : "",
        latency[i] / 1000.0);
  g_print ("wake at commit: %u commits 7-61 ms into a wait of %u ms: woken "
      "%.2f ms after the commit (median; min %.2f, max %.2f; %s ms), %u by "
      "the timeout\n", WAKE_SAMPLES, FOLLOW_POLL_US / 1000, median / 1000.0,
      sorted[0] / 1000.0, sorted[WAKE_SAMPLES - 1] / 1000.0, samples->str,
      by_timeout);
  g_string_free (samples, TRUE);
  fail_unless (median < WAKE_MEDIAN_MAX_US, "woken %.2f ms after the commit "
      "(median of %u): the safety-net timeout, not the writer, ends the "
      "waits", median / 1000.0, WAKE_SAMPLES);

  /* an interrupt ends a wait at once, and the next ones too */
  gst_memmap_store_session_interrupt (session);
  fail_unless_equals_int (gst_memmap_store_session_wait (session,
          WAKE_SAMPLES, 10 * G_USEC_PER_SEC),
      GST_MEMMAP_STORE_WAIT_INTERRUPTED);
  gst_memmap_store_session_resume (session);
  fail_unless_equals_int (gst_memmap_store_session_wait (session,
          WAKE_SAMPLES, 20 * 1000), GST_MEMMAP_STORE_WAIT_TIMEOUT);

  /* closing wakes too */
  writer_close (&w);
  fail_unless_equals_int (gst_memmap_store_session_wait (session,
          WAKE_SAMPLES, 10 * G_USEC_PER_SEC), GST_MEMMAP_STORE_WAIT_CHANGED);
  fail_if (gst_memmap_store_session_writer_alive (session));

  gst_memmap_store_session_unref (session);
  gst_memmap_store_reader_unref (reader);
  gst_object_unref (engine);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* rings                                                                    */

/* The header page of a store, mapped read-write by the test. */
typedef struct
{
  gint fd;
  guint8 *data;
} HeaderMap;

static void
header_map (HeaderMap * h, const gchar * location)
{
  h->fd = open (location, O_RDWR);
  fail_unless (h->fd >= 0);
  h->data = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
  fail_unless (h->data != MAP_FAILED);
}

static void
header_unmap (HeaderMap * h)
{
  munmap (h->data, 4096);
  close (h->fd);
}

/* lease entry @i of docs/store-format.md */
#define LEASE_PID(h, i) ((guint32 *) ((h)->data + 2560 + 64 * (i)))
#define LEASE_OLDEST(h, i) ((guint64 *) ((h)->data + 2560 + 64 * (i) + 8))
#define LEASE_NEWEST(h, i) ((guint64 *) ((h)->data + 2560 + 64 * (i) + 16))

static guint
count_leases (HeaderMap * h)
{
  guint i, n = 0;

  for (i = 0; i < 16; i++)
    n += *LEASE_PID (h, i) != 0;
  return n;
}

GST_START_TEST (test_ring_lease_keeps_slot)
{
  gchar *location = test_path ("lease.store");
  GstMemmapEngine *engine = gst_memmap_engine_new ();
  GstMemmapStoreReader *reader;
  GstMemmapStoreSession *session;
  GstBuffer *held, *other;
  GError *error = NULL;
  gboolean copied;
  HeaderMap h;
  Writer w;
  guint64 slot;
  gint64 t0;
  GPid dead;
  gchar *argv[] = { (gchar *) "/bin/true", NULL };

  /* 4 frames and 2 spare slots */
  writer_open (&w, location, GST_VIDEO_FORMAT_GRAY8, 64, 48,
      GST_MEMMAP_STORE_MODE_RING, 4, 2, 0);
  writer_add (&w, 4);
  reader = gst_memmap_store_reader_open (engine, location, &error);
  fail_unless (reader != NULL);
  session = gst_memmap_store_session_new (reader, &error);
  fail_unless (session != NULL);
  fail_unless (gst_memmap_store_session_has_lease (session));
  header_map (&h, location);
  fail_unless_equals_int (count_leases (&h), 1);

  /* frame 0 held: the writer goes round the ring many times, and frame 0
   * stays what it was */
  held = gst_memmap_store_session_get_buffer (session, reader, NULL, 0,
      &copied, &error);
  fail_unless (held != NULL);
  fail_if (copied);
  assert_zero_copy (held, location);
  writer_add (&w, 40);
  assert_frame (held, &w.layout, 0, FRAME_DUR);

  /* a second frame would widen the lease past half the spare slots: a
   * checked copy */
  other = gst_memmap_store_session_get_buffer (session, reader, NULL, 42,
      &copied, &error);
  fail_unless (other != NULL);
  fail_unless (copied);
  fail_if (gst_is_memmap_memory (gst_buffer_peek_memory (other, 0)));
  assert_frame (other, &w.layout, 42, FRAME_DUR);
  gst_buffer_unref (other);
  /* a frame that left the ring is refused */
  fail_if (gst_memmap_store_session_get_buffer (session, reader, NULL, 1,
          &copied, &error));
  fail_unless (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);

  gst_buffer_unref (held);
  fail_unless_equals_uint64 (*LEASE_OLDEST (&h, 0), 0);

  /* a live reader that holds everything: the writer waits, a bounded
   * time, then says who holds the slots */
  *LEASE_NEWEST (&h, 1) = G_MAXUINT64;
  *LEASE_OLDEST (&h, 1) = 1;
  *LEASE_PID (&h, 1) = getpid ();
  t0 = g_get_monotonic_time ();
  fail_if (gst_memmap_store_writer_acquire_slot (w.writer, &slot, &error));
  fail_unless (g_get_monotonic_time () - t0 >= 1900 * 1000);
  fail_unless (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_NO_SPACE));
  {
    gchar *pid = g_strdup_printf ("pid %u", (guint) getpid ());

    fail_unless (strstr (error->message, pid) != NULL, "%s", error->message);
    g_free (pid);
  }
  g_clear_error (&error);

  /* ... of a reader that died: ignored, and its entry freed */
  dead = spawn (argv);
  wait_child (dead);
  *LEASE_PID (&h, 1) = dead;
  writer_add (&w, 3);
  fail_unless_equals_int (*LEASE_PID (&h, 1), 0);

  gst_memmap_store_session_unref (session);
  fail_unless_equals_int (count_leases (&h), 0);
  header_unmap (&h);
  gst_memmap_store_reader_unref (reader);
  writer_close (&w);
  gst_object_unref (engine);
  g_free (location);
}

GST_END_TEST;

GST_START_TEST (test_ring_closed)
{
  gchar *location = test_path ("ring.store");
  GstElement *pipeline, *src, *sink;
  GstStructure *stats;
  GArray *offsets;
  Writer w;

  writer_open (&w, location, GST_VIDEO_FORMAT_I420, 64, 48,
      GST_MEMMAP_STORE_MODE_RING, 16, 0, 0);
  writer_add (&w, 50);
  writer_close (&w);

  pipeline = make_pipeline (location, NULL, NULL, &src, &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  offsets = pull_all (sink, &w.layout, location);
  assert_offsets (offsets, 34, 16, 1);
  g_array_unref (offsets);
  stats = get_stats (src);
  fail_unless_equals_uint64 (stats_get (stats, "frames-zero-copy"), 16);
  gst_structure_free (stats);
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (location);
}

GST_END_TEST;

/* Ring stress: one writer process (store-make) fills a ring of 16 frames
 * as fast as it can for MEMMAP_STRESS_SECONDS (default 3), while
 * MEMMAP_STRESS_READERS (default 3, at most STRESS_MAX_READERS; the long
 * lane runs 8) reader processes follow it with memmapsrc: reader 0 is the
 * test process, the others run this program again with only
 * test_ring_stress_reader (MEMMAP_STRESS_READER names the store,
 * MEMMAP_STRESS_RESULT the file for its figures). The writer stamps every
 * row with the frame number (store-make --stamp): the pattern alone
 * repeats every 256 frames, and this writer laps the ring thousands of
 * times. */
#define STRESS_READERS 3
#define STRESS_MAX_READERS 16
#define STRESS_DEFAULT_SECONDS 3
#define STRESS_RING 16
/* store-make leaves the writer's default of 8 spare slots */
#define STRESS_SLOTS (STRESS_RING + 8)

typedef struct
{
  guint64 checked;
  guint64 zero_copy;
  guint64 copied;
  guint64 skipped;
  /* zero-copy frames kept while the writer committed STRESS_SLOTS frames
   * or more after them: without the lease, their slot was due for reuse */
  guint64 held_through_lap;
} StressResult;

#define STRESS_RESULT_FORMAT "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT \
    " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT

static guint
stress_readers (void)
{
  const gchar *env = g_getenv ("MEMMAP_STRESS_READERS");
  guint64 n = env ? g_ascii_strtoull (env, NULL, 10) : 0;

  return n > 0 ? (guint) MIN (n, STRESS_MAX_READERS) : STRESS_READERS;
}

static guint
stress_seconds (void)
{
  const gchar *env = g_getenv ("MEMMAP_STRESS_SECONDS");
  guint64 s = env ? g_ascii_strtoull (env, NULL, 10) : 0;

  return s > 0 ? (guint) MIN (s, G_MAXUINT / 2) : STRESS_DEFAULT_SECONDS;
}

/* Follows the ring at @location to its close, slowly, keeping a few frames
 * for a while: every frame we get holds its own pixels, however long we keep
 * it, frames come in order and the last is the ring's last; the writer
 * lapped us (frames skipped) and went past frames we held without a copy. */
static void
ring_stress_read (const gchar * location, StressResult * res)
{
  GstElement *pipeline, *src, *sink;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *watch;
  GstVideoInfo layout;
  GstStructure *stats;
  GstSample *sample;
  GQueue kept = G_QUEUE_INIT;
  guint64 first_got = 0, last = 0, received = 0, committed;
  guint64 held_through_lap = 0;
  gboolean none_yet = TRUE;

  fail_unless (store_make_layout (&layout, GST_VIDEO_FORMAT_GRAY8, 640, 480,
          0, 0));
  /* to see how far the writer got while we held a frame */
  engine = gst_memmap_engine_new ();
  watch = gst_memmap_store_reader_open (engine, location, NULL);
  fail_unless (watch != NULL);
  pipeline = make_pipeline (location, "follow=true", "max-buffers=1", &src,
      &sink);
  set_state_sync (pipeline, GST_STATE_PLAYING);
  while ((sample = pull_sample (sink)) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    guint64 f = GST_BUFFER_OFFSET (buffer);
    GstMapInfo map;

    fail_unless (none_yet || f > last, "frame %" G_GUINT64_FORMAT " after %"
        G_GUINT64_FORMAT, f, last);
    if (none_yet)
      first_got = f;
    none_yet = FALSE;
    last = f;
    received++;
    /* work on it for a while: the writer goes on meanwhile */
    g_usleep (2000);
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    fail_unless (store_check_frame_stamped (map.data, &layout, f),
        "frame %" G_GUINT64_FORMAT " is torn", f);
    gst_buffer_unmap (buffer, &map);

    /* and keep the last three a little longer */
    g_queue_push_tail (&kept, sample);
    if (kept.length > 3) {
      GstSample *old = g_queue_pop_head (&kept);
      GstBuffer *b = gst_sample_get_buffer (old);
      guint64 old_f = GST_BUFFER_OFFSET (b);

      /* the commits since old_f, read before its pixels: a slot the writer
       * reused before this point shows in the check below */
      committed = gst_memmap_store_reader_get_committed (watch);
      fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
      fail_unless (store_check_frame_stamped (map.data, &layout, old_f),
          "kept frame %" G_GUINT64_FORMAT " was overwritten", old_f);
      gst_buffer_unmap (b, &map);
      if (gst_is_memmap_memory (gst_buffer_peek_memory (b, 0)) &&
          committed >= old_f + 1 + STRESS_SLOTS)
        held_through_lap++;
      gst_sample_unref (old);
    }
  }
  g_queue_clear_full (&kept, (GDestroyNotify) gst_sample_unref);

  /* EOS came once the writer closed the store, after its last frame */
  committed = committed_frames (engine, location);
  gst_memmap_store_reader_unref (watch);
  gst_object_unref (engine);
  fail_unless (received > 0);
  fail_unless_equals_uint64 (last, committed - 1);
  stats = get_stats (src);
  GST_INFO ("%" GST_PTR_FORMAT, stats);
  fail_unless_equals_uint64 (stats_get (stats, "frames-pushed"), received);
  res->checked = received;
  res->zero_copy = stats_get (stats, "frames-zero-copy");
  res->copied = stats_get (stats, "frames-copied");
  res->skipped = stats_get (stats, "frames-skipped");
  res->held_through_lap = held_through_lap;
  gst_structure_free (stats);
  fail_unless_equals_uint64 (res->zero_copy + res->copied, received);
  /* every frame from the first we got to the last was pushed or counted
   * as skipped (those the ring lost before we started are not counted),
   * and none was counted twice */
  fail_unless (received + res->skipped >= last - first_got + 1, "frames %"
      G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT
      " received, %" G_GUINT64_FORMAT " skipped", first_got, last, received,
      res->skipped);
  fail_unless (received + res->skipped <= committed, "%" G_GUINT64_FORMAT
      " received + %" G_GUINT64_FORMAT " skipped of %" G_GUINT64_FORMAT
      " committed", received, res->skipped, committed);
  /* the stress happened: the writer lapped this reader (frames were
   * overwritten before it could read them), it handed out frames both
   * without a copy (under a lease) and copied (beyond it), and the writer
   * went round the ring while it held some of them without a copy */
  fail_unless (res->skipped > 0, "the writer never lapped the reader: "
      "%" G_GUINT64_FORMAT " frames committed, all %" G_GUINT64_FORMAT
      " received; the reader was too fast (or the writer too slow) for a "
      "stress", committed, received);
  fail_unless (res->zero_copy > 0, "no frame was leased (all %"
      G_GUINT64_FORMAT " copied)", received);
  fail_unless (res->copied > 0, "no frame was copied (all %"
      G_GUINT64_FORMAT " leased): the lease never reached its limit", received);
  fail_unless (held_through_lap > 0, "the writer never went round the "
      "ring while the reader held a frame without a copy (%"
      G_GUINT64_FORMAT " zero-copy frames)", res->zero_copy);
  assert_no_error (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

/* One reader process of test_ring_stress (only in such a process). */
GST_START_TEST (test_ring_stress_reader)
{
  const gchar *location = g_getenv ("MEMMAP_STRESS_READER");
  const gchar *result = g_getenv ("MEMMAP_STRESS_RESULT");
  StressResult res;
  gchar *contents;

  fail_unless (location != NULL && result != NULL);
  ring_stress_read (location, &res);
  contents = g_strdup_printf (STRESS_RESULT_FORMAT "\n", res.checked,
      res.zero_copy, res.copied, res.skipped, res.held_through_lap);
  fail_unless (g_file_set_contents (result, contents, -1, NULL));
  g_free (contents);
}

GST_END_TEST;

static GPid
spawn_stress_reader (const gchar * location, const gchar * result)
{
  gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  gchar *argv[] = { self, NULL };
  gchar **envp = g_get_environ ();
  GPid pid;

  fail_unless (self != NULL);
  envp = g_environ_setenv (envp, "GST_CHECKS", "test_ring_stress_reader", TRUE);
  envp = g_environ_setenv (envp, "MEMMAP_STRESS_READER", location, TRUE);
  envp = g_environ_setenv (envp, "MEMMAP_STRESS_RESULT", result, TRUE);
  /* the reader processes do not run under valgrind */
  envp = g_environ_unsetenv (envp, "MEMMAP_UNDER_VALGRIND");
  /* its stdout is ours: check says there why it failed */
  pid = spawn_env (argv, envp, G_SPAWN_DEFAULT);
  g_free (self);
  return pid;
}

GST_START_TEST (test_ring_stress)
{
  gchar *location = test_path ("stress.store");
  gchar *store_make = build_program ("store-make");
  guint seconds = stress_seconds ();
  gchar *secs = g_strdup_printf ("%u", seconds);
  gchar *argv[] = { store_make, location, (gchar *) "GRAY8", (gchar *) "640",
    (gchar *) "480", (gchar *) "0", (gchar *) "--ring", (gchar *) "16",
    (gchar *) "--seconds", secs, (gchar *) "--stamp", NULL
  };
  gchar *results[STRESS_MAX_READERS] = { NULL, };
  GPid readers[STRESS_MAX_READERS];
  StressResult res[STRESS_MAX_READERS];
  guint n_readers = stress_readers ();
  GstMemmapEngine *engine;
  GString *report;
  guint64 committed;
  GstVideoInfo layout;
  guint8 *frame;
  GPid writer;
  guint i;

  /* the check tells a frame from the one 256 frames later, which the
   * pattern alone does not */
  fail_unless (store_make_layout (&layout, GST_VIDEO_FORMAT_GRAY8, 640, 480,
          0, 0));
  frame = g_malloc (GST_VIDEO_INFO_SIZE (&layout));
  store_fill_frame (frame, &layout, 1000 + 256);
  fail_unless (store_check_frame (frame, &layout, 1000));
  store_fill_frame_stamped (frame, &layout, 1000 + 256);
  fail_if (store_check_frame_stamped (frame, &layout, 1000));
  fail_unless (store_check_frame_stamped (frame, &layout, 1000 + 256));
  g_free (frame);

  writer = spawn (argv);
  wait_for_frames (location, 1);
  for (i = 1; i < n_readers; i++) {
    gchar *name = g_strdup_printf ("reader-%u.result", i);

    results[i] = test_path (name);
    readers[i] = spawn_stress_reader (location, results[i]);
    g_free (name);
  }
  ring_stress_read (location, &res[0]);

  /* the writer never had to give up, no reader found a torn frame */
  fail_unless_equals_int (wait_child (writer), 0);
  for (i = 1; i < n_readers; i++) {
    gchar *contents = NULL;

    fail_unless_equals_int (wait_child (readers[i]), 0);
    fail_unless (g_file_get_contents (results[i], &contents, NULL, NULL));
    fail_unless (sscanf (contents, STRESS_RESULT_FORMAT, &res[i].checked,
            &res[i].zero_copy, &res[i].copied, &res[i].skipped,
            &res[i].held_through_lap) == 5, "reader %u wrote '%s'", i,
        contents);
    g_free (contents);
    g_free (results[i]);
  }

  engine = gst_memmap_engine_new ();
  committed = committed_frames (engine, location);
  gst_object_unref (engine);
  report = g_string_new (NULL);
  g_string_append_printf (report, "ring stress: %u s, 1 writer, %"
      G_GUINT64_FORMAT " frames committed to a ring of %u (%u slots)",
      seconds, committed, STRESS_RING, STRESS_SLOTS);
  for (i = 0; i < n_readers; i++)
    g_string_append_printf (report, "; reader %u: %" G_GUINT64_FORMAT
        " frames checked (%" G_GUINT64_FORMAT " zero-copy, %" G_GUINT64_FORMAT
        " copied), %" G_GUINT64_FORMAT " skipped (lapped), %"
        G_GUINT64_FORMAT " zero-copy frames held while the writer went "
        "round the ring, 0 torn", i, res[i].checked, res[i].zero_copy,
        res[i].copied, res[i].skipped, res[i].held_through_lap);
  g_print ("%s\n", report->str);
  g_string_free (report, TRUE);

  g_free (secs);
  g_free (store_make);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* a store much larger than the engine's budget                             */

GST_START_TEST (test_budget)
{
  gchar *location = test_path ("big.store");
  guint n_frames = under_valgrind ? 600 : 1500;
  guint64 budget = 2 * 1024 * 1024;
  GstMemmapEngine *engine;
  GstContext *context;
  GstElement *pipeline, *src, *sink;
  GstStructure *stats;
  GstVideoInfo layout;
  GArray *offsets;
  struct stat st;

  /* 160x120 GRAY8: 20 KiB slots, 30 MB of store (12 MB under valgrind) */
  write_store (location, GST_VIDEO_FORMAT_GRAY8, 160, 120, n_frames, 0,
      &layout);
  fail_unless (stat (location, &st) == 0);
  fail_unless ((guint64) st.st_size > 5 * budget);

  engine = gst_memmap_engine_new ();
  g_object_set (engine, "max-mapped-bytes", budget, "window-size",
      (guint64) 128 * 1024, NULL);
  context = gst_memmap_engine_context_new (engine);
  pipeline = make_pipeline (location, NULL, "max-buffers=1", &src, &sink);
  gst_element_set_context (src, context);
  gst_context_unref (context);

  set_state_sync (pipeline, GST_STATE_PLAYING);
  offsets = pull_all (sink, &layout, location);
  assert_offsets (offsets, 0, n_frames, 1);
  g_array_unref (offsets);
  assert_no_error (pipeline);

  stats = gst_memmap_engine_get_stats (engine);
  GST_INFO ("%" GST_PTR_FORMAT, stats);
  fail_unless (stats_get (stats, "peak-mapped-bytes") <= budget,
      "%" GST_PTR_FORMAT, stats);
  fail_unless_equals_uint64 (stats_get (stats, "over-budget"), 0);
  fail_unless (stats_get (stats, "evictions") > 0);
  gst_structure_free (stats);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  gst_object_unref (engine);
  g_free (location);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* bad stores                                                               */

static void
check_open_error (const gchar * location, GQuark domain, gint code)
{
  GstElement *pipeline;
  GstMessage *msg;

  pipeline = make_pipeline (location, NULL, NULL, NULL, NULL);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = wait_bus (pipeline, GST_MESSAGE_ERROR);
  memmap_test_check_error (msg, domain, code, location, location);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

static void
patch_file (const gchar * location, goffset offset, gconstpointer data,
    gsize size)
{
  gint fd = open (location, O_WRONLY);

  fail_unless (fd >= 0);
  fail_unless (pwrite (fd, data, size, offset) == (gssize) size);
  close (fd);
}

GST_START_TEST (test_bad_stores)
{
  gchar *missing = test_path ("missing.store");
  gchar *truncated = test_path ("truncated.store");
  gchar *short_file = test_path ("short.store");
  gchar *magic = test_path ("magic.store");
  gchar *version = test_path ("version.store");
  guint16 major = GUINT16_TO_LE (2);

  check_open_error (missing, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND);
  check_open_error (tmpdir, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);

  /* its chunk cut off */
  write_store (truncated, GST_VIDEO_FORMAT_GRAY8, 64, 48, 10, 0, NULL);
  fail_unless (truncate (truncated, 4096 + 8192) == 0);
  check_open_error (truncated, GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE);
  /* shorter than a header */
  write_store (short_file, GST_VIDEO_FORMAT_GRAY8, 64, 48, 10, 0, NULL);
  fail_unless (truncate (short_file, 1000) == 0);
  check_open_error (short_file, GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE);
  /* not a frame store */
  write_store (magic, GST_VIDEO_FORMAT_GRAY8, 64, 48, 10, 0, NULL);
  patch_file (magic, 0, "GSTMMAQ", 7);
  check_open_error (magic, GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE);
  /* of a later major version */
  write_store (version, GST_VIDEO_FORMAT_GRAY8, 64, 48, 10, 0, NULL);
  patch_file (version, 8, &major, 2);
  check_open_error (version, GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE);

  g_free (missing);
  g_free (truncated);
  g_free (short_file);
  g_free (magic);
  g_free (version);
}

GST_END_TEST;

GST_START_TEST (test_no_location)
{
  GstElement *src = gst_element_factory_make ("memmapsrc", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (src, bus);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_message_error (msg, RESOURCE, NOT_FOUND);
  gst_message_unref (msg);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_element_set_bus (src, NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
}

GST_END_TEST;

static Suite *
memmapsrc_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmapsrc", setup, teardown, &tc);
  TCase *tc_stress = tcase_create ("ring-stress");

  suite_add_tcase (s, tc_stress);
  tcase_add_test (tc, test_zero_copy);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_padded_layout_without_video_meta);
  tcase_add_test (tc, test_harness_video_meta);
  tcase_add_test (tc, test_seek_random);
  tcase_add_test (tc, test_seek_reverse);
  tcase_add_test (tc, test_seek_rate);
  tcase_add_test (tc, test_seek_segment);
  tcase_add_test (tc, test_seek_non_flushing);
  tcase_add_test (tc, test_queries);
  tcase_add_test (tc, test_range);
  tcase_add_test (tc, test_loop);
  tcase_add_test (tc, test_follow_live_writer);
  tcase_add_test (tc, test_follow_late_join_seek_back);
  tcase_add_test (tc, test_follow_dead_writer);
  tcase_add_test (tc, test_wait_wakes_at_commit);
  tcase_add_test (tc, test_ring_lease_keeps_slot);
  tcase_add_test (tc, test_ring_closed);
  tcase_add_test (tc, test_budget);
  tcase_add_test (tc, test_bad_stores);
  tcase_add_test (tc, test_no_location);

  /* as long as MEMMAP_STRESS_SECONDS asks, plus time to start and check */
  tcase_add_checked_fixture (tc_stress, setup, teardown);
  tcase_set_timeout (tc_stress, MAX (300, stress_seconds () + 120));
  if (g_getenv ("MEMMAP_STRESS_READER"))
    tcase_add_test (tc_stress, test_ring_stress_reader);
  else
    tcase_add_test (tc_stress, test_ring_stress);

  return s;
}

GST_CHECK_MAIN (memmapsrc);
