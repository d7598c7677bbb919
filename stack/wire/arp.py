# ARP packet for Ethernet/IPv4 (RFC 826), at offset o in a frame.
from micropython import const

LEN = const(28)
OP_REQUEST = const(1)
OP_REPLY = const(2)

_HTYPE = const(0)
_PTYPE = const(2)
_HLEN = const(4)
_PLEN = const(5)
_OPER = const(6)
SHA = const(8)
SPA = const(14)
THA = const(18)
TPA = const(24)

DROP_SHORT = const(-1)
DROP_FORMAT = const(-2)


def check(buf, o, end):
    """LEN if an Ethernet/IPv4 ARP packet fits in buf[o:end], else a drop code."""
    if end - o < LEN:
        return DROP_SHORT
    if (
        buf[o + _HTYPE] != 0
        or buf[o + _HTYPE + 1] != 1
        or buf[o + _PTYPE] != 0x08
        or buf[o + _PTYPE + 1] != 0x00
        or buf[o + _HLEN] != 6
        or buf[o + _PLEN] != 4
    ):
        return DROP_FORMAT
    return LEN


def oper(buf, o):
    return (buf[o + _OPER] << 8) | buf[o + _OPER + 1]


def write(buf, o, op, sha, spa, tha, tha_off, tpa, tpa_off):
    """Emit an ARP packet; tha/tpa are read at their offsets (often from a
    received frame), sha/spa are our own 6/4-byte addresses."""
    buf[o + _HTYPE] = 0
    buf[o + _HTYPE + 1] = 1
    buf[o + _PTYPE] = 0x08
    buf[o + _PTYPE + 1] = 0x00
    buf[o + _HLEN] = 6
    buf[o + _PLEN] = 4
    buf[o + _OPER] = 0
    buf[o + _OPER + 1] = op
    for i in range(6):
        buf[o + SHA + i] = sha[i]
        buf[o + THA + i] = tha[tha_off + i]
    for i in range(4):
        buf[o + SPA + i] = spa[i]
        buf[o + TPA + i] = tpa[tpa_off + i]
