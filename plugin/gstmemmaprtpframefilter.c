/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-memmaprtpframefilter
 * @title: memmaprtpframefilter
 * @see_also: rtpvrawdepay, rtpvrawpay, memmapsink
 *
 * Passes on the RTP packets of video one whole frame at a time, and only
 * the frames that arrived whole: put it in front of the depayloader on a
 * receiver so that a frame of which a packet was lost never reaches the
 * store. rtpvrawdepay (raw video, RFC 4175) alone pushes whatever it
 * assembled when a new RTP timestamp begins, so a lost packet leaves a torn
 * frame (the previous frame's or the allocator's bytes where the packet
 * should have been).
 *
 * A frame (the packets of one RTP timestamp, up to the one with the marker
 * bit, as rtpvrawpay and rtph264pay send them) is passed when its packets
 * have consecutive sequence numbers, from the one after the previous
 * frame's marker to its own marker. For raw video (`encoding-name=RAW`) the
 * first packet must also start at line 0, offset 0 and the pixel groups
 * must add up to exactly the frame's size for the caps (width, height,
 * sampling, depth). Anything else is dropped whole and counted: frames of
 * which some packets arrived (`frames-incomplete`) and frames of which
 * nothing arrived, estimated from the gaps between RTP timestamps
 * (`frames-missing`). The first packet after a loss is flagged `DISCONT`,
 * which rtpvrawdepay passes on to the frame, and memmapsink stores.
 *
 * With #GstMemmapRtpFrameFilter:restamp (the default) every packet's PTS
 * becomes its RTP timestamp in nanoseconds, and its duration the frame
 * step (from the caps' `a-framerate`, else the smallest step seen): with `timestamp-offset=0` on
 * the sender's payloader that is the sender's running time of the frame,
 * exact when frame times are multiples of 0.1 ms (1/90000 s ticks that are
 * whole nanoseconds: 25, 50, 100 fps...), and otherwise rounded down to
 * the tick below (at most 11.1 µs).
 *
 * For compressed video (rtph264pay), put `wait-for-keyframe=true` on
 * rtph264depay: the first packet after a loss is flagged DISCONT, and the
 * depayloader then drops the frames that refer to what was lost, up to the
 * next keyframe.
 *
 * Packets must arrive in order: put an rtpjitterbuffer in front of it on a
 * link that reorders.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=100 ! video/x-raw,format=I420,width=320,height=240,framerate=50/1 ! rtpvrawpay timestamp-offset=0 ! identity drop-probability=0.002 ! memmaprtpframefilter ! rtpvrawdepay ! memmapsink location=far.store
 * ]| Loses about one packet in 500 on the way (some 13 frames of 100),
 * and stores only the frames that arrived whole, with their timestamps.
 * |[
 * gst-launch-1.0 udpsrc port=5004 caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=RAW,sampling=YCbCr-4:2:0,depth=(string)8,width=(string)1280,height=(string)720,colorimetry=BT709-2,payload=96,a-framerate=(string)50" ! memmaprtpframefilter ! rtpvrawdepay ! memmapsink location=far.store
 * ]| Receives (until Ctrl-C) 720p I420 sent by
 * `memmapsrc location=near.store ! rtpvrawpay timestamp-offset=0 ! udpsink host=... port=5004`
 * from another host, and stores only whole frames, with the sender's
 * timestamps.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapelements.h"

#include <gst/rtp/rtp.h>

GST_DEBUG_CATEGORY_STATIC (gst_memmap_rtp_frame_filter_debug);
#define GST_CAT_DEFAULT gst_memmap_rtp_frame_filter_debug

#define RTP_VIDEO_CAPS "application/x-rtp, media = (string) video, " \
    "clock-rate = (int) 90000"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (RTP_VIDEO_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (RTP_VIDEO_CAPS));

#define DEFAULT_RESTAMP TRUE
#define RTP_CLOCK_RATE 90000

enum
{
  PROP_0,
  PROP_RESTAMP,
  PROP_STATS,
};

#define GST_TYPE_MEMMAP_RTP_FRAME_FILTER (gst_memmap_rtp_frame_filter_get_type ())
G_DECLARE_FINAL_TYPE (GstMemmapRtpFrameFilter, gst_memmap_rtp_frame_filter,
    GST, MEMMAP_RTP_FRAME_FILTER, GstElement);

struct _GstMemmapRtpFrameFilter
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* under the object lock: the setting and the counters */
  gboolean restamp;
  guint64 frames_passed;
  guint64 frames_incomplete;
  guint64 frames_missing;
  guint64 packets_passed;
  guint64 packets_dropped;

  /* streaming thread only. The layout of the caps: */
  gboolean have_layout;
  gboolean raw;                 /* RFC 4175: the layout below is checked */
  guint64 frame_bytes;          /* pixel-group bytes of a whole frame */
  guint pgroup;

  /* the frame being assembled: its packets, in order */
  GstBufferList *pending;
  guint32 pending_ts;
  guint64 pending_bytes;
  gboolean pending_broken;
  guint16 last_seq;
  gboolean have_last_seq;
  guint16 marker_seq;           /* of the last packet with the marker */
  gboolean have_marker_seq;

  /* RTP time, extended over wrap-arounds, and the frames seen */
  guint64 ext_ts;
  guint64 last_frame_ts;        /* extended; G_MAXUINT64: none yet */
  guint64 frame_ticks;          /* a-framerate's step, or the smallest seen */
  gboolean discont;             /* flag the next packet passed */
};

G_DEFINE_TYPE (GstMemmapRtpFrameFilter, gst_memmap_rtp_frame_filter,
    GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (memmaprtpframefilter, "memmaprtpframefilter",
    GST_RANK_NONE, GST_TYPE_MEMMAP_RTP_FRAME_FILTER);

static void gst_memmap_rtp_frame_filter_finalize (GObject * object);
static void gst_memmap_rtp_frame_filter_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_memmap_rtp_frame_filter_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static GstStateChangeReturn gst_memmap_rtp_frame_filter_change_state (GstElement
    * element, GstStateChange transition);
static GstFlowReturn gst_memmap_rtp_frame_filter_chain (GstPad * pad,
    GstObject * parent, GstBuffer * buffer);
static gboolean gst_memmap_rtp_frame_filter_sink_event (GstPad * pad,
    GstObject * parent, GstEvent * event);
static void reset (GstMemmapRtpFrameFilter * self, gboolean counters);

static void
gst_memmap_rtp_frame_filter_class_init (GstMemmapRtpFrameFilterClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_memmap_rtp_frame_filter_finalize;
  gobject_class->set_property = gst_memmap_rtp_frame_filter_set_property;
  gobject_class->get_property = gst_memmap_rtp_frame_filter_get_property;

  /**
   * GstMemmapRtpFrameFilter:restamp:
   *
   * Set every packet's PTS to its RTP timestamp in nanoseconds (rounded
   * down), its duration to the frame step, and clear its DTS. With `timestamp-offset=0` on the sender's
   * payloader, the frames get the sender's running time. FALSE keeps the
   * PTS of the packets (udpsrc's arrival times).
   */
  g_object_class_install_property (gobject_class, PROP_RESTAMP,
      g_param_spec_boolean ("restamp", "Restamp",
          "PTS from the RTP timestamp (the sender's running time with "
          "timestamp-offset=0 on its payloader)", DEFAULT_RESTAMP,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstMemmapRtpFrameFilter:stats:
   *
   * A `memmaprtpframefilter-stats` structure of guint64 counters, reset when
   * the element goes to PAUSED: `frames-passed`, `frames-incomplete`
   * (frames of which packets arrived but not all: dropped),
   * `frames-missing` (frames of which nothing arrived, from the gaps in
   * RTP time), `frames-lost` (the sum of the two), `packets-passed`,
   * `packets-dropped`.
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Frames passed, dropped incomplete and missing; packets",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Whole RTP video frames", "Filter/Network/RTP",
      "Passes on the RTP packets of video frames that arrived whole, "
      "drops and counts the others", "gst-memmap developers");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_memmap_rtp_frame_filter_change_state);

  GST_DEBUG_CATEGORY_INIT (gst_memmap_rtp_frame_filter_debug,
      "memmaprtpframefilter", 0, "Whole RTP video frames");
}

static void
gst_memmap_rtp_frame_filter_init (GstMemmapRtpFrameFilter * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_memmap_rtp_frame_filter_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_memmap_rtp_frame_filter_sink_event));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->restamp = DEFAULT_RESTAMP;
  reset (self, TRUE);
}

static void
gst_memmap_rtp_frame_filter_finalize (GObject * object)
{
  GstMemmapRtpFrameFilter *self = GST_MEMMAP_RTP_FRAME_FILTER (object);

  g_clear_pointer (&self->pending, gst_buffer_list_unref);

  G_OBJECT_CLASS (gst_memmap_rtp_frame_filter_parent_class)->finalize (object);
}

static GstStructure *
make_stats (GstMemmapRtpFrameFilter * self)
{
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("memmaprtpframefilter-stats",
      "frames-passed", G_TYPE_UINT64, self->frames_passed,
      "frames-incomplete", G_TYPE_UINT64, self->frames_incomplete,
      "frames-missing", G_TYPE_UINT64, self->frames_missing,
      "frames-lost", G_TYPE_UINT64,
      self->frames_incomplete + self->frames_missing,
      "packets-passed", G_TYPE_UINT64, self->packets_passed,
      "packets-dropped", G_TYPE_UINT64, self->packets_dropped, NULL);
  GST_OBJECT_UNLOCK (self);

  return s;
}

static void
gst_memmap_rtp_frame_filter_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstMemmapRtpFrameFilter *self = GST_MEMMAP_RTP_FRAME_FILTER (object);

  switch (prop_id) {
    case PROP_RESTAMP:
      GST_OBJECT_LOCK (self);
      self->restamp = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_memmap_rtp_frame_filter_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstMemmapRtpFrameFilter *self = GST_MEMMAP_RTP_FRAME_FILTER (object);

  switch (prop_id) {
    case PROP_RESTAMP:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->restamp);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* Forgets the frame being assembled and the stream's position; with
 * counters, also the stats. */
static void
reset (GstMemmapRtpFrameFilter * self, gboolean counters)
{
  g_clear_pointer (&self->pending, gst_buffer_list_unref);
  self->pending_bytes = 0;
  self->pending_broken = FALSE;
  self->have_last_seq = FALSE;
  self->have_marker_seq = FALSE;
  self->ext_ts = GST_CLOCK_TIME_NONE;
  self->last_frame_ts = G_MAXUINT64;
  self->discont = TRUE;

  if (counters) {
    GST_OBJECT_LOCK (self);
    self->frames_passed = self->frames_incomplete = self->frames_missing = 0;
    self->packets_passed = self->packets_dropped = 0;
    GST_OBJECT_UNLOCK (self);
  }
}

static GstStateChangeReturn
gst_memmap_rtp_frame_filter_change_state (GstElement * element,
    GstStateChange transition)
{
  GstMemmapRtpFrameFilter *self = GST_MEMMAP_RTP_FRAME_FILTER (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    reset (self, TRUE);
    self->have_layout = FALSE;
    self->frame_ticks = 0;
  }

  ret = GST_ELEMENT_CLASS (gst_memmap_rtp_frame_filter_parent_class)
      ->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    reset (self, FALSE);

  return ret;
}

/* The pixel group of RFC 4175 (section 4.3) for the samplings rtpvrawdepay
 * understands: bytes per group, pixels across and lines down it covers. */
static gboolean
pgroup_of (const gchar * sampling, const gchar * depth, guint * pgroup,
    guint * xinc, guint * yinc)
{
  static const struct
  {
    const gchar *sampling, *depth;
    guint pgroup, xinc, yinc;
  } groups[] = {
    {"RGB", "8", 3, 1, 1}, {"BGR", "8", 3, 1, 1},
    {"RGBA", "8", 4, 1, 1}, {"BGRA", "8", 4, 1, 1},
    {"YCbCr-4:4:4", "8", 3, 1, 1}, {"YCbCr-4:2:2", "8", 4, 2, 1},
    {"YCbCr-4:2:2", "10", 5, 2, 1}, {"YCbCr-4:2:0", "8", 6, 2, 2},
    {"YCbCr-4:1:1", "8", 6, 4, 1},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (groups); i++) {
    if (g_strcmp0 (sampling, groups[i].sampling) == 0 &&
        g_strcmp0 (depth, groups[i].depth) == 0) {
      *pgroup = groups[i].pgroup;
      *xinc = groups[i].xinc;
      *yinc = groups[i].yinc;
      return TRUE;
    }
  }
  return FALSE;
}

/* The frame step in RTP time, from the payloader's a-framerate (SDP) when
 * it is there (else learnt from the smallest step seen); for raw video the
 * frame size in pixel-group bytes, from the RTP caps (whose width and
 * height are strings, as in SDP). */
static gboolean
set_layout (GstMemmapRtpFrameFilter * self, GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *sampling, *depth, *w, *h, *fps;
  gdouble rate;
  guint pgroup, xinc, yinc;
  guint64 width, height;

  fps = gst_structure_get_string (s, "a-framerate");
  if (fps && (rate = g_ascii_strtod (fps, NULL)) > 0.0 && rate < 1000.0)
    self->frame_ticks = (guint64) (RTP_CLOCK_RATE / rate + 0.5);

  self->raw = g_strcmp0 (gst_structure_get_string (s, "encoding-name"),
      "RAW") == 0;
  if (!self->raw) {
    /* whole access units only: no layout to check */
    self->frame_bytes = 0;
    self->have_layout = TRUE;
    return TRUE;
  }

  sampling = gst_structure_get_string (s, "sampling");
  depth = gst_structure_get_string (s, "depth");
  w = gst_structure_get_string (s, "width");
  h = gst_structure_get_string (s, "height");
  if (!w || !h || !g_ascii_string_to_unsigned (w, 10, 1, 32767, &width,
          NULL) || !g_ascii_string_to_unsigned (h, 10, 1, 32767, &height, NULL))
    goto no_size;
  if (!pgroup_of (sampling, depth, &pgroup, &xinc, &yinc))
    goto no_sampling;
  if (gst_structure_has_field (s, "interlace"))
    goto interlaced;

  self->pgroup = pgroup;
  self->frame_bytes = ((width + xinc - 1) / xinc) *
      ((height + yinc - 1) / yinc) * pgroup;
  self->have_layout = TRUE;
  GST_INFO_OBJECT (self, "%" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
      " %s depth %s: %" G_GUINT64_FORMAT " bytes a frame", width, height,
      sampling, depth, self->frame_bytes);
  return TRUE;

  /* ERRORS */
no_size:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("RTP caps without a valid width and height: %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
no_sampling:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("sampling %s of depth %s is not known: %" GST_PTR_FORMAT,
            GST_STR_NULL (sampling), GST_STR_NULL (depth), caps));
    return FALSE;
  }
interlaced:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL),
        ("interlaced raw video is not supported: %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
}

/* Drops the frame being assembled, if any, as incomplete. */
static void
drop_pending (GstMemmapRtpFrameFilter * self, const gchar * why)
{
  guint n;

  if (!self->pending)
    return;
  n = gst_buffer_list_length (self->pending);
  GST_DEBUG_OBJECT (self, "dropping the frame of RTP time %u (%u packets, "
      "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes): %s",
      self->pending_ts, n, self->pending_bytes, self->frame_bytes, why);
  g_clear_pointer (&self->pending, gst_buffer_list_unref);
  self->discont = TRUE;

  GST_OBJECT_LOCK (self);
  self->frames_incomplete++;
  self->packets_dropped += n;
  GST_OBJECT_UNLOCK (self);
}

/* A new frame of extended RTP time ts was seen (whole or not): the frames
 * between it and the previous one, at the smallest step seen, are
 * missing. */
static void
count_missing (GstMemmapRtpFrameFilter * self, guint64 ts)
{
  guint64 step, missing = 0;

  if (self->last_frame_ts != G_MAXUINT64 && ts > self->last_frame_ts) {
    step = ts - self->last_frame_ts;
    if (self->frame_ticks == 0 || step < self->frame_ticks)
      self->frame_ticks = step; /* (a-framerate's step is the smallest) */
    missing = (step + self->frame_ticks / 2) / self->frame_ticks - 1;
  }
  self->last_frame_ts = ts;
  if (missing == 0)
    return;

  GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " frames missing before RTP "
      "time %" G_GUINT64_FORMAT, missing, ts);
  self->discont = TRUE;
  GST_OBJECT_LOCK (self);
  self->frames_missing += missing;
  GST_OBJECT_UNLOCK (self);
}

/* Pixel-group bytes of an RFC 4175 payload (after the extended sequence
 * number: 6-byte line headers, then the data), and whether it starts a
 * frame (line 0, offset 0). FALSE if the headers do not hold up. */
static gboolean
payload_bytes (GstMemmapRtpFrameFilter * self, const guint8 * p, guint len,
    guint64 * bytes, gboolean * first)
{
  const guint8 *h;
  guint n_headers = 0, data, sum = 0, i;
  gboolean cont;

  if (len < 2 + 6)
    return FALSE;
  h = p + 2;
  do {
    if (2 + 6 * (n_headers + 1) > len)
      return FALSE;
    cont = (h[6 * n_headers + 4] & 0x80) != 0;
    n_headers++;
  } while (cont);
  data = len - 2 - 6 * n_headers;

  for (i = 0; i < n_headers; i++) {
    guint length = (h[6 * i] << 8) | h[6 * i + 1];

    if (length % self->pgroup != 0)
      return FALSE;
    sum += length;
  }
  if (sum != data)
    return FALSE;

  *first = ((h[2] & 0x7f) << 8 | h[3]) == 0 && ((h[4] & 0x7f) << 8 | h[5])
      == 0;
  *bytes = sum;
  return TRUE;
}

/* The frame is whole: restamps its packets and pushes them as one list. */
static GstFlowReturn
push_frame (GstMemmapRtpFrameFilter * self)
{
  GstBufferList *list = g_steal_pointer (&self->pending);
  GstClockTime pts = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;
  gboolean restamp;
  guint i, n = gst_buffer_list_length (list);

  GST_OBJECT_LOCK (self);
  restamp = self->restamp;
  self->frames_passed++;
  self->packets_passed += n;
  GST_OBJECT_UNLOCK (self);

  /* the extended time of the marker packet, the last one processed */
  if (restamp) {
    pts = gst_util_uint64_scale_int (self->ext_ts - (G_GUINT64_CONSTANT (1)
            << 32), GST_SECOND, RTP_CLOCK_RATE);
    if (self->frame_ticks > 0)
      duration = gst_util_uint64_scale_int (self->frame_ticks, GST_SECOND,
          RTP_CLOCK_RATE);
  }

  list = gst_buffer_list_make_writable (list);
  for (i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_list_get_writable (list, i);

    if (restamp) {
      GST_BUFFER_PTS (buf) = pts;
      GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
      GST_BUFFER_DURATION (buf) = duration;
    }
    if (i == 0 && self->discont)
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    else
      GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_DISCONT);
  }
  self->discont = FALSE;

  GST_LOG_OBJECT (self, "frame of RTP time %u whole (%u packets), pts %"
      GST_TIME_FORMAT, self->pending_ts, n, GST_TIME_ARGS (pts));
  return gst_pad_push_list (self->srcpad, list);
}

static GstFlowReturn
gst_memmap_rtp_frame_filter_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buffer)
{
  GstMemmapRtpFrameFilter *self = GST_MEMMAP_RTP_FRAME_FILTER (parent);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint32 ts;
  guint16 seq;
  gboolean marker, first = FALSE, in_order, ok;
  guint64 bytes = 0;

  if (!self->have_layout)
    goto not_negotiated;
  if (!gst_rtp_buffer_map (buffer, GST_MAP_READ, &rtp))
    goto invalid;
  ts = gst_rtp_buffer_get_timestamp (&rtp);
  seq = gst_rtp_buffer_get_seq (&rtp);
  marker = gst_rtp_buffer_get_marker (&rtp);
  if (self->raw)
    ok = payload_bytes (self, gst_rtp_buffer_get_payload (&rtp),
        gst_rtp_buffer_get_payload_len (&rtp), &bytes, &first);
  else                          /* after the previous marker, or the very first */
    ok = first = !self->have_last_seq || (self->have_marker_seq &&
        seq == (guint16) (self->marker_seq + 1));
  gst_rtp_buffer_unmap (&rtp);

  in_order = self->have_last_seq && seq == (guint16) (self->last_seq + 1);
  self->last_seq = seq;
  self->have_last_seq = TRUE;
  if (marker) {
    self->marker_seq = seq;
    self->have_marker_seq = TRUE;
  }

  /* a new RTP time before the marker of the frame being assembled */
  if (self->pending && ts != self->pending_ts)
    drop_pending (self, "no marker");

  if (!self->pending) {
    self->ext_ts = gst_rtp_buffer_ext_timestamp (&self->ext_ts, ts);
    count_missing (self, self->ext_ts);
    self->pending = gst_buffer_list_new ();
    self->pending_ts = ts;
    self->pending_bytes = 0;
    self->pending_broken = !first;
  } else if (!in_order) {
    self->pending_broken = TRUE;
  }
  gst_buffer_list_add (self->pending, buffer);
  if (self->raw && !ok)
    self->pending_broken = TRUE;
  self->pending_bytes += bytes;

  if (!marker)
    return GST_FLOW_OK;

  if (self->pending_broken)
    drop_pending (self, "packets lost, out of order or malformed");
  else if (self->raw && self->pending_bytes != self->frame_bytes)
    drop_pending (self, "not the size of a frame");
  else
    return push_frame (self);
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("a packet before the caps"));
    gst_buffer_unref (buffer);
    return GST_FLOW_NOT_NEGOTIATED;
  }
invalid:
  {
    GST_DEBUG_OBJECT (self, "dropping a packet that is not RTP");
    gst_buffer_unref (buffer);
    GST_OBJECT_LOCK (self);
    self->packets_dropped++;
    GST_OBJECT_UNLOCK (self);
    return GST_FLOW_OK;
  }
}

static gboolean
gst_memmap_rtp_frame_filter_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstMemmapRtpFrameFilter *self = GST_MEMMAP_RTP_FRAME_FILTER (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps, *cur;

      gst_event_parse_caps (event, &caps);
      /* a frame begun under other caps is not a frame of these (the same
       * caps again, after a flush say, change nothing) */
      cur = gst_pad_get_current_caps (pad);
      if (cur == NULL || !gst_caps_is_equal (cur, caps))
        drop_pending (self, "new caps");
      gst_clear_caps (&cur);
      if (!set_layout (self, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      g_clear_pointer (&self->pending, gst_buffer_list_unref);
      self->have_last_seq = FALSE;
      self->have_marker_seq = FALSE;
      self->discont = TRUE;
      break;
    case GST_EVENT_EOS:
      drop_pending (self, "end of stream");
      break;
    default:
      break;
  }

  return gst_pad_event_default (pad, parent, event);
}
