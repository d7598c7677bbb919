"""Board files: each names its port, mpy-cross arch, chip, SPI bus and pins,
the pins are ones the port's SPI block can use, the clock is inside the chip's
limits, and hardware boards derive a stable, locally administered MAC from
machine.unique_id() (the same bytes on CPython and on the MicroPython VM)."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from boards import mac_from_uid

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
# emu_* boards come with the emulator and are checked there
BOARDS = sorted(p.stem for p in (ROOT / "boards").glob("*.py")
                if p.stem != "__init__" and not p.stem.startswith("emu_"))
HARDWARE = ["w5500_evb_pico", "pico_enc28j60", "esp32_w5500", "esp32_enc28j60"]
ARCH_OF_PORT = {"rp2": "armv6m", "esp32": "xtensawin", "unix": "x64", "host32": "x86"}
CHIP_MAX_HZ = {"w5500": 80_000_000, "enc28j60": 20_000_000}
FIELDS = ("PORT", "ARCH", "CHIP", "SPI_ID", "SCK", "MOSI", "MISO", "CS", "RST", "INT", "SPI_HZ")
RP2040_UID = b"\xe6\x61\x41\x04\x03\x2b\x1c\x2f"


@pytest.fixture
def fake_machine(monkeypatch):
    """A `machine` module with only what a board file touches at import and in
    mac(): board files must not talk to hardware before driver()."""
    m = types.ModuleType("machine")
    m.unique_id = lambda: RP2040_UID
    monkeypatch.setitem(sys.modules, "machine", m)
    return m


def load(name):
    sys.modules.pop("boards." + name, None)
    return __import__("boards." + name, None, None, ("driver",))


def test_the_four_hardware_boards_exist():
    assert set(HARDWARE) <= set(BOARDS)
    assert "pico_w5500" not in BOARDS  # renamed to w5500_evb_pico


@pytest.mark.parametrize("name", BOARDS)
def test_board_names_port_arch_chip_bus_and_pins(name, fake_machine):
    b = load(name)
    for field in FIELDS:
        assert hasattr(b, field), "%s has no %s" % (name, field)
    assert b.ARCH == ARCH_OF_PORT[b.PORT]
    assert callable(b.mac) and callable(b.config) and callable(b.driver)
    if b.CHIP in CHIP_MAX_HZ:
        assert 0 < b.SPI_HZ <= CHIP_MAX_HZ[b.CHIP]
    if b.CHIP == "enc28j60":
        assert b.SPI_HZ >= 8_000_000  # errata #1: MAC/MII registers unreliable below 8 MHz
    pins = [p for p in (b.SCK, b.MOSI, b.MISO, b.CS, b.RST, b.INT) if p is not None]
    assert len(pins) == len(set(pins)), "a pin used twice"


@pytest.mark.parametrize("name", [n for n in HARDWARE if n.startswith(("pico", "w5500"))])
def test_rp2040_pins_belong_to_the_spi_block(name, fake_machine):
    b = load(name)
    # RP2040 GPIO function table: SPI SCK on GPIO = 2 mod 4, TX 3, RX 0, and the
    # instance is bit 3 of the GPIO number (ports/rp2/machine_spi.c checks the same)
    assert b.SCK % 4 == 2 and b.MOSI % 4 == 3 and b.MISO % 4 == 0
    for pin in (b.SCK, b.MOSI, b.MISO):
        assert (pin >> 3) & 1 == b.SPI_ID
    for pin in (b.SCK, b.MOSI, b.MISO, b.CS, b.RST, b.INT):
        assert pin is None or 0 <= pin <= 28


@pytest.mark.parametrize("name", [n for n in HARDWARE if n.startswith("esp32")])
def test_esp32_pins_are_usable(name, fake_machine):
    b = load(name)
    assert b.SPI_ID in (1, 2)  # HSPI, VSPI (SPI 0 is the flash)
    for pin in (b.SCK, b.MOSI, b.MISO, b.CS, b.RST, b.INT):
        assert pin is None or not 6 <= pin <= 11  # wired to the SPI flash
    for out in (b.SCK, b.MOSI, b.CS, b.RST):
        assert out is None or out < 34  # 34-39 are input only


def test_w5500_evb_pico_matches_the_board(fake_machine):
    b = load("w5500_evb_pico")
    assert (b.PORT, b.ARCH, b.CHIP, b.SPI_ID) == ("rp2", "armv6m", "w5500", 0)
    assert (b.SCK, b.MOSI, b.MISO, b.CS, b.RST, b.INT) == (18, 19, 16, 17, 20, 21)


@pytest.mark.parametrize("name", HARDWARE)
def test_hardware_board_mac_comes_from_unique_id(name, fake_machine):
    b = load(name)
    assert b.mac() == mac_from_uid(RP2040_UID)
    fake_machine.unique_id = lambda: b"\x24\x0a\xc4\x12\x34\x56"  # an ESP32 factory MAC
    assert b.mac() == mac_from_uid(b"\x24\x0a\xc4\x12\x34\x56")


def test_mac_is_locally_administered_unicast_and_stable():
    seen = set()
    for i in range(2000):
        uid = RP2040_UID[:7] + bytes([i & 0xFF]) if i < 256 else i.to_bytes(6, "big")
        mac = mac_from_uid(uid)
        assert len(mac) == 6
        assert mac[0] & 0x02 == 0x02  # locally administered
        assert mac[0] & 0x01 == 0  # unicast
        assert mac_from_uid(uid) == mac
        seen.add(mac)
    assert len(seen) == 2000  # neighbouring ids do not collide


def test_mac_is_not_the_factory_mac():
    factory = b"\x24\x0a\xc4\x12\x34\x56"
    assert mac_from_uid(factory) != factory
    assert mac_from_uid(factory)[1:] != factory[1:]


def test_mac_derivation_is_the_same_on_the_micropython_vm():
    if not MICROPYTHON.exists():
        pytest.skip("no MicroPython unix port in .venv")
    uids = [RP2040_UID, b"\x24\x0a\xc4\x12\x34\x56", bytearray(b"\x00" * 8)]
    code = ("import sys; sys.path.insert(0, %r)\nfrom boards import mac_from_uid\n"
            "for u in %r: print(mac_from_uid(u).hex())" % (str(ROOT), uids))
    r = subprocess.run([str(MICROPYTHON), "-c", code], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [mac_from_uid(u).hex() for u in uids]
