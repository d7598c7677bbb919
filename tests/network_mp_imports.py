# Run by tests/test_network.py inside the MicroPython unix port: importing the
# stack, its sockets and network.LAN (static address) loads no DHCP/DNS code;
# then each module's heap cost on import. Prints "LAZY OK" and the costs.
import gc
import sys

import stack.iface  # noqa: F401
import stack.socket  # noqa: F401
import stack.network  # noqa: F401

LAZY = ("stack.dhcp", "stack.dhcp_msg", "stack.acd", "stack.dns", "stack.wire.dhcp4",
        "stack.wire.dns")
loaded = [m for m in LAZY if m in sys.modules]
if loaded:
    raise SystemExit("loaded before use: %r" % loaded)
print("LAZY OK")
for name in ("stack.wire.dhcp4", "stack.acd", "stack.dhcp_msg", "stack.dhcp", "stack.wire.dns",
             "stack.dns"):
    gc.collect()
    before = gc.mem_alloc()
    __import__(name)
    gc.collect()
    print("IMPORT %s %d" % (name, gc.mem_alloc() - before))
