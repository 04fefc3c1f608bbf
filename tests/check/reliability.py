#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Regression tests of issue 12 that need other processes, Python writers
or the command-line tool (docs/reliability.md):

- a writer whose file is truncated under it, the file then grown back by
  its own next reservation: a Python appsrc writer (deterministic) and
  `videotestsrc ! identity drop-allocation=true ! memmapsink` cut to 4096
  bytes mid-run. The pipeline must fail saying "truncated", the store must
  say it is damaged (verify, info, memmapsrc and the numpy reader), never
  close cleanly with frames of zeros (item 2);
- FIFOs, sockets and devices: refused at once, never a hang in open(), by
  map_video_frames, the engine, gst-memmap ingest/info/verify/export,
  memmapsrc and the numpy reader (item 5);
- one flipped byte that makes frame 0's pts later than frame 4's: verify
  fails, memmapsrc posts an error (item 6);
- the numpy reader on a store cut under it to 0, 1, 2048 bytes and every
  page boundary: ValueError or the frame's right bytes, never SIGBUS
  (item 1).

Usage: reliability.py GST_MEMMAP. Run by meson with GI_TYPELIB_PATH and
LD_LIBRARY_PATH set to the build's gst/memmap. Exit status 77 (skipped)
without numpy or PyGObject.
"""

import os
import socket
import subprocess
import sys
import time

import memmaptest as T
from memmaptest import failures

tmp = T.make_tmpdir('gst-memmap-rel-', cache=True)
T.import_or_skip(['Gst', 'GstMemmap'], skip_dir=tmp)
import numpy as np  # noqa: E402
from gi.repository import GLib, Gst, GstMemmap  # noqa: E402

T.use_package()
import gstmemmap_numpy as gmn  # noqa: E402

TOOL = sys.argv[1]
ENV = T.tool_env()
P = 4096
SMALL = 'video/x-raw,format=GRAY8,width=64,height=64,framerate=30/1'


def summary(before, text):
    """Prints a section's figures, marked if the section failed."""
    n = len(failures) - before
    print(text + ('' if n == 0 else ' -- FAILED: %d checks' % n))


def check(cond, what):
    """Only a failure is printed: the sections print their figures."""
    return T.check(cond, what, quiet=True)


def run(argv, timeout=60):
    """(exit status, stdout + stderr); a timeout is exit status None."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, env=ENV)
    except subprocess.TimeoutExpired:
        return None, 'timed out after %d s' % timeout
    return p.returncode, p.stdout + p.stderr


def tool(*args, timeout=60):
    return run([TOOL] + list(args), timeout=timeout)


def launch(desc, timeout=60):
    return run(['gst-launch-1.0', '-q'] + desc.split(), timeout=timeout)


def record(path, n, caps=SMALL):
    """n frames in chunks of 4 slots"""
    rc, out = launch('videotestsrc num-buffers=%d ! %s ! memmapsink '
                     'location=%s chunk-size=16384' % (n, caps, path))
    assert rc == 0, out


# --- item 2: a writer's file cut under it ----------------------------------

def assert_damaged(path, what):
    """The store says it was damaged, everywhere it is read."""
    rc, out = tool('verify', path)
    check(rc == 1 and 'damaged' in out,
          '%s: verify says damaged: %s %s' % (what, rc, out.strip()))
    rc, out = tool('info', path)
    check('damaged' in out, '%s: info says damaged: %s %s'
          % (what, rc, out.strip()))
    rc, out = launch('memmapsrc location=%s ! fakesink' % path)
    check(rc not in (0, None) and 'truncated' in out,
          '%s: memmapsrc fails saying truncated: %s %s' % (what, rc, out))
    try:
        st = gmn.Store(path)
        for i in range(st.first_frame(), st.committed()):
            st.frame(i)
        check(False, '%s: the numpy reader read every frame' % what)
    except ValueError as e:
        check('damaged' in str(e) or 'truncated' in str(e),
              '%s: numpy reader: %s' % (what, e))


def appsrc_writer(path, cut_to, cut_after):
    """Pushes GRAY8 64x64 frames one at a time into memmapsink (4-slot
    chunks of 5 pages: the header, then chunk c at 4096 + c * 20480 with
    its slots from 4096 + c * 20480 + 4096), waiting for each commit; cuts
    the file to cut_to after cut_after frames. Returns (the bus's error
    or None, frames committed before the cut)."""
    pipe = Gst.parse_launch(
        'appsrc name=src format=time caps=%s ! memmapsink name=sink '
        'location=%s chunk-size=16384' % (SMALL, path))
    src, sink = pipe.get_by_name('src'), pipe.get_by_name('sink')
    bus = pipe.get_bus()
    pipe.set_state(Gst.State.PLAYING)
    error = None
    for i in range(12):
        if i == cut_after:
            os.truncate(path, cut_to)
        buf = Gst.Buffer.new_wrapped(bytes([0x40 + i]) * (64 * 64))
        buf.pts = i * Gst.SECOND // 30
        buf.duration = Gst.SECOND // 30
        src.emit('push-buffer', buf)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg:
                error = msg.parse_error()
                break
            if sink.get_property('stats').get_value('frames-written') > i:
                break
            time.sleep(0.002)
        if error:
            break
    if error is None:
        src.emit('end-of-stream')
        msg = bus.timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.ERROR |
                                     Gst.MessageType.EOS)
        if msg and msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()
    written = sink.get_property('stats').get_value('frames-written')
    pipe.set_state(Gst.State.NULL)
    return error, written


def test_appsrc_writer_cut():
    before = len(failures)
    # cut the last two slots of the full chunk 0 (the tail just filled),
    # all of chunk 0's slots, everything but the header, the header too:
    # the next frame's reservation would grow each back with zeros
    runs = 0
    for cut_to in (4 * P, 3 * P, 2 * P, P, 0):
        path = os.path.join(tmp, 'appsrc-%d.store' % cut_to)
        error, written = appsrc_writer(path, cut_to, 4)
        what = 'appsrc writer cut to %d after 4 frames' % cut_to
        check(error is not None, '%s: no error' % what)
        if error:
            check('truncated' in error[0].message,
                  '%s: %s' % (what, error[0].message))
        check(written == 4, '%s: %d frames written' % (what, written))
        if cut_to >= P:
            assert_damaged(path, what)
        else:
            rc, out = tool('verify', path)
            check(rc == 1, '%s: verify: %s %s' % (what, rc, out))
        runs += 1
    # cut inside the chunk being filled, then the producer goes on
    path = os.path.join(tmp, 'appsrc-mid.store')
    error, written = appsrc_writer(path, 4 * P, 2)
    check(error is not None and written == 2,
          'appsrc writer cut mid-chunk: %s, %d frames' % (error, written))
    assert_damaged(path, 'appsrc writer cut mid-chunk')
    summary(before, 'appsrc writer: %d cuts, every one an error and a '
            'damaged store' % (runs + 1))


def test_videotestsrc_cut_mid_run():
    before = len(failures)
    errors = 0
    for i, delay in enumerate((0.4, 0.8, 1.2)):
        path = os.path.join(tmp, 'live-%d.store' % i)
        p = subprocess.Popen(
            ['gst-launch-1.0', '-q', 'videotestsrc', 'is-live=true',
             'num-buffers=60', '!', 'video/x-raw,format=I420,width=320,'
             'height=240,framerate=30/1', '!', 'identity',
             'drop-allocation=true', '!', 'memmapsink', 'location=' + path,
             'chunk-size=300000'], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=ENV)
        time.sleep(delay)
        os.truncate(path, 4096)
        out, _ = p.communicate(timeout=60)
        what = 'memmapsink cut to 4096 at %.1f s' % delay
        check(p.returncode == 1 and 'truncated' in out,
              '%s: exit %s, %s' % (what, p.returncode, out.strip()))
        errors += p.returncode == 1
        assert_damaged(path, what)
    summary(before, 'videotestsrc ! identity drop-allocation=true ! '
            'memmapsink chunk-size=300000, cut to 4096 mid-run: %d of 3 runs '
            'failed with an error, every store damaged' % errors)


# --- item 5: not regular files ---------------------------------------------

def map_frames_in_child(path):
    code = ('import gi, sys\n'
            'gi.require_version("GstMemmap", "1.0")\n'
            'from gi.repository import GstMemmap, GLib\n'
            'e = GstMemmap.Engine.get_default()\n'
            'try:\n'
            '    e.map_video_frames(sys.argv[1], 0, 0, None)\n'
            '    print("mapped")\n'
            'except GLib.Error as err:\n'
            '    print("error:", err.message)\n'
            'try:\n'
            '    e.map_file(sys.argv[1], GstMemmap.MapFlags.NONE)\n'
            '    print("mapped")\n'
            'except GLib.Error as err:\n'
            '    print("error:", err.message)\n')
    return run([sys.executable, '-c', code, path], timeout=20)


def test_special_files():
    before = len(failures)
    fifo = os.path.join(tmp, 'fifo')
    os.mkfifo(fifo)
    sock_path = os.path.join(tmp, 'sock')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(sock_path)
    sock.listen(1)
    n = 0
    for path in (fifo, 'file://' + fifo, sock_path, '/dev/null'):
        t0 = time.monotonic()
        rc, out = map_frames_in_child(path)
        check(rc == 0 and out.count('error:') == 2 and
              'mapped' not in out, '%s: map_video_frames and map_file: '
              '%s %s' % (path, rc, out.strip()))
        if path.startswith('/'):
            check('not a regular file' in out.split('\n')[0],
                  '%s: map_video_frames says why: %s' % (path, out))
        rc, out = tool('ingest', path, '-o', os.path.join(tmp, 'x.store'),
                       timeout=20)
        check(rc == 1 and 'regular file' in out,
              '%s: ingest: %s %s' % (path, rc, out.strip()))
        if path.startswith('/'):
            for cmd in (('info', path), ('verify', path),
                        ('export', path, '-o', os.path.join(tmp, 'x.png'))):
                rc, out = tool(*cmd, timeout=20)
                check(rc == 1, '%s: %s: %s %s' % (path, cmd[0], rc, out))
            rc, out = launch('memmapsrc location=%s ! fakesink' % path,
                             timeout=20)
            check(rc not in (0, None), '%s: memmapsrc: %s %s'
                  % (path, rc, out))
            try:
                gmn.Store(path)
                check(False, '%s: the numpy reader opened it' % path)
            except ValueError as e:
                check('regular' in str(e), '%s: numpy: %s' % (path, e))
        check(time.monotonic() - t0 < 30, '%s: took %.1f s'
              % (path, time.monotonic() - t0))
        n += 1
    sock.close()
    summary(before, 'special files: %d (FIFO as a path and a URI, socket, '
            'character device), refused by every entry point, none '
            'blocked' % n)


# --- item 6: a pts that goes back -------------------------------------------

def test_pts_flip():
    before = len(failures)
    path = os.path.join(tmp, 'pts.store')
    record(path, 5)
    st = gmn.Store(path)
    off = st.data + 16      # frame 0's pts (entry 0 of chunk 0)
    del st
    rc, out = tool('verify', path)
    check(rc == 0, 'pts: verify of the intact store: %s %s' % (rc, out))
    rc, out = launch('memmapsrc location=%s ! fakesink' % path)
    check(rc == 0, 'pts: memmapsrc on the intact store: %s %s' % (rc, out))
    with open(path, 'r+b') as f:
        f.seek(off + 3)
        f.write(b'\x7f')    # pts ~2.1 s: after frame 4's (0.13 s)
    rc, out = tool('verify', path)
    check(rc == 1 and 'pts' in out, 'pts: verify of the flipped store: '
          '%s %s' % (rc, out.strip()))
    rc, out = launch('memmapsrc location=%s ! fakesink' % path)
    check(rc not in (0, None) and 'corrupt' in out,
          'pts: memmapsrc on the flipped store: %s %s' % (rc, out))
    summary(before, 'pts flip: verify and memmapsrc fail')


# --- item 1: the numpy reader on a store cut under it ----------------------

NUMPY_CHILD = r'''
import os, shutil, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import gstmemmap_numpy as gmn
src, work = sys.argv[2], sys.argv[3]
size = os.path.getsize(src)
lengths = [0, 1, 2048] + list(range(4096, size, 4096))
refused = good = 0
for n in lengths:
    shutil.copy(src, work)
    st = gmn.Store(work)
    want = [[p.copy() for p in st.frame(i)] for i in range(st.committed())]
    os.truncate(work, n)
    try:
        c = st.committed()
    except ValueError as e:
        assert 'truncated' in str(e), e
        refused += 1
        continue
    for i in range(c):
        try:
            got = st.frame(i)
        except ValueError as e:
            assert 'truncated' in str(e) or 'corrupt' in str(e), e
            refused += 1
            continue
        assert all((a == b).all() for a, b in zip(got, want[i])), (n, i)
        good += 1
print('%d lengths: %d refused, %d frames read right' %
      (len(lengths), refused, good))
# gstmemmap.VideoReader on the same cuts
import gstmemmap
vrefused = vgood = 0
for n in lengths:
    shutil.copy(src, work)
    vr = gstmemmap.VideoReader(work)
    want = [np.array(vr[i]) for i in range(len(vr))]
    os.truncate(work, n)
    for i in range(len(want)):
        try:
            got = np.array(vr[i])
        except ValueError as e:
            assert 'truncated' in str(e), e
            vrefused += 1
            continue
        assert (got == want[i]).all(), (n, i)
        vgood += 1
    vr.close()
print('VideoReader: %d refused, %d frames read right' % (vrefused, vgood))
'''


def test_numpy_reader_cut():
    before = len(failures)
    src = os.path.join(tmp, 'np.store')
    record(src, 6)
    rc, out = run([sys.executable, '-c', NUMPY_CHILD,
                   os.path.join(T.SRC, 'gst', 'python'), src,
                   os.path.join(tmp, 'np-cut.store')], timeout=120)
    check(rc == 0, 'numpy reader on a cut store: exit %s (%s)'
          % (rc, out.strip()))
    lines = [x for x in out.split('\n') if 'frames read right' in x]
    summary(before, 'numpy reader and VideoReader, store cut at every '
            'length: ' + '; '.join(lines))


# --- item 1: map_video_frames with its store cut under it ------------------

FRAMES_CHILD = r'''
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstMemmap', '1.0')
from gi.repository import GLib, Gst, GstMemmap
import gstmemmap_numpy as gmn
Gst.init(None)
clip, cache = sys.argv[2], sys.argv[3]
e = GstMemmap.Engine.get_default()
runs = refused = 0
lengths = None
i = 0
while lengths is None or i < len(lengths):
    shutil.rmtree(cache, ignore_errors=True)
    f = GstMemmap.map_video_frames_full(e, clip, 0, 0, 'GRAY8', cache)
    assert f.is_zero_copy(), 'not served from the cache'
    path = f.get_path(0)
    if lengths is None:
        # below the end of the last frame's bytes: every cut loses some
        end = max(f.get_file_offset(k) + f.get_frame_size()
                  for k in range(f.get_n_frames()))
        lengths = [0, 1, 2048] + list(range(4096, end, 4096 * 7)) + \
            [(end - 1) // 4096 * 4096]
    f.check()
    os.truncate(path, lengths[i])
    total = sum(int(a.sum()) for k in range(f.get_n_frames())
                for a in gmn.frame_planes(f, k))
    try:
        f.check()
        raise SystemExit('cut to %d: check() passed' % lengths[i])
    except GLib.Error as err:
        assert 'truncated' in err.message, err.message
        refused += 1
    runs += 1
    del f
    i += 1
print('%d lengths: %d refused by check(), every frame read (zeros past the '
      'cut), no signal' % (runs, refused))
'''


def test_frames_cut():
    before = len(failures)
    clip = os.path.join(tmp, 'raw.mkv')
    rc, out = launch('videotestsrc num-buffers=24 ! video/x-raw,format=I420,'
                     'width=128,height=96,framerate=24/1 ! matroskamux ! '
                     'filesink location=%s' % clip)
    if not check(rc == 0, 'raw clip: %s %s' % (rc, out)):
        return
    rc, out = run([sys.executable, '-c', FRAMES_CHILD,
                   os.path.join(T.SRC, 'gst', 'python'), clip,
                   os.path.join(tmp, 'frames-cache')], timeout=240)
    check(rc == 0, 'map_video_frames on a cut store: exit %s (%s)'
          % (rc, out.strip()[-2000:]))
    lines = [x for x in out.split('\n') if ' lengths: ' in x]
    summary(before, 'map_video_frames, its store cut under it: ' +
            (lines[-1] if lines else '?'))


Gst.init(None)
try:
    test_special_files()
    test_pts_flip()
    test_appsrc_writer_cut()
    test_videotestsrc_cut_mid_run()
    test_numpy_reader_cut()
    test_frames_cut()
finally:
    T.finish(tmp)
