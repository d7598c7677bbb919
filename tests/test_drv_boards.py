"""Board files and drivers: every file of this area compiles with mpy-cross for
RP2040 (armv6m) and ESP32 (xtensawin); the real-hardware board files run up to
driver bring-up against a bus with no chip on it (a clear OSError, no hang)."""

import errno
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MPY_CROSS = ROOT / ".venv" / "bin" / "mpy-cross"
FILES = [
    "stack/drivers/enc28j60.py",
    "stack/drivers/w5500.py",
    "stack/drivers/spibuf.py",
    "boards/__init__.py",
    "boards/w5500_evb_pico.py",
    "boards/esp32_w5500.py",
    "boards/esp32_enc28j60.py",
    "boards/pico_enc28j60.py",
    "boards/sim_enc28j60.py",
    "boards/sim_w5500.py",
    "boards/sim/__init__.py",
    "boards/sim/machine.py",
    "boards/sim/mem.py",
    "boards/sim/memwire.py",
    "boards/sim/enc28j60.py",
    "boards/sim/w5500.py",
]
HW_BOARDS = ["w5500_evb_pico", "esp32_w5500", "pico_enc28j60", "esp32_enc28j60"]


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
@pytest.mark.parametrize("path", FILES)
def test_compiles_with_mpy_cross(path, arch, tmp_path):
    if not MPY_CROSS.exists():
        pytest.skip("no mpy-cross in .venv")
    r = subprocess.run([str(MPY_CROSS), "-march=" + arch, "-o", str(tmp_path / "out.mpy"),
                        str(ROOT / path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("absent", [0x00, 0xFF])
@pytest.mark.parametrize("hw_board", HW_BOARDS)
def test_hardware_board_with_no_chip_fails_clearly(hw_board, absent, monkeypatch):
    from boards.sim import machine as simmachine

    class SPI(simmachine.SPI):
        def __init__(self, *a, **kw):
            super().__init__(*a, absent=absent, **kw)

    fake = types.ModuleType("machine")
    fake.SPI = SPI
    fake.Pin = simmachine.Pin
    fake.unique_id = lambda: b"\xe6\x61\x41\x04\x03\x2b\x1c\x2f"  # an RP2040 flash id
    monkeypatch.setitem(sys.modules, "machine", fake)
    monkeypatch.delitem(sys.modules, "boards." + hw_board, raising=False)
    mod = __import__("boards." + hw_board, None, None, ("driver",))
    mac = mod.mac()
    assert len(mac) == 6 and mac[0] & 0x03 == 0x02  # locally administered unicast
    mod.config()
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        mod.driver({})
    assert time.monotonic() - t0 < 0.5
    assert e.value.args[0] == errno.ENODEV
