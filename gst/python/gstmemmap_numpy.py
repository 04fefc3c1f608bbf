# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compatibility: the former module of numpy views, now the gstmemmap
package (gstmemmap.compat). New code: `import gstmemmap` and
`gstmemmap.VideoReader`.

    import gstmemmap_numpy as gmn
    (y,) = gmn.frame_planes(frames, 0)   # frames: GstMemmap.Frames
    st = gmn.Store('clip.store')         # a frame store, np.memmap
"""

from gstmemmap.compat import (ENTRY, HEADER, PLANES, Store,  # noqa: F401
                              frame_bytes, frame_planes, mapping_array,
                              plane_shapes, FRAME_DISCONT, FRAME_INTERLACED,
                              FRAME_TFF, FRAME_RFF, FRAME_ONEFIELD,
                              FRAME_CORRUPTED, FRAME_GAP)

__all__ = ['HEADER', 'ENTRY', 'PLANES', 'Store', 'plane_shapes',
           'mapping_array', 'frame_bytes', 'frame_planes',
           'FRAME_DISCONT', 'FRAME_INTERLACED', 'FRAME_TFF', 'FRAME_RFF',
           'FRAME_ONEFIELD', 'FRAME_CORRUPTED', 'FRAME_GAP']
