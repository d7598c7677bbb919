# Header prediction (tcp_input.predicted) against the full path: the same
# random conversation fed to an engine with the fast path and one without
# must give the same segments out and the same connection state after every
# step (CPython; the engine code is the same on the unix port).
import random

from test_tcp_helpers import Harness

P = 40000
ISN = 5000
_SKIP = ("tcp", "slot", "rx", "tx", "asm", "remote_ip", "hdr", "listener")


def _state(c):
    out = []
    for k in sorted(dir(c)):
        if k.startswith("_") or k in _SKIP:
            continue
        v = getattr(c, k)
        if isinstance(v, (int, bool)):
            out.append((k, v))
    out.append(("rx.used", c.rx.used))
    out.append(("tx.used", c.tx.used))
    out.append(("asm.n", c.asm.n))
    return out


def _segs(h):
    return [(s.flags, s.seq, s.ack, s.win, s.data, tuple(s.sack)) for s in h.take()]


def _conversation(seed, steps=250):
    rnd = random.Random(seed)
    pair = []
    for fast in (True, False):
        h = Harness(tcp_rx_bytes=4096, tcp_tx_bytes=4096)
        h.tcp._secret = b"0123456789abcdef"  # the same ISS in both engines
        h.tcp.fast_path = fast
        c, iss = h.accept_one(win=8192, mss=1460)
        pair.append((h, c, iss))
    (ha, ca, iss), (hb, cb, _) = pair
    assert _state(ca) == _state(cb)
    peer_seq = ISN + 1  # the next byte the peer sends
    acked = 1  # our bytes the peer has acknowledged (offset from iss)
    win = 8192
    buf = bytearray(4096)
    fast_hits = 0
    for step in range(steps):
        op = rnd.randrange(9)
        if op <= 2:  # in-order data from the peer
            n = rnd.choice((1, 100, 536, 1460))
            data = bytes(rnd.randrange(256) for _ in range(n))
            args = (P, 80, peer_seq, iss + acked, "PA", win, data)
            peer_seq += n
        elif op == 3:  # the peer acknowledges some of what we sent
            top = ca.snd_max
            acked = rnd.randint(acked, top) if top > acked else acked
            args = (P, 80, peer_seq, iss + acked, "A", win, b"")
        elif op == 4:  # a window change or a duplicate ACK
            if rnd.randrange(2):
                win = rnd.choice((0, 300, 1460, 4096, 8192))
            args = (P, 80, peer_seq, iss + acked, "A", win, b"")
        elif op == 5:  # out of order: a segment beyond a hole
            args = (P, 80, peer_seq + 100, iss + acked, "A", win, b"x" * 50)
        elif op == 6:  # the application writes
            n = rnd.choice((10, 700, 1460, 3000))
            src = bytes(rnd.randrange(256) for _ in range(n))
            ka = ca.send(src, 0, n)
            kb = cb.send(src, 0, n)
            assert ka == kb
            args = None
        elif op == 7:  # the application reads
            n = rnd.choice((1, 512, 4096))
            assert ca.recv_into(buf, 0, n) == cb.recv_into(buf, 0, n)
            args = None
        else:  # time passes: timers
            ms = rnd.choice((1, 50, 250))
            ha.advance(ms)
            hb.advance(ms)
            args = None
        if args is not None:
            before = ha.stats["tcp_rx_segs"]
            ha.feed(*args[:5], win=args[5], data=args[6])
            hb.feed(*args[:5], win=args[5], data=args[6])
            fast_hits += ha.stats["tcp_rx_segs"] - before
        sa, sb = _segs(ha), _segs(hb)
        assert sa == sb, (seed, step, op)
        assert _state(ca) == _state(cb), (seed, step, op)
        if ca.error or ca.state != cb.state:
            break
    return fast_hits


def test_predicted_segments_match_the_full_path():
    total = 0
    for seed in range(12):
        total += _conversation(seed)
    assert total > 1000  # plenty of segments went through both engines


def test_predicted_path_is_taken():
    # in-order data and plain ACKs do take the fast path (it is not dead code)
    h = Harness()
    c, iss = h.accept_one(win=8192, mss=1460)
    calls = [0]
    from stack import tcp_input

    real = tcp_input.segment

    def counting(*a):
        calls[0] += 1
        return real(*a)

    tcp_input.segment = counting
    try:
        for k in range(5):
            h.feed(P, 80, ISN + 1 + 100 * k, iss + 1, "PA", data=b"y" * 100)
    finally:
        tcp_input.segment = real
    assert c.rx_avail() == 500
    assert calls[0] == 0
