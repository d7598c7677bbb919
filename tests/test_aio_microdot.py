"""Unmodified asyncio web code through stack.aio: the PyPI `microdot` package
runs on the MicroPython unix port with `asyncio.start_server` pointed at
`stack.aio.start_server`, our stack underneath on the simulator's TAP, and
Linux's curl/ab as the clients. microdot's source comes from the venv's
site-packages on MICROPYPATH at test time (it is not part of this repo)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MPY = ROOT / ".venv" / "bin" / "micropython"
HEAP = "256wK"  # microdot itself is ~1400 lines compiled on the device


def _microdot_dir():
    for p in sorted((ROOT / ".venv" / "lib").glob("python*/site-packages")):
        if (p / "microdot" / "microdot.py").exists():
            return p
    return None


SITE = _microdot_dir()
pytestmark = pytest.mark.skipif(SITE is None or not MPY.exists(),
                                reason="needs microdot in .venv and the unix port")

APP = r'''
import gc
import sys
import asyncio

from microdot import Microdot  # unmodified, from site-packages

from firmware import main as fw
from stack import aio
from stack.tcp import TCP

gc.collect()  # compile first, then allocate the stack's buffers
iface = fw.start({"board": "unix_tap", "fd": int(sys.argv[1])})
TCP(iface, iface.cfg)
aio.attach(iface)
asyncio.start_server = aio.start_server  # the one change to the application

app = Microdot()


@app.route("/")
async def index(request):
    return "hello from microdot on ustack"


@app.route("/json")
async def as_json(request):
    return {"peer": request.client_addr[0], "n": 42}


@app.route("/echo", methods=["POST"])
async def echo(request):
    return request.body


print("APP READY")
app.run(host="0.0.0.0", port=80)
'''


class AppSim:
    """A MicroPython script (text) on the unix port with our stack on a fresh
    namespace's TAP (via host_tools.tapwire.Relay); argv[1] is the wire fd.
    wait_http: return once http://192.0.2.2/ answers."""

    def __init__(self, tmp_path, script=APP, heap=HEAP, wait_http=True):
        sys.path.insert(0, str(ROOT))
        from host_tools import netns as nsmod
        from host_tools.tapwire import Relay
        from scenario import fresh_netns_name, require_netns

        require_netns()
        self.netns = fresh_netns_name()
        fd = nsmod.create(self.netns, "stap0", "192.0.2.1/24")
        self.relay = Relay(fd)
        self.relay.start()
        path = tmp_path / "app.py"
        path.write_text(script)
        env = dict(os.environ, MICROPYPATH=".frozen:%s:%s" % (ROOT, SITE))
        self.log = open(tmp_path / "app.log", "w+")
        self.proc = subprocess.Popen(
            [str(MPY), "-X", "heapsize=" + heap, str(path), str(self.relay.child_fd)],
            pass_fds=(self.relay.child_fd,), env=env, cwd=str(ROOT), stdout=self.log,
            stderr=subprocess.STDOUT)
        self.relay.close_child_end()
        deadline = time.monotonic() + 20
        while wait_http and self.run("curl", "-s", "-o", "/dev/null", "--max-time", "1",
                       "http://192.0.2.2/").returncode != 0:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.output()

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def run(self, *cmd, timeout=60, input=None):
        return subprocess.run(["ip", "netns", "exec", self.netns] + list(cmd),
                              capture_output=True, timeout=timeout, input=input)

    def stop(self):
        from host_tools import netns as nsmod

        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.relay.stop()
        nsmod.remove(self.netns)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    s = AppSim(tmp_path_factory.mktemp("aio"))
    try:
        yield s
        assert s.proc.poll() is None, s.output()
    finally:
        s.stop()


def test_microdot_serves_text(app):
    r = app.run("curl", "-s", "-i", "--max-time", "10", "http://192.0.2.2/")
    assert r.stdout.startswith(b"HTTP/1.0 200 OK"), r.stdout + app.output().encode()
    assert r.stdout.endswith(b"hello from microdot on ustack")


def test_microdot_json_sees_the_peer_address(app):
    r = app.run("curl", "-s", "--max-time", "10", "http://192.0.2.2/json")
    assert json.loads(r.stdout) == {"peer": "192.0.2.1", "n": 42}


def test_microdot_post_body_round_trip(app):
    body = bytes(range(256)) * 12  # 3 KB: more than one segment and than the rings
    r = app.run("curl", "-s", "--max-time", "10", "--data-binary", "@-",
                "-H", "Content-Type: application/octet-stream",
                "http://192.0.2.2/echo", input=body)
    assert r.stdout == body


def test_microdot_404(app):
    r = app.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                "http://192.0.2.2/missing")
    assert r.stdout == b"404"


@pytest.mark.skipif(not shutil.which("ab"), reason="ab not installed")
def test_microdot_under_ab(app):
    r = app.run("ab", "-q", "-n", "200", "-c", "2", "http://192.0.2.2/", timeout=120)
    out = r.stdout.decode() + r.stderr.decode()
    assert "Complete requests:      200" in out, out + app.output()
    assert "Failed requests:        0" in out, out
