# SPDX-License-Identifier: LGPL-2.1-or-later
"""VideoReader: the frames of a video or of a frame store as numpy arrays,
in the shape of decord's VideoReader.

    with gstmemmap.VideoReader('clip.mp4') as r:      # or 'clip.store'
        len(r), r.fps, r[0], r[-1], r[10:20], r.get_batch([1, 5, 9])

What is a view and what is a copy:

- `r[i]` and `r[a:b:step]` (and iteration) are views of the mapping: no
  byte is copied. A range is one ndarray with the frame number as its first
  dimension when its frames lie at one distance from each other in one
  mapping (consecutive frames of one chunk of a store, of one store of the
  cache); otherwise (a range across a chunk boundary or across stores, a
  ring that wrapped) it is stacked into a new array: one copy, and
  `r.is_view(a, b)` says beforehand which it will be.
- `r.get_batch(indices)` always returns a new array (one copy of each
  frame), as decord's get_batch does.
- Views are writable by default (writable=True): copy-on-write views of
  the stores, private mappings of the files where nothing is copied until
  a page is written, the written page is this reader's own (r[i] read
  again shows the write) and the file never changes. writable=False gives
  read-only views of the shared mappings. Views keep their mapping alive.

A frame of a format with one plane is one ndarray; a frame of a planar
format (I420, NV12, ...) is a tuple with one ndarray per plane (a range or
batch: a tuple of per-plane arrays with the frame number first). Shapes and
dtypes come from GstVideo (see gstmemmap.layout).
"""

import os

import numpy as np

from . import _gi
from .layout import plane_layouts, video_info
from .libstore import LibStoreFile
from .views import MAGIC, NONE_TS, StoreFile, wrap_address

__all__ = ['VideoReader', 'map_video_frames']

DEFAULT_VIDEO_FORMAT = 'RGB'      # decord's default
DECODED = 'decoded'               # format: as the decoder outputs it


def _local_path(path):
    """The file a file:// URI names, or path itself."""
    if path.startswith('file://'):
        from gi.repository import GLib
        try:
            return GLib.filename_from_uri(path)[0]
        except Exception:       # GLib.Error: not a valid file URI
            return path
    return path


def _is_store(path):
    # a FIFO's open() would block: only a regular file can be a store
    if not os.path.isfile(path):
        return False
    try:
        with open(path, 'rb') as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _progression(offsets):
    """The constant step between offsets, or None."""
    if len(offsets) < 2:
        return 0
    step = offsets[1] - offsets[0]
    for a, b in zip(offsets, offsets[1:]):
        if b - a != step:
            return None
    return step


class _StoreSource:
    """Frames of a store file: views of one mapping of it (copy-on-write
    when writable, views.file_array; else a read-only np.memmap). The library
    (GstMemmap.StoreReader, libstore.LibStoreFile) reads the header and the
    index when its typelib loads; else views.StoreFile, pure numpy."""

    kind = 'store'

    def __init__(self, path, writable):
        # writable: a copy-on-write mapping (MAP_PRIVATE | MAP_NORESERVE)
        mode = 'c' if writable else 'r'
        if _gi.GstMemmap is not None:
            self.sf = LibStoreFile(path, mode=mode)
        else:
            self.sf = StoreFile(path, mode=mode)
        self.info = video_info(self.sf.caps)
        n = self.sf.n_planes
        self.layouts = plane_layouts(self.info, self.sf.plane_offsets[:n],
                                     self.sf.plane_strides[:n],
                                     self.sf.frame_size)
        self.frame_size = self.sf.frame_size
        self.refresh()

    def refresh(self):
        self.sf.refresh()
        committed = self.sf.committed()
        self.first = self.sf.first_frame(committed)
        self.n = committed - self.first

    def spans(self, indices):
        offs = [self.sf.frame_offset(self.first + i) for i in indices]
        # a store written with checksums (format 1.1): a frame changed on
        # disk is an error, never a silent frame, as in the C reader
        if self.sf.checksums:
            for i in indices:
                if not self.sf.verify(self.first + i):
                    raise ValueError('%s: the bytes of frame %d do not match '
                                     'its checksum' % (self.sf.path,
                                                       self.first + i))
        return self.sf.mm, offs

    def pts(self, i):
        return int(self.sf.entry(self.first + i)['pts'])

    def duration(self, i):
        return int(self.sf.entry(self.first + i)['duration'])

    def fps(self):
        return self.sf.fps

    def mapping(self):
        return self.sf.mm

    def stats(self):
        sf = self.sf
        return {
            'source': 'store', 'path': sf.path, 'caps': sf.caps,
            'format': sf.format, 'width': sf.width, 'height': sf.height,
            'mode': 'ring' if sf.ring else 'append',
            'committed': sf.committed(), 'first-frame': self.first,
            'frames': self.n, 'closed': sf.closed(),
            'frame-size': sf.frame_size, 'file-size': sf.mm.size,
            'version': '%d.%d' % sf.version,
            'checksums': sf.checksums,
        }

    def close(self):
        self.sf.close()


class _FramesSource:
    """Frames of a video decoded once through the memmapcache cache
    (GstMemmap.Frames): views of the library's mappings of its stores."""

    kind = 'video'

    def __init__(self, uri_or_path, fmt, cache_dir, engine, writable=True,
                 cancellable=None, progress=None, start=0, count=0):
        GstMemmap = _gi.gstmemmap()
        engine = engine or GstMemmap.Engine.get_default()
        fmt = None if fmt == DECODED else fmt
        flags = (GstMemmap.FramesFlags.COPY_ON_WRITE if writable else
                 GstMemmap.FramesFlags.NONE)
        self.writable = writable
        cb = None
        if progress is not None:
            def cb(done, total, _data):
                progress(done, total)
        self.frames = engine.map_video_frames_full(
            os.fspath(uri_or_path), start, count, fmt,
            None if cache_dir is None else os.fspath(cache_dir), flags,
            cancellable, cb, None)
        f = self.frames
        self.n = f.get_n_frames()
        self.first = 0
        self.info = f.get_video_info()
        n = f.get_n_planes()
        self.frame_size = f.get_frame_size()
        self.layouts = plane_layouts(
            self.info, [f.get_plane_offset(p) for p in range(n)],
            [f.get_plane_stride(p) for p in range(n)], self.frame_size)

    def refresh(self):
        pass

    def spans(self, indices):
        """One buffer over the frames and their offsets in it, when the
        frames are in one file at addresses that follow its offsets (one
        mapping, or adjacent mappings of it); else (None, None)."""
        f = self.frames
        addrs = [f.get_address(i) for i in indices]
        w = self.writable
        if len(indices) == 1:
            return wrap_address(f, addrs[0], self.frame_size, w), [0]
        paths = {f.get_path(i) for i in indices}
        deltas = {a - f.get_file_offset(i) for a, i in zip(addrs, indices)}
        if len(paths) != 1 or None in paths or len(deltas) != 1:
            return None, None
        lo = min(addrs)
        buf = wrap_address(f, lo, max(addrs) - lo + self.frame_size, w)
        return buf, [a - lo for a in addrs]

    def pts(self, i):
        return self.frames.get_pts(i)

    def duration(self, i):
        return self.frames.get_duration(i)

    def fps(self):
        return (self.info.fps_n, self.info.fps_d)

    def mapping(self):
        return None

    def stats(self):
        d = {'source': 'video'}
        d.update(_gi.structure_to_dict(self.frames.get_stats()))
        return d

    def close(self):
        self.frames = None


class VideoReader:
    """The frames of a video file (or URI) or of a frame store.

    VideoReader(path, format=None, cache_dir=None, engine=None,
                writable=True, cancellable=None, progress=None)

    - a frame store file (a path or a file:// URI, recognised by its magic
      bytes) is read in place, as stored (format must be None or the
      store's format);
    - anything else is a video, decoded once into the memmapcache cache
      (GstMemmap.map_video_frames, the whole stream) and converted to format
      (None: 'RGB', as decord; 'decoded': as the decoder outputs it); a
      later reader of the same unchanged file decodes nothing.
      cache_dir: the cache directory (default $XDG_CACHE_HOME/gst-memmap);
      engine: a GstMemmap.Engine (default: the process's);
      cancellable: a Gio.Cancellable that stops the decoding (the call
      raises GLib.Error G_IO_ERROR_CANCELLED; the frames recorded so far
      stay in the cache); progress: called as progress(done, total) while
      the frames are recorded (total: an estimate, 0 while unknown; the
      last call has done == total). Both are for videos only.

    writable=True (the default, as the arrays of OpenCV and of decord's
    asnumpy() are): frames are copy-on-write views, writable numpy arrays
    over private mappings of the files; a write copies the page it falls in
    for this reader only, and neither the store nor the cache ever changes.
    writable=False: read-only views of the shared mappings.

    Indexing is by frame number from 0 (negative from the end). A store is
    read as it was when opened or last refresh()ed (a store still being
    written grows; a ring forgets its oldest frames, which then raise
    ValueError).
    """

    def __init__(self, path, format=None, cache_dir=None, engine=None,
                 writable=True, cancellable=None, progress=None, _range=None):
        spath = os.fspath(path)
        local = _local_path(spath)
        if _range is None and _is_store(local):
            self._src = _StoreSource(local, writable)
            if format not in (None, DECODED, self._src.sf.format):
                raise ValueError('%s is a frame store of %s frames: it is '
                                 'read as stored, not as %s'
                                 % (spath, self._src.sf.format, format))
        else:
            start, count = _range or (0, 0)
            self._src = _FramesSource(
                spath, DEFAULT_VIDEO_FORMAT if format is None else format,
                cache_dir, engine, writable, cancellable, progress, start,
                count)
        self.writable = writable
        self.path = spath
        self.info = self._src.info
        self.layouts = self._src.layouts

    # --- what it is ---------------------------------------------------

    def _source(self):
        if self._src is None:
            raise ValueError('the VideoReader of %s is closed' % self.path)
        return self._src

    def __len__(self):
        return self._source().n

    @property
    def format(self):
        return self.info.finfo.name

    @property
    def width(self):
        return self.info.width

    @property
    def height(self):
        return self.info.height

    @property
    def n_planes(self):
        return len(self.layouts)

    @property
    def shape(self):
        """The shape of one frame (of each plane: a tuple of shapes for a
        planar format)."""
        shapes = tuple(lay.shape for lay in self.layouts)
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def fps(self):
        """Frames per second from the caps (0.0 when variable or
        unknown: see timestamps)."""
        n, d = self._source().fps()
        return n / d if n > 0 and d > 0 else 0.0

    def get_avg_fps(self):
        """decord's name for fps."""
        return self.fps

    @property
    def mapping(self):
        """The 1-D uint8 array over the mapping of a store (an np.memmap
        when read-only; None for a video: see frames)."""
        return self._source().mapping()

    @property
    def frames(self):
        """The GstMemmap.Frames of a video (None for a store)."""
        return getattr(self._source(), 'frames', None)

    def stats(self):
        """A dict: for a video, GstMemmap.Frames' statistics
        (decoded-frames, direct, cache-entry, ...); for a store, what its
        header says."""
        return self._source().stats()

    def refresh(self):
        """Reads a store's commit counter again (a store being written
        grows); returns the new len()."""
        self._source().refresh()
        return len(self)

    # --- timestamps ---------------------------------------------------

    def _index(self, i):
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError('frame %d out of range (%d frames)' % (i, n))
        return i

    def get_pts(self, i):
        """Presentation timestamp of frame i in nanoseconds (None when the
        frame has none)."""
        v = self._source().pts(self._index(i))
        return None if v == NONE_TS else v

    @property
    def timestamps(self):
        """Presentation timestamps of every frame, in seconds (float64
        array, nan where unknown)."""
        src = self._source()
        ts = [src.pts(i) for i in range(src.n)]
        return np.array([np.nan if t == NONE_TS else t / 1e9 for t in ts],
                        dtype=np.float64)

    def get_frame_timestamp(self, i):
        """[start, end] in seconds of frame i (decord's convention: end is
        start + duration); for a list of frames an (n, 2) array."""
        if np.ndim(i) > 0:
            return np.array([self.get_frame_timestamp(k) for k in i])
        k = self._index(i)
        src = self._source()
        pts, dur = src.pts(k), src.duration(k)
        start = np.nan if pts == NONE_TS else pts / 1e9
        end = np.nan if pts == NONE_TS or dur == NONE_TS else \
            (pts + dur) / 1e9
        return np.array([start, end])

    # --- frames ---------------------------------------------------------

    def _pack(self, planes):
        return planes[0] if len(planes) == 1 else tuple(planes)

    def _views(self, indices):
        """Per plane, one view over the frames, or None when they are not
        at one distance from each other in one buffer."""
        buf, offs = self._source().spans(indices)
        if buf is None:
            return None
        step = _progression(offs)
        if step is None:
            return None
        first = offs[0]
        if step < 0:
            # numpy wants the lowest address first: build forwards, flip
            first, step = offs[-1], -step
            outer = ((len(offs), step),)
            return [lay.view(buf, first, outer)[::-1]
                    for lay in self.layouts]
        outer = ((len(offs), step),)
        return [lay.view(buf, first, outer) for lay in self.layouts]

    def _frame(self, i):
        buf, offs = self._source().spans([i])
        return self._pack([lay.view(buf, offs[0]) for lay in self.layouts])

    def is_view(self, start, stop, step=1):
        """Whether r[start:stop:step] is a view (True) or a copy."""
        idx = range(*slice(start, stop, step).indices(len(self)))
        return len(idx) == 0 or self._views(list(idx)) is not None

    def __getitem__(self, key):
        if isinstance(key, slice):
            idx = list(range(*key.indices(len(self))))
            if not idx:
                return self._pack([np.empty((0,) + lay.shape, lay.dtype)
                                   for lay in self.layouts])
            views = self._views(idx)
            if views is not None:
                return self._pack(views)
            return self._stack(idx)
        if isinstance(key, (list, tuple, np.ndarray)):
            return self.get_batch(key)
        return self._frame(self._index(key))

    def __iter__(self):
        for i in range(len(self)):
            yield self._frame(i)

    def _stack(self, idx):
        outs = [np.empty((len(idx),) + lay.shape, dtype=lay.dtype)
                for lay in self.layouts]
        for k, i in enumerate(idx):
            buf, offs = self._source().spans([i])
            for out, lay in zip(outs, self.layouts):
                out[k] = lay.view(buf, offs[0])
        return self._pack(outs)

    def get_batch(self, indices):
        """Frames indices (any order, repeats allowed, negative from the
        end) stacked into new arrays: one copy of each frame."""
        return self._stack([self._index(i) for i in indices])

    # --- lifetime ---------------------------------------------------------

    def close(self):
        """Drops the reader's mappings. Frames already returned stay valid
        (each keeps its mapping alive)."""
        if self._src is not None:
            self._src.close()
            self._src = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        if self._src is None:
            return '<gstmemmap.VideoReader %s (closed)>' % self.path
        return '<gstmemmap.VideoReader %s: %d frames of %s %dx%d>' % (
            self.path, len(self), self.format, self.width, self.height)


def map_video_frames(path, start_frame=0, frame_count=0, format='BGR',
                     writable=True, cache_dir=None, engine=None,
                     cancellable=None, progress=None):
    """Frames [start_frame, start_frame + frame_count) of a video (0: to
    the end) as one array (n, height, width, channels) for a packed format
    (a tuple of per-plane arrays for a planar one), the call the original
    OpenCV engine's users make (cv2.VideoCapture, seek, read(): BGR,
    writable arrays). Decoded once through the memmapcache cache, as
    VideoReader; the array is a view of the cache's stores (one copy only
    when the frames are not at one distance from each other in one file).

    writable=True (the default): copy-on-write views, written freely
    (cv2.rectangle...) without ever changing the cache. cancellable and
    progress as for VideoReader."""
    r = VideoReader(path, format=format, cache_dir=cache_dir, engine=engine,
                    writable=writable, cancellable=cancellable,
                    progress=progress, _range=(start_frame, frame_count))
    return r[:]
