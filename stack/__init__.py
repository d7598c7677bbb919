# A TCP/IP stack in MicroPython for SPI Ethernet chips (ENC28J60, W5500 MACRAW).
# Import submodules directly (stack.iface, stack.udp, ...): nothing is loaded here,
# so a board pays RAM only for what it uses.

__version__ = "0.1.0"  # package.json (mip) carries the same; tests hold them equal
