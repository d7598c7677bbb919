# Runs inside the MicroPython unix port: kernel speed, viper vs plain twin.
import time

from stack import csum, mem

SIZE = 1460
ROUNDS = 2000


def rate(fn, *args):
    fn(*args)
    t = time.ticks_us()
    for _ in range(ROUNDS):
        fn(*args)
    dt = time.ticks_diff(time.ticks_us(), t)
    return SIZE * ROUNDS / dt  # bytes/us == MB/s


buf = bytearray(bytes(range(256)) * 6)
dst = bytearray(len(buf))
print("csum viper %.1f" % rate(csum._sum16_viper, buf, 0, SIZE, 0))
print("csum plain %.1f" % rate(csum.sum16_py, buf, 0, SIZE, 0))
print("csum viper_unaligned %.1f" % rate(csum._sum16_viper, buf, 1, SIZE, 0))
print("copy viper %.1f" % rate(mem._copy_viper, dst, 0, buf, 0, SIZE))
print("copy plain %.1f" % rate(mem.copy_py, dst, 0, buf, 0, SIZE))
mv = memoryview(buf)
dmv = memoryview(dst)


def slice_copy(d, s, n):
    d[0:n] = s[0:n]


print("copy slice %.1f" % rate(slice_copy, dmv, mv, SIZE))
