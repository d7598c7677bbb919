"""host_tools test --ip against the simulator: every check passes against a
healthy stack, and a check fails (with the reason) when the board does not
answer it."""

import re
import subprocess
import sys

import pytest

from scenario import ROOT, Sim


def host_tools_in(sim, *args):
    """python -m host_tools ARGS inside the simulator's namespace."""
    return sim.run("env", "PYTHONPATH=" + str(ROOT), sys.executable, "-m", "host_tools", *args,
                   timeout=240)


def nettest(sim, ip):
    return host_tools_in(sim, "test", "--ip", ip)


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


def test_port_reads_the_address_from_the_console_then_checks_it(w5500, tmp_path):
    """--port: the console part against a pty board (the unix port's REPL; its
    /main.py prints the line firmware/main.py prints once its interface is
    up), the network part against the simulated board at that address."""
    from host_tools.ptyboard import PtyBoard

    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text("print('HEAP used=1 free=2')\nprint('IP %s')\n" % w5500.ip)
    with PtyBoard(flash, run_main=True) as pb:
        r = host_tools_in(w5500, "test", "--port", pb.device)
        resets = pb.resets
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, out + err
    assert "the board on %s is at %s" % (pb.device, w5500.ip) in err
    assert resets == 1  # test soft-reset the board to read its start-up lines
    assert "result: 6 of 6 checks passed" in out
