"""The W5500 chip model at the SPI level: frame format, VDM/FDM, registers,
buffer wrap, commands, torn counter reads, reset, INTn and misuse detection."""

import pytest

from boards.sim.machine import SPI, Pin
from boards.sim.memwire import MemWire
from boards.sim.w5500 import ChipProtocolError, W5500Model

CR, IR, SR = 0x01, 0x02, 0x03


class Bus:
    def __init__(self, strict=True, **spi_kw):
        self.wire = MemWire()
        self.model = W5500Model(self.wire, strict=strict)
        self.spi = SPI(0, baudrate=spi_kw.pop("baudrate", 33_000_000), **spi_kw)
        self.cs = Pin(17, Pin.OUT, value=1)
        self.irq = Pin(21, Pin.IN)
        self.model.attach(self.spi, self.cs, int_pin=self.irq)

    def frame(self, addr, ctrl, data):
        b = bytearray([addr >> 8, addr & 0xFF, ctrl]) + bytearray(data)
        self.cs.value(0)
        try:
            self.spi.write_readinto(b, b)
        finally:
            self.cs.value(1)
        return bytes(b[3:])

    def read(self, addr, block, n):
        return self.frame(addr, block << 3, bytes(n))

    def write(self, addr, block, data):
        self.frame(addr, (block << 3) | 4, data)

    def cmd(self, c):
        while self.read(CR, 1, 1)[0]:
            pass
        self.write(CR, 1, [c])

    def open_macraw(self, mr=0x04):
        self.read(0x0039, 0, 1)
        for n in range(8):
            self.write(0x1E, 4 * n + 1, [16 if n == 0 else 0, 16 if n == 0 else 0])
        self.write(0x00, 1, [mr])
        self.cmd(0x01)
        while self.read(CR, 1, 1)[0]:  # taken
            pass


def test_reset_mr_rst_and_version_read_once_then_settle():
    b = Bus()
    assert b.read(0x0000, 0, 1) == b"\x80"
    assert b.read(0x0000, 0, 1) == b"\x00"
    assert b.read(0x0039, 0, 1) == b"\x00"
    assert b.read(0x0039, 0, 1) == b"\x04"
    assert b.read(0x0019, 0, 3) == b"\x07\xd0\x08"  # RTR, RCR: a VDM burst auto-increments


def test_shar_burst_write_read_back_and_soft_reset_clears_it():
    b = Bus()
    b.write(0x0009, 0, b"\x02\x00\x00\x00\x00\x02")
    assert b.read(0x0009, 0, 6) == b"\x02\x00\x00\x00\x00\x02"
    b.write(0x0000, 0, [0x80])
    assert b.read(0x0009, 0, 6) == bytes(6)


def test_fdm_one_byte_ok_and_length_mismatch_rejected():
    b = Bus()
    assert b.frame(0x0039, 0x01, b"\x00") in (b"\x00", b"\x04")
    with pytest.raises(ChipProtocolError, match="FDM"):
        b.frame(0x0039, 0x01, b"\x00\x00")


def test_short_frame_rejected():
    b = Bus()
    b.cs.value(0)
    b.spi.write(b"\x00\x39")
    with pytest.raises(ChipProtocolError, match="address/control"):
        b.cs.value(1)


def test_read_only_and_reserved_registers_rejected():
    b = Bus()
    with pytest.raises(ChipProtocolError, match="read-only"):
        b.write(0x0039, 0, [0x05])
    with pytest.raises(ChipProtocolError, match="reserved"):
        b.read(0x0030, 0, 1)
    with pytest.raises(ChipProtocolError, match="read-only"):
        b.write(0x26, 1, [0, 0])  # Sn_RX_RSR


def test_sn_cr_reads_back_until_taken_and_double_write_rejected():
    b = Bus()
    b.open_macraw()
    assert b.read(SR, 1, 1) == b"\x42"
    b.write(CR, 1, [0x40])  # RECV
    with pytest.raises(ChipProtocolError, match="Sn_CR written before"):
        b.write(CR, 1, [0x40])


def test_open_only_macraw_on_socket_0():
    b = Bus()
    b.write(0x00, 1, [0x01])  # TCP
    with pytest.raises(ChipProtocolError, match="MACRAW"):
        b.write(CR, 1, [0x01])


def test_buffer_sizes_over_16k_rejected_at_open():
    b = Bus()
    b.write(0x1E, 1, [16])  # socket 0 RX 16 KB, others keep their 2 KB
    b.write(0x00, 1, [0x04])
    with pytest.raises(ChipProtocolError, match="16 KB"):
        b.write(CR, 1, [0x01])


def test_receive_record_and_rx_buffer_burst_wraps_at_16k():
    b = Bus()
    b.model.open_ptr = 0x3FF0  # 16 bytes before the end of the buffer
    b.open_macraw()
    f = b"\xff" * 6 + bytes(6) + b"\x08\x00" + bytes(range(46))
    b.wire.put(f)
    b.model.poll()
    rsr = b.read(0x26, 1, 2)
    assert rsr == b"\x00\x3e"  # 60 + 2
    rec = b.read(0x3FF0, 3, 62)  # one burst across the wrap
    assert rec[:2] == b"\x00\x3e" and rec[2:] == f
    assert b.irq.value() == 1  # SIMR not set yet
    b.write(0x2C, 1, [0x04])
    b.write(0x0018, 0, [0x01])
    assert b.irq.value() == 0  # RECV pending -> INTn low
    b.write(IR, 1, [0x04])  # write 1 to clear
    assert b.irq.value() == 1


def test_rsr_changes_between_its_byte_reads():
    b = Bus()
    b.model.open_ptr = 0x00F0
    b.open_macraw()
    b.wire.put(bytes(1514))
    # broadcast filter off (no MFEN), so the zero-MAC frame is taken
    hi = b.read(0x26, 1, 1)  # the chip takes the frame right after this byte
    lo = b.read(0x27, 1, 1)
    assert (hi, lo) == (b"\x00", bytes([1516 & 0xFF]))  # torn: 0x00EC, really 0x05EC
    assert b.model.torn == 1
    assert b.read(0x26, 1, 2) == bytes([1516 >> 8, 1516 & 0xFF])


def test_fsr_changes_between_its_byte_reads_when_a_send_completes():
    b = Bus()
    b.model.tx_delay = 100
    b.open_macraw()
    b.write(0x0000, 2, bytes(256))
    b.write(0x24, 1, [0x01, 0x00])  # TX_WR = 256
    b.cmd(0x20)  # SEND
    assert b.model.tx_pending == 256
    fsr = b.read(0x20, 1, 2)
    assert fsr == bytes([0x3F, 0x00]) or b.model.torn  # high byte 0x3F, then the send completes
    assert b.model.tx_pending == 0 and b.wire.sent == [bytes(256)]
    assert b.read(IR, 1, 1)[0] & 0x10  # SENDOK


def test_send_longer_than_1514_rejected():
    b = Bus()
    b.open_macraw()
    b.write(0x24, 1, [0x06, 0x00])  # 1536 bytes
    with pytest.raises(ChipProtocolError, match="1514"):
        b.cmd(0x20)


def test_recv_beyond_rx_wr_rejected():
    b = Bus()
    b.open_macraw()
    b.write(0x28, 1, [0x00, 0x10])
    with pytest.raises(ChipProtocolError, match="beyond"):
        b.cmd(0x40)


def test_mac_filter():
    b = Bus()
    b.write(0x0009, 0, b"\x02\x00\x00\x00\x00\x02")
    b.open_macraw(0x04 | 0x80)
    assert not b.model.receive(b"\x02\x00\x00\x00\x00\x09" + bytes(54), 60)
    assert b.model.receive(b"\x02\x00\x00\x00\x00\x02" + bytes(54), 60)
    assert b.model.receive(b"\xff" * 6 + bytes(54), 60)


def test_rst_pin_resets_the_chip():
    wire = MemWire()
    m = W5500Model(wire)
    spi = SPI(0, baudrate=33_000_000)
    cs = Pin(17, Pin.OUT, value=1)
    rst = Pin(20, Pin.OUT, value=1)
    m.attach(spi, cs, rst=rst)
    r0 = m.resets
    rst.value(0)
    rst.value(1)
    assert m.resets == r0 + 1


@pytest.mark.parametrize("kw,msg", [({"polarity": 1, "phase": 0}, "mode 0 or 3"),
                                    ({"baudrate": 90_000_000}, "80 MHz")])
def test_bus_settings_checked(kw, msg):
    with pytest.raises(ChipProtocolError, match=msg):
        Bus(**kw)


def test_phycfgr_link_bits():
    b = Bus()
    b.read(0x002E, 0, 1)  # negotiating
    assert b.read(0x002E, 0, 1)[0] & 0x07 == 0x07
    b.model.set_link(False)
    assert b.read(0x002E, 0, 1)[0] & 0x01 == 0
