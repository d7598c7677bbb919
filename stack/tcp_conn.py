# One TCP connection (TCB): its state, rings and the application-side API.
#
# Every attribute is created in __init__ (a new attribute later would grow the
# instance dict, an allocation). Sequence variables are small ints relative to
# ISS (send side) or IRS (receive side); see docs/tcp.md "Sequence numbers".
from micropython import const

from stack import tcp_output, tcp_timers
from stack.ring import Assembler, Ring

# States (RFC 9293 3.3.2); stack/tcp.py re-exports them, tests hold copies equal.
CLOSED = const(0)
LISTEN = const(1)
SYN_SENT = const(2)
SYN_RECEIVED = const(3)
ESTABLISHED = const(4)
FIN_WAIT_1 = const(5)
FIN_WAIT_2 = const(6)
CLOSE_WAIT = const(7)
CLOSING = const(8)
LAST_ACK = const(9)
TIME_WAIT = const(10)

STATE_NAMES = (
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "CLOSE_WAIT",
    "CLOSING",
    "LAST_ACK",
    "TIME_WAIT",
)

_EPIPE = const(32)
_NO_TIMER = const(-1)
_REARM = const(-2)  # t_rtx: armed, deadline to be set from the next poll's clock


class Conn:
    def __init__(self, tcp, cfg, slot):
        self.tcp = tcp
        self.slot = slot
        self.rx = Ring(cfg.tcp_rx_bytes)
        self.tx = Ring(cfg.tcp_tx_bytes)
        self.asm = Assembler(cfg.tcp_ooo_ranges)
        # the receiver's SWS unit, min(MSS, ring/2) (RFC 1122 4.2.3.3): our
        # MSS (rcv_mss) is the engine's, the same for every connection
        half = cfg.tcp_rx_bytes >> 1
        self.wnd_step = tcp.mss if tcp.mss < half else half
        self.remote_ip = bytearray(4)
        self.hdr = bytearray(34)  # Ethernet + IPv4 headers to the peer (iface.header)
        self.nodelay = False
        self.cork = False
        self.keepalive = False
        self.ka_idle_ms = cfg.tcp_keepalive_idle_ms
        self.ka_interval_ms = cfg.tcp_keepalive_interval_ms
        self.ka_count = cfg.tcp_keepalive_count
        self.reset(0)

    def reset(self, stamp):
        """Back to a fresh CLOSED TCB (rings emptied); stamp orders allocations."""
        self.stamp = stamp
        self.state = CLOSED
        self.error = 0
        self.events = 0
        self.in_use = False  # allocated (by connect, a SYN, ...)
        self.app_owned = False  # the application holds it (until close/abort)
        self.app_closed = False  # close() called: no more reads either
        self.listener = None  # set while waiting to be accepted
        self.passive = False
        self.local_port = 0
        self.remote_port = 0
        self.hdr_gen = -1  # iface.gen that hdr holds for; -1: not made yet
        # sequence bases as 16-bit halves
        self.iss_hi = 0
        self.iss_lo = 0
        self.irs_hi = 0
        self.irs_lo = 0
        # send side, relative to ISS
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_max = 0  # highest sequence sent + 1
        self.snd_sml = 0  # end of the last small segment sent (Nagle, Minshall)
        self.tx_seq0 = 1  # sequence number of the TX ring's first byte
        self.fin_queued = False  # shutdown/close asked for a FIN after the data
        self.snd_wnd = 0
        self.max_snd_wnd = 0  # largest window ever offered (RFC 5961 5.2)
        self.sws_wnd = 0  # sender SWS reference (tcp_output.next_len)
        self.snd_wl1 = 0  # relative to IRS
        self.snd_wl2 = 0
        self.snd_mss = 536  # RFC 9293 3.7.1 default until the peer says otherwise
        # receive side, relative to IRS
        self.rcv_nxt = 0
        self.rcv_adv = 0  # right edge of the window last advertised
        self.fin_at = 0  # sequence (rel. IRS) of a FIN that arrived early
        self.fin_pending = False
        self.rcv_mss = 536
        self.sack_ok = False  # RFC 2018 negotiated: our ACKs carry SACK blocks
        self.sack_last = 0  # sequence (rel. IRS) of the latest out-of-order segment
        # RTT / RTO (RFC 6298): srtt8 = SRTT * 8, rttvar4 = RTTVAR * 4, in ms
        cfg = self.tcp.cfg
        self.srtt8 = 0
        self.rttvar4 = 0
        self.rto_ms = cfg.tcp_rto_initial_ms
        self.rtt_seq = 0
        self.rtt_start = 0
        self.rtt_timing = False
        self.t_rtx = _NO_TIMER  # retransmission or persist deadline (ticks)
        self.persist = False  # t_rtx is the persist timer
        self.persist_ms = 0
        self.probes = 0  # zero-window probes since the peer last answered
        self.last_tx = 0  # when data last left (RFC 5681 4.1 idle restart)
        self.retries = 0  # consecutive timeouts of the same data
        self.retransmits = 0  # total, for introspection
        # congestion control (RFC 5681, RFC 6582)
        self.cwnd = 0
        self.ssthresh = 0xFFFF
        self.dupacks = 0
        self.recover = 0
        self.in_recovery = False
        # delayed ACK, keepalive, TIME_WAIT
        self.ack_now = False
        self.ack_bytes = 0  # in-order bytes received and not yet acknowledged
        self.t_ack = _NO_TIMER
        self.t_wait = _NO_TIMER
        self.last_rx = 0
        self.ka_probes = 0
        self.t_keep = _NO_TIMER
        self.rx.clear()
        self.tx.clear()
        self.asm.clear()

    # -- readiness -------------------------------------------------------------

    def _synced(self):
        return self.state >= ESTABLISHED

    def connected(self):
        return self.state >= ESTABLISHED and self.error == 0

    def closed(self):
        return self.error != 0 or self.state == CLOSED or self.state == TIME_WAIT

    def fin_received(self):
        s = self.state
        return s == CLOSE_WAIT or s == CLOSING or s == LAST_ACK or s == TIME_WAIT

    def readable(self):
        return self.rx.used > 0 or self.error != 0 or self.fin_received()

    def writable(self):
        if self.error != 0:
            return True
        s = self.state
        if s != ESTABLISHED and s != CLOSE_WAIT and s != SYN_SENT and s != SYN_RECEIVED:
            return self.fin_queued or s == CLOSED  # send() would raise
        return not self.fin_queued and self.tx.used < self.tx.size

    def rx_avail(self):
        return self.rx.used

    def tx_free(self):
        return self.tx.size - self.tx.used

    def tx_queued(self):
        return self.tx.used

    # -- data ----------------------------------------------------------------

    def send(self, buf, off, n):
        if self.error:
            raise OSError(self.error)
        s = self.state
        if self.fin_queued or (
            s != ESTABLISHED and s != CLOSE_WAIT and s != SYN_SENT and s != SYN_RECEIVED
        ):
            raise OSError(_EPIPE)
        n = self.tx.write(buf, off, n)
        if n and s >= ESTABLISHED:
            self._app_output()
        return n

    def _app_output(self):
        """Output from an application call. The engine's clock (tcp.now) is
        only as fresh as the last poll/input, so a retransmission or persist
        timer armed here would be early; it is marked _REARM instead and gets
        its deadline from the next poll or segment (never early, at most one
        poll interval late)."""
        before = self.t_rtx
        self.tcp.iface.locked(tcp_output.output, self, self.tcp.now)
        if self.t_rtx != before and self.t_rtx >= 0:
            self.t_rtx = _REARM

    def recv_into(self, buf, off, n):
        rx = self.rx
        if rx.used == 0:
            if self.error:
                raise OSError(self.error)
            if self.fin_received():
                return 0
            return -1
        n = rx.read_into(buf, off, n)
        if n and self.state >= ESTABLISHED:
            tcp_output.window_update(self, self.tcp.now)
        return n

    # -- closing -------------------------------------------------------------

    def shutdown(self):
        """Half-close: a FIN goes out after the queued data."""
        if self.error or self.fin_queued:
            return
        s = self.state
        self.fin_queued = True  # in SYN-SENT/SYN-RECEIVED: FIN after the handshake
        if s == ESTABLISHED:
            self.state = FIN_WAIT_1
        elif s == CLOSE_WAIT:
            self.state = LAST_ACK
        if self.state >= ESTABLISHED:
            self._app_output()

    def close(self):
        """The application is done. FIN after queued data, or RST if received
        data was never read; the TCB returns to the pool when finished."""
        self.app_owned = False
        self.app_closed = True
        if self.error or self.state == CLOSED or self.state == SYN_SENT:
            self.tcp.release(self)
            return
        if self.rx.used:
            self.abort()
            return
        self.shutdown()
        if self.state == FIN_WAIT_2:
            tcp_timers.orphan_fin_wait_2(self, self.tcp.now)
        self.tcp.maybe_free(self)  # TIME_WAIT and the FIN handshake free it later

    def abort(self):
        """RST if synchronized, then back to the pool at once."""
        self.app_owned = False
        self.app_closed = True
        if self.state >= SYN_RECEIVED and self.state != TIME_WAIT and not self.error:
            tcp_output.send_rst(self)
        self.tcp.release(self)

    def set_cork(self, on):
        """TCP_CORK: while on, a partial segment waits for more data (at most
        one persist period, as Linux's 200 ms); off sends what is queued."""
        self.cork = bool(on)
        if not on and self.state >= ESTABLISHED:
            self._app_output()

    def set_keepalive(self, on, idle_ms=None, interval_ms=None, count=None):
        self.keepalive = bool(on)
        if idle_ms is not None:
            self.ka_idle_ms = idle_ms
        if interval_ms is not None:
            self.ka_interval_ms = interval_ms
        if count is not None:
            self.ka_count = count
        tcp_timers.arm_keepalive(self, self.tcp.now)
