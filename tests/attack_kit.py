"""What the attack suite (tests/test_attack_*.py) uses: the target firmware
(tests/attack_mp.py on sim_w5500, in a fresh namespace), a raw link on the
Linux side of the TAP that records every frame the stack sends and answers
ARP for raw peers, and RawPeer, a TCP endpoint made of crafted frames (its
own address in 192.0.2.0/24 and MAC, so Linux's own TCP never interferes).
Every spoofed source is inside 192.0.2.0/24."""

import json
import socket
import threading
import time

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from host_tools.netns import InNetns
from mp_firmware import STACK, TAP, MPFirmware
from scenario import fresh_netns_name, require_netns
from transfer import BothWays

HOST = "192.0.2.1"
STATUS_PORT = 9999


def mac_text(b):
    return ":".join("%02x" % x for x in b)


class Counters(dict):
    def __missing__(self, key):
        return 0


class RawLink:
    """AF_PACKET on the Linux side of the TAP: send frames, see the stack's."""

    def __init__(self, netns, stack_mac):
        with InNetns(netns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.sock.bind((TAP, 0))
        self.sock.settimeout(0.2)
        self.stack_mac = stack_mac
        self.frames = []  # (monotonic time, bytes) sent by the stack
        self.peers = {}  # ip text -> mac bytes, answered for ARP
        self.cv = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.stop:
            try:
                f = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if f[6:12] != self.stack_mac:
                continue
            with self.cv:
                self.frames.append((time.monotonic(), f))
                self.cv.notify_all()
            if f[12:14] == b"\x08\x06" and len(f) >= 42 and f[21] == 1:
                tpa = socket.inet_ntoa(f[38:42])
                if tpa in self.peers:
                    hw = self.peers[tpa]
                    self.send(bytes(Ether(src=mac_text(hw), dst=mac_text(f[6:12]))
                                    / ARP(op=2, hwsrc=mac_text(hw), psrc=tpa,
                                          hwdst=mac_text(f[22:28]),
                                          pdst=socket.inet_ntoa(f[28:32]))))

    def send(self, frame):
        self.sock.send(frame)

    def mark(self):
        with self.cv:
            return len(self.frames)

    def since(self, mark):
        with self.cv:
            return [f for _, f in self.frames[mark:]]

    def wait(self, mark, pred, timeout=3.0):
        """The first frame after mark that pred accepts, or None."""
        deadline = time.monotonic() + timeout
        with self.cv:
            i = mark
            while True:
                while i < len(self.frames):
                    f = self.frames[i][1]
                    i += 1
                    if pred(f):
                        return f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def tcp_of(frame):
    """The scapy TCP layer of a frame (with IP above it), or None."""
    p = Ether(frame)
    return p[TCP] if TCP in p else None


def payload_of(seg):
    """The TCP data of a scapy TCP layer, without Ethernet padding."""
    ip = seg.underlayer
    n = ip.len - ip.ihl * 4 - seg.dataofs * 4
    return bytes(seg)[seg.dataofs * 4:][:max(0, n)]


class Target(MPFirmware):
    def __init__(self, netns):
        super().__init__(netns, "attack_mp.py", "sim_w5500", "256wK")

    def __enter__(self):
        super().__enter__()
        out = self.run("cat", "/sys/class/net/%s/address" % TAP).stdout.decode().strip()
        self.host_mac = bytes.fromhex(out.replace(":", ""))
        self.run("ping", "-c", "1", "-W", "1", STACK)
        words = self.run("ip", "neigh", "show", STACK).stdout.decode().split()
        self.stack_mac = bytes.fromhex(words[words.index("lladdr") + 1].replace(":", ""))
        self.link = RawLink(self.netns, self.stack_mac)
        return self

    def __exit__(self, *exc):
        self.link.close()
        super().__exit__(*exc)

    def heap(self):
        self.command("heap")
        return int(self.expect("HEAP", 10).split()[1])

    def conns(self):
        self.command("conns")
        return self.expect("CONNS", 10).split()[1:]

    def arp(self):
        self.command("arp")
        return self.expect("ARP", 10).split()[1:]

    def status(self):
        with InNetns(self.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        try:
            for _ in range(5):
                s.sendto(b"?", (STACK, STATUS_PORT))
                try:
                    doc = json.loads(s.recv(65535))
                    return Counters(doc["iface"]), Counters(doc["driver"])
                except socket.timeout:
                    continue
        finally:
            s.close()
        raise AssertionError("no status reply\n" + "\n".join(self.log[-20:]))

    def counters(self):
        return self.status()[0]

    def eth(self, src_mac=None):
        return Ether(src=mac_text(src_mac or self.host_mac), dst=mac_text(self.stack_mac))

    def ping_ok(self):
        return self.run("ping", "-c", "1", "-W", "2", STACK).returncode == 0


class RawPeer:
    """A TCP peer of crafted frames at (ip, mac) on the raw link."""

    def __init__(self, t, ip, sport, mac=None):
        last = int(ip.rsplit(".", 1)[1])
        self.t = t
        self.ip = ip
        self.mac = mac or bytes([2, 0, 0, 0, 0xAA, last])
        self.sport = sport
        self.dport = 0
        t.link.peers[ip] = self.mac
        self.seq = 0  # next sequence number we send
        self.irs = 0  # the stack's initial sequence number
        self.rcv_nxt = 0  # next byte we expect from the stack

    def frame(self, flags, seq=None, ack=None, data=b"", win=8192, options=(), ip_opts=None,
              dataofs=None):
        ip = IP(src=self.ip, dst=STACK) if ip_opts is None else IP(src=self.ip, dst=STACK,
                                                                   options=ip_opts)
        tcp = TCP(sport=self.sport, dport=self.dport, flags=flags,
                  seq=(self.seq if seq is None else seq) & 0xFFFFFFFF,
                  ack=(self.rcv_nxt if ack is None else ack) & 0xFFFFFFFF, window=win,
                  options=list(options))
        if dataofs is not None:
            tcp.dataofs = dataofs
        return bytes(self.t.eth(self.mac) / ip / tcp / data)

    def send(self, flags, **kw):
        self.t.link.send(self.frame(flags, **kw))

    def mine(self, f):
        """A TCP segment from the stack to this peer."""
        if f[12:14] != b"\x08\x00" or len(f) < 54 or f[23] != 6:
            return False
        return socket.inet_ntoa(f[30:34]) == self.ip and int.from_bytes(f[36:38], "big") \
            == self.sport

    def connect(self, dport, win=8192, isn=1000):
        self.dport = dport
        self.seq = isn
        m = self.t.link.mark()
        self.send("S", win=win, options=[("MSS", 1460)])
        f = self.t.link.wait(m, lambda f: self.mine(f) and tcp_of(f).flags == "SA", 5)
        assert f is not None, "no SYN-ACK for %s:%d" % (self.ip, self.sport)
        self.irs = tcp_of(f).seq
        self.seq = isn + 1
        self.rcv_nxt = (self.irs + 1) & 0xFFFFFFFF
        self.send("A", win=win)
        return self

    def reset(self):
        """End our side with a RST at the stack's RCV.NXT (frees its TCB)."""
        if self.dport:
            self.send("R", seq=self.seq, ack=0)

    def segments(self, mark):
        return [tcp_of(f) for f in self.t.link.since(mark) if self.mine(f)]

    def data_in_order(self, mark):
        """The stack's bytes to us after mark, put in order by sequence number
        (first copy of each byte wins), from rcv_nxt on."""
        got = {}
        for s in self.segments(mark):
            for i, b in enumerate(payload_of(s)):
                off = (s.seq + i - self.rcv_nxt) & 0xFFFFFFFF
                if off < 1 << 30:
                    got.setdefault(off, b)
        out = bytearray()
        while len(out) in got:
            out.append(got[len(out)])
        return bytes(out)


# -- fixtures and helpers shared by tests/test_attack_*.py ----------------------------

N = 300_000  # each way, beside every attack
HEAP_SLACK = 1024


@pytest.fixture(scope="module")
def t():
    require_netns()
    with Target(fresh_netns_name()) as t:
        # warm: one of everything the attacks make the stack do once
        assert BothWays(t.netns, 50_000).start().finish() == (True, True)
        t.run("curl", "-s", "-m", "5", "-o", "/dev/null", "http://%s/" % STACK)
        p = connected_echo(t, "192.0.2.59")
        p.send("R", seq=p.seq + 1000)
        p.send("S", seq=p.seq + 10)
        p.send("R", seq=p.seq)
        q = peer(t, "192.0.2.59")
        q.dport = 4444
        q.send("SF", seq=1, ack=0)
        # a few spoofed SYNs, ARP requests and an incomplete fragment
        e = t.eth()
        for i in range(20):
            t.link.send(bytes(e / IP(src="192.0.2.%d" % (100 + i), dst=STACK)
                              / TCP(sport=2000 + i, dport=80, flags="S", seq=i)))
            t.link.send(bytes(Ether(src="02:00:00:00:01:%02x" % i, dst="ff:ff:ff:ff:ff:ff")
                              / ARP(op=1, hwsrc="02:00:00:00:01:%02x" % i,
                                    psrc="192.0.2.%d" % (100 + i), pdst=STACK)))
        t.link.send(bytes(e / IP(src=HOST, dst=STACK, id=9, flags="MF", proto=17) / bytes(64)))
        t.run("ping", "-c", "1", "-s", "2972", "-M", "dont", "-W", "2", STACK)
        while _peers:
            _peers.pop().reset()
        time.sleep(2.5)  # the HTTP client slot times out idle
        t.conns(), t.arp(), t.counters()  # the harness's own commands, once
        t.baseline = t.heap()
        yield t


@pytest.fixture
def legit(t, _reset_peers):
    """The concurrent transfer; checked, with the invariants, after the test."""
    tr = BothWays(t.netns, N).start()
    yield tr
    assert tr.finish() == (True, True), tr.errors()
    assert t.alive(), "\n".join(t.log[-20:])
    assert t.ping_ok()
    deadline = time.monotonic() + 10
    while t.heap() > t.baseline + HEAP_SLACK and time.monotonic() < deadline:
        time.sleep(0.5)  # connections of the attack still closing
    assert t.heap() <= t.baseline + HEAP_SLACK, (t.heap(), t.baseline, t.conns())


_port = [41000]
_peers = []


def peer(t, ip="192.0.2.60"):
    _port[0] += 1
    p = RawPeer(t, ip, _port[0])
    _peers.append(p)
    return p


@pytest.fixture(autouse=True)
def _reset_peers():
    """Raw peers left connected would hold the echo service's two slots."""
    yield
    while _peers:
        _peers.pop().reset()


def echo_round(p, data):
    """Send data to the echo service as the next segment; return what comes back."""
    m = p.t.link.mark()
    p.send("PA", data=data)
    p.seq += len(data)
    got = b""
    deadline = time.monotonic() + 5
    while len(got) < len(data) and time.monotonic() < deadline:
        time.sleep(0.05)
        got = p.data_in_order(m)
    p.rcv_nxt = (p.rcv_nxt + len(got)) & 0xFFFFFFFF
    p.send("A")
    return got


def answers(t, m, p, wait=0.6):
    time.sleep(wait)
    return p.segments(m)


def connected_echo(t, ip="192.0.2.61"):
    p = peer(t, ip).connect(7)
    assert echo_round(p, b"hello") == b"hello"
    return p



__all__ = ["ICMP", "IP", "TCP", "UDP", "ARP", "Ether", "Target", "RawPeer", "HOST", "STACK",
           "tcp_of", "payload_of", "mac_text", "Counters"]
