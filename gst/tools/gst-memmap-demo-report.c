/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap-demo's output: the table of the passes, the ratios, and the
 * PNG chart of time and peak memory per pass (with cairo; without it the
 * chart is not drawn and the demo says so).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-demo.h"

#ifdef HAVE_CAIRO
#include <cairo.h>
#endif

static gdouble
mb (guint64 bytes)
{
  return bytes / 1e6;
}

static void
print_row (const gchar * method, guint p, const Pass * x)
{
  g_print ("%-12s %4u %9.3f %9.1f %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT
      " %10.1f %10.1f %5" G_GUINT64_FORMAT "\n", method, p, x->r.seconds,
      x->r.seconds > 0 ? x->r.frames / x->r.seconds : 0.0, x->r.decoded,
      x->r.copied, mb (x->peak_anon), mb (x->peak_file), x->r.hits);
}

#ifdef HAVE_CAIRO
static void
set_rgb (cairo_t * cr, guint32 rgb)
{
  cairo_set_source_rgb (cr, ((rgb >> 16) & 0xff) / 255.0,
      ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0);
}

static void
text_at (cairo_t * cr, gdouble x, gdouble y, gdouble size, gdouble align,
    const gchar * text)
{
  cairo_text_extents_t ext;

  cairo_set_font_size (cr, size);
  cairo_text_extents (cr, text, &ext);
  cairo_move_to (cr, x - align * ext.x_advance, y);
  cairo_show_text (cr, text);
}

/* A "nice" axis maximum: 1, 2 or 5 times a power of ten, above @v. */
static gdouble
nice_max (gdouble v, gdouble * step)
{
  gdouble p = 1e-6, m;

  if (v <= 0)
    v = 1;
  while (p * 10 <= v)
    p *= 10;
  while (p > v)
    p /= 10;
  for (m = p;; m += p) {
    if (m >= v * 1.05)
      break;
  }
  *step = p * ((m / p) > 5 ? 2 : 1);
  if (m / *step > 6)
    *step *= 2;
  return m;
}

typedef struct
{
  gdouble x, y, w, h;           /* plot area */
  gdouble max, step;
} Panel;

static void
panel_axes (cairo_t * cr, Panel * pl, const gchar * title, gint decimals)
{
  gdouble v;
  gchar label[64];

  set_rgb (cr, 0x222222);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_BOLD);
  text_at (cr, pl->x + pl->w / 2, pl->y - 16, 15, 0.5, title);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_line_width (cr, 1);
  for (v = 0; v <= pl->max + pl->step / 1000; v += pl->step) {
    gdouble y = pl->y + pl->h - v / pl->max * pl->h;

    set_rgb (cr, 0xdddddd);
    cairo_move_to (cr, pl->x, y + 0.5);
    cairo_line_to (cr, pl->x + pl->w, y + 0.5);
    cairo_stroke (cr);
    set_rgb (cr, 0x444444);
    g_snprintf (label, sizeof (label), "%.*f", decimals, v);
    text_at (cr, pl->x - 6, y + 4, 11, 1.0, label);
  }
  set_rgb (cr, 0x444444);
  cairo_move_to (cr, pl->x + 0.5, pl->y);
  cairo_line_to (cr, pl->x + 0.5, pl->y + pl->h + 0.5);
  cairo_line_to (cr, pl->x + pl->w, pl->y + pl->h + 0.5);
  cairo_stroke (cr);
}

static void
bar (cairo_t * cr, Panel * pl, gdouble x, gdouble w, gdouble from,
    gdouble to, guint32 rgb)
{
  gdouble y0 = pl->y + pl->h - from / pl->max * pl->h;
  gdouble y1 = pl->y + pl->h - to / pl->max * pl->h;

  set_rgb (cr, rgb);
  cairo_rectangle (cr, x, y1, w, y0 - y1);
  cairo_fill (cr);
}

#define C_TRAD 0x4c72b0
#define C_TRAD_FILE 0xa9bddf
#define C_MM 0xdd8452
#define C_MM_FILE 0xf2c4a6

/* The legend under the two panels of draw_chart(). */
static void
draw_legend (cairo_t * cr)
{
  const struct
  {
    guint32 rgb;
    const gchar *text;
  } items[] = {
    {C_TRAD, "decode every pass (anonymous memory)"},
    {C_TRAD_FILE, "decode every pass, file-backed"},
    {C_MM, "gst-memmap (anonymous memory)"},
    {C_MM_FILE, "gst-memmap, file-backed (the shared cache)"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (items); i++) {
    gdouble x = 70 + (i % 2) * 460, y = 490 + (i / 2) * 22;

    set_rgb (cr, items[i].rgb);
    cairo_rectangle (cr, x, y - 11, 14, 14);
    cairo_fill (cr);
    set_rgb (cr, 0x333333);
    text_at (cr, x + 20, y, 12, 0.0, items[i].text);
  }
}

static gboolean
draw_chart (const gchar * path, const gchar * title, guint passes,
    const Pass * trad, const Pass * mm, GError ** error)
{
  const gint W = 1000, H = 540;
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_status_t st;
  Panel tp = { 70, 90, 380, 360, 0, 0 }, mp = { 580, 90, 380, 360, 0, 0 };
  gdouble tmax = 0, mmax = 0, gw, bw;
  gchar label[64];
  guint p;

  for (p = 0; p < passes; p++) {
    tmax = MAX (tmax, MAX (trad[p].r.seconds, mm[p].r.seconds));
    mmax = MAX (mmax, MAX (mb (trad[p].peak_anon + trad[p].peak_file),
            mb (mm[p].peak_anon + mm[p].peak_file)));
  }
  tp.max = nice_max (tmax, &tp.step);
  mp.max = nice_max (mmax, &mp.step);

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
  cr = cairo_create (surface);
  set_rgb (cr, 0xffffff);
  cairo_paint (cr);

  set_rgb (cr, 0x111111);
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_BOLD);
  text_at (cr, W / 2.0, 30, 18, 0.5, "gst-memmap demo: the same filter, "
      "decoding every pass vs decoded once");
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_NORMAL);
  set_rgb (cr, 0x555555);
  text_at (cr, W / 2.0, 52, 12, 0.5, title);

  panel_axes (cr, &tp, "Time per pass (s)", tp.step < 0.1 ? 2 :
      tp.step < 1 ? 1 : 0);
  panel_axes (cr, &mp, "Peak memory per pass (MB)", mp.step < 1 ? 1 : 0);

  gw = tp.w / passes;
  bw = gw * 0.32;
  for (p = 0; p < passes; p++) {
    gdouble gx = tp.x + p * gw + gw * 0.18;

    bar (cr, &tp, gx, bw, 0, trad[p].r.seconds, C_TRAD);
    bar (cr, &tp, gx + bw, bw, 0, mm[p].r.seconds, C_MM);
    set_rgb (cr, 0x333333);
    g_snprintf (label, sizeof (label), "%.2f", trad[p].r.seconds);
    text_at (cr, gx + bw / 2, tp.y + tp.h - trad[p].r.seconds / tp.max *
        tp.h - 4, 10, 0.5, label);
    g_snprintf (label, sizeof (label), "%.2f", mm[p].r.seconds);
    text_at (cr, gx + 1.5 * bw, tp.y + tp.h - mm[p].r.seconds / tp.max *
        tp.h - 4, 10, 0.5, label);
    g_snprintf (label, sizeof (label), "pass %u", p + 1);
    text_at (cr, gx + bw, tp.y + tp.h + 18, 12, 0.5, label);

    gx = mp.x + p * gw + gw * 0.18;
    bar (cr, &mp, gx, bw, 0, mb (trad[p].peak_anon), C_TRAD);
    bar (cr, &mp, gx, bw, mb (trad[p].peak_anon),
        mb (trad[p].peak_anon + trad[p].peak_file), C_TRAD_FILE);
    bar (cr, &mp, gx + bw, bw, 0, mb (mm[p].peak_anon), C_MM);
    bar (cr, &mp, gx + bw, bw, mb (mm[p].peak_anon),
        mb (mm[p].peak_anon + mm[p].peak_file), C_MM_FILE);
    set_rgb (cr, 0x333333);
    g_snprintf (label, sizeof (label), "pass %u", p + 1);
    text_at (cr, gx + bw, mp.y + mp.h + 18, 12, 0.5, label);
  }

  draw_legend (cr);

  cairo_destroy (cr);
  st = cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "Could not write the chart '%s': %s", path,
        cairo_status_to_string (st));
    return FALSE;
  }
  return TRUE;
}
#endif

static gdouble
mean_seconds (const Pass * passes, guint from, guint to)
{
  gdouble s = 0;
  guint p;

  for (p = from; p < to; p++)
    s += passes[p].r.seconds;
  return to > from ? s / (to - from) : 0;
}

/* The table of the passes and the ratios; whether both ways gave the same
 * results. */
gboolean
demo_print_results (const Pass * trad, const Pass * mm, guint passes)
{
  gdouble t_trad, t_mm1, t_mm;
  guint64 anon_trad = 0, anon_mm = 0;
  gboolean same = TRUE;
  guint p;

  g_print ("\n%-12s %4s %9s %9s %8s %7s %10s %10s %5s\n", "method", "pass",
      "time (s)", "frames/s", "decoded", "copied", "anon (MB)", "file (MB)",
      "hits");
  for (p = 0; p < passes; p++)
    print_row ("traditional", p + 1, &trad[p]);
  for (p = 0; p < passes; p++)
    print_row ("gst-memmap", p + 1, &mm[p]);
  g_print ("(anon, file: peak RssAnon and RssFile of the pass's process; "
      "file-backed pages are the\n shared, reclaimable page cache of the "
      "frame store. decoded: frames out of the decoder;\n copied: frames "
      "written into new memory, by videoconvert or into the cache)\n\n");

  for (p = 0; p < passes; p++) {
    same = same && trad[p].r.sum == mm[p].r.sum &&
        trad[p].r.frames == mm[p].r.frames;
    anon_trad = MAX (anon_trad, trad[p].peak_anon);
    if (p > 0)
      anon_mm = MAX (anon_mm, mm[p].peak_anon);
  }
  t_trad = mean_seconds (trad, 0, passes);
  t_mm1 = mm[0].r.seconds;
  t_mm = mean_seconds (mm, 1, passes);
  g_print ("Results: %s (the filter's output sums of every pass %s)\n",
      same ? "identical" : "DIFFERENT", same ? "agree" : "disagree");
  g_print ("Ratio, time of a pass, traditional / gst-memmap after the first "
      "pass: %.1fx (%.3f s / %.3f s)\n", t_mm > 0 ? t_trad / t_mm : 0.0,
      t_trad, t_mm);
  g_print ("Ratio, first gst-memmap pass (decode + record) / traditional "
      "pass: %.2fx\n", t_trad > 0 ? t_mm1 / t_trad : 0.0);
  g_print ("Ratio, peak anonymous memory, traditional / gst-memmap after the "
      "first pass: %.1fx (%.1f MB / %.1f MB)\n", anon_mm > 0 ?
      (gdouble) anon_trad / anon_mm : 0.0, mb (anon_trad), mb (anon_mm));
  return same;
}

/* Draws the chart of the passes into @path (or says why it is not drawn);
 * FALSE when it could not be written. */
gboolean
demo_write_chart (const gchar * path, const gchar * clip, guint passes,
    const Pass * trad, const Pass * mm)
{
#ifdef HAVE_CAIRO
  GError *error = NULL;
  gchar *title = g_strdup_printf ("%s, %" G_GUINT64_FORMAT " frames a pass, "
      "GRAY8 + Sobel", clip, trad[0].r.frames);
  gchar *abs = g_canonicalize_filename (path, NULL);

  if (!draw_chart (path, title, passes, trad, mm, &error)) {
    g_printerr ("gst-memmap-demo: %s\n", error->message);
    g_clear_error (&error);
    g_free (title);
    g_free (abs);
    return FALSE;
  }
  g_print ("Chart: %s\n", abs);
  g_free (title);
  g_free (abs);
#else
  g_print ("Chart: not drawn (%s): gst-memmap-demo was built without "
      "cairo (libcairo2-dev)\n", path);
#endif
  return TRUE;
}
