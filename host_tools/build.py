"""Compile the stack (and firmware) to .mpy for a target architecture with mpy-cross."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stack",)


def mpy_cross():
    return str(Path(sys.executable).parent / "mpy-cross")


def sources():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def compile_one(src, out, arch):
    """Compile src to out; returns (returncode, stderr)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([mpy_cross(), "-march=" + arch, "-o", str(out), str(src)],
                       capture_output=True, text=True)
    return r.returncode, r.stderr


def run(arch, out_dir):
    out_root = Path(out_dir) / arch
    failed = 0
    total = 0
    for src in sources():
        rel = src.relative_to(ROOT)
        rc, err = compile_one(src, out_root / rel.with_suffix(".mpy"), arch)
        total += 1
        if rc:
            failed += 1
            print("FAIL %s\n%s" % (rel, err), file=sys.stderr)
    print("%d of %d files compiled for %s into %s" % (total - failed, total, arch, out_root))
    return 1 if failed else 0
