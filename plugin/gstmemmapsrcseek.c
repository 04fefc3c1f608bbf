/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmapsrc's frames in time (gstmemmapsrc.c holds the element): the range
 * of frames the stream may show, the timestamps of a frame in the store's
 * index, the search of the frame at a time, seeking in time and in frames
 * (GST_FORMAT_DEFAULT), and the duration, convert and seeking queries.
 *
 * Ring stores drop their oldest frames while we look: every lookup here
 * takes the range again and retries a bounded number of times; a frame
 * gone meanwhile is never an error.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapsrcprivate.h"

#define GST_CAT_DEFAULT gst_memmap_src_debug

/* ------------------------------------------------------------------------ */
/* frames and times                                                         */

/* The end of the range of the properties (the store may end before). */
guint64
gst_memmap_src_get_range_end (GstMemmapSrc * self)
{
  if (self->cur.num_frames >= 0 &&
      self->cur.start_frame <= G_MAXUINT64 - (guint64) self->cur.num_frames)
    return self->cur.start_frame + self->cur.num_frames;
  return G_MAXUINT64;
}

/* The frames the stream may show now: [first, end). */
void
gst_memmap_src_get_range (GstMemmapSrc * self, guint64 * first, guint64 * end)
{
  guint64 committed = gst_memmap_store_reader_get_committed (self->reader);
  guint64 range_end = gst_memmap_src_get_range_end (self);

  *first = MAX (self->cur.start_frame,
      gst_memmap_store_reader_get_first_frame (self->reader));
  *end = MIN (range_end, committed);
}

/* The timestamp and duration of @frame in the store; a frame stored
 * without them gets those of the frame rate. */
gboolean
gst_memmap_src_frame_times (GstMemmapSrc * self, guint64 frame,
    GstClockTime * pts, GstClockTime * duration, GError ** error)
{
  GstMemmapStoreEntry entry;

  if (!gst_memmap_store_reader_get_entry (self->reader, frame, &entry, error))
    return FALSE;

  *pts = entry.pts;
  if (!GST_CLOCK_TIME_IS_VALID (*pts) &&
      GST_CLOCK_TIME_IS_VALID (self->frame_duration))
    *pts = frame * self->frame_duration;
  *duration = entry.duration;
  if (!GST_CLOCK_TIME_IS_VALID (*duration))
    *duration = self->frame_duration;
  return TRUE;
}

GstClockTime
gst_memmap_src_end_time (GstClockTime pts, GstClockTime duration)
{
  if (!GST_CLOCK_TIME_IS_VALID (pts) || !GST_CLOCK_TIME_IS_VALID (duration))
    return pts;
  return pts + duration;
}

/* The last frame of [lo, hi) whose pts is <= @t (binary search of the
 * index: timestamps grow with the frame number). FALSE when there is none
 * or the index cannot be read. */
gboolean
gst_memmap_src_last_frame_at (GstMemmapSrc * self, GstClockTime t,
    guint64 lo, guint64 hi, guint64 * frame)
{
  GstClockTime pts, duration;

  if (lo >= hi ||
      !gst_memmap_src_frame_times (self, lo, &pts, &duration, NULL) ||
      !GST_CLOCK_TIME_IS_VALID (pts) || pts > t)
    return FALSE;

  /* pts (lo) <= t; look in (lo, hi) */
  while (hi - lo > 1) {
    guint64 mid = lo + (hi - lo) / 2;

    if (!gst_memmap_src_frame_times (self, mid, &pts, &duration, NULL) ||
        !GST_CLOCK_TIME_IS_VALID (pts))
      return FALSE;
    if (pts <= t)
      lo = mid;
    else
      hi = mid;
  }
  *frame = lo;
  return TRUE;
}

/* The frame of [first, end) whose [pts, pts + duration) holds @t, or else
 * the first frame after @t; @end when none is. */
static gboolean
frame_at_time (GstMemmapSrc * self, GstClockTime t, guint64 first,
    guint64 end, guint64 * frame)
{
  GstClockTime pts, duration;
  guint64 f;

  if (first >= end) {
    *frame = end;
    return TRUE;
  }
  if (!gst_memmap_src_last_frame_at (self, t, first, end, &f)) {
    /* before the first frame, or unreadable */
    if (!gst_memmap_src_frame_times (self, first, &pts, &duration, NULL) ||
        !GST_CLOCK_TIME_IS_VALID (pts))
      return FALSE;
    *frame = first;
    return TRUE;
  }
  if (!gst_memmap_src_frame_times (self, f, &pts, &duration, NULL))
    return FALSE;
  if (GST_CLOCK_TIME_IS_VALID (duration) && t >= pts + duration)
    f++;
  *frame = f;
  return TRUE;
}

/* The time of frame @frame of [first, end]: its pts, or for @end the end
 * of the last frame. */
static gboolean
time_of_frame (GstMemmapSrc * self, guint64 frame, guint64 first,
    guint64 end, GstClockTime * t)
{
  GstClockTime pts, duration;

  if (frame < first || frame > end || first >= end)
    return FALSE;
  if (frame < end)
    return gst_memmap_src_frame_times (self, frame, t, &duration, NULL) &&
        GST_CLOCK_TIME_IS_VALID (*t);
  if (!gst_memmap_src_frame_times (self, end - 1, &pts, &duration, NULL) ||
      !GST_CLOCK_TIME_IS_VALID (pts))
    return FALSE;
  *t = gst_memmap_src_end_time (pts, duration);
  return TRUE;
}

/* The ring may drop frames while we look: search again a few times. */
#define INDEX_RETRIES 4

static gboolean
convert_frames (GstMemmapSrc * self, GstFormat src_format, gint64 src_value,
    GstFormat dest_format, gint64 * dest_value)
{
  guint64 first, end, frame;
  GstClockTime t;
  guint i;

  if (src_format == dest_format || src_value == -1) {
    *dest_value = src_value;
    return TRUE;
  }

  for (i = 0; i < INDEX_RETRIES; i++) {
    gst_memmap_src_get_range (self, &first, &end);
    if (src_format == GST_FORMAT_DEFAULT && dest_format == GST_FORMAT_TIME) {
      if (time_of_frame (self, src_value, first, end, &t)) {
        *dest_value = t;
        return TRUE;
      }
      if ((guint64) src_value < first || (guint64) src_value > end)
        return FALSE;
    } else if (src_format == GST_FORMAT_TIME &&
        dest_format == GST_FORMAT_DEFAULT) {
      if (frame_at_time (self, src_value, first, end, &frame)) {
        *dest_value = frame;
        return TRUE;
      }
    } else {
      return FALSE;
    }
  }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* seeking                                                                  */

gboolean
gst_memmap_src_is_seekable (GstBaseSrc * bsrc)
{
  return TRUE;
}

/* Seeks in frames (GST_FORMAT_DEFAULT): the frame numbers become the times
 * of those frames, so the segment stays in TIME. A position outside the
 * range goes to its nearest end. */
gboolean
gst_memmap_src_prepare_seek_segment (GstBaseSrc * bsrc, GstEvent * seek,
    GstSegment * segment)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstSeekType start_type, stop_type;
  GstSeekFlags flags;
  GstFormat format;
  gint64 start, stop;
  guint64 first, end;
  GstClockTime start_time = GST_CLOCK_TIME_NONE, stop_time =
      GST_CLOCK_TIME_NONE;
  gdouble rate;
  gboolean ret = FALSE;

  gst_event_parse_seek (seek, &rate, &format, &flags, &start_type, &start,
      &stop_type, &stop);
  if (format != GST_FORMAT_DEFAULT)
    goto wrong_format;
  if ((start_type != GST_SEEK_TYPE_SET && start_type != GST_SEEK_TYPE_NONE)
      || (stop_type != GST_SEEK_TYPE_SET && stop_type != GST_SEEK_TYPE_NONE))
    goto relative;

  g_mutex_lock (&self->store_lock);
  if (self->reader == NULL) {
    g_mutex_unlock (&self->store_lock);
    return FALSE;
  }
  gst_memmap_src_get_range (self, &first, &end);
  if (first < end) {
    if (start_type == GST_SEEK_TYPE_SET) {
      start = CLAMP ((guint64) MAX (start, 0), first, end);
      ret = time_of_frame (self, start, first, end, &start_time);
    } else {
      ret = TRUE;
    }
    if (ret && stop_type == GST_SEEK_TYPE_SET && stop != -1) {
      stop = CLAMP ((guint64) MAX (stop, 0), first, end);
      ret = time_of_frame (self, stop, first, end, &stop_time);
    }
  }
  g_mutex_unlock (&self->store_lock);
  if (!ret)
    goto no_frames;

  /* from the current segment, so that a non-flushing seek keeps the
   * running time going */
  GST_OBJECT_LOCK (self);
  gst_segment_copy_into (&bsrc->segment, segment);
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "frames %" G_GINT64_FORMAT " - %" G_GINT64_FORMAT
      " are %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT, start, stop,
      GST_TIME_ARGS (start_time), GST_TIME_ARGS (stop_time));
  return gst_segment_do_seek (segment, rate, GST_FORMAT_TIME, flags,
      start_type, start_time, stop_type, stop_time, NULL);

  /* ERRORS */
wrong_format:
  {
    GST_DEBUG_OBJECT (self, "cannot seek in %s", gst_format_get_name (format));
    return FALSE;
  }
relative:
  {
    GST_DEBUG_OBJECT (self, "relative seeks in frames are not supported");
    return FALSE;
  }
no_frames:
  {
    GST_DEBUG_OBJECT (self, "no frame to seek to");
    return FALSE;
  }
}

/* Where the stream continues after a seek: the frame that holds
 * segment.start (forwards), or the last frame before segment.stop
 * (backwards). */
gboolean
gst_memmap_src_do_seek (GstBaseSrc * bsrc, GstSegment * segment)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstClockTime pts, duration, first_pts, stop;
  guint64 first, end, frame = 0;
  gboolean ok = FALSE;
  guint i;

  if (segment->format != GST_FORMAT_TIME)
    return FALSE;

  g_mutex_lock (&self->store_lock);
  if (self->reader == NULL) {
    g_mutex_unlock (&self->store_lock);
    return FALSE;
  }

  self->fix_start = FALSE;
  self->discont = TRUE;
  self->pushed_in_pass = FALSE;
  for (i = 0; i < INDEX_RETRIES && !ok; i++) {
    gst_memmap_src_get_range (self, &first, &end);

    if (first >= end) {
      /* nothing yet (a followed store), or an empty range */
      frame = first;
      self->have_next = segment->rate > 0;
      self->fix_start = TRUE;
      ok = TRUE;
    } else if (segment->rate > 0) {
      if (!gst_memmap_src_frame_times (self, first, &first_pts, &duration,
              NULL))
        continue;
      if (!GST_CLOCK_TIME_IS_VALID (first_pts)) {
        /* no timestamps: play from the range's start */
        frame = first;
      } else if (segment->start <= first_pts) {
        frame = first;
        /* the first frame runs at running time 0, not later */
        if (segment->start < first_pts &&
            (!GST_CLOCK_TIME_IS_VALID (segment->stop) ||
                segment->stop > first_pts))
          segment->start = segment->time = segment->position = first_pts;
      } else if (!frame_at_time (self, segment->start, first, end, &frame)) {
        continue;
      }
      self->have_next = TRUE;
      ok = TRUE;
    } else {
      /* backwards from the stop, which a reverse segment needs */
      if (!gst_memmap_src_frame_times (self, end - 1, &pts, &duration, NULL))
        continue;
      stop = gst_memmap_src_end_time (pts, duration);
      if (GST_CLOCK_TIME_IS_VALID (stop) &&
          (!GST_CLOCK_TIME_IS_VALID (segment->stop) || segment->stop > stop)) {
        segment->stop = stop;
        if (segment->start > stop)
          segment->start = stop;
        segment->position = stop;
      }
      if (!GST_CLOCK_TIME_IS_VALID (segment->stop) || segment->stop == 0) {
        self->have_next = FALSE;
      } else if (gst_memmap_src_last_frame_at (self, segment->stop - 1,
              first, end, &frame)) {
        self->have_next = TRUE;
      } else {
        /* no frame before the stop */
        self->have_next = FALSE;
      }
      ok = TRUE;
    }
  }
  if (ok)
    self->next_frame = frame;
  g_mutex_unlock (&self->store_lock);

  if (!ok)
    goto bad_index;

  GST_OBJECT_LOCK (self);
  self->position_frame = frame;
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "seek to %" GST_SEGMENT_FORMAT ": %s frame %"
      G_GUINT64_FORMAT, segment, self->have_next ? "from" : "nothing at",
      frame);
  return TRUE;

  /* ERRORS */
bad_index:
  {
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("The index of the frame store \"%s\" cannot be read.",
            self->cur.location),
        ("%s: no valid index entries around frames %" G_GUINT64_FORMAT
            " - %" G_GUINT64_FORMAT " to seek to %" GST_SEGMENT_FORMAT,
            self->cur.location, first, end, segment));
    return FALSE;
  }
}

/* ------------------------------------------------------------------------ */
/* queries                                                                  */

/* The duration query: the end of the range, in store positions (a
 * followed store's duration grows). */
gboolean
gst_memmap_src_query_duration (GstMemmapSrc * self, GstQuery * query)
{
  GstClockTime t;
  guint64 first, end;
  gint64 duration = -1;
  GstFormat format;
  gboolean ret = FALSE;

  gst_query_parse_duration (query, &format, NULL);
  if (format != GST_FORMAT_TIME && format != GST_FORMAT_DEFAULT)
    return FALSE;
  g_mutex_lock (&self->store_lock);
  if (self->reader) {
    /* the end of the range, in store positions: a followed store's
     * duration grows */
    gst_memmap_src_get_range (self, &first, &end);
    if (first >= end)
      duration = -1;
    else if (format == GST_FORMAT_DEFAULT)
      duration = end;
    else if (time_of_frame (self, end, first, end, &t))
      duration = t;
    ret = TRUE;
  }
  g_mutex_unlock (&self->store_lock);
  if (ret)
    gst_query_set_duration (query, format, duration);

  return ret;
}

/* The convert query between frames and times. */
gboolean
gst_memmap_src_query_convert (GstMemmapSrc * self, GstQuery * query)
{
  GstFormat src_format, dest_format;
  gint64 src_value, dest_value;
  gboolean ret = FALSE;

  gst_query_parse_convert (query, &src_format, &src_value, &dest_format, NULL);
  g_mutex_lock (&self->store_lock);
  if (self->reader)
    ret = convert_frames (self, src_format, src_value, dest_format,
        &dest_value);
  else if (src_format == dest_format)
    ret = TRUE, dest_value = src_value;
  g_mutex_unlock (&self->store_lock);
  if (ret)
    gst_query_set_convert (query, src_format, src_value, dest_format,
        dest_value);

  return ret;
}

/* The seeking query: the range in frames or in time. */
gboolean
gst_memmap_src_query_seeking (GstMemmapSrc * self, GstQuery * query)
{
  guint64 first, end;
  GstFormat format;
  GstClockTime t0 = GST_CLOCK_TIME_NONE, t1 = GST_CLOCK_TIME_NONE;
  gint64 seg_start = -1, seg_end = -1;

  gst_query_parse_seeking (query, &format, NULL, NULL, NULL);
  if (format != GST_FORMAT_TIME && format != GST_FORMAT_DEFAULT)
    return FALSE;
  g_mutex_lock (&self->store_lock);
  if (self->reader) {
    gst_memmap_src_get_range (self, &first, &end);
    if (format == GST_FORMAT_DEFAULT && first < end) {
      seg_start = first;
      seg_end = end;
    } else if (time_of_frame (self, first, first, end, &t0) &&
        time_of_frame (self, end, first, end, &t1)) {
      seg_start = t0;
      seg_end = t1;
    }
  }
  g_mutex_unlock (&self->store_lock);
  gst_query_set_seeking (query, format, TRUE, seg_start, seg_end);

  return TRUE;
}
