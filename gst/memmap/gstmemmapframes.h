/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>
#include <gst/memmap/gstmemmapengine.h>
#include <gst/video/video.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * GstMemmapFramesFlags:
 * @GST_MEMMAP_FRAMES_NONE: read-only frames: memory of the read-only
 *   shared mappings of the frame stores
 * @GST_MEMMAP_FRAMES_COPY_ON_WRITE: writable frames: memory of private
 *   copy-on-write mappings of the frame stores (%GST_MEMMAP_MAP_COPY_ON_WRITE).
 *   Nothing is copied until a page is written; a written page is the
 *   process's own and the store never changes
 *
 * How gst_memmap_engine_map_video_frames_full() hands out the frames.
 *
 * Since: 0.2
 */
typedef enum
{
  GST_MEMMAP_FRAMES_NONE = 0,
  GST_MEMMAP_FRAMES_COPY_ON_WRITE = (1 << 0),
} GstMemmapFramesFlags;

/**
 * GstMemmapFramesProgressFunc:
 * @done: frames of the stream recorded so far, from its first frame up to
 *   the last frame asked for; never decreases
 * @total: frames to record: the start frame plus the count asked for, or
 *   for a range to the end of the stream an estimate from its duration and
 *   frame rate (0 while unknown); the last call has @done == @total
 * @user_data: the data given with the callback
 *
 * Called by gst_memmap_engine_map_video_frames_full() in the caller's
 * thread while it records the frames. It may cancel the call's
 * #GCancellable.
 *
 * Since: 0.2
 */
typedef void (*GstMemmapFramesProgressFunc) (guint64 done, guint64 total,
    gpointer user_data);

#define GST_TYPE_MEMMAP_FRAMES (gst_memmap_frames_get_type ())
GST_MEMMAP_API
G_DECLARE_FINAL_TYPE (GstMemmapFrames, gst_memmap_frames, GST, MEMMAP_FRAMES,
    GObject)

GST_MEMMAP_API
GstMemmapFrames *gst_memmap_map_video_frames (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, GError ** error);

GST_MEMMAP_API
GstMemmapFrames *gst_memmap_map_video_frames_full (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, const gchar * cache_dir, GError ** error);

GST_MEMMAP_API
GstMemmapFrames *gst_memmap_engine_map_video_frames (GstMemmapEngine * engine,
    const gchar * uri_or_path, guint64 start_frame, guint64 frame_count,
    const gchar * format, GError ** error);

GST_MEMMAP_API
GstMemmapFrames *gst_memmap_engine_map_video_frames_full (
    GstMemmapEngine * engine, const gchar * uri_or_path, guint64 start_frame,
    guint64 frame_count, const gchar * format, const gchar * cache_dir,
    GstMemmapFramesFlags flags, GCancellable * cancellable,
    GstMemmapFramesProgressFunc progress, gpointer progress_data,
    GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_frames_is_copy_on_write (GstMemmapFrames * frames);

GST_MEMMAP_API
guint8 *gst_memmap_frames_get_writable_data (GstMemmapFrames * frames,
    guint i);

GST_MEMMAP_API
guint gst_memmap_frames_get_n_frames (GstMemmapFrames * frames);

GST_MEMMAP_API
guint64 gst_memmap_frames_get_start_frame (GstMemmapFrames * frames);

GST_MEMMAP_API
gboolean gst_memmap_frames_is_clipped (GstMemmapFrames * frames);

GST_MEMMAP_API
GstCaps *gst_memmap_frames_get_caps (GstMemmapFrames * frames);

GST_MEMMAP_API
const GstVideoInfo *gst_memmap_frames_get_video_info (
    GstMemmapFrames * frames);

GST_MEMMAP_API
const gchar *gst_memmap_frames_get_format (GstMemmapFrames * frames);

GST_MEMMAP_API
guint gst_memmap_frames_get_width (GstMemmapFrames * frames);

GST_MEMMAP_API
guint gst_memmap_frames_get_height (GstMemmapFrames * frames);

GST_MEMMAP_API
guint gst_memmap_frames_get_n_planes (GstMemmapFrames * frames);

GST_MEMMAP_API
gsize gst_memmap_frames_get_frame_size (GstMemmapFrames * frames);

GST_MEMMAP_API
gsize gst_memmap_frames_get_plane_offset (GstMemmapFrames * frames,
    guint plane);

GST_MEMMAP_API
gint gst_memmap_frames_get_plane_stride (GstMemmapFrames * frames,
    guint plane);

GST_MEMMAP_API
GstClockTime gst_memmap_frames_get_pts (GstMemmapFrames * frames, guint i);

GST_MEMMAP_API
GstClockTime gst_memmap_frames_get_duration (GstMemmapFrames * frames,
    guint i);

GST_MEMMAP_API
GstBuffer *gst_memmap_frames_get_buffer (GstMemmapFrames * frames, guint i);

GST_MEMMAP_API
const guint8 *gst_memmap_frames_get_data (GstMemmapFrames * frames, guint i);

GST_MEMMAP_API
guint64 gst_memmap_frames_get_address (GstMemmapFrames * frames, guint i);

GST_MEMMAP_API
guint64 gst_memmap_frames_get_plane_address (GstMemmapFrames * frames,
    guint i, guint plane);

GST_MEMMAP_API
const gchar *gst_memmap_frames_get_path (GstMemmapFrames * frames, guint i);

GST_MEMMAP_API
guint64 gst_memmap_frames_get_file_offset (GstMemmapFrames * frames,
    guint i);

GST_MEMMAP_API
gboolean gst_memmap_frames_is_zero_copy (GstMemmapFrames * frames);

GST_MEMMAP_API
gboolean gst_memmap_frames_check (GstMemmapFrames * frames, GError ** error);

GST_MEMMAP_API
GstStructure *gst_memmap_frames_get_stats (GstMemmapFrames * frames);

G_END_DECLS
