#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads frame stores with numpy alone, as docs/store-format.md shows.

Usage: store_numpy.py STORE_MAKE

STORE_MAKE is the tests/check/store-make helper, which writes stores whose
frames hold the pattern of tests/check/store-pattern.h: byte x of row y of
plane p of frame f is (13 f + 101 p + 7 y + 3 x) mod 256. Every frame of
every store is checked pixel for pixel, through arrays that are views of
one np.memmap of the file (no copy).

Exit status 77 (skipped) if numpy is missing.
"""

import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipping")
    sys.exit(77)

# --- the code of docs/store-format.md, "Reading a store with numpy" -------

HEADER = np.dtype({
    'names': ['magic', 'version_major', 'version_minor', 'header_size',
              'mode', 'state', 'slot_align', 'n_planes', 'width', 'height',
              'fps_n', 'fps_d', 'writer_pid', 'flags', 'frame_size',
              'slot_stride', 'max_frames', 'entries_per_chunk',
              'slots_per_chunk', 'index_block_size', 'chunk_stride',
              'data_offset', 'creation_time', 'plane_offset',
              'plane_stride', 'format', 'committed', 'chunks_reserved',
              'generation', 'caps'],
    'formats': ['S8', '<u2', '<u2', '<u4', '<u4', '<u4', '<u4', '<u4',
                '<u4', '<u4', '<i4', '<i4', '<u4', '<u4', '<u8', '<u8',
                '<u8', '<u8', '<u8', '<u8', '<u8', '<u8', '<u8',
                ('<u8', 4), ('<i4', 4), 'S32', '<u8', '<u8', '<u8',
                'S2048'],
    'offsets': [0, 8, 10, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56,
                64, 72, 80, 88, 96, 104, 112, 120, 128, 160, 176, 256, 320,
                328, 512],
    'itemsize': 4096})

ENTRY = np.dtype({
    'names': ['frame_seq', 'slot', 'pts', 'duration', 'flags'],
    'formats': ['<u8', '<u8', '<u8', '<u8', '<u4'],
    'offsets': [0, 8, 16, 24, 32],
    'itemsize': 64})

# plane shapes of some formats: (rows, columns, channels, dtype) per plane,
# from the frame's width w and height h
def cdiv(a, b):
    return -(-a // b)

PLANES = {
    'GRAY8':     lambda w, h: [(h, w, 0, '|u1')],
    'GRAY16_LE': lambda w, h: [(h, w, 0, '<u2')],
    'GRAY16_BE': lambda w, h: [(h, w, 0, '>u2')],
    'RGB':       lambda w, h: [(h, w, 3, '|u1')],
    'BGR':       lambda w, h: [(h, w, 3, '|u1')],
    'RGBA':      lambda w, h: [(h, w, 4, '|u1')],
    'BGRA':      lambda w, h: [(h, w, 4, '|u1')],
    'RGBx':      lambda w, h: [(h, w, 4, '|u1')],
    'BGRx':      lambda w, h: [(h, w, 4, '|u1')],
    'I420':      lambda w, h: [(h, w, 0, '|u1'),
                               (cdiv(h, 2), cdiv(w, 2), 0, '|u1'),
                               (cdiv(h, 2), cdiv(w, 2), 0, '|u1')],
    'YV12':      lambda w, h: [(h, w, 0, '|u1'),
                               (cdiv(h, 2), cdiv(w, 2), 0, '|u1'),
                               (cdiv(h, 2), cdiv(w, 2), 0, '|u1')],
    'Y42B':      lambda w, h: [(h, w, 0, '|u1'),
                               (h, cdiv(w, 2), 0, '|u1'),
                               (h, cdiv(w, 2), 0, '|u1')],
    'Y444':      lambda w, h: [(h, w, 0, '|u1')] * 3,
    'NV12':      lambda w, h: [(h, w, 0, '|u1'),
                               (cdiv(h, 2), cdiv(w, 2), 2, '|u1')],
    'NV21':      lambda w, h: [(h, w, 0, '|u1'),
                               (cdiv(h, 2), cdiv(w, 2), 2, '|u1')],
}


class Store:
    def __init__(self, path):
        self.mm = np.memmap(path, dtype=np.uint8, mode='r')
        h = self.mm[:4096].view(HEADER)[0]
        if h['magic'] != b'GSTMMAP\x1a' or h['version_major'] != 1:
            raise ValueError('not a version 1 frame store')
        self.h = h
        self.format = h['format'].decode()
        self.caps = h['caps'].split(b'\0')[0].decode()
        self.width, self.height = int(h['width']), int(h['height'])
        self.ring = h['mode'] == 2
        self.epc = int(h['entries_per_chunk'])
        self.spc = int(h['slots_per_chunk'])
        self.n_chunks = int(h['chunks_reserved'])
        self.data = int(h['data_offset'])
        self.chunk_stride = int(h['chunk_stride'])
        # shape (n_chunks, entries_per_chunk): a view of the index blocks
        self.index = np.ndarray((self.n_chunks, self.epc), dtype=ENTRY,
                                buffer=self.mm, offset=self.data,
                                strides=(self.chunk_stride, 64))
        # one array per plane, shape (chunk, slot in chunk, rows, columns
        # [, channels]): views of every slot of the file
        self.planes = []
        for p, (rows, cols, ch, dt) in enumerate(
                PLANES[self.format](self.width, self.height)):
            dt = np.dtype(dt)
            shape = (self.n_chunks, self.spc, rows, cols)
            strides = (self.chunk_stride, int(h['slot_stride']),
                       int(h['plane_stride'][p]), dt.itemsize * max(ch, 1))
            if ch:
                shape += (ch,)
                strides += (dt.itemsize,)
            self.planes.append(np.ndarray(
                shape, dtype=dt, buffer=self.mm,
                offset=(self.data + int(h['index_block_size']) +
                        int(h['plane_offset'][p])),
                strides=strides))

    def committed(self):
        # read the counter before the entries it covers
        return int(self.mm[256:264].view('<u8')[0])

    def first_frame(self):
        n = self.committed()
        return max(0, n - self.epc) if self.ring else 0

    def entry(self, i):
        if self.ring:
            e = self.index[0, i % self.epc]
        else:
            e = self.index[i // self.epc, i % self.epc]
        if e['frame_seq'] != i + 1:
            raise ValueError('frame %d was overwritten or is corrupt' % i)
        return e

    def frame(self, i):
        """The planes of frame i, as views of the file."""
        s = int(self.entry(i)['slot'])
        return [plane[s // self.spc, s % self.spc] for plane in self.planes]

# --- end of the documented code -------------------------------------------


def expected_plane(f, p, rows, cols, ch, dt):
    """The pattern of store-pattern.h, shaped like the plane's view."""
    dt = np.dtype(dt)
    nbytes = cols * max(ch, 1) * dt.itemsize
    y = np.arange(rows, dtype=np.int64)[:, None]
    x = np.arange(nbytes, dtype=np.int64)[None, :]
    raw = ((13 * f + 101 * p + 7 * y + 3 * x) & 0xff).astype(np.uint8)
    arr = raw.view(dt)  # bytes of each row, reinterpreted
    if ch:
        arr = arr.reshape(rows, cols, ch)
    return arr


def reaches_memmap(arr, mm):
    base = arr
    while base is not None:
        if base is mm:
            return True
        base = getattr(base, 'base', None)
    return False


def check_store(path, n_expected, ring_max=0):
    st = Store(path)
    committed = st.committed()
    assert committed == n_expected, (committed, n_expected)
    assert st.h['state'] == 2, 'not closed cleanly'
    assert st.caps.startswith('video/x-raw'), st.caps
    first = st.first_frame()
    if ring_max:
        assert first == max(0, n_expected - ring_max)
    shapes = PLANES[st.format](st.width, st.height)
    for i in range(first, committed):
        e = st.entry(i)
        assert int(e['pts']) == i * 1000000, (i, e['pts'])
        assert int(e['duration']) == 1000000
        assert int(e['flags']) == (1 if i == 0 else 0)
        planes = st.frame(i)
        for p, arr in enumerate(planes):
            rows, cols, ch, dt = shapes[p]
            exp = expected_plane(i, p, rows, cols, ch, dt)
            assert arr.shape == exp.shape, (arr.shape, exp.shape)
            if not np.array_equal(arr, exp):
                bad = np.argwhere(arr != exp)[0]
                raise AssertionError('%s: frame %d plane %d differs at %s'
                                     % (path, i, p, bad))
            # a view of the file, not a copy
            assert not arr.flags.owndata
            assert reaches_memmap(arr, st.mm), 'not a view of the memmap'
            assert np.shares_memory(arr, st.mm)
    # frames gone from a ring are detected
    for i in range(0, first):
        try:
            st.entry(i)
        except ValueError:
            pass
        else:
            raise AssertionError('overwritten frame %d readable' % i)
    return st


CASES = [
    # format, width, height, frames, options
    ('I420', 317, 241, 7, ['--chunk-bytes', '200000', '--stride-align',
                           '64', '--pad-rows', '2']),
    ('I420', 64, 48, 5, []),
    ('YV12', 30, 20, 3, []),
    ('Y42B', 35, 9, 4, ['--stride-align', '16']),
    ('Y444', 16, 16, 3, ['--chunk-bytes', '1']),
    ('NV12', 64, 48, 13, ['--ring', '5', '--stride-align', '32']),
    ('NV12', 33, 21, 4, []),
    ('NV21', 10, 6, 2, []),
    ('RGB', 33, 17, 5, ['--chunk-bytes', '10000']),
    ('BGR', 7, 3, 2, []),
    ('RGBA', 20, 10, 6, ['--ring', '4']),
    ('BGRA', 20, 10, 2, []),
    ('BGRx', 21, 11, 3, ['--stride-align', '128']),
    ('RGBx', 5, 5, 1, []),
    ('GRAY8', 31, 7, 9, ['--chunk-bytes', '8192']),
    ('GRAY16_LE', 31, 7, 3, ['--stride-align', '16']),
    ('GRAY16_BE', 9, 4, 2, []),
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 1
    store_make = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix='store-numpy-') as tmp:
        for n, (fmt, w, h, frames, opts) in enumerate(CASES):
            path = os.path.join(tmp, '%d-%s.store' % (n, fmt))
            subprocess.run([store_make, path, fmt, str(w), str(h),
                            str(frames)] + opts, check=True,
                           stdout=subprocess.DEVNULL)
            ring_max = int(opts[opts.index('--ring') + 1]) \
                if '--ring' in opts else 0
            st = check_store(path, frames, ring_max)
            print('ok %s %dx%d: %d frames, %d chunk(s), planes %s' % (
                fmt, w, h, frames, st.n_chunks,
                [a.shape for a in st.planes]))
            del st
    return 0


if __name__ == '__main__':
    sys.exit(main())
