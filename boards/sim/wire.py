# The simulated chip's Ethernet wire: a file descriptor (a TAP device opened by
# the launcher, or one end of a socketpair in tests). One read is one frame,
# one write sends one frame. Nothing here allocates per frame: readinto() into
# the caller's buffer, and on MicroPython write(buf, n) instead of a slice.
import select
import sys

from micropython import const

_MICROPYTHON = sys.implementation.name == "micropython"
_POLLIN = const(1)


class Wire:
    def __init__(self, fd):
        self.fd = fd
        self._file = open(fd, "r+b") if _MICROPYTHON else open(fd, "r+b", buffering=0)
        self._poll = select.poll()
        self._poll.register(self._file, select.POLLIN)
        self.rx_frames = 0
        self.tx_frames = 0
        self.tx_errors = 0

    def ready(self, timeout_ms=0):
        """True when a frame is waiting (waits up to timeout_ms)."""
        for _ in self._poll.ipoll(timeout_ms):  # the tuple is reused: no allocation
            return True
        return False

    def recv_into(self, buf):
        """One waiting frame into buf[0:]; its length, or 0 when none waits."""
        if not self.ready(0):
            return 0
        try:
            n = self._file.readinto(buf)
        except OSError:
            return 0
        if not n:
            return 0
        self.rx_frames += 1
        return n

    def send(self, buf, n):
        try:
            if _MICROPYTHON:
                self._file.write(buf, n)
            else:
                self._file.write(memoryview(buf)[:n])
        except OSError:
            self.tx_errors += 1
            return False
        self.tx_frames += 1
        return True

    def close(self):
        self._file.close()
