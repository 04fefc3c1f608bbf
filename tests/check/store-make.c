/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store-make: writes a frame store whose frames hold the deterministic
 * pattern of store-pattern.h. Used by tests/check/store_numpy.py and by the
 * crash and disk-full cases of tests/check/libs/store.c, which need a real
 * writer process.
 *
 *   store-make PATH FORMAT WIDTH HEIGHT N_FRAMES [options]
 *     --ring MAX          ring store of MAX frames (default: append)
 *     --max-frames N      append store limit
 *     --stride-align N    align every stride to N bytes (custom layout)
 *     --pad-rows N        N rows of padding above the picture
 *     --chunk-bytes N     append chunk target size
 *     --forever           ignore N_FRAMES, write until killed
 *     --seconds S         ignore N_FRAMES, write for S seconds, then close
 *     --fsize-limit N     RLIMIT_FSIZE of N bytes (SIGXFSZ ignored); write
 *                         until the store reports NO_SPACE, then exit 0
 *     --no-close          exit without closing the store
 *     --report FILE       after every commit, store the writer's committed
 *                         count in FILE (created, mapped shared: the first 8
 *                         bytes, native endianness), so that a test that
 *                         kills this process knows what it had committed
 *     --stamp             stamp every row with the frame number
 *                         (store_fill_frame_stamped()), so that a frame
 *                         tells itself from frame f + 256
 *
 * Prints "ready" once the store exists, and "committed N" at the end.
 * Exit status: 0 on success, 1 on a usage error, 2 on a store error, 3 if
 * --fsize-limit did not end in GST_MEMMAP_ERROR_NO_SPACE.
 */
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "store-pattern.h"

static gboolean stamp = FALSE;

static gboolean
write_frame (GstMemmapStoreWriter * writer, const GstVideoInfo * layout,
    guint64 f, GError ** error)
{
  GstMemory *mem;
  GstMapInfo map;
  guint64 slot;
  gboolean ok;

  if (!gst_memmap_store_writer_acquire_slot (writer, &slot, error))
    return FALSE;
  mem = gst_memmap_store_writer_get_slot_memory (writer, NULL, slot, error);
  if (mem == NULL) {
    gst_memmap_store_writer_release_slot (writer, slot);
    return FALSE;
  }
  if (!gst_memory_map (mem, &map, GST_MAP_WRITE)) {
    gst_memory_unref (mem);
    gst_memmap_store_writer_release_slot (writer, slot);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO, "map failed");
    return FALSE;
  }
  if (stamp)
    store_fill_frame_stamped (map.data, layout, f);
  else
    store_fill_frame (map.data, layout, f);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);

  ok = gst_memmap_store_writer_commit (writer, slot, f * GST_MSECOND,
      GST_MSECOND, f == 0 ? GST_MEMMAP_STORE_FRAME_DISCONT : 0, error);
  if (!ok)
    gst_memmap_store_writer_release_slot (writer, slot);
  return ok;
}

int
main (int argc, char **argv)
{
  GstMemmapStoreMode mode = GST_MEMMAP_STORE_MODE_APPEND;
  guint64 max_frames = 0, chunk_bytes = 0, fsize_limit = 0, seconds = 0;
  guint64 n_frames, f;
  gint64 end = 0;
  guint stride_align = 0, pad_rows = 0, width, height;
  gboolean forever = FALSE, no_close = FALSE;
  const gchar *report_path = NULL;
  guint64 *report = NULL;
  GstVideoFormat format;
  GstVideoInfo layout;
  GstMemmapEngine *engine;
  GstMemmapStoreWriter *writer;
  GstCaps *caps;
  GError *error = NULL;
  int i, ret = 0;

  if (argc < 6)
    goto usage;
  for (i = 6; i < argc; i++) {
    if (!strcmp (argv[i], "--forever")) {
      forever = TRUE;
    } else if (!strcmp (argv[i], "--no-close")) {
      no_close = TRUE;
    } else if (!strcmp (argv[i], "--stamp")) {
      stamp = TRUE;
    } else if (!strcmp (argv[i], "--report") && i + 1 < argc) {
      report_path = argv[++i];
    } else if (i + 1 < argc) {
      guint64 v = g_ascii_strtoull (argv[i + 1], NULL, 10);

      if (!strcmp (argv[i], "--ring")) {
        mode = GST_MEMMAP_STORE_MODE_RING;
        max_frames = v;
      } else if (!strcmp (argv[i], "--max-frames")) {
        max_frames = v;
      } else if (!strcmp (argv[i], "--stride-align")) {
        stride_align = v;
      } else if (!strcmp (argv[i], "--pad-rows")) {
        pad_rows = v;
      } else if (!strcmp (argv[i], "--chunk-bytes")) {
        chunk_bytes = v;
      } else if (!strcmp (argv[i], "--fsize-limit")) {
        fsize_limit = v;
      } else if (!strcmp (argv[i], "--seconds")) {
        seconds = v;
      } else {
        goto usage;
      }
      i++;
    } else {
      goto usage;
    }
  }

  gst_init (NULL, NULL);
  gst_memmap_init ();

  format = gst_video_format_from_string (argv[2]);
  width = atoi (argv[3]);
  height = atoi (argv[4]);
  n_frames = g_ascii_strtoull (argv[5], NULL, 10);
  if (format == GST_VIDEO_FORMAT_UNKNOWN || width == 0 || height == 0)
    goto usage;
  if (!store_make_layout (&layout, format, width, height, stride_align,
          pad_rows))
    goto usage;

  if (fsize_limit > 0) {
    struct rlimit rl = { fsize_limit, fsize_limit };

    signal (SIGXFSZ, SIG_IGN);
    if (setrlimit (RLIMIT_FSIZE, &rl) < 0) {
      perror ("setrlimit");
      return 1;
    }
    forever = TRUE;
  }

  if (report_path != NULL) {
    int fd = open (report_path, O_RDWR | O_CREAT, 0600);

    if (fd < 0 || ftruncate (fd, sizeof (guint64)) < 0) {
      perror (report_path);
      return 1;
    }
    report = mmap (NULL, sizeof (guint64), PROT_READ | PROT_WRITE, MAP_SHARED,
        fd, 0);
    close (fd);
    if (report == MAP_FAILED) {
      perror ("mmap");
      return 1;
    }
    *report = 0;
  }

  {
    GstVideoInfo info;

    gst_video_info_set_format (&info, format, width, height);
    GST_VIDEO_INFO_FPS_N (&info) = 30;
    GST_VIDEO_INFO_FPS_D (&info) = 1;
    caps = gst_video_info_to_caps (&info);
  }

  engine = gst_memmap_engine_new ();
  writer = gst_memmap_store_writer_new_full (engine, argv[1], caps, &layout,
      mode, max_frames, 0, chunk_bytes, GST_MEMMAP_STORE_WRITER_FLAG_NONE,
      &error);
  gst_caps_unref (caps);
  if (writer == NULL)
    goto store_error;
  printf ("ready\n");
  fflush (stdout);

  if (seconds > 0)
    end = g_get_monotonic_time () + (gint64) seconds *G_USEC_PER_SEC;
  for (f = 0; forever || (end ? g_get_monotonic_time () < end :
          f < n_frames); f++) {
    if (!write_frame (writer, &layout, f, &error)) {
      if (fsize_limit > 0) {
        printf ("committed %" G_GUINT64_FORMAT " code %d\n",
            gst_memmap_store_writer_get_committed (writer), error->code);
        fprintf (stderr, "store-make: %s\n", error->message);
        ret = g_error_matches (error, GST_MEMMAP_ERROR,
            GST_MEMMAP_ERROR_NO_SPACE) ? 0 : 3;
        g_clear_error (&error);
        goto done;
      }
      goto store_error;
    }
    /* the commit returned: what a SIGKILL from now on must not lose (a
     * kill before this store leaves the count one behind the store's) */
    if (report != NULL)
      __atomic_store_n (report, gst_memmap_store_writer_get_committed (writer),
          __ATOMIC_RELEASE);
  }
  printf ("committed %" G_GUINT64_FORMAT "\n",
      gst_memmap_store_writer_get_committed (writer));

done:
  fflush (stdout);
  if (no_close)
    _exit (ret);
  if (!gst_memmap_store_writer_close (writer, &error))
    goto store_error;
  gst_memmap_store_writer_unref (writer);
  gst_object_unref (engine);
  return ret;

usage:
  fprintf (stderr, "usage: %s PATH FORMAT WIDTH HEIGHT N_FRAMES [--ring MAX] "
      "[--max-frames N] [--stride-align N] [--pad-rows N] [--chunk-bytes N] "
      "[--forever] [--seconds S] [--fsize-limit N] [--no-close] "
      "[--report FILE] [--stamp]\n", argv[0]);
  return 1;

store_error:
  fprintf (stderr, "store-make: %s\n", error ? error->message : "error");
  g_clear_error (&error);
  return 2;
}
