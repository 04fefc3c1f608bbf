/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every element of the memmap plugin, cycled through the states up and down
 * in the orders GStreamer's own generic states test uses. A sink with a
 * `location` gets a file in a private directory, so that the cycle opens and
 * closes for real what it would open in a pipeline.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "../memmap-test-util.h"

static GList *elements = NULL;

static void
setup (void)
{
  GstPlugin *plugin;
  GList *features, *f;

  memmap_test_make_tmpdir ("memmap-states");

  plugin = gst_registry_find_plugin (gst_registry_get (), "memmap");
  fail_unless (plugin != NULL, "the memmap plugin is not in the registry");

  features = gst_registry_get_feature_list_by_plugin (gst_registry_get (),
      gst_plugin_get_name (plugin));
  for (f = features; f; f = f->next) {
    GstPluginFeature *feature = f->data;

    if (!GST_IS_ELEMENT_FACTORY (feature))
      continue;
    GST_DEBUG ("adding element %s", gst_plugin_feature_get_name (feature));
    elements = g_list_prepend (elements,
        g_strdup (gst_plugin_feature_get_name (feature)));
  }
  gst_plugin_feature_list_free (features);
  gst_object_unref (plugin);

  fail_unless (elements != NULL, "the memmap plugin has no element");
}

static void
teardown (void)
{
  g_list_free_full (elements, g_free);
  elements = NULL;
  memmap_test_remove_tmpdir ();
}

/* Returns whether the element is configured well enough that every state
 * change must succeed; others (a source without a store to read, say) may
 * refuse PAUSED, but must survive the cycle. */
static GstElement *
make_element (const gchar * name, gboolean * configured)
{
  GstElement *element = gst_element_factory_make (name, name);

  fail_if (element == NULL, "Could not make element from factory %s", name);

  *configured = FALSE;
  if (GST_OBJECT_FLAG_IS_SET (element, GST_ELEMENT_FLAG_SINK) &&
      g_object_class_find_property (G_OBJECT_GET_CLASS (element),
          "location")) {
    gchar *file = g_strdup_printf ("%s.store", name);
    gchar *location = test_path (file);

    g_object_set (element, "location", location, NULL);
    g_free (location);
    g_free (file);
    *configured = TRUE;
  }

  return element;
}

static void
cycle (const GstState * states, guint n_states)
{
  GList *e;

  for (e = elements; e; e = e->next) {
    const gchar *name = e->data;
    gboolean configured;
    GstElement *element = make_element (name, &configured);
    guint i;

    GST_INFO ("testing element %s", name);
    for (i = 0; i < n_states; i++) {
      GstStateChangeReturn ret = gst_element_set_state (element, states[i]);

      fail_if (configured && ret == GST_STATE_CHANGE_FAILURE,
          "%s failed to go to %s", name,
          gst_element_state_get_name (states[i]));
    }
    fail_unless_equals_int (gst_element_set_state (element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    gst_object_unref (element);
  }
}

GST_START_TEST (test_state_changes_up_and_down_seq)
{
  static const GstState states[] = {
    GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING, GST_STATE_PAUSED,
    GST_STATE_READY, GST_STATE_NULL, GST_STATE_PAUSED, GST_STATE_READY,
    GST_STATE_PLAYING, GST_STATE_PAUSED, GST_STATE_NULL,
  };

  cycle (states, G_N_ELEMENTS (states));
}

GST_END_TEST;

GST_START_TEST (test_state_changes_up_seq)
{
  static const GstState states[] = {
    GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_PAUSED,
    GST_STATE_PLAYING, GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_NULL,
  };

  cycle (states, G_N_ELEMENTS (states));
}

GST_END_TEST;

GST_START_TEST (test_state_changes_down_seq)
{
  static const GstState states[] = {
    GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING, GST_STATE_PAUSED,
    GST_STATE_PLAYING, GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_PAUSED,
    GST_STATE_PLAYING, GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_NULL,
  };

  cycle (states, G_N_ELEMENTS (states));
}

GST_END_TEST;

static Suite *
states_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("states", setup, teardown, &tc);

  tcase_add_test (tc, test_state_changes_up_and_down_seq);
  tcase_add_test (tc, test_state_changes_up_seq);
  tcase_add_test (tc, test_state_changes_down_seq);

  return s;
}

GST_CHECK_MAIN (states);
