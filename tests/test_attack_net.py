"""Link- and network-layer attacks from crafted frames against the firmware
on sim_w5500 (tests/attack_mp.py), each while Linux moves 300 KB each way
to the sink/source services, which must end exact; after each the stack is
alive and its heap within 1 KB of its baseline (tests/attack_kit.py).

A flood of 10,000 spoofed SYNs (then a new connection within 1 s), LAND
(no frame in answer), an ARP request flood (the cache stays bounded, the
real peer in it), unsolicited ARP replies (not cached), fragment floods
(slots recycled, a real fragmented ping still answered) and overlaps (the
datagram dropped), IP options (ignored, the packet served), oversized and
undersized ICMP (counted drops; no answer to what cannot be reassembled)."""

import time

from attack_kit import (  # noqa: F401 (fixtures)
    HOST,
    ICMP,
    IP,
    STACK,
    TCP,
    UDP,
    ARP,
    Ether,
    _reset_peers,
    connected_echo,
    echo_round,
    legit,
    mac_text,
    peer,
    t,
)
from scapy.all import fragment, sendp
from scapy.layers.inet import IPOption_RR

from host_tools.netns import InNetns
from mp_firmware import TAP

SPOOFED = ["192.0.2.%d" % (100 + i % 100) for i in range(100)]  # 192.0.2.100-199 only
# the SYN flood's sources: addresses nobody on the link answers ARP for
# (the warm-up in attack_kit resolves 192.0.2.100-119)
SYN_SOURCES = ["192.0.2.%d" % (120 + i % 80) for i in range(80)]


def spoofed_mac(i):
    return "02:00:00:00:%02x:%02x" % ((i >> 8) & 0xFF, i & 0xFF)


def send_all(t, frames):
    """The frames onto the TAP in one sendp call (scapy), inside the namespace."""
    t0 = time.monotonic()
    with InNetns(t.netns):
        sendp(frames, iface=TAP, verbose=False)
    return time.monotonic() - t0


def test_syn_flood_of_10000_then_a_new_connection_within_1_s(t, legit):
    before = t.counters()
    e = t.eth()
    frames = [e / IP(src=SYN_SOURCES[i % 80], dst=STACK)
              / TCP(sport=1024 + i % 60000, dport=(80, 9)[i % 2], flags="S", seq=i * 7919)
              for i in range(10_000)]
    took = send_all(t, frames)
    t0 = time.monotonic()
    r = t.run("curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
              "http://%s/" % STACK)
    connect_s = time.monotonic() - t0
    after = t.counters()
    print("10,000 SYNs sent in %.1f s; then the page in %.2f s; recycled %d, backlog drops %d,"
          " rx %d" % (took, connect_s, after["tcp_syn_recycled"] - before["tcp_syn_recycled"],
                      after["tcp_drop_backlog"] - before["tcp_drop_backlog"],
                      after["rx_frames"] - before["rx_frames"]))
    assert r.stdout == b"200"
    assert connect_s < 1.0
    assert after["tcp_syn_recycled"] + after["tcp_drop_backlog"] > \
        before["tcp_syn_recycled"] + before["tcp_drop_backlog"]


def test_land_syn_draws_no_frame(t, legit):
    before = t.counters()
    m = t.link.mark()
    t.link.send(bytes(t.eth() / IP(src=STACK, dst=STACK) / TCP(sport=80, dport=80, flags="S",
                                                               seq=1)))
    time.sleep(1.0)
    about_self = [f for f in t.link.since(m)
                  if (f[12:14] == b"\x08\x06" and f[38:42] == bytes([192, 0, 2, 2]))
                  or (f[12:14] == b"\x08\x00" and f[30:34] == bytes([192, 0, 2, 2]))]
    assert about_self == []
    assert t.counters()["ip4_drop_src_self"] == before["ip4_drop_src_self"] + 1


def test_arp_flood_keeps_the_cache_bounded_and_the_peer_in_it(t, legit):
    before = t.counters()
    frames = [Ether(src=spoofed_mac(i), dst="ff:ff:ff:ff:ff:ff")
              / ARP(op=1, hwsrc=spoofed_mac(i), psrc=SPOOFED[i % 100], pdst=STACK)
              for i in range(2000)]
    send_all(t, frames)
    entries = t.arp()
    after = t.counters()
    print("ARP flood: %d requests taken, cache %s" % (after["arp_rx"] - before["arp_rx"],
                                                    entries))
    assert len(entries) <= 8
    assert "%s/resolved" % HOST in entries  # the real peer of the live transfer
    assert after["arp_rx"] - before["arp_rx"] > 1000


def test_unsolicited_arp_replies_are_not_cached(t, legit):
    before = t.counters()
    # senders 192.0.2.200-249: nobody asked about them
    frames = [t.eth(bytes.fromhex(spoofed_mac(i).replace(":", "")))
              / ARP(op=2, hwsrc=spoofed_mac(i), psrc="192.0.2.%d" % (200 + i % 50),
                    hwdst=mac_text(t.stack_mac), pdst=STACK)
              for i in range(200)]
    send_all(t, frames)
    entries = t.arp()
    assert not [e for e in entries if int(e.split("/")[0].rsplit(".", 1)[1]) >= 200], entries
    assert t.counters()["arp_drop_unsolicited"] >= before["arp_drop_unsolicited"] + 200


def _udp_frags(t, ident, payload, src=HOST, size=1000, sport=4000):
    pkt = IP(src=src, dst=STACK, id=ident) / UDP(sport=sport, dport=7) / payload
    return [t.eth() / f for f in fragment(pkt, fragsize=size)]


def test_fragment_flood_then_a_fragmented_ping_is_answered(t, legit):
    before = t.counters()
    frames = [t.eth() / IP(src=SPOOFED[i % 100], dst=STACK, id=i, flags="MF", proto=17)
              / (b"f" * 1000) for i in range(2000)]
    send_all(t, frames)
    r = t.run("ping", "-c", "1", "-s", "2972", "-M", "dont", "-W", "3", STACK)
    after = t.counters()
    assert r.returncode == 0, r.stdout
    assert after["ip4_reasm_drop_evicted"] - before["ip4_reasm_drop_evicted"] > 1000


def test_overlapping_fragments_with_other_data_drop_the_datagram(t, legit):
    import socket

    with InNetns(t.netns):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((HOST, 4001))
    u.settimeout(1.5)
    try:
        before = t.counters()
        data = bytes(range(250)) * 6  # 1,500 bytes of UDP data: fragments of 1,000 + 508
        fr = _udp_frags(t, 31337, data, sport=4001)
        # the last fragment again, 8 bytes earlier (over fragment 0's tail), other data
        bad = t.eth() / IP(src=HOST, dst=STACK, id=31337, proto=17,
                           frag=fr[1][IP].frag - 1) / (b"\xee" * 508)
        send_all(t, [fr[0], bad, fr[1]])
        try:
            got = u.recv(65535)
        except OSError:
            got = None
        after = t.counters()
        assert got is None  # dropped whole, never delivered with either data
        assert after["ip4_reasm_drop_overlap"] == before["ip4_reasm_drop_overlap"] + 1
        # the same datagram, clean, is echoed whole
        send_all(t, _udp_frags(t, 31338, data, sport=4001))
        assert u.recv(65535) == data
    finally:
        u.close()


def test_ip_options_are_ignored_and_the_packet_served(t, legit):
    before = t.counters()
    r = t.run("ping", "-c", "2", "-i", "0.2", "-R", "-W", "2", STACK)  # record route
    assert r.returncode == 0, r.stdout
    p = peer(t, "192.0.2.63")
    p.dport = 7
    m = t.link.mark()
    p.send("S", ip_opts=[IPOption_RR()], options=[("MSS", 1460)])
    f = t.link.wait(m, lambda f: p.mine(f), 3)
    assert f is not None and Ether(f)[TCP].flags == "SA"
    p.reset()
    assert t.counters()["ip4_options_ignored"] >= before["ip4_options_ignored"] + 3


def test_undersized_and_oversized_icmp_are_counted_drops(t, legit):
    before = t.counters()
    m = t.link.mark()
    e = t.eth()
    short = e / IP(src=HOST, dst=STACK, proto=1) / b"\x08\x00\xf7"  # 3 bytes of ICMP
    bad_sum = e / IP(src=HOST, dst=STACK) / ICMP(type=8, chksum=0x1234) / b"x"
    big = IP(src=HOST, dst=STACK, id=4242) / ICMP(type=8, id=9, seq=1) / (b"o" * 65000)
    send_all(t, [short, bad_sum] + [e / f for f in fragment(big, fragsize=1480)])
    time.sleep(0.5)
    after = t.counters()
    replies = [f for f in t.link.since(m)
               if f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0]
    assert replies == []
    assert after["icmp_drop_short"] == before["icmp_drop_short"] + 1
    assert after["icmp_drop_csum"] == before["icmp_drop_csum"] + 1
    assert after["ip4_reasm_drop_too_big"] >= before["ip4_reasm_drop_too_big"] + 1
    # the largest echo that fits one frame is answered
    assert t.run("ping", "-c", "1", "-s", "1472", "-W", "2", STACK).returncode == 0
