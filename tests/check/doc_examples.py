#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every example of a Markdown guide, in order, in one empty directory.

Usage: doc_examples.py GUIDE.md BUILD_ROOT SOURCE_ROOT

Fenced blocks are marked by their info string:

  ```sh run env      a prelude: run before every later sh and python block
  ```sh run          run with bash -euo pipefail (after the preludes)
  ```python run      run with /usr/bin/python3 (after the preludes)
  ```c run file=X    written to the file X, for a later sh block to build
  ```text            an example output: not run

A block in sh, bash, python or c that is not marked `run` fails the test:
every example of the guide must be run. MEMMAP_BUILD and MEMMAP_SOURCE are
set for the preludes; XDG_CACHE_HOME points into the directory.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

GUIDE, BUILD, SOURCE = sys.argv[1:4]
CODE_LANGS = {'sh', 'bash', 'shell', 'console', 'python', 'py', 'c'}


def blocks(path):
    """(line number, info words, text) of every fenced block."""
    out = []
    fence = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if fence is None:
                m = re.match(r'^(```+)\s*(.*)$', line.rstrip('\n'))
                if m:
                    fence, info, start, body = m.group(1), m.group(2), n, []
            elif line.rstrip('\n') == fence:
                out.append((start, info.split(), ''.join(body)))
                fence = None
            else:
                body.append(line)
    if fence is not None:
        sys.exit('%s:%d: unterminated code block' % (path, start))
    return out


failures = []
work = tempfile.mkdtemp(prefix='gst-memmap-guide-')
try:
    env = dict(os.environ)
    for var in ('GST_DEBUG', 'GST_TRACERS'):
        env.pop(var, None)
    env['MEMMAP_BUILD'] = os.path.abspath(BUILD)
    env['MEMMAP_SOURCE'] = os.path.abspath(SOURCE)
    env['XDG_CACHE_HOME'] = os.path.join(work, '.cache')
    preludes = []
    ran = 0
    for n, info, text in blocks(GUIDE):
        lang = info[0] if info else ''
        where = '%s:%d' % (os.path.basename(GUIDE), n)
        if 'run' not in info:
            if lang in CODE_LANGS:
                print('FAIL %s: a %s block not marked "run"' % (where, lang))
                failures.append(where)
            continue
        if lang == 'sh' and 'env' in info:
            preludes.append(text)
            continue
        if lang == 'c':
            files = [w[5:] for w in info if w.startswith('file=')]
            if not files:
                print('FAIL %s: a C block without file=' % where)
                failures.append(where)
                continue
            with open(os.path.join(work, files[0]), 'w') as f:
                f.write(text)
            print('ok   %s: wrote %s' % (where, files[0]))
            continue
        if lang == 'sh':
            script = '\n'.join(preludes + [text])
        elif lang == 'python':
            py = os.path.join(work, '.block-%d.py' % n)
            with open(py, 'w') as f:
                f.write(text)
            script = '\n'.join(preludes + ['/usr/bin/python3 ' + py])
        else:
            print('FAIL %s: cannot run a %s block' % (where, lang))
            failures.append(where)
            continue
        p = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                           cwd=work, env=env, capture_output=True, text=True,
                           timeout=300)
        ran += 1
        if p.returncode != 0:
            print('FAIL %s: exit %d\n--- block:\n%s--- stdout:\n%s--- '
                  'stderr:\n%s' % (where, p.returncode, text, p.stdout,
                                   p.stderr))
            failures.append(where)
        else:
            print('ok   %s (%s)' % (where, lang))
            if p.stdout.strip():
                print('     ' + p.stdout.strip().replace('\n', '\n     '))
    if ran == 0:
        failures.append('no example ran')
finally:
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print('%d example(s) failed: %s' % (len(failures), ', '.join(failures)))
    sys.exit(1)
print('every example ran')
