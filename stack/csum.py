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
        p8 = ptr8(buf)
        s = uint(acc)
        end = off + (n & ~1)
        i = off
        if (int(p8) + off) & 1 == 0:
            # Aligned: native-endian halfword loads. Summing little-endian
            # words gives the byte-swapped sum (RFC 1071 section 2(B)), so swap
            # once after folding instead of per word.
            p16 = ptr16(uint(p8) + uint(off))
            w = 0
            words = (end - off) >> 1
            t = uint(0)
            while w + 4 <= words:
                t += p16[w] + p16[w + 1] + p16[w + 2] + p16[w + 3]
                w += 4
            while w < words:
                t += p16[w]
                w += 1
            while t >> 16:
                t = (t & 0xFFFF) + (t >> 16)
            s += ((t & 0xFF) << 8) | (t >> 8)
        else:
            while i < end:
                s += (p8[i] << 8) | p8[i + 1]
                i += 2
        if n & 1:
            s += p8[end] << 8
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
