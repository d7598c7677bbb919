"""host_tools test --ip against the simulator: every check passes against a
healthy stack, and a check fails (with the reason) when the board does not
answer it."""

import re
import subprocess
import sys

import pytest

from scenario import ROOT, Sim


def nettest(sim, ip):
    return sim.run(sys.executable, "-m", "host_tools", "test", "--ip", ip, timeout=240)


@pytest.fixture(scope="module")
def w5500():
    with Sim("sim_w5500") as s:
        s.wait_for(lambda: s.run("curl", "-s", "-o", "/dev/null", "--max-time", "1",
                                 "http://%s/" % s.ip).returncode == 0,
                   timeout=20, what="HTTP on the stack")
        yield s


def test_every_check_passes_against_the_simulated_w5500_board(w5500):
    r = nettest(w5500, w5500.ip)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    rows = dict(re.findall(r"^(ARP|ping|UDP echo|page|1 MB down|1 MB up)\s+(pass|FAIL)", out,
                           re.M))
    assert rows == {k: "pass" for k in ("ARP", "ping", "UDP echo", "page", "1 MB down",
                                        "1 MB up")}, out
    assert "is at 02:00:00:00:00:02" in out
    assert "POST /sink 1048576 B, the board counted 1048576" in out
    assert "GET /bulk 1048576 of 1048576 B," in out
    assert "result: 6 of 6 checks passed" in out


def test_an_address_with_no_board_fails_every_check(w5500):
    r = nettest(w5500, "192.0.2.77")
    out = r.stdout.decode()
    assert r.returncode == 1
    assert re.search(r"^ARP\s+FAIL\s+no ARP answer from 192.0.2.77", out, re.M), out
    assert re.search(r"^ping\s+FAIL\s+0/5 replies", out, re.M), out
    assert re.search(r"^1 MB up\s+FAIL\s+not run: 192.0.2.77 answers neither ARP nor ping", out,
                     re.M), out
    assert "result: 0 of 6 checks passed" in out


def test_usage_errors():
    for args in ([], ["--ip", "192.0.2.2", "--port", "/dev/ttyACM0"]):
        r = subprocess.run([sys.executable, "-m", "host_tools", "test"] + args, cwd=str(ROOT),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "give one of --ip and --port" in r.stderr
    r = subprocess.run([sys.executable, "-m", "host_tools", "test", "--ip", "nope"],
                       cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not an IPv4 address" in r.stderr
    r = subprocess.run([sys.executable, "-m", "host_tools", "test", "--port", "/dev/ttyNOPE9"],
                       cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no port /dev/ttyNOPE9" in r.stderr
