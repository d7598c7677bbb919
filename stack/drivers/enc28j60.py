# Microchip ENC28J60 driver (10BASE-T MAC+PHY on SPI), polled, Driver contract
# of docs/contracts.md. Facts and errata numbers: shared/hw/FACTS.md section A.
#
# Buffer layout (errata #5: RX must start at 0x0000):
#   0x0000..0x19FF  RX FIFO (6.5 KB), ERXND odd so ERXRDPT = next - 1 is odd (errata #14)
#   0x1A00..0x1FFF  TX: control byte + frame (<= 1514) + 7-byte TSV
# Everything the per-frame paths use is allocated in __init__; registers are
# read and written through 2/3-byte command buffers, frames through Spans.

from micropython import const

from stack import stats as _stats
from stack.clock import sleep_ms, sleep_us, ticks_diff, ticks_ms
from stack.drivers import dead
from stack.drivers.spibuf import Spans


# register encoding: bit 7 = MAC/MII (dummy byte on read), bits 6:5 bank, 4:0 address
_MACMII = const(0x80)
_ERDPTL = const(0x00)
_EWRPTL = const(0x02)
_ETXSTL = const(0x04)
_ETXNDL = const(0x06)
_ERXSTL = const(0x08)
_ERXNDL = const(0x0A)
_ERXRDPTL = const(0x0C)
_EIE = const(0x1B)
_EIR = const(0x1C)
_ESTAT = const(0x1D)
_ECON2 = const(0x1E)
_ECON1 = const(0x1F)
_ERXFCON = const(0x38)
_EPKTCNT = const(0x39)
_MACON1 = const(0xC0)
_MACON3 = const(0xC2)
_MACON4 = const(0xC3)
_MABBIPG = const(0xC4)
_MAIPGL = const(0xC6)
_MAIPGH = const(0xC7)
_MAMXFLL = const(0xCA)
_MAMXFLH = const(0xCB)
_MICMD = const(0xD2)
_MIREGADR = const(0xD4)
_MIWRL = const(0xD6)
_MIWRH = const(0xD7)
_MIRDL = const(0xD8)
_MIRDH = const(0xD9)
_MAADR5 = const(0xE0)
_MAADR6 = const(0xE1)
_MAADR3 = const(0xE2)
_MAADR4 = const(0xE3)
_MAADR1 = const(0xE4)
_MAADR2 = const(0xE5)
_MISTAT = const(0xEA)
_EREVID = const(0x72)

# opcodes
_RCR = const(0x00)
_RBM = const(0x3A)
_WCR = const(0x40)
_WBM = const(0x7A)
_BFS = const(0x80)
_BFC = const(0xA0)
_SRC = const(0xFF)

# bits
_ECON1_TXRST = const(0x80)
_ECON1_RXRST = const(0x40)
_ECON1_TXRTS = const(0x08)
_ECON1_RXEN = const(0x04)
_ECON2_AUTOINC = const(0x80)
_ECON2_PKTDEC = const(0x40)
_ECON2_VRPS = const(0x08)
_EIE_INTIE = const(0x80)
_EIE_PKTIE = const(0x40)
_EIE_RXERIE = const(0x01)
_EIR_TXIF = const(0x08)
_EIR_TXERIF = const(0x02)
_EIR_RXERIF = const(0x01)
_ESTAT_CLKRDY = const(0x01)
_ERXFCON_UCEN = const(0x80)
_ERXFCON_CRCEN = const(0x20)
_ERXFCON_BCEN = const(0x01)
_MACON1_MARXEN = const(0x01)
_MACON1_TXPAUS = const(0x08)
_MACON1_RXPAUS = const(0x04)
_MACON3_PADCFG0 = const(0x20)
_MACON3_TXCRCEN = const(0x10)
_MACON3_FRMLNEN = const(0x02)
_MACON3_FULDPX = const(0x01)
_MACON4_DEFER = const(0x40)
_MICMD_MIIRD = const(0x01)
_MISTAT_BUSY = const(0x01)

# PHY
_PHCON1 = const(0x00)
_PHCON2 = const(0x10)
_PHSTAT2 = const(0x11)
_PHLCON = const(0x14)
_PHCON1_PDPXMD = const(0x0100)
_PHCON2_HDLDIS = const(0x0100)
_PHSTAT2_LSTAT = const(0x0400)

# layout
_RXSTART = const(0x0000)
_RXEND = const(0x19FF)  # odd (errata #14)
_TXSTART = const(0x1A00)
_MAX_FRAME = const(1518)  # with FCS
_MAX_TX = const(1514)
_TX_RETRIES = const(16)  # errata #13: late collisions are retried (as Linux does)
_WAIT_MS = const(20)  # bound for every poll loop (reset, MII, TX done)

_ENODEV = const(19)
_ETIMEDOUT = const(110)
_MAX_PKTS = const(100)  # more frames than the 6.5 KB FIFO can hold (70 B each at least)
_TSV_DONE = const(0x80)  # TSV bit 23, in byte 2
_TSV_LATE_COL = const(0x20)  # TSV bit 29, in byte 3


class ENC28J60:
    # RX FIFO bytes: TCP offers no window larger than the whole frames that
    # fit, so a burst at its window cannot overflow the chip (stack/tcp.py)
    rx_fifo_bytes = _RXEND - _RXSTART + 1

    def __init__(self, spi, cs, mac, int_pin=None, rst=None, full_duplex=False):
        self.mac = bytes(mac)
        self._spi = spi
        self._cs = cs
        self._int = int_pin
        self._full = full_duplex
        self._c2 = bytearray(2)
        self._c3 = bytearray(3)
        self._r3 = bytearray(3)
        self._op1 = bytearray(1)
        self._hdr = bytearray(6)
        self._tsv = bytearray(4)  # TSV bytes 0-3: count, done (bit 23), late collision (bit 29)
        self._spans = Spans(spi, 3)
        self._bank = 0
        self._pkts = 0  # packets known to be waiting (EPKTCNT read, minus those taken)
        self._next = _RXSTART
        self._erdpt = -1  # ERDPT as last set, -1 unknown
        self.stats = _stats.register(
            {}, "rx_frames", "tx_frames", "rx_drop_too_long", "rx_drop_bad", "rx_overflow",
            "rx_reset", "tx_drop", "tx_retry", "tx_timeout", "tx_error", "mii_timeout",
            "tx_not_done", "chip_checks", "chip_dead")
        self.dead = False  # set when the chip stopped answering
        # raised when the chip stops answering; made now for a heap-locked
        # loop, raised as fresh copies when the heap allows (drivers/dead.py)
        self._dead = OSError(_ENODEV, "ENC28J60 stopped answering (EREVID changed): "
                             "chip dead, unpowered or SPI broken; re-create the driver")
        self._reset_seen = OSError(_ENODEV, "ENC28J60 was reset (receive off, registers "
                                   "at their defaults); re-create the driver")
        self._why = self._dead  # which of the two, once dead
        cs.value(1)
        if rst is not None:
            rst.value(0)
            sleep_ms(1)
            rst.value(1)
        self._init()

    # -- SPI commands --------------------------------------------------------------

    def _cmd(self, op, arg, data):
        c = self._c2
        c[0] = op | (arg & 0x1F)
        c[1] = data
        self._cs.value(0)
        self._spi.write(c)
        self._cs.value(1)

    def _select(self, reg):
        # 0x1B..0x1F are in every bank; others need ECON1.BSEL, switched with
        # BFS/BFC of only the bits that differ from the cached bank
        if reg & 0x1F >= 0x1B:
            return
        b = (reg >> 5) & 3
        cur = self._bank
        if b != cur:
            if b & ~cur & 3:
                self._cmd(_BFS, _ECON1, b & ~cur & 3)
            if cur & ~b & 3:
                self._cmd(_BFC, _ECON1, cur & ~b & 3)
            self._bank = b

    def _rd(self, reg):
        self._select(reg)
        cs = self._cs
        if reg & _MACMII:
            c = self._c3
            r = self._r3
            c[0] = _RCR | (reg & 0x1F)
            c[1] = 0
            c[2] = 0
            cs.value(0)
            self._spi.write_readinto(c, r)
            cs.value(1)
            return r[2]  # after the dummy byte
        c = self._c2
        c[0] = _RCR | (reg & 0x1F)
        c[1] = 0
        cs.value(0)
        self._spi.write_readinto(c, c)
        cs.value(1)
        return c[1]

    def _wr(self, reg, v):
        self._select(reg)
        self._cmd(_WCR, reg, v)

    def _wr16(self, reg, v):
        self._wr(reg, v & 0xFF)
        self._wr(reg + 1, v >> 8)

    def _bfs(self, reg, mask):  # ETH registers only (FACTS A.2)
        self._select(reg)
        self._cmd(_BFS, reg, mask)

    def _bfc(self, reg, mask):
        self._select(reg)
        self._cmd(_BFC, reg, mask)

    def _op(self, op):
        self._op1[0] = op
        self._cs.value(0)
        self._spi.write(self._op1)

    # -- bounded waits -------------------------------------------------------------------

    def _wait_bits(self, reg, mask, want):
        # the register value once (value & mask) == want, or -1 after _WAIT_MS;
        # no exception here: a message string would allocate on the hot path
        t0 = ticks_ms()
        while True:
            v = self._rd(reg)
            if v & mask == want:
                return v
            if ticks_diff(ticks_ms(), t0) > _WAIT_MS:
                return -1
            sleep_us(50)

    def _phy_read(self, reg):
        self._wr(_MIREGADR, reg)
        self._wr(_MICMD, _MICMD_MIIRD)
        ok = self._wait_bits(_MISTAT, _MISTAT_BUSY, 0) >= 0
        self._wr(_MICMD, 0)
        if not ok:
            self.stats["mii_timeout"] += 1
            return -1
        return self._rd(_MIRDL) | (self._rd(_MIRDH) << 8)

    def _phy_write(self, reg, v):
        self._wr(_MIREGADR, reg)
        self._wr(_MIWRL, v & 0xFF)
        self._wr(_MIWRH, v >> 8)  # starts the MII write
        if self._wait_bits(_MISTAT, _MISTAT_BUSY, 0) < 0:
            raise OSError(_ETIMEDOUT, "ENC28J60: MII write busy")  # bring-up only

    def _check_chip(self):
        # A send or receive looked wrong: a live chip still reads the EREVID
        # it read at bring-up; a dead one (MISO stuck at 0x00 or 0xFF) cannot.
        self.stats["chip_checks"] += 1
        # select EREVID's bank outright: a chip that reset itself is back in
        # bank 0 whatever the cached bank says
        self._cmd(_BFS, _ECON1, 3)
        self._bank = 3
        if self._rd(_EREVID) != self.revision:
            self.stats["chip_dead"] += 1
            self.dead = True  # every later send / receive raises at once
            self._why = self._dead
            raise dead.error(self._dead)
        if not self._rd(_ECON1) & _ECON1_RXEN:
            # alive but reset (a brown-out, a glitch on RESET): its registers
            # are the defaults, receive is off; EREVID alone cannot tell
            self.stats["chip_dead"] += 1
            self.dead = True
            self._why = self._reset_seen
            raise dead.error(self._reset_seen)

    # -- bring-up ------------------------------------------------------------------------

    def _init(self):
        self._op(_SRC)
        self._cs.value(1)
        self._bank = 0  # reset cleared ECON1
        sleep_ms(2)  # errata #2: CLKRDY may read set too early, so wait first
        if self._wait_bits(_ESTAT, _ESTAT_CLKRDY, _ESTAT_CLKRDY) < 0:
            raise OSError(_ENODEV, "ENC28J60 not responding (CLKRDY never set)")
        rev = self._rd(_EREVID)
        if rev == 0x00 or rev == 0xFF:
            raise OSError(_ENODEV, "ENC28J60 not found (EREVID 0x%02x)" % rev)
        self.revision = rev
        self._wr(_ECON1, 0)
        self._bank = 0
        self._wr(_ECON2, _ECON2_AUTOINC | _ECON2_VRPS)
        self._rx_fifo_init()
        self._wr16(_ETXSTL, _TXSTART)
        self._wr(_ERXFCON, _ERXFCON_UCEN | _ERXFCON_CRCEN | _ERXFCON_BCEN)
        # MAC: receive + pause frames; pad to 60 with CRC; duplex matches the PHY
        self._wr(_MACON1, _MACON1_MARXEN | _MACON1_TXPAUS | _MACON1_RXPAUS)
        m3 = _MACON3_PADCFG0 | _MACON3_TXCRCEN | _MACON3_FRMLNEN
        if self._full:
            self._wr(_MACON3, m3 | _MACON3_FULDPX)
            self._wr(_MABBIPG, 0x15)
            self._wr(_MAIPGL, 0x12)
        else:
            self._wr(_MACON3, m3)
            self._wr(_MACON4, _MACON4_DEFER)
            self._wr(_MABBIPG, 0x12)
            self._wr(_MAIPGL, 0x12)
            self._wr(_MAIPGH, 0x0C)
        self._wr16(_MAMXFLL, _MAX_FRAME)
        mac = self.mac
        for reg, i in ((_MAADR1, 0), (_MAADR2, 1), (_MAADR3, 2), (_MAADR4, 3), (_MAADR5, 4),
                       (_MAADR6, 5)):
            self._wr(reg, mac[i])
        if self._rd(_MAADR1) != mac[0] or self._rd(_MAADR6) != mac[5]:
            raise OSError(_ENODEV, "ENC28J60: MAC registers do not read back")
        # PHY: no autonegotiation, so its duplex is set to match MACON3.FULDPX
        self._phy_write(_PHCON1, _PHCON1_PDPXMD if self._full else 0)
        self._phy_write(_PHCON2, 0 if self._full else _PHCON2_HDLDIS)
        self._phy_write(_PHLCON, 0x3476)
        # INT pin on packet pending / RX error (errata #6: PKTIF is read via
        # EPKTCNT, but the pin follows it reliably)
        self._bfc(_EIR, 0xFF)
        self._wr(_EIE, _EIE_INTIE | _EIE_PKTIE | _EIE_RXERIE)
        self._bfs(_ECON1, _ECON1_RXEN)

    def _rx_fifo_init(self):
        # only while RXEN=0; ERXRDPT = ERXND (odd) because ERXST = 0
        self._wr16(_ERXSTL, _RXSTART)
        self._wr16(_ERXNDL, _RXEND)
        self._wr16(_ERXRDPTL, _RXEND)
        self._wr16(_ERDPTL, _RXSTART)
        self._erdpt = _RXSTART
        self._next = _RXSTART
        self._pkts = 0

    def _rx_reset(self):
        # recovery without a chip reset: a corrupt next pointer (errata #14)
        # or a FIFO the chip lost track of
        self.stats["rx_reset"] += 1
        self._bfc(_ECON1, _ECON1_RXEN)
        self._bfs(_ECON1, _ECON1_RXRST)
        self._bfc(_ECON1, _ECON1_RXRST)
        self._rx_fifo_init()
        self._bfc(_EIR, _EIR_RXERIF)
        self._bfs(_ECON1, _ECON1_RXEN)

    # -- receive ---------------------------------------------------------------------------

    def recv_into(self, buf):
        if self.dead:
            raise dead.error(self._why)
        self._spans.register(buf)  # the first (unlocked) poll makes its views
        if self._pkts == 0:
            if self._int is not None and self._int.value():
                return 0  # INT high: nothing pending, no SPI needed
            self._pkts = self._rd(_EPKTCNT)  # errata #6: not EIR.PKTIF
            if self._pkts > _MAX_PKTS:
                self._pkts = 0
                self.stats["rx_drop_bad"] += 1
                self._check_chip()  # raises if dead
                return 0
            if self._pkts == 0:
                if self._rd(_EIR) & _EIR_RXERIF:
                    # overflow: the chip dropped frames; what is stored is fine
                    self._bfc(_EIR, _EIR_RXERIF)
                    self.stats["rx_overflow"] += 1
                return 0
        if self._erdpt != self._next:
            self._wr16(_ERDPTL, self._next)
        # header and frame in one RBM stream (it runs as long as CS stays low)
        h = self._hdr
        self._op(_RBM)
        spi = self._spi
        spi.readinto(h)
        nxt = h[0] | (h[1] << 8)
        count = h[2] | (h[3] << 8)
        if nxt & 1 or nxt > _RXEND:
            self._cs.value(1)
            self.stats["rx_drop_bad"] += 1
            self._check_chip()  # raises if dead; else the FIFO is corrupt
            self._rx_reset()
            return 0
        n = count - 4  # no FCS
        # status bits 16..23 in h[4]: 23 received OK, 21 length check, 20 CRC
        ok = h[4] & 0x80 and not h[4] & 0x30 and 14 <= n and count <= _MAX_FRAME
        got = 0
        if not ok:
            self.stats["rx_drop_bad"] += 1
        elif n > len(buf):
            self.stats["rx_drop_too_long"] += 1
        else:
            self._spans.read(buf, n)
            got = n
        self._cs.value(1)
        self._erdpt = -1
        self._next = nxt
        # errata #14: ERXRDPT = next - 1 (odd), or ERXND when next is ERXST
        self._wr16(_ERXRDPTL, _RXEND if nxt == _RXSTART else nxt - 1)
        self._bfs(_ECON2, _ECON2_PKTDEC)
        self._pkts -= 1
        if got:
            self.stats["rx_frames"] += 1
        return got

    # -- transmit ----------------------------------------------------------------------------

    def send(self, buf, n):
        if self.dead:
            raise dead.error(self._why)
        if n < 14 or n > _MAX_TX:
            self.stats["tx_drop"] += 1
            return False
        self._wr16(_EWRPTL, _TXSTART)
        self._op(_WBM)
        c = self._op1
        c[0] = 0x00  # per-packet control byte: follow MACON3 (pad, CRC)
        spi = self._spi
        spi.write(c)
        self._spans.write(buf, n)
        self._cs.value(1)
        self._wr16(_ETXNDL, _TXSTART + n)
        tries = 0
        while True:
            # errata #12: reset the TX logic before every transmit
            self._bfs(_ECON1, _ECON1_TXRST)
            self._bfc(_ECON1, _ECON1_TXRST)
            self._bfc(_EIR, _EIR_TXERIF | _EIR_TXIF)
            self._bfs(_ECON1, _ECON1_TXRTS)
            if self._wait_bits(_ECON1, _ECON1_TXRTS, 0) < 0:
                self._bfc(_ECON1, _ECON1_TXRTS)  # cancel; the next send resets TX
                self.stats["tx_timeout"] += 1
                self._check_chip()  # raises if dead (MISO stuck at 0xFF)
                return False
            eir = self._rd(_EIR)
            tsv = self._tsv
            self._read_tsv(n)
            if not eir & _EIR_TXERIF:
                # done means TXIF set and the TSV's done bit: a dead chip
                # (MISO stuck at 0x00) reads TXRTS clear at once, and 0 for both
                if eir & _EIR_TXIF and tsv[2] & _TSV_DONE:
                    self.stats["tx_frames"] += 1
                    return True
                self._check_chip()  # raises if dead
                self.stats["tx_not_done"] += 1
                return False
            # errata #15: ESTAT.LATECOL is unreliable, the TSV tells
            tries += 1
            if not tsv[3] & _TSV_LATE_COL or tries >= _TX_RETRIES:
                self.stats["tx_error"] += 1
                return False
            self.stats["tx_retry"] += 1

    def _read_tsv(self, n):
        # the first 4 bytes of the TSV, written after the frame's last byte
        self._wr16(_ERDPTL, _TXSTART + n + 1)
        self._erdpt = -1
        self._op(_RBM)
        self._spi.readinto(self._tsv)
        self._cs.value(1)

    # -- the rest of the contract ---------------------------------------------------------------

    def link_up(self):
        v = self._phy_read(_PHSTAT2)
        return v >= 0 and bool(v & _PHSTAT2_LSTAT)

    def wait(self, timeout_ms):
        if self._pkts:
            return
        t0 = ticks_ms()
        while True:
            if self._int is not None:
                if not self._int.value():
                    return
            elif self._rd(_EPKTCNT):
                return
            if ticks_diff(ticks_ms(), t0) >= timeout_ms:
                return
            sleep_ms(1)

    def close(self):
        self._bfc(_ECON1, _ECON1_RXEN)
