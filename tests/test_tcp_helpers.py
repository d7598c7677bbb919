# Packet-trace helpers for the TCP tests: a fake Interface that records every
# segment the engine sends, a segment builder, and a decoder. Runs on CPython
# and (tests/tcp_mp_unit.py) in the MicroPython unix port.
from stack import csum
from stack.config import Config
from stack.tcp import TCP
from stack.wire import ip4
from stack.wire import tcp as wtcp

US = bytes((192, 0, 2, 2))
PEER = bytes((192, 0, 2, 1))
IP_OFF = 14
L4_OFF = 34

FLAG_NAMES = (("F", 1), ("S", 2), ("R", 4), ("P", 8), ("A", 16))


class FakeIface:
    """Enough of stack.iface.Interface for TCP: tx_buf, send_ip4, stats, ip."""

    def __init__(self, mtu=1500):
        self.mtu = mtu
        self.ip = bytearray(US)
        self.netmask = bytearray((255, 255, 255, 0))
        self.stats = {}
        self.tx_buf = bytearray(mtu + 14)
        self.tcp = None
        self.sent = []  # decoded segments
        self.keep = True

    gen = 0
    in_poll = False

    def locked(self, fn, c, now):
        fn(c, now)  # (the real Interface locks the heap around it)

    def header(self, hdr, proto, dst, dst_off):
        return -1  # no reusable headers: every segment goes through send_ip4

    def send_ip4(self, buf, proto, dst, dst_off, l4_len):
        assert proto == ip4.PROTO_TCP
        if self.keep:
            self.sent.append(decode(buf, L4_OFF, l4_len, bytes(dst[dst_off : dst_off + 4])))
        return True


class Seg:
    def __init__(self, **kw):
        for k in kw:
            setattr(self, k, kw[k])

    def __repr__(self):
        return "<%s seq=%d ack=%d win=%d len=%d%s>" % (
            self.flags,
            self.seq,
            self.ack,
            self.win,
            len(self.data),
            " mss=%d" % self.mss if self.mss else "",
        )


def flag_str(f):
    return "".join(n for n, b in FLAG_NAMES if f & b) or "-"


def _options(buf, o, hl):
    """(sack_permitted, [(left, right), ...]) from the header's options."""
    ok = False
    blocks = []
    i = o + 20
    while i < o + hl:
        k = buf[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        ln = buf[i + 1]
        if k == 4:
            ok = True
        elif k == 5:
            for j in range(i + 2, i + ln, 8):
                blocks.append((
                    (buf[j] << 24) | (buf[j + 1] << 16) | (buf[j + 2] << 8) | buf[j + 3],
                    (buf[j + 4] << 24) | (buf[j + 5] << 16) | (buf[j + 6] << 8) | buf[j + 7],
                ))
        i += ln
    return ok, blocks


def decode(buf, o, n, dst=PEER):
    hl = wtcp.check(buf, o, n)
    assert hl >= 20
    sack_ok, sack = _options(buf, o, hl)
    return Seg(
        sack_ok=sack_ok,
        sack=sack,
        sport=wtcp.src_port(buf, o),
        dport=wtcp.dst_port(buf, o),
        seq=(wtcp.hi16(buf, o, 4) << 16) | wtcp.lo16(buf, o, 4),
        ack=(wtcp.hi16(buf, o, 8) << 16) | wtcp.lo16(buf, o, 8),
        flags=flag_str(wtcp.flags(buf, o)),
        win=wtcp.window(buf, o),
        mss=wtcp.parse_mss(buf, o, hl),
        data=bytes(buf[o + hl : o + n]),
        dst=dst,
    )


def flags_of(s):
    v = 0
    for n, b in FLAG_NAMES:
        if n in s:
            v |= b
    return v


def build(sport, dport, seq, ack, flags, win=8192, data=b"", mss=None, src=PEER, opts=None):
    """An Ethernet-less frame buffer: 14 zero bytes, IPv4 header, TCP segment
    with a correct checksum. Returns (buf, l4_len)."""
    if opts is None:
        opts = b"" if mss is None else bytes((2, 4, mss >> 8, mss & 0xFF))
    hl = 20 + len(opts)
    l4 = hl + len(data)
    b = bytearray(14 + 20 + l4)
    ip4.write(b, IP_OFF, 20 + l4, 1, 64, ip4.PROTO_TCP, src, US, 0)
    o = L4_OFF
    wtcp.write(b, o, sport, dport, hl, flags_of(flags), win)
    seq &= 0xFFFFFFFF
    ack &= 0xFFFFFFFF
    wtcp.put32(b, o, 4, seq >> 16, seq & 0xFFFF)
    wtcp.put32(b, o, 8, ack >> 16, ack & 0xFFFF)
    b[o + 20 : o + hl] = opts
    b[o + hl :] = data
    c = csum.checksum(b, o, l4, csum.pseudo_sum(b, IP_OFF + 12, IP_OFF + 16, 6, l4))
    b[o + 16] = c >> 8
    b[o + 17] = c & 0xFF
    return b, l4


class Harness:
    """One engine on a fake iface with a fake clock, plus a scripted peer."""

    def __init__(self, **cfg):
        base = dict(tcp_conns=4, tcp_rx_bytes=4096, tcp_tx_bytes=4096)
        base.update(cfg)
        self.cfg = Config(**base)
        self.iface = FakeIface(self.cfg.mtu)
        self.tcp = TCP(self.iface, self.cfg)
        self.now = 1000

    @property
    def stats(self):
        return self.iface.stats

    def feed(self, sport, dport, seq, ack, flags, win=8192, data=b"", mss=None, src=PEER, opts=None):
        b, n = build(sport, dport, seq, ack, flags, win, data, mss, src, opts)
        self.tcp.input(b, IP_OFF, L4_OFF, n, self.now)

    def take(self):
        s = self.iface.sent
        self.iface.sent = []
        return s

    def one(self):
        s = self.take()
        assert len(s) == 1, s
        return s[0]

    def advance(self, ms):
        """Move the clock, running TCP timers at every ms step boundary."""
        end = self.now + ms
        while True:
            t = self.tcp.poll_at(self.now)
            if t < 0 or self.now + t > end:
                break
            self.now += t
            self.tcp.poll(self.now)
        self.now = end
        self.tcp.poll(self.now)

    def next_timer(self):
        """Poll (as the interface loop does after an application call), then
        run the clock to the next TCP timer."""
        self.tcp.poll(self.now)
        self.advance(self.tcp.poll_at(self.now))

    # -- common set-ups -----------------------------------------------------------

    def accept_one(self, port=80, peer_port=40000, peer_isn=5000, win=8192, mss=1460):
        """Passive open through the three-way handshake; returns (conn, iss)."""
        lst = self.tcp.listen(port, 2)
        self.feed(peer_port, port, peer_isn, 0, "S", win=win, mss=mss)
        sa = self.one()
        assert sa.flags == "SA" and sa.ack == peer_isn + 1
        self.feed(peer_port, port, peer_isn + 1, sa.seq + 1, "A", win=win)
        assert self.take() == []
        c = self.tcp.accept(lst)
        assert c is not None
        self.lst = lst
        return c, sa.seq

    def connect_one(self, port=5001, peer_isn=9000, win=8192, mss=1460):
        c = self.tcp.connect(PEER, port, self.now)
        syn = self.one()
        assert syn.flags == "S"
        self.feed(port, syn.sport, peer_isn, syn.seq + 1, "SA", win=win, mss=mss)
        a = self.one()
        assert a.flags == "A" and a.ack == peer_isn + 1
        return c, syn.seq, syn.sport


def test_helpers_round_trip():
    b, n = build(1, 2, 0xFFFFFFFF, 7, "SA", 1000, b"xy", mss=1460)
    s = decode(b, L4_OFF, n)
    assert (s.sport, s.dport, s.seq, s.ack, s.flags, s.win, s.mss, s.data) == (
        1,
        2,
        0xFFFFFFFF,
        7,
        "SA",
        1000,
        1460,
        b"xy",
    )
