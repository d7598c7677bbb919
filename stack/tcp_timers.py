# TCP timers: retransmission (RFC 6298) with exponential backoff and a
# bounded retry count, persist / zero-window probes (RFC 9293 3.8.6.1),
# delayed ACK (RFC 1122 4.2.3.2), keepalive (RFC 1122 4.2.3.6) and TIME_WAIT.
# Each connection keeps plain tick deadlines (-1 = not armed); poll_conn()
# runs the due ones and returns the ms until the next.
from micropython import const

from stack import tcp_output as out
from stack.clock import ticks_add, ticks_diff

_NO_TIMER = const(-1)
_REARM = const(-2)  # see Conn._app_output

_CLOSED = const(0)
_SYN_SENT = const(2)
_SYN_RECEIVED = const(3)
_ESTABLISHED = const(4)
_CLOSE_WAIT = const(7)
_TIME_WAIT = const(10)

_ACKF = const(0x10)
_ETIMEDOUT = const(110)
_CLOCK_G_MS = const(1)  # RFC 6298 G: our clock granularity


def rtt_sample(c, r):
    """RFC 6298 2.2/2.3 with SRTT*8 and RTTVAR*4 kept as ints (Jacobson)."""
    if r < 1:
        r = 1
    if c.srtt8 == 0:
        c.srtt8 = r << 3
        c.rttvar4 = r << 1
    else:
        d = r - (c.srtt8 >> 3)
        c.srtt8 += d  # SRTT += (R - SRTT) / 8
        if d < 0:
            d = -d
        c.rttvar4 += d - (c.rttvar4 >> 2)  # RTTVAR += (|R - SRTT| - RTTVAR) / 4
    k = c.rttvar4
    if k < _CLOCK_G_MS:
        k = _CLOCK_G_MS
    set_rto(c, (c.srtt8 >> 3) + k)


def set_rto(c, rto):
    cfg = c.tcp.cfg
    if rto < cfg.tcp_rto_min_ms:
        rto = cfg.tcp_rto_min_ms
    elif rto > cfg.tcp_rto_max_ms:
        rto = cfg.tcp_rto_max_ms
    c.rto_ms = rto


def fail(c, err):
    """The connection is over with an error the application will read."""
    tcp = c.tcp
    c.error = err
    c.state = _CLOSED
    c.t_rtx = c.t_ack = c.t_keep = c.t_wait = _NO_TIMER
    c.events += 1
    tcp.stats["tcp_conn_failed"] += 1
    tcp.maybe_free(c)


def _retransmit_timeout(c, now):
    tcp = c.tcp
    cfg = tcp.cfg
    s = c.state
    limit = cfg.tcp_syn_retries if s < _ESTABLISHED else cfg.tcp_max_retries
    if c.retries >= limit:
        tcp.stats["tcp_timeouts"] += 1
        if s >= _SYN_RECEIVED:
            out.send_rst(c)  # tell a peer that may still be there (as lwIP does)
        if s == _SYN_RECEIVED and c.listener is not None:
            tcp.release(c)  # a half-open entry: nobody to tell
            return
        fail(c, _ETIMEDOUT)
        return
    c.rtt_timing = False  # Karn: no samples from retransmitted data
    if s < _ESTABLISHED:
        out.send_syn(c)
        _count_retry(c)
        out.arm_rtx(c, now)
        return
    # RFC 5681 eq. 4 on a timeout, then go back to snd_una (RFC 6298 5.4)
    flight = c.snd_max - c.snd_una
    half = flight >> 1
    mss = c.snd_mss
    c.ssthresh = half if half > 2 * mss else 2 * mss
    c.cwnd = mss
    c.in_recovery = False
    c.dupacks = 0
    c.recover = c.snd_max
    c.snd_nxt = c.snd_una
    nxt = out.resend_head(c, now, True)
    if nxt >= 0:
        c.snd_nxt = nxt
        _count_retry(c)
    else:
        # the window is closed: probe it and let the persist timer take
        # over (RFC 9293 3.8.6.1); a peer that answers is never timed out
        out.probe(c, now)
    out.set_timer(c, now, True)


def _count_retry(c):
    """A segment was retransmitted by the timer: count it, back off (RFC 6298 5.5)."""
    c.retries += 1
    c.retransmits += 1
    c.tcp.stats["tcp_retransmits"] += 1
    set_rto(c, c.rto_ms << 1)


def _persist_timeout(c, now):
    """Data waits with nothing in flight. A closed window gets a probe
    (tcp_output.probe), the interval doubling up to tcp_persist_max_ms; a silly window
    gets what fits (the RFC 1122 4.2.3.4 override). Probes that go
    unanswered tcp_max_retries times end the connection (ETIMEDOUT); so do
    that many probes of an orphan (closed by the application), answered or
    not, so a peer holding its window shut cannot keep a TCB forever."""
    tcp = c.tcp
    cfg = tcp.cfg
    c.t_rtx = _NO_TIMER
    n = c.tx.used - (c.snd_nxt - c.tx_seq0)
    usable = c.snd_wnd - (c.snd_nxt - c.snd_una)
    if n <= 0:
        pass  # nothing waits any more
    elif usable > 0:
        if n > usable:
            n = usable
        if n > c.snd_mss:
            n = c.snd_mss
        tcp.stats["tcp_sws_overrides"] += 1
        c.snd_nxt = out.xmit(c, c.snd_nxt, n, now)
        c.persist_ms = 0
    elif c.probes >= cfg.tcp_max_retries:
        tcp.stats["tcp_timeouts"] += 1
        out.send_rst(c)
        fail(c, _ETIMEDOUT)
        return
    else:
        out.probe(c, now)
        p = c.persist_ms << 1
        c.persist_ms = p if p < cfg.tcp_persist_max_ms else cfg.tcp_persist_max_ms
    out.set_timer(c, now, False)


def _keepalive_timeout(c, now):
    tcp = c.tcp
    if not c.keepalive or (c.state != _ESTABLISHED and c.state != _CLOSE_WAIT):
        c.t_keep = _NO_TIMER
        return
    if c.ka_probes >= c.ka_count:
        tcp.stats["tcp_keepalive_fail"] += 1
        out.send_rst(c)
        fail(c, _ETIMEDOUT)
        return
    # RFC 1122 4.2.3.6: SEG.SEQ = SND.NXT - 1 makes the peer answer with an ACK
    out.emit(c, c.snd_una - 1, 0, _ACKF)
    tcp.stats["tcp_keepalive_probes"] += 1
    c.ka_probes += 1
    c.t_keep = ticks_add(now, c.ka_interval_ms)


def rearm(c, now):
    """Give a timer armed from an application call its deadline."""
    c.t_rtx = ticks_add(now, c.persist_ms if c.persist else c.rto_ms)


def poll_conn(c, now):
    """Run the connection's due timers; ms until its next one (-1: none).
    One ticks_diff per armed timer: the deadlines not yet due give the
    answer unless a timer ran (it may have armed another)."""
    if c.t_rtx == _REARM:
        rearm(c, now)
    best = -1
    ran = False
    t = c.t_wait
    if t != _NO_TIMER:
        d = ticks_diff(t, now)
        if d <= 0:
            c.t_wait = _NO_TIMER
            c.state = _CLOSED
            c.events += 1
            c.tcp.maybe_free(c)
            return -1
        best = d
    t = c.t_ack
    if t != _NO_TIMER:
        d = ticks_diff(t, now)
        if d <= 0:
            c.t_ack = _NO_TIMER
            c.tcp.stats["tcp_delayed_acks"] += 1
            out.send_ack(c)
            ran = True
        elif best < 0 or d < best:
            best = d
    t = c.t_rtx
    if t != _NO_TIMER:
        d = ticks_diff(t, now)
        if d <= 0:
            if c.persist:
                _persist_timeout(c, now)
            else:
                _retransmit_timeout(c, now)
            ran = True
        elif best < 0 or d < best:
            best = d
    t = c.t_keep
    if t != _NO_TIMER:
        d = ticks_diff(t, now)
        if d <= 0:
            _keepalive_timeout(c, now)
            ran = True
        elif best < 0 or d < best:
            best = d
    return next_due(c, now) if ran else best


def next_due(c, now):
    """ms until the connection's next timer (-1: none armed)."""
    if c.t_rtx == _REARM:
        return 0
    best = -1
    if c.t_wait != _NO_TIMER:
        best = _later(best, c.t_wait, now)
    if c.t_ack != _NO_TIMER:
        best = _later(best, c.t_ack, now)
    if c.t_rtx != _NO_TIMER:
        best = _later(best, c.t_rtx, now)
    if c.t_keep != _NO_TIMER:
        best = _later(best, c.t_keep, now)
    return best


def _later(best, t, now):
    d = ticks_diff(t, now)
    if d < 0:
        d = 0
    return d if best < 0 or d < best else best


def arm_keepalive(c, now):
    if c.keepalive and (c.state == _ESTABLISHED or c.state == _CLOSE_WAIT):
        c.ka_probes = 0
        c.t_keep = ticks_add(now, c.ka_idle_ms)
    else:
        c.t_keep = _NO_TIMER


def orphan_fin_wait_2(c, now):
    """FIN_WAIT_2 after the application closed: nobody will read, and a peer
    that never sends its FIN must not hold the TCB forever (as Linux's
    tcp_fin_timeout). t_wait expiry closes and frees it."""
    c.t_wait = ticks_add(now, c.tcp.cfg.tcp_fin_wait_2_ms)


def enter_time_wait(c, now):
    c.state = _TIME_WAIT
    c.t_rtx = c.t_ack = c.t_keep = _NO_TIMER
    c.t_wait = ticks_add(now, c.tcp.cfg.tcp_time_wait_ms)
    c.events += 1
