# The MicroPython unix port on a Linux TAP: no chip, the fd is the wire.
from stack.config import Config
from stack.drivers.tap import TapDriver

PORT = "unix"
ARCH = "x64"  # mpy-cross -march of the unix port on x86-64 (host_tools.build.host_arch())
CHIP = "tap"  # no chip, no SPI: the launcher's TAP fd is the wire
SPI_ID = SCK = MOSI = MISO = CS = RST = INT = None
SPI_HZ = 0
MAC = b"\x02\x00\x00\x00\x00\x02"  # fixed and locally administered: no unique_id() here
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"


def mac():
    return MAC


def config():
    return Config()


def driver(opts):
    if "fd" not in opts:
        raise ValueError("board unix_tap needs --fd (the TAP file descriptor)")
    return TapDriver(opts["fd"], mac())
