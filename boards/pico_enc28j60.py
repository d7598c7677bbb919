# Raspberry Pi Pico + ENC28J60 module (FACTS E.3, the micropy-ENC28J60 wiring):
# SPI1 SCK GP10, MOSI (SI) GP11, MISO (SO) GP8, CS GP13, INT GP15; VCC 3V3
# (the module draws up to 180 mA: mind the Pico's 3V3 regulator).
import machine

from stack.config import Config
from stack.drivers.enc28j60 import ENC28J60

MAC = b"\x02\x00\x00\x00\xec\x01"  # locally administered; set a unique one per board
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 20_000_000  # the ENC28J60's maximum; errata #1 (B1/B4) needs >= 8 MHz
# No autonegotiation on the ENC28J60: a switch port that negotiates falls back
# to half duplex, so half duplex is the safe default (True only on a port fixed
# to 10 Mbit/s full duplex).
FULL_DUPLEX = False


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(1, baudrate=SPI_HZ, polarity=0, phase=0, bits=8, firstbit=machine.SPI.MSB,
                      sck=machine.Pin(10), mosi=machine.Pin(11), miso=machine.Pin(8))
    cs = machine.Pin(13, machine.Pin.OUT, value=1)
    irq = machine.Pin(15, machine.Pin.IN, machine.Pin.PULL_UP)
    return ENC28J60(spi, cs, MAC, int_pin=irq, full_duplex=FULL_DUPLEX)
