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
    from gi.repository import Gst
except (ImportError, ValueError) as e:
    print('skipping: %s' % e)
    sys.exit(77)

import oracle_clips  # noqa: E402
import oracle_runner as orr  # noqa: E402

STATES = ('empty', 'partial', 'holed', 'complete')
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
            convert=None):
    """Runs @ops in a new pipeline; returns (video sections, audio
    generations, warnings, memmapcache stats)."""
    run = orr.Run(uri, cache_dir, has_audio, sync, convert)
    try:
        for i, op in enumerate(ops):
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
        if has_audio and run.rec.ended:
            # the video is at its end: let the audio branch finish too
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with run.rec.cond:
                    if run.rec.audio[-1] and run.rec.audio[-1][-1] == ('eos',):
                        break
                time.sleep(0.02)
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
    """What one comparison found."""

    def __init__(self):
        self.frames = 0         # oracle video buffers compared
        self.frames_differ = 0
        self.audio = 0
        self.audio_differ = 0
        self.first = None       # text of the first difference

    def note(self, text):
        if self.first is None:
            self.first = text

    @property
    def differs(self):
        return self.first is not None


def window(recs, j):
    return '\n'.join('      [%d] %s' % (k, orr.describe(recs[k]))
                     for k in range(max(0, j - 2), min(len(recs), j + 3)))


def compare_video(ops, oracle, test, d):
    for i, op in enumerate(ops):
        o = oracle[i] if i < len(oracle) else []
        t = test[i] if i < len(test) else []
        ob = [r for r in o if r[0] == 'buffer']
        tb = [r for r in t if r[0] == 'buffer']
        d.frames += len(ob)
        d.frames_differ += sum(1 for a, b in zip(ob, tb) if a != b)
        d.frames_differ += abs(len(ob) - len(tb))
        if o == t:
            continue
        j = next((k for k, (a, b) in enumerate(zip(o, t)) if a != b),
                 min(len(o), len(t)))
        d.note('operation %d (%s), record %d:\n'
               '    oracle (%d records, %d frames):\n%s\n'
               '    memmapcache (%d records, %d frames):\n%s'
               % (i, op_text(op), j, len(o), len(ob),
                  window(o, j) or '      (nothing)', len(t), len(tb),
                  window(t, j) or '      (nothing)'))
    for i in range(len(ops), len(test)):
        if test[i]:
            d.note('records after the last operation: %s'
                   % orr.describe(test[i][0]))


def compare_audio(oracle, test, d):
    """Audio generations (one per flush) are compared as prefixes: how much
    arrived before a flush depends on timing, what arrived must be the
    same; a generation that ends with EOS in the oracle must be whole."""
    if len(oracle) != len(test):
        d.note('audio: %d flushes in the oracle, %d with memmapcache'
               % (len(oracle) - 1, len(test) - 1))
    for g, (o, t) in enumerate(zip(oracle, test)):
        k = min(len(o), len(t))
        d.audio += sum(1 for r in o[:k] if r[0] == 'buffer')
        bad = [j for j in range(k) if o[j] != t[j]]
        d.audio_differ += len(bad)
        if bad:
            j = bad[0]
            d.note('audio generation %d, record %d:\n    oracle:\n%s\n'
                   '    memmapcache:\n%s' % (g, j, window(o, j), window(t, j)))
        o_end = bool(o) and o[-1] == ('eos',)
        if o_end and len(t) != len(o):
            missing = sum(1 for r in o[k:] if r[0] == 'buffer')
            d.audio_differ += missing
            d.note('audio generation %d: the oracle ends with EOS after %d '
                   'records, memmapcache has %d' % (g, len(o), len(t)))


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


def worker(args):
    Gst.init(None)
    kind, uri, seed = args.kind, args.uri, args.seed
    has_audio = kind == 'av'
    info = json.loads(open(args.info).read())
    ops = gen_ops(kind, seed, info)
    out = {'kind': kind, 'seed': seed, 'ops': [op_text(o) for o in ops],
           'results': []}
    oracle = run_ops(uri, ops, None, has_audio)
    if args.determinism:
        again = run_ops(uri, ops, None, has_audio)
        d = Diff()
        compare_video(ops, oracle[0], again[0], d)
        compare_audio(oracle[1], again[1], d)
        out['deterministic'] = not d.differs
        out['determinism_diff'] = d.first
    for state in args.states.split(','):
        cache_dir = tempfile.mkdtemp(prefix='cache-%s-' % state,
                                     dir=args.tmp)
        pre = prepass_ops(state, seed, info)
        if pre:
            run_ops(uri, pre, cache_dir, has_audio)
        video, audio, warnings, stats = run_ops(uri, ops, cache_dir,
                                                has_audio)
        d = Diff()
        compare_video(ops, oracle[0], video, d)
        compare_audio(oracle[1], audio, d)
        out['results'].append({
            'state': state, 'frames': d.frames,
            'frames_differ': d.frames_differ, 'audio': d.audio,
            'audio_differ': d.audio_differ, 'first': d.first,
            'warnings': sorted(set(warnings)), 'stats': stats})
        shutil.rmtree(cache_dir, ignore_errors=True)
    print('RESULT ' + json.dumps(out))
    return 0


# ---------------------------------------------------------------------------
# the parent: clips, workers, totals

class Totals:
    def __init__(self):
        self.rows = {}          # (kind, state) -> counters
        self.firsts = []        # (kind, state, seed, text)
        self.failures = []      # harness-level failures

    def add(self, kind, state, seqs, frames, fdiff, audio, adiff,
            differs, seed, text):
        r = self.rows.setdefault((kind, state), [0, 0, 0, 0, 0, 0])
        for k, v in enumerate((seqs, frames, fdiff, audio, adiff,
                               1 if differs else 0)):
            r[k] += v
        if differs:
            self.firsts.append((kind, state, seed, text))

    def differences(self):
        return sum(r[5] for r in self.rows.values()) + len(self.failures)

    def print_table(self):
        print('\n%-12s %-9s %5s %7s %7s %7s %7s %6s'
              % ('clip', 'cache', 'seqs', 'frames', 'differ', 'audio',
                 'differ', 'seqs≠'))
        tot = [0] * 6
        for (kind, state), r in sorted(self.rows.items()):
            print('%-12s %-9s %5d %7d %7d %7d %7d %6d'
                  % ((kind, state) + tuple(r)))
            tot = [a + b for a, b in zip(tot, r)]
        print('%-12s %-9s %5d %7d %7d %7d %7d %6d'
              % (('total', '') + tuple(tot)))
        return tot


def spawn_worker(args, kind, path, info_path, seed, determinism):
    cmd = [sys.executable, os.path.abspath(__file__), '--worker',
           '--kind', kind, '--uri', oracle_clips.uri(path), '--seed',
           str(seed), '--info', info_path, '--states', args.states,
           '--tmp', args.tmp]
    if determinism:
        cmd.append('--determinism')
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=args.worker_timeout)
    except subprocess.TimeoutExpired:
        return None, 'hung: no result within %ds' % args.worker_timeout
    for line in p.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[7:]), None
    return None, ('crashed (exit status %d): %s'
                  % (p.returncode, p.stderr.strip()[-2000:]))


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
                                   info['interlaced'], info['audio']))
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
    ap.add_argument('--worker-timeout', type=int, default=300)
    ap.add_argument('--max-shown', type=int, default=12)
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
                res, err = spawn_worker(args, kind, path, info_path, seed,
                                        rounds == 0)
                if err:
                    for state in args.states.split(','):
                        totals.add(kind, state, 1, 0, 0, 0, 0, True, seed,
                                   'the worker ' + err)
                    continue
                if res.get('deterministic') is False:
                    totals.failures.append(
                        'the oracle is not deterministic on %s seed %d: %s'
                        % (kind, seed, res['determinism_diff']))
                for r in res['results']:
                    text = None
                    if r['first']:
                        text = ('sequence: %s\n  %s\n  warnings: %s'
                                % ('; '.join(res['ops']), r['first'],
                                   r['warnings'] or 'none'))
                    totals.add(kind, r['state'], 1, r['frames'],
                               r['frames_differ'], r['audio'],
                               r['audio_differ'], r['first'] is not None,
                               seed, text)
            seed += 1
            rounds += 1
        shown = 0
        for kind, state, s, text in totals.firsts:
            if shown >= args.max_shown:
                print('\n... and %d more differing sequences'
                      % (len(totals.firsts) - shown))
                break
            print('\nDIFFERENCE %s, %s cache, seed %d\n  %s'
                  % (kind, state, s, text))
            shown += 1
        for f in totals.failures:
            print('\nFAILURE %s' % f)
        tot = totals.print_table()
        print('oracle: %d sequences, %d frames, %d audio buffers compared; '
              '%d sequences differed (%d frames, %d audio buffers), '
              '%d harness failures; %d seeds in %.0f s'
              % (tot[0], tot[1], tot[3], tot[5], tot[2], tot[4],
                 len(totals.failures), rounds, time.monotonic() - t0))
    finally:
        if not args.keep:
            shutil.rmtree(args.tmp, ignore_errors=True)
        else:
            print('kept %s' % args.tmp)
    return 1 if totals.differences() else 0


if __name__ == '__main__':
    sys.exit(main())
