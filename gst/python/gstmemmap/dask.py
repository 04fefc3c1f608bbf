# SPDX-License-Identifier: LGPL-2.1-or-later
"""Decode once across a cluster: `gst-memmap ingest` of many videos as
tasks of a Dask cluster (Debian's python3-distributed), each video decoded
once, into a frame store of a directory every machine sees.

    from distributed import Client
    import gstmemmap.dask

    client = Client('scheduler:8786')          # or a LocalCluster
    stores = gstmemmap.dask.ingest(paths, out_dir='/shared/stores',
                                   client=client, progress=True)
    for store, frames in stores:
        ...                                     # (path, frame count)

The design (docs/guide.md, "Decode once across a cluster"):

- One task per video. Long videos are not split into segments: the tool's
  --start decodes from the first frame and drops what comes before it
  (frame-exact whatever the GOP), so a segment would cost the decoding of
  everything before it; a keyframe-split decode whose segments are exact
  and in order is not implemented.
- A task runs `gst-memmap ingest` as a child process, not GStreamer inside
  the worker: a decoder that crashes or leaks kills its child, not the
  worker (which Dask would count as a worker lost), and the decoder's
  memory goes back to the system at the child's exit. The child is killed
  with its worker (PR_SET_PDEATHSIG, through util-linux's setpriv).
- The child writes a hidden temporary name in the output directory
  (`.NAME.part-HOST-PID-RANDOM`); the task checks that the store is closed
  and counts its frames, syncs it to disk and renames it to NAME. A store
  under its final name is therefore always complete: a half-written one
  is never visible there. The final names depend on the inputs only, so a
  task run again (worker lost, retries) replaces the same name and never
  makes a second store; what killed attempts leave (their hidden
  temporaries) is removed by a last task once every store is in place.
- Worker loss: the scheduler reruns the tasks of a lost worker elsewhere,
  up to `distributed.scheduler.allowed-failures` times (3 by default),
  then raises KilledWorker. `retries` is Dask's own count of reruns of a
  task that raised (a failed decode, an I/O error).

With cache_dir instead of out_dir, each task fills that memmapcache cache
directory with the video (GstMemmap.map_video_frames_full, in a child
process too): later readers (VideoReader(path, format, cache_dir=...),
memmapcache cache-dir=...) decode nothing. The cache's own entries and
locks make that safe; its entries are files of the cache directory that
the cache names and completes itself.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

__all__ = ['ingest', 'ingest_one', 'fill_cache_one', 'store_names',
           'sweep', 'IngestError']

# a test hook: a directory in which a task announces itself and waits
# (tests/check/dask_ingest.py); never set in normal use
_HOLD_ENV = 'GST_MEMMAP_DASK_TEST_HOLD'
_PART = '.part-'


class IngestError(RuntimeError):
    """A video could not be ingested: the tool's exit status and message."""


def store_names(paths):
    """The store name of each input: its file name without its extension,
    plus '.store'. Raises ValueError when two inputs would get the same
    name (give names= to ingest() then)."""
    names = []
    for p in paths:
        base = os.path.basename(os.fspath(p).rstrip('/')) or 'video'
        stem = os.path.splitext(base)[0] or base
        names.append(stem + '.store')
    seen = {}
    for p, n in zip(paths, names):
        if n in seen:
            raise ValueError('%s and %s would both be ingested into %s: '
                             'pass names=' % (seen[n], p, n))
        seen[n] = p
    return names


def _tool(tool):
    tool = tool or os.environ.get('GST_MEMMAP_TOOL') or \
        shutil.which('gst-memmap')
    if not tool:
        raise IngestError('gst-memmap is not on PATH on worker %s (install '
                          'gst-memmap there, or pass tool=)'
                          % socket.gethostname())
    return tool


def _with_pdeathsig(cmd):
    """cmd run so that the kernel kills it when its parent thread dies (a
    worker killed mid-task leaves no decoder running). util-linux's
    setpriv does the prctl() between fork and exec; without it the child
    outlives a killed worker (and its temporary is swept at the end)."""
    setpriv = shutil.which('setpriv')
    if setpriv is None:
        return cmd
    return [setpriv, '--pdeathsig', 'KILL', '--'] + cmd


def _hold(stage, what, child=None, store=None):
    """The test hook: when $GST_MEMMAP_DASK_TEST_HOLD names a directory
    whose file 'stage' says `stage`, announce this task there (a file
    giving the worker's pid, the child's and the frames the child had
    committed) and wait for the file 'release'. At stage 'decode' the
    child is stopped (SIGSTOP) as soon as its store holds a frame, so
    that it is held mid-way through the store."""
    d = os.environ.get(_HOLD_ENV)
    if not d:
        return
    try:
        with open(os.path.join(d, 'stage')) as f:
            if f.read().strip() != stage:
                return
    except FileNotFoundError:
        return
    committed = None
    if child is not None:
        committed = _first_commit(child, store)
        if committed < 0:       # it ended first: nothing to hold
            child = None
        else:
            os.kill(child.pid, signal.SIGSTOP)
    ready = os.path.join(d, '%s.%d.ready' % (what, os.getpid()))
    with open(ready + '.tmp', 'w') as f:
        json.dump({'worker': os.getpid(),
                   'child': child.pid if child else None,
                   'committed': committed}, f)
    os.replace(ready + '.tmp', ready)       # whole when it is seen
    while not os.path.exists(os.path.join(d, 'release')):
        time.sleep(0.02)
    if child is not None:
        os.kill(child.pid, signal.SIGCONT)


def _first_commit(child, store):
    """Waits until the store being written by child holds a frame (or
    child ended); the frames it holds then."""
    from .views import StoreFile
    while child.poll() is None:
        try:
            st = StoreFile(store)
            n = st.committed()
            st.close()
            if n > 0:
                return n
        except (OSError, ValueError):
            pass
        time.sleep(0.002)
    return -1


def _run(cmd, what, store=None):
    """Runs cmd; its stdout, or IngestError with its stderr."""
    p = subprocess.Popen(_with_pdeathsig(cmd), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if store:
        _hold('decode', what, p, store)
    out, err = p.communicate()
    if p.returncode != 0:
        raise IngestError('%s failed on %s (exit status %d): %s' % (
            ' '.join(cmd[:2]), what, p.returncode,
            err.decode(errors='replace').strip()))
    return out.decode(errors='replace')


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ingest_one(path, store, format=None, count=0, checksum=False,
               tool=None, sync=True):
    """One task: decodes the video at path into the frame store at store
    (replaced if it exists), through a temporary in store's directory
    renamed into place. Returns (store, frame count). Runs anywhere
    `gst-memmap` does, with or without Dask."""
    from .views import StoreFile
    store = os.fspath(store)
    d, name = os.path.split(os.path.abspath(store))
    tmp = os.path.join(d, '.%s%s%s-%d-%s' % (
        name, _PART, socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8]))
    cmd = [_tool(tool), 'ingest', os.fspath(path), '-o', tmp]
    if format:
        cmd += ['--format', format]
    if count:
        cmd += ['--count', str(count)]
    if checksum:
        cmd.append('--checksum')
    try:
        _run(cmd, name, store=tmp)
        st = StoreFile(tmp)
        try:
            closed, frames = st.closed(), st.committed()
        finally:
            st.close()
        if not closed or frames == 0:
            raise IngestError('%s: the store of %s is not complete (%s, %d '
                              'frames)' % (tmp, path, 'closed' if closed
                                           else 'open', frames))
        if sync:
            _fsync(tmp)
        _hold('rename', name)
        os.replace(tmp, store)
        if sync:
            _fsync(d)
    finally:
        # a failed attempt leaves nothing behind (a killed one cannot
        # clean up: sweep() does)
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return store, frames


def fill_cache_one(path, cache_dir, format=None):
    """One task: decodes the video at path into the memmapcache cache
    directory cache_dir (nothing when it is cached already), in a child
    process. Returns (the path of its first cache store, frame count)."""
    cmd = [sys.executable, '-m', 'gstmemmap.dask', '--fill-cache',
           os.fspath(path), os.fspath(cache_dir), format or '']
    out = _run(cmd, os.fspath(path))
    r = json.loads(out.strip().splitlines()[-1])
    return r['store'], r['frames']


def sweep(out_dir, names):
    """Removes what killed attempts at the stores `names` of out_dir left:
    their hidden temporaries (and the tool's own temporaries of those).
    Call it when no task writing these names runs any more: two ingest()
    calls at once into the same names would remove each other's
    temporaries (and fail). Returns the paths removed."""
    removed = []
    prefixes = tuple('.%s%s' % (n, _PART) for n in names)
    for entry in os.scandir(out_dir):
        if entry.name.startswith(prefixes):
            try:
                os.unlink(entry.path)
                removed.append(entry.path)
            except FileNotFoundError:
                pass
    return removed


def ingest(paths, out_dir=None, cache_dir=None, client=None, names=None,
           format=None, count=0, checksum=False, tool=None, retries=2,
           progress=False, sync=True):
    """Decodes every video of paths once, one Dask task per video, on the
    cluster of client (distributed.Client; None: the default client).

    out_dir: the directory (seen by every worker) of the frame stores, one
    per video, named names[i] or by store_names(paths); each appears under
    its name only when complete. cache_dir instead: a memmapcache cache
    directory to fill. format, count, checksum: as `gst-memmap ingest`'s
    --format, --count and --checksum (cache_dir: format only; None is the
    decoder's format, give 'RGB' for VideoReader's default). tool: the
    gst-memmap program on the workers (default $GST_MEMMAP_TOOL, or
    gst-memmap on PATH). retries: Dask's reruns of a task that raised.
    progress: Dask's progress bar (distributed.progress) while it runs.
    sync: fsync each store (and its directory) before and after its
    rename, so that the name never outlives the data.

    Returns [(store path, frame count), ...] in the order of paths; raises
    the first task's error (IngestError), or distributed's KilledWorker
    when a task lost its worker more than allowed-failures times."""
    try:
        import distributed
    except ImportError as e:
        raise ImportError('gstmemmap.dask needs Dask\'s distributed '
                          '(Debian: python3-distributed): %s' % e)
    if (out_dir is None) == (cache_dir is None):
        raise ValueError('give out_dir or cache_dir (one of them)')
    # the workers' working directories are not the caller's: absolute
    # paths (URIs as they are)
    paths = [p if '://' in p else os.path.abspath(p)
             for p in (os.fspath(p) for p in paths)]
    client = client or distributed.default_client()

    if cache_dir is not None:
        futures = [client.submit(fill_cache_one, p, os.fspath(cache_dir),
                                 format, retries=retries,
                                 key='gstmemmap-cache-%s' % uuid.uuid5(
                                     uuid.NAMESPACE_URL, '%s|%s|%s' % (
                                         p, cache_dir, format)))
                   for p in paths]
        return _gather(client, futures, progress, distributed)

    out_dir = os.path.abspath(os.fspath(out_dir))
    names = list(names) if names is not None else store_names(paths)
    if len(names) != len(paths) or len(set(names)) != len(names):
        raise ValueError('names must give one distinct name per path')
    futures = [client.submit(ingest_one, p, os.path.join(out_dir, n),
                             format, count, checksum, tool, sync,
                             retries=retries, pure=False)
               for p, n in zip(paths, names)]
    # once every task has ended (or failed for good), nothing writes these
    # names any more: what killed attempts left goes
    try:
        results = _gather(client, futures, progress, distributed)
    except BaseException:
        try:
            client.submit(sweep, out_dir, names, pure=False).result()
        except Exception:
            pass            # the task's error says more
        raise
    client.submit(sweep, out_dir, names, pure=False).result()
    return results


def _gather(client, futures, progress, distributed):
    if progress:
        distributed.progress(futures)
    try:
        return [tuple(r) for r in client.gather(futures)]
    except BaseException:
        # tasks still running when one failed: wait for them before the
        # caller (or the sweep) looks at the directory
        distributed.wait(futures)
        raise


def _fill_cache_main(path, cache_dir, fmt):
    from ._gi import gstmemmap
    GstMemmap = gstmemmap()
    engine = GstMemmap.Engine.get_default()
    frames = GstMemmap.map_video_frames_full(engine, path, 0, 0, fmt or None,
                                             cache_dir)
    n = frames.get_n_frames()
    print(json.dumps({'store': frames.get_path(0) if n else None,
                      'frames': n}))


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == '--fill-cache':
        _fill_cache_main(*sys.argv[2:])
    else:
        sys.exit('usage: python3 -m gstmemmap.dask --fill-cache VIDEO '
                 'CACHE_DIR FORMAT')
