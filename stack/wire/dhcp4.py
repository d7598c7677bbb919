# DHCP message (RFC 2131 section 2, options RFC 2132), at offset o of a UDP
# payload of n bytes. check() validates the fixed part and walks every option
# area (the options field, then `file` and `sname` when option 52 overloads
# them) so that find() and the accessors only ever run on bytes that exist.
from micropython import const

CLIENT_PORT = const(68)
SERVER_PORT = const(67)
OP_REQUEST = const(1)
OP_REPLY = const(2)
FLAG_BROADCAST = const(0x80)  # high byte of the flags field (RFC 2131 2, figure 2)

# fixed fields
_OP = const(0)
_HTYPE = const(1)
_HLEN = const(2)
XID = const(4)
SECS = const(8)
FLAGS = const(10)
CIADDR = const(12)
YIADDR = const(16)
SIADDR = const(20)
GIADDR = const(24)
CHADDR = const(28)
_SNAME = const(44)
_SNAME_LEN = const(64)
_FILE = const(108)
_FILE_LEN = const(128)
_COOKIE = const(236)
OPTIONS = const(240)  # first option byte: fixed part (236) + magic cookie (4)
MIN_SEND = const(300)  # RFC 1542 2.1: BOOTP messages of at least 300 octets

# message types (option 53)
DISCOVER = const(1)
OFFER = const(2)
REQUEST = const(3)
DECLINE = const(4)
ACK = const(5)
NAK = const(6)
RELEASE = const(7)

# option codes (RFC 2132)
OPT_PAD = const(0)
OPT_SUBNET = const(1)
OPT_ROUTER = const(3)
OPT_DNS = const(6)
OPT_HOSTNAME = const(12)
OPT_REQUESTED_IP = const(50)
OPT_LEASE = const(51)
OPT_OVERLOAD = const(52)
OPT_MSG_TYPE = const(53)
OPT_SERVER_ID = const(54)
OPT_PARAMS = const(55)
OPT_MAX_SIZE = const(57)
OPT_T1 = const(58)
OPT_T2 = const(59)
OPT_CLIENT_ID = const(61)
OPT_END = const(255)

DROP_SHORT = const(-1)  # shorter than the fixed part and the cookie
DROP_FORMAT = const(-2)  # not Ethernet (htype 1, hlen 6) or no magic cookie
DROP_OPTIONS = const(-3)  # an option runs past its area, or a bad overload option

U32_MAX = const(0x3FFFFFFF)  # u32_sat() ceiling: a small int on every port


def _walk(buf, p, end):
    """Check one option area buf[p:end]: each code has its length byte and its
    value inside the area. Returns the overload value (0..3) or DROP_OPTIONS."""
    over = 0
    while p < end:
        code = buf[p]
        if code == OPT_END:
            return over
        if code == OPT_PAD:
            p += 1
            continue
        if p + 1 >= end or p + 2 + buf[p + 1] > end:
            return DROP_OPTIONS
        if code == OPT_OVERLOAD:
            if buf[p + 1] != 1 or not 1 <= buf[p + 2] <= 3:
                return DROP_OPTIONS
            over = buf[p + 2]
        p += 2 + buf[p + 1]
    return over  # no END: tolerated when every option fits (RFC 2131 leaves it to the END)


def check(buf, o, n):
    """OPTIONS if buf[o:o+n] holds a DHCP message whose option areas are all
    well formed, else a negative drop code. Nothing else may be read before."""
    if n < OPTIONS:
        return DROP_SHORT
    if (
        buf[o + _HTYPE] != 1
        or buf[o + _HLEN] != 6
        or buf[o + _COOKIE] != 99
        or buf[o + _COOKIE + 1] != 130
        or buf[o + _COOKIE + 2] != 83
        or buf[o + _COOKIE + 3] != 99
    ):
        return DROP_FORMAT
    over = _walk(buf, o + OPTIONS, o + n)
    if over < 0:
        return over
    # RFC 2131 4.1: an overloaded `file` is read before `sname`; neither may overload again.
    if over & 1 and _walk(buf, o + _FILE, o + _FILE + _FILE_LEN) != 0:
        return DROP_OPTIONS
    if over & 2 and _walk(buf, o + _SNAME, o + _SNAME + _SNAME_LEN) != 0:
        return DROP_OPTIONS
    return OPTIONS


def _find_in(buf, p, end, code):
    while p < end:
        c = buf[p]
        if c == OPT_END:
            return -1
        if c == OPT_PAD:
            p += 1
            continue
        if c == code:
            return p + 1
        p += 2 + buf[p + 1]
    return -1


def find(buf, o, n, code):
    """Offset of the length byte of the first option `code` (its value follows),
    or -1. Only after check() passed on the same message."""
    r = _find_in(buf, o + OPTIONS, o + n, code)
    if r >= 0 or code == OPT_OVERLOAD:
        return r
    ov = _find_in(buf, o + OPTIONS, o + n, OPT_OVERLOAD)
    if ov < 0:
        return -1
    over = buf[ov + 1]
    if over & 1:
        r = _find_in(buf, o + _FILE, o + _FILE + _FILE_LEN, code)
        if r >= 0:
            return r
    if over & 2:
        r = _find_in(buf, o + _SNAME, o + _SNAME + _SNAME_LEN, code)
    return r


def op(buf, o):
    return buf[o + _OP]


def secs(buf, o):
    return (buf[o + SECS] << 8) | buf[o + SECS + 1]


def flags(buf, o):
    return (buf[o + FLAGS] << 8) | buf[o + FLAGS + 1]


def u32_sat(buf, p):
    """The 32-bit value at buf[p], saturated at U32_MAX so that it stays a
    small int on 32-bit boards (0xFFFFFFFF, 'infinite', becomes ~34 years)."""
    if buf[p] & 0xC0:
        return U32_MAX
    return (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]


def same4(a, ao, b, bo):
    return (
        a[ao] == b[bo]
        and a[ao + 1] == b[bo + 1]
        and a[ao + 2] == b[bo + 2]
        and a[ao + 3] == b[bo + 3]
    )


# -- emit ------------------------------------------------------------------------


def write(buf, o, op_, xid, secs_, flags_, ciaddr, chaddr):
    """Emit the fixed part and the magic cookie; returns OPTIONS (where options
    go, relative to o). xid and ciaddr are 4-byte buffers, chaddr 6 bytes."""
    for i in range(OPTIONS):
        buf[o + i] = 0
    buf[o + _OP] = op_
    buf[o + _HTYPE] = 1
    buf[o + _HLEN] = 6
    buf[o + SECS] = secs_ >> 8
    buf[o + SECS + 1] = secs_ & 0xFF
    buf[o + FLAGS] = flags_ >> 8
    buf[o + FLAGS + 1] = flags_ & 0xFF
    for i in range(4):
        buf[o + XID + i] = xid[i]
        buf[o + CIADDR + i] = ciaddr[i]
    for i in range(6):
        buf[o + CHADDR + i] = chaddr[i]
    buf[o + _COOKIE] = 99
    buf[o + _COOKIE + 1] = 130
    buf[o + _COOKIE + 2] = 83
    buf[o + _COOKIE + 3] = 99
    return OPTIONS


def put(buf, p, code, src, src_off, n):
    """Option `code` with value src[src_off:src_off+n] at buf[p]; returns the next p."""
    buf[p] = code
    buf[p + 1] = n
    for i in range(n):
        buf[p + 2 + i] = src[src_off + i]
    return p + 2 + n


def put_u8(buf, p, code, v):
    buf[p] = code
    buf[p + 1] = 1
    buf[p + 2] = v
    return p + 3


def put_u16(buf, p, code, v):
    buf[p] = code
    buf[p + 1] = 2
    buf[p + 2] = v >> 8
    buf[p + 3] = v & 0xFF
    return p + 4


def put_end(buf, o, p):
    """END, then zero padding up to MIN_SEND; returns the message length."""
    buf[p] = OPT_END
    p += 1
    while p - o < MIN_SEND:
        buf[p] = 0
        p += 1
    return p - o
