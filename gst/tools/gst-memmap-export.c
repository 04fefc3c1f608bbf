/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap export STORE --frame N -o FRAME.png: one frame of a store as
 * a PNG. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <gst/app/gstappsrc.h>

#include <string.h>

gint
cmd_export (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader = NULL;
  GstElement *pipeline = NULL, *src, *convert, *enc, *sink;
  GstBuffer *buf;
  GstCaps *caps;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gchar *out = NULL, *frame_str = NULL;
  const gchar *path;
  guint64 frame = 0, committed, first;
  gint ret = EXIT_USAGE;
  GOptionEntry entries[] = {
    {"frame", 'f', 0, G_OPTION_ARG_STRING, &frame_str,
        "The frame number to export (default 0)", "N"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
        "The PNG file to write", "FILE.png"},
    {NULL}
  };

  ctx = g_option_context_new ("STORE -o FILE.png - write one frame as a "
      "PNG image");
  g_option_context_set_summary (ctx,
      "Reads frame N of STORE (zero-copy) and encodes it with videoconvert\n"
      "and pngenc into FILE.png.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  path = parse_store_command (ctx, &argc, &argv);
  if (path == NULL)
    goto out;
  if (out == NULL) {
    fail ("-o FILE.png is required (try --help)");
    goto out;
  }
  if (frame_str && !parse_u64 ("--frame", frame_str, &frame))
    goto out;
  ret = EXIT_FAIL;

  engine = gst_memmap_engine_get_default ();
  reader = gst_memmap_store_reader_open (engine, path, &err);
  if (reader == NULL)
    goto failed;
  committed = gst_memmap_store_reader_get_committed (reader);
  first = gst_memmap_store_reader_get_first_frame (reader);
  if (frame < first || frame >= committed) {
    if (committed > first)
      fail ("'%s' holds frames %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
          ", not frame %" G_GUINT64_FORMAT, path, first, committed - 1, frame);
    else
      fail ("'%s' holds no frame", path);
    goto out;
  }
  buf = gst_memmap_store_reader_get_buffer (reader, NULL, frame, &err);
  if (buf == NULL)
    goto failed;
  /* one still image: no timestamps to honour */
  buf = gst_buffer_make_writable (buf);
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_DISCONT);

  src = make_element ("appsrc", "gstreamer1.0-plugins-base");
  convert = make_element ("videoconvert", "gstreamer1.0-plugins-base");
  enc = make_element ("pngenc", "gstreamer1.0-plugins-good");
  sink = make_element ("filesink", "GStreamer core");
  if (!src || !convert || !enc || !sink) {
    gst_clear_object (&src);
    gst_clear_object (&convert);
    gst_clear_object (&enc);
    gst_clear_object (&sink);
    gst_buffer_unref (buf);
    goto out;
  }
  pipeline = gst_pipeline_new ("export");
  caps = gst_memmap_store_reader_get_caps (reader);
  g_object_set (src, "caps", caps, "format", GST_FORMAT_TIME, NULL);
  gst_caps_unref (caps);
  g_object_set (enc, "snapshot", TRUE, NULL);
  g_object_set (sink, "location", out, NULL);
  gst_bin_add_many (GST_BIN (pipeline), src, convert, enc, sink, NULL);
  gst_element_link_many (src, convert, enc, sink, NULL);

  gst_app_src_push_buffer (GST_APP_SRC (src), buf);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &err, NULL);
    gst_message_unref (msg);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    goto failed;
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  ret = EXIT_OK;
  goto out;

failed:
  fail ("%s", err->message);
  g_clear_error (&err);
out:
  if (pipeline)
    gst_object_unref (pipeline);
  gst_memmap_store_reader_unref (reader);
  g_free (out);
  g_free (frame_str);
  return ret;
}
