"""The pcap and fault wrappers in the real MicroPython unix port: frames both
ways under micropython.heap_lock(), and the same seed gives the same faults
as on CPython (tests/wrappers_mp.py runs on both)."""

import os
import runpy
import sys

import pytest
from scapy.utils import rdpcap

from mp import MICROPYTHON, ROOT, run_mp

COUNT = 3000


def parse(out):
    ok = [x for x in out.splitlines() if x.startswith("OK")][0]
    return {k: int(v) for k, v in (kv.split("=") for kv in ok.split()[1:])}


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_wrappers_allocate_nothing_and_repeat_on_both_vms(tmp_path, capsys, monkeypatch):
    mp_pcap = str(tmp_path / "mp.pcap")
    p = run_mp("wrappers_mp.py", str(COUNT), mp_pcap, heapsize="512wK", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    on_mp = parse(p.stdout)
    cp_pcap = str(tmp_path / "cp.pcap")
    monkeypatch.setattr(sys, "argv", ["wrappers_mp.py", str(COUNT), cp_pcap])
    runpy.run_path(str(ROOT / "tests" / "wrappers_mp.py"))
    on_cp = parse(capsys.readouterr().out)
    assert on_mp == on_cp
    # 10 % of ~3,000 received and ~2,700 sent frames
    assert 400 < on_mp["drop"] < 750 and on_mp["dup"] > 100 and on_mp["corrupt"] > 100
    # the capture (outside the faults) has every frame both ways, as read back
    pk = rdpcap(mp_pcap)
    assert len(pk) == on_mp["pcap"] == 2 * (on_mp["got"] + 1)
    assert [bytes(p) for p in pk] == [bytes(p) for p in rdpcap(cp_pcap)]
