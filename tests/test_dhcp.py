"""The DHCP client (RFC 2131, RFC 5227 probing) read as packet traces: a fake
clock, a scripted server, the exact messages and counters that come out."""

import pytest
from scapy.layers.dhcp import BOOTP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC
from test_dhcp_helpers import (DNS1, DNS2, LEASED, OTHER_MAC, ROUTER, SERVER, XID, Net, mac,
                               options)


def addr(b):
    return "%d.%d.%d.%d" % tuple(b)


# -- start-up and the first lease ------------------------------------------------------


def test_no_address_no_gratuitous_arp_and_discover_after_the_init_delay(monkeypatch):
    n = Net(monkeypatch)
    assert n.take() == []  # nothing to announce without an address
    n.advance(499)  # random init delay: half of dhcp_init_delay_ms with the pinned draw
    assert n.take() == []
    n.advance(1)
    d = n.one_dhcp()
    assert d.dst == "ff:ff:ff:ff:ff:ff" and d.src == mac(STACK_MAC)
    assert (d[IP].src, d[IP].dst, d[UDP].sport, d[UDP].dport) == ("0.0.0.0", "255.255.255.255",
                                                                   68, 67)
    b = d[BOOTP]
    assert b.op == 1 and b.xid == XID and b.flags == 0x8000 and b.ciaddr == "0.0.0.0"
    assert b.chaddr[:6] == STACK_MAC
    o = options(d)
    assert o["message-type"] == 1
    assert o["client_id"] == b"\x01" + STACK_MAC
    assert o["hostname"] == b"mpy-000002"
    assert o["max_dhcp_size"] == 576
    assert list(o["param_req_list"]) == [1, 3, 6, 51, 58, 59]
    assert "requested_addr" not in o and "server_id" not in o
    assert len(d[UDP].payload) >= 300  # RFC 1542 minimum BOOTP size
    assert n.client.state_name() == "SELECTING"
    assert n.iface.dhcp is n.client


def test_discover_retransmits_at_4_8_16_32_64_64_seconds(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    gaps = []
    last = n.t
    while len(gaps) < 6:
        n.advance(100, 100)
        if n.dhcp_sent():
            gaps.append(n.t - last)
            last = n.t
    assert gaps == [4000, 8000, 16000, 32000, 64000, 64000]
    assert n.stats["dhcp_tx_discover"] == 7


def test_retransmission_is_randomized_by_one_second(monkeypatch):
    n = Net(monkeypatch, rand=0)  # the lowest draw: -1 s, no init delay
    n.one_dhcp()  # at t=0
    n.advance(2950)
    assert n.dhcp_sent() == []
    n.advance(50)
    assert len(n.dhcp_sent()) == 1  # 4 s - 1 s


def test_offer_request_ack_probe_then_bound(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    r = n.one_dhcp()
    assert r[IP].src == "0.0.0.0" and r[IP].dst == "255.255.255.255"
    assert r[BOOTP].xid == XID and r[BOOTP].ciaddr == "0.0.0.0" and r[BOOTP].flags == 0x8000
    o = options(r)
    assert o["message-type"] == 3
    assert o["requested_addr"] == LEASED and o["server_id"] == SERVER
    assert n.client.state_name() == "REQUESTING"
    n.feed(n.reply("ack"))
    assert n.client.state_name() == "CHECKING"
    assert addr(n.iface.ip) == "0.0.0.0"  # not used before the probes (RFC 5227 2.1)
    # PROBE_WAIT 0..1 s (500 ms pinned), 3 probes 1..2 s apart (1.5 s), ANNOUNCE_WAIT 2 s
    times = []
    t0 = n.t
    while n.client.state_name() == "CHECKING":
        n.advance(50)
        for f in n.take():
            assert f[ARP].op == 1 and f[ARP].psrc == "0.0.0.0" and f[ARP].pdst == LEASED
            assert f[ARP].hwsrc == mac(STACK_MAC) and f[ARP].hwdst == "00:00:00:00:00:00"
            assert f.dst == "ff:ff:ff:ff:ff:ff"
            times.append(n.t - t0)
    assert times == [500, 2000, 3500]
    assert n.t - t0 == 5500
    assert n.client.state_name() == "BOUND"
    assert (addr(n.iface.ip), addr(n.iface.netmask), addr(n.iface.gateway)) == (
        LEASED, "255.255.255.0", ROUTER)
    assert addr(n.iface.dns[0:4]) == DNS1 and addr(n.iface.dns[4:8]) == DNS2
    assert addr(n.client.server) == SERVER and n.client.dns_count == 2
    n.advance(50)
    (ann,) = n.take()  # RFC 5227 announcement of the new address
    assert ann[ARP].psrc == LEASED and ann[ARP].pdst == LEASED
    s = n.stats
    assert (s["dhcp_tx_discover"], s["dhcp_rx_offer"], s["dhcp_tx_request"], s["dhcp_rx_ack"],
            s["dhcp_bound"]) == (1, 1, 1, 1, 1)


def test_lease_left_and_state_for_the_page(monkeypatch):
    n = Net(monkeypatch)
    n.bind(lease=120, t1=60, t2=100)
    c = n.client
    # the lease runs from the REQUEST (RFC 2131 4.4.1): 500 ms init + the probes ago
    req_t = 500
    assert c.lease_left_ms(n.t) == 120_000 - (n.t - req_t)
    assert (c.lease_s, c.t1_s, c.t2_s) == (120, 60, 100)
    assert c.bound() and c.state_name() == "BOUND"


def test_hostname_option_and_validation(monkeypatch):
    n = Net(monkeypatch, hostname="kitchen-board")
    n.advance(500)
    assert options(n.one_dhcp())["hostname"] == b"kitchen-board"
    for bad in ("", "a" * 64, "under_score", "dot.ted"):
        with pytest.raises(ValueError):
            n.client.set_hostname(bad)
    assert n.client.hostname() == "kitchen-board"


# -- renewing, rebinding, expiry --------------------------------------------------------


def bound(monkeypatch, lease=120, t1=10, t2=20, **cfg):
    n = Net(monkeypatch, **cfg)
    n.bind(lease=lease, t1=t1, t2=t2)
    return n


def test_renew_at_t1_is_unicast_to_the_server_with_ciaddr(monkeypatch):
    n = bound(monkeypatch)
    req_t = 500
    n.advance(req_t + 10_000 - n.t - 50)
    assert n.take() == []
    n.advance(50)
    (arp_req,) = n.take()  # the server's MAC first
    assert arp_req[ARP].pdst == SERVER and arp_req[ARP].psrc == LEASED
    n.feed(n.arp_reply_from_server())
    r = n.one_dhcp()
    assert r.dst == mac(HOST_MAC)
    assert (r[IP].src, r[IP].dst) == (LEASED, SERVER)
    assert r[BOOTP].ciaddr == LEASED and r[BOOTP].flags == 0 and r[BOOTP].xid == XID
    o = options(r)
    assert o["message-type"] == 3 and "requested_addr" not in o and "server_id" not in o
    assert n.client.state_name() == "RENEWING"
    renew_t = n.t
    n.advance(100)
    n.feed(n.reply("ack", lease=120, t1=10, t2=20, dst=LEASED))
    assert n.client.state_name() == "BOUND"
    assert n.stats["dhcp_renewed"] == 1
    assert n.client.lease_left_ms(n.t) == 120_000 - (n.t - renew_t)
    assert addr(n.iface.ip) == LEASED


def test_rebind_at_t2_is_broadcast_then_rebound(monkeypatch):
    n = bound(monkeypatch)
    n.advance(500 + 10_000 - n.t)  # T1: REQUEST (waits for ARP), server silent
    n.take()
    n.advance(9_950)
    assert n.dhcp_sent() == []  # 60 s floor: no retransmission before T2
    n.advance(50)  # T2
    r = n.one_dhcp()
    assert r.dst == "ff:ff:ff:ff:ff:ff" and r[IP].dst == "255.255.255.255"
    assert r[IP].src == LEASED and r[BOOTP].ciaddr == LEASED and r[BOOTP].flags == 0
    assert n.client.state_name() == "REBINDING"
    xid = r[BOOTP].xid
    n.feed(n.reply("ack", xid=xid, lease=120, t1=10, t2=20, dst=LEASED, server="192.0.2.9"))
    assert n.client.state_name() == "BOUND" and n.stats["dhcp_rebound"] == 1
    assert addr(n.client.server) == "192.0.2.9"  # the server that answered owns the lease now


def test_expiry_takes_the_address_down_but_keeps_socket_buffers(monkeypatch):
    n = bound(monkeypatch, lease=30, t1=10, t2=20)
    sock = n.iface.udp.socket()
    sock.bind(5000)
    n.feed(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / IP(src=SERVER, dst=LEASED)
           / UDP(sport=9, dport=5000) / b"kept across expiry")
    assert sock.pending() == 18
    n.advance(500 + 30_000 - n.t - 50)
    assert n.client.state_name() == "REBINDING" and addr(n.iface.ip) == LEASED
    n.take()
    n.advance(50)
    assert n.stats["dhcp_expired"] == 1
    assert addr(n.iface.ip) == "0.0.0.0" and addr(n.iface.gateway) == "0.0.0.0"
    d = n.one_dhcp()  # straight back to INIT: a DISCOVER, asking for the old address
    assert options(d)["message-type"] == 1 and options(d)["requested_addr"] == LEASED
    assert d[IP].src == "0.0.0.0"
    assert n.client.state_name() == "SELECTING" and n.client.lease_left_ms(n.t) == 0
    buf, src = bytearray(64), bytearray(6)
    assert sock.recv_into_from(buf, src) == 18 and bytes(buf[:18]) == b"kept across expiry"
    # without an address, only the DHCP client sends
    assert sock.sendto(b"x", 0, 1, bytes([192, 0, 2, 1]), 0, 9) is False
    assert n.stats["ip4_drop_no_addr"] == 1
    assert n.take() == []


def test_expiry_keeps_a_tcp_connection_and_its_rings(monkeypatch):
    from stack import tcp as T
    from stack.tcp import TCP

    n = bound(monkeypatch, lease=30, t1=10, t2=20)
    n.iface.tcp = TCP(n.iface, n.iface.cfg)
    lst = n.iface.tcp.listen(80, 1)
    from scapy.layers.inet import TCP as STCP

    n.feed(n.arp_request_from_server())
    n.take()  # our ARP reply

    n.feed(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / IP(src=SERVER, dst=LEASED)
           / STCP(sport=40000, dport=80, seq=1000, flags="S", window=8192))
    syn_ack = [f for f in n.take() if f.haslayer(STCP)][0]
    n.feed(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / IP(src=SERVER, dst=LEASED)
           / STCP(sport=40000, dport=80, seq=1001, ack=syn_ack[STCP].seq + 1, flags="PA",
                  window=8192) / b"GET /")
    conn = n.iface.tcp.accept(lst)
    assert conn is not None
    n.advance(500 + 30_000 - n.t)
    assert addr(n.iface.ip) == "0.0.0.0"
    n.take()
    buf = bytearray(16)
    assert conn.recv_into(buf, 0, 16) == 5 and bytes(buf[:5]) == b"GET /"
    assert conn.send(b"still here", 0, 10) == 10  # queued; the segment waits for an address
    n.advance(1000)
    assert not [f for f in n.take() if f.haslayer(STCP)]
    assert n.stats["ip4_drop_no_addr"] >= 1
    assert conn.state == T.ESTABLISHED
    # The same address comes back: the queued bytes go out on the next retransmission.
    xid = n.client._xid
    n.feed(n.reply("offer", xid=int.from_bytes(xid, "big")))
    n.feed(n.reply("ack", xid=int.from_bytes(xid, "big")))
    n.until(lambda: n.client.bound(), 10_000)
    seen = []
    n.until(lambda: seen.extend(f for f in n.take() if f.haslayer(STCP)
                                and bytes(f[STCP].payload) == b"still here") or seen, 30_000)


def test_nak_while_renewing_starts_over(monkeypatch):
    n = bound(monkeypatch)
    n.advance(500 + 10_000 - n.t)
    n.take()
    n.feed(n.reply("nak", dst=LEASED))
    assert n.stats["dhcp_rx_nak"] == 1
    assert addr(n.iface.ip) == "0.0.0.0"
    d = n.one_dhcp()
    assert options(d)["message-type"] == 1
    assert n.client.state_name() == "SELECTING"


def test_nak_from_another_server_while_requesting_is_ignored(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    n.one_dhcp()
    n.feed(n.reply("nak", server="192.0.2.9"))
    assert n.client.state_name() == "REQUESTING" and n.stats["dhcp_drop_not_ours"] == 1
    n.feed(n.reply("nak"))
    assert n.client.state_name() == "SELECTING" and n.stats["dhcp_rx_nak"] == 1


def test_requesting_gives_up_after_four_requests(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    n.advance(4000 + 8000 + 16000)
    sent = n.dhcp_sent()
    assert [options(m)["message-type"] for m in sent] == [3, 3, 3, 3]
    n.advance(32000)
    assert options(n.one_dhcp())["message-type"] == 1


def test_second_offer_is_ignored_once_requesting(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    n.one_dhcp()
    n.feed(n.reply("offer", server="192.0.2.9", yiaddr="192.0.2.77"))
    assert n.stats["dhcp_drop_unexpected"] == 1 and n.client.state_name() == "REQUESTING"
    assert addr(n.client.server) == SERVER


# -- RFC 5227 conflicts -------------------------------------------------------------------


def in_checking(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    n.one_dhcp()
    n.feed(n.reply("ack"))
    n.advance(600)
    assert n.client.state_name() == "CHECKING"
    n.take()
    return n


@pytest.mark.parametrize("kind", ["reply", "probe", "announcement"])
def test_arp_conflict_while_probing_declines_and_waits_10_s(monkeypatch, kind):
    n = in_checking(monkeypatch)
    if kind == "reply":  # someone owns the address
        a = ARP(op=2, hwsrc=OTHER_MAC, psrc=LEASED, hwdst=mac(STACK_MAC), pdst="0.0.0.0")
    elif kind == "probe":  # someone else is probing for it at the same time
        a = ARP(op=1, hwsrc=OTHER_MAC, psrc="0.0.0.0", pdst=LEASED)
    else:
        a = ARP(op=1, hwsrc=OTHER_MAC, psrc=LEASED, pdst=LEASED)
    n.feed(Ether(src=OTHER_MAC, dst="ff:ff:ff:ff:ff:ff") / a)
    d = n.one_dhcp()
    o = options(d)
    assert o["message-type"] == 4 and o["requested_addr"] == LEASED and o["server_id"] == SERVER
    assert d[IP].src == "0.0.0.0" and d[IP].dst == "255.255.255.255"
    assert d[BOOTP].ciaddr == "0.0.0.0"
    assert n.stats["dhcp_conflicts"] == 1 and n.client.state_name() == "DECLINED"
    assert addr(n.iface.ip) == "0.0.0.0"
    n.advance(9_950)
    assert n.take() == []  # no probes, no DISCOVER for 10 s (RFC 2131 3.1 step 5)
    n.advance(50)
    d = options(n.one_dhcp())
    assert d["message-type"] == 1 and "requested_addr" not in d  # not the declined one


def test_our_own_probe_echoed_back_is_not_a_conflict(monkeypatch):
    n = in_checking(monkeypatch)
    n.feed(Ether(src=mac(STACK_MAC), dst="ff:ff:ff:ff:ff:ff")
           / ARP(op=1, hwsrc=mac(STACK_MAC), psrc="0.0.0.0", pdst=LEASED))
    n.feed(Ether(src=OTHER_MAC, dst="ff:ff:ff:ff:ff:ff")
           / ARP(op=1, hwsrc=OTHER_MAC, psrc="192.0.2.77", pdst="192.0.2.78"))
    n.until(lambda: n.client.state_name() == "BOUND", 10_000)
    assert n.stats["dhcp_conflicts"] == 0


# -- INIT-REBOOT ----------------------------------------------------------------------------


def test_init_reboot_asks_for_the_last_address(monkeypatch):
    n = Net(monkeypatch, start=False)
    n.client.start("192.0.2.123")
    n.advance(50)
    r = n.one_dhcp()
    o = options(r)
    assert o["message-type"] == 3 and o["requested_addr"] == LEASED and "server_id" not in o
    assert r[BOOTP].ciaddr == "0.0.0.0" and r[IP].src == "0.0.0.0"
    assert r[IP].dst == "255.255.255.255"
    assert n.client.state_name() == "REBOOTING"
    n.feed(n.reply("ack"))
    assert n.client.state_name() == "CHECKING"
    n.until(lambda: n.client.state_name() == "BOUND", 10_000)
    assert addr(n.iface.ip) == LEASED


def test_init_reboot_nak_goes_to_init(monkeypatch):
    n = Net(monkeypatch, start=False)
    n.client.start(bytes([192, 0, 2, 200]))
    n.advance(50)
    n.one_dhcp()
    n.feed(n.reply("nak"))
    d = n.one_dhcp()
    assert options(d)["message-type"] == 1 and n.client.state_name() == "SELECTING"


def test_init_reboot_without_answer_falls_back_to_discover(monkeypatch):
    n = Net(monkeypatch, start=False)
    n.client.start("192.0.2.200")
    n.advance(50)
    n.advance(4000 + 8000 + 16000)
    types = [options(m)["message-type"] for m in n.dhcp_sent()]
    assert types == [3, 3, 3, 1]


def test_reboot_while_bound_resumes_the_lease_when_nobody_answers(monkeypatch):
    n = bound(monkeypatch, lease=600, t1=300, t2=500)
    n.client.reboot()  # e.g. the link came back: verify the address (RFC 2131 3.2)
    n.advance(50)
    assert addr(n.iface.ip) == "0.0.0.0" and n.client.state_name() == "REBOOTING"
    r = n.one_dhcp()
    assert options(r)["requested_addr"] == LEASED
    n.advance(4000 + 8000 + 16000)
    assert n.client.state_name() == "BOUND" and addr(n.iface.ip) == LEASED
    assert 500_000 < n.client.lease_left_ms(n.t) < 600_000


# -- stop, release, caps -----------------------------------------------------------------------


def test_stop_with_release(monkeypatch):
    n = bound(monkeypatch)
    n.feed(n.arp_request_from_server())
    n.take()
    n.client.stop(release=True)
    r = n.one_dhcp()
    assert options(r)["message-type"] == 7 and options(r)["server_id"] == SERVER
    assert r[IP].dst == SERVER and r[BOOTP].ciaddr == LEASED
    assert addr(n.iface.ip) == "0.0.0.0" and n.client.state_name() == "STOPPED"
    n.advance(100_000, 1000)
    assert n.take() == []
    assert n.iface.poll_at(n.t) >= 0


def test_infinite_lease_saturates_and_never_expires_in_small_ints(monkeypatch):
    from stack.wire import dhcp4

    n = bound(monkeypatch, lease=0xFFFFFFFF, t1=None, t2=None)
    c = n.client
    assert c.lease_s == dhcp4.U32_MAX and c.t1_s == dhcp4.U32_MAX // 2
    assert c.t2_s == dhcp4.U32_MAX - dhcp4.U32_MAX // 8
    assert n.iface.poll_at(n.t) <= 3_600_000


def test_t1_t2_default_to_half_and_seven_eighths_when_absent_or_inconsistent(monkeypatch):
    n = bound(monkeypatch, lease=800, t1=None, t2=None)
    assert (n.client.t1_s, n.client.t2_s) == (400, 700)
    n = bound(monkeypatch, lease=800, t1=600, t2=500)
    assert (n.client.t1_s, n.client.t2_s) == (400, 700)


def test_lease_max_caps_the_lease_and_keeps_t1_t2_inside(monkeypatch):
    n = bound(monkeypatch, lease=120, t1=4, t2=8, dhcp_lease_max_s=20)
    assert (n.client.lease_s, n.client.t1_s, n.client.t2_s) == (20, 4, 8)
    n = bound(monkeypatch, lease=120, t1=60, t2=105, dhcp_lease_max_s=20)
    assert (n.client.lease_s, n.client.t1_s, n.client.t2_s) == (20, 10, 18)


def test_missing_subnet_option_takes_the_class_mask_and_no_router_no_gateway(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    n.one_dhcp()
    n.feed(n.reply("ack", options=[("message-type", "ack"), ("server_id", SERVER),
                                   ("lease_time", 300), "end"]))
    n.until(lambda: n.client.bound(), 10_000)
    assert addr(n.iface.netmask) == "255.255.255.0" and addr(n.iface.gateway) == "0.0.0.0"
    assert n.client.dns_count == 0 and addr(n.iface.dns[0:4]) == "0.0.0.0"


def test_options_in_an_overloaded_file_field_are_read(monkeypatch):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    n.feed(n.reply("offer"))
    n.one_dhcp()
    # option 52 = 1: lease and T1 live in the `file` field
    file_opts = bytes([51, 4, 0, 0, 2, 88, 58, 4, 0, 0, 0, 77, 255])
    b = BOOTP(op=2, xid=XID, yiaddr=LEASED, chaddr=STACK_MAC + bytes(10),
              file=file_opts + bytes(128 - len(file_opts)))
    n.feed(n.reply("ack", bootp=b, options=[("message-type", "ack"), ("server_id", SERVER),
                                            (52, b"\x01"), "end"]))
    assert n.client.state_name() == "CHECKING"
    assert (n.client.lease_s, n.client.t1_s) == (600, 77)


# -- the interface without an address ---------------------------------------------------------


def test_unconfigured_interface_drops_unicast_to_zero_and_does_not_answer_arp(monkeypatch):
    n = Net(monkeypatch, start=False)
    n.feed(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / IP(src=SERVER, dst="0.0.0.0")
           / UDP(sport=9, dport=68) / b"x")
    assert n.stats["ip4_drop_not_ours"] == 1
    n.feed(Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff")
           / ARP(op=1, hwsrc=mac(HOST_MAC), psrc=SERVER, pdst="0.0.0.0"))
    assert n.take() == []
