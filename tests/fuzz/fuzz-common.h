/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every fuzz target of tests/fuzz/ shares: one-time initialisation
 * (without libFuzzer's main, replay.c initialises gst-check itself) and the
 * checks on the errors a target gets back.
 */
#pragma once

#include <gst/gst.h>
#include <gst/memmap/memmap.h>

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* TRUE in tests/fuzz/replay.c (set before the first input) */
extern gboolean fuzz_replay_mode;

/* A finding: says what, then abort() (which libFuzzer catches and turns
 * into a crash-* artifact; g_error() would raise SIGTRAP, which it does
 * not). */
#define FUZZ_FAIL(...)                                                  \
  G_STMT_START {                                                        \
    g_printerr ("FUZZ FAILURE: ");                                      \
    g_printerr (__VA_ARGS__);                                           \
    g_printerr ("\n");                                                  \
    abort ();                                                           \
  } G_STMT_END

/* An error a target got back must be a GST_MEMMAP_ERROR with a message
 * that says something, in UTF-8 (GLib's rule for GError messages: bindings
 * and GST_ELEMENT_ERROR pass it on as text). */
static inline void
fuzz_check_error (const GError * err)
{
  if (err == NULL)
    FUZZ_FAIL ("a call failed without setting its GError");
  if (err->domain != GST_MEMMAP_ERROR)
    FUZZ_FAIL ("error of domain %s: %s", g_quark_to_string (err->domain),
        err->message);
  if (err->message == NULL || err->message[0] == '\0')
    FUZZ_FAIL ("error %d without a message", err->code);
  if (!g_utf8_validate (err->message, -1, NULL))
    FUZZ_FAIL ("error message is not UTF-8: %s", err->message);
}

static inline void
fuzz_log_handler (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
          G_LOG_LEVEL_WARNING))
    FUZZ_FAIL ("%s: %s", domain ? domain : "(no domain)", message);
  g_log_default_handler (domain, level, message, user_data);
}

/* libFuzzer mode: no plugins are needed, so none are scanned or loaded
 * (no registry); every GLib critical or warning is a crash. In replay mode
 * gst-check already makes them fail the test. */
static inline void
fuzz_init (void)
{
  static gboolean done = FALSE;

  if (done)
    return;
  done = TRUE;
  if (!fuzz_replay_mode) {
    g_setenv ("GST_REGISTRY_DISABLE", "yes", TRUE);
    g_log_set_default_handler (fuzz_log_handler, NULL);
    gst_init (NULL, NULL);
  }
  gst_memmap_init ();
}
