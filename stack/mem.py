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
        # Bytes until the destination is word aligned, then 16-byte blocks
        # of word loads and stores (Cortex-M0+ faults on unaligned ones),
        # then the tail. A source at another alignment is read as aligned
        # words and each output word merged from two by shifts (all our
        # targets are little-endian); those reads stay inside aligned
        # words that hold source bytes, so they cannot fault. Pointer steps
        # and constant indexes: viper's code for p[w] with a moving w is
        # about twice as long (measured with callgrind, bench/README.md).
        d = uint(ptr8(dst)) + uint(doff)
        s = uint(ptr8(src)) + uint(soff)
        e = d + uint(n)
        while d < e and d & 3:
            ptr8(d)[0] = ptr8(s)[0]
            d += 1
            s += 1
        blocks = d + ((e - d) & ~uint(15))
        k = s & 3
        if k == uint(0):
            while d < blocks:
                p = ptr32(d)
                q = ptr32(s)
                p[0] = q[0]
                p[1] = q[1]
                p[2] = q[2]
                p[3] = q[3]
                d += 16
                s += 16
        elif d < blocks:
            sh = k << 3
            sh2 = uint(32) - sh
            a = s - k
            lo = uint(ptr32(a)[0])
            while d < blocks:
                q = ptr32(a)
                w1 = uint(q[1])
                w2 = uint(q[2])
                w3 = uint(q[3])
                w4 = uint(q[4])
                p = ptr32(d)
                p[0] = (lo >> sh) | (w1 << sh2)
                p[1] = (w1 >> sh) | (w2 << sh2)
                p[2] = (w2 >> sh) | (w3 << sh2)
                p[3] = (w3 >> sh) | (w4 << sh2)
                lo = w4
                d += 16
                a += 16
            s = a + k
        while d < e:
            ptr8(d)[0] = ptr8(s)[0]
            d += 1
            s += 1

    copy = _copy_viper
else:
    copy = copy_py
