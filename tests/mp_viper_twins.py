# Runs inside the MicroPython unix port: every viper kernel equals its plain
# twin on random inputs (lengths, offsets, alignments, accumulators).
import os

from stack import csum, mem
from stack.wire import eth, ip4
from stack.wire import tcp as wtcp


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
# sequence offsets: every distance class, the clamp edges, negative offsets
seg = bytearray(40)
edges = (0, 1, 0xFFFF, 0x10000, 0x3FFFFFFF, 0x40000000, 0x7FFFFFFF, 0x80000000,
         0xBFFFFFFF, 0xC0000000, 0xC0000001, 0xFFFFFFFF)
for _ in range(3000):
    v = edges[rnd(len(edges))] if rnd(4) == 0 else int.from_bytes(os.urandom(4), "big")
    b = int.from_bytes(os.urandom(4), "big")
    seg[24:28] = v.to_bytes(4, "big")
    hi = b >> 16
    lo = b & 0xFFFF
    got = wtcp._rel_viper(seg, 20, 4, hi, lo)
    if got != wtcp.rel_py(seg, 20, 4, hi, lo):
        raise SystemExit("rel mismatch v=%d b=%d" % (v, b))
    a1 = bytearray(40)
    a2 = bytearray(40)
    wtcp._put_rel_viper(a1, 20, 8, hi, lo, got)
    wtcp.put_rel_py(a2, 20, 8, hi, lo, got)
    if a1 != a2:
        raise SystemExit("put_rel mismatch r=%d b=%d" % (got, b))
    checked += 1
# the small header writers and comparisons
for _ in range(1000):
    a = bytearray(os.urandom(40))
    b = bytearray(a)
    args = (rnd(0x10000), rnd(0x10000), 20 + 4 * rnd(11), rnd(0x100), rnd(0x10000))
    wtcp._write_viper(a, 6, *args)
    wtcp.write_py(b, 6, *args)
    if a != b:
        raise SystemExit("tcp write mismatch %r" % (args,))
    hdr = bytearray(os.urandom(24))
    h2 = bytearray(hdr)
    tl = rnd(0x10000)
    ident = rnd(0x10000)
    ip4._finish_viper(hdr, 2, tl, ident)
    ip4.finish_py(h2, 2, tl, ident)
    if hdr != h2:
        raise SystemExit("ip4 finish mismatch")
    x = bytearray(os.urandom(10))
    y = bytearray(x[3:7]) if rnd(2) else bytearray(os.urandom(4))
    if ip4._addr_is_viper(x, 3, y) != ip4.addr_is_py(x, 3, y):
        raise SystemExit("addr_is mismatch")
    m = bytearray(x[0:6]) if rnd(2) else bytearray(os.urandom(6))
    if rnd(3) == 0:
        m[rnd(6)] ^= 1
    if eth._dst_is_viper(x, m) != eth.dst_is_py(x, m):
        raise SystemExit("dst_is mismatch")
    checked += 1
print("OK", checked)
