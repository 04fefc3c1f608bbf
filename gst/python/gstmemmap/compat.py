# SPDX-License-Identifier: LGPL-2.1-or-later
"""The API of the former gstmemmap_numpy module (kept importable as
gstmemmap_numpy): Store, plane_shapes, mapping_array, frame_bytes,
frame_planes. New code uses gstmemmap.VideoReader.

Plane shapes now come from GstVideo (gstmemmap.layout) for every format;
PLANES, the former hand-written table of 20 formats, is kept for the code
that imported it.
"""

import numpy as np

from .layout import plane_layouts, video_info
from .views import check_not_damaged, need_bytes, open_regular
from .views import (ENTRY, FRAME_CORRUPTED, FRAME_DISCONT,  # noqa: F401
                    FRAME_GAP, FRAME_INTERLACED, FRAME_ONEFIELD, FRAME_RFF,
                    FRAME_TFF, HEADER, HEADER_CHECKSUMS, mapping_array,
                    wrap_address, xxh3)

__all__ = ['HEADER', 'ENTRY', 'PLANES', 'Store', 'plane_shapes',
           'mapping_array', 'frame_bytes', 'frame_planes',
           'FRAME_DISCONT', 'FRAME_INTERLACED', 'FRAME_TFF', 'FRAME_RFF',
           'FRAME_ONEFIELD', 'FRAME_CORRUPTED', 'FRAME_GAP']


def _cdiv(a, b):
    return -(-a // b)


# (rows, columns, channels or 0, dtype) of each plane of a w x h frame:
# the former table, for compatibility only (plane_shapes() covers every
# format)
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


def _layouts(fmt, width, height, offsets=None, strides=None,
             frame_size=None):
    from ._gi import GstVideo
    vf = GstVideo.VideoFormat.from_string(fmt)
    if vf in (GstVideo.VideoFormat.UNKNOWN, GstVideo.VideoFormat.ENCODED):
        raise NotImplementedError('unknown video format %s' % fmt)
    info = GstVideo.VideoInfo.new()
    info.set_format(vf, width, height)
    return plane_layouts(info, offsets, strides, frame_size)


def plane_shapes(fmt, width, height):
    """[(rows, columns, channels or 0, dtype)] of each plane of a frame, for
    every format GstVideo knows; a raw-bytes plane (see gstmemmap.layout)
    is (rows, stride, 0, '|u1') or (1, size, 0, '|u1')."""
    out = []
    for lay in _layouts(fmt, width, height):
        shape = lay.shape if len(lay.shape) > 1 else (1,) + lay.shape
        ch = shape[2] if len(shape) > 2 else 0
        out.append((shape[0], shape[1], ch, lay.dtype.str))
    return out


class Store:
    """A frame store file, read with numpy alone (docs/store-format.md):
    every plane of the slots of the frames committed when it was made as
    one array per plane, shape (chunk, slot in chunk, plane's shape), views
    of one np.memmap."""

    def __init__(self, path, mode='r'):
        self.path = path
        # a FIFO or a device is refused before its open() could block
        self._file = open_regular(path, mode)
        self._need(4096)
        self.mm = np.memmap(self._file, dtype=np.uint8, mode=mode)
        check_not_damaged(self.mm, path)
        h = self.mm[:4096].view(HEADER)[0]
        if h['magic'] != b'GSTMMAP\x1a' or h['version_major'] != 1:
            raise ValueError('%s: not a version 1 frame store' % path)
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
        # format 1.1: every entry holds its frame's XXH3-64
        self.checksums = bool(int(h['flags']) & HEADER_CHECKSUMS)
        # the chunks the file holds (a closed store may end before its
        # last reserved chunk does)
        fit = max(0, (self.mm.size - self.data) // self.chunk_stride) \
            if self.chunk_stride else 0
        n_chunks = min(self.n_chunks, fit)
        self.index = np.ndarray((n_chunks, self.epc), dtype=ENTRY,
                                buffer=self.mm, offset=self.data,
                                strides=(self.chunk_stride, 64))
        # the views cover the frames committed now: the chunks that hold
        # them and, in a store of one chunk, the slots up to the last one
        # used (a closed store gave the others' blocks back)
        committed = self.committed()
        shown_chunks, shown_slots = n_chunks, self.spc
        if not self.ring:
            entry_chunks = min(n_chunks, _cdiv(committed, self.epc))
            shown_chunks = min(n_chunks, max(1, entry_chunks))
            if entry_chunks > 0:
                # a frame may sit in a later chunk than its entry: slots a
                # producer held uncommitted pushed it there
                used = self.index[:entry_chunks].reshape(-1)[:committed]
                shown_chunks = min(n_chunks, max(
                    shown_chunks, int(used['slot'].max()) // self.spc + 1))
        if shown_chunks == 1 and committed > 0 and n_chunks > 0:
            used = self.index[0, :min(committed, self.epc)]['slot']
            shown_slots = min(self.spc, int(used.max()) + 1)
        n = int(h['n_planes'])
        layouts = plane_layouts(video_info(self.caps),
                                [int(x) for x in h['plane_offset'][:n]],
                                [int(x) for x in h['plane_stride'][:n]],
                                self.frame_size)
        slots = self.data + int(h['index_block_size'])
        self.planes = [lay.view(self.mm, slots,
                                outer=((shown_chunks, self.chunk_stride),
                                       (shown_slots, self.slot_stride)))
                       for lay in layouts]

    def _need(self, end):
        """Another program may truncate the file while it is mapped, and a
        page past the new end raises SIGBUS, which ends Python: committed(),
        entry() and frame() check the file's size first (one fstat()) and
        raise ValueError instead. Arrays returned before a cut are not
        covered (read through GstMemmap for the fault guard's cover)."""
        need_bytes(self._file, self.path, end)

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
        check_not_damaged(self.mm, self.path)
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
        checksums; needs libxxhash). ValueError if the store has none."""
        if not self.checksums:
            raise ValueError('%s: written without checksums' % self.path)
        return xxh3(self.frame_bytes(i)) == int(self.entry(i)['checksum'])


def frame_bytes(frames, i):
    """The bytes of frame i of a GstMemmap.Frames (1-D; writable when the
    frames are copy-on-write, frames.is_copy_on_write())."""
    return wrap_address(frames, frames.get_address(i),
                        frames.get_frame_size(), frames.is_copy_on_write())


def frame_planes(frames, i):
    """The planes of frame i of a GstMemmap.Frames as arrays over the
    frame's memory (in the frame store when frames.is_zero_copy()):
    read-only, or writable copy-on-write views when
    frames.is_copy_on_write().

    Plane p of frame i starts at frames.get_plane_address(i, p)."""
    n = frames.get_n_planes()
    layouts = plane_layouts(frames.get_video_info(),
                            [frames.get_plane_offset(p) for p in range(n)],
                            [frames.get_plane_stride(p) for p in range(n)],
                            frames.get_frame_size())
    raw = frame_bytes(frames, i)
    out = []
    for lay in layouts:
        v = lay.view(raw, 0)
        if not frames.is_copy_on_write():
            v.flags.writeable = False
        out.append(v)
    return out
