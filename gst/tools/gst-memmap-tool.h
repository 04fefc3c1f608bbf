/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of gst-memmap share: one file per command
 * (gst-memmap-info.c, -verify.c, -ingest.c, -export.c, -stats.c), the
 * helpers in gst-memmap-util.c and main() with the command table in
 * gst-memmap.c. Not installed. */
#pragma once

#include <gst/gst.h>
#include <gst/memmap/memmap.h>

G_BEGIN_DECLS

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* the running command's name, for fail()'s prefix; set by main() */
extern const gchar *prog_command;

/* "gst-memmap info: message" on stderr */
void fail (const gchar * format, ...) G_GNUC_PRINTF (1, 2);

/* both free @ctx */
gboolean parse_options (GOptionContext * ctx, gint * argc, gchar *** argv);
const gchar *parse_store_command (GOptionContext * ctx, gint * argc,
    gchar *** argv);
gboolean parse_u64 (const gchar * option, const gchar * str, guint64 * out);

gchar *format_size (guint64 bytes);
gchar *format_bytes (guint64 bytes);
gchar *format_time (GstClockTime t);

typedef struct
{
  gboolean enabled;
  gint64 start_us;
  gboolean drawn;
} Progress;

void progress_init (Progress * p);
void progress_draw (Progress * p, gdouble fraction, const gchar * what);
void progress_done (Progress * p);

GstElement *make_element (const gchar * factory, const gchar * why);

gint cmd_info (gint argc, gchar ** argv);
gint cmd_verify (gint argc, gchar ** argv);
gint cmd_ingest (gint argc, gchar ** argv);
gint cmd_export (gint argc, gchar ** argv);
gint cmd_stats (gint argc, gchar ** argv);

G_END_DECLS
