"""The side-by-side benchmark of issue 7: this stack against its baselines in
one run, printed as one table with ratios.

Targets (each serves its own "/"):
  lwip    lwIP 2.1.3 in C, NO_SYS, its raw-API HTTP server (bench/baselines/
          lwip_httpd.c), reading the TAP fd itself; a fixed 1024 B page
  kmin    a minimal HTTP/1.1 server on the MicroPython unix port's kernel
          sockets (bench/baselines/kernel_http.py); a fixed 1024 B page
  kfw     firmware/http.py on the unix port's kernel sockets
          (firmware/http_unix.py); its status page
  stack   this stack: `python -m host_tools sim --board unix_tap` as `make
          sim` runs it (defaults: 64wK heap, .mpy build, the TAP relay);
          firmware/http.py's status page
  stack16 the same with lwIP's buffer sizes (16 x MSS send and receive
          rings per connection, 256wK heap)

Network: stack and lwIP sit behind a TAP in a namespace whose Linux side
(192.0.2.1) runs the clients. The kernel-socket servers run in a namespace
of their own joined by a veth pair to the clients' namespace (192.0.2.2 ->
192.0.2.1): a real link with a 1500-byte MTU, as the TAP has, so the kernel
cuts the same segment sizes (loopback's 64 KB MTU would flatter bulk), and
both ends' TCP is the kernel's.

Method: server pinned to CPU 1, clients to CPU 0 (taskset); rounds
interleaved (every target once per round, the order rotated each round);
each target started fresh per round; medians over the rounds.

    python -m bench compare [--quick] [--rounds N] [--targets a,b,...] [--json FILE]

--quick: one round with shorter tests (a smoke run, ~1 min). Needs root
(namespaces), wrk, ab, curl, ping, taskset.
"""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVER_CPU = "1"
CLIENT_CPU = "0"
HOST_IP = "192.0.2.1"
SERVER_IP = "192.0.2.2"
KERNEL_HEAP = "64wK"  # the data heap the stack gets too (host_tools sim's default)
START_TIMEOUT_S = 60
LWIP_BUF = 16 * 1460  # lwipopts.h: TCP_SND_BUF = TCP_WND = 16 * TCP_MSS

FULL = {"rounds": 3, "wrk_s": 5, "ab_n": 2000, "bulk": 10_000_000, "ping_n": 100}
QUICK = {"rounds": 1, "wrk_s": 2, "ab_n": 300, "bulk": 2_000_000, "ping_n": 20}

TESTS = (
    # key, label, unit, higher is better
    ("ka1", "keep-alive GET, 1 conn (wrk -t1 -c1)", "req/s", True),
    ("ka4", "keep-alive GET, 4 conns (wrk -t1 -c4)", "req/s", True),
    ("new", "new connection per request (ab -c 1)", "req/s", True),
    ("bulk", "bulk GET (curl /bulk)", "MB/s", True),
    ("rtt", "ping RTT median (-i 0.01)", "us", False),
)


def _run(cmd, timeout, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def client(netns, *cmd):
    """A client command pinned to the client CPU inside the namespace."""
    return ["taskset", "-c", CLIENT_CPU, "ip", "netns", "exec", netns] + list(cmd)


# -- client tools and what they print -------------------------------------------


def parse_wrk(out):
    """(req/s, error text or '') from wrk's output."""
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = []
    m2 = re.search(r"Socket errors:.*", out)
    if m2:
        errs.append(m2.group(0).strip())
    m3 = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m3:
        errs.append("%s non-2xx" % m3.group(1))
    return (float(m.group(1)) if m else 0.0), "; ".join(errs)


def parse_ab(out):
    """(req/s, error text or '') from ab's output."""
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    errs = []
    f = re.search(r"Failed requests:\s+(\d+)", out)
    if f and int(f.group(1)):
        errs.append("%s failed" % f.group(1))
    n = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if n and int(n.group(1)):
        errs.append("%s non-2xx" % n.group(1))
    c = re.search(r"Complete requests:\s+(\d+)", out)
    if not c:
        errs.append("incomplete")
    return (float(m.group(1)) if m else 0.0), "; ".join(errs)


def parse_ping(out):
    """(median RTT in us, loss text or '') from ping's per-reply lines."""
    rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    err = ""
    if m and m.group(1) != m.group(2):
        err = "%s of %s replies" % (m.group(2), m.group(1))
    if not rtts:
        return 0.0, err or "no replies"
    return statistics.median(rtts) * 1000.0, err


def parse_curl(out, want):
    """(MB/s, error text or '') from curl -w '%{size_download} %{time_total}'."""
    try:
        size, secs = out.split()
        size, secs = int(size), float(secs)
    except ValueError:
        return 0.0, "no transfer"
    err = "" if size == want else "%d of %d bytes" % (size, want)
    return (size / secs / 1e6 if secs > 0 else 0.0), err


def run_tests(netns, p, tests):
    """{test: (value, error)} against SERVER_IP from inside netns."""
    url = "http://%s/" % SERVER_IP
    out = {}
    if "rtt" in tests:
        r = _run(client(netns, "ping", "-n", "-c", str(p["ping_n"]), "-i", "0.01", "-W", "1",
                        "-w", str(p["ping_n"] // 50 + 10), SERVER_IP), p["ping_n"] // 50 + 30)
        out["rtt"] = parse_ping(r.stdout)
    for key, conns in (("ka1", 1), ("ka4", 4)):
        if key in tests:
            r = _run(client(netns, "wrk", "-t1", "-c%d" % conns, "-d%ds" % p["wrk_s"],
                            "--timeout", "2s", url), p["wrk_s"] + 30)
            out[key] = parse_wrk(r.stdout)
    if "new" in tests:
        r = _run(client(netns, "ab", "-q", "-n", str(p["ab_n"]), "-c", "1", "-s", "5", url),
                 120)
        out["new"] = parse_ab(r.stdout + r.stderr)
    if "bulk" in tests:
        r = _run(client(netns, "curl", "-s", "-o", "/dev/null", "--max-time", "100", "-w",
                        "%{size_download} %{time_total}", "%sbulk?n=%d" % (url, p["bulk"])),
                 130)
        out["bulk"] = parse_curl(r.stdout, p["bulk"])
    return out


def wait_http(netns, proc, timeout_s=START_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        r = _run(["ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null", "--max-time",
                  "1", "http://%s/" % SERVER_IP], 10)
        if r.returncode == 0:
            return True
        time.sleep(0.1)
    return False


def stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def micropython():
    return str(Path(sys.executable).parent / "micropython")


def mpy_path():
    """The .mpy tree `make sim` runs (built if stale), or the sources."""
    from host_tools import sim

    return sim.module_path(False)


# -- targets ----------------------------------------------------------------------


class Target:
    name = ""
    label = ""
    netns = ""

    def available(self):
        """'' if it can run here, else why not."""
        return ""

    def start(self):
        """Start fresh; the clients' namespace is self.netns."""

    def stop(self):
        pass


class Stack(Target):
    name = "stack"
    label = "this stack (unix_tap sim)"
    sim_args = ()

    def __init__(self, tag):
        self.netns = "bcmp%s-%s" % (tag, self.name)
        self.proc = None

    def start(self):
        # The whole launcher is pinned: the MicroPython process and the TAP
        # relay, both in the stack's data path.
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, sys.executable, "-m", "host_tools", "sim", "--board",
             "unix_tap", "--netns", self.netns, "--no-forward"] + list(self.sim_args),
            cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY") or not wait_http(self.netns, self.proc):
            self.stop()
            raise RuntimeError("the simulator did not start (or serves no HTTP)")

    def stop(self):
        stop(self.proc, 20)  # the launcher removes its namespace on SIGTERM
        self.proc = None
        from host_tools import netns as nsmod

        if nsmod.exists(self.netns):
            nsmod.remove(self.netns)


class StackLwipBuffers(Stack):
    """The same, with lwIP's buffer sizes (bench/baselines/lwip/lwipopts.h:
    TCP_SND_BUF and TCP_WND 16 x MSS): a send ring and a receive ring of
    23,360 B per connection instead of the boards' default 2,048 B. With
    2 KB at most 2 KB are in flight, and a bulk transfer waits a round trip
    per 2 KB; this row shows the stack with the window lwIP is given."""

    name = "stack16"
    label = "this stack, lwIP's buffer sizes"
    sim_args = ("--heapsize", "256wK", "--", "--config",
                "tcp_tx_bytes=%d,tcp_rx_bytes=%d" % (LWIP_BUF, LWIP_BUF))


class KernelSockets(Target):
    """A MicroPython unix-port server on kernel sockets in its own namespace,
    a veth pair to the clients' namespace."""

    script = ""

    def __init__(self, tag):
        self.srv_ns = "bcmp%s-%ss" % (tag, self.name)
        self.netns = "bcmp%s-%sc" % (tag, self.name)
        self.proc = None

    def _net(self):
        from host_tools import netns as nsmod

        for ns in (self.srv_ns, self.netns):
            if nsmod.exists(ns):
                nsmod.remove(ns)
            nsmod.ip("netns", "add", ns)
            nsmod.ip("link", "set", "lo", "up", netns=ns)
        nsmod.ip("link", "add", "bveth0", "netns", self.srv_ns, "type", "veth", "peer", "name",
                 "bveth1", "netns", self.netns)
        nsmod.ip("addr", "add", SERVER_IP + "/24", "dev", "bveth0", netns=self.srv_ns)
        nsmod.ip("addr", "add", HOST_IP + "/24", "dev", "bveth1", netns=self.netns)
        nsmod.ip("link", "set", "bveth0", "up", netns=self.srv_ns)
        nsmod.ip("link", "set", "bveth1", "up", netns=self.netns)

    def argv(self):
        raise NotImplementedError

    def start(self):
        self._net()
        env = dict(os.environ, MICROPYPATH=mpy_path())
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, "ip", "netns", "exec", self.srv_ns, micropython(), "-X",
             "heapsize=" + KERNEL_HEAP] + self.argv(),
            cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING") or not wait_http(self.netns, self.proc):
            self.stop()
            raise RuntimeError("%s did not start: %r" % (self.name, line.strip()))

    def stop(self):
        stop(self.proc)
        self.proc = None
        from host_tools import netns as nsmod

        for ns in (self.srv_ns, self.netns):
            nsmod.remove(ns)  # takes the veth pair with it


class KernelMinimal(KernelSockets):
    name = "kmin"
    label = "minimal server, MicroPython kernel sockets"

    def argv(self):
        return [str(ROOT / "bench" / "baselines" / "kernel_http.py"), "--host", SERVER_IP,
                "--port", "80"]


class KernelFirmware(KernelSockets):
    name = "kfw"
    label = "firmware/http.py, MicroPython kernel sockets"

    def argv(self):
        return [str(ROOT / "firmware" / "http_unix.py"), "--host", SERVER_IP, "--port", "80",
                "--clients", "4"]


def targets(tag):
    out = []
    try:
        from bench import lwip

        out.append(lwip.Lwip(tag))
    except ImportError:
        pass
    out += [KernelMinimal(tag), KernelFirmware(tag), Stack(tag), StackLwipBuffers(tag)]
    return out


# -- the run ---------------------------------------------------------------------


def measure(p, names=None, log=print):
    """{target: {test: [values per round]}}, {target: [error texts]}."""
    tag = str(os.getpid())
    ts = [t for t in targets(tag) if names is None or t.name in names]
    keys = [k for k, _, _, _ in TESTS]
    vals = {t.name: {k: [] for k in keys} for t in ts}
    errs = {t.name: [] for t in ts}
    live = []
    for t in ts:
        why = t.available()
        if why:
            errs[t.name].append("not run: " + why)
        else:
            live.append(t)
    for r in range(p["rounds"]):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for t in order:
            t0 = time.monotonic()
            try:
                t.start()
                got = run_tests(t.netns, p, keys)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                errs[t.name].append("round %d: %s" % (r + 1, e))
                got = {}
            finally:
                t.stop()
            for k, (v, err) in got.items():
                if err:
                    errs[t.name].append("round %d %s: %s" % (r + 1, k, err))
                if v > 0:
                    vals[t.name][k].append(v)
            log("   round %d/%d %-6s %5.1f s  %s" % (
                r + 1, p["rounds"], t.name, time.monotonic() - t0,
                "  ".join("%s %.0f" % (k, got[k][0]) for k in keys if k in got)))
    return vals, errs, ts


def _fmt(v, unit):
    if v is None:
        return "-"
    if unit == "MB/s":
        return "%.2f" % v if v < 10 else "%.1f" % v
    return "{:,.0f}".format(v)


def _spread(vs):
    if len(vs) < 2:
        return ""
    m = statistics.median(vs)
    return " ±%d%%" % round(100 * (max(vs) - min(vs)) / 2 / m) if m else ""


def table(vals, ts):
    """The table as lines: medians, spread (half the range), and ratios."""
    med = {t.name: {k: (statistics.median(v) if v else None) for k, v in vals[t.name].items()}
           for t in ts}
    names = [t.name for t in ts]
    head = "   %-40s" % "test" + "".join("%16s" % n for n in names)
    ratios = [("stack", "kmin", "ours/kmin"), ("stack", "lwip", "ours/lwIP"),
              ("stack16", "lwip", "16/lwIP"), ("kfw", "kmin", "kfw/kmin")]
    ratios = [r for r in ratios if r[0] in names and r[1] in names]
    head += "".join("%11s" % r[2] for r in ratios)
    lines = [head]
    for key, label, unit, higher in TESTS:
        row = "   %-40s" % ("%s [%s]" % (label, unit))
        for n in names:
            row += "%16s" % (_fmt(med[n][key], unit) + _spread(vals[n][key]))
        for a, b, _ in ratios:
            x, y = med[a][key], med[b][key]
            row += "%11s" % (_ratio(x / y) if x and y else "-")
        lines.append(row)
    lines.append("   medians over the rounds, ±: half the range; ratios: value over value (for"
                 " ping RTT lower is better: 3.9x = 3.9 times slower)")
    lines += targets_met(med)
    return lines, med


def _ratio(r):
    return "%.3fx" % r if r < 0.1 else "%.2fx" % r


# issue 7's goals, as ratios measured in one run: (test, ours, baseline, op,
# goal). Bulk is judged with the buffers lwIP has (stack16); the default's
# ratio is printed beside it.
GOALS = (
    ("ka1", "stack", "kmin", ">=", 0.25, "keep-alive req/s, 1 conn, ours/kmin"),
    ("new", "stack", "kmin", ">=", 0.25, "new connections/s, ours/kmin"),
    ("bulk", "stack16", "lwip", ">=", 0.10, "bulk MB/s, lwIP's buffers, ours/lwIP"),
    ("bulk", "stack", "lwip", ">=", 0.10, "bulk MB/s, default 2 KB rings, ours/lwIP"),
    ("rtt", "stack", "lwip", "<=", 2.5, "ping RTT, ours/lwIP"),
)


def targets_met(med):
    out = []
    for key, ours, base, op, goal, what in GOALS:
        x = med.get(ours, {}).get(key)
        y = med.get(base, {}).get(key)
        if not x or not y:
            continue
        r = x / y
        ok = r >= goal if op == ">=" else r <= goal
        out.append("   issue 7 goal: %-44s %s %.2f   now %s  %s"
                   % (what, op, goal, _ratio(r), "met" if ok else "NOT met"))
    return out


def main(argv=()):
    p = dict(FULL)
    names = None
    json_out = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--quick":
            p = dict(QUICK)
        elif a == "--rounds":
            p["rounds"] = int(args.pop(0))
        elif a == "--targets":
            names = args.pop(0).split(",")
        elif a == "--json":
            json_out = args.pop(0)
        else:
            raise SystemExit("compare: unknown argument " + a)
    from host_tools import netns as nsmod

    ok, why = nsmod.can_create()
    if not ok:
        print("   compare: skipped (%s)" % why)
        return 1
    for tool in ("wrk", "ab", "curl", "ping", "taskset"):
        if not shutil.which(tool):
            print("   compare: %s not installed (make setup installs it)" % tool)
            return 1
    print("   server on CPU %s, clients on CPU %s; %d round(s), wrk %d s, ab -n %d, bulk %d B, "
          "ping -c %d; %d CPUs online, load %.2f" % (
              SERVER_CPU, CLIENT_CPU, p["rounds"], p["wrk_s"], p["ab_n"], p["bulk"],
              p["ping_n"], os.cpu_count(), os.getloadavg()[0]), flush=True)
    vals, errs, ts = measure(p, names, log=lambda s: print(s, flush=True))
    lines, med = table(vals, ts)
    print("\n".join(lines))
    for t in ts:
        for e in errs[t.name]:
            print("   %s: %s" % (t.name, e))
    if json_out:
        Path(json_out).write_text(json.dumps({"params": p, "values": vals, "median": med,
                                              "errors": errs}, indent=1))
    return 1 if any(errs.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
