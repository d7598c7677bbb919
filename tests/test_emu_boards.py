"""The firmware on the emulated RP2040 (docs/emulator.md): the stack port in
rp2040js, the chip models on its SPI bus, Linux in a namespace as the peer,
started as a user starts it: `python -m host_tools sim --board emu_...`.
The emulator runs several times slower than a chip, so the transfers are
sized to keep this file within a few minutes."""

import os
import signal
import subprocess
import sys
import tempfile

import pytest

from scenario import ROOT, fresh_netns_name, require_netns

STACK = "192.0.2.2"
BULK = 100 * 1024  # bytes each way over TCP


class EmuBoard:
    def __init__(self, board):
        self.board = board
        self.ns = fresh_netns_name()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "host_tools", "sim", "--board", self.board, "--netns",
             self.ns, "--no-forward"], cwd=str(ROOT), stdout=subprocess.PIPE,
            stderr=open(os.path.join(tempfile.gettempdir(), "emu-%s.log" % self.ns), "w"),
            text=True)
        line = self.proc.stdout.readline()
        if line != "READY %s\n" % STACK:
            self.stop()
            pytest.fail("%s did not start: %r; log: %s" % (self.board, line, self.log()))
        return self

    def log(self):
        with open(os.path.join(tempfile.gettempdir(), "emu-%s.log" % self.ns)) as f:
            return f.read()[-3000:]

    def run(self, *cmd, timeout=120, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(cmd), capture_output=True,
                              timeout=timeout, **kw)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None


def netns_exists(name):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return any(line.split()[0] == name for line in out.splitlines() if line.strip())


def runner_pids():
    r = subprocess.run(["pgrep", "-f", str(ROOT / "host_tools" / "emu" / "runner.mjs")],
                       capture_output=True, text=True)
    return set(r.stdout.split())


@pytest.fixture(scope="module")
def w5500():
    require_netns()
    b = EmuBoard("emu_rp2040_w5500").start()
    yield b
    b.stop()


def test_w5500_ping_20_of_20(w5500):
    r = w5500.run("ping", "-c", "20", "-i", "0.2", "-W", "2", STACK, text=True)
    assert "20 packets transmitted, 20 received" in r.stdout, r.stdout + w5500.log()


UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for i in range(10):
    msg = bytes((i + k) % 256 for k in range(100 + 100 * i))
    s.sendto(msg, ("192.0.2.2", 7))
    got, addr = s.recvfrom(2048)
    assert got == msg, (i, len(got))
print("ECHO OK")
"""


def test_w5500_udp_echo(w5500):
    r = w5500.run(sys.executable, "-c", UDP_ECHO, text=True, timeout=120)
    assert "ECHO OK" in r.stdout, r.stdout + r.stderr


def test_w5500_page_by_curl(w5500):
    r = w5500.run("curl", "-s", "-m", "60", "-o", "-", "-w", "%{http_code}",
                  "http://%s/" % STACK, text=True)
    assert r.stdout.endswith("200"), r.stdout
    assert "<title>ustack</title>" in r.stdout


def test_w5500_100kb_each_way_exact(w5500):
    # stack -> Linux: /bulk?n=N is exactly N bytes, byte i = "a" + i % 26
    r = w5500.run("curl", "-s", "-m", "240", "http://%s/bulk?n=%d" % (STACK, BULK), timeout=250)
    assert r.returncode == 0, r.stderr
    body = r.stdout
    assert len(body) == BULK
    assert body == bytes(97 + i % 26 for i in range(BULK))
    # Linux -> stack: /sink reads the whole body and answers the count it got
    with tempfile.NamedTemporaryFile() as f:
        f.write(os.urandom(BULK))
        f.flush()
        r = w5500.run("curl", "-s", "-m", "240", "--data-binary", "@" + f.name,
                      "http://%s/sink" % STACK, text=True, timeout=250)
    assert r.returncode == 0, r.stderr
    assert str(BULK) in r.stdout, r.stdout


def test_enc28j60_ping_and_page_then_clean_stop():
    require_netns()
    before = runner_pids()
    b = EmuBoard("emu_rp2040_enc28j60").start()
    try:
        r = b.run("ping", "-c", "5", "-i", "0.2", "-W", "2", STACK, text=True)
        assert "5 packets transmitted, 5 received" in r.stdout, r.stdout + b.log()
        r = b.run("curl", "-s", "-m", "60", "http://%s/" % STACK, text=True)
        assert "<title>ustack</title>" in r.stdout, r.stdout + b.log()
    finally:
        rc = b.stop()
    assert rc == 0  # Ctrl-C: a clean stop
    assert not netns_exists(b.ns)
    assert runner_pids() <= before  # no emulator left behind
