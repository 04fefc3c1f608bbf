# SPDX-License-Identifier: LGPL-2.1-or-later
"""Frames of a store to another host (issue 16, part 1): two network
namespaces joined by a veth pair, made by this test (ip netns; it needs
CAP_NET_ADMIN and skips, saying so, without it), a sender in one and a
receiver in the other, through the pipelines of docs/guide.md ("Frames to
another machine"):

- raw video over RTP (RFC 4175) on UDP, both ways, clean; with packets
  dropped on the sending side after the payloader (net_peer.py --drop, what
  `identity drop-probability` does); with neighbouring packets swapped too
  (net_peer.py --reorder) and an rtpjitterbuffer on the receiver;
- H.264 lossless (x264enc quantizer=0) over RTP on UDP and over SRT, clean.

The sender plays the store at its frame rate (50 fps, 553 Mbit/s of raw
video): the namespaces' sockets cannot hold more than rmem_max (4 MiB here)
of a burst, which a receiver on a loaded machine would overflow.

Every frame that arrives must be the sender's frame with the same
timestamp, pixel for pixel (a digest of its visible planes, read through
gstmemmap's views; and `gst-memmap verify` checks the far store's own
checksums, memmapsink checksum=true); on a clean link
all of them arrive; on a lossy one the frames that arrive plus the frames
memmaprtpframefilter counts as lost are the frames sent, and the frame
after each loss is flagged DISCONT.

    net_transfer.py GST_MEMMAP_TOOL NET_PEER_PY
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import memmaptest as T

FRAMES = int(os.environ.get('MEMMAP_NET_FRAMES', '300'))
CAPS_RAW = ('application/x-rtp,media=video,clock-rate=90000,'
            'encoding-name=RAW,sampling=YCbCr-4:2:0,depth=(string)8,'
            'width=(string)1280,height=(string)720,colorimetry=BT709-2,'
            'payload=96,a-framerate=(string)50')
CAPS_H264 = ('application/x-rtp,media=video,clock-rate=90000,'
             'encoding-name=H264,payload=96,a-framerate=(string)50')


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          **kw)


class Net:
    """Two namespaces a and b and a veth pair between them, with names and
    a /30 of 10.x.y.0 unique to this run."""

    def __init__(self):
        tok = '%04x%02x' % (os.getpid() & 0xffff, random.randrange(256))
        self.ns = {'a': 'gstmm-%s-a' % tok, 'b': 'gstmm-%s-b' % tok}
        self.dev = {'a': 'gmv%sa' % tok, 'b': 'gmv%sb' % tok}
        net = '10.%d.%d' % (random.randrange(64, 250), random.randrange(256))
        self.addr = {'a': net + '.1', 'b': net + '.2'}
        self.made = []

    def up(self):
        for k in 'ab':
            run(['ip', 'netns', 'add', self.ns[k]])
            self.made.append(self.ns[k])
        run(['ip', 'link', 'add', self.dev['a'], 'type', 'veth', 'peer',
             'name', self.dev['b']])
        for k in 'ab':
            run(['ip', 'link', 'set', self.dev[k], 'netns', self.ns[k]])
            run(['ip', '-n', self.ns[k], 'addr', 'add',
                 self.addr[k] + '/30', 'dev', self.dev[k]])
            run(['ip', '-n', self.ns[k], 'link', 'set', self.dev[k], 'up'])
            run(['ip', '-n', self.ns[k], 'link', 'set', 'lo', 'up'])

    def down(self):
        for ns in self.made:          # the veth pair goes with them
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        self.made = []

    def exec(self, k, argv):
        return ['ip', 'netns', 'exec', self.ns[k]] + argv


def can_make_namespaces():
    """None, or why namespaces cannot be made here."""
    probe = 'gstmm-probe-%d' % os.getpid()
    try:
        r = subprocess.run(['ip', 'netns', 'add', probe],
                           capture_output=True, text=True)
    except FileNotFoundError:
        return 'no ip command (Debian package iproute2)'
    if r.returncode != 0:
        return ('cannot make a network namespace (CAP_NET_ADMIN needed): %s'
                % r.stderr.strip())
    subprocess.run(['ip', 'netns', 'del', probe], capture_output=True)
    return None


def udp_drops(net, k):
    """Datagrams the kernel of namespace k dropped for a full socket
    buffer (Udp RcvbufErrors of /proc/net/snmp, per namespace)."""
    lines = [l.split() for l in run(net.exec(k, ['cat', '/proc/net/snmp']))
             .stdout.splitlines() if l.startswith('Udp:')]
    return int(dict(zip(lines[0], lines[1]))['RcvbufErrors'])


def store_entries(path):
    """(pts, digest of the pixels, duration, flags) of every frame. The
    digest is of the visible planes (through gstmemmap's views, which
    follow the store's strides): a store written by a decoder into padded
    slots has other bytes, and other checksums, for the same pixels."""
    import gstmemmap
    import hashlib
    import numpy as np
    from gstmemmap.views import StoreFile
    st = StoreFile(path)
    first = st.first_frame()
    ents = [st.entry(i) for i in range(first, st.committed())]
    out = []
    with gstmemmap.VideoReader(path) as vr:
        for k, e in enumerate(ents):
            planes = vr[k]
            h = hashlib.blake2b(digest_size=8)
            for p in (planes if isinstance(planes, tuple) else (planes,)):
                h.update(np.ascontiguousarray(p).tobytes())
            out.append((int(e['pts']), int.from_bytes(h.digest(), 'little'),
                        int(e['duration']), int(e['flags'])))
    return out


def transfer(net, name, tx, rx, send_desc, sink_desc, recv_desc,
             drop=0.0, reorder=0.0, linger=0.0):
    """Runs the receiver in rx and the sender in tx; returns (sender's
    JSON, receiver's stats)."""
    # the peers without the test's debug log and leaks tracer: at 300 000
    # packets a case they would slow the peers below the link's rate
    env = T.tool_env()
    recv = subprocess.Popen(
        net.exec(rx, [sys.executable, PEER, 'recv', recv_desc]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = recv.stdout.readline()
        if 'ready' not in line:
            raise RuntimeError('%s: the receiver did not start: %s %s' % (
                name, line, recv.stderr.read()))
        time.sleep(0.5)
        send = subprocess.run(
            net.exec(tx, [sys.executable, PEER, 'send', send_desc,
                          '--sink', sink_desc, '--drop', str(drop),
                          '--reorder', str(reorder),
                          '--linger', str(linger)]),
            capture_output=True, text=True, timeout=120, env=env)
        if send.returncode != 0:
            raise RuntimeError('%s: the sender failed (%d): %s' % (
                name, send.returncode, send.stderr[-3000:]))
        sent = json.loads(send.stdout.strip().splitlines()[-1])
        time.sleep(1.0)               # what is still in flight
        recv.send_signal(signal.SIGINT)
        out, err = recv.communicate(timeout=60)
        if recv.returncode != 0:
            raise RuntimeError('%s: the receiver failed: %s' % (name, err))
        stats = json.loads(out.strip().splitlines()[-1])['stats']
        return sent, stats
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()


def compare(name, near, far, stats, clean, kernel_drops):
    """The far store against the near one."""
    # the RTP time is the sender's running time: the store's pts less its
    # first frame's (memmapsrc starts its segment there)
    t0 = near[0][0]
    near = [(pts - t0, ck, dur, fl) for pts, ck, dur, fl in near]
    sent = {pts: (ck, dur) for pts, ck, dur, _ in near}
    got = store_entries(far)
    wrong = [pts for pts, ck, dur, _ in got
             if sent.get(pts) != (ck, dur)]
    T.check(not wrong, '%s: every frame that arrived is the sender\'s '
            'frame of that pts, pixel for pixel, with its duration (%d of %d '
            'differ%s)' % (name, len(wrong), len(got),
                           ': pts %s' % wrong[:5] if wrong else ''))
    sums = {ck for _, ck, _, _ in near}
    torn = [pts for pts, ck, _, _ in got if ck not in sums]
    T.check(not torn, '%s: no frame is torn or mixed: the pixels of every '
            'frame that arrived are those of one frame sent (%d are not)'
            % (name, len(torn)))
    pts_got = [g[0] for g in got]
    T.check(pts_got == sorted(set(pts_got)), '%s: the frames are in order, '
            'none twice' % name)
    lost = int(stats.get('frames-lost', 0))
    if clean and kernel_drops == 0:
        T.check(len(got) == len(near), '%s: all %d frames arrived (%d, '
                'lost %d)' % (name, len(near), len(got), lost))
    elif clean:
        # the receiver did not read fast enough: the kernel dropped packets
        # at its socket (rmem_max, 4 MiB here, holds 3 frames), a real loss
        print('     %s: the receiver\'s kernel dropped %d datagrams for a '
              'full socket buffer (a loaded machine): %d frames lost' % (
                  name, kernel_drops, len(near) - len(got)))
        T.check(len(near) - len(got) - 2 <= lost <= len(near) - len(got),
                '%s: the receiver counted the lost frames (%d counted, '
                '%d missing)' % (name, lost, len(near) - len(got)))
    if not clean:
        T.check(0 < len(got) < len(near), '%s: some frames arrived, some '
                'were lost (%d of %d arrived)' % (name, len(got), len(near)))
        # frames lost at the very end leave no later frame to show the gap
        T.check(len(near) - len(got) - 2 <= lost <= len(near) - len(got),
                '%s: the receiver counted the lost frames (%d counted, '
                '%d missing)' % (name, lost, len(near) - len(got)))
        index = {pts: i for i, (pts, _, _, _) in enumerate(near)}
        gaps = [(a, b) for a, b in zip(got, got[1:])
                if index.get(b[0], -1) != index.get(a[0], -3) + 1]
        T.check(all(b[3] & 1 for a, b in gaps), '%s: each of the %d frames '
                'after a gap is flagged DISCONT' % (name, len(gaps)))
        info = subprocess.run([TOOL, 'info', far], capture_output=True,
                              text=True, env=T.tool_env()).stdout
        m = re.search(r'^gaps: +(\d+) frames? missing', info, re.M)
        said = int(m.group(1)) if m else 0
        T.check(len(near) - len(got) - 2 <= said <= len(near) - len(got),
                '%s: gst-memmap info says %d frames are missing (%d are)' % (
                    name, said, len(near) - len(got)))
    v = subprocess.run([TOOL, 'verify', far], capture_output=True,
                       text=True, env=T.tool_env())
    T.check(v.returncode == 0, '%s: gst-memmap verify of the far store '
            'passes%s' % (name, '' if v.returncode == 0 else
                          ': ' + v.stdout + v.stderr))
    return len(got)


def leak_check(tmp):
    """The filter under the leaks tracer on one machine, with packets
    lost (frames dropped whole, held packets at EOS): the peers run without
    the tracer."""
    env = T.tool_env()
    env.update({'GST_TRACERS': 'leaks', 'GST_DEBUG': 'GST_TRACER:7',
                'GST_DEBUG_NO_COLOR': '1'})
    r = subprocess.run(
        ['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=50', '!',
         'video/x-raw,format=I420,width=320,height=240,framerate=50/1', '!',
         'rtpvrawpay', 'timestamp-offset=0', '!', 'identity',
         'drop-probability=0.005', '!', 'memmaprtpframefilter', '!',
         'rtpvrawdepay', '!', 'memmapsink',
         'location=' + os.path.join(tmp, 'leak.store')],
        capture_output=True, text=True, env=env)
    alive = [l for l in r.stderr.splitlines()
             if 'object-alive, type-name=(string)' in l and '%s' not in l]
    T.check(r.returncode == 0 and not alive, 'memmaprtpframefilter with '
            'packets lost leaks nothing under the leaks tracer%s' % (
                ': ' + '\n'.join(alive[:5]) if alive else ''))


def main():
    why = can_make_namespaces()
    if why:
        print('SKIPPED: %s' % why)
        sys.exit(77)
    tmp = T.make_tmpdir('gst-memmap-net-')
    T.import_or_skip(['Gst'], skip_dir=tmp)
    T.use_package()
    near = os.path.join(tmp, 'near.store')
    run(['gst-launch-1.0', '-q', 'videotestsrc', 'num-buffers=%d' % FRAMES,
         'pattern=ball', '!', 'video/x-raw,format=I420,width=1280,'
         'height=720,framerate=50/1', '!', 'memmapsink', 'location=' + near,
         'checksum=true'])
    ref = store_entries(near)
    leak_check(tmp)
    frame_bytes = 1280 * 720 * 3 // 2
    T.check(len(ref) == FRAMES and all(
        b[0] - a[0] == 20000000 for a, b in zip(ref, ref[1:])),
        'the near store holds %d frames, 20 ms apart' % FRAMES)
    net = Net()
    try:
        net.up()
        cases = [
            # name, from, to, transport, drop, reorder
            ('raw RTP a->b', 'a', 'b', 'udp', 0, 0),
            ('raw RTP a->b of a store being recorded (follow=true)', 'a',
             'b', 'udp-follow', 0, 0),
            ('raw RTP b->a', 'b', 'a', 'udp', 0, 0),
            ('raw RTP a->b, 1/5000 packets dropped', 'a', 'b', 'udp',
             0.0002, 0),
            ('raw RTP b->a, dropped and reordered', 'b', 'a', 'udp-jb',
             0.0002, 0.01),
            ('H.264 lossless over SRT a->b', 'a', 'b', 'srt', 0, 0),
            ('H.264 lossless over RTP b->a', 'b', 'a', 'h264', 0, 0),
        ]
        only = os.environ.get('MEMMAP_NET_CASES')   # e.g. "0,3"
        if only:
            cases = [cases[int(i)] for i in only.split(',')]
        for name, tx, rx, kind, drop, reorder in cases:
            far = os.path.join(tmp, 'far-%s.store' % kind)
            port = 5000 + random.randrange(1000)
            src = 'memmapsrc location=%s ! ' % near
            sink = ('memmapsink location=%s checksum=true' % far)
            linger = 0.0
            writer = None
            if kind == 'udp-follow':
                # a live recording in progress: the sender follows it
                live = os.path.join(tmp, 'live.store')
                writer = subprocess.Popen(
                    ['gst-launch-1.0', '-q', 'videotestsrc', 'is-live=true',
                     'num-buffers=%d' % FRAMES, 'pattern=ball', '!',
                     'video/x-raw,format=I420,width=1280,height=720,'
                     'framerate=50/1', '!', 'memmapsink',
                     'location=' + live, 'checksum=true'],
                    env=T.tool_env())
                while not os.path.exists(live) and writer.poll() is None:
                    time.sleep(0.02)
                src = 'memmapsrc location=%s follow=true ! ' % live
            if kind in ('udp', 'udp-jb', 'udp-follow'):
                send = (src + 'rtpvrawpay mtu=1400 timestamp-offset=0 ! '
                        'appsink name=out buffer-list=true sync=true')
                to = ('udpsink host=%s port=%d sync=false' %
                      (net.addr[rx], port))
                jb = ('rtpjitterbuffer latency=300 ! ' if kind == 'udp-jb'
                      else '')
                recv = ('udpsrc address=%s port=%d buffer-size=%d '
                        'caps="%s" ! %smemmaprtpframefilter name=filter ! '
                        'rtpvrawdepay ! %s' % (net.addr[rx], port, 1 << 26,
                                               CAPS_RAW, jb, sink))
            else:
                send = (src + 'x264enc pass=qual quantizer=0 '
                        'speed-preset=ultrafast key-int-max=50 bframes=0 ! '
                        'rtph264pay config-interval=-1 mtu=1316 '
                        'timestamp-offset=0 ! application/x-rtp,'
                        'profile-level-id=(string)f40028 ! '
                        # at the stream's rate: unpaced, x264 outruns the
                        # receiver's decoder on a loaded machine and its
                        # socket buffer overflows
                        'appsink name=out buffer-list=true sync=true')
                if kind == 'srt':
                    # SRT live mode: at the stream's rate (a burst is sent
                    # late and dropped), and the socket kept open after
                    # EOS for what is in flight
                    to = ('srtsink uri="srt://%s:%d?mode=caller&'
                          'latency=500" sync=false' % (net.addr[rx], port))
                    recv = ('srtsrc uri="srt://%s:%d?mode=listener&'
                            'latency=500" ! %s ! ' % (net.addr[rx], port,
                                                      CAPS_H264))
                    linger = 3.0
                else:
                    to = ('udpsink host=%s port=%d sync=false' %
                          (net.addr[rx], port))
                    recv = ('udpsrc address=%s port=%d buffer-size=%d '
                            'caps="%s" ! ' % (net.addr[rx], port, 1 << 26,
                                              CAPS_H264))
                recv += ('memmaprtpframefilter name=filter ! '
                         'rtph264depay wait-for-keyframe=true ! avdec_h264 ! '
                         + sink)
            if os.environ.get('MEMMAP_NET_NO_FILTER'):
                # the negative control: rtpvrawdepay alone stores torn
                # frames, and this test must then fail
                recv = recv.replace('memmaprtpframefilter', 'identity')
            t = time.monotonic()
            drops = udp_drops(net, rx)
            try:
                sent, stats = transfer(net, name, tx, rx, send, to, recv,
                                       drop, reorder, linger)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                T.check(False, '%s: %s' % (name, e))
                if writer is not None:
                    writer.kill()
                    writer.wait()
                continue
            drops = udp_drops(net, rx) - drops
            near_ref = ref
            if writer is not None:
                T.check(writer.wait(timeout=60) == 0, '%s: the recording '
                        'ended well' % name)
                near_ref = store_entries(live)
                T.check(len(near_ref) == FRAMES, '%s: the recording holds '
                        '%d frames' % (name, len(near_ref)))
            n = compare(name, near_ref, far, stats, drop == 0, drops)
            secs = max(sent['seconds'], 1e-3)
            print('     %s: %d frames in %.2f s at the sender: %.1f frames/s, '
                  '%.0f Mbit/s of raw video; %d packets (at least); receiver stats %s; '
                  'whole case %.1f s' % (
                      name, n, secs, FRAMES / secs,
                      FRAMES * frame_bytes * 8 / secs / 1e6,
                      max(sent['packets'], stats.get('packets-passed', 0)),
                      stats, time.monotonic() - t))
            os.unlink(far)
    finally:
        net.down()
    left = [ns for ns in net.ns.values()
            if ns in run(['ip', 'netns', 'list']).stdout]
    T.check(not left, 'the namespaces are gone: %s' % left)
    T.finish(tmp)


if __name__ == '__main__':
    TOOL, PEER = sys.argv[1], sys.argv[2]
    main()
