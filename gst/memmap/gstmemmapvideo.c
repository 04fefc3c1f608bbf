/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Video helpers of the frames API and the elements (gstmemmapvideo.h):
 * the caps a frame store can hold and the layout comparisons. Private API
 * of the library, plain C, no state. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapvideo.h"

GstCaps *
gst_memmap_video_store_caps (gboolean alternate)
{
  GValue formats = G_VALUE_INIT, format = G_VALUE_INIT;
  const GstVideoFormat *raw;
  GstCaps *caps, *alt;
  guint i, n;

  g_value_init (&formats, GST_TYPE_LIST);
  g_value_init (&format, G_TYPE_STRING);
  raw = gst_video_formats_raw (&n);
  for (i = 0; i < n; i++) {
    const GstVideoFormatInfo *finfo = gst_video_format_get_info (raw[i]);

    if (GST_VIDEO_FORMAT_INFO_IS_TILED (finfo) ||
        GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo))
      continue;
    g_value_set_static_string (&format, GST_VIDEO_FORMAT_INFO_NAME (finfo));
    gst_value_list_append_value (&formats, &format);
  }

  caps = gst_caps_new_empty_simple ("video/x-raw");
  gst_caps_set_value (caps, "format", &formats);
  gst_caps_set_simple (caps,
      "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
      "height", GST_TYPE_INT_RANGE, 1, G_MAXINT,
      "framerate", GST_TYPE_FRACTION_RANGE, 0, 1, G_MAXINT, 1, NULL);

  if (alternate) {
    /* interlace-mode=alternate: a field per buffer, caps feature
     * format:Interlaced (docs/store-format.md) */
    alt = gst_caps_copy (caps);
    gst_caps_set_features (alt, 0,
        gst_caps_features_new (GST_CAPS_FEATURE_FORMAT_INTERLACED, NULL));
    gst_caps_set_simple (alt, "interlace-mode", G_TYPE_STRING,
        "alternate", NULL);
    gst_caps_append (caps, alt);
  }

  g_value_unset (&format);
  g_value_unset (&formats);

  return caps;
}

gboolean
gst_memmap_video_info_same_picture (const GstVideoInfo * a,
    const GstVideoInfo * b)
{
  return GST_VIDEO_INFO_FORMAT (a) == GST_VIDEO_INFO_FORMAT (b) &&
      GST_VIDEO_INFO_WIDTH (a) == GST_VIDEO_INFO_WIDTH (b) &&
      GST_VIDEO_INFO_HEIGHT (a) == GST_VIDEO_INFO_HEIGHT (b) &&
      GST_VIDEO_INFO_N_PLANES (a) == GST_VIDEO_INFO_N_PLANES (b);
}

gboolean
gst_memmap_video_info_same_frame_layout (const GstVideoInfo * a,
    const GstVideoInfo * b)
{
  if (!gst_memmap_video_info_same_picture (a, b))
    return FALSE;
  return gst_memmap_video_info_same_plane_layout (a, b);
}

gboolean
gst_memmap_video_info_same_plane_layout (const GstVideoInfo * a,
    const GstVideoInfo * b)
{
  guint p;

  if (GST_VIDEO_INFO_SIZE (a) != GST_VIDEO_INFO_SIZE (b))
    return FALSE;
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (a); p++) {
    if (GST_VIDEO_INFO_PLANE_OFFSET (a, p) !=
        GST_VIDEO_INFO_PLANE_OFFSET (b, p) ||
        GST_VIDEO_INFO_PLANE_STRIDE (a, p) !=
        GST_VIDEO_INFO_PLANE_STRIDE (b, p))
      return FALSE;
  }
  return TRUE;
}
