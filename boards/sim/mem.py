# Block copy and fill for the chip models' buffer memory, allocation-free so a
# simulated board survives the firmware's heap-locked steady state. MicroPython
# uses the stack's viper copy kernel (stack/mem.py); CPython uses slices,
# which are fast there and keep the model tests quick.
import sys

if sys.implementation.name == "micropython":
    import micropython

    from stack.mem import copy

    @micropython.viper
    def fill(dst, off: int, value: int, n: int):
        d = ptr8(dst)
        i = 0
        while i < n:
            d[off + i] = value
            i += 1

else:

    def copy(dst, doff, src, soff, n):
        dst[doff : doff + n] = src[soff : soff + n]

    def fill(dst, off, value, n):
        dst[off : off + n] = bytes((value,)) * n
