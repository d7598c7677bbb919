"""HTTP benchmark: the same firmware HTTP code (firmware/http.py) served two ways,
side by side in one run:

  kernel  the MicroPython unix port on its own kernel sockets, 127.0.0.1
  stack   the MicroPython unix port running our stack on a TAP in a network
          namespace, Linux as the peer (192.0.2.1 -> 192.0.2.2)

Measures requests/s on "/" (wrk, one keep-alive connection) and bulk MB/s
(curl /bulk?n=...). Bounded: fixed durations and byte counts. Run with
`python -m bench` (all benchmarks) or `python -m bench.http`.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MPY = str(Path(sys.executable).parent / "micropython")
HEAP = os.environ.get("BENCH_HEAP", "64wK")  # kernel side
WRK_SECONDS = 5
KERNEL_BULK = 200_000_000
STACK_BULK = 10_000_000
NETNS = "benchhttp"
STACK_IP = "192.0.2.2"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _wrk(url, netns=None):
    cmd = ["wrk", "-t1", "-c1", "-d%ds" % WRK_SECONDS, url]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=WRK_SECONDS + 30)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    errors = "Socket errors" in r.stdout or "Non-2xx" in r.stdout
    return (float(m.group(1)) if m else 0.0), errors


def _bulk(url, n, netns=None):
    cmd = ["curl", "-s", "-o", "/dev/null", "--max-time", "120", "-w",
           "%{size_download} %{time_total}", "%s/bulk?n=%d" % (url, n)]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
    try:
        size, secs = r.stdout.split()
        size = int(size)
        secs = float(secs)
    except ValueError:
        return 0.0, False
    return (size / secs / 1e6 if secs > 0 else 0.0), size == n


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_kernel():
    port = _free_port()
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    proc = subprocess.Popen([MPY, "-X", "heapsize=" + HEAP, str(ROOT / "firmware/http_unix.py"),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True,
                            cwd=str(ROOT))
    try:
        line = proc.stdout.readline()
        if not line.startswith("LISTENING"):
            return {"error": "server did not start: " + line.strip()}
        url = "http://127.0.0.1:%d" % port
        rps, err = _wrk(url + "/")
        mbs, exact = _bulk(url, KERNEL_BULK)
        return {"rps": rps, "wrk_errors": err, "mbs": mbs, "bulk_exact": exact,
                "bulk_n": KERNEL_BULK, "heap": HEAP}
    finally:
        _stop(proc)


def run_stack(heap=HEAP):
    """firmware/main.py on the simulator (host_tools sim: namespace, TAP, relay)."""
    sys.path.insert(0, str(ROOT))
    from host_tools import netns as nsmod

    ok, why = nsmod.can_create()
    if not ok:
        return {"error": why}
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "sim", "--board", "unix_tap",
                             "--netns", NETNS, "--no-forward", "--heapsize", heap],
                            cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            return {"error": "simulator did not start: " + line.strip()}
        url = "http://%s" % STACK_IP
        deadline = time.monotonic() + 15
        while subprocess.run(["ip", "netns", "exec", NETNS, "curl", "-s", "-o", "/dev/null",
                              "--max-time", "1", url + "/"]).returncode != 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                return {"error": "no HTTP on the stack (heap %s; 'HTTP off' in the log?)" % heap}
        rps, err = _wrk(url + "/", NETNS)
        mbs, exact = _bulk(url, STACK_BULK, NETNS)
        return {"rps": rps, "wrk_errors": err, "mbs": mbs, "bulk_exact": exact,
                "bulk_n": STACK_BULK, "heap": heap}
    finally:
        _stop(proc)  # the launcher removes its namespace on SIGTERM


def _row(name, r):
    if "error" in r:
        return "%-8s  %s" % (name, r["error"])
    return "%-8s  %10.0f  %s  %9.2f  %-5s %11d  %s" % (
        name, r["rps"], "errors" if r["wrk_errors"] else "ok    ", r["mbs"],
        "exact" if r["bulk_exact"] else "SHORT", r["bulk_n"], r["heap"])


def main():
    for tool in ("wrk", "curl"):
        if not shutil.which(tool):
            print("bench http: %s not installed" % tool)
            return 1
    print("HTTP: firmware/http.py, '/' keep-alive 1 client (wrk %d s), /bulk via curl"
          % WRK_SECONDS)
    print("%-8s  %10s  %s  %9s  %-5s %11s  %s" % ("side", "req/s", "wrk   ", "bulk MB/s", "count",
                                                   "bulk bytes", "heap"))
    k = run_kernel()
    print(_row("kernel", k), flush=True)
    # the board's data heap; host_tools sim adds the (frozen on a board) code on top
    s = run_stack(os.environ.get("BENCH_STACK_HEAP", "64wK"))
    print(_row("stack", s))
    if "rps" in k and "rps" in s and s["rps"] and s["mbs"]:
        print("kernel/stack: %.1fx req/s, %.1fx MB/s" % (k["rps"] / s["rps"], k["mbs"] / s["mbs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
