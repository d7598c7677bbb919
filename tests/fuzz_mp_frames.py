# The frame fuzzer inside the MicroPython unix port (run by test_fuzz_frames.py).
#
#   micropython fuzz_mp_frames.py --board sim_w5500 --fd N
#
# The firmware's own bring-up (board, chip model, driver, Interface, UDP echo
# and status services, the HTTP server) on the launcher's wire, with one
# change: the chip model's wire is a FuzzWire. Until the test writes
# "fuzz COUNT SEED" on stdin, the FuzzWire passes the real wire through and
# keeps a copy of every distinct frame Linux sends (the seeds: real captured
# frames). Then it stops reading the real wire and feeds COUNT frames of its
# own, one per poll, each a seed mutated (bit flips, bytes set, truncation,
# length fields lied about, option soup, fragment soup, checksums repaired
# or not) or random bytes; after each it checks that poll() did not raise and
# that some counter of the frame's fate moved (a drop by reason, or handled).
# At the end: heap against the baseline (gc.collect() both times), the
# counters, then back to the real wire so the test can fetch the page.
import gc
import random
import select
import sys
import time

import micropython

import boards.sim_w5500 as board_mod
from firmware import main as fw
from firmware.udp_services import Echo, Status
from stack import csum
from stack.drivers.tap import FramedWire

_MAX_SEEDS = 64
_FRAME_MAX = 1514

# Counters that tell a received frame's fate: every drop on the receive path,
# and the "handled" marks of each protocol. Timer- and transmit-side drops
# are left out: they can move without a frame and would hide one that did not.
_NOT_RX = ("arp_drop_unresolved", "arp_drop_replaced", "arp_drop_no_buffer",
           "arp_drop_cache_full", "ip4_reasm_drop_timeout", "ip4_frag_drop_unresolved",
           "ip4_drop_too_big", "ip4_drop_no_addr", "tx_drop_driver", "tcp_keepalive_fail")
_HANDLED = ("arp_rx", "tcp_rx_segs", "udp_rx", "icmp_rx_echo", "icmp_rx_error_matched",
            "icmp_rx_port_unreach", "icmp_rx_unreach", "icmp_rx_frag_needed",
            "icmp_rx_time_exceeded", "icmp_rx_error_other", "ip4_reasm_ok")


class FuzzWire:
    def __init__(self, real):
        self.real = real
        self.seeds = []
        self.fuzzing = False
        self.pending = None  # the next fuzz frame (bytearray) and its length
        self.pending_n = 0
        self.delivered = 0

    # the wire interface the chip model uses (as FramedWire)
    def readable(self, timeout_ms=0):
        if self.fuzzing:
            return self.pending is not None
        return self.real.readable(timeout_ms)

    def recv_into(self, buf):
        if self.fuzzing:
            if self.pending is None:
                return 0
            n = self.pending_n
            buf[0:n] = self.pending[0:n]
            self.pending = None
            self.delivered += 1
            return n
        n = self.real.recv_into(buf)
        if n > 14 and len(self.seeds) < _MAX_SEEDS:
            f = bytes(buf[0:n])
            if f not in self.seeds:
                self.seeds.append(f)
        return n

    def send(self, buf, n):
        if self.fuzzing:
            return True  # the stack's answers to fuzz frames go nowhere
        return self.real.send(buf, n)

    def close(self):
        self.real.close()


def _u16(b, o):
    return (b[o] << 8) | b[o + 1]


def _put16(b, o, v):
    b[o] = (v >> 8) & 0xFF
    b[o + 1] = v & 0xFF


class Mutator:
    """Makes the next fuzz frame into out; returns its length."""

    def __init__(self, seeds, seed):
        random.seed(seed)
        self.seeds = seeds
        self.kinds = [0] * 9

    def rnd(self, n):
        return random.getrandbits(16) % n if n > 0 else 0

    def make(self, out):
        k = self.rnd(9)
        self.kinds[k] += 1
        if k == 8 or not self.seeds:
            return self.random_frame(out)
        src = self.seeds[self.rnd(len(self.seeds))]
        n = len(src)
        out[0:n] = src
        if k == 0:  # bit flips
            for _ in range(1 + self.rnd(8)):
                p = self.rnd(n)
                out[p] ^= 1 << self.rnd(8)
        elif k == 1:  # bytes set to edge values
            for _ in range(1 + self.rnd(4)):
                out[self.rnd(n)] = (0, 0xFF, 0x7F, 0x80, 1)[self.rnd(5)]
        elif k == 2:  # truncation
            n = self.rnd(n + 1)
        elif k == 3:  # a length field lies
            n = self.lie(out, n)
        elif k == 4:  # IPv4 option soup
            n = self.ip_options(out, n)
        elif k == 5:  # TCP option soup
            self.tcp_options(out, n)
        elif k == 6:  # fragment soup
            self.fragment(out, n)
        else:  # appended garbage / cut in the middle of a header
            extra = self.rnd(64)
            if n + extra <= _FRAME_MAX:
                for i in range(extra):
                    out[n + i] = self.rnd(256)
                n += extra
        if self.rnd(2):
            self.repair(out, n)
        return n

    def random_frame(self, out):
        n = self.rnd(_FRAME_MAX + 1)
        for i in range(n):
            out[i] = random.getrandbits(8)
        if n >= 14 and self.rnd(2):
            out[0:6] = board_mod.MAC  # addressed to us, so it reaches the parsers
            out[12] = 8
            out[13] = (0, 6)[self.rnd(2)]
        return n

    def is_ip(self, out, n):
        return n >= 34 and out[12] == 8 and out[13] == 0

    def lie(self, out, n):
        if not self.is_ip(out, n):
            return n
        which = self.rnd(5)
        ihl = (out[14] & 15) * 4
        l4 = 14 + ihl
        if which == 0:  # IPv4 total length
            _put16(out, 16, (_u16(out, 16) + self.rnd(64) - 32) & 0xFFFF)
        elif which == 1:  # IHL
            out[14] = 0x40 | self.rnd(16)
        elif which == 2 and n >= l4 + 6 and out[23] == 17:  # UDP length
            _put16(out, l4 + 4, self.rnd(0x10000))
        elif which == 3 and n >= l4 + 13 and out[23] == 6:  # TCP data offset
            out[l4 + 12] = self.rnd(16) << 4
        elif which == 4:  # the frame is shorter or longer than the header says
            n = n - self.rnd(n - 14) if self.rnd(2) else n
        return n

    def ip_options(self, out, n):
        if not self.is_ip(out, n):
            return n
        words = 1 + self.rnd(10)
        ihl = (out[14] & 15) * 4
        grow = words * 4 - (ihl - 20)
        if grow < 0 or n + grow > _FRAME_MAX:
            return n
        out[34 + grow:n + grow] = out[34:n]
        for i in range(34, 34 + words * 4):
            out[i] = (0, 1, 7, 68, 130, 131, 137, 148, self.rnd(256))[self.rnd(9)]
        out[14] = 0x40 | (5 + words)
        _put16(out, 16, _u16(out, 16) + grow)
        return n + grow

    def tcp_options(self, out, n):
        if not self.is_ip(out, n) or out[23] != 6:
            return
        l4 = 14 + (out[14] & 15) * 4
        if n < l4 + 20:
            return
        hl = (out[l4 + 12] >> 4) * 4
        for i in range(l4 + 20, min(n, l4 + (hl if hl > 20 else 40))):
            out[i] = (0, 1, 2, 3, 4, 5, 8, 30, 254, 255, self.rnd(256))[self.rnd(11)]
        if hl <= 20:
            out[l4 + 12] = (5 + self.rnd(11)) << 4

    def fragment(self, out, n):
        if not self.is_ip(out, n):
            return
        off = (0, 1, 185, 370, self.rnd(0x2000))[self.rnd(5)]
        more = self.rnd(2)
        _put16(out, 20, (more << 13) | off)
        _put16(out, 18, 0x4200 + self.rnd(4))  # a few datagrams at once

    def repair(self, out, n):
        """IPv4 header checksum and the TCP/UDP/ICMP checksum, where they fit."""
        if not self.is_ip(out, n):
            return
        ihl = (out[14] & 15) * 4
        if ihl < 20 or 14 + ihl > n:
            return
        out[24] = out[25] = 0
        _put16(out, 24, csum.checksum(out, 14, ihl, 0))
        tl = _u16(out, 16)
        end = 14 + tl if 14 + tl <= n else n
        l4 = 14 + ihl
        ln = end - l4
        p = out[23]
        if ln < 8 or _u16(out, 20) & 0x3FFF:
            return  # a fragment: its checksum is the datagram's
        if p == 1:
            out[l4 + 2] = out[l4 + 3] = 0
            _put16(out, l4 + 2, csum.checksum(out, l4, ln, 0))
        elif p == 6 or p == 17:
            co = l4 + (16 if p == 6 else 6)
            if co + 2 > end:
                return
            out[co] = out[co + 1] = 0
            c = csum.checksum(out, l4, ln, csum.pseudo_sum(out, 26, 30, p, ln))
            _put16(out, co, c if c or p == 6 else 0xFFFF)


def fate_names(stats_dicts):
    names = []
    for d in stats_dicts:
        for k in d:
            if k in _NOT_RX:
                continue
            if "drop" in k or k in _HANDLED:
                names.append((d, k))
    return names


def fate(names):
    s = 0
    for d, k in names:
        s += d[k]
    m = board_mod.model  # drops in the chip itself: its MAC filter, a full RX buffer
    return s + m.rx_drop_filter + m.rx_overflows + m.rx_drop_off


def frag_state(frag):
    """Changes whenever reassembly keeps a fragment (the one fate without a counter)."""
    return (sum(frag._hfirst) + sum(frag._hlast) * 3 + sum(frag._holes) * 7
            + sum(frag._used) * 11 + sum(frag._hl) * 13 + sum(frag._total) * 17)


def open_state(iface, http):
    n = 0
    for c in iface.tcp.conns:
        n += c.in_use
    last = http._poll._pair[0] if http else None
    return "tcp_in_use=%d http_clients=%d poll_last=%s" % (
        n, http.connections() if http else -1,
        "listener" if last is http._lsock else ("none" if last is None else "client"))


def fuzz(iface, wire, count, seed, services, http, warm=2000, check=0, lo=0, hi=1 << 30):
    """warm frames first (one-time objects get made), then the baseline, then
    count frames. check > 0: diagnosis, the heap every `check` frames in
    [lo, hi) with the frame that grew it; check < 0: heap maps at both ends."""
    drv = iface.driver
    names = fate_names((iface.stats, drv.stats))
    m = Mutator(wire.seeds, seed)
    out = bytearray(_FRAME_MAX + 64)
    raised = 0
    unaccounted = 0
    shown = 0
    now = time.ticks_ms()
    heap_base = 0
    ref = 0
    snap = {}
    held = 0
    last_n = 0
    t0 = time.ticks_ms()
    for i in range(warm + count):
        if i == warm:  # one-time objects made: measure the baseline
            gc.collect()
            heap_base = gc.mem_alloc()
            print("BASE", heap_base, open_state(iface, http))
            if check < 0:
                micropython.mem_info(1)
        if check > 0 and lo <= i < hi and i > warm and i % check == 0:
            gc.collect()
            a = gc.mem_alloc()
            if i > lo and a > ref:
                moved = [k for k in iface.stats if iface.stats[k] != snap.get(k)]
                print("GROW", i, a - ref, open_state(iface, http), moved,
                      bytes(out[:last_n]).hex())
            ref = a
            snap = dict(iface.stats)
        n = m.make(out)
        last_n = n
        if n == 0:
            n = 1  # an empty read means "no frame": send one byte instead
            out[0] = 0
        before = fate(names)
        rx_before = iface.stats["rx_frames"]
        fs = frag_state(iface.frag)
        wire.pending = out
        wire.pending_n = n
        now = time.ticks_add(now, 1)
        try:
            iface.poll(now)
            for s in services:
                s(now)
        except Exception as e:  # the bug this looks for
            raised += 1
            if raised <= 5:
                print("RAISED", repr(e), bytes(out[:n]).hex())
                sys.print_exception(e)
        wire.pending = None
        got = iface.stats["rx_frames"] - rx_before
        if fate(names) == before:
            if frag_state(iface.frag) != fs:
                held += 1
            elif got or n > 14:  # a frame the chip passed up, or should have
                unaccounted += 1
                if shown < 10:
                    shown += 1
                    print("UNACCOUNTED", n, bytes(out[:n]).hex())
        if i % 20000 == 19999:
            print("FUZZ %d frames, %d ms" % (i + 1, time.ticks_diff(time.ticks_ms(), t0)))
    # let timers run out (reassembly 15 s, TCP) on a clock that jumps ahead
    for k in range(40):
        now = time.ticks_add(now, 1000)
        iface.poll(now)
        for s in services:
            s(now)
    print("END", open_state(iface, http))
    if http is not None:  # its idle timer runs on the real clock: close idle clients now
        http._sweep(time.ticks_add(time.ticks_ms(), 60_000))
        for s in services:
            s(now)
    for k in range(40):
        now = time.ticks_add(now, 1000)
        iface.poll(now)
        for s in services:
            s(now)
    gc.collect()
    heap_end = gc.mem_alloc()
    print("SETTLED", open_state(iface, http), heap_end)
    if check < 0:
        micropython.mem_info(1)
    ms = time.ticks_diff(time.ticks_ms(), t0)
    print("FUZZ DONE warm=%d frames=%d delivered=%d raised=%d unaccounted=%d held_fragments=%d "
          "heap_base=%d heap_end=%d ms=%d seeds=%d kinds=%s"
          % (warm, count, wire.delivered, raised, unaccounted, held, heap_base, heap_end, ms,
             len(wire.seeds), ",".join(str(k) for k in m.kinds)))
    st = iface.stats
    print("COUNTERS " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st) if st[k]))
    ds = drv.stats
    print("DRIVER " + " ".join("%s=%d" % (k, ds[k]) for k in sorted(ds) if ds[k]))


def main():
    opts = fw.parse_args(sys.argv[1:])
    real = [None]

    def wire_factory(fd):
        real[0] = FuzzWire(FramedWire(fd))
        return real[0]

    board_mod.FramedWire = wire_factory  # the chip model's wire (boards/sim_w5500.py)
    iface = fw.start(opts)
    wire = real[0]
    echo = Echo(iface, iface.mtu)
    status = Status(iface, None)
    http = fw.start_http(iface)

    def step_services(now):
        echo.poll(now)
        if status.pending():
            status.poll(now)
        if http is not None:
            http.step(0)

    cmd = select.poll()
    cmd.register(sys.stdin, select.POLLIN)
    print("READY")
    drv = iface.driver
    while True:
        now = time.ticks_ms()
        iface.poll(now)
        step_services(now)
        if cmd.poll(0):
            words = sys.stdin.readline().split()
            if not words:
                return
            if words[0] == "fuzz":
                wire.fuzzing = True
                fuzz(iface, wire, int(words[1]), int(words[2]), (step_services,), http,
                     *[int(w) for w in words[3:7]])
                wire.fuzzing = False
        wait = iface.poll_at(time.ticks_ms())
        drv.wait(wait if wait < 20 else 20)


main()
