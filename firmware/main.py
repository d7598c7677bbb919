# Board bring-up and the main loop: board -> driver -> Interface -> services.
#
# On a board, boot runs this file with no arguments and the board module is
# /board.py. In the simulator: micropython firmware/main.py --board NAME --fd N
# [--heap-lock] [--dhcp] [--pcap FILE]. --heap-lock runs every poll and echo step under
# micropython.heap_lock(), proving the steady state allocates nothing. --dhcp
# (or DHCP = True in the board file) configures the address by DHCP through
# stack.network.LAN instead of the board's static IP. --pcap records every
# frame both ways (stack/drivers/pcap.py).
import gc
import sys
import time

import micropython

from stack.iface import Interface

from firmware.udp_services import Echo, Status


def parse_args(argv):
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--board":
            opts["board"] = argv[i + 1]
            i += 1
        elif a == "--fd":
            opts["fd"] = int(argv[i + 1])
            i += 1
        elif a == "--heap-lock":
            opts["heap_lock"] = True
        elif a == "--dhcp":
            opts["dhcp"] = True
        elif a == "--config":
            opts["config"] = parse_config(argv[i + 1])
            i += 1
        elif a == "--pcap":
            opts["pcap"] = argv[i + 1]  # every frame both ways, to this file
            i += 1
        elif a == "--measure-base":
            opts["measure_base"] = True
        elif a == "--app":
            opts["app"] = argv[i + 1]  # with --measure-base: also count this app's code
            i += 1
        else:
            raise ValueError("unknown argument: " + a)
        i += 1
    return opts


def parse_config(text):
    """'tcp_rx_bytes=8192,tcp_conns=2' -> {'tcp_rx_bytes': 8192, 'tcp_conns': 2} (ints)."""
    out = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        out[name.strip()] = int(value)
    return out


def load_board(opts):
    if "board" in opts:
        return __import__("boards." + opts["board"], None, None, ("driver",))
    import board  # on a device: the board file copied to /board.py

    return board


# Everything the firmware imports. On a board these are frozen (firmware/
# manifest.py): their code is in flash, not in the heap.
CODE_MODULES = (
    "stack.iface",
    "firmware.udp_services",
    "stack.tcp",
    "stack.socket",
    "firmware.page",
    "firmware.http",
    "firmware.web",
)
# ... and what --dhcp adds (counted as code only when the firmware runs DHCP)
DHCP_MODULES = (
    "stack.network",
    "stack.dhcp",
    "stack.dns",
    "firmware.net_services",
)


def measure_base(opts):
    """Print the heap taken by what a board would not keep in its heap: the
    code (frozen on a board) and, on simulated boards, the chip models (the
    chip's own memory). The launcher adds this to the board's data heap."""
    load_board(opts)
    extra = DHCP_MODULES if opts.get("dhcp") else ()
    for name in CODE_MODULES + extra + (("firmware." + opts["app"],) if "app" in opts else ()):
        try:
            __import__(name)
        except ImportError:
            pass
    board = load_board(opts)
    hw = getattr(board, "sim_hardware", None)
    keep = hw(opts) if hw else None
    gc.collect()
    print("BASE %d" % gc.mem_alloc())
    return keep


def start(opts):
    board = load_board(opts)
    cfg = board.config().update(opts.get("config", {}))
    drv = board.driver(opts)
    if "pcap" in opts:
        from stack.drivers.pcap import PcapDriver

        drv = PcapDriver(drv, opts["pcap"])
    if use_dhcp(opts, board):
        return Interface(drv, cfg, ip="0.0.0.0", netmask="0.0.0.0", gateway="0.0.0.0")
    iface = Interface(
        drv,
        cfg,
        ip=getattr(board, "IP", "192.0.2.2"),
        netmask=getattr(board, "NETMASK", "255.255.255.0"),
        gateway=getattr(board, "GATEWAY", "192.0.2.1"),
    )
    return iface


def use_dhcp(opts, board):
    return opts.get("dhcp", False) or getattr(board, "DHCP", False)


def start_dhcp(iface):
    """network.LAN on the interface, DHCP started; the watcher and resolve service."""
    from stack import network

    from firmware.net_services import NetWatch, Resolve

    nic = network.LAN(iface)
    nic.active(True)
    return NetWatch(nic), Resolve(iface)


def start_http(iface):
    """The HTTP server on port 80 (firmware/web.py), or None without TCP or RAM."""
    try:
        from firmware import web

        return web.start(iface, iface.cfg)
    except (ImportError, MemoryError) as e:
        print("HTTP off:", repr(e))
        sys.print_exception(e)
        return None


def run(opts):
    iface = start(opts)
    echo = Echo(iface, iface.mtu)
    watch = resolve = None
    if not iface.ip[0]:
        watch, resolve = start_dhcp(iface)
    status = Status(iface, watch.status_extra if watch else None)
    http = start_http(iface)
    locked = opts.get("heap_lock", False)
    gc.collect()
    print("HEAP used=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
    ip = iface.ip
    if ip[0]:  # `host_tools test --port` reads the address from this line
        print("IP %d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3]))
    drv = iface.driver
    warm = False  # the first pass makes one-time objects (ipoll's tuple, stream state)
    while True:
        now = time.ticks_ms()
        if locked and warm:
            micropython.heap_lock()
            try:
                wait_ms = iface.poll(now)
                echo.poll(now)
            except MemoryError:
                micropython.heap_unlock()
                print("ALLOCATION in the heap-locked loop")
                raise
            micropython.heap_unlock()
        else:
            wait_ms = iface.poll(now)
            # the echo allocates nothing: locked, its calls' frames stay on the
            # C stack (an allocation would be counted as poll_alloc_blocked)
            iface.locked(Echo.poll, echo, now)
        warm = True
        if status.pending():
            status.poll(now)
        if watch is not None:
            watch.poll(now)
            if resolve.pending():
                resolve.poll(now)
        if http is not None:
            http.step(0)  # the HTTP page (firmware/web.py), outside the heap lock
        # what the applications did may have armed a timer (an ACK after a
        # read, a retransmission after a send): ask again before sleeping
        wait_ms = iface.poll_at(time.ticks_ms())
        drv.wait(wait_ms if wait_ms < 50 else 50)


if __name__ == "__main__":
    _opts = parse_args(sys.argv[1:])
    if _opts.get("measure_base"):
        measure_base(_opts)
    else:
        try:
            run(_opts)
        except KeyboardInterrupt:  # Ctrl-C in `make sim` reaches us too: stop quietly
            pass
