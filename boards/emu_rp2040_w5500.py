# Emulated WIZnet W5500-EVB-Pico (docs/emulator.md): the stack port's firmware
# on rp2040js, the W5500 (MACRAW) model on SPI0 as the real board wires it
# (FACTS E.1): SCK 18, MOSI 19, MISO 16, CS 17, RSTn 20, INTn 21.
# `python -m host_tools sim --board emu_rp2040_w5500` runs it behind a TAP.
import machine

from stack.config import Config
from stack.drivers.w5500 import W5500

MAC = b"\x02\x00\x00\x00\x55\x02"  # locally administered
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 33_000_000  # the PL022 gives 31.25 MHz (clk_peri 125 MHz / 4), as on the real board

# read (not imported) by host_tools/emu.py: what the runner attaches, where
EMU = {"chip": "w5500", "spi": 0, "cs": 17, "int": 21, "rst": 20}


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(0, baudrate=SPI_HZ, polarity=0, phase=0, bits=8, firstbit=machine.SPI.MSB,
                      sck=machine.Pin(18), mosi=machine.Pin(19), miso=machine.Pin(16))
    cs = machine.Pin(17, machine.Pin.OUT, value=1)
    rst = machine.Pin(20, machine.Pin.OUT, value=1)
    irq = machine.Pin(21, machine.Pin.IN, machine.Pin.PULL_UP)
    return W5500(spi, cs, MAC, int_pin=irq, rst=rst)
