/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The walk upstream of memmapcache: from its sink pad's peer through ghost
 * and proxy pads, and through every element with one internally linked sink
 * pad, until a GstVideoDecoder (or an element that has not exactly one: a
 * source, a muxer). What it finds is used twice:
 *
 * - the decoder's sink pad, where memmapcache drops the packets whose frames
 *   are all cached;
 * - the stream's identity: the decoder and every element passed on the way
 *   that may change pixels, as its factory name and its non-default
 *   properties (gst_value_serialize), so that `uridecodebin ! videoflip !
 *   memmapcache` and `uridecodebin ! memmapcache` are different streams.
 *
 * Elements known to keep pixels as they are (queues, capsfilter, tee,
 * streamsynchronizer, identity without side effects, and videoconvert or
 * videoscale with default properties: the caps, in the identity, say what
 * they make) are left out of the identity. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmemmapcachewalk.h"

#include <gst/video/video.h>
#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_memmap_cache_debug);
#define GST_CAT_DEFAULT gst_memmap_cache_debug

/* the walk gives up after this many pads */
#define MAX_STEPS 64

static const gchar *const keeps_pixels[] = {
  "queue", "queue2", "multiqueue", "capsfilter", "streamsynchronizer",
  "tee", NULL
};

/* properties of these elements that change nothing in the frames */
static const gchar *const harmless_props[] = {
  "name", "parent", "silent", "sync", "dump", "signal-handoffs",
  "check-imperfect-timestamp", "check-imperfect-offset", "drop-allocation",
  "qos", "n-threads", NULL
};

static gboolean
in_list (const gchar * const *list, const gchar * s)
{
  for (; *list; list++)
    if (strcmp (*list, s) == 0)
      return TRUE;
  return FALSE;
}

/* "factory prop=value ..." for the non-default properties of @element;
 * *@only_harmless: none of them changes frames (for identity/videoconvert
 * with only those). */
static gchar *
describe_element (GstElement * element, gboolean * only_harmless)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  GParamSpec **specs;
  GString *s;
  guint i, n;

  s = g_string_new (factory ? gst_plugin_feature_get_name (factory) :
      G_OBJECT_TYPE_NAME (element));
  *only_harmless = TRUE;
  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (element), &n);
  for (i = 0; i < n; i++) {
    GParamSpec *spec = specs[i];
    GValue value = G_VALUE_INIT;
    gchar *str;

    if ((spec->flags & G_PARAM_READWRITE) != G_PARAM_READWRITE ||
        strcmp (spec->name, "name") == 0 || strcmp (spec->name, "parent") == 0)
      continue;
    g_value_init (&value, spec->value_type);
    g_object_get_property (G_OBJECT (element), spec->name, &value);
    if (!g_param_value_defaults (spec, &value)) {
      str = gst_value_serialize (&value);
      g_string_append_printf (s, " %s=%s", spec->name, str ? str : "?");
      g_free (str);
      if (!in_list (harmless_props, spec->name))
        *only_harmless = FALSE;
    }
    g_value_unset (&value);
  }
  g_free (specs);

  return g_string_free (s, FALSE);
}

/* Whether @element goes into the identity, and as what. */
static void
add_element (GString * chain, GstElement * element)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  const gchar *name = factory ? gst_plugin_feature_get_name (factory) : "";
  gboolean only_harmless;
  gchar *desc;

  if (in_list (keeps_pixels, name))
    return;
  desc = describe_element (element, &only_harmless);
  if (only_harmless && (strcmp (name, "identity") == 0 ||
          strcmp (name, "videoconvert") == 0 ||
          strcmp (name, "videoscale") == 0)) {
    g_free (desc);
    return;
  }
  /* upstream first, as the frames go */
  g_string_prepend (chain, "\n");
  g_string_prepend (chain, desc);
  g_free (desc);
}

/* The only sink pad @src is internally linked to, or NULL. */
static GstPad *
single_sink_link (GstPad * src)
{
  GstIterator *it = gst_pad_iterate_internal_links (src);
  GValue item = G_VALUE_INIT;
  GstPad *found = NULL;
  gboolean done = FALSE, several = FALSE;

  if (it == NULL)
    return NULL;
  while (!done) {
    switch (gst_iterator_next (it, &item)) {
      case GST_ITERATOR_OK:
        if (found)
          several = TRUE;
        else
          found = gst_object_ref (g_value_get_object (&item));
        g_value_reset (&item);
        break;
      case GST_ITERATOR_RESYNC:
        gst_clear_object (&found);
        several = FALSE;
        gst_iterator_resync (it);
        break;
      default:
        done = TRUE;
        break;
    }
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  if (several)
    gst_clear_object (&found);
  return found;
}

void
gst_memmap_cache_walk_upstream (GstPad * sinkpad, GstMemmapCacheWalk * walk)
{
  GString *chain = g_string_new ("");
  GstPad *pad = gst_pad_get_peer (sinkpad);
  guint steps;

  memset (walk, 0, sizeof (*walk));
  for (steps = 0; pad && steps < MAX_STEPS; steps++) {
    GstElement *element;
    GstPad *next = NULL;

    if (GST_IS_GHOST_PAD (pad)) {
      /* a bin's src pad: into the bin */
      next = gst_ghost_pad_get_target (GST_GHOST_PAD (pad));
    } else if (GST_IS_PROXY_PAD (pad)) {
      /* the inside of a bin's sink pad: out of the bin */
      GstObject *ghost = gst_object_get_parent (GST_OBJECT (pad));

      if (ghost && GST_IS_PAD (ghost))
        next = gst_pad_get_peer (GST_PAD (ghost));
      gst_clear_object (&ghost);
    } else if ((element = gst_pad_get_parent_element (pad))) {
      if (GST_IS_VIDEO_DECODER (element)) {
        gboolean harmless;
        gchar *desc = describe_element (element, &harmless);

        g_string_prepend (chain, "\n");
        g_string_prepend (chain, desc);
        g_free (desc);
        walk->decoder = element;
        walk->decoder_sink =
            gst_object_ref (GST_VIDEO_DECODER_SINK_PAD (element));
        gst_object_unref (pad);
        pad = NULL;
        break;
      } else {
        GstPad *sink = single_sink_link (pad);

        add_element (chain, element);
        if (sink) {
          next = gst_pad_get_peer (sink);
          gst_object_unref (sink);
        }
      }
      gst_object_unref (element);
    }
    gst_object_unref (pad);
    pad = next;
  }
  gst_clear_object (&pad);
  walk->chain = g_string_free (chain, FALSE);
  GST_DEBUG_OBJECT (sinkpad, "decoder %" GST_PTR_FORMAT ", chain:\n%s",
      walk->decoder, walk->chain);
}

void
gst_memmap_cache_walk_clear (GstMemmapCacheWalk * walk)
{
  gst_clear_object (&walk->decoder);
  gst_clear_object (&walk->decoder_sink);
  g_clear_pointer (&walk->chain, g_free);
}
