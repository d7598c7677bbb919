# Every buffer size and table bound of the stack, in one place. A board file
# makes a Config and overrides what it needs: Config(tcp_conns=2, mtu=1200).
# Everything is allocated once from these numbers when the stack starts.


class Config:
    # link / IP
    mtu = 1500  # IP MTU; frame buffers hold mtu + 14 bytes
    ttl = 64
    # ARP (RFC 826): bounded neighbour cache, one pending frame per unresolved next hop
    arp_entries = 8
    arp_ttl_ms = 60_000  # a resolved entry is refreshed after this
    arp_retry_ms = 1_000  # request resend interval while unresolved
    arp_tries = 3  # requests before an entry (and its pending frame) is dropped
    # UDP
    udp_sockets = 4
    udp_rx_bytes = 2048  # per socket ring for received datagrams (with 8-byte records)

    def __init__(self, **overrides):
        for name, value in overrides.items():
            if not hasattr(self, name):
                raise AttributeError("unknown config field: " + name)
            setattr(self, name, value)
