"""The DNS resolver (RFC 1035) as packet traces: exact queries out, scripted
answers in (scapy), with a fake clock; retries, matching, CNAME chains, the
TTL cache, and getaddrinfo() on top."""

import itertools

import pytest
from scapy.layers.dns import DNS, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from fakes import HOST_MAC, STACK_MAC, FakeDriver
from test_dhcp_helpers import mac

US = "192.0.2.2"
NS1 = "192.0.2.53"
NS2 = "192.0.2.54"
NS_MAC = {NS1: "02:00:00:00:00:53", NS2: "02:00:00:00:00:54"}


class Res:
    """A static interface with two DNS servers (their MACs known) and a resolver."""

    def __init__(self, monkeypatch, servers=(NS1, NS2), drv=None, **cfg):
        from stack import dns
        from stack.config import Config
        from stack.iface import Interface
        from stack.wire import ip4

        draws = itertools.count(0x1234, 0x0101)
        monkeypatch.setattr(dns, "getrandbits", lambda bits: next(draws) & ((1 << bits) - 1))
        self.drv = drv or FakeDriver()
        self.iface = Interface(self.drv, Config(**cfg))
        for i, s in enumerate(servers):
            self.iface.dns[4 * i:4 * i + 4] = ip4.parse_addr(s)
        self.t = 0
        self.iface.poll(0)
        for s in servers:  # each server asks for us, so we learn it (a reply
            # nobody asked for would not be cached: stack/arp.py)
            self.feed(Ether(src=NS_MAC[s], dst="ff:ff:ff:ff:ff:ff")
                      / ARP(op=1, hwsrc=NS_MAC[s], psrc=s, pdst=US))
        self.drv.sent.clear()
        self.r = dns.Resolver(self.iface)
        self.stats = self.iface.stats
        self.dns = dns

    def feed(self, frame):
        self.drv.rx.append(bytes(frame))
        self.iface.poll(self.t)

    def queries(self):
        out = [Ether(f) for f in self.drv.sent]
        self.drv.sent.clear()
        return [f for f in out if f.haslayer(DNS)]

    def one_query(self):
        (q,) = self.queries()
        return q

    def answer(self, q, payload=None, src=None, sport=53, **dns_fields):
        """The server's answer to query frame q (a DNS layer, or raw payload bytes)."""
        server = src or q[IP].dst
        if payload is None:
            fields = dict(id=q[DNS].id, qr=1, rd=1, ra=1, qd=q[DNS].qd)
            fields.update(dns_fields)
            payload = DNS(**fields)
        else:
            payload = Raw(payload)
        self.feed(Ether(src=NS_MAC.get(server, mac(HOST_MAC)), dst=mac(STACK_MAC))
                  / IP(src=server, dst=US) / UDP(sport=sport, dport=q[UDP].sport) / payload)

    def poll(self):
        return self.r.poll(self.t)

    def advance(self, ms, step=50):
        end = self.t + ms
        while self.t < end:
            self.t = min(self.t + step, end)
            self.iface.poll(self.t)
            self.r.poll(self.t)


def a_rr(name, ip, ttl=300):
    return DNSRR(rrname=name, type="A", ttl=ttl, rdata=ip)


def addr(b):
    return "%d.%d.%d.%d" % tuple(b)


# -- queries and answers ------------------------------------------------------------


def test_query_is_a_recursive_a_question_from_a_random_port(monkeypatch):
    n = Res(monkeypatch)
    assert n.r.start("Device.Test", 0) == n.dns.PENDING
    q = n.one_query()
    assert (q[IP].src, q[IP].dst, q[UDP].dport) == (US, NS1, 53)
    assert 49152 <= q[UDP].sport <= 65535
    d = q[DNS]
    assert d.qr == 0 and d.opcode == 0 and d.rd == 1 and d.qdcount == 1 and d.ancount == 0
    assert (d.qd[0].qname, d.qd[0].qtype, d.qd[0].qclass) == (b"device.test.", 1, 1)
    assert d.id == 0x1234 and q[UDP].sport == 49152 + (0x1335 & 0x3FFF)


def test_answer_resolves_and_is_cached_for_its_ttl(monkeypatch):
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    q = n.one_query()
    n.answer(q, an=a_rr("device.test", "192.0.2.1", ttl=30))
    assert n.poll() == n.dns.DONE and addr(n.r.addr) == "192.0.2.1"
    assert n.stats["dns_rx_answer"] == 1
    out = bytearray(4)
    n.t = 29_999
    assert n.r.start("DEVICE.test.", n.t) == n.dns.DONE and n.queries() == []
    assert n.r.lookup(b"device.test", out, n.t) and addr(out) == "192.0.2.1"
    assert n.stats["dns_cache_hits"] == 2
    n.t = 30_000
    assert not n.r.lookup("device.test", out, n.t)
    assert n.r.start("device.test", n.t) == n.dns.PENDING and len(n.queries()) == 1


def test_ttl_is_capped_and_zero_ttl_is_not_cached(monkeypatch):
    n = Res(monkeypatch, dns_ttl_max_s=10)
    n.r.start("a.test", 0)
    n.answer(n.one_query(), an=a_rr("a.test", "192.0.2.7", ttl=86400))
    assert n.poll() == n.dns.DONE
    out = bytearray(4)
    assert n.r.lookup("a.test", out, 9_999) and not n.r.lookup("a.test", out, 10_000)
    n.r.start("b.test", 0)
    n.answer(n.one_query(), an=a_rr("b.test", "192.0.2.8", ttl=0))
    assert n.poll() == n.dns.DONE and addr(n.r.addr) == "192.0.2.8"
    assert not n.r.lookup("b.test", out, 0)
    n.r.start("c.test", 0)
    n.answer(n.one_query(), an=a_rr("c.test", "192.0.2.9", ttl=0x80000001))  # RFC 2181 8
    assert n.poll() == n.dns.DONE and not n.r.lookup("c.test", out, 0)


def test_full_cache_evicts_the_entry_that_expires_first(monkeypatch):
    n = Res(monkeypatch, dns_cache_entries=2)
    for name, ttl in (("a.test", 100), ("b.test", 50), ("c.test", 200)):
        n.r.start(name, 0)
        n.answer(n.one_query(), an=a_rr(name, "192.0.2.9", ttl=ttl))
        assert n.poll() == n.dns.DONE
    out = bytearray(4)
    assert n.r.lookup("a.test", out, 0) and n.r.lookup("c.test", out, 0)
    assert not n.r.lookup("b.test", out, 0)


def test_long_names_resolve_but_are_not_cached(monkeypatch):
    n = Res(monkeypatch, dns_cache_name_bytes=16)
    name = "a-rather-long-label.test"
    n.r.start(name, 0)
    n.answer(n.one_query(), an=a_rr(name, "192.0.2.9"))
    assert n.poll() == n.dns.DONE
    assert not n.r.lookup(name, bytearray(4), 0)


@pytest.mark.parametrize("order", ["cname_first", "a_first"])
def test_cname_chain_is_followed_in_any_order(monkeypatch, order):
    n = Res(monkeypatch)
    n.r.start("www.device.test", 0)
    q = n.one_query()
    rrs = [DNSRR(rrname="www.device.test", type="CNAME", ttl=60, rdata="web.device.test"),
           DNSRR(rrname="web.device.test", type="CNAME", ttl=20, rdata="device.test"),
           a_rr("device.test", "192.0.2.1", ttl=300),
           a_rr("other.test", "192.0.2.66")]
    if order == "a_first":
        rrs = rrs[::-1]
    n.answer(q, an=rrs)
    assert n.poll() == n.dns.DONE and addr(n.r.addr) == "192.0.2.1"
    out = bytearray(4)
    assert n.r.lookup("www.device.test", out, 19_999)  # the chain's smallest TTL
    assert not n.r.lookup("www.device.test", out, 20_000)


def test_compressed_answer_is_read(monkeypatch):
    from scapy.layers.dns import dns_compress

    n = Res(monkeypatch)
    n.r.start("www.device.test", 0)
    q = n.one_query()
    d = DNS(id=q[DNS].id, qr=1, rd=1, ra=1, qd=q[DNS].qd,
            an=[DNSRR(rrname="www.device.test", type="CNAME", rdata="device.test"),
                a_rr("device.test", "192.0.2.1")])
    raw = bytes(dns_compress(d))
    assert len(raw) < len(bytes(d))  # scapy did compress it
    n.answer(q, payload=raw)
    assert n.poll() == n.dns.DONE and addr(n.r.addr) == "192.0.2.1"


def test_cname_loop_ends_not_found(monkeypatch):
    n = Res(monkeypatch)
    n.r.start("a.test", 0)
    n.answer(n.one_query(), an=[DNSRR(rrname="a.test", type="CNAME", rdata="b.test"),
                                DNSRR(rrname="b.test", type="CNAME", rdata="a.test")])
    assert n.poll() == n.dns.NOT_FOUND and n.stats["dns_drop_cname_chain"] == 1


def test_nxdomain_and_nodata_are_not_found(monkeypatch):
    n = Res(monkeypatch)
    n.r.start("nope.test", 0)
    n.answer(n.one_query(), rcode=3)
    assert n.poll() == n.dns.NOT_FOUND and n.stats["dns_rx_nxdomain"] == 1
    n.r.start("empty.test", 0)
    n.answer(n.one_query(), an=DNSRR(rrname="empty.test", type="TXT", rdata="x"))
    assert n.poll() == n.dns.NOT_FOUND and n.stats["dns_rx_nodata"] == 1


def test_servfail_moves_to_the_next_server_at_once(monkeypatch):
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    q1 = n.one_query()
    n.answer(q1, rcode=2)
    assert n.poll() == n.dns.PENDING and n.stats["dns_rx_error"] == 1
    q2 = n.one_query()
    assert q2[IP].dst == NS2 and q2[DNS].id != q1[DNS].id and q2[UDP].sport != q1[UDP].sport
    n.answer(q2, an=a_rr("device.test", "192.0.2.1"))
    assert n.poll() == n.dns.DONE


def test_timeouts_walk_the_servers_twice_with_doubling_timeouts(monkeypatch):
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    sent = [(n.t, n.one_query()[IP].dst)]
    while n.r.status == n.dns.PENDING:
        n.advance(50)
        sent += [(n.t, q[IP].dst) for q in n.queries()]
    assert sent == [(0, NS1), (1000, NS2), (2000, NS1), (4000, NS2)]
    assert n.t == 6000 and n.r.status == n.dns.FAILED and n.stats["dns_timeouts"] == 4


def test_late_answer_to_an_earlier_try_finds_its_port_closed(monkeypatch):
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    q1 = n.one_query()
    n.advance(1000)
    q2 = n.one_query()
    n.answer(q1, an=a_rr("device.test", "192.0.2.66"))
    assert n.poll() == n.dns.PENDING and n.stats["udp_drop_no_port"] == 1
    n.answer(q2, an=a_rr("device.test", "192.0.2.1"))
    assert n.poll() == n.dns.DONE and addr(n.r.addr) == "192.0.2.1"


def test_no_server_fails_at_once(monkeypatch):
    n = Res(monkeypatch, servers=())
    assert n.r.start("device.test", 0) == n.dns.FAILED
    assert n.stats["dns_no_server"] == 1 and n.queries() == []


def test_bad_names_are_refused_before_anything_is_sent(monkeypatch):
    n = Res(monkeypatch)
    for bad in ("", ".", "a..b", "x" * 64 + ".test", ("a" * 60 + ".") * 5, "sp ace.test",
                "caf\u00e9.test"):
        with pytest.raises(ValueError):
            n.r.start(bad, 0)
    assert n.queries() == []


# -- foreign and malformed answers ----------------------------------------------------


def header(qid, flags=0x8180, qd=1, an=1):
    return qid.to_bytes(2, "big") + flags.to_bytes(2, "big") + bytes([0, qd, 0, an, 0, 0, 0, 0])


QNAME = b"\x06device\x04test\x00"
QUESTION = QNAME + b"\x00\x01\x00\x01"
A_RR = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"  # -> question name


def mangled(qid, kind):
    h = header(qid)
    if kind == "short_header":
        return h[:11]
    if kind == "not_a_response":
        return header(qid, flags=0x0100) + QUESTION + A_RR
    if kind == "opcode":
        return header(qid, flags=0x8980) + QUESTION + A_RR
    if kind == "two_questions":
        return header(qid, qd=2) + QUESTION + QUESTION + A_RR
    if kind == "question_past_end":
        return h + QNAME[:8]
    if kind == "question_type_cut":
        return h + QNAME + b"\x00"
    if kind == "reserved_label_type":
        return h + b"\x46device\x04test\x00\x00\x01\x00\x01" + A_RR
    if kind == "self_pointer":
        return h + QUESTION + b"\xc0\x1d" + A_RR[2:]  # the record's name points at itself
    if kind == "forward_pointer":
        return h + QUESTION + b"\xc0\x40" + A_RR[2:]
    if kind == "pointer_loop":
        # the record's name: label "y", then a pointer back to its own start (29):
        # backwards, so only the hop limit ends it
        return h + QUESTION + b"\x01y\xc0\x1d" + A_RR[2:]
    if kind == "question_pointer_loop":
        return h + b"\x01x\xc0\x0e\x00\x01\x00\x01" + A_RR  # a pointer onto itself
    if kind == "name_over_255":
        long_name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"
        return h + QUESTION + long_name + A_RR[2:]
    if kind == "record_past_end":
        return h + QUESTION + A_RR[:-2]
    if kind == "rdlength_past_end":
        return h + QUESTION + A_RR[:10] + b"\x00\x09" + A_RR[12:]
    if kind == "other_question":
        return h + b"\x05other\x04test\x00\x00\x01\x00\x01" + A_RR
    if kind == "other_qtype":
        return h + QNAME + b"\x00\x1c\x00\x01" + A_RR
    raise AssertionError(kind)


MALFORMED = [
    ("short_header", "dns_drop_short"),
    ("not_a_response", "dns_drop_format"),
    ("opcode", "dns_drop_format"),
    ("two_questions", "dns_drop_format"),
    ("question_past_end", "dns_drop_short"),
    ("question_type_cut", "dns_drop_short"),
    ("reserved_label_type", "dns_drop_name"),
    ("self_pointer", "dns_drop_pointer"),
    ("forward_pointer", "dns_drop_pointer"),
    ("pointer_loop", "dns_drop_pointer"),
    ("question_pointer_loop", "dns_drop_pointer"),
    ("name_over_255", "dns_drop_name"),
    ("record_past_end", "dns_drop_short"),
    ("rdlength_past_end", "dns_drop_short"),
    ("other_question", "dns_drop_mismatch"),
    ("other_qtype", "dns_drop_mismatch"),
]


@pytest.mark.parametrize("kind,counter", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_answer_is_dropped_and_counted(monkeypatch, kind, counter):
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    q = n.one_query()
    before = dict(n.stats)
    n.answer(q, payload=mangled(q[DNS].id, kind))
    assert n.poll() == n.dns.PENDING
    changed = {k for k in n.stats if n.stats[k] != before[k]}
    assert changed == {counter, "rx_frames", "ip4_rx", "udp_rx"}, changed
    n.answer(q, an=a_rr("device.test", "192.0.2.1"))  # the real answer still counts
    assert n.poll() == n.dns.DONE


def test_pointer_hop_limit(monkeypatch):
    from stack.wire import dns as wdns

    # 17 pointers in a row, each to the one before: 16 hops allowed, the 17th refused
    buf = bytearray(QUESTION)  # name at 0
    prev = 0
    for _ in range(17):
        here = len(buf)
        buf += bytes([0xC0, prev])
        prev = here
    out = bytearray(255)
    assert wdns.expand(buf, prev, len(buf), out) == wdns.DROP_POINTER
    assert wdns.expand(buf, prev - 2, len(buf), out) == len(QNAME)  # 16 hops: fine


@pytest.mark.parametrize("what", ["server", "port", "id"])
def test_answer_from_elsewhere_is_ignored(monkeypatch, what):
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    q = n.one_query()
    if what == "server":
        n.answer(q, src="192.0.2.99", an=a_rr("device.test", "192.0.2.66"))
    elif what == "port":
        n.answer(q, sport=5353, an=a_rr("device.test", "192.0.2.66"))
    else:
        n.answer(q, id=q[DNS].id ^ 0x8000, an=a_rr("device.test", "192.0.2.66"))
    assert n.poll() == n.dns.PENDING and n.stats["dns_drop_mismatch"] == 1
    n.answer(q, an=a_rr("device.test", "192.0.2.1"))
    assert n.poll() == n.dns.DONE and addr(n.r.addr) == "192.0.2.1"


def test_random_answers_never_raise(monkeypatch):
    import random

    rnd = random.Random(5)
    n = Res(monkeypatch)
    n.r.start("device.test", 0)
    q = n.one_query()
    good = bytes(DNS(id=q[DNS].id, qr=1, qd=q[DNS].qd,
                     an=[DNSRR(rrname="device.test", type="CNAME", rdata="x.test"),
                         a_rr("x.test", "192.0.2.1")]))
    from scapy.layers.dns import dns_compress

    good = bytes(dns_compress(DNS(good)))
    for _ in range(3000):
        p = bytearray(good)
        for _ in range(rnd.randrange(1, 6)):
            p[rnd.randrange(2, len(p))] = rnd.randrange(256)
        n.answer(q, payload=bytes(p[: rnd.randrange(2, len(p) + 1)]))
        n.poll()
        if n.r.status != n.dns.PENDING:  # a mutation that still resolved (or failed)
            n.r.flush()
            n.r.start("device.test", n.t)
            q = n.one_query()


# -- getaddrinfo ----------------------------------------------------------------------


class ServingDriver(FakeDriver):
    """Answers every DNS query it is asked to send, as a server on NS1 would."""

    def __init__(self, table):
        super().__init__()
        self.table = table

    def send(self, buf, n):
        f = Ether(bytes(buf[:n]))
        if f.haslayer(DNS) and f[UDP].dport == 53:
            name = f[DNS].qd[0].qname.decode().rstrip(".")
            ip = self.table.get(name)
            d = DNS(id=f[DNS].id, qr=1, rd=1, ra=1, qd=f[DNS].qd, rcode=0 if ip else 3,
                    an=a_rr(name, ip) if ip else None)
            self.rx.append(bytes(Ether(src=NS_MAC[NS1], dst=mac(STACK_MAC))
                                 / IP(src=NS1, dst=US) / UDP(sport=53, dport=f[UDP].sport) / d))
        return super().send(buf, n)


def test_getaddrinfo_resolves_names_and_raises_minus_2_when_not_found(monkeypatch):
    from stack import socket as ssock

    drv = ServingDriver({"device.test": "192.0.2.1"})
    n = Res(monkeypatch, servers=(NS1,), drv=drv)
    monkeypatch.setattr(ssock, "_iface", None)
    ssock.attach(n.iface)
    import stack.dns

    monkeypatch.setattr(stack.dns, "_one", n.r)
    assert ssock.getaddrinfo("device.test", 80) == [
        (ssock.AF_INET, ssock.SOCK_STREAM, ssock.IPPROTO_TCP, "", ("192.0.2.1", 80))]
    assert ssock.getaddrinfo(b"device.test", 53, 0, ssock.SOCK_DGRAM)[0][2] == ssock.IPPROTO_UDP
    assert n.stats["dns_tx_query"] == 1 and n.stats["dns_cache_hits"] == 1
    with pytest.raises(OSError) as e:
        ssock.getaddrinfo("nowhere.test", 80)
    assert e.value.args[0] == -2
    with pytest.raises(OSError) as e:
        ssock.getaddrinfo("bad..name", 80)
    assert e.value.args[0] == -2
    assert ssock.getaddrinfo("192.0.2.9", 7)[0][4] == ("192.0.2.9", 7)
