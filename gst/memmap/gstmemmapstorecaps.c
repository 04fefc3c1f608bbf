/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The caps a frame store may hold (docs/store-format.md): the caps
 * features, and the shape of the caps string of a header, checked before
 * any of its bytes reaches GStreamer's caps parser (which g_warning()s or
 * g_critical()s about some malformed strings, and a store file may be
 * hostile).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "memmap.h"
#include "gstmemmapprivate.h"
#include "gstmemmapstoreformat.h"

#include <string.h>

/* The caps features a store may hold: system memory (or none), or
 * format:Interlaced with interlace-mode=alternate (one field per frame,
 * format 1.1). */
gboolean
gst_memmap_store_caps_features_ok (const GstCaps * caps)
{
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);
  const gchar *mode;

  if (features == NULL || gst_caps_features_is_equal (features,
          GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY))
    return TRUE;
  if (gst_caps_features_get_size (features) != 1 ||
      !gst_caps_features_contains (features,
          GST_CAPS_FEATURE_FORMAT_INTERLACED))
    return FALSE;
  mode = gst_structure_get_string (gst_caps_get_structure (caps, 0),
      "interlace-mode");
  return mode != NULL && strcmp (mode, "alternate") == 0;
}

static gboolean
is_token_char (gchar c)
{
  return c != '\0' && (g_ascii_isalnum (c) || strchr ("/-_.:+", c) != NULL);
}

static gboolean
type_ok (const gchar * type, gsize len)
{
  static const gchar *const types[] = { "string", "int", "uint", "int64",
    "uint64", "fraction", "boolean", "double", "float", "bitmask",
    "GstVideoMultiviewFlagsSet", "GstFlagSet", NULL
  };
  guint i;

  for (i = 0; types[i]; i++) {
    if (strlen (types[i]) == len && strncmp (types[i], type, len) == 0)
      return TRUE;
  }
  return FALSE;
}

/* The shape of what gst_caps_to_string() writes for one fixed video/x-raw
 * structure in system memory: "video/x-raw, name=(type)value, ..." where
 * the type is a basic one and a value is a token or, for a string, a
 * quoted string; the one caps feature allowed is "(format:Interlaced)" right
 * after the name (interlace-mode=alternate, format 1.1). Anything else
 * (ranges, lists, other features, nested structures, other media types) is
 * refused before it reaches GStreamer's parser, which g_warning()s or
 * g_critical()s about some malformed strings. */
gboolean
gst_memmap_store_caps_string_ok (const gchar * str)
{
  static const gchar name[] = "video/x-raw";
  static const gchar interlaced[] = "(" GST_CAPS_FEATURE_FORMAT_INTERLACED ")";
  const gchar *s;
  gboolean is_string;

  for (s = str; *s; s++) {
    if (*s < 0x20 || *s > 0x7e)
      return FALSE;
  }

  s = str;
  if (strncmp (s, name, sizeof (name) - 1) != 0)
    return FALSE;
  s += sizeof (name) - 1;
  if (strncmp (s, interlaced, sizeof (interlaced) - 1) == 0)
    s += sizeof (interlaced) - 1;

  while (*s) {
    const gchar *start;

    if (*s++ != ',')
      return FALSE;
    while (*s == ' ')
      s++;
    /* field name */
    if (!g_ascii_isalpha (*s))
      return FALSE;
    while (g_ascii_isalnum (*s) || *s == '-' || *s == '_')
      s++;
    if (*s++ != '=')
      return FALSE;
    /* (type), one of those video caps use */
    if (*s++ != '(')
      return FALSE;
    start = s;
    while (g_ascii_isalnum (*s))
      s++;
    if (*s != ')' || !type_ok (start, s - start))
      return FALSE;
    is_string = (s - start == 6 && strncmp (start, "string", 6) == 0);
    s++;
    /* value */
    if (*s == '"' && is_string) {
      s++;
      while (*s && *s != '"') {
        if (*s == '\\' && *++s == '\0')
          return FALSE;
        s++;
      }
      if (*s++ != '"')
        return FALSE;
    } else {
      start = s;
      while (is_token_char (*s))
        s++;
      if (s == start)
        return FALSE;
    }
  }
  return TRUE;
}

/* gst_video_info_from_caps() g_warning()s about a multiview-mode it does
 * not know: such caps are refused before they get there. The modes are a
 * short list of small enum values. */
gboolean
gst_memmap_store_multiview_mode_known (const gchar * str)
{
  gint m;

  for (m = GST_VIDEO_MULTIVIEW_MODE_MONO; m < 64; m++) {
    const gchar *known = gst_video_multiview_mode_to_caps_string (m);

    if (known != NULL && strcmp (known, str) == 0)
      return TRUE;
  }
  return FALSE;
}
