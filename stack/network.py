# The shape MicroPython users know from network.LAN / network.WIZNET5K, over
# our Interface, so board code ports by changing an import and a constructor:
#
#   from stack import network, socket     # was: import network, socket
#   nic = network.LAN(iface)               # was: network.WIZNET5K() / network.LAN()
#   nic.active(True)                       # DHCP unless the interface has an address
#   while not nic.isconnected():           # each call runs the stack once
#       time.sleep_ms(100)
#   print(nic.ipconfig("addr4"))
#
# MicroPython's drivers run their stack in the background; ours runs when
# something calls iface.poll(). So the calls that look at the state
# (isconnected, status, ifconfig, ipconfig queries) run it once first, and
# poll() runs it for code that has no loop of its own. DHCP (stack/dhcp.py) is
# imported when first wanted; a static address never loads it.
from micropython import const

from stack.clock import ticks_ms
from stack.wire import ip4

# status() values, as MicroPython's ESP32 network.LAN has them
ETH_INITIALIZED = const(0)
ETH_STARTED = const(1)
ETH_STOPPED = const(2)
ETH_CONNECTED = const(3)  # link up, no address (yet, or the lease ran out)
ETH_DISCONNECTED = const(4)  # link down
ETH_GOT_IP = const(5)

_ZERO4 = b"\x00\x00\x00\x00"
_last = None  # the LAN made last: module-level ipconfig() and hostname() act on it


def hostname(name=None):
    """network.hostname(): the name DHCP sends (option 12)."""
    nic = _need_lan()
    if name is None:
        return nic.config("hostname")
    nic.config(hostname=name)


def ipconfig(*args, **kw):
    """network.ipconfig('dns') / ipconfig(dns='192.0.2.53'): the first DNS
    server; a static one is kept over what DHCP offers. prefer=4 is accepted."""
    iface = _need_lan()._iface
    if args:
        if args != ("dns",) or kw:
            raise ValueError("ipconfig: 'dns' or dns=...")
        return ip4.format_addr(iface.dns)
    for k, v in kw.items():
        if k == "dns":
            _set_dns(iface, v)
        elif k != "prefer" or v != 4:
            raise ValueError("ipconfig: unknown " + k)


def _set_dns(iface, text):
    a = ip4.parse_addr(text)
    for i in range(4):
        iface.dns[i] = a[i]
    if iface.dhcp is not None:
        iface.dhcp.use_dns = False  # a server set by hand wins over DHCP's


def _need_lan():
    if _last is None:
        raise OSError(19)  # ENODEV: no network.LAN made yet
    return _last


def _from_board(board):
    """An Interface from a board module (/board.py on a device): no address."""
    if board is None:
        import board
    from stack.iface import Interface

    return Interface(board.driver({}), board.config(), "0.0.0.0", "0.0.0.0", "0.0.0.0")


def _prefix_mask(bits):
    m = bytearray(4)
    for i in range(4):
        b = bits - 8 * i
        m[i] = 0xFF if b >= 8 else (0xFF << (8 - b)) & 0xFF if b > 0 else 0
    return m


class LAN:
    def __init__(self, iface=None, board=None):
        global _last
        if iface is None:
            iface = _from_board(board)
        self._iface = iface
        self._active = False
        self._use_dhcp = not iface.ip[0]  # no address given: ask DHCP for one
        self._static = bytearray(12)  # ip, netmask, gateway while inactive or static
        self._hostname = None
        self._link = True
        self._save_static()
        from stack import socket

        if socket._iface is None:
            socket.attach(iface)  # so plain socket code finds this interface
        _last = self

    # -- MicroPython's methods ----------------------------------------------------

    def active(self, on=None):
        if on is None:
            return self._active
        if on and not self._active:
            self._active = True
            if self._use_dhcp:
                self._dhcp_start()
            else:
                self._load_static()
        elif not on and self._active:
            self._active = False
            d = self._iface.dhcp
            if d is not None:
                d.stop()  # keeps the last address for INIT-REBOOT on active(True)
            else:
                self._save_static()
            self._iface.set_addr(_ZERO4, _ZERO4, _ZERO4)

    def isconnected(self):
        """True when the link is up and the interface has its address."""
        return self.status() == ETH_GOT_IP

    def status(self, param=None):
        if param is not None:
            raise ValueError("status: no parameters on LAN")
        self.poll()
        if not self._active:
            return ETH_STOPPED
        if not self._link:
            return ETH_DISCONNECTED
        return ETH_GOT_IP if self._iface.ip[0] else ETH_CONNECTED

    def ifconfig(self, conf=None):
        """(ip, netmask, gateway, dns); ifconfig('dhcp'); ifconfig((ip, mask, gw, dns))."""
        iface = self._iface
        if conf is None:
            self.poll()
            return (
                ip4.format_addr(iface.ip),
                ip4.format_addr(iface.netmask),
                ip4.format_addr(iface.gateway),
                ip4.format_addr(iface.dns),
            )
        if conf == "dhcp":
            self.ipconfig(dhcp4=True)
            return
        ip, mask, gw, dns = conf
        self._set_static(ip4.parse_addr(ip), ip4.parse_addr(mask), ip4.parse_addr(gw))
        _set_dns(self._iface, dns)

    def ipconfig(self, *args, **kw):
        """ipconfig('dhcp4' | 'has_dhcp4' | 'addr4' | 'gw4'); ipconfig(dhcp4=True),
        ipconfig(addr4='192.0.2.9/24' or (ip, mask), gw4='192.0.2.1')."""
        iface = self._iface
        if args:
            if len(args) != 1 or kw:
                raise TypeError("ipconfig: one parameter to query")
            self.poll()
            k = args[0]
            if k == "dhcp4":
                return self._use_dhcp
            if k == "has_dhcp4":
                return iface.dhcp is not None and iface.dhcp.bound()
            if k == "addr4":
                return (ip4.format_addr(iface.ip), ip4.format_addr(iface.netmask))
            if k == "gw4":
                return ip4.format_addr(iface.gateway)
            raise ValueError("ipconfig: unknown parameter " + k)
        if "dhcp4" in kw:
            if kw["dhcp4"]:
                self._use_dhcp = True
                if self._active:
                    self._dhcp_start()
            else:
                self._dhcp_off()
        if "addr4" in kw:
            a = kw["addr4"]
            if isinstance(a, str):
                ip, _, bits = a.partition("/")
                mask = _prefix_mask(int(bits)) if bits else bytearray(iface.netmask)
            else:
                ip, m = a
                mask = ip4.parse_addr(m)
            self._set_static(ip4.parse_addr(ip), mask, bytearray(iface.gateway))
        if "gw4" in kw:
            gw = ip4.parse_addr(kw["gw4"])
            self._set_static(bytearray(iface.ip), bytearray(iface.netmask), gw)
        for k in kw:
            if k not in ("dhcp4", "addr4", "gw4"):
                raise ValueError("ipconfig: unknown parameter " + k)

    def config(self, *args, **kw):
        """config('mac') -> bytes, config('hostname') -> str, config(hostname=...)."""
        if args:
            if len(args) != 1 or kw:
                raise TypeError("config: one parameter to query")
            if args[0] == "mac":
                return bytes(self._iface.mac)
            if args[0] == "hostname":
                d = self._iface.dhcp
                if d is not None:
                    return d.hostname()
                if self._hostname is None:
                    self._hostname = self._iface.cfg.hostname or _default_name(self._iface.mac)
                return self._hostname
            raise ValueError("config: unknown parameter " + args[0])
        for k, v in kw.items():
            if k != "hostname":
                raise ValueError("config: cannot set " + k)
            d = self._iface.dhcp
            if d is not None:
                d.set_hostname(v)  # validates; sent from the next DHCP message on
            self._hostname = v

    # -- ours ---------------------------------------------------------------------

    def poll(self):
        """Run the stack once (for code without a loop calling iface.poll())."""
        iface = self._iface
        was = self._link
        self._link = bool(iface.driver.link_up())
        if self._link and not was and iface.dhcp is not None and self._active:
            iface.dhcp.reboot()  # a cable back in: verify the lease (RFC 2131 3.2)
        return iface.poll(ticks_ms())

    @property
    def iface(self):
        return self._iface

    # -- helpers -----------------------------------------------------------------------

    def _dhcp_start(self):
        iface = self._iface
        d = iface.dhcp
        if d is None:
            from stack import dhcp

            d = dhcp.DHCPClient(iface, self._hostname)
        elif self._hostname:
            d.set_hostname(self._hostname)
        # INIT-REBOOT with the last leased address when there is one (RFC 2131 3.2).
        d.start(bytes(d.addr) if d.addr[0] else None)

    def _dhcp_off(self):
        """DHCP stops; the address it had stays, as a static one."""
        self._use_dhcp = False
        d = self._iface.dhcp
        if d is not None:
            if self._active:
                self._save_static()
            d.stop()
            self._iface.dhcp = None
            if self._active:
                self._load_static()

    def _set_static(self, ip, mask, gw):
        if self._use_dhcp or self._iface.dhcp is not None:
            self._dhcp_off()
        st = self._static
        for i in range(4):
            st[i] = ip[i]
            st[4 + i] = mask[i]
            st[8 + i] = gw[i]
        if self._active:
            self._load_static()

    def _save_static(self):
        iface = self._iface
        st = self._static
        for i in range(4):
            st[i] = iface.ip[i]
            st[4 + i] = iface.netmask[i]
            st[8 + i] = iface.gateway[i]

    def _load_static(self):
        st = self._static
        self._iface.set_addr(st[0:4], st[4:8], st[8:12])


def _default_name(mac):
    return "mpy-%02x%02x%02x" % (mac[3], mac[4], mac[5])
