# IPv4 address conflict detection (RFC 5227 2.1): before an address is used,
# probe for it with ARP and listen for anyone else claiming it.
#
#   probe = acd.Probe(iface)          # once
#   probe.start(addr, now_ms)         # addr: 4-byte buffer, copied
#   probe.poll(now_ms) -> PENDING | DONE | CONFLICT
#
# While it runs, iface.arp.watch is this object, so every valid ARP packet the
# interface receives passes through arp_seen(). Allocates nothing after __init__.
from micropython import const
from random import getrandbits

from stack.clock import ticks_add, ticks_diff
from stack.wire import arp as warp
from stack.wire import eth

IDLE = const(0)
PENDING = const(1)
DONE = const(2)
CONFLICT = const(3)

_ZERO4 = b"\x00\x00\x00\x00"
_ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"


def rand_ms(span_ms):
    """Uniform in 0..span_ms; span_ms up to 16383 keeps the product a small int."""
    return (getrandbits(16) * span_ms) >> 16


class Probe:
    def __init__(self, iface, probes, probe_ms):
        self._iface = iface
        self._probes = probes  # PROBE_NUM
        self._probe_ms = probe_ms  # PROBE_MIN = PROBE_WAIT; PROBE_MAX = ANNOUNCE_WAIT = 2x
        self.addr = bytearray(4)
        self._sent = 0
        self._wake_ms = 0
        self._state = IDLE

    def start(self, addr, now_ms):
        for i in range(4):
            self.addr[i] = addr[i]
        self._sent = 0
        self._state = PENDING
        self._wake_ms = ticks_add(now_ms, rand_ms(self._probe_ms))  # PROBE_WAIT
        self._iface.arp.watch = self

    def cancel(self):
        if self._iface.arp.watch is self:
            self._iface.arp.watch = None
        self._state = IDLE

    def poll(self, now_ms):
        st = self._state
        if st != PENDING or ticks_diff(now_ms, self._wake_ms) < 0:
            return st
        pm = self._probe_ms
        if self._sent < self._probes:
            self._sent += 1
            self._send()
            if self._sent < self._probes:
                self._wake_ms = ticks_add(now_ms, pm + rand_ms(pm))  # PROBE_MIN..PROBE_MAX
            else:
                self._wake_ms = ticks_add(now_ms, 2 * pm)  # ANNOUNCE_WAIT
            return PENDING
        self.cancel()
        self._state = DONE
        return DONE

    def poll_at(self, now_ms):
        """ms until poll() has work; -1 when not probing."""
        if self._state != PENDING:
            return -1 if self._state == IDLE else 0
        left = ticks_diff(self._wake_ms, now_ms)
        return left if left > 0 else 0

    def arp_seen(self, buf, o):
        """RFC 5227 2.1.1: any ARP packet whose sender is the address, or another
        host's probe for it, is a conflict. Our own probes echoed back are not."""
        if self._state != PENDING:
            return
        mac = self._iface.mac
        ours = True
        for i in range(6):
            if buf[o + warp.SHA + i] != mac[i]:
                ours = False
        if ours:
            return
        if _same4(buf, o + warp.SPA, self.addr) or (
            _same4(buf, o + warp.TPA, self.addr) and _same4(buf, o + warp.SPA, _ZERO4)
        ):
            self.cancel()
            self._state = CONFLICT

    def _send(self):
        # RFC 5227 2.1.1: sender IP all zeroes, target hardware address zero.
        iface = self._iface
        b = iface.tx_buf
        eth.write_broadcast(b, iface.mac, eth.TYPE_ARP)
        warp.write(b, eth.HDR_LEN, warp.OP_REQUEST, iface.mac, _ZERO4, _ZERO_MAC, 0, self.addr, 0)
        iface.stats["arp_tx_request"] += 1
        iface.send_frame(b, eth.HDR_LEN + warp.LEN)


def _same4(b, o, a):
    return b[o] == a[0] and b[o + 1] == a[1] and b[o + 2] == a[2] and b[o + 3] == a[3]
