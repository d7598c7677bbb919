# ESP32 DevKit + W5500 module, wired like ESP-IDF's Ethernet example (FACTS
# E.2): SPI(1) = HSPI on its IO_MUX pins SCK 14, MOSI 13, MISO 12; CS 15,
# INT 4; the module's RST is not wired (the driver resets the chip by MR.RST).
# Caution: GPIO12 is a boot strapping pin (flash voltage); if the ESP32 does
# not boot with the module attached, move to VSPI's IO_MUX pins (SPI_ID 2:
# SCK 18, MOSI 23, MISO 19) and a free CS such as 5.
import machine

from stack.config import Config
from stack.drivers.w5500 import W5500

from boards import mac_from_uid

PORT = "esp32"  # MicroPython port (firmware: the ESP32_GENERIC build)
ARCH = "xtensawin"  # mpy-cross -march for the ESP32's Xtensa LX6
FLASH_CHIP = "esp32"  # esptool chip family (the image offset comes from it)
CHIP = "w5500"
SPI_ID = 1
SCK = 14
MOSI = 13
MISO = 12
CS = 15
RST = None
INT = 4
# ESP-IDF's example runs this wiring at 16 MHz; 20 MHz (80 MHz APB / 4) stays
# well inside the W5500's 80 MHz and works on short jumper wires.
SPI_HZ = 20_000_000
# The address: by DHCP (firmware/main.py starts network.LAN's client), or
# with DHCP = False the static one below.
DHCP = True
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"


def mac():
    # unique_id() is the factory MAC here: hashing it gives a different,
    # locally administered address, so the Wi-Fi MAC stays unused on the wire.
    return mac_from_uid(machine.unique_id())


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(SPI_ID, baudrate=SPI_HZ, polarity=0, phase=0, bits=8,
                      firstbit=machine.SPI.MSB, sck=machine.Pin(SCK), mosi=machine.Pin(MOSI),
                      miso=machine.Pin(MISO))
    cs = machine.Pin(CS, machine.Pin.OUT, value=1)
    irq = machine.Pin(INT, machine.Pin.IN, machine.Pin.PULL_UP)
    return W5500(spi, cs, mac(), int_pin=irq)
