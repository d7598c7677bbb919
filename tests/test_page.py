"""The "/" page as a user sees it: loaded in headless Chromium inside the
simulator's namespace, its counters move and its rate plot fills from
/stats.json; the whole answer fits one TCP segment and renders without
allocating (with DHCP information too); the link shows up while it serves."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from scenario import ROOT, Sim

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
MSS = 1460  # what Linux and the stack agree on over the TAP (MTU 1500)
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"


def chromium():
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("no chromium (host_tools/bootstrap.sh installs Debian's package as root)")
    return path


@pytest.fixture(scope="module")
def w5500():
    with Sim("sim_w5500") as s:
        s.wait_for(lambda: s.run("curl", "-s", "-o", "/dev/null", "--max-time", "1",
                                 "http://%s/" % s.ip).returncode == 0,
                   timeout=20, what="HTTP on the stack")
        yield s


def browse(sim, *args):
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        r = sim.run(chromium(), *CHROMIUM_FLAGS, "--user-data-dir=" + profile, *args,
                    timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return r.stdout.decode()


def cell(dom, ident):
    m = re.search(r'<td id="%s">\s*([^<]*?)\s*</td>' % ident, dom)
    assert m, "no cell %s in %s" % (ident, dom[:3000])
    return m.group(1)


def test_page_in_chromium_counts_and_plots(w5500):
    url = "http://%s/" % w5500.ip
    before = json.loads(w5500.run("curl", "-s", url + "stats.json").stdout)
    # Virtual time: the page's 1 s timer fires without waiting; network
    # fetches pause virtual time, so each poll completes. 3.5 s: 3 polls.
    dom = browse(w5500, "--virtual-time-budget=3500", "--dump-dom", url)
    assert re.search(r"<title>ustack</title>", dom)
    assert int(cell(dom, "RX")) > before["driver"]["rx_frames"]  # moved since the page loaded
    assert int(cell(dom, "TX")) > before["driver"]["tx_frames"]
    assert 1000 < int(cell(dom, "HF")) < 200_000  # free heap, from /stats.json
    for line in ("P0", "P1"):
        m = re.search(r'<polyline id="%s"[^>]*points="([^"]*)"' % line, dom)
        assert m, dom[:3000]
        points = [p.split(",") for p in m.group(1).split()]
        assert len(points) >= 2, m.group(0)  # a point per poll
        for x, y in points:
            assert 0 <= float(y) <= 60
    assert re.search(r"<td>link</td><td>up\s*</td>", dom)
    assert re.search(r"<td>IP</td><td>192\.0\.2\.2 static</td>", dom)
    # the TCP table has at least the page's own connection
    assert re.search(r'<table id="TC"><tbody><tr><td>(ESTABLISHED|TIME_WAIT|CLOSE_WAIT)', dom)
    (ROOT / "build").mkdir(exist_ok=True)
    shot = ROOT / "build" / "page.png"
    if shot.exists():
        shot.unlink()
    browse(w5500, "--virtual-time-budget=3500", "--window-size=800,700",
           "--screenshot=" + str(shot), url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000


def test_root_answer_fits_one_segment_and_keeps_its_length(w5500):
    sizes = set()
    for _ in range(3):
        r = w5500.run("curl", "-s", "-i", "http://%s/" % w5500.ip)
        head, body = r.stdout.split(b"\r\n\r\n", 1)
        assert int(re.search(rb"Content-Length: (\d+)", head).group(1)) == len(body)
        sizes.add(len(r.stdout))
    assert len(sizes) == 1  # ab and wrk see one length
    assert sizes.pop() <= MSS - 30  # room for a DHCP address line (the test below)
    # and it leaves in one segment (one write: a second would go out on its own)
    if not shutil.which("tcpdump"):
        pytest.skip("no tcpdump")
    dump = w5500.popen("tcpdump", "-n", "-l", "-i", w5500.tap, "-c", "40",
                       "src host %s and tcp src port 80" % w5500.ip,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1)
        w5500.run("curl", "-s", "-o", "/dev/null", "http://%s/" % w5500.ip)
        time.sleep(0.5)
    finally:
        dump.terminate()
    data = [int(x) for x in re.findall(r"length (\d+)", dump.communicate(timeout=10)[0])]
    assert [n for n in data if n > 0] == [len(r.stdout)], data


def test_stats_json_says_how_the_address_was_obtained(w5500):
    doc = json.loads(w5500.run("curl", "-s", "http://%s/stats.json" % w5500.ip).stdout)
    assert doc["address"] == "192.0.2.2 static"
    assert doc["link"] is True


_DHCP_RENDER = """
import sys, gc, micropython
sys.path.insert(0, %r)
from firmware import page

class Lease:
    server = bytearray(b"\\xc0\\x00\\x02\\x01")
    def state_name(self):
        return "bound"
    def lease_left_ms(self, now_ms):
        return 3599000

class Info(page.HostInfo):
    def dhcp(self):
        return LEASE

class Server:
    stats = {"requests": 0}

LEASE = Lease()
info = Info(b"192.0.2.150")
srv = Server()
buf = bytearray(768)
n = page.render_status(buf, 0, info, srv)
micropython.heap_lock()
try:
    for i in range(3):
        n = page.render_status(buf, 0, info, srv)
finally:
    micropython.heap_unlock()
print("LEN", n, len(page.TAIL))
print(bytes(buf[:n]).decode())
print("JSON", page.address_text(info))
"""


def test_dhcp_address_renders_without_allocating_and_fits():
    if not MICROPYTHON.exists():
        pytest.skip("no MicroPython unix port in .venv")
    r = subprocess.run([str(MICROPYTHON), "-c", _DHCP_RENDER % str(ROOT)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr  # a MemoryError here is an allocation
    m = re.search(r"LEN (\d+) (\d+)", r.stdout)
    page_len = int(m.group(1)) + int(m.group(2))
    assert "<td>IP<td>192.0.2.150 DHCP bound, 3599 s left<tr>" in r.stdout
    assert "JSON 192.0.2.150 DHCP bound, 3599 s left, server 192.0.2.1" in r.stdout
    head = len(b"HTTP/1.1 200 OK\r\nServer: ustack\r\nContent-Type: text/html; charset=utf-8\r\n"
               b"Content-Length: 1234      \r\nConnection: keep-alive\r\n\r\n")
    assert head + page_len <= MSS


class _Driver:
    mac = b"\x02\x00\x00\x00\x00\x02"

    def __init__(self):
        self.stats = {"rx_frames": 0, "tx_frames": 0}
        self.up = False

    def link_up(self):
        return self.up


class _Iface:
    def __init__(self):
        self.driver = _Driver()
        self.ip = bytearray(b"\xc0\x00\x02\x02")
        self.stats = {}


def test_link_is_up_while_frames_arrive_even_if_the_phy_says_not_yet():
    from firmware import page

    iface = _Iface()
    info = page.StackInfo(iface)
    iface.driver.stats["rx_frames"] = 7  # the request that asks for the page came in
    assert info.link() is True
    assert info.link() is False  # nothing arrived since, and the PHY says down
    iface.driver.stats["rx_frames"] = 9
    assert info.link() is True
    iface.driver.up = True
    assert info.link() is True and info.link() is True
