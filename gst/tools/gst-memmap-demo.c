/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap-demo: the same frame processing (GRAY8 conversion and a Sobel
 * edge filter written in C over the frame bytes), several passes over a
 * video, done two ways:
 *
 * - traditionally: every pass decodes the video again
 *   (uridecodebin ! videoconvert ! GRAY8 ! fakesink, the filter in the
 *   sink's hand-off);
 * - through gst-memmap: every pass asks gst_memmap_map_video_frames() for
 *   the frames; the first pass decodes them once into memmapcache's cache,
 *   the others read the cache in place, decoding and copying nothing.
 *
 * Each pass runs in its own process, which samples its RssAnon and RssFile
 * (/proc/self/status) every 2 ms; the demo prints a table (time per pass,
 * frames/s, frames decoded and copied, peak anonymous and file-backed
 * memory, cache hits), the ratios, and draws a PNG chart of time and peak
 * memory per pass with cairo.
 *
 * With no VIDEO it makes its own clip once (1080p H.264, videotestsrc !
 * x264enc ! mp4mux) under $XDG_CACHE_HOME/gst-memmap-demo and reuses it.
 *
 *   gst-memmap-demo [VIDEO] [--frames N] [--size WxH] [--passes P]
 *       [--chart FILE.png] [--no-chart] [--keep-cache]
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-demo.h"

#include <gst/memmap/memmap.h>

#include <glib/gstdio.h>

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_FRAMES 300
#define DEFAULT_WIDTH 1920
#define DEFAULT_HEIGHT 1080
#define DEFAULT_PASSES 3
#define DEFAULT_CHART "gst-memmap-demo.png"

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir == NULL) {
    g_unlink (path);
    return;
  }
  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *child = g_build_filename (path, name, NULL);

    remove_tree (child);
    g_free (child);
  }
  g_dir_close (dir);
  g_rmdir (path);
}

/* The video to process: @arg, or without it the demo's own clip, made
 * once in the user's cache directory; NULL (said on stderr) if it cannot
 * be opened or made. */
static gchar *
find_clip (const gchar * arg, gint64 frames, gint width, gint height)
{
  GError *error = NULL;
  gchar *clip;

  if (arg != NULL) {
    clip = g_strdup (arg);
    if (!gst_uri_is_valid (clip) && !g_file_test (clip, G_FILE_TEST_IS_REGULAR)) {
      g_printerr ("gst-memmap-demo: cannot open '%s': %s\n", clip,
          g_strerror (errno ? errno : ENOENT));
      g_free (clip);
      return NULL;
    }
  } else {
    gchar *dir = g_build_filename (g_get_user_cache_dir (), "gst-memmap-demo",
        NULL);
    gchar *name = g_strdup_printf ("clip-%dx%d-%" G_GINT64_FORMAT ".mp4",
        width, height, frames);

    g_mkdir_with_parents (dir, 0700);
    clip = g_build_filename (dir, name, NULL);
    g_free (name);
    g_free (dir);
    if (!g_file_test (clip, G_FILE_TEST_IS_REGULAR)) {
      g_print ("Making the demo clip once (%" G_GINT64_FORMAT " frames of "
          "%dx%d H.264): %s\n", frames, width, height, clip);
      if (!demo_make_clip (clip, frames, width, height, &error)) {
        g_printerr ("gst-memmap-demo: could not make the clip: %s\n",
            error->message);
        g_clear_error (&error);
        g_free (clip);
        return NULL;
      }
    }
  }

  return clip;
}

/* A new cache directory for the gst-memmap passes in *@cache_dir (set
 * even when it could not be made); FALSE, said on stderr, then. */
static gboolean
make_cache_dir (gchar ** cache_dir)
{
  gchar *base = g_build_filename (g_get_user_cache_dir (),
      "gst-memmap-demo", NULL);

  g_mkdir_with_parents (base, 0700);
  *cache_dir = g_build_filename (base, "cache-XXXXXX", NULL);
  g_free (base);
  if (g_mkdtemp (*cache_dir) == NULL) {
    g_printerr ("gst-memmap-demo: could not make '%s': %s\n", *cache_dir,
        g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* The usage errors of the command line, said on stderr; --size into
 * @width and @height. */
static gboolean
check_options (gint argc, gint64 frames, gint64 passes_opt,
    const gchar * size, gint * width, gint * height)
{
  if (argc > 2) {
    g_printerr ("gst-memmap-demo: expected at most one VIDEO (try --help)\n");
    return FALSE;
  }
  if (frames < 1 || passes_opt < 2 || passes_opt > 20) {
    g_printerr ("gst-memmap-demo: --frames must be at least 1 and --passes "
        "2 to 20\n");
    return FALSE;
  }
  if (size && (sscanf (size, "%dx%d", width, height) != 2 || *width < 16 ||
          *height < 16 || *width > 7680 || *height > 4320 || *width % 2 ||
          *height % 2)) {
    g_printerr ("gst-memmap-demo: --size: '%s' is not an even WxH between "
        "16x16 and 7680x4320\n", size);
    return FALSE;
  }
  return TRUE;
}

/* @passes passes of each way, each in a child process of its own: the
 * traditional ones first, then the gst-memmap ones (the first of which
 * fills the cache). */
static gboolean
run_passes (const gchar * self, const gchar * clip, gint64 frames,
    const gchar * cache_dir, guint passes, Pass * trad, Pass * mm)
{
  guint p;

  for (p = 0; p < passes; p++) {
    g_print ("  traditional pass %u...\n", p + 1);
    if (!demo_run_child (self, "traditional", clip, frames, cache_dir,
            &trad[p]))
      return FALSE;
  }
  for (p = 0; p < passes; p++) {
    g_print ("  gst-memmap pass %u...\n", p + 1);
    if (!demo_run_child (self, "memmap", clip, frames, cache_dir, &mm[p]))
      return FALSE;
  }
  return TRUE;
}

/* The command line: the parent's options, and the hidden ones of a child
 * (--child MODE --clip --cache-dir). */
typedef struct
{
  gint64 frames;
  gint64 passes;
  gchar *size;
  gchar *chart;
  gboolean no_chart;
  gboolean keep_cache;
  gchar *child;
  gchar *clip;
  gchar *cache_dir;
} Options;

static void
options_clear (Options * o)
{
  g_free (o->size);
  g_free (o->chart);
  g_free (o->child);
  g_free (o->clip);
  g_free (o->cache_dir);
}

/* Parses the command line into @o; FALSE, said on stderr, on a usage
 * error. */
static gboolean
parse_options (gint * argc, gchar *** argv, Options * o)
{
  GOptionContext *ctx;
  GError *error = NULL;
  gboolean ok;
  GOptionEntry entries[] = {
    {"frames", 'n', 0, G_OPTION_ARG_INT64, &o->frames,
        "Frames to process per pass (default 300)", "N"},
    {"size", 's', 0, G_OPTION_ARG_STRING, &o->size,
        "Size of the clip the demo makes (default 1920x1080)", "WxH"},
    {"passes", 'p', 0, G_OPTION_ARG_INT64, &o->passes,
        "Passes of each way (default 3)", "P"},
    {"chart", 'c', 0, G_OPTION_ARG_FILENAME, &o->chart,
        "The PNG chart to write (default gst-memmap-demo.png)", "FILE.png"},
    {"no-chart", 0, 0, G_OPTION_ARG_NONE, &o->no_chart,
        "Draw no chart", NULL},
    {"keep-cache", 0, 0, G_OPTION_ARG_NONE, &o->keep_cache,
        "Keep the frame cache the gst-memmap passes made", NULL},
    {"child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o->child, NULL,
        NULL},
    {"clip", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &o->clip,
        NULL, NULL},
    {"cache-dir", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME,
        &o->cache_dir, NULL, NULL},
    {NULL}
  };

  ctx = g_option_context_new ("[VIDEO] - decode every pass, or decode once");
  g_option_context_set_summary (ctx,
      "Runs the same frame processing (GRAY8, a Sobel edge filter in C)\n"
      "several passes over a video: decoding it every pass, and through\n"
      "gst-memmap (gst_memmap_map_video_frames: decoded once into the\n"
      "memmapcache cache, then read in place). Prints a table of time,\n"
      "frames/s, frames decoded and copied, peak anonymous and file-backed\n"
      "memory and cache hits per pass, with the ratios, and draws a chart.\n"
      "Without VIDEO it makes a 1080p H.264 clip once and reuses it.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, argc, argv, &error);
  if (!ok) {
    g_printerr ("gst-memmap-demo: %s (try --help)\n", error->message);
    g_clear_error (&error);
  }
  g_option_context_free (ctx);
  return ok;
}

/* The parent: the clip, a new cache directory, the passes of both ways,
 * the table and the chart. @video: the VIDEO argument or NULL. */
static gint
run_demo (const gchar * argv0, const gchar * video, const Options * o,
    gint width, gint height)
{
  gchar *clip = NULL, *cache_dir = NULL, *self;
  Pass *trad = NULL, *mm = NULL;
  guint passes = o->passes;
  gint ret = EXIT_FAIL;
  gboolean same;

  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL)
    self = g_strdup (argv0);

  clip = find_clip (video, o->frames, width, height);
  if (clip == NULL)
    goto out;

  if (!make_cache_dir (&cache_dir))
    goto out;

  g_print ("Video: %s\nProcessing: up to %" G_GINT64_FORMAT " frames a pass, "
      "GRAY8 + Sobel edge filter, %u passes each way, one process per pass\n",
      clip, o->frames, passes);

  trad = g_new0 (Pass, passes);
  mm = g_new0 (Pass, passes);
  if (!run_passes (self, clip, o->frames, cache_dir, passes, trad, mm))
    goto out;

  same = demo_print_results (trad, mm, passes);

  if (!o->no_chart && !demo_write_chart (o->chart ? o->chart : DEFAULT_CHART,
          clip, passes, trad, mm))
    goto out;
  ret = same ? EXIT_OK : EXIT_FAIL;

out:
  if (cache_dir) {
    if (o->keep_cache)
      g_print ("The frame cache: %s\n", cache_dir);
    else
      remove_tree (cache_dir);
  }
  g_free (trad);
  g_free (mm);
  g_free (cache_dir);
  g_free (clip);
  g_free (self);
  return ret;
}

int
main (int argc, char **argv)
{
  Options o = { DEFAULT_FRAMES, DEFAULT_PASSES, };
  gint width = DEFAULT_WIDTH, height = DEFAULT_HEIGHT;
  gint ret;

  setlocale (LC_ALL, "");
  if (!parse_options (&argc, &argv, &o))
    return EXIT_USAGE;

  gst_init (NULL, NULL);
  gst_memmap_init ();

  if (o.child) {
    if (o.clip == NULL || o.cache_dir == NULL)
      return EXIT_USAGE;
    return demo_child_main (o.child, o.clip, o.frames, o.cache_dir);
  }

  if (!check_options (argc, o.frames, o.passes, o.size, &width, &height))
    return EXIT_USAGE;

  ret = run_demo (argv[0], argc == 2 ? argv[1] : NULL, &o, width, height);
  options_clear (&o);
  return ret;
}
