"""The stack on a DHCP network, against Debian's dnsmasq on the Linux side of
the TAP (`python -m host_tools sim --dhcp`), one timeline in order:

lease (READY names it) -> the page at that address -> getaddrinfo through
dnsmasq (host record, CNAME, the name dnsmasq learnt from our option 12) ->
a renewal at T1 -> dnsmasq stopped: rebinding at T2, then the lease runs out
and status() says so -> dnsmasq back: a new lease.

dnsmasq never grants less than two minutes, so the firmware caps the lease it
uses at 24 s (Config.dhcp_lease_max_s; a client may always give an address up
early) to see expiry within the test; T1/T2 (8 s / 14 s) come from dnsmasq's
options 58/59 as they are. RFC 5227 probing is shortened to 200 ms steps.
"""

import os
import re
import time

import pytest

from scenario import Sim

CONFIG = "dhcp_lease_max_s=24,dhcp_probe_ms=200"
STACK_MAC = "02:00:00:00:00:02"
RESOLVE_PORT = 5300


@pytest.fixture(scope="module")
def dsim():
    with Sim("unix_tap", dhcp=True, app_args=["--config", CONFIG]) as s:
        yield s
        # the page renders in the HTTP server's heap-locked step, also while
        # the address and the DHCP state change under it
        assert "serving unlocked" not in s.log(), s.log()[-2000:]


def wait_line(sim, pattern, timeout, start=0):
    """The first log line from index start on that matches pattern (a regex)."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in sim.log_lines[start:]:
            m = rx.search(line)
            if m:
                return m
        time.sleep(0.05)
    raise AssertionError("no log line matching %r within %d s\n%s"
                         % (pattern, timeout, sim.log()[-6000:]))


def resolve(sim, name):
    s = sim.socket()
    try:
        s.settimeout(10)  # the resolver's own schedule is shorter
        s.sendto(name.encode(), (sim.ip, RESOLVE_PORT))
        return s.recvfrom(256)[0].decode()
    finally:
        s.close()


def test_ready_names_the_leased_address_and_the_lease_is_bound(dsim):
    ip = dsim.ip
    assert re.fullmatch(r"192\.0\.2\.1([0-4][0-9]|50)", ip), ip
    wait_line(dsim, r"DHCPACK\(stap0\) %s %s mpy-000002" % (re.escape(ip), STACK_MAC), 5)
    st = dsim.status()
    d = st["dhcp"]
    assert d["state"] in ("BOUND", "RENEWING") and d["server"] == "192.0.2.1"
    assert (d["lease_s"], d["t1_s"], d["t2_s"]) == (24, 8, 14)
    assert d["dns"] == ["192.0.2.1"] and d["hostname"] == "mpy-000002"
    assert 0 < d["lease_left_ms"] <= 24_000
    assert st["net"] == {"status": 5, "ip": ip}  # network.ETH_GOT_IP
    assert st["iface"]["dhcp_drop_options"] == 0 and st["iface"]["dhcp_conflicts"] == 0


def test_the_page_answers_at_the_leased_address(dsim):
    r = dsim.run("curl", "-s", "-m", "5", "-o", "-", "-w", "%{http_code}", "http://%s/" % dsim.ip)
    out = r.stdout.decode()
    assert out.endswith("200"), out
    assert dsim.ip in out  # the page shows the address it was reached at


def test_getaddrinfo_resolves_through_dnsmasq(dsim):
    assert resolve(dsim, "device.test") == "192.0.2.1 80"
    wait_line(dsim, r"query\[A\] device\.test from %s" % re.escape(dsim.ip), 5)
    assert resolve(dsim, "www.device.test") == "192.0.2.1 80"  # a CNAME to device.test
    wait_line(dsim, r"query\[A\] www\.device\.test from", 5)
    # the name dnsmasq registered from our DHCP hostname (option 12)
    assert resolve(dsim, "mpy-000002.test") == "%s 80" % dsim.ip
    assert resolve(dsim, "nowhere.test") == "ERR -2"
    assert resolve(dsim, "device.test") == "192.0.2.1 80"  # from the cache this time
    st = dsim.status()["iface"]
    assert st["dns_cache_hits"] >= 1 and st["dns_rx_nxdomain"] == 1
    assert st["dns_drop_mismatch"] == 0 and st["dns_timeouts"] == 0


def test_renews_at_t1(dsim):
    def renewed():
        return dsim.status()["iface"]["dhcp_renewed"]

    dsim.wait_for(renewed, timeout=15, what="a renewal (T1 = 8 s)")
    # dnsmasq saw the REQUEST from the bound address (RENEWING: unicast, ciaddr set)
    wait_line(dsim, r"DHCPREQUEST\(stap0\) %s %s" % (re.escape(dsim.ip), STACK_MAC), 1)
    assert dsim.status()["dhcp"]["lease_s"] == 24


def test_server_gone_rebinding_then_expiry_shows_in_status(dsim):
    mark = len(dsim.log_lines)
    assert dsim.dhcp_server("stop") == "stopped"
    old = dsim.ip
    wait_line(dsim, r"NET status=5 dhcp=REBINDING ip=%s" % re.escape(old), 20, mark)
    # the lease (24 s from the last ACK) runs out: the address goes, network.LAN's
    # status() says ETH_CONNECTED (3): link up, no address
    wait_line(dsim, r"NET status=3 dhcp=SELECTING ip=0\.0\.0\.0", 30, mark)
    assert dsim.run("ping", "-c", "1", "-W", "1", old).returncode != 0
    assert dsim.alive(), dsim.log()


def test_server_back_gives_a_new_lease(dsim):
    mark = len(dsim.log_lines)
    assert dsim.dhcp_server("start") == "started"
    m = wait_line(dsim, r"NET status=5 dhcp=BOUND ip=(192\.0\.2\.1\d\d)", 30, mark)
    dsim.ip = m.group(1)
    wait_line(dsim, r"DHCPACK\(stap0\) %s %s" % (re.escape(dsim.ip), STACK_MAC), 1, mark)
    assert dsim.run("ping", "-c", "1", "-W", "2", dsim.ip).returncode == 0
    st = dsim.status()
    assert st["dhcp"]["state"] in ("BOUND", "RENEWING")
    assert st["iface"]["dhcp_expired"] == 1 and st["iface"]["dhcp_bound"] == 2
    r = dsim.run("curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                 "http://%s/" % dsim.ip)
    assert r.stdout == b"200"


def test_lease_and_renewals_with_the_heap_locked():
    """The firmware's --heap-lock loop (every iface.poll under
    micropython.heap_lock(), so every DHCP step inside it) through the first
    lease and a renewal against dnsmasq: one allocation would stop it."""
    with Sim("unix_tap", dhcp=True, heap_lock=True, app_args=["--config", CONFIG]) as s:
        s.wait_for(lambda: s.status()["iface"]["dhcp_renewed"] >= 1, timeout=20,
                   what="a renewal (T1 = 8 s)")
        assert s.run("ping", "-c", "2", "-i", "0.2", "-W", "1", s.ip).returncode == 0
        assert s.alive() and "ALLOCATION" not in s.log(), s.log()


def test_nothing_left_behind(dsim):
    """dnsmasq runs in the namespace as the launcher's child; stopping the
    simulator ends it by PID and removes its lease directory."""
    pids = [p for p in _dnsmasq_pids() if _in_netns(p, dsim.netns)]
    assert len(pids) == 1, pids
    lease_dir = os.path.dirname(_arg(pids[0], "--dhcp-leasefile="))
    assert os.path.isdir(lease_dir)
    dsim.stop()
    assert not [p for p in pids if p in _dnsmasq_pids()]
    assert not os.path.exists(lease_dir)


def _dnsmasq_pids():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() == "dnsmasq":
                        out.append(int(d))
            except OSError:
                pass
    return out


def _in_netns(pid, name):
    try:
        return os.stat("/proc/%d/ns/net" % pid).st_ino == os.stat("/var/run/netns/" + name).st_ino
    except OSError:
        return False


def _arg(pid, prefix):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        for a in f.read().split(b"\0"):
            if a.startswith(prefix.encode()):
                return a[len(prefix):].decode()
    raise AssertionError("dnsmasq %d has no %s" % (pid, prefix))
