/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The checksum of a video frame that the tests and the benchmarks compare:
 * SHA-1 of the visible bytes of every plane, row by row. Padding (which
 * differs between strides) is left out, so that frames of different
 * layouts compare: a frame store's slot and the decoder's buffer of the
 * same picture have the same checksum.
 *
 * Plain GStreamer, no gst-check: the benchmarks include it too. The check
 * tests use memmap_test_frame_checksum() (memmap-test-util.h), which fails
 * the test when the buffer is not a frame.
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

/* The checksum of @buffer read as a frame of @info, or NULL if it cannot
 * be mapped as one. Free with g_free(). */
static inline gchar *
memmap_frame_checksum (const GstVideoInfo * info, GstBuffer * buffer)
{
  GChecksum *sum;
  GstVideoFrame frame;
  gchar *ret = NULL;
  guint p;

  if (!gst_video_frame_map (&frame, info, buffer, GST_MAP_READ))
    return NULL;
  sum = g_checksum_new (G_CHECKSUM_SHA1);
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    guint rows, row;
    gsize row_bytes;

    gst_video_format_info_component (frame.info.finfo, p, comp);
    if (comp[0] < 0)
      goto out;
    rows = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, comp[0]);
    row_bytes = (gsize) GST_VIDEO_FRAME_COMP_WIDTH (&frame, comp[0]) *
        GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, comp[0]);
    for (row = 0; row < rows; row++)
      g_checksum_update (sum, data + (gsize) row * stride, row_bytes);
  }
  ret = g_strdup (g_checksum_get_string (sum));

out:
  gst_video_frame_unmap (&frame);
  g_checksum_free (sum);
  return ret;
}

/* As memmap_frame_checksum() for a frame of @caps; NULL also when @caps is
 * NULL or not raw video. */
static inline gchar *
memmap_frame_checksum_caps (GstCaps * caps, GstBuffer * buffer)
{
  GstVideoInfo info;

  if (caps == NULL || !gst_video_info_from_caps (&info, caps))
    return NULL;
  return memmap_frame_checksum (&info, buffer);
}
