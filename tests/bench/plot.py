#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plots of the benchmarks' output, for docs/benchmarks.md.

    meson test -C build --benchmark --print-errorlogs -v NAME
    tests/bench/plot.py --testlog build/meson-logs/testlog.json \
        --images docs/images docs/bench

copies each benchmark's standard output from meson's test log into
OUTDIR/bench-NAME.txt (engine, sink, src, cache; meson rewrites the log at
every run, so run this after each benchmark), then reads those files and
writes IMAGES/bench-*.png (IMAGES defaults to OUTDIR). Without --testlog it
plots the .txt files already in OUTDIR, so the committed plots can be made
again from the committed output. Needs python3-matplotlib (Debian).
"""

import argparse
import json
import os
import re
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

BENCHMARKS = ('engine', 'sink', 'src', 'cache')
RES_COLOURS = {'1080p': '#4878a8', '4K': '#e0883a',
               '720p': '#7fb07f'}
DPI = 110
NUM = r'([-\d.]+)'


# --------------------------------------------------------------------------
# input

def extract_testlog(testlog, outdir):
    """Writes OUTDIR/bench-NAME.txt from meson's testlog.json (the last run of
    each benchmark in the log)."""
    found = {}
    with open(testlog) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            if entry.get('name') in BENCHMARKS:
                found[entry['name']] = entry.get('stdout', '')
    for name, text in found.items():
        with open(os.path.join(outdir, 'bench-%s.txt' % name), 'w') as f:
            f.write(text)
    return sorted(found)


def read_output(outdir, name):
    path = os.path.join(outdir, 'bench-%s.txt' % name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def parse_src(text):
    seq = {}        # (res, mode) -> {contender: dict}
    seeks = {}      # res -> {contender: (median, min, max)}
    per_frame = {}  # case -> (1080p, 4K)
    section = None
    for line in text.splitlines():
        m = re.match(r'^(\S+) I420, (\d+) frames of ([\d.]+) MB, (\d+) runs, '
                     r'(untouched|read) \(frames/s\)', line)
        if m:
            section = ('seq', (m.group(1), m.group(5)))
            seq[section[1]] = {}
            continue
        m = re.match(r'^(\S+): (\d+) random flushing accurate seeks', line)
        if m:
            section = ('seek', m.group(1))
            seeks[m.group(1)] = {}
            continue
        if line.startswith('memmapsrc ! fakesink, us per frame'):
            section = ('frame', None)
            continue
        if section is None:
            continue
        kind, key = section
        if kind == 'seq':
            m = re.match(r'^\s+(\S+)' + r'\s+' .join([''] + [NUM] * 7) +
                         r'\s*$', line)
            if m:
                v = [float(x) for x in m.groups()[1:]]
                seq[key][m.group(1)] = dict(
                    fps=v[0], min=v[1], max=v[2], gbs=v[3], us=v[4],
                    faults=v[5], major=v[6])
        elif kind == 'seek':
            m = re.match(r'^\s+(\S+)\s+' + NUM + r'\s+' + NUM + r'\s+' + NUM +
                         r'\s*$', line)
            if m:
                seeks[key][m.group(1)] = tuple(
                    float(x) for x in m.groups()[1:])
        elif kind == 'frame':
            m = re.match(r'^\s+(\S.*?)\s{2,}' + NUM + r'\s+' + NUM +
                         r'\s+' + NUM + 'x', line)
            if m:
                per_frame[m.group(1).strip()] = (float(m.group(2)),
                                                 float(m.group(3)))
    headline = text.strip().splitlines()[-1] if text.strip() else ''
    return seq, seeks, per_frame, headline


def parse_sink(text):
    tables = {}
    key = None
    for line in text.splitlines():
        m = re.match(r'^(\S+) I420, (\d+) frames of ([\d.]+) MB, (\d+) runs '
                     r'\(frames/s\)', line)
        if m:
            key = m.group(1)
            tables[key] = {}
            continue
        if key:
            # median, min, max, GB/s[, faults/frame]
            m = re.match(r'^\s+(\S+)\s+' + r'\s+'.join([NUM] * 4) +
                         r'(?:\s+' + NUM + r')?\s*$', line)
            if m:
                v = [float(x) for x in m.groups()[1:5]]
                tables[key][m.group(1)] = dict(fps=v[0], min=v[1], max=v[2],
                                               gbs=v[3])
    return tables


def parse_engine(text):
    part1 = {}
    part2 = []
    for line in text.splitlines():
        m = re.match(r'^\s+(engine \(cached\)|open\+mmap\+munmap)\s+' + NUM +
                     r'\s+' + NUM + r'\s+' + NUM + r'\s*$', line)
        if m:
            part1[m.group(1)] = tuple(float(x) for x in m.groups()[1:])
            continue
        m = re.match(r'^\s+(\d+) KiB' + r'\s+'.join([''] + [NUM] * 6) +
                     r'\s*$', line)
        if m:
            part2.append([float(x) for x in m.groups()])
    return part1, part2


def parse_cache(text):
    passes = {}
    seeks = {}
    memory = None
    for line in text.splitlines():
        m = re.match(r'^(\S+): second pass, whole: decode ' + NUM +
                     r' frames/s \(' + NUM + r'\.\.' + NUM + r'\), cached ' +
                     NUM + r' frames/s \(' + NUM + r'\.\.' + NUM + r'\)', line)
        if m:
            v = [float(x) for x in m.groups()[1:]]
            passes[m.group(1)] = dict(decode=v[0:3], cached=v[3:6])
            continue
        m = re.match(r'^(\S+): (\d+) random accurate seeks, (\S+): median ' +
                     NUM + r' us \(' + NUM + r'\.\.' + NUM + r'\)', line)
        if m:
            seeks.setdefault(m.group(1), {})[m.group(3)] = tuple(
                float(x) for x in m.groups()[3:])
            continue
        m = re.match(r'^(\S+): peak resident memory.*decode (\d+) KiB \(' +
                     NUM + r'\.\.' + NUM + r'\), cached (\d+) KiB \(' + NUM +
                     r'\.\.' + NUM + r'\)', line)
        if m:
            v = [float(x) for x in m.groups()[1:]]
            memory = (m.group(1), dict(decode=v[0:3], cached=v[3:6]))
    return passes, seeks, memory


# --------------------------------------------------------------------------
# drawing

def human(v):
    if v >= 100000:
        return '%.0fk' % (v / 1000)
    if v >= 10000:
        return '%.1fk' % (v / 1000)
    if v >= 100:
        return '%.0f' % v
    if v >= 10:
        return '%.1f' % v
    return '%.2f' % v


def grouped_bars(ax, groups, series, values, lows=None, highs=None,
                 log=False, colours=None, label_fmt=human):
    """groups along x, one bar per series in each group."""
    n = len(series)
    width = 0.8 / n
    for j, s in enumerate(series):
        xs = [i + (j - (n - 1) / 2) * width for i in range(len(groups))]
        ys = [values[s].get(g, 0) for g in groups]
        kw = {}
        if lows and highs:
            kw['yerr'] = [[max(0, y - lows[s].get(g, y)) for g, y in
                           zip(groups, ys)],
                          [max(0, highs[s].get(g, y) - y) for g, y in
                           zip(groups, ys)]]
            kw['capsize'] = 3
            kw['error_kw'] = dict(lw=0.8)
        ax.bar(xs, ys, width, label=s,
               color=(colours or RES_COLOURS).get(s), **kw)
        tops = ys
        if lows and highs:
            tops = [max(y, highs[s].get(g, y)) for g, y in zip(groups, ys)]
        for x, y, top in zip(xs, ys, tops):
            if y > 0:
                # above the whisker, where no error bar crosses it
                ax.annotate(label_fmt(y), (x, top), xytext=(0, 2),
                            textcoords='offset points', ha='center',
                            va='bottom', fontsize=6.5)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g.replace('-', '-\n', 1) for g in groups],
                       fontsize=8)
    if log:
        ax.set_yscale('log')
    ax.grid(axis='y', alpha=0.3, which='both')
    ax.set_axisbelow(True)


def save(fig, outdir, name, written):
    path = os.path.join(outdir, 'bench-' + name)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    written.append(path)


def plot_src(text, outdir, written):
    seq, seeks, per_frame, headline = parse_src(text)
    contenders = ['memmapsrc', 'memmapsrc-warm', 'memmapsrc-write', 'filesrc',
                  'shmsrc']
    resolutions = [r for r in ('1080p', '4K') if (r, 'untouched') in seq]

    # sequential reading, frames/s
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, mode, title in zip(axes, ('untouched', 'read'),
                               ('nothing touches the bytes',
                                'a consumer reads every byte')):
        vals = {r: {c: seq[(r, mode)][c]['fps'] for c in contenders
                    if c in seq.get((r, mode), {})} for r in resolutions}
        lows = {r: {c: seq[(r, mode)][c]['min'] for c in vals[r]}
                for r in resolutions}
        highs = {r: {c: seq[(r, mode)][c]['max'] for c in vals[r]}
                 for r in resolutions}
        grouped_bars(ax, contenders, resolutions, vals, lows, highs,
                     log=True)
        ax.set_title('memmapsrc and peers: %s' % title, fontsize=10)
        ax.set_ylabel('frames/s (median, bars: min..max; log)')
        ax.legend(fontsize=8)
    save(fig, outdir, 'src-sequential.png', written)

    # page faults and time per frame when every byte is read
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    vals = {r: {c: seq[(r, 'read')][c]['faults'] for c in contenders}
            for r in resolutions}
    grouped_bars(axes[0], contenders, resolutions, vals)
    axes[0].set_title('minor page faults per frame (every byte read)',
                      fontsize=10)
    axes[0].set_ylabel('faults per frame (median)')
    axes[0].legend(fontsize=8)
    vals = {r: {c: seq[(r, 'read')][c]['us'] for c in contenders}
            for r in resolutions}
    grouped_bars(axes[1], contenders, resolutions, vals, log=True)
    axes[1].set_title('time per frame (every byte read)', fontsize=10)
    axes[1].set_ylabel('us per frame (median; log)')
    axes[1].legend(fontsize=8)
    save(fig, outdir, 'src-faults.png', written)

    # per-frame cost, 4K against 1080p
    if per_frame:
        cases = list(per_frame)
        fig, ax = plt.subplots(figsize=(10, 4.2))
        vals = {'1080p': {c: per_frame[c][0] for c in cases},
                '4K': {c: per_frame[c][1] for c in cases}}
        labels = [c.replace(', ', ',\n') for c in cases]
        grouped_bars(ax, cases, ['1080p', '4K'], vals)
        ax.set_xticklabels(labels, fontsize=8)
        for i, c in enumerate(cases):
            ax.annotate('4K/1080p %.2fx' % (per_frame[c][1] /
                                            per_frame[c][0]),
                        (i, 0), xytext=(0, -34), textcoords='offset points',
                        ha='center', fontsize=7, color='#555555')
        ax.set_title('memmapsrc ! fakesink: us per frame, 4K against 1080p '
                     '(target: 4K within 1.2x)', fontsize=10)
        ax.set_ylabel('us per frame (median)')
        ax.legend(fontsize=8)
        save(fig, outdir, 'src-per-frame.png', written)

    # random access
    if seeks:
        bars, med, lo, hi = [], [], [], []
        for r in ('1080p', '4K'):
            for c in ('memmapsrc', 'avdec_h264'):
                if c in seeks.get(r, {}):
                    bars.append('%s\n%s' % (c, r))
                    med.append(seeks[r][c][0])
                    lo.append(seeks[r][c][1])
                    hi.append(seeks[r][c][2])
        fig, ax = plt.subplots(figsize=(8, 4.2))
        colours = ['#4878a8' if b.startswith('memmapsrc') else '#c44e52'
                   for b in bars]
        ax.bar(range(len(bars)), med, 0.6, color=colours,
               yerr=[[m - a for m, a in zip(med, lo)],
                     [b - m for m, b in zip(med, hi)]],
               capsize=3, error_kw=dict(lw=0.8))
        for i, m in enumerate(med):
            ax.annotate('%s us' % human(m), (i, m), xytext=(6, 2),
                        textcoords='offset points', ha='left', fontsize=8)
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels(bars, fontsize=8)
        ax.set_yscale('log')
        ax.set_ylabel('us from the seek to the frame at the sink (log)')
        ax.set_title('random frame after a flushing accurate seek '
                     '(median, bars: min..max)', fontsize=10)
        ax.grid(axis='y', alpha=0.3, which='both')
        ax.set_axisbelow(True)
        save(fig, outdir, 'src-seek.png', written)

    # the targets
    m = re.search(r'untouched ([\d.]+)x \(1080p\) ([\d.]+)x \(4K\).*'
                  r'every byte read ([\d.]+)x \(1080p\) ([\d.]+)x \(4K\).*'
                  r'4K/1080p per frame ([\d.]+)x \(one pass\) ([\d.]+)x '
                  r'\(loop\).*random frame ([\d.]+)x', headline)
    if m:
        v = [float(x) for x in m.groups()]
        # (label, measured, target, higher is better)
        items = [('untouched\n1080p', v[0], 20, True),
                 ('untouched\n4K', v[1], 20, True),
                 ('every byte\n1080p', v[2], 1.5, True),
                 ('every byte\n4K', v[3], 1.5, True),
                 ('4K/1080p\none pass', v[4], 1.2, False),
                 ('4K/1080p\nloop', v[5], 1.2, False),
                 ('random frame\nvs decoder', v[6], 1000, True)]
        fig, ax = plt.subplots(figsize=(11, 4.2))
        ax.set_yscale('log')
        scores = [m / t if up else t / m for _, m, t, up in items]
        floor = min(scores + [1.0]) / 3
        for i, (label, meas, target, up) in enumerate(items):
            score = scores[i]
            # bars from below the lowest score: a log axis has no zero
            ax.bar(i, score - floor, 0.6, bottom=floor,
                   color='#55a868' if score >= 1 else '#c44e52')
            ax.annotate('%sx\n(target %s%sx)' % (human(meas),
                                                 '>= ' if up else '<= ',
                                                 human(target)),
                        (i, score), xytext=(0, 3), textcoords='offset points',
                        ha='center', fontsize=7)
        ax.axhline(1.0, color='black', lw=0.8)
        ax.set_ylim(floor, max(scores + [1.0]) * 6)
        ax.set_xticks(range(len(items)))
        ax.set_xticklabels([i[0] for i in items], fontsize=8)
        ax.set_ylabel('measured / target (>= 1: met; log)')
        ax.set_title('memmapsrc: the issue\'s targets (green: met)',
                     fontsize=10)
        ax.grid(axis='y', alpha=0.3, which='both')
        ax.set_axisbelow(True)
        save(fig, outdir, 'src-targets.png', written)


def plot_sink(text, outdir, written):
    tables = parse_sink(text)
    if not tables:
        return
    resolutions = [r for r in ('1080p', '4K') if r in tables]
    contenders = list(tables[resolutions[0]])
    fig, ax = plt.subplots(figsize=(11, 4.4))
    vals = {r: {c: tables[r][c]['fps'] for c in contenders}
            for r in resolutions}
    lows = {r: {c: tables[r][c]['min'] for c in contenders}
            for r in resolutions}
    highs = {r: {c: tables[r][c]['max'] for c in contenders}
             for r in resolutions}
    grouped_bars(ax, contenders, resolutions, vals, lows, highs, log=True)
    ax.set_title('videotestsrc into each sink (median, bars: min..max)',
                 fontsize=10)
    ax.set_ylabel('frames/s (log)')
    ax.legend(fontsize=8)
    save(fig, outdir, 'sink.png', written)


def plot_engine(text, outdir, written):
    part1, part2 = parse_engine(text)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4),
                             gridspec_kw=dict(width_ratios=[1, 2]))
    if part1:
        names = list(part1)
        med = [part1[n][0] for n in names]
        axes[0].bar(range(len(names)), med, 0.6, color=['#4878a8', '#c44e52'],
                    yerr=[[m - part1[n][1] for m, n in zip(med, names)],
                          [part1[n][2] - m for m, n in zip(med, names)]],
                    capsize=3)
        for i, m in enumerate(med):
            axes[0].annotate('%.2f us' % m, (i, m), xytext=(8, 3),
                             textcoords='offset points', ha='left',
                             fontsize=8)
        axes[0].set_xticks(range(len(names)))
        axes[0].set_xticklabels(names, fontsize=8)
        axes[0].set_ylabel('us per access (median, bars: min..max)')
        axes[0].set_title('a file read before: cached mapping\nagainst '
                          'open+mmap+munmap', fontsize=10)
        axes[0].grid(axis='y', alpha=0.3)
    if part2:
        kib = [r[0] for r in part2]
        for idx, label, style in ((1, 'read() into a reused buffer', '-o'),
                                  (2, 'mmap', '-s'),
                                  (4, 'engine miss, read()', '--o'),
                                  (5, 'engine miss, mmap', '--s')):
            axes[1].plot(kib, [r[idx] for r in part2], style, label=label,
                         ms=4)
        axes[1].set_xscale('log', base=2)
        axes[1].set_yscale('log')
        axes[1].set_xticks(kib)
        axes[1].set_xticklabels(['%dK' % k if k < 1024 else '%dM' %
                                 (k // 1024) for k in kib], fontsize=7)
        axes[1].set_xlabel('file size')
        axes[1].set_ylabel('us per file, summed once (median; log)')
        axes[1].set_title('read() against mmap of a whole file',
                          fontsize=10)
        axes[1].grid(alpha=0.3, which='both')
        axes[1].legend(fontsize=8)
    save(fig, outdir, 'engine.png', written)


def plot_cache(text, outdir, written):
    passes, seeks, memory = parse_cache(text)
    if not passes:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    groups = list(passes)
    colours = {'decode': '#c44e52', 'cached': '#4878a8'}
    vals = {k: {g: passes[g][k][0] for g in groups} for k in colours}
    lows = {k: {g: passes[g][k][1] for g in groups} for k in colours}
    highs = {k: {g: passes[g][k][2] for g in groups} for k in colours}
    grouped_bars(axes[0], groups, list(colours), vals, lows, highs,
                 log=True, colours=colours)
    axes[0].set_title('second pass of a clip: decode again or memmapcache',
                      fontsize=10)
    axes[0].set_ylabel('frames/s, whole pass (median, bars: min..max; log)')
    axes[0].legend(fontsize=8)
    if seeks:
        groups = list(seeks)
        vals = {k: {g: seeks[g].get(k, (0,))[0] for g in groups}
                for k in colours}
        lows = {k: {g: seeks[g].get(k, (0, 0))[1] for g in groups}
                for k in colours}
        highs = {k: {g: seeks[g].get(k, (0, 0, 0))[2] for g in groups}
                 for k in colours}
        grouped_bars(axes[1], groups, list(colours), vals, lows, highs,
                     log=True, colours=colours)
        axes[1].set_title('random accurate seek, until the frame is at '
                          'the sink', fontsize=10)
        axes[1].set_ylabel('us (median, bars: min..max; log)')
        axes[1].legend(fontsize=8)
    save(fig, outdir, 'cache.png', written)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--testlog', help="meson's testlog.json of a "
                    "'meson test --benchmark' run")
    ap.add_argument('--images', help='where the PNGs go (default: OUTDIR)')
    ap.add_argument('outdir', help='where the .txt outputs are')
    args = ap.parse_args()
    images = args.images or args.outdir

    os.makedirs(args.outdir, exist_ok=True)
    os.makedirs(images, exist_ok=True)
    if args.testlog:
        names = extract_testlog(args.testlog, args.outdir)
        if not names:
            sys.exit('no benchmark output in %s' % args.testlog)

    written = []
    for name, fn in (('src', plot_src), ('sink', plot_sink),
                     ('engine', plot_engine), ('cache', plot_cache)):
        text = read_output(args.outdir, name)
        if text is None:
            print('no output of the %s benchmark in %s' % (name,
                                                          args.outdir))
            continue
        fn(text, images, written)
    for path in written:
        print(path)


if __name__ == '__main__':
    main()
