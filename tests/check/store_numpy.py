#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads frame stores with numpy alone, as docs/store-format.md shows.

Usage: store_numpy.py STORE_MAKE [STORE_FORMAT_MD]

The reader is the code of docs/store-format.md (STORE_FORMAT_MD, by default
found through MEMMAP_SOURCE_ROOT), run from the document itself.
STORE_MAKE is the tests/check/store-make helper, which writes stores whose
frames hold the pattern of tests/check/store-pattern.h: byte x of row y of
plane p of frame f is (13 f + 101 p + 7 y + 3 x) mod 256. Every frame of
every store is checked pixel for pixel, through arrays that are views of
one np.memmap of the file (no copy).

Exit status 77 (skipped) if numpy is missing, 1 if so under CI=true. The
checks are check() calls, not assert statements, which python -O and
PYTHONOPTIMIZE would remove.
"""

import os
import re
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy is not installed", file=sys.stderr)
    sys.exit(1 if os.environ.get('CI') == 'true' else 77)


class Failure(Exception):
    """A check that failed."""


def check(cond, *what):
    """Fails with @what unless @cond (an assert that -O keeps)."""
    if not cond:
        raise Failure(' '.join(str(w) for w in what) or 'check failed')

# --- the code of docs/store-format.md, "Reading a store with numpy" -------
# Not a copy: the block marked "python run file=framestore.py" is read from
# the document and run here, so the test checks the very code it shows.

def documented_code(doc):
    """The text and first line of the doc's framestore.py block."""
    with open(doc) as f:
        lines = f.read().split('\n')
    for n, line in enumerate(lines):
        m = re.match(r'^```+', line)
        if m and 'file=framestore.py' in line.split():
            end = lines.index(m.group(0), n + 1)
            return '\n'.join(lines[n + 1:end]) + '\n', n + 2
    raise SystemExit('%s: no block marked "python run file=framestore.py"'
                     % doc)


DOC = (sys.argv[2] if len(sys.argv) > 2 else
       os.path.join(os.environ.get('MEMMAP_SOURCE_ROOT',
                                   os.path.join(os.path.dirname(__file__),
                                                '..', '..')),
                    'docs', 'store-format.md'))
_text, _line = documented_code(DOC)
# keep the line numbers of the document in tracebacks
exec(compile('\n' * (_line - 1) + _text, DOC, 'exec'))
for _name in ('HEADER', 'ENTRY', 'PLANES', 'Store'):
    if _name not in globals():
        raise SystemExit('%s: the documented code defines no %s'
                         % (DOC, _name))


def expected_plane(f, p, rows, cols, ch, dt):
    """The pattern of store-pattern.h, shaped like the plane's view."""
    dt = np.dtype(dt)
    nbytes = cols * max(ch, 1) * dt.itemsize
    y = np.arange(rows, dtype=np.int64)[:, None]
    x = np.arange(nbytes, dtype=np.int64)[None, :]
    raw = ((13 * f + 101 * p + 7 * y + 3 * x) & 0xff).astype(np.uint8)
    arr = raw.view(dt)  # bytes of each row, reinterpreted
    if ch:
        arr = arr.reshape(rows, cols, ch)
    return arr


def reaches_memmap(arr, mm):
    base = arr
    while base is not None:
        if base is mm:
            return True
        base = getattr(base, 'base', None)
    return False


def check_store(path, n_expected, ring_max=0):
    st = Store(path)
    committed = st.committed()
    check(committed == n_expected, path, 'committed', committed,
          'expected', n_expected)
    check(st.h['state'] == 2, path, 'not closed cleanly')
    check(st.caps.startswith('video/x-raw'), path, 'caps', st.caps)
    first = st.first_frame()
    if ring_max:
        check(first == max(0, n_expected - ring_max), path, 'first frame',
              first)
    shapes = PLANES[st.format](st.width, st.height)
    for i in range(first, committed):
        e = st.entry(i)
        check(int(e['pts']) == i * 1000000, path, 'frame', i, 'pts',
              e['pts'])
        check(int(e['duration']) == 1000000, path, 'frame', i,
              'duration', e['duration'])
        check(int(e['flags']) == (1 if i == 0 else 0), path, 'frame', i,
              'flags', e['flags'])
        planes = st.frame(i)
        for p, arr in enumerate(planes):
            rows, cols, ch, dt = shapes[p]
            exp = expected_plane(i, p, rows, cols, ch, dt)
            check(arr.shape == exp.shape, path, 'frame', i, 'plane', p,
                  'shape', arr.shape, 'expected', exp.shape)
            if not np.array_equal(arr, exp):
                bad = np.argwhere(arr != exp)[0]
                raise Failure('%s: frame %d plane %d differs at %s'
                              % (path, i, p, bad))
            # a view of the file, not a copy
            check(not arr.flags.owndata, path, 'frame', i, 'plane', p,
                  'owns its data: a copy')
            check(reaches_memmap(arr, st.mm), path, 'frame', i, 'plane',
                  p, 'is not a view of the memmap')
            check(np.shares_memory(arr, st.mm), path, 'frame', i, 'plane',
                  p, 'shares no memory with the memmap')
    # frames gone from a ring are detected
    for i in range(0, first):
        try:
            st.entry(i)
        except ValueError:
            pass
        else:
            raise Failure('overwritten frame %d readable' % i)
    return st


CASES = [
    # format, width, height, frames, options
    ('I420', 317, 241, 7, ['--chunk-bytes', '200000', '--stride-align',
                           '64', '--pad-rows', '2']),
    ('I420', 64, 48, 5, []),
    ('YV12', 30, 20, 3, []),
    ('Y42B', 35, 9, 4, ['--stride-align', '16']),
    ('Y444', 16, 16, 3, ['--chunk-bytes', '1']),
    ('NV12', 64, 48, 13, ['--ring', '5', '--stride-align', '32']),
    ('NV12', 33, 21, 4, []),
    ('NV21', 10, 6, 2, []),
    ('RGB', 33, 17, 5, ['--chunk-bytes', '10000']),
    ('BGR', 7, 3, 2, []),
    ('RGBA', 20, 10, 6, ['--ring', '4']),
    ('BGRA', 20, 10, 2, []),
    ('BGRx', 21, 11, 3, ['--stride-align', '128']),
    ('RGBx', 5, 5, 1, []),
    ('GRAY8', 31, 7, 9, ['--chunk-bytes', '8192']),
    ('GRAY16_LE', 31, 7, 3, ['--stride-align', '16']),
    ('GRAY16_BE', 9, 4, 2, []),
]


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 1
    store_make = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix='store-numpy-') as tmp:
        for n, (fmt, w, h, frames, opts) in enumerate(CASES):
            path = os.path.join(tmp, '%d-%s.store' % (n, fmt))
            subprocess.run([store_make, path, fmt, str(w), str(h),
                            str(frames)] + opts, check=True,
                           stdout=subprocess.DEVNULL)
            ring_max = int(opts[opts.index('--ring') + 1]) \
                if '--ring' in opts else 0
            try:
                st = check_store(path, frames, ring_max)
            except Failure as e:
                print('FAIL %s %dx%d: %s' % (fmt, w, h, e))
                return 1
            print('ok %s %dx%d: %d frames, %d chunk(s), planes %s' % (
                fmt, w, h, frames, st.n_chunks,
                [a.shape for a in st.planes]))
            del st
    return 0


if __name__ == '__main__':
    sys.exit(main())
