"""The launcher as a user runs it: READY on stdout, ping works, and SIGINT or
SIGTERM leaves no namespace, TAP or process behind."""

import os
import signal
import subprocess
import sys

import pytest

from scenario import ROOT, fresh_netns_name, require_netns


def netns_exists(name):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return any(line.split()[0] == name for line in out.splitlines() if line.strip())


def _descendants(pid):
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        for k in open("/proc/%d/task/%s/children" % (pid, t)).read().split():
            out += [int(k)] + _descendants(int(k))
    return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return True  # a zombie ("Z") is still there too
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sim_ready_ping_and_clean_stop(sig):
    require_netns()
    ns = fresh_netns_name()
    p = subprocess.Popen([sys.executable, "-m", "host_tools", "sim", "--board", "unix_tap",
                          "--netns", ns, "--no-forward"], cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "READY 192.0.2.2\n"
        r = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "20", "-i", "0.05",
                            "192.0.2.2"], capture_output=True, text=True, timeout=30)
        assert "20 packets transmitted, 20 received" in r.stdout
        assert netns_exists(ns)
        kids = _descendants(p.pid)  # the relay (C: two processes) and the firmware
        assert len(kids) >= 3, kids
        p.send_signal(sig)
        assert p.wait(20) == 0
        assert "(C relay)" in p.stderr.read()  # no impairment: the C relay (build/tapwire)
        assert not netns_exists(ns)
        assert [k for k in kids if _alive(k)] == []  # nothing left behind, no zombie either
    finally:
        if p.poll() is None:
            p.kill()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_sim_refuses_an_existing_namespace():
    require_netns()
    ns = fresh_netns_name()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        r = subprocess.run([sys.executable, "-m", "host_tools", "sim", "--netns", ns,
                            "--no-forward"], cwd=str(ROOT), capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2
        assert "already exists" in r.stderr
        assert r.stdout == ""
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
