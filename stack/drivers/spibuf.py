# Exact-length SPI transfers of buf[0:n] with nothing allocated per frame.
#
# machine.SPI reads and writes whole buffers, and every memoryview slice made
# per frame is a heap object. So the views are made once: buf[0:64k] for every
# k (per frame buffer, the first time it is seen), and views of 32, 16, 8, 4,
# 2 and 1 bytes of a 32-byte scratch for the last n % 64 bytes, which are
# copied in or out with a short loop. A 1518-byte buffer costs 24 views; at
# most 7 SPI calls move one frame. `slots` buffers are remembered (the
# Interface moves only its RX and its TX buffer, held frames included; a
# third slot serves a caller's own buffer), the oldest is forgotten first.
# A buffer first seen while the heap is locked gets no views: it moves
# through the 32-byte scratch (slower, still exact, still allocation-free).
from micropython import const

_G = const(64)
_TAIL = const(32)


class Spans:
    def __init__(self, spi, slots=2):
        self._spi = spi
        self._tail = bytearray(_TAIL)
        mv = memoryview(self._tail)
        self._tails = (mv[0:32], mv[0:16], mv[0:8], mv[0:4], mv[0:2], mv[0:1])
        self._bufs = [None] * slots
        self._views = [None] * slots
        self._next = 0

    def _views_of(self, buf):
        bufs = self._bufs
        for i in range(len(bufs)):
            if bufs[i] is buf:
                return self._views[i]
        try:
            views = self._make_views(buf)
        except MemoryError:
            # under micropython.heap_lock(): no views for this buffer, the
            # caller moves it 32 bytes at a time through the scratch instead
            return None
        i = self._next
        self._next = (i + 1) % len(bufs)
        self._views[i] = views
        bufs[i] = buf
        return views

    def register(self, buf):
        """Make buf's views now (a lookup when they exist)."""
        self._views_of(buf)

    @staticmethod
    def _make_views(buf):
        # not a comprehension in _views_of: a comprehension over a local makes
        # that local a closure cell, allocated on every call of the function
        mv = memoryview(buf)
        views = []
        for k in range(len(buf) // _G + 1):
            views.append(mv[0 : k * _G])
        return views

    def read(self, buf, n):
        """Clock n bytes in from the bus into buf[0:n] (CS is the caller's)."""
        k = n // _G
        spi = self._spi
        views = self._views_of(buf)  # even when k is 0: views are made on first sight
        if views is None:
            k = 0
        elif k:
            spi.readinto(views[k])
        base = k * _G
        r = n - base
        tail = self._tail
        whole = self._tails[0]
        while r > _TAIL:
            spi.readinto(whole)
            for j in range(_TAIL):
                buf[base + j] = tail[j]
            base += _TAIL
            r -= _TAIL
        size = _TAIL
        for v in self._tails:
            if r >= size:
                spi.readinto(v)
                for j in range(size):
                    buf[base + j] = tail[j]
                base += size
                r -= size
            size >>= 1

    def write(self, buf, n):
        """Clock buf[0:n] out on the bus (CS is the caller's)."""
        k = n // _G
        spi = self._spi
        views = self._views_of(buf)
        if views is None:
            k = 0
        elif k:
            spi.write(views[k])
        base = k * _G
        r = n - base
        tail = self._tail
        whole = self._tails[0]
        while r > _TAIL:
            for j in range(_TAIL):
                tail[j] = buf[base + j]
            spi.write(whole)
            base += _TAIL
            r -= _TAIL
        size = _TAIL
        for v in self._tails:
            if r >= size:
                for j in range(size):
                    tail[j] = buf[base + j]
                spi.write(v)
                base += size
                r -= size
            size >>= 1
