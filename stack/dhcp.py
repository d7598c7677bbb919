# DHCP client (RFC 2131) with address conflict detection (RFC 5227).
#
#   from stack import dhcp
#   client = dhcp.DHCPClient(iface)   # iface.dhcp = client; iface.poll() drives it
#   client.start()                    # or start(last_addr) for INIT-REBOOT
#
# One client per interface. Every buffer is allocated here, once; a renewal
# (REQUEST out, ACK in, timers re-armed) allocates nothing (tests/test_dhcp_unixport.py).
# Times: retransmissions and probes use ms deadlines (ticks_diff, seconds
# away); the lease uses a seconds clock (_age_s) so that leases of days or
# "infinite" stay small ints on 32-bit boards.
from micropython import const
from random import getrandbits

from stack import acd, dhcp_msg
from stack import stats as _stats
from stack.clock import ticks_add, ticks_diff
from stack.wire import dhcp4 as wd

STOPPED = const(0)
INIT = const(1)
SELECTING = const(2)
REQUESTING = const(3)
CHECKING = const(4)  # RFC 5227 probing of the offered address
BOUND = const(5)
RENEWING = const(6)
REBINDING = const(7)
REBOOTING = const(8)  # INIT-REBOOT: asking for the last address back (RFC 2131 3.2)
DECLINED = const(9)  # waiting after a DHCPDECLINE (RFC 2131 3.1 step 5: 10 s)

_NAMES = (
    "STOPPED",
    "INIT",
    "SELECTING",
    "REQUESTING",
    "CHECKING",
    "BOUND",
    "RENEWING",
    "REBINDING",
    "REBOOTING",
    "DECLINED",
)

_BACKOFF_MS = const(4_000)  # RFC 2131 4.1: 4 s, doubled up to 64 s, each +-1 s
_BACKOFF_MAX_SHIFT = const(4)
_REQUEST_TRIES = const(4)  # REQUESTs (selecting) before starting over
_REBOOT_TRIES = const(3)
_RETX_MIN_S = const(60)  # RFC 2131 4.4.5: renew/rebind retransmission floor
_DECLINE_WAIT_MS = const(10_000)
_MAX_WAIT_MS = const(3_600_000)  # poll_at() ceiling
_TX_BYTES = const(348)  # 240 fixed + our options (hostname up to 63) + padding to 300
_HOST_MAX = const(63)

_BCAST = b"\xff\xff\xff\xff"
_ZERO4 = b"\x00\x00\x00\x00"

_COUNTERS = (
    "dhcp_tx_discover",
    "dhcp_tx_request",
    "dhcp_tx_decline",
    "dhcp_tx_release",
    "dhcp_rx_offer",
    "dhcp_rx_ack",
    "dhcp_rx_nak",
    "dhcp_bound",
    "dhcp_renewed",
    "dhcp_rebound",
    "dhcp_expired",
    "dhcp_conflicts",
    "dhcp_drop_short",
    "dhcp_drop_format",
    "dhcp_drop_options",
    "dhcp_drop_too_big",
    "dhcp_drop_port",
    "dhcp_drop_not_ours",
    "dhcp_drop_unexpected",
    "dhcp_drop_bad_addr",
)
# wd.check() drop codes -1..-3 -> counter names
_CHECK_DROPS = ("dhcp_drop_short", "dhcp_drop_format", "dhcp_drop_options")


_rand_ms = acd.rand_ms


def _unicast_ok(b, o):
    """A usable host address: not 0/8, loopback, multicast/reserved or broadcast."""
    a = b[o]
    return 0 < a < 224 and a != 127


class DHCPClient:
    def __init__(self, iface, hostname=None):
        cfg = iface.cfg
        self._iface = iface
        self._sock = iface.udp.socket(2 * (cfg.dhcp_msg_bytes + 8))
        self._rx = bytearray(cfg.dhcp_msg_bytes)
        self._tx = bytearray(_TX_BYTES)
        self._src = bytearray(6)  # sender ip + port of the message in _rx
        self._xid = bytearray(4)
        self._client_id = bytearray(7)  # RFC 2132 9.14: type 1 (Ethernet) + MAC
        self._client_id[0] = 1
        for i in range(6):
            self._client_id[1 + i] = iface.mac[i]
        self._host = bytearray(_HOST_MAX)
        self._host_len = 0
        self.set_hostname(hostname or cfg.hostname or "mpy-%02x%02x%02x" % tuple(iface.mac[3:6]))
        # the lease (also read by the page and network.LAN)
        self.addr = bytearray(4)  # offered / leased address
        self.netmask = bytearray(4)
        self.router = bytearray(4)
        self.server = bytearray(4)  # server identifier (option 54)
        self.dns = bytearray(4 * cfg.dns_servers)
        self.dns_count = 0
        self.use_dns = True  # copy DHCP's DNS servers to iface.dns (False: static ones win)
        self.lease_s = 0
        self.t1_s = 0
        self.t2_s = 0
        self._lease_max_s = cfg.dhcp_lease_max_s
        self._probe = acd.Probe(iface, cfg.dhcp_probes, cfg.dhcp_probe_ms)
        self._init_delay_ms = cfg.dhcp_init_delay_ms
        # lease clock: whole seconds since the REQUEST that got the lease
        self._age_s = 0
        self._mark_ms = 0  # ticks of the last whole second of _age_s
        self._req_ms = 0  # ticks when the current exchange's first REQUEST left
        self._retx_s = 0  # renew/rebind retransmission (lease clock)
        self._have_lease = False  # a lease whose clock is running (for REBOOTING's fallback)
        # ms timer for the other states
        self._wake_ms = 0
        self._arm = False  # first poll() after start(): set _wake_ms from its now
        self._tries = 0
        self._start_ms = 0  # the exchange's first message (the `secs` field)
        self._state = STOPPED
        self.stats = _stats.register(iface.stats, *_COUNTERS)
        iface.dhcp = self

    # -- the API -------------------------------------------------------------------

    def set_hostname(self, name):
        """Option 12: 1..63 letters, digits and hyphens (an RFC 1123 label)."""
        if not 0 < len(name) <= _HOST_MAX:
            raise ValueError("hostname: 1..63 characters")
        for i in range(len(name)):
            c = ord(name[i])
            if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 45):
                raise ValueError("hostname: letters, digits and '-' only")
        for i in range(len(name)):
            self._host[i] = ord(name[i])
        self._host_len = len(name)

    def hostname(self):
        return bytes(self._host[: self._host_len]).decode()

    def start(self, last_addr=None):
        """Begin at INIT (DISCOVER after a random delay), or at INIT-REBOOT asking
        for last_addr (a 4-byte buffer or dotted text) back. The address stays
        down until a lease is bound and probed."""
        self._down()
        self._have_lease = False
        self._tries = 0
        if not self._sock.port:
            self._sock.bind(wd.CLIENT_PORT)
        if last_addr is not None:
            if isinstance(last_addr, str):
                from stack.wire import ip4

                last_addr = ip4.parse_addr(last_addr)
            for i in range(4):
                self.addr[i] = last_addr[i]
            self._state = REBOOTING
        else:
            self._state = INIT
        self._arm = True

    def reboot(self):
        """INIT-REBOOT with the current or last address (after a link came back,
        or active(False)/active(True)): the address is verified before use."""
        if self._state == STOPPED or not self.addr[0]:
            self.start()
            return
        was_bound = self._state in (BOUND, RENEWING, REBINDING)
        self._down()
        self._have_lease = was_bound  # RFC 2131 3.2 step 5: may resume it if nobody answers
        self._tries = 0
        self._state = REBOOTING
        self._arm = True

    def stop(self, release=False):
        """Stop; with release=True a bound lease is given back (DHCPRELEASE)."""
        if release and self._state in (BOUND, RENEWING, REBINDING):
            self._new_xid()
            n = dhcp_msg.build(self, wd.RELEASE, self._iface.ip, 0, None, True)
            self.stats["dhcp_tx_release"] += 1
            self._sock.sendto(self._tx, 0, n, self.server, 0, wd.SERVER_PORT)
        self._down()
        self._have_lease = False
        self._state = STOPPED
        self._sock.close()

    def state(self):
        return self._state

    def state_name(self):
        return _NAMES[self._state]

    def bound(self):
        """True while the interface uses a leased address."""
        return BOUND <= self._state <= REBINDING

    def lease_left_ms(self, now_ms):
        """ms until the lease expires (0 when there is none)."""
        if not self.bound():
            return 0
        left = (self.lease_s - self._age_s) * 1000 - ticks_diff(now_ms, self._mark_ms)
        return left if left > 0 else 0

    # -- the engine (iface.poll calls these) ---------------------------------------

    def poll(self, now_ms):
        st = self._state
        if st == STOPPED:
            return
        if self._arm:
            self._arm = False
            self._wake_ms = ticks_add(
                now_ms, _rand_ms(self._init_delay_ms) if st == INIT else 0
            )
        self._receive(now_ms)
        st = self._state
        if BOUND <= st <= REBINDING:
            self._lease_timers(now_ms)
        elif st == CHECKING:
            r = self._probe.poll(now_ms)
            if r == acd.CONFLICT:
                self._decline(now_ms)
            elif r == acd.DONE:
                self._configure()  # iface announces the address at its next poll
                self._state = BOUND
                self.stats["dhcp_bound"] += 1
        elif ticks_diff(now_ms, self._wake_ms) >= 0:
            self._timeout(now_ms)

    def poll_at(self, now_ms):
        """ms until poll() has work (0: now), or -1 when stopped."""
        st = self._state
        if st == STOPPED:
            return -1
        if self._arm or self._sock.records:
            return 0
        if BOUND <= st <= REBINDING:
            nxt = self.lease_s
            if st == BOUND:
                nxt = self.t1_s
            elif self._retx_s < nxt:
                nxt = self._retx_s
            if st == RENEWING and self.t2_s < nxt:
                nxt = self.t2_s
            s = nxt - self._age_s
            if s > _MAX_WAIT_MS // 1000:
                return _MAX_WAIT_MS
            left = s * 1000 - ticks_diff(now_ms, self._mark_ms)
        elif st == CHECKING:
            return self._probe.poll_at(now_ms)
        else:
            left = ticks_diff(self._wake_ms, now_ms)
        return left if left > 0 else 0

    # -- timers --------------------------------------------------------------------

    def _backoff(self, now_ms):
        """Next retransmission: 4 s doubling to 64 s, randomized by +-1 s."""
        k = self._tries - 1
        if k > _BACKOFF_MAX_SHIFT:
            k = _BACKOFF_MAX_SHIFT
        self._wake_ms = ticks_add(now_ms, (_BACKOFF_MS << k) - 1000 + _rand_ms(2000))

    def _timeout(self, now_ms):
        st = self._state
        if st == INIT or st == SELECTING:
            if st == INIT:
                self._state = SELECTING
                self._tries = 0
                self._new_xid()
                self._start_ms = now_ms
            self._tries += 1
            self._send_discover(now_ms)
            self._backoff(now_ms)
        elif st == REQUESTING:
            if self._tries >= _REQUEST_TRIES:
                self._restart(now_ms)
                return
            self._tries += 1
            self._send_request(now_ms, _BCAST)
            self._backoff(now_ms)
        elif st == REBOOTING:
            if self._tries == 0:
                self._new_xid()
                self._start_ms = now_ms
                self._req_ms = now_ms
            elif self._tries >= _REBOOT_TRIES:
                self._advance(now_ms)
                if self._have_lease and self._age_s < self.lease_s:
                    self._configure()  # nobody answered: finish the lease we had (RFC 2131 3.2)
                    self._state = BOUND
                else:
                    self._restart(now_ms)
                return
            self._tries += 1
            self._send_request(now_ms, _BCAST)
            self._backoff(now_ms)
        elif st == DECLINED:
            self._restart(now_ms)

    def _restart(self, now_ms):
        """Back to INIT, sending the first DISCOVER now."""
        self._state = INIT
        self._wake_ms = now_ms
        self._timeout(now_ms)

    def _advance(self, now_ms):
        d = ticks_diff(now_ms, self._mark_ms)
        if d >= 1000:
            s = d // 1000
            self._age_s += s
            self._mark_ms = ticks_add(self._mark_ms, s * 1000)

    def _lease_timers(self, now_ms):
        self._advance(now_ms)
        age = self._age_s
        st = self._state
        if age >= self.lease_s:
            # RFC 2131 4.4.5: the lease is over; start again from INIT. The
            # address goes down, sockets keep their buffers and state.
            self.stats["dhcp_expired"] += 1
            self._down()
            self._have_lease = False
            self._restart(now_ms)
            return
        if st == BOUND and age >= self.t1_s:
            self._state = RENEWING
            self._new_xid()
            self._start_ms = now_ms
            self._req_ms = now_ms
            self._renew_send(now_ms, self.t2_s)
        elif st == RENEWING and age >= self.t2_s:
            self._state = REBINDING
            self._new_xid()
            self._start_ms = now_ms
            self._req_ms = now_ms
            self._renew_send(now_ms, self.lease_s)
        elif st != BOUND and age >= self._retx_s:
            self._renew_send(now_ms, self.t2_s if st == RENEWING else self.lease_s)

    def _renew_send(self, now_ms, until_s):
        # RFC 2131 4.4.5: retransmit after half the time left, at least 60 s apart.
        half = (until_s - self._age_s) // 2
        self._retx_s = self._age_s + (half if half > _RETX_MIN_S else _RETX_MIN_S)
        self._send_request(now_ms, self.server if self._state == RENEWING else _BCAST)

    def _decline(self, now_ms):
        # RFC 2131 4.4.1 / RFC 5227 2.1.1: someone else has the address.
        self.stats["dhcp_conflicts"] += 1
        self._new_xid()
        n = dhcp_msg.build(self, wd.DECLINE, _ZERO4, 0, self.addr, True)
        self.stats["dhcp_tx_decline"] += 1
        self._sock.sendto(self._tx, 0, n, _BCAST, 0, wd.SERVER_PORT)
        for i in range(4):
            self.addr[i] = 0  # the next DISCOVER does not ask for it again
        self._have_lease = False
        self._state = DECLINED
        self._wake_ms = ticks_add(now_ms, _DECLINE_WAIT_MS)

    # -- the interface's address ---------------------------------------------------

    def _configure(self):
        iface = self._iface
        iface.set_addr(self.addr, self.netmask, self.router)
        if self.use_dns:
            d = iface.dns
            for i in range(len(d)):
                d[i] = self.dns[i] if i < len(self.dns) else 0

    def _down(self):
        iface = self._iface
        self._probe.cancel()
        if iface.ip[0]:
            iface.set_addr(_ZERO4, _ZERO4, _ZERO4)

    # -- receive -------------------------------------------------------------------

    def _receive(self, now_ms):
        s = self._sock
        while True:
            n = s.pending()
            if n < 0:
                return
            if n > len(self._rx):
                s.recv_into_from(self._rx, self._src)  # consumes it, cut short
                self.stats["dhcp_drop_too_big"] += 1
                continue
            s.recv_into_from(self._rx, self._src)
            self._input(n, now_ms)

    def _input(self, n, now_ms):
        b = self._rx
        src = self._src
        if src[4] != 0 or src[5] != wd.SERVER_PORT:
            self.stats["dhcp_drop_port"] += 1
            return
        r = wd.check(b, 0, n)
        if r < 0:
            self.stats[_CHECK_DROPS[-r - 1]] += 1
            return
        if wd.op(b, 0) != wd.OP_REPLY:
            self.stats["dhcp_drop_format"] += 1
            return
        if not wd.same4(b, wd.XID, self._xid, 0) or not self._chaddr_ours(b):
            self.stats["dhcp_drop_not_ours"] += 1  # another client's reply, or an old exchange
            return
        p = wd.find(b, 0, n, wd.OPT_MSG_TYPE)
        if p < 0 or b[p] != 1:
            self.stats["dhcp_drop_options"] += 1
            return
        mtype = b[p + 1]
        sid = wd.find(b, 0, n, wd.OPT_SERVER_ID)
        if sid >= 0 and b[sid] != 4:
            self.stats["dhcp_drop_options"] += 1
            return
        st = self._state
        asking = st == REQUESTING or st == REBOOTING or st == RENEWING or st == REBINDING
        if mtype == wd.OFFER and st == SELECTING:
            self._offer(n, sid, now_ms)
        elif mtype == wd.ACK and asking:
            self._ack(n, sid, now_ms)
        elif mtype == wd.NAK and asking:
            if st == REQUESTING and (sid < 0 or not wd.same4(b, sid + 1, self.server, 0)):
                self.stats["dhcp_drop_not_ours"] += 1  # RFC 2131 4.4.1: only the chosen server
                return
            # RFC 2131 3.1 step 5 / 3.2: the address is not ours; start over.
            self.stats["dhcp_rx_nak"] += 1
            self._down()
            self._have_lease = False
            self._restart(now_ms)
        else:
            self.stats["dhcp_drop_unexpected"] += 1

    def _chaddr_ours(self, b):
        mac = self._iface.mac
        for i in range(6):
            if b[wd.CHADDR + i] != mac[i]:
                return False
        return True

    def _offer(self, n, sid, now_ms):
        b = self._rx
        if sid < 0:
            self.stats["dhcp_drop_options"] += 1  # RFC 2131 table 3: MUST be there
            return
        if not _unicast_ok(b, wd.YIADDR):
            self.stats["dhcp_drop_bad_addr"] += 1
            return
        self.stats["dhcp_rx_offer"] += 1
        for i in range(4):
            self.addr[i] = b[wd.YIADDR + i]
            self.server[i] = b[sid + 1 + i]
        # RFC 2131 4.4.1: REQUEST with the same xid, broadcast, naming the server.
        self._state = REQUESTING
        self._tries = 1
        self._req_ms = now_ms
        self._send_request(now_ms, _BCAST)
        self._backoff(now_ms)

    def _ack(self, n, sid, now_ms):
        b = self._rx
        st = self._state
        if st == REQUESTING and sid >= 0 and not wd.same4(b, sid + 1, self.server, 0):
            self.stats["dhcp_drop_not_ours"] += 1
            return
        if not _unicast_ok(b, wd.YIADDR):
            self.stats["dhcp_drop_bad_addr"] += 1
            return
        if not dhcp_msg.read_ack(self, n):
            self.stats["dhcp_drop_options"] += 1
            return
        self.stats["dhcp_rx_ack"] += 1
        if sid >= 0:
            for i in range(4):
                self.server[i] = b[sid + 1 + i]
        # The lease runs from the time the request was sent (RFC 2131 4.4.1).
        self._mark_ms = self._req_ms
        self._age_s = 0
        self._advance(now_ms)
        self._have_lease = True
        iface = self._iface
        same = wd.same4(b, wd.YIADDR, iface.ip, 0)
        for i in range(4):
            self.addr[i] = b[wd.YIADDR + i]
        if same and st != REBOOTING:
            # RENEWING / REBINDING: same address, new lease; options may have changed.
            self._configure()
            self.stats["dhcp_renewed" if st == RENEWING else "dhcp_rebound"] += 1
            self._state = BOUND
            return
        # A new address (or one to verify after INIT-REBOOT): probe it first.
        self._down()
        self._state = CHECKING
        self._probe.start(self.addr, now_ms)

    # -- transmit -------------------------------------------------------------------

    def _new_xid(self):
        x = self._xid
        a = getrandbits(16)
        c = getrandbits(16)
        x[0] = a >> 8
        x[1] = a & 0xFF
        x[2] = c >> 8
        x[3] = c & 0xFF

    def _secs(self, now_ms):
        s = ticks_diff(now_ms, self._start_ms) // 1000
        return s if s < 0xFFFF else 0xFFFF

    def _send_discover(self, now_ms):
        # RFC 2131 4.4.1: a client MAY suggest its previous address.
        req = self.addr if self.addr[0] else None
        n = dhcp_msg.build(self, wd.DISCOVER, _ZERO4, self._secs(now_ms), req, False)
        self.stats["dhcp_tx_discover"] += 1
        self._sock.sendto(self._tx, 0, n, _BCAST, 0, wd.SERVER_PORT)

    def _send_request(self, now_ms, dst):
        st = self._state
        if st == REQUESTING:  # after an OFFER: option 50 + 54, ciaddr 0
            n = dhcp_msg.build(self, wd.REQUEST, _ZERO4, self._secs(now_ms), self.addr, True)
        elif st == REBOOTING:  # option 50, no server id, ciaddr 0
            n = dhcp_msg.build(self, wd.REQUEST, _ZERO4, self._secs(now_ms), self.addr, False)
        else:  # RENEWING / REBINDING: ciaddr only
            n = dhcp_msg.build(self, wd.REQUEST, self._iface.ip, self._secs(now_ms), None, False)
        self.stats["dhcp_tx_request"] += 1
        self._sock.sendto(self._tx, 0, n, dst, 0, wd.SERVER_PORT)
