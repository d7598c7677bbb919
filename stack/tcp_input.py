# TCP segment arrival for a connection that has a TCB (RFC 9293 3.10.7.3 and
# 3.10.7.4), with RFC 5961 (challenge ACKs, ACK acceptability), RFC 5681 /
# RFC 6582 (slow start, congestion avoidance, fast retransmit, NewReno) and
# the RFC 6298 RTT sampling. LISTEN and "no TCB" are handled in stack/tcp.py.
# Nothing here allocates.
from micropython import const

from stack import tcp_output as out
from stack import tcp_timers as tmr
from stack.clock import ticks_diff
from stack.wire import tcp as wtcp

_SEQ = const(4)
_ACK = const(8)
_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ACKF = const(0x10)
_URG = const(0x20)
_FLAGS_SEEN = const(0x3F & ~_PSH)  # all but PSH (and ECN's, which we ignore)

_CLOSED = const(0)
_SYN_SENT = const(2)
_SYN_RECEIVED = const(3)
_ESTABLISHED = const(4)
_FIN_WAIT_1 = const(5)
_FIN_WAIT_2 = const(6)
_CLOSE_WAIT = const(7)
_CLOSING = const(8)
_LAST_ACK = const(9)
_TIME_WAIT = const(10)

_ECONNREFUSED = const(111)
_ECONNRESET = const(104)
_CWND_CAP = const(1 << 20)
_NO_TIMER = const(-1)


def established(c, now):
    """Handshake complete (either side)."""
    c.cwnd = out.initial_cwnd(c)
    if c.retries and c.srtt8 == 0:
        tmr.set_rto(c, 3000)  # RFC 6298 5.7: the SYN (or SYN-ACK) timed out
    c.retries = 0
    c.t_rtx = _NO_TIMER
    c.persist = False
    c.last_tx = now  # the idle restart (RFC 5681 4.1) counts from here
    c.state = _FIN_WAIT_1 if c.fin_queued else _ESTABLISHED
    c.events += 1
    tcp = c.tcp
    tcp.stats["tcp_established"] += 1
    if c.listener is not None:
        c.listener.events += 1
    tmr.arm_keepalive(c, now)


def _challenge_ack(c):
    tcp = c.tcp
    if tcp.challenge_ok():
        tcp.stats["tcp_challenge_acks"] += 1
        out.send_ack(c)


def syn_sent(c, buf, ip_off, o, hl, l4_len, fl, now):
    """RFC 9293 3.10.7.3."""
    tcp = c.tcp
    ack_ok = False
    if fl & _ACKF:
        ack = wtcp.rel(buf, o, _ACK, c.iss_hi, c.iss_lo)
        if ack <= 0 or ack > c.snd_max:
            if not fl & _RST:
                out.send_rst_reply(tcp, buf, ip_off, o, 0, fl)
            tcp.stats["tcp_drop_ack"] += 1
            return
        ack_ok = True
    if fl & _RST:
        if ack_ok:
            tcp.stats["tcp_rx_rst"] += 1
            tmr.fail(c, _ECONNREFUSED)
        return
    if not fl & _SYN:
        return
    mss = wtcp.parse_mss(buf, o, hl)
    if mss < 0:
        tcp.stats["tcp_drop_options"] += 1
        return
    c.irs_hi = wtcp.hi16(buf, o, _SEQ)
    c.irs_lo = wtcp.lo16(buf, o, _SEQ)
    c.rcv_nxt = 1
    c.rcv_adv = 1
    c.sack_ok = c.sack_ok and wtcp.sack_permitted(buf, o, hl)  # we offered it
    if mss == 0:
        mss = 536  # RFC 9293 3.7.1
    elif mss < 64:
        mss = 64  # floor for a silly MSS (see stack/tcp.py _MIN_MSS)
    c.snd_mss = mss if mss < c.rcv_mss else c.rcv_mss
    c.snd_wl1 = 0
    if ack_ok:
        c.snd_una = ack
        c.snd_wl2 = ack
        _take_window(c, wtcp.window(buf, o))
        if c.rtt_timing:
            c.rtt_timing = False
            tmr.rtt_sample(c, ticks_diff(now, c.rtt_start))
        established(c, now)
        c.ack_now = True
        out.output(c, now)
    else:
        # simultaneous open (RFC 9293 3.5 figure 8)
        c.state = _SYN_RECEIVED
        c.snd_wl2 = 0
        _take_window(c, wtcp.window(buf, o))
        out.send_syn(c)


def _reset(c):
    """An acceptable RST (RFC 9293 3.10.7.4 second check)."""
    tcp = c.tcp
    tcp.stats["tcp_rx_rst"] += 1
    s = c.state
    if s == _SYN_RECEIVED and c.passive:
        tcp.release(c)  # back to LISTEN: the listener is still there
    elif s == _SYN_RECEIVED:
        tmr.fail(c, _ECONNREFUSED)
    elif s >= _CLOSING:
        c.state = _CLOSED
        c.t_rtx = c.t_ack = c.t_wait = c.t_keep = _NO_TIMER
        c.events += 1
        tcp.maybe_free(c)
    else:
        tmr.fail(c, _ECONNRESET)


def predicted(c, buf, o, hl, l4_len, fl, now):
    """Header prediction (Van Jacobson's, as in BSD and lwIP) for the two
    segments a transfer is made of, in ESTABLISHED with nothing unusual
    going on (no recovery, duplicate ACKs, holes, early FIN or persist):
    only ACK (and PSH) set, at RCV.NXT, the window unchanged, and either no
    data and an ACK of new data, or in-order data that fits and acknowledges
    nothing new. The full path (segment()) would do the same to them; this
    one skips the checks that cannot apply. tests/test_tcp_fastpath.py holds
    the two equal. False: not predicted, take the full path."""
    if (
        fl & _FLAGS_SEEN != _ACKF
        or c.dupacks
        or c.asm.n
        or c.fin_pending
        or c.persist
        or c.in_recovery
        or wtcp.window(buf, o) != c.snd_wnd
    ):
        return False
    seq = wtcp.rel(buf, o, _SEQ, c.irs_hi, c.irs_lo)
    if seq != c.rcv_nxt:
        return False
    ack = wtcp.rel(buf, o, _ACK, c.iss_hi, c.iss_lo)
    dlen = l4_len - hl
    if dlen == 0:
        if ack <= c.snd_una or ack > c.snd_max:
            return False
        _ack_accepted(c, now)
        _ack_new(c, ack, now)
    elif ack != c.snd_una or dlen > c.rx.free() or c.app_closed:
        return False
    else:
        _ack_accepted(c, now)
    # the window rule of RFC 9293 3.10.7.4 holds: SND.WL1 <= SEG.SEQ and
    # SND.WL2 <= SEG.ACK; the window itself is unchanged
    c.snd_wl1 = seq
    c.snd_wl2 = ack
    if c.snd_nxt == c.snd_una:
        c.sws_wnd = c.snd_wnd  # see _take_window
    if dlen:
        _text(c, buf, o + hl, 0, dlen)
    _finish(c, now)
    return True


def segment(c, buf, ip_off, o, hl, l4_len, fl, now):
    """A segment for a connection in SYN-RECEIVED or a synchronized state,
    in the order of RFC 9293 3.10.7.4's checks."""
    seq = wtcp.rel(buf, o, _SEQ, c.irs_hi, c.irs_lo)
    dlen = l4_len - hl
    if c.state == _SYN_RECEIVED and fl & _SYN and seq == 0:
        if _syn_at_irs(c, buf, o, fl, dlen, now):
            return
    seg_len = dlen
    if fl & _SYN:
        seg_len += 1
    if fl & _FIN:
        seg_len += 1
    # first: sequence number acceptable?
    if not _acceptable(c, seq, seg_len):
        if seq != c.rcv_nxt or c.rx.free() or fl & (_RST | _SYN):
            _unacceptable(c, fl, now)
            return
        # a zero window: still take the ACK and window (RFC 9293
        # 3.10.7.4), drop the text and answer with the (zero) window
        dlen = 0
        fl &= ~_FIN
        c.ack_now = True
    # second: RST
    if fl & _RST:
        _rst(c, seq)
        return
    # fourth: SYN. SYN-RECEIVED from a passive open goes back to LISTEN (RFC
    # 9293 3.10.7.4); in a synchronized state, a challenge ACK (RFC 5961 4.2)
    if fl & _SYN:
        if c.state == _SYN_RECEIVED and c.passive:
            c.tcp.release(c)
        else:
            _challenge_ack(c)
        return
    # fifth: ACK
    if not fl & _ACKF:
        return
    if not _ack(c, buf, ip_off, o, fl, seq, seg_len, now):
        return
    # seventh: segment text
    s = c.state
    if s == _ESTABLISHED or s == _FIN_WAIT_1 or s == _FIN_WAIT_2:
        if not _text_step(c, buf, o + hl, fl, seq, dlen):
            return
    elif s >= _CLOSE_WAIT and fl & _FIN:
        c.ack_now = True  # a repeated FIN: ACK it
    # eighth: FIN (in order only; an early one waits in fin_at)
    if c.fin_pending and c.fin_at == c.rcv_nxt and _fin(c, now):
        return
    _finish(c, now)


def _finish(c, now):
    """After a segment: keep the offsets small, then send what is due."""
    tcp = c.tcp
    if c.snd_una > tcp.rebase_at:
        rebase_send(c, tcp.rebase_by)
    if c.rcv_nxt > tcp.rebase_at:
        rebase_recv(c, tcp.rebase_by)
    out.output(c, now)


def _syn_at_irs(c, buf, o, fl, dlen, now):
    """A SYN at the peer's ISN while in SYN-RECEIVED. Without ACK: the peer
    repeats its SYN (our SYN-ACK was lost), so it is sent again. With an ACK
    of our SYN in an active open: the peer's SYN-ACK of a simultaneous open
    (RFC 9293 3.5 figure 8), which completes the handshake. True if handled."""
    if fl & _RST:
        return False
    if not fl & _ACKF:
        out.send_syn(c)
        return True
    if c.passive or dlen or wtcp.rel(buf, o, _ACK, c.iss_hi, c.iss_lo) != c.snd_max:
        return False
    c.snd_una = c.snd_max
    c.snd_wl1 = 0
    c.snd_wl2 = c.snd_una
    _take_window(c, wtcp.window(buf, o))
    if c.rtt_timing:
        c.rtt_timing = False
        tmr.rtt_sample(c, ticks_diff(now, c.rtt_start))
    established(c, now)
    out.output(c, now)
    return True


def _acceptable(c, seq, seg_len):
    """RFC 9293 3.10.7.4's acceptability table against the receive window
    (the ring's free space, never less than the window advertised). seq
    may be clamped to +-FAR, so it is only compared, never added to: on a
    32-bit port seq + seg_len could leave the small-int range."""
    nxt = c.rcv_nxt
    wnd = c.rx.free()
    if seg_len == 0:
        return seq == nxt if wnd == 0 else nxt <= seq < nxt + wnd
    if wnd == 0:
        return False
    # the segment's first or last octet lies in the window
    return nxt <= seq < nxt + wnd or nxt + 1 - seg_len <= seq < nxt + wnd + 1 - seg_len


def _unacceptable(c, fl, now):
    """Not acceptable: ACK it (RFC 9293 3.10.7.4) unless it is a RST."""
    c.tcp.stats["tcp_drop_seq"] += 1
    if fl & _RST:
        return
    if c.state == _TIME_WAIT and fl & _FIN:
        tmr.enter_time_wait(c, now)  # retransmitted FIN: restart 2MSL
    out.send_ack(c)


def _rst(c, seq):
    """RFC 5961 3.2: only a RST exactly at RCV.NXT resets; elsewhere in the
    window it draws a challenge ACK. In TIME-WAIT a RST is ignored (RFC 1337:
    it must not end TIME-WAIT early)."""
    if c.state == _TIME_WAIT:
        c.tcp.stats["tcp_drop_seq"] += 1
        return
    if seq == c.rcv_nxt:
        _reset(c)
    else:
        _challenge_ack(c)


def _ack(c, buf, ip_off, o, fl, seq, seg_len, now):
    """Fifth check (RFC 9293 3.10.7.4, RFC 5961 5.2). False: the segment
    needs no further processing (dropped, or the connection ended)."""
    tcp = c.tcp
    st = tcp.stats
    ack = wtcp.rel(buf, o, _ACK, c.iss_hi, c.iss_lo)
    win = wtcp.window(buf, o)
    if c.state == _SYN_RECEIVED:
        if ack <= c.snd_una or ack > c.snd_max:
            out.send_rst_reply(tcp, buf, ip_off, o, seg_len, fl)
            st["tcp_drop_ack"] += 1
            return False
        c.snd_wl1 = seq
        c.snd_wl2 = ack
        _take_window(c, win)
        established(c, now)
    if ack > c.snd_max or ack < c.snd_una - c.max_snd_wnd:
        # RFC 5961 5.2: an ACK for data never sent, or far below SND.UNA
        # (blind data injection): dropped, answered by a rate-limited ACK
        st["tcp_drop_ack"] += 1
        _challenge_ack(c)
        return False
    _ack_accepted(c, now)
    if ack > c.snd_una:
        _ack_new(c, ack, now)
    elif (
        ack == c.snd_una
        and seg_len == 0
        and win == c.snd_wnd
        and c.snd_max > c.snd_una
        and not c.persist  # ACKs of zero-window probes are not duplicates
    ):
        _dupack(c, now)
    if c.snd_wl1 < seq or (c.snd_wl1 == seq and c.snd_wl2 <= ack):
        # RFC 9293 3.10.7.4: the window of the newest segment (SND.WL1/WL2)
        c.snd_wl1 = seq
        c.snd_wl2 = ack
        _take_window(c, win)
    if c.fin_queued and c.snd_una == out.data_end(c) + 1:
        return _fin_acked(c, now)
    return True


def _ack_accepted(c, now):
    """An acceptable ACK arrived: the peer is alive."""
    if not c.app_closed:
        c.probes = 0  # it answers (see tcp_timers._persist_timeout)
    if c.keepalive:
        tmr.arm_keepalive(c, now)


def _take_window(c, win):
    c.snd_wnd = win
    if win > c.max_snd_wnd:
        c.max_snd_wnd = win  # MAX.SND.WND of RFC 5961 5.2
    # The sender SWS reference (tcp_output.next_len): the largest window
    # offered since the peer last had nothing of ours in flight. With
    # nothing in flight the window offered is all the receiver can take
    # now, so a receiver with a small buffer is served at once instead of
    # once per persist period.
    if c.snd_nxt == c.snd_una or win > c.sws_wnd:
        c.sws_wnd = win
    if win > 0 and c.persist:
        c.t_rtx = _NO_TIMER  # window opened: output() sends, or re-arms from the RTO
        c.persist = False
        c.persist_ms = 0


def _fin_acked(c, now):
    """Our FIN is acknowledged. False when the connection is done with."""
    s = c.state
    if s == _FIN_WAIT_1:
        c.state = _FIN_WAIT_2
        c.events += 1
        if c.app_closed:
            tmr.orphan_fin_wait_2(c, now)
    elif s == _CLOSING:
        tmr.enter_time_wait(c, now)
        return False
    elif s == _LAST_ACK:
        c.state = _CLOSED
        c.t_rtx = c.t_ack = c.t_keep = _NO_TIMER
        c.events += 1
        c.tcp.maybe_free(c)
        return False
    return True


def _text_step(c, buf, doff, fl, seq, dlen):
    """Seventh check: the part of the text inside the window goes to the
    ring; a FIN is noted at its sequence number. False if the connection
    was reset because its application had closed."""
    nxt = c.rcv_nxt
    wnd = c.rx.free()
    d0 = seq - nxt  # small: seq passed the acceptability test
    if d0 < 0:
        if -d0 >= dlen:
            if -d0 > dlen:
                fl &= ~_FIN  # an old FIN: it lies before RCV.NXT
            dlen = 0
        else:
            doff -= d0
            dlen += d0
        d0 = 0
    if d0 + dlen > wnd:
        dlen = wnd - d0 if wnd > d0 else 0
        fl &= ~_FIN  # the FIN lies beyond the window
    if dlen > 0:
        if c.app_closed:
            # data for an application that closed: RST (RFC 9293 3.10.4)
            out.send_rst(c)
            tmr.fail(c, _ECONNRESET)
            return False
        _text(c, buf, doff, d0, dlen)
    if fl & _FIN:
        c.fin_at = d0 + dlen + nxt
        c.fin_pending = True
    return True


def _fin(c, now):
    """Eighth check: the FIN is next in sequence. True if the connection
    went to TIME-WAIT (nothing more to send)."""
    c.fin_pending = False
    c.rcv_nxt += 1
    c.rcv_adv += 1
    c.ack_now = True
    c.events += 1
    s = c.state
    if s == _ESTABLISHED:
        c.state = _CLOSE_WAIT
    elif s == _FIN_WAIT_1:
        c.state = _CLOSING
    elif s == _FIN_WAIT_2:
        out.send_ack(c)
        tmr.enter_time_wait(c, now)
        return True
    return False


def _text(c, buf, doff, d0, dlen):
    tcp = c.tcp
    rx = c.rx
    asm = c.asm
    rx.write_at(d0, buf, doff, dlen)
    if d0 == 0:
        holes = asm.n
        got = asm.advance(dlen)
        rx.commit(got)
        c.rcv_nxt += got
        c.ack_bytes += got
        c.events += 1
        # RFC 5681 4.2 / RFC 1122 4.2.3.2: ACK at once when a hole was
        # filled or holes remain, and for every second full-sized segment
        # (the sender's MSS). When the sender has used up (nearly) all the
        # window we offered it waits for us: ACK at the next poll, so that
        # the application's read in between opens the window in the same
        # ACK. Otherwise the delayed-ACK timer.
        if holes or c.ack_bytes >= 2 * c.snd_mss:
            c.ack_now = True
        elif c.rcv_adv - c.rcv_nxt < c.wnd_step:
            out.ack_soon(c)
        elif c.t_ack == _NO_TIMER:
            c.t_ack = tcp.delack_deadline()
    else:
        c.sack_last = c.rcv_nxt + d0
        if asm.add(d0, d0 + dlen):
            tcp.stats["tcp_ooo_segs"] += 1
        else:
            tcp.stats["tcp_ooo_drop"] += 1
        c.ack_now = True  # duplicate ACK at once (RFC 5681 4.2)


def _ack_new(c, ack, now):
    """SND.UNA < SEG.ACK <= SND.MAX: data (or our SYN/FIN) acknowledged."""
    tcp = c.tcp
    tx = c.tx
    flight = c.snd_max - c.snd_una  # before this ACK
    end = c.tx_seq0 + tx.used
    a = (ack if ack < end else end) - c.tx_seq0
    acked = 0  # data bytes: SYN and FIN do not grow cwnd
    if a > 0:
        tx.discard(a)
        c.tx_seq0 += a
        acked = a
    c.snd_una = ack
    if c.snd_nxt < ack:
        c.snd_nxt = ack
    c.retries = 0
    c.events += 1
    if c.rtt_timing and ack > c.rtt_seq:
        c.rtt_timing = False
        tmr.rtt_sample(c, ticks_diff(now, c.rtt_start))
    mss = c.snd_mss
    if c.in_recovery:
        if ack >= c.recover:
            # RFC 6582 3.2 step 3: full ACK, deflate and leave recovery
            flight = c.snd_max - ack
            c.cwnd = c.ssthresh if c.ssthresh < flight + mss else flight + mss
            c.in_recovery = False
            c.dupacks = 0
        else:
            # partial ACK: resend the next hole, deflate by what was acked
            _retransmit(c, now)
            c.cwnd -= acked
            if acked >= mss:
                c.cwnd += mss
            if c.cwnd < mss:
                c.cwnd = mss
    else:
        c.dupacks = 0
        if acked and flight + mss > c.cwnd:
            # grow only while cwnd is what limits the sender: not while the
            # receiver's window or the application does (RFC 7661 4.1)
            if c.cwnd < c.ssthresh:
                c.cwnd += acked if acked < mss else mss  # slow start (RFC 5681 3.1)
            else:
                inc = mss * mss // c.cwnd  # congestion avoidance
                c.cwnd += inc if inc > 0 else 1
            if c.cwnd > _CWND_CAP:
                c.cwnd = _CWND_CAP
    out.set_timer(c, now, True)  # RFC 6298 5.2 / 5.3


def _retransmit(c, now):
    """Fast retransmit / NewReno: resend the first unacknowledged segment."""
    if out.resend_head(c, now, False) >= 0:
        c.tcp.stats["tcp_retransmits"] += 1
        c.retransmits += 1


def _dupack(c, now):
    tcp = c.tcp
    c.dupacks += 1
    mss = c.snd_mss
    if c.in_recovery:
        c.cwnd += mss  # RFC 6582 3.2 step 4: inflate
        return
    if c.dupacks == 3 and c.snd_una > c.recover:
        flight = c.snd_max - c.snd_una
        half = flight >> 1
        c.ssthresh = half if half > 2 * mss else 2 * mss
        c.recover = c.snd_max
        c.in_recovery = True
        c.rtt_timing = False
        tcp.stats["tcp_fast_retransmits"] += 1
        _retransmit(c, now)
        c.cwnd = c.ssthresh + 3 * mss


def rebase_send(c, b):
    """Move ISS forward by b so send-side offsets stay far below 2**30."""
    lo = c.iss_lo + (b & 0xFFFF)
    c.iss_hi = (c.iss_hi + (b >> 16) + (lo >> 16)) & 0xFFFF
    c.iss_lo = lo & 0xFFFF
    c.snd_una -= b
    c.snd_nxt -= b
    c.snd_max -= b
    c.tx_seq0 -= b
    c.snd_wl2 -= b
    c.snd_sml -= b
    c.rtt_seq -= b
    c.recover -= b
    if c.recover < c.snd_una - b:
        c.recover = c.snd_una - b  # stale values must not drift toward -2**30
    if c.rtt_seq < c.snd_una - b:
        c.rtt_seq = c.snd_una - b
    if c.snd_wl2 < c.snd_una - b:
        c.snd_wl2 = c.snd_una - b
    if c.snd_sml < c.snd_una - b:
        c.snd_sml = c.snd_una - b


def rebase_recv(c, b):
    lo = c.irs_lo + (b & 0xFFFF)
    c.irs_hi = (c.irs_hi + (b >> 16) + (lo >> 16)) & 0xFFFF
    c.irs_lo = lo & 0xFFFF
    c.rcv_nxt -= b
    c.rcv_adv -= b
    c.fin_at -= b
    c.sack_last -= b
    c.snd_wl1 -= b
    if c.snd_wl1 < c.rcv_nxt - b:
        c.snd_wl1 = c.rcv_nxt - b
    if c.fin_at < c.rcv_nxt - b:
        c.fin_at = c.rcv_nxt - b
    if c.sack_last < c.rcv_nxt - b:
        c.sack_last = c.rcv_nxt - b
