# Driver for the simulator's wire: frames to and from a Linux TAP, carried over
# a stream fd with a 2-byte big-endian length before each frame.
#
# Why not read the TAP fd itself: MicroPython's stream readinto() keeps reading
# until the buffer is full, and a TAP returns one frame per read(), so a plain
# readinto() on a TAP blocks for the next frames or glues them together. The
# launcher (host_tools/tapwire.py) relays TAP <-> framed stream instead, and
# every simulated board (unix_tap, the chip models) uses the same FramedWire.
import select
import sys

from stack import stats as _stats
from stack.mem import copy

_MICROPYTHON = sys.implementation.name == "micropython"
_MAX_FRAME = 1518


class FramedWire:
    """One frame per record on a stream fd: [len_hi, len_lo, frame...]."""

    def __init__(self, fd):
        self._file = open(fd, "r+b") if _MICROPYTHON else open(fd, "r+b", buffering=0)
        self._poll = select.poll()
        self._poll.register(self._file, select.POLLIN)
        self._hdr = bytearray(2)
        self._out = bytearray(2 + _MAX_FRAME)
        self._skip = bytearray(64)
        self.too_long = 0

    def readable(self, timeout_ms=0):
        for _ in self._poll.ipoll(timeout_ms):  # ipoll reuses its tuple: no allocation
            return True
        return False

    def recv_into(self, buf, ready=False):
        """Length of the frame now in buf, 0 if none waits, -1 if one was too
        long for buf (read and discarded). Raises OSError if the wire closed.
        ready: a poll just said a frame waits (no second poll call)."""
        if not ready and not self.readable(0):
            return 0
        h = self._hdr
        if self._read(h, 2) < 2:
            raise OSError(104)  # ECONNRESET: the launcher went away
        n = (h[0] << 8) | h[1]
        if n > len(buf):
            self._discard(n)
            self.too_long += 1
            return -1
        if self._read(buf, n) < n:
            raise OSError(104)
        return n

    def send(self, buf, n):
        out = self._out
        out[0] = n >> 8
        out[1] = n & 0xFF
        if n > _MAX_FRAME:  # a chip model sending what a broken driver set up
            self._write(out, 2)
            self._write(buf, n)
            return
        # one write per frame, the length and the frame copied together: two
        # writes wake the relay twice, and it runs on the same CPU
        copy(out, 2, buf, 0, n)
        self._write(out, n + 2)

    def _write(self, buf, n):
        if _MICROPYTHON:
            self._file.write(buf, n)  # write(buf, n): no slice object
        else:
            self._file.write(bytes(memoryview(buf)[:n]))

    def _read(self, buf, n):
        if _MICROPYTHON:
            return self._file.readinto(buf, n) or 0
        got = 0
        mv = memoryview(buf)
        while got < n:
            r = self._file.readinto(mv[got:n])
            if not r:
                break
            got += r
        return got

    def _discard(self, n):
        while n > 0:
            k = n if n < len(self._skip) else len(self._skip)
            self._read(self._skip, k)
            n -= k

    def close(self):
        self._file.close()


class TapDriver:
    """The unix_tap board's driver: no chip, the framed TAP wire is the MAC."""

    def __init__(self, fd, mac):
        self.mac = bytes(mac)
        self._wire = FramedWire(fd)
        self._ready = False  # wait() saw a frame waiting: recv_into need not poll again
        self.stats = _stats.register({}, "rx_frames", "tx_frames", "rx_drop_too_long", "tx_drop")

    def recv_into(self, buf):
        ready = self._ready
        self._ready = False
        n = self._wire.recv_into(buf, ready)
        if n < 0:
            self.stats["rx_drop_too_long"] += 1
            return 0
        if n:
            self.stats["rx_frames"] += 1
        return n

    def send(self, buf, n):
        if n > _MAX_FRAME:
            self.stats["tx_drop"] += 1
            return False
        self._wire.send(buf, n)
        self.stats["tx_frames"] += 1
        return True

    def link_up(self):
        return True

    def wait(self, timeout_ms):
        # one poll() system call per wake-up instead of two (ping RTT)
        self._ready = self._wire.readable(timeout_ms)

    def close(self):
        self._wire.close()
