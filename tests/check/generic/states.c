/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every element of the memmap plugin, cycled through the states up and down
 * in the orders GStreamer's own generic states test uses; like that test,
 * every state change must succeed. Each element is given what it needs to
 * run, in a private directory, so that the cycle opens and closes for real
 * what it would open in a pipeline: a sink a new store, memmapsrc a store
 * recorded by setup(), memmapcache a cache directory. An element of the
 * plugin this test does not know fails the test until it is added here.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "../memmap-test-util.h"

static GList *elements = NULL;
static gchar *store;            /* a store of 5 frames, for memmapsrc */

/* Records @path with memmapsink. */
static void
record_store (const gchar * path)
{
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=5 ! "
      "video/x-raw,format=GRAY8,width=64,height=48,framerate=30/1 ! "
      "memmapsink location=\"%s\"", path);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstMessage *msg;

  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "could not record %s", path);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);
}

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

  store = test_path ("recorded.store");
  record_store (store);
}

static void
teardown (void)
{
  g_list_free_full (elements, g_free);
  elements = NULL;
  g_clear_pointer (&store, g_free);
  memmap_test_remove_tmpdir ();
}

/* The element @name, given what it needs to run (see the top). */
static GstElement *
make_element (const gchar * name)
{
  GstElement *element = gst_element_factory_make (name, name);

  fail_if (element == NULL, "Could not make element from factory %s", name);

  if (g_str_equal (name, "memmapsink")) {
    gchar *location = test_path ("memmapsink.store");

    g_object_set (element, "location", location, NULL);
    g_free (location);
  } else if (g_str_equal (name, "memmapsrc")) {
    g_object_set (element, "location", store, NULL);
  } else if (g_str_equal (name, "memmapcache")) {
    gchar *cache_dir = test_path ("cache");

    g_object_set (element, "cache-dir", cache_dir, NULL);
    g_free (cache_dir);
  } else if (g_str_equal (name, "memmaprtpframefilter")) {
    /* a filter: nothing to open */
  } else {
    fail ("element %s: states.c does not know what it needs to run", name);
  }

  return element;
}

static void
cycle (const GstState * states, guint n_states)
{
  GList *e;

  for (e = elements; e; e = e->next) {
    const gchar *name = e->data;
    GstElement *element = make_element (name);
    guint i;

    GST_INFO ("testing element %s", name);
    for (i = 0; i < n_states; i++) {
      GstStateChangeReturn ret = gst_element_set_state (element, states[i]);

      fail_if (ret == GST_STATE_CHANGE_FAILURE,
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
