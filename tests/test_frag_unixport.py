"""The reassembly, fragmented echo reply, ICMP error and source check paths
inside the real MicroPython unix port, under micropython.heap_lock(): any
allocation raises MemoryError and fails the run (tests/frag_mp_steady.py)."""

import os

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.l2 import ARP, Ether

from mp import MICROPYTHON, run_mp

HOST = "192.0.2.1"
STACK = "192.0.2.2"
HOST_MAC = "02:aa:bb:cc:dd:01"
STACK_MAC = "02:00:00:00:00:02"
ROUNDS = 60
WARM = 2


def _frames():
    e = Ether(src=HOST_MAC, dst=STACK_MAC)
    learn = Ether(src=HOST_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=HOST_MAC, psrc=HOST, pdst=STACK)
    ping = IP(src=HOST, dst=STACK, id=99) / ICMP(type=8, id=1, seq=2) / bytes(
        (i * 5) & 0xFF for i in range(2972))
    frs = [e / f for f in fragment(ping, fragsize=1480)]
    frs.reverse()
    closed = e / IP(src=HOST, dst=STACK) / UDP(sport=5, dport=4444) / b"closed"
    land = e / IP(src=STACK, dst=STACK) / TCP(sport=80, dport=80, flags="S")
    ours = IP(src=STACK, dst=HOST) / UDP(sport=5000, dport=53) / b"12345678"
    err = e / IP(src=HOST, dst=STACK) / ICMP(type=3, code=3) / bytes(ours)[:28]
    return [learn] + frs + [closed, land, err], ping


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_fragments_and_icmp_errors_allocate_nothing_in_unix_port(tmp_path):
    frames, ping = _frames()
    path = tmp_path / "frames.hex"
    path.write_text("\n".join(bytes(f).hex() for f in frames))
    p = run_mp("frag_mp_steady.py", str(path), str(ROUNDS), str(WARM), heapsize="1024wK",
               timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    ok = [x for x in p.stdout.splitlines() if x.startswith("OK")][0]
    vals = dict(kv.split("=") for kv in ok.split()[1:])
    assert int(vals["locked"]) == ROUNDS - WARM
    assert int(vals["reasm"]) == ROUNDS and int(vals["echo_frag"]) == ROUNDS
    assert int(vals["unreach"]) == ROUNDS and int(vals["land"]) == ROUNDS
    assert int(vals["rx_port_unreach"]) == ROUNDS
    # gratuitous ARP + ARP reply, then per round 3 reply fragments + 1 port unreachable
    assert int(vals["sent"]) == 2 + 4 * ROUNDS
    sent = [Ether(bytes.fromhex(x.split()[1])) for x in p.stdout.splitlines()
            if x.startswith("SENT")]
    last4 = sent[-4:]
    assert [f[IP].frag for f in last4[:3]] == [0, 185, 370]
    data = b"".join(bytes(f[IP].payload) for f in last4[:3])
    reply = ICMP(data)
    assert reply.type == 0 and bytes(reply.payload) == bytes(ping[ICMP].payload)
    assert last4[3][ICMP].type == 3 and last4[3][ICMP].code == 3
