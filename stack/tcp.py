# TCP (RFC 9293): the engine that owns every connection. It demultiplexes
# segments, answers LISTEN and closed ports, allocates TCBs from a fixed pool
# and runs the timers. The per-connection state machine lives in
# tcp_input.py, sending in tcp_output.py, timers in tcp_timers.py, the
# application API on Conn in tcp_conn.py. API: docs/tcp.md.
import os

import micropython

from micropython import const

from stack import stats as _stats
from stack import tcp_input, tcp_output, tcp_timers
from stack.clock import ticks_add, ticks_diff
from stack.tcp_conn import (  # noqa: F401  (re-exported for the socket layer)
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    LISTEN,
    STATE_NAMES,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
    Conn,
)
from stack.wire import ip4
from stack.wire import tcp as wtcp

_SEQ = const(4)
_SYN = const(0x02)
_RST = const(0x04)
_FIN = const(0x01)
_ACKF = const(0x10)
_EPHEMERAL_FIRST = const(49152)
_EPHEMERAL_SPAN = const(16384)
_CHALLENGE_PER_S = const(10)  # RFC 5961 10: bound challenge ACKs per second
_NO_TIMER = const(-1)
_REARM = const(-2)
_MIN_MSS = const(64)
_FRAME_OVERHEAD = const(14 + 4 + 6)  # Ethernet header, FCS, a chip's status bytes  # as Linux's floor on the peer's MSS option (tcp_min_snd_mss 48)

_ENOMEM = const(12)
_EINVAL = const(22)
_EADDRINUSE = const(98)

_STAT_NAMES = (
    "tcp_rx_segs",
    "tcp_tx_segs",
    "tcp_tx_rst",
    "tcp_rx_rst",
    "tcp_drop_short",
    "tcp_drop_offset",
    "tcp_drop_options",
    "tcp_drop_not_ours",
    "tcp_drop_bad_src",
    "tcp_drop_no_conn",
    "tcp_drop_seq",
    "tcp_drop_ack",
    "tcp_drop_backlog",
    "tcp_drop_no_tcb",
    "tcp_syn_recycled",
    "tcp_tw_recycled",
    "tcp_challenge_acks",
    "tcp_retransmits",
    "tcp_fast_retransmits",
    "tcp_timeouts",
    "tcp_persist_probes",
    "tcp_sws_overrides",
    "tcp_delayed_acks",
    "tcp_keepalive_probes",
    "tcp_keepalive_fail",
    "tcp_conn_failed",
    "tcp_established",
    "tcp_ooo_segs",
    "tcp_ooo_drop",
)


class Listener:
    def __init__(self, tcp):
        self.tcp = tcp
        self.port = 0
        self.backlog = 0
        self.events = 0
        self.in_use = False

    def acceptable(self):
        return self.tcp._ready(self) is not None

    def close(self):
        self.tcp.unlisten(self)


class TCP:
    def __init__(self, iface, cfg):
        self.iface = iface
        self.cfg = cfg
        self.stats = _stats.register(iface.stats, *_STAT_NAMES)
        self.mss = cfg.mtu - 40  # IPv4 20 + TCP 20, no options on data
        # The largest window offered: whole frames that fit in the chip's RX
        # FIFO, so a burst at the window cannot overflow it (the MCU drains
        # more slowly than the wire fills: an ENC28J60 holds 4 full frames)
        fifo = getattr(getattr(iface, "driver", None), "rx_fifo_bytes", 0)
        frames = fifo // (cfg.mtu + _FRAME_OVERHEAD) if fifo else 0
        self.wnd_max = frames * self.mss if frames > 1 else 0xFFFF
        self.conns = [Conn(self, cfg, i) for i in range(cfg.tcp_conns)]
        self._last = self.conns[0]  # the connection _find() matched last
        self.fast_path = True  # header prediction (tcp_input.predicted); tests turn it off
        self.listeners = [Listener(self) for _ in range(cfg.tcp_listeners)]
        self.now = 0
        self._stamp = 0
        self._next_port = 0
        # RFC 6528: per-boot secret for the ISN hash
        self._secret = bytes(os.urandom(16))
        self._f = bytearray(4)  # F() of the ISN being made (see _iss)
        self._tuple = bytearray(16)  # its 4-tuple (12 bytes, then zeros)
        self._block = bytearray(16)  # the tuple encrypted
        try:  # AES-128 under the secret is F where the port has it (allocates nothing)
            import cryptolib

            self._aes = cryptolib.aes(self._secret, 1)  # mode 1: ECB, one block
        except ImportError:
            self._aes = None
        self._ma = 0  # _mix_f's state, two 16-bit words
        self._mb = 0
        # sequence offsets are rebased by rebase_by once past rebase_at
        # (both far below 2**30; tests make them small)
        self.rebase_at = 1 << 28
        self.rebase_by = 1 << 27
        self._ch_start = 0
        self._ch_count = 0
        iface.tcp = self

    # -- pool ----------------------------------------------------------------

    def _alloc(self, for_syn=False):
        """A free TCB; else recycle the oldest TIME_WAIT, then the oldest
        un-accepted SYN-RECEIVED one (never an established connection). For
        a SYN only a stale half-open entry is taken (see _oldest_half_open)."""
        for c in self.conns:
            if not c.in_use:
                return c
        best = None
        for c in self.conns:
            if (c.state == TIME_WAIT or c.state == FIN_WAIT_2) and not c.app_owned:
                # TIME_WAIT, or an orphaned FIN_WAIT_2 (its app closed)
                if best is None or c.stamp < best.stamp:
                    best = c
        if best is not None:
            self.stats["tcp_tw_recycled"] += 1
            self.release(best)
            return best
        best = self._oldest_half_open(None, for_syn)
        if best is not None:
            self.stats["tcp_syn_recycled"] += 1
            self.release(best)
        return best

    def _oldest_half_open(self, lst, stale_only):
        """The oldest un-accepted SYN-RECEIVED TCB (of lst, or any). With
        stale_only, only one that cannot be a handshake about to complete:
        its SYN-ACK already timed out once, or it is still waiting for ARP
        (its SYN-ACK never left: a spoofed source's). A burst of real
        clients then costs a SYN retry (dropped SYN), never a reset, while
        a new SYN never loses to flood entries, which are of either kind."""
        best = None
        arp = getattr(self.iface, "arp", None)
        for c in self.conns:
            if (
                c.in_use
                and c.state == SYN_RECEIVED
                and c.listener is not None
                and (lst is None or c.listener is lst)
                and (
                    not stale_only
                    or c.retries > 0
                    or (arp is not None and not arp.resolved(c.remote_ip, 0))
                )
            ):
                if best is None or c.stamp < best.stamp:
                    best = c
        return best

    def _claim(self, c, ip, ip_off):
        self._stamp += 1
        c.reset(self._stamp)
        c.in_use = True
        c.nodelay = False
        c.cork = False
        c.keepalive = False
        c.rcv_mss = self.mss
        c.snd_mss = self.mss if self.mss < 536 else 536
        for i in range(4):
            c.remote_ip[i] = ip[ip_off + i]

    def release(self, c):
        """Return a TCB to the pool (no segment is sent)."""
        c.reset(c.stamp)

    def maybe_free(self, c):
        """Free a finished connection nobody holds (closed by the app, or never
        accepted)."""
        if not c.app_owned and (c.state == CLOSED or c.error):
            self.release(c)

    # -- ISN (RFC 6528) --------------------------------------------------------

    def _iss(self, c, now):
        """RFC 6528: ISN = M + F(4-tuple, secret), F a pseudorandom function
        keyed by a per-boot secret: AES-128 of the 4-tuple where the port has
        cryptolib (it allocates nothing), else SHA-256. Hashing allocates, and
        Interface.poll() runs with the heap locked, so the lock is opened
        around it (connection set-up, not the per-segment path). If the
        application holds the heap locked as well, or the port has neither,
        F comes from _mix_f."""
        f = self._f
        self._fill_tuple(c)
        if self._aes is not None:
            b = self._block
            self._aes.encrypt(self._tuple, b)
            for i in range(4):
                f[i] = b[i]
        else:
            self._hashed_f(f)
        # M: a 4 us clock (RFC 6528 3), here from ms ticks: now * 250 mod 2**32
        m_lo = (now & 0xFFFF) * 250
        m_hi = ((now >> 16) & 0xFFFF) * 250 + (m_lo >> 16)
        lo = ((f[2] << 8) | f[3]) + (m_lo & 0xFFFF)
        c.iss_hi = (((f[0] << 8) | f[1]) + m_hi + (lo >> 16)) & 0xFFFF
        c.iss_lo = lo & 0xFFFF

    def _fill_tuple(self, c):
        t = self._tuple
        ip = self.iface.ip
        r = c.remote_ip
        for i in range(4):
            t[i] = ip[i]
            t[4 + i] = r[i]
        t[8] = c.local_port >> 8
        t[9] = c.local_port & 0xFF
        t[10] = c.remote_port >> 8
        t[11] = c.remote_port & 0xFF

    def _hashed_f(self, f):
        opened = self.iface.in_poll
        if opened:
            micropython.heap_unlock()
        # one class per clause: `except (A, B)` builds its tuple when an
        # exception arrives, which fails with the heap locked
        try:
            self._hash_f(f)
        except MemoryError:
            self._mix_f(f)
        except ImportError:
            self._mix_f(f)
        finally:
            if opened:
                micropython.heap_lock()

    def _hash_f(self, f):
        import hashlib  # only at connection set-up

        h = hashlib.sha256(self._secret)
        h.update(self._tuple)
        d = h.digest()
        for i in range(4):
            f[i] = d[i]

    def _mix_f(self, f):
        """F without allocating: the 4-tuple and the secret mixed by 16-bit
        add-rotate-xor rounds (every value a small int on a 32-bit port). Not
        the pseudorandom function RFC 6528 asks for, but keyed, per 4-tuple,
        and so still growing with M for one 4-tuple."""
        sec = self._secret
        t = self._tuple
        self._ma = (sec[0] << 8) | sec[1]
        self._mb = (sec[2] << 8) | sec[3]
        for i in range(6):
            self._mix((t[2 * i] << 8) | t[2 * i + 1], sec, 4 + 2 * i)
        for i in range(4):  # more rounds: every input bit reaches every output bit
            self._mix(0, sec, 4 + 2 * i)
        f[0] = self._ma >> 8
        f[1] = self._ma & 0xFF
        f[2] = self._mb >> 8
        f[3] = self._mb & 0xFF

    def _mix(self, w, sec, i):
        a = (self._ma + (w ^ ((sec[i] << 8) | sec[i + 1]))) & 0xFFFF
        a = ((a << 5) | (a >> 11)) & 0xFFFF
        b = self._mb ^ a
        b = ((b << 11) | (b >> 5)) & 0xFFFF
        self._ma = (a + b) & 0xFFFF
        self._mb = b

    # -- application entry points ------------------------------------------------

    def listen(self, port, backlog=2):
        if not 0 < port < 0x10000:
            raise OSError(_EINVAL)
        free = None
        for lst in self.listeners:
            if lst.in_use and lst.port == port:
                raise OSError(_EADDRINUSE)
            if not lst.in_use and free is None:
                free = lst
        if free is None:
            raise OSError(_ENOMEM)
        free.in_use = True
        free.port = port
        free.backlog = backlog if 0 < backlog <= len(self.conns) else len(self.conns)
        free.events = 0
        return free

    def unlisten(self, lst):
        for c in self.conns:
            if c.in_use and c.listener is lst:
                if c.state >= SYN_RECEIVED and c.state != TIME_WAIT:
                    tcp_output.send_rst(c)
                self.release(c)
        lst.in_use = False
        lst.port = 0

    def _ready(self, lst):
        best = None
        for c in self.conns:
            if c.in_use and c.listener is lst and c.state >= ESTABLISHED:
                if best is None or c.stamp < best.stamp:
                    best = c
        return best

    def accept(self, lst):
        c = self._ready(lst)
        if c is not None:
            c.listener = None
            c.app_owned = True
        return c

    def _port_in_use(self, port):
        for c in self.conns:
            if c.in_use and c.local_port == port:
                return True
        for lst in self.listeners:
            if lst.in_use and lst.port == port:
                return True
        return False

    def connect(self, dst_ip, dst_port, now_ms, src_port=0):
        if not 0 < dst_port < 0x10000 or not self._unicast(dst_ip, 0):
            raise OSError(_EINVAL)
        self.now = now_ms
        if src_port == 0:
            for _ in range(_EPHEMERAL_SPAN):
                p = _EPHEMERAL_FIRST + self._next_port
                self._next_port = (self._next_port + 1) % _EPHEMERAL_SPAN
                if not self._port_in_use(p):
                    src_port = p
                    break
            else:
                raise OSError(_EADDRINUSE)
        c = self._alloc()
        if c is None:
            raise OSError(_ENOMEM)
        self._claim(c, dst_ip, 0)
        c.app_owned = True
        c.local_port = src_port
        c.remote_port = dst_port
        self._iss(c, now_ms)
        c.sack_ok = self.cfg.tcp_sack  # offered in the SYN; kept if the peer agrees
        c.state = SYN_SENT
        tcp_output.send_syn(c)
        c.rtt_timing = True
        c.rtt_seq = 0
        c.rtt_start = now_ms
        tcp_output.arm_rtx(c, now_ms)
        return c

    # -- input -----------------------------------------------------------------

    def input(self, buf, ip_off, o, l4_len, now_ms):
        self.now = now_ms
        st = self.stats
        hl = wtcp.check(buf, o, l4_len)
        if hl < 0:
            st["tcp_drop_short" if hl == wtcp.DROP_SHORT else "tcp_drop_offset"] += 1
            return
        if not ip4.addr_is(buf, ip_off + ip4.DST, self.iface.ip):
            st["tcp_drop_not_ours"] += 1  # broadcast / multicast: never TCP
            return
        st["tcp_rx_segs"] += 1
        dport = wtcp.dst_port(buf, o)
        sport = wtcp.src_port(buf, o)
        fl = wtcp.flags(buf, o)
        c = self._find(buf, ip_off, dport, sport)
        if c is not None:
            if c.state == TIME_WAIT and fl & _SYN and not fl & (_ACKF | _RST):
                # RFC 9293 3.6.1 / RFC 6191: a new SYN above the old
                # connection's sequence space may reuse the pair now
                seq = wtcp.rel(buf, o, _SEQ, c.irs_hi, c.irs_lo)
                if seq > c.rcv_nxt and self._listener(dport) is not None:
                    self.stats["tcp_tw_recycled"] += 1
                    self.release(c)
                    c = None
            if c is not None:
                if c.t_rtx == _REARM:
                    tcp_timers.rearm(c, now_ms)
                s = c.state
                if s == ESTABLISHED and self.fast_path:
                    if tcp_input.predicted(c, buf, o, hl, l4_len, fl, now_ms):
                        return
                if s == SYN_SENT:
                    tcp_input.syn_sent(c, buf, ip_off, o, hl, l4_len, fl, now_ms)
                else:
                    tcp_input.segment(c, buf, ip_off, o, hl, l4_len, fl, now_ms)
                return
        seg_len = l4_len - hl
        if fl & _SYN:
            seg_len += 1
        if fl & _FIN:
            seg_len += 1
        lst = self._listener(dport)
        if lst is not None:
            # RFC 9293 3.10.7.2 LISTEN
            if fl & _RST:
                return
            if fl & _ACKF:
                tcp_output.send_rst_reply(self, buf, ip_off, o, seg_len, fl)
                return
            if fl & _SYN:
                if self._unicast(buf, ip_off + ip4.SRC):
                    self._syn(lst, buf, ip_off, o, hl, now_ms)
                else:
                    st["tcp_drop_bad_src"] += 1  # RFC 1122 4.2.3.10
            return
        # RFC 9293 3.10.7.1 CLOSED: RST for anything but a RST
        st["tcp_drop_no_conn"] += 1
        if not fl & _RST:
            tcp_output.send_rst_reply(self, buf, ip_off, o, seg_len, fl)

    def _find(self, buf, ip_off, dport, sport):
        c = self._last  # a burst of segments is usually for one connection
        if (
            c.local_port == dport
            and c.remote_port == sport
            and c.in_use
            and c.state != CLOSED
            and ip4.addr_is(buf, ip_off + ip4.SRC, c.remote_ip)
        ):
            return c
        for c in self.conns:
            if (
                c.in_use
                and c.local_port == dport
                and c.remote_port == sport
                and c.state != CLOSED
                and ip4.addr_is(buf, ip_off + ip4.SRC, c.remote_ip)
            ):
                self._last = c
                return c
        return None

    def _unicast(self, buf, off):
        """A usable peer address: not 0.0.0.0, multicast or broadcast (RFC
        1122 4.2.3.10: a SYN from one is ignored, an OPEN to one refused)."""
        b0 = buf[off]
        if b0 == 0 or (b0 & 0xF0) == 0xE0:
            return False
        iface = self.iface
        return not ip4.is_broadcast(buf, off, iface.ip, iface.netmask)

    def _listener(self, port):
        for lst in self.listeners:
            if lst.in_use and lst.port == port:
                return lst
        return None

    def _syn(self, lst, buf, ip_off, o, hl, now):
        st = self.stats
        mss = wtcp.parse_mss(buf, o, hl)
        if mss < 0:
            st["tcp_drop_options"] += 1
            return
        n = 0
        for c in self.conns:
            if c.in_use and c.listener is lst:
                n += 1
        if n >= lst.backlog:
            victim = self._oldest_half_open(lst, True)
            if victim is None:
                st["tcp_drop_backlog"] += 1  # full of connections waiting for accept()
                return
            st["tcp_syn_recycled"] += 1
            self.release(victim)
        c = self._alloc(True)
        if c is None:
            st["tcp_drop_no_tcb"] += 1
            return
        self._claim(c, buf, ip_off + ip4.SRC)
        c.passive = True
        c.listener = lst
        c.local_port = lst.port
        c.remote_port = wtcp.src_port(buf, o)
        c.irs_hi = wtcp.hi16(buf, o, _SEQ)
        c.irs_lo = wtcp.lo16(buf, o, _SEQ)
        c.rcv_nxt = 1
        c.rcv_adv = 1
        c.sack_ok = self.cfg.tcp_sack and wtcp.sack_permitted(buf, o, hl)
        if mss == 0:
            mss = 536  # RFC 9293 3.7.1
        elif mss < _MIN_MSS:
            mss = _MIN_MSS  # a silly MSS must not make us send 1-byte segments
        c.snd_mss = mss if mss < c.rcv_mss else c.rcv_mss
        c.snd_wnd = wtcp.window(buf, o)
        c.max_snd_wnd = c.snd_wnd
        self._iss(c, now)
        c.state = SYN_RECEIVED
        tcp_output.send_syn(c)
        c.rtt_timing = True
        c.rtt_seq = 0
        c.rtt_start = now
        tcp_output.arm_rtx(c, now)

    # -- timers ----------------------------------------------------------------

    def poll(self, now_ms):
        self.now = now_ms
        best = -1
        for c in self.conns:
            if c.in_use:
                t = tcp_timers.poll_conn(c, now_ms)
                if t >= 0 and (best < 0 or t < best):
                    best = t
        return best

    def poll_at(self, now_ms):
        best = -1
        for c in self.conns:
            if c.in_use:
                t = tcp_timers.next_due(c, now_ms)
                if t >= 0 and (best < 0 or t < best):
                    best = t
        return best

    def delack_deadline(self):
        return ticks_add(self.now, self.cfg.tcp_delack_ms)

    def challenge_ok(self):
        """RFC 5961 section 10: at most _CHALLENGE_PER_S challenge ACKs a second."""
        if ticks_diff(self.now, self._ch_start) >= 1000:
            self._ch_start = self.now
            self._ch_count = 0
        if self._ch_count >= _CHALLENGE_PER_S:
            return False
        self._ch_count += 1
        return True

    # -- introspection (allocates) -------------------------------------------------

    def connections(self):
        out = []
        for c in self.conns:
            if not c.in_use:
                continue
            out.append(
                {
                    "state": STATE_NAMES[c.state],
                    "local": "%s:%d" % (ip4.format_addr(self.iface.ip), c.local_port),
                    "remote": "%s:%d" % (ip4.format_addr(c.remote_ip), c.remote_port),
                    "srtt_ms": c.srtt8 >> 3,
                    "rttvar_ms": c.rttvar4 >> 2,
                    "rto_ms": c.rto_ms,
                    "cwnd": c.cwnd,
                    "ssthresh": c.ssthresh,
                    "snd_wnd": c.snd_wnd,
                    "rcv_wnd": c.rcv_adv - c.rcv_nxt if c.rcv_adv > c.rcv_nxt else 0,
                    "in_flight": c.snd_max - c.snd_una,
                    "retransmits": c.retransmits,
                    "rx_queued": c.rx.used,
                    "tx_queued": c.tx.used,
                    "error": c.error,
                    "app_owned": c.app_owned,
                }
            )
        return out

    # -- ICMP (stack/icmp.py) ---------------------------------------------------------

    def icmp_error(self, err, buf, ip_off):
        """A hard ICMP error (port or protocol unreachable, RFC 1122 4.2.3.9)
        about the segment of ours quoted at buf[ip_off] (IPv4 header + 8 bytes
        of TCP). A connection still in SYN-SENT fails with err (ECONNREFUSED
        for a closed port); synchronized ones ignore it, as Linux does. The
        quoted sequence number must be our SYN's (RFC 5927 4.1: blind ICMP
        attacks). True if a connection failed."""
        o = ip_off + ip4.header_len(buf, ip_off)
        sport = wtcp.src_port(buf, o)
        dport = wtcp.dst_port(buf, o)
        for c in self.conns:
            if (
                c.in_use
                and c.state == SYN_SENT
                and c.local_port == sport
                and c.remote_port == dport
                and ip4.addr_is(buf, ip_off + ip4.DST, c.remote_ip)
                and wtcp.rel(buf, o, _SEQ, c.iss_hi, c.iss_lo) == 0
            ):
                tcp_timers.fail(c, err)
                return True
        return False
