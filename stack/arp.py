# Neighbour cache and ARP protocol (RFC 826, RFC 1122 section 2.3.2).
#
# Bounded: cfg.arp_entries entries. When full, a new entry takes the oldest
# unresolved one, else the oldest resolved one; an entry that a live TCP
# connection sends through (SYN-SENT or synchronized) is pinned and never
# taken, and is refreshed instead of expiring. So a flood of SYNs from
# spoofed sources (each asking us to resolve a host that never answers) or of
# ARP packets churns only the unpinned entries, never the real peer's. Only
# ARP requests for our address create entries; a reply we did not ask for
# (no pending entry) is not cached (RFC 826 merge rule without the reply case).
# An unresolved next hop holds at most one frame waiting for the reply (RFC 1122
# 2.3.2.2 "SHOULD save at least one"); a newer frame replaces it and the older one
# is counted as dropped. Frames wait in a small pool of preallocated buffers.
from micropython import const

from stack import mem
from stack import stats as _stats
from stack.clock import ticks_add, ticks_diff
from stack.wire import arp as warp
from stack.wire import eth, ip4

_FREE = const(0)
_PENDING = const(1)
_RESOLVED = const(2)
_NO_SLOT = const(0xFF)
_PENDING_FRAMES = const(2)
_SYN_SENT = const(2)  # stack/tcp_conn.py states: SYN-SENT, and synchronized from here on
_ESTABLISHED = const(4)

_ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"


class Neighbours:
    def __init__(self, iface, cfg):
        n = cfg.arp_entries
        self._iface = iface
        self._n = n
        self._ttl_ms = cfg.arp_ttl_ms
        self._retry_ms = cfg.arp_retry_ms
        self._tries_max = cfg.arp_tries
        self._ip = bytearray(4 * n)
        self._mac = bytearray(6 * n)
        self._state = bytearray(n)
        self._tries = bytearray(n)
        self._stamp = [0] * n  # ticks_ms of last update (resolved) or last request (pending)
        self._slot = bytearray(b"\xff" * n)  # pending frame buffer index per entry
        self._frames = [bytearray(cfg.mtu + eth.HDR_LEN) for _ in range(_PENDING_FRAMES)]
        self._frame_len = [0] * _PENDING_FRAMES
        self._frame_used = bytearray(_PENDING_FRAMES)
        self._next = None  # when poll() next has work (ticks); None: look at once
        self.watch = None  # its arp_seen(buf, o) sees every valid ARP packet (stack/acd.py)
        self.stats = _stats.register(
            iface.stats,
            "arp_rx",
            "arp_tx_request",
            "arp_tx_reply",
            "arp_drop_short",
            "arp_drop_format",
            "arp_drop_unresolved",
            "arp_drop_replaced",
            "arp_drop_no_buffer",
            "arp_drop_unsolicited",
            "arp_drop_src_self",
            "arp_drop_src_bad",
            "arp_drop_cache_full",
        )

    # -- lookups ------------------------------------------------------------

    def _find(self, buf, off):
        ips = self._ip
        for i in range(self._n):
            if self._state[i] != _FREE:
                j = 4 * i
                if (
                    ips[j] == buf[off]
                    and ips[j + 1] == buf[off + 1]
                    and ips[j + 2] == buf[off + 2]
                    and ips[j + 3] == buf[off + 3]
                ):
                    return i
        return -1

    def mac_of(self, buf, off):
        """Index of the resolved entry for the IP at buf[off], or -1."""
        i = self._find(buf, off)
        if i >= 0 and self._state[i] == _RESOLVED:
            return i
        return -1

    def copy_mac(self, i, dst, dst_off):
        m = 6 * i
        for k in range(6):
            dst[dst_off + k] = self._mac[m + k]

    def _alloc(self, buf, off, now_ms):
        """A free entry, else the oldest unresolved one, else the oldest
        resolved one, never a pinned one; recycled (its waiting frame
        dropped). -1 if every entry is pinned (counted)."""
        victim = -1
        for i in range(self._n):
            st = self._state[i]
            if st == _FREE:
                victim = i
                break
            if victim >= 0:
                if st != self._state[victim]:
                    if st == _RESOLVED:
                        continue  # the victim so far is unresolved: it goes first
                elif ticks_diff(self._stamp[i], self._stamp[victim]) >= 0:
                    continue  # not older
            if self._pinned(i):
                continue
            victim = i
        if victim < 0:
            self.stats["arp_drop_cache_full"] += 1
            return -1
        self._release(victim, "arp_drop_unresolved")
        j = 4 * victim
        for k in range(4):
            self._ip[j + k] = buf[off + k]
        self._stamp[victim] = now_ms
        self._next = None  # a new deadline: poll() looks again
        return victim

    def _pinned(self, i):
        """True if a live TCP connection sends through entry i: its peer, or the
        gateway for a peer off the subnet."""
        iface = self._iface
        tcp = iface.tcp
        if tcp is None:
            return False
        j = 4 * i
        for c in tcp.conns:
            s = c.state
            if c.in_use and (s == _SYN_SENT or s >= _ESTABLISHED) and not c.error:
                if ip4.same_subnet(c.remote_ip, 0, iface.ip, iface.netmask):
                    hop = c.remote_ip
                else:
                    hop = iface.gateway
                if ip4.addr_is(self._ip, j, hop):
                    return True
        return False

    def _hop_entry(self, buf, off):
        """The entry for the next hop towards the address at buf[off] (the
        same choice as iface.send_ip4), resolved or not, or -1."""
        iface = self._iface
        if ip4.same_subnet(buf, off, iface.ip, iface.netmask):
            return self._find(buf, off)
        return self._find(iface.gateway, 0)

    def resolved(self, buf, off):
        """True if the next hop towards buf[off] has a resolved entry."""
        i = self._hop_entry(buf, off)
        return i >= 0 and self._state[i] == _RESOLVED

    def ready(self, buf, off, now_ms):
        """True if frames to buf[off] can go at once (broadcast, or next hop
        resolved); else start resolving it without holding a frame."""
        iface = self._iface
        if ip4.is_broadcast(buf, off, iface.ip, iface.netmask):
            return True
        if self.resolved(buf, off):
            return True
        if self._hop_entry(buf, off) < 0:  # not pending either: ask
            if not ip4.same_subnet(buf, off, iface.ip, iface.netmask):
                buf, off = iface.gateway, 0
            i = self._alloc(buf, off, now_ms)
            if i >= 0:
                self._state[i] = _PENDING
                self._tries[i] = 0
                self._request(i, now_ms)
        return False

    def _release(self, i, reason):
        self._iface.gen += 1  # headers made by iface.header() expire
        s = self._slot[i]
        if s != _NO_SLOT:
            self._frame_used[s] = 0
            self._slot[i] = _NO_SLOT
            self.stats[reason] += 1
        self._state[i] = _FREE

    # -- transmit side --------------------------------------------------------

    def hold(self, frame, n, buf, off, now_ms):
        """Keep frame[0:n] until the next hop at buf[off] resolves; send a request
        if this is a new resolution. The caller found no resolved entry.
        frame is usually iface.tx_buf, which the request reuses: copy it first."""
        i = self._find(buf, off)
        new = i < 0
        if new:
            i = self._alloc(buf, off, now_ms)
            if i < 0:
                return False
            self._state[i] = _PENDING
            self._tries[i] = 0
        s = self._slot[i]
        if s == _NO_SLOT:
            for k in range(_PENDING_FRAMES):
                if not self._frame_used[k]:
                    s = k
                    break
            else:
                self.stats["arp_drop_no_buffer"] += 1
        else:
            self.stats["arp_drop_replaced"] += 1
        if s != _NO_SLOT:
            self._frame_used[s] = 1
            self._slot[i] = s
            mem.copy(self._frames[s], 0, frame, 0, n)
            self._frame_len[s] = n
        if new:
            self._request(i, now_ms)
        return s != _NO_SLOT

    def _request(self, i, now_ms):
        iface = self._iface
        b = iface.tx_buf
        eth.write_broadcast(b, iface.mac, eth.TYPE_ARP)
        warp.write(
            b, eth.HDR_LEN, warp.OP_REQUEST, iface.mac, iface.ip, _ZERO_MAC, 0, self._ip, 4 * i
        )
        self._tries[i] += 1
        self._stamp[i] = now_ms
        self._next = None  # a new deadline: poll() looks again
        self.stats["arp_tx_request"] += 1
        iface.send_frame(b, eth.HDR_LEN + warp.LEN)

    def announce(self):
        """Gratuitous ARP (RFC 5227 announcement form): a request for our own address."""
        iface = self._iface
        b = iface.tx_buf
        eth.write_broadcast(b, iface.mac, eth.TYPE_ARP)
        warp.write(b, eth.HDR_LEN, warp.OP_REQUEST, iface.mac, iface.ip, _ZERO_MAC, 0, iface.ip, 0)
        self.stats["arp_tx_request"] += 1
        iface.send_frame(b, eth.HDR_LEN + warp.LEN)

    # -- receive side ---------------------------------------------------------

    def input(self, buf, o, end, now_ms):
        r = warp.check(buf, o, end)
        if r < 0:
            self.stats["arp_drop_short" if r == warp.DROP_SHORT else "arp_drop_format"] += 1
            return
        self.stats["arp_rx"] += 1
        if self.watch is not None:
            self.watch.arp_seen(buf, o)
        iface = self._iface
        configured = iface.ip[0] != 0  # 0.0.0.0 while DHCP is under way: nothing is for us
        for_us = configured and ip4.addr_is(buf, o + warp.TPA, iface.ip)
        spa = o + warp.SPA
        if configured and ip4.addr_is(buf, spa, iface.ip):
            # someone claims our address (or a LAND-style loop): never cached,
            # never answered (RFC 5227 conflict; the log is the counter)
            self.stats["arp_drop_src_self"] += 1
            return
        zero = not (buf[spa] | buf[spa + 1] | buf[spa + 2] | buf[spa + 3])
        if not zero and (
            ip4.is_multicast(buf, spa)
            or ip4.is_broadcast(buf, spa, iface.ip, iface.netmask)
            or buf[spa] == 127
        ):
            self.stats["arp_drop_src_bad"] += 1  # not a host address (RFC 1122 3.2.1.3)
            return
        # RFC 826 merge: update an existing entry; add one only for a request
        # to us (a reply nobody asked for is not cached). A 0.0.0.0 sender is
        # an RFC 5227 probe: answered, not cached.
        i = -1 if zero else self._find(buf, spa)
        if i < 0 and for_us and not zero:
            if warp.oper(buf, o) == warp.OP_REQUEST:
                i = self._alloc(buf, spa, now_ms)
            else:
                self.stats["arp_drop_unsolicited"] += 1
        if i >= 0:
            m = 6 * i
            for k in range(6):
                self._mac[m + k] = buf[o + warp.SHA + k]
            self._state[i] = _RESOLVED
            self._iface.gen += 1  # headers made by iface.header() expire
            self._stamp[i] = now_ms
            self._next = None  # a new deadline: poll() looks again
            self._flush(i)
        if for_us and warp.oper(buf, o) == warp.OP_REQUEST:
            b = iface.tx_buf
            eth.write(b, buf, o + warp.SHA, iface.mac, eth.TYPE_ARP)
            warp.write(
                b, eth.HDR_LEN, warp.OP_REPLY, iface.mac, iface.ip, buf, o + warp.SHA, buf, o + warp.SPA
            )
            self.stats["arp_tx_reply"] += 1
            iface.send_frame(b, eth.HDR_LEN + warp.LEN)

    def _flush(self, i):
        s = self._slot[i]
        if s == _NO_SLOT:
            return
        # Sent from the interface's TX buffer, not from the slot: a driver
        # sees only the interface's two buffers. The SPI drivers make views
        # of each buffer they move, a kilobyte, for a few buffers
        # (drivers/spibuf.py): a slot buffer sent itself took one of those
        # places for good, or pushed out the TX buffer's views to be made
        # again on the next send (seen in the frame fuzzer: +1,056 bytes).
        # Nothing is being built in tx_buf here: input() writes its
        # reply there after this.
        tx = self._iface.tx_buf
        n = self._frame_len[s]
        mem.copy(tx, 0, self._frames[s], 0, n)
        self.copy_mac(i, tx, eth.DST_OFF)
        self._iface.send_frame(tx, n)
        self._frame_used[s] = 0
        self._slot[i] = _NO_SLOT

    # -- timers ---------------------------------------------------------------

    def poll(self, now_ms):
        """Retries and expiry; returns ms until the next (as poll_at). The
        scan of every entry runs only when one is due (or a deadline was set
        since): most polls see no ARP work."""
        nxt = self._next
        if nxt is not None:
            d = ticks_diff(nxt, now_ms)
            if d > 0:
                return d
        nxt = ticks_add(now_ms, self._ttl_ms)  # no entry: nothing before this
        for i in range(self._n):
            st = self._state[i]
            if st == _PENDING:
                if ticks_diff(now_ms, self._stamp[i]) >= self._retry_ms:
                    if self._tries[i] >= self._tries_max:
                        self._release(i, "arp_drop_unresolved")
                        continue
                    self._request(i, now_ms)
                t = ticks_add(self._stamp[i], self._retry_ms)
            elif st == _RESOLVED:
                if ticks_diff(now_ms, self._stamp[i]) >= self._ttl_ms:
                    if not self._pinned(i):
                        self._state[i] = _FREE
                        self._iface.gen += 1  # headers made by iface.header() expire
                        continue
                    self._request(i, now_ms)  # refreshed, never dropped under a connection
                t = ticks_add(self._stamp[i], self._ttl_ms)
            else:
                continue
            if ticks_diff(t, nxt) < 0:
                nxt = t
        self._next = nxt
        d = ticks_diff(nxt, now_ms)
        return d if d > 0 else 0

    def poll_at(self, now_ms):
        """ms until poll() has work (0: now)."""
        nxt = self._next
        if nxt is None:
            return 0
        d = ticks_diff(nxt, now_ms)
        return d if d > 0 else 0

    def entries(self):
        """Plain data for the REPL: [(ip, mac, state)]."""
        names = ("free", "pending", "resolved")
        out = []
        for i in range(self._n):
            if self._state[i] != _FREE:
                m = self._mac[6 * i : 6 * i + 6]
                out.append(
                    (
                        "%d.%d.%d.%d" % tuple(self._ip[4 * i : 4 * i + 4]),
                        ":".join("%02x" % b for b in m),
                        names[self._state[i]],
                    )
                )
        return out
