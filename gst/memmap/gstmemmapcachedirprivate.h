/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Inside the cache directory module (gstmemmapcachedir.c: the directory,
 * its budget and the frames API's index; gstmemmapcacheentry.c: an entry,
 * its locks, stores and meta): the names, the structures and the helpers
 * that check what is opened. Internal to the library. */

#include "gstmemmapcachedir.h"

#include <sys/stat.h>

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_cache_dir_debug);

#define LOCK_NAME "lock"
#define WRITE_LOCK_NAME "write.lock"
#define META_NAME "meta"
#define META_GROUP "memmapcache"
#define EVICT_PREFIX ".evict-"
#define HASH_LEN 64
#define MAX_META_SIZE 65536
#define DEFAULT_DIR_NAME "gst-memmap"

/* the frames API's index under the cache directory: file identity ->
 * entry. Names that are not 64 hex digits are ignored by the eviction. */
#define INDEX_DIR_NAME "frames"
#define INDEX_GROUP "frames"
#define INDEX_MAX_SIZE 4096

struct _GstMemmapCacheDir
{
  gchar *path;
  gint fd;
};

struct _GstMemmapCacheEntry
{
  gchar *hash;
  gchar *path;
  gchar *dir_path;              /* of the cache directory, for messages */
  gint fd;                      /* the entry's directory */
  gint lock_fd;                 /* LOCK_SH on HASH/lock */
  gint write_lock_fd;           /* LOCK_EX on HASH/write.lock, or -1 */
};

G_GNUC_INTERNAL
void cachedir_set_error (GError ** error, gint err,
    const gchar * what, const gchar * path);

G_GNUC_INTERNAL
void cachedir_close_fd (gint * fd);

G_GNUC_INTERNAL
gboolean cachedir_is_own (const struct stat *st, mode_t type);

G_GNUC_INTERNAL
gint cachedir_open_own (gint dirfd, const gchar * where,
    const gchar * name, gint flags, mode_t mode, mode_t type);

G_GNUC_INTERNAL
gchar *cachedir_read_small (gint fd, gsize max, gsize * len);

G_GNUC_INTERNAL
gint cachedir_write_atomic (gint dirfd, const gchar * name,
    const gchar * data, gsize len);

G_GNUC_INTERNAL
void cachedir_for_each_name (gint fd,
    void (*func) (const gchar * name, gpointer data), gpointer data);

G_GNUC_INTERNAL
guint64 cachedir_bytes (gint fd);

G_GNUC_INTERNAL
gboolean cachedir_still_named (gint parent_fd, const gchar * name,
    gint fd);

G_END_DECLS
