"""test: the network checks against a live board, as a pass/fail table.

ARP (the kernel resolved the board's MAC), ping, UDP echo (port 7, sizes up
to a full frame, bytes compared), the HTTP page, and 1 MB each way over TCP
(GET /bulk checked byte for byte, POST /sink counted by the board). Linux's
own tools and sockets are the peer; every check is bounded in time.

With --port, the board's address comes from its console: test interrupts
the running program (Ctrl-C), soft-resets the board (Ctrl-D) and reads what
firmware/main.py prints until its "IP a.b.c.d" line (static) or a
"NET ... ip=a.b.c.d" line with a leased address (DHCP).
"""

import http.client
import re
import socket
import subprocess
import sys
import time

MB = 1 << 20
ECHO_PORT = 7
ECHO_SIZES = (1, 64, 512, 1472)
ALPHABET = b"abcdefghijklmnopqrstuvwxyz"


class Check:
    def __init__(self, name):
        self.name = name
        self.ok = False
        self.detail = ""


def check_ping(ip, count=5):
    c = Check("ping")
    r = subprocess.run(["ping", "-c", str(count), "-i", "0.2", "-W", "1", ip],
                       capture_output=True, text=True, timeout=count + 10)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", r.stdout)
    got = int(m.group(2)) if m else 0
    c.ok = got > 0 and got >= count - 1  # one loss is a busy link, not a broken stack
    c.detail = "%d/%d replies%s" % (got, count, ", rtt avg %s ms" % rtt.group(1) if rtt else "")
    return c


def check_arp(ip):
    c = Check("ARP")
    route = subprocess.run(["ip", "route", "get", ip], capture_output=True, text=True).stdout
    if " via " in route:
        c.ok = True
        c.detail = "not on this link (%s): no ARP to check" % route.split("\n")[0].strip()
        return c
    out = subprocess.run(["ip", "neigh", "show", ip], capture_output=True, text=True).stdout
    m = re.search(r"lladdr ([0-9a-f:]{17}) (\w+)", out)
    if m and m.group(2) in ("REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT"):
        c.ok = True
        c.detail = "%s is at %s" % (ip, m.group(1))
    else:
        c.detail = "no ARP answer from %s (%s)" % (ip, out.strip() or "no entry")
    return c


def check_udp_echo(ip, timeout_s=1.0):
    c = Check("UDP echo")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout_s)
    good = 0
    bad = []
    try:
        for size in ECHO_SIZES:
            payload = bytes((i * 7 + size) & 0xFF for i in range(size))
            for _ in range(3):  # a datagram may be lost; three tries each
                s.sendto(payload, (ip, ECHO_PORT))
                try:
                    data, _ = s.recvfrom(2048)
                except socket.timeout:
                    continue
                if data == payload:
                    good += 1
                else:
                    bad.append(size)
                break
            else:
                bad.append(size)
    finally:
        s.close()
    c.ok = good == len(ECHO_SIZES)
    c.detail = "%d/%d sizes (%d..%d B) echoed exactly%s" % (
        good, len(ECHO_SIZES), ECHO_SIZES[0], ECHO_SIZES[-1],
        "; wrong or missing: %s" % bad if bad else "")
    return c


def check_page(ip, timeout_s=10):
    c = Check("page")
    conn = http.client.HTTPConnection(ip, 80, timeout=timeout_s)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read()
        title = re.search(rb"<title>([^<]*)</title>", body)
        c.ok = r.status == 200 and title is not None
        c.detail = "GET / %d, %d B, title %s" % (
            r.status, len(body), ('"%s"' % title.group(1).decode()) if title else "missing")
    except OSError as e:
        c.detail = "GET / failed: %s" % e
    finally:
        conn.close()
    return c


def check_download(ip, n=MB, timeout_s=120):
    c = Check("1 MB down")
    conn = http.client.HTTPConnection(ip, 80, timeout=timeout_s)
    try:
        t0 = time.monotonic()
        conn.request("GET", "/bulk?n=%d" % n)
        r = conn.getresponse()
        got = 0
        wrong_at = -1
        while True:
            chunk = r.read(65536)
            if not chunk:
                break
            if wrong_at < 0:
                for i in range(len(chunk)):
                    if chunk[i] != ALPHABET[(got + i) % 26]:
                        wrong_at = got + i
                        break
            got += len(chunk)
        dt = time.monotonic() - t0
        c.ok = r.status == 200 and got == n and wrong_at < 0
        c.detail = "GET /bulk %d of %d B%s, %.1f KB/s" % (
            got, n, "" if wrong_at < 0 else ", wrong byte at %d" % wrong_at, got / dt / 1024)
    except OSError as e:
        c.detail = "GET /bulk failed: %s" % e
    finally:
        conn.close()
    return c


def check_upload(ip, n=MB, timeout_s=120):
    c = Check("1 MB up")
    body = bytes(range(256)) * (n // 256)
    conn = http.client.HTTPConnection(ip, 80, timeout=timeout_s)
    try:
        t0 = time.monotonic()
        conn.request("POST", "/sink", body=body,
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        answer = r.read().strip()
        dt = time.monotonic() - t0
        c.ok = r.status == 200 and answer == str(n).encode()
        c.detail = "POST /sink %d B, the board counted %s, %.1f KB/s" % (
            n, answer.decode(errors="replace") or "nothing", n / dt / 1024)
    except OSError as e:
        c.detail = "POST /sink failed: %s" % e
    finally:
        conn.close()
    return c


def run_checks(ip):
    # ping first: it makes the kernel resolve the board's MAC, which ARP then reads
    ping = check_ping(ip)
    arp = check_arp(ip)
    rest = (("UDP echo", check_udp_echo), ("page", check_page), ("1 MB down", check_download),
            ("1 MB up", check_upload))
    if not arp.ok and not ping.ok:
        skipped = []
        for name, _ in rest:
            c = Check(name)
            c.detail = "not run: %s answers neither ARP nor ping" % ip
            skipped.append(c)
        return [arp, ping] + skipped
    return [arp, ping] + [check(ip) for _, check in rest]


def table(checks):
    lines = ["%-10s %-6s %s" % ("check", "result", "detail")]
    for c in checks:
        lines.append("%-10s %-6s %s" % (c.name, "pass" if c.ok else "FAIL", c.detail))
    ok = sum(1 for c in checks if c.ok)
    lines.append("result: %d of %d checks passed" % (ok, len(checks)))
    return lines


# firmware/main.py prints "IP a.b.c.d" for a static address; with DHCP its
# watcher prints "NET status=... dhcp=bound ip=a.b.c.d" once leased
IP_LINE = re.compile(rb"(?:\bIP |\bip=)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b")


def address_from_console(port, timeout_s=30):
    """Soft-reset the board on `port` and read its console until firmware/
    main.py prints "IP a.b.c.d"; returns the address (str)."""
    from host_tools import serialport

    import serial

    serialport.check(port)
    s = serial.Serial(port, 115200, timeout=0.2)
    try:
        s.write(b"\r\x03\x03")  # stop whatever runs
        time.sleep(0.2)
        s.write(b"\x04")  # soft reset: boot.py, main.py run again
        seen = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen += s.read(256)
            for m in IP_LINE.finditer(seen):
                if m.group(1) != b"0.0.0.0":  # DHCP not bound yet
                    return m.group(1).decode()
        raise serialport.PortError("the board on %s printed no 'IP a.b.c.d' line within %d s "
                                   "after a soft reset; its console said: %r"
                                   % (port, timeout_s, seen[-300:]))
    finally:
        s.close()


def run(ip=None, port=None):
    from host_tools import serialport

    if port:
        try:
            ip = address_from_console(port)
        except serialport.PortError as e:
            print("test: " + str(e), file=sys.stderr)
            return 2
        print("test: the board on %s is at %s" % (port, ip), file=sys.stderr)
    try:
        socket.inet_aton(ip)
    except OSError:
        print("test: %r is not an IPv4 address" % ip, file=sys.stderr)
        return 2
    checks = run_checks(ip)
    print("\n".join(table(checks)))
    return 0 if all(c.ok for c in checks) else 1
