/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The direct path of gst_memmap_map_video_frames(): frames that the
 * memmapcache cache directory already holds, for the same file unchanged,
 * read from its frame stores without building a pipeline. Uses only the
 * library (the cache directory's index and entries, the store reader).
 *
 * Frame k is the k-th frame of the run of frames that follow each other
 * from the stream's first one; past a hole in that run (a recording that
 * started from a seek, see gstmemmapframesrecording.c), the frame at the
 * pts of frame k on the frame-rate grid, when the grid holds over the run
 * and every frame of the entry is on it, within the container's rounding
 * (docs/design.md, "The frames API's recordings"). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"
#include "gstmemmapvideo.h"

#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug


typedef struct
{
  GstClockTime pts;
  GstClockTime duration;
  guint store;
  guint64 frame;
} Cached;

static gint
compare_pts (gconstpointer a, gconstpointer b)
{
  const Cached *x = a, *y = b;

  return (x->pts > y->pts) - (x->pts < y->pts);
}

/* What the direct path read from the cache entry's stores. */
typedef struct
{
  GPtrArray *readers;           /* GstMemmapStoreReader */
  GArray *cached;               /* Cached, every frame with timestamps */
  GstCaps *caps;                /* of the first store */
  GstVideoInfo info;            /* the layout every store has */
} Direct;

static void
direct_clear (Direct * d)
{
  if (d->cached)
    g_array_unref (d->cached);
  if (d->readers)
    g_ptr_array_unref (d->readers);
  gst_clear_caps (&d->caps);
}

/* Opens the stores @paths of the entry and lists their frames in
 * d->cached; FALSE when one cannot be read, is not in @job's format or is
 * laid out otherwise than the first one. */
static gboolean
direct_read_stores (Direct * d, Job * job, gchar ** paths)
{
  guint i;

  d->readers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_store_reader_unref);
  d->cached = g_array_new (FALSE, FALSE, sizeof (Cached));
  for (i = 0; paths[i]; i++) {
    const gchar *path = paths[i];
    GstMemmapStoreReader *r;
    guint64 f, n;

    r = gst_memmap_store_reader_open (job->engine, path, NULL);
    if (r == NULL)
      return FALSE;
    if (d->caps == NULL) {
      d->caps = gst_memmap_store_reader_get_caps (r);
      d->info = *gst_memmap_store_reader_get_layout (r);
      if (job->format && strcmp (job->format,
              gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&d->info))))
        goto fallback_reader;
    } else if (!gst_memmap_video_info_same_frame_layout (&d->info,
            gst_memmap_store_reader_get_layout (r))) {
      goto fallback_reader;
    }
    n = gst_memmap_store_reader_get_committed (r);
    for (f = gst_memmap_store_reader_get_first_frame (r); f < n; f++) {
      GstMemmapStoreEntry e;
      Cached c;

      if (!gst_memmap_store_reader_get_entry (r, f, &e, NULL))
        goto fallback_reader;
      if (!GST_CLOCK_TIME_IS_VALID (e.pts) ||
          !GST_CLOCK_TIME_IS_VALID (e.duration))
        continue;
      c.pts = e.pts;
      c.duration = e.duration;
      c.store = d->readers->len;
      c.frame = f;
      g_array_append_val (d->cached, c);
    }
    g_ptr_array_add (d->readers, r);
    continue;

  fallback_reader:
    gst_memmap_store_reader_unref (r);
    return FALSE;
  }
  return TRUE;
}

/* In d->cached (sorted by pts): the stream's first frame @i0, then the
 * @run of frames that follow each other (as memmapcache counts them: each
 * within half a frame of the end of the one before). FALSE when the
 * stream's first frame is not there. */
static gboolean
direct_find_run (Direct * d, const GstMemmapCacheMeta * meta, guint * i0_out,
    guint * run_out)
{
  GArray *cached = d->cached;
  guint i0, run;

  for (i0 = 0; i0 < cached->len; i0++) {
    Cached *c = &g_array_index (cached, Cached, i0);

    if (c->pts + c->duration / 2 > meta->start)
      break;
  }
  if (i0 == cached->len ||
      g_array_index (cached, Cached, i0).pts > meta->start +
      g_array_index (cached, Cached, i0).duration / 2)
    return FALSE;
  for (run = 1; i0 + run < cached->len; run++) {
    Cached *prev = &g_array_index (cached, Cached, i0 + run - 1);
    Cached *next = &g_array_index (cached, Cached, i0 + run);
    GstClockTime end = prev->pts + prev->duration;

    if (next->pts + next->duration / 2 <= end ||
        next->pts > end + next->duration / 2)
      break;
  }
  *i0_out = i0;
  *run_out = run;
  return TRUE;
}

/* The pts of frame @k on the grid of the stream's first frame @pts0 and
 * the frame rate @n/@d */
static GstClockTime
grid_pts (GstClockTime pts0, guint64 k, gint n, gint d)
{
  return pts0 + gst_util_uint64_scale_round (k, GST_SECOND * d, n);
}

/* The index in d->cached (sorted) of the frame at @pts (within @tol), or
 * -1. */
static gint
find_pts (Direct * d, GstClockTime pts, GstClockTime tol)
{
  guint lo = 0, hi = d->cached->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;

    if (g_array_index (d->cached, Cached, mid).pts + tol < pts)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < d->cached->len &&
      g_array_index (d->cached, Cached, lo).pts <= pts + tol)
    return lo;
  return -1;
}

/* Whether every frame of d->cached (sorted) is on the grid of @pts0 (within
 * GST_MEMMAP_FRAMES_GRID_TOLERANCE), no two on the same point: frames a
 * recording from a seek could not number (a variable frame rate under a
 * nominal one) are in the entry too, and one near a grid point must not
 * pass for the frame of that number. */
static gboolean
direct_all_on_grid (Direct * d, GstClockTime pts0, gint n, gint den)
{
  guint64 k, prev_k = G_MAXUINT64;
  guint i;

  for (i = 0; i < d->cached->len; i++) {
    GstClockTime pts = g_array_index (d->cached, Cached, i).pts, want;

    if (!GST_CLOCK_TIME_IS_VALID (pts) || pts < pts0)
      return FALSE;
    k = gst_util_uint64_scale_round (pts - pts0, n, GST_SECOND * den);
    want = grid_pts (pts0, k, n, den);
    if ((pts > want ? pts - want : want - pts) >
        GST_MEMMAP_FRAMES_GRID_TOLERANCE || (prev_k != G_MAXUINT64
            && k <= prev_k)) {
      GST_DEBUG ("cached frame at %" GST_TIME_FORMAT " is not on the frame "
          "grid: frames past a hole are not numbered by it",
          GST_TIME_ARGS (pts));
      return FALSE;
    }
    prev_k = k;
  }
  return TRUE;
}

/* Frames [start, end) found by their pts on the frame-rate grid, as a
 * recording that started from a seek numbered them (the entry then has
 * holes: the run from the start does not reach them). Only when the grid
 * holds where the frames were counted: each frame of the run from the
 * start is on it, and every other frame of the entry on a point of its
 * own. Fills @idx (indices in d->cached); FALSE if a frame is missing or
 * the grid does not hold. */
static gboolean
direct_find_on_grid (Direct * d, guint i0, guint run, guint64 start,
    guint64 end, GArray * idx)
{
  gint n = GST_VIDEO_INFO_FPS_N (&d->info), den = GST_VIDEO_INFO_FPS_D
      (&d->info);
  GstClockTime pts0, tol = GST_MEMMAP_FRAMES_GRID_TOLERANCE;
  guint64 k;

  if (n <= 0 || den <= 0 || end == G_MAXUINT64 || end - start > G_MAXUINT)
    return FALSE;
  pts0 = g_array_index (d->cached, Cached, i0).pts;
  if (!direct_all_on_grid (d, pts0, n, den))
    return FALSE;
  for (k = 0; k < run; k++) {
    GstClockTime pts = g_array_index (d->cached, Cached, i0 + k).pts;
    GstClockTime want = grid_pts (pts0, k, n, den);

    if ((pts > want ? pts - want : want - pts) > tol)
      return FALSE;
  }
  for (k = start; k < end; k++) {
    gint i = find_pts (d, grid_pts (pts0, k, n, den), tol);

    if (i < 0)
      return FALSE;
    g_array_append_val (idx, i);
  }
  return TRUE;
}

/* The cache entry @job's index names, opened with a shared lock, or NULL */
static GstMemmapCacheEntry *
direct_open_entry (Job * job)
{
  GstMemmapCacheDir *dir;
  GstMemmapCacheEntry *entry;
  GError *err = NULL;
  gchar *hash;

  dir = gst_memmap_cache_dir_open_existing (job->cache_dir, NULL);
  if (dir == NULL)
    return NULL;
  hash = gst_memmap_cache_dir_index_lookup (dir, job->index_key,
      &job->generation);
  entry = hash ? gst_memmap_cache_entry_open_existing (dir, hash,
      GST_MEMMAP_CACHE_ENTRY_LOCK, &err) : NULL;
  gst_memmap_cache_dir_free (dir);
  if (entry == NULL && hash)
    GST_DEBUG ("%s: cache entry %s is gone: %s", job->input, hash,
        err->message);
  g_clear_error (&err);
  g_free (hash);
  return entry;
}

GstMemmapFrames *
gst_memmap_frames_try_direct (Job * job)
{
  GstMemmapFrames *frames = NULL;
  GPtrArray *buffers = NULL;
  GArray *idx = NULL;
  Direct d = { NULL, };
  GstMemmapCacheEntry *entry;
  GstMemmapCacheMeta meta;
  GstStructure *stats;
  gchar **paths = NULL;
  const gchar *entry_path;
  guint i, i0, run;
  guint64 need, take_from, take_to;
  gboolean clipped = FALSE;

  if (job->index_key == NULL)
    return NULL;
  entry = direct_open_entry (job);
  if (entry == NULL)
    return NULL;
  entry_path = gst_memmap_cache_entry_get_path (entry);

  gst_memmap_cache_entry_read_meta (entry, &meta);
  if (!GST_CLOCK_TIME_IS_VALID (meta.start))
    goto fallback;

  paths = gst_memmap_cache_entry_list_stores (entry);
  if (!direct_read_stores (&d, job, paths))
    goto fallback;
  if (d.cached->len == 0)
    goto fallback;
  g_array_sort (d.cached, compare_pts);
  if (!direct_find_run (&d, &meta, &i0, &run))
    goto fallback;

  idx = g_array_new (FALSE, FALSE, sizeof (gint));
  need = job->end;
  if (need != G_MAXUINT64 && run >= need) {
    take_to = need;
  } else if (direct_find_on_grid (&d, i0, run, job->start, need, idx)) {
    /* past a hole, on the grid */
    take_to = need;
  } else {
    Cached *last = &g_array_index (d.cached, Cached, i0 + run - 1);

    /* the whole stream is cached and the run reaches its end: clip */
    if (!meta.complete || last->pts + last->duration +
        last->duration / 2 < meta.end)
      goto fallback;
    take_to = run;
    clipped = need != G_MAXUINT64;
  }
  take_from = MIN (job->start, take_to);

  buffers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  for (i = take_from; i < take_to; i++) {
    Cached *c = &g_array_index (d.cached, Cached, idx->len > 0 ?
        g_array_index (idx, gint, i - take_from) : (gint) (i0 + i));
    GstBuffer *buf = gst_memmap_store_reader_get_buffer (g_ptr_array_index
        (d.readers, c->store), NULL, c->frame, NULL);

    if (buf == NULL || !gst_memmap_frames_buffer_has_layout (buf, &d.info)) {
      gst_clear_buffer (&buf);
      goto fallback;
    }
    g_ptr_array_add (buffers, buf);
  }

  stats = gst_structure_new ("memmap-frames-stats",
      "direct", G_TYPE_BOOLEAN, TRUE,
      "decoded-frames", G_TYPE_UINT64, G_GUINT64_CONSTANT (0),
      "frames-from-cache", G_TYPE_UINT64, (guint64) buffers->len,
      "frames-copied", G_TYPE_UINT64, G_GUINT64_CONSTANT (0),
      "cache-hits", G_TYPE_UINT64, G_GUINT64_CONSTANT (1),
      "cache-misses", G_TYPE_UINT64, G_GUINT64_CONSTANT (0),
      "cache-entry", G_TYPE_STRING, entry_path,
      "on-grid", G_TYPE_BOOLEAN, idx->len > 0, NULL);
  frames =
      gst_memmap_frames_new_from_buffers (buffers, d.caps, &d.info, take_from,
      clipped, stats, &entry, NULL);
  GST_INFO ("%s: frames %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
      " read from the cache entry %s, nothing decoded", job->input,
      take_from, take_to, entry_path);
  if (frames)
    gst_memmap_frames_adopt_recording (job, frames);
  goto out;

fallback:
  GST_DEBUG ("%s: not all in the cache entry %s: decoding", job->input,
      entry_path);
out:
  if (entry)
    gst_memmap_cache_entry_close (entry);
  if (buffers)
    g_ptr_array_unref (buffers);
  if (idx)
    g_array_unref (idx);
  direct_clear (&d);
  g_strfreev (paths);
  return frames;
}
