"""The HTTP server (firmware/http.py) on the MicroPython unix port's own kernel
sockets, bound to 127.0.0.1 on a free port: proves the server logic apart from
the stack. Loads are bounded (ab -n, wrk -d)."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MPY = ROOT / ".venv" / "bin" / "micropython"

pytestmark = pytest.mark.skipif(not MPY.exists(), reason="MicroPython unix port not installed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(*extra):
    port = free_port()
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    proc = subprocess.Popen(
        [str(MPY), "-X", "heapsize=64wK", str(ROOT / "firmware" / "http_unix.py"),
         "--port", str(port), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(ROOT))
    line = proc.stdout.readline()
    assert line.startswith("LISTENING"), line
    return proc, port


@pytest.fixture(scope="module")
def server():
    proc, port = start_server()
    yield port
    proc.terminate()
    proc.wait(5)


def raw(port, data, timeout=5.0):
    """Send bytes, read until the server closes; returns everything received."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        try:
            k = s.recv(65536)
        except ConnectionResetError:
            break
        if not k:
            break
        out += k
    s.close()
    return out


def curl(*args):
    return subprocess.run(["curl", "-s", "--max-time", "20", *args], capture_output=True,
                          check=True)


def status_of(resp):
    return int(resp.split(b" ", 2)[1])


def test_get_root_is_html_with_status_fields(server):
    r = curl("-i", "http://127.0.0.1:%d/" % server).stdout
    head, body = r.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK")
    clen = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    assert clen == len(body)
    for word in (b"uptime", b"IP", b"MAC", b"link", b"<!doctype html>"):
        assert word in body


def test_head_root_has_length_and_no_body(server):
    get = curl("-i", "http://127.0.0.1:%d/" % server).stdout
    r = raw(server, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = r.split(b"\r\n\r\n", 1)
    assert body == b""
    clen = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    assert clen == len(get.split(b"\r\n\r\n", 1)[1])


def test_stats_json_is_valid_json(server):
    doc = json.loads(curl("http://127.0.0.1:%d/stats.json" % server).stdout)
    assert doc["http"]["requests"] >= 1
    assert "tcp_connections" in doc and "uptime_ms" in doc


@pytest.mark.parametrize("req,status", [
    (b"BAD\r\n\r\n", 400),
    (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    (b"GET nope HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host (RFC 9112 3.2)
    (b"GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400),
    (b"GET /bulk?n=abc HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"DELETE /stats.json HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /sink HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
])
def test_error_statuses_close_the_connection(server, req, status):
    r = raw(server, req)
    assert status_of(r) == status
    assert b"Connection: close" in r
    if status == 405:
        assert b"\r\nAllow: " in r


def test_head_over_limit_is_413(server):
    req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 3000 + b"\r\n\r\n"
    assert status_of(raw(server, req)) == 413


def test_keep_alive_serves_several_requests_on_one_connection(server):
    s = socket.create_connection(("127.0.0.1", server), timeout=5)
    f = s.makefile("rb")
    for _ in range(5):
        s.sendall(b"GET /bulk?n=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
        line = f.readline()
        assert line.startswith(b"HTTP/1.1 200")
        clen = None
        while True:
            h = f.readline()
            if h == b"\r\n":
                break
            if h.lower().startswith(b"content-length:"):
                clen = int(h.split(b":")[1])
        assert f.read(clen) == bytes(97 + i % 26 for i in range(1000))
    s.close()


def test_pipelined_requests_are_answered_in_order(server):
    req = b"GET /bulk?n=3 HTTP/1.1\r\nHost: x\r\n\r\n" * 3
    r = raw(server, req + b"GET /bulk?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.count(b"HTTP/1.1 200 OK") == 4
    assert r.endswith(b"\r\n\r\nab")


def test_http10_closes_unless_keep_alive(server):
    r = raw(server, b"GET /bulk?n=5 HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in r and r.endswith(b"abcde")


def test_bulk_exact_byte_count(server):
    r = curl("http://127.0.0.1:%d/bulk?n=10000000" % server)
    assert r.stdout == (b"abcdefghijklmnopqrstuvwxyz" * 384616)[:10000000]


def test_bulk_head_has_length_only(server):
    r = raw(server, b"HEAD /bulk?n=123456 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Content-Length: 123456\r\n" in r and r.endswith(b"\r\n\r\n")


def test_sink_counts_body_exactly(server, tmp_path):
    body = tmp_path / "body"
    body.write_bytes(os.urandom(1 << 20) * 10)  # 10 MiB
    r = curl("--data-binary", "@" + str(body), "http://127.0.0.1:%d/sink" % server)
    assert r.stdout.strip() == str(10 << 20).encode()


def test_sink_small_body_with_head(server):
    r = raw(server, b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Connection: close\r\n\r\nhello")
    assert r.endswith(b"\r\n\r\n5\n")


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk not installed")
def test_wrk_four_connections_no_errors(server):
    r = subprocess.run(["wrk", "-t1", "-c4", "-d5s", "http://127.0.0.1:%d/" % server],
                       capture_output=True, text=True, timeout=30)
    assert "Socket errors" not in r.stdout, r.stdout
    assert "Non-2xx" not in r.stdout, r.stdout
    assert int(re.search(r"(\d+) requests in", r.stdout).group(1)) > 100


@pytest.mark.skipif(not shutil.which("ab"), reason="ab not installed")
def test_ab_2000_requests_8_concurrent_no_failures(server):
    r = subprocess.run(["ab", "-q", "-n", "2000", "-c", "8", "http://127.0.0.1:%d/" % server],
                       capture_output=True, text=True, timeout=60)
    assert "Complete requests:      2000" in r.stdout, r.stdout
    assert "Failed requests:        0" in r.stdout, r.stdout


def test_more_clients_than_slots_are_queued_not_dropped(server):
    # 4 slots: 10 connections at once, each one request; all are answered.
    socks = [socket.create_connection(("127.0.0.1", server), timeout=10) for _ in range(10)]
    for s in socks:
        s.sendall(b"GET /bulk?n=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for s in socks:
        out = b""
        while True:
            k = s.recv(4096)
            if not k:
                break
            out += k
        assert out.endswith(b"abcdefghij")
        s.close()


def test_keep_alive_request_leaves_no_garbage():
    proc, port = start_server("--alloc-probe", "500")
    try:
        r = subprocess.run(["ab", "-q", "-k", "-n", "520", "-c", "1",
                            "http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                           timeout=60)
        assert "Failed requests:        0" in r.stdout
        line = proc.stdout.readline()
        m = re.search(r"per_request=(\d+)", line)
        assert m, line
        assert int(m.group(1)) == 0, line
    finally:
        proc.terminate()
        proc.wait(5)
