/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap: the helpers its commands share (errors, options, sizes,
 * progress line, elements). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <stdio.h>
#include <unistd.h>

const gchar *prog_command = NULL;

/* "gst-memmap info: message" on stderr */
void
G_GNUC_PRINTF (1, 2)
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

/* Parses a subcommand's options and frees @ctx; prints the usage error
 * and returns FALSE (exit 2) on a bad command line. --help exits 0 from
 * within GOption. */
gboolean
parse_options (GOptionContext * ctx, gint * argc, gchar *** argv)
{
  GError *err = NULL;
  gboolean ok;

  ok = g_option_context_parse (ctx, argc, argv, &err);
  g_option_context_free (ctx);
  if (!ok) {
    fail ("%s (try --help)", err->message);
    g_clear_error (&err);
    return FALSE;
  }
  return TRUE;
}

/* parse_options() for a command of one STORE argument: returns it, or
 * NULL after the usage error (exit 2). */
const gchar *
parse_store_command (GOptionContext * ctx, gint * argc, gchar *** argv)
{
  if (!parse_options (ctx, argc, argv))
    return NULL;
  if (*argc != 2) {
    fail ("expected one STORE (try --help)");
    return NULL;
  }
  return (*argv)[1];
}

gboolean
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
gchar *
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

gchar *
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

gchar *
format_time (GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return g_strdup ("none");
  return g_strdup_printf ("%" GST_TIME_FORMAT, GST_TIME_ARGS (t));
}

/* A progress bar on stderr when it is a terminal. */

void
progress_init (Progress * p)
{
  p->enabled = isatty (STDERR_FILENO);
  p->start_us = g_get_monotonic_time ();
  p->drawn = FALSE;
}

/* @fraction < 0: unknown */
void
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

void
progress_done (Progress * p)
{
  if (p->enabled && p->drawn)
    g_printerr ("\r\033[K");
  p->drawn = FALSE;
}

/* ------------------------------------------------------------------------ */
/* elements                                                                 */

GstElement *
make_element (const gchar * factory, const gchar * why)
{
  GstElement *e = gst_element_factory_make (factory, NULL);

  if (e == NULL)
    fail ("the GStreamer element '%s' is missing (%s)", factory, why);
  return e;
}
