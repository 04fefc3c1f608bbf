#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A frame store written and read from Python through GstMemmap alone (GObject
introspection): no numpy, no parser of our own (issue 15).

Writer: GstMemmap.StoreWriter.new / new_full, frames committed from bytes
(write) and from Gst.Buffers (write_buffer, also into a padded layout),
close, and the last reference closing a store nobody closed. Reader:
GstMemmap.StoreReader.open, the counters, the index entries (pts, duration,
flags), get_buffer and its bytes through Gst.Buffer.map, errors as
GLib.Error with GstMemmap.Error codes.

Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH set to the build's
gst/memmap. Exit status 77 (skipped) without PyGObject or the typelib.
"""

import gc
import os
import shutil
import sys
import tempfile

try:
    import gi
    gi.require_version('Gst', '1.0')
    gi.require_version('GstVideo', '1.0')
    gi.require_version('GstMemmap', '1.0')
    from gi.repository import GLib, Gst, GstMemmap, GstVideo
except (ImportError, ValueError) as e:
    print('skipping: %s' % e)
    sys.exit(77)

failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


def raises(code, fn, *args):
    """Whether fn(*args) raises a GLib.Error of GstMemmap.Error code."""
    try:
        fn(*args)
    except GLib.Error as e:
        return (e.domain == GLib.quark_to_string(GstMemmap.error_quark()) and
                e.code == int(code))
    return False


def frame_bytes(n, size):
    """Frame n: bytes no other frame has at the same place."""
    return bytes((n * 37 + i * 11 + (i >> 8)) & 0xff for i in range(size))


def buffer_bytes(buf):
    ok, info = buf.map(Gst.MapFlags.READ)
    assert ok
    try:
        return bytes(info.data)
    finally:
        buf.unmap(info)


FLAGS = GstMemmap.StoreFrameFlags
MS = Gst.MSECOND


def append_store(engine, path):
    """An I420 append store: 3 frames from bytes, 2 from buffers."""
    caps = Gst.Caps.from_string(
        'video/x-raw,format=I420,width=32,height=24,framerate=25/1')
    info = GstVideo.VideoInfo.new_from_caps(caps)
    size = info.size
    w = GstMemmap.StoreWriter.new(engine, path, caps, info,
                                  GstMemmap.StoreMode.APPEND, 0)
    check(isinstance(w, GstMemmap.StoreWriter), 'StoreWriter.new')
    check(w.get_path() == path and
          w.get_mode() == GstMemmap.StoreMode.APPEND and
          w.get_layout().size == size, 'writer: path, mode, layout')

    frames = []               # (bytes, pts, duration, flags)
    for n in range(3):
        flags = FLAGS.DISCONT if n == 0 else FLAGS.NONE
        data = frame_bytes(n, size)
        check(w.write(data, n * 40 * MS, 40 * MS, flags),
              'write frame %d from bytes' % n)
        frames.append((data, n * 40 * MS, 40 * MS, flags))

    # the wrong size is an error, and leaves no slot acquired
    check(raises(GstMemmap.Error.INVALID_ARGUMENT, w.write, b'short', 0, 0, 0),
          'write: a frame of the wrong size is INVALID_ARGUMENT')
    check(w.get_committed() == 3, 'the refused frame was not committed')

    for n in (3, 4):
        data = frame_bytes(n, size)
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = n * 40 * MS
        buf.duration = 20 * MS
        flags = FLAGS.NONE
        if n == 4:
            buf.set_flags(Gst.BufferFlags.GAP)
            flags = FLAGS.GAP
        check(w.write_buffer(buf), 'write_buffer frame %d' % n)
        frames.append((data, n * 40 * MS, 20 * MS, flags))
    check(raises(GstMemmap.Error.INVALID_ARGUMENT, w.write_buffer,
                 Gst.Buffer.new_wrapped(b'not a frame')),
          'write_buffer: a buffer that is not a frame is INVALID_ARGUMENT')

    check(w.get_committed() == 5, 'writer: 5 frames committed')
    check(w.close(), 'writer: close')
    return caps, frames


def read_append(engine, path, caps, frames):
    r = GstMemmap.StoreReader.open(engine, path)
    check(isinstance(r, GstMemmap.StoreReader), 'StoreReader.open')
    check(r.get_committed() == len(frames) and r.get_first_frame() == 0,
          'reader: committed %d, first frame 0' % len(frames))
    check(r.is_closed() and not r.is_damaged(), 'reader: closed cleanly')
    check(r.get_mode() == GstMemmap.StoreMode.APPEND, 'reader: append mode')
    check(r.get_caps().is_equal(caps), 'reader: the caps written')
    check(r.get_layout().size == len(frames[0][0]), 'reader: the layout size')

    for n, (data, pts, duration, flags) in enumerate(frames):
        ok, entry = r.get_entry(n)
        check(ok and entry.frame == n and entry.pts == pts and
              entry.duration == duration and entry.flags == int(flags),
              'entry %d: frame, pts, duration, flags' % n)
        buf = r.get_buffer(None, n)
        check(buf.pts == pts and buf.duration == duration and
              buf.offset == n,
              'buffer %d: pts, duration, offset' % n)
        check(bool(buf.get_flags() & Gst.BufferFlags.DISCONT) ==
              bool(flags & FLAGS.DISCONT) and
              bool(buf.get_flags() & Gst.BufferFlags.GAP) ==
              bool(flags & FLAGS.GAP), 'buffer %d: flags' % n)
        check(buffer_bytes(buf) == data, 'buffer %d: the bytes written' % n)

    check(raises(GstMemmap.Error.INVALID_ARGUMENT, r.get_entry,
                 len(frames)), 'get_entry past the end: INVALID_ARGUMENT')
    check(raises(GstMemmap.Error.INVALID_ARGUMENT, r.get_buffer, None,
                 len(frames)), 'get_buffer past the end: INVALID_ARGUMENT')
    info = r.get_info()
    check(info.get_value('committed') == len(frames) and
          info.get_value('state') == 'closed', 'get_info: committed, state')
    return r


def padded_layout(engine, path):
    """write_buffer copies into the writer's layout: GRAY8 10x4, rows of
    12 bytes in the buffer, of 16 in the store."""
    caps = Gst.Caps.from_string('video/x-raw,format=GRAY8,width=10,height=4')
    layout = GstVideo.VideoInfo.new_from_caps(caps)
    align = GstVideo.VideoAlignment()
    align.reset()
    align.padding_right = 6
    layout.align(align)
    check(layout.stride[0] == 16, 'padded layout: stride 16')
    w = GstMemmap.StoreWriter.new_full(
        engine, path, caps, layout, GstMemmap.StoreMode.RING, 2, 0, 0,
        GstMemmap.StoreWriterFlags.CHECKSUM)
    datas = [frame_bytes(n, 12 * 4) for n in range(3)]
    for n, data in enumerate(datas):
        check(w.write_buffer(Gst.Buffer.new_wrapped(data)),
              'ring: write_buffer frame %d' % n)
    check(w.has_checksums(), 'new_full: the CHECKSUM flag')
    del w                     # the last reference closes the store
    gc.collect()

    r = GstMemmap.StoreReader.open(engine, path)
    check(r.is_closed(), 'the last unref of the writer closed the store')
    check(r.get_mode() == GstMemmap.StoreMode.RING and
          r.get_committed() == 3 and r.get_first_frame() == 1,
          'ring of 2 after 3 frames: frames 1 and 2')
    check(r.has_checksums(), 'reader: checksums kept')
    check(raises(GstMemmap.Error.INVALID_ARGUMENT, r.get_entry, 0),
          'ring: frame 0 was overwritten')
    for n in (1, 2):
        got = buffer_bytes(r.get_buffer(None, n))
        rows_ok = all(got[y * 16:y * 16 + 10] == datas[n][y * 12:y * 12 + 10]
                      for y in range(4))
        check(len(got) == 64 and rows_ok,
              'ring frame %d: each row in the stride of the layout' % n)
        check(r.verify_frame(n), 'ring frame %d: checksum verified' % n)


def main():
    Gst.init(None)
    GstMemmap.init()
    tmp = tempfile.mkdtemp(prefix='gst-memmap-store-gi-')
    try:
        engine = GstMemmap.Engine.new()
        path = os.path.join(tmp, 'append.mms')
        caps, frames = append_store(engine, path)
        r = read_append(engine, path, caps, frames)
        # refs from Python: the boxed reader outlives a copy of itself
        r2 = r.copy()
        del r
        gc.collect()
        check(r2.get_committed() == len(frames), 'a copied reader works')
        del r2
        check(raises(GstMemmap.Error.NOT_FOUND, GstMemmap.StoreReader.open,
                     engine, os.path.join(tmp, 'none.mms')),
              'open of a missing file: NOT_FOUND')
        padded_layout(engine, os.path.join(tmp, 'ring.mms'))
    finally:
        shutil.rmtree(tmp)

    if failures:
        print('%d check(s) failed' % len(failures))
        return 1
    print('all checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
