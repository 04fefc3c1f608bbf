/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of gst-memmap-demo share: gst-memmap-demo.c (the command
 * line and the run of the passes), gst-memmap-demo-pass.c (one pass in a
 * child process and its measurement, the clip), gst-memmap-demo-report.c
 * (the table, the ratios and the chart). */

#include <gst/gst.h>

G_BEGIN_DECLS

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* what a child process measures of its pass */
typedef struct
{
  guint64 frames;
  guint64 decoded;
  guint64 copied;
  guint64 hits;
  guint64 sum;
  gdouble seconds;
} PassResult;

/* a pass as the parent sees it: the child's result and its peak memory */
typedef struct
{
  PassResult r;
  guint64 peak_anon;
  guint64 peak_file;
} Pass;

/* gst-memmap-demo-pass.c */
gint demo_child_main (const gchar * mode, const gchar * clip, guint64 frames,
    const gchar * cache_dir);

gboolean demo_make_clip (const gchar * path, guint64 frames, gint width,
    gint height, GError ** error);

gboolean demo_run_child (const gchar * self, const gchar * mode,
    const gchar * clip, guint64 frames, const gchar * cache_dir, Pass * pass);

/* gst-memmap-demo-report.c */
gboolean demo_print_results (const Pass * trad, const Pass * mm,
    guint passes);

gboolean demo_write_chart (const gchar * path, const gchar * clip,
    guint passes, const Pass * trad, const Pass * mm);

G_END_DECLS
