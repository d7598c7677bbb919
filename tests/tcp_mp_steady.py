# Run by tests/test_tcp_unixport.py inside the MicroPython unix port (not a
# pytest module): bulk TCP both ways through the real engine, with every
# engine call (input, poll, send, recv_into) under micropython.heap_lock(),
# with sequence numbers starting just below 2**32 and rebasing forced often.
# The scripted peer builds its segments outside the lock. Prints "OK ..." or
# raises.
import sys

import micropython

from stack.config import Config
from stack.tcp import TCP
from stack.wire import ip4
from stack.wire import tcp as wtcp

L4 = 34
US = b"\xc0\x00\x02\x02"
PEER = b"\xc0\x00\x02\x01"
MSS = 1460
SLOTS = 6


class Iface:
    def __init__(self):
        self.mtu = 1500
        self.ip = bytearray(US)
        self.netmask = bytearray((255, 255, 255, 0))
        self.stats = {}
        self.tx_buf = bytearray(1514)
        self.tcp = None
        self.out = [bytearray(1514) for _ in range(SLOTS)]
        self.out_len = [0] * SLOTS
        self.n = 0
        self.drop_next_data = 0

    gen = 0
    in_poll = False

    def locked(self, fn, c, now):
        fn(c, now)  # (the real Interface locks the heap around it)

    def header(self, hdr, proto, dst, dst_off):
        return -1  # every segment through send_ip4 (the real Interface is tested elsewhere)

    def send_ip4(self, buf, proto, dst, dst_off, l4_len):
        # allocation-free: copy into a preallocated slot
        if self.n < SLOTS:
            o = self.out[self.n]
            for i in range(l4_len):  # (slow, but no slice object)
                o[i] = buf[L4 + i]
            self.out_len[self.n] = l4_len
            self.n += 1
        return True


def seg(frame, sport, dport, seq, ack, flags, win, payload_len, fill):
    """Build an IPv4+TCP frame in place (the engine does not check checksums:
    the interface does, before calling it)."""
    tl = 20 + 20 + payload_len
    ip4.write(frame, 14, tl, 1, 64, 6, PEER, US, 0)
    wtcp.write(frame, L4, sport, dport, 20, flags, win)
    wtcp.put32(frame, L4, 4, (seq >> 16) & 0xFFFF, seq & 0xFFFF)
    wtcp.put32(frame, L4, 8, (ack >> 16) & 0xFFFF, ack & 0xFFFF)
    for i in range(payload_len):
        frame[L4 + 20 + i] = (fill + i) & 0xFF
    return 20 + payload_len


def field32(b, f):
    return (wtcp.hi16(b, 0, f) << 16) | wtcp.lo16(b, 0, f)


locked_calls = 0
SEQ_VARS = ("snd_una", "snd_nxt", "snd_max", "snd_sml", "tx_seq0", "snd_wl1", "snd_wl2", "rcv_nxt",
            "rcv_adv", "sack_last", "recover", "rtt_seq", "fin_at", "cwnd", "ssthresh", "srtt8", "rttvar4")


def check_small(c):
    """On a 32-bit port an int of 2**30 or more is a heap object: every
    sequence variable must stay a small int (x86-64 would not notice)."""
    for name in SEQ_VARS:
        v = getattr(c, name)
        if not -(1 << 30) <= v < (1 << 30):
            raise AssertionError("%s=%d is not a 31-bit small int" % (name, v))


def locked_input(tcp, frame, n, now):
    global locked_calls
    micropython.heap_lock()
    try:
        tcp.input(frame, 14, L4, n, now)
    finally:
        micropython.heap_unlock()
    locked_calls += 1


def main():
    global locked_calls
    import gc

    gc.collect()
    print("heap before engine: free=%d" % gc.mem_free())
    # the application's buffers first: the heap holds the compiled sources
    # too, and after the engine no 4 KB run may be left in one piece
    app = bytearray(4096)
    src = bytearray(4096)
    cfg = Config(tcp_conns=2, tcp_rx_bytes=4096, tcp_tx_bytes=4096)
    iface = Iface()
    tcp = TCP(iface, cfg)
    tcp.rebase_at = 300000  # force many rebases during the run
    tcp.rebase_by = 200000

    def iss_near_wrap(c, now):
        c.iss_hi = 0xFFFF
        c.iss_lo = 0xF000

    tcp._iss = iss_near_wrap
    frame = bytearray(1514)
    now = 1000
    lst = tcp.listen(80, 2)
    peer_seq = 0xFFFFFF00
    n = seg(frame, 40000, 80, peer_seq, 0, wtcp.SYN, 65535, 0, 0)
    # options: MSS 1460, NOP, NOP, SACK-permitted (so ACKs carry SACK blocks)
    frame[L4 + 12] = 7 << 4
    frame[L4 + 20 : L4 + 28] = b"\x02\x04\x05\xb4\x01\x01\x04\x02"
    ip4.write(frame, 14, 48, 1, 64, 6, PEER, US, 0)
    n = 28
    tcp.input(frame, 14, L4, n, now)
    sa = iface.out[0]
    iss = field32(sa, 4)
    iface.n = 0
    peer_seq = (peer_seq + 1) & 0xFFFFFFFF
    our_nxt = (iss + 1) & 0xFFFFFFFF  # what the peer has received from us
    n = seg(frame, 40000, 80, peer_seq, our_nxt, wtcp.ACKF, 65535, 0, 0)
    tcp.input(frame, 14, L4, n, now)
    c = tcp.accept(lst)
    c.snd_mss = MSS
    for i in range(4096):
        src[i] = (i * 7) & 0xFF
    rx_total = 0
    tx_total = 0
    rx_check = 0
    expect_fill = 0
    lost = False
    rounds = 3000
    rounds_extra = [0]
    gc.collect()
    print("heap after set-up: free=%d" % gc.mem_free())
    for r in range(rounds):
        now += 1
        # peer -> us: one full segment; every 100 rounds two, in swapped
        # order (out-of-order assembly and SACK blocks under the lock too)
        if r % 100 == 50:
            n = seg(frame, 40000, 80, (peer_seq + MSS) & 0xFFFFFFFF, our_nxt, wtcp.ACKF,
                    65535, MSS, (expect_fill + MSS) & 0xFF)
            locked_input(tcp, frame, n, now)
            if c.asm.n != 1:
                raise AssertionError("out-of-order segment not kept")
            n = seg(frame, 40000, 80, peer_seq, our_nxt, wtcp.ACKF, 65535, MSS, expect_fill)
            locked_input(tcp, frame, n, now)
            peer_seq = (peer_seq + 2 * MSS) & 0xFFFFFFFF
            expect_fill = (expect_fill + 2 * MSS) & 0xFF
            rounds_extra[0] += 1
        else:
            n = seg(frame, 40000, 80, peer_seq, our_nxt, wtcp.ACKF, 65535, MSS, expect_fill)
            locked_input(tcp, frame, n, now)
            peer_seq = (peer_seq + MSS) & 0xFFFFFFFF
            expect_fill = (expect_fill + MSS) & 0xFF
        # app reads it (opens the window: a window update / ACK goes out)
        micropython.heap_lock()
        try:
            got = c.recv_into(app, 0, 4096)
        finally:
            micropython.heap_unlock()
        if got > 0:
            # check content outside the lock
            for i in range(got):
                if app[i] != (rx_check + i) & 0xFF:
                    raise AssertionError("rx data mismatch at %d" % (rx_total + i))
            rx_check = (rx_check + got) & 0xFF
            rx_total += got
        # app -> peer: keep the TX ring full
        micropython.heap_lock()
        try:
            k = c.send(src, tx_total % 1460, 4096)
            tcp.poll(now)
        finally:
            micropython.heap_unlock()
        tx_total += k
        # peer processes what we sent: ACK data (drop one segment every 500
        # rounds, so fast retransmit / RTO run under the lock too)
        ack_to = -1
        for j in range(iface.n):
            b = iface.out[j]
            ln = iface.out_len[j]
            dl = ln - wtcp.data_off(b, 0)
            if dl > 0:
                sq = field32(b, 4)
                if r % 500 == 260 and not lost:
                    lost = True
                    continue
                if sq == our_nxt:
                    our_nxt = (our_nxt + dl) & 0xFFFFFFFF
                    lost = False
            ack_to = our_nxt
        iface.n = 0
        if ack_to >= 0:
            n = seg(frame, 40000, 80, peer_seq, our_nxt, wtcp.ACKF, 65535, 0, 0)
            locked_input(tcp, frame, n, now)
        check_small(c)
        if r % 50 == 0:
            now += 250  # let timers (delayed ACK, RTO) fire under the lock
            micropython.heap_lock()
            try:
                tcp.poll(now)
            finally:
                micropython.heap_unlock()
    st = iface.stats
    print(
        "OK rx=%d tx_acked_to=%d locked_calls=%d retransmits=%d fast=%d rebases_rcv_nxt=%d rto=%d"
        " ooo=%d"
        % (
            rx_total,
            (our_nxt - iss - 1) & 0xFFFFFFFF,
            locked_calls,
            st["tcp_retransmits"],
            st["tcp_fast_retransmits"],
            c.rcv_nxt,
            c.rto_ms,
            iface.stats["tcp_ooo_segs"],
        )
    )
    if not c.sack_ok:
        raise AssertionError("SACK not negotiated")
    if rx_total != (rounds + rounds_extra[0]) * MSS:
        raise AssertionError("received %d of %d" % (rx_total, (rounds + rounds_extra[0]) * MSS))


main()
sys.exit(0)
