/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The slot pool of memmapsink and memmapcache with
 * GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT (docs/design.md, "Decoding into
 * the slots"): the slots are laid out as GstVideoBufferPool lays out the
 * same alignment, the store records that padded layout and its visible
 * planes read back as written; avdec_h264 decodes straight into the slots
 * of memmapcache on a first pass (frames-copied 0) and the recorded frames
 * are the decoded ones.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include "../memmap-test-util.h"

#define W 320
#define H 240

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmap-slotpool");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

static GstCaps *
i420_caps (void)
{
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420",
      "width", G_TYPE_INT, W, "height", G_TYPE_INT, H, "framerate",
      GST_TYPE_FRACTION, 30, 1, NULL);
}

/* What avdec_h264 asks for at 320x240 (gst-libav 1.22): rows up to a
 * multiple of 32, plus 3; strides aligned to 64 bytes. */
static void
libav_alignment (GstVideoAlignment * align, guint padding_bottom)
{
  guint i;

  gst_video_alignment_reset (align);
  align->padding_bottom = padding_bottom;
  for (i = 0; i < GST_VIDEO_MAX_PLANES; i++)
    align->stride_align[i] = 63;
}

static GstStructure *
aligned_config (GstBufferPool * pool, GstCaps * caps,
    const GstVideoAlignment * align)
{
  GstStructure *config = gst_buffer_pool_get_config (pool);
  GstVideoAlignment a = *align;
  GstVideoInfo info;

  gst_video_info_from_caps (&info, caps);
  gst_buffer_pool_config_set_params (config, caps, info.size, 0, 0);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_buffer_pool_config_add_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
  gst_buffer_pool_config_set_video_alignment (config, &a);
  return config;
}

static GstBufferPool *
proposed_pool (GstHarness * h, GstCaps * caps)
{
  GstQuery *query = gst_query_new_allocation (caps, TRUE);
  GstBufferPool *pool = NULL;

  fail_unless (gst_pad_peer_query (h->srcpad, query));
  fail_unless (gst_query_get_n_allocation_pools (query) > 0);
  gst_query_parse_nth_allocation_pool (query, 0, &pool, NULL, NULL, NULL);
  fail_unless (pool != NULL);
  fail_unless (gst_buffer_pool_has_option (pool,
          GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT));
  gst_query_unref (query);
  return pool;
}

/* A pattern in the visible planes, through the buffer's video meta. */
static void
fill_frame (GstBuffer * buf, const GstVideoInfo * info, guint seed)
{
  GstVideoFrame frame;
  guint p, x, y;

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_WRITE));
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);

    for (y = 0; y < (guint) GST_VIDEO_FRAME_COMP_HEIGHT (&frame, p); y++)
      for (x = 0; x < (guint) GST_VIDEO_FRAME_COMP_WIDTH (&frame, p); x++)
        data[y * stride + x] = (guint8) (x * 7 + y * 3 + p * 50 + seed);
  }
  gst_video_frame_unmap (&frame);
}

GST_START_TEST (test_alignment_pads_the_store)
{
  gchar *path = test_path ("padded.store");
  gchar *launch = g_strdup_printf ("memmapsink location=%s", path);
  GstHarness *h = gst_harness_new_parse (launch);
  GstCaps *caps = i420_caps ();
  GstBufferPool *pool, *ref_pool, *other;
  GstVideoAlignment align;
  GstStructure *config, *stats;
  GstBuffer *buf, *ref_buf;
  GstVideoMeta *meta, *ref_meta;
  GstMemmapStoreReader *reader;
  const GstVideoInfo *layout;
  GstVideoInfo info;
  gchar *written, *read;
  guint64 zero_copy = 0;
  guint p;

  gst_video_info_from_caps (&info, caps);
  gst_harness_set_src_caps (h, gst_caps_ref (caps));

  /* the layout GstVideoBufferPool gives this alignment: the decoder's */
  libav_alignment (&align, 19);
  ref_pool = gst_video_buffer_pool_new ();
  fail_unless (gst_buffer_pool_set_config (ref_pool,
          aligned_config (ref_pool, caps, &align)));
  fail_unless (gst_buffer_pool_set_active (ref_pool, TRUE));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (ref_pool, &ref_buf,
          NULL), GST_FLOW_OK);
  ref_meta = gst_buffer_get_video_meta (ref_buf);
  /* a padded layout indeed: the chroma stride is not the default one */
  fail_unless (ref_meta->stride[1] != GST_VIDEO_INFO_PLANE_STRIDE (&info, 1));

  pool = proposed_pool (h, caps);
  config = aligned_config (pool, caps, &align);
  fail_unless (gst_buffer_pool_set_config (pool, config),
      "the slot pool refused the alignment");
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buf, NULL),
      GST_FLOW_OK);
  meta = gst_buffer_get_video_meta (buf);
  fail_unless (meta != NULL);
  for (p = 0; p < meta->n_planes; p++) {
    fail_unless_equals_int (meta->stride[p], ref_meta->stride[p]);
    fail_unless_equals_uint64 (meta->offset[p], ref_meta->offset[p]);
  }
  fail_unless (gst_buffer_get_size (buf) >= gst_buffer_get_size (ref_buf));
  gst_buffer_unref (ref_buf);
  gst_buffer_pool_set_active (ref_pool, FALSE);
  gst_object_unref (ref_pool);

  /* a slot was taken: another alignment cannot be had any more */
  other = proposed_pool (h, caps);
  libav_alignment (&align, 40);
  fail_if (gst_buffer_pool_set_config (other, aligned_config (other, caps,
              &align)), "a touched store was laid out again");
  gst_object_unref (other);

  fill_frame (buf, &info, 1);
  written = memmap_test_frame_checksum (&info, buf);
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  {
    GstElement *sink = gst_harness_find_element (h, "memmapsink");

    g_object_get (sink, "stats", &stats, NULL);
    gst_object_unref (sink);
  }
  gst_structure_get_uint64 (stats, "frames-zero-copy", &zero_copy);
  gst_structure_free (stats);
  fail_unless_equals_uint64 (zero_copy, 1);

  /* the store records the padded layout; its visible planes are those
   * written */
  reader = gst_memmap_store_reader_open (gst_memmap_engine_get_default (),
      path, NULL);
  fail_unless (reader != NULL);
  layout = gst_memmap_store_reader_get_layout (reader);
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (layout); p++)
    fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (layout, p),
        meta->stride[p]);
  buf = gst_memmap_store_reader_get_buffer (reader, NULL, 0, NULL);
  fail_unless (buf != NULL);
  read = memmap_test_frame_checksum (&info, buf);
  fail_unless_equals_string (read, written);

  gst_buffer_unref (buf);
  gst_memmap_store_reader_unref (reader);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  g_free (read);
  g_free (written);
  gst_caps_unref (caps);
  g_free (launch);
  g_free (path);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* avdec_h264 into memmapcache                                              */

typedef struct
{
  GHashTable *sums;             /* pts -> checksum */
  guint in_store, buffers;      /* decoder outputs in a memmap memory */
} Seen;

static GstPadProbeReturn
checksum_probe (GstPad * pad, GstPadProbeInfo * pi, Seen * seen)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (pi);
  GstCaps *caps = gst_pad_get_current_caps (pad);

  g_hash_table_insert (seen->sums, GUINT_TO_POINTER (GST_BUFFER_PTS (buf)),
      memmap_test_frame_checksum_caps (caps, buf));
  gst_caps_unref (caps);
  return GST_PAD_PROBE_OK;
}

/* the decoder's output: is its data inside a mapping of the cache? */
static GstPadProbeReturn
decoder_probe (GstPad * pad, GstPadProbeInfo * pi, Seen * seen)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (pi);
  GstMemory *mem = gst_buffer_peek_memory (buf, 0);

  seen->buffers++;
  if (gst_buffer_n_memory (buf) == 1 && gst_is_memmap_memory (mem) &&
      g_str_has_prefix (gst_memmap_memory_get_path (mem), tmpdir))
    seen->in_store++;
  return GST_PAD_PROBE_OK;
}

static GstElement *
run (const gchar * desc, const gchar * probed, const gchar * pad_name,
    GstPadProbeCallback cb, Seen * seen)
{
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *e;
  GstMessage *msg;
  GstPad *pad;

  fail_unless (pipeline != NULL, "%s", desc);
  e = gst_bin_get_by_name (GST_BIN (pipeline), probed);
  pad = gst_element_get_static_pad (e, pad_name);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, cb, seen, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "%s did not reach EOS", desc);
  gst_message_unref (msg);
  return pipeline;
}

/* Every store under the cache directory, checked against @decoded. */
static guint
check_stores (const gchar * dir, GHashTable * decoded, gboolean * padded)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint frames = 0;

  fail_unless (d != NULL);
  while ((name = g_dir_read_name (d))) {
    gchar *sub = g_build_filename (dir, name, NULL);
    GDir *e = g_dir_open (sub, 0, NULL);
    const gchar *f;

    while (e && (f = g_dir_read_name (e))) {
      gchar *path = g_build_filename (sub, f, NULL);
      GstMemmapStoreReader *r;
      GstVideoInfo dflt;
      GstCaps *caps;
      guint64 i;

      if (!g_str_has_suffix (f, ".store")) {
        g_free (path);
        continue;
      }
      r = gst_memmap_store_reader_open (gst_memmap_engine_get_default (),
          path, NULL);
      fail_unless (r != NULL, "%s", path);
      caps = gst_memmap_store_reader_get_caps (r);
      gst_video_info_from_caps (&dflt, caps);
      if (GST_VIDEO_INFO_SIZE (gst_memmap_store_reader_get_layout (r)) >
          GST_VIDEO_INFO_SIZE (&dflt))
        *padded = TRUE;
      for (i = 0; i < gst_memmap_store_reader_get_committed (r); i++) {
        GstBuffer *buf = gst_memmap_store_reader_get_buffer (r, NULL, i,
            NULL);
        gchar *sum;

        fail_unless (buf != NULL);
        sum = memmap_test_frame_checksum (&dflt, buf);
        fail_unless_equals_string (sum, g_hash_table_lookup (decoded,
                GUINT_TO_POINTER (GST_BUFFER_PTS (buf))));
        frames++;
        g_free (sum);
        gst_buffer_unref (buf);
      }
      gst_caps_unref (caps);
      gst_memmap_store_reader_unref (r);
      g_free (path);
    }
    if (e)
      g_dir_close (e);
    g_free (sub);
  }
  g_dir_close (d);
  return frames;
}

GST_START_TEST (test_avdec_decodes_into_slots)
{
  const gchar *needed[] = { "avdec_h264", "x264enc", "mp4mux", "qtdemux",
    "h264parse", NULL
  };
  gchar *clip = test_path ("clip.mp4"), *cache = test_path ("cache");
  Seen decoded = { 0, }, recorded = { 0, };
  GstElement *pipeline;
  GstStructure *stats;
  guint64 copied = 1, zero_copy = 0, n_recorded = 0;
  gboolean padded = FALSE;
  gchar *desc;
  guint i;

  for (i = 0; needed[i]; i++) {
    GstElementFactory *f = gst_element_factory_find (needed[i]);

    if (f == NULL) {
      gchar *why = g_strdup_printf ("no %s (gst-libav, gst-plugins-ugly/"
          "good/bad)", needed[i]);

      memmap_test_skip ("test_avdec_decodes_into_slots", why);
      g_free (why);
      goto out;
    }
    gst_object_unref (f);
  }

  /* B-frames: the decoder holds reference frames while it pushes them */
  desc = g_strdup_printf ("videotestsrc num-buffers=40 pattern=smpte "
      "horizontal-speed=4 ! video/x-raw,format=I420,width=%d,height=%d,"
      "framerate=30/1 ! x264enc bframes=2 key-int-max=15 "
      "speed-preset=superfast ! mp4mux ! filesink location=%s", W, H, clip);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  gst_message_unref (gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
          GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);

  decoded.sums = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
      "avdec_h264 ! fakesink name=sink", clip);
  pipeline = run (desc, "sink", "sink", (GstPadProbeCallback) checksum_probe,
      &decoded);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);
  fail_unless_equals_int (g_hash_table_size (decoded.sums), 40);

  desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
      "avdec_h264 name=dec ! memmapcache name=cache cache-dir=%s ! "
      "fakesink", clip, cache);
  pipeline = run (desc, "dec", "src", (GstPadProbeCallback) decoder_probe,
      &recorded);
  {
    GstElement *c = gst_bin_get_by_name (GST_BIN (pipeline), "cache");

    g_object_get (c, "stats", &stats, NULL);
    gst_object_unref (c);
  }
  gst_structure_get_uint64 (stats, "frames-copied", &copied);
  gst_structure_get_uint64 (stats, "frames-zero-copy", &zero_copy);
  gst_structure_get_uint64 (stats, "frames-recorded", &n_recorded);
  gst_structure_free (stats);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);

  fail_unless_equals_uint64 (n_recorded, 40);
  fail_unless_equals_uint64 (copied, 0);
  fail_unless_equals_uint64 (zero_copy, 40);
  /* every frame of the decoder came in memory of the cache's store */
  fail_unless_equals_int (recorded.buffers, 40);
  fail_unless_equals_int (recorded.in_store, 40);
  /* the recorded frames are the decoded ones, in a padded layout */
  fail_unless_equals_int (check_stores (cache, decoded.sums, &padded), 40);
  fail_unless (padded, "the store holds the caps' default layout");

  g_hash_table_unref (decoded.sums);
out:
  g_free (clip);
  g_free (cache);
}

GST_END_TEST;

static Suite *
slotpool_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("slotpool", setup, teardown, &tc);

  tcase_add_test (tc, test_alignment_pads_the_store);
  tcase_add_test (tc, test_avdec_decodes_into_slots);
  return s;
}

GST_CHECK_MAIN (slotpool);
