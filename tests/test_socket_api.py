"""stack.socket against a loopback stand-in for the TCP engine that follows the
API in docs/tcp.md (Conn.send/recv_into/readable/writable/..., listen/accept/
connect). Proves the socket layer's semantics (blocking, timeouts, errno values,
poll readiness, stream methods) on CPython without the wire."""

import errno

import pytest

from stack import socket as ssock


class FakeConn:
    def __init__(self, tcp, rx_size=64, tx_size=64):
        self.tcp = tcp
        self.peer = None
        self.rx = bytearray()
        self.rx_size = rx_size
        self.fin = False
        self.error = 0
        self.nodelay = False
        self.is_closed = False
        self.state = 4
        self.local_port = 0
        self.remote_port = 0
        self.remote_ip = bytearray(b"\xc0\x00\x02\x01")
        self.up = True

    def connected(self):
        return self.up

    def closed(self):
        return self.is_closed or self.error != 0

    def readable(self):
        return bool(self.rx) or self.fin or self.error != 0

    def writable(self):
        return self.error != 0 or (self.peer is not None and
                                   len(self.peer.rx) < self.peer.rx_size)

    def send(self, buf, off, n):
        if self.error:
            raise OSError(self.error)
        if self.is_closed or self.peer is None or self.peer.fin:
            raise OSError(errno.EPIPE)
        room = self.peer.rx_size - len(self.peer.rx)
        k = min(room, n)
        self.peer.rx += bytes(buf[off:off + k])
        return k

    def recv_into(self, buf, off, n):
        if self.rx:
            k = min(n, len(self.rx))
            buf[off:off + k] = self.rx[:k]
            del self.rx[:k]
            return k
        if self.error:
            raise OSError(self.error)
        return 0 if self.fin else -1

    def shutdown(self):
        self.shut = True
        if self.peer is not None:
            self.peer.fin = True

    def close(self):
        self.is_closed = True
        if self.peer is not None:
            self.peer.fin = True

    def abort(self):
        self.close()

    def set_keepalive(self, on, **kw):
        pass


class FakeListener:
    def __init__(self, tcp, port, backlog):
        self.tcp = tcp
        self.port = port
        self.backlog = backlog
        self.queue = []

    def acceptable(self):
        return bool(self.queue)

    def close(self):
        self.tcp.listeners.pop(self.port, None)


class FakeTCP:
    def __init__(self):
        self.listeners = {}
        self.refuse = set()

    def listen(self, port, backlog=2):
        if port in self.listeners:
            raise OSError(errno.EADDRINUSE)
        self.listeners[port] = FakeListener(self, port, backlog)
        return self.listeners[port]

    def accept(self, lst):
        return lst.queue.pop(0) if lst.queue else None

    def connect(self, ip, port, now_ms, src_port=0):
        a = FakeConn(self)
        a.remote_port = port
        if port in self.refuse or port not in self.listeners:
            a.up = False
            a.error = errno.ECONNREFUSED
            return a
        b = FakeConn(self)
        b.remote_port = 40000
        a.peer, b.peer = b, a
        self.listeners[port].queue.append(b)
        return a


class FakeUDP:
    def socket(self):
        raise OSError(errno.ENOMEM)


class FakeDriver:
    def __init__(self):
        self.waited = 0

    def wait(self, ms):
        self.waited += 1


class FakeIface:
    def __init__(self):
        self.tcp = FakeTCP()
        self.udp = FakeUDP()
        self.driver = FakeDriver()
        self.polls = 0

    def poll(self, now_ms):
        self.polls += 1
        return 10

    def poll_at(self, now_ms):
        return 10


@pytest.fixture
def iface():
    i = FakeIface()
    ssock.attach(i)
    yield i
    ssock.attach(None)


def pair(port=80):
    srv = ssock.socket()
    srv.setsockopt(ssock.SOL_SOCKET, ssock.SO_REUSEADDR, 1)
    srv.bind(ssock.getaddrinfo("0.0.0.0", port)[0][-1])
    srv.listen(2)
    cli = ssock.socket()
    cli.connect(("192.0.2.2", port))
    conn, addr = srv.accept()
    return srv, cli, conn, addr


def test_getaddrinfo_numeric(iface):
    # names go through stack.dns: tests/test_dns.py
    assert ssock.getaddrinfo("192.0.2.2", 80) == [
        (ssock.AF_INET, ssock.SOCK_STREAM, ssock.IPPROTO_TCP, "", ("192.0.2.2", 80))]


def test_inet_pton_ntop_round_trip():
    assert ssock.inet_pton(ssock.AF_INET, "192.0.2.7") == b"\xc0\x00\x02\x07"
    assert ssock.inet_ntop(ssock.AF_INET, b"\xc0\x00\x02\x07") == "192.0.2.7"


def test_accept_connect_send_recv(iface):
    srv, cli, conn, addr = pair()
    assert addr == ("192.0.2.1", 40000)
    assert cli.send(b"hello") == 5
    assert conn.recv(100) == b"hello"
    conn.send(b"world")
    assert cli.recv(3) == b"wor"
    assert cli.recv(10) == b"ld"


def test_sendall_larger_than_ring_with_reader_progress(iface):
    srv, cli, conn, addr = pair()
    # Let the "engine" drain the peer ring on each poll, as a reader would.
    drained = bytearray()

    def poll(now):
        drained.extend(cli._conn.rx)
        cli._conn.rx.clear()
        return 1

    iface.poll = poll
    conn.sendall(b"y" * 1000)
    poll(0)
    assert bytes(drained) == b"y" * 1000


def test_nonblocking_recv_raises_eagain_and_readinto_returns_none(iface):
    srv, cli, conn, addr = pair()
    conn.setblocking(False)
    with pytest.raises(OSError) as e:
        conn.recv(10)
    assert e.value.args[0] == errno.EAGAIN
    assert conn.readinto(bytearray(10)) is None
    cli.send(b"abc")
    b = bytearray(10)
    assert conn.readinto(b) == 3 and b[:3] == b"abc"


def test_nonblocking_write_returns_none_when_full(iface):
    srv, cli, conn, addr = pair()
    conn.setblocking(False)
    assert conn.write(b"z" * 100) == 64
    assert conn.write(b"z") is None
    assert conn.write(b"0123456789", 2, 3) is None
    cli._conn.rx.clear()
    assert conn.write(b"0123456789", 2, 3) == 3
    assert bytes(cli._conn.rx) == b"234"


def test_timeout_raises_etimedout(iface):
    srv, cli, conn, addr = pair()
    conn.settimeout(0.05)
    with pytest.raises(OSError) as e:
        conn.recv(10)
    assert e.value.args[0] == errno.ETIMEDOUT
    assert iface.polls > 0  # the blocking call drove the engine


def test_recv_returns_empty_at_end_of_stream(iface):
    srv, cli, conn, addr = pair()
    cli.send(b"bye")
    cli.close()
    assert conn.recv(10) == b"bye"
    assert conn.recv(10) == b""


def test_connect_refused_raises_econnrefused(iface):
    s = ssock.socket()
    with pytest.raises(OSError) as e:
        s.connect(("192.0.2.1", 9))
    assert e.value.args[0] == errno.ECONNREFUSED


def test_nonblocking_connect_raises_einprogress(iface):
    srv = ssock.socket()
    srv.bind(("0.0.0.0", 81))
    srv.listen(1)
    s = ssock.socket()
    s.setblocking(False)
    with pytest.raises(OSError) as e:
        s.connect(("192.0.2.2", 81))
    assert e.value.args[0] == errno.EINPROGRESS


def test_listen_twice_on_a_port_is_eaddrinuse(iface):
    a = ssock.socket()
    a.bind(("0.0.0.0", 80))
    a.listen(1)
    b = ssock.socket()
    b.bind(("0.0.0.0", 80))
    with pytest.raises(OSError) as e:
        b.listen(1)
    assert e.value.args[0] == errno.EADDRINUSE


def test_use_after_close_is_ebadf(iface):
    srv, cli, conn, addr = pair()
    conn.close()
    with pytest.raises(OSError) as e:
        conn.send(b"x")
    assert e.value.args[0] == errno.EBADF


def test_nodelay_reaches_the_connection(iface):
    srv, cli, conn, addr = pair()
    conn.setsockopt(ssock.IPPROTO_TCP, ssock.TCP_NODELAY, 1)
    assert conn._conn.nodelay is True


def test_poll_reports_accept_read_write_and_hup(iface):
    srv = ssock.socket()
    srv.bind(("0.0.0.0", 80))
    srv.listen(2)
    srv.setblocking(False)
    p = ssock.poll()
    p.register(srv, ssock.POLLIN)
    assert p.poll(0) == []
    cli = ssock.socket()
    cli.connect(("192.0.2.2", 80))
    assert [(o, e) for o, e in p.ipoll(0)] == [(srv, ssock.POLLIN)]
    conn, _ = srv.accept()
    p.register(conn, ssock.POLLIN)
    cli.send(b"q")
    ready = {o: e for o, e in p.ipoll(0)}
    assert ready == {conn: ssock.POLLIN}
    p.modify(conn, ssock.POLLIN | ssock.POLLOUT)
    ready = {o: e for o, e in p.ipoll(0)}
    assert ready[conn] == ssock.POLLIN | ssock.POLLOUT
    p.unregister(conn)
    assert [o for o, e in p.ipoll(0)] == []


def test_poll_with_timeout_drives_the_engine_and_returns(iface):
    srv = ssock.socket()
    srv.bind(("0.0.0.0", 80))
    srv.listen(2)
    p = ssock.poll()
    p.register(srv, ssock.POLLIN)
    assert p.poll(30) == []
    assert iface.polls >= 2 and iface.driver.waited >= 1


def test_poll_without_drive_reports_without_an_engine_pass(iface):
    # firmware/web.py's server steps right after the loop's iface.poll():
    # its ipoll(0) must not run the engine again; a timeout still drives it
    srv = ssock.socket()
    srv.bind(("0.0.0.0", 80))
    srv.listen(2)
    p = ssock.poll(drive=False)
    p.register(srv, ssock.POLLIN)
    n = iface.polls
    assert [o for o, e in p.ipoll(0)] == [] and p.poll(0) == []
    assert iface.polls == n  # nothing ran the engine
    cli = ssock.socket()
    cli.connect(("192.0.2.2", 80))
    assert [(o, e) for o, e in p.ipoll(0)] == [(srv, ssock.POLLIN)]  # still reported
    p.poll(30)
    assert iface.polls > n  # a wait drives it
    driven = ssock.poll()
    driven.register(srv, ssock.POLLIN)
    n = iface.polls
    driven.poll(0)
    assert iface.polls == n + 1


def test_ioctl_poll_matches_events(iface):
    srv, cli, conn, addr = pair()
    assert conn.ioctl(3, ssock.POLLIN) == 0
    cli.send(b"a")
    assert conn.ioctl(3, ssock.POLLIN | ssock.POLLOUT) == ssock.POLLIN | ssock.POLLOUT


def test_shutdown_write_sends_fin_and_keeps_reading(iface):
    srv, cli, conn, addr = pair()
    cli.shutdown(ssock.SHUT_WR)
    assert conn.recv(10) == b""
    conn.send(b"late")
    assert cli.recv(10) == b"late"
