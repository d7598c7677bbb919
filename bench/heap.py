"""Heap used by the firmware after start-up on each simulated board, beside the
budget it must fit: a 64 KB data heap on a 32-bit board (64wK here).

Read from the launcher's `sim: heap 64wK for data + N B for code and simulated
chips` line (N: what a board keeps in flash or in the chip) and the firmware's
`HEAP used=... free=...` line; data = used - N. On x86-64 every object pointer
is 8 bytes, so these numbers overstate a 32-bit board's use.
"""

import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ("unix_tap", "sim_enc28j60", "sim_w5500")


def heap_line(board, timeout_s=30):
    cmd = [sys.executable, "-m", "host_tools", "sim", "--board", board, "--netns", "benchheap",
           "--no-forward"]
    p = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    found = []
    base = [0]

    def read():
        for line in p.stderr:
            b = re.search(r"for data \+ (\d+) B for code", line)
            if b:
                base[0] = int(b.group(1))
            m = re.search(r"HEAP used=(\d+) free=(\d+)", line)
            if m:
                found.append((base[0], int(m.group(1)), int(m.group(2))))
                break

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout_s)
    p.terminate()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
    return found[0] if found else None


def main():
    from host_tools.netns import can_create

    ok, why = can_create()
    if not ok:
        print("   skipped: " + why)
        return
    budget = 64 * 1024 * 2  # 64wK on x86-64
    print("   %-14s %12s %12s %10s %14s" % ("board", "code+chip B", "data B", "free B",
                                             "data/64wK"))
    for board in BOARDS:
        if not (ROOT / "boards" / (board + ".py")).exists():
            continue
        r = heap_line(board)
        if r is None:
            print("   %-14s   did not start" % board)
            continue
        base, used, free = r
        data = used - base
        print("   %-14s %12d %12d %10d %13d%%" % (board, base, data, free, 100 * data // budget))


if __name__ == "__main__":
    main()
