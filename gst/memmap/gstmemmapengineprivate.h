/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What gstmemmapengine.c and gstmemmapmapping.c share: the layout of a
 * #GstMemmapMapping and the engine's end of its last unref. Not installed;
 * include memmap.h first. */

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  KEY_KIND_STABLE = 0,          /* read-only, keyed on size and mtime too */
  KEY_KIND_VOLATILE = 1,        /* read-only of a growing file */
  KEY_KIND_WRITABLE = 2,        /* shared read-write */
  KEY_KIND_COPY = 3,            /* read-only, a read() copy allowed: keyed
                                 * like STABLE, never shared with it */
  KEY_KIND_PRIVATE = 4,         /* copy-on-write: never in the cache */
} KeyKind;

typedef struct
{
  guint64 dev;
  guint64 ino;
  /* size and mtime only for KEY_KIND_STABLE and _COPY, zero otherwise */
  gint64 size;
  gint64 mtime_sec;
  gint64 mtime_nsec;
  guint64 win_offset;
  guint64 win_length;
  KeyKind kind;
} MappingKey;

struct _GstMemmapMapping
{
  /* atomic; transitions to and from 0 happen under the engine lock */
  gint refcount;

  /* set at creation, constant afterwards; the engine is reffed while
   * refcount > 0 */
  GstMemmapEngine *engine;
  MappingKey key;
  gchar *path;
  gint fd;
  guint8 *data;
  gsize size;
  guint64 offset;
  guint64 file_size;
  gboolean writable;            /* shared read-write */
  gboolean cow;                 /* private read-write (copy-on-write) */
  gboolean mmapped;
  gint guard_id;                /* in the fault guard, or -1 */

  /* under the engine lock */
  GList link;                   /* in engine->lru while refcount == 0 */
  gboolean in_lru;
  gboolean cached;              /* in engine->cache; FALSE = doomed */
};

G_GNUC_INTERNAL
void gst_memmap_engine_release_mapping (GstMemmapMapping * mapping);

G_END_DECLS
