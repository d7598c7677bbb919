"""stack/wire/dns.py: encode/expand are inverse (hypothesis), queries read back
by scapy, compressed names from scapy expanded, bad names refused."""

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, dns_compress

from stack.wire import dns as wdns

label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                min_size=1, max_size=63)
names = st.lists(label, min_size=1, max_size=6).map(".".join).filter(lambda s: len(s) <= 253)


@given(names)
def test_encode_then_expand_is_the_lower_cased_name(name):
    out = bytearray(255)
    n = wdns.encode(name, out)
    assert n == len(name) + 2
    labels = []
    p = 0
    while out[p]:
        labels.append(bytes(out[p + 1:p + 1 + out[p]]).decode())
        p += 1 + out[p]
    assert ".".join(labels) == name.lower()
    again = bytearray(255)
    assert wdns.expand(out, 0, n, again) == n and again[:n] == out[:n]
    assert wdns.skip_name(out, 0, n) == n
    assert wdns.encode(name.encode(), bytearray(255)) == n  # bytes work too
    assert wdns.encode(name + ".", bytearray(255)) == n  # one trailing dot


@given(names, st.integers(0, 0xFFFF))
def test_query_round_trip_through_scapy(name, qid):
    q = bytearray(255)
    ql = wdns.encode(name, q)
    buf = bytearray(271)
    n = wdns.write_query(buf, qid, q, ql)
    d = DNS(bytes(buf[:n]))
    assert d.id == qid and d.qr == 0 and d.rd == 1 and d.qdcount == 1
    assert d.qd[0].qname.decode().rstrip(".") == name.lower()
    assert d.qd[0].qtype == wdns.TYPE_A and d.qd[0].qclass == wdns.CLASS_IN
    assert wdns.check(buf, n) == wdns.HDR_LEN and wdns.ident(buf) == qid
    assert wdns.flags(buf) & wdns.RD and not wdns.flags(buf) & wdns.QR


@given(st.lists(names, min_size=1, max_size=4))
def test_scapy_compressed_names_expand(rrnames):
    d = DNS(id=7, qr=1, qd=DNSQR(qname=rrnames[0]),
            an=[DNSRR(rrname=r, type="CNAME", rdata=rrnames[0]) for r in rrnames])
    raw = bytes(dns_compress(d))
    n = len(raw)
    out = bytearray(255)
    p = wdns.skip_name(raw, 12, n) + 4
    for r in rrnames:
        k = wdns.expand(raw, p, n, out)
        assert k == len(r) + 2
        want = bytearray(255)
        wdns.encode(r, want)
        assert out[:k] == want[:k]
        p = wdns.skip_name(raw, p, n)
        p += wdns.RR_FIXED + wdns.u16(raw, p + 8)
    assert p == n


def test_refused_names():
    out = bytearray(255)
    for bad in ("", ".", "..", "a..b", ".a", "x" * 64, "a." * 127 + "a", "tab\there", "\u00e9"):
        assert wdns.encode(bad, out) == wdns.DROP_NAME, bad
    assert wdns.encode("a" * 63, out) == 65
    assert wdns.encode("ab", bytearray(3)) == wdns.DROP_NAME  # does not fit out


def test_expand_refuses_reserved_labels_forward_pointers_and_overlong_names():
    out = bytearray(255)
    assert wdns.expand(b"\x41abc\x00", 0, 5, out) == wdns.DROP_NAME
    assert wdns.skip_name(b"\x81abc\x00", 0, 5) == wdns.DROP_NAME
    assert wdns.expand(b"\xc0\x02\x00", 0, 3, out) == wdns.DROP_POINTER
    assert wdns.expand(b"\x00\xc0\x01", 1, 3, out) == wdns.DROP_POINTER  # onto itself
    assert wdns.expand(b"\x03ab", 0, 3, out) == wdns.DROP_SHORT
    assert wdns.expand(b"\xc0", 0, 1, out) == wdns.DROP_SHORT
    long_name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"  # 257 bytes
    assert wdns.expand(long_name, 0, len(long_name), out) == wdns.DROP_NAME


def test_ttl_reading():
    assert wdns.ttl_s(b"\x00\x00\x00\x3c", 0, 3600) == 60
    assert wdns.ttl_s(b"\x00\x01\x00\x00", 0, 3600) == 3600
    assert wdns.ttl_s(b"\x7f\xff\xff\xff", 0, 3600) == 3600
    assert wdns.ttl_s(b"\x80\x00\x00\x01", 0, 3600) == 0
