# MicroPython's `socket` module, the subset real code uses, over our stack.
#
#   from stack import socket          # instead of: import socket
#   socket.attach(iface)              # once, at bring-up (firmware does this)
#
# Same names, same OSError errno values, same blocking/timeout behaviour as
# MicroPython's lwIP sockets. Blocking calls drive the stack themselves: they
# call iface.poll(now_ms) (the one engine) and driver.wait() until the socket is
# ready or the timeout passes. Non-blocking calls only look at the rings.
#
# Readiness: poll() returns an object with select.poll's methods (register,
# modify, unregister, poll, ipoll) over these sockets. The stream methods
# (readinto / write with MicroPython's None-on-EAGAIN) let stream code such as
# firmware/http.py run unchanged on kernel sockets or on ours.
#
# TCP calls go to the engine documented in docs/tcp.md; UDP to stack/udp.py.
import sys

import micropython
from micropython import const

from stack.clock import ticks_add, ticks_diff, ticks_ms

# On MicroPython the sockets are io.IOBase streams: select.poll (and so
# MicroPython's own asyncio Stream) can wait on them through ioctl(), which
# runs the engine while it waits. CPython's IOBase would add close-on-GC and
# other semantics, so there they are plain objects.
if sys.implementation.name == "micropython":
    from io import IOBase as _StreamBase
else:
    _StreamBase = object

AF_INET = const(2)
SOCK_STREAM = const(1)
SOCK_DGRAM = const(2)
SOCK_RAW = const(3)
IPPROTO_IP = const(0)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)
# lwIP's values, as MicroPython's bare-metal ports have them; the unix port's
# Linux values (1, 2) are accepted too.
SOL_SOCKET = const(0xFFF)
SO_REUSEADDR = const(4)
SO_KEEPALIVE = const(8)
TCP_NODELAY = const(1)
TCP_CORK = const(3)  # Linux's number
SHUT_RD = const(0)
SHUT_WR = const(1)
SHUT_RDWR = const(2)

POLLIN = const(1)
POLLOUT = const(4)
POLLERR = const(8)
POLLHUP = const(16)
POLLNVAL = const(32)

# errno values (MicroPython's errno module, Linux numbering)
EBADF = const(9)
EAGAIN = const(11)
ENOMEM = const(12)
EINVAL = const(22)
EPIPE = const(32)
EOPNOTSUPP = const(95)
ECONNABORTED = const(103)
EADDRINUSE = const(98)
ENOTCONN = const(107)
EISCONN = const(106)
ETIMEDOUT = const(110)
EALREADY = const(114)
EINPROGRESS = const(115)

_WAIT_MAX_MS = const(50)  # re-check at least this often while blocked

_iface = None


def attach(iface):
    """Use this Interface for every socket made from now on."""
    global _iface
    _iface = iface


def _engine():
    if _iface is None:
        raise OSError(ENOTCONN)  # no interface attached
    return _iface


def _drive(deadline):
    """One turn of the engine while a blocking call waits. deadline is a ticks
    value or None (forever). False once the deadline has passed."""
    iface = _iface
    now = ticks_ms()
    if deadline is not None and ticks_diff(deadline, now) <= 0:
        return False
    w = iface.poll(now)
    if w is None or w < 0 or w > _WAIT_MAX_MS:
        w = _WAIT_MAX_MS
    if deadline is not None:
        left = ticks_diff(deadline, now)
        if left < w:
            w = left
    if w > 0:
        iface.driver.wait(w)
    return True


def _parse_ip(host, out):
    """Dotted quad -> out (bytearray 4). OSError(EINVAL) if not numeric."""
    if host == "" or host == "0.0.0.0":
        out[0] = out[1] = out[2] = out[3] = 0
        return out
    if host == "localhost":
        host = "127.0.0.1"
    parts = host.split(".")
    if len(parts) != 4:
        raise OSError(EINVAL)
    for i in range(4):
        p = parts[i]
        if not p or not p.isdigit() or int(p) > 255:
            raise OSError(EINVAL)
        out[i] = int(p)
    return out


def _ip_text(b, off=0):
    return "%d.%d.%d.%d" % (b[off], b[off + 1], b[off + 2], b[off + 3])


def inet_pton(af, text):
    if af != AF_INET:
        raise OSError(EOPNOTSUPP)
    return bytes(_parse_ip(text, bytearray(4)))


def inet_ntop(af, packed):
    if af != AF_INET:
        raise OSError(EOPNOTSUPP)
    return _ip_text(packed)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """[(af, type, proto, '', (ip, port))]: a dotted quad as it is, a name
    through stack.dns (imported on first use) and the interface's DNS servers.
    A name that does not resolve raises OSError(-2), as MicroPython's lwIP ports do."""
    if isinstance(host, bytes):
        host = host.decode()
    out = bytearray(4)
    try:
        _parse_ip(host, out)
    except OSError:
        _resolve(host, out)
    ip = _ip_text(out)
    if type == 0:
        type = SOCK_STREAM
    if proto == 0:
        proto = IPPROTO_UDP if type == SOCK_DGRAM else IPPROTO_TCP
    return [(AF_INET, type, proto, "", (ip, port))]


def _resolve(host, out):
    from stack import dns

    iface = _engine()
    r = dns.resolver(iface)
    try:
        st = r.start(host, ticks_ms())
    except ValueError:
        raise OSError(-2)
    while st == dns.PENDING:  # the resolver's own retries bound this loop
        now = ticks_ms()
        w = iface.poll(now)
        st = r.poll(now)
        t = r.poll_at(now)
        if t >= 0 and t < w:
            w = t
        if st == dns.PENDING and w > 0:
            iface.driver.wait(w if w < _WAIT_MAX_MS else _WAIT_MAX_MS)
    if st != dns.DONE:
        raise OSError(-2)
    for i in range(4):
        out[i] = r.addr[i]


def _addr(addr):
    """(host, port) -> (bytearray 4, port)."""
    if not isinstance(addr, tuple) or len(addr) != 2:
        raise OSError(EINVAL)
    return _parse_ip(addr[0], bytearray(4)), addr[1]


class socket(_StreamBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        if af != AF_INET or type not in (SOCK_STREAM, SOCK_DGRAM):
            raise OSError(EOPNOTSUPP)
        self._iface = _engine()
        self._type = type
        self._timeout_ms = -1  # -1 blocking, 0 non-blocking, else ms
        self._port = 0  # bound local port
        self._conn = None  # TCP connection
        self._lst = None  # TCP listener
        self._udp = None
        self._nodelay = False
        self._closed = False
        self._peer = None
        self._connecting = False
        if type == SOCK_DGRAM:
            self._udp = self._iface.udp.socket()
            self._uaddr = bytearray(6)

    def __repr__(self):
        return "<stack.socket %s>" % ("tcp" if self._type == SOCK_STREAM else "udp")

    # -- options ---------------------------------------------------------------

    def settimeout(self, t):
        self._timeout_ms = -1 if t is None else int(t * 1000)

    def setblocking(self, flag):
        self._timeout_ms = -1 if flag else 0

    def setsockopt(self, level, opt, value):
        if level == IPPROTO_TCP and opt == TCP_NODELAY:
            self._nodelay = bool(value)
            if self._conn is not None:
                self._conn.nodelay = self._nodelay
        elif level == IPPROTO_TCP and opt == TCP_CORK:
            if self._conn is not None:
                self._conn.set_cork(value)
        elif level in (SOL_SOCKET, 1):
            if opt in (SO_KEEPALIVE, 9) and self._conn is not None:
                self._conn.set_keepalive(bool(value))
            # SO_REUSEADDR: always granted (TIME_WAIT never blocks a bind here)

    def _deadline(self):
        if self._timeout_ms < 0:
            return None
        return ticks_add(ticks_ms(), self._timeout_ms)

    def _check_open(self):
        if self._closed:
            raise OSError(EBADF)

    def _wait(self, ready):
        """Drive the stack until ready() is true. EAGAIN when non-blocking,
        ETIMEDOUT when the timeout passes."""
        if ready():
            return
        if self._timeout_ms == 0:
            raise OSError(EAGAIN)
        deadline = self._deadline()
        while True:
            if not _drive(deadline):
                raise OSError(ETIMEDOUT)
            if ready():
                return

    # -- set-up ------------------------------------------------------------------

    def bind(self, addr):
        self._check_open()
        ip, port = _addr(addr)
        if self._udp is not None:
            self._udp.bind(port)
        self._port = port

    def listen(self, backlog=2):
        self._check_open()
        if self._type != SOCK_STREAM or self._conn is not None:
            raise OSError(EINVAL)
        if backlog < 1:
            backlog = 1
        tcp = self._iface.tcp
        if tcp is None:
            raise OSError(EOPNOTSUPP)
        self._lst = tcp.listen(self._port, backlog)

    def accept(self):
        self._check_open()
        lst = self._lst
        if lst is None:
            raise OSError(EINVAL)
        if not lst.acceptable():  # (a bound method for _wait only when it waits)
            self._wait(lst.acceptable)
        conn = self._iface.tcp.accept(lst)
        if conn is None:
            raise OSError(EAGAIN)
        s = socket(AF_INET, SOCK_STREAM)  # accepted sockets start blocking, as in MicroPython
        s._port = self._port
        s._conn = conn
        s._nodelay = self._nodelay
        conn.nodelay = self._nodelay
        s._peer = (_ip_text(conn.remote_ip), conn.remote_port)
        return s, s._peer

    def connect(self, addr):
        self._check_open()
        ip, port = _addr(addr)
        if self._udp is not None:
            self._peer = (ip, port)
            self._udp.connect(ip, 0, port)  # ICMP port unreachable -> ECONNREFUSED
            return
        if self._conn is not None:
            if self._connecting:
                if self._conn.error:
                    raise OSError(self._conn.error)
                if not self._conn.connected():
                    raise OSError(EALREADY)
                self._connecting = False
            raise OSError(EISCONN)
        tcp = self._iface.tcp
        if tcp is None:
            raise OSError(EOPNOTSUPP)
        self._conn = conn = tcp.connect(ip, port, ticks_ms(), self._port)
        conn.nodelay = self._nodelay
        self._peer = (_ip_text(ip), port)
        if self._timeout_ms == 0:
            self._connecting = True
            raise OSError(EINPROGRESS)
        try:
            self._wait(self._handshake_over)
        except OSError:
            conn.abort()
            self._conn = None
            raise
        if conn.error:
            e = conn.error
            conn.abort()
            self._conn = None
            raise OSError(e)

    def _handshake_over(self):
        c = self._conn
        return c.connected() or c.error != 0 or c.closed()

    # -- TCP data ------------------------------------------------------------------

    def _tcp(self):
        self._check_open()
        c = self._conn
        if c is None:
            raise OSError(ENOTCONN)
        return c

    def send(self, buf):
        return self._send(buf, 0, len(buf))

    def _send(self, buf, off, n):
        if self._udp is not None:
            if self._peer is None:
                raise OSError(ENOTCONN)
            self._udp_error()
            self._sendto(buf, off, n, self._peer[0], self._peer[1])
            return n
        c = self._tcp()
        if n <= 0:
            return 0
        k = c.send(buf, off, n)
        if k:
            return k
        self._wait(c.writable)
        return c.send(buf, off, n)

    def sendall(self, buf):
        n = len(buf)
        off = 0
        while off < n:
            off += self._send(buf, off, n - off)

    def write(self, buf, off=0, n=-1):
        """Stream write: returns bytes taken, or None if a non-blocking socket
        has no room. write(buf, off, n) takes buf[off:off+n] without a slice."""
        if n < 0 or off + n > len(buf):
            n = len(buf) - off
        c = self._conn
        if self._timeout_ms == 0 and c is not None and not self._closed:
            # the non-blocking path raises nothing (no exception object per call)
            if n <= 0:
                return 0
            k = c.send(buf, off, n)
            return k if k else None
        try:
            return self._send(buf, off, n)
        except OSError as e:
            if e.args[0] == EAGAIN:
                return None
            raise

    def recv_into(self, buf, nbytes=0):
        if self._udp is not None:
            return self._recvfrom_into(buf, nbytes)[0]
        c = self._tcp()
        if nbytes <= 0 or nbytes > len(buf):
            nbytes = len(buf)
        k = c.recv_into(buf, 0, nbytes)
        if k >= 0:
            return k
        self._wait(c.readable)
        k = c.recv_into(buf, 0, nbytes)
        return k if k >= 0 else 0

    def recv(self, bufsize):
        b = bytearray(bufsize)
        k = self.recv_into(b, bufsize)
        return bytes(b[:k]) if k < bufsize else bytes(b)

    def readinto(self, buf, nbytes=-1):
        """Stream read: bytes read, 0 at end of stream, None if a non-blocking
        socket has nothing yet."""
        c = self._conn
        if self._timeout_ms == 0 and c is not None and not self._closed:
            if nbytes <= 0 or nbytes > len(buf):
                nbytes = len(buf)
            k = c.recv_into(buf, 0, nbytes)
            return k if k >= 0 else None
        try:
            return self.recv_into(buf, nbytes if nbytes > 0 else 0)
        except OSError as e:
            if e.args[0] == EAGAIN:
                return None
            raise

    def read(self, n=-1):
        if n < 0:
            out = bytearray()
            b = bytearray(256)
            while True:
                k = self.readinto(b)
                if not k:
                    break
                out.extend(b[:k])
            return bytes(out)
        b = bytearray(n)
        k = self.readinto(b, n)
        if k is None:
            return None
        return bytes(b[:k])

    def readline(self):
        out = bytearray()
        b = bytearray(1)
        while True:
            k = self.readinto(b, 1)
            if not k:
                break
            out.append(b[0])
            if b[0] == 10:
                break
        return bytes(out)

    def makefile(self, mode="rb", buffering=0):
        return self

    # -- UDP -------------------------------------------------------------------------

    def _sendto(self, buf, off, n, ip, port):
        if not self._udp.sendto(buf, off, n, ip, 0, port):
            pass  # dropped (ARP pending or driver full): UDP gives no promise

    def sendto(self, buf, addr):
        self._check_open()
        if self._udp is None:
            raise OSError(EOPNOTSUPP)
        ip, port = _addr(addr)
        self._sendto(buf, 0, len(buf), ip, port)
        return len(buf)

    def _recvfrom_into(self, buf, nbytes):
        self._check_open()
        u = self._udp
        self._udp_error()
        self._wait(self._udp_ready)
        self._udp_error()
        if nbytes <= 0 or nbytes > len(buf):
            nbytes = len(buf)
        if nbytes < len(buf):
            buf = memoryview(buf)[:nbytes]
        a = self._uaddr
        k = u.recv_into_from(buf, a)
        return k, a

    def _udp_ready(self):
        return self._udp.pending() >= 0 or self._udp.error != 0

    def _udp_error(self):
        """A connected UDP socket reports an ICMP error once (Linux semantics)."""
        e = self._udp.take_error()
        if e:
            raise OSError(e)

    def recvfrom(self, bufsize):
        b = bytearray(bufsize)
        k, a = self._recvfrom_into(b, bufsize)
        return bytes(b[:k]), (_ip_text(a), (a[4] << 8) | a[5])

    # -- readiness and close -----------------------------------------------------------

    def _events(self):
        """select.poll event bits for this socket now."""
        if self._closed:
            return POLLNVAL
        if self._udp is not None:
            return ((POLLIN if self._udp.pending() >= 0 else 0) | POLLOUT
                    | (POLLERR if self._udp.error else 0))
        lst = self._lst
        if lst is not None:
            return POLLIN if lst.acceptable() else 0
        c = self._conn
        if c is None:
            return 0
        ev = 0
        if c.error:
            ev = POLLERR
        if c.readable():
            ev |= POLLIN
        if c.connected() and c.writable():
            ev |= POLLOUT
        if c.closed():
            ev |= POLLHUP
        return ev

    def ioctl(self, req, arg):
        # io.IOBase protocol: 3 = poll (arg: wanted flags), 4 = close; -1 for
        # the rest (select.poll asks for a file descriptor first: we have none).
        # select.poll calls this about once a millisecond while it waits on a
        # non-fd object, so running the engine here lets MicroPython's asyncio
        # (or any select.poll user) wait on these sockets.
        if req == 3:
            mask = arg | POLLERR | POLLHUP | POLLNVAL
            ev = self._events() & mask
            if not ev and _iface is not None:
                _iface.poll(ticks_ms())
                ev = self._events() & mask
            return ev
        if req == 4:
            self.close()
            return 0
        return -1

    def shutdown(self, how=SHUT_RDWR):
        """SHUT_WR / SHUT_RDWR: FIN after the queued data; receiving goes on
        until the peer closes. SHUT_RD alone changes nothing (as lwIP)."""
        c = self._tcp()
        if how != SHUT_RD:
            c.shutdown()

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lst is not None:
            self._lst.close()
            self._lst = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def getpeername(self):
        return self._peer


_STOP = StopIteration()


class poll:
    """select.poll over stack sockets. ipoll() yields one reused [obj, event]
    pair (unpack it; do not keep it), so a steady loop allocates nothing.
    Waiting drives the engine: iface.poll() then driver.wait() until an event
    or the timeout; ipoll(0) runs the engine once and returns what is ready.
    poll(drive=False) is for a loop that runs iface.poll() itself just before
    (firmware/main.py): its ipoll(0) only reports what is ready, without a
    second engine pass (a driver read and every timer) per loop turn."""

    def __init__(self, drive=True):
        self._drive = drive
        self._objs = []
        self._masks = []
        self._pair = [None, 0]
        self._i = 0

    def register(self, obj, mask=POLLIN | POLLOUT):
        for i in range(len(self._objs)):
            if self._objs[i] is obj:
                self._masks[i] = mask
                return
        self._objs.append(obj)
        self._masks.append(mask)

    def modify(self, obj, mask):
        for i in range(len(self._objs)):
            if self._objs[i] is obj:
                self._masks[i] = mask
                return
        raise OSError(2)  # ENOENT, as select.poll

    def unregister(self, obj):
        for i in range(len(self._objs)):
            if self._objs[i] is obj:
                self._objs.pop(i)
                self._masks.pop(i)
                if self._i > i:
                    self._i -= 1
                return

    def _ready(self):
        for i in range(len(self._objs)):
            if self._objs[i]._events() & (self._masks[i] | POLLERR | POLLHUP | POLLNVAL):
                return True
        return False

    def _wait(self, timeout_ms):
        if timeout_ms is None or timeout_ms < 0:
            deadline = None
        else:
            deadline = ticks_add(ticks_ms(), timeout_ms)
        if timeout_ms == 0:
            if self._drive and _iface is not None:
                _iface.poll(ticks_ms())
            return
        if _iface is not None:
            _iface.poll(ticks_ms())
        while not self._ready():
            if not _drive(deadline):
                return

    def ipoll(self, timeout=-1, flags=0):
        self._wait(timeout)
        self._i = 0
        return self

    def __iter__(self):
        return self

    def __next__(self):
        objs = self._objs
        while self._i < len(objs):
            i = self._i
            self._i = i + 1
            ev = objs[i]._events() & (self._masks[i] | POLLERR | POLLHUP | POLLNVAL)
            if ev:
                p = self._pair
                p[0] = objs[i]
                p[1] = ev
                return p
        # Raising even a preallocated exception allocates its traceback (24
        # bytes, each time); with the heap locked that allocation is skipped.
        # heap_lock nests, so a caller's own locked section stays locked.
        micropython.heap_lock()
        try:
            raise _STOP
        finally:
            micropython.heap_unlock()

    def poll(self, timeout=-1):
        self._wait(timeout)
        out = []
        for i in range(len(self._objs)):
            ev = self._objs[i]._events() & (self._masks[i] | POLLERR | POLLHUP | POLLNVAL)
            if ev:
                out.append((self._objs[i], ev))
        return out
