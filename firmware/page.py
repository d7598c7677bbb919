# What the HTTP server shows: the "/" status page (rendered into the caller's
# buffer without allocating) and /stats.json (json.dumps: allocates, by design).
#
# An "info" object answers for the device: HostInfo when the server runs on the
# unix port's kernel sockets (the baseline), StackInfo over our Interface.
import gc
import json
from micropython import const

from stack.clock import ticks_diff, ticks_ms

_ROW_MAX = const(8)


def put(buf, pos, data):
    """Copy bytes `data` into buf at pos; returns the new pos (clipped at the end)."""
    n = len(data)
    if pos + n > len(buf):
        n = len(buf) - pos
    buf[pos : pos + n] = data  # slice store: no heap object in MicroPython
    return pos + n


def put_int(buf, pos, v):
    """Write the decimal digits of v >= 0 at pos without allocating; returns the new pos."""
    if v < 0:
        v = 0
    d = 1
    while d * 10 <= v:
        d *= 10
    while d and pos < len(buf):
        q = v // d
        buf[pos] = 48 + q
        v -= q * d
        d //= 10
        pos += 1
    return pos


def _put_num(buf, pos, v):
    """v in a fixed 10-character field (digits, then spaces): the page keeps one
    length while counters grow, which load tools such as ab check."""
    e = put_int(buf, pos, v)
    while e < pos + 10 and e < len(buf):
        buf[e] = 32
        e += 1
    return e


def _dotted(ip):
    return ("%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])).encode()


def _mac_text(mac):
    return (":".join("%02x" % b for b in mac)).encode()


class HostInfo:
    """The unix port on kernel sockets: no interface of our own to describe."""

    def __init__(self, ip=b"127.0.0.1"):
        self._t0 = ticks_ms()
        self.ip_text = ip
        self.mac_text = b"-"
        # (label bytes, counters dict, key): read when the page renders
        self.rows = ()

    def uptime_ms(self):
        return ticks_diff(ticks_ms(), self._t0)

    def link(self):
        return True

    def stats(self):
        return {}

    def connections(self):
        return []


class StackInfo:
    """Our stack: an Interface with a driver and (once it exists) a TCP engine."""

    def __init__(self, iface):
        self._iface = iface
        self._t0 = ticks_ms()
        self._ip = bytearray(4)
        self.ip_text = b""
        self.mac_text = _mac_text(iface.driver.mac)
        d = iface.driver.stats
        s = iface.stats
        rows = []
        for label, src, key in (
            (b"rx frames", d, "rx_frames"),
            (b"tx frames", d, "tx_frames"),
        ):
            if key in src:
                rows.append((label, src, key))
        self.rows = tuple(rows[:_ROW_MAX])
        self._stats = s
        self._refresh_ip()

    def _refresh_ip(self):
        ip = self._iface.ip
        if ip != self._ip:  # bytearray compare: no allocation
            self._ip[:] = ip
            self.ip_text = _dotted(ip)

    def uptime_ms(self):
        return ticks_diff(ticks_ms(), self._t0)

    def link(self):
        self._refresh_ip()
        return self._iface.driver.link_up()

    def stats(self):
        return {"iface": self._iface.stats, "driver": self._iface.driver.stats}

    def connections(self):
        tcp = getattr(self._iface, "tcp", None)
        return tcp.connections() if tcp is not None else []


def render_status(buf, pos, info, server):
    """The "/" page into buf at pos; returns the end offset. Allocates nothing."""
    up = info.uptime_ms()
    p = put(buf, pos, b"<!doctype html><html><head><title>ustack</title></head><body>"
             b"<h1>ustack</h1><table><tr><td>uptime</td><td>")
    p = _put_num(buf, p, up // 1000)
    p = put(buf, p, b" s</td></tr><tr><td>link</td><td>")
    p = put(buf, p, b"up" if info.link() else b"down")
    p = put(buf, p, b"</td></tr><tr><td>IP</td><td>")
    p = put(buf, p, info.ip_text)
    p = put(buf, p, b"</td></tr><tr><td>MAC</td><td>")
    p = put(buf, p, info.mac_text)
    p = put(buf, p, b"</td></tr><tr><td>HTTP requests</td><td>")
    p = _put_num(buf, p, server.stats["requests"])
    p = put(buf, p, b"</td></tr><tr><td>HTTP clients</td><td>")
    p = _put_num(buf, p, server.connections())
    for label, src, key in info.rows:
        p = put(buf, p, b"</td></tr><tr><td>")
        p = put(buf, p, label)
        p = put(buf, p, b"</td><td>")
        p = _put_num(buf, p, src[key])
    p = put(buf, p, b"</td></tr></table><p><a href=\"/stats.json\">stats.json</a></p>"
             b"</body></html>\n")
    return p


def stats_json(info, server):
    """/stats.json body as bytes (allocates)."""
    doc = info.stats()
    doc["uptime_ms"] = info.uptime_ms()
    doc["ip"] = info.ip_text.decode()
    doc["mac"] = info.mac_text.decode()
    doc["link"] = info.link()
    doc["http"] = server.stats
    doc["tcp_connections"] = info.connections()
    if hasattr(gc, "mem_free"):  # MicroPython
        doc["mem_free"] = gc.mem_free()
        doc["mem_alloc"] = gc.mem_alloc()
    return json.dumps(doc).encode()
