# SPDX-License-Identifier: LGPL-2.1-or-later
"""numpy shapes of video frames, derived from GstVideo.VideoFormatInfo.

There is no table of formats here: every plane's shape, dtype and strides
come from what GStreamer says about the format (components, the plane each
is in, pixel strides, offsets, depths, shifts, subsampling, flags) and from
the frame's layout (plane offsets and strides). So every GstVideoFormat
GStreamer knows has a view, and a new one needs no change.

The rules, per plane p of a frame of width w and height h:

- **Samples** (most formats). Let `unit` be the smallest pixel stride of
  the plane's components (the bytes from one pixel to the next).
  - If the components have different offsets within the pixel, the element
    is the storage word of the deepest component (1, 2, 4 or 8 bytes for
    depth + shift up to 8, 16, 32, 64 bits) and there are `unit / word`
    channels: `(rows, cols)` when that is 1, else `(rows, cols, channels)`.
    E.g. GRAY8 `(h, w) uint8`, RGB `(h, w, 3)`, NV12's plane 1
    `(h/2, w/2, 2)`, P010_10LE `(h, w) <u2` and `(h/2, w/2, 2) <u2`
    (the 10 bits in the high bits, as stored), YUY2 `(h, w, 2)` (Y, then U
    or V: the bytes of each pixel in memory order).
  - If they share one offset (bit fields of one word: RGB16, RGB15, r210,
    Y410, BGR10A2_LE, ...), the element is that word, `unit` bytes:
    `(rows, cols)` of uint16/uint32/uint64; the components are the bit
    fields GstVideoFormatInfo's depth and shift describe.
  - rows and cols are those of the plane's component with the smallest
    pixel stride, after subsampling (`ceil(h / 2**h_sub)`,
    `ceil(w / 2**w_sub)`); rows are `stride` bytes apart.
  - Multi-byte words are little-endian when the format has
    GST_VIDEO_FORMAT_FLAG_LE and big-endian otherwise (GStreamer 1.22 does
    not flag a few little-endian packed formats such as Y210 and Y410: the
    bytes are right, reinterpret with `.view('<u4')` etc.).
- **Raw bytes** where the samples are not a simple array: complex formats
  (pixel stride 0: v210, UYVP, IYU1, GRAY10_LE32, NV12_10LE32, ... whose
  samples straddle bytes in packed words), tiled formats (NV12_64Z32,
  NV12_4L4, ...) and palettes (RGB8P's plane 1). A non-tiled plane is a
  2-D uint8 array `(rows, stride)` of its whole rows; a tiled plane or a
  palette is a 1-D uint8 array of the plane's bytes. `PlaneLayout.raw`
  says which.

Nothing here reads a frame: `PlaneLayout.view(buffer, offset)` makes the
ndarray over memory that someone else owns.
"""

import numpy as np

from ._gi import GstVideo

__all__ = ['PlaneLayout', 'plane_layouts', 'video_info']

_F = GstVideo.VideoFormatFlags


def _sub(v, s):
    """GST_VIDEO_SUB_SCALE: v / 2**s rounded up."""
    return -((-v) >> s)


def _word_bytes(bits):
    for n in (1, 2, 4, 8):
        if bits <= 8 * n:
            return n
    return 0


class PlaneLayout:
    """Where plane `index` of a frame is and how it reads as an ndarray.

    offset: bytes from the start of the frame; size: bytes of the plane;
    shape, strides, dtype: of the view of one frame's plane; raw: True when
    the view is raw bytes (see the module's rules)."""

    def __init__(self, index, offset, size, shape, strides, dtype, raw):
        self.index = index
        self.offset = offset
        self.size = size
        self.shape = tuple(shape)
        self.strides = tuple(strides)
        self.dtype = np.dtype(dtype)
        self.raw = raw

    def extent(self):
        """The bytes the view spans from its first byte (rows of negative
        stride are not supported by stores and frames)."""
        if not self.shape:
            return 0
        return sum((n - 1) * s for n, s in zip(self.shape, self.strides)) + \
            self.dtype.itemsize

    def view(self, buffer, frame_offset, outer=()):
        """The plane of the frame at frame_offset in buffer, as an ndarray
        sharing buffer's memory. outer: (count, stride) dimensions put
        before the plane's (a range of frames)."""
        shape = tuple(n for n, _ in outer) + self.shape
        strides = tuple(s for _, s in outer) + self.strides
        return np.ndarray(shape, dtype=self.dtype, buffer=buffer,
                          offset=frame_offset + self.offset, strides=strides)

    def __repr__(self):
        return '<PlaneLayout %d: %s %s%s at +%d, strides %s>' % (
            self.index, self.shape, self.dtype.str,
            ' raw' if self.raw else '', self.offset, self.strides)


def video_info(caps_or_string):
    """A GstVideo.VideoInfo from caps (a Gst.Caps or its string)."""
    from ._gi import Gst
    caps = caps_or_string
    if isinstance(caps, str):
        caps = Gst.Caps.from_string(caps)
    if caps is None:
        raise ValueError('invalid caps %r' % (caps_or_string,))
    info = GstVideo.VideoInfo.new_from_caps(caps)
    if info is None:
        raise ValueError('not raw video caps: %s' % caps.to_string())
    return info


def _plane_sizes(offsets, n_planes, frame_size):
    """Bytes of each plane: up to the next plane that starts after it, or
    to the end of the frame."""
    sizes = []
    for p in range(n_planes):
        after = [o for o in offsets[:n_planes] if o > offsets[p]]
        sizes.append((min(after) if after else frame_size) - offsets[p])
    return sizes


def _samples(finfo, comps, width, height, stride):
    """(shape, strides, dtype) of a plane of samples, or None for raw."""
    unit = min(finfo.pixel_stride[c] for c in comps)
    if unit <= 0 or any(finfo.pixel_stride[c] % unit for c in comps):
        return None
    poffsets = [finfo.poffset[c] for c in comps]
    if len(comps) > 1 and len(set(poffsets)) == 1:
        word = unit                      # bit fields of one word
    else:
        word = _word_bytes(max(finfo.depth[c] + finfo.shift[c]
                               for c in comps))
    if word not in (1, 2, 4, 8) or unit % word:
        return None
    first = min(comps, key=lambda c: (finfo.pixel_stride[c], c))
    rows = _sub(height, finfo.h_sub[first])
    cols = _sub(width, finfo.w_sub[first])
    channels = unit // word
    if cols * unit > abs(stride):
        return None
    if word == 1:
        dtype = '|u1'
    else:
        dtype = ('<' if finfo.flags & _F.LE else '>') + 'u%d' % word
    shape, strides = (rows, cols), (stride, unit)
    if channels > 1:
        shape += (channels,)
        strides += (word,)
    return shape, strides, dtype


def _raw(finfo, comps, p, height, stride, size):
    """(shape, strides, dtype) of a plane as raw bytes."""
    tiled = bool(finfo.flags & _F.TILED)
    if comps and not tiled and stride > 0 and not (
            p > 0 and finfo.flags & _F.PALETTE):
        rows = _sub(height, finfo.h_sub[comps[0]])
        if rows * stride <= size:
            return (rows, stride), (stride, 1), '|u1'
    return (size,), (1,), '|u1'


def plane_layouts(info, offsets=None, strides=None, frame_size=None):
    """The PlaneLayout of every plane of a frame described by info (a
    GstVideo.VideoInfo), with the plane offsets, strides and frame size of
    the frame's own layout (a store's header or a GstVideoMeta) when given,
    else info's."""
    finfo = info.finfo
    n_planes = finfo.n_planes
    offsets = list(offsets if offsets is not None else info.offset)
    strides = list(strides if strides is not None else info.stride)
    frame_size = frame_size if frame_size is not None else info.size
    sizes = _plane_sizes(offsets, n_planes, frame_size)
    complex_ = bool(finfo.flags & (_F.COMPLEX | _F.TILED))
    out = []
    for p in range(n_planes):
        comps = [c for c in range(finfo.n_components) if finfo.plane[c] == p]
        geo = None
        palette = p > 0 and finfo.flags & _F.PALETTE
        if comps and not complex_ and not palette:
            geo = _samples(finfo, comps, info.width, info.height, strides[p])
        raw = geo is None
        if raw:
            geo = _raw(finfo, comps, p, info.height, strides[p], sizes[p])
        layout = PlaneLayout(p, offsets[p], sizes[p], *geo, raw=raw)
        if layout.offset + layout.extent() > frame_size:
            # a layout that does not hold its own samples: its bytes
            layout = PlaneLayout(p, offsets[p], sizes[p],
                                 *_raw(finfo, [], p, 0, 0, sizes[p]), raw=True)
        out.append(layout)
    return out
