"""stack.socket and stack.aio as clients and servers on the simulator, with
Linux sockets in the namespace as the peers. One MicroPython script per module
runs every case and prints "CHECK name ok|FAIL detail"; each test asserts on
one line."""

import socket
import threading
import time

import pytest

from test_aio_microdot import SITE, AppSim  # noqa: F401  (SITE: skip condition)

HOST = "192.0.2.1"
STACK = "192.0.2.2"

SCRIPT = r'''
import sys
import gc

from firmware import main as fw
from stack import socket
from stack.tcp import TCP

gc.collect()
iface = fw.start({"board": "unix_tap", "fd": int(sys.argv[1])})
TCP(iface, iface.cfg)
socket.attach(iface)


def check(name, ok, detail=""):
    print("CHECK", name, "ok" if ok else "FAIL " + str(detail))


def case(name, fn):
    try:
        fn()
    except Exception as e:
        check(name, False, repr(e))


def echo_client():
    ai = socket.getaddrinfo("192.0.2.1", 7000)[0]
    s = socket.socket(ai[0], ai[1], ai[2])
    s.settimeout(10)
    s.connect(ai[-1])
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytes(range(256)) * 40
    s.sendall(data)
    got = bytearray()
    buf = bytearray(700)
    while len(got) < len(data):
        k = s.recv_into(buf)
        if not k:
            break
        got.extend(buf[:k])
    s.close()
    check("tcp_echo_client", got == data, len(got))


def refused():
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("192.0.2.1", 7001))
        check("connect_refused", False, "connected")
    except OSError as e:
        check("connect_refused", e.args[0] == 111, e)
    s.close()


def server():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(socket.getaddrinfo("0.0.0.0", 8000)[0][-1])
    srv.listen(2)
    srv.settimeout(15)
    c, addr = srv.accept()
    c.settimeout(10)
    line = c.readline()
    c.write(b"pong " + line)
    c.close()
    srv.close()
    check("tcp_server_accept", line == b"ping\n" and addr[0] == "192.0.2.1", (line, addr))


def timeout():
    s = socket.socket()
    s.settimeout(10)
    s.connect(("192.0.2.1", 7003))  # a Linux server that never sends
    s.settimeout(0.3)
    try:
        s.recv(10)
        check("recv_timeout", False, "returned")
    except OSError as e:
        check("recv_timeout", e.args[0] == 110, e)
    s.setblocking(False)
    try:
        s.recv(10)
        check("recv_nonblocking", False, "returned")
    except OSError as e:
        check("recv_nonblocking", e.args[0] == 11, e)
    s.close()


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 5005))
    s.settimeout(5)
    for _ in range(5):  # the first datagram may wait on ARP
        s.sendto(b"hello udp", ("192.0.2.1", 7002))
        try:
            data, addr = s.recvfrom(100)
            break
        except OSError:
            data, addr = b"", None
    s.close()
    check("udp_sendto_recvfrom", data == b"HELLO UDP" and addr == ("192.0.2.1", 7002),
          (data, addr))


def poll_object():
    srv = socket.socket()
    srv.bind(("0.0.0.0", 8001))
    srv.listen(2)
    srv.setblocking(False)
    p = socket.poll()
    p.register(srv, socket.POLLIN)
    ready = p.poll(15000)
    ok = len(ready) == 1 and ready[0][0] is srv and ready[0][1] & socket.POLLIN
    c, _ = srv.accept()
    c.setblocking(False)
    p.register(c, socket.POLLIN)
    got = None
    for _ in range(100):
        for obj, ev in p.ipoll(100):
            if obj is c:
                got = c.recv(10)
        if got:
            break
    c.close()
    srv.close()
    check("poll_accept_and_read", ok and got == b"poll", (ready, got))


def aio_client():
    import asyncio
    from stack import aio

    async def main():
        r, w = await aio.open_connection("192.0.2.1", 7000)
        w.write(b"line one\nline two\n")
        await w.drain()
        a = await r.readline()
        b = await r.readexactly(9)
        w.write(b"0123456789" * 300)
        await w.drain()
        got = b""
        while len(got) < 3000:
            got += await r.read(1000)
        peer = w.get_extra_info("peername")
        w.close()
        await w.wait_closed()
        return a, b, got, peer

    a, b, got, peer = asyncio.run(main())
    check("aio_open_connection", a == b"line one\n" and b == b"line two\n"
          and got == b"0123456789" * 300 and peer == ("192.0.2.1", 7000), (a, b, len(got), peer))


def native_asyncio():
    # MicroPython's own asyncio Stream over a stack socket, waiting through
    # select.poll -> socket.ioctl (io.IOBase), no stack.aio involved
    import asyncio

    s = socket.socket()
    s.settimeout(10)
    s.connect(("192.0.2.1", 7000))
    s.setblocking(False)

    async def main():
        st = asyncio.StreamWriter(s, {})
        st.write(b"native asyncio\n" * 200)
        await st.drain()
        got = b""
        while len(got) < 15 * 200:
            got += await st.read(1000)
        st.close()
        return got

    got = asyncio.run(main())
    check("native_asyncio_stream", got == b"native asyncio\n" * 200, len(got))


def aio_server():
    import asyncio
    from stack import aio

    seen = []

    async def handle(r, w):
        line = await r.readline()
        seen.append(w.get_extra_info("peername"))
        await w.awrite(b"aio " + line)
        await w.aclose()

    async def main():
        async with await aio.start_server(handle, "0.0.0.0", 8002) as srv:
            for _ in range(300):
                if seen:
                    break
                await asyncio.sleep_ms(50)
            await asyncio.sleep_ms(100)
        return seen

    seen = asyncio.run(main())
    # the port is free again once the server closed
    srv2 = socket.socket()
    srv2.bind(("0.0.0.0", 8002))
    srv2.listen(1)
    srv2.close()
    check("aio_start_server_close", len(seen) == 1 and seen[0][0] == "192.0.2.1", seen)


for name, fn in (("native_asyncio_stream", native_asyncio), ("aio_server", aio_server), ("tcp_echo_client", echo_client), ("connect_refused", refused),
                 ("tcp_server_accept", server), ("recv_timeout", timeout),
                 ("udp_sendto_recvfrom", udp), ("poll_accept_and_read", poll_object),
                 ("aio_open_connection", aio_client)):
    case(name, fn)
print("DONE")
'''


def _echo_server(sock, stop):
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            c, _ = sock.accept()
        except socket.timeout:
            continue
        except OSError:
            return

        def serve(c=c):
            c.settimeout(30)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            c.close()

        threading.Thread(target=serve, daemon=True).start()


def _silent_server(sock, stop, held):
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            c, _ = sock.accept()
            held.append(c)
        except socket.timeout:
            continue
        except OSError:
            return


def _udp_upper(sock, stop):
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            d, a = sock.recvfrom(2048)
        except socket.timeout:
            continue
        except OSError:
            return
        sock.sendto(d.upper(), a)


def _connect_and(sim_ns_socket, port, send, expect_reply, results, key):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s = sim_ns_socket(socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((STACK, port))
        except OSError:
            s.close()
            time.sleep(0.2)
            continue
        s.sendall(send)
        out = b""
        if expect_reply:
            try:
                while True:
                    d = s.recv(100)
                    if not d:
                        break
                    out += d
            except OSError:
                pass
        results[key] = out
        s.close()
        return


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    from host_tools.netns import InNetns

    sim = AppSim(tmp_path_factory.mktemp("sock"), script=SCRIPT, heap="256wK", wait_http=False)
    stop = threading.Event()
    held = []
    results = {}
    try:
        def ns_socket(kind):
            with InNetns(sim.netns):
                return socket.socket(socket.AF_INET, kind)

        echo = ns_socket(socket.SOCK_STREAM)
        echo.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        echo.bind((HOST, 7000))
        echo.listen(4)
        silent = ns_socket(socket.SOCK_STREAM)
        silent.bind((HOST, 7003))
        silent.listen(4)
        udp = ns_socket(socket.SOCK_DGRAM)
        udp.bind((HOST, 7002))
        for target, args in ((_echo_server, (echo, stop)), (_silent_server, (silent, stop, held)),
                             (_udp_upper, (udp, stop)),
                             (_connect_and, (ns_socket, 8000, b"ping\n", True, results, "srv")),
                             (_connect_and, (ns_socket, 8001, b"poll", False, results, "poll")),
                             (_connect_and, (ns_socket, 8002, b"hi\n", True, results, "aio"))):
            threading.Thread(target=target, args=args, daemon=True).start()
        deadline = time.monotonic() + 90
        while sim.proc.poll() is None and "DONE" not in sim.output():
            assert time.monotonic() < deadline, sim.output()
            time.sleep(0.1)
        out = sim.output()
        lines = {}
        for line in out.splitlines():
            if line.startswith("CHECK "):
                _, name, rest = line.split(" ", 2)
                lines[name] = rest
        lines["_log"] = out
        lines["_results"] = results
        yield lines
    finally:
        stop.set()
        sim.stop()


@pytest.mark.parametrize("name", ["tcp_echo_client", "connect_refused", "tcp_server_accept",
                                  "recv_timeout", "recv_nonblocking", "udp_sendto_recvfrom",
                                  "poll_accept_and_read", "aio_open_connection",
                                  "native_asyncio_stream", "aio_start_server_close"])
def test_socket_api_case_on_the_stack(checks, name):
    assert checks.get(name) == "ok", "%s: %s\n%s" % (name, checks.get(name), checks["_log"])


def test_linux_got_the_servers_reply(checks):
    assert checks["_results"].get("srv") == b"pong ping\n"
    assert checks["_results"].get("aio") == b"aio hi\n"
