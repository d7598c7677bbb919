# Every buffer size and table bound of the stack, in one place. A board file
# makes a Config and overrides what it needs: Config(tcp_conns=2, mtu=1200).
# Everything is allocated once from these numbers when the stack starts.


class Config:
    # link / IP
    mtu = 1500  # IP MTU; frame buffers hold mtu + 14 bytes
    ttl = 64
    # IPv4 reassembly (RFC 791, RFC 815; docs/robustness.md): datagrams in
    # progress at once, each with a preallocated buffer for a whole datagram
    # (IPv4 header + data) of up to ip4_reasm_bytes; 0 slots turns it off
    ip4_reasm_slots = 2
    ip4_reasm_bytes = 3072  # a 3,000-byte datagram (ping -s 2972) and a little more
    ip4_reasm_timeout_ms = 15_000  # RFC 791's suggested initial timer
    # ICMP errors we send (RFC 1812 4.3.2.8): token bucket
    icmp_err_per_s = 10
    icmp_err_burst = 10
    # ARP (RFC 826): bounded neighbour cache, one pending frame per unresolved next hop
    arp_entries = 8
    arp_ttl_ms = 60_000  # a resolved entry is refreshed after this
    arp_retry_ms = 1_000  # request resend interval while unresolved
    arp_tries = 3  # requests before an entry (and its pending frame) is dropped
    # UDP
    udp_sockets = 4
    udp_rx_bytes = 1600  # per socket ring: one full-size datagram + its 8-byte record header
    # TCP (docs/tcp.md): every TCB and ring is allocated at start-up
    tcp_conns = 4  # TCBs; listening ports do not take one
    tcp_listeners = 2
    tcp_rx_bytes = 2048  # receive ring per connection (also the largest window offered)
    tcp_tx_bytes = 2048  # send ring per connection (unacknowledged + unsent bytes)
    tcp_ooo_ranges = 4  # out-of-order ranges kept per connection
    tcp_sack = True  # RFC 2018: report those ranges in ACKs (receiver side only)
    tcp_rto_initial_ms = 1000  # RFC 6298 2.1
    tcp_rto_min_ms = 200  # below RFC 6298's 1 s, as Linux does
    tcp_rto_max_ms = 60_000
    tcp_max_retries = 8  # timeouts of the same data before ETIMEDOUT
    tcp_syn_retries = 5
    tcp_delack_ms = 200  # RFC 1122 4.2.3.2 bound (500 max)
    tcp_time_wait_ms = 2_000  # short 2MSL; TIME_WAIT TCBs are recycled first when short
    tcp_fin_wait_2_ms = 30_000  # an orphaned (closed by the app) FIN_WAIT_2 ends after this
    tcp_persist_max_ms = 60_000
    tcp_keepalive_idle_ms = 60_000  # keepalive is off unless a connection enables it
    tcp_keepalive_interval_ms = 10_000
    tcp_keepalive_count = 5
    # DHCP client (docs/dhcp_dns.md); nothing is allocated unless stack.dhcp is used
    dhcp_msg_bytes = 548  # largest DHCP message taken: RFC 2131's 576-byte IP datagram
    dhcp_init_delay_ms = 1_000  # random wait before the first DISCOVER (RFC 2131 4.4.1)
    dhcp_probes = 3  # RFC 5227 PROBE_NUM ARP probes before an address is used
    dhcp_probe_ms = 1_000  # RFC 5227 PROBE_MIN (<= 16383); the other waits scale with it
    dhcp_lease_max_s = 0  # use at most this much of any lease (0: as granted)
    hostname = ""  # DHCP option 12; "" -> "mpy-" + the MAC's last three bytes
    # DNS resolver
    dns_servers = 2  # resolver addresses kept (DHCP option 6 or static)
    dns_cache_entries = 4
    dns_cache_name_bytes = 64  # longer names are resolved but not cached
    dns_ttl_max_s = 3_600  # cache lifetime ceiling, whatever the TTL says
    dns_timeout_ms = 1_000  # first try per server; doubled each round
    dns_rounds = 2  # passes over the server list

    def __init__(self, **overrides):
        self.update(overrides)

    def update(self, overrides):
        for name, value in overrides.items():
            if not hasattr(self, name):
                raise AttributeError("unknown config field: " + name)
            setattr(self, name, value)
        return self
