# ICMP for IPv4 (RFC 792): echo request/reply.
from micropython import const

HDR_LEN = const(8)
TYPE_ECHO_REPLY = const(0)
TYPE_ECHO_REQUEST = const(8)

_TYPE = const(0)
_CODE = const(1)
_CSUM = const(2)

DROP_SHORT = const(-1)


def check(buf, o, n):
    if n < HDR_LEN:
        return DROP_SHORT
    return HDR_LEN


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
