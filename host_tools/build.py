"""Compile the stack, boards and firmware to .mpy with mpy-cross.

A board runs .mpy files (copied to /lib) or frozen modules: either way it never
compiles the stack from source, which would need far more heap than the code
itself. The simulator does the same: it runs a build for the host's own
architecture (x64), so its 64 KB heap holds what a board's would.
"""

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stack", "boards", "firmware")
# The manifest is read by a firmware build, never imported.
KEEP_SOURCE = ("firmware/manifest.py",)
HOST_ARCH = {"x86_64": "x64", "i686": "x86", "armv7l": "armv7m"}


def host_arch():
    """mpy-cross -march for the unix port on this machine, or None (run source)."""
    return HOST_ARCH.get(platform.machine())


def mpy_cross():
    return str(Path(sys.executable).parent / "mpy-cross")


def sources(packages=("stack",)):
    for pkg in packages:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def compile_one(src, out, arch):
    """Compile src to out; returns (returncode, stderr). The file appears whole
    (written aside, then renamed), so a simulator starting meanwhile never
    imports half of one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(".%s.%d.tmp" % (out.name, os.getpid()))
    r = subprocess.run([mpy_cross(), "-march=" + arch, "-o", str(tmp), str(src)],
                       capture_output=True, text=True)
    if r.returncode == 0:
        os.replace(tmp, out)
    elif tmp.exists():
        tmp.unlink()
    return r.returncode, r.stderr


def build_tree(arch, out_dir, packages=PACKAGES):
    """Compile every package into out_dir/arch (only files newer than their .mpy).
    Returns (out_root, failures as [(relative path, stderr)])."""
    out_root = Path(out_dir) / arch
    failures = []
    for src in sources(packages):
        rel = src.relative_to(ROOT)
        if str(rel) in KEEP_SOURCE:
            continue
        out = out_root / rel.with_suffix(".mpy")
        if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
            continue
        rc, err = compile_one(src, out, arch)
        if rc:
            failures.append((str(rel), err))
    # A .mpy whose source is gone must not shadow anything.
    for mpy in out_root.rglob("*.mpy"):
        if not (ROOT / mpy.relative_to(out_root).with_suffix(".py")).exists():
            mpy.unlink()
    return out_root, failures


def run(arch, out_dir):
    out_root, failures = build_tree(arch, out_dir)
    for rel, err in failures:
        print("FAIL %s\n%s" % (rel, err), file=sys.stderr)
    total = len(list(out_root.rglob("*.mpy")))
    print("%d files built for %s in %s (%d failed)" % (total, arch, out_root, len(failures)))
    return 1 if failures else 0
