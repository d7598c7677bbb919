# Register-level model of the Microchip ENC28J60 behind the simulated SPI bus.
#
# It speaks the chip's SPI instruction set byte for byte (RCR, RBM, WCR, WBM,
# BFS, BFC, SRC; FACTS A.2), with four register banks selected by ECON1.BSEL,
# the dummy byte on MAC/MII reads, the 8 KB buffer with the RBM/WBM wrap rules,
# the receive FIFO written by "hardware" with the 6-byte status vector, the
# transmit path with the per-packet control byte and the 7-byte TSV, EPKTCNT /
# PKTDEC, the interrupt flags and the INT pin, the PHY behind MII, soft reset
# and the clock-ready wait. The wire is a FramedWire (stack/drivers/tap.py);
# frames are pulled from it lazily, when the driver looks (INT pin, EPKTCNT,
# EIR, ESTAT, or poll()).
#
# Errata reproduced so a driver's workaround is exercised (DS80349C numbers):
#   #5  writing ERXST/ERXND leaves 0x0000 in the hardware write pointer
#   #6  EIR.PKTIF reads 0 (the INT pin still follows it)
#   #12 after a transmit abort, TXRTS without a TXRST pulse first never completes
#   #13 late collisions injected on demand (inject_late_collisions), half duplex
#   #14 an even ERXRDPT corrupts the next stored packet's next-packet pointer
#   #15 ESTAT.LATECOL never set; only the TSV tells
#
# Misuse that a real chip would not accept raises ChipProtocolError when
# strict (the default): unknown opcode, BFS/BFC on a MAC/MII register, access to
# an unimplemented or read-only register (which is what a wrong bank usually
# looks like), a MAC/MII read without the dummy byte, ERXST/ERXND/ERXFCON/MAADR
# changed while receiving, MIRD read while MII is busy, PKTDEC at zero,
# register access before CLKRDY after reset, SPI clocked with CS high, bus mode
# other than 0 or SCK above 20 MHz, MAC and PHY duplex disagreeing at transmit.
from micropython import const

from boards.sim.chip import ChipModel, ChipProtocolError  # noqa: F401 (re-exported)
from boards.sim.mem import copy, fill

# opcodes (top 3 bits)
_OP_RCR = const(0)
_OP_RBM = const(1)
_OP_WCR = const(2)
_OP_WBM = const(3)
_OP_BFS = const(4)
_OP_BFC = const(5)
_OP_SRC = const(7)

# transaction states
_ST_OP = const(0)
_ST_RCR = const(1)
_ST_WCR = const(2)
_ST_BFS = const(3)
_ST_BFC = const(4)
_ST_RBM = const(5)
_ST_WBM = const(6)
_ST_DONE = const(7)
_ST_BAD = const(8)

# register keys: bank * 32 + addr; 0x1B..0x1F are the same in every bank (key = addr)
_ERDPTL = const(0x00)
_ERDPTH = const(0x01)
_EWRPTL = const(0x02)
_EWRPTH = const(0x03)
_ETXSTL = const(0x04)
_ETXSTH = const(0x05)
_ETXNDL = const(0x06)
_ETXNDH = const(0x07)
_ERXSTL = const(0x08)
_ERXSTH = const(0x09)
_ERXNDL = const(0x0A)
_ERXNDH = const(0x0B)
_ERXRDPTL = const(0x0C)
_ERXRDPTH = const(0x0D)
_ERXWRPTL = const(0x0E)
_ERXWRPTH = const(0x0F)
_EIE = const(0x1B)
_EIR = const(0x1C)
_ESTAT = const(0x1D)
_ECON2 = const(0x1E)
_ECON1 = const(0x1F)
_ERXFCON = const(0x38)
_EPKTCNT = const(0x39)
_MACON1 = const(0x40)
_MACON3 = const(0x42)
_MAMXFLL = const(0x4A)
_MAMXFLH = const(0x4B)
_MICMD = const(0x52)
_MIREGADR = const(0x54)
_MIWRL = const(0x56)
_MIWRH = const(0x57)
_MIRDL = const(0x58)
_MIRDH = const(0x59)
_MAADR5 = const(0x60)  # wire octet 4 (FACTS A.4 mapping)
_MAADR6 = const(0x61)
_MAADR3 = const(0x62)
_MAADR4 = const(0x63)
_MAADR1 = const(0x64)
_MAADR2 = const(0x65)
_MISTAT = const(0x6A)
_EREVID = const(0x72)

# flags per key in _KIND
_K_VALID = const(1)
_K_MAC = const(2)  # MAC/MII: dummy byte on read, no BFS/BFC
_K_RO = const(4)

# bits
_ECON1_TXRST = const(0x80)
_ECON1_RXRST = const(0x40)
_ECON1_DMAST = const(0x20)
_ECON1_TXRTS = const(0x08)
_ECON1_RXEN = const(0x04)
_ECON2_AUTOINC = const(0x80)
_ECON2_PKTDEC = const(0x40)
_EIE_INTIE = const(0x80)
_EIR_PKTIF = const(0x40)
_EIR_LINKIF = const(0x10)
_EIR_TXIF = const(0x08)
_EIR_TXERIF = const(0x02)
_EIR_RXERIF = const(0x01)
_ESTAT_INT = const(0x80)
_ESTAT_TXABRT = const(0x02)
_ESTAT_CLKRDY = const(0x01)
_MACON1_MARXEN = const(0x01)
_MACON3_TXCRCEN = const(0x10)
_MACON3_FULDPX = const(0x01)
_MICMD_MIIRD = const(0x01)
_MISTAT_BUSY = const(0x01)
_ERXFCON_UCEN = const(0x80)
_ERXFCON_ANDOR = const(0x40)
_ERXFCON_MCEN = const(0x02)
_ERXFCON_BCEN = const(0x01)
_ERXFCON_FILTERS = const(0x9F)  # UCEN|PMEN|MPEN|HTEN|MCEN|BCEN: none set = promiscuous
_CTRL_PPADEN = const(0x04)
_CTRL_POVERRIDE = const(0x01)

# PHY registers
_PHCON1 = const(0x00)
_PHSTAT1 = const(0x01)
_PHHID1 = const(0x02)
_PHHID2 = const(0x03)
_PHCON2 = const(0x10)
_PHSTAT2 = const(0x11)
_PHIE = const(0x12)
_PHIR = const(0x13)
_PHLCON = const(0x14)
_PHCON1_PRST = const(0x8000)
_PHCON1_PDPXMD = const(0x0100)
_PHSTAT2_LSTAT = const(0x0400)
_PHSTAT2_DPXSTAT = const(0x0200)
_PHSTAT1_LLSTAT = const(0x0004)
_PHSTAT1_DPX = const(0x1800)  # PFDPX | PHDPX: both duplex modes supported
_PHIR_PLNKIF = const(0x0010)
_PHIE_PLNKIE = const(0x0010)
_PHIE_PGEIE = const(0x0002)

_MEM_SIZE = const(8192)
_MEM_MASK = const(0x1FFF)
_RESET_PTR = const(0x05FA)
_MAX_SPI_HZ = const(20000000)
_FCS = const(4)
_MIN_FRAME = const(60)


def _build_kinds():
    k = bytearray(128)
    for a in range(0x18):  # bank 0 ERDPT..EDMACS
        k[a] = _K_VALID
    k[_ERXWRPTL] = _K_VALID | _K_RO
    k[_ERXWRPTH] = _K_VALID | _K_RO
    for a in list(range(0x12)) + [0x14, 0x15, 0x16, 0x17, 0x18, 0x19]:  # bank 1
        k[32 + a] = _K_VALID
    for a in (0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x11,
              0x12, 0x14, 0x16, 0x17, 0x18, 0x19):  # bank 2: MAC/MII
        k[64 + a] = _K_VALID | _K_MAC
    k[_MIRDL] |= _K_RO
    k[_MIRDH] |= _K_RO
    for a in range(6):  # bank 3 MAADR
        k[96 + a] = _K_VALID | _K_MAC
    k[_MISTAT] = _K_VALID | _K_MAC | _K_RO
    for a in (0x06, 0x07, 0x08, 0x09, 0x15, 0x17, 0x18, 0x19):
        k[96 + a] = _K_VALID
    k[_EREVID] = _K_VALID | _K_RO
    for a in range(0x1B, 0x20):
        k[a] = _K_VALID
    return k


_KIND = _build_kinds()


class ENC28J60Model(ChipModel):
    def __init__(self, wire=None, strict=True, link=True, revid=0x06):
        self.wire = wire
        self.strict = strict
        self.link = link
        self.revid = revid
        self.mem = bytearray(_MEM_SIZE)
        self.regs = bytearray(128)
        self.phy = [0] * 32
        self.frame = bytearray(1536)  # wire <-> buffer memory scratch
        self._hdr = bytearray(7)  # RX header / TSV scratch
        self.pktcnt = 0
        self.wrpt = 0
        self.selected = False
        self.state = _ST_OP
        self.arg = 0
        self.count = 0
        # counters (the benchmark and the tests read them)
        self.transactions = 0
        self.violations = 0
        self.last_violation = None
        self.rx_frames = 0
        self.rx_drop_filter = 0
        self.rx_drop_off = 0  # RX disabled or link down
        self.rx_overflows = 0
        self.tx_frames = 0
        self.tx_lost_no_link = 0
        self.tx_aborts = 0
        self.tx_stalls = 0
        self.errata14_hits = 0
        self.resets = 0
        # fault injection for tests
        self.inject_late_collisions = 0
        self.inject_crc_errors = 0
        self.inject_tx_not_done = 0  # next N transmits: TXIF set, TSV done bit clear, no frame
        self.errata6 = True
        self._reset()

    # -- bus side --------------------------------------------------------------

    def check_bus(self, spi):
        if spi.polarity != 0 or spi.phase != 0:
            self._violation("ENC28J60 needs SPI mode 0")
        if spi.baudrate > _MAX_SPI_HZ:
            self._violation("ENC28J60 SCK above 20 MHz")

    def cs_changed(self, level):
        if level == 0:
            self.selected = True
            self.transactions += 1
            self.state = _ST_OP
            self.count = 0
            return
        self.selected = False
        st = self.state
        if st == _ST_RCR:
            need = 2 if _KIND[self._key(self.arg)] & _K_MAC else 1
            if self.count < need:
                self._violation("RCR ended before the data byte (MAC/MII reads need a dummy byte)")
        elif st == _ST_WCR or st == _ST_BFS or st == _ST_BFC:
            if self.count < 1:
                self._violation("WCR/BFS/BFC without its data byte")
        self.state = _ST_OP

    def xfer(self, wbuf, rbuf, n, fill_byte):
        if not self.selected:
            self._violation("SPI clocked while CS is high")
            if rbuf is not None:
                fill(rbuf, 0, 0, n)
            return
        i = 0
        while i < n:
            st = self.state
            if st == _ST_RBM:
                self._rbm(rbuf, i, n - i)
                return
            if st == _ST_WBM:
                self._wbm(wbuf, i, n - i, fill_byte)
                return
            b = wbuf[i] if wbuf is not None else fill_byte
            out = 0
            if st == _ST_OP:
                self._opcode(b)
            elif st == _ST_RCR:
                kind = _KIND[self._key(self.arg)]
                self.count += 1
                if kind & _K_MAC:
                    if self.count == 2:
                        out = self._read(self.arg)
                elif self.count == 1:
                    out = self._read(self.arg)
            elif st == _ST_WCR or st == _ST_BFS or st == _ST_BFC:
                self.count += 1
                if self.count == 1:
                    key = self._key(self.arg)
                    if st == _ST_WCR:
                        self._write(key, b)
                    else:
                        old = self.regs[key]
                        if key == _EIR:
                            old = self._eir_value(False)
                        self._write(key, (old | b) if st == _ST_BFS else (old & ~b & 0xFF))
            if rbuf is not None:
                rbuf[i] = out
            i += 1

    def _opcode(self, b):
        op = b >> 5
        arg = b & 0x1F
        self.arg = arg
        self.count = 0
        if op == _OP_RCR:
            self.state = _ST_RCR
        elif op == _OP_WCR:
            self.state = _ST_WCR
        elif op == _OP_BFS or op == _OP_BFC:
            if _KIND[self._key(arg)] & _K_MAC:
                self.state = _ST_BAD
                self._violation("BFS/BFC on a MAC/MII register (bank %d addr 0x%02x)"
                                % (self._bank(), arg))
                return
            self.state = _ST_BFS if op == _OP_BFS else _ST_BFC
        elif op == _OP_RBM and arg == 0x1A:
            self._need_clock()
            self.state = _ST_RBM
        elif op == _OP_WBM and arg == 0x1A:
            self._need_clock()
            self.state = _ST_WBM
        elif op == _OP_SRC and arg == 0x1F:
            self.state = _ST_DONE
            self._reset()
        else:
            self.state = _ST_BAD
            self._violation("invalid opcode 0x%02x" % b)

    # -- registers -----------------------------------------------------------------

    def _bank(self):
        return self.regs[_ECON1] & 3

    def _key(self, addr):
        return addr if addr >= 0x1B else (self.regs[_ECON1] & 3) * 32 + addr

    def _need_clock(self):
        if not self._clk_seen:
            self._violation("access before ESTAT.CLKRDY after reset")

    def _get16(self, key):
        return self.regs[key] | (self.regs[key + 1] << 8)

    def _set16(self, key, v):
        self.regs[key] = v & 0xFF
        self.regs[key + 1] = (v >> 8) & 0x1F

    def _eir_value(self, for_read):
        v = self.regs[_EIR] & ~_EIR_PKTIF
        if self.pktcnt and not (for_read and self.errata6):
            v |= _EIR_PKTIF
        return v

    def int_level(self):
        """The INT pin: low while an enabled interrupt flag is set."""
        self.poll()
        eie = self.regs[_EIE]
        if eie & _EIE_INTIE and eie & self._eir_value(False) & 0x7B:
            return 0
        return 1

    def _read(self, addr):
        key = self._key(addr)
        kind = _KIND[key]
        if not kind & _K_VALID:
            self._violation("RCR of unimplemented register bank %d addr 0x%02x (wrong bank?)"
                            % (self._bank(), addr))
            return 0
        if key == _ESTAT:
            self.poll()
            v = self.regs[_ESTAT] & ~(_ESTAT_INT | _ESTAT_CLKRDY)
            if self._clk_wait > 0:
                self._clk_wait -= 1
            else:
                v |= _ESTAT_CLKRDY
                self._clk_seen = True
            if self.int_level() == 0:
                v |= _ESTAT_INT
            return v
        self._need_clock()
        if key == _EIR:
            self.poll()
            return self._eir_value(True)
        if key == _EPKTCNT:
            self.poll()
            return self.pktcnt
        if key == _ERXWRPTL:
            return self.wrpt & 0xFF
        if key == _ERXWRPTH:
            return self.wrpt >> 8
        if key == _EREVID:
            return self.revid
        if key == _MISTAT:
            if self._mii_busy > 0:
                self._mii_busy -= 1
                return _MISTAT_BUSY
            return 0
        if key == _MIRDL or key == _MIRDH:
            if self._mii_busy > 0:
                self._violation("MIRD read while MISTAT.BUSY")
        return self.regs[key]

    def _write(self, key, v):
        kind = _KIND[key]
        if not kind & _K_VALID:
            self._violation("write to unimplemented register bank %d key 0x%02x (wrong bank?)"
                            % (self._bank(), key))
            return
        if kind & _K_RO:
            self._violation("write to read-only register key 0x%02x" % key)
            return
        if key != _ECON1:
            self._need_clock()
        regs = self.regs
        receiving = regs[_ECON1] & _ECON1_RXEN
        if key == _ECON1:
            self._write_econ1(v)
        elif key == _ECON2:
            if v & _ECON2_PKTDEC:
                if self.pktcnt == 0:
                    self._violation("PKTDEC with EPKTCNT already 0")
                else:
                    self.pktcnt -= 1
            regs[_ECON2] = v & ~_ECON2_PKTDEC
        elif key == _EIR:
            # PKTIF follows EPKTCNT; LINKIF clears only by reading PHIR
            keep = regs[_EIR] & _EIR_LINKIF
            regs[_EIR] = (v & ~(_EIR_PKTIF | _EIR_LINKIF)) | keep
        elif key == _ESTAT:
            regs[_ESTAT] &= v | ~(_ESTAT_TXABRT | 0x10)  # LATECOL, TXABRT clear by BFC
        elif _ERXSTL <= key <= _ERXNDH:
            if receiving:
                self._violation("ERXST/ERXND changed while RXEN=1")
            regs[key] = v if key & 1 == 0 else v & 0x1F
            self.wrpt = 0  # errata #5: the hardware write pointer is left at 0x0000
        elif key == _ERXRDPTL:
            self._rdpt_low = v  # takes effect with the high byte
        elif key == _ERXRDPTH:
            regs[_ERXRDPTL] = self._rdpt_low
            regs[_ERXRDPTH] = v & 0x1F
            if self._rdpt_low & 1 == 0:
                self._even_rdpt = True  # errata #14
            else:
                self._even_rdpt = False
        elif key == _ERXFCON or _MAADR5 <= key <= _MAADR2:
            if receiving:
                self._violation("ERXFCON/MAADR changed while RXEN=1")
            regs[key] = v
        elif key == _MICMD:
            if v & _MICMD_MIIRD and not regs[_MICMD] & _MICMD_MIIRD:
                p = self._phy_read(regs[_MIREGADR] & 0x1F)
                regs[_MIRDL] = p & 0xFF
                regs[_MIRDH] = p >> 8
                self._mii_busy = 1
            regs[_MICMD] = v & 3
        elif key == _MIWRH:
            regs[_MIWRH] = v
            self._phy_write(regs[_MIREGADR] & 0x1F, regs[_MIWRL] | (v << 8))
            self._mii_busy = 1
        elif key < _ERXSTL and key & 1:
            regs[key] = v & 0x1F  # 13-bit buffer pointers
        else:
            regs[key] = v

    def _write_econ1(self, v):
        regs = self.regs
        old = regs[_ECON1]
        if v & _ECON1_DMAST:
            self._violation("DMA is not modelled (errata #17: checksum in software)")
            v &= ~_ECON1_DMAST
        if v & _ECON1_TXRST:
            v &= ~_ECON1_TXRTS  # TX logic held in reset
            if not old & _ECON1_TXRST:
                self._tx_stalled = False
        elif old & _ECON1_TXRST and self._tx_aborted:
            regs[_EIR] |= _EIR_TXERIF  # errata #12 note: clearing TXRST can set TXERIF
            self._tx_aborted = False
        if v & _ECON1_RXRST:
            v &= ~_ECON1_RXEN
            self.pktcnt = 0
            self.wrpt = self._get16(_ERXSTL)
        regs[_ECON1] = v
        if v & _ECON1_TXRTS and not old & _ECON1_TXRTS and not v & _ECON1_TXRST:
            self._transmit()

    # -- PHY -------------------------------------------------------------------------

    def _phy_read(self, reg):
        phy = self.phy
        if reg == _PHSTAT1:
            v = _PHSTAT1_DPX | (_PHSTAT1_LLSTAT if self._llstat else 0)
            self._llstat = self.link
            return v
        if reg == _PHSTAT2:
            v = _PHSTAT2_LSTAT if self.link else 0
            if phy[_PHCON1] & _PHCON1_PDPXMD:
                v |= _PHSTAT2_DPXSTAT
            return v
        if reg == _PHIR:
            v = phy[_PHIR]
            phy[_PHIR] = 0
            self.regs[_EIR] &= ~_EIR_LINKIF
            return v
        if reg in (_PHCON1, _PHHID1, _PHHID2, _PHCON2, _PHIE, _PHLCON):
            return phy[reg]
        self._violation("MII read of unimplemented PHY register 0x%02x" % reg)
        return 0

    def _phy_write(self, reg, v):
        if reg == _PHCON1:
            if v & _PHCON1_PRST:
                self._phy_reset()
                return
            self.phy[_PHCON1] = v & 0x4900
        elif reg in (_PHCON2, _PHIE, _PHLCON):
            self.phy[reg] = v
        else:
            self._violation("MII write to read-only or unimplemented PHY register 0x%02x" % reg)

    def _phy_reset(self):
        phy = self.phy
        for i in range(32):
            phy[i] = 0
        phy[_PHHID1] = 0x0083
        phy[_PHHID2] = 0x1400
        phy[_PHLCON] = 0x3422
        self._llstat = self.link

    def set_link(self, up):
        """Plug or unplug the cable."""
        if up == self.link:
            return
        self.link = up
        if not up:
            self._llstat = False
        self.phy[_PHIR] |= _PHIR_PLNKIF
        if self.phy[_PHIE] & _PHIE_PLNKIE and self.phy[_PHIE] & _PHIE_PGEIE:
            self.regs[_EIR] |= _EIR_LINKIF

    # -- reset -----------------------------------------------------------------------

    def _reset(self):
        self.resets += 1
        regs = self.regs
        fill(regs, 0, 0, 128)
        regs[_ECON2] = _ECON2_AUTOINC
        for key in (_ERDPTL, _ERXSTL, _ERXRDPTL):
            self._set16(key, _RESET_PTR)
        self._set16(_ERXNDL, _MEM_MASK)
        regs[_ERXFCON] = 0xA1
        regs[_MAMXFLL] = 0x00
        regs[_MAMXFLH] = 0x06
        self.wrpt = _RESET_PTR
        self.pktcnt = 0
        self._rdpt_low = 0
        self._even_rdpt = False
        self._mii_busy = 0
        self._tx_stalled = False
        self._tx_aborted = False
        self._clk_wait = 1  # ESTAT.CLKRDY reads 0 once after a reset
        self._clk_seen = False
        self._phy_reset()

    # -- buffer memory -----------------------------------------------------------------

    def _rbm(self, rbuf, off, n):
        regs = self.regs
        p = self._get16(_ERDPTL)
        if not regs[_ECON2] & _ECON2_AUTOINC:
            if rbuf is not None:
                fill(rbuf, off, self.mem[p], n)
            return
        st = self._get16(_ERXSTL)
        nd = self._get16(_ERXNDL)
        mem = self.mem
        while n > 0:
            # RBM wraps from ERXND to ERXST inside the RX FIFO, else 0x1FFF -> 0
            if st <= p <= nd:
                end = nd
                nxt = st
            else:
                end = _MEM_MASK
                nxt = 0
            k = end - p + 1
            if k > n:
                k = n
            if rbuf is not None:
                copy(rbuf, off, mem, p, k)
            off += k
            n -= k
            p = nxt if p + k > end else p + k
        self._set16(_ERDPTL, p)

    def _wbm(self, wbuf, off, n, fill_byte):
        regs = self.regs
        p = self._get16(_EWRPTL)
        if not regs[_ECON2] & _ECON2_AUTOINC:
            if n:
                self.mem[p] = wbuf[off + n - 1] if wbuf is not None else fill_byte
            return
        mem = self.mem
        while n > 0:
            k = _MEM_SIZE - p  # WBM wraps 0x1FFF -> 0x0000 only
            if k > n:
                k = n
            if wbuf is not None:
                copy(mem, p, wbuf, off, k)
            else:
                fill(mem, p, fill_byte, k)
            off += k
            n -= k
            p = (p + k) & _MEM_MASK
        self._set16(_EWRPTL, p)

    def _ring_put(self, p, src, soff, n, st, nd):
        # hardware RX write into the FIFO ERXST..ERXND, wrapping at ERXND
        mem = self.mem
        while n > 0:
            k = nd - p + 1
            if k > n:
                k = n
            if src is None:
                fill(mem, p, 0, k)
            else:
                copy(mem, p, src, soff, k)
                soff += k
            n -= k
            p = st if p + k > nd else p + k
        return p

    # -- the wire: receive ---------------------------------------------------------------

    def receive(self, buf, n):
        """One frame (no FCS) arriving from the wire."""
        regs = self.regs
        if not self.link or not regs[_ECON1] & _ECON1_RXEN or not regs[_MACON1] & _MACON1_MARXEN:
            self.rx_drop_off += 1
            return False
        bcast = buf[0] & buf[1] & buf[2] & buf[3] & buf[4] & buf[5] == 0xFF
        mcast = buf[0] & 1 and not bcast
        f = regs[_ERXFCON]
        if f & _ERXFCON_FILTERS:
            ok = False
            if f & _ERXFCON_UCEN and self._da_is_ours(buf):
                ok = True
            if f & _ERXFCON_BCEN and bcast:
                ok = True
            if f & _ERXFCON_MCEN and mcast:
                ok = True
            if f & _ERXFCON_ANDOR:
                self._violation("ERXFCON.ANDOR is not modelled")
            if not ok:
                self.rx_drop_filter += 1
                return False
        m = n if n >= _MIN_FRAME else _MIN_FRAME  # the sender padded it on a real wire
        count = m + _FCS
        st = self._get16(_ERXSTL)
        nd = self._get16(_ERXNDL)
        size = nd - st + 1
        rdpt = self._get16(_ERXRDPTL)
        wrpt = self.wrpt
        need = 6 + count + (count & 1)
        free = (rdpt - wrpt) % size if size > 0 else 0
        if self.pktcnt >= 255 or need > free or not (st <= wrpt <= nd):
            regs[_EIR] |= _EIR_RXERIF
            self.rx_overflows += 1
            return False
        nxt = wrpt + need
        if nxt > nd:
            nxt -= size
        hdr = self._hdr
        if self._even_rdpt:
            # errata #14: the next-packet pointer comes out corrupted
            self.errata14_hits += 1
            bad = nxt | 0x1001
            hdr[0] = bad & 0xFF
            hdr[1] = (bad >> 8) & 0x1F
        else:
            hdr[0] = nxt & 0xFF
            hdr[1] = nxt >> 8
        hdr[2] = count & 0xFF
        hdr[3] = count >> 8
        s = 0x80  # bit 23 received OK
        if self.inject_crc_errors:
            self.inject_crc_errors -= 1
            s = 0x10  # bit 20 CRC error
        if ((buf[12] << 8) | buf[13]) > 1500:
            s |= 0x40  # bit 22: type/length field is a type
        hdr[4] = s
        hdr[5] = (0x02 if bcast else 0) | (0x01 if mcast else 0)
        p = self._ring_put(wrpt, hdr, 0, 6, st, nd)
        p = self._ring_put(p, buf, 0, n, st, nd)
        self._ring_put(p, None, 0, count - n, st, nd)  # padding + FCS (zeros)
        self.wrpt = nxt
        self.pktcnt += 1
        self.rx_frames += 1
        return True

    def _da_is_ours(self, buf):
        r = self.regs
        return (buf[0] == r[_MAADR1] and buf[1] == r[_MAADR2] and buf[2] == r[_MAADR3]
                and buf[3] == r[_MAADR4] and buf[4] == r[_MAADR5] and buf[5] == r[_MAADR6])

    # -- the wire: transmit ----------------------------------------------------------------

    def _transmit(self):
        regs = self.regs
        if self._tx_stalled:
            # errata #12: after an abort the TX logic hangs with TXRTS set
            self.tx_stalls += 1
            return
        st = self._get16(_ETXSTL)
        nd = self._get16(_ETXNDL)
        n = (nd - st) & _MEM_MASK
        if nd < st or n > 1600 or n < 1:
            self._violation("bad ETXST/ETXND 0x%04x/0x%04x" % (st, nd))
            regs[_ECON1] &= ~_ECON1_TXRTS
            return
        full = regs[_MACON3] & _MACON3_FULDPX
        if bool(full) != bool(self.phy[_PHCON1] & _PHCON1_PDPXMD):
            self._violation("duplex mismatch: MACON3.FULDPX vs PHCON1.PDPXMD")
        mem = self.mem
        ctrl = mem[st]
        if ctrl & _CTRL_POVERRIDE:
            pad = ctrl & _CTRL_PPADEN
        else:
            pad = (regs[_MACON3] >> 5) & 1
        tsv = self._hdr
        fill(tsv, 0, 0, 7)
        if self.inject_late_collisions and not full:
            # errata #13 (link pulse taken for a collision) -> abort with a late
            # collision in the TSV; errata #15: ESTAT.LATECOL stays clear
            self.inject_late_collisions -= 1
            self.tx_aborts += 1
            tsv[3] = 0x20
            regs[_EIR] |= _EIR_TXERIF | _EIR_TXIF
            regs[_ESTAT] |= _ESTAT_TXABRT
            self._tx_stalled = True
            self._tx_aborted = True
        elif self.inject_tx_not_done:
            self.inject_tx_not_done -= 1
            regs[_EIR] |= _EIR_TXIF
        else:
            frame = self.frame
            p = (st + 1) & _MEM_MASK
            k = _MEM_SIZE - p
            if k >= n:
                copy(frame, 0, mem, p, n)
            else:
                copy(frame, 0, mem, p, k)
                copy(frame, k, mem, 0, n - k)
            out = n
            if pad and n < _MIN_FRAME:
                fill(frame, n, 0, _MIN_FRAME - n)
                out = _MIN_FRAME
            if self.link and self.wire is not None:
                self.wire.send(frame, out)
                self.tx_frames += 1
            else:
                self.tx_lost_no_link += 1
            tsv[0] = out & 0xFF
            tsv[1] = out >> 8
            tsv[2] = 0x80  # bit 23 done
            if frame[0] & 1:
                tsv[3] = 0x02 if frame[0] & frame[1] & frame[2] == 0xFF else 0x01
            wire = out + _FCS
            tsv[4] = wire & 0xFF
            tsv[5] = wire >> 8
            regs[_EIR] |= _EIR_TXIF
        for i in range(7):
            mem[(nd + 1 + i) & _MEM_MASK] = tsv[i]
        regs[_ECON1] &= ~_ECON1_TXRTS
