/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layout arithmetic and header validation shared by the store writer and
 * reader (docs/store-format.md). Nothing here trusts a byte of a header
 * before checking it: every product and sum of header fields goes through
 * the overflow-checked helpers, and every size is compared to the file's
 * real size.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

/* XXH3 inlined: no run-time dependency, and the compiler sees the loop */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* The frame checksum of format 1.1: XXH3 64-bit, seed 0, of the frame's
 * frame_size bytes (docs/store-format.md). */
guint64
gst_memmap_store_checksum (const guint8 * data, gsize size)
{
  return (guint64) XXH3_64bits (data, size);
}

/* Large folios of the page cache: the writer's mappings ask for 2 MiB
 * ones (MADV_HUGEPAGE), and a dirty folio is written back whole. */
#define FOLIO_SPAN (G_GUINT64_CONSTANT (2) << 20)

/* Writes back and waits for the dirty pages of [lo, hi) */
static void
write_back (gint fd, guint64 lo, guint64 hi)
{
  if (hi > lo && sync_file_range (fd, (off_t) lo, (off_t) (hi - lo),
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
          SYNC_FILE_RANGE_WAIT_AFTER) < 0)
    GST_INFO ("sync_file_range: %s", g_strerror (errno));
}

/* Gives the blocks of [offset, offset + size) back to the file system
 * (the range then reads as zeros; the file keeps its size). A dirty folio
 * of the page cache that straddles an end of the range would be written
 * back whole after the hole is made, and take the blocks of its part of
 * the hole again: the folios around both ends are written back first.
 * FALSE when the file system cannot (logged; the blocks stay). */
gboolean
gst_memmap_store_punch (gint fd, guint64 offset, guint64 size)
{
  guint64 end = offset + size;

  if (size == 0)
    return TRUE;
  write_back (fd, offset / FOLIO_SPAN * FOLIO_SPAN, offset);
  write_back (fd, end, gst_memmap_store_round_up (end, FOLIO_SPAN));
  if (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
          (off_t) offset, (off_t) size) < 0) {
    GST_INFO ("cannot free %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
        ": %s", size, offset, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* The caps features a store may hold: system memory (or none), or
 * format:Interlaced with interlace-mode=alternate (one field per frame,
 * format 1.1). */
gboolean
gst_memmap_store_caps_features_ok (const GstCaps * caps)
{
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);
  const gchar *mode;

  if (features == NULL || gst_caps_features_is_equal (features,
          GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY))
    return TRUE;
  if (gst_caps_features_get_size (features) != 1 ||
      !gst_caps_features_contains (features,
          GST_CAPS_FEATURE_FORMAT_INTERLACED))
    return FALSE;
  mode = gst_structure_get_string (gst_caps_get_structure (caps, 0),
      "interlace-mode");
  return mode != NULL && strcmp (mode, "alternate") == 0;
}

/* The one mapping between buffer flags and the store's frame flags. */
static const struct
{
  guint32 store;
  guint buffer;                 /* GstBufferFlags or GstVideoBufferFlags */
} frame_flag_map[] = {
  {GST_MEMMAP_STORE_FRAME_DISCONT, GST_BUFFER_FLAG_DISCONT},
  {GST_MEMMAP_STORE_FRAME_INTERLACED, GST_VIDEO_BUFFER_FLAG_INTERLACED},
  {GST_MEMMAP_STORE_FRAME_TFF, GST_VIDEO_BUFFER_FLAG_TFF},
  {GST_MEMMAP_STORE_FRAME_RFF, GST_VIDEO_BUFFER_FLAG_RFF},
  {GST_MEMMAP_STORE_FRAME_ONEFIELD, GST_VIDEO_BUFFER_FLAG_ONEFIELD},
  {GST_MEMMAP_STORE_FRAME_CORRUPTED, GST_BUFFER_FLAG_CORRUPTED},
  {GST_MEMMAP_STORE_FRAME_GAP, GST_BUFFER_FLAG_GAP},
};

/**
 * gst_memmap_store_frame_flags_from_buffer:
 * @buffer: a video frame about to be stored
 *
 * The #GstMemmapStoreFrameFlags that record @buffer's flags in a store's
 * index: %GST_BUFFER_FLAG_DISCONT, the field flags
 * (%GST_VIDEO_BUFFER_FLAG_INTERLACED, %GST_VIDEO_BUFFER_FLAG_TFF,
 * %GST_VIDEO_BUFFER_FLAG_RFF, %GST_VIDEO_BUFFER_FLAG_ONEFIELD),
 * %GST_BUFFER_FLAG_CORRUPTED and %GST_BUFFER_FLAG_GAP. Pass them to
 * gst_memmap_store_writer_commit().
 *
 * Returns: the flags to store
 *
 * Since: 0.2
 */
guint32
gst_memmap_store_frame_flags_from_buffer (GstBuffer * buffer)
{
  guint32 flags = 0;
  guint i;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), 0);

  for (i = 0; i < G_N_ELEMENTS (frame_flag_map); i++) {
    if (GST_BUFFER_FLAG_IS_SET (buffer, frame_flag_map[i].buffer))
      flags |= frame_flag_map[i].store;
  }
  return flags;
}

/**
 * gst_memmap_store_frame_flags_to_buffer:
 * @flags: #GstMemmapStoreFrameFlags of a frame (#GstMemmapStoreEntry)
 * @buffer: a writable buffer of that frame
 *
 * Sets on @buffer the buffer flags that @flags record, and clears the
 * other flags a store records (see
 * gst_memmap_store_frame_flags_from_buffer()). Other buffer flags are left
 * alone.
 *
 * Since: 0.2
 */
void
gst_memmap_store_frame_flags_to_buffer (guint32 flags, GstBuffer * buffer)
{
  guint i;

  g_return_if_fail (GST_IS_BUFFER (buffer));
  g_return_if_fail (gst_buffer_is_writable (buffer));

  for (i = 0; i < G_N_ELEMENTS (frame_flag_map); i++) {
    if (flags & frame_flag_map[i].store)
      GST_BUFFER_FLAG_SET (buffer, frame_flag_map[i].buffer);
    else
      GST_BUFFER_FLAG_UNSET (buffer, frame_flag_map[i].buffer);
  }
}

static gboolean
checked_mul (guint64 * dest, guint64 a, guint64 b)
{
  return !__builtin_mul_overflow (a, b, dest);
}

static gboolean
checked_add (guint64 * dest, guint64 a, guint64 b)
{
  return !__builtin_add_overflow (a, b, dest);
}

#define CORRUPT(...) \
  G_STMT_START { \
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT, \
        __VA_ARGS__); \
    return FALSE; \
  } G_STMT_END

/* Checks that every plane of @info lies inside info->size, that strides are
 * positive and hold a row, and that the format can be described by
 * per-plane offset and stride. @path only names the file in errors (may be
 * NULL for a writer's layout argument). */
gboolean
gst_memmap_store_validate_layout (const GstVideoInfo * info,
    const gchar * path, GError ** error)
{
  const GstVideoFormatInfo *finfo = info->finfo;
  const gchar *what = path ? path : "layout";
  guint64 width, height, size;
  guint p;

  if (finfo == NULL || GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_UNKNOWN
      || GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_ENCODED)
    goto bad_format;
  if (GST_VIDEO_FORMAT_INFO_IS_TILED (finfo) ||
      GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo))
    goto unsupported_format;
  if (GST_VIDEO_INFO_VIEWS (info) > 1)
    goto unsupported_views;
  if (GST_VIDEO_INFO_N_PLANES (info) < 1 ||
      GST_VIDEO_INFO_N_PLANES (info) > GST_MEMMAP_STORE_MAX_PLANES)
    goto bad_planes;

  width = (guint) GST_VIDEO_INFO_WIDTH (info);
  height = (guint) GST_VIDEO_INFO_FIELD_HEIGHT (info);
  if (GST_VIDEO_INFO_WIDTH (info) <= 0 || GST_VIDEO_INFO_HEIGHT (info) <= 0 ||
      width > GST_MEMMAP_STORE_MAX_DIMENSION ||
      (guint64) GST_VIDEO_INFO_HEIGHT (info) > GST_MEMMAP_STORE_MAX_DIMENSION)
    goto bad_size;

  size = info->size;
  if (size == 0 || size > GST_MEMMAP_STORE_MAX_FRAME_SIZE)
    goto bad_frame_size;

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    gint comps[GST_VIDEO_MAX_COMPONENTS];
    guint64 rows, row_bytes = 0, plane_bytes, end;
    gint stride = GST_VIDEO_INFO_PLANE_STRIDE (info, p);
    guint64 offset = GST_VIDEO_INFO_PLANE_OFFSET (info, p);
    guint i;

    gst_video_format_info_component (finfo, p, comps);
    if (comps[0] < 0)
      goto bad_planes;

    rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (finfo, comps[0], height);
    for (i = 0; i < GST_VIDEO_MAX_COMPONENTS && comps[i] >= 0; i++) {
      guint64 w = GST_VIDEO_FORMAT_INFO_SCALE_WIDTH (finfo, comps[i], width);
      gint pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comps[i]);

      if (pstride > 0)
        row_bytes = MAX (row_bytes, w * (guint64) pstride);
    }

    if (stride <= 0 || (guint64) stride < row_bytes)
      goto bad_stride;
    /* rows <= 2^20 and stride < 2^31: no overflow */
    plane_bytes = rows * (guint64) stride;
    if (!checked_add (&end, offset, plane_bytes) || end > size)
      goto plane_outside;
  }

  return TRUE;

  /* ERRORS */
bad_format:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: no raw video format", what);
    return FALSE;
  }
unsupported_format:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: format %s (tiled or paletted) cannot be stored", what,
        GST_VIDEO_INFO_NAME (info));
    return FALSE;
  }
unsupported_views:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: multiview video (%d views) cannot be stored", what,
        GST_VIDEO_INFO_VIEWS (info));
    return FALSE;
  }
bad_planes:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: %s has %u planes", what, GST_VIDEO_INFO_NAME (info),
        GST_VIDEO_INFO_N_PLANES (info));
    return FALSE;
  }
bad_size:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: frame size %dx%d out of range (1..%u)", what,
        GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
        GST_MEMMAP_STORE_MAX_DIMENSION);
    return FALSE;
  }
bad_frame_size:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: frame of %" G_GUINT64_FORMAT " bytes out of range", what, size);
    return FALSE;
  }
bad_stride:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: stride %d of plane %u does not hold a row of %s", what,
        GST_VIDEO_INFO_PLANE_STRIDE (info, p), p, GST_VIDEO_INFO_NAME (info));
    return FALSE;
  }
plane_outside:
  {
    g_set_error (error, GST_MEMMAP_ERROR,
        path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "%s: plane %u (offset %" G_GSIZE_FORMAT ", stride %d) ends past the "
        "frame of %" G_GUINT64_FORMAT " bytes", what, p,
        GST_VIDEO_INFO_PLANE_OFFSET (info, p),
        GST_VIDEO_INFO_PLANE_STRIDE (info, p), size);
    return FALSE;
  }
}

/* Checks the static geometry: every count nonzero and within the sanity
 * limits, the derived sizes equal to what the rule computes, and no
 * arithmetic on them can overflow. */
gboolean
gst_memmap_store_geometry_validate (const GstMemmapStoreGeometry * geo,
    const gchar * path, GError ** error)
{
  guint64 index_bytes, slot_bytes, chunk_stride;

  if (geo->mode != GST_MEMMAP_STORE_MODE_APPEND &&
      geo->mode != GST_MEMMAP_STORE_MODE_RING)
    CORRUPT ("'%s': unknown store mode %u", path, (guint) geo->mode);
  if (geo->n_planes < 1 || geo->n_planes > GST_MEMMAP_STORE_MAX_PLANES)
    CORRUPT ("'%s': %u planes", path, geo->n_planes);
  if (geo->width < 1 || geo->width > GST_MEMMAP_STORE_MAX_DIMENSION ||
      geo->height < 1 || geo->height > GST_MEMMAP_STORE_MAX_DIMENSION)
    CORRUPT ("'%s': frame size %ux%u out of range", path, geo->width,
        geo->height);
  if (geo->fps_n < 0 || geo->fps_d < 1)
    CORRUPT ("'%s': bad frame rate %d/%d", path, geo->fps_n, geo->fps_d);
  if (geo->frame_size == 0 || geo->frame_size > GST_MEMMAP_STORE_MAX_FRAME_SIZE)
    CORRUPT ("'%s': frame size %" G_GUINT64_FORMAT " out of range", path,
        geo->frame_size);
  if (geo->slot_stride == 0 || geo->slot_stride % GST_MEMMAP_STORE_PAGE_SIZE
      || geo->slot_stride < geo->frame_size
      || geo->slot_stride > GST_MEMMAP_STORE_MAX_FRAME_SIZE)
    CORRUPT ("'%s': slot stride %" G_GUINT64_FORMAT " invalid for frames of %"
        G_GUINT64_FORMAT " bytes", path, geo->slot_stride, geo->frame_size);
  if (geo->entries_per_chunk == 0 ||
      geo->entries_per_chunk > GST_MEMMAP_STORE_MAX_PER_CHUNK ||
      geo->slots_per_chunk == 0 ||
      geo->slots_per_chunk > GST_MEMMAP_STORE_MAX_PER_CHUNK)
    CORRUPT ("'%s': chunk of %" G_GUINT64_FORMAT " entries and %"
        G_GUINT64_FORMAT " slots out of range", path, geo->entries_per_chunk,
        geo->slots_per_chunk);
  if (geo->mode == GST_MEMMAP_STORE_MODE_APPEND) {
    if (geo->slots_per_chunk != geo->entries_per_chunk)
      CORRUPT ("'%s': append store with %" G_GUINT64_FORMAT " entries but %"
          G_GUINT64_FORMAT " slots per chunk", path, geo->entries_per_chunk,
          geo->slots_per_chunk);
    if (geo->max_frames > GST_MEMMAP_STORE_MAX_FRAMES)
      CORRUPT ("'%s': max-frames %" G_GUINT64_FORMAT " out of range", path,
          geo->max_frames);
  } else {
    if (geo->max_frames != geo->entries_per_chunk ||
        geo->slots_per_chunk <= geo->entries_per_chunk)
      CORRUPT ("'%s': ring of %" G_GUINT64_FORMAT " frames with %"
          G_GUINT64_FORMAT " entries and %" G_GUINT64_FORMAT " slots", path,
          geo->max_frames, geo->entries_per_chunk, geo->slots_per_chunk);
  }

  /* entries_per_chunk <= 2^32: no overflow */
  index_bytes = gst_memmap_store_round_up (geo->entries_per_chunk *
      GST_MEMMAP_STORE_ENTRY_SIZE, GST_MEMMAP_STORE_PAGE_SIZE);
  if (geo->index_block_size != index_bytes)
    CORRUPT ("'%s': index block of %" G_GUINT64_FORMAT " bytes, expected %"
        G_GUINT64_FORMAT, path, geo->index_block_size, index_bytes);
  if (!checked_mul (&slot_bytes, geo->slots_per_chunk, geo->slot_stride) ||
      !checked_add (&chunk_stride, slot_bytes, index_bytes) ||
      chunk_stride > G_MAXINT64)
    CORRUPT ("'%s': chunk size overflows", path);
  if (geo->chunk_stride != chunk_stride)
    CORRUPT ("'%s': chunk stride %" G_GUINT64_FORMAT ", expected %"
        G_GUINT64_FORMAT, path, geo->chunk_stride, chunk_stride);
  if (geo->data_offset < GST_MEMMAP_STORE_HEADER_SIZE ||
      geo->data_offset % GST_MEMMAP_STORE_PAGE_SIZE ||
      geo->data_offset > G_MAXINT64 - geo->chunk_stride)
    CORRUPT ("'%s': data offset %" G_GUINT64_FORMAT " invalid", path,
        geo->data_offset);

  return TRUE;
}

gboolean
gst_memmap_store_geometry_compute (const GstVideoInfo * layout,
    GstMemmapStoreMode mode, guint64 max_frames, guint spare_slots,
    guint64 chunk_bytes, const gchar * path, GstMemmapStoreGeometry * geo,
    GError ** error)
{
  const gchar *fmt;
  guint p;

  memset (geo, 0, sizeof (*geo));

  if (!gst_memmap_store_validate_layout (layout, NULL, error))
    return FALSE;

  fmt = gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (layout));
  if (fmt == NULL || strlen (fmt) >= GST_MEMMAP_STORE_FORMAT_SIZE)
    goto bad_args;

  geo->mode = mode;
  geo->n_planes = GST_VIDEO_INFO_N_PLANES (layout);
  geo->width = GST_VIDEO_INFO_WIDTH (layout);
  geo->height = GST_VIDEO_INFO_HEIGHT (layout);
  geo->fps_n = MAX (GST_VIDEO_INFO_FPS_N (layout), 0);
  geo->fps_d = MAX (GST_VIDEO_INFO_FPS_D (layout), 1);
  geo->frame_size = layout->size;
  geo->slot_stride = gst_memmap_store_round_up (layout->size,
      GST_MEMMAP_STORE_PAGE_SIZE);
  geo->max_frames = max_frames;
  for (p = 0; p < geo->n_planes; p++) {
    geo->plane_offset[p] = GST_VIDEO_INFO_PLANE_OFFSET (layout, p);
    geo->plane_stride[p] = GST_VIDEO_INFO_PLANE_STRIDE (layout, p);
  }
  g_strlcpy (geo->format, fmt, sizeof (geo->format));

  if (mode == GST_MEMMAP_STORE_MODE_APPEND) {
    guint64 k;

    if (max_frames > GST_MEMMAP_STORE_MAX_FRAMES)
      goto bad_args;
    if (chunk_bytes == 0) {
      k = GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES / geo->slot_stride;
      k = MAX (k, GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS);
    } else {
      k = chunk_bytes / geo->slot_stride;
      k = MAX (k, 1);
    }
    if (max_frames > 0)
      k = MIN (k, max_frames);
    k = MIN (k, GST_MEMMAP_STORE_MAX_PER_CHUNK);
    geo->entries_per_chunk = geo->slots_per_chunk = k;
  } else if (mode == GST_MEMMAP_STORE_MODE_RING) {
    if (spare_slots == 0)
      spare_slots = GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS;
    if (max_frames == 0 ||
        max_frames > GST_MEMMAP_STORE_MAX_PER_CHUNK - spare_slots)
      goto bad_args;
    geo->entries_per_chunk = max_frames;
    geo->slots_per_chunk = max_frames + spare_slots;
  } else {
    goto bad_args;
  }

  geo->index_block_size = gst_memmap_store_round_up (geo->entries_per_chunk *
      GST_MEMMAP_STORE_ENTRY_SIZE, GST_MEMMAP_STORE_PAGE_SIZE);
  if (!checked_mul (&geo->chunk_stride, geo->slots_per_chunk,
          geo->slot_stride) ||
      !checked_add (&geo->chunk_stride, geo->chunk_stride,
          geo->index_block_size))
    goto too_big;
  geo->data_offset = GST_MEMMAP_STORE_HEADER_SIZE;

  if (!gst_memmap_store_geometry_validate (geo, path, NULL))
    goto too_big;

  return TRUE;

  /* ERRORS */
bad_args:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s': invalid store parameters (mode %d, max-frames %"
        G_GUINT64_FORMAT ", spare slots %u)", path, (gint) mode, max_frames,
        spare_slots);
    return FALSE;
  }
too_big:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s': a store of %" G_GUINT64_FORMAT " frames of %" G_GUINT64_FORMAT
        " bytes is too large", path, max_frames, geo->slot_stride);
    return FALSE;
  }
}

void
gst_memmap_store_header_init (GstMemmapStoreHeader * hdr,
    const GstMemmapStoreGeometry * geo, const gchar * caps_str, guint32 flags)
{
  guint p;

  memset (hdr, 0, sizeof (*hdr));
  memcpy (hdr->magic, GST_MEMMAP_STORE_MAGIC, GST_MEMMAP_STORE_MAGIC_SIZE);
  hdr->version_major = GUINT16_TO_LE (GST_MEMMAP_STORE_VERSION_MAJOR);
  hdr->version_minor = GUINT16_TO_LE (GST_MEMMAP_STORE_VERSION_MINOR);
  hdr->header_size = GUINT32_TO_LE (GST_MEMMAP_STORE_HEADER_SIZE);
  hdr->mode = GUINT32_TO_LE (geo->mode);
  hdr->state = GUINT32_TO_LE (GST_MEMMAP_STORE_STATE_OPEN);
  hdr->slot_align = GUINT32_TO_LE (GST_MEMMAP_STORE_PAGE_SIZE);
  hdr->n_planes = GUINT32_TO_LE (geo->n_planes);
  hdr->width = GUINT32_TO_LE (geo->width);
  hdr->height = GUINT32_TO_LE (geo->height);
  hdr->fps_n = GINT32_TO_LE (geo->fps_n);
  hdr->fps_d = GINT32_TO_LE (geo->fps_d);
  hdr->writer_pid = GUINT32_TO_LE ((guint32) getpid ());
  hdr->flags = GUINT32_TO_LE (flags);
  hdr->frame_size = GUINT64_TO_LE (geo->frame_size);
  hdr->slot_stride = GUINT64_TO_LE (geo->slot_stride);
  hdr->max_frames = GUINT64_TO_LE (geo->max_frames);
  hdr->entries_per_chunk = GUINT64_TO_LE (geo->entries_per_chunk);
  hdr->slots_per_chunk = GUINT64_TO_LE (geo->slots_per_chunk);
  hdr->index_block_size = GUINT64_TO_LE (geo->index_block_size);
  hdr->chunk_stride = GUINT64_TO_LE (geo->chunk_stride);
  hdr->data_offset = GUINT64_TO_LE (geo->data_offset);
  hdr->creation_time = GUINT64_TO_LE ((guint64) g_get_real_time ());
  for (p = 0; p < geo->n_planes; p++) {
    hdr->plane_offset[p] = GUINT64_TO_LE (geo->plane_offset[p]);
    hdr->plane_stride[p] = GINT32_TO_LE (geo->plane_stride[p]);
  }
  g_strlcpy (hdr->format, geo->format, sizeof (hdr->format));
  g_strlcpy (hdr->caps, caps_str, sizeof (hdr->caps));
}

/* Checks the fields that change while a store is written against the
 * static geometry and the file's current size. */
gboolean
gst_memmap_store_check_live (const GstMemmapStoreGeometry * geo,
    guint64 chunks_reserved, guint64 committed, guint64 file_size,
    const gchar * path, GError ** error)
{
  guint64 bytes, end, capacity;

  if (chunks_reserved == 0 ||
      (geo->mode == GST_MEMMAP_STORE_MODE_RING && chunks_reserved != 1))
    CORRUPT ("'%s': %" G_GUINT64_FORMAT " chunks reserved", path,
        chunks_reserved);
  if (!checked_mul (&bytes, chunks_reserved, geo->chunk_stride) ||
      !checked_add (&end, bytes, geo->data_offset) || end > file_size)
    CORRUPT ("'%s': %" G_GUINT64_FORMAT " chunks of %" G_GUINT64_FORMAT
        " bytes reserved, but the file holds only %" G_GUINT64_FORMAT
        " bytes", path, chunks_reserved, geo->chunk_stride, file_size);

  if (geo->mode == GST_MEMMAP_STORE_MODE_APPEND) {
    /* no overflow: chunks_reserved * entries <= chunks_reserved * stride */
    capacity = chunks_reserved * geo->entries_per_chunk;
    if (geo->max_frames > 0)
      capacity = MIN (capacity, geo->max_frames);
  } else {
    capacity = GST_MEMMAP_STORE_MAX_FRAMES;
  }
  if (committed > capacity)
    CORRUPT ("'%s': %" G_GUINT64_FORMAT " frames committed, but the store "
        "holds at most %" G_GUINT64_FORMAT, path, committed, capacity);

  return TRUE;
}

static gboolean
string_field_ok (const gchar * field, gsize size)
{
  return memchr (field, '\0', size) != NULL;
}

static gboolean
is_token_char (gchar c)
{
  return c != '\0' && (g_ascii_isalnum (c) || strchr ("/-_.:+", c) != NULL);
}

static gboolean
type_ok (const gchar * type, gsize len)
{
  static const gchar *const types[] = { "string", "int", "uint", "int64",
    "uint64", "fraction", "boolean", "double", "float", "bitmask",
    "GstVideoMultiviewFlagsSet", "GstFlagSet", NULL
  };
  guint i;

  for (i = 0; types[i]; i++) {
    if (strlen (types[i]) == len && strncmp (types[i], type, len) == 0)
      return TRUE;
  }
  return FALSE;
}

/* The shape of what gst_caps_to_string() writes for one fixed video/x-raw
 * structure in system memory: "video/x-raw, name=(type)value, ..." where
 * the type is a basic one and a value is a token or, for a string, a
 * quoted string; the one caps feature allowed is "(format:Interlaced)" right
 * after the name (interlace-mode=alternate, format 1.1). Anything else
 * (ranges, lists, other features, nested structures, other media types) is
 * refused before it reaches GStreamer's parser, which g_warning()s or
 * g_critical()s about some malformed strings. */
gboolean
gst_memmap_store_caps_string_ok (const gchar * str)
{
  static const gchar name[] = "video/x-raw";
  static const gchar interlaced[] = "(" GST_CAPS_FEATURE_FORMAT_INTERLACED ")";
  const gchar *s;
  gboolean is_string;

  for (s = str; *s; s++) {
    if (*s < 0x20 || *s > 0x7e)
      return FALSE;
  }

  s = str;
  if (strncmp (s, name, sizeof (name) - 1) != 0)
    return FALSE;
  s += sizeof (name) - 1;
  if (strncmp (s, interlaced, sizeof (interlaced) - 1) == 0)
    s += sizeof (interlaced) - 1;

  while (*s) {
    const gchar *start;

    if (*s++ != ',')
      return FALSE;
    while (*s == ' ')
      s++;
    /* field name */
    if (!g_ascii_isalpha (*s))
      return FALSE;
    while (g_ascii_isalnum (*s) || *s == '-' || *s == '_')
      s++;
    if (*s++ != '=')
      return FALSE;
    /* (type), one of those video caps use */
    if (*s++ != '(')
      return FALSE;
    start = s;
    while (g_ascii_isalnum (*s))
      s++;
    if (*s != ')' || !type_ok (start, s - start))
      return FALSE;
    is_string = (s - start == 6 && strncmp (start, "string", 6) == 0);
    s++;
    /* value */
    if (*s == '"' && is_string) {
      s++;
      while (*s && *s != '"') {
        if (*s == '\\' && *++s == '\0')
          return FALSE;
        s++;
      }
      if (*s++ != '"')
        return FALSE;
    } else {
      start = s;
      while (is_token_char (*s))
        s++;
      if (s == start)
        return FALSE;
    }
  }
  return TRUE;
}

/* gst_video_info_from_caps() g_warning()s about a multiview-mode it does
 * not know: such caps are refused before they get there. The modes are a
 * short list of small enum values. */
static gboolean
multiview_mode_known (const gchar * str)
{
  gint m;

  for (m = GST_VIDEO_MULTIVIEW_MODE_MONO; m < 64; m++) {
    const gchar *known = gst_video_multiview_mode_to_caps_string (m);

    if (known != NULL && strcmp (known, str) == 0)
      return TRUE;
  }
  return FALSE;
}

gboolean
gst_memmap_store_header_parse (const GstMemmapStoreHeader * hdr,
    guint64 file_size, const gchar * path, GstMemmapStoreGeometry * geo,
    GstCaps ** caps_out, GstVideoInfo * info_out, GError ** error)
{
  GstMemmapStoreGeometry g;
  GstVideoFormat format;
  GstVideoInfo info;
  GstCaps *caps = NULL;
  GstStructure *s;
  const gchar *caps_format, *mview_mode;
  gint caps_width, caps_height;
  guint32 state, header_size, slot_align;
  guint p;

  memset (&g, 0, sizeof (g));

  if (memcmp (hdr->magic, GST_MEMMAP_STORE_MAGIC, GST_MEMMAP_STORE_MAGIC_SIZE))
    CORRUPT ("'%s' is not a frame store (bad magic)", path);
  if (GUINT16_FROM_LE (hdr->version_major) != GST_MEMMAP_STORE_VERSION_MAJOR) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_VERSION,
        "'%s' is a frame store of format version %u.%u; this library reads "
        "version %u.x", path, GUINT16_FROM_LE (hdr->version_major),
        GUINT16_FROM_LE (hdr->version_minor), GST_MEMMAP_STORE_VERSION_MAJOR);
    return FALSE;
  }
  header_size = GUINT32_FROM_LE (hdr->header_size);
  if (header_size < GST_MEMMAP_STORE_HEADER_SIZE ||
      header_size % GST_MEMMAP_STORE_PAGE_SIZE)
    CORRUPT ("'%s': header size %u invalid", path, header_size);
  slot_align = GUINT32_FROM_LE (hdr->slot_align);
  if (slot_align != GST_MEMMAP_STORE_PAGE_SIZE)
    CORRUPT ("'%s': slot alignment %u invalid", path, slot_align);
  state = GUINT32_FROM_LE (hdr->state);
  if (state != GST_MEMMAP_STORE_STATE_OPEN &&
      state != GST_MEMMAP_STORE_STATE_CLOSED &&
      state != GST_MEMMAP_STORE_STATE_DAMAGED)
    CORRUPT ("'%s': writer state %u invalid", path, state);

  g.mode = GUINT32_FROM_LE (hdr->mode);
  g.n_planes = GUINT32_FROM_LE (hdr->n_planes);
  g.width = GUINT32_FROM_LE (hdr->width);
  g.height = GUINT32_FROM_LE (hdr->height);
  g.fps_n = GINT32_FROM_LE (hdr->fps_n);
  g.fps_d = GINT32_FROM_LE (hdr->fps_d);
  g.frame_size = GUINT64_FROM_LE (hdr->frame_size);
  g.slot_stride = GUINT64_FROM_LE (hdr->slot_stride);
  g.max_frames = GUINT64_FROM_LE (hdr->max_frames);
  g.entries_per_chunk = GUINT64_FROM_LE (hdr->entries_per_chunk);
  g.slots_per_chunk = GUINT64_FROM_LE (hdr->slots_per_chunk);
  g.index_block_size = GUINT64_FROM_LE (hdr->index_block_size);
  g.chunk_stride = GUINT64_FROM_LE (hdr->chunk_stride);
  g.data_offset = GUINT64_FROM_LE (hdr->data_offset);
  for (p = 0; p < GST_MEMMAP_STORE_MAX_PLANES; p++) {
    g.plane_offset[p] = GUINT64_FROM_LE (hdr->plane_offset[p]);
    g.plane_stride[p] = GINT32_FROM_LE (hdr->plane_stride[p]);
  }

  if (!gst_memmap_store_geometry_validate (&g, path, error))
    return FALSE;
  if (g.data_offset < header_size)
    CORRUPT ("'%s': data offset %" G_GUINT64_FORMAT " inside the header",
        path, g.data_offset);

  if (!string_field_ok (hdr->format, sizeof (hdr->format)))
    CORRUPT ("'%s': format name not terminated", path);
  format = gst_video_format_from_string (hdr->format);
  if (format == GST_VIDEO_FORMAT_UNKNOWN) {
    /* the bytes of a hostile file: escaped, so that the message stays
     * UTF-8 as GError messages must */
    gchar *name = g_strescape (hdr->format, NULL);

    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "'%s': unknown video format '%s'", path, name);
    g_free (name);
    return FALSE;
  }
  g_strlcpy (g.format, hdr->format, sizeof (g.format));

  if (!string_field_ok (hdr->caps, sizeof (hdr->caps)))
    CORRUPT ("'%s': caps not terminated", path);
  if (!gst_memmap_store_caps_string_ok (hdr->caps))
    CORRUPT ("'%s': caps are not a plain video/x-raw caps string", path);
  caps = gst_caps_from_string (hdr->caps);
  if (caps == NULL)
    CORRUPT ("'%s': caps do not parse", path);
  if (gst_caps_get_size (caps) != 1 || !gst_caps_is_fixed (caps))
    goto bad_caps;
  s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_name (s, "video/x-raw") ||
      !gst_memmap_store_caps_features_ok (caps))
    goto bad_caps;
  /* what gst_video_info_from_caps() would complain about */
  if (!gst_structure_get_int (s, "width", &caps_width) ||
      !gst_structure_get_int (s, "height", &caps_height) ||
      (caps_format = gst_structure_get_string (s, "format")) == NULL)
    goto bad_caps;
  if (caps_width != (gint) g.width || caps_height != (gint) g.height ||
      strcmp (caps_format, g.format) != 0)
    goto caps_mismatch;
  if ((mview_mode = gst_structure_get_string (s, "multiview-mode")) != NULL
      && !multiview_mode_known (mview_mode))
    goto bad_caps;
  if (!gst_video_info_from_caps (&info, caps))
    goto bad_caps;
  if (GST_VIDEO_INFO_FORMAT (&info) != format ||
      (guint) GST_VIDEO_INFO_WIDTH (&info) != g.width ||
      (guint) GST_VIDEO_INFO_HEIGHT (&info) != g.height ||
      GST_VIDEO_INFO_N_PLANES (&info) != g.n_planes)
    goto caps_mismatch;

  for (p = 0; p < g.n_planes; p++) {
    if (g.plane_offset[p] > g.frame_size)
      goto plane_outside;
    GST_VIDEO_INFO_PLANE_OFFSET (&info, p) = g.plane_offset[p];
    GST_VIDEO_INFO_PLANE_STRIDE (&info, p) = g.plane_stride[p];
  }
  info.size = g.frame_size;
  if (!gst_memmap_store_validate_layout (&info, path, error)) {
    gst_caps_unref (caps);
    return FALSE;
  }

  if (!gst_memmap_store_check_live (&g,
          GUINT64_FROM_LE (hdr->chunks_reserved),
          GUINT64_FROM_LE (hdr->committed), file_size, path, error)) {
    gst_caps_unref (caps);
    return FALSE;
  }

  *geo = g;
  if (info_out)
    *info_out = info;
  if (caps_out)
    *caps_out = caps;
  else
    gst_caps_unref (caps);

  return TRUE;

  /* ERRORS */
bad_caps:
  {
    gst_caps_unref (caps);
    CORRUPT ("'%s': caps are not fixed raw video caps", path);
  }
caps_mismatch:
  {
    gst_caps_unref (caps);
    CORRUPT ("'%s': caps do not match the layout (%s %ux%u)", path, g.format,
        g.width, g.height);
  }
plane_outside:
  {
    gst_caps_unref (caps);
    CORRUPT ("'%s': plane %u starts past the frame", path, p);
  }
}

/* Opens @path read-only and reads its header page into @hdr. Fails with
 * CORRUPT for a file too short to hold a header. On success *fd_out (if
 * not NULL) is the open file, which the caller closes. */
gboolean
gst_memmap_store_read_header (GstMemmapEngine * engine, const gchar * path,
    gint * fd_out, GstMemmapStoreHeader * hdr, guint64 * file_size,
    GError ** error)
{
  struct stat st;
  gssize n;
  gint fd, err;

  /* O_NONBLOCK: never hang on a FIFO; no effect on a regular file. Out of
   * file descriptors, the engine gives back those of unused mappings. */
  fd = gst_memmap_engine_open (engine, path, O_RDONLY | O_CLOEXEC |
      O_NONBLOCK, 0);
  if (fd < 0)
    goto open_failed;
  if (fstat (fd, &st) < 0)
    goto stat_failed;
  if (S_ISDIR (st.st_mode)) {
    errno = EISDIR;
    goto stat_failed;
  }
  if (!S_ISREG (st.st_mode))
    goto not_regular;
  if ((guint64) st.st_size < GST_MEMMAP_STORE_HEADER_SIZE)
    goto too_short;

  do {
    n = pread (fd, hdr, sizeof (*hdr), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    goto stat_failed;
  if ((gsize) n < sizeof (*hdr))
    goto too_short;

  *file_size = st.st_size;
  if (fd_out)
    *fd_out = fd;
  else
    close (fd);
  return TRUE;

  /* ERRORS */
open_failed:
  {
    err = errno;
    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not open frame store '%s': %s", path, g_strerror (err));
    return FALSE;
  }
stat_failed:
  {
    err = errno;
    close (fd);
    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not read frame store '%s': %s", path, g_strerror (err));
    return FALSE;
  }
not_regular:
  {
    close (fd);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "'%s' is not a regular file", path);
    return FALSE;
  }
too_short:
  {
    close (fd);
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "'%s' is too short (%" G_GUINT64_FORMAT " bytes) to be a frame store",
        path, (guint64) st.st_size);
    return FALSE;
  }
}

/* The windows of a store: whole chunks of an append store, enough of them
 * to make the engine's window size; groups of slots of a ring, at least
 * GST_MEMMAP_STORE_MIN_WINDOW_SLOTS; the first window also holds what
 * comes before (header, a ring's index). A slot never straddles two
 * windows, and a window holds the same number of frames whatever their
 * size. A small budget keeps the engine's standard windows: the maps and
 * the buffers downstream hold several windows at a time, and they must
 * fit. */
static void
maps_set_windows (GstMemmapStoreMaps * maps, const GstMemmapStoreGeometry * geo)
{
  guint64 window_size = gst_memmap_engine_get_window_size (maps->engine);
  guint64 budget = gst_memmap_engine_get_max_mapped_bytes (maps->engine);
  guint64 unit, n;

  if (geo->mode == GST_MEMMAP_STORE_MODE_APPEND) {
    maps->window_origin = geo->data_offset;
    unit = geo->chunk_stride;
    n = 1;
  } else {
    /* the ring's index block is before the slots, in the first window */
    maps->window_origin = geo->data_offset + geo->index_block_size;
    unit = geo->slot_stride;
    n = GST_MEMMAP_STORE_MIN_WINDOW_SLOTS;
  }
  n = MAX (n, window_size / unit);
  if (!checked_mul (&maps->window_size, n, unit) ||
      maps->window_size > budget / (2 * GST_MEMMAP_STORE_MAPS_SIZE))
    maps->window_size = 0;
}

/* For a writer: an open file of its own on the file of @fd (@st), for the
 * windows to share, since @fd holds the writer's flock() and every
 * duplicate of it would hold the lock as long as the engine caches the
 * window. Through /proc, so that it is the same file whatever @path names
 * now; else a duplicate of @fd after all (the lock then outlives the
 * writer until its windows are evicted). -1 (and the windows go through
 * @fd) if neither works. */
static gint
reopen_fd (GstMemmapEngine * engine, gint fd, const struct stat *st,
    const gchar * path)
{
  gchar *proc_path = g_strdup_printf ("/proc/self/fd/%d", fd);
  gint flags = (fcntl (fd, F_GETFL) & O_ACCMODE) | O_CLOEXEC | O_NONBLOCK;
  gint own = gst_memmap_engine_open (engine, proc_path, flags, 0);
  struct stat own_st;

  g_free (proc_path);
  if (own >= 0 && (fstat (own, &own_st) < 0 || own_st.st_dev != st->st_dev
          || own_st.st_ino != st->st_ino)) {
    close (own);
    own = -1;
  }
  if (own < 0) {
    GST_INFO ("cannot open %s again through /proc: %s", path,
        g_strerror (errno));
    own = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  }
  return own;
}

gboolean
gst_memmap_store_maps_init (GstMemmapStoreMaps * maps,
    GstMemmapEngine * engine, const gchar * path, gint fd,
    const GstMemmapStoreGeometry * geo, GstMemmapMapFlags flags,
    GError ** error)
{
  struct stat st;

  memset (maps, 0, sizeof (*maps));
  if (fstat (fd, &st) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not stat frame store '%s': %s", path, g_strerror (err));
    return FALSE;
  }
  maps->engine = gst_object_ref (engine);
  maps->path = path;
  maps->fd = fd;
  /* a writer's @fd holds its lock, a reader's nothing */
  maps->map_fd = (flags & GST_MEMMAP_MAP_WRITE) ?
      reopen_fd (engine, fd, &st, path) : -1;
  maps->flags = flags;
  maps_set_windows (maps, geo);

  return TRUE;
}

void
gst_memmap_store_maps_clear (GstMemmapStoreMaps * maps)
{
  guint i;

  for (i = 0; i < GST_MEMMAP_STORE_MAPS_SIZE; i++)
    g_clear_pointer (&maps->maps[i], gst_memmap_mapping_unref);
  /* map_fd is set only with the engine (a zeroed struct is cleared too) */
  if (maps->engine && maps->map_fd >= 0)
    close (maps->map_fd);
  maps->map_fd = -1;
  if (maps->engine)
    gst_object_unref (maps->engine);
  maps->engine = NULL;
}

/* fstat() of the descriptor the store was validated through */
static gboolean
maps_fstat (GstMemmapStoreMaps * maps, struct stat *st, GError ** error)
{
  if (fstat (maps->fd, st) < 0) {
    gint err = errno;

    g_set_error (error, GST_MEMMAP_ERROR, gst_memmap_error_from_errno (err),
        "Could not stat frame store '%s': %s", maps->path, g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

/* The store is still whole up to @end: no mapping we hold lost pages to a
 * truncation by another program (no system call), and the file we hold
 * open still has @end bytes (one fstat()). FALSE with
 * GST_MEMMAP_ERROR_TRUNCATED otherwise. */
gboolean
gst_memmap_store_maps_check (GstMemmapStoreMaps * maps, guint64 end,
    GError ** error)
{
  struct stat st;
  guint i;

  for (i = 0; i < GST_MEMMAP_STORE_MAPS_SIZE && maps->maps[i]; i++) {
    if (!gst_memmap_mapping_check (maps->maps[i], error))
      return FALSE;
  }
  if (!maps_fstat (maps, &st, error))
    return FALSE;
  if ((guint64) st.st_size < end) {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
        "Frame store '%s' was truncated while in use: it holds %"
        G_GUINT64_FORMAT " bytes, bytes up to %" G_GUINT64_FORMAT
        " are needed", maps->path, (guint64) st.st_size, end);
    return FALSE;
  }
  return TRUE;
}

/* Returns (transfer none) a mapping that holds [offset, offset + size),
 * valid until the next call or gst_memmap_store_maps_clear(); take a
 * reference to keep it longer. */
GstMemmapMapping *
gst_memmap_store_maps_get (GstMemmapStoreMaps * maps, guint64 offset,
    guint64 size, GError ** error)
{
  GstMemmapMapping *m;
  struct stat st;
  guint64 window_offset = 0, window_size = 0;
  guint i;

  if (maps->window_size > 0) {
    guint64 k = offset < maps->window_origin ? 0 :
        (offset - maps->window_origin) / maps->window_size;

    window_offset = maps->window_origin + k * maps->window_size;
    window_size = maps->window_size;
    /* the first window starts at 0: the header (and a ring's index) are
     * mapped with the first slots, one mapping and one descriptor less */
    if (k == 0) {
      window_offset = 0;
      window_size += maps->window_origin;
    }
  }

  for (i = 0; i < GST_MEMMAP_STORE_MAPS_SIZE && maps->maps[i]; i++) {
    m = maps->maps[i];
    /* only the store's own window for the range, when it has windows: one
     * that merely overlaps (the header's) would leave slots of a chunk in
     * two mappings */
    if (gst_memmap_mapping_data_at (m, offset, size) && (window_size == 0 ||
            gst_memmap_mapping_get_offset (m) == window_offset)) {
      /* pages of it lost to a truncation: its bytes are not the file's */
      if (!gst_memmap_mapping_check (m, error))
        return NULL;
      /* move to the front */
      memmove (&maps->maps[1], &maps->maps[0], i * sizeof (maps->maps[0]));
      maps->maps[0] = m;
      return m;
    }
  }

  /* a miss: never map past the end of the file we hold open (a store that
   * was truncated under us) */
  if (!maps_fstat (maps, &st, error))
    return NULL;
  if (offset > (guint64) st.st_size || size > (guint64) st.st_size - offset) {
    /* it was validated against its size when it was opened */
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
        "Frame store '%s' was truncated: it holds %" G_GUINT64_FORMAT
        " bytes, bytes up to %" G_GUINT64_FORMAT " are needed", maps->path,
        (guint64) st.st_size, offset + size);
    return NULL;
  }

  /* through the descriptor the store was validated on: its path may name
   * another file by now */
  m = gst_memmap_engine_map_window_fd (maps->engine,
      maps->map_fd >= 0 ? maps->map_fd : maps->fd, maps->path,
      window_offset, window_size, offset, size, maps->flags, error);
  if (m == NULL)
    return NULL;

  if (maps->maps[GST_MEMMAP_STORE_MAPS_SIZE - 1])
    gst_memmap_mapping_unref (maps->maps[GST_MEMMAP_STORE_MAPS_SIZE - 1]);
  memmove (&maps->maps[1], &maps->maps[0],
      (GST_MEMMAP_STORE_MAPS_SIZE - 1) * sizeof (maps->maps[0]));
  maps->maps[0] = m;

  return m;
}
