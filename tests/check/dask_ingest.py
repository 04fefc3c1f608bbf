#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gstmemmap.dask.ingest() on a distributed.LocalCluster of worker
processes, with a worker killed in the middle of a task (issue 16, part
2).

Usage: dask_ingest.py GST_MEMMAP

Clips made with x264enc are ingested, one task per clip, by 3 worker
processes. Twice a worker is killed (SIGKILL) while it holds a task,
deterministically through the module's test hook
($GST_MEMMAP_DASK_TEST_HOLD): once with the task's store complete under
its hidden temporary name just before the rename, once with the task's
`gst-memmap ingest` child stopped half-way through the store. Then every
store must be under its name, once, complete and exact (every frame's
planes and pts equal what decodebin ! appsink gives for the same clip),
with no temporary left in the directory; the stopped child must have died
with its worker. Also: a second ingest() of the same clips replaces the
stores (no duplicates), and cache_dir= fills a memmapcache directory from
which VideoReader decodes nothing.

Exit status 77 (skipped, with the reason printed) without numpy, PyGObject,
x264enc or python3-distributed.
"""

import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

import memmaptest as T
from memmaptest import check

try:
    import distributed
    DISTRIBUTED_ERROR = None
except ImportError as e:
    distributed = None
    DISTRIBUTED_ERROR = e

gstmemmap = gdask = Gst = None
TMP = HOLD = TOOL = None


def setup():
    """Imports, skips, the environment the workers inherit."""
    global TMP, HOLD, TOOL, Gst, gstmemmap, gdask
    # the workers inherit this environment (and sys.path): the tools' own
    # output only (set before GStreamer reads it), and the hook's directory
    env = T.tool_env()
    os.environ.clear()
    os.environ.update(env)
    TMP = T.make_tmpdir('gst-memmap-dask-', cache=True)
    T.import_or_skip(['Gst', 'GstVideo'], skip_dir=TMP)
    if distributed is None:
        print('skipping: Dask\'s distributed is not installed (Debian: '
              'python3-distributed): %s' % DISTRIBUTED_ERROR)
        shutil.rmtree(TMP, ignore_errors=True)
        sys.exit(77)

    from gi.repository import Gst as _Gst
    Gst = _Gst
    T.use_package()
    import gstmemmap as _gm
    import gstmemmap.dask as _gd
    gstmemmap, gdask = _gm, _gd

    TOOL = sys.argv[1]
    if Gst.ElementFactory.find('x264enc') is None:
        print('skipping: x264enc is missing (gstreamer1.0-plugins-ugly)')
        shutil.rmtree(TMP, ignore_errors=True)
        sys.exit(77)

    HOLD = os.path.join(TMP, 'hold')
    os.makedirs(HOLD)
    os.environ['GST_MEMMAP_DASK_TEST_HOLD'] = HOLD
    os.environ['PYTHONPATH'] = os.pathsep.join(
        [T.PYDIR] + [p for p in os.environ.get('PYTHONPATH', '').split(
            os.pathsep) if p])


# (frames, width, height): different lengths, so that a store mixed up
# with another one's shows
CLIPS = [(120, 320, 240), (90, 320, 240), (150, 320, 240), (60, 256, 144),
         (100, 320, 180)]


def make_clip(path, n, w, h):
    subprocess.run(
        ['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=%d' % n,
         'pattern=ball', '!',
         'video/x-raw,format=I420,width=%d,height=%d,framerate=30/1'
         % (w, h), '!', 'x264enc', 'bframes=2', 'key-int-max=30', '!',
         'mp4mux', '!', 'filesink', 'location=' + path],
        check=True, timeout=120)


def digest(planes):
    h = hashlib.sha256()
    for p in planes:
        h.update(p.tobytes())       # row by row: strides do not count
    return h.hexdigest()


def reference(path):
    """Every frame (pts, digest of its planes) as decodebin ! appsink
    gives it: what a plain decode of the clip outputs."""
    import numpy as np
    pipe = Gst.parse_launch('filesrc location="%s" ! decodebin ! '
                            'appsink name=s sync=false' % path)
    sink = pipe.get_by_name('s')
    pipe.set_state(Gst.State.PLAYING)
    frames = []
    while True:
        sample = sink.emit('pull-sample')
        if sample is None:
            break
        buf = sample.get_buffer()
        info = gstmemmap.video_info(sample.get_caps())
        data = np.frombuffer(buf.extract_dup(0, buf.get_size()), np.uint8)
        planes = [lay.view(data, 0) for lay in gstmemmap.plane_layouts(info)]
        frames.append((buf.pts, digest(planes)))
    pipe.set_state(Gst.State.NULL)
    return frames


def store_frames(path):
    out = []
    with gstmemmap.VideoReader(path) as st:
        for i in range(len(st)):
            f = st[i]
            out.append((st.get_pts(i), digest(f if isinstance(f, tuple)
                                              else (f,))))
    return out


def wait_for(cond, what, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = cond()
        if r:
            return r
        time.sleep(0.02)
    check(False, 'timed out waiting for ' + what)
    return None


def ready_files():
    return sorted(glob.glob(os.path.join(HOLD, '*.ready')))


def set_stage(stage):
    for f in glob.glob(os.path.join(HOLD, '*')):
        os.unlink(f)
    with open(os.path.join(HOLD, 'stage'), 'w') as f:
        f.write(stage)


def release():
    open(os.path.join(HOLD, 'release'), 'w').close()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1][0] != 'Z'
    except FileNotFoundError:
        return False


class Background:
    """ingest() in a thread (it blocks until every task is done)."""

    def __init__(self, **kw):
        self.result = self.error = None
        self.t = threading.Thread(target=self._run, kwargs=kw)
        self.t.start()

    def _run(self, **kw):
        try:
            self.result = gdask.ingest(**kw)
        except BaseException as e:       # reported by the checks
            self.error = e

    def join(self):
        self.t.join(120)
        return not self.t.is_alive()


def check_stores(out_dir, result, label):
    """Every clip's store under its name, once, exact; nothing else."""
    names = gdask.store_names(PATHS)
    check(result is not None and len(result) == len(PATHS),
          '%s: one result per clip' % label)
    check(sorted(os.listdir(out_dir)) == sorted(names),
          '%s: the directory holds exactly the %d stores (no temporary, no '
          'duplicate): %s' % (label, len(names), sorted(os.listdir(out_dir))))
    for p, name, r in zip(PATHS, names, result or []):
        path, n = r
        check(path == os.path.join(out_dir, name) and n == len(REF[p]),
              '%s: %s -> %s, %d frames (decoding gives %d)'
              % (label, os.path.basename(p), path, n, len(REF[p])))
        got = store_frames(path)
        check(got == REF[p], '%s: %s: every frame and pts equal a plain '
              'decode of the clip' % (label, name))


def kill_round(client, stage, out_dir):
    """ingest() into out_dir with the hook at stage: a worker that holds
    a task is killed, then the others are released."""
    set_stage(stage)
    os.makedirs(out_dir)
    run = Background(paths=PATHS, out_dir=out_dir, client=client,
                     tool=TOOL, progress=(stage == 'rename'))
    # every worker holds a task
    files = wait_for(lambda: (len(ready_files()) >= N_WORKERS and
                              ready_files()) or not run.t.is_alive(),
                     '%d held tasks' % N_WORKERS)
    if files is True:
        check(False, '%s: ingest() ended before %d tasks were held: %r'
              % (stage, N_WORKERS, run.error))
        files = None
    if not files:
        release()
        run.join()
        return None
    helds = []
    for path in files:
        with open(path) as f:
            helds.append((path, json.load(f)))
    # at 'decode', a task whose child was stopped mid-way (a child that
    # ended before its first frame showed is not held)
    chosen = [h for h in helds if stage != 'decode' or h[1]['child']]
    path, held = (chosen or helds)[0]
    name = os.path.basename(path).split('.store.')[0] + '.store'
    workers = set(client.run(os.getpid).values())
    check(held['worker'] in workers, '%s: the held task runs in worker %d '
          'of the cluster' % (stage, held['worker']))
    parts = glob.glob(os.path.join(out_dir, '.' + name + '.part-*'))
    check(len(parts) >= 1 and not os.path.exists(
        os.path.join(out_dir, name)), '%s: %s is being written under a '
          'hidden name only (%s)' % (stage, name,
                                     [os.path.basename(p) for p in parts]))
    if stage == 'decode':
        total = len(REF[PATHS[gdask.store_names(PATHS).index(name)]])
        check(held['child'] and 0 < held['committed'] < total,
              'decode: the child was stopped half-way through %s (%s of %d '
              'frames)' % (name, held['committed'], total))
    elif parts:
        st = gstmemmap.views.StoreFile(parts[0])
        check(st.closed(), 'rename: the held store is complete, not yet '
              'renamed')
        st.close()

    os.kill(held['worker'], signal.SIGKILL)
    if held['child']:
        check(wait_for(lambda: not pid_alive(held['child']),
                       'the child to die with its worker', 10) is not None,
              '%s: the ingest child (pid %d) died with its worker'
              % (stage, held['child']))
        if pid_alive(held['child']):
            os.kill(held['child'], signal.SIGKILL)     # not left stopped
    check(not os.path.exists(os.path.join(out_dir, name)),
          '%s: nothing under the name %s after the kill' % (stage, name))
    release()
    check(run.join(), '%s: ingest() returned' % stage)
    check(run.error is None, '%s: ingest() succeeded (%r)'
          % (stage, run.error))
    retried = [f for f in ready_files()
               if os.path.basename(f).startswith(name + '.')]
    if stage == 'rename':
        check(len(retried) >= 2, 'rename: the killed task ran again (%d '
              'attempts held)' % len(retried))
    check_stores(out_dir, run.result, stage)
    return run.result


PATHS = []
REF = {}
N_WORKERS = 3


def main():
    setup()
    for i, (n, w, h) in enumerate(CLIPS):
        p = os.path.join(TMP, 'clip%d.mp4' % i)
        make_clip(p, n, w, h)
        PATHS.append(p)
    REF.update({p: reference(p) for p in PATHS})
    counts = [len(REF[p]) for p in PATHS]
    check(counts == [c[0] for c in CLIPS],
          'the reference decodes give %s frames' % counts)

    cluster = client = None
    try:
        cluster = distributed.LocalCluster(
            n_workers=N_WORKERS, threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=40)
        client = distributed.Client(cluster)
        kill_round(client, 'rename', os.path.join(TMP, 'stores1'))
        kill_round(client, 'decode', os.path.join(TMP, 'stores2'))

        # again into the first directory, without hook: the same names,
        # replaced
        set_stage('none')
        out = os.path.join(TMP, 'stores1')
        again = gdask.ingest(PATHS, out_dir=out, client=client, tool=TOOL)
        check_stores(out, again, 'again')

        # a video that does not decode: its error, and nothing left
        bad = os.path.join(TMP, 'bad.mp4')
        with open(bad, 'wb') as f:
            f.write(b'not a video' * 1000)
        out = os.path.join(TMP, 'stores3')
        os.makedirs(out)
        try:
            gdask.ingest([PATHS[1], bad], out_dir=out, client=client,
                         tool=TOOL, retries=0)
            err = None
        except gdask.IngestError as e:
            err = e
        check(err is not None and 'bad.mp4' in str(err),
              'a video that does not decode: IngestError (%s)' % err)
        check(os.listdir(out) in ([], ['clip1.store']),
              'a video that does not decode leaves no temporary: %s'
              % os.listdir(out))

        # a memmapcache directory filled on the cluster: a reader decodes
        # nothing
        cache = os.path.join(TMP, 'cachedir')
        filled = gdask.ingest(PATHS[:2], cache_dir=cache, client=client,
                              format='RGB')
        check([n for _, n in filled] == [len(REF[p]) for p in PATHS[:2]],
              'cache_dir: frame counts %s' % [n for _, n in filled])
        with gstmemmap.VideoReader(PATHS[0], cache_dir=cache) as vr:
            check(vr.stats()['decoded-frames'] == 0 and
                  len(vr) == CLIPS[0][0],
                  'cache_dir: VideoReader(cache_dir=) decodes nothing '
                  '(%d decoded)' % vr.stats()['decoded-frames'])
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    T.finish(TMP)


# the workers are spawned processes that import this file again: only the
# test's own process runs it
if __name__ == '__main__':
    try:
        main()
    except Exception:
        # the traceback, and the temporary directory removed
        traceback.print_exc()
        check(False, 'the test ran to its end')
        T.finish(TMP)
