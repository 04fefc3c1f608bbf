#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gstmemmap.dask.ingest() of N clips with 1 and with 2 Dask worker
processes (a distributed.LocalCluster on this machine, one thread each),
against `gst-memmap ingest` of the clips one after the other without Dask.

Usage: bench_dask.py GST_MEMMAP [--clips N] [--frames F] [--size WxH]
                     [--runs R]

Each configuration runs R times (the median is printed); the cluster is
started before its runs and not counted. Dask runs without and with
sync=True (each store fsync'ed before its rename; the serial runs do not
sync). The last line is the ratio of the 1-worker time to the 2-worker
time, without sync. On a machine with fewer free
cores than workers the ratio says so: read it with the load average
printed at the start and the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def make_clip(path, n, w, h, pattern):
    subprocess.run(
        ['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=%d' % n,
         'pattern=%d' % pattern, '!',
         'video/x-raw,format=I420,width=%d,height=%d,framerate=30/1'
         % (w, h), '!', 'x264enc', 'bframes=2', 'key-int-max=30',
         'speed-preset=ultrafast', '!', 'mp4mux', '!',
         'filesink', 'location=' + path], check=True, timeout=600)


def timed(fn, out):
    os.makedirs(out)
    t = time.monotonic()
    fn(out)
    dt = time.monotonic() - t
    shutil.rmtree(out)
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('tool')
    ap.add_argument('--clips', type=int, default=6)
    ap.add_argument('--frames', type=int, default=300)
    ap.add_argument('--size', default='640x360')
    ap.add_argument('--runs', type=int, default=3)
    a = ap.parse_args()
    try:
        import distributed
    except ImportError as e:
        print('skipping: Dask\'s distributed is not installed (Debian: '
              'python3-distributed): %s' % e)
        sys.exit(77)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                    'gst', 'python'))
    os.environ['PYTHONPATH'] = sys.path[0]
    import gstmemmap.dask as gdask

    w, h = (int(x) for x in a.size.split('x'))
    tmp = tempfile.mkdtemp(prefix='gst-memmap-bench-dask-')
    try:
        paths = []
        for i in range(a.clips):
            p = os.path.join(tmp, 'clip%d.mp4' % i)
            make_clip(p, a.frames, w, h, i % 20)
            paths.append(p)
        print('%d clips of %d frames, %s H.264; load average %s' % (
            a.clips, a.frames, a.size, os.getloadavg()))
        out = os.path.join(tmp, 'out')

        def serial(d):
            for p in paths:
                subprocess.run([a.tool, 'ingest', p, '-o', os.path.join(
                    d, os.path.basename(p) + '.store')], check=True)

        times = {'serial, no Dask': [timed(serial, out)
                                     for _ in range(a.runs)]}
        for n in (1, 2):
            with distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=40) as cluster, \
                    distributed.Client(cluster) as client:
                for sync in (False, True):
                    def dask_ingest(d):
                        r = gdask.ingest(paths, out_dir=d, client=client,
                                         tool=a.tool, sync=sync)
                        assert [f for _, f in r] == [a.frames] * a.clips, r
                    times['Dask, %d worker%s%s' % (
                        n, 's' if n > 1 else '', ', sync' if sync else '')] \
                        = [timed(dask_ingest, out) for _ in range(a.runs)]

        print('%-24s %10s %10s   runs (s)' % ('', 'median (s)', 'frames/s'))
        med = {}
        for k, v in times.items():
            med[k] = statistics.median(v)
            print('%-24s %10.2f %10.0f   %s' % (
                k, med[k], a.clips * a.frames / med[k],
                ' '.join('%.2f' % x for x in v)))
        print('load average at the end %s' % (os.getloadavg(),))
        print('Ratio, time with 1 worker / with 2 workers: %.2fx' % (
            med['Dask, 1 worker'] / med['Dask, 2 workers']))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
