# stack/wire/tcp.py: parse/emit round trips, option parsing, relative sequence numbers.
from hypothesis import given
from hypothesis import strategies as st

from stack.wire import tcp as wtcp


def _hdr(opts=b"", hl=None):
    hl = 20 + len(opts) if hl is None else hl
    b = bytearray(40 + len(opts))
    wtcp.write(b, 0, 1234, 80, hl, wtcp.SYN | wtcp.ACKF, 29200)
    b[20 : 20 + len(opts)] = opts
    return b


def test_write_read_round_trip():
    b = bytearray(24)
    wtcp.write(b, 2, 0xABCD, 0x1234, 20, wtcp.FIN | wtcp.PSH | wtcp.ACKF, 0xFEDC)
    wtcp.put32(b, 2, wtcp.SEQ, 0xDEAD, 0xBEEF)
    wtcp.put32(b, 2, wtcp.ACK, 0x0102, 0x0304)
    assert wtcp.check(b, 2, 22) == 20
    assert wtcp.src_port(b, 2) == 0xABCD and wtcp.dst_port(b, 2) == 0x1234
    assert wtcp.hi16(b, 2, wtcp.SEQ) == 0xDEAD and wtcp.lo16(b, 2, wtcp.SEQ) == 0xBEEF
    assert wtcp.hi16(b, 2, wtcp.ACK) == 0x0102 and wtcp.lo16(b, 2, wtcp.ACK) == 0x0304
    assert wtcp.flags(b, 2) == wtcp.FIN | wtcp.PSH | wtcp.ACKF
    assert wtcp.window(b, 2) == 0xFEDC
    assert wtcp.data_off(b, 2) == 20
    assert wtcp.csum_field(b, 2) == 0 and wtcp.urgent(b, 2) == 0


def test_check_rejects_short_and_bad_offsets():
    b = _hdr()
    assert wtcp.check(b, 0, 19) == wtcp.DROP_SHORT
    b[12] = 4 << 4  # data offset 16 < 20
    assert wtcp.check(b, 0, 40) == wtcp.DROP_OFFSET
    b[12] = 15 << 4  # 60 > segment
    assert wtcp.check(b, 0, 40) == wtcp.DROP_OFFSET


def test_mss_option_emitted_and_parsed():
    b = bytearray(24)
    wtcp.write(b, 0, 1, 2, 24, wtcp.SYN, 100)
    assert wtcp.write_mss(b, 20, 1460) == 4
    assert wtcp.parse_mss(b, 0, 24) == 1460


def test_options_unknown_skipped_nop_eol():
    # NOP, window scale (kind 3 len 3), SACK-permitted (4, 2), MSS, EOL
    b = _hdr(bytes((1, 3, 3, 7, 4, 2, 2, 4, 0x05, 0xB4, 0, 0)))
    assert wtcp.parse_mss(b, 0, 32) == 1460
    assert wtcp.parse_mss(_hdr(bytes((0, 2, 4, 1, 1, 0, 0, 0))), 0, 28) == 0  # after EOL: ignored


def test_options_malformed_rejected():
    assert wtcp.parse_mss(_hdr(bytes((8, 1, 0, 0))), 0, 24) == wtcp.DROP_OPTIONS  # len < 2
    assert wtcp.parse_mss(_hdr(bytes((8, 10, 0, 0))), 0, 24) == wtcp.DROP_OPTIONS  # past end
    assert wtcp.parse_mss(_hdr(bytes((1, 1, 1, 8))), 0, 24) == wtcp.DROP_OPTIONS  # no length byte
    assert wtcp.parse_mss(_hdr(bytes((2, 3, 5, 0))), 0, 24) == wtcp.DROP_OPTIONS  # MSS len != 4


@given(st.binary(min_size=0, max_size=40))
def test_option_parser_never_reads_past_header(opts):
    opts = opts + bytes((-len(opts)) % 4)
    b = _hdr(opts) + bytearray(b"\xAA" * 8)  # bytes after the header must not matter
    r = wtcp.parse_mss(b, 0, 20 + len(opts))
    b2 = _hdr(opts) + bytearray(b"\x02" * 8)
    assert wtcp.parse_mss(b2, 0, 20 + len(opts)) == r
    assert r == wtcp.DROP_OPTIONS or 0 <= r <= 0xFFFF


@given(st.integers(0, 2**32 - 1), st.integers(-(2**30) + 1, 2**30 - 1))
def test_put_rel_then_rel_round_trip(base, r):
    b = bytearray(20)
    hi, lo = base >> 16, base & 0xFFFF
    wtcp.put_rel(b, 0, wtcp.SEQ, hi, lo, r)
    v = (wtcp.hi16(b, 0, wtcp.SEQ) << 16) | wtcp.lo16(b, 0, wtcp.SEQ)
    assert v == (base + r) % 2**32
    got = wtcp.rel(b, 0, wtcp.SEQ, hi, lo)
    assert got == r or (abs(r) >= 2**30 - 2**16 and abs(got) == wtcp.FAR)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_rel_is_signed_distance_clamped(base, v):
    b = bytearray(20)
    wtcp.put32(b, 0, wtcp.ACK, v >> 16, v & 0xFFFF)
    d = (v - base) % 2**32
    if d >= 2**31:
        d -= 2**32
    got = wtcp.rel(b, 0, wtcp.ACK, base >> 16, base & 0xFFFF)
    if -(2**30) < d < 2**30:  # exactly 2**30 away in either direction clamps
        assert got == d
    else:
        assert got == (wtcp.FAR if d > 0 else -wtcp.FAR)
    assert -(2**30) < got < 2**30  # always a small int on a 32-bit port
