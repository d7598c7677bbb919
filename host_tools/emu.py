"""The emulated boards (docs/emulator.md): the stack port's firmware on an
emulated RP2040 (boards emu_rp2040_*), and the same port as a 32-bit Linux
program (board host32_tap). host_tools/sim.py hands these boards over here.

    Emulator(board).start(wire_fd)   node + rp2040js + the chip model; the
                                     firmware's UART REPL on .uart
    Host32(board).start(wire_fd)     the host32 program running firmware/main.py
"""

import ast
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from host_tools import build

ROOT = Path(__file__).resolve().parent.parent
PORT_OUT = ROOT / "build" / "port"
EMU_DIR = ROOT / "host_tools" / "emu"
FIRMWARE_BIN = PORT_OUT / "rp2040" / "firmware.bin"
HOST32 = PORT_OUT / "host32" / "host32"
BOARD_HEAP = 192 * 1024  # an RP2040 board's MicroPython heap (a Pico has 192-233 KB)
BOOT_TIMEOUT_S = 60
READY_TIMEOUT_S = 240  # the emulator imports ~100 KB of .mpy at ~1/7.5 of real time


# console lines that mean the firmware failed (an uncaught exception's last
# line, or the port's own fatal error)
FATAL_LINE = re.compile(rb"^(MemoryError|[A-Za-z]+Error|KeyboardInterrupt|FATAL:)")


class EmuError(RuntimeError):
    """One line a user can act on."""


def handles(board):
    return board.startswith("emu_") or board.startswith("host32")


def board_spec(board):
    """The EMU dict of boards/BOARD.py, read without importing it (it imports
    `machine`, which exists only on the target)."""
    path = ROOT / "boards" / (board + ".py")
    if not path.exists():
        raise EmuError("no board file boards/%s.py" % board)
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EMU":
            return ast.literal_eval(node.value)
    return {}


def ensure_port():
    """Build the port if needed (make is quiet when nothing changed)."""
    for tool, pkg in (("node", "nodejs"), ("make", "make")):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            raise EmuError("%s is missing: install it (apt-get install %s)" % (tool, pkg))
    if not (EMU_DIR / "node_modules" / "rp2040js").exists():
        raise EmuError("the runner's npm packages are missing: run make setup "
                       "(or: cd host_tools/emu && npm ci)")
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "firmware" / "port")],
                       capture_output=True, text=True)
    if r.returncode:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-5:])
        raise EmuError("building the stack port failed (make -C firmware/port):\n" + tail)


def build_files(arch, heap_bytes=0, out=None):
    """The .mpy build of stack/, boards/, firmware/ for arch and (armv6m) the
    file table that the rp2040 firmware imports from."""
    out_root, failures = build.build_tree(arch, ROOT / "build")
    if failures:
        raise EmuError("mpy-cross -march=%s failed on %s" % (arch, failures[0][0]))
    if arch != "armv6m":
        return out_root
    sys.path.insert(0, str(ROOT / "firmware" / "port"))
    try:
        import mkfiles
    finally:
        sys.path.pop(0)
    blob = mkfiles.build(out_root, "lib", heap_bytes=heap_bytes)
    out = Path(out or PORT_OUT / ("files-armv6m-%d.bin" % heap_bytes))
    out.write_bytes(blob)
    return out


class Console:
    """The board's UART as a byte stream: a reader thread keeps what arrives,
    tools wait for text and drive the raw REPL (as mpremote does)."""

    def __init__(self, rfile, wfile, echo=None):
        self._r = rfile
        self._w = wfile
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._echo = echo  # a binary stream that gets every byte once relaying
        self.closed = False
        self.fatal = None  # the first console line that says the firmware failed
        self._tail = b""
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            try:
                d = os.read(self._r.fileno(), 4096)
            except OSError:
                d = b""
            with self._cond:
                if not d:
                    self.closed = True
                    self._cond.notify_all()
                    return
                self._buf += d
                self._watch(d)
                self._cond.notify_all()
            if self._echo is not None:
                try:
                    self._echo.write(d)
                    self._echo.flush()
                except (OSError, ValueError):
                    pass

    def _watch(self, d):
        text = self._tail + d
        lines = text.split(b"\n")
        self._tail = lines.pop()[-200:]
        for line in lines:
            if self.fatal is None and FATAL_LINE.search(line):
                self.fatal = line.strip().decode(errors="replace")

    def write(self, data):
        self._w.write(data)
        self._w.flush()

    def read_until(self, marker, timeout_s):
        """Bytes up to and including marker (consumed), or EmuError on time-out."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                i = self._buf.find(marker)
                if i >= 0:
                    out = bytes(self._buf[: i + len(marker)])
                    del self._buf[: i + len(marker)]
                    return out
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    seen = bytes(self._buf[-300:]).decode(errors="replace")
                    raise EmuError("the board's console did not show %r within %d s%s; last output:\n%s"
                                   % (marker.decode(), timeout_s,
                                      " (the emulator exited)" if self.closed else "", seen))
                self._cond.wait(min(left, 0.5))

    def take(self):
        with self._cond:
            out = bytes(self._buf)
            self._buf.clear()
            return out

    def relay_to(self, stream):
        """From now on every byte goes to stream (and what was kept, first)."""
        with self._cond:
            kept = bytes(self._buf)
            self._buf.clear()
            self._echo = stream
        if kept:
            stream.write(kept)
            stream.flush()

    def raw_enter(self, timeout_s=BOOT_TIMEOUT_S):
        self.write(b"\r\x03\x03")
        time.sleep(0.2)
        self.take()
        self.write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout_s)

    def raw_start(self, code, timeout_s=30):
        """Send code to the raw REPL and return once it compiled and started."""
        self.write(code.encode() if isinstance(code, str) else code)
        self.write(b"\x04")
        self.read_until(b"OK", timeout_s)

    def raw_exec(self, code, timeout_s=120):
        """Run code to its end: (stdout, stderr text) as the raw REPL returns them."""
        self.raw_start(code)
        out = self.read_until(b"\x04", timeout_s)[:-1]
        err = self.read_until(b"\x04", timeout_s)[:-1]
        self.read_until(b">", timeout_s)
        return out.decode(errors="replace"), err.decode(errors="replace")


class Emulator:
    """node host_tools/emu/runner.mjs with the firmware, file table and chip."""

    def __init__(self, board, heap_bytes=BOARD_HEAP, strict=True):
        self.board = board
        self.spec = board_spec(board)
        self.heap_bytes = heap_bytes
        self.strict = strict
        self.proc = None
        self.console = None
        self._ctl = None

    def start(self, wire_fd=None):
        ensure_port()
        files = build_files("armv6m", self.heap_bytes)
        import socket

        ctl_ours, ctl_theirs = socket.socketpair()
        cmd = ["node", str(EMU_DIR / "runner.mjs"), "--firmware", str(FIRMWARE_BIN),
               "--files", str(files), "--root", str(ROOT), "--ctl-fd", str(ctl_theirs.fileno()),
               "--strict", "1" if self.strict else "0"]
        fds = [ctl_theirs.fileno()]
        spec = self.spec
        if spec.get("chip") and wire_fd is not None:
            cmd += ["--chip", spec["chip"], "--spi", str(spec["spi"]), "--cs", str(spec["cs"]),
                    "--wire-fd", str(wire_fd)]
            for k in ("int", "rst"):
                if k in spec:
                    cmd += ["--" + k, str(spec[k])]
            fds.append(wire_fd)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     pass_fds=fds, cwd=str(ROOT), start_new_session=True)
        ctl_theirs.close()
        self._ctl = ctl_ours
        self._ctl_file = ctl_ours.makefile("rwb", buffering=0)
        self.console = Console(self.proc.stdout, self.proc.stdin)
        try:
            self.console.read_until(b">>> ", BOOT_TIMEOUT_S)
        except EmuError as e:
            raise EmuError("the firmware did not boot in the emulator: " + str(e))
        return self

    def cycles(self):
        """(core cycles executed, emulated microseconds) so far."""
        self._ctl_file.write(b"cycles\n")
        line = self._ctl_file.readline().decode().split()
        return int(line[1]), int(line[2])

    def counters(self):
        self._ctl_file.write(b"counters\n")
        line = self._ctl_file.readline().decode().strip()
        return dict(kv.split("=") for kv in line.split(" ", 1)[1].split(",") if "=" in kv)

    def run_firmware(self, app="main", args=None):
        """Start firmware/APP.py's loop through the raw REPL (as `mpremote
        exec` would); returns once it runs."""
        self.console.raw_enter()
        opts = dict(args or {}, board=self.board)
        if app == "main":
            code = "from firmware import main\nmain.run(%r)\n" % opts
        else:
            argv = ["--board", self.board] + [str(a) for a in (args or [])]
            code = "import sys\nsys.argv=%r\nfrom firmware import %s as app\napp._run(sys.argv[1:])\n" \
                % (["firmware/%s.py" % app] + argv, app)
        self.console.raw_start(code)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None


def host32_cmd(heap, code, mpy_root):
    env = dict(os.environ, MICROPYPATH=str(mpy_root))
    return [str(HOST32), "-X", "heapsize=%d" % heap, "-c", code], env


class Host32:
    """The port's 32-bit Linux program running firmware/main.py on a board
    whose wire is an fd (host32_tap)."""

    def __init__(self, board, heap_bytes=BOARD_HEAP):
        self.board = board
        self.heap_bytes = heap_bytes
        self.proc = None
        self.console = None

    def start(self, wire_fd, app="main", opts=None):
        ensure_port()
        mpy = build_files("x86")
        o = dict(opts or {}, board=self.board, fd=wire_fd)
        code = "from firmware import %s as app\napp.run(%r)\n" % (app, o)
        cmd, env = host32_cmd(self.heap_bytes, code, mpy)
        self.proc = subprocess.Popen(cmd, env=env, pass_fds=(wire_fd,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=str(ROOT))
        self.console = Console(self.proc.stdout, open(os.devnull, "wb"))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGINT (KeyboardInterrupt in the firmware), so host32 prints its
        HEAPPEAK line; returns everything it printed that was not read."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.1)
        return self.console.take().decode(errors="replace") if self.console else ""




class Session:
    """A namespace with the TAP, and the board's firmware answering on it
    (for benchmarks and tools): with Session(board) as s: s.ns, s.target."""

    def __init__(self, board, heap_bytes=BOARD_HEAP, netns=None, app="main"):
        self.board = board
        self.heap_bytes = heap_bytes
        self.ns = netns or "emu%d" % os.getpid()
        self.app = app
        self.target = None
        self.relay = None

    def __enter__(self):
        from host_tools import netns as nsmod
        from host_tools import sim
        from host_tools.tapwire import Relay

        ok, why = nsmod.can_create()
        if not ok:
            raise EmuError("cannot make a namespace: " + why)
        fd = nsmod.create(self.ns, sim.TAP_NAME, sim.HOST_IP + "/24")
        self.relay = Relay(fd)
        self.relay.start()
        try:
            if self.board.startswith("host32"):
                self.target = Host32(self.board, self.heap_bytes).start(self.relay.child_fd)
            else:
                self.target = Emulator(self.board, self.heap_bytes).start(self.relay.child_fd)
                self.target.run_firmware(self.app)
            self.relay.close_child_end()
            if not wait_ready(self.ns, self.target, READY_TIMEOUT_S):
                raise EmuError("%s did not answer: %s" % (self.board, self.target.console.fatal
                                                          or "no reply to ping"))
        except BaseException:
            self.__exit__()
            raise
        return self

    def run(self, *cmd, timeout=300):
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(cmd), capture_output=True,
                              timeout=timeout)

    def __exit__(self, *exc):
        from host_tools import netns as nsmod

        out = ""
        if self.target is not None:
            out = self.target.stop()
        if self.relay is not None:
            self.relay.stop()
        nsmod.remove(self.ns)
        self.output = out or ""
        return False


def wait_ready(netns, target, timeout_s):
    """True once the stack answers ping; False as soon as the firmware failed
    (a fatal console line), its process ended, or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if target.console.fatal or not target.alive():
            return False
        r = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "1",
                            "192.0.2.2"], capture_output=True)
        if r.returncode == 0:
            return True
    return False


def run_sim(board, netns, forward, heapsize, impair=None, commands=False, default_heap="64wK"):
    """`python -m host_tools sim --board emu_...|host32_...`: as sim.run for
    the other boards, with the firmware on the emulated RP2040 or on host32."""
    from host_tools import netns as nsmod
    from host_tools import sim

    heap = BOARD_HEAP if heapsize == default_heap else sim.heap_bytes(heapsize, 4)
    ok, why = nsmod.can_create()
    if not ok:
        print("sim: cannot start: " + why, file=sys.stderr)
        return 2
    try:
        ensure_port()
    except EmuError as e:
        print("emu: " + str(e), file=sys.stderr)
        return 2
    try:
        fd = nsmod.create(netns, sim.TAP_NAME, sim.HOST_IP + "/24")
    except nsmod.NetnsError as e:
        print("sim: " + str(e), file=sys.stderr)
        return 2
    from host_tools.tapwire import Relay

    relay = Relay(fd)
    relay.start()
    impairer = sim.Impairer(netns, relay)
    target = None

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if board.startswith("host32"):
            target = Host32(board, heap).start(relay.child_fd)
        else:
            target = Emulator(board, heap).start(relay.child_fd)
            print("emu: %s booted; starting firmware/main.py over the raw REPL" % board,
                  file=sys.stderr, flush=True)
            target.run_firmware("main")
        relay.close_child_end()
        target.console.relay_to(sys.stderr.buffer)
        t0 = time.monotonic()
        if not wait_ready(netns, target, READY_TIMEOUT_S):
            if target.console.fatal:
                why = "failed at start-up: " + target.console.fatal
                if "MemoryError" in why:
                    why += " (heap exhausted: try a larger --heapsize)"
            elif not target.alive():
                why = "exited (status %s)" % target.proc.returncode
            else:
                why = "did not answer ARP/ping within %d s" % READY_TIMEOUT_S
            print("emu: the stack on %s %s" % (board, why), file=sys.stderr)
            return 1
        print("emu: answering after %.0f s" % (time.monotonic() - t0), file=sys.stderr, flush=True)
        if impair:
            print("sim: impairment " + impairer.set(impair), file=sys.stderr, flush=True)
        print("READY " + sim.STACK_IP, flush=True)
        if forward:
            from host_tools import forward as fwd

            host, port = forward.rsplit(":", 1)
            fwd.start(host, int(port), netns, sim.STACK_IP)
            print("URL http://%s:%s/" % (host, port), flush=True)
        print("sim: board %s in namespace %s; try: sudo ip netns exec %s ping %s"
              % (board, netns, netns, sim.STACK_IP), file=sys.stderr, flush=True)
        if commands:
            threading.Thread(target=sim._commands, args=(impairer, sys.stdin), daemon=True).start()
        while target.alive():
            time.sleep(0.2)
        print("emu: the board's process ended (status %s)" % target.proc.returncode,
              file=sys.stderr)
        return 1
    except EmuError as e:
        print("emu: " + str(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if target is not None:
            target.stop()
        relay.stop()
        nsmod.remove(netns)
