# IPv4 header (RFC 791, host rules from RFC 1122 section 3.2.1).
import sys

from micropython import const

from stack import csum

_VIPER = sys.implementation.name == "micropython"

HDR_LEN = const(20)  # what we emit: no options
TX_L4_OFF = const(34)  # Ethernet 14 + IPv4 20: where transmitted L4 headers start
PROTO_ICMP = const(1)
PROTO_TCP = const(6)
PROTO_UDP = const(17)
SRC = const(12)  # offsets of the addresses inside the header
DST = const(16)

_VER_IHL = const(0)
_TOTAL_LEN = const(2)
_IDENT = const(4)
_FLAGS_FRAG = const(6)
_TTL = const(8)
_PROTO = const(9)
_CSUM = const(10)
_MF_AND_OFFSET = const(0x3FFF)
FLAG_DF = const(0x4000)  # flags/fragment offset field values (RFC 791)
FLAG_MF = const(0x2000)
_OFFSET_MASK = const(0x1FFF)  # in 8-byte units

DROP_SHORT = const(-1)
DROP_VERSION = const(-2)
DROP_IHL = const(-3)
DROP_LEN = const(-4)
DROP_CSUM = const(-5)

# check_src() drop codes -> the counter each one is counted in (iface registers them)
SRC_ZERO = const(-1)
SRC_SELF = const(-2)
SRC_BROADCAST = const(-3)
SRC_MULTICAST = const(-4)
SRC_LOOPBACK = const(-5)
SRC_DROPS = (
    "ip4_drop_src_zero",
    "ip4_drop_src_self",
    "ip4_drop_src_broadcast",
    "ip4_drop_src_multicast",
    "ip4_drop_src_loopback",
)


def check(buf, o, end):
    """Header length if buf[o:end] starts with a valid IPv4 header whose total
    length fits, else a negative drop code. Nothing else may be read before."""
    if end - o < HDR_LEN:
        return DROP_SHORT
    vi = buf[o + _VER_IHL]
    if vi >> 4 != 4:
        return DROP_VERSION
    hl = (vi & 0x0F) << 2
    if hl < HDR_LEN:
        return DROP_IHL
    tl = total_len(buf, o)
    if tl < hl or tl > end - o:
        return DROP_LEN
    if csum.sum16(buf, o, hl, 0) != 0xFFFF:
        return DROP_CSUM
    return hl


def total_len(buf, o):
    return (buf[o + _TOTAL_LEN] << 8) | buf[o + _TOTAL_LEN + 1]


def proto(buf, o):
    return buf[o + _PROTO]


def header_len(buf, o):
    return (buf[o + _VER_IHL] & 0x0F) << 2


def ident(buf, o):
    return (buf[o + _IDENT] << 8) | buf[o + _IDENT + 1]


def frag_field(buf, o):
    """The 16-bit flags/fragment offset field (FLAG_DF, FLAG_MF, offset / 8)."""
    return (buf[o + _FLAGS_FRAG] << 8) | buf[o + _FLAGS_FRAG + 1]


def frag_offset(buf, o):
    """Offset of this fragment's data in the datagram, in bytes."""
    return (frag_field(buf, o) & _OFFSET_MASK) << 3


def more_fragments(buf, o):
    return buf[o + _FLAGS_FRAG] & (FLAG_MF >> 8)


def set_total_len(buf, o, tl):
    buf[o + _TOTAL_LEN] = tl >> 8
    buf[o + _TOTAL_LEN + 1] = tl & 0xFF


def set_frag_field(buf, o, v):
    buf[o + _FLAGS_FRAG] = v >> 8
    buf[o + _FLAGS_FRAG + 1] = v & 0xFF


def fix_csum(buf, o):
    """Recompute the header checksum after fields changed."""
    buf[o + _CSUM] = 0
    buf[o + _CSUM + 1] = 0
    c = csum.checksum(buf, o, header_len(buf, o), 0)
    buf[o + _CSUM] = c >> 8
    buf[o + _CSUM + 1] = c & 0xFF


def is_fragment(buf, o):
    """More-fragments set or a non-zero offset: a piece of a larger datagram."""
    return ((buf[o + _FLAGS_FRAG] << 8) | buf[o + _FLAGS_FRAG + 1]) & _MF_AND_OFFSET


def addr_is_py(buf, off, addr):
    """True if the 4 bytes at buf[off] equal addr (a 4-byte buffer)."""
    return (
        buf[off] == addr[0]
        and buf[off + 1] == addr[1]
        and buf[off + 2] == addr[2]
        and buf[off + 3] == addr[3]
    )


def is_multicast(buf, off):
    """224.0.0.0/4 (RFC 1112 class D)."""
    return buf[off] & 0xF0 == 0xE0


def check_src(buf, o, addr, mask):
    """0 if the source address of the header at buf[o] may be a host, else a
    negative SRC_* code. RFC 1122 3.2.1.3: a datagram whose source is 0.0.0.0,
    a broadcast, a multicast or loopback address is discarded; one with our
    own address as its source (LAND) too, before any layer can answer it."""
    s = o + SRC
    b0 = buf[s]
    if b0 == 127:
        return SRC_LOOPBACK
    if b0 >= 224:  # class D multicast, and class E with 255.255.255.255
        return SRC_BROADCAST if b0 == 255 and is_broadcast(buf, s, addr, mask) else SRC_MULTICAST
    if b0 == 0 and buf[s + 1] == 0 and buf[s + 2] == 0 and buf[s + 3] == 0:
        return SRC_ZERO
    if addr_is(buf, s, addr):
        return SRC_SELF
    if is_broadcast(buf, s, addr, mask):
        return SRC_BROADCAST
    return 0


def finish_py(buf, o, tl, ident):
    """Fill in total length, identification and checksum of a header whose
    checksum field holds keep_sum()'s sum (RFC 1624: only these two changed)."""
    s = ((buf[o + _CSUM] << 8) | buf[o + _CSUM + 1]) + tl + ident
    s = (s & 0xFFFF) + (s >> 16)
    s = (~((s & 0xFFFF) + (s >> 16))) & 0xFFFF
    buf[o + _TOTAL_LEN] = tl >> 8
    buf[o + _TOTAL_LEN + 1] = tl & 0xFF
    buf[o + _IDENT] = ident >> 8
    buf[o + _IDENT + 1] = ident & 0xFF
    buf[o + _CSUM] = s >> 8
    buf[o + _CSUM + 1] = s & 0xFF


if _VIPER:
    import micropython

    # Several calls per segment each: viper twins (bench/README.md, "Where
    # the instructions go"); tests/mp_viper_twins.py holds them equal.
    @micropython.viper
    def _addr_is_viper(buf, off: int, addr) -> bool:
        p = ptr8(buf)
        a = ptr8(addr)
        return p[off] == a[0] and p[off + 1] == a[1] and p[off + 2] == a[2] and p[off + 3] == a[3]

    @micropython.viper
    def _finish_viper(buf, o: int, tl: int, ident: int):
        p = ptr8(buf)
        s = ((p[o + _CSUM] << 8) | p[o + _CSUM + 1]) + tl + ident
        s = (s & 0xFFFF) + (s >> 16)
        s = ((s & 0xFFFF) + (s >> 16)) ^ 0xFFFF
        p[o + _TOTAL_LEN] = tl >> 8
        p[o + _TOTAL_LEN + 1] = tl & 0xFF
        p[o + _IDENT] = ident >> 8
        p[o + _IDENT + 1] = ident & 0xFF
        p[o + _CSUM] = s >> 8
        p[o + _CSUM + 1] = s & 0xFF

    addr_is = _addr_is_viper
    finish = _finish_viper
else:
    addr_is = addr_is_py
    finish = finish_py


def is_broadcast(buf, off, addr, mask):
    """Limited broadcast or the subnet's directed broadcast."""
    limited = True
    directed = True
    for i in range(4):
        b = buf[off + i]
        if b != 0xFF:
            limited = False
        if b != (addr[i] & mask[i]) | (~mask[i] & 0xFF):
            directed = False
    return limited or directed


def same_subnet(buf, off, addr, mask):
    for i in range(4):
        if (buf[off + i] ^ addr[i]) & mask[i]:
            return False
    return True


def write(buf, o, tl, ident, ttl, proto_, src, dst, dst_off, frag=FLAG_DF):
    """Emit a 20-byte header and its checksum; frag is the flags/fragment
    offset field (default: DF set, not a fragment)."""
    buf[o + _VER_IHL] = 0x45
    buf[o + 1] = 0
    buf[o + _TOTAL_LEN] = tl >> 8
    buf[o + _TOTAL_LEN + 1] = tl & 0xFF
    buf[o + _IDENT] = (ident >> 8) & 0xFF
    buf[o + _IDENT + 1] = ident & 0xFF
    buf[o + _FLAGS_FRAG] = frag >> 8
    buf[o + _FLAGS_FRAG + 1] = frag & 0xFF
    buf[o + _TTL] = ttl
    buf[o + _PROTO] = proto_
    buf[o + _CSUM] = 0
    buf[o + _CSUM + 1] = 0
    for i in range(4):
        buf[o + SRC + i] = src[i]
        buf[o + DST + i] = dst[dst_off + i]
    c = csum.checksum(buf, o, HDR_LEN, 0)
    buf[o + _CSUM] = c >> 8
    buf[o + _CSUM + 1] = c & 0xFF


def keep_sum(buf, o):
    """For a header written with total length and identification 0: replace
    its checksum by the folded sum of its words (the fixed fields' share of
    every later checksum, RFC 1071), for finish()."""
    s = (~((buf[o + _CSUM] << 8) | buf[o + _CSUM + 1])) & 0xFFFF
    buf[o + _CSUM] = s >> 8
    buf[o + _CSUM + 1] = s & 0xFF


def parse_addr(text):
    """'192.0.2.2' -> bytearray(4); ValueError on anything else."""
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError("not an IPv4 address: " + text)
    out = bytearray(4)
    for i in range(4):
        v = int(parts[i])
        if not 0 <= v <= 255:
            raise ValueError("not an IPv4 address: " + text)
        out[i] = v
    return out


def format_addr(buf, off=0):
    return "%d.%d.%d.%d" % (buf[off], buf[off + 1], buf[off + 2], buf[off + 3])
