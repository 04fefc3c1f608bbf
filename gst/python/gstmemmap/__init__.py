# SPDX-License-Identifier: LGPL-2.1-or-later
"""gst-memmap from Python: decoded video frames as numpy arrays that are
views of memory-mapped files, decoded once.

    import gstmemmap

    with gstmemmap.VideoReader('clip.mp4') as r:   # a video or a .store
        print(len(r), r.fps, r.shape)
        first = r[0]                 # (h, w, 3) uint8 RGB, a view: no copy
                                     # (copy-on-write: writable, the cache
                                     # never changes)
        clip = r[10:42]              # (32, h, w, 3), a view when contiguous
        batch = r.get_batch([1, 5, 9])   # stacked: one copy
        ts = r.get_frame_timestamp(5)    # [start, end] in seconds

- VideoReader: see gstmemmap.reader (views and copies, formats, stores,
  writable copy-on-write frames, progress and cancel).
- map_video_frames(path, start, count, 'BGR'): the original OpenCV
  engine's call, one writable (copy-on-write) array.
- layout: numpy shapes of every GstVideoFormat, from GstVideo.
- map_file(path): a file of the engine as a numpy array (no copy).
- to_torch(array): a torch tensor over the same memory (no copy).
- structure_to_dict(s), engine_stats(): GStreamer statistics as dicts.
- gstmemmap.dask.ingest(paths, out_dir, client=...): many videos decoded
  once each by the workers of a Dask cluster (imported on its own).

Importing the package initialises GStreamer (Gst.init) and libgstmemmap
when that has not been done.
"""

import warnings

from ._gi import Gst, GstVideo, gstmemmap as _gstmemmap, structure_to_dict
from .layout import PlaneLayout, plane_layouts, video_info
from .reader import VideoReader, map_video_frames
from .views import StoreFile, mapping_array, wrap_address

__all__ = ['VideoReader', 'map_video_frames', 'PlaneLayout', 'plane_layouts', 'video_info',
           'StoreFile', 'mapping_array', 'wrap_address', 'map_file',
           'to_torch', 'structure_to_dict', 'engine_stats', 'Gst',
           'GstVideo']

__version__ = '0.1'


def _engine(engine):
    return engine or _gstmemmap().Engine.get_default()


def map_file(path, writable=False, copy=False, engine=None,
             copy_on_write=False):
    """The whole file as a 1-D uint8 numpy array over the engine's mapping
    (GstMemmap.Engine.map_file), no copy.

    Read-only (the default), the array follows the file: it shares the
    page cache with every other process, so what they write later into the
    file is what the array reads, whatever the file's size. copy=True
    allows the engine to serve a small file (under its read-threshold) by
    a private read() copy instead: a little faster for many small files,
    but a snapshot that does not see later writes. writable=True maps it
    shared read-write: numpy writes reach the file. copy_on_write=True
    maps it privately (GstMemmap.MapFlags.COPY_ON_WRITE): a writable array
    whose writes copy the pages written, for this mapping only, and never
    reach the file. The array keeps the mapping alive."""
    GstMemmap = _gstmemmap()
    flags = GstMemmap.MapFlags.NONE
    if copy_on_write:
        flags |= GstMemmap.MapFlags.COPY_ON_WRITE
    elif writable:
        flags |= GstMemmap.MapFlags.WRITE
    elif copy:
        flags |= GstMemmap.MapFlags.COPY_SMALL
    return mapping_array(_engine(engine).map_file(str(path), flags))


def engine_stats(engine=None):
    """The engine's statistics (maps, hits, mapped-bytes, ...) as a dict."""
    return structure_to_dict(_engine(engine).get_stats())


def to_torch(array):
    """A torch.Tensor over the memory of a numpy array (a frame or range
    of a VideoReader), no copy: torch.from_numpy. Frames of a
    VideoReader are copy-on-write by default: the tensor may be written
    (the store never changes). A read-only array (writable=False) gives a
    tensor that must only be read (a write would fault, which is why
    torch's warning about non-writable arrays is silenced here); copy it
    (tensor.clone()) to get memory of your own. For other frameworks,
    torch.utils.dlpack.to_dlpack(tensor) passes it on without a copy
    (numpy itself refuses to export read-only arrays through DLPack).

    Raises ImportError when torch is not installed."""
    import numpy as np
    import torch
    a = np.asarray(array)
    if not a.flags.writeable:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='.*not writable.*')
            return torch.from_numpy(a)
    return torch.from_numpy(a)
