#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of the gst-memmap command-line tool: every subcommand, its output,
its exit status and its failures, on real clips made with x264enc.

Usage: tool_gst_memmap.py GST_MEMMAP

The frames a store holds are checked against what a plain decoder outputs
(decodebin ! videoconvert ! filesink), byte for byte, through numpy views of
the store (gst/python/gstmemmap_numpy.py).
Exit status 77 (skipped) if numpy or x264enc is missing.
"""

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import memmaptest as T
from memmaptest import check

T.import_or_skip()
import numpy as np  # noqa: E402

T.use_package()
import gstmemmap_numpy as gmn  # noqa: E402

TOOL = sys.argv[1]
# the tool's own output only: no debug log of the test environment
ENV = T.tool_env()
W, H, N = 320, 240, 60


def run(*args, **kw):
    p = subprocess.run([TOOL] + list(args), capture_output=True, text=True,
                       timeout=kw.pop('timeout', 120), env=ENV, **kw)
    return p.returncode, p.stdout, p.stderr


def run_on_tty(args):
    """Runs the tool with stderr on a pseudo-terminal (stdout a pipe);
    returns its exit status and what it wrote to the terminal."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen([TOOL] + list(args), stdout=subprocess.DEVNULL,
                         stderr=slave, env=ENV)
    os.close(slave)
    data = b''
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the other side is closed
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return p.wait(timeout=120), data.decode('utf-8', 'replace')


def expect(args, code, out_has=(), err_has=(), what=None, quiet=False):
    rc, out, err = run(*args)
    what = what or ' '.join(args)
    ok = rc == code
    for s in out_has:
        ok = ok and s in out
    for s in err_has:
        ok = ok and s in err
    if quiet:
        ok = ok and out == '' and err == ''
    if not ok:
        print('  rc=%d\n  stdout: %r\n  stderr: %r' % (rc, out, err))
    # no traceback-style noise, ever
    ok = ok and 'CRITICAL' not in err and 'WARNING' not in err
    check(ok, '%s -> exit %d' % (what, code))
    return out, err


def launch(pipeline):
    subprocess.run(['gst-launch-1.0', '-q'] + pipeline.split(), check=True,
                   timeout=300, env=ENV)


def raw_frames(video, fmt, bpp):
    """Every frame a plain decoder outputs, converted to fmt."""
    raw = os.path.join(tmp, 'ref-%s.raw' % fmt)
    launch('filesrc location=%s ! decodebin ! videoconvert ! '
           'video/x-raw,format=%s ! filesink location=%s' % (video, fmt, raw))
    data = np.fromfile(raw, dtype=np.uint8)
    if bpp == 1:
        return data.reshape(-1, H, W)
    return data.reshape(-1, H, W, bpp)


def png_pixels(png):
    raw = png + '.raw'
    launch('filesrc location=%s ! pngdec ! videoconvert ! '
           'video/x-raw,format=RGBA ! filesink location=%s' % (png, raw))
    return np.fromfile(raw, dtype=np.uint8).reshape(H, W, 4)


tmp = T.make_tmpdir('gst-memmap-tool-')
try:
    if shutil.which('gst-launch-1.0') is None or subprocess.run(
            ['gst-inspect-1.0', 'x264enc'], capture_output=True
            ).returncode != 0:
        print('gst-launch-1.0 or x264enc is missing: skipping')
        sys.exit(77)

    # a clip with B-frames and a short GOP, and one with an audio track
    clip = os.path.join(tmp, 'clip.mp4')
    launch('videotestsrc num-buffers=%d pattern=ball ! '
           'video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 ! '
           'x264enc bframes=2 key-int-max=12 ! mp4mux ! filesink location=%s'
           % (N, W, H, clip))
    av = os.path.join(tmp, 'av.mkv')
    launch('videotestsrc num-buffers=%d pattern=smpte ! '
           'video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 ! '
           'x264enc ! mux. audiotestsrc num-buffers=60 ! audioconvert ! '
           'vorbisenc ! mux. matroskamux name=mux ! filesink location=%s'
           % (N, W, H, av))
    text = os.path.join(tmp, 'notes.txt')
    with open(text, 'w') as f:
        f.write('not a video\n' * 100)
    gray_ref = raw_frames(clip, 'GRAY8', 1)
    rgba_ref = raw_frames(clip, 'RGBA', 4)
    check(len(gray_ref) == N, 'the reference decoder sees %d frames' % N)

    # --- usage -----------------------------------------------------------
    expect([], 2, err_has=['Usage: gst-memmap COMMAND'], what='no command')
    out, _ = expect(['--help'], 0, out_has=['info', 'verify', 'ingest',
                                            'export', 'stats'])
    expect(['help', 'verify'], 0, out_has=['Exit status'])
    expect(['frobnicate'], 2, err_has=["unknown command 'frobnicate'"])
    for cmd in ('info', 'verify', 'ingest', 'export', 'stats'):
        expect([cmd, '--help'], 0, out_has=['gst-memmap %s' % cmd])
        expect([cmd, '--no-such-option'], 2,
               err_has=['gst-memmap %s:' % cmd, 'no-such-option'])
    expect(['info'], 2, err_has=['expected one STORE'])
    expect(['verify', 'a', 'b'], 2, err_has=['expected one STORE'])
    expect(['ingest', clip], 2, err_has=['-o STORE is required'])
    expect(['ingest', clip, '-o', 'x.store', '--format', 'NOPE'], 2,
           err_has=["unknown video format 'NOPE'"])
    expect(['ingest', clip, '-o', 'x.store', '--start', '-3'], 2,
           err_has=['--start'])
    expect(['export', 'x.store'], 2, err_has=['-o FILE.png is required'])
    expect(['export', 'x.store', '-o', 'x.png', '--frame', 'one'], 2,
           err_has=['--frame'])

    # --- ingest: frame-accurate, converted, quiet when not a terminal -----
    gray = os.path.join(tmp, 'gray.store')
    expect(['ingest', clip, '-o', gray, '--start', '7', '--count', '20',
            '--format', 'GRAY8'], 0, quiet=True,
           what='ingest --start 7 --count 20 --format GRAY8')
    st = gmn.Store(gray)
    check(st.committed() == 20 and st.format == 'GRAY8',
          'the store holds 20 GRAY8 frames')
    same = all(np.array_equal(st.frame(i)[0], gray_ref[7 + i])
               for i in range(20))
    check(same, 'store frame i == decoder frame 7 + i, byte for byte '
          '(B-frames, GOP 12)')
    check(st.pts(0) is not None and all(
        st.pts(i + 1) > st.pts(i) for i in range(19)),
        'the frames carry increasing timestamps')

    # --progress: plain lines when stderr is not a terminal, the last one
    # at the total (the frames API's progress, frames written / total)
    prog = os.path.join(tmp, 'progress.store')
    _, err = expect(['ingest', clip, '-o', prog, '--count', '30',
                     '--progress'], 0,
                    err_has=['gst-memmap ingest: 30/30 frames (100%)',
                             '30 frames of'],
                    what='ingest --progress prints plain lines')
    check('\r' not in err and '\033' not in err,
          'ingest --progress: no bar, no escape codes off a terminal')

    rgba = os.path.join(tmp, 'rgba.store')
    expect(['ingest', clip, '-o', rgba, '--format', 'RGBA'], 0, quiet=True)
    st = gmn.Store(rgba)
    check(st.committed() == N, 'ingest without --count keeps all %d frames'
          % N)
    check(all(np.array_equal(st.frame(i)[0], rgba_ref[i]) for i in range(N)),
          'every RGBA frame equals the decoder\'s')

    # --count 0 is "to the end", as gst_memmap_map_video_frames() has it
    all0 = os.path.join(tmp, 'all0.store')
    expect(['ingest', clip, '-o', all0, '--start', '5', '--count', '0'], 0,
           quiet=True, what='ingest --start 5 --count 0')
    check(gmn.Store(all0).committed() == N - 5,
          'ingest --count 0 keeps every frame from --start to the end')

    # an output directory that cannot be written: the reason, before
    # anything is decoded
    expect(['ingest', clip, '-o', os.path.join(tmp, 'nodir', 'x.store')], 1,
           err_has=['nodir', 'No such file or directory'],
           what='ingest into a missing directory')
    ro = os.path.join(tmp, 'ro')
    os.mkdir(ro)
    probe = subprocess.run(['unshare', '-m', 'true'], capture_output=True) \
        if shutil.which('unshare') else None
    if probe is not None and probe.returncode == 0:
        # a read-only file system, mounted in a mount namespace of its own
        p = subprocess.run(
            ['unshare', '-m', 'sh', '-c',
             'mount -t tmpfs -o ro none "$1" && shift && exec "$@"', 'sh',
             ro, TOOL, 'ingest', clip, '-o', os.path.join(ro, 'x.store')],
            capture_output=True, text=True, timeout=120, env=ENV)
        check(p.returncode == 1 and 'Read-only file system' in p.stderr and
              'ro/x.store' in p.stderr,
              'ingest into a read-only file system says so (EROFS): %r'
              % p.stderr.strip())
    else:
        print('skip  ingest into a read-only file system: unshare -m is not '
              'permitted here (%s)' % (probe.stderr.strip() if probe
                                       else 'no unshare'))
    if os.geteuid() != 0:
        os.chmod(ro, 0o555)
        expect(['ingest', clip, '-o', os.path.join(ro, 'x.store')], 1,
               err_has=['ro/x.store', 'Permission denied'],
               what='ingest into a directory without write permission')
    else:
        print('skip  ingest into a directory without write permission: '
              'root may write anywhere')

    native = os.path.join(tmp, 'native.store')
    expect(['ingest', 'file://' + av, '-o', native], 0, quiet=True,
           what='ingest a URI with an audio track, native format')
    st = gmn.Store(native)
    check(st.committed() == N and st.format == 'I420',
          'native ingest: %d I420 frames, audio ignored' % N)

    clipped = os.path.join(tmp, 'clipped.store')
    _, err = expect(['ingest', clip, '-o', clipped, '--start', '50',
                     '--count', '30'], 0, err_has=['ends at frame 60'],
                    what='ingest a range past the end')
    check(gmn.Store(clipped).committed() == 10,
          'a range past the end is clipped (10 frames)')

    # an interlaced clip: the decoder keeps buffers of memmapsink's slot
    # pool as reference frames and outputs copies. Those slots, held and
    # never committed, once counted against --count (max-frames): the
    # store was "full" before 23 frames and ingest failed with "No space
    # left on the device".
    inter = os.path.join(tmp, 'interlaced.mp4')
    launch('videotestsrc num-buffers=%d pattern=ball ! '
           'video/x-raw,format=I420,width=%d,height=%d,framerate=30/1,'
           'interlace-mode=interleaved,field-order=top-field-first ! '
           'x264enc interlaced=true ! mp4mux ! filesink location=%s'
           % (N, W, H, inter))
    inter_raw = os.path.join(tmp, 'interlaced.raw')
    launch('filesrc location=%s ! decodebin ! video/x-raw,format=I420 ! '
           'filesink location=%s' % (inter, inter_raw))
    inter_ref = np.fromfile(inter_raw, dtype=np.uint8).reshape(
        -1, W * H * 3 // 2)
    inter_store = os.path.join(tmp, 'interlaced.store')
    _, err = expect(['ingest', inter, '-o', inter_store, '--start', '8',
                     '--count', '23'], 0, quiet=True,
                    what='ingest --start 8 --count 23 of an interlaced clip')
    check('No space' not in err, 'max-frames reached is no disk-full error')
    st = gmn.Store(inter_store)
    check(st.committed() == 23 and st.format == 'I420',
          'the interlaced store holds 23 I420 frames')
    # plane by plane through the store's layout: the decoder rendered into
    # the slots with its padding (docs/design.md, "Decoding into the slots")
    def visible(i):
        return np.concatenate([np.ascontiguousarray(p).reshape(-1)
                               for p in st.frame(i)])
    same = st.committed() == 23 and all(np.array_equal(
        visible(i), inter_ref[8 + i]) for i in range(23))
    check(same, 'interlaced store frame i == decoder frame 8 + i, byte for '
          'byte')

    # --- info --------------------------------------------------------------
    out, _ = expect(['info', gray], 0, out_has=[
        'GRAY8 320x240 at 30/1 fps', 'frames:      20 (frames 0..19)',
        'mode:        append, at most 20 frames', 'closed cleanly',
        'duration:    0:00:00.666666666', 'frame size:  76.8 kB',
        'caps:        video/x-raw', 'file size:'])
    expect(['info', os.path.join(tmp, 'missing.store')], 1,
           err_has=['gst-memmap info:', 'missing.store',
                    'No such file or directory'])
    expect(['info', text], 1, err_has=['notes.txt'])

    # --- verify ------------------------------------------------------------
    expect(['verify', rgba], 0, out_has=['OK: 60 frames (0..59)'])
    expect(['verify', '-q', rgba], 0, quiet=True)
    # on a terminal, a progress bar on stderr, wiped at the end
    rc, tty_err = run_on_tty(['verify', rgba])
    check(rc == 0 and re.search(r'\[#+\.*\] +\d+%', tty_err) is not None
          and tty_err.rstrip('\n').endswith('\r\x1b[K'),
          'verify on a terminal draws a progress bar and wipes it '
          '(%r)' % tty_err[-120:])
    expect(['verify', text], 1, err_has=['CORRUPT', 'notes.txt'])
    expect(['verify', os.path.join(tmp, 'missing.store')], 1,
           err_has=['missing.store'])
    expect(['verify', tmp], 1, err_has=[tmp])

    def corrupted(name, edit):
        path = os.path.join(tmp, name)
        shutil.copy(gray, path)
        s = gmn.Store(path, mode='r+')
        edit(s, path)
        s.mm.flush()
        del s
        return path

    def bad_seq(s, path):
        s.index[0, 5]['frame_seq'] = 99

    def dup_slot(s, path):
        s.index[0, 6]['slot'] = s.index[0, 5]['slot']

    def bad_slot(s, path):
        s.index[0, 4]['slot'] = 1 << 40

    def bad_pts(s, path):
        s.index[0, 3]['pts'] = 1 << 63

    def bad_committed(s, path):
        s.mm[256:264].view('<u8')[0] = 1 << 50

    def bad_version(s, path):
        s.mm[8:10].view('<u2')[0] = 7

    def bad_caps(s, path):
        s.mm[512:520] = np.frombuffer(b'audio/x-', dtype=np.uint8)

    expect(['verify', corrupted('seq.store', bad_seq)], 1,
           err_has=['CORRUPT', 'frame 5', 'seq.store'],
           what='verify: a bad frame sequence')
    expect(['verify', corrupted('dup.store', dup_slot)], 1,
           err_has=['CORRUPT', 'frames 5 and 6', 'dup.store'],
           what='verify: two frames in one slot')
    expect(['verify', corrupted('slot.store', bad_slot)], 1,
           err_has=['CORRUPT', 'frame 4', 'slot.store'],
           what='verify: a slot past the file')
    expect(['verify', corrupted('pts.store', bad_pts)], 1,
           err_has=['CORRUPT', 'frame 3'], what='verify: a bad timestamp')
    expect(['verify', corrupted('count.store', bad_committed)], 1,
           err_has=['CORRUPT', 'count.store'],
           what='verify: a committed counter past the file')
    expect(['verify', corrupted('version.store', bad_version)], 1,
           err_has=['CORRUPT', 'version.store'], what='verify: version 7')
    expect(['verify', corrupted('caps.store', bad_caps)], 1,
           err_has=['CORRUPT', 'caps.store'], what='verify: bad caps')
    trunc = os.path.join(tmp, 'trunc.store')
    shutil.copy(rgba, trunc)
    os.truncate(trunc, os.path.getsize(rgba) // 2)
    expect(['verify', trunc], 1, err_has=['CORRUPT', 'trunc.store'],
           what='verify: a truncated store')
    short = os.path.join(tmp, 'short.store')
    shutil.copy(rgba, short)
    os.truncate(short, 100)
    expect(['verify', short], 1, err_has=['CORRUPT', 'too short'],
           what='verify: a file shorter than a header')
    # none of this touched the good store
    expect(['verify', '-q', gray], 0, quiet=True, what='verify: untouched')

    # --- verify: per-frame checksums (format 1.1) ------------------------
    # a store written with checksums: every changed byte of a frame is
    # found, every such frame is listed; without checksums the same change
    # cannot be seen, and verify says that it did not compare
    sums = os.path.join(tmp, 'sums.store')
    subprocess.run(['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=10',
                    '!', 'video/x-raw,format=GRAY8,width=64,height=48', '!',
                    'memmapsink', 'location=' + sums, 'checksum=true'],
                   check=True, env=ENV, timeout=120)
    expect(['verify', sums], 0, out_has=['OK: 10 frames',
                                         'every frame matches its checksum'],
           what='verify: a store with checksums')
    expect(['info', sums], 0,
           out_has=['frame store 1.1, with a checksum of every frame'],
           what='info: format 1.1 with checksums')
    ingested = os.path.join(tmp, 'ingested-sums.store')
    expect(['ingest', clip, '-o', ingested, '--count', '5', '--checksum'],
           0, quiet=True, what='ingest --checksum')
    expect(['verify', ingested], 0, out_has=['OK: 5 frames',
                                             'every frame matches'],
           what='verify: a store ingested with --checksum')
    st = gmn.Store(sums)
    check(st.checksums and all(st.verify(i) for i in range(10)),
          'numpy: the checksums of the memmapsink store match (libxxhash)')
    check(st.planes[0].shape[:2] == (1, 10),
          'numpy: the plane views cover the 10 committed frames only (%r)'
          % (st.planes[0].shape,))
    check(os.stat(sums).st_blocks * 512 <= 4096 * 3 + 10 * 4096,
          'a closed store of 10 frames takes header, index page, its slots '
          'and a page on disk (%d bytes)' % (os.stat(sums).st_blocks * 512))
    del st

    def damaged(name, src, edits):
        path = os.path.join(tmp, name)
        shutil.copy(src, path)
        s = gmn.Store(path, mode='r+')
        for frame, byte, how in edits:
            b = s.frame_bytes(frame)
            b[byte] = 0 if how == 'zero' else b[byte] ^ 0x01
        s.mm.flush()
        del s
        return path

    for frame, byte, how in ((0, 0, 'flip'), (4, 1000, 'zero'),
                             (9, 64 * 48 - 1, 'flip')):
        path = damaged('sums-%d.store' % frame, sums, [(frame, byte, how)])
        expect(['verify', path], 1,
               err_has=['CORRUPT', 'frame %d ' % frame, 'checksum',
                        '1 of 10 frames'],
               what='verify: frame %d, byte %d %s' % (frame, byte, how))
    # the Python reader checks them too: a damaged frame is an error
    import gstmemmap
    path = damaged('sums-py.store', sums, [(4, 1000, 'zero')])
    with gstmemmap.VideoReader(path) as r:
        check(r.stats()['checksums'], 'VideoReader: the store has checksums')
        ok = r[3] is not None
        try:
            r[4]
            ok = False
        except ValueError as e:
            ok = ok and 'checksum' in str(e)
        check(ok, 'VideoReader: frame 4 (one zeroed byte) raises, frame 3 '
              'reads')
    path = damaged('sums-2.store', sums, [(2, 5, 'zero'), (7, 9, 'flip')])
    _, err = expect(['verify', path], 1,
                    err_has=['frame 2 ', 'frame 7 ', '2 of 10 frames'],
                    what='verify: every damaged frame is listed')
    check('frame 3 ' not in err, 'verify lists only the damaged frames')

    plain = os.path.join(tmp, 'plain.store')
    subprocess.run(['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=10',
                    '!', 'video/x-raw,format=GRAY8,width=64,height=48', '!',
                    'memmapsink', 'location=' + plain], check=True, env=ENV,
                   timeout=120)
    path = damaged('plain-4.store', plain, [(4, 1000, 'zero')])
    expect(['verify', path], 0, out_has=['OK: 10 frames', 'no checksums'],
           what='verify: a store without checksums still opens and passes')

    # --- export --------------------------------------------------------------
    png = os.path.join(tmp, 'f13.png')
    expect(['export', rgba, '--frame', '13', '-o', png], 0, quiet=True)
    check(open(png, 'rb').read(8) == b'\x89PNG\r\n\x1a\n', 'export: a PNG')
    check(np.array_equal(png_pixels(png), rgba_ref[13]),
          'export: the PNG holds frame 13, pixel for pixel')
    png0 = os.path.join(tmp, 'f0.png')
    expect(['export', gray, '-o', png0], 0, quiet=True,
           what='export a GRAY8 store (default frame 0)')
    px = png_pixels(png0)
    check(np.array_equal(px[..., 0], gray_ref[7]) and
          np.array_equal(px[..., 0], px[..., 1]),
          'export: frame 0 of the GRAY8 store is decoder frame 7')
    expect(['export', rgba, '--frame', '60', '-o', png], 1,
           err_has=['holds frames 0..59, not frame 60', 'rgba.store'])
    expect(['export', os.path.join(tmp, 'missing.store'), '-o', png], 1,
           err_has=['missing.store'])
    expect(['export', rgba, '-o', os.path.join(tmp, 'no', 'dir.png')], 1,
           err_has=['dir.png'])

    # --- ingest failures ---------------------------------------------------
    out_store = os.path.join(tmp, 'fail.store')
    expect(['ingest', os.path.join(tmp, 'missing.mp4'), '-o', out_store], 1,
           err_has=['missing.mp4', 'No such file or directory'])
    expect(['ingest', text, '-o', out_store], 1, err_has=['notes.txt'],
           what='ingest a text file')
    expect(['ingest', tmp, '-o', out_store], 1, err_has=['directory'])
    expect(['ingest', clip, '-o', out_store, '--start', '60'], 1,
           err_has=['has 60 frames', '--start 60 is past its end'])
    check(not os.path.exists(out_store), 'a failed ingest leaves no store')
    expect(['ingest', clip, '-o', os.path.join(tmp, 'no', 'x.store')], 1,
           err_has=['x.store'], what='ingest into a missing directory')

    # --- writer state: live, then killed -----------------------------------
    live = os.path.join(tmp, 'live.store')
    writer = subprocess.Popen(
        ['gst-launch-1.0', '-q', 'videotestsrc', 'is-live=true', '!',
         'video/x-raw,format=NV12,width=64,height=48,framerate=100/1', '!',
         'memmapsink', 'location=' + live], env=ENV)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(live) and gmn.Store(live).committed() >= 5:
                break
            time.sleep(0.05)
        expect(['info', live], 0, out_has=['open, being written'],
               what='info on a store being written')
        expect(['verify', '-q', live], 0, quiet=True,
               what='verify a store being written')
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    expect(['info', live], 0, out_has=['open, not closed cleanly'],
           what='info on a store whose writer was killed')
    expect(['verify', live], 0, out_has=['OK'],
           what='verify a store whose writer was killed')

    # --- the ring mode ------------------------------------------------------
    ring = os.path.join(tmp, 'ring.store')
    launch('videotestsrc num-buffers=50 ! video/x-raw,format=GRAY8,'
           'width=64,height=48 ! memmapsink location=%s mode=ring '
           'max-frames=16' % ring)
    expect(['info', ring], 0, out_has=[
        'ring of the last 16 frames', 'frames:      16 (frames 34..49)',
        'the first 34 overwritten'])
    expect(['verify', ring], 0, out_has=['OK: 16 frames (34..49)'])
    expect(['export', ring, '--frame', '3', '-o', png], 1,
           err_has=['holds frames 34..49'])

    # --- stats of a memmapcache directory ---------------------------------
    cache = os.path.join(tmp, 'cache')
    uri = 'file://' + clip
    launch('uridecodebin uri=%s ! videoconvert ! video/x-raw,format=GRAY8 ! '
           'memmapcache cache-dir=%s ! fakesink' % (uri, cache))
    launch('uridecodebin uri=%s ! videoconvert ! video/x-raw,format=RGBA ! '
           'memmapcache cache-dir=%s ! identity eos-after=10 ! fakesink'
           % (uri, cache))
    out, _ = expect(['stats', cache], 0, out_has=[
        'cache:    ' + cache, 'streams:  2, ', 'GRAY8 320x240',
        'RGBA 320x240', 'complete, 0:00:02.000000000', 'partial',
        'last use'], what='stats: a complete and a partial stream')
    rows = [l for l in out.splitlines() if re.match(r'^[0-9a-f]{16} ', l)]
    check(len(rows) == 2, 'stats: one row per stream')
    gray = [l for l in rows if 'GRAY8' in l]
    check(len(gray) == 1 and re.search(r' %d +[\d.]+ [kMG]B ' % N, gray[0])
          is not None, 'stats: the GRAY8 stream has %d frames' % N)
    m = re.search(r'streams:  2, (\d+) frames, ([\d.]+ [kMG]?B)', out)
    check(m is not None and int(m.group(1)) >= N + 10, 'stats: totals')

    # a stream someone uses (a shared flock on its lock, as memmapcache
    # users hold), and a corrupt store
    entries = [n for n in os.listdir(cache) if len(n) == 64]
    held = os.path.join(cache, entries[0], 'lock')
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        out, _ = expect(['stats', cache], 0, out_has=['in use'],
                        what='stats: a stream in use')
    finally:
        os.close(fd)
    bad = os.path.join(cache, 'f' * 64)
    os.mkdir(bad, 0o700)
    with open(os.path.join(bad, 's000000.store'), 'wb') as f:
        f.write(b'GSTMMAP\x1a' + b'\xff' * 8000)
    out, _ = expect(['stats', cache], 0, out_has=[
        'streams:  3, ', 's000000.store: corrupt', 'no meta'],
        what='stats: a corrupt store is reported, not trusted')
    # another user's entry in a shared cache directory: listed, not read
    if os.geteuid() == 0:
        os.chown(bad, 4242, -1)
        out, _ = expect(['stats', cache], 0, out_has=[
            'streams:  3, ', "another user's, not read"],
            what="stats: another user's entry is not read")
        check('s000000.store: corrupt' not in out,
              "stats: another user's store is not opened")
        os.chown(bad, 0, -1)
    else:
        print("stats: the other user's entry is not tried: chown needs root")
    xdg = dict(ENV)
    xdg['XDG_CACHE_HOME'] = tmp
    p = subprocess.run([TOOL, 'stats'], capture_output=True, text=True,
                       env=xdg)
    check(p.returncode == 0 and 'cache:    %s/gst-memmap (not made yet)'
          % tmp in p.stdout and 'streams:  0, 0 frames' in p.stdout,
          'stats: the default directory under $XDG_CACHE_HOME')
    expect(['stats', os.path.join(tmp, 'no-cache')], 1,
           err_has=['no-cache', 'No such file or directory'])
    expect(['stats', clip], 1, err_has=['is not a directory'])
    expect(['stats', cache, cache], 2, err_has=['at most one CACHE_DIR'])
finally:
    T.finish(tmp)
