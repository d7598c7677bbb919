# Raspberry Pi Pico + ENC28J60 module on SPI1 (FACTS E.3, the wiring of the
# micropy-ENC28J60 project): SCK GP10, MOSI (module SI) GP11, MISO (module SO)
# GP8, CS GP13, INT GP15; VCC 3V3 (the module draws up to 180 mA: mind the
# Pico's 3V3 regulator). The module's RESET pin is not wired (soft reset).
import machine

from stack.config import Config
from stack.drivers.enc28j60 import ENC28J60

from boards import mac_from_uid

PORT = "rp2"
ARCH = "armv6m"
FLASH_CHIP = "rp2040"  # what flash writes to: a UF2 for this family, onto the RPI-RP2 drive
CHIP = "enc28j60"
SPI_ID = 1
SCK = 10
MOSI = 11
MISO = 8
CS = 13
RST = None
INT = 15
# The ENC28J60's maximum SCK is 20 MHz; errata #1 (revs B1/B4) needs >= 8 MHz.
# From a 125 MHz clk_peri the RP2040 gives 15.6 MHz for this request.
SPI_HZ = 20_000_000
# No autonegotiation on the ENC28J60: a switch port that negotiates falls back
# to half duplex, so half duplex is the safe default (True only on a port fixed
# to 10 Mbit/s full duplex).
FULL_DUPLEX = False
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
    irq = machine.Pin(INT, machine.Pin.IN, machine.Pin.PULL_UP)
    return ENC28J60(spi, cs, mac(), int_pin=irq, full_duplex=FULL_DUPLEX)
