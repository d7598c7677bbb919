# Board files: one per board, the only place where pins and buses live.
#
# Each names the MicroPython PORT, the mpy-cross ARCH, the CHIP, its SPI bus
# (SPI_ID, SCK/MOSI/MISO, SPI_HZ) and pins (CS, RST, INT; None when not wired),
# and provides config() and driver(opts). Host boards (unix_tap, sim_*) run on
# the unix port and keep a fixed MAC; hardware boards derive theirs with
# mac_from_uid(machine.unique_id()).


def mac_from_uid(uid):
    """A stable MAC for the chip whose unique id is `uid` (bytes): the first 6
    bytes of SHA-256(uid), with the IEEE 802 locally administered bit set and
    the group (multicast) bit clear. Hashing spreads ids that differ in a few
    bits (RP2040 flash ids of one batch) over the whole 46 bits; the same
    board always gets the same MAC, so DHCP leases and ARP caches follow it."""
    import hashlib

    mac = bytearray(hashlib.sha256(bytes(uid)).digest()[:6])
    mac[0] = (mac[0] & 0xFC) | 0x02
    return bytes(mac)
