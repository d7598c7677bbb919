# The unix_tap board (no chip: the launcher's framed TAP stream is the MAC) on
# the stack port's 32-bit Linux program (firmware/port, target host32), for
# heap figures with a board's 32-bit object sizes: bench/heap32.py,
# tests/test_host32_heap.py. `python -m host_tools sim --board host32_tap`.
from boards.unix_tap import GATEWAY, IP, MAC, NETMASK, config, driver, mac  # noqa: F401

PORT = "host32"  # the project's own port (firmware/port), 32-bit Linux
ARCH = "x86"  # mpy-cross -march for its .mpy files (host_tools/emu.py builds them)
CHIP = "tap"
SPI_ID = SCK = MOSI = MISO = CS = RST = INT = None
SPI_HZ = 0
