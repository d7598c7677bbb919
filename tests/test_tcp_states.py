# State transitions (RFC 9293 3.3.2 / 3.10), read as packet traces.
import pytest
from test_tcp_helpers import PEER, Harness

from stack import tcp as T


def test_passive_open_syn_ack_carries_mss_and_window():
    h = Harness()
    lst = h.tcp.listen(80, 2)
    h.feed(40000, 80, 5000, 0, "S", win=8192, mss=1000)
    sa = h.one()
    # the window: whole segments of the peer's MSS (4096 rounded down to 4 x 1000)
    assert (sa.sport, sa.dport, sa.flags, sa.ack, sa.mss, sa.win) == (80, 40000, "SA", 5001, 1460, 4000)
    assert h.tcp.accept(lst) is None  # not yet established
    h.feed(40000, 80, 5001, sa.seq + 1, "A")
    c = h.tcp.accept(lst)
    assert c.state == T.ESTABLISHED and c.snd_mss == 1000
    assert h.stats["tcp_established"] == 1
    assert h.take() == []


def test_active_open_and_data_both_ways():
    h = Harness()
    c, iss, sport = h.connect_one()
    assert c.connected()
    assert c.send(b"hello", 0, 5) == 5
    d = h.one()
    assert (d.flags, d.seq, d.ack, d.data) == ("PA", iss + 1, 9001, b"hello")
    h.feed(5001, sport, 9001, iss + 6, "PA", data=b"world")
    buf = bytearray(10)
    assert c.recv_into(buf, 0, 10) == 5 and buf[:5] == b"world"
    assert c.recv_into(buf, 0, 10) == -1
    h.advance(200)  # delayed ACK
    a = h.one()
    assert (a.flags, a.ack) == ("A", 9006)
    assert h.stats["tcp_delayed_acks"] == 1


def test_active_close_fin_wait_to_time_wait_then_closed():
    h = Harness(tcp_time_wait_ms=500)
    c, iss, sport = h.connect_one()
    c.close()
    f = h.one()
    assert (f.flags, f.seq) == ("FA", iss + 1)
    assert c.state == T.FIN_WAIT_1
    h.feed(5001, sport, 9001, iss + 2, "A")
    assert c.state == T.FIN_WAIT_2
    h.feed(5001, sport, 9001, iss + 2, "FA")
    a = h.one()
    assert (a.flags, a.ack) == ("A", 9002)
    assert c.state == T.TIME_WAIT
    h.advance(499)
    assert c.in_use
    h.advance(1)
    assert not c.in_use  # freed back to the pool


def test_passive_close_close_wait_last_ack():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "FA")
    a = h.one()
    assert (a.flags, a.ack) == ("A", 5002)
    assert c.state == T.CLOSE_WAIT and c.readable()
    assert c.recv_into(bytearray(4), 0, 4) == 0  # EOF
    c.close()
    f = h.one()
    assert (f.flags, f.seq, f.ack) == ("FA", iss + 1, 5002)
    assert c.state == T.LAST_ACK
    h.feed(40000, 80, 5002, iss + 2, "A")
    assert not c.in_use


def test_simultaneous_close_goes_through_closing():
    h = Harness(tcp_time_wait_ms=100)
    c, iss = h.accept_one()
    c.close()
    f = h.one()
    assert f.flags == "FA"
    h.feed(40000, 80, 5001, iss + 1, "FA")  # their FIN crosses ours
    a = h.one()
    assert (a.flags, a.ack) == ("A", 5002)
    assert c.state == T.CLOSING
    h.feed(40000, 80, 5002, iss + 2, "A")
    assert c.state == T.TIME_WAIT
    h.advance(100)
    assert not c.in_use


def test_half_close_keeps_receiving():
    h = Harness()
    c, iss = h.accept_one()
    c.shutdown()
    f = h.one()
    assert f.flags == "FA"
    h.feed(40000, 80, 5001, iss + 2, "A")
    assert c.state == T.FIN_WAIT_2
    with pytest.raises(OSError) as e:
        c.send(b"x", 0, 1)
    assert e.value.args[0] == 32
    h.feed(40000, 80, 5001, iss + 2, "PA", data=b"late data")
    buf = bytearray(20)
    assert c.recv_into(buf, 0, 20) == 9 and buf[:9] == b"late data"


def test_simultaneous_open():
    h = Harness()
    c = h.tcp.connect(PEER, 7000, h.now, src_port=7000)
    syn = h.one()
    h.feed(7000, 7000, 300, 0, "S", mss=1200)  # their SYN crosses ours
    sa = h.one()
    assert (sa.flags, sa.seq, sa.ack) == ("SA", syn.seq, 301)
    assert c.state == T.SYN_RECEIVED
    h.feed(7000, 7000, 301, syn.seq + 1, "A")
    assert c.state == T.ESTABLISHED and c.snd_mss == 1200


def test_connection_refused():
    h = Harness()
    c = h.tcp.connect(PEER, 7, h.now)
    syn = h.one()
    h.feed(7, syn.sport, 0, syn.seq + 1, "RA")
    assert c.error == 111 and c.closed() and c.readable()
    with pytest.raises(OSError) as e:
        c.recv_into(bytearray(1), 0, 1)
    assert e.value.args[0] == 111
    c.close()
    assert not c.in_use


def test_reset_in_established_gives_econnreset():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, 0, "R")
    assert c.error == 104
    assert h.take() == []


def test_abort_sends_rst_and_frees():
    h = Harness()
    c, iss = h.accept_one()
    c.abort()
    r = h.one()
    assert (r.flags, r.seq) == ("RA", iss + 1)
    assert not c.in_use


def test_close_with_unread_data_sends_rst():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001, iss + 1, "PA", data=b"unread")
    h.take()
    c.close()
    assert h.one().flags == "RA"
    assert not c.in_use


def test_unaccepted_connection_reset_is_freed():
    h = Harness()
    c, iss = h.accept_one()
    h.feed(40001, 80, 100, 0, "S", mss=1460)
    sa = h.one()
    h.feed(40001, 80, 101, sa.seq + 1, "A")
    h.feed(40001, 80, 101, 0, "R")
    assert h.tcp.accept(h.lst) is None
    assert sum(1 for x in h.tcp.conns if x.in_use) == 1


def test_listen_port_in_use_and_pool_exhaustion():
    h = Harness(tcp_conns=1, tcp_listeners=1)
    h.tcp.listen(80)
    with pytest.raises(OSError) as e:
        h.tcp.listen(81)
    assert e.value.args[0] == 12
    h.tcp.connect(PEER, 5000, h.now)
    with pytest.raises(OSError) as e:
        h.tcp.connect(PEER, 5000, h.now)
    assert e.value.args[0] == 12


def test_connections_introspection():
    h = Harness()
    c, iss = h.accept_one()
    (info,) = h.tcp.connections()
    assert info["state"] == "ESTABLISHED"
    assert info["local"] == "192.0.2.2:80" and info["remote"] == "192.0.2.1:40000"
    for k in ("srtt_ms", "rttvar_ms", "rto_ms", "cwnd", "ssthresh", "snd_wnd", "rcv_wnd",
              "in_flight", "retransmits"):
        assert k in info


def test_send_after_idle_does_not_retransmit_spuriously():
    # the engine's clock is the last poll's: a timer armed from send() gets
    # its deadline from the next poll, not from the stale clock
    h = Harness()
    c, iss = h.accept_one()
    h.now += 5000  # the application was busy; nobody polled
    c.send(b"late", 0, 4)
    assert h.one().data == b"late"
    h.tcp.poll(h.now)  # first poll after the send: arms RTO from now
    h.now += 199
    h.tcp.poll(h.now)
    assert h.take() == [] and h.stats["tcp_retransmits"] == 0
    h.now += 1
    h.tcp.poll(h.now)
    assert h.one().data == b"late"


def test_rto_reset_to_3s_after_syn_timeout():
    # RFC 6298 5.7
    h = Harness()
    c = h.tcp.connect(PEER, 5000, h.now)
    syn = h.one()
    h.advance(1000)
    h.one()  # SYN retransmitted
    h.feed(5000, syn.sport, 100, syn.seq + 1, "SA")
    assert c.connected() and c.rto_ms == 3000


def test_state_constants_agree_between_modules():
    from stack import tcp_conn, tcp_input, tcp_output, tcp_timers

    for mod in (tcp_input, tcp_output, tcp_timers, T):
        for name in T.STATE_NAMES:
            for attr in (name, "_" + name):
                if hasattr(mod, attr):
                    assert getattr(mod, attr) == getattr(tcp_conn, name), (mod, attr)
    for mod in (tcp_input, tcp_output, tcp_timers, T):
        for attr in ("_NO_TIMER", "_REARM", "_ACKF", "_SYN", "_FIN", "_RST"):
            if hasattr(mod, attr):
                assert getattr(mod, attr) == {"_NO_TIMER": -1, "_REARM": -2, "_ACKF": 0x10,
                                              "_SYN": 2, "_FIN": 1, "_RST": 4}[attr]


def _iss_is_keyed_and_follows_the_clock(h):
    """RFC 6528: ISN = M + F(addresses, ports, secret): for one 4-tuple only the
    4 us clock moves it; another 4-tuple gets another offset."""
    c1 = h.tcp.connect(PEER, 5000, 1000, src_port=40000)
    s1 = h.one().seq
    c1.abort()
    h.take()
    c2 = h.tcp.connect(PEER, 5000, 1004, src_port=40000)
    s2 = h.one().seq
    c2.abort()
    h.take()
    assert (s2 - s1) % 2**32 == 4 * 250
    c3 = h.tcp.connect(PEER, 5001, 1004, src_port=40000)
    assert h.one().seq != s2
    c3.abort()


def test_iss_is_keyed_per_connection_and_advances_with_the_clock():
    h = Harness()
    # inside the unix port (tests/tcp_mp_unit.py) F is AES-128 from cryptolib
    import sys

    assert (h.tcp._aes is not None) == (sys.implementation.name == "micropython")
    _iss_is_keyed_and_follows_the_clock(h)


def test_iss_without_hashlib_is_still_keyed_per_connection():
    # where hashing cannot allocate (the application holds the heap locked)
    # or the port has no hashlib, F comes from the keyed mix
    h = Harness()

    def no_hash(f):
        raise MemoryError

    h.tcp._aes = None  # (CPython has no cryptolib; a board may have it)
    h.tcp._hash_f = no_hash
    _iss_is_keyed_and_follows_the_clock(h)
