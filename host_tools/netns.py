"""Network namespaces and TAP devices for the simulator (Linux, needs root or CAP_NET_ADMIN)."""

import ctypes
import fcntl
import os
import struct
import subprocess

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    pass


def can_create():
    """(True, '') if this process may create namespaces and TAPs, else (False, reason)."""
    if os.geteuid() != 0:
        return False, "needs root (or CAP_NET_ADMIN) to create a network namespace and a TAP"
    if not os.path.exists("/dev/net/tun"):
        return False, "/dev/net/tun is missing"
    try:
        subprocess.run(["ip", "-V"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False, "the 'ip' command (iproute2) is missing"
    return True, ""


def ip(*args, netns=None, check=True):
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise NetnsError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


def exists(name):
    return name in ip("netns", "list").stdout.split()


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise NetnsError("setns: %s" % os.strerror(e))


class InNetns:
    """Run the body with this thread inside the named namespace (setns is per
    thread); sockets and TAP fds opened there stay bound to that namespace."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open("/var/run/netns/" + self.name, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc):
        try:
            _setns(self._home)
        finally:
            os.close(self._home)


def open_tap(netns, tap_name):
    """Create TAP tap_name inside netns and return its fd (IFF_TAP | IFF_NO_PI)."""
    with InNetns(netns):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap_name.encode(), IFF_TAP | IFF_NO_PI))
        except OSError:
            os.close(fd)
            raise
    return fd


def create(name, tap_name, host_cidr):
    """Fresh namespace with loopback up and a TAP whose Linux side is host_cidr.
    Returns the TAP fd (the stack's end of the wire)."""
    if exists(name):
        raise NetnsError("network namespace %r already exists (another simulator running? "
                         "remove it with: ip netns del %s)" % (name, name))
    ip("netns", "add", name)
    try:
        ip("link", "set", "lo", "up", netns=name)
        fd = open_tap(name, tap_name)
        ip("addr", "add", host_cidr, "dev", tap_name, netns=name)
        # No IPv6 chatter (router solicitations, MLD) from the Linux side: the
        # stack would only count it as dropped, and tests read those counters.
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw",
                        "net.ipv6.conf.%s.disable_ipv6=1" % tap_name], capture_output=True)
        ip("link", "set", tap_name, "up", netns=name)
    except Exception:
        remove(name)
        raise
    return fd


def remove(name):
    ip("netns", "del", name, check=False)
