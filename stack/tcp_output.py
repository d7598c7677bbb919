# TCP output: what to send now (windows, Nagle, SWS avoidance, FIN), building
# segments into iface.tx_buf, ACKs, RSTs. Nothing here allocates.
from micropython import const

from stack.clock import ticks_add
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


def rcv_window(c):
    """The window to advertise now. RFC 1122 4.2.3.3 (receiver SWS
    avoidance): the right edge moves only by min(MSS, ring/2) or more, and
    it never moves left (RFC 9293 3.8.6.2.2 discourages shrinking)."""
    free = c.rx.free()
    if free > 0xFFFF:
        free = 0xFFFF
    edge = c.rcv_nxt + free
    half = c.rx.size >> 1
    step = c.rcv_mss if c.rcv_mss < half else half
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
    iface.send_ip4(b, _PROTO_TCP, c.remote_ip, 0, hl + n)


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


def retransmit_first(c):
    """Resend the first unacknowledged segment (fast retransmit, NewReno
    partial ACK) without moving snd_nxt."""
    tx = c.tx
    off = c.snd_una - c.tx_seq0
    n = tx.used - off
    if n > c.snd_mss:
        n = c.snd_mss
    if n < 0:
        n = 0
    flags = _ACKF
    if c.fin_queued and off + n == tx.used and c.snd_max > c.tx_seq0 + tx.used:
        flags |= _FIN
    elif n == 0:
        return
    emit(c, c.snd_una, n, flags)


def send_ack(c):
    emit(c, c.snd_nxt, 0, _ACKF)


def send_rst(c):
    emit(c, c.snd_nxt, 0, _RST | _ACKF)


def arm_rtx(c, now):
    c.persist = False
    c.t_rtx = ticks_add(now, c.rto_ms)


def output(c, now):
    """Send the data (and FIN) the windows allow, then an owed ACK if no
    segment carried it. Called after input, app send/shutdown and timers."""
    s = c.state
    if s < _ESTABLISHED:
        if c.ack_now and s == _SYN_RECEIVED:
            send_syn(c)
        return
    if s == _TIME_WAIT:
        if c.ack_now:
            send_ack(c)
        return
    tx = c.tx
    mss = c.snd_mss
    sent = False
    while True:
        off = c.snd_nxt - c.tx_seq0
        unsent = tx.used - off
        if unsent < 0:
            unsent = 0
        flight = c.snd_nxt - c.snd_una
        cw = c.cwnd
        if c.dupacks and not c.in_recovery:
            # RFC 3042 limited transmit: one new segment per duplicate ACK
            # (at most 2) so a small window still yields 3 dup ACKs
            cw += (c.dupacks if c.dupacks < 3 else 2) * mss
        wnd = c.snd_wnd if c.snd_wnd < cw else cw
        usable = wnd - flight
        n = unsent
        if n > mss:
            n = mss
        if n > usable:
            n = usable if usable > 0 else 0
        fin = c.fin_queued and off <= tx.used and off + n == tx.used
        if not fin:
            if n <= 0:
                break
            if n < mss:
                # RFC 1122 4.2.3.4 sender SWS avoidance + Nagle (RFC 896) in
                # Minshall's form (as Linux): hold a small segment only while
                # an earlier SMALL one is unacknowledged. Plain Nagle would
                # hold the tail of every write behind the peer's delayed ACK
                # of one full segment (40-200 ms a round with small rings).
                if n < unsent:
                    if n < (c.max_snd_wnd >> 1):
                        break
                elif flight > 0 and c.snd_sml > c.snd_una and not c.nodelay:
                    break
        flags = _ACKF
        if fin:
            flags |= _FIN
        if n > 0 and n == unsent:
            flags |= _PSH
        emit(c, c.snd_nxt, n, flags)
        sent = True
        if 0 < n < mss:
            c.snd_sml = c.snd_nxt + n
        if fin:
            n += 1
        if c.snd_nxt + n > c.snd_max:
            c.snd_max = c.snd_nxt + n
            if not c.rtt_timing:
                # RFC 6298 5.x: time one segment at a time; never a retransmission
                c.rtt_timing = True
                c.rtt_seq = c.snd_nxt
                c.rtt_start = now
        c.snd_nxt += n
        if c.t_rtx == _NO_TIMER or c.persist:
            arm_rtx(c, now)
        if fin:
            break
    if not sent and c.ack_now:
        send_ack(c)
    if c.snd_nxt == c.snd_una and c.t_rtx == _NO_TIMER:
        off = c.snd_nxt - c.tx_seq0
        if tx.used > off:
            # data waits on a zero (or too small) window: persist timer
            # (RFC 9293 3.8.6.1), also the SWS override timer
            c.persist = True
            if c.persist_ms < c.rto_ms:
                c.persist_ms = c.rto_ms
            c.t_rtx = ticks_add(now, c.persist_ms)


def window_update(c, now):
    """After the application read: ACK at once if the window opened by at
    least the SWS threshold (RFC 1122 4.2.3.3)."""
    if c.state == _TIME_WAIT or c.state == _CLOSED:
        return
    adv = c.rcv_adv
    rcv_window(c)
    if c.rcv_adv != adv:
        c.rcv_adv = adv  # emit() recomputes and advertises it
        send_ack(c)


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
