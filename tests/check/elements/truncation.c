/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The elements when another process truncates the store they have mapped
 * (docs/reliability.md, "Truncation under a live mapping"): memmapsrc and
 * memmapsink post a clear error naming the file, memmapcache warns and
 * plays on from upstream; the process never dies of SIGBUS, although the
 * buffers downstream (read by fakesink's handoff, outside our code) and
 * the producer's writes into memmapsink's slots touch the lost pages.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#undef GST_CHECK_TEST_ENVIRONMENT_BEACON
#define GST_CHECK_TEST_ENVIRONMENT_BEACON "MEMMAP_BUILD_ROOT"

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define N_FRAMES 30
#define CUT_AT 5                /* the frame after which the file is cut */
#define CAPS "video/x-raw,format=I420,width=320,height=240,framerate=30/1"

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmap-etrunc");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

/* Another process cuts @path to @size bytes (coreutils truncate). */
static void
truncate_elsewhere (const gchar * path, guint64 size)
{
  gchar *size_str = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  const gchar *argv[] = { "truncate", "-s", size_str, path, NULL };
  gint status = -1;

  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL));
  g_free (size_str);
}

typedef struct
{
  const gchar *path;            /* the file to cut */
  guint64 cut_to;
  guint frames;                 /* buffers that reached the sink */
  guint64 sum;                  /* of every byte of every buffer */
  gboolean cut_in_probe;
  guint probed;
  GPtrArray *sums;              /* if set: each buffer's frame_checksum() */
  GArray *pts;                  /* if set: each buffer's PTS */
} Run;

/* SHA-1 of the visible bytes of every plane (as memmapcache's test does:
 * the cache's strides need not be upstream's). */
static gchar *
frame_checksum (GstCaps * caps, GstBuffer * buffer)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA1);
  GstVideoInfo info;
  GstVideoFrame frame;
  gchar *ret;
  guint p;

  fail_unless (caps != NULL && gst_video_info_from_caps (&info, caps));
  fail_unless (gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ));
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    guint rows, row;
    gsize row_bytes;

    gst_video_format_info_component (frame.info.finfo, p, comp);
    rows = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comp[0]);
    row_bytes = (gsize) GST_VIDEO_FRAME_COMP_WIDTH (&frame, comp[0]) *
        GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, comp[0]);
    for (row = 0; row < rows; row++)
      g_checksum_update (sum, data + (gsize) row * stride, row_bytes);
  }
  gst_video_frame_unmap (&frame);
  ret = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return ret;
}

/* fakesink's handoff: reads every byte (so every page of the store that a
 * buffer covers is touched by code that is not ours), and cuts the file
 * just before it reads the CUT_AT-th buffer */
static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Run * run)
{
  GstMapInfo map;
  gsize i;

  /* cut before this buffer is read: it is read past the new end */
  if (++run->frames == CUT_AT && run->path && !run->cut_in_probe)
    truncate_elsewhere (run->path, run->cut_to);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i++)
    run->sum += map.data[i];
  gst_buffer_unmap (buf, &map);
  if (run->sums) {
    GstCaps *caps = gst_pad_get_current_caps (pad);

    g_ptr_array_add (run->sums, frame_checksum (caps, buf));
    gst_clear_caps (&caps);
  }
  if (run->pts) {
    GstClockTime pts = GST_BUFFER_PTS (buf);

    g_array_append_val (run->pts, pts);
  }
}

/* or the file is cut just before the CUT_AT-th buffer reaches the element
 * named "cut" (memmapsink: the slots the producer writes next are gone) */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  if (++run->probed == CUT_AT)
    truncate_elsewhere (run->path, run->cut_to);
  return GST_PAD_PROBE_OK;
}

/* Plays @desc to its end; returns the first ERROR or WARNING message of
 * @type (or NULL at EOS) and counts the warnings. */
static GstMessage *
play (const gchar * desc, Run * run, GstMessageType type, guint * warnings)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err), *sink, *cut;
  GstBus *bus;
  GstMessage *msg, *found = NULL;

  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "?");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), run);
  gst_object_unref (sink);
  cut = gst_bin_get_by_name (GST_BIN (pipeline), "cut");
  if (cut) {
    GstPad *pad = gst_element_get_static_pad (cut, "sink");

    run->cut_in_probe = TRUE;
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) on_buffer, run, NULL);
    gst_object_unref (pad);
    gst_object_unref (cut);
  }

  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while ((msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING && warnings)
      (*warnings)++;
    if (GST_MESSAGE_TYPE (msg) & type && found == NULL) {
      found = gst_message_ref (msg);
    }
    if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_WARNING) {
      gst_message_unref (msg);
      break;
    }
    gst_message_unref (msg);
  }
  fail_unless (msg != NULL, "%s: neither EOS nor an error in 60 s", desc);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return found;
}

static void
record (const gchar * path)
{
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      CAPS " ! memmapsink location=\"%s\"", N_FRAMES, path);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstMessage *msg;

  fail_unless (p != NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (p), 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  g_free (desc);
}

/* error or warning @msg of domain @domain, code @code, whose text says the
 * file was truncated and whose debug text names @path */
static void
assert_truncation_message (GstMessage * msg, GQuark domain, gint code,
    const gchar * path)
{
  GError *err = NULL;
  gchar *debug = NULL;

  fail_unless (msg != NULL, "no message about the truncation");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &err, &debug);
  else
    gst_message_parse_warning (msg, &err, &debug);
  fail_unless (g_error_matches (err, domain, code), "%s", err->message);
  fail_unless (strstr (err->message, "truncated") != NULL, "%s",
      err->message);
  fail_unless (debug && strstr (debug, path) != NULL, "%s", debug);
  GST_INFO ("%s (%s)", err->message, debug);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
}

GST_START_TEST (test_src_store_truncated_while_read)
{
  gchar *path = test_path ("src.store");
  gchar *desc = g_strdup_printf ("memmapsrc location=\"%s\" ! "
      "fakesink name=sink", path);
  Run run = { path, 0, 0, 0 };
  GstMessage *msg;
  struct stat st;

  record (path);
  fail_unless (stat (path, &st) == 0);
  /* keep the header and the index, lose every frame past the first ones */
  run.cut_to = 3 * 115200;
  msg = play (desc, &run, GST_MESSAGE_ERROR, NULL);
  assert_truncation_message (msg, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
      path);
  /* it stopped at the cut, it did not play zeros to the end */
  fail_unless (run.frames >= CUT_AT && run.frames < N_FRAMES,
      "%u frames", run.frames);

  g_free (desc);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_sink_store_truncated_while_written)
{
  gchar *path = test_path ("sink.store");
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d ! " CAPS
      " ! tee name=t ! queue ! memmapsink name=cut location=\"%s\" t. ! "
      "queue ! fakesink name=sink", N_FRAMES, path);
  Run run = { path, 0, 0, 0 };
  GstMessage *msg;

  msg = play (desc, &run, GST_MESSAGE_ERROR, NULL);
  assert_truncation_message (msg, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_WRITE, path);

  g_free (desc);
  g_free (path);
}

GST_END_TEST;

/* I420 whose every byte is 0: what a frame read after the cut holds */
static gchar *
zero_frame_checksum (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 320 * 240 * 3 / 2, NULL);
  GstCaps *caps = gst_caps_from_string (CAPS);
  gchar *sum;

  gst_buffer_memset (buf, 0, 0, gst_buffer_get_size (buf));
  sum = frame_checksum (caps, buf);
  gst_caps_unref (caps);
  gst_buffer_unref (buf);
  return sum;
}

/* The cache's store is cut while a second pass is served from it: one
 * warning, and the pass plays on from upstream to its end: every frame
 * exactly once, in order, each the first pass's frame (checksums), but the
 * one frame handed out before the cut and read after it, which reads the
 * fault guard's zeros (docs/reliability.md: what the guard cannot do).
 * Upstream is a store of its own (memmapsrc): a stream that stays the same
 * when the cache seeks into it to take over (videotestsrc's num-buffers
 * counts from the seek). */
GST_START_TEST (test_cache_store_truncated_while_served)
{
  gchar *cache_dir = test_path ("cache");
  gchar *upstream = test_path ("upstream.store");
  gchar *desc = g_strdup_printf ("memmapsrc location=\"%s\" ! "
      "memmapcache key=trunc cache-dir=\"%s\" ! fakesink name=sink",
      upstream, cache_dir);
  Run pass1 = { NULL, 0, 0, 0 }, pass2 = { NULL, 4096, 0, 0 };
  GstMessage *msg;
  guint warnings = 0, i, zeros = 0;
  gchar *store = NULL, *zero_sum;
  GDir *dir;
  const gchar *name;

  record (upstream);
  pass1.sums = g_ptr_array_new_with_free_func (g_free);
  pass1.pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  pass2.sums = g_ptr_array_new_with_free_func (g_free);
  pass2.pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  fail_if (play (desc, &pass1, GST_MESSAGE_WARNING, NULL));
  fail_unless_equals_int (pass1.frames, N_FRAMES);
  /* (the ball moves: no two frames alike, a duplicate would show) */
  for (i = 1; i < N_FRAMES; i++)
    fail_if (g_str_equal (g_ptr_array_index (pass1.sums, i - 1),
            g_ptr_array_index (pass1.sums, i)));

  /* the one store of the one cached stream */
  dir = g_dir_open (cache_dir, 0, NULL);
  while (dir && (name = g_dir_read_name (dir)) && store == NULL) {
    gchar *entry = g_build_filename (cache_dir, name, NULL);
    gchar *s = g_build_filename (entry, "s000000.store", NULL);

    if (g_file_test (s, G_FILE_TEST_IS_REGULAR))
      store = s;
    else
      g_free (s);
    g_free (entry);
  }
  if (dir)
    g_dir_close (dir);
  fail_unless (store != NULL, "no store under %s", cache_dir);

  pass2.path = store;
  msg = play (desc, &pass2, GST_MESSAGE_WARNING, &warnings);
  assert_truncation_message (msg, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
      store);
  fail_unless_equals_int (warnings, 1);
  zero_sum = zero_frame_checksum ();
  fail_unless_equals_int (pass2.frames, N_FRAMES);
  for (i = 0; i < N_FRAMES; i++) {
    const gchar *got = g_ptr_array_index (pass2.sums, i);

    fail_unless_equals_uint64 (g_array_index (pass2.pts, GstClockTime, i),
        g_array_index (pass1.pts, GstClockTime, i));
    if (i == CUT_AT - 1 && g_str_equal (got, zero_sum)) {
      zeros++;                  /* handed out before the cut, read after */
      continue;
    }
    fail_unless_equals_string (got, g_ptr_array_index (pass1.sums, i));
  }
  g_print ("cache store truncated while served: %u frames, each the first "
      "pass's but %u read as zeros after the cut\n", N_FRAMES, zeros);
  g_free (zero_sum);
  g_ptr_array_unref (pass1.sums);
  g_array_unref (pass1.pts);
  g_ptr_array_unref (pass2.sums);
  g_array_unref (pass2.pts);
  g_free (upstream);

  g_free (store);
  g_free (desc);
  g_free (cache_dir);
}

GST_END_TEST;

static Suite *
truncation_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("truncation", setup, teardown, &tc);

  /* valgrind does not pass a SIGBUS of a truncated mapping on to the
   * program's handler (it reports the access and ends the process): these
   * run in the normal and the sanitizer lanes only */
  if (g_getenv ("MEMMAP_UNDER_VALGRIND"))
    return s;
  tcase_add_test (tc, test_src_store_truncated_while_read);
  tcase_add_test (tc, test_sink_store_truncated_while_written);
  tcase_add_test (tc, test_cache_store_truncated_while_served);
  return s;
}

GST_CHECK_MAIN (truncation);
