# WIZnet W5500-EVB-Pico (RP2040 + W5500 on the board), FACTS E.1:
# SPI0 SCK 18, MOSI 19, MISO 16, CS 17, RSTn 20, INTn 21.
# The W5500 runs socket 0 in MACRAW; this stack does all of TCP/IP.
import machine

from stack.config import Config
from stack.drivers.w5500 import W5500

MAC = b"\x02\x00\x00\x00\x55\x01"  # locally administered; set a unique one per board
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 33_000_000  # the RP2040 PL022 gives at most clk_peri/2; the W5500 takes up to 80 MHz


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(0, baudrate=SPI_HZ, polarity=0, phase=0, bits=8, firstbit=machine.SPI.MSB,
                      sck=machine.Pin(18), mosi=machine.Pin(19), miso=machine.Pin(16))
    cs = machine.Pin(17, machine.Pin.OUT, value=1)
    rst = machine.Pin(20, machine.Pin.OUT, value=1)
    irq = machine.Pin(21, machine.Pin.IN, machine.Pin.PULL_UP)
    return W5500(spi, cs, MAC, int_pin=irq, rst=rst)
