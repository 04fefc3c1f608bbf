/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frame stores by URI: memmapsrc's and memmapsink's GstURIHandler
 * (memmap://, and file:// URIs of stores for memmapsrc), the fallback of
 * every other file:// URI to filesrc, the memmap-store typefinder, and a
 * store played by playbin (zero copy, every frame, seeks) and described by
 * the discoverer (caps, duration, seekable).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "../memmap-test-util.h"

#include <gst/base/gsttypefindhelper.h>
#include <gst/pbutils/pbutils.h>
#include <gst/memmap/memmap.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define N_FRAMES 30
#define WIDTH 64
#define HEIGHT 48

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmapuri");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

/* N_FRAMES frames of I420 at 30/1 into a new store at @path */
static void
make_store (const gchar * path)
{
  GstElement *pipeline, *sink;
  GstMessage *msg;
  GError *err = NULL;

  pipeline = gst_parse_launch ("videotestsrc num-buffers=30 ! "
      "video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! "
      "memmapsink name=sink", &err);
  fail_unless (pipeline != NULL, "%s", err ? err->message : "?");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "location", path, NULL);
  gst_object_unref (sink);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

static gchar *
file_uri (const gchar * path)
{
  gchar *uri = g_filename_to_uri (path, NULL, NULL);

  fail_unless (uri != NULL);
  return uri;
}

/* the factory of the source gst_element_make_from_uri() picks for @uri */
static gchar *
source_for_uri (const gchar * uri)
{
  GstElement *e = gst_element_make_from_uri (GST_URI_SRC, uri, NULL, NULL);
  gchar *name;

  fail_unless (e != NULL, "no source for %s", uri);
  name = g_strdup (GST_OBJECT_NAME (gst_element_get_factory (e)));
  gst_object_unref (gst_object_ref_sink (e));
  return name;
}

GST_START_TEST (test_src_uri_handler)
{
  gchar *path = test_path ("a store.store");
  gchar *uri, *location, *expected;
  GstElement *src = gst_element_factory_make ("memmapsrc", NULL);
  GError *err = NULL;

  fail_unless (GST_IS_URI_HANDLER (src));
  fail_unless_equals_int (gst_uri_handler_get_uri_type (GST_URI_HANDLER
          (src)), GST_URI_SRC);

  /* memmap:// takes any path, percent-encoded, even before the store
   * exists */
  expected = file_uri (path);
  uri = g_strconcat ("memmap", expected + strlen ("file"), NULL);
  fail_unless (strstr (uri, "a%20store.store") != NULL, "%s", uri);
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (src), uri, &err),
      "%s", err ? err->message : "?");
  g_object_get (src, "location", &location, NULL);
  fail_unless_equals_string (location, path);
  g_free (location);
  location = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (location, uri);
  g_free (location);
  g_free (uri);

  /* a memmap URI without an absolute path */
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "memmap://clip.store", &err));
  fail_unless (g_error_matches (err, GST_URI_ERROR, GST_URI_ERROR_BAD_URI),
      "%s", err->message);
  g_clear_error (&err);

  /* file:// only for a file that is a store */
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src), expected, &err));
  fail_unless (g_error_matches (err, GST_URI_ERROR,
          GST_URI_ERROR_BAD_REFERENCE), "%s", err->message);
  g_clear_error (&err);
  make_store (path);
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (src), expected,
          &err), "%s", err ? err->message : "?");
  location = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (location, expected);
  g_free (location);

  /* location takes a file:// URI as the path it names */
  g_object_set (src, "location", NULL, NULL);
  g_object_set (src, "location", expected, NULL);
  g_object_get (src, "location", &location, NULL);
  fail_unless_equals_string (location, path);
  g_free (location);

  g_free (expected);
  g_free (path);
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_sink_uri_handler)
{
  gchar *path = test_path ("out.store");
  gchar *furi = file_uri (path);
  gchar *uri = g_strconcat ("memmap", furi + strlen ("file"), NULL);
  gchar *location;
  GstElement *sink;

  sink = gst_element_make_from_uri (GST_URI_SINK, uri, NULL, NULL);
  fail_unless (sink != NULL);
  gst_object_ref_sink (sink);
  fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory (sink)),
      "memmapsink");
  g_object_get (sink, "location", &location, NULL);
  fail_unless_equals_string (location, path);
  g_free (location);
  location = gst_uri_handler_get_uri (GST_URI_HANDLER (sink));
  fail_unless_equals_string (location, uri);
  g_free (location);

  /* location takes a file:// URI too */
  g_object_set (sink, "location", furi, NULL);
  g_object_get (sink, "location", &location, NULL);
  fail_unless_equals_string (location, path);
  g_free (location);
  gst_object_unref (sink);

  /* file:// stays filesink's */
  sink = gst_element_make_from_uri (GST_URI_SINK, furi, NULL, NULL);
  fail_unless (sink != NULL);
  gst_object_ref_sink (sink);
  fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory (sink)),
      "filesink");
  gst_object_unref (sink);

  g_free (uri);
  g_free (furi);
  g_free (path);
}

GST_END_TEST;

/* file:// goes to memmapsrc for a store, to filesrc for anything else,
 * never blocking on a FIFO */
GST_START_TEST (test_file_uri_fallback)
{
  gchar *store = test_path ("clip.store"), *text = test_path ("notes.txt");
  gchar *fifo = test_path ("fifo"), *missing = test_path ("missing.store");
  gchar *empty = test_path ("empty.store");
  const gchar *const others[] = { text, fifo, missing, empty };
  gchar *uri, *factory;
  guint i;

  make_store (store);
  fail_unless (g_file_set_contents (text, "GSTMMAP not a store", -1, NULL));
  fail_unless (g_file_set_contents (empty, "", 0, NULL));
  fail_unless (mkfifo (fifo, 0600) == 0);

  uri = file_uri (store);
  factory = source_for_uri (uri);
  fail_unless_equals_string (factory, "memmapsrc");
  g_free (factory);
  g_free (uri);

  for (i = 0; i < G_N_ELEMENTS (others); i++) {
    uri = file_uri (others[i]);
    factory = source_for_uri (uri);
    fail_unless_equals_string (factory, "filesrc");
    g_free (factory);
    g_free (uri);
  }

  g_free (store);
  g_free (text);
  g_free (fifo);
  g_free (missing);
  g_free (empty);
}

GST_END_TEST;

static GstCaps *
type_of_bytes (const guint8 * data, gsize size, GstTypeFindProbability * prob)
{
  GstBuffer *buf = gst_buffer_new_memdup (data, size);
  GstCaps *caps = gst_type_find_helper_for_buffer (NULL, buf, prob);

  gst_buffer_unref (buf);
  return caps;
}

GST_START_TEST (test_typefind)
{
  gchar *path = test_path ("clip.store");
  GstTypeFindProbability prob = GST_TYPE_FIND_NONE;
  const GstStructure *s;
  gchar *contents;
  gsize size;
  GstCaps *caps;
  gint version = 0;

  make_store (path);
  fail_unless (g_file_get_contents (path, &contents, &size, NULL));
  fail_unless (size >= 4096);

  caps = type_of_bytes ((const guint8 *) contents, 4096, &prob);
  fail_unless (caps != NULL);
  s = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_name (s),
      "application/x-memmap-store");
  fail_unless (gst_structure_get_int (s, "version", &version));
  fail_unless_equals_int (version, 1);
  fail_unless_equals_int (prob, GST_TYPE_FIND_MAXIMUM);
  gst_caps_unref (caps);

  /* one byte of the magic changed: not a store */
  contents[3] ^= 0x20;
  caps = type_of_bytes ((const guint8 *) contents, 4096, &prob);
  if (caps) {
    fail_if (gst_structure_has_name (gst_caps_get_structure (caps, 0),
            "application/x-memmap-store"));
    gst_caps_unref (caps);
  }

  g_free (contents);
  g_free (path);
}

GST_END_TEST;

static gint64
query_duration (GstElement * e, GstFormat format)
{
  gint64 d = -1;

  fail_unless (gst_element_query_duration (e, format, &d));
  return d;
}

/* The next sample's buffer, checked to be the store's memory */
static GstBuffer *
check_sample (GstSample * sample, const gchar * path)
{
  GstBuffer *buf;
  GstMemory *mem;

  fail_unless (sample != NULL);
  buf = gst_buffer_ref (gst_sample_get_buffer (sample));
  gst_sample_unref (sample);
  fail_unless_equals_int (gst_buffer_n_memory (buf), 1);
  mem = gst_buffer_peek_memory (buf, 0);
  fail_unless (gst_is_memmap_memory (mem), "a copy reached the sink");
  fail_unless_equals_string (gst_memmap_memory_get_path (mem), path);
  return buf;
}

GST_START_TEST (test_playbin)
{
  gchar *path = test_path ("clip.store");
  gchar *uri;
  GstElement *playbin, *appsink, *source = NULL;
  GstSample *sample;
  GstBuffer *buf;
  GstMessage *msg;
  guint n = 0;
  guint64 target = 17;

  make_store (path);
  uri = file_uri (path);

  playbin = gst_element_factory_make ("playbin", NULL);
  appsink = gst_element_factory_make ("appsink", NULL);
  fail_unless (playbin != NULL && appsink != NULL);
  g_object_set (appsink, "sync", FALSE, NULL);
  g_object_set (playbin, "uri", uri, "video-sink", appsink, NULL);

  fail_unless_equals_int (gst_element_set_state (playbin, GST_STATE_PAUSED),
      GST_STATE_CHANGE_ASYNC);
  fail_unless_equals_int (gst_element_get_state (playbin, NULL, NULL,
          GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);

  /* memmapsrc, not filesrc */
  g_object_get (playbin, "source", &source, NULL);
  fail_unless (source != NULL);
  fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory
          (source)), "memmapsrc");
  gst_object_unref (source);

  fail_unless_equals_int64 (query_duration (playbin, GST_FORMAT_TIME),
      gst_util_uint64_scale (N_FRAMES, GST_SECOND, 30));

  /* a frame-accurate seek, served from the store */
  fail_unless (gst_element_seek_simple (playbin, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE,
          gst_util_uint64_scale (target, GST_SECOND, 30)));
  fail_unless_equals_int (gst_element_get_state (playbin, NULL, NULL,
          GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
  g_signal_emit_by_name (appsink, "pull-preroll", &sample);
  buf = check_sample (sample, path);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), target);
  gst_buffer_unref (buf);

  /* back to the start, then every frame to EOS */
  fail_unless (gst_element_seek_simple (playbin, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH, 0));
  fail_unless_equals_int (gst_element_get_state (playbin, NULL, NULL,
          GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
  gst_element_set_state (playbin, GST_STATE_PLAYING);
  while (TRUE) {
    g_signal_emit_by_name (appsink, "pull-sample", &sample);
    if (sample == NULL)
      break;
    buf = check_sample (sample, path);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), n);
    gst_buffer_unref (buf);
    n++;
  }
  fail_unless_equals_int (n, N_FRAMES);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (playbin),
      10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);

  gst_element_set_state (playbin, GST_STATE_NULL);
  gst_object_unref (playbin);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_discoverer)
{
  gchar *path = test_path ("clip.store");
  gchar *uri;
  GstDiscoverer *dc;
  GstDiscovererInfo *info;
  GList *streams;
  GstDiscovererVideoInfo *vinfo;
  GstCaps *caps;
  GstVideoInfo vi;
  GError *err = NULL;

  make_store (path);
  uri = file_uri (path);

  dc = gst_discoverer_new (30 * GST_SECOND, &err);
  fail_unless (dc != NULL, "%s", err ? err->message : "?");
  info = gst_discoverer_discover_uri (dc, uri, &err);
  fail_unless (info != NULL);
  fail_unless_equals_int (gst_discoverer_info_get_result (info),
      GST_DISCOVERER_OK);
  g_clear_error (&err);

  fail_unless_equals_uint64 (gst_discoverer_info_get_duration (info),
      gst_util_uint64_scale (N_FRAMES, GST_SECOND, 30));
  fail_unless (gst_discoverer_info_get_seekable (info));
  fail_if (gst_discoverer_info_get_live (info));

  streams = gst_discoverer_info_get_video_streams (info);
  fail_unless_equals_int (g_list_length (streams), 1);
  vinfo = GST_DISCOVERER_VIDEO_INFO (streams->data);
  fail_unless_equals_int (gst_discoverer_video_info_get_width (vinfo), WIDTH);
  fail_unless_equals_int (gst_discoverer_video_info_get_height (vinfo), HEIGHT);
  fail_unless_equals_int (gst_discoverer_video_info_get_framerate_num
      (vinfo), 30);
  caps = gst_discoverer_stream_info_get_caps (GST_DISCOVERER_STREAM_INFO
      (vinfo));
  fail_unless (gst_video_info_from_caps (&vi, caps));
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&vi), GST_VIDEO_FORMAT_I420);
  gst_caps_unref (caps);
  gst_discoverer_stream_info_list_free (streams);

  gst_discoverer_info_unref (info);
  gst_object_unref (dc);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

static Suite *
memmapuri_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("memmapuri", setup, teardown, &tc);

  tcase_add_test (tc, test_src_uri_handler);
  tcase_add_test (tc, test_sink_uri_handler);
  tcase_add_test (tc, test_file_uri_fallback);
  tcase_add_test (tc, test_typefind);
  tcase_add_test (tc, test_playbin);
  tcase_add_test (tc, test_discoverer);

  return s;
}

GST_CHECK_MAIN (memmapuri);
