#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The differential harness of memmapcache (issue 11): the pipeline without
memmapcache is the oracle.

For clips it makes itself (oracle_clips.py: x264 B-frames in MP4 and
Matroska, variable frame rate under 30/1 and 0/1 caps, interlaced H.264,
video + audio), it runs seeded random sequences of operations (plays of N
frames, flushing seeks in TIME and DEFAULT formats with or without
ACCURATE / KEY_UNIT / SNAP_*, rates 1, 2, -1, -2, segment seeks, seeks to
and past the end) through

    uridecodebin ! memmapcache cache-dir=D ! appsink     (audio: appsink)

on an empty, a partial, a holed and a complete cache, and through the same
pipeline without memmapcache, and compares every video buffer (pts, dts,
duration, flags, checksum of the visible planes), every serialized event
(segments, EOS, SEGMENT_DONE, caps) and every audio buffer
(oracle_runner.py says how the runs are made deterministic). The same
oracle checks GstMemmap.map_video_frames() and `gst-memmap ingest` +
memmapsrc (oracle_stores.py).

Usage:
  cache_oracle.py [--tool GST_MEMMAP] [--seeds N] [--first-seed S]
                  [--seconds T] [--clips a,b] [--states a,b] [--keep]

--seeds N runs seeds S..S+N-1 of every clip (meson test); --seconds T loops
seeds until T seconds have passed (the long lane of .ci/run). Every
(clip, seed) runs in its own process (a crash or a hang of the pipeline
under test is a difference, not the end of the harness). Exit status 0 when
no difference was found, 1 otherwise, 77 when GI or x264enc is missing.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# the leaks tracer reports what Python holds at exit: not this test's
# subject (the gst-check tests run with it)
for var in ('GST_TRACERS',):
    os.environ.pop(var, None)

try:
    import gi
    gi.require_version('Gst', '1.0')
    gi.require_version('GstVideo', '1.0')
    from gi.repository import GLib, Gst
except (ImportError, ValueError) as e:
    print('skipping: %s' % e)
    sys.exit(77)

import oracle_clips  # noqa: E402
import oracle_runner as orr  # noqa: E402
from oracle_report import Totals  # noqa: E402

STATES = ('empty', 'partial', 'holed', 'complete', 'realtime', 'frames',
          'ingest')
TIME, DEFAULT = Gst.Format.TIME, Gst.Format.DEFAULT
SF = Gst.SeekFlags
FLAG_CHOICES = [
    ('none', 0), ('ACCURATE', SF.ACCURATE), ('KEY_UNIT', SF.KEY_UNIT),
    ('KEY_UNIT|SNAP_BEFORE', SF.KEY_UNIT | SF.SNAP_BEFORE),
    ('KEY_UNIT|SNAP_AFTER', SF.KEY_UNIT | SF.SNAP_AFTER),
    ('KEY_UNIT|SNAP_NEAREST', SF.KEY_UNIT | SF.SNAP_NEAREST),
    ('KEY_UNIT|ACCURATE', SF.KEY_UNIT | SF.ACCURATE),
]


# ---------------------------------------------------------------------------
# sequences

def gen_seek(rng, info):
    """A random flushing seek and the frames to play after it."""
    n, pts, end = info['frames'], info['pts'], info['end']
    rate = rng.choice((1.0, 1.0, 1.0, 1.0, 2.0, -1.0, -2.0))
    fname, flags = rng.choice(FLAG_CHOICES)
    flags = int(SF.FLUSH | flags)
    if rng.random() < 0.2:
        flags |= int(SF.SEGMENT)
    if rng.random() < 0.25:
        fmt = 'default'
        unit, t = 1, rng.choice((rng.randrange(0, n + 4), 0, n - 1, n))
        span = rng.randint(3, 30)
    else:
        fmt = 'time'
        unit = Gst.SECOND // 30
        k = rng.randrange(0, n)
        t = rng.choice((pts[k], pts[k] + unit // 2, rng.randrange(0, end),
                        0, end, end + Gst.SECOND // 2, pts[-1]))
        span = rng.randint(3, 30) * unit
    if rate > 0:
        start = t
        stop = (t + span if rng.random() <
                (0.6 if flags & int(SF.SEGMENT) else 0.25) else None)
    else:
        stop = t if t > 0 else (n if fmt == 'default' else end)
        start = max(0, stop - span) if rng.random() < 0.3 else 0
    play = None if rng.random() < 0.2 else rng.randint(1, 30)
    return ('seek', rate, fmt, flags, start, stop, play)


def gen_ops(kind, seed, info):
    rng = random.Random('%s/%d' % (kind, seed))
    ops = [('play', rng.randint(1, 25))]
    for _ in range(rng.randint(3, 7)):
        r = rng.random()
        if r < 0.12:
            ops.append(('play', rng.randint(1, 30)))
        elif r < 0.18:
            ops.append(('play', None))
        else:
            ops.append(gen_seek(rng, info))
    return ops


def prepass_ops(state, seed, info):
    """The operations that leave the cache @state (on an empty cache)."""
    n, pts = info['frames'], info['pts']
    rng = random.Random(seed * 7919 + 1)
    acc = int(SF.FLUSH | SF.ACCURATE)
    if state == 'partial':
        return [('play', rng.randint(max(1, n // 4), max(2, 3 * n // 4)))]
    if state == 'holed':
        return [('play', 8), ('seek', 1.0, 'time', acc, pts[2 * n // 3],
                              None, 6),
                ('seek', 1.0, 'time', acc, pts[n // 3], None, 5)]
    if state == 'complete':
        return [('play', None)]
    return []


def op_text(op):
    if op[0] == 'play':
        return 'play %s' % ('to the end' if op[1] is None else
                            '%d frames' % op[1])
    _, rate, fmt, flags, start, stop, play = op
    u = orr.ts if fmt == 'time' else str
    return ('seek rate %g %s %s start %s stop %s, then play %s'
            % (rate, fmt.upper(), orr.flag_names(flags, orr.SEEK_FLAG_NAMES),
               u(start), 'none' if stop is None else u(stop),
               'to the end' if play is None else '%d frames' % play))


def run_ops(uri, ops, cache_dir=None, has_audio=False, sync=False,
            convert=None, progress=None):
    """Runs @ops in a new pipeline; returns (video sections, audio
    generations, warnings, memmapcache stats)."""
    run = orr.Run(uri, cache_dir, has_audio, sync, convert)
    try:
        for i, op in enumerate(ops):
            if progress:
                progress(i)
            if i > 0:
                run.rec.new_section()
            if op[0] == 'play':
                ok = run.play(op[1])
            else:
                _, rate, fmt, flags, start, stop, play = op
                ok = run.seek(rate, TIME if fmt == 'time' else DEFAULT,
                              Gst.SeekFlags(flags), start, stop)
                ok = ok and run.play(play)
            if not ok or run.errors:
                break
            run.wait_audio()
    finally:
        stats = run.stop()
    if run.rec.exceptions:
        # a bug of the harness, never a difference: stop loudly
        sys.stderr.write('harness error in a pad probe:\n%s'
                         % run.rec.exceptions[0])
        sys.exit(3)
    return run.rec.video, run.rec.audio, run.warnings, stats


# ---------------------------------------------------------------------------
# comparison

class Diff:
    """What one comparison found: counts, and per kind of difference
    ('pts', 'DISCONT flag', 'segment', 'missing frames', ...) the text of
    its first example."""

    def __init__(self):
        self.frames = 0         # oracle video buffers compared
        self.frames_differ = 0
        self.audio = 0
        self.audio_differ = 0
        self.kinds = {}         # kind -> text of its first example

    def note(self, kind, text):
        self.kinds.setdefault(kind, text)

    @property
    def differs(self):
        return bool(self.kinds)

    @property
    def first(self):
        return next(iter(self.kinds.values()), None)


def window(recs, j):
    return '\n'.join('      [%d] %s' % (k, orr.describe(recs[k]))
                     for k in range(max(0, j - 2), min(len(recs), j + 3)))


def _where(what, o, t, jo, jt):
    return ('%s:\n    oracle (%d records, %d frames):\n%s\n'
            '    memmapcache (%d records, %d frames):\n%s'
            % (what, len(o), sum(1 for r in o if r[0] == 'buffer'),
               window(o, jo) or '      (nothing)', len(t),
               sum(1 for r in t if r[0] == 'buffer'),
               window(t, jt) or '      (nothing)'))


def buffer_kinds(a, b):
    """The kinds of difference between two buffer records."""
    kinds = []
    for idx, name in ((1, 'pts'), (2, 'dts'), (3, 'duration')):
        if a[idx] != b[idx]:
            kinds.append(name)
    if a[4] != b[4]:
        kinds.append('%s flag' % orr.flag_names(a[4] ^ b[4],
                                                orr.BUFFER_FLAG_NAMES))
    if a[5] != b[5]:
        kinds.append('pixels')
    return kinds


def compare_section(what, o, t, d, name='memmapcache'):
    """Compares the records of one operation; notes every kind of
    difference, each with the place it first shows."""
    if o == t:
        return
    if (any(r[0] in ('eos', 'segment-done') for r in o) and
            not any(r[0] == 'buffer' for r in o)):
        # a seek to the end: no frame, EOS or SEGMENT_DONE. GStreamer 1.22
        # forwards the new (empty) segment before it or not, depending on
        # timing (1 run in 9 of the same pipeline without memmapcache had
        # it): segments are not compared there
        o = [r for r in o if r[0] != 'segment']
        t = [r for r in t if r[0] != 'segment']
        if o == t:
            return
    oi = [j for j, r in enumerate(o) if r[0] == 'buffer']
    ti = [j for j, r in enumerate(t) if r[0] == 'buffer']
    for k, (jo, jt) in enumerate(zip(oi, ti)):
        for kind in buffer_kinds(o[jo], t[jt]):
            d.note(kind, _where('%s, frame %d' % (what, k), o, t, jo, jt))
    if len(oi) != len(ti):
        k = min(len(oi), len(ti))
        jo = oi[k] if k < len(oi) else len(o)
        jt = ti[k] if k < len(ti) else len(t)
        d.note('missing frames' if len(ti) < len(oi) else 'extra frames',
               _where('%s, frame %d' % (what, k), o, t, jo, jt))
    for kind in ('segment', 'eos', 'segment-done', 'caps', 'stream-start',
                 'flush-stop', 'seek-result', 'gap', 'error', 'stall'):
        oe = [j for j, r in enumerate(o) if r[0] == kind]
        te = [j for j, r in enumerate(t) if r[0] == kind]
        if [o[j] for j in oe] != [t[j] for j in te]:
            k = next((k for k, (x, y) in enumerate(zip(oe, te))
                      if o[x] != t[y]), min(len(oe), len(te)))
            # where the k-th one is, or would be: after the last one
            jo = oe[k] if k < len(oe) else (oe[-1] + 1 if oe else 0)
            jt = te[k] if k < len(te) else (te[-1] + 1 if te else 0)
            d.note(kind, _where(what, o, t, jo, jt))
    if not d.differs:
        # the same records, in another order (data before a segment...)
        j = next((k for k, (a, b) in enumerate(zip(o, t)) if a != b), 0)
        d.note('order', _where(what, o, t, j, j))


def compare_video(ops, oracle, test, d):
    for i, op in enumerate(ops):
        o = oracle[i] if i < len(oracle) else []
        t = test[i] if i < len(test) else []
        ob = [r for r in o if r[0] == 'buffer']
        tb = [r for r in t if r[0] == 'buffer']
        d.frames += len(ob)
        d.frames_differ += sum(1 for a, b in zip(ob, tb) if a != b)
        d.frames_differ += abs(len(ob) - len(tb))
        compare_section('operation %d (%s)' % (i, op_text(op)), o, t, d)
    for i in range(len(ops), len(test)):
        if test[i]:
            d.note('after the end', 'records after the last operation: %s'
                   % orr.describe(test[i][0]))


def same_audio(a, b, gen, before):
    """Two audio records are the same. The samples of some buffers are not
    compared, only their timestamps and flags, since the pipeline without
    memmapcache does not give the same twice: the first buffer after a
    flush (AAC decoding after a flushing seek: once in about 4000 buffers,
    with identity in place of memmapcache), and every buffer of reverse
    playback (the decoder decodes it in chunks whose edges vary)."""
    if a == b:
        return True
    if a[0] != 'buffer' or b[0] != 'buffer' or a[:5] != b[:5]:
        return False
    first = gen > 0 and not any(r[0] == 'buffer' for r in before)
    reverse = any(r[0] == 'segment' and r[2] < 0 for r in before)
    return first or reverse


def compare_audio(oracle, test, d):
    """Audio generations (one per flush) are compared as prefixes: how much
    arrived before a flush depends on timing, what arrived must be the
    same. A generation the harness waited for (the video had reached its
    end: ('waited',)) must be whole where the oracle's ended."""
    ends = (('eos',), ('segment-done',))
    if len(oracle) != len(test):
        d.note('audio flushes', 'audio: %d flushes in the oracle, %d with '
               'memmapcache' % (len(oracle) - 1, len(test) - 1))
    for g, (o, t) in enumerate(zip(oracle, test)):
        waited = ('waited',) in t
        o = [r for r in o if r != ('waited',)]
        t = [r for r in t if r != ('waited',)]
        k = min(len(o), len(t))
        d.audio += sum(1 for r in o[:k] if r[0] == 'buffer')
        bad = [j for j in range(k) if not same_audio(o[j], t[j], g, o[:j])]
        d.audio_differ += len(bad)
        if bad:
            j = bad[0]
            d.note('audio buffers', 'audio generation %d, record %d:\n'
                   '    oracle:\n%s\n    memmapcache:\n%s'
                   % (g, j, window(o, j), window(t, j)))
        if waited and o and o[-1] in ends and len(t) != len(o):
            missing = sum(1 for r in o[k:] if r[0] == 'buffer')
            d.audio_differ += missing
            d.note('audio cut', 'audio generation %d: the oracle ends with '
                   '%s after %d records, memmapcache (waited for) has %d%s'
                   % (g, o[-1][0], len(o), len(t),
                      (', ending with:\n' + window(t, len(t) - 1))
                      if t else ''))


# ---------------------------------------------------------------------------
# worker: one (clip, seed) in its own process

def clip_info(uri, has_audio):
    video, audio, _, _ = run_ops(uri, [('play', None)], None, has_audio)
    bufs = [r for r in video[0] if r[0] == 'buffer']
    last = bufs[-1]
    return {
        'frames': len(bufs),
        'pts': [r[1] for r in bufs],
        'end': last[1] + (last[3] if last[3] != Gst.CLOCK_TIME_NONE else 0),
        'interlaced': sum(1 for r in bufs
                          if r[4] & int(orr.FIELD_FLAGS)),
        'audio': sum(1 for g in audio for r in g if r[0] == 'buffer'),
    }


def first_undefined(sections):
    """The first operation whose outcome the oracle does not define: it
    stalled, or it refused a flushing seek (what a pipeline does after a
    refused flushing seek, having flushed or not, depends on timing: seen
    on interlaced H.264 in MP4, decoding resumes at a random place with
    CORRUPTED frames). Returns (index, why) or None."""
    for i, sec in enumerate(sections):
        if any(r[0] == 'stall' for r in sec):
            return i, 'stalled'
        if ('seek-result', False) in sec:
            return i, 'refused the seek'
    return None


def emit(tag, obj):
    """One line of the worker's answer (the parent reads them as they
    come: a worker that hangs or crashes still gave what it finished)."""
    sys.stdout.write('%s %s\n' % (tag, json.dumps(obj)))
    sys.stdout.flush()


def store_state(args, state, info, has_audio):
    """The map_video_frames or the ingest + memmapsrc oracle of one seed."""
    import oracle_stores
    rng = random.Random('%s/%d/%s' % (args.kind, args.seed, state))
    d = Diff()
    refs = {}
    path = GLib.filename_from_uri(args.uri)[0]
    if state == 'frames':
        try:
            gi.require_version('GstMemmap', '1.0')
        except ValueError as e:
            return {'state': state, 'skipped': 'no GstMemmap typelib '
                    '(GI_TYPELIB_PATH): %s' % e}
        cache_dir = tempfile.mkdtemp(prefix='frames-', dir=args.tmp)
        oracle_stores.check_frames(path, args.uri, has_audio, rng,
                                   cache_dir, refs, d)
        shutil.rmtree(cache_dir, ignore_errors=True)
    else:
        if not args.tool:
            return {'state': state, 'skipped': 'no --tool (gst-memmap)'}
        oracle_stores.check_ingest(args.tool, path, args.uri, has_audio,
                                   rng, args.tmp, refs, d)
    return {'state': state, 'frames': d.frames,
            'frames_differ': d.frames_differ, 'audio': 0,
            'audio_differ': 0, 'kinds': d.kinds}


def worker(args):
    Gst.init(None)
    orr.ELEMENT = args.element
    kind, uri, seed = args.kind, args.uri, args.seed
    has_audio = kind == 'av'
    info = json.loads(open(args.info).read())
    ops = gen_ops(kind, seed, info)
    head = {'ops': [op_text(o) for o in ops]}
    emit('AT', 'the oracle')
    oracle = run_ops(uri, ops, None, has_audio)
    # an operation the pipeline without memmapcache does not define
    # (GStreamer 1.22's demuxers refuse some seeks, after reverse playback,
    # on interlaced H.264, past the end, sometimes having flushed) has no
    # reference: it is dropped from the sequence (the rest is another
    # valid sequence), at most 4 times, then the sequence is cut there
    dropped = []
    for attempt in range(5):
        undefined = first_undefined(oracle[0])
        if undefined is None:
            break
        i, why = undefined
        dropped.append('operation %d (%s): the oracle %s'
                       % (i, op_text(ops[i]), why))
        ops = ops[:i] + (ops[i + 1:] if attempt < 4 else [])
        oracle = run_ops(uri, ops, None, has_audio)
    if dropped:
        head['cut'] = '; '.join(dropped)
    head['ops'] = [op_text(o) for o in ops]
    if args.determinism:
        emit('AT', 'the oracle, again')
        again = run_ops(uri, ops, None, has_audio)
        d = Diff()
        compare_video(ops, oracle[0], again[0], d)
        compare_audio(oracle[1], again[1], d)
        head['deterministic'] = not d.differs
        head['determinism_diff'] = d.first
    emit('HEAD', head)
    for state in args.states.split(','):
        if state in ('frames', 'ingest'):
            emit('AT', state)
            emit('STATE', store_state(args, state, info, has_audio))
            continue
        if state == 'realtime' and not has_audio:
            continue            # the real-time pass is about other branches
        cache_dir = tempfile.mkdtemp(prefix='cache-%s-' % state,
                                     dir=args.tmp)
        if state == 'realtime':
            # at real time (sync=true), the whole clip on a partial cache:
            # the audio branch must have no gap and no cut
            seq, sync, pre = [('play', None)], True, prepass_ops(
                'partial', seed, info)
            ref = run_ops(uri, seq, None, has_audio, sync=True)
        else:
            seq, sync, ref = ops, False, oracle
            pre = prepass_ops(state, seed, info)
        if pre:
            emit('AT', '%s cache: making it (%s)'
                 % (state, '; '.join(op_text(o) for o in pre)))
            run_ops(uri, pre, cache_dir, has_audio)
        emit('AT', '%s cache: the sequence' % state)
        video, audio, warnings, stats = run_ops(
            uri, seq, cache_dir, has_audio, sync=sync,
            progress=lambda i: emit('AT', '%s cache: operation %d (%s)'
                                    % (state, i, op_text(seq[i]))))
        d = Diff()
        compare_video(seq, ref[0], video, d)
        compare_audio(ref[1], audio, d)
        emit('STATE', {
            'state': state, 'frames': d.frames,
            'frames_differ': d.frames_differ, 'audio': d.audio,
            'audio_differ': d.audio_differ, 'kinds': d.kinds,
            'warnings': sorted(set(warnings)), 'stats': stats,
            'ops': [op_text(o) for o in seq]})
        shutil.rmtree(cache_dir, ignore_errors=True)
    emit('DONE', None)
    return 0


# ---------------------------------------------------------------------------
# the parent: clips, workers, totals

def spawn_worker(args, kind, path, info_path, seed, determinism):
    """Runs one (clip, seed) in a worker process; returns (head, states,
    error): what it finished, and why it did not finish."""
    cmd = [sys.executable, os.path.abspath(__file__), '--worker',
           '--kind', kind, '--uri', oracle_clips.uri(path), '--seed',
           str(seed), '--info', info_path, '--states', args.states,
           '--tmp', args.tmp, '--element', args.element] + (
               ['--tool', args.tool] if args.tool else [])
    if determinism:
        cmd.append('--determinism')
    errpath = os.path.join(args.tmp, 'worker.err')
    with open(errpath, 'w') as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                             text=True)
        try:
            out, _ = p.communicate(timeout=args.worker_timeout)
            error = None
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            error = 'hung (killed after %ds)' % args.worker_timeout
    head, states, at, done = None, [], None, False
    for line in out.splitlines():
        tag, _, rest = line.partition(' ')
        if tag == 'HEAD':
            head = json.loads(rest)
        elif tag == 'STATE':
            states.append(json.loads(rest))
        elif tag == 'AT':
            at = json.loads(rest)
        elif tag == 'DONE':
            done = True
    if not done and error is None:
        with open(errpath) as f:
            tail = f.read()[-1500:]
        error = 'crashed (exit status %d); stderr ends:\n%s' % (
            p.returncode, tail)
    if error:
        error += '\n  at: %s' % at
    return head, states, error

def collect(totals, args, kind, seed, head, states, err):
    """Adds what one worker found to @totals and prints its line."""
    if head and head.get('deterministic') is False:
        totals.failures.append(
            'the oracle is not deterministic on %s seed %d: %s'
            % (kind, seed, head['determinism_diff']))
    seqtext = '; '.join(head['ops']) if head else '?'
    if head and head.get('cut'):
        totals.cuts.append('%s seed %d: %s'
                           % (kind, seed, head['cut']))
    for r in states:
        if r.get('skipped'):
            totals.skips.add('%s: %s' % (r['state'],
                                         r['skipped']))
            continue
        totals.add(kind, r['state'], seed,
                   '; '.join(r['ops']) if 'ops' in r else seqtext,
                   r)
    print('seed %d %-12s %s%s%s' % (
        seed, kind, ', '.join(
            '%s %s' % (r['state'], 'skipped' if r.get('skipped')
                       else ('%d≠' % len(r['kinds'])
                             if r['kinds'] else 'ok'))
            for r in states),
        ' (cut: %s)' % head['cut'] if head and head.get('cut')
        else '', ' WORKER %s' % err.splitlines()[0]
        if err else ''), flush=True)
    if err:
        done = {r['state'] for r in states}
        missing = [st for st in args.states.split(',')
                   if st not in done and
                   (st != 'realtime' or kind == 'av')] or ['?']
        totals.add(kind, missing[0], seed, seqtext,
                   {'kinds': {'worker': 'the worker ' + err}})


def prepare_clips(args):
    """Makes the clips and measures each with the oracle (frames, pts)."""
    clips = {}
    for kind in args.clips.split(','):
        path = oracle_clips.make_clip(kind, args.tmp)
        info = clip_info(oracle_clips.uri(path), kind == 'av')
        info_path = path + '.json'
        with open(info_path, 'w') as f:
            json.dump(info, f)
        print('clip %-12s %-36s %3d frames, %s s, %d interlaced, '
              '%d audio buffers' % (kind, oracle_clips.KINDS[kind][0],
                                   info['frames'], orr.ts(info['end']),
                                   info['interlaced'], info['audio']),
              flush=True)
        clips[kind] = (path, info_path, info)
    return clips


def check_clips(clips, totals):
    """The clips are what they claim to be (else the harness proves
    nothing)."""
    for kind, (_, _, info) in clips.items():
        if info['frames'] < 30:
            totals.failures.append('clip %s: only %d frames'
                                   % (kind, info['frames']))
        if kind == 'interlaced' and info['interlaced'] == 0:
            totals.failures.append('clip interlaced: the decoder flags no '
                                   'frame INTERLACED')
        if kind == 'av' and info['audio'] == 0:
            totals.failures.append('clip av: no audio buffer')
        if kind.startswith('vfr'):
            p = info['pts']
            steps = {b - a for a, b in zip(p, p[1:])}
            if len(steps) < 3:
                totals.failures.append('clip %s: not variable (%d distinct '
                                       'frame steps)' % (kind, len(steps)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tool')
    ap.add_argument('--seeds', type=int, default=2)
    ap.add_argument('--first-seed', type=int, default=1)
    ap.add_argument('--seconds', type=float, default=0)
    ap.add_argument('--clips', default=','.join(oracle_clips.KINDS))
    ap.add_argument('--states', default=','.join(STATES))
    ap.add_argument('--keep', action='store_true')
    # every sequence runs twice without memmapcache (the oracle must be
    # deterministic, else its differences are noise); this skips that
    ap.add_argument('--trust-oracle', action='store_true')
    # the element under test (a check of the harness: 'identity' must
    # give 0 differences)
    ap.add_argument('--element', default='memmapcache')
    ap.add_argument('--worker-timeout', type=int, default=150)
    ap.add_argument('--max-shown', type=int, default=100)
    # internal: one worker
    ap.add_argument('--worker', action='store_true')
    ap.add_argument('--kind')
    ap.add_argument('--uri')
    ap.add_argument('--seed', type=int)
    ap.add_argument('--info')
    ap.add_argument('--tmp')
    ap.add_argument('--determinism', action='store_true')
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    Gst.init(None)
    if Gst.ElementFactory.find('x264enc') is None:
        print('skipping: x264enc is missing')
        return 77
    args.tmp = tempfile.mkdtemp(prefix='gst-memmap-oracle-')
    t0 = time.monotonic()
    totals = Totals()
    try:
        clips = prepare_clips(args)
        check_clips(clips, totals)
        seed = args.first_seed
        rounds = 0
        while True:
            if args.seconds:
                if time.monotonic() - t0 > args.seconds:
                    break
            elif rounds >= args.seeds:
                break
            for kind, (path, info_path, _) in clips.items():
                if args.seconds and time.monotonic() - t0 > args.seconds:
                    break
                head, states, err = spawn_worker(args, kind, path, info_path,
                                                 seed, not args.trust_oracle)
                collect(totals, args, kind, seed, head, states, err)
            seed += 1
            rounds += 1
        totals.print_kinds(args.max_shown)
        for f in totals.failures:
            print('\nFAILURE %s' % f)
        for sk in sorted(totals.skips):
            print('\nSKIPPED %s' % sk)
        if totals.cuts:
            print('\n%d sequences lost operations that the pipeline '
                  'without memmapcache itself does not finish or refuses '
                  '(no reference there):'
                  % len(totals.cuts))
            for c in totals.cuts:
                print('  ' + c)
        tot = totals.print_table()
        print('oracle: %d sequences, %d frames, %d audio buffers compared; '
              '%d sequences differed (%d frames, %d audio buffers), '
              '%d harness failures; %d seeds in %.0f s'
              % (tot[0], tot[1], tot[3], tot[6], tot[2], tot[4],
                 len(totals.failures), rounds, time.monotonic() - t0))
    finally:
        if not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)
        else:
            print('kept %s' % args.tmp)
    return 1 if totals.differences() else 0


if __name__ == '__main__':
    sys.exit(main())
