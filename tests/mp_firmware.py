"""A test's own MicroPython firmware script on a TAP in a fresh namespace:
the launcher's relay (host_tools/tapwire.py) and namespace code, but the
script is ours (tests/*_mp_*.py), it reads commands on stdin and prints
results on stdout. Used by the frame fuzz and the chip-fault tests."""

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host_tools import netns as nsmod  # noqa: E402
from host_tools.tapwire import Relay  # noqa: E402

STACK = "192.0.2.2"
TAP = "stap0"


class MPFirmware:
    def __init__(self, netns, script, board, heap, args=()):
        self.netns = netns
        self.script = script
        self.board = board
        self.heapsize = heap
        self.args = list(args)
        self.proc = None
        self.relay = None
        self.lines = queue.Queue()
        self.log = []

    def __enter__(self):
        fd = nsmod.create(self.netns, TAP, "192.0.2.1/24")
        self.relay = Relay(fd)
        self.relay.start()
        env = dict(os.environ, MICROPYPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "micropython"), "-X", "heapsize=" + self.heapsize,
             str(ROOT / "tests" / self.script), "--board", self.board, "--fd",
             str(self.relay.child_fd)] + self.args,
            pass_fds=(self.relay.child_fd,), env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(ROOT))
        self.relay.close_child_end()
        threading.Thread(target=self._drain, daemon=True).start()
        self.expect("READY", 60)
        deadline = time.monotonic() + 30
        while self.run("ping", "-c", "1", "-W", "1", STACK).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the firmware does not answer\n" + "\n".join(self.log))
        return self

    def _drain(self):
        for line in self.proc.stdout:
            self.log.append(line.rstrip("\n"))
            self.lines.put(line.strip())

    def expect(self, prefix, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r within %d s\n%s" % (prefix, timeout,
                                                                 "\n".join(self.log[-40:])))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def run(self, *cmd, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.netns] + list(cmd),
                              capture_output=True, timeout=timeout)

    def alive(self):
        return self.proc.poll() is None

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.relay is not None:
            self.relay.stop()
        nsmod.remove(self.netns)
