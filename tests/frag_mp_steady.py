# Inside the MicroPython unix port: fragmented pings reassembled and answered
# in fragments, UDP to a closed port answered with port unreachable, a LAND
# SYN and an ICMP error received, round after round with the whole
# iface.poll() path under micropython.heap_lock() (tests/test_frag_unixport.py
# writes the frames and checks what this prints).
import sys

import micropython

from stack import mem
from stack.config import Config
from stack.iface import Interface
from stack.tcp import TCP

_KEEP = 8


class ListDriver:
    """Frames from a preallocated list; copies of the last frames sent."""

    def __init__(self, frames):
        self.mac = b"\x02\x00\x00\x00\x00\x02"
        self.frames = frames
        self.next = 0
        self.limit = 0
        self.sent = 0
        self.sent_bytes = 0
        self.keep = [bytearray(1514) for _ in range(_KEEP)]
        self.keep_len = [0] * _KEEP
        self.stats = {}

    def recv_into(self, buf):
        if self.next >= self.limit:
            return 0
        f = self.frames[self.next]
        self.next += 1
        mem.copy(buf, 0, f, 0, len(f))
        return len(f)

    def send(self, buf, n):
        k = self.sent % _KEEP
        mem.copy(self.keep[k], 0, buf, 0, n)
        self.keep_len[k] = n
        self.sent += 1
        self.sent_bytes += n
        return True

    def link_up(self):
        return True

    def wait(self, ms):
        pass


def main(path, rounds, warm):
    lines = open(path).read().split()
    learn = bytes.fromhex(lines[0])
    per_round = [bytes.fromhex(x) for x in lines[1:]]
    frames = [learn]
    for _ in range(rounds):
        frames.extend(per_round)
    cfg = Config(icmp_err_per_s=1000, icmp_err_burst=100)
    drv = ListDriver(frames)
    iface = Interface(drv, cfg)
    TCP(iface, cfg).listen(80)
    drv.limit = 1
    iface.poll(0)
    now = 1
    locked = 0
    for r in range(rounds):
        drv.limit += len(per_round)
        if r >= warm:
            micropython.heap_lock()
            try:
                while drv.next < drv.limit:
                    iface.poll(now)
            finally:
                micropython.heap_unlock()
            locked += 1
        else:
            while drv.next < drv.limit:
                iface.poll(now)
        now += 10
    st = iface.stats
    print(
        "OK locked=%d sent=%d reasm=%d echo_frag=%d unreach=%d land=%d rx_port_unreach=%d"
        % (
            locked,
            drv.sent,
            st["ip4_reasm_ok"],
            st["icmp_tx_echo_frag"],
            st["icmp_tx_unreach"],
            st["ip4_drop_src_self"],
            st["icmp_rx_port_unreach"],
        )
    )
    for k in range(_KEEP):
        j = (drv.sent + k) % _KEEP
        print("SENT", bytes(drv.keep[j][: drv.keep_len[j]]).hex())


main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
