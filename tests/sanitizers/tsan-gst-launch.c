/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-launch-1.0 for ThreadSanitizer runs (tests/tsan.sh puts it first in
 * the tests' PATH): the system's gst-launch-1.0 is not instrumented and
 * cannot load this project's instrumented plugin (TSan's runtime cannot be
 * preloaded into it), so a test that runs a pipeline in another process
 * (elements_memmapsrc's live writer) gets this one, built with
 * -fsanitize=thread. It does what the tests ask of gst-launch-1.0 only:
 * options (-q and the like) are ignored, the rest is the pipeline, run to
 * EOS; exit status 0 at EOS, 1 on an error.
 */
#include <gst/gst.h>

int
main (int argc, char **argv)
{
  GPtrArray *words = g_ptr_array_new ();
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gboolean ok;
  gint i;

  gst_init (&argc, &argv);
  for (i = 1; i < argc; i++)
    if (argv[i][0] != '-')
      g_ptr_array_add (words, argv[i]);
  g_ptr_array_add (words, NULL);

  pipeline = gst_parse_launchv ((const gchar **) words->pdata, &err);
  g_ptr_array_free (words, TRUE);
  if (pipeline == NULL) {
    g_printerr ("tsan-gst-launch: %s\n", err ? err->message : "no pipeline");
    return 1;
  }

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  ok = msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg != NULL && !ok) {
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("tsan-gst-launch: %s\n", err->message);
    g_clear_error (&err);
  }
  gst_clear_message (&msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return ok ? 0 : 1;
}
