# Shared test set-up. On CPython the stack imports a stub `micropython` module so
# its plain-Python twins run; the viper kernels run only in the unix port.
import os
import sys
import types

if "micropython" not in sys.modules:
    _mp = types.ModuleType("micropython")
    _mp.const = lambda x: x
    _mp.native = lambda f: f
    _mp.viper = lambda f: f
    _mp.heap_lock = lambda: 0
    _mp.heap_unlock = lambda: 0
    sys.modules["micropython"] = _mp



import pytest  # noqa: E402


def pytest_generate_tests(metafunc):
    # A test that takes `board` (directly or through `sim`) runs once per
    # simulated board this checkout has: unix_tap, sim_enc28j60, sim_w5500.
    if "board" in metafunc.fixturenames:
        from scenario import boards

        metafunc.parametrize("board", boards(), scope="module")


@pytest.fixture(scope="module")
def sim(board):
    """The simulator running `board` in a fresh namespace, for the whole module."""
    from scenario import Sim

    with Sim(board) as s:
        yield s


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Under CI=true a skip is a failure: CI installs every tool and runs as root,
    # so a test that skips there has lost what it was meant to prove.
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = "skipped under CI=true (a skip is a failure in CI): %s" % (reason,)
