# RFC 2018 SACK, receiver side: negotiated in the handshake, and ACKs report
# the out-of-order ranges the assembler holds (most recent first).
from test_tcp_helpers import PEER, Harness

SACK_OK_AND_MSS = bytes((2, 4, 5, 0xB4, 1, 1, 4, 2))


def _accept_sack(h):
    lst = h.tcp.listen(80, 2)
    h.feed(40000, 80, 5000, 0, "S", opts=SACK_OK_AND_MSS)
    sa = h.one()
    assert sa.sack_ok and sa.mss == 1460
    h.feed(40000, 80, 5001, sa.seq + 1, "A")
    return h.tcp.accept(lst), sa.seq


def test_syn_ack_offers_sack_only_if_the_syn_did():
    h = Harness()
    h.tcp.listen(80)
    h.feed(40000, 80, 1, 0, "S", mss=1460)
    sa = h.one()
    assert not sa.sack_ok
    h.feed(40001, 80, 1, 0, "S", opts=SACK_OK_AND_MSS)
    assert h.one().sack_ok


def test_active_open_offers_sack_and_keeps_it_only_if_answered():
    h = Harness()
    c = h.tcp.connect(PEER, 5000, h.now)
    syn = h.one()
    assert syn.sack_ok and syn.mss == 1460
    h.feed(5000, syn.sport, 100, syn.seq + 1, "SA", mss=1460)  # no SACK-permitted
    h.take()
    assert not c.sack_ok


def test_acks_carry_sack_blocks_most_recent_first():
    h = Harness(tcp_rx_bytes=8192)
    c, iss = _accept_sack(h)
    d = bytes(5000)
    h.feed(40000, 80, 5001 + 1000, iss + 1, "A", data=d[:1000])
    a = h.one()
    assert a.ack == 5001 and a.sack == [(6001, 7001)]
    h.feed(40000, 80, 5001 + 3000, iss + 1, "A", data=d[:1000])
    a = h.one()
    assert a.sack == [(8001, 9001), (6001, 7001)]  # the newest range first
    h.feed(40000, 80, 5001 + 2000, iss + 1, "A", data=d[:1000])  # bridges both
    a = h.one()
    assert a.sack == [(6001, 9001)]
    h.feed(40000, 80, 5001, iss + 1, "A", data=d[:1000])
    a = h.one()
    assert a.ack == 9001 and a.sack == []


def test_no_sack_blocks_without_negotiation():
    h = Harness(tcp_rx_bytes=8192)
    c, iss = h.accept_one()
    h.feed(40000, 80, 5001 + 1000, iss + 1, "A", data=bytes(1000))
    a = h.one()
    assert a.ack == 5001 and a.sack == [] and not a.sack_ok


def test_sack_disabled_by_config():
    h = Harness(tcp_sack=False)
    h.tcp.listen(80)
    h.feed(40000, 80, 1, 0, "S", opts=SACK_OK_AND_MSS)
    assert not h.one().sack_ok
