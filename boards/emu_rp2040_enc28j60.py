# Emulated Raspberry Pi Pico + ENC28J60 module (docs/emulator.md): the stack
# port's firmware on rp2040js, the ENC28J60 model on SPI1 wired as
# boards/pico_enc28j60.py (FACTS E.3): SCK GP10, MOSI GP11, MISO GP8, CS GP13,
# INT GP15. `python -m host_tools sim --board emu_rp2040_enc28j60`.
import machine

from stack.config import Config
from stack.drivers.enc28j60 import ENC28J60

MAC = b"\x02\x00\x00\x00\xec\x02"  # locally administered
IP = "192.0.2.2"
NETMASK = "255.255.255.0"
GATEWAY = "192.0.2.1"
SPI_HZ = 20_000_000  # the ENC28J60's maximum; the PL022 gives 15.625 MHz (125 MHz / 8)
FULL_DUPLEX = False  # no autonegotiation on the ENC28J60: half duplex is the safe default

# read (not imported) by host_tools/emu.py: what the runner attaches, where
EMU = {"chip": "enc28j60", "spi": 1, "cs": 13, "int": 15}


def config():
    return Config()


def driver(opts):
    spi = machine.SPI(1, baudrate=SPI_HZ, polarity=0, phase=0, bits=8, firstbit=machine.SPI.MSB,
                      sck=machine.Pin(10), mosi=machine.Pin(11), miso=machine.Pin(8))
    cs = machine.Pin(13, machine.Pin.OUT, value=1)
    irq = machine.Pin(15, machine.Pin.IN, machine.Pin.PULL_UP)
    return ENC28J60(spi, cs, MAC, int_pin=irq, full_duplex=FULL_DUPLEX)
