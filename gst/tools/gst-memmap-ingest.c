/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap ingest VIDEO -o STORE: decodes a video into a new store
 * through memmapsink, with the progress of the frames API
 * (GstMemmapFramesProgressFunc: frames recorded / total, the total
 * estimated from the duration and frame rate when no --count is given) as
 * a bar on a terminal, or as plain lines with --progress elsewhere. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <glib-unix.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
  gboolean lines;               /* --progress: plain lines, not a bar */
  gint64 last_line_us;
  guint64 last_done;
  Progress progress;
} Ingest;

/* A line every this often with --progress */
#define LINE_INTERVAL_US (2 * G_USEC_PER_SEC)

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

/* A GstMemmapFramesProgressFunc, as gst_memmap_engine_map_video_frames_full
 * () calls it: @done frames recorded of @total (0: unknown). A bar on a
 * terminal; plain lines with --progress, one every LINE_INTERVAL_US and
 * the last one. */
static void
ingest_progress (guint64 done, guint64 total, gpointer user_data)
{
  Ingest *in = user_data;
  gint64 now = g_get_monotonic_time ();
  gdouble secs = (now - in->progress.start_us) / 1e6;
  gdouble fps = secs > 0 ? done / secs : 0.0;
  gchar *what;

  if (in->lines) {
    if ((now - in->last_line_us < LINE_INTERVAL_US || done == 0) &&
        done != total)
      return;
    in->last_line_us = now;
    if (total > 0)
      g_printerr ("gst-memmap ingest: %" G_GUINT64_FORMAT "/%"
          G_GUINT64_FORMAT " frames (%d%%), %.0f fps\n", done, total,
          (gint) (100.0 * done / total), fps);
    else
      g_printerr ("gst-memmap ingest: %" G_GUINT64_FORMAT " frames, %.0f "
          "fps\n", done, fps);
    return;
  }
  what = total > 0 ? g_strdup_printf ("%" G_GUINT64_FORMAT "/%"
      G_GUINT64_FORMAT " frames, %.0f fps", done, total, fps) :
      g_strdup_printf ("%" G_GUINT64_FORMAT " frames written, %.0f fps", done,
      fps);
  progress_draw (&in->progress, total > 0 ? (gdouble) done / total : -1, what);
  g_free (what);
}

/* The frames to write: --count, else the stream's frames after --start,
 * estimated from its duration and the frame rate of the caps (0 while
 * unknown), as the frames API estimates them. */
static guint64
ingest_total (Ingest * in)
{
  gint64 dur = -1;
  GstPad *pad;
  GstCaps *caps = NULL;
  GstVideoInfo info;
  guint64 total = 0;

  if (in->count > 0)
    return in->count;
  pad = gst_element_get_static_pad (in->sink, "sink");
  caps = gst_pad_get_current_caps (pad);
  gst_object_unref (pad);
  if (caps && gst_video_info_from_caps (&info, caps) &&
      GST_VIDEO_INFO_FPS_N (&info) > 0 && GST_VIDEO_INFO_FPS_D (&info) > 0 &&
      gst_element_query_duration (in->pipeline, GST_FORMAT_TIME, &dur) &&
      dur > 0)
    total = gst_util_uint64_scale_round ((guint64) dur,
        GST_VIDEO_INFO_FPS_N (&info),
        (guint64) GST_VIDEO_INFO_FPS_D (&info) * GST_SECOND);
  gst_clear_caps (&caps);
  return total > in->start ? total - in->start : 0;
}

static gboolean
ingest_tick (gpointer user_data)
{
  Ingest *in = user_data;
  guint64 written = sink_frames_written (in->sink);
  guint64 total = ingest_total (in);

  /* never back, never past the total */
  written = MAX (written, in->last_done);
  in->last_done = written;
  ingest_progress (written, total ? MAX (total, written) : 0, in);
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

/* uridecodebin ! [videoconvert ! capsfilter | identity] ! memmapsink into
 * @in's new pipeline; the decoder's pads are linked when they appear.
 * FALSE when an element is missing (said on stderr). */
static gboolean
ingest_build (Ingest * in, const gchar * uri, const gchar * out,
    const gchar * format, gboolean checksum)
{
  GstElement *dec = NULL, *sink = NULL, *convert = NULL, *filter = NULL;

  in->pipeline = gst_pipeline_new ("ingest");
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
    return FALSE;
  }
  g_object_set (dec, "uri", uri, NULL);
  g_object_set (sink, "location", out, "checksum", checksum, NULL);
  if (in->count > 0)
    g_object_set (sink, "max-frames", in->count, NULL);
  gst_bin_add_many (GST_BIN (in->pipeline), dec, convert, sink, NULL);
  if (filter) {
    GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
        G_TYPE_STRING, format, NULL);

    g_object_set (filter, "caps", caps, NULL);
    gst_caps_unref (caps);
    gst_bin_add (GST_BIN (in->pipeline), filter);
    gst_element_link_many (convert, filter, sink, NULL);
  } else {
    gst_element_link (convert, sink);
  }
  in->convert = convert;
  in->sink = sink;
  g_signal_connect (dec, "pad-added", G_CALLBACK (ingest_pad_added), in);
  g_signal_connect (dec, "no-more-pads", G_CALLBACK (ingest_no_more_pads), in);

  return TRUE;
}

/* Runs @in's pipeline to its end, an error or Ctrl-C, with the progress
 * line when stderr is a terminal. */
static void
ingest_run (Ingest * in)
{
  GstBus *bus;
  guint watch, tick = 0, sigint;

  in->loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (in->pipeline);
  watch = gst_bus_add_watch (bus, ingest_bus, in);
  gst_object_unref (bus);
  sigint = g_unix_signal_add (SIGINT, ingest_sigint, in);
  progress_init (&in->progress);
  if (in->lines)
    in->progress.enabled = FALSE;
  if (in->progress.enabled || in->lines)
    tick = g_timeout_add (200, ingest_tick, in);

  if (gst_element_set_state (in->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    /* the error message on the bus says why */
    in->failed = TRUE;
  }
  g_main_loop_run (in->loop);
  if (tick)
    g_source_remove (tick);
  g_source_remove (sigint);
  g_source_remove (watch);
  progress_done (&in->progress);
}

/* What the run wrote: a message when nothing or fewer frames than asked
 * for were written, the summary line with the progress bar; the exit
 * status. */
static gint
ingest_report (Ingest * in, guint64 written, const gchar * out)
{
  if (in->failed) {
    /* a bus error already said why */
    return EXIT_FAIL;
  }
  if (written == 0) {
    /* the empty store memmapsink made at the caps: not worth keeping */
    g_unlink (out);
    if (in->start > 0 && in->seen <= in->start)
      fail ("'%s' has %" G_GUINT64_FORMAT " frames: --start %"
          G_GUINT64_FORMAT " is past its end", in->input, in->seen, in->start);
    else
      fail ("no frame of '%s' was written to '%s'", in->input, out);
    return EXIT_FAIL;
  }
  if (in->count > 0 && written < in->count && !in->interrupted)
    g_printerr ("gst-memmap ingest: note: '%s' ends at frame %"
        G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT
        " frames asked for were written\n", in->input, in->seen, written,
        in->count);
  if (in->lines && !in->interrupted)
    /* the last line: done == total */
    ingest_progress (written, written, in);
  if (in->progress.enabled || in->lines) {
    gdouble secs = (g_get_monotonic_time () - in->progress.start_us) / 1e6;

    g_printerr ("%s: %" G_GUINT64_FORMAT " frames of %s in %.1f s%s\n", out,
        written, in->input, secs, in->interrupted ? " (interrupted)" : "");
  }
  return EXIT_OK;
}

gint
cmd_ingest (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  Ingest in = { 0, };
  gchar *out = NULL, *format = NULL, *start_str = NULL, *count_str = NULL;
  gchar *uri = NULL;
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
    {"progress", 0, 0, G_OPTION_ARG_NONE, &in.lines,
        "Print the progress as plain lines on stderr (frames written / "
          "total) even when it is not a terminal, where nothing is printed "
          "otherwise", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("VIDEO -o STORE - decode a video into a "
      "frame store");
  g_option_context_set_summary (ctx,
      "Decodes VIDEO (a file or a URI, any container and codec the installed\n"
      "GStreamer plugins handle) with uridecodebin, converts it with\n"
      "videoconvert if --format is given, and writes the frames into STORE\n"
      "with memmapsink. Frames are counted from the first frame of the\n"
      "stream, whatever its GOP structure. A progress bar (frames written /\n"
      "total) is drawn when stderr is a terminal, plain lines with\n"
      "--progress; Ctrl-C stops and keeps the frames so far.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!parse_options (ctx, &argc, &argv)) {
    ret = EXIT_USAGE;
    goto out;
  }

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

  if (!ingest_build (&in, uri, out, format, checksum))
    goto out;
  ingest_run (&in);

  written = sink_frames_written (in.sink);
  gst_element_set_state (in.pipeline, GST_STATE_NULL);
  ret = ingest_report (&in, written, out);

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
