"""Property tests of every wire parser on CPython (hypothesis), each against an
independent reading of the same bytes (scapy, or the RFC's rule written out
here) and inside a Fence: a parser handed (buf, off, end) must never read
before off or at/after end, whatever the length fields claim.

Covered: Ethernet, ARP, IPv4 (options, fragment fields), ICMP (through the
interface: echo in, echo out), UDP, TCP header and options, DHCP (options,
overload), DNS (names, compression, records), and the HTTP request line and
headers of firmware/http.py (status and keep-alive against the documented
rules). Reassembly of fragment soup is in test_fuzz_frag.py."""

import struct

from fuzz_util import Fence, FenceError, fenced
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import checksum as scapy_checksum

from fakes import HOST_MAC, STACK_MAC, make_iface
from test_http_parser import responses, serve
from stack.wire import arp, dhcp4, dns, eth, ip4
from stack.wire import tcp as wtcp
from stack.wire import udp as wudp

u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
pre = st.binary(max_size=6)  # bytes in front of the parsed region (offset != 0)
post = st.binary(max_size=6)  # bytes after it, out of bounds for the parser
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- Ethernet --------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=40), post)
def test_eth_fields_agree_with_scapy(data, tail):
    buf = Fence(data + tail, 0, len(data))
    r = eth.check(buf, len(data))
    if len(data) < eth.HDR_LEN:
        assert r == eth.DROP_SHORT
        return
    assert r == eth.HDR_LEN
    dst, _src, etype = struct.unpack_from("!6s6sH", data)  # RFC 894 framing
    assert eth.ethertype(buf) == etype
    assert eth.dst_is_broadcast(buf) == (dst == b"\xff" * 6)
    assert eth.dst_is(buf, STACK_MAC) == (dst == STACK_MAC)


# -- ARP -------------------------------------------------------------------------


arp_packet = st.builds(
    lambda ht, pt, hl, pl, op, rest, cut: (
        struct.pack("!HHBBH", ht, pt, hl, pl, op) + rest)[:cut],
    st.one_of(st.just(1), u16), st.one_of(st.just(0x0800), u16),
    st.one_of(st.just(6), u8), st.one_of(st.just(4), u8), st.one_of(st.sampled_from([1, 2]), u16),
    st.binary(min_size=20, max_size=40), st.integers(0, 60))


@FUZZ
@given(arp_packet, pre, post)
def test_arp_check_accepts_exactly_ethernet_ipv4(data, head, tail):
    buf, o, end = fenced(data, head, tail)
    r = arp.check(buf, o, end)
    if len(data) < arp.LEN:
        assert r == arp.DROP_SHORT
        return
    # RFC 826's fixed fields: hardware type, protocol type, their lengths
    ht, pt, hl, pl = struct.unpack_from("!HHBB", data)
    ok = ht == 1 and pt == 0x0800 and hl == 6 and pl == 4
    assert r == (arp.LEN if ok else arp.DROP_FORMAT)
    if ok:
        p = ARP(data)
        assert arp.oper(buf, o) == p.op
        assert ip4.format_addr(buf, o + arp.SPA) == p.psrc
        assert ip4.format_addr(buf, o + arp.TPA) == p.pdst


# -- IPv4 ------------------------------------------------------------------------


@st.composite
def ip4_packets(draw):
    """Mostly plausible headers (options, fragment fields, right checksum),
    with each field sometimes lying; then maybe cut short."""
    version = draw(st.one_of(st.just(4), st.integers(0, 15)))
    ihl = draw(st.one_of(st.just(5), st.integers(5, 15), st.integers(0, 15)))
    opts = draw(st.binary(min_size=max(0, ihl * 4 - 20), max_size=max(0, ihl * 4 - 20)))
    payload = draw(st.binary(max_size=64))
    hl = max(20, ihl * 4)
    true_len = hl + len(payload)
    tl = draw(st.one_of(st.just(true_len), u16, st.integers(max(0, true_len - 8), true_len + 8)))
    frag = draw(st.one_of(st.just(0x4000), st.just(0), u16))
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, tl & 0xFFFF,
                                draw(u16), frag, draw(u8), draw(u8), 0,
                                bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])))
    hdr += opts[: hl - 20]
    if draw(st.booleans()):
        c = scapy_checksum(bytes(hdr))
        hdr[10:12] = struct.pack("!H", c)
    else:
        hdr[10:12] = struct.pack("!H", draw(u16))
    data = bytes(hdr) + payload
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return data if cut is None else data[:cut]


def ip4_oracle(data):
    """RFC 791 read out loud: the header length, or which check fails first."""
    if len(data) < 20:
        return ip4.DROP_SHORT
    if data[0] >> 4 != 4:
        return ip4.DROP_VERSION
    hl = (data[0] & 15) * 4
    if hl < 20:
        return ip4.DROP_IHL
    tl = struct.unpack_from("!H", data, 2)[0]
    if tl < hl or tl > len(data):
        return ip4.DROP_LEN
    if scapy_checksum(data[:hl]) != 0:
        return ip4.DROP_CSUM
    return hl


@FUZZ
@given(ip4_packets(), pre, post)
def test_ip4_check_matches_rfc_791(data, head, tail):
    buf, o, end = fenced(data, head, tail)
    r = ip4.check(buf, o, end)
    assert r == ip4_oracle(data)
    if r > 0:
        p = IP(data)
        assert ip4.total_len(buf, o) == p.len
        assert ip4.proto(buf, o) == p.proto
        assert bool(ip4.is_fragment(buf, o)) == (bool(p.flags.MF) or p.frag != 0)


# -- UDP -------------------------------------------------------------------------


@FUZZ
@given(u16, u16, st.one_of(st.none(), u16), st.binary(max_size=40), st.integers(0, 60), pre,
       post)
def test_udp_check_matches_rfc_768(sport, dport, ln, payload, cut, head, tail):
    if ln is None:
        ln = 8 + len(payload)
    data = (struct.pack("!HHHH", sport, dport, ln, 0) + payload)[:cut]
    buf, o, end = fenced(data, head, tail)
    r = wudp.check(buf, o, len(data))
    if len(data) < 8:
        assert r == wudp.DROP_SHORT
    elif ln < 8 or ln > len(data):
        assert r == wudp.DROP_LEN
    else:
        assert r == ln
        p = UDP(data)
        assert (wudp.src_port(buf, o), wudp.dst_port(buf, o)) == (p.sport, p.dport)


# -- TCP -------------------------------------------------------------------------


tcp_option = st.one_of(
    st.tuples(st.just("NOP")),
    st.tuples(st.just("MSS"), u16),
    st.tuples(st.just("WScale"), st.integers(0, 14)),
    st.tuples(st.just("SAckOK")),
    st.tuples(st.just("Timestamp"), u32, u32),
    st.tuples(st.just("SAck"), st.lists(st.tuples(u32, u32), min_size=1, max_size=3)),
    st.tuples(st.just("other"), st.integers(6, 253).filter(lambda k: k != 8),
              st.binary(max_size=6)),
)


def encode_option(opt):
    kind = opt[0]
    if kind == "NOP":
        return b"\x01"
    if kind == "MSS":
        return struct.pack("!BBH", 2, 4, opt[1])
    if kind == "WScale":
        return struct.pack("!BBB", 3, 3, opt[1])
    if kind == "SAckOK":
        return b"\x04\x02"
    if kind == "Timestamp":
        return struct.pack("!BBII", 8, 10, opt[1], opt[2])
    if kind == "SAck":
        return bytes([5, 2 + 8 * len(opt[1])]) + b"".join(struct.pack("!II", *e) for e in opt[1])
    return bytes([opt[1], 2 + len(opt[2])]) + opt[2]


def tcp_segment(opts, data_off=None, payload=b""):
    hl = 20 + len(opts)
    if data_off is None:
        data_off = hl // 4
    hdr = struct.pack("!HHIIBBHHH", 40000, 80, 1000, 0, data_off << 4, 0x02, 8192, 0, 0)
    return hdr + opts + payload


@FUZZ
@given(st.lists(tcp_option, max_size=8), pre, post)
def test_tcp_well_formed_options_read_as_scapy_reads_them(opts, head, tail):
    raw = b"".join(encode_option(o) for o in opts)
    assume(len(raw) <= 40)
    raw += b"\x00" * (-len(raw) % 4)  # EOL padding to the data offset
    seg = tcp_segment(raw)
    buf, o, end = fenced(seg, head, tail)
    hl = wtcp.check(buf, o, len(seg))
    assert hl == 20 + len(raw)
    mss = [o_[1] for o_ in opts if o_[0] == "MSS"]
    assert wtcp.parse_mss(buf, o, hl) == (mss[-1] if mss else 0)
    assert wtcp.sack_permitted(buf, o, hl) == any(o_[0] == "SAckOK" for o_ in opts)
    scapy_mss = [v for k, v in TCP(seg).options if k == "MSS"]
    assert scapy_mss == mss


@FUZZ
@given(st.binary(max_size=40), st.integers(0, 15), st.binary(max_size=20), pre, post)
def test_tcp_option_soup_never_reads_past_the_header(opts, doff, payload, head, tail):
    seg = tcp_segment(opts, doff, payload)
    buf, o, end = fenced(seg, head, tail)
    hl = wtcp.check(buf, o, len(seg))
    if doff * 4 < 20 or doff * 4 > len(seg):
        assert hl == wtcp.DROP_OFFSET  # data offset below the header or past the segment
        return
    assert hl == doff * 4
    # the options walk stays inside the header even where the payload follows
    inner = Fence(bytes(buf), o, o + hl)
    mss = wtcp.parse_mss(inner, o, hl)
    assert mss == wtcp.DROP_OPTIONS or 0 <= mss <= 0xFFFF
    assert wtcp.sack_permitted(inner, o, hl) in (True, False)


@FUZZ
@given(st.binary(max_size=19), pre, post)
def test_tcp_short_segment_is_dropped(seg, head, tail):
    buf, o, end = fenced(seg, head, tail)
    assert wtcp.check(buf, o, len(seg)) == wtcp.DROP_SHORT


# -- ICMP, through the interface -------------------------------------------------


@FUZZ
@given(u8, u8, u16, u16, st.binary(max_size=200))
def test_icmp_echo_answered_exactly_and_nothing_else_answered(typ, code, ident, seq, data):
    iface, drv = make_iface()
    drv.rx.append(bytes(Ether(src=HOST_MAC, dst="ff:ff:ff:ff:ff:ff")
                        / ARP(op=1, hwsrc=HOST_MAC, psrc="192.0.2.1", pdst="192.0.2.2")))
    iface.poll(1)  # the host is in the neighbour cache: replies go out at once
    drv.sent.clear()
    frame = bytes(Ether(src=HOST_MAC, dst=STACK_MAC) / IP(src="192.0.2.1", dst="192.0.2.2")
                  / ICMP(type=typ, code=code, id=ident, seq=seq) / data)
    drv.rx.append(frame)
    iface.poll(5)
    replies = [Ether(f) for f in drv.sent if ICMP in Ether(f) and Ether(f)[ICMP].type == 0]
    if typ != 8:
        assert replies == []
        return
    assert len(replies) == 1
    r = replies[0]
    sent = IP(bytes(r[IP]))
    assert scapy_checksum(bytes(sent[ICMP])) == 0
    assert (r[ICMP].code, r[ICMP].id, r[ICMP].seq) == (code, ident, seq)
    # the request's data comes back byte for byte (scapy may read a short one as
    # one of its sub-layers; compare the raw ICMP bodies)
    assert bytes(r[ICMP])[8:] == bytes(Ether(frame)[ICMP])[8:]


# -- DHCP ------------------------------------------------------------------------


dhcp_value_options = st.lists(
    st.tuples(st.integers(1, 254).filter(lambda c: c not in (52, 53)),
              st.binary(min_size=0, max_size=12)),
    max_size=8, unique_by=lambda t: t[0])


def dhcp_options_bytes(pairs, end=True):
    out = b"".join(bytes([c, len(v)]) + v for c, v in pairs)
    return out + (b"\xff" if end else b"")


@FUZZ
@given(st.integers(1, 8), dhcp_value_options, dhcp_value_options, st.integers(0, 3),
       st.booleans(), pre, post)
def test_dhcp_options_are_found_where_scapy_put_them(mtype, main_opts, over_opts, overload,
                                                     end, head, tail):
    # options of the main area, then (overload) more in `file` and/or `sname`
    main = [(53, bytes([mtype]))] + main_opts
    if overload:
        main.append((52, bytes([overload])))
        main_codes = {c for c, _ in main}
        over_opts = [(c, v) for c, v in over_opts if c not in main_codes]
    file_ = sname = b""
    if overload & 1:
        file_ = dhcp_options_bytes(over_opts)
    if overload & 2:
        sname = dhcp_options_bytes(over_opts if not overload & 1 else [])
    assume(len(file_) <= 128 and len(sname) <= 64)
    msg = bytes(BOOTP(op=2, chaddr=STACK_MAC, sname=sname, file=file_)
                / DHCP(options=[]))[:240] + dhcp_options_bytes(main, end)
    buf, o, n_end = fenced(msg, head, tail)
    n = len(msg)
    assert dhcp4.check(buf, o, n) == dhcp4.OPTIONS
    expect = dict(main)
    if overload:
        for c, v in over_opts:
            expect.setdefault(c, v)
    for code in range(1, 255):
        p = dhcp4.find(buf, o, n, code)
        if code in expect:
            v = expect[code]
            assert p >= 0 and buf[p] == len(v) and bytes(buf[p + 1:p + 1 + len(v)]) == v, code
        else:
            assert p == -1, code
    # scapy reads the main area the same way
    scapy_opts = dict(x for x in DHCP(msg[240:]).options if isinstance(x, tuple) and len(x) == 2)
    assert scapy_opts.get("message-type") == mtype


@FUZZ
@given(st.binary(min_size=0, max_size=400), st.lists(st.tuples(st.integers(0, 399), u8),
                                                     max_size=8), pre, post)
def test_dhcp_mutated_messages_never_read_outside(tail_opts, flips, head, tail):
    base = bytearray(bytes(BOOTP(op=2, chaddr=STACK_MAC) / DHCP(options=[]))[:240] + tail_opts)
    for pos, v in flips:
        base[pos % len(base)] = v
    buf, o, end = fenced(bytes(base), head, tail)
    r = dhcp4.check(buf, o, len(base))
    assert r in (dhcp4.OPTIONS, dhcp4.DROP_SHORT, dhcp4.DROP_FORMAT, dhcp4.DROP_OPTIONS)
    if r == dhcp4.OPTIONS:
        for code in range(256):
            p = dhcp4.find(buf, o, len(base), code)
            assert p == -1 or (o <= p and p + 1 + buf[p] <= end)


# -- DNS -------------------------------------------------------------------------


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
                min_size=1, max_size=12)
dns_name = st.lists(label, min_size=1, max_size=4).map(".".join)


def wire_name(name):
    out = bytearray(300)
    k = dns.encode(name, out)
    assert k > 0
    return bytes(out[:k])


@FUZZ
@given(dns_name, st.lists(st.tuples(dns_name, st.booleans()), max_size=4), u16,
       st.booleans(), post)
def test_dns_names_and_records_read_as_scapy_built_them(qname, rrs, qid, compress, tail):
    an = [DNSRR(rrname=n, type="A", rdata="192.0.2.9") if a
          else DNSRR(rrname=n, type="CNAME", rdata=qname) for n, a in rrs]
    pkt = DNS(id=qid, qr=1, qd=DNSQR(qname=qname), an=an)
    msg = bytes(pkt.compress() if compress else pkt)
    buf = Fence(msg + tail, 0, len(msg))
    n = len(msg)
    assert dns.check(buf, n) == dns.HDR_LEN
    assert dns.ident(buf) == qid and dns.qdcount(buf) == 1 and dns.ancount(buf) == len(an)
    out = bytearray(256)
    p = dns.HDR_LEN
    k = dns.expand(buf, p, n, out)
    assert bytes(out[:k]) == wire_name(qname)
    p = dns.skip_name(buf, p, n) + 4
    for name, is_a in rrs:
        k = dns.expand(buf, p, n, out)
        assert bytes(out[:k]) == wire_name(name)
        p = dns.skip_name(buf, p, n)
        assert dns.u16(buf, p) == (1 if is_a else 5)
        rdlen = dns.u16(buf, p + 8)
        if is_a:
            assert rdlen == 4 and bytes(buf[p + 10:p + 14]) == bytes([192, 0, 2, 9])
        else:
            k = dns.expand(buf, p + 10, n, out)
            assert bytes(out[:k]) == wire_name(qname)
        p += dns.RR_FIXED + rdlen
    assert p == n


def valid_wire_form(name):
    i = 0
    while True:
        ln = name[i]
        if ln == 0:
            return i + 1 == len(name)
        if ln > 63:
            return False
        i += 1 + ln


@FUZZ
@given(st.binary(max_size=120), st.integers(0, 130), post)
def test_dns_expand_and_skip_never_loop_or_read_outside(data, start, tail):
    msg = bytes(12) + data
    n = len(msg)
    buf = Fence(msg + tail, 0, n)
    out = bytearray(256)
    p = start % (n + 1)
    k = dns.expand(buf, p, n, out)
    assert k in (dns.DROP_SHORT, dns.DROP_NAME, dns.DROP_POINTER) or 0 < k <= dns.MAX_NAME
    if k > 0:
        assert valid_wire_form(out[:k])
        assert not any(65 <= c <= 90 for c in out[:k])  # lower-cased
    s = dns.skip_name(buf, p, n)
    assert s < 0 or p < s <= n


@FUZZ
@given(st.binary(max_size=80))
def test_dns_encode_is_what_scapy_writes(raw):
    name = raw.decode("latin-1")
    out = bytearray(300)
    k = dns.encode(name, out)
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    ok = (name not in ("", ".") and all(0 < len(x) <= 63 for x in labels)
          and len(name.rstrip(".")) + 2 <= dns.MAX_NAME
          and all(33 <= ord(c) <= 126 for c in name.rstrip(".").replace(".", "")))
    if not ok:
        assert k == dns.DROP_NAME
        return
    assert bytes(out[:k]) == bytes(DNSQR(qname=name.lower()))[: k]


# -- HTTP request line and headers (firmware/http.py) ----------------------------


METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "get", "G3T", "GE T"]
TARGETS = ["/", "/stats.json", "/bulk?n=5", "/bulk?x=1&n=7", "/bulk", "/bulk?n=x", "/bulk?nn=3",
           "/sink", "/nope", "*", "x", "/?a=b"]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "http/1.1", "HTTP/1.1 ", ""]

header = st.one_of(
    st.tuples(st.just("host"), st.sampled_from(["Host", "host", "HOST"]), st.just("x")),
    st.tuples(st.just("clen"), st.sampled_from(["Content-Length", "content-length"]),
              st.sampled_from(["0", "3", "12", "x", "", "-1", "99999999999", "3 3"])),
    st.tuples(st.just("conn"), st.sampled_from(["Connection", "connection"]),
              st.sampled_from(["close", "Keep-Alive", "upgrade", "keep-alive, close"])),
    st.tuples(st.just("te"), st.just("Transfer-Encoding"), st.just("chunked")),
    st.tuples(st.just("other"), st.sampled_from(["X-A", "Accept", "User-Agent"]),
              st.sampled_from(["", "a", "b c"])),
    st.tuples(st.just("space_before_colon"), st.just("Host "), st.just("x")),
    st.tuples(st.just("fold"), st.just(" folded"), st.just("x")),
    st.tuples(st.just("nocolon"), st.just("junk"), st.just(None)),
)
ows = st.sampled_from(["", " ", "  ", "\t", " \t"])


def http_oracle(method, target, version, headers):
    """(status, keep) that docs/http.md and RFC 9112 call for."""
    if " " in method or not method or " " in version:
        return 400, False
    if not target.startswith("/") or version not in ("HTTP/1.1", "HTTP/1.0"):
        return 400, False
    if method not in ("GET", "HEAD", "POST") and not method.isalpha() or not method.isupper():
        return 400, False
    http11 = version == "HTTP/1.1"
    keep = http11
    clen = None
    chunked = host = False
    for kind, name, value in headers:
        if kind in ("space_before_colon", "fold", "nocolon"):
            return 400, False  # RFC 9112 5.1 / 5.2: reject, never guess
        if kind == "clen":
            if not value.isdigit() or int(value) >= 2**30:
                # over 10 characters: too large to read (RFC 9110 15.5.14)
                return (413 if len(value) > 10 else 400), False
            if clen is not None and clen != int(value):
                return 400, False
            clen = int(value)
        elif kind == "conn":
            if "close" in value.lower():
                keep = False
            elif "keep-alive" in value.lower():
                keep = True
        elif kind == "te":
            chunked = True
        elif kind == "host":
            host = True
    if http11 and not host:
        return 400, False
    path = target.split("?")[0]
    if path == "/sink":
        if method != "POST":
            return 405, False
        if chunked or clen is None:
            return 411, False
        return 200, keep
    if path not in ("/", "/stats.json", "/bulk"):
        return 404, False
    if method not in ("GET", "HEAD"):
        return 405, False
    if chunked or (clen or 0) > 0:
        return 400, False
    if path == "/bulk":
        query = target.partition("?")[2]
        ns = [kv[2:] for kv in query.split("&") if kv.startswith("n=")]
        if not ns or not ns[0].isdigit():
            return 400, False
    return 200, keep


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(METHODS), st.sampled_from(TARGETS), st.sampled_from(VERSIONS),
       st.lists(st.tuples(header, ows, ows), max_size=5), st.booleans())
def test_http_request_head_gets_the_documented_answer(method, target, version, hdrs, crlf):
    eol = "\r\n" if crlf else "\n"
    lines = ["%s %s %s" % (method, target, version)]
    for (kind, name, value), ows1, ows2 in hdrs:
        lines.append(name if value is None else "%s:%s%s%s" % (name, ows1, value, ows2))
    head = (eol.join(lines) + eol + eol).encode()
    body = b"abc" if any(k == "clen" and v == "3" for (k, _, v), _, _ in hdrs) else b""
    want, keep = http_oracle(method, target, version, [h for h, _, _ in hdrs])
    out = serve([head + body])
    got = responses(out)
    assert got, out
    status, hdr, _ = got[0]
    assert status == want, (head, out[:200])
    assert (hdr.get("connection") != "close") == keep, (head, out[:200])


def test_fence_catches_a_read_past_the_end():
    buf, o, end = fenced(b"\x45" + bytes(19), b"ab", b"cd")
    try:
        buf[end]
    except FenceError:
        pass
    else:
        raise AssertionError("the fence let a read past the end through")
