"""Fragment soup (hypothesis, CPython): IPv4 reassembly (stack/frag.py) under
random cuts, orders, duplicates and foreign fragments delivers each datagram
exactly once and byte for byte; under arbitrary fragments (offsets, lengths,
MF, identifications, contents at random) it never raises, never holds more
than its slots, and anything it delivers is what the fragments said, with
no two of them disagreeing about a byte (RFC 791, RFC 815; overlaps with
other data drop the datagram, docs/robustness.md)."""

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import HOST_MAC, STACK_MAC, make_iface
from fuzz_util import Fence

HOST = bytes([192, 0, 2, 1])
STACK = bytes([192, 0, 2, 2])
SOUP = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def fragment_frame(ident, off8, more, data, proto=17):
    """An Ethernet frame carrying one fragment: data at offset off8 * 8."""
    flags = (0x2000 if more else 0) | off8
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, flags, 64, proto,
                              0, HOST, STACK))
    h[10:12] = struct.pack("!H", _csum(bytes(h)))
    return STACK_MAC + HOST_MAC + b"\x08\x00" + bytes(h) + data


def udp_datagram(port, payload):
    u = bytearray(struct.pack("!HHHH", 4000, port, 8 + len(payload), 0) + payload)
    pseudo = HOST + STACK + struct.pack("!BBH", 0, 17, len(u))
    c = _csum(pseudo + bytes(u)) or 0xFFFF
    u[6:8] = struct.pack("!H", c)
    return bytes(u)


def rig():
    iface, drv = make_iface(udp_rx_bytes=8192)
    sock = iface.udp.socket()
    sock.bind(7)
    return iface, drv, sock


def received(sock):
    out = []
    buf = bytearray(4000)
    addr = bytearray(6)
    while True:
        n = sock.recv_into_from(buf, addr)
        if n < 0:
            return out
        out.append(bytes(buf[:n]))


@st.composite
def cut_datagram(draw):
    """A UDP datagram's bytes and its cut points (multiples of 8)."""
    size = draw(st.integers(9, 2900))
    payload = draw(st.binary(min_size=size - 8, max_size=size - 8))
    whole = udp_datagram(7, payload)
    cuts = set(draw(st.lists(st.integers(1, (len(whole) - 1) // 8), max_size=6)))
    cuts.update(range(185, (len(whole) - 1) // 8 + 1, 185))  # no piece over 1,480 bytes
    edges = [0] + [c * 8 for c in sorted(cuts)] + [len(whole)]
    for a, b in zip(edges, edges[1:]):
        if b - a > 1480:
            edges.append(a + 1480)
    edges = sorted(set(edges))
    pieces = [(edges[i], whole[edges[i]:edges[i + 1]], i + 2 < len(edges))
              for i in range(len(edges) - 1)]
    return payload, whole, pieces


@SOUP
@given(cut_datagram(), st.randoms(use_true_random=False), st.integers(0, 3), st.booleans())
def test_any_cut_any_order_with_duplicates_is_delivered_whole(dg, rnd, dups, foreign):
    payload, whole, pieces = dg
    iface, drv, sock = rig()
    frames = [fragment_frame(4242, off // 8, more, data) for off, data, more in pieces]
    order = list(range(len(frames)))
    rnd.shuffle(order)
    for _ in range(dups):  # exact repeats, anywhere
        order.insert(rnd.randrange(len(order) + 1), rnd.randrange(len(frames)))
    seq = [frames[i] for i in order]
    if foreign:  # an unrelated incomplete datagram takes the other slot
        seq.insert(rnd.randrange(len(seq) + 1), fragment_frame(77, 0, True, bytes(64)))
    for i, f in enumerate(seq):
        drv.rx.append(f)
        iface.poll(10 + i)
    got = received(sock)
    if len(pieces) == 1:
        assert got == [payload] * (1 + dups)  # not a fragment: each copy is a datagram
        return
    # every delivery is the whole datagram; repeats that come after it was
    # complete start a new reassembly (as on Linux: nothing remembers a
    # finished datagram), so exactly once only when they all came before
    assert got and all(g == payload for g in got)
    seen = set()
    for done_at, j in enumerate(order):
        seen.add(j)
        if len(seen) == len(frames):
            break
    if done_at == len(order) - 1:
        assert len(got) == 1
    assert iface.stats["ip4_reasm_drop_overlap"] == 0


fragment = st.tuples(
    st.sampled_from([1, 2, 3]),  # identification: a few datagrams at once
    st.integers(0, 400),  # offset in 8-byte units (up to 3,200 bytes)
    st.booleans(),  # more fragments
    st.integers(0, 1480),  # data length (one frame)
    st.integers(0, 3),  # content: which of a few fills
)


@SOUP
@given(st.lists(fragment, min_size=1, max_size=14))
def test_fragment_soup_never_raises_and_delivers_only_what_fragments_agree_on(soup):
    iface, drv, sock = rig()
    iface.poll(1)
    said = {}  # ident -> {position: set of byte values}
    for k, (ident, off8, more, n, fill) in enumerate(soup):
        # contents depend on the absolute position, so equal fills agree
        data = bytes(((off8 * 8 + i) * (fill + 1) + fill) & 0xFF for i in range(n))
        frame = fragment_frame(ident, off8, more, data, proto=17)
        drv.rx.append(frame)
        for i, b in enumerate(data):
            said.setdefault(ident, {}).setdefault(off8 * 8 + i, set()).add(b)
        iface.poll(5 + k)
        assert iface.frag.in_progress() <= iface.cfg.ip4_reasm_slots
    assert iface.stats["rx_frames"] == len(soup)
    # whatever went up was assembled from the fragments' own bytes, and no
    # fragment disagreed about any byte of it; a UDP checksum over random
    # soup rarely holds, so look at what the UDP layer saw, not the socket
    delivered = iface.stats["ip4_reasm_ok"]
    whole = sum(1 for _, off8, more, _, _ in soup if off8 == 0 and not more)  # no fragment
    assert delivered <= len(soup)
    up = iface.stats["udp_rx"] + iface.stats["udp_drop_csum"] + iface.stats["udp_drop_short"] \
        + iface.stats["udp_drop_len"] + iface.stats["udp_drop_no_port"]
    assert up == delivered + whole
    for dg in received(sock):
        assert any(all(len(v) == 1 for v in s.values()) for s in said.values())
        assert len(dg) <= iface.cfg.ip4_reasm_bytes
    # and the stack still reassembles a clean datagram afterwards
    iface.poll(5 + len(soup) + 20_000)  # time every leftover out
    payload = bytes(range(256)) * 10
    whole = udp_datagram(7, payload)
    for off in range(0, len(whole), 1480):
        drv.rx.append(fragment_frame(999, off // 8, off + 1480 < len(whole),
                                     whole[off:off + 1480]))
    iface.poll(40_000)
    assert received(sock)[-1:] == [payload]


@SOUP
@given(st.binary(min_size=20, max_size=80), st.integers(0, 0x1FFF), st.booleans())
def test_fragment_headers_with_options_are_read_inside_the_frame(opts, off8, more):
    # options in fragment 0 and garbage lengths: the reassembler reads only
    # the frame it was given (a Fence around the received bytes)
    iface, drv, sock = rig()
    ihl = 5 + len(opts[: 40]) // 4
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 0, 5,
                                (0x2000 if more else 0) | off8, 64, 17, 0, HOST, STACK))
    hdr += opts[: (ihl - 5) * 4]
    data = bytes(64)
    struct.pack_into("!H", hdr, 2, len(hdr) + len(data))
    hdr[10:12] = struct.pack("!H", _csum(bytes(hdr)))
    frame = STACK_MAC + HOST_MAC + b"\x08\x00" + bytes(hdr) + data
    buf = Fence(frame + bytes(iface.cfg.mtu + 18 - len(frame)), 0, len(frame))
    from stack.wire import ip4

    hl = ip4.check(buf, 14, len(frame))
    assert hl == ihl * 4
    if ip4.is_fragment(buf, 14):
        iface.frag.input(buf, 14, hl, 3)
    assert iface.frag.in_progress() <= 1
