"""Heap used by the firmware after start-up on each simulated board, beside the
budget it must fit (a 64 KB heap on a 32-bit board = -X heapsize=64wK here).

Read from the firmware's own `HEAP used=... free=...` line. On x86-64 every
object pointer is 8 bytes, so these numbers overstate a 32-bit board's use.
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

    def read():
        for line in p.stderr:
            m = re.search(r"HEAP used=(\d+) free=(\d+)", line)
            if m:
                found.append((int(m.group(1)), int(m.group(2))))
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
    print("   %-14s %10s %10s %18s" % ("board", "used B", "free B", "budget (64wK)"))
    for board in BOARDS:
        if not (ROOT / "boards" / (board + ".py")).exists():
            continue
        r = heap_line(board)
        if r is None:
            print("   %-14s   did not start" % board)
            continue
        used, free = r
        print("   %-14s %10d %10d %17d%%" % (board, used, free, 100 * used // (used + free)))


if __name__ == "__main__":
    main()
