# A small HTTP/1.1 server over MicroPython's non-blocking socket API.
#
# The same code serves through the unix port's own kernel sockets (`socket` +
# `select.poll`, the benchmark baseline) and through our stack (`stack.socket`,
# whose module also provides `poll()`): the socket module is passed in.
#
# One HTTPServer owns a listening socket and a fixed number of client slots,
# each with buffers allocated once here. `step(timeout_ms)` waits (at most
# timeout_ms) for readiness with the poll object's ipoll() and does all the
# work that is ready; it never blocks inside a socket call. Firmware calls
# step(0) from its main loop; serve_forever() is the loop for kernel sockets.
#
# Routes: GET/HEAD /            small HTML status page (firmware.page)
#         GET/HEAD /stats.json  counters as JSON (allocates: json.dumps)
#         GET/HEAD /bulk?n=N    exactly N bytes from one shared read-only chunk
#         POST /sink            reads and discards a Content-Length body, replies the count
# Errors: 400 malformed, 404, 405 (+Allow), 411 (POST without Content-Length),
#         413 (request head over head_max, or a body over MAX_LEN), all closing.
# Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
# "Connection: keep-alive". Pipelined requests are kept in the head buffer.
# When every slot is busy the listening socket is not polled, so new
# connections wait in the listen backlog (the kernel's or the stack's bound).
# heap_lock=True (firmware/web.py, on the stack's sockets): step() runs with
# the heap locked, opened only where it allocates (accept and close, the
# page's texts after a change, /stats.json, a request head arriving in
# pieces). MicroPython puts every Python frame over 11 words on the heap when
# it can; locked, they stay on the C stack, and on a heap holding garbage
# each such allocation is a long search (docs/http.md). A MemoryError in a
# step is counted (alloc_blocked), its client closed, and the server goes on
# unlocked.
import errno
import sys

import micropython
from micropython import const

from stack.clock import ticks_diff, ticks_ms

from firmware import page
from firmware.page import put, put_int

_POLLIN = const(1)
_POLLOUT = const(4)
_POLLERR = const(8)
_POLLHUP = const(16)

_ST_FREE = const(0)
_ST_HEAD = const(1)  # reading a request head
_ST_BODY = const(2)  # reading and discarding a request body (/sink)
_ST_SEND = const(3)  # sending the response

_M_GET = const(1)
_M_HEAD = const(2)
_M_POST = const(3)
_M_OTHER = const(4)

# Largest Content-Length or /bulk n: stays a small int on 32-bit boards.
MAX_LEN = const(0x3FFFFFFF)
_LEN_FIELD = const(10)  # digits reserved for a Content-Length filled in later

_REASON = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    411: b"Length Required",
    413: b"Content Too Large",
}


def _lower(c):
    return c | 0x20 if 65 <= c <= 90 else c


def _ieq(buf, a, b, name):
    """buf[a:b] equals the lower-case bytes `name`, ignoring case. No allocation."""
    n = len(name)
    if b - a != n:
        return False
    for i in range(n):
        if _lower(buf[a + i]) != name[i]:
            return False
    return True


def _icontains(buf, a, b, word):
    """The lower-case `word` occurs in buf[a:b], ignoring case."""
    n = len(word)
    for s in range(a, b - n + 1):
        i = 0
        while i < n and _lower(buf[s + i]) == word[i]:
            i += 1
        if i == n:
            return True
    return False


def _eq(buf, a, b, word):
    n = len(word)
    if b - a != n:
        return False
    for i in range(n):
        if buf[a + i] != word[i]:
            return False
    return True


def _digits(buf, a, b):
    """Decimal value of buf[a:b], or -1 if empty, not all digits, or over MAX_LEN."""
    if a >= b or b - a > 10:
        return -1
    v = 0
    for i in range(a, b):
        c = buf[i] - 48
        if c < 0 or c > 9:
            return -1
        v = v * 10 + c
        if v > MAX_LEN:
            return -1
    return v


def _cork(sock, on):
    """TCP_CORK (IPPROTO_TCP 6, option 3: Linux's numbers, and the stack's)."""
    try:
        sock.setsockopt(6, 3, on)
    except (OSError, AttributeError, TypeError):
        pass


class _Client:
    def __init__(self, head_max, out_max):
        self.sock = None
        self.buf = bytearray(head_max)  # request head (and pipelined bytes)
        self.mv = memoryview(self.buf)
        self.n = 0  # bytes held in buf
        self.scan = 0  # where the search for the end of the head resumes
        self.out = bytearray(out_max)  # response head, and small bodies after it
        self.out_n = 0
        self.out_off = 0
        self.body = None  # a bytes body sent after out (stats.json)
        self.body_off = 0
        self.bulk = 0  # /bulk bytes still to send
        self.sink = 0  # request body bytes still to read
        self.sunk = 0
        self.keep = False
        self.len_at = 0  # offset of a Content-Length field to fill in
        self.cont = False  # sending "100 Continue"; the body follows
        self.state = _ST_FREE
        self.mask = 0
        self.last_ms = 0


class HTTPServer:
    def __init__(
        self,
        sockmod,
        info=None,
        host="0.0.0.0",
        port=80,
        max_clients=4,
        backlog=4,
        head_max=1024,
        out_max=1024,
        chunk=2048,
        idle_ms=10000,
        poll_factory=None,
        nodelay=True,
        heap_lock=False,
    ):
        self._sm = sockmod
        self._lock = heap_lock
        self._held = False  # inside step() with the heap locked by it
        self._cur = None  # the client being served (closed if its work allocates)
        self.info = info if info is not None else page.HostInfo()
        self._idle_ms = idle_ms
        self._nodelay = nodelay
        self._clients = [_Client(head_max, out_max) for _ in range(max_clients)]
        # /bulk body: byte i is "a" + i % 26 for every i, so the chunk is a
        # whole number of alphabets and a client can check any byte it got.
        chunk -= chunk % 26
        self._chunk = bytearray(chunk)
        for i in range(chunk):
            self._chunk[i] = 97 + i % 26
        if poll_factory is None:
            poll_factory = getattr(sockmod, "poll", None)
            if poll_factory is None:
                import select

                poll_factory = select.poll
        self._poll = poll_factory()
        s = sockmod.socket(sockmod.AF_INET, sockmod.SOCK_STREAM)
        try:
            s.setsockopt(sockmod.SOL_SOCKET, sockmod.SO_REUSEADDR, 1)
        except (OSError, AttributeError):
            pass
        s.bind(sockmod.getaddrinfo(host, port)[0][-1])
        s.listen(backlog)
        s.setblocking(False)
        self._lsock = s
        self._listening = True
        self._poll.register(s, _POLLIN)
        self._sweep_ms = ticks_ms()
        self.port = port
        # counters (keys fixed here; /stats.json serves this dict)
        self.stats = {
            "accepted": 0,
            "requests": 0,
            "closed": 0,
            "idle_closed": 0,
            "errors": 0,
            "s2xx": 0,
            "s4xx": 0,
            "bytes_out": 0,
            "bytes_in": 0,
            "sink_bytes": 0,
            "alloc_blocked": 0,
        }

    # -- loop ------------------------------------------------------------------

    def serve_forever(self):
        while True:
            self.step(1000)

    def step(self, timeout_ms=0):
        """Wait up to timeout_ms for readiness, then do the ready work. Returns
        the number of events handled."""
        if not self._lock:
            return self._step(timeout_ms)
        micropython.heap_lock()
        self._held = True
        try:
            return self._step(timeout_ms)
        except MemoryError as e:
            self._held = False
            micropython.heap_unlock()
            try:
                self._alloc_blocked(e)
            finally:
                micropython.heap_lock()
            return 0
        finally:
            self._held = False
            micropython.heap_unlock()

    def _alloc_blocked(self, e):
        self.stats["alloc_blocked"] += 1
        self._lock = False
        print("http: MemoryError in a request (an allocation under the heap lock, or the "
              "heap full); serving unlocked from now on")
        sys.print_exception(e)  # where: a path to fix
        if self._cur is not None and self._cur.state != _ST_FREE:
            self._close(self._cur)

    def _count(self, key, k):
        """Byte counters count modulo 2**30: a small int on a 32-bit board, so
        counting never allocates (a locked step could not)."""
        v = self.stats[key]
        self.stats[key] = v + k if v <= MAX_LEN - k else v - MAX_LEN - 1 + k

    def _unlocked(self):
        """Open the heap for an allocating call inside a locked step();
        _relock() after. (Outside step() the heap is not ours to open.)"""
        if self._held:
            micropython.heap_unlock()

    def _relock(self):
        if self._held:
            micropython.heap_lock()

    def _step(self, timeout_ms):
        handled = 0
        for obj, ev in self._poll.ipoll(timeout_ms):
            handled += 1
            if obj is self._lsock:
                self._accept()
                continue
            c = self._find(obj)
            if c is None:
                continue
            self._cur = c
            if c.state == _ST_SEND:
                self._send(c)
            elif ev & (_POLLIN | _POLLERR | _POLLHUP):
                self._recv(c)
        self._cur = None
        now = ticks_ms()
        if ticks_diff(now, self._sweep_ms) >= 1000:
            self._sweep_ms = now
            self._sweep(now)
        return handled

    def close(self):
        for c in self._clients:
            if c.state != _ST_FREE:
                self._close(c)
        self._poll.unregister(self._lsock)  # registered even while its mask is 0
        self._listening = False
        self._lsock.close()

    def connections(self):
        """Number of busy client slots."""
        k = 0
        for c in self._clients:
            if c.state != _ST_FREE:
                k += 1
        return k

    # -- slots -----------------------------------------------------------------

    def _find(self, sock):
        for c in self._clients:
            if c.sock is sock and c.state != _ST_FREE:
                return c
        return None

    def _free_slot(self):
        for c in self._clients:
            if c.state == _ST_FREE:
                return c
        return None

    def _accept(self):
        """One connection per readiness event: poll reports the listener again
        while more wait, and accept() is never called to hear EAGAIN (an
        exception object per connection)."""
        c = self._free_slot()
        if c is None:
            # Full: leave the rest in the listen backlog until a slot frees.
            if self._listening:
                self._poll.modify(self._lsock, 0)
                self._listening = False
            return
        self._unlocked()  # a socket object per connection, its poll entry
        try:
            self._take(c)
        finally:
            self._relock()

    def _take(self, c):
        try:
            r = self._lsock.accept()
        except OSError as e:
            if e.args[0] != errno.EAGAIN:
                self.stats["errors"] += 1
            return
        if r is None:
            return
        s = r[0]
        s.setblocking(False)
        if self._nodelay:
            try:
                s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (same values everywhere)
            except (OSError, AttributeError, TypeError):
                pass
        c.sock = s
        c.n = 0
        c.scan = 0
        c.state = _ST_HEAD
        c.last_ms = ticks_ms()
        c.mask = _POLLIN
        self._poll.register(s, _POLLIN)
        self.stats["accepted"] += 1

    def _close(self, c):
        self._unlocked()  # unregister may shrink the poll object's lists
        try:
            self._drop(c)
        finally:
            self._relock()

    def _drop(self, c):
        try:
            self._poll.unregister(c.sock)
        except (OSError, KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass
        c.sock = None
        c.body = None
        c.cont = False
        c.state = _ST_FREE
        self.stats["closed"] += 1
        if not self._listening:
            self._poll.modify(self._lsock, _POLLIN)
            self._listening = True

    def _want(self, c, mask):
        if c.mask != mask:
            c.mask = mask
            self._poll.modify(c.sock, mask)

    def _sweep(self, now):
        for c in self._clients:
            if c.state != _ST_FREE and ticks_diff(now, c.last_ms) > self._idle_ms:
                self.stats["idle_closed"] += 1
                self._close(c)

    # -- receive ---------------------------------------------------------------

    def _read(self, c, buf, n):
        """readinto that returns -1 for 'nothing now', 0 for EOF/reset, else count."""
        try:
            k = c.sock.readinto(buf, n)
        except OSError as e:
            # (made with the heap locked, an OSError carries no args)
            if e.args and e.args[0] == errno.EAGAIN:
                return -1
            return 0
        if k is None:
            return -1
        return k

    def _recv(self, c):
        c.last_ms = ticks_ms()
        if c.state == _ST_BODY:
            self._recv_body(c)
            return
        room = len(c.buf) - c.n
        if c.n == 0:
            k = self._read(c, c.buf, room)
        else:
            self._unlocked()  # the head came in pieces: a view past what is held
            try:
                rest = c.mv[c.n :]
            finally:
                self._relock()
            k = self._read(c, rest, room)
        if k < 0:
            return
        if k == 0:
            self._close(c)
            return
        c.n += k
        self._count("bytes_in", k)
        self._parse(c)

    def _recv_body(self, c):
        # Discard into the head buffer: it holds nothing else while a body streams.
        while c.sink > 0:
            want = c.sink if c.sink < len(c.buf) else len(c.buf)
            k = self._read(c, c.buf, want)
            if k < 0:
                return
            if k == 0:
                self._close(c)
                return
            c.sink -= k
            c.sunk += k
            self._count("bytes_in", k)
        self._count("sink_bytes", c.sunk)
        self._reply_sink(c)

    def _head_end(self, c):
        """Index just after the blank line ending the head, or -1."""
        b = c.buf
        i = b.find(b"\n", c.scan, c.n)
        while i >= 0:
            if (i >= 1 and b[i - 1] == 10) or (i >= 2 and b[i - 1] == 13 and b[i - 2] == 10):
                return i + 1
            i = b.find(b"\n", i + 1, c.n)
        c.scan = c.n - 2 if c.n > 2 else 0
        return -1

    def _parse(self, c):
        if c.state != _ST_HEAD:
            return
        end = self._head_end(c)
        if end < 0:
            if c.n == len(c.buf):
                self._error(c, 413)
            return
        self.stats["requests"] += 1
        self._request(c, end)

    def _request(self, c, end):
        b = c.buf
        # request line: METHOD SP target SP HTTP/1.x
        le = b.find(b"\n", 0, end)
        line_end = le - 1 if le > 0 and b[le - 1] == 13 else le
        sp1 = b.find(b" ", 0, line_end)
        sp2 = b.find(b" ", sp1 + 1, line_end) if sp1 > 0 else -1
        if sp1 <= 0 or sp2 < 0 or sp2 == sp1 + 1 or b[sp1 + 1] != 47:  # target starts with '/'
            return self._error(c, 400)
        if _eq(b, sp2 + 1, line_end, b"HTTP/1.1"):
            http11 = True
        elif _eq(b, sp2 + 1, line_end, b"HTTP/1.0"):
            http11 = False
        else:
            return self._error(c, 400)
        if _eq(b, 0, sp1, b"GET"):
            method = _M_GET
        elif _eq(b, 0, sp1, b"HEAD"):
            method = _M_HEAD
        elif _eq(b, 0, sp1, b"POST"):
            method = _M_POST
        else:
            for i in range(sp1):
                if not 65 <= b[i] <= 90:
                    return self._error(c, 400)
            method = _M_OTHER
        # headers
        clen = -1
        keep = http11
        expect = False
        chunked = False
        host = False
        pos = le + 1
        while pos < end:
            nl = b.find(b"\n", pos, end)
            e = nl - 1 if nl > pos and b[nl - 1] == 13 else nl
            if e == pos:
                break  # the blank line
            colon = b.find(b":", pos, e)
            if colon <= pos or b[colon - 1] == 32 or b[pos] == 32 or b[pos] == 9:
                return self._error(c, 400)
            v = colon + 1
            while v < e and (b[v] == 32 or b[v] == 9):
                v += 1
            ve = e
            while ve > v and (b[ve - 1] == 32 or b[ve - 1] == 9):
                ve -= 1
            if _ieq(b, pos, colon, b"content-length"):
                n = _digits(b, v, ve)
                if n < 0:
                    return self._error(c, 413 if ve - v > 10 else 400)
                if clen >= 0 and clen != n:
                    return self._error(c, 400)
                clen = n
            elif _ieq(b, pos, colon, b"connection"):
                if _icontains(b, v, ve, b"close"):
                    keep = False
                elif _icontains(b, v, ve, b"keep-alive"):
                    keep = True
            elif _ieq(b, pos, colon, b"expect"):
                expect = _icontains(b, v, ve, b"100-continue")
            elif _ieq(b, pos, colon, b"transfer-encoding"):
                chunked = True
            elif _ieq(b, pos, colon, b"host"):
                host = True
            pos = nl + 1
        if http11 and not host:
            return self._error(c, 400)
        c.keep = keep
        # route: path ends at '?' or the space
        q = b.find(b"?", sp1 + 1, sp2)
        pe = q if q >= 0 else sp2
        p0 = sp1 + 1
        body = chunked or clen > 0
        if _eq(b, p0, pe, b"/sink"):
            if method != _M_POST:
                return self._error(c, 405, b"POST")
            if chunked or clen < 0:
                return self._error(c, 411)
            self._consume(c, end)
            c.sink = clen
            c.sunk = 0
            # bytes of the body that came with the head
            k = c.n if c.n < clen else clen
            if k:
                c.sink -= k
                c.sunk += k
                self._consume(c, k)
            if c.sink > 0:
                c.state = _ST_BODY
                if expect and c.sunk == 0:
                    # RFC 9110 10.1.1: the interim answer first (curl waits 1 s
                    # for it), then back to reading the body (see _done)
                    c.out_n = put(c.out, 0, b"HTTP/1.1 100 Continue\r\n\r\n")
                    c.out_off = 0
                    c.body = None
                    c.bulk = 0
                    c.cont = True
                    self._start_send(c)
                    return
                self._recv_body(c)
            else:
                self._count("sink_bytes", c.sunk)
                self._reply_sink(c)
            return
        if _eq(b, p0, pe, b"/"):
            route = 1
        elif _eq(b, p0, pe, b"/stats.json"):
            route = 2
        elif _eq(b, p0, pe, b"/bulk"):
            route = 3
        else:
            return self._error(c, 404)
        if method != _M_GET and method != _M_HEAD:
            return self._error(c, 405, b"GET, HEAD")
        if body:
            return self._error(c, 400)  # a body on GET/HEAD: refuse rather than guess
        head_only = method == _M_HEAD
        n = -1
        if route == 3:  # /bulk?n=N, read before _consume moves pipelined bytes down
            if q >= 0:
                a = b.find(b"n=", q, sp2)
                if a >= 0 and (a == q + 1 or b[a - 1] == 38):  # after '?' or '&'
                    z = b.find(b"&", a, sp2)
                    n = _digits(b, a + 2, z if z >= 0 else sp2)
            if n < 0:
                return self._error(c, 400)
        self._consume(c, end)
        if route == 1:
            self._unlocked()  # texts the page shows that changed (a lease)
            try:
                self.info.refresh()
            finally:
                self._relock()
            o = self._head(c, 200, b"text/html; charset=utf-8", -1)
            e = page.render_status(c.out, o, self.info, self)
            tail = page.TAIL  # a constant: the page's plot, tables and script
            put_int(c.out, c.len_at, e - o + len(tail))
            if head_only:
                c.out_n = o
            else:
                c.out_n = e
                c.body = tail  # sent as it is (corked: one segment with the values)
                c.body_off = 0
        elif route == 2:
            self._unlocked()  # json.dumps
            try:
                body = page.stats_json(self.info, self)
            finally:
                self._relock()
            o = self._head(c, 200, b"application/json", len(body))
            if not head_only:
                if o + len(body) <= len(c.out):
                    c.out[o : o + len(body)] = body
                    o += len(body)
                else:
                    c.body = body
                    c.body_off = 0
            c.out_n = o
        else:
            c.out_n = self._head(c, 200, b"application/octet-stream", n)
            if not head_only:
                c.bulk = n
                c.body_off = 0
        self.stats["s2xx"] += 1
        self._start_send(c)

    def _consume(self, c, k):
        """Drop the first k bytes of the head buffer, keeping what follows."""
        rest = c.n - k
        b = c.buf
        for i in range(rest):  # (a pipelined request: no view object)
            b[i] = b[k + i]
        c.n = rest if rest > 0 else 0
        c.scan = 0

    # -- responses ---------------------------------------------------------------

    def _head(self, c, status, ctype, length, allow=None):
        """Write the status line and headers into c.out; returns the end offset."""
        o = c.out
        p = put(o, 0, b"HTTP/1.1 ")
        p = put_int(o, p, status)
        o[p] = 32
        p = put(o, p + 1, _REASON[status])
        p = put(o, p, b"\r\nServer: ustack\r\nContent-Type: ")
        p = put(o, p, ctype)
        p = put(o, p, b"\r\nContent-Length: ")
        if length < 0:
            # filled in by _fill_len once the body is written; the unused digits
            # stay as spaces, which RFC 9110 5.5 allows as trailing whitespace
            c.len_at = p
            p = put(o, p, b"          ")
        else:
            p = put_int(o, p, length)
        if allow is not None:
            p = put(o, p, b"\r\nAllow: ")
            p = put(o, p, allow)
        p = put(o, p, b"\r\nConnection: keep-alive\r\n\r\n" if c.keep else b"\r\nConnection: close\r\n\r\n")
        c.out_off = 0
        c.body = None
        c.bulk = 0
        return p

    def _error(self, c, status, allow=None):
        c.keep = False  # the rest of the stream cannot be trusted: close after
        reason = _REASON[status]
        p = self._head(c, status, b"text/plain", len(reason) + 1, allow)
        p = put(c.out, p, reason)
        c.out[p] = 10
        c.out_n = p + 1
        c.n = 0
        self.stats["s4xx"] += 1
        self._start_send(c)

    def _reply_sink(self, c):
        # the body: the count and a newline, written after a fixed-size length field
        o = c.out
        p = self._head(c, 200, b"text/plain", -1)
        e = put_int(o, p, c.sunk)
        o[e] = 10
        put_int(o, c.len_at, e + 1 - p)
        c.out_n = e + 1
        self.stats["s2xx"] += 1
        self._start_send(c)

    def _start_send(self, c):
        c.state = _ST_SEND
        _cork(c.sock, 1)  # head and body leave in full segments, not one per write
        self._want(c, _POLLOUT)
        self._send(c)

    def _write(self, c, buf, off, n):
        try:
            k = c.sock.write(buf, off, n)
        except OSError as e:
            if e.args and e.args[0] == errno.EAGAIN:
                return -1
            return 0
        if k is None:
            return -1
        return k

    def _send(self, c):
        c.last_ms = ticks_ms()
        while True:
            if c.out_off < c.out_n:
                k = self._write(c, c.out, c.out_off, c.out_n - c.out_off)
                if k > 0:
                    c.out_off += k
            elif c.body is not None and c.body_off < len(c.body):
                k = self._write(c, c.body, c.body_off, len(c.body) - c.body_off)
                if k > 0:
                    c.body_off += k
            elif c.bulk > 0:
                ch = self._chunk
                o = c.body_off  # where the stream is inside the chunk
                k = len(ch) - o
                k = self._write(c, ch, o, c.bulk if c.bulk < k else k)
                if k > 0:
                    c.bulk -= k
                    o += k
                    c.body_off = 0 if o == len(ch) else o
            else:
                self._done(c)
                return
            if k < 0:
                return  # wait for POLLOUT
            if k == 0:
                self.stats["errors"] += 1
                self._close(c)
                return
            self._count("bytes_out", k)

    def _done(self, c):
        c.body = None
        _cork(c.sock, 0)  # the response is complete: its last segment goes now
        if c.cont:  # "100 Continue" went out: now the body
            c.cont = False
            c.state = _ST_BODY
            self._want(c, _POLLIN)
            self._recv_body(c)
            return
        if not c.keep:
            self._close(c)
            return
        c.state = _ST_HEAD
        self._want(c, _POLLIN)
        if c.n:
            self._parse(c)  # a pipelined request is already here
