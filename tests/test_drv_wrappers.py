"""Driver wrappers users keep (stack/drivers/pcap.py, fault.py), on CPython:
the pcap file reads back in scapy and tshark frame for frame; the fault
injector is repeatable from its seed and does what each knob says."""

import io
import shutil
import subprocess

import pytest
from scapy.utils import rdpcap

from fakes import FakeDriver, make_iface
from stack.drivers import fault as fault_mod
from stack.drivers.fault import FaultDriver
from stack.drivers.pcap import PcapDriver


def frame(i, n=60):
    return bytes([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]) + bytes(
        (i + k) & 0xFF for k in range(n - 14))


def drive(drv, inner, frames):
    """Feed frames in; return what the stack side read."""
    inner.rx.extend(frames)
    buf = bytearray(1600)
    got = []
    while True:
        n = drv.recv_into(buf)
        if n <= 0:
            return got
        got.append(bytes(buf[:n]))


def test_pcap_records_both_ways_and_reads_back_in_scapy():
    inner = FakeDriver()
    out = io.BytesIO()
    clock = iter(range(1000, 100000, 1250))
    drv = PcapDriver(inner, out, clock=lambda: next(clock))
    rx = [frame(i, 60 + i) for i in range(3)]
    assert drive(drv, inner, rx) == rx
    tx = frame(9, 1514)
    assert drv.send(bytearray(tx), len(tx))
    pkts = rdpcap(io.BytesIO(out.getvalue()))
    assert [bytes(p) for p in pkts] == rx + [tx]
    assert [float(p.time) for p in pkts] == [1.0, 2.25, 3.5, 4.75]
    assert inner.stats["pcap_frames"] == 4


def test_pcap_write_failure_is_counted_not_raised():
    class Full:
        def __init__(self):
            self.ok = 1

        def write(self, b):
            if self.ok:
                self.ok -= 1
                return len(b)
            raise OSError(28)  # ENOSPC

    inner = FakeDriver()
    drv = PcapDriver(inner, Full())
    assert drive(drv, inner, [frame(1)]) == [frame(1)]
    assert inner.stats["pcap_errors"] == 1 and inner.stats["pcap_frames"] == 0


@pytest.mark.skipif(not shutil.which("tshark"), reason="tshark not installed "
                    "(host_tools/bootstrap.sh installs it)")
def test_pcap_file_of_a_stack_session_counts_right_in_tshark(tmp_path):
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP, Ether

    path = str(tmp_path / "s.pcap")
    inner = FakeDriver()
    from stack.config import Config
    from stack.iface import Interface

    drv = PcapDriver(inner, path)
    iface = Interface(drv, Config())
    host = "02:aa:bb:cc:dd:01"
    inner.rx.append(bytes(Ether(src=host, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=host, psrc="192.0.2.1", pdst="192.0.2.2")))
    for i in range(5):
        inner.rx.append(bytes(Ether(src=host, dst="02:00:00:00:00:02") / IP(
            src="192.0.2.1", dst="192.0.2.2") / ICMP(type=8, seq=i) / b"pcap test"))
    iface.poll(1)
    drv.close()
    r = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.protocols"],
                       capture_output=True, text=True, timeout=60)
    lines = r.stdout.split()
    # gratuitous ARP + request + reply, 5 echo requests + 5 replies
    assert sum(1 for x in lines if x.endswith("arp")) == 3
    assert sum(1 for x in lines if x.endswith("icmp:data")) == 10
    assert len(lines) == 13, r.stdout + r.stderr


def run_faults(n=4000, **kw):
    inner = FakeDriver()
    drv = FaultDriver(inner, **kw)
    got = drive(drv, inner, [frame(i) for i in range(n)])
    return inner, got


def test_same_seed_same_faults_other_seed_other_faults():
    a = run_faults(seed=5, drop=0.1, duplicate=0.05, corrupt=0.02)[1]
    b = run_faults(seed=5, drop=0.1, duplicate=0.05, corrupt=0.02)[1]
    c = run_faults(seed=6, drop=0.1, duplicate=0.05, corrupt=0.02)[1]
    assert a == b and a != c


def test_each_probability_is_about_right():
    inner, got = run_faults(n=20000, seed=11, drop=0.1)
    assert 1800 <= inner.stats["fault_drop"] <= 2200 and len(got) == 20000 - inner.stats[
        "fault_drop"]
    inner, got = run_faults(n=20000, seed=12, duplicate=0.05)
    assert 800 <= inner.stats["fault_duplicate"] <= 1200
    assert len(got) == 20000 + inner.stats["fault_duplicate"]
    inner, got = run_faults(n=4000, seed=13, corrupt=0.25)
    want = [frame(i) for i in range(4000)]
    bad = [(g, w) for g, w in zip(got, want) if g != w]
    assert len(bad) == inner.stats["fault_corrupt"] and 850 <= len(bad) <= 1150
    for g, w in bad:  # exactly one bit flipped
        assert sum(bin(x ^ y).count("1") for x, y in zip(g, w)) == 1
    inner, got = run_faults(n=100, seed=1)
    assert got == [frame(i) for i in range(100)]  # all off: a plain wire


def test_delay_reorders_and_releases_after_delay_ms(monkeypatch):
    now = [0]
    monkeypatch.setattr(fault_mod, "ticks_ms", lambda: now[0])
    inner = FakeDriver()
    drv = FaultDriver(inner, seed=3, delay=0.5, delay_ms=30, slots=64)
    got = drive(drv, inner, [frame(i) for i in range(40)])
    held = inner.stats["fault_delay"]
    assert 10 <= held <= 30 and len(got) == 40 - held
    now[0] = 29
    assert drive(drv, inner, []) == []
    now[0] = 30
    late = drive(drv, inner, [])
    assert len(late) == held
    assert sorted(got + late) == sorted(frame(i) for i in range(40))
    assert got + late != [frame(i) for i in range(40)]  # reordered
    # on the send side too
    out = []
    inner.send = lambda b, n: out.append(bytes(b[:n])) or True
    for i in range(20):
        drv.send(bytearray(frame(i)), 60)
    first = len(out)
    now[0] = 100
    drv.send(bytearray(frame(99)), 60)
    assert first < 20 and len(out) == 21


def test_rate_limit_drops_beyond_the_bucket(monkeypatch):
    now = [0]
    monkeypatch.setattr(fault_mod, "ticks_ms", lambda: now[0])
    inner = FakeDriver()
    drv = FaultDriver(inner, rate_bytes_per_s=60_000)  # 60 B/ms: 6,000 B of burst
    got = drive(drv, inner, [frame(i, 1000) for i in range(10)])
    assert len(got) == 6 and inner.stats["fault_rate_drop"] == 4
    now[0] = 50  # 3,000 bytes more
    got = drive(drv, inner, [frame(i, 1000) for i in range(10)])
    assert len(got) == 3
    with pytest.raises(ValueError):
        FaultDriver(inner, rate_bytes_per_s=10)
    with pytest.raises(ValueError):
        FaultDriver(inner, drop=1.5)


def test_stack_keeps_answering_through_a_faulty_driver():
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP, Ether

    iface, inner = make_iface()
    host = "02:aa:bb:cc:dd:01"
    inner.rx.append(bytes(Ether(src=host, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=host, psrc="192.0.2.1", pdst="192.0.2.2")))
    iface.poll(0)
    inner.sent.clear()
    iface.driver = FaultDriver(inner, seed=9, drop=0.2, corrupt=0.2, duplicate=0.2)
    for i in range(300):
        inner.rx.append(bytes(Ether(src=host, dst="02:00:00:00:00:02") / IP(
            src="192.0.2.1", dst="192.0.2.2") / ICMP(type=8, seq=i) / b"through faults"))
        iface.poll(i)
    replies = [Ether(f) for f in inner.sent if ICMP in Ether(f)]
    assert 100 < len(replies) < 300
    assert inner.stats["fault_corrupt"] > 0 and iface.stats["ip4_drop_csum"] + iface.stats[
        "icmp_drop_csum"] + iface.stats["eth_drop_not_ours"] > 0
