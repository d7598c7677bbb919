# Ticks and sleeps. On MicroPython ticks wrap at a port-defined period (2**30 on
# the ports we run on), so they stay small ints; CPython gets the same arithmetic.
# Only outer loops and bounded hardware waits (drivers) read or wait on the clock.
try:
    from time import sleep_ms, sleep_us, ticks_add, ticks_diff, ticks_ms
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

    def sleep_ms(ms):
        _time.sleep(ms / 1000)

    def sleep_us(us):
        _time.sleep(us / 1000000)
