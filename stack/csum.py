# Internet checksum (RFC 1071) with the RFC 1624 incremental update.
#
# sum16() is the hot kernel: on MicroPython it is viper (ptr16 loads when the
# data is 2-byte aligned, ptr8 otherwise, because Cortex-M0+ faults on
# unaligned halfword loads); on CPython the plain twin below is used. Tests
# hold the two equal. Measured numbers are in bench/csum.py.
import sys

from micropython import const

_VIPER = sys.implementation.name == "micropython"
_FOLD_MASK = const(0xFFFF)


def sum16_py(buf, off, n, acc):
    """Ones-complement sum of acc and n bytes of buf from off, folded to 16 bits.

    The bytes are big-endian 16-bit words; an odd last byte is padded with zero
    (RFC 1071 section 4.1).
    """
    s = acc
    end = off + (n & ~1)
    i = off
    while i < end:
        s += (buf[i] << 8) | buf[i + 1]
        i += 2
    if n & 1:
        s += buf[end] << 8
    while s >> 16:
        s = (s & _FOLD_MASK) + (s >> 16)
    return s


if _VIPER:
    import micropython

    @micropython.viper
    def _sum16_viper(buf, off: int, n: int, acc: int) -> int:
        # Aligned data is summed as native (little-endian) halfwords: that
        # gives the byte-swapped sum (RFC 1071 section 2(B)), swapped once at
        # the end. Word loads in 16-byte blocks, each word's two halves
        # added; a halfword first if the start is not word aligned (Cortex-M0+
        # faults on unaligned loads). Under 64 KB the 32-bit total cannot
        # overflow. Pointer steps and constant indexes, as in mem.copy.
        a = uint(ptr8(buf)) + uint(off)
        e = a + uint(n & ~1)
        s = uint(acc)
        if a & 1:
            while a < e:
                s += (ptr8(a)[0] << 8) | ptr8(a)[1]
                a += 2
        else:
            t = uint(0)
            if a & 2 and a < e:
                t += ptr16(a)[0]
                a += 2
            blocks = a + ((e - a) & ~uint(15))
            while a < blocks:
                q = ptr32(a)
                w0 = uint(q[0])
                w1 = uint(q[1])
                w2 = uint(q[2])
                w3 = uint(q[3])
                t += (w0 & 0xFFFF) + (w0 >> 16) + (w1 & 0xFFFF) + (w1 >> 16)
                t += (w2 & 0xFFFF) + (w2 >> 16) + (w3 & 0xFFFF) + (w3 >> 16)
                a += 16
            while a < e:
                t += ptr16(a)[0]
                a += 2
            while t >> 16:
                t = (t & 0xFFFF) + (t >> 16)
            s += ((t & 0xFF) << 8) | (t >> 8)
        if n & 1:
            s += ptr8(e)[0] << 8
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return int(s)

    sum16 = _sum16_viper
else:
    sum16 = sum16_py


def checksum(buf, off, n, acc=0):
    """The value to put in a checksum field: complement of the folded sum."""
    return ~sum16(buf, off, n, acc) & _FOLD_MASK


def pseudo_sum(buf, src_off, dst_off, proto, length):
    """Folded sum of the IPv4 pseudo-header (RFC 793/768): the 4-byte source
    and destination addresses in buf, the protocol and the L4 length."""
    s = proto + length
    s += (buf[src_off] << 8) | buf[src_off + 1]
    s += (buf[src_off + 2] << 8) | buf[src_off + 3]
    s += (buf[dst_off] << 8) | buf[dst_off + 1]
    s += (buf[dst_off + 2] << 8) | buf[dst_off + 3]
    while s >> 16:
        s = (s & _FOLD_MASK) + (s >> 16)
    return s


def update16(field, old, new):
    """RFC 1624 eqn. 3: new checksum field after a 16-bit word changed from old
    to new, without summing the data again: HC' = ~(~HC + ~m + m')."""
    s = (~field & _FOLD_MASK) + (~old & _FOLD_MASK) + new
    while s >> 16:
        s = (s & _FOLD_MASK) + (s >> 16)
    return ~s & _FOLD_MASK
