# The interface: one poll loop from the driver up through Ethernet, ARP, IPv4,
# ICMP and UDP (and TCP when attached). Nothing runs outside poll(); time comes in.
from micropython import const, heap_lock, heap_unlock

from stack import arp, csum, mem
from stack import stats as _stats
from stack.frag import Fragments
from stack.icmp import ICMP
from stack.udp import UDPTable
from stack.wire import eth, icmp4, ip4

_IP_OFF = const(14)
_L4_OFF = const(34)  # = ip4.TX_L4_OFF (a test holds them equal)
_RX_BURST = const(8)  # frames handled per poll before timers get their turn
_IDLE_MS = const(1000)  # poll_at() when no timer is pending
_TCP_CSUM = const(16)
_UDP_CSUM = const(6)

# ip4.check() drop codes -1..-5 -> counter names
_IP4_DROPS = (
    "ip4_drop_short",
    "ip4_drop_version",
    "ip4_drop_ihl",
    "ip4_drop_len",
    "ip4_drop_csum",
)


class Interface:
    def __init__(self, driver, cfg, ip="192.0.2.2", netmask="255.255.255.0", gateway="192.0.2.1"):
        self.driver = driver
        self.cfg = cfg
        self.mtu = cfg.mtu
        self.mac = bytes(driver.mac)
        self.ip = ip4.parse_addr(ip)
        self.netmask = ip4.parse_addr(netmask)
        self.gateway = ip4.parse_addr(gateway)
        # 4 spare bytes: a driver can tell a frame that filled the buffer from one cut short
        self.rx_buf = bytearray(cfg.mtu + eth.HDR_LEN + 4)
        self.tx_buf = bytearray(cfg.mtu + eth.HDR_LEN)
        self.stats = _stats.register(
            {},
            "rx_frames",
            "tx_frames",
            "tx_drop_driver",
            "eth_drop_short",
            "eth_drop_not_ours",
            "eth_drop_type",
            "ip4_rx",
            "ip4_drop_not_ours",
            "ip4_drop_fragment",
            "ip4_drop_proto",
            "ip4_drop_too_big",
            "ip4_options_ignored",
            "icmp_rx_echo",
            "icmp_tx_echo_reply",
            "icmp_drop_short",
            "icmp_drop_csum",
            "icmp_drop_type",
            "icmp_drop_broadcast",
            "tcp_drop_csum",
            "tcp_drop_no_engine",
            "udp_drop_csum",
            "ip4_drop_no_addr",
            "poll_alloc_blocked",
            *(_IP4_DROPS + ip4.SRC_DROPS)
        )
        self.arp = arp.Neighbours(self, cfg)
        self.udp = UDPTable(self, cfg)
        self.frag = Fragments(self, cfg)  # IPv4 reassembly and fragmentation
        self.icmp = ICMP(self, cfg)  # ICMP errors, sent and received
        self.tcp = None
        self.dhcp = None  # a stack.dhcp client while DHCP runs (it sets this), else None
        self.dns = bytearray(4 * cfg.dns_servers)  # resolvers in use; 0.0.0.0 = none
        self._ident = 0
        self.in_poll = False  # poll() is running, with the heap locked
        # bumped whenever a route may change (our address, a neighbour entry):
        # headers made by header() hold only for the generation they were made in
        self.gen = 0
        self._announced = False
        self._now = 0  # time of the current poll(): ARP stamps frames held by send_ip4

    # -- transmit ------------------------------------------------------------

    def send_frame(self, buf, n):
        if self.in_poll:
            # the driver runs outside poll()'s heap lock (see poll)
            heap_unlock()
            try:
                ok = self.driver.send(buf, n)
            finally:
                heap_lock()
        else:
            ok = self.driver.send(buf, n)
        if ok is False:
            self.stats["tx_drop_driver"] += 1
            return False
        self.stats["tx_frames"] += 1
        return True

    def locked(self, fn, c, now):
        """fn(c, now), the stack's own work on an application call (output
        after a write, a shutdown, an uncork), or a service that allocates
        nothing (firmware/main.py's UDP echo), with the heap locked as in
        poll(): its calls' frames stay on the C stack instead of the heap
        (MicroPython puts a frame over 11 words there whenever it can), and
        it cannot allocate. An allocation is counted (poll_alloc_blocked).
        Returns fn's result, 0 if it tried to allocate. poll()'s timers and
        poll_at() run through here too (fn the class's function and c the
        interface: a bound method would allocate)."""
        if self.in_poll:
            return fn(c, now)
        heap_lock()
        self.in_poll = True
        try:
            return fn(c, now)
        except MemoryError:
            self.stats["poll_alloc_blocked"] += 1
            return 0
        finally:
            self.in_poll = False
            heap_unlock()

    def send_ip4(self, buf, proto, dst, dst_off, l4_len):
        """Send the L4 message at buf[_L4_OFF:_L4_OFF+l4_len] to the IPv4 address
        dst[dst_off:dst_off+4]: IPv4 header, TCP/UDP checksum, next hop, Ethernet."""
        tl = ip4.HDR_LEN + l4_len
        # Without an address only the DHCP client may send, from 0.0.0.0 (RFC 2131 4.1).
        if not self.ip[0] and (proto != ip4.PROTO_UDP or buf[_L4_OFF] or buf[_L4_OFF + 1] != 68):
            self.stats["ip4_drop_no_addr"] += 1
            return False
        if tl > self.mtu:
            self.stats["ip4_drop_too_big"] += 1
            return False
        self._ident = (self._ident + 1) & 0xFFFF
        ip4.write(buf, _IP_OFF, tl, self._ident, self.cfg.ttl, proto, self.ip, dst, dst_off)
        self._l4_csum(buf, proto, l4_len)
        return self.send_ip4_frame(buf, eth.HDR_LEN + tl)

    def send_ip4_frame(self, buf, n):
        """Send the IPv4 packet at buf[14:n], its header written: Ethernet
        header for the next hop (held while ARP resolves it), then the driver."""
        if ip4.is_broadcast(buf, _IP_OFF + ip4.DST, self.ip, self.netmask):
            eth.write_broadcast(buf, self.mac, eth.TYPE_IP4)
            return self.send_frame(buf, n)
        eth.write(buf, self.mac, 0, self.mac, eth.TYPE_IP4)  # source and type; dst below
        i = self._next_hop(buf, _IP_OFF + ip4.DST)
        if i < 0:
            if ip4.same_subnet(buf, _IP_OFF + ip4.DST, self.ip, self.netmask):
                return self.arp.hold(buf, n, buf, _IP_OFF + ip4.DST, self._now)
            return self.arp.hold(buf, n, self.gateway, 0, self._now)
        self.arp.copy_mac(i, buf, eth.DST_OFF)
        return self.send_frame(buf, n)

    def _next_hop(self, dst, dst_off):
        """The neighbour entry of the next hop to dst (on the subnet: dst
        itself, else the gateway), or -1 while it is not resolved."""
        if ip4.same_subnet(dst, dst_off, self.ip, self.netmask):
            return self.arp.mac_of(dst, dst_off)
        return self.arp.mac_of(self.gateway, 0)

    def _l4_csum(self, buf, proto, l4_len):
        """The TCP or UDP checksum over the pseudo-header (RFC 9293 3.1, RFC 768)."""
        if proto == ip4.PROTO_TCP or proto == ip4.PROTO_UDP:
            c = csum.checksum(
                buf,
                _L4_OFF,
                l4_len,
                csum.pseudo_sum(buf, _IP_OFF + ip4.SRC, _IP_OFF + ip4.DST, proto, l4_len),
            )
            if proto == ip4.PROTO_UDP:
                if c == 0:
                    c = 0xFFFF  # RFC 768: zero means "no checksum"
                co = _L4_OFF + _UDP_CSUM
            else:
                co = _L4_OFF + _TCP_CSUM
            buf[co] = c >> 8
            buf[co + 1] = c & 0xFF

    # A connection sends many datagrams to one place. header() writes the
    # Ethernet and IPv4 headers send_ip4 would put in front of them once, into
    # the connection's own 34 bytes; send_header() then only copies them and
    # fills in the length, identification and checksums. Both take the same
    # route as send_ip4 (they share _next_hop and ip4.write); the copy holds
    # for as long as self.gen does not change.

    def header(self, hdr, proto, dst, dst_off):
        """Write the headers to dst into hdr[0:34] (the IPv4 checksum field
        holds the sum of the fixed fields, see ip4.finish). Returns the
        generation (self.gen) they are valid for, or -1 when they
        cannot be reused: a broadcast, no address, or the next hop not
        resolved (send_ip4 holds the frame and asks)."""
        if not self.ip[0] or ip4.is_broadcast(dst, dst_off, self.ip, self.netmask):
            return -1
        i = self._next_hop(dst, dst_off)
        if i < 0:
            return -1
        gen = self.gen
        eth.write(hdr, self.mac, 0, self.mac, eth.TYPE_IP4)
        self.arp.copy_mac(i, hdr, eth.DST_OFF)
        ip4.write(hdr, _IP_OFF, 0, 0, self.cfg.ttl, proto, self.ip, dst, dst_off)
        ip4.keep_sum(hdr, _IP_OFF)
        return gen

    def send_header(self, buf, hdr, proto, l4_len):
        """Send the L4 message in buf behind a copy of header()'s hdr."""
        mem.copy(buf, 0, hdr, 0, _L4_OFF)
        self._ident = (self._ident + 1) & 0xFFFF
        ip4.finish(buf, _IP_OFF, ip4.HDR_LEN + l4_len, self._ident)
        self._l4_csum(buf, proto, l4_len)
        return self.send_frame(buf, _L4_OFF + l4_len)

    def set_addr(self, ip, netmask, gateway):
        """Configure the address at run time (4-byte buffers); ip 0.0.0.0 takes
        it down. Copies into the existing buffers: sockets keep their state."""
        if not ip4.addr_is(ip, 0, self.ip):
            self._announced = False  # a new address is announced at the next poll
        self.gen += 1
        for i in range(4):
            self.ip[i] = ip[i]
            self.netmask[i] = netmask[i]
            self.gateway[i] = gateway[i]

    # -- the engine ------------------------------------------------------------

    def poll(self, now_ms):
        """Handle waiting frames and due timers; returns ms until the next timer.

        The stack's own work here runs with the heap locked; the driver's
        does not (a driver, or a simulated chip, may make its objects when
        first used). Nothing on the stack's per-packet path allocates (the
        architecture's rule; tests prove it), and with the heap locked
        MicroPython keeps every call's frame on the C stack instead of
        allocating and freeing one for each call of a larger function: 12%
        of the instructions per segment (bench/README.md). Connection
        set-up's ISN hash opens the lock around itself (stack/tcp.py _iss).
        Work that still tries to allocate is a defect: it is stopped,
        counted (poll_alloc_blocked), and the loop goes on."""
        self._now = now_ms
        if not self._announced:
            self._announced = True
            if self.ip[0]:
                self.arp.announce()
        drv = self.driver
        rx = self.rx_buf
        for _ in range(_RX_BURST):
            n = drv.recv_into(rx)
            if n <= 0:
                break
            self.stats["rx_frames"] += 1
            heap_lock()
            self.in_poll = True
            try:
                self._eth_input(rx, n, now_ms)
            except MemoryError:
                self.stats["poll_alloc_blocked"] += 1
            finally:
                self.in_poll = False
                heap_unlock()
        return self.locked(Interface._timers, self, now_ms)

    def _timers(self, now_ms):
        """Each part runs its due timers and tells when its next one is."""
        best = self.arp.poll(now_ms)
        t = self.frag.poll(now_ms)
        if t >= 0 and (best < 0 or t < best):
            best = t
        if self.dhcp is not None:
            self.dhcp.poll(now_ms)
            t = self.dhcp.poll_at(now_ms)
            if t >= 0 and (best < 0 or t < best):
                best = t
        if self.tcp is not None:
            t = self.tcp.poll(now_ms)  # runs the due timers and tells the next one
            if t >= 0 and (best < 0 or t < best):
                best = t
        return _IDLE_MS if best < 0 else best

    def poll_at(self, now_ms):
        """ms until poll() has timer work to do (0: now). A main loop asks
        once a turn; it runs with the heap locked, as poll() does, so its
        calls' frames stay on the C stack instead of being allocated and
        freed on the heap (cheap on a clean heap, dear with garbage below)."""
        return self.locked(Interface._poll_at, self, now_ms)

    def _poll_at(self, now_ms):
        best = self.arp.poll_at(now_ms)
        t = self.frag.poll_at(now_ms)
        if t >= 0 and (best < 0 or t < best):
            best = t
        if self.dhcp is not None:
            t = self.dhcp.poll_at(now_ms)
            if t >= 0 and (best < 0 or t < best):
                best = t
        if self.tcp is not None:
            t = self.tcp.poll_at(now_ms)
            if t >= 0 and (best < 0 or t < best):
                best = t
        return _IDLE_MS if best < 0 else best

    def _eth_input(self, buf, n, now_ms):
        if eth.check(buf, n) < 0:
            self.stats["eth_drop_short"] += 1
            return
        if not (eth.dst_is(buf, self.mac) or eth.dst_is_broadcast(buf)):
            self.stats["eth_drop_not_ours"] += 1
            return
        t = eth.ethertype(buf)
        if t == eth.TYPE_IP4:
            self._ip4_input(buf, n, now_ms)
        elif t == eth.TYPE_ARP:
            self.arp.input(buf, eth.HDR_LEN, n, now_ms)
        else:
            self.stats["eth_drop_type"] += 1

    def _ip4_input(self, buf, n, now_ms):
        o = _IP_OFF
        hl = ip4.check(buf, o, n)
        if hl < 0:
            self.stats[_IP4_DROPS[-hl - 1]] += 1
            return
        if not ip4.addr_is(buf, o + ip4.DST, self.ip) or not self.ip[0]:
            if not ip4.is_broadcast(buf, o + ip4.DST, self.ip, self.netmask):
                self.stats["ip4_drop_not_ours"] += 1
                return
        bad = ip4.check_src(buf, o, self.ip, self.netmask)
        if bad:
            self.stats[ip4.SRC_DROPS[-bad - 1]] += 1  # RFC 1122 3.2.1.3; LAND too
            return
        if ip4.is_fragment(buf, o):
            o = self.frag.input(buf, o, hl, now_ms)  # stack/frag.py
            if o < 0:
                return
            buf = self.frag.datagram  # the whole datagram, reassembled
            hl = ip4.header_len(buf, o)
        if hl > ip4.HDR_LEN:
            self.stats["ip4_options_ignored"] += 1  # RFC 1122 3.2.1.8: ignore
        self.stats["ip4_rx"] += 1
        l4 = o + hl
        l4_len = ip4.total_len(buf, o) - hl  # Ethernet padding after this is ignored
        p = ip4.proto(buf, o)
        if p == ip4.PROTO_TCP:
            if self._l4_sum(buf, o, l4, l4_len, p) != 0xFFFF:
                self.stats["tcp_drop_csum"] += 1
            elif self.tcp is None:
                self.stats["tcp_drop_no_engine"] += 1
            else:
                self.tcp.input(buf, o, l4, l4_len, now_ms)
        elif p == ip4.PROTO_UDP:
            # RFC 768: a zero checksum field means the sender computed none.
            if (
                l4_len >= 8
                and (buf[l4 + _UDP_CSUM] | buf[l4 + _UDP_CSUM + 1])
                and self._l4_sum(buf, o, l4, l4_len, p) != 0xFFFF
            ):
                self.stats["udp_drop_csum"] += 1
            else:
                self.udp.input(buf, o, l4, l4_len)
        elif p == ip4.PROTO_ICMP:
            self._icmp_input(buf, o, l4, l4_len)
        else:
            self.stats["ip4_drop_proto"] += 1

    def _l4_sum(self, buf, o, l4, l4_len, proto):
        return csum.sum16(
            buf, l4, l4_len, csum.pseudo_sum(buf, o + ip4.SRC, o + ip4.DST, proto, l4_len)
        )

    def _icmp_input(self, buf, o, l4, n):
        if icmp4.check(buf, l4, n) < 0:
            self.stats["icmp_drop_short"] += 1
            return
        if csum.sum16(buf, l4, n, 0) != 0xFFFF:
            self.stats["icmp_drop_csum"] += 1
            return
        if icmp4.msg_type(buf, l4) != icmp4.TYPE_ECHO_REQUEST:
            self.icmp.input(buf, o, l4, n)  # errors about our flows (stack/icmp.py)
            return
        self.stats["icmp_rx_echo"] += 1
        if not ip4.addr_is(buf, o + ip4.DST, self.ip):
            self.stats["icmp_drop_broadcast"] += 1  # no replies to broadcast pings
            return
        if n + ip4.HDR_LEN > self.mtu:
            self.icmp.echo_reply_fragmented(buf, o, l4, n)  # a reassembled request
            return
        # RFC 792: the reply carries the request's identifier, sequence and data.
        tx = self.tx_buf
        mem.copy(tx, _L4_OFF, buf, l4, n)
        icmp4.set_type(tx, _L4_OFF, icmp4.TYPE_ECHO_REPLY)
        old = icmp4.TYPE_ECHO_REQUEST << 8 | icmp4.code(tx, _L4_OFF)
        new = icmp4.TYPE_ECHO_REPLY << 8 | icmp4.code(tx, _L4_OFF)
        icmp4.set_csum(tx, _L4_OFF, csum.update16(icmp4.csum_field(tx, _L4_OFF), old, new))
        if self.send_ip4(tx, ip4.PROTO_ICMP, buf, o + ip4.SRC, n):
            self.stats["icmp_tx_echo_reply"] += 1
