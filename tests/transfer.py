"""A legitimate transfer that runs beside an attack or a fault: Linux uploads
n random bytes to the sink (port 9, which answers "<bytes> <sha256>") and
downloads n bytes of the pattern from the source (port 19) at the same time,
each bounded by a socket timeout. finish() says whether both were exact."""

import hashlib
import os
import socket
import threading

from host_tools.netns import InNetns
from mp_firmware import STACK

BOUND_S = 60


def pattern(n):
    return bytes((k * 7 + 3) & 0xFF for k in range(n))


def _socket(netns):
    with InNetns(netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(BOUND_S)
    return s


def _recv_all(s):
    out = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            return bytes(out)
        out += b


class BothWays:
    def __init__(self, netns, n):
        self.netns = netns
        self.n = n
        self.sent = os.urandom(n)
        self.box = {}
        self.threads = [threading.Thread(target=self._up, daemon=True),
                        threading.Thread(target=self._down, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _up(self):
        try:
            s = _socket(self.netns)
            s.connect((STACK, 9))
            s.sendall(self.sent)
            s.shutdown(socket.SHUT_WR)
            self.box["up"] = _recv_all(s).decode().split()
            s.close()
        except OSError as e:
            self.box["up_error"] = e

    def _down(self):
        try:
            s = _socket(self.netns)
            s.connect((STACK, 19))
            s.sendall(b"%d\n" % self.n)
            self.box["down"] = _recv_all(s)
            s.close()
        except OSError as e:
            self.box["down_error"] = e

    def finish(self, timeout=2 * BOUND_S + 10):
        """(up exact, down exact); raises if a transfer is still running."""
        for t in self.threads:
            t.join(timeout)
        if any(t.is_alive() for t in self.threads):
            raise AssertionError("a transfer hung")
        up = self.box.get("up") == [str(self.n), hashlib.sha256(self.sent).hexdigest()]
        down = self.box.get("down") == pattern(self.n)
        return up, down

    def errors(self):
        return {k: v for k, v in self.box.items() if k.endswith("_error")}
