# RST generation (RFC 9293 3.10.7.1/2/3) and RFC 5961 blind-attack defences.
from test_tcp_helpers import PEER, Harness

from stack import tcp as T


def test_closed_port_syn_gets_rst_ack_with_seq_zero():
    h = Harness()
    h.feed(40000, 81, 1000, 0, "S")
    r = h.one()
    assert (r.flags, r.seq, r.ack, r.sport, r.dport) == ("RA", 0, 1001, 81, 40000)
    assert h.stats["tcp_drop_no_conn"] == 1 and h.stats["tcp_tx_rst"] == 1


def test_closed_port_ack_gets_rst_with_seq_from_ack():
    h = Harness()
    h.feed(40000, 81, 1000, 0xFFFFFFF0, "A", data=b"abc")
    r = h.one()
    assert (r.flags, r.seq) == ("R", 0xFFFFFFF0)


def test_closed_port_data_and_fin_rst_ack_covers_them():
    h = Harness()
    h.feed(40000, 81, 0xFFFFFFFE, 0, "F", data=b"abc")
    r = h.one()
    assert (r.flags, r.ack) == ("RA", (0xFFFFFFFE + 4) & 0xFFFFFFFF)


def test_rst_to_closed_port_is_not_answered():
    h = Harness()
    h.feed(40000, 81, 1000, 0, "R")
    assert h.take() == []


def test_listen_ack_gets_rst_and_rst_is_ignored():
    h = Harness()
    h.tcp.listen(80)
    h.feed(40000, 80, 1000, 777, "A")
    r = h.one()
    assert (r.flags, r.seq) == ("R", 777)
    h.feed(40000, 80, 1000, 0, "R")
    assert h.take() == []


def test_syn_sent_bad_ack_gets_rst_and_conn_stays():
    h = Harness()
    c = h.tcp.connect(PEER, 5000, h.now)
    syn = h.one()
    h.feed(5000, syn.sport, 100, syn.seq + 5, "SA")
    r = h.one()
    assert (r.flags, r.seq) == ("R", syn.seq + 5)
    assert c.state == T.SYN_SENT


def test_syn_sent_rst_without_acceptable_ack_is_ignored():
    h = Harness()
    c = h.tcp.connect(PEER, 5000, h.now)
    syn = h.one()
    h.feed(5000, syn.sport, 0, 0, "R")  # no ACK: not acceptable in SYN-SENT
    assert c.state == T.SYN_SENT and c.error == 0


def test_rst_in_window_not_exact_gets_challenge_ack():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001 + 100, 0, "R")
    a = h.one()
    assert (a.flags, a.seq, a.ack) == ("A", iss + 1, 5001)
    assert c.state == T.ESTABLISHED and h.stats["tcp_challenge_acks"] == 1


def test_rst_out_of_window_dropped_silently():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001 + 100000, 0, "R")
    assert h.take() == [] and c.state == T.ESTABLISHED


def test_rst_exact_resets():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, 0, "R")
    assert c.error == 104 and c.state == T.CLOSED


def test_syn_in_established_gets_challenge_ack():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, 0, "S")
    a = h.one()
    assert (a.flags, a.ack) == ("A", 5001)
    assert c.state == T.ESTABLISHED and h.stats["tcp_challenge_acks"] == 1


def test_challenge_acks_are_rate_limited():
    h = Harness()
    c, iss = h.accept_one()
    for i in range(15):
        h.feed(40000, 80, 5001 + 10 + i, 0, "R")
    assert len(h.take()) == 10
    h.advance(1000)
    h.feed(40000, 80, 5001 + 10, 0, "R")
    assert len(h.take()) == 1


def test_ack_for_unsent_data_is_dropped_with_ack():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1000, "PA", data=b"evil")
    a = h.one()
    assert (a.flags, a.ack) == ("A", 5001)  # data not accepted
    assert c.rx_avail() == 0 and h.stats["tcp_drop_ack"] == 1


def test_blind_data_injection_with_old_ack_is_dropped():
    # RFC 5961 5.2: SEG.ACK below SND.UNA - MAX.SND.WND
    h = Harness()
    c, iss = h.accept_one(win=1000)
    h.feed(40000, 80, 5001, iss + 1 - 5000, "PA", data=b"evil")
    a = h.one()
    assert a.flags == "A" and c.rx_avail() == 0


def test_out_of_window_data_gets_dup_ack():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001 + 50000, iss + 1, "PA", data=b"far")
    a = h.one()
    assert (a.flags, a.ack) == ("A", 5001)
    assert h.stats["tcp_drop_seq"] == 1


def test_syn_received_bad_ack_gets_rst():
    h = Harness()
    h.tcp.listen(80)
    h.feed(40000, 80, 5000, 0, "S")
    sa = h.one()
    h.feed(40000, 80, 5001, sa.seq + 7, "A")
    r = h.one()
    assert (r.flags, r.seq) == ("R", sa.seq + 7)


def test_syn_received_rst_returns_to_listen():
    h = Harness()
    lst = h.tcp.listen(80)
    h.feed(40000, 80, 5000, 0, "S")
    h.one()
    h.feed(40000, 80, 5001, 0, "R")
    assert all(not c.in_use for c in h.tcp.conns)
    assert lst.in_use
    h.feed(40000, 80, 6000, 0, "S")
    assert h.one().flags == "SA"


def test_segment_to_broadcast_address_is_dropped():
    h = Harness()
    h.iface.ip[3] = 9  # the segment's destination (192.0.2.2) is not ours now
    h.feed(40000, 80, 1, 0, "S")
    assert h.take() == [] and h.stats["tcp_drop_not_ours"] == 1


def test_malformed_options_on_syn_dropped():
    h = Harness()
    h.tcp.listen(80)
    h.feed(40000, 80, 1, 0, "S", opts=bytes((2, 4, 5, 0xB4, 8, 40, 0, 0)))  # length past end
    assert h.take() == [] and h.stats["tcp_drop_options"] == 1
    h.feed(40000, 80, 1, 0, "S", opts=bytes((1, 1, 99, 2, 2, 4, 5, 0)))  # unknown kind 99 skipped
    sa = h.one()
    assert sa.flags == "SA"
    assert h.tcp.conns[0].snd_mss == 0x500 or any(c.snd_mss == 0x500 for c in h.tcp.conns)


def test_tiny_mss_option_is_floored():
    h = Harness()
    h.tcp.listen(80)
    h.feed(40000, 80, 1, 0, "S", mss=1)
    h.one()
    assert [x.snd_mss for x in h.tcp.conns if x.in_use] == [64]
