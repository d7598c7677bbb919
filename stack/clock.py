# Tick arithmetic. On MicroPython ticks wrap at a port-defined period (2**30 on
# the ports we run on), so they stay small ints; CPython gets the same arithmetic.
try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython: unit tests pass their own clock
    import time as _time

    _PERIOD = 1 << 30
    _HALF = _PERIOD >> 1

    def ticks_add(t, delta):
        return (t + delta) % _PERIOD

    def ticks_diff(a, b):
        return ((a - b + _HALF) % _PERIOD) - _HALF

    def ticks_ms():
        return int(_time.monotonic() * 1000) % _PERIOD
