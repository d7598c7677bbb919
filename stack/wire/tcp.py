# TCP header (RFC 9293 section 3.1) over (buf, off).
#
# Sequence and acknowledgment numbers are 32-bit on the wire, but an int of
# 2**30 or more is a heap object on a 32-bit MicroPython port. So they are
# never read as one int: rel() turns the field into a small signed offset from
# a base kept as two 16-bit halves (ISS or IRS), and put_rel() writes
# base + offset back. See docs/tcp.md "Sequence numbers".
import sys

from micropython import const

_VIPER = sys.implementation.name == "micropython"

HDR_LEN = const(20)  # what we emit, plus 4 with the MSS option on a SYN
SEQ = const(4)  # field offsets inside the header
ACK = const(8)
CSUM_OFF = const(16)

FIN = const(0x01)
SYN = const(0x02)
RST = const(0x04)
PSH = const(0x08)
ACKF = const(0x10)
URG = const(0x20)

OPT_EOL = const(0)
OPT_NOP = const(1)
OPT_MSS = const(2)
OPT_SACK_OK = const(4)  # RFC 2018 SACK-permitted (SYN only)
OPT_SACK = const(5)

# rel() results are clamped to this magnitude: farther than any window, and
# still a small int (31-bit signed) on 32-bit ports.
FAR = const(0x3FFFFFFF)

DROP_SHORT = const(-1)
DROP_OFFSET = const(-2)
DROP_OPTIONS = const(-3)

_SRC_PORT = const(0)
_DST_PORT = const(2)
_DOFF = const(12)
_FLAGS = const(13)
_WINDOW = const(14)
_URG_PTR = const(18)


def check(buf, o, n):
    """Header length (data offset * 4) if a header fits in the n bytes at o
    and its data offset is sane, else a negative drop code."""
    if n < HDR_LEN:
        return DROP_SHORT
    hl = (buf[o + _DOFF] >> 4) << 2
    if hl < HDR_LEN or hl > n:
        return DROP_OFFSET
    return hl


def src_port(buf, o):
    return (buf[o + _SRC_PORT] << 8) | buf[o + _SRC_PORT + 1]


def dst_port(buf, o):
    return (buf[o + _DST_PORT] << 8) | buf[o + _DST_PORT + 1]


def hi16(buf, o, field):
    return (buf[o + field] << 8) | buf[o + field + 1]


def lo16(buf, o, field):
    return (buf[o + field + 2] << 8) | buf[o + field + 3]


def data_off(buf, o):
    return (buf[o + _DOFF] >> 4) << 2


def flags(buf, o):
    return buf[o + _FLAGS] & 0x3F


def window(buf, o):
    return (buf[o + _WINDOW] << 8) | buf[o + _WINDOW + 1]


def csum_field(buf, o):
    return (buf[o + CSUM_OFF] << 8) | buf[o + CSUM_OFF + 1]


def urgent(buf, o):
    return (buf[o + _URG_PTR] << 8) | buf[o + _URG_PTR + 1]


def rel_py(buf, o, field, base_hi, base_lo):
    """The 32-bit number at buf[o+field] minus base (mod 2**32), as a signed
    small int; clamped to +-FAR when it is 2**30 or more away."""
    d_lo = ((buf[o + field + 2] << 8) | buf[o + field + 3]) - base_lo
    d_hi = ((buf[o + field] << 8) | buf[o + field + 1]) - base_hi
    if d_lo < 0:
        d_lo += 0x10000
        d_hi -= 1
    d_hi &= 0xFFFF
    if d_hi >= 0x8000:
        d_hi -= 0x10000
    if d_hi >= 0x4000:
        return FAR
    if d_hi < -0x4000 or (d_hi == -0x4000 and d_lo == 0):
        return -FAR  # exactly -2**30 is 2**30 away too
    return (d_hi << 16) + d_lo


def put_rel_py(buf, o, field, base_hi, base_lo, r):
    """Write base + r (mod 2**32) into the field; r is a small int (may be < 0)."""
    lo = base_lo + (r & 0xFFFF)
    hi = base_hi + (r >> 16) + (lo >> 16)  # r >> 16 floors, so r < 0 works too
    buf[o + field] = (hi >> 8) & 0xFF
    buf[o + field + 1] = hi & 0xFF
    buf[o + field + 2] = (lo >> 8) & 0xFF
    buf[o + field + 3] = lo & 0xFF


def put32(buf, o, field, hi, lo):
    buf[o + field] = hi >> 8
    buf[o + field + 1] = hi & 0xFF
    buf[o + field + 2] = lo >> 8
    buf[o + field + 3] = lo & 0xFF


def write_py(buf, o, sport, dport, hl, flags_, win):
    """Ports, data offset, flags, window; checksum and urgent pointer zero.
    Sequence and acknowledgment fields are written with put_rel/put32."""
    buf[o + _SRC_PORT] = sport >> 8
    buf[o + _SRC_PORT + 1] = sport & 0xFF
    buf[o + _DST_PORT] = dport >> 8
    buf[o + _DST_PORT + 1] = dport & 0xFF
    buf[o + _DOFF] = (hl >> 2) << 4
    buf[o + _FLAGS] = flags_
    buf[o + _WINDOW] = win >> 8
    buf[o + _WINDOW + 1] = win & 0xFF
    buf[o + CSUM_OFF] = 0
    buf[o + CSUM_OFF + 1] = 0
    buf[o + _URG_PTR] = 0
    buf[o + _URG_PTR + 1] = 0


def write_mss(buf, o, mss):
    """The MSS option (kind 2, length 4) at o; returns its length."""
    buf[o] = OPT_MSS
    buf[o + 1] = 4
    buf[o + 2] = mss >> 8
    buf[o + 3] = mss & 0xFF
    return 4


def parse_mss(buf, o, hl):
    """Walk the options of a checked header: the MSS value, 0 if absent, or
    DROP_OPTIONS if an option length is malformed (RFC 9293 3.2: unknown
    options are skipped by their length; a length running past the header or
    below 2 makes the segment unparseable)."""
    i = o + HDR_LEN
    end = o + hl
    mss = 0
    while i < end:
        kind = buf[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            return DROP_OPTIONS
        ln = buf[i + 1]
        if ln < 2 or i + ln > end:
            return DROP_OPTIONS
        if kind == OPT_MSS:
            if ln != 4:
                return DROP_OPTIONS
            mss = (buf[i + 2] << 8) | buf[i + 3]
        i += ln
    return mss


def sack_permitted(buf, o, hl):
    """True if the (checked) header carries SACK-permitted; malformed
    options read as absent (parse_mss has already rejected them)."""
    i = o + HDR_LEN
    end = o + hl
    while i < end:
        kind = buf[i]
        if kind == OPT_EOL:
            return False
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            return False
        ln = buf[i + 1]
        if ln < 2 or i + ln > end:
            return False
        if kind == OPT_SACK_OK and ln == 2:
            return True
        i += ln
    return False


def write_sack_permitted(buf, o):
    """NOP, NOP, SACK-permitted at o (4 bytes, keeps 32-bit alignment)."""
    buf[o] = OPT_NOP
    buf[o + 1] = OPT_NOP
    buf[o + 2] = OPT_SACK_OK
    buf[o + 3] = 2
    return 4


if _VIPER:
    import micropython

    # The same arithmetic in viper: called two or three times per segment,
    # a viper call costs about a third of the plain one (bench/README.md).
    # Every value stays within 17 bits until the final small result, so the
    # word size (32 or 64 bits) does not matter. tests/mp_viper_twins.py
    # holds them equal to the twins.
    @micropython.viper
    def _rel_viper(buf, o: int, field: int, base_hi: int, base_lo: int) -> int:
        p = ptr8(buf)
        i = o + field
        d_lo = ((p[i + 2] << 8) | p[i + 3]) - base_lo
        d_hi = ((p[i] << 8) | p[i + 1]) - base_hi
        if d_lo < 0:
            d_lo += 0x10000
            d_hi -= 1
        d_hi &= 0xFFFF
        if d_hi >= 0x8000:
            d_hi -= 0x10000
        if d_hi >= 0x4000:
            return FAR
        if d_hi < -0x4000 or (d_hi == -0x4000 and d_lo == 0):
            return -FAR
        return (d_hi << 16) + d_lo

    @micropython.viper
    def _put_rel_viper(buf, o: int, field: int, base_hi: int, base_lo: int, r: int):
        lo = base_lo + (r & 0xFFFF)
        hi = base_hi + (r >> 16) + (lo >> 16)
        p = ptr8(buf)
        i = o + field
        p[i] = (hi >> 8) & 0xFF
        p[i + 1] = hi & 0xFF
        p[i + 2] = (lo >> 8) & 0xFF
        p[i + 3] = lo & 0xFF

    @micropython.viper
    def _write_viper(buf, o: int, sport: int, dport: int, hl: int, flags_: int, win: int):
        p = ptr8(buf)
        p[o + _SRC_PORT] = sport >> 8
        p[o + _SRC_PORT + 1] = sport & 0xFF
        p[o + _DST_PORT] = dport >> 8
        p[o + _DST_PORT + 1] = dport & 0xFF
        p[o + _DOFF] = (hl >> 2) << 4
        p[o + _FLAGS] = flags_
        p[o + _WINDOW] = win >> 8
        p[o + _WINDOW + 1] = win & 0xFF
        p[o + CSUM_OFF] = 0
        p[o + CSUM_OFF + 1] = 0
        p[o + _URG_PTR] = 0
        p[o + _URG_PTR + 1] = 0

    rel = _rel_viper
    put_rel = _put_rel_viper
    write = _write_viper
else:
    rel = rel_py
    put_rel = put_rel_py
    write = write_py
