/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One entry of the cache directory (gstmemmapcachedir.c says what the
 * directory is, and how it is locked and checked): opening it under a
 * shared lock, the writer lock, its frame stores and its `meta` file, the
 * one parser of which is gst_memmap_cache_meta_parse(). Every file and
 * directory is opened with cachedir_open_own(): the user's own,
 * of the right type, never through a symbolic link; a meta names its
 * entry, and an entry whose meta names another is refused.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcachedirprivate.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define GST_CAT_DEFAULT gst_memmap_cache_dir_debug

static gboolean read_meta (gint entry_fd, const gchar * where,
    const gchar * hash, GstMemmapCacheMeta * meta, gboolean * foreign);

/* Whether the entry's files are its own (its meta does not name another
 * entry, as when entries are renamed in a directory others can write);
 * with @clear, an entry holding another's files is cleared if it can be. */
static gboolean
check_meta_entry (GstMemmapCacheEntry * entry, gboolean clear, GError ** error)
{
  GstMemmapCacheMeta meta;
  gboolean foreign;

  read_meta (entry->fd, entry->dir_path, entry->hash, &meta, &foreign);
  if (!foreign || (clear && gst_memmap_cache_entry_clear (entry)))
    return TRUE;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
      "The cache entry '%s' holds the files of another entry", entry->path);
  return FALSE;
}

static GstMemmapCacheEntry *
entry_new (const gchar * hash, gchar * path, gint fd, gint lock_fd)
{
  GstMemmapCacheEntry *entry = g_new0 (GstMemmapCacheEntry, 1);

  entry->hash = g_strdup (hash);
  entry->path = path;
  entry->dir_path = g_path_get_dirname (path);
  entry->fd = fd;
  entry->lock_fd = lock_fd;
  entry->write_lock_fd = -1;
  gst_memmap_cache_entry_touch (entry);
  GST_DEBUG ("opened cache entry %s%s", path, lock_fd < 0 ? " to inspect" : "");

  return entry;
}

/* The entry of an open and locked directory, once its meta says it is
 * this entry (a meta of another entry is cleared when @clear). */
static GstMemmapCacheEntry *
entry_checked (const gchar * hash, gchar * path, gint fd, gint lock_fd,
    gboolean clear, GError ** error)
{
  GstMemmapCacheEntry *entry = entry_new (hash, path, fd, lock_fd);

  if (!check_meta_entry (entry, clear, error)) {
    gst_memmap_cache_entry_close (entry);
    return NULL;
  }
  return entry;
}

/**
 * gst_memmap_cache_entry_open:
 * @dir: a cache directory
 * @hash: the stream's hash (64 lowercase hex digits)
 * @error: return location for a #GError
 *
 * Opens (making it if needed) the entry of @hash and holds a shared lock on
 * it, so that no eviction removes it while it is open.
 *
 * Returns: (transfer full) (nullable): the entry
 */
GstMemmapCacheEntry *
gst_memmap_cache_entry_open (GstMemmapCacheDir * dir, const gchar * hash,
    GError ** error)
{
  gchar *path;
  gint fd = -1, lock_fd = -1;
  guint attempt;

  g_return_val_if_fail (gst_memmap_cache_is_hash_name (hash), NULL);

  path = g_build_filename (dir->path, hash, NULL);
  for (attempt = 0; attempt < 8; attempt++) {
    if (mkdirat (dir->fd, hash, 0700) < 0 && errno != EEXIST) {
      cachedir_set_error (error, errno, "Could not make the cache entry", path);
      goto failed;
    }
    fd = cachedir_open_own (dir->fd, dir->path, hash, O_RDONLY, 0, S_IFDIR);
    if (fd < 0) {
      if (errno == ENOENT)
        continue;               /* evicted between mkdir and open */
      cachedir_set_error (error, errno, errno == EPERM ? "Not our cache entry" :
          "Could not open the cache entry", path);
      goto failed;
    }
    lock_fd = cachedir_open_own (fd, path, LOCK_NAME, O_RDWR | O_CREAT, 0600,
        S_IFREG);
    if (lock_fd < 0 && (errno == EROFS || errno == EACCES))
      lock_fd = cachedir_open_own (fd, path, LOCK_NAME, O_RDONLY, 0, S_IFREG);
    if (lock_fd < 0) {
      gchar *lock_path = g_build_filename (path, LOCK_NAME, NULL);

      cachedir_set_error (error, errno, "Could not open the lock", lock_path);
      g_free (lock_path);
      goto failed;
    }
    if (flock (lock_fd, LOCK_SH) < 0) {
      cachedir_set_error (error, errno, "Could not lock the cache entry", path);
      goto failed;
    }
    if (cachedir_still_named (dir->fd, hash, fd))
      break;
    /* evicted while we waited for the lock: start again */
    cachedir_close_fd (&lock_fd);
    cachedir_close_fd (&fd);
  }
  if (lock_fd < 0) {
    cachedir_set_error (error, EAGAIN, "Could not hold the cache entry", path);
    goto failed;
  }

  return entry_checked (hash, path, fd, lock_fd, TRUE, error);

failed:
  cachedir_close_fd (&lock_fd);
  cachedir_close_fd (&fd);
  g_free (path);
  return NULL;
}

/**
 * gst_memmap_cache_entry_open_existing:
 * @dir: a cache directory
 * @hash: the stream's hash (64 lowercase hex digits)
 * @mode: %GST_MEMMAP_CACHE_ENTRY_LOCK to hold the entry as a reader (a
 *   shared lock, taken without waiting: an eviction holds its exclusive
 *   lock only while it renames the entry away), or
 *   %GST_MEMMAP_CACHE_ENTRY_INSPECT to look at it without a lock
 * @error: return location for a #GError
 *
 * Opens the entry of @hash if it exists; makes nothing. With a lock, as
 * every user of an entry does, no eviction removes the entry while it is
 * open, and now is its last use.
 *
 * Returns: (transfer full) (nullable): the entry
 */
GstMemmapCacheEntry *
gst_memmap_cache_entry_open_existing (GstMemmapCacheDir * dir,
    const gchar * hash, GstMemmapCacheEntryMode mode, GError ** error)
{
  gchar *path;
  gint fd, lock_fd = -1;

  g_return_val_if_fail (gst_memmap_cache_is_hash_name (hash), NULL);

  path = g_build_filename (dir->path, hash, NULL);
  fd = cachedir_open_own (dir->fd, dir->path, hash, O_RDONLY, 0, S_IFDIR);
  if (fd < 0) {
    cachedir_set_error (error, errno, errno == EPERM ? "Not our cache entry" :
        "Could not open the cache entry", path);
    goto failed;
  }
  if (mode == GST_MEMMAP_CACHE_ENTRY_INSPECT)
    return entry_new (hash, path, fd, -1);

  lock_fd = cachedir_open_own (fd, path, LOCK_NAME, O_RDONLY, 0, S_IFREG);
  if (lock_fd < 0) {
    cachedir_set_error (error, errno, "Could not open the lock of", path);
    goto failed;
  }
  if (flock (lock_fd, LOCK_SH | LOCK_NB) < 0 ||
      !cachedir_still_named (dir->fd, hash, fd)) {
    cachedir_set_error (error, EAGAIN, "Being evicted:", path);
    goto failed;
  }
  return entry_checked (hash, path, fd, lock_fd, FALSE, error);

failed:
  cachedir_close_fd (&lock_fd);
  cachedir_close_fd (&fd);
  g_free (path);
  return NULL;
}

/**
 * gst_memmap_cache_entry_close:
 * @entry: (transfer full): an entry
 *
 * Records its last use and drops its locks.
 */
void
gst_memmap_cache_entry_close (GstMemmapCacheEntry * entry)
{
  if (entry == NULL)
    return;
  gst_memmap_cache_entry_touch (entry);
  cachedir_close_fd (&entry->write_lock_fd);
  cachedir_close_fd (&entry->lock_fd);
  cachedir_close_fd (&entry->fd);
  g_free (entry->hash);
  g_free (entry->path);
  g_free (entry->dir_path);
  g_free (entry);
}

const gchar *
gst_memmap_cache_entry_get_path (GstMemmapCacheEntry * entry)
{
  return entry->path;
}

const gchar *
gst_memmap_cache_entry_get_hash (GstMemmapCacheEntry * entry)
{
  return entry->hash;
}

/**
 * gst_memmap_cache_entry_get_usage:
 * @entry: an entry
 *
 * Returns: the bytes on disk of the entry's files (allocated blocks, as
 *   gst_memmap_cache_dir_enforce_budget() counts them)
 */
guint64
gst_memmap_cache_entry_get_usage (GstMemmapCacheEntry * entry)
{
  return cachedir_bytes (entry->fd);
}

/**
 * gst_memmap_cache_entry_get_last_use:
 * @entry: an entry
 *
 * Returns: the entry's last use (the mtime of its `lock`, which orders the
 *   LRU eviction), in nanoseconds since the epoch; 0 if unknown
 */
gint64
gst_memmap_cache_entry_get_last_use (GstMemmapCacheEntry * entry)
{
  struct stat st;

  if (fstatat (entry->fd, LOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  return (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
      st.st_mtim.tv_nsec;
}

/**
 * gst_memmap_cache_entry_get_lock_id:
 * @entry: an entry
 * @writer: the writer lock (`write.lock`) rather than the users' (`lock`)
 * @dev: (out): the lock file's device
 * @ino: (out): its inode
 *
 * Which file a flock() on the entry's lock is taken on, to find it in
 * /proc/locks without taking it.
 *
 * Returns: %FALSE if the lock file does not exist
 */
gboolean
gst_memmap_cache_entry_get_lock_id (GstMemmapCacheEntry * entry,
    gboolean writer, guint64 * dev, guint64 * ino)
{
  struct stat st;

  if (fstatat (entry->fd, writer ? WRITE_LOCK_NAME : LOCK_NAME, &st,
          AT_SYMLINK_NOFOLLOW) < 0)
    return FALSE;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return TRUE;
}

/**
 * gst_memmap_cache_entry_lock_writer:
 * @entry: an entry
 * @error: return location for a #GError; %G_FILE_ERROR_AGAIN when another
 *   process records this stream
 *
 * Makes the caller the one recorder of the stream, until the entry closes
 * or gst_memmap_cache_entry_unlock_writer().
 *
 * Returns: %TRUE when the caller may add stores to the entry
 */
gboolean
gst_memmap_cache_entry_lock_writer (GstMemmapCacheEntry * entry,
    GError ** error)
{
  gint fd;

  g_return_val_if_fail (entry->lock_fd >= 0, FALSE);
  if (entry->write_lock_fd >= 0)
    return TRUE;

  fd = cachedir_open_own (entry->fd, entry->path, WRITE_LOCK_NAME,
      O_RDWR | O_CREAT, 0600, S_IFREG);
  if (fd < 0) {
    cachedir_set_error (error, errno, "Could not open the writer lock of",
        entry->path);
    return FALSE;
  }
  if (flock (fd, LOCK_EX | LOCK_NB) < 0) {
    gint err = errno;

    close (fd);
    if (err == EWOULDBLOCK)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
          "'%s' is being recorded by another pipeline", entry->path);
    else
      cachedir_set_error (error, err, "Could not lock", entry->path);
    return FALSE;
  }
  entry->write_lock_fd = fd;
  return TRUE;
}

/**
 * gst_memmap_cache_entry_unlock_writer:
 * @entry: an entry
 *
 * Gives up the writer lock, if the caller holds it: another pipeline or
 * process may record the stream from now on.
 */
void
gst_memmap_cache_entry_unlock_writer (GstMemmapCacheEntry * entry)
{
  if (entry->write_lock_fd >= 0)
    GST_DEBUG ("%s: writer lock released", entry->path);
  cachedir_close_fd (&entry->write_lock_fd);
}

/**
 * gst_memmap_cache_is_store_name:
 * @name: a file name
 * @number: (out) (optional): the store's number
 *
 * Returns: whether @name names a frame store of an entry (`sNNNNNN.store`)
 */
gboolean
gst_memmap_cache_is_store_name (const gchar * name, guint * number)
{
  guint n = 0, i;

  if (name[0] != 's')
    return FALSE;
  for (i = 1; i <= 6; i++) {
    if (!g_ascii_isdigit (name[i]))
      return FALSE;
    n = n * 10 + (name[i] - '0');
  }
  if (strcmp (name + 7, ".store") != 0)
    return FALSE;
  if (number)
    *number = n;
  return TRUE;
}

typedef struct
{
  gint fd;
  GPtrArray *names;
  guint max;
} ListData;

static void
list_store (const gchar * name, gpointer data)
{
  ListData *list = data;
  struct stat st;
  guint n;

  if (!gst_memmap_cache_is_store_name (name, &n))
    return;
  list->max = MAX (list->max, n + 1);
  if (fstatat (list->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
      !cachedir_is_own (&st, S_IFREG)) {
    GST_WARNING ("ignoring %s: not a regular file of user %u", name,
        (guint) geteuid ());
    return;
  }
  g_ptr_array_add (list->names, g_strdup (name));
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/**
 * gst_memmap_cache_entry_list_stores:
 * @entry: an entry
 *
 * Returns: (transfer full): the paths of the entry's frame stores (regular
 *   files only), oldest first, %NULL-terminated
 */
gchar **
gst_memmap_cache_entry_list_stores (GstMemmapCacheEntry * entry)
{
  ListData list = { entry->fd, g_ptr_array_new (), 0 };
  guint i;

  cachedir_for_each_name (entry->fd, list_store, &list);
  g_ptr_array_sort (list.names, compare_names);
  for (i = 0; i < list.names->len; i++) {
    gchar *name = g_ptr_array_index (list.names, i);

    g_ptr_array_index (list.names, i) = g_build_filename (entry->path, name,
        NULL);
    g_free (name);
  }
  g_ptr_array_add (list.names, NULL);
  return (gchar **) g_ptr_array_free (list.names, FALSE);
}

/**
 * gst_memmap_cache_entry_new_store_path:
 * @entry: an entry whose writer lock the caller holds
 *
 * Returns: (transfer full): the path for a new frame store of the entry
 */
gchar *
gst_memmap_cache_entry_new_store_path (GstMemmapCacheEntry * entry)
{
  ListData list = { entry->fd, g_ptr_array_new_with_free_func (g_free), 0 };
  gchar *name, *path;

  cachedir_for_each_name (entry->fd, list_store, &list);
  g_ptr_array_unref (list.names);
  name = g_strdup_printf ("s%06u.store", MIN (list.max, 999999));
  path = g_build_filename (entry->path, name, NULL);
  g_free (name);
  return path;
}

/**
 * gst_memmap_cache_entry_remove_store:
 * @entry: an entry
 * @path: a path from this entry
 *
 * Deletes a store of the entry (an empty one, say).
 */
void
gst_memmap_cache_entry_remove_store (GstMemmapCacheEntry * entry,
    const gchar * path)
{
  gchar *name = g_path_get_basename (path);

  if (unlinkat (entry->fd, name, 0) < 0)
    GST_DEBUG ("could not remove %s: %s", path, g_strerror (errno));
  g_free (name);
}

static void
unlink_content (const gchar * name, gpointer data)
{
  gint fd = GPOINTER_TO_INT (data);

  if (strcmp (name, LOCK_NAME) == 0 || strcmp (name, WRITE_LOCK_NAME) == 0)
    return;
  unlinkat (fd, name, 0);
}

/**
 * gst_memmap_cache_entry_clear:
 * @entry: an entry
 *
 * Deletes the stores and the metadata of the entry (a corrupt one), if no
 * other process uses it.
 *
 * Returns: %TRUE if the entry was cleared
 */
gboolean
gst_memmap_cache_entry_clear (GstMemmapCacheEntry * entry)
{
  gboolean ret = FALSE;

  g_return_val_if_fail (entry->lock_fd >= 0, FALSE);
  /* flock converts SH to EX non-atomically; when that fails our shared
   * lock is taken again below */
  if (flock (entry->lock_fd, LOCK_EX | LOCK_NB) == 0) {
    cachedir_for_each_name (entry->fd, unlink_content,
        GINT_TO_POINTER (entry->fd));
    GST_INFO ("cleared cache entry %s", entry->path);
    ret = TRUE;
  }
  if (flock (entry->lock_fd, LOCK_SH) < 0)
    GST_WARNING ("could not lock %s again: %s", entry->path,
        g_strerror (errno));

  return ret;
}

static GstClockTime
get_time (GKeyFile * kf, const gchar * key)
{
  gchar *str = g_key_file_get_string (kf, META_GROUP, key, NULL);
  guint64 v;

  if (str == NULL || !g_ascii_string_to_unsigned (str, 10, 0,
          G_MAXINT64, &v, NULL))
    v = GST_CLOCK_TIME_NONE;
  g_free (str);
  return v;
}

/**
 * gst_memmap_cache_meta_parse:
 * @data: the content of a `meta` file (need not be nul-terminated)
 * @len: its length
 * @meta: (out): what it says; all unknown when it is not a valid meta file
 *
 * The one parser of the `meta` file (fuzzed by fuzz-cache-meta.c).
 *
 * Returns: %TRUE if @data is a meta file of a version this code knows
 */
gboolean
gst_memmap_cache_meta_parse (const gchar * data, gsize len,
    GstMemmapCacheMeta * meta)
{
  GKeyFile *kf;
  gboolean ret = FALSE;

  gchar *entry;

  meta->start = meta->end = GST_CLOCK_TIME_NONE;
  meta->complete = FALSE;
  meta->entry[0] = '\0';

  kf = g_key_file_new ();
  if (len > 0 && g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE,
          NULL) && g_key_file_get_integer (kf, META_GROUP, "version",
          NULL) == 1) {
    meta->start = get_time (kf, "start");
    meta->end = get_time (kf, "end");
    meta->complete = g_key_file_get_boolean (kf, META_GROUP, "complete",
        NULL) && GST_CLOCK_TIME_IS_VALID (meta->start) &&
        GST_CLOCK_TIME_IS_VALID (meta->end);
    /* the entry it belongs to: not a name of one, it belongs to none */
    entry = g_key_file_get_string (kf, META_GROUP, "entry", NULL);
    if (entry && !gst_memmap_cache_is_hash_name (entry))
      memcpy (meta->entry, "-", 2);
    else if (entry)
      memcpy (meta->entry, entry, HASH_LEN + 1);
    g_free (entry);
    ret = TRUE;
  }
  g_key_file_free (kf);
  return ret;
}

/* Whether the meta @meta, read from the entry @hash, belongs to it (a meta
 * that does not say, from before meta files said it, is taken as the
 * entry's). */
static gboolean
meta_is_of (const GstMemmapCacheMeta * meta, const gchar * where,
    const gchar * hash)
{
  if (meta->entry[0] == '\0' || strcmp (meta->entry, hash) == 0)
    return TRUE;
  GST_WARNING ("%s/%s/" META_NAME " says it belongs to the entry '%s': the "
      "entry holds another stream's files, refused", where, hash, meta->entry);
  return FALSE;
}

/* *@foreign (if not NULL) says whether the meta is another entry's. */
static gboolean
read_meta (gint entry_fd, const gchar * where, const gchar * hash,
    GstMemmapCacheMeta * meta, gboolean * foreign)
{
  gchar *buf;
  gsize len = 0;
  gint fd;
  gboolean ret;

  meta->start = meta->end = GST_CLOCK_TIME_NONE;
  meta->complete = FALSE;
  meta->entry[0] = '\0';
  if (foreign)
    *foreign = FALSE;

  fd = cachedir_open_own (entry_fd, where, META_NAME, O_RDONLY, 0, S_IFREG);
  if (fd < 0)
    return FALSE;
  buf = cachedir_read_small (fd, MAX_META_SIZE, &len);
  close (fd);
  if (buf == NULL)
    return FALSE;
  ret = gst_memmap_cache_meta_parse (buf, len, meta);
  g_free (buf);
  if (ret && !meta_is_of (meta, where, hash)) {
    gst_memmap_cache_meta_parse ("", 0, meta);
    if (foreign)
      *foreign = TRUE;
    return FALSE;
  }
  return ret;
}

/**
 * gst_memmap_cache_entry_read_meta:
 * @entry: an entry
 * @meta: (out): what the entry's meta file says; all unknown when it is
 *   missing, unreadable, not the user's own regular file, or the meta of
 *   another entry
 *
 * Returns: %TRUE if the entry has a valid meta file
 */
gboolean
gst_memmap_cache_entry_read_meta (GstMemmapCacheEntry * entry,
    GstMemmapCacheMeta * meta)
{
  return read_meta (entry->fd, entry->dir_path, entry->hash, meta, NULL);
}

static void
set_time (GKeyFile * kf, const gchar * key, GstClockTime t)
{
  if (GST_CLOCK_TIME_IS_VALID (t))
    g_key_file_set_uint64 (kf, META_GROUP, key, t);
}

/**
 * gst_memmap_cache_entry_write_meta:
 * @entry: an entry whose writer lock the caller holds
 * @meta: what to record
 * @error: return location for a #GError
 *
 * Replaces the entry's meta file atomically (a temporary file renamed).
 *
 * Returns: %TRUE on success
 */
gboolean
gst_memmap_cache_entry_write_meta (GstMemmapCacheEntry * entry,
    const GstMemmapCacheMeta * meta, GError ** error)
{
  GKeyFile *kf = g_key_file_new ();
  gchar *data;
  gsize len;
  gint err;

  g_key_file_set_integer (kf, META_GROUP, "version", 1);
  /* which entry it is: an entry renamed to another's name is refused */
  g_key_file_set_string (kf, META_GROUP, "entry", entry->hash);
  set_time (kf, "start", meta->start);
  set_time (kf, "end", meta->end);
  g_key_file_set_boolean (kf, META_GROUP, "complete", meta->complete);
  data = g_key_file_to_data (kf, &len, NULL);
  g_key_file_free (kf);

  err = cachedir_write_atomic (entry->fd, META_NAME, data, len);
  g_free (data);
  if (err != 0) {
    gchar *path = g_build_filename (entry->path, META_NAME, NULL);

    cachedir_set_error (error, err, "Could not write", path);
    g_free (path);
    return FALSE;
  }
  return TRUE;
}

/**
 * gst_memmap_cache_entry_touch:
 * @entry: an entry
 *
 * Records now as the entry's last use (the lock file's mtime), which orders
 * the LRU eviction.
 */
void
gst_memmap_cache_entry_touch (GstMemmapCacheEntry * entry)
{
  if (entry->lock_fd < 0)
    return;                     /* inspected only */
  if (futimens (entry->lock_fd, NULL) < 0)
    GST_LOG ("could not touch %s: %s", entry->path, g_strerror (errno));
}
