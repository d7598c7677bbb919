# Shared test set-up. On CPython the stack imports a stub `micropython` module so
# its plain-Python twins run; the viper kernels run only in the unix port.
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
