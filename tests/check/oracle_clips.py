# SPDX-License-Identifier: LGPL-2.1-or-later
"""The clips of the differential harness (cache_oracle.py), made by the test
itself with x264enc, each small (320x240, 2-4 s) so that a run is quick.

Every clip kind of issue 11:

- ``mp4-bframes``, ``mkv-bframes``: x264enc bframes=3 (pyramid), a keyframe
  every 30 frames, in MP4 (stream time starting two frames late) and in
  Matroska;
- ``vfr-nominal``: irregular timestamps (frame durations of 20 to 60 ms)
  under caps that say 30/1;
- ``vfr-zero``: the same kind of timestamps under framerate 0/1;
- ``interlaced``: interleaved top-field-first H.264 (x264enc interlaced=true);
- ``av``: video and AAC audio in one MP4.
"""

import os
import random

from gi.repository import Gst, GLib

W, H = 320, 240

# name -> (what, container)
KINDS = {
    'mp4-bframes': ('x264 bframes=3 in MP4', 'mp4'),
    'mkv-bframes': ('x264 bframes=3 in Matroska', 'mkv'),
    'vfr-nominal': ('variable frame rate under 30/1 caps, Matroska', 'mkv'),
    'vfr-zero': ('variable frame rate under 0/1 caps, Matroska', 'mkv'),
    'interlaced': ('interleaved TFF H.264 in MP4', 'mp4'),
    'av': ('H.264 + AAC in MP4', 'mp4'),
}

X264 = ('x264enc speed-preset=superfast bframes=3 b-adapt=false '
        'key-int-max=30 threads=1')
MUX = {'mp4': 'mp4mux', 'mkv': 'matroskamux'}


def _run(pipeline, timeout=120):
    """Plays @pipeline to EOS; raises on an error."""
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    msg = bus.timed_pop_filtered(timeout * Gst.SECOND,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise RuntimeError('making a clip timed out')
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        raise RuntimeError('making a clip: %s (%s)' % (err.message, dbg))


def _launch(desc, path):
    _run(Gst.parse_launch(desc + ' ! filesink location="%s"' % path))


def _vfr_durations(n, seed):
    """Frame durations of 20 to 60 ms, in ns (a fixed seed: the same clip
    every run)."""
    rng = random.Random(seed)
    return [rng.choice((20, 25, 33, 40, 50, 60)) * Gst.MSECOND
            for _ in range(n)]


def _make_vfr(path, framerate, mux, n=90):
    """An appsrc clip of @n frames with irregular timestamps under caps of
    @framerate: a diagonal ramp and a moving square, different every
    frame."""
    import numpy as np
    desc = ('appsrc name=src format=time is-live=false caps="video/x-raw,'
            'format=I420,width=%d,height=%d,framerate=%s,'
            'pixel-aspect-ratio=1/1" ! %s ! %s ! filesink location="%s"'
            % (W, H, framerate, X264, mux, path))
    pipeline = Gst.parse_launch(desc)
    src = pipeline.get_by_name('src')
    pipeline.set_state(Gst.State.PLAYING)
    yy, xx = np.mgrid[0:H, 0:W]
    pts = 0
    for i, dur in enumerate(_vfr_durations(n, 11)):
        y = ((xx + yy + 5 * i) % 256).astype(np.uint8)
        x0 = (7 * i) % (W - 40)
        y[60:100, x0:x0 + 40] = 235
        u = np.full((H // 2, W // 2), (3 * i) % 256, np.uint8)
        v = np.full((H // 2, W // 2), 128, np.uint8)
        data = y.tobytes() + u.tobytes() + v.tobytes()
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = pts
        buf.duration = dur
        pts += dur
        if src.emit('push-buffer', buf) != Gst.FlowReturn.OK:
            break
    src.emit('end-of-stream')
    bus = pipeline.get_bus()
    msg = bus.timed_pop_filtered(120 * Gst.SECOND,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError('making the VFR clip %s failed' % path)


def make_clip(kind, directory):
    """Makes the clip of @kind in @directory (once: kept for the run) and
    returns its path."""
    what, container = KINDS[kind]
    path = os.path.join(directory, '%s.%s' % (kind, container))
    if os.path.exists(path):
        return path
    tmp = path + '.part'
    mux = MUX[container]
    raw = ('video/x-raw,format=I420,width=%d,height=%d,framerate=30/1'
           % (W, H))
    if kind in ('mp4-bframes', 'mkv-bframes'):
        _launch('videotestsrc num-buffers=90 pattern=ball ! %s ! %s ! %s'
                % (raw, X264, mux), tmp)
    elif kind == 'vfr-nominal':
        _make_vfr(tmp, '30/1', mux)
    elif kind == 'vfr-zero':
        _make_vfr(tmp, '0/1', mux)
    elif kind == 'interlaced':
        _launch('videotestsrc num-buffers=60 pattern=ball ! %s,'
                'interlace-mode=interleaved,field-order=top-field-first ! '
                '%s interlaced=true ! %s' % (raw, X264, mux), tmp)
    elif kind == 'av':
        _run(Gst.parse_launch(
            '%s name=mux ! filesink location="%s" videotestsrc num-buffers=90 '
            'pattern=ball ! %s ! %s ! mux. audiotestsrc wave=ticks '
            'num-buffers=130 samplesperbuffer=1024 ! audio/x-raw,rate=44100,'
            'channels=2 ! audioconvert ! avenc_aac ! mux.'
            % (mux, tmp, raw, X264)))
    else:
        raise ValueError(kind)
    os.rename(tmp, path)
    return path


def uri(path):
    return GLib.filename_to_uri(os.path.abspath(path), None)
