# WIZnet W5500 driver, socket 0 in MACRAW (the chip as a plain MAC), polled,
# Driver contract of docs/contracts.md. Facts: shared/hw/FACTS.md section B.
#
# Socket 0 owns all 16 KB of RX and 16 KB of TX buffer; MAC filtering (MFEN)
# leaves unicast to us and broadcast. Receive records are [2-byte BE length
# that counts itself][frame, no FCS]; several are read per Sn_RX_RSR snapshot
# and released with one RX_RD write + RECV. Transmit writes the frame at
# TX_WR (the chip wraps the offset inside the 16 KB buffer), advances TX_WR,
# issues SEND and waits, bounded, for SEND_OK. RX_RSR and TX_FSR are read
# until two reads agree (they change between byte reads). Nothing on the
# per-frame paths allocates: 4/5-byte command buffers and Spans views.

from micropython import const

from stack import stats as _stats
from stack.clock import sleep_ms, sleep_us, ticks_diff, ticks_ms
from stack.drivers import dead
from stack.drivers.spibuf import Spans


# control byte: block select << 3 | write << 2 | VDM (0)
_COMMON_R = const(0x00)
_COMMON_W = const(0x04)
_S0_R = const(0x08)
_S0_W = const(0x0C)
_S0_TX_W = const(0x14)
_S0_RX_R = const(0x18)
_SOCK_W = const(0x0C)  # | (n << 5) for socket n registers

_MR = const(0x0000)
_MR_RST = const(0x80)
_SHAR = const(0x0009)
_SIMR = const(0x0018)
_PHYCFGR = const(0x002E)
_VERSIONR = const(0x0039)

_SN_MR = const(0x00)
_SN_CR = const(0x01)
_SN_IR = const(0x02)
_SN_SR = const(0x03)
_SN_RXBUF_SIZE = const(0x1E)
_SN_TXBUF_SIZE = const(0x1F)
_SN_TX_FSR = const(0x20)
_SN_TX_WR = const(0x24)
_SN_RX_RSR = const(0x26)
_SN_RX_RD = const(0x28)
_SN_RX_WR = const(0x2A)
_SN_IMR = const(0x2C)

_CR_OPEN = const(0x01)
_CR_CLOSE = const(0x10)
_CR_SEND = const(0x20)
_CR_RECV = const(0x40)
_IR_SENDOK = const(0x10)
_IR_TIMEOUT = const(0x08)
_IR_RECV = const(0x04)
_SR_MACRAW = const(0x42)
# MACRAW, MAC filter on, no multicast, no IPv6 (the stack is IPv4 only)
_S0_MODE = const(0x04 | 0x80 | 0x20 | 0x10)

_BUF_SIZE = const(16384)
_PHYCFGR_RST = const(0x80)  # reads 1 unless the PHY is being reset
_PHYCFGR_LNK = const(0x01)
_MIN_FRAME = const(60)
_MAX_FRAME = const(1514)
_WAIT_MS = const(20)  # bound for every poll loop (command, SEND_OK)
_RESET_WAIT_MS = const(100)  # bound for reset / version / OPEN
_STABLE_TRIES = const(8)

_VERSION = const(0x04)  # VERSIONR, always (FACTS B.5)
_ENODEV = const(19)
_EIO = const(5)
_ETIMEDOUT = const(110)


class W5500:
    rx_fifo_bytes = 16384  # socket 0's RX buffer in MACRAW (all 16 KB, see reset)

    def __init__(self, spi, cs, mac, int_pin=None, rst=None):
        self.mac = bytes(mac)
        self._spi = spi
        self._cs = cs
        self._int = int_pin
        self._b4 = bytearray(4)
        self._b5 = bytearray(5)
        self._r5 = bytearray(5)
        self._h3 = bytearray(3)
        self._len2 = bytearray(2)
        self._small = bytearray(_MIN_FRAME)  # short frames are padded here
        self._spans = Spans(spi, 3)
        self._rx_rd = 0  # our copy of Sn_RX_RD
        self._rx_left = 0  # bytes of the last RSR snapshot not yet consumed
        self._rx_taken = False  # RX_RD advanced but RECV not yet issued
        self._tx_wr = 0  # our copy of Sn_TX_WR
        self._tx_idle = False  # True right after SEND_OK: TX buffer known empty
        self.stats = _stats.register(
            {}, "rx_frames", "tx_frames", "rx_drop_too_long", "rx_drop_bad", "rx_resync",
            "tx_drop", "tx_drop_full", "tx_timeout", "unstable_reads", "unstable_fail", "reopen",
            "reopen_fail", "cmd_timeout", "chip_checks", "chip_dead")
        self.dead = False  # set when the chip stopped answering
        # raised when the chip stops answering; made now for a heap-locked
        # loop, raised as fresh copies when the heap allows (drivers/dead.py)
        self._dead = OSError(_ENODEV, "W5500 stopped answering (VERSIONR not 0x04): "
                             "chip dead, unpowered or SPI broken; re-create the driver")
        self._reset_seen = OSError(_ENODEV, "W5500 was reset (socket 0 closed, registers "
                                   "at their defaults); re-create the driver")
        self._why = self._dead  # which of the two, once dead
        cs.value(1)
        if rst is not None:
            rst.value(0)
            sleep_ms(1)
            rst.value(1)
            sleep_ms(2)
        self._init()

    # -- SPI frames --------------------------------------------------------------------

    def _r8(self, ctrl, addr):
        b = self._b4
        b[0] = addr >> 8
        b[1] = addr & 0xFF
        b[2] = ctrl
        b[3] = 0
        self._cs.value(0)
        self._spi.write_readinto(b, b)
        self._cs.value(1)
        return b[3]

    def _w8(self, ctrl, addr, v):
        b = self._b4
        b[0] = addr >> 8
        b[1] = addr & 0xFF
        b[2] = ctrl
        b[3] = v
        self._cs.value(0)
        self._spi.write(b)
        self._cs.value(1)

    def _r16(self, ctrl, addr):
        b = self._b5
        b[0] = addr >> 8
        b[1] = addr & 0xFF
        b[2] = ctrl
        b[3] = 0
        b[4] = 0
        self._cs.value(0)
        self._spi.write_readinto(b, b)
        self._cs.value(1)
        return (b[3] << 8) | b[4]

    def _w16(self, ctrl, addr, v):
        b = self._b5
        b[0] = addr >> 8
        b[1] = addr & 0xFF
        b[2] = ctrl
        b[3] = v >> 8
        b[4] = v & 0xFF
        self._cs.value(0)
        self._spi.write(b)
        self._cs.value(1)

    def _r16_stable(self, addr):
        # the chip updates these counters between our byte reads: read until
        # two consecutive reads agree (FACTS B.4); -1 if they never do
        v = self._r16(_S0_R, addr)
        for _ in range(_STABLE_TRIES):
            w = self._r16(_S0_R, addr)
            if w == v:
                return v
            self.stats["unstable_reads"] += 1
            v = w
        self.stats["unstable_fail"] += 1
        return -1

    def _begin(self, ctrl, addr):
        h = self._h3
        h[0] = addr >> 8
        h[1] = addr & 0xFF
        h[2] = ctrl
        self._cs.value(0)
        self._spi.write(h)

    def _command(self, cmd):
        # Sn_CR reads 0 once the previous command was taken: wait for that
        # first (bounded; False and counted if it never does)
        t0 = ticks_ms()
        while self._r8(_S0_R, _SN_CR):
            if ticks_diff(ticks_ms(), t0) > _WAIT_MS:
                self.stats["cmd_timeout"] += 1
                return False
            sleep_us(10)
        self._w8(_S0_W, _SN_CR, cmd)
        return True

    def _check_chip(self):
        # A send or receive looked wrong: a live chip still reads VERSIONR
        # 0x04; a dead one (MISO stuck at 0x00 or 0xFF) cannot.
        self.stats["chip_checks"] += 1
        if self._r8(_COMMON_R, _VERSIONR) != _VERSION:
            self.stats["chip_dead"] += 1
            self.dead = True  # every later send / receive raises at once
            self._why = self._dead
            raise dead.error(self._dead)
        # a chip that reset itself reads VERSIONR right again within moments,
        # but socket 0 is closed: nothing the driver does closes it
        if self._r8(_S0_R, _SN_SR) != _SR_MACRAW:
            self.stats["chip_dead"] += 1
            self.dead = True
            self._why = self._reset_seen
            raise dead.error(self._reset_seen)

    # -- bring-up ---------------------------------------------------------------------

    def _init(self):
        self._w8(_COMMON_W, _MR, _MR_RST)
        t0 = ticks_ms()
        while self._r8(_COMMON_R, _MR) & _MR_RST:
            if ticks_diff(ticks_ms(), t0) > _RESET_WAIT_MS:
                raise OSError(_ENODEV, "W5500 not responding (MR.RST never clears)")
            sleep_ms(1)
        # VERSIONR may read 0 for a moment after reset (FACTS B.5)
        while True:
            v = self._r8(_COMMON_R, _VERSIONR)
            if v == _VERSION:
                break
            if ticks_diff(ticks_ms(), t0) > _RESET_WAIT_MS:
                raise OSError(_ENODEV, "W5500 not found (VERSIONR 0x%02x)" % v)
            sleep_ms(1)
        for n in range(8):
            size = 16 if n == 0 else 0
            self._w8(_SOCK_W | (n << 5), _SN_RXBUF_SIZE, size)
            self._w8(_SOCK_W | (n << 5), _SN_TXBUF_SIZE, size)
        self._w8(_COMMON_W, _SIMR, 0)
        self._begin(_COMMON_W, _SHAR)
        self._spi.write(self.mac)
        self._cs.value(1)
        self._w8(_S0_W, _SN_MR, _S0_MODE)
        self._w8(_S0_W, _SN_IMR, _IR_RECV)
        if not self._open():
            raise OSError(_ENODEV, "W5500: socket 0 did not open in MACRAW")
        self._w8(_COMMON_W, _SIMR, 0x01)

    def _open(self):
        # OPEN socket 0 and take the chip's pointers; False if the chip does
        # not take the command or the socket does not come up (bounded)
        if not self._command(_CR_OPEN):
            return False
        t0 = ticks_ms()
        while self._r8(_S0_R, _SN_SR) != _SR_MACRAW:
            if ticks_diff(ticks_ms(), t0) > _RESET_WAIT_MS:
                return False
            sleep_ms(1)
        self._tx_wr = self._r16(_S0_R, _SN_TX_WR)
        self._rx_rd = self._r16(_S0_R, _SN_RX_RD)
        self._rx_left = 0
        self._rx_taken = False
        self._tx_idle = False
        return True

    def _reopen(self):
        self.stats["reopen"] += 1
        self._command(_CR_CLOSE)
        self._w8(_S0_W, _SN_IR, 0xFF)
        if not self._open():
            self.stats["reopen_fail"] += 1

    # -- receive ------------------------------------------------------------------------

    def _release(self):
        # hand consumed RX space back: RX_RD, then RECV
        self._w16(_S0_W, _SN_RX_RD, self._rx_rd)
        if self._command(_CR_RECV):
            self._rx_taken = False

    def _resync(self):
        # a length that cannot be: drop everything received so far (as ESP-IDF does)
        self.stats["rx_resync"] += 1
        wr = self._r16_stable(_SN_RX_WR)
        self._rx_left = 0
        if wr >= 0:
            self._rx_rd = wr
            self._release()

    def recv_into(self, buf):
        if self.dead:
            raise dead.error(self._why)
        self._spans.register(buf)  # the first (unlocked) poll makes its views
        if self._rx_left == 0:
            if self._rx_taken:
                self._release()
            if self._int is not None:
                if self._int.value():
                    return 0  # INTn high: nothing received, no SPI needed
                # clear RECV before looking, so a frame arriving later sets it again
                self._w8(_S0_W, _SN_IR, _IR_RECV)
            rsr = self._r16_stable(_SN_RX_RSR)
            if rsr <= 0:
                return 0
            if rsr > _BUF_SIZE:  # more than the 16 KB buffer: not a live chip's answer
                self.stats["rx_drop_bad"] += 1
                self._check_chip()  # raises if dead
                self._resync()
                return 0
            self._rx_left = rsr
        if self._rx_left < 2 + _MIN_FRAME:
            self._resync()
            return 0
        # length header and frame in one SPI frame (the address auto-increments)
        self._begin(_S0_RX_R, self._rx_rd)
        h = self._len2
        self._spi.readinto(h)
        rec = (h[0] << 8) | h[1]
        n = rec - 2
        if n < _MIN_FRAME or n > _MAX_FRAME or rec > self._rx_left:
            self._cs.value(1)
            self.stats["rx_drop_bad"] += 1
            self._check_chip()  # raises if dead
            self._resync()
            return 0
        got = 0
        if n > len(buf):
            self.stats["rx_drop_too_long"] += 1
        else:
            self._spans.read(buf, n)
            got = n
        self._cs.value(1)
        self._rx_rd = (self._rx_rd + rec) & 0xFFFF
        self._rx_left -= rec
        self._rx_taken = True
        if self._rx_left == 0:
            self._release()
        if got:
            self.stats["rx_frames"] += 1
        return got

    # -- transmit ---------------------------------------------------------------------------

    def send(self, buf, n):
        if self.dead:
            raise dead.error(self._why)
        if n < 14 or n > _MAX_FRAME:
            self.stats["tx_drop"] += 1
            return False
        m = n if n >= _MIN_FRAME else _MIN_FRAME  # pad in software (chip padding unverified)
        # after a SEND_OK the chip has sent everything (TX_RD == TX_WR): the
        # whole buffer is free and TX_FSR need not be read (10 SPI bytes a frame)
        if not self._tx_idle and self._r16_stable(_SN_TX_FSR) < m:
            # every send waits for SEND_OK, so the buffer is empty by now:
            # a full (or unreadable) one is suspect
            self.stats["tx_drop_full"] += 1
            self._check_chip()  # raises if dead
            return False
        self._tx_idle = False
        self._begin(_S0_TX_W, self._tx_wr)
        if n < _MIN_FRAME:
            self._spans.write(buf, 0)  # registers buf (its views are made on first sight)
            s = self._small
            for i in range(n):
                s[i] = buf[i]
            for i in range(n, _MIN_FRAME):
                s[i] = 0
            self._spi.write(s)
        else:
            self._spans.write(buf, n)
        self._cs.value(1)
        self._tx_wr = (self._tx_wr + m) & 0xFFFF
        self._w16(_S0_W, _SN_TX_WR, self._tx_wr)
        if not self._command(_CR_SEND):
            self._check_chip()  # raises if dead (Sn_CR stuck at 0xFF)
            self._reopen()
            return False
        t0 = ticks_ms()
        while True:
            ir = self._r8(_S0_R, _SN_IR)
            if ir & (_IR_SENDOK | _IR_TIMEOUT):
                self._w8(_S0_W, _SN_IR, ir & (_IR_SENDOK | _IR_TIMEOUT))
                break
            if ticks_diff(ticks_ms(), t0) > _WAIT_MS:
                self.stats["tx_timeout"] += 1
                self._check_chip()  # raises if dead (SEND_OK never seen: MISO stuck at 0x00)
                self._reopen()  # a SEND that never ends would block every later one
                return False
            sleep_us(10)
        self._tx_idle = True
        self.stats["tx_frames"] += 1
        return True

    # -- the rest of the contract --------------------------------------------------------------

    def link_up(self):
        v = self._r8(_COMMON_R, _PHYCFGR)
        if v == 0xFF or not v & _PHYCFGR_RST:
            # 0xFF, or the PHY in reset (we never reset it): impossible values
            # that a stuck MISO line reads; OSError if the chip is gone
            self._check_chip()
        return bool(v & _PHYCFGR_LNK)

    def wait(self, timeout_ms):
        if self._rx_left:
            return
        t0 = ticks_ms()
        while True:
            if self._int is not None:
                if not self._int.value():
                    return
            elif self._r16_stable(_SN_RX_RSR) > 0:
                return
            if ticks_diff(ticks_ms(), t0) >= timeout_ms:
                return
            sleep_ms(1)

    def close(self):
        self._command(_CR_CLOSE)
