#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The long lane (docs/reliability.md, "Long lane"): the outside attack's
kinds of issue 12 as generators, each for its share of a time budget.

  flips     single-byte flips (XOR 0xff) of a small append and a small ring
            store (every byte of the header page, of the committed index
            entries and the first byte of every slot page, in a seeded
            random order) through gst-memmap verify, gst-memmap info and
            memmapsrc: no signal, no hang, and what verify accepts
            memmapsrc plays to its end, every frame verify counted
  truncate  live writers and readers with the store cut to 0, 1, 2048 bytes
            and every page boundary below its size at the cut: memmapsink
            (append, ring) with memmapsrc follow=true, memmapcache serving
            a cached store and memmapcache recording: the writer and the
            reader fail saying "truncated" (memmapcache warns and plays
            on), the store is left damaged, and no process dies of a
            signal
  kill9     memmapsink and memmapcache pipelines killed with SIGKILL at
            random moments: every store left verifies and every committed
            frame equals the reference recording's frame, word by word
  ring8     one ring writer with 8 following memmapsrc readers
            (elements_memmapsrc test_ring_stress, MEMMAP_STRESS_READERS=8)

Usage: long_lanes.py [--build DIR] [--seconds TOTAL] [--seed N] [GEN...]
Prints one line per generator, 'long GEN: N runs, N frames checked, N
failures (...)', and the failures; exit status 1 if any. TOTAL (default
MEMMAP_LONG_SECONDS or 240) is shared by the generators run, in the
proportions of SHARE.
"""

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(SRC, 'gst', 'python'))
import gstmemmap_numpy as gmn  # noqa: E402

SHARE = {'flips': 0.30, 'truncate': 0.30, 'kill9': 0.25, 'ring8': 0.15}
P = 4096
SIGNALS = {-s: n for n, s in signal.__dict__.items()
           if n.startswith('SIG') and not n.startswith('SIG_')
           and isinstance(s, int)}


class Gen:
    def __init__(self, name, seconds):
        self.name = name
        self.deadline = time.monotonic() + seconds
        self.runs = 0
        self.frames = 0
        self.failures = []
        self.notes = []

    def time_left(self):
        return self.deadline - time.monotonic()

    def fail(self, what):
        self.failures.append(what)
        print('long %s: FAILURE: %s' % (self.name, what), flush=True)

    def report(self):
        print('long %s: %d runs, %d frames checked, %d failures%s'
              % (self.name, self.runs, self.frames, len(self.failures),
                 (' (' + '; '.join(self.notes) + ')') if self.notes else ''),
              flush=True)


def env():
    e = dict(os.environ)
    for var in ('GST_DEBUG', 'GST_TRACERS', 'G_DEBUG'):
        e.pop(var, None)
    e['GST_PLUGIN_PATH_1_0'] = os.path.join(BUILD, 'plugin')
    e['LD_LIBRARY_PATH'] = os.path.join(BUILD, 'gst', 'memmap')
    return e


def run(argv, timeout=30):
    """(exit status, output); None on a timeout (the process is killed)."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, env=ENV)
    except subprocess.TimeoutExpired:
        return None, 'timed out after %d s' % timeout
    return p.returncode, p.stdout + p.stderr


def died(rc):
    """A signal's name if the exit status says a process died of one."""
    if rc is None:
        return 'a hang'
    if rc < 0:
        return SIGNALS.get(rc, 'signal %d' % -rc)
    if rc > 128 and -(rc - 128) in SIGNALS:
        return SIGNALS[-(rc - 128)]
    return None


def tool(*args, timeout=30):
    return run([TOOL] + list(args), timeout=timeout)


def launch(desc, timeout=30):
    return run(['gst-launch-1.0', '-q'] + desc.split(), timeout=timeout)


def popen_launch(desc, quiet=True):
    """gst-launch-1.0 (with quiet=False its warnings are printed too)."""
    return subprocess.Popen(['gst-launch-1.0'] + (['-q'] if quiet else []) +
                            desc.split(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=ENV)


# --- flips -----------------------------------------------------------------

def flip_positions(path):
    """Byte offsets to flip, in three tiers: the committed index entries,
    the header's fields (bytes 0..511), the rest of the header page and
    the first byte of every slot page."""
    st = gmn.Store(path)
    entries = []
    for i in range(st.first_frame(), st.committed()):
        chunk = 0 if st.ring else i // st.epc
        off = st.data + chunk * st.chunk_stride + (i % st.epc) * 64
        entries += range(off, off + 64)
    rest = list(range(512, P))
    size = os.path.getsize(path)
    for c in range(st.n_chunks):
        slots = st.data + c * st.chunk_stride + int(st.h['index_block_size'])
        rest += range(slots, min(size, slots + st.spc * st.slot_stride),
                      st.slot_stride)
    return [entries, list(range(512)), rest]


def check_mutant(g, path, what):
    rc_v, out_v = tool('verify', path)
    rc_i, out_i = tool('info', path)
    rc_s, out_s = run(['gst-launch-1.0', '-v', 'memmapsrc', 'location=' + path,
                       '!', 'fakesink', 'silent=false'])
    for name, rc in (('verify', rc_v), ('info', rc_i), ('memmapsrc', rc_s)):
        d = died(rc)
        if d:
            g.fail('%s: %s died of %s' % (what, name, d))
    if rc_v not in (0, 1, None) or rc_i not in (0, 1, None):
        g.fail('%s: exit %s / %s: %s %s' % (what, rc_v, rc_i, out_v, out_i))
    if rc_v == 0 and rc_s != 0:
        g.fail('%s: verify says OK (%s) but memmapsrc exits %s: %s'
               % (what, out_v.strip(), rc_s, out_s.strip()[-300:]))
    if rc_v == 0:
        m = re.search(r'OK: (\d+) frames', out_v)
        n = int(m.group(1)) if m else -1
        played = out_s.count('last-message = chain')
        if rc_s == 0 and played != n:
            g.fail('%s: verify says OK: %d frames, memmapsrc played %d'
                   % (what, n, played))
        g.frames += max(n, 0)
    return rc_v == 0


def gen_flips(g, rng, work):
    stores = {}
    append = os.path.join(work, 'append.store')
    ring = os.path.join(work, 'ring.store')
    for path, extra in ((append, ['5', '--chunk-bytes', '16384']),
                        (ring, ['12', '--ring', '8'])):
        rc, out = run([STORE_MAKE, path, 'GRAY8', '16', '16'] + extra)
        if rc != 0:
            g.fail('store-make %s: %s' % (path, out))
            return
        stores[path] = open(path, 'rb').read()
    # the index entries first (a flipped pts or sequence number must be
    # caught), then the header's fields, then the rest, each tier shuffled
    tiers = [[], [], []]
    for path in stores:
        for t, positions in enumerate(flip_positions(path)):
            tiers[t] += [(path, p) for p in positions]
    todo = []
    for tier in tiers:
        rng.shuffle(tier)
        todo += tier
    mutant = os.path.join(work, 'mutant.store')
    accepted = 0
    for path, p in todo:
        if g.time_left() <= 0:
            break
        data = bytearray(stores[path])
        data[p] ^= 0xff
        with open(mutant, 'wb') as f:
            f.write(data)
        accepted += check_mutant(g, mutant, '%s byte %d flipped'
                                 % (os.path.basename(path), p))
        g.runs += 1
    g.notes.append('%d of %d mutants of %s and %s, %d accepted by verify'
                   % (g.runs, len(todo), 'a 5-frame append store',
                      'a 12-frame ring of 8', accepted))


# --- truncate --------------------------------------------------------------

def cut_order(rng, pages):
    """0, 1, 2048, then page boundaries 1..pages in a random order."""
    ks = list(range(1, pages))
    rng.shuffle(ks)
    return [0, 1, 2048] + [k * P for k in ks]


def one_live_cut(g, work, mode, length):
    path = os.path.join(work, 'live.store')
    if os.path.exists(path):
        os.unlink(path)
    extra = 'mode=ring max-frames=8' if mode == 'ring' else ''
    w = popen_launch('videotestsrc is-live=true num-buffers=150 ! '
                     'video/x-raw,format=GRAY8,width=64,height=64,'
                     'framerate=30/1 ! memmapsink location=%s '
                     'chunk-size=16384 %s' % (path, extra))
    deadline = time.monotonic() + 10
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    r = popen_launch('memmapsrc location=%s follow=true ! fakesink' % path)
    time.sleep(0.4)
    size = os.path.getsize(path) if os.path.exists(path) else 0
    if length >= size:
        w.kill()
        r.kill()
        w.communicate()
        r.communicate()
        return False
    os.truncate(path, length)
    what = '%s store of %d bytes cut to %d' % (mode, size, length)
    try:
        out_w, _ = w.communicate(timeout=30)
        out_r, _ = r.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        w.kill()
        r.kill()
        g.fail('%s: a hang' % what)
        return True
    for name, p, out in (('memmapsink', w, out_w), ('memmapsrc', r, out_r)):
        d = died(p.returncode)
        if d:
            g.fail('%s: %s died of %s' % (what, name, d))
        elif p.returncode != 1 or 'truncated' not in out:
            g.fail('%s: %s exits %s: %s' % (what, name, p.returncode,
                                             out.strip()[-300:]))
        elif 'overwritten' in out:
            g.fail('%s: %s says overwritten: %s' % (what, name, out))
    if length >= P:
        rc, out = tool('verify', path)
        if rc != 1 or 'damaged' not in out:
            g.fail('%s: verify afterwards: %s %s' % (what, rc, out.strip()))
    return True


def one_cache_cut(g, work, length):
    cache = os.path.join(work, 'cache')
    shutil.rmtree(cache, ignore_errors=True)
    desc = ('videotestsrc num-buffers=30 ! video/x-raw,format=I420,'
            'width=160,height=120,framerate=30/1 ! memmapcache key=k '
            'cache-dir=%s ! identity sleep-time=20000 ! fakesink' % cache)
    rc, out = launch(desc)
    stores = [os.path.join(dp, f) for dp, _, fs in os.walk(cache)
              for f in fs if f.endswith('.store')]
    if rc != 0 or not stores:
        g.fail('memmapcache first pass: %s %s' % (rc, out))
        return True
    size = os.path.getsize(stores[0])
    if length >= size:
        return False
    p = popen_launch(desc, quiet=False)
    time.sleep(0.2)
    os.truncate(stores[0], length)
    what = 'memmapcache store of %d bytes cut to %d' % (size, length)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        g.fail('%s: a hang' % what)
        return True
    d = died(p.returncode)
    if d:
        g.fail('%s: died of %s' % (what, d))
    elif p.returncode != 0 or ('truncated' not in out and
                               'corrupt' not in out):
        # cut before memmapcache opened it, the store is merely short for
        # its header: corrupt, as for any reader that opens it
        g.fail('%s: exits %s: %s' % (what, p.returncode, out.strip()[-300:]))
    return True


def one_cache_rec_cut(g, work, length):
    """memmapcache recording a live stream, its store cut under it."""
    cache = os.path.join(work, 'rcache')
    shutil.rmtree(cache, ignore_errors=True)
    p = popen_launch('videotestsrc is-live=true num-buffers=45 ! '
                     'video/x-raw,format=GRAY8,width=64,height=64,'
                     'framerate=30/1 ! memmapcache key=k cache-dir=%s ! '
                     'fakesink' % cache, quiet=False)
    time.sleep(0.5)
    stores = [os.path.join(dp, f) for dp, _, fs in os.walk(cache)
              for f in fs if f.endswith('.store')]
    size = os.path.getsize(stores[0]) if stores else 0
    if not stores or length >= size:
        p.kill()
        p.communicate()
        return False
    os.truncate(stores[0], length)
    what = 'recording memmapcache, store of %d bytes cut to %d' % (size,
                                                                   length)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        g.fail('%s: a hang' % what)
        return True
    d = died(p.returncode)
    if d:
        g.fail('%s: died of %s' % (what, d))
    elif p.returncode != 0 or 'truncated' not in out:
        g.fail('%s: exits %s: %s' % (what, p.returncode, out.strip()[-300:]))
    rc, out = tool('verify', stores[0])
    if rc != 1:
        g.fail('%s: verify afterwards: %s %s' % (what, rc, out.strip()))
    return True


def gen_truncate(g, rng, work):
    kinds = [('append', cut_order(rng, 32)), ('ring', cut_order(rng, 16)),
             ('cache', cut_order(rng, 64)), ('cache-rec', cut_order(rng, 16))]
    done = {k: 0 for k, _ in kinds}
    i = 0
    while g.time_left() > 0 and any(lengths for _, lengths in kinds):
        kind, lengths = kinds[i % len(kinds)]
        i += 1
        if not lengths:
            continue
        length = lengths.pop(0)
        if kind == 'cache':
            ran = one_cache_cut(g, work, length)
        elif kind == 'cache-rec':
            ran = one_cache_rec_cut(g, work, length)
        else:
            ran = one_live_cut(g, work, kind, length)
        if ran:
            g.runs += 1
            done[kind] += 1
    g.notes.append('lengths cut: %d under memmapsink + memmapsrc follow '
                   '(append), %d (ring), %d under a serving memmapcache, %d '
                   'under a recording one'
                   % (done['append'], done['ring'], done['cache'],
                      done['cache-rec']))


# --- kill9 -----------------------------------------------------------------

KILL_CAPS = 'video/x-raw,format=GRAY8,width=320,height=240,framerate=30/1'


def frames_equal(g, path, ref, what, by_pts=False):
    """Every committed frame of path equals the reference's (frame i, or
    the reference frame at its pts); returns how many were checked."""
    try:
        st = gmn.Store(path)
        n = st.committed()
    except ValueError as e:
        g.fail('%s: %s' % (what, e))
        return 0
    checked = 0
    for i in range(st.first_frame(), n):
        j = round(st.pts(i) * 30 / 1e9) if by_pts else i
        if j >= len(ref):
            g.fail('%s: frame %d (pts %s) is past the reference'
                   % (what, i, st.pts(i)))
            break
        if not np.array_equal(st.frame(i)[0], ref[j]):
            g.fail('%s: frame %d differs from reference frame %d'
                   % (what, i, j))
            break
        checked += 1
    return checked


def gen_kill9(g, rng, work):
    ref_path = os.path.join(work, 'ref.store')
    n = 600
    src = ('videotestsrc pattern=ball num-buffers=%d ! %s' % (n, KILL_CAPS))
    rc, out = launch('%s ! memmapsink location=%s' % (src, ref_path))
    if rc != 0:
        g.fail('reference: %s' % out)
        return
    st = gmn.Store(ref_path)
    ref = [st.frame(i)[0].copy() for i in range(st.committed())]
    del st
    sink = cache = 0
    while g.time_left() > 0:
        trial = os.path.join(work, 'trial.store')
        cdir = os.path.join(work, 'kcache')
        use_cache = (sink + cache) % 2 == 1
        if use_cache:
            shutil.rmtree(cdir, ignore_errors=True)
            desc = '%s ! memmapcache key=k cache-dir=%s ! fakesink' % (src,
                                                                       cdir)
        else:
            if os.path.exists(trial):
                os.unlink(trial)
            desc = '%s ! memmapsink location=%s' % (src, trial)
        p = popen_launch(desc)
        time.sleep(rng.uniform(0.05, 1.0))
        p.send_signal(signal.SIGKILL)
        p.communicate()
        g.runs += 1
        if use_cache:
            cache += 1
            stores = [os.path.join(dp, f) for dp, _, fs in os.walk(cdir)
                      for f in fs if f.endswith('.store')]
            for s in stores:
                rc, out = tool('verify', s)
                if rc != 0:
                    g.fail('memmapcache killed: verify %s: %s' % (s, out))
                    continue
                g.frames += frames_equal(g, s, ref, 'memmapcache killed',
                                         by_pts=True)
            rc, out = launch(desc.replace('fakesink', 'fakesink sync=false'),
                             timeout=60)
            if rc != 0:
                g.fail('memmapcache after the kill: exits %s: %s'
                       % (rc, out.strip()[-300:]))
        else:
            sink += 1
            if not os.path.exists(trial):
                continue        # killed before the store was made
            rc, out = tool('verify', trial)
            if rc != 0:
                g.fail('memmapsink killed: verify: %s' % out)
                continue
            g.frames += frames_equal(g, trial, ref, 'memmapsink killed')
    g.notes.append('%d memmapsink and %d memmapcache pipelines killed'
                   % (sink, cache))


# --- ring8 -----------------------------------------------------------------

def gen_ring8(g, rng, work):
    seconds = max(3, int(g.time_left()) - 20)
    e = dict(ENV)
    e.update({'GST_CHECKS': 'test_ring_stress',
              'MEMMAP_STRESS_SECONDS': str(seconds),
              'MEMMAP_STRESS_READERS': '8'})
    try:
        p = subprocess.run(['meson', 'test', '-C', BUILD, '--no-rebuild',
                            '-v', '--timeout-multiplier', '0',
                            'elements_memmapsrc'], capture_output=True,
                           text=True, env=e, timeout=seconds + 300)
        out = p.stdout + p.stderr
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc, out = None, 'timed out'
    g.runs += 1
    m = re.search(r'ring stress: .*', out)
    if rc != 0 or not m:
        g.fail('ring stress with 8 readers: exit %s: %s'
               % (rc, out.strip()[-1500:]))
        return
    line = m.group(0)
    g.frames += sum(int(x.replace(',', '')) for x in
                    re.findall(r'reader \d+: (\d+) frames checked', line))
    c = re.search(r'(\d+) frames committed', line)
    g.notes.append('%d s, %s frames committed to a ring of 16, 8 readers, '
                   '0 torn' % (seconds, c.group(1) if c else '?'))


GENS = {'flips': gen_flips, 'truncate': gen_truncate, 'kill9': gen_kill9,
        'ring8': gen_ring8}


def main():
    global BUILD, TOOL, STORE_MAKE, ENV
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(SRC, 'build'))
    ap.add_argument('--seconds', type=float,
                    default=float(os.environ.get('MEMMAP_LONG_SECONDS', 240)))
    ap.add_argument('--seed', type=int,
                    default=int(os.environ.get('MEMMAP_LONG_SEED', 12)))
    ap.add_argument('gens', nargs='*', default=list(GENS))
    a = ap.parse_args()
    BUILD = os.path.abspath(a.build)
    TOOL = os.path.join(BUILD, 'gst', 'tools', 'gst-memmap')
    STORE_MAKE = os.path.join(BUILD, 'tests', 'check', 'store-make')
    ENV = env()
    total_share = sum(SHARE[n] for n in a.gens)
    failed = 0
    for name in a.gens:
        g = Gen(name, a.seconds * SHARE[name] / total_share)
        work = tempfile.mkdtemp(prefix='memmap-long-%s-' % name)
        try:
            GENS[name](g, random.Random(a.seed), work)
        except Exception as e:  # a bug of the generator is a failure too
            g.fail('generator raised %r' % e)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        g.report()
        failed += len(g.failures)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
