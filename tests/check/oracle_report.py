# SPDX-License-Identifier: LGPL-2.1-or-later
"""The totals of cache_oracle.py: what was compared per clip kind and
cache state (or store path: `frames`, `ingest`), which kinds of difference
were found where, one example of each, and the summary lines .ci/run
reads."""

import re


def served(stats):
    """frames-served of a memmapcache stats string (0 if none)."""
    m = re.search(r'frames-served=\(guint64\)(\d+)', stats or '')
    return int(m.group(1)) if m else 0


class Totals:
    COLS = ('seqs', 'frames', 'differ', 'audio', 'differ', 'served',
            'seqs≠')

    def __init__(self):
        self.rows = {}          # (clip, state) -> counters (COLS)
        self.kinds = {}         # (clip, kind) -> {state: n, 'example': ..}
        self.failures = []      # harness-level failures
        self.cuts = []          # sequences cut where the oracle stalled
        self.skips = set()      # parts not run, and why

    def add(self, clip, state, seed, seqtext, r):
        """Adds one compared sequence: @r has frames, frames_differ,
        audio, audio_differ, kinds (kind -> example text), warnings,
        stats."""
        row = self.rows.setdefault((clip, state), [0] * len(self.COLS))
        kinds = r.get('kinds') or {}
        for k, v in enumerate((1, r.get('frames', 0),
                               r.get('frames_differ', 0), r.get('audio', 0),
                               r.get('audio_differ', 0),
                               served(r.get('stats')), 1 if kinds else 0)):
            row[k] += v
        for kind, text in kinds.items():
            e = self.kinds.setdefault((clip, kind), {})
            e[state] = e.get(state, 0) + 1
            if 'example' not in e:
                warnings = r.get('warnings') or []
                e['example'] = (
                    '%s, %s, seed %d\n  again: cache_oracle.py --clips %s '
                    '--states %s --first-seed %d --seeds 1\n'
                    '  sequence: %s\n  %s%s'
                    % (clip, state, seed, clip, state, seed, seqtext, text,
                       ('\n  warnings: %s' % '; '.join(warnings))
                       if warnings else ''))

    def differences(self):
        return (sum(r[-1] for r in self.rows.values()) +
                len(self.failures))

    def print_kinds(self, max_shown):
        if not self.kinds:
            return
        print('\nDIFFERENCES BY KIND (sequences per cache state; an example '
              'of each below)')
        for (clip, kind), e in sorted(self.kinds.items()):
            states = ', '.join('%s %d' % (s, n) for s, n in sorted(e.items())
                               if s != 'example')
            print('  %-12s %-22s %s' % (clip, kind, states))
        shown = 0
        for (clip, kind), e in sorted(self.kinds.items()):
            if shown >= max_shown:
                print('\n(%d more examples not shown: --max-shown)'
                      % (len(self.kinds) - shown))
                break
            print('\nDIFFERENCE [%s] %s' % (kind, e['example']))
            shown += 1

    def print_table(self):
        fmt = '%-12s %-9s' + ' %7s' * len(self.COLS)
        print('\n' + fmt % (('clip', 'cache') + self.COLS))
        tot = [0] * len(self.COLS)
        for (clip, state), r in sorted(self.rows.items()):
            print((fmt % ((clip, state) + tuple(r))).rstrip())
            tot = [a + b for a, b in zip(tot, r)]
        print(fmt % (('total', '') + tuple(tot)))
        return tot
