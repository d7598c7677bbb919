# boards/sim/mem.py's copy and fill for the chip models inside MicroPython's
# WebAssembly port, which has no viper emitter (a viper decorator anywhere in
# a module fails its compilation there). The runner puts this file in the
# WebAssembly VM's file system as boards/sim/mem.py; the models themselves are
# the project's own files, unchanged. Same semantics as the CPython branch.


def copy(dst, doff, src, soff, n):
    dst[doff : doff + n] = src[soff : soff + n]


def fill(dst, off, value, n):
    i = 0
    while i < n:
        dst[off + i] = value
        i += 1
