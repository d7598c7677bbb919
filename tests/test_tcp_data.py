# Data transfer: retransmission (RFC 6298), fast retransmit / NewReno (RFC
# 5681 / 6582), flow control (zero window, persist, SWS), delayed ACK, Nagle,
# out-of-order assembly.
from test_tcp_helpers import PEER, Harness

from stack import tcp as T


def _bulk(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def test_rto_backoff_then_etimedout():
    h = Harness(tcp_max_retries=3, tcp_rto_initial_ms=1000, tcp_rto_min_ms=200)
    c, iss = h.accept_one()
    c.send(b"data", 0, 4)
    assert h.one().seq == iss + 1
    times = []
    start = h.now
    for _ in range(3):
        h.next_timer()
        r = h.one()
        assert (r.flags, r.seq, r.data) == ("PA", iss + 1, b"data")
        times.append(h.now - start)
    assert times == [200, 600, 1400]  # RTO (min 200 after the handshake sample) doubles
    h.next_timer()
    r = h.one()
    assert r.flags == "RA"
    assert c.error == 110 and h.stats["tcp_timeouts"] == 1
    assert c.retransmits == 3


def test_syn_retries_then_etimedout():
    h = Harness(tcp_syn_retries=2)
    c = h.tcp.connect(PEER, 5000, h.now)
    assert h.one().flags == "S"
    h.advance(1000)
    assert h.one().flags == "S"
    h.advance(2000)
    assert h.one().flags == "S"
    h.advance(4000)
    assert h.take() == []
    assert c.error == 110


def test_rtt_sample_sets_rto_with_min():
    h = Harness()
    c, iss = h.accept_one()
    c.send(b"x" * 100, 0, 100)
    h.one()
    h.advance(50)
    h.feed(40000, 80, 5001, iss + 101, "A")
    # first sample R=50 (plus the handshake's): SRTT, RTTVAR per RFC 6298 2.2
    assert c.srtt8 >> 3 > 0
    assert c.rto_ms == 200  # clamped to the configured minimum


def test_karn_no_rtt_sample_from_retransmission():
    h = Harness()
    c, iss = h.accept_one()
    srtt = c.srtt8
    c.send(b"x", 0, 1)
    h.one()
    h.advance(200)
    h.one()  # retransmission
    h.advance(10)
    h.feed(40000, 80, 5001, iss + 2, "A")
    assert c.srtt8 == srtt
    assert c.rto_ms == 400  # backed-off RTO kept until a valid sample


def test_fast_retransmit_on_three_dup_acks_then_newreno():
    h = Harness(tcp_tx_bytes=16384)
    c, iss = h.accept_one(win=60000, mss=1000)
    c.cwnd = 10000
    data = _bulk(8000)
    assert c.send(data, 0, 8000) == 8000
    segs = h.take()
    assert [len(s.data) for s in segs] == [1000] * 8
    # segments 1 and 3 lost: three dup ACKs for iss+1
    for _ in range(3):
        h.feed(40000, 80, 5001, iss + 1, "A", win=60000)
    r = h.one()
    assert (r.seq, len(r.data)) == (iss + 1, 1000)
    assert h.stats["tcp_fast_retransmits"] == 1 and c.in_recovery
    assert c.ssthresh == 4000 and c.cwnd == 4000 + 3000
    # partial ACK up to the second hole: NewReno resends it at once
    h.feed(40000, 80, 5001, iss + 2001, "A", win=60000)
    r = h.one()
    assert (r.seq, len(r.data)) == (iss + 2001, 1000)
    assert c.in_recovery
    # full ACK: recovery ends, cwnd deflated to ssthresh
    h.feed(40000, 80, 5001, iss + 8001, "A", win=60000)
    assert not c.in_recovery and c.cwnd == 1000  # min(ssthresh, flight + mss)
    assert h.stats["tcp_retransmits"] == 2


def test_slow_start_then_congestion_avoidance():
    h = Harness(tcp_tx_bytes=16384)
    c, iss = h.accept_one(win=60000, mss=1000)
    assert c.cwnd == 4000  # RFC 5681 3.1 IW: 4 * MSS for MSS <= 1095
    c.send(_bulk(12000), 0, 12000)
    assert len(h.take()) == 4
    h.feed(40000, 80, 5001, iss + 1001, "A", win=60000)
    assert c.cwnd == 5000  # slow start: + MSS per ACK
    c.ssthresh = 5000
    h.feed(40000, 80, 5001, iss + 2001, "A", win=60000)
    assert c.cwnd == 5000 + 1000 * 1000 // 5000  # congestion avoidance


def test_zero_window_persist_probes_back_off_and_never_time_out():
    h = Harness(tcp_max_retries=2, tcp_persist_max_ms=4000)
    c, iss = h.accept_one(win=0)
    c.send(b"abc", 0, 3)
    assert h.take() == []  # window closed: nothing sent, persist armed
    assert c.persist
    gaps = []
    last = h.now
    for _ in range(6):
        h.next_timer()
        p = h.one()
        assert (p.seq, p.data) == (iss, b"")  # SND.UNA - 1, no data: the peer must ACK it
        gaps.append(h.now - last)
        last = h.now
        h.feed(40000, 80, 5001, iss + 1, "A", win=0)
    assert gaps == [200, 400, 800, 1600, 3200, 4000]  # from the RTO, doubling, capped
    assert c.error == 0 and h.stats["tcp_persist_probes"] == 6
    h.feed(40000, 80, 5001, iss + 1, "A", win=1000)  # window opens
    d = h.one()
    assert (d.seq, d.data) == (iss + 1, b"abc")


def test_receive_window_closes_and_update_after_read():
    h = Harness(tcp_rx_bytes=2048)
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "A", data=_bulk(1460))
    h.feed(40000, 80, 6461, iss + 1, "A", data=_bulk(588))
    assert h.take() == []  # the window is used up: ACK at the next poll...
    h.advance(1)
    a = h.one()  # ...one ACK for both, with the window it has
    assert (a.ack, a.win) == (7049, 0)
    buf = bytearray(2048)
    assert c.recv_into(buf, 0, 500) == 500
    assert h.take() == []  # 500 < min(MSS, ring/2): no update yet (SWS avoidance)
    assert c.recv_into(buf, 0, 600) == 600
    assert h.take() == []  # the update goes at the next poll, after the app's turn
    h.advance(1)
    u = h.one()
    assert (u.flags, u.ack, u.win) == ("A", 7049, 1100)


def test_window_used_up_and_read_before_next_poll_gets_one_ack():
    # the sender filled the window; the application reads in the same loop
    # turn: one ACK goes, opening the window, instead of a zero-window ACK
    # followed by a window update
    h = Harness(tcp_rx_bytes=2048)
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "A", data=_bulk(1460))
    h.feed(40000, 80, 6461, iss + 1, "A", data=_bulk(588))
    assert h.take() == []
    buf = bytearray(2048)
    assert c.recv_into(buf, 0, 1000) == 1000  # the app reads in two pieces
    assert c.recv_into(buf, 0, 1048) == 1048
    assert h.take() == []
    h.advance(1)
    u = h.one()
    assert (u.ack, u.win) == (7049, 2048)
    h.advance(300)
    assert h.take() == []  # no delayed or window-update ACK after it


def test_zero_window_probe_from_peer_is_acked_without_data():
    h = Harness(tcp_rx_bytes=1024)
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "A", data=_bulk(1024))
    h.take()
    h.feed(40000, 80, 6025, iss + 1, "A", data=b"z")
    a = h.one()
    assert (a.ack, a.win) == (6025, 0)
    assert c.rx_avail() == 1024


def test_delayed_ack_every_second_full_segment():
    h = Harness(tcp_rx_bytes=8192)
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "A", data=_bulk(1460))
    assert h.take() == []
    h.feed(40000, 80, 6461, iss + 1, "A", data=_bulk(1460))
    a = h.one()
    assert a.ack == 7921
    h.feed(40000, 80, 7921, iss + 1, "A", data=b"x")
    assert h.take() == []
    h.advance(199)
    assert h.take() == []
    h.advance(1)
    assert h.one().ack == 7922


def test_nagle_holds_small_segment_until_ack_and_nodelay_sends():
    h = Harness()
    c, iss = h.accept_one()
    c.send(b"a", 0, 1)
    assert h.one().data == b"a"
    c.send(b"b", 0, 1)
    c.send(b"c", 0, 1)
    assert h.take() == []  # Nagle: a small segment is in flight
    h.feed(40000, 80, 5001, iss + 2, "A")
    d = h.one()
    assert (d.seq, d.data) == (iss + 2, b"bc")
    c.nodelay = True
    c.send(b"d", 0, 1)
    assert h.one().data == b"d"


def test_out_of_order_segments_assembled_one_retransmission():
    h = Harness(tcp_rx_bytes=8192)
    c, iss = h.accept_one()
    data = _bulk(4000)
    h.feed(40000, 80, 5001 + 1000, iss + 1, "A", data=data[1000:2000])
    a = h.one()
    assert a.ack == 5001  # immediate duplicate ACK
    h.feed(40000, 80, 5001 + 3000, iss + 1, "A", data=data[3000:4000])
    assert h.one().ack == 5001
    h.feed(40000, 80, 5001 + 2000, iss + 1, "A", data=data[2000:3000])
    assert h.one().ack == 5001
    assert c.rx_avail() == 0
    h.feed(40000, 80, 5001, iss + 1, "A", data=data[:1000])  # the one lost segment
    assert h.one().ack == 5001 + 4000  # hole filled: ACK at once
    buf = bytearray(4000)
    assert c.recv_into(buf, 0, 4000) == 4000 and bytes(buf) == data
    assert h.stats["tcp_ooo_segs"] == 3


def test_out_of_order_fin_waits_for_data():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001 + 3, iss + 1, "FA", data=b"def")
    h.take()
    assert c.state == T.ESTABLISHED
    h.feed(40000, 80, 5001, iss + 1, "A", data=b"abc")
    a = h.take()[-1]
    assert a.ack == 5001 + 7
    assert c.state == T.CLOSE_WAIT


def test_duplicate_segment_is_acked_and_ignored():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "PA", data=b"abc")
    h.feed(40000, 80, 5001, iss + 1, "PA", data=b"abc")
    a = h.one()
    assert a.ack == 5004
    assert c.rx_avail() == 3


def test_overlapping_retransmission_trimmed():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "PA", data=b"abc")
    h.feed(40000, 80, 5002, iss + 1, "PA", data=b"bcdef")
    buf = bytearray(10)
    assert c.recv_into(buf, 0, 10) == 6 and buf[:6] == b"abcdef"


def test_send_fills_window_and_ring_limits():
    h = Harness(tcp_tx_bytes=4096)
    c, iss = h.accept_one(win=2000, mss=1000)
    assert c.send(_bulk(5000), 0, 5000) == 4096
    segs = h.take()
    assert [len(s.data) for s in segs] == [1000, 1000]
    assert not c.writable()
    h.feed(40000, 80, 5001, iss + 2001, "A", win=2000)
    assert [len(s.data) for s in h.take()] == [1000, 1000]
    assert c.writable() and c.tx_free() == 2000


def test_nagle_minshall_sends_tail_behind_a_full_segment():
    # a write of 1.5 MSS: the full segment and the tail go out together (only
    # an unacknowledged SMALL segment holds the next small one)
    h = Harness()
    c, iss = h.accept_one(mss=1000)
    c.send(_bulk(1500), 0, 1500)
    assert [len(s.data) for s in h.take()] == [1000, 500]
    c.send(b"x", 0, 1)
    assert h.take() == []  # the 500-byte tail is still unacknowledged
    h.feed(40000, 80, 5001, iss + 1501, "A")
    assert h.one().data == b"x"


def test_limited_transmit_sends_new_segment_per_dup_ack():
    # RFC 3042: with cwnd full, each of the first two duplicate ACKs lets one
    # new segment out, so a small window can still reach 3 dup ACKs
    h = Harness(tcp_tx_bytes=16384)
    c, iss = h.accept_one(win=60000, mss=1000)
    c.cwnd = 2000
    c.send(_bulk(6000), 0, 6000)
    assert [s.seq - iss for s in h.take()] == [1, 1001]
    h.feed(40000, 80, 5001, iss + 1, "A", win=60000)
    assert [s.seq - iss for s in h.take()] == [2001]
    h.feed(40000, 80, 5001, iss + 1, "A", win=60000)
    assert [s.seq - iss for s in h.take()] == [3001]
    h.feed(40000, 80, 5001, iss + 1, "A", win=60000)
    r = h.take()
    assert r[0].seq - iss == 1 and h.stats["tcp_fast_retransmits"] == 1


def test_small_window_with_nothing_in_flight_is_used_at_once():
    # the peer showed 1152 in its SYN-ACK, then only ever 300: with nothing
    # in flight, 300 is all it can take, so each 300-byte window is used at
    # once (no override timeout per segment, issue: SWS reference ratchet)
    h = Harness(tcp_tx_bytes=8192)
    c, iss, sport = h.connect_one(win=1152, mss=1460)
    h.feed(5001, sport, 9001, iss + 1, "A", win=300)
    c.send(_bulk(3000), 0, 3000)
    assert [len(s.data) for s in h.take()] == [300]
    for k in range(1, 5):
        h.feed(5001, sport, 9001, iss + 1 + 300 * k, "A", win=300)
        assert [len(s.data) for s in h.take()] == [300]
    assert h.stats["tcp_sws_overrides"] == 0


def test_silly_window_waits_for_the_override_timer():
    # below the 256-byte floor a window is silly even when it is all the
    # peer has: one segment per override period (RFC 1122 4.2.3.4)
    h = Harness(tcp_tx_bytes=8192)
    c, iss, sport = h.connect_one(win=1152, mss=1460)
    h.feed(5001, sport, 9001, iss + 1, "A", win=100)
    c.send(_bulk(3000), 0, 3000)
    assert h.take() == []
    assert c.persist
    h.next_timer()
    assert [len(s.data) for s in h.take()] == [100]
    assert h.stats["tcp_sws_overrides"] == 1 and not c.persist
    h.feed(5001, sport, 9001, iss + 101, "A", win=100)
    assert h.take() == [] and c.persist
    t0 = h.now
    h.next_timer()
    assert [len(s.data) for s in h.take()] == [100]
    assert h.now - t0 == c.rto_ms  # the override period is the RTO, not backed off
