/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The recordings of gst_memmap_map_video_frames(): a call for frames the
 * cache does not hold joins the live recording of its stream, or starts
 * one (from the stream's start, or from a keyframe seek), waits for its
 * frames and returns them while the recording goes on (docs/design.md,
 * "The frames API's recordings"). The pipeline itself is in
 * gstmemmapframespipeline.c.
 *
 * The table of live recordings is keyed by the engine, the cache directory
 * and memmapcache's key; it does not hold them: the calls waiting and the
 * GstMemmapFrames that came out of a recording do (object qdata), and the
 * last unref stops its pipeline and frees it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"
#include "gstmemmapframesrecording.h"
#include "gstmemmaprecordingstats.h"

#include <string.h>

#define GST_CAT_DEFAULT gst_memmap_debug

static GMutex table_lock;
static GHashTable *table;       /* key -> GstMemmapRecording, not held */
static guint last_serial;
/* process-wide counters (gstmemmaprecordingstats.h) */
static guint64 n_from_seek;
static guint n_live;
static gint n_reseeks;
static guint64 n_decoded;
G_LOCK_DEFINE_STATIC (n_decoded);

/* Counts a frame out of a recording's decoder (any streaming thread). */
void
gst_memmap_recording_count_decoded (void)
{
  G_LOCK (n_decoded);
  n_decoded++;
  G_UNLOCK (n_decoded);
}

static G_DEFINE_QUARK (gst - memmap - recording, recording);

static gchar *
recording_key (Job * job)
{
  gchar *cache_key = gst_memmap_frames_job_cache_key (job);
  gchar *key;

  key = g_strdup_printf ("%p\n%s\n%s\n%s\n%s", job->engine, job->cache_dir,
      cache_key ? cache_key : job->uri, job->format ? job->format : "",
      job->fresh_key ? "fresh" : "");
  g_free (cache_key);
  return key;
}

static GstMemmapRecording *
recording_new (Job * job, gchar * key, gboolean from_seek)
{
  GstMemmapRecording *r = g_new0 (GstMemmapRecording, 1);

  r->refcount = 1;
  r->waiters = 1;
  r->key = key;
  /* with table_lock */
  r->serial = ++last_serial;
  n_live++;
  if (from_seek)
    n_from_seek++;
  r->engine = gst_object_ref (job->engine);
  r->input = g_strdup (job->input);
  r->from_seek = from_seek;
  r->seek_to = job->start;
  /* a recording from the start numbers from frame 0 (callers may join it
   * before it plays) */
  r->base = from_seek ? G_MAXUINT64 : 0;
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->buffers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  r->waiting_starts = g_array_new (FALSE, FALSE, sizeof (guint64));
  gst_video_info_init (&r->info);
  gst_segment_init (&r->segment, GST_FORMAT_TIME);
  r->pts0 = GST_CLOCK_TIME_NONE;
  r->drop_before = GST_CLOCK_TIME_NONE;
  r->lead_k = G_MAXUINT64;
  r->prev_end = GST_CLOCK_TIME_NONE;
  r->one_entry = TRUE;
  return r;
}

static void
recording_free (GstMemmapRecording * r)
{
  if (r->pipeline) {
    GstBus *bus = gst_element_get_bus (r->pipeline);

    gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
    gst_object_unref (bus);
    gst_object_unref (r->pipeline);
  }
  g_ptr_array_unref (r->buffers);
  g_array_unref (r->waiting_starts);
  gst_clear_caps (&r->caps);
  g_clear_error (&r->error);
  g_free (r->warning);
  g_free (r->entry_hash);
  g_free (r->input);
  g_free (r->key);
  gst_object_unref (r->engine);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

/* With table_lock. */
static void
recording_unregister (GstMemmapRecording * r)
{
  if (r->registered) {
    g_hash_table_remove (table, r->key);
    r->registered = FALSE;
  }
}

static void
recording_unref (gpointer data)
{
  GstMemmapRecording *r = data;
  gboolean last;

  g_mutex_lock (&table_lock);
  last = --r->refcount == 0;
  if (last) {
    recording_unregister (r);
    n_live--;
  }
  g_mutex_unlock (&table_lock);
  if (!last)
    return;
  GST_DEBUG ("%s: recording %u done", r->input, r->serial);
  gst_memmap_recording_stop (r);
  recording_free (r);
}

/* Whether @job can wait on @r rather than start a pipeline. With
 * table_lock. */
static gboolean
recording_joinable (GstMemmapRecording * r, Job * job)
{
  gboolean ok;

  g_mutex_lock (&r->lock);
  if (r->stopping || r->error || r->unnumbered || r->layout_changed)
    ok = FALSE;
  else if (r->base == G_MAXUINT64 || r->await_flush)
    /* a recording from a seek, not numbered yet: from its target on */
    ok = r->from_seek && job->start >= r->seek_to &&
        job->start <= r->seek_to + GST_MEMMAP_RECORDING_JOIN_AHEAD;
  else
    ok = r->base <= job->start && (r->eos || job->start <= r->base +
        r->buffers->len + GST_MEMMAP_RECORDING_JOIN_AHEAD);
  g_mutex_unlock (&r->lock);
  return ok;
}

/* Whether the recording can seek to a new window at @frame; if so, it is
 * prepared for it. With table_lock. */
static gboolean
recording_seekable (GstMemmapRecording * r, guint64 frame)
{
  gboolean ok;

  g_mutex_lock (&r->lock);
  ok = gst_memmap_recording_can_seek (r);
  if (ok)
    gst_memmap_recording_prepare_seek (r, frame);
  g_mutex_unlock (&r->lock);
  return ok;
}

/* The live recording of @job's stream that it can join, or a new one
 * (started: its pipeline plays); *@joined says which. NULL with @error set
 * when the pipeline cannot be built. */
static GstMemmapRecording *
recording_get (Job * job, gboolean allow_seek, gboolean * joined,
    GError ** error)
{
  GstMemmapRecording *r, *old = NULL;
  gchar *key = recording_key (job);

  g_mutex_lock (&table_lock);
  if (table == NULL)
    table = g_hash_table_new (g_str_hash, g_str_equal);
  r = g_hash_table_lookup (table, key);
  if (r && recording_joinable (r, job)) {
    r->refcount++;
    r->waiters++;
    g_mutex_unlock (&table_lock);
    g_free (key);
    *joined = TRUE;
    return r;
  }
  if (r && r->waiters == 0 && allow_seek &&
      job->start >= GST_MEMMAP_RECORDING_SEEK_MIN &&
      recording_seekable (r, job->start)) {
    /* nobody waits on it: the same pipeline seeks to the new window */
    r->refcount++;
    r->waiters++;
    g_mutex_unlock (&table_lock);
    g_free (key);
    *joined = FALSE;
    g_atomic_int_inc (&n_reseeks);
    GST_DEBUG ("%s: recording %u seeks to frame %" G_GUINT64_FORMAT,
        job->input, r->serial, job->start);
    gst_memmap_recording_seek (r);
    return r;
  }
  if (r && r->waiters == 0) {
    /* nobody waits on it: it makes room (memmapcache's writer lock) */
    recording_unregister (r);
    old = r;
    old->refcount++;
  }
  r = recording_new (job, key, allow_seek &&
      job->start >= GST_MEMMAP_RECORDING_SEEK_MIN);
  if (old || !g_hash_table_contains (table, r->key)) {
    g_hash_table_insert (table, r->key, r);
    r->registered = TRUE;
  }
  g_mutex_unlock (&table_lock);
  *joined = FALSE;

  if (old) {
    GST_DEBUG ("%s: stopping recording %u for a new one", job->input,
        old->serial);
    gst_memmap_recording_stop (old);
    recording_unref (old);
  }
  GST_DEBUG ("%s: recording %u starts%s at frame %" G_GUINT64_FORMAT,
      job->input, r->serial, r->from_seek ? " from a seek" : "",
      r->from_seek ? job->start : 0);
  if (!gst_memmap_recording_build (r, job, error)) {
    g_mutex_lock (&table_lock);
    r->waiters--;
    g_mutex_unlock (&table_lock);
    recording_unref (r);
    return NULL;
  }
  gst_memmap_recording_start (r);
  return r;
}

/* Raises the goal of @r for a call up to job->end: with a lookahead for
 * a sequential reader (a recording from the start, or a call that joined
 * one), none for the first window of a recording from a seek (a random
 * reader: the rest is recorded when asked for). With r->lock. */
static void
recording_raise_goal (GstMemmapRecording * r, Job * job, gboolean ahead)
{
  guint64 goal;

  if (job->end == G_MAXUINT64) {
    goal = G_MAXUINT64;
  } else {
    guint64 more = ahead ? MAX (GST_MEMMAP_RECORDING_MIN_LOOKAHEAD,
        2 * (job->end - job->start)) : 0;

    goal = job->end > G_MAXUINT64 - more ? G_MAXUINT64 : job->end + more;
  }
  if (goal > r->goal) {
    r->goal = goal;
    g_cond_broadcast (&r->cond);
  }
}

/* A cancel of the call wakes its wait (in the cancelling thread). */
static void
wake_waiter (GCancellable * cancellable, gpointer data)
{
  GstMemmapRecording *r = data;

  g_mutex_lock (&r->lock);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

/* Raises the goal of @r, then waits until the call's frames are there or
 * never will be; reports progress (frames recorded, lock released) as the
 * recording goes. FALSE with @error set when the call was cancelled. */
static gboolean
recording_wait (GstMemmapRecording * r, Job * job, gboolean joined,
    GError ** error)
{
  gulong id;
  guint64 seen, reported = G_MAXUINT64;
  gint n, d;

  id = gst_memmap_frames_job_connect_cancel (job, G_CALLBACK (wake_waiter),
      r, NULL);
  g_mutex_lock (&r->lock);
  recording_raise_goal (r, job, joined || !r->from_seek);
  /* the frames from there on stay held until the call took them */
  g_array_append_val (r->waiting_starts, job->start);
  while (!gst_memmap_recording_has_frames (r, job->end)) {
    if (job->cancellable && g_cancellable_is_cancelled (job->cancellable))
      break;
    seen = r->base == G_MAXUINT64 || r->await_flush ? 0 :
        r->base + r->buffers->len;
    if (seen != reported && (job->progress || job->cancellable)) {
      reported = seen;
      n = GST_VIDEO_INFO_FPS_N (&r->info);
      d = GST_VIDEO_INFO_FPS_D (&r->info);
      /* the callback may cancel: no lock held */
      g_mutex_unlock (&r->lock);
      gst_memmap_frames_job_progress (job, r->pipeline, seen, n, d);
      g_mutex_lock (&r->lock);
      continue;
    }
    g_cond_wait (&r->cond, &r->lock);
  }
  g_mutex_unlock (&r->lock);
  gst_memmap_frames_job_unwatch (job, id);
  return !gst_memmap_frames_job_cancelled (job, error);
}

/* The cache entry r->entry_hash, that all the frames came out of, kept
 * from eviction (shared lock) while the frames live, or NULL; indexes it
 * for the direct path. */
static GstMemmapCacheEntry *
hold_entry (Job * job, const gchar * hash)
{
  GstMemmapCacheEntry *entry = NULL;
  GstMemmapCacheDir *dir;

  dir = gst_memmap_cache_dir_open_existing (job->cache_dir, NULL);
  if (dir) {
    entry = gst_memmap_cache_entry_open_existing (dir, hash,
        GST_MEMMAP_CACHE_ENTRY_LOCK, NULL);
    /* the frames are in the cache now: the next call may read them
     * without decoding (the direct path checks which) */
    if (entry)
      gst_memmap_frames_job_index_store (job, dir, hash);
    gst_memmap_cache_dir_free (dir);
  }
  return entry;
}

/* What one call got out of a recording, copied under its lock. */
typedef struct
{
  GPtrArray *buffers;
  GstCaps *caps;
  GstVideoInfo info;
  guint64 first;
  gboolean clipped;
  guint64 decoded;
  guint64 copied;
  gchar *entry_hash;            /* NULL unless one entry */
  gchar *warning;
  gboolean gap;
} Take;

static void
take_clear (Take * t)
{
  g_ptr_array_unref (t->buffers);
  gst_clear_caps (&t->caps);
  g_free (t->entry_hash);
  g_free (t->warning);
}

/* The call's frames out of @r, or FALSE with @error set, or FALSE with
 * *@renumber set when the recording cannot number them (the caller
 * records from the start instead). With r->lock. */
static gboolean
recording_take (GstMemmapRecording * r, Job * job, Take * t,
    gboolean * renumber, GError ** error)
{
  guint64 have, i, copied = 0;

  if (r->error) {
    GError *err = g_error_copy (r->error);

    /* name the input, which decoder errors do not */
    if (!strstr (err->message, job->input)) {
      gchar *msg = g_strdup_printf ("Could not decode '%s': %s", job->input,
          err->message);

      g_free (err->message);
      err->message = msg;
    }
    g_propagate_error (error, err);
    return FALSE;
  }
  if (r->layout_changed) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "'%s': the video changes its size or format at frame %"
        G_GUINT64_FORMAT ", which one GstMemmapFrames cannot hold",
        job->input, r->base + r->buffers->len);
    return FALSE;
  }
  if (r->unnumbered || r->base == G_MAXUINT64 || r->base > job->start) {
    *renumber = TRUE;
    return FALSE;
  }
  have = r->base + r->buffers->len;
  /* stopped under the call (after an error of another call): again, from
   * the start */
  if (r->stopping && !r->eos && have < job->end) {
    *renumber = TRUE;
    return FALSE;
  }

  t->first = MIN (job->start, have);
  t->clipped = r->eos && job->end != G_MAXUINT64 && have < job->end;
  t->buffers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  for (i = t->first; i < MIN (job->end, have); i++) {
    GstBuffer *buf = g_ptr_array_index (r->buffers, i - r->base);

    g_ptr_array_add (t->buffers, gst_buffer_ref (buf));
    if (!gst_memmap_frames_store_path_of (buf))
      copied++;
  }
  if (r->caps)
    t->caps = gst_caps_ref (r->caps);
  t->info = r->info;
  t->decoded = r->decoded;
  t->copied = copied;
  t->entry_hash = r->one_entry ? g_strdup (r->entry_hash) : NULL;
  t->warning = g_strdup (r->warning);
  t->gap = r->gap;
  return TRUE;
}

/* The result's stats: counts of the call and memmapcache's own. */
static GstStructure *
recording_stats (GstMemmapRecording * r, Job * job, Take * t,
    gboolean joined, const GstStructure * cache_stats)
{
  static const gchar *fields[][2] = {
    {"hits", "cache-hits"}, {"misses", "cache-misses"},
    {"frames-served", "frames-served"}, {"frames-recorded",
        "frames-recorded"},
  };
  GstStructure *stats;
  guint64 v;
  guint i;

  stats = gst_structure_new ("memmap-frames-stats",
      "direct", G_TYPE_BOOLEAN, FALSE,
      "decoded-frames", G_TYPE_UINT64, t->decoded,
      "frames-from-cache", G_TYPE_UINT64,
      (guint64) t->buffers->len - t->copied,
      "frames-copied", G_TYPE_UINT64, t->copied,
      "fresh-entry", G_TYPE_BOOLEAN, job->fresh_key,
      "cache-generation", G_TYPE_UINT, job->generation,
      "recording", G_TYPE_UINT, r->serial,
      "recording-joined", G_TYPE_BOOLEAN, joined,
      "recording-from-seek", G_TYPE_BOOLEAN, r->from_seek, NULL);
  for (i = 0; cache_stats && i < G_N_ELEMENTS (fields); i++) {
    if (gst_structure_get_uint64 (cache_stats, fields[i][0], &v))
      gst_structure_set (stats, fields[i][1], G_TYPE_UINT64, v, NULL);
  }
  if (t->entry_hash) {
    gchar *path = g_build_filename (job->cache_dir, t->entry_hash, NULL);

    gst_structure_set (stats, "cache-entry", G_TYPE_STRING, path, NULL);
    g_free (path);
  }
  if (t->warning)
    gst_structure_set (stats, "cache-warning", G_TYPE_STRING, t->warning, NULL);
  return stats;
}

/* The frames of @t, holding @r and the cache entry. */
static GstMemmapFrames *
recording_frames (GstMemmapRecording * r, Job * job, Take * t,
    gboolean joined, gboolean * gap, GError ** error)
{
  GstStructure *cache_stats = NULL, *stats;
  GstMemmapCacheEntry *entry = NULL;
  GstMemmapFrames *frames;
  guint64 v;

  g_object_get (r->cache, "stats", &cache_stats, NULL);
  /* lost frames: frames that do not follow each other after some came
   * from the cache (a decoder's own output with a hole is the stream's) */
  *gap = t->gap && cache_stats != NULL &&
      gst_structure_get_uint64 (cache_stats, "frames-served", &v) && v > 0;
  if (*gap && !job->fresh_key) {
    /* the caller tries again with a fresh entry */
    GST_WARNING ("%s: frames were lost on the way out of the cache entry "
        "%s: decoding into a new entry", job->input,
        GST_STR_NULL (t->entry_hash));
    if (cache_stats)
      gst_structure_free (cache_stats);
    return NULL;
  }

  /* keep the entry from eviction while the frames live */
  if (t->entry_hash && t->buffers->len > 0 && !*gap)
    entry = hold_entry (job, t->entry_hash);
  if (t->caps == NULL)
    gst_video_info_init (&t->info);
  stats = recording_stats (r, job, t, joined, cache_stats);
  if (cache_stats)
    gst_structure_free (cache_stats);
  frames = gst_memmap_frames_new_from_buffers (t->buffers, t->caps, &t->info,
      t->first, t->clipped, stats, &entry, error);
  if (entry)
    gst_memmap_cache_entry_close (entry);
  if (frames) {
    g_mutex_lock (&table_lock);
    r->refcount++;
    g_mutex_unlock (&table_lock);
    g_object_set_qdata_full (G_OBJECT (frames), recording_quark (), r,
        recording_unref);
  }
  return frames;
}

/* Frames the direct path read while the stream's recording lives: they
 * hold it (it records ahead of a sequential reader as if the call had
 * joined it). */
void
gst_memmap_frames_adopt_recording (Job * job, GstMemmapFrames * frames)
{
  GstMemmapRecording *r = NULL;
  gchar *key = recording_key (job);

  g_mutex_lock (&table_lock);
  if (table)
    r = g_hash_table_lookup (table, key);
  if (r)
    r->refcount++;
  g_mutex_unlock (&table_lock);
  g_free (key);
  if (r == NULL)
    return;
  g_mutex_lock (&r->lock);
  recording_raise_goal (r, job, TRUE);
  g_mutex_unlock (&r->lock);
  g_object_set_qdata_full (G_OBJECT (frames), recording_quark (), r,
      recording_unref);
}

/* Removes one @start from the waiting calls' starts. With r->lock. */
static void
no_longer_waiting (GstMemmapRecording * r, guint64 start)
{
  guint i;

  for (i = 0; i < r->waiting_starts->len; i++) {
    if (g_array_index (r->waiting_starts, guint64, i) == start) {
      g_array_remove_index_fast (r->waiting_starts, i);
      return;
    }
  }
}

/* One try: join or start a recording, wait, take. */
static GstMemmapFrames *
recording_run (Job * job, gboolean allow_seek, gboolean * renumber,
    gboolean * gap, GError ** error)
{
  GstMemmapRecording *r;
  GstMemmapFrames *frames = NULL;
  gboolean joined, ok, stop;
  Take t = { NULL, };

  r = recording_get (job, allow_seek, &joined, error);
  if (r == NULL)
    return NULL;
  ok = recording_wait (r, job, joined, error);

  g_mutex_lock (&r->lock);
  if (ok)
    ok = recording_take (r, job, &t, renumber, error);
  no_longer_waiting (r, job->start);
  g_mutex_unlock (&r->lock);

  g_mutex_lock (&table_lock);
  r->waiters--;
  if (!ok)
    recording_unregister (r);
  /* a recording that failed a call gives way (memmapcache's writer lock)
   * unless another call still waits on it */
  stop = !ok && r->waiters == 0;
  g_mutex_unlock (&table_lock);
  if (stop)
    gst_memmap_recording_stop (r);

  if (ok) {
    frames = recording_frames (r, job, &t, joined, gap, error);
    take_clear (&t);
  }
  recording_unref (r);
  return frames;
}

GstMemmapFrames *
gst_memmap_frames_run_pipeline (Job * job, gboolean * gap, GError ** error)
{
  GstMemmapFrames *frames;
  gboolean renumber = FALSE;

  *gap = FALSE;
  frames = recording_run (job, TRUE, &renumber, gap, error);
  if (frames == NULL && renumber) {
    /* the seek could not number the frames: count them from the start */
    GST_INFO ("%s: frames after a seek cannot be numbered: decoding from "
        "the start", job->input);
    renumber = FALSE;
    frames = recording_run (job, FALSE, &renumber, gap, error);
    if (frames == NULL && renumber)
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
          "'%s': the frames could not be numbered", job->input);
  }
  return frames;
}

/**
 * gst_memmap_frames_get_recordings_stats: (skip)
 *
 * Private: the counters of this process's recordings (see
 * gstmemmaprecordingstats.h).
 *
 * Returns: (transfer full): a `memmap-recordings-stats` structure
 */
GstStructure *
gst_memmap_frames_get_recordings_stats (void)
{
  GstStructure *s;
  guint64 decoded;

  G_LOCK (n_decoded);
  decoded = n_decoded;
  G_UNLOCK (n_decoded);
  g_mutex_lock (&table_lock);
  s = gst_structure_new ("memmap-recordings-stats",
      "recordings-started", G_TYPE_UINT64, (guint64) last_serial,
      "recordings-from-seek", G_TYPE_UINT64, n_from_seek,
      "recordings-live", G_TYPE_UINT, n_live,
      "recordings-seeked-again", G_TYPE_UINT64,
      (guint64) g_atomic_int_get (&n_reseeks),
      "frames-decoded", G_TYPE_UINT64, decoded, NULL);
  g_mutex_unlock (&table_lock);
  return s;
}
