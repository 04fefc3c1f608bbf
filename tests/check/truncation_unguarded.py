#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The negative control of the truncation tests: the fault guard does the
work (docs/reliability.md, "Truncation under a live mapping").

Usage: truncation_unguarded.py PROGRAM SOURCE.c [PROGRAM SOURCE.c ...]

PROGRAM is a gst-check test program of truncated mappings (libs_truncation,
elements_truncation), SOURCE.c its source, whose `tcase_add_test (tc, NAME)`
lines name its cases. Each case is run on its own (GST_CHECKS=NAME) with
GST_MEMMAP_FAULT_GUARD=0. The cases of UNGUARDED_SIGBUS must then die of
SIGBUS (they pass with the guard on, in the normal run of the same
programs: so the guard is what makes them pass); every other case must
still pass (it makes no fault, or expects one). A case this script does not
know fails it: say here, and in docs/reliability.md, what it does without
the guard.
"""

import os
import re
import subprocess
import sys

# die of SIGBUS with GST_MEMMAP_FAULT_GUARD=0 (docs/reliability.md: 12 of
# 16)
UNGUARDED_SIGBUS = {
    'test_read_past_new_end',
    'test_write_past_new_end',
    'test_reader_after_truncation',
    'test_writer_after_truncation',
    'test_src_store_truncated_while_read',
    'test_sink_store_truncated_while_written',
    'test_cache_store_truncated_while_served',
    # issue 12: a producer writing into cut pages; the session's header page
    # and the readers' pages touched after a cut; memmapsink and memmapcache
    # marking a store damaged in a header page that is gone
    'test_writer_cut_before_commit',
    'test_src_cut_at_every_length',
    'test_sink_cut_at_every_length',
    'test_cache_cut_at_lengths',
    'test_cache_cut_while_recording',
}
# pass with the guard off too: no fault at all (the size check refuses the
# frame), or a fault that must be fatal anyway (someone else's mapping)
UNGUARDED_PASS = {
    'test_foreign_fault_still_fatal',
    'test_reader_refuses_lost_frame',
    # the writer's size check refuses the reservation before any page past
    # the cut is touched
    'test_writer_cut_then_grown_back',
    # no truncation: timestamps in the index
    'test_pts_go_back_only_at_discont',
}

# check's line for a case killed by SIGBUS, or ASan's report of one (the
# asan lane runs this too: ASan's handler takes the SIGBUS)
SIGBUS_RE = re.compile(r'Received signal 7 \(Bus error\)|'
                       r'AddressSanitizer: BUS')


def cases(source):
    with open(source) as f:
        return re.findall(r'tcase_add_test\s*\(\s*\w+\s*,\s*(\w+)\s*\)',
                          f.read())


def run_case(program, name):
    env = dict(os.environ, GST_CHECKS=name, GST_MEMMAP_FAULT_GUARD='0')
    p = subprocess.run([program], env=env, capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout + p.stderr


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        print(__doc__)
        return 2
    if os.environ.get('MEMMAP_UNDER_VALGRIND'):
        # the truncation programs register no case under valgrind
        print('SKIPPED: valgrind does not pass a SIGBUS on to the program')
        return 77
    failures = []
    seen = set()
    died_of_sigbus = 0
    for program, source in zip(args[0::2], args[1::2]):
        names = cases(source)
        if not names:
            failures.append('%s: no tcase_add_test() found' % source)
        for name in names:
            seen.add(name)
            rc, out = run_case(program, name)
            # (a case that passes may report a SIGBUS it made on purpose,
            # as test_foreign_fault_still_fatal does in its child under ASan)
            died = rc != 0 and bool(SIGBUS_RE.search(out))
            died_of_sigbus += died
            if name in UNGUARDED_SIGBUS:
                ok = died
                want = 'it must die of SIGBUS: is the guard doing the work?'
            elif name in UNGUARDED_PASS:
                ok = rc == 0
                want = 'it must pass'
            else:
                ok = False
                want = 'a case unknown here: list it in truncation_unguarded.py'
            print('%s %s: without the guard it %s (exit %d%s)' % (
                'ok  ' if ok else 'FAIL', name,
                'died of SIGBUS' if died else
                ('passed' if rc == 0 else 'failed'),
                rc, '' if ok else '; ' + want))
            if not ok:
                failures.append(name)
                print('    ' + out.strip()[-1500:].replace('\n', '\n    '))
    for name in sorted((UNGUARDED_SIGBUS | UNGUARDED_PASS) - seen):
        failures.append(name)
        print('FAIL %s: listed here, but no program has it' % name)
    print('without the fault guard: %d of %d truncation cases died of SIGBUS'
          % (died_of_sigbus, len(seen)))
    if failures:
        print('%d failure(s): %s' % (len(failures), ', '.join(failures)))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
