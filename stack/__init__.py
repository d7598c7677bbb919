# A TCP/IP stack in MicroPython for SPI Ethernet chips (ENC28J60, W5500 MACRAW).
# Import submodules directly (stack.iface, stack.udp, ...): nothing is loaded here,
# so a board pays RAM only for what it uses.
