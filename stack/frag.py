# IPv4 fragments (RFC 791): reassembly of received datagrams with the hole
# list of RFC 815, and fragmentation of datagrams too big for one frame.
#
# Bounded: cfg.ip4_reasm_slots datagrams in progress, each reassembled in its
# own buffer allocated at start-up, holding a datagram of up to
# cfg.ip4_reasm_bytes (20-byte header + data); larger ones are dropped. When
# every slot is busy, a fragment of a new datagram takes the oldest slot (a
# new datagram never loses to an old incomplete one). A datagram not complete
# cfg.ip4_reasm_timeout_ms after its first fragment is dropped, with an ICMP
# time exceeded if its first fragment came (RFC 1122 3.3.2).
#
# Overlaps: a fragment must fill (part of) one hole. One that repeats data we
# hold byte for byte is a duplicate and ignored; any other overlap drops the
# whole datagram (RFC 5722's rule for IPv6, Linux's for IPv4: two hosts can
# never read different data out of the same fragments). Every drop is
# counted by reason; nothing here allocates per fragment.
#
# The buffer layout makes a finished datagram look like a received frame: the
# first fragment's Ethernet header and IPv4 header end at _DATA_OFF, where the
# data starts, so the layers above read it as they read iface.rx_buf.
from micropython import const

from stack import csum, mem
from stack import stats as _stats
from stack.clock import ticks_diff
from stack.wire import eth, icmp4, ip4

_DATA_OFF = const(76)  # Ethernet 14 + the largest IPv4 header (60) fit before it; 4-aligned
_MAX_HOLES = const(8)  # per datagram; a fragment that would make more drops it
_INF = const(0xFFFF)  # last byte of the open-ended hole before the last fragment came
_KEY = const(11)  # source 4, destination 4, protocol 1, identification 2 (RFC 791)
_UNKNOWN = const(-1)
_L4_OFF = const(34)
_IP_OFF = const(14)
_MAX_UDP_DATA = const(65507)  # 65535 - IPv4 header 20 - UDP header 8

_STAT_NAMES = (
    "ip4_reasm_ok",
    "ip4_reasm_drop_bad",
    "ip4_reasm_drop_too_big",
    "ip4_reasm_drop_overlap",
    "ip4_reasm_drop_dup",
    "ip4_reasm_drop_holes",
    "ip4_reasm_drop_evicted",
    "ip4_reasm_drop_timeout",
    "ip4_frag_tx",
    "ip4_frag_tx_datagrams",
    "ip4_frag_drop_unresolved",
)


class Fragments:
    def __init__(self, iface, cfg):
        n = cfg.ip4_reasm_slots
        self._iface = iface
        self._n = n
        self._cap = cfg.ip4_reasm_bytes - ip4.HDR_LEN  # data bytes a datagram may have
        self._timeout_ms = cfg.ip4_reasm_timeout_ms
        self._bufs = [bytearray(_DATA_OFF + self._cap) for _ in range(n)]
        self._used = bytearray(n)
        self._key = bytearray(_KEY * n)
        self._stamp = [0] * n  # ticks_ms of the datagram's first fragment to arrive
        self._total = [_UNKNOWN] * n  # data length, known once the last fragment came
        self._hl = bytearray(n)  # header length of fragment 0; 0 until it came
        self._holes = bytearray(n)
        self._hfirst = [0] * (n * _MAX_HOLES)
        self._hlast = [0] * (n * _MAX_HOLES)
        self._udp_hdr = bytearray(8)  # for send_udp
        self._addrs = bytearray(8)  # our address + the destination: the pseudo-header
        self.datagram = None  # the buffer of the datagram input() finished last
        self.stats = _stats.register(iface.stats, *_STAT_NAMES)

    # -- reassembly -------------------------------------------------------------

    def input(self, buf, o, hl, now_ms):
        """Take the fragment whose checked IPv4 header is at buf[o]. Returns the
        offset of the reassembled datagram's IPv4 header in self.datagram when
        this fragment completed one, else -1 (kept, or dropped and counted)."""
        st = self.stats
        if self._n == 0:
            st["ip4_drop_fragment"] += 1  # reassembly configured off
            return -1
        dlen = ip4.total_len(buf, o) - hl
        first = ip4.frag_offset(buf, o)
        more = ip4.more_fragments(buf, o)
        if dlen <= 0 or (more and dlen & 7):
            # RFC 791: every fragment but the last carries a multiple of 8 bytes
            st["ip4_reasm_drop_bad"] += 1
            return -1
        last = first + dlen - 1
        i = self._find(buf, o)
        if last >= self._cap:
            st["ip4_reasm_drop_too_big"] += 1
            if i >= 0:
                self._used[i] = 0  # it can never complete
            return -1
        if i < 0:
            i = self._alloc(buf, o, now_ms)
        h = self._hole_of(i, first, last)
        if h < 0 or (not more and self._hlast[h] != _INF):
            # not inside one hole (or a last fragment with data after it)
            if h < 0 and self._duplicate(i, buf, o + hl, first, last, more):
                st["ip4_reasm_drop_dup"] += 1
                return -1
            st["ip4_reasm_drop_overlap"] += 1
            self._used[i] = 0
            return -1
        if not self._fill(i, h, first, last, more):
            st["ip4_reasm_drop_holes"] += 1
            self._used[i] = 0
            return -1
        b = self._bufs[i]
        mem.copy(b, _DATA_OFF + first, buf, o + hl, dlen)
        if first == 0:
            # RFC 791: the datagram's header is fragment 0's; keep its
            # Ethernet header too (ICMP errors check the link destination)
            mem.copy(b, _DATA_OFF - hl - eth.HDR_LEN, buf, o - eth.HDR_LEN, eth.HDR_LEN + hl)
            self._hl[i] = hl
        if not more:
            self._total[i] = last + 1
        if self._holes[i]:
            return -1
        # complete: a header that describes the whole datagram
        hl = self._hl[i]
        ip_off = _DATA_OFF - hl
        ip4.set_total_len(b, ip_off, hl + self._total[i])
        ip4.set_frag_field(b, ip_off, 0)
        ip4.fix_csum(b, ip_off)
        self._used[i] = 0
        self.datagram = b
        st["ip4_reasm_ok"] += 1
        return ip_off

    def _find(self, buf, o):
        for i in range(self._n):
            if self._used[i] and self._key_is(_KEY * i, buf, o):
                return i
        return -1

    def _key_is(self, j, buf, o):
        k = self._key
        s = o + ip4.SRC
        for m in range(8):  # source and destination, adjacent in the header
            if k[j + m] != buf[s + m]:
                return False
        return (
            k[j + 8] == ip4.proto(buf, o)
            and k[j + 9] == buf[o + 4]
            and k[j + 10] == buf[o + 5]
        )

    def _alloc(self, buf, o, now_ms):
        victim = -1
        for i in range(self._n):
            if not self._used[i]:
                victim = i
                break
            if victim < 0 or ticks_diff(self._stamp[victim], self._stamp[i]) > 0:
                victim = i
        if self._used[victim]:
            self.stats["ip4_reasm_drop_evicted"] += 1
        j = _KEY * victim
        mem.copy(self._key, j, buf, o + ip4.SRC, 8)
        self._key[j + 8] = ip4.proto(buf, o)
        self._key[j + 9] = buf[o + 4]
        self._key[j + 10] = buf[o + 5]
        self._used[victim] = 1
        self._stamp[victim] = now_ms
        self._total[victim] = _UNKNOWN
        self._hl[victim] = 0
        # RFC 815 step 0: one hole, from 0 to "infinity"
        h = victim * _MAX_HOLES
        self._hfirst[h] = 0
        self._hlast[h] = _INF
        self._holes[victim] = 1
        return victim

    def _hole_of(self, i, first, last):
        """Index of the hole that holds [first, last] entirely, or -1."""
        base = i * _MAX_HOLES
        for h in range(base, base + self._holes[i]):
            if self._hfirst[h] <= first and last <= self._hlast[h]:
                return h
        return -1

    def _fill(self, i, h, first, last, more):
        """RFC 815 steps 4-6: the fragment [first, last] replaces hole h by
        what is left of it on either side. False if that needs too many holes."""
        base = i * _MAX_HOLES
        hf = self._hfirst
        hla = self._hlast
        h_first = hf[h]
        h_last = hla[h]
        n = self._holes[i] - 1
        hf[h] = hf[base + n]  # the last hole moves into h's place
        hla[h] = hla[base + n]
        if first > h_first:
            hf[base + n] = h_first
            hla[base + n] = first - 1
            n += 1
        if last < h_last and more:
            # (the last fragment ends the open hole: nothing is left after it)
            if n >= _MAX_HOLES:
                return False
            hf[base + n] = last + 1
            hla[base + n] = h_last
            n += 1
        self._holes[i] = n
        return True

    def _duplicate(self, i, buf, doff, first, last, more):
        """True if [first, last] lies in data already received, with the same
        bytes and the same end-of-datagram flag: a retransmitted fragment."""
        base = i * _MAX_HOLES
        for h in range(base, base + self._holes[i]):
            if self._hfirst[h] <= last and first <= self._hlast[h]:
                return False
        total = self._total[i]
        if total != _UNKNOWN and last >= total:
            return False  # past the end the last fragment set
        if not more and last + 1 != total:
            return False  # a second, different end
        b = self._bufs[i]
        for k in range(last - first + 1):
            if b[_DATA_OFF + first + k] != buf[doff + k]:
                return False
        return True

    # -- timers ------------------------------------------------------------------

    def poll(self, now_ms):
        for i in range(self._n):
            if self._used[i] and ticks_diff(now_ms, self._stamp[i]) >= self._timeout_ms:
                self._used[i] = 0
                self.stats["ip4_reasm_drop_timeout"] += 1
                hl = self._hl[i]
                if hl:
                    # RFC 1122 3.3.2 / RFC 792: time exceeded, code 1, if we had fragment 0
                    self._iface.icmp.send_error(
                        icmp4.TYPE_TIME_EXCEEDED, icmp4.CODE_REASSEMBLY, self._bufs[i], _DATA_OFF - hl
                    )

    def poll_at(self, now_ms):
        """ms until the next reassembly timeout, or -1 if none is running."""
        best = -1
        for i in range(self._n):
            if self._used[i]:
                left = self._timeout_ms - ticks_diff(now_ms, self._stamp[i])
                if left < 0:
                    left = 0
                if best < 0 or left < best:
                    best = left
        return best

    def in_progress(self):
        """Datagrams being reassembled (for the REPL and tests)."""
        return sum(self._used)

    # -- fragmentation -------------------------------------------------------------

    def send(self, proto, dst, dst_off, hdr, hdr_len, data, data_off, data_len):
        """Send the L4 message hdr[0:hdr_len] + data[data_off:+data_len], its
        checksum already in place, to dst[dst_off:+4] as IPv4 fragments that fit
        the MTU (RFC 791). False if it was dropped (counted). All fragments go at
        once, so the next hop must be resolved: if it is not, resolution starts
        and this datagram is dropped (the sender of a request retries)."""
        iface = self._iface
        if not iface.ip[0]:
            iface.stats["ip4_drop_no_addr"] += 1  # no address yet (DHCP under way)
            return False
        if not iface.arp.ready(dst, dst_off, iface._now):
            self.stats["ip4_frag_drop_unresolved"] += 1
            return False
        total = hdr_len + data_len
        step = (iface.mtu - ip4.HDR_LEN) & ~7
        iface._ident = (iface._ident + 1) & 0xFFFF
        ident = iface._ident
        tx = iface.tx_buf
        pos = 0
        while pos < total:
            n = total - pos
            more = n > step
            if more:
                n = step
            k = 0
            if pos < hdr_len:
                k = hdr_len - pos if hdr_len - pos < n else n
                mem.copy(tx, _L4_OFF, hdr, pos, k)
            if k < n:
                mem.copy(tx, _L4_OFF + k, data, data_off + pos + k - hdr_len, n - k)
            field = (pos >> 3) | (ip4.FLAG_MF if more else 0)
            ip4.write(tx, _IP_OFF, ip4.HDR_LEN + n, ident, iface.cfg.ttl, proto, iface.ip, dst,
                      dst_off, field)
            if not iface.send_ip4_frame(tx, _L4_OFF + n):
                return False
            self.stats["ip4_frag_tx"] += 1
            pos += n
        self.stats["ip4_frag_tx_datagrams"] += 1
        return True

    def send_udp(self, sport, dport, data, off, n, dst, dst_off):
        """A UDP datagram too big for one frame, straight from the caller's
        buffer (no copy of the whole): checksum over header + data, then
        fragments. OSError(EMSGSIZE) past UDP's 65,507 bytes."""
        if n > _MAX_UDP_DATA:
            raise OSError(90)  # EMSGSIZE
        iface = self._iface
        h = self._udp_hdr
        ulen = n + 8
        h[0] = sport >> 8
        h[1] = sport & 0xFF
        h[2] = dport >> 8
        h[3] = dport & 0xFF
        h[4] = ulen >> 8
        h[5] = ulen & 0xFF
        h[6] = 0
        h[7] = 0
        a = self._addrs
        mem.copy(a, 0, iface.ip, 0, 4)
        mem.copy(a, 4, dst, dst_off, 4)
        s = csum.pseudo_sum(a, 0, 4, ip4.PROTO_UDP, ulen)
        s = csum.sum16(h, 0, 8, s)
        c = ~csum.sum16(data, off, n, s) & 0xFFFF
        if c == 0:
            c = 0xFFFF  # RFC 768: zero means "no checksum"
        h[6] = c >> 8
        h[7] = c & 0xFF
        return self.send(ip4.PROTO_UDP, dst, dst_off, h, 8, data, off, n)
