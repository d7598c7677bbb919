# Runs inside the MicroPython unix port: every viper kernel equals its plain
# twin on random inputs (lengths, offsets, alignments, accumulators).
import os

from stack import csum, mem


def rnd(n):
    return int.from_bytes(os.urandom(4), "little") % n


checked = 0
for _ in range(2000):
    n = rnd(1600)
    buf = bytearray(os.urandom(n + 8))
    off = rnd(8)
    acc = rnd(0x10000)
    got = csum._sum16_viper(buf, off, n, acc)
    want = csum.sum16_py(buf, off, n, acc)
    if got != want:
        raise SystemExit("csum mismatch n=%d off=%d acc=%d: %d != %d" % (n, off, acc, got, want))
    checked += 1

for _ in range(1000):
    n = rnd(1600)
    src = bytearray(os.urandom(n + 8))
    so = rnd(8)
    do = rnd(8)
    a = bytearray(os.urandom(n + 8))
    b = bytearray(a)
    mem._copy_viper(a, do, src, so, n)
    mem.copy_py(b, do, src, so, n)
    if a != b:
        raise SystemExit("copy mismatch n=%d so=%d do=%d" % (n, so, do))
    checked += 1

# every alignment pair (mod 4 each way, and mod 8 for the buffers' own
# placement) with the lengths around the kernels' block edges
src = bytearray(os.urandom(120))
for so in range(8):
    for do in range(8):
        for n in (0, 1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100):
            a = bytearray(120)
            b = bytearray(120)
            mem._copy_viper(a, do, src, so, n)
            mem.copy_py(b, do, src, so, n)
            if a != b:
                raise SystemExit("copy mismatch n=%d so=%d do=%d" % (n, so, do))
        for n in (0, 1, 2, 3, 4, 5, 15, 16, 17, 18, 31, 32, 33, 34, 100):
            if csum._sum16_viper(src, so, n, 0) != csum.sum16_py(src, so, n, 0):
                raise SystemExit("csum mismatch n=%d off=%d" % (n, so))
print("OK", checked)
