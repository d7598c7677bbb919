"""Relay between a TAP fd and a framed stream (2-byte big-endian length + frame).

MicroPython's stream readinto() reads until its buffer is full, so the stack
cannot read a TAP (one frame per read) directly; see stack/drivers/tap.py.
The relay is also where a user-space netem sits when the kernel has none
(host_tools/impair.py).
"""

import os
import socket
import subprocess
import threading
from pathlib import Path

from host_tools.impair import Impairment

_MAX_FRAME = 65535
TO_STACK = 0
TO_LINUX = 1
ROOT = Path(__file__).resolve().parent.parent
C_RELAY = ROOT / "build" / "tapwire"  # host_tools/tapwire.c, built by bootstrap.sh


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class Relay:
    """Owns the TAP fd; child_fd is the stream end to pass to the stack."""

    def __init__(self, tap_fd):
        self._tap = tap_fd
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = ours
        self._child = theirs
        self.child_fd = theirs.fileno()
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        self.impairment = None
        self._threads = [
            threading.Thread(target=self._from_tap, daemon=True),
            threading.Thread(target=self._from_stack, daemon=True),
        ]

    def start(self):
        for t in self._threads:
            t.start()

    def impair(self, spec):
        """Impair both directions by a netem spec from now on; None: stop."""
        old = self.impairment
        self.impairment = Impairment(spec, self._deliver) if spec else None
        if old is not None:
            old.stop()
        return self.impairment

    def _pass(self, direction, frame):
        imp = self.impairment
        if imp is None:
            self._deliver(direction, frame)
        else:
            imp.put(direction, frame)

    def _deliver(self, direction, frame):
        try:
            if direction == TO_STACK:
                with self._send_lock:
                    self._sock.sendall(len(frame).to_bytes(2, "big") + frame)
            else:
                os.write(self._tap, frame)
        except OSError:
            pass  # the stack went away, or the TAP is down: the frame is lost

    def _from_tap(self):
        while not self._stop.is_set():
            try:
                frame = os.read(self._tap, _MAX_FRAME)
            except OSError:
                return
            if not frame:
                return
            self._pass(TO_STACK, frame)

    def _from_stack(self):
        while not self._stop.is_set():
            try:
                hdr = _recv_exact(self._sock, 2)
                if hdr is None:
                    return
                frame = _recv_exact(self._sock, int.from_bytes(hdr, "big"))
                if frame is None:
                    return
            except OSError:
                return
            self._pass(TO_LINUX, frame)

    def close_child_end(self):
        """After the child process has its copy of the fd."""
        self._child.close()

    def stop(self):
        self._stop.set()
        if self.impairment is not None:
            self.impairment.stop()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            os.close(self._tap)
        except OSError:
            pass


class CRelay:
    """The same relay as a small C program (host_tools/tapwire.c): one process
    per direction, no interpreter on the path of every frame. It cannot
    impair the link; the launcher uses Relay when it must."""

    def __init__(self, tap_fd):
        self._tap = tap_fd
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._ours = ours
        self._child = theirs
        self.child_fd = theirs.fileno()
        self.impairment = None
        self._proc = None

    @staticmethod
    def available():
        return C_RELAY.exists()

    def start(self):
        fds = (self._tap, self._ours.fileno())
        self._proc = subprocess.Popen([str(C_RELAY), str(fds[0]), str(fds[1])], pass_fds=fds,
                                      stdin=subprocess.DEVNULL)

    def impair(self, spec):
        if spec:
            raise RuntimeError("the C relay cannot impair the link (start sim with --impair)")
        return None

    def close_child_end(self):
        self._child.close()

    def stop(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()  # it stops and reaps its other direction
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()  # (the other direction dies with it: PR_SET_PDEATHSIG)
                self._proc.wait()
        self._ours.close()
        try:
            os.close(self._tap)
        except OSError:
            pass
