"""Coverage-guided fuzzing with atheris (libFuzzer), bounded in time.

    python tests/fuzz/run.py [--seconds 60] [--targets wire,iface,http]

Each target (tests/fuzz/targets.py) runs in its own process for --seconds,
from seeds built here with scapy; its corpus grows in build/fuzz/<target>/.
Then the corpus is replayed under coverage.py and the line coverage of the
stack's modules is printed beside libFuzzer's own figures (runs, edges,
features, corpus size). A crash (an exception out of a target: a parser that
raised, a frame not counted, a stack that stopped answering) leaves the input
in build/fuzz/crash-<target>-*, prints its traceback, and the run exits 1.

    python tests/fuzz/run.py --one TARGET [libFuzzer args]   (what each process runs)
    python tests/fuzz/run.py --replay TARGET FILE...         (one input, no fuzzer)
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)


def _one(target, argv):
    import atheris

    with atheris.instrument_imports(include=["stack", "firmware"]):
        import targets

        import firmware.http  # noqa: F401
        import stack.iface  # noqa: F401
        import stack.tcp  # noqa: F401
        import stack.wire.dhcp4  # noqa: F401
        import stack.wire.dns  # noqa: F401
    fn = targets.TARGETS[target][0]
    atheris.Setup([sys.argv[0]] + argv, fn)
    atheris.Fuzz()


def _replay(target, paths):
    import targets

    fn = targets.TARGETS[target][0]
    for p in paths:
        files = [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
        for f in files:
            with open(f, "rb") as fh:
                fn(fh.read())


def _seed_dir(target, base):
    import targets

    d = os.path.join(base, target + "-seeds")
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(targets.TARGETS[target][1]()):
        with open(os.path.join(d, "seed%02d" % i), "wb") as fh:
            fh.write(s)
    return d


def _stats(out):
    """libFuzzer's last progress line and final stats, as a dict."""
    got = {}
    for m in re.finditer(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", out):
        got.update(runs=int(m.group(1)), edges=int(m.group(2)), features=int(m.group(3)),
                   corpus=int(m.group(4)))
    m = re.search(r"stat::number_of_executed_units: (\d+)", out)
    if m:
        got["runs"] = int(m.group(1))
    return got


def _coverage(target, dirs):
    """Line coverage of stack/ and firmware/http.py when the corpus is replayed."""
    data = os.path.join(ROOT, "build", "fuzz", ".coverage-" + target)
    cmd = [sys.executable, "-m", "coverage", "run", "--data-file=" + data, "--branch",
           "--source=" + os.path.join(ROOT, "stack") + "," + os.path.join(ROOT, "firmware"),
           os.path.abspath(__file__), "--replay", target] + dirs
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    rep = subprocess.run([sys.executable, "-m", "coverage", "report", "--data-file=" + data,
                          "--skip-empty"], cwd=ROOT, capture_output=True, text=True)
    rows = []
    for line in rep.stdout.splitlines():
        w = line.split()
        if w and (w[0].startswith("stack") or w[0].startswith("firmware")) and w[-1].endswith("%"):
            if int(w[1]) and int(w[-1][:-1]) > 0:
                rows.append((w[0], w[-1]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60, help="per target")
    ap.add_argument("--targets", default="wire,iface,http")
    ap.add_argument("--one")
    ap.add_argument("--replay")
    args, rest = ap.parse_known_args()
    if args.one:
        return _one(args.one, rest)
    if args.replay:
        return _replay(args.replay, rest)
    base = os.path.join(ROOT, "build", "fuzz")
    os.makedirs(base, exist_ok=True)
    failed = []
    for target in args.targets.split(","):
        corpus = os.path.join(base, target)
        os.makedirs(corpus, exist_ok=True)
        seeds = _seed_dir(target, base)
        cmd = [sys.executable, os.path.abspath(__file__), "--one", target,
               "-max_total_time=%d" % args.seconds, "-print_final_stats=1", "-timeout=20",
               "-rss_limit_mb=2048", "-artifact_prefix=" + os.path.join(base, "crash-" + target
                                                                         + "-"),
               corpus, seeds]
        t0 = time.monotonic()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           timeout=args.seconds + 300)
        took = time.monotonic() - t0
        st = _stats(r.stderr)
        crash = r.returncode != 0
        print("== %s: %d s, %s runs, %s edges, %s features, corpus %s inputs: %s"
              % (target, took, st.get("runs", "?"), st.get("edges", "?"),
                 st.get("features", "?"), st.get("corpus", "?"),
                 "CRASH" if crash else "no crash"))
        if crash:
            failed.append(target)
            tail = r.stderr[r.stderr.find("=== Uncaught"):] if "=== Uncaught" in r.stderr \
                else r.stderr[-3000:]
            print(tail[:4000])
        for name, pct in _coverage(target, [corpus, seeds]):
            print("   %-32s %s lines+branches" % (name, pct))
    if failed:
        print("fuzz: crashes in %s (inputs in build/fuzz/crash-*)" % ", ".join(failed))
        return 1
    print("fuzz: no crash in %s" % args.targets)
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
