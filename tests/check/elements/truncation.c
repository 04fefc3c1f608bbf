/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The elements when another process truncates the store they have mapped
 * (docs/reliability.md, "Truncation under a live mapping"): memmapsrc and
 * memmapsink post a clear error naming the file, memmapcache warns and
 * plays on from upstream; the process never dies of SIGBUS, although the
 * buffers downstream (read by fakesink's handoff, outside our code) and
 * the producer's writes into memmapsink's slots touch the lost pages.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include <gst/memmap/memmap.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../memmap-test-util.h"

#define N_FRAMES 30
#define CUT_AT 5                /* the frame after which the file is cut */
#define CAPS "video/x-raw,format=I420,width=320,height=240,framerate=30/1"

static void
setup (void)
{
  memmap_test_make_tmpdir ("memmap-etrunc");
}

static void
teardown (void)
{
  memmap_test_remove_tmpdir ();
}

typedef struct
{
  const gchar *path;            /* the file to cut */
  guint64 cut_to;
  guint frames;                 /* buffers that reached the sink */
  guint64 sum;                  /* of every byte of every buffer */
  gboolean cut_in_probe;
  guint probed;
  gboolean cut_later;           /* cut 50 ms after the CUT_AT-th buffer */
  GThread *cutter;
  const gchar *cache_dir;       /* path NULL: cut the store found there */
  GPtrArray *sums;              /* if set: each buffer's checksum */
  GArray *pts;                  /* if set: each buffer's PTS */
} Run;

static gchar *find_cache_store (const gchar * cache_dir);

static gpointer
cut_later (Run * run)
{
  g_usleep (50 * 1000);
  memmap_test_truncate_elsewhere (run->path, run->cut_to);
  return NULL;
}

/* fakesink's handoff: reads every byte (so every page of the store that a
 * buffer covers is touched by code that is not ours), and cuts the file
 * just before it reads the CUT_AT-th buffer */
static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Run * run)
{
  GstMapInfo map;
  gsize i;

  /* cut before this buffer is read: it is read past the new end */
  if (++run->frames == CUT_AT && run->path && run->cut_later)
    run->cutter = g_thread_new ("cut", (GThreadFunc) cut_later, run);
  else if (run->frames == CUT_AT && run->path && !run->cut_in_probe)
    memmap_test_truncate_elsewhere (run->path, run->cut_to);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i++)
    run->sum += map.data[i];
  gst_buffer_unmap (buf, &map);
  if (run->sums) {
    GstCaps *caps = gst_pad_get_current_caps (pad);

    g_ptr_array_add (run->sums, memmap_test_frame_checksum_caps (caps, buf));
    gst_clear_caps (&caps);
  }
  if (run->pts) {
    GstClockTime pts = GST_BUFFER_PTS (buf);

    g_array_append_val (run->pts, pts);
  }
}

/* or the file is cut just before the CUT_AT-th buffer reaches the element
 * named "cut" (memmapsink: the slots the producer writes next are gone) */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, Run * run)
{
  if (++run->probed == CUT_AT && run->path) {
    memmap_test_truncate_elsewhere (run->path, run->cut_to);
  } else if (run->probed == CUT_AT) {
    gchar *store = find_cache_store (run->cache_dir);

    memmap_test_truncate_elsewhere (store, run->cut_to);
    g_free (store);
  }
  return GST_PAD_PROBE_OK;
}

/* Plays @desc to its end; returns the first ERROR or WARNING message of
 * @type (or NULL at EOS) and counts the warnings. */
static GstMessage *
play (const gchar * desc, Run * run, GstMessageType type, guint * warnings)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err), *sink, *cut;
  GstBus *bus;
  GstMessage *msg, *found = NULL;

  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "?");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), run);
  gst_object_unref (sink);
  cut = gst_bin_get_by_name (GST_BIN (pipeline), "cut");
  if (cut) {
    GstPad *pad = gst_element_get_static_pad (cut, "sink");

    run->cut_in_probe = TRUE;
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        (GstPadProbeCallback) on_buffer, run, NULL);
    gst_object_unref (pad);
    gst_object_unref (cut);
  }

  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  while ((msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING && warnings)
      (*warnings)++;
    if (GST_MESSAGE_TYPE (msg) & type && found == NULL) {
      found = gst_message_ref (msg);
    }
    if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_WARNING) {
      gst_message_unref (msg);
      break;
    }
    gst_message_unref (msg);
  }
  fail_unless (msg != NULL, "%s: neither EOS nor an error in 60 s", desc);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (run->cutter)
    g_thread_join (run->cutter);
  run->cutter = NULL;
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return found;
}

static void
record (const gchar * path)
{
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      CAPS " ! memmapsink location=\"%s\"", N_FRAMES, path);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstMessage *msg;

  fail_unless (p != NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (p), 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  g_free (desc);
}

/* error or warning @msg of domain @domain, code @code, whose text says the
 * file was truncated and whose debug text names @path */
static void
assert_truncation_message (GstMessage * msg, GQuark domain, gint code,
    const gchar * path)
{
  GError *err = NULL;
  gchar *debug = NULL;

  fail_unless (msg != NULL, "no message about the truncation");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &err, &debug);
  else
    gst_message_parse_warning (msg, &err, &debug);
  fail_unless (g_error_matches (err, domain, code), "%s", err->message);
  fail_unless (strstr (err->message, "truncated") != NULL, "%s", err->message);
  fail_unless (debug && strstr (debug, path) != NULL, "%s", debug);
  GST_INFO ("%s (%s)", err->message, debug);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
}

GST_START_TEST (test_src_store_truncated_while_read)
{
  gchar *path = test_path ("src.store");
  gchar *desc = g_strdup_printf ("memmapsrc location=\"%s\" ! "
      "fakesink name=sink", path);
  Run run = { path, 0, 0, 0 };
  GstMessage *msg;
  struct stat st;

  record (path);
  fail_unless (stat (path, &st) == 0);
  /* keep the header and the index, lose every frame past the first ones */
  run.cut_to = 3 * 115200;
  msg = play (desc, &run, GST_MESSAGE_ERROR, NULL);
  assert_truncation_message (msg, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
      path);
  /* it stopped at the cut, it did not play zeros to the end */
  fail_unless (run.frames >= CUT_AT && run.frames < N_FRAMES,
      "%u frames", run.frames);

  g_free (desc);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_sink_store_truncated_while_written)
{
  gchar *path = test_path ("sink.store");
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d ! " CAPS
      " ! tee name=t ! queue ! memmapsink name=cut location=\"%s\" t. ! "
      "queue ! fakesink name=sink", N_FRAMES, path);
  Run run = { path, 0, 0, 0 };
  GstMessage *msg;

  msg = play (desc, &run, GST_MESSAGE_ERROR, NULL);
  assert_truncation_message (msg, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_WRITE, path);

  g_free (desc);
  g_free (path);
}

GST_END_TEST;

/* I420 whose every byte is 0: what a frame read after the cut holds */
static gchar *
zero_frame_checksum (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 320 * 240 * 3 / 2, NULL);
  GstCaps *caps = gst_caps_from_string (CAPS);
  gchar *sum;

  gst_buffer_memset (buf, 0, 0, gst_buffer_get_size (buf));
  sum = memmap_test_frame_checksum_caps (caps, buf);
  gst_caps_unref (caps);
  gst_buffer_unref (buf);
  return sum;
}

/* The cache's store is cut while a second pass is served from it: one
 * warning, and the pass plays on from upstream to its end: every frame
 * exactly once, in order, each the first pass's frame (checksums), but the
 * one frame handed out before the cut and read after it, which reads the
 * fault guard's zeros (docs/reliability.md: what the guard cannot do).
 * Upstream is a store of its own (memmapsrc): a stream that stays the same
 * when the cache seeks into it to take over (videotestsrc's num-buffers
 * counts from the seek). */
GST_START_TEST (test_cache_store_truncated_while_served)
{
  gchar *cache_dir = test_path ("cache");
  gchar *upstream = test_path ("upstream.store");
  gchar *desc = g_strdup_printf ("memmapsrc location=\"%s\" ! "
      "memmapcache key=trunc cache-dir=\"%s\" ! fakesink name=sink",
      upstream, cache_dir);
  Run pass1 = { NULL, 0, 0, 0 }, pass2 = { NULL, 4096, 0, 0 };
  GstMessage *msg;
  guint warnings = 0, i, zeros = 0;
  gchar *store = NULL, *zero_sum;
  GDir *dir;
  const gchar *name;

  record (upstream);
  pass1.sums = g_ptr_array_new_with_free_func (g_free);
  pass1.pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  pass2.sums = g_ptr_array_new_with_free_func (g_free);
  pass2.pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  fail_if (play (desc, &pass1, GST_MESSAGE_WARNING, NULL));
  fail_unless_equals_int (pass1.frames, N_FRAMES);
  /* (the ball moves: no two frames alike, a duplicate would show) */
  for (i = 1; i < N_FRAMES; i++)
    fail_if (g_str_equal (g_ptr_array_index (pass1.sums, i - 1),
            g_ptr_array_index (pass1.sums, i)));

  /* the one store of the one cached stream */
  dir = g_dir_open (cache_dir, 0, NULL);
  while (dir && (name = g_dir_read_name (dir)) && store == NULL) {
    gchar *entry = g_build_filename (cache_dir, name, NULL);
    gchar *s = g_build_filename (entry, "s000000.store", NULL);

    if (g_file_test (s, G_FILE_TEST_IS_REGULAR))
      store = s;
    else
      g_free (s);
    g_free (entry);
  }
  if (dir)
    g_dir_close (dir);
  fail_unless (store != NULL, "no store under %s", cache_dir);

  pass2.path = store;
  msg = play (desc, &pass2, GST_MESSAGE_WARNING, &warnings);
  assert_truncation_message (msg, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
      store);
  fail_unless_equals_int (warnings, 1);
  zero_sum = zero_frame_checksum ();
  fail_unless_equals_int (pass2.frames, N_FRAMES);
  for (i = 0; i < N_FRAMES; i++) {
    const gchar *got = g_ptr_array_index (pass2.sums, i);

    fail_unless_equals_uint64 (g_array_index (pass2.pts, GstClockTime, i),
        g_array_index (pass1.pts, GstClockTime, i));
    if (i == CUT_AT - 1 && g_str_equal (got, zero_sum)) {
      zeros++;                  /* handed out before the cut, read after */
      continue;
    }
    fail_unless_equals_string (got, g_ptr_array_index (pass1.sums, i));
  }
  g_print ("cache store truncated while served: %u frames, each the first "
      "pass's but %u read as zeros after the cut\n", N_FRAMES, zeros);
  g_free (zero_sum);
  g_ptr_array_unref (pass1.sums);
  g_array_unref (pass1.pts);
  g_ptr_array_unref (pass2.sums);
  g_array_unref (pass2.pts);
  g_free (upstream);

  g_free (store);
  g_free (desc);
  g_free (cache_dir);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* every length (issue 12, item 1)                                          */

/* GRAY8 64x64 frames (a page each) in chunks of 4 slots, CUT_AT frames:
 * append 2 chunks (11 pages), ring of 8 with 2 spare slots (12 pages) */
#define SMALL_CAPS "video/x-raw,format=GRAY8,width=64,height=64,framerate=30/1"

static GstMemmapStoreWriter *
write_small_store (const gchar * path, GstMemmapStoreMode mode)
{
  GstMemmapEngine *engine = gst_memmap_engine_get_default ();
  GstVideoInfo info;
  GstCaps *caps = gst_caps_from_string (SMALL_CAPS);
  GstMemmapStoreWriter *w;
  GError *err = NULL;
  guint64 f, slot;

  fail_unless (gst_video_info_from_caps (&info, caps));
  w = gst_memmap_store_writer_new_full (engine, path, caps, &info, mode,
      mode == GST_MEMMAP_STORE_MODE_RING ? 8 : 0, 2, 4 * 4096,
      GST_MEMMAP_STORE_WRITER_FLAG_NONE, &err);
  fail_unless (w != NULL, "%s", err ? err->message : "?");
  for (f = 0; f < CUT_AT; f++) {
    GstMemory *mem;
    GstMapInfo map;

    fail_unless (gst_memmap_store_writer_acquire_slot (w, &slot, NULL));
    mem = gst_memmap_store_writer_get_slot_memory (w, NULL, slot, NULL);
    fail_unless (mem && gst_memory_map (mem, &map, GST_MAP_WRITE));
    memset (map.data, 0x40 + (gint) f, map.size);
    gst_memory_unmap (mem, &map);
    gst_memory_unref (mem);
    fail_unless (gst_memmap_store_writer_commit (w, slot,
            f * GST_SECOND / 30, GST_SECOND / 30, 0, NULL));
  }
  gst_caps_unref (caps);
  return w;
}

/* The lengths a store of @size bytes is cut to: 0, 1, half a page and
 * every page boundary below @size. */
static GArray *
cut_lengths (guint64 size)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 l;

  for (l = 0; l < 3; l++) {
    guint64 v = l == 0 ? 0 : l == 1 ? 1 : 2048;

    g_array_append_val (a, v);
  }
  for (l = 4096; l < size; l += 4096)
    g_array_append_val (a, l);
  return a;
}

static void
assert_truncated_not_reused (GstMessage * msg, GQuark domain, gint code,
    const gchar * path, guint64 len)
{
  GError *err = NULL;
  gchar *debug = NULL;

  fail_unless (msg != NULL, "cut to %" G_GUINT64_FORMAT ": no error", len);
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (strstr (err->message, "overwritten") == NULL,
      "cut to %" G_GUINT64_FORMAT ": %s", len, err->message);
  g_error_free (err);
  g_free (debug);
  assert_truncation_message (msg, domain, code, path);
}

/* memmapsrc on an append and a ring store, following the open store (the
 * file is cut 50 ms after the last frame was read downstream, while it
 * waits in gst_memmap_store_session_wait() on the header page: that was
 * SIGBUS, exit 135) or reading a closed one (cut just before the last
 * frame is read downstream), cut to every length. Each run must end in a
 * RESOURCE READ error that says "truncated" (at 1 byte it said
 * "overwritten by a new recording"), in this live process. */
GST_START_TEST (test_src_cut_at_every_length)
{
  guint mode, follow, i, runs = 0;

  for (mode = 0; mode < 2; mode++) {
    for (follow = 0; follow < 2; follow++) {
      gchar *path = test_path ("every.store");
      gchar *desc = g_strdup_printf ("memmapsrc location=\"%s\" follow=%s ! "
          "fakesink name=sink", path, follow ? "true" : "false");
      GstMemmapStoreWriter *w;
      GArray *lengths;
      struct stat st;

      w = write_small_store (path, mode ? GST_MEMMAP_STORE_MODE_RING :
          GST_MEMMAP_STORE_MODE_APPEND);
      fail_unless (stat (path, &st) == 0);
      gst_memmap_store_writer_unref (w);
      lengths = cut_lengths (st.st_size);

      for (i = 0; i < lengths->len; i++) {
        guint64 len = g_array_index (lengths, guint64, i);
        Run run = { path, len, 0, 0 };
        GstMessage *msg;

        run.cut_later = follow;
        unlink (path);
        w = write_small_store (path, mode ? GST_MEMMAP_STORE_MODE_RING :
            GST_MEMMAP_STORE_MODE_APPEND);
        /* following: the writer stays, the store open */
        if (!follow)
          fail_unless (gst_memmap_store_writer_close (w, NULL));
        msg = play (desc, &run, GST_MESSAGE_ERROR, NULL);
        assert_truncated_not_reused (msg, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_READ, path, len);
        gst_memmap_store_writer_unref (w);
        runs++;
      }
      GST_INFO ("%s, follow=%u: %u lengths up to %" G_GUINT64_FORMAT,
          mode ? "ring" : "append", follow, lengths->len, (guint64) st.st_size);
      g_array_unref (lengths);
      g_free (desc);
      g_free (path);
    }
  }
  g_print ("truncation under memmapsrc: %u runs (append and ring, follow "
      "or not, 0, 1, 2048 bytes and every page boundary), every one a "
      "truncation error, no signal\n", runs);
}

GST_END_TEST;

/* memmapsink copying frames into its slots (identity drop-allocation=true:
 * no slot pool upstream), the store cut to every length just before frame
 * CUT_AT reaches it: RESOURCE WRITE "truncated", nothing committed after
 * the cut, and the store never closed cleanly: damaged, or too short to be
 * a store at all. Before the writer checked its file before reserving,
 * a cut in the tail of a full chunk was grown back with zeros by the next
 * chunk's reservation and the store closed "cleanly". */
GST_START_TEST (test_sink_cut_at_every_length)
{
  gchar *path = test_path ("sink-every.store");
  GstMemmapEngine *engine = gst_memmap_engine_get_default ();
  /* when the cut comes: the header and 1 chunk (an index page and 4
   * slots, full); the next frame's slot is in a chunk still to reserve */
  GArray *lengths = cut_lengths (4096 + 4096 + 4 * 4096);
  gchar *desc;
  guint i;

  /* the fakesink that play() wants is a tee's */
  desc = g_strdup_printf ("videotestsrc num-buffers=%d ! " SMALL_CAPS
      " ! tee name=t ! queue ! identity name=cut drop-allocation=true ! "
      "memmapsink location=\"%s\" chunk-size=16384 t. ! queue ! "
      "fakesink name=sink", N_FRAMES, path);

  for (i = 0; i < lengths->len; i++) {
    guint64 len = g_array_index (lengths, guint64, i);
    Run run = { path, len, 0, 0 };
    GstMemmapStoreReader *r;
    GstMessage *msg;
    GError *err = NULL;

    unlink (path);
    msg = play (desc, &run, GST_MESSAGE_ERROR, NULL);
    assert_truncated_not_reused (msg, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_WRITE, path, len);

    r = gst_memmap_store_reader_open (engine, path, &err);
    if (r == NULL) {
      fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
              GST_MEMMAP_ERROR_TRUNCATED) || (len < 4096 &&
              g_error_matches (err, GST_MEMMAP_ERROR,
                  GST_MEMMAP_ERROR_CORRUPT)), "cut to %" G_GUINT64_FORMAT
          ": %s", len, err->message);
      g_clear_error (&err);
    } else {
      fail_unless (gst_memmap_store_reader_is_damaged (r),
          "cut to %" G_GUINT64_FORMAT ": not marked damaged", len);
      fail_unless (gst_memmap_store_reader_get_committed (r) < CUT_AT,
          "cut to %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " committed",
          len, gst_memmap_store_reader_get_committed (r));
      gst_memmap_store_reader_unref (r);
    }
  }
  g_print ("truncation under memmapsink: %u lengths, every one a "
      "truncation error and a damaged store\n", lengths->len);

  g_array_unref (lengths);
  g_free (desc);
  g_free (path);
}

GST_END_TEST;

/* The one store of a cache directory. */
static gchar *
find_cache_store (const gchar * cache_dir)
{
  gchar *store = NULL;
  const gchar *name;
  GDir *dir = g_dir_open (cache_dir, 0, NULL);

  while (dir && (name = g_dir_read_name (dir)) && store == NULL) {
    gchar *s = g_build_filename (cache_dir, name, "s000000.store", NULL);

    if (g_file_test (s, G_FILE_TEST_IS_REGULAR))
      store = s;
    else
      g_free (s);
  }
  if (dir)
    g_dir_close (dir);
  fail_unless (store != NULL, "no store under %s", cache_dir);
  return store;
}

/* memmapcache serving a cached store cut under it at 0, 1, 2048 bytes, the
 * first 9 page boundaries and the page boundary before its last frame's
 * end: one warning that says "truncated" each time, every frame played
 * (from upstream after the cut), no signal. */
GST_START_TEST (test_cache_cut_at_lengths)
{
  guint64 lengths[] = { 0, 1, 2048, 4096, 2 * 4096, 3 * 4096, 4 * 4096,
    5 * 4096, 6 * 4096, 7 * 4096, 8 * 4096, 9 * 4096, 0
  };
  guint i, n = G_N_ELEMENTS (lengths);

  for (i = 0; i < n; i++) {
    gchar *name = g_strdup_printf ("cache-%u", i);
    gchar *cache_dir = test_path (name);
    gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d ! "
        SMALL_CAPS " ! memmapcache key=cut cache-dir=\"%s\" ! "
        "fakesink name=sink", N_FRAMES, cache_dir);
    Run pass1 = { NULL, 0, 0, 0 }, pass2 = { NULL, 0, 0, 0 };
    GstMessage *msg;
    guint warnings = 0;
    gchar *store;

    fail_if (play (desc, &pass1, GST_MESSAGE_WARNING, NULL));
    store = find_cache_store (cache_dir);
    if (i == n - 1) {
      GstMemmapStoreReader *r;
      GstBuffer *buf;
      GstMemory *mem;
      guint64 end;

      /* the page that holds the end of the last frame */
      r = gst_memmap_store_reader_open (gst_memmap_engine_get_default (),
          store, NULL);
      fail_unless (r != NULL);
      buf = gst_memmap_store_reader_get_buffer (r, NULL, N_FRAMES - 1, NULL);
      fail_unless (buf != NULL);
      mem = gst_buffer_peek_memory (buf, 0);
      end = gst_memmap_memory_get_file_offset (mem) + mem->size;
      gst_buffer_unref (buf);
      gst_memmap_store_reader_unref (r);
      lengths[i] = (end - 1) / 4096 * 4096;
    }
    pass2.path = store;
    pass2.cut_to = lengths[i];
    msg = play (desc, &pass2, GST_MESSAGE_WARNING, &warnings);
    fail_unless (msg != NULL, "cut to %" G_GUINT64_FORMAT ": no warning",
        lengths[i]);
    assert_truncation_message (msg, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_READ, store);
    fail_unless_equals_int (warnings, 1);
    fail_unless (pass2.frames >= N_FRAMES, "cut to %" G_GUINT64_FORMAT
        ": %u frames", lengths[i], pass2.frames);
    g_free (store);
    g_free (desc);
    g_free (cache_dir);
    g_free (name);
  }
  g_print ("truncation under memmapcache: %u lengths, one warning each, "
      "every frame played\n", n);
}

GST_END_TEST;

/* memmapcache recording a stream, its store cut under it (before the
 * CUT_AT-th frame reaches it) at 0, 1, 2048 bytes and the first 8 page
 * boundaries: one warning saying "truncated" (it said "Could not use the
 * frame cache"), every frame played from upstream, the store left
 * damaged (or too short to be one), no signal. */
GST_START_TEST (test_cache_cut_while_recording)
{
  guint64 lengths[] = { 0, 1, 2048, 4096, 2 * 4096, 3 * 4096, 4 * 4096,
    5 * 4096, 6 * 4096, 7 * 4096, 8 * 4096
  };
  GstMemmapEngine *engine = gst_memmap_engine_get_default ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (lengths); i++) {
    gchar *name = g_strdup_printf ("rec-%u", i);
    gchar *cache_dir = test_path (name);
    gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d ! "
        SMALL_CAPS " ! memmapcache name=cut key=rec cache-dir=\"%s\" ! "
        "fakesink name=sink", N_FRAMES, cache_dir);
    Run run = { NULL, lengths[i], 0, 0 };
    GstMemmapStoreReader *r;
    GstMessage *msg;
    GError *err = NULL;
    guint warnings = 0;
    gchar *store;

    run.cache_dir = cache_dir;
    msg = play (desc, &run, GST_MESSAGE_WARNING, &warnings);
    store = find_cache_store (cache_dir);
    fail_unless (msg != NULL, "cut to %" G_GUINT64_FORMAT ": no warning",
        lengths[i]);
    assert_truncation_message (msg, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_WRITE, store);
    fail_unless_equals_int (warnings, 1);
    fail_unless_equals_int (run.frames, N_FRAMES);
    r = gst_memmap_store_reader_open (engine, store, &err);
    if (r == NULL) {
      fail_unless (g_error_matches (err, GST_MEMMAP_ERROR,
              GST_MEMMAP_ERROR_TRUNCATED) || (lengths[i] < 4096 &&
              g_error_matches (err, GST_MEMMAP_ERROR,
                  GST_MEMMAP_ERROR_CORRUPT)), "cut to %" G_GUINT64_FORMAT
          ": %s", lengths[i], err->message);
      g_clear_error (&err);
    } else {
      fail_unless (gst_memmap_store_reader_is_damaged (r));
      gst_memmap_store_reader_unref (r);
    }
    g_free (store);
    g_free (desc);
    g_free (cache_dir);
    g_free (name);
  }
  g_print ("truncation under a recording memmapcache: %u lengths, one "
      "warning each, every frame played, every store damaged\n",
      (guint) G_N_ELEMENTS (lengths));
}

GST_END_TEST;

static Suite *
truncation_suite (void)
{
  TCase *tc;
  Suite *s = memmap_test_suite_new ("truncation", setup, teardown, &tc);

  /* see memmap_test_under_valgrind(): the normal and sanitizer lanes only */
  if (memmap_test_under_valgrind ())
    return s;
  tcase_add_test (tc, test_src_store_truncated_while_read);
  tcase_add_test (tc, test_sink_store_truncated_while_written);
  tcase_add_test (tc, test_cache_store_truncated_while_served);
  tcase_add_test (tc, test_src_cut_at_every_length);
  tcase_add_test (tc, test_sink_cut_at_every_length);
  tcase_add_test (tc, test_cache_cut_at_lengths);
  tcase_add_test (tc, test_cache_cut_while_recording);
  return s;
}

GST_CHECK_MAIN (truncation);
