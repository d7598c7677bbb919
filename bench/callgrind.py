"""Instructions per full-size segment received, per full-size segment sent and
per keep-alive HTTP request: `valgrind --tool=callgrind` counts the
instructions of the MicroPython unix port running bench/tcp_work.py (the real
stack and firmware/http.py against a scripted peer, fake clock, no timing).

Method (bench/README.md): start-up cancels out by differencing two workload
sizes, I(N2) - I(N1) over N2 - N1 rounds; the scripted peer and the
in-memory driver are measured the same way without the stack (tcp_work.py
peer-MODE) and subtracted. The code runs from the same .mpy build as
`make sim`, with the sim's heap (64wK data + the firmware's code).

    python -m bench callgrind [--rounds N1,N2] [--keep] [--top K]

One line per figure; the ratio is against the first figures recorded in
bench/baselines/first_numbers.json. --keep leaves the callgrind profiles in
build/bench/callgrind/MODE-N.out (callgrind_annotate reads them). --top K
also prints, per figure, the K C functions of the MicroPython VM with the
most instructions per unit (the N2 profile minus the N1 profile, so start-up
is gone; "???" is viper/native machine code).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "build" / "bench" / "callgrind"
FIRST = ROOT / "bench" / "baselines" / "first_numbers.json"
ROUNDS = (50, 250)
EXTRA_HEAP = 96 * 1024  # the bench's own peer buffers and captured frames
FIGURES = (
    # mode, key in first_numbers.json, what one unit is
    ("rx", "instr_per_rx_segment", "per full-size segment received"),
    ("tx", "instr_per_tx_segment", "per full-size segment sent"),
    ("http", "instr_per_request", "per keep-alive request (GET /)"),
    ("conn", "instr_per_connection", "per new connection (ab's GET /)"),
    ("echo", "instr_per_ping", "per ping (one main-loop turn)"),
)
_REFS = re.compile(r"(?:I\s+refs|Collected)\s*:\s*([\d,]+)")


def micropython():
    return str(Path(sys.executable).parent / "micropython")


def setup():
    """(env, heap) as `make sim` runs the firmware: the .mpy build on
    MICROPYPATH and a 64wK data heap plus the code's own size."""
    from host_tools import build, sim

    arch = build.host_arch()
    if arch is None:
        path = str(ROOT)
    else:
        out_root, failures = build.build_tree(arch, ROOT / "build")
        if failures:
            raise RuntimeError("mpy-cross failed on %s" % failures[0][0])
        path = str(out_root)
    env = dict(os.environ, MICROPYPATH=path)
    base = sim.measure_base("unix_tap", env)
    return env, str(sim.heap_bytes(sim.DEFAULT_HEAP) + base + EXTRA_HEAP)


def count(env, heap, mode, rounds, profile=None):
    """(instructions, the workload's RESULT dict) of one run under callgrind."""
    out = profile or "/dev/null"
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
           micropython(), "-X", "heapsize=" + heap, str(ROOT / "bench" / "tcp_work.py"), mode,
           str(rounds)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    m = _REFS.search(r.stderr)
    res = parse_result(r.stdout)
    if r.returncode != 0 or m is None or res is None:
        tail = (r.stdout + r.stderr).strip().splitlines()[-6:]
        raise RuntimeError("%s %d failed:\n      %s" % (mode, rounds, "\n      ".join(tail)))
    return int(m.group(1).replace(",", "")), res


def parse_result(text):
    """The workload's 'RESULT k=v ...' line as a dict (numbers as int), or None."""
    for line in text.splitlines():
        if line.startswith("RESULT "):
            out = {}
            for item in line.split()[1:]:
                k, _, v = item.partition("=")
                out[k] = int(v) if v.lstrip("-").isdigit() else v
            return out
    return None


def measure(rounds=ROUNDS, keep=False, jobs=2):
    """{mode: {'instr': net per unit, 'gross': ..., 'peer': ..., 'result': {...}}}."""
    env, heap = setup()
    n1, n2 = rounds
    if keep:
        OUT.mkdir(parents=True, exist_ok=True)
    runs = []
    for mode, _, _ in FIGURES:
        for m in (mode, "peer-" + mode):
            for n in (n1, n2):
                prof = str(OUT / ("%s-%d.out" % (m, n))) if keep else None
                runs.append((m, n, prof))
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        got = list(ex.map(lambda a: count(env, heap, *a), runs))
    by = {(m, n): g for (m, n, _), g in zip(runs, got)}
    out = {}
    for mode, _, _ in FIGURES:
        (i1, _), (i2, res) = by[(mode, n1)], by[(mode, n2)]
        (p1, _), (p2, pres) = by[("peer-" + mode, n1)], by[("peer-" + mode, n2)]
        d = n2 - n1
        gross = (i2 - i1) / d
        peer = (p2 - p1) / d
        out[mode] = {"instr": gross - peer, "gross": gross, "peer": peer, "result": res,
                     "peer_result": pres, "rounds": rounds}
    return out


_FN_LINE = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*?)(?:\s+\[.*\])?$")


def functions(profile):
    """{function: exclusive instructions} from callgrind_annotate."""
    r = subprocess.run(["callgrind_annotate", "--threshold=100", profile], capture_output=True,
                       text=True, timeout=120)
    out = {}
    for line in r.stdout.splitlines():
        m = _FN_LINE.match(line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            name = re.sub(r"^.*/", "", m.group(2))  # file path -> file name
            out[name] = out.get(name, 0) + int(m.group(1).replace(",", ""))
    return out


def top_functions(mode, rounds, k):
    """[(instructions per unit, function)] of the k costliest, N2 minus N1."""
    n1, n2 = rounds
    a = functions(str(OUT / ("%s-%d.out" % (mode, n1))))
    b = functions(str(OUT / ("%s-%d.out" % (mode, n2))))
    d = [((b.get(f, 0) - a.get(f, 0)) / (n2 - n1), f) for f in set(a) | set(b)]
    d.sort(reverse=True)
    return d[:k]


def first_numbers():
    try:
        return json.loads(FIRST.read_text())
    except (OSError, ValueError):
        return {}


def main(argv=()):
    if not shutil.which("valgrind"):
        print("   callgrind: valgrind not installed (make setup installs it)")
        return 1
    rounds = ROUNDS
    keep = False
    top = 0
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--rounds":
            rounds = tuple(int(x) for x in args.pop(0).split(","))
        elif a == "--keep":
            keep = True
        elif a == "--top":
            top = int(args.pop(0))
            keep = True
        else:
            raise SystemExit("callgrind: unknown argument " + a)
    r = measure(rounds, keep)
    first = first_numbers().get("callgrind", {})
    for mode, key, unit in FIGURES:
        f = r[mode]
        res = f["result"]
        extra = ""
        if mode == "rx":
            extra = "%.2f ACK frames out per segment" % (res["acks_out"] / res["rounds"])
        elif mode == "tx":
            extra = "%.2f ACK frames out per segment" % (res["acks_out"] / res["rounds"])
        elif mode == "http":
            extra = "%d B response in one segment, %.2f polls" % (res["response_bytes"],
                                                                   res["polls"] / res["rounds"])
        elif mode == "conn":
            extra = "%d B response, handshake to TIME-WAIT" % res["response_bytes"]
        else:
            extra = "ICMP echo and reply, then UDP services, HTTP step, poll_at"
        base = first.get(key)
        ratio = ""
        if base:
            ratio = "  %.2fx of the first %s" % (f["instr"] / base, "{:,}".format(base))
            if mode == "rx":
                ratio += " (issue 7 goal <= 0.50x)"
        print("   %-4s instructions %-32s %9s%s  [peer+driver %s subtracted; %s]"
              % (mode, unit, "{:,.0f}".format(f["instr"]), ratio,
                 "{:,.0f}".format(f["peer"]), extra), flush=True)
        if top:
            for per, fn in top_functions(mode, rounds, top):
                print("        %9s  %s" % ("{:,.0f}".format(per), fn))
    if keep:
        print("   profiles: %s/*.out (callgrind_annotate FILE)" % OUT.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
