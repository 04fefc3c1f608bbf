/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stream's keyframes and the intervals of it that are cached whole: see
 * gstmemmapcachegops.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcachegops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GOPS_MAGIC "memmapcache-gops 1"
#define GOPS_MAX_BYTES (64 << 20)

GstMemmapCacheGops *
gst_memmap_cache_gops_new (void)
{
  GstMemmapCacheGops *gops = g_new0 (GstMemmapCacheGops, 1);

  gops->keys = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  gops->covers = g_array_new (FALSE, FALSE, sizeof (GstMemmapCacheCover));
  return gops;
}

void
gst_memmap_cache_gops_free (GstMemmapCacheGops * gops)
{
  g_array_unref (gops->keys);
  g_array_unref (gops->covers);
  g_free (gops);
}

/* The index of the last key <= @pts, or -1. */
static gint
key_at_or_before (GstMemmapCacheGops * gops, GstClockTime pts)
{
  gint lo = 0, hi = (gint) gops->keys->len - 1, found = -1;

  while (lo <= hi) {
    gint mid = lo + (hi - lo) / 2;

    if (g_array_index (gops->keys, GstClockTime, mid) <= pts) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

void
gst_memmap_cache_gops_add_key (GstMemmapCacheGops * gops, GstClockTime pts)
{
  gint i;

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return;
  i = key_at_or_before (gops, pts);
  if (i >= 0 && g_array_index (gops->keys, GstClockTime, i) == pts)
    return;
  g_array_insert_val (gops->keys, i + 1, pts);
  gops->dirty = TRUE;
}

/* The GOP range that holds @pts: [*key, *next_key), *next_key NONE for the
 * last one. FALSE before the first key. */
gboolean
gst_memmap_cache_gops_find_range (GstMemmapCacheGops * gops, GstClockTime pts,
    GstClockTime * key, GstClockTime * next_key)
{
  gint i = GST_CLOCK_TIME_IS_VALID (pts) ? key_at_or_before (gops, pts) : -1;

  if (i < 0)
    return FALSE;
  *key = g_array_index (gops->keys, GstClockTime, i);
  *next_key = (guint) i + 1 < gops->keys->len ?
      g_array_index (gops->keys, GstClockTime, i + 1) : GST_CLOCK_TIME_NONE;
  return TRUE;
}

/* The cover that holds @pts, or NULL. */
GstMemmapCacheCover *
gst_memmap_cache_gops_find_cover (GstMemmapCacheGops * gops, GstClockTime pts)
{
  gint lo = 0, hi = (gint) gops->covers->len - 1;

  while (lo <= hi) {
    gint mid = lo + (hi - lo) / 2;
    GstMemmapCacheCover *c =
        &g_array_index (gops->covers, GstMemmapCacheCover, mid);

    if (pts < c->first)
      hi = mid - 1;
    else if (pts > c->last)
      lo = mid + 1;
    else
      return c;
  }
  return NULL;
}

/* Adds [@first, @last] (every frame in it cached); @eos: @last is the
 * stream's last frame. Overlapping intervals merge. */
void
gst_memmap_cache_gops_cover (GstMemmapCacheGops * gops, GstClockTime first,
    GstClockTime last, gboolean eos)
{
  GstMemmapCacheCover add = { first, last, 0, eos };
  guint i = 0;

  g_return_if_fail (first <= last);
  while (i < gops->covers->len) {
    GstMemmapCacheCover *c =
        &g_array_index (gops->covers, GstMemmapCacheCover, i);

    if (c->last < add.first) {
      i++;
      continue;
    }
    if (c->first > add.last)
      break;
    /* overlap: a frame in common */
    if (c->first <= add.first && c->last >= add.last && (c->eos || !add.eos))
      return;                   /* nothing new */
    add.first = MIN (add.first, c->first);
    if (c->last > add.last) {
      add.last = c->last;
      add.eos = c->eos;
    } else if (c->last == add.last) {
      add.eos = add.eos || c->eos;
    }
    g_array_remove_index (gops->covers, i);
  }
  g_array_insert_val (gops->covers, i, add);
  gops->dirty = TRUE;
}

/* Whether one interval holds the range [@key, @next_key) whole. */
gboolean
gst_memmap_cache_gops_is_covered (GstMemmapCacheGops * gops, GstClockTime key,
    GstClockTime next_key)
{
  GstMemmapCacheCover *c = gst_memmap_cache_gops_find_cover (gops, key);

  if (c == NULL)
    return FALSE;
  if (GST_CLOCK_TIME_IS_VALID (next_key))
    return c->last >= next_key;
  return c->eos;
}

static gboolean
parse_time (const gchar * s, GstClockTime * t)
{
  gchar *end;
  guint64 v;

  errno = 0;
  v = g_ascii_strtoull (s, &end, 10);
  if (end == s || errno != 0 || v == G_MAXUINT64)
    return FALSE;
  *t = v;
  return TRUE;
}

/* Reads what @path says (nothing if it is missing or not ours); merges it
 * into @gops. Lines it does not understand are ignored. */
void
gst_memmap_cache_gops_read (GstMemmapCacheGops * gops, const gchar * path)
{
  gchar *contents = NULL, **lines;
  gsize len;
  guint i;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return;
  if (len > GOPS_MAX_BYTES || !g_str_has_prefix (contents, GOPS_MAGIC "\n")) {
    g_free (contents);
    return;
  }
  lines = g_strsplit (contents, "\n", -1);
  g_free (contents);
  for (i = 1; lines[i]; i++) {
    gchar **f = g_strsplit (lines[i], " ", 6);
    guint n = g_strv_length (f);
    GstClockTime a, b, frames;

    if (n == 2 && strcmp (f[0], "key") == 0 && parse_time (f[1], &a)) {
      gst_memmap_cache_gops_add_key (gops, a);
    } else if (n == 5 && strcmp (f[0], "cover") == 0 &&
        parse_time (f[1], &a) && parse_time (f[2], &b) &&
        parse_time (f[3], &frames) && a <= b) {
      GstMemmapCacheCover *c;

      gst_memmap_cache_gops_cover (gops, a, b, strcmp (f[4], "1") == 0);
      c = gst_memmap_cache_gops_find_cover (gops, a);
      if (c && c->first == a && c->last == b)
        c->frames = frames;
    }
    g_strfreev (f);
  }
  g_strfreev (lines);
  gops->dirty = FALSE;
}

/* Writes @gops to @path (a new file renamed over it). */
gboolean
gst_memmap_cache_gops_write (GstMemmapCacheGops * gops, const gchar * path,
    GError ** error)
{
  GString *s = g_string_new (GOPS_MAGIC "\n");
  gboolean ret;
  guint i;

  for (i = 0; i < gops->keys->len; i++)
    g_string_append_printf (s, "key %" G_GUINT64_FORMAT "\n",
        (guint64) g_array_index (gops->keys, GstClockTime, i));
  for (i = 0; i < gops->covers->len; i++) {
    GstMemmapCacheCover *c =
        &g_array_index (gops->covers, GstMemmapCacheCover, i);

    g_string_append_printf (s, "cover %" G_GUINT64_FORMAT " %"
        G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d\n", (guint64) c->first,
        (guint64) c->last, c->frames, c->eos ? 1 : 0);
  }
  ret = g_file_set_contents_full (path, s->str, s->len,
      G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
  g_string_free (s, TRUE);
  if (ret)
    gops->dirty = FALSE;
  return ret;
}
