"""Chip faults under load, on both simulated chips (the firmware's bring-up
with tcp_services, tests/faults_mp_chip.py): RX overflow storms, the link
flapping every 300 ms, a chip reset in the middle of a transfer, and MISO
returning garbage for a burst. Linux moves data both ways while the fault
happens; each transfer either completes with exact bytes or fails with a
clear error within its bound (never a hang), and afterwards the driver has
recovered: a fresh transfer each way is exact and ping answers. Where the
driver gives up with OSError(ENODEV) ("re-create the driver"), the harness
does that, as an application would (tests/faults_mp_chip.py)."""

import time

import pytest

from mp_firmware import STACK, MPFirmware
from scenario import fresh_netns_name, require_netns
from transfer import BothWays

N = 2_000_000  # each way: the transfers outlast the fault (~1 MB/s clean)


@pytest.fixture(scope="module")
def firmwares():
    """One firmware per board, started when a test first needs it."""
    running = {}
    try:
        yield running
    finally:
        for f in running.values():
            f.__exit__(None, None, None)


@pytest.fixture
def fw(firmwares, board_name):
    require_netns()
    if board_name not in firmwares:
        f = MPFirmware(fresh_netns_name(), "faults_mp_chip.py", board_name, "256wK")
        firmwares[board_name] = f.__enter__()
    return firmwares[board_name]


def both_ways(fw, n, during=None):
    """Upload and download n bytes at once (tests/transfer.py); `during` runs
    meanwhile. Returns (BothWays, seconds)."""
    t0 = time.monotonic()
    tr = BothWays(fw.netns, n).start()
    if during:
        during()
    tr.finish()
    return tr, time.monotonic() - t0


def stats(fw):
    fw.command("stats")
    return fw.expect("STATS", 10)


def counters(line):
    """'STATS driver=a:1,b:2 chip=c:3' -> {'driver.a': 1, ..., 'chip.c': 3}"""
    out = {}
    for part in line.split()[1:]:
        who, _, kvs = part.partition("=")
        for kv in filter(None, kvs.split(",")):
            k, v = kv.split(":")
            out[who + "." + k] = int(v)
    return out


def moved(a, b, *names):
    return sum(b.get(n, 0) - a.get(n, 0) for n in names)


# what shows that the fault really hit the running transfer
EFFECT = {
    "storm": ("chip.rx_overflows",),
    "flap": ("chip.rx_drop_off", "chip.tx_lost_no_link", "chip.tx_lost"),
    "reset": ("chip.resets",),
    "garbage": ("driver.unstable_reads", "driver.rx_drop_bad", "driver.chip_checks",
                "driver.rx_drop_too_long", "driver.rx_overflow", "driver.tx_timeout",
                "driver.reopen", "driver.tx_not_done", "driver.rx_errors",
                "chip.violations"),
}


def fault(fw, command, name):
    def go():
        time.sleep(0.3)  # the transfers are under way
        fw.command(command)
        fw.expect("FAULT %s done" % name, 30)
    return go


FAULTS = [
    ("storm 6 40 250", "storm"),  # 6 bursts of 40 x 600 B into a 8-16 KB RX memory
    ("flap 8 300", "flap"),  # down/up every 300 ms for 2.4 s
    ("garbage 200", "garbage"),
    ("reset", "reset"),
]
CASES = [(b, c, n) for b in ("sim_w5500", "sim_enc28j60") for c, n in FAULTS]


@pytest.mark.parametrize("board_name,command,name", CASES,
                         ids=["%s-%s" % (b, n) for b, c, n in CASES])
def test_fault_under_load_then_recovered(board_name, fw, command, name):
    assert fw.alive(), "\n".join(fw.log[-30:])
    before = counters(stats(fw))
    recreated = fw.log.count("DRIVER RECREATED")
    tr, took = both_ways(fw, N, fault(fw, command, name))
    up_ok, down_ok = tr.finish()
    during = stats(fw)
    # the fault really hit: its counters moved, or the driver gave up and was
    # re-created (its counters start again from zero then)
    assert (fw.log.count("DRIVER RECREATED") > recreated
            or moved(before, counters(during), *EFFECT[name]) > 0), (before, during)
    print("%s: %.1f s up=%s down=%s errors=%s %s" % (
        name, took, up_ok, down_ok,
        tr.errors(), during))
    # each transfer: exact bytes, or a clear error (never wrong bytes)
    assert up_ok or "up_error" in tr.box, tr.box.get("up")
    assert down_ok or "down_error" in tr.box, len(tr.box.get("down", b""))
    errors = [ln for ln in fw.log if ln.startswith("DRIVER ERROR")]
    if name in ("garbage", "reset"):
        # a driver that reads garbage (or a chip that forgot its set-up) may
        # take the chip for dead: then a clear OSError(ENODEV) ("re-create the
        # driver"), and the new driver works
        assert all(ln.startswith("DRIVER ERROR 19 ") for ln in errors), errors
        assert len([ln for ln in fw.log if ln == "DRIVER RECREATED"]) == len(errors)
    else:
        assert not errors, "\n".join(fw.log[-20:])
    # recovered: a fresh transfer each way is exact, and ping answers
    tr2, _ = both_ways(fw, 100_000)
    assert tr2.finish() == (True, True), (tr2.errors(), stats(fw))
    assert fw.run("ping", "-c", "2", "-i", "0.2", "-W", "2", STACK).returncode == 0
