#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The gstmemmap Python package: VideoReader on stores of every video format
GstVideo knows and on a video, views with no copy, ranges, batches, the
context manager, map_file following a small file, torch.

Usage: python_reader.py STORE_MAKE

STORE_MAKE (tests/check/store-make) writes stores through the library's
store API whose frames hold the pattern of tests/check/store-pattern.h:
byte x of row y of plane p of frame f is (13 f + 101 p + 7 y + 3 x) mod 256,
for the bytes of the plane's pixels. Every plane of every frame the reader
returns is compared with a pread() of the file at the offset the store
format gives (computed here with struct, not by the package) and, where
the view is of samples, with the pattern.

Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH set to the build's
gst/memmap. Exit status 77 (skipped) without numpy or PyGObject.
"""

import os
import struct
import subprocess
import sys

import memmaptest as T
from memmaptest import check

tmp = T.make_tmpdir('gst-memmap-reader-', cache=True)
T.import_or_skip(['Gst', 'GstVideo', 'GstMemmap'], skip_dir=tmp)
import numpy as np  # noqa: E402
from gi.repository import GstMemmap, GstVideo  # noqa: E402,F401

T.use_package()
PYDIR = T.PYDIR

STORE_MAKE = sys.argv[1]
ENV = T.tool_env(('GST_DEBUG', 'GST_TRACERS'))
ENV['PYTHONPATH'] = PYDIR


def address(a):
    return a.__array_interface__['data'][0]


def inside(view, base):
    """Whether every byte of view lies in base's memory."""
    lo, hi = np.byte_bounds(view)
    blo, bhi = np.byte_bounds(base)
    return blo <= lo and hi <= bhi


# --- the store format, read with struct (docs/store-format.md) -------------

class RawStore:
    """Offsets of a store's frames, from the documented byte layout."""

    def __init__(self, path):
        self.f = open(path, 'rb')
        h = os.pread(self.f.fileno(), 4096, 0)
        (self.frame_size, self.slot_stride, _, self.epc, self.spc,
         self.index_block, self.chunk_stride, self.data) = \
            struct.unpack_from('<8Q', h, 56)
        self.mode = struct.unpack_from('<I', h, 16)[0]
        self.committed = struct.unpack_from('<Q', h, 256)[0]

    def offset(self, i):
        chunk = 0 if self.mode == 2 else i // self.epc
        e = os.pread(self.f.fileno(), 64, self.data + chunk *
                     self.chunk_stride + (i % self.epc) * 64)
        seq, slot = struct.unpack_from('<2Q', e, 0)
        assert seq == i + 1, (seq, i)
        return (self.data + (slot // self.spc) * self.chunk_stride +
                self.index_block + (slot % self.spc) * self.slot_stride)

    def pread(self, n, off):
        return os.pread(self.f.fileno(), n, off)

    def close(self):
        self.f.close()


def pattern_row(f, p, y, n):
    x = np.arange(n, dtype=np.int64)
    return ((13 * f + 101 * p + 7 * y + 3 * x) & 0xff).astype(np.uint8)


def make_store(path, fmt, w, h, n, opts=()):
    p = subprocess.run([STORE_MAKE, path, fmt, str(w), str(h), str(n)] +
                       list(opts), env=ENV, capture_output=True, text=True)
    return p.returncode == 0, (p.stderr or p.stdout).strip()


def check_frames(r, raw, fmt):
    """Every plane of every frame: views of the reader's mapping, equal to
    a pread of the file at the documented offset, and to the pattern where
    the plane is samples. Returns a list of problems."""
    bad = []
    mm = r.mapping
    for i in range(len(r)):
        frame = r[i]
        planes = frame if isinstance(frame, tuple) else (frame,)
        if len(planes) != len(r.layouts):
            return ['frame %d: %d planes, layout has %d'
                    % (i, len(planes), len(r.layouts))]
        off = raw.offset(i)
        for p, (v, lay) in enumerate(zip(planes, r.layouts)):
            if not (np.shares_memory(v, mm) and inside(v, mm) and
                    not v.flags.owndata and
                    v.flags.writeable == r.writable):
                bad.append('frame %d plane %d: not a view of the '
                           'mapping, writable as asked (copy-on-write by '
                           'default)' % (i, p))
            if address(v) != address(mm) + off + lay.offset:
                bad.append('frame %d plane %d: at %#x, the format says '
                           '%#x' % (i, p, address(v) - address(mm),
                                    off + lay.offset))
            rows = v.reshape(v.shape[0], -1) if v.ndim > 1 else v[None]
            row_stride = lay.strides[0] if v.ndim > 1 else 0
            for y in range(rows.shape[0]):
                got = np.ascontiguousarray(rows[y]).view(np.uint8)
                want = raw.pread(got.size, off + lay.offset + y * row_stride)
                if got.tobytes() != want:
                    bad.append('frame %d plane %d row %d differs from '
                               'pread' % (i, p, y))
                    break
                if not lay.raw and not np.array_equal(
                        got, pattern_row(i, p, y, got.size)):
                    bad.append('frame %d plane %d row %d differs from the '
                               'pattern' % (i, p, y))
                    break
    return bad


# --- every format GstVideo knows ------------------------------------------

def all_formats():
    out = []
    for value in sorted(GstVideo.VideoFormat.__enum_values__):
        vf = GstVideo.VideoFormat(value)
        if vf in (GstVideo.VideoFormat.UNKNOWN, GstVideo.VideoFormat.ENCODED):
            continue
        if GstVideo.VideoFormat.get_info(vf) is None:
            continue
        name = GstVideo.VideoFormat.to_string(vf)
        if name and name != 'DMA_DRM':    # DMA_DRM (1.24): not in memory
            out.append(name)
    return out


# shapes every user of these formats expects (the product derives them
# from GstVideo; these are written down from the formats' definitions)
W, H = 66, 34
EXPECTED = {
    'GRAY8': [((H, W), '|u1')],
    'GRAY16_LE': [((H, W), '<u2')],
    'GRAY16_BE': [((H, W), '>u2')],
    'RGB': [((H, W, 3), '|u1')],
    'BGRx': [((H, W, 4), '|u1')],
    'I420': [((H, W), '|u1'), ((H // 2, W // 2), '|u1'),
             ((H // 2, W // 2), '|u1')],
    'NV12': [((H, W), '|u1'), ((H // 2, W // 2, 2), '|u1')],
    'YUY2': [((H, W, 2), '|u1')],
    'P010_10LE': [((H, W), '<u2'), ((H // 2, W // 2, 2), '<u2')],
    'I420_10LE': [((H, W), '<u2'), ((H // 2, W // 2), '<u2'),
                  ((H // 2, W // 2), '<u2')],
    'RGB16': [((H, W), '<u2')],
    'AYUV64': [((H, W, 4), '<u2')],
    'ARGB64_BE': [((H, W, 4), '>u2')],
    'BGR10A2_LE': [((H, W), '<u4')],
    'Y444_16LE': [((H, W), '<u2')] * 3,
    'v210': [((H, 0), '|u1')],        # raw rows: (H, stride)
    'NV12_64Z32': None,               # tiled: raw planes
}

import gstmemmap  # noqa: E402
from gi.repository import Gst  # noqa: E402

try:
    check(Gst.is_initialized(), 'importing gstmemmap initialised Gst')

    formats = all_formats()
    check(len(formats) > 90, '%d formats from GstVideo.VideoFormat'
          % len(formats))
    refused, raw_formats = [], []
    ok_all = True
    for n, fmt in enumerate(formats):
        path = os.path.join(tmp, '%d-%s.store' % (n, fmt))
        opts = ['--stride-align', '64', '--pad-rows', '2'] if n % 3 == 0 \
            else []
        made, why = make_store(path, fmt, W, H, 3, opts)
        if not made:
            refused.append((fmt, why.splitlines()[-1] if why else
                            'no reason'))
            continue
        raw = RawStore(path)
        try:
            with gstmemmap.VideoReader(path) as r:
                problems = []
                if len(r) != 3 or r.format != fmt:
                    problems.append('len %d, format %s' % (len(r), r.format))
                problems += check_frames(r, raw, fmt)
                exp = EXPECTED.get(fmt, ())
                if exp is None:
                    if not all(lay.raw for lay in r.layouts):
                        problems.append('tiled planes are not raw')
                elif exp:
                    got = [(lay.shape, lay.dtype.str) for lay in r.layouts]
                    want = [((s[0], lay.strides[0]) if s[1] == 0 else s, d)
                            for (s, d), lay in zip(exp, r.layouts)]
                    if got != want:
                        problems.append('shapes %s, expected %s'
                                        % (got, want))
                if any(lay.raw for lay in r.layouts):
                    raw_formats.append(fmt)
        except Exception as e:       # a format the reader cannot read
            problems = ['%s: %s' % (type(e).__name__, e)]
        raw.close()
        os.unlink(path)
        if problems:
            ok_all = False
            print('FAIL %s: %s' % (fmt, '; '.join(problems[:3])))
    check(ok_all, 'every format: views of the mapping, equal to pread at '
          'the documented offsets and to the written pattern')
    print('     raw-bytes planes in: %s' % ', '.join(raw_formats))
    # the store writer refuses tiled and paletted formats (a store's layout
    # has no tiles nor palette, docs/store-format.md): their layouts are
    # raw planes of the whole plane size
    odd = []
    for fmt, why in refused:
        vf = GstVideo.VideoFormat.from_string(fmt)
        finfo = GstVideo.VideoFormat.get_info(vf)
        flags = GstVideo.VideoFormatFlags
        info = GstVideo.VideoInfo.new()
        info.set_format(vf, W, H)
        lays = gstmemmap.plane_layouts(info)
        tiled = bool(finfo.flags & flags.TILED)
        if not ((tiled or finfo.flags & flags.PALETTE) and
                'cannot be stored' in why and
                all(lay.raw == (tiled or lay.index > 0) for lay in lays) and
                sum(lay.size for lay in lays) == info.size):
            odd.append('%s (%s)' % (fmt, why))
    print('     not storable (tiled or paletted): %s'
          % ', '.join(f for f, _ in refused))
    check(not odd, 'the store API writes every format but the tiled and '
          'paletted ones, whose layouts are raw planes (others refused: '
          '%s)' % ', '.join(odd))

    # --- ranges, batches, negative indices, chunk boundaries -------------
    path = os.path.join(tmp, 'chunks.store')
    # 64x48 GRAY8 frames of 3072 bytes in 4 KiB slots: a 20000-byte chunk
    # holds 4 of them, so 10 frames span 3 chunks
    made, why = make_store(path, 'GRAY8', 64, 48, 10,
                           ['--chunk-bytes', '20000'])
    check(made, 'a GRAY8 store of 10 frames in small chunks (%s)' % why)
    raw = RawStore(path)
    r = gstmemmap.VideoReader(path)
    spc = raw.spc
    check(len(r) == 10 and r.shape == (48, 64) and spc >= 2 and spc < 10,
          'len 10, shape (48, 64), %d frames per chunk' % spc)
    frames = [r[i] for i in range(10)]
    check(np.array_equal(r[-1], frames[9]) and
          np.array_equal(r[-10], frames[0]), 'negative indices')
    try:
        r[10]
        check(False, 'r[10] raises IndexError')
    except IndexError:
        check(True, 'r[10] raises IndexError')
    a = r[0:spc]
    check(a.shape == (spc, 48, 64) and np.shares_memory(a, r.mapping) and
          inside(a, r.mapping) and r.is_view(0, spc) and
          all(np.array_equal(a[k], frames[k]) for k in range(spc)),
          'a range inside one chunk is one view of the mapping')
    check(np.shares_memory(a, r[1]) and address(r[1]) == address(a[1]),
          'two views of one mapping share memory: r[0:n][1] is r[1]')
    b = r[spc - 1:spc + 2]
    check(not r.is_view(spc - 1, spc + 2) and b.flags.owndata and
          not np.shares_memory(b, r.mapping) and
          all(np.array_equal(b[k], frames[spc - 1 + k]) for k in range(3)),
          'a range across a chunk boundary is one copy, same frames')
    b2 = r[spc - 1:spc + 1]
    check(r.is_view(spc - 1, spc + 1) and np.shares_memory(b2, r.mapping) and
          np.array_equal(b2[1], frames[spc]),
          'two frames are always at one distance: a view, even across '
          'chunks')
    del b2
    c = r[spc - 1::-1]
    check(np.shares_memory(c, r.mapping) and c.shape[0] == spc and
          all(np.array_equal(c[k], frames[spc - 1 - k]) for k in range(spc)),
          'a reversed range inside a chunk is a view')
    bt = r.get_batch([7, 1, -1, 1])
    check(bt.shape == (4, 48, 64) and bt.flags.owndata and
          not np.shares_memory(bt, r.mapping) and
          all(np.array_equal(bt[k], frames[j])
              for k, j in enumerate([7, 1, 9, 1])),
          'get_batch: stacked in a new array, in the order asked')
    check(len(list(iter(r))) == 10 and
          all(np.array_equal(x, frames[k]) for k, x in enumerate(r)),
          'iteration yields every frame')
    ts = r.timestamps
    check(np.allclose(ts, np.arange(10) * 0.001) and
          np.allclose(r.get_frame_timestamp(3), [0.003, 0.004]) and
          r.get_frame_timestamp([1, 2]).shape == (2, 2) and
          r.get_pts(-1) == 9000000,
          'timestamps of the index (pts i ms, duration 1 ms)')
    st = r.stats()
    check(isinstance(st, dict) and st['frames'] == 10 and
          st['format'] == 'GRAY8' and st['closed'] is True,
          'stats() is a dict')
    # the header and the index come from the library, GstMemmap.StoreReader
    # (issue 15): the same places as the documented numpy reader's
    from gstmemmap.libstore import LibStoreFile
    from gstmemmap.views import StoreFile
    sf, ref = r._src.sf, StoreFile(path)
    check(isinstance(sf, LibStoreFile) and sf.version == ref.version and
          sf.plane_offsets[:1] == ref.plane_offsets[:1] and
          sf.plane_strides[:1] == ref.plane_strides[:1] and
          sf.frame_size == ref.frame_size and sf.fps == ref.fps and
          [sf.frame_offset(i) for i in range(10)] ==
          [ref.frame_offset(i) for i in range(10)] and
          all(sf.entry(i)[k] == int(ref.entry(i)[k]) for i in range(10)
              for k in ('frame_seq', 'slot', 'pts', 'duration', 'flags')),
          'a store is read through GstMemmap.StoreReader: its layout, '
          'entries and frame offsets are the numpy reader\'s')
    ref.close()

    # --- close and the context manager ----------------------------------
    keep = r[4]
    r.close()
    try:
        r[0]
        check(False, 'a closed reader raises')
    except ValueError:
        check(True, 'a closed reader raises ValueError')
    check(np.array_equal(keep, frames[4]),
          'a view outlives the reader that made it')
    with gstmemmap.VideoReader('file://' + path) as r3:
        check(len(r3) == 10 and np.array_equal(r3[5], frames[5]),
              'a store by file:// URI')
    with gstmemmap.VideoReader(path) as r2:
        inner = r2[2]
    check(r2._src is None and np.array_equal(inner, frames[2]),
          'with: closed on exit, its views still valid')
    del keep, inner, frames, a, c
    raw.close()

    # --- a ring store being written: refresh() --------------------------
    ring = os.path.join(tmp, 'ring.store')
    w = subprocess.Popen([STORE_MAKE, ring, 'GRAY8', '64', '48', '0',
                          '--ring', '50', '--seconds', '1'], env=ENV,
                         stdout=subprocess.PIPE, text=True)
    check(w.stdout.readline().strip() == 'ready', 'a ring writer started')
    rr = gstmemmap.VideoReader(ring)
    n0 = len(rr)
    committed = int(w.communicate(timeout=120)[0].split()[-1])
    n1 = rr.refresh()
    first = committed - 50
    check(w.returncode == 0 and committed > 50 and n0 <= 50 and n1 == 50 and
          rr.stats()['first-frame'] == first and rr.stats()['closed'],
          'refresh(): a ring of 50 read while written (%d, then %d of %d '
          'frames)' % (n0, n1, committed))
    check(all(np.array_equal(rr[i], np.stack([pattern_row(first + i, 0, y, 64)
                                              for y in range(48)]))
              for i in range(50)) and rr.get_pts(0) == first * 1000000,
          'the ring\'s frames are its last 50, in order')
    rr.close()

    # --- a video, decoded once ------------------------------------------
    clip = os.path.join(tmp, 'clip.mp4')
    subprocess.run(['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=30',
                    'pattern=ball', '!', 'video/x-raw,format=I420,width=160,'
                    'height=96,framerate=30/1', '!', 'x264enc', 'bframes=2',
                    'key-int-max=10', '!', 'mp4mux', '!', 'filesink',
                    'location=' + clip], check=True, env=ENV, timeout=120)
    subprocess.run(['gst-launch-1.0', '-q', 'filesrc', 'location=' + clip,
                    '!', 'decodebin', '!', 'videoconvert', '!',
                    'video/x-raw,format=GRAY8', '!', 'filesink',
                    'location=' + clip + '.gray'], check=True, env=ENV,
                   timeout=120)
    ref = np.fromfile(clip + '.gray', dtype=np.uint8).reshape(-1, 96, 160)
    with gstmemmap.VideoReader(clip, format='GRAY8') as v:
        fr = v.frames
        check(len(v) == 30 and v.shape == (96, 160) and v.fps == 30.0,
              'a video: 30 GRAY8 frames of 160x96 at 30 fps')
        check(all(np.array_equal(v[i], ref[i]) for i in range(30)),
              'its frames are the decoder\'s')
        check(all(address(v[i]) == fr.get_address(i) for i in range(30)),
              'each frame is a view at the library\'s address of it')
        whole = v[:]
        check(v.is_view(0, 30) and np.shares_memory(whole, v[7]) and
              address(whole) == fr.get_address(0) and
              np.array_equal(whole, ref),
              'the whole clip is one view over the cache store')
        check(v.stats()['decoded-frames'] >= 30, 'the first reader decodes')
        check(np.isclose(v.get_frame_timestamp(0)[1] -
                         v.get_frame_timestamp(0)[0], 1 / 30),
              'frame durations')
    with gstmemmap.VideoReader(clip, format='GRAY8') as v:
        check(v.stats()['decoded-frames'] == 0,
              'a second reader decodes nothing')
    with gstmemmap.VideoReader(clip) as v:
        check(v.format == 'RGB' and v[0].shape == (96, 160, 3),
              'videos are RGB by default, as decord')

    # --- map_file follows a small file -------------------------------------
    small = os.path.join(tmp, 'small.bin')
    with open(small, 'wb') as f:
        f.write(bytes(4096))
    follow = gstmemmap.map_file(small)
    snapshot = gstmemmap.map_file(small, copy=True)
    subprocess.run([sys.executable, '-c', 'import os, sys\n'
                    'fd = os.open(sys.argv[1], os.O_WRONLY)\n'
                    'os.pwrite(fd, b"written!", 100)\n', small], check=True)
    check(follow.size == 4096 and bytes(follow[100:108]) == b'written!',
          'a 4 KiB file mapped read-only sees another process\'s later '
          'write')
    check(bytes(snapshot[100:108]) == bytes(8),
          'map_file(copy=True) is a snapshot of a small file')
    st = gstmemmap.engine_stats()
    check(isinstance(st, dict) and 'maps' in st, 'engine_stats() is a dict')
    del follow, snapshot

    # --- import without Gst.init: no GLib warnings -----------------------
    p = subprocess.run([sys.executable, '-c',
                        'import gstmemmap\n'
                        'r = gstmemmap.VideoReader(%r)\n'
                        'print(len(r), gstmemmap.engine_stats()["maps"])\n'
                        % path], env=ENV, capture_output=True, text=True)
    check(p.returncode == 0 and p.stderr.strip() == '',
          'import gstmemmap with no Gst.init() first: no warnings (%s)'
          % p.stderr.strip()[:200])

    # GstMemmap.init() without Gst.init(): gst_memmap_init() initialises
    # GStreamer itself (it used to print GLib assertion warnings)
    p = subprocess.run([sys.executable, '-c',
                        'import gi\n'
                        'gi.require_version("GstMemmap", "1.0")\n'
                        'from gi.repository import GstMemmap\n'
                        'GstMemmap.init()\n'
                        'e = GstMemmap.Engine.get_default()\n'
                        'print(e.get_stats().get_name())\n'],
                       env=ENV, capture_output=True, text=True)
    check(p.returncode == 0 and p.stderr.strip() == '' and
          'memmap-engine-stats' in p.stdout,
          'GstMemmap.init() with no Gst.init() first: no warnings (%s)'
          % p.stderr.strip()[:200])

    # --- the former module -------------------------------------------------
    p = subprocess.run([sys.executable, '-c',
                        'import gstmemmap_numpy as gmn\n'
                        'print(gmn.plane_shapes("P010_10LE", 8, 4))\n'
                        'print(gmn.Store(%r).frame(3)[0].shape)\n' % path],
                       env=ENV, capture_output=True, text=True)
    check(p.returncode == 0 and '(4, 8, 0,' in p.stdout and
          '(48, 64)' in p.stdout,
          'gstmemmap_numpy still imports and reads (%s)'
          % (p.stdout + p.stderr).strip().replace('\n', ' ')[:200])

    # --- torch: zero copy ---------------------------------------------------
    try:
        import torch
    except ImportError as e:
        print('skip torch: python3-torch is not installed (%s)' % e)
    else:
        with gstmemmap.VideoReader(path) as r:
            t = gstmemmap.to_torch(r[3])
            rng = gstmemmap.to_torch(r[0:2])
            check(t.data_ptr() == address(r[3]) and
                  tuple(t.shape) == (48, 64) and t.dtype == torch.uint8,
                  'to_torch: a tensor over the frame\'s memory')
            check(rng.data_ptr() == address(r[0]) and
                  torch.equal(rng[1], torch.from_numpy(r.get_batch([1])[0])),
                  'to_torch of a range: no copy')
            cap = torch.utils.dlpack.to_dlpack(t)
            back = torch.utils.dlpack.from_dlpack(cap)
            check(back.data_ptr() == t.data_ptr(),
                  'DLPack passes it on without a copy')
finally:
    T.finish(tmp)
