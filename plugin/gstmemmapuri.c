/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * URIs of frame stores, shared by memmapsrc, memmapsink and the typefinder.
 *
 * `memmap:///path/to/clip.store` names a store the way `file://` names a
 * file: an absolute, percent-encoded path, no host (or `localhost`).
 * memmapsrc also handles `file://` URIs, but only of files that are frame
 * stores when it is given the URI (their first bytes are the store format's
 * magic, GST_MEMMAP_STORE_MAGIC): it ranks above filesrc for `file`, and
 * gst_element_make_from_uri() (playbin, uridecodebin, urisourcebin, the
 * discoverer) goes on to the next handler of the scheme, filesrc, when
 * set_uri() refuses. docs/elements.md, "URIs and playbin", has the why.
 *
 * The check opens the file and reads its first bytes, nothing more: no
 * second parser of the format (the typefinder uses the same check, and
 * memmapsrc's reader validates the whole header when it opens the store).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapuri.h"

#include <gst/memmap/gstmemmapstoreformat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* TRUE if @data (@size bytes from the start of a file) begins with the
 * frame store format's magic. */
gboolean
gst_memmap_uri_has_store_magic (const guint8 * data, gsize size)
{
  return data != NULL && size >= GST_MEMMAP_STORE_MAGIC_SIZE &&
      memcmp (data, GST_MEMMAP_STORE_MAGIC, GST_MEMMAP_STORE_MAGIC_SIZE) == 0;
}

/* TRUE if @path is a regular file that starts with the store magic; else
 * FALSE with a GST_URI_ERROR_BAD_REFERENCE that says why. Never blocks: a
 * FIFO or a device is refused before anything is read. */
gboolean
gst_memmap_uri_file_is_store (const gchar * path, GError ** error)
{
  guint8 magic[GST_MEMMAP_STORE_MAGIC_SIZE];
  struct stat st;
  ssize_t n;
  gint fd, err;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0)
    goto open_failed;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    goto not_regular;
  do {
    n = pread (fd, magic, sizeof (magic), 0);
  } while (n < 0 && errno == EINTR);
  err = errno;
  close (fd);
  if (n < 0)
    goto read_failed;
  if (!gst_memmap_uri_has_store_magic (magic, n))
    goto not_a_store;

  return TRUE;

  /* ERRORS */
open_failed:
  {
    err = errno;
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_REFERENCE,
        "Could not open '%s': %s", path, g_strerror (err));
    return FALSE;
  }
not_regular:
  {
    close (fd);
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_REFERENCE,
        "'%s' is not a regular file, hence not a frame store", path);
    return FALSE;
  }
read_failed:
  {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_REFERENCE,
        "Could not read '%s': %s", path, g_strerror (err));
    return FALSE;
  }
not_a_store:
  {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_REFERENCE,
        "'%s' is not a frame store (no frame store magic at its start)", path);
    return FALSE;
  }
}

/* The path a `memmap://` or `file://` URI names; NULL with a
 * GST_URI_ERROR otherwise. */
gchar *
gst_memmap_uri_to_location (const gchar * uri, GError ** error)
{
  gchar *protocol, *file_uri = NULL, *location = NULL;
  GError *err = NULL;

  protocol = gst_uri_get_protocol (uri);
  if (protocol == NULL)
    goto invalid;
  if (g_ascii_strcasecmp (protocol, "file") == 0)
    file_uri = g_strdup (uri);
  else if (g_ascii_strcasecmp (protocol, GST_MEMMAP_URI_SCHEME) == 0)
    file_uri = g_strconcat ("file", uri + strlen (protocol), NULL);
  else
    goto unsupported;

  location = g_filename_from_uri (file_uri, NULL, &err);
  if (location == NULL)
    goto bad_path;

  g_free (file_uri);
  g_free (protocol);
  return location;

  /* ERRORS */
invalid:
  {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "Invalid URI '%s'", uri);
    return NULL;
  }
unsupported:
  {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_UNSUPPORTED_PROTOCOL,
        "URI scheme '%s' is not supported: use memmap:// or file://", protocol);
    g_free (protocol);
    return NULL;
  }
bad_path:
  {
    /* memmap://clip.store reads clip.store as a host name */
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "URI '%s' does not name a local file (%s): a %s URI holds an "
        "absolute path, as in %s:///path/to/clip.store", uri, err->message,
        protocol, protocol);
    g_clear_error (&err);
    g_free (file_uri);
    g_free (protocol);
    return NULL;
  }
}

/* The URI of @location (a path, relative to the working directory or
 * absolute) in @scheme ("file" or "memmap"); NULL if it has none. */
gchar *
gst_memmap_uri_from_location (const gchar * location, const gchar * scheme)
{
  gchar *file_uri, *uri;

  if (location == NULL || location[0] == '\0')
    return NULL;
  file_uri = gst_filename_to_uri (location, NULL);
  if (file_uri == NULL || g_ascii_strcasecmp (scheme, "file") == 0)
    return file_uri;

  /* file_uri starts with "file:" */
  uri = g_strconcat (scheme, file_uri + strlen ("file"), NULL);
  g_free (file_uri);
  return uri;
}

/* A `location` property's value as a path: a `file://` or `memmap://` URI
 * becomes the path it names (a malformed one is kept as it is, and opening
 * it fails with the element's usual error). @is_file_uri (nullable): set
 * to whether @value was a file:// URI. */
gchar *
gst_memmap_uri_location_from_property (const gchar * value,
    gboolean * is_file_uri)
{
  gchar *location;

  if (is_file_uri)
    *is_file_uri = FALSE;
  if (value == NULL)
    return NULL;
  if (!gst_uri_has_protocol (value, "file") &&
      !gst_uri_has_protocol (value, GST_MEMMAP_URI_SCHEME))
    return g_strdup (value);

  location = gst_memmap_uri_to_location (value, NULL);
  if (location == NULL)
    return g_strdup (value);
  if (is_file_uri)
    *is_file_uri = gst_uri_has_protocol (value, "file");
  return location;
}
