# WIZnet W5500-EVB-Pico: RP2040 with the W5500 on the board (FACTS E.1, from
# MicroPython's W5500_EVB_PICO board definition). The W5500 runs socket 0 in
# MACRAW; this stack does all of TCP/IP.
import machine

from stack.config import Config
from stack.drivers.w5500 import W5500

from boards import mac_from_uid

PORT = "rp2"  # MicroPython port (firmware: the W5500_EVB_PICO or RPI_PICO build)
ARCH = "armv6m"  # mpy-cross -march for the RP2040's Cortex-M0+
FLASH_CHIP = "rp2040"  # what flash writes to: a UF2 for this family, onto the RPI-RP2 drive
CHIP = "w5500"
SPI_ID = 0
SCK = 18
MOSI = 19
MISO = 16
CS = 17
RST = 20
INT = 21
# The W5500 takes up to 80 MHz (datasheet); the RP2040's PL022 gives at most
# clk_peri/2 in master mode, and picks the nearest rate below the one asked:
# 31.25 MHz from a 125 MHz clk_peri. The traces are short, on the board.
SPI_HZ = 33_000_000
# The address: by DHCP (firmware/main.py starts network.LAN's client), or
# with DHCP = False the static one below.
DHCP = True
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"


def mac():
    return mac_from_uid(machine.unique_id())


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(SPI_ID, baudrate=SPI_HZ, polarity=0, phase=0, bits=8,
                      firstbit=machine.SPI.MSB, sck=machine.Pin(SCK), mosi=machine.Pin(MOSI),
                      miso=machine.Pin(MISO))
    cs = machine.Pin(CS, machine.Pin.OUT, value=1)
    rst = machine.Pin(RST, machine.Pin.OUT, value=1)
    irq = machine.Pin(INT, machine.Pin.IN, machine.Pin.PULL_UP)
    return W5500(spi, cs, mac(), int_pin=irq, rst=rst)
