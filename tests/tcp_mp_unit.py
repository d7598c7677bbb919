# Runs inside the MicroPython unix port (tests/test_tcp_unixport.py starts
# it): the CPython packet-trace tests of the TCP engine, unchanged, on the
# real MicroPython VM. A tiny stand-in for pytest.raises is all they need.
import sys

sys.path.append(sys.path[0] if sys.path[0] else "tests")


class _Raises:
    def __init__(self, exc):
        self.exc = exc
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            raise AssertionError("did not raise %r" % self.exc)
        if not issubclass(et, self.exc):
            return False
        self.value = ev
        return True


class _Mark:
    def __getattr__(self, name):
        return lambda *a, **k: (lambda f: f)


class _Pytest:
    mark = _Mark()

    @staticmethod
    def raises(exc):
        return _Raises(exc)


sys.modules["pytest"] = _Pytest()

MODULES = (
    "test_tcp_helpers",
    "test_tcp_states",
    "test_tcp_rst",
    "test_tcp_data",
    "test_tcp_limits",
    "test_tcp_sack",
    "test_tcp_adversarial",
)
passed = 0
failed = []
for name in MODULES:
    mod = __import__(name)
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_"):
            continue
        fn = getattr(mod, attr)
        try:
            fn()
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            failed.append("%s.%s: %r" % (name, attr, e))
            sys.print_exception(e)
for f in failed:
    print("FAIL", f)
print("MPUNIT passed=%d failed=%d" % (passed, len(failed)))
