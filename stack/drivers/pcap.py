# Pcap writer: wraps any Driver and records every frame it receives and sends
# in the classic pcap format (Ethernet link type), readable by tcpdump,
# tshark and Wireshark. Keep it on a board to see what the stack saw:
#
#     drv = PcapDriver(ENC28J60(spi, cs, mac), "/capture.pcap")
#
# The output is a path (opened for writing) or any object with write(); a
# frame is written when the inner driver returned or accepted it. Timestamps
# come from ticks_ms() (a board has no wall clock): seconds since the ticks
# origin, wrapping with it. Nothing is allocated per frame on MicroPython; a
# failed write (storage full) is counted in pcap_errors and the frame still
# goes to the stack, never an exception out of poll().
import struct
import sys

from stack import stats as _stats
from stack.clock import ticks_ms

_MICROPYTHON = sys.implementation.name == "micropython"
_MAGIC = 0xA1B2C3D4  # microsecond timestamps, written in our byte order
_LINKTYPE_ETHERNET = 1
SNAPLEN = 1518


class PcapDriver:
    def __init__(self, inner, out, snaplen=SNAPLEN, clock=ticks_ms):
        self.inner = inner
        self.mac = inner.mac
        self.stats = _stats.register(inner.stats, "pcap_frames", "pcap_errors")
        self._clock = clock
        self._snaplen = snaplen
        self._own = isinstance(out, str)
        if self._own:
            out = open(out, "wb") if _MICROPYTHON else open(out, "wb", buffering=0)
        self._out = out
        self._rec = bytearray(16)
        hdr = bytearray(24)
        struct.pack_into("<IHHiIII", hdr, 0, _MAGIC, 2, 4, 0, 0, snaplen, _LINKTYPE_ETHERNET)
        self._write(hdr, 24)

    def _write(self, buf, n):
        try:
            if _MICROPYTHON:
                self._out.write(buf, n)  # no slice object
            else:
                self._out.write(bytes(memoryview(buf)[:n]))
            return True
        except OSError:
            self.stats["pcap_errors"] += 1
            return False

    def _record(self, buf, n):
        ms = self._clock()
        keep = n if n < self._snaplen else self._snaplen
        struct.pack_into("<IIII", self._rec, 0, ms // 1000, (ms % 1000) * 1000, keep, n)
        if self._write(self._rec, 16) and self._write(buf, keep):
            self.stats["pcap_frames"] += 1

    # -- the Driver contract (docs/contracts.md) ------------------------------------

    def recv_into(self, buf):
        n = self.inner.recv_into(buf)
        if n > 0:
            self._record(buf, n)
        return n

    def send(self, buf, n):
        ok = self.inner.send(buf, n)
        if ok is not False:
            self._record(buf, n)
        return ok

    def link_up(self):
        return self.inner.link_up()

    def wait(self, timeout_ms):
        self.inner.wait(timeout_ms)

    def flush(self):
        f = getattr(self._out, "flush", None)
        if f is not None:
            f()

    def close(self):
        if self._own:
            self._out.close()
        else:
            self.flush()
        self.inner.close()
