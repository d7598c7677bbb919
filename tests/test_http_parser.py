"""firmware/http.py's request handling on CPython against a fake socket module:
property tests (hypothesis) over arbitrary bytes, arbitrary read chunking and
partial writes. Arbitrary input never raises out of step() and always leaves
valid responses or nothing; pipelined valid requests get exact answers."""

import errno
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.http import HTTPServer

POLLIN, POLLOUT = 1, 4


class FakeConn:
    def __init__(self, chunks, wlimit):
        self.chunks = list(chunks)
        self.out = bytearray()
        self.wlimit = wlimit
        self.closed = False
        self.blocked_once = False

    def setblocking(self, flag):
        pass

    def setsockopt(self, *a):
        pass

    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        if not self.chunks:
            return 0  # end of stream
        c = self.chunks[0]
        k = min(n, len(c))
        buf[0:k] = c[:k]
        if k == len(c):
            self.chunks.pop(0)
        else:
            self.chunks[0] = c[k:]
        return k

    def write(self, buf, off=0, n=-1):
        if self.closed:
            raise OSError(errno.EPIPE)
        if n < 0:
            n = len(buf) - off
        if not self.blocked_once and n > 1:
            self.blocked_once = True  # one "would block" per connection
            return None
        k = min(n, self.wlimit)
        self.out += bytes(buf[off:off + k])
        return k

    def close(self):
        self.closed = True


class FakeListener:
    def __init__(self):
        self.pending = []

    def setsockopt(self, *a):
        pass

    def bind(self, a):
        pass

    def listen(self, n):
        pass

    def setblocking(self, f):
        pass

    def accept(self):
        if not self.pending:
            raise OSError(errno.EAGAIN)
        return self.pending.pop(0), ("192.0.2.1", 40000)

    def close(self):
        pass


class FakePoll:
    def __init__(self):
        self.masks = {}

    def register(self, o, m):
        self.masks[o] = m

    def modify(self, o, m):
        self.masks[o] = m

    def unregister(self, o):
        del self.masks[o]

    def ipoll(self, t=0):
        out = []
        for o, m in list(self.masks.items()):
            if isinstance(o, FakeListener):
                ev = POLLIN if o.pending else 0
            else:
                ev = POLLIN | POLLOUT
            if ev & m:
                out.append((o, ev & m))
        return out


class FakeSocketModule:
    AF_INET = 2
    SOCK_STREAM = 1
    SOL_SOCKET = 1
    SO_REUSEADDR = 2

    def __init__(self):
        self.listener = FakeListener()

    def socket(self, *a):
        return self.listener

    def getaddrinfo(self, host, port):
        return [(2, 1, 6, "", (host, port))]


def serve(chunks, wlimit=1 << 20, head_max=512):
    sm = FakeSocketModule()
    srv = HTTPServer(sm, port=80, max_clients=2, head_max=head_max, out_max=1024, chunk=260,
                     poll_factory=FakePoll)
    conn = FakeConn(chunks, wlimit)
    sm.listener.pending.append(conn)
    for _ in range(100000):
        srv.step(0)
        if conn.closed:
            break
    assert conn.closed, "the server neither finished nor closed"
    assert srv.connections() == 0
    return bytes(conn.out)


def responses(out):
    """Split the server's output into (status, headers dict, body) triples."""
    res = []
    pos = 0
    while pos < len(out):
        end = out.index(b"\r\n\r\n", pos)
        head = out[pos:end].decode()
        lines = head.split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) [A-Za-z ]+$", lines[0])
        assert m, lines[0]
        hdrs = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            hdrs[k.lower()] = v.strip()
        n = int(hdrs["content-length"])
        status = int(m.group(1))
        body_len = 0 if hdrs.get("x-head") else n
        res.append((status, hdrs, pos, end + 4))
        pos = end + 4
        if status != 100:
            res[-1] = (status, hdrs, out[pos:pos + body_len])
            pos += body_len
    return res


def split(data, cuts):
    cuts = sorted(set(c % (len(data) + 1) for c in cuts))
    out = []
    last = 0
    for c in cuts + [len(data)]:
        if c > last:
            out.append(data[last:c])
            last = c
    return out


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1500), st.lists(st.integers(0, 2000), max_size=8),
       st.integers(1, 300))
def test_arbitrary_bytes_never_raise_and_answers_are_well_formed(data, cuts, wlimit):
    out = serve(split(data, cuts), wlimit)
    if out:
        for status, hdrs, body in responses(out):
            assert status in (200, 400, 404, 405, 411, 413)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="GETPOSHADX /?=&n0123456789:.\r\nabc", max_size=80),
                max_size=6),
       st.lists(st.integers(0, 2000), max_size=6))
def test_request_like_text_never_raises(lines, cuts):
    data = "\r\n".join(lines).encode() + b"\r\n\r\n"
    out = serve(split(data, cuts))
    for status, hdrs, body in responses(out):
        assert status in (200, 400, 404, 405, 411, 413)


def alphabet(n):
    return (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]


REQ = st.one_of(
    st.tuples(st.just("bulk"), st.integers(0, 3000)),
    st.tuples(st.just("headbulk"), st.integers(0, 3000)),
    st.tuples(st.just("sink"), st.integers(0, 3000)),
    st.tuples(st.just("root"), st.just(0)),
    st.tuples(st.just("404"), st.just(0)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(REQ, min_size=1, max_size=5), st.lists(st.integers(0, 20000), max_size=10),
       st.integers(1, 700))
def test_pipelined_valid_requests_get_exact_answers(reqs, cuts, wlimit):
    data = b""
    for kind, n in reqs:
        if kind == "bulk":
            data += b"GET /bulk?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % n
        elif kind == "headbulk":
            data += b"HEAD /bulk?n=%d HTTP/1.1\r\nhost: x\r\n\r\n" % n
        elif kind == "sink":
            data += b"POST /sink HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: %d\r\n\r\n" % n
            data += bytes(range(256)) * (n // 256) + bytes(n % 256)
        elif kind == "root":
            data += b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        else:
            data += b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
    out = serve(split(data, cuts), wlimit)
    # parse with HEAD awareness: HEAD answers carry a length but no body
    pos = 0
    for kind, n in reqs:
        end = out.index(b"\r\n\r\n", pos)
        head = out[pos:end].decode()
        pos = end + 4
        clen = int(re.search(r"Content-Length: (\d+)", head).group(1))
        if kind == "404":
            assert head.startswith("HTTP/1.1 404")
            break  # errors close the connection
        assert head.startswith("HTTP/1.1 200 OK"), head
        if kind == "headbulk":
            assert clen == n
            continue
        body = out[pos:pos + clen]
        pos += clen
        if kind == "bulk":
            assert body == alphabet(n)
        elif kind == "sink":
            assert body == b"%d\n" % n
        else:
            assert body.startswith(b"<!doctype html>")
    else:
        assert pos == len(out)


def test_head_limit_is_413_and_closes():
    out = serve([b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 600 + b"\r\n\r\n"], head_max=512)
    assert out.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in out


def test_expect_100_continue_is_answered_before_the_body():
    out = serve([b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                 b"Expect: 100-continue\r\n\r\n", b"abc"])
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert out.endswith(b"\r\n\r\n3\n")
