# Register-level model of the WIZnet W5500 (socket 0 in MACRAW) behind the
# simulated SPI bus. Facts: shared/hw/FACTS.md section B.
#
# It speaks the SPI frame byte for byte: 16-bit address, control byte (block
# select, R/W, operating mode), data phase with the address auto-incrementing
# while CS stays low (VDM) or a fixed 1/2/4-byte data phase (FDM). Common and
# socket registers, 16 KB TX + 16 KB RX buffer memory given to socket 0 by
# Sn_TXBUF_SIZE/Sn_RXBUF_SIZE (other sockets' buffers are not modelled),
# buffer offsets taken modulo the socket's size (so a burst wraps inside the
# buffer), free-running 16-bit pointers, Sn_CR
# that reads back non-zero until the command is taken, write-1-to-clear IR
# registers, the INTn pin, PHYCFGR link status, MR.RST soft reset and the
# RSTn pin. The wire is a FramedWire; frames are pulled from it lazily.
#
# Fidelity traps for the driver (on by default):
#   - Sn_RX_RSR / Sn_TX_FSR change between the high- and low-byte reads: the
#     model takes frames from the wire right after the RSR high byte is read,
#     and finishes a pending SEND right after the FSR high byte is read; a
#     driver that reads them once gets torn values.
#   - SEND completes only after `tx_delay` further SPI transactions, so the
#     SEND_OK wait is exercised; MR.RST reads set once after a reset, and
#     VERSIONR reads 0x00 once after a reset.
#
# Misuse raises ChipProtocolError when strict: frame shorter than address +
# control, FDM length mismatch, SPI mode other than 0/3 or SCK above 80 MHz,
# writes to read-only registers, access to reserved addresses, a buffer block
# of a socket with size 0, writing the RX buffer, Sn_CR written before the last
# command was taken, commands other than OPEN/CLOSE/SEND/RECV, anything but
# MACRAW on socket 0, RECV with RX_RD beyond RX_WR, SEND longer than 1514.
from micropython import const

from boards.sim.chip import ChipModel, ChipProtocolError  # noqa: F401 (re-exported)
from boards.sim.mem import copy, fill

_MAX_SPI_HZ = const(80000000)

# common registers
_MR = const(0x00)
_SHAR = const(0x09)
_IR = const(0x15)
_IMR = const(0x16)
_SIR = const(0x17)
_SIMR = const(0x18)
_PHYCFGR = const(0x2E)
_VERSIONR = const(0x39)
_MR_RST = const(0x80)

# socket registers
_SN_MR = const(0x00)
_SN_CR = const(0x01)
_SN_IR = const(0x02)
_SN_SR = const(0x03)
_SN_RXBUF_SIZE = const(0x1E)
_SN_TXBUF_SIZE = const(0x1F)
_SN_TX_FSR = const(0x20)
_SN_TX_RD = const(0x22)
_SN_TX_WR = const(0x24)
_SN_RX_RSR = const(0x26)
_SN_RX_RD = const(0x28)
_SN_RX_WR = const(0x2A)
_SN_IMR = const(0x2C)
_SN_REGS = const(0x30)

_CR_OPEN = const(0x01)
_CR_CLOSE = const(0x10)
_CR_SEND = const(0x20)
_CR_RECV = const(0x40)
_IR_SENDOK = const(0x10)
_IR_RECV = const(0x04)
_SR_CLOSED = const(0x00)
_SR_MACRAW = const(0x42)
_MR_MACRAW = const(0x04)
_MR_MFEN = const(0x80)
_MR_BCASTB = const(0x40)
_MR_MMB = const(0x20)
_MR_MIP6B = const(0x10)

_MIN_FRAME = const(60)
_MAX_FRAME = const(1514)


class W5500Model(ChipModel):
    def __init__(self, wire=None, strict=True, link=True):
        self.wire = wire
        self.strict = strict
        self.link = link
        self.common = bytearray(0x40)
        self.sock = bytearray(8 * _SN_REGS)
        self.txmem = bytearray(16384)
        self.rxmem = bytearray(16384)
        self.frame = bytearray(1536)  # wire <-> buffer memory scratch
        self.selected = False
        self.pos = 0
        self.addr = 0
        self.ctrl = 0
        # the chip's own pointers (socket 0)
        self.tx_rd = 0
        self.rx_wr = 0
        self.rx_rd_pub = 0  # RX_RD as of the last RECV
        self.tx_pending = 0  # frame length of a SEND in flight, 0 none
        self.tx_countdown = 0
        # knobs
        self.tx_delay = 1  # SPI transactions a SEND takes to complete
        self.open_ptr = 0  # pointer value after OPEN (tests start near 0xFFFF)
        self.tear = True  # RSR/FSR change between their byte reads
        # counters
        self.transactions = 0
        self.violations = 0
        self.last_violation = None
        self.rx_frames = 0
        self.rx_drop_filter = 0
        self.rx_drop_off = 0
        self.rx_overflows = 0
        self.tx_frames = 0
        self.tx_lost_no_link = 0
        self.torn = 0  # 16-bit counter reads whose bytes came from different values
        self.resets = 0
        self._cr_busy = bytearray(8)  # Sn_CR reads back non-zero this many times
        self._hdr = bytearray(2)
        self._reset()

    # -- bus side -------------------------------------------------------------------

    def check_bus(self, spi):
        if spi.polarity != spi.phase:
            self._violation("W5500 needs SPI mode 0 or 3")
        if spi.baudrate > _MAX_SPI_HZ:
            self._violation("W5500 SCK above 80 MHz")

    def cs_changed(self, level):
        if level == 0:
            self.selected = True
            self.transactions += 1
            self.pos = 0
            if self.tx_pending:
                self.tx_countdown -= 1
                if self.tx_countdown <= 0:
                    self._tx_done()
            return
        self.selected = False
        if 0 < self.pos < 3:
            self._violation("SPI frame ended inside the address/control phase")
        om = self.ctrl & 3
        if self.pos > 3 and om and self.pos - 3 != 1 << (om - 1):
            self._violation("FDM frame with the wrong data length")
        self.pos = 0

    def xfer(self, wbuf, rbuf, n, fill_byte):
        if not self.selected:
            self._violation("SPI clocked while CS is high")
            if rbuf is not None:
                fill(rbuf, 0, 0, n)
            return
        i = 0
        while i < n:
            pos = self.pos
            if pos < 3:
                b = wbuf[i] if wbuf is not None else fill_byte
                if pos == 0:
                    self.addr = b << 8
                elif pos == 1:
                    self.addr |= b
                else:
                    self.ctrl = b
                if rbuf is not None:
                    rbuf[i] = 0
                self.pos = pos + 1
                i += 1
                continue
            bsb = self.ctrl >> 3
            write = self.ctrl & 4
            om = self.ctrl & 3
            if om and pos - 3 >= 1 << (om - 1):
                self._violation("FDM frame longer than its fixed length")
            if bsb and (bsb - 1) & 3:
                # buffer memory: the rest of this transfer in bulk
                k = n - i
                self._buffer(bsb, write, wbuf, rbuf, i, k, fill_byte)
                self.addr = (self.addr + k) & 0xFFFF
                self.pos = pos + k
                return
            b = wbuf[i] if wbuf is not None else fill_byte
            out = 0
            if bsb == 0:
                if write:
                    self._write_common(self.addr, b)
                else:
                    out = self._read_common(self.addr)
            else:
                sn = (bsb - 1) >> 2
                if write:
                    self._write_socket(sn, self.addr, b)
                else:
                    out = self._read_socket(sn, self.addr)
            if rbuf is not None:
                rbuf[i] = out
            self.addr = (self.addr + 1) & 0xFFFF
            self.pos = pos + 1
            i += 1

    # -- buffer memory ----------------------------------------------------------------

    def _size(self, sn, reg):
        return self.sock[sn * _SN_REGS + reg] * 1024

    def _buffer(self, bsb, write, wbuf, rbuf, off, n, fill_byte):
        sn = (bsb - 1) >> 2
        rx = (bsb - 1) & 3 == 2
        if (bsb - 1) & 3 == 3:
            self._violation("reserved block select 0x%02x" % bsb)
            return
        reg = _SN_RXBUF_SIZE if rx else _SN_TXBUF_SIZE
        size = self._size(sn, reg)
        if size == 0:
            self._violation("buffer access to socket %d with size 0" % sn)
            return
        if sn != 0:
            self._violation("only socket 0's buffers are modelled")
            return
        if write and rx:
            self._violation("write to the RX buffer")
            return
        a = self.addr
        mem = self.rxmem if rx else self.txmem
        base = 0
        mask = size - 1
        while n > 0:
            p = a & mask  # the offset is taken modulo the socket's buffer size
            k = size - p
            if k > n:
                k = n
            if write:
                if wbuf is not None:
                    copy(mem, base + p, wbuf, off, k)
                else:
                    fill(mem, base + p, fill_byte, k)
            elif rbuf is not None:
                copy(rbuf, off, mem, base + p, k)
            off += k
            n -= k
            a = (a + k) & 0xFFFF

    # -- common registers -------------------------------------------------------------

    def _read_common(self, a):
        c = self.common
        if a == _MR:
            if self._rst_reads > 0:
                self._rst_reads -= 1
                return c[_MR] | _MR_RST
            return c[_MR]
        if a == _VERSIONR:
            if self._ver_zero > 0:
                self._ver_zero -= 1
                return 0x00
            return 0x04
        if a == _PHYCFGR:
            v = c[_PHYCFGR] & 0xF8
            if v & 0x80 and self.link:
                if self._phy_wait > 0:
                    self._phy_wait -= 1
                else:
                    v |= 0x07  # link up, 100 Mb/s, full duplex
            return v
        if a == _SIR:
            return self._sir()
        if 0x2F <= a <= 0x38 or a > _VERSIONR:
            self._violation("read of reserved common register 0x%04x" % a)
            return 0
        return c[a]

    def _write_common(self, a, v):
        c = self.common
        if a == _MR:
            if v & _MR_RST:
                self._reset()
            else:
                c[_MR] = v
        elif a == _IR:
            c[_IR] &= ~v & 0xFF
        elif a == _SIR or a == _VERSIONR:
            self._violation("write to read-only common register 0x%04x" % a)
        elif a == _PHYCFGR:
            if not v & 0x80:
                self._phy_wait = 2  # PHY reset: link comes back after it is released
            c[_PHYCFGR] = v & 0xF8
        elif 0x2F <= a <= 0x38 or a > _VERSIONR:
            self._violation("write to reserved common register 0x%04x" % a)
        else:
            c[a] = v

    def _sir(self):
        v = 0
        s = self.sock
        for n in range(8):
            if s[n * _SN_REGS + _SN_IR] & s[n * _SN_REGS + _SN_IMR]:
                v |= 1 << n
        return v

    def int_level(self):
        """INTn: low while an enabled interrupt is pending."""
        self.poll()
        c = self.common
        if c[_IR] & c[_IMR] or self._sir() & c[_SIMR]:
            return 0
        return 1

    # -- socket registers ----------------------------------------------------------------

    def _get16(self, sn, a):
        s = self.sock
        o = sn * _SN_REGS + a
        return (s[o] << 8) | s[o + 1]

    def _value16(self, sn, a):
        # the chip-maintained 16-bit registers, as they are now
        if sn != 0:
            return self._get16(sn, a)
        if a == _SN_TX_FSR:
            size = self._size(0, _SN_TXBUF_SIZE)
            return (size - ((self._get16(0, _SN_TX_WR) - self.tx_rd) & 0xFFFF)) & 0xFFFF
        if a == _SN_TX_RD:
            return self.tx_rd
        if a == _SN_RX_RSR:
            return (self.rx_wr - self.rx_rd_pub) & 0xFFFF
        return self.rx_wr  # _SN_RX_WR

    def _read_socket(self, sn, a):
        s = self.sock
        if a >= _SN_REGS:
            self._violation("read of reserved socket register 0x%04x" % a)
            return 0
        o = sn * _SN_REGS + a
        if a == _SN_CR:
            if self._cr_busy[sn] > 0:
                self._cr_busy[sn] -= 1
                return s[o]
            return 0
        base = a & ~1
        if _SN_TX_FSR <= base <= _SN_RX_WR and base != _SN_TX_WR and base != _SN_RX_RD:
            v = self._value16(sn, base)
            if a & 1:
                if self._hi_pending >= 0 and self._hi_pending != v >> 8:
                    self.torn += 1
                self._hi_pending = -1
                return v & 0xFF
            self._hi_pending = v >> 8
            if self.tear and sn == 0:
                # the counter moves between the two byte reads
                if base == _SN_RX_RSR:
                    self.poll()
                elif base == _SN_TX_FSR and self.tx_pending:
                    self._tx_done()
            return v >> 8
        return s[o]

    def _write_socket(self, sn, a, v):
        s = self.sock
        if a >= _SN_REGS:
            self._violation("write to reserved socket register 0x%04x" % a)
            return
        o = sn * _SN_REGS + a
        if a == _SN_CR:
            if self._cr_busy[sn] > 0:
                self._violation("Sn_CR written before the previous command was taken")
            s[o] = v
            self._cr_busy[sn] = 1
            self._command(sn, v)
        elif a == _SN_IR:
            s[o] &= ~v & 0xFF
        elif a == _SN_SR or _SN_TX_FSR <= a <= _SN_TX_RD + 1 or _SN_RX_RSR <= a <= _SN_RX_RSR + 1 \
                or _SN_RX_WR <= a <= _SN_RX_WR + 1:
            self._violation("write to read-only socket register 0x%02x" % a)
        elif a == _SN_RXBUF_SIZE or a == _SN_TXBUF_SIZE:
            if v not in (0, 1, 2, 4, 8, 16):
                self._violation("buffer size %d KB is not 0/1/2/4/8/16" % v)
            if s[sn * _SN_REGS + _SN_SR] != _SR_CLOSED:
                self._violation("buffer size changed on an open socket")
            s[o] = v
        else:
            s[o] = v

    def _command(self, sn, cmd):
        s = self.sock
        o = sn * _SN_REGS
        if cmd == _CR_OPEN:
            if sn != 0 or s[o + _SN_MR] & 0x0F != _MR_MACRAW:
                self._violation("only MACRAW on socket 0 is modelled")
                return
            rx_total = 0
            tx_total = 0
            for n in range(8):
                rx_total += s[n * _SN_REGS + _SN_RXBUF_SIZE]
                tx_total += s[n * _SN_REGS + _SN_TXBUF_SIZE]
            if rx_total > 16 or tx_total > 16:
                self._violation("socket buffer sizes add up to more than 16 KB")
                return
            p = self.open_ptr & 0xFFFF
            self.tx_rd = p
            self.rx_wr = p
            self.rx_rd_pub = p
            for reg in (_SN_TX_WR, _SN_RX_RD):
                s[o + reg] = p >> 8
                s[o + reg + 1] = p & 0xFF
            self.tx_pending = 0
            s[o + _SN_SR] = _SR_MACRAW
        elif cmd == _CR_CLOSE:
            s[o + _SN_SR] = _SR_CLOSED
            self.tx_pending = 0
        elif cmd == _CR_SEND:
            if s[o + _SN_SR] != _SR_MACRAW:
                self._violation("SEND on a socket that is not open")
                return
            if self.tx_pending:
                self._violation("SEND before the previous SEND completed")
                return
            n = (self._get16(0, _SN_TX_WR) - self.tx_rd) & 0xFFFF
            if n == 0 or n > _MAX_FRAME:
                self._violation("SEND of %d bytes (MACRAW frames are 1..1514)" % n)
                return
            self.tx_pending = n
            self.tx_countdown = self.tx_delay
            if self.tx_delay <= 0:
                self._tx_done()
        elif cmd == _CR_RECV:
            if s[o + _SN_SR] != _SR_MACRAW:
                self._violation("RECV on a socket that is not open")
                return
            rd = self._get16(0, _SN_RX_RD)
            if (rd - self.rx_rd_pub) & 0xFFFF > (self.rx_wr - self.rx_rd_pub) & 0xFFFF:
                self._violation("RECV with Sn_RX_RD beyond Sn_RX_WR")
                return
            self.rx_rd_pub = rd
        else:
            self._violation("socket command 0x%02x is not modelled" % cmd)

    # -- the wire ----------------------------------------------------------------------------

    def _tx_done(self):
        n = self.tx_pending
        self.tx_pending = 0
        base = 0
        size = self._size(0, _SN_TXBUF_SIZE)
        p = self.tx_rd & (size - 1)
        frame = self.frame
        k = size - p
        if k >= n:
            copy(frame, 0, self.txmem, base + p, n)
        else:
            copy(frame, 0, self.txmem, base + p, k)
            copy(frame, k, self.txmem, base, n - k)
        if self.link and self.wire is not None:
            self.wire.send(frame, n)
            self.tx_frames += 1
        else:
            self.tx_lost_no_link += 1
        self.tx_rd = (self.tx_rd + n) & 0xFFFF
        self.sock[_SN_IR] |= _IR_SENDOK

    def receive(self, buf, n):
        """One frame (no FCS) arriving from the wire."""
        s = self.sock
        if not self.link or s[_SN_SR] != _SR_MACRAW:
            self.rx_drop_off += 1
            return False
        mr = s[_SN_MR]
        bcast = buf[0] & buf[1] & buf[2] & buf[3] & buf[4] & buf[5] == 0xFF
        mcast = buf[0] & 1 and not bcast
        if mr & _MR_MFEN:
            c = self.common
            ours = True
            for i in range(6):
                if buf[i] != c[_SHAR + i]:
                    ours = False
            if not (ours or (bcast and not mr & _MR_BCASTB) or (mcast and not mr & _MR_MMB)):
                self.rx_drop_filter += 1
                return False
        if mr & _MR_MIP6B and buf[12] == 0x86 and buf[13] == 0xDD:
            self.rx_drop_filter += 1
            return False
        m = n if n >= _MIN_FRAME else _MIN_FRAME  # padded on a real wire
        rec = m + 2
        base = 0
        size = self._size(0, _SN_RXBUF_SIZE)
        used = (self.rx_wr - self.rx_rd_pub) & 0xFFFF
        if rec > size - used:
            self.rx_overflows += 1
            return False
        hdr = self._hdr
        hdr[0] = rec >> 8
        hdr[1] = rec & 0xFF
        p = self._rx_put(self.rx_wr, hdr, 2, base, size)
        p = self._rx_put(p, buf, n, base, size)
        self._rx_put(p, None, m - n, base, size)
        self.rx_wr = (self.rx_wr + rec) & 0xFFFF
        s[_SN_IR] |= _IR_RECV
        self.rx_frames += 1
        return True

    def _rx_put(self, ptr, src, n, base, size):
        mem = self.rxmem
        soff = 0
        while n > 0:
            p = ptr & (size - 1)
            k = size - p
            if k > n:
                k = n
            if src is None:
                fill(mem, base + p, 0, k)
            else:
                copy(mem, base + p, src, soff, k)
                soff += k
            n -= k
            ptr = (ptr + k) & 0xFFFF
        return ptr

    def set_link(self, up):
        """Plug or unplug the cable (plugging in renegotiates: the link bit
        shows after one more PHYCFGR read)."""
        if up and not self.link:
            self._phy_wait = 1
        self.link = up

    # -- reset -------------------------------------------------------------------------------

    def _reset(self):
        self.resets += 1
        c = self.common
        fill(c, 0, 0, len(c))
        c[0x19] = 0x07  # RTR 2000 x 100 us
        c[0x1A] = 0xD0
        c[0x1B] = 0x08  # RCR
        c[_PHYCFGR] = 0xB8  # PHY out of reset, all-capable autonegotiation
        s = self.sock
        fill(s, 0, 0, len(s))
        for n in range(8):
            s[n * _SN_REGS + _SN_RXBUF_SIZE] = 2
            s[n * _SN_REGS + _SN_TXBUF_SIZE] = 2
            s[n * _SN_REGS + _SN_IMR] = 0xFF
        fill(self._cr_busy, 0, 0, 8)
        self._hi_pending = -1
        self._rst_reads = 1  # MR.RST reads set once after a reset
        self._ver_zero = 1  # VERSIONR reads 0x00 once after a reset
        self._phy_wait = 1  # link status shows after the PHY settles
        self.tx_rd = 0
        self.rx_wr = 0
        self.rx_rd_pub = 0
        self.tx_pending = 0
