"""python -m bench [NAME ...]: run the benchmarks (all by default), each printing
its numbers beside its baseline."""

import importlib
import sys

ALL = ("csum", "heap", "spi_bytes", "http", "heap32", "cycles")


def main(argv):
    names = argv or ALL
    status = 0
    for name in names:
        try:
            mod = importlib.import_module("bench." + name)
        except ImportError as e:
            print("== %s: not available (%s)" % (name, e))
            continue
        print("== %s" % name, flush=True)
        try:
            mod.main()
        except Exception as e:  # one broken benchmark must not hide the others
            print("   FAILED: %r" % (e,))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
