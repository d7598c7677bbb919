# UDP sockets (RFC 768) over preallocated rings.
#
# Each socket keeps received datagrams in its own byte ring as records
# [length:2][source ip:4][source port:2][data], so a burst is queued, not lost,
# until the ring is full; then new datagrams are dropped and counted.
from micropython import const

from stack import mem
from stack import stats as _stats
from stack.wire import ip4, udp as wudp

_REC_HDR = const(8)
_EPHEMERAL_FIRST = const(49152)
_EPHEMERAL_SPAN = const(16384)


class UDPSocket:
    def __init__(self, table, ring_bytes):
        self._table = table
        self._ring = bytearray(ring_bytes)
        self._head = 0  # next byte to read
        self._used = 0
        self._hdr = bytearray(_REC_HDR)
        self.port = 0  # 0: not bound
        self.records = 0
        self.remote_ip = bytearray(4)  # set by connect(): ICMP errors are matched to it
        self.remote_port = 0
        self.error = 0  # errno from an ICMP error, reported once (then cleared)
        self.pooled = True  # False: made for a stack service (DHCP, DNS), not from the pool

    # -- ring ----------------------------------------------------------------

    def _put(self, src, soff, n, pos):
        size = len(self._ring)
        first = size - pos
        if first >= n:
            mem.copy(self._ring, pos, src, soff, n)
        else:
            mem.copy(self._ring, pos, src, soff, first)
            mem.copy(self._ring, 0, src, soff + first, n - first)
        pos += n
        return pos - size if pos >= size else pos

    def _get(self, dst, doff, n, pos):
        size = len(self._ring)
        first = size - pos
        if first >= n:
            mem.copy(dst, doff, self._ring, pos, n)
        else:
            mem.copy(dst, doff, self._ring, pos, first)
            mem.copy(dst, doff + first, self._ring, 0, n - first)
        pos += n
        return pos - size if pos >= size else pos

    def _push(self, buf, ip_off, l4_off, n):
        """Queue one datagram's data (n bytes after the UDP header); False if full."""
        if self._used + _REC_HDR + n > len(self._ring):
            return False
        h = self._hdr
        h[0] = n >> 8
        h[1] = n & 0xFF
        mem.copy(h, 2, buf, ip_off + ip4.SRC, 4)
        mem.copy(h, 6, buf, l4_off, 2)  # source port, big-endian as on the wire
        pos = self._head + self._used
        if pos >= len(self._ring):
            pos -= len(self._ring)
        pos = self._put(h, 0, _REC_HDR, pos)
        self._put(buf, l4_off + wudp.HDR_LEN, n, pos)
        self._used += _REC_HDR + n
        self.records += 1
        return True

    # -- application side ------------------------------------------------------

    def bind(self, port):
        self._table.bind(self, port)

    def pending(self):
        """Length of the next datagram, or -1 if none is queued."""
        if not self.records:
            return -1
        r = self._ring
        h = self._head
        return (r[h] << 8) | r[h + 1 if h + 1 < len(r) else 0]

    def recv_into_from(self, buf, addr):
        """Copy the next datagram into buf (truncating, as recvfrom does) and its
        source into addr (bytearray(6): ip, port big-endian). Returns the number
        of bytes copied, or -1 if nothing is queued. Allocates nothing."""
        if not self.records:
            return -1
        h = self._hdr
        pos = self._get(h, 0, _REC_HDR, self._head)
        n = (h[0] << 8) | h[1]
        mem.copy(addr, 0, h, 2, 6)
        take = n if n <= len(buf) else len(buf)
        self._get(buf, 0, take, pos)
        pos += n
        size = len(self._ring)
        self._head = pos - size if pos >= size else pos
        self._used -= _REC_HDR + n
        self.records -= 1
        return take

    def connect(self, ip, ip_off, port):
        """Remember the peer (socket connect()): an ICMP port unreachable about
        a datagram sent to it sets error = ECONNREFUSED, as on Linux."""
        mem.copy(self.remote_ip, 0, ip, ip_off, 4)
        self.remote_port = port
        self.error = 0

    def take_error(self):
        """The pending errno (0 if none), cleared: a socket reports it once."""
        e = self.error
        self.error = 0
        return e

    def sendto(self, data, off, n, ip, ip_off, port):
        """Send data[off:off+n] to ip[ip_off:ip_off+4]:port. False if dropped."""
        return self._table.send(self, data, off, n, ip, ip_off, port)

    def close(self):
        self._table.unbind(self)
        self._head = self._used = self.records = 0
        self.remote_port = self.error = 0


class UDPTable:
    def __init__(self, iface, cfg):
        self._iface = iface
        self._bound = []
        self._free = [UDPSocket(self, cfg.udp_rx_bytes) for _ in range(cfg.udp_sockets)]
        self._next_port = 0
        self.stats = _stats.register(
            iface.stats,
            "udp_rx",
            "udp_tx",
            "udp_drop_short",
            "udp_drop_len",
            "udp_drop_no_port",
            "udp_drop_full",
        )

    def socket(self, ring_bytes=0):
        """A socket from the pool; OSError(ENOMEM) when all are in use. With
        ring_bytes: a new socket with a ring of that size, outside the pool, for
        a stack service (DHCP, DNS) so that it never takes one of the user's."""
        if ring_bytes:
            s = UDPSocket(self, ring_bytes)
            s.pooled = False
            return s
        if not self._free:
            raise OSError(12)  # ENOMEM
        return self._free.pop()

    def bind(self, sock, port):
        if port == 0:
            port = self._ephemeral()
        for s in self._bound:
            if s.port == port:
                raise OSError(98)  # EADDRINUSE
        if sock.port:
            raise OSError(22)  # EINVAL: already bound
        sock.port = port
        self._bound.append(sock)

    def _ephemeral(self):
        for _ in range(_EPHEMERAL_SPAN):
            port = _EPHEMERAL_FIRST + self._next_port
            self._next_port = (self._next_port + 1) % _EPHEMERAL_SPAN
            if not any(s.port == port for s in self._bound):
                return port
        raise OSError(98)

    def unbind(self, sock):
        if sock in self._bound:
            self._bound.remove(sock)
        sock.port = 0
        if sock.pooled and sock not in self._free:
            self._free.append(sock)

    def input(self, buf, ip_off, l4_off, l4_len):
        ln = wudp.check(buf, l4_off, l4_len)
        if ln < 0:
            self.stats["udp_drop_short" if ln == wudp.DROP_SHORT else "udp_drop_len"] += 1
            return
        port = wudp.dst_port(buf, l4_off)
        for s in self._bound:
            if s.port == port:
                if s._push(buf, ip_off, l4_off, ln - wudp.HDR_LEN):
                    self.stats["udp_rx"] += 1
                else:
                    self.stats["udp_drop_full"] += 1
                return
        self.stats["udp_drop_no_port"] += 1
        self._iface.icmp.port_unreachable(buf, ip_off)  # RFC 1122 4.1.3.1

    def icmp_error(self, err, port, ip, ip_off, rport):
        """An ICMP hard error about a datagram we sent from port to
        ip[ip_off:+4]:rport: the socket connected there gets err. True if one did."""
        for s in self._bound:
            if s.port == port and s.remote_port == rport and ip4.addr_is(ip, ip_off, s.remote_ip):
                s.error = err
                return True
        return False

    def send(self, sock, data, off, n, ip, ip_off, port):
        iface = self._iface
        if not sock.port:
            self.bind(sock, 0)
        if n + wudp.HDR_LEN + ip4.HDR_LEN > iface.mtu:
            ok = iface.frag.send_udp(sock.port, port, data, off, n, ip, ip_off)  # fragments
            self.stats["udp_tx"] += 1
            return ok
        b = iface.tx_buf
        o = ip4.TX_L4_OFF
        wudp.write(b, o, sock.port, port, n + wudp.HDR_LEN)
        mem.copy(b, o + wudp.HDR_LEN, data, off, n)
        self.stats["udp_tx"] += 1
        return iface.send_ip4(b, ip4.PROTO_UDP, ip, ip_off, n + wudp.HDR_LEN)
