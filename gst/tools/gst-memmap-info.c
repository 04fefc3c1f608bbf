/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap info STORE: the header, layout and frames of a store
 * (docs/guide.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <stdio.h>
#include <string.h>

/* what gst_memmap_store_reader_get_info() says, as info prints it */
typedef struct
{
  guint64 committed, first, max_frames, creation;
  guint64 frame_size, slot_stride, file_size, disk;
  guint64 chunks, chunk_stride, generation;
  guint width, height, pid, vmaj, vmin;
  gint fps_n, fps_d;
  gboolean running;
  const gchar *mode, *state;
} InfoFields;

static void
info_fields_get (const GstStructure * info, InfoFields * f)
{
  memset (f, 0, sizeof (*f));
  f->fps_d = 1;
  gst_structure_get (info, "committed", G_TYPE_UINT64, &f->committed,
      "first-frame", G_TYPE_UINT64, &f->first,
      "max-frames", G_TYPE_UINT64, &f->max_frames,
      "creation-time", G_TYPE_UINT64, &f->creation,
      "frame-size", G_TYPE_UINT64, &f->frame_size,
      "slot-stride", G_TYPE_UINT64, &f->slot_stride,
      "file-size", G_TYPE_UINT64, &f->file_size,
      "disk-bytes", G_TYPE_UINT64, &f->disk,
      "chunks-reserved", G_TYPE_UINT64, &f->chunks,
      "chunk-stride", G_TYPE_UINT64, &f->chunk_stride,
      "generation", G_TYPE_UINT64, &f->generation,
      "width", G_TYPE_UINT, &f->width, "height", G_TYPE_UINT, &f->height,
      "writer-pid", G_TYPE_UINT, &f->pid,
      "version-major", G_TYPE_UINT, &f->vmaj,
      "version-minor", G_TYPE_UINT, &f->vmin,
      "writer-running", G_TYPE_BOOLEAN, &f->running, NULL);
  gst_structure_get_fraction (info, "framerate", &f->fps_n, &f->fps_d);
  f->mode = gst_structure_get_string (info, "mode");
  f->state = gst_structure_get_string (info, "state");
}

/* store, format, caps, video, mode and writer lines */
static void
print_stream (const GstStructure * info, const InfoFields * f,
    const gchar * path)
{
  g_print ("store:       %s\n", path);
  {
    gboolean sums = FALSE;

    gst_structure_get_boolean (info, "checksums", &sums);
    g_print ("format:      frame store %u.%u%s\n", f->vmaj, f->vmin,
        sums ? ", with a checksum of every frame" : "");
  }
  g_print ("caps:        %s\n", gst_structure_get_string (info, "caps"));
  if (f->fps_n > 0)
    g_print ("video:       %s %ux%u at %d/%d fps\n",
        gst_structure_get_string (info, "format"), f->width, f->height,
        f->fps_n, f->fps_d);
  else
    g_print ("video:       %s %ux%u, variable frame rate\n",
        gst_structure_get_string (info, "format"), f->width, f->height);

  if (g_strcmp0 (f->mode, "ring") == 0)
    g_print ("mode:        ring of the last %" G_GUINT64_FORMAT " frames\n",
        f->max_frames);
  else if (f->max_frames > 0)
    g_print ("mode:        append, at most %" G_GUINT64_FORMAT " frames\n",
        f->max_frames);
  else
    g_print ("mode:        append\n");

  if (g_strcmp0 (f->state, "closed") == 0)
    g_print ("writer:      closed cleanly (last writer pid %u)\n", f->pid);
  else if (g_strcmp0 (f->state, "damaged") == 0)
    g_print ("writer:      damaged: the writer (pid %u) found the file "
        "truncated by another program and stopped; frames may hold zeros "
        "(verify fails)\n", f->pid);
  else if (f->running)
    g_print ("writer:      open, being written (writer pid %u)\n", f->pid);
  else
    g_print ("writer:      open, not closed cleanly: writer pid %u is gone "
        "(every committed frame is intact)\n", f->pid);
}

/* Frames missing by the timestamps: where a frame starts more than half a
 * frame after the previous frame's end, the frames of the previous one's
 * duration that fit in between. A store received over a lossy link
 * (memmaprtpframefilter drops what did not arrive whole) says so here. */
static void
print_gaps (GstMemmapStoreReader * reader, const InfoFields * f)
{
  GstMemmapStoreEntry prev, e;
  guint64 i, gaps = 0, missing = 0;

  if (f->committed <= f->first + 1 ||
      !gst_memmap_store_reader_get_entry (reader, f->first, &prev, NULL))
    return;
  for (i = f->first + 1; i < f->committed; i++) {
    if (!gst_memmap_store_reader_get_entry (reader, i, &e, NULL))
      return;
    if (GST_CLOCK_TIME_IS_VALID (prev.pts) && GST_CLOCK_TIME_IS_VALID (e.pts)
        && GST_CLOCK_TIME_IS_VALID (prev.duration) && prev.duration > 0 &&
        e.pts > prev.pts + prev.duration + prev.duration / 2) {
      gaps++;
      missing += (e.pts - prev.pts + prev.duration / 2) / prev.duration - 1;
    }
    prev = e;
  }
  if (gaps > 0)
    g_print ("gaps:        %" G_GUINT64_FORMAT " frame%s missing in %"
        G_GUINT64_FORMAT " gap%s of the timestamps\n", missing,
        missing == 1 ? "" : "s", gaps, gaps == 1 ? "" : "s");
}

/* frames, committed and duration lines */
static void
print_frames (GstMemmapStoreReader * reader, const InfoFields * f)
{
  GstMemmapStoreEntry first_e, last_e;
  gchar *s1, *s2, *s3;

  if (f->committed > f->first)
    g_print ("frames:      %" G_GUINT64_FORMAT " (frames %" G_GUINT64_FORMAT
        "..%" G_GUINT64_FORMAT ")\n", f->committed - f->first, f->first,
        f->committed - 1);
  else
    g_print ("frames:      0\n");
  if (f->first > 0)
    g_print ("committed:   %" G_GUINT64_FORMAT " frames ever, the first %"
        G_GUINT64_FORMAT " overwritten\n", f->committed, f->first);

  if (f->committed > f->first &&
      gst_memmap_store_reader_get_entry (reader, f->first, &first_e, NULL) &&
      gst_memmap_store_reader_get_entry (reader, f->committed - 1, &last_e,
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
  } else if (f->committed > f->first) {
    g_print ("duration:    unknown (no timestamps)\n");
  }
}

/* frame size, file size, reserved, created and generation lines */
static void
print_sizes (const InfoFields * f)
{
  guint64 v;
  gchar *s1, *s2;

  s1 = format_bytes (f->frame_size);
  s2 = format_bytes (f->slot_stride);
  g_print ("frame size:  %s, in slots of %s\n", s1, s2);
  g_free (s1);
  g_free (s2);
  s1 = format_bytes (f->file_size);
  s2 = format_bytes (f->disk);
  g_print ("file size:   %s, %s on disk\n", s1, s2);
  g_free (s1);
  g_free (s2);
  s1 = format_bytes (f->chunk_stride);
  g_print ("reserved:    %" G_GUINT64_FORMAT " chunk%s of %s\n", f->chunks,
      f->chunks == 1 ? "" : "s", s1);
  g_free (s1);
  if (f->creation > 0) {
    GDateTime *dt =
        g_date_time_new_from_unix_utc (f->creation / G_USEC_PER_SEC);

    if (dt) {
      GDateTime *local = g_date_time_to_local (dt);

      s1 = g_date_time_format (local, "%Y-%m-%d %H:%M:%S %Z");
      g_print ("created:     %s\n", s1);
      g_free (s1);
      g_date_time_unref (local);
      g_date_time_unref (dt);
    }
  }
  v = f->generation;
  if (v > 1)
    g_print ("generation:  %" G_GUINT64_FORMAT " (reused in place)\n", v);
}

gint
cmd_info (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader = NULL;
  GstStructure *info = NULL;
  InfoFields f;
  GError *err = NULL;
  const gchar *path;
  gint ret = EXIT_FAIL;

  ctx = g_option_context_new ("STORE - describe a frame store");
  g_option_context_set_summary (ctx,
      "Prints what the store's header says: caps, frames, duration, mode,\n"
      "the writer's state and the sizes. The header is validated first.");
  path = parse_store_command (ctx, &argc, &argv);
  if (path == NULL)
    return EXIT_USAGE;

  engine = gst_memmap_engine_get_default ();
  reader = gst_memmap_store_reader_open (engine, path, &err);
  if (reader == NULL)
    goto failed;
  info = gst_memmap_store_reader_get_info (reader, &err);
  if (info == NULL)
    goto failed;

  info_fields_get (info, &f);
  print_stream (info, &f, path);
  print_frames (reader, &f);
  print_gaps (reader, &f);
  print_sizes (&f);
  ret = EXIT_OK;
  goto done;

failed:
  fail ("%s", err->message);
  g_clear_error (&err);
done:
  if (info)
    gst_structure_free (info);
  gst_memmap_store_reader_unref (reader);
  return ret;
}
