/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memmapcache: the recording path. The decoder's frames into the slot
 * store (zero-copy when it decoded into a slot), the budget, the failures
 * and the one warning each, the runs of cached frames that become the GOP
 * file's intervals, the stream's end. Under the stream lock. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcacheprivate.h"

#define GST_CAT_DEFAULT gst_memmap_cache_debug

/* Buffer flags a frame store keeps (gst_memmap_store_frame_flags_from_buffer
 * (): field flags, CORRUPTED, GAP; DISCONT is set as the decoder would) or
 * that say nothing of the frame (TAG_MEMORY); frames with any other flag
 * pass through uncached. */
#define CACHEABLE_FLAGS (GST_BUFFER_FLAG_DISCONT | \
    GST_BUFFER_FLAG_TAG_MEMORY | GST_VIDEO_BUFFER_FLAG_INTERLACED | \
    GST_VIDEO_BUFFER_FLAG_TFF | GST_VIDEO_BUFFER_FLAG_RFF | \
    GST_VIDEO_BUFFER_FLAG_ONEFIELD | GST_BUFFER_FLAG_CORRUPTED | \
    GST_BUFFER_FLAG_GAP)

/* ------------------------------------------------------------------------ */
/* failures                                                                 */

/* Stops recording: the slot store closes (its pool hands out plain memory
 * from then on) and upstream is asked to renegotiate its allocation. */
static void
stop_recording (GstMemmapCache * self)
{
  if (self->store == NULL)
    return;
  gst_memmap_slot_store_close (self->store, NULL);
  gst_pad_push_event (self->sinkpad, gst_event_new_reconfigure ());
}

/* What the stream goes on with, after a failure that leaves nothing of the
 * cache usable, and after one that only stops recording. */
#define WITHOUT_CACHE "playing without it"
#define WITHOUT_RECORDING "going on without recording: what is cached is " \
    "served, the rest decoded"

/* The one warning for the stream about @error at @path; @serving: only
 * recording stopped, what is cached is still served. */
void
gst_memmap_cache_warn_once (GstMemmapCache * self, const GError * error,
    const gchar * path, gboolean serving)
{
  const gchar *then = serving ? WITHOUT_RECORDING : WITHOUT_CACHE;
  gboolean warn = !self->warned;

  self->warned = TRUE;
  if (!warn) {
    GST_DEBUG_OBJECT (self, "cache still unusable: %s", error->message);
    return;
  }
  if ((error->domain == GST_MEMMAP_ERROR &&
          error->code == GST_MEMMAP_ERROR_NO_SPACE) ||
      (error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOSPC)) {
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("No space left for the frame cache \"%s\"; %s.", path, then),
        ("%s: %s", path, error->message));
  } else if (error->domain == GST_MEMMAP_ERROR &&
      (error->code == GST_MEMMAP_ERROR_CORRUPT ||
          error->code == GST_MEMMAP_ERROR_VERSION)) {
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("The frame cache \"%s\" is corrupt; %s.", path, then),
        ("%s: %s", path, error->message));
  } else if (error->domain == GST_MEMMAP_ERROR &&
      error->code == GST_MEMMAP_ERROR_TRUNCATED) {
    /* its writer (this element, or another) left it damaged */
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("The frame cache \"%s\" was truncated by another program; %s.",
            path, then), ("%s: %s", path, error->message));
  } else {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
        ("Could not %s the frame cache \"%s\"; %s.",
            serving ? "record into" : "use", path, then),
        ("%s: %s", path, error->message));
  }
}

/* The cache cannot be used: one warning for the stream, then the frames
 * pass through uncached. What is being served goes on. */
void
gst_memmap_cache_failed (GstMemmapCache * self, const GError * error,
    const gchar * path)
{
  self->usable = FALSE;
  self->readable = FALSE;
  stop_recording (self);
  gst_memmap_cache_warn_once (self, error, path, FALSE);
}

/* ------------------------------------------------------------------------ */
/* opening and closing a stream's cache                                     */
void
gst_memmap_cache_update_disk_usage (GstMemmapCache * self, guint64 reserve)
{
  guint64 bytes;
  guint n = 0;

  if (self->dir == NULL)
    return;
  bytes = gst_memmap_cache_dir_enforce_budget (self->dir, self->cur.max_size,
      reserve, self->entry ? gst_memmap_cache_entry_get_hash (self->entry) :
      NULL, &n);
  GST_OBJECT_LOCK (self);
  self->bytes_on_disk = bytes;
  self->evictions += n;
  GST_OBJECT_UNLOCK (self);
  if (n > 0)
    GST_INFO_OBJECT (self, "evicted %u streams from %s, %" G_GUINT64_FORMAT
        " bytes on disk now", n, gst_memmap_cache_dir_get_path (self->dir),
        bytes);
}

/* Copies the frame into a new slot; returns the slot's memory. */
static GstMemory *
copy_into_slot (GstMemmapCache * self, GstBuffer * buffer, GError ** error)
{
  GstVideoFrame in_frame;
  GstMemory *mem;

  if (!gst_video_frame_map (&in_frame, &self->info, buffer, GST_MAP_READ)) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "a buffer of %" G_GSIZE_FORMAT " bytes is not a frame of the caps",
        gst_buffer_get_size (buffer));
    return NULL;
  }
  mem = gst_memmap_slot_store_copy_frame (self->store, &in_frame, error);
  gst_video_frame_unmap (&in_frame);
  return mem;
}

/* The stream does not fit the budget (gst_memmap_cache_stream_limit()):
 * known to be larger than max-size (@estimate), only its start is
 * recorded, evicting nothing; or it reached the most its entry may take
 * (@estimate 0). Says so once. */
static void
over_budget (GstMemmapCache * self, guint64 estimate)
{
  gboolean warn = !self->warned;

  GST_OBJECT_LOCK (self);
  self->over_budget = TRUE;
  GST_OBJECT_UNLOCK (self);
  self->warned = TRUE;
  if (!warn)
    return;
  if (estimate > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("The stream does not fit in the frame cache (about %"
            G_GUINT64_FORMAT " MB, max-size=%" G_GUINT64_FORMAT " MB): only "
            "its start is recorded, into free room, nothing evicted.",
            estimate / 1000000, self->cur.max_size / 1000000),
        ("%s: about %" G_GUINT64_FORMAT " bytes, max-size=%" G_GUINT64_FORMAT
            ", at most %" G_GUINT64_FORMAT " recorded",
            gst_memmap_cache_entry_get_path (self->entry), estimate,
            self->cur.max_size, self->stream_limit));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
        ("The stream reached the most the frame cache holds of %s "
            "(max-size=%" G_GUINT64_FORMAT " MB); " WITHOUT_RECORDING ".",
            self->stream_limit < self->cur.max_size ?
            "a stream of unknown length, half" : "one stream",
            self->cur.max_size / 1000000),
        ("%s: %" G_GUINT64_FORMAT " bytes on disk, at most %" G_GUINT64_FORMAT,
            gst_memmap_cache_entry_get_path (self->entry),
            gst_memmap_cache_entry_get_usage (self->entry),
            self->stream_limit));
}

/* Whether the stream's entry may grow by another chunk. */
static gboolean
stream_fits (GstMemmapCache * self)
{
  return gst_memmap_cache_entry_get_usage (self->entry) + self->chunk_bytes <=
      self->stream_limit;
}

/* Whether there is room under max-size for another chunk: made by evicting
 * the least recently used streams if this stream may evict, else only
 * what is free. */
static gboolean
room_for_chunk (GstMemmapCache * self)
{
  guint64 bytes;

  if (self->may_evict) {
    gst_memmap_cache_update_disk_usage (self, self->chunk_bytes);
  } else {
    bytes = gst_memmap_cache_dir_get_usage (self->dir);
    GST_OBJECT_LOCK (self);
    self->bytes_on_disk = bytes;
    GST_OBJECT_UNLOCK (self);
  }
  return self->bytes_on_disk + self->chunk_bytes <= self->cur.max_size;
}

/* What the whole stream takes on disk, 0 if unknown (upstream knows no
 * duration, or the frame rate is variable). */
static guint64
estimate_stream (GstMemmapCache * self, guint64 slot_bytes)
{
  gint64 duration = -1;

  if (!gst_pad_peer_query_duration (self->sinkpad, GST_FORMAT_TIME,
          &duration) || duration <= 0)
    return 0;
  return gst_memmap_cache_estimate_stream_bytes (slot_bytes,
      GST_VIDEO_INFO_FPS_N (&self->info), GST_VIDEO_INFO_FPS_D (&self->info),
      duration);
}

/* Creates the store this run records into. Not recording (no room, or
 * failed), the run gives the writer lock back: another pipeline or process
 * may record the stream while this one still plays it. */
gboolean
gst_memmap_cache_open_recording (GstMemmapCache * self,
    GstMemmapEngine * engine, GError ** error)
{
  GstMemmapStoreWriter *writer;
  GstMemmapStoreReader *reader;
  guint64 slot_bytes, estimate;

  if (!gst_memmap_cache_entry_lock_writer (self->entry, error))
    return FALSE;

  /* a chunk is a sixteenth of the budget at most, so that small budgets
   * are not exceeded by one reservation */
  slot_bytes = GST_ROUND_UP_N ((guint64) GST_VIDEO_INFO_SIZE (&self->info),
      4096);
  self->chunk_bytes = MIN (GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES,
      MAX (self->cur.max_size / 16, slot_bytes));
  /* a stream that cannot fit evicts nothing for a fragment of itself */
  estimate = estimate_stream (self, slot_bytes);
  self->stream_limit = gst_memmap_cache_stream_limit (self->cur.max_size,
      estimate, &self->may_evict);
  if (estimate > self->cur.max_size)
    over_budget (self, estimate);
  if (!stream_fits (self)) {
    over_budget (self, 0);
    gst_memmap_cache_entry_unlock_writer (self->entry);
    return TRUE;
  }
  if (!room_for_chunk (self)) {
    GST_INFO_OBJECT (self, "no room under max-size=%" G_GUINT64_FORMAT
        ": not recording", self->cur.max_size);
    gst_memmap_cache_entry_unlock_writer (self->entry);
    return TRUE;
  }

  self->store_path = gst_memmap_cache_entry_new_store_path (self->entry);
  writer = gst_memmap_store_writer_new_full (engine, self->store_path,
      self->caps, &self->info, GST_MEMMAP_STORE_MODE_APPEND, 0, 0,
      self->chunk_bytes, GST_MEMMAP_STORE_WRITER_FLAG_NONE, error);
  if (writer == NULL)
    goto failed;
  reader = gst_memmap_store_reader_open (engine, self->store_path, error);
  if (reader == NULL) {
    gst_memmap_store_writer_unref (writer);
    /* empty: nothing to keep */
    gst_memmap_cache_entry_remove_store (self->entry, self->store_path);
    goto failed;
  }
  self->store = gst_memmap_slot_store_new (writer);
  /* a decoder may render into the slots, laid out as it asks */
  gst_memmap_slot_store_allow_relayout (self->store, engine, self->caps,
      self->chunk_bytes, GST_MEMMAP_STORE_WRITER_FLAG_NONE);
  self->store_generation = 0;
  self->bytes_since_check = 0;
  self->store_reader = self->readers->len;
  g_ptr_array_add (self->readers, reader);
  GST_INFO_OBJECT (self, "recording into %s", self->store_path);

  return TRUE;

failed:
  gst_memmap_cache_entry_unlock_writer (self->entry);
  return FALSE;
}

/* The slot pool laid the store out again for a decoder before any frame
 * (docs/design.md, "Decoding into the slots"): the file at the path is a
 * new one, opened again here. */
static gboolean
follow_relayout (GstMemmapCache * self, GError ** error)
{
  guint generation = gst_memmap_slot_store_get_generation (self->store);
  GstMemmapStoreReader *reader;
  GstMemmapEngine *engine;

  if (G_LIKELY (generation == self->store_generation))
    return TRUE;
  GST_OBJECT_LOCK (self);
  engine = self->engine ? gst_object_ref (self->engine) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (engine == NULL)
    engine = gst_object_ref (gst_memmap_engine_get_default ());
  reader = gst_memmap_store_reader_open (engine, self->store_path, error);
  gst_object_unref (engine);
  if (reader == NULL)
    return FALSE;
  gst_memmap_store_reader_unref (g_ptr_array_index (self->readers,
          self->store_reader));
  g_ptr_array_index (self->readers, self->store_reader) = reader;
  self->store_generation = generation;
  return TRUE;
}

/* Frames that memmapcache passes through without caching them: why, once
 * per stream on the bus, and in the stats. */
static void
warn_not_cached (GstMemmapCache * self, const gchar * why)
{
  gboolean first;

  GST_OBJECT_LOCK (self);
  first = self->not_cached == NULL;
  if (first)
    self->not_cached = g_strdup (why);
  GST_OBJECT_UNLOCK (self);
  if (self->warned_not_cached) {
    GST_LOG_OBJECT (self, "not cached: %s", why);
    return;
  }
  self->warned_not_cached = TRUE;
  GST_ELEMENT_WARNING (self, STREAM, NOT_IMPLEMENTED,
      ("Some frames are not cached: %s; they are passed through as they "
          "are.", why), ("%s", why));
}

/* A cached frame could not be read from @reader: one warning (the decoded
 * frame goes on instead), and no GOP is served any more. */
void
gst_memmap_cache_read_failed (GstMemmapCache * self,
    GstMemmapStoreReader * reader, const GError * error)
{
  self->readable = FALSE;
  if (self->warned)
    return;
  self->warned = TRUE;
  if (g_error_matches (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED))
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("The frame cache \"%s\" was truncated by another program; "
            "playing without it.", gst_memmap_store_reader_get_path (reader)),
        ("%s (frames pushed before may hold zeros where its bytes were)",
            error->message));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Could not read the frame cache \"%s\"; playing without it.",
            gst_memmap_store_reader_get_path (reader)), ("%s",
            error->message));
}

/* Every frame downstream goes through here: runs of frames that went
 * downstream one after the other, each cached (@pts its real pts), become
 * the GOP file's intervals. */
void
gst_memmap_cache_note_output (GstMemmapCache * self, GstClockTime pts,
    gboolean cached)
{
  if (!cached || !GST_CLOCK_TIME_IS_VALID (pts) ||
      (self->run_valid && pts <= self->run_last)) {
    self->run_valid = FALSE;
    return;
  }
  if (!self->run_valid) {
    self->run_valid = TRUE;
    self->run_first = pts;
  }
  self->run_last = pts;
  if (self->gops && self->store) {
    GstClockTime key, next_key;

    gst_memmap_cache_gops_cover (self->gops, self->run_first, pts, FALSE);
    /* a GOP range newly covered: other pipelines may serve it now */
    if (pts > self->run_first &&
        gst_memmap_cache_gops_find_range (self->gops, pts, &key, &next_key)
        && key == pts)
      gst_memmap_cache_save_gops (self);
  }
}

/* ------------------------------------------------------------------------ */
/* recording                                                                */

/* The stop of the last seek (NONE if none or open-ended); *@seen: a seek
 * was made since the stream started. */
GstClockTime
gst_memmap_cache_get_seek_stop (GstMemmapCache * self, gboolean * seen)
{
  GstClockTime stop;

  GST_OBJECT_LOCK (self);
  stop = self->seek_stop;
  if (seen)
    *seen = self->seen_seek;
  GST_OBJECT_UNLOCK (self);
  return stop;
}

/* Whether the decoder may have clipped this frame to the segment (its real
 * timestamps are then unknown): the first frame after a seek that starts
 * inside it, the last one before a seek's stop. */
static gboolean
maybe_clipped (GstMemmapCache * self, GstClockTime pts, GstClockTime duration)
{
  gboolean seen;
  GstClockTime stop = gst_memmap_cache_get_seek_stop (self, &seen);

  /* a packet that starts or ends there says it is a whole frame, unless
   * the frame of a packet before the start came out clipped to it first
   * (then two frames have that pts, the whole one second) */
  if (seen && pts == self->segment.start && (!self->start_is_frame ||
          self->kept_before_start))
    return TRUE;
  return !self->stop_is_frame && GST_CLOCK_TIME_IS_VALID (stop) &&
      GST_CLOCK_TIME_IS_VALID (self->segment.stop) &&
      GST_CLOCK_TIME_IS_VALID (duration) &&
      pts + duration == self->segment.stop;
}

/* Why a frame of these flags cannot be cached, or NULL. */
static const gchar *
uncacheable_flags (GstBuffer * buffer)
{
  GstBufferFlags flags = GST_BUFFER_FLAGS (buffer) & ~CACHEABLE_FLAGS;

  if (flags == 0)
    return NULL;
  return "frames with buffer flags the frame store does not keep";
}

/* After a frame was recorded: the budget, at every chunk's worth of
 * frames. */
static void
check_budget (GstMemmapCache * self)
{
  self->bytes_since_check += GST_ROUND_UP_N ((guint64)
      GST_VIDEO_INFO_SIZE (&self->info), 4096);
  if (self->bytes_since_check < self->chunk_bytes)
    return;
  self->bytes_since_check = 0;
  /* what a killed run cached stays usable up to here */
  gst_memmap_cache_save_gops (self);
  if (!stream_fits (self)) {
    over_budget (self, 0);
    stop_recording (self);
    return;
  }
  if (!room_for_chunk (self)) {
    GST_INFO_OBJECT (self, "%s: max-size=%" G_GUINT64_FORMAT " reached, "
        "recording stops", self->store_path, self->cur.max_size);
    stop_recording (self);
  }
}

/* Records @buffer when it is new and can be cached, and returns what goes
 * downstream: the committed slot, read-only, or @buffer itself. *@cached:
 * the frame is in the cache (now or from before). */
GstBuffer *
gst_memmap_cache_record (GstMemmapCache * self, GstBuffer * buffer,
    gboolean * cached)
{
  GstMemmapStoreReader *reader;
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstClockTime duration = GST_BUFFER_DURATION (buffer);
  GError *error = NULL;
  GstMemory *mem;
  GstBuffer *out;
  CachedFrame frame;
  const gchar *why;
  gboolean zero_copy;
  gint i;

  *cached = FALSE;
  if (!self->usable || self->caps == NULL)
    return buffer;
  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    warn_not_cached (self, "frames without a timestamp");
    return buffer;
  }
  if (!gst_memmap_cache_segment_servable (&self->segment)) {
    warn_not_cached (self, "playback at a rate other than 1.0 or in a trick "
        "mode (passed through, not recorded)");
    return buffer;
  }
  if (maybe_clipped (self, pts, duration)) {
    GST_LOG_OBJECT (self, "not caching %" GST_TIME_FORMAT ", maybe clipped",
        GST_TIME_ARGS (pts));
    return buffer;
  }
  if ((i = gst_memmap_cache_find_frame (self, pts)) >= 0) {
    const CachedFrame *f = &g_array_index (self->frames, CachedFrame, i);

    /* the same kind of memory as every other frame downstream gets */
    *cached = TRUE;
    out = gst_memmap_store_reader_get_buffer (g_ptr_array_index
        (self->readers, f->store), NULL, f->frame, &error);
    if (out == NULL) {
      gst_memmap_cache_read_failed (self, g_ptr_array_index (self->readers,
              f->store), error);
      g_clear_error (&error);
      *cached = FALSE;
      return buffer;
    }
    gst_buffer_copy_into (out, buffer, GST_BUFFER_COPY_FLAGS |
        GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
    gst_buffer_unref (buffer);
    return out;
  }
  if ((why = uncacheable_flags (buffer))) {
    warn_not_cached (self, why);
    return buffer;
  }
  if (self->store == NULL || gst_memmap_slot_store_is_closed (self->store))
    return buffer;

  if (!follow_relayout (self, &error))
    goto failed;
  mem = gst_memmap_slot_pool_get_buffer_slot (self->store, buffer);
  zero_copy = (mem != NULL);
  if (zero_copy)
    gst_memory_ref (mem);
  else if ((mem = copy_into_slot (self, buffer, &error)) == NULL)
    goto failed;

  /* the frame's buffer flags (field flags among them), as memmapsink */
  if (!gst_memmap_slot_store_commit (self->store, mem, pts, duration,
          gst_memmap_store_frame_flags_from_buffer (buffer), &error)) {
    gst_memory_unref (mem);
    goto failed;
  }
  gst_memory_unref (mem);

  frame.pts = pts;
  frame.duration = duration;
  frame.store = self->store_reader;
  frame.seen = 0;
  frame.frame = gst_memmap_slot_store_get_committed (self->store) - 1;
  gst_memmap_cache_insert_frame (self, &frame);
  *cached = TRUE;
  reader = g_ptr_array_index (self->readers, self->store_reader);

  GST_OBJECT_LOCK (self);
  self->frames_recorded++;
  if (zero_copy)
    self->frames_zero_copy++;
  else
    self->frames_copied++;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "recorded frame %" G_GUINT64_FORMAT " pts %"
      GST_TIME_FORMAT " %s", frame.frame, GST_TIME_ARGS (pts),
      zero_copy ? "in place" : "copied");

  /* downstream gets the committed slot, read-only */
  out = gst_memmap_store_reader_get_buffer (reader, NULL, frame.frame, &error);
  if (out == NULL)
    goto failed;
  gst_buffer_copy_into (out, buffer, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  gst_buffer_unref (buffer);

  check_budget (self);
  return out;

failed:
  gst_memmap_cache_failed (self, error, self->store_path);
  g_clear_error (&error);
  return buffer;
}

/* At EOS from upstream: the stream ends at the last frame; complete if one
 * interval covers it from its first frame. */
void
gst_memmap_cache_mark_end (GstMemmapCache * self)
{
  GstMemmapCacheCover *c;

  if (!GST_CLOCK_TIME_IS_VALID (self->last_end) || self->downstream_ended ||
      GST_CLOCK_TIME_IS_VALID (gst_memmap_cache_get_seek_stop (self, NULL)) ||
      !gst_memmap_cache_segment_servable (&self->segment)) {
    GST_DEBUG_OBJECT (self, "EOS: the end of the stream is not known");
    return;
  }
  if (self->run_valid && self->gops && self->store)
    gst_memmap_cache_gops_cover (self->gops, self->run_first,
        self->run_last, TRUE);
  if (self->gops == NULL)
    return;
  self->meta.end = self->last_end;
  c = GST_CLOCK_TIME_IS_VALID (self->meta.start) ?
      gst_memmap_cache_gops_find_cover (self->gops, self->meta.start) : NULL;
  if (c && c->eos)
    self->meta.complete = TRUE;
  GST_INFO_OBJECT (self, "stream ends at %" GST_TIME_FORMAT "%s",
      GST_TIME_ARGS (self->meta.end), self->meta.complete ? ", all cached" :
      "");
  gst_memmap_cache_write_meta (self);
  gst_memmap_cache_save_gops (self);
}
