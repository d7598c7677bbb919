# Small TCP services on the engine API (docs/tcp.md), used by the TCP
# scenario tests (tests/test_tcp_scenario*.py) and handy on a bench:
#   port 7   echo: every byte back; closes after the peer's FIN once drained
#   port 9   sink: counts and hashes; after the peer's FIN replies
#            "<bytes> <sha256 hex>\n" and closes
#   port 10  slow sink: reads nothing for HOLD_MS after accepting (the
#            window closes, the peer probes), then behaves as the sink
#   port 19  source: reads "<n>\n", sends n bytes of pattern(), then FIN
#   port 23  control: "connect <ip> <port> <n>\n" makes the stack connect
#            out, send n bytes of pattern(), half-close, read to EOF, and
#            reply "ok <sent> <received> <sha256 hex of received>\n" or
#            "err <errno>\n"
# pattern(): byte k of a stream is (k * 7 + 3) & 0xFF.
#
# Run alone with the same bring-up as main.py (plus the UDP status reply on
# port 9998 with TCP connections and service counters):
#   micropython firmware/tcp_services.py --board NAME --fd N [--rx B] [--tx B]
#       [--conns N] [--retries N]
import sys

try:
    import hashlib
except ImportError:  # a port without hashlib: digests read "-"
    hashlib = None

from stack import tcp as T

_PAT_LEN = 256 + 1460 * 2
HOLD_MS = 2000
PORTS = (7, 9, 10, 19, 23)


def make_pattern():
    p = bytearray(_PAT_LEN)
    for i in range(_PAT_LEN):
        p[i] = (i * 7 + 3) & 0xFF
    return p


def _hex(h):
    if h is None:
        return "-"
    d = h.digest()
    return "".join("%02x" % b for b in d)


class _Slot:
    """One accepted connection of a service, with its small state."""

    def __init__(self, size):
        self.conn = None
        self.buf = bytearray(size)
        self.pend = 0  # echo: bytes in buf still to send
        self.pos = 0
        self.count = 0
        self.todo = -1
        self.hash = None
        self.line = bytearray(64)
        self.line_n = 0
        self.reply = None
        self.since = 0


class Services:
    def __init__(self, iface, slots=2, chunk=1460):
        self.iface = iface
        self.tcp = iface.tcp
        self.pattern = make_pattern()
        self.lst = {}
        self.slots = {}
        for port in PORTS:
            self.lst[port] = self.tcp.listen(port, 2)
            self.slots[port] = [_Slot(chunk) for _ in range(slots)]
        self.clients = []
        self.stats = {"echo_bytes": 0, "sink_bytes": 0, "source_bytes": 0, "clients": 0}

    def poll(self, now):
        for port in PORTS:
            lst = self.lst[port]
            for s in self.slots[port]:
                if s.conn is None and lst.acceptable():
                    s.conn = self.tcp.accept(lst)
                    s.pend = s.pos = s.count = s.line_n = 0
                    s.todo = -1
                    s.reply = None
                    s.hash = hashlib.sha256() if hashlib and port in (9, 10) else None
                    s.since = now
                if s.conn is not None:
                    try:
                        getattr(self, "_p%d" % port)(s, now)
                    except OSError:
                        s.conn.close()
                        s.conn = None
        for cl in self.clients:
            cl.poll(now)
        self.clients = [cl for cl in self.clients if not cl.done]

    def _finish(self, s):
        s.conn.close()
        s.conn = None

    def _p7(self, s, now):
        c = s.conn
        while True:
            if s.pend:
                k = c.send(s.buf, s.pos, s.pend)
                s.pos += k
                s.pend -= k
                self.stats["echo_bytes"] += k
                if s.pend:
                    return
            n = c.recv_into(s.buf, 0, len(s.buf))
            if n > 0:
                s.pend = n
                s.pos = 0
                continue
            if n == 0 and c.tx_queued() == 0:
                self._finish(s)
            elif n == 0:
                c.shutdown()
            return

    def _p9(self, s, now):
        c = s.conn
        if s.reply is not None:
            self._send_reply(s)
            return
        while True:
            n = c.recv_into(s.buf, 0, len(s.buf))
            if n > 0:
                s.count += n
                if s.hash is not None:
                    s.hash.update(memoryview(s.buf)[:n])
                continue
            if n == 0:
                self.stats["sink_bytes"] += s.count
                s.reply = ("%d %s\n" % (s.count, _hex(s.hash))).encode()
                s.pos = 0
                self._send_reply(s)
            return

    def _p10(self, s, now):
        from stack.clock import ticks_diff

        if ticks_diff(now, s.since) >= HOLD_MS:
            self._p9(s, now)

    def _send_reply(self, s):
        r = s.reply
        s.pos += s.conn.send(r, s.pos, len(r) - s.pos)
        if s.pos >= len(r):
            self._finish(s)

    def _read_line(self, s):
        """A complete line from the connection (str), else None."""
        c = s.conn
        while s.line_n < len(s.line):
            n = c.recv_into(s.line, s.line_n, 1)
            if n <= 0:
                if n == 0 and s.line_n == 0:
                    self._finish(s)
                return None
            if s.line[s.line_n] == 10:
                t = bytes(s.line[: s.line_n]).decode()
                s.line_n = 0
                return t
            s.line_n += 1
        self._finish(s)  # an over-long line
        return None

    def _p19(self, s, now):
        if s.todo < 0:
            t = self._read_line(s)
            if t is None:
                return
            s.todo = int(t)
            s.count = 0
        c = s.conn
        p = self.pattern
        while s.todo > 0:
            n = s.todo if s.todo < 1460 else 1460
            k = c.send(p, s.count & 0xFF, n)
            if k == 0:
                return
            s.count += k
            s.todo -= k
            self.stats["source_bytes"] += k
        self._finish(s)

    def _p23(self, s, now):
        if s.reply is not None:
            if s.reply is True:
                return  # the client is still running
            self._send_reply(s)
            return
        t = self._read_line(s)
        if t is None:
            return
        w = t.split()
        if len(w) == 4 and w[0] == "connect":
            ip = bytes(int(x) for x in w[1].split("."))
            s.reply = True
            self.clients.append(Client(self, s, ip, int(w[2]), int(w[3]), now))
        else:
            s.reply = b"err bad command\n"
            s.pos = 0


class Client:
    """Connect out, send n pattern bytes, half-close, read to EOF."""

    def __init__(self, svc, slot, ip, port, n, now):
        self.svc = svc
        self.slot = slot
        self.todo = n
        self.sent = 0
        self.received = 0
        self.hash = hashlib.sha256() if hashlib else None
        self.buf = bytearray(1460)
        self.done = False
        self.shut = False
        svc.stats["clients"] += 1
        try:
            self.conn = svc.tcp.connect(ip, port, now)
        except OSError as e:
            self._end("err %d\n" % e.args[0])

    def _end(self, text):
        self.done = True
        s = self.slot
        s.reply = text.encode()
        s.pos = 0
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.conn = None

    def poll(self, now):
        if self.done:
            return
        c = self.conn
        if c.error:
            self._end("err %d\n" % c.error)
            return
        if not c.connected():
            return
        try:
            p = self.svc.pattern
            while self.todo > 0:
                n = self.todo if self.todo < 1460 else 1460
                k = c.send(p, self.sent & 0xFF, n)
                if k == 0:
                    break
                self.sent += k
                self.todo -= k
            if self.todo == 0 and not self.shut:
                c.shutdown()
                self.shut = True
            while True:
                n = c.recv_into(self.buf, 0, len(self.buf))
                if n > 0:
                    self.received += n
                    if self.hash is not None:
                        self.hash.update(memoryview(self.buf)[:n])
                    continue
                if n == 0 and self.shut:
                    self._end("ok %d %d %s\n" % (self.sent, self.received, _hex(self.hash)))
                break
        except OSError as e:
            self._end("err %d\n" % e.args[0])


class TCPStatus:
    """UDP port 9998: any datagram gets a JSON reply with the heap after a
    collection, the tcp_* counters and one "state/retransmits" per
    connection. Allocates (json); kept under one datagram."""

    def __init__(self, iface, svc):
        self.iface = iface
        self.svc = svc
        self.sock = iface.udp.socket()
        self.sock.bind(9998)
        self.buf = bytearray(64)
        self.addr = bytearray(6)

    def poll(self, now):
        import gc
        import json

        while self.sock.recv_into_from(self.buf, self.addr) >= 0:
            gc.collect()
            st = self.iface.stats
            doc = {
                "mem_alloc": gc.mem_alloc(),
                "mem_free": gc.mem_free(),
                "tcp": dict((k, st[k]) for k in st if k.startswith("tcp_")),
                "conns": [c["state"] + "/" + str(c["retransmits"]) for c in self.iface.tcp.connections()],
                "svc": self.svc.stats,
            }
            body = json.dumps(doc).encode()
            a = self.addr
            try:
                self.sock.sendto(body, 0, len(body), a, 0, (a[4] << 8) | a[5])
            except OSError:
                pass


def _run(argv):
    import gc
    import time

    from firmware import main as fw

    over = {}
    for flag, field in (
        ("--rx", "tcp_rx_bytes"),
        ("--tx", "tcp_tx_bytes"),
        ("--conns", "tcp_conns"),
        ("--retries", "tcp_max_retries"),
    ):
        if flag in argv:
            i = argv.index(flag)
            over[field] = int(argv[i + 1])
            argv = argv[:i] + argv[i + 2 :]
    opts = fw.parse_args(argv)
    board = fw.load_board(opts)
    cfg = board.config()
    for k in over:
        setattr(cfg, k, over[k])
    cfg.tcp_listeners = 5 if cfg.tcp_listeners < 5 else cfg.tcp_listeners
    board.config = lambda: cfg
    iface = fw.start(opts)
    tcp = T.TCP(iface, cfg)
    svc = Services(iface)
    status = TCPStatus(iface, svc)
    gc.collect()
    print("HEAP used=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
    drv = iface.driver
    tick = 0
    while True:
        now = time.ticks_ms()
        w = iface.poll(now)
        svc.poll(now)
        status.poll(now)
        tick += 1
        if tick % 2000 == 0:
            gc.collect()
        w = iface.poll_at(time.ticks_ms())  # the services may have armed a timer
        if w < 0 or w > 20:
            w = 20
        drv.wait(w)


if __name__ == "__main__":
    _run(sys.argv[1:])
