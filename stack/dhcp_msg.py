# The message half of the DHCP client (stack/dhcp.py): what goes into our
# messages (RFC 2131 table 5, RFC 2132 options) and how a server's ACK is read
# into the lease fields, with every option length checked before use.
from stack.wire import dhcp4 as wd

# RFC 2132 9.8: what we ask for (subnet, router, DNS, lease, T1, T2)
_PARAMS = b"\x01\x03\x06\x33\x3a\x3b"


def build(c, mtype, ciaddr, secs, req_ip, server_id):
    """The client c's message into c._tx; returns its length. RFC 2131 table 5 decides
    which of ciaddr, requested IP (option 50) and server id (54) appear."""
    t = c._tx
    # Without an address we cannot take a unicast reply: ask for broadcast (4.1).
    flags = wd.FLAG_BROADCAST << 8 if not ciaddr[0] and mtype != wd.DECLINE else 0
    p = wd.write(t, 0, wd.OP_REQUEST, c._xid, secs, flags, ciaddr, c._iface.mac)
    p = wd.put_u8(t, p, wd.OPT_MSG_TYPE, mtype)
    p = wd.put(t, p, wd.OPT_CLIENT_ID, c._client_id, 0, 7)
    if req_ip is not None:
        p = wd.put(t, p, wd.OPT_REQUESTED_IP, req_ip, 0, 4)
    if server_id:
        p = wd.put(t, p, wd.OPT_SERVER_ID, c.server, 0, 4)
    if mtype == wd.DISCOVER or mtype == wd.REQUEST:
        p = wd.put_u16(t, p, wd.OPT_MAX_SIZE, len(c._rx) + 28)
        p = wd.put(t, p, wd.OPT_PARAMS, _PARAMS, 0, len(_PARAMS))
        p = wd.put(t, p, wd.OPT_HOSTNAME, c._host, 0, c._host_len)
    return wd.put_end(t, 0, p)


def read_ack(c, n):
    """The options of the ACK in c._rx into c's lease fields; False if one is malformed.
    RFC 2132: subnet 4 bytes, router and DNS multiples of 4, times 4 bytes."""
    b = c._rx
    p = wd.find(b, 0, n, wd.OPT_LEASE)
    if p < 0 or b[p] != 4:
        return False  # RFC 2131 table 3: an ACK to a REQUEST MUST carry it
    lease = wd.u32_sat(b, p + 1)
    p = wd.find(b, 0, n, wd.OPT_SUBNET)
    if p >= 0 and b[p] != 4:
        return False
    r = wd.find(b, 0, n, wd.OPT_ROUTER)
    if r >= 0 and (b[r] < 4 or b[r] & 3):
        return False
    d = wd.find(b, 0, n, wd.OPT_DNS)
    if d >= 0 and (b[d] < 4 or b[d] & 3):
        return False
    t1 = wd.find(b, 0, n, wd.OPT_T1)
    t2 = wd.find(b, 0, n, wd.OPT_T2)
    if (t1 >= 0 and b[t1] != 4) or (t2 >= 0 and b[t2] != 4):
        return False
    # valid: take it
    if p >= 0:
        for i in range(4):
            c.netmask[i] = b[p + 1 + i]
    else:
        _classful_mask(c.netmask, b[wd.YIADDR])
    for i in range(4):
        c.router[i] = b[r + 1 + i] if r >= 0 else 0
    c.dns_count = 0
    k = 0
    while d >= 0 and k < b[d] and c.dns_count * 4 < len(c.dns):
        for i in range(4):
            c.dns[c.dns_count * 4 + i] = b[d + 1 + k + i]
        c.dns_count += 1
        k += 4
    for i in range(c.dns_count * 4, len(c.dns)):
        c.dns[i] = 0
    if c._lease_max_s and lease > c._lease_max_s:
        lease = c._lease_max_s
    c.lease_s = lease
    # RFC 2131 4.4.5: T1 defaults to half the lease, T2 to 7/8 of it.
    c.t1_s = wd.u32_sat(b, t1 + 1) if t1 >= 0 else lease // 2
    c.t2_s = wd.u32_sat(b, t2 + 1) if t2 >= 0 else lease - lease // 8
    if not c.t1_s <= c.t2_s <= lease:
        c.t1_s = lease // 2
        c.t2_s = lease - lease // 8
    return True


def _classful_mask(mask, first):
    # RFC 2131 leaves a missing subnet option to the client: the class's mask.
    mask[0] = 255
    mask[1] = 255 if first >= 128 else 0
    mask[2] = 255 if first >= 192 else 0
    mask[3] = 0
