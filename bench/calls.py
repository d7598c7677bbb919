"""Python-level view of the same workloads as bench/callgrind.py: how many
stack functions run per full-size segment received, per segment sent and per
keep-alive request. CPython runs bench/tcp_work.py (the stack's plain-Python
twins stand in for its viper kernels, one call each as on a board) with
sys.setprofile switched on for the measured rounds only; calls made by the
scripted peer and the in-memory driver (and everything they call) are not
counted, nor stack/clock.py (ticks_ms/ticks_diff/ticks_add are builtins of
MicroPython's time module; the CPython stand-ins would add Python calls that
a board does not make). Exact and the same on every run.

    python -m bench calls [--rounds N] [--top K]
"""

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROUNDS = 200
UNITS = (
    ("rx", "per full-size segment received"),
    ("tx", "per full-size segment sent"),
    ("http", "per keep-alive request (GET /)"),
    ("conn", "per new connection (ab's GET /)"),
    ("echo", "per ping (one main-loop turn)"),
)
# the peer's and the fake driver's own functions: not the stack's work
_PEER_FUNCS = ("Peer.", "MemDriver.", "<lambda>")


def count(mode, rounds=ROUNDS):
    """(Counter of stack functions, Counter of firmware functions, result)."""
    from bench import tcp_work

    stack_dir = str(ROOT / "stack") + "/"
    fw_dir = str(ROOT / "firmware") + "/"
    work_file = tcp_work.__file__
    stack_calls = Counter()
    fw_calls = Counter()
    peer_frames = set()

    def prof(frame, event, arg):
        if event == "call":
            co = frame.f_code
            fn = co.co_filename
            if peer_frames:
                # inside the peer or the fake driver: a peer call made from it
                # or anything it calls (mem.copy, csum) is not the stack's
                if fn == work_file and co.co_qualname.startswith(_PEER_FUNCS):
                    peer_frames.add(frame)
                return
            if fn == work_file:
                if co.co_qualname.startswith(_PEER_FUNCS):
                    peer_frames.add(frame)
            elif fn.startswith(stack_dir):
                if fn.endswith("/clock.py"):
                    return  # ticks_*: MicroPython's own builtins; CPython's stand-in
                stack_calls[fn[len(stack_dir):-3].replace("/", ".") + "." + co.co_qualname] += 1
            elif fn.startswith(fw_dir):
                fw_calls["firmware." + fn[len(fw_dir):-3] + "." + co.co_qualname] += 1
        elif event == "return" and peer_frames:
            peer_frames.discard(frame)

    def mark(on, peer):
        sys.setprofile(prof if on else None)

    res = tcp_work.run(mode, rounds, mark=mark)
    return stack_calls, fw_calls, res


def main(argv=()):
    rounds = ROUNDS
    top = 0
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--rounds":
            rounds = int(args.pop(0))
        elif a == "--top":
            top = int(args.pop(0))
        else:
            raise SystemExit("calls: unknown argument " + a)
    for mode, unit in UNITS:
        sc, fc, res = count(mode, rounds)
        n = res["rounds"]
        line = "   %-4s stack function calls %-32s %7.1f" % (mode, unit, sum(sc.values()) / n)
        if fc:
            line += "  (+ %.1f in firmware/)" % (sum(fc.values()) / n)
        print(line, flush=True)
        for name, k in (sc + fc).most_common(top):
            print("        %7.2f  %s" % (k / n, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
