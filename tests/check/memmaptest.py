# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python tests of tests/check share: their temporary directory
(with a private $XDG_CACHE_HOME in it, so that memmapcache's default cache
directory is the test's own), the skip when numpy or PyGObject is missing,
the path of the gstmemmap package in the source tree, an environment for
the tools without the test run's debug log, and the checks and their
summary.

    import memmaptest as T
    tmp = T.make_tmpdir('gst-memmap-gi-', cache=True)
    T.import_or_skip(['Gst', 'GstMemmap'])
    from gi.repository import Gst, GstMemmap  # noqa: E402
    T.use_package()
    ...
    T.check(cond, "what it says")
    ...
    T.finish(tmp)

Python puts the running script's folder first on sys.path: the tests
import this module from there.
"""

import importlib
import os
import shutil
import sys
import tempfile

SRC = os.environ.get('MEMMAP_SOURCE_ROOT',
                     os.path.join(os.path.dirname(__file__), '..', '..'))
PYDIR = os.path.join(SRC, 'gst', 'python')

failures = []


def make_tmpdir(prefix, cache=False):
    """A new temporary directory; with cache, $XDG_CACHE_HOME in it (set
    before GLib first reads it)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    if cache:
        os.environ['XDG_CACHE_HOME'] = os.path.join(tmp, 'cache')
    return tmp


def import_or_skip(namespaces=(), skip_dir=None):
    """Imports numpy and the GI namespaces (version 1.0); without one of
    them the test exits with status 77 (skipped) and says why (removing
    skip_dir first)."""
    try:
        import numpy  # noqa: F401
        if namespaces:
            import gi
            for ns in namespaces:
                gi.require_version(ns, '1.0')
            for ns in namespaces:
                importlib.import_module('gi.repository.' + ns)
    except (ImportError, ValueError) as e:
        print('skipping: %s' % e)
        if skip_dir:
            shutil.rmtree(skip_dir, ignore_errors=True)
        sys.exit(77)


def use_package():
    """The gstmemmap package (and gstmemmap_numpy) of the source tree."""
    sys.path.insert(0, PYDIR)


def tool_env(drop=('GST_DEBUG', 'GST_TRACERS', 'G_DEBUG')):
    """The environment for a tool or a child whose own output is checked:
    no debug log of the test environment."""
    env = dict(os.environ)
    for var in drop:
        env.pop(var, None)
    return env


def check(cond, what, quiet=False):
    """Records a failure unless cond; prints the check (with quiet, only a
    failure). Returns cond."""
    if not cond:
        failures.append(what)
    if not cond or not quiet:
        print(('ok   ' if cond else 'FAIL ') + what)
    return cond


def finish(tmp=None):
    """Removes tmp; exits 1 listing the failed checks, if any."""
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print('%d check(s) failed:' % len(failures))
        for f in failures:
            print('  ' + f)
        sys.exit(1)
    print('all checks passed')
