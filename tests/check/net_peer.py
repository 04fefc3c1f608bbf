# SPDX-License-Identifier: LGPL-2.1-or-later
"""One end of a transfer of net_transfer.py, run inside a network namespace
(ip netns exec NS python3 net_peer.py ...).

    net_peer.py send PIPELINE --sink SINK [--drop P] [--reorder P]
        [--linger S]
    net_peer.py recv PIPELINE

send: PIPELINE ends in `appsink name=out` (packets, as buffer lists); they
are pushed into `appsrc ! SINK` (udpsink ..., srtsink ...), each packet
dropped with probability --drop (as `identity drop-probability=P` would,
but a list at a time) and every pair of neighbouring packets swapped with
probability --reorder. At
EOS the pipeline stays up --linger seconds (SRT delivers what is in flight
only while its socket is open), then stops. Prints a JSON line: seconds
from the first packet to EOS, packets sent.

recv: PIPELINE runs until SIGINT or SIGTERM, then gets EOS (the store is
closed with every frame) and stops; prints a JSON line with the stats of
the element named `filter` (memmaprtpframefilter), if any.
"""

import json
import random
import signal
import sys
import time

import gi
gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst  # noqa: E402


def bus_wait(pipeline, types, timeout_s):
    msg = pipeline.get_bus().timed_pop_filtered(
        int(timeout_s * Gst.SECOND), types | Gst.MessageType.ERROR)
    if msg and msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        sys.exit('%s: %s (%s)' % (msg.src.get_name(), err.message, dbg))
    return msg


def send_direct(desc, sink_desc, linger):
    """Nothing dropped or reordered: one pipeline, the sink in place of the
    appsink (with its sync)."""
    head, _, tail = desc.rpartition('appsink ')
    sync = 'sync=true' if 'sync=true' in tail else 'sync=false'
    pipeline = Gst.parse_launch(head + sink_desc.replace('sync=false', sync))
    t0 = time.monotonic()
    pipeline.set_state(Gst.State.PLAYING)
    bus_wait(pipeline, Gst.MessageType.EOS, 120)
    seconds = time.monotonic() - t0
    time.sleep(linger)
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps({'seconds': seconds, 'packets': -1}), flush=True)


def send(desc, sink_desc, drop, reorder, linger):
    if drop == 0 and reorder == 0:
        return send_direct(desc, sink_desc, linger)
    src = Gst.parse_launch(desc)
    out = src.get_by_name('out')
    dst = Gst.parse_launch('appsrc name=in format=time ! ' + sink_desc)
    appsrc = dst.get_by_name('in')
    rng = random.Random(1)
    dst.set_state(Gst.State.PLAYING)
    src.set_state(Gst.State.PLAYING)
    packets, t0 = 0, None
    while True:
        sample = out.emit('pull-sample')
        if sample is None:
            break
        if t0 is None:
            t0 = time.monotonic()
            appsrc.set_property('caps', sample.get_caps())
        lst = sample.get_buffer_list()
        if lst is not None:
            bufs = [lst.get(i) for i in range(lst.length())]
        else:
            bufs = [sample.get_buffer()]
        if drop > 0:
            bufs = [b for b in bufs if rng.random() >= drop]
        if reorder > 0:
            i = 0
            while i + 1 < len(bufs):
                if rng.random() < reorder:
                    bufs[i], bufs[i + 1] = bufs[i + 1], bufs[i]
                    i += 1
                i += 1
        new = Gst.BufferList.new_sized(len(bufs))
        for b in bufs:
            new.insert(-1, b)
        packets += len(bufs)
        if appsrc.emit('push-buffer-list', new) != Gst.FlowReturn.OK:
            sys.exit('the sending pipeline stopped')
    seconds = time.monotonic() - (t0 or time.monotonic())
    bus_wait(src, Gst.MessageType.EOS, 5)
    appsrc.emit('end-of-stream')
    bus_wait(dst, Gst.MessageType.EOS, 30)
    time.sleep(linger)
    src.set_state(Gst.State.NULL)
    dst.set_state(Gst.State.NULL)
    print(json.dumps({'seconds': seconds, 'packets': packets}), flush=True)


def recv(desc):
    pipeline = Gst.parse_launch(desc)
    loop = GLib.MainLoop()
    stopping = []

    def stop(*_):
        if not stopping:
            stopping.append(True)
            pipeline.send_event(Gst.Event.new_eos())
        return True

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print('%s: %s (%s)' % (msg.src.get_name(), err.message, dbg),
                  file=sys.stderr)
            loop.quit()
            stopping.append('error')

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect('message', on_message)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    pipeline.set_state(Gst.State.PLAYING)
    print(json.dumps({'ready': True}), flush=True)
    loop.run()
    stats = {}
    f = pipeline.get_by_name('filter')
    if f is not None and f.find_property('stats') is not None:
        s = f.get_property('stats')
        for i in range(s.n_fields()):
            name = s.nth_field_name(i)
            stats[name] = s.get_value(name)
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    print(json.dumps({'stats': stats}), flush=True)
    sys.exit(1 if 'error' in stopping else 0)


def main():
    Gst.init(None)
    args = sys.argv[1:]
    mode, desc = args[0], args[1]
    opts = dict(zip(args[2::2], args[3::2]))
    if mode == 'send':
        send(desc, opts['--sink'], float(opts.get('--drop', 0)),
             float(opts.get('--reorder', 0)),
             float(opts.get('--linger', 0)))
    else:
        recv(desc)


if __name__ == '__main__':
    main()
