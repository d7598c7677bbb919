# Bounded resources: TIME_WAIT recycling, SYN floods, listen backlog,
# keepalive, and sequence numbers across 2**32 and across rebasing.
from test_tcp_helpers import PEER, Harness

from stack import tcp as T


def _src(i):
    return bytes((192, 0, 2, 100 + i))


def test_syn_flood_recycles_stale_half_open_oldest_first_and_spares_established():
    h = Harness(tcp_conns=4)
    c, iss = h.accept_one()  # one established, accepted connection
    lst = h.lst  # backlog 2
    for i in range(100):
        h.feed(1000 + i, 80, 7000 + i, 0, "S", src=_src(i % 100))
    h.take()
    # fresh half-open entries are kept: later SYNs are dropped (the sender retries)
    half = [x for x in h.tcp.conns if x.state == T.SYN_RECEIVED]
    assert sorted(x.remote_port for x in half) == [1000, 1001]
    assert h.stats["tcp_drop_backlog"] == 98 and h.stats["tcp_syn_recycled"] == 0
    # after one RTO their SYN-ACKs were retransmitted: now stale, recycled oldest first
    h.advance(1000)
    h.take()
    for i in range(100, 200):
        h.feed(1000 + i, 80, 7000 + i, 0, "S", src=_src(i % 100))
    assert h.stats["tcp_syn_recycled"] == 2
    half = [x for x in h.tcp.conns if x.state == T.SYN_RECEIVED]
    assert sorted(x.remote_port for x in half) == [1100, 1101]
    assert c.state == T.ESTABLISHED and c.in_use
    # the established connection still moves data
    h.take()
    h.feed(40000, 80, 5001, iss + 1, "PA", data=b"still here")
    assert c.rx_avail() == 10
    # a legitimate client whose first SYN was dropped gets in on a retry
    h.advance(1000)
    h.take()
    h.feed(41000, 80, 9999, 0, "S", src=PEER)
    sa = h.take()[-1]
    assert sa.flags == "SA" and sa.dport == 41000
    h.feed(41000, 80, 10000, sa.seq + 1, "A", src=PEER)
    assert h.tcp.accept(lst).remote_port == 41000
    assert sum(1 for x in h.tcp.conns if x.in_use) <= 4


def test_burst_of_real_clients_is_not_reset():
    # a third SYN while two fresh handshakes are pending is dropped, not
    # allowed to displace one (whose ACK would then be answered with a RST)
    h = Harness(tcp_conns=4)
    lst = h.tcp.listen(80, 2)
    h.feed(2000, 80, 100, 0, "S")
    h.feed(2001, 80, 100, 0, "S")
    sas = h.take()
    h.feed(2002, 80, 100, 0, "S")
    assert h.take() == [] and h.stats["tcp_drop_backlog"] == 1
    for i, sa in enumerate(sas):
        h.feed(2000 + i, 80, 101, sa.seq + 1, "A")
    assert h.take() == [] and h.stats["tcp_tx_rst"] == 0
    assert h.tcp.accept(lst) is not None and h.tcp.accept(lst) is not None


def test_backlog_full_of_established_drops_new_syn():
    h = Harness(tcp_conns=4)
    lst = h.tcp.listen(80, 2)
    for i in range(2):
        h.feed(2000 + i, 80, 100, 0, "S")
        sa = h.one()
        h.feed(2000 + i, 80, 101, sa.seq + 1, "A")
    h.feed(2002, 80, 100, 0, "S")
    assert h.take() == [] and h.stats["tcp_drop_backlog"] == 1
    assert h.tcp.accept(lst).remote_port == 2000  # oldest first


def test_connect_recycles_half_open_when_pool_full():
    h = Harness(tcp_conns=2)
    h.tcp.listen(80, 2)
    h.feed(3000, 80, 1, 0, "S", src=_src(1))
    h.feed(3001, 80, 1, 0, "S", src=_src(2))
    h.take()
    c = h.tcp.connect(PEER, 5000, h.now)
    assert c.state == T.SYN_SENT and h.stats["tcp_syn_recycled"] == 1


def test_time_wait_recycled_when_pool_full():
    h = Harness(tcp_conns=1, tcp_time_wait_ms=60000)
    c, iss, sport = h.connect_one()
    c.close()
    h.feed(5001, sport, 9001, iss + 2, "FA")
    assert c.state == T.TIME_WAIT
    h.take()
    c2 = h.tcp.connect(PEER, 5002, h.now)
    assert c2 is c and c2.state == T.SYN_SENT and h.stats["tcp_tw_recycled"] == 1


def test_time_wait_acks_retransmitted_fin_and_restarts_timer():
    h = Harness(tcp_time_wait_ms=1000)
    c, iss = h.accept_one()
    c.close()
    h.take()
    h.feed(40000, 80, 5001, iss + 2, "FA")
    h.take()
    h.advance(800)
    h.feed(40000, 80, 5001, iss + 2, "FA")  # our ACK was lost
    a = h.one()
    assert (a.flags, a.ack) == ("A", 5002)
    h.advance(800)
    assert c.state == T.TIME_WAIT
    h.advance(200)
    assert not c.in_use


def test_syn_to_time_wait_pair_with_higher_seq_reuses_it():
    # RFC 9293 3.6.1 / RFC 6191 (sequence-number variant)
    h = Harness(tcp_time_wait_ms=60000)
    c, iss = h.accept_one()
    c.close()
    h.take()
    h.feed(40000, 80, 5001, iss + 2, "FA")
    h.take()
    assert c.state == T.TIME_WAIT
    h.feed(40000, 80, 90000, 0, "S")
    sa = h.one()
    assert (sa.flags, sa.ack) == ("SA", 90001)
    assert h.stats["tcp_tw_recycled"] == 1


def test_syn_to_time_wait_pair_with_old_seq_is_not_reused():
    h = Harness(tcp_time_wait_ms=60000)
    c, iss = h.accept_one()
    c.close()
    h.take()
    h.feed(40000, 80, 5001, iss + 2, "FA")
    h.take()
    h.feed(40000, 80, 4000, 0, "S")
    a = h.one()
    assert a.flags == "A"  # just an ACK from TIME_WAIT; no new connection
    assert c.state == T.TIME_WAIT


def test_keepalive_probes_then_etimedout():
    h = Harness()
    c, iss = h.accept_one()
    c.set_keepalive(True, idle_ms=1000, interval_ms=100, count=2)
    h.advance(1000)
    p = h.one()
    assert (p.flags, p.seq, p.data) == ("A", iss, b"")  # SND.NXT - 1
    h.feed(40000, 80, 5001, iss + 1, "A")  # answered: idle again
    h.advance(999)
    assert h.take() == []
    h.advance(1)
    h.one()
    h.advance(100)
    h.one()
    h.advance(100)
    assert h.one().flags == "RA"
    assert c.error == 110


def _stream(k):
    return (k * 13 + 5) & 0xFF


def _wrap_transfer(peer_isn, h):
    """30 KB each way through one connection; the test plays a peer that
    checks every sequence number it gets against its own 32-bit arithmetic.
    Returns (conn, peer's next seq, ack the peer last sent)."""
    lst = h.tcp.listen(80, 2)
    h.feed(40000, 80, peer_isn, 0, "S", mss=1000, win=65535)
    sa = h.one()
    iss = sa.seq
    h.feed(40000, 80, peer_isn + 1, iss + 1, "A", win=65535)
    c = h.tcp.accept(lst)
    got = bytearray()
    collected = bytearray()
    buf = bytearray(4096)
    out_bytes = bytes(_stream(k + 7) for k in range(30000))
    sent_total = 0
    seq = (peer_isn + 1) % 2**32
    acked = (iss + 1) % 2**32
    for i in range(30):
        chunk = bytes(_stream(1000 * i + k) for k in range(1000))
        h.feed(40000, 80, seq, acked, "A", data=chunk, win=65535)
        seq = (seq + 1000) % 2**32
        n = c.recv_into(buf, 0, 4096)
        got += buf[:n]
        if sent_total < len(out_bytes):
            sent_total += c.send(out_bytes, sent_total, min(1000, len(out_bytes) - sent_total))
        for sg in h.take():
            assert sg.ack <= seq or seq < 0x10000  # never beyond what the peer sent
            if sg.data:
                assert sg.seq == (iss + 1 + len(collected)) % 2**32
                collected += sg.data
                acked = (sg.seq + len(sg.data)) % 2**32
        h.feed(40000, 80, seq, acked, "A", win=65535)
    for sg in h.take():
        if sg.data:
            assert sg.seq == (iss + 1 + len(collected)) % 2**32
            collected += sg.data
    assert bytes(got) == bytes(_stream(k) for k in range(30000))
    assert bytes(collected) == out_bytes[: len(collected)] and len(collected) >= 25000
    return c, seq, acked


def test_sequence_numbers_wrap_across_2_32():
    h = Harness(tcp_rx_bytes=8192, tcp_tx_bytes=8192)
    h.tcp._iss = lambda c, now: _force_iss(c, 0xFFFFB000)
    c, seq, acked = _wrap_transfer(0xFFFFE000, h)
    assert seq < 0x10000 and acked < 0x10000  # both directions wrapped


def test_rebase_keeps_offsets_small_and_wire_numbers_exact():
    h = Harness(tcp_rx_bytes=8192, tcp_tx_bytes=8192)
    h.tcp.rebase_at = 5000
    h.tcp.rebase_by = 4000
    h.tcp._iss = lambda c, now: _force_iss(c, 0xFFFFB000)
    c, seq, acked = _wrap_transfer(0x12345678, h)
    assert c.rcv_nxt <= 5001 and c.snd_una <= 9001  # rebased many times
    h.feed(40000, 80, seq, acked, "PA", win=65535, data=b"tail")
    h.advance(200)
    a = h.take()[-1]
    assert a.ack == (seq + 4) % 2**32


def _force_iss(c, v):
    c.iss_hi = v >> 16
    c.iss_lo = v & 0xFFFF


def test_orphaned_fin_wait_2_times_out_and_frees():
    h = Harness(tcp_fin_wait_2_ms=5000)
    c, iss = h.accept_one()
    c.close()
    h.take()
    h.feed(40000, 80, 5001, iss + 2, "A")  # our FIN acked; the peer never FINs
    assert c.state == T.FIN_WAIT_2
    h.advance(4999)
    assert c.in_use
    h.advance(1)
    assert not c.in_use


def test_half_closed_fin_wait_2_held_by_app_does_not_time_out():
    h = Harness(tcp_fin_wait_2_ms=5000)
    c, iss = h.accept_one()
    c.shutdown()  # the application still reads
    h.take()
    h.feed(40000, 80, 5001, iss + 2, "A")
    h.advance(60000)
    assert c.state == T.FIN_WAIT_2 and c.in_use


def test_syn_in_window_in_syn_received_returns_to_listen():
    h = Harness()
    lst = h.tcp.listen(80)
    h.feed(40000, 80, 5000, 0, "S")
    h.one()
    h.feed(40000, 80, 5001 + 10, 0, "S")  # a different SYN inside the window
    assert all(not x.in_use for x in h.tcp.conns) and lst.in_use
