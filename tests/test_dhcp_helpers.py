"""Packet-trace helpers for the DHCP/DNS tests: an Interface with no address on
a fake driver, a fake clock, a scripted DHCP server built with scapy, and
decoders for what the stack sends (CPython, plain twins)."""

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, FakeDriver

SERVER = "192.0.2.1"
LEASED = "192.0.2.123"
ROUTER = "192.0.2.1"
DNS1 = "192.0.2.53"
DNS2 = "192.0.2.54"
OTHER_MAC = "02:bb:bb:bb:bb:bb"
XID = 0x80008000  # what the client draws with getrandbits pinned to 0x8000


def mac(b):
    return ":".join("%02x" % x for x in b)


class Net:
    """An unconfigured Interface with a DHCP client, a fake clock (ms) and a
    scripted server. getrandbits is pinned to 0x8000 (every random wait is
    half its span, every xid XID) unless rand is given."""

    def __init__(self, monkeypatch, rand=0x8000, start=True, hostname=None, **cfg):
        from stack import acd, dhcp
        from stack.config import Config
        from stack.iface import Interface

        if rand is not None:
            draw = lambda bits: rand & ((1 << bits) - 1)  # noqa: E731
            monkeypatch.setattr(dhcp, "getrandbits", draw)
            monkeypatch.setattr(acd, "getrandbits", draw)
        self.drv = FakeDriver()
        self.iface = Interface(self.drv, Config(**cfg), ip="0.0.0.0", netmask="0.0.0.0",
                               gateway="0.0.0.0")
        self.client = dhcp.DHCPClient(self.iface, hostname)
        self.stats = self.iface.stats
        self.t = 0
        if start:
            self.client.start()
        self.iface.poll(self.t)

    # -- time ---------------------------------------------------------------------

    def advance(self, ms, step=50):
        """Move the clock by ms, polling every step ms."""
        end = self.t + ms
        while self.t < end:
            self.t = min(self.t + step, end)
            self.iface.poll(self.t)

    def until(self, pred, limit_ms, step=50):
        """Advance until pred() is true; the time it took (AssertionError if never)."""
        t0 = self.t
        while not pred():
            if self.t - t0 > limit_ms:
                raise AssertionError("not within %d ms" % limit_ms)
            self.advance(step, step)
        return self.t - t0

    # -- frames -------------------------------------------------------------------

    def feed(self, frame):
        self.drv.rx.append(bytes(frame))
        self.iface.poll(self.t)

    def take(self):
        """Every frame sent since the last take(), parsed by scapy."""
        out = [Ether(f) for f in self.drv.sent]
        self.drv.sent.clear()
        return out

    def dhcp_sent(self):
        return [f for f in self.take() if f.haslayer(DHCP)]

    def one_dhcp(self):
        msgs = self.dhcp_sent()
        assert len(msgs) == 1, [m.summary() for m in msgs]
        return msgs[0]

    def reply(self, mtype, yiaddr=LEASED, xid=XID, lease=120, t1=None, t2=None, server=SERVER,
              dst="255.255.255.255", extra=(), options=None, chaddr=STACK_MAC, sport=67,
              bootp=None):
        """A server message to the client, as dnsmasq would send it."""
        if options is None:
            options = [("message-type", mtype), ("server_id", server)]
            if mtype != "nak":
                options += [("lease_time", lease), ("subnet_mask", "255.255.255.0"),
                            ("router", ROUTER), ("name_server", DNS1, DNS2)]
                if t1 is not None:
                    options.append(("renewal_time", t1))
                if t2 is not None:
                    options.append(("rebinding_time", t2))
            options += list(extra) + ["end"]
        b = bootp or BOOTP(op=2, xid=xid, yiaddr=yiaddr if mtype != "nak" else "0.0.0.0",
                           siaddr=server, chaddr=chaddr + bytes(10))
        return (Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff" if dst.endswith("255")
                      else mac(STACK_MAC))
                / IP(src=server, dst=dst) / UDP(sport=sport, dport=68) / b / DHCP(options=options))

    def arp_reply_from_server(self):
        return Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / ARP(
            op=2, hwsrc=mac(HOST_MAC), psrc=SERVER, hwdst=mac(STACK_MAC), pdst=LEASED)

    def arp_request_from_server(self):
        """The server asks for us (and so is learnt): a reply nobody asked
        for is not cached (stack/arp.py)."""
        return Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=mac(HOST_MAC), psrc=SERVER, pdst=LEASED)

    # -- whole exchanges ----------------------------------------------------------

    def bind(self, lease=120, t1=None, t2=None):
        """DISCOVER -> OFFER -> REQUEST -> ACK -> probes -> BOUND."""
        self.until(lambda: self.drv.sent, 5_000)
        self.one_dhcp()
        self.feed(self.reply("offer", lease=lease, t1=t1, t2=t2))
        self.one_dhcp()
        self.feed(self.reply("ack", lease=lease, t1=t1, t2=t2))
        self.until(lambda: self.client.state_name() == "BOUND", 20_000)
        self.advance(50)  # the announcement
        self.take()


def options(pkt):
    """A DHCP packet's options as a dict (code name -> value(s))."""
    out = {}
    for o in pkt[DHCP].options:
        if isinstance(o, tuple):
            out[o[0]] = o[1] if len(o) == 2 else o[1:]
    return out
