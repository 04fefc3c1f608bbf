/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap info STORE: the header, layout and frames of a store (docs/guide.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <stdio.h>
#include <string.h>

gint
cmd_info (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader = NULL;
  GstStructure *info = NULL;
  GstMemmapStoreEntry first_e, last_e;
  GError *err = NULL;
  const gchar *path;
  guint64 committed = 0, first = 0, max_frames = 0, creation = 0, v;
  guint64 frame_size = 0, slot_stride = 0, file_size = 0, disk = 0;
  guint64 chunks = 0, chunk_stride = 0, generation = 0;
  guint width = 0, height = 0, pid = 0, vmaj = 0, vmin = 0;
  gint fps_n = 0, fps_d = 1;
  gboolean running = FALSE;
  gchar *s1, *s2, *s3;
  const gchar *mode, *state;
  gint ret = EXIT_FAIL;

  ctx = g_option_context_new ("STORE - describe a frame store");
  g_option_context_set_summary (ctx,
      "Prints what the store's header says: caps, frames, duration, mode,\n"
      "the writer's state and the sizes. The header is validated first.");
  if (!parse_options (ctx, &argc, &argv)) {
    g_option_context_free (ctx);
    return EXIT_USAGE;
  }
  g_option_context_free (ctx);
  if (argc != 2) {
    fail ("expected one STORE (try --help)");
    return EXIT_USAGE;
  }
  path = argv[1];

  engine = gst_memmap_engine_get_default ();
  reader = gst_memmap_store_reader_open (engine, path, &err);
  if (reader == NULL)
    goto failed;
  info = gst_memmap_store_reader_get_info (reader, &err);
  if (info == NULL)
    goto failed;

  gst_structure_get (info, "committed", G_TYPE_UINT64, &committed,
      "first-frame", G_TYPE_UINT64, &first,
      "max-frames", G_TYPE_UINT64, &max_frames,
      "creation-time", G_TYPE_UINT64, &creation,
      "frame-size", G_TYPE_UINT64, &frame_size,
      "slot-stride", G_TYPE_UINT64, &slot_stride,
      "file-size", G_TYPE_UINT64, &file_size,
      "disk-bytes", G_TYPE_UINT64, &disk,
      "chunks-reserved", G_TYPE_UINT64, &chunks,
      "chunk-stride", G_TYPE_UINT64, &chunk_stride,
      "generation", G_TYPE_UINT64, &generation,
      "width", G_TYPE_UINT, &width, "height", G_TYPE_UINT, &height,
      "writer-pid", G_TYPE_UINT, &pid,
      "version-major", G_TYPE_UINT, &vmaj,
      "version-minor", G_TYPE_UINT, &vmin,
      "writer-running", G_TYPE_BOOLEAN, &running, NULL);
  gst_structure_get_fraction (info, "framerate", &fps_n, &fps_d);
  mode = gst_structure_get_string (info, "mode");
  state = gst_structure_get_string (info, "state");

  g_print ("store:       %s\n", path);
  {
    gboolean sums = FALSE;

    gst_structure_get_boolean (info, "checksums", &sums);
    g_print ("format:      frame store %u.%u%s\n", vmaj, vmin,
        sums ? ", with a checksum of every frame" : "");
  }
  g_print ("caps:        %s\n", gst_structure_get_string (info, "caps"));
  if (fps_n > 0)
    g_print ("video:       %s %ux%u at %d/%d fps\n",
        gst_structure_get_string (info, "format"), width, height, fps_n,
        fps_d);
  else
    g_print ("video:       %s %ux%u, variable frame rate\n",
        gst_structure_get_string (info, "format"), width, height);

  if (g_strcmp0 (mode, "ring") == 0)
    g_print ("mode:        ring of the last %" G_GUINT64_FORMAT " frames\n",
        max_frames);
  else if (max_frames > 0)
    g_print ("mode:        append, at most %" G_GUINT64_FORMAT " frames\n",
        max_frames);
  else
    g_print ("mode:        append\n");

  if (g_strcmp0 (state, "closed") == 0)
    g_print ("writer:      closed cleanly (last writer pid %u)\n", pid);
  else if (g_strcmp0 (state, "damaged") == 0)
    g_print ("writer:      damaged: the writer (pid %u) found the file "
        "truncated by another program and stopped; frames may hold zeros "
        "(verify fails)\n", pid);
  else if (running)
    g_print ("writer:      open, being written (writer pid %u)\n", pid);
  else
    g_print ("writer:      open, not closed cleanly: writer pid %u is gone "
        "(every committed frame is intact)\n", pid);

  if (committed > first)
    g_print ("frames:      %" G_GUINT64_FORMAT " (frames %" G_GUINT64_FORMAT
        "..%" G_GUINT64_FORMAT ")\n", committed - first, first,
        committed - 1);
  else
    g_print ("frames:      0\n");
  if (first > 0)
    g_print ("committed:   %" G_GUINT64_FORMAT " frames ever, the first %"
        G_GUINT64_FORMAT " overwritten\n", committed, first);

  if (committed > first &&
      gst_memmap_store_reader_get_entry (reader, first, &first_e, NULL) &&
      gst_memmap_store_reader_get_entry (reader, committed - 1, &last_e,
          NULL) && GST_CLOCK_TIME_IS_VALID (first_e.pts) &&
      GST_CLOCK_TIME_IS_VALID (last_e.pts)) {
    GstClockTime end = last_e.pts;

    if (GST_CLOCK_TIME_IS_VALID (last_e.duration))
      end += last_e.duration;
    s1 = format_time (end >= first_e.pts ? end - first_e.pts :
        GST_CLOCK_TIME_NONE);
    s2 = format_time (first_e.pts);
    s3 = format_time (end);
    g_print ("duration:    %s (pts %s to %s)\n", s1, s2, s3);
    g_free (s1);
    g_free (s2);
    g_free (s3);
  } else if (committed > first) {
    g_print ("duration:    unknown (no timestamps)\n");
  }

  s1 = format_bytes (frame_size);
  s2 = format_bytes (slot_stride);
  g_print ("frame size:  %s, in slots of %s\n", s1, s2);
  g_free (s1);
  g_free (s2);
  s1 = format_bytes (file_size);
  s2 = format_bytes (disk);
  g_print ("file size:   %s, %s on disk\n", s1, s2);
  g_free (s1);
  g_free (s2);
  s1 = format_bytes (chunk_stride);
  g_print ("reserved:    %" G_GUINT64_FORMAT " chunk%s of %s\n", chunks,
      chunks == 1 ? "" : "s", s1);
  g_free (s1);
  if (creation > 0) {
    GDateTime *dt = g_date_time_new_from_unix_utc (creation / G_USEC_PER_SEC);

    if (dt) {
      GDateTime *local = g_date_time_to_local (dt);

      s1 = g_date_time_format (local, "%Y-%m-%d %H:%M:%S %Z");
      g_print ("created:     %s\n", s1);
      g_free (s1);
      g_date_time_unref (local);
      g_date_time_unref (dt);
    }
  }
  v = generation;
  if (v > 1)
    g_print ("generation:  %" G_GUINT64_FORMAT " (reused in place)\n", v);
  ret = EXIT_OK;
  goto done;

failed:
  fail ("%s", err->message);
  g_clear_error (&err);
done:
  if (info)
    gst_structure_free (info);
  gst_memmap_store_reader_free (reader);
  return ret;
}
