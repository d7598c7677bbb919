# asyncio streams over our stack, with the methods of MicroPython's asyncio
# Stream, so asyncio web code serves through it unchanged:
#
#   from stack import aio
#   aio.attach(iface)                      # or stack.socket.attach(iface)
#   server = await aio.start_server(cb, "0.0.0.0", 80)
#   reader, writer = await aio.open_connection("192.0.2.1", 8000)
#   asyncio.start_server = aio.start_server   # to redirect existing code
#
# One pump drives the stack: a task that runs iface.poll(now_ms) on every TCP
# timer and, when the driver offers `pollable` (an object select.poll accepts,
# such as the TAP file), a second task that wakes through asyncio's own poller
# as soon as a frame arrives. Without `pollable` the timer task polls every
# _IDLE_POLL_MS. After each poll the pump wakes the streams whose wait
# (readable / writable / acceptable) is satisfied, through one asyncio.Event
# per stream made when the stream is made.
#
# Stream (reader and writer are one object, as in MicroPython):
#   read(n=-1), readinto(buf), readexactly(n), readline(), write(buf),
#   drain(), awrite(buf), close(), wait_closed(), aclose(),
#   get_extra_info('peername').
# write() copies what fits straight into the connection's TX ring and keeps
# only the rest until drain(). readline() uses a per-stream line buffer of
# _LINE_MAX bytes; a longer line is returned in pieces of that size.
import asyncio

from micropython import const

from stack import socket as _ss
from stack.clock import ticks_ms

_POLLIN = const(1)
_POLLOUT = const(4)
_POLLERR = const(8)
_POLLHUP = const(16)
_LINE_MAX = const(512)
_IDLE_POLL_MS = const(1)
_TIMER_MAX_MS = const(50)

try:
    from asyncio import core as _core
except ImportError:  # CPython's asyncio has no MicroPython IO queue
    _core = None

_pump = None


def attach(iface):
    _ss.attach(iface)


class _Pump:
    def __init__(self, iface):
        self.iface = iface
        self.waiting = []
        self.polls = 0
        self.busy = False
        pollable = getattr(iface.driver, "pollable", None)
        if pollable is not None and _core is not None and hasattr(_core, "_io_queue"):
            self._pollable = pollable
            asyncio.create_task(self._rx_loop())
        else:
            self._pollable = None
        asyncio.create_task(self._timer_loop())

    def run_once(self):
        """One engine turn; wakes satisfied waiters. Returns (ms to the next
        timer, whether anything happened: frames in or streams woken)."""
        self.polls += 1
        st = self.iface.stats
        rx = st["rx_frames"]
        w = self.iface.poll(ticks_ms())
        busy = st["rx_frames"] != rx
        ws = self.waiting
        i = 0
        while i < len(ws):
            o = ws[i]
            if o._events() & (o._want | _POLLERR | _POLLHUP):
                ws.pop(i)
                o._want = 0
                o._ev.set()
                busy = True
            else:
                i += 1
        self.busy = busy
        return w

    async def _timer_loop(self):
        while True:
            w = self.run_once()
            if self.busy:
                # traffic: let the woken tasks run, then poll again at once
                w = 0
            else:
                cap = _TIMER_MAX_MS if self._pollable is not None else _IDLE_POLL_MS
                if w is None or w < 0 or w > cap:
                    w = cap
            await asyncio.sleep_ms(w)

    async def _rx_loop(self):
        f = self._pollable
        while True:
            yield _core._io_queue.queue_read(f)
            self.run_once()


def _get_pump():
    global _pump
    iface = _ss._iface
    if iface is None:
        raise OSError(_ss.ENOTCONN)
    if _pump is None or _pump.iface is not iface:
        _pump = _Pump(iface)
    return _pump


class _Waiter:
    async def _wait(self, mask):
        self._want = mask
        self._ev.clear()
        self._pump.waiting.append(self)
        await self._ev.wait()


class Stream(_Waiter):
    def __init__(self, pump, conn, peer):
        self._pump = pump
        self._c = conn
        self._peer = peer
        self._ev = asyncio.Event()
        self._want = 0
        self._line = bytearray(_LINE_MAX)  # read-ahead for readline
        self._l0 = 0
        self._l1 = 0
        self._pend = None  # bytes write() could not place yet
        self._closed = False

    def _events(self):
        c = self._c
        if c is None:
            return _POLLHUP
        ev = _POLLERR if c.error else 0
        if c.readable():
            ev |= _POLLIN
        if c.connected() and c.writable():
            ev |= _POLLOUT
        if c.closed():
            ev |= _POLLHUP
        return ev

    def get_extra_info(self, name):
        if name == "peername":
            return self._peer
        return None

    # -- reading -----------------------------------------------------------------

    async def _recv_into(self, buf, off, n):
        """Up to n bytes into buf[off:]; 0 at end of stream."""
        if self._l1 > self._l0:
            k = self._l1 - self._l0
            if k > n:
                k = n
            buf[off : off + k] = self._line[self._l0 : self._l0 + k]
            self._l0 += k
            return k
        c = self._c
        if c is None:
            raise OSError(_ss.EBADF)
        while True:
            k = c.recv_into(buf, off, n)
            if k >= 0:
                return k
            await self._wait(_POLLIN)

    async def readinto(self, buf):
        return await self._recv_into(buf, 0, len(buf))

    async def read(self, n=-1):
        if n == 0:
            return b""
        if n < 0:
            out = bytearray()
            chunk = bytearray(512)
            while True:
                k = await self._recv_into(chunk, 0, 512)
                if not k:
                    return bytes(out)
                out.extend(chunk[:k] if k < 512 else chunk)
        b = bytearray(n)
        k = await self._recv_into(b, 0, n)
        return bytes(b) if k == n else bytes(b[:k])

    async def readexactly(self, n):
        b = bytearray(n)
        got = 0
        while got < n:
            k = await self._recv_into(b, got, n - got)
            if not k:
                raise EOFError
            got += k
        return bytes(b)

    async def readline(self):
        ln = self._line
        while True:
            i = ln.find(b"\n", self._l0, self._l1)
            if i >= 0:
                out = bytes(ln[self._l0 : i + 1])
                self._l0 = i + 1
                return out
            if self._l0:  # move what is left to the front
                k = self._l1 - self._l0
                ln[0:k] = ln[self._l0 : self._l1]
                self._l0 = 0
                self._l1 = k
            if self._l1 == len(ln):  # no newline in _LINE_MAX bytes: a piece
                out = bytes(ln)
                self._l1 = 0
                return out
            c = self._c
            if c is None:
                raise OSError(_ss.EBADF)
            k = c.recv_into(ln, self._l1, len(ln) - self._l1)
            if k == 0:  # end of stream: the partial line, then b""
                out = bytes(ln[0 : self._l1])
                self._l1 = 0
                return out
            if k < 0:
                await self._wait(_POLLIN)
            else:
                self._l1 += k

    # -- writing -----------------------------------------------------------------

    def write(self, buf):
        c = self._c
        if c is None:
            raise OSError(_ss.EBADF)
        n = len(buf)
        off = 0
        if self._pend is None:
            off = c.send(buf, 0, n)
            if off == n:
                return
        if self._pend is None:
            self._pend = bytearray(buf[off:] if off else buf)
        else:
            self._pend.extend(buf)

    async def drain(self):
        c = self._c
        while self._pend is not None:
            if c is None:
                raise OSError(_ss.EBADF)
            p = self._pend
            k = c.send(p, 0, len(p))
            if k == len(p):
                self._pend = None
            else:
                if k:
                    self._pend = p[k:]
                await self._wait(_POLLOUT)

    async def awrite(self, buf, off=0, sz=-1):
        if off or sz >= 0:
            buf = memoryview(buf)[off : off + sz if sz >= 0 else len(buf)]
        self.write(buf)
        await self.drain()

    # -- closing -------------------------------------------------------------------

    def close(self):
        if self._c is not None:
            self._c.close()  # FIN after what is queued in the TX ring
            self._c = None
        self._pend = None

    async def wait_closed(self):
        pass

    async def aclose(self):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        self.close()


StreamReader = Stream
StreamWriter = Stream


class Server(_Waiter):
    def __init__(self, pump, lst, cb):
        self._pump = pump
        self._lst = lst
        self._cb = cb
        self._ev = asyncio.Event()
        self._want = 0
        self.task = asyncio.create_task(self._serve())

    def _events(self):
        lst = self._lst
        return _POLLIN if lst is not None and lst.acceptable() else 0

    async def _serve(self):
        tcp = self._pump.iface.tcp
        try:
            while True:
                lst = self._lst
                if lst is None:
                    return
                conn = tcp.accept(lst)
                if conn is None:
                    await self._wait(_POLLIN)
                    continue
                peer = (_ss._ip_text(conn.remote_ip), conn.remote_port)
                s = Stream(self._pump, conn, peer)
                asyncio.create_task(_run(self._cb, s))
        except asyncio.CancelledError:
            pass

    def close(self):
        if self._lst is not None:
            self._lst.close()
            self._lst = None
        self.task.cancel()

    async def wait_closed(self):
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        self.close()
        await self.wait_closed()


async def _run(cb, s):
    try:
        await cb(s, s)
    except Exception:
        s.close()  # a failed handler must not keep its connection from the pool
        raise


async def start_server(cb, host, port, backlog=5, ssl=None):
    if ssl is not None:
        raise OSError(_ss.EOPNOTSUPP)
    pump = _get_pump()
    _ss._parse_ip(host, bytearray(4))  # numeric, as stack.socket.getaddrinfo
    tcp = pump.iface.tcp
    if tcp is None:
        raise OSError(_ss.EOPNOTSUPP)
    return Server(pump, tcp.listen(port, backlog), cb)


async def open_connection(host, port, ssl=None):
    if ssl is not None:
        raise OSError(_ss.EOPNOTSUPP)
    pump = _get_pump()
    ip = _ss._parse_ip(host, bytearray(4))
    tcp = pump.iface.tcp
    if tcp is None:
        raise OSError(_ss.EOPNOTSUPP)
    conn = tcp.connect(ip, port, ticks_ms())
    s = Stream(pump, conn, (host, port))
    while not conn.connected():
        if conn.error or conn.closed():
            e = conn.error or _ss.ECONNABORTED
            conn.abort()
            raise OSError(e)
        await s._wait(_POLLOUT)
    return s, s
