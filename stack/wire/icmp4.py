# ICMP for IPv4 (RFC 792): echo request/reply and the error messages.
from micropython import const

HDR_LEN = const(8)
TYPE_ECHO_REPLY = const(0)
TYPE_DEST_UNREACH = const(3)
TYPE_SOURCE_QUENCH = const(4)
TYPE_REDIRECT = const(5)
TYPE_ECHO_REQUEST = const(8)
TYPE_TIME_EXCEEDED = const(11)
TYPE_PARAM_PROBLEM = const(12)
# destination unreachable codes (RFC 792, RFC 1122 3.2.2.1)
CODE_NET_UNREACH = const(0)
CODE_HOST_UNREACH = const(1)
CODE_PROTO_UNREACH = const(2)
CODE_PORT_UNREACH = const(3)
CODE_FRAG_NEEDED = const(4)
# time exceeded codes
CODE_TTL = const(0)
CODE_REASSEMBLY = const(1)
QUOTE_DATA = const(8)  # bytes of the offending datagram's data quoted after its header

_TYPE = const(0)
_CODE = const(1)
_CSUM = const(2)

DROP_SHORT = const(-1)


def check(buf, o, n):
    if n < HDR_LEN:
        return DROP_SHORT
    return HDR_LEN


def is_error(t):
    """RFC 1122 3.2.2: the types that report an error about another datagram
    (never answered with an error themselves)."""
    return (
        t == TYPE_DEST_UNREACH
        or t == TYPE_SOURCE_QUENCH
        or t == TYPE_REDIRECT
        or t == TYPE_TIME_EXCEEDED
        or t == TYPE_PARAM_PROBLEM
    )


def write_error(buf, o, t, c):
    """Header of an error message: type, code, checksum 0, 4 unused bytes (0)."""
    buf[o + _TYPE] = t
    buf[o + _CODE] = c
    for i in range(2, HDR_LEN):
        buf[o + i] = 0


def msg_type(buf, o):
    return buf[o + _TYPE]


def code(buf, o):
    return buf[o + _CODE]


def set_type(buf, o, t):
    buf[o + _TYPE] = t


def set_csum(buf, o, c):
    buf[o + _CSUM] = c >> 8
    buf[o + _CSUM + 1] = c & 0xFF


def csum_field(buf, o):
    return (buf[o + _CSUM] << 8) | buf[o + _CSUM + 1]
