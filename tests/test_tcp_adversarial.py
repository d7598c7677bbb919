# Peers that break naive senders, each replaying the exact segment sequence
# of a defect found in review (issue 7): small and shrinking windows, a zero
# window while data is in flight, duplicate ACKs with a tiny window, a lost
# SYN-ACK in a simultaneous open, RSTs in TIME-WAIT, SYNs from broadcast
# sources. Runs on CPython and (tests/tcp_mp_unit.py) in the unix port.
from test_tcp_helpers import PEER, Harness

from stack import tcp as T

P = 40000  # the peer's port; the stack listens on 80
ISN = 5000  # the peer's initial sequence number


def _bulk(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def _ack(h, iss, upto, win):
    """The peer ACKs our bytes up to iss + upto with window win."""
    h.feed(P, 80, ISN + 1, iss + upto, "A", win=win)


def _drain(h, c, iss, data, win, have, limit_ms=60_000):
    """Play a peer that already holds data[:have], ACKs that, then takes
    every in-order byte, ACKs each segment with window win and ignores the
    rest; returns the bytes it got."""
    got = bytearray(data[:have])
    _ack(h, iss, have + 1, win)
    t_end = h.now + limit_ms
    while len(got) < len(data) and h.now < t_end and c.error == 0:
        segs = h.take()
        if not segs:
            h.next_timer()
            continue
        for s in segs:
            off = s.seq - iss - 1
            if s.data and off <= len(got) < off + len(s.data):
                got += s.data[len(got) - off :]
            _ack(h, iss, len(got) + 1, win)
    return bytes(got)


# -- 1. a retransmission timeout always sends ----------------------------------------


def test_rto_with_window_below_a_segment_resends_the_head_trimmed_to_it():
    # SYN-ACK window 2920, MSS 1460: two segments leave; the peer (a Linux
    # receiver with a small buffer) drops the second and ACKs the first
    # with window 750. Before the fix: five silent timeouts, then RST.
    h = Harness(tcp_tx_bytes=8192)
    c, iss = h.accept_one(win=2920, mss=1460)
    data = _bulk(6000)
    c.send(data, 0, len(data))
    assert [len(s.data) for s in h.take()] == [1460, 1460]
    _ack(h, iss, 1461, 750)
    assert h.take() == []  # 750 - 1460 in flight: nothing fits
    h.next_timer()
    r = h.one()
    assert (r.seq - iss, len(r.data)) == (1461, 750)  # head, trimmed to the window
    assert c.retries == 1 and h.stats["tcp_retransmits"] == 1
    assert _drain(h, c, iss, data, 750, 1460 + 750) == data
    assert c.error == 0 and h.stats["tcp_timeouts"] == 0


def test_zero_window_while_data_in_flight_probes_and_resumes():
    # two segments in flight, the peer ACKs the first with window 0 and
    # keeps answering probes with window 0 for longer than tcp_max_retries
    # RTOs: the connection must live, then finish when the window opens
    h = Harness(tcp_tx_bytes=8192, tcp_max_retries=3, tcp_persist_max_ms=2000)
    c, iss = h.accept_one(win=2920, mss=1460)
    data = _bulk(4000)
    c.send(data, 0, len(data))
    assert len(h.take()) == 2
    _ack(h, iss, 1461, 0)
    probes = 0
    t_end = h.now + 30_000
    while h.now < t_end:
        h.next_timer()
        for s in h.take():
            assert (s.seq - iss, len(s.data)) == (1460, 0)  # a probe, never data
            probes += 1
            _ack(h, iss, 1461, 0)
    assert probes >= 10 and c.error == 0 and c.persist
    assert h.stats["tcp_persist_probes"] == probes
    assert _drain(h, c, iss, data, 4000, 1460, 10_000) == data  # the window opens
    assert c.tx_queued() == 0 and c.error == 0


def test_go_back_n_then_zero_window_arms_persist_not_the_rto():
    # after a timeout resends the head, the peer ACKs it with window 0 while
    # older data (snd_max) is still unacknowledged: persist must take over
    h = Harness(tcp_tx_bytes=8192, tcp_max_retries=3)
    c, iss = h.accept_one(win=4380, mss=1460)
    c.send(_bulk(6000), 0, 6000)
    assert len(h.take()) == 3
    h.next_timer()  # RTO: the head goes again, cwnd 1 MSS
    assert h.one().seq - iss == 1
    _ack(h, iss, 1461, 0)
    assert c.persist and h.take() == []
    for _ in range(8):  # more than tcp_max_retries periods
        h.next_timer()
        p = h.one()
        assert (p.seq - iss, len(p.data)) == (1460, 0)
        _ack(h, iss, 1461, 0)
    assert c.error == 0 and h.stats["tcp_timeouts"] == 0


def test_unanswered_probes_end_the_connection():
    h = Harness(tcp_max_retries=3, tcp_persist_max_ms=1000)
    c, iss = h.accept_one(win=0)
    c.send(b"abc", 0, 3)
    for _ in range(3):
        h.next_timer()
        assert h.one().seq == iss  # probe at SND.UNA - 1
    h.next_timer()
    assert h.one().flags == "RA"
    assert c.error == 110 and h.stats["tcp_timeouts"] == 1


def test_orphan_held_at_zero_window_is_aborted_after_max_probes():
    # an application closed; the peer answers every probe but never opens
    # its window: the TCB must not be held forever (as Linux's orphan retries)
    h = Harness(tcp_max_retries=4, tcp_persist_max_ms=1000)
    c, iss = h.accept_one(win=0)
    c.send(b"response", 0, 8)
    c.close()
    for _ in range(4):
        h.next_timer()
        assert h.one().seq == iss
        _ack(h, iss, 1, 0)
    h.next_timer()
    assert h.one().flags == "RA"
    assert not c.in_use  # back in the pool


# -- 2. fast retransmit never sends bytes that were never sent ------------------------


def test_fast_retransmit_is_bounded_by_what_was_sent_and_the_window():
    # window 300: 300 bytes in flight, three duplicate ACKs. Before the fix
    # the retransmission carried a full MSS of never-sent bytes, whose ACK
    # (above snd_max) was rejected with its window update: a permanent hang.
    h = Harness(tcp_tx_bytes=8192)
    c, iss = h.accept_one(win=300, mss=1460)
    data = _bulk(3000)
    c.send(data, 0, len(data))
    assert [len(s.data) for s in h.take()] == [300]
    for _ in range(3):
        _ack(h, iss, 1, 300)
    r = h.one()
    assert (r.seq - iss, len(r.data)) == (1, 300)
    assert h.stats["tcp_fast_retransmits"] == 1
    assert _drain(h, c, iss, data, 300, 300) == data
    assert h.stats["tcp_drop_ack"] == 0
    assert c.tx_queued() == 0 and c.error == 0


def test_fast_retransmit_with_a_closed_window_sends_nothing():
    h = Harness(tcp_tx_bytes=8192)
    c, iss = h.accept_one(win=4380, mss=1460)
    c.send(_bulk(4380), 0, 4380)
    assert len(h.take()) == 3
    for _ in range(3):
        _ack(h, iss, 1, 0)
    assert h.take() == []
    assert h.stats["tcp_retransmits"] == 0


# -- 3, 4. smaller rules ---------------------------------------------------------------------


def test_simultaneous_open_syn_ack_in_syn_received_completes():
    # RFC 9293 figure 8: both SYNs cross, then both SYN-ACKs; the peer's
    # SYN-ACK (at its ISN, acknowledging our SYN) must establish us
    h = Harness()
    c = h.tcp.connect(PEER, 7000, h.now, src_port=7000)
    syn = h.one()
    h.feed(7000, 7000, 300, 0, "S", mss=1200)
    assert h.one().flags == "SA" and c.state == T.SYN_RECEIVED
    h.feed(7000, 7000, 300, syn.seq + 1, "SA", mss=1200)
    assert c.state == T.ESTABLISHED and c.snd_mss == 1200
    assert h.take() == []  # nothing more is owed
    c.send(b"hi", 0, 2)
    d = h.one()
    assert (d.seq, d.ack, d.data) == (syn.seq + 1, 301, b"hi")


def test_rst_on_abort_carries_the_highest_sequence_sent():
    h = Harness(tcp_tx_bytes=8192)
    c, iss = h.accept_one(win=8000, mss=1460)
    c.send(_bulk(4380), 0, 4380)
    assert len(h.take()) == 3
    h.next_timer()  # the timeout rewinds snd_nxt to the head
    assert h.one().seq - iss == 1
    c.abort()
    r = h.one()
    assert (r.flags, r.seq - iss) == ("RA", 4381)


def test_acks_above_snd_max_are_answered_at_a_limited_rate():
    h = Harness()
    c, iss = h.accept_one()
    for _ in range(30):
        _ack(h, iss, 1000, 8192)  # acknowledges data never sent
    assert len(h.take()) == 10  # RFC 5961 section 10 budget
    assert h.stats["tcp_drop_ack"] == 30


def test_no_rtt_sample_on_data_resent_after_a_zero_window():
    # Karn: data sent, lost, then the window closed; when it reopens the
    # head goes again and must not be timed (its first copy left long ago)
    h = Harness(tcp_tx_bytes=8192)
    c, iss = h.accept_one(win=4380, mss=1460)
    c.send(_bulk(2920), 0, 2920)
    assert len(h.take()) == 2
    _ack(h, iss, 1, 0)  # nothing taken, window closed
    h.next_timer()
    assert h.one().seq == iss  # RTO with a closed window: a probe
    h.advance(3000)
    h.take()
    _ack(h, iss, 1, 4380)  # the window opens
    d = h.take()
    assert [(s.seq - iss, len(s.data)) for s in d] == [(1, 1460)]  # cwnd 1 MSS after the RTO
    assert not c.rtt_timing
    srtt = c.srtt8
    h.advance(2)
    _ack(h, iss, 1461, 4380)
    assert c.srtt8 == srtt and c.snd_una == 1461  # no sample taken


def test_zero_window_probe_puts_no_byte_beyond_the_window():
    # a probe byte the receiver takes would leave its window edge past our
    # data; the probe carries none and snd_max stays where the data ends
    h = Harness(tcp_tx_bytes=8192)
    c, iss = h.accept_one(win=0)
    c.send(_bulk(1000), 0, 1000)
    h.next_timer()
    p = h.one()
    assert (p.seq - iss, p.data) == (0, b"")
    assert c.snd_max == c.snd_una == 1


def test_cwnd_does_not_grow_while_the_receiver_window_limits():
    # RFC 7661: a window-limited sender has not tested a larger cwnd
    h = Harness(tcp_tx_bytes=16384)
    c, iss = h.accept_one(win=2920, mss=1460)
    cw = c.cwnd
    got = 0
    c.send(_bulk(16384), 0, 16384)
    for _ in range(20):
        segs = h.take()
        got += sum(len(s.data) for s in segs)
        _ack(h, iss, got + 1, 2920)
        c.send(_bulk(16384), 0, 16384 - c.tx_queued())
    assert got > 20_000
    assert c.cwnd == cw


def test_cwnd_restarts_from_the_initial_window_after_idle():
    # RFC 5681 4.1: no burst of an old cwnd after an idle RTO
    h = Harness(tcp_tx_bytes=32768)
    c, iss = h.accept_one(win=65000, mss=1460)
    c.cwnd = 20 * 1460
    h.advance(5000)
    c.send(_bulk(20000), 0, 20000)
    assert len(h.take()) == 3  # IW for MSS 1460: 3 segments


def test_delayed_ack_counts_full_segments_of_the_senders_mss():
    # the peer's MSS is 536: every second 536-byte segment is ACKed at once
    h = Harness(tcp_rx_bytes=8192)
    c, iss = h.accept_one(mss=536)
    h.feed(P, 80, ISN + 1, iss + 1, "A", data=_bulk(536))
    assert h.take() == []
    h.feed(P, 80, ISN + 537, iss + 1, "A", data=_bulk(536))
    assert h.one().ack == ISN + 1073


def test_rst_in_time_wait_is_ignored():
    # RFC 1337: TIME-WAIT assassination
    h = Harness(tcp_time_wait_ms=2000)
    c, iss = h.accept_one()
    c.close()
    fin = h.one()
    h.feed(P, 80, ISN + 1, fin.seq + 1, "FA")
    assert c.state == T.TIME_WAIT
    h.take()
    h.feed(P, 80, ISN + 2, 0, "R")
    assert c.state == T.TIME_WAIT and c.in_use


def test_syn_from_a_broadcast_or_multicast_source_is_ignored():
    h = Harness()
    h.tcp.listen(80, 2)
    for src in ((192, 0, 2, 255), (255, 255, 255, 255), (224, 0, 0, 1), (0, 0, 0, 0)):
        h.feed(P, 80, ISN, 0, "S", mss=1460, src=bytes(src))
    assert h.take() == []
    assert h.stats["tcp_drop_bad_src"] == 4
    assert not any(c.in_use for c in h.tcp.conns)


def test_connect_to_a_broadcast_address_is_refused():
    h = Harness()
    for dst in ((192, 0, 2, 255), (224, 0, 0, 1)):
        try:
            h.tcp.connect(bytes(dst), 80, h.now)
            raise AssertionError("connect to %r accepted" % (dst,))
        except OSError as e:
            assert e.args[0] == 22
    assert h.take() == []


def test_far_away_sequence_numbers_are_unacceptable_in_every_state():
    # seq 2**31 away from RCV.NXT is clamped to +-FAR; with a full-size
    # payload it must simply fail the acceptability test
    h = Harness()
    c, iss = h.accept_one()
    for seq in (ISN + 1 + 0x80000000, ISN + 1 - 0x40000000, ISN + 1 + 0x3FFFFFFF):
        h.feed(P, 80, seq, iss + 1, "A", data=_bulk(1460))
        a = h.one()
        assert a.ack == ISN + 1  # answered with an ACK, nothing taken
    assert c.rx_avail() == 0 and h.stats["tcp_drop_seq"] == 3


def test_half_open_entry_that_times_out_is_freed_without_error():
    # a SYN whose SYN-ACKs go unanswered: after tcp_syn_retries the entry
    # is released quietly (this raised out of poll() before)
    h = Harness(tcp_syn_retries=2)
    h.tcp.listen(80, 2)
    h.feed(P, 80, ISN, 0, "S", mss=1460)
    h.advance(60_000)
    assert not any(c.in_use for c in h.tcp.conns)
    assert [s.flags for s in h.take()] == ["SA", "SA", "SA", "RA"]


# -- 5. full-size segments ----------------------------------------------------------------


def _bulk_sizes(ring, n_bytes, win=65535):
    """Segment sizes of a bulk send through a ring of `ring` bytes, the
    application refilling it whenever there is room, the peer ACKing every
    second segment (and any lone one after a round)."""
    h = Harness(tcp_tx_bytes=ring)
    c, iss = h.accept_one(win=win, mss=1460)
    data = _bulk(n_bytes)
    sent = c.send(data, 0, n_bytes)
    sizes = []
    acked = 0
    pending = []
    while acked < n_bytes:
        segs = h.take()
        if not segs and not pending:
            h.next_timer()
            continue
        pending += segs
        sizes += [len(s.data) for s in segs]
        while pending:
            k = 2 if len(pending) >= 2 else 1
            last = pending[k - 1]
            pending = pending[k:]
            acked = last.seq - iss - 1 + len(last.data)
            _ack(h, iss, acked + 1, win)
            if sent < n_bytes:
                sent += c.send(data, sent, n_bytes - sent)
    return sizes


def test_bulk_send_with_8k_ring_uses_full_segments():
    sizes = _bulk_sizes(8192, 200_000)
    assert sum(sizes) == 200_000
    assert all(s == 1460 for s in sizes[:-1]), sizes


def test_bulk_send_with_2k_ring_sends_the_tail_to_draw_the_ack():
    # only one full segment fits in flight: its tail goes at once, so the
    # peer has two segments and ACKs without its delay timer
    sizes = _bulk_sizes(2048, 20_000)
    assert sum(sizes) == 20_000
    assert sizes[:2] == [1460, 588]


def test_overlapping_segments_with_other_contents_first_received_wins():
    # BBBB held out of order at [4, 8), then XXXX at the same place, then
    # aaaaYY at [0, 6): the bytes first received stay (issue 10)
    h = Harness()
    c, iss = h.accept_one()
    h.feed(P, 80, ISN + 1 + 4, iss + 1, "A", data=b"BBBB")
    h.feed(P, 80, ISN + 1 + 4, iss + 1, "A", data=b"XXXX")
    h.feed(P, 80, ISN + 1, iss + 1, "PA", data=b"aaaaYY")
    buf = bytearray(16)
    assert c.recv_into(buf, 0, 16) == 8
    assert bytes(buf[:8]) == b"aaaaBBBB"
    # and a retransmission over held bytes at both ends of a hole
    h.feed(P, 80, ISN + 9 + 2, iss + 1, "A", data=b"cc")  # held at [2, 4)
    h.feed(P, 80, ISN + 9 + 6, iss + 1, "A", data=b"ee")  # held at [6, 8)
    h.feed(P, 80, ISN + 9, iss + 1, "PA", data=b"0123456789")
    assert c.recv_into(buf, 0, 16) == 10
    assert bytes(buf[:10]) == b"01cc45ee89"
