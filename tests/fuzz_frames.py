"""Runs tests/fuzz_mp_frames.py (the firmware on sim_w5500 in the MicroPython
unix port, its chip's wire a FuzzWire) on a TAP in a fresh namespace: Linux
traffic first (its frames become the seeds), then COUNT fuzz frames, then
the page over the real network again. Used by test_fuzz_frames.py (short)
and `make fuzz` (python tests/fuzz_frames.py COUNT: the full run)."""

import os
import re
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from host_tools import netns as nsmod  # noqa: E402
from host_tools.netns import InNetns  # noqa: E402
from mp_firmware import STACK, MPFirmware  # noqa: E402
HEAP = "2048wK"  # the seeds and the harness live in this heap too
# Frames before the heap baseline: the services' one-time objects. A set of
# 1,056 bytes that once appeared at a random point of a run (after up to
# ~48,000 frames) was the SPI driver making views of an ARP slot buffer the
# first time a held frame was sent from it; held frames now leave from the
# interface's TX buffer (stack/arp.py _flush), and four 130,000-frame runs
# after a 2,000-frame warm-up ended with the heap exactly at its baseline.
WARM = 5_000


class FuzzRun(MPFirmware):
    def __init__(self, netns):
        super().__init__(netns, "fuzz_mp_frames.py", "sim_w5500", HEAP)

    def real_traffic(self):
        """What a LAN sends a board: ARP, pings (one in fragments), the page,
        a bulk download, UDP to the echo, status and a closed port, TCP to a
        closed port. Every frame of it becomes a seed."""
        self.run("ping", "-c", "2", "-i", "0.2", STACK)
        self.run("ping", "-c", "1", "-s", "2972", "-M", "dont", "-W", "2", STACK)
        page = self.run("curl", "-s", "-m", "10", "http://%s/" % STACK).stdout
        assert b"<!doctype html>" in page.lower(), page[:200]
        self.run("curl", "-s", "-m", "10", "-o", "/dev/null", "http://%s/bulk?n=3000" % STACK)
        self.run("curl", "-s", "-m", "10", "-o", "/dev/null", "-d", "abc",
                 "http://%s/sink" % STACK)
        with InNetns(self.netns):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.settimeout(2)
            for port, data in ((7, b"echo me"), (9999, b"?"), (4444, b"closed")):
                u.sendto(data, (STACK, port))
                try:
                    u.recvfrom(65535)
                except OSError:
                    pass
            t.settimeout(2)
            try:
                t.connect((STACK, 81))
            except OSError:
                pass
        finally:
            u.close()
            t.close()

    def fuzz(self, count, seed, warm, timeout):
        self.command("fuzz %d %d %d" % (count, seed, warm))
        done = self.expect("FUZZ DONE", timeout)
        counters = self.expect("COUNTERS", 10)
        driver = self.expect("DRIVER", 10)
        got = dict(kv.split("=", 1) for kv in done.split()[2:])
        return got, counters, driver


def fuzz_and_check(netns, count, seed, warm, timeout):
    """The whole scenario; returns (result dict, counters line, log)."""
    with FuzzRun(netns) as f:
        f.real_traffic()
        t0 = time.monotonic()
        got, counters, driver = f.fuzz(count, seed, warm, timeout)
        took = time.monotonic() - t0
        # afterwards: the page over the real network, and a ping
        page = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            page = f.run("curl", "-s", "-m", "5", "http://%s/" % STACK).stdout
            if b"<!doctype html>" in page.lower():
                break
        ping = f.run("ping", "-c", "2", "-i", "0.2", "-W", "2", STACK)
        return got, counters, driver, took, page, ping.returncode, "\n".join(f.log)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    warm = int(sys.argv[3]) if len(sys.argv) > 3 else WARM
    ok, why = nsmod.can_create()
    if not ok:
        print("fuzz frames: cannot run: " + why)
        return 1
    got, counters, driver, took, page, ping_rc, log = fuzz_and_check(
        "fuzzf%d" % (os.getpid() % 100000), count, seed, warm, timeout=count / 100 + 600)
    print("fuzz frames (unix port, sim_w5500): %s + %s warm-up frames in %.0f s"
          % (got["frames"], got["warm"], took))
    for line in log.splitlines():
        if re.match(r"(FUZZ DONE|RAISED|UNACCOUNTED|BASE|END|SETTLED)", line):
            print("  " + line)
    print("  " + counters[:3000])
    print("  " + driver)
    fails = []
    if int(got["raised"]):
        fails.append("%s exceptions out of poll" % got["raised"])
    if int(got["unaccounted"]):
        fails.append("%s frames neither handled nor counted" % got["unaccounted"])
    if int(got["heap_end"]) - int(got["heap_base"]) > 0:
        fails.append("heap %s -> %s" % (got["heap_base"], got["heap_end"]))
    if b"<!doctype html>" not in page.lower():
        fails.append("the page did not answer afterwards")
    if ping_rc:
        fails.append("ping did not answer afterwards")
    print("fuzz frames: " + ("; ".join(fails) if fails else "all invariants hold"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
