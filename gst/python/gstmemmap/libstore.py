# SPDX-License-Identifier: LGPL-2.1-or-later
"""A frame store read with the library's parser: `LibStoreFile(path)`.

The same interface as `views.StoreFile` (what `VideoReader` needs), but
the store's header and index are read by libgstmemmap through
GstMemmap.StoreReader, the format's one owner: the header is validated by
gst_memmap_store_reader_open(), every index entry by get_entry(), and a
frame's place in the file is where the library's buffer of it lies
(gst_memmap_memory_get_file_offset()). Python computes no offset of its
own. The bytes are still read through one mapping of the file (a read-only
np.memmap, or a copy-on-write one: views.file_array),
so a range of frames of one chunk stays one view.

`views.StoreFile` (pure numpy) stays the format's documentation example and
the reader used when the GstMemmap typelib cannot be loaded.
"""

import os

from . import _gi
from .views import file_array, need_bytes, open_regular

__all__ = ['LibStoreFile']


def _value_error(e):
    """A GLib.Error of the library as the ValueError VideoReader raises;
    its message names the file and what is wrong (truncated, corrupt...)."""
    return ValueError(e.message)


class LibStoreFile:
    """A frame store: GstMemmap.StoreReader for its structure, one mapping
    of the file for its bytes."""

    def __init__(self, path, engine=None, mode='r'):
        from gi.repository import GLib
        GstMemmap = _gi.gstmemmap()
        self._GLib = GLib
        self._GstMemmap = GstMemmap
        self.path = os.fspath(path)
        self.mm = None
        self._file = None
        self._mode = mode          # 'r', or 'c': copy-on-write
        try:
            self.reader = GstMemmap.StoreReader.open(
                engine or GstMemmap.Engine.get_default(), self.path)
            s = self.reader.get_info()
        except GLib.Error as e:
            raise _value_error(e) from None
        # checksums are checked by verify(), as views.StoreFile does
        self.reader.set_verify(False)
        layout = self.reader.get_layout()
        # field by field: PyGObject without gst-python cannot convert a
        # GstFraction GValue (get_value of 'framerate')
        info = {name: s.get_value(name) for name in (
            'version-major', 'version-minor', 'format', 'caps', 'width',
            'height', 'mode', 'max-frames', 'n-planes', 'frame-size',
            'checksums')}
        _, fps_n, fps_d = s.get_fraction('framerate')
        self.version = (info['version-major'], info['version-minor'])
        self.format = info['format']
        self.caps = info['caps']
        self.width, self.height = info['width'], info['height']
        self.fps = (fps_n, fps_d)
        self.ring = info['mode'] == 'ring'
        self.max_frames = info['max-frames']
        self.n_planes = info['n-planes']
        self.frame_size = info['frame-size']
        self.plane_offsets = [int(layout.offset[p]) for p in range(4)]
        self.plane_strides = [int(layout.stride[p]) for p in range(4)]
        self.checksums = bool(info['checksums'])
        self._map()

    def _map(self):
        if self._file is None:
            self._file = open_regular(self.path)
        self.mm = file_array(self._file, self._mode)

    def refresh(self):
        """Maps the file again if it grew (views already made keep the old
        mapping alive)."""
        if os.fstat(self._file.fileno()).st_size > self.mm.size:
            self._map()

    def committed(self):
        return self.reader.get_committed()

    def closed(self):
        return self.reader.is_closed()

    def first_frame(self, committed=None):
        if committed is None:
            return self.reader.get_first_frame()
        return max(0, committed - self.max_frames) if self.ring else 0

    def entry(self, i):
        """The index entry of frame i, validated by the library, as a dict
        (frame_seq, slot, pts, duration, flags, checksum: the names of
        views.ENTRY)."""
        try:
            ok, e = self.reader.get_entry(i)
        except self._GLib.Error as err:
            raise _value_error(err) from None
        return {'frame_seq': e.frame + 1, 'slot': e.slot, 'pts': e.pts,
                'duration': e.duration, 'flags': e.flags,
                'checksum': e.checksum}

    def frame_offset(self, i):
        """File offset of frame i: where the library's buffer of it lies,
        checked to lie inside the file."""
        try:
            buf = self.reader.get_buffer(None, i)
        except self._GLib.Error as err:
            raise _value_error(err) from None
        off = self._GstMemmap.memory_get_file_offset(buf.peek_memory(0))
        if off + self.frame_size > self.mm.size:
            self.refresh()
        if off + self.frame_size > self.mm.size:
            raise ValueError('%s: frame %d lies past the end of the file'
                             % (self.path, i))
        need_bytes(self._file, self.path, off + self.frame_size)
        return off

    def flags(self, i):
        return int(self.entry(i)['flags'])

    def verify(self, i):
        """True if frame i's bytes match its checksum. ValueError for a
        store written without checksums."""
        if not self.checksums:
            raise ValueError('%s: written without checksums' % self.path)
        try:
            return self.reader.verify_frame(i)
        except self._GLib.Error as err:
            if err.code == int(self._GstMemmap.Error.CORRUPT):
                return False
            raise _value_error(err) from None

    def close(self):
        self.reader = None
        self.mm = None
        if self._file is not None:
            self._file.close()
            self._file = None
