# Exact-length SPI transfers of buf[0:n] with nothing allocated per frame.
#
# machine.SPI reads and writes whole buffers, and every memoryview slice made
# per frame is a heap object. So the views are made once per frame buffer:
# buf[0:32k] for every k, plus views of a 32-byte scratch for the last n % 32
# bytes, which are copied in or out with a short loop. A 1518-byte buffer
# costs 48 views (about 800 bytes on a 32-bit port), made the first time the
# buffer is seen; `slots` buffers are remembered (iface uses one RX and one TX
# buffer), the oldest is forgotten first.
from micropython import const

_G = const(32)


class Spans:
    def __init__(self, spi, slots=2):
        self._spi = spi
        self._tail = bytearray(_G)
        mv = memoryview(self._tail)
        self._tails = [mv[0:i] for i in range(_G)]
        self._bufs = [None] * slots
        self._views = [None] * slots
        self._next = 0

    def _views_of(self, buf):
        bufs = self._bufs
        for i in range(len(bufs)):
            if bufs[i] is buf:
                return self._views[i]
        i = self._next
        self._next = (i + 1) % len(bufs)
        mv = memoryview(buf)
        views = [mv[0 : k * _G] for k in range(len(buf) // _G + 1)]
        self._views[i] = views
        bufs[i] = buf
        return views

    def read(self, buf, n):
        """Clock n bytes in from the bus into buf[0:n] (CS is the caller's)."""
        k = n // _G
        if k:
            self._spi.readinto(self._views_of(buf)[k])
        r = n - k * _G
        if r:
            self._spi.readinto(self._tails[r])
            tail = self._tail
            base = k * _G
            for j in range(r):
                buf[base + j] = tail[j]

    def write(self, buf, n):
        """Clock buf[0:n] out on the bus (CS is the caller's)."""
        k = n // _G
        if k:
            self._spi.write(self._views_of(buf)[k])
        r = n - k * _G
        if r:
            tail = self._tail
            base = k * _G
            for j in range(r):
                tail[j] = buf[base + j]
            self._spi.write(self._tails[r])
