/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The deterministic frame content shared by the store tests, the store-make
 * helper and tests/check/store_numpy.py: byte x of row y of plane p of frame
 * f is (13 f + 101 p + 7 y + 3 x) mod 256, for the bytes of the plane's
 * pixels only (padding is left alone).
 *
 * The pattern repeats every 256 frames. Where a test must tell frame f from
 * frame f + 256 (a ring lapped many times), the stamped variant also writes
 * f as a 64-bit little-endian number over the first 8 bytes of every row
 * of at least 8 bytes (store-make --stamp); the rest of the row keeps the
 * pattern.
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <string.h>

static inline guint8
store_pattern_byte (guint64 f, guint p, guint y, guint x)
{
  return (guint8) ((f * 13 + p * 101 + y * 7 + x * 3) & 0xff);
}

static inline guint
store_plane_rows (const GstVideoInfo * info, guint p)
{
  gint comps[GST_VIDEO_MAX_COMPONENTS];

  gst_video_format_info_component (info->finfo, p, comps);
  return GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (info->finfo, comps[0],
      GST_VIDEO_INFO_HEIGHT (info));
}

static inline guint
store_plane_row_bytes (const GstVideoInfo * info, guint p)
{
  gint comps[GST_VIDEO_MAX_COMPONENTS];
  guint i, n = 0;

  gst_video_format_info_component (info->finfo, p, comps);
  for (i = 0; i < GST_VIDEO_MAX_COMPONENTS && comps[i] >= 0; i++) {
    guint w = GST_VIDEO_FORMAT_INFO_SCALE_WIDTH (info->finfo, comps[i],
        GST_VIDEO_INFO_WIDTH (info));

    n = MAX (n, w * GST_VIDEO_FORMAT_INFO_PSTRIDE (info->finfo, comps[i]));
  }
  return n;
}

/* @data is the frame (offsets and strides of @info) */
static inline void
store_fill_frame (guint8 * data, const GstVideoInfo * info, guint64 f)
{
  guint p, y, x;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    guint rows = store_plane_rows (info, p);
    guint row_bytes = store_plane_row_bytes (info, p);

    for (y = 0; y < rows; y++) {
      guint8 *row = data + GST_VIDEO_INFO_PLANE_OFFSET (info, p) +
          (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (info, p);

      for (x = 0; x < row_bytes; x++)
        row[x] = store_pattern_byte (f, p, y, x);
    }
  }
}

/* Returns TRUE if the pixels of frame @f are intact. */
static inline gboolean
store_check_frame (const guint8 * data, const GstVideoInfo * info, guint64 f)
{
  guint p, y, x;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    guint rows = store_plane_rows (info, p);
    guint row_bytes = store_plane_row_bytes (info, p);

    for (y = 0; y < rows; y++) {
      const guint8 *row = data + GST_VIDEO_INFO_PLANE_OFFSET (info, p) +
          (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (info, p);

      for (x = 0; x < row_bytes; x++) {
        if (row[x] != store_pattern_byte (f, p, y, x))
          return FALSE;
      }
    }
  }
  return TRUE;
}

#define STORE_STAMP_BYTES 8

/* store_fill_frame(), then the frame number over the start of every row */
static inline void
store_fill_frame_stamped (guint8 * data, const GstVideoInfo * info, guint64 f)
{
  guint64 le = GUINT64_TO_LE (f);
  guint p, y;

  store_fill_frame (data, info, f);
  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    guint rows = store_plane_rows (info, p);

    if (store_plane_row_bytes (info, p) < STORE_STAMP_BYTES)
      continue;
    for (y = 0; y < rows; y++)
      memcpy (data + GST_VIDEO_INFO_PLANE_OFFSET (info, p) +
          (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (info, p), &le,
          STORE_STAMP_BYTES);
  }
}

/* Returns TRUE if the pixels of frame @f, written by
 * store_fill_frame_stamped(), are intact: every row's stamp says @f and
 * the rest of it holds @f's pattern. */
static inline gboolean
store_check_frame_stamped (const guint8 * data, const GstVideoInfo * info,
    guint64 f)
{
  guint64 le = GUINT64_TO_LE (f);
  guint p, y, x;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    guint rows = store_plane_rows (info, p);
    guint row_bytes = store_plane_row_bytes (info, p);
    guint start = row_bytes < STORE_STAMP_BYTES ? 0 : STORE_STAMP_BYTES;

    for (y = 0; y < rows; y++) {
      const guint8 *row = data + GST_VIDEO_INFO_PLANE_OFFSET (info, p) +
          (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (info, p);

      if (start > 0 && memcmp (row, &le, STORE_STAMP_BYTES) != 0)
        return FALSE;
      for (x = start; x < row_bytes; x++) {
        if (row[x] != store_pattern_byte (f, p, y, x))
          return FALSE;
      }
    }
  }
  return TRUE;
}

/* SHA-1 of the pixel bytes of a frame (padding excluded). @strides and
 * @offsets may come from a GstVideoMeta. */
static inline gchar *
store_frame_checksum (const guint8 * data, const GstVideoInfo * info,
    const gsize * offsets, const gint * strides)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA1);
  gchar *ret;
  guint p, y;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    guint rows = store_plane_rows (info, p);
    guint row_bytes = store_plane_row_bytes (info, p);

    for (y = 0; y < rows; y++)
      g_checksum_update (sum, data + offsets[p] + (gsize) y * strides[p],
          row_bytes);
  }
  ret = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return ret;
}

/* A layout that differs from the caps' defaults: every stride rounded up to
 * @stride_align bytes and @pad_rows rows of padding above the picture
 * (which moves every plane). @stride_align 0: the defaults. */
static inline gboolean
store_make_layout (GstVideoInfo * info, GstVideoFormat format, guint width,
    guint height, guint stride_align, guint pad_rows)
{
  GstVideoAlignment align;
  guint p;

  gst_video_info_set_format (info, format, width, height);
  GST_VIDEO_INFO_FPS_N (info) = 30;
  GST_VIDEO_INFO_FPS_D (info) = 1;
  if (stride_align == 0 && pad_rows == 0)
    return TRUE;

  gst_video_alignment_reset (&align);
  align.padding_top = pad_rows;
  for (p = 0; p < GST_VIDEO_MAX_PLANES; p++)
    align.stride_align[p] = stride_align ? stride_align - 1 : 0;
  return gst_video_info_align (info, &align);
}
