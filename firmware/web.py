# The HTTP page on our stack: firmware/main.py calls start(iface, cfg) once at
# bring-up and web.step(0) in its loop (after iface.poll). Everything the
# server needs is allocated here, once.
#
# Also runnable alone with the same bring-up as main.py, for tests and the
# benchmark: micropython firmware/web.py --board NAME --fd N [--port 80]
import sys

PORT = 80


def start(iface, cfg=None, port=PORT, max_clients=0):
    """The HTTP server on iface (an ImportError or MemoryError says why not:
    firmware/main.py prints it as "HTTP off")."""
    import gc

    # Import (compile) everything first and collect, then allocate the big
    # buffers: compiling after them fragments a small heap past use.
    from stack import socket as ssock
    from stack.tcp import TCP

    from firmware import page
    from firmware.http import HTTPServer

    gc.collect()
    if cfg is None:
        cfg = iface.cfg
    if iface.tcp is None:
        TCP(iface, cfg)
    ssock.attach(iface)
    conns = getattr(cfg, "tcp_conns", 4)
    if not max_clients:
        # A slot for every TCB, and a backlog as large as the pool: connections
        # are accepted as soon as the handshake ends, so they leave the
        # listener's queue quickly. (A burst of SYNs larger than the backlog
        # still makes the engine recycle a half-open TCB: docs/http.md.)
        max_clients = conns
    return HTTPServer(ssock, info=page.StackInfo(iface), port=port, max_clients=max_clients,
                      backlog=conns, head_max=768, out_max=768, chunk=1460, heap_lock=True,
                      poll_factory=_poll_after_iface)


def _poll_after_iface():
    # step(0) comes right after the loop's iface.poll(): no second engine pass
    from stack import socket as ssock

    return ssock.poll(drive=False)


def _run(argv):
    """Stand-alone: the HTTP server alone on the board's stack, with main.py's
    loop. --alloc-probe K: after 10 requests, count the heap bytes the next K
    requests leave behind (collector off) and print "ALLOC ... per_request=B"."""
    import gc
    import time

    from stack.iface import Interface

    port = PORT
    probe = 0
    opts = {}
    i = 0
    while i < len(argv):  # --board NAME --fd N [--port P] [--alloc-probe K]
        a = argv[i]
        if a == "--port":
            port = int(argv[i + 1])
        elif a == "--alloc-probe":
            probe = int(argv[i + 1])
        elif a == "--fd":
            opts["fd"] = int(argv[i + 1])
        elif a == "--board":
            opts["board"] = argv[i + 1]
        else:
            raise ValueError("unknown argument: " + a)
        i += 2
    # main.py's bring-up (main.py itself stays a source script, outside .mpy builds)
    board = __import__("boards." + opts["board"], None, None, ("driver",))
    iface = Interface(board.driver(opts), board.config(), ip=getattr(board, "IP", "192.0.2.2"),
                      netmask=getattr(board, "NETMASK", "255.255.255.0"),
                      gateway=getattr(board, "GATEWAY", "192.0.2.1"))
    web = start(iface, iface.cfg, port)
    gc.collect()
    print("HEAP used=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
    drv = iface.driver
    st = web.stats
    mark = -1
    start_alloc = 0
    while True:
        now = time.ticks_ms()
        w = iface.poll(now)
        web.step(0)
        if probe:
            if mark < 0 and st["requests"] >= 10:
                gc.collect()
                gc.disable()
                mark = st["requests"]
                start_alloc = gc.mem_alloc()
            elif mark >= 0 and st["requests"] >= mark + probe:
                used = gc.mem_alloc() - start_alloc
                n = st["requests"] - mark
                gc.enable()
                print("ALLOC requests=%d bytes=%d per_request=%d" % (n, used, used // n))
                probe = 0
        w = iface.poll_at(time.ticks_ms())  # the step may have armed a timer
        if w is None or w < 0 or w > 50:
            w = 50
        drv.wait(w)


if __name__ == "__main__":
    _run(sys.argv[1:])
