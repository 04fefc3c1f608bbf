/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Linked into every libFuzzer target (meson -Dfuzzing=true): the target's
 * one-time set-up before libFuzzer's first input.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fuzz-common.h"

gboolean fuzz_replay_mode = FALSE;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  return 0;
}
