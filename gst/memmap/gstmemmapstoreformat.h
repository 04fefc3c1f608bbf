/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The on-disk layout of a frame store, format version 1.1, shared by the
 * writer and the reader. docs/store-format.md is the normative description;
 * this header must agree with it byte for byte (the G_STATIC_ASSERTs below
 * pin every offset).
 *
 * Everything on disk is little-endian. The structs are laid out so that every
 * field is naturally aligned and there is no implicit padding, which makes
 * the in-memory struct identical to the on-disk bytes on a little-endian
 * host; the accessors below convert on a big-endian one.
 */
#pragma once

#include <stddef.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "gstmemmapstore.h"

G_BEGIN_DECLS

#define GST_MEMMAP_STORE_MAGIC "GSTMMAP\x1a"
#define GST_MEMMAP_STORE_MAGIC_SIZE 8
#define GST_MEMMAP_STORE_VERSION_MAJOR 1
#define GST_MEMMAP_STORE_VERSION_MINOR 1
#define GST_MEMMAP_STORE_HEADER_SIZE 4096
#define GST_MEMMAP_STORE_PAGE_SIZE 4096
#define GST_MEMMAP_STORE_ENTRY_SIZE 64
#define GST_MEMMAP_STORE_CAPS_SIZE 2048
#define GST_MEMMAP_STORE_FORMAT_SIZE 32
#define GST_MEMMAP_STORE_MAX_PLANES 4

/* header flags (1.1): every index entry's checksum is the XXH3-64 of its
 * frame's frame_size bytes */
#define GST_MEMMAP_STORE_HEADER_FLAG_CHECKSUMS (1u << 0)
#define GST_MEMMAP_STORE_HEADER_FLAGS_KNOWN \
  GST_MEMMAP_STORE_HEADER_FLAG_CHECKSUMS

/* the index entry flags this version defines (GstMemmapStoreFrameFlags) */
#define GST_MEMMAP_STORE_FRAME_FLAGS_KNOWN \
  (GST_MEMMAP_STORE_FRAME_DISCONT | GST_MEMMAP_STORE_FRAME_INTERLACED | \
   GST_MEMMAP_STORE_FRAME_TFF | GST_MEMMAP_STORE_FRAME_RFF | \
   GST_MEMMAP_STORE_FRAME_ONEFIELD | GST_MEMMAP_STORE_FRAME_CORRUPTED | \
   GST_MEMMAP_STORE_FRAME_GAP)

#define GST_MEMMAP_STORE_STATE_OPEN 1
#define GST_MEMMAP_STORE_STATE_CLOSED 2
/* the writer found the file truncated under it by another program and
 * stopped: frames may hold zeros where the file's bytes were */
#define GST_MEMMAP_STORE_STATE_DAMAGED 3

/* bit 63 of an entry's frame_seq: the entry is being rewritten */
#define GST_MEMMAP_STORE_SEQ_BUSY (G_GUINT64_CONSTANT (1) << 63)

/* Sanity limits a reader enforces (a writer refuses to exceed them). They
 * keep every product of two header fields far below 2^64. */
#define GST_MEMMAP_STORE_MAX_DIMENSION (1u << 20)
#define GST_MEMMAP_STORE_MAX_FRAME_SIZE (G_GUINT64_CONSTANT (1) << 40)
#define GST_MEMMAP_STORE_MAX_PER_CHUNK (G_GUINT64_CONSTANT (1) << 32)
#define GST_MEMMAP_STORE_MAX_FRAMES (G_GUINT64_CONSTANT (1) << 62)

/* The lease table in the header (docs/store-format.md, "Wake-ups and
 * leases"): readers of a ring record which frames they hold, so that the
 * writer never reuses their slots. */
#define GST_MEMMAP_STORE_N_LEASES 16

typedef struct
{
  /*  0 */ guint32 pid;             /* atomic; 0 = free, claimed by CAS */
  /*  4 */ guint32 seq;             /* atomic; odd while the range changes */
  /*  8 */ guint64 oldest;          /* oldest frame held + 1; 0 = none */
  /* 16 */ guint64 newest;          /* newest frame held + 1 */
  /* 24 */ guint64 pid_start;       /* the holder's start time (jiffies) */
  /* 32 */ guint64 reserved[4];
} GstMemmapStoreLeaseEntry;

G_STATIC_ASSERT (sizeof (GstMemmapStoreLeaseEntry) == 64);

/* Header page, at file offset 0. Offsets in the comments are normative. */
typedef struct
{
  /*    0 */ guint8 magic[GST_MEMMAP_STORE_MAGIC_SIZE];
  /*    8 */ guint16 version_major;
  /*   10 */ guint16 version_minor;
  /*   12 */ guint32 header_size;
  /*   16 */ guint32 mode;
  /*   20 */ guint32 state;         /* atomic */
  /*   24 */ guint32 slot_align;
  /*   28 */ guint32 n_planes;
  /*   32 */ guint32 width;
  /*   36 */ guint32 height;
  /*   40 */ gint32 fps_n;
  /*   44 */ gint32 fps_d;
  /*   48 */ guint32 writer_pid;
  /*   52 */ guint32 flags;         /* GST_MEMMAP_STORE_HEADER_FLAG_* */
  /*   56 */ guint64 frame_size;
  /*   64 */ guint64 slot_stride;
  /*   72 */ guint64 max_frames;
  /*   80 */ guint64 entries_per_chunk;
  /*   88 */ guint64 slots_per_chunk;
  /*   96 */ guint64 index_block_size;
  /*  104 */ guint64 chunk_stride;
  /*  112 */ guint64 data_offset;
  /*  120 */ guint64 creation_time; /* µs since the Unix epoch */
  /*  128 */ guint64 plane_offset[GST_MEMMAP_STORE_MAX_PLANES];
  /*  160 */ gint32 plane_stride[GST_MEMMAP_STORE_MAX_PLANES];
  /*  176 */ gchar format[GST_MEMMAP_STORE_FORMAT_SIZE];
  /*  208 */ guint8 reserved1[48];
  /*  256 */ guint64 committed;     /* atomic, own cache line */
  /*  264 */ guint32 notify;        /* atomic, futex word */
  /*  268 */ guint32 waiters;       /* atomic */
  /*  272 */ guint32 lease_notify;  /* atomic, futex word */
  /*  276 */ guint32 lease_waiters; /* atomic */
  /*  280 */ guint8 reserved2[40];
  /*  320 */ guint64 chunks_reserved;       /* atomic */
  /*  328 */ guint64 generation;    /* atomic */
  /*  336 */ guint8 reserved3[176];
  /*  512 */ gchar caps[GST_MEMMAP_STORE_CAPS_SIZE];
  /* 2560 */ GstMemmapStoreLeaseEntry leases[GST_MEMMAP_STORE_N_LEASES];
  /* 3584 */ guint8 reserved4[GST_MEMMAP_STORE_HEADER_SIZE - 3584];
} GstMemmapStoreHeader;

G_STATIC_ASSERT (sizeof (GstMemmapStoreHeader) == GST_MEMMAP_STORE_HEADER_SIZE);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, state) == 20);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, frame_size) == 56);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, creation_time) == 120);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, plane_offset) == 128);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, plane_stride) == 160);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, format) == 176);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, committed) == 256);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, notify) == 264);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, waiters) == 268);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, lease_notify) == 272);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, lease_waiters) == 276);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, chunks_reserved) == 320);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, generation) == 328);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, caps) == 512);
G_STATIC_ASSERT (offsetof (GstMemmapStoreHeader, leases) == 2560);

/* One index entry (64 bytes). */
typedef struct
{
  /*  0 */ guint64 frame_seq;       /* frame + 1; 0 = never written */
  /*  8 */ guint64 slot;
  /* 16 */ guint64 pts;
  /* 24 */ guint64 duration;
  /* 32 */ guint32 flags;
  /* 36 */ guint32 reserved0;
  /* 40 */ guint64 checksum;        /* XXH3-64 of the frame, or 0 */
  /* 48 */ guint64 reserved1[2];
} GstMemmapStoreIndexEntry;

G_STATIC_ASSERT (sizeof (GstMemmapStoreIndexEntry) ==
    GST_MEMMAP_STORE_ENTRY_SIZE);
G_STATIC_ASSERT (offsetof (GstMemmapStoreIndexEntry, flags) == 32);
G_STATIC_ASSERT (offsetof (GstMemmapStoreIndexEntry, checksum) == 40);

/* The static geometry of a store, in host byte order. */
typedef struct
{
  GstMemmapStoreMode mode;
  guint32 n_planes;
  guint32 width;
  guint32 height;
  gint32 fps_n;
  gint32 fps_d;
  guint64 frame_size;
  guint64 slot_stride;
  guint64 max_frames;
  guint64 entries_per_chunk;
  guint64 slots_per_chunk;
  guint64 index_block_size;
  guint64 chunk_stride;
  guint64 data_offset;
  guint64 plane_offset[GST_MEMMAP_STORE_MAX_PLANES];
  gint32 plane_stride[GST_MEMMAP_STORE_MAX_PLANES];
  gchar format[GST_MEMMAP_STORE_FORMAT_SIZE];
} GstMemmapStoreGeometry;

/* Atomic little-endian accessors for the fields that change while a store
 * is open (committed, chunks_reserved, generation, state, frame_seq). */
static inline guint64
gst_memmap_store_load_u64 (const guint64 * p)
{
  return GUINT64_FROM_LE (__atomic_load_n (p, __ATOMIC_ACQUIRE));
}

static inline guint64
gst_memmap_store_load_u64_relaxed (const guint64 * p)
{
  return GUINT64_FROM_LE (__atomic_load_n (p, __ATOMIC_RELAXED));
}

static inline void
gst_memmap_store_store_u64 (guint64 * p, guint64 v)
{
  __atomic_store_n (p, GUINT64_TO_LE (v), __ATOMIC_RELEASE);
}

static inline void
gst_memmap_store_store_u64_relaxed (guint64 * p, guint64 v)
{
  __atomic_store_n (p, GUINT64_TO_LE (v), __ATOMIC_RELAXED);
}

static inline guint32
gst_memmap_store_load_u32 (const guint32 * p)
{
  return GUINT32_FROM_LE (__atomic_load_n (p, __ATOMIC_ACQUIRE));
}

static inline void
gst_memmap_store_store_u32 (guint32 * p, guint32 v)
{
  __atomic_store_n (p, GUINT32_TO_LE (v), __ATOMIC_RELEASE);
}

static inline guint64
gst_memmap_store_round_up (guint64 v, guint64 align)
{
  return (v + align - 1) / align * align;
}

/* Layout arithmetic. All of it is overflow-free for a geometry that
 * gst_memmap_store_geometry_validate() accepted. */

static inline guint64
gst_memmap_store_chunk_offset (const GstMemmapStoreGeometry * geo,
    guint64 chunk)
{
  return geo->data_offset + chunk * geo->chunk_stride;
}

/* chunk and entry index of frame @frame's index entry */
static inline void
gst_memmap_store_entry_position (const GstMemmapStoreGeometry * geo,
    guint64 frame, guint64 * chunk, guint64 * index)
{
  if (geo->mode == GST_MEMMAP_STORE_MODE_RING) {
    *chunk = 0;
    *index = frame % geo->entries_per_chunk;
  } else {
    *chunk = frame / geo->entries_per_chunk;
    *index = frame % geo->entries_per_chunk;
  }
}

static inline guint64
gst_memmap_store_entry_offset (const GstMemmapStoreGeometry * geo,
    guint64 frame)
{
  guint64 chunk, index;

  gst_memmap_store_entry_position (geo, frame, &chunk, &index);
  return gst_memmap_store_chunk_offset (geo, chunk) +
      index * GST_MEMMAP_STORE_ENTRY_SIZE;
}

static inline guint64
gst_memmap_store_slot_offset (const GstMemmapStoreGeometry * geo,
    guint64 slot)
{
  return gst_memmap_store_chunk_offset (geo, slot / geo->slots_per_chunk) +
      geo->index_block_size + (slot % geo->slots_per_chunk) * geo->slot_stride;
}

/* A small most-recently-used set of engine mappings of one store file; it
 * avoids the engine's lookup per frame when the window is already held.
 * The windows are the store's own (whole chunks of an append store, groups
 * of slots of a ring: see maps_set_windows()), mapped through duplicates
 * of an open file of their own on the file of @fd (not @fd's: the writer's
 * flock() is on that), never by the store's path, which may name another
 * file by now. */
#define GST_MEMMAP_STORE_MAPS_SIZE 4

/* the fewest slots in a window of a ring store */
#define GST_MEMMAP_STORE_MIN_WINDOW_SLOTS 16

typedef struct
{
  GstMemmapEngine *engine;
  const gchar *path;            /* not owned, names it in errors */
  gint fd;                      /* not owned */
  gint map_fd;                  /* owned: a writer's open file of the
                                 * windows; -1: they go through fd */
  guint64 window_origin;        /* windows of window_size from here */
  guint64 window_size;          /* 0: the engine's standard windows */
  GstMemmapMapFlags flags;
  GstMemmapMapping *maps[GST_MEMMAP_STORE_MAPS_SIZE];
} GstMemmapStoreMaps;

G_GNUC_INTERNAL
guint64 gst_memmap_store_checksum (const guint8 * data, gsize size);

G_GNUC_INTERNAL
gboolean gst_memmap_store_punch (gint fd, guint64 offset, guint64 size);

G_GNUC_INTERNAL
gboolean gst_memmap_store_validate_layout (const GstVideoInfo * info,
    const gchar * path, GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_geometry_compute (const GstVideoInfo * layout,
    GstMemmapStoreMode mode, guint64 max_frames, guint spare_slots,
    guint64 chunk_bytes, const gchar * path, GstMemmapStoreGeometry * geo,
    GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_geometry_validate (const GstMemmapStoreGeometry *
    geo, const gchar * path, GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_caps_string_ok (const gchar * str);

G_GNUC_INTERNAL
gboolean gst_memmap_store_caps_features_ok (const GstCaps * caps);

G_GNUC_INTERNAL
gboolean gst_memmap_store_multiview_mode_known (const gchar * str);

G_GNUC_INTERNAL
void gst_memmap_store_header_init (GstMemmapStoreHeader * hdr,
    const GstMemmapStoreGeometry * geo, const gchar * caps_str,
    guint32 flags);

G_GNUC_INTERNAL
gboolean gst_memmap_store_header_parse (const GstMemmapStoreHeader * hdr,
    guint64 file_size, const gchar * path, GstMemmapStoreGeometry * geo,
    GstCaps ** caps, GstVideoInfo * info, GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_check_live (const GstMemmapStoreGeometry * geo,
    guint64 chunks_reserved, guint64 committed, guint64 file_size,
    const gchar * path, GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_maps_init (GstMemmapStoreMaps * maps,
    GstMemmapEngine * engine, const gchar * path, gint fd,
    const GstMemmapStoreGeometry * geo, GstMemmapMapFlags flags,
    GError ** error);

G_GNUC_INTERNAL
void gst_memmap_store_maps_clear (GstMemmapStoreMaps * maps);

G_GNUC_INTERNAL

G_GNUC_INTERNAL
gboolean gst_memmap_store_same_file (gint fd_a, gint fd_b);

G_GNUC_INTERNAL
GstMemmapStoreHeader *gst_memmap_store_maps_ref_header (GstMemmapStoreMaps *
    maps, GstMemmapMapping ** mapping, GError ** error);

G_GNUC_INTERNAL
GstMemmapMapping *gst_memmap_store_maps_get (GstMemmapStoreMaps * maps,
    guint64 offset, guint64 size, GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_maps_check (GstMemmapStoreMaps * maps,
    guint64 end, GError ** error);

G_GNUC_INTERNAL
gboolean gst_memmap_store_read_header (GstMemmapEngine * engine,
    const gchar * path, gint * fd_out, GstMemmapStoreHeader * hdr,
    guint64 * file_size, GError ** error);

G_END_DECLS
