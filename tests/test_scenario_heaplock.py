"""1000 ICMP and 1000 UDP echo requests served with the whole receive -> reply
path under micropython.heap_lock(): any allocation would raise MemoryError and
stop the stack, so every reply arriving proves the steady state allocates nothing."""

import pytest

from scenario import Sim, boards

ECHO_PORT = 7
COUNT = 1000


@pytest.fixture(scope="module")
def locked_sim(board):
    with Sim(board, heap_lock=True) as s:
        yield s


def test_1000_pings_under_heap_lock(locked_sim):
    r = locked_sim.run("ping", "-f", "-c", str(COUNT), "-W", "1", "-s", "1000", locked_sim.ip,
                       timeout=120)
    out = r.stdout.decode()
    assert "%d packets transmitted, %d received" % (COUNT, COUNT) in out, out + locked_sim.log()
    assert locked_sim.alive(), locked_sim.log()
    assert "ALLOCATION" not in locked_sim.log()
    # poll() and poll_at() count an allocation they stopped instead of raising
    assert locked_sim.status()["iface"].get("poll_alloc_blocked", 0) == 0


def test_1000_udp_echoes_under_heap_lock(locked_sim):
    s = locked_sim.socket()
    s.settimeout(2)
    try:
        for i in range(COUNT):
            msg = b"%04d" % i + bytes(200)
            s.sendto(msg, (locked_sim.ip, ECHO_PORT))
            assert s.recvfrom(512)[0] == msg, i
    finally:
        s.close()
    st = locked_sim.status()
    assert st["iface"]["udp_drop_full"] == 0
    assert st["iface"].get("poll_alloc_blocked", 0) == 0
    assert locked_sim.alive(), locked_sim.log()
    assert "ALLOCATION" not in locked_sim.log()
