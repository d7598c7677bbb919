# The baseline to beat: a minimal HTTP/1.1 server on the MicroPython unix
# port's own kernel sockets (socket + select.poll), written to be small and
# fast rather than thrifty: responses are prebuilt, requests are read with
# recv() (which allocates). Serves
#   GET /            a fixed 1024-byte page (keep-alive as HTTP/1.1 says)
#   GET /bulk?n=N    exactly N bytes ("a".."z" repeated), sent blocking
# anything else: 404. Pipelined requests are answered in order.
#
#   micropython bench/baselines/kernel_http.py [--host 192.0.2.2] [--port 80]
# Prints "LISTENING host:port" once it listens.
import select
import socket
import sys

BODY = (b"<!DOCTYPE html><html><head><title>bench</title></head><body><pre>"
        + b"x" * 1024)[:1011] + b"</pre></body>"  # 1024 bytes
assert len(BODY) == 1024
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n"
PAGE_KEEP = HEAD + b"\r\n" + BODY
PAGE_CLOSE = HEAD + b"Connection: close\r\n\r\n" + BODY
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
CHUNK = b"abcdefghijklmnopqrstuvwxyz" * 630  # 16380 bytes
POLLIN = select.POLLIN
POLLERR_HUP = select.POLLERR | select.POLLHUP


def closes(head):
    """HTTP/1.0 closes unless it asks to keep alive; 1.1 closes when asked."""
    low = head.lower()
    if head.find(b"HTTP/1.0\r\n") >= 0:
        return low.find(b"connection: keep-alive") < 0
    return low.find(b"connection: close") >= 0


def send_all(s, data):
    s.setblocking(True)
    s.write(data)
    s.setblocking(False)


def bulk(s, target, close):
    q = target.find(b"n=")
    n = int(target[q + 2:]) if q >= 0 else 0
    send_all(s, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Length: %d\r\n%s\r\n" % (n, b"Connection: close\r\n" if close else b""))
    s.setblocking(True)
    while n > 0:
        k = n if n < len(CHUNK) else len(CHUNK)
        s.write(CHUNK if k == len(CHUNK) else CHUNK[:k])
        n -= k
    s.setblocking(False)


def answer(s, head):
    """Reply to one request head; True if the connection then closes."""
    close = closes(head)
    sp = head.find(b" ")
    end = head.find(b" ", sp + 1)
    target = head[sp + 1:end]
    if target == b"/":
        resp = PAGE_CLOSE if close else PAGE_KEEP
        k = s.write(resp) or 0
        if k != len(resp):  # no room in the kernel's send buffer: rare
            send_all(s, resp[k:])
    elif target.startswith(b"/bulk"):
        bulk(s, target, close)
    else:
        send_all(s, NOT_FOUND)
    return close


def main(argv):
    host, port = "0.0.0.0", 80
    for i in range(0, len(argv) - 1, 2):
        if argv[i] == "--host":
            host = argv[i + 1]
        elif argv[i] == "--port":
            port = int(argv[i + 1])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(socket.getaddrinfo(host, port)[0][-1])
    ls.listen(64)
    ls.setblocking(False)
    p = select.poll()
    p.register(ls, POLLIN)
    pending = {}
    print("LISTENING %s:%d" % (host, port))
    while True:
        for s, ev in p.ipoll(-1):
            if s is ls:
                while True:
                    try:
                        c = ls.accept()[0]
                    except OSError:
                        break
                    c.setblocking(False)
                    c.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
                    p.register(c, POLLIN)
                    pending[c] = b""
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                p.unregister(s)
                pending.pop(s, None)
                s.close()
                continue
            buf = pending[s] + data if pending[s] else data
            close = False
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                close = answer(s, buf[:end + 2])
                buf = buf[end + 4:]
                if close:
                    break
            if close:
                p.unregister(s)
                del pending[s]
                s.close()
            else:
                pending[s] = buf


if __name__ == "__main__":
    main(sys.argv[1:])
