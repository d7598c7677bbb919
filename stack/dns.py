# DNS resolver (RFC 1035): A records over UDP, one question at a time.
#
#   from stack import dns
#   r = dns.resolver(iface)            # one per interface, made on first use
#   st = r.start("device.test", now)   # DONE at once from the cache, else PENDING
#   while st == dns.PENDING:           # the caller runs iface.poll() meanwhile
#       st = r.poll(now)
#   r.addr                             # 4 bytes when st == DONE
#
# stack.socket.getaddrinfo() is the blocking form. Each try goes to one of
# iface.dns (DHCP option 6 or static) with a fresh random ID and source port
# (RFC 5452 9.2); an answer counts only if it comes from that server and port,
# with that ID and the same question. Servers are tried in turn, cfg.dns_rounds
# times, the timeout doubling each round. Answers are cached (cfg.dns_cache_entries,
# TTL capped at cfg.dns_ttl_max_s; when full the entry that expires first goes).
# Every malformed or foreign message is dropped and counted (dns_drop_*).
from micropython import const
from random import getrandbits

from stack import stats as _stats
from stack.clock import ticks_add, ticks_diff
from stack.wire import dns as wdns

IDLE = const(0)
PENDING = const(1)
DONE = const(2)
NOT_FOUND = const(3)  # NXDOMAIN, or no A record at the end of the CNAME chain
FAILED = const(4)  # no server, or none answered in time (or all failed)

_MSG_BYTES = const(512)  # RFC 1035 4.2.1: the largest UDP message without EDNS
_TX_BYTES = const(271)  # header 12 + name 255 + type/class 4
_CNAME_MAX = const(8)  # aliases followed per answer
_PORT_FIRST = const(49152)

_COUNTERS = (
    "dns_tx_query",
    "dns_rx_answer",
    "dns_rx_nxdomain",
    "dns_rx_nodata",
    "dns_rx_error",
    "dns_rx_truncated",
    "dns_timeouts",
    "dns_cache_hits",
    "dns_no_server",
    "dns_drop_short",
    "dns_drop_name",
    "dns_drop_pointer",
    "dns_drop_format",
    "dns_drop_mismatch",
    "dns_drop_too_big",
    "dns_drop_cname_chain",
)
# wdns drop codes -1..-3 -> counter names
_DROPS = ("dns_drop_short", "dns_drop_name", "dns_drop_pointer")

_one = None


def resolver(iface):
    """The interface's resolver, made (and its buffers allocated) on first use."""
    global _one
    if _one is None or _one._iface is not iface:
        _one = Resolver(iface)
    return _one


class Resolver:
    def __init__(self, iface):
        cfg = iface.cfg
        self._iface = iface
        self._sock = iface.udp.socket(2 * (_MSG_BYTES + 8))
        self._tx = bytearray(_TX_BYTES)
        self._rx = bytearray(_MSG_BYTES)
        self._src = bytearray(6)
        self._q = bytearray(wdns.MAX_NAME)  # the question's name: wire form, lower case
        self._qlen = 0
        self._target = bytearray(wdns.MAX_NAME)  # the name the CNAME chain has reached
        self._name = bytearray(wdns.MAX_NAME)  # scratch: a record's owner, lookup()'s key
        self._server = bytearray(4)
        self._id = 0
        self._try = 0
        self._deadline_ms = 0
        self._timeout_ms = cfg.dns_timeout_ms
        self._rounds = cfg.dns_rounds
        self._ttl_max_s = cfg.dns_ttl_max_s
        self.addr = bytearray(4)
        self.status = IDLE
        # the cache: names (wire form) in fixed slots, their addresses and expiry ticks
        e = cfg.dns_cache_entries
        self._slot = cfg.dns_cache_name_bytes
        self._c_name = bytearray(e * self._slot)
        self._c_len = bytearray(e)  # 0: empty
        self._c_addr = bytearray(4 * e)
        self._c_exp = [0] * e
        self.stats = _stats.register(iface.stats, *_COUNTERS)

    # -- the API -------------------------------------------------------------------

    def start(self, name, now_ms):
        """Begin resolving name (str or bytes). DONE (from the cache, self.addr
        set), PENDING, or FAILED when no server is known. ValueError for a name
        that is not a valid DNS name."""
        n = wdns.encode(name, self._q)
        if n < 0:
            raise ValueError("not a DNS name")
        self._qlen = n
        if self._cache_find(self._q, n, self.addr, now_ms):
            self.status = DONE
            return DONE
        if not self._servers():
            self.stats["dns_no_server"] += 1
            self.status = FAILED
            return FAILED
        self._try = 0
        self.status = PENDING
        self._send(now_ms)
        return PENDING

    def lookup(self, name, out, now_ms):
        """True (address copied into out) if name is cached and fresh. Sends
        nothing and allocates nothing."""
        n = wdns.encode(name, self._name)
        if n < 0:
            return False
        return self._cache_find(self._name, n, out, now_ms)

    def poll(self, now_ms):
        """Read answers, retry on timeouts; returns the status."""
        if self.status != PENDING:
            return self.status
        s = self._sock
        while self.status == PENDING:
            n = s.pending()
            if n < 0:
                break
            if n > _MSG_BYTES:
                s.recv_into_from(self._rx, self._src)  # consumed, cut short
                self.stats["dns_drop_too_big"] += 1
                continue
            s.recv_into_from(self._rx, self._src)
            self._input(n, now_ms)
        if self.status == PENDING and ticks_diff(now_ms, self._deadline_ms) >= 0:
            self.stats["dns_timeouts"] += 1
            self._next_try(now_ms)
        return self.status

    def poll_at(self, now_ms):
        """ms until poll() has work; -1 when no question is pending."""
        if self.status != PENDING:
            return -1
        if self._sock.records:
            return 0
        left = ticks_diff(self._deadline_ms, now_ms)
        return left if left > 0 else 0

    def flush(self):
        for i in range(len(self._c_len)):
            self._c_len[i] = 0

    # -- sending -------------------------------------------------------------------

    def _servers(self):
        d = self._iface.dns
        k = 0
        for i in range(0, len(d), 4):
            if d[i]:
                k += 1
        return k

    def _send(self, now_ms):
        k = self._servers()
        if not k:
            self.stats["dns_no_server"] += 1
            self.status = FAILED
            return
        rnd = self._try // k
        pick = self._try - rnd * k
        d = self._iface.dns
        for i in range(0, len(d), 4):
            if d[i]:
                if not pick:
                    for j in range(4):
                        self._server[j] = d[i + j]
                    break
                pick -= 1
        self._id = getrandbits(16)
        self._new_port()
        n = wdns.write_query(self._tx, self._id, self._q, self._qlen)
        self._deadline_ms = ticks_add(now_ms, self._timeout_ms << rnd)
        self.stats["dns_tx_query"] += 1
        self._sock.sendto(self._tx, 0, n, self._server, 0, wdns.PORT)

    def _new_port(self):
        """A fresh random source port for every query (RFC 5452 9.2); what is
        still queued for the old one is dropped with it."""
        s = self._sock
        s.close()
        for _ in range(8):
            try:
                s.bind(_PORT_FIRST + getrandbits(14))
                return
            except OSError:
                pass  # in use: draw again
        s.bind(0)

    def _next_try(self, now_ms):
        self._try += 1
        if self._try >= self._rounds * self._servers():
            self.status = FAILED
            return
        self._send(now_ms)

    # -- receiving ------------------------------------------------------------------

    def _input(self, n, now_ms):
        b = self._rx
        src = self._src
        # RFC 5452 9.1: the server and port we asked, the ID we chose.
        if (
            src[4] != 0
            or src[5] != wdns.PORT
            or not wdns.same(src, 0, self._server, 0, 4)
            or n < wdns.HDR_LEN
            or wdns.ident(b) != self._id
        ):
            self.stats["dns_drop_short" if n < wdns.HDR_LEN else "dns_drop_mismatch"] += 1
            return
        f = wdns.flags(b)
        if not f & wdns.QR or wdns.opcode(b) != 0 or wdns.qdcount(b) != 1:
            self.stats["dns_drop_format"] += 1
            return
        ln = wdns.expand(b, wdns.HDR_LEN, n, self._name)
        if ln < 0:
            self.stats[_DROPS[-ln - 1]] += 1
            return
        p = wdns.skip_name(b, wdns.HDR_LEN, n)
        if p < 0 or p + 4 > n:
            self.stats["dns_drop_short"] += 1
            return
        if (
            ln != self._qlen
            or not wdns.same(self._name, 0, self._q, 0, ln)
            or wdns.u16(b, p) != wdns.TYPE_A
            or wdns.u16(b, p + 2) != wdns.CLASS_IN
        ):
            self.stats["dns_drop_mismatch"] += 1  # an answer to another question
            return
        first = p + 4
        r = self._check_records(b, first, n)
        if r < 0:
            self.stats[_DROPS[-r - 1]] += 1
            return
        rc = f & 0x000F
        if rc == wdns.RCODE_NXDOMAIN:
            self.stats["dns_rx_nxdomain"] += 1
            self.status = NOT_FOUND
            return
        if rc != wdns.RCODE_OK:
            self.stats["dns_rx_error"] += 1  # SERVFAIL, REFUSED...: ask the next one
            self._next_try(now_ms)
            return
        if f & wdns.TC:
            self.stats["dns_rx_truncated"] += 1  # no TCP here: use what did fit
        self._answer(b, first, n, now_ms)

    def _check_records(self, b, p, n):
        """0 if every answer record lies inside the message, else a drop code."""
        for _ in range(wdns.ancount(b)):
            p = wdns.skip_name(b, p, n)
            if p < 0:
                return p
            if p + wdns.RR_FIXED > n:
                return wdns.DROP_SHORT
            p += wdns.RR_FIXED + wdns.u16(b, p + 8)
            if p > n:
                return wdns.DROP_SHORT
        return 0

    def _answer(self, b, first, n, now_ms):
        """Follow the CNAME chain from the question to an A record (RFC 1034
        3.6.2); records may come in any order."""
        tgt = self._target
        tl = self._qlen
        for i in range(tl):
            tgt[i] = self._q[i]
        ttl = self._ttl_max_s
        for _ in range(_CNAME_MAX + 1):
            alias = False
            p = first
            for _ in range(wdns.ancount(b)):
                ol = wdns.expand(b, p, n, self._name)
                if ol < 0:
                    self.stats[_DROPS[-ol - 1]] += 1
                    return
                p = wdns.skip_name(b, p, n)
                rtype = wdns.u16(b, p)
                rlen = wdns.u16(b, p + 8)
                rd = p + wdns.RR_FIXED
                p = rd + rlen
                if (
                    ol != tl
                    or wdns.u16(b, rd - 8) != wdns.CLASS_IN
                    or not wdns.same(self._name, 0, tgt, 0, tl)
                ):
                    continue
                t = wdns.ttl_s(b, rd - 6, self._ttl_max_s)
                if t < ttl:
                    ttl = t
                if rtype == wdns.TYPE_A and rlen == 4:
                    for j in range(4):
                        self.addr[j] = b[rd + j]
                    self.stats["dns_rx_answer"] += 1
                    self.status = DONE
                    self._cache_put(ttl, now_ms)
                    return
                if rtype == wdns.TYPE_CNAME:
                    tl = wdns.expand(b, rd, p, tgt)  # the alias must lie inside its rdata
                    if tl < 0:
                        self.stats[_DROPS[-tl - 1]] += 1
                        return
                    alias = True
                    break
            if not alias:
                self.stats["dns_rx_nodata"] += 1
                self.status = NOT_FOUND
                return
        self.stats["dns_drop_cname_chain"] += 1  # a loop, or longer than we follow
        self.status = NOT_FOUND

    # -- the cache ------------------------------------------------------------------

    def _cache_find(self, name, n, out, now_ms):
        sl = self._slot
        for i in range(len(self._c_len)):
            if (
                self._c_len[i] == n
                and wdns.same(self._c_name, i * sl, name, 0, n)
                and ticks_diff(self._c_exp[i], now_ms) > 0
            ):
                for j in range(4):
                    out[j] = self._c_addr[4 * i + j]
                self.stats["dns_cache_hits"] += 1
                return True
        return False

    def _cache_put(self, ttl_s, now_ms):
        n = self._qlen
        if ttl_s <= 0 or n > self._slot:
            return
        best = 0
        for i in range(len(self._c_len)):
            if not self._c_len[i] or ticks_diff(self._c_exp[i], now_ms) <= 0:
                best = i
                break
            if ticks_diff(self._c_exp[i], self._c_exp[best]) < 0:
                best = i
        sl = self._slot
        for j in range(n):
            self._c_name[best * sl + j] = self._q[j]
        self._c_len[best] = n
        for j in range(4):
            self._c_addr[4 * best + j] = self.addr[j]
        self._c_exp[best] = ticks_add(now_ms, ttl_s * 1000)
