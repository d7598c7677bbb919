"""DHCP and DNS inside the real MicroPython unix port, heap-capped as on a
board (64 KB of a 32-bit heap, the stack as .mpy as a board runs it):
renewals (T1 -> REQUEST -> ARP when aged out -> ACK), DNS questions answered
(random ID and port, CNAME, cache insert) and cached lookups, every engine
call under micropython.heap_lock() (tests/dhcp_mp_steady.py)."""

import os
import subprocess

from host_tools import build
from mp import MICROPYTHON, ROOT


def run_steady(*args):
    arch = build.host_arch()
    path = ROOT if arch is None else build.build_tree(arch, ROOT / "build", ("stack",))[0]
    # the .mpy code sits in this heap too (a board keeps it frozen in flash);
    # 96wK leaves the stack's 64 KB of data room beside it
    return subprocess.run([MICROPYTHON, "-X", "heapsize=96wK",
                           str(ROOT / "tests" / "dhcp_mp_steady.py")] + list(args),
                          env=dict(os.environ, MICROPYPATH=str(path)), capture_output=True,
                          text=True, timeout=120)


def test_renewals_answers_and_cached_lookups_allocate_nothing():
    r = run_steady("40", "40")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ALLOCATION" not in r.stdout
    line = [x for x in r.stdout.splitlines() if x.startswith("OK")][0]
    vals = dict(kv.split("=") for kv in line.split()[1:])
    assert int(vals["renewals"]) == 40 and int(vals["answers"]) == 40
    assert int(vals["lookups"]) == 400
    assert int(vals["arp_requests"]) > 2  # the ARP re-resolution ran under the lock too


def test_the_heap_lock_is_real():
    """The same harness catches an allocation: a list made under the lock."""
    r = run_steady("0", "0", "--alloc-probe")
    assert r.returncode != 0 and "ALLOCATION in" in r.stdout, r.stdout + r.stderr
