/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap: inspect, check, fill and read frame stores
 * (docs/store-format.md) and memmapcache cache directories.
 *
 *   gst-memmap info STORE
 *   gst-memmap verify STORE
 *   gst-memmap ingest VIDEO -o STORE [--start N] [--count M] [--format F]
 *   gst-memmap export STORE [--frame N] -o FRAME.png
 *   gst-memmap stats [CACHE_DIR]
 *
 * Exit status: 0 success, 1 failure (for verify: the store is not valid),
 * 2 usage error. Errors go to stderr and name the file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/memmap/memmap.h>
#include <gst/memmap/gstmemmapcachedir.h>
#include <gst/app/gstappsrc.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const gchar *prog_command = NULL;

/* "gst-memmap info: message" on stderr */
static void G_GNUC_PRINTF (1, 2)
fail (const gchar * format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  if (prog_command)
    g_printerr ("gst-memmap %s: %s\n", prog_command, msg);
  else
    g_printerr ("gst-memmap: %s\n", msg);
  g_free (msg);
}

/* Parses a subcommand's options; prints the usage error and returns FALSE
 * (exit 2) on a bad command line. --help exits 0 from within GOption. */
static gboolean
parse_options (GOptionContext * ctx, gint * argc, gchar *** argv)
{
  GError *err = NULL;

  if (!g_option_context_parse (ctx, argc, argv, &err)) {
    fail ("%s (try --help)", err->message);
    g_clear_error (&err);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_u64 (const gchar * option, const gchar * str, guint64 * out)
{
  GError *err = NULL;

  if (!g_ascii_string_to_unsigned (str, 10, 0, G_MAXUINT64, out, &err)) {
    fail ("%s: '%s' is not a number of frames", option, str);
    g_clear_error (&err);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* printing helpers                                                         */

/* "1.6 MB": plain ASCII, whatever the locale (g_format_size() puts a
 * no-break space in UTF-8 locales) */
static gchar *
format_size (guint64 bytes)
{
  static const gchar *units[] = { "kB", "MB", "GB", "TB", "PB" };
  gdouble v = bytes;
  guint u = 0;

  if (bytes < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
  v /= 1000;
  while (v >= 1000 && u + 1 < G_N_ELEMENTS (units)) {
    v /= 1000;
    u++;
  }
  return g_strdup_printf ("%.1f %s", v, units[u]);
}

static gchar *
format_bytes (guint64 bytes)
{
  gchar *h = format_size (bytes);
  gchar *s;

  if (bytes < 1000)
    return h;
  s = g_strdup_printf ("%s (%" G_GUINT64_FORMAT " bytes)", h, bytes);
  g_free (h);
  return s;
}

static gchar *
format_time (GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return g_strdup ("none");
  return g_strdup_printf ("%" GST_TIME_FORMAT, GST_TIME_ARGS (t));
}

/* A progress bar on stderr when it is a terminal. */
typedef struct
{
  gboolean enabled;
  gint64 start_us;
  gboolean drawn;
} Progress;

static void
progress_init (Progress * p)
{
  p->enabled = isatty (STDERR_FILENO);
  p->start_us = g_get_monotonic_time ();
  p->drawn = FALSE;
}

/* @fraction < 0: unknown */
static void
progress_draw (Progress * p, gdouble fraction, const gchar * what)
{
  const gint width = 30;
  gchar bar[64];
  gint i, filled;

  if (!p->enabled)
    return;
  if (fraction >= 0) {
    fraction = CLAMP (fraction, 0.0, 1.0);
    filled = (gint) (fraction * width + 0.5);
    for (i = 0; i < width; i++)
      bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    g_printerr ("\r[%s] %3d%%  %s\033[K", bar, (gint) (fraction * 100), what);
  } else {
    g_printerr ("\r%s\033[K", what);
  }
  p->drawn = TRUE;
}

static void
progress_done (Progress * p)
{
  if (p->enabled && p->drawn)
    g_printerr ("\r\033[K");
  p->drawn = FALSE;
}

/* ------------------------------------------------------------------------ */
/* info                                                                     */

static gint
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

/* ------------------------------------------------------------------------ */
/* verify                                                                   */

/* Reading the slots of a store that someone truncates under the mapping
 * raises SIGBUS; verify's own reads are guarded so that it reports the
 * file instead of dying. */
static sigjmp_buf verify_jmp;
static volatile sig_atomic_t verify_guarded = 0;
static volatile guint64 verify_sink;

static void
verify_sigbus (int sig)
{
  if (verify_guarded)
    siglongjmp (verify_jmp, 1);
  signal (sig, SIG_DFL);
  raise (sig);
}

static guint64
hash_bytes (const guint8 * data, gsize size)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  gsize i;

  for (i = 0; i + 8 <= size; i += 8) {
    guint64 w;

    memcpy (&w, data + i, 8);
    h = (h ^ w) * G_GUINT64_CONSTANT (0x100000001b3);
  }
  for (; i < size; i++)
    h = (h ^ data[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  return h;
}

/* Reads every byte of @data (so that every page is faulted in and read).
 * FALSE if that raised SIGBUS. */
static gboolean
read_all (const guint8 * data, gsize size)
{
  struct sigaction sa, old_sa;
  gboolean ok = TRUE;

  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = verify_sigbus;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGBUS, &sa, &old_sa);
  if (sigsetjmp (verify_jmp, 1) == 0) {
    verify_guarded = 1;
    verify_sink = hash_bytes (data, size);
  } else {
    ok = FALSE;
  }
  verify_guarded = 0;
  sigaction (SIGBUS, &old_sa, NULL);
  return ok;
}

static gint
cmd_verify (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GstMemmapEngine *engine;
  GstMemmapStoreReader *reader = NULL;
  GHashTable *slots = NULL;
  GError *err = NULL;
  const gchar *path;
  guint64 committed, first, f, bytes = 0, checked = 0, gone = 0;
  guint64 bad_sums = 0, *dup_of;
  gboolean sums;
  gboolean quiet = FALSE;
  Progress progress;
  gint ret = EXIT_FAIL;
  GOptionEntry entries[] = {
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
        "Print nothing when the store is valid", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("STORE - check a frame store completely");
  g_option_context_set_summary (ctx,
      "Validates the header, every index entry of the frames that can be\n"
      "read, that no two frames share a slot, and reads every byte of every\n"
      "frame's slot. In a store written with checksums (memmapsink\n"
      "checksum=true) every frame's bytes are compared with its checksum,\n"
      "and every frame that does not match is listed.\n\n"
      "Exit status: 0 the store is valid, 1 it is not (corrupt, truncated,\n"
      "not a frame store, unreadable or missing), 2 usage error.");
  g_option_context_add_main_entries (ctx, entries, NULL);
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

  committed = gst_memmap_store_reader_get_committed (reader);
  first = gst_memmap_store_reader_get_first_frame (reader);
  /* the checksums are checked below, frame by frame, to list every bad
   * frame: the reads after need not check them again */
  sums = gst_memmap_store_reader_has_checksums (reader);
  gst_memmap_store_reader_set_verify (reader, FALSE);
  slots = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  progress_init (&progress);

  for (f = first; f < committed; f++) {
    GstMemmapStoreEntry entry;
    GstBuffer *buf;
    GstMapInfo map;
    guint64 *key;

    if (!gst_memmap_store_reader_get_entry (reader, f, &entry, &err)) {
      /* a ring being written moves on while we read: not corruption */
      if (err->domain == GST_MEMMAP_ERROR &&
          err->code == GST_MEMMAP_ERROR_INVALID_ARGUMENT &&
          f < gst_memmap_store_reader_get_first_frame (reader)) {
        g_clear_error (&err);
        gone++;
        continue;
      }
      progress_done (&progress);
      goto failed;
    }
    dup_of = g_hash_table_lookup (slots, &entry.slot);
    if (dup_of != NULL) {
      progress_done (&progress);
      fail ("%s: CORRUPT: frames %" G_GUINT64_FORMAT " and %"
          G_GUINT64_FORMAT " are both in slot %" G_GUINT64_FORMAT, path,
          *dup_of, f, entry.slot);
      goto done;
    }
    key = g_new (guint64, 1);
    *key = entry.slot;
    g_hash_table_insert (slots, key, g_memdup2 (&f, sizeof (f)));

    if (sums && !gst_memmap_store_reader_verify_frame (reader, f, &err)) {
      if (!g_error_matches (err, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT)) {
        progress_done (&progress);
        goto failed;
      }
      progress_done (&progress);
      fail ("%s: CORRUPT: %s", path, err->message);
      g_clear_error (&err);
      bad_sums++;
    }

    buf = gst_memmap_store_reader_get_buffer (reader, NULL, f, &err);
    if (buf == NULL) {
      progress_done (&progress);
      goto failed;
    }
    if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
      gst_buffer_unref (buf);
      progress_done (&progress);
      fail ("%s: could not map frame %" G_GUINT64_FORMAT, path, f);
      goto done;
    }
    if (!read_all (map.data, map.size)) {
      gst_buffer_unmap (buf, &map);
      gst_buffer_unref (buf);
      progress_done (&progress);
      fail ("%s: CORRUPT: the file was truncated under frame %"
          G_GUINT64_FORMAT " (reading its slot raised SIGBUS)", path, f);
      goto done;
    }
    bytes += map.size;
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    checked++;

    if (progress.enabled && (f % 16 == 0 || f + 1 == committed)) {
      gchar *what = g_strdup_printf ("frame %" G_GUINT64_FORMAT " of %"
          G_GUINT64_FORMAT, f + 1, committed);

      progress_draw (&progress, (gdouble) (f + 1 - first) /
          (committed - first), what);
      g_free (what);
    }
  }
  progress_done (&progress);

  if (bad_sums > 0) {
    fail ("%s: CORRUPT: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " frames do not match their checksums", path, bad_sums, checked);
    goto done;
  }

  if (!quiet) {
    gchar *b = format_size (bytes);

    if (checked > 0)
      g_print ("%s: OK: %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
          "..%" G_GUINT64_FORMAT "), %s read\n", path, checked,
          committed - checked - gone, committed - 1, b);
    else
      g_print ("%s: OK: no frames\n", path);
    if (gone > 0)
      g_print ("%s: %" G_GUINT64_FORMAT " frames left the ring while they "
          "were checked\n", path, gone);
    g_print ("%s: %s\n", path, sums ? "every frame matches its checksum" :
        "no checksums (written without them): frames were read, not "
        "compared");
    g_free (b);
  }
  ret = EXIT_OK;
  goto done;

failed:
  if (err->domain == GST_MEMMAP_ERROR && (err->code ==
          GST_MEMMAP_ERROR_CORRUPT || err->code == GST_MEMMAP_ERROR_VERSION))
    fail ("CORRUPT: %s", err->message);
  else
    fail ("%s", err->message);
  g_clear_error (&err);
done:
  if (slots)
    g_hash_table_unref (slots);
  gst_memmap_store_reader_free (reader);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* ingest                                                                   */

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *convert;          /* first element of the video chain */
  GstElement *sink;
  const gchar *input;
  const gchar *store;
  guint64 start;
  guint64 count;                /* 0 = all */
  guint64 seen;                 /* frames out of the decoder */
  gboolean linked;
  gboolean failed;
  gboolean interrupted;
  Progress progress;
} Ingest;

static GstPadProbeReturn
ingest_count_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Ingest *in = user_data;
  guint64 n = in->seen++;

  /* frames before --start are decoded and dropped: frame k is the k-th
   * frame the decoder outputs, whatever the GOP */
  if (n < in->start)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

static void
ingest_pad_added (GstElement * dec, GstPad * pad, gpointer user_data)
{
  Ingest *in = user_data;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstStructure *s;
  gboolean video = FALSE;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  s = gst_caps_get_size (caps) > 0 ? gst_caps_get_structure (caps, 0) : NULL;
  video = s && gst_structure_has_name (s, "video/x-raw");
  gst_caps_unref (caps);

  if (video && !in->linked) {
    GstPad *sinkpad = gst_element_get_static_pad (in->convert, "sink");

    if (gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK) {
      in->linked = TRUE;
      gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER,
          ingest_count_probe, in, NULL);
    }
    gst_object_unref (sinkpad);
  } else {
    /* audio, subtitles, a second video stream: consumed and dropped */
    GstElement *fake = gst_element_factory_make ("fakesink", NULL);
    GstPad *sinkpad;

    g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add (GST_BIN (in->pipeline), fake);
    gst_element_sync_state_with_parent (fake);
    sinkpad = gst_element_get_static_pad (fake, "sink");
    gst_pad_link (pad, sinkpad);
    gst_object_unref (sinkpad);
  }
}

static void
ingest_no_more_pads (GstElement * dec, gpointer user_data)
{
  Ingest *in = user_data;

  if (!in->linked) {
    GST_ELEMENT_ERROR (in->pipeline, STREAM, WRONG_TYPE,
        ("'%s' has no video stream", in->input), (NULL));
  }
}

static guint64
sink_frames_written (GstElement * sink)
{
  GstStructure *stats = NULL;
  guint64 n = 0;

  g_object_get (sink, "stats", &stats, NULL);
  if (stats) {
    gst_structure_get_uint64 (stats, "frames-written", &n);
    gst_structure_free (stats);
  }
  return n;
}

static gboolean
ingest_tick (gpointer user_data)
{
  Ingest *in = user_data;
  guint64 written = sink_frames_written (in->sink);
  gint64 pos = -1, dur = -1;
  gdouble secs = (g_get_monotonic_time () - in->progress.start_us) / 1e6;
  gdouble fraction = -1;
  gchar *what;

  if (in->count > 0) {
    fraction = (gdouble) written / in->count;
  } else if (gst_element_query_position (in->pipeline, GST_FORMAT_TIME, &pos)
      && gst_element_query_duration (in->pipeline, GST_FORMAT_TIME, &dur)
      && dur > 0 && pos >= 0) {
    fraction = (gdouble) pos / dur;
  }
  what = g_strdup_printf ("%" G_GUINT64_FORMAT " frames written, %.0f fps",
      written, secs > 0 ? written / secs : 0.0);
  progress_draw (&in->progress, fraction, what);
  g_free (what);
  return G_SOURCE_CONTINUE;
}

static gboolean
ingest_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Ingest *in = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *debug = NULL;

      gst_message_parse_error (msg, &err, &debug);
      progress_done (&in->progress);
      /* decoder-side errors name no file: say which */
      if (err->domain == GST_STREAM_ERROR || err->domain == GST_CORE_ERROR)
        fail ("'%s': %s", in->input, err->message);
      else
        fail ("%s", err->message);
      if (debug && g_getenv ("GST_MEMMAP_DEBUG"))
        g_printerr ("  (%s)\n", debug);
      g_clear_error (&err);
      g_free (debug);
      in->failed = TRUE;
      g_main_loop_quit (in->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit (in->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
ingest_sigint (gpointer user_data)
{
  Ingest *in = user_data;

  /* stop cleanly: EOS closes the store with every frame so far */
  if (!in->interrupted) {
    in->interrupted = TRUE;
    gst_element_send_event (in->pipeline, gst_event_new_eos ());
    return G_SOURCE_CONTINUE;
  }
  in->failed = TRUE;
  g_main_loop_quit (in->loop);
  return G_SOURCE_REMOVE;
}

/* A path or a URI as a URI; NULL (with the message printed) if a path
 * names nothing readable. */
static gchar *
input_uri (const gchar * input)
{
  GError *err = NULL;
  gchar *uri;

  GStatBuf st;
  gchar *filename = NULL;
  gboolean special;

  if (gst_uri_is_valid (input)) {
    /* a local file is checked as a path is */
    if (g_str_has_prefix (input, "file:"))
      filename = g_filename_from_uri (input, NULL, NULL);
    if (filename == NULL)
      return g_strdup (input);
    special = g_stat (filename, &st) == 0 && !S_ISREG (st.st_mode) &&
        !S_ISDIR (st.st_mode);
    g_free (filename);
    if (special) {
      fail ("'%s' is not a regular file", input);
      return NULL;
    }
    return g_strdup (input);
  }
  if (g_access (input, R_OK) < 0) {
    fail ("cannot open '%s': %s", input, g_strerror (errno));
    return NULL;
  }
  if (g_file_test (input, G_FILE_TEST_IS_DIR)) {
    fail ("'%s' is a directory", input);
    return NULL;
  }
  /* a FIFO, a device or a socket: the decoder's open() of a FIFO blocks
   * until a writer comes, which may be never */
  if (g_stat (input, &st) == 0 && !S_ISREG (st.st_mode)) {
    fail ("'%s' is not a regular file (%s)", input,
        S_ISFIFO (st.st_mode) ? "a FIFO" : S_ISSOCK (st.st_mode) ?
        "a socket" : S_ISCHR (st.st_mode) ? "a character device" :
        S_ISBLK (st.st_mode) ? "a block device" : "a special file");
    return NULL;
  }
  uri = gst_filename_to_uri (input, &err);
  if (uri == NULL) {
    fail ("'%s': %s", input, err->message);
    g_clear_error (&err);
  }
  return uri;
}

/* FALSE (with the reason printed) if @store cannot be made: memmapsink
 * creates it in its directory and renames it into place, so that directory
 * must exist and be writable (not on a read-only file system). Checked
 * before anything is decoded. */
static gboolean
check_output_dir (const gchar * store)
{
  gchar *dir = g_path_get_dirname (store);
  gboolean ok = TRUE;

  if (g_access (dir, W_OK | X_OK) < 0) {
    fail ("cannot write '%s' in the directory '%s': %s", store, dir,
        g_strerror (errno));
    ok = FALSE;
  }
  g_free (dir);
  return ok;
}

static GstElement *
make_element (const gchar * factory, const gchar * why)
{
  GstElement *e = gst_element_factory_make (factory, NULL);

  if (e == NULL)
    fail ("the GStreamer element '%s' is missing (%s)", factory, why);
  return e;
}

static gint
cmd_ingest (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  Ingest in = { 0, };
  GstElement *dec = NULL, *sink = NULL, *convert = NULL, *filter = NULL;
  GstBus *bus;
  gchar *out = NULL, *format = NULL, *start_str = NULL, *count_str = NULL;
  gchar *uri = NULL;
  guint watch, tick = 0, sigint;
  guint64 written;
  gboolean checksum = FALSE;
  gint ret = EXIT_FAIL;
  GOptionEntry entries[] = {
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
        "The frame store to write (replaced if it exists)", "STORE"},
    {"start", 0, 0, G_OPTION_ARG_STRING, &start_str,
        "First frame to keep (default 0): the N-th frame the decoder outputs",
        "N"},
    {"count", 0, 0, G_OPTION_ARG_STRING, &count_str,
        "Keep at most M frames (default, or 0: to the end)", "M"},
    {"format", 0, 0, G_OPTION_ARG_STRING, &format,
        "Convert to this video format (I420, NV12, RGBA, GRAY8, ...; "
        "default: as decoded)", "F"},
    {"checksum", 0, 0, G_OPTION_ARG_NONE, &checksum,
        "Keep a checksum of every frame (memmapsink checksum=true), "
        "checked by readers and verify", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("VIDEO -o STORE - decode a video into a "
      "frame store");
  g_option_context_set_summary (ctx,
      "Decodes VIDEO (a file or a URI, any container and codec the installed\n"
      "GStreamer plugins handle) with uridecodebin, converts it with\n"
      "videoconvert if --format is given, and writes the frames into STORE\n"
      "with memmapsink. Frames are counted from the first frame of the\n"
      "stream, whatever its GOP structure. A progress bar is drawn when\n"
      "stderr is a terminal; Ctrl-C stops and keeps the frames so far.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!parse_options (ctx, &argc, &argv)) {
    g_option_context_free (ctx);
    ret = EXIT_USAGE;
    goto out;
  }
  g_option_context_free (ctx);

  ret = EXIT_USAGE;
  if (argc != 2) {
    fail ("expected one VIDEO (try --help)");
    goto out;
  }
  if (out == NULL) {
    fail ("-o STORE is required (try --help)");
    goto out;
  }
  if (start_str && !parse_u64 ("--start", start_str, &in.start))
    goto out;
  if (count_str && !parse_u64 ("--count", count_str, &in.count))
    goto out;
  if (format && gst_video_format_from_string (format) ==
      GST_VIDEO_FORMAT_UNKNOWN) {
    fail ("--format: unknown video format '%s'", format);
    goto out;
  }
  ret = EXIT_FAIL;

  in.input = argv[1];
  in.store = out;
  uri = input_uri (in.input);
  if (uri == NULL || !check_output_dir (out))
    goto out;

  in.pipeline = gst_pipeline_new ("ingest");
  dec = make_element ("uridecodebin", "gstreamer1.0-plugins-base");
  sink = make_element ("memmapsink", "the memmap plugin: is "
      "GST_PLUGIN_PATH set?");
  if (format) {
    convert = make_element ("videoconvert", "gstreamer1.0-plugins-base");
    filter = make_element ("capsfilter", "GStreamer core");
  } else {
    convert = make_element ("identity", "GStreamer core");
  }
  if (!dec || !sink || !convert || (format && !filter)) {
    gst_clear_object (&dec);
    gst_clear_object (&sink);
    gst_clear_object (&convert);
    gst_clear_object (&filter);
    goto out;
  }
  g_object_set (dec, "uri", uri, NULL);
  g_object_set (sink, "location", out, "checksum", checksum, NULL);
  if (in.count > 0)
    g_object_set (sink, "max-frames", in.count, NULL);
  gst_bin_add_many (GST_BIN (in.pipeline), dec, convert, sink, NULL);
  if (filter) {
    GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
        G_TYPE_STRING, format, NULL);

    g_object_set (filter, "caps", caps, NULL);
    gst_caps_unref (caps);
    gst_bin_add (GST_BIN (in.pipeline), filter);
    gst_element_link_many (convert, filter, sink, NULL);
  } else {
    gst_element_link (convert, sink);
  }
  in.convert = convert;
  in.sink = sink;
  g_signal_connect (dec, "pad-added", G_CALLBACK (ingest_pad_added), &in);
  g_signal_connect (dec, "no-more-pads", G_CALLBACK (ingest_no_more_pads),
      &in);

  in.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (in.pipeline);
  watch = gst_bus_add_watch (bus, ingest_bus, &in);
  gst_object_unref (bus);
  sigint = g_unix_signal_add (SIGINT, ingest_sigint, &in);
  progress_init (&in.progress);
  if (in.progress.enabled)
    tick = g_timeout_add (200, ingest_tick, &in);

  if (gst_element_set_state (in.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    /* the error message on the bus says why */
    in.failed = TRUE;
  }
  g_main_loop_run (in.loop);
  if (tick)
    g_source_remove (tick);
  g_source_remove (sigint);
  g_source_remove (watch);
  progress_done (&in.progress);

  written = sink_frames_written (sink);
  gst_element_set_state (in.pipeline, GST_STATE_NULL);

  if (in.failed) {
    /* a bus error already said why */
    goto out;
  }
  if (written == 0) {
    /* the empty store memmapsink made at the caps: not worth keeping */
    g_unlink (out);
    if (in.start > 0 && in.seen <= in.start)
      fail ("'%s' has %" G_GUINT64_FORMAT " frames: --start %"
          G_GUINT64_FORMAT " is past its end", in.input, in.seen, in.start);
    else
      fail ("no frame of '%s' was written to '%s'", in.input, out);
    goto out;
  }
  if (in.count > 0 && written < in.count && !in.interrupted)
    g_printerr ("gst-memmap ingest: note: '%s' ends at frame %"
        G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT
        " frames asked for were written\n", in.input, in.seen, written,
        in.count);
  if (in.progress.enabled) {
    gdouble secs = (g_get_monotonic_time () - in.progress.start_us) / 1e6;

    g_printerr ("%s: %" G_GUINT64_FORMAT " frames of %s in %.1f s%s\n", out,
        written, in.input, secs, in.interrupted ? " (interrupted)" : "");
  }
  ret = EXIT_OK;

out:
  if (in.pipeline)
    gst_object_unref (in.pipeline);
  if (in.loop)
    g_main_loop_unref (in.loop);
  g_free (uri);
  g_free (out);
  g_free (format);
  g_free (start_str);
  g_free (count_str);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* export                                                                   */

static gint
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
  if (!parse_options (ctx, &argc, &argv)) {
    g_option_context_free (ctx);
    goto out;
  }
  g_option_context_free (ctx);
  if (argc != 2) {
    fail ("expected one STORE (try --help)");
    goto out;
  }
  if (out == NULL) {
    fail ("-o FILE.png is required (try --help)");
    goto out;
  }
  if (frame_str && !parse_u64 ("--frame", frame_str, &frame))
    goto out;
  ret = EXIT_FAIL;

  engine = gst_memmap_engine_get_default ();
  reader = gst_memmap_store_reader_open (engine, argv[1], &err);
  if (reader == NULL)
    goto failed;
  committed = gst_memmap_store_reader_get_committed (reader);
  first = gst_memmap_store_reader_get_first_frame (reader);
  if (frame < first || frame >= committed) {
    if (committed > first)
      fail ("'%s' holds frames %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
          ", not frame %" G_GUINT64_FORMAT, argv[1], first, committed - 1,
          frame);
    else
      fail ("'%s' holds no frame", argv[1]);
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
  gst_memmap_store_reader_free (reader);
  g_free (out);
  g_free (frame_str);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* stats                                                                    */

/* The files some process holds a flock() on, from /proc/locks: keys
 * "major:minor:inode". */
static GHashTable *
locked_files (void)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  gchar *contents = NULL, **lines, **l;

  if (!g_file_get_contents ("/proc/locks", &contents, NULL, NULL))
    return set;
  lines = g_strsplit (contents, "\n", -1);
  g_free (contents);
  for (l = lines; *l; l++) {
    gchar kind[16], adv[16], rw[16];
    guint maj, min;
    guint64 ino;
    gint pid;

    if (sscanf (*l, "%*d: %15s %15s %15s %d %x:%x:%" G_GUINT64_FORMAT,
            kind, adv, rw, &pid, &maj, &min, &ino) == 7 &&
        strcmp (kind, "FLOCK") == 0)
      g_hash_table_add (set, g_strdup_printf ("%u:%u:%" G_GUINT64_FORMAT,
              maj, min, ino));
  }
  g_strfreev (lines);
  return set;
}

/* Whether some process holds a flock() on the lock (or the writer lock) of
 * @entry. */
static gboolean
is_locked (GHashTable * locks, GstMemmapCacheEntry * entry, gboolean writer)
{
  guint64 dev, ino;
  gchar *key;
  gboolean ret;

  if (!gst_memmap_cache_entry_get_lock_id (entry, writer, &dev, &ino))
    return FALSE;
  key = g_strdup_printf ("%u:%u:%" G_GUINT64_FORMAT, major (dev),
      minor (dev), ino);
  ret = g_hash_table_contains (locks, key);
  g_free (key);
  return ret;
}

typedef struct
{
  gchar *hash;
  guint64 frames;
  guint64 bytes;
  guint n_stores;
  gint64 last_use;              /* seconds since the epoch, 0 = unknown */
  gchar *video;                 /* "GRAY8 1920x1080", or NULL */
  gchar *state;
} CacheEntry;

static void
cache_entry_free (CacheEntry * e)
{
  g_free (e->hash);
  g_free (e->video);
  g_free (e->state);
  g_free (e);
}

static gint
compare_last_use (gconstpointer a, gconstpointer b)
{
  const CacheEntry *x = *(CacheEntry * const *) a;
  const CacheEntry *y = *(CacheEntry * const *) b;

  /* most recently used first */
  return (x->last_use < y->last_use) - (x->last_use > y->last_use);
}

/* What the entry's meta file says (docs/elements.md). */
static gchar *
describe_meta (GstMemmapCacheEntry * entry)
{
  GstMemmapCacheMeta meta;
  gchar *d, *ret;

  if (!gst_memmap_cache_entry_read_meta (entry, &meta))
    return NULL;
  if (!meta.complete || meta.end < meta.start)
    return g_strdup ("partial");
  d = format_time (meta.end - meta.start);
  ret = g_strdup_printf ("complete, %s", d);
  g_free (d);
  return ret;
}

/* Opens the store @path with the library's reader, which validates it
 * before anything in it is believed, and counts it into @e. */
static void
scan_store (CacheEntry * e, const gchar * path, GString * state)
{
  GError *err = NULL;
  GstMemmapStoreReader *r;
  gchar *name;

  r = gst_memmap_store_reader_open (gst_memmap_engine_get_default (), path,
      &err);
  e->n_stores++;
  if (r) {
    const GstVideoInfo *info = gst_memmap_store_reader_get_layout (r);

    e->frames += gst_memmap_store_reader_get_committed (r) -
        gst_memmap_store_reader_get_first_frame (r);
    if (e->video == NULL)
      e->video = g_strdup_printf ("%s %dx%d",
          gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)),
          GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info));
    gst_memmap_store_reader_free (r);
    return;
  }
  name = g_path_get_basename (path);
  g_string_append_printf (state, "%s%s: %s", state->len ? "; " : "", name,
      err->domain == GST_MEMMAP_ERROR &&
      (err->code == GST_MEMMAP_ERROR_CORRUPT ||
          err->code == GST_MEMMAP_ERROR_VERSION) ? "corrupt" : "unreadable");
  g_free (name);
  g_clear_error (&err);
}

/* Looks at the entry @hash without locking or changing it. */
static CacheEntry *
scan_cache_entry (GstMemmapCacheDir * dir, const gchar * hash,
    GHashTable * locks)
{
  CacheEntry *e = g_new0 (CacheEntry, 1);
  GString *state = g_string_new (NULL);
  GstMemmapCacheEntry *entry;
  GError *err = NULL;
  gchar *meta, **stores;
  guint i;

  e->hash = g_strdup (hash);
  entry = gst_memmap_cache_entry_open_existing (dir, hash,
      GST_MEMMAP_CACHE_ENTRY_INSPECT, &err);
  if (entry == NULL) {
    /* nothing of another user's is read (a shared cache directory) */
    e->state = g_strdup (g_error_matches (err, G_FILE_ERROR,
            G_FILE_ERROR_PERM) ? "another user's, not read" : "gone");
    g_clear_error (&err);
    g_string_free (state, TRUE);
    return e;
  }
  e->last_use = gst_memmap_cache_entry_get_last_use (entry) /
      G_GINT64_CONSTANT (1000000000);
  e->bytes = gst_memmap_cache_entry_get_usage (entry);
  stores = gst_memmap_cache_entry_list_stores (entry);
  for (i = 0; stores[i]; i++)
    scan_store (e, stores[i], state);
  g_strfreev (stores);

  meta = describe_meta (entry);
  g_string_prepend (state, meta ? meta : "no meta");
  g_free (meta);
  if (is_locked (locks, entry, TRUE))
    g_string_append (state, ", being recorded");
  else if (is_locked (locks, entry, FALSE))
    g_string_append (state, ", in use");
  e->state = g_string_free (state, FALSE);
  gst_memmap_cache_entry_close (entry);
  return e;
}

static gint
cmd_stats (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GPtrArray *entries;
  GHashTable *locks;
  GstMemmapCacheDir *dir;
  GError *err = NULL;
  gchar *cache_dir, *s1, *s2, **hashes;
  guint64 total_bytes = 0, total_frames = 0, other_bytes = 0;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  struct stat st;
  guint i, evicting = 0;
  gint ret = EXIT_FAIL;

  ctx = g_option_context_new ("[CACHE_DIR] - what a memmapcache cache "
      "directory holds");
  g_option_context_set_summary (ctx,
      "Lists the streams cached in CACHE_DIR (default: memmapcache's default,\n"
      "$XDG_CACHE_HOME/gst-memmap): per stream its frames, bytes on disk,\n"
      "last use, video format and state (complete or partial, in use, being\n"
      "recorded), most recently used first, and the totals. Every store is\n"
      "opened with the library's validating reader; nothing is changed.");
  if (!parse_options (ctx, &argc, &argv)) {
    g_option_context_free (ctx);
    return EXIT_USAGE;
  }
  g_option_context_free (ctx);
  if (argc > 2) {
    fail ("expected at most one CACHE_DIR (try --help)");
    return EXIT_USAGE;
  }
  cache_dir = argc == 2 ? g_strdup (argv[1]) :
      gst_memmap_cache_dir_default_path ();

  if (stat (cache_dir, &st) < 0) {
    if (errno == ENOENT && argc < 2) {
      /* the default directory is made by the first memmapcache */
      g_print ("cache:    %s (not made yet)\nstreams:  0, 0 frames, 0 bytes "
          "on disk\n", cache_dir);
      ret = EXIT_OK;
      goto out;
    }
    fail ("cannot open the cache directory '%s': %s", cache_dir,
        g_strerror (errno));
    goto out;
  }
  if (!S_ISDIR (st.st_mode)) {
    fail ("'%s' is not a directory", cache_dir);
    goto out;
  }
  dir = gst_memmap_cache_dir_open_existing (cache_dir, &err);
  if (dir == NULL) {
    fail ("%s", err->message);
    g_clear_error (&err);
    goto out;
  }
  locks = locked_files ();
  entries = g_ptr_array_new_with_free_func ((GDestroyNotify)
      cache_entry_free);
  hashes = gst_memmap_cache_dir_list_entries (dir, &evicting);
  for (i = 0; hashes[i]; i++) {
    CacheEntry *e = scan_cache_entry (dir, hashes[i], locks);

    total_bytes += e->bytes;
    total_frames += e->frames;
    g_ptr_array_add (entries, e);
  }
  g_strfreev (hashes);
  /* gst_memmap_map_video_frames()'s index */
  other_bytes = gst_memmap_cache_dir_get_index_usage (dir);
  gst_memmap_cache_dir_free (dir);
  g_hash_table_unref (locks);
  g_ptr_array_sort (entries, compare_last_use);

  s1 = format_size (total_bytes);
  g_print ("cache:    %s\n", cache_dir);
  g_print ("streams:  %u, %" G_GUINT64_FORMAT " frames, %s on disk\n",
      entries->len, total_frames, s1);
  g_free (s1);
  if (evicting > 0)
    g_print ("evicting: %u stream%s being deleted\n", evicting,
        evicting == 1 ? "" : "s");
  if (entries->len > 0)
    g_print ("\n%-16s %8s %12s  %-30s %-18s %s\n", "stream", "frames",
        "on disk", "last use", "video", "state");
  for (i = 0; i < entries->len; i++) {
    CacheEntry *e = g_ptr_array_index (entries, i);
    gchar hash[17];
    gchar *when;

    g_strlcpy (hash, e->hash, sizeof (hash));
    s1 = format_size (e->bytes);
    if (e->last_use > 0) {
      GDateTime *dt = g_date_time_new_from_unix_local (e->last_use);
      gint64 ago = now - e->last_use;

      s2 = g_date_time_format (dt, "%Y-%m-%d %H:%M");
      g_date_time_unref (dt);
      if (ago < 120)
        when = g_strdup_printf ("%s (%" G_GINT64_FORMAT " s ago)", s2,
            MAX (ago, 0));
      else if (ago < 7200)
        when = g_strdup_printf ("%s (%" G_GINT64_FORMAT " min ago)", s2,
            ago / 60);
      else
        when = g_strdup (s2);
      g_free (s2);
    } else {
      when = g_strdup ("unknown");
    }
    g_print ("%-16s %8" G_GUINT64_FORMAT " %12s  %-30s %-18s %s\n", hash,
        e->frames, s1, when, e->video ? e->video : "-", e->state);
    g_free (when);
    g_free (s1);
  }
  if (other_bytes > 0) {
    s1 = format_size (other_bytes);
    g_print ("\n(and %s of gst_memmap_map_video_frames() index files)\n", s1);
    g_free (s1);
  }
  g_ptr_array_unref (entries);
  ret = EXIT_OK;

out:
  g_free (cache_dir);
  return ret;
}

/* ------------------------------------------------------------------------ */

typedef struct
{
  const gchar *name;
  const gchar *synopsis;
  const gchar *summary;
    gint (*run) (gint argc, gchar ** argv);
} Command;

static const Command commands[] = {
  {"info", "STORE", "describe a frame store", cmd_info},
  {"verify", "STORE", "check a frame store completely (exit 0 = valid)",
      cmd_verify},
  {"ingest", "VIDEO -o STORE [--start N] [--count M] [--format F]",
      "decode a video into a frame store", cmd_ingest},
  {"export", "STORE [--frame N] -o FILE.png", "write one frame as a PNG",
      cmd_export},
  {"stats", "[CACHE_DIR]", "what a memmapcache cache directory holds",
      cmd_stats},
};

static void
usage (FILE * to)
{
  guint i;

  fprintf (to, "Usage: gst-memmap COMMAND [OPTION...] ARGS\n\n"
      "Frame stores (docs/store-format.md) and memmapcache directories.\n\n"
      "Commands:\n");
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (to, "  %-8s %s\n           %s\n", commands[i].name,
        commands[i].synopsis, commands[i].summary);
  fprintf (to, "\n'gst-memmap COMMAND --help' describes a command.\n"
      "Exit status: 0 success, 1 failure (verify: the store is not valid), "
      "2 usage error.\n");
}

int
main (int argc, char **argv)
{
  const gchar *name;
  gchar *prgname;
  guint i;
  gint ret;

  setlocale (LC_ALL, "");

  if (argc < 2) {
    usage (stderr);
    return EXIT_USAGE;
  }
  name = argv[1];
  if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0 ||
      strcmp (name, "help") == 0) {
    if (strcmp (name, "help") == 0 && argc > 2) {
      /* gst-memmap help COMMAND = gst-memmap COMMAND --help */
      gchar *args[] = { argv[0], argv[2], (gchar *) "--help", NULL };
      return main (3, args);
    }
    usage (stdout);
    return EXIT_OK;
  }
  if (strcmp (name, "--version") == 0) {
    g_print ("gst-memmap %s\n", PACKAGE_VERSION);
    return EXIT_OK;
  }

  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      break;
  if (i == G_N_ELEMENTS (commands)) {
    g_printerr ("gst-memmap: unknown command '%s'\n\n", name);
    usage (stderr);
    return EXIT_USAGE;
  }

  gst_init (NULL, NULL);
  gst_memmap_init ();

  prog_command = commands[i].name;
  prgname = g_strdup_printf ("gst-memmap %s", commands[i].name);
  g_set_prgname (prgname);
  /* the command sees argv[0] = its name, then its own arguments */
  ret = commands[i].run (argc - 1, argv + 1);
  g_free (prgname);

  return ret;
}
