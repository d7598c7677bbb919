"""The Interface read as packet traces: frames in through a fake driver, exact
frames and counters out (CPython, plain twins)."""

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, FakeDriver, make_iface

HOST = "192.0.2.1"
STACK = "192.0.2.2"
OTHER = "192.0.2.3"


def mac(b):
    return ":".join("%02x" % x for x in b)


def eth_to_stack():
    return Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC))


def test_gratuitous_arp_at_start():
    from stack.config import Config
    from stack.iface import Interface

    drv = FakeDriver()
    Interface(drv, Config()).poll(0)
    (frame,) = drv.sent
    f = Ether(frame)
    assert f.dst == "ff:ff:ff:ff:ff:ff" and f[ARP].op == 1
    assert f[ARP].psrc == STACK and f[ARP].pdst == STACK


def test_arp_request_for_us_gets_reply_and_learns_sender():
    iface, drv = make_iface()
    req = Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac(HOST_MAC), psrc=HOST, pdst=STACK)
    drv.rx.append(bytes(req))
    iface.poll(1)
    (frame,) = drv.sent
    r = Ether(frame)
    assert r.dst == mac(HOST_MAC) and r.src == mac(STACK_MAC)
    assert r[ARP].op == 2 and r[ARP].hwsrc == mac(STACK_MAC) and r[ARP].psrc == STACK
    assert r[ARP].hwdst == mac(HOST_MAC) and r[ARP].pdst == HOST
    assert iface.arp.entries() == [(HOST, mac(HOST_MAC), "resolved")]


def test_arp_request_for_someone_else_is_not_answered_nor_learnt():
    iface, drv = make_iface()
    req = Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac(HOST_MAC), psrc=HOST, pdst=OTHER)
    drv.rx.append(bytes(req))
    iface.poll(1)
    assert drv.sent == []
    assert iface.arp.entries() == []


def test_echo_request_gets_reply_with_same_payload():
    iface, drv = make_iface()
    payload = bytes(range(256)) * 5
    req = eth_to_stack() / IP(src=HOST, dst=STACK, ttl=5) / ICMP(type=8, id=7, seq=9) / payload
    drv.rx.append(bytes(req))
    iface.poll(1)
    # Unknown next hop: the reply waits for ARP, one request goes out.
    (arp_req,) = drv.sent
    assert Ether(arp_req)[ARP].pdst == HOST
    drv.sent.clear()
    drv.rx.append(bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / ARP(
        op=2, hwsrc=mac(HOST_MAC), psrc=HOST, hwdst=mac(STACK_MAC), pdst=STACK)))
    iface.poll(2)
    (frame,) = drv.sent
    r = Ether(frame)
    assert r.dst == mac(HOST_MAC)
    assert r[IP].src == STACK and r[IP].dst == HOST and r[IP].ttl == 64
    assert r[ICMP].type == 0 and r[ICMP].id == 7 and r[ICMP].seq == 9
    assert bytes(r[ICMP].payload) == payload
    # scapy recomputes both checksums when told to: they must match ours.
    assert r[IP].chksum == IP(bytes(r[IP])).__class__(bytes(r[IP])).chksum
    rebuilt = Ether(frame)
    del rebuilt[IP].chksum
    del rebuilt[ICMP].chksum
    assert bytes(Ether(bytes(rebuilt))) == frame
    assert iface.stats["icmp_tx_echo_reply"] == 1


def learnt(iface, drv):
    drv.rx.append(bytes(Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac(HOST_MAC), psrc=HOST, pdst=STACK)))
    iface.poll(1)
    drv.sent.clear()


def test_udp_datagram_is_queued_and_sent_back_with_valid_checksum():
    iface, drv = make_iface()
    learnt(iface, drv)
    sock = iface.udp.socket()
    sock.bind(7)
    drv.rx.append(bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(sport=4000, dport=7) / b"abc"))
    iface.poll(2)
    buf = bytearray(64)
    addr = bytearray(6)
    n = sock.recv_into_from(buf, addr)
    assert bytes(buf[:n]) == b"abc" and bytes(addr) == bytes([192, 0, 2, 1, 0x0F, 0xA0])
    assert sock.recv_into_from(buf, addr) == -1
    sock.sendto(buf, 0, n, addr, 0, 4000)
    (frame,) = drv.sent
    r = Ether(frame)
    assert r[UDP].sport == 7 and r[UDP].dport == 4000 and bytes(r[UDP].payload) == b"abc"
    rebuilt = Ether(frame)
    del rebuilt[UDP].chksum
    assert Ether(bytes(rebuilt))[UDP].chksum == r[UDP].chksum


def test_udp_zero_checksum_is_accepted_bad_checksum_dropped():
    iface, drv = make_iface()
    sock = iface.udp.socket()
    sock.bind(9)
    good = eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=9, chksum=0) / b"ok"
    bad = eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=9, chksum=0x1234) / b"no"
    drv.rx += [bytes(good), bytes(bad)]
    iface.poll(1)
    assert sock.records == 1
    assert iface.stats["udp_drop_csum"] == 1


def test_udp_to_unbound_port_and_full_ring_are_counted():
    iface, drv = make_iface(udp_rx_bytes=64)
    sock = iface.udp.socket()
    sock.bind(9)
    d = bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=9) / (b"x" * 40))
    drv.rx += [d, d, bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(sport=1, dport=10))]
    iface.poll(1)
    assert sock.records == 1
    assert iface.stats["udp_drop_full"] == 1
    assert iface.stats["udp_drop_no_port"] == 1


def test_malformed_frames_each_dropped_with_their_counter():
    iface, drv = make_iface()
    good = bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / ICMP(type=8) / (b"p" * 8))
    cases = []
    cases.append((good[:13], "eth_drop_short"))
    cases.append((good[:20], "ip4_drop_short"))
    b = bytearray(good); b[14] = 0x65; cases.append((bytes(b), "ip4_drop_version"))  # noqa: E702
    b = bytearray(good); b[14] = 0x44; cases.append((bytes(b), "ip4_drop_ihl"))  # noqa: E702
    b = bytearray(good); b[24] ^= 1; cases.append((bytes(b), "ip4_drop_csum"))  # noqa: E702
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK, len=500) / ICMP()), "ip4_drop_len"))
    # a fragment that is not the last must carry a multiple of 8 bytes (RFC 791)
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK, flags="MF") / ICMP() / b"ab"),
                  "ip4_reasm_drop_bad"))
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=OTHER) / ICMP()), "ip4_drop_not_ours"))
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK, proto=99)), "ip4_drop_proto"))
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(dport=7, len=99)), "udp_drop_len"))
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / UDP(dport=7, len=4)), "udp_drop_len"))
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK) / ICMP(chksum=1)), "icmp_drop_csum"))
    cases.append((bytes(eth_to_stack() / IP(src=HOST, dst=STACK, proto=1) / b"abc"), "icmp_drop_short"))
    cases.append((bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC), type=0x86DD) / (b"6" * 40)), "eth_drop_type"))
    cases.append((bytes(Ether(src=mac(HOST_MAC), dst="02:00:00:00:00:99") / IP() / ICMP()), "eth_drop_not_ours"))
    cases.append((bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / ARP(op=1))[:30], "arp_drop_short"))
    cases.append((bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / ARP(op=1, plen=16)), "arp_drop_format"))
    for frame, counter in cases:
        before = dict(iface.stats)
        drv.rx.append(frame)
        iface.poll(1)
        changed = {k: iface.stats[k] - before[k] for k in before if iface.stats[k] != before[k]}
        assert changed == {"rx_frames": 1, counter: 1} or changed == {
            "rx_frames": 1, "ip4_rx": 1, counter: 1}, (counter, changed)
    assert drv.sent == []  # nothing malformed provoked a reply
    # and the stack still answers
    learnt(iface, drv)
    drv.rx.append(good)
    iface.poll(2)
    assert Ether(drv.sent[0])[ICMP].type == 0


def test_ip_options_are_skipped_and_reply_has_none():
    iface, drv = make_iface()
    learnt(iface, drv)
    from scapy.layers.inet import IPOption_NOP

    req = eth_to_stack() / IP(src=HOST, dst=STACK, options=[IPOption_NOP()] * 4) / ICMP(type=8) / b"opt"
    drv.rx.append(bytes(req))
    iface.poll(2)
    r = Ether(drv.sent[0])
    assert r[IP].ihl == 5 and bytes(r[ICMP].payload) == b"opt"
    assert iface.stats["ip4_options_ignored"] == 1


def test_broadcast_ping_is_not_answered():
    iface, drv = make_iface()
    learnt(iface, drv)
    drv.rx.append(bytes(Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff") / IP(
        src=HOST, dst="192.0.2.255") / ICMP(type=8)))
    iface.poll(2)
    assert drv.sent == [] and iface.stats["icmp_drop_broadcast"] == 1


def test_arp_retries_then_gives_up_and_drops_the_waiting_frame():
    iface, drv = make_iface(arp_retry_ms=100, arp_tries=3)
    sock = iface.udp.socket()
    sock.sendto(b"hi", 0, 2, bytes([192, 0, 2, 9]), 0, 5)
    iface.poll(0)
    iface.poll(100)
    iface.poll(200)
    assert [Ether(f)[ARP].pdst for f in drv.sent] == ["192.0.2.9"] * 3
    assert iface.poll_at(200) == 100
    iface.poll(300)
    assert iface.stats["arp_drop_unresolved"] == 1
    assert iface.arp.entries() == []


def test_frames_held_for_arp_leave_from_the_interface_tx_buffer():
    # The SPI drivers keep views of a few buffers they move (drivers/spibuf.py);
    # a held frame sent from its own slot buffer took one of those places for
    # good (+1,056 bytes of heap in the frame fuzzer). Every frame the driver
    # gets must be the interface's tx_buf, held ones included, with exact bytes.
    iface, drv = make_iface()
    seen = []
    send = drv.send

    def send_checked(buf, n):
        seen.append(buf is iface.tx_buf)
        return send(buf, n)

    drv.send = send_checked
    sock = iface.udp.socket()
    for last, data in ((9, b"to nine"), (10, b"to ten, longer")):
        sock.sendto(data, 0, len(data), bytes([192, 0, 2, last]), 0, 5)
    iface.poll(1)
    assert [Ether(f)[ARP].pdst for f in drv.sent] == ["192.0.2.9", "192.0.2.10"]
    drv.sent.clear()
    for last in (10, 9):  # answered in the other order
        m = "02:00:00:00:00:%02x" % last
        drv.rx.append(bytes(Ether(src=m, dst=mac(STACK_MAC)) / ARP(
            op=2, hwsrc=m, psrc="192.0.2.%d" % last, hwdst=mac(STACK_MAC), pdst=STACK)))
    iface.poll(2)
    got = [(Ether(f).dst, Ether(f)[IP].dst, bytes(Ether(f)[UDP].payload)) for f in drv.sent]
    assert got == [("02:00:00:00:00:0a", "192.0.2.10", b"to ten, longer"),
                   ("02:00:00:00:00:09", "192.0.2.9", b"to nine")]
    assert seen == [True] * 4  # two ARP requests, two held datagrams


def test_off_subnet_goes_to_gateway_mac():
    iface, drv = make_iface()
    learnt(iface, drv)  # 192.0.2.1 is also the gateway
    sock = iface.udp.socket()
    sock.sendto(b"far", 0, 3, bytes([198, 51, 100, 7]), 0, 53)
    r = Ether(drv.sent[0])
    assert r.dst == mac(HOST_MAC) and r[IP].dst == "198.51.100.7"


def test_arp_cache_is_bounded_and_recycles_oldest():
    iface, drv = make_iface(arp_entries=2)
    for t, last in enumerate((3, 4, 5)):
        drv.rx.append(bytes(Ether(src="02:00:00:00:00:%02x" % last, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc="02:00:00:00:00:%02x" % last, psrc="192.0.2.%d" % last, pdst=STACK)))
        iface.poll(10 * t)
    assert sorted(e[0] for e in iface.arp.entries()) == ["192.0.2.4", "192.0.2.5"]


def test_send_udp_past_the_largest_datagram_raises_emsgsize():
    import pytest

    iface, drv = make_iface()
    sock = iface.udp.socket()
    learnt(iface, drv)
    with pytest.raises(OSError) as e:
        sock.sendto(bytes(65508), 0, 65508, bytes([192, 0, 2, 1]), 0, 9)
    assert e.value.args[0] == 90
    assert drv.sent == []


def test_shared_constants_agree():
    from stack import iface as iface_mod
    from stack.wire import eth, ip4

    assert ip4.TX_L4_OFF == eth.HDR_LEN + ip4.HDR_LEN
    assert iface_mod._L4_OFF == ip4.TX_L4_OFF
    assert iface_mod._IP_OFF == eth.HDR_LEN


def _learn(iface, drv, ip=HOST, hw=HOST_MAC, now=1):
    req = Ether(src=mac(hw), dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac(hw), psrc=ip, pdst=STACK)
    drv.rx.append(bytes(req))
    iface.poll(now)
    drv.sent.clear()


def _udp_message(iface, n):
    # any L4 message will do: 8 bytes of UDP header and n bytes of data
    b = iface.tx_buf
    for i in range(8 + n):
        b[34 + i] = (i * 7) & 0xFF
    b[38] = (8 + n) >> 8
    b[39] = (8 + n) & 0xFF
    b[40] = b[41] = 0  # the checksum field: filled in by the interface
    return 8 + n


def test_reused_headers_send_the_same_frame_as_send_ip4():
    # iface.header() once, then send_header() per datagram (what TCP does
    # for a connection): byte for byte what send_ip4 sends, checksums included
    from stack import csum
    from stack.wire import ip4

    iface, drv = make_iface()
    _learn(iface, drv)
    dst = bytes((192, 0, 2, 1))
    hdr = bytearray(34)
    gen = iface.header(hdr, ip4.PROTO_UDP, dst, 0)
    assert gen == iface.gen
    for n in (0, 1, 17, 1000, 1472):
        l4 = _udp_message(iface, n)
        iface.send_ip4(iface.tx_buf, ip4.PROTO_UDP, dst, 0, l4)
        l4 = _udp_message(iface, n)
        iface.send_header(iface.tx_buf, hdr, ip4.PROTO_UDP, l4)
        a, b = drv.sent[-2], drv.sent[-1]
        # the same bytes but the identification (bytes 18-19) and the IPv4
        # checksum that covers it (24-25); both checksums valid
        assert a[:18] + a[20:24] + a[26:] == b[:18] + b[20:24] + b[26:]
        assert Ether(b)[IP].id == Ether(a)[IP].id + 1
        assert csum.sum16(b, 14, 20, 0) == 0xFFFF  # IPv4 header checksum verifies
        assert csum.sum16(b, 34, l4, csum.pseudo_sum(b, 26, 30, 17, l4)) == 0xFFFF


def test_reused_headers_expire_when_the_neighbour_changes():
    from stack.wire import ip4

    iface, drv = make_iface()
    dst = bytes((192, 0, 2, 1))
    hdr = bytearray(34)
    assert iface.header(hdr, ip4.PROTO_UDP, dst, 0) == -1  # not resolved: send_ip4 asks
    _learn(iface, drv)
    gen = iface.header(hdr, ip4.PROTO_UDP, dst, 0)
    assert gen >= 0 and hdr[0:6] == HOST_MAC
    _learn(iface, drv, hw=b"\x02\x00\x00\x00\x00\x77", now=2)  # the host's MAC changes
    assert iface.gen != gen
    gen = iface.header(hdr, ip4.PROTO_UDP, dst, 0)
    assert hdr[0:6] == b"\x02\x00\x00\x00\x00\x77"
    assert iface.header(hdr, ip4.PROTO_UDP, b"\xff\xff\xff\xff", 0) == -1  # broadcast
    gen = iface.gen
    iface.set_addr(bytes((192, 0, 2, 9)), iface.netmask, iface.gateway)  # our address moves
    assert iface.gen != gen
