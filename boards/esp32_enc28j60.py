# ESP32 DevKit + ENC28J60 module on the same HSPI wiring as esp32_w5500 (FACTS
# E.2/E.3; any SPI pins work for this chip): SCK 14, MOSI (SI) 13, MISO (SO) 12,
# CS 15, INT 4; VCC 3V3 with 200 mA to spare (the module draws up to 180 mA).
# MicroPython's own network.LAN has no ENC28J60 driver; this stack drives it.
# GPIO12 is a strapping pin: see esp32_w5500 for the VSPI alternative.
import machine

from stack.config import Config
from stack.drivers.enc28j60 import ENC28J60

from boards import mac_from_uid

PORT = "esp32"
ARCH = "xtensawin"
FLASH_CHIP = "esp32"  # esptool chip family (the image offset comes from it)
CHIP = "enc28j60"
SPI_ID = 1
SCK = 14
MOSI = 13
MISO = 12
CS = 15
RST = None
INT = 4
# The ENC28J60's maximum (80 MHz APB / 4, exact); errata #1 needs >= 8 MHz.
SPI_HZ = 20_000_000
FULL_DUPLEX = False  # no autonegotiation on this chip: see pico_enc28j60
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
