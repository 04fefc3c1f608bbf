# SPDX-License-Identifier: LGPL-2.1-or-later
"""numpy over memory that libgstmemmap or a frame store file owns, no copy.

- `wrap_address(owner, address, size, writable)`: a 1-D uint8 array over
  foreign memory, whose base holds `owner` (what keeps the memory valid).
- `mapping_array(mapping)`: the bytes of a GstMemmap.Mapping.
- `StoreFile(path)`: a frame store (docs/store-format.md) through one
  np.memmap of the file: its header, its index entries, the file offset of
  every frame; the reader of `gstmemmap.VideoReader` for stores.
"""

import mmap
import os
import stat

import numpy as np

__all__ = ['HEADER', 'ENTRY', 'NONE_TS', 'wrap_address', 'mapping_array',
           'file_array', 'StoreFile', 'xxh3', 'FRAME_DISCONT', 'FRAME_INTERLACED',
           'FRAME_TFF', 'FRAME_RFF', 'FRAME_ONEFIELD', 'FRAME_CORRUPTED',
           'FRAME_GAP', 'HEADER_CHECKSUMS']

# --- the store format (docs/store-format.md) -------------------------------

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

# index entry flags (format 1.1; a 1.0 store has DISCONT only)
FRAME_DISCONT = 1 << 0
FRAME_INTERLACED = 1 << 1
FRAME_TFF = 1 << 2
FRAME_RFF = 1 << 3
FRAME_ONEFIELD = 1 << 4
FRAME_CORRUPTED = 1 << 5
FRAME_GAP = 1 << 6
# header flags (format 1.1): every entry's checksum is its frame's XXH3-64
HEADER_CHECKSUMS = 1 << 0

MAGIC = b'GSTMMAP\x1a'
NONE_TS = 0xffffffffffffffff      # GST_CLOCK_TIME_NONE
COMMITTED_OFFSET = 256            # the commit counter, in the header
MODE_RING = 2
STATE_CLOSED = 2
STATE_DAMAGED = 3   # its writer found it truncated by another program


def open_regular(path, mode='r'):
    """The file at path as a file object, refusing anything but a regular
    file before a FIFO's open() could block (O_NONBLOCK, then cleared)."""
    path = os.fspath(path)
    # a socket cannot even be opened: say what it is
    if os.path.exists(path) and not os.path.isdir(path) and \
            not os.path.isfile(path):
        raise ValueError('%s: not a regular file' % path)
    flags = os.O_RDWR if '+' in mode else os.O_RDONLY
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


def need_bytes(f, path, end):
    """Raises ValueError if the file f no longer holds bytes up to end: a
    page of a np.memmap past the end of a file that another program
    truncated raises SIGBUS, which ends a Python process (one fstat())."""
    size = os.fstat(f.fileno()).st_size
    if size < end:
        raise ValueError('%s: the file was truncated to %d bytes (bytes up '
                         'to %d are needed)' % (path, size, end))


def check_not_damaged(mm, path):
    if int(mm[20:24].view('<u4')[0]) == STATE_DAMAGED:
        raise ValueError('%s: damaged: its writer found it truncated by '
                         'another program while it wrote it' % path)


# --- file mappings ---------------------------------------------------------

# Linux's MAP_NORESERVE (the mmap module has no name for it before 3.13)
MAP_NORESERVE = getattr(mmap, 'MAP_NORESERVE', 0x4000)


def file_array(f, mode='r'):
    """The whole file f (open, regular) as a 1-D uint8 array over a mapping
    of it: mode 'r', a read-only shared mapping (np.memmap); mode 'c', a
    copy-on-write one, writable, whose writes copy the pages written for
    this mapping only and never reach the file. The copy-on-write mapping
    is MAP_NORESERVE: with the kernel's default overcommit a private
    writable mapping larger than RAM and swap is refused, and a store may
    be larger; only the pages written take memory."""
    if mode != 'c':
        return np.memmap(f, dtype=np.uint8, mode=mode)
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE | MAP_NORESERVE,
                  prot=mmap.PROT_READ | mmap.PROT_WRITE)
    return np.frombuffer(m, dtype=np.uint8)


# --- foreign memory --------------------------------------------------------

class _Keeper:
    """The base of an array over foreign memory: holds what keeps the
    memory valid (a GstMemmap.Mapping or GstMemmap.Frames)."""

    def __init__(self, owner, address, size, writable):
        self.owner = owner
        self.__array_interface__ = {
            'shape': (size,), 'typestr': '|u1', 'version': 3,
            'data': (address, not writable),
        }


def wrap_address(owner, address, size, writable=False):
    """size bytes at address as a 1-D uint8 array whose base holds owner."""
    if size == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.asarray(_Keeper(owner, address, size, writable))


def mapping_array(mapping):
    """The bytes of a GstMemmap.Mapping as a 1-D uint8 array, no copy.

    The array's memory is the mapping (its data address is
    mapping.get_address()); it is writable when the mapping is, and writes
    reach the file (mapping.flush() syncs them). The array holds a
    reference on the mapping, so the bytes stay mapped while it lives."""
    return wrap_address(mapping, mapping.get_address(), mapping.get_size(),
                        mapping.is_writable())


# --- frame checksums (format 1.1) -------------------------------------------

_xxh3_fn = []


def xxh3(data):
    """XXH3-64 (seed 0) of a contiguous uint8 array, no copy, through
    libxxhash (Debian's libxxhash0) and ctypes; RuntimeError without it."""
    if not _xxh3_fn:
        import ctypes
        import ctypes.util
        fn = None
        for name in (ctypes.util.find_library('xxhash'), 'libxxhash.so.0'):
            if not name:
                continue
            try:
                fn = ctypes.CDLL(name).XXH3_64bits
            except (OSError, AttributeError):
                continue
            fn.restype = ctypes.c_uint64
            fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            break
        _xxh3_fn.append(fn)
    if _xxh3_fn[0] is None:
        raise RuntimeError('libxxhash (Debian: libxxhash0) not found')
    data = np.ascontiguousarray(data, dtype=np.uint8)
    return int(_xxh3_fn[0](data.ctypes.data, data.size))


# --- frame store files -----------------------------------------------------

def _cstr(b):
    return b.split(b'\0')[0].decode()


class StoreFile:
    """A frame store read through one np.memmap of the file, read-only
    (mode 'r') or copy-on-write (mode 'c').

    The header is checked (magic, major version 1); every index entry is
    checked when read (its frame number, its slot inside the file). The
    file may grow (a store still being written): refresh() maps it again
    and reads the commit counter."""

    def __init__(self, path, mode='r'):
        self.path = os.fspath(path)
        self.mm = None
        # 'r': read-only shared mapping; 'c': copy-on-write (MAP_PRIVATE),
        # writable arrays whose writes never reach the file
        self._mode = mode
        self._map()
        h = self.mm[:HEADER.itemsize].view(HEADER)[0]
        if bytes(h['magic']) != MAGIC:
            raise ValueError('%s: not a frame store (bad magic)' % self.path)
        if h['version_major'] != 1:
            raise ValueError('%s: frame store version %d.%d, this reader '
                             'reads 1.x' % (self.path, h['version_major'],
                                            h['version_minor']))
        self.h = h
        self.version = (int(h['version_major']), int(h['version_minor']))
        self.format = _cstr(h['format'])
        self.caps = _cstr(h['caps'])
        self.width, self.height = int(h['width']), int(h['height'])
        self.fps = (int(h['fps_n']), int(h['fps_d']))
        self.ring = int(h['mode']) == MODE_RING
        self.n_planes = int(h['n_planes'])
        self.epc = int(h['entries_per_chunk'])
        self.spc = int(h['slots_per_chunk'])
        self.data = int(h['data_offset'])
        self.chunk_stride = int(h['chunk_stride'])
        self.slot_stride = int(h['slot_stride'])
        self.index_block = int(h['index_block_size'])
        self.frame_size = int(h['frame_size'])
        self.plane_offsets = [int(x) for x in h['plane_offset']]
        self.plane_strides = [int(x) for x in h['plane_stride']]
        # format 1.1: every entry holds its frame's XXH3-64
        self.checksums = bool(int(h['flags']) & HEADER_CHECKSUMS)
        if (self.epc == 0 or self.spc == 0 or self.frame_size == 0 or
                not 1 <= self.n_planes <= 4):
            raise ValueError('%s: invalid frame store header' % self.path)

    def _map(self):
        if getattr(self, '_file', None) is None:
            self._file = open_regular(self.path)
        if os.fstat(self._file.fileno()).st_size < HEADER.itemsize:
            raise ValueError('%s: too short for a frame store' % self.path)
        self.mm = file_array(self._file, self._mode)

    def _need(self, end):
        need_bytes(self._file, self.path, end)

    def refresh(self):
        """Maps the file again if it grew (views already made keep the old
        mapping alive)."""
        if os.fstat(self._file.fileno()).st_size > self.mm.size:
            self._map()

    def committed(self):
        """Frames ever committed (read before the entries it covers)."""
        self._need(HEADER.itemsize)
        return int(self.mm[COMMITTED_OFFSET:COMMITTED_OFFSET + 8]
                   .view('<u8')[0])

    def closed(self):
        self._need(HEADER.itemsize)
        return int(self.mm[20:24].view('<u4')[0]) == STATE_CLOSED

    def first_frame(self, committed=None):
        n = self.committed() if committed is None else committed
        return max(0, n - self.epc) if self.ring else 0

    def entry(self, i):
        """The validated index entry of frame i (an ENTRY record)."""
        chunk = 0 if self.ring else i // self.epc
        off = self.data + chunk * self.chunk_stride + (i % self.epc) * 64
        if off + 64 > self.mm.size:
            self.refresh()
        if off + 64 > self.mm.size:
            raise ValueError('%s: the index entry of frame %d is past the '
                             'end of the file' % (self.path, i))
        self._need(off + 64)
        check_not_damaged(self.mm, self.path)
        e = self.mm[off:off + 64].view(ENTRY)[0]
        if int(e['frame_seq']) != i + 1:
            raise ValueError('%s: frame %d was overwritten or is corrupt'
                             % (self.path, i))
        return e

    def slot_offset(self, slot):
        """File offset of a slot (docs/store-format.md)."""
        return (self.data + (slot // self.spc) * self.chunk_stride +
                self.index_block + (slot % self.spc) * self.slot_stride)

    def frame_offset(self, i):
        """File offset of frame i, checked to lie inside the file."""
        off = self.slot_offset(int(self.entry(i)['slot']))
        if off + self.frame_size > self.mm.size:
            self.refresh()
        if off + self.frame_size > self.mm.size:
            raise ValueError('%s: frame %d lies past the end of the file'
                             % (self.path, i))
        self._need(off + self.frame_size)
        return off

    def flags(self, i):
        """The index flags of frame i (FRAME_DISCONT, FRAME_INTERLACED,
        FRAME_TFF, ...; docs/store-format.md, "Frame flags")."""
        return int(self.entry(i)['flags'])

    def verify(self, i):
        """True if frame i's bytes match its checksum. ValueError for a
        store written without checksums."""
        if not self.checksums:
            raise ValueError('%s: written without checksums' % self.path)
        want = int(self.entry(i)['checksum'])
        off = self.frame_offset(i)
        return xxh3(self.mm[off:off + self.frame_size]) == want

    def close(self):
        self.mm = None
        if getattr(self, '_file', None) is not None:
            self._file.close()
            self._file = None
