/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst_memmap_store_reader_get_info(): everything a frame store's header
 * says, as a GstStructure, for tools (`gst-memmap info`) and bindings.
 *
 * The header is read again (pread) from the file the reader validated and
 * parsed with the same checks as gst_memmap_store_reader_open(): no field
 * of the file is reported before it was checked.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"
#include "gstmemmapstoresync.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* Whether some process holds a flock() on the file of @st: the writer of a
 * store holds an exclusive one for its lifetime (docs/store-format.md, "One
 * writer per file"). Read from /proc/locks, so that looking never takes the
 * lock (a writer starting at that moment would fail). Returns the holder's
 * pid, 0 for none, -1 if /proc/locks cannot be read. */
static gint
flock_holder (const struct stat *st)
{
  gchar *contents = NULL, **lines, **l;
  gint holder = 0;

  if (!g_file_get_contents ("/proc/locks", &contents, NULL, NULL))
    return -1;
  lines = g_strsplit (contents, "\n", -1);
  g_free (contents);
  for (l = lines; *l != NULL; l++) {
    /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" */
    gchar kind[16], adv[16], rw[16];
    guint maj, min;
    guint64 ino;
    gint pid;

    if (sscanf (*l, "%*d: %15s %15s %15s %d %x:%x:%" G_GUINT64_FORMAT,
            kind, adv, rw, &pid, &maj, &min, &ino) != 7)
      continue;
    if (strcmp (kind, "FLOCK") != 0 || strcmp (rw, "WRITE") != 0)
      continue;
    if (ino == (guint64) st->st_ino && maj == major (st->st_dev) &&
        min == minor (st->st_dev)) {
      holder = pid > 0 ? pid : 1;
      break;
    }
  }
  g_strfreev (lines);
  return holder;
}

/**
 * gst_memmap_store_reader_get_info:
 * @reader: a #GstMemmapStoreReader
 * @error: return location for a #GError, or %NULL
 *
 * Reads the store's header again and returns what it says, checked as
 * gst_memmap_store_reader_open() checks it, as a `memmap-store-info`
 * structure:
 *
 * - `path` (string), `version-major`, `version-minor` (uint)
 * - `caps` (string), `format` (string), `width`, `height` (uint),
 *   `framerate` (fraction; 0/1 = variable), `n-planes` (uint)
 * - `mode` (string: `append` or `ring`), `max-frames` (guint64)
 * - `state` (string: `open`, `closed`, or `damaged`: its writer found it
 *   truncated by another program and stopped), `writer-pid` (uint),
 *   `writer-running` (boolean: a process holds the store's writer lock),
 *   `creation-time` (guint64, µs since the Unix epoch), `generation`
 *   (guint64)
 * - `committed`, `first-frame` (guint64): frames `[first-frame,
 *   committed)` are readable
 * - `frame-size`, `slot-stride`, `entries-per-chunk`, `slots-per-chunk`,
 *   `index-block-size`, `chunk-stride`, `data-offset`, `chunks-reserved`
 *   (guint64): the layout of docs/store-format.md
 * - `file-size` (guint64, bytes), `disk-bytes` (guint64, bytes allocated
 *   on disk)
 * - `checksums` (boolean): every frame's checksum is kept (format 1.1;
 *   since 0.2)
 *
 * Errors are those of gst_memmap_store_reader_open() (the file may have
 * changed since).
 *
 * Returns: (transfer full) (nullable): the structure, or %NULL with
 *   @error set
 *
 * Since: 0.1
 */
GstStructure *
gst_memmap_store_reader_get_info (GstMemmapStoreReader * reader,
    GError ** error)
{
  GstMemmapStoreHeader hdr;
  GstMemmapStoreGeometry geo;
  GstVideoInfo info;
  GstCaps *caps = NULL;
  GstStructure *s;
  const gchar *path;
  struct stat st;
  gssize n;
  guint64 committed, first, chunks;
  gboolean closed, damaged, running;
  gint fd, holder;

  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path = gst_memmap_store_reader_get_path (reader);
  fd = gst_memmap_store_reader_get_fd (reader);

  if (fstat (fd, &st) < 0)
    goto io_error;
  do {
    n = pread (fd, &hdr, sizeof (hdr), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    goto io_error;
  if ((gsize) n < sizeof (hdr)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "Frame store '%s' is now too short (%" G_GSSIZE_FORMAT " bytes)",
        path, n);
    return NULL;
  }
  if (!gst_memmap_store_header_parse (&hdr, st.st_size, path, &geo, &caps,
          &info, error))
    return NULL;

  /* the live counters, through the reader (which re-validates them) */
  committed = gst_memmap_store_reader_get_committed (reader);
  first = gst_memmap_store_reader_get_first_frame (reader);
  chunks = GUINT64_FROM_LE (hdr.chunks_reserved);
  closed = GUINT32_FROM_LE (hdr.state) == GST_MEMMAP_STORE_STATE_CLOSED;
  damaged = GUINT32_FROM_LE (hdr.state) == GST_MEMMAP_STORE_STATE_DAMAGED;

  holder = flock_holder (&st);
  if (holder < 0)
    running = !closed && !damaged &&
        gst_memmap_store_pid_alive (GUINT32_FROM_LE (hdr.writer_pid), 0);
  else
    running = holder > 0;

  s = gst_structure_new ("memmap-store-info",
      "path", G_TYPE_STRING, path,
      "version-major", G_TYPE_UINT, (guint) GUINT16_FROM_LE
      (hdr.version_major),
      "version-minor", G_TYPE_UINT, (guint) GUINT16_FROM_LE
      (hdr.version_minor),
      "caps", G_TYPE_STRING, hdr.caps,
      "format", G_TYPE_STRING, geo.format,
      "width", G_TYPE_UINT, geo.width,
      "height", G_TYPE_UINT, geo.height,
      "framerate", GST_TYPE_FRACTION, geo.fps_n, geo.fps_d,
      "n-planes", G_TYPE_UINT, geo.n_planes,
      "mode", G_TYPE_STRING,
      geo.mode == GST_MEMMAP_STORE_MODE_RING ? "ring" : "append",
      "max-frames", G_TYPE_UINT64, geo.max_frames,
      "state", G_TYPE_STRING, closed ? "closed" : damaged ? "damaged" :
      "open",
      "writer-pid", G_TYPE_UINT, GUINT32_FROM_LE (hdr.writer_pid),
      "writer-running", G_TYPE_BOOLEAN, running,
      "creation-time", G_TYPE_UINT64, GUINT64_FROM_LE (hdr.creation_time),
      "generation", G_TYPE_UINT64, GUINT64_FROM_LE (hdr.generation),
      "committed", G_TYPE_UINT64, committed,
      "first-frame", G_TYPE_UINT64, first,
      "frame-size", G_TYPE_UINT64, geo.frame_size,
      "slot-stride", G_TYPE_UINT64, geo.slot_stride,
      "entries-per-chunk", G_TYPE_UINT64, geo.entries_per_chunk,
      "slots-per-chunk", G_TYPE_UINT64, geo.slots_per_chunk,
      "index-block-size", G_TYPE_UINT64, geo.index_block_size,
      "chunk-stride", G_TYPE_UINT64, geo.chunk_stride,
      "data-offset", G_TYPE_UINT64, geo.data_offset,
      "chunks-reserved", G_TYPE_UINT64, chunks,
      "file-size", G_TYPE_UINT64, (guint64) st.st_size,
      "disk-bytes", G_TYPE_UINT64, (guint64) st.st_blocks * 512,
      "checksums", G_TYPE_BOOLEAN, (GUINT32_FROM_LE (hdr.flags) &
          GST_MEMMAP_STORE_HEADER_FLAG_CHECKSUMS) != 0, NULL);
  gst_caps_unref (caps);

  return s;

  /* ERRORS */
io_error:
  {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not read frame store '%s': %s", path, g_strerror (err));
    return NULL;
  }
}
