"""A bad link through the launcher's impairment (netem's spec, applied in the
relay because this kernel has no sch_netem): 10 % loss, 5 % duplication,
25 % reordering, 1 % corruption (one flipped bit, as netem) and 10 ms +- 5 ms
of delay, all at once, on both directions. 1 MB goes each way at the same
time between Linux and firmware/tcp_services.py on sim_w5500; both ends
check the sha256, within a bounded time. Corrupted frames reach the stack
and are counted as checksum drops, never delivered."""

import hashlib
import os
import socket
import threading
import time

import pytest
from test_tcp_scenario import STACK, Sim, pattern, recv_all

from scenario import require_netns

SPEC = "loss 10% duplicate 5% reorder 25% corrupt 1% delay 10ms 5ms"
N = 1_000_000
LIMIT_S = 240  # measured ~ (see the print); generous for a loaded 2-core machine


@pytest.fixture(scope="module")
def bad():
    require_netns()
    with Sim("sim_w5500", ["--rx", "4096", "--tx", "4096", "--conns", "4",
                           "--retries", "10"]) as s:
        yield s
        assert s.alive(), s.log()


def test_1mb_each_way_at_once_through_a_bad_link_exact(bad):
    before = bad.status()["tcp"]
    how = bad.impair(SPEC)
    assert how.startswith(("tc", "relay")), how
    up = os.urandom(N)
    box = {}

    def upload():
        c = bad.connect(9, LIMIT_S)  # sink: replies "<bytes> <sha256>" after our FIN
        c.sendall(up)
        c.shutdown(socket.SHUT_WR)
        box["up"] = recv_all(c, LIMIT_S).decode().split()
        c.close()

    def download():
        c = bad.connect(19, LIMIT_S)  # source: N bytes of pattern(), then FIN
        c.sendall(b"%d\n" % N)
        box["down"] = recv_all(c, LIMIT_S)
        c.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=f, daemon=True) for f in (upload, download)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIMIT_S)
    took = time.monotonic() - t0
    counts = bad.impair_counts()
    bad.impair(None)
    after = bad.status()["tcp"]
    print("1 MB each way through %r: %.1f s; link %s; retransmits %d (fast %d), "
          "tcp_drop_csum %d" % (SPEC, took, counts,
                                after["tcp_retransmits"] - before["tcp_retransmits"],
                                after["tcp_fast_retransmits"] - before["tcp_fast_retransmits"],
                                after["tcp_drop_csum"] - before["tcp_drop_csum"]))
    assert not any(t.is_alive() for t in threads), "transfer hung\n" + bad.log()[-3000:]
    assert box.get("up") == [str(N), hashlib.sha256(up).hexdigest()]
    assert hashlib.sha256(box.get("down", b"")).hexdigest() == hashlib.sha256(
        pattern(N)).hexdigest()
    assert took < LIMIT_S
    if counts["how"] == "relay":  # the user-space netem: every kind happened
        for kind in ("lost", "duplicated", "reordered", "corrupted"):
            assert counts[kind] > 0, counts
        # corrupted frames toward the stack were caught by a checksum
        assert after["tcp_drop_csum"] > before["tcp_drop_csum"]
