# The HTTP page on our stack: firmware/main.py calls start(iface, cfg) once at
# bring-up and web.step(0) in its loop (after iface.poll). Everything the
# server needs is allocated here, once.
#
# Also runnable alone with the same bring-up as main.py, for tests and the
# benchmark: micropython firmware/web.py --board NAME --fd N [--port 80]
import sys

PORT = 80


def start(iface, cfg=None, port=PORT, max_clients=0):
    """The HTTP server on iface, or None if there is no TCP engine to serve on."""
    if iface.tcp is None:
        try:
            from stack.tcp import TCP
        except ImportError:
            return None
        TCP(iface, cfg if cfg is not None else iface.cfg)
    # imported after the stack's buffers exist: less fragmentation on a small heap
    from stack import socket as ssock

    from firmware import page
    from firmware.http import HTTPServer

    ssock.attach(iface)
    if not max_clients:
        # one TCB stays free for the next connection in the backlog
        conns = getattr(cfg, "tcp_conns", 4) if cfg is not None else 4
        max_clients = conns - 1 if conns > 2 else conns
    return HTTPServer(ssock, info=page.StackInfo(iface), port=port, max_clients=max_clients,
                      backlog=2, head_max=768, out_max=768, chunk=1460)


def _run(argv):
    import gc
    import time

    from firmware import main as fw

    port = PORT
    if "--port" in argv:
        i = argv.index("--port")
        port = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    opts = fw.parse_args(argv)
    board = fw.load_board(opts)
    iface = fw.start(opts)
    web = start(iface, board.config(), port)
    gc.collect()
    print("HEAP used=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
    drv = iface.driver
    while True:
        now = time.ticks_ms()
        w = iface.poll(now)
        web.step(0)
        if w is None or w < 0 or w > 50:
            w = 50
        # step(0) may have queued data and run timers: wait only if idle
        drv.wait(w)


if __name__ == "__main__":
    _run(sys.argv[1:])
