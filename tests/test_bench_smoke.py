"""Smoke tests of the benchmark harness (bench/), not benchmarks: the parsers
read the client tools' real output formats, the deterministic workload runs
on both Pythons, and the lwIP baseline builds and serves exact bytes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scenario import require_netns

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import callgrind, compare, tcp_work  # noqa: E402

WRK = """Running 5s test @ http://192.0.2.2/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   457.90us  102.11us   3.01ms   93.41%
    Req/Sec     2.18k    95.21     2.33k    78.00%
  10851 requests in 5.00s, 6.53MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:   2170.19
Transfer/sec:      1.31MB
"""

AB = """Complete requests:      2000
Failed requests:        0
Non-2xx responses:      4
Requests per second:    741.33 [#/sec] (mean)
"""

PING = """PING 192.0.2.2 (192.0.2.2) 56(84) bytes of data.
64 bytes from 192.0.2.2: icmp_seq=1 ttl=64 time=0.420 ms
64 bytes from 192.0.2.2: icmp_seq=2 ttl=64 time=0.400 ms
64 bytes from 192.0.2.2: icmp_seq=3 ttl=64 time=1.90 ms

--- 192.0.2.2 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 31ms
"""


def test_parsers_read_the_tools_output():
    assert compare.parse_wrk(WRK) == (2170.19, "Socket errors: connect 0, read 0, write 0, "
                                               "timeout 2; 3 non-2xx")
    assert compare.parse_wrk("Requests/sec: 10.5\n") == (10.5, "")
    assert compare.parse_ab(AB) == (741.33, "4 non-2xx")
    assert compare.parse_ab("") == (0.0, "incomplete")
    rtt, err = compare.parse_ping(PING)
    assert rtt == pytest.approx(420.0) and err == "3 of 4 replies"
    assert compare.parse_curl("10000000 4.000", 10_000_000) == (2.5, "")
    assert compare.parse_curl("99 1.0", 100)[1] == "99 of 100 bytes"
    assert callgrind.parse_result("x\nRESULT mode=rx rounds=5 bytes=7300\n") == {
        "mode": "rx", "rounds": 5, "bytes": 7300}
    assert callgrind._REFS.search("==1== I   refs:      147,676,300").group(1) == "147,676,300"


@pytest.mark.parametrize("mode", ["rx", "tx", "http", "peer-rx"])
def test_workload_runs_on_cpython(mode):
    import stack.socket as ssock

    clock_before, iface_before = ssock.ticks_ms, ssock._iface
    res = tcp_work.run(mode, 5, warm=3)
    # the fake clock and interface must not outlive the run (later tests wait on ticks_ms)
    assert ssock.ticks_ms is clock_before and ssock._iface is iface_before
    assert res["rounds"] == 5
    if mode in ("rx", "tx"):
        assert res["bytes"] == 5 * tcp_work.MSS and res["full_segs"] == 5
    if mode == "http":
        assert res["requests"] == 5 and res["response_bytes"] > 0


def test_workload_runs_on_micropython():
    r = subprocess.run([str(Path(sys.executable).parent / "micropython"), "-X", "heapsize=1M",
                        str(ROOT / "bench" / "tcp_work.py"), "http", "5", "3"],
                       env=dict(os.environ, MICROPYPATH=str(ROOT)), capture_output=True,
                       text=True, timeout=60)
    res = callgrind.parse_result(r.stdout)
    assert res is not None, r.stdout + r.stderr
    assert res["requests"] == 5


def test_lwip_baseline_builds_and_serves_exact_bytes():
    require_netns()
    from bench import lwip

    lwip.build()
    t = lwip.Lwip("t%d" % (os.getpid() % 100000))
    t.start()
    try:
        def get(path):
            r = subprocess.run(["ip", "netns", "exec", t.netns, "curl", "-s", "--max-time", "5",
                                "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                "http://%s%s" % (compare.SERVER_IP, path)],
                               capture_output=True, text=True, timeout=20)
            return r.stdout

        assert get("/") == "200 1024"
        assert get("/bulk?n=1000003") == "200 1000003"
        assert get("/nothing") == "404 0"
    finally:
        t.stop()
