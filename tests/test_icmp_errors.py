"""Source checks and ICMP errors read as packet traces (CPython, plain twins):
RFC 1122 3.2.1.3 sources dropped before any layer answers, port unreachable
for UDP to a closed port (quoting header + 8 bytes) and never where RFC 1122
3.2.2 / RFC 1812 4.3.2.7 forbid it, the token bucket, and received errors
matched to our UDP and TCP flows."""

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, make_iface

HOST = "192.0.2.1"
STACK = "192.0.2.2"


def mac(b):
    return ":".join("%02x" % x for x in b)


def to_stack(dst_mac=None):
    return Ether(src=mac(HOST_MAC), dst=dst_mac or mac(STACK_MAC))


def learnt(iface, drv, now=1):
    drv.rx.append(bytes(Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac(HOST_MAC), psrc=HOST, pdst=STACK)))
    iface.poll(now)
    drv.sent.clear()


def changed(iface, before):
    return {k: iface.stats[k] - before[k] for k in before if iface.stats[k] != before[k]}


# -- source checks (RFC 1122 3.2.1.3) ---------------------------------------------


@pytest.mark.parametrize("src, counter", [
    (STACK, "ip4_drop_src_self"),
    ("0.0.0.0", "ip4_drop_src_zero"),
    ("255.255.255.255", "ip4_drop_src_broadcast"),
    ("192.0.2.255", "ip4_drop_src_broadcast"),
    ("224.0.0.1", "ip4_drop_src_multicast"),
    ("239.1.2.3", "ip4_drop_src_multicast"),
    ("127.0.0.1", "ip4_drop_src_loopback"),
])
def test_impossible_sources_are_dropped_before_any_layer_answers(src, counter):
    iface, drv = make_iface()
    from stack.tcp import TCP as Engine

    Engine(iface, iface.cfg).listen(80)
    learnt(iface, drv)
    frames = [
        to_stack() / IP(src=src, dst=STACK) / TCP(sport=80, dport=80, flags="S"),  # LAND if ours
        to_stack() / IP(src=src, dst=STACK) / ICMP(type=8) / b"ping",
        to_stack() / IP(src=src, dst=STACK) / UDP(sport=9, dport=4444) / b"closed port",
    ]
    before = dict(iface.stats)
    for f in frames:
        drv.rx.append(bytes(f))
    iface.poll(2)
    assert drv.sent == []  # not a frame: no SYN-ACK, no reply, no ARP, no ICMP error
    assert changed(iface, before) == {"rx_frames": 3, counter: 3}


def test_land_syn_draws_no_frame_and_the_listener_still_works():
    from stack.tcp import TCP as Engine

    iface, drv = make_iface()
    Engine(iface, iface.cfg).listen(80)
    learnt(iface, drv)
    drv.rx.append(bytes(to_stack() / IP(src=STACK, dst=STACK) / TCP(sport=80, dport=80,
                                                                     flags="S", seq=7)))
    iface.poll(2)
    assert drv.sent == [] and iface.stats["ip4_drop_src_self"] == 1
    drv.rx.append(bytes(to_stack() / IP(src=HOST, dst=STACK) / TCP(sport=5000, dport=80,
                                                                    flags="S", seq=7)))
    iface.poll(3)
    (sa,) = drv.sent
    assert Ether(sa)[TCP].flags == "SA"


def test_arp_claiming_our_address_is_neither_cached_nor_answered():
    iface, drv = make_iface()
    drv.rx.append(bytes(Ether(src="02:66:66:66:66:66", dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc="02:66:66:66:66:66", psrc=STACK, pdst=STACK)))
    iface.poll(1)
    assert drv.sent == [] and iface.arp.entries() == []
    assert iface.stats["arp_drop_src_self"] == 1


# -- port unreachable (RFC 792, RFC 1122 3.2.2.1 / 4.1.3.1) ---------------------------


def test_udp_to_closed_port_gets_port_unreachable_quoting_header_and_8_bytes():
    iface, drv = make_iface()
    learnt(iface, drv)
    req = IP(src=HOST, dst=STACK, id=4321, ttl=9) / UDP(sport=5555, dport=4444) / (b"q" * 30)
    drv.rx.append(bytes(to_stack() / req))
    iface.poll(2)
    (frame,) = drv.sent
    r = Ether(frame)
    assert r.dst == mac(HOST_MAC) and r[IP].src == STACK and r[IP].dst == HOST
    assert r[ICMP].type == 3 and r[ICMP].code == 3
    quoted = bytes(r[ICMP].payload)
    assert quoted == bytes(req)[:28]  # the IPv4 header and the first 8 bytes, unchanged
    assert r[IPerror].id == 4321 and r[UDPerror].dport == 4444
    rebuilt = Ether(frame)
    del rebuilt[ICMP].chksum
    assert Ether(bytes(rebuilt))[ICMP].chksum == r[ICMP].chksum
    assert iface.stats["icmp_tx_unreach"] == 1 and iface.stats["udp_drop_no_port"] == 1


def test_quote_keeps_ip_options_and_short_datagrams_are_quoted_whole():
    iface, drv = make_iface()
    learnt(iface, drv)
    opts = b"\x01\x01\x01\x00"  # NOP NOP NOP EOL: a 24-byte header
    req = IP(src=HOST, dst=STACK, options=opts) / UDP(sport=1, dport=2) / b"abcdefghij"
    drv.rx.append(bytes(to_stack() / req))
    iface.poll(2)
    assert bytes(Ether(drv.sent[0])[ICMP].payload) == bytes(req)[:24 + 8]
    drv.sent.clear()
    req = IP(src=HOST, dst=STACK) / UDP(sport=1, dport=2)  # no data: 28 bytes in all
    drv.rx.append(bytes(to_stack() / req))
    iface.poll(1003)
    assert bytes(Ether(drv.sent[0])[ICMP].payload) == bytes(req)


@pytest.mark.parametrize("frame", [
    # to a broadcast address (IP), to the link broadcast, not the first fragment,
    to_stack() / IP(src=HOST, dst="192.0.2.255") / UDP(sport=1, dport=4444) / b"x",
    to_stack("ff:ff:ff:ff:ff:ff") / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=4444) / b"x",
    to_stack("01:00:5e:00:00:01") / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=4444) / b"x",
], ids=["ip-broadcast", "link-broadcast", "link-multicast"])
def test_no_error_for_broadcast_or_multicast(frame):
    iface, drv = make_iface()
    learnt(iface, drv)
    drv.rx.append(bytes(frame))
    iface.poll(2)
    assert drv.sent == []


def test_error_generation_suppressed_for_icmp_errors_and_non_first_fragments():
    iface, drv = make_iface()
    learnt(iface, drv)
    err = iface.icmp
    # an ICMP error about an ICMP error: never answered with an error
    pkt = bytearray(bytes(to_stack() / IP(src=HOST, dst=STACK) / ICMP(type=3, code=3) /
                          (b"z" * 28)))
    assert err.send_error(3, 3, pkt, 14) is False
    pkt = bytearray(bytes(to_stack() / IP(src=HOST, dst=STACK, frag=10) / (b"z" * 16)))
    assert err.send_error(3, 3, pkt, 14) is False
    assert drv.sent == [] and iface.stats["icmp_err_suppressed"] == 2
    # an echo request (not an error) may draw one
    pkt = bytearray(bytes(to_stack() / IP(src=HOST, dst=STACK) / ICMP(type=8) / (b"z" * 8)))
    assert err.send_error(3, 2, pkt, 14) is True


def test_errors_are_rate_limited_by_a_token_bucket():
    iface, drv = make_iface(icmp_err_per_s=10, icmp_err_burst=5)
    learnt(iface, drv, now=0)
    closed = bytes(to_stack() / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=4444) / b"x")
    for _ in range(20):
        drv.rx.append(closed)
    iface.poll(0)
    iface.poll(0)
    iface.poll(0)
    assert len(drv.sent) == 5  # the burst
    assert iface.stats["icmp_err_rate_limited"] == 15
    drv.sent.clear()
    for _ in range(20):
        drv.rx.append(closed)
    for _ in range(3):
        iface.poll(300)  # 300 ms at 10/s: 3 tokens
    assert len(drv.sent) == 3
    drv.sent.clear()
    for _ in range(8):
        drv.rx.append(closed)
    iface.poll(100_000)  # a long pause fills the bucket only up to the burst
    assert len(drv.sent) == 5


# -- received errors, matched to our flows ----------------------------------------------


def _unreach(code, inner):
    return to_stack() / IP(src=HOST, dst=STACK) / ICMP(type=3, code=code) / bytes(inner)[:28]


def test_port_unreachable_refuses_a_connected_udp_socket_once():
    iface, drv = make_iface()
    learnt(iface, drv)
    sock = iface.udp.socket()
    sock.connect(bytes([192, 0, 2, 1]), 0, 53)
    sock.sendto(b"query", 0, 5, bytes([192, 0, 2, 1]), 0, 53)
    (sent,) = drv.sent
    inner = Ether(sent)[IP]
    # an error about another port, or from a datagram we did not send, changes nothing
    other = inner.copy()
    other[UDP].dport = 54
    drv.rx.append(bytes(_unreach(3, other)))
    forged = inner.copy()
    forged.src = "192.0.2.77"
    drv.rx.append(bytes(_unreach(3, forged)))
    iface.poll(2)
    assert sock.error == 0 and iface.stats["icmp_drop_error_not_ours"] == 1
    drv.rx.append(bytes(_unreach(3, inner)))
    iface.poll(3)
    assert sock.error == 111 and iface.stats["icmp_rx_error_matched"] == 1
    assert sock.take_error() == 111 and sock.take_error() == 0


def test_unconnected_udp_socket_ignores_port_unreachable():
    iface, drv = make_iface()
    learnt(iface, drv)
    sock = iface.udp.socket()
    sock.sendto(b"x", 0, 1, bytes([192, 0, 2, 1]), 0, 53)
    drv.rx.append(bytes(_unreach(3, Ether(drv.sent[0])[IP])))
    iface.poll(2)
    assert sock.error == 0 and iface.stats["icmp_rx_port_unreach"] == 1
    assert iface.stats["icmp_rx_error_matched"] == 0


def test_port_unreachable_fails_a_connecting_tcp_socket_with_econnrefused():
    from stack.tcp import TCP as Engine

    iface, drv = make_iface()
    tcp = Engine(iface, iface.cfg)
    learnt(iface, drv)
    c = tcp.connect(bytes([192, 0, 2, 1]), 81, 2)
    (syn,) = drv.sent
    inner = Ether(syn)[IP]
    # RFC 5927: a quoted sequence number that is not our SYN's is ignored
    blind = inner.copy()
    blind[TCP].seq = (blind[TCP].seq + 1000) & 0xFFFFFFFF
    drv.rx.append(bytes(_unreach(3, blind)))
    # soft errors (host unreachable) do not abort (RFC 1122 4.2.3.9)
    drv.rx.append(bytes(_unreach(1, inner)))
    iface.poll(3)
    assert c.error == 0 and c.state == 2  # SYN_SENT
    drv.rx.append(bytes(_unreach(3, inner)))
    iface.poll(4)
    assert c.error == 111 and c.closed()


def test_fragmentation_needed_and_time_exceeded_are_counted():
    iface, drv = make_iface()
    learnt(iface, drv)
    sock = iface.udp.socket()
    sock.sendto(b"x", 0, 1, bytes([192, 0, 2, 1]), 0, 53)
    inner = Ether(drv.sent[0])[IP]
    drv.rx.append(bytes(_unreach(4, inner)))
    drv.rx.append(bytes(to_stack() / IP(src=HOST, dst=STACK) / ICMP(type=11) / bytes(inner)[:28]))
    drv.rx.append(bytes(to_stack() / IP(src=HOST, dst=STACK) / ICMP(type=3, code=3) / b"short"))
    iface.poll(2)
    assert iface.stats["icmp_rx_frag_needed"] == 1
    assert iface.stats["icmp_rx_time_exceeded"] == 1
    assert iface.stats["icmp_drop_error_short"] == 1


def test_socket_api_connected_udp_raises_econnrefused():
    from stack import socket as ss

    iface, drv = make_iface()
    learnt(iface, drv)
    ss.attach(iface)
    try:
        _connected_udp_refused(ss, iface, drv)
    finally:
        ss.attach(None)


def _connected_udp_refused(ss, iface, drv):
    from stack.wire import icmp4

    s = ss.socket(ss.AF_INET, ss.SOCK_DGRAM)
    s.setblocking(False)
    s.connect(("192.0.2.1", 53))
    s.send(b"hello")
    inner = Ether(drv.sent[-1])[IP]
    drv.rx.append(bytes(_unreach(icmp4.CODE_PORT_UNREACH, inner)))
    iface.poll(5)
    with pytest.raises(OSError) as e:
        s.recv(100)
    assert e.value.args[0] == 111
    with pytest.raises(OSError) as e:  # reported once; then a plain EAGAIN
        s.recv(100)
    assert e.value.args[0] == 11
