# SPDX-License-Identifier: LGPL-2.1-or-later
"""The same oracle for the other ways frames come out of a store
(cache_oracle.py): GstMemmap.map_video_frames() and `gst-memmap ingest` +
memmapsrc. Frame k of either must be the k-th frame the decoder outputs for
the stream played from its start (the oracle: uridecodebin ! appsink, with
videoconvert when a format is asked for), with its pts, duration, video
field flags and pixels.

Flags compared here are the per-frame video flags (INTERLACED, TFF, RFF,
ONEFIELD): a store keeps frames, not a flow, and DISCONT marks where a flow
jumps (memmapsrc sets it from its own seeks), not what a frame is.
"""

import os
import subprocess

from gi.repository import Gst

import oracle_runner as orr

FORMATS = (None, 'GRAY8')


def reference(uri, fmt, has_audio, cache):
    """The oracle's frames of the whole stream (cached per format)."""
    if fmt not in cache:
        run = orr.Run(uri, None, has_audio, convert=fmt)
        try:
            run.play(None, timeout=60)
        finally:
            run.stop()
        cache[fmt] = [r for r in run.rec.video[0] if r[0] == 'buffer']
    return cache[fmt]


def frame_record(buf, info):
    return ('buffer', buf.pts, buf.dts, buf.duration,
            int(buf.get_flags()) & orr.FLAG_MASK,
            orr.frame_checksum(buf, info))


def compare_frames(what, ref, start, got, expect, d):
    """@got: the frames read back for @expect frames from @start; @ref:
    the oracle's frames of the stream; notes kinds of difference in @d."""
    want = ref[start:start + expect]
    d.frames += len(want)
    for k, (a, b) in enumerate(zip(want, got)):
        kinds = []
        if a[1] != b[1]:
            kinds.append('pts')
        if a[3] != b[3]:
            kinds.append('duration')
        fa, fb = a[4] & orr.FIELD_FLAGS, b[4] & orr.FIELD_FLAGS
        if fa != fb:
            kinds.append('%s flag' % orr.flag_names(fa ^ fb,
                                                    orr.BUFFER_FLAG_NAMES))
        if a[5] != b[5]:
            kinds.append('pixels')
        if kinds:
            d.frames_differ += 1
        for kind in kinds:
            d.note(kind, '%s, frame %d (stream frame %d):\n    oracle: %s\n'
                   '    store:  %s' % (what, k, start + k, orr.describe(a),
                                       orr.describe(b)))
    if len(want) != len(got):
        d.frames_differ += abs(len(want) - len(got))
        d.note('missing frames' if len(got) < len(want) else 'extra frames',
               '%s: %d frames from the store, the oracle has %d from frame '
               '%d' % (what, len(got), len(want), start))


def random_range(rng, n):
    start = rng.choice((0, rng.randrange(0, n), n - 3, rng.randrange(0, n)))
    count = rng.choice((1, rng.randint(2, 40), n, n + 10))
    return max(0, start), count


def check_frames(path, uri, has_audio, seed_rng, cache_dir, refs, d):
    """Several map_video_frames_full() calls on one cache directory (the
    first decodes and records, later ones read the cache directly or
    complete it), each compared with the oracle."""
    import gi
    gi.require_version('GstMemmap', '1.0')
    from gi.repository import GstMemmap
    GstMemmap.init()
    engine = GstMemmap.Engine.get_default()
    for call in range(4):
        fmt = seed_rng.choice(FORMATS)
        ref = reference(uri, fmt, has_audio, refs)
        start, count = random_range(seed_rng, len(ref))
        what = ('map_video_frames call %d (start %d, count %d, format %s)'
                % (call, start, count, fmt or 'native'))
        try:
            frames = GstMemmap.map_video_frames_full(
                engine, path, start, count, fmt, cache_dir)
        except Exception as e:                  # GLib.Error
            d.note('error', '%s: %s' % (what, e))
            continue
        n = frames.get_n_frames()
        expect = max(0, min(count, len(ref) - start))
        if frames.is_clipped() != (start + count > len(ref)):
            d.note('clipped', '%s: is_clipped() %s, the stream has %d frames'
                   % (what, frames.is_clipped(), len(ref)))
        info = frames.get_video_info()
        got = [frame_record(frames.get_buffer(i), info) for i in range(n)]
        compare_frames(what, ref, start, got, expect, d)
        del frames


def check_ingest(tool, path, uri, has_audio, seed_rng, tmp, refs, d):
    """`gst-memmap ingest` of a range into a store, played back with
    memmapsrc, compared with the oracle."""
    for call in range(2):
        fmt = seed_rng.choice(FORMATS)
        ref = reference(uri, fmt, has_audio, refs)
        start, count = random_range(seed_rng, len(ref))
        store = os.path.join(tmp, 'ingest-%d.store' % call)
        cmd = [tool, 'ingest', path, '-o', store, '--start', str(start),
               '--count', str(count)] + (['--format', fmt] if fmt else [])
        what = 'gst-memmap ingest --start %d --count %d%s' % (
            start, count, ' --format ' + fmt if fmt else '')
        env = dict(os.environ)
        env.pop('GST_DEBUG', None)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=120)
        expect = max(0, min(count, len(ref) - start))
        if p.returncode != 0:
            d.note('error', '%s: exit status %d: %s'
                   % (what, p.returncode, p.stderr.strip()[-500:]))
            d.frames += expect
            d.frames_differ += expect
            continue
        got = play_store(store)
        compare_frames(what + ' + memmapsrc', ref, start, got, expect, d)
        os.unlink(store)


def play_store(store):
    """Every frame memmapsrc plays from @store, as records."""
    pipeline = Gst.parse_launch('memmapsrc name=src ! appsink name=sink '
                                'sync=false')
    pipeline.get_by_name('src').set_property('location', store)
    sink = pipeline.get_by_name('sink')
    pipeline.set_state(Gst.State.PLAYING)
    got = []
    try:
        while True:
            sample = sink.emit('try-pull-sample', 20 * Gst.SECOND)
            if sample is None:
                break
            info = orr.GstVideo.VideoInfo.new_from_caps(sample.get_caps())
            got.append(frame_record(sample.get_buffer(), info))
        msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
        if msg is not None:
            got.append(('error', msg.parse_error()[0].message))
    finally:
        pipeline.set_state(Gst.State.NULL)
    return got
