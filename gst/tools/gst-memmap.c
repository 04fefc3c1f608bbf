/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gst-memmap: inspect, check, fill and read frame stores
 * (docs/store-format.md) and memmapcache cache directories.
 *
 *   gst-memmap info STORE
 *   gst-memmap verify STORE
 *   gst-memmap ingest VIDEO -o STORE [--start N] [--count M] [--format F]
 *   gst-memmap export STORE [--frame N] -o FRAME.png
 *   gst-memmap stats [CACHE_DIR]
 *
 * Exit status: 0 success, 1 failure (for verify: the store is not valid),
 * 2 usage error. Errors go to stderr and name the file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  const gchar *name;
  const gchar *synopsis;
  const gchar *summary;
    gint (*run) (gint argc, gchar ** argv);
} Command;

static const Command commands[] = {
  {"info", "STORE", "describe a frame store", cmd_info},
  {"verify", "STORE", "check a frame store completely (exit 0 = valid)",
      cmd_verify},
  {"ingest", "VIDEO -o STORE [--start N] [--count M] [--format F]",
      "decode a video into a frame store", cmd_ingest},
  {"export", "STORE [--frame N] -o FILE.png", "write one frame as a PNG",
      cmd_export},
  {"stats", "[CACHE_DIR]", "what a memmapcache cache directory holds",
      cmd_stats},
};

static void
usage (FILE * to)
{
  guint i;

  fprintf (to, "Usage: gst-memmap COMMAND [OPTION...] ARGS\n\n"
      "Frame stores (docs/store-format.md) and memmapcache directories.\n\n"
      "Commands:\n");
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (to, "  %-8s %s\n           %s\n", commands[i].name,
        commands[i].synopsis, commands[i].summary);
  fprintf (to, "\n'gst-memmap COMMAND --help' describes a command.\n"
      "Exit status: 0 success, 1 failure (verify: the store is not valid), "
      "2 usage error.\n");
}

int
main (int argc, char **argv)
{
  const gchar *name;
  gchar *prgname;
  guint i;
  gint ret;

  setlocale (LC_ALL, "");

  if (argc < 2) {
    usage (stderr);
    return EXIT_USAGE;
  }
  name = argv[1];
  if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0 ||
      strcmp (name, "help") == 0) {
    if (strcmp (name, "help") == 0 && argc > 2) {
      /* gst-memmap help COMMAND = gst-memmap COMMAND --help */
      gchar *args[] = { argv[0], argv[2], (gchar *) "--help", NULL };
      return main (3, args);
    }
    usage (stdout);
    return EXIT_OK;
  }
  if (strcmp (name, "--version") == 0) {
    g_print ("gst-memmap %s\n", PACKAGE_VERSION);
    return EXIT_OK;
  }

  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      break;
  if (i == G_N_ELEMENTS (commands)) {
    g_printerr ("gst-memmap: unknown command '%s'\n\n", name);
    usage (stderr);
    return EXIT_USAGE;
  }

  gst_init (NULL, NULL);
  gst_memmap_init ();

  prog_command = commands[i].name;
  prgname = g_strdup_printf ("gst-memmap %s", commands[i].name);
  g_set_prgname (prgname);
  /* the command sees argv[0] = its name, then its own arguments */
  ret = commands[i].run (argc - 1, argv + 1);
  g_free (prgname);

  return ret;
}
