/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memmapcache: the stream's entry in the cache directory. Its identity
 * (the key), opening it (its stores mapped into the map of cached frames,
 * its GOP file), finding the decoder to watch, closing it. Under the
 * stream lock. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcacheprivate.h"
#include "gstmemmapcontext.h"

#include <gst/memmap/gstmemmapvideo.h>

#include <sys/stat.h>

#define GST_CAT_DEFAULT gst_memmap_cache_debug

/* ------------------------------------------------------------------------ */
/* the map of cached frames, under the stream lock                          */

/* The index of the first frame whose pts is >= @t (the length if none). */
guint
gst_memmap_cache_first_frame_from (GstMemmapCache * self, GstClockTime t)
{
  guint lo = 0, hi = self->frames->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;

    if (g_array_index (self->frames, CachedFrame, mid).pts < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The frame of pts @pts, or -1. */
gint
gst_memmap_cache_find_frame (GstMemmapCache * self, GstClockTime pts)
{
  guint i = gst_memmap_cache_first_frame_from (self, pts);

  if (i < self->frames->len &&
      g_array_index (self->frames, CachedFrame, i).pts == pts)
    return (gint) i;
  return -1;
}
void
gst_memmap_cache_insert_frame (GstMemmapCache * self, const CachedFrame * frame)
{
  guint i = gst_memmap_cache_first_frame_from (self, frame->pts);

  g_array_insert_val (self->frames, i, *frame);
}

/* How many frames have a pts in [@first, @last]. */
static guint64
count_frames (GstMemmapCache * self, GstClockTime first, GstClockTime last)
{
  return gst_memmap_cache_first_frame_from (self,
      last + 1) - gst_memmap_cache_first_frame_from (self, first);
}

/* Closes what the stream opened; the map and its readers stay until
 * gst_memmap_cache_clear_map().
 *
 * The budget is enforced before the entry closes, with the entry kept (and
 * still locked): the stream just played is the most recently used, and
 * evicting it at its own close would throw away what was just recorded
 * (its last chunk is reserved whole and counts on disk, so a recording
 * that ends near max-size is often over it). */
void
gst_memmap_cache_close (GstMemmapCache * self)
{
  gst_memmap_cache_save_gops (self);
  if (self->store) {
    guint64 committed;

    gst_memmap_slot_store_close (self->store, NULL);
    committed = gst_memmap_slot_store_get_committed (self->store);
    g_clear_pointer (&self->store, gst_memmap_slot_store_unref);
    if (committed == 0 && self->entry)
      gst_memmap_cache_entry_remove_store (self->entry, self->store_path);
    GST_INFO_OBJECT (self, "recorded %" G_GUINT64_FORMAT " frames in %s",
        committed, self->store_path);
  }
  g_clear_pointer (&self->store_path, g_free);
  if (self->entry) {
    gst_memmap_cache_update_disk_usage (self, 0);
    if (self->dir && self->bytes_on_disk > self->cur.max_size) {
      guint64 own = gst_memmap_cache_entry_get_usage (self->entry);

      if (own > self->cur.max_size)
        GST_WARNING_OBJECT (self, "%s alone takes %" G_GUINT64_FORMAT
            " bytes on disk, over max-size=%" G_GUINT64_FORMAT ": kept "
            "until another stream needs the room",
            gst_memmap_cache_entry_get_path (self->entry), own,
            self->cur.max_size);
      else
        GST_INFO_OBJECT (self, "%" G_GUINT64_FORMAT " bytes on disk, over "
            "max-size=%" G_GUINT64_FORMAT ": what is in use stays, and so "
            "does %s, just closed (%" G_GUINT64_FORMAT " bytes)",
            self->bytes_on_disk, self->cur.max_size,
            gst_memmap_cache_entry_get_path (self->entry), own);
    }
    g_clear_pointer (&self->entry, gst_memmap_cache_entry_close);
  }
}
void
gst_memmap_cache_clear_map (GstMemmapCache * self)
{
  GPtrArray *readers;

  g_array_set_size (self->frames, 0);
  readers = self->readers;
  self->readers = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_memmap_store_reader_unref);
  self->meta.start = self->meta.end = GST_CLOCK_TIME_NONE;
  self->meta.complete = FALSE;
  self->readable = FALSE;
  g_clear_pointer (&self->gops, gst_memmap_cache_gops_free);
  g_clear_pointer (&self->gops_path, g_free);
  g_ptr_array_unref (readers);
}
static GstMemmapEngine *
get_engine (GstMemmapCache * self)
{
  GstMemmapEngine *engine;

  GST_OBJECT_LOCK (self);
  engine = self->engine ? gst_object_ref (self->engine) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (engine == NULL)
    engine = gst_memmap_context_ensure_engine (GST_ELEMENT (self),
        &self->engine);
  return engine;
}

/* The identity of the stream, as a string to hash: what the frames come
 * from (the key, or the URI with the file's identity and the stream id),
 * the processing between the decoder and us, and the caps. */
static gchar *
stream_identity (GstMemmapCache * self, GstCaps * caps)
{
  GString *s = g_string_new ("memmapcache 2\n");
  gchar *caps_str;

  if (self->cur.key) {
    g_string_append_printf (s, "key=%s\n", self->cur.key);
  } else {
    GstQuery *query = gst_query_new_uri ();
    gchar *uri = NULL;

    if (gst_pad_peer_query (self->sinkpad, query))
      gst_query_parse_uri (query, &uri);
    gst_query_unref (query);
    if (uri) {
      g_string_append_printf (s, "uri=%s\n", uri);
      if (g_str_has_prefix (uri, "file:")) {
        gchar *filename = g_filename_from_uri (uri, NULL, NULL);
        struct stat st;

        /* what a rewrite in place cannot keep: the inode may stay, the
         * ctime moves on with every write */
        if (filename && stat (filename, &st) == 0)
          g_string_append_printf (s, "dev=%" G_GUINT64_FORMAT "\nino=%"
              G_GUINT64_FORMAT "\nsize=%" G_GINT64_FORMAT "\nmtime=%"
              G_GINT64_FORMAT ".%09ld\nctime=%" G_GINT64_FORMAT ".%09ld\n",
              (guint64) st.st_dev, (guint64) st.st_ino, (gint64) st.st_size,
              (gint64) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec,
              (gint64) st.st_ctim.tv_sec, (long) st.st_ctim.tv_nsec);
        g_free (filename);
      }
      g_free (uri);
    }
    g_string_append_printf (s, "stream-id=%s\n",
        self->stream_id ? self->stream_id : "");
    g_string_append_printf (s, "chain=%s\n",
        self->walk.chain ? self->walk.chain : "");
  }
  caps_str = gst_caps_to_string (caps);
  g_string_append_printf (s, "caps=%s\n", caps_str);
  g_free (caps_str);

  return g_string_free (s, FALSE);
}

/* Opens every store of the entry and maps its frames. */
static gboolean
load_stores (GstMemmapCache * self, GstMemmapEngine * engine,
    GError ** error, gchar ** failed_path)
{
  gchar **paths = gst_memmap_cache_entry_list_stores (self->entry);
  guint i;
  gboolean ret = TRUE;

  for (i = 0; paths[i] && ret; i++) {
    GstMemmapStoreReader *reader;
    guint64 n = 0, f, committed;
    guint index;

    reader = gst_memmap_store_reader_open (engine, paths[i], error);
    if (reader == NULL) {
      *failed_path = g_strdup (paths[i]);
      ret = FALSE;
      break;
    }
    /* any plane layout: a store recorded from a decoder has its padding */
    if (!gst_memmap_video_info_same_picture (gst_memmap_store_reader_get_layout (reader),
            &self->info)) {
      g_set_error (error, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT,
          "Frame store '%s' holds another video layout than its key says",
          paths[i]);
      gst_memmap_store_reader_unref (reader);
      *failed_path = g_strdup (paths[i]);
      ret = FALSE;
      break;
    }
    committed = gst_memmap_store_reader_get_committed (reader);
    index = self->readers->len;
    g_ptr_array_add (self->readers, reader);
    for (f = gst_memmap_store_reader_get_first_frame (reader); f < committed;
        f++) {
      GstMemmapStoreEntry e;
      CachedFrame frame;

      if (!gst_memmap_store_reader_get_entry (reader, f, &e, error)) {
        *failed_path = g_strdup (paths[i]);
        ret = FALSE;
        break;
      }
      if (!GST_CLOCK_TIME_IS_VALID (e.pts)
          || gst_memmap_cache_find_frame (self, e.pts) >= 0)
        continue;
      frame.pts = e.pts;
      frame.duration = e.duration;
      frame.store = index;
      frame.frame = f;
      frame.seen = 0;
      gst_memmap_cache_insert_frame (self, &frame);
      n++;
    }
    GST_INFO_OBJECT (self, "%s: %" G_GUINT64_FORMAT " frames of %"
        G_GUINT64_FORMAT " mapped", paths[i], n, committed);
  }
  g_strfreev (paths);

  return ret;
}

/* Reads the entry's GOP file; an interval whose frames are not all in the
 * stores any more (a store lost, a run killed before it wrote) goes. */
static void
load_gops (GstMemmapCache * self)
{
  guint i = 0;

  self->gops = gst_memmap_cache_gops_new ();
  self->gops_path = g_build_filename (gst_memmap_cache_entry_get_path
      (self->entry), "gops", NULL);
  gst_memmap_cache_gops_read (self->gops, self->gops_path);
  while (i < self->gops->covers->len) {
    GstMemmapCacheCover *c =
        &g_array_index (self->gops->covers, GstMemmapCacheCover, i);
    guint64 n = count_frames (self, c->first, c->last);

    /* more frames than written: the recorder went on since */
    if (n < c->frames) {
      GST_WARNING_OBJECT (self, "%s: [%" GST_TIME_FORMAT ", %"
          GST_TIME_FORMAT "] holds %" G_GUINT64_FORMAT " frames, not %"
          G_GUINT64_FORMAT ": not used", self->gops_path,
          GST_TIME_ARGS (c->first), GST_TIME_ARGS (c->last), n, c->frames);
      g_array_remove_index (self->gops->covers, i);
      self->gops->dirty = TRUE;
    } else {
      i++;
    }
  }
}

/* Writes the GOP file when this pipeline records the stream. */
void
gst_memmap_cache_save_gops (GstMemmapCache * self)
{
  GError *error = NULL;
  guint i;

  if (self->gops == NULL || !self->gops->dirty || self->entry == NULL ||
      self->store == NULL)
    return;
  for (i = 0; i < self->gops->covers->len; i++) {
    GstMemmapCacheCover *c =
        &g_array_index (self->gops->covers, GstMemmapCacheCover, i);

    c->frames = count_frames (self, c->first, c->last);
  }
  if (!gst_memmap_cache_gops_write (self->gops, self->gops_path, &error)) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    g_clear_error (&error);
  }
}

/* ------------------------------------------------------------------------ */
/* the decoder upstream                                                     */

void
gst_memmap_cache_remove_probe (GstMemmapCache * self)
{
  if (self->probe_id && self->walk.decoder_sink)
    gst_pad_remove_probe (self->walk.decoder_sink, self->probe_id);
  self->probe_id = 0;
  gst_memmap_cache_walk_clear (&self->walk);
}

/* Finds the decoder and the processing between it and us; watches the
 * decoder's sink pad. */
static void
find_decoder (GstMemmapCache * self)
{
  gst_memmap_cache_remove_probe (self);
  gst_memmap_cache_walk_upstream (self->sinkpad, &self->walk);
  GST_OBJECT_LOCK (self);
  g_free (self->decoder_name);
  self->decoder_name = self->walk.decoder ?
      gst_object_get_name (GST_OBJECT (self->walk.decoder)) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (self->walk.decoder_sink == NULL) {
    GST_INFO_OBJECT (self, "no video decoder upstream: frames are recorded "
        "and passed through, nothing is skipped");
    return;
  }
  self->probe_id = gst_pad_add_probe (self->walk.decoder_sink,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
      GST_PAD_PROBE_TYPE_EVENT_FLUSH,
      gst_memmap_cache_decoder_probe, gst_object_ref (self), gst_object_unref);
  /* the packets before were not seen: nothing is dropped before the next
   * flush or keyframe, unless the stream plays from its start (see
   * decide_packet) */
  GST_INFO_OBJECT (self, "watching %" GST_PTR_FORMAT, self->walk.decoder_sink);
}

/* At the caps: identify the stream, open its entry, map what is cached and
 * start recording what is not. */
void
gst_memmap_cache_open (GstMemmapCache * self)
{
  GstMemmapEngine *engine = NULL;
  GError *error = NULL;
  gchar *identity, *hash, *failed_path = NULL;
  const gchar *path;

  gst_memmap_cache_close (self);
  gst_memmap_cache_clear_map (self);
  find_decoder (self);
  if (!self->usable)
    return;

  identity = stream_identity (self, self->caps);
  hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, identity, -1);
  GST_DEBUG_OBJECT (self, "identity %s-> %s", identity, hash);
  g_free (identity);

  if (self->dir == NULL) {
    self->dir = gst_memmap_cache_dir_open (self->cur.cache_dir, &error);
    if (self->dir == NULL) {
      gst_memmap_cache_failed (self, error, self->cur.cache_dir);
      goto out;
    }
  }
  self->entry = gst_memmap_cache_entry_open (self->dir, hash, &error);
  if (self->entry == NULL) {
    gst_memmap_cache_failed (self, error, self->cur.cache_dir);
    goto out;
  }
  path = gst_memmap_cache_entry_get_path (self->entry);

  engine = get_engine (self);
  gst_memmap_cache_entry_read_meta (self->entry, &self->meta);
  if (!load_stores (self, engine, &error, &failed_path)) {
    gst_memmap_cache_failed (self, error, failed_path);
    /* the next run starts afresh, if nobody else uses it now */
    gst_memmap_cache_clear_map (self);
    gst_memmap_cache_entry_clear (self->entry);
    goto out;
  }
  load_gops (self);
  self->readable = TRUE;
  if (self->meta.complete) {
    GstMemmapCacheCover *c = GST_CLOCK_TIME_IS_VALID (self->meta.start) ?
        gst_memmap_cache_gops_find_cover (self->gops, self->meta.start) :
        NULL;

    /* a complete marker that the GOP file does not back up is ignored */
    if (c == NULL || !c->eos) {
      GST_INFO_OBJECT (self, "%s: marked complete but not whole", path);
      self->meta.complete = FALSE;
    }
  }

  GST_INFO_OBJECT (self, "cache %s: %u frames cached, %u keyframes, %u "
      "intervals%s", path, self->frames->len, self->gops->keys->len,
      self->gops->covers->len, self->meta.complete ? ", complete" : "");

  if (!self->meta.complete
      && !gst_memmap_cache_open_recording (self, engine, &error)) {
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN)) {
      /* another pipeline records this stream: use what it committed */
      GST_INFO_OBJECT (self, "%s", error->message);
      g_clear_error (&error);
    } else {
      /* no store to record into (a full disk, say): the one warning, but
       * what is cached is intact and still served */
      gst_memmap_cache_warn_once (self, error,
          self->store_path ? self->store_path : path, TRUE);
      g_clear_pointer (&self->store_path, g_free);
    }
  }

out:
  g_clear_error (&error);
  g_free (failed_path);
  g_free (hash);
  gst_clear_object (&engine);
}

/* Writes the meta file, when this pipeline records the stream. */
void
gst_memmap_cache_write_meta (GstMemmapCache * self)
{
  GError *error = NULL;

  if (self->store == NULL || self->entry == NULL)
    return;
  if (!gst_memmap_cache_entry_write_meta (self->entry, &self->meta, &error)) {
    gst_memmap_cache_failed (self, error,
        gst_memmap_cache_entry_get_path (self->entry));
    g_clear_error (&error);
  }
}
