"""The MicroPython unix port as a board on a pseudo-terminal, to use deploy,
monitor and `mpremote` without hardware.

The device is a pty (a /dev/pts/N path, like a board's /dev/ttyACM0) with the
unix port's own REPL behind it: the friendly REPL, the raw REPL (Ctrl-A, and
raw paste) that mpremote drives, Ctrl-C. Two things a board does that the unix
port does not are added here, and only these: Ctrl-D (or sys.exit) ends the
unix port, so it is started again with "MPY: soft reboot" first, back in the
raw REPL if it was in it, as a board's soft reset does; and the board's
filesystem is a host folder mounted as the VM's root ("/", "/lib"), with
sys.path ['', '.frozen', '/lib'] as on a board.
"""

import fcntl
import os
import select
import subprocess
import sys
import threading
import termios
import time
import tty
from pathlib import Path

_BOOT = """\
import vfs, os, sys
vfs.umount('/')
vfs.mount(vfs.VfsPosix(%r), '/')
os.chdir('/')
sys.path[0] = ''
del vfs, os, sys
"""
_RUN_MAIN = """\
try:
    import os
    os.stat('/main.py')
    del os
    exec(open('/main.py').read())
except OSError:
    pass
"""


def _controlling_tty():
    # in the child, after setsid(): its pty becomes its terminal, so the
    # terminal's Ctrl-C reaches it as SIGINT
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def micropython_path():
    return str(Path(sys.executable).parent / "micropython")


class PtyBoard:
    """PtyBoard(root).start() -> device path; .stop(). `root` is the board's
    filesystem. run_main: a soft reset from the friendly REPL runs /main.py,
    as on a board (off by default: the firmware needs a network here)."""

    def __init__(self, root, heapsize="2M", run_main=False):
        self.root = str(Path(root).resolve())
        self.heapsize = heapsize
        self.run_main = run_main
        self.resets = 0
        self._raw = False
        self._stop = False
        self._proc = None
        self._vm_fd = -1
        self._dev_fd = -1
        self.device = None
        self._thread = None

    # -- the VM --------------------------------------------------------------------------

    def _boot_file(self, with_main):
        parent = os.path.dirname(self.root)
        path = os.path.join(parent, ".ptyboard_boot_%d_%d.py" % (os.getpid(), id(self)))
        with open(path, "w") as f:
            f.write(_BOOT % self.root)
            if with_main:
                f.write(_RUN_MAIN)
        return path

    def _start_vm(self, with_main=False):
        master, slave = os.openpty()
        # Bytes as the VM writes them, as over USB CDC (no \n -> \r\n, no echo),
        # but Ctrl-C still a signal: the unix port takes SIGINT as the
        # interrupt while code runs, where a board watches its input for 0x03.
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[3] |= termios.ISIG
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        boot = self._boot_file(with_main)
        env = dict(os.environ, MICROPYPATH=":.frozen:/lib")
        self._proc = subprocess.Popen([micropython_path(), "-X", "heapsize=" + self.heapsize,
                                       "-i", boot], stdin=slave, stdout=slave, stderr=slave,
                                      env=env, close_fds=True, start_new_session=True,
                                      preexec_fn=_controlling_tty)
        os.close(slave)
        self._vm_fd = master

    def _end_vm(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
        if self._vm_fd >= 0:
            os.close(self._vm_fd)
            self._vm_fd = -1

    # -- the wire between the device pty and the VM ----------------------------------------

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        dev_master, dev_slave = os.openpty()
        tty.setraw(dev_slave)  # no echo or line editing between the tool and the "board"
        self.device = os.ttyname(dev_slave)
        # Keep the slave open here too: the device stays a device while no
        # tool has it open, as a board's port does.
        self._dev_slave = dev_slave
        self._dev_fd = dev_master
        self._start_vm()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self.device

    def _soft_reset(self):
        """The VM ended (Ctrl-D, sys.exit): start it again, as a board reboots."""
        self._end_vm()
        self.resets += 1
        os.write(self._dev_fd, b"MPY: soft reboot\r\n")
        self._start_vm(with_main=self.run_main and not self._raw)
        if self._raw:
            # the new VM starts in the friendly REPL; a board stays in the raw one
            self._wait_output(b">>> ", 10)
            os.write(self._vm_fd, b"\x01")

    def _wait_output(self, ending, timeout_s):
        """Read the VM's output up to `ending` without passing it on (the
        banner a board does not print after a soft reset in the raw REPL)."""
        seen = b""
        deadline = time.monotonic() + timeout_s
        while not seen.endswith(ending) and time.monotonic() < deadline:
            r, _, _ = select.select([self._vm_fd], [], [], 0.1)
            if r:
                try:
                    seen += os.read(self._vm_fd, 4096)
                except OSError:
                    return

    def _pump(self):
        while not self._stop:
            try:
                r, _, _ = select.select([self._dev_fd, self._vm_fd], [], [], 0.1)
            except (OSError, ValueError):
                return
            if self._dev_fd in r:
                try:
                    data = os.read(self._dev_fd, 4096)
                except OSError:
                    data = b""
                for c in data:
                    if c == 1:
                        self._raw = True
                    elif c == 2:
                        self._raw = False
                if data:
                    os.write(self._vm_fd, data)
            if self._vm_fd in r:
                try:
                    data = os.read(self._vm_fd, 4096)
                except OSError:  # EIO: the VM closed its end, it has ended
                    data = b""
                if data:
                    os.write(self._dev_fd, data)
                elif not self._stop:
                    self._proc.wait()
                    self._soft_reset()

    def stop(self):
        self._stop = True
        if self._thread is not None:
            self._thread.join(2)
        self._end_vm()
        for fd in (self._dev_fd, getattr(self, "_dev_slave", -1)):
            if fd >= 0:
                os.close(fd)
        self._dev_fd = -1
        parent = os.path.dirname(self.root)
        for name in os.listdir(parent):
            if name.startswith(".ptyboard_boot_%d_%d" % (os.getpid(), id(self))):
                os.unlink(os.path.join(parent, name))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def run(root, run_main):
    """`python -m host_tools pty-board`: serve until Ctrl-C."""
    board = PtyBoard(root, run_main=run_main)
    board.start()
    print("PORT %s" % board.device, flush=True)
    print("pty-board: MicroPython unix port on %s, filesystem %s; Ctrl-C stops it"
          % (board.device, board.root), file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0
