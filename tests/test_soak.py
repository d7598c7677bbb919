"""The soak's short version (tests/soak.py; `make soak` runs 10 minutes):
45 s of keep-alive HTTP, new connections, 2 MB downloads and 500 KB uploads,
pings, UDP echo and an attack burst every 10 s against sim_w5500. Every
legitimate request answered exactly, the heap back within 1 KB."""

from soak import HEAP_BOUND, soak

from scenario import require_netns


def test_soak_45_s_no_failed_request_heap_within_1_kb():
    require_netns()
    res = soak(45)
    assert res["failed"] == 0
    assert res["hung"] == 0
    assert res["alive"]
    assert abs(res["end_heap"] - res["start_heap"]) <= HEAP_BOUND, res
    # every kind of load ran, and the attacks reached the stack
    for kind in ("keepalive", "newconn", "bulk_down", "bulk_up", "ping", "udp"):
        assert res["kinds"].get(kind, 0) > 0, res["kinds"]
    c = res["counters"]["iface"]
    assert c.get("tcp_syn_recycled", 0) + c.get("tcp_drop_backlog", 0) > 0
    assert c.get("ip4_drop_src_self", 0) > 0
