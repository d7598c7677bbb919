"""flash: write a MicroPython firmware image the user supplies onto a board.

ESP32 family: esptool (as a library) at the offset its chip family boots
from (esptool's own BOOTLOADER_FLASH_OFFSET: 0x1000 on ESP32/S2, 0 on S3/C3/C6),
with a tqdm progress bar. RP2040: the .uf2 copied onto the RPI-RP2 drive the
boot ROM shows in BOOTSEL mode (or after machine.bootloader(), which flash
asks for when --port is the board's serial port).

The image is checked before anything touches the board: an ESP image must
start with the image magic (0xE9) at 0 or at the chip's offset and be built
for the board's chip (the chip id in its extended header); a UF2 must be
whole 512-byte UF2 blocks for the RP2040's family id and its flash.
"""

import os
import struct
import sys
import time
from pathlib import Path


class FlashError(Exception):
    """Why flashing cannot go on, in words a user can act on."""


# -- UF2 (https://github.com/microsoft/uf2 format, facts only) ---------------------------------

UF2_BLOCK = 512
UF2_MAGIC_START0 = 0x0A324655  # "UF2\n"
UF2_MAGIC_START1 = 0x9E5D5157
UF2_MAGIC_END = 0x0AB16F30
UF2_FLAG_FAMILY = 0x00002000
UF2_FAMILY = {"rp2040": 0xE48BFF56}
RP2040_FLASH = (0x10000000, 0x11000000)  # XIP flash window the boot ROM writes


def family_name(family_id):
    for name, fid in UF2_FAMILY.items():
        if fid == family_id:
            return name.upper()
    from esptool.targets import CHIP_DEFS

    for rom in CHIP_DEFS.values():
        if getattr(rom, "UF2_FAMILY_ID", None) == family_id:
            return rom.CHIP_NAME
    return "family 0x%08x" % family_id


def check_uf2(data, chip):
    """Raise FlashError unless `data` is a UF2 image for `chip` (rp2040).
    Returns the number of blocks."""
    if data[:1] == b"\xe9":
        raise FlashError("wrong chip: this is an ESP image (.bin), the board is an %s and "
                         "takes a .uf2" % chip.upper())
    if len(data) == 0 or len(data) % UF2_BLOCK:
        raise FlashError("not a UF2 firmware image (%d bytes, not whole 512-byte blocks)"
                         % len(data))
    count = len(data) // UF2_BLOCK
    want = UF2_FAMILY[chip]
    for i in range(count):
        b = i * UF2_BLOCK
        m0, m1, flags, addr, size, seq, total, family = struct.unpack_from("<8I", data, b)
        (end,) = struct.unpack_from("<I", data, b + UF2_BLOCK - 4)
        if (m0, m1, end) != (UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END):
            raise FlashError("not a UF2 firmware image (block %d has no UF2 magic)" % i)
        if not flags & UF2_FLAG_FAMILY or family != want:
            raise FlashError("wrong chip: the UF2 is for %s, the board is an %s"
                             % (family_name(family) if flags & UF2_FLAG_FAMILY
                                else "no family", chip.upper()))
        if seq != i or total != count or size > 476:
            raise FlashError("broken UF2 image (block %d of %d says %d of %d)"
                             % (i, count, seq, total))
        if not RP2040_FLASH[0] <= addr < RP2040_FLASH[1]:
            raise FlashError("UF2 block %d targets 0x%08x, outside the RP2040's flash" % (i, addr))
    return count


def rp2_drives():
    """Mounted RPI-RP2 boot drives: folders with an INFO_UF2.TXT naming RPI-RP2."""
    found = []
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in mounts:
        parts = line.split()
        if len(parts) > 1:
            point = parts[1].replace("\\040", " ")
            if drive_board_id(point) == "RPI-RP2":
                found.append(point)
    return found


def drive_board_id(folder):
    """'RPI-RP2' (or what INFO_UF2.TXT names) for a UF2 boot drive, else None."""
    try:
        text = (Path(folder) / "INFO_UF2.TXT").read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Board-ID:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def copy_uf2(data, folder, progress=True):
    """Write the image onto the drive in one file, flushed to the device."""
    from tqdm import tqdm

    dest = Path(folder) / "firmware.uf2"
    step = 64 * UF2_BLOCK
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except PermissionError:
        raise FlashError("no permission to write to %s (mount the drive for your user, or "
                         "run as root)" % folder) from None
    with tqdm(total=len(data), unit="B", unit_scale=True, desc="flash", file=sys.stderr,
              disable=not progress) as bar:
        try:
            for off in range(0, len(data), step):
                os.write(fd, data[off : off + step])
                bar.update(min(step, len(data) - off))
            os.fsync(fd)
        except OSError as e:
            # the boot ROM reboots into the new firmware when the last block
            # lands, and the drive can vanish before the close
            if off + step < len(data):
                raise FlashError("the RPI-RP2 drive went away during the copy: %s" % e) from None
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
    return dest


def bootloader_over_repl(port):
    """Ask MicroPython on `port` to enter the RP2040 boot ROM (BOOTSEL)."""
    from mpremote.transport import TransportError

    from host_tools import serialport

    t = serialport.transport(port)
    try:
        t.enter_raw_repl(soft_reset=False, timeout_overall=4)
        t.exec_raw_no_follow("import machine\nmachine.bootloader()")
    except TransportError as e:
        raise FlashError("no MicroPython REPL on %s to ask for BOOTSEL (%s): hold BOOTSEL "
                         "while plugging the board in, then give the RPI-RP2 drive's folder "
                         "as --port" % (port, e)) from None
    finally:
        try:
            t.close()
        except OSError:
            pass


def flash_rp2(board, port, data, progress=True, wait_s=15):
    blocks = check_uf2(data, "rp2040")
    if port and os.path.isdir(port):
        board_id = drive_board_id(port)
        if board_id is None:
            raise FlashError("%s is not a UF2 boot drive (no INFO_UF2.TXT); the RP2040 shows "
                             "an RPI-RP2 drive in BOOTSEL mode" % port)
        if board_id != "RPI-RP2":
            raise FlashError("wrong chip: the drive at %s is %s, board %s is an RP2040 "
                             "(RPI-RP2)" % (port, board_id, board))
        drive = port
    elif port:
        from host_tools import serialport

        try:
            serialport.check(port)
        except serialport.PortError as e:
            raise FlashError(str(e)) from None
        before = set(rp2_drives())
        bootloader_over_repl(port)
        deadline = time.monotonic() + wait_s
        drive = None
        while drive is None and time.monotonic() < deadline:
            time.sleep(0.5)
            new = [d for d in rp2_drives() if d not in before] or rp2_drives()
            drive = new[0] if new else None
        if drive is None:
            raise FlashError("the board is in BOOTSEL mode, but no RPI-RP2 drive got mounted "
                             "within %d s: mount it (e.g. udisksctl mount -b /dev/sdX1) and "
                             "give its folder as --port" % wait_s)
    else:
        drives = rp2_drives()
        if not drives:
            raise FlashError("no RPI-RP2 drive mounted: hold BOOTSEL while plugging the board "
                             "in (or give its serial port as --port to ask MicroPython)")
        drive = drives[0]
    copy_uf2(data, drive, progress)
    return "%d UF2 blocks (%d bytes) copied to %s; the RP2040 reboots into the new firmware" % (
        blocks, blocks * 256, drive)


# -- ESP32 family (esptool) -------------------------------------------------------------------


def esp_rom(chip):
    from esptool.targets import CHIP_DEFS

    return CHIP_DEFS[chip]


def esp_image_chip(data, at):
    """The chip an ESP image at offset `at` of `data` is built for (esptool's
    CHIP_NAME, from the chip id in its extended header), or None if no image
    magic is there."""
    from esptool.targets import ROM_LIST

    if len(data) < at + 24 or data[at] != 0xE9:
        return None
    (chip_id,) = struct.unpack_from("<H", data, at + 12)
    for rom in ROM_LIST:
        if getattr(rom, "IMAGE_CHIP_ID", None) == chip_id and rom.CHIP_NAME != "ESP8266":
            return rom.CHIP_NAME
    return "an unknown chip (image chip id %d)" % chip_id


def check_esp_image(data, chip):
    """Where to write `data` for `chip` ('esp32', ...): the chip's bootloader
    offset for an image that starts with the bootloader, 0 for a whole-flash
    image (padding, then the bootloader at that offset). Raises FlashError."""
    rom = esp_rom(chip)
    boot = rom.BOOTLOADER_FLASH_OFFSET
    if data[:4] == struct.pack("<I", UF2_MAGIC_START0):
        raise FlashError("this is a UF2 image; board %s takes an ESP32 .bin (esptool writes it)"
                         % chip)
    for offset, at in ((boot, 0), (0, boot)):
        found = esp_image_chip(data, at)
        if found is None:
            continue
        if found != rom.CHIP_NAME:
            raise FlashError("wrong chip: the image is built for %s, the board is an %s"
                             % (found, rom.CHIP_NAME))
        from esptool.bin_image import LoadFirmwareImage
        from esptool.util import FatalError

        try:
            LoadFirmwareImage(chip, data[at:])
        except (FatalError, struct.error, ValueError) as e:
            raise FlashError("broken %s image: %s" % (rom.CHIP_NAME, e)) from None
        return offset
    raise FlashError("not an ESP firmware image (no image magic 0xE9 at 0 or 0x%x); download "
                     "MicroPython's .bin for your %s board" % (boot, rom.CHIP_NAME))


def tqdm_logger(progress):
    """esptool's logger (its TemplateLogger interface), with its progress bar
    drawn by tqdm and its messages on stderr."""
    from esptool.logger import TemplateLogger
    from tqdm import tqdm

    class TqdmLogger(TemplateLogger):
        bar = None

        def print(self, *args, **kwargs):
            kwargs.pop("file", None)
            print(*args, file=sys.stderr, **kwargs)

        def note(self, message):
            print("note: " + message, file=sys.stderr)

        def warning(self, message):
            print("warning: " + message, file=sys.stderr)

        def error(self, message):
            print("error: " + message, file=sys.stderr)

        def stage(self, finish=False):
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
            if self.bar is None or self.bar.total != total_iters:
                if self.bar is not None:
                    self.bar.close()
                self.bar = tqdm(total=total_iters, desc="flash", unit="block", file=sys.stderr,
                                disable=not progress)
            self.bar.update(cur_iter - self.bar.n)
            if cur_iter >= total_iters:
                self.bar.close()
                self.bar = None

        def set_verbosity(self, verbosity):
            pass

    return TqdmLogger()


def flash_esp(board, chip, port, data, path, progress=True, erase=False, attempts=7):
    offset = check_esp_image(data, chip)
    from host_tools import serialport

    try:
        serialport.check(port)
    except serialport.PortError as e:
        raise FlashError(str(e)) from None
    from esptool import cmds
    from esptool.logger import log
    from esptool.util import FatalError

    log.set_logger(tqdm_logger(progress))
    try:
        esp = cmds.detect_chip(port, connect_attempts=attempts)
    except (FatalError, OSError) as e:
        raise FlashError("no ESP bootloader answered on %s (%s): hold BOOT, press and release "
                         "EN/RST, release BOOT, then run flash again" % (port, e)) from None
    try:
        if esp.CHIP_NAME != esp_rom(chip).CHIP_NAME:
            raise FlashError("wrong chip: %s answers on %s, board %s is an %s"
                             % (esp.CHIP_NAME, port, board, esp_rom(chip).CHIP_NAME))
        esp = cmds.run_stub(esp)
        cmds.attach_flash(esp)
        if erase:
            cmds.erase_flash(esp)
        cmds.write_flash(esp, [(offset, path)])
        cmds.reset_chip(esp, "hard-reset")
    except FatalError as e:
        raise FlashError("esptool: %s" % e) from None
    finally:
        esp._port.close()
    return "%s (%d bytes) written at 0x%x on the %s at %s; it reboots into it" % (
        path, len(data), offset, esp.CHIP_NAME, port)


def run(board, port, firmware, progress=True, erase=False):
    from host_tools import build

    try:
        facts = build.board_facts(board)
    except ValueError as e:
        print("flash: " + str(e), file=sys.stderr)
        return 2
    chip = facts.get("FLASH_CHIP")
    if chip is None:
        print("flash: board %s runs on the host (port %s); there is nothing to flash"
              % (board, facts["PORT"]), file=sys.stderr)
        return 2
    try:
        data = Path(firmware).read_bytes()
    except IsADirectoryError:
        print("flash: %s is a folder, not a firmware file" % firmware, file=sys.stderr)
        return 2
    except FileNotFoundError:
        print("flash: no firmware file %s" % firmware, file=sys.stderr)
        return 2
    except PermissionError:
        print("flash: no permission to read %s" % firmware, file=sys.stderr)
        return 2
    try:
        if chip == "rp2040":
            done = flash_rp2(board, port, data, progress)
        else:
            if not port:
                raise FlashError("--port is needed for %s (the board's serial port)" % board)
            done = flash_esp(board, chip, port, data, firmware, progress, erase)
    except FlashError as e:
        print("flash: " + str(e), file=sys.stderr)
        return 1
    print("flash: " + done)
    return 0
