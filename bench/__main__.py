"""python -m bench [NAME ...] [--option ...]: run the benchmarks (all by
default), each printing its numbers beside its baseline. Options after the
names go to each named benchmark, e.g.

    python -m bench callgrind            instructions per segment / request (~20 s)
    python -m bench calls                stack function calls per segment / request (~1 s)
    python -m bench compare --quick      the side-by-side table, one short round
"""

import importlib
import inspect
import sys

ALL = ("csum", "heap", "spi_bytes", "http", "heap32", "cycles", "calls", "callgrind", "compare")


def main(argv):
    first_opt = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    names = argv[:first_opt] or list(ALL)
    opts = argv[first_opt:]
    status = 0
    for name in names:
        try:
            mod = importlib.import_module("bench." + name)
        except ImportError as e:
            print("== %s: not available (%s)" % (name, e))
            continue
        print("== %s" % name, flush=True)
        try:
            if inspect.signature(mod.main).parameters:
                rc = mod.main(opts)
            elif opts:
                print("   (%s takes no options)" % name)
                rc = mod.main()
            else:
                rc = mod.main()
            if rc:
                status = 1
        except Exception as e:  # one broken benchmark must not hide the others
            print("   FAILED: %r" % (e,))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
