/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* A series of timings of one contender, in seconds. */
typedef struct
{
  const gchar *name;
  gdouble *values;
  guint n;
} BenchSeries;

void bench_series_init (BenchSeries * series, const gchar * name, guint runs);

void bench_series_add (BenchSeries * series, gdouble value);

void bench_series_clear (BenchSeries * series);

gdouble bench_series_median (const BenchSeries * series);

gdouble bench_series_min (const BenchSeries * series);

gdouble bench_series_max (const BenchSeries * series);

typedef void (*BenchPipelineSetup) (GstElement * pipeline, gpointer user_data);

gdouble bench_run_pipeline (const gchar * description,
    BenchPipelineSetup setup, gpointer user_data);

gdouble bench_run_pipeline_full (const gchar * description,
    BenchPipelineSetup setup, BenchPipelineSetup done, gpointer user_data);

guint bench_env_uint (const gchar * name, guint fallback);

void bench_probe_buffers (GstElement * pipeline, const gchar * name,
    GstPadProbeCallback callback, gpointer user_data);

void bench_print_error (const gchar * description, GstMessage * msg);

gboolean bench_make_clip (const gchar * path, guint frames, guint width,
    guint height);

guint64 bench_xor_words (const guint8 * data, gsize size);

gchar *bench_make_tmpdir (void);

void bench_remove_tree (const gchar * path);

G_END_DECLS
