# A fixed, deterministic TCP workload for counting the stack's cost per
# segment and per request (bench/callgrind.py, bench/calls.py). It runs the
# real stack (Interface -> IPv4 -> TCP -> socket API, and firmware/http.py for
# "http") against a scripted peer inside one process, with a fake clock, so the
# same arguments give the same sequence of calls every run.
#
#   micropython bench/tcp_work.py MODE ROUNDS [WARM]
#
# MODE
#   rx    the peer sends full-size (MSS) segments; the app reads each with
#         readinto(); the stack ACKs as its policy says
#   tx    the app writes one MSS of data per round; the stack sends it; the
#         peer ACKs each data segment (the default 2 KB send ring holds one
#         full segment in flight)
#   http  keep-alive GET / through firmware/http.py (as firmware/web.py sets
#         it up); each request also ACKs the previous response, as wrk does
#   conn  a new connection per request, as `ab` makes them: SYN, the
#         handshake, GET / HTTP/1.0, the server's answer and FIN, the peer's
#         FIN; each round from a new peer port (the stack keeps TIME-WAIT)
#   peer-rx, peer-tx, peer-http, peer-conn
#         the scripted peer and the in-memory driver alone, doing that mode's
#         per-round work without the stack (what the figure subtracts)
# Prints "RESULT mode=... key=value ..." after WARM + ROUNDS rounds; raises
# if the exchange goes wrong (a lost byte, a stall, a bad response).
#
# The peer speaks as Linux does to the stack: MSS 1460 and SACK-permitted on
# its SYN, a 64 KB window, in-order data only. The driver is a memory slot:
# recv_into() copies the peer's frame into the interface's buffer (a real
# driver copies too), send() copies the frame out for the peer to read.
import sys

if sys.implementation.name != "micropython" and "micropython" not in sys.modules:
    import types

    _mp = types.ModuleType("micropython")
    _mp.const = lambda x: x
    _mp.native = _mp.viper = lambda f: f
    _mp.heap_lock = _mp.heap_unlock = lambda: 0
    sys.modules["micropython"] = _mp

from stack import csum, mem
from stack.config import Config
from stack.iface import Interface
from stack.wire import arp as warp
from stack.wire import eth, ip4
from stack.wire import tcp as wtcp

MSS = 1460
PEER_WND = 65535
PEER_PORT = 40000
APP_PORT = 5001
HTTP_PORT = 80
STACK_MAC = b"\x02\x00\x00\x00\x00\x02"
PEER_MAC = b"\x02\xaa\xbb\xcc\xdd\x01"
STACK_IP = b"\xc0\x00\x02\x02"
PEER_IP = b"\xc0\x00\x02\x01"
PEER_ISS = 0x10000000
OUT_SLOTS = 16
REQUEST = b"GET / HTTP/1.1\r\nHost: 192.0.2.2\r\n\r\n"  # what wrk sends
CLOSE_REQUEST = b"GET / HTTP/1.0\r\nHost: 192.0.2.2\r\n\r\n"  # what ab sends
SYN_OPTS = b"\x02\x04\x05\xb4\x01\x01\x04\x02"  # MSS 1460, SACK-permitted
_IP = 14
_L4 = 34
_MAX_POLLS = 50  # polls per round before the round counts as stalled
_ECHO_LEN = 64  # ICMP header + ping's 56 data bytes


class Clock:
    """The one clock: the interface gets it as now_ms, and the modules that
    read ticks_ms() themselves (socket poll, the HTTP server, its page) are
    pointed at it, so timers fire at the same step in every run."""

    def __init__(self):
        self.now = 1000

    def ticks_ms(self):
        return self.now


class MemDriver:
    """The device contract over two memory slots."""

    def __init__(self):
        self.mac = STACK_MAC
        self.stats = {"rx_frames": 0, "tx_frames": 0}
        self.rx = bytearray(1514)
        self.rx_n = 0
        self.out = [bytearray(1514) for _ in range(OUT_SLOTS)]
        self.out_n = [0] * OUT_SLOTS
        self.n_out = 0

    def recv_into(self, buf):
        n = self.rx_n
        if n:
            mem.copy(buf, 0, self.rx, 0, n)
            self.rx_n = 0
        return n

    def send(self, buf, n):
        k = self.n_out
        if k == OUT_SLOTS:
            raise RuntimeError("more than %d frames out in one round" % OUT_SLOTS)
        mem.copy(self.out[k], 0, buf, 0, n)
        self.out_n[k] = n
        self.n_out = k + 1
        return True

    def link_up(self):
        return True

    def wait(self, timeout_ms):
        pass

    def close(self):
        pass


def _u32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def _put_u32(b, o, v):
    b[o] = (v >> 24) & 0xFF
    b[o + 1] = (v >> 16) & 0xFF
    b[o + 2] = (v >> 8) & 0xFF
    b[o + 3] = v & 0xFF


class Peer:
    """The other end: builds frames into the driver's rx slot and reads the
    frames the stack sent. Keeps its sequence state as plain ints (it is the
    bench, not the stack)."""

    def __init__(self, drv, port):
        self.drv = drv
        self.port = port
        self.src_port = PEER_PORT
        self.snd_nxt = PEER_ISS  # next byte the peer sends
        self.snd_una = PEER_ISS
        self.wnd = 0  # the window the stack last advertised
        self.rcv_nxt = 0  # next byte the peer expects from the stack
        self.got = 0  # payload bytes received in order
        self.data_segs = 0
        self.pure_acks = 0
        self.dup = 0
        self.fin = False
        self.last_payload = 0  # offset of the last data segment's payload in its slot
        self.last_slot = -1
        self._shape = -1  # l4 length whose IPv4 header and payload sum are in place
        self._base = 0
        self._dirty = 0  # template bytes after the TCP header to restore
        self.capture = None  # a list: drain() keeps a copy of each frame (for mode "peer")
        self.echo_seq = 0
        # The driver's rx slot is the peer's template: segment() writes only
        # what changes, and recv_into() makes the one copy a driver makes.
        self.frame = drv.rx
        f = self.frame
        eth.write(f, STACK_MAC, 0, PEER_MAC, eth.TYPE_IP4)
        for i in range(MSS):
            f[_L4 + 20 + i] = 97 + i % 26

    def new_connection(self, src_port, iss):
        """Forget the last connection: the next segment() starts another."""
        self.src_port = src_port
        self.snd_nxt = self.snd_una = iss
        self.wnd = 0
        self.rcv_nxt = 0
        self.fin = False

    def arp_request(self):
        b = self.drv.rx
        eth.write(b, b"\xff" * 6, 0, PEER_MAC, eth.TYPE_ARP)
        warp.write(b, eth.HDR_LEN, warp.OP_REQUEST, PEER_MAC, PEER_IP, b"\x00" * 6, 0, STACK_IP, 0)
        self.drv.rx_n = eth.HDR_LEN + warp.LEN
        self._shape = -1

    def echo_request(self):
        """An ICMP echo request as ping sends it (56 data bytes), the next
        sequence number each time, into the driver's rx slot."""
        f = self.frame
        seq = self.echo_seq = (self.echo_seq + 1) & 0xFFFF
        eth.write(f, STACK_MAC, 0, PEER_MAC, eth.TYPE_IP4)
        ip4.write(f, _IP, 20 + _ECHO_LEN, seq, 64, ip4.PROTO_ICMP, PEER_IP, STACK_IP, 0)
        f[_L4] = 8  # echo request, code 0
        f[_L4 + 1] = 0
        f[_L4 + 2] = f[_L4 + 3] = 0
        f[_L4 + 4] = 0x12  # identifier
        f[_L4 + 5] = 0x34
        f[_L4 + 6] = seq >> 8
        f[_L4 + 7] = seq & 0xFF
        c = csum.checksum(f, _L4, _ECHO_LEN, 0)
        f[_L4 + 2] = c >> 8
        f[_L4 + 3] = c & 0xFF
        self.drv.rx_n = _L4 + _ECHO_LEN
        self._shape = -1  # the TCP template's headers are gone

    def segment(self, flags, payload=0, data=None, opts=b""):
        """Put one segment in the driver's rx slot: seq snd_nxt, ack rcv_nxt,
        payload bytes from the template (or data). The IPv4 header and the
        payload's checksum sum are kept per shape, so the peer's own cost per
        segment stays small beside the stack's (mode "peer" measures it)."""
        f = self.frame
        for i in range(self._dirty):
            f[_L4 + 20 + i] = 97 + i % 26
        self._dirty = 0
        hl = 20 + len(opts)
        if data is not None:
            payload = len(data)
            for i in range(payload):
                f[_L4 + hl + i] = data[i]
        elif hl != 20 and payload:
            raise ValueError("options only on a segment without data")
        for i in range(len(opts)):
            f[_L4 + 20 + i] = opts[i]
        l4_len = hl + payload
        if l4_len != self._shape or data is not None:
            self._shape = l4_len if data is None else -1
            eth.write(f, STACK_MAC, 0, PEER_MAC, eth.TYPE_IP4)  # (an ARP frame may have been here)
            ip4.write(f, _IP, 20 + l4_len, 1, 64, ip4.PROTO_TCP, PEER_IP, STACK_IP, 0)
            self._base = csum.pseudo_sum(f, _IP + ip4.SRC, _IP + ip4.DST, ip4.PROTO_TCP, l4_len)
            if payload:
                self._base = csum.sum16(f, _L4 + hl, payload, self._base)
        wtcp.write(f, _L4, self.src_port, self.port, hl, flags, PEER_WND)
        _put_u32(f, _L4 + 4, self.snd_nxt)
        _put_u32(f, _L4 + 8, self.rcv_nxt if flags & wtcp.ACKF else 0)
        c = csum.checksum(f, _L4, hl, self._base)
        f[_L4 + 16] = c >> 8
        f[_L4 + 17] = c & 0xFF
        self.drv.rx_n = _L4 + l4_len
        self.snd_nxt = (self.snd_nxt + payload + (1 if flags & (wtcp.SYN | wtcp.FIN) else 0)) \
            & 0xFFFFFFFF
        # options or request bytes replaced the template's data pattern: the
        # next segment() restores it (this frame waits in the slot until then)
        self._dirty = hl - 20 + (payload if data is not None else 0)

    def usable(self):
        return (self.snd_una + self.wnd - self.snd_nxt) & 0xFFFFFFFF if self.wnd else 0

    def drain(self):
        """Read every frame the stack sent since the last drain."""
        drv = self.drv
        for k in range(drv.n_out):
            b = drv.out[k]
            if self.capture is not None:
                self.capture.append(bytes(b[:drv.out_n[k]]))
            if (b[12] << 8 | b[13]) != eth.TYPE_IP4 or b[_IP + 9] != ip4.PROTO_TCP:
                continue  # an ARP reply or announcement
            ihl = (b[_IP] & 15) << 2
            o = _IP + ihl
            tl = (b[_IP + 2] << 8) | b[_IP + 3]
            hl = (b[o + 12] >> 4) << 2
            dl = tl - ihl - hl
            fl = b[o + 13]
            seq = _u32(b, o + 4)
            if fl & wtcp.RST:
                raise RuntimeError("the stack reset the connection")
            if fl & wtcp.ACKF:
                ack = _u32(b, o + 8)
                if ((ack - self.snd_una) & 0xFFFFFFFF) < 0x80000000:
                    self.snd_una = ack
                self.wnd = (b[o + 14] << 8) | b[o + 15]
            if fl & wtcp.SYN:
                self.rcv_nxt = (seq + 1) & 0xFFFFFFFF
                continue
            if dl > 0:
                if seq == self.rcv_nxt:
                    self.rcv_nxt = (seq + dl) & 0xFFFFFFFF
                    self.got += dl
                    self.data_segs += 1
                    self.last_slot = k
                    self.last_payload = o + hl
                else:
                    self.dup += 1
            elif not fl & wtcp.FIN:
                self.pure_acks += 1
            if fl & wtcp.FIN:
                self.fin = True
                self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFFFFFF
        drv.n_out = 0


_CLOCKED = ("stack.socket", "firmware.http", "firmware.page")


def _point_clock(clock):
    """Point the modules' ticks_ms at the fake clock; returns what to restore
    (the run must not leave a frozen clock behind in the process)."""
    saved = []
    for name in _CLOCKED:
        try:
            mod = __import__(name, None, None, ("ticks_ms",))
        except ImportError:
            continue
        saved.append((mod, mod.ticks_ms))
        mod.ticks_ms = clock.ticks_ms
    return saved


def _restore_clock(saved):
    for mod, fn in saved:
        mod.ticks_ms = fn


def setup(port, clock):
    from stack.tcp import TCP

    drv = MemDriver()
    iface = Interface(drv, Config())  # the unix_tap board's config: the defaults
    TCP(iface, iface.cfg)
    peer = Peer(drv, port)
    iface.poll(clock.now)  # gratuitous ARP
    peer.arp_request()  # the stack learns the peer's MAC (RFC 826 merge)
    iface.poll(clock.now)
    peer.drain()
    return iface, drv, peer


def handshake(iface, peer, clock, after_syn=None):
    peer.segment(wtcp.SYN, opts=SYN_OPTS)
    iface.poll(clock.now)
    peer.drain()
    if not peer.rcv_nxt:
        raise RuntimeError("no SYN-ACK")
    peer.segment(wtcp.ACKF)
    iface.poll(clock.now)
    peer.drain()


def _accept(lsock):
    r = lsock.accept()
    s = r[0]
    s.setblocking(False)
    return s


def _listen(port):
    import stack.socket as ssock

    ls = ssock.socket(ssock.AF_INET, ssock.SOCK_STREAM)
    ls.bind(("0.0.0.0", port))
    ls.listen(2)
    ls.setblocking(False)
    return ls


def run_rx(rounds, warm, clock, mark):
    import stack.socket as ssock

    iface, drv, peer = setup(APP_PORT, clock)
    ssock.attach(iface)
    ls = _listen(APP_PORT)
    handshake(iface, peer, clock)
    s = _accept(ls)
    app = bytearray(4096)
    read = 0
    full = 0
    waits = 0
    for r in range(warm + rounds):
        if r == warm:
            mark(True, peer)
            read = full = waits = 0
            acks0 = peer.pure_acks
        polls = 0
        while peer.usable() < MSS:  # wait for the stack's window to open
            clock.now += 10
            iface.poll(clock.now)
            peer.drain()
            waits += 1
            polls += 1
            if polls > _MAX_POLLS:
                raise RuntimeError("rx: the window stayed below one MSS")
        peer.segment(wtcp.ACKF | wtcp.PSH, MSS)
        clock.now += 1
        iface.poll(clock.now)
        k = s.readinto(app)
        if k is None or k != MSS:
            raise RuntimeError("rx: read %r, not one segment" % (k,))
        read += k
        peer.drain()
        full += 1
    mark(False, peer)
    if app[0] != 97 or app[MSS - 1] != 97 + (MSS - 1) % 26:
        raise RuntimeError("rx: data corrupted")
    return {"mode": "rx", "rounds": rounds, "full_segs": full, "bytes": read,
            "window_waits": waits, "acks_out": peer.pure_acks - acks0}


def run_tx(rounds, warm, clock, mark):
    import stack.socket as ssock

    iface, drv, peer = setup(APP_PORT, clock)
    ssock.attach(iface)
    ls = _listen(APP_PORT)
    handshake(iface, peer, clock)
    s = _accept(ls)
    src = bytearray(MSS)
    for i in range(MSS):
        src[i] = 65 + i % 26
    sent = 0
    for r in range(warm + rounds):
        if r == warm:
            mark(True, peer)
            segs0 = peer.data_segs
            acks0 = peer.pure_acks
            sent = 0
        k = s.write(src, 0, MSS)
        if k != MSS:
            raise RuntimeError("tx: the send ring took %r, not one MSS" % (k,))
        sent += k
        clock.now += 1
        iface.poll(clock.now)
        before = peer.data_segs
        got0 = peer.got
        peer.drain()
        if peer.data_segs != before + 1 or peer.got - got0 != MSS:
            raise RuntimeError("tx: round %d sent %d segments, %d bytes"
                               % (r, peer.data_segs - before, peer.got - got0))
        peer.segment(wtcp.ACKF)  # ACK it; the next poll reads it
        clock.now += 1
        iface.poll(clock.now)
        peer.drain()
    mark(False, peer)
    return {"mode": "tx", "rounds": rounds, "full_segs": peer.data_segs - segs0,
            "bytes": sent, "acks_out": peer.pure_acks - acks0}


def _with_server(body, rounds, warm, clock, mark):
    """body(iface, drv, peer, srv, ...) against firmware/web.py's server, with
    the modules' clocks pointed at the fake one for the run."""
    from firmware import web

    saved = _point_clock(clock)
    try:
        iface, drv, peer = setup(HTTP_PORT, clock)
        srv = web.start(iface, iface.cfg)
        return body(iface, drv, peer, srv, rounds, warm, clock, mark)
    finally:
        _restore_clock(saved)


def run_http(rounds, warm, clock, mark):
    return _with_server(_http, rounds, warm, clock, mark)


def _http(iface, drv, peer, srv, rounds, warm, clock, mark):
    handshake(iface, peer, clock)
    srv.step(0)  # accept
    resp_len = -1
    polls_total = 0
    for r in range(warm + rounds):
        if r == warm:
            mark(True, peer)
            polls_total = 0
            acks0 = peer.pure_acks
        peer.segment(wtcp.ACKF | wtcp.PSH, data=REQUEST)
        clock.now += 1
        got0 = peer.got
        segs0 = peer.data_segs
        polls = 0
        while True:  # firmware/main.py's loop: iface.poll, then the server's step
            iface.poll(clock.now)
            srv.step(0)
            peer.drain()
            polls += 1
            if peer.got > got0 and peer.got - got0 == resp_len:
                break
            if resp_len < 0 and peer.got > got0 and _response_complete(drv, peer, got0):
                resp_len = peer.got - got0
                break
            if polls > _MAX_POLLS:
                raise RuntimeError("http: no complete response in round %d" % r)
        polls_total += polls
        if peer.data_segs - segs0 != 1:
            raise RuntimeError("http: response in %d segments" % (peer.data_segs - segs0))
    mark(False, peer)
    if srv.stats["s2xx"] != warm + rounds:
        raise RuntimeError("http: %d answers 2xx of %d" % (srv.stats["s2xx"], warm + rounds))
    if srv.stats["alloc_blocked"]:
        raise RuntimeError("http: the server's locked step allocated")
    return {"mode": "http", "rounds": rounds, "requests": rounds, "response_bytes": resp_len,
            "polls": polls_total, "acks_out": peer.pure_acks - acks0}


def run_conn(rounds, warm, clock, mark):
    return _with_server(_conn, rounds, warm, clock, mark)


def _conn(iface, drv, peer, srv, rounds, warm, clock, mark):
    got = 0
    for r in range(warm + rounds):
        if r == warm:
            mark(True, peer)
            got = peer.got
        peer.new_connection(PEER_PORT + r, (PEER_ISS + r * 100_000) & 0xFFFFFFFF)
        handshake(iface, peer, clock)
        srv.step(0)  # accept
        peer.segment(wtcp.ACKF | wtcp.PSH, data=CLOSE_REQUEST)
        clock.now += 1
        polls = 0
        while not peer.fin:  # the answer, then the server's FIN
            iface.poll(clock.now)
            srv.step(0)
            peer.drain()
            polls += 1
            if polls > _MAX_POLLS:
                raise RuntimeError("conn: no answer and FIN in round %d" % r)
        peer.segment(wtcp.ACKF | wtcp.FIN)  # ab closes at once: ACK and FIN together
        iface.poll(clock.now)
        srv.step(0)
        peer.drain()
        if peer.snd_una != peer.snd_nxt:
            raise RuntimeError("conn: the peer's FIN not acknowledged in round %d" % r)
    mark(False, peer)
    if srv.stats["s2xx"] != warm + rounds:
        raise RuntimeError("conn: %d answers 2xx of %d" % (srv.stats["s2xx"], warm + rounds))
    if srv.stats["alloc_blocked"]:
        raise RuntimeError("conn: the server's locked step allocated")
    return {"mode": "conn", "rounds": rounds, "connections": rounds,
            "response_bytes": (peer.got - got) // rounds}


def run_echo(rounds, warm, clock, mark):
    return _with_server(_echo, rounds, warm, clock, mark)


def _echo(iface, drv, peer, srv, rounds, warm, clock, mark):
    """A ping per round and one turn of firmware/main.py's loop with its
    services (UDP echo and status, the HTTP server): what each ping costs
    the board, from the frame to the next wait."""
    from firmware.udp_services import Echo, Status

    echo = Echo(iface, iface.mtu)
    status = Status(iface, None)
    for r in range(warm + rounds):
        if r == warm:
            mark(True, peer)
        peer.echo_request()
        clock.now += 1
        now = clock.now
        iface.poll(now)  # firmware/main.py's loop, one turn
        iface.locked(Echo.poll, echo, now)
        if status.pending():
            status.poll(now)
        srv.step(0)
        iface.poll_at(now)
        b = drv.out[0]
        if drv.n_out != 1 or b[_L4] != 0 or b[_L4 + 7] != peer.echo_seq & 0xFF:
            raise RuntimeError("echo: no reply to ping %d" % peer.echo_seq)
        peer.drain()
    mark(False, peer)
    return {"mode": "echo", "rounds": rounds, "replies": rounds}


def _response_complete(drv, peer, got0):
    """The first response: one segment holding the head and the whole body."""
    b = drv.out[peer.last_slot]
    p = peer.last_payload
    head = bytes(b[p:p + 12])
    if head != b"HTTP/1.1 200":
        raise RuntimeError("http: response starts %r" % head)
    text = bytes(b[p:p + peer.got - got0])
    i = text.find(b"Content-Length: ")
    j = text.find(b"\r\n\r\n")
    if i < 0 or j < 0:
        raise RuntimeError("http: no Content-Length or no end of head")
    n = int(text[i + 16:text.find(b"\r\n", i)])
    return len(text) - (j + 4) == n


# What each mode's peer puts on the wire once a round; take() hands each
# segment to the driver as the stack's poll would.
PEER_INPUT = {
    "rx": lambda peer, take: (peer.segment(wtcp.ACKF | wtcp.PSH, MSS), take()),
    "tx": lambda peer, take: (peer.segment(wtcp.ACKF), take()),
    "http": lambda peer, take: (peer.segment(wtcp.ACKF | wtcp.PSH, data=REQUEST), take()),
    "echo": lambda peer, take: (peer.echo_request(), take()),
    "conn": lambda peer, take: (peer.segment(wtcp.SYN, opts=SYN_OPTS), take(),
                                peer.segment(wtcp.ACKF), take(),
                                peer.segment(wtcp.ACKF | wtcp.PSH, data=CLOSE_REQUEST), take(),
                                peer.segment(wtcp.ACKF | wtcp.FIN), take()),
}


def run_peer(mode, rounds, warm, clock, mark):
    """The scripted peer and the in-memory driver of one `mode` round without
    the stack: what run(mode) counts besides the stack, to subtract. One round
    of the real mode is run first to capture the frames the stack sends per
    round; each peer round then builds the mode's input segment, copies it
    through the driver into an interface-sized buffer, copies the captured
    frames through the driver's send slot and reads them with drain()."""
    frames = []

    def capture(on, peer):
        if on:
            peer.capture = frames

    MODES[mode](1, warm, Clock(), capture)
    if not frames:
        raise RuntimeError("peer %s: the stack sent nothing to capture" % mode)
    drv = MemDriver()
    peer = Peer(drv, APP_PORT)
    rx = bytearray(1518)
    build = PEER_INPUT[mode]

    def take():
        drv.recv_into(rx)

    for r in range(warm + rounds):
        if r == warm:
            mark(True, peer)
        build(peer, take)
        clock.now += 1
        for f in frames:
            drv.send(f, len(f))
        peer.drain()
    mark(False, peer)
    return {"mode": "peer-" + mode, "rounds": rounds, "frames_per_round": len(frames)}


MODES = {"rx": run_rx, "tx": run_tx, "http": run_http, "conn": run_conn, "echo": run_echo}


def run(mode, rounds, warm=20, mark=None):
    """mode: rx | tx | http | conn | echo, or peer-MODE (the peer alone)."""
    import stack.socket as ssock

    clock = Clock()
    mark = mark or (lambda on, peer: None)
    attached = ssock._iface  # the workload attaches its own interface; put it back after
    try:
        if mode.startswith("peer-"):
            return run_peer(mode[5:], rounds, warm, clock, mark)
        return MODES[mode](rounds, warm, clock, mark)
    finally:
        ssock.attach(attached)


def main(argv):
    mode = argv[0]
    rounds = int(argv[1])
    warm = int(argv[2]) if len(argv) > 2 else 20
    res = run(mode, rounds, warm)
    print("RESULT " + " ".join("%s=%s" % (k, res[k]) for k in sorted(res)))


if __name__ == "__main__":
    main(sys.argv[1:])
