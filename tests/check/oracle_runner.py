# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs one sequence of operations (plays and seeks) through
``uridecodebin ! [memmapcache !] appsink`` (and the audio branch to its own
appsink) and records what reaches the sinks, for cache_oracle.py.

What is recorded, per operation (a *section*):

- every video buffer: pts, dts, duration, flags (all but TAG_MEMORY, which
  says how memory was handled, not what the frame is) and a checksum of the
  visible bytes of each plane (strides from the GstVideoMeta when there is
  one, else from the caps: padding is ignored);
- every serialized event: STREAM_START (its flags), CAPS, SEGMENT (every
  field but the seqnum and the duration, plus whether the seqnum is the
  seek's), GAP,
  SEGMENT_DONE, EOS (and whether its seqnum is the seek's), FLUSH_STOP;
- the seek's result, and errors posted on the bus.

Determinism: an operation "play N frames" lets exactly N video buffers
reach the sink; the next buffer (or serialized event) waits in a pad probe
until the next operation gives more budget, or a flush (of the next seek)
drops it. What the sink receives is then a function of the operations
alone, whatever the threads do. The audio branch is not held back: what it
receives before a flush depends on timing, so its buffers are kept in
*generations* (a FLUSH_STOP starts the next one) and compared as prefixes
(see cache_oracle.py).
"""

import hashlib
import threading
import time
import traceback

from gi.repository import Gst, GstVideo

# the element under test (cache_oracle.py --element)
ELEMENT = 'memmapcache'

TAG_MEMORY = int(Gst.BufferFlags.TAG_MEMORY)
FLAG_MASK = 0xffffffff & ~TAG_MEMORY

SEEK_FLAG_NAMES = [
    ('FLUSH', Gst.SeekFlags.FLUSH), ('ACCURATE', Gst.SeekFlags.ACCURATE),
    ('KEY_UNIT', Gst.SeekFlags.KEY_UNIT), ('SEGMENT', Gst.SeekFlags.SEGMENT),
    ('SNAP_BEFORE', Gst.SeekFlags.SNAP_BEFORE),
    ('SNAP_AFTER', Gst.SeekFlags.SNAP_AFTER),
]

BUFFER_FLAG_NAMES = [
    ('DISCONT', Gst.BufferFlags.DISCONT), ('GAP', Gst.BufferFlags.GAP),
    ('DELTA', Gst.BufferFlags.DELTA_UNIT),
    ('CORRUPTED', Gst.BufferFlags.CORRUPTED),
    ('DECODE_ONLY', Gst.BufferFlags.DECODE_ONLY),
    ('HEADER', Gst.BufferFlags.HEADER), ('MARKER', Gst.BufferFlags.MARKER),
    ('DROPPABLE', Gst.BufferFlags.DROPPABLE),
    ('RESYNC', Gst.BufferFlags.RESYNC),
    ('INTERLACED', GstVideo.VideoBufferFlags.INTERLACED),
    ('TFF', GstVideo.VideoBufferFlags.TFF),
    ('RFF', GstVideo.VideoBufferFlags.RFF),
    ('ONEFIELD', GstVideo.VideoBufferFlags.ONEFIELD),
]

# the per-frame video flags a frame store can be expected to keep (a
# frame's nature, not a flow's: DISCONT belongs to the flow that carries
# the frame)
FIELD_FLAGS = (int(GstVideo.VideoBufferFlags.INTERLACED) |
               int(GstVideo.VideoBufferFlags.TFF) |
               int(GstVideo.VideoBufferFlags.RFF) |
               int(GstVideo.VideoBufferFlags.ONEFIELD))


def flag_names(flags, table):
    names = [n for n, f in table if flags & int(f)]
    rest = flags & ~sum(int(f) for _, f in table)
    if rest:
        names.append('0x%x' % rest)
    return '|'.join(names) or '0'


def ts(t):
    if t is None or t == Gst.CLOCK_TIME_NONE or t == -1:
        return 'none'
    return '%d.%09d' % (t // Gst.SECOND, t % Gst.SECOND)


def plane_layout(info):
    """[(plane, rows, bytes per visible row)] of a GstVideoInfo."""
    fi = info.finfo
    rows = {}
    for c in range(fi.n_components):
        p = fi.plane[c]
        w = -((-info.width) >> fi.w_sub[c])
        h = -((-info.height) >> fi.h_sub[c])
        nbytes = fi.poffset[c] + fi.pixel_stride[c] * w
        r, b = rows.get(p, (0, 0))
        rows[p] = (max(r, h), max(b, nbytes))
    return [(p, rows[p][0], rows[p][1]) for p in sorted(rows)]


def frame_checksum(buf, info):
    """A checksum of the visible bytes of every plane of @buf (GstVideoMeta
    offsets and strides when the buffer has one, else @info's)."""
    data = buf.extract_dup(0, buf.get_size())
    meta = GstVideo.buffer_get_video_meta(buf)
    if meta is not None:
        offsets, strides = meta.offset, meta.stride
    else:
        offsets, strides = info.offset, info.stride
    h = hashlib.blake2b(digest_size=8)
    for p, rows, nbytes in plane_layout(info):
        off, stride = offsets[p], strides[p]
        if off + stride * (rows - 1) + nbytes > len(data):
            return 'short-buffer(%d)' % len(data)
        if stride == nbytes:
            h.update(data[off:off + stride * rows])
        else:
            for r in range(rows):
                s = off + r * stride
                h.update(data[s:s + nbytes])
    return h.hexdigest()


def bytes_checksum(buf):
    return hashlib.blake2b(buf.extract_dup(0, buf.get_size()),
                           digest_size=8).hexdigest()


def seg_record(ev, seek_seqnum):
    """A segment, without its duration: matroskademux fills that in from
    what it has parsed so far (3.000 s or 3.000333 s for the same seek of
    the same pipeline without memmapcache, depending on timing)."""
    s = ev.parse_segment()
    return ('segment', s.format.value_nick, s.rate, s.applied_rate,
            int(s.flags), s.start, s.stop, s.time, s.base, s.offset,
            s.position,
            None if seek_seqnum is None else ev.get_seqnum() == seek_seqnum)


def describe(rec):
    """One record in words."""
    kind = rec[0]
    if kind == 'buffer':
        _, pts, dts, dur, flags, cks = rec
        return ('buffer pts %s dts %s dur %s flags %s sum %s'
                % (ts(pts), ts(dts), ts(dur),
                   flag_names(flags, BUFFER_FLAG_NAMES), cks))
    if kind == 'segment':
        (_, fmt, rate, arate, flags, start, stop, time_, base, offset,
         pos, sq) = rec
        return ('segment %s rate %g applied %g flags 0x%x start %s stop %s '
                'time %s base %s offset %s position %s%s'
                % (fmt, rate, arate, flags, ts(start), ts(stop), ts(time_),
                   ts(base), ts(offset), ts(pos),
                   '' if sq is None else
                   (' seqnum of the seek' if sq else ' OTHER seqnum')))
    return ' '.join(str(x) for x in rec)


class Recorder:
    """The pad probes of one pipeline and the budget of video buffers."""

    def __init__(self, with_checksums=True):
        self.cond = threading.Condition()
        self.video = []           # sections: lists of records
        self.audio = [[]]         # generations: lists of records
        self.budget = 0           # video buffers the sink may still get
        self.flushing = False     # between FLUSH_START and FLUSH_STOP
        self.ended = False        # EOS or SEGMENT_DONE since the last flush
        self.shutdown = False
        self.seek_seqnum = None
        self.info = None
        self.exceptions = []
        self.audio_seqnum = None
        self.new_section()

    def new_section(self):
        with self.cond:
            self.cur = []
            self.video.append(self.cur)

    # -- video ---------------------------------------------------------
    def _hold(self):
        """Waits while there is no budget; returns False if the object
        must be dropped (a flush came, or the pipeline is going down).
        Called with the condition held."""
        # (a flag, not a count: a FLUSH_START may come between the pad's
        # own flushing check and this wait; nothing enters the chain
        # between FLUSH_START and FLUSH_STOP)
        while self.budget == 0 and not self.shutdown and not self.flushing:
            self.cond.wait()
        return not self.shutdown and not self.flushing

    def video_probe(self, pad, pinfo):
        try:
            return self._video_probe(pinfo)
        except Exception:                       # a bug of the harness
            self.exceptions.append(traceback.format_exc())
            return Gst.PadProbeReturn.OK

    def audio_probe(self, pad, pinfo):
        try:
            return self._audio_probe(pinfo)
        except Exception:
            self.exceptions.append(traceback.format_exc())
            return Gst.PadProbeReturn.OK

    def _video_probe(self, pinfo):
        if pinfo.type & Gst.PadProbeType.BUFFER:
            buf = pinfo.get_buffer()
            with self.cond:
                if not self._hold():
                    return Gst.PadProbeReturn.DROP
                cks = (frame_checksum(buf, self.info) if self.info
                       else bytes_checksum(buf))
                self.cur.append(('buffer', buf.pts, buf.dts, buf.duration,
                                 int(buf.get_flags()) & FLAG_MASK, cks))
                if self.budget is not None:
                    self.budget -= 1
                    if self.budget == 0:
                        self.cond.notify_all()
            return Gst.PadProbeReturn.OK
        ev = pinfo.get_event()
        t = ev.type
        if t == Gst.EventType.FLUSH_START:
            with self.cond:
                self.flushing = True
                self.cond.notify_all()
            return Gst.PadProbeReturn.OK
        if t == Gst.EventType.FLUSH_STOP:
            with self.cond:
                self.flushing = False
                self.ended = False
                self.cur.append(('flush-stop',))
            return Gst.PadProbeReturn.OK
        if not int(t) & int(Gst.EventTypeFlags.SERIALIZED):
            return Gst.PadProbeReturn.OK
        with self.cond:
            if not self._hold():
                return Gst.PadProbeReturn.DROP
            rec = self._event_record(ev)
            if rec is not None:
                self.cur.append(rec)
            if t in (Gst.EventType.EOS, Gst.EventType.SEGMENT_DONE):
                self.ended = True
                self.cond.notify_all()
        return Gst.PadProbeReturn.OK

    def _event_record(self, ev):
        t = ev.type
        if t == Gst.EventType.SEGMENT:
            return seg_record(ev, self.seek_seqnum)
        if t == Gst.EventType.CAPS:
            caps = ev.parse_caps()
            if caps.to_string().startswith('video/'):
                self.info = GstVideo.VideoInfo.new_from_caps(caps)
            return ('caps', caps.to_string())
        if t == Gst.EventType.STREAM_START:
            return ('stream-start', int(ev.parse_stream_flags()))
        if t == Gst.EventType.GAP:
            return ('gap',) + tuple(ev.parse_gap())
        if t == Gst.EventType.SEGMENT_DONE:
            fmt, pos = ev.parse_segment_done()
            return ('segment-done', fmt.value_nick, pos)
        if t == Gst.EventType.EOS:
            return ('eos', None if self.seek_seqnum is None else
                    ev.get_seqnum() == self.seek_seqnum)
        return None                # tags, custom events: not compared

    # -- audio ---------------------------------------------------------
    def _audio_probe(self, pinfo):
        if pinfo.type & Gst.PadProbeType.BUFFER:
            buf = pinfo.get_buffer()
            rec = ('buffer', buf.pts, buf.dts, buf.duration,
                   int(buf.get_flags()) & FLAG_MASK, bytes_checksum(buf))
            with self.cond:
                self.audio[-1].append(rec)
            return Gst.PadProbeReturn.OK
        ev = pinfo.get_event()
        with self.cond:
            if ev.type == Gst.EventType.FLUSH_STOP:
                # the audio branch is not held: its first segment may come
                # after the application's first seek; a generation's
                # segments are checked against the seek that flushed it
                self.audio.append([])
                self.audio_seqnum = self.seek_seqnum
            elif ev.type == Gst.EventType.SEGMENT:
                self.audio[-1].append(seg_record(ev, self.audio_seqnum))
            elif ev.type == Gst.EventType.EOS:
                self.audio[-1].append(('eos',))
            elif ev.type == Gst.EventType.SEGMENT_DONE:
                self.audio[-1].append(('segment-done',))
        return Gst.PadProbeReturn.OK


class Run:
    """One pipeline: uridecodebin ! [memmapcache !] appsink, audio to a
    second appsink."""

    def __init__(self, uri, cache_dir=None, has_audio=False, sync=False,
                 convert=None):
        self.rec = Recorder()
        self.errors = []
        self.warnings = []
        self.pipeline = Gst.Pipeline.new(None)
        self.dec = Gst.ElementFactory.make('uridecodebin', None)
        self.dec.set_property('uri', uri)
        self.pipeline.add(self.dec)
        chain = []
        if convert:
            chain.append(Gst.ElementFactory.make('videoconvert', None))
            cf = Gst.ElementFactory.make('capsfilter', None)
            cf.set_property('caps', Gst.Caps.from_string(
                'video/x-raw,format=%s' % convert))
            chain.append(cf)
        self.cache = None
        if cache_dir is not None:
            self.cache = Gst.ElementFactory.make(ELEMENT, None)
            if self.cache.find_property('cache-dir'):
                self.cache.set_property('cache-dir', cache_dir)
            chain.append(self.cache)
        self.vsink = self._sink(sync)
        chain.append(self.vsink)
        for e in chain:
            self.pipeline.add(e)
        for a, b in zip(chain, chain[1:]):
            a.link(b)
        self.vhead = chain[0]
        self.asink = self._sink(sync) if has_audio else None
        if self.asink:
            self.pipeline.add(self.asink)
            self.asink.get_static_pad('sink').add_probe(
                Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM |
                Gst.PadProbeType.EVENT_FLUSH, self.rec.audio_probe)
        self.vsink.get_static_pad('sink').add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM |
            Gst.PadProbeType.EVENT_FLUSH, self.rec.video_probe)
        self.dec.connect('pad-added', self._pad_added)
        self.video_linked = False
        self.audio_linked = False
        self.bus = self.pipeline.get_bus()
        self.started = False

    @staticmethod
    def _sink(sync):
        s = Gst.ElementFactory.make('appsink', None)
        s.set_property('sync', sync)
        s.set_property('qos', False)
        s.set_property('max-buffers', 1)
        s.set_property('drop', True)
        s.set_property('enable-last-sample', False)
        return s

    def _pad_added(self, dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        target = None
        if name.startswith('video/') and not self.video_linked:
            target, self.video_linked = self.vhead, True
        elif (name.startswith('audio/') and self.asink and
              not self.audio_linked):
            target, self.audio_linked = self.asink, True
        if target is None:
            target = Gst.ElementFactory.make('fakesink', None)
            target.set_property('sync', False)
            self.pipeline.add(target)
            target.sync_state_with_parent()
        pad.link(target.get_static_pad('sink'))

    # -- operations ----------------------------------------------------
    def _poll_bus(self):
        while True:
            msg = self.bus.pop_filtered(Gst.MessageType.ERROR |
                                        Gst.MessageType.WARNING)
            if msg is None:
                return
            if msg.type == Gst.MessageType.ERROR:
                err, dbg = msg.parse_error()
                self.errors.append('%s: %s' % (msg.src.get_name(),
                                               err.message))
                with self.rec.cond:
                    self.rec.cur.append(('error', err.message))
                    self.rec.cond.notify_all()
            else:
                err, dbg = msg.parse_warning()
                self.warnings.append('%s: %s' % (msg.src.get_name(),
                                                 err.message))

    def _wait_section(self, timeout):
        """Waits until the budget is spent, the stream ended or an error
        came; False on a time out."""
        deadline = time.monotonic() + timeout
        while True:
            self._poll_bus()
            with self.rec.cond:
                if self.rec.budget == 0 or self.rec.ended or self.errors:
                    return True
                self.rec.cond.wait(0.02)
            if time.monotonic() > deadline:
                return False

    def play(self, n, timeout=10):
        """Lets @n more video buffers (None: all) reach the sink."""
        with self.rec.cond:
            if self.rec.ended and self.started:
                return True         # nothing more comes without a seek
            self.rec.budget = n
            self.rec.cond.notify_all()
        if not self.started:
            self.started = True
            self.pipeline.set_state(Gst.State.PLAYING)
        ok = self._wait_section(timeout)
        if not ok:
            with self.rec.cond:
                self.rec.cur.append(('stall', 'no frame or end within %ds'
                                     % timeout))
        with self.rec.cond:
            self.rec.budget = 0
        return ok

    def seek(self, rate, fmt, flags, start, stop, timeout=10):
        """A seek from the application (sent to the pipeline, which sends
        it to every sink); records its result. Returns False if it did
        not return within @timeout (the probes are released then)."""
        if start is None or start < 0:
            start_type, start = Gst.SeekType.NONE, -1
        else:
            start_type = Gst.SeekType.SET
        if stop is None or stop < 0:
            stop_type, stop = Gst.SeekType.NONE, -1
        else:
            stop_type = Gst.SeekType.SET
        ev = Gst.Event.new_seek(rate, fmt, flags, start_type, start,
                                stop_type, stop)
        with self.rec.cond:
            self.rec.seek_seqnum = ev.get_seqnum()
        done = threading.Event()
        result = []

        # a frame-number (DEFAULT) seek goes to the video sink: sent to the
        # pipeline it would reach the audio branch too, where DEFAULT means
        # samples (GStreamer 1.22 then seeks the demuxer to either, and a
        # later seek fails); a TIME seek goes to the pipeline, as players do
        target = self.pipeline if fmt == Gst.Format.TIME else self.vsink

        def send():
            result.append(target.send_event(ev))
            done.set()
        t = threading.Thread(target=send, daemon=True)
        t.start()
        if not done.wait(timeout):
            with self.rec.cond:
                self.rec.cur.append(('stall', 'the seek did not return '
                                     'within %ds' % timeout))
            return False
        with self.rec.cond:
            self.rec.cur.append(('seek-result', result[0]))
        return True

    def wait_audio(self, timeout=8):
        """When the video reached its end (EOS, SEGMENT_DONE), waits for the
        audio branch to reach its own, and marks the generation ('waited',):
        from then on, that generation is complete and compared whole."""
        if self.asink is None:
            return
        with self.rec.cond:
            if not self.rec.ended:
                return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.rec.cond:
                g = self.rec.audio[-1]
                if g and g[-1] in (('eos',), ('segment-done',)):
                    break
            time.sleep(0.01)
        with self.rec.cond:
            if ('waited',) not in self.rec.audio[-1]:
                self.rec.audio[-1].append(('waited',))

    def stop(self):
        with self.rec.cond:
            self.rec.shutdown = True
            self.rec.cond.notify_all()
        self._poll_bus()
        self.pipeline.set_state(Gst.State.NULL)
        stats = None
        if self.cache is not None and self.cache.find_property('stats'):
            st = self.cache.get_property('stats')
            stats = st.to_string() if st is not None else None
        return stats
