#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The engine from Python through GObject introspection, and numpy views
with no copy: of a mapping (by the address the library reports) and of a
frame store (np.memmap with the documented offsets).

Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH set to the build's
gst/memmap. Exit status 77 (skipped) without numpy or PyGObject.
"""

import os
import subprocess

import memmaptest as T
from memmaptest import check

# map_video_frames uses memmapcache's default cache directory, under
# $XDG_CACHE_HOME: a private one (set before GLib first reads it)
tmp = T.make_tmpdir('gst-memmap-gi-', cache=True)
T.import_or_skip(['Gst', 'GstMemmap'], skip_dir=tmp)
import numpy as np  # noqa: E402
from gi.repository import GLib, Gst, GstMemmap  # noqa: E402

T.use_package()
import gstmemmap_numpy as gmn  # noqa: E402


def base_chain(arr):
    chain = []
    b = arr
    while b is not None:
        chain.append(b)
        b = getattr(b, 'base', None)
    return chain


Gst.init(None)
GstMemmap.init()
try:
    engine = GstMemmap.Engine.get_default()
    check(isinstance(engine, GstMemmap.Engine), 'Engine.get_default()')
    check(GstMemmap.Engine.get_default() is engine,
          'the default engine is one object')
    own = GstMemmap.Engine.new()
    check(own is not engine, 'Engine.new() makes another engine')
    # a private engine keeps this test's counters to itself; properties
    # are GObject properties
    own.props.read_threshold = 0
    check(own.props.read_threshold == 0, 'engine properties from Python')

    # --- a file, read-only ----------------------------------------------
    data = (np.arange(3 * 1024 * 1024, dtype=np.uint32) * 2654435761
            ).astype(np.uint32).tobytes()
    path = os.path.join(tmp, 'data.bin')
    with open(path, 'wb') as f:
        f.write(data)

    m = own.map_file(path, GstMemmap.MapFlags.NONE)
    check(m.get_size() == len(data) and m.get_offset() == 0 and
          m.get_file_size() == len(data) and m.get_path() == path,
          'map_file: size, offset, file size, path')
    check(m.is_mmapped() and not m.is_writable(), 'map_file: mmapped, RO')
    b = m.get_bytes()
    check(isinstance(b, GLib.Bytes) and b.get_size() == len(data),
          'get_bytes(): a GLib.Bytes of the window')
    check(b.get_data() == data, 'get_bytes(): the file\'s bytes')

    arr = gmn.mapping_array(m)
    addr = arr.__array_interface__['data'][0]
    check(addr == m.get_address() and addr != 0,
          'mapping_array: the array\'s data address is the mapping\'s '
          '(0x%x)' % addr)
    check(arr.dtype == np.uint8 and arr.shape == (len(data),) and
          not arr.flags.owndata, 'mapping_array: a uint8 view, no own data')
    check(any(getattr(x, 'owner', None) is m for x in base_chain(arr)),
          'mapping_array: the array\'s base holds the mapping')
    check(not arr.flags.writeable, 'a read-only mapping gives a read-only '
          'array')
    check(np.array_equal(arr, np.frombuffer(data, dtype=np.uint8)),
          'mapping_array: the contents equal the file')
    del b

    # the array keeps the mapping alive after the Python reference goes
    del m
    own.clear_all()
    check(int(arr[12345]) == data[12345],
          'the array outlives the Python mapping object')
    st = own.get_stats()
    check(st.get_value('in-use-maps') == 1,
          'a live array counts as a mapping in use')
    del arr
    own.clear_all()
    st = own.get_stats()
    check(st.get_value('in-use-maps') == 0 and
          st.get_value('active-maps') == 0,
          'dropping the array releases the mapping')

    # --- stats: a dict-like GstStructure ----------------------------------
    before = own.get_stats()
    m1 = own.map_range(path, 4096, 100, GstMemmap.MapFlags.NONE)
    m2 = own.map_range(path, 8192, 100, GstMemmap.MapFlags.NONE)
    after = own.get_stats()
    check(after.get_name() == 'memmap-engine-stats', 'stats structure name')
    check(after.get_value('maps') == before.get_value('maps') + 2 and
          after.get_value('hits') == before.get_value('hits') + 1,
          'stats: two map_range calls of one window, one hit')
    check(gmn.mapping_array(m1)[4096 - m1.get_offset()] == data[4096],
          'map_range: the window holds the range')
    stats = {after.nth_field_name(i): after.get_value(after.nth_field_name(i))
             for i in range(after.n_fields())}
    check(stats['max-mapped-bytes'] > 0 and 'evictions' in stats,
          'stats as a dict')
    del m1, m2
    check(own.unmap(path) >= 1, 'unmap(path) drops the file\'s mappings')

    # --- create_file, write through numpy, flush --------------------------
    out = os.path.join(tmp, 'out.bin')
    w = own.create_file(out, 1 << 20)
    check(w.is_writable() and w.get_size() == 1 << 20,
          'create_file: a writable mapping of the reserved size')
    wa = gmn.mapping_array(w)
    check(wa.flags.writeable and
          wa.__array_interface__['data'][0] == w.get_address(),
          'a writable mapping gives a writable array at its address')
    wa[:] = (np.arange(wa.size) % 251).astype(np.uint8)
    check(w.flush(0, 0), 'flush()')
    with open(out, 'rb') as f:
        on_disk = np.frombuffer(f.read(), dtype=np.uint8)
    check(np.array_equal(on_disk, np.arange(1 << 20) % 251),
          'what numpy wrote through the mapping is in the file')
    # the 2-D view of the same memory: still no copy
    img = wa.reshape(1024, 1024)
    check(np.shares_memory(img, wa) and img.base is not None,
          'reshaping keeps the view')
    del wa, img, w

    # --- errors are GLib.Error naming the file ----------------------------
    missing = os.path.join(tmp, 'missing.bin')
    try:
        own.map_file(missing, GstMemmap.MapFlags.NONE)
        check(False, 'map_file of a missing file raises')
    except GLib.Error as e:
        check(e.matches(GstMemmap.error_quark(), GstMemmap.Error.NOT_FOUND)
              and missing in e.message,
              'map_file of a missing file: GstMemmap.Error.NOT_FOUND naming '
              'it (%s)' % e.message)
    empty = os.path.join(tmp, 'empty.bin')
    open(empty, 'w').close()
    try:
        own.map_file(empty, GstMemmap.MapFlags.NONE)
        check(False, 'map_file of an empty file raises')
    except GLib.Error as e:
        check(e.matches(GstMemmap.error_quark(), GstMemmap.Error.EMPTY_FILE),
              'an empty file: EMPTY_FILE')

    own.clear_all()
    st = own.get_stats()
    check(st.get_value('active-maps') == 0, 'clear_all() empties the cache')

    # --- a frame store through np.memmap, no copy --------------------------
    store = os.path.join(tmp, 'frames.store')
    env = dict(os.environ)
    env.pop('GST_DEBUG', None)
    env.pop('GST_TRACERS', None)
    subprocess.run(['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=12',
                    'pattern=ball', '!',
                    'video/x-raw,format=NV12,width=160,height=120', '!',
                    'tee', 'name=t', '!', 'queue', '!', 'memmapsink',
                    'location=' + store, 't.', '!', 'queue', '!',
                    'filesink', 'location=' + store + '.raw'],
                   check=True, env=env, timeout=120)
    raw = np.fromfile(store + '.raw', dtype=np.uint8).reshape(12, -1)
    s = gmn.Store(store)
    check(s.committed() == 12 and s.format == 'NV12', 'Store: 12 NV12 frames')
    ok = True
    for i in range(12):
        y, uv = s.frame(i)
        ok = ok and y.shape == (120, 160) and uv.shape == (60, 80, 2)
        ok = ok and np.array_equal(y, raw[i, :160 * 120].reshape(120, 160))
        ok = ok and np.array_equal(uv.reshape(60, 160),
                                   raw[i, 160 * 120:].reshape(60, 160))
        ok = ok and any(x is s.mm for x in base_chain(y))
        ok = ok and np.shares_memory(y, s.mm)
        ok = ok and not y.flags.owndata
        # the view sits at the offset the format gives the frame's slot
        off = s.slot_offset(int(s.entry(i)['slot']))
        ok = ok and (y.__array_interface__['data'][0] ==
                     s.mm.__array_interface__['data'][0] + off)
    check(ok, 'Store.frame(i): views of the np.memmap at the documented '
          'offsets, equal to the frames written')

    # the same store through the engine: the slot's bytes in the engine's
    # mapping are the ones numpy sees in its own np.memmap
    off = s.slot_offset(int(s.entry(5)['slot']))
    m = own.map_range(store, off, s.frame_size, GstMemmap.MapFlags.NONE)
    ma = gmn.mapping_array(m)
    lo = off - m.get_offset()
    check(np.array_equal(ma[lo:lo + 160 * 120],
                         s.frame(5)[0].reshape(-1)),
          'the engine\'s mapping of a slot holds the frame numpy reads')
    del ma, m

    # --- map_video_frames: frames of a clip, numpy views with no copy -----
    clip = os.path.join(tmp, 'clip.mp4')
    subprocess.run(['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=40',
                    'pattern=ball', '!', 'video/x-raw,format=I420,width=320,'
                    'height=240,framerate=30/1', '!', 'x264enc', 'bframes=2',
                    'key-int-max=10', '!', 'mp4mux', '!', 'filesink',
                    'location=' + clip], check=True, env=env, timeout=120)
    subprocess.run(['gst-launch-1.0', '-q', 'filesrc', 'location=' + clip,
                    '!', 'decodebin', '!', 'videoconvert', '!',
                    'video/x-raw,format=GRAY8', '!', 'filesink',
                    'location=' + clip + '.gray'], check=True, env=env,
                   timeout=120)
    ref = np.fromfile(clip + '.gray', dtype=np.uint8).reshape(-1, 240, 320)
    check(len(ref) == 40, 'the reference decoder sees 40 frames')

    frames = engine.map_video_frames(clip, 5, 10, 'GRAY8')
    check(isinstance(frames, GstMemmap.Frames), 'engine.map_video_frames()')
    check(frames.get_n_frames() == 10 and frames.get_start_frame() == 5 and
          not frames.is_clipped(), '10 frames from frame 5')
    check(frames.get_format() == 'GRAY8' and frames.get_width() == 320 and
          frames.get_height() == 240, 'GRAY8 320x240')
    check(frames.is_zero_copy(), 'zero copy: every frame is in a store')
    info = frames.get_video_info()
    check(info.width == 320 and info.height == 240, 'a GstVideo.VideoInfo')
    ok = True
    for i in range(10):
        (y,) = gmn.frame_planes(frames, i)
        ok = ok and np.array_equal(y, ref[5 + i])
        ok = ok and (y.__array_interface__['data'][0] ==
                     frames.get_plane_address(i, 0))
        ok = ok and not y.flags.owndata and not y.flags.writeable
        ok = ok and any(getattr(x, 'owner', None) is frames
                        for x in base_chain(y))
        buf = frames.get_buffer(i)
        ok = ok and buf.pts == frames.get_pts(i) and buf.pts != Gst.CLOCK_TIME_NONE
        # the same bytes through np.memmap of the store, where the library
        # says they are
        path, off = frames.get_path(i), frames.get_file_offset(i)
        mm = np.memmap(path, dtype=np.uint8, mode='r', offset=off,
                       shape=(240, 320))
        ok = ok and np.array_equal(mm, y)
    check(ok, 'frame_planes(): views at the library\'s addresses, equal to '
          'the decoder\'s frames 5..14 and to np.memmap of the store')
    st = frames.get_stats()
    check(st.get_value('direct') is False and
          st.get_value('decoded-frames') >= 15, 'the first call decodes')

    again = GstMemmap.map_video_frames(engine, clip, 5, 10, 'GRAY8')
    st = again.get_stats()
    check(st.get_value('direct') is True and
          st.get_value('decoded-frames') == 0,
          'the second call decodes nothing (%s)' % st.to_string())
    check(all(np.array_equal(gmn.frame_planes(again, i)[0], ref[5 + i])
              for i in range(10)), 'and returns the same frames')
    check(again.get_path(3) == frames.get_path(3) and
          again.get_file_offset(3) == frames.get_file_offset(3),
          'in the same place of the same store')
    (y0,) = gmn.frame_planes(again, 0)
    del again
    check(np.array_equal(y0, ref[5]), 'a view outlives the Python object')
    del y0

    tail = engine.map_video_frames(clip, 35, 20, None)
    check(tail.get_n_frames() == 5 and tail.is_clipped() and
          tail.get_format() == 'I420', 'a range past the end is clipped')
    y, u, v = gmn.frame_planes(tail, 4)
    check(y.shape == (240, 320) and u.shape == (120, 160) and
          v.shape == (120, 160), 'I420 planes')
    try:
        engine.map_video_frames(os.path.join(tmp, 'nope.mp4'), 0, 1, None)
        check(False, 'a missing video raises')
    except GLib.Error as e:
        check(e.matches(GstMemmap.error_quark(), GstMemmap.Error.NOT_FOUND)
              and 'nope.mp4' in e.message, 'a missing video: NOT_FOUND')
    del frames, tail
finally:
    T.finish(tmp)
