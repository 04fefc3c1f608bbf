/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapframes
 * @title: GstMemmapFrames
 * @short_description: decoded video frames for applications, zero-copy,
 *   decoded once
 *
 * gst_memmap_map_video_frames() returns frames `[start_frame, start_frame +
 * frame_count)` of a video file or URI as a #GstMemmapFrames: their count,
 * video info, timestamps, and per frame a #GstBuffer and a pointer that
 * point into a frame store of the `memmapcache` cache directory, without a
 * copy.
 *
 * The first call decodes the video with `uridecodebin` (any container and
 * codec the installed plugins handle), converts it with `videoconvert` when
 * a format is asked for, and records it with `memmapcache`: a *recording*
 * of the stream, one pipeline that later calls join (reading a new clip in
 * chunks decodes it once) and that goes on a little ahead of the last
 * frame asked for while the frames live. A range far into the stream
 * starts from a seek to the keyframe before it, not from the start. A
 * later call for frames that are cached, for the same file unchanged (same
 * inode, size, mtime and ctime) and format, reads the cache entry directly
 * and decodes nothing: no pipeline is built. A call for frames partly
 * cached goes through a pipeline again, where memmapcache serves what it
 * has and the decoder decodes the rest (docs/design.md, "The frames API's
 * recordings").
 *
 * Frame k is the k-th frame the decoder outputs for the stream played from
 * its start, whatever its GOP structure. A range past the end of the stream
 * is clipped: gst_memmap_frames_get_n_frames() says how many frames there
 * are and gst_memmap_frames_is_clipped() that the stream ended first.
 *
 * Frames are read-only by default. With %GST_MEMMAP_FRAMES_COPY_ON_WRITE
 * (gst_memmap_engine_map_video_frames_full()) they are writable
 * copy-on-write views of the stores: memory of private mappings of the
 * same files, where nothing is copied until a page is written and the
 * store never changes. Writes are seen through these frames only.
 *
 * gst_memmap_engine_map_video_frames_full() also takes a #GCancellable and
 * a progress callback: a cancelled call tears its pipeline down, keeps the
 * frames recorded so far in the cache and fails with
 * %G_IO_ERROR_CANCELLED.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapcachedir.h"
#include "gstmemmapframesprivate.h"
#include "gstmemmapvideo.h"

#include <string.h>
#include <sys/stat.h>

#define GST_CAT_DEFAULT gst_memmap_debug

G_DEFINE_TYPE (GstMemmapFrames, gst_memmap_frames, G_TYPE_OBJECT);

static void
gst_memmap_frames_finalize (GObject * object)
{
  GstMemmapFrames *self = GST_MEMMAP_FRAMES (object);
  guint i;

  for (i = 0; i < self->frames->len; i++) {
    Frame *f = &g_array_index (self->frames, Frame, i);

    gst_buffer_unmap (f->buffer, &f->map);
    gst_buffer_unref (f->buffer);
  }
  g_array_unref (self->frames);
  g_clear_pointer (&self->cow_maps, g_ptr_array_unref);
  gst_clear_caps (&self->caps);
  if (self->stats)
    gst_structure_free (self->stats);
  /* records the entry's last use, for memmapcache's LRU */
  g_clear_pointer (&self->entry, gst_memmap_cache_entry_close);

  G_OBJECT_CLASS (gst_memmap_frames_parent_class)->finalize (object);
}

static void
gst_memmap_frames_class_init (GstMemmapFramesClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->finalize = gst_memmap_frames_finalize;
}

static void
gst_memmap_frames_init (GstMemmapFrames * self)
{
  self->frames = g_array_new (FALSE, TRUE, sizeof (Frame));
  gst_video_info_init (&self->info);
}

/* ------------------------------------------------------------------------ */
/* building the result                                                      */

/* Whether @buf lays a frame out as @info does (its video meta, if any,
 * agrees), so that plane p of it is at plane_offset (p). */
gboolean
gst_memmap_frames_buffer_has_layout (GstBuffer * buf, const GstVideoInfo * info)
{
  GstVideoMeta *meta = gst_buffer_get_video_meta (buf);
  guint p;

  if (gst_buffer_get_size (buf) < GST_VIDEO_INFO_SIZE (info))
    return FALSE;
  if (meta == NULL)
    return TRUE;
  if (meta->format != GST_VIDEO_INFO_FORMAT (info) ||
      meta->width != (guint) GST_VIDEO_INFO_WIDTH (info) ||
      meta->height != (guint) GST_VIDEO_INFO_HEIGHT (info) ||
      meta->n_planes != GST_VIDEO_INFO_N_PLANES (info))
    return FALSE;
  for (p = 0; p < meta->n_planes; p++) {
    if (meta->offset[p] != GST_VIDEO_INFO_PLANE_OFFSET (info, p) ||
        meta->stride[p] != GST_VIDEO_INFO_PLANE_STRIDE (info, p))
      return FALSE;
  }
  return TRUE;
}

/* Whether @buf is one memory of a frame store (memmap memory). */
const gchar *
gst_memmap_frames_store_path_of (GstBuffer * buf)
{
  GstMemory *mem;

  if (gst_buffer_n_memory (buf) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buf, 0);
  if (!gst_is_memmap_memory (mem))
    return NULL;
  return gst_memmap_memory_get_path (mem);
}

/* Takes @buffers (GstBuffer, each laid out as @info), @stats and, on
 * success, @entry. */
GstMemmapFrames *
gst_memmap_frames_new_from_buffers (GPtrArray * buffers, GstCaps * caps,
    const GstVideoInfo * info, guint64 start, gboolean clipped,
    GstStructure * stats, GstMemmapCacheEntry ** entry, GError ** error)
{
  GstMemmapFrames *self = g_object_new (GST_TYPE_MEMMAP_FRAMES, NULL);
  guint i;

  self->caps = caps ? gst_caps_ref (caps) : gst_caps_new_empty ();
  self->info = *info;
  self->start_frame = start;
  self->clipped = clipped;
  self->stats = stats;
  self->zero_copy = TRUE;
  g_array_set_size (self->frames, buffers->len);
  for (i = 0; i < buffers->len; i++) {
    Frame *f = &g_array_index (self->frames, Frame, i);
    GstBuffer *buf = g_ptr_array_index (buffers, i);

    f->buffer = gst_buffer_ref (buf);
    if (!gst_buffer_map (buf, &f->map, GST_MAP_READ)) {
      gst_buffer_unref (f->buffer);
      f->buffer = NULL;
      g_array_set_size (self->frames, i);
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
          "Could not map frame %" G_GUINT64_FORMAT, start + i);
      g_object_unref (self);
      return NULL;
    }
    f->path = gst_memmap_frames_store_path_of (buf);
    if (f->path) {
      f->file_offset =
          gst_memmap_memory_get_file_offset (gst_buffer_peek_memory (buf, 0));
    } else {
      self->zero_copy = FALSE;
    }
  }
  gst_structure_set (self->stats, "zero-copy", G_TYPE_BOOLEAN,
      self->zero_copy, NULL);
  self->entry = g_steal_pointer (entry);
  return self;
}

#define CHECK_FRAME(self, i, val) G_STMT_START {                     \
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (self), (val));         \
  g_return_val_if_fail ((i) < (self)->frames->len, (val));           \
} G_STMT_END

/**
 * gst_memmap_frames_get_n_frames:
 * @frames: a #GstMemmapFrames
 *
 * Gets the number of frames.
 *
 * Returns: how many frames there are: the count asked for, or fewer when
 *   the stream ended first
 *
 * Since: 0.1
 */
guint
gst_memmap_frames_get_n_frames (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  return frames->frames->len;
}

/**
 * gst_memmap_frames_get_start_frame:
 * @frames: a #GstMemmapFrames
 *
 * Gets the number, in the stream, of the first of the frames.
 *
 * Returns: the stream's frame number of frame 0 of @frames
 *
 * Since: 0.1
 */
guint64
gst_memmap_frames_get_start_frame (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  return frames->start_frame;
}

/**
 * gst_memmap_frames_is_clipped:
 * @frames: a #GstMemmapFrames
 *
 * Tells whether the stream ended before the last frame asked for, so that
 * there are fewer frames than asked.
 *
 * Returns: %TRUE if the stream ended before the last frame asked for
 *
 * Since: 0.1
 */
gboolean
gst_memmap_frames_is_clipped (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), FALSE);
  return frames->clipped;
}

/**
 * gst_memmap_frames_get_caps:
 * @frames: a #GstMemmapFrames
 *
 * Gets the caps of the frames.
 *
 * Returns: (transfer none): the frames' caps (empty when there is no frame)
 *
 * Since: 0.1
 */
GstCaps *
gst_memmap_frames_get_caps (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), NULL);
  return frames->caps;
}

/**
 * gst_memmap_frames_get_video_info:
 * @frames: a #GstMemmapFrames
 *
 * Gets the video info (format, size, plane offsets and strides) of every
 * frame.
 *
 * Returns: (transfer none): the frames' video info: every frame is laid
 *   out as it says (plane offsets and strides)
 *
 * Since: 0.1
 */
const GstVideoInfo *
gst_memmap_frames_get_video_info (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), NULL);
  return &frames->info;
}

/**
 * gst_memmap_frames_get_format:
 * @frames: a #GstMemmapFrames
 *
 * Gets the name of the frames' video format.
 *
 * Returns: (nullable): the video format's name (`"GRAY8"`, `"I420"`, ...),
 *   %NULL if the stream had no frame
 *
 * Since: 0.1
 */
const gchar *
gst_memmap_frames_get_format (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), NULL);
  if (GST_VIDEO_INFO_FORMAT (&frames->info) == GST_VIDEO_FORMAT_UNKNOWN)
    return NULL;
  return gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&frames->info));
}

/**
 * gst_memmap_frames_get_width:
 * @frames: a #GstMemmapFrames
 *
 * Gets the width of the frames.
 *
 * Returns: the frame width in pixels
 *
 * Since: 0.1
 */
guint
gst_memmap_frames_get_width (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  return GST_VIDEO_INFO_WIDTH (&frames->info);
}

/**
 * gst_memmap_frames_get_height:
 * @frames: a #GstMemmapFrames
 *
 * Gets the height of the frames.
 *
 * Returns: the frame height in pixels
 *
 * Since: 0.1
 */
guint
gst_memmap_frames_get_height (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  return GST_VIDEO_INFO_HEIGHT (&frames->info);
}

/**
 * gst_memmap_frames_get_n_planes:
 * @frames: a #GstMemmapFrames
 *
 * Gets the number of planes of the frames' format.
 *
 * Returns: the number of planes of a frame
 *
 * Since: 0.1
 */
guint
gst_memmap_frames_get_n_planes (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  return GST_VIDEO_INFO_N_PLANES (&frames->info);
}

/**
 * gst_memmap_frames_get_frame_size:
 * @frames: a #GstMemmapFrames
 *
 * Gets the size of one frame in bytes, every plane included.
 *
 * Returns: the bytes of one frame
 *
 * Since: 0.1
 */
gsize
gst_memmap_frames_get_frame_size (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  return GST_VIDEO_INFO_SIZE (&frames->info);
}

/**
 * gst_memmap_frames_get_plane_offset:
 * @frames: a #GstMemmapFrames
 * @plane: a plane number
 *
 * Gets the offset of a plane from the start of a frame.
 *
 * Returns: where @plane starts in a frame, in bytes
 *
 * Since: 0.1
 */
gsize
gst_memmap_frames_get_plane_offset (GstMemmapFrames * frames, guint plane)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  g_return_val_if_fail (plane < GST_VIDEO_INFO_N_PLANES (&frames->info), 0);
  return GST_VIDEO_INFO_PLANE_OFFSET (&frames->info, plane);
}

/**
 * gst_memmap_frames_get_plane_stride:
 * @frames: a #GstMemmapFrames
 * @plane: a plane number
 *
 * Gets the stride of a plane: the bytes from one row to the next.
 *
 * Returns: the bytes from one row of @plane to the next
 *
 * Since: 0.1
 */
gint
gst_memmap_frames_get_plane_stride (GstMemmapFrames * frames, guint plane)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), 0);
  g_return_val_if_fail (plane < GST_VIDEO_INFO_N_PLANES (&frames->info), 0);
  return GST_VIDEO_INFO_PLANE_STRIDE (&frames->info, plane);
}

/**
 * gst_memmap_frames_get_pts:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * Gets the presentation timestamp of frame @i.
 *
 * Returns: the frame's presentation timestamp, or %GST_CLOCK_TIME_NONE
 *
 * Since: 0.1
 */
GstClockTime
gst_memmap_frames_get_pts (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, GST_CLOCK_TIME_NONE);
  return GST_BUFFER_PTS (g_array_index (frames->frames, Frame, i).buffer);
}

/**
 * gst_memmap_frames_get_duration:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * Gets the duration of frame @i.
 *
 * Returns: the frame's duration, or %GST_CLOCK_TIME_NONE
 *
 * Since: 0.1
 */
GstClockTime
gst_memmap_frames_get_duration (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, GST_CLOCK_TIME_NONE);
  return GST_BUFFER_DURATION (g_array_index (frames->frames, Frame, i).buffer);
}

/**
 * gst_memmap_frames_get_buffer:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * The frame as a #GstBuffer: read-only memmap memory of the frame store
 * (when gst_memmap_frames_is_zero_copy()), or writable memory of a
 * private copy-on-write mapping of it (gst_memmap_frames_is_copy_on_write
 * ()), with the frame's timestamps and a #GstVideoMeta. Ref it to keep it
 * beyond @frames.
 *
 * Returns: (transfer none): the frame's buffer
 *
 * Since: 0.1
 */
GstBuffer *
gst_memmap_frames_get_buffer (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, NULL);
  return g_array_index (frames->frames, Frame, i).buffer;
}

/**
 * gst_memmap_frames_get_data: (skip)
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * Gets a pointer to the bytes of frame @i, in the frame store's mapping when
 * the frames are zero copy.
 *
 * Returns: (transfer none): the frame's first byte: plane p starts at
 *   gst_memmap_frames_get_plane_offset() (p). Valid while @frames lives.
 *
 * Since: 0.1
 */
const guint8 *
gst_memmap_frames_get_data (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, NULL);
  return g_array_index (frames->frames, Frame, i).map.data;
}

/**
 * gst_memmap_frames_is_copy_on_write:
 * @frames: a #GstMemmapFrames
 *
 * Tells whether the frames are writable copy-on-write views
 * (%GST_MEMMAP_FRAMES_COPY_ON_WRITE).
 *
 * Returns: %TRUE if the frames may be written (the stores never change)
 *
 * Since: 0.2
 */
gboolean
gst_memmap_frames_is_copy_on_write (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), FALSE);
  return frames->cow;
}

/**
 * gst_memmap_frames_get_writable_data: (skip)
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * Gets a pointer to the bytes of frame @i for writing, when the frames are
 * copy-on-write (gst_memmap_frames_is_copy_on_write()): a write changes
 * the page it falls in for these frames only, never the frame store.
 *
 * Returns: (transfer none) (nullable): the frame's first byte, or %NULL
 *   for read-only frames. Valid while @frames lives.
 *
 * Since: 0.2
 */
guint8 *
gst_memmap_frames_get_writable_data (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, NULL);
  if (!frames->cow)
    return NULL;
  return g_array_index (frames->frames, Frame, i).map.data;
}

/**
 * gst_memmap_frames_get_address:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * gst_memmap_frames_get_data() as an integer, for bindings (numpy through
 * ctypes: see gstmemmap_numpy.frame_planes()).
 *
 * Returns: the address of the frame's first byte
 *
 * Since: 0.1
 */
guint64
gst_memmap_frames_get_address (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, 0);
  return (guint64) (guintptr) g_array_index (frames->frames, Frame, i).map.data;
}

/**
 * gst_memmap_frames_get_plane_address:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 * @plane: a plane number
 *
 * Gets the address of plane @plane of frame @i as an integer, for bindings
 * (numpy's `__array_interface__`, ctypes).
 *
 * Returns: the address of the first byte of @plane of frame @i
 *
 * Since: 0.1
 */
guint64
gst_memmap_frames_get_plane_address (GstMemmapFrames * frames, guint i,
    guint plane)
{
  CHECK_FRAME (frames, i, 0);
  g_return_val_if_fail (plane < GST_VIDEO_INFO_N_PLANES (&frames->info), 0);
  return gst_memmap_frames_get_address (frames, i) +
      GST_VIDEO_INFO_PLANE_OFFSET (&frames->info, plane);
}

/**
 * gst_memmap_frames_get_path:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * Gets the path of the frame store that holds frame @i, for another process
 * or np.memmap to map.
 *
 * Returns: (nullable) (type filename): the frame store that holds frame
 *   @i, %NULL for a frame that is a private copy
 *
 * Since: 0.1
 */
const gchar *
gst_memmap_frames_get_path (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, NULL);
  return g_array_index (frames->frames, Frame, i).path;
}

/**
 * gst_memmap_frames_get_file_offset:
 * @frames: a #GstMemmapFrames
 * @i: a frame, 0 to gst_memmap_frames_get_n_frames() - 1
 *
 * With gst_memmap_frames_get_path(), where another process (or
 * `numpy.memmap`) finds the same bytes.
 *
 * Returns: the offset of frame @i in its frame store (0 for a copy)
 *
 * Since: 0.1
 */
guint64
gst_memmap_frames_get_file_offset (GstMemmapFrames * frames, guint i)
{
  CHECK_FRAME (frames, i, 0);
  return g_array_index (frames->frames, Frame, i).file_offset;
}

/**
 * gst_memmap_frames_is_zero_copy:
 * @frames: a #GstMemmapFrames
 *
 * Tells whether every frame is memory of a frame store, served without a
 * copy.
 *
 * Returns: %TRUE if every frame is memory of a frame store (nothing was
 *   copied out of the cache)
 *
 * Since: 0.1
 */
gboolean
gst_memmap_frames_is_zero_copy (GstMemmapFrames * frames)
{
  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), FALSE);
  return frames->zero_copy;
}

/* Whether the bytes of @f are still the file's: no page of its mapping was
 * lost to a truncation, and the file still holds them. *@st caches the
 * fstat() of the descriptor *@fd. */
static gboolean
frame_whole (const Frame * f, gint * fd, struct stat *st, GError ** error)
{
  GstMemory *mem = gst_buffer_peek_memory (f->buffer, 0);
  GstMemmapMapping *m;
  gint mfd;

  if (!gst_is_memmap_memory (mem))
    return TRUE;
  m = gst_memmap_memory_get_mapping (mem);
  if (m && !gst_memmap_mapping_check (m, error))
    return FALSE;
  mfd = gst_memmap_memory_get_fd (mem);
  if (mfd < 0)
    return TRUE;
  if (mfd != *fd) {
    if (fstat (mfd, st) < 0)
      return TRUE;
    *fd = mfd;
  }
  if ((guint64) st->st_size < f->file_offset + f->map.size) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
        "File '%s' was truncated to %" G_GUINT64_FORMAT " bytes while its "
        "frames were mapped: bytes up to %" G_GUINT64_FORMAT " are gone",
        f->path, (guint64) st->st_size, f->file_offset + f->map.size);
    return FALSE;
  }
  return TRUE;
}

/**
 * gst_memmap_frames_check:
 * @frames: a #GstMemmapFrames
 * @error: return location for a #GError, or %NULL
 *
 * Checks that every frame's bytes are still those of the frame store: that
 * no other program truncated a store under @frames. A page cut off a file
 * reads as zeros (the engine's fault guard keeps the process alive) and
 * cannot be given back; this says whether it happened. One fstat() per
 * store and no page touched: call it after reading frames, before trusting
 * what was read.
 *
 * Fails with %GST_MEMMAP_ERROR_TRUNCATED, naming the file.
 *
 * Returns: %TRUE if every frame is whole
 *
 * Since: 0.1
 */
gboolean
gst_memmap_frames_check (GstMemmapFrames * frames, GError ** error)
{
  struct stat st;
  gint fd = -1;
  guint i;

  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (i = 0; i < frames->frames->len; i++) {
    if (!frame_whole (&g_array_index (frames->frames, Frame, i), &fd, &st,
            error))
      return FALSE;
  }
  return TRUE;
}

/**
 * gst_memmap_frames_get_stats:
 * @frames: a #GstMemmapFrames
 *
 * How the frames were obtained, a `memmap-frames-stats` structure:
 *
 * - `direct` (boolean): read from the cache without a pipeline
 * - `decoded-frames` (guint64): frames the video decoder output (0 when
 *   nothing was decoded); for a call answered by a recording, all that
 *   recording's decoder output so far
 * - `frames-from-cache` (guint64): frames that are memory of a frame store
 * - `frames-copied` (guint64): frames that are private copies
 * - `cache-hits`, `cache-misses`, and with a pipeline `frames-served`,
 *   `frames-recorded` (guint64): memmapcache's counters
 * - `cache-entry` (string): the memmapcache entry directory of the frames
 * - `cache-warning` (string): why the cache could not be used, if so
 * - with a pipeline, `cache-generation` (uint) and `fresh-entry`
 *   (boolean): how many times the frames had to be decoded into a new cache
 *   entry because frames were lost on the way out of a partial one
 * - with a pipeline, `recording` (uint): which recording of this process
 *   answered; `recording-joined` (boolean): the call joined a recording
 *   that an earlier call started; `recording-from-seek` (boolean): the
 *   recording started from a keyframe seek, not from the stream's start
 * - without one, `on-grid` (boolean): frames past a hole of the cache
 *   entry, found by their pts on the frame-rate grid
 * - `zero-copy` (boolean): as gst_memmap_frames_is_zero_copy()
 * - `copy-on-write` (boolean) and `private-bytes` (guint64): the frames are
 *   copy-on-write, and the bytes of the pages written so far (private
 *   anonymous memory of the process, read from /proc/self/pagemap)
 *
 * Returns: (transfer full): the structure
 *
 * Since: 0.1
 */
GstStructure *
gst_memmap_frames_get_stats (GstMemmapFrames * frames)
{
  GstStructure *s;

  g_return_val_if_fail (GST_IS_MEMMAP_FRAMES (frames), NULL);
  s = gst_structure_copy (frames->stats);
  if (frames->cow)
    gst_structure_set (s, "private-bytes", G_TYPE_UINT64,
        gst_memmap_frames_cow_private_bytes (frames), NULL);
  return s;
}
