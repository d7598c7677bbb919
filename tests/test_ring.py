# stack/ring.py: byte ring and out-of-order assembler against simple models.
from hypothesis import given, settings
from hypothesis import strategies as st

from stack.ring import Assembler, Ring


def test_ring_write_read_wraps():
    r = Ring(8)
    assert r.write(b"abcdef", 0, 6) == 6
    out = bytearray(8)
    assert r.read_into(out, 0, 4) == 4 and out[:4] == b"abcd"
    assert r.write(b"123456", 0, 6) == 6  # wraps around the end
    assert r.write(b"x", 0, 1) == 0 and r.free() == 0
    assert r.read_into(out, 0, 8) == 8 and out == b"ef123456"


def test_ring_peek_at_offset_for_retransmission():
    r = Ring(8)
    r.write(b"......", 0, 6)
    r.discard(6)
    r.write(b"ABCDEFGH", 0, 8)
    out = bytearray(3)
    r.peek_into(3, out, 0, 3)
    assert out == b"DEF" and r.used == 8


def test_write_at_and_commit():
    r = Ring(8)
    r.write(b"ab", 0, 2)
    r.write_at(2, b"ef", 0, 2)  # out of order
    assert r.used == 2
    r.write_at(0, b"cd", 0, 2)
    r.commit(4)
    out = bytearray(6)
    assert r.read_into(out, 0, 6) == 6 and out == b"abcdef"


def test_out_of_order_bytes_survive_the_reader_emptying_the_ring():
    # regression: discard() used to move head to 0 when the ring emptied,
    # shifting bytes already placed out of order (found by the 10 MB netem run)
    r = Ring(16)
    r.write(b"abcd", 0, 4)
    r.write_at(2, b"gh", 0, 2)  # "ef" missing
    out = bytearray(4)
    assert r.read_into(out, 0, 4) == 4  # the reader empties the ring
    r.write_at(0, b"ef", 0, 2)
    r.commit(4)
    assert r.read_into(out, 0, 4) == 4 and out == b"efgh"


def test_assembler_merges_and_advances():
    a = Assembler(3)
    assert a.add(10, 20) and a.add(30, 40) and a.add(50, 60)
    assert not a.add(70, 80)  # no slot for a fourth hole
    assert a.add(20, 30)  # bridges two ranges: frees a slot
    assert a.n == 2 and (a.start[0], a.end[0]) == (10, 40)
    assert a.advance(5) == 5  # still a hole at 5..10
    assert (a.start[0], a.end[0]) == (5, 35)
    assert a.advance(5) == 35 and a.n == 1  # fills the hole: 35 contiguous
    assert (a.start[0], a.end[0]) == (10, 20)  # (45, 55) shifted by 35


ops = st.lists(
    st.tuples(st.sampled_from(["w", "r", "o"]), st.integers(0, 40), st.integers(1, 40)),
    max_size=60,
)


@settings(max_examples=300)
@given(ops, st.integers(1, 64))
def test_ring_matches_bytes_model(seq, size):
    r = Ring(size)
    model = bytearray()
    n = 0
    for op, a, b in seq:
        data = bytes((n + i) & 0xFF for i in range(b))
        n += b
        if op == "w":
            k = r.write(data, 0, b)
            assert k == min(b, size - len(model))
            model += data[:k]
        elif op == "r":
            out = bytearray(b)
            k = r.read_into(out, 0, b)
            assert k == min(b, len(model)) and out[:k] == model[:k]
            del model[:k]
        elif model:
            at = a % len(model)
            k = min(b, len(model) - at)
            out = bytearray(k)
            r.peek_into(at, out, 0, k)
            assert out == model[at : at + k]
        assert r.used == len(model) and r.free() == size - len(model)


@settings(max_examples=400)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60), st.integers(0, 64)), max_size=60),
    st.integers(1, 6),
    st.integers(16, 128),
)
def test_ring_and_assembler_reassemble_a_stream(segs, slots, size):
    """Segments (offset, length) of a 512-byte stream arrive in any order
    into a ring of `size` bytes (only what fits the free space is taken, as
    the receive window does) while a reader drains `read` bytes after each.
    The bytes read are exactly the stream's prefix; the in-order edge is
    exactly the run of accepted bytes."""
    stream = bytes((i * 31 + 7) & 0xFF for i in range(512))
    ring = Ring(size)
    asm = Assembler(slots)
    have = {}  # model: stream offsets accepted beyond the edge
    nxt = 0
    out = bytearray()
    for off, ln, rd in segs:
        end = min(off + ln, 512, nxt + ring.free())  # the window
        s = max(off, nxt)
        if s < end:
            d0 = s - nxt
            ring.write_at(d0, stream, s, end - s)
            if d0 == 0:
                got = asm.advance(end - s)
                ring.commit(got)
                nxt += got
            elif asm.add(d0, end - nxt):
                for i in range(s, end):
                    have[i] = True
            for i in range(s, end):
                if d0 == 0:
                    have[i] = True
        p = nxt
        while have.get(p):
            p += 1
        assert nxt == p or not have.get(nxt)
        assert asm.n <= slots
        for k in range(asm.n):
            assert 0 < asm.start[k] < asm.end[k] <= ring.free()
            if k:
                assert asm.end[k - 1] < asm.start[k]
        buf = bytearray(rd)
        n = ring.read_into(buf, 0, rd)
        out += buf[:n]
    n = ring.used
    buf = bytearray(n)
    ring.read_into(buf, 0, n)
    out += buf
    assert bytes(out) == stream[: len(out)] and len(out) == nxt
