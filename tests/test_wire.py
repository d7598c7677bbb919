"""Wire modules: emit is the inverse of parse (hypothesis round trips), and the
check functions reject what they must before any field is read."""

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from stack import csum
from stack.wire import arp, eth, ip4, udp

macs = st.binary(min_size=6, max_size=6)
addrs = st.binary(min_size=4, max_size=4)
ports = st.integers(0, 0xFFFF)


@given(macs, macs, st.sampled_from([eth.TYPE_IP4, eth.TYPE_ARP, 0x86DD]))
def test_eth_round_trip(dst, src, etype):
    buf = bytearray(60)
    eth.write(buf, dst, 0, src, etype)
    assert eth.check(buf, 60) == eth.HDR_LEN
    assert eth.ethertype(buf) == etype
    assert eth.dst_is(buf, dst)
    f = Ether(bytes(buf))
    assert bytes.fromhex(f.dst.replace(":", "")) == dst and f.type == etype


def test_eth_check_rejects_short():
    assert eth.check(bytearray(13), 13) == eth.DROP_SHORT


@given(st.sampled_from([arp.OP_REQUEST, arp.OP_REPLY]), macs, addrs, macs, addrs)
def test_arp_round_trip(op, sha, spa, tha, tpa):
    buf = bytearray(64)
    arp.write(buf, 14, op, sha, spa, tha, 0, tpa, 0)
    assert arp.check(buf, 14, 14 + arp.LEN) == arp.LEN
    assert arp.oper(buf, 14) == op
    assert bytes(buf[14 + arp.SHA:14 + arp.SHA + 6]) == sha
    assert bytes(buf[14 + arp.TPA:14 + arp.TPA + 4]) == tpa
    p = ARP(bytes(buf[14:14 + arp.LEN]))
    assert p.op == op and p.hwtype == 1 and p.ptype == 0x0800


def test_arp_check_rejects_short_and_foreign_formats():
    buf = bytearray(64)
    arp.write(buf, 0, 1, bytes(6), bytes(4), bytes(6), 0, bytes(4), 0)
    assert arp.check(buf, 0, arp.LEN - 1) == arp.DROP_SHORT
    buf[4] = 8  # hardware address length
    assert arp.check(buf, 0, arp.LEN) == arp.DROP_FORMAT


@given(st.integers(20, 1500), st.integers(0, 0xFFFF), st.integers(1, 255),
       st.sampled_from([1, 6, 17]), addrs, addrs)
def test_ip4_round_trip(tl, ident, ttl, proto, src, dst):
    buf = bytearray(14 + tl)
    ip4.write(buf, 14, tl, ident, ttl, proto, src, dst, 0)
    assert ip4.check(buf, 14, len(buf)) == ip4.HDR_LEN
    assert ip4.total_len(buf, 14) == tl and ip4.proto(buf, 14) == proto
    assert ip4.addr_is(buf, 14 + ip4.SRC, src) and ip4.addr_is(buf, 14 + ip4.DST, dst)
    assert not ip4.is_fragment(buf, 14)
    p = IP(bytes(buf[14:]))
    assert p.ttl == ttl and p.id == ident and p.flags == "DF"
    del p.chksum
    assert IP(bytes(p)).chksum == (buf[24] << 8 | buf[25])


@given(st.binary(min_size=20, max_size=80))
def test_ip4_check_never_accepts_what_it_cannot_back(data):
    buf = bytearray(data)
    hl = ip4.check(buf, 0, len(buf))
    if hl > 0:
        assert buf[0] >> 4 == 4 and 20 <= hl <= ip4.total_len(buf, 0) <= len(buf)
        assert csum.sum16(buf, 0, hl, 0) == 0xFFFF


@given(ports, ports, st.binary(max_size=100))
def test_udp_round_trip(sport, dport, data):
    buf = bytearray(8 + len(data))
    udp.write(buf, 0, sport, dport, 8 + len(data))
    buf[8:] = data
    assert udp.check(buf, 0, len(buf)) == 8 + len(data)
    assert (udp.src_port(buf, 0), udp.dst_port(buf, 0)) == (sport, dport)
    p = UDP(bytes(buf))
    assert p.sport == sport and p.dport == dport and p.len == 8 + len(data)


def test_udp_check_rejects_lying_lengths():
    buf = bytearray(20)
    udp.write(buf, 0, 1, 2, 21)
    assert udp.check(buf, 0, 20) == udp.DROP_LEN
    udp.write(buf, 0, 1, 2, 7)
    assert udp.check(buf, 0, 20) == udp.DROP_LEN
    assert udp.check(buf, 0, 7) == udp.DROP_SHORT


def test_parse_and_format_addresses():
    import pytest

    assert ip4.format_addr(ip4.parse_addr("192.0.2.10")) == "192.0.2.10"
    for bad in ("192.0.2", "192.0.2.256", "a.b.c.d"):
        with pytest.raises(ValueError):
            ip4.parse_addr(bad)
