"""W5500 (MACRAW) driver against the register-level chip model (CPython).

Tests named *_broken_* run a deliberately wrong driver and expect it to fail
against the model the way it would against the chip."""

import errno
import time

import pytest

from boards.sim.machine import SPI, Pin
from boards.sim.memwire import MemWire
from boards.sim.w5500 import ChipProtocolError, W5500Model
from stack.drivers import w5500 as drv_mod
from stack.drivers.w5500 import W5500

MAC = b"\x02\x00\x00\x00\x00\x02"
PEER = b"\x02\x00\x00\x00\x00\x01"


def frame(n, seq=0, dst=MAC, etype=b"\x08\x00"):
    body = bytes((seq + i) & 0xFF for i in range(max(0, n - 14)))
    return (dst + PEER + etype + body)[:n]


def rig(cls=W5500, with_int=True, open_ptr=0, tx_delay=1, with_rst=True):
    wire = MemWire()
    model = W5500Model(wire)
    model.open_ptr = open_ptr
    model.tx_delay = tx_delay
    spi = SPI(0, baudrate=33_000_000)
    cs = Pin(17, Pin.OUT, value=1)
    irq = Pin(21, Pin.IN) if with_int else None
    rst = Pin(20, Pin.OUT, value=1) if with_rst else None
    model.attach(spi, cs, int_pin=irq, rst=rst)
    d = cls(spi, cs, MAC, int_pin=irq, rst=rst)
    return wire, model, spi, d


@pytest.mark.parametrize("with_int", [True, False])
@pytest.mark.parametrize("n", [60, 1514, 42, 61, 127, 1000])
def test_frame_round_trip_exact_bytes(n, with_int):
    wire, model, spi, d = rig(with_int=with_int)
    buf = bytearray(1518)
    f = frame(n, seq=n)
    wire.put(f)
    got = d.recv_into(buf)
    assert got == max(n, 60)  # the wire pads short frames
    assert bytes(buf[:n]) == f and bytes(buf[n:got]) == bytes(got - n)
    assert d.recv_into(buf) == 0
    assert d.send(buf, n) is True
    assert wire.sent[-1] == f + bytes(max(0, 60 - n))  # padded in software
    assert d.stats["rx_frames"] == 1 and d.stats["tx_frames"] == 1


def test_bring_up_registers():
    wire, model, spi, d = rig()
    s = model.sock
    assert s[0x00] == 0x04 | 0x80 | 0x20 | 0x10  # MACRAW + MFEN + MMB + MIP6B
    assert s[0x03] == 0x42  # SOCK_MACRAW
    assert s[0x1E] == 16 and s[0x1F] == 16
    assert all(s[n * 0x30 + 0x1E] == 0 and s[n * 0x30 + 0x1F] == 0 for n in range(1, 8))
    assert bytes(model.common[9:15]) == MAC
    assert model.common[0x18] == 0x01  # SIMR: socket 0


@pytest.mark.parametrize("open_ptr", [0, 0xF000, 0xFFF0])
def test_rx_and_tx_pointers_wrap_16_bits_and_buffer_wraps(open_ptr):
    wire, model, spi, d = rig(open_ptr=open_ptr)
    buf = bytearray(1518)
    sizes = (1514, 60, 999, 1513, 64)
    for i in range(60):  # ~60 KB through a 16 KB ring
        n = sizes[i % 5]
        wire.put(frame(n, seq=i))
        assert d.recv_into(buf) == n
        assert bytes(buf[:n]) == frame(n, seq=i)
        assert d.send(buf, n) is True
        assert wire.sent[-1] == frame(n, seq=i)
    total = sum(sizes[i % 5] + 2 for i in range(60))
    assert model.rx_wr == (open_ptr + total) & 0xFFFF
    assert model.violations == 0


def test_backlog_read_from_one_rsr_snapshot_released_once():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    for i in range(8):
        wire.put(frame(1514, seq=i))
    for i in range(8):
        assert d.recv_into(buf) == 1514
        assert bytes(buf[:1514]) == frame(1514, seq=i)
    assert d.recv_into(buf) == 0
    assert model.rx_rd_pub == model.rx_wr


def test_no_spi_when_int_pin_idle():
    wire, model, spi, d = rig()
    before = spi.bytes
    assert d.recv_into(bytearray(1518)) == 0
    assert spi.bytes == before


def test_rsr_torn_between_byte_reads_is_read_again():
    # no INT pin: the RSR read itself is where the chip takes the frame, so
    # the first read's high byte predates it and the low byte does not
    wire, model, spi, d = rig(with_int=False)
    buf = bytearray(1518)
    for i in range(5):
        wire.put(frame(1514, seq=i))
        assert d.recv_into(buf) == 1514
    assert model.torn >= 5 and d.stats["unstable_reads"] >= 5
    assert d.stats["rx_frames"] == 5 and d.stats["rx_drop_bad"] == 0


class ReadOnceW5500(W5500):
    """Broken: reads RX_RSR / TX_FSR once."""

    def _r16_stable(self, addr):
        return self._r16(drv_mod._S0_R, addr)


def test_broken_driver_reading_rsr_once_loses_frames():
    wire, model, spi, d = rig(ReadOnceW5500, with_int=False)
    buf = bytearray(1518)
    got = 0
    for i in range(5):
        wire.put(frame(1514, seq=i))
        if d.recv_into(buf) == 1514:
            got += 1
    assert got < 5
    assert d.stats["rx_drop_bad"] + d.stats["rx_resync"] > 0


def test_send_waits_for_send_ok_over_several_polls():
    wire, model, spi, d = rig(tx_delay=4)
    assert d.send(bytearray(frame(500)), 500) is True
    assert wire.sent == [frame(500)]
    assert model.sock[0x02] & 0x10 == 0  # SENDOK cleared by the driver


def test_send_ok_never_comes_bounded_timeout():
    wire, model, spi, d = rig(tx_delay=10**9)
    t0 = time.monotonic()
    assert d.send(bytearray(frame(500)), 500) is False
    assert time.monotonic() - t0 < 1.0
    assert d.stats["tx_timeout"] == 1 and d.stats["reopen"] == 1
    model.tx_delay = 1  # the chip recovers: socket 0 was reopened, traffic flows
    assert d.send(bytearray(frame(200, seq=1)), 200) is True
    assert wire.sent == [frame(200, seq=1)]
    wire.put(frame(300, seq=2))
    buf = bytearray(1518)
    assert d.recv_into(buf) == 300


def test_mac_filter_drops_other_unicast_and_ipv6():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    wire.put(frame(100, dst=b"\x02\x99\x99\x99\x99\x99"))
    wire.put(frame(100, etype=b"\x86\xdd"))
    wire.put(frame(100, seq=3, dst=b"\xff" * 6))
    assert d.recv_into(buf) == 100 and bytes(buf[:6]) == b"\xff" * 6
    assert model.rx_drop_filter == 2


def test_rx_overflow_drops_at_the_chip_and_traffic_continues():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    for i in range(14):  # 14 x 1516 > 16 KB
        wire.put(frame(1514, seq=i))
    model.poll()
    assert model.rx_overflows == 4
    for i in range(10):
        assert d.recv_into(buf) == 1514 and bytes(buf[:1514]) == frame(1514, seq=i)
    assert d.recv_into(buf) == 0
    for i in range(10):
        wire.put(frame(1514, seq=50 + i))
        assert d.recv_into(buf) == 1514 and bytes(buf[:1514]) == frame(1514, seq=50 + i)


def test_corrupt_length_header_resyncs():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    wire.put(frame(100, seq=1))
    model.poll()
    model.rxmem[0] = 0x7F  # the length header now says 32 KB
    assert d.recv_into(buf) == 0
    assert d.stats["rx_drop_bad"] == 1 and d.stats["rx_resync"] == 1
    wire.put(frame(100, seq=2))
    assert d.recv_into(buf) == 100 and bytes(buf[:100]) == frame(100, seq=2)


def link_after_polls(d, tries=5):
    for _ in range(tries):
        if d.link_up():
            return True
    return False


def test_link_down_then_up():
    wire, model, spi, d = rig()
    buf = bytearray(1518)
    assert link_after_polls(d)  # autonegotiation takes a moment
    model.set_link(False)
    assert d.link_up() is False
    wire.put(frame(100))
    assert d.recv_into(buf) == 0
    assert model.rx_drop_off == 1
    model.set_link(True)
    assert d.link_up() is False  # still negotiating
    assert link_after_polls(d)
    wire.put(frame(100, seq=4))
    assert d.recv_into(buf) == 100


@pytest.mark.parametrize("level", [0x00, 0xFF])
def test_chip_absent_raises_clear_oserror_quickly(level):
    spi = SPI(0, baudrate=33_000_000, absent=level)
    cs = Pin(17, Pin.OUT, value=1)
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        W5500(spi, cs, MAC)
    assert time.monotonic() - t0 < 0.5
    assert e.value.args[0] == errno.ENODEV
    assert "W5500" in str(e.value)


class NoCrWaitW5500(W5500):
    """Broken: issues socket commands without waiting for Sn_CR to clear."""

    def _command(self, cmd):
        self._w8(drv_mod._S0_W, drv_mod._SN_CR, cmd)
        return True


def test_broken_driver_not_waiting_for_sn_cr_is_rejected():
    with pytest.raises(ChipProtocolError, match="Sn_CR written before"):
        wire, model, spi, d = rig(NoCrWaitW5500)
        d.send(bytearray(frame(100)), 100)


def test_sn_cr_stuck_busy_counted_and_bounded():
    wire, model, spi, d = rig()
    real = model._read_socket

    def wedged(sn, a):  # the chip never takes a command again
        return 0x20 if a == 0x01 else real(sn, a)

    model._read_socket = wedged
    t0 = time.monotonic()
    assert d.send(bytearray(frame(100)), 100) is False
    assert time.monotonic() - t0 < 1.0
    assert d.stats["cmd_timeout"] >= 1 and d.stats["reopen_fail"] == 1
    model._read_socket = real  # unwedged: the next send reopens and goes
    assert d.send(bytearray(frame(100, seq=1)), 100) is True


def test_write_to_read_only_register_is_rejected():
    wire, model, spi, d = rig()
    with pytest.raises(ChipProtocolError, match="read-only"):
        d._w16(drv_mod._S0_W, drv_mod._SN_RX_RSR, 0)


def test_wrong_block_select_is_rejected():
    wire, model, spi, d = rig()
    with pytest.raises(ChipProtocolError, match="size 0"):
        d._r8(0x30, 0x0000)  # socket 1 TX buffer (BSB 6): socket 1 has no memory


def test_recv_past_rx_wr_is_rejected():
    wire, model, spi, d = rig()
    d._w16(drv_mod._S0_W, drv_mod._SN_RX_RD, 100)
    with pytest.raises(ChipProtocolError, match="beyond Sn_RX_WR"):
        d._command(drv_mod._CR_RECV)


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
    assert tx_cost - 1514 <= 45, tx_cost
