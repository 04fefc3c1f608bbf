/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store format 1.1 through the elements: memmapsink records each
 * frame's buffer flags and memmapsrc gives them back (interlaced H.264
 * decoded through a store keeps its field flags and its interlace-mode);
 * memmapsink checksum=true makes memmapsrc refuse a frame changed on disk;
 * a store memmapsink closed takes on disk what it holds.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define P 4096
#define FIELD_FLAGS (GST_VIDEO_BUFFER_FLAG_INTERLACED | \
    GST_VIDEO_BUFFER_FLAG_TFF | GST_VIDEO_BUFFER_FLAG_RFF | \
    GST_VIDEO_BUFFER_FLAG_ONEFIELD)

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmap-storeformat-el");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

static gboolean
have_elements (const gchar * const *names)
{
  for (; *names; names++) {
    GstElementFactory *f = gst_element_factory_find (*names);

    if (f == NULL) {
      g_print ("SKIP: element %s is not installed\n", *names);
      return FALSE;
    }
    gst_object_unref (f);
  }
  return TRUE;
}

/* run_pipeline() of a pipeline it takes (transfer full) */
static GstMessage *
run_and_unref (GstElement * pipeline)
{
  GstMessage *msg = run_pipeline (pipeline);

  gst_object_unref (pipeline);
  return msg;
}

/* run_to_eos() of a pipeline it takes (transfer full) */
static void
run_to_eos_and_unref (GstElement * pipeline)
{
  run_to_eos (pipeline);
  gst_object_unref (pipeline);
}

/* The field flags of every frame @source gives, and its caps'
 * interlace-mode. */
static GArray *
collect_field_flags (const gchar * source, gchar ** interlace_mode)
{
  GstElement *pipeline, *appsink;
  GArray *flags = g_array_new (FALSE, FALSE, sizeof (guint));
  GstSample *sample;

  pipeline = parse_pipeline ("%s ! appsink name=out sync=false", source);
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  *interlace_mode = NULL;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (TRUE) {
    GstStructure *s;
    guint f;

    sample = NULL;
    g_signal_emit_by_name (appsink, "pull-sample", &sample);
    if (sample == NULL)
      break;
    f = GST_BUFFER_FLAGS (gst_sample_get_buffer (sample)) & FIELD_FLAGS;
    g_array_append_val (flags, f);
    s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
    if (*interlace_mode == NULL)
      *interlace_mode = g_strdup (gst_structure_get_string (s,
              "interlace-mode"));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (appsink);
  gst_object_unref (pipeline);
  return flags;
}

static guint
count_flag (GArray * flags, guint flag)
{
  guint i, n = 0;

  for (i = 0; i < flags->len; i++)
    n += (g_array_index (flags, guint, i) & flag) == flag;
  return n;
}

/* interlaced H.264 (x264enc interlaced=true, top field first), decoded into
 * a store and played back: every frame keeps INTERLACED and TFF, the caps
 * keep interlace-mode */
GST_START_TEST (test_interlaced_h264_roundtrip)
{
  const gchar *needed[] = { "x264enc", "h264parse", "matroskamux",
    "matroskademux", "avdec_h264", NULL
  };
  gchar *clip = test_path ("interlaced.mkv");
  gchar *store = test_path ("interlaced.store");
  gchar *decode, *src, *mode_ref = NULL, *mode_back = NULL;
  GArray *ref, *back;
  guint i;

  if (!have_elements (needed))
    goto out;

  run_to_eos_and_unref (parse_pipeline ("videotestsrc num-buffers=30 ! "
          "video/x-raw,format=I420,width=320,height=240,framerate=30/1,"
          "interlace-mode=interleaved,field-order=top-field-first ! "
          "x264enc interlaced=true ! h264parse ! matroskamux ! "
          "filesink location=%s", clip));
  decode = g_strdup_printf ("filesrc location=%s ! matroskademux ! "
      "h264parse ! avdec_h264", clip);
  ref = collect_field_flags (decode, &mode_ref);
  /* what the decoder gives: the premise of the test */
  fail_unless_equals_int (ref->len, 30);
  fail_unless_equals_int (count_flag (ref, GST_VIDEO_BUFFER_FLAG_INTERLACED),
      30);
  fail_unless_equals_int (count_flag (ref, GST_VIDEO_BUFFER_FLAG_TFF), 30);
  fail_unless_equals_string (mode_ref, "interleaved");

  run_to_eos_and_unref (parse_pipeline ("%s ! memmapsink location=%s", decode,
          store));
  src = g_strdup_printf ("memmapsrc location=%s", store);
  back = collect_field_flags (src, &mode_back);
  fail_unless_equals_int (back->len, 30);
  fail_unless_equals_int (count_flag (back, GST_VIDEO_BUFFER_FLAG_INTERLACED),
      30);
  fail_unless_equals_int (count_flag (back, GST_VIDEO_BUFFER_FLAG_TFF), 30);
  for (i = 0; i < 30; i++)
    fail_unless_equals_int (g_array_index (back, guint, i),
        g_array_index (ref, guint, i));
  fail_unless_equals_string (mode_back, mode_ref);

  g_array_unref (ref);
  g_array_unref (back);
  g_free (decode);
  g_free (src);
  g_free (mode_ref);
  g_free (mode_back);
out:
  g_free (clip);
  g_free (store);
}

GST_END_TEST;

/* interlace-mode=mixed: each frame says whether it is interlaced, with
 * TFF, RFF or one field; memmapsink keeps them, memmapsrc gives them back
 * (through GstHarness: no element here makes such a stream) */
GST_START_TEST (test_mixed_flags_roundtrip)
{
  static const guint frame_flags[] = {
    0,
    GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_TFF,
    GST_VIDEO_BUFFER_FLAG_INTERLACED,
    GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_TFF |
        GST_VIDEO_BUFFER_FLAG_RFF,
    GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_ONEFIELD,
    0,
  };
  const gchar *caps = "video/x-raw,format=GRAY8,width=16,height=8,"
      "framerate=30/1,interlace-mode=mixed";
  gchar *store = test_path ("mixed.store");
  gchar *src, *mode = NULL;
  GstElement *sink;
  GstHarness *h;
  GArray *back;
  guint i;

  sink = gst_element_factory_make ("memmapsink", NULL);
  fail_unless (sink != NULL);
  g_object_set (sink, "location", store, NULL);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, caps);
  for (i = 0; i < G_N_ELEMENTS (frame_flags); i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 16 * 8, NULL);

    gst_buffer_memset (buf, 0, i, 16 * 8);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
    GST_BUFFER_FLAG_SET (buf, frame_flags[i]);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  src = g_strdup_printf ("memmapsrc location=%s", store);
  back = collect_field_flags (src, &mode);
  fail_unless_equals_int (back->len, G_N_ELEMENTS (frame_flags));
  for (i = 0; i < G_N_ELEMENTS (frame_flags); i++)
    fail_unless_equals_int (g_array_index (back, guint, i), frame_flags[i]);
  fail_unless_equals_string (mode, "mixed");
  g_array_unref (back);
  g_free (mode);
  g_free (src);
  g_free (store);
}

GST_END_TEST;

/* interlace-mode=alternate: one field per buffer, caps feature
 * format:Interlaced; stored field by field with TOP_FIELD / BOTTOM_FIELD,
 * played back with the same caps, flags and bytes, and mappable as video
 * frames of the caps */
GST_START_TEST (test_alternate_fields_roundtrip)
{
  const gchar *caps_str = "video/x-raw(format:Interlaced),format=GRAY8,"
      "width=16,height=8,framerate=30/1,interlace-mode=alternate,"
      "field-order=top-field-first";
  gchar *store = test_path ("alternate.store");
  GstElement *sink, *pipeline, *appsink;
  GstSample *sample;
  GstHarness *h;
  guint i, n = 0;

  sink = gst_element_factory_make ("memmapsink", NULL);
  g_object_set (sink, "location", store, NULL);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, caps_str);
  for (i = 0; i < 6; i++) {
    /* a field: 16 x 4 */
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 16 * 4, NULL);

    gst_buffer_memset (buf, 0, 10 + i, 16 * 4);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 60;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 60;
    GST_BUFFER_FLAG_SET (buf, i % 2 ? GST_VIDEO_BUFFER_FLAG_BOTTOM_FIELD :
        GST_VIDEO_BUFFER_FLAG_TOP_FIELD);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);

  pipeline = parse_pipeline ("memmapsrc location=%s ! appsink name=out "
      "sync=false", store);
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((sample = NULL, g_signal_emit_by_name (appsink, "pull-sample",
              &sample), sample != NULL)) {
    GstCaps *caps = gst_sample_get_caps (sample);
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstVideoFrame frame;
    GstVideoInfo info;
    guint want = n % 2 ? GST_VIDEO_BUFFER_FLAG_BOTTOM_FIELD :
        GST_VIDEO_BUFFER_FLAG_TOP_FIELD;
    const guint8 *row;

    fail_unless (gst_caps_features_contains (gst_caps_get_features (caps, 0),
            GST_CAPS_FEATURE_FORMAT_INTERLACED), "%" GST_PTR_FORMAT, caps);
    fail_unless (gst_video_info_from_caps (&info, caps));
    fail_unless_equals_int (GST_VIDEO_INFO_INTERLACE_MODE (&info),
        GST_VIDEO_INTERLACE_MODE_ALTERNATE);
    fail_unless_equals_int (GST_BUFFER_FLAGS (buf) & FIELD_FLAGS, want);
    fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
    fail_unless_equals_int (GST_VIDEO_INFO_FIELD_HEIGHT (&frame.info), 4);
    row = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
    fail_unless_equals_int (row[3 * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0)
            + 15], 10 + n);
    gst_video_frame_unmap (&frame);
    gst_sample_unref (sample);
    n++;
  }
  fail_unless_equals_int (n, 6);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (appsink);
  gst_object_unref (pipeline);
  g_free (store);
}

GST_END_TEST;

/* memmapsink checksum=true: memmapsrc refuses (an error, never a silent
 * frame) a frame whose bytes changed on disk; without checksums the same
 * store plays */
GST_START_TEST (test_checksum_property)
{
  const gchar *source = "videotestsrc num-buffers=5 pattern=ball ! "
      "video/x-raw,format=GRAY8,width=64,height=48,framerate=30/1";
  gboolean sums[] = { TRUE, FALSE };
  guint k;

  for (k = 0; k < G_N_ELEMENTS (sums); k++) {
    gchar *store = test_path (sums[k] ? "sums.store" : "plain.store");
    GstMemmapEngine *engine = gst_memmap_engine_new ();
    GstMemmapStoreReader *r;
    GstElement *sink;
    GstMessage *msg;
    GstBuffer *buf;
    gboolean prop = !sums[k];
    guint64 offset;
    guint8 byte;
    gint fd;

    sink = gst_element_factory_make ("memmapsink", NULL);
    g_object_get (sink, "checksum", &prop, NULL);
    fail_if (prop, "checksum is off by default");
    gst_object_unref (sink);

    run_to_eos_and_unref (parse_pipeline
        ("%s ! memmapsink location=%s checksum=%d", source, store, sums[k]));

    r = gst_memmap_store_reader_open (engine, store, NULL);
    fail_unless (r != NULL);
    fail_unless_equals_int (gst_memmap_store_reader_has_checksums (r), sums[k]);
    buf = gst_memmap_store_reader_get_buffer (r, NULL, 3, NULL);
    fail_unless (buf != NULL);
    offset = gst_memmap_memory_get_file_offset (gst_buffer_peek_memory (buf,
            0));
    gst_buffer_unref (buf);
    gst_memmap_store_reader_unref (r);
    gst_memmap_engine_clear_all (engine);
    gst_object_unref (engine);

    /* flip one bit of frame 3 */
    fd = open (store, O_RDWR);
    fail_unless (fd >= 0);
    fail_unless_equals_int (pread (fd, &byte, 1, offset + 100), 1);
    byte ^= 0x04;
    fail_unless_equals_int (pwrite (fd, &byte, 1, offset + 100), 1);
    close (fd);

    msg = run_and_unref (parse_pipeline ("memmapsrc location=%s ! fakesink",
            store));
    if (sums[k]) {
      memmap_test_check_error (msg, GST_STREAM_ERROR,
          GST_STREAM_ERROR_DECODE, NULL, "frame 3");
      memmap_test_check_error (msg, GST_STREAM_ERROR,
          GST_STREAM_ERROR_DECODE, NULL, "checksum");
    } else {
      fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
    }
    gst_message_unref (msg);
    g_free (store);
  }
}

GST_END_TEST;

/* issue 13: a store memmapsink closed takes on disk its header, its index
 * page and its frames, with at most one page of slack */
GST_START_TEST (test_closed_store_footprint)
{
  gchar *store = test_path ("three.store");
  guint64 slot = (320 * 240 * 3 / 2 + P - 1) / P * P;
  guint64 limit = P + P + 3 * slot + P;
  struct stat st;

  run_to_eos_and_unref (parse_pipeline ("videotestsrc num-buffers=3 ! "
          "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
          "memmapsink location=%s", store));
  fail_unless (stat (store, &st) == 0);
  fail_unless ((guint64) st.st_blocks * 512 <= limit, "a closed store of 3 "
      "frames takes %" G_GUINT64_FORMAT " bytes on disk, more than %"
      G_GUINT64_FORMAT, (guint64) st.st_blocks * 512, limit);
  fail_unless ((guint64) st.st_blocks * 512 >= 3 * slot);
  /* and plays */
  run_to_eos_and_unref (parse_pipeline ("memmapsrc location=%s ! fakesink",
          store));
  g_free (store);
}

GST_END_TEST;

/* issue 13: a memmapsrc that follows a store while memmapsink writes it
 * keeps working across the close (which gives the empty slots' blocks
 * back): it gets every frame, intact, and ends at EOS */
GST_START_TEST (test_follower_across_close)
{
  gchar *store = test_path ("live.store");
  GstElement *writer, *reader, *appsink;
  GstBus *wbus;
  GstMessage *msg;
  GPtrArray *samples = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_sample_unref);
  GstSample *sample;
  struct stat st;
  guint i, waited = 0;

  writer = parse_pipeline ("videotestsrc num-buffers=40 is-live=true "
      "pattern=ball ! video/x-raw,format=GRAY8,width=64,height=48,"
      "framerate=100/1 ! memmapsink location=%s", store);
  gst_element_set_state (writer, GST_STATE_PLAYING);
  /* the store exists from the first caps on */
  while (stat (store, &st) != 0 && waited++ < 500)
    g_usleep (10000);
  fail_unless (waited < 500, "the writer made no store");

  reader = parse_pipeline ("memmapsrc location=%s follow=true ! "
      "appsink name=out sync=false", store);
  appsink = gst_bin_get_by_name (GST_BIN (reader), "out");
  gst_element_set_state (reader, GST_STATE_PLAYING);
  while (TRUE) {
    sample = NULL;
    g_signal_emit_by_name (appsink, "pull-sample", &sample);
    if (sample == NULL)
      break;
    g_ptr_array_add (samples, sample);
  }

  wbus = gst_element_get_bus (writer);
  msg = gst_bus_timed_pop_filtered (wbus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (wbus);
  gst_element_set_state (writer, GST_STATE_NULL);
  gst_object_unref (writer);

  /* the follower ended with the writer's close, with every frame */
  fail_unless_equals_int (samples->len, 40);
  for (i = 0; i < samples->len; i++) {
    GstBuffer *buf = gst_sample_get_buffer (g_ptr_array_index (samples, i));
    GstMapInfo map;
    guint64 sum = 0;
    gsize k;

    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    /* every byte still readable after the close, and not zeroed: a ball
     * frame is never all black */
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    for (k = 0; k < map.size; k++)
      sum += map.data[k];
    gst_buffer_unmap (buf, &map);
    fail_unless (sum > 0, "frame %u reads as zeros", i);
  }
  g_ptr_array_unref (samples);
  gst_element_set_state (reader, GST_STATE_NULL);
  gst_object_unref (appsink);
  gst_object_unref (reader);

  fail_unless (stat (store, &st) == 0);
  fail_unless ((guint64) st.st_blocks * 512 <= P + P + 40 * P + P,
      "closed: %" G_GUINT64_FORMAT " bytes on disk",
      (guint64) st.st_blocks * 512);
  g_free (store);
}

GST_END_TEST;

static Suite *
storeformat_suite (void)
{
  Suite *s = suite_create ("memmap-storeformat-elements");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_interlaced_h264_roundtrip);
  tcase_add_test (tc, test_mixed_flags_roundtrip);
  tcase_add_test (tc, test_alternate_fields_roundtrip);
  tcase_add_test (tc, test_checksum_property);
  tcase_add_test (tc, test_closed_store_footprint);
  tcase_add_test (tc, test_follower_across_close);

  return s;
}

GST_CHECK_MAIN (storeformat);
