/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmapsrc's streaming thread (gstmemmapsrc.c holds the element): create()
 * picks the next frame of the segment (forward or backward), waits for the
 * writer's next commit when it follows a store at its end, turns ring frames
 * overwritten meanwhile into a DISCONT, starts the range again for
 * loop=true, and hands out the frame as a buffer of the store's pages (or a
 * copy in the caps' default layout for a downstream that reads no video
 * meta). unlock()/unlock_stop() break a follower's wait.
 *
 * A store cut short by another program, marked damaged, or reused for a new
 * recording ends the stream with an error, never with a torn frame.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapsrcprivate.h"

#define GST_CAT_DEFAULT gst_memmap_src_debug

/* a follower is woken by the writer's commit; this is a safety net */
#define FOLLOW_WAIT_US (100 * 1000)

/* ------------------------------------------------------------------------ */
/* streaming                                                                */

gboolean
gst_memmap_src_unlock (GstBaseSrc * bsrc)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstMemmapStoreSession *session = NULL;

  GST_LOG_OBJECT (self, "unlock");
  g_atomic_int_set (&self->flushing, 1);
  g_mutex_lock (&self->store_lock);
  if (self->session)
    session = gst_memmap_store_session_ref (self->session);
  g_mutex_unlock (&self->store_lock);
  if (session) {
    gst_memmap_store_session_interrupt (session);
    gst_memmap_store_session_unref (session);
  }

  return TRUE;
}

gboolean
gst_memmap_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstMemmapStoreSession *session = NULL;

  GST_LOG_OBJECT (self, "unlock stop");
  g_atomic_int_set (&self->flushing, 0);
  g_mutex_lock (&self->store_lock);
  if (self->session)
    session = gst_memmap_store_session_ref (self->session);
  g_mutex_unlock (&self->store_lock);
  if (session) {
    gst_memmap_store_session_resume (session);
    gst_memmap_store_session_unref (session);
  }

  return TRUE;
}

/* A copy of @in in the caps' default layout, for a downstream that reads
 * no video meta. */
static GstBuffer *
copy_to_caps_layout (GstMemmapSrc * self, GstBuffer * in)
{
  GstVideoFrame src, dst;
  GstBuffer *out;
  gboolean ok;

  out = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&self->caps_info),
      NULL);
  if (!gst_video_frame_map (&src, &self->info, in, GST_MAP_READ))
    goto failed;
  if (!gst_video_frame_map (&dst, &self->caps_info, out, GST_MAP_WRITE)) {
    gst_video_frame_unmap (&src);
    goto failed;
  }
  ok = gst_video_frame_copy (&dst, &src);
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  if (!ok)
    goto failed;
  gst_buffer_copy_into (out, in, GST_BUFFER_COPY_FLAGS |
      GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  gst_buffer_unref (in);
  return out;

failed:
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  return NULL;
}

/* Reports a frame or an index entry that cannot be read, naming the
 * file. */
static void
post_read_error (GstMemmapSrc * self, guint64 frame, const GError * error)
{
  if (g_error_matches (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT))
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("The frame store \"%s\" is corrupt.", self->cur.location),
        ("%s: %s", self->cur.location, error->message));
  else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED) &&
      gst_memmap_store_reader_is_damaged (self->reader))
    /* its writer found it cut short and marked it */
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The frame store \"%s\" was truncated by another program while it "
            "was being written.", self->cur.location),
        ("%s: %s", self->cur.location, error->message));
  else if (g_error_matches (error, GST_MEMMAP_ERROR,
          GST_MEMMAP_ERROR_TRUNCATED))
    /* frames already downstream may have read zeros where the lost pages
     * were: say so, and stop */
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The frame store \"%s\" was truncated by another program while it "
            "was being read.", self->cur.location),
        ("%s: %s (frames pushed before this one may hold zeros where the "
            "file's bytes were)", self->cur.location, error->message));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not read frame %" G_GUINT64_FORMAT " of the frame store "
            "\"%s\".", frame, self->cur.location),
        ("%s: %s", self->cur.location, error->message));
}

/* TRUE if @error says that ring frame @frame left the ring before it could
 * be read. The writer rewrites the oldest frame's index entry just before
 * it moves the committed counter, so for that moment the frame being
 * overwritten is still the first one by the counter: the entry (a newer
 * frame's sequence) says it is gone, and only the ring's oldest frame can
 * fail that way (a frame not yet committed is above the counter). */
static gboolean
frame_left_ring (GstMemmapSrc * self, guint64 frame, const GError * error)
{
  return g_error_matches (error, GST_MEMMAP_ERROR,
      GST_MEMMAP_ERROR_INVALID_ARGUMENT) &&
      gst_memmap_store_reader_get_mode (self->reader) ==
      GST_MEMMAP_STORE_MODE_RING &&
      frame <= gst_memmap_store_reader_get_first_frame (self->reader);
}

typedef enum
{
  FRAME_OK,
  FRAME_GONE,                   /* overwritten in the ring meanwhile */
  FRAME_ERROR,
} FrameResult;

/* Frame @frame as the buffer to push. */
static FrameResult
get_frame (GstMemmapSrc * self, guint64 frame, GstClockTime pts,
    GstClockTime duration, GstBuffer ** out)
{
  GstBuffer *buf;
  GError *error = NULL;
  gboolean copied = FALSE;

  buf = gst_memmap_store_session_get_buffer (self->session, self->reader,
      NULL, frame, &copied, &error);
  if (buf == NULL)
    goto no_buffer;

  if (self->copy_layout) {
    buf = copy_to_caps_layout (self, buf);
    if (buf == NULL)
      goto copy_failed;
    copied = TRUE;
  }

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  if (self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }

  GST_OBJECT_LOCK (self);
  self->frames_pushed++;
  if (copied)
    self->frames_copied++;
  else
    self->frames_zero_copy++;
  GST_OBJECT_UNLOCK (self);

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT
      "%s", frame, GST_TIME_ARGS (pts), copied ? " (copied)" : "");
  *out = buf;
  return FRAME_OK;

  /* ERRORS */
no_buffer:
  {
    if (frame_left_ring (self, frame, error)) {
      GST_DEBUG_OBJECT (self, "%s", error->message);
      g_clear_error (&error);
      return FRAME_GONE;
    }
    post_read_error (self, frame, error);
    g_clear_error (&error);
    return FRAME_ERROR;
  }
copy_failed:
  {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not copy frame %" G_GUINT64_FORMAT " of the frame store "
            "\"%s\".", frame, self->cur.location),
        ("%s: the frame does not map as %s", self->cur.location,
            GST_VIDEO_INFO_NAME (&self->info)));
    return FRAME_ERROR;
  }
}

static void
count_skipped (GstMemmapSrc * self, guint64 n)
{
  GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " ring frames were "
      "overwritten before they could be read", n);
  GST_OBJECT_LOCK (self);
  self->frames_skipped += n;
  GST_OBJECT_UNLOCK (self);
  self->discont = TRUE;
}

/* loop=true: starts the range again, in a new segment whose base is the
 * running time reached. FALSE: the stream ends. */
static gboolean
start_next_pass (GstMemmapSrc * self, GstSegment * segment)
{
  GstBaseSrc *bsrc = GST_BASE_SRC (self);
  GstClockTime reached;
  guint64 first, end, frame;

  if (!self->cur.loop || !self->pushed_in_pass)
    return FALSE;

  reached = segment->rate > 0 ? self->last_end : self->last_pts;
  if (!GST_CLOCK_TIME_IS_VALID (reached))
    return FALSE;

  gst_memmap_src_get_range (self, &first, &end);
  if (first >= end)
    return FALSE;

  if (segment->rate > 0) {
    GstClockTime pts, duration;

    if (!gst_memmap_src_frame_times (self, first, &pts, &duration, NULL))
      return FALSE;
    frame = first;
    segment->base = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
        reached);
    if (GST_CLOCK_TIME_IS_VALID (pts))
      segment->start = segment->time = segment->position = pts;
    self->have_next = TRUE;
  } else {
    segment->base = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
        reached);
    segment->position = segment->stop;
    if (!GST_CLOCK_TIME_IS_VALID (segment->stop) ||
        !gst_memmap_src_last_frame_at (self, segment->stop - 1, first, end,
            &frame))
      return FALSE;
    self->have_next = TRUE;
  }
  if (!GST_CLOCK_TIME_IS_VALID (segment->base))
    return FALSE;

  gst_base_src_new_segment (bsrc, segment);
  self->next_frame = frame;
  self->pushed_in_pass = FALSE;
  self->discont = TRUE;
  GST_OBJECT_LOCK (self);
  self->loops++;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "loop: again from frame %" G_GUINT64_FORMAT
      ", %" GST_SEGMENT_FORMAT, frame, segment);
  return TRUE;
}

/* Posts the error of a store cut short by another program (or marked
 * damaged by its writer), saying which, as the reader found it. */
static GstFlowReturn
post_truncated (GstMemmapSrc * self)
{
  GError *error = NULL;

  if (!gst_memmap_store_reader_check (self->reader, &error)) {
    post_read_error (self, self->next_frame, error);
    g_clear_error (&error);
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("The frame store \"%s\" was truncated by another program.",
            self->cur.location), ("%s", self->cur.location));
  }
  return GST_FLOW_ERROR;
}

/* Following a store at its end: waits for the next commit (or the close).
 * GST_FLOW_OK to look again. */
static GstFlowReturn
follow_wait (GstMemmapSrc * self, guint64 committed)
{
  switch (gst_memmap_store_session_wait (self->session, committed,
          FOLLOW_WAIT_US)) {
    case GST_MEMMAP_STORE_WAIT_INTERRUPTED:
      return GST_FLOW_FLUSHING;
    case GST_MEMMAP_STORE_WAIT_TIMEOUT:
      /* nothing came: a file cut short wakes nobody */
      if (!gst_memmap_store_reader_check (self->reader, NULL))
        return post_truncated (self);
      return GST_FLOW_OK;
    default:
      return GST_FLOW_OK;
  }
}

/* Forward, frame @n at or past the @committed end of the store: follows
 * the store (waits for the next commit) or ends the range. GST_FLOW_OK to
 * look again, GST_FLOW_EOS at the end of the range, or the flow to return. */
static GstFlowReturn
at_committed_end (GstMemmapSrc * self, guint64 n, guint64 committed)
{
  if (self->cur.follow && gst_memmap_store_session_writer_alive (self->session))
    return follow_wait (self, committed);
  /* closed (or its writer died): the last commits came before */
  if (n < gst_memmap_store_reader_get_committed (self->reader))
    return GST_FLOW_OK;
  return GST_FLOW_EOS;
}

/* Frame @n is pushed: the next one, the position, and a segment that
 * starts at the first frame when the seek came before it existed. */
static void
frame_pushed (GstMemmapSrc * self, GstSegment * segment, guint64 n,
    GstClockTime pts, GstClockTime duration)
{
  gboolean forward = segment->rate > 0;

  if (forward) {
    self->next_frame = n + 1;
  } else {
    self->have_next = n > 0;
    self->next_frame = n > 0 ? n - 1 : 0;
  }
  self->pushed_in_pass = TRUE;
  self->last_pts = pts;
  self->last_end = gst_memmap_src_end_time (pts, duration);
  GST_OBJECT_LOCK (self);
  self->position_frame = forward ? n + 1 : n;
  GST_OBJECT_UNLOCK (self);

  /* the seek came before the first frame existed: the segment starts at
   * that frame, so that it plays at running time 0 */
  if (self->fix_start) {
    self->fix_start = FALSE;
    if (forward && GST_CLOCK_TIME_IS_VALID (pts) && segment->start < pts &&
        (!GST_CLOCK_TIME_IS_VALID (segment->stop) || segment->stop > pts)) {
      segment->start = segment->time = segment->position = pts;
      gst_base_src_new_segment (GST_BASE_SRC (self), segment);
    }
  }
}

/* The store was reused for a new recording while we read it (or its
 * header was cut off the file). */
static GstFlowReturn
post_reused (GstMemmapSrc * self)
{
  /* a header cut off the file reads zeros, a generation of 0 among them:
   * that is a truncation, not a new recording */
  if (!gst_memmap_store_reader_check (self->reader, NULL))
    return post_truncated (self);
  GST_ELEMENT_ERROR (self, RESOURCE, READ,
      ("The frame store \"%s\" was overwritten by a new recording.",
          self->cur.location),
      ("%s: generation %" G_GUINT64_FORMAT " became %" G_GUINT64_FORMAT,
          self->cur.location, self->generation,
          gst_memmap_store_reader_get_generation (self->reader)));
  return GST_FLOW_ERROR;
}

GstFlowReturn
gst_memmap_src_create (GstBaseSrc * bsrc, guint64 offset, guint size,
    GstBuffer ** buf)
{
  GstMemmapSrc *self = GST_MEMMAP_SRC (bsrc);
  GstClockTime pts = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;
  GstSegment segment;
  guint64 n, first, committed;
  GstBuffer *out = NULL;
  GError *error = NULL;
  gboolean forward;

  GST_OBJECT_LOCK (self);
  gst_segment_copy_into (&bsrc->segment, &segment);
  GST_OBJECT_UNLOCK (self);
  forward = segment.rate > 0;

  while (TRUE) {
    if (g_atomic_int_get (&self->flushing))
      return GST_FLOW_FLUSHING;
    if (gst_memmap_store_reader_get_generation (self->reader) !=
        self->generation)
      goto reused;
    if (gst_memmap_store_reader_is_damaged (self->reader))
      return post_truncated (self);

    n = self->next_frame;
    if (forward) {
      if (n >= gst_memmap_src_get_range_end (self))
        goto range_done;
      committed = gst_memmap_store_reader_get_committed (self->reader);
      if (n >= committed) {
        GstFlowReturn ret = at_committed_end (self, n, committed);

        if (ret == GST_FLOW_EOS)
          goto range_done;
        if (ret != GST_FLOW_OK)
          return ret;
        continue;
      }
      first = gst_memmap_store_reader_get_first_frame (self->reader);
      if (n < first) {
        count_skipped (self, first - n);
        self->next_frame = first;
        continue;
      }
    } else {
      first = MAX (self->cur.start_frame,
          gst_memmap_store_reader_get_first_frame (self->reader));
      if (!self->have_next || n < first)
        goto range_done;
    }

    if (!gst_memmap_src_frame_times (self, n, &pts, &duration, &error)) {
      if (n >= gst_memmap_store_reader_get_first_frame (self->reader) &&
          !frame_left_ring (self, n, error))
        goto read_failed;
      /* overwritten meanwhile: the ring moved on */
      g_clear_error (&error);
      if (!forward)
        goto range_done;
      continue;
    }

    if (forward) {
      if (GST_CLOCK_TIME_IS_VALID (segment.stop) &&
          GST_CLOCK_TIME_IS_VALID (pts) && pts >= segment.stop)
        return GST_FLOW_EOS;
      /* a frame that ends before the segment starts (a followed store
       * that reached a seek position beyond its end) */
      if (GST_CLOCK_TIME_IS_VALID (pts) &&
          GST_CLOCK_TIME_IS_VALID (duration) &&
          GST_CLOCK_TIME_IS_VALID (segment.start) && !self->fix_start &&
          pts + duration <= segment.start) {
        self->next_frame = n + 1;
        continue;
      }
    } else if (GST_CLOCK_TIME_IS_VALID (pts) &&
        GST_CLOCK_TIME_IS_VALID (duration) && pts + duration <= segment.start) {
      goto range_done;
    }

    switch (get_frame (self, n, pts, duration, &out)) {
      case FRAME_OK:
        break;
      case FRAME_GONE:
        if (!forward)
          goto range_done;
        continue;
      case FRAME_ERROR:
        return GST_FLOW_ERROR;
    }
    break;
  }

  frame_pushed (self, &segment, n, pts, duration);
  *buf = out;
  return GST_FLOW_OK;

range_done:
  /* a store cut short is not at its end */
  if (!gst_memmap_store_reader_check (self->reader, NULL))
    return post_truncated (self);
  if (start_next_pass (self, &segment))
    return gst_memmap_src_create (bsrc, offset, size, buf);
  GST_DEBUG_OBJECT (self, "end of the range at frame %" G_GUINT64_FORMAT, n);
  return GST_FLOW_EOS;

read_failed:
  post_read_error (self, n, error);
  g_clear_error (&error);
  return GST_FLOW_ERROR;

reused:
  return post_reused (self);
}
