# SPDX-License-Identifier: LGPL-2.1-or-later
"""numpy views of gst-memmap frame stores, mappings and frames, no copy.

Pure numpy (and, for the GObject introspection objects, ctypes from the
standard library). Nothing here copies a frame:

- ``Store(path)``: a frame store file (docs/store-format.md) through one
  ``np.memmap``; ``store.frame(i)`` is the list of the planes of frame i,
  each an ``np.ndarray`` view of the file.
- ``mapping_array(mapping)``: the bytes of a ``GstMemmap.Mapping`` (from
  ``engine.map_file()``, ``map_range()`` or ``create_file()``) as a uint8
  array whose memory *is* the mapping (writable if the mapping is); the
  array keeps the mapping alive.
- ``frame_planes(frames, i)``: the planes of frame i of a
  ``GstMemmap.Frames`` (``engine.map_video_frames()``), as arrays over the
  library's own pointers into the frame store; the arrays keep the frames
  object alive.

Example::

    import gi
    gi.require_version('GstMemmap', '1.0')
    from gi.repository import GstMemmap
    import gstmemmap_numpy as gmn

    engine = GstMemmap.Engine.get_default()
    frames = engine.map_video_frames('clip.mp4', 0, 10, 'GRAY8')
    (y,) = gmn.frame_planes(frames, 0)     # (height, width) uint8
"""

import ctypes

import numpy as np

__all__ = ['HEADER', 'ENTRY', 'PLANES', 'Store', 'plane_shapes',
           'FRAME_DISCONT', 'FRAME_INTERLACED', 'FRAME_TFF', 'FRAME_RFF',
           'FRAME_ONEFIELD', 'FRAME_CORRUPTED', 'FRAME_GAP',
           'mapping_array', 'frame_bytes', 'frame_planes']

# --- the store format (docs/store-format.md, "Reading a store with numpy") --

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
    'names': ['frame_seq', 'slot', 'pts', 'duration', 'flags', 'checksum'],
    'formats': ['<u8', '<u8', '<u8', '<u8', '<u4', '<u8'],
    'offsets': [0, 8, 16, 24, 32, 40],
    'itemsize': 64})

# index entry flags (format 1.1; 1.0 stores have DISCONT only)
FRAME_DISCONT = 1 << 0
FRAME_INTERLACED = 1 << 1
FRAME_TFF = 1 << 2
FRAME_RFF = 1 << 3
FRAME_ONEFIELD = 1 << 4
FRAME_CORRUPTED = 1 << 5
FRAME_GAP = 1 << 6
# header flags: bit 0, every entry's checksum is the XXH3-64 of its frame
HEADER_CHECKSUMS = 1 << 0


def _xxh3():
    """XXH3_64bits of libxxhash (Debian's libxxhash0), or None."""
    import ctypes.util
    for name in (ctypes.util.find_library('xxhash'), 'libxxhash.so.0'):
        if not name:
            continue
        try:
            fn = ctypes.CDLL(name).XXH3_64bits
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_uint64
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        return fn
    return None


def _cdiv(a, b):
    return -(-a // b)


# (rows, columns, channels or 0, dtype) of each plane of a w x h frame
PLANES = {
    'GRAY8':     lambda w, h: [(h, w, 0, '|u1')],
    'GRAY16_LE': lambda w, h: [(h, w, 0, '<u2')],
    'GRAY16_BE': lambda w, h: [(h, w, 0, '>u2')],
    'RGB':       lambda w, h: [(h, w, 3, '|u1')],
    'BGR':       lambda w, h: [(h, w, 3, '|u1')],
    'RGBA':      lambda w, h: [(h, w, 4, '|u1')],
    'BGRA':      lambda w, h: [(h, w, 4, '|u1')],
    'ARGB':      lambda w, h: [(h, w, 4, '|u1')],
    'ABGR':      lambda w, h: [(h, w, 4, '|u1')],
    'RGBx':      lambda w, h: [(h, w, 4, '|u1')],
    'BGRx':      lambda w, h: [(h, w, 4, '|u1')],
    'xRGB':      lambda w, h: [(h, w, 4, '|u1')],
    'xBGR':      lambda w, h: [(h, w, 4, '|u1')],
    'I420':      lambda w, h: [(h, w, 0, '|u1'),
                               (_cdiv(h, 2), _cdiv(w, 2), 0, '|u1'),
                               (_cdiv(h, 2), _cdiv(w, 2), 0, '|u1')],
    'YV12':      lambda w, h: [(h, w, 0, '|u1'),
                               (_cdiv(h, 2), _cdiv(w, 2), 0, '|u1'),
                               (_cdiv(h, 2), _cdiv(w, 2), 0, '|u1')],
    'Y42B':      lambda w, h: [(h, w, 0, '|u1'),
                               (h, _cdiv(w, 2), 0, '|u1'),
                               (h, _cdiv(w, 2), 0, '|u1')],
    'Y444':      lambda w, h: [(h, w, 0, '|u1')] * 3,
    'NV12':      lambda w, h: [(h, w, 0, '|u1'),
                               (_cdiv(h, 2), _cdiv(w, 2), 2, '|u1')],
    'NV21':      lambda w, h: [(h, w, 0, '|u1'),
                               (_cdiv(h, 2), _cdiv(w, 2), 2, '|u1')],
}


def plane_shapes(fmt, width, height):
    """[(rows, columns, channels or 0, dtype)] of each plane of a frame."""
    try:
        return PLANES[fmt](width, height)
    except KeyError:
        raise NotImplementedError(
            'no numpy plane shapes for format %s (known: %s); use '
            'frame_bytes()' % (fmt, ', '.join(sorted(PLANES)))) from None


def _plane_view(buffer, offset, stride, shape_entry, outer=()):
    """An ndarray over buffer at offset: outer dimensions (shape, stride)
    first, then rows (stride apart), columns and channels."""
    rows, cols, ch, dt = shape_entry
    dt = np.dtype(dt)
    shape = tuple(s for s, _ in outer) + (rows, cols)
    strides = tuple(st for _, st in outer) + (stride, dt.itemsize * max(ch, 1))
    if ch:
        shape += (ch,)
        strides += (dt.itemsize,)
    return np.ndarray(shape, dtype=dt, buffer=buffer, offset=offset,
                      strides=strides)


class Store:
    """A frame store file, read with numpy alone (docs/store-format.md)."""

    def __init__(self, path, mode='r'):
        self.path = path
        self.mm = np.memmap(path, dtype=np.uint8, mode=mode)
        h = self.mm[:4096].view(HEADER)[0]
        if h['magic'] != b'GSTMMAP\x1a' or h['version_major'] != 1:
            raise ValueError('%s: not a version 1 frame store' % path)
        self.h = h
        # format 1.1: every entry holds its frame's XXH3-64
        self.checksums = bool(int(h['flags']) & HEADER_CHECKSUMS)
        self.format = h['format'].split(b'\0')[0].decode()
        self.caps = h['caps'].split(b'\0')[0].decode()
        self.width, self.height = int(h['width']), int(h['height'])
        self.ring = h['mode'] == 2
        self.epc = int(h['entries_per_chunk'])
        self.spc = int(h['slots_per_chunk'])
        self.n_chunks = int(h['chunks_reserved'])
        self.data = int(h['data_offset'])
        self.chunk_stride = int(h['chunk_stride'])
        self.slot_stride = int(h['slot_stride'])
        self.frame_size = int(h['frame_size'])
        end = self.data + self.n_chunks * self.chunk_stride
        if end > self.mm.size:
            raise ValueError('%s: %d chunks do not fit in %d bytes'
                             % (path, self.n_chunks, self.mm.size))
        # shape (n_chunks, entries_per_chunk): a view of the index blocks
        self.index = np.ndarray((self.n_chunks, self.epc), dtype=ENTRY,
                                buffer=self.mm, offset=self.data,
                                strides=(self.chunk_stride, 64))
        # the views cover the frames committed when the Store was made: the
        # chunks that hold them, and in a store of one chunk the slots up to
        # the last one used (a closed store gave the others' blocks back)
        n = self.committed()
        shown_chunks, shown_slots = self.n_chunks, self.spc
        if not self.ring:
            shown_chunks = max(1, min(self.n_chunks, _cdiv(n, self.epc)))
        if shown_chunks == 1 and n > 0:
            # the entries of chunk 0 that hold committed frames (a bad slot
            # number is capped: frame() checks every entry it uses)
            used = self.index[0, :min(n, self.epc)]['slot']
            shown_slots = min(self.spc, int(used.max()) + 1)
        self.shown_chunks, self.shown_slots = shown_chunks, shown_slots
        # one array per plane, shape (chunk, slot in chunk, rows, columns
        # [, channels]): views of the slots of the committed frames
        self.planes = []
        slots = self.data + int(h['index_block_size'])
        for p, shape in enumerate(plane_shapes(self.format, self.width,
                                               self.height)):
            self.planes.append(_plane_view(
                self.mm, slots + int(h['plane_offset'][p]),
                int(h['plane_stride'][p]), shape,
                outer=((shown_chunks, self.chunk_stride),
                       (shown_slots, self.slot_stride))))

    def committed(self):
        """Frames ever committed (read before the entries it covers)."""
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
            raise ValueError('%s: frame %d was overwritten or is corrupt'
                             % (self.path, i))
        return e

    def slot_offset(self, slot):
        """File offset of a slot (docs/store-format.md)."""
        return (self.data + (slot // self.spc) * self.chunk_stride +
                int(self.h['index_block_size']) +
                (slot % self.spc) * self.slot_stride)

    def frame(self, i):
        """The planes of frame i, as views of the file."""
        s = int(self.entry(i)['slot'])
        return [plane[s // self.spc, s % self.spc] for plane in self.planes]

    def pts(self, i):
        """Presentation timestamp of frame i in ns (None if unknown)."""
        v = int(self.entry(i)['pts'])
        return None if v == 0xffffffffffffffff else v

    def flags(self, i):
        """The index flags of frame i (FRAME_DISCONT, FRAME_INTERLACED,
        FRAME_TFF, ...)."""
        return int(self.entry(i)['flags'])

    def frame_bytes(self, i):
        """The frame_size bytes of frame i (1-D uint8 view)."""
        off = self.slot_offset(int(self.entry(i)['slot']))
        return self.mm[off:off + self.frame_size]

    def verify(self, i):
        """True if frame i's bytes match its checksum (a store written with
        checksums; needs libxxhash). Raises ValueError if the store has no
        checksums, RuntimeError if libxxhash cannot be loaded."""
        if not self.checksums:
            raise ValueError('%s: written without checksums' % self.path)
        fn = _xxh3()
        if fn is None:
            raise RuntimeError('libxxhash (Debian: libxxhash0) not found')
        want = int(self.entry(i)['checksum'])
        data = self.frame_bytes(i)
        return fn(data.ctypes.data, data.size) == want


# --- GObject introspection objects ---------------------------------------

class _Keeper:
    """The base of an array over foreign memory: holds what keeps the
    memory valid (a GstMemmap.Mapping or GstMemmap.Frames)."""

    def __init__(self, owner, address, size, writable):
        self.owner = owner
        self.__array_interface__ = {
            'shape': (size,), 'typestr': '|u1', 'version': 3,
            'data': (address, not writable),
        }


def _wrap(owner, address, size, writable):
    if size == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.asarray(_Keeper(owner, address, size, writable))


def mapping_array(mapping):
    """The bytes of a GstMemmap.Mapping as a 1-D uint8 array, no copy.

    The array's memory is the mapping (its data address is
    mapping.get_address()); it is writable when the mapping is, and writes
    reach the file (mapping.flush() syncs them). The array holds a
    reference on the mapping, so the bytes stay mapped while it lives."""
    return _wrap(mapping, mapping.get_address(), mapping.get_size(),
                 mapping.is_writable())


def frame_bytes(frames, i):
    """The bytes of frame i of a GstMemmap.Frames (1-D, read-only)."""
    return _wrap(frames, frames.get_address(i), frames.get_frame_size(), False)


def frame_planes(frames, i):
    """The planes of frame i of a GstMemmap.Frames as read-only arrays over
    the frame's memory (in the frame store when frames.is_zero_copy()).

    Plane p of frame i starts at frames.get_plane_address(i, p)."""
    fmt = frames.get_format()
    shapes = plane_shapes(fmt, frames.get_width(), frames.get_height())
    raw = frame_bytes(frames, i)
    out = []
    for p, shape in enumerate(shapes):
        v = _plane_view(raw, frames.get_plane_offset(p),
                        frames.get_plane_stride(p), shape)
        v.flags.writeable = False
        out.append(v)
    return out
