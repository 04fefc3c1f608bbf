#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every example of the docs: each docs/*.md file and the example launch
lines of the elements' SECTION doc comments (what gst-inspect-1.0 shows).

Usage: doc_examples.py BUILD_ROOT SOURCE_ROOT [FILE.md|FILE.c ...]

Without FILEs: every SOURCE_ROOT/docs/*.md (found when the test runs, so a
new file is covered without a change here) and every plugin/*.c with a
"## Example launch lines" section.

Each file gets a fresh empty directory, and its blocks run there in order
(a block can use the files the blocks before it made). XDG_CACHE_HOME points
into that directory; the build tree's plugin, library, typelib, tools,
pkg-config files and Python helper are found as if installed, and
MEMMAP_BUILD and MEMMAP_SOURCE are set.

Fenced blocks of Markdown are marked by their info string:

  ```sh run env      a prelude: run before every later sh and python block
  ```sh run          run with bash -euo pipefail (after the preludes)
  ```python run      run with /usr/bin/python3 (after the preludes)
  ```python run file=X   written to the file X (importable by later python
                     blocks), and run
  ```c run file=X    written to the file X, for a later sh block to build
  ```c run           a whole program: built against gstreamer-memmap-1.0
                     (-Wall -Werror) and run; exit status 0 expected
  ```c compile       compiled (not linked) after #include <gst/memmap/memmap.h>,
                     -Wall -Werror -Wno-unused-function: for declarations and
                     functions shown without a main()
  display            (with run) autovideosink is replaced by fakesink: the
                     test has no display. The doc says so next to the block.
  stop=N             (with run) every gst-launch-1.0 of the block that still
                     runs after N s is sent SIGINT, as Ctrl-C would (with
                     -e: EOS first). For pipelines that run until Ctrl-C;
                     the doc says so. A gst-launch-1.0 that handled the
                     interrupt (exit status 130, or 0 with -e) succeeded;
                     one killed by a signal, one that exits 130 before it
                     was interrupted, or one still running 20 s after the
                     interrupt fails the block. Without stop=N, an example
                     interrupted (130) fails like any other exit status.
  ```text output     the output of the run block just before it: its lines
                     must appear, in order and together, in what that block
                     printed on stdout (spaces runs count as one).
                     vary=NAME,... lets the parts that change from run to
                     run differ: pid (pid N), date (YYYY-MM-DD HH:MM[:SS]
                     [UTC]), ago ((N s ago)), key (a hex stream key),
                     disk (S MB (N bytes) on disk: the file system's
                     allocation)
  ```text            an example output or a diagram: not run (skipped)
  ```                (no language) the same as text
  ```LANG skip       deliberately not run (skipped)

Any other block fails the test (every example must be run), but one: a sh,
bash, shell or console block whose every command builds or tests the project
itself (meson, ninja, .ci/..., tests/..., build/..., python3 tests/...,
possibly after VAR=value; cd and export lines may come with them) is
skipped as "project suite": the test suite is not run from inside itself. docs/benchmarks.md and
docs/reliability.md show such commands.

The SECTION launch lines of an element (each |[ ... ]| after "## Example
launch lines") run one by one in a fresh directory holding the inputs the
test makes for them (clip.mp4, and for memmapsrc frames.store and
camera.store), with these rules, said here since gtk-doc text has no
markers: autovideosink is replaced by fakesink, and a line that would run
until Ctrl-C (a live source without num-buffers, or loop=true) is stopped
with SIGINT after 2 s.

The test prints how many blocks of each file it ran and skipped, and why.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

BUILD, SOURCE = (os.path.abspath(p) for p in sys.argv[1:3])
FILES = sys.argv[3:]
SH_LANGS = {'sh', 'bash', 'shell', 'console'}
PY_LANGS = {'python', 'py', 'python3'}
TEXT_LANGS = {'', 'text', 'txt', 'output', 'plain'}
BLOCK_TIMEOUT = 120

# commands that build or test the project itself (the "project suite" rule)
SUITE_CMD = re.compile(r'^(sudo\s+)?(meson|ninja|\.ci/|tests/|build/|'
                       r'(/usr/bin/)?python3\s+tests/)')
NEUTRAL_CMD = re.compile(r'^(cd|export)\s')

# gst-launch-1.0 under STOP_HELPER, which sends SIGINT after N s:
# "stop=N" blocks. (The helper's path is filled in by Runner.)
STOP_WRAPPER = '''
gst-launch-1.0 () {
  /usr/bin/python3 "$MEMMAP_DOC_STOP_HELPER" %d gst-launch-1.0 "$@"
}
'''

# Runs a command, sends it SIGINT after N s (as Ctrl-C would) and tells a
# handled interrupt from a death: gst-launch-1.0 exits 130 after it handled
# SIGINT (0 with -e, which sends EOS first); a process killed by a signal
# (the shell would see 128 + N, 130 for SIGINT) fails, and so does a 130
# that was not our interrupt's, or a process that does not stop.
STOP_HELPER = r'''
import signal, subprocess, sys
secs, cmd = float(sys.argv[1]), sys.argv[2:]
p = subprocess.Popen(cmd)
interrupted = False
try:
    p.wait(timeout=secs)
except subprocess.TimeoutExpired:
    interrupted = True
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        sys.exit('doc_examples: %s still ran 20 s after SIGINT: killed'
                 % cmd[0])
rc = p.returncode
if rc < 0:
    sys.exit('doc_examples: %s was killed by signal %d (%s)'
             % (cmd[0], -rc, signal.Signals(-rc).name))
if rc == 130 and not interrupted:
    sys.exit('doc_examples: %s exited 130 (interrupted) before it was '
             'stopped' % cmd[0])
if interrupted and rc in (0, 130):
    print('doc_examples: %s stopped with SIGINT after %g s, as the doc says'
          % (cmd[0], secs), file=sys.stderr)
    sys.exit(0)
sys.exit(rc)
'''

# the parts of a stated output that change from run to run (vary=NAME)
VARY = {
    'pid': (re.compile(r'\bpid \d+'), 'pid N'),
    'date': (re.compile(r'\b\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?( UTC)?'),
             'DATE'),
    'ago': (re.compile(r'\(\d+ s ago\)'), '(N s ago)'),
    'key': (re.compile(r'\b[0-9a-f]{16,64}\b'), 'KEY'),
    # blocks a file takes on disk: up to the file system's allocation
    'disk': (re.compile(r'[\d.]+ [kMGT]?B \(\d+ bytes\) on disk'),
             'SIZE on disk'),
}

# a clip for every file: 2 s of 320x240 H.264 with B-frames
CLIP_CMD = ('gst-launch-1.0 -q videotestsrc num-buffers=60 pattern=ball ! '
            'video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! '
            'x264enc bframes=2 key-int-max=30 ! mp4mux ! '
            'filesink location=clip.mp4')

# the inputs of the SECTION launch lines, per element
SECTION_INPUTS = {
    'memmapsrc': [
        'gst-launch-1.0 -q videotestsrc num-buffers=200 ! '
        'video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! '
        'memmapsink location=frames.store',
        'gst-launch-1.0 -q videotestsrc is-live=true num-buffers=30 ! '
        'video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! '
        'memmapsink location=camera.store',
    ],
}


def md_blocks(path):
    """(line number, info words, text) of every fenced block."""
    out = []
    fence = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if fence is None:
                m = re.match(r'^\s*(```+|~~~+)\s*(.*)$', line)
                if m:
                    fence, info, start, body = m.group(1), m.group(2), n, []
            elif line.strip() == fence:
                out.append((start, info.split(), ''.join(body)))
                fence = None
            else:
                body.append(line + '\n')
    if fence is not None:
        sys.exit('%s:%d: unterminated code block' % (path, start))
    return out


def section_lines(path):
    """(line number, element, launch line) of the SECTION's examples."""
    out = []
    element = None
    in_examples = False
    with open(path) as f:
        lines = f.read().split('\n')
    n = 0
    while n < len(lines):
        line = re.sub(r'^\s*\*\s?', '', lines[n])
        m = re.match(r'SECTION:element-(\S+)', line)
        if m:
            element, in_examples = m.group(1), False
        elif element and line.startswith('## Example launch line'):
            in_examples = True
        elif element and in_examples and line.startswith('## '):
            in_examples = False
        elif element and in_examples and line.strip() == '|[':
            start, body = n + 1, []
            n += 1
            while not re.sub(r'^\s*\*\s?', '', lines[n]).startswith(']|'):
                body.append(re.sub(r'^\s*\*\s?', '', lines[n]))
                n += 1
            out.append((start + 1, element, '\n'.join(body).strip()))
        elif element and '*/' in lines[n]:
            element = None
        n += 1
    return out


def suite_only(lang, text):
    """Whether every command of a shell block builds or tests the project."""
    cmds = []
    cont = False
    for line in text.split('\n'):
        s = line.strip()
        if lang == 'console' and not cont:
            if not s.startswith('$ '):
                continue          # output
            s = s[2:].strip()
        was_cont, cont = cont, s.endswith('\\')
        s = s.rstrip('\\').strip()
        if was_cont:
            cmds[-1] += ' ' + s   # a continuation line: one command
        elif s and not s.startswith('#'):
            cmds.append(s)
    # VAR=value before a command is part of it
    cmds = [re.sub(r'^(\w+=\S*\s+)+', '', c) for c in cmds]
    real = [c for c in cmds if not NEUTRAL_CMD.match(c)]
    return bool(real) and all(SUITE_CMD.match(c) for c in real)


class Runner:
    def __init__(self, top):
        self.top = top
        self.failures = []
        self.summary = []
        self.env = dict(os.environ)
        for var in ('GST_DEBUG', 'GST_TRACERS', 'GST_DEBUG_NO_COLOR'):
            self.env.pop(var, None)
        b = BUILD
        self.env.update({
            'MEMMAP_BUILD': b,
            'MEMMAP_SOURCE': SOURCE,
            'GST_PLUGIN_PATH_1_0': os.path.join(b, 'plugin'),
            'GI_TYPELIB_PATH': os.path.join(b, 'gst', 'memmap'),
            'LD_LIBRARY_PATH': os.path.join(b, 'gst', 'memmap'),
            'PKG_CONFIG_PATH': os.path.join(b, 'meson-uninstalled'),
            'PYTHONPATH': os.path.join(SOURCE, 'gst', 'python'),
            'PATH': os.path.join(b, 'gst', 'tools') + ':/usr/bin:' +
                    self.env.get('PATH', '/bin'),
            # one registry for the whole run, outside every example's dir
            'GST_REGISTRY_1_0': os.path.join(top, 'registry.bin'),
        })
        self.clip = None
        helper = os.path.join(top, 'stop-helper.py')
        with open(helper, 'w') as f:
            f.write(STOP_HELPER)
        self.env['MEMMAP_DOC_STOP_HELPER'] = helper

    def fresh_dir(self, name):
        d = tempfile.mkdtemp(prefix=re.sub(r'\W', '_', name) + '-',
                             dir=self.top)
        env = dict(self.env)
        env['XDG_CACHE_HOME'] = os.path.join(d, '.cache')
        return d, env

    def sh(self, where, script, cwd, env, shown):
        """Runs @script; returns its stdout, or None if it failed."""
        t0 = time.monotonic()
        try:
            p = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                               cwd=cwd, env=env, capture_output=True,
                               text=True, timeout=BLOCK_TIMEOUT)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = 'timeout (%d s)' % BLOCK_TIMEOUT, \
                str(e.stdout or ''), str(e.stderr or '')
        dt = time.monotonic() - t0
        if rc != 0:
            print('FAIL %s: exit %s\n--- example:\n%s\n--- stdout:\n%s--- '
                  'stderr:\n%s' % (where, rc, shown.rstrip('\n'), out, err))
            self.failures.append(where)
            return None
        print('ok   %s (%.1f s)' % (where, dt))
        if out.strip():
            print('     ' + out.strip()[-2000:].replace('\n', '\n     '))
        for line in err.splitlines():
            if line.startswith('doc_examples: '):
                print('     ' + line)
        return out

    def check_output(self, where, stated, actual, marks):
        """The stated output's lines appear together in @actual."""
        names = [n for w in marks if w.startswith('vary=')
                 for n in w[5:].split(',')]
        unknown = [n for n in names if n not in VARY]
        if unknown:
            print('FAIL %s: unknown vary=%s (known: %s)' % (
                where, ','.join(unknown), ', '.join(sorted(VARY))))
            self.failures.append(where)
            return

        def norm(text):
            lines = []
            for line in text.split('\n'):
                for n in names:
                    line = VARY[n][0].sub(VARY[n][1], line)
                lines.append(' '.join(line.split()))
            while lines and not lines[-1]:
                lines.pop()
            while lines and not lines[0]:
                lines.pop(0)
            return lines

        want, got = norm(stated), norm(actual)
        for i in range(len(got) - len(want) + 1):
            if got[i:i + len(want)] == want:
                print('ok   %s: the stated output (%d lines) is what the '
                      'example printed' % (where, len(want)))
                return
        print('FAIL %s: the example did not print the stated output\n'
              '--- stated (normalised):\n%s\n--- printed (normalised):\n%s'
              % (where, '\n'.join(want), '\n'.join(got)))
        self.failures.append(where)

    def make_clip(self):
        if self.clip is None:
            d, env = self.fresh_dir('clip')
            if self.sh('clip.mp4 (input)', CLIP_CMD, d, env,
                       CLIP_CMD) is None:
                sys.exit('cannot make the input clip')
            self.clip = os.path.join(d, 'clip.mp4')
        return self.clip

    def run_markdown(self, path):
        name = os.path.relpath(path, SOURCE)
        work, env = self.fresh_dir(os.path.basename(path))
        preludes = []
        ran, skipped = 0, {}
        last_out = None         # stdout of the last block run, if it passed

        def skip(why):
            skipped[why] = skipped.get(why, 0) + 1

        for n, info, text in md_blocks(path):
            lang = info[0].lower() if info else ''
            marks = info[1:]
            where = '%s:%d' % (name, n)
            if lang in TEXT_LANGS and marks and marks[0] == 'output':
                if last_out is None:
                    print('FAIL %s: a stated output with no example run '
                          'just before it (or that example failed)' % where)
                    self.failures.append(where)
                else:
                    self.check_output(where, text, last_out, marks[1:])
                ran += 1
                last_out = None
                continue
            last_out = None
            if lang in TEXT_LANGS and not marks:
                skip('text')
                continue
            if 'skip' in marks:
                print('skip %s: marked skip' % where)
                skip('marked skip')
                continue
            if 'run' not in marks and 'compile' not in marks:
                if lang in SH_LANGS and suite_only(lang, text):
                    print('skip %s: builds or tests the project' % where)
                    skip('project suite')
                    continue
                print('FAIL %s: a %s block not marked "run" (nor text, '
                      'skip, compile)' % (where, lang or 'plain'))
                self.failures.append(where)
                continue
            stops = [int(w[5:]) for w in marks if w.startswith('stop=')]
            files = [w[5:] for w in marks if w.startswith('file=')]
            if 'display' in marks:
                text = text.replace('autovideosink', 'fakesink')
            wrapper = STOP_WRAPPER % stops[0] if stops else ''
            if lang in SH_LANGS and 'env' in marks:
                preludes.append(text)
                continue
            if lang == 'c':
                ran += self.run_c(where, text, marks, files, work, env)
                continue
            if lang in SH_LANGS:
                script = '\n'.join(preludes + [wrapper, text])
            elif lang in PY_LANGS:
                py = os.path.join(work, files[0] if files else
                                  '.block-%d.py' % n)
                with open(py, 'w') as f:
                    f.write(text)
                script = '\n'.join(preludes +
                                   ['/usr/bin/python3 ' + shlex.quote(py)])
            else:
                print('FAIL %s: cannot run a %s block' % (where, lang))
                self.failures.append(where)
                continue
            last_out = self.sh(where, script, work, env, text)
            ran += 1
        self.summary.append((name, ran, skipped))

    def run_c(self, where, text, marks, files, work, env):
        if files:
            with open(os.path.join(work, files[0]), 'w') as f:
                f.write(text)
            print('ok   %s: wrote %s' % (where, files[0]))
            return 1
        src = os.path.join(work, '.block-%s.c' % where.split(':')[-1])
        pc = '$(pkg-config --cflags --libs gstreamer-memmap-1.0)'
        if 'compile' in marks:
            with open(src, 'w') as f:
                f.write('#include <gst/memmap/memmap.h>\n' + text)
            script = ('cc -std=c11 -Wall -Werror -Wno-unused-function -c %s '
                      '-o /dev/null %s' % (shlex.quote(src), pc))
        else:
            with open(src, 'w') as f:
                f.write(text)
            script = ('cc -std=c11 -Wall -Werror %s -o .block %s && ./.block'
                      % (shlex.quote(src), pc))
        self.sh(where, script, work, env, text)
        return 1

    def run_sections(self, path):
        name = os.path.relpath(path, SOURCE)
        lines = section_lines(path)
        if not lines:
            return
        dirs = {}
        ran = 0
        for n, element, line in lines:
            where = '%s:%d (%s)' % (name, n, element)
            if element not in dirs:
                d, env = self.fresh_dir(element)
                shutil.copy(self.make_clip(), d)
                for cmd in SECTION_INPUTS.get(element, []):
                    if self.sh('%s inputs' % element, cmd, d, env,
                               cmd) is None:
                        self.failures.append(where)
                dirs[element] = (d, env)
            d, env = dirs[element]
            run = line.replace('autovideosink', 'fakesink')
            endless = (('num-buffers=' not in run and
                        ('is-live=true' in run or 'loop=true' in run)) or
                       run.startswith('gst-launch-1.0 udpsrc'))
            script = (STOP_WRAPPER % 2 if endless else '') + run
            self.sh(where, script, d, env, line)
            ran += 1
        self.summary.append((name + ' (SECTION)', ran, {}))


def main():
    files = FILES or (sorted(glob.glob(os.path.join(SOURCE, 'docs', '*.md'))) +
                      sorted(glob.glob(os.path.join(SOURCE, 'plugin', '*.c'))))
    top = tempfile.mkdtemp(prefix='gst-memmap-docs-')
    try:
        r = Runner(top)
        for path in files:
            path = os.path.abspath(path)
            if path.endswith('.md'):
                r.run_markdown(path)
            elif path.endswith('.c'):
                r.run_sections(path)
        total_ran = 0
        print('\n%-32s %5s  %s' % ('file', 'ran', 'skipped'))
        for name, ran, skipped in r.summary:
            total_ran += ran
            print('%-32s %5d  %s' % (name, ran, ', '.join(
                '%d %s' % (v, k) for k, v in sorted(skipped.items()))
                or '0'))
        if total_ran == 0:
            r.failures.append('no example ran')
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if r.failures:
        print('%d example(s) failed: %s' % (len(r.failures),
                                             ', '.join(r.failures)))
        return 1
    print('every example ran')
    return 0


if __name__ == '__main__':
    sys.exit(main())
