/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the frame store reader (docs/store-format.md): the
 * input bytes are a store file. It is opened with
 * gst_memmap_store_reader_open() on a private engine, and every frame the
 * index offers is read (entry, zero-copy buffer, every byte of the frame
 * touched, every plane row touched through the video meta), then again
 * through a GstMemmapStoreSession (the ring-lease reader of memmapsrc).
 * Whatever the bytes, this must not crash, hang, leak, or raise a GLib
 * critical or warning.
 *
 * Built with -fsanitize=fuzzer when meson is configured with
 * -Dfuzzing=true (clang); tests/fuzz/run-fuzzers.sh runs it. The same file
 * is compiled without libFuzzer into tests/fuzz/replay.c's gst-check test,
 * which feeds it every seed of corpus/store-reader/ and every file of
 * regressions/store-reader/ in each normal `meson test`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-common.h"

/* frames read per input: a hostile ring may claim 2^62 committed frames */
#define MAX_FRAMES_PER_INPUT 256

/* Writes @data to a new anonymous file; returns its fd and a path that
 * names it (/proc/self/fd/N), or -1. */
static gint
input_to_file (const guint8 * data, gsize size, gchar ** path)
{
  gsize done = 0;
  gint fd;

  fd = memfd_create ("fuzz-store", MFD_CLOEXEC);
  if (fd < 0) {
    /* no memfd: an unlinked temporary file */
    gchar *tmpl = g_build_filename (g_get_tmp_dir (), "fuzz-store-XXXXXX",
        NULL);

    fd = g_mkstemp_full (tmpl, O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
      unlink (tmpl);
    g_free (tmpl);
    if (fd < 0)
      return -1;
  }
  while (done < size) {
    ssize_t n = write (fd, data + done, size - done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      close (fd);
      return -1;
    }
    done += (gsize) n;
  }
  *path = g_strdup_printf ("/proc/self/fd/%d", fd);
  return fd;
}

/* Reads every byte of the buffer's memory, and the first and last byte of
 * every row of every plane through its video meta. */
static guint
touch_buffer (GstBuffer * buf, const GstVideoInfo * layout)
{
  GstVideoFrame frame;
  GstMapInfo map;
  guint sum = 0;
  gsize i;

  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    for (i = 0; i < map.size; i++)
      sum += map.data[i];
    gst_buffer_unmap (buf, &map);
  } else {
    FUZZ_FAIL ("a buffer of the store cannot be mapped");
  }

  if (gst_video_frame_map (&frame, layout, buf, GST_MAP_READ)) {
    guint p;

    for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
      const guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
      gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
      gint comps[GST_VIDEO_MAX_COMPONENTS];
      guint rows = 0, y;

      /* as many rows as the plane's first component has: what a consumer
       * of the buffer reads, up to the end of each row's stride */
      gst_video_format_info_component (frame.info.finfo, p, comps);
      if (comps[0] >= 0)
        rows = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comps[0]);
      for (y = 0; y < rows; y++)
        sum += d[(gsize) y * stride] + d[(gsize) y * stride + stride - 1];
    }
    gst_video_frame_unmap (&frame);
  } else {
    FUZZ_FAIL ("a frame of the store does not map as its layout");
  }
  return sum;
}

static void
read_all (GstMemmapStoreReader * reader, GstMemmapStoreSession * session)
{
  const GstVideoInfo *layout = gst_memmap_store_reader_get_layout (reader);
  guint64 first = gst_memmap_store_reader_get_first_frame (reader);
  guint64 n = gst_memmap_store_reader_get_committed (reader);
  guint64 f;
  volatile guint sum = 0;

  for (f = first; f < n && f - first < MAX_FRAMES_PER_INPUT; f++) {
    GstMemmapStoreEntry entry;
    GError *err = NULL;
    GstBuffer *buf;
    gboolean copied = FALSE;

    if (!gst_memmap_store_reader_get_entry (reader, f, &entry, &err)) {
      fuzz_check_error (err);
      g_clear_error (&err);
      continue;
    }
    if (session)
      buf = gst_memmap_store_session_get_buffer (session, reader, NULL, f,
          &copied, &err);
    else
      buf = gst_memmap_store_reader_get_buffer (reader, NULL, f, &err);
    if (buf == NULL) {
      fuzz_check_error (err);
      g_clear_error (&err);
      continue;
    }
    if (gst_buffer_get_size (buf) != GST_VIDEO_INFO_SIZE (layout))
      FUZZ_FAIL ("frame %" G_GUINT64_FORMAT ": buffer of %" G_GSIZE_FORMAT
          " bytes for frames of %" G_GSIZE_FORMAT, f,
          gst_buffer_get_size (buf), GST_VIDEO_INFO_SIZE (layout));
    sum += touch_buffer (buf, layout);
    gst_buffer_unref (buf);
  }
  (void) sum;
  /* one frame out of range each way */
  {
    GstMemmapStoreEntry entry;
    GError *err = NULL;

    if (gst_memmap_store_reader_get_entry (reader, n, &entry, &err))
      FUZZ_FAIL ("frame %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " committed was read", n, n);
    fuzz_check_error (err);
    g_clear_error (&err);
    if (first > 0) {
      if (gst_memmap_store_reader_get_entry (reader, first - 1, &entry, &err))
        g_debug ("frame before the first was still there");
      else
        fuzz_check_error (err);
      g_clear_error (&err);
    }
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader;
  GError *err = NULL;
  gchar *path = NULL;
  gint fd;

  fuzz_init ();

  fd = input_to_file (data, size, &path);
  if (fd < 0)
    return 0;

  engine = gst_memmap_engine_new ();
  reader = gst_memmap_store_reader_open (engine, path, &err);
  if (reader == NULL) {
    fuzz_check_error (err);
    g_clear_error (&err);
  } else {
    GstMemmapStoreSession *session;
    GstCaps *caps = gst_memmap_store_reader_get_caps (reader);

    if (caps == NULL || !gst_caps_is_fixed (caps))
      FUZZ_FAIL ("the reader accepted caps that are not fixed");
    gst_caps_unref (caps);
    (void) gst_memmap_store_reader_is_closed (reader);
    (void) gst_memmap_store_reader_get_generation (reader);
    (void) gst_memmap_store_reader_get_max_frames (reader);
    (void) gst_memmap_store_reader_get_mode (reader);

    read_all (reader, NULL);

    session = gst_memmap_store_session_new (reader, &err);
    if (session == NULL) {
      fuzz_check_error (err);
      g_clear_error (&err);
    } else {
      read_all (reader, session);
      gst_memmap_store_session_unref (session);
    }
    gst_memmap_store_reader_unref (reader);
  }
  gst_memmap_engine_clear_all (engine);
  gst_object_unref (engine);
  close (fd);
  g_free (path);
  return 0;
}
