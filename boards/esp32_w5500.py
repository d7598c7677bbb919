# ESP32 DevKit + W5500 module, wired like ESP-IDF's ethernet example (FACTS E.2):
# HSPI = SPI(1): SCLK 14, MOSI 13, MISO 12, CS 15, INT 4, no reset line.
# Caution: GPIO12 is a boot strapping pin (flash voltage); if the module holds
# MISO high at reset the ESP32 may not boot; use VSPI (SPI(2): 18/23/19, CS 5)
# by changing the pins below if that happens.
import machine

from stack.config import Config
from stack.drivers.w5500 import W5500

MAC = b"\x02\x00\x00\x00\x55\x02"  # locally administered; set a unique one per board
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 20_000_000  # GPIO-matrix pins: keep at or below 40 MHz; 20 is safe on jumper wires


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(1, baudrate=SPI_HZ, polarity=0, phase=0, bits=8, firstbit=machine.SPI.MSB,
                      sck=machine.Pin(14), mosi=machine.Pin(13), miso=machine.Pin(12))
    cs = machine.Pin(15, machine.Pin.OUT, value=1)
    irq = machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)
    return W5500(spi, cs, MAC, int_pin=irq)
