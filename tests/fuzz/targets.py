"""Fuzz targets shared by the atheris harness (run.py) and its corpus replay.

Each target takes one input (bytes) and raises on a bug: an exception out
of a parser or out of Interface.poll(), a read outside a Fence, a frame that
went uncounted, or a stack that no longer answers a clean ping.

    wire   the first byte picks a parser (Ethernet, ARP, IPv4, UDP, TCP and
           its options, DHCP, DNS names); the rest is its input, fenced
    iface  a sequence of frames through Interface.poll() of a stack with a
           TCP listener, an established connection and a bound UDP socket;
           each frame has a control byte: repair the IPv4 / L4 checksums,
           take seq/ack as offsets from the live connection's, so mutations
           get past the checksums and into the TCP state machine
    http   bytes to firmware/http.py in arbitrary chunks and write sizes
"""

import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
for p in (ROOT, TESTS):
    if p not in sys.path:
        sys.path.insert(0, p)

import conftest  # noqa: E402,F401  (the `micropython` stub: CPython runs the plain twins)

HOST_IP = bytes([192, 0, 2, 1])
STACK_IP = bytes([192, 0, 2, 2])
PEER_PORT = 40000


def _sum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _csum(data):
    return ~_sum16(data) & 0xFFFF


# -- wire ---------------------------------------------------------------------------


def wire(data):
    from fuzz_util import Fence

    from stack.wire import arp, dhcp4, dns, eth, ip4
    from stack.wire import tcp as wtcp
    from stack.wire import udp as wudp

    if len(data) < 2:
        return
    which, shift, body = data[0] % 8, data[1] % 8, data[2:]
    buf = Fence(bytes(shift) + body + b"\xaa" * 4, shift, shift + len(body))
    o, end, n = shift, shift + len(body), len(body)
    if which == 0:
        buf = Fence(body + b"\xaa" * 4, 0, n)
        if eth.check(buf, n) > 0:
            eth.ethertype(buf)
            eth.dst_is_broadcast(buf)
    elif which == 1:
        if arp.check(buf, o, end) > 0:
            arp.oper(buf, o)
    elif which == 2:
        hl = ip4.check(buf, o, end)
        if hl > 0:
            assert 20 <= hl <= ip4.total_len(buf, o) <= n
            ip4.is_fragment(buf, o)
            ip4.proto(buf, o)
    elif which == 3:
        ln = wudp.check(buf, o, n)
        assert ln < 0 or 8 <= ln <= n
    elif which == 4:
        hl = wtcp.check(buf, o, n)
        if hl > 0:
            head = Fence(bytes(buf)[: o + hl], o, o + hl)
            mss = wtcp.parse_mss(head, o, hl)
            assert mss == wtcp.DROP_OPTIONS or 0 <= mss <= 0xFFFF
            wtcp.sack_permitted(head, o, hl)
    elif which == 5:
        if dhcp4.check(buf, o, n) > 0:
            for code in range(256):
                p = dhcp4.find(buf, o, n, code)
                assert p == -1 or p + 1 + buf[p] <= end
    else:
        buf = Fence(body + b"\xaa" * 4, 0, n)
        out = bytearray(256)
        p = shift * 7 % (n + 1)
        k = dns.expand(buf, p, n, out)
        assert k < 0 or 0 < k <= dns.MAX_NAME
        s = dns.skip_name(buf, p, n)
        assert s < 0 or p < s <= n


# -- iface --------------------------------------------------------------------------


class _Rig:
    """A stack with a listener on 80, one established connection from
    192.0.2.1:40000 and a UDP socket on 7, built fresh for every input."""

    def __init__(self):
        from fakes import HOST_MAC, make_iface

        from stack.tcp import TCP

        self.host_mac = HOST_MAC
        iface, drv = make_iface(tcp_rx_bytes=2048, tcp_tx_bytes=2048)
        self.iface, self.drv = iface, drv
        TCP(iface, iface.cfg)
        iface.tcp._secret = bytes(16)  # repeatable ISS: a crash replays
        self.lst = iface.tcp.listen(80, 2)
        self.udp = iface.udp.socket()
        iface.udp.bind(self.udp, 7)
        self.now = 10
        self.feed(self.arp_request())
        self.feed(self.tcp(0x02, 1000, 0, b"", opts=b"\x02\x04\x05\xb4"))
        synack = self.drv.sent[-1]
        self.iss = struct.unpack_from("!I", synack, 38)[0]
        self.irs = 1000
        self.feed(self.tcp(0x10, 1001, self.iss + 1, b""))
        self.conn = iface.tcp.accept(self.lst)
        assert self.conn is not None, "handshake failed: the rig is broken"
        self.conn.send(b"x" * 3000, 0, 3000)
        self.poll()
        self.frames = 0

    def feed(self, frame):
        self.drv.rx.append(frame)
        self.poll()

    def poll(self):
        self.now += 3
        self.iface.poll(self.now)

    def eth(self, etype, payload):
        from fakes import STACK_MAC

        return STACK_MAC + self.host_mac + struct.pack("!H", etype) + payload

    def arp_request(self):
        a = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, self.host_mac, HOST_IP, bytes(6),
                        STACK_IP)
        return b"\xff" * 6 + self.host_mac + b"\x08\x06" + a

    def ip(self, proto, l4):
        h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto,
                                  0, HOST_IP, STACK_IP))
        h[10:12] = struct.pack("!H", _csum(bytes(h)))
        return self.eth(0x0800, bytes(h) + l4)

    def tcp(self, flags, seq, ack, data, opts=b"", win=8192):
        hl = 20 + len(opts)
        t = bytearray(struct.pack("!HHIIBBHHH", PEER_PORT, 80, seq & 0xFFFFFFFF,
                                  ack & 0xFFFFFFFF, (hl // 4) << 4, flags, win, 0, 0)
                      + opts + data)
        pseudo = HOST_IP + STACK_IP + struct.pack("!BBH", 0, 6, len(t))
        t[16:18] = struct.pack("!H", _csum(pseudo + bytes(t)))
        return self.ip(6, bytes(t))


def fix(frame, ctl, rig):
    """Apply the control byte's repairs to a (mutated) frame: bit 2 rebases
    TCP seq/ack on the live connection, bit 0 fixes the IPv4 header checksum,
    bit 1 the TCP/UDP/ICMP checksum. Only where the bytes are long enough."""
    f = bytearray(frame)
    if len(f) < 34 or f[12:14] != b"\x08\x00":
        return bytes(f)
    ihl = (f[14] & 15) * 4
    l4 = 14 + ihl
    tl = (f[16] << 8) | f[17]
    end = min(len(f), 14 + tl)
    proto = f[23]
    if ctl & 4 and proto == 6 and end >= l4 + 20 and ihl >= 20:
        seq, ack = struct.unpack_from("!II", f, l4 + 4)
        c = rig.conn
        struct.pack_into("!II", f, l4 + 4, (rig.irs + c.rcv_nxt + seq) & 0xFFFFFFFF,
                         (rig.iss + c.snd_una + ack) & 0xFFFFFFFF)
    if ctl & 1 and ihl >= 20 and len(f) >= l4:
        f[24:26] = b"\0\0"
        f[24:26] = struct.pack("!H", _csum(bytes(f[14:l4])))
    if ctl & 2 and ihl >= 20 and end > l4:
        seg = f[l4:end]
        co = {6: 16, 17: 6, 1: 2}.get(proto)
        if co is not None and len(seg) >= co + 2:
            seg[co:co + 2] = b"\0\0"
            if proto == 1:
                c = _csum(bytes(seg))
            else:
                c = _csum(bytes(f[26:34]) + struct.pack("!BBH", 0, proto, len(seg)) + bytes(seg))
                if proto == 17 and c == 0:
                    c = 0xFFFF
            f[l4 + co:l4 + co + 2] = struct.pack("!H", c)
    return bytes(f)


def split_frames(data):
    """[ctl][len hi][len lo][frame] ... -> [(ctl, frame)]; a short tail is one frame."""
    out = []
    i = 0
    while i + 3 <= len(data) and len(out) < 64:
        ctl = data[i]
        n = ((data[i + 1] << 8) | data[i + 2]) % 1600
        out.append((ctl, data[i + 3:i + 3 + n]))
        i += 3 + n
    return out


def iface(data):
    rig = _Rig()
    st = rig.iface.stats
    fed = st["rx_frames"]
    for ctl, frame in split_frames(data):
        f = fix(frame, ctl, rig)
        rig.drv.rx.append(f)
        # an empty read is "no frame" to the stack; one longer than its buffer
        # the fake driver refuses (a chip driver counts rx_drop_too_long)
        fed += 0 < len(f) <= len(rig.iface.rx_buf)
        rig.poll()
        try:
            rig.iface.tcp.accept(rig.lst)
        except OSError:
            pass
    rig.poll()
    assert st["rx_frames"] == fed, (st["rx_frames"], fed)
    for k, v in st.items():
        assert isinstance(v, int) and v >= 0, (k, v)
    # still alive: a clean ping gets its reply
    rig.drv.sent.clear()
    icmp = bytearray(b"\x08\x00\x00\x00\x12\x34\x00\x01" + b"ping")
    icmp[2:4] = struct.pack("!H", _csum(bytes(icmp)))
    rig.feed(rig.arp_request())
    rig.feed(rig.ip(1, bytes(icmp)))
    assert any(len(f) > 34 and f[23] == 1 and f[34] == 0 for f in rig.drv.sent), "no echo reply"


def iface_seeds():
    """Inputs that reach every protocol: real frames a host sends."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether

    from fakes import HOST_MAC, STACK_MAC

    e = Ether(src=HOST_MAC, dst=STACK_MAC)
    ip = IP(src="192.0.2.1", dst="192.0.2.2")
    frames = [
        (0, bytes(Ether(src=HOST_MAC, dst="ff:ff:ff:ff:ff:ff")
                  / ARP(op=1, hwsrc=HOST_MAC, psrc="192.0.2.1", pdst="192.0.2.2"))),
        (0, bytes(e / ARP(op=2, hwsrc=HOST_MAC, psrc="192.0.2.1", pdst="192.0.2.2",
                          hwdst=STACK_MAC))),
        (0, bytes(e / ip / ICMP(type=8) / (b"p" * 56))),
        (0, bytes(e / ip / ICMP(type=3, code=3) / bytes(IP(src="192.0.2.2", dst="192.0.2.1")
                                                        / UDP(sport=7, dport=9)))),
        (0, bytes(e / ip / UDP(sport=1000, dport=7) / b"hello")),
        (0, bytes(e / ip / UDP(sport=1000, dport=9) / b"closed")),
        (0, bytes(e / IP(src="192.0.2.1", dst="192.0.2.2", flags="MF", frag=0, id=7)
                  / ICMP(type=8) / (b"a" * 64))),
        (0, bytes(e / IP(src="192.0.2.1", dst="192.0.2.2", frag=9, id=7, proto=1) / (b"b" * 64))),
        (0, bytes(e / IP(src="192.0.2.1", dst="192.0.2.2", options=b"\x94\x04\x00\x00")
                  / ICMP(type=8))),
        (0, bytes(e / ip / UDP(sport=67, dport=68) / BOOTP(op=2, chaddr=STACK_MAC)
                  / DHCP(options=[("message-type", "offer"), ("server_id", "192.0.2.1"),
                                  "end"]))),
        (0, bytes(e / ip / UDP(sport=53, dport=50000)
                  / DNS(id=1, qr=1, qd=DNSQR(qname="a.example"),
                        an=DNSRR(rrname="a.example", rdata="192.0.2.9")))),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="A", seq=0, ack=0) / b"GET / ")),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="A", seq=0, ack=1460))),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="A", seq=100, ack=0) / b"ooo")),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="R", seq=5, ack=0))),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="S", seq=0, ack=0))),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="FA", seq=0, ack=0))),
        (4, bytes(e / ip / TCP(sport=PEER_PORT, dport=80, flags="A", seq=0, ack=0, window=0))),
        (0, bytes(e / ip / TCP(sport=40001, dport=80, flags="S", seq=1,
                               options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7),
                                        ("Timestamp", (1, 0))]))),
        (0, bytes(e / ip / TCP(sport=40002, dport=81, flags="S", seq=1))),
    ]
    seeds = [b"".join(bytes([c]) + struct.pack("!H", len(f)) + f for c, f in frames)]
    seeds += [bytes([c]) + struct.pack("!H", len(f)) + f for c, f in frames]
    return seeds


# -- http ---------------------------------------------------------------------------


def http(data):
    from test_http_parser import serve

    if not data:
        return
    wlimit = data[0] * 7 + 1
    # /bulk?n= of more than 5 digits only costs time (the same code path)
    data = re.sub(rb"n=(\d{5})\d+", rb"n=\1", data)
    cuts = []
    body = data[1:]
    i = 0
    while b"\x00|" in body[i:] and len(cuts) < 8:
        j = body.index(b"\x00|", i)
        cuts.append(j - 2 * len(cuts))
        i = j + 2
    body = body.replace(b"\x00|", b"")
    chunks = []
    last = 0
    for c in cuts + [len(body)]:
        if c > last:
            chunks.append(body[last:c])
            last = c
    out = serve(chunks, wlimit)
    # every answer starts with a status line of a documented code (a HEAD
    # answer has a length but no body, so answers are not split by length
    # here; bodies are the page, JSON or the /bulk alphabet: no status lines)
    assert not out or out.startswith(b"HTTP/1.1 "), out[:80]
    for code in re.findall(rb"HTTP/1\.1 (\d{3}) [A-Za-z ]+\r\n", out):
        assert int(code) in (100, 200, 400, 404, 405, 411, 413), code


def http_seeds():
    return [
        b"\x10GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x10GET /bulk?n=300 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /stats.json HTTP/1.0\r\n\r\n",
        b"\x02POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\nab\x00|cde",
        b"\x01GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"\x05PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    ]


def wire_seeds():
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether

    return [
        b"\x00\x00" + bytes(Ether() / ARP()),
        b"\x01\x01" + bytes(ARP(op=2)),
        b"\x02\x02" + bytes(IP(options=b"\x01\x01\x01\x00") / UDP()),
        b"\x03\x03" + bytes(UDP() / b"x"),
        b"\x04\x04" + bytes(TCP(options=[("MSS", 1460), ("SAckOK", b""), ("NOP", None),
                                          ("WScale", 2), ("Timestamp", (1, 2))])),
        b"\x05\x05" + bytes(BOOTP(op=2) / DHCP(options=[("message-type", "ack"),
                                                        ("lease_time", 60), "end"])),
        b"\x06\x06" + bytes(DNS(qd=DNSQR(qname="a.b.example"),
                                an=DNSRR(rrname="a.b.example", rdata="192.0.2.1")).compress()),
    ]


TARGETS = {"wire": (wire, wire_seeds), "iface": (iface, iface_seeds), "http": (http, http_seeds)}
