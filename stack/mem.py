# Byte copy between preallocated buffers without allocating.
#
# Slice assignment (dst[a:b] = src[c:d]) is the fastest copy in MicroPython but
# every slice of a memoryview allocates a small object, so the per-packet paths
# use this kernel instead: viper on MicroPython, a plain loop twin on CPython.
import sys

_VIPER = sys.implementation.name == "micropython"


def copy_py(dst, doff, src, soff, n):
    """dst[doff:doff+n] = src[soff:soff+n]; regions must not overlap."""
    for i in range(n):
        dst[doff + i] = src[soff + i]


if _VIPER:
    import micropython

    @micropython.viper
    def _copy_viper(dst, doff: int, src, soff: int, n: int):
        d = ptr8(dst)
        s = ptr8(src)
        if ((int(d) + doff) | (int(s) + soff)) & 3 == 0:
            # Both word aligned: 4 bytes a load (Cortex-M0+ needs the alignment).
            d32 = ptr32(int(d) + doff)
            s32 = ptr32(int(s) + soff)
            words = n >> 2
            w = 0
            while w < words:
                d32[w] = s32[w]
                w += 1
            i = words << 2
        else:
            i = 0
        while i < n:
            d[doff + i] = s[soff + i]
            i += 1

    copy = _copy_viper
else:
    copy = copy_py
