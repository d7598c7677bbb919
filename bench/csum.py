"""Checksum and copy kernels inside the MicroPython unix port: viper vs the
plain-Python twin (the baseline), 1460-byte buffers."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure():
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    out = subprocess.run([str(Path(sys.executable).parent / "micropython"), "-X", "heapsize=64wK",
                          str(ROOT / "bench" / "mp_csum.py")], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    res = {}
    for line in out.splitlines():
        kernel, variant, mbs = line.split()
        res[(kernel, variant)] = float(mbs)
    return res


def main():
    r = measure()
    print("   %-22s %12s %12s %8s" % ("kernel (1460 B)", "viper MB/s", "plain MB/s", "speedup"))
    for k in ("csum", "copy"):
        v, p = r[(k, "viper")], r[(k, "plain")]
        print("   %-22s %12.1f %12.1f %7.0fx" % (k, v, p, v / p))
    print("   csum viper, odd offset (ptr8 path): %.1f MB/s" % r[("csum", "viper_unaligned")])
    print("   copy by memoryview slice (allocates 2 objects): %.1f MB/s" % r[("copy", "slice")])


if __name__ == "__main__":
    main()
