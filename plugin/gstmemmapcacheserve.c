/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memmapcache: the serving path. The probe on the decoder's sink pad
 * decides which packets the decoder needs (per GOP range); the chain merges
 * the cached frames of served ranges with the decoder's frames, in pts
 * order, clipped as GstVideoDecoder clips. Under the stream lock. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcacheprivate.h"

#define GST_CAT_DEFAULT gst_memmap_cache_debug

/* GstVideoDecoder's stand-in for the duration of a frame that has none,
 * when it clips (gst_video_decoder_clip_and_push_buf) */
#define DECODER_CLIP_DURATION (40 * GST_MSECOND)

static gboolean range_covered (GstMemmapCache * self, GstClockTime key,
    GstClockTime next_key);

/* ------------------------------------------------------------------------ */
/* the merge: cached frames of served GOPs and the decoder's frames, in pts */
/* order, under the stream lock                                             */

/* The index in served of the last range whose key is <= @pts, or -1. */
static gint
served_at_or_before (GstMemmapCache * self, GstClockTime pts)
{
  gint lo = 0, hi = (gint) self->served->len - 1, found = -1;

  while (lo <= hi) {
    gint mid = lo + (hi - lo) / 2;

    if (g_array_index (self->served, Served, mid).key <= pts) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/* The served range that holds @pts, or NULL. */
static Served *
find_served (GstMemmapCache * self, GstClockTime pts)
{
  gint i;
  Served *s;

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return NULL;
  i = served_at_or_before (self, pts);
  if (i < 0)
    return NULL;
  s = &g_array_index (self->served, Served, i);
  if (GST_CLOCK_TIME_IS_VALID (s->next_key) && pts >= s->next_key)
    return NULL;
  return s;
}
static void
add_served (GstMemmapCache * self, GstClockTime key, GstClockTime next_key)
{
  Served s = { key, next_key, FALSE };

  g_array_insert_val (self->served, served_at_or_before (self, key) + 1, s);
}

/* The first cached frame after @after (NONE: from the start) in a served
 * range, or -1. */
static gint
next_served_frame (GstMemmapCache * self, GstClockTime after)
{
  guint i = GST_CLOCK_TIME_IS_VALID (after) ?
      gst_memmap_cache_first_frame_from (self, after + 1) : 0;

  while (i < self->frames->len) {
    GstClockTime pts = g_array_index (self->frames, CachedFrame, i).pts;
    gint s;

    if (find_served (self, pts))
      return (gint) i;
    /* on to the next served range */
    s = served_at_or_before (self, pts) + 1;
    if ((guint) s >= self->served->len)
      return -1;
    i = gst_memmap_cache_first_frame_from (self, g_array_index (self->served,
            Served, s).key);
  }
  return -1;
}

/* The decoder's segment: the one the probe saw since the flush, or (at the
 * stream's start, before the probe existed) the one downstream has. */
static const GstSegment *
decoder_segment (GstMemmapCache * self, GstSegment * tmp)
{
  if (self->dec_segment == NULL)
    return &self->segment;
  gst_event_copy_segment (self->dec_segment, tmp);
  return tmp;
}

/* A packet of @pts and @duration went into the decoder: its frame is owed,
 * unless the decoder will clip it away. */
static void
owe (GstMemmapCache * self, GstClockTime pts, GstClockTime duration)
{
  GstSegment tmp;
  const GstSegment *seg = decoder_segment (self, &tmp);
  guint i;

  if (seg->format == GST_FORMAT_TIME) {
    if (GST_CLOCK_TIME_IS_VALID (seg->stop) && pts >= seg->stop)
      return;
    if (GST_CLOCK_TIME_IS_VALID (duration) && pts + duration <= seg->start)
      return;
  }
  i = self->owed->len;
  while (i > 0 && g_array_index (self->owed, GstClockTime, i - 1) > pts)
    i--;
  g_array_insert_val (self->owed, i, pts);
}

/* The decoder gave a frame of @pts: it gives frames in pts order, so every
 * owed frame up to it is out (or will never be: clipped, dropped). */
static void
settle_owed (GstMemmapCache * self, GstClockTime pts)
{
  guint n = 0;

  while (n < self->owed->len &&
      g_array_index (self->owed, GstClockTime, n) <= pts)
    n++;
  if (n)
    g_array_remove_range (self->owed, 0, n);
}

/* Whether the cached frame @f (in @s) may go downstream before the decoder
 * gives anything more: every packet of a frame before it reached the
 * decoder, and the decoder gave every frame before it that it owes. */
static gboolean
may_push_now (GstMemmapCache * self, const CachedFrame * f, const Served * s)
{
  if (self->unknown_pending || self->probe_gen != self->chain_gen ||
      self->probe_pass)
    return FALSE;
  if (!GST_CLOCK_TIME_IS_VALID (self->settled_key) ||
      s->key > self->settled_key)
    return FALSE;
  return self->owed->len == 0 ||
      g_array_index (self->owed, GstClockTime, 0) >= f->pts;
}

/* GstVideoDecoder's clipping (gst_video_decoder_clip_and_push_buf) at rate
 * 1.0: FALSE when the frame is outside the segment. */
static gboolean
clip_like_decoder (const GstSegment * seg, GstClockTime * pts,
    GstClockTime * duration)
{
  guint64 start = *pts, stop, cstart, cstop;

  /* without a duration, the decoder clips as if the frame lasted 40 ms */
  if (GST_CLOCK_TIME_IS_VALID (*duration))
    stop = start + *duration;
  else
    stop = start + DECODER_CLIP_DURATION;
  if (!gst_segment_clip (seg, GST_FORMAT_TIME, start, stop, &cstart, &cstop))
    return FALSE;
  *pts = cstart;
  if (GST_CLOCK_TIME_IS_VALID (*duration))
    *duration = cstop - cstart;
  return TRUE;
}

/* Before the first buffer after a flush: the segment the decoder has not
 * given yet (it gives it with its first frame) goes downstream from us. */
static gboolean
ensure_segment (GstMemmapCache * self)
{
  GstEvent *event;

  if (self->have_segment)
    return TRUE;
  if (self->dec_segment == NULL)
    return FALSE;
  event = gst_event_ref (self->dec_segment);
  gst_event_copy_segment (event, &self->segment);
  self->segment_seqnum = gst_event_get_seqnum (event);
  self->have_segment = TRUE;
  self->segment_ours = TRUE;
  GST_DEBUG_OBJECT (self, "decoder's segment first: %" GST_PTR_FORMAT, event);
  gst_pad_push_event (self->srcpad, event);
  return TRUE;
}

/* Pushes @buffer downstream with the DISCONT flag the decoder would give
 * it: on the first buffer after a flush; on the decoder's own frames as
 * the decoder says, except on its first after a flush when a cached frame
 * went first (@decoded: @buffer is the decoder's). */
static GstFlowReturn
push_out (GstMemmapCache * self, GstBuffer * buffer, gboolean decoded)
{
  GstFlowReturn ret;

  if (!decoded || self->dec_first || self->pending_discont) {
    buffer = gst_buffer_make_writable (buffer);
    if (self->pending_discont)
      GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
    else
      GST_BUFFER_FLAG_UNSET (buffer, GST_BUFFER_FLAG_DISCONT);
  }
  if (decoded)
    self->dec_first = FALSE;
  self->pending_discont = FALSE;
  if (self->first_buffer)
    self->first_buffer = FALSE;
  if (GST_BUFFER_DURATION_IS_VALID (buffer))
    self->last_end = GST_BUFFER_PTS (buffer) + GST_BUFFER_DURATION (buffer);
  else
    self->last_end = GST_BUFFER_PTS (buffer);
  ret = gst_pad_push (self->srcpad, buffer);
  /* downstream ended the stream (identity eos-after, a muxer that is
   * full): the EOS that upstream sends next is not the stream's end */
  if (ret == GST_FLOW_EOS)
    self->downstream_ended = TRUE;
  return ret;
}

/* Pushes the cached frame @f, clipped as the decoder clips. */
static GstFlowReturn
push_cached (GstMemmapCache * self, const CachedFrame * f)
{
  GstClockTime pts = f->pts, duration = f->duration;
  GError *error = NULL;
  GstBuffer *buffer;

  self->last_served = f->pts;
  if (!ensure_segment (self)) {
    GST_WARNING_OBJECT (self, "no segment for a cached frame");
    return GST_FLOW_OK;
  }
  if (!clip_like_decoder (&self->segment, &pts, &duration)) {
    GST_LOG_OBJECT (self, "cached frame %" GST_TIME_FORMAT " is outside "
        "the segment", GST_TIME_ARGS (f->pts));
    return GST_FLOW_OK;
  }
  buffer = gst_memmap_store_reader_get_buffer (g_ptr_array_index
      (self->readers, f->store), NULL, f->frame, &error);
  if (buffer == NULL)
    goto read_error;
  GST_BUFFER_PTS (buffer) = pts;
  /* as the decoder does: GstVideoDecoder gives no DTS, or the pts (newer
   * versions) */
  GST_BUFFER_DTS (buffer) = self->dts_is_pts ? f->pts : GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = duration;
  GST_BUFFER_OFFSET (buffer) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_OFFSET_END (buffer) = GST_BUFFER_OFFSET_NONE;
  GST_LOG_OBJECT (self, "cached frame %" GST_TIME_FORMAT " duration %"
      GST_TIME_FORMAT, GST_TIME_ARGS (pts), GST_TIME_ARGS (duration));
  COUNT (self, frames_served, 1);
  self->last_out = f->pts;
  gst_memmap_cache_note_output (self, f->pts, TRUE);
  return push_out (self, buffer, FALSE);

  /* ERRORS */
read_error:
  {
    /* its packets were dropped: the frame cannot be decoded any more */
    gst_memmap_cache_read_failed (self, g_ptr_array_index (self->readers,
            f->store), error);
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not read a frame of the frame cache \"%s\", whose "
            "decoding was skipped.", gst_memmap_store_reader_get_path
            (g_ptr_array_index (self->readers, f->store))),
        ("frame %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT "): %s",
            f->frame, GST_TIME_ARGS (f->pts), error->message));
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
}

/* Pushes the cached frames of the served ranges, in pts order, that come
 * before @upto (NONE: no bound); with @all, without waiting for the
 * decoder (it gave a frame at @upto, or it drained). */
GstFlowReturn
gst_memmap_cache_push_served (GstMemmapCache * self, GstClockTime upto,
    gboolean all)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK && self->served->len > 0) {
    gint i = next_served_frame (self, self->last_served);
    CachedFrame f;
    Served *s;

    if (i < 0)
      break;
    f = g_array_index (self->frames, CachedFrame, i);
    if (GST_CLOCK_TIME_IS_VALID (upto) && f.pts >= upto)
      break;
    if (!self->seen_all && f.seen != self->seen_gen) {
      /* its packet did not reach the decoder (yet): the decoder would not
       * give it (a demuxer stops at the first packet past the segment's
       * stop, in decoding order, before the B-frames that precede it) */
      if (!all)
        break;
      GST_LOG_OBJECT (self, "cached frame %" GST_TIME_FORMAT " not served: "
          "its packet never came", GST_TIME_ARGS (f.pts));
      self->last_served = f.pts;
      continue;
    }
    s = find_served (self, f.pts);
    if (!all && !may_push_now (self, &f, s))
      break;
    if (GST_CLOCK_TIME_IS_VALID (self->last_out) && f.pts <= self->last_out) {
      GST_WARNING_OBJECT (self, "cached frame %" GST_TIME_FORMAT " comes "
          "after %" GST_TIME_FORMAT ": skipped", GST_TIME_ARGS (f.pts),
          GST_TIME_ARGS (self->last_out));
      self->last_served = f.pts;
      continue;
    }
    ret = push_cached (self, &f);
  }
  return ret;
}

/* At a flush that reached us: a new segment starts. */
void
gst_memmap_cache_reset_segment (GstMemmapCache * self)
{
  gst_clear_event (&self->dec_segment);
  self->probe_seen = FALSE;
  self->probe_pass = FALSE;
  g_array_set_size (self->served, 0);
  g_array_set_size (self->owed, 0);
  self->cur_key = self->settled_key = self->orphan_key = GST_CLOCK_TIME_NONE;
  self->unknown_pending = FALSE;
  self->seen_gen++;
  self->seen_all = FALSE;
  self->start_is_frame = self->stop_is_frame = FALSE;
  self->kept_before_start = FALSE;
  self->have_segment = FALSE;
  self->segment_ours = FALSE;
  self->pending_discont = TRUE;
  self->dec_first = TRUE;
  self->last_out = self->last_served = GST_CLOCK_TIME_NONE;
  self->run_valid = FALSE;
}

/* ------------------------------------------------------------------------ */
/* the decoder's sink pad: which packets need decoding                      */


/* Whether the segment lets memmapcache drop and serve: forwards at rate
 * 1.0 in time, no trick mode. */
gboolean
gst_memmap_cache_segment_servable (const GstSegment * seg)
{
  return seg->format == GST_FORMAT_TIME && seg->rate == 1.0 &&
      seg->applied_rate == 1.0 &&
      !(seg->flags & GST_SEGMENT_FLAG_TRICKMODE);
}

/* The stream plays from its start and the probe came after its first
 * packets: the ranges from the first key to @pts's are taken as seen
 * (the demuxer started at the first keyframe), if they are all covered:
 * then every packet that went by unseen is of a served range, and its
 * frame is discarded. */
static void
serve_start (GstMemmapCache * self, GstClockTime pts)
{
  GArray *keys = self->gops->keys;
  guint i;

  for (i = 0; i < keys->len; i++) {
    GstClockTime k = g_array_index (keys, GstClockTime, i);
    GstClockTime next = i + 1 < keys->len ?
        g_array_index (keys, GstClockTime, i + 1) : GST_CLOCK_TIME_NONE;

    if (k > pts)
      break;
    if (!range_covered (self, k, next))
      return;
  }
  for (i = 0; i < keys->len; i++) {
    GstClockTime k = g_array_index (keys, GstClockTime, i);
    GstClockTime next = i + 1 < keys->len ?
        g_array_index (keys, GstClockTime, i + 1) : GST_CLOCK_TIME_NONE;

    if (k > pts)
      break;
    add_served (self, k, next);
    self->cur_key = k;
    COUNT (self, hits, 1);
  }
  self->seen_all = TRUE;
  GST_INFO_OBJECT (self, "serving the stream's start from the cache");
}

/* Whether a packet starts at the segment's start or ends at its stop: the
 * decoder's frame there is then whole, not clipped (see maybe_clipped ()). */
static void
note_segment_edges (GstMemmapCache * self, GstClockTime pts,
    GstClockTime duration)
{
  GstSegment tmp;
  const GstSegment *seg = decoder_segment (self, &tmp);

  if (pts == seg->start)
    self->start_is_frame = TRUE;
  if (GST_CLOCK_TIME_IS_VALID (duration) && pts + duration == seg->stop)
    self->stop_is_frame = TRUE;
}

/* Whether every frame of the GOP range [@key, @next_key) is cached: one
 * interval holds it, up to the frame at @next_key or one that ends there. */
static gboolean
range_covered (GstMemmapCache * self, GstClockTime key, GstClockTime next_key)
{
  GstMemmapCacheCover *c;
  gint i;

  if (gst_memmap_cache_gops_is_covered (self->gops, key, next_key))
    return TRUE;
  if (!GST_CLOCK_TIME_IS_VALID (next_key) ||
      (c = gst_memmap_cache_gops_find_cover (self->gops, key)) == NULL ||
      (i = gst_memmap_cache_find_frame (self, c->last)) < 0)
    return FALSE;
  return GST_CLOCK_TIME_IS_VALID (g_array_index (self->frames, CachedFrame,
          i).duration) && c->last + g_array_index (self->frames, CachedFrame,
          i).duration >= next_key;
}

/* A keyframe packet: its range is served when it is covered. Kept while
 * the decoder owes frames, and when the range before it is decoded and
 * some frame of that range that comes after it (open-GOP leading frames)
 * may be in the segment. */
static gboolean
decide_keyframe (GstMemmapCache * self, GstClockTime pts,
    GstClockTime duration)
{
  GstClockTime key, next_key;
  GstSegment tmp;
  Served *s;

  self->cur_key = pts;
  self->orphan_key = GST_CLOCK_TIME_NONE;
  s = find_served (self, pts);
  if (s == NULL && self->readable &&
      gst_memmap_cache_gops_find_range (self->gops, pts, &key, &next_key) &&
      key == pts && range_covered (self, key, next_key)) {
    add_served (self, key, next_key);
    s = find_served (self, pts);
    COUNT (self, hits, 1);
    GST_DEBUG_OBJECT (self, "GOP at %" GST_TIME_FORMAT " from the cache",
        GST_TIME_ARGS (pts));
  } else if (s == NULL) {
    COUNT (self, misses, 1);
    return FALSE;
  }
  if (s->dropped)
    return TRUE;
  if (self->owed->len > 0 || self->unknown_pending)
    return FALSE;
  /* the range before decoded: its frames that come after this keyframe
   * all end before the segment (the keyframe is at or before its start,
   * as after a seek), so the decoder gives none of them */
  if (pts == 0 || find_served (self, pts - 1) == NULL) {
    if (!GST_CLOCK_TIME_IS_VALID (duration) ||
        pts > decoder_segment (self, &tmp)->start)
      return FALSE;
    self->orphan_key = pts;
  }
  s->dropped = TRUE;
  return TRUE;
}

/* Whether the packet @buffer is dropped: its frame is cached in a served
 * range, and nothing the decoder still has to give needs it. */
static gboolean
decide_packet (GstMemmapCache * self, GstBuffer * buffer)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  gboolean keyframe = !GST_BUFFER_FLAG_IS_SET (buffer,
      GST_BUFFER_FLAG_DELTA_UNIT);
  Served *s;
  gint i;

  /* data after a flush before any segment (qtdemux after a seek past the
   * end that failed), or after EOS without a flush: what segment the
   * decoder will give is unknown, so it decodes everything until the next
   * flush */
  if (((!self->probe_seen && self->dec_segment == NULL &&
              self->chain_gen > 0) || self->dec_eos) && !self->probe_pass) {
    GST_DEBUG_OBJECT (self, "data before a segment: nothing served");
    self->probe_pass = TRUE;
  }
  self->probe_seen = TRUE;
  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    self->unknown_pending = TRUE;
    return FALSE;
  }
  if ((i = gst_memmap_cache_find_frame (self, pts)) >= 0)
    g_array_index (self->frames, CachedFrame, i).seen = self->seen_gen;
  if (keyframe && self->gops)
    gst_memmap_cache_gops_add_key (self->gops, pts);
  note_segment_edges (self, pts, GST_BUFFER_DURATION (buffer));
  if (self->probe_pass || self->gops == NULL ||
      self->probe_gen != self->chain_gen) {
    owe (self, pts, GST_BUFFER_DURATION (buffer));
    return FALSE;
  }
  /* the stream's start, once we know what is cached and have the segment
   * (a queue after the decoder may hold them back a little) */
  if (self->start_pending && self->chain_gen == 0 && self->readable &&
      self->have_segment) {
    self->start_pending = FALSE;
    if (!self->seen_seek)
      serve_start (self, pts);
  }
  /* every packet of a frame before the last keyframe went by */
  if (GST_CLOCK_TIME_IS_VALID (self->cur_key) && pts > self->cur_key &&
      (!GST_CLOCK_TIME_IS_VALID (self->settled_key) ||
          self->cur_key > self->settled_key))
    self->settled_key = self->cur_key;

  if (keyframe)
    return decide_keyframe (self, pts, GST_BUFFER_DURATION (buffer));

  s = find_served (self, pts);
  if (s == NULL && GST_CLOCK_TIME_IS_VALID (self->orphan_key) &&
      pts < self->orphan_key) {
    GstSegment tmp;
    GstClockTime d = GST_BUFFER_DURATION (buffer);

    /* a leading frame of a dropped keyframe, before the segment */
    if (GST_CLOCK_TIME_IS_VALID (d) &&
        pts + d <= decoder_segment (self, &tmp)->start)
      return TRUE;
    GST_WARNING_OBJECT (self, "packet %" GST_TIME_FORMAT " refers to the "
        "dropped keyframe %" GST_TIME_FORMAT, GST_TIME_ARGS (pts),
        GST_TIME_ARGS (self->orphan_key));
  }
  if (s == NULL) {
    owe (self, pts, GST_BUFFER_DURATION (buffer));
    return FALSE;
  }
  if (s->dropped)
    return TRUE;
  if (self->owed->len > 0 || self->unknown_pending)
    return FALSE;
  s->dropped = TRUE;
  return TRUE;
}

/* Events at the decoder's sink pad: flushes and segments. */
static void
decoder_event (GstMemmapCache * self, GstEvent * event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      self->probe_gen++;
      self->dec_eos = FALSE;
      break;
    case GST_EVENT_EOS:
      self->dec_eos = TRUE;
      break;
    case GST_EVENT_SEGMENT:{
      GstSegment seg;

      gst_event_copy_segment (event, &seg);
      GST_DEBUG_OBJECT (self, "decoder's %" GST_PTR_FORMAT, event);
      if (self->probe_seen || self->dec_segment) {
        /* a segment without a flush (a segment seek looping, a
         * non-flushing seek): decoded from now on */
        GST_DEBUG_OBJECT (self, "segment without a flush: no more serving "
            "before the next flush");
        self->probe_pass = TRUE;
      }
      if (!gst_memmap_cache_segment_servable (&seg))
        self->probe_pass = TRUE;
      gst_event_replace (&self->dec_segment, event);
      break;
    }
    default:
      break;
  }
}
GstPadProbeReturn
gst_memmap_cache_decoder_probe (GstPad * pad, GstPadProbeInfo * info,
    gpointer user_data)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (user_data);
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean drop = FALSE;
  GstBuffer *buffer;

  /* not under the stream lock: a push may hold it, blocked downstream
   * until this flush reaches it */
  if ((info->type & GST_PAD_PROBE_TYPE_EVENT_FLUSH) &&
      GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) ==
      GST_EVENT_FLUSH_START)
    return GST_PAD_PROBE_OK;
  g_rec_mutex_lock (&self->lock);
  if (self->probe_id == 0) {
    g_rec_mutex_unlock (&self->lock);
    return GST_PAD_PROBE_OK;
  }
  if (info->type & (GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
          GST_PAD_PROBE_TYPE_EVENT_FLUSH)) {
    decoder_event (self, GST_PAD_PROBE_INFO_EVENT (info));
    g_rec_mutex_unlock (&self->lock);
    return GST_PAD_PROBE_OK;
  }
  buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  drop = decide_packet (self, buffer);
  if (!drop && GST_BUFFER_PTS_IS_VALID (buffer)) {
    GstSegment tmp;

    if (GST_BUFFER_PTS (buffer) < decoder_segment (self, &tmp)->start)
      self->kept_before_start = TRUE;
  }
  if (self->served->len > 0 && self->probe_gen == self->chain_gen)
    ret = gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, FALSE);
  g_rec_mutex_unlock (&self->lock);

  GST_LOG_OBJECT (self, "%s packet %" GST_TIME_FORMAT "%s",
      drop ? "dropping" : "keeping", GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
      GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT) ? "" :
      " (keyframe)");
  if (drop)
    COUNT (self, packets_dropped, 1);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    GST_PAD_PROBE_INFO_DATA (info) = NULL;
    GST_PAD_PROBE_INFO_FLOW_RETURN (info) = ret;
    return GST_PAD_PROBE_HANDLED;
  }
  return drop ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* The decoder's frames. Those of served ranges are discarded (the cache
 * gives them); the others go downstream in their turn, after the cached
 * frames before them. */
GstFlowReturn
gst_memmap_cache_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  GstMemmapCache *self = GST_MEMMAP_CACHE (parent);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean cached;

  g_rec_mutex_lock (&self->lock);
  self->dts_is_pts = GST_CLOCK_TIME_IS_VALID (pts) &&
      GST_BUFFER_DTS (buffer) == pts;
  if (GST_CLOCK_TIME_IS_VALID (pts))
    settle_owed (self, pts);
  if (find_served (self, pts)) {
    gint i = gst_memmap_cache_find_frame (self, pts);

    GST_LOG_OBJECT (self, "decoded %" GST_TIME_FORMAT " is served from the "
        "cache", GST_TIME_ARGS (pts));
    /* the decoder gave it: its packet came, even one the probe could not
     * place (no pts) */
    if (i >= 0)
      g_array_index (self->frames, CachedFrame, i).seen = self->seen_gen;
    gst_buffer_unref (buffer);
    self->dec_first = FALSE;
    COUNT (self, frames_discarded, 1);
    ret = gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, FALSE);
    goto done;
  }
  if (GST_CLOCK_TIME_IS_VALID (pts) && self->served->len > 0)
    ret = gst_memmap_cache_push_served (self, pts, TRUE);
  if (ret != GST_FLOW_OK) {
    gst_buffer_unref (buffer);
    goto done;
  }

  buffer = gst_memmap_cache_record (self, buffer, &cached);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    self->last_out = pts;
  gst_memmap_cache_note_output (self, pts, cached);
  if (cached && self->first_buffer && !GST_CLOCK_TIME_IS_VALID
      (self->meta.start)) {
    gboolean seen;

    gst_memmap_cache_get_seek_stop (self, &seen);
    if (!seen) {
      self->meta.start = pts;
      gst_memmap_cache_write_meta (self);
    }
  }
  if (self->first_buffer && self->chain_gen == 0 && self->gops &&
      GST_CLOCK_TIME_IS_VALID (pts)) {
    gboolean seen;

    /* the stream's first frame is its first keyframe's, whose packet went
     * by before we watched the decoder */
    gst_memmap_cache_get_seek_stop (self, &seen);
    if (!seen)
      gst_memmap_cache_gops_add_key (self->gops, pts);
  }
  COUNT (self, frames_decoded, 1);
  ret = push_out (self, buffer, TRUE);
  if (ret == GST_FLOW_OK && self->served->len > 0)
    ret = gst_memmap_cache_push_served (self, GST_CLOCK_TIME_NONE, FALSE);

done:
  g_rec_mutex_unlock (&self->lock);
  return ret;
}
