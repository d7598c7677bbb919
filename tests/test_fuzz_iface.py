"""Hostile input never raises out of poll(): valid frames of every protocol
(TCP included, with a listener and an open connection), mutated at random,
truncated, with checksums sometimes repaired so the damage reaches the deeper
parsers. Afterwards the stack still answers a ping (CPython, plain twins)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, make_iface

HOST = "192.0.2.1"
STACK = "192.0.2.2"
H = ":".join("%02x" % b for b in HOST_MAC)
S = ":".join("%02x" % b for b in STACK_MAC)


def seeds():
    e = Ether(src=H, dst=S)
    return [
        bytes(Ether(src=H, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=H, psrc=HOST, pdst=STACK)),
        bytes(e / IP(src=HOST, dst=STACK) / ICMP(type=8) / (b"p" * 32)),
        bytes(e / IP(src=HOST, dst=STACK) / UDP(sport=1000, dport=7) / b"udp"),
        bytes(e / IP(src=HOST, dst=STACK) / TCP(sport=40000, dport=80, flags="S", seq=1000,
                                                options=[("MSS", 1460), ("NOP", None),
                                                         ("WScale", 7), ("SAckOK", b"")])),
        bytes(e / IP(src=HOST, dst=STACK) / TCP(sport=40000, dport=80, flags="A", seq=1001,
                                                ack=1) / (b"d" * 100)),
        bytes(e / IP(src=HOST, dst=STACK) / TCP(sport=40000, dport=80, flags="R", seq=1001)),
        bytes(e / IP(src=HOST, dst=STACK) / TCP(sport=40000, dport=81, flags="FA", seq=5)),
    ]


SEEDS = seeds()


def repair(frame):
    """Recompute IP and L4 checksums of a (possibly damaged) frame when scapy can."""
    try:
        p = Ether(frame)
        if IP in p:
            del p[IP].chksum
            for layer in (TCP, UDP, ICMP):
                if layer in p:
                    del p[layer].chksum
        return bytes(p)
    except Exception:
        return frame


mutation = st.tuples(
    st.integers(0, len(SEEDS) - 1),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
    st.one_of(st.none(), st.integers(0, 200)),
    st.booleans(),
)


def _stack():
    from stack.tcp import TCP as Engine

    iface, drv = make_iface()
    Engine(iface, iface.cfg)
    lst = iface.tcp.listen(80, 2)
    return iface, drv, lst


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=8))
def test_mutated_frames_never_raise_out_of_poll(muts):
    iface, drv, lst = _stack()
    now = 1
    delivered = 0
    for seed, flips, cut, fix in muts:
        f = bytearray(SEEDS[seed])
        for pos, val in flips:
            if pos < len(f):
                f[pos] = val
        if cut is not None:
            f = f[:cut]
        frame = repair(bytes(f)) if fix else bytes(f)
        drv.rx.append(frame)
        delivered += len(frame) > 0  # an empty read means "no frame" to the stack
        now += 7
        iface.poll(now)  # must not raise
        iface.tcp.accept(lst)
    assert iface.stats["rx_frames"] == delivered
    # still alive: a clean ping is answered
    drv.sent.clear()
    drv.rx.append(SEEDS[0])
    drv.rx.append(SEEDS[1])
    iface.poll(now + 10)
    assert any(Ether(f).haslayer(ICMP) and Ether(f)[ICMP].type == 0 for f in drv.sent)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=1600))
def test_random_bytes_never_raise_out_of_poll(data):
    iface, drv, _ = _stack()
    drv.rx.append(STACK_MAC + data)  # addressed to us: reaches the parsers
    iface.poll(1)
    drv.rx.append(data)
    iface.poll(2)


def test_unmutated_seeds_reach_every_protocol():
    # The fuzzing above only means something if the seeds get past the checks.
    iface, drv, lst = _stack()
    for i, f in enumerate(SEEDS):
        drv.rx.append(f)
        iface.poll(1 + i)
    kinds = [Ether(f) for f in drv.sent]
    assert any(ARP in k and k[ARP].op == 2 for k in kinds)
    assert any(ICMP in k and k[ICMP].type == 0 for k in kinds)
    assert any(UDP in k and k[UDP].sport == 7 for k in kinds) or iface.stats["udp_drop_no_port"]
    assert any(TCP in k and k[TCP].flags == "SA" for k in kinds)
    assert any(TCP in k and "R" in str(k[TCP].flags) and k[TCP].sport == 81 for k in kinds)
