#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""map_video_frames against PyAV and OpenCV, from Python (issue 14).

On a 720p and a 1080p H.264 clip made here with x264enc (240 frames, GOP
60, B-frames), BGR frames, in one run, contenders interleaved, each figure
the median of ROUNDS rounds:

- whole clip, cold: GstMemmap.map_video_frames_full (..., 0, 0, "BGR") on
  an empty cache directory; PyAV decoding every frame to a bgr24 ndarray;
  cv2.VideoCapture reading every frame;
- whole clip, warm: the same call again (the cache answers);
- chunked, cold: 32-frame calls from frame 0 to the end on an empty cache,
  each asked for once the one before returned (the previous frames dropped
  after the next call, as `f = map(...)` in a loop does);
- random 8-frame windows, cold: WINDOWS windows at fixed random places,
  each the first contact with the clip (an empty cache directory each);
  PyAV: open, seek to the keyframe before the window, decode to the
  window's frames; OpenCV: open, CAP_PROP_POS_FRAMES, read 8;
- random windows, warm: the same windows again on their caches;
- the same windows cold on one new cache, each asked for while the frames
  of the one before are held (a random reader of one clip: the pipeline of
  the first is seeked for the others).

The window frames of PyAV and of map_video_frames are compared by their
times from each one's frame 0 (the numbering must agree). The LAST line gives the ratios: chunked cold over
whole cold (target <= 1.15), the cold window over PyAV's (target <= 1),
and the others against PyAV and OpenCV. A peer that is not installed
(python3-av, python3-opencv) is skipped with the reason printed.
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstMemmap', '1.0')
from gi.repository import Gst, GstMemmap  # noqa: E402

try:
    import av
except ImportError as e:
    av = None
    AV_WHY = str(e)
try:
    import cv2
except ImportError as e:
    cv2 = None
    CV_WHY = str(e)

ROUNDS = int(os.environ.get('BENCH_ROUNDS', '3'))
N_FRAMES = int(os.environ.get('BENCH_FRAMES', '240'))
GOP = 60
WINDOWS = 5
WINDOW = 8
CHUNK = 32
SIZES = [(1280, 720), (1920, 1080)]


def make_clip(path, w, h):
    desc = ('videotestsrc num-buffers={n} pattern=ball ! '
            'video/x-raw,format=I420,width={w},height={h},framerate=30/1 ! '
            'x264enc speed-preset=veryfast bframes=2 key-int-max={gop} '
            'bitrate=8000 ! h264parse ! mp4mux ! filesink location={p}'
            ).format(n=N_FRAMES, w=w, h=h, gop=GOP, p=path)
    subprocess.run(['gst-launch-1.0', '-q'] + desc.split(), check=True,
                   env=dict(os.environ, GST_TRACERS='', GST_DEBUG='*:1'))


class Memmap:
    name = 'gst-memmap'

    def __init__(self, clip, tmp):
        self.clip = clip
        self.tmp = tmp
        self.engine = GstMemmap.Engine.get_default()
        self.n = 0
        self.caches = []

    def fresh_cache(self):
        self.n += 1
        d = os.path.join(self.tmp, 'cache%d' % self.n)
        shutil.rmtree(d, ignore_errors=True)
        self.caches.append(d)
        return d

    def drop_caches(self):
        """Removes the round's cache directories and the engine's unused
        mappings of them (their disk space)."""
        for d in self.caches:
            shutil.rmtree(d, ignore_errors=True)
        self.caches = []
        self.engine.clear_all()

    def frames(self, cache, start, count):
        return GstMemmap.map_video_frames_full(self.engine, self.clip, start,
                                               count, 'BGR', cache)

    def whole(self, cache):
        f = self.frames(cache, 0, 0)
        assert f.get_n_frames() == N_FRAMES, f.get_n_frames()
        return f

    def chunked(self, cache):
        prev = None
        got = 0
        for start in range(0, N_FRAMES, CHUNK):
            f = self.frames(cache, start, CHUNK)
            got += f.get_n_frames()
            prev = f
        del prev
        assert got == N_FRAMES, got

    def window(self, cache, start):
        f = self.frames(cache, start, WINDOW)
        assert f.get_n_frames() == WINDOW
        return [f.get_pts(i) for i in range(WINDOW)]

    def window_frames(self, cache, start):
        f = self.frames(cache, start, WINDOW)
        assert f.get_n_frames() == WINDOW
        return f


class PyAV:
    name = 'PyAV'

    def __init__(self, clip):
        self.clip = clip

    first_pts = None

    def whole(self):
        n = 0
        with av.open(self.clip) as c:
            s = c.streams.video[0]
            s.thread_type = 'AUTO'
            for frame in c.decode(s):
                frame.to_ndarray(format='bgr24')
                if n == 0:
                    self.first_pts = int(round(frame.pts * s.time_base * 1e9))
                n += 1
        assert n == N_FRAMES, n

    def window(self, start):
        """The frames start..start+8 as the decode numbers them: seek to the
        keyframe before the frame's time, decode up to it."""
        out = []
        with av.open(self.clip) as c:
            s = c.streams.video[0]
            s.thread_type = 'AUTO'
            rate = s.average_rate
            first = s.start_time or 0
            target = first + int(start / rate / s.time_base)
            c.seek(target, stream=s, backward=True, any_frame=False)
            for frame in c.decode(s):
                if frame.pts is None or frame.pts < target:
                    continue
                frame.to_ndarray(format='bgr24')
                out.append(int(round(frame.pts * s.time_base * 1e9)))
                if len(out) == WINDOW:
                    break
        return out


class OpenCV:
    name = 'OpenCV'

    def __init__(self, clip):
        self.clip = clip

    def whole(self):
        cap = cv2.VideoCapture(self.clip)
        n = 0
        while cap.read()[0]:
            n += 1
        cap.release()
        assert n == N_FRAMES, n

    def window(self, start):
        cap = cv2.VideoCapture(self.clip)
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        for _ in range(WINDOW):
            ok, _frame = cap.read()
            assert ok
        cap.release()


def timed(fn, *args):
    # no writeback of an earlier contender's files (a cold pass writes
    # 0.7-1.5 GB of frames) during this one
    os.sync()
    t0 = time.perf_counter()
    ret = fn(*args)
    return time.perf_counter() - t0, ret


def fmt(xs):
    return '%.1f ms (%.1f..%.1f)' % (statistics.median(xs) * 1e3,
                                     min(xs) * 1e3, max(xs) * 1e3)


def bench_size(w, h, tmp):
    clip = os.path.join(tmp, 'clip%dp.mp4' % h)
    make_clip(clip, w, h)
    label = '%dp' % h
    mm = Memmap(clip, tmp)
    peers = []
    if av:
        peers.append(PyAV(clip))
    if cv2:
        peers.append(OpenCV(clip))
    rng = random.Random(14)
    starts = [rng.randrange(GOP, N_FRAMES - WINDOW) for _ in range(WINDOWS)]

    t = {k: [] for k in ('cold', 'warm', 'chunked', 'win_cold', 'win_warm',
                         'win_next')}
    for p in peers:
        t[p.name + ' whole'] = []
        t[p.name + ' window'] = []
    pts_mismatch = 0
    for r in range(ROUNDS):
        # whole clip: gst-memmap cold, then warm, then the peers
        cache = mm.fresh_cache()
        dt, frames = timed(mm.whole, cache)
        t['cold'].append(dt)
        mm_first = frames.get_pts(0)
        del frames
        dt, frames = timed(mm.whole, cache)
        t['warm'].append(dt)
        del frames
        for p in peers:
            t[p.name + ' whole'].append(timed(p.whole)[0])
        # chunked, cold (the whole clip's cache dropped first)
        mm.drop_caches()
        t['chunked'].append(timed(mm.chunked, mm.fresh_cache())[0])
        # random windows: each cold on its own cache, then warm, then peers
        caches = []
        for s in starts:
            cache = mm.fresh_cache()
            caches.append(cache)
            dt, mm_pts = timed(mm.window, cache, s)
            t['win_cold'].append(dt)
            for p in peers:
                dt, p_pts = timed(p.window, s)
                t[p.name + ' window'].append(dt)
                # the same frames: the same times from each one's frame 0
                # (PyAV applies the MP4 edit list, GStreamer does not)
                if isinstance(p, PyAV) and (len(p_pts) != WINDOW or any(
                        abs((a - mm_first) - (b - p.first_pts)) > 1000000
                        for a, b in zip(mm_pts, p_pts))):
                    pts_mismatch += 1
        for s, cache in zip(starts, caches):
            t['win_warm'].append(timed(mm.window, cache, s)[0])
        # the same windows one after the other on one new cache, the
        # frames of each held until the next came (a random reader): the
        # first starts a pipeline, the others seek it
        cache = mm.fresh_cache()
        held = None
        for i, s in enumerate(starts):
            dt, f = timed(mm.window_frames, cache, s)
            if i > 0:
                t['win_next'].append(dt)
            held = f
        del held, f
        mm.drop_caches()

    med = {k: statistics.median(v) for k, v in t.items() if v}
    print('%s: %d frames, GOP %d, BGR, %d rounds (windows: %d per round)' %
          (label, N_FRAMES, GOP, ROUNDS, WINDOWS))
    print('%s: gst-memmap whole cold %s, warm %s, chunked cold %s' %
          (label, fmt(t['cold']), fmt(t['warm']), fmt(t['chunked'])))
    print('%s: gst-memmap 8-frame window cold %s, warm %s, cold on a clip '
          'already open %s' % (label, fmt(t['win_cold']), fmt(t['win_warm']),
                               fmt(t['win_next'])))
    for p in peers:
        print('%s: %s whole %s, 8-frame window %s' %
              (label, p.name, fmt(t[p.name + ' whole']),
               fmt(t[p.name + ' window'])))
    if av:
        print('%s: window pts that differ between PyAV and gst-memmap: %d '
              'of %d windows' % (label, pts_mismatch, ROUNDS * WINDOWS))
    parts = ['chunked/whole cold %.2fx [<=1.15]' %
             (med['chunked'] / med['cold'])]
    for p in peers:
        parts.append('cold window %.2fx %s [<=1]' %
                     (med['win_cold'] / med[p.name + ' window'], p.name)
                     if isinstance(p, PyAV) else
                     'cold window %.2fx %s' %
                     (med['win_cold'] / med[p.name + ' window'], p.name))
        parts.append('warm window %.3fx %s' %
                     (med['win_warm'] / med[p.name + ' window'], p.name))
        parts.append('next cold window %.2fx %s' %
                     (med['win_next'] / med[p.name + ' window'], p.name))
        parts.append('whole cold %.2fx / warm %.3fx / chunked %.2fx %s' %
                     (med['cold'] / med[p.name + ' whole'],
                      med['warm'] / med[p.name + ' whole'],
                      med['chunked'] / med[p.name + ' whole'], p.name))
    return '%s: %s' % (label, ', '.join(parts))


def main():
    Gst.init(None)
    GstMemmap.init()
    if av is None:
        print('SKIPPED peer PyAV: python3-av is not installed (%s)' % AV_WHY)
    if cv2 is None:
        print('SKIPPED peer OpenCV: python3-opencv is not installed (%s)' %
              CV_WHY)
    base = os.environ.get('MEMMAP_BUILD_ROOT') or None
    tmp = tempfile.mkdtemp(prefix='bench-frames-', dir=base)
    try:
        lines = [bench_size(w, h, tmp) for w, h in SIZES]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print('frames (times are ratios of gst-memmap to the peer): ' +
          '; '.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
