"""Relay between a TAP fd and a framed stream (2-byte big-endian length + frame).

MicroPython's stream readinto() reads until its buffer is full, so the stack
cannot read a TAP (one frame per read) directly; see stack/drivers/tap.py.
"""

import os
import socket
import threading

_MAX_FRAME = 65535


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _tap_to_stream(tap_fd, sock, stop):
    while not stop.is_set():
        try:
            frame = os.read(tap_fd, _MAX_FRAME)
        except OSError:
            return
        if not frame:
            return
        try:
            sock.sendall(len(frame).to_bytes(2, "big") + frame)
        except OSError:
            return


def _stream_to_tap(tap_fd, sock, stop):
    while not stop.is_set():
        try:
            hdr = _recv_exact(sock, 2)
            if hdr is None:
                return
            frame = _recv_exact(sock, int.from_bytes(hdr, "big"))
            if frame is None:
                return
            os.write(tap_fd, frame)
        except OSError:
            if stop.is_set():
                return
            continue  # e.g. EIO while the TAP is down: drop that frame


class Relay:
    """Owns the TAP fd; child_fd is the stream end to pass to the stack."""

    def __init__(self, tap_fd):
        self._tap = tap_fd
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = ours
        self._child = theirs
        self.child_fd = theirs.fileno()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=_tap_to_stream, args=(tap_fd, ours, self._stop), daemon=True),
            threading.Thread(target=_stream_to_tap, args=(tap_fd, ours, self._stop), daemon=True),
        ]

    def start(self):
        for t in self._threads:
            t.start()

    def close_child_end(self):
        """After the child process has its copy of the fd."""
        self._child.close()

    def stop(self):
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            os.close(self._tap)
        except OSError:
            pass
