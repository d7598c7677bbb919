"""Every kind of malformed or foreign DHCP message is dropped and counted, the
client's state does not move, nothing is sent and poll() never raises; the
good message after them still works."""

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from fakes import HOST_MAC, STACK_MAC
from test_dhcp_helpers import LEASED, SERVER, XID, Net, mac

COOKIE = 236
OPTS = 240


def payload(mtype, opts=None, yiaddr=LEASED, xid=XID, chaddr=STACK_MAC, **bootp):
    if opts is None:
        opts = [("message-type", mtype), ("server_id", SERVER), ("lease_time", 120),
                ("subnet_mask", "255.255.255.0"), ("router", SERVER), "end"]
    return bytearray(bytes(BOOTP(op=2, xid=xid, yiaddr=yiaddr, chaddr=chaddr + bytes(10),
                                 **bootp) / DHCP(options=opts)))


def raw_options(body):
    """A message whose option area is exactly `body` (after the cookie)."""
    p = payload("offer")
    return p[:OPTS] + bytearray(body)


def frame(p, sport=67):
    return (Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff")
            / IP(src=SERVER, dst="255.255.255.255") / UDP(sport=sport, dport=68) / Raw(bytes(p)))


def mutate(p, off, value):
    p[off] = value
    return p


SID = [54, 4, 192, 0, 2, 1]

# (name, state to be in, payload, counter)
CASES = [
    ("short", "SELECTING", payload("offer")[:239], "dhcp_drop_short"),
    ("htype", "SELECTING", mutate(payload("offer"), 1, 6), "dhcp_drop_format"),
    ("hlen", "SELECTING", mutate(payload("offer"), 2, 16), "dhcp_drop_format"),
    ("cookie", "SELECTING", mutate(payload("offer"), COOKIE + 3, 0), "dhcp_drop_format"),
    ("op_request", "SELECTING", mutate(payload("offer"), 0, 1), "dhcp_drop_format"),
    ("length_past_end", "SELECTING", raw_options([53, 1, 2] + SID[:5]), "dhcp_drop_options"),
    ("length_past_end_before_end", "SELECTING",
     raw_options([53, 1, 2, 54, 40, 192, 0, 2, 1, 255]), "dhcp_drop_options"),
    ("truncated_code", "SELECTING", raw_options([53, 1, 2] + SID + [51]), "dhcp_drop_options"),
    ("bad_overload_value", "SELECTING", raw_options([53, 1, 2] + SID + [52, 1, 7, 255]),
     "dhcp_drop_options"),
    ("bad_overload_length", "SELECTING", raw_options([53, 1, 2] + SID + [52, 2, 1, 1, 255]),
     "dhcp_drop_options"),
    ("overloaded_file_broken", "SELECTING",
     payload("offer", file=bytes([51, 200]) + bytes(126),
             opts=[("message-type", "offer"), ("server_id", SERVER), (52, b"\x01"), "end"]),
     "dhcp_drop_options"),
    ("no_message_type", "SELECTING", raw_options(SID + [255]), "dhcp_drop_options"),
    ("message_type_length", "SELECTING", raw_options([53, 2, 2, 2] + SID + [255]),
     "dhcp_drop_options"),
    ("server_id_length", "SELECTING", raw_options([53, 1, 2, 54, 3, 192, 0, 2, 255]),
     "dhcp_drop_options"),
    ("offer_without_server_id", "SELECTING", raw_options([53, 1, 2, 255]), "dhcp_drop_options"),
    ("ack_without_lease", "REQUESTING", raw_options([53, 1, 5] + SID + [255]),
     "dhcp_drop_options"),
    ("ack_subnet_length", "REQUESTING",
     raw_options([53, 1, 5] + SID + [51, 4, 0, 0, 0, 120, 1, 3, 255, 255, 255, 255]),
     "dhcp_drop_options"),
    ("ack_router_length", "REQUESTING",
     raw_options([53, 1, 5] + SID + [51, 4, 0, 0, 0, 120, 3, 6, 1, 2, 3, 4, 5, 6, 255]),
     "dhcp_drop_options"),
    ("ack_dns_length", "REQUESTING",
     raw_options([53, 1, 5] + SID + [51, 4, 0, 0, 0, 120, 6, 5, 1, 2, 3, 4, 5, 255]),
     "dhcp_drop_options"),
    ("ack_lease_length", "REQUESTING",
     raw_options([53, 1, 5] + SID + [51, 2, 0, 120, 255]), "dhcp_drop_options"),
    ("ack_t1_length", "REQUESTING",
     raw_options([53, 1, 5] + SID + [51, 4, 0, 0, 0, 120, 58, 2, 0, 60, 255]),
     "dhcp_drop_options"),
    ("offer_zero_address", "SELECTING", payload("offer", yiaddr="0.0.0.0"), "dhcp_drop_bad_addr"),
    ("offer_broadcast_address", "SELECTING", payload("offer", yiaddr="255.255.255.255"),
     "dhcp_drop_bad_addr"),
    ("offer_loopback_address", "SELECTING", payload("offer", yiaddr="127.0.0.1"),
     "dhcp_drop_bad_addr"),
    ("ack_multicast_address", "REQUESTING", payload("ack", yiaddr="224.0.0.1"),
     "dhcp_drop_bad_addr"),
    ("other_xid", "SELECTING", payload("offer", xid=XID ^ 1), "dhcp_drop_not_ours"),
    ("other_chaddr", "SELECTING", payload("offer", chaddr=bytes(6)), "dhcp_drop_not_ours"),
    ("ack_from_another_server", "REQUESTING",
     payload("ack", opts=[("message-type", "ack"), ("server_id", "192.0.2.9"),
                          ("lease_time", 120), "end"]), "dhcp_drop_not_ours"),
    ("ack_while_selecting", "SELECTING", payload("ack"), "dhcp_drop_unexpected"),
    ("offer_while_requesting", "REQUESTING", payload("offer"), "dhcp_drop_unexpected"),
    ("too_big", "SELECTING", payload("offer") + bytearray(400), "dhcp_drop_too_big"),
]


def in_state(monkeypatch, state):
    n = Net(monkeypatch)
    n.advance(500)
    n.one_dhcp()
    if state == "REQUESTING":
        n.feed(n.reply("offer"))
        n.one_dhcp()
    assert n.client.state_name() == state
    return n


@pytest.mark.parametrize("name,state,p,counter", CASES, ids=[c[0] for c in CASES])
def test_malformed_message_is_dropped_and_counted(monkeypatch, name, state, p, counter):
    n = in_state(monkeypatch, state)
    before = dict(n.stats)
    n.feed(frame(p))
    assert n.stats[counter] == before[counter] + 1
    changed = {k for k in n.stats if n.stats[k] != before[k]}
    assert changed <= {counter, "rx_frames", "ip4_rx", "udp_rx"}, changed
    assert n.client.state_name() == state
    assert n.take() == []
    # the real message still gets through afterwards
    n.feed(n.reply("offer" if state == "SELECTING" else "ack"))
    assert n.client.state_name() == ("REQUESTING" if state == "SELECTING" else "CHECKING")


def test_message_from_a_port_other_than_67_is_dropped(monkeypatch):
    n = in_state(monkeypatch, "SELECTING")
    n.feed(frame(payload("offer"), sport=68))
    assert n.stats["dhcp_drop_port"] == 1 and n.client.state_name() == "SELECTING"


def test_random_bytes_never_raise(monkeypatch):
    import random

    rnd = random.Random(9)
    n = in_state(monkeypatch, "SELECTING")
    good = payload("offer")
    for _ in range(2000):
        p = bytearray(good)
        for _ in range(rnd.randrange(1, 8)):
            p[rnd.randrange(OPTS - 8, len(p))] = rnd.randrange(256)
        p = p[: rnd.randrange(OPTS - 4, len(p) + 1)]
        n.feed(frame(p))
        n.take()
        if n.client.state_name() != "SELECTING":  # a mutation that is still valid
            n = in_state(monkeypatch, "SELECTING")
