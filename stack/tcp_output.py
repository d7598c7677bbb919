# TCP output: what to send now (windows, Nagle, SWS avoidance, FIN), the one
# owner of the send timer, building segments into iface.tx_buf, ACKs, RSTs.
# Nothing here allocates.
#
# Three functions decide everything about sending, each in one place:
#   next_len()   how many bytes the next new segment carries (or none now),
#   xmit()       a data/FIN segment leaves: snd_max, Nagle marker, RTT timer,
#   set_timer()  which send timer runs: retransmission, persist, or none.
from micropython import const

from stack.clock import ticks_add, ticks_diff
from stack.wire import ip4
from stack.wire import tcp as wtcp

_L4 = const(34)  # = ip4.TX_L4_OFF
_HDR = const(20)
_SEQ = const(4)
_ACK = const(8)

_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ACKF = const(0x10)

_CLOSED = const(0)
_SYN_SENT = const(2)
_SYN_RECEIVED = const(3)
_ESTABLISHED = const(4)
_TIME_WAIT = const(10)

_NO_TIMER = const(-1)
_PROTO_TCP = const(6)
_ACK_SOON_MS = const(1)  # "at the next poll"
_SWS_FLOOR = const(256)  # below this a window is "silly" even when it is all the peer has


def rcv_window(c):
    """The window to advertise now. RFC 1122 4.2.3.3 (receiver SWS
    avoidance): the right edge moves only by min(MSS, ring/2) or more, and
    it never moves left (RFC 9293 3.8.6.2.2 discourages shrinking)."""
    free = c.rx.free()
    if free > c.tcp.wnd_max:
        free = c.tcp.wnd_max
    mss = c.snd_mss
    if free >= 2 * mss:
        # whole segments, so the sender sends no runts (as Linux does); not
        # below two: Linux cuts its segments to half the largest window
        # offered (tcp_bound_to_half_wnd), so rounding a small ring down
        # would only make them smaller
        free -= free % mss
    edge = c.rcv_nxt + free
    step = c.wnd_step
    if edge - c.rcv_adv >= step or c.rcv_adv <= c.rcv_nxt and free >= step:
        c.rcv_adv = edge
    w = c.rcv_adv - c.rcv_nxt
    return w if w > 0 else 0


def emit(c, seq, n, flags):
    """Send one segment: sequence number seq (relative to ISS), n bytes of
    the TX ring starting at seq, flags. SYNs carry the MSS option."""
    tcp = c.tcp
    iface = tcp.iface
    b = iface.tx_buf
    sack = 0
    if flags & _SYN:
        hl = _HDR + 8 if c.sack_ok else _HDR + 4
    else:
        hl = _HDR
        if n == 0 and c.sack_ok and c.asm.n and not flags & _RST:
            # RFC 2018: tell the sender which out-of-order ranges we hold
            # (pure ACKs only, so data segments never outgrow the MSS)
            sack = c.asm.n if c.asm.n < 4 else 4
            hl += 4 + 8 * sack
    if flags & _ACKF:
        win = rcv_window(c)
    else:
        win = c.rx.free()
        if win > 0xFFFF:
            win = 0xFFFF
    wtcp.write(b, _L4, c.local_port, c.remote_port, hl, flags, win)
    wtcp.put_rel(b, _L4, _SEQ, c.iss_hi, c.iss_lo, seq)
    if flags & _ACKF:
        wtcp.put_rel(b, _L4, _ACK, c.irs_hi, c.irs_lo, c.rcv_nxt)
        c.ack_now = False
        c.ack_bytes = 0
        c.t_ack = _NO_TIMER
    else:
        wtcp.put32(b, _L4, _ACK, 0, 0)
    if flags & _SYN:
        wtcp.write_mss(b, _L4 + _HDR, c.rcv_mss)
        if c.sack_ok:
            wtcp.write_sack_permitted(b, _L4 + _HDR + 4)
    elif sack:
        _write_sack(c, b, _L4 + _HDR, sack)
    if n > 0:
        c.tx.peek_into(seq - c.tx_seq0, b, _L4 + hl, n)
    st = tcp.stats
    st["tcp_tx_segs"] += 1
    if flags & _RST:
        st["tcp_tx_rst"] += 1
    if c.hdr_gen != iface.gen:
        c.hdr_gen = iface.header(c.hdr, _PROTO_TCP, c.remote_ip, 0)
    if c.hdr_gen < 0:
        iface.send_ip4(b, _PROTO_TCP, c.remote_ip, 0, hl + n)
    else:
        iface.send_header(b, c.hdr, _PROTO_TCP, hl + n)


def _write_sack(c, b, o, k):
    """NOP, NOP, SACK option with k blocks at o. The first block is the range
    holding the most recently received segment (RFC 2018 section 4)."""
    b[o] = 1
    b[o + 1] = 1
    b[o + 2] = 5
    b[o + 3] = 2 + 8 * k
    p = o + 4
    asm = c.asm
    nxt = c.rcv_nxt
    last = c.sack_last - nxt
    first = -1
    for i in range(asm.n):
        if asm.start[i] <= last < asm.end[i]:
            first = i
            break
    done = 0
    if first >= 0:
        wtcp.put_rel(b, p, 0, c.irs_hi, c.irs_lo, nxt + asm.start[first])
        wtcp.put_rel(b, p, 4, c.irs_hi, c.irs_lo, nxt + asm.end[first])
        p += 8
        done = 1
    i = 0
    while done < k and i < asm.n:
        if i != first:
            wtcp.put_rel(b, p, 0, c.irs_hi, c.irs_lo, nxt + asm.start[i])
            wtcp.put_rel(b, p, 4, c.irs_hi, c.irs_lo, nxt + asm.end[i])
            p += 8
            done += 1
        i += 1


def send_syn(c):
    """SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) at ISS."""
    emit(c, 0, 0, _SYN if c.state == _SYN_SENT else _SYN | _ACKF)
    c.snd_nxt = 1
    if c.snd_max < 1:
        c.snd_max = 1


def send_ack(c):
    emit(c, c.snd_nxt, 0, _ACKF)


def send_rst(c):
    """RST on abort/timeout (RFC 9293 3.10.4: <SEQ=SND.NXT>): the highest
    sequence sent, since a timeout may have rewound snd_nxt; while probing a
    zero window the peer took nothing beyond SND.UNA."""
    emit(c, c.snd_una if c.persist else c.snd_max, 0, _RST | _ACKF)


# -- sending data ----------------------------------------------------------------


def data_end(c):
    """Sequence number just past the last byte queued (where a FIN goes)."""
    return c.tx_seq0 + c.tx.used


def initial_cwnd(c):
    """RFC 5681 3.1 initial window (one segment if the SYN was retransmitted)."""
    m = c.snd_mss
    if c.retries:
        return m
    if m > 2190:
        return 2 * m
    if m > 1095:
        return 3 * m
    return 4 * m


def xmit(c, seq, n, now):
    """The one place a data or FIN segment leaves, new or retransmitted: n
    ring bytes from seq, with the FIN when they end where it sits. Returns
    the sequence number after it. Keeps snd_max, the Nagle marker and the
    RTT timer, which starts only on a segment never sent before (Karn)."""
    end = data_end(c)
    flags = _ACKF
    if n > 0 and seq + n == end:
        flags |= _PSH
    nxt = seq + n
    if c.fin_queued and nxt == end:
        flags |= _FIN
        nxt += 1
    emit(c, seq, n, flags)
    if 0 < n < c.snd_mss:
        c.snd_sml = seq + n
    if nxt > c.snd_max:
        if not c.rtt_timing and seq >= c.snd_max:
            c.rtt_timing = True
            c.rtt_seq = seq
            c.rtt_start = now
        c.snd_max = nxt
    c.last_tx = now
    return nxt


def next_len(c):
    """Bytes in the next new segment at snd_nxt, 0 for a FIN alone, -1 when
    nothing may go now. Full segments go while the windows allow, and so
    does the last one (with the FIN). A shorter one, all that is queued,
    goes:
    - corked (TCP_CORK: the application has more to write): only when the
      ring is full and less than two full segments are in flight, since
      then nothing can grow it and the peer may be delaying its ACK;
    - with nodelay: at once;
    - else (Nagle, RFC 896, in Minshall's form as Linux uses): when no
      earlier small segment is unacknowledged and less than two full
      segments are in flight. With two in flight the peer's ACK comes
      without its delay timer, and the tail can grow into a full segment
      meanwhile.
    When the receiver's window is the limit, a partial segment goes if it
    is at least half the window offered (RFC 1122 4.2.3.4 sender SWS
    avoidance). The reference is the window offered when nothing was in
    flight (sws_wnd), not the largest ever seen, so a receiver with a small
    buffer is served at once (see tcp_input._take_window)."""
    off = c.snd_nxt - c.tx_seq0
    unsent = c.tx.used - off
    if unsent < 0:
        return -1  # the FIN is already out
    if unsent == 0:
        return 0 if c.fin_queued else -1  # the FIN goes regardless of the window
    mss = c.snd_mss
    flight = c.snd_nxt - c.snd_una
    cw = c.cwnd
    if c.dupacks and not c.in_recovery:
        # RFC 3042 limited transmit: one new segment per duplicate ACK
        # (at most 2) so a small window can still yield 3 dup ACKs
        cw += (c.dupacks if c.dupacks < 3 else 2) * mss
    wnd = c.snd_wnd
    usable = (wnd if wnd < cw else cw) - flight
    n = unsent if unsent < mss else mss
    if n <= usable:
        if n == mss or c.fin_queued:
            return n
        if c.cork:
            return n if c.tx.used == c.tx.size and flight < 2 * mss else -1
        if c.nodelay:
            return n
        if flight >= 2 * mss or c.snd_sml > c.snd_una and flight > 0:
            return -1
        return n
    if usable <= 0 or cw <= wnd:
        return -1  # no window, or congestion-limited: an ACK will come
    if usable >= c.sws_wnd >> 1 and usable >= _SWS_FLOOR:
        return usable
    return -1  # a silly window: wait for more (persist timer overrides)


def output(c, now):
    """Send the data (and FIN) the windows allow, then an owed ACK if no
    segment carried it, then set the send timer. Called after input, app
    send/shutdown and timers."""
    s = c.state
    if s < _ESTABLISHED:
        if c.ack_now and s == _SYN_RECEIVED:
            send_syn(c)
        return
    if s == _TIME_WAIT:
        if c.ack_now:
            send_ack(c)
        return
    sent = False
    n = next_len(c)
    if n >= 0 and c.snd_max == c.snd_una and ticks_diff(now, c.last_tx) > c.rto_ms:
        # RFC 5681 4.1: after an idle RTO, restart from at most the initial window
        iw = initial_cwnd(c)
        if c.cwnd > iw:
            c.cwnd = iw
        n = next_len(c)
    while n >= 0:
        c.snd_nxt = xmit(c, c.snd_nxt, n, now)
        sent = True
        n = next_len(c)
    if not sent and c.ack_now:
        send_ack(c)
    set_timer(c, now, False)


def resend_head(c, now, new_ok):
    """Resend from snd_una (a timeout, a fast retransmit, a NewReno partial
    ACK): up to one MSS, trimmed to the peer's window and, unless new_ok, to
    what was sent before (snd_max). Nagle and SWS do not apply (RFC 6298 5.4,
    RFC 9293 3.8.6.1). Returns the sequence after what left, or -1 when the
    window lets nothing go."""
    una = c.snd_una
    end = data_end(c)
    lim = end if new_ok or c.snd_max > end else c.snd_max
    n = lim - una
    if n > c.snd_mss:
        n = c.snd_mss
    if n > c.snd_wnd:
        n = c.snd_wnd
    if n <= 0 and not (c.fin_queued and una == end):
        return -1
    if n < 0:
        n = 0
    return xmit(c, una, n, now)


def probe(c, now):
    """Zero-window probe (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17): a segment
    the receiver must answer with an ACK carrying its window. As Linux does,
    it carries no data and an old sequence number (SND.UNA - 1): a probe byte
    beyond the window could be taken by a receiver short of memory, leaving
    its window edge one byte past our data (seen with a Linux receiver and
    SO_RCVBUF 2048: windows of 1 byte from then on)."""
    c.tcp.stats["tcp_persist_probes"] += 1
    emit(c, c.snd_una - 1, 0, _ACKF)
    c.probes += 1


def set_timer(c, now, restart):
    """The one owner of the send timer. Retransmission while sent data is
    unacknowledged (RFC 6298 5.1, restarted on new ACKs by 5.3); persist
    while data or a FIN waits with nothing in flight (a zero window, RFC
    9293 3.8.6.1, or a silly one, the RFC 1122 4.2.3.4 override); else none."""
    if c.snd_nxt > c.snd_una:
        if restart or c.persist or c.t_rtx == _NO_TIMER:
            c.persist = False
            c.t_rtx = ticks_add(now, c.rto_ms)
    elif c.snd_nxt - c.tx_seq0 < c.tx.used:
        if not c.persist or c.t_rtx == _NO_TIMER:
            c.persist = True
            if c.persist_ms < c.rto_ms:
                c.persist_ms = c.rto_ms
            c.t_rtx = ticks_add(now, c.persist_ms)
    else:
        c.t_rtx = _NO_TIMER
        c.persist = False


def arm_rtx(c, now):
    """The retransmission timer for a SYN or SYN-ACK just sent."""
    c.persist = False
    c.t_rtx = ticks_add(now, c.rto_ms)


# -- receiving side: ACK policy ---------------------------------------------------


def window_update(c, now):
    """After the application read. The sender may be waiting for us when
    the window left to it was below the SWS unit, or the new one is at
    least twice that (Linux's rule too): then an ACK goes at the next poll,
    after the application's whole read loop, so one ACK carries the final
    window. Otherwise the next ACK carries it, within the delayed-ACK bound
    (RFC 1122 4.2.3.2 and 4.2.3.3, RFC 9293 3.8.6.2.2)."""
    if c.state == _TIME_WAIT or c.state == _CLOSED:
        return
    adv = c.rcv_adv
    rcv_window(c)
    new = c.rcv_adv - c.rcv_nxt
    c.rcv_adv = adv  # emit() recomputes and advertises it
    if adv == c.rcv_nxt + new:
        return  # the edge does not move (receiver SWS avoidance)
    was = adv - c.rcv_nxt
    if was < c.wnd_step or new >= 2 * was:
        ack_soon(c)
    elif c.t_ack == _NO_TIMER:
        c.t_ack = c.tcp.delack_deadline()


def ack_soon(c):
    """An ACK at the next poll: after the application's turn, so what it
    reads meanwhile widens the window this ACK carries."""
    soon = ticks_add(c.tcp.now, _ACK_SOON_MS)
    if c.t_ack == _NO_TIMER or ticks_diff(c.t_ack, soon) > 0:
        c.t_ack = soon


def send_rst_reply(tcp, buf, ip_off, o, seg_len, flags):
    """RST for a segment with no connection to go to (RFC 9293 3.10.7.1):
    with ACK: <SEQ=SEG.ACK><CTL=RST>; without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    iface = tcp.iface
    b = iface.tx_buf
    sport = wtcp.dst_port(buf, o)
    dport = wtcp.src_port(buf, o)
    if flags & _ACKF:
        wtcp.write(b, _L4, sport, dport, _HDR, _RST, 0)
        wtcp.put32(b, _L4, _SEQ, wtcp.hi16(buf, o, _ACK), wtcp.lo16(buf, o, _ACK))
        wtcp.put32(b, _L4, _ACK, 0, 0)
    else:
        wtcp.write(b, _L4, sport, dport, _HDR, _RST | _ACKF, 0)
        wtcp.put32(b, _L4, _SEQ, 0, 0)
        wtcp.put_rel(b, _L4, _ACK, wtcp.hi16(buf, o, _SEQ), wtcp.lo16(buf, o, _SEQ), seg_len)
    tcp.stats["tcp_tx_segs"] += 1
    tcp.stats["tcp_tx_rst"] += 1
    iface.send_ip4(b, _PROTO_TCP, buf, ip_off + ip4.SRC, _HDR)
