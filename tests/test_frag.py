"""IPv4 reassembly (RFC 791, RFC 815) and fragmentation read as packet traces
(CPython, plain twins): echo of a 3,000-byte ICMP datagram in 3 fragments in
order and reversed, UDP both ways, overlaps, duplicates, bounds, the 15 s
timer, and every drop counted by reason."""

import pytest
from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, make_iface

HOST = "192.0.2.1"
STACK = "192.0.2.2"


def mac(b):
    return ":".join("%02x" % x for x in b)


def eth():
    return Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC))


def learnt(iface, drv, now=1):
    drv.rx.append(bytes(Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac(HOST_MAC), psrc=HOST, pdst=STACK)))
    iface.poll(now)
    drv.sent.clear()


def frags(pkt, size=1480):
    """The datagram as Ethernet frames of fragments of `size` data bytes."""
    return [bytes(eth() / f) for f in fragment(pkt, fragsize=size)]


def reassemble(frames):
    """Our fragments put back together (independently of the stack: by offset)."""
    ips = [Ether(f)[IP] for f in frames]
    ident = ips[0].id
    assert all(p.id == ident for p in ips)
    data = bytearray()
    for p in sorted(ips, key=lambda p: p.frag):
        assert p.frag * 8 == len(data), "gap or overlap in our fragments"
        data += bytes(p.payload)[: p.len - p.ihl * 4]
    last = max(ips, key=lambda p: p.frag)
    assert last.flags.MF == 0 and all(p.flags.MF for p in ips if p is not last)
    return ips[0], bytes(data)


def ping_3000(ident=77):
    payload = bytes((i * 13) & 0xFF for i in range(2972))
    return IP(src=HOST, dst=STACK, id=ident) / ICMP(type=8, id=0x4242, seq=5) / payload


@pytest.mark.parametrize("order", ["in order", "reversed", "middle first"])
def test_3000_byte_echo_in_3_fragments_is_answered_in_fragments(order):
    iface, drv = make_iface()
    learnt(iface, drv)
    req = ping_3000()
    fs = frags(req)
    assert len(fs) == 3
    if order == "reversed":
        fs.reverse()
    elif order == "middle first":
        fs = [fs[1], fs[2], fs[0]]
    for f in fs:
        drv.rx.append(f)
    iface.poll(2)
    assert iface.stats["ip4_reasm_ok"] == 1
    assert len(drv.sent) == 3  # 1480 + 1480 + 28 bytes of ICMP
    for f in drv.sent:
        assert len(f) <= 1514 and Ether(f).dst == mac(HOST_MAC)
    first, msg = reassemble(drv.sent)
    assert first.src == STACK and first.dst == HOST and first.proto == 1
    reply = ICMP(msg)
    assert reply.type == 0 and reply.id == 0x4242 and reply.seq == 5
    assert bytes(reply.payload) == bytes(req[ICMP].payload)
    check = ICMP(msg)
    del check.chksum
    assert ICMP(bytes(check)).chksum == reply.chksum
    assert iface.stats["icmp_tx_echo_frag"] == 1 and iface.frag.in_progress() == 0


def test_udp_datagram_in_fragments_is_delivered_whole_both_orders():
    iface, drv = make_iface(udp_rx_bytes=8192)
    learnt(iface, drv)
    sock = iface.udp.socket()
    sock.bind(7)
    data = bytes((i * 7) & 0xFF for i in range(3000))
    for k, rev in enumerate((False, True)):
        fs = frags(IP(src=HOST, dst=STACK, id=900 + k) / UDP(sport=4000, dport=7) / data)
        for f in reversed(fs) if rev else fs:
            drv.rx.append(f)
        iface.poll(2 + k)
        buf = bytearray(4000)
        addr = bytearray(6)
        assert sock.recv_into_from(buf, addr) == 3000
        assert bytes(buf[:3000]) == data and bytes(addr[:4]) == bytes([192, 0, 2, 1])


def test_udp_send_larger_than_the_mtu_goes_out_in_fragments():
    iface, drv = make_iface()
    learnt(iface, drv)
    sock = iface.udp.socket()
    sock.bind(7)
    data = bytes((i * 3 + 1) & 0xFF for i in range(4000))
    assert sock.sendto(data, 0, 4000, bytes([192, 0, 2, 1]), 0, 9000)
    assert len(drv.sent) == 3
    first, msg = reassemble(drv.sent)
    u = UDP(msg)
    assert u.sport == 7 and u.dport == 9000 and u.len == 4008 and bytes(u.payload) == data
    whole = IP(src=STACK, dst=HOST, proto=17) / UDP(msg)
    del whole[UDP].chksum
    assert IP(bytes(whole))[UDP].chksum == u.chksum
    assert iface.stats["ip4_frag_tx"] == 3 and iface.stats["ip4_frag_tx_datagrams"] == 1


def test_fragmented_send_to_an_unresolved_hop_starts_arp_and_drops_the_datagram():
    iface, drv = make_iface()
    sock = iface.udp.socket()
    assert not sock.sendto(bytes(3000), 0, 3000, bytes([192, 0, 2, 1]), 0, 9)
    (req,) = drv.sent
    assert Ether(req)[ARP].op == 1 and Ether(req)[ARP].pdst == HOST
    assert iface.stats["ip4_frag_drop_unresolved"] == 1


def test_identical_duplicate_fragment_is_ignored():
    iface, drv = make_iface()
    learnt(iface, drv)
    fs = frags(ping_3000())
    for f in (fs[0], fs[0], fs[1], fs[1], fs[2]):
        drv.rx.append(f)
    iface.poll(2)
    assert iface.stats["ip4_reasm_drop_dup"] == 2 and iface.stats["ip4_reasm_ok"] == 1
    assert len(drv.sent) == 3


def test_overlap_with_different_data_drops_the_whole_datagram():
    iface, drv = make_iface()
    learnt(iface, drv)
    fs = frags(ping_3000())
    # a fragment at offset 1480 - 8 that rewrites 8 bytes of the first one
    ip = Ether(fs[1])[IP]
    evil = IP(src=HOST, dst=STACK, id=ip.id, proto=1, flags="MF", frag=ip.frag - 1) / (
        b"\xee" * 16)
    for f in (fs[0], bytes(eth() / evil), fs[1], fs[2]):
        drv.rx.append(f)
    iface.poll(2)
    assert iface.stats["ip4_reasm_drop_overlap"] == 1 and iface.stats["ip4_reasm_ok"] == 0
    assert drv.sent == []  # the rest started a new datagram that never completes
    # same data, but not the same fragment boundaries: covered, identical -> duplicate
    iface2, drv2 = make_iface()
    learnt(iface2, drv2)
    same = IP(bytes(Ether(fs[0])[IP]))
    part = IP(src=HOST, dst=STACK, id=same.id, proto=1, flags="MF", frag=8) / bytes(
        same.payload)[64:128]
    for f in (fs[0], bytes(eth() / part), fs[1], fs[2]):
        drv2.rx.append(f)
    iface2.poll(2)
    assert iface2.stats["ip4_reasm_drop_dup"] == 1 and iface2.stats["ip4_reasm_ok"] == 1


def test_conflicting_last_fragments_drop_the_datagram():
    iface, drv = make_iface()
    learnt(iface, drv)
    fs = frags(ping_3000())
    ip = Ether(fs[2])[IP]
    short_last = IP(src=HOST, dst=STACK, id=ip.id, proto=1, frag=ip.frag) / b"12345678"
    for f in (fs[2], bytes(eth() / short_last)):
        drv.rx.append(f)
    iface.poll(2)
    assert iface.stats["ip4_reasm_drop_overlap"] == 1


def test_bad_and_too_big_fragments_are_counted():
    iface, drv = make_iface(ip4_reasm_bytes=2048)
    learnt(iface, drv)
    odd = IP(src=HOST, dst=STACK, id=5, proto=17, flags="MF") / (b"x" * 13)  # not 8-aligned
    empty = IP(src=HOST, dst=STACK, id=6, proto=17, frag=4)
    fs = frags(ping_3000(ident=7))  # 3,000 bytes > 2,048
    for f in (bytes(eth() / odd), bytes(eth() / empty)) + tuple(fs):
        drv.rx.append(f)
    iface.poll(2)
    assert iface.stats["ip4_reasm_drop_bad"] == 2
    assert iface.stats["ip4_reasm_drop_too_big"] == 2  # the 2nd and 3rd fragments
    assert iface.stats["ip4_reasm_ok"] == 0 and iface.frag.in_progress() == 0


def test_too_many_holes_drop_the_datagram():
    iface, drv = make_iface()
    learnt(iface, drv)
    # every other 8-byte block: each new one splits the open-ended hole
    for k in range(10):
        f = IP(src=HOST, dst=STACK, id=11, proto=17, flags="MF", frag=2 * k) / (b"h" * 8)
        drv.rx.append(bytes(eth() / f))
    iface.poll(2)
    iface.poll(3)
    assert iface.stats["ip4_reasm_drop_holes"] == 1


def test_slots_are_bounded_and_a_new_datagram_takes_the_oldest():
    iface, drv = make_iface(ip4_reasm_slots=2)
    learnt(iface, drv)
    starts = [frags(ping_3000(ident=100 + k)) for k in range(3)]
    for k in range(3):
        drv.rx.append(starts[k][0])
        iface.poll(10 + k)
    assert iface.frag.in_progress() == 2 and iface.stats["ip4_reasm_drop_evicted"] == 1
    for f in starts[2][1:]:  # the newest completes
        drv.rx.append(f)
    for f in starts[0][1:]:  # the oldest was evicted: its rest starts over, never completes
        drv.rx.append(f)
    iface.poll(20)
    assert iface.stats["ip4_reasm_ok"] == 1


def test_reassembly_times_out_after_15_s_with_time_exceeded():
    iface, drv = make_iface()
    learnt(iface, drv)
    fs = frags(ping_3000(ident=55))
    drv.rx.append(fs[0])
    drv.rx.append(fs[2])
    assert iface.poll(1000) <= 15_000
    assert iface.poll_at(1000) == 15_000
    assert iface.poll_at(15_999) == 1
    iface.poll(15_999)
    assert iface.frag.in_progress() == 1 and drv.sent == []
    iface.poll(16_000)
    assert iface.frag.in_progress() == 0 and iface.stats["ip4_reasm_drop_timeout"] == 1
    (te,) = drv.sent  # RFC 1122 3.3.2: fragment 0 came, so the sender is told
    r = Ether(te)
    assert r[ICMP].type == 11 and r[ICMP].code == 1
    assert bytes(r[ICMP].payload)[:20] == bytes(Ether(fs[0])[IP])[:20]
    # without fragment 0: dropped silently
    drv.sent.clear()
    drv.rx.append(frags(ping_3000(ident=56))[1])
    iface.poll(20_000)
    iface.poll(35_000)
    assert iface.stats["ip4_reasm_drop_timeout"] == 2 and drv.sent == []


def test_reassembly_off_drops_fragments_counted():
    iface, drv = make_iface(ip4_reasm_slots=0)
    learnt(iface, drv)
    for f in frags(ping_3000()):
        drv.rx.append(f)
    iface.poll(2)
    assert iface.stats["ip4_drop_fragment"] == 3 and drv.sent == []


def test_udp_to_a_closed_port_in_fragments_gets_one_error_quoting_the_first():
    iface, drv = make_iface()
    learnt(iface, drv)
    fs = frags(IP(src=HOST, dst=STACK, id=3) / UDP(sport=1, dport=4444) / bytes(2000))
    for f in reversed(fs):
        drv.rx.append(f)
    iface.poll(2)
    (err,) = drv.sent
    q = bytes(Ether(err)[ICMP].payload)
    assert Ether(err)[ICMP].code == 3 and len(q) == 28
    assert IP(q).frag == 0 and IP(q).flags.MF == 0 and IP(q).len == 2028
