# What the HTTP server shows: the "/" status page and /stats.json.
#
# "/" is a few values rendered per request into the caller's buffer without
# allocating (address and how it was obtained, MAC, link, uptime, frame
# counters), followed by TAIL: a constant (in flash when frozen,
# sent as it is) holding the rate plot, the TCP table, the drop list, the free
# heap and the script that fills them from /stats.json once a second. The whole answer
# fits one TCP segment, so the page costs "/" (the benchmarked path) little.
# /stats.json is built with json.dumps: it allocates, by design.
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


def _put_num(buf, pos, v, width=10):
    """v in a fixed-width field (digits, then spaces): the page keeps one
    length while counters grow, which load tools such as ab check."""
    e = put_int(buf, pos, v)
    while e < pos + width and e < len(buf):
        buf[e] = 32
        e += 1
    return e


def _dotted(ip):
    return ("%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])).encode()


def _mac_text(mac):
    return (":".join("%02x" % b for b in mac)).encode()


def _put_dotted(buf, pos, ip):
    """An address given as 4 bytes (or as text) at pos, without allocating for bytes."""
    if isinstance(ip, str):
        return put(buf, pos, ip.encode())
    for i in range(4):
        if i:
            pos = put(buf, pos, b".")
        pos = put_int(buf, pos, ip[i])
    return pos


_HEAD = (
    b"<!doctype html><title>ustack</title><style>td{padding:0 9px}svg{border:1px solid #ccc;"
    b"display:block;fill:none}</style><table>"
)

# The script: one sample from the rendered values (uptime to the second), then /stats.json every
# second: frames/s into the two polylines (rx blue, tx red; the last 60 s,
# scaled to the largest), the counters, the TCP table (state, peer, srtt/rto
# ms, cwnd, queued bytes) and the drop counters that are not zero. Elements
# by their ids as globals (HTML's named access), sloppy-mode globals, no
# libraries: the whole "/" answer stays within one TCP segment.
TAIL = (
    b"</table><p>frames/s <b id=M></b><svg width=600 viewBox='0 0 300 60'>"
    b"<polyline id=P0 stroke=#07c /><polyline id=P1 stroke=#c50 /></svg><p>TCP<table "
    b"id=TC></table><p>drops<table id=DR></table><a href=stats.json>json</a><script>"
    b"T=(e,v)=>e.innerText=v;H=[];P=[UP.innerText*1e3,+RX.innerText,+TX.innerText];setInterval"
    b"(g=async()=>{s=await(await fetch('stats.json')).json();d=s.driver;C=[s.uptime_ms,d."
    b"rx_frames,d.tx_frames];k=(C[0]-P[0])/1e3||1;H=[...H,[(C[1]-P[1])/k,(C[2]-P[2])/k]]."
    b"slice(-61);P=C;T(RX,C[1]);T(TX,C[2]);T(UP,C[0]/1e3|0);T(HF,s.mem_free);m="
    b"Math.max(1,...H.flat());T(M,m|0);[P0,P1].map((e,j)=>e.setAttribute('points',H.map"
    b"((v,i)=>i*5+','+(59-v[j]*58/m)).join(' ')));TC.innerHTML=s.tcp_connections.map(c=>'<"
    b"tr><td>'+[c.state,c.remote,c.srtt_ms+'/'+c.rto_ms,c.cwnd,c.rx_queued+c.tx_queued].jo"
    b"in('<td>')).join('');r='';for(a in s)for(b in s[a])if(/drop/.test(b)&&s[a][b])r+='<t"
    b"r><td>'+b+'<td>'+s[a][b];DR.innerHTML=r},1000);g()</script>\n"
)


class _Text:
    """Bytes of a text another module hands out as str, encoded again only
    when that str object changes (state names are constants: no allocation
    while the state stays)."""

    def __init__(self):
        self.src = None
        self.data = b""

    def of(self, text):
        if text is not self.src:
            self.src = text
            self.data = text.encode() if isinstance(text, str) else bytes(text)
        return self.data


class HostInfo:
    """The unix port on kernel sockets: no interface of our own to describe."""

    def __init__(self, ip=b"127.0.0.1"):
        self._t0 = ticks_ms()
        self.ip_text = ip
        self.mac_text = b"-"
        # (label bytes, counters dict, key, element id or None): read when the page renders
        self.rows = ()

    def refresh(self):
        pass

    def uptime_ms(self):
        return ticks_diff(ticks_ms(), self._t0)

    def link(self):
        return True

    def dhcp(self):
        return None

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
        rows = []
        for label, src, key, eid in (
            (b"rx frames", d, "rx_frames", b"RX"),
            (b"tx frames", d, "tx_frames", b"TX"),
        ):
            if key in src:
                rows.append((label, src, key, eid))
        self.rows = tuple(rows[:_ROW_MAX])
        self._drv_stats = d
        self._rx_seen = -1
        self.refresh()

    def refresh(self):
        """Bring the texts the page shows up to date. Allocates when one
        changed (an address from a lease, a DHCP state), so the HTTP server
        calls it with the heap open; render_status() then allocates nothing."""
        ip = self._iface.ip
        if ip != self._ip:  # bytearray compare: no allocation
            self._ip[:] = ip
            self.ip_text = _dotted(ip)
        dhcp = self.dhcp()
        if dhcp is not None:
            _STATE.of(dhcp.state_name())
            server = getattr(dhcp, "server", None)
            if isinstance(server, str):
                _SERVER.of(server)

    def uptime_ms(self):
        return ticks_diff(ticks_ms(), self._t0)

    def link(self):
        if self._iface.driver.link_up():
            return True
        # A PHY reports its link seconds after autonegotiation ends, while
        # frames already flow: frames received since the last look (this
        # request among them) prove the link is up.
        n = self._drv_stats.get("rx_frames", 0)
        moved = n != self._rx_seen
        self._rx_seen = n
        return moved

    def dhcp(self):
        """The DHCP client (stack/dhcp.py attaches it as iface.dhcp), or None."""
        return getattr(self._iface, "dhcp", None)

    def stats(self):
        return {"iface": self._iface.stats, "driver": self._iface.driver.stats}

    def connections(self):
        tcp = getattr(self._iface, "tcp", None)
        return tcp.connections() if tcp is not None else []


_STATE = _Text()
_SERVER = _Text()


def _put_how(buf, p, info, full=True):
    """How the address was obtained: ' static', or ' DHCP <state>, N s left'
    and (full) ', server a.b.c.d'."""
    dhcp = info.dhcp()
    if dhcp is None:
        return put(buf, p, b" static")
    p = put(buf, p, b" DHCP ")
    p = put(buf, p, _STATE.of(dhcp.state_name()))
    left = dhcp.lease_left_ms(ticks_ms())
    if left is not None and left > 0:
        p = put(buf, p, b", ")
        p = put_int(buf, p, left // 1000)
        p = put(buf, p, b" s left")
    server = getattr(dhcp, "server", None)
    if full and server is not None and (isinstance(server, str) or server[0]):
        p = put(buf, p, b", server ")
        if isinstance(server, str):
            p = put(buf, p, _SERVER.of(server))
        else:
            p = _put_dotted(buf, p, server)
    return p


def render_status(buf, pos, info, server):
    """The values of the "/" page into buf at pos (TAIL follows them); returns
    the end offset. Allocates nothing. Numbers sit in fixed 10-character
    fields, so the page keeps one length while counters grow (ab checks)."""
    info.refresh()
    p = put(buf, pos, _HEAD)
    p = put(buf, p, b"<tr><td>IP<td>")
    p = put(buf, p, info.ip_text)
    p = _put_how(buf, p, info, False)
    p = put(buf, p, b"<tr><td>MAC<td>")
    p = put(buf, p, info.mac_text)
    p = put(buf, p, b"<tr><td>link<td>")
    p = put(buf, p, b"up  " if info.link() else b"down")
    p = put(buf, p, b"<tr><td>uptime s<td id=UP>")
    p = _put_num(buf, p, info.uptime_ms() // 1000)
    # free heap: filled by the script from /stats.json. gc.mem_free() walks
    # the heap's whole allocation table (26 us at 80 KB on x86-64, far more on
    # a board): too dear for every "/" (the benchmarked path).
    p = put(buf, p, b"<tr><td>free heap<td id=HF>")
    for label, src, key, eid in info.rows:
        p = put(buf, p, b"<tr><td>")
        p = put(buf, p, label)
        p = put(buf, p, b"<td id=")
        p = put(buf, p, eid)
        p = put(buf, p, b">")
        p = _put_num(buf, p, src[key])
    return p


def address_text(info):
    """'192.0.2.2 static' or '192.0.2.105 DHCP bound, 3540 s left, server
    192.0.2.1' (allocates)."""
    buf = bytearray(160)
    p = put(buf, 0, info.ip_text)
    p = _put_how(buf, p, info)
    return bytes(buf[:p]).decode()


def stats_json(info, server):
    """/stats.json body as bytes (allocates)."""
    info.refresh()
    doc = info.stats()
    doc["uptime_ms"] = info.uptime_ms()
    doc["ip"] = info.ip_text.decode()
    doc["address"] = address_text(info)
    doc["mac"] = info.mac_text.decode()
    doc["link"] = info.link()
    doc["http"] = server.stats
    doc["tcp_connections"] = info.connections()
    if hasattr(gc, "mem_free"):  # MicroPython
        doc["mem_free"] = gc.mem_free()
        doc["mem_alloc"] = gc.mem_alloc()
    return json.dumps(doc).encode()
