# Random segments and application calls against established, listening and
# connecting TCBs: nothing raises (bad input is dropped and counted), and the
# connection's invariants hold after every step.
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tcp_helpers import PEER, Harness

from stack import tcp as T

FLAGS = st.sampled_from(["A", "PA", "FA", "S", "SA", "R", "RA", "", "F", "SF", "SR", "FPA"])


def _invariants(h):
    for c in h.tcp.conns:
        if not c.in_use:
            continue
        assert 0 <= c.rx.used <= c.rx.size and 0 <= c.tx.used <= c.tx.size
        if c.state >= T.ESTABLISHED and c.state != T.TIME_WAIT and not c.error:
            assert c.snd_una <= c.snd_nxt <= c.snd_max
            assert c.tx_seq0 <= c.snd_una + 1
            # unacked + unsent bytes all sit in the TX ring (plus maybe a FIN)
            assert c.snd_max - c.tx_seq0 <= c.tx.used + 1
        assert c.asm.n <= c.asm.slots
        for k in range(c.asm.n):
            assert 0 < c.asm.start[k] < c.asm.end[k] <= c.rx.free()
        for name in ("snd_una", "snd_nxt", "snd_max", "rcv_nxt", "rcv_adv", "cwnd", "rto_ms"):
            v = getattr(c, name)
            assert -(2**30) <= v < 2**30, (name, v)


OFFSET = st.one_of(
    st.just(0), st.integers(-3000, 3000), st.integers(-(2**31), 2**31), st.integers(-70000, 70000)
)
step = st.one_of(
    st.tuples(
        st.just("seg"),
        FLAGS,
        OFFSET,  # seq offset from what the peer should send next
        OFFSET,  # ack offset from our snd_nxt
        st.integers(0, 3000),  # payload length
        st.integers(0, 65535),  # window
    ),
    st.tuples(st.just("send"), st.integers(1, 5000)),
    st.tuples(st.just("recv"), st.integers(1, 5000)),
    st.tuples(st.just("time"), st.integers(1, 3000)),
    st.tuples(st.just("close"), st.sampled_from(["shutdown", "close", "abort"])),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40), st.booleans())
def test_random_segments_and_calls_never_raise(steps, active):
    h = Harness(tcp_rx_bytes=2048, tcp_tx_bytes=2048, tcp_ooo_ranges=2)
    if active:
        h.tcp.listen(80, 2)
        c, iss, sport = h.connect_one(port=5000)
        peer_port, our_port, peer_isn = 5000, sport, 9000
    else:
        c, iss = h.accept_one()
        peer_port, our_port, peer_isn = 40000, 80, 5000
    peer_seq = peer_isn + 1
    buf = bytearray(5000)
    data = bytes(range(256)) * 20
    owned = True
    for s in steps:
        kind = s[0]
        if kind == "seg":
            _, fl, dseq, dack, n, win = s
            ack = (iss + 1 + (c.snd_nxt if owned or c.in_use else 0) + dack) % 2**32
            h.feed(peer_port, our_port, (peer_seq + dseq) % 2**32, ack, fl, win=win,
                   data=data[:n])
            if dseq == 0 and n and "R" not in fl and "S" not in fl:
                peer_seq += n
        elif kind == "send" and owned:
            try:
                c.send(data, 0, s[1])
            except OSError:
                pass
        elif kind == "recv" and owned:
            try:
                c.recv_into(buf, 0, s[1])
            except OSError:
                pass
        elif kind == "time":
            h.advance(s[1])
        elif kind == "close" and owned:
            getattr(c, s[1])()
            owned = s[1] == "shutdown"
        h.take()
        _invariants(h)
    # also the listener survives whatever came
    h.feed(41000, 80, 1, 0, "S", src=PEER)
    assert any(x.flags == "SA" for x in h.take()) or h.stats["tcp_drop_backlog"] or h.stats[
        "tcp_drop_no_tcb"]
