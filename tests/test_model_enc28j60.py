"""The ENC28J60 chip model at the SPI level: instruction set, banks, buffer
wrap rules, pointers, flags, PHY, reset, errata traps and misuse detection."""

import pytest

from boards.sim.enc28j60 import ChipProtocolError, ENC28J60Model
from boards.sim.machine import SPI, Pin
from boards.sim.memwire import MemWire

ECON1, ECON2, ESTAT, EIR, EIE = 0x1F, 0x1E, 0x1D, 0x1C, 0x1B


class Bus:
    def __init__(self, strict=True, **spi_kw):
        self.wire = MemWire()
        self.model = ENC28J60Model(self.wire, strict=strict)
        self.spi = SPI(1, baudrate=spi_kw.pop("baudrate", 20_000_000), **spi_kw)
        self.cs = Pin(13, Pin.OUT, value=1)
        self.irq = Pin(15, Pin.IN)
        self.model.attach(self.spi, self.cs, int_pin=self.irq)

    def txn(self, *data):
        b = bytearray(data)
        self.cs.value(0)
        self.spi.write_readinto(b, b)
        self.cs.value(1)
        return b

    def clock_ready(self):
        while not self.txn(0x00 | ESTAT, 0)[1] & 0x01:
            pass

    def bank(self, n):
        self.txn(0xA0 | ECON1, 0x03)
        if n:
            self.txn(0x80 | ECON1, n)

    def wcr(self, addr, v):
        self.txn(0x40 | addr, v)

    def rcr(self, addr):
        return self.txn(addr, 0)[1]

    def rcr_mac(self, addr):
        return self.txn(addr, 0, 0)[2]


def ready_bus(**kw):
    b = Bus(**kw)
    b.clock_ready()
    return b


def test_reset_values_and_clkrdy_reads_low_once():
    b = Bus()
    b.txn(0xFF)  # SRC
    assert b.rcr(ESTAT) & 0x01 == 0
    assert b.rcr(ESTAT) & 0x01 == 1
    assert b.rcr(ECON2) == 0x80
    assert (b.rcr(0x08), b.rcr(0x09)) == (0xFA, 0x05)  # ERXST
    assert (b.rcr(0x0A), b.rcr(0x0B)) == (0xFF, 0x1F)  # ERXND
    b.bank(1)
    assert b.rcr(0x18) == 0xA1  # ERXFCON
    b.bank(3)
    assert b.rcr(0x12) == 0x06  # EREVID (B7)
    b.bank(2)
    assert (b.rcr_mac(0x0A), b.rcr_mac(0x0B)) == (0x00, 0x06)  # MAMXFL


def test_access_before_clkrdy_is_rejected():
    b = Bus()
    with pytest.raises(ChipProtocolError, match="CLKRDY"):
        b.rcr(ECON2)


def test_banks_select_registers_and_common_ones_are_everywhere():
    b = ready_bus()
    b.wcr(0x04, 0x34)  # bank 0 ETXSTL
    b.bank(1)
    b.wcr(0x04, 0x77)  # bank 1 EHT4
    b.bank(0)
    assert b.rcr(0x04) == 0x34
    for n in range(4):
        b.bank(n)
        assert b.rcr(ECON1) & 0x03 == n
        assert b.rcr(ECON2) == 0x80


def test_mac_read_needs_the_dummy_byte():
    b = ready_bus()
    b.bank(2)
    b.txn(0x40 | 0x00, 0x0D)  # MACON1
    assert b.txn(0x00, 0x00, 0x00)[2] == 0x0D
    with pytest.raises(ChipProtocolError, match="dummy byte"):
        b.txn(0x00, 0x00)


def test_bfs_bfc_on_eth_only():
    b = ready_bus()
    b.txn(0x80 | EIE, 0x41)
    b.txn(0xA0 | EIE, 0x01)
    assert b.rcr(EIE) == 0x40
    b.bank(2)
    with pytest.raises(ChipProtocolError, match="MAC/MII"):
        b.txn(0x80 | 0x02, 0x01)


@pytest.mark.parametrize("byte0", [0xC0, 0xDF, 0x20, 0x60, 0xE0])
def test_invalid_opcodes_are_rejected(byte0):
    b = ready_bus()
    with pytest.raises(ChipProtocolError, match="invalid opcode"):
        b.txn(byte0, 0)


def test_unimplemented_register_is_rejected():
    b = ready_bus()
    b.bank(2)
    with pytest.raises(ChipProtocolError, match="unimplemented"):
        b.txn(0x40 | 0x0C, 0x00)  # bank 2 0x0C: nothing there


def test_rbm_wraps_at_erxnd_inside_rx_and_at_end_of_memory_outside():
    b = ready_bus()
    m = b.model
    m.mem[0x19FE:0x1A00] = b"\xAA\xBB"
    m.mem[0:2] = b"\xCC\xDD"
    # ERXST 0, ERXND 0x19FF
    for addr, v in ((0x08, 0x00), (0x09, 0x00), (0x0A, 0xFF), (0x0B, 0x19)):
        b.wcr(addr, v)
    b.wcr(0x00, 0xFE)
    b.wcr(0x01, 0x19)  # ERDPT 0x19FE
    assert bytes(b.txn(0x3A, 0, 0, 0, 0)[1:]) == b"\xAA\xBB\xCC\xDD"
    m.mem[0x1FFF] = 0xEE
    b.wcr(0x00, 0xFF)
    b.wcr(0x01, 0x1F)  # ERDPT 0x1FFF, outside the RX window
    assert bytes(b.txn(0x3A, 0, 0)[1:]) == b"\xEE\xCC"


def test_wbm_wraps_at_end_of_memory():
    b = ready_bus()
    b.wcr(0x02, 0xFF)
    b.wcr(0x03, 0x1F)  # EWRPT 0x1FFF
    b.txn(0x7A, 1, 2, 3)
    assert b.model.mem[0x1FFF] == 1 and bytes(b.model.mem[0:2]) == b"\x02\x03"
    assert (b.rcr(0x02), b.rcr(0x03)) == (0x02, 0x00)


def test_erxrdpt_takes_effect_on_the_high_byte():
    b = ready_bus()
    b.wcr(0x0C, 0x33)
    assert b.model.regs[0x0C] == 0xFA  # still the reset value
    b.wcr(0x0D, 0x12)
    assert (b.model.regs[0x0C], b.model.regs[0x0D]) == (0x33, 0x12)


def _rx_on(b):
    for addr, v in ((0x08, 0x00), (0x09, 0x00), (0x0A, 0xFF), (0x0B, 0x19), (0x0C, 0xFF),
                    (0x0D, 0x19)):
        b.wcr(addr, v)
    b.bank(1)
    b.wcr(0x18, 0x00)  # promiscuous
    b.bank(2)
    b.wcr(0x00, 0x01)  # MACON1.MARXEN
    b.bank(0)
    b.wcr(EIE, 0xC0)  # INTIE | PKTIE
    b.txn(0x80 | ECON1, 0x04)  # RXEN


def test_receive_writes_header_status_and_counts_packets():
    b = ready_bus()
    _rx_on(b)
    f = bytes(range(6)) + bytes(6) + b"\x08\x00" + bytes(50)  # 64 bytes
    b.wire.put(f)
    assert b.irq.value() == 0  # INT pin follows PKTIF
    assert b.rcr(EIR) & 0x40 == 0  # errata #6: PKTIF reads 0 anyway
    b.bank(1)
    assert b.rcr(0x19) == 1  # EPKTCNT
    hdr = bytes(b.model.mem[0:6])
    count = 64 + 4
    nxt = 6 + count
    assert hdr == bytes([nxt & 0xFF, nxt >> 8, count, 0, 0xC0, 0x00])  # RXOK | type
    assert bytes(b.model.mem[6:70]) == f
    b.txn(0x80 | ECON2, 0x40)  # PKTDEC
    assert b.rcr(0x19) == 0
    assert b.irq.value() == 1
    with pytest.raises(ChipProtocolError, match="PKTDEC"):
        b.txn(0x80 | ECON2, 0x40)


def test_rx_fifo_change_while_receiving_is_rejected():
    b = ready_bus()
    _rx_on(b)
    with pytest.raises(ChipProtocolError, match="RXEN"):
        b.wcr(0x09, 0x00)


def test_errata5_rx_fifo_not_at_zero_stores_nothing():
    b = ready_bus()
    for addr, v in ((0x08, 0x00), (0x09, 0x02), (0x0A, 0xFF), (0x0B, 0x19), (0x0C, 0xFF),
                    (0x0D, 0x19)):
        b.wcr(addr, v)  # ERXST 0x0200: the write pointer is left at 0
    b.bank(2)
    b.wcr(0x00, 0x01)
    b.bank(0)
    b.txn(0x80 | ECON1, 0x04)
    assert not b.model.receive(bytes(100), 100)
    assert b.model.rx_overflows == 1


def test_transmit_writes_tsv_and_pads():
    b = ready_bus()
    b.bank(2)
    b.wcr(0x02, 0x30)  # MACON3: PADCFG0 | TXCRCEN, half duplex (PHY too)
    b.bank(0)
    b.wcr(0x02, 0x00)
    b.wcr(0x03, 0x1A)  # EWRPT 0x1A00
    f = b"\xff" * 6 + bytes(6) + b"\x08\x06" + bytes(28)  # 42 bytes
    b.txn(0x7A, 0x00, *f)
    b.wcr(0x04, 0x00)
    b.wcr(0x05, 0x1A)  # ETXST
    b.wcr(0x06, 42)
    b.wcr(0x07, 0x1A)  # ETXND = ETXST + 42
    b.txn(0x80 | ECON1, 0x08)  # TXRTS
    assert b.wire.sent == [f + bytes(18)]
    assert b.rcr(ECON1) & 0x08 == 0 and b.rcr(EIR) & 0x08
    tsv = bytes(b.model.mem[0x1A00 + 43:0x1A00 + 50])
    assert tsv[0] == 60 and tsv[2] & 0x80 and tsv[3] & 0x02  # count, done, broadcast


def test_mii_read_busy_once_and_mird_while_busy_rejected():
    b = ready_bus()
    b.bank(2)
    b.wcr(0x14, 0x11)  # MIREGADR = PHSTAT2
    b.wcr(0x12, 0x01)  # MIIRD
    with pytest.raises(ChipProtocolError, match="BUSY"):
        b.rcr_mac(0x18)
    b.bank(3)
    assert b.rcr_mac(0x0A) == 0x01  # MISTAT.BUSY for one read (about 10 us on the chip)
    assert b.rcr_mac(0x0A) == 0x00
    b.bank(2)
    b.wcr(0x12, 0x00)
    assert (b.rcr_mac(0x18), b.rcr_mac(0x19)) == (0x00, 0x04)  # LSTAT


def test_link_state_in_phstat2():
    b = ready_bus()
    b.model.set_link(False)
    b.bank(2)
    b.wcr(0x14, 0x11)
    b.wcr(0x12, 0x01)
    b.bank(3)
    assert b.rcr_mac(0x0A) == 0x01
    assert b.rcr_mac(0x0A) == 0x00
    b.bank(2)
    b.wcr(0x12, 0x00)
    assert b.rcr_mac(0x19) & 0x04 == 0


@pytest.mark.parametrize("kw,msg", [({"polarity": 1, "phase": 1}, "mode 0"),
                                    ({"baudrate": 25_000_000}, "20 MHz")])
def test_bus_settings_checked(kw, msg):
    with pytest.raises(ChipProtocolError, match=msg):
        Bus(**kw)


def test_clocking_with_cs_high_is_rejected():
    b = ready_bus()
    with pytest.raises(ChipProtocolError, match="CS is high"):
        b.spi.write(b"\x00\x00")


def test_not_strict_counts_instead_of_raising():
    b = ready_bus(strict=False)
    b.txn(0xC0, 0)
    assert b.model.violations == 1 and "opcode" in b.model.last_violation


def test_transactions_and_bytes_counted():
    b = ready_bus()
    t, n = b.model.transactions, b.spi.bytes
    b.rcr(ECON2)
    assert b.model.transactions == t + 1 and b.spi.bytes == n + 2
