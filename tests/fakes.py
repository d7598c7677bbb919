"""A driver that feeds the stack frames from a list and records what it sends."""

from stack import stats as _stats

STACK_MAC = bytes.fromhex("020000000002")
HOST_MAC = bytes.fromhex("02aabbccdd01")


class FakeDriver:
    def __init__(self, mac=STACK_MAC):
        self.mac = mac
        self.rx = []
        self.sent = []
        self.stats = _stats.register({}, "rx_frames", "tx_frames")

    def recv_into(self, buf):
        if not self.rx:
            return 0
        f = self.rx.pop(0)
        if len(f) > len(buf):
            return 0
        buf[: len(f)] = f
        return len(f)

    def send(self, buf, n):
        self.sent.append(bytes(buf[:n]))
        return True

    def link_up(self):
        return True

    def wait(self, timeout_ms):
        pass

    def close(self):
        pass


def make_iface(**cfg):
    from stack.config import Config
    from stack.iface import Interface

    drv = FakeDriver()
    iface = Interface(drv, Config(**cfg))
    iface.poll(0)  # gratuitous ARP goes out first
    drv.sent.clear()
    return iface, drv
