#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writable copy-on-write frames, progress and cancel from Python (issue
14): gstmemmap.VideoReader's frames are writable numpy arrays by default,
OpenCV draws on them (cv2.rectangle, which ignores numpy's read-only flag
and used to kill the process with SIGSEGV), and not a byte of the cache's
or a store's files changes (SHA-256 before and after); writable=False
gives read-only views; gstmemmap.map_video_frames is the original
engine's call; the progress callback and a Gio.Cancellable work through
GObject introspection (a call cancelled from its callback raises
G_IO_ERROR_CANCELLED, the next call gives every frame, exact).

Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH set to the build's
gst/memmap. Exit status 77 (skipped) without numpy or PyGObject. The
OpenCV checks print why they are skipped where python3-opencv is missing
(and fail under CI=true, whose machine has it: .ci/bootstrap).
"""

import glob
import hashlib
import os
import subprocess

import memmaptest as T
from memmaptest import check

tmp = T.make_tmpdir('gst-memmap-cow-', cache=True)
T.import_or_skip(['Gst', 'GstVideo', 'GstMemmap'], skip_dir=tmp)
import numpy as np  # noqa: E402
from gi.repository import Gio, GLib, GstMemmap  # noqa: E402

T.use_package()
import gstmemmap  # noqa: E402
import gstmemmap_numpy as gmn  # noqa: E402

ENV = T.tool_env()
N = 60


def launch(desc):
    subprocess.run(['gst-launch-1.0', '-q'] + desc.split(), env=ENV,
                   check=True)


def sums(pattern):
    """SHA-256 of every file matching pattern (a glob), by path."""
    out = {}
    for path in sorted(glob.glob(pattern, recursive=True)):
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


try:
    import cv2
except ImportError as e:
    cv2 = None
    why = 'python3-opencv is not installed (%s)' % e
    print('skip OpenCV checks: ' + why)
    check(os.environ.get('CI') != 'true',
          'CI=true, whose machine has python3-opencv: ' + why)

try:
    clip = os.path.join(tmp, 'clip.mp4')
    launch('videotestsrc num-buffers=%d pattern=ball ! '
           'video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! '
           'x264enc bframes=2 key-int-max=12 ! mp4mux ! '
           'filesink location=%s' % (N, clip))
    cache = os.path.join(tmp, 'cache', 'gst-memmap')

    # --- a video: writable by default, the cache never changes -------------
    with gstmemmap.VideoReader(clip) as vr:
        frame = vr[5]
        orig = frame.copy()
        check(vr.writable and frame.flags.writeable and
              not frame.flags.owndata,
              'VideoReader: frames are writable views by default')
        before = sums(os.path.join(cache, '**', '*.store'))
        check(len(before) > 0, 'the clip is in the cache (%d stores)'
              % len(before))
        check(vr.stats()['copy-on-write'] and
              vr.stats()['private-bytes'] == 0,
              'copy-on-write, nothing copied before a write')
        frame[0:8] = 0
        if cv2 is not None:
            cv2.rectangle(frame, (40, 40), (200, 160), (255, 0, 0), 3)
            check(tuple(frame[40, 100]) == (255, 0, 0),
                  'cv2.rectangle drew on the frame, in place')
        check(np.array_equal(vr[5][0:8], np.zeros_like(frame[0:8])),
              'the write is seen through the reader (r[5] again)')
        check(vr.stats()['private-bytes'] >= 8 * frame.strides[0],
              'the written pages are counted: %d private bytes'
              % vr.stats()['private-bytes'])
        rng = vr[10:20]
        check(rng.flags.writeable and np.shares_memory(rng, vr[12]),
              'a range is one writable view')
        rng[:, 100:110] = 7
    after = sums(os.path.join(cache, '**', '*.store'))
    check(before == after, 'not a byte of the cache\'s stores changed')

    with gstmemmap.VideoReader(clip) as again:
        check(again.stats()['decoded-frames'] == 0 and
              np.array_equal(again[5], orig),
              'a new reader sees the store\'s frame 5, not the write')
    with gstmemmap.VideoReader(clip, writable=False) as ro:
        f = ro[5]
        check(not f.flags.writeable and np.array_equal(f, orig),
              'writable=False: read-only views')
        try:
            f[0, 0] = 1
            check(False, 'a read-only frame refused a write')
        except ValueError:
            check(True, 'a read-only frame refuses a write')

    # --- the original engine's call ----------------------------------------
    # a first call's recording goes on ahead of the frames asked for, in
    # the background (docs/design.md, "The frames API's recordings"): the
    # BGR entry is recorded whole first, so that nothing appends to its
    # stores while the frames are drawn on
    gstmemmap.map_video_frames(clip, 0, 0)
    bgr = gstmemmap.map_video_frames(clip, 10, 8)
    after = sums(os.path.join(cache, '**', '*.store'))   # with BGR's entry
    check(bgr.shape == (8, 240, 320, 3) and bgr.flags.writeable,
          'map_video_frames: (8, 240, 320, 3) BGR, writable')
    if cv2 is not None:
        cv2.rectangle(bgr[0], (0, 0), (50, 50), (0, 0, 255), -1)
        check(tuple(bgr[0][10, 10]) == (0, 0, 255),
              'map_video_frames: cv2.rectangle draws on a frame')
    check(sums(os.path.join(cache, '**', '*.store')) == after,
          'map_video_frames: the cache unchanged after drawing')

    # --- a store: one copy-on-write np.memmap ------------------------------
    store = os.path.join(tmp, 'rec.store')
    launch('videotestsrc num-buffers=20 ! '
           'video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! '
           'memmapsink location=%s' % store)
    s0 = sums(store)
    with gstmemmap.VideoReader(store) as st:
        f = st[3]
        keep = f.copy()
        check(f.flags.writeable and np.shares_memory(f, st.mapping),
              'a store: writable views of its mapping')
        f[:] = 255
        if cv2 is not None:
            cv2.rectangle(f, (1, 1), (20, 20), (0, 0, 0, 0), 2)
    check(sums(store) == s0, 'a store: its file unchanged after writes')
    with gstmemmap.VideoReader(store, writable=False) as st:
        check(not st[3].flags.writeable and np.array_equal(st[3], keep),
              'a store, writable=False: read-only, the stored bytes')

    # --- the engine: a copy-on-write mapping of a file ---------------------
    blob = os.path.join(tmp, 'blob.bin')
    with open(blob, 'wb') as f:
        f.write(bytes(range(256)) * 8192)
    b0 = sums(blob)
    a = gstmemmap.map_file(blob, copy_on_write=True)
    a[:4096] = 0
    b = gstmemmap.map_file(blob, copy_on_write=True)
    check(a.flags.writeable and a[0] == 0 and b[1] == 1 and
          sums(blob) == b0,
          'map_file(copy_on_write=True): writable, private to the array, '
          'the file unchanged')
    del a, b

    # a copy-on-write mapping larger than RAM and swap (MAP_NORESERVE: the
    # kernel's default overcommit refuses such a private writable mapping
    # otherwise, and a store may be that large)
    from gstmemmap.views import file_array
    huge = os.path.join(tmp, 'huge.bin')
    ram = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    with open(huge, 'wb') as f:
        f.truncate(4 * ram)
    with open(huge, 'rb') as f:
        h = file_array(f, 'c')
        h[-1] = 7
        check(h.size == 4 * ram and h.flags.writeable and h[-1] == 7 and
              os.pread(f.fileno(), 1, 4 * ram - 1) == b'\0',
              'a copy-on-write mapping of a file 4x the RAM (%d GiB)'
              % (4 * ram >> 30))
    del h
    os.unlink(huge)

    # --- progress and cancel through GObject introspection -----------------
    engine = GstMemmap.Engine.get_default()
    seen = []
    c = Gio.Cancellable()

    def cancel_at_10(done, total, data):
        seen.append((done, total))
        if done >= 10:
            c.cancel()

    cache2 = os.path.join(tmp, 'c2')
    try:
        engine.map_video_frames_full(clip, 0, 0, 'GRAY8', cache2,
                                     GstMemmap.FramesFlags.NONE, c,
                                     cancel_at_10, None)
        check(False, 'a call cancelled from its progress callback failed')
    except GLib.Error as e:
        check(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED) and
              clip in e.message,
              'cancelled: G_IO_ERROR_CANCELLED, naming the clip (%s)'
              % e.message)
    check(seen and seen[-1][0] == 10, 'no progress after the cancel (%s)'
          % seen[-3:])

    seen = []
    vr = gstmemmap.VideoReader(clip, format='GRAY8', cache_dir=cache2,
                               progress=lambda d, t: seen.append((d, t)))
    dones = [d for d, _ in seen]
    check(len(seen) >= 2 and dones == sorted(dones) and
          seen[-1] == (N, N) and all(t == 0 or d <= t for d, t in seen),
          'progress: %d calls, never back, ending at (%d, %d): %s'
          % (len(seen), N, N, seen[-1] if seen else None))
    ref = gstmemmap.VideoReader(clip, format='GRAY8',
                                cache_dir=os.path.join(tmp, 'c3'))
    check(len(vr) == N and all(np.array_equal(vr[i], ref[i])
                               for i in range(N)),
          'after a cancelled call every frame is exact')
    vr.close()
    ref.close()

    # --- GstMemmap.Frames, copy-on-write, through GI ------------------------
    fr = engine.map_video_frames_full(clip, 0, 4, 'GRAY8', cache2,
                                      GstMemmap.FramesFlags.COPY_ON_WRITE,
                                      None, None, None)
    (y,) = gmn.frame_planes(fr, 2)
    check(fr.is_copy_on_write() and y.flags.writeable,
          'Frames with COPY_ON_WRITE: writable planes')
    y[:] = 1
    check(fr.get_stats().get_value('private-bytes') >= y.size // 2,
          'Frames stats: private-bytes after a write')
    st = gstmemmap.engine_stats(engine)
    check(st['cow-maps'] >= 1 and st['cow-private-bytes'] > 0,
          'engine stats: cow-maps %d, cow-private-bytes %d'
          % (st['cow-maps'], st['cow-private-bytes']))
finally:
    T.finish(tmp)
