/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gst-memmap verify STORE: reads every slot and checks the index; exit 1
 * when the store is not valid. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst-memmap-tool.h"

#include <setjmp.h>
#include <signal.h>
#include <string.h>

/* Reading the slots of a store that someone truncates under the mapping
 * raises SIGBUS; verify's own reads are guarded so that it reports the
 * file instead of dying. */
static sigjmp_buf verify_jmp;
static volatile sig_atomic_t verify_guarded = 0;
static volatile guint64 verify_sink;

static void
verify_sigbus (int sig)
{
  if (verify_guarded)
    siglongjmp (verify_jmp, 1);
  signal (sig, SIG_DFL);
  raise (sig);
}

static guint64
hash_bytes (const guint8 * data, gsize size)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  gsize i;

  for (i = 0; i + 8 <= size; i += 8) {
    guint64 w;

    memcpy (&w, data + i, 8);
    h = (h ^ w) * G_GUINT64_CONSTANT (0x100000001b3);
  }
  for (; i < size; i++)
    h = (h ^ data[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  return h;
}

/* Reads every byte of @data (so that every page is faulted in and read).
 * FALSE if that raised SIGBUS. */
static gboolean
read_all (const guint8 * data, gsize size)
{
  struct sigaction sa, old_sa;
  gboolean ok = TRUE;

  memset (&sa, 0, sizeof (sa));
  sa.sa_handler = verify_sigbus;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGBUS, &sa, &old_sa);
  if (sigsetjmp (verify_jmp, 1) == 0) {
    verify_guarded = 1;
    verify_sink = hash_bytes (data, size);
  } else {
    ok = FALSE;
  }
  verify_guarded = 0;
  sigaction (SIGBUS, &old_sa, NULL);
  return ok;
}

/* What verify has seen so far. */
typedef struct
{
  GstMemmapStoreReader *reader;
  const gchar *path;
  GHashTable *slots;            /* slot -> the frame in it */
  gboolean sums;
  guint64 committed, first;
  guint64 bytes, checked, gone, bad_sums;
  Progress progress;
} Verify;

typedef enum
{
  VERIFY_FRAME_OK,              /* checked */
  VERIFY_FRAME_GONE,            /* left the ring while verify read it */
  VERIFY_FRAME_ERROR,           /* @error says why */
  VERIFY_FRAME_INVALID,         /* the store is not valid: said on stderr */
} VerifyFrameResult;

/* Checks frame @f: its index entry, that no other frame is in its slot,
 * its checksum (listing a mismatch and going on) and every byte of its
 * slot. */
static VerifyFrameResult
verify_frame (Verify * v, guint64 f, GError ** err)
{
  GstMemmapStoreEntry entry;
  GstBuffer *buf;
  GstMapInfo map;
  guint64 *key, *dup_of;

  if (!gst_memmap_store_reader_get_entry (v->reader, f, &entry, err)) {
    /* a ring being written moves on while we read: not corruption */
    if ((*err)->domain == GST_MEMMAP_ERROR &&
        (*err)->code == GST_MEMMAP_ERROR_INVALID_ARGUMENT &&
        f < gst_memmap_store_reader_get_first_frame (v->reader)) {
      g_clear_error (err);
      v->gone++;
      return VERIFY_FRAME_GONE;
    }
    return VERIFY_FRAME_ERROR;
  }
  dup_of = g_hash_table_lookup (v->slots, &entry.slot);
  if (dup_of != NULL) {
    progress_done (&v->progress);
    fail ("%s: CORRUPT: frames %" G_GUINT64_FORMAT " and %"
        G_GUINT64_FORMAT " are both in slot %" G_GUINT64_FORMAT, v->path,
        *dup_of, f, entry.slot);
    return VERIFY_FRAME_INVALID;
  }
  key = g_new (guint64, 1);
  *key = entry.slot;
  g_hash_table_insert (v->slots, key, g_memdup2 (&f, sizeof (f)));

  if (v->sums && !gst_memmap_store_reader_verify_frame (v->reader, f, err)) {
    if (!g_error_matches (*err, GST_MEMMAP_ERROR, GST_MEMMAP_ERROR_CORRUPT))
      return VERIFY_FRAME_ERROR;
    progress_done (&v->progress);
    fail ("%s: CORRUPT: %s", v->path, (*err)->message);
    g_clear_error (err);
    v->bad_sums++;
  }

  buf = gst_memmap_store_reader_get_buffer (v->reader, NULL, f, err);
  if (buf == NULL)
    return VERIFY_FRAME_ERROR;
  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    progress_done (&v->progress);
    fail ("%s: could not map frame %" G_GUINT64_FORMAT, v->path, f);
    return VERIFY_FRAME_INVALID;
  }
  if (!read_all (map.data, map.size)) {
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    progress_done (&v->progress);
    fail ("%s: CORRUPT: the file was truncated under frame %"
        G_GUINT64_FORMAT " (reading its slot raised SIGBUS)", v->path, f);
    return VERIFY_FRAME_INVALID;
  }
  v->bytes += map.size;
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  v->checked++;
  return VERIFY_FRAME_OK;
}

/* The lines of a valid store. */
static void
verify_print_ok (const Verify * v)
{
  gchar *b = format_size (v->bytes);

  if (v->checked > 0)
    g_print ("%s: OK: %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
        "..%" G_GUINT64_FORMAT "), %s read\n", v->path, v->checked,
        v->committed - v->checked - v->gone, v->committed - 1, b);
  else
    g_print ("%s: OK: no frames\n", v->path);
  if (v->gone > 0)
    g_print ("%s: %" G_GUINT64_FORMAT " frames left the ring while they "
        "were checked\n", v->path, v->gone);
  g_print ("%s: %s\n", v->path, v->sums ? "every frame matches its checksum" :
      "no checksums (written without them): frames were read, not " "compared");
  g_free (b);
}

gint
cmd_verify (gint argc, gchar ** argv)
{
  GOptionContext *ctx;
  GstMemmapEngine *engine;
  Verify v = { NULL, };
  GError *err = NULL;
  guint64 f;
  gboolean quiet = FALSE;
  gint ret = EXIT_FAIL;
  GOptionEntry entries[] = {
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
        "Print nothing when the store is valid", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("STORE - check a frame store completely");
  g_option_context_set_summary (ctx,
      "Validates the header, every index entry of the frames that can be\n"
      "read, that no two frames share a slot, and reads every byte of every\n"
      "frame's slot. In a store written with checksums (memmapsink\n"
      "checksum=true) every frame's bytes are compared with its checksum,\n"
      "and every frame that does not match is listed.\n\n"
      "Exit status: 0 the store is valid, 1 it is not (corrupt, truncated,\n"
      "not a frame store, unreadable or missing), 2 usage error.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  v.path = parse_store_command (ctx, &argc, &argv);
  if (v.path == NULL)
    return EXIT_USAGE;

  engine = gst_memmap_engine_get_default ();
  v.reader = gst_memmap_store_reader_open (engine, v.path, &err);
  if (v.reader == NULL)
    goto failed;

  v.committed = gst_memmap_store_reader_get_committed (v.reader);
  v.first = gst_memmap_store_reader_get_first_frame (v.reader);
  /* the checksums are checked below, frame by frame, to list every bad
   * frame: the reads after need not check them again */
  v.sums = gst_memmap_store_reader_has_checksums (v.reader);
  gst_memmap_store_reader_set_verify (v.reader, FALSE);
  v.slots = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  progress_init (&v.progress);

  for (f = v.first; f < v.committed; f++) {
    switch (verify_frame (&v, f, &err)) {
      case VERIFY_FRAME_OK:
        break;
      case VERIFY_FRAME_GONE:
        continue;
      case VERIFY_FRAME_ERROR:
        progress_done (&v.progress);
        goto failed;
      case VERIFY_FRAME_INVALID:
        goto done;
    }

    if (v.progress.enabled && (f % 16 == 0 || f + 1 == v.committed)) {
      gchar *what = g_strdup_printf ("frame %" G_GUINT64_FORMAT " of %"
          G_GUINT64_FORMAT, f + 1, v.committed);

      progress_draw (&v.progress, (gdouble) (f + 1 - v.first) /
          (v.committed - v.first), what);
      g_free (what);
    }
  }
  progress_done (&v.progress);

  if (v.bad_sums > 0) {
    fail ("%s: CORRUPT: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " frames do not match their checksums", v.path, v.bad_sums, v.checked);
    goto done;
  }

  if (!quiet)
    verify_print_ok (&v);
  ret = EXIT_OK;
  goto done;

failed:
  if (err->domain == GST_MEMMAP_ERROR && (err->code ==
          GST_MEMMAP_ERROR_CORRUPT || err->code == GST_MEMMAP_ERROR_VERSION))
    fail ("CORRUPT: %s", err->message);
  else
    fail ("%s", err->message);
  g_clear_error (&err);
done:
  if (v.slots)
    g_hash_table_unref (v.slots);
  gst_memmap_store_reader_unref (v.reader);
  return ret;
}
