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
import os
import stat

import numpy as np

__all__ = ['HEADER', 'ENTRY', 'PLANES', 'Store', 'plane_shapes',
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
    'names': ['frame_seq', 'slot', 'pts', 'duration', 'flags'],
    'formats': ['<u8', '<u8', '<u8', '<u8', '<u4'],
    'offsets': [0, 8, 16, 24, 32],
    'itemsize': 64})


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


STATE_DAMAGED = 3


def _open_regular(path, mode):
    """The file at path as a file object, refusing anything but a regular
    file before a FIFO's open() could block (O_NONBLOCK, then cleared)."""
    flags = os.O_RDWR if '+' in mode else os.O_RDONLY
    # a socket cannot even be opened: say what it is
    if os.path.exists(path) and not os.path.isdir(path) and \
            not os.path.isfile(path):
        raise ValueError('%s: not a regular file' % path)
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError('%s: is a directory' % path)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError('%s: not a regular file' % path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, 'r+b' if '+' in mode else 'rb')
    except BaseException:
        os.close(fd)
        raise


class Store:
    """A frame store file, read with numpy alone (docs/store-format.md).

    Another program may truncate the file while it is mapped, and touching
    a page past the new end raises SIGBUS, which ends a Python process.
    committed(), entry() and frame() check the file's size (one fstat())
    before they touch the pages they need and raise ValueError ('...was
    truncated...') instead; arrays returned before the cut, and a cut
    between the check and the access, are not covered (the C library's
    fault guard is: read through GstMemmap for that)."""

    def __init__(self, path, mode='r'):
        self.path = path
        self._file = _open_regular(path, mode)
        self._need(4096)
        self.mm = np.memmap(self._file, dtype=np.uint8, mode=mode)
        h = self.mm[:4096].view(HEADER)[0]
        if h['magic'] != b'GSTMMAP\x1a' or h['version_major'] != 1:
            raise ValueError('%s: not a version 1 frame store' % path)
        if h['state'] == STATE_DAMAGED:
            raise ValueError('%s: damaged: its writer found it truncated by '
                             'another program while it wrote it' % path)
        self.h = h
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
        # one array per plane, shape (chunk, slot in chunk, rows, columns
        # [, channels]): views of every slot of the file
        self.planes = []
        slots = self.data + int(h['index_block_size'])
        for p, shape in enumerate(plane_shapes(self.format, self.width,
                                               self.height)):
            self.planes.append(_plane_view(
                self.mm, slots + int(h['plane_offset'][p]),
                int(h['plane_stride'][p]), shape,
                outer=((self.n_chunks, self.chunk_stride),
                       (self.spc, self.slot_stride))))

    def _need(self, end):
        """Raises ValueError if the file no longer holds bytes up to end."""
        size = os.fstat(self._file.fileno()).st_size
        if size < end:
            raise ValueError('%s: the file was truncated to %d bytes '
                             '(bytes up to %d are needed)'
                             % (self.path, size, end))

    def committed(self):
        """Frames ever committed (read before the entries it covers)."""
        self._need(4096)
        return int(self.mm[256:264].view('<u8')[0])

    def first_frame(self):
        n = self.committed()
        return max(0, n - self.epc) if self.ring else 0

    def entry(self, i):
        chunk = 0 if self.ring else i // self.epc
        self._need(self.data + chunk * self.chunk_stride +
                   (i % self.epc + 1) * 64)
        if int(self.mm[20:24].view('<u4')[0]) == STATE_DAMAGED:
            raise ValueError('%s: damaged: its writer found it truncated by '
                             'another program while it wrote it' % self.path)
        e = self.index[chunk, i % self.epc]
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
        self._need(self.slot_offset(s) + self.frame_size)
        return [plane[s // self.spc, s % self.spc] for plane in self.planes]

    def pts(self, i):
        """Presentation timestamp of frame i in ns (None if unknown)."""
        v = int(self.entry(i)['pts'])
        return None if v == 0xffffffffffffffff else v


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
