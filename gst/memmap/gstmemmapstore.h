/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/memmap/memmap-prelude.h>
#include <gst/memmap/gstmemmapengine.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * GstMemmapStoreMode:
 * @GST_MEMMAP_STORE_MODE_APPEND: frames are appended; the file grows in
 *   reserved chunks
 * @GST_MEMMAP_STORE_MODE_RING: a fixed number of slots; the newest frames
 *   replace the oldest
 *
 * How a frame store keeps its frames. See docs/store-format.md.
 */
typedef enum
{
  GST_MEMMAP_STORE_MODE_APPEND = 1,
  GST_MEMMAP_STORE_MODE_RING = 2,
} GstMemmapStoreMode;

/**
 * GstMemmapStoreFrameFlags:
 * @GST_MEMMAP_STORE_FRAME_NONE: no flag
 * @GST_MEMMAP_STORE_FRAME_DISCONT: the frame follows a discontinuity
 *   (%GST_BUFFER_FLAG_DISCONT when it was written)
 * @GST_MEMMAP_STORE_FRAME_INTERLACED: %GST_VIDEO_BUFFER_FLAG_INTERLACED
 *   (format 1.1)
 * @GST_MEMMAP_STORE_FRAME_TFF: %GST_VIDEO_BUFFER_FLAG_TFF (format 1.1)
 * @GST_MEMMAP_STORE_FRAME_RFF: %GST_VIDEO_BUFFER_FLAG_RFF (format 1.1)
 * @GST_MEMMAP_STORE_FRAME_ONEFIELD: %GST_VIDEO_BUFFER_FLAG_ONEFIELD
 *   (format 1.1; with TFF: the top field, without: the bottom field)
 * @GST_MEMMAP_STORE_FRAME_CORRUPTED: %GST_BUFFER_FLAG_CORRUPTED (format
 *   1.1): the decoder said the frame is damaged
 * @GST_MEMMAP_STORE_FRAME_GAP: %GST_BUFFER_FLAG_GAP (format 1.1): the
 *   frame fills a gap and holds no real picture
 *
 * Per-frame flags recorded in the store's index. Use
 * gst_memmap_store_frame_flags_from_buffer() to record a buffer's flags
 * and gst_memmap_store_frame_flags_to_buffer() to give them back to a
 * buffer: those two are the one mapping between buffer flags and the
 * store's bits (docs/store-format.md says which flags are kept and why).
 */
typedef enum
{
  GST_MEMMAP_STORE_FRAME_NONE = 0,
  GST_MEMMAP_STORE_FRAME_DISCONT = (1 << 0),
  GST_MEMMAP_STORE_FRAME_INTERLACED = (1 << 1),
  GST_MEMMAP_STORE_FRAME_TFF = (1 << 2),
  GST_MEMMAP_STORE_FRAME_RFF = (1 << 3),
  GST_MEMMAP_STORE_FRAME_ONEFIELD = (1 << 4),
  GST_MEMMAP_STORE_FRAME_CORRUPTED = (1 << 5),
  GST_MEMMAP_STORE_FRAME_GAP = (1 << 6),
} GstMemmapStoreFrameFlags;

GST_MEMMAP_API
guint32 gst_memmap_store_frame_flags_from_buffer (GstBuffer * buffer);

GST_MEMMAP_API
void gst_memmap_store_frame_flags_to_buffer (guint32 flags,
    GstBuffer * buffer);

/**
 * GstMemmapStoreEntry:
 * @frame: the frame number (0 for the first frame ever committed)
 * @slot: the slot that holds the frame's bytes
 * @pts: presentation timestamp, or GST_CLOCK_TIME_NONE
 * @duration: duration, or GST_CLOCK_TIME_NONE
 * @flags: #GstMemmapStoreFrameFlags
 * @checksum: the XXH3-64 checksum of the frame's bytes, or 0 when the
 *   store keeps no checksums (gst_memmap_store_reader_has_checksums())
 *
 * One frame of a store's index, as the reader validated it.
 */
typedef struct
{
  guint64 frame;
  guint64 slot;
  GstClockTime pts;
  GstClockTime duration;
  guint32 flags;
  guint64 checksum;
} GstMemmapStoreEntry;

/**
 * GstMemmapStoreWriterFlags:
 * @GST_MEMMAP_STORE_WRITER_FLAG_NONE: create a new store, replacing any file
 *   at the path (atomically, by rename: readers of the old file keep it)
 * @GST_MEMMAP_STORE_WRITER_FLAG_REUSE: if the path holds a valid store with
 *   the same layout, mode and capacity, overwrite it in place (its frames
 *   are dropped, its reserved space is kept); otherwise create a new store
 * @GST_MEMMAP_STORE_WRITER_FLAG_SYNC: make every commit durable against
 *   power loss (msync of the frame and its index entry before the commit
 *   counter moves, and of the counter after); see
 *   gst_memmap_store_writer_set_sync()
 * @GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM: keep a checksum (XXH3-64) of
 *   every frame in its index entry, computed at commit; readers check it
 *   when they hand out the frame, and `gst-memmap verify` finds any byte
 *   of a frame changed since (format 1.1; since 0.2)
 *
 * How gst_memmap_store_writer_new_full() opens its file.
 *
 * Since: 0.1
 */
typedef enum
{
  GST_MEMMAP_STORE_WRITER_FLAG_NONE = 0,
  GST_MEMMAP_STORE_WRITER_FLAG_REUSE = (1 << 0),
  GST_MEMMAP_STORE_WRITER_FLAG_SYNC = (1 << 1),
  GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM = (1 << 2),
} GstMemmapStoreWriterFlags;

/**
 * GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS:
 *
 * The spare slots of a ring store when none are asked for: how many slots
 * may be acquired and not yet committed at once.
 *
 * Since: 0.1
 */
#define GST_MEMMAP_STORE_DEFAULT_SPARE_SLOTS 8

/**
 * GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES:
 *
 * The target size of one chunk of an append store (64 MiB). Unless the
 * writer is given a chunk size of its own, a chunk also holds at least
 * %GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS slots.
 *
 * Since: 0.1
 */
#define GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES (G_GUINT64_CONSTANT (64) << 20)

/**
 * GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS:
 *
 * The fewest slots in a chunk of an append store of the default chunk size
 * (16): with large frames, a chunk of %GST_MEMMAP_STORE_DEFAULT_CHUNK_BYTES
 * would hold only a few, and readers pay per chunk (one page of index to
 * fault in, one window to map).
 *
 * Since: 0.2
 */
#define GST_MEMMAP_STORE_DEFAULT_CHUNK_SLOTS 16

/**
 * GstMemmapStoreWriter:
 *
 * The writer of a frame store: a refcounted boxed type
 * (gst_memmap_store_writer_ref(), gst_memmap_store_writer_unref()). Not
 * thread-safe: one thread (the streaming thread) drives it, except
 * gst_memmap_store_writer_release_slot() which may be called from any
 * thread (buffers come back to a pool from anywhere); refs and unrefs are
 * thread-safe.
 *
 * Since: 0.1
 */
typedef struct _GstMemmapStoreWriter GstMemmapStoreWriter;

#define GST_TYPE_MEMMAP_STORE_WRITER (gst_memmap_store_writer_get_type ())
GST_MEMMAP_API
GType gst_memmap_store_writer_get_type (void);

GST_MEMMAP_API
GstMemmapStoreWriter *gst_memmap_store_writer_new (GstMemmapEngine * engine,
    const gchar * path, GstCaps * caps, const GstVideoInfo * layout,
    GstMemmapStoreMode mode, guint64 max_frames, GError ** error);

GST_MEMMAP_API
GstMemmapStoreWriter *gst_memmap_store_writer_new_full (
    GstMemmapEngine * engine, const gchar * path, GstCaps * caps,
    const GstVideoInfo * layout, GstMemmapStoreMode mode, guint64 max_frames,
    guint spare_slots, guint64 chunk_bytes, GstMemmapStoreWriterFlags flags,
    GError ** error);

GST_MEMMAP_API
const gchar *gst_memmap_store_writer_get_path (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
GstMemmapStoreMode gst_memmap_store_writer_get_mode (
    GstMemmapStoreWriter * writer);

GST_MEMMAP_API
guint64 gst_memmap_store_writer_get_max_frames (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
guint gst_memmap_store_writer_get_spare_slots (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_was_reused (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_is_full (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
void gst_memmap_store_writer_set_sync (GstMemmapStoreWriter * writer,
    gboolean sync);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_has_checksums (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_sync (GstMemmapStoreWriter * writer,
    GError ** error);

GST_MEMMAP_API
GstStructure *gst_memmap_store_writer_get_stats (
    GstMemmapStoreWriter * writer);

GST_MEMMAP_API
const GstVideoInfo *gst_memmap_store_writer_get_layout (
    GstMemmapStoreWriter * writer);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_acquire_slot (GstMemmapStoreWriter * writer,
    guint64 * slot, GError ** error);

GST_MEMMAP_API
void gst_memmap_store_writer_release_slot (GstMemmapStoreWriter * writer,
    guint64 slot);

GST_MEMMAP_API
GstMemory *gst_memmap_store_writer_get_slot_memory (
    GstMemmapStoreWriter * writer, GstAllocator * allocator, guint64 slot,
    GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_commit (GstMemmapStoreWriter * writer,
    guint64 slot, GstClockTime pts, GstClockTime duration, guint32 flags,
    GError ** error);

GST_MEMMAP_API
guint64 gst_memmap_store_writer_get_committed (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_write (GstMemmapStoreWriter * writer,
    const guint8 * data, gsize size, GstClockTime pts, GstClockTime duration,
    guint32 flags, GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_write_buffer (GstMemmapStoreWriter * writer,
    GstBuffer * buffer, GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_store_writer_close (GstMemmapStoreWriter * writer,
    GError ** error);

GST_MEMMAP_API
GstMemmapStoreWriter *gst_memmap_store_writer_ref (
    GstMemmapStoreWriter * writer);

GST_MEMMAP_API
void gst_memmap_store_writer_unref (GstMemmapStoreWriter * writer);

GST_MEMMAP_API
void gst_memmap_store_writer_free (GstMemmapStoreWriter * writer);

/**
 * GstMemmapStoreReader:
 *
 * A reader of a frame store: a refcounted boxed type
 * (gst_memmap_store_reader_ref(), gst_memmap_store_reader_unref()).
 * Thread-safe.
 *
 * Since: 0.1
 */
typedef struct _GstMemmapStoreReader GstMemmapStoreReader;

#define GST_TYPE_MEMMAP_STORE_READER (gst_memmap_store_reader_get_type ())
GST_MEMMAP_API
GType gst_memmap_store_reader_get_type (void);

GST_MEMMAP_API
GstMemmapStoreReader *gst_memmap_store_reader_open (GstMemmapEngine * engine,
    const gchar * path, GError ** error);

GST_MEMMAP_API
GstCaps *gst_memmap_store_reader_get_caps (GstMemmapStoreReader * reader);

GST_MEMMAP_API
const GstVideoInfo *gst_memmap_store_reader_get_layout (
    GstMemmapStoreReader * reader);

GST_MEMMAP_API
const gchar *gst_memmap_store_reader_get_path (GstMemmapStoreReader * reader);

GST_MEMMAP_API
guint64 gst_memmap_store_reader_get_max_frames (GstMemmapStoreReader * reader);

GST_MEMMAP_API
guint64 gst_memmap_store_reader_get_generation (GstMemmapStoreReader * reader);

GST_MEMMAP_API
GstMemmapStoreMode gst_memmap_store_reader_get_mode (
    GstMemmapStoreReader * reader);

GST_MEMMAP_API
guint64 gst_memmap_store_reader_get_committed (GstMemmapStoreReader * reader);

GST_MEMMAP_API
guint64 gst_memmap_store_reader_get_first_frame (GstMemmapStoreReader * reader);

GST_MEMMAP_API
gboolean gst_memmap_store_reader_is_closed (GstMemmapStoreReader * reader);

GST_MEMMAP_API
gboolean gst_memmap_store_reader_is_damaged (GstMemmapStoreReader * reader);

GST_MEMMAP_API
gboolean gst_memmap_store_reader_check (GstMemmapStoreReader * reader,
    GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_store_reader_has_checksums (GstMemmapStoreReader * reader);

GST_MEMMAP_API
void gst_memmap_store_reader_set_verify (GstMemmapStoreReader * reader,
    gboolean verify);

GST_MEMMAP_API
gboolean gst_memmap_store_reader_verify_frame (GstMemmapStoreReader * reader,
    guint64 frame, GError ** error);

GST_MEMMAP_API
gboolean gst_memmap_store_reader_get_entry (GstMemmapStoreReader * reader,
    guint64 frame, GstMemmapStoreEntry * entry, GError ** error);

GST_MEMMAP_API
GstBuffer *gst_memmap_store_reader_get_buffer (GstMemmapStoreReader * reader,
    GstAllocator * allocator, guint64 frame, GError ** error);

GST_MEMMAP_API
GstStructure *gst_memmap_store_reader_get_info (GstMemmapStoreReader * reader,
    GError ** error);

GST_MEMMAP_API
GstMemmapStoreReader *gst_memmap_store_reader_ref (
    GstMemmapStoreReader * reader);

GST_MEMMAP_API
void gst_memmap_store_reader_unref (GstMemmapStoreReader * reader);

GST_MEMMAP_API
void gst_memmap_store_reader_free (GstMemmapStoreReader * reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMemmapStoreWriter,
    gst_memmap_store_writer_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstMemmapStoreReader,
    gst_memmap_store_reader_unref)

G_END_DECLS
