/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the tests of gst_memmap_map_video_frames() (frames.c, frames_cold.c,
 * frameswrite.c) share: clips made by gst-launch-1.0 in another process,
 * a plain decode of a clip with a handoff callback (the tests' oracle),
 * fresh cache directories in the test's `tmpdir`, and the stats of a
 * GstMemmapFrames.
 *
 * Include it after ../memmap-test-util.h, from the test's only source file.
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/memmap/memmap.h>

#include "../memmap-test-util.h"

/* gst-launch-1.0 -q @desc in another process: the test program's parent
 * process must start no GStreamer thread before check forks the tests (a
 * forked child would wait for the threads of GLib's pools that it does not
 * have). Fails the test if it does not exit 0. */
static inline void
frames_test_spawn_launch (const gchar * desc)
{
  gchar *argv[] = { (gchar *) "/bin/sh", (gchar *) "-c", NULL, NULL };
  gchar *err = NULL;
  GError *error = NULL;
  gint status = -1;

  argv[2] = g_strdup_printf ("GST_DEBUG= GST_TRACERS= gst-launch-1.0 -q %s",
      desc);
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
          NULL, NULL, NULL, &err, &status, &error), "%s",
      error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s: %s", argv[2],
      err);
  g_free (argv[2]);
  g_free (err);
}

/* An mp4 clip at @path of @n_frames I420 320x240 frames at 30/1 of
 * videotestsrc's @pattern, x264 with two B-frames and a keyframe every
 * @gop frames (frames_test_spawn_launch()). */
static inline void
frames_test_make_clip (const gchar * path, guint n_frames,
    const gchar * pattern, guint gop)
{
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%u pattern=%s ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
      "x264enc bframes=2 key-int-max=%u ! mp4mux ! filesink location=\"%s\"",
      n_frames, pattern, gop, path);

  frames_test_spawn_launch (desc);
  g_free (desc);
}

/* Decodes @file in this process (decodebin ! videoconvert) to
 * video/x-raw@caps_tail (such as ",format=GRAY8", or "") and calls
 * @on_handoff (fakesink's "handoff" signal) with @user_data for each frame;
 * fails the test unless the decode reaches its EOS (run_to_eos()). */
static inline void
frames_test_decode_with_handoffs (const gchar * file, const gchar * caps_tail,
    GCallback on_handoff, gpointer user_data)
{
  GError *error = NULL;
  GstElement *pipeline, *sink;
  gchar *desc;

  desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "videoconvert ! video/x-raw%s ! fakesink name=sink sync=false "
      "signal-handoffs=true", file, caps_tail);
  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  g_free (desc);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", on_handoff, user_data);
  gst_object_unref (sink);
  run_to_eos (pipeline);
  gst_object_unref (pipeline);
}

/* A fresh cache directory @name in `tmpdir` for one test (whatever an
 * earlier test left there removed). Free with g_free(). */
static inline gchar *
frames_test_new_cache_dir (const gchar * name)
{
  gchar *dir = test_path (name);

  memmap_test_remove_tree (dir);
  return dir;
}

/* The guint64 @field of gst_memmap_frames_get_stats() of @frames; fails
 * the test if there is none. */
static inline guint64
frames_test_stat_u64 (GstMemmapFrames * frames, const gchar * field)
{
  GstStructure *s = gst_memmap_frames_get_stats (frames);
  guint64 v = stats_get (s, field);

  gst_structure_free (s);
  return v;
}

/* The boolean @field of gst_memmap_frames_get_stats() of @frames; fails
 * the test if there is none. */
static inline gboolean
frames_test_stat_bool (GstMemmapFrames * frames, const gchar * field)
{
  GstStructure *s = gst_memmap_frames_get_stats (frames);
  gboolean v = FALSE;

  fail_unless (gst_structure_get_boolean (s, field, &v), "no %s in %"
      GST_PTR_FORMAT, field, s);
  gst_structure_free (s);
  return v;
}
