"""flash: images are checked before a board is touched (esptool's own image
classes make the ESP images, and its merge_bin and image_info agree with what
flash accepts), the errors a user meets are clear, and a UF2 lands whole on an
RPI-RP2 drive. Writing to a real chip needs the chip: not done here."""

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools import flash

ROOT = Path(__file__).resolve().parent.parent


def esp_image(path, cls_name, addr):
    """A small but valid ESP image for a chip, written by esptool's own code."""
    from esptool import bin_image

    img = getattr(bin_image, cls_name)()
    img.entrypoint = addr
    img.segments = [bin_image.ELFSection(b".dram0.data", addr, bytes(range(256)) * 4, 0)]
    img.save(str(path))
    return path


def merged(tmp_path, chip, boot, target_offset, name):
    from esptool import cmds

    out = tmp_path / name
    cmds.merge_bin([(boot_offset(chip), str(boot)), (0x10000, str(boot))], chip,
                   output=str(out), target_offset=target_offset)
    return out


def boot_offset(chip):
    return flash.esp_rom(chip).BOOTLOADER_FLASH_OFFSET


def uf2(path, family=0xE48BFF56, blocks=4, base=0x10000000, magic=0x0A324655):
    """UF2 blocks as the RP2040 boot ROM takes them (format facts only)."""
    out = bytearray()
    for i in range(blocks):
        payload = bytes([i]) * 256
        head = struct.pack("<8I", magic, 0x9E5D5157, 0x2000, base + 256 * i, 256, i, blocks,
                           family)
        out += head + payload + bytes(476 - 256) + struct.pack("<I", 0x0AB16F30)
    path.write_bytes(out)
    return path


def run_flash(*args, env=None, prefix=()):
    return subprocess.run(list(prefix) + [sys.executable, "-m", "host_tools", "flash",
                                          "--no-progress"] + list(args),
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def esp32_boot(tmp_path):
    return esp_image(tmp_path / "boot32.bin", "ESP32FirmwareImage", 0x3FFF0000)


def test_esp_offsets_come_from_esptool_per_chip_family(tmp_path, esp32_boot):
    assert boot_offset("esp32") == 0x1000 and boot_offset("esp32s3") == 0
    # MicroPython's ESP32 .bin: the bootloader first, written at 0x1000
    at_boot = merged(tmp_path, "esp32", esp32_boot, 0x1000, "mp.bin")
    assert flash.check_esp_image(at_boot.read_bytes(), "esp32") == 0x1000
    # a whole-flash image (merge_bin from 0): 0x1000 bytes of padding, then the bootloader
    whole = merged(tmp_path, "esp32", esp32_boot, 0, "whole.bin")
    assert whole.read_bytes()[:0x1000] == b"\xff" * 0x1000
    assert flash.check_esp_image(whole.read_bytes(), "esp32") == 0
    s3 = esp_image(tmp_path / "s3.bin", "ESP32S3FirmwareImage", 0x3FC88000)
    assert flash.check_esp_image(s3.read_bytes(), "esp32s3") == 0


def test_esptool_image_info_agrees_with_flash(tmp_path, esp32_boot):
    at_boot = merged(tmp_path, "esp32", esp32_boot, 0x1000, "mp.bin")
    r = subprocess.run([sys.executable, "-m", "esptool", "image-info", str(at_boot)],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Detected image type: ESP32" in r.stdout
    assert flash.esp_image_chip(at_boot.read_bytes(), 0) == "ESP32"


def test_not_a_firmware_image_is_refused_before_the_port(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"hello, this is not firmware\n" * 100)
    r = run_flash("--board", "esp32_w5500", "--port", "/dev/ttyNOPE9", "--firmware", str(junk))
    assert r.returncode == 1
    assert "not an ESP firmware image" in r.stderr
    r = run_flash("--board", "w5500_evb_pico", "--port", str(tmp_path), "--firmware", str(junk))
    assert r.returncode == 1 and "not a UF2 firmware image" in r.stderr
    broken = uf2(tmp_path / "b.uf2", magic=0x12345678)
    r = run_flash("--board", "w5500_evb_pico", "--firmware", str(broken))
    assert r.returncode == 1 and "block 0 has no UF2 magic" in r.stderr


def test_wrong_chip_is_refused(tmp_path, esp32_boot):
    s3 = esp_image(tmp_path / "s3.bin", "ESP32S3FirmwareImage", 0x3FC88000)
    r = run_flash("--board", "esp32_w5500", "--port", "/dev/ttyNOPE9", "--firmware", str(s3))
    assert r.returncode == 1
    assert "wrong chip: the image is built for ESP32-S3, the board is an ESP32" in r.stderr
    # an ESP image or an ESP UF2 (esptool's merge_bin --format uf2) for an RP2040 board
    r = run_flash("--board", "w5500_evb_pico", "--firmware", str(esp32_boot))
    assert r.returncode == 1 and "wrong chip: this is an ESP image" in r.stderr
    from esptool import cmds

    esp_uf2 = tmp_path / "esp.uf2"
    cmds.merge_bin([(0x1000, str(esp32_boot))], "esp32", output=str(esp_uf2), format="uf2")
    r = run_flash("--board", "w5500_evb_pico", "--firmware", str(esp_uf2))
    assert r.returncode == 1
    assert "wrong chip: the UF2 is for ESP32, the board is an RP2040" in r.stderr
    rp = uf2(tmp_path / "mp.uf2")
    r = run_flash("--board", "esp32_w5500", "--port", "/dev/ttyNOPE9", "--firmware", str(rp))
    assert r.returncode == 1 and "this is a UF2 image" in r.stderr
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v1.0\nModel: Raspberry Pi RP2\n"
                                        "Board-ID: RP2350\n")
    r = run_flash("--board", "w5500_evb_pico", "--port", str(drive), "--firmware", str(rp))
    assert r.returncode == 1 and "wrong chip: the drive at" in r.stderr


def test_port_errors_are_clear(tmp_path, esp32_boot):
    image = merged(tmp_path, "esp32", esp32_boot, 0x1000, "mp.bin")
    r = run_flash("--board", "esp32_w5500", "--port", "/dev/ttyNOPE9", "--firmware", str(image))
    assert r.returncode == 1 and "no port /dev/ttyNOPE9" in r.stderr
    r = run_flash("--board", "esp32_w5500", "--firmware", str(image))
    assert r.returncode == 1 and "--port is needed" in r.stderr
    r = run_flash("--board", "esp32_w5500", "--port", "/dev/ttyNOPE9", "--firmware",
                  str(tmp_path / "missing.bin"))
    assert r.returncode == 2 and "no firmware file" in r.stderr
    r = run_flash("--board", "unix_tap", "--firmware", str(image))
    assert r.returncode == 2 and "nothing to flash" in r.stderr
    r = run_flash("--board", "w5500_evb_pico", "--firmware", str(uf2(tmp_path / "mp.uf2")))
    assert r.returncode == 1 and "no RPI-RP2 drive mounted" in r.stderr
    r = run_flash("--board", "w5500_evb_pico", "--port", str(tmp_path), "--firmware",
                  str(uf2(tmp_path / "mp.uf2")))
    assert r.returncode == 1 and "not a UF2 boot drive" in r.stderr


def test_no_permission_on_the_port(tmp_path, esp32_boot):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to run flash as another user (setpriv)")
    import tempfile

    public = Path(tempfile.mkdtemp())  # pytest's tmp_path is root's alone (0700)
    os.chmod(public, 0o755)
    image = merged(public, "esp32", esp32_boot, 0x1000, "mp.bin")
    os.chmod(image, 0o644)
    master, slave = os.openpty()
    try:
        os.chmod(os.ttyname(slave), 0o600)  # root's, as /dev/ttyUSB0 is root:dialout 0660
        r = run_flash("--board", "esp32_w5500", "--port", os.ttyname(slave), "--firmware",
                      str(image), prefix=["setpriv", "--reuid=65534", "--regid=65534",
                                          "--clear-groups"],
                      env=dict(os.environ, HOME=str(public)))
        assert r.returncode == 1, r.stderr
        assert "no permission to open %s" % os.ttyname(slave) in r.stderr
        assert "dialout" in r.stderr
    finally:
        os.close(master)
        os.close(slave)
        shutil.rmtree(public)


def test_esptool_finds_no_bootloader_on_a_silent_port(tmp_path, esp32_boot):
    image = merged(tmp_path, "esp32", esp32_boot, 0x1000, "mp.bin")
    master, slave = os.openpty()
    try:
        r = run_flash("--board", "esp32_w5500", "--port", os.ttyname(slave), "--firmware",
                      str(image))
        assert r.returncode == 1
        assert "no ESP bootloader answered on %s" % os.ttyname(slave) in r.stderr
        assert "hold BOOT" in r.stderr
    finally:
        os.close(master)
        os.close(slave)


def test_uf2_lands_whole_on_the_rpi_rp2_drive(tmp_path):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\n"
                                        "Board-ID: RPI-RP2\n")
    image = uf2(tmp_path / "RPI_PICO.uf2", blocks=40)
    r = run_flash("--board", "w5500_evb_pico", "--port", str(drive), "--firmware", str(image))
    assert r.returncode == 0, r.stderr
    assert (drive / "firmware.uf2").read_bytes() == image.read_bytes()
    assert "40 UF2 blocks (10240 bytes) copied to %s" % drive in r.stdout
