#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gst-memmap-demo end to end at a small size: it makes its clip, runs both
ways, prints the table and the ratios, finds the same filter output both
ways, and writes a PNG chart.

Usage: demo_test.py GST_MEMMAP_DEMO
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

DEMO = sys.argv[1]
failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


if subprocess.run(['gst-inspect-1.0', 'x264enc'],
                  capture_output=True).returncode != 0:
    print('x264enc is missing: skipping')
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix='gst-memmap-demo-test-')
try:
    env = dict(os.environ)
    env['XDG_CACHE_HOME'] = os.path.join(tmp, 'cache')
    for var in ('GST_DEBUG', 'GST_TRACERS'):
        env.pop(var, None)
    chart = os.path.join(tmp, 'chart.png')
    args = [DEMO, '--frames', '30', '--size', '320x240', '--passes', '3',
            '--chart', chart]

    p = subprocess.run(args, capture_output=True, text=True, env=env,
                       timeout=600)
    print(p.stdout)
    print(p.stderr, file=sys.stderr)
    check(p.returncode == 0, 'the demo exits 0')
    out = p.stdout
    check('Making the demo clip once' in out, 'it makes its clip')

    rows = re.findall(r'^(traditional|gst-memmap)\s+(\d)\s+([\d.]+)\s+'
                      r'([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+'
                      r'(\d+)$', out, re.M)
    check(len(rows) == 6, 'a table row per pass and way (%d)' % len(rows))
    trad = [r for r in rows if r[0] == 'traditional']
    mm = [r for r in rows if r[0] == 'gst-memmap']
    check(all(int(r[4]) >= 30 for r in trad),
          'traditional passes decode every frame')
    check(int(mm[0][4]) >= 30 and int(mm[0][8]) == 0,
          'the first gst-memmap pass decodes (a cache miss)')
    check(all(int(r[4]) == 0 and int(r[5]) == 0 and int(r[8]) == 1
              for r in mm[1:]),
          'later gst-memmap passes decode and copy nothing, a cache hit')
    check(all(float(r[6]) > 0 and float(r[7]) > 0 for r in rows),
          'peak anonymous and file-backed memory are measured')
    check('Results: identical' in out,
          'both ways compute the same filter output')
    for what in ('time of a pass', 'first gst-memmap pass',
                 'peak anonymous memory'):
        check(re.search(r'^Ratio, %s.*: [\d.]+x' % what, out, re.M)
              is not None, 'the ratio line: %s' % what)

    check(os.path.exists(chart), 'the chart is written')
    with open(chart, 'rb') as f:
        head = f.read(24)
    check(head[:8] == b'\x89PNG\r\n\x1a\n', 'the chart is a PNG')
    w, h = struct.unpack('>II', head[16:24])
    check((w, h) == (1000, 540), 'the chart is 1000x540 (%dx%d)' % (w, h))
    check('Chart: ' + os.path.realpath(chart) in out, 'it says where')

    # the clip is made once and reused
    p = subprocess.run(args + ['--passes', '2', '--no-chart'],
                       capture_output=True, text=True, env=env, timeout=600)
    check(p.returncode == 0 and 'Making the demo clip' not in p.stdout,
          'a second run reuses the clip')
    # the gst-memmap passes clean their cache up
    left = os.listdir(os.path.join(tmp, 'cache', 'gst-memmap-demo'))
    check(all(not n.startswith('cache-') for n in left),
          'no frame cache left behind (%s)' % left)

    # usage errors
    p = subprocess.run([DEMO, '--size', 'big'], capture_output=True,
                       text=True, env=env)
    check(p.returncode == 2 and '--size' in p.stderr, '--size big: usage')
    p = subprocess.run([DEMO, os.path.join(tmp, 'missing.mp4')],
                       capture_output=True, text=True, env=env)
    check(p.returncode == 1 and 'missing.mp4' in p.stderr,
          'a missing video: exit 1 naming it')
    p = subprocess.run([DEMO, '--help'], capture_output=True, text=True,
                       env=env)
    check(p.returncode == 0 and '--frames' in p.stdout, '--help')
finally:
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print('%d check(s) failed' % len(failures))
    sys.exit(1)
print('all checks passed')
