# Simulated board: the W5500 (MACRAW) driver on a register-level chip model
# (boards/sim/w5500.py) behind a simulated machine.SPI at 33 MHz; the model's
# wire is the launcher's framed TAP stream (opts["fd"]).
from stack import stats as _stats
from stack.config import Config
from stack.drivers.tap import FramedWire
from stack.drivers.w5500 import W5500

from boards.sim.machine import SPI, Pin
from boards.sim.w5500 import W5500Model

PORT = "unix"
ARCH = "x64"  # the unix port on x86-64 runs it
CHIP = "w5500"
SPI_ID = 0
SCK = MOSI = MISO = None  # a simulated bus has no pins
CS = 17
RST = 20
INT = 21
MAC = b"\x02\x00\x00\x00\x00\x02"  # fixed and locally administered: no unique_id() here
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 33_000_000

model = None  # the chip model of the last driver() call (tests and the bench read it)


def mac():
    return MAC


def config():
    return Config()


def sim_hardware(opts):
    """The simulated bus, pins and chip: what a real board has in silicon, so
    the launcher counts it with the code, not with the 64 KB data heap."""
    if "fd" not in opts:
        raise ValueError("board sim_w5500 needs --fd (the wire file descriptor)")
    spi = SPI(SPI_ID, baudrate=SPI_HZ, polarity=0, phase=0)
    cs = Pin(CS, Pin.OUT, value=1)
    irq = Pin(INT, Pin.IN, Pin.PULL_UP)
    rst = Pin(RST, Pin.OUT, value=1)
    chip = W5500Model(FramedWire(opts["fd"]))
    chip.attach(spi, cs, int_pin=irq, rst=rst)
    return spi, cs, irq, rst, chip


def driver(opts):
    global model
    spi, cs, irq, rst, model = sim_hardware(opts)
    drv = W5500(spi, cs, mac(), int_pin=irq, rst=rst)
    _stats.register(drv.stats, "sim_spi_bytes", "sim_spi_calls")
    spi.counters = drv.stats  # SPI traffic in the status service's driver counters
    return drv
