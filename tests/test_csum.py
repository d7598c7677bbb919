"""RFC 1071 checksum and RFC 1624 incremental update (plain twin, on CPython)."""

from hypothesis import given
from hypothesis import strategies as st

from stack import csum


def test_rfc1071_worked_example():
    # RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (folded).
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert csum.sum16(data, 0, 8, 0) == 0xDDF2
    assert csum.checksum(data, 0, 8) == 0x220D


def test_known_ipv4_header():
    # A classic example header (checksum b861 in place) sums to ffff.
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert csum.checksum(hdr, 0, 20) == 0xB861
    fixed = bytearray(hdr)
    fixed[10:12] = b"\xb8\x61"
    assert csum.sum16(fixed, 0, 20, 0) == 0xFFFF


def test_odd_length_pads_with_zero():
    assert csum.sum16(b"\x12\x34\x56", 0, 3, 0) == 0x1234 + 0x5600


def test_offset_and_length_select_the_span():
    buf = b"\xff\xff" + bytes.fromhex("0001f203f4f5f6f7") + b"\xee"
    assert csum.sum16(buf, 2, 8, 0) == 0xDDF2


def _reference(data):
    s = 0
    for i in range(0, len(data) - 1, 2):
        s += (data[i] << 8) | data[i + 1]
    if len(data) & 1:
        s += data[-1] << 8
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


@given(st.binary(max_size=2000), st.integers(0, 0xFFFF))
def test_sum16_matches_reference(data, acc):
    s = _reference(data) + acc
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    assert csum.sum16(data, 0, len(data), acc) == s


@given(st.binary(min_size=2, max_size=200).filter(lambda b: len(b) % 2 == 0),
       st.integers(0, 0xFFFF))
def test_appending_the_checksum_sums_to_ffff(data, _):
    c = csum.checksum(data, 0, len(data))
    assert csum.sum16(data + bytes([c >> 8, c & 0xFF]), 0, len(data) + 2, 0) == 0xFFFF


@given(st.binary(min_size=8, max_size=200).filter(lambda b: len(b) % 2 == 0),
       st.integers(0, 3), st.integers(0, 0xFFFF))
def test_rfc1624_update_equals_recompute(data, word, new):
    data = bytearray(data)
    before = csum.checksum(data, 0, len(data))
    old = (data[2 * word] << 8) | data[2 * word + 1]
    data[2 * word] = new >> 8
    data[2 * word + 1] = new & 0xFF
    after = csum.checksum(data, 0, len(data))
    updated = csum.update16(before, old, new)
    # 0x0000 and 0xffff are the same value in ones-complement arithmetic.
    assert updated == after or {updated, after} == {0, 0xFFFF}


def test_pseudo_sum_counts_addresses_proto_and_length():
    ip = bytes.fromhex("c0000201c0000202")  # 192.0.2.1 -> 192.0.2.2
    s = 0xC000 + 0x0201 + 0xC000 + 0x0202 + 17 + 12
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    assert csum.pseudo_sum(ip, 0, 4, 17, 12) == s
