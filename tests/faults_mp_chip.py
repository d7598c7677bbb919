# Chip faults under load (run by test_faults_chip.py through tests/mp_firmware.py):
#
#   micropython faults_mp_chip.py --board sim_w5500|sim_enc28j60 --fd N
#
# The firmware's bring-up with firmware/tcp_services.py's services (sink on
# port 9 answering "<bytes> <sha256>", source on port 19) and the UDP echo and
# status services; the test moves data from Linux while it asks, on stdin,
# for a fault in the simulated hardware:
#   storm BURSTS FRAMES MS   every MS ms, FRAMES junk frames land in the chip at
#                            once (more than its RX memory holds: overflow)
#   flap TOGGLES MS          the cable pulled / plugged every MS ms, TOGGLES times
#   reset                    the chip resets itself (brown-out): registers to
#                            their defaults, its RX/TX memory state lost
#   garbage MS               MISO returns random bytes for MS ms (the chip
#                            still sees what is written)
# Each answers "FAULT <name> done" when its schedule ends; "stats" prints the
# driver's and the chip's counters. An OSError out of the driver is printed
# ("DRIVER ERROR <errno> <text>"); for ENODEV ("re-create the driver") the
# loop does what the message says, as an application would: it makes a new
# driver on the same bus and pins (retrying every 100 ms, 50 times at most)
# and hands it to the interface ("DRIVER RECREATED"); other errors stop it.
import random
import select
import sys
import time

from firmware import main as fw
from firmware import tcp_services
from firmware.udp_services import Echo, Status
from stack import tcp as T

_JUNK = bytearray(600)


def junk_frame(mac, i):
    # UDP to a closed port from a neighbour: the stack would count it, if
    # the chip kept it (most of a storm is dropped by the chip itself)
    f = _JUNK
    for k in range(6):
        f[k] = mac[k]
        f[6 + k] = (2, 0, 0, 0, 0x33, i & 0xFF)[k]
    f[12] = 8
    f[13] = 0
    return f


class Faults:
    def __init__(self, board, drv):
        self.board = board
        self.model = board.model
        # a fault makes the driver do what a healthy chip would not accept (it
        # read garbage): count it, as silicon would just misbehave, don't raise
        self.model.strict = False
        self.spi = drv._spi
        self.mac = drv.mac
        self.kind = None
        self.left = 0
        self.period = 0
        self.next_ms = 0
        self.n = 0
        self.garbage_until = None
        orig = self.spi._xfer

        def xfer(wbuf, rbuf, n, fill):
            orig(wbuf, rbuf, n, fill)
            g = self.garbage_until
            if g is not None and rbuf is not None and time.ticks_diff(g, time.ticks_ms()) > 0:
                for i in range(n):
                    rbuf[i] = random.getrandbits(8)
        self.spi._xfer = xfer

    def start(self, words, now):
        self.kind = words[0]
        if self.kind == "storm":
            self.left, self.n, self.period = int(words[1]), int(words[2]), int(words[3])
        elif self.kind == "flap":
            self.left, self.period = int(words[1]), int(words[2])
        elif self.kind == "reset":
            self.model._reset()
            return self.done()
        elif self.kind == "garbage":
            self.garbage_until = time.ticks_add(now, int(words[1]))
            return
        else:
            print("ERROR unknown fault", self.kind)
            self.kind = None
            return
        self.next_ms = now

    def done(self):
        print("FAULT %s done" % self.kind)
        self.kind = None

    def poll(self, now):
        if self.kind is None:
            return
        if self.kind == "garbage":
            if time.ticks_diff(now, self.garbage_until) >= 0:
                self.garbage_until = None
                self.done()
            return
        if time.ticks_diff(now, self.next_ms) < 0:
            return
        self.next_ms = time.ticks_add(now, self.period)
        if self.kind == "storm":
            for i in range(self.n):
                self.model.receive(junk_frame(self.mac, i), len(_JUNK))
        else:
            self.model.set_link(not self.model.link)
        self.left -= 1
        if self.left <= 0:
            if self.kind == "flap":
                self.model.set_link(True)
            self.done()

    def stats(self, drv):
        m = self.model
        chip = {}
        for name in ("rx_frames", "rx_overflows", "rx_drop_off", "rx_drop_filter", "resets",
                     "tx_frames", "tx_lost_no_link", "violations"):
            if hasattr(m, name):
                chip[name] = getattr(m, name)
        print("STATS driver=%s chip=%s" % (
            ",".join("%s:%d" % (k, drv.stats[k]) for k in drv.stats if drv.stats[k]),
            ",".join("%s:%d" % (k, chip[k]) for k in chip)))


_HW = []  # (spi, cs, irq, rst or None) of the board's driver


def keep_hardware(board):
    make = board.sim_hardware

    def recorded(opts):
        hw = make(opts)
        _HW.append(hw)
        return hw
    board.sim_hardware = recorded


def recreate(board, iface, drv):
    """A new driver on the same bus and pins (its init resets the chip)."""
    hw = _HW[-1]
    for _ in range(50):
        try:
            if board.__name__.endswith("w5500"):
                from stack.drivers.w5500 import W5500

                new = W5500(hw[0], hw[1], board.MAC, int_pin=hw[2], rst=hw[3])
            else:
                from stack.drivers.enc28j60 import ENC28J60

                new = ENC28J60(hw[0], hw[1], board.MAC, int_pin=hw[2], full_duplex=False)
        except OSError as e:
            print("DRIVER RETRY", e)
            time.sleep_ms(100)
            continue
        iface.driver = new
        print("DRIVER RECREATED")
        return new
    return None


def main():
    opts = fw.parse_args(sys.argv[1:])
    board = fw.load_board(opts)
    keep_hardware(board)
    cfg = board.config()
    cfg.tcp_rx_bytes = 4096
    cfg.tcp_tx_bytes = 4096
    cfg.tcp_conns = 4
    cfg.tcp_listeners = 5
    board.config = lambda: cfg
    iface = fw.start(opts)
    T.TCP(iface, cfg)
    svc = tcp_services.Services(iface)
    echo = Echo(iface, iface.mtu)
    status = Status(iface, None)
    drv = iface.driver
    faults = Faults(board, drv)
    cmd = select.poll()
    cmd.register(sys.stdin, select.POLLIN)
    print("READY")
    while True:
        now = time.ticks_ms()
        try:
            iface.poll(now)
        except OSError as e:
            print("DRIVER ERROR %d %s" % (e.args[0], e))
            faults.stats(drv)
            drv = recreate(board, iface, drv) if e.args[0] == 19 else None
            if drv is None:
                return
            continue
        svc.poll(now)
        echo.poll(now)
        if status.pending():
            status.poll(now)
        faults.poll(now)
        if cmd.poll(0):
            words = sys.stdin.readline().split()
            if not words:
                return
            if words[0] == "stats":
                try:
                    print("LINK", 1 if drv.link_up() else 0)
                except OSError as e:
                    print("DRIVER ERROR %d %s" % (e.args[0], e))
                faults.stats(drv)
            else:
                faults.start(words, now)
        w = iface.poll_at(time.ticks_ms())
        drv.wait(w if w < 10 else 10)


main()
