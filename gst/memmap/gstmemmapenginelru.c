/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The LRU core of #GstMemmapEngine: the cache's key, and what is done to
 * the cache under the engine lock (evict, make room under the budget, take
 * a reference, drop), and the unmapping of what left it.
 *
 * Invariants (under the engine lock): a cached mapping is in engine->cache
 * under its key; it is on engine->lru exactly when nobody holds it
 * (refcount 0); engine->mapped_bytes counts every cached and in-use mapping
 * plus the bytes reserved by the misses in flight (engine->pending); a
 * mapping is unmapped (gst_memmap_mapping_destroy()) only after it left the
 * cache and the lock was released.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapengineprivate.h"
#include "gstmemmapfaultguard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_debug

guint
gst_memmap_mapping_key_hash (gconstpointer p)
{
  const MappingKey *k = p;
  guint64 h = k->dev * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

  h ^= k->ino + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  h ^= k->win_offset + (h << 6) + (h >> 2);
  h ^= k->win_length + (h << 6) + (h >> 2);
  h ^= (guint64) k->size + (guint64) k->mtime_nsec + (h << 6) + (h >> 2);
  h ^= (guint64) k->kind;

  return (guint) (h ^ (h >> 32));
}

gboolean
gst_memmap_mapping_key_equal (gconstpointer pa, gconstpointer pb)
{
  const MappingKey *a = pa, *b = pb;

  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
      a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
      a->win_offset == b->win_offset && a->win_length == b->win_length &&
      a->kind == b->kind;
}

/* ------------------------------------------------------------------------ */
/* cache, under the engine lock                                             */

/* Removes the least recently used unreferenced mapping from the cache and
 * queues it on @to_destroy. */
void
gst_memmap_engine_evict_one_locked (GstMemmapEngine * self, GQueue * to_destroy)
{
  GList *link = g_queue_peek_tail_link (&self->lru);
  GstMemmapMapping *m = link->data;

  g_queue_unlink (&self->lru, link);
  m->in_lru = FALSE;
  g_hash_table_remove (self->cache, &m->key);
  m->cached = FALSE;
  self->mapped_bytes -= m->size;
  self->active_maps--;
  self->evictions++;
  GST_LOG_OBJECT (self, "evicting %s [%" G_GUINT64_FORMAT ", +%"
      G_GSIZE_FORMAT ")", m->path, m->offset, m->size);
  g_queue_push_tail_link (to_destroy, link);
}

/* Evicts until @extra more bytes (and one more mapping if @extra_maps) fit
 * under the budget, or until nothing unreferenced is left. */
void
gst_memmap_engine_make_room_locked (GstMemmapEngine * self, guint64 extra,
    guint extra_maps, GQueue * to_destroy)
{
  while (self->lru.length > 0 &&
      (self->mapped_bytes > self->max_mapped_bytes ||
          extra > self->max_mapped_bytes - self->mapped_bytes ||
          self->active_maps + self->pending + extra_maps > self->max_mappings))
    gst_memmap_engine_evict_one_locked (self, to_destroy);
}

/* Takes a reference to @m for a caller, under the engine lock. A 0 -> 1
 * transition takes @m off the LRU and refs the engine for it. */
void
gst_memmap_engine_ref_cached_locked (GstMemmapEngine * self,
    GstMemmapMapping * m)
{
  if (g_atomic_int_get (&m->refcount) == 0) {
    /* only ever leaves 0 under the lock */
    if (m->in_lru) {
      g_queue_unlink (&self->lru, &m->link);
      m->in_lru = FALSE;
    }
    g_atomic_int_set (&m->refcount, 1);
    self->in_use_maps++;
    gst_object_ref (self);
  } else {
    g_atomic_int_inc (&m->refcount);
  }
}

/* Removes @m from the cache: dropped now if unreferenced (queued on
 * @to_destroy), else doomed (unmapped when its last reference goes). */
void
gst_memmap_engine_drop_locked (GstMemmapEngine * self, GstMemmapMapping * m,
    GQueue * to_destroy)
{
  g_hash_table_remove (self->cache, &m->key);
  m->cached = FALSE;
  if (m->in_lru) {
    g_queue_unlink (&self->lru, &m->link);
    m->in_lru = FALSE;
    self->mapped_bytes -= m->size;
    self->active_maps--;
    g_queue_push_tail_link (to_destroy, &m->link);
  } else {
    GST_DEBUG_OBJECT (self, "%s [%" G_GUINT64_FORMAT ", +%" G_GSIZE_FORMAT
        ") is in use: unmapped when released", m->path, m->offset, m->size);
  }
}

/* ------------------------------------------------------------------------ */
/* mappings                                                                 */

void
gst_memmap_mapping_destroy (GstMemmapMapping * m)
{
  if (m->data) {
    if (m->mmapped) {
      /* out of the guard first: the range is free for others after this */
      gst_memmap_fault_guard_remove (m->guard_id);
      if (munmap (m->data, m->size) < 0)
        GST_WARNING ("munmap of %s failed: %s", m->path, g_strerror (errno));
    } else {
      free (m->data);
    }
  }
  if (m->fd >= 0)
    close (m->fd);
  g_free (m->path);
  g_free (m);
}

void
gst_memmap_engine_destroy_queue (GQueue * q)
{
  GList *link;

  while ((link = g_queue_pop_head_link (q)))
    gst_memmap_mapping_destroy (link->data);
}

/* Unmaps every cached mapping nobody holds (their fds are closed too).
 * Returns how many. No lock held. */
guint
gst_memmap_engine_evict_unused (GstMemmapEngine * self)
{
  GQueue to_destroy = G_QUEUE_INIT;
  guint n;

  g_mutex_lock (&self->lock);
  while (self->lru.length > 0)
    gst_memmap_engine_evict_one_locked (self, &to_destroy);
  g_mutex_unlock (&self->lock);
  n = to_destroy.length;
  gst_memmap_engine_destroy_queue (&to_destroy);
  return n;
}
