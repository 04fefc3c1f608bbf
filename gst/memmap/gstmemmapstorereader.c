/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:gstmemmapstorereader
 * @title: GstMemmapStoreReader
 * @short_description: reads video frames from an on-disk frame store
 *
 * A #GstMemmapStoreReader opens a frame store (docs/store-format.md), closed
 * or still being written, and returns its frames as zero-copy #GstBuffers:
 * one read-only memmap memory over the frame's bytes in the file, with the
 * timestamps of the index and a #GstVideoMeta of the store's layout.
 *
 * Nothing in the file is trusted: gst_memmap_store_reader_open() checks
 * every field of the header against the others and against the file's real
 * size with overflow-checked arithmetic, and every index entry is checked
 * when it is read. A hostile or truncated file is a #GError
 * (%GST_MEMMAP_ERROR_CORRUPT, %GST_MEMMAP_ERROR_VERSION, ...) naming the
 * file, never a crash.
 *
 * The committed counter is re-read (acquire ordering) by every call that
 * needs it, so a reader follows a store that is still growing. In a ring,
 * frames older than the newest max-frames are gone; a buffer of a ring frame
 * that has since left the ring may see its bytes overwritten by a newer
 * frame, so users that keep ring buffers check afterwards that
 * the frame is still >= gst_memmap_store_reader_get_first_frame().
 *
 * All functions are thread-safe. The reader is a refcounted boxed type
 * (gst_memmap_store_reader_ref(), gst_memmap_store_reader_unref()), so
 * bindings can use it: `GstMemmap.StoreReader.open (engine, path)` in
 * Python. The buffers it returns hold the mappings they need, not the
 * reader: they outlive its last reference.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"
#include "gstmemmapstoresync.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

struct _GstMemmapStoreReader
{
  gint refcount;                /* atomic */

  /* constant after open */
  GstMemmapEngine *engine;
  gchar *path;
  gint fd;
  GstMemmapStoreGeometry geo;
  GstCaps *caps;
  GstVideoInfo info;
  GstMemmapMapping *header_map;
  const GstMemmapStoreHeader *hdr;      /* inside header_map */
  gboolean checksums;           /* the entries hold checksums */

  GMutex lock;
  /* under lock */
  GstMemmapStoreMaps maps;
  GstAllocator *allocator;
  guint64 committed;            /* last valid value read */
  guint64 chunks_reserved;      /* last valid value read */
  gboolean verify;              /* check checksums in get_buffer */
};

G_DEFINE_BOXED_TYPE (GstMemmapStoreReader, gst_memmap_store_reader,
    gst_memmap_store_reader_ref, gst_memmap_store_reader_unref);

static void
set_damaged_error (GstMemmapStoreReader * self, GError ** error)
{
  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_TRUNCATED,
      "Frame store '%s' is damaged: its writer found it truncated by "
      "another program while it wrote it, and its frames may hold zeros "
      "where the file's bytes were", self->path);
}

/**
 * gst_memmap_store_reader_open: (constructor)
 * @engine: the #GstMemmapEngine that maps the store
 * @path: (type filename): a frame store file
 * @error: return location for a #GError, or %NULL
 *
 * Opens a frame store for reading and validates its header.
 *
 * Errors: %GST_MEMMAP_ERROR_NOT_FOUND (and the other errno codes) when the
 * file cannot be opened, %GST_MEMMAP_ERROR_VERSION for a store of another
 * major format version, %GST_MEMMAP_ERROR_CORRUPT for anything else that is
 * not a valid store (too short, bad magic, inconsistent or hostile sizes,
 * caps, layout or counters).
 *
 * Returns: (transfer full) (nullable): a reader, or %NULL with @error set
 *
 * Since: 0.1
 */
GstMemmapStoreReader *
gst_memmap_store_reader_open (GstMemmapEngine * engine, const gchar * path,
    GError ** error)
{
  GstMemmapStoreReader *self;
  GstMemmapStoreHeader hdr;
  GError *err = NULL;
  guint64 file_size;
  gint fd = -1;

  g_return_val_if_fail (GST_IS_MEMMAP_ENGINE (engine), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!gst_memmap_store_read_header (engine, path, &fd, &hdr, &file_size,
          error))
    return NULL;

  self = g_new0 (GstMemmapStoreReader, 1);
  self->refcount = 1;
  self->engine = gst_object_ref (engine);
  self->path = g_strdup (path);
  self->fd = fd;
  g_mutex_init (&self->lock);

  /* everything below works on our private copy of the header, read once:
   * the shared one may change under us */
  if (!gst_memmap_store_header_parse (&hdr, file_size, path, &self->geo,
          &self->caps, &self->info, &err)) {
    /* a store its writer found cut short and marked: say that, not that
     * the sizes do not add up */
    if (GUINT32_FROM_LE (hdr.state) == GST_MEMMAP_STORE_STATE_DAMAGED) {
      g_clear_error (&err);
      set_damaged_error (self, &err);
    }
    g_propagate_error (error, err);
    goto failed;
  }
  self->committed = GUINT64_FROM_LE (hdr.committed);
  self->chunks_reserved = GUINT64_FROM_LE (hdr.chunks_reserved);
  /* a 1.0 store has 0 there; unknown bits are a later minor version's */
  self->checksums = (GUINT32_FROM_LE (hdr.flags) &
      GST_MEMMAP_STORE_HEADER_FLAG_CHECKSUMS) != 0;
  self->verify = TRUE;

  /* the maps keep the path pointer: give them our copy, not the caller's */
  if (!gst_memmap_store_maps_init (&self->maps, engine, self->path, fd,
          &self->geo, GST_MEMMAP_MAP_VOLATILE, error))
    goto failed;
  self->hdr = gst_memmap_store_maps_ref_header (&self->maps,
      &self->header_map, error);
  if (self->hdr == NULL)
    goto failed;

  GST_INFO ("opened frame store %s: %s %ux%u, %s, %" G_GUINT64_FORMAT
      " frames committed", path, self->geo.format, self->geo.width,
      self->geo.height, self->geo.mode == GST_MEMMAP_STORE_MODE_RING ?
      "ring" : "append", self->committed);

  return self;

failed:
  gst_memmap_store_reader_unref (self);
  return NULL;
}

/* Re-reads the live counters; keeps the last valid values if the new ones
 * do not hold up. Under lock. */
static void
refresh (GstMemmapStoreReader * self)
{
  GError *err = NULL;
  guint64 committed, chunks, file_size = G_MAXUINT64;
  struct stat st;

  /* committed first: the writer publishes a chunk before it commits a frame
   * in it, so the chunk count read after is at least as new */
  committed = gst_memmap_store_load_u64 (&self->hdr->committed);
  chunks = gst_memmap_store_load_u64 (&self->hdr->chunks_reserved);

  if (chunks != self->chunks_reserved) {
    if (fstat (self->fd, &st) < 0) {
      GST_WARNING ("%s: %s", self->path, g_strerror (errno));
      return;
    }
    file_size = st.st_size;
  } else {
    /* validated before against the file size */
    file_size = G_MAXINT64;
  }

  if (!gst_memmap_store_check_live (&self->geo, chunks, committed, file_size,
          self->path, &err)) {
    GST_WARNING ("%s", err->message);
    g_clear_error (&err);
    return;
  }
  self->committed = committed;
  self->chunks_reserved = chunks;
}

/**
 * gst_memmap_store_reader_get_caps:
 * @reader: a #GstMemmapStoreReader
 *
 * Gets the caps of the store's frames, as the writer recorded them.
 *
 * Returns: (transfer full): the caps of the frames
 *
 * Since: 0.1
 */
GstCaps *
gst_memmap_store_reader_get_caps (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, NULL);

  return gst_caps_ref (reader->caps);
}

/**
 * gst_memmap_store_reader_get_layout:
 * @reader: a #GstMemmapStoreReader
 *
 * Gets the layout of the store's frames: plane offsets and strides of every
 * slot.
 *
 * Returns: (transfer none): the frame layout: the caps' video info with the
 *   store's plane offsets, strides and frame size
 *
 * Since: 0.1
 */
const GstVideoInfo *
gst_memmap_store_reader_get_layout (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, NULL);

  return &reader->info;
}

/**
 * gst_memmap_store_reader_get_path:
 * @reader: a #GstMemmapStoreReader
 *
 * Gets the path of the store.
 *
 * Returns: (transfer none) (type filename): the store's path
 *
 * Since: 0.1
 */
const gchar *
gst_memmap_store_reader_get_path (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, NULL);

  return reader->path;
}

/* for GstMemmapStoreSession: the file the reader validated */
gint
gst_memmap_store_reader_get_fd (GstMemmapStoreReader * reader)
{
  return reader->fd;
}

guint64
gst_memmap_store_reader_get_spare_slots (GstMemmapStoreReader * reader)
{
  if (reader->geo.mode != GST_MEMMAP_STORE_MODE_RING)
    return 0;
  /* validated at open: slots_per_chunk > entries_per_chunk == max_frames */
  return reader->geo.slots_per_chunk - reader->geo.max_frames;
}

/**
 * gst_memmap_store_reader_get_mode:
 * @reader: a #GstMemmapStoreReader
 *
 * Gets the store's mode, append or ring.
 *
 * Returns: the store's mode
 *
 * Since: 0.1
 */
GstMemmapStoreMode
gst_memmap_store_reader_get_mode (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, GST_MEMMAP_STORE_MODE_APPEND);

  return reader->geo.mode;
}

/**
 * gst_memmap_store_reader_get_max_frames:
 * @reader: a #GstMemmapStoreReader
 *
 * Gets the store's frame limit.
 *
 * Returns: the ring's capacity, or the append store's frame limit (0: none)
 *
 * Since: 0.1
 */
guint64
gst_memmap_store_reader_get_max_frames (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, 0);

  return reader->geo.max_frames;
}

/**
 * gst_memmap_store_reader_get_generation:
 * @reader: a #GstMemmapStoreReader
 *
 * The store's generation grows by one every time a writer reuses the file
 * in place (%GST_MEMMAP_STORE_WRITER_FLAG_REUSE), which drops its frames
 * and starts over: a reader that sees it change knows that frame numbers
 * now name other frames.
 *
 * Returns: the store's current generation (1 for a store never reused)
 *
 * Since: 0.1
 */
guint64
gst_memmap_store_reader_get_generation (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, 0);

  return gst_memmap_store_load_u64 (&reader->hdr->generation);
}

/**
 * gst_memmap_store_reader_get_committed:
 * @reader: a #GstMemmapStoreReader
 *
 * Re-reads the store's committed counter.
 *
 * Returns: how many frames were ever committed: frames below this number
 *   can be read (in a ring, only the newest max-frames of them)
 *
 * Since: 0.1
 */
guint64
gst_memmap_store_reader_get_committed (GstMemmapStoreReader * reader)
{
  guint64 ret;

  g_return_val_if_fail (reader != NULL, 0);

  g_mutex_lock (&reader->lock);
  refresh (reader);
  ret = reader->committed;
  g_mutex_unlock (&reader->lock);

  return ret;
}

static guint64
first_frame (GstMemmapStoreReader * self)
{
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING &&
      self->committed > self->geo.max_frames)
    return self->committed - self->geo.max_frames;
  return 0;
}

/**
 * gst_memmap_store_reader_get_first_frame:
 * @reader: a #GstMemmapStoreReader
 *
 * Gets the number of the oldest frame that the store still holds.
 *
 * Returns: the oldest frame that can be read: 0 in append mode, committed
 *   minus max-frames in a ring that wrapped
 *
 * Since: 0.1
 */
guint64
gst_memmap_store_reader_get_first_frame (GstMemmapStoreReader * reader)
{
  guint64 ret;

  g_return_val_if_fail (reader != NULL, 0);

  g_mutex_lock (&reader->lock);
  refresh (reader);
  ret = first_frame (reader);
  g_mutex_unlock (&reader->lock);

  return ret;
}

/**
 * gst_memmap_store_reader_is_closed:
 * @reader: a #GstMemmapStoreReader
 *
 * Tells whether the store's writer closed it cleanly.
 *
 * Returns: %TRUE if the writer closed the store cleanly; %FALSE while it is
 *   being written, or if its writer died
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_reader_is_closed (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, FALSE);

  return gst_memmap_store_load_u32 (&reader->hdr->state) ==
      GST_MEMMAP_STORE_STATE_CLOSED;
}

/**
 * gst_memmap_store_reader_is_damaged:
 * @reader: a #GstMemmapStoreReader
 *
 * A writer that finds its store truncated by another program stops and
 * marks it damaged: its frames may hold zeros where the file's bytes were,
 * and the reader refuses them (%GST_MEMMAP_ERROR_TRUNCATED).
 *
 * Returns: %TRUE if the store's writer marked it damaged
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_reader_is_damaged (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, FALSE);

  return gst_memmap_store_load_u32 (&reader->hdr->state) ==
      GST_MEMMAP_STORE_STATE_DAMAGED;
}

/**
 * gst_memmap_store_reader_check:
 * @reader: a #GstMemmapStoreReader
 * @error: return location for a #GError, or %NULL
 *
 * Checks that the store was not truncated under the reader by another
 * program since it was opened: that no page of the reader's mappings was
 * lost (the fault guard counts them), that the file still holds the
 * chunks that the reader saw reserved (or as many as the header says now,
 * if fewer), and that its writer did not mark it damaged
 * (gst_memmap_store_reader_is_damaged()). Costs one fstat(). Call it to
 * tell a truncation from other changes when the header suddenly reads
 * differently (zeros), and before taking the end of a store for its end.
 *
 * Fails with %GST_MEMMAP_ERROR_TRUNCATED, naming the file.
 *
 * Returns: %TRUE if the store is whole as far as the reader can tell
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_reader_check (GstMemmapStoreReader * reader, GError ** error)
{
  guint64 chunks, end;
  gboolean ret;

  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&reader->lock);
  chunks = MIN (reader->chunks_reserved,
      gst_memmap_store_load_u64 (&reader->hdr->chunks_reserved));
  /* no overflow: chunks_reserved was checked against the file's size */
  end = MAX (GST_MEMMAP_STORE_HEADER_SIZE, reader->geo.data_offset +
      chunks * reader->geo.chunk_stride);
  ret = gst_memmap_mapping_check (reader->header_map, error) &&
      gst_memmap_store_maps_check (&reader->maps, end, error);
  if (ret && gst_memmap_store_load_u32 (&reader->hdr->state) ==
      GST_MEMMAP_STORE_STATE_DAMAGED) {
    set_damaged_error (reader, error);
    ret = FALSE;
  }
  g_mutex_unlock (&reader->lock);

  return ret;
}

/* An index entry as read: its frame_seq before (s1) and after (s2) the
 * other fields, as the reading side of the writer's seqlock reads them. */
typedef struct
{
  guint64 s1, s2;
  guint64 slot, pts, duration, sum;
  guint32 flags;
} EntryRead;

static void
entry_read (GstMemmapStoreIndexEntry * e, EntryRead * r)
{
  r->s1 = gst_memmap_store_load_u64 (&e->frame_seq);
  r->slot = gst_memmap_store_load_u64_relaxed (&e->slot);
  r->pts = gst_memmap_store_load_u64_relaxed (&e->pts);
  r->duration = gst_memmap_store_load_u64_relaxed (&e->duration);
  r->flags = GUINT32_FROM_LE (__atomic_load_n (&e->flags, __ATOMIC_RELAXED));
  r->sum = gst_memmap_store_load_u64_relaxed (&e->checksum);
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  r->s2 = gst_memmap_store_load_u64_relaxed (&e->frame_seq);
}

/* The slots a frame of the store may be in. Under lock. */
static guint64
slot_count (GstMemmapStoreReader * self)
{
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING)
    return self->geo.slots_per_chunk;
  /* no overflow: checked against the file size. Not capped by max-frames:
   * that bounds the frames, and a writer whose producer held slots it
   * never committed puts frames in slots past it (in a chunk reserved for
   * them, docs/store-format.md) */
  return self->chunks_reserved * self->geo.slots_per_chunk;
}

/* Under lock. */
static gboolean
read_one_entry (GstMemmapStoreReader * self, guint64 frame,
    GstMemmapStoreEntry * entry, GError ** error)
{
  const GstMemmapStoreGeometry *geo = &self->geo;
  GstMemmapStoreIndexEntry *e;
  GstMemmapMapping *m;
  guint64 offset, expected, seen, n_slots;
  EntryRead r;

  refresh (self);
  if (gst_memmap_store_load_u32 (&self->hdr->state) ==
      GST_MEMMAP_STORE_STATE_DAMAGED)
    goto damaged;
  if (frame >= self->committed)
    goto not_committed;
  if (frame < first_frame (self))
    goto overwritten;

  /* frame < committed <= chunks_reserved * entries_per_chunk (append) or
   * in the one chunk (ring): the entry is in a reserved chunk */
  offset = gst_memmap_store_entry_offset (geo, frame);
  m = gst_memmap_store_maps_get (&self->maps, offset,
      GST_MEMMAP_STORE_ENTRY_SIZE, error);
  if (m == NULL)
    return FALSE;
  e = (GstMemmapStoreIndexEntry *) gst_memmap_mapping_data_at (m, offset,
      GST_MEMMAP_STORE_ENTRY_SIZE);

  /* the reading side of the writer's seqlock */
  expected = frame + 1;
  entry_read (e, &r);

  /* an entry cut off by a truncation under us reads as zeros: say what
   * happened rather than that the index is corrupt */
  if (!gst_memmap_mapping_check (m, error))
    return FALSE;

  if (r.s1 != expected || r.s2 != expected) {
    seen = (r.s1 != expected ? r.s1 : r.s2) & ~GST_MEMMAP_STORE_SEQ_BUSY;
    /* in a ring, a newer frame at the same entry: the writer overwrote it
     * after we read the counter */
    if (geo->mode == GST_MEMMAP_STORE_MODE_RING && seen > expected &&
        (seen - expected) % geo->max_frames == 0)
      goto overwritten;
    goto bad_seq;
  }

  n_slots = slot_count (self);
  if (r.slot >= n_slots)
    goto bad_slot;
  if ((r.pts != GST_CLOCK_TIME_NONE && r.pts > G_MAXINT64) ||
      (r.duration != GST_CLOCK_TIME_NONE && r.duration > G_MAXINT64))
    goto bad_time;

  entry->frame = frame;
  entry->slot = r.slot;
  entry->pts = r.pts;
  entry->duration = r.duration;
  /* unknown flags are a later minor version's: ignored */
  entry->flags = r.flags & GST_MEMMAP_STORE_FRAME_FLAGS_KNOWN;
  entry->checksum = self->checksums ? r.sum : 0;
  return TRUE;

  /* ERRORS */
damaged:
  {
    set_damaged_error (self, error);
    return FALSE;
  }
not_committed:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': frame %" G_GUINT64_FORMAT " is not committed (%"
        G_GUINT64_FORMAT " frames)", self->path, frame, self->committed);
    return FALSE;
  }
overwritten:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
        "Frame store '%s': frame %" G_GUINT64_FORMAT " was overwritten (the "
        "ring holds the last %" G_GUINT64_FORMAT " frames)", self->path, frame,
        geo->max_frames);
    return FALSE;
  }
bad_seq:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "Frame store '%s': the index entry of frame %" G_GUINT64_FORMAT
        " holds frame sequence %" G_GUINT64_FORMAT ", expected %"
        G_GUINT64_FORMAT, self->path, frame, r.s1 != expected ? r.s1 : r.s2,
        expected);
    return FALSE;
  }
bad_slot:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "Frame store '%s': frame %" G_GUINT64_FORMAT " points to slot %"
        G_GUINT64_FORMAT " past the %" G_GUINT64_FORMAT " slots of the file",
        self->path, frame, r.slot, n_slots);
    return FALSE;
  }
bad_time:
  {
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
        "Frame store '%s': frame %" G_GUINT64_FORMAT " has an invalid "
        "timestamp or duration", self->path, frame);
    return FALSE;
  }
}

/* Under lock: reads the entry of @frame, and checks it against the frame
 * before (when that one can still be read): in a store, timestamps never go
 * back except at a frame flagged DISCONT (the writer sets that flag itself
 * on a frame whose pts is below the previous one's). Seeking depends on
 * it, and a corrupt pts breaks it. */
static gboolean
read_entry (GstMemmapStoreReader * self, guint64 frame,
    GstMemmapStoreEntry * entry, GError ** error)
{
  GstMemmapStoreEntry prev;

  if (!read_one_entry (self, frame, entry, error))
    return FALSE;
  if (frame == 0 || !GST_CLOCK_TIME_IS_VALID (entry->pts) ||
      (entry->flags & GST_MEMMAP_STORE_FRAME_DISCONT) ||
      frame - 1 < first_frame (self))
    return TRUE;
  /* an entry before that cannot be read is its own frame's error */
  if (!read_one_entry (self, frame - 1, &prev, NULL) ||
      !GST_CLOCK_TIME_IS_VALID (prev.pts) || prev.pts <= entry->pts)
    return TRUE;

  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
      "Frame store '%s': frame %" G_GUINT64_FORMAT " has pts %"
      GST_TIME_FORMAT ", before the pts %" GST_TIME_FORMAT " of frame %"
      G_GUINT64_FORMAT " (timestamps go back only at a discontinuity)",
      self->path, frame, GST_TIME_ARGS (entry->pts), GST_TIME_ARGS (prev.pts),
      frame - 1);
  return FALSE;
}

/**
 * gst_memmap_store_reader_get_entry:
 * @reader: a #GstMemmapStoreReader
 * @frame: a frame number
 * @entry: (out caller-allocates): the frame's index entry
 * @error: return location for a #GError, or %NULL
 *
 * Reads and validates the index entry of @frame.
 *
 * Fails with %GST_MEMMAP_ERROR_INVALID_ARGUMENT for a frame that is not
 * committed or, in a ring, was overwritten, and with
 * %GST_MEMMAP_ERROR_CORRUPT for an entry that does not hold up (wrong
 * frame sequence, slot outside the file, invalid timestamps).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
gst_memmap_store_reader_get_entry (GstMemmapStoreReader * reader,
    guint64 frame, GstMemmapStoreEntry * entry, GError ** error)
{
  gboolean ret;

  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (entry != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&reader->lock);
  ret = read_entry (reader, frame, entry, error);
  g_mutex_unlock (&reader->lock);

  return ret;
}

/* Under lock: checks the bytes of @entry's frame, at @offset in @m, against
 * its checksum. A ring frame that was overwritten while we read it is
 * reported as overwritten, not as corrupt. */
static gboolean
check_sum (GstMemmapStoreReader * self, GstMemmapMapping * m, guint64 offset,
    const GstMemmapStoreEntry * entry, GError ** error)
{
  GstMemmapStoreEntry again;
  const guint8 *data;
  guint64 sum;

  data = gst_memmap_mapping_data_at (m, offset, self->geo.frame_size);
  sum = gst_memmap_store_checksum (data, self->geo.frame_size);
  if (!gst_memmap_mapping_check (m, error))
    return FALSE;
  if (sum == entry->checksum)
    return TRUE;

  /* the reads of the bytes before the re-read of the entry */
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (self->geo.mode == GST_MEMMAP_STORE_MODE_RING &&
      (!read_entry (self, entry->frame, &again, error) ||
          again.slot != entry->slot)) {
    if (error && *error == NULL)
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_INVALID_ARGUMENT,
          "Frame store '%s': frame %" G_GUINT64_FORMAT " was overwritten",
          self->path, entry->frame);
    return FALSE;
  }
  g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
      "Frame store '%s': the bytes of frame %" G_GUINT64_FORMAT " (slot %"
      G_GUINT64_FORMAT ") do not match its checksum (%016" G_GINT64_MODIFIER
      "x, expected %016" G_GINT64_MODIFIER "x): the frame was changed "
      "after it was written", self->path, entry->frame, entry->slot, sum,
      entry->checksum);
  return FALSE;
}

/**
 * gst_memmap_store_reader_has_checksums:
 * @reader: a #GstMemmapStoreReader
 *
 * Tells whether the store keeps a checksum of every frame (header flag bit
 * 0, docs/store-format.md): then gst_memmap_store_reader_get_buffer()
 * checks every frame it hands out.
 *
 * Returns: %TRUE if the store keeps a checksum of every frame (written
 *   with %GST_MEMMAP_STORE_WRITER_FLAG_CHECKSUM, format 1.1)
 *
 * Since: 0.2
 */
gboolean
gst_memmap_store_reader_has_checksums (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, FALSE);

  return reader->checksums;
}

/**
 * gst_memmap_store_reader_set_verify:
 * @reader: a #GstMemmapStoreReader
 * @verify: whether gst_memmap_store_reader_get_buffer() checks checksums
 *
 * In a store with checksums, gst_memmap_store_reader_get_buffer() reads
 * every frame it hands out once and compares it with its checksum (on by
 * default): a frame changed since it was written is an error, never a
 * silent frame. Turn it off only when the bytes are checked elsewhere.
 *
 * Since: 0.2
 */
void
gst_memmap_store_reader_set_verify (GstMemmapStoreReader * reader,
    gboolean verify)
{
  g_return_if_fail (reader != NULL);

  g_mutex_lock (&reader->lock);
  reader->verify = verify;
  g_mutex_unlock (&reader->lock);
}

/**
 * gst_memmap_store_reader_verify_frame:
 * @reader: a #GstMemmapStoreReader
 * @frame: a frame number
 * @error: return location for a #GError, or %NULL
 *
 * Reads @frame's index entry and, in a store with checksums, all its bytes,
 * and compares them with the entry's checksum. In a store without
 * checksums only the entry is checked.
 *
 * Errors are those of gst_memmap_store_reader_get_entry(), and
 * %GST_MEMMAP_ERROR_CORRUPT for bytes that do not match their checksum.
 *
 * Returns: %TRUE if the frame is intact
 *
 * Since: 0.2
 */
gboolean
gst_memmap_store_reader_verify_frame (GstMemmapStoreReader * reader,
    guint64 frame, GError ** error)
{
  GstMemmapStoreEntry entry;
  GstMemmapMapping *m;
  guint64 offset;
  gboolean ret = FALSE;

  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&reader->lock);
  if (!read_entry (reader, frame, &entry, error))
    goto out;
  if (!reader->checksums) {
    ret = TRUE;
    goto out;
  }
  offset = gst_memmap_store_slot_offset (&reader->geo, entry.slot);
  m = gst_memmap_store_maps_get (&reader->maps, offset,
      reader->geo.frame_size, error);
  if (m == NULL)
    goto out;
  ret = check_sum (reader, m, offset, &entry, error);
out:
  g_mutex_unlock (&reader->lock);
  return ret;
}

/**
 * gst_memmap_store_reader_get_buffer:
 * @reader: a #GstMemmapStoreReader
 * @allocator: (nullable): a #GstMemmapAllocator, or %NULL for the reader's
 * @frame: a frame number
 * @error: return location for a #GError, or %NULL
 *
 * Returns @frame as a zero-copy buffer: one read-only memmap memory over
 * the frame's bytes in the store (the buffer keeps them mapped however long
 * it lives, also after the reader is freed), PTS and duration from the
 * index, offset @frame and offset-end @frame + 1, the DISCONT flag of the
 * index, the buffer flags the index records
 * (gst_memmap_store_frame_flags_to_buffer(): DISCONT, the field flags,
 * CORRUPTED, GAP), and a #GstVideoMeta with the store's plane offsets and
 * strides. In a store with checksums the frame's bytes are checked first
 * (see gst_memmap_store_reader_set_verify()).
 *
 * Errors are those of gst_memmap_store_reader_get_entry(), and
 * %GST_MEMMAP_ERROR_CORRUPT for a frame whose bytes do not match their
 * checksum.
 *
 * Returns: (transfer full) (nullable): the buffer, or %NULL with @error set
 *
 * Since: 0.1
 */
GstBuffer *
gst_memmap_store_reader_get_buffer (GstMemmapStoreReader * reader,
    GstAllocator * allocator, guint64 frame, GError ** error)
{
  GstMemmapStoreReader *self = reader;
  GstMemmapStoreEntry entry;
  GstMemmapMapping *m;
  GstMemory *mem = NULL;
  GstBuffer *buf;
  gsize offsets[GST_VIDEO_MAX_PLANES] = { 0, };
  gint strides[GST_VIDEO_MAX_PLANES] = { 0, };
  guint64 offset;
  guint p;

  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (allocator == NULL ||
      GST_IS_MEMMAP_ALLOCATOR (allocator), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->lock);
  if (!read_entry (self, frame, &entry, error))
    goto out;

  if (allocator == NULL) {
    if (self->allocator == NULL)
      self->allocator = gst_memmap_allocator_new ();
    allocator = self->allocator;
  }

  /* the slot was checked to lie in a reserved chunk */
  offset = gst_memmap_store_slot_offset (&self->geo, entry.slot);
  m = gst_memmap_store_maps_get (&self->maps, offset, self->geo.frame_size,
      error);
  if (m == NULL)
    goto out;
  /* the bytes are read downstream, outside our code: hand out nothing that
   * a truncation by another program has taken away */
  if (!gst_memmap_store_maps_check (&self->maps, offset + self->geo.frame_size,
          error))
    goto out;
  if (self->checksums && self->verify &&
      !check_sum (self, m, offset, &entry, error))
    goto out;
  mem = gst_memmap_allocator_wrap (allocator, m, offset, self->geo.frame_size);
  if (mem == NULL)
    g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_IO,
        "Frame store '%s': could not wrap frame %" G_GUINT64_FORMAT,
        self->path, frame);

out:
  g_mutex_unlock (&self->lock);
  if (mem == NULL)
    return NULL;

  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  GST_BUFFER_PTS (buf) = entry.pts;
  GST_BUFFER_DURATION (buf) = entry.duration;
  GST_BUFFER_OFFSET (buf) = frame;
  GST_BUFFER_OFFSET_END (buf) = frame + 1;
  gst_memmap_store_frame_flags_to_buffer (entry.flags, buf);

  for (p = 0; p < GST_VIDEO_INFO_N_PLANES (&self->info); p++) {
    offsets[p] = GST_VIDEO_INFO_PLANE_OFFSET (&self->info, p);
    strides[p] = GST_VIDEO_INFO_PLANE_STRIDE (&self->info, p);
  }
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (&self->info), GST_VIDEO_INFO_WIDTH (&self->info),
      GST_VIDEO_INFO_HEIGHT (&self->info),
      GST_VIDEO_INFO_N_PLANES (&self->info), offsets, strides);

  return buf;
}

/**
 * gst_memmap_store_reader_ref:
 * @reader: a #GstMemmapStoreReader
 *
 * Adds a reference to @reader. Thread-safe.
 *
 * Returns: (transfer full): @reader
 *
 * Since: 0.2
 */
GstMemmapStoreReader *
gst_memmap_store_reader_ref (GstMemmapStoreReader * reader)
{
  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (g_atomic_int_get (&reader->refcount) > 0, NULL);

  g_atomic_int_inc (&reader->refcount);
  return reader;
}

/**
 * gst_memmap_store_reader_unref:
 * @reader: (transfer full) (nullable): a #GstMemmapStoreReader
 *
 * Drops a reference to @reader; the last one closes the file and frees the
 * reader. Buffers it returned stay valid: they hold the mappings, not the
 * reader. Thread-safe.
 *
 * Since: 0.2
 */
void
gst_memmap_store_reader_unref (GstMemmapStoreReader * reader)
{
  if (reader == NULL)
    return;
  g_return_if_fail (g_atomic_int_get (&reader->refcount) > 0);

  if (!g_atomic_int_dec_and_test (&reader->refcount))
    return;

  g_clear_pointer (&reader->header_map, gst_memmap_mapping_unref);
  gst_memmap_store_maps_clear (&reader->maps);
  g_clear_object (&reader->allocator);
  if (reader->fd >= 0)
    close (reader->fd);
  gst_clear_caps (&reader->caps);
  gst_object_unref (reader->engine);
  g_free (reader->path);
  g_mutex_clear (&reader->lock);
  g_free (reader);
}

/**
 * gst_memmap_store_reader_free: (skip)
 * @reader: (transfer full) (nullable): a #GstMemmapStoreReader
 *
 * Same as gst_memmap_store_reader_unref(): from the time the reader was a
 * plain struct, kept for the callers of 0.1.
 *
 * Since: 0.1
 *
 * Deprecated: 0.2: Use gst_memmap_store_reader_unref().
 */
void
gst_memmap_store_reader_free (GstMemmapStoreReader * reader)
{
  gst_memmap_store_reader_unref (reader);
}
