# UDP header (RFC 768).
from micropython import const

HDR_LEN = const(8)
CSUM_OFF = const(6)

_SRC_PORT = const(0)
_DST_PORT = const(2)
_LEN = const(4)

DROP_SHORT = const(-1)
DROP_LEN = const(-2)


def check(buf, o, n):
    """Datagram length (header + data) if the header fits and its length field
    agrees with the IP payload size n, else a drop code. RFC 768 allows IP
    padding after the datagram, so length may be less than n, never more."""
    if n < HDR_LEN:
        return DROP_SHORT
    ln = length(buf, o)
    if ln < HDR_LEN or ln > n:
        return DROP_LEN
    return ln


def src_port(buf, o):
    return (buf[o + _SRC_PORT] << 8) | buf[o + _SRC_PORT + 1]


def dst_port(buf, o):
    return (buf[o + _DST_PORT] << 8) | buf[o + _DST_PORT + 1]


def length(buf, o):
    return (buf[o + _LEN] << 8) | buf[o + _LEN + 1]


def csum_field(buf, o):
    return (buf[o + CSUM_OFF] << 8) | buf[o + CSUM_OFF + 1]


def write(buf, o, sport, dport, ln):
    """Emit the header with checksum 0; send_ip4 fills it in."""
    buf[o + _SRC_PORT] = sport >> 8
    buf[o + _SRC_PORT + 1] = sport & 0xFF
    buf[o + _DST_PORT] = dport >> 8
    buf[o + _DST_PORT + 1] = dport & 0xFF
    buf[o + _LEN] = ln >> 8
    buf[o + _LEN + 1] = ln & 0xFF
    buf[o + CSUM_OFF] = 0
    buf[o + CSUM_OFF + 1] = 0
