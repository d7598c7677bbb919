# Small UDP services every board runs: echo (RFC 862, port 7) and a status
# reply with the counters (port 9999), used by tests and handy on a bench.
import gc
import json

from micropython import const

ECHO_PORT = const(7)
STATUS_PORT = const(9999)
_MAX_REPLY = const(8192)  # more than one frame goes out in IPv4 fragments


class Echo:
    """Sends every datagram back to its sender. Allocates nothing per datagram."""

    def __init__(self, iface, buf_bytes):
        self._sock = iface.udp.socket()
        self._sock.bind(ECHO_PORT)
        self._buf = bytearray(buf_bytes)
        self._addr = bytearray(6)
        self.echoed = 0

    def poll(self, now_ms):
        s = self._sock
        a = self._addr
        while True:
            n = s.recv_into_from(self._buf, a)
            if n < 0:
                return
            s.sendto(self._buf, 0, n, a, 0, (a[4] << 8) | a[5])
            self.echoed += 1


class Status:
    """Answers any datagram with a JSON object of the stack's non-zero counters
    (zero ones are left out so the reply fits one datagram; read a missing
    counter as 0). Allocates (json): firmware runs it outside heap-locked
    sections."""

    def __init__(self, iface, extra=None):
        self._iface = iface
        self._sock = iface.udp.socket()
        self._sock.bind(STATUS_PORT)
        self._buf = bytearray(64)
        self._addr = bytearray(6)
        self._extra = extra

    def pending(self):
        return self._sock.pending() >= 0

    def poll(self, now_ms):
        while self._sock.recv_into_from(self._buf, self._addr) >= 0:
            gc.collect()
            doc = {
                "iface": _nonzero(self._iface.stats),
                "driver": _nonzero(self._iface.driver.stats),
                "mem_free": gc.mem_free(),
                "mem_alloc": gc.mem_alloc(),
            }
            if self._extra:
                doc.update(self._extra())
            body = json.dumps(doc).encode()
            if len(body) > _MAX_REPLY:
                body = b'{"error": "counters do not fit one datagram"}'
            a = self._addr
            self._sock.sendto(body, 0, len(body), a, 0, (a[4] << 8) | a[5])


def _nonzero(counters):
    return {k: v for k, v in counters.items() if v}
