# Inside the MicroPython unix port: the fault injector and the pcap writer
# around a driver, frames both ways with micropython.heap_lock() held (any
# allocation raises). Prints the counters so the test can hold them equal to
# a CPython run with the same seed (tests/test_drv_wrappers_unixport.py).
import sys

import micropython

from stack import mem
from stack.drivers.fault import FaultDriver
from stack.drivers.pcap import PcapDriver


class Loop:
    """A wire that gives back frames made from a counter, and counts sends."""

    def __init__(self, count):
        self.mac = b"\x02\x00\x00\x00\x00\x02"
        self.stats = {}
        self.left = count
        self.i = 0
        self.sent = 0

    def recv_into(self, buf):
        if self.left <= 0:
            return 0
        self.left -= 1
        self.i += 1
        for k in range(60):
            buf[k] = (self.i + k) & 0xFF
        return 60

    def send(self, buf, n):
        self.sent += 1
        return True

    def link_up(self):
        return True

    def wait(self, ms):
        pass

    def close(self):
        pass


def run(count, path):
    inner = Loop(count)
    faulty = FaultDriver(inner, seed=21, drop=0.1, duplicate=0.05, corrupt=0.05, delay=0.0)
    drv = PcapDriver(faulty, path)
    buf = bytearray(1600)
    got = 0
    drv.recv_into(buf)  # warm-up: first-call objects
    drv.send(buf, 60)
    micropython.heap_lock()
    try:
        while True:
            n = drv.recv_into(buf)
            if n <= 0:
                break
            got += 1
            drv.send(buf, n)
    finally:
        micropython.heap_unlock()
    drv.close()
    st = inner.stats
    print("OK got=%d sent=%d drop=%d dup=%d corrupt=%d pcap=%d" % (
        got, inner.sent, st["fault_drop"], st["fault_duplicate"], st["fault_corrupt"],
        st["pcap_frames"]))


run(int(sys.argv[1]), sys.argv[2])
