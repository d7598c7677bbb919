# DNS message (RFC 1035 4.1) at offset 0 of a UDP payload of n bytes: header
# fields, names in wire form (length-prefixed labels) with compression
# pointers (4.1.4), questions and resource records. Names are compared in
# their expanded, lower-cased form: expand() is the one place that follows
# pointers, and it does so backwards only and at most MAX_HOPS times, so a
# pointer loop cannot hold the reader.
from micropython import const

HDR_LEN = const(12)
PORT = const(53)
TYPE_A = const(1)
TYPE_CNAME = const(5)
CLASS_IN = const(1)
MAX_NAME = const(255)  # RFC 1035 2.3.4, in wire form
MAX_LABEL = const(63)
MAX_HOPS = const(16)  # compression pointers followed per name
RR_FIXED = const(10)  # type, class, ttl, rdlength after a record's name

# header
_ID = const(0)
_FLAGS = const(2)
_QDCOUNT = const(4)
_ANCOUNT = const(6)
# flag bits (16-bit flags word)
QR = const(0x8000)
_OPCODE = const(0x7800)
TC = const(0x0200)
RD = const(0x0100)
_RCODE = const(0x000F)
RCODE_OK = const(0)
RCODE_SERVFAIL = const(2)
RCODE_NXDOMAIN = const(3)

DROP_SHORT = const(-1)  # shorter than a header, or a name / record runs past the end
DROP_NAME = const(-2)  # a bad label (reserved type, too long, name over 255 bytes, not ASCII)
DROP_POINTER = const(-3)  # a compression pointer forward, onto itself, or too many hops


def check(buf, n):
    """HDR_LEN if a header fits in buf[0:n], else DROP_SHORT."""
    return HDR_LEN if n >= HDR_LEN else DROP_SHORT


def ident(buf):
    return (buf[_ID] << 8) | buf[_ID + 1]


def flags(buf):
    return (buf[_FLAGS] << 8) | buf[_FLAGS + 1]


def opcode(buf):
    return (flags(buf) & _OPCODE) >> 11


def rcode(buf):
    return flags(buf) & _RCODE


def qdcount(buf):
    return (buf[_QDCOUNT] << 8) | buf[_QDCOUNT + 1]


def ancount(buf):
    return (buf[_ANCOUNT] << 8) | buf[_ANCOUNT + 1]


def u16(buf, p):
    return (buf[p] << 8) | buf[p + 1]


def ttl_s(buf, p, ceiling_s):
    """The record TTL at buf[p], 0 if its top bit is set (RFC 2181 8), at most
    ceiling_s (< 2**16 s) without making an int above 2**30."""
    hi = (buf[p] << 8) | buf[p + 1]
    if hi & 0x8000:
        return 0
    if hi > (ceiling_s >> 16):
        return ceiling_s
    v = (hi << 16) | (buf[p + 2] << 8) | buf[p + 3]
    return v if v < ceiling_s else ceiling_s


def skip_name(buf, p, n):
    """Offset just after the name at buf[p] as it lies in the message (a
    pointer ends it), or a drop code. Pointers are not followed here."""
    while True:
        if p >= n:
            return DROP_SHORT
        ln = buf[p]
        if ln == 0:
            return p + 1
        if ln & 0xC0 == 0xC0:
            return p + 2 if p + 2 <= n else DROP_SHORT
        if ln & 0xC0:
            return DROP_NAME  # 0x40 / 0x80: reserved label types (RFC 6891 retired them)
        p += 1 + ln


def expand(buf, p, n, out):
    """Copy the name at buf[p] into out, pointers followed and ASCII letters
    lower-cased, in wire form ending with the zero label. Returns its length
    or a drop code. A pointer must point before itself (RFC 1035 4.1.4: to a
    prior occurrence), which also rules out loops; MAX_HOPS bounds the work."""
    k = 0
    hops = 0
    cap = len(out)
    while True:
        if p >= n:
            return DROP_SHORT
        ln = buf[p]
        if ln & 0xC0 == 0xC0:
            if p + 1 >= n:
                return DROP_SHORT
            t = ((ln & 0x3F) << 8) | buf[p + 1]
            hops += 1
            if t >= p or hops > MAX_HOPS:
                return DROP_POINTER
            p = t
            continue
        if ln & 0xC0:
            return DROP_NAME
        if p + 1 + ln > n:
            return DROP_SHORT
        if k + 1 + ln > MAX_NAME or k + 1 + ln > cap:
            return DROP_NAME
        out[k] = ln
        for i in range(1, ln + 1):
            c = buf[p + i]
            out[k + i] = c + 32 if 65 <= c <= 90 else c
        k += 1 + ln
        if ln == 0:
            return k
        p += 1 + ln


def encode(name, out):
    """A dotted name (str or bytes, one trailing dot allowed) into out in wire
    form, lower-cased; returns its length or DROP_NAME (an empty label, one
    over 63 bytes, over 255 in all, or a byte that is not printable ASCII)."""
    n = len(name)
    if n and _code(name, n - 1) == 46:
        n -= 1
    if n == 0 or n + 2 > MAX_NAME or n + 2 > len(out):
        return DROP_NAME
    start = 0  # where the current label's length byte goes
    k = 1
    for i in range(n):
        c = _code(name, i)
        if c == 46:  # "."
            ln = k - start - 1
            if ln == 0 or ln > MAX_LABEL:
                return DROP_NAME
            out[start] = ln
            start = k
        elif 33 <= c <= 126:
            out[k] = c + 32 if 65 <= c <= 90 else c
        else:
            return DROP_NAME
        k += 1
    ln = k - start - 1
    if ln == 0 or ln > MAX_LABEL:
        return DROP_NAME
    out[start] = ln
    out[k] = 0
    return k + 1


def _code(name, i):
    c = name[i]
    return c if isinstance(c, int) else ord(c)


def same(a, ao, b, bo, n):
    for i in range(n):
        if a[ao + i] != b[bo + i]:
            return False
    return True


# -- emit ------------------------------------------------------------------------


def write_query(buf, qid, qname, qlen):
    """A recursive query (RD) for the A record of the wire-form name
    qname[0:qlen]; returns the message length."""
    buf[_ID] = qid >> 8
    buf[_ID + 1] = qid & 0xFF
    buf[_FLAGS] = RD >> 8
    buf[_FLAGS + 1] = 0
    for i in range(_QDCOUNT, HDR_LEN):
        buf[i] = 0
    buf[_QDCOUNT + 1] = 1
    for i in range(qlen):
        buf[HDR_LEN + i] = qname[i]
    p = HDR_LEN + qlen
    buf[p] = 0
    buf[p + 1] = TYPE_A
    buf[p + 2] = 0
    buf[p + 3] = CLASS_IN
    return p + 4
