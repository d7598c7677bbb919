"""Debian's dnsmasq as the DHCP and DNS server on the Linux side of the
simulator's TAP, inside its namespace (`python -m host_tools sim --dhcp`).

    srv = Dnsmasq(netns, "stap0")
    srv.start()              # addresses 192.0.2.100-150, T1/T2 from options 58/59
    srv.leases()             # [(mac, ip, hostname)] from its lease file
    srv.stop()               # by PID; srv.start() again brings it back, leases kept
    srv.close()              # stopped and its files removed

dnsmasq never grants a lease shorter than two minutes (it raises shorter
ones); T1 and T2 (options 58/59) can be as short as we like, so renewing and
rebinding show within seconds. The scenario test shortens the lease on the
client side instead (Config.dhcp_lease_max_s, docs/dhcp_dns.md).
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HOST_IP = "192.0.2.1"
RANGE = ("192.0.2.100", "192.0.2.150")
LEASE = "2m"  # dnsmasq's floor
T1_S = 8  # after RFC 5227's probing (3-7 s), so the first renewal is a real one
T2_S = 14
DOMAIN = "test"  # DHCP clients' hostnames are answered as NAME.test
LOCAL_TTL_S = 60  # TTL of its own records (host records, DHCP names)
HOST_RECORDS = (("device.test", HOST_IP),)
CNAMES = (("www.device.test", "device.test"),)


class DnsmasqError(RuntimeError):
    pass


def binary():
    """dnsmasq's path, or None (host_tools/bootstrap.sh installs dnsmasq-base)."""
    return shutil.which("dnsmasq", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")


class Dnsmasq:
    def __init__(self, netns, interface, t1_s=T1_S, t2_s=T2_S, lease=LEASE, echo=None):
        self.netns = netns
        self.interface = interface
        self.t1_s = t1_s
        self.t2_s = t2_s
        self.lease = lease
        self._dir = tempfile.mkdtemp(prefix="stack-dnsmasq-")
        self.lease_file = Path(self._dir) / "leases"
        self.proc = None
        self.log_lines = []
        self.echo = echo  # a stream that also gets every log line (the launcher's stderr)

    def command(self):
        exe = binary()
        if exe is None:
            raise DnsmasqError("dnsmasq is not installed (apt-get install dnsmasq-base)")
        cmd = ["ip", "netns", "exec", self.netns, exe,
               "--keep-in-foreground", "--no-daemon",  # stays our child; logs to stderr
               "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
               "--user=root", "--group=root", "--pid-file=",
               "--interface=" + self.interface, "--bind-interfaces", "--except-interface=lo",
               "--dhcp-range=%s,%s,255.255.255.0,%s" % (RANGE[0], RANGE[1], self.lease),
               "--dhcp-option=option:router," + HOST_IP,
               "--dhcp-option=option:dns-server," + HOST_IP,
               "--dhcp-option=58,%d" % self.t1_s, "--dhcp-option=59,%d" % self.t2_s,
               "--dhcp-authoritative", "--dhcp-leasefile=" + str(self.lease_file),
               "--domain=" + DOMAIN, "--local=/%s/" % DOMAIN,
               "--local-ttl=%d" % LOCAL_TTL_S,  # its default, 0, would leave nothing to cache
               "--log-dhcp", "--log-queries", "--log-facility=-"]
        cmd += ["--host-record=%s,%s" % r for r in HOST_RECORDS]
        cmd += ["--cname=%s,%s" % c for c in CNAMES]
        return cmd

    def start(self, timeout_s=10):
        """Start it and wait until it has bound its DHCP socket."""
        if self.running():
            return
        mark = len(self.log_lines)
        # `ip netns exec` execs dnsmasq in place: proc.pid is dnsmasq's own PID.
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DnsmasqError("dnsmasq exited (%d):\n%s" % (
                    self.proc.returncode, "\n".join(self.log_lines[mark:])))
            if any("DHCP, IP range" in ln for ln in self.log_lines[mark:]):
                return
            time.sleep(0.05)
        raise DnsmasqError("dnsmasq did not start within %d s" % timeout_s)

    def _drain(self, stream):
        for line in stream:
            self.log_lines.append(line.rstrip("\n"))
            if self.echo is not None:
                self.echo.write(line)
                self.echo.flush()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stop the server (by its PID); the lease file stays for a restart."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def leases(self):
        """[(mac, ip, hostname)] as dnsmasq's lease file has them now."""
        try:
            text = self.lease_file.read_text()
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            w = line.split()
            if len(w) >= 4:  # expiry mac ip hostname [client-id]
                out.append((w[1], w[2], w[3]))
        return out

    def lease_of(self, mac):
        for m, ip, _ in self.leases():
            if m.lower() == mac.lower():
                return ip
        return None

    def log(self):
        return "\n".join(self.log_lines)
