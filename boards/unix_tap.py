# The MicroPython unix port on a Linux TAP: no chip, the fd is the wire.
from stack.config import Config
from stack.drivers.tap import TapDriver

MAC = b"\x02\x00\x00\x00\x00\x02"  # locally administered
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"


def config():
    return Config()


def driver(opts):
    if "fd" not in opts:
        raise ValueError("board unix_tap needs --fd (the TAP file descriptor)")
    return TapDriver(opts["fd"], MAC)
