"""32-bit heap figures (docs/emulator.md): the firmware on the stack port's
32-bit Linux program (host32: a board's object sizes, code loaded from
-march=x86 .mpy into the heap, nothing frozen) and on the emulated RP2040
(armv6m .mpy from the flash file table into its heap).

Printed: free heap after start-up (stack, TCP with 4 TCBs, HTTP with 4
client slots); peak live heap during the workload (the page, 1 MB from the
stack, 4 concurrent connections: bench/emu_workload.py), from the port's
record of the fullest heap after any collection; the smallest heap at which
the workload still passes (bisection, 4 KB steps); beside the budgets of an
RP2040 (192 KB) and an ESP32 without PSRAM (~110 KB)."""

import re

from bench import emu_workload
from host_tools import emu

RP2040_HEAP = 192 * 1024
ESP32_HEAP = 110 * 1024
STEP = 4 * 1024


def host32_run(heap):
    """(passed, startup used, startup free, peak live) for one fresh run."""
    try:
        with emu.Session("host32_tap", heap) as s:
            ok = emu_workload.run(s)
    except emu.EmuError:
        return False, None, None, None
    out = s.output
    m = re.search(r"HEAP used=(\d+) free=(\d+)", out)
    p = re.search(r"HEAPPEAK live=(\d+)", out)
    return (ok, int(m.group(1)) if m else None, int(m.group(2)) if m else None,
            int(p.group(1)) if p else None)


def smallest(lo, hi):
    """Smallest heap in [lo, hi] (STEP granularity) where the workload passes;
    hi is known to pass."""
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        if host32_run(mid)[0]:
            hi = mid
        else:
            lo = mid
    return hi


def rp2040_startup():
    with emu.Session("emu_rp2040_w5500", RP2040_HEAP) as s:
        ok = emu_workload.run(s, big=256 * 1024, each=32 * 1024)
        text = s.target.console.take().decode(errors="replace")
    m = re.search(r"HEAP used=(\d+) free=(\d+)", text)
    return ok, (int(m.group(1)), int(m.group(2))) if m else (None, None)


def main():
    ok, used, free, peak = host32_run(RP2040_HEAP)
    print("   host32 (32-bit, code as x86 .mpy in the heap), heap %d B:" % RP2040_HEAP)
    print("     after start-up: used %s B, free %s B" % (used, free))
    print("     workload (page, 1 MB, 4 concurrent): %s; peak live heap %s B"
          % ("passed" if ok else "FAILED", peak))
    if ok:
        low = smallest(used // STEP * STEP, RP2040_HEAP)  # nothing below start-up can pass
        print("     smallest heap that passes: %d B (%.0f KB)" % (low, low / 1024))
        print("     budgets: RP2040 %d KB -> %s; ESP32 without PSRAM ~%d KB -> %s"
              % (RP2040_HEAP // 1024, "fits" if low <= RP2040_HEAP else "does not fit",
                 ESP32_HEAP // 1024, "fits" if low <= ESP32_HEAP else "does not fit"))
    ok2, (u2, f2) = rp2040_startup()
    print("   emulated RP2040 (armv6m .mpy from flash into the heap), heap %d B:" % RP2040_HEAP)
    print("     after start-up: used %s B, free %s B; workload (page, 256 KB, 4 x 32 KB): %s"
          % (u2, f2, "passed" if ok2 else "FAILED"))


if __name__ == "__main__":
    main()
