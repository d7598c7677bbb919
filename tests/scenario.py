"""The scenario fixture every stack-vs-Linux test reuses: start the simulator on
a board in a fresh namespace, yield where it is, tear everything down.

    with Sim("unix_tap") as sim:      # or the `sim` fixture, parametrized by board
        sim.run("ping", "-c", "3", sim.ip)
        sim.status()["iface"]["rx_frames"]
"""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_tools import netns as nsmod  # noqa: E402
from host_tools.netns import InNetns  # noqa: E402

STATUS_PORT = 9999
LATE_S = 30  # more time for a launcher answer, after its stacks are asked for
ALL_BOARDS = ("unix_tap", "sim_enc28j60", "sim_w5500")


def boards():
    """The simulated boards this checkout has (chip models land separately)."""
    return [b for b in ALL_BOARDS if (ROOT / "boards" / (b + ".py")).exists()]


def require_netns():
    """Skip with the reason when namespaces can't be made here; under CI=true
    that is a failure instead, because CI must run every scenario."""
    ok, why = nsmod.can_create()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail("scenario tests must run in CI, but: " + why)
        pytest.skip(why)


_counter = [0]


def fresh_netns_name():
    _counter[0] += 1
    return "sts%d_%d" % (os.getpid() % 100000, _counter[0])


class Counters(dict):
    """Counters by name; one the stack did not report is 0."""

    def __missing__(self, key):
        return 0


class Sim:
    def __init__(self, board, netns=None, heap_lock=False, heapsize="64wK", forward=None,
                 impair=None, app="main", app_args=(), dhcp=False, pcap=None):
        self.board = board
        self.impair_spec = impair
        self.pcap = pcap  # a path: the launcher's --pcap
        self.app = app
        self.app_args = list(app_args)
        self.replies = queue.Queue()  # command answers from the launcher's stdout
        self.netns = netns or fresh_netns_name()
        self.heap_lock = heap_lock
        self.heapsize = heapsize
        self.forward = forward
        self.dhcp = dhcp  # dnsmasq on the Linux side; self.ip is then the leased address
        self.ip = "192.0.2.2"
        self.host_ip = "192.0.2.1"
        self.tap = "stap0"
        self.proc = None
        self.log_lines = []
        self.ready_lines = []

    def __enter__(self):
        require_netns()
        cmd = [sys.executable, "-m", "host_tools", "sim", "--board", self.board,
               "--netns", self.netns, "--heapsize", self.heapsize]
        cmd += ["--forward", self.forward] if self.forward else ["--no-forward"]
        if self.heap_lock:
            cmd.append("--heap-lock")
        if self.impair_spec:
            cmd += ["--impair", self.impair_spec]
        if self.pcap:
            cmd += ["--pcap", str(self.pcap)]
        if self.dhcp:
            cmd.append("--dhcp")
        cmd += ["--app", self.app, "--commands"]
        if self.app_args:
            cmd += ["--"] + self.app_args
        self.proc = subprocess.Popen(cmd, cwd=str(ROOT), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        line = self.proc.stdout.readline()  # READY or EOF when it failed
        if not line.startswith("READY "):
            self.proc.wait(10)
            raise RuntimeError("simulator did not start (board %s): %r\n%s"
                               % (self.board, line, self.log()))
        self.ready_lines.append(line.strip())
        self.ip = line.split()[1]
        if self.forward:
            self.ready_lines.append(self.proc.stdout.readline().strip())
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.replies),
                         daemon=True).start()
        return self

    def _drain(self, stream, replies=None):
        for line in stream:
            self.log_lines.append(line.rstrip("\n"))
            if replies is not None:
                replies.put(line.strip())

    def impair_counts(self):
        """{'how': 'tc'|'relay'|'off', 'lost': N, ...} of the impairment so far."""
        self.proc.stdin.write("impair-counts\n")
        self.proc.stdin.flush()
        answer = self._reply("impair-counts", 10)
        if not answer.startswith("IMPAIRCOUNTS "):
            raise AssertionError("launcher: " + answer)
        return json.loads(answer[len("IMPAIRCOUNTS "):])

    def impair(self, spec):
        """A bad link from now on, by tc netem's spec; None or "off" ends it.
        Returns how: "tc" (the kernel's netem on the TAP) or "relay (...)"."""
        self.proc.stdin.write("impair %s\n" % (spec or "off"))
        self.proc.stdin.flush()
        answer = self._reply("impair", 10)
        if not answer.startswith("IMPAIR "):
            raise AssertionError("launcher: " + answer)
        return answer[len("IMPAIR "):]

    def dhcp_server(self, what):
        """Stop or start the simulator's dnsmasq ("stop" / "start")."""
        self.proc.stdin.write("dhcp-server %s\n" % what)
        self.proc.stdin.flush()
        answer = self.replies.get(timeout=15)
        if not answer.startswith("DHCPSERVER "):
            raise AssertionError("launcher: " + answer)
        return answer.split()[1]

    def _reply(self, what, timeout):
        """The launcher's answer to a command. Twice (once in 800 tests) a
        running launcher has not answered within 10 s, cause unknown: then
        it is asked for its threads' stacks (faulthandler on SIGUSR1, see
        host_tools/sim.py) and given LATE_S more. A late answer is a warning
        with those stacks (pytest's summary shows it); none is a failure."""
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            pass
        t0 = time.monotonic()
        if self.alive():
            os.kill(self.proc.pid, signal.SIGUSR1)
        try:
            answer = self.replies.get(timeout=LATE_S)
        except queue.Empty:
            raise AssertionError("launcher: no answer to %r in %d s (launcher %s)\n%s" % (
                what, timeout + LATE_S,
                "running" if self.alive() else "exited %s" % self.proc.poll(),
                "\n".join(self.log_lines[-80:])))
        time.sleep(0.5)  # the rest of the stack dump
        warnings.warn("launcher answered %r only %.1f s after %d s; its threads then:\n%s" % (
            what, time.monotonic() - t0, timeout, "\n".join(self.log_lines[-60:])))
        return answer

    def log(self):
        return "\n".join(self.log_lines)

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        nsmod.remove(self.netns)

    def alive(self):
        return self.proc.poll() is None

    # -- acting inside the namespace ---------------------------------------

    def run(self, *cmd, timeout=60, input=None, check=False):
        """Run a Linux command inside the namespace; returns CompletedProcess."""
        return subprocess.run(["ip", "netns", "exec", self.netns] + list(cmd),
                              capture_output=True, timeout=timeout, input=input, check=check)

    def popen(self, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.netns] + list(cmd), **kw)

    def socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0):
        """A socket that lives in the namespace (usable from this process)."""
        with InNetns(self.netns):
            return socket.socket(family, type, proto)

    def raw_link(self):
        """An AF_PACKET socket on the Linux side of the TAP, for crafted frames."""
        s = self.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # ETH_P_ALL
        s.bind((self.tap, 0))
        return s

    def host_mac(self):
        out = self.run("cat", "/sys/class/net/%s/address" % self.tap, check=True).stdout
        return bytes.fromhex(out.decode().strip().replace(":", ""))

    def stack_mac(self):
        """The stack's MAC as Linux learnt it (ARP)."""
        self.run("ping", "-c", "1", "-W", "1", self.ip)
        out = self.run("ip", "neigh", "show", self.ip).stdout.decode().split()
        return bytes.fromhex(out[out.index("lladdr") + 1].replace(":", ""))

    def status(self, timeout=3.0):
        """The stack's counters, from its UDP status service."""
        s = self.socket()
        try:
            s.settimeout(timeout)
            for _ in range(3):
                s.sendto(b"?", (self.ip, STATUS_PORT))
                try:
                    data, _ = s.recvfrom(65535)
                    doc = json.loads(data)
                    # the service leaves zero counters out
                    for section in ("iface", "driver"):
                        doc[section] = Counters(doc.get(section, {}))
                    return doc
                except socket.timeout:
                    continue
            raise AssertionError("no status reply from the stack\n" + self.log())
        finally:
            s.close()

    def wait_for(self, predicate, timeout=5.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for " + what)
