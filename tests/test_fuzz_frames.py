"""80,000 fuzzed frames (after a 5,000-frame warm-up) through the firmware
on sim_w5500 inside the MicroPython unix port: seeds are the frames Linux
sent it a moment before (ARP, pings, a fragmented ping, the page, a bulk
download, a POST, UDP echo/status/closed port, TCP to a closed port),
mutated by bit flips, edge bytes, truncation, lying length fields, IPv4 and
TCP option soup, fragment soup and random frames, checksums repaired half
the time. Invariants: nothing raises out of poll(); every frame moves a
counter of its fate (a drop by reason, or handled) or is a fragment kept for
reassembly; the heap returns to its baseline; the page and ping answer over
the real network afterwards. `make fuzz` runs the same with 200,000 frames
(tests/fuzz_frames.py)."""

import os

from fuzz_frames import WARM, fuzz_and_check
from scenario import fresh_netns_name, require_netns

SHORT = 80_000


def test_80k_fuzzed_frames_through_poll_leave_the_stack_whole():
    require_netns()
    got, counters, driver, took, page, ping_rc, log = fuzz_and_check(
        fresh_netns_name(), SHORT, os.getpid() % 1000, WARM, timeout=900)
    tail = "\n".join(log.splitlines()[-30:])
    assert int(got["delivered"]) == SHORT + WARM, tail
    assert int(got["seeds"]) >= 10, tail  # the seeds really came from Linux's traffic
    assert got["raised"] == "0", tail
    assert got["unaccounted"] == "0", tail
    assert int(got["heap_end"]) == int(got["heap_base"]), tail
    assert b"<!doctype html>" in page.lower(), tail
    assert ping_rc == 0, tail
    # the fuzz reached the deep layers, not just the header checks
    c = dict(kv.split("=") for kv in counters.split()[1:])
    for name in ("tcp_rx_segs", "udp_rx", "icmp_rx_echo", "arp_rx", "ip4_reasm_ok",
                 "tcp_drop_options", "ip4_options_ignored", "ip4_reasm_drop_overlap"):
        assert int(c.get(name, 0)) > 0, (name, counters)
