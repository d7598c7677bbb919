# Ethernet II header (IEEE 802.3 framing with an EtherType).
import sys

from micropython import const

_VIPER = sys.implementation.name == "micropython"

HDR_LEN = const(14)
MIN_FRAME = const(60)  # without FCS; shorter frames are padded on transmit
TYPE_IP4 = const(0x0800)
TYPE_ARP = const(0x0806)

DST_OFF = const(0)
SRC_OFF = const(6)
_TYPE = const(12)

DROP_SHORT = const(-1)


def check(buf, n):
    """Length check before any field is read: HDR_LEN, or a negative drop code."""
    if n < HDR_LEN:
        return DROP_SHORT
    return HDR_LEN


def ethertype(buf):
    return (buf[_TYPE] << 8) | buf[_TYPE + 1]


def dst_is_py(buf, mac):
    for i in range(6):
        if buf[DST_OFF + i] != mac[i]:
            return False
    return True


if _VIPER:
    import micropython

    @micropython.viper
    def _dst_is_viper(buf, mac) -> bool:
        # every received frame: a viper twin (tests/mp_viper_twins.py)
        p = ptr8(buf)
        m = ptr8(mac)
        return (
            p[0] == m[0] and p[1] == m[1] and p[2] == m[2]
            and p[3] == m[3] and p[4] == m[4] and p[5] == m[5]
        )

    dst_is = _dst_is_viper
else:
    dst_is = dst_is_py


def dst_is_broadcast(buf):
    for i in range(6):
        if buf[DST_OFF + i] != 0xFF:
            return False
    return True


def write(buf, dst, dst_off, src, etype):
    """Emit the header at 0: dst MAC taken from dst[dst_off:dst_off+6]."""
    for i in range(6):
        buf[DST_OFF + i] = dst[dst_off + i]
        buf[SRC_OFF + i] = src[i]
    buf[_TYPE] = etype >> 8
    buf[_TYPE + 1] = etype & 0xFF


def write_broadcast(buf, src, etype):
    for i in range(6):
        buf[DST_OFF + i] = 0xFF
        buf[SRC_OFF + i] = src[i]
    buf[_TYPE] = etype >> 8
    buf[_TYPE + 1] = etype & 0xFF
