/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store's header (docs/store-format.md): layout arithmetic, the
 * geometry rule, the header's initialisation, its parsing and validation,
 * shared by the store writer and reader. The caps strings a header may
 * hold are checked in gstmemmapstorecaps.c, the frame checksum, frame flags
 * and hole punching are in gstmemmapstoreframe.c, the store's mappings in
 * gstmemmapstoremaps.c. Nothing here trusts a byte of a header
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

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

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

/* A layout refused: CORRUPT for the layout of a store's header (@path
 * names the file), INVALID_ARGUMENT for a writer's argument (@path NULL).
 * Returns FALSE. */
static gboolean
G_GNUC_PRINTF (3, 4)
bad_layout (GError ** error, const gchar * path, const gchar * format, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GST_MEMMAP_ERROR,
      path ? GST_MEMMAP_ERROR_CORRUPT : GST_MEMMAP_ERROR_INVALID_ARGUMENT,
      "%s: %s", path ? path : "layout", msg);
  g_free (msg);
  return FALSE;
}

/* The bytes of the widest row among the components @comps of a plane
 * (-1 after the last) of frames @width pixels wide. */
static guint64
plane_row_bytes (const GstVideoFormatInfo * finfo, const gint * comps,
    guint64 width)
{
  guint64 row_bytes = 0;
  guint i;

  for (i = 0; i < GST_VIDEO_MAX_COMPONENTS && comps[i] >= 0; i++) {
    guint64 w = GST_VIDEO_FORMAT_INFO_SCALE_WIDTH (finfo, comps[i], width);
    gint pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comps[i]);

    if (pstride > 0)
      row_bytes = MAX (row_bytes, w * (guint64) pstride);
  }
  return row_bytes;
}

/* Checks that every plane of @info lies inside info->size, that strides are
 * positive and hold a row, and that the format can be described by
 * per-plane offset and stride. @path only names the file in errors (may be
 * NULL for a writer's layout argument). */
gboolean
gst_memmap_store_validate_layout (const GstVideoInfo * info,
    const gchar * path, GError ** error)
{
  const GstVideoFormatInfo *finfo = info->finfo;
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
    guint64 rows, plane_bytes, end;
    gint stride = GST_VIDEO_INFO_PLANE_STRIDE (info, p);
    guint64 offset = GST_VIDEO_INFO_PLANE_OFFSET (info, p);

    gst_video_format_info_component (finfo, p, comps);
    if (comps[0] < 0)
      goto bad_planes;

    rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (finfo, comps[0], height);
    if (stride <= 0 || (guint64) stride < plane_row_bytes (finfo, comps, width))
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
    return bad_layout (error, path, "no raw video format");
  }
unsupported_format:
  {
    return bad_layout (error, path, "format %s (tiled or paletted) cannot be "
        "stored", GST_VIDEO_INFO_NAME (info));
  }
unsupported_views:
  {
    return bad_layout (error, path, "multiview video (%d views) cannot be "
        "stored", GST_VIDEO_INFO_VIEWS (info));
  }
bad_planes:
  {
    return bad_layout (error, path, "%s has %u planes",
        GST_VIDEO_INFO_NAME (info), GST_VIDEO_INFO_N_PLANES (info));
  }
bad_size:
  {
    return bad_layout (error, path, "frame size %dx%d out of range (1..%u)",
        GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
        GST_MEMMAP_STORE_MAX_DIMENSION);
  }
bad_frame_size:
  {
    return bad_layout (error, path, "frame of %" G_GUINT64_FORMAT " bytes "
        "out of range", size);
  }
bad_stride:
  {
    return bad_layout (error, path, "stride %d of plane %u does not hold a "
        "row of %s", GST_VIDEO_INFO_PLANE_STRIDE (info, p), p,
        GST_VIDEO_INFO_NAME (info));
  }
plane_outside:
  {
    return bad_layout (error, path, "plane %u (offset %" G_GSIZE_FORMAT
        ", stride %d) ends past the frame of %" G_GUINT64_FORMAT " bytes", p,
        GST_VIDEO_INFO_PLANE_OFFSET (info, p),
        GST_VIDEO_INFO_PLANE_STRIDE (info, p), size);
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

/* The fields of @hdr that say what the file is: magic, format version,
 * header size, slot alignment and writer state. */
static gboolean
header_check_kind (const GstMemmapStoreHeader * hdr, const gchar * path,
    guint32 * header_size_out, GError ** error)
{
  guint32 state, header_size, slot_align;

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

  *header_size_out = header_size;
  return TRUE;
}

/* The geometry fields of @hdr as they are, validated by the caller. */
static void
header_read_geometry (const GstMemmapStoreHeader * hdr,
    GstMemmapStoreGeometry * g)
{
  guint p;

  memset (g, 0, sizeof (*g));
  g->mode = GUINT32_FROM_LE (hdr->mode);
  g->n_planes = GUINT32_FROM_LE (hdr->n_planes);
  g->width = GUINT32_FROM_LE (hdr->width);
  g->height = GUINT32_FROM_LE (hdr->height);
  g->fps_n = GINT32_FROM_LE (hdr->fps_n);
  g->fps_d = GINT32_FROM_LE (hdr->fps_d);
  g->frame_size = GUINT64_FROM_LE (hdr->frame_size);
  g->slot_stride = GUINT64_FROM_LE (hdr->slot_stride);
  g->max_frames = GUINT64_FROM_LE (hdr->max_frames);
  g->entries_per_chunk = GUINT64_FROM_LE (hdr->entries_per_chunk);
  g->slots_per_chunk = GUINT64_FROM_LE (hdr->slots_per_chunk);
  g->index_block_size = GUINT64_FROM_LE (hdr->index_block_size);
  g->chunk_stride = GUINT64_FROM_LE (hdr->chunk_stride);
  g->data_offset = GUINT64_FROM_LE (hdr->data_offset);
  for (p = 0; p < GST_MEMMAP_STORE_MAX_PLANES; p++) {
    g->plane_offset[p] = GUINT64_FROM_LE (hdr->plane_offset[p]);
    g->plane_stride[p] = GINT32_FROM_LE (hdr->plane_stride[p]);
  }
}

/* The video format named in @hdr, copied into g->format. */
static gboolean
header_read_format (const GstMemmapStoreHeader * hdr, const gchar * path,
    GstMemmapStoreGeometry * g, GstVideoFormat * format, GError ** error)
{
  if (!string_field_ok (hdr->format, sizeof (hdr->format)))
    CORRUPT ("'%s': format name not terminated", path);
  *format = gst_video_format_from_string (hdr->format);
  if (*format == GST_VIDEO_FORMAT_UNKNOWN) {
    /* the bytes of a hostile file: escaped, so that the message stays
     * UTF-8 as GError messages must */
    gchar *name = g_strescape (hdr->format, NULL);

    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "'%s': unknown video format '%s'", path, name);
    g_free (name);
    return FALSE;
  }
  g_strlcpy (g->format, hdr->format, sizeof (g->format));
  return TRUE;
}

/* The caps of @hdr, checked against the geometry @g, and in @info their
 * video info with the planes of @g (not validated yet). */
static gboolean
header_read_caps (const GstMemmapStoreHeader * hdr, const gchar * path,
    const GstMemmapStoreGeometry * g, GstVideoFormat format,
    GstCaps ** caps_out, GstVideoInfo * info, GError ** error)
{
  const gchar *caps_format, *mview_mode;
  gint caps_width, caps_height;
  GstStructure *s;
  GstCaps *caps;
  guint p;

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
  if (caps_width != (gint) g->width || caps_height != (gint) g->height ||
      strcmp (caps_format, g->format) != 0)
    goto caps_mismatch;
  if ((mview_mode = gst_structure_get_string (s, "multiview-mode")) != NULL
      && !gst_memmap_store_multiview_mode_known (mview_mode))
    goto bad_caps;
  if (!gst_video_info_from_caps (info, caps))
    goto bad_caps;
  if (GST_VIDEO_INFO_FORMAT (info) != format ||
      (guint) GST_VIDEO_INFO_WIDTH (info) != g->width ||
      (guint) GST_VIDEO_INFO_HEIGHT (info) != g->height ||
      GST_VIDEO_INFO_N_PLANES (info) != g->n_planes)
    goto caps_mismatch;

  for (p = 0; p < g->n_planes; p++) {
    if (g->plane_offset[p] > g->frame_size)
      goto plane_outside;
    GST_VIDEO_INFO_PLANE_OFFSET (info, p) = g->plane_offset[p];
    GST_VIDEO_INFO_PLANE_STRIDE (info, p) = g->plane_stride[p];
  }
  info->size = g->frame_size;

  *caps_out = caps;
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
    CORRUPT ("'%s': caps do not match the layout (%s %ux%u)", path,
        g->format, g->width, g->height);
  }
plane_outside:
  {
    gst_caps_unref (caps);
    CORRUPT ("'%s': plane %u starts past the frame", path, p);
  }
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
  guint32 header_size;

  if (!header_check_kind (hdr, path, &header_size, error))
    return FALSE;
  header_read_geometry (hdr, &g);
  if (!gst_memmap_store_geometry_validate (&g, path, error))
    return FALSE;
  if (g.data_offset < header_size)
    CORRUPT ("'%s': data offset %" G_GUINT64_FORMAT " inside the header",
        path, g.data_offset);
  if (!header_read_format (hdr, path, &g, &format, error))
    return FALSE;
  if (!header_read_caps (hdr, path, &g, format, &caps, &info, error))
    return FALSE;
  if (!gst_memmap_store_validate_layout (&info, path, error))
    goto failed;
  if (!gst_memmap_store_check_live (&g,
          GUINT64_FROM_LE (hdr->chunks_reserved),
          GUINT64_FROM_LE (hdr->committed), file_size, path, error))
    goto failed;

  *geo = g;
  if (info_out)
    *info_out = info;
  if (caps_out)
    *caps_out = caps;
  else
    gst_caps_unref (caps);

  return TRUE;

  /* ERRORS */
failed:
  {
    gst_caps_unref (caps);
    return FALSE;
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
