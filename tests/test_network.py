"""stack.network.LAN: the snippet MicroPython users write for network.LAN /
network.WIZNET5K runs unchanged against a driver that plays DHCP and DNS
server (scapy), on a fake clock."""

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from fakes import HOST_MAC, STACK_MAC, FakeDriver
from test_dhcp_helpers import mac

SERVER = "192.0.2.1"
LEASED = "192.0.2.123"


class LanDriver(FakeDriver):
    """A DHCP server (and DNS server and ARP peer) at 192.0.2.1 on the other
    end of the wire; serving=False makes it silent."""

    def __init__(self):
        super().__init__()
        self.serving = True
        self.link = True
        self.requests = []

    def link_up(self):
        return self.link

    def _to_stack(self, payload, dst="255.255.255.255"):
        self.rx.append(bytes(Ether(src=mac(HOST_MAC), dst="ff:ff:ff:ff:ff:ff")
                             / IP(src=SERVER, dst=dst) / payload))

    def send(self, buf, n):
        f = Ether(bytes(buf[:n]))
        if self.serving and f.haslayer(DHCP):
            opts = dict(o for o in f[DHCP].options if isinstance(o, tuple) and len(o) == 2)
            t = opts["message-type"]
            self.requests.append(t)
            reply = {1: "offer", 3: "ack"}.get(t)
            if reply:
                self._to_stack(UDP(sport=67, dport=68) / BOOTP(
                    op=2, xid=f[BOOTP].xid, yiaddr=LEASED, chaddr=STACK_MAC + bytes(10))
                    / DHCP(options=[("message-type", reply), ("server_id", SERVER),
                                    ("lease_time", 600), ("subnet_mask", "255.255.255.0"),
                                    ("router", SERVER), ("name_server", SERVER), "end"]))
        elif self.serving and f.haslayer(DNS) and f[UDP].dport == 53:
            self._to_stack(UDP(sport=53, dport=f[UDP].sport) / DNS(
                id=f[DNS].id, qr=1, rd=1, ra=1, qd=f[DNS].qd,
                an=[DNSRR(rrname="device.test", type="A", rdata="192.0.2.1")]), dst=LEASED)
        elif f.haslayer(ARP) and f[ARP].op == 1 and f[ARP].pdst == SERVER:
            self.rx.append(bytes(Ether(src=mac(HOST_MAC), dst=mac(STACK_MAC)) / ARP(
                op=2, hwsrc=mac(HOST_MAC), psrc=SERVER, hwdst=mac(STACK_MAC),
                pdst=f[ARP].psrc)))
        return super().send(buf, n)


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        self.t += 20
        return self.t


@pytest.fixture
def lan(monkeypatch):
    import stack.dns
    from stack import network
    from stack import socket as ssock
    from stack.config import Config
    from stack.iface import Interface

    clock = Clock()
    monkeypatch.setattr(network, "ticks_ms", clock)
    monkeypatch.setattr(ssock, "ticks_ms", clock)
    monkeypatch.setattr(ssock, "_iface", None)
    monkeypatch.setattr(network, "_last", None)
    monkeypatch.setattr(stack.dns, "_one", None)
    drv = LanDriver()
    iface = Interface(drv, Config(dhcp_init_delay_ms=0, dhcp_probe_ms=100), "0.0.0.0",
                      "0.0.0.0", "0.0.0.0")
    return network, iface, drv, clock


def wait_connected(nic, limit=500):
    for _ in range(limit):
        if nic.isconnected():
            return
    raise AssertionError("not connected: status %d" % nic.status())


def test_the_micropython_snippet_runs_unchanged(lan):
    network, iface, drv, clock = lan
    from stack import socket

    # --- as on network.WIZNET5K / network.LAN ---
    nic = network.LAN(iface)
    assert nic.status() == network.ETH_STOPPED and not nic.active()
    nic.active(True)
    wait_connected(nic)  # while not nic.isconnected(): time.sleep_ms(100), bounded
    assert nic.ipconfig("addr4") == (LEASED, "255.255.255.0")
    assert nic.ipconfig("gw4") == SERVER
    assert nic.ipconfig("dhcp4") is True and nic.ipconfig("has_dhcp4") is True
    assert nic.ifconfig() == (LEASED, "255.255.255.0", SERVER, SERVER)
    addr = socket.getaddrinfo("device.test", 80)[0][-1]
    # ---
    assert addr == ("192.0.2.1", 80)
    assert nic.status() == network.ETH_GOT_IP
    assert nic.config("mac") == STACK_MAC
    assert nic.config("hostname") == "mpy-000002"
    assert iface.dhcp.state_name() == "BOUND" and iface.dhcp.lease_left_ms(clock.t) > 590_000


def test_static_configuration_never_loads_dhcp(lan):
    network, iface, drv, clock = lan
    import sys

    sys.modules.pop("stack.dhcp", None)
    nic = network.LAN(iface)
    nic.ifconfig(("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.53"))
    nic.active(True)
    assert nic.isconnected() and nic.ipconfig("dhcp4") is False
    assert nic.ifconfig() == ("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.53")
    assert iface.dhcp is None and "stack.dhcp" not in sys.modules
    nic.ipconfig(addr4="192.0.2.9/25", gw4="192.0.2.126")
    assert nic.ipconfig("addr4") == ("192.0.2.9", "255.255.255.128")
    assert nic.ipconfig("gw4") == "192.0.2.126"
    nic.ipconfig(addr4=("192.0.2.10", "255.255.255.0"))
    assert nic.ipconfig("addr4") == ("192.0.2.10", "255.255.255.0")
    assert network.ipconfig("dns") == "192.0.2.53"
    assert [t for t in drv.requests] == []


def test_switching_from_dhcp_to_static_and_back(lan):
    network, iface, drv, clock = lan
    nic = network.LAN(iface)
    nic.active(True)
    wait_connected(nic)
    nic.ipconfig(dhcp4=False)  # the leased address stays, now static
    assert iface.dhcp is None and nic.ipconfig("addr4")[0] == LEASED and nic.isconnected()
    nic.ifconfig("dhcp")
    assert nic.ipconfig("dhcp4") and nic.status() == network.ETH_CONNECTED
    wait_connected(nic)
    assert nic.ipconfig("has_dhcp4")


def test_inactive_then_active_asks_for_the_last_address_back(lan):
    network, iface, drv, clock = lan
    nic = network.LAN(iface)
    nic.active(True)
    wait_connected(nic)
    drv.requests.clear()
    nic.active(False)
    assert nic.status() == network.ETH_STOPPED and nic.ifconfig()[0] == "0.0.0.0"
    nic.active(True)
    wait_connected(nic)
    assert drv.requests == [3]  # INIT-REBOOT: a REQUEST for the old address, no DISCOVER


def test_link_down_and_back_verifies_the_lease(lan):
    network, iface, drv, clock = lan
    nic = network.LAN(iface)
    nic.active(True)
    wait_connected(nic)
    drv.link = False
    assert nic.status() == network.ETH_DISCONNECTED and not nic.isconnected()
    drv.requests.clear()
    drv.link = True
    nic.status()
    assert iface.dhcp.state_name() == "REBOOTING"
    wait_connected(nic)
    assert drv.requests == [3]


def test_lease_expiry_shows_in_status(lan):
    network, iface, drv, clock = lan
    nic = network.LAN(iface)
    nic.active(True)
    wait_connected(nic)
    drv.serving = False
    clock.t += 600_000
    assert nic.status() == network.ETH_CONNECTED and not nic.isconnected()
    assert iface.stats["dhcp_expired"] == 1


def test_hostname_and_dns_settings(lan):
    network, iface, drv, clock = lan
    nic = network.LAN(iface)
    nic.config(hostname="bench-7")
    network.hostname("bench-8")
    assert network.hostname() == "bench-8"
    nic.active(True)
    wait_connected(nic)
    assert iface.dhcp.hostname() == "bench-8"
    network.ipconfig(dns="192.0.2.77", prefer=4)
    assert nic.ifconfig()[3] == "192.0.2.77"
    iface.dhcp.reboot()
    wait_connected(nic)
    assert nic.ifconfig()[3] == "192.0.2.77"  # DHCP's server no longer overrides it
    with pytest.raises(ValueError):
        nic.config(hostname="no_underscores")
    with pytest.raises(ValueError):
        nic.config("essid")
    with pytest.raises(ValueError):
        nic.ipconfig("addr6")


def test_dhcp_and_dns_cost_nothing_until_used():
    """In the unix port: the stack, sockets and network.LAN with a static
    address import neither DHCP nor DNS."""
    import os
    import subprocess

    from host_tools import build
    from mp import MICROPYTHON, ROOT

    arch = build.host_arch()  # .mpy as a board runs them (source would need a compiler heap)
    path = ROOT if arch is None else build.build_tree(arch, ROOT / "build", ("stack",))[0]
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=64wK",
                        str(ROOT / "tests" / "network_mp_imports.py")],
                       env=dict(os.environ, MICROPYPATH=str(path)), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "LAZY OK" in r.stdout, r.stdout
    costs = dict((w[1], int(w[2])) for w in map(str.split, r.stdout.splitlines())
                 if w[0] == "IMPORT")
    assert costs["stack.dhcp"] > 0 and costs["stack.dns"] > 0
