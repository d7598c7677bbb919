# ICMP beyond the plain echo reply (iface.py answers those): the error
# messages we send (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3.2.7-8), the ones we
# receive, matched to our UDP and TCP flows, and echo replies too big for one
# frame (requests that came in fragments).
from micropython import const

from stack import csum, mem
from stack import stats as _stats
from stack.clock import ticks_diff
from stack.wire import icmp4, ip4
from stack.wire import udp as wudp

_L4_OFF = const(34)
_ETH_DST = const(14)  # the Ethernet header sits this far before the IPv4 header
_MILLI = const(1000)  # the token bucket counts thousandths of a message
_ECONNREFUSED = const(111)
_ENOPROTOOPT = const(92)

_STAT_NAMES = (
    "icmp_tx_unreach",
    "icmp_tx_time_exceeded",
    "icmp_tx_echo_frag",
    "icmp_err_suppressed",
    "icmp_err_rate_limited",
    "icmp_rx_unreach",
    "icmp_rx_port_unreach",
    "icmp_rx_frag_needed",
    "icmp_rx_time_exceeded",
    "icmp_rx_error_other",
    "icmp_rx_error_matched",
    "icmp_drop_error_short",
    "icmp_drop_error_not_ours",
)


class ICMP:
    def __init__(self, iface, cfg):
        self._iface = iface
        self._rate = cfg.icmp_err_per_s
        self._cap = cfg.icmp_err_burst * _MILLI
        # refilling longer than this fills the bucket (keeps the product a small int)
        self._fill_ms = self._cap // self._rate if self._rate > 0 else 0
        self._tokens = self._cap
        self._stamp = 0
        self.stats = _stats.register(iface.stats, *_STAT_NAMES)

    # -- errors we send -----------------------------------------------------------

    def _allowed(self, now_ms):
        """RFC 1812 4.3.2.8: a token bucket of icmp_err_burst messages filled
        at icmp_err_per_s."""
        if self._rate > 0:
            dt = ticks_diff(now_ms, self._stamp)
            if dt >= self._fill_ms or dt < 0:
                self._tokens = self._cap
            elif dt > 0:
                t = self._tokens + dt * self._rate
                self._tokens = t if t < self._cap else self._cap
        self._stamp = now_ms
        if self._tokens < _MILLI:
            return False
        self._tokens -= _MILLI
        return True

    def send_error(self, t, code, buf, ip_off):
        """Answer the datagram whose IPv4 header is at buf[ip_off] (an Ethernet
        header before it) with ICMP type t / code, quoting its header and first
        8 data bytes (RFC 792). True if sent; suppressed where RFC 1122 3.2.2 /
        RFC 1812 4.3.2.7 forbid an error, and rate-limited."""
        iface = self._iface
        st = self.stats
        hl = ip4.header_len(buf, ip_off)
        tl = ip4.total_len(buf, ip_off)
        if (
            not ip4.addr_is(buf, ip_off + ip4.DST, iface.ip)  # broadcast or multicast
            or buf[ip_off - _ETH_DST] & 1  # link-layer broadcast or multicast
            or ip4.frag_offset(buf, ip_off)  # not the first fragment
            or (
                ip4.proto(buf, ip_off) == ip4.PROTO_ICMP
                and (tl <= hl or icmp4.is_error(icmp4.msg_type(buf, ip_off + hl)))
            )
        ):
            st["icmp_err_suppressed"] += 1
            return False
        if not self._allowed(iface._now):
            st["icmp_err_rate_limited"] += 1
            return False
        q = hl + icmp4.QUOTE_DATA
        if q > tl:
            q = tl
        tx = iface.tx_buf
        icmp4.write_error(tx, _L4_OFF, t, code)
        mem.copy(tx, _L4_OFF + icmp4.HDR_LEN, buf, ip_off, q)
        n = icmp4.HDR_LEN + q
        icmp4.set_csum(tx, _L4_OFF, csum.checksum(tx, _L4_OFF, n, 0))
        if not iface.send_ip4(tx, ip4.PROTO_ICMP, buf, ip_off + ip4.SRC, n):
            return False
        st["icmp_tx_time_exceeded" if t == icmp4.TYPE_TIME_EXCEEDED else "icmp_tx_unreach"] += 1
        return True

    def port_unreachable(self, buf, ip_off):
        """RFC 1122 3.2.2.1 / 4.1.3.1: UDP to a port nobody listens on."""
        return self.send_error(icmp4.TYPE_DEST_UNREACH, icmp4.CODE_PORT_UNREACH, buf, ip_off)

    # -- echo replies in fragments -----------------------------------------------------

    def echo_reply_fragmented(self, buf, o, l4, n):
        """Echo the request at buf[l4:l4+n] (a reassembled datagram, larger than
        one frame) back in fragments. The request's buffer is ours until the
        next fragment arrives, so the reply is made in place."""
        old = icmp4.TYPE_ECHO_REQUEST << 8 | icmp4.code(buf, l4)
        icmp4.set_type(buf, l4, icmp4.TYPE_ECHO_REPLY)
        new = icmp4.TYPE_ECHO_REPLY << 8 | icmp4.code(buf, l4)
        icmp4.set_csum(buf, l4, csum.update16(icmp4.csum_field(buf, l4), old, new))
        if self._iface.frag.send(ip4.PROTO_ICMP, buf, o + ip4.SRC, buf, 0, buf, l4, n):
            self.stats["icmp_tx_echo_frag"] += 1
            return True
        return False

    # -- errors we receive --------------------------------------------------------------

    def input(self, buf, o, l4, n):
        """A checked ICMP message other than an echo request."""
        st = self.stats
        t = icmp4.msg_type(buf, l4)
        if not icmp4.is_error(t):
            st["icmp_drop_type"] += 1
            return
        # the datagram it is about: its IPv4 header and 8 bytes (RFC 792)
        q = l4 + icmp4.HDR_LEN
        left = n - icmp4.HDR_LEN
        if left < ip4.HDR_LEN or buf[q] >> 4 != 4:
            st["icmp_drop_error_short"] += 1
            return
        qhl = ip4.header_len(buf, q)
        if qhl < ip4.HDR_LEN or left < qhl + icmp4.QUOTE_DATA:
            st["icmp_drop_error_short"] += 1
            return
        if not ip4.addr_is(buf, q + ip4.SRC, self._iface.ip):
            st["icmp_drop_error_not_ours"] += 1  # about a datagram we did not send
            return
        code = icmp4.code(buf, l4)
        if t == icmp4.TYPE_DEST_UNREACH:
            st["icmp_rx_unreach"] += 1
            if code == icmp4.CODE_FRAG_NEEDED:
                # we send with DF and never more than our MTU; no path MTU
                # discovery (RFC 1191) yet, so the message is only counted
                st["icmp_rx_frag_needed"] += 1
            elif code == icmp4.CODE_PORT_UNREACH or code == icmp4.CODE_PROTO_UNREACH:
                # RFC 1122 4.2.3.9 / 4.1.3.3: hard errors, passed to the flow
                err = _ENOPROTOOPT
                if code == icmp4.CODE_PORT_UNREACH:
                    st["icmp_rx_port_unreach"] += 1
                    err = _ECONNREFUSED
                if self._to_flow(err, buf, q, qhl):
                    st["icmp_rx_error_matched"] += 1
            # codes 0, 1, 5 ...: soft errors (RFC 1122 4.2.3.9), counted only
        elif t == icmp4.TYPE_TIME_EXCEEDED:
            st["icmp_rx_time_exceeded"] += 1
        else:
            st["icmp_rx_error_other"] += 1

    def _to_flow(self, err, buf, q, qhl):
        iface = self._iface
        p = ip4.proto(buf, q)
        if p == ip4.PROTO_UDP:
            return iface.udp.icmp_error(
                err, wudp.src_port(buf, q + qhl), buf, q + ip4.DST, wudp.dst_port(buf, q + qhl)
            )
        if p == ip4.PROTO_TCP and iface.tcp is not None:
            return iface.tcp.icmp_error(err, buf, q)
        return False
