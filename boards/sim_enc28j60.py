# Simulated board: the ENC28J60 driver on a register-level chip model
# (boards/sim/enc28j60.py) behind a simulated machine.SPI at 20 MHz; the
# model's wire is the launcher's framed TAP stream (opts["fd"]).
from stack import stats as _stats
from stack.config import Config
from stack.drivers.enc28j60 import ENC28J60
from stack.drivers.tap import FramedWire

from boards.sim.enc28j60 import ENC28J60Model
from boards.sim.machine import SPI, Pin

PORT = "unix"
ARCH = "x64"  # the unix port on x86-64 runs it
CHIP = "enc28j60"
SPI_ID = 1
SCK = MOSI = MISO = None  # a simulated bus has no pins
CS = 13
RST = None
INT = 15
MAC = b"\x02\x00\x00\x00\x00\x02"  # fixed and locally administered: no unique_id() here
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 20_000_000  # the ENC28J60's maximum SCK

model = None  # the chip model of the last driver() call (tests and the bench read it)


def mac():
    return MAC


def config():
    return Config()


def sim_hardware(opts):
    """The simulated bus, pins and chip: what a real board has in silicon, so
    the launcher counts it with the code, not with the 64 KB data heap."""
    if "fd" not in opts:
        raise ValueError("board sim_enc28j60 needs --fd (the wire file descriptor)")
    spi = SPI(SPI_ID, baudrate=SPI_HZ, polarity=0, phase=0)
    cs = Pin(CS, Pin.OUT, value=1)
    irq = Pin(INT, Pin.IN, Pin.PULL_UP)
    chip = ENC28J60Model(FramedWire(opts["fd"]))
    chip.attach(spi, cs, int_pin=irq)
    return spi, cs, irq, chip


def driver(opts):
    global model
    spi, cs, irq, model = sim_hardware(opts)
    drv = ENC28J60(spi, cs, mac(), int_pin=irq, full_duplex=False)
    _stats.register(drv.stats, "sim_spi_bytes", "sim_spi_calls")
    spi.counters = drv.stats  # SPI traffic in the status service's driver counters
    return drv
