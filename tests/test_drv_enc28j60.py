"""ENC28J60 driver against the register-level chip model (CPython, fast).

Each test reads like a trace: frames are queued on the model's wire, the
driver is polled, and the exact frames and counters are checked. Tests named
*_broken_* run a deliberately wrong driver and expect the model to catch it."""

import errno
import time

import pytest

from boards.sim.enc28j60 import ChipProtocolError, ENC28J60Model
from boards.sim.machine import SPI, Pin
from boards.sim.memwire import MemWire
from stack.drivers import enc28j60 as drv_mod
from stack.drivers.enc28j60 import ENC28J60

MAC = b"\x02\x00\x00\x00\x00\x02"
PEER = b"\x02\x00\x00\x00\x00\x01"
RXEND = 0x19FF


def frame(n, seq=0, dst=MAC):
    body = bytes((seq + i) & 0xFF for i in range(max(0, n - 14)))
    return (dst + PEER + b"\x08\x00" + body)[:n]


def rig(cls=ENC28J60, with_int=True, **kw):
    wire = MemWire()
    model = ENC28J60Model(wire)
    spi = SPI(1, baudrate=20_000_000)
    cs = Pin(13, Pin.OUT, value=1)
    irq = Pin(15, Pin.IN) if with_int else None
    model.attach(spi, cs, int_pin=irq)
    d = cls(spi, cs, MAC, int_pin=irq, **kw)
    return wire, model, spi, d


def reg16(model, key):
    return model.regs[key] | (model.regs[key + 1] << 8)


@pytest.mark.parametrize("with_int", [True, False])
@pytest.mark.parametrize("n", [60, 1514, 42, 61, 127, 1000])
def test_frame_round_trip_exact_bytes(n, with_int):
    wire, model, spi, d = rig(with_int=with_int)
    buf = bytearray(1518)
    f = frame(n, seq=n)
    wire.put(f)
    got = d.recv_into(buf)
    # the wire pads short frames to 60 bytes (zeros), the driver strips the FCS
    assert got == max(n, 60)
    assert bytes(buf[:n]) == f and bytes(buf[n:got]) == bytes(got - n)
    assert d.recv_into(buf) == 0
    assert d.send(buf, n) is True
    assert wire.sent[-1] == f + bytes(max(0, 60 - n))  # MACON3 pads to 60
    assert d.stats["rx_frames"] == 1 and d.stats["tx_frames"] == 1


def test_rx_ring_wraps_many_times_frames_intact():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    wraps = 0
    last = model.wrpt
    for i in range(40):
        n = (60, 1514, 777, 1513)[i % 4]
        wire.put(frame(n, seq=i))
        assert d.recv_into(buf) == n
        assert bytes(buf[:n]) == frame(n, seq=i)
        if model.wrpt < last:
            wraps += 1
        last = model.wrpt
        # errata #14: the read pointer handed back is always odd
        assert reg16(model, 0x0C) & 1 == 1
    assert wraps >= 4
    assert model.errata14_hits == 0
    assert d.stats["rx_frames"] == 40


def test_backlog_of_packets_read_in_order():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    for i in range(4):
        wire.put(frame(1514, seq=i))
    for i in range(4):
        assert d.recv_into(buf) == 1514
        assert bytes(buf[:1514]) == frame(1514, seq=i)
    assert d.recv_into(buf) == 0
    assert model.pktcnt == 0


def test_no_spi_when_int_pin_idle():
    wire, model, spi, d = rig()
    before = spi.bytes
    assert d.recv_into(bytearray(1518)) == 0
    assert spi.bytes == before


def test_filter_drops_other_unicast_keeps_broadcast():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    wire.put(frame(100, dst=b"\x02\x99\x99\x99\x99\x99"))
    wire.put(frame(100, seq=7, dst=b"\xff" * 6))
    assert d.recv_into(buf) == 100
    assert bytes(buf[:6]) == b"\xff" * 6
    assert model.rx_drop_filter == 1


def test_crc_error_frame_dropped_and_counted():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    model.inject_crc_errors = 1
    wire.put(frame(100, seq=1))
    wire.put(frame(100, seq=2))
    assert d.recv_into(buf) == 0
    assert d.stats["rx_drop_bad"] == 1
    assert d.recv_into(buf) == 100 and bytes(buf[:100]) == frame(100, seq=2)


def test_too_long_for_buffer_dropped_and_counted():
    wire, model, spi, d = rig()
    wire.put(frame(1514))
    wire.put(frame(100, seq=3))
    small = bytearray(600)
    assert d.recv_into(small) == 0
    assert d.stats["rx_drop_too_long"] == 1
    assert d.recv_into(small) == 100


def test_rx_overflow_sets_rxerif_and_recovers_without_reset():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    for i in range(8):  # 8 x 1524 bytes > the 6.5 KB FIFO
        wire.put(frame(1514, seq=i))
    model.poll()
    assert model.rx_overflows == 4 and model.pktcnt == 4
    assert model.regs[0x1C] & 0x01  # EIR.RXERIF
    for i in range(4):
        assert d.recv_into(buf) == 1514 and bytes(buf[:1514]) == frame(1514, seq=i)
    assert d.recv_into(buf) == 0
    assert d.stats["rx_overflow"] == 1 and d.stats["rx_reset"] == 0
    assert not model.regs[0x1C] & 0x01
    for i in range(10):  # and traffic flows on
        wire.put(frame(1514, seq=100 + i))
        assert d.recv_into(buf) == 1514 and bytes(buf[:1514]) == frame(1514, seq=100 + i)


def test_late_collision_retried_until_sent():
    wire, model, spi, d = rig()
    model.inject_late_collisions = 3  # errata #13, seen only in the TSV (errata #15)
    assert d.send(bytearray(frame(300)), 300) is True
    assert model.tx_aborts == 3 and model.tx_stalls == 0
    assert d.stats["tx_retry"] == 3
    assert wire.sent == [frame(300)]


def test_late_collisions_give_up_after_16_then_next_frame_goes():
    wire, model, spi, d = rig()
    model.inject_late_collisions = 16
    assert d.send(bytearray(frame(300)), 300) is False
    assert d.stats["tx_error"] == 1 and wire.sent == []
    assert d.send(bytearray(frame(200, seq=1)), 200) is True
    assert wire.sent == [frame(200, seq=1)]


class NoTxResetENC(ENC28J60):
    """Broken: skips the errata #12 TXRST pulse before transmitting."""

    def _bfs(self, reg, mask):
        if reg == 0x1F and mask == 0x80:
            return
        super()._bfs(reg, mask)


def test_broken_driver_without_txrst_stalls_after_abort_bounded():
    wire, model, spi, d = rig(NoTxResetENC)
    model.inject_late_collisions = 1
    t0 = time.monotonic()
    assert d.send(bytearray(frame(300)), 300) is False  # the retry hangs in TXRTS
    assert time.monotonic() - t0 < 1.0
    assert model.tx_stalls >= 1 and d.stats["tx_timeout"] == 1
    assert wire.sent == []


class EvenRdptENC(ENC28J60):
    """Broken: hands back ERXRDPT = next - 2 (even), the errata #14 trap."""

    def _wr16(self, reg, v):
        if reg == 0x0C and v & 1 and v != RXEND:  # init (ERXND) left alone
            v -= 1
        super()._wr16(reg, v)


def test_broken_driver_with_even_erxrdpt_corrupts_rx():
    wire, model, spi, d = rig(EvenRdptENC)
    buf = bytearray(1518)
    got = 0
    for i in range(6):
        wire.put(frame(200, seq=i))
        if d.recv_into(buf):
            got += 1
    assert model.errata14_hits >= 1
    assert got < 6 and d.stats["rx_reset"] >= 1


def test_erxrdpt_stays_odd_with_the_real_driver():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    for i in range(20):
        wire.put(frame(61 + 17 * i, seq=i))
        d.recv_into(buf)
    assert model.errata14_hits == 0 and d.stats["rx_frames"] == 20


def test_link_down_then_up():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    assert d.link_up() is True
    model.set_link(False)
    assert d.link_up() is False
    wire.put(frame(100))
    assert d.recv_into(buf) == 0
    assert d.send(bytearray(frame(100)), 100) is True  # the MAC sends into the void
    assert model.rx_drop_off == 1 and model.tx_lost_no_link == 1
    model.set_link(True)
    assert d.link_up() is True
    wire.put(frame(100, seq=5))
    assert d.recv_into(buf) == 100


def test_full_duplex_set_on_mac_and_phy():
    wire, model, spi, d = rig(full_duplex=True)
    assert model.regs[0x42] & 0x01  # MACON3.FULDPX
    assert model.phy[0x00] & 0x0100  # PHCON1.PDPXMD
    model.inject_late_collisions = 5  # no collisions in full duplex
    assert d.send(bytearray(frame(100)), 100) is True and model.tx_aborts == 0


def test_half_duplex_set_on_mac_and_phy():
    wire, model, spi, d = rig(full_duplex=False)
    assert not model.regs[0x42] & 0x01
    assert not model.phy[0x00] & 0x0100
    assert model.phy[0x10] & 0x0100  # PHCON2.HDLDIS


@pytest.mark.parametrize("level", [0x00, 0xFF])
def test_chip_absent_raises_clear_oserror_quickly(level):
    spi = SPI(1, baudrate=20_000_000, absent=level)
    cs = Pin(13, Pin.OUT, value=1)
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        ENC28J60(spi, cs, MAC)
    assert time.monotonic() - t0 < 0.5
    assert e.value.args[0] == errno.ENODEV
    assert "ENC28J60" in str(e.value)


class NoBankSwitchENC(ENC28J60):
    """Broken: believes every register is in the current bank."""

    def _select(self, reg):
        pass


def test_broken_driver_ignoring_banks_fails_bring_up():
    # EREVID read in bank 0 lands on EDMADSTL (0x00): the driver sees no chip
    with pytest.raises(OSError, match="EREVID 0x00"):
        rig(NoBankSwitchENC)


class StaleBankCacheENC(ENC28J60):
    """Broken: never records the bank it switched to."""

    def _select(self, reg):
        b = self._bank
        super()._select(reg)
        self._bank = b


def test_broken_driver_with_stale_bank_cache_is_rejected():
    with pytest.raises(ChipProtocolError):
        rig(StaleBankCacheENC)


def test_bfs_on_mac_register_is_rejected():
    wire, model, spi, d = rig()
    with pytest.raises(ChipProtocolError, match="BFS/BFC on a MAC/MII"):
        d._bfs(drv_mod._MACON3, 0x01)


def test_wrong_opcode_is_rejected():
    wire, model, spi, d = rig()
    with pytest.raises(ChipProtocolError, match="invalid opcode"):
        d._cmd(0xC0, 0x00, 0x00)  # opcode 110 does not exist
    d._cs.value(1)  # the raise left CS low
    with pytest.raises(ChipProtocolError, match="invalid opcode"):
        d._cmd(0x20, 0x00, 0x00)  # RBM needs argument 0x1A


def test_mac_register_read_without_dummy_byte_is_rejected():
    wire, model, spi, d = rig()
    d._select(drv_mod._MACON1)
    c = bytearray([0x00, 0x00])  # RCR MACON1 as if it were an ETH register
    d._cs.value(0)
    spi.write_readinto(c, c)
    with pytest.raises(ChipProtocolError, match="dummy byte"):
        d._cs.value(1)


def test_spi_bytes_per_frame_are_small():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    wire.put(frame(1514))
    b0 = spi.bytes
    d.recv_into(buf)
    rx_cost = spi.bytes - b0
    b0 = spi.bytes
    d.send(buf, 1514)
    tx_cost = spi.bytes - b0
    assert rx_cost - 1514 <= 40, rx_cost
    assert tx_cost - 1514 <= 40, tx_cost
