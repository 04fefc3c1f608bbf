/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cache directory of memmapcache: one subdirectory per cached stream,
 * locks that keep what is in use from eviction, the sidecar metadata, an
 * LRU eviction of whole streams under a byte budget shared by every process
 * that uses the directory, and the index of gst_memmap_map_video_frames().
 *
 * This file (the directory, its budget, the index) and
 * gstmemmapcacheentry.c (an entry, its locks, stores and meta) are the one
 * owner of that format: memmapcache (the plugin), the frames API
 * (gstmemmapframes*.c) and `gst-memmap stats` all go through them, and
 * tests/fuzz/fuzz-cache-meta.c fuzzes its parser. Private API of the
 * library (gstmemmapcachedir.h is not installed).
 *
 * Everything inside the cache directory is reached with openat() from a
 * directory descriptor and O_NOFOLLOW: a symbolic link planted there is an
 * error, never followed. Directories are made 0700 and the lock, meta and
 * index files 0600; the frame stores are made by libgstmemmap (0666 less
 * the umask) inside those private directories. Since a cache directory
 * may be shared (mode 1777), nothing in it is believed unless it is the
 * user's own: every directory (an entry, frames/) and every file (locks,
 * meta, stores, index files) read is checked after it is opened (fstat:
 * the right type, owned by the process's user; a directory writable by
 * nobody else). And files say whose they are: an entry's meta names its
 * entry, an index file its key, so that files swapped or renamed by
 * whoever can are refused (with a warning), never read as another's.
 *
 * Locking (flock, so it goes with the process that dies):
 * - a user of an entry (reader or recorder) holds LOCK_SH on HASH/lock for
 *   as long as it uses the entry, and then checks that HASH still names the
 *   directory it locked (an eviction may have renamed it meanwhile);
 * - eviction takes LOCK_EX | LOCK_NB on HASH/lock, skips the entry when that
 *   fails (busy), else renames HASH to .evict-... and deletes it;
 * - the one recorder of an entry holds LOCK_EX | LOCK_NB on HASH/write.lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcachedir.h"
#include "gstmemmapcachedirprivate.h"

#include <glib/gstdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY (gst_memmap_cache_dir_debug);
#define GST_CAT_DEFAULT gst_memmap_cache_dir_debug

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_memmap_cache_dir_debug, "memmapcachedir", 0,
        "memmapcache directory");
    g_once_init_leave (&done, 1);
  }
}

void
cachedir_set_error (GError ** error, gint err, const gchar * what,
    const gchar * path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
      "%s '%s': %s", what, path, g_strerror (err));
}

void
cachedir_close_fd (gint * fd)
{
  if (*fd >= 0) {
    close (*fd);
    *fd = -1;
  }
}

/* Whether @st is a @type (S_IFREG or S_IFDIR) of the process's user that
 * nobody else can change (for a directory: not writable by group or
 * others, who could put or swap files in it). */
gboolean
cachedir_is_own (const struct stat *st, mode_t type)
{
  if ((st->st_mode & S_IFMT) != type || st->st_uid != geteuid ())
    return FALSE;
  if (type == S_IFDIR && (st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return FALSE;
  return TRUE;
}

/* openat() of @name in @dirfd that only gives what cachedir_is_own()
 * accepts, after the open (no symbolic link, no FIFO that blocks the open); -1
 * with errno set otherwise (EPERM: not ours, or not of @type). @where
 * names @dirfd in the warning. */
gint
cachedir_open_own (gint dirfd, const gchar * where, const gchar * name,
    gint flags, mode_t mode, mode_t type)
{
  struct stat st = { 0 };
  gint fd;

  flags |= O_NOFOLLOW | O_CLOEXEC;
  flags |= type == S_IFDIR ? O_DIRECTORY : O_NONBLOCK;
  fd = openat (dirfd, name, flags, mode);
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) < 0 || !cachedir_is_own (&st, type)) {
    GST_WARNING ("%s/%s: not a %s of user %u that only it can change "
        "(mode 0%o, owner %u): not used", where, name, type == S_IFDIR ?
        "directory" : "regular file", (guint) geteuid (),
        (guint) st.st_mode, (guint) st.st_uid);
    close (fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

/* Reads the whole regular file @fd, if it is smaller than @max. */
gchar *
cachedir_read_small (gint fd, gsize max, gsize * len)
{
  struct stat st;
  gchar *buf;
  gssize n;

  if (fstat (fd, &st) < 0 || st.st_size <= 0 || (guint64) st.st_size >= max)
    return NULL;
  buf = g_malloc (max);
  n = read (fd, buf, max - 1);
  if (n <= 0) {
    g_free (buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* Replaces @name in @dirfd with @data atomically (a temporary file of the
 * user's, renamed). Returns 0 or an errno. */
gint
cachedir_write_atomic (gint dirfd, const gchar * name, const gchar * data,
    gsize len)
{
  gchar *tmp;
  gsize done = 0;
  gint fd, err = 0;

  tmp = g_strdup_printf ("%s.tmp-%u-%08x", name, (guint) getpid (),
      g_random_int ());
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
      O_CLOEXEC, 0600);
  if (fd < 0) {
    err = errno;
    goto out;
  }
  while (done < len) {
    gssize n = write (fd, data + done, len - done);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += n;
  }
  if (close (fd) < 0 && err == 0)
    err = errno;
  if (err == 0 && renameat (dirfd, tmp, dirfd, name) < 0)
    err = errno;
  if (err != 0)
    unlinkat (dirfd, tmp, 0);

out:
  g_free (tmp);
  return err;
}

/**
 * gst_memmap_cache_dir_open:
 * @path: the cache directory, made (with its parents) if missing
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the open directory
 */
GstMemmapCacheDir *
gst_memmap_cache_dir_open (const gchar * path, GError ** error)
{
  GstMemmapCacheDir *dir;

  ensure_debug_category ();

  if (g_mkdir_with_parents (path, 0700) < 0) {
    cachedir_set_error (error, errno, "Could not make the cache directory",
        path);
    return NULL;
  }
  dir = gst_memmap_cache_dir_open_existing (path, error);
  if (dir)
    GST_DEBUG ("opened cache directory %s", path);

  return dir;
}

/**
 * gst_memmap_cache_dir_open_existing:
 * @path: the cache directory
 * @error: return location for a #GError
 *
 * As gst_memmap_cache_dir_open(), but makes nothing: for readers.
 *
 * Returns: (transfer full) (nullable): the open directory
 */
GstMemmapCacheDir *
gst_memmap_cache_dir_open_existing (const gchar * path, GError ** error)
{
  GstMemmapCacheDir *dir;
  gint fd;

  ensure_debug_category ();

  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    cachedir_set_error (error, errno, "Could not open the cache directory",
        path);
    return NULL;
  }
  dir = g_new0 (GstMemmapCacheDir, 1);
  dir->path = g_strdup (path);
  dir->fd = fd;

  return dir;
}

void
gst_memmap_cache_dir_free (GstMemmapCacheDir * dir)
{
  if (dir == NULL)
    return;
  cachedir_close_fd (&dir->fd);
  g_free (dir->path);
  g_free (dir);
}

const gchar *
gst_memmap_cache_dir_get_path (GstMemmapCacheDir * dir)
{
  return dir->path;
}

/**
 * gst_memmap_cache_dir_default_path:
 *
 * Returns: (transfer full): the cache directory used when none is given:
 *   `g_get_user_cache_dir()/gst-memmap`
 */
gchar *
gst_memmap_cache_dir_default_path (void)
{
  return g_build_filename (g_get_user_cache_dir (), DEFAULT_DIR_NAME, NULL);
}

/**
 * gst_memmap_cache_is_hash_name:
 * @name: a file name
 *
 * Returns: whether @name names a stream's entry (64 lowercase hex digits)
 */
gboolean
gst_memmap_cache_is_hash_name (const gchar * name)
{
  guint i;

  for (i = 0; i < HASH_LEN; i++) {
    if (!g_ascii_isxdigit (name[i]) || g_ascii_isupper (name[i]))
      return FALSE;
  }
  return name[HASH_LEN] == '\0';
}

/* Calls @func for every name in the directory @fd (not . and ..). */
void
cachedir_for_each_name (gint fd,
    void (*func) (const gchar * name, gpointer data), gpointer data)
{
  DIR *d;
  struct dirent *de;
  gint dfd = openat (fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (dfd < 0)
    return;
  d = fdopendir (dfd);
  if (d == NULL) {
    close (dfd);
    return;
  }
  while ((de = readdir (d)) != NULL) {
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    func (de->d_name, data);
  }
  closedir (d);
}

typedef struct
{
  gint fd;
  guint64 bytes;
} SumData;

static void
sum_file (const gchar * name, gpointer data)
{
  SumData *sum = data;
  struct stat st;

  if (fstatat (sum->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      !S_ISDIR (st.st_mode))
    sum->bytes += (guint64) st.st_blocks * 512;
}

/* Bytes on disk of the files of the directory @fd. */
guint64
cachedir_bytes (gint fd)
{
  SumData sum = { fd, 0 };

  cachedir_for_each_name (fd, sum_file, &sum);
  return sum.bytes;
}

static void
unlink_name (const gchar * name, gpointer data)
{
  gint fd = GPOINTER_TO_INT (data);

  if (unlinkat (fd, name, 0) < 0 && errno == EISDIR)
    unlinkat (fd, name, AT_REMOVEDIR);
}

/* Deletes the directory @name of @parent_fd and its files (no deeper). */
static void
remove_dir (gint parent_fd, const gchar * name)
{
  gint fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
      O_CLOEXEC);

  if (fd >= 0) {
    cachedir_for_each_name (fd, unlink_name, GINT_TO_POINTER (fd));
    close (fd);
  }
  if (unlinkat (parent_fd, name, AT_REMOVEDIR) < 0)
    GST_DEBUG ("could not remove %s: %s", name, g_strerror (errno));
}

typedef struct
{
  gchar *hash;
  gint64 last_use;              /* ns, the lock file's mtime */
  guint64 bytes;
} DirEntry;

typedef struct
{
  GstMemmapCacheDir *dir;
  GArray *entries;              /* DirEntry */
  guint64 total;
} ScanData;

static void
scan_name (const gchar * name, gpointer data)
{
  ScanData *scan = data;
  DirEntry e;
  struct stat st;
  gint fd;

  if (g_str_has_prefix (name, EVICT_PREFIX)) {
    /* left behind by an eviction that died half-way: nobody uses it */
    remove_dir (scan->dir->fd, name);
    return;
  }
  if (!gst_memmap_cache_is_hash_name (name))
    return;
  fd = openat (scan->dir->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
      O_CLOEXEC);
  if (fd < 0)
    return;
  e.hash = g_strdup (name);
  e.bytes = cachedir_bytes (fd);
  if (fstatat (fd, LOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
      fstat (fd, &st) < 0)
    memset (&st, 0, sizeof (st));
  e.last_use = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
      st.st_mtim.tv_nsec;
  close (fd);
  scan->total += e.bytes;
  g_array_append_val (scan->entries, e);
}

static gint
compare_last_use (gconstpointer a, gconstpointer b)
{
  const DirEntry *x = a, *y = b;

  return (x->last_use > y->last_use) - (x->last_use < y->last_use);
}

static void
dir_entry_clear (DirEntry * e)
{
  g_free (e->hash);
}

/* The inode of @fd is still what @name in @parent_fd names. */
gboolean
cachedir_still_named (gint parent_fd, const gchar * name, gint fd)
{
  struct stat a, b;

  if (fstat (fd, &a) < 0 || fstatat (parent_fd, name, &b,
          AT_SYMLINK_NOFOLLOW) < 0)
    return FALSE;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Evicts the entry @hash unless somebody uses it. */
static gboolean
evict (GstMemmapCacheDir * dir, const gchar * hash)
{
  gchar *tmp;
  gint fd, lock_fd;
  gboolean ret = FALSE;

  /* only the user's own entries: another user's are not ours to judge */
  fd = cachedir_open_own (dir->fd, dir->path, hash, O_RDONLY, 0, S_IFDIR);
  if (fd < 0)
    return FALSE;
  lock_fd = cachedir_open_own (fd, hash, LOCK_NAME, O_RDWR | O_CREAT, 0600,
      S_IFREG);
  if (lock_fd < 0 && errno != EPERM)
    lock_fd = cachedir_open_own (fd, hash, LOCK_NAME, O_RDONLY, 0, S_IFREG);
  if (lock_fd < 0)
    goto out;
  if (flock (lock_fd, LOCK_EX | LOCK_NB) < 0) {
    GST_DEBUG ("%s/%s is in use: not evicted", dir->path, hash);
    goto out;
  }
  if (!cachedir_still_named (dir->fd, hash, fd))
    goto out;

  tmp = g_strdup_printf (EVICT_PREFIX "%s-%u-%08x", hash, (guint) getpid (),
      g_random_int ());
  if (renameat (dir->fd, hash, dir->fd, tmp) == 0) {
    remove_dir (dir->fd, tmp);
    GST_INFO ("evicted %s/%s", dir->path, hash);
    ret = TRUE;
  } else {
    GST_WARNING ("could not evict %s/%s: %s", dir->path, hash,
        g_strerror (errno));
  }
  g_free (tmp);

out:
  cachedir_close_fd (&lock_fd);
  cachedir_close_fd (&fd);
  return ret;
}

static ScanData
scan_dir (GstMemmapCacheDir * dir)
{
  ScanData scan = { dir, NULL, 0 };

  scan.entries = g_array_new (FALSE, FALSE, sizeof (DirEntry));
  g_array_set_clear_func (scan.entries, (GDestroyNotify) dir_entry_clear);
  cachedir_for_each_name (dir->fd, scan_name, &scan);
  return scan;
}

/**
 * gst_memmap_cache_estimate_stream_bytes:
 * @frame_bytes: the bytes on disk of one frame (its slot)
 * @fps_n: the stream's frame rate numerator (0: variable)
 * @fps_d: its denominator
 * @duration: the stream's duration, or %GST_CLOCK_TIME_NONE
 *
 * Returns: the bytes on disk the whole stream will take (duration times
 *   frame rate frames of @frame_bytes), or 0 when that is not known
 */
guint64
gst_memmap_cache_estimate_stream_bytes (guint64 frame_bytes, gint fps_n,
    gint fps_d, GstClockTime duration)
{
  guint64 frames;

  if (!GST_CLOCK_TIME_IS_VALID (duration) || duration == 0 || fps_n <= 0 ||
      fps_d <= 0 || frame_bytes == 0)
    return 0;
  frames = gst_util_uint64_scale_ceil (duration, fps_n,
      (guint64) fps_d * GST_SECOND);
  if (frames > G_MAXUINT64 / frame_bytes)
    return G_MAXUINT64;
  return MAX (frames, 1) * frame_bytes;
}

/**
 * gst_memmap_cache_stream_limit:
 * @max_size: the cache directory's budget, bytes on disk
 * @estimate: what the whole stream takes on disk, 0 if unknown
 *   (gst_memmap_cache_estimate_stream_bytes())
 * @may_evict: (out): whether recording the stream may evict other streams
 *
 * The budget policy: a stream never evicts the cache for a fragment of
 * itself, and no stream that may be a fragment takes more than half of it.
 *
 * - A stream known to fit in @max_size is recorded whole, evicting the
 *   least recently used streams as needed: its entry may take all of
 *   @max_size.
 * - A stream known to be larger than @max_size can only be a fragment: it
 *   evicts nothing; its start is recorded into free room only, up to half
 *   of @max_size (what a user who plays or maps only its start gets from
 *   the cache next time).
 * - A stream of unknown size (no duration, a variable frame rate) may
 *   evict, and take half of @max_size at most: whatever it turns out to
 *   be, the other half stays for the streams that fit.
 *
 * Returns: the most bytes on disk the stream's entry may hold while it
 *   records
 */
guint64
gst_memmap_cache_stream_limit (guint64 max_size, guint64 estimate,
    gboolean * may_evict)
{
  *may_evict = estimate <= max_size;
  if (estimate > 0 && estimate <= max_size)
    return max_size;
  return max_size / 2;
}

/**
 * gst_memmap_cache_dir_get_usage:
 * @dir: a cache directory
 *
 * Returns: the bytes on disk of every cached stream
 */
guint64
gst_memmap_cache_dir_get_usage (GstMemmapCacheDir * dir)
{
  ScanData scan = scan_dir (dir);

  g_array_unref (scan.entries);
  return scan.total;
}

/**
 * gst_memmap_cache_dir_enforce_budget:
 * @dir: a cache directory
 * @max_size: the budget, bytes on disk
 * @reserve: bytes about to be added
 * @keep: (nullable): a hash never to evict (the caller's own)
 * @n_evicted: (out): streams evicted
 *
 * Evicts whole cached streams, least recently used first, until the bytes
 * on disk plus @reserve fit in @max_size or nothing else can go (entries in
 * use by any process are skipped).
 *
 * Returns: the bytes on disk afterwards
 */
guint64
gst_memmap_cache_dir_enforce_budget (GstMemmapCacheDir * dir,
    guint64 max_size, guint64 reserve, const gchar * keep, guint * n_evicted)
{
  ScanData scan = scan_dir (dir);
  guint i;

  *n_evicted = 0;
  if (scan.total + reserve > max_size) {
    g_array_sort (scan.entries, compare_last_use);
    for (i = 0; i < scan.entries->len; i++) {
      DirEntry *e = &g_array_index (scan.entries, DirEntry, i);

      if (scan.total + reserve <= max_size)
        break;
      if (keep && strcmp (keep, e->hash) == 0)
        continue;
      if (evict (dir, e->hash)) {
        scan.total -= MIN (scan.total, e->bytes);
        (*n_evicted)++;
      }
    }
  }
  g_array_unref (scan.entries);

  return scan.total;
}

typedef struct
{
  gint fd;
  GPtrArray *hashes;
  guint n_evicting;
} EntriesData;

static void
list_entry (const gchar * name, gpointer data)
{
  EntriesData *list = data;
  struct stat st;

  if (g_str_has_prefix (name, EVICT_PREFIX))
    list->n_evicting++;
  else if (gst_memmap_cache_is_hash_name (name) &&
      fstatat (list->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR (st.st_mode))
    g_ptr_array_add (list->hashes, g_strdup (name));
}

/**
 * gst_memmap_cache_dir_list_entries:
 * @dir: a cache directory
 * @n_evicting: (out) (optional): entries being evicted (or left behind by
 *   an eviction that died)
 *
 * Changes nothing (no leftover is deleted).
 *
 * Returns: (transfer full): the hashes of the entries (directories only),
 *   in no order, %NULL-terminated
 */
gchar **
gst_memmap_cache_dir_list_entries (GstMemmapCacheDir * dir, guint * n_evicting)
{
  EntriesData list = { dir->fd, g_ptr_array_new (), 0 };

  cachedir_for_each_name (dir->fd, list_entry, &list);
  if (n_evicting)
    *n_evicting = list.n_evicting;
  g_ptr_array_add (list.hashes, NULL);
  return (gchar **) g_ptr_array_free (list.hashes, FALSE);
}

/**
 * gst_memmap_cache_dir_get_index_usage:
 * @dir: a cache directory
 *
 * Returns: the bytes on disk of the frames API's index files
 */
guint64
gst_memmap_cache_dir_get_index_usage (GstMemmapCacheDir * dir)
{
  guint64 bytes;
  gint fd = openat (dir->fd, INDEX_DIR_NAME, O_RDONLY | O_DIRECTORY |
      O_NOFOLLOW | O_CLOEXEC);

  /* sizes only: whoever's it is */
  if (fd < 0)
    return 0;
  bytes = cachedir_bytes (fd);
  close (fd);
  return bytes;
}

/* The index directory, the user's own, made if @make. */
static gint
open_index_dir (GstMemmapCacheDir * dir, gboolean make)
{
  if (make && mkdirat (dir->fd, INDEX_DIR_NAME, 0700) < 0 && errno != EEXIST)
    GST_DEBUG ("could not make %s/" INDEX_DIR_NAME ": %s", dir->path,
        g_strerror (errno));
  return cachedir_open_own (dir->fd, dir->path, INDEX_DIR_NAME, O_RDONLY, 0,
      S_IFDIR);
}

/* The index file's name (it also says it inside) */
static gchar *
index_name (const gchar * index_key)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, index_key, -1);
}

/* The entry in the index file @data, if it says it is the file @name. */
static gchar *
index_parse (const gchar * data, gsize len, const gchar * where,
    const gchar * name, guint * generation)
{
  GKeyFile *kf = g_key_file_new ();
  gchar *key = NULL, *hash = NULL;

  if (g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, NULL) &&
      g_key_file_get_integer (kf, INDEX_GROUP, "version", NULL) == 2) {
    key = g_key_file_get_string (kf, INDEX_GROUP, "key", NULL);
    hash = g_key_file_get_string (kf, INDEX_GROUP, "entry", NULL);
    *generation = (guint) CLAMP (g_key_file_get_integer (kf, INDEX_GROUP,
            "generation", NULL), 0, G_MAXINT);
  }
  g_key_file_free (kf);
  if (hash && (key == NULL || strcmp (key, name) != 0)) {
    GST_WARNING ("%s/%s says it is the index file '%s': refused", where, name,
        GST_STR_NULL (key));
    g_clear_pointer (&hash, g_free);
  }
  if (hash && !gst_memmap_cache_is_hash_name (hash))
    g_clear_pointer (&hash, g_free);
  g_free (key);
  return hash;
}

/**
 * gst_memmap_cache_dir_index_lookup:
 * @dir: a cache directory
 * @index_key: what identifies the frames (a file's identity and format)
 * @generation: (out): the generation of the key the entry was recorded with
 *
 * Reads the index file of @index_key: only the user's own regular file in
 * the user's own `frames/`, and only if it says it is that key's.
 *
 * Returns: (transfer full) (nullable): the hash of the entry that held the
 *   frames of @index_key last time, or %NULL
 */
gchar *
gst_memmap_cache_dir_index_lookup (GstMemmapCacheDir * dir,
    const gchar * index_key, guint * generation)
{
  gchar *name, *where, *data, *hash = NULL;
  gsize len = 0;
  gint ifd, fd;

  *generation = 0;
  ifd = open_index_dir (dir, FALSE);
  if (ifd < 0)
    return NULL;
  name = index_name (index_key);
  where = g_build_filename (dir->path, INDEX_DIR_NAME, NULL);
  fd = cachedir_open_own (ifd, where, name, O_RDONLY, 0, S_IFREG);
  if (fd >= 0) {
    data = cachedir_read_small (fd, INDEX_MAX_SIZE, &len);
    if (data)
      hash = index_parse (data, len, where, name, generation);
    g_free (data);
    close (fd);
  }
  close (ifd);
  g_free (where);
  g_free (name);
  return hash;
}

/**
 * gst_memmap_cache_dir_index_store:
 * @dir: a cache directory
 * @index_key: what identifies the frames
 * @hash: the entry that holds them
 * @generation: the generation of the key it was recorded with
 *
 * Records that the frames of @index_key are in the entry @hash (best
 * effort: a failure is only logged). The file says whose it is (the hash
 * of @index_key, its name) and which entry it points to.
 */
void
gst_memmap_cache_dir_index_store (GstMemmapCacheDir * dir,
    const gchar * index_key, const gchar * hash, guint generation)
{
  gchar *name, *data;
  GKeyFile *kf;
  gint ifd, err;

  ifd = open_index_dir (dir, TRUE);
  if (ifd < 0)
    return;
  name = index_name (index_key);
  kf = g_key_file_new ();
  g_key_file_set_integer (kf, INDEX_GROUP, "version", 2);
  g_key_file_set_string (kf, INDEX_GROUP, "key", name);
  g_key_file_set_string (kf, INDEX_GROUP, "entry", hash);
  g_key_file_set_integer (kf, INDEX_GROUP, "generation", generation);
  data = g_key_file_to_data (kf, NULL, NULL);
  g_key_file_free (kf);
  err = cachedir_write_atomic (ifd, name, data, strlen (data));
  if (err != 0)
    GST_DEBUG ("could not write %s/" INDEX_DIR_NAME "/%s: %s", dir->path,
        name, g_strerror (err));
  close (ifd);
  g_free (name);
  g_free (data);
}
