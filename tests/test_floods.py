"""Floods read as packet traces on the whole Interface (CPython): spoofed SYNs
never keep a new SYN out, ARP entries of live connections are pinned, replies
nobody asked for are not cached, and an ARP flood keeps the cache bounded with
the real peer in it."""

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, make_iface

HOST = "192.0.2.1"
STACK = "192.0.2.2"


def mac(b):
    return ":".join("%02x" % x for x in b)


def spoofed(i):
    return "192.0.2.%d" % (10 + i % 200)


def arp_from(ip, hw, op=1, pdst=STACK, dst="ff:ff:ff:ff:ff:ff"):
    return bytes(Ether(src=hw, dst=dst) / ARP(op=op, hwsrc=hw, psrc=ip, pdst=pdst,
                                              hwdst=mac(STACK_MAC) if op == 2 else None))


def learnt(iface, drv, now=1):
    drv.rx.append(arp_from(HOST, mac(HOST_MAC)))
    iface.poll(now)
    drv.sent.clear()


def syn(src, sport, seq=1000, dport=80):
    return bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / IP(src=src, dst=STACK) /
                 TCP(sport=sport, dport=dport, flags="S", seq=seq))


def ack(src, sport, seq, ack_no, dport=80, data=b""):
    return bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / IP(src=src, dst=STACK) /
                 TCP(sport=sport, dport=dport, flags="A", seq=seq, ack=ack_no) / data)


def engine(iface, backlog=2):
    from stack.tcp import TCP as Engine

    tcp = Engine(iface, iface.cfg)
    return tcp, tcp.listen(80, backlog)


def flood(iface, drv, n, now):
    for i in range(n):
        drv.rx.append(syn(spoofed(i), 1024 + i, seq=i * 7919))
        if len(drv.rx) >= 8:
            iface.poll(now)
    iface.poll(now)


def test_new_syn_after_2000_spoofed_syns_is_answered_at_once():
    iface, drv = make_iface()
    tcp, lst = engine(iface)
    learnt(iface, drv)
    flood(iface, drv, 2000, now=10)
    drv.sent.clear()
    drv.rx.append(syn(HOST, 40000, seq=5))
    iface.poll(11)  # the same millisecond the flood ended
    sas = [Ether(f) for f in drv.sent if TCP in Ether(f)]
    assert [(f[IP].dst, f[TCP].flags) for f in sas] == [(HOST, "SA")]
    drv.rx.append(ack(HOST, 40000, 6, sas[0][TCP].seq + 1))
    iface.poll(12)
    c = tcp.accept(lst)
    assert c is not None and c.remote_port == 40000
    assert iface.stats["tcp_syn_recycled"] >= 1998
    # more of the flood after the handshake: the accepted connection stays
    flood(iface, drv, 200, now=13)
    assert c.state == 4 and c.in_use  # ESTABLISHED
    assert (HOST, mac(HOST_MAC), "resolved") in iface.arp.entries()
    assert len(iface.arp.entries()) <= iface.cfg.arp_entries


def test_burst_of_resolved_real_clients_is_not_reset():
    # half-open entries whose SYN-ACK left (next hop resolved) and that are
    # fresh are handshakes about to complete: a third SYN is dropped, not
    # allowed to displace one (its sender retries)
    iface, drv = make_iface()
    tcp, lst = engine(iface)
    learnt(iface, drv)
    for p in (2000, 2001):
        drv.rx.append(syn(HOST, p, seq=100))
    iface.poll(2)
    sas = [Ether(f)[TCP] for f in drv.sent]
    drv.sent.clear()
    drv.rx.append(syn(HOST, 2002, seq=100))
    iface.poll(3)
    assert drv.sent == [] and iface.stats["tcp_drop_backlog"] == 1
    for i, sa in enumerate(sas):
        drv.rx.append(ack(HOST, 2000 + i, 101, sa.seq + 1))
    iface.poll(4)
    assert drv.sent == [] and iface.stats["tcp_tx_rst"] == 0
    assert tcp.accept(lst) is not None and tcp.accept(lst) is not None


def test_arp_entry_of_a_live_connection_is_pinned_through_a_flood():
    iface, drv = make_iface(arp_entries=4)
    tcp, lst = engine(iface, backlog=4)
    learnt(iface, drv)
    drv.rx.append(syn(HOST, 41000, seq=1))
    iface.poll(2)
    sa = Ether(drv.sent[-1])[TCP]
    drv.rx.append(ack(HOST, 41000, 2, sa.seq + 1))
    iface.poll(3)
    c = tcp.accept(lst)
    # ARP requests for us from 500 senders: each one wants an entry
    for i in range(500):
        drv.rx.append(arp_from(spoofed(i), "02:66:00:00:%02x:%02x" % (i >> 8, i & 0xFF)))
        iface.poll(4 + i)
    ents = iface.arp.entries()
    assert len(ents) == 4 and (HOST, mac(HOST_MAC), "resolved") in ents
    # and an ARP reply flood (nobody asked): nothing cached at all
    before = set(e[0] for e in iface.arp.entries())
    for i in range(300):
        drv.rx.append(arp_from("192.0.2.%d" % (i % 250 + 3), "02:77:00:00:00:%02x" % (i & 0xFF),
                               op=2, dst=mac(STACK_MAC)))
    for t in range(40):
        iface.poll(1000 + t)
    assert set(e[0] for e in iface.arp.entries()) <= before
    assert iface.stats["arp_drop_unsolicited"] == 300 - sum(
        1 for i in range(300) if "192.0.2.%d" % (i % 250 + 3) in before)
    # the pinned entry outlives its TTL: refreshed by a request, never dropped
    drv.sent.clear()
    iface.poll(3 + iface.cfg.arp_ttl_ms + 1)
    assert (HOST, mac(HOST_MAC), "resolved") in iface.arp.entries()
    reqs = [Ether(f)[ARP] for f in drv.sent if ARP in Ether(f)]
    assert [(r.op, r.pdst) for r in reqs] == [(1, HOST)]
    assert c.state == 4


def test_unpinned_entry_expires_and_unresolved_entries_go_before_resolved_ones():
    iface, drv = make_iface(arp_entries=3)
    learnt(iface, drv)  # 192.0.2.1 resolved
    # two unresolved next hops (UDP to hosts that never answer) and then more
    sock = iface.udp.socket()
    for i in range(6):
        sock.sendto(b"x", 0, 1, bytes([192, 0, 2, 50 + i]), 0, 9)
    ents = iface.arp.entries()
    assert len(ents) == 3 and (HOST, mac(HOST_MAC), "resolved") in ents
    iface.poll(1 + iface.cfg.arp_ttl_ms + 5000)
    assert all(e[0] != HOST for e in iface.arp.entries())  # no connection: it expires


def test_unsolicited_reply_is_not_cached_but_a_requested_one_is():
    iface, drv = make_iface()
    drv.rx.append(arp_from("192.0.2.9", "02:99:00:00:00:09", op=2, dst=mac(STACK_MAC)))
    iface.poll(1)
    assert iface.arp.entries() == [] and iface.stats["arp_drop_unsolicited"] == 1
    sock = iface.udp.socket()
    sock.sendto(b"x", 0, 1, bytes([192, 0, 2, 9]), 0, 9)  # we ask
    drv.rx.append(arp_from("192.0.2.9", "02:99:00:00:00:09", op=2, dst=mac(STACK_MAC)))
    iface.poll(2)
    assert iface.arp.entries() == [("192.0.2.9", "02:99:00:00:00:09", "resolved")]
