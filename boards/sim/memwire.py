# An in-memory wire for model tests: frames queued by the test arrive at the
# chip, frames the chip sends are collected. Same methods as FramedWire
# (stack/drivers/tap.py): readable, recv_into, send, close.


class MemWire:
    def __init__(self):
        self.inbound = []  # frames waiting to reach the chip (bytes)
        self.sent = []  # frames the chip transmitted (bytes)

    def put(self, frame):
        self.inbound.append(bytes(frame))

    def readable(self, timeout_ms=0):
        return bool(self.inbound)

    def recv_into(self, buf):
        if not self.inbound:
            return 0
        f = self.inbound.pop(0)
        if len(f) > len(buf):
            return -1
        buf[0 : len(f)] = f
        return len(f)

    def send(self, buf, n):
        self.sent.append(bytes(buf[0:n]))
        return True

    def close(self):
        pass
