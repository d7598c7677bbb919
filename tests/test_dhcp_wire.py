"""stack/wire/dhcp4.py: emit is the inverse of parse (hypothesis round trips,
scapy as the independent reader and writer), check() before any access."""

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP

from stack.wire import dhcp4 as wd

addrs = st.binary(min_size=4, max_size=4)
macs = st.binary(min_size=6, max_size=6)
# options we may emit: code (not pad/end/overload) and a value of 0..40 bytes
opts = st.lists(st.tuples(st.integers(1, 254).filter(lambda c: c != wd.OPT_OVERLOAD),
                          st.binary(max_size=40)), max_size=8)


@given(st.sampled_from([wd.OP_REQUEST, wd.OP_REPLY]), addrs, st.integers(0, 0xFFFF),
       st.sampled_from([0, 0x8000]), addrs, macs, st.integers(1, 8), opts)
def test_round_trip(op, xid, secs, flags, ciaddr, chaddr, mtype, extra):
    buf = bytearray(1024)
    p = wd.write(buf, 0, op, xid, secs, flags, ciaddr, chaddr)
    p = wd.put_u8(buf, p, wd.OPT_MSG_TYPE, mtype)
    for code, value in extra:
        p = wd.put(buf, p, code, value, 0, len(value))
    n = wd.put_end(buf, 0, p)
    assert n >= wd.MIN_SEND
    assert wd.check(buf, 0, n) == wd.OPTIONS
    assert wd.op(buf, 0) == op and wd.secs(buf, 0) == secs and wd.flags(buf, 0) == flags
    assert bytes(buf[wd.XID:wd.XID + 4]) == xid
    assert bytes(buf[wd.CIADDR:wd.CIADDR + 4]) == ciaddr
    assert bytes(buf[wd.CHADDR:wd.CHADDR + 6]) == chaddr
    m = wd.find(buf, 0, n, wd.OPT_MSG_TYPE)
    assert buf[m] == 1 and buf[m + 1] == mtype
    first = {}
    for code, value in extra:
        first.setdefault(code, value)
    for code, value in first.items():
        if code == wd.OPT_MSG_TYPE:
            continue
        q = wd.find(buf, 0, n, code)
        assert buf[q] == len(value) and bytes(buf[q + 1:q + 1 + len(value)]) == value
    # scapy reads the same message
    b = BOOTP(bytes(buf[:n]))
    assert b.op == op and b.xid == int.from_bytes(xid, "big") and b.chaddr[:6] == chaddr
    assert b[DHCP].options[0] == ("message-type", mtype)


@given(st.integers(0, 0xFFFFFFFF))
def test_u32_saturates_below_2_30(v):
    buf = bytearray(v.to_bytes(4, "big"))
    assert wd.u32_sat(buf, 0) == min(v, wd.U32_MAX)


def test_scapy_message_with_overload_in_both_fields():
    file_opts = bytes([58, 4, 0, 0, 0, 30, 255])
    sname_opts = bytes([59, 4, 0, 0, 0, 50, 255])
    m = bytes(BOOTP(op=2, file=file_opts + bytes(128 - 7), sname=sname_opts + bytes(64 - 7))
              / DHCP(options=[("message-type", "ack"), (52, b"\x03"), ("lease_time", 60), "end"]))
    n = len(m)
    buf = bytearray(m)
    assert wd.check(buf, 0, n) == wd.OPTIONS
    assert wd.u32_sat(buf, wd.find(buf, 0, n, wd.OPT_T1) + 1) == 30
    assert wd.u32_sat(buf, wd.find(buf, 0, n, wd.OPT_T2) + 1) == 50
    assert wd.u32_sat(buf, wd.find(buf, 0, n, wd.OPT_LEASE) + 1) == 60
    assert wd.find(buf, 0, n, wd.OPT_ROUTER) == -1


def test_check_rejects_before_reading():
    m = bytearray(bytes(BOOTP(op=2) / DHCP(options=[("message-type", "ack"), "end"])))
    assert wd.check(m, 0, wd.OPTIONS - 1) == wd.DROP_SHORT
    m[wd.OPTIONS + 1] = 50  # message-type length runs past the end
    assert wd.check(m, 0, len(m)) == wd.DROP_OPTIONS
    m[wd.OPTIONS + 1] = 1
    assert wd.check(m, 0, wd.OPTIONS + 1) == wd.DROP_OPTIONS  # code without its length
    assert wd.check(m, 0, wd.OPTIONS) == wd.OPTIONS  # no options at all is well formed
    # an overloaded field may not overload again
    m2 = bytearray(bytes(BOOTP(op=2, file=bytes([52, 1, 2, 255]) + bytes(124))
                         / DHCP(options=[(52, b"\x01"), "end"])))
    assert wd.check(m2, 0, len(m2)) == wd.DROP_OPTIONS


def test_pad_and_missing_end_are_tolerated():
    buf = bytearray(300)
    p = wd.write(buf, 0, wd.OP_REPLY, b"\0\0\0\1", 0, 0, bytes(4), bytes(6))
    buf[p] = 0
    buf[p + 1] = 0
    p = wd.put_u8(buf, p + 2, wd.OPT_MSG_TYPE, wd.ACK)
    assert wd.check(buf, 0, p) == wd.OPTIONS
    assert buf[wd.find(buf, 0, p, wd.OPT_MSG_TYPE) + 1] == wd.ACK
