# Network-configuration helpers for the firmware when it runs DHCP
# (firmware/main.py --dhcp, or DHCP = True in the board file):
#   NetWatch  prints a line when the address or network.LAN's status changes
#             (the launcher and the tests read it), and adds the DHCP lease to
#             the status service's JSON;
#   Resolve   a UDP service (port 5300): a datagram holding a name is answered
#             with "IP PORT" from stack.socket.getaddrinfo(name, 80), or
#             "ERR <errno>". A bench and test aid: it blocks the loop while
#             the name resolves (at most the resolver's retry schedule).
from micropython import const

from stack.wire import ip4

RESOLVE_PORT = const(5300)


class NetWatch:
    def __init__(self, nic):
        self.nic = nic
        self._ip = bytearray(4)
        self._status = -1
        self._state = -1

    def poll(self, now_ms):
        """Print 'NET <status> <dhcp state> <address>' when one of them changed."""
        iface = self.nic.iface
        d = iface.dhcp
        state = d.state() if d is not None else -1
        if state == self._state and iface.ip == self._ip:
            return
        self._state = state
        self._ip[:] = iface.ip
        st = self.nic.status()
        print(
            "NET status=%d dhcp=%s ip=%s"
            % (st, d.state_name() if d is not None else "off", ip4.format_addr(iface.ip))
        )

    def status_extra(self):
        """The lease for the status service's JSON."""
        from stack.clock import ticks_ms

        iface = self.nic.iface
        d = iface.dhcp
        out = {"net": {"status": self.nic.status(), "ip": ip4.format_addr(iface.ip)}}
        if d is not None:
            out["dhcp"] = {
                "state": d.state_name(),
                "lease_left_ms": d.lease_left_ms(ticks_ms()),
                "server": ip4.format_addr(d.server),
                "lease_s": d.lease_s,
                "t1_s": d.t1_s,
                "t2_s": d.t2_s,
                "dns": [ip4.format_addr(d.dns, 4 * i) for i in range(d.dns_count)],
                "hostname": d.hostname(),
            }
        return out


class Resolve:
    def __init__(self, iface):
        self._sock = iface.udp.socket()
        self._sock.bind(RESOLVE_PORT)
        self._buf = bytearray(256)
        self._addr = bytearray(6)

    def pending(self):
        return self._sock.pending() >= 0

    def poll(self, now_ms):
        from stack import socket

        while True:
            n = self._sock.recv_into_from(self._buf, self._addr)
            if n < 0:
                return
            name = bytes(self._buf[:n]).decode().strip()
            try:
                ip, port = socket.getaddrinfo(name, 80)[0][-1]
                reply = ("%s %d" % (ip, port)).encode()
            except OSError as e:
                reply = ("ERR %d" % e.args[0]).encode()
            except UnicodeError:
                reply = b"ERR -2"
            a = self._addr
            self._sock.sendto(reply, 0, len(reply), a, 0, (a[4] << 8) | a[5])
