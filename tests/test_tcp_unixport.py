# TCP inside the real MicroPython unix port: the steady-state bulk path both
# ways (full segments in, full segments out, ACK processing, retransmission
# and timer checks) runs under micropython.heap_lock(), with sequence numbers
# wrapping across 2**32 and forced rebasing (tests/tcp_mp_steady.py).
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP = os.path.join(ROOT, ".venv", "bin", "micropython")


def _mpy_path():
    """The stack as .mpy for this machine (as a board runs it: the 64 KB heap
    is for the engine, not for compiling its source), else the sources."""
    sys.path.insert(0, ROOT)
    from host_tools import build

    arch = build.host_arch()
    if arch is None:
        return ROOT
    out_root, failures = build.build_tree(arch, os.path.join(ROOT, "build"), ("stack",))
    assert not failures, failures
    return str(out_root)


@pytest.mark.skipif(not os.path.exists(MP), reason="no MicroPython unix port")
def test_steady_state_bulk_allocates_nothing_and_wraps():
    env = dict(os.environ, MICROPYPATH=_mpy_path())
    p = subprocess.run(
        [MP, "-X", "heapsize=64wK", os.path.join(ROOT, "tests", "tcp_mp_steady.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    line = [x for x in p.stdout.splitlines() if x.startswith("OK")][0]
    vals = dict(kv.split("=") for kv in line.split()[1:])
    assert int(vals["rx"]) == (3000 + 30) * 1460  # 30 rounds delivered 2 segments, swapped
    assert int(vals["ooo"]) == 30
    assert int(vals["tx_acked_to"]) > 1_000_000
    # one locked input per data segment (3,060) plus one per round in which
    # the peer had something of ours to ACK (most of the 3,000)
    assert int(vals["locked_calls"]) > 5500
    assert int(vals["retransmits"]) > 0 and int(vals["fast"]) > 0


@pytest.mark.skipif(not os.path.exists(MP), reason="no MicroPython unix port")
def test_packet_trace_tests_pass_inside_the_unix_port():
    # the same state-machine tests as on CPython, on the MicroPython VM (the
    # big heap is for the tests' own bytes objects, not the engine's)
    env = dict(os.environ, MICROPYPATH=ROOT + ":" + os.path.join(ROOT, "tests"))
    p = subprocess.run(
        [MP, "-X", "heapsize=2048wK", os.path.join(ROOT, "tests", "tcp_mp_unit.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "failed=0" in p.stdout, p.stdout + p.stderr
    passed = int(p.stdout.split("passed=")[1].split()[0])
    assert passed >= 60
