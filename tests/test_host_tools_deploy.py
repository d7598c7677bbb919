"""deploy, monitor and `mpremote mip install` end to end against a board made
of the MicroPython unix port on a pseudo-terminal (host_tools/ptyboard.py:
its real REPL and raw REPL, with a soft reset on Ctrl-D), driven through
mpremote as they would drive a W5500-EVB-Pico on /dev/ttyACM0."""

import hashlib
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools.ptyboard import PtyBoard

ROOT = Path(__file__).resolve().parent.parent
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
BOARD = "unix_tap"  # the unix port runs x64 .mpy files


def host_tools(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "host_tools"] + list(args), cwd=str(ROOT),
                          capture_output=True, text=True, timeout=timeout, **kw)


def mpremote(port, *args, timeout=60, prefix=()):
    return subprocess.run(list(prefix) + [MPREMOTE, "connect", port] + list(args),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def pb(tmp_path):
    with PtyBoard(tmp_path / "flash") as b:
        yield b


def deploy(pb, out):
    r = host_tools("deploy", "--board", BOARD, "--port", pb.device, "--out", str(out),
                   "--no-progress")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"(\d+) files? copied \((\d+) bytes\), (\d+) up to date, (\d+) removed", r.stdout)
    assert m, r.stdout
    return [int(x) for x in m.groups()], r.stdout


def test_deploy_then_mpremote_exec_then_a_second_deploy_copies_nothing(pb, tmp_path):
    (copied, size, same, removed), out = deploy(pb, tmp_path / "build")
    built = sorted(p for p in (tmp_path / "build" / BOARD).rglob("*") if p.is_file())
    assert copied == len(built) and same == 0 and removed == 0
    assert size == sum(p.stat().st_size for p in built)
    # what the board holds is the build, byte for byte
    flash = Path(pb.root)
    for p in built:
        rel = p.relative_to(tmp_path / "build" / BOARD)
        assert (flash / rel).read_bytes() == p.read_bytes(), rel
    import stack

    r = mpremote(pb.device, "exec", "import stack; print(stack.__version__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == stack.__version__
    # the .mpy build imports on the board: the stack, the HTTP server, the board file
    r = mpremote(pb.device, "exec", "import stack.iface, firmware.web, board; "
                 "print(stack.iface.__file__, board.CHIP)")
    assert r.stdout.split() == ["/lib/stack/iface.mpy", "tap"], r.stdout + r.stderr
    (copied, size, same, removed), out = deploy(pb, tmp_path / "build")
    assert (copied, size, same, removed) == (0, 0, len(built), 0)


def test_deploy_copies_only_what_differs_and_removes_shadows(pb, tmp_path):
    deploy(pb, tmp_path / "build")
    flash = Path(pb.root)
    (flash / "lib/stack/arp.mpy").write_bytes(b"corrupted")
    (flash / "lib/firmware/page.mpy").unlink()
    (flash / "lib/stack/iface.py").write_text("raise ImportError('a stale source')\n")
    (flash / "board.py").write_text("CHIP = 'shadow'\n")
    (flash / "data.txt").write_text("the user's file\n")
    (copied, size, same, removed), out = deploy(pb, tmp_path / "build")
    assert copied == 2 and removed == 2, out
    assert size == ((tmp_path / "build" / BOARD / "lib/stack/arp.mpy").stat().st_size
                    + (tmp_path / "build" / BOARD / "lib/firmware/page.mpy").stat().st_size)
    assert "removed /board.py" in out and "removed /lib/stack/iface.py" in out
    assert not (flash / "board.py").exists() and not (flash / "lib/stack/iface.py").exists()
    assert (flash / "data.txt").exists()  # outside the deployed folders: left alone
    r = mpremote(pb.device, "exec", "import stack.iface, board; print(board.CHIP)")
    assert r.stdout.strip() == "tap", r.stdout + r.stderr


def test_deploy_errors_are_clear(tmp_path):
    r = host_tools("deploy", "--board", BOARD, "--port", "/dev/ttyNOPE9", "--out",
                   str(tmp_path))
    assert r.returncode == 2
    assert "no port /dev/ttyNOPE9" in r.stderr and "serial ports here" in r.stderr
    r = host_tools("deploy", "--board", "nope", "--port", "/dev/ttyNOPE9")
    assert r.returncode == 2 and "no board 'nope'" in r.stderr
    # a serial port with no MicroPython behind it
    master, slave = os.openpty()
    try:
        t0 = time.monotonic()
        r = host_tools("deploy", "--board", BOARD, "--port", os.ttyname(slave), "--out",
                       str(tmp_path), timeout=60)
        assert r.returncode == 1
        assert "no MicroPython REPL" in r.stderr, r.stderr
        assert time.monotonic() - t0 < 30
    finally:
        os.close(master)
        os.close(slave)


def read_until(fd, pattern, timeout=15):
    seen = b""
    deadline = time.monotonic() + timeout
    while pattern not in seen and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    assert pattern in seen, seen
    return seen


def test_monitor_passes_keys_ctrl_c_and_ctrl_d_to_the_board(pb):
    # the user's terminal is a pty too: monitor puts it in raw mode, as in a shell
    pid, term = pty.fork()
    if pid == 0:
        os.chdir(str(ROOT))
        os.execv(sys.executable, [sys.executable, "-m", "host_tools", "monitor", "--port",
                                  pb.device])
    try:
        read_until(term, b"Ctrl-] or Ctrl-X quits")
        os.write(term, b"\r")
        read_until(term, b">>> ")
        os.write(term, b"print(6 * 7)\r")
        read_until(term, b"42")
        os.write(term, b"while True: pass\r\r")
        time.sleep(0.3)
        os.write(term, b"\x03")  # Ctrl-C reaches the board: the loop stops
        read_until(term, b"KeyboardInterrupt")
        resets = pb.resets
        os.write(term, b"\x04")  # Ctrl-D: the board soft-resets
        read_until(term, b"soft reboot")
        assert pb.resets == resets + 1
        os.write(term, b"print('after', 1 + 1)\r")
        read_until(term, b"after 2")
        os.write(term, b"\x1d")  # Ctrl-]: monitor quits
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(term)


def test_monitor_errors_are_clear():
    r = host_tools("monitor", "--port", "/dev/ttyNOPE9", stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "needs a terminal" in r.stderr


# -- mip: what `mpremote mip install github:OWNER/REPO` does, from a server in a namespace --


@pytest.fixture
def http_checkout():
    """The checkout served over HTTP on 192.0.2.1 inside a fresh namespace
    (what github: URLs resolve to, minus the internet)."""
    from scenario import fresh_netns_name, require_netns

    require_netns()
    ns = fresh_netns_name()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", "192.0.2.1/32", "dev", "lo"], check=True)
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m",
                                   "http.server", "--bind", "192.0.2.1", "--directory",
                                   str(ROOT), "8000"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        from host_tools.netns import InNetns

        deadline = time.monotonic() + 15
        while True:
            with InNetns(ns):
                s = socket.socket()
            try:
                s.connect(("192.0.2.1", 8000))
                break
            except OSError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.1)
            finally:
                s.close()
        yield ns, "http://192.0.2.1:8000/"
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_mip_install_of_the_checkout_then_deploy_replaces_the_sources(pb, http_checkout,
                                                                      tmp_path):
    import json

    import stack

    ns, url = http_checkout
    r = mpremote(pb.device, "mip", "install", url, prefix=["ip", "netns", "exec", ns],
                 timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    flash = Path(pb.root)
    for dest, src in json.loads((ROOT / "package.json").read_text())["urls"]:
        assert (flash / "lib" / dest).read_bytes() == (ROOT / src).read_bytes(), dest
    r = mpremote(pb.device, "exec", "import stack, stack.iface, firmware.web; "
                 "print(stack.__version__, stack.iface.__file__)")
    assert r.stdout.split() == [stack.__version__, "/lib/stack/iface.py"], r.stdout + r.stderr
    # deploy puts the .mpy build in place of the sources (a .py would shadow it)
    (copied, size, same, removed), out = deploy(pb, tmp_path / "build")
    assert removed > 20 and not list((flash / "lib" / "stack").rglob("*.py"))
    r = mpremote(pb.device, "exec", "import stack.iface; print(stack.iface.__file__)")
    assert r.stdout.strip() == "/lib/stack/iface.mpy", r.stdout + r.stderr
    assert hashlib.sha256((flash / "main.py").read_bytes()).digest() == \
        hashlib.sha256((ROOT / "firmware" / "main.py").read_bytes()).digest()
