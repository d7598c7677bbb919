# Run by tests/test_dhcp_unixport.py inside the MicroPython unix port (not a
# pytest module): the steady state of DHCP and DNS under micropython.heap_lock().
#
#   renewals: every engine call of RENEWS renewals (T1 timer -> REQUEST out,
#             ARP for the server when its entry has aged out, ACK in -> BOUND
#             with the timers re-armed) runs with the heap locked;
#   answers:  ANSWERS DNS questions (random ID and port, query out, answer in,
#             CNAME followed, cached) run with the heap locked;
#   cache:    LOOKUPS cached lookups (str and bytes names) with the heap locked.
#
# The scripted server builds its frames between the locked calls. Prints
# "OK ..." or raises (a MemoryError names the allocating path).
import sys

import micropython

from stack import csum, dhcp, dns
from stack.config import Config
from stack.iface import Interface
from stack.wire import arp as warp
from stack.wire import dhcp4 as wd
from stack.wire import eth, ip4

RENEWS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
ALLOC_PROBE = "--alloc-probe" in sys.argv  # make one locked call allocate (tests the harness)
ANSWERS = int(sys.argv[2]) if len(sys.argv) > 2 else 40
LOOKUPS = 200

US_MAC = b"\x02\x00\x00\x00\x00\x02"
SRV_MAC = b"\x02\xaa\xbb\xcc\xdd\x01"
SRV = b"\xc0\x00\x02\x01"
LEASED = b"\xc0\x00\x02\x7b"
L4 = 34
FRAME = 640  # DHCP (<= 342 + 42) and DNS frames fit


class Driver:
    """Frames in from a preallocated queue, frames out copied into
    preallocated slots: nothing here allocates per frame."""

    def __init__(self):
        self.mac = US_MAC
        self.stats = {}
        self.rx = [bytearray(FRAME) for _ in range(2)]
        self.rx_len = [0] * 2
        self.rx_n = 0
        self.tx = [bytearray(FRAME) for _ in range(4)]
        self.tx_len = [0] * 4
        self.tx_n = 0

    def recv_into(self, buf):
        if not self.rx_n:
            return 0
        self.rx_n -= 1
        f = self.rx[self.rx_n]
        n = self.rx_len[self.rx_n]
        for i in range(n):
            buf[i] = f[i]
        return n

    def send(self, buf, n):
        if self.tx_n < 4 and n <= FRAME:
            t = self.tx[self.tx_n]
            for i in range(n):
                t[i] = buf[i]
            self.tx_len[self.tx_n] = n
            self.tx_n += 1
        return True

    def link_up(self):
        return True

    def wait(self, ms):
        pass


drv = Driver()
# no reassembly buffers: this 64wK heap also holds the compiled sources
cfg = Config(dhcp_init_delay_ms=0, dhcp_probe_ms=100, arp_ttl_ms=30_000, udp_sockets=1,
             ip4_reasm_slots=0)
iface = Interface(drv, cfg, "0.0.0.0", "0.0.0.0", "0.0.0.0")
client = dhcp.DHCPClient(iface)
client.start()
now = [0]


def locked(fn, a, b=None, c=None):
    """fn(a[, b[, c]]) with the heap locked (no *args: that tuple would allocate)."""
    micropython.heap_lock()
    try:
        if b is None:
            r = fn(a)
        elif c is None:
            r = fn(a, b)
        else:
            r = fn(a, b, c)
    except MemoryError:
        micropython.heap_unlock()
        print("ALLOCATION in", fn)
        raise
    micropython.heap_unlock()
    return r


def poll_locked():
    return locked(iface.poll, now[0])


# -- the scripted server ----------------------------------------------------------------


def udp_frame(f, dst_mac, dst_ip, sport, dport, payload_len):
    """Ethernet/IPv4/UDP headers around payload at f[42:], checksums filled."""
    eth.write(f, dst_mac, 0, SRV_MAC, eth.TYPE_IP4)
    ip4.write(f, 14, 28 + payload_len, 1, 64, ip4.PROTO_UDP, SRV, dst_ip, 0)
    n = 8 + payload_len
    f[L4] = sport >> 8
    f[L4 + 1] = sport & 0xFF
    f[L4 + 2] = dport >> 8
    f[L4 + 3] = dport & 0xFF
    f[L4 + 4] = n >> 8
    f[L4 + 5] = n & 0xFF
    f[L4 + 6] = f[L4 + 7] = 0
    c = csum.checksum(f, L4, n, csum.pseudo_sum(f, 14 + ip4.SRC, 14 + ip4.DST, ip4.PROTO_UDP, n))
    f[L4 + 6] = c >> 8
    f[L4 + 7] = c & 0xFF
    return 14 + 20 + n


def dhcp_reply(mtype, xid_frame):
    """OFFER/ACK for the client message in xid_frame (T1 10 s, T2 20 s, lease 60 s)."""
    f = drv.rx[drv.rx_n]
    o = 42
    p = o + wd.write(f, o, wd.OP_REPLY, xid_frame[o + wd.XID:o + wd.XID + 4], 0, 0, b"\0\0\0\0",
                     US_MAC)
    for i in range(4):
        f[o + wd.YIADDR + i] = LEASED[i]
    p = wd.put_u8(f, p, wd.OPT_MSG_TYPE, mtype)
    p = wd.put(f, p, wd.OPT_SERVER_ID, SRV, 0, 4)
    p = wd.put(f, p, wd.OPT_LEASE, b"\x00\x00\x00\x3c", 0, 4)
    p = wd.put(f, p, wd.OPT_T1, b"\x00\x00\x00\x0a", 0, 4)
    p = wd.put(f, p, wd.OPT_T2, b"\x00\x00\x00\x14", 0, 4)
    p = wd.put(f, p, wd.OPT_SUBNET, b"\xff\xff\xff\x00", 0, 4)
    p = wd.put(f, p, wd.OPT_ROUTER, SRV, 0, 4)
    p = wd.put(f, p, wd.OPT_DNS, SRV, 0, 4)
    n = wd.put_end(f, o, p)
    bcast = not iface.ip[0]
    drv.rx_len[drv.rx_n] = udp_frame(f, b"\xff" * 6 if bcast else US_MAC,
                                     b"\xff\xff\xff\xff" if bcast else LEASED, 67, 68, n)
    drv.rx_n += 1


def arp_reply():
    f = drv.rx[drv.rx_n]
    eth.write(f, US_MAC, 0, SRV_MAC, eth.TYPE_ARP)
    warp.write(f, 14, warp.OP_REPLY, SRV_MAC, SRV, US_MAC, 0, iface.ip, 0)
    drv.rx_len[drv.rx_n] = 42
    drv.rx_n += 1


def serve():
    """Answer what the stack sent: ARP requests for the server, DHCP
    DISCOVER/REQUEST (DNS queries are answered by dns_answer)."""
    sent = [(drv.tx[i], drv.tx_len[i]) for i in range(drv.tx_n)]
    drv.tx_n = 0
    for f, n in sent:
        t = (f[12] << 8) | f[13]
        if t == eth.TYPE_ARP and f[14 + warp.TPA:14 + warp.TPA + 4] == SRV:
            arp_reply()
        elif t == eth.TYPE_IP4 and f[23] == ip4.PROTO_UDP and f[L4 + 3] == 67:
            p = wd.find(f, 42, n - 42, wd.OPT_MSG_TYPE)
            kind = f[p + 1]
            if kind == wd.DISCOVER:
                dhcp_reply(wd.OFFER, bytes(f))
            elif kind == wd.REQUEST:
                dhcp_reply(wd.ACK, bytes(f))
    return len(sent)


if ALLOC_PROBE:
    locked(list, (1, 2))

# -- the first lease, unlocked ----------------------------------------------------------

for _ in range(400):
    now[0] += 50
    iface.poll(now[0])
    serve()
    if client.state() == dhcp.BOUND:
        break
assert client.state() == dhcp.BOUND, client.state_name()
assert iface.ip == LEASED
now[0] += 50
iface.poll(now[0])  # the RFC 5227 announcement
drv.tx_n = 0

# -- renewals, locked -------------------------------------------------------------------

renewed0 = iface.stats["dhcp_renewed"]
for k in range(RENEWS):
    for _ in range(200):  # 100 ms steps to T1 (10 s after the last REQUEST)
        now[0] += 100
        poll_locked()
        if drv.tx_n:
            break
    assert client.state() == dhcp.RENEWING, client.state_name()
    for _ in range(4):  # ARP (when aged out), then the REQUEST, then the ACK
        if not serve():
            break
        poll_locked()
    assert client.state() == dhcp.BOUND, (k, client.state_name())
renewed = iface.stats["dhcp_renewed"] - renewed0
assert renewed == RENEWS, renewed
assert iface.stats["arp_tx_request"] > 2  # the server's entry aged out on the way

# -- DNS answers, locked ----------------------------------------------------------------

r = dns.Resolver(iface)
NAMES = ["n%d.device.test" % i for i in range(ANSWERS)]
# Indexing a str makes a one-character qstr the first time a character is
# seen, which may allocate (a new qstr pool): see each character once here
_seen = [NAMES[k][j] for k in range(ANSWERS) for j in range(len(NAMES[k]))]


def dns_answer(ttl):
    """The answer to the query just sent: a CNAME to device.test, then its A."""
    q = drv.tx[0]
    qn = drv.tx_len[0] - 42
    assert drv.tx_n == 1 and q[L4 + 2] == 0 and q[L4 + 3] == 53
    f = drv.rx[0]
    o = 42
    for i in range(qn):
        f[o + i] = q[o + i]
    f[o + 2] = 0x81
    f[o + 3] = 0x80
    f[o + 7] = 2  # ancount
    p = o + qn
    rr = (b"\xc0\x0c\x00\x05\x00\x01" + ttl + b"\x00\x0d\x06device\x04test\x00"
          + b"\xc0" + bytes([qn + 12]) + b"\x00\x01\x00\x01" + ttl + b"\x00\x04" + SRV)
    for i in range(len(rr)):
        f[p + i] = rr[i]
    n = qn + len(rr)
    sport = (q[L4] << 8) | q[L4 + 1]
    drv.rx_len[0] = udp_frame(f, US_MAC, LEASED, 53, sport, n)
    drv.rx_n = 1
    drv.tx_n = 0


out = bytearray(4)
for i in range(ANSWERS):
    now[0] += 10
    st = locked(r.start, NAMES[i], now[0])
    assert st == dns.PENDING, st
    if drv.tx_n and (drv.tx[0][12] << 8 | drv.tx[0][13]) == eth.TYPE_ARP:
        serve()  # the server's ARP entry aged out: its reply releases the query
        poll_locked()
    dns_answer(b"\x00\x00\x01\x2c")
    now[0] += 1
    poll_locked()
    st = locked(r.poll, now[0])
    assert st == dns.DONE and r.addr == SRV, (i, st)
assert iface.stats["dns_rx_answer"] == ANSWERS

# -- cached lookups, locked -----------------------------------------------------------------

hits0 = iface.stats["dns_cache_hits"]
last = NAMES[-1]
last_b = last.encode()
for i in range(LOOKUPS):
    assert locked(r.lookup, last if i & 1 else last_b, out, now[0])
    assert locked(r.start, last, now[0]) == dns.DONE
assert iface.stats["dns_cache_hits"] - hits0 == 2 * LOOKUPS

print("OK renewals=%d answers=%d lookups=%d arp_requests=%d" % (
    renewed, ANSWERS, 2 * LOOKUPS, iface.stats["arp_tx_request"]))
