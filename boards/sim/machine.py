# machine.SPI and machine.Pin look-alikes for the simulated boards.
#
# Same constructors and methods as the esp32/rp2 ports, so a driver cannot
# tell it is not on a board: SPI(id, baudrate=, polarity=, phase=, bits=,
# firstbit=, sck=, mosi=, miso=) with write/read/readinto/write_readinto, and
# Pin(id, mode, pull, value=) with value/on/off/__call__/irq. A chip model is
# attached with attach(); it sees the bytes clocked on the bus and the CS
# edges. With no chip attached MISO floats at `absent` (0x00 or 0xFF), which is
# what a missing or dead chip looks like to the driver. Setting miso_stuck
# (0x00 or 0xFF) on a bus with a chip is a chip that dies after bring-up: the
# chip still sees every byte written, the driver reads only that level.
#
# The bus keeps counters for the benchmark: bytes clocked in each direction
# (full duplex, so one count), calls, and the implied bus time at baudrate.
from micropython import const

_MSB = const(0)


class Pin:
    IN = const(0)
    OUT = const(1)
    OPEN_DRAIN = const(2)
    PULL_UP = const(1)
    PULL_DOWN = const(2)
    IRQ_FALLING = const(4)
    IRQ_RISING = const(8)

    def __init__(self, id, mode=-1, pull=-1, *, value=None, **kw):
        self.id = id
        self.mode = mode
        self._level = 1 if value is None else (1 if value else 0)
        self._listener = None  # called with the new level when an output changes
        self._source = None  # callable giving the level of an input driven by a model
        self.edges = 0

    def init(self, mode=-1, pull=-1, *, value=None, **kw):
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.value(value)

    def value(self, x=None):
        if x is None:
            if self._source is not None:
                return self._source()
            return self._level
        level = 1 if x else 0
        if level != self._level:
            self._level = level
            self.edges += 1
            if self._listener is not None:
                self._listener(level)
        return None

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, *, priority=1, wake=None,
            hard=False):
        # Edges of a model-driven pin are not delivered (the drivers poll);
        # accepted so board code written for a real port runs unchanged.
        return None


class SPI:
    MSB = const(0)
    LSB = const(1)

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=_MSB,
                 sck=None, mosi=None, miso=None, absent=0xFF):
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.bits = bits
        self.firstbit = firstbit
        self.absent = absent
        self.device = None
        self.miso_stuck = None  # fault hook: every byte read is this level
        self.bytes = 0  # bytes clocked (each is both written and read)
        self.calls = 0
        # optional dict (a sim board passes its driver's stats) kept current with
        # "sim_spi_bytes" / "sim_spi_calls", so the status service reports them
        self.counters = None

    def init(self, baudrate=None, *, polarity=None, phase=None, bits=None, firstbit=None, **kw):
        if baudrate is not None:
            self.baudrate = baudrate
        if polarity is not None:
            self.polarity = polarity
        if phase is not None:
            self.phase = phase
        if bits is not None:
            self.bits = bits
        if firstbit is not None:
            self.firstbit = firstbit

    def deinit(self):
        self.device = None

    def attach(self, device):
        """Connect a chip model: device.xfer(wbuf, rbuf, n, fill) is called for
        every transfer; device.check_bus(spi) may refuse the bus settings."""
        self.device = device
        device.check_bus(self)

    def _xfer(self, wbuf, rbuf, n, fill):
        self.bytes += n
        self.calls += 1
        c = self.counters
        if c is not None:
            c["sim_spi_bytes"] += n
            c["sim_spi_calls"] += 1
        dev = self.device
        if dev is not None:
            dev.xfer(wbuf, rbuf, n, fill)
        if rbuf is not None and (dev is None or self.miso_stuck is not None):
            v = self.absent if dev is None else self.miso_stuck
            for i in range(n):
                rbuf[i] = v

    def write(self, buf):
        self._xfer(buf, None, len(buf), 0)

    def readinto(self, buf, write=0x00):
        self._xfer(None, buf, len(buf), write)

    def read(self, nbytes, write=0x00):
        buf = bytearray(nbytes)
        self._xfer(None, buf, nbytes, write)
        return bytes(buf)

    def write_readinto(self, write_buf, read_buf):
        n = len(write_buf)
        if len(read_buf) != n:
            raise ValueError("buffers must be the same length")
        self._xfer(write_buf, read_buf, n, 0)

    def bus_time_s(self):
        """Time the bytes counted so far take on the bus at baudrate (SCK
        only; gaps between transfers and CS set-up time are not counted)."""
        return self.bytes * 8 / self.baudrate
